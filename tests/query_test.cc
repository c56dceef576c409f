// The rule pipeline end to end on small hand-made data: semantics of SPEC
// §2, error pointers, previews, and results that cross shard boundaries.
#include "engine/query.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/ascii.h"
#include "base/time.h"
#include "engine/executor.h"
#include "engine/preview.h"
#include "index/index.h"
#include "ingest/loader.h"
#include "tools/gen.h"

namespace segd {
namespace {

const int64_t kNow = *ParseIsoInstant("2026-11-20T12:00:00Z");

class QueryTest : public ::testing::Test {
 protected:
  void Load(std::string_view ndjson) {
    LoadReport r = LoadText(ndjson, &store_);
    ASSERT_TRUE(r.rejected.empty()) << r.rejected[0].error.ToString();
    index_ = Index::Build(store_);
  }
  // Matching ids, in row order, or "error:<code>:<path>". `count`: whether
  // the count is asked for too.
  std::string Ids(std::string_view rule, size_t limit = 100,
                  bool count = true) {
    QueryOptions options;
    options.now_ms = kNow;
    options.limit = limit;
    options.count = count;
    Result<ExecuteResult> r = RunQuery(*index_, rule, options);
    if (!r.ok()) {
      return std::string("error:") + ErrorCodeName(r.status().code()) + ":" +
             r.status().path();
    }
    std::string out;
    DecodedProfile p;
    for (uint32_t row : r->rows) {
      DecodeProfile(store_.blob(row), &p);
      out += (out.empty() ? "" : ",") + std::string(p.id);
    }
    return out;
  }
  uint64_t Count(std::string_view rule) {
    QueryOptions options;
    options.now_ms = kNow;
    options.limit = 0;
    Result<ExecuteResult> r = RunQuery(*index_, rule, options);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->count : ~uint64_t{0};
  }

