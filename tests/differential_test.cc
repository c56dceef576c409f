// Differential test: the engine against the reference evaluator (STYLE.md:
// every fast path has a slow twin it is checked against).
//
// Each dataset is random NDJSON loaded into both; ingest must agree
// (accepted count and rejected line numbers), then random rules must get
// identical answers: the ok flag, and the error code and path when not ok,
// or the count and the ids when ok. A mismatch prints the seed, the rule's
// index in its stream, the rule JSON and both answers; the first few are
// reported and then the test stops.
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/engine_under_test.h"
#include "tests/reference/random_data.h"
#include "tests/reference/reference_evaluator.h"

namespace segd {
namespace {

using reference::kRandomDataNowMs;

struct Dataset {
  uint64_t seed;
  size_t records;
  int rules;
};

void PrintTo(const Dataset& dataset, std::ostream* out) {
  *out << "seed " << dataset.seed << ", " << dataset.records << " records, "
       << dataset.rules << " rules";
}

// 9300 random rules in all. The last dataset spans three shards of 2^16
// rows, so results are merged across shard boundaries.
constexpr Dataset kDatasets[] = {
    {101, 500, 2000}, {202, 1500, 3000}, {303, 3000, 4000}, {404, 140000, 300}};
constexpr size_t kLimits[] = {0, 1, 20, 1000};
constexpr int kMaxRuleDepth = 6;
constexpr int kMaxMismatches = 5;

// An id for a failure message; ids may be 256 bytes long.
std::string ShortId(const std::string& id) {
  return id.size() <= 40 ? id : id.substr(0, 37) + "...";
}

std::string Describe(const reference::Answer& answer) {
  std::ostringstream out;
  if (!answer.ok) {
    out << "error " << answer.error_code << " at \"" << answer.error_path
        << "\" (" << answer.error_message << ")";
    return out.str();
  }
  out << "count " << answer.count << ", " << answer.ids.size() << " ids [";
  for (size_t i = 0; i < answer.ids.size() && i < 5; ++i) {
    out << (i ? ", " : "") << ShortId(answer.ids[i]);
  }
  out << (answer.ids.size() > 5 ? ", ...]" : "]");
  return out.str();
}

// Where two id lists part, for answers that agree on everything else.
std::string FirstDifference(const std::vector<std::string>& want,
                            const std::vector<std::string>& got) {
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  const auto at = [&](const std::vector<std::string>& ids) {
    return i < ids.size() ? ShortId(ids[i]) : std::string("(end)");
  };
  return "ids differ at #" + std::to_string(i) + ": reference " + at(want) +
         ", engine " + at(got);
}

std::string Describe(const testing::EngineAnswer& answer) {
  return Describe(reference::Answer{answer.ok, answer.error_code,
                                    answer.error_path, answer.error_message,
                                    answer.count, answer.ids});
}

bool Agree(const reference::Answer& want, const testing::EngineAnswer& got) {
  if (want.ok != got.ok) return false;
  if (!want.ok) {
    return want.error_code == got.error_code &&
           want.error_path == got.error_path;
  }
  return want.count == got.count && want.ids == got.ids;
}

// Collects mismatches and reports the first kMaxMismatches of them.
class MismatchLog {
 public:
  bool full() const { return mismatches_ >= kMaxMismatches; }

  void Check(std::string_view context, std::string_view rule, size_t limit,
             const reference::Answer& want, const testing::EngineAnswer& got) {
    if (Agree(want, got)) return;
    ++mismatches_;
    ADD_FAILURE() << context << ", limit " << limit << "\n  rule:      " << rule
                  << "\n  reference: " << Describe(want)
                  << "\n  engine:    " << Describe(got)
                  << (want.ok && got.ok
                          ? "\n  " + FirstDifference(want.ids, got.ids)
                          : "");
  }

