// The located member path (LocateValues, ReadValueAt, MemberWriter's slots)
// checked against its slow twin, the whole profile decoded, on random
// profiles, blobs with their values in any order among them.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "base/json_writer.h"
#include "engine/preview.h"
#include "index/index.h"
#include "index/profile_codec.h"
#include "index/profile_store.h"
#include "ingest/loader.h"

namespace segd {
namespace {

// Random profiles over a pool of attributes of every type, each present
// or not, in a random order.
std::string RandomProfiles(int count, uint32_t seed) {
  std::mt19937 rng(seed);
  const std::vector<std::string> pool = {
      R"("name":"Asha \"A\" Patil")",
      R"("email":"a@x.in")",
      R"("phone":"+91 98")",
      R"("orders":7)",
      R"("csat":4.5)",
      R"("signed_up":"2026-11-19")",
      R"("seen":"2026-01-03T10:00:00.5Z")",
      R"("vip":true)",
      R"("churned":false)",
      R"("tags":["vip","b"])",
      R"("address":{"city":"Pune","zip":"411001"})",
      R"("raw":[[1],2])",
      R"("customer_type":"lead")",
      R"("identities":{"email":"x"})",
      R"("events":[{"name":"order","at":"2026-01-01"}])"};
  std::string out;
  for (int i = 0; i < count; ++i) {
    std::vector<std::string> keys;
    for (const std::string& k : pool) {
      if (rng() % 2) keys.push_back(k);
    }
    std::shuffle(keys.begin(), keys.end(), rng);
    out += R"({"id":"p)" + std::to_string(i) + '"';
    for (const std::string& k : keys) {
      // An identity is owned once: each profile gets its own handle.
      out += "," +
             (k.starts_with(R"("identities")")
                  ? R"("identities":{"email":"x)" + std::to_string(i) + R"("})"
                  : k);
    }
    out += "}\n";
  }
  return out;
}

void ExpectSameValue(const DecodedValue& a, const DecodedValue& b) {
  EXPECT_EQ(a.attr, b.attr);
  EXPECT_EQ(a.tag, b.tag);
  switch (a.tag) {
    case ValueTag::kString:
    case ValueTag::kRaw:
      EXPECT_EQ(a.text, b.text);
      break;
    case ValueTag::kInt:
    case ValueTag::kDouble:
      EXPECT_EQ(a.number.is_int, b.number.is_int);
      EXPECT_EQ(a.number.i, b.number.i);
      EXPECT_EQ(a.number.d, b.number.d);
      break;
    case ValueTag::kDate:
    case ValueTag::kDateLayout:
      EXPECT_EQ(a.date_ms, b.date_ms);
      EXPECT_EQ(a.date_layout, b.date_layout);
      EXPECT_EQ(a.text, b.text);
      break;
    case ValueTag::kFalse:
    case ValueTag::kTrue:
      break;
    case ValueTag::kStringArray:
      EXPECT_EQ(a.array_count, b.array_count);
      EXPECT_EQ(a.array_data, b.array_data);
      break;
  }
}

// `blob` with its values in reverse order: as a store that wrote
// customer_type last (before it wrote it first) would have kept them.
std::string Reversed(std::string_view blob) {
  DecodedProfile p;
  DecodeProfile(blob, &p);
  std::string out;
  ProfileEncoder encoder(&out);
  encoder.Begin(p.id, p.flags, p.values.size());
  for (size_t i = p.values.size(); i-- > 0;) {
    encoder.AddValue(p.values[i].attr, ToValue(p.values[i]));
  }
  encoder.AddIdentities(p.identities);
  encoder.AddEvents(p.events);
  return out;
}

