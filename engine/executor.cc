#include "engine/executor.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>

namespace segd {
namespace {

// Scratch words for one thread: one shard-sized buffer per plan level, plus
// per-row event counters (kept zero between uses).
struct Scratch {
  std::vector<uint64_t> words;
  std::vector<uint8_t> event_bytes = std::vector<uint8_t>(kShardRows, 0);
  std::vector<uint32_t> event_counts = std::vector<uint32_t>(kShardRows, 0);
  std::vector<uint16_t> touched;

  // Makes room for `levels` buffers; call before taking any Level pointer.
  void Reserve(int levels) {
    const size_t need = static_cast<size_t>(levels) * kShardWords;
    if (words.size() < need) words.resize(need);
  }
  uint64_t* Level(int level) {
    return words.data() + static_cast<size_t>(level) * kShardWords;
  }
};

// One Scratch per thread, kept across queries: oneTBB's workers live as
// long as the process, and a query should not pay for 300 KB of fresh
// buffers. A thread runs one shard at a time, so nothing else shares it.
Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

class ShardEvaluator {
 public:
  // Rows from `row_end` up (within the shard) may come out wrong: leaves
  // that pay per row skip them. Previews read a shard's first rows first.
  ShardEvaluator(const Index& index, uint32_t shard, Scratch& scratch,
                 uint32_t row_end = kShardRows)
      : index_(index), shard_(shard), scratch_(scratch), row_end_(row_end) {}

  // out = rows of `node` in this shard (all live: leaves hold live rows and
  // complements are taken against them).
  void Eval(const BoundNode& node, int level, uint64_t* out) {
    switch (node.kind) {
      case BoundKind::kConst:
        if (node.constant) {
          LoadLive(out);
        } else {
          ClearWords(out);
        }
        return;
      case BoundKind::kLeaf:
        FillLeaf(node.leaf, level, out);
        return;
      case BoundKind::kNot: {
        uint64_t* tmp = scratch_.Level(level + 1);
        Eval(node.children[0], level + 1, tmp);
        LoadLive(out);
        if (windowed()) {
          for (size_t w = 0; w < window_words(); ++w) out[w] &= ~tmp[w];
        } else {
          AndNotWords(out, tmp);
        }
        return;
      }
      case BoundKind::kAnd:
        EvalAnd(node, level, out);
        return;
      case BoundKind::kOr: {
        ClearWindow(out);
        uint64_t* tmp = scratch_.Level(level + 1);
        for (const BoundNode& c : node.children) {
          if (c.kind == BoundKind::kLeaf && c.leaf.kind == LeafKind::kBitmap) {
            OrBitmap(c.leaf.bitmap, out);
          } else {
            Eval(c, level + 1, tmp);
            OrWords(out, tmp);
          }
        }
        return;
      }
    }
  }

  // Rows of `node` in this shard. Where the index already knows the figure
  // no words are filled: a bitmap's container cardinality, a sum over
  // disjoint values, live rows less a complement, and the last child of an
  // AND counted as it is combined. `out` is scratch at `level`.
  uint64_t Count(const BoundNode& node, int level, uint64_t* out) {
    switch (node.kind) {
      case BoundKind::kConst:
        return node.constant ? LiveCount() : 0;
      case BoundKind::kLeaf:
        if (node.leaf.kind == LeafKind::kBitmap) {
          return ShardCardinality(node.leaf.bitmap, shard_);
        }
        if (node.leaf.kind == LeafKind::kRowList) {
          return RowListCount(node.leaf);
        }
        // A number or date column holds a row once: a range's rows are
        // its positions.
        if (node.leaf.kind == LeafKind::kIntRange) {
          const auto [b, e] = IntRange(node.leaf);
          return e - b;
        }
        if (node.leaf.kind == LeafKind::kMixedRange) {
          const auto [b, e] = MixedRange(node.leaf);
          return e - b;
        }
        if (node.leaf.kind == LeafKind::kEvent && !Patched(node.leaf) &&
            UsesRecency(node.leaf)) {
          const Leaf& leaf = node.leaf;
          uint64_t n = RecentAtLeastCount(leaf.event, leaf.count.min, leaf.lo);
          if (leaf.count.max != INT64_MAX) {
            n -= RecentAtLeastCount(leaf.event, leaf.count.max + 1, leaf.lo);
          }
          return n;
        }
        break;
      case BoundKind::kNot:
        return LiveCount() - Count(node.children[0], level, out);
      case BoundKind::kOr:
        if (node.disjoint) {
          uint64_t n = 0;
          for (const BoundNode& c : node.children) n += Count(c, level, out);
          return n;
        }
        break;
      case BoundKind::kAnd:
        return CountAnd(node, level, out);
    }
    Eval(node, level, out);
    return CountWords(out);
  }

  // The index bytes that filling a range or event leaf reads in this shard
  // as words (0 for other leaves).
  uint64_t LeafBytes(const Leaf& leaf) const {
    const ShardIndex& shard = index_.shard(shard_);
    switch (leaf.kind) {
      case LeafKind::kIntRange: {
        const auto [b, e] = IntRange(leaf);
        return RangeBytes(shard.int_columns[leaf.attr], b, e);
      }
      case LeafKind::kMixedRange: {
        const auto [b, e] = MixedRange(leaf);
        return RangeBytes(shard.mixed_columns[leaf.attr], b, e);
      }
      case LeafKind::kEvent: {
        if (leaf.event == kNoEvent) return 0;
        if (UsesRecency(leaf)) {
          uint64_t bytes =
              RecentAtLeastBytes(leaf.event, leaf.count.min, leaf.lo);
          if (leaf.count.max != INT64_MAX) {
            bytes +=
                RecentAtLeastBytes(leaf.event, leaf.count.max + 1, leaf.lo);
          }
          return bytes;
        }
        return EventsInWindow(leaf).total * sizeof(uint16_t);
      }
      case LeafKind::kBitmap:
      case LeafKind::kRowList:
      case LeafKind::kValueSet:
        break;
    }
    return 0;
  }