 private:
  int mismatches_ = 0;
};

// Line `number` (1-based) of `text`, cut short for failure messages.
std::string LineAt(std::string_view text, uint64_t number) {
  size_t start = 0;
  for (uint64_t line = 1; line < number && start < text.size(); ++line) {
    start = text.find('\n', start);
    if (start == std::string_view::npos) return "";
    ++start;
  }
  const std::string_view rest = text.substr(std::min(start, text.size()));
  return std::string(rest.substr(0, std::min(rest.find('\n'), size_t{300})));
}

std::vector<uint64_t> LineNumbers(
    const std::vector<std::pair<uint64_t, std::string>>& rejected) {
  std::vector<uint64_t> lines;
  for (const auto& [line, message] : rejected) lines.push_back(line);
  return lines;
}

std::string DatasetName(const Dataset& dataset) {
  return "seed " + std::to_string(dataset.seed) + ", " +
         std::to_string(dataset.records) + " records";
}

// The same random data in the engine and in the reference.
class DifferentialTest : public ::testing::TestWithParam<Dataset> {
 protected:
  void SetUp() override {
    ndjson_ =
        reference::RandomProfilesNdjson(GetParam().seed, GetParam().records);
    reference_.LoadNdjson(ndjson_);
    engine_ = std::make_unique<testing::EngineUnderTest>(ndjson_);
  }

