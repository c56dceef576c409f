// RowRule, the one-profile evaluator, against its slow twin: the index path
// (Bind, Normalize, MakePlan, Execute through RunQuery) over the same
// store. Random rules over random data must select the same rows, and be
// rejected with the same error; focused tests pin the tricky semantics of
// SPEC §2 on hand-made profiles, each also checked against the index path.
#include "engine/row_rule.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/time.h"
#include "engine/binder.h"
#include "engine/query.h"
#include "engine/rule.h"
#include "index/bitmap.h"
#include "index/index.h"
#include "index/profile_codec.h"
#include "index/profile_store.h"
#include "ingest/loader.h"
#include "tests/reference/random_data.h"

namespace segd {
namespace {

using reference::kRandomDataNowMs;

// ---------------------------------------------------------------------------
// Saved segments, as both paths see them: rules by name (parsed for Bind,
// compiled for RowRule) and static member lists.

class SavedSegments {
 public:
  // REQUIRES: `json` parses; it compiles against `schema` unless
  // `compiles` is false (then RowSegments finds no rule by that name).
  void AddDynamic(const std::string& name, std::string_view json,
                  const Schema& schema) {
    Dynamic& d = dynamic_[name];
    Result<RuleNode> node = ParseRule(json);
    ASSERT_TRUE(node.ok()) << node.status().ToString();
    d.node = std::move(node).value();
    Result<RowRule> compiled = RowRule::Compile(d.node, schema);
    ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
    d.compiled.emplace(std::move(compiled).value());
  }
  void AddStatic(const std::string& name, const std::vector<uint32_t>& rows) {
    Static& s = static_[name];
    s.rows = rows;
    std::sort(s.rows.begin(), s.rows.end());
    s.bitmap = Bitmap::Of(s.rows);
  }

  const SegmentResolver* resolver() const { return &resolver_; }
  const RowSegments* row_segments() const { return &row_segments_; }

 private:
  struct Dynamic {
    RuleNode node;
    std::optional<RowRule> compiled;
  };
  struct Static {
    std::vector<uint32_t> rows;  // ascending
    Bitmap bitmap;
  };

  class Resolver final : public SegmentResolver {
   public:
    explicit Resolver(const SavedSegments* saved) : saved_(saved) {}
    const RuleNode* FindRule(std::string_view name) const override {
      auto it = saved_->dynamic_.find(name);
      return it == saved_->dynamic_.end() ? nullptr : &it->second.node;
    }
    const roaring_bitmap_t* FindMembers(std::string_view name) const override {
      auto it = saved_->static_.find(name);
      return it == saved_->static_.end() ? nullptr : it->second.bitmap.get();
    }

   private:
    const SavedSegments* saved_;
  };

  class Rows final : public RowSegments {
   public:
    explicit Rows(const SavedSegments* saved) : saved_(saved) {}
    const RowRule* FindRule(std::string_view name) const override {
      auto it = saved_->dynamic_.find(name);
      if (it == saved_->dynamic_.end() || !it->second.compiled) return nullptr;
      return &*it->second.compiled;
    }
    std::optional<bool> InStatic(std::string_view name,
                                 uint32_t row) const override {
      auto it = saved_->static_.find(name);
      if (it == saved_->static_.end()) return std::nullopt;
      return std::binary_search(it->second.rows.begin(), it->second.rows.end(),
                                row);
    }

   private:
    const SavedSegments* saved_;
  };

  std::map<std::string, Dynamic, std::less<>> dynamic_;
  std::map<std::string, Static, std::less<>> static_;
  Resolver resolver_{this};
  Rows row_segments_{this};
};

// ---------------------------------------------------------------------------
// A loaded store, its index and every live profile decoded once.

struct Loaded {
  ProfileStore store;
  std::shared_ptr<const Index> index;
  std::vector<uint32_t> live_rows;
  std::vector<DecodedProfile> profiles;  // by position in live_rows

