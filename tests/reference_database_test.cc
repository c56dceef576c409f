// Hand-worked cases for the reference database: tiny data whose answers can
// be checked by reading them against SPEC.md, for every write (profiles,
// events, patch, delete, tags, merge, schema, saved segments) and every read
// (query with segments, explain, members, contains, segments of a profile,
// report, search).
#include "tests/reference/reference_database.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace segd::reference {
namespace {

constexpr int64_t kNow = 1795176000000;  // 2026-11-20T12:00:00Z

using Ids = std::vector<std::string>;
using Counts = std::vector<std::pair<std::string, uint64_t>>;

// Loads NDJSON that must be accepted whole.
void Load(ReferenceDatabase& db, std::string_view ndjson) {
  const WriteAnswer answer = db.UpsertNdjson(ndjson);
  EXPECT_TRUE(answer.rejected_lines.empty()) << answer.message;
}

// The ids matching `rule` (the rule must be valid).
Ids Matching(const ReferenceDatabase& db, std::string_view rule) {
  const Answer answer = db.Evaluate(rule, kNow, 1000);
  EXPECT_TRUE(answer.ok) << rule << " -> " << answer.error_code << " "
                         << answer.error_path << ": " << answer.error_message;
  EXPECT_EQ(answer.count, answer.ids.size());
  return answer.ids;
}

// "code path" of the error `rule` must produce.
std::string ErrorOf(const ReferenceDatabase& db, std::string_view rule) {
  const Answer answer = db.Evaluate(rule, kNow, 1000);
  EXPECT_FALSE(answer.ok) << rule;
  return answer.error_code + " " + answer.error_path;
}

std::string Describe(const ReferenceDatabase& db, std::string_view id) {
  return db.DescribeProfile(id).value_or("<none>");
}

// The error code of a failed write; "ok" when it succeeded.
std::string CodeOf(const WriteAnswer& answer) {
  return answer.ok ? "ok" : answer.error_code;
}

// ------------------------------------------------------------------ Upsert

TEST(ReferenceDatabaseUpsertTest, ReplacementKeepsTheRowAndBlankLinesCount) {
  ReferenceDatabase db;
  const WriteAnswer answer = db.UpsertNdjson(
      "{\"id\": \"a\", \"city\": \"Pune\"}\n"
      "\n"
      "{\"id\": \"b\"}\n"
      "{\"id\": \"c\"\n"
      "{\"id\": \"a\", \"orders\": 1}\n");
  EXPECT_TRUE(answer.ok);
  EXPECT_EQ(answer.accepted, 3u);
  EXPECT_EQ(answer.rejected_lines, (std::vector<uint64_t>{4}));
  EXPECT_EQ(Matching(db, R"({"all": []})"), (Ids{"a", "b"}));
  // Replaced entirely: city gone, customer_type derived from orders.
  EXPECT_EQ(Describe(db, "a"),
            "row=0 customer_type=customer orders=1 identities={} events=[]");
  EXPECT_EQ(db.profile_count(), 2u);
}

TEST(ReferenceDatabaseUpsertTest, RejectedRecordFixesNoType) {
  ReferenceDatabase db;
  const WriteAnswer answer = db.UpsertNdjson(
      R"({"id": "a", "city": "Pune"}
{"id": "b", "x": 1, "city": 5}
{"id": "c", "x": "one"}
{"id": "d", "city": "2026-01-01"})");
  EXPECT_EQ(answer.rejected_lines, (std::vector<uint64_t>{2, 4}));
  EXPECT_EQ(db.KindOf("x"), AttributeKind::kString);
  EXPECT_EQ(db.KindOf("city"), AttributeKind::kString);
}

TEST(ReferenceDatabaseUpsertTest, RejectsIdsTheSpecForbids) {
  ReferenceDatabase db;
  const WriteAnswer answer = db.UpsertNdjson(
      R"({"id": "."}
{"id": ".."}
{"id": "a\u0001b"}
{"id": "a\u007fb"}
{"id": ""}
{"id": "a.b"})");
  EXPECT_EQ(answer.rejected_lines, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(answer.accepted, 1u);
}

TEST(ReferenceDatabaseUpsertTest, IdentityOwnedByAnotherProfileRejectsRecord) {
  ReferenceDatabase db;
  const WriteAnswer answer = db.UpsertNdjson(
      R"({"id": "a", "identities": {"email": "a@x.com"}}
{"id": "b", "identities": {"email": "a@x.com"}}
{"id": "a", "identities": {"email": "a@x.com", "whatsapp": "+1"}})");
  EXPECT_EQ(answer.rejected_lines, (std::vector<uint64_t>{2}));
  EXPECT_EQ(Describe(db, "a"),
            "row=0 customer_type=guest identities={email:a@x.com,whatsapp:+1} "
            "events=[]");
}

// ------------------------------------------------------------------ Events

TEST(ReferenceDatabaseEventsTest, AppendsValidLinesAndRejectsTheRest) {
  ReferenceDatabase db;
  Load(db, R"({"id": "a", "events": [{"name": "order", "at": "2026-11-01"}]}
{"id": "b"})");
  const WriteAnswer answer = db.AppendEventsNdjson(
      R"({"id": "a", "name": "order", "at": "2026-11-19T10:00:00Z"}

{"id": "zz", "name": "order", "at": "2026-11-19"}
{"id": "a", "name": "", "at": "2026-11-19"}
{"id": "a", "name": "order", "at": "yesterday"}
{"id": "a", "name": "order"}
{"id": "a", "name": "order", "at": "2026-11-19"
{"id": "b", "name": "Order", "at": "2026-11-20"})");
  EXPECT_TRUE(answer.ok);
  EXPECT_EQ(answer.accepted, 2u);
  EXPECT_EQ(answer.rejected_lines, (std::vector<uint64_t>{3, 4, 5, 6, 7}));
  EXPECT_EQ(Matching(db, R"({"event": "order", "count": {"eq": 2}})"),
            (Ids{"a"}));
  EXPECT_EQ(Matching(db, R"({"event": "order", "within_last": "1d"})"),
            (Ids{"b"}));
}

// ------------------------------------------------------------------- Patch

TEST(ReferenceDatabasePatchTest, MergesNestedObjectsKeyByKey) {
  ReferenceDatabase db;
  Load(
      db,
      R"({"id": "a", "name": "Asha", "address": {"city": "Pune", "zip": "411001"}})");
  EXPECT_EQ(CodeOf(db.Patch("a", R"({"address": {"city": "Mumbai"}})")), "ok");
  EXPECT_EQ(Describe(db, "a"),
            "row=0 address.city=Mumbai address.zip=411001 customer_type=guest "
            "name=Asha identities={} events=[]");
}

TEST(ReferenceDatabasePatchTest, NullRemovesAKeyAndEverythingBelowIt) {
  ReferenceDatabase db;
  Load(
      db,
      R"({"id": "a", "name": "Asha", "email": "a@x.com", "address": {"city": "Pune", "zip": "411001", "geo": {"lat": 1}}})");
  EXPECT_EQ(CodeOf(db.Patch("a", R"({"address": {"zip": null}})")), "ok");
  EXPECT_EQ(Describe(db, "a"),
            "row=0 address.city=Pune address.geo.lat=1 customer_type=lead "
            "email=a@x.com name=Asha identities={} events=[]");
  EXPECT_EQ(CodeOf(db.Patch("a", R"({"address": null, "email": null})")), "ok");
  // Without email, customer_type is derived again.
  EXPECT_EQ(Describe(db, "a"),
            "row=0 customer_type=guest name=Asha identities={} events=[]");
}

TEST(ReferenceDatabasePatchTest, ReplacesArraysWhole) {
  ReferenceDatabase db;
  Load(db, R"({"id": "a", "tags": ["vip", "new"]})");
  EXPECT_EQ(CodeOf(db.Patch("a", R"({"tags": ["gold"]})")), "ok");
  EXPECT_EQ(Describe(db, "a"),
            "row=0 customer_type=guest tags=[gold] identities={} events=[]");
  EXPECT_EQ(CodeOf(db.Patch("a", R"({"tags": []})")), "ok");
  EXPECT_EQ(Matching(db, R"({"field": "tags", "op": "exists"})"), Ids{});
}

TEST(ReferenceDatabasePatchTest, MergesIdentitiesByChannel) {
  ReferenceDatabase db;
  Load(db,
       R"({"id": "a", "identities": {"email": "a@x.com", "whatsapp": "+1"}})");
  EXPECT_EQ(CodeOf(db.Patch(
                "a", R"({"identities": {"whatsapp": "+2", "instagram": "@a",
                                        "email": null}})")),
            "ok");
  EXPECT_EQ(Describe(db, "a"),
            "row=0 customer_type=guest identities={whatsapp:+2,instagram:@a} "
            "events=[]");
  // Released handles may be claimed by another profile.
  EXPECT_TRUE(
      db.UpsertNdjson(
            R"({"id": "b", "identities": {"email": "a@x.com", "whatsapp": "+1"}})")
          .rejected_lines.empty());
}

TEST(ReferenceDatabasePatchTest, IdentityOfAnotherProfileRejectsThePatch) {
  ReferenceDatabase db;
  Load(db, R"({"id": "a"}
{"id": "b", "identities": {"whatsapp": "+1"}})");
  const WriteAnswer answer =
      db.Patch("a", R"({"city": "Pune", "identities": {"whatsapp": "+1"}})");
  EXPECT_EQ(CodeOf(answer), "conflict");
  EXPECT_EQ(Describe(db, "a"),
            "row=0 customer_type=guest identities={} events=[]");
  EXPECT_EQ(db.KindOf("city"), std::nullopt);
}

TEST(ReferenceDatabasePatchTest, AppendsEvents) {
  ReferenceDatabase db;
  Load(db, R"({"id": "a", "events": [{"name": "order", "at": "2026-11-01"}]})");
  EXPECT_EQ(CodeOf(db.Patch(
                "a", R"({"events": [{"name": "order", "at": "2026-11-10"}]})")),
            "ok");
  EXPECT_EQ(Matching(db, R"({"event": "order", "count": {"eq": 2}})"),
            (Ids{"a"}));
  // A bad event rejects the whole patch.
  EXPECT_EQ(CodeOf(db.Patch("a", R"({"city": "Pune", "events": [
      {"name": "order", "at": "2026-11-11"}, {"name": "order"}]})")),
            "invalid");
  EXPECT_EQ(Matching(db, R"({"event": "order", "count": {"eq": 2}})"),
            (Ids{"a"}));
  EXPECT_EQ(db.KindOf("city"), std::nullopt);
}

TEST(ReferenceDatabasePatchTest, CustomerTypeSetIsKeptUntilRemoved) {
  ReferenceDatabase db;
  Load(db, R"({"id": "a", "email": "a@x.com"})");
  EXPECT_EQ(Describe(db, "a"),
            "row=0 customer_type=lead email=a@x.com identities={} events=[]");
  EXPECT_EQ(CodeOf(db.Patch("a", R"({"customer_type": "Customer"})")), "ok");
  EXPECT_EQ(CodeOf(db.Patch("a", R"({"email": null})")), "ok");
  EXPECT_EQ(Describe(db, "a"),
            "row=0 customer_type=customer(set) identities={} events=[]");
  EXPECT_EQ(CodeOf(db.Patch("a", R"({"customer_type": null})")), "ok");
  EXPECT_EQ(Describe(db, "a"),
            "row=0 customer_type=guest identities={} events=[]");
  EXPECT_EQ(CodeOf(db.Patch("a", R"({"orders": 2})")), "ok");
  EXPECT_EQ(Matching(db, R"({"field": "customer_type", "op": "eq",
                             "value": "customer"})"),
            (Ids{"a"}));
  EXPECT_EQ(CodeOf(db.Patch("a", R"({"customer_type": "vip"})")), "invalid");
}