 private:
  uint64_t LiveCount() const {
    return index_.shard_full(shard_)
               ? kShardRows
               : ShardCardinality(index_.live().get(), shard_);
  }

  uint64_t RowListCount(const Leaf& leaf) const {
    const uint32_t first = shard_ << kShardBits;
    const auto b = std::lower_bound(leaf.rows.begin(), leaf.rows.end(), first);
    const auto e = std::lower_bound(b, leaf.rows.end(), first + kShardRows);
    return static_cast<uint64_t>(e - b);
  }

  // The AND of all children but the last into `out`, then the last one
  // counted against it: a bitmap in place, a complement as a difference.
  uint64_t CountAnd(const BoundNode& node, int level, uint64_t* out) {
    if (node.children.empty()) return LiveCount();
    const BoundNode& last = node.children.back();
    if (node.children.size() == 1) return Count(last, level, out);
    // A bitmap and one other child: the other is evaluated and the bitmap
    // counted against it in place, never copied; a complement is the
    // bitmap's cardinality less that count.
    const BoundNode& first = node.children[0];
    if (node.children.size() == 2 && first.kind == BoundKind::kLeaf &&
        first.leaf.kind == LeafKind::kBitmap) {
      const roaring_bitmap_t* bitmap = first.leaf.bitmap;
      if (last.kind == BoundKind::kNot) {
        Eval(last.children[0], level, out);
        return ShardCardinality(bitmap, shard_) -
               AndCountShard(bitmap, shard_, out);
      }
      Eval(last, level, out);
      return AndCountShard(bitmap, shard_, out);
    }
    EvalAndPrefix(node, node.children.size() - 1, level, out);
    if (last.kind == BoundKind::kLeaf && last.leaf.kind == LeafKind::kBitmap) {
      return AndCountShard(last.leaf.bitmap, shard_, out);
    }
    uint64_t* tmp = scratch_.Level(level + 1);
    if (last.kind == BoundKind::kNot) {
      const BoundNode& inner = last.children[0];
      if (inner.kind == BoundKind::kLeaf &&
          inner.leaf.kind == LeafKind::kBitmap) {
        return CountWords(out) - AndCountShard(inner.leaf.bitmap, shard_, out);
      }
      Eval(inner, level + 1, tmp);
      return CountWords(out) - AndCountWords(out, tmp);
    }
    Eval(last, level + 1, tmp);
    return AndCountWords(out, tmp);
  }

  // out = the live rows of this shard.
  void LoadLive(uint64_t* out) {
    if (index_.shard_full(shard_)) {
      std::memset(out, 0xFF, window_words() * sizeof(uint64_t));
    } else {
      LoadBitmap(index_.live().get(), out);
    }
  }

  // out = the rows of `bitmap` in this shard; out |= them.
  void LoadBitmap(const roaring_bitmap_t* bitmap, uint64_t* out) {
    if (windowed()) {
      ClearWindow(out);
      OrBitmap(bitmap, out);
    } else {
      LoadShard(bitmap, shard_, out);
    }
  }
  void OrBitmap(const roaring_bitmap_t* bitmap, uint64_t* out) {
    OrShardBelow(bitmap, shard_, row_end_, out);
  }

  // Whether only the rows below row_end_ are asked for, and how many words
  // hold them.
  bool windowed() const { return row_end_ < kShardRows; }
  size_t window_words() const { return (row_end_ + 63) / 64; }
  void ClearWindow(uint64_t* out) const {
    std::memset(out, 0, window_words() * sizeof(uint64_t));
  }

  void EvalAnd(const BoundNode& node, int level, uint64_t* out) {
    EvalAndPrefix(node, node.children.size(), level, out);
  }

  // out = the AND of the first `n` children (n >= 1: a kAnd node has two
  // children or more).
  void EvalAndPrefix(const BoundNode& node, size_t n, int level,
                     uint64_t* out) {
    uint64_t* tmp = scratch_.Level(level + 1);
    bool started = false;
    for (size_t i = 0; i < n; ++i) {
      const BoundNode& c = node.children[i];
      if (started && !AnyWords(out)) return;
      if (c.kind == BoundKind::kNot) {
        if (!started) {
          LoadLive(out);
          started = true;
        }
        Eval(c.children[0], level + 1, tmp);
        AndNotWords(out, tmp);
        continue;
      }
      if (!started) {
        Eval(c, level, out);
        started = true;
        continue;
      }
      if (c.kind == BoundKind::kLeaf && c.leaf.kind == LeafKind::kBitmap) {
        AndShard(c.leaf.bitmap, shard_, out);
      } else {
        Eval(c, level + 1, tmp);
        AndWords(out, tmp);
      }
    }
  }

  template <typename Key>
  void SetRows(const SortedColumn<Key>& column, size_t begin, size_t end,
               uint64_t* out) {
    for (size_t i = begin; i < end; ++i) SetBit(out, column.rows[i]);
  }
  template <typename Key>
  void ClearRows(const SortedColumn<Key>& column, size_t begin, size_t end,
                 uint64_t* out) {
    for (size_t i = begin; i < end; ++i) ClearBit(out, column.rows[i]);
  }

