// The live database: writes reach the next read without a rebuild, layers
// and merges keep answers unchanged, saved segments, cursors, reports.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "index/blob_page.h"
#include "live/database.h"
#include "tests/tsan.h"

namespace segd {
namespace {

constexpr int64_t kNow = 1795176000000;  // 2026-11-20T12:00:00Z

// Small layers and merges run by hand, so that tests reach every layer
// shape on a few profiles.
DatabaseOptions SmallLayers() {
  DatabaseOptions options;
  options.newest_layer_rows = 4;
  options.merge_fanout = 2;
  options.event_merge_fanout = 2;
  options.background_merges = false;
  return options;
}

std::vector<std::string> Ids(const Database& db, const std::string& rule,
                             size_t limit = 100) {
  QueryRequest request;
  request.rule_json = rule;
  request.limit = limit;
  request.now_ms = kNow;
  Result<QueryResult> r = db.Read()->Query(request);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r->ids : std::vector<std::string>{};
}

// A count and nothing else; counts with a page take the long way.
uint64_t CountOn(const Snapshot& version, const std::string& rule,
                 int64_t now_ms = kNow, size_t limit = 0) {
  QueryRequest request;
  request.rule_json = rule;
  request.limit = limit;
  request.now_ms = now_ms;
  Result<QueryResult> r = version.Query(request);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r->count : 0;
}

uint64_t CountAt(const Database& db, const std::string& rule, int64_t now_ms,
                 size_t limit = 0) {
  return CountOn(*db.Read(), rule, now_ms, limit);
}

uint64_t Count(const Database& db, const std::string& rule) {
  return CountAt(db, rule, kNow);
}

std::string City(const std::string& city) {
  return R"({"field": "city", "op": "eq", "value": ")" + city + R"("})";
}

constexpr char kEveryone[] = R"({"all": []})";

TEST(RowSerialsTest, RowsPastTheEndHoldZeroAndGrowOnlyWhenSet) {
  RowSerials serials;
  EXPECT_EQ(serials.Get(0), 0u);
  EXPECT_EQ(serials.Get(4'000'000'000u), 0u);
  serials.Set(1000, 0);  // nothing to hold
  serials.Prefetch(1000);
  EXPECT_EQ(serials.size(), 0u);
  serials.Set(7, 3);
  EXPECT_EQ(serials.size(), 8u);
  EXPECT_EQ(serials.Get(7), 3u);
  EXPECT_EQ(serials.Get(6), 0u);
  EXPECT_EQ(serials.Get(8), 0u);
  serials.Grow(100);
  serials.Set(99, 5);
  serials.Set(7, 0);
  EXPECT_EQ(serials.Get(7), 0u);
  EXPECT_EQ(serials.Get(99), 5u);
  serials.Grow(10);  // never shrinks
  EXPECT_EQ(serials.size(), 100u);
  EXPECT_EQ(serials.Get(99), 5u);
  serials.Clear();
  EXPECT_EQ(serials.Get(99), 0u);
}

TEST(LiveDatabaseTest, AWriteIsInTheNextRead) {
  Database db(SmallLayers());
  EXPECT_EQ(db.Read()->live_count(), 0u);
  const BatchResult r = db.Upsert(R"({"id": "a", "city": "Pune"})"
                                  "\n"
                                  R"({"id": "b", "city": "Mumbai"})"
                                  "\n"
                                  R"({"id": "c", "city": "pune"})");
  EXPECT_EQ(r.accepted, 3u);
  EXPECT_TRUE(r.rejected.empty());
  EXPECT_EQ(Ids(db, City("PUNE")), (std::vector<std::string>{"a", "c"}));
  ASSERT_TRUE(db.Patch("b", R"({"city": "Pune"})").ok());
  EXPECT_EQ(Ids(db, City("pune")), (std::vector<std::string>{"a", "b", "c"}));
}

// While the newest layer holds every profile, each write builds it from
// the store (Layer::BuildOfStore) when they fill most of the row space, and
// from a list of entries once deletes have emptied most of it: either way
// each profile is found by id, by identity and by a rule, and no deleted
// one is, the last row's included.
TEST(LiveDatabaseTest, ALayerOfEveryProfileHoldsThemAfterDeletesAtTheEnd) {
  Database db;  // a newest layer of 128 profiles: it never freezes here
  std::string ndjson;
  for (int i = 0; i < 10; ++i) {
    const std::string n = std::to_string(i);
    ndjson += R"({"id": "p)" + n + R"(", "identities": {"email": "p)" + n +
              R"(@x.io"}, "city": "Pune"})" + "\n";
  }
  ASSERT_EQ(db.Upsert(ndjson).accepted, 10u);
  auto expect_alive = [&](const std::vector<std::string>& alive) {
    const auto snapshot = db.Read();
    for (int i = 0; i < 10; ++i) {
      const std::string id = "p" + std::to_string(i);
      const bool is = std::find(alive.begin(), alive.end(), id) != alive.end();
      EXPECT_EQ(snapshot->HasProfile(id), is) << id;
      EXPECT_EQ(snapshot->ProfileByIdentity("email", id + "@x.io").has_value(),
                is)
          << id;
    }
    EXPECT_EQ(Ids(db, City("Pune")), alive);
  };
  ASSERT_TRUE(db.Delete("p9").ok());  // 9 profiles over 9 rows
  expect_alive({"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8"});
  for (const char* id : {"p0", "p1", "p2", "p3", "p4", "p8"}) {
    ASSERT_TRUE(db.Delete(id).ok());
  }
  // 3 profiles over 8 rows: built from their entries.
  expect_alive({"p5", "p6", "p7"});
  ASSERT_TRUE(db.Patch("p6", R"({"city": "Delhi"})").ok());
  EXPECT_EQ(Ids(db, City("Pune")), (std::vector<std::string>{"p5", "p7"}));
  EXPECT_EQ(Ids(db, City("Delhi")), (std::vector<std::string>{"p6"}));
}

TEST(LiveDatabaseTest, ABadRecordIsReportedAndTheRestApplied) {
  Database db(SmallLayers());
  const BatchResult r = db.Upsert(R"({"id": "a", "orders": 3})"
                                  "\n"
                                  R"({"id": "b", "orders": "many"})"
                                  "\n"
                                  "\n"
                                  R"({"id": "c", "orders": 1})");
  EXPECT_EQ(r.accepted, 2u);
  ASSERT_EQ(r.rejected.size(), 1u);
  EXPECT_EQ(r.rejected[0].line, 2u);
  EXPECT_EQ(r.rejected[0].id, "b");
  EXPECT_EQ(Count(db, kEveryone), 2u);
}

TEST(LiveDatabaseTest, AReplacedProfileKeepsItsRowAndARecreatedOneDoesNot) {
  Database db(SmallLayers());
  db.Upsert(R"({"id": "a"})"
            "\n"
            R"({"id": "b"})"
            "\n"
            R"({"id": "c"})");
  db.Upsert(R"({"id": "a", "city": "Pune"})");
  EXPECT_EQ(Ids(db, kEveryone), (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_TRUE(db.Delete("a").ok());
  EXPECT_EQ(Ids(db, kEveryone), (std::vector<std::string>{"b", "c"}));
  db.Upsert(R"({"id": "a"})");
  EXPECT_EQ(Ids(db, kEveryone), (std::vector<std::string>{"b", "c", "a"}));
  EXPECT_EQ(db.Delete("zz").code(), ErrorCode::kNotFound);
}

TEST(LiveDatabaseTest, AnswersHoldAcrossLayersAndMerges) {
  Database db(SmallLayers());
  // Thirty profiles written one at a time fill several layers.
  for (int i = 0; i < 30; ++i) {
    db.Upsert(R"({"id": "p)" + std::to_string(i) + R"(", "n": )" +
              std::to_string(i) + R"(, "city": ")" +
              (i % 3 == 0 ? "Pune" : "Nagpur") + R"("})");
  }
  EXPECT_GT(db.Read()->Layers().size(), 2u);
  const std::string rule =
      R"({"all": [{"field": "n", "op": "gte", "value": 10}, )" + City("pune") +
      "]}";
  const std::vector<std::string> expected = {"p12", "p15", "p18",
                                             "p21", "p24", "p27"};
  EXPECT_EQ(Ids(db, rule), expected);
  // Rewrite some rows so that older layers hold dead copies.
  db.Patch("p12", R"({"city": "Nagpur"})");
  db.Patch("p13", R"({"city": "Pune"})");
  db.Delete("p27");
  const std::vector<std::string> after = {"p13", "p15", "p18", "p21", "p24"};
  EXPECT_EQ(Ids(db, rule), after);
  db.MergeNow();
  EXPECT_GT(db.merges_done(), 0u);
  EXPECT_EQ(Ids(db, rule), after);
  EXPECT_EQ(Count(db, rule), after.size());
  EXPECT_EQ(Count(db, kEveryone), 29u);
}

