#include "bench/suite.h"

#include <malloc.h>
#include <sys/utsname.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "bench/live.h"
#include "bench/load_stages.h"
#include "bench/mix.h"
#include "bench/rss.h"
#include "bench/server.h"
#include "engine/query.h"
#include "index/index.h"
#include "ingest/loader.h"
#include "tools/gen.h"

namespace segd {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Latency {
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
};

template <typename Fn>
Latency Time(int runs, Fn&& fn) {
  for (int i = 0; i < 3; ++i) fn();  // warm up
  std::vector<double> ms;
  ms.reserve(runs);
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    fn();
    ms.push_back(SecondsSince(start) * 1e3);
  }
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))];
  };
  return Latency{at(0.5), at(0.99), ms.back()};
}

// Reads a buffer far larger than the caches with `threads` threads; the best
// of several passes, in bytes per second.
double MeasureBandwidth(int threads) {
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                            threads);
  constexpr size_t kWords = (size_t{1} << 30) / sizeof(uint64_t);  // 1 GiB
  std::vector<uint64_t> buffer(kWords, 1);
  double best = 0;
  for (int pass = 0; pass < 5; ++pass) {
    const auto start = Clock::now();
    std::vector<uint64_t> sums(threads * 8, 0);
    tbb::parallel_for(0, threads, [&](int t) {
      const size_t begin = kWords / threads * t;
      const size_t end = t + 1 == threads ? kWords : kWords / threads * (t + 1);
      uint64_t a = 0, b = 0, c = 0, d = 0;
      for (size_t i = begin; i + 4 <= end; i += 4) {
        a += buffer[i];
        b += buffer[i + 1];
        c += buffer[i + 2];
        d += buffer[i + 3];
      }
      sums[t * 8] = a + b + c + d;
    });
    const double seconds = SecondsSince(start);
    static volatile uint64_t sink;  // keeps the reads from being optimized out
    for (uint64_t s : sums) sink = sink + s;
    best = std::max(best, kWords * sizeof(uint64_t) / seconds);
  }
  return best;
}

// Forgets the peak so far, so the next peak is this phase's own.
void ResetPeakRss() {
  malloc_trim(0);
  std::ofstream("/proc/self/clear_refs") << "5";
}

struct LoadFigures {
  double load_seconds = 0;
  double index_seconds = 0;
  uint64_t profiles = 0;
  uint64_t bytes = 0;
};

Result<LoadFigures> Load(const std::string& path, int threads,
                         ProfileStore* store,
                         std::shared_ptr<const Index>* index) {
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                            threads);
  LoadFigures figures;
  auto start = Clock::now();
  Result<LoadReport> report = LoadFile(path, store);
  if (!report.ok()) return report.status();
  figures.load_seconds = SecondsSince(start);
  figures.profiles = report->accepted;
  figures.bytes = report->bytes;
  start = Clock::now();
  *index = Index::Build(*store);
  figures.index_seconds = SecondsSince(start);
  return figures;
}

std::string Machine() {
  std::string cpu = "unknown CPU";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  utsname u{};
  uname(&u);
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  char buf[512];
  std::snprintf(buf, sizeof(buf), "%s, %ld cores, %.0f GiB RAM, %s %s",
                cpu.c_str(), sysconf(_SC_NPROCESSORS_ONLN),
                static_cast<double>(pages) * page / (1 << 30), u.sysname,
                u.release);
  return buf;
}

struct RuleFigures {
  std::string name;
  uint64_t count = 0;
  uint64_t bytes_touched = 0;
  Latency count_latency[2], preview_latency[2];  // by threads - 1
  Latency words_latency;  // 2 threads, the count from words (a bitmap)
};

std::string Fixed(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

void WriteChart(const std::vector<RuleFigures>& rules, const std::string& png) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    std::printf("gnuplot not found: no chart (apt-get install gnuplot-nox)\n");
    return;
  }
  const std::string data = png + ".dat", script = png + ".gp";
  {
    std::ofstream out(data);
    for (size_t i = 0; i < rules.size(); ++i) {
      out << i + 1 << " " << rules[i].count_latency[0].p50_ms << " "
          << rules[i].count_latency[1].p50_ms << " "
          << rules[i].preview_latency[1].p50_ms << "\n";
    }
  }
  {
    std::ofstream gp(script);
    gp << "set terminal png size 1200,650\n"
       << "set output '" << png << "'\n"
       << "set title 'segd: p50 latency per rule of the query mix'\n"
       << "set xlabel 'rule (see the table)'\nset ylabel 'ms (log scale)'\n"
       << "set logscale y\nset grid ytics\nset key top left\n"
       << "set style data histograms\nset style histogram clustered gap 1\n"
       << "set style fill solid 0.8 border -1\nset boxwidth 0.9\n"
       << "plot '" << data << "' using 2:xtic(1) title 'count, 1 thread', "
       << "'' using 3 title 'count, 2 threads', "
       << "'' using 4 title 'preview(20), 2 threads'\n";
  }
  const std::string command = "gnuplot " + script;
  if (std::system(command.c_str()) != 0) {
    std::printf("gnuplot failed: no chart\n");
  }
  std::remove(data.c_str());
  std::remove(script.c_str());
}

