// Hand-worked cases for the reference evaluator itself: tiny data whose
// answers can be checked by reading them, for every operator, absent values,
// arrays, negation, exact date and number boundaries, event counts, rule
// errors and ingest rejections. The random-data tests at the end check that
// the generators produce data and rules that actually exercise the engine.
#include "tests/reference/reference_evaluator.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/reference/random_data.h"

namespace segd::reference {
namespace {

constexpr int64_t kNow = kRandomDataNowMs;  // 2026-11-20T12:00:00Z

using Ids = std::vector<std::string>;

// The ids matching `rule` (the rule must be valid).
Ids Matching(const ReferenceStore& store, std::string_view rule) {
  const Answer answer = store.Evaluate(rule, kNow, 1000);
  EXPECT_TRUE(answer.ok) << rule << " -> " << answer.error_code << " "
                         << answer.error_path << ": " << answer.error_message;
  return answer.ids;
}

// "code path" of the error `rule` must produce.
std::string ErrorOf(const ReferenceStore& store, std::string_view rule) {
  const Answer answer = store.Evaluate(rule, kNow, 1000);
  EXPECT_FALSE(answer.ok) << rule;
  return answer.error_code + " " + answer.error_path;
}

std::vector<uint64_t> RejectedLines(const ReferenceStore& store) {
  std::vector<uint64_t> lines;
  for (const auto& [line, message] : store.rejected()) lines.push_back(line);
  return lines;
}

// ------------------------------------------------------------------ Ingest

TEST(ReferenceEvaluatorTest, SkipsBlankLinesButCountsThem) {
  ReferenceStore store;
  store.LoadNdjson(
      "{\"id\": \"a\"}\n\n  \t\r\n{\"id\": \"b\"\n{\"id\": \"c\"}");
  EXPECT_EQ(store.accepted(), 2u);
  EXPECT_EQ(RejectedLines(store), (std::vector<uint64_t>{4}));
  EXPECT_EQ(Matching(store, R"({"all": []})"), (Ids{"a", "c"}));
}

TEST(ReferenceEvaluatorTest, RejectsRecordsWithoutAValidId) {
  ReferenceStore store;
  store.LoadNdjson(R"({"name": "x"}
{"id": ""}
{"id": 7}
{"id": null}
{"id": ")" + std::string(257, 'x') +
                   R"("}
{"id": ")" + std::string(256, 'x') +
                   R"("}
[{"id": "a"}]
"a"
)");
  EXPECT_EQ(store.accepted(), 1u);
  EXPECT_EQ(RejectedLines(store), (std::vector<uint64_t>{1, 2, 3, 4, 5, 7, 8}));
}

TEST(ReferenceEvaluatorTest, FirstAcceptedRecordFixesTheKind) {
  ReferenceStore store;
  store.LoadNdjson(R"({"id": "a", "x": "1"}
{"id": "b", "x": 1}
{"id": "c", "x": ["1"]}
{"id": "d", "x": "2026-11-19"}
{"id": "e", "x": "2026-02-30"})");
  EXPECT_EQ(RejectedLines(store), (std::vector<uint64_t>{2, 3, 4}));
  EXPECT_EQ(store.KindOf("x"), AttributeKind::kString);
  EXPECT_EQ(store.rejected()[0].second,
            "attribute x: expected string, got number");
}

TEST(ReferenceEvaluatorTest, RejectedRecordFixesNoKind) {
  ReferenceStore store;
  store.LoadNdjson(R"({"id": "a", "x": 5, "customer_type": "vip"}
{"id": "b", "x": "five"})");
  EXPECT_EQ(RejectedLines(store), (std::vector<uint64_t>{1}));
  EXPECT_EQ(store.KindOf("x"), AttributeKind::kString);
}

TEST(ReferenceEvaluatorTest, WholeIsoDatesAreDatesAndEverythingElseIsString) {
  ReferenceStore store;
  store.LoadNdjson(
      R"({"id": "a", "d1": "2026-11-19", "d2": "2026-11-19T08:00+0530", "d3": "0000-02-29", "s1": "2026-02-30", "s2": "2026-11-19T08:00:00z", "s3": "2026-11-19 08:00", "s4": "2026-11-19T08:00:00+05", "s5": "2100-02-29", "s6": "2026-11-19t08:00Z"})");
  for (const char* date : {"d1", "d2", "d3"}) {
    EXPECT_EQ(store.KindOf(date), AttributeKind::kDate) << date;
  }
  for (const char* text : {"s1", "s2", "s3", "s4", "s5", "s6"}) {
    EXPECT_EQ(store.KindOf(text), AttributeKind::kString) << text;
  }
}

TEST(ReferenceEvaluatorTest, NullAndEmptyArrayAreAbsent) {
  ReferenceStore store;
  store.LoadNdjson(R"({"id": "a", "x": null, "tags": []}
{"id": "b", "x": 1, "tags": ["t"]}
{"id": "c", "x": null, "tags": null})");
  EXPECT_EQ(store.accepted(), 3u);
  EXPECT_EQ(Matching(store, R"({"field": "x", "op": "exists"})"), (Ids{"b"}));
  EXPECT_EQ(Matching(store, R"({"field": "tags", "op": "not_exists"})"),
            (Ids{"a", "c"}));
}

TEST(ReferenceEvaluatorTest, ArraysOfNonStringsAreUnindexable) {
  ReferenceStore store;
  store.LoadNdjson(R"({"id": "a", "scores": [1, 2]}
{"id": "b", "scores": ["x", 1]}
{"id": "c", "scores": [null]}
{"id": "d", "scores": ["x"]})");
  EXPECT_EQ(RejectedLines(store), (std::vector<uint64_t>{4}));
  EXPECT_EQ(store.KindOf("scores"), AttributeKind::kUnindexable);
  EXPECT_EQ(ErrorOf(store, R"({"field": "scores", "op": "exists"})"),
            "invalid /field");
}

TEST(ReferenceEvaluatorTest, FlattensNestedObjectsWithDots) {
  ReferenceStore store;
  store.LoadNdjson(
      R"({"id": "a", "address": {"city": "Pune", "geo": {"lat": 1.5}}}
{"id": "b", "address": {}}
{"id": "c", "address": {"city": null}})");
  EXPECT_EQ(Matching(store, R"({"field": "address.city", "op": "exists"})"),
            (Ids{"a"}));
  EXPECT_EQ(Matching(store,
                     R"({"field": "address.geo.lat", "op": "gt", "value": 1})"),
            (Ids{"a"}));
  EXPECT_EQ(ErrorOf(store, R"({"field": "address", "op": "exists"})"),
            "invalid /field");
}

TEST(ReferenceEvaluatorTest, LastDuplicateKeyWins) {
  ReferenceStore store;
  store.LoadNdjson(R"({"id": "a", "city": "Pune", "city": "Mumbai"}
{"id": "b", "orders": "five", "orders": 2})");
  EXPECT_EQ(store.accepted(), 2u);
  EXPECT_EQ(
      Matching(store, R"({"field": "city", "op": "eq", "value": "mumbai"})"),
      (Ids{"a"}));
  EXPECT_EQ(store.KindOf("orders"), AttributeKind::kNumber);
}

TEST(ReferenceEvaluatorTest, ReplacementKeepsRowAndDropsOldValues) {
  ReferenceStore store;
  store.LoadNdjson(R"({"id": "a", "city": "Pune", "vip": true}
{"id": "b", "city": "Pune"}
{"id": "a", "city": "Mumbai"})");
  EXPECT_EQ(store.accepted(), 3u);
  EXPECT_EQ(store.profile_count(), 2u);
  EXPECT_EQ(Matching(store, R"({"all": []})"), (Ids{"a", "b"}));
  EXPECT_EQ(
      Matching(store, R"({"field": "city", "op": "eq", "value": "pune"})"),
      (Ids{"b"}));
  EXPECT_EQ(Matching(store, R"({"field": "vip", "op": "exists"})"), Ids{});
}

TEST(ReferenceEvaluatorTest, DerivesCustomerTypeUnlessSet) {
  ReferenceStore store;
  store.LoadNdjson(R"({"id": "g"}
{"id": "l", "email": "x@y"}
{"id": "l2", "phone": "1"}
{"id": "c", "customer_id": "s1"}
{"id": "c2", "orders": 1.0}
{"id": "n", "orders": 0.5, "email": "z"}
{"id": "e", "customer_type": "LEAD", "orders": 5}
{"id": "bad", "customer_type": "vip"}
{"id": "bad2", "customer_type": 1}
{"id": "o", "customer_type": null, "orders": 2})");
  EXPECT_EQ(RejectedLines(store), (std::vector<uint64_t>{8, 9}));
  const auto of_type = [&](const char* type) {
    return Matching(store, std::string(R"({"field": "customer_type", )") +
                               R"("op": "eq", "value": ")" + type + "\"}");
  };
  EXPECT_EQ(of_type("guest"), (Ids{"g"}));
  EXPECT_EQ(of_type("lead"), (Ids{"l", "l2", "n", "e"}));
  EXPECT_EQ(of_type("customer"), (Ids{"c", "c2", "o"}));
}

TEST(ReferenceEvaluatorTest, IdentityBelongsToOneProfileAtATime) {
  ReferenceStore store;
  store.LoadNdjson(R"({"id": "a", "identities": {"email": "x@y"}}
{"id": "b", "identities": {"email": "x@y"}}
{"id": "b", "identities": {"email": "X@y"}}
{"id": "a", "identities": {"email": "x@y", "whatsapp": "1"}}
{"id": "a"}
{"id": "c", "identities": {"email": "x@y", "sms": null}}
{"id": "d", "identities": {"whatsapp": ""}}
{"id": "d", "identities": ["x"]}
{"id": "d", "identities": null})");
  EXPECT_EQ(RejectedLines(store), (std::vector<uint64_t>{2, 7, 8}));
  EXPECT_EQ(store.rejected()[0].second,
            "identity email:x@y belongs to profile a");
  EXPECT_EQ(store.accepted(), 6u);
}

TEST(ReferenceEvaluatorTest, RejectsMalformedEventsAndIgnoresExtraKeys) {
  ReferenceStore store;
  store.LoadNdjson(R"({"id": "a", "events": [{"name": "order"}]}
{"id": "a", "events": [{"name": "order", "at": "2026-02-30"}]}
{"id": "a", "events": [{"name": "", "at": "2026-11-19"}]}
{"id": "a", "events": {}}
{"id": "a", "events": [null]}
{"id": "a", "events": null}
{"id": "b", "events": [{"name": "order", "at": "2026-11-19", "x": {"y": 1}}]})");
  EXPECT_EQ(RejectedLines(store), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(Matching(store, R"({"event": "order"})"), (Ids{"b"}));
}

// ------------------------------------------------------- String operators

constexpr std::string_view kCities = R"({"id": "p1", "city": "Pune"}
{"id": "p2", "city": "Mumbai"}
{"id": "p3"}
{"id": "p4", "city": null})";

TEST(ReferenceEvaluatorTest, NeqIncludesProfilesWithoutTheAttribute) {
  ReferenceStore store;
  store.LoadNdjson(kCities);
  EXPECT_EQ(
      Matching(store, R"({"field": "city", "op": "eq", "value": "pune"})"),
      (Ids{"p1"}));
  EXPECT_EQ(
      Matching(store, R"({"field": "city", "op": "neq", "value": "pune"})"),
      (Ids{"p2", "p3", "p4"}));
}

TEST(ReferenceEvaluatorTest, InEmptyMatchesNoneAndNotInEmptyMatchesAll) {
  ReferenceStore store;
  store.LoadNdjson(kCities);
  EXPECT_EQ(Matching(store, R"({"field": "city", "op": "in", "value": []})"),
            Ids{});
  EXPECT_EQ(
      Matching(store, R"({"field": "city", "op": "not_in", "value": []})"),
      (Ids{"p1", "p2", "p3", "p4"}));
  EXPECT_EQ(Matching(store, R"({"field": "city", "op": "not_in",
                                "value": ["MUMBAI", "Delhi"]})"),
            (Ids{"p1", "p3", "p4"}));
}