TEST(ReferenceDatabasePatchTest, TypeConflictChangesNothingAndFixesNoType) {
  ReferenceDatabase db;
  Load(db, R"({"id": "a", "orders": 1})");
  EXPECT_EQ(CodeOf(db.Patch("a", R"({"city": "Pune", "orders": "many"})")),
            "invalid");
  EXPECT_EQ(Describe(db, "a"),
            "row=0 customer_type=customer orders=1 identities={} events=[]");
  EXPECT_EQ(db.KindOf("city"), std::nullopt);
}

TEST(ReferenceDatabasePatchTest, ReportsUnknownProfilesAndBadBodies) {
  ReferenceDatabase db;
  Load(db, R"({"id": "a"})");
  EXPECT_EQ(CodeOf(db.Patch("b", R"({"city": "Pune"})")), "not_found");
  EXPECT_EQ(CodeOf(db.Patch("a", R"({"city": )")), "malformed");
  EXPECT_EQ(CodeOf(db.Patch("a", R"(["city"])")), "invalid");
  EXPECT_EQ(CodeOf(db.Patch("a", R"({"id": "b"})")), "invalid");
  EXPECT_EQ(CodeOf(db.Patch("a", R"({"id": "a", "city": "Pune"})")), "invalid");
  EXPECT_EQ(CodeOf(db.Patch("a", R"({"identities": ["x"]})")), "invalid");
  EXPECT_EQ(CodeOf(db.Patch("a", R"({"events": {"name": "x"}})")), "invalid");
  EXPECT_EQ(CodeOf(db.Patch("a", R"({})")), "ok");
}