  // After the store changes: index and decode again.
  void Refresh() {
    index = Index::Build(store);
    live_rows.clear();
    profiles.clear();
    for (uint32_t row = 0; row < store.row_count(); ++row) {
      if (!store.is_live(row)) continue;
      live_rows.push_back(row);
      DecodeProfile(store.blob(row), &profiles.emplace_back());
    }
  }
};

// The rows the index path selects, or its error.
Result<std::vector<uint32_t>> IndexMembers(const Loaded& data,
                                           std::string_view rule_json,
                                           int64_t now_ms,
                                           const SegmentResolver* segments,
                                           int max_depth = 64) {
  QueryOptions options;
  options.now_ms = now_ms;
  options.limit = data.index->row_count();
  options.max_depth = max_depth;
  options.segments = segments;
  Result<ExecuteResult> r = RunQuery(*data.index, rule_json, options);
  if (!r.ok()) return r.status();
  return std::move(r->rows);
}

// The rows RowRule selects, testing each live profile.
std::vector<uint32_t> RowMembers(const Loaded& data, const RowRule& rule,
                                 int64_t now_ms, const RowSegments* segments) {
  std::vector<uint32_t> rows;
  for (size_t i = 0; i < data.live_rows.size(); ++i) {
    if (rule.Matches(data.profiles[i], data.live_rows[i], now_ms,
                     data.store.schema(), segments)) {
      rows.push_back(data.live_rows[i]);
    }
  }
  return rows;
}

std::string IdOf(const Loaded& data, uint32_t row) {
  DecodedProfile p;
  DecodeProfile(data.store.blob(row), &p);
  return std::string(p.id);
}

// Where two row lists part, for a failure message.
std::string FirstDifference(const Loaded& data,
                            const std::vector<uint32_t>& want,
                            const std::vector<uint32_t>& got) {
  std::vector<uint32_t> only_want, only_got;
  std::set_difference(want.begin(), want.end(), got.begin(), got.end(),
                      std::back_inserter(only_want));
  std::set_difference(got.begin(), got.end(), want.begin(), want.end(),
                      std::back_inserter(only_got));
  std::string out = "index " + std::to_string(want.size()) + " rows, RowRule " +
                    std::to_string(got.size()) + " rows";
  if (!only_want.empty()) {
    out += "; index only: row " + std::to_string(only_want[0]) + " (" +
           IdOf(data, only_want[0]) + ")";
  }
  if (!only_got.empty()) {
    out += "; RowRule only: row " + std::to_string(only_got[0]) + " (" +
           IdOf(data, only_got[0]) + ")";
  }
  return out;
}

std::string Describe(const Status& s) {
  return std::string(ErrorCodeName(s.code())) + " at \"" + s.path() + "\" (" +
         s.message() + ")";
}

// ---------------------------------------------------------------------------
// Differential: random rules over random data.

struct Dataset {
  uint64_t seed;
  size_t records;
  int rules;
};

void PrintTo(const Dataset& d, std::ostream* out) {
  *out << "seed " << d.seed << ", " << d.records << " records, " << d.rules
       << " rules";
}

constexpr Dataset kDatasets[] = {
    {11, 600, 2500}, {22, 2000, 2500}, {33, 4000, 1500}};
constexpr int kMaxRuleDepth = 6;
constexpr int kMaxMismatches = 5;
// A second clock a RowRule compiled once is also matched against: a day
// and a bit earlier, so relative dates must be read when matching.
constexpr int64_t kOtherNowMs = kRandomDataNowMs - kMillisPerDay - 1234;

// {"field": A, "op": "in"|"not_in", "value": [many values]}: wider than the
// random rules' lists, so that RowRule's hashed sets are exercised.
std::string WideInRule(reference::Rng& rng) {
  const reference::Vocabulary& v = reference::DataVocabulary();
  const reference::VocabularyAttribute* attribute = nullptr;
  while (attribute == nullptr || attribute->values.empty() ||
         (attribute->kind != reference::AttributeKind::kString &&
          attribute->kind != reference::AttributeKind::kStringArray)) {
    attribute = &rng.Pick(v.attributes);
  }
  std::string rule = "{\"field\": \"" + attribute->name + "\", \"op\": \"" +
                     (rng.Percent(70) ? "in" : "not_in") + "\", \"value\": [";
  const uint64_t n = 9 + rng.Below(40);
  for (uint64_t i = 0; i < n; ++i) {
    std::string value = rng.Percent(75) ? rng.Pick(attribute->values)
                                        : rng.Pick(v.strings_not_in_data);
    for (char& c : value) {
      if (rng.Percent(30) && c >= 'a' && c <= 'z') c = c - 'a' + 'A';
    }
    std::string escaped;
    for (char c : value) {
      if (c == '"' || c == '\\') escaped.push_back('\\');
      escaped.push_back(c);
    }
    rule += (i ? ", \"" : "\"") + escaped + "\"";
  }
  return rule + "]}";
}

class RowRuleDifferentialTest : public ::testing::TestWithParam<Dataset> {
 protected:
  void SetUp() override {
    const Dataset& d = GetParam();
    LoadText(reference::RandomProfilesNdjson(d.seed, d.records), &data_.store);
    data_.Refresh();
    ASSERT_GT(data_.live_rows.size(), d.records / 2);
    // The random rules name one segment, "high-intent". In one setup it is
    // dynamic and refers to a static list; in the other it is static.
    std::vector<uint32_t> vip_list, every_third;
    for (size_t i = 0; i < data_.live_rows.size(); ++i) {
      if (i % 5 == 1) vip_list.push_back(data_.live_rows[i]);
      if (i % 3 == 0) every_third.push_back(data_.live_rows[i]);
    }
    dynamic_.AddStatic("vip-list", vip_list);
    dynamic_.AddDynamic("high-intent", R"({"any": [
        {"segment": "vip-list"},
        {"all": [{"field": "orders", "op": "gte", "value": 2},
                 {"event": "order", "within_last": "15d"}]},
        {"field": "tags", "op": "has_all", "value": ["VIP", "new"]}]})",
                        data_.store.schema());
    static_.AddStatic("high-intent", every_third);
  }

  Loaded data_;
  SavedSegments dynamic_, static_;
};

