// The database's durability (SPEC §6), in process: every kind of write is
// logged and comes back after a restart; a log cut at any byte of its last
// records recovers exactly the writes wholly before the cut; damage before
// the end is refused; a failed fsync stops writes and never reads; the
// data directory is locked.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "live/database.h"
#include "live/snapshot_file.h"
#include "tests/tsan.h"

namespace segd {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kNow = 1795176000000;  // 2026-11-20T12:00:00Z

std::string TempDir(const std::string& tag) {
  std::string pattern =
      ::testing::TempDir() + "/segd_durability_" + tag + "_XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  EXPECT_NE(::mkdtemp(buffer.data()), nullptr);
  return buffer.data();
}

DatabaseOptions Durable(const std::string& dir) {
  DatabaseOptions options;
  options.data_dir = dir;
  options.newest_layer_rows = 4;
  options.merge_fanout = 2;
  options.event_merge_fanout = 2;
  options.background_merges = false;
  options.fsync = FsyncMode::kNo;  // a process crash loses nothing either way
  return options;
}

std::unique_ptr<Database> OpenOrDie(const DatabaseOptions& options,
                                    RecoveryReport* report = nullptr) {
  Result<std::unique_ptr<Database>> db = Database::Open(options, report);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return db.ok() ? std::move(db).value() : nullptr;
}

// Everything a reader can see, as text: every profile in row order, the
// schema, and every saved segment with its members.
std::string Fingerprint(const Database& db) {
  const std::shared_ptr<const Snapshot> s = db.Read();
  std::string out;
  QueryRequest everyone;
  everyone.rule_json = R"({"all": []})";
  everyone.limit = 10000;
  everyone.now_ms = kNow;
  Result<QueryResult> all = s->Query(everyone);
  EXPECT_TRUE(all.ok());
  for (const std::string& id : all->ids) out += *s->Profile(id) + "\n";
  for (const Attribute& a : s->schema().attributes()) {
    out += a.name + ":" + AttrTypeName(a.type) + " ";
  }
  out += "\n";
  for (const SegmentInfo& info : s->Segments(kNow)) {
    MembersRequest members;
    members.segment = info.segment->name;
    members.limit = 10000;
    members.now_ms = kNow;
    Result<MembersPage> page = s->Members(members);
    EXPECT_TRUE(page.ok());
    out += info.segment->name + " " + info.segment->rule_json + " " +
           std::to_string(info.count) + ":";
    for (const std::string& id : page->ids) out += " " + id;
    out += "\n";
  }
  return out;
}

// Every kind of write, some failing; each step is one call.
std::vector<std::function<void(Database&)>> Script() {
  using Steps = std::vector<std::function<void(Database&)>>;
  return Steps{
      [](Database& db) {
        db.Declare({{"code", AttrType::kString}, {"score", AttrType::kNumber}});
      },
      [](Database& db) {
        db.Upsert(R"({"id":"a","city":"Pune","orders":2,"tags":["vip"]})"
                  "\n"
                  R"({"id":"b","city":"Mumbai","email":"b@x.in"})"
                  "\n"
                  R"({"id":"c","city":"Nagpur","code":"0042"})"
                  "\n"
                  R"({"id":"bad","orders":"many"})");
      },
      [](Database& db) {
        db.AppendEvents(
            R"({"id":"a","name":"order","at":"2026-11-01"})"
            "\n"
            R"({"id":"b","name":"visit","at":"2026-11-19T08:00:00Z"})");
      },
      [](Database& db) {
        SegmentDefinition pune;
        pune.rule_json = R"({"field":"city","op":"eq","value":"pune"})";
        db.SaveSegment("pune", pune, nullptr, kNow);
      },
      [](Database& db) {
        SegmentDefinition list;
        list.kind = SavedSegment::Kind::kStatic;
        list.ids = {"a", "b", "nobody"};
        db.SaveSegment("list", list, nullptr, kNow);
      },
      [](Database& db) { db.Patch("b", R"({"city":"Pune","orders":7})"); },
      [](Database& db) { db.Patch("nobody", R"({"city":"Pune"})"); },
      [](Database& db) {
        db.UpdateTags("a", std::vector<std::string>{"new"},
                      std::vector<std::string>{"vip"});
      },
      [](Database& db) {
        db.Upsert(
            R"([{"id":"d","city":"Pune"},{"id":"e","signed_up":"2026-11-19"}])",
            BatchFormat::kArray);
      },
      [](Database& db) { db.Merge("a", "b"); },
      [](Database& db) {
        db.EditMembers("list", std::vector<std::string>{"c", "d"},
                       std::vector<std::string>{"a"});
      },
      [](Database& db) {
        SegmentDefinition derived;
        derived.rule_json =
            R"({"all":[{"segment":"pune"},{"field":"orders","op":"gte","value":1}]})";
        db.SaveSegment("pune-buyers", derived, nullptr, kNow);
      },
      [](Database& db) { db.Delete("c"); },
      [](Database& db) { db.Upsert(R"({"id":"c","city":"Delhi"})"); },
      [](Database& db) { db.DeleteSegment("pune"); },  // refused: referenced
      [](Database& db) { db.DeleteSegment("pune-buyers"); },
      [](Database& db) {
        WriteBatch batch;
        batch.Upsert(R"({"id":"f","city":"Pune","orders":1})");
        batch.Patch("d", R"({"orders":3})");
        batch.Delete("e");
        batch.AppendEvents(R"({"id":"f","name":"visit","at":"2026-11-20"})");
        db.Write(batch);
      },
      [](Database& db) { db.Patch("f", R"({"code":"x7"})"); },
  };
}

// Runs the script on a fresh database in `dir`; returns the state after
// each logged record: states[k] is the state once k records are in.
std::vector<std::string> RunScript(const std::string& dir) {
  std::unique_ptr<Database> db = OpenOrDie(Durable(dir));
  std::vector<std::string> states = {Fingerprint(*db)};
  for (const auto& step : Script()) {
    step(*db);
    const std::string now = Fingerprint(*db);
    if (now != states.back()) states.push_back(now);
  }
  return states;
}

std::string LogFile(const std::string& dir) {
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename();
    if (name.starts_with("wal-")) return entry.path();
  }
  return "";
}

