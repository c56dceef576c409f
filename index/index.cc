#include "index/index.h"

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <utility>

#include "base/ascii.h"
#include "base/merge_runs.h"
#include "base/radix_sort.h"
#include "index/profile_codec.h"

namespace segd {
namespace {

// Distinct values from which a string attribute gets a trigram index.
constexpr size_t kTrigramMinValues = 2048;

// A (key, row) pair of a shard's column as one word: the key's offset
// from the column's smallest key `min` above the row's bits, so that words
// order as their pairs do. Keys from `low` to `high` fit when FitsWords.
constexpr int kRowBits = 16;
static_assert(sizeof(uint16_t) * 8 == kRowBits);
bool FitsWords(int64_t low, int64_t high) {
  return (static_cast<uint64_t>(high) - static_cast<uint64_t>(low)) >>
             (64 - kRowBits) ==
         0;
}
uint64_t PairWord(int64_t key, uint64_t min, uint16_t row) {
  return (static_cast<uint64_t>(key) - min) << kRowBits | row;
}
int64_t WordKey(uint64_t word, uint64_t min) {
  return static_cast<int64_t>(min + (word >> kRowBits));
}
uint16_t WordRow(uint64_t word) { return static_cast<uint16_t>(word); }

// Sorts (key, row) pairs that arrive in ascending row order by key, rows
// ascending among equal keys: a radix sort on the key's offset from the
// smallest.
void SortByKey(std::vector<std::pair<int64_t, uint16_t>>& pairs) {
  if (pairs.size() < 64) {
    std::stable_sort(
        pairs.begin(), pairs.end(),
        [](const auto& x, const auto& y) { return x.first < y.first; });
    return;
  }
  const auto [low, high] = std::minmax_element(
      pairs.begin(), pairs.end(),
      [](const auto& x, const auto& y) { return x.first < y.first; });
  const uint64_t min = static_cast<uint64_t>(low->first);
  if (!FitsWords(low->first, high->first)) {
    RadixSort(pairs, [min](const std::pair<int64_t, uint16_t>& p) {
      return static_cast<uint64_t>(p.first) - min;
    });
    return;
  }
  // As words, half the bytes of a pair move, and the row's bits are never
  // sorted on (the pairs arrive in row order, and the sort keeps it among
  // equal keys).
  std::vector<uint64_t> words(pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    words[i] = PairWord(pairs[i].first, min, pairs[i].second);
  }
  RadixSort(words, [](uint64_t word) { return word >> kRowBits; });
  for (size_t i = 0; i < pairs.size(); ++i) {
    pairs[i] = {WordKey(words[i], min), WordRow(words[i])};
  }
}

// The column of sorted (key, row) pairs, which are left empty.
SortedColumn<int64_t> SplitColumn(
    std::vector<std::pair<int64_t, uint16_t>>& pairs) {
  SortedColumn<int64_t> column;
  std::vector<int64_t> keys;
  keys.reserve(pairs.size());
  column.rows.reserve(pairs.size());
  for (const auto& [key, row] : pairs) {
    keys.push_back(key);
    column.rows.push_back(row);
  }
  column.keys = IntKeys(keys);
  pairs.clear();
  return column;
}

SortedColumn<int64_t> ToColumn(
    std::vector<std::pair<int64_t, uint16_t>>& pairs) {
  SortByKey(pairs);
  return SplitColumn(pairs);
}

// Whether the rows that `to_row` keeps (all but Index::kDropped) ascend,
// each below `rows`.
[[maybe_unused]] bool KeptInOrder(const std::vector<uint32_t>& to_row,
                                  uint32_t rows) {
  int64_t previous = -1;
  for (const uint32_t to : to_row) {
    if (to == Index::kDropped) continue;
    if (to <= previous || to >= rows) return false;
    previous = to;
  }
  return true;
}

// A shard of a merge's source, which the merge takes columns from, and
// where its rows go.
struct MergePart {
  const ShardIndex* shard;
  const uint32_t* to_row;  // by the shard's local row: the merged row
};

// One column (an event name's rung, a number or date attribute's) in every
// shard of a merged index, from the same column of each source shard, whose
// rows go to their rows in the merge or are dropped (Index::kDropped). A
// source's rows keep their order in the merge, so each source column's entries
// make, in each merged shard, a run ascending by (key, row). The runs merge as
// words, the key's offset from the smallest above the row (PairWord), when the
// keys fit (any few millennia of instants); else as pairs, sorted. Reused from
// column to column, so that its buffers are.
class ColumnMerger {
 public:
  explicit ColumnMerger(uint32_t shards)
      : words_(shards), runs_(shards), pairs_(shards) {}

