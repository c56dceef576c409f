// Edits of stored profiles (SPEC §1): patch, tags, merge, appended events,
// and the parsers of their bodies. Every rejected edit must change nothing,
// not even the schema.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "index/profile_codec.h"
#include "index/profile_store.h"
#include "ingest/loader.h"
#include "ingest/patch_parser.h"
#include "ingest/record_parser.h"
#include "tests/tsan.h"

namespace segd {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;
using Strings = std::vector<std::string>;

// Each edit runs on a store with its own tables, and again on one that
// shared them after its first load (ProfileStore::ShareTables), as a live
// database's first layer takes them: later edits leave stale entries
// there, which its lookups must step over.
class ProfileEditTest : public ::testing::TestWithParam<bool> {
 protected:
  void Load(std::string_view ndjson) {
    LoadReport r = LoadText(ndjson, &store_);
    ASSERT_TRUE(r.rejected.empty()) << r.rejected[0].error.ToString();
    if (GetParam()) store_.ShareTables();
  }
  uint32_t Row(std::string_view id) {
    auto row = store_.FindRow(id);
    EXPECT_TRUE(row.has_value()) << id;
    return row.value_or(0);
  }
  DecodedProfile Decoded(std::string_view id) {
    DecodedProfile p;
    DecodeProfile(store_.blob(Row(id)), &p);
    return p;
  }
  // The attribute `name` of profile `id` as text, "" when absent: a string
  // or date as stored ("s:" or "d:" before it), a number or bool as JSON, a
  // string array as "[a,b]", an unindexable value as its JSON.
  std::string Attr(std::string_view id, std::string_view name) {
    auto attr = store_.schema().Find(name);
    if (!attr) return "";
    DecodedProfile p = Decoded(id);
    const DecodedValue* v = p.Find(*attr);
    if (v == nullptr) return "";
    char buffer[kMaxIsoText];
    switch (v->tag) {
      case ValueTag::kString:
        return "s:" + std::string(v->text);
      case ValueTag::kDate:
      case ValueTag::kDateLayout:
        return "d:" + std::string(v->DateText(buffer));
      case ValueTag::kInt:
        return std::to_string(v->number.i);
      case ValueTag::kDouble:
        return std::to_string(v->number.d);
      case ValueTag::kFalse:
        return "false";
      case ValueTag::kTrue:
        return "true";
      case ValueTag::kStringArray: {
        std::string out = "[";
        v->ForEachString([&](std::string_view s) {
          if (out.size() > 1) out += ",";
          out += s;
        });
        return out + "]";
      }
      case ValueTag::kRaw:
        return std::string(v->text);
    }
    return "?";
  }
  // Attribute names in stored order, customer_type included.
  Strings Keys(std::string_view id) {
    Strings keys;
    for (const DecodedValue& v : Decoded(id).values) {
      keys.push_back(store_.schema().attribute(v.attr).name);
    }
    return keys;
  }
  Pairs Identities(std::string_view id) {
    Pairs out;
    for (const auto& [c, h] : Decoded(id).identities) out.emplace_back(c, h);
    return out;
  }
  // "name@millis" per event, in stored order.
  Strings Events(std::string_view id) {
    Strings out;
    for (const StoredEvent& e : Decoded(id).events) {
      out.push_back(store_.schema().event_name(e.name) + "@" +
                    std::to_string(e.at_ms));
    }
    return out;
  }
  bool TypeIsSet(std::string_view id) {
    return Decoded(id).flags & kExplicitCustomerType;
  }
  std::string Blob(std::string_view id) {
    return std::string(store_.blob(Row(id)));
  }
  std::optional<std::string> Owner(std::string_view channel,
                                   std::string_view handle) {
    auto row = store_.FindIdentity(channel, handle);
    if (!row) return std::nullopt;
    DecodedProfile p;
    DecodeProfile(store_.blob(*row), &p);
    return std::string(p.id);
  }
  // Parses `json` as a patch and applies it to `id`.
  Result<uint32_t> Patch(std::string_view id, std::string_view json) {
    ProfilePatch patch;
    Status parsed = ParsePatch(json, &patch);
    EXPECT_TRUE(parsed.ok()) << parsed.ToString();
    if (!parsed.ok()) return parsed;
    return store_.Patch(id, patch);
  }
  Result<uint32_t> Tags(std::string_view id, const Strings& add,
                        const Strings& remove) {
    return store_.UpdateTags(id, add, remove);
  }

  ProfileStore store_;
};

// The whole state an edit may touch, to check a rejected one changed none.
struct Snapshot {
  std::vector<std::string> blobs;
  size_t attributes;
  size_t events;
  uint64_t live;