TEST_P(RowRuleDifferentialTest, RandomRulesSelectTheSameRowsAsTheIndex) {
  const Dataset& d = GetParam();
  reference::Rng rng(d.seed * 7919 + 1);
  int mismatches = 0, accepted = 0, rejected = 0, selective = 0;
  auto fail = [&](int i, const std::string& rule, const std::string& what) {
    ADD_FAILURE() << "seed " << d.seed << ", rule #" << i
                  << "\n  rule: " << rule << "\n  " << what;
    ++mismatches;
  };
  for (int i = 0; i < d.rules && mismatches < kMaxMismatches; ++i) {
    std::string rule =
        i % 10 == 9 ? WideInRule(rng)
                    : reference::RandomRule(rng, reference::DataVocabulary(),
                                            1 + i % kMaxRuleDepth);
    if (i % 20 == 19) {  // a wide `in` inside a random rule
      rule = "{\"any\": [" + WideInRule(rng) + ", " + rule + "]}";
    } else if (i % 10 == 4) {  // more segment references than drawn
      rule = "{\"all\": [{\"not\": {\"segment\": \"high-intent\"}}, " + rule +
             "]}";
    }
    const SavedSegments& segments = i % 2 == 0 ? dynamic_ : static_;
    Result<RuleNode> node = ParseRule(rule);
    if (!node.ok()) continue;  // not JSON: neither path sees a rule
    Result<RowRule> compiled = RowRule::Compile(*node, data_.store.schema());
    for (int64_t now : {kRandomDataNowMs, kOtherNowMs}) {
      if (now == kOtherNowMs && i % 4 != 0) continue;
      Result<std::vector<uint32_t>> want =
          IndexMembers(data_, rule, now, segments.resolver());
      if (!want.ok()) {
        ++rejected;
        if (compiled.ok()) {
          fail(i, rule,
               "index rejects (" + Describe(want.status()) +
                   "), RowRule compiles");
        } else if (compiled.status().code() != want.status().code() ||
                   compiled.status().path() != want.status().path()) {
          fail(i, rule,
               "index: " + Describe(want.status()) +
                   "\n  RowRule: " + Describe(compiled.status()));
        }
        break;
      }
      ++accepted;
      if (!compiled.ok()) {
        fail(i, rule,
             "index accepts, RowRule rejects (" + Describe(compiled.status()) +
                 ")");
        break;
      }
      const std::vector<uint32_t> got =
          RowMembers(data_, *compiled, now, segments.row_segments());
      if (!got.empty() && got.size() < data_.live_rows.size()) ++selective;
      if (got != *want) {
        fail(i, rule,
             "now " + FormatIsoInstant(now) + ": " +
                 FirstDifference(data_, *want, got));
        break;
      }
    }
  }
  // Most random rules are valid, and some are not: both sides are tested.
  EXPECT_GT(accepted, d.rules / 2);
  EXPECT_GT(rejected, d.rules / 50);
  // ... and most valid ones select some rows but not all.
  EXPECT_GT(selective, accepted / 2);
  std::printf("seed %llu: %d rules compared, %d selective, %d rejected\n",
              static_cast<unsigned long long>(d.seed), accepted, selective,
              rejected);
}

INSTANTIATE_TEST_SUITE_P(RandomData, RowRuleDifferentialTest,
                         ::testing::ValuesIn(kDatasets),
                         [](const ::testing::TestParamInfo<Dataset>& info) {
                           return "Seed" + std::to_string(info.param.seed);
                         });

// ---------------------------------------------------------------------------
// Focused semantics on hand-made profiles.

const int64_t kNow = *ParseIsoInstant("2026-11-20T12:00:00Z");

class RowRuleTest : public ::testing::Test {
 protected:
  void Load(std::string_view ndjson) {
    const LoadReport r = LoadText(ndjson, &data_.store);
    ASSERT_TRUE(r.rejected.empty()) << r.rejected[0].error.ToString();
    data_.Refresh();
  }

  Result<RowRule> Compile(std::string_view rule_json, int max_depth = 64) {
    Result<RuleNode> node = ParseRule(rule_json);
    if (!node.ok()) return node.status();
    return RowRule::Compile(*node, data_.store.schema(), max_depth);
  }

  // The ids RowRule matches, comma separated in row order, or
  // "error:<code>:<path>"; checks the index path agrees.
  std::string Ids(std::string_view rule_json, int64_t now = kNow) {
    Result<RowRule> rule = Compile(rule_json);
    Result<std::vector<uint32_t>> want =
        IndexMembers(data_, rule_json, now, segments_.resolver());
    if (!rule.ok()) {
      EXPECT_FALSE(want.ok()) << rule_json;
      if (!want.ok()) {
        EXPECT_EQ(Describe(rule.status()), Describe(want.status()));
      }
      return std::string("error:") + ErrorCodeName(rule.status().code()) + ":" +
             rule.status().path();
    }
    return IdsOf(*rule, now, want.ok() ? &*want : nullptr, rule_json);
  }

  // The ids `rule` matches at `now`; when `want` is given, checks they are
  // its rows.
  std::string IdsOf(const RowRule& rule, int64_t now,
                    const std::vector<uint32_t>* want,
                    std::string_view context = "") {
    const std::vector<uint32_t> rows =
        RowMembers(data_, rule, now, segments_.row_segments());
    if (want != nullptr) {
      EXPECT_EQ(rows, *want)
          << context << "\n  " << FirstDifference(data_, *want, rows);
    }
    std::string out;
    for (uint32_t row : rows) {
      out += (out.empty() ? "" : ",") + IdOf(data_, row);
    }
    return out;
  }

  Loaded data_;
  SavedSegments segments_;
};