size_t LayerBytes(const Database& db) {
  size_t bytes = 0;
  for (const Snapshot::LayerInfo& layer : db.Read()->Layers()) {
    bytes += layer.bytes;
  }
  return bytes;
}

// Profiles p0 to p39 in two batches of 20 (a layer each): in Pune when i
// is even, else in Nagpur, with the members `more(i)` gives; p10 placed an
// order on 1 November.
void UpsertFortyInTwoBatches(Database& db,
                             const std::function<std::string(int)>& more) {
  for (int batch = 0; batch < 2; ++batch) {
    std::string text;
    for (int i = batch * 20; i < batch * 20 + 20; ++i) {
      text +=
          R"({"id": "p)" + std::to_string(i) + R"(", "city": ")" +
          (i % 2 == 0 ? "Pune" : "Nagpur") + "\"" + more(i) +
          (i == 10 ? R"(, "events": [{"name": "order", "at": "2026-11-01"}])"
                   : "") +
          "}\n";
    }
    ASSERT_EQ(db.Upsert(text).accepted, 20u);
  }
}

TEST(LiveDatabaseTest, ARuleCountedAgainIsCountedFromItsRowsKept) {
  Database db(SmallLayers());
  // Forty profiles, signed up a day apart up to 20 November, in two
  // batches and a write: two layers and the newest.
  UpsertFortyInTwoBatches(db, [](int i) {
    const int day = 20 - i % 20;  // 20 November back to 1 November
    return R"(, "signed_up": "2026-)" + std::string(i < 20 ? "11-" : "10-") +
           (day < 10 ? "0" : "") + std::to_string(day) + "\"";
  });
  ASSERT_TRUE(db.Patch("p39", R"({"n": 1})").ok());
  ASSERT_GE(db.Read()->Layers().size(), 3u);

  const std::string pune = City("Pune");
  EXPECT_EQ(CountAt(db, pune, kNow), 20u);
  const size_t before = LayerBytes(db);
  EXPECT_EQ(CountAt(db, pune, kNow), 20u);  // the second count keeps rows
  EXPECT_GT(LayerBytes(db), before);
  // Rows rewritten and deleted in the layers that keep them.
  ASSERT_TRUE(db.Patch("p0", R"({"city": "Nagpur"})").ok());
  ASSERT_TRUE(db.Patch("p21", R"({"city": "Pune"})").ok());
  ASSERT_TRUE(db.Delete("p2").ok());
  ASSERT_TRUE(db.Delete("p3").ok());
  EXPECT_EQ(CountAt(db, pune, kNow), 19u);
  EXPECT_EQ(CountAt(db, pune, kNow, 1), 19u);

  // Signed up in the last ten days: at kNow 11 to 20 November, five days
  // later 16 to 20 November; p2 and p3 are gone.
  const std::string recent =
      R"({"field": "signed_up", "op": "within_last", "value": "10d"})";
  constexpr int64_t kFiveDaysMs = 5 * 24 * 3600 * 1000LL;
  EXPECT_EQ(CountAt(db, recent, kNow), 8u);
  EXPECT_EQ(CountAt(db, recent, kNow), 8u);
  EXPECT_EQ(CountAt(db, recent, kNow + kFiveDaysMs), 3u);
  EXPECT_EQ(CountAt(db, recent, kNow + kFiveDaysMs), 3u);
  EXPECT_EQ(CountAt(db, recent, kNow), 8u);

  // An event rule kept, then events appended to rows of the layers that
  // kept it: the event layers answer for those rows from then on.
  const std::string ordered = R"({"event": "order"})";
  EXPECT_EQ(CountAt(db, ordered, kNow), 1u);
  EXPECT_EQ(CountAt(db, ordered, kNow), 1u);
  ASSERT_EQ(db.AppendEvents(R"({"id": "p5", "name": "order", "at": )"
                            R"("2026-11-19T00:00:00Z"})"
                            "\n"
                            R"({"id": "p25", "name": "order", "at": )"
                            R"("2026-11-19T00:00:00Z"})")
                .accepted,
            2u);
  EXPECT_EQ(CountAt(db, ordered, kNow), 3u);
  EXPECT_EQ(CountAt(db, ordered, kNow, 1), 3u);

  db.MergeNow();
  EXPECT_EQ(CountAt(db, pune, kNow), 19u);
  EXPECT_EQ(CountAt(db, recent, kNow + kFiveDaysMs), 3u);
  EXPECT_EQ(CountAt(db, ordered, kNow), 3u);
}

// Where layers hold stale rows, whose event conditions the event layers
// answer, a rule with one keeps its rows for the events of the version it
// was counted on: writes that leave events alone keep them, and events
// appended, or rows holding appended events written whole, start anew.
TEST(LiveDatabaseTest, EventRulesKeepRowsOverStaleRowsUntilEventsChange) {
  Database db(SmallLayers());
  UpsertFortyInTwoBatches(db, [](int) { return std::string(); });
  ASSERT_TRUE(db.Patch("p0", R"({"n": 1})").ok());  // the base keeps rows
  auto order = [&](const std::string& id, const std::string& day) {
    ASSERT_EQ(db.AppendEvents(R"({"id": ")" + id +
                              R"(", "name": "order", "at": "2026-11-)" + day +
                              R"(T00:00:00Z"})")
                  .accepted,
              1u)
        << id;
  };
  order("p4", "18");   // stale in the base
  order("p25", "19");  // stale in the second layer
  for (const Snapshot::LayerInfo& layer : db.Read()->Layers()) {
    if (!layer.events && layer.size > 1) {
      EXPECT_GT(layer.stale, 0u);
    }
  }

  const std::string ordered = R"({"event": "order"})";
  const std::string pune_ordered =
      R"({"all": [{"event": "order", "within_last": "30d"}, )" + City("Pune") +
      "]}";
  const uint64_t epoch = db.Read()->event_epoch();
  EXPECT_EQ(CountAt(db, ordered, kNow), 3u);
  EXPECT_EQ(CountAt(db, pune_ordered, kNow), 2u);  // p4 and p10
  const size_t before = LayerBytes(db);
  EXPECT_EQ(CountAt(db, ordered, kNow), 3u);
  EXPECT_EQ(CountAt(db, pune_ordered, kNow), 2u);
  EXPECT_GT(LayerBytes(db), before);  // kept where every row is stale

  // Writes that leave events alone keep the epoch and the rows kept.
  ASSERT_TRUE(db.Patch("p6", R"({"city": "Surat"})").ok());
  ASSERT_TRUE(db.Delete("p8").ok());
  EXPECT_EQ(db.Read()->event_epoch(), epoch);
  EXPECT_EQ(CountAt(db, ordered, kNow), 3u);
  EXPECT_EQ(CountAt(db, pune_ordered, kNow), 2u);

  // A row holding appended events, written whole, leaves its event layer.
  ASSERT_TRUE(db.Patch("p4", R"({"city": "Surat"})").ok());
  EXPECT_GT(db.Read()->event_epoch(), epoch);
  EXPECT_EQ(CountAt(db, ordered, kNow), 3u);
  EXPECT_EQ(CountAt(db, pune_ordered, kNow), 1u);
  EXPECT_EQ(CountAt(db, pune_ordered, kNow), 1u);
  ASSERT_TRUE(db.Delete("p25").ok());
  EXPECT_EQ(CountAt(db, ordered, kNow), 2u);
  EXPECT_EQ(CountAt(db, ordered, kNow), 2u);

  // Events appended to rows of layers that kept rows at the epoch before.
  order("p12", "17");
  order("p31", "16");
  EXPECT_EQ(CountAt(db, ordered, kNow), 4u);
  EXPECT_EQ(CountAt(db, pune_ordered, kNow), 2u);  // p10 and p12
  EXPECT_EQ(CountAt(db, ordered, kNow), 4u);
  EXPECT_EQ(CountAt(db, pune_ordered, kNow), 2u);

  db.MergeNow();
  EXPECT_EQ(CountAt(db, ordered, kNow), 4u);
  EXPECT_EQ(CountAt(db, pune_ordered, kNow), 2u);
  EXPECT_EQ(CountAt(db, pune_ordered, kNow, 10), 2u);
}