TEST(ReferenceEvaluatorTest, StringEqualityFoldsAsciiCaseOnly) {
  ReferenceStore store;
  store.LoadNdjson(R"({"id": "p1", "city": "Zürich"}
{"id": "p2", "city": "ZÜRICH"}
{"id": "p3", "city": "zürich"}
{"id": "p4", "city": "PUNE"})");
  EXPECT_EQ(
      Matching(store, R"({"field": "city", "op": "eq", "value": "ZüRICH"})"),
      (Ids{"p1", "p3"}));
  EXPECT_EQ(
      Matching(store, R"({"field": "city", "op": "eq", "value": "pune"})"),
      (Ids{"p4"}));
}

TEST(ReferenceEvaluatorTest, ContainsAndStartsWithFoldCase) {
  ReferenceStore store;
  store.LoadNdjson(R"({"id": "p1", "name": "Asha Patil"}
{"id": "p2", "name": "PATRICK"}
{"id": "p3"})");
  const auto with = [&](const char* op, const char* value) {
    return Matching(store, std::string(R"({"field": "name", "op": ")") + op +
                               R"(", "value": ")" + value + "\"}");
  };
  EXPECT_EQ(with("contains", "pat"), (Ids{"p1", "p2"}));
  EXPECT_EQ(with("starts_with", "pat"), (Ids{"p2"}));
  EXPECT_EQ(with("not_contains", "pat"), (Ids{"p3"}));
  EXPECT_EQ(with("contains", ""), (Ids{"p1", "p2"}));
  EXPECT_EQ(with("starts_with", ""), (Ids{"p1", "p2"}));
  EXPECT_EQ(with("not_contains", ""), (Ids{"p3"}));
}