  // The bucket edge nearest column position `p` (the first of equals).
  template <typename Key>
  static size_t NearestEdge(const SortedColumn<Key>& column, size_t p) {
    auto distance = [&](size_t k) {
      const size_t e = column.edge(k);
      return e < p ? p - e : e - p;
    };
    size_t best = 0;
    for (size_t k = 1; k <= column.bucket_count(); ++k) {
      if (distance(k) < distance(best)) best = k;
    }
    return best;
  }

  // The two passes over a shard's words that a bucket range costs, in rows
  // set one by one: a few hundred when the bitsets are in cache, a few
  // times more when they come from memory; 1024 sits between.
  static constexpr size_t kBucketPassRows = 1024;

  // How RangeRows takes column positions [begin, end): from the prefix
  // bitsets at bucket edges lo < hi, with `by_hand` rows set or cleared
  // between each end and its edge; or, when `buckets` is false, row by
  // row.
  struct RangeWay {
    bool buckets = false;
    size_t lo = 0, hi = 0, by_hand = 0;
  };
  template <typename Key>
  static RangeWay WayOf(const SortedColumn<Key>& column, size_t begin,
                        size_t end) {
    RangeWay way;
    if (column.bucket_count() == 0 || end <= begin) return way;
    way.lo = NearestEdge(column, begin);
    way.hi = NearestEdge(column, end);
    const size_t lo_edge = column.edge(way.lo), hi_edge = column.edge(way.hi);
    way.by_hand = (lo_edge < begin ? begin - lo_edge : lo_edge - begin) +
                  (hi_edge < end ? end - hi_edge : hi_edge - end);
    way.buckets =
        way.lo < way.hi && way.by_hand + kBucketPassRows < end - begin;
    return way;
  }

  // out = rows at column positions [begin, end): from the range buckets at
  // the edges nearest `begin` and `end`, then the rows between each end and
  // its edge set (inside the range) or cleared (outside it), at most half a
  // bucket at either end; or row by row when that is cheaper. Clearing a
  // row outside the range never clears one inside it, as a column with
  // buckets holds each row at one position.
  template <typename Key>
  void RangeRows(const SortedColumn<Key>& column, size_t begin, size_t end,
                 uint64_t* out) {
    const RangeWay way = WayOf(column, begin, end);
    if (!way.buckets) {
      ClearWords(out);
      SetRows(column, begin, end, out);
      return;
    }
    const size_t lo_edge = column.edge(way.lo), hi_edge = column.edge(way.hi);
    CopyWords(out, column.prefix_words(way.hi));
    if (way.lo > 0) AndNotWords(out, column.prefix_words(way.lo));
    // Sets first, so the result is right for any two edges in order.
    if (begin < lo_edge) SetRows(column, begin, lo_edge, out);
    if (hi_edge < end) SetRows(column, hi_edge, end, out);
    if (lo_edge < begin) ClearRows(column, lo_edge, begin, out);
    if (end < hi_edge) ClearRows(column, end, hi_edge, out);
  }

  // The index bytes RangeRows reads: the bitsets and the rows by hand, or
  // the rows (the keys are only searched).
  template <typename Key>
  static uint64_t RangeBytes(const SortedColumn<Key>& column, size_t begin,
                             size_t end) {
    const RangeWay way = WayOf(column, begin, end);
    if (!way.buckets) return (end - begin) * sizeof(uint16_t);
    const uint64_t bitsets = way.lo > 0 ? 2 : 1;
    return bitsets * kShardWords * sizeof(uint64_t) +
           way.by_hand * sizeof(uint16_t);
  }

  // Column positions [begin, end) of a range leaf in this shard.
  std::pair<size_t, size_t> IntRange(const Leaf& leaf) const {
    const IntKeys& keys = index_.shard(shard_).int_columns[leaf.attr].keys;
    const size_t b = keys.LowerBound(leaf.lo);
    return {b, std::max(b, keys.UpperBound(leaf.hi))};
  }
  std::pair<size_t, size_t> MixedRange(const Leaf& leaf) const {
    const auto& keys = index_.shard(shard_).mixed_columns[leaf.attr].keys;
    const size_t b =
        leaf.dlo_strict ? keys.UpperBound(leaf.dlo) : keys.LowerBound(leaf.dlo);
    const size_t e =
        leaf.dhi_strict ? keys.LowerBound(leaf.dhi) : keys.UpperBound(leaf.dhi);
    return {b, std::max(b, e)};
  }

  // Whether an event leaf reads the recency ladders in this shard: its
  // window reaches past the shard's last event, so it counts the events
  // from its start on, and its counts are within the ladders' depth.
  bool UsesRecency(const Leaf& leaf) const {
    constexpr int64_t kDepth = ShardIndex::kRecencyDepth;
    const CountRange& want = leaf.count;
    if (leaf.event == kNoEvent) return false;
    if (want.min > kDepth || (want.max != INT64_MAX && want.max >= kDepth)) {
      return false;
    }
    return index_.shard(shard_).NoEventAfter(leaf.event, leaf.hi);
  }

  // The events of an event leaf's window in this shard.
  ShardIndex::EventSpans EventsInWindow(const Leaf& leaf) const {
    return index_.shard(shard_).EventsIn(leaf.event, leaf.lo, leaf.hi);
  }
  uint64_t RecentAtLeastBytes(EventId event, int64_t k, int64_t lo) const {
    const auto& ladder = index_.shard(shard_).recency[event][k - 1];
    return RangeBytes(ladder, ladder.keys.LowerBound(lo), ladder.size());
  }
  // Rows with k or more events `event` from `lo` on (k >= 1).
  uint64_t RecentAtLeastCount(EventId event, int64_t k, int64_t lo) const {
    const auto& ladder = index_.shard(shard_).recency[event][k - 1];
    return ladder.size() - ladder.keys.LowerBound(lo);
  }

