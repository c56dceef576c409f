// What the index tests compare: archived bytes, columns entry by entry,
// whole indexes part by part; and layers' rows picked at random.
#ifndef SEGD_TESTS_INDEX_COMPARE_H_
#define SEGD_TESTS_INDEX_COMPARE_H_

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>

#include "base/archive.h"
#include "index/index.h"
#include "live/layer.h"

namespace segd::testing {

// An archive held in memory.
class StringWriter final : public ArchiveWriter {
 public:
  void Put(const void* data, size_t n) override {
    bytes.append(static_cast<const char*>(data), n);
  }
  std::string bytes;
};

// The bytes `part` archives to (anything with Save(ArchiveWriter&)).
template <typename T>
std::string Saved(const T& part) {
  StringWriter out;
  part.Save(out);
  return out.bytes;
}

template <typename Key>
void ExpectSameColumn(const SortedColumn<Key>& got,
                      const SortedColumn<Key>& want, const std::string& where) {
  ASSERT_EQ(got.size(), want.size()) << where;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got.keys[i], want.keys[i]) << where << " at " << i;
    ASSERT_EQ(got.rows[i], want.rows[i]) << where << " at " << i;
  }
  EXPECT_EQ(got.edges, want.edges) << where;
  EXPECT_EQ(got.prefix, want.prefix) << where;
}

// The same index: each attribute archives to the same bytes, and each
// column holds the same keys (compared as numbers: a long double's padding
// bytes are archived as they are).
inline void ExpectSameIndex(const Index& got, const Index& want) {
  ASSERT_EQ(got.row_count(), want.row_count());
  EXPECT_EQ(Saved(got.live()), Saved(want.live()));
  EXPECT_EQ(got.live_count(), want.live_count());
  ASSERT_EQ(got.attribute_count(), want.attribute_count());
  for (AttrId a = 0; a < got.attribute_count(); ++a) {
    EXPECT_TRUE(Saved(got.attribute(a)) == Saved(want.attribute(a)))
        << got.attribute(a).name;
  }
  ASSERT_EQ(got.shard_count(), want.shard_count());
  for (uint32_t s = 0; s < got.shard_count(); ++s) {
    const ShardIndex& g = got.shard(s);
    const ShardIndex& w = want.shard(s);
    const std::string shard = "shard " + std::to_string(s) + " ";
    EXPECT_EQ(got.shard_full(s), want.shard_full(s)) << shard;
    ASSERT_EQ(g.int_columns.size(), w.int_columns.size());
    ASSERT_EQ(g.mixed_columns.size(), w.mixed_columns.size());
    for (AttrId a = 0; a < g.int_columns.size(); ++a) {
      ExpectSameColumn(g.int_columns[a], w.int_columns[a],
                       shard + got.attribute(a).name);
      ExpectSameColumn(g.mixed_columns[a], w.mixed_columns[a],
                       shard + got.attribute(a).name);
    }
    ASSERT_EQ(g.recency.size(), w.recency.size());
    ASSERT_EQ(g.older_events.size(), w.older_events.size());
    for (EventId e = 0; e < g.recency.size(); ++e) {
      EXPECT_EQ(got.event_total(e), want.event_total(e)) << got.event_name(e);
      const auto got_columns = g.EventColumns(e);
      const auto want_columns = w.EventColumns(e);
      for (size_t c = 0; c < ShardIndex::kEventColumns; ++c) {
        ExpectSameColumn(
            *got_columns[c], *want_columns[c],
            shard + got.event_name(e) + " column " + std::to_string(c));
      }
    }
  }
}

// About `share` of a layer's local rows, at random.
inline std::unique_ptr<Bitmap> SomeRows(const Layer& layer, double share,
                                        std::mt19937& rng) {
  auto rows = std::make_unique<Bitmap>();
  std::bernoulli_distribution pick(share);
  for (uint32_t local = 0; local < layer.size(); ++local) {
    if (pick(rng)) rows->Add(local);
  }
  return rows;
}

// The same layer: the same rows, each on the same blob, and the same
// index.
inline void ExpectSameLayer(const Layer& got, const Layer& want) {
  ASSERT_EQ(got.size(), want.size());
  for (uint32_t local = 0; local < got.size(); ++local) {
    ASSERT_EQ(got.GlobalRow(local), want.GlobalRow(local)) << local;
    ASSERT_EQ(got.index().blob(local).data(), want.index().blob(local).data())
        << local;
  }
  ExpectSameIndex(got.index(), want.index());
}

}  // namespace segd::testing

#endif  // SEGD_TESTS_INDEX_COMPARE_H_