TEST(ReferenceDatabasePatchTest, ValueReplacesNamesNestedBelowOrAbove) {
  ReferenceDatabase db;
  Load(
      db,
      R"({"id": "a", "address": {"city": "Pune", "zip": "411001"}, "addressee": "x"})");
  EXPECT_EQ(CodeOf(db.Patch("a", R"({"address": "Mumbai"})")), "ok");
  EXPECT_EQ(Describe(db, "a"),
            "row=0 address=Mumbai addressee=x customer_type=guest "
            "identities={} events=[]");
  EXPECT_EQ(CodeOf(db.Patch("a", R"({"address": {"city": "Nagpur"}})")), "ok");
  EXPECT_EQ(Describe(db, "a"),
            "row=0 address.city=Nagpur addressee=x customer_type=guest "
            "identities={} events=[]");
  // [] is absent, like null: the name and everything below it go.
  EXPECT_EQ(CodeOf(db.Patch("a", R"({"address": []})")), "ok");
  EXPECT_EQ(Describe(db, "a"),
            "row=0 addressee=x customer_type=guest identities={} events=[]");
}

// -------------------------------------------------------------------- Tags

TEST(ReferenceDatabaseTagsTest, AddsThenRemovesWithoutDuplicates) {
  ReferenceDatabase db;
  Load(db, R"({"id": "a", "tags": ["vip"]})");
  EXPECT_EQ(CodeOf(db.Tags("a", {"new", "VIP", "gold", "new"}, {"gold"})),
            "ok");
  EXPECT_EQ(Describe(db, "a"),
            "row=0 customer_type=guest tags=[vip,new] identities={} events=[]");
  EXPECT_EQ(CodeOf(db.Tags("a", {}, {"Vip", "new"})), "ok");
  EXPECT_EQ(Matching(db, R"({"field": "tags", "op": "exists"})"), Ids{});
  EXPECT_EQ(CodeOf(db.Tags("zz", {"x"}, {})), "not_found");
}

TEST(ReferenceDatabaseTagsTest, CreatesTheAttributeAsAStringArray) {
  ReferenceDatabase db;
  Load(db, R"({"id": "a"})");
  EXPECT_EQ(CodeOf(db.Tags("a", {}, {"x"})), "ok");
  EXPECT_EQ(db.KindOf("tags"), std::nullopt);  // nothing stored
  EXPECT_EQ(CodeOf(db.Tags("a", {"x"}, {})), "ok");
  EXPECT_EQ(db.KindOf("tags"), AttributeKind::kStringArray);
  EXPECT_EQ(Matching(db, R"({"field": "tags", "op": "eq", "value": "X"})"),
            (Ids{"a"}));
}