  ProfileStore store_;
  std::shared_ptr<const Index> index_;
};

constexpr char kPeople[] =
    R"({"id":"a","city":"Pune","tags":["vip","new"],"orders":5,"csat":4.5,"signed_up":"2026-11-19","trial":true,"email":"Asha@Example.com","events":[{"name":"order","at":"2026-11-19T10:00:00Z"},{"name":"order","at":"2026-11-18T10:00:00Z"}]})"
    "\n"
    R"({"id":"b","city":"pune","tags":["new"],"orders":0,"signed_up":"2026-01-01T00:00:00Z","trial":false,"events":[{"name":"cart_abandoned","at":"2026-11-19T12:00:00Z"}]})"
    "\n"
    R"({"id":"c","city":"Mumbai","orders":12,"csat":2,"email":"c@shop.in"})"
    "\n"
    R"({"id":"d","tags":["VIP"],"orders":1.5})"
    "\n"
    R"({"id":"e"})";

TEST_F(QueryTest, StringEqualityFoldsAsciiCase) {
  Load(kPeople);
  EXPECT_EQ(Ids(R"({"field":"city","op":"eq","value":"PUNE"})"), "a,b");
  EXPECT_EQ(Ids(R"({"field":"city","op":"in","value":["mumbai","x"]})"), "c");
  EXPECT_EQ(Ids(R"({"field":"tags","op":"eq","value":"vip"})"), "a,d");
}

TEST_F(QueryTest, NegativeOperatorsIncludeProfilesWithoutTheAttribute) {
  Load(kPeople);
  EXPECT_EQ(Ids(R"({"field":"city","op":"neq","value":"pune"})"), "c,d,e");
  EXPECT_EQ(Ids(R"({"field":"tags","op":"not_in","value":["new"]})"), "c,d,e");
  EXPECT_EQ(Ids(R"({"field":"email","op":"not_contains","value":"example"})"),
            "b,c,d,e");
  EXPECT_EQ(Ids(R"({"field":"city","op":"not_exists"})"), "d,e");
  EXPECT_EQ(Ids(R"({"not":{"field":"orders","op":"gt","value":1}})"), "b,e");
}

TEST_F(QueryTest, ArraysMatchWhenAnyElementMatches) {
  Load(kPeople);
  EXPECT_EQ(Ids(R"({"field":"tags","op":"has_all","value":["new","VIP"]})"),
            "a");
  EXPECT_EQ(Ids(R"({"field":"tags","op":"starts_with","value":"Ne"})"), "a,b");
  EXPECT_EQ(Ids(R"({"field":"tags","op":"has_all","value":[]})"), "a,b,d");
}

TEST_F(QueryTest, NumbersCompareAcrossIntegersAndDoubles) {
  Load(kPeople);
  EXPECT_EQ(Ids(R"({"field":"orders","op":"gte","value":1.5})"), "a,c,d");
  EXPECT_EQ(Ids(R"({"field":"orders","op":"between","value":[1,5]})"), "a,d");
  EXPECT_EQ(Ids(R"({"field":"orders","op":"between","value":[5,1]})"), "");
  EXPECT_EQ(Ids(R"({"field":"csat","op":"in","value":[2,4.5]})"), "a,c");
  EXPECT_EQ(Ids(R"({"field":"orders","op":"lt","value":1.5})"), "b");
}

TEST_F(QueryTest, DateOperators) {
  Load(kPeople);
  EXPECT_EQ(Ids(R"({"field":"signed_up","op":"within_last","value":"7d"})"),
            "a");
  EXPECT_EQ(Ids(R"({"field":"signed_up","op":"not_within_last","value":"7d"})"),
            "b,c,d,e");
  EXPECT_EQ(
      Ids(R"({"field":"signed_up","op":"on","value":"2026-11-19T23:59:59+00:00"})"),
      "a");
  EXPECT_EQ(Ids(R"({"field":"signed_up","op":"after","value":"2026-11-19"})"),
            "");
  EXPECT_EQ(Ids(R"({"field":"signed_up","op":"before","value":"now-30d"})"),
            "b");
  EXPECT_EQ(
      Ids(R"({"field":"signed_up","op":"between","value":["2026-01-01","2026-11-19"]})"),
      "a,b");
}

TEST_F(QueryTest, EventCountsAndWindows) {
  Load(kPeople);
  EXPECT_EQ(Ids(R"({"event":"order"})"), "a");
  EXPECT_EQ(Ids(R"({"event":"ORDER","count":{"gte":2},"within_last":"7d"})"),
            "a");
  EXPECT_EQ(
      Ids(R"({"event":"order","count":{"eq":1},"after":"2026-11-18T10:00:00Z"})"),
      "a");
  EXPECT_EQ(Ids(R"({"event":"order","count":{"lt":1}})"), "b,c,d,e");
  EXPECT_EQ(Ids(R"({"event":"cart_abandoned","within_last":"48h"})"), "b");
  EXPECT_EQ(Ids(R"({"event":"never_seen"})"), "");
  EXPECT_EQ(Ids(R"({"event":"never_seen","count":{"lte":0}})"), "a,b,c,d,e");
}

// Event counts over windows, against a count of the events themselves:
// windows reaching the present take the recency ladders (counts 1..5);
// windows ending in the past, larger counts and the shard holding events
// after `now` count event by event, from the ladders' rungs and the events
// older than a row's five latest (rows here hold up to ten, some two at
// one instant).
TEST_F(QueryTest, EventCountsAgreeWithACountOfTheEvents) {
  constexpr int64_t kDay = 86'400'000;
  const int n = 65536 + 5000;
  std::vector<std::vector<int64_t>> times(n);
  std::string data;
  for (int i = 0; i < n; ++i) {
    const int events = (i * 7) % 9;
    for (int j = 0; j < events; ++j) {
      times[i].push_back(kNow - ((i * 31 + j * 97) % 400) * kDay -
                         j * 3'600'000);
    }
    if (i >= 65536 && i % 50 == 0) times[i].push_back(kNow + kDay);
    if (i % 13 == 5 && !times[i].empty()) {  // two events at one instant
      times[i].push_back(times[i][events / 2]);
    }
    if (i % 20011 == 3) {  // counts past what a byte holds
      for (int j = 0; j < 300; ++j) times[i].push_back(kNow - j * 3'600'000);
    }
    data += "{\"id\":\"p" + std::to_string(i) + "\",\"events\":[";
    for (size_t j = 0; j < times[i].size(); ++j) {
      data += std::string(j ? "," : "") + "{\"name\":\"order\",\"at\":\"" +
              FormatIsoInstant(times[i][j]) + "\"}";
    }
    data += "]}\n";
  }
  Load(data);
  const char* ops[] = {"eq", "gt", "gte", "lt", "lte"};
  for (int days : {1, 30, 200, 365, 1000}) {
    // Up to now, then over a window ending 20 days back.
    for (const int64_t end_days : {0, 20}) {
      if (end_days >= days) continue;
      const int64_t lo = kNow - days * kDay, hi = kNow - end_days * kDay;
      const std::string window =
          end_days == 0 ? R"("within_last":")" + std::to_string(days) + "d\""
                        : R"("between":[")" + FormatIsoInstant(lo) + "\",\"" +
                              FormatIsoInstant(hi) + "\"]";
      for (const char* op : ops) {
        for (const int k : {0, 1, 2, 3, 4, 5, 6, 7, 260}) {
          uint64_t want = 0;
          for (int i = 0; i < n; ++i) {
            int64_t c = 0;
            for (int64_t t : times[i]) c += t >= lo && t <= hi;
            const std::string o = op;
            want += o == "eq"    ? c == k
                    : o == "gt"  ? c > k
                    : o == "gte" ? c >= k
                    : o == "lt"  ? c < k
                                 : c <= k;
          }
          const std::string rule = R"({"event":"order",)" + window +
                                   R"(,"count":{")" + op +
                                   "\":" + std::to_string(k) + "}}";
          EXPECT_EQ(Count(rule), want) << rule;
          // The estimate the planner orders by bounds the profiles from
          // above (a count test passing 0 is bound as a NOT).
          QueryOptions options;
          options.now_ms = kNow;
          Result<Plan> plan = PlanQuery(*index_, rule, options);
          ASSERT_TRUE(plan.ok());
          if (plan->root.kind == BoundKind::kLeaf) {
            EXPECT_GE(plan->root.estimate, want) << rule;
          }
        }
      }
    }
  }
}

// Asking for more members than there are reads every shard in order, and
// the count comes from that walk: it must equal the count alone.
TEST_F(QueryTest, CountStaysExactWhenMembersRunOut) {
  Load(kPeople);
  for (const char* rule :
       {R"({"field":"city","op":"in","value":["Pune","Delhi"]})",
        R"({"not":{"field":"tags","op":"eq","value":"vip"}})",
        R"({"event":"order","count":{"lt":2}})", R"({"all":[]})"}) {
    QueryOptions options;
    options.now_ms = kNow;
    options.limit = 1000;
    Result<ExecuteResult> walked = RunQuery(*index_, rule, options);
    ASSERT_TRUE(walked.ok());
    EXPECT_EQ(walked->count, Count(rule)) << rule;
    EXPECT_EQ(walked->rows.size(), walked->count) << rule;
  }
}

