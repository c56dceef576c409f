// Layers merged from their indexes and id tables (Layer::Merge) against
// the same layer built from the profiles again (Layer::Build): the merged
// index must save to the same bytes, and find the same profiles.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "index/index.h"
#include "index/profile_codec.h"
#include "ingest/loader.h"
#include "live/layer.h"
#include "tests/index_compare.h"
#include "tools/gen.h"

namespace segd {
namespace {

using testing::ExpectSameIndex;
using testing::ExpectSameLayer;
using testing::SomeRows;

// A layer of `store`'s rows for which keep(row) holds.
template <typename Keep>
std::shared_ptr<const Layer> LayerOf(const ProfileStore& store, Keep&& keep) {
  std::vector<Layer::Entry> entries;
  for (uint32_t row = 0; row < store.row_count(); ++row) {
    if (keep(row)) entries.push_back(Layer::Entry{row, store.blob(row)});
  }
  return Layer::Build(store.schema(), std::move(entries), false, 1);
}

// Merges `sources`, with `held` rows taking the profile given there, and
// builds the layer of the same profiles; both must agree, and the merged
// one is returned.
std::shared_ptr<const Layer> ExpectMergeAsBuilt(
    const Schema& schema, const std::vector<Layer::MergeSource>& sources,
    const std::vector<Layer::Entry>& held = {}) {
  std::unordered_map<uint32_t, std::string_view> now;
  for (const Layer::Entry& h : held) now.emplace(h.row, h.blob);
  std::vector<Layer::Entry> kept;
  for (const Layer::MergeSource& src : sources) {
    src.layer->ForEachRow([&](uint32_t local, uint32_t row) {
      if (src.dead != nullptr && src.dead->contains(local)) return;
      const auto it = now.find(row);
      kept.push_back(Layer::Entry{
          row, it != now.end() ? it->second : src.layer->index().blob(local)});
    });
  }
  std::sort(kept.begin(), kept.end(),
            [](const auto& a, const auto& b) { return a.row < b.row; });
  const std::shared_ptr<const Layer> built =
      Layer::Build(schema, kept, false, 2);
  const std::shared_ptr<const Layer> merged =
      Layer::Merge(schema, sources, held, 2);
  ExpectSameLayer(*merged, *built);
  // Every profile is found by its id and each identity.
  DecodedProfile p;
  for (uint32_t local = 0; local < built->size(); ++local) {
    const std::string_view blob = built->index().blob(local);
    DecodeProfile(blob, &p);
    EXPECT_EQ(merged->FindId(p.id, IdKeyHash(p.id)), local) << p.id;
    for (const auto& [channel, handle] : p.identities) {
      EXPECT_EQ(merged->FindIdentity(channel, handle), local) << handle;
    }
  }
  EXPECT_EQ(merged->identity_entries(), built->identity_entries());
  return merged;
}

// A layer's id or identity entries, as (local row, hash) pairs.
template <typename ForEach>
std::vector<std::pair<uint32_t, uint64_t>> EntriesOf(ForEach&& for_each) {
  std::vector<std::pair<uint32_t, uint64_t>> entries;
  for_each([&](uint32_t local, uint64_t hash) {
    entries.emplace_back(local, hash);
  });
  std::sort(entries.begin(), entries.end());
  return entries;
}

// A layer of every profile a store holds is built from the store itself
// (a first load): its rows must be those of a build over the same
// profiles, up to the last one, and the store's id and identity tables,
// which it keeps (ProfileStore::ShareTables), what hashing every profile
// gives, after rewrites that drop identities or name one twice, a merge,
// deletes (the last row's among them) and appended events.
TEST(LayerTablesTest, ALayerOfEveryProfileKeepsTheStoresTables) {
  ProfileStore store;
  std::string ndjson;
  for (int i = 0; i < 3000; ++i) {
    const std::string n = std::to_string(i);
    ndjson += R"({"id": "p)" + n + R"(", "identities": {"whatsapp": "+)" + n +
              R"(", "email": "p)" + n + R"(@x.io"}, "city": "Pune"})" + "\n";
  }
  // Rewrites: p1 keeps only its phone, p2 names its email twice, p11
  // trades its email for a channel p10 lacks.
  ndjson += R"({"id": "p1", "identities": {"whatsapp": "+1"}})"
            "\n";
  ndjson +=
      R"({"id": "p2", "identities": {"email": "p2@x.io", "email": "p2@x.io"}})"
      "\n";
  ndjson +=
      R"({"id": "p11", "identities": {"whatsapp": "+11", "instagram": "@p"}})"
      "\n";
  ASSERT_TRUE(LoadText(ndjson, &store).rejected.empty());
  ASSERT_TRUE(store.Merge("p10", "p11").ok());
  ASSERT_TRUE(store.Delete("p12").ok());
  ASSERT_TRUE(store.Delete("p2999").ok());
  const ProfileInput::Event event{"cart_abandoned", 1795176000000};
  ASSERT_TRUE(store.AppendEvents("p13", {&event, 1}).ok());

  std::vector<Layer::Entry> entries;
  for (uint32_t row = 0; row < store.row_count(); ++row) {
    if (store.is_live(row)) entries.push_back({row, store.blob(row)});
  }
  ASSERT_EQ(entries.size(), store.live_count());
  const auto hashed = Layer::Build(store.schema(), entries, true, 1);
  const auto copied =
      Layer::BuildOfStore(store.schema(), store, *store.ShareTables(), 2);
  auto ids = [](const Layer& layer) {
    return EntriesOf([&](auto fn) { layer.ForEachId(fn); });
  };
  auto identities = [](const Layer& layer) {
    return EntriesOf([&](auto fn) { layer.ForEachIdentity(fn); });
  };
  EXPECT_EQ(copied->size(), hashed->size());
  EXPECT_EQ(copied->index().row_count(), hashed->index().row_count());
  EXPECT_EQ(copied->index().row_count(), *store.FindRow("p2998") + 1);
  EXPECT_TRUE(copied->whole_space());
  EXPECT_EQ(ids(*copied), ids(*hashed));
  EXPECT_EQ(identities(*copied), identities(*hashed));
  EXPECT_EQ(ids(*hashed).size(), store.live_count());
  // 2 × 3,000 pairs, less p1's email, p2's phone, p11's phone (released
  // by the merge), p12's two and p2999's two.
  EXPECT_EQ(identities(*hashed).size(), 5993u);
  ExpectSameIndex(copied->index(), hashed->index());
  EXPECT_EQ(copied->FindIdentity("instagram", "@p"), store.FindRow("p10"));
  EXPECT_EQ(copied->FindIdentity("instagram", "@p"),
            hashed->FindIdentity("instagram", "@p"));
  EXPECT_FALSE(copied->FindIdentity("whatsapp", "+12").has_value());
}

