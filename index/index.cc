#include "index/index.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <numeric>

#include "base/ascii.h"
#include "index/profile_codec.h"

namespace segd {
namespace {

// Distinct values from which a string attribute gets a trigram index.
constexpr size_t kTrigramMinValues = 2048;

// What one shard contributes, gathered in a single decode of its profiles.
struct ShardScratch {
  std::vector<uint32_t> live;                   // global rows
  std::vector<std::vector<uint32_t>> presence;  // per attribute
  std::vector<std::vector<std::pair<uint32_t, std::string_view>>> strings;
  std::vector<std::vector<uint32_t>> true_rows, false_rows;
  std::vector<std::vector<std::pair<Number, uint16_t>>> numbers;
  std::vector<bool> all_int;  // per attribute
};

template <typename Key>
SortedColumn<Key> ToColumn(std::vector<std::pair<Key, uint16_t>>& pairs) {
  std::sort(pairs.begin(), pairs.end());
  SortedColumn<Key> column;
  column.keys.reserve(pairs.size());
  column.rows.reserve(pairs.size());
  for (const auto& [key, row] : pairs) {
    column.keys.push_back(key);
    column.rows.push_back(row);
  }
  pairs = {};
  return column;
}

// Columns this dense get range buckets (index.h); sparser ones are cheap
// to scan row by row.
constexpr size_t kRangeBucketMinRows = 4096;

template <typename Key>
void MaybeBuildRangeBuckets(SortedColumn<Key>& column) {
  if (column.size() >= kRangeBucketMinRows) column.BuildRangeBuckets();
}

Bitmap Concatenate(const std::vector<ShardScratch>& shards,
                   std::vector<uint32_t> ShardScratch::*field) {
  std::vector<uint32_t> rows;
  for (const ShardScratch& s : shards) {
    rows.insert(rows.end(), (s.*field).begin(), (s.*field).end());
  }
  Bitmap b = Bitmap::Of(rows);
  b.Optimize();
  return b;
}

Bitmap ConcatenatePerAttribute(
    const std::vector<ShardScratch>& shards,
    std::vector<std::vector<uint32_t>> ShardScratch::*field, AttrId attr) {
  std::vector<uint32_t> rows;
  for (const ShardScratch& s : shards) {
    const auto& part = (s.*field)[attr];
    rows.insert(rows.end(), part.begin(), part.end());
  }
  Bitmap b = Bitmap::Of(rows);
  b.Optimize();
  return b;
}

}  // namespace

std::shared_ptr<const Index> Index::Build(const ProfileStore& store) {
  auto index = std::make_shared<Index>();
  Index& ix = *index;
  ix.store_ = &store;
  ix.row_count_ = store.row_count();
  const Schema& schema = store.schema();
  const size_t attr_count = schema.size();
  const size_t event_count = schema.event_count();
  const uint32_t shard_count = ix.shard_count();

  ix.attributes_.resize(attr_count);
  for (AttrId a = 0; a < attr_count; ++a) {
    ix.attributes_[a].name = schema.attribute(a).name;
    ix.attributes_[a].type = schema.attribute(a).type;
    ix.attribute_by_name_.emplace(schema.attribute(a).name, a);
  }
  for (EventId e = 0; e < event_count; ++e) {
    ix.event_names_.push_back(schema.event_name(e));
    ix.event_by_folded_name_.emplace(FoldAscii(schema.event_name(e)), e);
  }

  // Pass 1, per shard: decode every profile once; build the sorted date and
  // event columns; gather everything else for pass 2.
  std::vector<ShardScratch> scratch(shard_count);
  ix.shards_.resize(shard_count);
  tbb::parallel_for(uint32_t{0}, shard_count, [&](uint32_t s) {
    ShardScratch& sc = scratch[s];
    ShardIndex& shard = ix.shards_[s];
    sc.presence.resize(attr_count);
    sc.strings.resize(attr_count);
    sc.true_rows.resize(attr_count);
    sc.false_rows.resize(attr_count);
    sc.numbers.resize(attr_count);
    sc.all_int.assign(attr_count, true);
    std::vector<std::vector<std::pair<int64_t, uint16_t>>> dates(attr_count);
    std::vector<std::vector<std::pair<int64_t, uint16_t>>> events(event_count);

    DecodedProfile p;
    const uint32_t first = s << kShardBits;
    const uint32_t last = std::min<uint32_t>(first + kShardRows, ix.row_count_);
    for (uint32_t row = first; row < last; ++row) {
      if (!store.is_live(row)) continue;
      const uint16_t local = static_cast<uint16_t>(row - first);
      sc.live.push_back(row);
      DecodeProfile(store.blob(row), &p);
      for (const DecodedValue& v : p.values) {
        switch (v.tag) {
          case ValueTag::kRaw:
            continue;  // not indexable: no presence either
          case ValueTag::kString:
            sc.strings[v.attr].emplace_back(row, v.text);
            break;
          case ValueTag::kStringArray:
            v.ForEachString([&](std::string_view s) {
              sc.strings[v.attr].emplace_back(row, s);
            });
            break;
          case ValueTag::kInt:
          case ValueTag::kDouble:
            if (v.tag == ValueTag::kDouble) sc.all_int[v.attr] = false;
            sc.numbers[v.attr].emplace_back(v.number, local);
            break;
          case ValueTag::kDate:
            dates[v.attr].emplace_back(v.date_ms, local);
            break;
          case ValueTag::kTrue:
            sc.true_rows[v.attr].push_back(row);
            break;
          case ValueTag::kFalse:
            sc.false_rows[v.attr].push_back(row);
            break;
        }
        sc.presence[v.attr].push_back(row);
      }
      for (const StoredEvent& e : p.events)
        events[e.name].emplace_back(e.at_ms, local);
    }
    shard.int_columns.resize(attr_count);
    shard.mixed_columns.resize(attr_count);
    for (AttrId a = 0; a < attr_count; ++a) {
      if (!dates[a].empty()) {
        shard.int_columns[a] = ToColumn(dates[a]);
        MaybeBuildRangeBuckets(shard.int_columns[a]);
      }
    }
    shard.events.resize(event_count);
    for (EventId e = 0; e < event_count; ++e) {
      shard.events[e] = ToColumn(events[e]);
    }
  });

  ix.live_ = Concatenate(scratch, &ShardScratch::live);
  ix.event_totals_.assign(event_count, 0);
  for (const ShardIndex& shard : ix.shards_) {
    for (EventId e = 0; e < event_count; ++e) {
      ix.event_totals_[e] += shard.events[e].size();
    }
  }

  // Pass 2, per attribute: dictionaries, bitmaps, number columns.
  tbb::parallel_for(size_t{0}, attr_count, [&](size_t a) {
    AttributeIndex& attr = ix.attributes_[a];
    attr.presence = ConcatenatePerAttribute(scratch, &ShardScratch::presence,
                                            static_cast<AttrId>(a));
    switch (attr.type) {
      case AttrType::kString:
      case AttrType::kStringArray: {
        StringIndex::Builder builder;
        for (ShardScratch& sc : scratch) {
          for (const auto& [row, text] : sc.strings[a]) builder.Add(row, text);
          sc.strings[a] = {};
        }
        const bool trigrams = builder.value_count() >= kTrigramMinValues;
        attr.strings = std::move(builder).Finish(trigrams);
        break;
      }
      case AttrType::kBool:
        attr.true_rows = ConcatenatePerAttribute(
            scratch, &ShardScratch::true_rows, static_cast<AttrId>(a));
        attr.false_rows = ConcatenatePerAttribute(
            scratch, &ShardScratch::false_rows, static_cast<AttrId>(a));
        break;
      case AttrType::kNumber: {
        attr.integer_domain =
            std::all_of(scratch.begin(), scratch.end(),
                        [&](const ShardScratch& sc) { return sc.all_int[a]; });
        for (uint32_t s = 0; s < shard_count; ++s) {
          auto& pairs = scratch[s].numbers[a];
          std::sort(pairs.begin(), pairs.end(),
                    [](const auto& x, const auto& y) {
                      const int c = CompareNumbers(x.first, y.first);
                      return c != 0 ? c < 0 : x.second < y.second;
                    });
          ShardIndex& shard = ix.shards_[s];
          if (attr.integer_domain) {
            auto& column = shard.int_columns[a];
            for (const auto& [n, row] : pairs) {
              column.keys.push_back(n.i);
              column.rows.push_back(row);
            }
          } else {
            auto& column = shard.mixed_columns[a];
            for (const auto& [n, row] : pairs) {
              column.keys.push_back(n.is_int ? static_cast<long double>(n.i)
                                             : static_cast<long double>(n.d));
              column.rows.push_back(row);
            }
          }
          pairs = {};
          MaybeBuildRangeBuckets(shard.int_columns[a]);
          MaybeBuildRangeBuckets(shard.mixed_columns[a]);
        }
        break;
      }
      case AttrType::kDate:
      case AttrType::kUnindexable:
        break;
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

size_t Index::MemoryBytes() const {
  auto bitmap_bytes = [](const Bitmap& b) {
    return roaring_bitmap_size_in_bytes(b.get()) + sizeof(roaring_bitmap_t);
  };
  size_t bytes = bitmap_bytes(live_);
  for (const AttributeIndex& a : attributes_) {
    bytes += bitmap_bytes(a.presence) + bitmap_bytes(a.true_rows) +
             bitmap_bytes(a.false_rows);
    if (a.strings) bytes += a.strings->MemoryBytes();
  }
  for (const ShardIndex& s : shards_) {
    for (const auto& c : s.int_columns)
      bytes += c.keys.capacity() * 8 + c.rows.capacity() * 2 +
               c.prefix.capacity() * 8;
    for (const auto& c : s.mixed_columns)
      bytes += c.keys.capacity() * sizeof(long double) + c.rows.capacity() * 2 +
               c.prefix.capacity() * 8;
    for (const auto& c : s.events)
      bytes += c.keys.capacity() * 8 + c.rows.capacity() * 2;
  }
  return bytes;
}

}  // namespace segd