TEST_F(QueryTest, GroupsAndConstants) {
  Load(kPeople);
  EXPECT_EQ(Count(R"({"all":[]})"), 5u);
  EXPECT_EQ(Count(R"({"any":[]})"), 0u);
  EXPECT_EQ(Ids(R"({"all":[{"field":"city","op":"eq","value":"pune"},
                         {"not":{"field":"trial","op":"is_true"}}]})"),
            "b");
  EXPECT_EQ(
      Ids(R"({"any":[{"field":"trial","op":"is_false"},{"field":"orders","op":"gt","value":10}]})"),
      "b,c");
}

TEST_F(QueryTest, LimitKeepsRowOrderAndCountStaysExact) {
  Load(kPeople);
  EXPECT_EQ(Ids(R"({"all":[]})", 2), "a,b");
  EXPECT_EQ(Ids(R"({"all":[]})", 0), "");
}

TEST_F(QueryTest, ErrorsPointAtTheOffendingNode) {
  Load(kPeople);
  EXPECT_EQ(
      Ids(R"({"all":[{"field":"city","op":"eq","value":"x"},{"field":"nope","op":"eq","value":1}]})"),
      "error:invalid:/all/1/field");
  EXPECT_EQ(Ids(R"({"any":[{"field":"city","op":"gt","value":1}]})"),
            "error:invalid:/any/0/op");
  EXPECT_EQ(Ids(R"({"field":"city","op":"equals","value":"x"})"),
            "error:malformed:/op");
  EXPECT_EQ(Ids(R"({"field":"orders","op":"eq","value":"5"})"),
            "error:malformed:/value");
  EXPECT_EQ(Ids(R"({"field":"signed_up","op":"after","value":"2026-02-30"})"),
            "error:malformed:/value");
  EXPECT_EQ(Ids(R"({"not":{"event":"x","within_last":"7 days"}})"),
            "error:malformed:/not/within_last");
  EXPECT_EQ(Ids(R"({"event":"x","count":{"atleast":1}})"),
            "error:malformed:/count");
  EXPECT_EQ(Ids(R"({"segment":"vips"})"), "error:invalid:/segment");
  EXPECT_EQ(
      Ids(R"({"all":[{"field":"city","op":"eq","value":"x","extra":1}]})"),
      "error:malformed:/all/0/extra");
  EXPECT_EQ(Ids(R"([])"), "error:malformed:");
  EXPECT_EQ(Ids(R"({"all":)"), "error:malformed:");
}

TEST_F(QueryTest, DepthIsLimited) {
  Load(kPeople);
  std::string ok, deep;
  for (int i = 0; i < 63; ++i) ok += R"({"not":)";
  ok += R"({"all":[]})" + std::string(63, '}');
  EXPECT_EQ(Count(ok), 0u);  // 63 NOTs over everything
  for (int i = 0; i < 64; ++i) deep += R"({"not":)";
  deep += R"({"all":[]})" + std::string(64, '}');
  std::string path;
  for (int i = 0; i < 64; ++i) path += "/not";
  EXPECT_EQ(Ids(deep), "error:invalid:" + path);
  std::string huge(100000, '[');
  EXPECT_EQ(Ids(huge), "error:malformed:");
}

// Each thread parses rules with a parser it keeps; one grown past its
// bound by a large rule is let go once the rule is converted. Answers are
// the same before and after, on this thread and another.
TEST_F(QueryTest, RulesParseTheSameAfterALargeOneAndAnError) {
  Load(kPeople);
  const std::string small = R"({"field":"city","op":"in","value":["pune"]})";
  EXPECT_EQ(Ids(small), "a,b");
  std::string large = R"({"field":"city","op":"in","value":[)";
  for (int i = 0; i < 10000; ++i) large += "\"c" + std::to_string(i) + "\",";
  large += R"("Mumbai"]})";
  ASSERT_GT(large.size(), size_t{64} << 10);  // past what a parser keeps
  EXPECT_EQ(Ids(large), "c");
  EXPECT_EQ(Ids(small), "a,b");
  EXPECT_EQ(Ids(R"({"field":"city","op":)"), "error:malformed:");
  EXPECT_EQ(Ids(small), "a,b");
  EXPECT_EQ(Ids(R"({"field":"orders","op":"gte","value":5})"), "a,c");
  std::string elsewhere;
  std::thread([&] { elsewhere = Ids(large) + "|" + Ids(small); }).join();
  EXPECT_EQ(elsewhere, "c|a,b");
}

TEST_F(QueryTest, UnindexableAttributesAreRejected) {
  Load(R"({"id":"a","scores":[1,2]})");
  EXPECT_EQ(Ids(R"({"field":"scores","op":"exists"})"), "error:invalid:/field");
}

TEST_F(QueryTest, ResultsCrossShardBoundaries) {
  std::string data;
  const int n = 3 * 65536 + 100;
  for (int i = 0; i < n; ++i) {
    data += "{\"id\":\"p" + std::to_string(i) +
            "\",\"n\":" + std::to_string(i % 7) +
            (i % 3 == 0 ? ",\"tags\":[\"x\"]" : "") + "}\n";
  }
  Load(data);
  uint64_t expected = 0;
  for (int i = 0; i < n; ++i) expected += (i % 7 == 3 && i % 3 != 0);
  EXPECT_EQ(
      Count(
          R"({"all":[{"field":"n","op":"eq","value":3},{"not":{"field":"tags","op":"exists"}}]})"),
      expected);
  EXPECT_EQ(Ids(R"({"field":"n","op":"eq","value":3})", 3), "p3,p10,p17");
}