  explicit Snapshot(const ProfileStore& store)
      : attributes(store.schema().size()),
        events(store.schema().event_count()),
        live(store.live_count()) {
    for (uint32_t row = 0; row < store.row_count(); ++row) {
      blobs.emplace_back(store.blob(row));
    }
  }
  bool operator==(const Snapshot&) const = default;
};

ProfileInput::Event Event(std::string name, int64_t at_ms) {
  return ProfileInput::Event{std::move(name), at_ms};
}

// Loading ahead changes nothing a find gives, for ids held, unknown, cleared
// or in an empty store, at every step.
TEST_P(ProfileEditTest, FindsLoadedAheadFindTheSameRows) {
  for (int step = 0; step < ProfileStore::kFindSteps; ++step) {
    store_.PrefetchFind(ProfileStore::IdHash("a"), step);
  }
  Load(R"({"id":"a"})"
       "\n"
       R"({"id":"b"})");
  ASSERT_TRUE(store_.Delete("b").ok());
  for (const char* id : {"a", "b", "zz", ""}) {
    const std::optional<uint32_t> before = store_.FindRow(id);
    for (int step = 0; step < ProfileStore::kFindSteps; ++step) {
      store_.PrefetchFind(ProfileStore::IdHash(id), step);
    }
    EXPECT_EQ(store_.FindRow(id), before) << id;
  }
  EXPECT_TRUE(store_.FindRow("a").has_value());
  EXPECT_FALSE(store_.FindRow("b").has_value());
}

// --- Patch -----------------------------------------------------------------

TEST_P(ProfileEditTest, PatchMergesGivenKeysAndKeepsRowAndTheRest) {
  Load(R"({"id":"a","name":"Asha","city":"Pune","orders":2})");
  const uint32_t row = Row("a");
  Result<uint32_t> patched = Patch("a", R"({"city":"Mumbai","vip":true})");
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  EXPECT_EQ(*patched, row);
  EXPECT_EQ(Attr("a", "name"), "s:Asha");
  EXPECT_EQ(Attr("a", "city"), "s:Mumbai");
  EXPECT_EQ(Attr("a", "orders"), "2");
  EXPECT_EQ(Attr("a", "vip"), "true");
  // A replaced key keeps its place; a new one comes last, after the
  // customer_type the store writes first.
  EXPECT_EQ(Keys("a"),
            (Strings{"customer_type", "name", "city", "orders", "vip"}));
  EXPECT_EQ(store_.live_count(), 1u);
}

TEST_P(ProfileEditTest, PatchNullRemovesKeyAndEveryKeyNestedBelowIt) {
  Load(R"({"id":"a","address":{"city":"Pune","zip":"411001",)"
       R"("geo":{"lat":18.5}},"addressee":"x"})");
  ASSERT_TRUE(Patch("a", R"({"address":null})").ok());
  EXPECT_EQ(Attr("a", "address.city"), "");
  EXPECT_EQ(Attr("a", "address.zip"), "");
  EXPECT_EQ(Attr("a", "address.geo.lat"), "");
  EXPECT_EQ(Attr("a", "addressee"), "s:x");  // a longer name, not nested
}

TEST_P(ProfileEditTest, PatchMergesNestedObjectsKeyByKey) {
  Load(R"({"id":"a","address":{"city":"Pune","zip":"411001"}})");
  ASSERT_TRUE(Patch("a", R"({"address":{"city":"Mumbai"}})").ok());
  EXPECT_EQ(Attr("a", "address.city"), "s:Mumbai");
  EXPECT_EQ(Attr("a", "address.zip"), "s:411001");
  ASSERT_TRUE(Patch("a", R"({"address":{"zip":null}})").ok());
  EXPECT_EQ(Attr("a", "address.city"), "s:Mumbai");
  EXPECT_EQ(Attr("a", "address.zip"), "");
  // An empty object changes nothing.
  const std::string before = Blob("a");
  ASSERT_TRUE(Patch("a", R"({"address":{}})").ok());
  EXPECT_EQ(Blob("a"), before);
}

TEST_P(ProfileEditTest, PatchValueReplacesAnObjectAndAnObjectAValue) {
  Load(R"({"id":"a","address":{"city":"Pune"}})"
       "\n"
       R"({"id":"b","address":"Pune"})");
  ASSERT_TRUE(Patch("a", R"({"address":"Mumbai"})").ok());
  EXPECT_EQ(Keys("a"), (Strings{"customer_type", "address"}));
  EXPECT_EQ(Attr("a", "address"), "s:Mumbai");
  ASSERT_TRUE(Patch("b", R"({"address":{"city":"Nagpur"}})").ok());
  EXPECT_EQ(Attr("b", "address"), "");
  EXPECT_EQ(Attr("b", "address.city"), "s:Nagpur");
}

TEST_P(ProfileEditTest, PatchReplacesArraysWholeAndEmptyArrayRemoves) {
  Load(R"({"id":"a","tags":["vip","new"],"scores":[1,2]})");
  ASSERT_TRUE(Patch("a", R"({"tags":["churned"],"scores":[3]})").ok());
  EXPECT_EQ(Attr("a", "tags"), "[churned]");
  EXPECT_EQ(Attr("a", "scores"), "[3]");
  ASSERT_TRUE(Patch("a", R"({"tags":[]})").ok());
  EXPECT_EQ(Attr("a", "tags"), "");
}

TEST_P(ProfileEditTest, RejectedPatchChangesNothingNotEvenTheSchema) {
  Load(R"({"id":"a","orders":3,"identities":{"email":"a@x"}})"
       "\n"
       R"({"id":"b","name":"B"})");
  const Snapshot before(store_);
  Result<uint32_t> r = Patch(
      "a", R"({"brand_new":1,"orders":"many","identities":{"whatsapp":"+91"},)"
           R"("events":[{"name":"never_seen","at":"2026-01-01"}]})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalid);
  EXPECT_EQ(r.status().path(), "/orders");
  const std::string message = r.status().message();
  EXPECT_NE(message.find("expected number, got string"), std::string::npos)
      << message;
  EXPECT_TRUE(Snapshot(store_) == before);
  EXPECT_FALSE(store_.schema().Find("brand_new").has_value());
  EXPECT_FALSE(store_.schema().FindEvent("never_seen").has_value());
  EXPECT_FALSE(Owner("whatsapp", "+91").has_value());
  // brand_new took no type: a later string fixes it as a string.
  ASSERT_TRUE(Patch("b", R"({"brand_new":"text"})").ok());
  EXPECT_EQ(store_.schema().attribute(*store_.schema().Find("brand_new")).type,
            AttrType::kString);
}

TEST_P(ProfileEditTest, PatchErrorNamesTheNestedAttribute) {
  Load(R"({"id":"a","address":{"zip":411001}})");
  Result<uint32_t> r = Patch("a", R"({"address":{"zip":"411001"}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().path(), "/address/zip");
  EXPECT_EQ(Attr("a", "address.zip"), "411001");
}

TEST_P(ProfileEditTest, PatchOfUnknownIdIsNotFound) {
  Result<uint32_t> r = Patch("nobody", R"({"x":1})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(store_.schema().Find("x").has_value());
}

TEST_P(ProfileEditTest, PatchRefusesReservedNamesAsAttributes) {
  Load(R"({"id":"a"})");
  for (const char* name : {"id", "identities", "events"}) {
    ProfilePatch patch;
    Value v;
    v.text = "x";
    patch.attributes.emplace_back(name, v);
    Result<uint32_t> r = store_.Patch("a", patch);
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalid);
    EXPECT_FALSE(store_.schema().Find(name).has_value());
  }
}

TEST_P(ProfileEditTest, PatchMergesIdentitiesByChannelAndNullRemovesOne) {
  Load(R"({"id":"a","identities":{"email":"a@x","whatsapp":"+911"}})");
  ASSERT_TRUE(Patch("a", R"({"identities":{"email":"new@x","instagram":"@a",)"
                         R"("whatsapp":null,"widget":null}})")
                  .ok());
  EXPECT_EQ(Identities("a"), (Pairs{{"email", "new@x"}, {"instagram", "@a"}}));
  EXPECT_EQ(Owner("email", "new@x"), "a");
  EXPECT_EQ(Owner("instagram", "@a"), "a");
  EXPECT_FALSE(Owner("email", "a@x").has_value());
  EXPECT_FALSE(Owner("whatsapp", "+911").has_value());
  // The released handle is free for another profile.
  Load(R"({"id":"b","identities":{"whatsapp":"+911"}})");
  EXPECT_EQ(Owner("whatsapp", "+911"), "b");
  // Claiming its own handle again is no conflict.
  EXPECT_TRUE(Patch("a", R"({"identities":{"email":"new@x"}})").ok());
}

// A rewrite keeps, unchecked, the identities it names again, lets go of
// the ones it does not, and claims the new ones.
TEST_P(ProfileEditTest, RewritesKeepTheIdentitiesNamedAgainAndFreeTheRest) {
  Load(R"({"id":"a","identities":{"email":"a@x","whatsapp":"+911"}})");
  ASSERT_TRUE(Patch("a", R"({"city":"Pune"})").ok());
  EXPECT_EQ(Owner("email", "a@x"), "a");
  EXPECT_EQ(Owner("whatsapp", "+911"), "a");
  // An upsert replaces the profile whole.
  Load(R"({"id":"a","identities":{"email":"a@x","instagram":"@a"}})");
  EXPECT_EQ(Identities("a"), (Pairs{{"email", "a@x"}, {"instagram", "@a"}}));
  EXPECT_EQ(Owner("email", "a@x"), "a");
  EXPECT_EQ(Owner("instagram", "@a"), "a");
  EXPECT_FALSE(Owner("whatsapp", "+911").has_value());
  Load(R"({"id":"b","identities":{"whatsapp":"+911"}})");
  EXPECT_EQ(Owner("whatsapp", "+911"), "b");
  const LoadReport taken =
      LoadText(R"({"id":"c","identities":{"instagram":"@a"}})", &store_);
  ASSERT_EQ(taken.rejected.size(), 1u);
  EXPECT_EQ(taken.rejected[0].error.code(), ErrorCode::kConflict);
  // A channel named twice keeps its last handle: the first is not claimed.
  Load(R"({"id":"d","identities":{"widget":"w1","widget":"w2"}})");
  EXPECT_EQ(Identities("d"), (Pairs{{"widget", "w2"}}));
  EXPECT_FALSE(Owner("widget", "w1").has_value());
  EXPECT_EQ(Owner("widget", "w2"), "d");
  Load(R"({"id":"d","identities":{"email":"d@x"}})");
  EXPECT_FALSE(Owner("widget", "w2").has_value());
  Load(R"({"id":"e","identities":{"widget":"w2"}})");
  EXPECT_EQ(Owner("widget", "w2"), "e");
}

TEST_P(ProfileEditTest, PatchClaimingAnotherProfilesIdentityIsRejectedWhole) {
  Load(R"({"id":"a","identities":{"email":"a@x"}})"
       "\n"
       R"({"id":"b","identities":{"email":"b@x"}})");
  const Snapshot before(store_);
  Result<uint32_t> r =
      Patch("a", R"({"city":"Pune","identities":{"email":"b@x"}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kConflict);
  EXPECT_EQ(r.status().path(), "/identities/email");
  EXPECT_NE(r.status().message().find("\"b\""), std::string::npos)
      << r.status().message();
  EXPECT_TRUE(Snapshot(store_) == before);
  EXPECT_FALSE(store_.schema().Find("city").has_value());
  EXPECT_EQ(Owner("email", "a@x"), "a");
  EXPECT_EQ(Owner("email", "b@x"), "b");
}

TEST_P(ProfileEditTest, PatchAppendsEvents) {
  Load(R"({"id":"a","events":[{"name":"order","at":"2026-01-02"}]})");
  ASSERT_TRUE(Patch("a", R"({"events":[{"name":"visit","at":"2026-01-01"},)"
                         R"({"name":"ORDER","at":"2026-01-03T00:00:00Z"}]})")
                  .ok());
  // ORDER keeps its spelling; rules fold it into the order event.
  EXPECT_EQ(Events("a"), (Strings{"order@1767312000000", "visit@1767225600000",
                                  "ORDER@1767398400000"}));
}

TEST_P(ProfileEditTest, PatchIdentitiesNullRemovesEveryIdentity) {
  Load(R"({"id":"a","city":"Pune",)"
       R"("identities":{"email":"a@x","whatsapp":"+911"}})");
  ASSERT_TRUE(Patch("a", R"({"identities":null})").ok());
  EXPECT_TRUE(Identities("a").empty());
  EXPECT_FALSE(Owner("email", "a@x").has_value());
  EXPECT_FALSE(Owner("whatsapp", "+911").has_value());
  EXPECT_EQ(Attr("a", "city"), "s:Pune");
  // The released handles are free for another profile.
  Load(R"({"id":"b","identities":{"email":"a@x"}})");
  EXPECT_EQ(Owner("email", "a@x"), "b");
  // On a profile without identities it changes nothing.
  const std::string before = Blob("a");
  ASSERT_TRUE(Patch("a", R"({"identities":null})").ok());
  EXPECT_EQ(Blob("a"), before);
}

TEST_P(ProfileEditTest, PatchIdentitiesGivenTwiceTakesTheLast) {
  Load(R"({"id":"a","identities":{"email":"a@x","whatsapp":"+911"}})");
  // null, then an object: the object merges by channel as if alone.
  ASSERT_TRUE(
      Patch("a", R"({"identities":null,"identities":{"widget":"w1"}})").ok());
  EXPECT_EQ(Identities("a"),
            (Pairs{{"email", "a@x"}, {"whatsapp", "+911"}, {"widget", "w1"}}));
  // An object, then null: every identity goes.
  ASSERT_TRUE(
      Patch("a", R"({"identities":{"instagram":"@a"},"identities":null})")
          .ok());
  EXPECT_TRUE(Identities("a").empty());
  EXPECT_FALSE(Owner("instagram", "@a").has_value());
}

TEST_P(ProfileEditTest, PatchEventsNullAppendsNothing) {
  Load(R"({"id":"a","events":[{"name":"order","at":"2026-01-02"}]})");
  ASSERT_TRUE(Patch("a", R"({"events":null,"city":"Pune"})").ok());
  EXPECT_EQ(Events("a"), (Strings{"order@1767312000000"}));
  EXPECT_EQ(Attr("a", "city"), "s:Pune");
}

// --- customer_type -----------------------------------------------------------

TEST_P(ProfileEditTest, DerivedCustomerTypeFollowsEveryPatch) {
  Load(R"({"id":"a","email":"a@x"})");
  EXPECT_EQ(Attr("a", "customer_type"), "s:lead");
  EXPECT_FALSE(TypeIsSet("a"));
  ASSERT_TRUE(Patch("a", R"({"orders":1})").ok());
  EXPECT_EQ(Attr("a", "customer_type"), "s:customer");
  ASSERT_TRUE(Patch("a", R"({"orders":0})").ok());
  EXPECT_EQ(Attr("a", "customer_type"), "s:lead");
  ASSERT_TRUE(Patch("a", R"({"email":null,"customer_id":"shop-1"})").ok());
  EXPECT_EQ(Attr("a", "customer_type"), "s:customer");
  ASSERT_TRUE(Patch("a", R"({"customer_id":null})").ok());
  EXPECT_EQ(Attr("a", "customer_type"), "s:guest");
  EXPECT_FALSE(TypeIsSet("a"));
}

TEST_P(ProfileEditTest, PatchedCustomerTypeIsKeptUntilRemovedWithNull) {
  Load(R"({"id":"a","email":"a@x"})");
  ASSERT_TRUE(Patch("a", R"({"customer_type":"Customer"})").ok());
  EXPECT_EQ(Attr("a", "customer_type"), "s:customer");
  EXPECT_TRUE(TypeIsSet("a"));
  // Other edits keep a set value, even where derivation would differ.
  ASSERT_TRUE(Patch("a", R"({"email":null})").ok());
  ASSERT_TRUE(Tags("a", {"vip"}, {}).ok());
  ASSERT_TRUE(store_.AppendEvents("a", std::vector{Event("x", 0)}).ok());
  EXPECT_EQ(Attr("a", "customer_type"), "s:customer");
  EXPECT_TRUE(TypeIsSet("a"));
  ASSERT_TRUE(Patch("a", R"({"customer_type":null})").ok());
  EXPECT_EQ(Attr("a", "customer_type"), "s:guest");
  EXPECT_FALSE(TypeIsSet("a"));
}

TEST_P(ProfileEditTest, CustomerTypeSetByRecordSurvivesPatches) {
  Load(R"({"id":"a","customer_type":"lead","orders":5})");
  ASSERT_TRUE(Patch("a", R"({"city":"Pune"})").ok());
  EXPECT_EQ(Attr("a", "customer_type"), "s:lead");
  EXPECT_TRUE(TypeIsSet("a"));
}

TEST_P(ProfileEditTest, PatchWithBadCustomerTypeChangesNothing) {
  Load(R"({"id":"a","email":"a@x"})");
  const Snapshot before(store_);
  Result<uint32_t> r = Patch("a", R"({"customer_type":"vip","x":1})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalid);
  EXPECT_EQ(r.status().path(), "/customer_type");
  EXPECT_TRUE(Snapshot(store_) == before);
}

// --- Values kept as they were
// -------------------------------------------------

TEST_P(ProfileEditTest, DatesKeepTheirSpellingThroughEdits) {
  Load(R"({"id":"a","d1":"2026-11-19","d2":"2026-11-19T13:30:00+05:30",)"
       R"("d3":"2026-11-19T08:00:00.123456Z","d4":"2026-11-19T08:00Z",)"
       R"("n":1.5,"big":12345678901234,"b":false,"raw":[1,{"k":null}]})");
  const std::string before = Blob("a");
  ASSERT_TRUE(Patch("a", R"({"x":"y"})").ok());
  ASSERT_TRUE(Patch("a", R"({"x":null})").ok());
  EXPECT_EQ(Blob("a"), before);  // byte for byte
  EXPECT_EQ(Attr("a", "d1"), "d:2026-11-19");
  EXPECT_EQ(Attr("a", "d2"), "d:2026-11-19T13:30:00+05:30");
  EXPECT_EQ(Attr("a", "d3"), "d:2026-11-19T08:00:00.123456Z");
  EXPECT_EQ(Attr("a", "d4"), "d:2026-11-19T08:00Z");
  EXPECT_EQ(Attr("a", "raw"), R"([1,{"k":null}])");
  // A patched date takes the patch's spelling.
  ASSERT_TRUE(Patch("a", R"({"d1":"2026-11-20T00:00:00.000+00:00"})").ok());
  EXPECT_EQ(Attr("a", "d1"), "d:2026-11-20T00:00:00.000+00:00");
}

// A patch of values alone changes only their bytes (and a derived
// customer_type's). A patch that also names the profile's one identity
// again changes nothing more, but takes the whole path: decoded, checked
// and stored whole. Both must give the same bytes and the same errors.
TEST_P(ProfileEditTest, PatchedValuesAreTheBytesOfTheProfileStoredWhole) {
  ProfileStore whole;
  const std::string profiles =
      R"({"id":"a","code":"2026-11-19","d":"2026-11-19T08:00:00.5Z",)"
      R"("n":-3,"f":0.25,"t":["x"],"raw":[[1]],"b":true,"email":"a@x",)"
      R"("address":{"city":"Pune"},"identities":{"w":"1"},)"
      R"("events":[{"name":"x","at":"2026-01-01T00:00:00.001Z"}]})"
      "\n"
      R"({"id":"b","identities":{"w":"2"}})"
      "\n"
      R"({"id":"c","orders":2,"phone":"+91","customer_id":"c1","city":"X",)"
      R"("customer_type":"guest","identities":{"w":"3"}})";
  for (ProfileStore* store : {&store_, &whole}) {
    ASSERT_TRUE(store->Declare("code", AttrType::kString).ok());
    LoadReport r = LoadText(profiles, store);
    ASSERT_TRUE(r.rejected.empty()) << r.rejected[0].error.ToString();
  }
  // Keys of every type, the inputs of customer_type's derivation, keys
  // nested below and above others, and values of the wrong type.
  const std::vector<std::pair<std::string, Strings>> keys = {
      {"orders", {"0", "1", "2.5", "null", "\"many\""}},
      {"email", {"\"x@y\"", "null"}},
      {"phone", {"\"+9198\"", "null"}},
      {"customer_id", {"\"c2\"", "null", "7"}},
      {"code", {"\"2027-01-01\"", "\"text\"", "null"}},
      {"d", {"\"2026-01-01T00:00:00Z\"", "\"2026-02-02\"", "null", "1"}},
      {"n", {"7", "-1.5", "null"}},
      {"t", {R"(["p","q"])", "[]"}},
      {"b", {"false", "null"}},
      {"raw", {"[[2]]", "null"}},
      {"city", {"\"Pune\"", "null", "true"}},
      {"address", {R"({"city":"Nagpur"})", "\"Mumbai\"", "null"}},
      {"address.city", {"\"Goa\""}},
  };
  // Two values of the wrong type: the error names the first in the
  // profile's order (keys it lacks after those it holds), not the patch's.
  const Strings fixed = {R"("city":true,"d":1)", R"("n":"x","d":1)",
                         R"("d":1,"n":"x")", R"("b":1,"code":2)"};
  std::mt19937_64 rng(5);
  for (int round = 0; round < 600; ++round) {
    const bool given = round < static_cast<int>(fixed.size());
    const std::string id = given ? "a" : std::string(1, "aabc"[rng() % 4]);
    std::string body;
    for (int k = 1 + rng() % 3; k > 0; --k) {
      const auto& [name, values] = keys[rng() % keys.size()];
      body += (body.empty() ? "" : ",") + ("\"" + name + "\":") +
              values[rng() % values.size()];
    }
    if (given) body = fixed[round];
    const std::string handle = id == "a" ? "1" : id == "b" ? "2" : "3";
    ProfilePatch values_alone, with_identity;
    ASSERT_TRUE(ParsePatch("{" + body + "}", &values_alone).ok()) << body;
    ASSERT_TRUE(
        ParsePatch(R"({"identities":{"w":")" + handle + R"("},)" + body + "}",
                   &with_identity)
            .ok());
    const Result<uint32_t> fast = store_.Patch(id, values_alone);
    const Result<uint32_t> slow = whole.Patch(id, with_identity);
    ASSERT_EQ(fast.ok(), slow.ok()) << body;
    EXPECT_TRUE(!given || !fast.ok()) << body;
    if (!fast.ok()) {
      EXPECT_EQ(fast.status().ToString(), slow.status().ToString()) << body;
    }
    for (const std::string other : {"a", "b", "c"}) {
      ASSERT_EQ(Blob(other), whole.blob(*whole.FindRow(other)))
          << "round " << round << ", " << other << " after " << body;
    }
  }
  EXPECT_EQ(store_.schema().size(), whole.schema().size());
}

TEST_P(ProfileEditTest, DeclaredStringKeepsDateLookingTextAsAString) {
  ASSERT_TRUE(store_.Declare("code", AttrType::kString).ok());
  Load(R"({"id":"a","code":"2026-11-19"})");
  EXPECT_EQ(Attr("a", "code"), "s:2026-11-19");
  ASSERT_TRUE(Patch("a", R"({"x":1})").ok());
  EXPECT_EQ(Attr("a", "code"), "s:2026-11-19");
  ASSERT_TRUE(Patch("a", R"({"code":"2027-01-01T00:00:00Z"})").ok());
  EXPECT_EQ(Attr("a", "code"), "s:2027-01-01T00:00:00Z");
  ASSERT_TRUE(store_.AppendEvents("a", std::vector{Event("x", 0)}).ok());
  EXPECT_EQ(Attr("a", "code"), "s:2027-01-01T00:00:00Z");
}

// --- Tags
// ----------------------------------------------------------------------

TEST_P(ProfileEditTest, TagsAddSkippingPresentThenRemoveKeepingOrder) {
  Load(R"({"id":"a","tags":["vip","new"]})");
  const uint32_t row = Row("a");
  Result<uint32_t> r = Tags("a", {"gold", "vip", "beta", "gold"}, {"new"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, row);
  EXPECT_EQ(Attr("a", "tags"), "[vip,gold,beta]");
  // Removal comes after the adds: a tag in both is gone.
  ASSERT_TRUE(Tags("a", {"x"}, {"x", "absent"}).ok());
  EXPECT_EQ(Attr("a", "tags"), "[vip,gold,beta]");
}

TEST_P(ProfileEditTest, TagsCompareWithAsciiCaseFolded) {
  Load(R"({"id":"a","tags":["vip","New"]})");
  // VIP is vip; of GOLD and gold only the first is added, as given.
  ASSERT_TRUE(Tags("a", {"VIP", "GOLD", "gold", "Beta"}, {}).ok());
  EXPECT_EQ(Attr("a", "tags"), "[vip,New,GOLD,Beta]");
  // Removing new removes New; removing Gold removes GOLD.
  ASSERT_TRUE(Tags("a", {}, {"new", "Gold"}).ok());
  EXPECT_EQ(Attr("a", "tags"), "[vip,Beta]");
  // A tag both added and removed in any case is gone.
  ASSERT_TRUE(Tags("a", {"Trial"}, {"TRIAL", "VIP"}).ok());
  EXPECT_EQ(Attr("a", "tags"), "[Beta]");
  // Only ASCII folds: Ü and ü are two tags.
  ASSERT_TRUE(Tags("a", {"\xC3\x9C", "\xC3\xBC"}, {}).ok());
  EXPECT_EQ(Attr("a", "tags"), "[Beta,\xC3\x9C,\xC3\xBC]");
  // Adding what is there in another case rewrites nothing.
  const std::string before = Blob("a");
  ASSERT_TRUE(Tags("a", {"BETA"}, {}).ok());
  EXPECT_EQ(Blob("a"), before);
}

TEST_P(ProfileEditTest, TagsAreCreatedWhenAbsentAndRemovedWhenEmptied) {
  Load(R"({"id":"a","city":"Pune"})");
  ASSERT_TRUE(Tags("a", {}, {"x"}).ok());
  EXPECT_EQ(Attr("a", "tags"), "");
  EXPECT_FALSE(store_.schema().Find("tags").has_value());
  ASSERT_TRUE(Tags("a", {"b", "a"}, {}).ok());
  EXPECT_EQ(Attr("a", "tags"), "[b,a]");
  EXPECT_EQ(store_.schema().attribute(*store_.schema().Find("tags")).type,
            AttrType::kStringArray);
  ASSERT_TRUE(Tags("a", {}, {"a", "b"}).ok());
  EXPECT_EQ(Attr("a", "tags"), "");
  EXPECT_EQ(Attr("a", "city"), "s:Pune");
}

TEST_P(ProfileEditTest, TagsOfAnotherTypeAreInvalidAndChangeNothing) {
  // Only a declaration gives `tags` another type than a string array.
  ASSERT_TRUE(store_.Declare("tags", AttrType::kString).ok());
  Load(R"({"id":"a","tags":"vip"})"
       "\n"
       R"({"id":"b"})");
  const Snapshot before(store_);
  Result<uint32_t> r = Tags("a", {"gold"}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalid);
  // A profile without tags cannot create them against the schema's type.
  r = Tags("b", {"gold"}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalid);
  EXPECT_TRUE(Snapshot(store_) == before);
}

// A first `tags` that is not a list of strings would fix the attribute as
// something the tags endpoint and merges cannot edit: the record is refused,
// and the next one's list fixes it.
TEST_P(ProfileEditTest, TagsAreFirstSeenOnlyAsAListOfStrings) {
  for (const char* record :
       {R"({"id":"a","tags":"vip"})", R"({"id":"a","tags":["vip",null]})",
        R"({"id":"a","tags":true})"}) {
    const Snapshot before(store_);
    LoadReport r = LoadText(record, &store_);
    ASSERT_EQ(r.rejected.size(), 1u) << record;
    EXPECT_EQ(r.rejected[0].error.code(), ErrorCode::kInvalid) << record;
    EXPECT_EQ(r.rejected[0].error.path(), "/tags") << record;
    EXPECT_FALSE(store_.schema().Find("tags").has_value()) << record;
    EXPECT_TRUE(Snapshot(store_) == before) << record;
  }
  Load(R"({"id":"a","tags":["vip"]})");
  ASSERT_TRUE(Tags("a", {"gold"}, {"vip"}).ok());
  EXPECT_EQ(Attr("a", "tags"), "[gold]");
}

// A tags edit rewrites the tags' own bytes alone: every other value, in
// its order and spelling, the identities, the events and the flags stay
// as they were, whether the tags come first, between values, last, or not
// at all.
TEST_P(ProfileEditTest, TagsChangeNothingElseOfTheProfile) {
  Load(
      R"({"id":"first","tags":["a"],"city":"Pune","score":2.5,"customer_type":"LEAD"})"
      "\n"
      R"({"id":"middle","signed_up":"2026-11-19","tags":["a"],"address":{"zip":"411001"},"ok":true,"identities":{"email":"m@x.in"},"events":[{"name":"order","at":"2026-11-18T10:00:00.250Z"}]})"
      "\n"
      R"({"id":"last","orders":3,"seen":"2026-11-19T10:00:00+05:30","notes":{"x":[1,{"y":2}]},"tags":["a"]})"
      "\n"
      R"({"id":"none","city":"Mumbai","events":[{"name":"order","at":"2026-11-19T10:00:00Z"}]})");
  const AttrId tags = *store_.schema().Find("tags");
  // The profile as decoded, its tags left out.
  auto rest = [&](std::string_view id) {
    DecodedProfile p = Decoded(id);
    ProfileInput in;
    ToProfileInput(p, store_.schema(), &in);
    std::erase_if(in.attributes,
                  [](const auto& a) { return a.first == "tags"; });
    std::string text = std::to_string(p.flags);
    for (const auto& [name, v] : in.attributes) {
      text += "|" + name + "=" + v.text + "/" + std::to_string(v.date_ms) +
              "/" + std::to_string(v.number.d) + "/" +
              std::to_string(v.number.i) + "/" + std::to_string(v.boolean);
      for (const std::string& e : v.strings) text += "," + e;
    }
    for (const auto& [channel, handle] : in.identities) {
      text += "|" + channel + ":" + handle;
    }
    for (const auto& e : in.events) {
      text += "|" + e.name + "@" + std::to_string(e.at_ms);
    }
    return text;
  };
  for (const char* id : {"first", "middle", "last", "none"}) {
    const std::string before = rest(id);
    const size_t values = Decoded(id).values.size();
    const bool had = Decoded(id).Find(tags) != nullptr;
    ASSERT_TRUE(Tags(id, {"z", "A"}, {}).ok()) << id;
    EXPECT_EQ(rest(id), before) << id;
    EXPECT_EQ(Decoded(id).values.size(), values + !had) << id;
    EXPECT_EQ(Attr(id, "tags"), had ? "[a,z]" : "[z,A]") << id;
    ASSERT_TRUE(Tags(id, {}, {"z"}).ok()) << id;
    EXPECT_EQ(rest(id), before) << id;
    EXPECT_EQ(Attr(id, "tags"), had ? "[a]" : "[A]") << id;
    ASSERT_TRUE(Tags(id, {}, {"a"}).ok()) << id;
    EXPECT_EQ(Attr(id, "tags"), "") << id;
    EXPECT_EQ(Decoded(id).values.size(), values - had) << id;
    EXPECT_EQ(rest(id), before) << id;
  }
}

TEST_P(ProfileEditTest, TagsOfUnknownIdAreNotFound) {
  Result<uint32_t> r = Tags("nobody", {"x"}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(store_.schema().Find("tags").has_value());
}

// --- Merge
// -----------------------------------------------------------------------

TEST_P(ProfileEditTest, MergeKeepsIntoValuesFillsTheRestAndDeletesFrom) {
  Load(R"({"id":"a","name":"A","address":{"city":"Pune"},"plan":"x"})"
       "\n"
       R"({"id":"b","name":"B","email":"b@x","address":{"city":"Goa",)"
       R"("zip":"403001"},"plan":{"tier":"gold"},"orders":3})");
  const uint32_t a = Row("a"), b = Row("b");
  Result<MergeOutcome> r = store_.Merge("a", "b");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->into_row, a);
  EXPECT_EQ(r->from_row, b);
  EXPECT_FALSE(store_.is_live(b));
  EXPECT_FALSE(store_.FindRow("b").has_value());
  EXPECT_EQ(store_.live_count(), 1u);
  EXPECT_EQ(Attr("a", "name"), "s:A");
  EXPECT_EQ(Attr("a", "email"), "s:b@x");
  EXPECT_EQ(Attr("a", "address.city"), "s:Pune");
  EXPECT_EQ(Attr("a", "address.zip"), "s:403001");
  // into's plain `plan` wins over from's object of that name.
  EXPECT_EQ(Attr("a", "plan"), "s:x");
  EXPECT_EQ(Attr("a", "plan.tier"), "");
  EXPECT_EQ(Attr("a", "orders"), "3");
  // Derived again from the merged values.
  EXPECT_EQ(Attr("a", "customer_type"), "s:customer");
  EXPECT_FALSE(TypeIsSet("a"));
}

TEST_P(ProfileEditTest, MergeUnionsTagsIntoFirst) {
  Load(R"({"id":"a","tags":["x","y"]})"
       "\n"
       R"({"id":"b","tags":["y","z","w"],"labels":["l"]})");
  ASSERT_TRUE(store_.Merge("a", "b").ok());
  EXPECT_EQ(Attr("a", "tags"), "[x,y,z,w]");
  EXPECT_EQ(Attr("a", "labels"), "[l]");  // into lacks it: from's fills
}

TEST_P(ProfileEditTest, MergeUnionsTagsWithAsciiCaseFolded) {
  Load(R"({"id":"a","tags":["VIP","new"]})"
       "\n"
       R"({"id":"b","tags":["vip","Gold","NEW","gold","\u00fc"]})");
  ASSERT_TRUE(store_.Merge("a", "b").ok());
  // into's tags as they are, then from's that into lacks, in from's order.
  EXPECT_EQ(Attr("a", "tags"), "[VIP,new,Gold,\xC3\xBC]");
}

// SPEC §1 unions tags only: any other string array is a value, and into's
// wins whole.
TEST_P(ProfileEditTest, MergeKeepsIntosOtherStringArraysWhole) {
  Load(R"({"id":"a","labels":["x","y"],"tags":["t"]})"
       "\n"
       R"({"id":"b","labels":["y","z"],"channels":["sms"],"tags":["u"]})");
  ASSERT_TRUE(store_.Merge("a", "b").ok());
  EXPECT_EQ(Attr("a", "labels"), "[x,y]");
  EXPECT_EQ(Attr("a", "channels"), "[sms]");
  EXPECT_EQ(Attr("a", "tags"), "[t,u]");
}

TEST_P(ProfileEditTest, MergeUnionsIdentitiesByChannelAndReleasesTheRest) {
  Load(R"({"id":"a","identities":{"email":"a@x"}})"
       "\n"
       R"({"id":"b","identities":{"email":"b@x","whatsapp":"+91"}})");
  ASSERT_TRUE(store_.Merge("a", "b").ok());
  EXPECT_EQ(Identities("a"), (Pairs{{"email", "a@x"}, {"whatsapp", "+91"}}));
  EXPECT_EQ(Owner("email", "a@x"), "a");
  EXPECT_EQ(Owner("whatsapp", "+91"), "a");
  EXPECT_FALSE(Owner("email", "b@x").has_value());
  // b's released handle can be claimed by another profile; a's cannot.
  LoadReport c =
      LoadText(R"({"id":"c","identities":{"email":"b@x"}})", &store_);
  EXPECT_EQ(c.accepted, 1u);
  EXPECT_EQ(Owner("email", "b@x"), "c");
  LoadReport d =
      LoadText(R"({"id":"d","identities":{"whatsapp":"+91"}})", &store_);
  ASSERT_EQ(d.rejected.size(), 1u);
  EXPECT_EQ(d.rejected[0].error.code(), ErrorCode::kConflict);
  // An id ingested again after the merge is a new profile.
  Load(R"({"id":"b"})");
  EXPECT_NE(Row("b"), Row("a"));
  EXPECT_EQ(store_.live_count(), 3u);
}

TEST_P(ProfileEditTest, MergeConcatenatesEvents) {
  Load(R"({"id":"a","events":[{"name":"e1","at":"2026-01-02"}]})"
       "\n"
       R"({"id":"b","events":[{"name":"e2","at":"2026-01-01"},)"
       R"({"name":"e1","at":"2026-01-02"}]})");
  ASSERT_TRUE(store_.Merge("a", "b").ok());
  EXPECT_EQ(Events("a"), (Strings{"e1@1767312000000", "e2@1767225600000",
                                  "e1@1767312000000"}));
}

TEST_P(ProfileEditTest, MergeTakesFromsSetCustomerTypeOnlyWhenIntoHasNone) {
  Load(R"({"id":"a","orders":2})"
       "\n"
       R"({"id":"b","customer_type":"lead"})"
       "\n"
       R"({"id":"c","customer_type":"guest"})"
       "\n"
       R"({"id":"d","customer_type":"customer"})"
       "\n"
       R"({"id":"e","email":"e@x"})"
       "\n"
       R"({"id":"f"})");
  // Only from's is set: it fills into.
  ASSERT_TRUE(store_.Merge("a", "b").ok());
  EXPECT_EQ(Attr("a", "customer_type"), "s:lead");
  EXPECT_TRUE(TypeIsSet("a"));
  // Both set: into's stays.
  ASSERT_TRUE(store_.Merge("c", "d").ok());
  EXPECT_EQ(Attr("c", "customer_type"), "s:guest");
  EXPECT_TRUE(TypeIsSet("c"));
  // Neither set: derived from the merged values (e's email makes a lead),
  // whatever from's derived value was.
  ASSERT_TRUE(store_.Merge("f", "e").ok());
  EXPECT_EQ(Attr("f", "customer_type"), "s:lead");
  EXPECT_FALSE(TypeIsSet("f"));
}

TEST_P(ProfileEditTest, MergeIntoItselfOrWithUnknownIdChangesNothing) {
  Load(R"({"id":"a","identities":{"email":"a@x"}})");
  const Snapshot before(store_);
  Result<MergeOutcome> r = store_.Merge("a", "a");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalid);
  r = store_.Merge("a", "nobody");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kNotFound);
  r = store_.Merge("nobody", "a");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kNotFound);
  r = store_.Merge("nobody", "nobody");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(Snapshot(store_) == before);
  EXPECT_EQ(Owner("email", "a@x"), "a");
}

TEST_P(ProfileEditTest, MergedProfileTakesFurtherEdits) {
  Load(R"({"id":"a","identities":{"email":"a@x"}})"
       "\n"
       R"({"id":"b","identities":{"whatsapp":"+91"},"tags":["t"]})");
  ASSERT_TRUE(store_.Merge("a", "b").ok());
  ASSERT_TRUE(Patch("a", R"({"identities":{"whatsapp":null}})").ok());
  EXPECT_FALSE(Owner("whatsapp", "+91").has_value());
  ASSERT_TRUE(Tags("a", {"u"}, {"t"}).ok());
  EXPECT_EQ(Attr("a", "tags"), "[u]");
}

// --- Appended events
// ---------------------------------------------------------------

TEST_P(ProfileEditTest, AppendEventsKeepsEverythingElse) {
  Load(
      R"({"id":"a","city":"Pune","events":[{"name":"visit","at":"2026-01-01"}],)"
      R"("identities":{"email":"a@x"}})");
  const uint32_t row = Row("a");
  const std::vector events = {Event("Order", 5), Event("VISIT", 6)};
  Result<uint32_t> r = store_.AppendEvents("a", events);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, row);
  EXPECT_EQ(Events("a"),
            (Strings{"visit@1767225600000", "Order@5", "VISIT@6"}));
  EXPECT_EQ(Attr("a", "city"), "s:Pune");
  EXPECT_EQ(Owner("email", "a@x"), "a");
  EXPECT_EQ(store_.schema().event_count(), 3u);  // a spelling each
}

// Profile "a" with a value of every stored kind ("code" declared a string),
// identities and an event.
constexpr const char* kEveryKindOfValue =
    R"({"id":"a","code":"2026-11-19","d":"2026-11-19T08:00:00.5Z",)"
    R"("n":-3,"f":0.25,"t":["x"],"raw":[[1]],"b":true,"email":"a@x",)"
    R"("identities":{"w":"1","e":"2"},)"
    R"("events":[{"name":"x","at":"2026-01-01T00:00:00.001Z"}]})";

// Events are appended to the stored bytes without decoding the profile:
// the result must decode to the profile with every event in order, and be
// the very bytes the store writes for that profile whole. The instants take
// each of the encoder's forms: whole seconds, milliseconds, backwards, and
// differences too wide for a varint.
TEST_P(ProfileEditTest, AppendedEventsAreTheBytesOfTheProfileStoredWhole) {
  ASSERT_TRUE(store_.Declare("code", AttrType::kString).ok());
  Load(kEveryKindOfValue);
  Load(R"({"id":"bare"})");
  const std::vector<std::string> names = {"visit", "order", "Order", "cart"};
  const std::vector<int64_t> instants = {1767225600000,
                                         1767225601000,
                                         1767225601001,
                                         -62135596800000,
                                         253402300799999,
                                         std::numeric_limits<int64_t>::min(),
                                         std::numeric_limits<int64_t>::max(),
                                         0};
  // The profile as ToProfileInput gives it, customer_type derived again.
  auto input_of = [&](std::string_view id) {
    ProfileInput input;
    ToProfileInput(Decoded(id), store_.schema(), &input);
    std::erase_if(input.attributes,
                  [](const auto& a) { return a.first == kCustomerType; });
    return input;
  };
  std::mt19937_64 rng(11);
  for (const std::string id : {"a", "bare"}) {
    // The bytes before the events: the profile stored without them, less
    // the event count of 0 that closes it.
    ProfileInput without = input_of(id);
    const auto events = std::move(without.events);
    without.events.clear();
    ASSERT_TRUE(store_.Upsert(without).ok());
    const std::string values = Blob(id).substr(0, Blob(id).size() - 1);
    without.events = events;
    ASSERT_TRUE(store_.Upsert(without).ok());
    Strings expected = Events(id);
    for (int round = 0; round < 40; ++round) {
      std::vector<ProfileInput::Event> added(rng() % 4);
      for (auto& e : added) {
        e = Event(names[rng() % names.size()],
                  instants[rng() % instants.size()]);
        expected.push_back(e.name + "@" + std::to_string(e.at_ms));
      }
      ASSERT_TRUE(store_.AppendEvents(id, added).ok());
      const std::string appended = Blob(id);
      ASSERT_EQ(appended.substr(0, values.size()), values) << "round " << round;
      ASSERT_EQ(Events(id), expected) << "round " << round;
      // Stored whole, through every check, the profile keeps those bytes.
      ASSERT_TRUE(store_.Upsert(input_of(id)).ok());
      ASSERT_EQ(Blob(id), appended) << "round " << round;
    }
  }
}

TEST_P(ProfileEditTest, AppendEventsToUnknownIdIsNotFoundAndInternsNothing) {
  Result<uint32_t> r =
      store_.AppendEvents("nobody", std::vector{Event("order", 1)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_.schema().event_count(), 0u);
}

// --- The stored profile as an input
// --------------------------------------------------

TEST_P(ProfileEditTest, ToProfileInputStoresBackByteForByte) {
  ASSERT_TRUE(store_.Declare("code", AttrType::kString).ok());
  Load(kEveryKindOfValue);
  DecodedProfile decoded = Decoded("a");
  ProfileInput input;
  ToProfileInput(decoded, store_.schema(), &input);
  EXPECT_EQ(input.id, "a");
  EXPECT_EQ(input.identities, (Pairs{{"w", "1"}, {"e", "2"}}));
  ASSERT_EQ(input.events.size(), 1u);
  EXPECT_EQ(input.events[0].name, "x");
  // customer_type comes out too, first as it is stored; the store leaves a
  // derived one out.
  EXPECT_EQ(input.attributes.front().first, "customer_type");
  input.attributes.erase(input.attributes.begin());
  const std::string before = Blob("a");
  ASSERT_TRUE(store_.Upsert(input).ok());
  EXPECT_EQ(Blob("a"), before);
}

// --- Parsers
// -------------------------------------------------------------------------

TEST(PatchParserTest, FlattensAndTypesLikeARecordKeepingNullsAsRemovals) {
  ProfilePatch patch;
  // An exact-size string: the parser pads its own copy.
  const std::string json =
      R"({"address":{"city":"Pune","zip":null},"owner":null,"tags":[],)"
      R"("n":1,"d":"2026-11-19","s":"x","raw":[1,2],"t":["a"]})";
  ASSERT_TRUE(ParsePatch(json, &patch).ok());
  ASSERT_EQ(patch.attributes.size(), 9u);
  auto at = [&](size_t i) -> const std::pair<std::string, Value>& {
    return patch.attributes[i];
  };
  EXPECT_EQ(at(0).first, "address.city");
  EXPECT_EQ(at(0).second.text, "Pune");
  EXPECT_EQ(at(1).first, "address.zip");
  EXPECT_TRUE(at(1).second.absent);
  EXPECT_EQ(at(2).first, "owner");
  EXPECT_TRUE(at(2).second.absent);
  EXPECT_EQ(at(3).first, "tags");
  EXPECT_TRUE(at(3).second.absent);
  EXPECT_EQ(at(4).second.type, AttrType::kNumber);
  EXPECT_EQ(at(5).second.type, AttrType::kDate);
  EXPECT_EQ(at(5).second.text, "2026-11-19");
  EXPECT_EQ(at(6).second.type, AttrType::kString);
  EXPECT_EQ(at(7).second.type, AttrType::kUnindexable);
  EXPECT_EQ(at(8).second.type, AttrType::kStringArray);
  EXPECT_FALSE(at(0).second.absent);
  EXPECT_TRUE(patch.identities.empty());
  EXPECT_TRUE(patch.events.empty());
}

TEST(PatchParserTest, ReadsIdentitiesWithNullHandlesAndEvents) {
  ProfilePatch patch;
  Status s = ParsePatch(
      R"({"identities":{"email":"a@x","whatsapp":null,"email":"b@x"},)"
      R"("events":[{"name":"order","at":"2026-01-01","extra":[1]}]})",
      &patch);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(patch.identities.size(), 2u);
  EXPECT_EQ(patch.identities[0].first, "whatsapp");
  EXPECT_FALSE(patch.identities[0].second.has_value());
  EXPECT_EQ(patch.identities[1].first, "email");  // the last one wins
  EXPECT_EQ(patch.identities[1].second, "b@x");
  ASSERT_EQ(patch.events.size(), 1u);
  EXPECT_EQ(patch.events[0].name, "order");
  EXPECT_EQ(patch.events[0].at_ms, 1767225600000);
}

TEST(PatchParserTest, NullIdentitiesClearAndNullEventsAppendNothing) {
  ProfilePatch patch;
  Status s = ParsePatch(R"({"identities":null,"events":null})", &patch);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(patch.clear_identities);
  EXPECT_TRUE(patch.identities.empty());
  EXPECT_TRUE(patch.events.empty());
  // The last of a key given twice wins whole.
  s = ParsePatch(R"({"identities":{"a":"1"},"identities":null,)"
                 R"("events":[{"name":"x","at":"2026-01-01"}],"events":null})",
                 &patch);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(patch.clear_identities);
  EXPECT_TRUE(patch.identities.empty());
  EXPECT_TRUE(patch.events.empty());
  s = ParsePatch(R"({"identities":null,"identities":{"a":"1"}})", &patch);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(patch.clear_identities);
  ASSERT_EQ(patch.identities.size(), 1u);
  EXPECT_EQ(patch.identities[0].second, "1");
}

TEST(PatchParserTest, ReusedOutputHoldsOnlyTheLatestPatch) {
  ProfilePatch patch;
  ASSERT_TRUE(
      ParsePatch(R"({"a":1,"b":2,"identities":{"e":"x"}})", &patch).ok());
  ASSERT_TRUE(ParsePatch(R"({"identities":null})", &patch).ok());
  ASSERT_TRUE(ParsePatch(R"({"c":"x"})", &patch).ok());
  ASSERT_EQ(patch.attributes.size(), 1u);
  EXPECT_EQ(patch.attributes[0].first, "c");
  EXPECT_TRUE(patch.identities.empty());
  EXPECT_FALSE(patch.clear_identities);
}

struct BadBody {
  const char* json;
  ErrorCode code;
  const char* path;
};

TEST(PatchParserTest, RejectsBadBodiesWithCodeAndPointer) {
  const BadBody cases[] = {
      // Not JSON: kMalformed.
      {R"({"a":)", ErrorCode::kMalformed, ""},
      {R"({"a":1} x)", ErrorCode::kMalformed, ""},
      {R"({"a":tru})", ErrorCode::kMalformed, "/a"},
      {R"([1)", ErrorCode::kMalformed, ""},
      {R"([1] x)", ErrorCode::kMalformed, ""},
      {R"(["a",tru])", ErrorCode::kMalformed, ""},
      {R"("x)", ErrorCode::kMalformed, ""},
      {R"(nul)", ErrorCode::kMalformed, ""},
      {"", ErrorCode::kMalformed, ""},
      // JSON, but not an object (SPEC §5's 422): kInvalid.
      {R"([1])", ErrorCode::kInvalid, ""},
      {R"([])", ErrorCode::kInvalid, ""},
      {R"("x")", ErrorCode::kInvalid, ""},
      {R"(3)", ErrorCode::kInvalid, ""},
      {R"(true)", ErrorCode::kInvalid, ""},
      {R"(null)", ErrorCode::kInvalid, ""},
      {R"({"id":"a"})", ErrorCode::kInvalid, "/id"},
      {R"({"identities":["a"]})", ErrorCode::kInvalid, "/identities"},
      {R"({"identities":{"email":5}})", ErrorCode::kInvalid,
       "/identities/email"},
      {R"({"identities":{"email":""}})", ErrorCode::kInvalid,
       "/identities/email"},
      {R"({"events":{}})", ErrorCode::kInvalid, "/events"},
      {R"({"events":[{"name":"x"}]})", ErrorCode::kInvalid, "/events/0"},
      {R"({"events":[{"name":"x","at":"soon"}]})", ErrorCode::kInvalid,
       "/events/0/at"},
      {R"({"events":[{"name":"","at":"2026-01-01"}]})", ErrorCode::kInvalid,
       "/events/0/name"},
      {R"({"events":[1]})", ErrorCode::kInvalid, "/events/0"},
      {R"({"address":{"":1}})", ErrorCode::kInvalid, "/address/"},
  };
  for (const BadBody& c : cases) {
    ProfilePatch patch;
    Status s = ParsePatch(c.json, &patch);
    EXPECT_EQ(s.code(), c.code) << c.json << ": " << s.ToString();
    EXPECT_EQ(s.path(), c.path) << c.json << ": " << s.ToString();
  }
}

TEST(PatchParserTest, RefusesNestingBeyondTheRecordLimit) {
  std::string deep;
  for (int i = 0; i < kMaxRecordNesting + 2; ++i) deep += R"({"a":)";
  deep += "1";
  for (int i = 0; i < kMaxRecordNesting + 2; ++i) deep += "}";
  ProfilePatch patch;
  Status s = ParsePatch(deep, &patch);
  EXPECT_FALSE(s.ok());
}

TEST(EventRecordParserTest, ReadsIdNameAndAt) {
  std::string id;
  ProfileInput::Event event;
  Status s = ParseEventRecord(
      R"({"name":"order","extra":{"k":[1]},"at":"2026-01-01T00:00:01Z","id":"c-1"})",
      &id, &event);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(id, "c-1");
  EXPECT_EQ(event.name, "order");
  EXPECT_EQ(event.at_ms, 1767225601000);
}

TEST(EventRecordParserTest, RejectsBadLinesWithCodeAndPointer) {
  const BadBody cases[] = {
      {R"({"id":"a","name":"x")", ErrorCode::kMalformed, ""},
      {R"([])", ErrorCode::kMalformed, ""},
      {R"({"id":"a","name":"x","at":"2026-01-01"}{})", ErrorCode::kMalformed,
       ""},
      {R"({"name":"x","at":"2026-01-01"})", ErrorCode::kInvalid, "/id"},
      {R"({"id":7,"name":"x","at":"2026-01-01"})", ErrorCode::kInvalid, "/id"},
      {R"({"id":"","name":"x","at":"2026-01-01"})", ErrorCode::kInvalid, "/id"},
      {R"({"id":"..","name":"x","at":"2026-01-01"})", ErrorCode::kInvalid,
       "/id"},
      {R"({"id":"a\u0001","name":"x","at":"2026-01-01"})", ErrorCode::kInvalid,
       "/id"},
      {R"({"id":"a","at":"2026-01-01"})", ErrorCode::kInvalid, ""},
      {R"({"id":"a","name":"x"})", ErrorCode::kInvalid, ""},
      {R"({"id":"a","name":"x","at":"2026-02-30"})", ErrorCode::kInvalid,
       "/at"},
      {R"({"id":"a","name":3,"at":"2026-01-01"})", ErrorCode::kInvalid,
       "/name"},
  };
  for (const BadBody& c : cases) {
    std::string id;
    ProfileInput::Event event;
    Status s = ParseEventRecord(c.json, &id, &event);
    EXPECT_EQ(s.code(), c.code) << c.json << ": " << s.ToString();
    EXPECT_EQ(s.path(), c.path) << c.json << ": " << s.ToString();
  }
}

INSTANTIATE_TEST_SUITE_P(Tables, ProfileEditTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Shared" : "Own";
                         });

// --- Shared tables ---------------------------------------------------------

// A store that shared its tables finds every id and identity where one
// that never shared them does, through random upserts, deletes,
// re-created ids, merges and identity patches, most of which make entries
// of the shared tables stale. It shares them again only while it has
// written no entry since.
TEST(SharedTablesTest, LookupsMatchAStoreThatNeverShared) {
  ProfileStore own, shared;
  std::mt19937 rng(7);
  auto pick = [&](int n) {
    return std::uniform_int_distribution<int>(0, n - 1)(rng);
  };
  auto id = [&] { return "p" + std::to_string(pick(40)); };
  auto identity = [&]() -> std::pair<std::string, std::string> {
    return {pick(2) ? "email" : "whatsapp", "h" + std::to_string(pick(30))};
  };
  auto record = [&] {
    std::string r = R"({"id": ")" + id() + R"(", "identities": {)";
    const int n = pick(3);
    for (int k = 0; k < n; ++k) {
      const auto [channel, handle] = identity();
      r += (k ? ", \"" : "\"") + channel + R"(": ")" + handle + "\"";
    }
    return r + "}}";
  };
  auto both = [&](auto&& op) { return std::pair(op(own), op(shared)); };
  // Every entry of a table, as (hash, row), sorted.
  auto entries = [](const RowTable& table) {
    std::vector<std::pair<uint64_t, uint32_t>> out;
    table.ForEach(
        [&](uint64_t hash, uint32_t row) { out.emplace_back(hash, row); });
    std::sort(out.begin(), out.end());
    return out;
  };
  std::string first;
  for (int i = 0; i < 30; ++i) first += record() + "\n";
  LoadText(first, &own);
  LoadText(first, &shared);
  const std::optional<ProfileStore::SharedTables> tables = shared.ShareTables();
  ASSERT_TRUE(tables.has_value());
  EXPECT_EQ(entries(*tables->ids), entries(own.id_table()));
  EXPECT_EQ(entries(*tables->identities), entries(own.identity_table()));
  EXPECT_EQ(shared.id_table().size(), 0u);
  EXPECT_EQ(shared.identity_table().size(), 0u);
  const auto shared_ids = entries(*tables->ids);
  const auto shared_identities = entries(*tables->identities);
  // Nothing written: the same tables again.
  const std::optional<ProfileStore::SharedTables> again = shared.ShareTables();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->ids, tables->ids);
  EXPECT_EQ(again->identities, tables->identities);

  size_t stale_ids = 0, stale_identities = 0;
  for (int step = 0; step < 3000; ++step) {
    switch (pick(5)) {
      case 0: {
        const std::string r = record();
        const auto [a, b] =
            both([&](ProfileStore& s) { return LoadText(r, &s).accepted; });
        ASSERT_EQ(a, b) << r;
        break;
      }
      case 1: {
        const std::string p = id();
        const auto [a, b] =
            both([&](ProfileStore& s) { return s.Delete(p).code(); });
        ASSERT_EQ(a, b) << "delete " << p;
        break;
      }
      case 2: {
        const std::string into = id(), from = id();
        const auto [a, b] = both([&](ProfileStore& s) {
          return s.Merge(into, from).status().code();
        });
        ASSERT_EQ(a, b) << "merge " << from << " into " << into;
        break;
      }
      case 3: {
        const std::string p = id();
        ProfilePatch patch;
        const auto [channel, handle] = identity();
        patch.identities.emplace_back(
            channel, pick(3) ? std::optional(handle) : std::nullopt);
        patch.clear_identities = pick(8) == 0;
        const auto [a, b] = both(
            [&](ProfileStore& s) { return s.Patch(p, patch).status().code(); });
        ASSERT_EQ(a, b) << "patch " << p;
        break;
      }
      case 4: {
        const std::string p = id();
        const ProfileInput::Event event{"seen", 1795176000000};
        const auto [a, b] = both([&](ProfileStore& s) {
          return s.AppendEvents(p, {&event, 1}).status().code();
        });
        ASSERT_EQ(a, b) << "events " << p;
        break;
      }
    }
    // A row the shared table names for `hash`, whichever it is.
    auto named = [](const RowTable& table, uint64_t hash) {
      return table.Find(hash, [](uint32_t) { return true; });
    };
    for (int k = 0; k < 40; ++k) {
      const std::string p = "p" + std::to_string(k);
      // Loading ahead reads the rows the shared table names, stale or not.
      for (int s = 0; s < ProfileStore::kFindSteps; ++s) {
        shared.PrefetchFind(ProfileStore::IdHash(p), s, true);
      }
      const std::optional<uint32_t> row = own.FindRow(p);
      ASSERT_EQ(row, shared.FindRow(p)) << p << " at " << step;
      const std::optional<uint32_t> listed =
          named(*tables->ids, ProfileStore::IdHash(p));
      stale_ids += listed && listed != row;
    }
    for (const char* channel : {"email", "whatsapp"}) {
      for (int k = 0; k < 30; ++k) {
        const std::string h = "h" + std::to_string(k);
        const std::optional<uint32_t> row = own.FindIdentity(channel, h);
        ASSERT_EQ(row, shared.FindIdentity(channel, h))
            << channel << ":" << h << " at " << step;
        const std::optional<uint32_t> listed =
            named(*tables->identities, ProfileStore::IdentityHash(channel, h));
        stale_identities += listed && listed != row;
      }
    }
    ASSERT_EQ(own.live_count(), shared.live_count());
  }
  // The sequence did leave stale entries of both tables to step over, and
  // never changed the shared tables, which a layer's readers read.
  EXPECT_GT(stale_ids, 0u);
  EXPECT_GT(stale_identities, 0u);
  EXPECT_EQ(entries(*tables->ids), shared_ids);
  EXPECT_EQ(entries(*tables->identities), shared_identities);
  EXPECT_FALSE(shared.ShareTables().has_value());
}

// Records read as they always did: the parser shared with patches keeps
// their null handles skipped and their shape errors kMalformed.
TEST(RecordParserSharingTest, RecordsKeepTheirBehaviour) {
  ProfileStore store;
  LoadReport r =
      LoadText(R"({"id":"a","identities":{"email":null,"w":"1"},"events":null})"
               "\n"
               R"({"id":"b","events":[{"name":"x"}]})"
               "\n"
               R"({"id":"c","identities":{"email":5}})"
               "\n"
               R"({"id":"d","identities":{"w":"2","w":null}})",
               &store);
  EXPECT_EQ(r.accepted, 2u);
  ASSERT_EQ(r.rejected.size(), 2u);
  EXPECT_EQ(r.rejected[0].error.code(), ErrorCode::kMalformed);
  EXPECT_EQ(r.rejected[0].error.path(), "/events/0");
  EXPECT_EQ(r.rejected[1].error.code(), ErrorCode::kMalformed);
  EXPECT_EQ(r.rejected[1].error.path(), "/identities/email");
  DecodedProfile a, d;
  DecodeProfile(store.blob(*store.FindRow("a")), &a);
  ASSERT_EQ(a.identities.size(), 1u);
  EXPECT_EQ(a.identities[0].first, "w");
  DecodeProfile(store.blob(*store.FindRow("d")), &d);
  EXPECT_TRUE(d.identities.empty());  // the last duplicate, null, wins
}

}  // namespace
}  // namespace segd