// A rule's kept rows serve every clock unless its dates are relative to
// now (or a window ends at now): then each clock keeps its own.
TEST(LiveDatabaseTest, KeptRowsNameTheClockOnlyWhenTheRuleReadsIt) {
  Database db(SmallLayers());
  for (int batch = 0; batch < 2; ++batch) {
    std::string text;
    for (int i = batch * 10; i < batch * 10 + 10; ++i) {
      text += R"({"id": "p)" + std::to_string(i) +
              R"(", "signed_up": "2026-11-)" + std::to_string(10 + i % 10) +
              "\"}\n";
    }
    ASSERT_EQ(db.Upsert(text).accepted, 10u);
  }
  ASSERT_TRUE(db.Delete("p0").ok());  // the base keeps rows once written
  constexpr int64_t kDayMs = 24 * 3600 * 1000LL;
  auto kept_after_counts = [&](const std::string& rule, int64_t now,
                               uint64_t count) {
    EXPECT_EQ(CountAt(db, rule, now), count) << rule;
    EXPECT_EQ(CountAt(db, rule, now), count) << rule;
    return LayerBytes(db);
  };
  const std::string absolute =
      R"({"field": "signed_up", "op": "after", "value": "2026-11-14"})";
  const size_t before = LayerBytes(db);
  const size_t kept = kept_after_counts(absolute, kNow, 10);
  EXPECT_GT(kept, before);
  EXPECT_EQ(kept_after_counts(absolute, kNow + kDayMs, 10), kept);

  const std::string relative =
      R"({"field": "signed_up", "op": "after", "value": "now-6d"})";
  const size_t kept_now = kept_after_counts(relative, kNow, 10);
  EXPECT_GT(kept_now, kept);
  EXPECT_GT(kept_after_counts(relative, kNow + kDayMs, 8), kept_now);
}

// A count of an event rule, asked again after events were appended,
// amends what each layer kept for the rows appended to alone: the same
// count as the rule evaluated anew, whether those rows now match, no
// longer match, or died since, in the base and in a layer above it.
TEST(LiveDatabaseTest, CountsAmendWhatLayersKeptForTheRowsAppendedTo) {
  Database db(SmallLayers());
  auto profile = [](int i) {
    return R"({"id": "p)" + std::to_string(i) + R"(", "city": ")" +
           (i % 2 == 1 ? "Pune" : "Agra") +
           R"(", "events": [{"name": "order", "at": "2026-11-01"},)"
           R"( {"name": "opened_email", "at": "2026-11-01"}]})"
           "\n";
  };
  std::string batch;
  for (int i = 0; i < 400; ++i) batch += profile(i);
  ASSERT_EQ(db.Upsert(batch).accepted, 400u);
  db.MergeNow();
  ASSERT_EQ(db.Read()->Layers()[0].size, 400u);  // the base
  // A row dead in the base, and a layer above it of seven profiles.
  batch = profile(0);
  for (int i = 400; i < 406; ++i) batch += profile(i);
  ASSERT_EQ(db.Upsert(batch).accepted, 7u);

  const std::string rules[] = {
      R"({"all": [{"field": "city", "op": "eq", "value": "Pune"},
                  {"event": "order", "count": {"gte": 2}}]})",
      R"({"not": {"event": "order", "count": {"gte": 2}}})",
  };
  int fresh = 0;  // the same rule's text, spaced apart: never kept
  auto expect_counts_agree = [&](const Snapshot& version,
                                 const std::string& when) {
    for (const std::string& rule : rules) {
      const std::string anew = rule + std::string(++fresh, ' ');
      EXPECT_EQ(CountOn(version, rule), CountOn(version, anew))
          << rule << " " << when;
    }
  };
  // Counts that amended kept rows, in the base and above it.
  auto amended = [&db](bool base) {
    uint64_t n = 0;
    for (const Snapshot::LayerInfo& layer : db.Read()->Layers()) {
      if ((layer.size == 400) == base) n += layer.amended;
    }
    return n;
  };
  // Counts agree after `write`, the base amending (and the layer above it
  // too, with `above`) or not.
  auto step = [&](const std::string& when, const std::function<void()>& write,
                  std::optional<bool> amends, bool above = false) {
    const uint64_t base_before = amended(true), above_before = amended(false);
    write();
    expect_counts_agree(*db.Read(), when);
    if (amends) {
      EXPECT_EQ(amended(true) > base_before, *amends) << when;
    }
    if (above) {
      EXPECT_GT(amended(false), above_before) << when;
    }
  };
  auto append = [&db](std::initializer_list<int> ids) {
    std::string events;
    for (int i : ids) {
      events += R"({"id": "p)" + std::to_string(i) +
                R"(", "name": "order", "at": "2026-11-02"})"
                "\n";
    }
    EXPECT_EQ(db.AppendEvents(events).accepted, ids.size());
  };
  // Rows kept while a layer has stale rows are of an event epoch.
  append({9, 403});
  for (const std::string& rule : rules) {  // kept on the second count
    CountOn(*db.Read(), rule);
    CountOn(*db.Read(), rule);
  }
  const std::shared_ptr<const Snapshot> kept = db.Read();
  expect_counts_agree(*kept, "kept");

  // In the base, both cities, and above it.
  step(
      "appended to",
      [&] {
        append({1, 2, 401});
      },
      true, true);
  // The version before, counted after the one that amended its rows.
  expect_counts_agree(*kept, "kept, counted again");
  step(
      "appended to again",
      [&] {
        append({3, 3, 1});
      },
      true);
  step(
      "appended to once more", [&] { append({5}); }, true);
  // Dead once its bits were flipped: they are left out as flipped.
  step(
      "written whole",
      [&] {
        ASSERT_EQ(db.Upsert(R"({"id": "p5", "city": "Agra"})").accepted, 1u);
      },
      true);

  // Rows appended to past what amending pays: the rule is evaluated.
  step(
      "appended to all",
      [&] {
        std::string events;
        for (int i = 6; i < 400; ++i) {
          events += R"({"id": "p)" + std::to_string(i) +
                    R"(", "name": "order", "at": "2026-11-03"})"
                    "\n";
        }
        ASSERT_EQ(db.AppendEvents(events).accepted, 394u);
      },
      false);
  step(
      "appended to after", [&] { append({7}); }, true);
  // Events of names the rules do not name, or name in another case.
  auto append_named = [&db](int i, const std::string& name) {
    const std::string event = R"({"id": "p)" + std::to_string(i) +
                              R"(", "name": ")" + name +
                              R"(", "at": "2026-11-04"})";
    EXPECT_EQ(db.AppendEvents(event).accepted, 1u);
  };
  step(
      "another event", [&] { append_named(11, "opened_email"); }, true);
  // A name the schema may not know yet, which the count then binds anew.
  step(
      "another case", [&] { append_named(13, "ORDER"); }, std::nullopt);
  // Pune's rows below 400 but p5, now in Agra, and p401 and p403.
  EXPECT_EQ(CountOn(*db.Read(), rules[0]), 201u);
}

