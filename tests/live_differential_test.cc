// Differential test of the live database: random writes of every kind
// interleaved with random reads of every kind, each answer checked against
// the reference database (tests/reference/reference_database.h) after the
// same sequence.
//
// The engine runs with tiny layers, so that writes freeze layers, rows die
// in older layers and merges run mid-sequence: in the background for some
// seeds, by hand at random steps for the others. A mismatch prints the
// seed, the step and both answers; the first few are reported, then the
// test stops.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "live/database.h"
#include "tests/reference/random_data.h"
#include "tests/reference/reference_database.h"
#include "tests/tsan.h"

namespace segd {
namespace {

using reference::AttributeKind;
using reference::kRandomDataNowMs;
using reference::Rng;

constexpr int kMaxMismatches = 5;

struct Scenario {
  uint64_t seed;
  size_t initial;  // profiles loaded before the first step
  int steps;
  bool background_merges;
};

void PrintTo(const Scenario& s, std::ostream* out) {
  *out << "seed " << s.seed << ", " << s.initial << " profiles, " << s.steps
       << " steps, " << (s.background_merges ? "background" : "manual")
       << " merges";
}

constexpr Scenario kScenarios[] = {
    {11, 300, 700, false},
    {22, 600, 700, true},
    {33, 1200, 500, false},
    {44, 200, 900, true},
};

std::string Code(const Status& s) {
  return s.ok() ? "" : ErrorCodeName(s.code());
}

std::string Join(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size() && i < 8; ++i) {
    out += (i ? ", " : "") + items[i];
  }
  if (items.size() > 8) out += ", ... (" + std::to_string(items.size()) + ")";
  return out + "]";
}

// The id of a profile's NDJSON line that leads with a string id, else "".
std::string LeadingId(std::string_view line) {
  constexpr std::string_view kKey = R"({"id":)";
  if (!line.starts_with(kKey)) return "";
  line.remove_prefix(kKey.size());
  while (line.starts_with(' ')) line.remove_prefix(1);
  if (!line.starts_with('"')) return "";
  line.remove_prefix(1);
  return std::string(line.substr(0, line.find('"')));
}

// A JSON string literal of plain text (the vocabulary holds no quotes or
// backslashes, but may hold any UTF-8).
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

// A report value as compared: text unquoted (the engine answers JSON, the
// reference plain text) and ASCII case folded (each side may show another
// spelling of a string), numbers as numbers.
std::string Canonical(std::string value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    value = value.substr(1, value.size() - 2);
  }
  for (char& c : value) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  char* end = nullptr;
  double d = std::strtod(value.c_str(), &end);
  if (!value.empty() && end != nullptr && *end == '\0') {
    if (d == 0) d = 0;  // -0 and 0 are one group, shown either way
    std::ostringstream out;
    out.precision(17);
    out << d;
    return out.str();
  }
  return value;
}

class Harness {
 public:
  explicit Harness(const Scenario& scenario)
      : scenario_(scenario), rng_(scenario.seed), db_(Options(scenario)) {}

  static DatabaseOptions Options(const Scenario& scenario) {
    DatabaseOptions options;
    options.newest_layer_rows = 24;
    options.merge_fanout = 2;
    options.event_merge_fanout = 2;
    options.base_merge_share = 0.5;
    options.background_merges = scenario.background_merges;
    // Pages of a few profiles, compacted as soon as they may be: the
    // store's rows move to the base's copies throughout the sequence.
    options.blob_page_bytes = 2048 + scenario.seed % 7 * 512;
    options.compact_min_bytes = 0;
    return options;
  }

