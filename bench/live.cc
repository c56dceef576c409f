#include "bench/live.h"

#include <tbb/global_control.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <sstream>
#include <thread>

#include "base/status.h"
#include "base/thread_name.h"
#include "base/time.h"
#include "bench/mix.h"
#include "bench/rss.h"
#include "live/database.h"
#include "tools/gen.h"

namespace segd {
namespace {

using Clock = std::chrono::steady_clock;

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start)
      .count();
}

LiveLatency Summarize(std::vector<double> ms) {
  LiveLatency out;
  out.samples = ms.size();
  if (ms.empty()) return out;
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))];
  };
  out.p50_ms = at(0.5);
  out.p99_ms = at(0.99);
  return out;
}

template <typename Fn>
LiveLatency Time(int runs, Fn&& fn) {
  for (int i = 0; i < 3; ++i) fn();
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    fn();
    ms.push_back(MillisSince(start));
  }
  return Summarize(std::move(ms));
}

std::string IdOf(uint64_t index) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "c-%08llu",
                static_cast<unsigned long long>(index));
  return buf;
}

constexpr const char* kCities[] = {"Pune",    "Mumbai", "Delhi",
                                   "Nagpur",  "Surat",  "Chennai",
                                   "Kolkata", "Jaipur", "Bengaluru"};
constexpr const char* kTags[] = {"vip", "returning", "newsletter", "churn-risk",
                                 "webinar"};
constexpr const char* kEvents[] = {"order", "cart_abandoned",
                                   "visited_pricing_page", "replied_whatsapp",
                                   "opened_email"};

// Runs the query mix's counts in a loop on its own thread, each on oneTBB,
// and keeps each rule's latencies while `recording`.
class QueryLoop {
 public:
  QueryLoop(const Database& db, const std::vector<std::string>& rules,
            int64_t now_ms)
      : db_(db), rules_(rules), now_ms_(now_ms), samples_(rules.size()) {
    thread_ = std::thread([this] { Run(); });
  }
  ~QueryLoop() {
    stop_ = true;
    thread_.join();
  }
  void Record(bool on) { recording_ = on; }
  // The first count that failed, if any did: its time means nothing.
  Status failure() {
    std::lock_guard<std::mutex> lock(mu_);
    return failure_;
  }
  std::vector<std::vector<double>> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(samples_,
                         std::vector<std::vector<double>>(rules_.size()));
  }

 private:
  void Run() {
    NameThisThread("segd-queries");
    QueryRequest request;
    request.limit = 0;
    request.now_ms = now_ms_;
    for (size_t i = 0; !stop_; i = (i + 1) % rules_.size()) {
      request.rule_json = rules_[i];
      const auto start = Clock::now();
      const auto answer = db_.Read()->Query(request);
      const double ms = MillisSince(start);
      if (!answer.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        if (failure_.ok()) failure_ = answer.status();
      }
      if (recording_) {
        std::lock_guard<std::mutex> lock(mu_);
        samples_[i].push_back(ms);
      }
    }
  }

  const Database& db_;
  const std::vector<std::string>& rules_;
  const int64_t now_ms_;
  std::atomic<bool> stop_{false}, recording_{false};
  std::mutex mu_;
  std::vector<std::vector<double>> samples_;
  Status failure_;
  std::thread thread_;
};