// The first `bytes` of the file, cut after its last whole line.
Result<std::string> ReadSample(const std::string& path, size_t bytes) {
  std::ifstream in(path, std::ios::binary);
  std::string text(bytes, '\0');
  in.read(text.data(), static_cast<std::streamsize>(bytes));
  if (in.bad()) return Status(ErrorCode::kIo, "cannot read " + path);
  text.resize(static_cast<size_t>(in.gcount()));
  text.resize(text.rfind('\n') + 1);  // npos + 1 is 0: no whole line
  return text;
}

}  // namespace

Status RunBenchmarkSuite(const BenchOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(options.data_dir, ec);
  const std::string path = options.data_dir + "/bench-" +
                           std::to_string(options.profiles) + "-" +
                           std::to_string(options.seed) + ".ndjson";
  GenOptions gen;
  gen.profiles = options.profiles;
  gen.seed = options.seed;
  if (!fs::exists(path)) {
    std::printf("generating %llu profiles into %s ...\n",
                static_cast<unsigned long long>(options.profiles),
                path.c_str());
    std::fflush(stdout);
    std::FILE* out = std::fopen(path.c_str(), "wb");
    if (out == nullptr || !GenerateProfiles(gen, out) ||
        std::fclose(out) != 0) {
      return Status(ErrorCode::kIo, "cannot write " + path);
    }
  }

  LiveBenchOptions live;
  live.path = path;
  live.profiles = options.profiles;
  live.seed = options.seed;
  live.now_ms = gen.now_ms;
  live.runs = options.runs;
  live.rules = options.rules;
  live.write_seconds = options.write_seconds;
  if (options.merge_fanout) live.database.merge_fanout = *options.merge_fanout;
  if (options.merge_nice) live.database.merge_nice = *options.merge_nice;
  if (options.max_layers) live.database.max_layers = *options.max_layers;
  if (options.sections == "server") {
    ServerBenchOptions server;
    server.path = path;
    server.now_ms = gen.now_ms;
    server.seconds = options.write_seconds;
    Result<ServerBaseline> baseline = MeasureServerBaseline(server);
    if (!baseline.ok()) return baseline.status();
    const std::string text = ServerBaselineText(*baseline);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return Status::Ok();
  }
  if (options.sections == "live") {
    Result<LiveFigures> figures = MeasureLive(live);
    if (!figures.ok()) return figures.status();
    const std::string md = LiveMarkdown(*figures, live);
    std::fwrite(md.data(), 1, md.size(), stdout);
    return Status::Ok();
  }

  const std::string machine = Machine();
  std::printf("machine: %s\n", machine.c_str());
  const double bandwidth[2] = {MeasureBandwidth(1), MeasureBandwidth(2)};
  std::printf("memory bandwidth: %.1f GB/s (1 thread), %.1f GB/s (2 threads)\n",
              bandwidth[0] / 1e9, bandwidth[1] / 1e9);

  // Each load stage on one thread, over the file's first kStageSampleBytes,
  // beside the floor under any parse with simdjson. The sample is freed
  // before the loads, whose peak memory is measured.
  constexpr size_t kStageSampleBytes = 64u << 20;
  Result<LoadStageFigures> stages = [&]() -> Result<LoadStageFigures> {
    Result<std::string> sample = ReadSample(path, kStageSampleBytes);
    if (!sample.ok()) return sample.status();
    return MeasureLoadStages(*sample);
  }();
  if (!stages.ok()) return stages.status();
  std::printf(
      "load stages, 1 thread, first %llu records: walk %.2f us/profile, "
      "parse %.2f, store %.2f, index %.2f\n",
      static_cast<unsigned long long>(stages->records), stages->walk_us,
      stages->parse_us, stages->store_us, stages->index_us);

  LoadFigures load[2];
  if (!options.quick) {
    ProfileStore store;
    std::shared_ptr<const Index> index;
    Result<LoadFigures> one = Load(path, 1, &store, &index);
    if (!one.ok()) return one.status();
    load[0] = *one;
  }
  ResetPeakRss();
  ProfileStore store;
  std::shared_ptr<const Index> index;
  Result<LoadFigures> two = Load(path, 2, &store, &index);
  if (!two.ok()) return two.status();
  load[1] = *two;
  const Rss rss = ReadRss();
  const uint64_t profiles = load[1].profiles;
  for (int t = options.quick ? 1 : 0; t < 2; ++t) {
    const double total = load[t].load_seconds + load[t].index_seconds;
    std::printf(
        "load, %d thread%s: %.2f s parse+store, %.2f s index: %.0f profiles/s, "
        "%.0f MB/s\n",
        t + 1, t ? "s" : "", load[t].load_seconds, load[t].index_seconds,
        profiles / total, load[t].bytes / total / 1e6);
  }
  const Index::Memory memory = index->MemoryUse();
  const double index_bytes = static_cast<double>(memory.total());
  std::printf("memory: index %.0f B/profile, process peak %.0f B/profile\n",
              index_bytes / profiles, static_cast<double>(rss.peak) / profiles);
  // Where the index's bytes go, and the stored profiles beside it.
  const std::pair<const char*, size_t> parts[] = {
      {"string text (folded)", memory.strings.text},
      {"string dictionaries (offsets, spellings)", memory.strings.dictionary},
      {"string postings (bitmaps, row lists, row counts)",
       memory.strings.postings},
      {"trigram lists", memory.strings.trigrams},
      {"occurrences in row order (contains, starts_with)",
       memory.strings.occurrences},
      {"number and date columns (keys, rows)", memory.number_columns},
      {"event recency ladders (each row's 5 latest)", memory.recency},
      {"events older than a row's 5 latest", memory.events},
      {"range buckets of those columns (prefix bitsets)", memory.range_buckets},
      {"live, presence and boolean bitmaps", memory.bitmaps},
  };
  for (const auto& [name, bytes] : parts) {
    std::printf("  %-50s %6.1f B/profile\n", name,
                static_cast<double>(bytes) / profiles);
  }
  const double stored = static_cast<double>(store.MemoryBytes());
  std::printf("memory: stored profiles %.0f B/profile\n", stored / profiles);

  std::vector<RuleFigures> rules;
  QueryOptions query;
  query.now_ms = gen.now_ms;
  for (const MixRule& rule : std::span(kMix, kMixSize)) {
    if (std::string_view(rule.name).find(options.rules) ==
        std::string_view::npos) {
      continue;
    }
    RuleFigures f;
    f.name = rule.name;
    Result<Plan> plan = PlanQuery(*index, rule.json, query);
    if (!plan.ok()) return plan.status();
    f.bytes_touched = BytesTouched(*plan, *index);
    for (int t = 0; t < 2; ++t) {
      tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                t + 1);
      QueryOptions count = query;
      count.limit = 0;
      QueryOptions preview = query;
      preview.limit = 20;
      preview.count = false;
      Result<ExecuteResult> first = RunQuery(*index, rule.json, count);
      if (!first.ok()) return first.status();
      f.count = first->count;
      f.count_latency[t] =
          Time(options.runs, [&] { (void)RunQuery(*index, rule.json, count); });
      f.preview_latency[t] = Time(
          options.runs, [&] { (void)RunQuery(*index, rule.json, preview); });
      if (t == 1) {
        QueryOptions words = count;
        words.count_from_words = true;
        f.words_latency = Time(
            options.runs, [&] { (void)RunQuery(*index, rule.json, words); });
      }
    }
    std::printf(
        "%-55s %10llu  count p50 %8.3f ms (1t) %8.3f ms (2t)  preview %8.3f "
        "ms  as words %8.3f ms\n",
        f.name.c_str(), static_cast<unsigned long long>(f.count),
        f.count_latency[0].p50_ms, f.count_latency[1].p50_ms,
        f.preview_latency[1].p50_ms, f.words_latency.p50_ms);
    std::fflush(stdout);
    rules.push_back(f);
  }

  // The report.
  std::ostringstream md;
  md << "# segd benchmarks\n\n"
     << "Written by `segd bench --profiles " << options.profiles << " --seed "
     << options.seed << "` (`make bench`); every figure below comes from that "
     << "one run.\n\n"
     << "- Machine: " << machine << "\n"
     << "- Data: `segd gen --profiles " << options.profiles << " --seed "
     << options.seed << "`, " << Fixed(load[1].bytes / 1e6, 0)
     << " MB of NDJSON\n"
     << "- Memory bandwidth (sequential read, measured in the run): "
     << Fixed(bandwidth[0] / 1e9, 1) << " GB/s with 1 thread, "
     << Fixed(bandwidth[1] / 1e9, 1) << " GB/s with 2\n\n"
     << "## Load and memory\n\n"
     << "| threads | parse + store | index build | profiles/s | MB/s |\n"
     << "|---|---|---|---|---|\n";
  for (int t = options.quick ? 1 : 0; t < 2; ++t) {
    const double total = load[t].load_seconds + load[t].index_seconds;
    md << "| " << t + 1 << " | " << Fixed(load[t].load_seconds, 2) << " s | "
       << Fixed(load[t].index_seconds, 2) << " s | "
       << Fixed(profiles / total, 0) << " | "
       << Fixed(load[t].bytes / total / 1e6, 0) << " |\n";
  }
  md << "\nEach stage on one thread, over the first " << stages->records
     << " records (their index stays in the caches, so its figure is a "
     << "lower bound at this scale). The *walk* is the floor under any parse "
     << "with simdjson: On Demand visits every key and value, unescapes every "
     << "string, converts every number and keeps nothing. 1M profiles/s per "
     << "core is 1 µs a profile for parse, store and index together.\n\n"
     << "| stage | µs per profile, 1 thread |\n|---|---|\n"
     << "| simdjson walk (floor of the parse) | " << Fixed(stages->walk_us, 2)
     << " |\n"
     << "| parse (RecordParser) | " << Fixed(stages->parse_us, 2) << " |\n"
     << "| store (ProfileStore::Upsert) | " << Fixed(stages->store_us, 2)
     << " |\n"
     << "| index build (Index::Build) | " << Fixed(stages->index_us, 2)
     << " |\n"
     << "| parse + store + index | " << Fixed(stages->total_us(), 2) << " |\n";
  md << "\n| memory | bytes per profile |\n|---|---|\n"
     << "| index structures | " << Fixed(index_bytes / profiles, 0) << " |\n";
  for (const auto& [name, bytes] : parts) {
    md << "| &nbsp;&nbsp;" << name << " | "
       << Fixed(static_cast<double>(bytes) / profiles, 1) << " |\n";
  }
  md << "| stored profiles (encoded records, id and identity tables) | "
     << Fixed(stored / profiles, 0) << " |\n"
     << "| whole process, peak RSS during the 2-thread load | "
     << Fixed(static_cast<double>(rss.peak) / profiles, 0) << " |\n"
     << "| whole process, RSS after it | "
     << Fixed(static_cast<double>(rss.current) / profiles, 0) << " |\n\n"
     << "## Query mix\n\n"
     << "Latency in ms over " << options.runs
     << " warm runs each, parse and plan included. *count*: the exact count, "
     << "no members; it reads figures the index keeps where it can (a "
     << "bitmap's cardinality, a range's column positions). *preview*: the "
     << "first 20 members, no count. *as words*: the count popped from every "
     << "shard's result words, which is the cost of the result as a bitmap. "
     << "*bytes*: index data that evaluation reads (an upper bound), and that "
     << "divided by the 2-thread *as words* p50 (the run that reads it all), "
     << "as a share of the 2-thread memory bandwidth; a range counts the "
     << "bucket bitsets and rows it reads, not its whole column. A share over "
     << "100% means the data stayed in cache from run to run.\n\n"
     << "| # | rule | matches | count p50 1t | count p50 2t | count p99 2t | "
        "count max 2t | preview p50 2t | preview p99 2t | 2t speed-up | "
        "as words p50 2t | bytes | share of bandwidth |\n"
     << "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (size_t i = 0; i < rules.size(); ++i) {
    const RuleFigures& f = rules[i];
    const double seconds = f.words_latency.p50_ms / 1e3;
    md << "| " << i + 1 << " | " << f.name << " | " << f.count << " | "
       << Fixed(f.count_latency[0].p50_ms, 3) << " | "
       << Fixed(f.count_latency[1].p50_ms, 3) << " | "
       << Fixed(f.count_latency[1].p99_ms, 3) << " | "
       << Fixed(f.count_latency[1].max_ms, 3) << " | "
       << Fixed(f.preview_latency[1].p50_ms, 3) << " | "
       << Fixed(f.preview_latency[1].p99_ms, 3) << " | "
       << Fixed(f.count_latency[0].p50_ms / f.count_latency[1].p50_ms, 2)
       << "× | " << Fixed(f.words_latency.p50_ms, 3) << " | "
       << Fixed(f.bytes_touched / 1e6, 1) << " MB | "
       << Fixed(100.0 * f.bytes_touched / seconds / bandwidth[1], 1) << "% |\n";
  }
  WriteChart(rules, options.chart);
  if (fs::exists(options.chart)) {
    md << "\n![p50 latency per rule]("
       << fs::path(options.chart).filename().string() << ")\n";
  }
  // The live database needs the memory the store and index above hold.
  index.reset();
  store = ProfileStore();
  Result<LiveFigures> live_figures = MeasureLive(live);
  if (!live_figures.ok()) return live_figures.status();
  md << "\n" << LiveMarkdown(*live_figures, live);
  std::ofstream(options.report) << md.str();
  std::printf("wrote %s\n", options.report.c_str());
  return Status::Ok();
}

}  // namespace segd