TEST_F(QueryTest, WideRangesUseRangeBucketsAndAgreeWithAScan) {
  // Columns get a range bucket per 2048 entries; check ranges of every
  // width, with duplicate keys straddling bucket edges, against a plain
  // scan, on a dense column (16 buckets a shard), a sparse one (6) and a
  // sparser one (2). Two range leaves ANDed make each a bitset.
  std::string data;
  const int n = 2 * 65536 + 5000;
  std::vector<int> value(n);
  std::vector<double> mixed(n);
  for (int i = 0; i < n; ++i) {
    value[i] = (i * 7919) % 1000;
    mixed[i] = (i % 3 == 0) ? value[i] + 0.5 : value[i];
    const std::string v = std::to_string(value[i]);
    data += "{\"id\":\"p" + std::to_string(i) + "\",\"v\":" + v +
            ",\"m\":" + std::to_string(mixed[i]) + ",\"d\":\"" +
            FormatIsoInstant(int64_t{value[i]} * 86400000) + "\"";
    if (i % 5 == 0) data += ",\"s\":" + v;
    if (i % 12 == 0) data += ",\"t\":" + v;
    data += "}\n";
  }
  Load(data);
  std::mt19937 rng(11);
  for (int probe = 0; probe < 60; ++probe) {
    int lo = static_cast<int>(rng() % 1100) - 50;
    int hi = static_cast<int>(rng() % 1100) - 50;
    if (probe % 3 == 0) std::swap(lo, hi);
    uint64_t want = 0, want_mixed = 0, want_before = 0, want_s = 0, want_t = 0;
    std::string first_s;  // the first 20 ids in s's range
    for (int i = 0; i < n; ++i) {
      const bool in = value[i] >= lo && value[i] <= hi;
      want += in;
      want_mixed += mixed[i] > lo && mixed[i] < hi;
      want_before += value[i] < hi;
      want_s += in && i % 5 == 0;
      want_t += in && i % 12 == 0;
      if (in && i % 5 == 0 && want_s <= 20) {
        first_s += (first_s.empty() ? "p" : ",p") + std::to_string(i);
      }
    }
    const std::string range =
        "[" + std::to_string(lo) + "," + std::to_string(hi) + "]";
    auto both_ends = [&](const std::string& field, const char* low_op,
                         const char* high_op) {
      return R"({"all":[{"field":")" + field + R"(","op":")" + low_op +
             R"(","value":)" + std::to_string(lo) + R"(},{"field":")" + field +
             R"(","op":")" + high_op + R"(","value":)" + std::to_string(hi) +
             "}]}";
    };
    EXPECT_EQ(Count(R"({"field":"v","op":"between","value":)" + range + "}"),
              want)
        << range;
    EXPECT_EQ(Count(both_ends("v", "gte", "lte")), want) << range;
    EXPECT_EQ(Count(both_ends("m", "gt", "lt")), want_mixed) << range;
    EXPECT_EQ(Count(both_ends("s", "gte", "lte")), want_s) << range;
    EXPECT_EQ(Count(both_ends("t", "gte", "lte")), want_t) << range;
    EXPECT_EQ(Ids(both_ends("s", "gte", "lte"), 20, false), first_s) << range;
    EXPECT_EQ(Count(R"({"field":"d","op":"before","value":")" +
                    FormatIsoInstant(int64_t{hi} * 86400000) + "\"}"),
              want_before)
        << range;
  }
}

// Counts of contains, starts_with and long in-lists on a single-valued
// attribute come from the matching values' running row counts (two reads
// for a prefix, a sum over the set otherwise); they must equal a scan.
// The index's memory names the folded text and the range buckets apart
// from the rest: one shard of 5000 numbers has two buckets.
TEST_F(QueryTest, MemoryUseCountsTextAndRangeBucketsApart) {
  std::string data;
  size_t text = 0;
  for (int i = 0; i < 5000; ++i) {
    const std::string email = "User" + std::to_string(i) + "@X.io";
    text += email.size();
    data += "{\"id\":\"p" + std::to_string(i) +
            "\",\"n\":" + std::to_string(i * 7) + ",\"email\":\"" + email +
            "\"}\n";
  }
  Load(data);
  const Index::Memory memory = index_->MemoryUse();
  EXPECT_GE(memory.strings.text, text);
  EXPECT_LE(memory.strings.text, text + 1);  // and a terminator
  // Two prefix bitsets of a shard and their three edges.
  EXPECT_EQ(memory.range_buckets,
            2 * kShardWords * sizeof(uint64_t) + 3 * sizeof(uint32_t));
  // The keys and a 2-byte row for each of the 5000 entries.
  EXPECT_GE(memory.number_columns, 5000 * sizeof(uint16_t));
  EXPECT_LT(memory.number_columns, 5000 * (sizeof(uint16_t) + 4));
  EXPECT_EQ(memory.recency + memory.events, 0u);
}