// The byte offsets where the log's records end, in order.
std::vector<uint64_t> RecordEnds(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  std::vector<uint64_t> ends;
  uint64_t at = 0;
  while (at + 17 <= bytes.size()) {
    uint32_t length = 0;
    for (int i = 0; i < 4; ++i) {
      length |= uint32_t{static_cast<uint8_t>(bytes[at + 4 + i])} << (8 * i);
    }
    at += 17 + length;
    ends.push_back(at);
  }
  return ends;
}

// A copy of the log alone in a new directory, cut at `size` bytes.
std::string CopyCut(const std::string& file, uint64_t size) {
  const std::string dir = TempDir("cut");
  const std::string copy = dir + "/" + fs::path(file).filename().string();
  fs::copy_file(file, copy);
  fs::resize_file(copy, size);
  return dir;
}

TEST(DurabilityTest, EveryKindOfWriteComesBackAfterARestart) {
  const std::string dir = TempDir("restart");
  const std::vector<std::string> states = RunScript(dir);
  ASSERT_GE(states.size(), 14u);  // the failing steps change nothing
  RecoveryReport report;
  std::unique_ptr<Database> again = OpenOrDie(Durable(dir), &report);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(report.records, states.size() - 1);
  EXPECT_EQ(report.torn_bytes, 0u);
  EXPECT_EQ(Fingerprint(*again), states.back());
  // And it goes on logging where it stopped.
  ASSERT_TRUE(again->Patch("a", R"({"orders":9})").ok());
  const std::string after = Fingerprint(*again);
  again.reset();
  EXPECT_EQ(Fingerprint(*OpenOrDie(Durable(dir))), after);
  fs::remove_all(dir);
}

