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
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/planner.h"
#include "index/bitmap.h"
#include "index/index.h"

namespace segd {

// How many of an index's excluded rows (ExecuteOptions::excluded) each
// condition matches, kept from query to query. A count the index knows
// whole (a bitmap's cardinality, the occurrences of the values "email
// contains gmail" matches) is corrected by the excluded rows that match:
// with this memo, only the rows excluded since the condition's last count
// are looked at. A live database's layer keeps one: its excluded rows
// (those superseded since it was built) only grow while it lives, each
// version a superset of the last.
//
// Threading: safe to call from many threads at once; two counts of one
// condition may both look at the same new rows, and one of them is kept.
class ExcludedMatches {
 public:
  // How many rows of `rows` match the condition.
  using CountIn = std::function<uint64_t(const roaring_bitmap_t* rows)>;

  // How many rows of `excluded` match the condition named `key`: what the
  // condition's last count found, plus count_in(the rows excluded since).
  // std::nullopt, counting nothing, when those rows are more than
  // `max_new`.
  std::optional<uint64_t> Count(std::string_view key,
                                const std::shared_ptr<const Bitmap>& excluded,
                                uint64_t max_new, const CountIn& count_in);
  // Notes that `matched` rows of `excluded` match the condition named
  // `key`, as a count of them would (its last one, if any, forgotten).
  void Seed(std::string_view key, const std::shared_ptr<const Bitmap>& excluded,
            uint64_t matched);
  // Drops what was noted of the condition named `key`.
  void Forget(std::string_view key);

  // Conditions kept at most; the least recently counted goes first.
  static constexpr size_t kMaxConditions = 256;
  // Versions of the excluded rows kept, and differences between two.
  static constexpr size_t kMaxVersions = 4;

 private:
  struct Entry {
    const Bitmap* counted = nullptr;  // a version in versions_, or null
    uint64_t matched = 0;             // its rows that match
    uint64_t last_used = 0;
  };
  struct Difference {
    const Bitmap* from;
    const Bitmap* to;
    std::shared_ptr<const Bitmap> rows;  // to's rows not in from
  };
  // Keeps `excluded` among the versions, dropping the oldest past
  // kMaxVersions. REQUIRES: mu_ held.
  void Keep(const std::shared_ptr<const Bitmap>& excluded);
  // The version `v` if still kept, else null. REQUIRES: mu_ held.
  std::shared_ptr<const Bitmap> Kept(const Bitmap* v) const;
  // Records that `matched` rows of `excluded` match the condition `key`,
  // making room for it if need be; only while `excluded` is a kept
  // version. REQUIRES: mu_ held.
  void Note(std::string_view key, const Bitmap* excluded, uint64_t matched);

  std::mutex mu_;
  std::vector<std::shared_ptr<const Bitmap>> versions_;  // oldest first
  std::vector<Difference> differences_;                  // oldest first
  std::map<std::string, Entry, std::less<>> entries_;
  uint64_t clock_ = 0;
};

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
  // Optional, with `excluded`: where counts keep what they learn about the
  // excluded rows from query to query, and the version of the rows that
  // `excluded` points to, held so that the memo can compare the next with
  // it. REQUIRES: excluded_version->get() == excluded.
  ExcludedMatches* excluded_matches = nullptr;
  std::shared_ptr<const Bitmap> excluded_version;
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