  // Reads the column that column_of(shard) gives (null: none) from each
  // part once, each entry kept into the merged shard it goes to.
  template <typename ColumnOf>
  void Gather(std::span<const MergePart> parts, ColumnOf&& column_of) {
    int64_t low = INT64_MAX, high = INT64_MIN;
    columns_.assign(parts.size(), nullptr);
    for (size_t k = 0; k < parts.size(); ++k) {
      const SortedColumn<int64_t>* found = column_of(*parts[k].shard);
      if (found == nullptr || found->size() == 0) continue;
      const SortedColumn<int64_t>& column = *found;
      columns_[k] = &column;
      low = std::min(low, column.keys[0]);
      high = std::max(high, column.keys[column.size() - 1]);
    }
    for (uint32_t s = 0; s < words_.size(); ++s) {
      words_[s].clear();
      runs_[s].clear();
      pairs_[s].clear();
    }
    min_ = static_cast<uint64_t>(low);
    as_words_ = low > high || FitsWords(low, high);
    for (size_t k = 0; k < parts.size(); ++k) {
      if (columns_[k] == nullptr) continue;
      const SortedColumn<int64_t>& column = *columns_[k];
      const uint32_t* to_row = parts[k].to_row;
      if (!as_words_) {
        for (size_t i = 0; i < column.size(); ++i) {
          const uint32_t to = to_row[column.rows[i]];
          if (to == Index::kDropped) continue;
          pairs_[ShardOf(to)].emplace_back(column.keys[i],
                                           static_cast<uint16_t>(to));
        }
        continue;
      }
      // The part's run starts in every shard (empty where it has nothing).
      for (uint32_t s = 0; s < words_.size(); ++s) {
        runs_[s].push_back(words_[s].size());
      }
      std::vector<uint64_t>* words = words_.data();
      for (size_t i = 0; i < column.size(); ++i) {
        const uint32_t to = to_row[column.rows[i]];
        if (to == Index::kDropped) continue;
        words[ShardOf(to)].push_back(
            PairWord(column.keys[i], min_, static_cast<uint16_t>(to)));
      }
    }
  }

  // Merged shard s's column, as Gather left it.
  SortedColumn<int64_t> Take(uint32_t s) {
    if (!as_words_) {
      std::sort(pairs_[s].begin(), pairs_[s].end());
      return SplitColumn(pairs_[s]);
    }
    std::vector<uint64_t>& words = words_[s];
    MergeRuns(words, runs_[s], scratch_);
    SortedColumn<int64_t> column;
    keys_.resize(words.size());
    column.rows.resize(words.size());
    for (size_t i = 0; i < words.size(); ++i) {
      keys_[i] = WordKey(words[i], min_);
      column.rows[i] = WordRow(words[i]);
    }
    column.keys = IntKeys(keys_);
    return column;
  }