TEST_F(RowRuleTest, StringsFoldAsciiCaseOnly) {
  Load(R"({"id":"a","city":"Pune","motto":"São Paulo Metropolitan Region"})"
       "\n"
       R"({"id":"b","city":"pUNE ","motto":"SÃO PAULO METROPOLITAN"})"
       "\n"
       R"({"id":"c","city":"Zürich","motto":"são paulo metropolitan region"})"
       "\n"
       R"({"id":"d","city":"ZÜRICH"})");
  EXPECT_EQ(Ids(R"({"field":"city","op":"eq","value":"PUNE"})"), "a");
  EXPECT_EQ(Ids(R"({"field":"city","op":"eq","value":"pune "})"), "b");
  // Non-ASCII bytes compare as they are: ü and Ü are different.
  EXPECT_EQ(Ids(R"({"field":"city","op":"eq","value":"zürich"})"), "c");
  EXPECT_EQ(Ids(R"({"field":"city","op":"eq","value":"ZüRICH"})"), "c");
  EXPECT_EQ(Ids(R"({"field":"city","op":"eq","value":"züRICH"})"), "c");
  EXPECT_EQ(Ids(R"({"field":"city","op":"eq","value":"zÜrich"})"), "d");
  EXPECT_EQ(Ids(R"({"field":"city","op":"starts_with","value":"PUN"})"), "a,b");
  EXPECT_EQ(Ids(R"({"field":"city","op":"contains","value":"UNE"})"), "a,b");
  EXPECT_EQ(Ids(R"({"field":"city","op":"contains","value":"e "})"), "b");
  // Longer than a word of 8 bytes, both sides.
  EXPECT_EQ(Ids(R"({"field":"motto","op":"contains",)"
                R"("value":"PAULO METROPOLITAN REGION"})"),
            "a,c");
  EXPECT_EQ(Ids(R"({"field":"motto","op":"starts_with",)"
                R"("value":"São paulo METROPOLITAN"})"),
            "a,c");
  EXPECT_EQ(Ids(R"({"field":"motto","op":"eq",)"
                R"("value":"sÃo PAULO metropolitan"})"),
            "b");
  EXPECT_EQ(Ids(R"({"field":"motto","op":"contains","value":"region!"})"), "");
  // The empty needle: every value contains it.
  EXPECT_EQ(Ids(R"({"field":"motto","op":"contains","value":""})"), "a,b,c");
  EXPECT_EQ(Ids(R"({"field":"motto","op":"not_contains","value":""})"), "d");
}

TEST_F(RowRuleTest, InTestsFewAndManyValues) {
  std::string ndjson;
  for (int i = 0; i < 40; ++i) {
    ndjson += "{\"id\":\"p" + std::to_string(i) + "\",\"code\":\"Code-" +
              std::to_string(i) + "-" + std::string(i % 13, 'x') + "\"}\n";
  }
  Load(ndjson);
  std::string many = R"({"field":"code","op":"in","value":[)";
  for (int i = 0; i < 40; i += 3) {
    many += (i ? ",\"CODE-" : "\"CODE-") + std::to_string(i) + "-" +
            std::string(i % 13, 'X') + "\"";
  }
  many += R"(,"nope","code-1-"]})";
  EXPECT_EQ(Ids(many), "p0,p3,p6,p9,p12,p15,p18,p21,p24,p27,p30,p33,p36,p39");
  EXPECT_EQ(Ids(R"({"field":"code","op":"in","value":["code-2-xx","CODE-5"]})"),
            "p2");
  EXPECT_EQ(Ids(R"({"field":"code","op":"in","value":[]})"), "");
  EXPECT_EQ(
      Ids(R"({"not":{"field":"code","op":"not_in","value":["code-0-"]}})"),
      "p0");
}

TEST_F(RowRuleTest, ArraysMatchWhenAnyElementMatches) {
  Load(R"({"id":"a","tags":["VIP","new"]})"
       "\n"
       R"({"id":"b","tags":["vip "]})"
       "\n"
       R"({"id":"c","tags":["source-website","Vip"]})"
       "\n"
       R"({"id":"d","tags":[]})"
       "\n"
       R"({"id":"e","tags":[""]})");
  EXPECT_EQ(Ids(R"({"field":"tags","op":"eq","value":"vip"})"), "a,c");
  EXPECT_EQ(Ids(R"({"field":"tags","op":"neq","value":"vip"})"), "b,d,e");
  EXPECT_EQ(
      Ids(R"({"field":"tags","op":"in","value":["NEW","source-website"]})"),
      "a,c");
  EXPECT_EQ(Ids(R"({"field":"tags","op":"contains","value":"IP"})"), "a,b,c");
  EXPECT_EQ(Ids(R"({"field":"tags","op":"starts_with","value":"source"})"),
            "c");
  EXPECT_EQ(Ids(R"({"field":"tags","op":"has_all","value":["vip","NEW"]})"),
            "a");
  EXPECT_EQ(
      Ids(R"({"field":"tags","op":"has_all","value":["vip","vip","Vip"]})"),
      "a,c");
  EXPECT_EQ(Ids(R"({"field":"tags","op":"has_all","value":["vip","gold"]})"),
            "");
  // No value listed: every profile holding the attribute ([] is absent).
  EXPECT_EQ(Ids(R"({"field":"tags","op":"has_all","value":[]})"), "a,b,c,e");
  EXPECT_EQ(Ids(R"({"field":"tags","op":"eq","value":""})"), "e");
  EXPECT_EQ(Ids(R"({"field":"tags","op":"exists"})"), "a,b,c,e");
}