TEST(ReferenceDatabaseTagsTest, RefusesTagsTypedOtherwise) {
  ReferenceDatabase db;
  Load(db, R"({"id": "a", "tags": "vip"}
{"id": "b"})");
  EXPECT_EQ(CodeOf(db.Tags("b", {"x"}, {})), "invalid");
  EXPECT_EQ(Describe(db, "b"),
            "row=1 customer_type=guest identities={} events=[]");
}

// ------------------------------------------------------------------- Merge

TEST(ReferenceDatabaseMergeTest, CombinesValuesTagsIdentitiesAndEvents) {
  ReferenceDatabase db;
  Load(
      db,
      R"({"id": "a", "name": "Asha", "city": "Pune", "tags": ["vip", "new"], "identities": {"email": "a@x.com", "whatsapp": "+1"}, "events": [{"name": "order", "at": "2026-11-01"}]}
{"id": "b", "name": "Bela", "phone": "+2", "orders": 3, "tags": ["NEW", "gold"], "identities": {"email": "b@x.com", "instagram": "@b"}, "events": [{"name": "order", "at": "2026-11-02"}, {"name": "visit", "at": "2026-11-03"}]}
{"id": "c"})");
  ASSERT_TRUE(db.SaveStatic("s", {"b", "c"}).ok);
  EXPECT_EQ(CodeOf(db.Merge("a", "b")), "ok");
  // A's name wins; B fills phone and orders, so customer_type is derived
  // again (customer).
  EXPECT_EQ(Describe(db, "a"),
            "row=0 city=Pune customer_type=customer name=Asha orders=3 "
            "phone=+2 tags=[vip,new,gold] "
            "identities={email:a@x.com,whatsapp:+1,instagram:@b} "
            "events=[order,order,visit]");
  EXPECT_EQ(db.DescribeProfile("b"), std::nullopt);
  EXPECT_EQ(db.profile_count(), 2u);
  EXPECT_EQ(db.Members("s", kNow), (Ids{"a", "c"}));
  EXPECT_EQ(Matching(db, R"({"event": "order", "count": {"eq": 2}})"),
            (Ids{"a"}));
  // B's released email handle is free again; its instagram is A's now.
  const WriteAnswer later = db.UpsertNdjson(
      R"({"id": "d", "identities": {"email": "b@x.com"}}
{"id": "e", "identities": {"instagram": "@b"}})");
  EXPECT_EQ(later.rejected_lines, (std::vector<uint64_t>{2}));
}

TEST(ReferenceDatabaseMergeTest, KeepsAsValuesWholeAndUnionsOnlyTags) {
  ReferenceDatabase db;
  Load(db, R"({"id": "a", "address": "Pune", "interests": ["cricket"]}
{"id": "b", "address": {"city": "Mumbai"}, "interests": ["chess"], "geo": {"lat": 1}})");
  EXPECT_EQ(CodeOf(db.Merge("a", "b")), "ok");
  EXPECT_EQ(Describe(db, "a"),
            "row=0 address=Pune customer_type=guest geo.lat=1 "
            "interests=[cricket] identities={} events=[]");
}

TEST(ReferenceDatabaseMergeTest, RefusesSelfAndUnknownProfiles) {
  ReferenceDatabase db;
  Load(db, R"({"id": "a"})");
  EXPECT_EQ(CodeOf(db.Merge("a", "a")), "invalid");
  EXPECT_EQ(CodeOf(db.Merge("a", "zz")), "not_found");
  EXPECT_EQ(CodeOf(db.Merge("zz", "a")), "not_found");
  EXPECT_EQ(db.profile_count(), 1u);
}

TEST(ReferenceDatabaseMergeTest, CustomerTypeSetByOnlyBFillsA) {
  ReferenceDatabase db;
  Load(db, R"({"id": "a", "orders": 5}
{"id": "b", "customer_type": "lead"})");
  EXPECT_EQ(CodeOf(db.Merge("a", "b")), "ok");
  EXPECT_EQ(Describe(db, "a"),
            "row=0 customer_type=lead(set) orders=5 identities={} events=[]");
}

TEST(ReferenceDatabaseMergeTest, CustomerTypeSetByAWins) {
  ReferenceDatabase db;
  Load(db, R"({"id": "a", "customer_type": "guest"}
{"id": "b", "customer_type": "lead"})");
  EXPECT_EQ(CodeOf(db.Merge("a", "b")), "ok");
  EXPECT_EQ(Describe(db, "a"),
            "row=0 customer_type=guest(set) identities={} events=[]");
}

TEST(ReferenceDatabaseMergeTest, DerivedCustomerTypesAreDerivedAgain) {
  ReferenceDatabase db;
  Load(db, R"({"id": "a"}
{"id": "b", "email": "b@x.com"})");
  EXPECT_EQ(CodeOf(db.Merge("a", "b")), "ok");
  EXPECT_EQ(Describe(db, "a"),
            "row=0 customer_type=lead email=b@x.com identities={} events=[]");
}

// ------------------------------------------------------------------ Delete