TEST(DurabilityTest, ALogCutAnywhereInItsLastRecordsRecoversTheWholeOnes) {
  const std::string dir = TempDir("torn");
  const std::vector<std::string> states = RunScript(dir);
  const std::string file = LogFile(dir);
  const std::vector<uint64_t> ends = RecordEnds(file);
  ASSERT_EQ(ends.size(), states.size() - 1);
  const uint64_t from = ends[ends.size() - 4];
  for (uint64_t cut = from; cut <= ends.back(); ++cut) {
    const size_t whole =
        std::upper_bound(ends.begin(), ends.end(), cut) - ends.begin();
    const std::string copy = CopyCut(file, cut);
    RecoveryReport report;
    std::unique_ptr<Database> db = OpenOrDie(Durable(copy), &report);
    ASSERT_NE(db, nullptr) << "cut at " << cut;
    EXPECT_EQ(report.records, whole) << "cut at " << cut;
    EXPECT_EQ(report.torn_bytes, cut - (whole ? ends[whole - 1] : 0))
        << "cut at " << cut;
    EXPECT_EQ(Fingerprint(*db), states[whole]) << "cut at " << cut;
    db.reset();
    fs::remove_all(copy);
  }
  fs::remove_all(dir);
}

TEST(DurabilityTest, DamageBeforeTheEndIsRefusedNeverLoaded) {
  const std::string dir = TempDir("flip");
  RunScript(dir);
  const std::string file = LogFile(dir);
  const std::vector<uint64_t> ends = RecordEnds(file);
  // Every byte of a record in the middle, flipped on a copy of its own.
  const uint64_t begin = ends[4], end = ends[5];
  for (uint64_t at = begin; at < end; ++at) {
    const std::string copy = CopyCut(file, ends.back());
    const std::string log = LogFile(copy);
    std::fstream io(log, std::ios::in | std::ios::out | std::ios::binary);
    io.seekg(at);
    char byte;
    io.get(byte);
    io.seekp(at);
    io.put(static_cast<char>(byte ^ 0x10));
    io.close();
    Result<std::unique_ptr<Database>> db =
        Database::Open(Durable(copy), nullptr);
    ASSERT_FALSE(db.ok()) << "flip at " << at;
    EXPECT_EQ(db.status().code(), ErrorCode::kCorrupt) << "flip at " << at;
    fs::remove_all(copy);
  }
  fs::remove_all(dir);
}

// A database in `dir` syncing every write, holding profile "a", whose
// next fdatasync fails.
std::unique_ptr<Database> OpenToFailNextSync(const std::string& dir) {
  DatabaseOptions options = Durable(dir);
  options.fsync = FsyncMode::kAlways;
  std::unique_ptr<Database> db = OpenOrDie(options);
  EXPECT_TRUE(db->Upsert(R"({"id":"a","city":"Pune"})").status.ok());
  db->FailNextSyncForTest();
  return db;
}

TEST(DurabilityTest, AFailedSyncStopsWritesAndNeverReads) {
  const std::string dir = TempDir("fsync");
  std::unique_ptr<Database> db = OpenToFailNextSync(dir);
  const BatchResult failed = db->Upsert(R"({"id":"b","city":"Pune"})");
  EXPECT_EQ(failed.status.code(), ErrorCode::kUnavailable);
  EXPECT_EQ(db->CheckWritable().code(), ErrorCode::kUnavailable);
  EXPECT_NE(db->CheckWritable().message().find("fdatasync"), std::string::npos)
      << db->CheckWritable().message();
  // Never retried: every later write is refused, reads go on.
  EXPECT_EQ(db->Patch("a", R"({"orders":1})").code(), ErrorCode::kUnavailable);
  EXPECT_EQ(db->Upsert(R"({"id":"c"})").status.code(), ErrorCode::kUnavailable);
  SegmentDefinition all;
  all.rule_json = R"({"all":[]})";
  EXPECT_EQ(db->SaveSegment("all", all, nullptr, kNow).status().code(),
            ErrorCode::kUnavailable);
  EXPECT_TRUE(db->Read()->HasProfile("a"));
  EXPECT_FALSE(db->Read()->Profile("c").has_value());
  db.reset();
  fs::remove_all(dir);
}

