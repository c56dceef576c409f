#include "engine/report.h"

#include <tbb/enumerable_thread_specific.h>

#include <algorithm>
#include <bit>
#include <mutex>

#include "engine/executor.h"

namespace segd {
namespace {

bool Test(const uint64_t* words, uint32_t local) {
  return (words[local >> 6] >> (local & 63)) & 1;
}

// The positions [begin, end) of ascending `rows` that fall in shard `s`.
std::pair<size_t, size_t> ShardSpan(std::span<const uint32_t> rows,
                                    uint32_t s) {
  const uint32_t first = s << kShardBits;
  const auto begin = std::lower_bound(rows.begin(), rows.end(), first);
  const auto end =
      s + 1 == (1u << (32 - kShardBits))
          ? rows.end()
          : std::lower_bound(begin, rows.end(), first + kShardRows);
  return {static_cast<size_t>(begin - rows.begin()),
          static_cast<size_t>(end - rows.begin())};
}

// Adds the member rows of a sorted column to per-key counts, as runs of
// equal keys.
template <typename Key>
void TallyColumn(const SortedColumn<Key>& column, const uint64_t* words,
                 std::vector<std::pair<Key, uint64_t>>* out) {
  for (size_t i = 0; i < column.size(); ++i) {
    if (!Test(words, column.rows[i])) continue;
    const Key key = column.keys[i];
    if (!out->empty() && out->back().first == key) {
      ++out->back().second;
    } else {
      out->emplace_back(key, 1);
    }
  }
}

// Sorts (key, count) runs by key and adds up equal keys.
template <typename Key>
void Combine(std::vector<std::pair<Key, uint64_t>>* runs) {
  std::sort(runs->begin(), runs->end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  size_t out = 0;
  for (size_t i = 0; i < runs->size(); ++i) {
    if (out > 0 && (*runs)[out - 1].first == (*runs)[i].first) {
      (*runs)[out - 1].second += (*runs)[i].second;
    } else {
      (*runs)[out++] = (*runs)[i];
    }
  }
  runs->resize(out);
}

}  // namespace

Tally TallyValues(const Plan& plan, const Index& index, AttrId attr,
                  const roaring_bitmap_t* excluded) {
  const AttributeIndex& a = index.attribute(attr);
  const StringIndex* strings = a.strings.get();
  struct Local {
    uint64_t members = 0, with_value = 0, trues = 0, falses = 0;
    std::vector<uint32_t> by_value;
    std::vector<std::pair<int64_t, uint64_t>> ints;
    std::vector<std::pair<long double, uint64_t>> reals;
  };
  tbb::enumerable_thread_specific<Local> locals;
  ExecuteShards(
      plan, index,
      [&](uint32_t s, const uint64_t* words) {
        Local& local = locals.local();
        const uint64_t members = CountWords(words);
        if (members == 0) return;
        local.members += members;
        local.with_value += AndCountShard(a.presence.get(), s, words);
        switch (a.type) {
          case AttrType::kString:
          case AttrType::kStringArray: {
            if (strings == nullptr) break;
            if (local.by_value.empty()) {
              local.by_value.assign(strings->value_count(), 0);
            }
            const uint32_t first = s << kShardBits;
            if (!strings->row_values().empty()) {
              // One value per row, in row order.
              const std::span<const ValueId> values = strings->row_values();
              // Rows past the end of the list hold no value.
              const uint32_t end =
                  values.size() <= first
                      ? 0
                      : static_cast<uint32_t>(std::min<uint64_t>(
                            kShardRows, values.size() - first));
              for (uint32_t w = 0; w < (end + 63) / 64; ++w) {
                uint64_t bits = words[w];
                while (bits != 0) {
                  const uint32_t local_row = w * 64 + std::countr_zero(bits);
                  bits &= bits - 1;
                  if (local_row >= end) break;
                  const ValueId v = values[first + local_row];
                  if (v != StringIndex::kNoValue) ++local.by_value[v];
                }
              }
            } else if (!strings->occurrence_rows().empty()) {
              const std::span<const uint32_t> rows = strings->occurrence_rows();
              const std::span<const ValueId> values =
                  strings->occurrence_values();
              const auto [begin, end] = ShardSpan(rows, s);
              for (size_t i = begin; i < end; ++i) {
                if (Test(words, rows[i] - first)) ++local.by_value[values[i]];
              }
            } else {
              for (ValueId v = 0; v < strings->value_count(); ++v) {
                const Posting p = strings->posting(v);
                if (p.bitmap != nullptr) {
                  local.by_value[v] += AndCountShard(p.bitmap, s, words);
                  continue;
                }
                const auto [begin, end] = ShardSpan(p.rows, s);
                for (size_t i = begin; i < end; ++i) {
                  if (Test(words, p.rows[i] - first)) ++local.by_value[v];
                }
              }
            }
            break;
          }
          case AttrType::kNumber:
          case AttrType::kDate: {
            const ShardIndex& shard = index.shard(s);
            TallyColumn(shard.int_columns[attr], words, &local.ints);
            TallyColumn(shard.mixed_columns[attr], words, &local.reals);
            break;
          }
          case AttrType::kBool:
            local.trues += AndCountShard(a.true_rows.get(), s, words);
            local.falses += AndCountShard(a.false_rows.get(), s, words);
            break;
          case AttrType::kUnindexable:
            break;
        }
      },
      excluded);
  Tally tally;
  for (Local& local : locals) {
    tally.members += local.members;
    tally.with_value += local.with_value;
    tally.trues += local.trues;
    tally.falses += local.falses;
    if (!local.by_value.empty()) {
      if (tally.by_value.empty()) {
        tally.by_value = std::move(local.by_value);
      } else {
        for (size_t v = 0; v < local.by_value.size(); ++v) {
          tally.by_value[v] += local.by_value[v];
        }
      }
    }
    tally.ints.insert(tally.ints.end(), local.ints.begin(), local.ints.end());
    tally.reals.insert(tally.reals.end(), local.reals.begin(),
                       local.reals.end());
  }
  if (strings != nullptr && tally.by_value.empty()) {
    tally.by_value.assign(strings->value_count(), 0);
  }
  Combine(&tally.ints);
  Combine(&tally.reals);
  return tally;
}

}  // namespace segd
