// Event layers merged from their columns (Layer::MergeEvents) against the
// same layer built from the profiles again (Layer::Build, Scope::kEvents).
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "index/index.h"
#include "ingest/loader.h"
#include "live/layer.h"
#include "tests/index_compare.h"
#include "tools/gen.h"

namespace segd {
namespace {

using testing::ExpectSameLayer;
using testing::SomeRows;

class EventMergeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    GenOptions gen;
    gen.profiles = 30000;
    gen.threads = 1;
    store_ = new ProfileStore;
    ASSERT_TRUE(
        LoadText(GenerateProfilesToString(gen), store_).rejected.empty());
  }
  static void TearDownTestSuite() {
    delete store_;
    store_ = nullptr;
  }

  // An event layer over `rows` (ascending database rows), row r holding
  // the generated profile r % 30000, so that rows reach past one shard.
  static std::shared_ptr<const Layer> EventLayer(
      const Schema& schema, const std::vector<uint32_t>& rows) {
    std::vector<Layer::Entry> entries;
    for (uint32_t row : rows) {
      entries.push_back(Layer::Entry{row, store_->blob(row % 30000)});
    }
    return Layer::Build(schema, std::move(entries), false, 1,
                        Index::Scope::kEvents);
  }

  static ProfileStore* store_;
};

ProfileStore* EventMergeTest::store_ = nullptr;

// Rows first + step * i for i in [0, n).
std::vector<uint32_t> Rows(uint32_t first, uint32_t step, uint32_t n) {
  std::vector<uint32_t> rows;
  for (uint32_t i = 0; i < n; ++i) rows.push_back(first + step * i);
  return rows;
}

// Merges `sources` (each with its dead rows, or none) and builds the same
// layer from the rows kept; both must agree.
void ExpectMergeAsBuilt(const Schema& schema,
                        const std::vector<Layer::EventSource>& sources) {
  std::vector<Layer::Entry> kept;
  for (const Layer::EventSource& src : sources) {
    src.layer->ForEachRow([&](uint32_t local, uint32_t row) {
      if (src.dead == nullptr || !src.dead->contains(local)) {
        kept.push_back(Layer::Entry{row, src.layer->index().blob(local)});
      }
    });
  }
  std::sort(kept.begin(), kept.end(),
            [](const auto& a, const auto& b) { return a.row < b.row; });
  const std::shared_ptr<const Layer> built =
      Layer::Build(schema, std::move(kept), false, 2, Index::Scope::kEvents);
  const std::shared_ptr<const Layer> merged =
      Layer::MergeEvents(schema, sources, 2);
  ExpectSameLayer(*merged, *built);
}

// Sources of one shard and of two, interleaved row by row and beside each
// other, with dead rows in each: the merged layer spans two shards.
TEST_F(EventMergeTest, MergedColumnsEqualThoseBuiltFromTheProfiles) {
  const Schema& schema = store_->schema();
  std::mt19937 rng(7);
  const auto a = EventLayer(schema, Rows(0, 2, 70000));  // two shards
  const auto b = EventLayer(schema, Rows(1, 2, 20000));  // between a's
  const auto c = EventLayer(schema, Rows(140000, 1, 9000));
  const auto d = EventLayer(schema, Rows(40001, 2, 1000));
  const std::unique_ptr<Bitmap> a_dead = SomeRows(*a, 0.2, rng);
  const std::unique_ptr<Bitmap> c_dead = SomeRows(*c, 0.5, rng);
  ASSERT_GT(a_dead->cardinality(), 0u);
  ExpectMergeAsBuilt(schema, {{a.get(), a_dead.get()},
                              {b.get(), nullptr},
                              {c.get(), c_dead.get()},
                              {d.get(), nullptr}});
  // Two sources, and one of them all dead.
  const std::unique_ptr<Bitmap> all_dead = SomeRows(*d, 1.0, rng);
  ExpectMergeAsBuilt(schema, {{b.get(), nullptr}, {d.get(), all_dead.get()}});
  // Nothing kept.
  ExpectMergeAsBuilt(schema, {{d.get(), all_dead.get()}});
}

// Four sources of one shard each, interleaved row by row: each source's
// rows reach all three shards of the merged layer, as an event lane's
// large merges do.
TEST_F(EventMergeTest, EachSourceShardReachesEveryMergedShard) {
  const Schema& schema = store_->schema();
  std::mt19937 rng(9);
  std::vector<std::shared_ptr<const Layer>> layers;
  std::vector<std::unique_ptr<Bitmap>> dead;
  std::vector<Layer::EventSource> sources;
  uint64_t kept = 0;
  for (uint32_t k = 0; k < 4; ++k) {
    layers.push_back(EventLayer(schema, Rows(k, 4, 40000)));
    dead.push_back(SomeRows(*layers.back(), 0.05 * k, rng));
    sources.push_back({layers.back().get(), dead.back().get()});
    kept += layers.back()->size() - dead.back()->cardinality();
  }
  ASSERT_GT(kept, 2 * uint64_t{kShardRows});  // three merged shards
  ExpectMergeAsBuilt(schema, sources);
}

