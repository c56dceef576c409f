// The live section of `segd bench`: the live database (live/database.h)
// loaded with the benchmark's data, then timed while it takes writes: the
// latency of one-profile writes, sustained batch writes and event appends,
// the query mix beside them, membership, the segments of a profile among
// 1,000 saved ones, a members export and a report.
#ifndef SEGD_BENCH_LIVE_H_
#define SEGD_BENCH_LIVE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "live/database.h"

namespace segd {

struct LiveBenchOptions {
  std::string path;  // `segd gen` NDJSON
  uint64_t profiles = 0;
  uint64_t seed = 42;
  int64_t now_ms = 0;
  int runs = 30;              // timed runs of each idle figure
  double write_seconds = 10;  // each sustained write phase
  int single_writes = 600;    // one-profile writes timed
  std::string rules;          // mix rules whose name holds this; "" all
  DatabaseOptions database;   // of the database written to
};

struct LiveLatency {
  double p50_ms = 0, p99_ms = 0;
  size_t samples = 0;
};

struct LiveFigures {
  // Database::UpsertFile of the whole file, on every core and on one,
  // and the profiles it took.
  double load_seconds = 0, load_seconds_one_thread = 0;
  uint64_t loaded = 0;
  struct Rule {
    std::string name;
    // Count latency: idle, while every kind of write ran, and while
    // events alone were appended.
    LiveLatency idle, writing, appending;
  };
  std::vector<Rule> rules;
  LiveLatency patch, tags, event;  // one-profile writes, call to visible
  double batch_profiles_per_s = 0;
  double event_per_s = 0;
  uint64_t batch_profiles = 0, events = 0;
  LiveLatency contains;         // P in a dynamic segment of the mix
  LiveLatency segments_of;      // among 1,000 saved segments
  double members_per_s = 0;     // pages of 10,000, NDJSON of the preview fields
  double member_ids_per_s = 0;  // the same, rows and ids only
  uint64_t members = 0;
  LiveLatency report_city;
  size_t layers_after = 0;  // layers when the writes stopped
  uint64_t merges = 0;      // background merges during the run
  // Profiles written (events apart) and alive, and the whole process's
  // resident bytes, once the writes and their merges are done.
  uint64_t profile_writes = 0, live_profiles = 0;
  uint64_t rss_after_writes = 0, rss_peak = 0;
};

Result<LiveFigures> MeasureLive(const LiveBenchOptions& options);

// The figures as a Markdown section, with the targets they answer.
std::string LiveMarkdown(const LiveFigures& figures,
                         const LiveBenchOptions& options);

}  // namespace segd

#endif  // SEGD_BENCH_LIVE_H_
