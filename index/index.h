// Index: an immutable, query-ready snapshot of a ProfileStore.
//
// Per attribute: a presence bitmap, and by type
//   string, string array  a StringIndex (dictionary, postings, trigrams)
//   bool                  bitmaps of true and false rows
//   number, date          per shard, a column of (value, row) sorted by value
// Per event name and shard: columns of (instant, row) sorted by instant, so
// "count of X in window W" reads only the events inside W.
// Plus the bitmap of live rows.
//
// The row space is cut into shards of 2^16 rows (index/bitmap.h); everything
// per shard is independent so queries run shard by shard in parallel.
//
// An Index is built from a RowSource: the encoded profile of each of its
// rows, which previews read back. Its rows are the source's: the whole
// store, or a live database's layer (live/layer.h).
//
// Threading: immutable after Build (or Merge); share it as
// shared_ptr<const Index>.
// REQUIRES: the source outlives the Index, and its blobs do not change
// while the Index is in use.
#ifndef SEGD_INDEX_INDEX_H_
#define SEGD_INDEX_INDEX_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "index/bitmap.h"
#include "index/int_keys.h"
#include "index/profile_store.h"
#include "index/real_keys.h"
#include "index/schema.h"
#include "index/string_index.h"

namespace segd {

// int64 keys (dates, integers, event instants) are bit-packed where they
// can be, exact numbers (long double) take 64 bits.
template <typename Key>
using KeysOf =
    std::conditional_t<std::is_same_v<Key, int64_t>, IntKeys, RealKeys>;

// (key, local row) pairs of one shard, ascending by key (then row).
//
// A column of a single-valued attribute with at least kBucketPositions
// entries also keeps range buckets: prefix(k) is the bitset of the rows at
// positions [0, edge(k)) of the column, for B + 1 edges from 0 to size.
// Rows at positions [p, q) are then prefix(j) AND NOT prefix(i) for the
// bucket edges nearest p and q, with the few rows between each end and its
// edge set or cleared: a wide range costs two word operations, not a bit
// per row. Edges sit about size / B apart, moved to the nearest place where
// the key changes, so that on a column of few distinct values (counts,
// scores) a range often starts and ends on edges. B is size /
// kBucketPositions, at most kMaxRangeBuckets: a bucket spans
// kBucketPositions to twice that, and the bitsets cost at most 4 bytes an
// entry (2 on a full shard), so a sparse column pays for few of them.
template <typename Key>
struct SortedColumn {
  static constexpr size_t kBucketPositions = 2048;
  static constexpr size_t kMaxRangeBuckets = 16;

  KeysOf<Key> keys;
  std::vector<uint16_t> rows;
  // B bitsets of kShardWords each (k = 1..B), or empty.
  std::vector<uint64_t> prefix;
  std::vector<uint32_t> edges;  // B + 1 positions, with `prefix`

  size_t size() const { return rows.size(); }
  // B, or 0 without buckets.
  size_t bucket_count() const { return edges.empty() ? 0 : edges.size() - 1; }
  // Position where bucket k starts, k in [0, B].
  size_t edge(size_t k) const { return edges[k]; }
  const uint64_t* prefix_words(size_t k) const {
    return prefix.data() + (k - 1) * kShardWords;
  }
  // Builds `edges` and `prefix` when the column has enough entries.
  // REQUIRES: each row appears at most once.
  void MaybeBuildRangeBuckets();

  // Archived as it is (base/archive.h).
  void Save(ArchiveWriter& out) const {
    keys.Save(out);
    out.Vector(rows);
    out.Vector(prefix);
    out.Vector(edges);
  }
  bool Load(ArchiveReader& in) {
    if (!keys.Load(in) || !in.Vector(&rows) || !in.Vector(&prefix) ||
        !in.Vector(&edges) || keys.size() != rows.size()) {
      return false;
    }
    if (edges.empty()) return prefix.empty();
    return edges.size() >= 2 && edges.front() == 0 &&
           edges.back() == rows.size() &&
           std::is_sorted(edges.begin(), edges.end()) &&
           prefix.size() == bucket_count() * kShardWords;
  }