TEST(LocateValuesTest, FindsWhatTheWholeDecodeFinds) {
  ProfileStore store;
  const LoadReport r = LoadText(RandomProfiles(300, 7), &store);
  ASSERT_TRUE(r.rejected.empty()) << r.rejected[0].error.ToString();
  const Schema& schema = store.schema();
  std::mt19937 rng(11);
  for (uint32_t row = 0; row < store.row_count(); ++row) {
    for (const std::string& blob :
         {std::string(store.blob(row)), Reversed(store.blob(row))}) {
      DecodedProfile whole;
      DecodeProfile(blob, &whole);
      // A random set of attributes, in slots 1..n; one past the schema.
      std::vector<uint8_t> slot_of(schema.size() + 1, 0);
      std::vector<AttrId> attr_of = {0};
      for (AttrId a = 0; a <= schema.size(); ++a) {
        if (rng() % 3 == 0) {
          slot_of[a] = static_cast<uint8_t>(attr_of.size());
          attr_of.push_back(a);
        }
      }
      std::vector<const char*> at(attr_of.size(), nullptr);
      const size_t slots = attr_of.size() - 1;
      EXPECT_EQ(LocateValues(blob, slot_of, slots, at.data()), whole.id);
      for (size_t s = 1; s <= slots; ++s) {
        SCOPED_TRACE("row " + std::to_string(row) + " slot " +
                     std::to_string(s));
        const DecodedValue* expected = whole.Find(attr_of[s]);
        ASSERT_EQ(at[s] != nullptr, expected != nullptr);
        if (expected == nullptr) continue;
        DecodedValue located;
        ReadValueAt(at[s], attr_of[s], &located);
        ExpectSameValue(located, *expected);
      }
    }
  }
}

TEST(DecodeSelectedTest, KeepsExactlyTheValuesAsked) {
  ProfileStore store;
  ASSERT_TRUE(LoadText(RandomProfiles(200, 3), &store).rejected.empty());
  std::mt19937 rng(5);
  for (uint32_t row = 0; row < store.row_count(); ++row) {
    DecodedProfile whole, some;
    DecodeProfile(store.blob(row), &whole);
    std::vector<uint8_t> keep(store.schema().size());
    for (uint8_t& k : keep) k = rng() % 2;
    DecodeSelected(store.blob(row), keep, DecodeScope::kAll, &some);
    EXPECT_EQ(some.id, whole.id);
    EXPECT_EQ(some.identities, whole.identities);
    EXPECT_EQ(some.events.size(), whole.events.size());
    size_t kept = 0;
    for (const DecodedValue& v : whole.values) {
      if (!keep[v.attr]) continue;
      ++kept;
      const DecodedValue* found = some.Find(v.attr);
      ASSERT_NE(found, nullptr);
      ExpectSameValue(*found, v);
    }
    EXPECT_EQ(some.values.size(), kept);
  }
}

// The slots' path against the full decode, through MemberWriter: the same
// fields shown with `identities` among them take the full decode; the
// members must match but for that key.
TEST(MemberWriterTest, LocatedAndDecodedMembersAgree) {
  ProfileStore store;
  ASSERT_TRUE(LoadText(RandomProfiles(200, 9), &store).rejected.empty());
  const std::shared_ptr<const Index> index = Index::Build(store);
  const std::vector<std::vector<std::string>> field_lists = {
      {"id", "name", "email", "phone", "customer_type"},
      {"orders", "csat", "signed_up", "seen", "vip", "churned", "tags"},
      {"raw", "unknown", "name", "name", "address.city"},
      {},
  };
  for (const std::vector<std::string>& fields : field_lists) {
    std::vector<std::string> with = fields;
    with.push_back("identities");
    const MemberWriter located(*index, fields);
    const MemberWriter decoded(*index, with);
    DecodedProfile scratch;
    for (uint32_t row = 0; row < index->row_count(); ++row) {
      JsonWriter a, b;
      located.Write(index->blob(row), &scratch, a);
      decoded.Write(index->blob(row), &scratch, b);
      std::string expected = b.str();
      const size_t key = expected.rfind(",\"identities\":");
      ASSERT_NE(key, std::string::npos);
      expected = expected.substr(0, key) + "}";
      EXPECT_EQ(a.str(), expected) << "row " << row;
    }
  }
}

// More distinct attributes than slots: the full decode, the same members.
TEST(MemberWriterTest, ManyFieldsFallBackToTheWholeDecode) {
  std::string record = R"({"id":"m")";
  std::vector<std::string> fields;
  for (int i = 0; i < 100; ++i) {
    record += ",\"f" + std::to_string(i) + "\":" + std::to_string(i);
    fields.push_back("f" + std::to_string(i));
  }
  record += "}\n";
  ProfileStore store;
  ASSERT_TRUE(LoadText(record, &store).rejected.empty());
  const std::shared_ptr<const Index> index = Index::Build(store);
  const MemberWriter writer(*index, fields);
  DecodedProfile scratch;
  JsonWriter out;
  writer.Write(index->blob(0), &scratch, out);
  std::string expected = R"({"id":"m")";
  for (int i = 0; i < 100; ++i) {
    expected += ",\"f" + std::to_string(i) + "\":" + std::to_string(i);
  }
  EXPECT_EQ(out.str(), expected + "}");
}

}  // namespace
}  // namespace segd