  // `level`: the level `out` is at; the one below is free for temporaries.
  void FillLeaf(const Leaf& leaf, int level, uint64_t* out) {
    switch (leaf.kind) {
      case LeafKind::kBitmap:
        LoadBitmap(leaf.bitmap, out);
        return;
      case LeafKind::kRowList: {
        ClearWords(out);
        const uint32_t first = shard_ << kShardBits;
        auto it = std::lower_bound(leaf.rows.begin(), leaf.rows.end(), first);
        for (; it != leaf.rows.end() && (*it >> kShardBits) == shard_; ++it) {
          SetBit(out, *it - first);
        }
        return;
      }
      case LeafKind::kIntRange: {
        const auto [b, e] = IntRange(leaf);
        RangeRows(index_.shard(shard_).int_columns[leaf.attr], b, e, out);
        return;
      }
      case LeafKind::kMixedRange: {
        const auto [b, e] = MixedRange(leaf);
        RangeRows(index_.shard(shard_).mixed_columns[leaf.attr], b, e, out);
        return;
      }
      case LeafKind::kEvent:
        FillEvent(leaf, level, out);
        return;
      case LeafKind::kValueSet:
        FillValueSet(leaf, out);
        return;
    }
  }

  // The rows of a value-set leaf within the window: each row's value
  // tested against the set, without a branch on the test where the set
  // allows it.
  void FillValueSet(const Leaf& leaf, uint64_t* out) {
    // Only the window's words: the rest may come out wrong.
    ClearWindow(out);
    const ValueMatches& matches = *leaf.matches;
    if (const auto ids = matches.id_range()) {
      // StringIndex::kNoValue lies past every run.
      const uint32_t lo = ids->first, width = ids->second - ids->first;
      if (leaf.rows.empty()) {  // a value per row: one vector pass
        const size_t first = size_t{shard_} << kShardBits;
        const size_t end = std::min(leaf.values.size(), first + row_end_);
        if (end > first) {
          IdsInRangeWords(leaf.values.data() + first, end - first, lo, width,
                          out);
        }
        return;
      }
      GatherValues(leaf, out,
                   [&](uint32_t v) { return uint64_t{v - lo < width}; });
      return;
    }
    if (matches.known()) {
      const std::vector<uint64_t>& bits = matches.bits();
      const uint32_t limit = static_cast<uint32_t>(bits.size() * 64);
      GatherValues(leaf, out, [&](uint32_t v) {
        const uint32_t at = std::min(v, limit - 1);  // kNoValue reads a bit
        return (bits[at >> 6] >> (at & 63) & 1) & uint64_t{v < limit};
      });
      return;
    }
    // A preview before the set is found: test the few rows read.
    GatherValues(leaf, out, [&](uint32_t v) {
      return uint64_t{v != StringIndex::kNoValue && matches.Test(v)};
    });
  }

  // Sets the window's rows whose value passes `test` (0 or 1). Each word's
  // bits gather in a register.
  template <typename Test>
  void GatherValues(const Leaf& leaf, uint64_t* out, Test&& test) {
    const size_t first = size_t{shard_} << kShardBits;
    if (leaf.rows.empty()) {  // a value per row
      const size_t end = std::min(leaf.values.size(), first + row_end_);
      for (size_t w = first; w < end; w += 64) {
        const size_t stop = std::min(end, w + 64);
        uint64_t word = 0;
        for (size_t r = w; r < stop; ++r) {
          word |= test(leaf.values[r]) << (r - w);
        }
        out[(w - first) >> 6] = word;
      }
      return;
    }
    // Occurrences: rows ascend, several may hold one row.
    const auto& rows = leaf.rows;
    const size_t b =
        std::lower_bound(rows.begin(), rows.end(), first) - rows.begin();
    const size_t e =
        std::lower_bound(rows.begin() + b, rows.end(), first + row_end_) -
        rows.begin();
    uint32_t word = 0;
    uint64_t acc = 0;
    for (size_t i = b; i < e; ++i) {
      const uint32_t row = rows[i] & (kShardRows - 1);
      if (row >> 6 != word) {
        out[word] |= acc;
        acc = 0;
        word = row >> 6;
      }
      acc |= test(leaf.values[i]) << (row & 63);
    }
    out[word] |= acc;
  }

  // out = rows with k or more events `event` from `lo` on (k >= 1), from
  // the recency ladder.
  void RecentAtLeast(EventId event, int64_t k, int64_t lo, uint64_t* out) {
    const auto& ladder = index_.shard(shard_).recency[event][k - 1];
    RangeRows(ladder, ladder.keys.LowerBound(lo), ladder.size(), out);
  }

  // Whether some rows of this shard take an event leaf's answer from
  // elsewhere (Leaf::stale).
  bool Patched(const Leaf& leaf) const {
    return leaf.stale != nullptr && ShardCardinality(leaf.stale, shard_) > 0;
  }

  // out = the rows of an event leaf: the index's, but for the stale rows,
  // whose answer the leaf holds.
  void FillEvent(const Leaf& leaf, int level, uint64_t* out) {
    if (leaf.event == kNoEvent) {
      ClearWords(out);
    } else {
      FillIndexEvent(leaf, level, out);
    }
    if (!Patched(leaf)) return;
    uint64_t* stale = scratch_.Level(level + 1);
    if (LoadShard(leaf.stale, shard_, stale)) AndNotWords(out, stale);
    if (leaf.stale_matches) OrBitmap(leaf.stale_matches->get(), out);
  }

