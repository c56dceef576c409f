// BoundNode: a rule bound to one Index (tantivy's "weight").
//
// Names are resolved, values typed and every predicate reduced to a Leaf
// that can fill one shard's words: a bitmap, a short row list, a range over a
// sorted column, or an event window with a count test. Negative operators are
// bound as NOT of their positive twin, so complements are always taken
// against the live rows. The tree then goes through Normalize (normalizer.h)
// and Plan (planner.h) before execution.
//
// A BoundNode borrows from its Index: it must not outlive it.
#ifndef SEGD_ENGINE_BOUND_H_
#define SEGD_ENGINE_BOUND_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "index/bitmap.h"
#include "index/schema.h"
#include "index/string_index.h"
#include "index/value.h"

namespace segd {

enum class CmpOp { kEq, kGt, kGte, kLt, kLte };

struct CountTest {
  CmpOp op = CmpOp::kGte;
  Number operand = Number::Int(1);
  bool Matches(uint64_t count) const;
};

// The counts a CountTest passes, as one interval [min, max] of int64 counts
// (every test passes an interval); empty when min > max.
struct CountRange {
  int64_t min = 1;
  int64_t max = INT64_MAX;
  bool empty() const { return min > max; }
};
CountRange PassingCounts(const CountTest& test);

// The values of a string attribute that a kValueSet leaf selects: a set
// known when bound, or the values containing (or starting with) a needle,
// found on first need.
// A count takes the whole set (a parallel scan of the dictionary); a
// preview only tests the values of the few rows it reads.
class ValueMatches {
 public:
  ValueMatches(const StringIndex& strings, ValueSet set);
  enum class Kind { kContains, kStartsWith };
  ValueMatches(const StringIndex& strings, std::string needle, Kind kind);

  // The set as a bitset over value ids; the first call finds it. Call it
  // before sharing the work among threads, so that the scan is parallel.
  const std::vector<uint64_t>& bits() const;
  // Whether value `v` is in the set, without finding the whole set.
  bool Test(ValueId v) const;
  bool known() const { return known_.load(std::memory_order_acquire); }
  // A starts_with's matches: one run of ids, [first, second), known from
  // the start, which tests a value without the set.
  std::optional<std::pair<ValueId, ValueId>> id_range() const {
    if (kind_ != Kind::kStartsWith) return std::nullopt;
    return prefixed_;
  }
  // Occurrences of the matching values: the rows that match, when the
  // attribute holds one value per row. A starts_with reads it from the
  // running row counts of its run of ids; a contains from the letter run
  // that holds it, when there is one (StringIndex::RunOccurrences), else
  // it sums over the set.
  uint64_t Occurrences() const;
  // The bytes finding the set reads (0 when it is known from the start).
  uint64_t FindBytes() const;
  // Names what it selects among its StringIndex's values, exactly: the
  // needle and its kind, or the ids of a set known from the start; empty
  // for a set of over kMaxKeyValues values. For memos (ExcludedMatches).
  const std::string& key() const { return key_; }
  static constexpr size_t kMaxKeyValues = 256;

 private:
  const StringIndex* strings_ = nullptr;
  std::string key_;
  std::string needle_;  // folded
  Kind kind_ = Kind::kContains;
  std::pair<ValueId, ValueId> prefixed_;  // kStartsWith: the ids matching
  mutable std::once_flag once_;
  mutable std::vector<uint64_t> bits_;
  mutable uint64_t occurrences_ = 0;  // of the values in bits_
  mutable std::atomic<bool> known_{false};
};

enum class LeafKind {
  kBitmap,      // rows of a bitmap (index-owned or built for this query)
  kRowList,     // ascending global rows
  kIntRange,    // int column of `attr`: lo <= key <= hi (dates, integers)
  kMixedRange,  // mixed number column of `attr`: key within dlo..dhi
  kEvent,       // rows with count.min..count.max events `event` in
                // [lo, hi]; count.min >= 1
  kValueSet,    // rows whose value is in `matches`: `values` holds every
                // row's value (StringIndex::kNoValue for none) when `rows`
                // is empty, else the occurrences (rows[i], values[i])
};

struct Leaf {
  LeafKind kind = LeafKind::kBitmap;
  const roaring_bitmap_t* bitmap = nullptr;
  std::shared_ptr<const Bitmap> owned;  // keeps a query-built bitmap alive
  std::span<const uint32_t> rows;       // kRowList; kValueSet: see above
  std::span<const uint32_t> values;     // kValueSet
  std::shared_ptr<const ValueMatches> matches;  // kValueSet
  AttrId attr = 0;
  EventId event = 0;
  int64_t lo = 0, hi = 0;        // kIntRange, kEvent: inclusive
  long double dlo = 0, dhi = 0;  // kMixedRange, exact
  bool dlo_strict = false, dhi_strict = false;
  CountRange count;  // kEvent
  // kValueSet: each row holds at most one value, so the rows that match
  // are the occurrences of the matching values.
  bool single_valued = false;
  // kBitmap, kRowList: the rows are the index's own, there while it lives
  // (not a saved segment's members, nor a bitmap built for one query), so
  // that counts may be remembered by their address (ExcludedMatches).
  bool lasting = false;
  // kEvent in a live database's layer (engine/binder.h, EventOverlay): the
  // rows of `stale` take their answer from `stale_matches`, those of them
  // that match, rather than from the index, whose events for them are
  // older. `event` is kNoEvent when the index has no such event.
  const roaring_bitmap_t* stale = nullptr;
  std::shared_ptr<const Bitmap> stale_matches;
};

// Leaf::event of an event the index has never seen.
inline constexpr EventId kNoEvent = ~EventId{0};

enum class BoundKind { kAnd, kOr, kNot, kConst, kLeaf };

struct BoundNode {
  BoundKind kind = BoundKind::kConst;
  bool constant = false;  // kConst
  bool disjoint = false;  // kOr: no two children share a row
  Leaf leaf;              // kLeaf
  std::vector<BoundNode> children;
  // Estimated matching rows (exact for most leaves); set by Bind and Plan.
  uint64_t estimate = 0;
  std::string label;  // the predicate as text, for explain and tests

  static BoundNode Const(bool value);
  static BoundNode Not(BoundNode child);
  static BoundNode Group(BoundKind kind, std::vector<BoundNode> children);
};

// "AND(city eq pune, NOT(tags eq vip))": a stable text form for tests.
std::string ToString(const BoundNode& node);

}  // namespace segd

#endif  // SEGD_ENGINE_BOUND_H_