// ------------------------------------------------------- Array operators

constexpr std::string_view kTags = R"({"id": "p1", "tags": ["vip", "new"]}
{"id": "p2", "tags": ["VIP"]}
{"id": "p3", "tags": ["other", "vip-old"]}
{"id": "p4"}
{"id": "p5", "tags": []}
{"id": "p6", "city": "Pune"})";

std::string TagRule(const char* op, const char* value) {
  return std::string(R"({"field": "tags", "op": ")") + op + R"(", "value": )" +
         value + "}";
}

TEST(ReferenceEvaluatorTest, ArrayOperatorsMatchWhenAnyElementMatches) {
  ReferenceStore store;
  store.LoadNdjson(kTags);
  EXPECT_EQ(Matching(store, TagRule("eq", "\"vip\"")), (Ids{"p1", "p2"}));
  EXPECT_EQ(Matching(store, TagRule("in", R"(["new", "OTHER"])")),
            (Ids{"p1", "p3"}));
  EXPECT_EQ(Matching(store, TagRule("contains", "\"vip\"")),
            (Ids{"p1", "p2", "p3"}));
  EXPECT_EQ(Matching(store, TagRule("starts_with", "\"ot\"")), (Ids{"p3"}));
  EXPECT_EQ(Matching(store, R"({"field": "tags", "op": "exists"})"),
            (Ids{"p1", "p2", "p3"}));
}

TEST(ReferenceEvaluatorTest, NegatedArrayOperatorsAreComplements) {
  ReferenceStore store;
  store.LoadNdjson(kTags);
  EXPECT_EQ(Matching(store, TagRule("neq", "\"vip\"")),
            (Ids{"p3", "p4", "p5", "p6"}));
  EXPECT_EQ(Matching(store, TagRule("not_contains", "\"vip\"")),
            (Ids{"p4", "p5", "p6"}));
  EXPECT_EQ(Matching(store, TagRule("not_in", R"(["new", "other"])")),
            (Ids{"p2", "p4", "p5", "p6"}));
}

TEST(ReferenceEvaluatorTest, HasAllNeedsEveryValueAndEmptyMeansPresent) {
  ReferenceStore store;
  store.LoadNdjson(kTags);
  EXPECT_EQ(Matching(store, TagRule("has_all", R"(["vip", "NEW"])")),
            (Ids{"p1"}));
  EXPECT_EQ(Matching(store, TagRule("has_all", R"(["VIP"])")),
            (Ids{"p1", "p2"}));
  EXPECT_EQ(Matching(store, TagRule("has_all", "[]")), (Ids{"p1", "p2", "p3"}));
  EXPECT_EQ(ErrorOf(store, R"({"field": "city", "op": "has_all",
                               "value": ["Pune"]})"),
            "invalid /op");
}