TEST_F(QueryTest, TextCountsFromOccurrencesAgreeWithAScan) {
  // Every fourth row holds one of ten common values (bitmaps); the others
  // hold a value of their own (row lists), enough for a trigram index.
  const int n = 30000;
  std::vector<std::string> codes(n);
  std::string data;
  for (int i = 0; i < n; ++i) {
    codes[i] = "v" + std::to_string(i % 4 == 0 ? i % 40 * 100 : i);
    data += "{\"id\":\"p" + std::to_string(i) + "\",\"code\":\"" + codes[i] +
            "\"}\n";
  }
  Load(data);
  for (const char* needle : {"v", "v1", "v12", "v36", "V2", "v29999"}) {
    uint64_t want = 0;
    for (const std::string& c : codes)
      want += c.rfind(FoldAscii(needle), 0) == 0;
    const std::string value = std::string(R"(,"value":")") + needle + "\"}";
    EXPECT_EQ(Count(R"({"field":"code","op":"starts_with")" + value), want)
        << needle;
    EXPECT_EQ(
        Count(R"({"not":{"field":"code","op":"starts_with")" + value + "}"),
        n - want)
        << needle;
  }
  for (const char* needle : {"00", "1", "36", "v", "999"}) {
    uint64_t want = 0;
    for (const std::string& c : codes)
      want += c.find(needle) != std::string::npos;
    const std::string value = std::string(R"(,"value":")") + needle + "\"}";
    EXPECT_EQ(Count(R"({"field":"code","op":"contains")" + value), want)
        << needle;
    EXPECT_EQ(Count(R"({"field":"code","op":"not_contains")" + value), n - want)
        << needle;
  }
  // Over a thousand values listed: one set, counted from its occurrences.
  std::string list;
  std::set<std::string> listed;
  for (int i = 1; i < 8000; i += 5) {
    listed.insert(codes[i]);
    list += (list.empty() ? "\"" : ",\"") + codes[i] + "\"";
  }
  listed.insert("v0");
  list += ",\"V0\"";
  uint64_t want = 0;
  for (const std::string& c : codes) want += listed.count(c);
  EXPECT_EQ(Count(R"({"field":"code","op":"in","value":[)" + list + "]}"),
            want);
  EXPECT_EQ(
      Count(R"({"not":{"field":"code","op":"in","value":[)" + list + "]}}"),
      n - want);
}

// A set of over a thousand values, as a bitset over value ids, tested
// against each row's value: rows without the attribute must not read as the
// last value. 2048 values fill whole bitset words, and the set holds the
// A count of contains over emails: from the one letter run that holds the
// needle ("gmail"), or from a scan when two runs do ("patil", "spatil");
// rows without an email and values held by several rows included.
TEST_F(QueryTest, ContainsCountsFromLetterRunsAgreeWithAScan) {
  const char* names[] = {"asha", "patil", "spatil", "gmail", "ravi"};
  const char* domains[] = {"@gmail.com", "@yahoo.co.in", "@mail.io"};
  const int n = 20000;
  std::vector<std::string> emails(n);
  std::string data;
  for (int i = 0; i < n; ++i) {
    data += "{\"id\":\"p" + std::to_string(i) + "\"";
    if (i % 7 != 3) {
      emails[i] = std::string(names[i % 5]) + "." + std::to_string(i % 3000) +
                  domains[i / 5 % 3];
      data += ",\"email\":\"" + emails[i] + "\"";
    }
    data += "}\n";
  }
  Load(data);
  for (const char* needle :
       {"gmail", "GMail", "yahoo", "asha", "patil", "mail", "zz", "1@"}) {
    uint64_t want = 0;
    for (const std::string& e : emails) {
      want += !e.empty() && e.find(FoldAscii(needle)) != std::string::npos;
    }
    const std::string value = std::string(R"(,"value":")") + needle + "\"}";
    EXPECT_EQ(Count(R"({"field":"email","op":"contains")" + value), want)
        << needle;
    EXPECT_EQ(Count(R"({"field":"email","op":"not_contains")" + value),
              n - want)
        << needle;
  }
}

// last value.
TEST_F(QueryTest, ManyValuesSetSkipsRowsWithoutTheAttribute) {
  std::string data, list;
  uint64_t want = 0;
  int code = 0;
  for (int row = 0; row < 2560; ++row) {
    data +=
        "{\"id\":\"p" + std::to_string(row) + "\",\"n\":" + std::to_string(row);
    if (row % 5 != 4) {
      char text[8];
      std::snprintf(text, sizeof(text), "k%04d", code);
      data += std::string(",\"code\":\"") + text + "\"";
      if (code < 1100 || code == 2047) {
        list += (list.empty() ? "\"" : ",\"") + std::string(text) + "\"";
        ++want;
      }
      ++code;
    }
    data += "}\n";
  }
  ASSERT_EQ(code, 2048);
  Load(data);
  const std::string in = R"({"field":"code","op":"in","value":[)" + list + "]}";
  EXPECT_EQ(Count(in), want);
  EXPECT_EQ(Count(R"({"not":)" + in + "}"), 2560 - want);
  // With another predicate, the set is tested row by row.
  const std::string every = R"({"field":"n","op":"gte","value":0})";
  EXPECT_EQ(Count(R"({"all":[)" + in + "," + every + "]}"), want);
  EXPECT_EQ(Count(R"({"all":[{"not":)" + in + "}," + every + "]}"),
            2560 - want);
}

