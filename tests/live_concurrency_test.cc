// Readers running while writers apply large batches and merges run in the
// background: every snapshot holds whole batches, never part of one.
//
// Run under ThreadSanitizer with `make tsan` (README).
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "live/database.h"
#include "tests/tsan.h"

namespace segd {
namespace {

constexpr int64_t kNow = 1795176000000;  // 2026-11-20T12:00:00Z

uint64_t Count(const Snapshot& snapshot, const std::string& rule) {
  QueryRequest request;
  request.rule_json = rule;
  request.limit = 0;
  request.now_ms = kNow;
  Result<QueryResult> r = snapshot.Query(request);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r->count : ~uint64_t{0};
}

// Small layers, so that batches freeze layers and merges run often.
DatabaseOptions Busy() {
  DatabaseOptions options;
  options.newest_layer_rows = 64;
  options.merge_fanout = 2;
  options.event_merge_fanout = 2;
  // Small pages, let go and freed while readers hold older versions.
  options.blob_page_bytes = 4096;
  options.compact_min_bytes = 0;
  return options;
}

std::string Profiles(int count, int generation) {
  std::string batch;
  for (int i = 0; i < count; ++i) {
    batch += R"({"id": "p)" + std::to_string(i) + R"(", "gen": )" +
             std::to_string(generation) + R"(, "city": ")" +
             (i % 2 ? "Pune" : "Delhi") + "\"}\n";
  }
  return batch;
}

// Runs `check` on fresh snapshots from two threads until `done`, each at
// least once, counting the checks in `checks`.
template <typename Check>
std::vector<std::thread> Readers(std::atomic<bool>& done,
                                 std::atomic<int>& checks, Check check) {
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&done, &checks, check] {
      do {
        check();
        ++checks;
      } while (!done.load());
    });
  }
  return readers;
}

TEST(LiveConcurrencyTest, ReadersSeeWholeProfileBatches) {
  constexpr int kProfiles = 1500;
  constexpr int kBatches = 12;
  Database db(Busy());
  std::atomic<bool> done{false};
  std::atomic<int> checks{0};
  auto readers = Readers(done, checks, [&] {
    const std::shared_ptr<const Snapshot> s = db.Read();
    if (s->live_count() == 0) return;  // before the first batch
    // One generation at a time, all of it.
    ReportRequest request;
    request.group_by = "gen";
    Result<ReportResult> report = s->Report(request);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(report->count, static_cast<uint64_t>(kProfiles));
    ASSERT_EQ(report->groups.size(), 1u);
    EXPECT_EQ(report->groups[0].second, static_cast<uint64_t>(kProfiles));
    EXPECT_EQ(Count(*s, R"({"field": "city", "op": "eq", "value": "pune"})"),
              static_cast<uint64_t>(kProfiles / 2));
  });
  for (int g = 0; g < kBatches; ++g) {
    const BatchResult r = db.Upsert(Profiles(kProfiles, g));
    ASSERT_EQ(r.accepted, static_cast<uint64_t>(kProfiles));
  }
  db.WaitForMerges();
  done = true;
  for (std::thread& t : readers) t.join();
  EXPECT_GE(checks.load(), 2);
  EXPECT_EQ(Count(*db.Read(), R"({"field": "gen", "op": "eq", "value": 11})"),
            static_cast<uint64_t>(kProfiles));
}

TEST(LiveConcurrencyTest, ReadersSeeWholeEventBatches) {
  constexpr int kProfiles = 800;
  constexpr int kBatches = 10;
  Database db(Busy());
  db.Upsert(Profiles(kProfiles, 0));
  std::atomic<bool> done{false};
  std::atomic<int> checks{0};
  auto readers = Readers(done, checks, [&] {
    const std::shared_ptr<const Snapshot> s = db.Read();
    // Every profile has had the same number of ticks.
    uint64_t previous = kProfiles;
    for (int k = 1; k <= kBatches; ++k) {
      const uint64_t n = Count(*s, R"({"event": "tick", "count": {"gte": )" +
                                       std::to_string(k) + "}}");
      EXPECT_TRUE(n == 0 || n == static_cast<uint64_t>(kProfiles)) << n;
      EXPECT_LE(n, previous);
      previous = n;
    }
  });
  for (int b = 0; b < kBatches; ++b) {
    std::string batch;
    for (int i = 0; i < kProfiles; ++i) {
      batch += R"({"id": "p)" + std::to_string(i) +
               R"(", "name": "tick", "at": "2026-11-1)" +
               std::to_string(b % 10) + "T10:00:00Z\"}\n";
    }
    ASSERT_EQ(db.AppendEvents(batch).accepted,
              static_cast<uint64_t>(kProfiles));
  }
  done = true;
  for (std::thread& t : readers) t.join();
  EXPECT_GE(checks.load(), 2);
  EXPECT_EQ(Count(*db.Read(), R"({"event": "tick", "count": {"eq": 10}})"),
            static_cast<uint64_t>(kProfiles));
}