class LayerMergeTest : public ::testing::Test {
 protected:
  static GenOptions Options() {
    GenOptions gen;
    gen.profiles = 90000;  // two shards
    gen.threads = 1;
    return gen;
  }
  static void SetUpTestSuite() {
    store_ = new ProfileStore;
    ASSERT_TRUE(
        LoadText(GenerateProfilesToString(Options()), store_).rejected.empty());
  }
  static void TearDownTestSuite() {
    delete store_;
    store_ = nullptr;
  }
  static ProfileStore* store_;
};

ProfileStore* LayerMergeTest::store_ = nullptr;

// Layers interleaved row by row and side by side, with dead rows in each:
// every dictionary, bitmap, number and date column, event column and id
// table of the merge is what a build gives.
TEST_F(LayerMergeTest, MergedLayersEqualThoseBuiltFromTheProfiles) {
  const Schema& schema = store_->schema();
  std::mt19937 rng(11);
  const auto a = LayerOf(*store_, [](uint32_t r) { return r % 3 == 0; });
  const auto b = LayerOf(*store_, [](uint32_t r) { return r % 3 == 1; });
  const auto c = LayerOf(*store_, [](uint32_t r) { return r % 3 == 2; });
  const std::unique_ptr<Bitmap> a_dead = SomeRows(*a, 0.2, rng);
  const std::unique_ptr<Bitmap> c_dead = SomeRows(*c, 0.6, rng);
  ASSERT_GT(a->index().shard_count(), 0u);
  const auto merged = ExpectMergeAsBuilt(
      schema,
      {{a.get(), a_dead.get()}, {b.get(), nullptr}, {c.get(), c_dead.get()}});
  EXPECT_EQ(merged->index().shard_count(), 2u);
  EXPECT_GT(merged->identity_entries(), 0u);
  // Layers of a few thousand rows, as the lane's first merges take.
  std::vector<std::shared_ptr<const Layer>> small;
  std::vector<std::unique_ptr<Bitmap>> dead;
  std::vector<Layer::MergeSource> sources;
  for (uint32_t k = 0; k < 8; ++k) {
    small.push_back(LayerOf(*store_, [k](uint32_t r) {
      return r >= 40000 + 1000 * k && r < 41000 + 1000 * k;
    }));
    dead.push_back(SomeRows(*small.back(), 0.1 * k, rng));
    sources.push_back({small.back().get(), dead.back().get()});
  }
  ExpectMergeAsBuilt(schema, sources);
  // One source, all dead: an empty layer.
  const std::unique_ptr<Bitmap> all = SomeRows(*small[0], 1.0, rng);
  EXPECT_EQ(ExpectMergeAsBuilt(schema, {{small[0].get(), all.get()}})->size(),
            0u);
}