TEST_F(QueryTest, ContainsManyValuesAgreesWithAScan) {
  // Enough distinct values for a trigram index, and needles matching so
  // many that the rows are tested against a bitset of values, shard by
  // shard (with arrays: several values per row).
  std::string data;
  const int n = 65536 + 9000;
  std::vector<std::string> emails(n);
  for (int i = 0; i < n; ++i) {
    emails[i] = "user" + std::to_string(i * 7 % 5003) + "@" +
                (i % 3 ? "gmail.com" : "Shop.IN");
  }
  for (int i = 0; i < n; ++i) {
    data += "{\"id\":\"p" + std::to_string(i) + "\",\"email\":\"" + emails[i] +
            "\"" +
            (i % 2 ? ",\"alts\":[\"" + emails[(i + 1) % n] + "\",\"x" +
                         std::to_string(i) + "\"]"
                   : "") +
            "}\n";
  }
  Load(data);
  for (const char* needle :
       {"gmail", "shop", "user1", "1@", "9", "@", "user", "USER4"}) {
    const std::string folded = FoldAscii(needle);
    uint64_t want = 0, want_alts = 0, want_not = 0;
    for (int i = 0; i < n; ++i) {
      const bool hit = FoldAscii(emails[i]).find(folded) != std::string::npos;
      want += hit;
      want_not += !hit;
      if (i % 2) {
        want_alts +=
            FoldAscii(emails[(i + 1) % n]).find(folded) != std::string::npos ||
            ("x" + std::to_string(i)).find(folded) != std::string::npos;
      }
    }
    EXPECT_EQ(
        Count(std::string(R"({"field":"email","op":"contains","value":")") +
              needle + "\"}"),
        want)
        << needle;
    EXPECT_EQ(
        Count(std::string(R"({"field":"email","op":"not_contains","value":")") +
              needle + "\"}"),
        want_not)
        << needle;
    EXPECT_EQ(
        Count(std::string(R"({"field":"alts","op":"contains","value":")") +
              needle + "\"}"),
        want_alts)
        << needle;
    // Members, found by testing rows one by one in growing windows when
    // only a preview is asked for: the same first rows as a scan, within
    // the first window, across it and past the first shard.
    for (size_t limit : {size_t{20}, size_t{3000}, size_t{70000}}) {
      std::string want_ids, want_and_ids;
      size_t found = 0, found_and = 0;
      for (int i = 0; i < n; ++i) {
        const bool hit = FoldAscii(emails[i]).find(folded) != std::string::npos;
        if (hit && found < limit) {
          want_ids += (found++ ? "," : "") + ("p" + std::to_string(i));
        }
        if (!hit && i % 2 && found_and < limit) {
          want_and_ids += (found_and++ ? "," : "") + ("p" + std::to_string(i));
        }
      }
      const std::string contains =
          std::string(R"({"field":"email","op":"contains","value":")") +
          needle + "\"}";
      const std::string and_not =
          std::string(R"({"all":[{"field":"alts","op":"exists"},)") +
          R"({"field":"email","op":"not_contains","value":")" + needle +
          "\"}]}";
      std::string want_prefix_ids;
      size_t found_prefix = 0;
      for (int i = 0; i < n && found_prefix < limit; ++i) {
        if (FoldAscii(emails[i]).rfind(folded, 0) == 0) {
          want_prefix_ids +=
              (found_prefix++ ? "," : "") + ("p" + std::to_string(i));
        }
      }
      const std::string prefixed =
          std::string(R"({"field":"email","op":"starts_with","value":")") +
          needle + "\"}";
      const uint64_t want_prefix_count = std::count_if(
          emails.begin(), emails.end(), [&](const std::string& e) {
            return FoldAscii(e).rfind(folded, 0) == 0;
          });
      EXPECT_EQ(Count(prefixed), want_prefix_count) << needle;
      for (bool count : {false, true}) {
        EXPECT_EQ(Ids(prefixed, limit, count), want_prefix_ids)
            << needle << limit;
        EXPECT_EQ(Ids(contains, limit, count), want_ids) << needle << limit;
        EXPECT_EQ(Ids(and_not, limit, count), want_and_ids) << needle << limit;
      }
    }
  }
}

// Previews of a bitmap, an OR of bitmaps and NOT of either read each shard
// in growing windows of its first rows. Over three shards whose densities
// differ (the flag and a missing email are rare in the first shard, common
// after it), the members must be the first rows a scan finds, at every
// limit and with or without the count. A window that ends amid sparse
// members is where a wrong last word would show.
TEST_F(QueryTest, BitmapPreviewsReadWindowsAndAgreeWithAScan) {
  constexpr int kRows = 150000;
  auto flagged = [](int i) { return i < 65536 ? i % 997 == 0 : i % 13 == 0; };
  auto city = [](int i) {
    return i < 70000 ? "C" + std::to_string(i % 50)
                     : std::string(i % 3 ? "A" : "B");
  };
  // Rows without an email: three in the first shard, one in seven after.
  auto has_email = [](int i) {
    return i < 65536 ? i != 100 && i != 5000 && i != 30000 : i % 7 != 0;
  };
  std::string ndjson;
  for (int i = 0; i < kRows; ++i) {
    ndjson +=
        R"({"id":"p)" + std::to_string(i) + R"(","city":")" + city(i) + "\"";
    if (flagged(i)) ndjson += R"(,"flag":true)";
    if (has_email(i)) ndjson += R"(,"email":"e)" + std::to_string(i) + "@x\"";
    ndjson += "}\n";
  }
  Load(ndjson);
  const std::vector<std::pair<std::string, std::function<bool(int)>>> rules = {
      {R"({"field":"flag","op":"exists"})", flagged},
      {R"({"field":"city","op":"in","value":["A","C7"]})",
       [&](int i) { return city(i) == "A" || city(i) == "C7"; }},
      {R"({"field":"email","op":"not_exists"})",
       [&](int i) { return !has_email(i); }},
      {R"({"not":{"field":"city","op":"in","value":["A","B","C1"]}})",
       [&](int i) {
         return city(i) != "A" && city(i) != "B" && city(i) != "C1";
       }},
  };
  for (const auto& [rule, matches] : rules) {
    uint64_t want_count = 0;
    for (int i = 0; i < kRows; ++i) want_count += matches(i);
    EXPECT_EQ(Count(rule), want_count) << rule;
    for (size_t limit : {size_t{1}, size_t{20}, size_t{700}, size_t{70000}}) {
      std::string want;
      size_t found = 0;
      for (int i = 0; i < kRows && found < limit; ++i) {
        if (matches(i)) want += (found++ ? ",p" : "p") + std::to_string(i);
      }
      for (bool count : {false, true}) {
        EXPECT_EQ(Ids(rule, limit, count), want) << rule << " limit " << limit;
      }
    }
  }
}