TEST(ReferenceDatabaseDeleteTest, RecreatedIdIsANewProfile) {
  ReferenceDatabase db;
  Load(db, R"({"id": "a"}
{"id": "b"})");
  ASSERT_TRUE(db.SaveStatic("s", {"a", "b"}).ok);
  EXPECT_EQ(CodeOf(db.Delete("a")), "ok");
  EXPECT_EQ(db.Members("s", kNow), (Ids{"b"}));
  EXPECT_EQ(Matching(db, R"({"all": []})"), (Ids{"b"}));
  Load(db, R"({"id": "a"}
{"id": "b", "city": "Pune"})");
  // a has a new, higher row and no static membership; b was replaced, so it
  // keeps both.
  EXPECT_EQ(Matching(db, R"({"all": []})"), (Ids{"b", "a"}));
  EXPECT_EQ(Describe(db, "a"),
            "row=2 customer_type=guest identities={} events=[]");
  EXPECT_EQ(db.Members("s", kNow), (Ids{"b"}));
  EXPECT_EQ(db.Contains("s", "a", kNow), false);
  EXPECT_EQ(CodeOf(db.Delete("zz")), "not_found");
}

// ------------------------------------------------------------------ Schema

TEST(ReferenceDatabaseSchemaTest, DeclaredStringTakesDateLookingText) {
  ReferenceDatabase db;
  EXPECT_EQ(CodeOf(db.DeclareSchema(R"({"promo": "string", "score": "number",
                                        "labels": "strings"})")),
            "ok");
  const WriteAnswer answer = db.UpsertNdjson(
      R"({"id": "a", "promo": "2026-11-19"}
{"id": "b", "labels": "vip"}
{"id": "c", "score": "high"})");
  EXPECT_EQ(answer.rejected_lines, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(Matching(db, R"({"field": "promo", "op": "eq",
                             "value": "2026-11-19"})"),
            (Ids{"a"}));
}

TEST(ReferenceDatabaseSchemaTest, ConflictDeclaresNothing) {
  ReferenceDatabase db;
  Load(db, R"({"id": "a", "city": "Pune"})");
  EXPECT_EQ(CodeOf(db.DeclareSchema(R"({"x": "date", "city": "number"})")),
            "conflict");
  EXPECT_EQ(db.KindOf("x"), std::nullopt);
  EXPECT_EQ(CodeOf(db.DeclareSchema(R"({"customer_type": "number"})")),
            "conflict");
  EXPECT_EQ(CodeOf(db.DeclareSchema(R"({"city": "string"})")), "ok");
  EXPECT_EQ(CodeOf(db.DeclareSchema(R"({"y": "blob"})")), "invalid");
  EXPECT_EQ(CodeOf(db.DeclareSchema(R"({"id": "string"})")), "invalid");
  EXPECT_EQ(CodeOf(db.DeclareSchema(R"(["x"])")), "invalid");
  EXPECT_EQ(CodeOf(db.DeclareSchema(R"({"y": )")), "malformed");
  // Declaring city a string (as it already was) lets it take date text.
  Load(db, R"({"id": "b", "city": "2026-01-01"})");
}

TEST(ReferenceDatabaseSchemaTest, PatchedValuesFollowTheDeclaredTypes) {
  ReferenceDatabase db;
  ASSERT_TRUE(db.DeclareSchema(R"({"promo": "string"})").ok);
  Load(db, R"({"id": "a"})");
  EXPECT_EQ(CodeOf(db.Patch("a", R"({"promo": "2026-11-19"})")), "ok");
  EXPECT_EQ(db.KindOf("promo"), AttributeKind::kString);
  EXPECT_EQ(CodeOf(db.Patch("a", R"({"promo": 5})")), "invalid");
}

// ---------------------------------------------------------- Saved segments

TEST(ReferenceDatabaseSegmentTest, StaticSegmentsReportUnknownIdsOnce) {
  ReferenceDatabase db;
  Load(db, R"({"id": "a"}
{"id": "b"})");
  WriteAnswer answer = db.SaveStatic("s", {"a", "x", "a", "y", "x"});
  EXPECT_TRUE(answer.ok);
  EXPECT_EQ(answer.unknown_ids, (Ids{"x", "y"}));
  EXPECT_EQ(db.Members("s", kNow), (Ids{"a"}));
  answer = db.EditStatic("s", {"b", "z"}, {"a", "w", "z"});
  EXPECT_TRUE(answer.ok);
  EXPECT_EQ(answer.unknown_ids, (Ids{"z", "w"}));
  EXPECT_EQ(db.Members("s", kNow), (Ids{"b"}));
  EXPECT_EQ(CodeOf(db.EditStatic("nope", {"a"}, {})), "not_found");
  ASSERT_TRUE(db.SaveDynamic("d", R"({"all": []})").ok);
  EXPECT_EQ(CodeOf(db.EditStatic("d", {"a"}, {})), "conflict");
  // Replacing a segment may change its kind.
  EXPECT_TRUE(db.SaveStatic("d", {"a"}).ok);
  EXPECT_EQ(db.Members("d", kNow), (Ids{"a"}));
}