// Rows amended again and again agree with a plain bitmap of the same
// flips: their bits, their count, and their count alive as rows die,
// through the flips kept apart and then written into a copy of the words.
TEST(LiveDatabaseTest, AmendedRowsAgreeWithTheirFlipsApplied) {
  constexpr uint32_t kRows = 1u << 16;  // one shard: 1,024 words
  auto words = std::make_shared<std::vector<uint64_t>>(kShardWords);
  std::vector<bool> want(kRows);
  for (uint32_t r = 0; r < kRows; r += 3) {
    (*words)[r / 64] |= uint64_t{1} << (r % 64);
    want[r] = true;
  }
  auto rows = std::make_shared<MatchedRows::Rows>();
  rows->words = words;
  rows->count = (kRows + 2) / 3;
  rows->event_epoch = 1;
  ExcludedMatches memo;
  // Dead rows only grow, and a dead row is never flipped again.
  auto dead = std::make_shared<Bitmap>();
  for (uint32_t r = 0; r < kRows; r += 1000) dead->Add(r);
  auto alive_wanted = [&] {
    uint64_t n = 0;
    for (uint32_t r = 0; r < kRows; ++r) n += want[r] && !dead->contains(r);
    return n;
  };
  EXPECT_EQ(rows->CountAlive(dead, memo), alive_wanted());
  std::shared_ptr<const MatchedRows::Rows> at = rows;
  for (uint64_t epoch = 2; epoch < 12; ++epoch) {
    // Five flips an epoch, some of them rows flipped before.
    std::vector<uint32_t> flips;
    for (uint32_t k = 0; k < 5; ++k) {
      const uint32_t r = (epoch * 7919 + k * 104729) % 4001 + 1;
      if (!dead->contains(r)) flips.push_back(r);
    }
    std::sort(flips.begin(), flips.end());
    flips.erase(std::unique(flips.begin(), flips.end()), flips.end());
    for (uint32_t r : flips) want[r] = !want[r];
    std::shared_ptr<MatchedRows::Rows> next =
        at->Amended(epoch, flips, dead, memo);
    next->Seed(memo);
    at = next;
    EXPECT_EQ(*at->event_epoch, epoch);
    uint64_t count = 0;
    for (uint32_t r = 0; r < kRows; ++r) {
      ASSERT_EQ(at->Test(r), want[r]) << "row " << r << " epoch " << epoch;
      count += want[r];
    }
    EXPECT_EQ(at->count, count);
    EXPECT_EQ(at->CountAlive(dead, memo), alive_wanted());
    // Rows die, a flipped one among them: counted from the memo seeded.
    auto more = std::make_shared<Bitmap>(roaring_bitmap_copy(dead->get()));
    if (!flips.empty()) more->Add(flips.front());
    more->Add(static_cast<uint32_t>(5000 + epoch));
    dead = std::move(more);
    EXPECT_EQ(at->CountAlive(dead, memo), alive_wanted());
    EXPECT_LE(at->flipped.size() * 64, at->words->size());
  }
  // Past a row flipped in 4,096, the flips went into words of their own.
  EXPECT_NE(at->words, words);

  // Two rows amended from the same: one flips a row that dies before the
  // other is amended, which keeps its bit. Each counts its own rows alive.
  const uint32_t row = 6003;
  ASSERT_FALSE(dead->contains(row));
  std::vector<bool> first = want, second = want;
  first[row] = !first[row];
  const std::shared_ptr<const MatchedRows::Rows> a =
      at->Amended(20, std::vector<uint32_t>{row}, dead, memo);
  auto with_row = std::make_shared<Bitmap>(roaring_bitmap_copy(dead->get()));
  with_row->Add(row);
  second[6004] = !second[6004];
  const std::shared_ptr<const MatchedRows::Rows> b =
      at->Amended(21, std::vector<uint32_t>{6004}, with_row, memo);
  a->Seed(memo);
  b->Seed(memo);
  auto alive_in = [&](const std::vector<bool>& bits, const Bitmap& d) {
    uint64_t n = 0;
    for (uint32_t r = 0; r < kRows; ++r) n += bits[r] && !d.contains(r);
    return n;
  };
  auto later = std::make_shared<Bitmap>(roaring_bitmap_copy(with_row->get()));
  later->Add(6004);
  later->Add(7777);
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(a->CountAlive(later, memo), alive_in(first, *later));
    EXPECT_EQ(b->CountAlive(later, memo), alive_in(second, *later));
  }
}

// Kept on its second count, for its clock when binding read it; and rules
// asked in turn, more of them than are kept, leave the first ones kept
// rather than push each other out, until those go unasked.
TEST(LiveDatabaseTest, MatchedRowsKeepRulesAskedAgainWhileThereIsRoom) {
  MatchedRows kept;
  const auto schema = std::make_shared<const Schema>();
  const auto other_schema = std::make_shared<const Schema>();
  auto rows = [&](const std::string& rule, std::optional<int64_t> now) {
    auto r = std::make_shared<MatchedRows::Rows>();
    r->rule = rule;
    r->schema = schema;
    r->now_ms = now;
    return r;
  };
  auto find = [&](const std::string& rule, int64_t now = 1) {
    return kept.Find(MatchedRows::RuleText(rule), schema.get(), now);
  };
  EXPECT_FALSE(find("a").keep);  // asked once
  ASSERT_TRUE(find("a").keep);
  kept.Keep(rows("a", 1));
  EXPECT_NE(find("a").rows, nullptr);
  EXPECT_EQ(find("a", 2).rows, nullptr);  // bound at another clock
  EXPECT_EQ(kept.Find(MatchedRows::RuleText("a"), other_schema.get(), 1).rows,
            nullptr);
  // A rule that reads the clock is kept when asked again at the same one.
  EXPECT_FALSE(find("c", 7).keep_at_now);
  EXPECT_TRUE(find("c", 8).keep);
  EXPECT_FALSE(find("c", 9).keep_at_now);
  EXPECT_TRUE(find("c", 9).keep_at_now);
  find("b");
  ASSERT_TRUE(find("b").keep);
  kept.Keep(rows("b", std::nullopt));
  EXPECT_NE(find("b", 5).rows, nullptr);  // its binding read no clock

  // Fill the room, then ask a rule more.
  for (size_t i = 2; i < MatchedRows::kMaxRules; ++i) {
    const std::string rule = "r" + std::to_string(i);
    find(rule);
    ASSERT_TRUE(find(rule).keep) << rule;
    kept.Keep(rows(rule, std::nullopt));
  }
  find("z");
  EXPECT_FALSE(find("z").keep);
  EXPECT_NE(find("a").rows, nullptr);
  // Once the others go unasked long enough, one makes room.
  for (size_t i = 0; i < MatchedRows::kMaxAsked; ++i) find("z");
  ASSERT_TRUE(find("z").keep);
  kept.Keep(rows("z", std::nullopt));
  EXPECT_NE(find("z").rows, nullptr);
  EXPECT_EQ(find("b").rows, nullptr);  // the least recently found went
  EXPECT_NE(find("a").rows, nullptr);
}

TEST(LiveDatabaseTest, AttributesNewerThanALayerAreAbsentThere) {
  Database db(SmallLayers());
  for (int i = 0; i < 8; ++i) {
    db.Upsert(R"({"id": "old)" + std::to_string(i) + R"("})");
  }
  db.Upsert(R"({"id": "new", "score": 5})");
  EXPECT_EQ(Ids(db, R"({"field": "score", "op": "gte", "value": 1})"),
            (std::vector<std::string>{"new"}));
  EXPECT_EQ(Count(db, R"({"field": "score", "op": "not_exists"})"), 8u);
  EXPECT_EQ(Count(db, R"({"not": {"field": "score", "op": "eq", "value": 5}})"),
            8u);
}