  std::string ndjson_;
  reference::ReferenceStore reference_;
  std::unique_ptr<testing::EngineUnderTest> engine_;
};

TEST_P(DifferentialTest, IngestAgrees) {
  const testing::LoadAnswer& load = engine_->load();
  EXPECT_EQ(load.accepted, reference_.accepted()) << DatasetName(GetParam());
  const std::vector<uint64_t> want = LineNumbers(reference_.rejected());
  const std::vector<uint64_t> got = LineNumbers(load.rejected);
  if (want == got) return;
  // Report the first lines where the two disagree, with both verdicts.
  int reported = 0;
  for (const auto& [line, message] : reference_.rejected()) {
    if (std::find(got.begin(), got.end(), line) != got.end()) continue;
    ADD_FAILURE() << DatasetName(GetParam()) << ": line " << line
                  << " rejected by the reference only (" << message << ")\n  "
                  << LineAt(ndjson_, line);
    if (++reported == kMaxMismatches) return;
  }
  for (const auto& [line, message] : load.rejected) {
    if (std::find(want.begin(), want.end(), line) != want.end()) continue;
    ADD_FAILURE() << DatasetName(GetParam()) << ": line " << line
                  << " rejected by the engine only (" << message << ")\n  "
                  << LineAt(ndjson_, line);
    if (++reported == kMaxMismatches) return;
  }
}

TEST_P(DifferentialTest, RandomRulesAgree) {
  const Dataset& dataset = GetParam();
  reference::Rng rng(dataset.seed);
  MismatchLog log;
  for (int i = 0; i < dataset.rules && !log.full(); ++i) {
    const std::string rule = reference::RandomRule(
        rng, reference::DataVocabulary(), 1 + i % kMaxRuleDepth);
    const size_t limit = kLimits[i % std::size(kLimits)];
    log.Check(DatasetName(dataset) + ", rule #" + std::to_string(i) +
                  " of Rng(" + std::to_string(dataset.seed) + ")",
              rule, limit, reference_.Evaluate(rule, kRandomDataNowMs, limit),
              engine_->Query(rule, kRandomDataNowMs, limit));
  }
}

INSTANTIATE_TEST_SUITE_P(RandomData, DifferentialTest,
                         ::testing::ValuesIn(kDatasets),
                         [](const ::testing::TestParamInfo<Dataset>& info) {
                           return "Seed" + std::to_string(info.param.seed);
                         });

// `levels` nested {"not": ...} or {"all": [...]} around a leaf, so the leaf
// sits at depth levels + 1.
std::string Nested(std::string_view group, int levels) {
  std::string rule = R"({"field": "city", "op": "exists"})";
  for (int i = 0; i < levels; ++i) {
    rule = group == "not" ? R"({"not": )" + rule + "}"
                          : R"({"all": [)" + rule + "]}";
  }
  return rule;
}

// Edges that random rules reach rarely: depth limits, exact number and date
// boundaries, case folding of non-ASCII text, empty lists.
std::vector<std::string> EdgeRules() {
  std::vector<std::string> rules = {
      R"({"all": []})",
      R"({"any": []})",
      R"({"not": {"any": []}})",
      R"({"field": "orders", "op": "eq", "value": 9007199254740993})",
      R"({"field": "orders", "op": "eq", "value": 9007199254740992.0})",
      R"({"field": "orders", "op": "gte", "value": 1})",
      R"({"field": "web_sessions", "op": "gte", "value": 9223372036854775807})",
      R"({"field": "web_sessions", "op": "lte", "value": -9223372036854775808})",
      R"({"field": "web_sessions", "op": "gt", "value": 9.2233720368547758e18})",
      R"({"field": "web_sessions", "op": "eq", "value": 1.7976931348623157e308})",
      R"({"field": "csat", "op": "eq", "value": 0})",
      R"({"field": "csat", "op": "lt", "value": 0.3})",
      R"({"field": "csat", "op": "between", "value": [0.1, 0.30000000000000004]})",
      R"({"field": "first_seen", "op": "on", "value": "1969-12-31"})",
      R"({"field": "first_seen", "op": "before", "value": "1970-01-01"})",
      R"({"field": "first_seen", "op": "after", "value": "9999-12-31T23:59:59.998Z"})",
      R"({"field": "first_seen", "op": "on", "value": "2026-11-20T17:30:00+05:30"})",
      R"({"field": "birthday", "op": "on", "value": "0000-02-29"})",
      R"({"field": "last_seen", "op": "within_last", "value": "7d"})",
      R"({"field": "last_seen", "op": "not_within_last", "value": "7d"})",
      R"({"field": "last_seen", "op": "between", "value": ["now-48h", "now-48h"]})",
      R"({"field": "last_seen", "op": "after", "value": "now"})",
      R"({"field": "signed_up", "op": "on", "value": "now"})",
      R"({"field": "city", "op": "eq", "value": "zürich"})",
      R"({"field": "city", "op": "eq", "value": "ZÜRICH"})",
      R"({"field": "city", "op": "eq", "value": ""})",
      R"({"field": "city", "op": "contains", "value": ""})",
      R"({"field": "city", "op": "starts_with", "value": " "})",
      R"({"field": "city", "op": "in", "value": []})",
      R"({"field": "city", "op": "not_in", "value": []})",
      R"({"field": "address.city", "op": "neq", "value": "pune"})",
      R"({"field": "tags", "op": "has_all", "value": []})",
      R"({"field": "tags", "op": "has_all", "value": ["vip", "new"]})",
      R"({"field": "tags", "op": "eq", "value": ""})",
      R"({"field": "tags", "op": "not_contains", "value": "Ü"})",
      R"({"field": "promo_code", "op": "eq", "value": "2026-02-30"})",
      R"({"field": "customer_type", "op": "eq", "value": "customer"})",
      R"({"field": "customer_type", "op": "eq", "value": "lead"})",
      R"({"field": "customer_type", "op": "eq", "value": "guest"})",
      R"({"event": "order", "count": {"lt": 1}})",
      R"({"event": "ORDER", "within_last": "7d", "count": {"gte": 2}})",
      R"({"event": "ZAHLUNG_über"})",
      R"({"event": "zahlung_ÜBER"})",
      R"({"event": "never", "count": {"eq": 0}})",
      R"({"event": "order", "within_last": "48h", "before": "now-1d", "after": "now-47h"})",
      R"({"segment": "high-intent"})",
      R"({"field": "scores", "op": "exists"})",
      R"({"field": "address", "op": "exists"})",
      R"({"field": "id", "op": "exists"})",
      R"({"field": "City", "op": "exists"})",
      "not json",
  };
  for (int levels : {62, 63, 64, 65}) {
    rules.push_back(Nested("not", levels));
    rules.push_back(Nested("all", levels));
  }
  return rules;
}

TEST(DifferentialEdgeTest, EdgeRulesAgree) {
  const Dataset& dataset = kDatasets[0];
  const std::string ndjson =
      reference::RandomProfilesNdjson(dataset.seed, dataset.records);
  reference::ReferenceStore reference;
  reference.LoadNdjson(ndjson);
  const testing::EngineUnderTest engine(ndjson);
  MismatchLog log;
  for (const std::string& rule : EdgeRules()) {
    for (size_t limit : {size_t{0}, size_t{1000}}) {
      if (log.full()) return;
      log.Check(DatasetName(dataset) + ", edge rule", rule, limit,
                reference.Evaluate(rule, kRandomDataNowMs, limit),
                engine.Query(rule, kRandomDataNowMs, limit));
    }
  }
}

}  // namespace
}  // namespace segd