// Rows whose events were appended since take them, and their profile, as
// they are now: the merge has those events, not their layer's.
TEST_F(LayerMergeTest, RowsWithEventsAppendedTakeThemFromTheirProfileNow) {
  const auto a = LayerOf(*store_, [](uint32_t r) { return r % 2 == 0; });
  const auto b = LayerOf(*store_, [](uint32_t r) { return r % 2 == 1; });
  // Every tenth profile has an order appended since, in a store of the
  // same profiles.
  ProfileStore later;
  ASSERT_TRUE(
      LoadText(GenerateProfilesToString(Options()), &later).rejected.empty());
  std::vector<Layer::Entry> held;
  for (uint32_t row = 0; row < later.row_count(); row += 10) {
    DecodedProfile p;
    DecodeProfile(store_->blob(row), &p);
    const ProfileInput::Event event{"order", 1'700'000'000'000 + row};
    ASSERT_EQ(*later.AppendEvents(p.id, std::span(&event, 1)), row);
    held.push_back(Layer::Entry{row, later.blob(row)});
  }
  const Schema& schema = later.schema();
  const EventId order = *schema.FindEvent("order");
  std::mt19937 rng(13);
  const std::unique_ptr<Bitmap> b_dead = SomeRows(*b, 0.3, rng);
  const std::vector<Layer::MergeSource> sources = {{a.get(), nullptr},
                                                   {b.get(), b_dead.get()}};
  const auto merged = ExpectMergeAsBuilt(schema, sources, held);
  // Each row held alive has one order more than its layer gave it.
  uint64_t appended = 0;
  for (const Layer::Entry& h : held) {
    appended += h.row % 2 == 0 || !b_dead->contains(*b->LocalRow(h.row));
  }
  ASSERT_GT(appended, 0u);
  const auto as_before = Layer::Merge(schema, sources, {}, 2);
  EXPECT_EQ(merged->index().event_total(order),
            as_before->index().event_total(order) + appended);
}