 private:
  // The first position of the key at `p`, and the first after its run.
  std::pair<size_t, size_t> Run(size_t p) const;
};

template <typename Key>
std::pair<size_t, size_t> SortedColumn<Key>::Run(size_t p) const {
  return {keys.LowerBound(keys[p]), keys.UpperBound(keys[p])};
}

template <typename Key>
void SortedColumn<Key>::MaybeBuildRangeBuckets() {
  const size_t n = size();
  const size_t buckets = std::min(n / kBucketPositions, kMaxRangeBuckets);
  if (buckets == 0) return;
  edges.assign(buckets + 1, 0);
  edges[buckets] = static_cast<uint32_t>(n);
  for (size_t k = 1; k < buckets; ++k) {
    const size_t p = k * n / buckets;
    const auto [first, last] = Run(p);
    edges[k] = static_cast<uint32_t>(p - first <= last - p ? first : last);
  }
  prefix.assign(buckets * kShardWords, 0);
  for (size_t k = 1; k <= buckets; ++k) {
    uint64_t* words = prefix.data() + (k - 1) * kShardWords;
    if (k > 1) CopyWords(words, words - kShardWords);
    for (size_t i = edge(k - 1); i < edge(k); ++i) SetBit(words, rows[i]);
  }
}

struct ShardIndex {
  // Indexed by AttrId; empty unless the attribute is a date (int64 millis)
  // or a number: int64 when every value is an integer, else exact
  // (index/real_keys.h).
  std::vector<SortedColumn<int64_t>> int_columns;
  std::vector<SortedColumn<long double>> mixed_columns;
  // Indexed by EventId, then k - 1 for k in 1..kRecencyDepth: the rows with
  // k or more such events, keyed by the instant of their k-th latest. A row
  // has k events at or after t exactly when that instant is >= t, so "k or
  // more in a window reaching past the shard's last event" is one range.
  static constexpr int kRecencyDepth = 5;
  std::vector<std::vector<SortedColumn<int64_t>>> recency;
  // Indexed by EventId: (instant, local row) of each event older than its
  // row's kRecencyDepth latest. Rung k holds each row's k-th latest event,
  // so the rungs and these hold every event once: EventColumns.
  std::vector<SortedColumn<int64_t>> older_events;

  static constexpr size_t kEventColumns = kRecencyDepth + 1;
  using EventColumnSet =
      std::array<const SortedColumn<int64_t>*, kEventColumns>;
  // The columns that between them hold every event `e` of the shard once,
  // each as (instant, local row) ascending by instant.
  EventColumnSet EventColumns(EventId e) const {
    EventColumnSet columns;
    for (int k = 0; k < kRecencyDepth; ++k) columns[k] = &recency[e][k];
    columns[kRecencyDepth] = &older_events[e];
    return columns;
  }
  // The events `e` at instants [lo, hi]: a span of positions in each of
  // EventColumns(e).
  struct EventSpans {
    struct Span {
      const SortedColumn<int64_t>* column;
      size_t begin, end;
    };
    std::array<Span, kEventColumns> spans;
    size_t total = 0;  // events in all
  };
  EventSpans EventsIn(EventId e, int64_t lo, int64_t hi) const {
    EventSpans out;
    const EventColumnSet columns = EventColumns(e);
    for (size_t c = 0; c < kEventColumns; ++c) {
      const IntKeys& keys = columns[c]->keys;
      const size_t begin = keys.LowerBound(lo);
      const size_t end = std::max(begin, keys.UpperBound(hi));
      out.spans[c] = {columns[c], begin, end};
      out.total += end - begin;
    }
    return out;
  }
  void Save(ArchiveWriter& out) const;
  bool Load(ArchiveReader& in);

  // Whether no event `e` of the shard is later than `t`: the latest events
  // are the first rung's.
  bool NoEventAfter(EventId e, int64_t t) const {
    const IntKeys& latest = recency[e][0].keys;
    return latest.UpperBound(t) == latest.size();
  }
};

// The encoded profiles (index/profile_codec.h) of an Index's rows.
class RowSource {
 public:
  virtual ~RowSource() = default;
  // Rows in all, live or not.
  virtual uint32_t row_count() const = 0;
  // Row `row`'s profile; empty when the row holds none.
  virtual std::string_view blob(uint32_t row) const = 0;
};

// A store's rows as they are: the offline path, where nothing writes the
// store once it is indexed. REQUIRES: the store outlives it.
class StoreRows final : public RowSource {
 public:
  explicit StoreRows(const ProfileStore* store) : store_(store) {}
  uint32_t row_count() const override { return store_->row_count(); }
  std::string_view blob(uint32_t row) const override {
    return store_->blob(row);
  }

 private:
  const ProfileStore* store_;
};

struct AttributeIndex {
  std::string name;
  AttrType type = AttrType::kString;
  Bitmap presence;                       // rows with a value
  std::unique_ptr<StringIndex> strings;  // kString, kStringArray
  Bitmap true_rows, false_rows;          // kBool
  bool integer_domain = true;            // kNumber: which column holds it

  void Save(ArchiveWriter& out) const;
  bool Load(ArchiveReader& in);
};

class Index {
 public:
  // What a build indexes: everything, or the events alone (a live
  // database's event layers, live/layer.h), which reads no attribute
  // value and leaves every attribute out.
  enum class Scope { kAll, kEvents };
  // Builds the snapshot with oneTBB: shards in parallel, then attributes,
  // then the string dictionaries, shared out between threads (kEvents:
  // the shards alone). Attributes
  // and events are the schema's; every blob's ids must be in it.
  static std::shared_ptr<const Index> Build(
      const Schema& schema, std::shared_ptr<const RowSource> rows,
      Scope scope = Scope::kAll);
  // The whole store. REQUIRES: the store outlives the Index and is not
  // written while it is in use.
  static std::shared_ptr<const Index> Build(const ProfileStore& store);

