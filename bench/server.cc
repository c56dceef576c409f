#include "bench/server.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/mix.h"
#include "live/database.h"

namespace segd {
namespace {

using Clock = std::chrono::steady_clock;

const char* MixJson(std::string_view name) {
  for (size_t i = 0; i < kMixSize; ++i) {
    if (name == kMix[i].name) return kMix[i].json;
  }
  return nullptr;
}

// Calls `fn(thread, i)` from `threads` threads for `seconds`; calls/s.
template <typename Fn>
double Rate(int threads, double seconds, Fn&& fn) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> calls{0};
  std::vector<std::thread> pool;
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) fn(t, n++);
      calls.fetch_add(n);
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true);
  for (std::thread& t : pool) t.join();
  return calls.load() /
         std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

Result<ServerBaseline> MeasureServerBaseline(
    const ServerBenchOptions& options) {
  ServerBaseline out;
  Database db;
  Result<LoadReport> load = db.UpsertFile(options.path);
  if (!load.ok()) return load.status();
  db.WaitForMerges();
  out.profiles = load->accepted;

  // The batch the HTTP figure posts: the file's first 1,000 profiles.
  std::string batch;
  {
    std::ifstream in(options.path);
    std::string line;
    for (int i = 0; i < 1000 && std::getline(in, line); ++i) {
      batch += line;
      batch += '\n';
    }
  }

  const char* three = MixJson("leads in 3 cities signed up in 7 days");
  const char* five =
      MixJson("5 predicates (city, tag, window, orders, not churned)");
  if (three == nullptr || five == nullptr) {
    return Status(ErrorCode::kInternal, "the mix lost its rules");
  }
  std::vector<std::string> segment_ids;
  SegmentDefinition west;
  west.rule_json =
      R"({"all":[{"field":"customer_type","op":"eq","value":"lead"},)"
      R"({"field":"city","op":"in","value":["Pune","Mumbai","Nagpur"]}]})";
  Result<SegmentInfo> saved =
      db.SaveSegment("west-leads", west, nullptr, options.now_ms);
  if (!saved.ok()) return saved.status();

  out.contains_per_s =
      Rate(options.threads, options.seconds, [&](int t, uint64_t i) {
        char id[32];
        std::snprintf(
            id, sizeof(id), "c-%08llu",
            static_cast<unsigned long long>((i * 7919 + t) % out.profiles + 1));
        (void)db.Read()->Contains("west-leads", id, options.now_ms);
      });
  QueryRequest preview;
  preview.rule_json = three;
  preview.limit = 20;
  preview.count = false;
  preview.now_ms = options.now_ms;
  out.preview_per_s =
      Rate(options.threads, options.seconds,
           [&](int, uint64_t) { (void)db.Read()->Query(preview); });
  QueryRequest count;
  count.rule_json = five;
  count.limit = 0;
  count.now_ms = options.now_ms;
  out.count_per_s = Rate(options.threads, options.seconds,
                         [&](int, uint64_t) { (void)db.Read()->Query(count); });
  out.count_p50_ms = 1000.0 / Rate(1, options.seconds, [&](int, uint64_t) {
                       (void)db.Read()->Query(count);
                     });
  out.batch_profiles_per_s =
      1000 *
      Rate(1, options.seconds, [&](int, uint64_t) { (void)db.Upsert(batch); });
  return out;
}

std::string ServerBaselineText(const ServerBaseline& b) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(0);
  out << "in-process, " << b.profiles << " profiles:\n"
      << "  contains (P in west-leads), 2 callers: " << b.contains_per_s
      << "/s\n"
      << "  preview of 20, no count, 3-predicate rule, 2 callers: "
      << b.preview_per_s << "/s\n"
      << "  count, 5-predicate rule, 2 callers: " << b.count_per_s << "/s\n";
  out.precision(3);
  out << "  count, 5-predicate rule, one at a time: " << b.count_p50_ms
      << " ms each\n";
  out.precision(0);
  out << "  batches of 1,000 profiles replaced, one writer: "
      << b.batch_profiles_per_s << " profiles/s\n";
  return out.str();
}

}  // namespace segd