  void FillIndexEvent(const Leaf& leaf, int level, uint64_t* out) {
    const CountRange& want = leaf.count;  // want.min >= 1
    if (UsesRecency(leaf)) {
      RecentAtLeast(leaf.event, want.min, leaf.lo, out);
      if (want.max != INT64_MAX) {
        uint64_t* more = scratch_.Level(level + 1);
        RecentAtLeast(leaf.event, want.max + 1, leaf.lo, more);
        AndNotWords(out, more);
      }
      return;
    }
    ClearWords(out);
    const ShardIndex::EventSpans events = EventsInWindow(leaf);
    if (want.min == 1 && want.max == INT64_MAX) {  // any event in the window
      for (const auto& [column, begin, end] : events.spans) {
        SetRows(*column, begin, end, out);
      }
      return;
    }
    if (static_cast<uint64_t>(want.min) > events.total) return;
    // Count per row in bytes that stop at 255, then test every row's byte
    // in one vector pass. A byte of 255 means 255 or more, which settles
    // any test whose upper end is below 255 or unbounded.
    if (want.max < 255 || (want.min <= 255 && want.max == INT64_MAX)) {
      uint8_t* counts = scratch_.event_bytes.data();
      for (const auto& [column, begin, end] : events.spans) {
        for (size_t i = begin; i < end; ++i) {
          const uint16_t row = column->rows[i];
          counts[row] += counts[row] != 255;
        }
      }
      BytesInRangeWords(counts, static_cast<uint8_t>(want.min),
                        static_cast<uint8_t>(std::min<int64_t>(want.max, 255)),
                        out);
      if (events.total * 16 < kShardRows) {
        for (const auto& [column, begin, end] : events.spans) {
          for (size_t i = begin; i < end; ++i) counts[column->rows[i]] = 0;
        }
      } else {
        std::memset(counts, 0, kShardRows);
      }
      return;
    }
    // Counts past 255 matter: exact 32-bit counters for the rows touched.
    std::vector<uint32_t>& counts = scratch_.event_counts;
    std::vector<uint16_t>& touched = scratch_.touched;
    touched.clear();
    for (const auto& [column, begin, end] : events.spans) {
      for (size_t i = begin; i < end; ++i) {
        const uint16_t row = column->rows[i];
        if (counts[row]++ == 0) touched.push_back(row);
      }
    }
    for (uint16_t row : touched) {
      if (counts[row] >= want.min && counts[row] <= want.max) SetBit(out, row);
      counts[row] = 0;
    }
  }

