// Archives (base/archive.h) and the index structures saved to them: an
// index loaded back answers every query as the one saved, and saves to the
// same bytes; damaged or cut archives are refused, never trusted.
#include "base/archive.h"

#include <gtest/gtest.h>
#include <roaring/containers/containers.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/query.h"
#include "index/bitmap.h"
#include "index/index.h"
#include "index/profile_store.h"
#include "ingest/loader.h"
#include "tests/index_compare.h"
#include "tests/tsan.h"
#include "tools/gen.h"

namespace segd {
namespace {

using testing::Saved;
using testing::StringWriter;

// Rules over every kind of structure the index holds: dictionaries and
// trigrams, number and date columns with range buckets, events and their
// recency ladders, bools, presence.
const char* const kRules[] = {
    R"({"field":"city","op":"in","value":["Pune","Mumbai"]})",
    R"({"field":"email","op":"contains","value":"gmail"})",
    R"({"field":"name","op":"contains","value":"pat"})",
    R"({"field":"name","op":"starts_with","value":"ro"})",
    R"({"field":"orders","op":"between","value":[2,5]})",
    R"({"field":"web_sessions","op":"gt","value":100})",
    R"({"field":"first_seen","op":"within_last","value":"90d"})",
    R"({"field":"trial_user","op":"is_true"})",
    R"({"field":"tags","op":"in","value":["vip","newsletter"]})",
    R"({"event":"cart_abandoned","within_last":"30d","count":{"gte":2}})",
    R"({"event":"opened_email","count":{"gte":1}})",
    R"({"field":"plan","op":"not_exists"})",
};

TEST(ArchiveTest, AnIndexLoadedBackAnswersAndSavesAsTheOneSaved) {
  GenOptions gen;
  gen.profiles = 140000;  // three shards, trigram lists, range buckets
  gen.seed = 5;
  ProfileStore store;
  LoadReport report = LoadText(GenerateProfilesToString(gen), &store);
  ASSERT_EQ(report.accepted, gen.profiles);
  std::shared_ptr<const Index> built = Index::Build(store);
  const std::string bytes = Saved(*built);
  MemoryReader in(bytes.data(), bytes.size());
  std::shared_ptr<const Index> loaded =
      Index::Load(in, std::make_shared<StoreRows>(&store));
  ASSERT_NE(loaded, nullptr);
  EXPECT_EQ(in.remaining(), 0u);
  EXPECT_EQ(Saved(*loaded), bytes);
  EXPECT_EQ(loaded->MemoryBytes(), built->MemoryBytes());
  QueryOptions options;
  options.limit = 50;
  options.now_ms = kGenDefaultNowMs;
  for (const char* rule : kRules) {
    Result<ExecuteResult> want = RunQuery(*built, rule, options);
    Result<ExecuteResult> got = RunQuery(*loaded, rule, options);
    ASSERT_TRUE(want.ok()) << rule << ": " << want.status().ToString();
    ASSERT_TRUE(got.ok()) << rule;
    EXPECT_GT(want->count, 0u) << rule;
    EXPECT_EQ(got->count, want->count) << rule;
    EXPECT_EQ(got->rows, want->rows) << rule;
  }
}

TEST(ArchiveTest, AnArchiveCutShortIsRefused) {
  GenOptions gen;
  gen.profiles = 300;
  ProfileStore store;
  LoadText(GenerateProfilesToString(gen), &store);
  const std::string bytes = Saved(*Index::Build(store));
  auto rows = std::make_shared<StoreRows>(&store);
  for (size_t cut = 0; cut < bytes.size(); cut += 1 + cut / 64) {
    MemoryReader in(bytes.data(), cut);
    EXPECT_EQ(Index::Load(in, rows), nullptr) << "cut at " << cut;
  }
}

TEST(ArchiveTest, ACountLargerThanTheArchiveAllocatesNothing) {
  StringWriter out;
  out.U64(uint64_t{1} << 60);  // a vector's count, and no elements
  MemoryReader in(out.bytes.data(), out.bytes.size());
  std::vector<uint64_t> v;
  EXPECT_FALSE(in.Vector(&v));
  EXPECT_TRUE(v.empty());
}

TEST(ArchiveTest, SectionsAreReadApartAndSkipped) {
  StringWriter out;
  out.Section([](ArchiveWriter& w) { w.Bytes("first"); });
  out.U32(7);
  MemoryReader in(out.bytes.data(), out.bytes.size());
  std::unique_ptr<ArchiveReader> section = in.Section();
  ASSERT_NE(section, nullptr);
  uint32_t after;
  ASSERT_TRUE(in.U32(&after));
  EXPECT_EQ(after, 7u);
  std::string text;
  ASSERT_TRUE(section->Bytes(&text));
  EXPECT_EQ(text, "first");
  EXPECT_EQ(section->remaining(), 0u);
}

TEST(ArchiveTest, ABitmapKeepsItsRowsAndDenseArrays) {
  Bitmap bitmap;
  for (uint32_t row = 0; row < 3000; ++row) bitmap.Add(row * 3);   // dense
  for (uint32_t row = 70000; row < 70010; ++row) bitmap.Add(row);  // a run
  bitmap.Add(1u << 20);                                            // sparse
  bitmap.Optimize();
  const roaring_array_t& ra = bitmap.get()->high_low_container;
  ASSERT_EQ(ra.typecodes[0], BITSET_CONTAINER_TYPE_CODE);
  StringWriter out;
  bitmap.Save(out);
  MemoryReader in(out.bytes.data(), out.bytes.size());
  Bitmap loaded;
  ASSERT_TRUE(loaded.Load(in));
  EXPECT_TRUE(roaring_bitmap_equals(loaded.get(), bitmap.get()));
  const roaring_array_t& back = loaded.get()->high_low_container;
  ASSERT_EQ(back.size, ra.size);
  for (int32_t i = 0; i < ra.size; ++i) {
    EXPECT_EQ(back.typecodes[i], ra.typecodes[i]) << "container " << i;
  }
}

TEST(ArchiveTest, ABitmapThatParsesButIsNotWellFormedIsRefused) {
  // Rows 1, 2, 3 as an array container; then 2 and 3 swapped, which
  // CRoaring's parser accepts.
  Bitmap bitmap;
  for (uint32_t row : {1u, 2u, 3u}) bitmap.Add(row);
  StringWriter out;
  bitmap.Save(out);
  std::string& bytes = out.bytes;
  const std::string two("\x02\x00", 2), three("\x03\x00", 2);
  const size_t at = bytes.rfind(two + three);
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 4, three + two);
  MemoryReader in(bytes.data(), bytes.size());
  Bitmap loaded;
  EXPECT_FALSE(loaded.Load(in));
}

}  // namespace
}  // namespace segd