// 1,000 saved segments of mixed rules, as a CRM account accumulates them.
std::vector<std::string> SavedRules() {
  std::vector<std::string> rules;
  for (int i = 0; rules.size() < 1000; ++i) {
    const std::string city = kCities[i % std::size(kCities)];
    const std::string tag = kTags[i % std::size(kTags)];
    const std::string event = kEvents[i % std::size(kEvents)];
    const std::string days = std::to_string(1 + i % 60) + "d";
    switch (i % 6) {
      case 0:
        rules.push_back(R"({"field":"city","op":"eq","value":")" + city +
                        R"("})");
        break;
      case 1:
        rules.push_back(R"({"all":[{"field":"orders","op":"gte","value":)" +
                        std::to_string(1 + i % 9) +
                        R"(},{"field":"tags","op":"eq","value":")" + tag +
                        R"("}]})");
        break;
      case 2:
        rules.push_back(R"({"event":")" + event + R"(","within_last":")" +
                        days + R"("})");
        break;
      case 3:
        rules.push_back(
            R"({"all":[{"field":"customer_type","op":"eq","value":"lead"},)"
            R"({"field":"city","op":"in","value":[")" +
            city +
            R"(","Mumbai"]},{"field":"signed_up","op":"within_last",)"
            R"("value":")" +
            days + R"("}]})");
        break;
      case 4:
        rules.push_back(R"({"all":[{"field":"lifecycle","op":"neq","value":)"
                        R"("churned"},{"field":"web_sessions","op":"gte",)"
                        R"("value":)" +
                        std::to_string(i % 40) + "}]}");
        break;
      case 5:
        rules.push_back(R"({"any":[{"field":"tags","op":"eq","value":")" + tag +
                        R"("},{"event":")" + event + R"(","within_last":")" +
                        days + R"(","count":{"gte":2}}]})");
        break;
    }
  }
  return rules;
}

// The file loaded through Database::UpsertFile on one thread, into a
// database of its own: seconds.
Result<double> TimeLoadOnOneThread(const std::string& path) {
  tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
  std::printf("live: loading %s on one thread ...\n", path.c_str());
  std::fflush(stdout);
  Database db;
  const auto start = Clock::now();
  Result<LoadReport> loaded = db.UpsertFile(path);
  if (!loaded.ok()) return loaded.status();
  const double seconds = MillisSince(start) / 1e3;
  std::printf("live: loaded on one thread in %.1f s (%.0f profiles/s)\n",
              seconds, loaded->accepted / std::max(seconds, 1e-9));
  return seconds;
}