// ------------------------------------------------------ Number operators

constexpr std::string_view kOrders = R"({"id": "p1", "orders": 3}
{"id": "p2", "orders": 3.0}
{"id": "p3", "orders": 9007199254740993}
{"id": "p4", "orders": -1.5}
{"id": "p5"}
{"id": "p6", "orders": 0})";

std::string OrdersRule(const char* op, const char* value) {
  return std::string(R"({"field": "orders", "op": ")") + op +
         R"(", "value": )" + value + "}";
}

TEST(ReferenceEvaluatorTest, NumbersCompareExactly) {
  ReferenceStore store;
  store.LoadNdjson(kOrders);
  EXPECT_EQ(Matching(store, OrdersRule("eq", "3")), (Ids{"p1", "p2"}));
  EXPECT_EQ(Matching(store, OrdersRule("eq", "3.0")), (Ids{"p1", "p2"}));
  EXPECT_EQ(Matching(store, OrdersRule("eq", "9007199254740992")), Ids{});
  EXPECT_EQ(Matching(store, OrdersRule("eq", "9007199254740992.0")), Ids{});
  EXPECT_EQ(Matching(store, OrdersRule("gt", "9007199254740992.0")),
            (Ids{"p3"}));
  EXPECT_EQ(Matching(store, OrdersRule("gte", "-1.5")),
            (Ids{"p1", "p2", "p3", "p4", "p6"}));
  EXPECT_EQ(Matching(store, OrdersRule("lt", "0")), (Ids{"p4"}));
  EXPECT_EQ(Matching(store, OrdersRule("lte", "0")), (Ids{"p4", "p6"}));
}

TEST(ReferenceEvaluatorTest, NumberBetweenIsInclusiveAndEmptyWhenReversed) {
  ReferenceStore store;
  store.LoadNdjson(kOrders);
  EXPECT_EQ(Matching(store, OrdersRule("between", "[-1.5, 3]")),
            (Ids{"p1", "p2", "p4", "p6"}));
  EXPECT_EQ(Matching(store, OrdersRule("between", "[3, -1.5]")), Ids{});
}

TEST(ReferenceEvaluatorTest, NumberInAndNegations) {
  ReferenceStore store;
  store.LoadNdjson(kOrders);
  EXPECT_EQ(Matching(store, OrdersRule("in", "[0, 3]")),
            (Ids{"p1", "p2", "p6"}));
  EXPECT_EQ(Matching(store, OrdersRule("not_in", "[3]")),
            (Ids{"p3", "p4", "p5", "p6"}));
  EXPECT_EQ(Matching(store, OrdersRule("neq", "3")),
            (Ids{"p3", "p4", "p5", "p6"}));
  EXPECT_EQ(Matching(store, R"({"not": {"field": "orders", "op": "gt",
                                        "value": 1}})"),
            (Ids{"p4", "p5", "p6"}));
}

TEST(ReferenceEvaluatorTest, NumberOperatorsWantJsonNumbers) {
  ReferenceStore store;
  store.LoadNdjson(kOrders);
  for (const char* value : {"\"3\"", "true", "null", "[3]"}) {
    EXPECT_EQ(ErrorOf(store, OrdersRule("gt", value)), "malformed /value")
        << value;
  }
  EXPECT_EQ(ErrorOf(store, OrdersRule("between", "[1]")), "malformed /value");
  EXPECT_EQ(ErrorOf(store, OrdersRule("in", R"([1, "2"])")),
            "malformed /value");
  EXPECT_EQ(ErrorOf(store, OrdersRule("contains", "\"3\"")), "invalid /op");
}