TEST_F(RowRuleTest, AbsentValuesMatchOnlyNegativeOperators) {
  Load(
      R"({"id":"a","city":"Pune","orders":3,"seen":"2026-11-19T00:00:00Z","ok":true})"
      "\n"
      R"({"id":"b","city":null,"orders":null,"seen":null,"ok":null})"
      "\n"
      R"({"id":"c"})");
  EXPECT_EQ(Ids(R"({"field":"city","op":"neq","value":"Pune"})"), "b,c");
  EXPECT_EQ(Ids(R"({"field":"city","op":"not_in","value":["x"]})"), "a,b,c");
  EXPECT_EQ(Ids(R"({"field":"city","op":"not_contains","value":"un"})"), "b,c");
  EXPECT_EQ(Ids(R"({"field":"city","op":"not_exists"})"), "b,c");
  EXPECT_EQ(Ids(R"({"field":"seen","op":"not_within_last","value":"7d"})"),
            "b,c");
  EXPECT_EQ(Ids(R"({"field":"orders","op":"neq","value":3})"), "b,c");
  EXPECT_EQ(Ids(R"({"field":"orders","op":"not_in","value":[1,2]})"), "a,b,c");
  // Positive operators never match an absent value, negated or not.
  EXPECT_EQ(Ids(R"({"field":"orders","op":"lt","value":100})"), "a");
  EXPECT_EQ(Ids(R"({"not":{"field":"orders","op":"lt","value":100}})"), "b,c");
  EXPECT_EQ(Ids(R"({"field":"ok","op":"is_false"})"), "");
  EXPECT_EQ(Ids(R"({"not":{"field":"ok","op":"is_true"}})"), "b,c");
  EXPECT_EQ(Ids(R"({"field":"seen","op":"before","value":"now"})"), "a");
  EXPECT_EQ(Ids(R"({"all":[]})"), "a,b,c");
  EXPECT_EQ(Ids(R"({"any":[]})"), "");
}

TEST_F(RowRuleTest, NumbersCompareExactlyBeyondTwoToThe53) {
  // `n` holds integers only (the index's int64 columns); `x` mixes in
  // doubles (its exact long double columns).
  Load(R"({"id":"a","n":9007199254740993,"x":9007199254740993})"
       "\n"
       R"({"id":"b","n":9007199254740992,"x":9007199254740992.0})"
       "\n"
       R"({"id":"c","n":9223372036854775807,"x":9223372036854775807})"
       "\n"
       R"({"id":"d","n":-9223372036854775808,"x":1e19})"
       "\n"
       R"({"id":"e","n":3,"x":2.5})");
  for (std::string_view f : {"n", "x"}) {
    SCOPED_TRACE(f);
    const std::string head = "{\"field\":\"" + std::string(f) + "\",";
    EXPECT_EQ(Ids(head + R"("op":"eq","value":9007199254740992.0})"), "b");
    EXPECT_EQ(Ids(head + R"("op":"eq","value":9007199254740993})"), "a");
    EXPECT_EQ(Ids(head + R"("op":"gt","value":9007199254740992.0})"),
              f == "n" ? "a,c" : "a,c,d");
    EXPECT_EQ(Ids(head + R"("op":"gte","value":9007199254740993})"),
              f == "n" ? "a,c" : "a,c,d");
    // 2^63 as a double: above every int64.
    EXPECT_EQ(Ids(head + R"("op":"lt","value":9.2233720368547758e18})"),
              f == "n" ? "a,b,c,d,e" : "a,b,c,e");
    EXPECT_EQ(Ids(head + R"("op":"gte","value":9.2233720368547758e18})"),
              f == "n" ? "" : "d");
    EXPECT_EQ(Ids(head + R"("op":"lte","value":9223372036854775807})"),
              f == "n" ? "a,b,c,d,e" : "a,b,c,e");
    EXPECT_EQ(Ids(head + R"("op":"in","value":[9007199254740992, 2.5, 3.0]})"),
              f == "n" ? "b,e" : "b,e");
    // 9007199254740992.5 and 9007199254740993.0 read as the double 2^53.
    EXPECT_EQ(
        Ids(head + R"("op":"between","value":[9007199254740992.5, 1e300]})"),
        f == "n" ? "a,b,c" : "a,b,c,d");
    EXPECT_EQ(Ids(head + R"("op":"between","value":[5, 4]})"), "");
    EXPECT_EQ(Ids(head + R"("op":"neq","value":9007199254740993.0})"),
              f == "n" ? "a,c,d,e" : "a,c,d,e");
  }
  EXPECT_EQ(Ids(R"({"field":"n","op":"gt","value":-1e300})"), "a,b,c,d,e");
  EXPECT_EQ(Ids(R"({"field":"n","op":"lt","value":-9223372036854775808})"), "");
  EXPECT_EQ(Ids(R"({"field":"x","op":"gt","value":2})"), "a,b,c,d,e");
  EXPECT_EQ(Ids(R"({"field":"x","op":"lt","value":2.5})"), "");
  EXPECT_EQ(Ids(R"({"field":"x","op":"lte","value":2.5})"), "e");
}