TEST(DurabilityTest, AFailedSyncFailsTheAsyncWritesWaitingOnIt) {
  // Writes made without waiting share the sync that fails: none of them
  // is acknowledged, and those after it are refused at once.
  const std::string dir = TempDir("fsync-async");
  std::unique_ptr<Database> db = OpenToFailNextSync(dir);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<ErrorCode> codes;
  for (int i = 0; i < 20; ++i) {
    WriteBatch batch;
    batch.Patch("a", R"({"orders":)" + std::to_string(i) + "}");
    db->WriteAsync(std::move(batch), [&](std::vector<WriteOutcome> out) {
      std::lock_guard<std::mutex> lock(mu);
      codes.push_back(out[0].status.code());
      cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return codes.size() == 20; });
  for (ErrorCode code : codes) EXPECT_EQ(code, ErrorCode::kUnavailable);
  lock.unlock();
  std::promise<Status> later;
  WriteBatch batch;
  batch.Delete("a");
  db->WriteAsync(std::move(batch), [&](std::vector<WriteOutcome> out) {
    later.set_value(out[0].status);
  });
  EXPECT_EQ(later.get_future().get().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(db->Read()->HasProfile("a"));
  db.reset();
  fs::remove_all(dir);
}

TEST(DurabilityTest, TheDataDirectoryIsLocked) {
  const std::string dir = TempDir("lock");
  std::unique_ptr<Database> first = OpenOrDie(Durable(dir));
  Result<std::unique_ptr<Database>> second =
      Database::Open(Durable(dir), nullptr);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), ErrorCode::kConflict);
  EXPECT_NE(second.status().message().find(std::to_string(getpid())),
            std::string::npos)
      << second.status().message();
  first.reset();  // the lock goes with it
  EXPECT_NE(OpenOrDie(Durable(dir)), nullptr);
  fs::remove_all(dir);
}

TEST(DurabilityTest, BackgroundMergesDoNotChangeWhatIsRecovered) {
  const std::string dir = TempDir("merges");
  DatabaseOptions options = Durable(dir);
  options.background_merges = true;
  std::string before;
  {
    std::unique_ptr<Database> db = OpenOrDie(options);
    for (int i = 0; i < 60; ++i) {
      db->Upsert(R"({"id":"p)" + std::to_string(i % 25) + R"(","n":)" +
                 std::to_string(i) + "}");
    }
    db->WaitForMerges();
    before = Fingerprint(*db);
  }
  EXPECT_EQ(Fingerprint(*OpenOrDie(options)), before);
  fs::remove_all(dir);
}

TEST(DurabilityTest, ASnapshotPlusTheLogAfterItGivesTheSameState) {
  const std::string dir = TempDir("snapshot");
  const auto script = Script();
  std::string expected;
  {
    std::unique_ptr<Database> db = OpenOrDie(Durable(dir));
    for (size_t i = 0; i < script.size() / 2; ++i) script[i](*db);
    ASSERT_TRUE(db->WriteSnapshot().ok());
    for (size_t i = script.size() / 2; i < script.size(); ++i) script[i](*db);
    expected = Fingerprint(*db);
  }
  RecoveryReport report;
  std::unique_ptr<Database> again = OpenOrDie(Durable(dir), &report);
  ASSERT_NE(again, nullptr);
  EXPECT_FALSE(report.snapshot.empty());
  EXPECT_GT(report.records, 0u);
  EXPECT_LT(report.records, script.size() / 2 + 2);
  EXPECT_EQ(Fingerprint(*again), expected);
  // Rows go on from where they were: a new profile comes after the rest.
  ASSERT_TRUE(again->Upsert(R"({"id":"zz-new","city":"Pune"})").status.ok());
  QueryRequest everyone;
  everyone.rule_json = R"({"all": []})";
  everyone.limit = 10000;
  everyone.now_ms = kNow;
  EXPECT_EQ(again->Read()->Query(everyone)->ids.back(), "zz-new");
  // A snapshot with nothing after it.
  ASSERT_TRUE(again->WriteSnapshot().ok());
  const std::string last = Fingerprint(*again);
  again.reset();
  RecoveryReport second;
  EXPECT_EQ(Fingerprint(*OpenOrDie(Durable(dir), &second)), last);
  EXPECT_EQ(second.records, 0u);
  fs::remove_all(dir);
}

