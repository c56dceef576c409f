// The server section of `segd bench`: the in-process rates that the HTTP
// figures (bench/http_bench.sh, with wrk) are held against. The same data,
// the same requests, the same two cores, with no HTTP in between:
// membership checks, previews of 20 without a count, counts of the
// 5-predicate rule, and batches of 1,000 profiles replaced.
#ifndef SEGD_BENCH_SERVER_H_
#define SEGD_BENCH_SERVER_H_

#include <cstdint>
#include <string>

#include "base/status.h"

namespace segd {

struct ServerBenchOptions {
  std::string path;  // `segd gen` NDJSON
  int64_t now_ms = 0;
  double seconds = 5;  // each rate is measured this long
  int threads = 2;     // callers at once, as the server's pools
};

struct ServerBaseline {
  uint64_t profiles = 0;
  double contains_per_s = 0;
  double preview_per_s = 0;         // 3-predicate rule, 20 members, no count
  double count_per_s = 0;           // 5-predicate rule
  double count_p50_ms = 0;          // one count alone
  double batch_profiles_per_s = 0;  // 1,000 a batch, one writer
};

Result<ServerBaseline> MeasureServerBaseline(const ServerBenchOptions& options);

std::string ServerBaselineText(const ServerBaseline& baseline);

}  // namespace segd

#endif  // SEGD_BENCH_SERVER_H_