TEST(LiveDatabaseTest, ASnapshotNeverChanges) {
  Database db(SmallLayers());
  db.Upsert(R"({"id": "a", "city": "Pune"})");
  const std::shared_ptr<const Snapshot> before = db.Read();
  db.Upsert(R"({"id": "b", "city": "Pune"})");
  db.Delete("a");
  QueryRequest request;
  request.rule_json = City("pune");
  request.now_ms = kNow;
  EXPECT_EQ(before->Query(request)->ids, (std::vector<std::string>{"a"}));
  EXPECT_EQ(db.Read()->Query(request)->ids, (std::vector<std::string>{"b"}));
  ASSERT_TRUE(before->Profile("a").has_value());
  EXPECT_FALSE(db.Read()->Profile("a").has_value());
}

TEST(LiveDatabaseTest, ACursorNeitherRepeatsNorSkipsAcrossWrites) {
  Database db(SmallLayers());
  for (int i = 0; i < 20; ++i) {
    db.Upsert(R"({"id": "p)" + std::to_string(i) + R"(", "city": "Pune"})");
  }
  ASSERT_TRUE(
      db.SaveSegment("pune",
                     {SavedSegment::Kind::kDynamic, "", City("pune"), {}},
                     nullptr, kNow)
          .ok());
  MembersRequest request;
  request.segment = "pune";
  request.limit = 6;
  request.now_ms = kNow;
  Result<MembersPage> page = db.Read()->Members(request);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->count, 20u);
  ASSERT_EQ(page->ids.size(), 6u);
  EXPECT_EQ(page->ids.back(), "p5");
  // Between pages: a member ahead leaves, one behind changes, one new.
  db.Patch("p7", R"({"city": "Nagpur"})");
  db.Patch("p2", R"({"city": "Delhi"})");
  db.Upsert(R"({"id": "late", "city": "Pune"})");
  db.MergeNow();
  std::vector<std::string> rest;
  request.cursor = page->next_cursor;
  while (!request.cursor.empty()) {
    page = db.Read()->Members(request);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    rest.insert(rest.end(), page->ids.begin(), page->ids.end());
    request.cursor = page->next_cursor;
  }
  const std::vector<std::string> expected = {"p6",  "p8",  "p9",  "p10", "p11",
                                             "p12", "p13", "p14", "p15", "p16",
                                             "p17", "p18", "p19", "late"};
  EXPECT_EQ(rest, expected);
  request.cursor = "not a cursor";
  EXPECT_FALSE(db.Read()->Members(request).ok());
}

// Every member of `rule`, a page of `limit` at a time.
std::vector<std::string> Paged(const Snapshot& snapshot,
                               const std::string& rule, size_t limit) {
  MembersRequest request;
  request.rule_json = rule;
  request.limit = limit;
  request.count = false;
  request.now_ms = kNow;
  std::vector<std::string> ids;
  do {
    Result<MembersPage> page = snapshot.Members(request);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    if (!page.ok()) break;
    ids.insert(ids.end(), page->ids.begin(), page->ids.end());
    request.cursor = page->next_cursor;
  } while (!request.cursor.empty());
  return ids;
}

// Loads profiles p0..p{n-1}, each in Pune or Nagpur, merges them into the
// base, then rewrites every `step`-th to `city`: layers above the base,
// their rows spread over the row space.
void LoadAndRewriteSpread(Database& db, int n, int step,
                          const std::string& city) {
  std::string batch;
  for (int i = 0; i < n; ++i) {
    batch += R"({"id": "p)" + std::to_string(i) + R"(", "city": ")" +
             (i % 3 == 0 ? "Pune" : "Nagpur") + "\"}\n";
  }
  ASSERT_EQ(db.Upsert(batch).accepted, static_cast<size_t>(n));
  db.MergeNow();
  for (int i = 0; i < n; i += step) {
    db.Patch("p" + std::to_string(i), R"({"city": ")" + city + "\"}");
  }
}

TEST(LiveDatabaseTest, LongPagesAcrossLayersKeepRowOrder) {
  // A long page is found in the largest layer first, and the others stop
  // at its last member: pages of 1,500 must give what pages of 7 give.
  Database db(SmallLayers());
  LoadAndRewriteSpread(db, 4000, 37, "Pune");
  db.Upsert(R"({"id": "late", "city": "Pune"})");
  const std::shared_ptr<const Snapshot> snapshot = db.Read();
  ASSERT_GT(snapshot->Layers().size(), 3u);
  for (const std::string& rule : {std::string(kEveryone), City("pune")}) {
    const std::vector<std::string> short_pages = Paged(*snapshot, rule, 7);
    EXPECT_EQ(Paged(*snapshot, rule, 1500), short_pages) << rule;
    EXPECT_EQ(Paged(*snapshot, rule, 1024), short_pages) << rule;
    EXPECT_EQ(short_pages.size(), Count(db, rule)) << rule;
  }
}

// The members of a long page are found and written in chunks side by
// side: each must be written as a page of one writes it, from the layer
// that holds it, or from its event layer when events were appended.
TEST(LiveDatabaseTest, LongPagesWriteEachMemberAsAPageOfOne) {
  Database db(SmallLayers());
  LoadAndRewriteSpread(db, 3000, 29, "Surat");
  std::string events;
  for (int i = 0; i < 3000; i += 7) {
    events += R"({"id": "p)" + std::to_string(i) +
              R"(", "name": "visit", "at": "2026-11-19T00:00:00Z"})" + "\n";
  }
  ASSERT_GT(db.AppendEvents(events).accepted, 400u);
  const std::shared_ptr<const Snapshot> snapshot = db.Read();
  ASSERT_GT(snapshot->Layers().size(), 2u);
  auto written = [&](size_t limit) {
    MembersRequest request;
    request.rule_json = kEveryone;
    request.limit = limit;
    request.count = false;
    request.now_ms = kNow;
    request.fields = {"id", "city", "events"};
    request.ndjson = true;
    std::string all;
    do {
      Result<MembersPage> page = snapshot->Members(request);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok()) break;
      all += page->members_json;
      request.cursor = page->next_cursor;
    } while (!request.cursor.empty());
    return all;
  };
  const std::string one_at_a_time = written(1);
  EXPECT_EQ(written(3000), one_at_a_time);
  EXPECT_EQ(written(2500), one_at_a_time);
  EXPECT_NE(one_at_a_time.find(R"("city":"Surat")"), std::string::npos);
  EXPECT_NE(one_at_a_time.find(R"("name":"visit")"), std::string::npos);
}

TEST(LiveDatabaseTest, StaticSegmentsFollowProfilesNotIds) {
  Database db(SmallLayers());
  db.Upsert(R"({"id": "a"})"
            "\n"
            R"({"id": "b"})"
            "\n"
            R"({"id": "c"})");
  std::vector<std::string> unknown;
  SegmentDefinition list;
  list.kind = SavedSegment::Kind::kStatic;
  list.ids = {"b", "x", "c", "x"};
  Result<SegmentInfo> saved = db.SaveSegment("vip", list, &unknown, kNow);
  ASSERT_TRUE(saved.ok()) << saved.status().ToString();
  EXPECT_EQ(saved->count, 2u);
  EXPECT_EQ(unknown, (std::vector<std::string>{"x"}));
  // A merge moves b's membership to a; a delete drops c's for good.
  ASSERT_TRUE(db.Merge("a", "b").ok());
  ASSERT_TRUE(db.Delete("c").ok());
  db.Upsert(R"({"id": "c"})");
  EXPECT_EQ(Ids(db, R"({"segment": "vip"})"), (std::vector<std::string>{"a"}));
  EXPECT_TRUE(*db.Read()->Contains("vip", "a", kNow));
  EXPECT_FALSE(*db.Read()->Contains("vip", "c", kNow));
  const std::vector<std::string> add = {"c", "y"}, remove = {"a"};
  Result<StaticEdit> edit = db.EditMembers("vip", add, remove);
  ASSERT_TRUE(edit.ok());
  EXPECT_EQ(edit->count, 1u);
  EXPECT_EQ(edit->unknown_ids, (std::vector<std::string>{"y"}));
  EXPECT_EQ(Ids(db, R"({"segment": "vip"})"), (std::vector<std::string>{"c"}));
}