// Batches of a few events each: the readers' counts of event rules amend
// what the layers kept (Snapshot::Amend), some of them on versions they
// held while newer ones amended, and profiles appended to earlier are
// written whole (dead where they were stale): each count is its
// snapshot's, whole batches and all, and agrees with the rule evaluated
// anew.
TEST(LiveConcurrencyTest, AmendedCountsSeeWholeSmallEventBatches) {
  constexpr int kProfiles = 2000;
  constexpr int kBatches = 150;
  Database db(Busy());
  db.Upsert(Profiles(kProfiles, 0));
  // Events of another name first, so that the layers have stale rows.
  std::string first;
  for (int i = 0; i < kProfiles; i += 50) {
    first += R"({"id": "p)" + std::to_string(i) +
             R"(", "name": "tock", "at": "2026-11-01"})"
             "\n";
  }
  db.AppendEvents(first);
  const std::string ticked = R"({"event": "tick", "count": {"gte": 1}})";
  const std::string pune_ticked =
      R"({"all": [{"field": "city", "op": "eq", "value": "pune"},
                  {"event": "tick", "count": {"gte": 1}}]})";
  std::atomic<bool> done{false};
  std::atomic<int> checks{0};
  std::atomic<int> fresh{0};
  // Each batch ticks one row of each city, and a rewrite unticks both.
  auto check = [&](const Snapshot& s) {
    const uint64_t n = Count(s, ticked);
    EXPECT_EQ(n % 2, 0u) << n;
    EXPECT_EQ(Count(s, pune_ticked), n / 2);
    // The same rule's text spaced apart, too seldom to be kept.
    EXPECT_EQ(Count(s, ticked + std::string(1 + fresh++ % 1024, ' ')), n);
  };
  auto readers = Readers(done, checks, [&] { check(*db.Read()); });
  auto holders = Readers(done, checks, [&] {
    const std::shared_ptr<const Snapshot> held = db.Read();
    for (int k = 0; k < 8; ++k) check(*held);
  });
  auto row_of = [](int b) { return (b * 37) % (kProfiles / 2) * 2; };
  auto pair = [](int row, const std::string& line) {
    std::string out;
    for (int r : {row, row + 1}) {
      out += R"({"id": "p)" + std::to_string(r) + line + "\n";
    }
    return out;
  };
  int rewritten = 0;
  for (int b = 0; b < kBatches; ++b) {
    EXPECT_EQ(db.AppendEvents(pair(row_of(b), R"(", "name": "tick",)"
                                              R"( "at": "2026-11-10"})"))
                  .accepted,
              2u);
    if (b >= 3 && b % 5 == 0) {
      // Both rows ticked three batches ago, written whole without events.
      const int row = row_of(b - 3);
      const std::string cities[] = {"Delhi", "Pune"};
      std::string batch;
      for (int r : {row, row + 1}) {
        batch += R"({"id": "p)" + std::to_string(r) + R"(", "city": ")" +
                 cities[r % 2] + "\"}\n";
      }
      EXPECT_EQ(db.Upsert(batch).accepted, 2u);
      ++rewritten;
    }
    // A check or more at each epoch, so that counts amend what the
    // layers kept at the one before.
    for (const int seen = checks.load(); checks.load() == seen;) {
      std::this_thread::yield();
    }
  }
  db.WaitForMerges();
  done = true;
  for (std::thread& t : readers) t.join();
  for (std::thread& t : holders) t.join();
  EXPECT_EQ(Count(*db.Read(), ticked), 2u * (kBatches - rewritten));
}