  void Run() {
    // Profiles: the first batch, and a stream that later batches draw from
    // (with replacements of earlier ids and bad lines).
    const std::string stream = reference::RandomProfilesNdjson(
        scenario_.seed, scenario_.initial + scenario_.steps * 4);
    size_t at = 0;
    for (size_t i = 0; i < scenario_.initial; ++i) {
      const size_t nl = stream.find('\n', at);
      lines_.push_back(stream.substr(at, nl - at));
      at = nl + 1;
    }
    while (at < stream.size()) {
      const size_t nl = stream.find('\n', at);
      pending_.push_back(stream.substr(at, nl - at));
      at = nl + 1;
    }
    std::string first;
    for (const std::string& line : lines_) first += line + "\n";
    CheckBatch("initial load", db_.Upsert(first), ref_.UpsertNdjson(first));
    RememberEveryone();
    Remember("no-such-profile");

    for (step_ = 0; step_ < scenario_.steps && !Full(); ++step_) {
      Write();
      Read();
      if (!scenario_.background_merges && rng_.Percent(8)) db_.MergeNow();
    }
    db_.WaitForMerges();
    for (int i = 0; i < 40 && !Full(); ++i) Read();
    EXPECT_EQ(db_.Read()->live_count(), ref_.profile_count());
    // The sequence reached what it is meant to cover.
    EXPECT_GT(db_.merges_done(), 0u);
    EXPECT_GT(cursors_checked_, 0);
    EXPECT_GT(ok_queries_, 0);
    EXPECT_GT(counted_again_, 0);
    EXPECT_GT(ok_writes_, 0);
    // Kept rows amended across event epochs, where merges run in step.
    if (!scenario_.background_merges) {
      EXPECT_GT(amended_, 0u);
    }
  }

 private:
  bool Full() const { return mismatches_ >= kMaxMismatches; }

  void Mismatch(const std::string& what, const std::string& want,
                const std::string& got) {
    ++mismatches_;
    ADD_FAILURE() << "step " << step_ << ": " << what
                  << "\n  reference: " << want << "\n  engine:    " << got;
  }

  void Remember(const std::string& id) {
    if (std::find(ids_.begin(), ids_.end(), id) == ids_.end()) {
      ids_.push_back(id);
    }
  }
  // Every profile alive now, for writes and reads to name.
  void RememberEveryone() {
    const reference::Answer all =
        ref_.Evaluate(R"({"all": []})", kRandomDataNowMs, 1u << 20);
    for (const std::string& id : all.ids) Remember(id);
  }
  const std::string& AnyId() { return rng_.Pick(ids_); }

  std::string SegmentName() {
    static const std::vector<std::string> kNames = {"s0", "s1",       "s2",
                                                    "s3", "vip list", "s/bad"};
    return rng_.Pick(kNames);
  }

  std::string Rule() {
    std::string rule =
        reference::RandomRule(rng_, reference::DataVocabulary(), 4);
    if (rng_.Percent(20)) {
      rule =
          R"({"any": [{"segment": ")" + SegmentName() + R"("}, )" + rule + "]}";
    }
    return rule;
  }

  // A patch value of attribute `a`'s kind (or, rarely, of another kind).
  std::string PatchValue(const reference::VocabularyAttribute& a) {
    if (rng_.Percent(10)) return "null";
    if (rng_.Percent(5)) return R"("wrong kind?")";
    const auto pick = [&]() -> std::string {
      return a.values.empty() ? std::string("x") : rng_.Pick(a.values);
    };
    switch (a.kind) {
      case AttributeKind::kString:
      case AttributeKind::kDate:
        return Quote(pick());
      case AttributeKind::kNumber:
        return pick();
      case AttributeKind::kBool:
        return rng_.Percent(50) ? "true" : "false";
      case AttributeKind::kStringArray:
        return "[" + Quote(pick()) + ", " + Quote(pick()) + "]";
      case AttributeKind::kUnindexable:
        return "[1, 2]";
    }
    return "null";
  }