TEST(LiveDatabaseTest, DerivedSegmentsRefuseCyclesAndDeletesInUse) {
  Database db(SmallLayers());
  db.Upsert(R"({"id": "a", "city": "Pune", "orders": 6})"
            "\n"
            R"({"id": "b", "city": "Pune", "orders": 1})");
  auto dynamic = [](std::string rule) {
    return SegmentDefinition{SavedSegment::Kind::kDynamic, "", rule, {}};
  };
  ASSERT_TRUE(
      db.SaveSegment("pune", dynamic(City("pune")), nullptr, kNow).ok());
  Result<SegmentInfo> big =
      db.SaveSegment("big", dynamic(R"({"all": [{"segment": "pune"},
                          {"field": "orders", "op": "gte", "value": 5}]})"),
                     nullptr, kNow);
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_EQ(big->count, 1u);
  // pune -> big -> pune.
  EXPECT_EQ(
      db.SaveSegment("pune", dynamic(R"({"segment": "big"})"), nullptr, kNow)
          .status()
          .code(),
      ErrorCode::kConflict);
  EXPECT_EQ(
      db.SaveSegment("self", dynamic(R"({"segment": "self"})"), nullptr, kNow)
          .status()
          .code(),
      ErrorCode::kConflict);
  EXPECT_EQ(db.DeleteSegment("pune").code(), ErrorCode::kConflict);
  Result<SegmentInfo> bad = db.SaveSegment(
      "bad", dynamic(R"({"all": [{"field": "nope", "op": "exists"}]})"),
      nullptr, kNow);
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalid);
  EXPECT_EQ(bad.status().path(), "/all/0/field");
  EXPECT_EQ(
      db.SaveSegment("a/b", dynamic(kEveryone), nullptr, kNow).status().code(),
      ErrorCode::kMalformed);
  EXPECT_EQ(*db.Read()->SegmentsOf("a", kNow),
            (std::vector<std::string>{"big", "pune"}));
  EXPECT_EQ(*db.Read()->SegmentsOf("b", kNow),
            (std::vector<std::string>{"pune"}));
  ASSERT_TRUE(db.DeleteSegment("big").ok());
  ASSERT_TRUE(db.DeleteSegment("pune").ok());
  EXPECT_EQ(db.DeleteSegment("pune").code(), ErrorCode::kNotFound);
}

TEST(LiveDatabaseTest, ReportGroupsByValueWithOtherAndMissing) {
  Database db(SmallLayers());
  db.Upsert(R"({"id": "1", "city": "Pune", "tags": ["vip", "new"]})"
            "\n"
            R"({"id": "2", "city": "pune", "tags": ["vip"]})"
            "\n"
            R"({"id": "3", "city": "Mumbai"})"
            "\n"
            R"({"id": "4", "city": "Delhi", "tags": ["old"]})"
            "\n"
            R"({"id": "5"})");
  db.Upsert(R"({"id": "6", "city": "Mumbai", "tags": ["new"]})");
  ReportRequest request;
  request.group_by = "city";
  request.limit = 2;
  Result<ReportResult> r = db.Read()->Report(request);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->count, 6u);
  ASSERT_EQ(r->groups.size(), 2u);
  // Mumbai and Pune tie at 2: ascending value order.
  EXPECT_EQ(r->groups[0], (std::pair<std::string, uint64_t>{"\"Mumbai\"", 2}));
  EXPECT_EQ(r->groups[1], (std::pair<std::string, uint64_t>{"\"Pune\"", 2}));
  EXPECT_EQ(r->other, 1u);
  EXPECT_EQ(r->missing, 1u);
  request.group_by = "tags";
  request.limit = 1;
  r = db.Read()->Report(request);
  ASSERT_TRUE(r.ok());
  // new 2, vip 2, old 1: "new" first; other is member 4 alone.
  EXPECT_EQ(r->groups[0], (std::pair<std::string, uint64_t>{"\"new\"", 2}));
  EXPECT_EQ(r->other, 2u);  // 2 (vip only) and 4 (old)
  EXPECT_EQ(r->missing, 2u);
}

TEST(LiveDatabaseTest, ExplainCountsEveryNodeOverEveryone) {
  Database db(SmallLayers());
  db.Upsert(R"({"id": "1", "city": "Pune", "orders": 2})"
            "\n"
            R"({"id": "2", "city": "Pune"})"
            "\n"
            R"({"id": "3", "city": "Delhi", "orders": 7})");
  QueryRequest request;
  request.rule_json =
      R"({"all": [{"field": "city", "op": "eq", "value": "pune"},
                                  {"not": {"field": "orders", "op": "gt", "value": 5}}]})";
  request.explain = true;
  request.now_ms = kNow;
  Result<QueryResult> r = db.Read()->Query(request);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->explain.size(), 4u);
  EXPECT_EQ(r->explain[0].path, "");
  EXPECT_EQ(r->explain[0].count, 2u);
  EXPECT_EQ(r->explain[1].path, "/all/0");
  EXPECT_EQ(r->explain[1].count, 2u);
  EXPECT_EQ(r->explain[2].path, "/all/1");
  EXPECT_EQ(r->explain[2].count, 2u);
  EXPECT_EQ(r->explain[3].path, "/all/1/not");
  EXPECT_EQ(r->explain[3].count, 1u);
}

TEST(LiveDatabaseTest, ProfilesAreFoundByIdAndIdentity) {
  Database db(SmallLayers());
  db.Upsert(R"({"id": "a", "identities": {"whatsapp": "+91"}})");
  db.Upsert(R"({"id": "b", "name": "Asha Patil", "email": "asha@x.com"})");
  const auto snapshot = db.Read();
  ASSERT_TRUE(snapshot->ProfileByIdentity("whatsapp", "+91").has_value());
  EXPECT_NE(snapshot->ProfileByIdentity("whatsapp", "+91")->find("\"a\""),
            std::string::npos);
  EXPECT_FALSE(snapshot->ProfileByIdentity("whatsapp", "+92").has_value());
  Result<QueryResult> found = snapshot->Search("PATIL", 10, {});
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->ids, (std::vector<std::string>{"b"}));
  EXPECT_FALSE(snapshot->Search("", 10, {}).ok());
}

