// The process's resident memory, from /proc (Linux), for the benchmarks.
#ifndef SEGD_BENCH_RSS_H_
#define SEGD_BENCH_RSS_H_

#include <cstdint>
#include <fstream>
#include <string>

namespace segd {

// Resident memory now and at its peak.
struct Rss {
  uint64_t current = 0, peak = 0;
};

inline Rss ReadRss() {
  Rss rss;
  std::ifstream status("/proc/self/status");
  std::string key;
  uint64_t kb;
  while (status >> key) {
    if (key == "VmRSS:" && status >> kb) rss.current = kb * 1024;
    if (key == "VmHWM:" && status >> kb) rss.peak = kb * 1024;
  }
  return rss;
}

}  // namespace segd

#endif  // SEGD_BENCH_RSS_H_