TEST(ReferenceDatabaseSegmentTest, RefusesBadNames) {
  ReferenceDatabase db;
  for (const std::string& name :
       {std::string(), std::string("a/b"), std::string("."), std::string(".."),
        std::string("a\x01"), std::string("a\x7f"), std::string("\xff"),
        std::string(201, 'n')}) {
    EXPECT_EQ(CodeOf(db.SaveStatic(name, {})), "malformed") << name;
    EXPECT_EQ(CodeOf(db.SaveDynamic(name, R"({"all": []})")), "malformed")
        << name;
  }
  EXPECT_TRUE(db.SaveStatic(std::string(200, 'n'), {}).ok);
  EXPECT_TRUE(db.SaveStatic("caf\xc3\xa9 ...", {}).ok);
}

TEST(ReferenceDatabaseSegmentTest, DerivedSegmentsFollowTheData) {
  ReferenceDatabase db;
  Load(db, R"({"id": "a", "city": "Pune", "orders": 5}
{"id": "b", "city": "pune", "orders": 0}
{"id": "c", "city": "Mumbai", "orders": 7})");
  ASSERT_TRUE(db.SaveDynamic(
                    "pune", R"({"field": "city", "op": "eq", "value": "PUNE"})")
                  .ok);
  ASSERT_TRUE(db.SaveStatic("picked", {"b", "c"}).ok);
  ASSERT_TRUE(db.SaveDynamic("pune-buyers", R"({"all": [{"segment": "pune"},
      {"field": "orders", "op": "gte", "value": 1}]})")
                  .ok);
  ASSERT_TRUE(db.SaveDynamic("either", R"({"any": [{"segment": "pune-buyers"},
      {"segment": "picked"}]})")
                  .ok);
  EXPECT_EQ(db.Members("pune-buyers", kNow), (Ids{"a"}));
  EXPECT_EQ(db.Members("either", kNow), (Ids{"a", "b", "c"}));
  EXPECT_EQ(Matching(db, R"({"not": {"segment": "picked"}})"), (Ids{"a"}));
  EXPECT_EQ(db.SegmentsOf("a", kNow),
            (std::optional<Ids>(Ids{"either", "pune", "pune-buyers"})));
  EXPECT_EQ(db.SegmentsOf("c", kNow),
            (std::optional<Ids>(Ids{"either", "picked"})));
  EXPECT_EQ(db.SegmentsOf("zz", kNow), std::nullopt);
  EXPECT_EQ(db.Contains("pune", "c", kNow), false);
  EXPECT_EQ(db.Contains("pune", "b", kNow), true);
  EXPECT_EQ(db.Contains("nope", "a", kNow), std::nullopt);
  EXPECT_EQ(db.Contains("pune", "zz", kNow), std::nullopt);
  EXPECT_EQ(db.Members("nope", kNow), Ids{});

  ASSERT_TRUE(db.Patch("b", R"({"orders": 2})").ok);
  EXPECT_EQ(db.Members("pune-buyers", kNow), (Ids{"a", "b"}));
  ASSERT_TRUE(db.Delete("a").ok);
  EXPECT_EQ(db.Members("pune-buyers", kNow), (Ids{"b"}));

  EXPECT_EQ(ErrorOf(db, R"({"all": [{"segment": "pune"}, {"segment": "x"}]})"),
            "invalid /all/1/segment");
  EXPECT_EQ(ErrorOf(db, R"({"segment": 5})"), "malformed /segment");
  const WriteAnswer unknown = db.SaveDynamic("bad", R"({"segment": "x"})");
  EXPECT_EQ(CodeOf(unknown), "invalid");
  EXPECT_EQ(unknown.error_path, "/segment");
  EXPECT_EQ(
      CodeOf(db.SaveDynamic("bad", R"({"field": "nope", "op": "exists"})")),
      "invalid");
  EXPECT_EQ(CodeOf(db.SaveDynamic("bad", R"({"all": )")), "malformed");
  EXPECT_EQ(db.Members("bad", kNow), Ids{});  // none of them was saved
}

TEST(ReferenceDatabaseSegmentTest, RefusesReferenceCycles) {
  ReferenceDatabase db;
  Load(db, R"({"id": "a"})");
  WriteAnswer answer = db.SaveDynamic("x", R"({"segment": "x"})");
  EXPECT_EQ(CodeOf(answer), "conflict");
  EXPECT_EQ(answer.error_path, "/segment");

  ASSERT_TRUE(db.SaveDynamic("p", R"({"all": []})").ok);
  ASSERT_TRUE(db.SaveDynamic("q", R"({"segment": "p"})").ok);
  ASSERT_TRUE(db.SaveDynamic("r", R"({"any": [{"segment": "q"}]})").ok);
  answer = db.SaveDynamic("p", R"({"not": {"segment": "r"}})");
  EXPECT_EQ(CodeOf(answer), "conflict");
  EXPECT_EQ(answer.error_path, "/not/segment");
  EXPECT_EQ(db.Members("r", kNow), (Ids{"a"}));  // p unchanged
  // Replacing p by a rule that references no cycle is fine.
  EXPECT_TRUE(db.SaveDynamic("p", R"({"not": {"all": []}})").ok);
  EXPECT_EQ(db.Members("r", kNow), Ids{});
}