  std::string RandomPatch() {
    const auto& vocabulary = reference::DataVocabulary();
    switch (rng_.Below(12)) {
      case 0:
        return "[]";  // not an object
      case 1:
        return R"({"id": "other"})";
      case 2:
        return "{broken";
      case 3:
        return R"({"identities": {"whatsapp": "+9100)" +
               std::to_string(rng_.Below(30)) + R"(", "email": null}})";
      case 4:
        return R"({"events": [{"name": "order", "at": "2026-11-1)" +
               std::to_string(rng_.Below(10)) + R"(T10:00:00Z"}]})";
      case 5:
        return R"({"customer_type": )" +
               std::string(rng_.Percent(50) ? "null" : R"("lead")") + "}";
      case 6:
        return R"({"address": {"city": "Nagpur", "zip": null}})";
      default:
        break;
    }
    std::string patch = "{";
    const int keys = 1 + static_cast<int>(rng_.Below(3));
    for (int k = 0; k < keys; ++k) {
      const auto& a = rng_.Pick(vocabulary.attributes);
      if (a.name.find('.') != std::string::npos) continue;
      if (patch.size() > 1) patch += ", ";
      patch += Quote(a.name) + ": " + PatchValue(a);
    }
    return patch + "}";
  }

  std::vector<std::string> SomeIds(int most) {
    std::vector<std::string> out;
    const int n = static_cast<int>(rng_.Below(most + 1));
    for (int i = 0; i < n; ++i) out.push_back(AnyId());
    if (rng_.Percent(20)) out.push_back("ghost-" + std::to_string(step_));
    return out;
  }

  std::vector<std::string> SomeTags() {
    static const std::vector<std::string> kTags = {"vip", "VIP", "new",
                                                   "churn-risk", "Zürich-Fan"};
    std::vector<std::string> out;
    const int n = static_cast<int>(rng_.Below(3));
    for (int i = 0; i < n; ++i) out.push_back(rng_.Pick(kTags));
    return out;
  }

  void CheckBatch(const std::string& what, const BatchResult& got,
                  const reference::WriteAnswer& want) {
    std::vector<uint64_t> lines;
    for (const RejectedRecord& r : got.rejected) lines.push_back(r.line);
    if (got.accepted != want.accepted || lines != want.rejected_lines) {
      Mismatch(what,
               "accepted " + std::to_string(want.accepted) + ", " +
                   std::to_string(want.rejected_lines.size()) + " rejected",
               "accepted " + std::to_string(got.accepted) + ", " +
                   std::to_string(lines.size()) + " rejected");
    }
  }

  void CheckWrite(const std::string& what, const Status& got,
                  const reference::WriteAnswer& want) {
    const std::string want_code = want.ok ? "" : want.error_code;
    if (want.ok) ++ok_writes_;
    if (Code(got) != want_code) {
      Mismatch(what, want.ok ? "ok" : want_code + " (" + want.message + ")",
               got.ok() ? "ok" : got.ToString());
    }
  }

  // Up to 30 writes of every kind in one call, one WriteBatch: applied in
  // order and published once, each with its own outcome. Ops often name a
  // profile that an op a few places before them named: a batch loads each
  // op's profile some ops ahead of applying it, while the ops between may
  // delete, merge or rewrite it.
  void WriteSeveral() {
    enum class Kind { kUpsert, kPatch, kDelete, kTags, kMerge, kEvents };
    struct Op {
      Kind kind;
      std::string id, other, text;
      std::vector<std::string> add, remove;
    };
    std::vector<Op> ops;
    std::vector<std::string> named;
    WriteBatch batch;
    const size_t n = 1 + rng_.Below(30);
    for (size_t i = 0; i < n; ++i) {
      Op op;
      op.kind = static_cast<Kind>(rng_.Below(6));
      op.id = !named.empty() && rng_.Percent(40) ? rng_.Pick(named) : AnyId();
      named.push_back(op.id);
      switch (op.kind) {
        case Kind::kUpsert:
          for (size_t k = rng_.Below(4);
               k-- > 0 && next_pending_ < pending_.size();) {
            const std::string& line = pending_[next_pending_++];
            op.text += line + "\n";
            // A profile the batch creates, named again by the ops after it.
            if (std::string id = LeadingId(line); !id.empty()) {
              named.push_back(std::move(id));
            }
          }
          batch.Upsert(op.text);
          break;
        case Kind::kPatch:
          op.text = RandomPatch();
          batch.Patch(op.id, op.text);
          break;
        case Kind::kDelete:
          batch.Delete(op.id);
          break;
        case Kind::kTags:
          op.add = SomeTags();
          op.remove = SomeTags();
          batch.UpdateTags(op.id, op.add, op.remove);
          break;
        case Kind::kMerge:
          op.other = rng_.Percent(50) ? rng_.Pick(named) : AnyId();
          batch.Merge(op.id, op.other);
          break;
        case Kind::kEvents:
          op.text =
              R"({"id": )" + Quote(op.id) + R"(, "name": )" +
              Quote(rng_.Pick(reference::DataVocabulary().event_names)) +
              R"(, "at": )" +
              Quote(rng_.Pick(reference::DataVocabulary().absolute_dates)) +
              "}\n";
          batch.AppendEvents(op.text);
          break;
      }
      ops.push_back(std::move(op));
    }
    const std::vector<WriteOutcome> got = db_.Write(batch);
    for (size_t i = 0; i < ops.size(); ++i) {
      const Op& op = ops[i];
      const std::string what = "op " + std::to_string(i) + " of a batch: ";
      switch (op.kind) {
        case Kind::kUpsert:
          CheckBatch(what + "upsert", got[i].batch, ref_.UpsertNdjson(op.text));
          break;
        case Kind::kPatch:
          CheckWrite(what + "patch " + op.id + " " + op.text, got[i].status,
                     ref_.Patch(op.id, op.text));
          break;
        case Kind::kDelete:
          CheckWrite(what + "delete " + op.id, got[i].status,
                     ref_.Delete(op.id));
          break;
        case Kind::kTags:
          CheckWrite(what + "tags " + op.id, got[i].status,
                     ref_.Tags(op.id, op.add, op.remove));
          break;
        case Kind::kMerge:
          CheckWrite(what + "merge " + op.other + " into " + op.id,
                     got[i].status, ref_.Merge(op.id, op.other));
          break;
        case Kind::kEvents:
          CheckBatch(what + "events " + op.text, got[i].batch,
                     ref_.AppendEventsNdjson(op.text));
          break;
      }
    }
    RememberEveryone();
  }

  void Write() {
    const std::string id = AnyId();
    switch (rng_.Below(15)) {
      case 0:
      case 1: {
        std::string batch;
        const size_t n = 1 + rng_.Below(12);
        for (size_t i = 0; i < n && next_pending_ < pending_.size(); ++i) {
          batch += pending_[next_pending_++] + "\n";
        }
        CheckBatch("upsert batch", db_.Upsert(batch), ref_.UpsertNdjson(batch));
        RememberEveryone();
        break;
      }
      case 2:
      case 3: {
        const std::string patch = RandomPatch();
        CheckWrite("patch " + id + " " + patch, db_.Patch(id, patch),
                   ref_.Patch(id, patch));
        break;
      }
      case 4:
        CheckWrite("delete " + id, db_.Delete(id), ref_.Delete(id));
        break;
      case 5: {
        const std::vector<std::string> add = SomeTags(), remove = SomeTags();
        CheckWrite("tags " + id + " +" + Join(add) + " -" + Join(remove),
                   db_.UpdateTags(id, add, remove), ref_.Tags(id, add, remove));
        break;
      }
      case 6: {
        const std::string from = rng_.Percent(5) ? id : AnyId();
        CheckWrite("merge " + from + " into " + id, db_.Merge(id, from),
                   ref_.Merge(id, from));
        break;
      }
      case 7: {
        std::string batch;
        const auto& names = reference::DataVocabulary().event_names;
        const auto& dates = reference::DataVocabulary().absolute_dates;
        const size_t n = 1 + rng_.Below(6);
        for (size_t i = 0; i < n; ++i) {
          batch += R"({"id": )" + Quote(AnyId()) + R"(, "name": )" +
                   Quote(rng_.Pick(names)) + R"(, "at": )" +
                   Quote(rng_.Percent(5) ? "soon" : rng_.Pick(dates)) + "}\n";
        }
        CheckBatch("events " + batch, db_.AppendEvents(batch),
                   ref_.AppendEventsNdjson(batch));
        break;
      }
      case 8: {
        static const std::vector<std::pair<std::string, AttrType>> kTypes = {
            {"string", AttrType::kString},
            {"number", AttrType::kNumber},
            {"date", AttrType::kDate},
            {"bool", AttrType::kBool},
            {"strings", AttrType::kStringArray}};
        const auto& [type_name, type] = rng_.Pick(kTypes);
        const std::string name =
            rng_.Percent(50)
                ? "declared_" + std::to_string(rng_.Below(4))
                : rng_.Pick(reference::DataVocabulary().attributes).name;
        CheckWrite("declare " + name + " " + type_name,
                   db_.Declare({{name, type}}),
                   ref_.DeclareSchema("{" + Quote(name) + ": " +
                                      Quote(type_name) + "}"));
        break;
      }
      case 9:
      case 10: {
        const std::string name = SegmentName();
        const std::string rule = Rule();
        SegmentDefinition d;
        d.rule_json = rule;
        const Result<SegmentInfo> got =
            db_.SaveSegment(name, d, nullptr, kRandomDataNowMs);
        const reference::WriteAnswer want = ref_.SaveDynamic(name, rule);
        CheckWrite("save " + name + " " + rule, got.status(), want);
        if (got.ok() && want.ok) {
          const auto members = ref_.Members(name, kRandomDataNowMs);
          if (got->count != members.size()) {
            Mismatch("count of saved " + name, std::to_string(members.size()),
                     std::to_string(got->count));
          }
        }
        break;
      }
      case 11: {
        const std::string name = SegmentName();
        SegmentDefinition d;
        d.kind = SavedSegment::Kind::kStatic;
        d.ids = SomeIds(6);
        std::vector<std::string> unknown;
        const Result<SegmentInfo> got =
            db_.SaveSegment(name, d, &unknown, kRandomDataNowMs);
        const reference::WriteAnswer want = ref_.SaveStatic(name, d.ids);
        CheckWrite("save static " + name + " " + Join(d.ids), got.status(),
                   want);
        if (got.ok() && want.ok && unknown != want.unknown_ids) {
          Mismatch("unknown ids of " + name, Join(want.unknown_ids),
                   Join(unknown));
        }
        break;
      }
      case 12: {
        const std::string name = SegmentName();
        const std::vector<std::string> add = SomeIds(4), remove = SomeIds(2);
        const Result<StaticEdit> got = db_.EditMembers(name, add, remove);
        const reference::WriteAnswer want = ref_.EditStatic(name, add, remove);
        CheckWrite("edit " + name, got.status(), want);
        if (got.ok() && want.ok && got->unknown_ids != want.unknown_ids) {
          Mismatch("unknown ids of edit " + name, Join(want.unknown_ids),
                   Join(got->unknown_ids));
        }
        break;
      }
      case 13: {
        const std::string name = SegmentName();
        CheckWrite("delete segment " + name, db_.DeleteSegment(name),
                   ref_.DeleteSegment(name));
        break;
      }
      case 14:
        WriteSeveral();
        break;
    }
    // A cursor opened earlier reads on after the writes.
    if (cursor_open_ && rng_.Percent(30)) FinishCursor();
  }

  void Read() {
    switch (rng_.Below(8)) {
      case 0:
      case 1:
      case 2:
        Query();
        break;
      case 3:
        Explain();
        break;
      case 4:
        if (!cursor_open_) OpenCursor();
        break;
      case 5:
        Membership();
        break;
      case 6:
        Report();
        break;
      case 7:
        Search();
        break;
    }
  }

  // Half the queries ask again about one of a few rules (a rule being
  // edited, a dashboard's counts), mostly for its count, at one of two
  // clocks: the layers answer those counts from what the rule matched
  // there before (MatchedRows), which must be what it matches now.
  void Query() {
    static const size_t kLimits[] = {0, 1, 20, 1000};
    constexpr int64_t kTwoDaysMs = 2 * 24 * 3600 * 1000LL;
    if (again_.empty()) {
      for (int i = 0; i < 6; ++i) again_.push_back(Rule());
    }
    const bool again = rng_.Percent(50);
    const std::string rule = again ? rng_.Pick(again_) : Rule();
    const size_t limit = again && rng_.Percent(70) ? 0 : kLimits[rng_.Below(4)];
    const int64_t now =
        rng_.Percent(30) ? kRandomDataNowMs + kTwoDaysMs : kRandomDataNowMs;
    QueryRequest request;
    request.rule_json = rule;
    request.limit = limit;
    request.now_ms = now;
    const Result<QueryResult> got = db_.Read()->Query(request);
    const reference::Answer want = ref_.Evaluate(rule, now, limit);
    if (again && limit == 0) {
      ++counted_again_;
      NoteAmended();
    }
    if (got.ok() != want.ok) {
      Mismatch("query " + rule,
               want.ok ? "ok" : want.error_code + " at " + want.error_path,
               got.ok() ? "ok" : got.status().ToString());
      return;
    }
    if (!want.ok) {
      if (Code(got.status()) != want.error_code ||
          got.status().path() != want.error_path) {
        Mismatch("query error " + rule,
                 want.error_code + " at " + want.error_path + " (" +
                     want.error_message + ")",
                 got.status().ToString());
      }
      return;
    }
    ++ok_queries_;
    if (got->count != want.count || got->ids != want.ids) {
      Mismatch("query " + rule + " limit " + std::to_string(limit),
               std::to_string(want.count) + " " + Join(want.ids),
               std::to_string(got->count) + " " + Join(got->ids));
    }
  }

  void Explain() {
    const std::string rule = Rule();
    const auto want = ref_.Explain(rule, kRandomDataNowMs);
    if (want.empty()) return;  // a rejected rule: Query checks errors
    QueryRequest request;
    request.rule_json = rule;
    request.limit = 0;
    request.explain = true;
    request.now_ms = kRandomDataNowMs;
    const Result<QueryResult> got = db_.Read()->Query(request);
    std::vector<std::pair<std::string, uint64_t>> got_list;
    if (got.ok()) {
      for (const ExplainEntry& e : got->explain) {
        got_list.emplace_back(e.path, e.count);
      }
    }
    if (got_list != want) {
      auto show = [](const auto& list) {
        std::string s;
        for (const auto& [path, count] : list) {
          s += "(" + path + " " + std::to_string(count) + ") ";
        }
        return s;
      };
      Mismatch("explain " + rule, show(want),
               got.ok() ? show(got_list) : got.status().ToString());
    }
  }

  // Pages through a saved segment: one page now, the rest after later
  // writes, when they must be the members after the last one read.
  void OpenCursor() {
    cursor_segment_ = SegmentName();
    MembersRequest request;
    request.segment = cursor_segment_;
    request.limit = 1 + rng_.Below(8);
    request.now_ms = kRandomDataNowMs;
    const Result<MembersPage> page = db_.Read()->Members(request);
    const std::vector<std::string> want =
        ref_.Members(cursor_segment_, kRandomDataNowMs);
    if (!page.ok()) {
      if (page.status().code() != ErrorCode::kNotFound) {
        Mismatch("members of " + cursor_segment_, "ok or not_found",
                 page.status().ToString());
      }
      return;
    }
    const std::vector<std::string> first(
        want.begin(), want.begin() + std::min(want.size(), request.limit));
    if (page->ids != first || page->count != want.size()) {
      Mismatch("first page of " + cursor_segment_,
               std::to_string(want.size()) + " " + Join(first),
               std::to_string(page->count) + " " + Join(page->ids));
      return;
    }
    if (page->next_cursor.empty()) {
      if (want.size() > request.limit) {
        Mismatch("cursor of " + cursor_segment_, "more pages", "none");
      }
      return;
    }
    cursor_open_ = true;
    cursor_ = page->next_cursor;
    cursor_last_ = page->ids.back();
    cursor_limit_ = request.limit;
  }

  void FinishCursor() {
    cursor_open_ = false;
    MembersRequest request;
    request.segment = cursor_segment_;
    request.limit = cursor_limit_;
    request.cursor = cursor_;
    request.now_ms = kRandomDataNowMs;
    std::vector<std::string> got;
    std::set<std::string> seen;
    while (!request.cursor.empty()) {
      const Result<MembersPage> page = db_.Read()->Members(request);
      if (!page.ok()) return;  // the segment was deleted meanwhile
      for (const std::string& id : page->ids) {
        if (!seen.insert(id).second) {
          Mismatch("cursor of " + cursor_segment_, "no repeats", id + " twice");
          return;
        }
        got.push_back(id);
      }
      request.cursor = page->next_cursor;
    }
    const std::vector<std::string> members =
        ref_.Members(cursor_segment_, kRandomDataNowMs);
    const auto last = std::find(members.begin(), members.end(), cursor_last_);
    if (last == members.end()) return;  // its row is gone: no position
    const std::vector<std::string> want(last + 1, members.end());
    ++cursors_checked_;
    if (got != want) {
      Mismatch("pages of " + cursor_segment_ + " after " + cursor_last_,
               Join(want), Join(got));
    }
  }

  void Membership() {
    const std::string segment = SegmentName();
    const std::string id = AnyId();
    const Result<bool> got =
        db_.Read()->Contains(segment, id, kRandomDataNowMs);
    const std::optional<bool> want =
        ref_.Contains(segment, id, kRandomDataNowMs);
    const std::string want_text =
        want ? (*want ? "true" : "false") : "not found";
    const std::string got_text =
        got.ok() ? (*got ? "true" : "false")
                 : (got.status().code() == ErrorCode::kNotFound
                        ? "not found"
                        : got.status().ToString());
    if (want_text != got_text) {
      Mismatch("contains " + segment + " " + id, want_text, got_text);
    }
    // Its size, as the segment's page shows it.
    const Result<SegmentInfo> info =
        db_.Read()->Segment(segment, kRandomDataNowMs);
    const reference::Answer size = ref_.Evaluate(
        R"({"segment": ")" + segment + R"("})", kRandomDataNowMs, 0);
    if (info.ok() != size.ok) {
      Mismatch("segment " + segment, size.ok ? "found" : size.error_code,
               info.ok() ? "found" : info.status().ToString());
    } else if (info.ok() && info->count != size.count) {
      Mismatch("size of " + segment, std::to_string(size.count),
               std::to_string(info->count));
    }
    const Result<std::vector<std::string>> got_of =
        db_.Read()->SegmentsOf(id, kRandomDataNowMs);
    const auto want_of = ref_.SegmentsOf(id, kRandomDataNowMs);
    if (got_of.ok() != want_of.has_value() ||
        (want_of && *got_of != *want_of)) {
      Mismatch("segments of " + id, want_of ? Join(*want_of) : "not found",
               got_of.ok() ? Join(*got_of) : got_of.status().ToString());
    }
  }

  void Report() {
    const auto& attributes = reference::DataVocabulary().attributes;
    ReportRequest request;
    request.rule_json = rng_.Percent(30) ? "" : Rule();
    request.group_by =
        rng_.Percent(20) ? "segment" : rng_.Pick(attributes).name;
    request.limit = rng_.Below(6);
    request.now_ms = kRandomDataNowMs;
    const Result<ReportResult> got = db_.Read()->Report(request);
    const reference::ReportAnswer want = ref_.Report(
        request.rule_json, request.group_by, request.limit, kRandomDataNowMs);
    const std::string what = "report by " + request.group_by + " of " +
                             request.rule_json + " limit " +
                             std::to_string(request.limit);
    if (got.ok() != want.ok) {
      Mismatch(what,
               want.ok ? "ok" : want.error_code + " at " + want.error_path,
               got.ok() ? "ok" : got.status().ToString());
      return;
    }
    if (!want.ok) return;
    auto show = [](uint64_t count,
                   const std::vector<std::pair<std::string, uint64_t>>& groups,
                   uint64_t other, uint64_t missing) {
      std::string s = std::to_string(count) + " [";
      for (const auto& [value, n] : groups) {
        s += Canonical(value) + ":" + std::to_string(n) + " ";
      }
      return s + "] other " + std::to_string(other) + " missing " +
             std::to_string(missing);
    };
    const std::string w =
        show(want.count, want.groups, want.other, want.missing);
    const std::string g =
        show(got->count, got->groups, got->other, got->missing);
    if (w != g) Mismatch(what, w, g);
  }

  void Search() {
    static const std::vector<std::string> kKeywords = {
        "a", "pat", "GMAIL", "+91", "zz", "ü", "example.com", ""};
    const std::string keyword = rng_.Pick(kKeywords);
    const Result<QueryResult> got = db_.Read()->Search(keyword, 20, {});
    const reference::Answer want = ref_.Search(keyword, 20);
    if (got.ok() != want.ok ||
        (got.ok() && (got->count != want.count || got->ids != want.ids))) {
      Mismatch("search " + keyword,
               want.ok ? std::to_string(want.count) + " " + Join(want.ids)
                       : want.error_code,
               got.ok() ? std::to_string(got->count) + " " + Join(got->ids)
                        : got.status().ToString());
    }
  }

  const Scenario scenario_;
  Rng rng_;
  Database db_;
  reference::ReferenceDatabase ref_;
  std::vector<std::string> lines_, pending_;
  size_t next_pending_ = 0;
  std::vector<std::string> ids_;
  int step_ = 0;
  int mismatches_ = 0;
  bool cursor_open_ = false;
  std::string cursor_segment_, cursor_, cursor_last_;
  size_t cursor_limit_ = 0;
  int cursors_checked_ = 0, ok_queries_ = 0, ok_writes_ = 0;
  std::vector<std::string> again_;  // rules that Query asks about again
  int counted_again_ = 0;
  // Counts whose layers amended what they kept at an earlier event epoch
  // (Snapshot::Amend), summed over every layer seen, merged away or not.
  void NoteAmended() {
    for (const Snapshot::LayerInfo& layer : db_.Read()->Layers()) {
      uint64_t& seen = amended_by_layer_[layer.serial];
      amended_ += layer.amended - std::min(seen, layer.amended);
      seen = std::max(seen, layer.amended);
    }
  }
  std::map<uint64_t, uint64_t> amended_by_layer_;
  uint64_t amended_ = 0;
};

class LiveDifferentialTest : public ::testing::TestWithParam<Scenario> {};

TEST_P(LiveDifferentialTest, AgreesWithTheReferenceThroughWritesAndMerges) {
  Harness(GetParam()).Run();
}

INSTANTIATE_TEST_SUITE_P(Scenarios, LiveDifferentialTest,
                         ::testing::ValuesIn(kScenarios));

}  // namespace
}  // namespace segd