TEST_F(RowRuleTest, OnIsTheSameUtcDay) {
  Load(R"({"id":"a","t":"2026-11-19T23:59:59.999Z"})"
       "\n"
       R"({"id":"b","t":"2026-11-20T00:00:00Z"})"
       "\n"
       R"({"id":"c","t":"2026-11-20T01:00:00+05:30"})"
       "\n"
       R"({"id":"d","t":"2026-11-19"})");
  // c is 2026-11-19T19:30:00Z.
  EXPECT_EQ(Ids(R"({"field":"t","op":"on","value":"2026-11-19"})"), "a,c,d");
  EXPECT_EQ(
      Ids(R"({"field":"t","op":"on","value":"2026-11-19T22:00:00-05:00"})"),
      "b");
  // A relative day is read when matching: the same compiled rule on either
  // side of midnight.
  Result<RowRule> rule = Compile(R"({"field":"t","op":"on","value":"now"})");
  ASSERT_TRUE(rule.ok());
  const int64_t before_midnight = *ParseIsoInstant("2026-11-19T23:30:00Z");
  const int64_t after_midnight = *ParseIsoInstant("2026-11-20T00:30:00Z");
  EXPECT_EQ(IdsOf(*rule, before_midnight, nullptr), "a,c,d");
  EXPECT_EQ(IdsOf(*rule, after_midnight, nullptr), "b");
  EXPECT_EQ(Ids(R"({"field":"t","op":"on","value":"now-1h"})", after_midnight),
            "a,c,d");
  EXPECT_EQ(Ids(R"({"field":"t","op":"on","value":"now"})", before_midnight),
            "a,c,d");
}

TEST_F(RowRuleTest, WithinLastIncludesBothEnds) {
  const int64_t now = *ParseIsoInstant("2026-11-20T12:00:00Z");
  Load(R"({"id":"edge","t":"2026-11-13T12:00:00.000Z"})"
       "\n"
       R"({"id":"before_edge","t":"2026-11-13T11:59:59.999Z"})"
       "\n"
       R"({"id":"now","t":"2026-11-20T12:00:00Z"})"
       "\n"
       R"({"id":"future","t":"2026-11-20T12:00:00.001Z"})"
       "\n"
       R"({"id":"none"})");
  EXPECT_EQ(Ids(R"({"field":"t","op":"within_last","value":"7d"})", now),
            "edge,now");
  EXPECT_EQ(Ids(R"({"field":"t","op":"not_within_last","value":"1w"})", now),
            "before_edge,future,none");
  EXPECT_EQ(Ids(R"({"field":"t","op":"within_last","value":"0s"})", now),
            "now");
  EXPECT_EQ(
      Ids(R"({"field":"t","op":"between","value":["now-7d","now"]})", now),
      "edge,now");
  EXPECT_EQ(Ids(R"({"field":"t","op":"after","value":"now-7d"})", now),
            "now,future");
  EXPECT_EQ(Ids(R"({"field":"t","op":"before","value":"now-168h"})", now),
            "before_edge");
  // The same compiled rule, one millisecond later: the edge drops out.
  Result<RowRule> rule =
      Compile(R"({"field":"t","op":"within_last","value":"7d"})");
  ASSERT_TRUE(rule.ok());
  EXPECT_EQ(IdsOf(*rule, now + 1, nullptr), "now,future");
  EXPECT_EQ(IdsOf(*rule, now - 1, nullptr), "edge,before_edge");
}

constexpr char kEventProfiles[] =
    R"({"id":"never"})"
    "\n"
    R"({"id":"old","events":[{"name":"order","at":"2026-01-01T00:00:00Z"}]})"
    "\n"
    R"({"id":"two","events":[{"name":"Order","at":"2026-11-18T00:00:00Z"},)"
    R"({"name":"ORDER","at":"2026-11-19T00:00:00Z"},)"
    R"({"name":"cart","at":"2026-11-19T00:00:00Z"}]})"
    "\n"
    R"({"id":"edges","events":[{"name":"order","at":"2026-11-10T00:00:00Z"},)"
    R"({"name":"order","at":"2026-11-20T00:00:00Z"}]})";

TEST_F(RowRuleTest, CountBelowOneMeansNever) {
  Load(kEventProfiles);
  EXPECT_EQ(Ids(R"({"event":"order","count":{"lt":1}})"), "never");
  EXPECT_EQ(Ids(R"({"event":"order","within_last":"7d","count":{"lt":1}})"),
            "never,old");
  EXPECT_EQ(Ids(R"({"event":"order","within_last":"7d","count":{"eq":0}})"),
            "never,old");
  EXPECT_EQ(Ids(R"({"event":"order","within_last":"7d","count":{"lte":0.5}})"),
            "never,old");
  EXPECT_EQ(Ids(R"({"event":"order","count":{"lt":0}})"), "");
  EXPECT_EQ(Ids(R"({"event":"order","count":{"gt":-1}})"),
            "never,old,two,edges");
  EXPECT_EQ(Ids(R"({"event":"order","count":{"eq":1.5}})"), "");
  EXPECT_EQ(Ids(R"({"event":"ORDER","within_last":"7d"})"), "two,edges");
  EXPECT_EQ(Ids(R"({"event":"order","count":{"eq":2}})"), "two,edges");
  EXPECT_EQ(Ids(R"({"event":"order","count":{"gt":1.5}})"), "two,edges");
  EXPECT_EQ(Ids(R"({"event":"order","within_last":"30d","count":{"lt":2}})"),
            "never,old");
}