  // An index of a merge, and where its rows go.
  static constexpr uint32_t kDropped = StringIndex::kDroppedRow;
  struct MergeSource {
    const Index* index;
    // By the source's row: its row in the merge, or kDropped.
    std::vector<uint32_t> to_row;
    // The same for its events, where it differs (empty: to_row): a row
    // whose events were appended since takes them from another source.
    std::vector<uint32_t> events_to_row;
  };
  // An index over `rows`, merged from the indexes of `sources` rather than
  // built from the profiles again, with the same scope: the result equals
  // what Build(schema, rows, scope) gives. Each event of a row comes from
  // its source's columns, in the same rung (a row's rungs are its own);
  // bitmaps and number columns take their rows renumbered; dictionaries
  // merge (StringIndex::Merge). Only a value's spelling may need a blob
  // read, when the row that gave its source the spelling is dropped. One
  // difference, which no answer shows: a number sent as a non-integer
  // with an integer's value (3.0) makes Build keep its attribute's keys
  // exact, while the merge, which sees only the value, gives int64 keys
  // when every key kept is an integer.
  // REQUIRES: each source was built over the schema or an earlier state of
  // it, with `scope` (or kAll; an events-only source's attributes are
  // empty); its rows kept map to distinct rows, ascending as its own rows
  // do, below kDropped; each row of `rows` that holds a blob is kept from
  // one source's to_row, and from one source's events, whose row held the
  // same blob but for its events.
  static std::shared_ptr<const Index> Merge(
      const Schema& schema, std::shared_ptr<const RowSource> rows,
      std::span<const MergeSource> sources, Scope scope = Scope::kAll);

  // Archives the index (base/archive.h): everything but its rows' blobs,
  // which the caller saves, and gives Load again as `rows`. Load returns
  // null when the archive does not hold an index over `rows`.
  void Save(ArchiveWriter& out) const;
  static std::shared_ptr<const Index> Load(
      ArchiveReader& in, std::shared_ptr<const RowSource> rows);

  // Row `row`'s encoded profile (empty when it holds none).
  std::string_view blob(uint32_t row) const { return rows_->blob(row); }
  const RowSource& rows() const { return *rows_; }
  uint32_t row_count() const { return row_count_; }
  uint32_t shard_count() const { return ShardCount(row_count_); }
  const Bitmap& live() const { return live_; }
  uint64_t live_count() const { return live_count_; }

  std::optional<AttrId> FindAttribute(std::string_view name) const;
  const AttributeIndex& attribute(AttrId id) const { return attributes_[id]; }
  size_t attribute_count() const { return attributes_.size(); }

  std::optional<EventId> FindEvent(std::string_view name) const;
  uint64_t event_total(EventId id) const { return event_totals_[id]; }
  const std::string& event_name(EventId id) const { return event_names_[id]; }

  const ShardIndex& shard(uint32_t s) const { return shards_[s]; }
  // Whether every one of the shard's 2^16 rows is live, so that ANDing with
  // the live rows can be skipped.
  bool shard_full(uint32_t s) const { return full_shards_[s]; }

  // Bytes held by index structures (not the stored profiles).
  // Bytes held, by part.
  struct Memory {
    size_t bitmaps = 0;  // live, presence and true/false bitmaps
    StringIndex::Memory strings;
    size_t number_columns = 0;  // number and date columns
    size_t events = 0;          // events past each row's ladder
    size_t recency = 0;         // recency ladders
    size_t range_buckets = 0;   // of all of those columns
    size_t total() const {
      return bitmaps + strings.total() + number_columns + events + recency +
             range_buckets;
    }
  };
  Memory MemoryUse() const;
  size_t MemoryBytes() const { return MemoryUse().total(); }

 private:
  // The attributes' and events' names and types from the schema, an
  // attribute's index left empty; `canonical` gets, by EventId, the id its
  // events count under.
  void NameFrom(const Schema& schema, std::vector<EventId>* canonical);
  // The figures read off the live rows and the shards: live_count_,
  // full_shards_, event_totals_. REQUIRES: live_, shards_, event_names_.
  void DeriveTotals();

  std::shared_ptr<const RowSource> rows_;
  uint32_t row_count_ = 0;
  Bitmap live_;
  uint64_t live_count_ = 0;  // live_'s cardinality, read by every plan
  std::vector<AttributeIndex> attributes_;
  StringMap<AttrId> attribute_by_name_;
  std::vector<std::string> event_names_;
  StringMap<EventId> event_by_folded_name_;
  std::vector<uint64_t> event_totals_;
  std::vector<ShardIndex> shards_;
  std::vector<bool> full_shards_;
};

}  // namespace segd

#endif  // SEGD_INDEX_INDEX_H_