// A layer this large fills its id and identity tables beside its index
// build or, holding every profile there is (a first load), copies the
// store's (live/layer.cc): every profile is found both ways either way,
// and still in a version held while later writes delete one and give its
// identity to another.
TEST(LiveDatabaseTest, ALargeLayerFindsEveryProfileByIdAndIdentity) {
  constexpr int kProfiles = 70000;
  std::string ndjson;
  for (int i = 0; i < kProfiles; ++i) {
    ndjson += R"({"id": "p)" + std::to_string(i) +
              R"(", "identities": {"whatsapp": "+)" + std::to_string(i) + '"';
    if (i % 7 == 0) {
      ndjson += R"(, "email": "p)" + std::to_string(i) + R"(@x.com")";
    }
    ndjson +=
        R"(}, "city": ")" + std::string(i % 2 ? "Pune" : "Delhi") + "\"}\n";
  }
  for (const int others : {0, 8}) {  // 8: two full layers of 4
    SCOPED_TRACE(::testing::Message() << others << " profiles before");
    Database db(SmallLayers());
    for (int i = 0; i < others; ++i) {
      ASSERT_EQ(
          db.Upsert(R"({"id": "o)" + std::to_string(i) + R"("})").accepted, 1u);
    }
    const BatchResult loaded = db.Upsert(ndjson);
    ASSERT_EQ(loaded.accepted, uint64_t{kProfiles});
    const auto snapshot = db.Read();
    uint32_t largest = 0;
    for (const Snapshot::LayerInfo& layer : snapshot->Layers()) {
      if (!layer.events) largest = std::max(largest, layer.size);
    }
    ASSERT_EQ(largest, uint32_t{kProfiles});
    ASSERT_TRUE(db.Delete("p0").ok());
    ASSERT_EQ(
        db.Upsert(R"({"id": "q", "identities": {"whatsapp": "+0"}})").accepted,
        1u);
    for (int i = 0; i < kProfiles; ++i) {
      const std::string id = "p" + std::to_string(i);
      ASSERT_TRUE(snapshot->HasProfile(id)) << id;
      const std::optional<std::string> by_phone =
          snapshot->ProfileByIdentity("whatsapp", "+" + std::to_string(i));
      ASSERT_TRUE(by_phone.has_value()) << id;
      ASSERT_NE(by_phone->find("\"" + id + "\""), std::string::npos) << id;
      if (i % 7 == 0) {
        ASSERT_TRUE(
            snapshot->ProfileByIdentity("email", id + "@x.com").has_value())
            << id;
      }
    }
    EXPECT_FALSE(snapshot->HasProfile("p" + std::to_string(kProfiles)));
    EXPECT_FALSE(snapshot->HasProfile("q"));
    EXPECT_FALSE(snapshot->ProfileByIdentity("email", "p1@x.com").has_value());
    EXPECT_EQ(CountOn(*snapshot, City("Pune")), uint64_t{kProfiles / 2});
    const auto later = db.Read();
    EXPECT_FALSE(later->HasProfile("p0"));
    EXPECT_FALSE(later->ProfileByIdentity("email", "p0@x.com").has_value());
    const std::optional<std::string> moved =
        later->ProfileByIdentity("whatsapp", "+0");
    ASSERT_TRUE(moved.has_value());
    EXPECT_NE(moved->find("\"q\""), std::string::npos);
    EXPECT_TRUE(later->HasProfile("p1"));
  }
}

TEST(LiveDatabaseTest, EventsAppendToTheirProfiles) {
  Database db(SmallLayers());
  db.Upsert(R"({"id": "a"})"
            "\n"
            R"({"id": "b"})");
  const BatchResult r = db.AppendEvents(
      R"({"id": "a", "name": "order", "at": "2026-11-19T00:00:00Z"})"
      "\n"
      R"({"id": "zz", "name": "order", "at": "2026-11-19T00:00:00Z"})"
      "\n"
      R"({"id": "a", "name": "order", "at": "2026-11-18T00:00:00Z"})"
      "\n"
      R"({"id": "b", "name": "order", "at": "not a date"})"
      "\n"
      R"({"id": "zz", "name": "visit", "at": "2026-11-19T00:00:00Z"})");
  EXPECT_EQ(r.accepted, 2u);
  ASSERT_EQ(r.rejected.size(), 3u);
  EXPECT_EQ(r.rejected[0].line, 2u);
  EXPECT_EQ(r.rejected[1].line, 4u);
  EXPECT_EQ(r.rejected[2].line, 5u);
  EXPECT_EQ(r.rejected[2].id, "zz");
  EXPECT_EQ(r.rejected[2].error.path(), "/id");
  // One profile's events at one instant are kept in the order of their
  // lines, whatever lies between them.
  ASSERT_EQ(
      db.AppendEvents(
            R"({"id": "b", "name": "second", "at": "2026-11-20T00:00:00Z"})"
            "\n"
            R"({"id": "a", "name": "visit", "at": "2026-11-20T00:00:00Z"})"
            "\n"
            R"({"id": "b", "name": "first", "at": "2026-11-20T00:00:00Z"})")
          .accepted,
      3u);
  const std::optional<std::string> b = db.Read()->Profile("b");
  ASSERT_TRUE(b.has_value());
  EXPECT_LT(b->find("second"), b->find("first")) << *b;
  EXPECT_EQ(Ids(db, R"({"event": "order", "count": {"gte": 2}})"),
            (std::vector<std::string>{"a"}));
}

// Rows held stale by the layers, and rows alive in the event layers.
std::pair<uint64_t, uint64_t> StaleAndEventRows(const Database& db) {
  uint64_t stale = 0, events = 0;
  for (const Snapshot::LayerInfo& layer : db.Read()->Layers()) {
    stale += layer.stale;
    if (layer.events) events += layer.size - layer.dead;
  }
  return {stale, events};
}

TEST(LiveDatabaseTest, AppendedEventsAreIndexedBesideTheirProfile) {
  Database db(SmallLayers());
  std::string batch;
  for (int i = 0; i < 12; ++i) {
    batch += R"({"id": "p)" + std::to_string(i) + R"(", "city": ")" +
             (i % 2 == 0 ? "Pune" : "Nagpur") + R"(", "events": [)" +
             (i % 3 == 0 ? R"({"name": "order", "at": "2026-11-10"})" : "") +
             "]}\n";
  }
  ASSERT_EQ(db.Upsert(batch).accepted, 12u);
  db.MergeNow();
  auto append = [&](const std::string& id, const std::string& name,
                    const std::string& at) {
    ASSERT_EQ(db.AppendEvents(R"({"id": ")" + id + R"(", "name": ")" + name +
                              R"(", "at": ")" + at + R"("})")
                  .accepted,
              1u);
  };
  append("p0", "order", "2026-11-19T00:00:00Z");
  append("p1", "visit", "2026-11-19T00:00:00Z");  // a name never seen
  append("p2", "order", "2026-11-19T00:00:00Z");
  // The profiles stay alive in their layer: their events are elsewhere.
  EXPECT_EQ(StaleAndEventRows(db), (std::pair<uint64_t, uint64_t>(3, 3)));
  for (const Snapshot::LayerInfo& layer : db.Read()->Layers()) {
    EXPECT_EQ(layer.dead, 0u) << layer.serial;
  }
  const std::string two_orders = R"({"event": "order", "count": {"gte": 2}})";
  const std::string any_order = R"({"event": "order"})";
  const std::string visit = R"({"event": "visit"})";
  EXPECT_EQ(Ids(db, two_orders), (std::vector<std::string>{"p0"}));
  EXPECT_EQ(Ids(db, any_order),
            (std::vector<std::string>{"p0", "p2", "p3", "p6", "p9"}));
  EXPECT_EQ(Count(db, any_order), 5u);
  EXPECT_EQ(Ids(db, visit), (std::vector<std::string>{"p1"}));
  EXPECT_EQ(Count(db, R"({"event": "visit", "count": {"lt": 1}})"), 11u);
  EXPECT_EQ(Count(db, R"({"not": {"event": "order"}})"), 7u);
  EXPECT_EQ(Ids(db, R"({"all": [)" + City("pune") +
                        R"(, {"event": "order", "within_last": "2d"}]})"),
            (std::vector<std::string>{"p0", "p2"}));
  EXPECT_EQ(Count(db, R"({"event": "order", "count": {"eq": 1}})"), 4u);
  // Reads of one profile see its events as they are now.
  const std::optional<std::string> p1 = db.Read()->Profile("p1");
  ASSERT_TRUE(p1.has_value());
  EXPECT_NE(p1->find(R"("name":"visit")"), std::string::npos) << *p1;
  QueryRequest preview;
  preview.rule_json = visit;
  preview.now_ms = kNow;
  preview.fields = {"events"};
  Result<QueryResult> shown = db.Read()->Query(preview);
  ASSERT_TRUE(shown.ok());
  EXPECT_NE(shown->members_json.find("visit"), std::string::npos)
      << shown->members_json;
  SegmentDefinition buyers;
  buyers.rule_json = two_orders;
  ASSERT_TRUE(db.SaveSegment("buyers", buyers, nullptr, kNow).ok());
  EXPECT_TRUE(*db.Read()->Contains("buyers", "p0", kNow));
  EXPECT_FALSE(*db.Read()->Contains("buyers", "p3", kNow));

  // More events move a row to a newer event layer; a whole write, or a
  // delete, takes it out of the event layers.
  append("p0", "order", "2026-11-20T00:00:00Z");
  EXPECT_EQ(Ids(db, R"({"event": "order", "count": {"gte": 3}})"),
            (std::vector<std::string>{"p0"}));
  ASSERT_TRUE(db.Patch("p2", R"({"city": "Nagpur"})").ok());
  ASSERT_TRUE(db.Delete("p1").ok());
  EXPECT_EQ(StaleAndEventRows(db).second, 1u);
  EXPECT_EQ(Count(db, visit), 0u);
  EXPECT_EQ(Ids(db, any_order),
            (std::vector<std::string>{"p0", "p2", "p3", "p6", "p9"}));
  // A merge takes the events into the layer it builds: two more whole
  // writes make the base's rebuild due.
  ASSERT_TRUE(db.Patch("p4", R"({"city": "Nagpur"})").ok());
  ASSERT_TRUE(db.Patch("p5", R"({"city": "Pune"})").ok());
  db.MergeNow();
  EXPECT_EQ(StaleAndEventRows(db), (std::pair<uint64_t, uint64_t>(0, 0)));
  EXPECT_EQ(Ids(db, R"({"event": "order", "count": {"gte": 3}})"),
            (std::vector<std::string>{"p0"}));
  EXPECT_EQ(Count(db, any_order), 5u);
  EXPECT_EQ(Count(db, kEveryone), 11u);
}