TEST_F(QueryTest, PreviewShowsRequestedFieldsAndNestedObjects) {
  Load(
      R"({"id":"a","name":"Zoë \"Z\"","address":{"city":"Pune","zip":"411001"},"orders":2,"identities":{"email":"z@x"}})");
  QueryOptions options;
  options.now_ms = kNow;
  Result<ExecuteResult> r = RunQuery(*index_, R"({"all":[]})", options);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(
      RenderQueryResult(*index_, *r, DefaultPreviewFields()),
      R"({"count":1,"members":[{"id":"a","name":"Zoë \"Z\"","email":null,"phone":null,"customer_type":"customer"}]})");
  EXPECT_EQ(
      RenderQueryResult(*index_, *r,
                        {"address", "address.zip", "orders", "identities"}),
      R"({"count":1,"members":[{"id":"a","address":{"city":"Pune","zip":"411001"},"address.zip":"411001","orders":2,"identities":{"email":"z@x"}}]})");
}

// The memo of a layer's excluded rows: each count looks only at the rows
// excluded since the condition's last count, and counts everything again
// when an older version's rows are not all still excluded.
TEST(ExcludedMatchesTest, CountsOnlyTheRowsExcludedSince) {
  ExcludedMatches memo;
  std::vector<uint64_t> looked_at;  // rows handed to each count_in
  const auto count_in = [&](const roaring_bitmap_t* rows) {
    looked_at.push_back(roaring_bitmap_get_cardinality(rows));
    uint64_t even = 0;  // the condition: even rows
    roaring_uint32_iterator_t* it = roaring_create_iterator(rows);
    for (; it->has_value; roaring_advance_uint32_iterator(it)) {
      even += it->current_value % 2 == 0;
    }
    roaring_free_uint32_iterator(it);
    return even;
  };
  auto version = [](uint32_t first, uint32_t last) {
    auto b = std::make_shared<Bitmap>();
    roaring_bitmap_add_range(b->get(), first, last);
    return std::shared_ptr<const Bitmap>(std::move(b));
  };
  const auto v1 = version(0, 100);
  EXPECT_EQ(memo.Count("k", v1, UINT64_MAX, count_in), 50u);
  EXPECT_EQ(memo.Count("k", v1, UINT64_MAX, count_in), 50u);
  const auto v2 = version(0, 130);  // a superset: 30 rows since
  EXPECT_EQ(memo.Count("k", v2, UINT64_MAX, count_in), 65u);
  EXPECT_EQ(looked_at, (std::vector<uint64_t>{100, 30}));
  // Another condition counted from v1 to v2 again shares the difference.
  looked_at.clear();
  EXPECT_EQ(memo.Count("j", v1, UINT64_MAX, count_in), 50u);
  EXPECT_EQ(memo.Count("j", v2, UINT64_MAX, count_in), 65u);
  EXPECT_EQ(looked_at, (std::vector<uint64_t>{100, 30}));
  // Not a superset of v2: every row again.
  looked_at.clear();
  const auto v3 = version(1, 140);
  EXPECT_EQ(memo.Count("k", v3, UINT64_MAX, count_in), 69u);
  EXPECT_EQ(looked_at, (std::vector<uint64_t>{139}));
  // More new rows than allowed: nothing counted, nothing kept.
  looked_at.clear();
  const auto v4 = version(1, 1000);
  EXPECT_EQ(memo.Count("k", v4, 100, count_in), std::nullopt);
  EXPECT_TRUE(looked_at.empty());
  EXPECT_EQ(memo.Count("k", v4, 900, count_in), 499u);
  EXPECT_EQ(looked_at, (std::vector<uint64_t>{860}));
  // A version no longer kept is forgotten, even when a new one comes at
  // its address (as the allocator, reusing the freed block, tends to do).
  {
    auto gone = std::make_shared<Bitmap>();
    roaring_bitmap_add_range(gone->get(), 0, 10);
    const Bitmap* address = gone.get();
    EXPECT_EQ(memo.Count("a", gone, UINT64_MAX, count_in), 5u);
    for (uint32_t i = 0; i < ExcludedMatches::kMaxVersions; ++i) {
      memo.Count("b", version(0, 200 + i), UINT64_MAX, count_in);
    }
    gone.reset();
    auto next = std::make_shared<Bitmap>();
    roaring_bitmap_add_range(next->get(), 0, 20);
    looked_at.clear();
    EXPECT_EQ(memo.Count("a", next, UINT64_MAX, count_in), 10u)
        << (next.get() == address ? "at the same address" : "elsewhere");
    EXPECT_EQ(looked_at, (std::vector<uint64_t>{20}));
  }
  // Past kMaxConditions, the least recently counted goes.
  for (size_t i = 0; i < ExcludedMatches::kMaxConditions; ++i) {
    memo.Count("c" + std::to_string(i), v4, UINT64_MAX, count_in);
  }
  looked_at.clear();
  EXPECT_EQ(memo.Count("k", v4, UINT64_MAX, count_in), 499u);
  EXPECT_EQ(looked_at, (std::vector<uint64_t>{999}));
}