  const Index& index_;
  uint32_t shard_;
  Scratch& scratch_;
  uint32_t row_end_;
};

// Clears the bits of local rows below `row`.
void ClearBelow(uint64_t* words, uint32_t row) {
  std::fill(words, words + row / 64, uint64_t{0});
  if (row % 64 != 0) words[row / 64] &= ~uint64_t{0} << (row % 64);
}

// Appends the rows of `words` below local row `row_end` (a multiple of 64)
// until `rows` holds `limit`.
void CollectRows(const uint64_t* words, uint32_t shard, uint32_t row_end,
                 size_t limit, std::vector<uint32_t>* rows) {
  const uint32_t base = shard << kShardBits;
  for (size_t w = 0; w < row_end / 64 && rows->size() < limit; ++w) {
    uint64_t bits = words[w];
    while (bits != 0 && rows->size() < limit) {
      rows->push_back(base +
                      static_cast<uint32_t>(w * 64 + std::countr_zero(bits)));
      bits &= bits - 1;
    }
  }
}

// Whether a leaf of `node` tests values row by row: a set not yet found,
// or a run of ids.
bool TestsRows(const BoundNode& node) {
  if (node.kind == BoundKind::kLeaf) {
    return node.leaf.kind == LeafKind::kValueSet &&
           (!node.leaf.matches->known() || node.leaf.matches->id_range());
  }
  return std::any_of(node.children.begin(), node.children.end(), TestsRows);
}

// Whether `node` is read from bitmaps alone, each only below a window: a
// bitmap, an OR of bitmaps, or NOT of either.
bool ReadsBitmapWindows(const BoundNode& node) {
  auto bitmap = [](const BoundNode& n) {
    return n.kind == BoundKind::kLeaf && n.leaf.kind == LeafKind::kBitmap;
  };
  switch (node.kind) {
    case BoundKind::kLeaf:
      return bitmap(node);
    case BoundKind::kOr:
      return std::all_of(node.children.begin(), node.children.end(), bitmap);
    case BoundKind::kNot:
      return ReadsBitmapWindows(node.children[0]);
    case BoundKind::kAnd:
    case BoundKind::kConst:
      return false;
  }
  return false;
}

// The next window of a shard, after the first `end` rows held `found` of
// the `wanted` rows a preview still needs: the rows that would hold them
// all at the density seen, and half as many again, as a power of two.
uint32_t NextWindow(uint32_t end, size_t found, size_t wanted) {
  wanted = std::min<size_t>(wanted, kShardRows);  // a shard holds no more
  const uint64_t rows =
      found == 0 ? uint64_t{end} * 8 : uint64_t{end} * wanted * 3 / (2 * found);
  uint32_t next = end * 2;
  while (next < rows && next < kShardRows) next *= 2;
  return std::min(next, kShardRows);
}

// Finds every value set a count needs, each with a parallel scan, before
// the shards are shared out.
void FindValueSets(const BoundNode& node) {
  if (node.kind == BoundKind::kLeaf && node.leaf.kind == LeafKind::kValueSet &&
      !node.leaf.matches->id_range()) {
    node.leaf.matches->bits();
  }
  for (const BoundNode& c : node.children) FindValueSets(c);
}

// A value-set leaf's count is corrected for excluded rows with one value
// test each while they are at most 1/kExcludedProbeShare of the rows: a
// test reads one value's text, where the words would need the whole set,
// which a scan of every value's text finds. With a memo, whose tests serve
// the queries after, while the rows to test are at most
// 1/kMemoProbeShare of them.
constexpr uint64_t kExcludedProbeShare = 16;
constexpr uint64_t kMemoProbeShare = 2;

// The rows of ascending `rows` that are in `excluded`.
uint64_t RowsIn(std::span<const uint32_t> rows,
                const roaring_bitmap_t* excluded) {
  uint64_t n = 0;
  for (uint32_t row : rows) n += roaring_bitmap_contains(excluded, row);
  return n;
}

// The rows of `rows` for which test(row) holds.
template <typename Test>
uint64_t RowsPassing(const roaring_bitmap_t* rows, Test&& test) {
  uint64_t n = 0;
  roaring_uint32_iterator_t* it = roaring_create_iterator(rows);
  for (; it->has_value; roaring_advance_uint32_iterator(it)) {
    n += test(it->current_value);
  }
  roaring_free_uint32_iterator(it);
  return n;
}

// A condition's name in an ExcludedMatches: what it reads of the index,
// by address (the memo lives as long as the index), and what it selects.
std::string MemoKey(char kind, const void* data, uint64_t size = 0,
                    std::string_view selects = {}) {
  std::string key(1, kind);
  const auto address = reinterpret_cast<uintptr_t>(data);
  key.append(reinterpret_cast<const char*>(&address), sizeof(address));
  key.append(reinterpret_cast<const char*>(&size), sizeof(size));
  key.append(selects);
  return key;
}

// Rows left out of a count, how many (counted once per query), and where
// counts keep what they learn about them, if anywhere.
struct Excluded {
  explicit Excluded(const ExecuteOptions& options)
      : bitmap(options.excluded),
        count(bitmap ? roaring_bitmap_get_cardinality(bitmap) : 0),
        memo(options.excluded_matches),
        version(options.excluded_version) {}
  const roaring_bitmap_t* bitmap;
  uint64_t count;
  ExcludedMatches* memo;
  const std::shared_ptr<const Bitmap>& version;
};

// The count of `node` when the index knows it whole, without reading a
// shard: a bitmap's cardinality, a row list's length, a value set of a
// single-valued attribute, the sum over a disjoint OR of such, or NOT of
// any of them; each less its rows in `ex` (none when empty), which count
// as not live.
std::optional<uint64_t> WholeCount(const BoundNode& node, const Index& index,
                                   const Excluded& ex) {
  const roaring_bitmap_t* excluded = ex.bitmap;
  const uint64_t excluded_count = ex.count;
  const uint64_t live = index.live_count() - excluded_count;
  switch (node.kind) {
    case BoundKind::kConst:
      return node.constant ? live : 0;
    case BoundKind::kNot: {
      const std::optional<uint64_t> n = WholeCount(node.children[0], index, ex);
      if (!n) return std::nullopt;
      return live - *n;
    }
    case BoundKind::kOr: {
      if (!node.disjoint) return std::nullopt;
      uint64_t sum = 0;
      for (const BoundNode& c : node.children) {
        const std::optional<uint64_t> n = WholeCount(c, index, ex);
        if (!n) return std::nullopt;
        sum += *n;
      }
      return sum;
    }
    case BoundKind::kAnd:
      return std::nullopt;
    case BoundKind::kLeaf:
      break;
  }
  const Leaf& leaf = node.leaf;
  // `n` rows less the excluded ones that count_in finds among them,
  // remembered under key() where the rows last as long as the index.
  const auto less_excluded = [&](uint64_t n, const auto& key,
                                 const ExcludedMatches::CountIn& count_in) {
    if (excluded_count == 0) return n;
    if (ex.memo != nullptr && leaf.lasting) {
      return n - *ex.memo->Count(key(), ex.version, UINT64_MAX, count_in);
    }
    return n - count_in(excluded);
  };
  switch (leaf.kind) {
    case LeafKind::kBitmap:
      return less_excluded(
          roaring_bitmap_get_cardinality(leaf.bitmap),
          [&] { return MemoKey('b', leaf.bitmap); },
          [&leaf](const roaring_bitmap_t* rows) {
            return roaring_bitmap_and_cardinality(leaf.bitmap, rows);
          });
    case LeafKind::kRowList:
      return less_excluded(
          leaf.rows.size(),
          [&] { return MemoKey('r', leaf.rows.data(), leaf.rows.size()); },
          [&leaf](const roaring_bitmap_t* rows) {
            return RowsIn(leaf.rows, rows);
          });
    case LeafKind::kValueSet: {
      if (!leaf.single_valued) return std::nullopt;
      if (excluded_count == 0) return leaf.matches->Occurrences();
      if (!leaf.rows.empty()) return std::nullopt;
      // Each excluded row's value, tested without finding the whole set.
      const auto count_in = [&leaf](const roaring_bitmap_t* rows) {
        return RowsPassing(rows, [&leaf](uint32_t row) {
          if (row >= leaf.values.size()) return false;
          const ValueId v = leaf.values[row];
          return v != StringIndex::kNoValue && leaf.matches->Test(v);
        });
      };
      std::optional<uint64_t> matched;
      if (ex.memo != nullptr && !leaf.matches->key().empty()) {
        matched = ex.memo->Count(
            MemoKey('v', leaf.values.data(), leaf.values.size(),
                    leaf.matches->key()),
            ex.version, leaf.values.size() / kMemoProbeShare, count_in);
      } else if (excluded_count * kExcludedProbeShare <= leaf.values.size()) {
        matched = count_in(excluded);
      }
      if (!matched) return std::nullopt;
      return leaf.matches->Occurrences() - *matched;
    }
    case LeafKind::kIntRange:
    case LeafKind::kMixedRange:
    case LeafKind::kEvent:
      break;
  }
  return std::nullopt;
}

// Clears the rows of `excluded` in shard `s` of `words`; `mask` is scratch.
void Exclude(const roaring_bitmap_t* excluded, uint32_t s, uint64_t* words,
             uint64_t* mask) {
  if (excluded != nullptr && LoadShard(excluded, s, mask)) {
    AndNotWords(words, mask);
  }
}

}  // namespace

void ExcludedMatches::Keep(const std::shared_ptr<const Bitmap>& excluded) {
  if (Kept(excluded.get()) != nullptr) return;
  versions_.push_back(excluded);
  if (versions_.size() <= kMaxVersions) return;
  // Nothing may name the version dropped: its address may come again.
  const Bitmap* dropped = versions_.front().get();
  versions_.erase(versions_.begin());
  std::erase_if(differences_, [dropped](const Difference& d) {
    return d.from == dropped || d.to == dropped;
  });
  for (auto& [key, entry] : entries_) {
    if (entry.counted == dropped) entry.counted = nullptr;
  }
}

std::shared_ptr<const Bitmap> ExcludedMatches::Kept(const Bitmap* v) const {
  for (const auto& kept : versions_) {
    if (kept.get() == v) return kept;
  }
  return nullptr;
}

std::optional<uint64_t> ExcludedMatches::Count(
    std::string_view key, const std::shared_ptr<const Bitmap>& excluded,
    uint64_t max_new, const CountIn& count_in) {
  std::shared_ptr<const Bitmap> from, fresh;
  uint64_t matched = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Keep(excluded);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      Entry& e = it->second;
      e.last_used = ++clock_;
      if (e.counted == excluded.get()) return e.matched;
      from = Kept(e.counted);
      matched = e.matched;
      for (const Difference& d : differences_) {
        if (d.from == e.counted && d.to == excluded.get()) fresh = d.rows;
      }
    }
  }
  // The rows excluded since the last count. Those it counted must all
  // still be excluded: else it is of no use, and every row is counted.
  if (from != nullptr && fresh == nullptr) {
    auto rows = std::make_shared<Bitmap>(
        roaring_bitmap_andnot(excluded->get(), from->get()));
    if (from->cardinality() + rows->cardinality() == excluded->cardinality()) {
      fresh = std::move(rows);
      std::lock_guard<std::mutex> lock(mu_);
      if (Kept(from.get()) != nullptr && Kept(excluded.get()) != nullptr) {
        differences_.push_back(Difference{from.get(), excluded.get(), fresh});
        if (differences_.size() > kMaxVersions) {
          differences_.erase(differences_.begin());
        }
      }
    }
  }
  if (fresh == nullptr) matched = 0;
  const Bitmap& counted = fresh != nullptr ? *fresh : *excluded;
  if (counted.cardinality() > max_new) return std::nullopt;
  matched += count_in(counted.get());

  std::lock_guard<std::mutex> lock(mu_);
  Note(key, excluded.get(), matched);
  return matched;
}