// Everything but the load on one thread.
Result<LiveFigures> MeasureWritesAndReads(const LiveBenchOptions& options) {
  LiveFigures f;
  Database db(options.database);
  std::printf("live: loading %s ...\n", options.path.c_str());
  std::fflush(stdout);
  auto start = Clock::now();
  Result<LoadReport> loaded = db.UpsertFile(options.path);
  if (!loaded.ok()) return loaded.status();
  f.load_seconds = MillisSince(start) / 1e3;
  f.loaded = loaded->accepted;
  const uint64_t n = db.Read()->live_count();
  std::mt19937_64 rng(options.seed);
  auto any_index = [&] { return rng() % n; };

  std::vector<std::string> names, rules;
  for (const MixRule& rule : std::span(kMix, kMixSize)) {
    if (std::string_view(rule.name).find(options.rules) ==
        std::string_view::npos) {
      continue;
    }
    names.push_back(rule.name);
    rules.push_back(rule.json);
  }
  QueryRequest count;
  count.limit = 0;
  count.now_ms = options.now_ms;
  for (size_t i = 0; i < rules.size(); ++i) {
    count.rule_json = rules[i];
    if (auto first = db.Read()->Query(count); !first.ok()) {
      return first.status();
    }
    LiveFigures::Rule r;
    r.name = names[i];
    r.idle = Time(options.runs, [&] { (void)db.Read()->Query(count); });
    f.rules.push_back(r);
  }
  std::printf("live: loaded in %.1f s (%.0f profiles/s); idle mix timed\n",
              f.load_seconds, f.loaded / std::max(f.load_seconds, 1e-9));
  std::fflush(stdout);

  // Writes, with the query mix running beside them.
  std::optional<QueryLoop> loop(std::in_place, db, rules, options.now_ms);
  loop->Record(true);
  {
    std::vector<double> patch, tags, event;
    char at[40];
    for (int i = 0; i < options.single_writes; ++i) {
      const std::string id = IdOf(any_index());
      const auto t0 = Clock::now();
      switch (i % 3) {
        case 0:
          (void)db.Patch(id, R"({"orders": )" + std::to_string(i % 12) +
                                 R"(, "city": ")" +
                                 kCities[i % std::size(kCities)] + "\"}");
          patch.push_back(MillisSince(t0));
          break;
        case 1: {
          const std::vector<std::string> add = {kTags[i % std::size(kTags)]};
          const std::vector<std::string> remove = {
              kTags[(i + 1) % std::size(kTags)]};
          (void)db.UpdateTags(id, add, remove);
          tags.push_back(MillisSince(t0));
          break;
        }
        case 2: {
          const std::string when = FormatIsoInstant(options.now_ms - i * 1000);
          std::snprintf(at, sizeof(at), "%s", when.c_str());
          (void)db.AppendEvents(R"({"id": ")" + id + R"(", "name": ")" +
                                kEvents[i % std::size(kEvents)] +
                                R"(", "at": ")" + at + "\"}");
          event.push_back(MillisSince(t0));
          break;
        }
      }
    }
    f.patch = Summarize(std::move(patch));
    f.tags = Summarize(std::move(tags));
    f.event = Summarize(std::move(event));
  }
  std::printf("live: one-profile writes p50 %.3f / %.3f / %.3f ms\n",
              f.patch.p50_ms, f.tags.p50_ms, f.event.p50_ms);
  std::fflush(stdout);

  // Batches of 1,000 profiles: 300 replaced and 100 new by an upsert, 400
  // patches, 200 tag changes. The records are made before the clock runs.
  {
    constexpr int kBatches = 64;
    std::vector<WriteBatch> batches(kBatches);
    uint64_t next_new = n + 1'000'000;
    for (int b = 0; b < kBatches; ++b) {
      GenOptions gen;
      gen.seed = options.seed;
      gen.now_ms = options.now_ms;
      gen.threads = 1;
      gen.profiles = 300;
      gen.first_index = any_index() % (n > 300 ? n - 300 : 1);
      std::string records = GenerateProfilesToString(gen);
      gen.profiles = 100;
      gen.first_index = next_new;
      next_new += 100;
      records += GenerateProfilesToString(gen);
      batches[b].Upsert(std::move(records));
      for (int i = 0; i < 400; ++i) {
        batches[b].Patch(IdOf(any_index()), R"({"orders": )" +
                                                std::to_string(i % 9) +
                                                R"(, "lifecycle": "active"})");
      }
      for (int i = 0; i < 200; ++i) {
        batches[b].UpdateTags(IdOf(any_index()), {kTags[i % std::size(kTags)]},
                              {kTags[(i + 2) % std::size(kTags)]});
      }
    }
    start = Clock::now();
    uint64_t written = 0;
    for (int b = 0; MillisSince(start) < options.write_seconds * 1e3; ++b) {
      (void)db.Write(batches[b % kBatches]);
      written += 1000;
    }
    f.batch_profiles = written;
    f.batch_profiles_per_s = written / (MillisSince(start) / 1e3);
  }
  std::printf("live: batches of 1,000: %.0f profiles/s\n",
              f.batch_profiles_per_s);
  std::fflush(stdout);
  std::vector<std::vector<double>> writing;
  {
    constexpr int kBatches = 64;
    std::vector<std::string> batches(kBatches);
    for (int b = 0; b < kBatches; ++b) {
      for (int i = 0; i < 1000; ++i) {
        batches[b] += R"({"id": ")" + IdOf(any_index()) + R"(", "name": ")" +
                      kEvents[(b + i) % std::size(kEvents)] + R"(", "at": ")" +
                      FormatIsoInstant(options.now_ms -
                                       static_cast<int64_t>(rng() % 86400000)) +
                      "\"}\n";
      }
    }
    // The counts so far, while profiles were written; those of the event
    // phase are kept apart too, as each phase's counts cost differently
    // and the loop runs more of the cheaper ones.
    writing = loop->Take();
    start = Clock::now();
    uint64_t appended = 0;
    for (int b = 0; MillisSince(start) < options.write_seconds * 1e3; ++b) {
      appended += db.AppendEvents(batches[b % kBatches]).accepted;
    }
    f.events = appended;
    f.event_per_s = appended / (MillisSince(start) / 1e3);
  }
  loop->Record(false);
  std::vector<std::vector<double>> appending = loop->Take();
  const Status failed = loop->failure();
  loop.reset();  // the reads below run alone
  if (!failed.ok()) return failed;
  for (size_t i = 0; i < f.rules.size(); ++i) {
    f.rules[i].appending = Summarize(appending[i]);
    writing[i].insert(writing[i].end(), appending[i].begin(),
                      appending[i].end());
    f.rules[i].writing = Summarize(std::move(writing[i]));
  }
  f.layers_after = db.Read()->Layers().size();
  f.merges = db.merges_done();
  std::printf("live: events in batches of 1,000: %.0f events/s; %zu layers\n",
              f.event_per_s, f.layers_after);
  std::fflush(stdout);

  // Reads of saved segments, once the merges have settled.
  db.WaitForMerges();
  f.profile_writes = f.patch.samples + f.tags.samples + f.batch_profiles;
  f.live_profiles = db.Read()->live_count();
  const Rss rss = ReadRss();
  f.rss_after_writes = rss.current;
  f.rss_peak = rss.peak;
  const int64_t now = options.now_ms;
  auto save = [&](const std::string& name, const std::string& rule) {
    SegmentDefinition d;
    d.rule_json = rule;
    return db.SaveSegment(name, d, nullptr, now).status();
  };
  SEGD_RETURN_IF_ERROR(
      save("leads-3-cities-7d",
           R"({"all":[{"field":"customer_type","op":"eq","value":"lead"},
        {"field":"city","op":"in","value":["Pune","Mumbai","Nagpur"]},
        {"field":"signed_up","op":"within_last","value":"7d"}]})"));
  // Enough calls to span some 40 ms: a stall of the machine within a
  // millisecond's worth of them would move their median.
  f.contains = Time(std::max(options.runs * 20, 20000), [&] {
    (void)db.Read()->Contains("leads-3-cities-7d", IdOf(any_index()), now);
  });
  const std::vector<std::string> saved = SavedRules();
  for (size_t i = 0; i < saved.size(); ++i) {
    SEGD_RETURN_IF_ERROR(save("saved-" + std::to_string(i), saved[i]));
  }
  f.segments_of = Time(options.runs, [&] {
    (void)db.Read()->SegmentsOf(IdOf(any_index()), now);
  });
  std::printf(
      "live: %.0f B resident a profile after the writes; contains p50 %.4f "
      "ms; segments of a profile p50 %.3f ms\n",
      static_cast<double>(f.rss_after_writes) /
          std::max<uint64_t>(f.live_profiles, 1),
      f.contains.p50_ms, f.segments_of.p50_ms);
  std::fflush(stdout);

  SEGD_RETURN_IF_ERROR(save("everyone", R"({"all":[]})"));
  for (int pass = 0; pass < 2; ++pass) {
    MembersRequest request;
    request.segment = "everyone";
    request.limit = 10000;
    request.count = false;
    request.ndjson = true;
    request.render = pass == 0;
    request.now_ms = now;
    uint64_t members = 0;
    start = Clock::now();
    const std::shared_ptr<const Snapshot> snapshot = db.Read();
    do {
      Result<MembersPage> page = snapshot->Members(request);
      if (!page.ok()) return page.status();
      members += page->rows.size();
      request.cursor = page->next_cursor;
    } while (!request.cursor.empty());
    const double rate = members / (MillisSince(start) / 1e3);
    (pass == 0 ? f.members_per_s : f.member_ids_per_s) = rate;
    f.members = members;
  }
  ReportRequest report;
  report.group_by = "city";
  report.now_ms = now;
  f.report_city = Time(options.runs, [&] { (void)db.Read()->Report(report); });
  std::printf(
      "live: members %.0f/s as NDJSON, %.0f/s as ids; report by city p50 "
      "%.3f ms\n",
      f.members_per_s, f.member_ids_per_s, f.report_city.p50_ms);
  std::fflush(stdout);
  return f;
}

}  // namespace

