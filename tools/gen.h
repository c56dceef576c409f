// Synthetic customer profiles for `segd gen`, tests and benchmarks.
//
// GenerateProfiles writes NDJSON: one compact JSON object per line, each a
// profile shaped like SPEC §1 (skewed cities and tags, dates spread over
// years relative to `now_ms`, events, identities, a few non-ASCII names, a
// few nulls and odd-case values). Profile k of a run is a pure function of
// (seed, first_index + k, now_ms): the output is byte-identical whatever the
// thread count, and a run split in two with `first_index` gives the same
// bytes as one run. Ids, emails, phones and identity handles are unique
// within and across runs of one seed, for up to 10^9 profiles.
//
// Thread-safe: calls share no state. Each call runs on oneTBB worker threads
// and holds only a few blocks of output in memory at a time. Memory
// exhaustion surfaces as std::bad_alloc, for the caller's edge to report.
#ifndef SEGD_TOOLS_GEN_H_
#define SEGD_TOOLS_GEN_H_

#include <cstdint>
#include <cstdio>
#include <string>

namespace segd {

// The generator's "today": 2026-11-20T12:00:00Z, in milliseconds since the
// epoch. Fixed rather than the wall clock so that the same seed gives the
// same data (and the same segment sizes) on every day it is run.
inline constexpr int64_t kGenDefaultNowMs = 1795176000000;

struct GenOptions {
  uint64_t profiles = 1000;
  uint64_t seed = 42;
  // Activity dates fall in the four years before it (birthdays stay in
  // 1950-2008). REQUIRES: a time in the years 1970 to 9999.
  int64_t now_ms = kGenDefaultNowMs;
  // Index of the first profile (ids start at c-<first_index>), to extend a
  // data set or to make fresh profiles for an ingest benchmark.
  uint64_t first_index = 0;
  // Worker threads; 0 uses every thread oneTBB offers. Never changes bytes.
  unsigned threads = 0;
};

// Writes `options.profiles` NDJSON lines ('\n' terminated) to `out`, then
// flushes it. Returns false if writing fails (the caller still owns and
// closes `out`).
bool GenerateProfiles(const GenOptions& options, std::FILE* out);

// The same bytes, returned as a string (for tests and small data sets).
std::string GenerateProfilesToString(const GenOptions& options);

}  // namespace segd

#endif  // SEGD_TOOLS_GEN_H_