// Merged layers merged again, as each size class above the first is.
TEST_F(LayerMergeTest, MergedLayersMergeAgainAsBuilt) {
  const Schema& schema = store_->schema();
  std::mt19937 rng(17);
  std::vector<std::shared_ptr<const Layer>> firsts, merged;
  std::vector<std::unique_ptr<Bitmap>> dead;
  for (uint32_t m = 0; m < 2; ++m) {
    std::vector<Layer::MergeSource> sources;
    for (uint32_t k = 0; k < 4; ++k) {
      const uint32_t part = 4 * m + k;
      firsts.push_back(LayerOf(
          *store_, [part](uint32_t r) { return r % 8 == part && r < 60000; }));
      dead.push_back(SomeRows(*firsts.back(), 0.1, rng));
      sources.push_back({firsts.back().get(), dead.back().get()});
    }
    merged.push_back(ExpectMergeAsBuilt(schema, sources));
  }
  const std::unique_ptr<Bitmap> dead_again = SomeRows(*merged[1], 0.2, rng);
  ExpectMergeAsBuilt(schema, {{merged[0].get(), nullptr},
                              {merged[1].get(), dead_again.get()}});
}

// A layer built before the schema learned an attribute and an event
// merges with one built after: the older holds neither.
TEST(LayerMergeSchemaTest, SourcesOfAnEarlierSchemaMergeAsBuilt) {
  ProfileStore store;
  std::string before, after;
  for (int i = 0; i < 3000; ++i) {
    const std::string n = std::to_string(i);
    before += R"({"id":"a)" + n + R"(","city":"C)" + std::to_string(i % 40) +
              R"(","orders":)" + std::to_string(i % 9) +
              R"(,"events":[{"name":"order","at":"2026-03-0)" +
              std::to_string(1 + i % 9) + R"(T10:00:00Z"}]})" + "\n";
    after += R"({"id":"b)" + n + R"(","city":"c)" + std::to_string(i % 50) +
             R"(","plan":"P)" + std::to_string(i % 3) +
             R"(","events":[{"name":"signed_contract","at":"2026-04-0)" +
             std::to_string(1 + i % 9) + R"(T10:00:00Z"}]})" + "\n";
  }
  ASSERT_TRUE(LoadText(before, &store).rejected.empty());
  const auto old_layer = LayerOf(store, [](uint32_t) { return true; });
  const size_t old_attributes = store.schema().size();
  ASSERT_TRUE(LoadText(after, &store).rejected.empty());
  ASSERT_GT(store.schema().size(), old_attributes);
  const auto new_layer =
      LayerOf(store, [](uint32_t r) { return r >= 3000 && r % 2 == 0; });
  std::mt19937 rng(19);
  const std::unique_ptr<Bitmap> dead = SomeRows(*old_layer, 0.3, rng);
  ExpectMergeAsBuilt(store.schema(), {{old_layer.get(), dead.get()},
                                      {new_layer.get(), nullptr}});
}

// A string array of thousands of values, several to a row and named in
// no order: the merged dictionary keeps its occurrences as (row, value)
// pairs, each row's values ascending, as a build does.
TEST(LayerMergeArrayTest, ArraysOfManyValuesKeepTheirPairsAsBuilt) {
  ProfileStore store;
  std::string text;
  std::mt19937 rng(23);
  for (int i = 0; i < 6000; ++i) {
    std::string labels;
    for (int k = 0; k < 1 + i % 4; ++k) {
      if (k > 0) labels += ",";
      const uint32_t v = rng() % 3000;
      labels += "\"" + std::string(v % 2 ? "Lbl-" : "LBL-") +
                std::to_string(v) + "\"";
    }
    text +=
        R"({"id":"r)" + std::to_string(i) + R"(","labels":[)" + labels + "]}\n";
  }
  ASSERT_TRUE(LoadText(text, &store).rejected.empty());
  std::vector<std::shared_ptr<const Layer>> layers;
  std::vector<std::unique_ptr<Bitmap>> dead;
  std::vector<Layer::MergeSource> sources;
  for (uint32_t k = 0; k < 3; ++k) {
    layers.push_back(LayerOf(store, [k](uint32_t r) { return r % 3 == k; }));
    dead.push_back(SomeRows(*layers.back(), 0.15, rng));
    sources.push_back({layers.back().get(), dead.back().get()});
  }
  const auto merged = ExpectMergeAsBuilt(store.schema(), sources);
  const StringIndex& labels =
      *merged->index().attribute(*store.schema().Find("labels")).strings;
  ASSERT_TRUE(labels.has_trigrams());
  EXPECT_FALSE(labels.occurrence_rows().empty());
}

