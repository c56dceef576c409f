// Execute: runs a Plan over an Index, shard by shard, in parallel (oneTBB).
//
// Each shard is evaluated into dense words (8 KiB, cache resident): leaves
// fill or combine words straight from the index, and AND/OR/ANDNOT work word
// by word. Every leaf holds live rows only (the index is built from them),
// and complements are taken against the live rows, so results need no
// final AND. Counting pops bits, or reads the figure off the index where it
// is known (a bitmap's cardinality, disjoint values); no bitmap is built for
// any intermediate result. Members are the first `limit` rows in ascending
// row order, found shard by shard until there are enough.
//
// Per-call state only; a Plan may be executed by many threads at once.
#ifndef SEGD_ENGINE_EXECUTOR_H_
#define SEGD_ENGINE_EXECUTOR_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "engine/planner.h"
#include "index/index.h"

namespace segd {

struct ExecuteOptions {
  size_t limit = 20;  // members to return
  // Members are the rows from this one on (a page after a cursor), and
  // before `row_end`; the count is still over every row.
  uint32_t first_row = 0;
  uint32_t row_end = UINT32_MAX;
  bool count = true;  // false: stop as soon as `limit` members are found
  // Evaluate every shard into words and pop the bits, even where the index
  // knows the count (benchmarks: the cost of the result as a bitmap).
  bool count_from_words = false;
  // Live rows to leave out of the result, as if they were not live: a live
  // database's rows that a later write superseded. Counts the index knows
  // whole are corrected by what they share with these rows, so they stay
  // fast while the rows are few. REQUIRES: a subset of the index's live
  // rows; null for none.
  const roaring_bitmap_t* excluded = nullptr;
};

struct ExecuteResult {
  uint64_t count = 0;          // valid when options.count
  std::vector<uint32_t> rows;  // ascending, at most `limit`
};

ExecuteResult Execute(const Plan& plan, const Index& index,
                      const ExecuteOptions& options);

// Calls fn(shard, words) for every shard, in parallel, with the shard's
// members (less `excluded`) as kShardWords words (reports read them). fn must
// be safe to call from several threads at once.
void ExecuteShards(const Plan& plan, const Index& index,
                   const std::function<void(uint32_t, const uint64_t*)>& fn,
                   const roaring_bitmap_t* excluded = nullptr);

// Bytes of index data a full execution reads (an upper bound: an AND that
// empties early reads less). Benchmarks divide it by time to compare with
// the machine's memory bandwidth.
uint64_t BytesTouched(const Plan& plan, const Index& index);

}  // namespace segd

#endif  // SEGD_ENGINE_EXECUTOR_H_