// Event names the schema learned after the sources were built (one a new
// spelling of a known name, counted under it) have no events in the merged
// layer, and the known ones keep theirs.
TEST_F(EventMergeTest, NamesLearnedSinceTheSourcesHoldNoEvents) {
  const auto a = EventLayer(store_->schema(), Rows(0, 3, 25000));
  const auto b = EventLayer(store_->schema(), Rows(2, 3, 25000));
  Schema grown = store_->schema();
  const EventId order = *grown.FindEvent("order");
  const EventId spelled = grown.InternEvent("ORDER");
  const EventId fresh = grown.InternEvent("signed_contract");
  ASSERT_EQ(grown.canonical_event(spelled), order);
  ASSERT_EQ(grown.canonical_event(fresh), fresh);
  ExpectMergeAsBuilt(grown, {{a.get(), nullptr}, {b.get(), nullptr}});
  const auto merged = Layer::MergeEvents(
      grown, std::vector<Layer::EventSource>{{a.get(), nullptr}}, 3);
  EXPECT_GT(merged->index().event_total(order), 0u);
  EXPECT_EQ(merged->index().event_total(fresh), 0u);
}

// Instants ten millennia apart in one column do not fit the merge's words
// beside a row; those columns merge as pairs, with the same result.
TEST(EventMergeFarInstantsTest, ColumnsSpanningMillenniaMergeAsBuilt) {
  ProfileStore store;
  std::string text;
  // Every fourth profile's only event is in year 1, the next one's in
  // 9999: each rung of the ladder spans both.
  for (int i = 0; i < 400; ++i) {
    std::string events;
    switch (i % 4) {
      case 0:
        events = R"({"name":"order","at":"0001-01-01T00:00:00Z"})";
        break;
      case 1:
        events = R"({"name":"order","at":"9999-12-31T23:59:59Z"})";
        break;
      default:
        for (int k = 0; k < i % 7; ++k) {
          if (k > 0) events += ",";
          events += R"({"name":"order","at":"2026-0)" +
                    std::to_string(1 + (i + k) % 9) + R"(-01T00:00:00Z"})";
        }
    }
    text +=
        R"({"id":"p)" + std::to_string(i) + R"(","events":[)" + events + "]}\n";
  }
  ASSERT_TRUE(LoadText(text, &store).rejected.empty());
  std::vector<Layer::Entry> odd, even;
  for (uint32_t row = 0; row < store.row_count(); ++row) {
    (row % 2 ? odd : even).push_back(Layer::Entry{row, store.blob(row)});
  }
  const auto a =
      Layer::Build(store.schema(), odd, false, 1, Index::Scope::kEvents);
  const auto b =
      Layer::Build(store.schema(), even, false, 1, Index::Scope::kEvents);
  std::mt19937 rng(3);
  const std::unique_ptr<Bitmap> a_dead = SomeRows(*a, 0.3, rng);
  ExpectMergeAsBuilt(store.schema(),
                     {{a.get(), a_dead.get()}, {b.get(), nullptr}});
}

// Instants before 1970 (negative keys) merge as words, and events stored
// under spellings of one name count under its first.
TEST(EventMergeSpellingsTest, EarlyInstantsAndSpellingsMergeAsBuilt) {
  ProfileStore store;
  const char* kSpellings[] = {"order", "Order", "ORDER", "visit"};
  std::string text;
  for (int i = 0; i < 3000; ++i) {
    std::string events;
    for (int k = 0; k < 1 + i % 8; ++k) {
      if (k > 0) events += ",";
      events += R"({"name":")" + std::string(kSpellings[(i + k) % 4]) +
                R"(","at":")" + std::to_string(1950 + (i * 7 + k) % 76) + "-0" +
                std::to_string(1 + k % 9) + R"(-15T10:00:00Z"})";
    }
    text +=
        R"({"id":"q)" + std::to_string(i) + R"(","events":[)" + events + "]}\n";
  }
  ASSERT_TRUE(LoadText(text, &store).rejected.empty());
  // Two of the four names are spellings of another.
  const Schema& schema = store.schema();
  ASSERT_EQ(schema.event_count(), 4u);
  int spellings = 0;
  for (EventId e = 0; e < schema.event_count(); ++e) {
    spellings += schema.canonical_event(e) != e;
  }
  ASSERT_EQ(spellings, 2);
  std::vector<Layer::Entry> thirds[3];
  for (uint32_t row = 0; row < store.row_count(); ++row) {
    thirds[row % 3].push_back(Layer::Entry{row, store.blob(row)});
  }
  std::vector<std::shared_ptr<const Layer>> layers;
  std::vector<Layer::EventSource> sources;
  for (auto& entries : thirds) {
    layers.push_back(Layer::Build(store.schema(), std::move(entries), false, 1,
                                  Index::Scope::kEvents));
    sources.push_back({layers.back().get(), nullptr});
  }
  std::mt19937 rng(5);
  const std::unique_ptr<Bitmap> dead = SomeRows(*layers[1], 0.4, rng);
  sources[1].dead = dead.get();
  ExpectMergeAsBuilt(store.schema(), sources);
}

}  // namespace
}  // namespace segd