// -------------------------------------------------------- Date operators

// now = 2026-11-20T12:00:00Z.
constexpr std::string_view kSeen =
    R"({"id": "p1", "seen": "2026-11-20T12:00:00Z"}
{"id": "p2", "seen": "2026-11-13T17:30+05:30"}
{"id": "p3", "seen": "2026-11-13T11:59:59.9999Z"}
{"id": "p4", "seen": "2026-11-20T12:00:00.001"}
{"id": "p5"}
{"id": "p6", "seen": "2026-11-19"})";

std::string SeenRule(const char* op, const char* value) {
  return std::string(R"({"field": "seen", "op": ")") + op + R"(", "value": )" +
         value + "}";
}

TEST(ReferenceEvaluatorTest, WithinLastIncludesBothEnds) {
  ReferenceStore store;
  store.LoadNdjson(kSeen);
  EXPECT_EQ(Matching(store, SeenRule("within_last", "\"7d\"")),
            (Ids{"p1", "p2", "p6"}));
  EXPECT_EQ(Matching(store, SeenRule("within_last", "\"1w\"")),
            (Ids{"p1", "p2", "p6"}));
  EXPECT_EQ(Matching(store, SeenRule("within_last", "\"0s\"")), (Ids{"p1"}));
}

TEST(ReferenceEvaluatorTest, NotWithinLastIncludesProfilesWithoutTheDate) {
  ReferenceStore store;
  store.LoadNdjson(kSeen);
  EXPECT_EQ(Matching(store, SeenRule("not_within_last", "\"168h\"")),
            (Ids{"p3", "p4", "p5"}));
}

TEST(ReferenceEvaluatorTest, BeforeAndAfterAreStrict) {
  ReferenceStore store;
  store.LoadNdjson(kSeen);
  EXPECT_EQ(Matching(store, SeenRule("before", "\"now-7d\"")), (Ids{"p3"}));
  EXPECT_EQ(Matching(store, SeenRule("after", "\"now-7d\"")),
            (Ids{"p1", "p4", "p6"}));
  EXPECT_EQ(Matching(store, SeenRule("after", "\"2026-11-20T17:30:00+05:30\"")),
            (Ids{"p4"}));
  EXPECT_EQ(Matching(store, SeenRule("before", "\"2026-11-19T00:00:00.001Z\"")),
            (Ids{"p2", "p3", "p6"}));
}

TEST(ReferenceEvaluatorTest, DateBetweenIsInclusiveAndEmptyWhenReversed) {
  ReferenceStore store;
  store.LoadNdjson(kSeen);
  EXPECT_EQ(Matching(store, SeenRule("between", R"(["now-7d", "now"])")),
            (Ids{"p1", "p2", "p6"}));
  EXPECT_EQ(Matching(store, SeenRule("between", R"(["now", "now-7d"])")),
            Ids{});
}

TEST(ReferenceEvaluatorTest, OnMatchesTheSameUtcDay) {
  ReferenceStore store;
  store.LoadNdjson(kSeen);
  EXPECT_EQ(Matching(store, SeenRule("on", "\"2026-11-20\"")),
            (Ids{"p1", "p4"}));
  EXPECT_EQ(Matching(store, SeenRule("on", "\"2026-11-13\"")),
            (Ids{"p2", "p3"}));
  // 2026-11-13T23:00-05:00 is 2026-11-14 in UTC.
  EXPECT_EQ(Matching(store, SeenRule("on", "\"2026-11-13T23:00-05:00\"")),
            Ids{});
}

TEST(ReferenceEvaluatorTest, OnWorksBeforeTheEpoch) {
  ReferenceStore store;
  store.LoadNdjson(R"({"id": "p1", "seen": "1969-12-31T23:59:59.999Z"}
{"id": "p2", "seen": "1970-01-01"}
{"id": "p3", "seen": "1969-12-31T00:00:00Z"})");
  EXPECT_EQ(Matching(store, SeenRule("on", "\"1969-12-31\"")),
            (Ids{"p1", "p3"}));
  EXPECT_EQ(Matching(store, SeenRule("on", "\"1970-01-01T05:00:00Z\"")),
            (Ids{"p2"}));
}

TEST(ReferenceEvaluatorTest, MalformedDateValuesAndDurations) {
  ReferenceStore store;
  store.LoadNdjson(kSeen);
  for (const char* value : {"\"2026-02-30\"", "\"yesterday\"", "\"now-7\"",
                            "\"now - 7d\"", "\"NOW\"", "5"}) {
    EXPECT_EQ(ErrorOf(store, SeenRule("before", value)), "malformed /value")
        << value;
  }
  for (const char* value : {"\"7days\"", "\"-7d\"", "\"7\"", "\"7D\"", "7"}) {
    EXPECT_EQ(ErrorOf(store, SeenRule("within_last", value)),
              "malformed /value")
        << value;
  }
  EXPECT_EQ(ErrorOf(store, SeenRule("eq", "\"2026-11-20\"")), "invalid /op");
}

// -------------------------------------------------------- Bool and exists

TEST(ReferenceEvaluatorTest, BoolOperatorsSkipAbsentValues) {
  ReferenceStore store;
  store.LoadNdjson(R"({"id": "p1", "vip": true}
{"id": "p2", "vip": false}
{"id": "p3"})");
  EXPECT_EQ(Matching(store, R"({"field": "vip", "op": "is_true"})"),
            (Ids{"p1"}));
  EXPECT_EQ(Matching(store, R"({"field": "vip", "op": "is_false"})"),
            (Ids{"p2"}));
  EXPECT_EQ(Matching(store, R"({"not": {"field": "vip", "op": "is_true"}})"),
            (Ids{"p2", "p3"}));
  EXPECT_EQ(Matching(store, R"({"field": "vip", "op": "not_exists"})"),
            (Ids{"p3"}));
}

TEST(ReferenceEvaluatorTest, OperatorsWithoutValueIgnoreOne) {
  // Rule builders often send a value with every operator; exists and
  // is_true have no use for it.
  ReferenceStore store;
  store.LoadNdjson(kCities);
  EXPECT_EQ(
      Matching(store, R"({"field": "city", "op": "exists", "value": null})"),
      Matching(store, R"({"field": "city", "op": "exists"})"));
  EXPECT_EQ(ErrorOf(store, R"({"field": "nope", "op": "exists", "value": 1})"),
            "invalid /field");
}

// --------------------------------------------------------------- Groups

TEST(ReferenceEvaluatorTest, EmptyAllMatchesEveryProfileAndEmptyAnyNone) {
  ReferenceStore store;
  store.LoadNdjson(kCities);
  EXPECT_EQ(Matching(store, R"({"all": []})"), (Ids{"p1", "p2", "p3", "p4"}));
  EXPECT_EQ(Matching(store, R"({"any": []})"), Ids{});
  EXPECT_EQ(Matching(store, R"({"not": {"any": []}})"),
            (Ids{"p1", "p2", "p3", "p4"}));
}

TEST(ReferenceEvaluatorTest, GroupsCombineChildren) {
  ReferenceStore store;
  store.LoadNdjson(kOrders);
  EXPECT_EQ(Matching(store, R"({"any": [
      {"field": "orders", "op": "lt", "value": 0},
      {"all": [{"field": "orders", "op": "gt", "value": 2},
               {"field": "orders", "op": "lt", "value": 100}]}]})"),
            (Ids{"p1", "p2", "p4"}));
}