TEST(DurabilityTest, SnapshotsWhileWritesGoOnLoseNothing) {
  const std::string dir = TempDir("busy");
  DatabaseOptions options = Durable(dir);
  options.background_merges = true;
  std::string expected;
  {
    std::unique_ptr<Database> db = OpenOrDie(options);
    std::thread writer([&] {
      for (int i = 0; i < 600; ++i) {
        db->Upsert(R"({"id":"w)" + std::to_string(i % 150) + R"(","n":)" +
                   std::to_string(i) + "}");
        if (i % 100 == 0) db->Delete("w" + std::to_string(i / 7));
      }
    });
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(db->WriteSnapshot().ok());
    writer.join();
    db->WaitForMerges();
    expected = Fingerprint(*db);
  }
  EXPECT_EQ(Fingerprint(*OpenOrDie(options)), expected);
  fs::remove_all(dir);
}

TEST(DurabilityTest, SnapshotsAmidWritesInFlightLoseNothing) {
  // Writes queued without waiting are applied and logged a group at a
  // time, and published for many groups at once. A snapshot taken between
  // a group's record and its publication must hold the group all the
  // same: the log before the snapshot is dropped.
  const std::string dir = TempDir("in-flight");
  constexpr int kWrites = 3000;
  std::string expected;
  {
    std::unique_ptr<Database> db = OpenOrDie(Durable(dir));
    std::atomic<bool> writing{true};
    std::atomic<int> snapshots{0};
    std::thread snapshotter([&] {
      while (writing.load()) {
        EXPECT_TRUE(db->WriteSnapshot().ok());
        snapshots.fetch_add(1);
      }
    });
    std::mutex mu;
    std::condition_variable cv;
    int in_flight = 0;
    int accepted = 0;
    for (int i = 0; i < kWrites; ++i) {
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return in_flight < 64; });
        ++in_flight;
      }
      WriteBatch batch;
      batch.Upsert(R"({"id":"s)" + std::to_string(i) + R"(","n":)" +
                   std::to_string(i) + "}");
      db->WriteAsync(std::move(batch), [&](std::vector<WriteOutcome> out) {
        std::lock_guard<std::mutex> lock(mu);
        accepted += out[0].status.ok() ? int(out[0].batch.accepted) : 0;
        --in_flight;
        cv.notify_all();
      });
    }
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return in_flight == 0; });
      EXPECT_EQ(accepted, kWrites);
    }
    writing.store(false);
    snapshotter.join();
    EXPECT_GT(snapshots.load(), 0);
    EXPECT_EQ(db->Read()->live_count(), uint64_t{kWrites});
    expected = Fingerprint(*db);
  }
  std::unique_ptr<Database> again = OpenOrDie(Durable(dir));
  EXPECT_EQ(again->Read()->live_count(), uint64_t{kWrites});
  EXPECT_TRUE(Fingerprint(*again) == expected) << "the profiles differ";
  again.reset();
  fs::remove_all(dir);
}