TEST_F(RowRuleTest, WindowsCombineAfterAndBefore) {
  Load(kEventProfiles);
  // after and before are strict; between is inclusive.
  EXPECT_EQ(Ids(R"({"event":"order","after":"2026-11-10T00:00:00Z",)"
                R"("before":"2026-11-20T00:00:00Z"})"),
            "two");
  EXPECT_EQ(Ids(R"({"event":"order","after":"2026-11-09T23:59:59.999Z",)"
                R"("before":"2026-11-20T00:00:00.001Z","count":{"eq":2}})"),
            "two,edges");
  EXPECT_EQ(Ids(R"({"event":"order","between":["2026-11-10","2026-11-20"]})"),
            "two,edges");
  EXPECT_EQ(
      Ids(R"({"event":"order","after":"2026-11-19","before":"2026-11-18"})"),
      "");
  EXPECT_EQ(
      Ids(R"({"event":"order","after":"2026-11-19","before":"2026-11-18",)"
          R"("count":{"lt":1}})"),
      "never,old,two,edges");
  // Relative and absolute ends together, read against each clock.
  const std::string rule =
      R"({"event":"order","within_last":"10d","before":"2026-11-20T00:00:00Z"})";
  EXPECT_EQ(Ids(rule, kNow), "two");
  EXPECT_EQ(Ids(rule, *ParseIsoInstant("2026-11-20T00:00:00Z")), "two,edges");
  EXPECT_EQ(Ids(R"({"event":"order","after":"now-10d","before":"now-1d"})"),
            "two");
  EXPECT_EQ(Ids(R"({"event":"order","after":"now-10d","before":"now-1d"})",
                *ParseIsoInstant("2026-11-19T23:59:59.999Z")),
            "two,edges");
}

TEST_F(RowRuleTest, UnknownEventNamesCountZero) {
  Load(kEventProfiles);
  EXPECT_EQ(Ids(R"({"event":"webinar"})"), "");
  EXPECT_EQ(Ids(R"({"event":"webinar","count":{"lt":1}})"),
            "never,old,two,edges");
  EXPECT_EQ(Ids(R"({"not":{"event":"webinar","within_last":"1d"}})"),
            "never,old,two,edges");
}

TEST_F(RowRuleTest, EventsFirstSeenAfterCompileAreFound) {
  Load(kEventProfiles);
  Result<RowRule> seen = Compile(R"({"event":"WEBINAR","within_last":"7d"})");
  Result<RowRule> never = Compile(R"({"event":"webinar","count":{"lt":1}})");
  Result<RowRule> twice = Compile(R"({"event":"Webinar","count":{"gte":2}})");
  ASSERT_TRUE(seen.ok() && never.ok() && twice.ok());
  const ProfileInput::Event webinar{"Webinar",
                                    *ParseIsoInstant("2026-11-19T00:00:00Z")};
  const ProfileInput::Event other{"signup",
                                  *ParseIsoInstant("2026-11-19T00:00:00Z")};
  const std::vector<ProfileInput::Event> one = {other, webinar};
  const std::vector<ProfileInput::Event> two = {webinar, other, webinar};
  ASSERT_TRUE(data_.store.AppendEvents("old", one).ok());
  ASSERT_TRUE(data_.store.AppendEvents("edges", two).ok());
  data_.Refresh();
  Result<std::vector<uint32_t>> want = IndexMembers(
      data_, R"({"event":"WEBINAR","within_last":"7d"})", kNow, nullptr);
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(IdsOf(*seen, kNow, &*want), "old,edges");
  EXPECT_EQ(IdsOf(*never, kNow, nullptr), "never,two");
  EXPECT_EQ(IdsOf(*twice, kNow, nullptr), "edges");
}

TEST_F(RowRuleTest, SegmentsResolveWhenMatching) {
  Load(kEventProfiles);
  // Rows of "old" and "edges".
  segments_.AddStatic("vips", {data_.live_rows[1], data_.live_rows[3]});
  segments_.AddDynamic("buyers", R"({"event":"order","count":{"gte":2}})",
                       data_.store.schema());
  segments_.AddDynamic("vip-buyers",
                       R"({"all":[{"segment":"vips"},{"segment":"buyers"}]})",
                       data_.store.schema());
  EXPECT_EQ(Ids(R"({"segment":"vips"})"), "old,edges");
  EXPECT_EQ(Ids(R"({"segment":"buyers"})"), "two,edges");
  EXPECT_EQ(Ids(R"({"segment":"vip-buyers"})"), "edges");
  EXPECT_EQ(Ids(R"({"not":{"segment":"vip-buyers"}})"), "never,old,two");

  // An unknown segment: Bind rejects the rule; a RowRule, which resolves
  // names when matching, matches nothing there.
  Result<std::vector<uint32_t>> bound =
      IndexMembers(data_, R"({"segment":"nope"})", kNow, segments_.resolver());
  ASSERT_FALSE(bound.ok());
  EXPECT_EQ(bound.status().path(), "/segment");
  Result<RowRule> unknown =
      Compile(R"({"any":[{"segment":"nope"},{"not":{"segment":"nope"}}]})");
  ASSERT_TRUE(unknown.ok());
  EXPECT_TRUE(unknown->references_segments());
  EXPECT_EQ(IdsOf(*unknown, kNow, nullptr), "never,old,two,edges");
  Result<RowRule> alone = Compile(R"({"segment":"vips"})");
  ASSERT_TRUE(alone.ok());
  EXPECT_FALSE(alone->Matches(data_.profiles[1], data_.live_rows[1], kNow,
                              data_.store.schema(), nullptr));
  EXPECT_FALSE(Compile(R"({"event":"order"})")->references_segments());
}