TEST(ReferenceEvaluatorTest, LimitCutsIdsButNotCount) {
  ReferenceStore store;
  store.LoadNdjson(kCities);
  const Answer answer = store.Evaluate(R"({"all": []})", kNow, 2);
  EXPECT_EQ(answer.count, 4u);
  EXPECT_EQ(answer.ids, (Ids{"p1", "p2"}));
  EXPECT_TRUE(store.Evaluate(R"({"all": []})", kNow, 0).ids.empty());
}

// --------------------------------------------------------------- Events

// now = 2026-11-20T12:00:00Z.
constexpr std::string_view kEvents =
    R"({"id": "p1", "events": [{"name": "order", "at": "2026-11-19T12:00:00Z"}, {"name": "Order", "at": "2026-11-17T12:00:00Z"}, {"name": "cart_abandoned", "at": "2026-11-10T12:00:00Z"}]}
{"id": "p2", "events": [{"name": "ORDER", "at": "2026-11-12T12:00:00Z"}]}
{"id": "p3"})";

TEST(ReferenceEvaluatorTest, EventWithoutCountMeansAtLeastOnce) {
  ReferenceStore store;
  store.LoadNdjson(kEvents);
  EXPECT_EQ(Matching(store, R"({"event": "order"})"), (Ids{"p1", "p2"}));
  EXPECT_EQ(Matching(store, R"({"event": "oRdEr", "within_last": "7d"})"),
            (Ids{"p1"}));
}

TEST(ReferenceEvaluatorTest, EventCountLtOneMatchesProfilesThatNeverDidIt) {
  ReferenceStore store;
  store.LoadNdjson(kEvents);
  EXPECT_EQ(Matching(store, R"({"event": "order", "count": {"lt": 1}})"),
            (Ids{"p3"}));
  EXPECT_EQ(Matching(store, R"({"event": "order", "within_last": "7d",
                                "count": {"lt": 1}})"),
            (Ids{"p2", "p3"}));
  EXPECT_EQ(Matching(store, R"({"event": "never", "count": {"eq": 0}})"),
            (Ids{"p1", "p2", "p3"}));
  EXPECT_EQ(Matching(store, R"({"event": "never"})"), Ids{});
}