TEST(DurabilityTest, ADamagedSnapshotIsRefusedNeverLoaded) {
  const std::string dir = TempDir("badsnap");
  {
    std::unique_ptr<Database> db = OpenOrDie(Durable(dir));
    for (const auto& step : Script()) step(*db);
    ASSERT_TRUE(db->WriteSnapshot().ok());
  }
  std::string snapshot;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().filename().string().starts_with("snapshot-")) {
      snapshot = entry.path();
    }
  }
  ASSERT_FALSE(snapshot.empty());
  // The header, 80 places through the schema, blobs, indexes, tables and
  // segments, and the trailer.
  const uint64_t size = fs::file_size(snapshot);
  std::vector<uint64_t> places = {3, 20, size - 12, size - 5};
  for (uint64_t k = 0; k < 80; ++k) places.push_back(16 + k * (size - 28) / 80);
  for (uint64_t at : places) {
    const std::string copy = TempDir("badsnap_copy");
    fs::copy(dir, copy, fs::copy_options::recursive);
    fs::remove(copy + "/LOCK");
    const std::string file =
        copy + "/" + fs::path(snapshot).filename().string();
    std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
    io.seekg(at);
    char byte;
    io.get(byte);
    io.seekp(at);
    io.put(static_cast<char>(byte ^ 0x01));
    io.close();
    Result<std::unique_ptr<Database>> db =
        Database::Open(Durable(copy), nullptr);
    ASSERT_FALSE(db.ok()) << "flip at " << at;
    EXPECT_EQ(db.status().code(), ErrorCode::kCorrupt)
        << db.status().ToString();
    fs::resize_file(file, size / 2);  // cut short
    db = Database::Open(Durable(copy), nullptr);
    ASSERT_FALSE(db.ok());
    EXPECT_EQ(db.status().code(), ErrorCode::kCorrupt);
    fs::remove_all(copy);
  }
  fs::remove_all(dir);
}

// A snapshot drops the log before it: without that snapshot, the log left
// starts too late, and a start or verify that replayed it alone would
// serve a part of the data as if it were all.
TEST(DurabilityTest, AMissingSnapshotIsRefusedNotSkipped) {
  const std::string dir = TempDir("nosnap");
  {
    std::unique_ptr<Database> db = OpenOrDie(Durable(dir));
    for (const auto& step : Script()) step(*db);
  }
  {
    // A new log segment, then a snapshot that drops the one before it.
    std::unique_ptr<Database> db = OpenOrDie(Durable(dir));
    ASSERT_EQ(db->Upsert(R"({"id":"before"})").accepted, 1u);
    ASSERT_TRUE(db->WriteSnapshot().ok());
    ASSERT_EQ(db->Upsert(R"({"id":"after"})").accepted, 1u);
  }
  int snapshots = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().filename().string().starts_with("snapshot-")) {
      fs::remove(entry.path());
      ++snapshots;
    }
  }
  ASSERT_EQ(snapshots, 1);
  Result<std::unique_ptr<Database>> db = Database::Open(Durable(dir), nullptr);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), ErrorCode::kCorrupt) << db.status().ToString();
  EXPECT_NE(db.status().message().find("in no snapshot"), std::string::npos)
      << db.status().ToString();
  fs::remove_all(dir);
}

// What a restart from a snapshot must keep beyond the data: the layers and
// event layers as they were (serials, sizes, dead and stale rows), and the
// id and identity tables that later writes consult.
std::string Shape(const Database& db) {
  std::string out;
  for (const Snapshot::LayerInfo& layer : db.Read()->Layers()) {
    out += std::string(layer.events ? "e" : "") + std::to_string(layer.serial) +
           ":" + std::to_string(layer.size) + "-" + std::to_string(layer.dead) +
           "~" + std::to_string(layer.stale) + " ";
  }
  return out;
}

std::string Lookups(const Database& db, int ids) {
  const std::shared_ptr<const Snapshot> s = db.Read();
  std::string out;
  for (int k = 0; k < ids; ++k) {
    const std::string handle = "+91" + std::to_string(k);
    out += s->ProfileByIdentity("whatsapp", handle).value_or("-") + "\n";
    out += s->HasProfile("p" + std::to_string(k)) ? "y" : "n";
  }
  return out;
}