TEST(ReferenceDatabaseSegmentTest, RefusesToDeleteAReferencedSegment) {
  ReferenceDatabase db;
  ASSERT_TRUE(db.SaveDynamic("p", R"({"all": []})").ok);
  ASSERT_TRUE(db.SaveDynamic("q", R"({"not": {"segment": "p"}})").ok);
  ASSERT_TRUE(db.SaveDynamic("r", R"({"segment": "q"})").ok);
  EXPECT_EQ(CodeOf(db.DeleteSegment("p")), "conflict");
  EXPECT_EQ(CodeOf(db.DeleteSegment("q")), "conflict");
  EXPECT_EQ(CodeOf(db.DeleteSegment("r")), "ok");
  EXPECT_EQ(CodeOf(db.DeleteSegment("r")), "not_found");
  // A static segment references nothing: replacing q by one frees p.
  ASSERT_TRUE(db.SaveStatic("q", {}).ok);
  EXPECT_EQ(CodeOf(db.DeleteSegment("p")), "ok");
  EXPECT_EQ(CodeOf(db.DeleteSegment("a/b")), "malformed");
}

// ------------------------------------------------------------------ Report

// p1-p4 hold cities, tags, numbers, dates and bools; p5 none of them.
constexpr std::string_view kReportData =
    R"({"id": "p1", "city": "Pune", "tags": ["vip", "new"], "orders": 2, "signed_up": "2026-11-19T08:00:00Z", "trial": true}
{"id": "p2", "city": "pune", "tags": ["VIP", "vip"], "orders": 2.0, "signed_up": "2026-11-19", "trial": false}
{"id": "p3", "city": "Mumbai", "tags": ["new", "gold"], "orders": 1, "signed_up": "2026-11-18T23:59:59+00:00"}
{"id": "p4", "city": "Nagpur", "orders": 3, "signed_up": "2026-11-19T02:00:00+05:30"}
{"id": "p5"})";

constexpr std::string_view kEveryone = R"({"all": []})";

TEST(ReferenceDatabaseReportTest, GroupsStringsFoldedWithTiesInValueOrder) {
  ReferenceDatabase db;
  Load(db, kReportData);
  ReportAnswer answer = db.Report(kEveryone, "city", 10, kNow);
  ASSERT_TRUE(answer.ok) << answer.error_message;
  EXPECT_EQ(answer.count, 5u);
  EXPECT_EQ(answer.groups, (Counts{{"Pune", 2}, {"Mumbai", 1}, {"Nagpur", 1}}));
  EXPECT_EQ(answer.other, 0u);
  EXPECT_EQ(answer.missing, 1u);

  answer = db.Report(kEveryone, "city", 1, kNow);
  EXPECT_EQ(answer.groups, (Counts{{"Pune", 2}}));
  EXPECT_EQ(answer.other, 2u);
  EXPECT_EQ(answer.missing, 1u);

  // Spelled as the earliest live row spells it, member or not.
  answer =
      db.Report(R"({"field": "trial", "op": "is_false"})", "city", 10, kNow);
  EXPECT_EQ(answer.count, 1u);
  EXPECT_EQ(answer.groups, (Counts{{"Pune", 1}}));  // p2 spells it "pune"
}

TEST(ReferenceDatabaseReportTest, StringArraysCountInEachOfTheirGroups) {
  ReferenceDatabase db;
  Load(db, kReportData);
  ReportAnswer answer = db.Report(kEveryone, "tags", 10, kNow);
  // vip: p1, p2 (once, though p2 holds it twice); new: p1, p3; gold: p3.
  EXPECT_EQ(answer.groups, (Counts{{"new", 2}, {"vip", 2}, {"gold", 1}}));
  EXPECT_EQ(answer.other, 0u);
  EXPECT_EQ(answer.missing, 2u);

  answer = db.Report(kEveryone, "tags", 1, kNow);
  EXPECT_EQ(answer.groups, (Counts{{"new", 2}}));
  EXPECT_EQ(answer.other, 1u);  // p2: tags, but not "new"
  EXPECT_EQ(answer.missing, 2u);

  answer = db.Report(R"({"field": "city", "op": "eq", "value": "PUNE"})",
                     "tags", 10, kNow);
  EXPECT_EQ(answer.count, 2u);
  EXPECT_EQ(answer.groups, (Counts{{"vip", 2}, {"new", 1}}));
  EXPECT_EQ(answer.missing, 0u);
}

TEST(ReferenceDatabaseReportTest, GroupsNumbersDatesAndBools) {
  ReferenceDatabase db;
  Load(db, kReportData);
  // 2 and 2.0 are one number.
  ReportAnswer answer = db.Report(kEveryone, "orders", 10, kNow);
  EXPECT_EQ(answer.groups, (Counts{{"2", 2}, {"1", 1}, {"3", 1}}));
  EXPECT_EQ(answer.missing, 1u);
  // By UTC day: p4's 02:00+05:30 is 2026-11-18T20:30Z.
  answer = db.Report(kEveryone, "signed_up", 10, kNow);
  EXPECT_EQ(answer.groups, (Counts{{"2026-11-18", 2}, {"2026-11-19", 2}}));
  EXPECT_EQ(answer.missing, 1u);
  answer = db.Report(kEveryone, "trial", 10, kNow);
  EXPECT_EQ(answer.groups, (Counts{{"false", 1}, {"true", 1}}));
  EXPECT_EQ(answer.missing, 3u);
  answer = db.Report(kEveryone, "trial", 0, kNow);
  EXPECT_EQ(answer.groups, Counts{});
  EXPECT_EQ(answer.other, 2u);
}