TEST(ReferenceEvaluatorTest, EventCountsCompareNumerically) {
  ReferenceStore store;
  store.LoadNdjson(kEvents);
  EXPECT_EQ(Matching(store, R"({"event": "order", "count": {"gte": 2}})"),
            (Ids{"p1"}));
  EXPECT_EQ(Matching(store, R"({"event": "order", "count": {"gte": 1.5}})"),
            (Ids{"p1"}));
  EXPECT_EQ(Matching(store, R"({"event": "order", "count": {"eq": 1}})"),
            (Ids{"p2"}));
  EXPECT_EQ(Matching(store, R"({"event": "order", "count": {"lte": 1}})"),
            (Ids{"p2", "p3"}));
}

TEST(ReferenceEvaluatorTest, EventWindowsAreStrictOrInclusiveAndIntersect) {
  ReferenceStore store;
  store.LoadNdjson(kEvents);
  // after is strict: the event at exactly now-3d does not count.
  EXPECT_EQ(Matching(store, R"({"event": "order", "after": "now-3d",
                                "count": {"eq": 1}})"),
            (Ids{"p1"}));
  EXPECT_EQ(Matching(store, R"({"event": "order", "before": "now-8d"})"),
            Ids{});
  // between is inclusive at both ends.
  EXPECT_EQ(Matching(store, R"({"event": "order",
                                "between": ["now-3d", "now-1d"],
                                "count": {"eq": 2}})"),
            (Ids{"p1"}));
  // within_last 2d and between [now-8d, now] intersect to [now-2d, now].
  EXPECT_EQ(Matching(store, R"({"event": "order", "within_last": "2d",
                                "between": ["now-8d", "now"],
                                "count": {"eq": 1}})"),
            (Ids{"p1"}));
  EXPECT_EQ(Matching(store, R"({"event": "cart_abandoned",
                                "after": "now-11d", "before": "now-9d"})"),
            (Ids{"p1"}));
}

TEST(ReferenceEvaluatorTest, MalformedEventConditions) {
  ReferenceStore store;
  store.LoadNdjson(kEvents);
  EXPECT_EQ(
      ErrorOf(store, R"({"event": "order", "count": {"gte": 1, "lt": 3}})"),
      "malformed /count");
  EXPECT_EQ(ErrorOf(store, R"({"event": "order", "count": {"ge": 1}})"),
            "malformed /count");
  EXPECT_EQ(ErrorOf(store, R"({"event": "order", "count": {"gte": "1"}})"),
            "malformed /count");
  EXPECT_EQ(ErrorOf(store, R"({"event": "order", "within_last": "7"})"),
            "malformed /within_last");
  EXPECT_EQ(ErrorOf(store, R"({"event": "order", "between": ["now"]})"),
            "malformed /between");
  EXPECT_EQ(ErrorOf(store, R"({"event": "order", "after": "soon"})"),
            "malformed /after");
  EXPECT_EQ(ErrorOf(store, R"({"event": "order", "since": "7d"})"),
            "malformed /since");
  EXPECT_EQ(ErrorOf(store, R"({"event": 5})"), "malformed /event");
}

// --------------------------------------------------------- Rule errors

TEST(ReferenceEvaluatorTest, ErrorsPointAtTheOffendingMember) {
  ReferenceStore store;
  store.LoadNdjson(kCities);
  EXPECT_EQ(ErrorOf(store, R"({"all": [{"field": "city", "op": "exists"},
                               {"field": "nope", "op": "eq", "value": "x"}]})"),
            "invalid /all/1/field");
  EXPECT_EQ(ErrorOf(store, R"({"not": {"field": "city", "op": "gt",
                                       "value": 1}})"),
            "invalid /not/op");
  EXPECT_EQ(ErrorOf(store, R"({"field": "city", "op": "equals",
                               "value": "x"})"),
            "malformed /op");
  EXPECT_EQ(ErrorOf(store, R"({"field": "city", "op": "eq", "value": 5})"),
            "malformed /value");
  EXPECT_EQ(ErrorOf(store, R"({"field": "city", "op": "in",
                               "value": ["a", 5]})"),
            "malformed /value");
  EXPECT_EQ(ErrorOf(store, R"({"any": [{"foo": 1}]})"), "malformed /any/0");
  EXPECT_EQ(ErrorOf(store, R"({"all": [{"field": "city", "op": "exists",
                                        "foo": 1}]})"),
            "malformed /all/0/foo");
  EXPECT_EQ(ErrorOf(store, R"({"all": [{"field": "city", "value": "x"}]})"),
            "malformed /all/0/op");
  EXPECT_EQ(ErrorOf(store, R"({"field": "city", "op": "eq"})"),
            "malformed /value");
  EXPECT_EQ(ErrorOf(store, R"({"all": {}})"), "malformed /all");
  EXPECT_EQ(ErrorOf(store, R"({"not": []})"), "malformed /not");
  EXPECT_EQ(ErrorOf(store, R"({"segment": "vips"})"), "invalid /segment");
  EXPECT_EQ(ErrorOf(store, R"({"field": "id", "op": "exists"})"),
            "invalid /field");
}