TEST(LiveConcurrencyTest, SwapsInOneBatchKeepTheCountWhileLayersMerge) {
  constexpr int kProfiles = 400;
  constexpr int kOn = 100;
  Database db(Busy());
  std::string initial;
  for (int i = 0; i < kProfiles; ++i) {
    initial += R"({"id": "p)" + std::to_string(i) + R"(", "on": )" +
               (i < kOn ? "true" : "false") + "}\n";
  }
  db.Upsert(initial);
  std::vector<bool> on(kProfiles);
  for (int i = 0; i < kProfiles; ++i) on[i] = i < kOn;
  std::atomic<bool> done{false};
  std::atomic<int> checks{0};
  auto readers = Readers(done, checks, [&] {
    const std::shared_ptr<const Snapshot> s = db.Read();
    EXPECT_EQ(Count(*s, R"({"field": "on", "op": "is_true"})"),
              static_cast<uint64_t>(kOn));
    EXPECT_EQ(s->live_count(), static_cast<uint64_t>(kProfiles));
  });
  // Each batch turns one profile off and another on, as two records of an
  // upsert or two patches of a WriteBatch: the count holds.
  uint64_t state = 12345;
  for (int round = 0; round < 600; ++round) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    int a = static_cast<int>((state >> 33) % kProfiles);
    int b = static_cast<int>((state >> 13) % kProfiles);
    if (on[a] == on[b]) continue;
    if (!on[a]) std::swap(a, b);  // a is on, b is off
    on[a] = false;
    on[b] = true;
    if (round % 2 == 0) {
      const BatchResult r = db.Upsert(R"({"id": "p)" + std::to_string(a) +
                                      R"(", "on": false})"
                                      "\n"
                                      R"({"id": "p)" +
                                      std::to_string(b) + R"(", "on": true})");
      ASSERT_EQ(r.accepted, 2u);
    } else {
      WriteBatch batch;
      batch.Patch("p" + std::to_string(a), R"({"on": false})");
      batch.Patch("p" + std::to_string(b), R"({"on": true})");
      for (const WriteOutcome& outcome : db.Write(batch)) {
        ASSERT_TRUE(outcome.status.ok()) << outcome.status.ToString();
      }
    }
  }
  db.WaitForMerges();
  done = true;
  for (std::thread& t : readers) t.join();
  EXPECT_GE(checks.load(), 2);
  EXPECT_GT(db.merges_done(), 0u);
}

// The "n" of profile `id` in `snapshot`, or -1.
int NumberOf(const Snapshot& snapshot, const std::string& id) {
  const std::optional<std::string> profile = snapshot.Profile(id);
  if (!profile) return -1;
  const size_t at = profile->find("\"n\":");
  if (at == std::string::npos) return -1;
  return std::atoi(profile->c_str() + at + 4);
}

TEST(LiveConcurrencyTest, AsyncWritesAreAcknowledgedInOrderOnceVisible) {
  // Four threads write their own profile's "n" 0..kRounds-1 without
  // waiting, a fifth with Write: each acknowledgement comes in the order
  // the writes were made, and finds its write (or a later one) in a
  // snapshot taken then.
  constexpr int kThreads = 4;
  constexpr int kRounds = 300;
  Database db(Busy());
  std::mutex mu;
  std::condition_variable all_done;
  int acknowledged = 0;
  std::vector<int> last_acked(kThreads, -1);
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      const std::string id = "w" + std::to_string(t);
      for (int n = 0; n < kRounds; ++n) {
        WriteBatch batch;
        if (n % 3 == 0) {
          batch.Upsert(R"({"id": ")" + id + R"(", "n": )" + std::to_string(n) +
                       "}");
        } else {
          batch.Patch(id, R"({"n": )" + std::to_string(n) + "}");
        }
        db.WriteAsync(
            std::move(batch), [&, t, n, id](std::vector<WriteOutcome> out) {
              ASSERT_EQ(out.size(), 1u);
              EXPECT_TRUE(out[0].status.ok()) << out[0].status.ToString();
              EXPECT_TRUE(out[0].batch.status.ok());
              EXPECT_GE(NumberOf(*db.Read(), id), n);
              std::lock_guard<std::mutex> lock(mu);
              EXPECT_EQ(last_acked[t], n - 1) << "thread " << t;
              last_acked[t] = n;
              if (++acknowledged == kThreads * kRounds) all_done.notify_all();
            });
      }
    });
  }
  std::thread sync_writer([&] {
    for (int n = 0; n < kRounds; ++n) {
      const BatchResult r =
          db.Upsert(R"({"id": "s", "n": )" + std::to_string(n) + "}");
      ASSERT_EQ(r.accepted, 1u);
      ASSERT_EQ(NumberOf(*db.Read(), "s"), n);
    }
  });
  for (std::thread& t : writers) t.join();
  sync_writer.join();
  {
    std::unique_lock<std::mutex> lock(mu);
    all_done.wait(lock, [&] { return acknowledged == kThreads * kRounds; });
  }
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(NumberOf(*db.Read(), "w" + std::to_string(t)), kRounds - 1);
  }
  EXPECT_EQ(db.Read()->live_count(), uint64_t{kThreads + 1});
}

TEST(LiveConcurrencyTest, ClosingTheDatabaseAnswersEveryQueuedWrite) {
  std::atomic<int> acknowledged{0};
  std::atomic<int> failed{0};
  {
    Database db(Busy());
    for (int i = 0; i < 200; ++i) {
      WriteBatch batch;
      batch.Upsert(R"({"id": "p)" + std::to_string(i) + R"("})");
      db.WriteAsync(std::move(batch), [&](std::vector<WriteOutcome> out) {
        if (!out[0].batch.status.ok()) ++failed;
        ++acknowledged;
      });
    }
  }  // the destructor waits for the writes queued
  EXPECT_EQ(acknowledged.load(), 200);
  EXPECT_EQ(failed.load(), 0);
}

}  // namespace
}  // namespace segd