Result<LiveFigures> MeasureLive(const LiveBenchOptions& options) {
  Result<LiveFigures> f = MeasureWritesAndReads(options);
  if (!f.ok()) return f;
  // Last, once the database above is gone: a load before it left the
  // process's memory in pieces that slowed the reads measured after it.
  Result<double> seconds = TimeLoadOnOneThread(options.path);
  if (!seconds.ok()) return seconds.status();
  f->load_seconds_one_thread = *seconds;
  return f;
}

namespace {

std::string Fixed(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

}  // namespace

std::string LiveMarkdown(const LiveFigures& f,
                         const LiveBenchOptions& options) {
  std::ostringstream md;
  auto rate = [&](double seconds) {
    return Fixed(static_cast<double>(f.loaded) / std::max(seconds, 1e-9), 0) +
           " profiles/s";
  };
  md << "## Live database\n\n"
     << "`live/database.h` loaded with the same data through "
     << "`Database::UpsertFile` (one load, one layer): " << f.loaded
     << " profiles parsed, stored and indexed in " << Fixed(f.load_seconds, 1)
     << " s on every core (" << rate(f.load_seconds) << ") and in "
     << Fixed(f.load_seconds_one_thread, 1) << " s on one thread ("
     << rate(f.load_seconds_one_thread)
     << "). Then it is written to while a thread runs the query mix's counts "
     << "in a loop. Writes are timed from the call to its return, when every "
     << "later read sees them.\n\n"
     << "| write, with the query loop running | p50 | p99 |\n|---|---|---|\n";
  auto row = [&](const char* what, const LiveLatency& l) {
    md << "| " << what << " | " << Fixed(l.p50_ms, 3) << " ms | "
       << Fixed(l.p99_ms, 3) << " ms |\n";
  };
  row("patch one profile", f.patch);
  row("tags of one profile", f.tags);
  row("one event", f.event);
  md << "\n| sustained, with the query loop running, " << options.write_seconds
     << " s each | rate |\n|---|---|\n"
     << "| batches of 1,000 profiles (300 replaced and 100 new by an upsert, "
        "400 patches, 200 tag changes) | "
     << Fixed(f.batch_profiles_per_s, 0) << " profiles/s |\n"
     << "| event appends in batches of 1,000 | " << Fixed(f.event_per_s, 0)
     << " events/s |\n\n"
     << "Layers when the writes stopped: " << f.layers_after
     << "; merges during the run: " << f.merges << ".\n\n"
     << "Whole process once the writes (" << f.profile_writes
     << " profile writes, " << f.events + f.event.samples
     << " events) and their merges are done: "
     << Fixed(static_cast<double>(f.rss_after_writes) /
                  std::max<uint64_t>(f.live_profiles, 1),
              0)
     << " B resident per profile alive (" << f.live_profiles
     << "); peak of the run, the load included, "
     << Fixed(static_cast<double>(f.rss_peak) /
                  std::max<uint64_t>(f.live_profiles, 1),
              0)
     << " B.\n\n"
     << "| read, after the writes and their merges | figure |\n|---|---|\n"
     << "| contains (P in a dynamic segment of the mix), p50 | "
     << Fixed(f.contains.p50_ms * 1e3, 1) << " µs |\n"
     << "| segments of P among 1,000 saved segments, p50 | "
     << Fixed(f.segments_of.p50_ms, 3) << " ms |\n"
     << "| members of everyone (" << f.members
     << "), pages of 10,000, as NDJSON of the preview fields | "
     << Fixed(f.members_per_s / 1e6, 2) << "M/s |\n"
     << "| the same, rows and ids only | " << Fixed(f.member_ids_per_s / 1e6, 2)
     << "M/s |\n"
     << "| report by city over everyone, p50 | "
     << Fixed(f.report_city.p50_ms, 2) << " ms |\n\n"
     << "Counts while writing are those of every write phase above; the "
        "last three columns, those while events alone were appended.\n\n"
     << "| rule | count p50 idle | count p50 writing | ratio | p99 writing "
        "| p50 appending events | ratio | p99 appending events |\n"
     << "|---|---|---|---|---|---|---|---|\n";
  auto ratio = [](const LiveLatency& writing, const LiveLatency& idle) {
    return Fixed(writing.p50_ms / std::max(idle.p50_ms, 1e-6), 2) + "×";
  };
  for (const LiveFigures::Rule& r : f.rules) {
    md << "| " << r.name << " | " << Fixed(r.idle.p50_ms, 3) << " | "
       << Fixed(r.writing.p50_ms, 3) << " | " << ratio(r.writing, r.idle)
       << " | " << Fixed(r.writing.p99_ms, 3) << " | "
       << Fixed(r.appending.p50_ms, 3) << " | " << ratio(r.appending, r.idle)
       << " | " << Fixed(r.appending.p99_ms, 3) << " |\n";
  }
  return md.str();
}

}  // namespace segd