// Profiles written for the spellings: a value's spelling is its first
// row's in the merge, read from the row when the row that gave its source
// the spelling is dropped; numbers that are all integers in one source
// and not in another take the exact form.
TEST(LayerMergeSpellingTest, SpellingsAndNumbersAreTheFirstRowsAsBuilt) {
  ProfileStore store;
  std::string text;
  const char* kCities[] = {"PUNE", "Pune", "pune", "Mumbai", "MUMBAI"};
  for (int i = 0; i < 600; ++i) {
    const std::string n = std::to_string(i);
    text += R"({"id":"s)" + n + R"(","city":")" + kCities[i % 5] +
            R"(","tags":[")" + kCities[(i + 1) % 5] + R"(",")" +
            kCities[(i + 3) % 5] + R"("],"score":)" +
            (i % 50 == 7 ? n + ".5" : n) + R"(,"seen":"2026-01-)" +
            std::to_string(10 + i % 9) + R"(","trial_user":)" +
            (i % 3 ? "true" : "false") + R"(,"identities":{"email":"s)" + n +
            R"(@x.io"}})" + "\n";
  }
  ASSERT_TRUE(LoadText(text, &store).rejected.empty());
  const auto a = LayerOf(store, [](uint32_t r) { return r % 2 == 0; });
  const auto b = LayerOf(store, [](uint32_t r) { return r % 2 == 1; });
  // The first rows of each source dropped: their spellings go with them.
  auto a_dead = std::make_unique<Bitmap>();
  auto b_dead = std::make_unique<Bitmap>();
  for (uint32_t local = 0; local < 6; ++local) {
    a_dead->Add(local);
    b_dead->Add(local);
  }
  const auto merged = ExpectMergeAsBuilt(
      store.schema(), {{a.get(), a_dead.get()}, {b.get(), b_dead.get()}});
  const AttrId city = *store.schema().Find("city");
  const StringIndex& cities = *merged->index().attribute(city).strings;
  // Rows 12 ("pune") and 13 ("Mumbai") are the first kept of their
  // values; the first rows of both sources that held them are dropped.
  EXPECT_EQ(cities.display(*cities.Find("pune")), "pune");
  EXPECT_EQ(cities.display(*cities.Find("mumbai")), "Mumbai");
  // Only integers kept in one source, non-integers in the other.
  const auto ints = LayerOf(store, [](uint32_t r) { return r % 50 != 7; });
  const auto halves = LayerOf(store, [](uint32_t r) { return r % 50 == 7; });
  const AttrId score = *store.schema().Find("score");
  EXPECT_TRUE(ints->index().attribute(score).integer_domain);
  EXPECT_FALSE(halves->index().attribute(score).integer_domain);
  ExpectMergeAsBuilt(store.schema(),
                     {{ints.get(), nullptr}, {halves.get(), nullptr}});
  // A source held a non-integer, but only its integers are kept: the
  // merge's keys are int64 again.
  const auto some =
      LayerOf(store, [](uint32_t r) { return r % 50 == 7 || r % 50 == 8; });
  const auto rest = LayerOf(store, [](uint32_t r) { return r % 50 < 7; });
  EXPECT_FALSE(some->index().attribute(score).integer_domain);
  auto halves_dead = std::make_unique<Bitmap>();
  some->ForEachRow([&](uint32_t local, uint32_t row) {
    if (row % 50 == 7) halves_dead->Add(local);
  });
  const auto merged_ints = ExpectMergeAsBuilt(
      store.schema(), {{some.get(), halves_dead.get()}, {rest.get(), nullptr}});
  EXPECT_TRUE(merged_ints->index().attribute(score).integer_domain);
}

}  // namespace
}  // namespace segd