TEST(ReferenceEvaluatorTest, RuleThatIsNotAJsonObjectIsMalformed) {
  ReferenceStore store;
  store.LoadNdjson(kCities);
  EXPECT_EQ(ErrorOf(store, "{"), "malformed ");
  EXPECT_EQ(ErrorOf(store, "[]"), "malformed ");
  EXPECT_EQ(ErrorOf(store, R"({"all": []} x)"), "malformed ");
  EXPECT_EQ(ErrorOf(store, "{}"), "malformed ");
}

TEST(ReferenceEvaluatorTest, FirstErrorInDocumentOrderWins) {
  ReferenceStore store;
  store.LoadNdjson(kCities);
  EXPECT_EQ(ErrorOf(store, R"({"all": [
      {"field": "nope", "op": "eq", "value": "x"},
      {"field": "city", "op": "eq", "value": 5}]})"),
            "invalid /all/0/field");
  EXPECT_EQ(ErrorOf(store, R"({"all": [
      {"field": "city", "op": "eq", "value": 5},
      {"field": "nope", "op": "eq", "value": "x"}]})"),
            "malformed /all/0/value");
  // Within a node, members count in the order they are written.
  EXPECT_EQ(ErrorOf(store, R"({"value": 5, "op": "eq", "field": "city"})"),
            "malformed /value");
  EXPECT_EQ(ErrorOf(store, R"({"foo": 1, "field": "nope", "op": "eq"})"),
            "malformed /foo");
}

TEST(ReferenceEvaluatorTest, PathsEscapeJsonPointerCharacters) {
  ReferenceStore store;
  store.LoadNdjson(kCities);
  EXPECT_EQ(ErrorOf(store, R"({"all": [{"field": "city", "op": "exists",
                                        "a/b~": 1}]})"),
            "malformed /all/0/a~1b~0");
}

// Wraps a leaf in `nots` levels of {"not": ...}.
std::string NestedNots(int nots) {
  std::string rule = R"({"field": "city", "op": "exists"})";
  for (int i = 0; i < nots; ++i) rule = R"({"not": )" + rule + "}";
  return rule;
}

TEST(ReferenceEvaluatorTest, RulesNestUpToSixtyFourLevels) {
  ReferenceStore store;
  store.LoadNdjson(kCities);
  EXPECT_EQ(Matching(store, NestedNots(63)), (Ids{"p3", "p4"}));
  std::string too_deep_path;
  for (int i = 0; i < 64; ++i) too_deep_path += "/not";
  EXPECT_EQ(ErrorOf(store, NestedNots(64)), "invalid " + too_deep_path);
}

// ----------------------------------------------------------- Random data

TEST(RandomDataTest, SameSeedGivesSameData) {
  EXPECT_EQ(RandomProfilesNdjson(5, 200), RandomProfilesNdjson(5, 200));
  EXPECT_NE(RandomProfilesNdjson(5, 200), RandomProfilesNdjson(6, 200));
  Rng a(9), b(9);
  EXPECT_EQ(RandomRule(a, DataVocabulary(), 4),
            RandomRule(b, DataVocabulary(), 4));
}

TEST(RandomDataTest, VocabularyKindsMatchTheData) {
  ReferenceStore store;
  store.LoadNdjson(RandomProfilesNdjson(1, 300));
  for (const VocabularyAttribute& attribute : DataVocabulary().attributes) {
    EXPECT_EQ(store.KindOf(attribute.name), attribute.kind) << attribute.name;
  }
  for (const std::string& name : DataVocabulary().unknown_attributes) {
    EXPECT_EQ(store.KindOf(name), std::nullopt) << name;
  }
}

TEST(RandomDataTest, DataHasSomeButFewBadLines) {
  ReferenceStore store;
  store.LoadNdjson(RandomProfilesNdjson(2, 2000));
  EXPECT_GT(store.rejected().size(), 20u);
  EXPECT_LT(store.rejected().size(), 150u);
  EXPECT_LT(store.profile_count(), store.accepted());  // some replacements
}

TEST(RandomDataTest, RandomRulesAreMostlyValidAndSelective) {
  ReferenceStore store;
  store.LoadNdjson(RandomProfilesNdjson(3, 1000));
  Rng rng(3);
  int ok = 0, selective = 0;
  constexpr int kRules = 1000;
  for (int i = 0; i < kRules; ++i) {
    const Answer answer = store.Evaluate(
        RandomRule(rng, DataVocabulary(), 1 + i % 5), kRandomDataNowMs, 0);
    if (!answer.ok) continue;
    ++ok;
    if (answer.count > 0 && answer.count < store.profile_count()) ++selective;
  }
  EXPECT_GT(ok, kRules * 8 / 10);
  EXPECT_LT(ok, kRules * 95 / 100);  // errors are exercised too
  EXPECT_GT(selective, ok * 6 / 10);
}

}  // namespace
}  // namespace segd::reference