void ExcludedMatches::Seed(std::string_view key,
                           const std::shared_ptr<const Bitmap>& excluded,
                           uint64_t matched) {
  std::lock_guard<std::mutex> lock(mu_);
  Keep(excluded);
  Note(key, excluded.get(), matched);
}

void ExcludedMatches::Forget(std::string_view key) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = entries_.find(key); it != entries_.end()) entries_.erase(it);
}

void ExcludedMatches::Note(std::string_view key, const Bitmap* excluded,
                           uint64_t matched) {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= kMaxConditions) {
      entries_.erase(std::min_element(
          entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
            return a.second.last_used < b.second.last_used;
          }));
    }
    it = entries_.emplace(std::string(key), Entry{}).first;
  }
  // Kept only while its version is: an entry never names a version gone.
  if (Kept(excluded) != nullptr) {
    it->second = Entry{excluded, matched, ++clock_};
  }
}

ExecuteResult Execute(const Plan& plan, const Index& index,
                      const ExecuteOptions& options) {
  const uint32_t shards = index.shard_count();
  // A node evaluated into level L uses level L + 1 for its temporaries.
  const int levels = plan.depth + 1;

  ExecuteResult result;
  // Members: walk shards in order and stop once `limit` rows are in. Where
  // a leaf tests values row by row, or the rule reads bitmaps only below a
  // window, a shard is read in growing windows of its first rows, and a
  // dense match stops within the first one.
  if (options.limit > 0) {
    result.rows.reserve(std::min<size_t>(options.limit, 4096));
    Scratch& scratch = ThreadScratch();
    scratch.Reserve(levels + 1);
    uint64_t* mask = scratch.Level(levels);
    // There the first window is 1024 rows, or fewer when the estimate says
    // twice the members asked for fit in fewer.
    uint32_t first_window = kShardRows;
    if (TestsRows(plan.root) || ReadsBitmapWindows(plan.root)) {
      const double rows_wanted =
          2.0 * static_cast<double>(options.limit) *
          static_cast<double>(index.live_count()) /
          static_cast<double>(std::max<uint64_t>(plan.root.estimate, 1));
      first_window = 1024;
      while (first_window > 64 && first_window / 2 >= rows_wanted) {
        first_window /= 2;
      }
    }
    uint64_t walked = 0;  // rows of the shards read in full
    const uint32_t first_shard = options.first_row >> kShardBits;
    const uint32_t skipped = options.first_row & (kShardRows - 1);
    const uint32_t end_shard = static_cast<uint32_t>(std::min<uint64_t>(
        shards, (uint64_t{options.row_end} + kShardRows - 1) >> kShardBits));
    for (uint32_t s = first_shard;
         s < end_shard && result.rows.size() < options.limit; ++s) {
      const size_t before = result.rows.size();
      // A page that starts inside a shard reads that shard whole.
      for (uint32_t end = s == first_shard && skipped > 0 ? kShardRows
                                                          : first_window;
           ;) {
        uint64_t* out = scratch.Level(0);
        ShardEvaluator(index, s, scratch, end).Eval(plan.root, 0, out);
        if (s == first_shard && skipped > 0) ClearBelow(out, skipped);
        Exclude(options.excluded, s, out, mask);
        result.rows.resize(before);
        CollectRows(out, s, end, options.limit, &result.rows);
        if (end == kShardRows) walked += CountWords(out);
        if (result.rows.size() >= options.limit || end == kShardRows) break;
        end = NextWindow(end, result.rows.size() - before,
                         options.limit - before);
      }
    }
    while (!result.rows.empty() && result.rows.back() >= options.row_end) {
      result.rows.pop_back();
    }
    // Fewer members than asked for: every shard was read in full, and the
    // walk has the count.
    if (result.rows.size() < options.limit && options.first_row == 0 &&
        options.row_end == UINT32_MAX) {
      result.count = walked;
      return result;
    }
  }
  if (!options.count) return result;
  if (!options.count_from_words) {
    if (const std::optional<uint64_t> n =
            WholeCount(plan.root, index, Excluded(options))) {
      result.count = *n;
      return result;
    }
  }
  FindValueSets(plan.root);

  std::vector<uint64_t> counts(shards, 0);
  // One shard (a small layer of a live database) is counted in place.
  const auto count_shard = [&](uint32_t s) {
    Scratch& scratch = ThreadScratch();
    scratch.Reserve(levels + 1);
    ShardEvaluator eval(index, s, scratch);
    uint64_t* out = scratch.Level(0);
    if (options.excluded != nullptr &&
        ShardCardinality(options.excluded, s) > 0) {
      // Counted from the words, less the excluded rows.
      eval.Eval(plan.root, 0, out);
      Exclude(options.excluded, s, out, scratch.Level(levels));
      counts[s] = CountWords(out);
    } else if (options.count_from_words) {
      eval.Eval(plan.root, 0, out);
      counts[s] = CountWords(out);
    } else {
      counts[s] = eval.Count(plan.root, 0, out);
    }
  };
  if (shards == 1) {
    count_shard(0);
  } else {
    tbb::parallel_for(uint32_t{0}, shards, count_shard);
  }
  for (uint64_t n : counts) result.count += n;
  return result;
}