 private:
  std::vector<const SortedColumn<int64_t>*> columns_;  // by part, or null
  uint64_t min_ = 0;
  bool as_words_ = true;
  // By merged shard.
  std::vector<std::vector<uint64_t>> words_;
  std::vector<std::vector<size_t>> runs_;
  std::vector<std::vector<std::pair<int64_t, uint16_t>>> pairs_;
  std::vector<uint64_t> scratch_;
  std::vector<int64_t> keys_;
};

// The bitmap of `rows` (ascending), and `rows` emptied for reuse.
Bitmap TakeBitmap(std::vector<uint32_t>& rows) {
  Bitmap b = Bitmap::Of(rows);
  rows.clear();
  return b;
}

// One bitmap from per-shard parts, whose rows do not overlap.
Bitmap Union(std::vector<Bitmap>& parts) {
  std::vector<const roaring_bitmap_t*> ptrs;
  for (const Bitmap& b : parts) ptrs.push_back(b.get());
  Bitmap all(ptrs.empty() ? roaring_bitmap_create()
                          : roaring_bitmap_or_many(ptrs.size(), ptrs.data()));
  all.Optimize();
  parts.clear();
  return all;
}

// The recency ladder of one event name in one shard (ShardIndex::recency)
// and the events older than it holds, from the (instant, row) pairs, which
// are left empty. `seen` is scratch of one zero per local row, left zero.
void BuildEventColumns(std::vector<std::pair<int64_t, uint16_t>>& pairs,
                       std::vector<uint8_t>& seen,
                       std::vector<SortedColumn<int64_t>>* ladders,
                       SortedColumn<int64_t>* older) {
  constexpr int kDepth = ShardIndex::kRecencyDepth;
  // One sort by instant, rows ascending among equals. Read from the latest
  // back, a row's k-th event seen is its k-th latest, so each rung (and
  // the rest, column kDepth) fills from its end.
  SortByKey(pairs);
  size_t sizes[kDepth + 1] = {};
  for (const auto& [at, row] : pairs) {
    uint8_t& k = seen[row];
    ++sizes[k];
    if (k < kDepth) ++k;
  }
  for (const auto& [at, row] : pairs) seen[row] = 0;
  std::vector<int64_t> keys[kDepth + 1];
  std::vector<uint16_t> rows[kDepth + 1];
  for (int k = 0; k <= kDepth; ++k) {
    keys[k].resize(sizes[k]);
    rows[k].resize(sizes[k]);
  }
  for (auto it = pairs.rbegin(); it != pairs.rend(); ++it) {
    uint8_t& k = seen[it->second];
    const size_t i = --sizes[k];
    keys[k][i] = it->first;
    rows[k][i] = it->second;
    if (k < kDepth) ++k;
  }
  for (const auto& [at, row] : pairs) seen[row] = 0;
  pairs.clear();
  ladders->resize(kDepth);
  for (int k = 0; k < kDepth; ++k) {
    (*ladders)[k].keys = IntKeys(keys[k]);
    (*ladders)[k].rows = std::move(rows[k]);
    (*ladders)[k].MaybeBuildRangeBuckets();
  }
  older->keys = IntKeys(keys[kDepth]);
  older->rows = std::move(rows[kDepth]);
}

// Numbers of one shard sorted exactly, as an int64 column when they are all
// integers, else as a long double column.
void BuildNumberColumns(std::vector<std::pair<Number, uint16_t>>& pairs,
                        SortedColumn<int64_t>* ints,
                        SortedColumn<long double>* mixed) {
  const bool all_int = std::all_of(
      pairs.begin(), pairs.end(), [](const auto& p) { return p.first.is_int; });
  if (all_int) {  // the common case: a column like a date's
    std::vector<std::pair<int64_t, uint16_t>> keyed(pairs.size());
    for (size_t i = 0; i < pairs.size(); ++i) {
      keyed[i] = {pairs[i].first.i, pairs[i].second};
    }
    pairs.clear();
    *ints = ToColumn(keyed);
    return;
  }
  std::sort(pairs.begin(), pairs.end(), [](const auto& x, const auto& y) {
    const int c = CompareNumbers(x.first, y.first);
    return c != 0 ? c < 0 : x.second < y.second;
  });
  std::vector<long double> keys;
  keys.reserve(pairs.size());
  mixed->rows.reserve(pairs.size());
  for (const auto& [n, row] : pairs) {
    keys.push_back(n.is_int ? static_cast<long double>(n.i)
                            : static_cast<long double>(n.d));
    mixed->rows.push_back(row);
  }
  mixed->keys = RealKeys(std::move(keys));
  pairs.clear();
}

// Moves an int64 column into the exact form.
void WidenColumn(SortedColumn<int64_t>* ints,
                 SortedColumn<long double>* mixed) {
  std::vector<long double> keys(ints->keys.size());
  for (size_t i = 0; i < keys.size(); ++i) keys[i] = ints->keys[i];
  mixed->keys = RealKeys(std::move(keys));
  mixed->rows = std::move(ints->rows);
  *ints = SortedColumn<int64_t>();
}

// Splits string attributes into `groups` sets of about equal work (rows
// holding a value), one set per thread of the string pass.
std::vector<std::vector<AttrId>> GroupStringAttributes(
    const std::vector<AttributeIndex>& attributes, size_t groups) {
  std::vector<AttrId> ids;
  for (AttrId a = 0; a < attributes.size(); ++a) {
    const AttrType t = attributes[a].type;
    if (t == AttrType::kString || t == AttrType::kStringArray) ids.push_back(a);
  }
  std::sort(ids.begin(), ids.end(), [&](AttrId x, AttrId y) {
    return attributes[x].presence.cardinality() >
           attributes[y].presence.cardinality();
  });
  std::vector<std::vector<AttrId>> out(std::max<size_t>(1, groups));
  std::vector<uint64_t> load(out.size(), 0);
  for (AttrId a : ids) {
    const size_t g = std::min_element(load.begin(), load.end()) - load.begin();
    out[g].push_back(a);
    load[g] += attributes[a].presence.cardinality() + 1;
  }
  return out;
}

// Finishes `builder` as `attr`'s dictionary, with trigram lists when it
// holds many values.
void FinishStrings(StringIndex::Builder builder, AttributeIndex* attr) {
  builder.Flush();
  const bool trigrams = builder.value_count() >= kTrigramMinValues;
  attr->strings = std::move(builder).Finish(trigrams);
}

}  // namespace

std::shared_ptr<const Index> Index::Build(const ProfileStore& store) {
  return Build(store.schema(), std::make_shared<StoreRows>(&store));
}

std::shared_ptr<const Index> Index::Build(const Schema& schema,
                                          std::shared_ptr<const RowSource> rows,
                                          Scope scope) {
  auto index = std::make_shared<Index>();
  Index& ix = *index;
  ix.rows_ = std::move(rows);
  const RowSource& source = *ix.rows_;
  ix.row_count_ = source.row_count();
  // An events-only index names the attributes, and holds none of them.
  const bool events_only = scope == Scope::kEvents;
  const size_t attr_count = schema.size();
  const size_t event_count = schema.event_count();
  const uint32_t shard_count = ix.shard_count();

  std::vector<EventId> canonical;
  ix.NameFrom(schema, &canonical);

  // Pass 1, per shard: decode every profile once and build what lives per
  // shard (number, date and event columns) and each shard's part of the
  // live, presence and bool bitmaps. Scratch is per shard and short-lived,
  // so the build needs little memory beyond the index itself.
  ix.shards_.resize(shard_count);
  std::vector<Bitmap> live_parts(shard_count);
  std::vector<std::vector<Bitmap>> presence_parts(attr_count),
      true_parts(attr_count), false_parts(attr_count);
  if (!events_only) {
    for (AttrId a = 0; a < attr_count; ++a) {
      presence_parts[a].resize(shard_count);
      true_parts[a].resize(shard_count);
      false_parts[a].resize(shard_count);
    }
  }
  // An index of one shard (65,536 rows at most: a live database's layers
  // but the base) adds its strings in this pass too, so that each profile
  // is decoded once, not again for the string pass: row order is the
  // shard's.
  const bool strings_in_pass_one = shard_count == 1 && !events_only;
  std::vector<AttrId> string_attrs;
  std::vector<int> string_slot(attr_count, -1);
  std::vector<StringIndex::Builder> string_builders;
  if (strings_in_pass_one) {
    for (AttrId a = 0; a < attr_count; ++a) {
      const AttrType t = ix.attributes_[a].type;
      if (t != AttrType::kString && t != AttrType::kStringArray) continue;
      string_slot[a] = static_cast<int>(string_attrs.size());
      string_attrs.push_back(a);
    }
    string_builders.resize(string_attrs.size());
  }
  tbb::parallel_for(uint32_t{0}, shard_count, [&](uint32_t s) {
    ShardIndex& shard = ix.shards_[s];
    std::vector<uint32_t> live;
    std::vector<std::vector<uint32_t>> presence(attr_count), trues(attr_count),
        falses(attr_count);
    std::vector<std::vector<std::pair<Number, uint16_t>>> numbers(attr_count);
    std::vector<std::vector<std::pair<int64_t, uint16_t>>> dates(attr_count);
    std::vector<std::vector<std::pair<int64_t, uint16_t>>> events(event_count);

    DecodedProfile p;
    const uint32_t first = s << kShardBits;
    const uint32_t last = std::min<uint32_t>(first + kShardRows, ix.row_count_);
    for (uint32_t row = first; row < last; ++row) {
      const std::string_view blob = source.blob(row);
      if (blob.empty()) continue;
      const uint16_t local = static_cast<uint16_t>(row - first);
      live.push_back(row);
      if (events_only) {
        DecodeSelected(blob, {}, DecodeScope::kAll, &p);
      } else {
        DecodeProfile(blob, &p);
      }
      for (const DecodedValue& v : p.values) {
        switch (v.tag) {
          case ValueTag::kRaw:
            continue;  // not indexable: no presence either
          case ValueTag::kString:
            if (strings_in_pass_one) {
              string_builders[string_slot[v.attr]].Add(row, v.text);
            }
            break;  // else the string pass reads these
          case ValueTag::kStringArray:
            if (strings_in_pass_one) {
              StringIndex::Builder& b = string_builders[string_slot[v.attr]];
              v.ForEachString([&](std::string_view s) { b.Add(row, s); });
            }
            break;
          case ValueTag::kInt:
          case ValueTag::kDouble:
            numbers[v.attr].emplace_back(v.number, local);
            break;
          case ValueTag::kDate:
          case ValueTag::kDateLayout:  // decoded as kDate
            dates[v.attr].emplace_back(v.date_ms, local);
            break;
          case ValueTag::kTrue:
            trues[v.attr].push_back(row);
            break;
          case ValueTag::kFalse:
            falses[v.attr].push_back(row);
            break;
        }
        presence[v.attr].push_back(row);
      }
      for (const StoredEvent& e : p.events) {
        events[canonical[e.name]].emplace_back(e.at_ms, local);
      }
    }
    live_parts[s] = TakeBitmap(live);
    shard.int_columns.resize(attr_count);
    shard.mixed_columns.resize(attr_count);
    for (AttrId a = 0; a < attr_count && !events_only; ++a) {
      if (!presence[a].empty()) presence_parts[a][s] = TakeBitmap(presence[a]);
      if (!trues[a].empty()) true_parts[a][s] = TakeBitmap(trues[a]);
      if (!falses[a].empty()) false_parts[a][s] = TakeBitmap(falses[a]);
      if (!dates[a].empty()) shard.int_columns[a] = ToColumn(dates[a]);
      if (!numbers[a].empty()) {
        BuildNumberColumns(numbers[a], &shard.int_columns[a],
                           &shard.mixed_columns[a]);
      }
    }
    shard.recency.resize(event_count);
    shard.older_events.resize(event_count);
    std::vector<uint8_t> seen(last - first, 0);
    for (EventId e = 0; e < event_count; ++e) {
      BuildEventColumns(events[e], seen, &shard.recency[e],
                        &shard.older_events[e]);
    }
  });

  ix.live_ = Union(live_parts);
  ix.DeriveTotals();
  if (events_only) return index;

  // Pass 2, per attribute: whole bitmaps from the shards' parts; a number
  // attribute holding any non-integer takes the exact long double form in
  // every shard; columns with enough entries get range buckets.
  tbb::parallel_for(size_t{0}, attr_count, [&](size_t a) {
    AttributeIndex& attr = ix.attributes_[a];
    attr.presence = Union(presence_parts[a]);
    if (attr.type == AttrType::kBool) {
      attr.true_rows = Union(true_parts[a]);
      attr.false_rows = Union(false_parts[a]);
    }
    if (attr.type == AttrType::kNumber) {
      attr.integer_domain = std::none_of(
          ix.shards_.begin(), ix.shards_.end(),
          [&](const ShardIndex& sh) { return sh.mixed_columns[a].size() > 0; });
      if (!attr.integer_domain) {
        for (ShardIndex& sh : ix.shards_) {
          if (sh.int_columns[a].size() > 0) {
            WidenColumn(&sh.int_columns[a], &sh.mixed_columns[a]);
          }
        }
      }
    }
    for (ShardIndex& sh : ix.shards_) {
      sh.int_columns[a].MaybeBuildRangeBuckets();
      sh.mixed_columns[a].MaybeBuildRangeBuckets();
    }
  });

  // Pass 3, strings: a dictionary takes values in row order, so each thread
  // reads every profile once for its share of the string attributes (or
  // the dictionaries filled in pass 1 are finished).
  if (strings_in_pass_one) {
    tbb::parallel_for(
        size_t{0}, string_attrs.size(),
        [&](size_t i) {
          FinishStrings(std::move(string_builders[i]),
                        &ix.attributes_[string_attrs[i]]);
        },
        tbb::simple_partitioner());
    return index;
  }
  const std::vector<std::vector<AttrId>> groups = GroupStringAttributes(
      ix.attributes_,
      static_cast<size_t>(tbb::this_task_arena::max_concurrency()));
  tbb::parallel_for(size_t{0}, groups.size(), [&](size_t g) {
    const std::vector<AttrId>& mine = groups[g];
    if (mine.empty()) return;
    std::vector<StringIndex::Builder> builders(mine.size());
    std::vector<int> slot(attr_count, -1);
    std::vector<uint8_t> keep(attr_count, 0);
    for (size_t i = 0; i < mine.size(); ++i) {
      slot[mine[i]] = static_cast<int>(i);
      keep[mine[i]] = 1;
      // One occurrence per row holding the attribute (more for arrays).
      builders[i].Reserve(ix.attributes_[mine[i]].presence.cardinality());
    }
    // Only this group's values are decoded; the others are stepped over.
    DecodedProfile p;
    for (uint32_t row = 0; row < ix.row_count_; ++row) {
      const std::string_view blob = source.blob(row);
      if (blob.empty()) continue;
      DecodeSelected(blob, keep, DecodeScope::kValues, &p);
      for (const DecodedValue& v : p.values) {
        const int i = slot[v.attr];
        if (v.tag == ValueTag::kString) {
          builders[i].Add(row, v.text);
        } else if (v.tag == ValueTag::kStringArray) {
          v.ForEachString([&](std::string_view s) { builders[i].Add(row, s); });
        }
      }
    }
    // Each dictionary finishes as a task of its own, which a thread done
    // with its group takes up: the groups' shares of the work are only
    // estimates (sorting and trigrams go with distinct values, not rows).
    tbb::parallel_for(
        size_t{0}, mine.size(),
        [&](size_t i) {
          FinishStrings(std::move(builders[i]), &ix.attributes_[mine[i]]);
        },
        tbb::simple_partitioner());
  });
  return index;
}

void Index::NameFrom(const Schema& schema, std::vector<EventId>* canonical) {
  attributes_.resize(schema.size());
  for (AttrId a = 0; a < schema.size(); ++a) {
    attributes_[a].name = schema.attribute(a).name;
    attributes_[a].type = schema.attribute(a).type;
    attribute_by_name_.emplace(schema.attribute(a).name, a);
  }
  // Every spelling of an event name counts under the first one's id.
  canonical->resize(schema.event_count());
  for (EventId e = 0; e < schema.event_count(); ++e) {
    event_names_.push_back(schema.event_name(e));
    event_by_folded_name_.emplace(FoldAscii(schema.event_name(e)), e);
    (*canonical)[e] = schema.canonical_event(e);
  }
}

namespace {

// The source shards with a row kept by `to_row_of(source)` (empty: none),
// with where their rows go.
template <typename ToRowOf>
std::vector<MergePart> PartsOf(std::span<const Index::MergeSource> sources,
                               ToRowOf&& to_row_of) {
  std::vector<MergePart> parts;
  for (const Index::MergeSource& src : sources) {
    const std::vector<uint32_t>& to_row = to_row_of(src);
    if (to_row.empty()) continue;
    for (uint32_t t = 0; t < src.index->shard_count(); ++t) {
      const uint32_t first = t << kShardBits;
      const uint32_t last =
          std::min<uint32_t>(first + kShardRows, src.index->row_count());
      if (std::any_of(to_row.begin() + first, to_row.begin() + last,
                      [](uint32_t to) { return to != Index::kDropped; })) {
        parts.push_back(MergePart{&src.index->shard(t), to_row.data() + first});
      }
    }
  }
  return parts;
}

// The rows of each source's `rows_of(attribute)` kept, renumbered, as one
// bitmap of a merge of `row_count` rows: set in words, then read off them
// in order, which costs a pass over the words rather than sorting rows;
// or, few rows, each source's ascending run merged.
template <typename RowsOf>
Bitmap MergeBitmaps(std::span<const Index::MergeSource> sources, AttrId a,
                    uint32_t row_count, RowsOf&& rows_of) {
  // Few rows (a sparse attribute) merge as runs instead, rather than pass
  // over the words of every row.
  uint64_t total = 0;
  for (const Index::MergeSource& src : sources) {
    if (a >= src.index->attribute_count()) continue;
    total +=
        roaring_bitmap_get_cardinality(rows_of(src.index->attribute(a)).get());
  }
  const bool in_words = total * 64 >= row_count;
  std::vector<uint32_t> rows, scratch;
  std::vector<uint64_t> words(in_words ? (row_count + 63) / 64 : 0);
  std::vector<size_t> runs;  // each source's rows ascend: a run
  for (const Index::MergeSource& src : sources) {
    if (a >= src.index->attribute_count()) continue;
    const roaring_bitmap_t* bitmap = rows_of(src.index->attribute(a)).get();
    scratch.resize(roaring_bitmap_get_cardinality(bitmap));
    roaring_bitmap_to_uint32_array(bitmap, scratch.data());
    runs.push_back(rows.size());
    for (const uint32_t row : scratch) {
      const uint32_t to = src.to_row[row];
      if (to == Index::kDropped) continue;
      if (in_words) {
        SetBit(words.data(), to);
      } else {
        rows.push_back(to);
      }
    }
  }
  if (in_words) {
    AppendSetBits(words, &rows);
  } else {
    MergeRuns(rows, runs, scratch);
  }
  Bitmap merged = Bitmap::Of(rows);
  merged.Optimize();
  return merged;
}

// A number attribute's exact column of every merged shard, from the (key,
// row) pairs of every part's columns, int64 or exact, each column read
// once and its entries kept into the merged shard they go to.
std::vector<SortedColumn<long double>> MergeExactColumns(
    std::span<const MergePart> parts, AttrId a, uint32_t shard_count) {
  std::vector<std::vector<std::pair<long double, uint16_t>>> pairs(shard_count);
  auto gather = [&](const auto& column, const uint32_t* to_row) {
    for (size_t i = 0; i < column.size(); ++i) {
      const uint32_t to = to_row[column.rows[i]];
      if (to == Index::kDropped) continue;
      pairs[ShardOf(to)].emplace_back(static_cast<long double>(column.keys[i]),
                                      static_cast<uint16_t>(to));
    }
  };
  for (const MergePart& part : parts) {
    if (a >= part.shard->int_columns.size()) continue;
    gather(part.shard->int_columns[a], part.to_row);
    gather(part.shard->mixed_columns[a], part.to_row);
  }
  std::vector<SortedColumn<long double>> columns(shard_count);
  tbb::parallel_for(uint32_t{0}, shard_count, [&](uint32_t s) {
    std::sort(pairs[s].begin(), pairs[s].end());
    std::vector<long double> keys;
    keys.reserve(pairs[s].size());
    columns[s].rows.reserve(pairs[s].size());
    for (const auto& [key, row] : pairs[s]) {
      keys.push_back(key);
      columns[s].rows.push_back(row);
    }
    columns[s].keys = RealKeys(std::move(keys));
  });
  return columns;
}

}  // namespace

std::shared_ptr<const Index> Index::Merge(const Schema& schema,
                                          std::shared_ptr<const RowSource> rows,
                                          std::span<const MergeSource> sources,
                                          Scope scope) {
  auto index = std::make_shared<Index>();
  Index& ix = *index;
  ix.rows_ = std::move(rows);
  ix.row_count_ = ix.rows_->row_count();
  std::vector<EventId> canonical;
  ix.NameFrom(schema, &canonical);
  const size_t attr_count = schema.size();
  const size_t event_count = schema.event_count();
  const uint32_t shard_count = ix.shard_count();
  for ([[maybe_unused]] const MergeSource& src : sources) {
    assert(src.index->event_names_.size() <= event_count);
    assert(src.index->attributes_.size() <= attr_count);
    assert(KeptInOrder(src.to_row, ix.row_count_));
    assert(KeptInOrder(src.events_to_row, ix.row_count_));
  }

  // Every source shard with a row kept. A layer's rows come from all over
  // the row space, so one source shard's rows may reach many merged
  // shards: each source column is read once, for all of them.
  // An event merge reads no value, and where no source's events go
  // elsewhere, the events' parts are the values'.
  const bool events_apart = std::any_of(
      sources.begin(), sources.end(),
      [](const MergeSource& src) { return !src.events_to_row.empty(); });
  std::vector<MergePart> value_parts;
  if (scope == Scope::kAll) {
    value_parts = PartsOf(
        sources, [](const MergeSource& src) -> const std::vector<uint32_t>& {
          return src.to_row;
        });
  }
  const std::vector<MergePart> event_parts =
      scope == Scope::kAll && !events_apart
          ? value_parts
          : PartsOf(sources,
                    [](const MergeSource& src) -> const std::vector<uint32_t>& {
                      return src.events_to_row.empty() ? src.to_row
                                                       : src.events_to_row;
                    });

  ix.shards_.resize(shard_count);
  std::vector<Bitmap> live_parts(shard_count);
  tbb::parallel_for(uint32_t{0}, shard_count, [&](uint32_t s) {
    ShardIndex& shard = ix.shards_[s];
    shard.int_columns.resize(attr_count);
    shard.mixed_columns.resize(attr_count);
    shard.recency.assign(event_count, std::vector<SortedColumn<int64_t>>(
                                          ShardIndex::kRecencyDepth));
    shard.older_events.resize(event_count);
    std::vector<uint32_t> live;
    const uint32_t first = s << kShardBits;
    const uint32_t last = std::min<uint32_t>(first + kShardRows, ix.row_count_);
    for (uint32_t row = first; row < last; ++row) {
      if (!ix.rows_->blob(row).empty()) live.push_back(row);
    }
    live_parts[s] = TakeBitmap(live);
  });
  // Event names side by side, each writing its own columns of every shard.
  tbb::parallel_for(
      EventId{0}, static_cast<EventId>(event_count), [&](EventId e) {
        if (canonical[e] != e) {
          return;  // its events count as another's
        }
        ColumnMerger merger(shard_count);
        for (size_t c = 0; c < ShardIndex::kEventColumns; ++c) {
          merger.Gather(event_parts, [&](const ShardIndex& sh) {
            // A source may predate the name.
            return e < sh.recency.size() ? sh.EventColumns(e)[c] : nullptr;
          });
          for (uint32_t s = 0; s < shard_count; ++s) {
            SortedColumn<int64_t> merged = merger.Take(s);
            if (c < ShardIndex::kRecencyDepth) {
              merged.MaybeBuildRangeBuckets();
              ix.shards_[s].recency[e][c] = std::move(merged);
            } else {
              ix.shards_[s].older_events[e] = std::move(merged);
            }
          }
        }
      });
  ix.live_ = Union(live_parts);
  ix.DeriveTotals();
  if (scope == Scope::kEvents) return index;

  // A dictionary from the sources' dictionaries; a spelling whose row is
  // dropped is read from the first row that holds the value.
  auto merge_strings = [&](AttrId a) {
    std::vector<StringIndex::MergeSource> dictionaries;
    for (const MergeSource& src : sources) {
      if (a >= src.index->attribute_count()) continue;
      const StringIndex* strings = src.index->attribute(a).strings.get();
      if (strings != nullptr) dictionaries.push_back({strings, src.to_row});
    }
    std::vector<uint8_t> keep(attr_count, 0);
    keep[a] = 1;
    const auto spelling_at = [&](uint32_t row, std::string_view folded) {
      DecodedProfile p;
      DecodeSelected(ix.rows_->blob(row), keep, DecodeScope::kValues, &p);
      std::optional<std::string> found;
      const auto look = [&](std::string_view text) {
        if (!found && EqualsFolded(text, folded)) found.emplace(text);
      };
      for (const DecodedValue& v : p.values) {
        if (v.attr != a) continue;
        if (v.tag == ValueTag::kString) {
          look(v.text);
        } else if (v.tag == ValueTag::kStringArray) {
          v.ForEachString(look);
        }
      }
      assert(found);  // the row holds the value, in some spelling
      return found.value_or(std::string(folded));
    };
    ix.attributes_[a].strings = StringIndex::Merge(
        dictionaries, ix.row_count_, kTrigramMinValues, spelling_at);
  };
  // Number columns of every merged shard: int64 unless a source held a
  // non-integer.
  auto merge_numbers = [&](AttrId a) {
    AttributeIndex& attr = ix.attributes_[a];
    // A source that held a non-integer keeps all its numbers exact: the
    // merge takes them from there, and stays exact if it keeps a key that
    // no int64 holds.
    bool any_exact = false;
    attr.integer_domain = true;
    for (const MergePart& part : value_parts) {
      if (!attr.integer_domain) break;
      if (a >= part.shard->mixed_columns.size()) continue;
      const SortedColumn<long double>& column = part.shard->mixed_columns[a];
      for (size_t i = 0; i < column.size(); ++i) {
        if (part.to_row[column.rows[i]] == kDropped) continue;
        any_exact = true;
        const long double key = column.keys[i];
        if (!(key >= -0x1p63L && key < 0x1p63L) ||
            static_cast<long double>(static_cast<int64_t>(key)) != key) {
          attr.integer_domain = false;
          break;
        }
      }
    }
    if (any_exact) {
      std::vector<SortedColumn<long double>> exact_columns =
          MergeExactColumns(value_parts, a, shard_count);
      tbb::parallel_for(uint32_t{0}, shard_count, [&](uint32_t s) {
        SortedColumn<long double>& exact = exact_columns[s];
        ShardIndex& shard = ix.shards_[s];
        if (attr.integer_domain) {
          std::vector<int64_t> keys(exact.size());
          for (size_t i = 0; i < keys.size(); ++i) {
            keys[i] = static_cast<int64_t>(exact.keys[i]);
          }
          shard.int_columns[a].keys = IntKeys(keys);
          shard.int_columns[a].rows = std::move(exact.rows);
          shard.int_columns[a].MaybeBuildRangeBuckets();
        } else {
          shard.mixed_columns[a] = std::move(exact);
          shard.mixed_columns[a].MaybeBuildRangeBuckets();
        }
      });
      return;
    }
    ColumnMerger merger(shard_count);
    merger.Gather(value_parts, [&](const ShardIndex& sh) {
      return a < sh.int_columns.size() ? &sh.int_columns[a] : nullptr;
    });
    for (uint32_t s = 0; s < shard_count; ++s) {
      ix.shards_[s].int_columns[a] = merger.Take(s);
      ix.shards_[s].int_columns[a].MaybeBuildRangeBuckets();
    }
  };

  // Attributes side by side, each from its sources' own.
  tbb::parallel_for(size_t{0}, attr_count, [&](size_t i) {
    const AttrId a = static_cast<AttrId>(i);
    AttributeIndex& attr = ix.attributes_[a];
    const uint32_t rows = ix.row_count_;
    attr.presence = MergeBitmaps(
        sources, a, rows,
        [](const AttributeIndex& x) -> const Bitmap& { return x.presence; });
    switch (attr.type) {
      case AttrType::kBool:
        attr.true_rows = MergeBitmaps(
            sources, a, rows, [](const AttributeIndex& x) -> const Bitmap& {
              return x.true_rows;
            });
        attr.false_rows = MergeBitmaps(
            sources, a, rows, [](const AttributeIndex& x) -> const Bitmap& {
              return x.false_rows;
            });
        return;
      case AttrType::kString:
      case AttrType::kStringArray:
        merge_strings(a);
        return;
      case AttrType::kNumber:
      case AttrType::kDate:
        merge_numbers(a);
        return;
      case AttrType::kUnindexable:
        return;
    }
  });
  return index;
}

std::optional<AttrId> Index::FindAttribute(std::string_view name) const {
  auto it = attribute_by_name_.find(name);
  if (it == attribute_by_name_.end()) return std::nullopt;
  return it->second;
}

std::optional<EventId> Index::FindEvent(std::string_view name) const {
  auto it = event_by_folded_name_.find(FoldAscii(name));
  if (it == event_by_folded_name_.end()) return std::nullopt;
  return it->second;
}

Index::Memory Index::MemoryUse() const {
  auto bitmap_bytes = [](const Bitmap& b) {
    return roaring_bitmap_size_in_bytes(b.get()) + sizeof(roaring_bitmap_t);
  };
  Memory m;
  // A column's keys and rows go to `part`, its range buckets to their own.
  auto add_column = [&m](const auto& c, size_t* part) {
    *part += c.keys.MemoryBytes() + c.rows.capacity() * sizeof(uint16_t);
    m.range_buckets += c.prefix.capacity() * sizeof(uint64_t) +
                       c.edges.capacity() * sizeof(uint32_t);
  };
  m.bitmaps = bitmap_bytes(live_);
  for (const AttributeIndex& a : attributes_) {
    m.bitmaps += bitmap_bytes(a.presence) + bitmap_bytes(a.true_rows) +
                 bitmap_bytes(a.false_rows);
    if (a.strings) m.strings += a.strings->MemoryUse();
  }
  for (const ShardIndex& s : shards_) {
    for (const auto& c : s.int_columns) add_column(c, &m.number_columns);
    for (const auto& c : s.mixed_columns) add_column(c, &m.number_columns);
    for (const auto& c : s.older_events) add_column(c, &m.events);
    for (const auto& ladders : s.recency) {
      for (const auto& c : ladders) add_column(c, &m.recency);
    }
  }
  return m;
}

// --- Archiving ---------------------------------------------------------------

namespace {

// Each saved column takes at least this many bytes (its counts).
constexpr uint64_t kMinColumnBytes = 8;

template <typename Column>
void SaveColumns(ArchiveWriter& out, const std::vector<Column>& columns) {
  out.U64(columns.size());
  for (const Column& c : columns) c.Save(out);
}

template <typename Column>
bool LoadColumns(ArchiveReader& in, std::vector<Column>* columns) {
  uint64_t n;
  if (!in.U64(&n) || !in.Fits(n, kMinColumnBytes)) return false;
  columns->resize(n);
  for (Column& c : *columns) {
    if (!c.Load(in)) return false;
  }
  return true;
}

}  // namespace

void ShardIndex::Save(ArchiveWriter& out) const {
  SaveColumns(out, int_columns);
  SaveColumns(out, mixed_columns);
  out.U64(recency.size());
  for (const auto& ladder : recency) SaveColumns(out, ladder);
  SaveColumns(out, older_events);
}

bool ShardIndex::Load(ArchiveReader& in) {
  uint64_t events;
  if (!LoadColumns(in, &int_columns) || !LoadColumns(in, &mixed_columns) ||
      !in.U64(&events) || !in.Fits(events, kMinColumnBytes)) {
    return false;
  }
  recency.resize(events);
  for (auto& ladder : recency) {
    if (!LoadColumns(in, &ladder) || ladder.size() != kRecencyDepth) {
      return false;
    }
  }
  return LoadColumns(in, &older_events) && older_events.size() == events;
}

void AttributeIndex::Save(ArchiveWriter& out) const {
  out.Bytes(name);
  out.U8(static_cast<uint8_t>(type));
  presence.Save(out);
  out.U8(strings ? 1 : 0);
  if (strings) strings->Save(out);
  true_rows.Save(out);
  false_rows.Save(out);
  out.U8(integer_domain ? 1 : 0);
}

bool AttributeIndex::Load(ArchiveReader& in) {
  uint8_t stored_type;
  bool has_strings;
  if (!in.Bytes(&name) || !in.U8(&stored_type) ||
      stored_type > static_cast<uint8_t>(AttrType::kUnindexable) ||
      !presence.Load(in) || !in.Bool(&has_strings)) {
    return false;
  }
  type = static_cast<AttrType>(stored_type);
  if (has_strings) {
    strings = std::make_unique<StringIndex>();
    if (!strings->Load(in)) return false;
  }
  return true_rows.Load(in) && false_rows.Load(in) && in.Bool(&integer_domain);
}

namespace {

// Saves each item as a section of its own, so that Load reads them all at
// once, on as many threads as there are.
template <typename Item>
void SaveSections(ArchiveWriter& out, const std::vector<Item>& items) {
  out.U64(items.size());
  for (const Item& item : items) {
    out.Section([&](ArchiveWriter& w) { item.Save(w); });
  }
}

template <typename Item>
bool LoadSections(ArchiveReader& in, std::vector<Item>* items) {
  uint64_t n;
  if (!in.U64(&n) || !in.Fits(n, sizeof(uint64_t))) return false;
  std::vector<std::unique_ptr<ArchiveReader>> sections(n);
  for (auto& section : sections) {
    section = in.Section();
    if (section == nullptr) return false;
  }
  items->resize(n);
  std::atomic<bool> ok = true;
  tbb::parallel_for(size_t{0}, static_cast<size_t>(n), [&](size_t i) {
    if (!(*items)[i].Load(*sections[i]) || sections[i]->remaining() != 0) {
      ok = false;
    }
  });
  return ok;
}

}  // namespace

void Index::Save(ArchiveWriter& out) const {
  out.U32(row_count_);
  live_.Save(out);
  SaveSections(out, attributes_);
  out.U64(event_names_.size());
  for (const std::string& name : event_names_) out.Bytes(name);
  SaveSections(out, shards_);
}

std::shared_ptr<const Index> Index::Load(
    ArchiveReader& in, std::shared_ptr<const RowSource> rows) {
  auto index = std::make_shared<Index>();
  Index& ix = *index;
  ix.rows_ = std::move(rows);
  if (!in.U32(&ix.row_count_) || ix.row_count_ != ix.rows_->row_count() ||
      !ix.live_.Load(in) || !LoadSections(in, &ix.attributes_)) {
    return nullptr;
  }
  const size_t attributes = ix.attributes_.size();
  for (AttrId a = 0; a < attributes; ++a) {
    if (!ix.attribute_by_name_.emplace(ix.attributes_[a].name, a).second) {
      return nullptr;
    }
  }
  uint64_t events;
  if (!in.U64(&events) || !in.Fits(events, sizeof(uint32_t))) return nullptr;
  ix.event_names_.resize(events);
  for (EventId e = 0; e < events; ++e) {
    if (!in.Bytes(&ix.event_names_[e])) return nullptr;
    ix.event_by_folded_name_.emplace(FoldAscii(ix.event_names_[e]), e);
  }
  if (!LoadSections(in, &ix.shards_) || ix.shards_.size() != ix.shard_count()) {
    return nullptr;
  }
  for (const ShardIndex& shard : ix.shards_) {
    if (shard.int_columns.size() != attributes ||
        shard.mixed_columns.size() != attributes ||
        shard.recency.size() != events) {
      return nullptr;
    }
  }
  ix.DeriveTotals();
  return index;
}

void Index::DeriveTotals() {
  live_count_ = live_.cardinality();
  full_shards_.assign(shard_count(), false);
  for (uint32_t s = 0; s < shard_count(); ++s) {
    full_shards_[s] = ShardCardinality(live_.get(), s) == kShardRows;
  }
  event_totals_.assign(event_names_.size(), 0);
  for (const ShardIndex& shard : shards_) {
    for (EventId e = 0; e < event_totals_.size(); ++e) {
      for (const SortedColumn<int64_t>* c : shard.EventColumns(e)) {
        event_totals_[e] += c->size();
      }
    }
  }
}

}  // namespace segd