// Options for `profiles` generated profiles (segd gen), on one thread.
GenOptions Generated(uint64_t profiles) {
  GenOptions gen;
  gen.profiles = profiles;
  gen.threads = 1;
  return gen;
}

// Counts less excluded rows, remembered from version to version of those
// rows, agree with the same counts popped from the words.
TEST(ExcludedMatchesTest, RememberedCountsAgreeWithTheWords) {
  const GenOptions gen = Generated(20000);
  ProfileStore store;
  ASSERT_TRUE(LoadText(GenerateProfilesToString(gen), &store).rejected.empty());
  const std::shared_ptr<const Index> index = Index::Build(store);
  const std::vector<std::string> rules = {
      R"({"field":"email","op":"contains","value":"gmail"})",
      R"({"field":"name","op":"contains","value":"patil"})",
      R"({"field":"phone","op":"starts_with","value":"+9198"})",
      R"({"field":"city","op":"in","value":["Pune","Mumbai","Nagpur"]})",
      R"({"field":"city","op":"in","value":["Mumbai","Delhi","Bengaluru",
          "Pune","Hyderabad","Chennai","Kolkata","Ahmedabad","Jaipur",
          "Nagpur","Surat","Lucknow","Indore"]})",
      R"({"field":"city","op":"not_in","value":["Pune","Mumbai"]})",
      R"({"field":"lifecycle","op":"eq","value":"active"})",
      R"({"field":"tags","op":"eq","value":"vip"})",
      R"({"field":"email","op":"exists"})",
      R"({"field":"email","op":"not_contains","value":"yahoo"})",
  };
  QueryOptions query;
  query.now_ms = gen.now_ms;
  std::vector<Plan> plans;
  for (const std::string& rule : rules) {
    Result<Plan> plan = PlanQuery(*index, rule, query);
    ASSERT_TRUE(plan.ok()) << rule << ": " << plan.status().ToString();
    plans.push_back(std::move(plan).value());
  }
  ExcludedMatches memo;
  std::mt19937 rng(7);
  auto rows = std::make_shared<Bitmap>();
  for (int step = 0; step < 12; ++step) {
    // Mostly more rows excluded; now and then one let go (not a superset),
    // or a great many at once (more than the memo tests).
    auto next = std::make_shared<Bitmap>(roaring_bitmap_copy(rows->get()));
    const int more = step == 9 ? 15000 : 40 * (step + 1);
    for (int i = 0; i < more; ++i) next->Add(rng() % gen.profiles);
    if (step % 4 == 3) {
      roaring_bitmap_remove(next->get(), roaring_bitmap_minimum(next->get()));
    }
    rows = next;
    for (size_t r = 0; r < plans.size(); ++r) {
      ExecuteOptions words;
      words.limit = 0;
      words.count_from_words = true;
      words.excluded = rows->get();
      ExecuteOptions remembered = words;
      remembered.count_from_words = false;
      remembered.excluded_version = rows;
      remembered.excluded_matches = &memo;
      const uint64_t want = Execute(plans[r], *index, words).count;
      EXPECT_EQ(Execute(plans[r], *index, remembered).count, want)
          << rules[r] << " at step " << step;
      EXPECT_EQ(Execute(plans[r], *index, remembered).count, want)
          << rules[r] << " at step " << step << ", again";
    }
  }
}

// An events-only index (a live database's event layers) answers every event
// condition as the whole index over the same profiles does, members and
// counts, and holds no attribute.
TEST(EventsOnlyIndexTest, AnswersEventConditionsAsTheWholeIndexDoes) {
  const GenOptions gen = Generated(30000);
  ProfileStore store;
  ASSERT_TRUE(LoadText(GenerateProfilesToString(gen), &store).rejected.empty());
  const std::shared_ptr<const Index> whole = Index::Build(store);
  const std::shared_ptr<const Index> events =
      Index::Build(store.schema(), std::make_shared<StoreRows>(&store),
                   Index::Scope::kEvents);
  const std::vector<std::string> rules = {
      R"({"event":"order"})",
      R"({"event":"viewed_product","count":{"gte":6}})",
      R"({"event":"cart_abandoned","within_last":"48h"})",
      R"({"event":"opened_email","within_last":"30d","count":{"gte":2}})",
      R"({"event":"replied_whatsapp","count":{"lte":0}})",
      R"({"event":"clicked_link","between":["2025-01-01","2025-12-31"],
          "count":{"eq":1}})",
      R"({"any":[{"event":"requested_demo"},
                 {"not":{"event":"visited_pricing_page"}}]})",
  };
  QueryOptions query;
  query.now_ms = gen.now_ms;
  for (const std::string& rule : rules) {
    Result<Plan> in_whole = PlanQuery(*whole, rule, query);
    Result<Plan> in_events = PlanQuery(*events, rule, query);
    ASSERT_TRUE(in_whole.ok()) << rule;
    ASSERT_TRUE(in_events.ok()) << rule;
    ExecuteOptions options;
    options.limit = 500;
    const ExecuteResult want = Execute(*in_whole, *whole, options);
    const ExecuteResult got = Execute(*in_events, *events, options);
    EXPECT_GT(want.count, 0u) << rule;
    EXPECT_EQ(got.count, want.count) << rule;
    EXPECT_EQ(got.rows, want.rows) << rule;
  }
  ASSERT_EQ(events->attribute_count(), whole->attribute_count());
  for (AttrId a = 0; a < events->attribute_count(); ++a) {
    EXPECT_EQ(events->attribute(a).presence.cardinality(), 0u)
        << events->attribute(a).name;
  }
}

}  // namespace
}  // namespace segd