void ExecuteShards(const Plan& plan, const Index& index,
                   const std::function<void(uint32_t, const uint64_t*)>& fn,
                   const roaring_bitmap_t* excluded) {
  FindValueSets(plan.root);
  const int levels = plan.depth + 1;
  tbb::parallel_for(uint32_t{0}, index.shard_count(), [&](uint32_t s) {
    Scratch& scratch = ThreadScratch();
    scratch.Reserve(levels + 1);
    uint64_t* out = scratch.Level(0);
    ShardEvaluator(index, s, scratch).Eval(plan.root, 0, out);
    Exclude(excluded, s, out, scratch.Level(levels));
    fn(s, out);
  });
}

namespace {

uint64_t NodeBytes(const BoundNode& node, const Index& index) {
  uint64_t bytes = 0;
  for (const BoundNode& c : node.children) bytes += NodeBytes(c, index);
  switch (node.kind) {
    case BoundKind::kLeaf:
      switch (node.leaf.kind) {
        case LeafKind::kBitmap:
          return roaring_bitmap_size_in_bytes(node.leaf.bitmap);
        case LeafKind::kRowList:
          return node.leaf.rows.size() * sizeof(uint32_t);
        case LeafKind::kIntRange:
        case LeafKind::kMixedRange:
        case LeafKind::kEvent: {
          uint64_t leaf_bytes = 0;
          for (uint32_t s = 0; s < index.shard_count(); ++s) {
            leaf_bytes +=
                ShardEvaluator(index, s, ThreadScratch()).LeafBytes(node.leaf);
          }
          return leaf_bytes;
        }
        case LeafKind::kValueSet: {
          const ValueMatches& m = *node.leaf.matches;
          return (node.leaf.rows.size() + node.leaf.values.size()) *
                     sizeof(uint32_t) +
                 (m.id_range() ? 0 : m.bits().size() * sizeof(uint64_t)) +
                 m.FindBytes();
        }
      }
      return 0;
    case BoundKind::kNot:
    case BoundKind::kConst:
      return bytes + roaring_bitmap_size_in_bytes(index.live().get());
    case BoundKind::kAnd:
    case BoundKind::kOr:
      return bytes;
  }
  return bytes;
}

}  // namespace

uint64_t BytesTouched(const Plan& plan, const Index& index) {
  return NodeBytes(plan.root, index);
}

}  // namespace segd