TEST(ReferenceDatabaseReportTest, GroupsBySavedSegment) {
  ReferenceDatabase db;
  Load(db, kReportData);
  ASSERT_TRUE(db.SaveDynamic(
                    "pune", R"({"field": "city", "op": "eq", "value": "pune"})")
                  .ok);
  ASSERT_TRUE(
      db.SaveDynamic("big", R"({"field": "orders", "op": "gte", "value": 2})")
          .ok);
  ASSERT_TRUE(db.SaveStatic("m", {"p3"}).ok);
  ASSERT_TRUE(db.SaveStatic("a-tie", {"p3"}).ok);
  ASSERT_TRUE(db.SaveStatic("empty", {}).ok);
  ReportAnswer answer = db.Report("", "segment", 10, kNow);
  ASSERT_TRUE(answer.ok) << answer.error_message;
  EXPECT_EQ(answer.count, 5u);
  EXPECT_EQ(
      answer.groups,
      (Counts{{"big", 3}, {"pune", 2}, {"a-tie", 1}, {"m", 1}, {"empty", 0}}));
  EXPECT_EQ(answer.other, 0u);
  EXPECT_EQ(answer.missing, 1u);  // p5

  answer = db.Report("", "segment", 1, kNow);
  EXPECT_EQ(answer.groups, (Counts{{"big", 3}}));
  EXPECT_EQ(answer.other, 1u);  // p3
  EXPECT_EQ(answer.missing, 1u);
}

TEST(ReferenceDatabaseReportTest, ReportsErrors) {
  ReferenceDatabase db;
  Load(db, R"({"id": "a", "city": "Pune", "scores": [1, 2]})");
  ReportAnswer answer = db.Report(kEveryone, "nope", 10, kNow);
  EXPECT_EQ(answer.error_code + " " + answer.error_path, "invalid /group_by");
  answer = db.Report(kEveryone, "scores", 10, kNow);
  EXPECT_EQ(answer.error_code + " " + answer.error_path, "invalid /group_by");
  answer = db.Report(kEveryone, "city", 1001, kNow);
  EXPECT_EQ(answer.error_code + " " + answer.error_path, "invalid /limit");
  answer = db.Report(R"({"all": [{"field": "nope", "op": "exists"}]})", "city",
                     10, kNow);
  EXPECT_EQ(answer.error_code + " " + answer.error_path,
            "invalid /all/0/field");
  EXPECT_TRUE(db.Report(kEveryone, "city", 1000, kNow).ok);
}

// ----------------------------------------------------------------- Explain

TEST(ReferenceDatabaseExplainTest, CountsEveryNodeInDocumentOrder) {
  ReferenceDatabase db;
  Load(db, kReportData);
  ASSERT_TRUE(db.SaveStatic("m", {"p3"}).ok);
  // city pune: p1, p2. orders >= 3: p4. m: p3. any: p3, p4. not any: p1,
  // p2, p5. all: p1, p2.
  const Counts explain = db.Explain(R"({"all": [
      {"field": "city", "op": "eq", "value": "pune"},
      {"not": {"any": [{"field": "orders", "op": "gte", "value": 3},
                       {"segment": "m"}]}}]})",
                                    kNow);
  EXPECT_EQ(explain, (Counts{{"", 2},
                             {"/all/0", 2},
                             {"/all/1", 3},
                             {"/all/1/not", 2},
                             {"/all/1/not/any/0", 1},
                             {"/all/1/not/any/1", 1}}));
  EXPECT_EQ(db.Explain(R"({"all": [{"field": "nope", "op": "exists"}]})", kNow),
            Counts{});
}

// ------------------------------------------------------------------ Search

TEST(ReferenceDatabaseSearchTest, MatchesNameEmailOrPhoneFolded) {
  ReferenceDatabase db;
  Load(db, R"({"id": "a", "name": "Asha Patil", "email": "asha@example.com"}
{"id": "b", "name": "Bela", "phone": "+919812345678"}
{"id": "c", "name": "Chetan", "email": "c@EXAMPLE.com"}
{"id": "d", "city": "Pune example"})");
  Answer answer = db.Search("example", 1);
  EXPECT_TRUE(answer.ok);
  EXPECT_EQ(answer.count, 2u);
  EXPECT_EQ(answer.ids, (Ids{"a"}));
  EXPECT_EQ(db.Search("ASHA p", 10).ids, (Ids{"a"}));
  EXPECT_EQ(db.Search("9812", 10).ids, (Ids{"b"}));
  EXPECT_EQ(db.Search("pune", 10).count, 0u);
  answer = db.Search("", 10);
  EXPECT_FALSE(answer.ok);
  EXPECT_EQ(answer.error_code, "malformed");
}

TEST(ReferenceDatabaseSearchTest, SkipsFieldsThatAreNotStrings) {
  ReferenceDatabase db;
  Load(db, R"({"id": "a", "phone": 5, "name": "x5"})");
  EXPECT_EQ(db.Search("5", 10).ids, (Ids{"a"}));  // by name only
  EXPECT_EQ(db.Search("x", 10).ids, (Ids{"a"}));
  ReferenceDatabase other;
  Load(other, R"({"id": "a", "phone": 5})");
  EXPECT_EQ(other.Search("5", 10).count, 0u);
}

}  // namespace
}  // namespace segd::reference