TEST_F(RowRuleTest, SegmentCyclesMatchNothing) {
  Load(kEventProfiles);
  // A database refuses to save these; a RowRule must still not loop.
  segments_.AddDynamic("a", R"({"any":[{"segment":"b"},{"event":"cart"}]})",
                       data_.store.schema());
  segments_.AddDynamic("b", R"({"segment":"a"})", data_.store.schema());
  segments_.AddDynamic("self", R"({"not":{"segment":"self"}})",
                       data_.store.schema());
  Result<RowRule> a = Compile(R"({"segment":"a"})");
  Result<RowRule> self = Compile(R"({"segment":"self"})");
  ASSERT_TRUE(a.ok() && self.ok());
  // a -> b -> a is cut where it closes: there, a matches nothing, so a is
  // the cart rows.
  EXPECT_EQ(IdsOf(*a, kNow, nullptr), "two");
  EXPECT_EQ(IdsOf(*self, kNow, nullptr), "never,old,two,edges");
}

TEST_F(RowRuleTest, DepthCountsThroughSegmentsAsInBind) {
  Load(kEventProfiles);
  // Depth 3 of its own: all > not > event.
  segments_.AddDynamic("deep", R"({"all":[{"not":{"event":"cart"}}]})",
                       data_.store.schema());
  // The reference at depth 2 puts the segment's event at depth 4.
  const std::string rule = R"({"all":[{"segment":"deep"}]})";
  Result<RowRule> four = Compile(rule, 4);
  Result<RowRule> three = Compile(rule, 3);
  ASSERT_TRUE(four.ok() && three.ok());
  EXPECT_TRUE(IndexMembers(data_, rule, kNow, segments_.resolver(), 4).ok());
  EXPECT_FALSE(IndexMembers(data_, rule, kNow, segments_.resolver(), 3).ok());
  EXPECT_EQ(IdsOf(*four, kNow, nullptr), "never,old,edges");
  EXPECT_EQ(IdsOf(*three, kNow, nullptr), "");
}

TEST_F(RowRuleTest, RejectsWhatBindRejectsAtTheSamePlace) {
  Load(
      R"({"id":"a","city":"Pune","tags":["x"],"n":1,"t":"2026-01-01","b":true,)"
      R"("scores":[1,2]})");
  const char* kBad[] = {
      R"({"all":[{"field":"nope","op":"exists"}]})",
      R"({"all":[{"field":"city","op":"exists"},{"field":"city","op":"gt","value":1}]})",
      R"({"field":"city","op":"has_all","value":["x"]})",
      R"({"field":"city","op":"like","value":"x"})",
      R"({"field":"city","op":"eq","value":5})",
      R"({"field":"city","op":"in","value":["a",1]})",
      R"({"field":"tags","op":"on","value":"now"})",
      R"({"field":"n","op":"between","value":[1]})",
      R"({"field":"n","op":"in","value":"1"})",
      R"({"field":"t","op":"on","value":"2026-02-30"})",
      R"({"field":"t","op":"on"})",
      R"({"field":"t","op":"within_last","value":"7D"})",
      R"({"field":"t","op":"between","value":["now","now+"]})",
      R"({"field":"b","op":"eq","value":true})",
      R"({"field":"scores","op":"exists"})",
      R"({"event":"order","within_last":"soon"})",
      R"({"event":"order","after":"yesterday"})",
      R"({"event":"order","count":{"ge":1}})",
      R"({"event":"order","count":{"gte":1,"lt":3}})",
      R"({"any":[{"event":"order"},{"not":[]}]})",
      R"({"foo":1})",
  };
  for (const char* rule : kBad) {
    SCOPED_TRACE(rule);
    const std::string got = Ids(rule);
    EXPECT_EQ(got.rfind("error:", 0), 0u) << got;
  }
  // Depth: the root is 1.
  const std::string deep =
      R"({"not":{"not":{"not":{"field":"city","op":"exists"}}}})";
  EXPECT_TRUE(Compile(deep, 4).ok());
  Result<RowRule> too_deep = Compile(deep, 3);
  ASSERT_FALSE(too_deep.ok());
  EXPECT_EQ(too_deep.status().path(), "/not/not/not");
  EXPECT_EQ(too_deep.status().code(), ErrorCode::kInvalid);
}

TEST_F(RowRuleTest, CopiesShareTheCompiledRule) {
  Load(kEventProfiles);
  Result<RowRule> rule = Compile(R"({"event":"order","count":{"gte":2}})");
  ASSERT_TRUE(rule.ok());
  const RowRule copy = *rule;
  const auto shared = std::make_shared<const RowRule>(copy);
  EXPECT_EQ(IdsOf(copy, kNow, nullptr), "two,edges");
  EXPECT_EQ(IdsOf(*shared, kNow, nullptr), "two,edges");
}

}  // namespace
}  // namespace segd