TEST(DurabilityTest, ARestartFromASnapshotGoesOnAsIfNoneHappened) {
  // Two databases take the same random writes; one of them is closed and
  // opened again from a fresh snapshot every few dozen, at every stage of
  // its layers (base with dead rows, layers waiting to merge, the newest).
  // Each time it must hold the other's state, layers included, and the
  // writes after it (identity claims, re-created ids, merges) must go the
  // same way in both.
  constexpr int kIds = 40;
  const std::string dir = TempDir("restarts");
  const std::string twin_dir = TempDir("restarts_twin");
  std::unique_ptr<Database> db = OpenOrDie(Durable(dir));
  std::unique_ptr<Database> twin = OpenOrDie(Durable(twin_dir));
  std::mt19937 rng(7);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  auto id = [&] { return "p" + std::to_string(pick(kIds)); };
  SegmentDefinition list;
  list.kind = SavedSegment::Kind::kStatic;
  list.ids = {"p1", "p2", "p3"};
  SegmentDefinition busy;
  busy.rule_json = R"({"field":"orders","op":"gte","value":3})";
  for (Database* d : {db.get(), twin.get()}) {
    ASSERT_TRUE(d->Declare({{"orders", AttrType::kNumber}}).ok());
    ASSERT_TRUE(d->SaveSegment("list", list, nullptr, kNow).ok());
    ASSERT_TRUE(d->SaveSegment("busy", busy, nullptr, kNow).ok());
  }
  int restarts = 0;
  for (int step = 0; step < 600; ++step) {
    const int kind = pick(8);
    const std::string a = id(), b = id();
    const int orders = pick(6), day = pick(9);
    const std::string upsert =
        R"({"id":")" + a + R"(","city":")" + (pick(2) ? "Pune" : "Delhi") +
        R"(","orders":)" + std::to_string(pick(6)) + R"(,"name":"n)" +
        std::to_string(pick(9)) + R"(","identities":{"whatsapp":"+91)" +
        std::to_string(pick(kIds)) + R"("}})";
    std::string got[2];
    Database* both[2] = {db.get(), twin.get()};
    for (int k = 0; k < 2; ++k) {
      Database& d = *both[k];
      switch (kind) {
        case 0:
        case 1:
          got[k] = d.Upsert(upsert).status.ToString();
          break;
        case 2:
          got[k] = d.Patch(a, R"({"orders":)" + std::to_string(orders) + "}")
                       .ToString();
          break;
        case 3:
          got[k] = d.Delete(a).ToString();
          break;
        case 4:
          got[k] = d.Merge(a, b).ToString();
          break;
        case 5:
          got[k] = d.AppendEvents(R"({"id":")" + a +
                                  R"(","name":"visit","at":"2026-11-1)" +
                                  std::to_string(day) + R"("})")
                       .status.ToString();
          break;
        case 6:
          got[k] =
              d.UpdateTags(a, std::vector<std::string>{"vip"}, {}).ToString();
          break;
        case 7:
          got[k] = d.EditMembers("list", std::vector<std::string>{a},
                                 std::vector<std::string>{b})
                       .status()
                       .ToString();
          break;
      }
    }
    ASSERT_EQ(got[0], got[1]) << "step " << step;
    if (step % 97 == 50) {
      db->MergeNow();
      twin->MergeNow();
    }
    if (step % 37 == 36) {
      ASSERT_TRUE(db->WriteSnapshot().ok());
      db.reset();
      RecoveryReport report;
      db = OpenOrDie(Durable(dir), &report);
      ASSERT_NE(db, nullptr);
      EXPECT_EQ(report.records, 0u);
      ++restarts;
      ASSERT_EQ(Shape(*db), Shape(*twin)) << "step " << step;
      ASSERT_EQ(Fingerprint(*db), Fingerprint(*twin)) << "step " << step;
      ASSERT_EQ(Lookups(*db, kIds), Lookups(*twin, kIds)) << "step " << step;
    }
  }
  EXPECT_GE(restarts, 15);
  EXPECT_EQ(Fingerprint(*db), Fingerprint(*twin));
  db.reset();
  twin.reset();
  fs::remove_all(dir);
  fs::remove_all(twin_dir);
}

TEST(DurabilityTest, ASnapshotOfTheFirstFormatIsRefusedWithTheWayOut) {
  const std::string dir = TempDir("oldsnap");
  {
    std::ofstream out(dir + "/" + SnapshotFileName(7), std::ios::binary);
    out << "SEGDSNP1" << std::string(40, '\0');
  }
  Result<std::unique_ptr<Database>> db = Database::Open(Durable(dir), nullptr);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), ErrorCode::kCorrupt);
  EXPECT_NE(db.status().message().find("--load"), std::string::npos)
      << db.status().ToString();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace segd