// Pages of stored profiles of 4 KiB, so that many come and go, compacted
// whenever they may be.
DatabaseOptions SmallPages() {
  DatabaseOptions options = SmallLayers();
  options.newest_layer_rows = 64;
  options.blob_page_bytes = 4096;
  options.compact_min_bytes = 0;
  return options;
}

// Stored profiles' pages alive now that were not when this was made.
class PagesSince {
 public:
  size_t operator()() const { return Alive() - before_; }

 private:
  static size_t Alive() {
    return BlobPage::allocated_bytes() / BlobPage::kBytes;
  }
  size_t before_ = Alive();
};

// Each rewrite and event append leaves the profile's old bytes behind; the
// pages they fill are freed once no current profile and no layer uses them.
TEST(LiveDatabaseTest, RewrittenProfilesLeaveNoPagesBehind) {
  const PagesSince pages;
  Database db(SmallPages());
  constexpr int kProfiles = 500;
  auto profiles = [&](int version) {
    std::string batch;
    for (int i = 0; i < kProfiles; ++i) {
      batch += R"({"id": "p)" + std::to_string(i) + R"(", "city": "c)" +
               std::to_string(i % 7) + R"(", "orders": )" +
               std::to_string(version) + "}\n";
    }
    return batch;
  };
  ASSERT_EQ(db.Upsert(profiles(0)).accepted, uint64_t{kProfiles});
  db.MergeNow();
  const size_t loaded = pages();
  size_t most = 0;
  for (int version = 1; version <= 40; ++version) {
    ASSERT_EQ(db.Upsert(profiles(version)).accepted, uint64_t{kProfiles});
    std::string events;
    for (int i = version % 3; i < kProfiles; i += 3) {
      events += R"({"id": "p)" + std::to_string(i) +
                R"(", "name": "visit", "at": "2026-11-19T00:00:00Z"})"
                "\n";
    }
    ASSERT_GT(db.AppendEvents(events).accepted, 0u);
    db.MergeNow();
    most = std::max(most, pages());
  }
  // 41 versions of 500 profiles and 6,700 event appends filled some 15
  // times the pages of one version; a few versions' worth stay at most.
  EXPECT_LE(most, 4 * loaded + 8) << "pages after the load: " << loaded;
  EXPECT_EQ(Count(db, R"({"field": "orders", "op": "eq", "value": 40})"),
            uint64_t{kProfiles});
  // An upsert replaces the events too: the last round's appends are left.
  EXPECT_EQ(Count(db, R"({"event": "visit", "count": {"gte": 1}})"),
            uint64_t{(kProfiles - 1) / 3 + 1});
  const std::optional<std::string> p7 = db.Read()->Profile("p7");
  ASSERT_TRUE(p7.has_value());
  EXPECT_NE(p7->find(R"("orders":40)"), std::string::npos) << *p7;
}

// Each round rewrites the hot profiles and one cold one, which then stays
// in a page of otherwise superseded profiles: without compaction every
// round would leave a page behind.
TEST(LiveDatabaseTest, ProfilesLeftInMostlyUnusedPagesAreCompacted) {
  const PagesSince pages;
  Database db(SmallPages());
  constexpr int kProfiles = 500;
  auto profile = [](int i, int version) {
    return R"({"id": "p)" + std::to_string(i) + R"(", "orders": )" +
           std::to_string(version) + "}\n";
  };
  std::string batch;
  for (int i = 0; i < kProfiles; ++i) batch += profile(i, 0);
  ASSERT_EQ(db.Upsert(batch).accepted, uint64_t{kProfiles});
  db.MergeNow();
  const size_t loaded = pages();
  size_t most = 0;
  constexpr int kRounds = 50;
  for (int round = 1; round <= kRounds; ++round) {
    batch.clear();
    for (int i = 0; i < kProfiles; ++i) {
      if (i % 10 != 0 || i == 10 * round - 10) batch += profile(i, round);
    }
    ASSERT_GT(db.Upsert(batch).accepted, 0u);
    db.MergeNow();
    most = std::max(most, pages());
  }
  EXPECT_LE(most, 4 * loaded + 8) << "pages after the load: " << loaded;
  // The cold profiles kept the round they were written in.
  for (int round = 1; round <= kRounds; ++round) {
    EXPECT_EQ(Count(db, R"({"field": "orders", "op": "eq", "value": )" +
                            std::to_string(round) + "}"),
              round == kRounds ? uint64_t{kProfiles - kProfiles / 10 + 1} : 1u);
  }
}

TEST(LiveDatabaseTest, AWriteBatchAppliesEachOpAndPublishesOnce) {
  Database db(SmallLayers());
  db.Upsert(R"({"id": "a", "orders": 1})"
            "\n"
            R"({"id": "b"})");
  const uint64_t before = db.Read()->sequence();
  WriteBatch batch;
  batch.Patch("a", R"({"orders": 2})");
  batch.Patch("a", R"({"orders": "two"})");  // a type conflict: this one fails
  batch.UpdateTags("b", {"vip"}, {});
  batch.Upsert(R"({"id": "c", "orders": 9})");
  batch.Delete("nobody");
  const std::vector<WriteOutcome> out = db.Write(batch);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_TRUE(out[0].status.ok());
  EXPECT_EQ(out[1].status.code(), ErrorCode::kInvalid);
  EXPECT_TRUE(out[2].status.ok());
  EXPECT_EQ(out[3].batch.accepted, 1u);
  EXPECT_EQ(out[4].status.code(), ErrorCode::kNotFound);
  EXPECT_EQ(db.Read()->sequence(), before + 1);
  EXPECT_EQ(Ids(db, R"({"field": "orders", "op": "gte", "value": 2})"),
            (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(Ids(db, R"({"field": "tags", "op": "eq", "value": "VIP"})"),
            (std::vector<std::string>{"b"}));
}

TEST(LiveDatabaseTest, DeclaringIsAllOrNothing) {
  Database db(SmallLayers());
  db.Upsert(R"({"id": "a", "code": "2026-01-01"})");
  EXPECT_EQ(
      db.Declare({{"zip", AttrType::kString}, {"code", AttrType::kString}})
          .code(),
      ErrorCode::kConflict);
  EXPECT_FALSE(db.Read()->schema().Find("zip").has_value());
  ASSERT_TRUE(db.Declare({{"zip", AttrType::kString}}).ok());
  db.Upsert(R"({"id": "b", "zip": "2026-01-01"})");
  EXPECT_EQ(
      Count(db, R"({"field": "zip", "op": "starts_with", "value": "2026"})"),
      1u);
}

}  // namespace
}  // namespace segd
