// The benchmark suite behind `segd bench`: generate profiles, load them with
// one and two threads, then time a fixed mix of campaign rules, and write
// the figures as Markdown (and a chart, when gnuplot is installed).
//
// Every figure it prints comes from the run that prints it: the machine's
// memory bandwidth is measured in the same run, so each query's bytes
// touched per second can be read as a share of what the hardware allows.
#ifndef SEGD_BENCH_SUITE_H_
#define SEGD_BENCH_SUITE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"

namespace segd {

struct BenchOptions {
  uint64_t profiles = 10'000'000;
  uint64_t seed = 42;
  int runs = 30;                  // warm runs per rule and thread count
  std::string data_dir = "data";  // where the generated NDJSON is kept
  std::string report = "BENCHMARKS.md";
  std::string chart = "BENCHMARKS.png";  // written when gnuplot is present
  // Rules whose name contains this text; empty: the whole mix.
  std::string rules;
  // Load once, with two threads only (the 1-thread load row is left out).
  bool quick = false;
  // "all", or "live": the live database's section alone.
  std::string sections = "all";
  double write_seconds = 10;  // each sustained write phase of the live run
  // The live database's merge policy (DatabaseOptions), for comparing
  // settings with one binary; unset: the defaults.
  std::optional<uint32_t> merge_fanout, max_layers;
  std::optional<int> merge_nice;
};

// Runs the suite, prints progress and results to stdout, writes the report.
Status RunBenchmarkSuite(const BenchOptions& options);

}  // namespace segd

#endif  // SEGD_BENCH_SUITE_H_
