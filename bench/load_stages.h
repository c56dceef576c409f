// The load path one stage at a time, on one thread, over a sample of NDJSON
// records, beside the floor under its first stage: what a load spends per
// profile on each core, and how much of it no parser built on simdjson can
// avoid.
//
//   walk    simdjson On Demand visits every key and value of each record,
//           unescapes every string and converts every number, and keeps
//           nothing: the least any parse with simdjson does.
//   parse   RecordParser: the walk, plus flattened names, inferred types,
//           ISO-8601 dates read, and a ProfileInput filled.
//   store   ProfileStore::Upsert of every parsed record into a fresh store.
//   index   Index::Build of that store.
//
// The sample's index is small, so its dictionaries and columns stay in the
// caches: the index stage here is a lower bound on its cost at 10M.
//
// Threading: runs on the calling thread (the index build in an arena of
// one thread).
#ifndef SEGD_BENCH_LOAD_STAGES_H_
#define SEGD_BENCH_LOAD_STAGES_H_

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace segd {

// What a walk saw.
struct WalkTally {
  uint64_t strings = 0;  // keys and string values
  uint64_t numbers = 0;
};

// (offset, length) of each record of NDJSON text: its non-blank lines.
using RecordSpans = std::vector<std::pair<size_t, size_t>>;
RecordSpans SplitRecords(std::string_view ndjson);

// Walks the records of `ndjson` at `spans`. REQUIRES: `capacity` >=
// ndjson.size() + simdjson's padding, the bytes past the text readable.
// Fails on the first record that does not parse.
Result<WalkTally> WalkRecords(std::string_view ndjson, size_t capacity,
                              const RecordSpans& spans);

// Microseconds per record on one thread: the best of `passes` for the
// walk, the parse and the store (a fresh store each pass), one index build.
struct LoadStageFigures {
  uint64_t records = 0;
  uint64_t profiles = 0;  // live in the store, and in the index built on it
  double walk_us = 0, parse_us = 0, store_us = 0, index_us = 0;
  double total_us() const { return parse_us + store_us + index_us; }
};

// Fails when a record of the sample does not parse or is rejected, or when
// the index does not hold the store's profiles.
Result<LoadStageFigures> MeasureLoadStages(std::string_view ndjson,
                                           int passes = 3);

}  // namespace segd

#endif  // SEGD_BENCH_LOAD_STAGES_H_
