// Durability end to end (SPEC §6): `segd serve --data-dir` killed with
// SIGKILL at random moments while clients write, restarted, and checked for
// every acknowledged write; a clean stop and restart; a failed fsync; the
// directory's lock; `segd verify`.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/http_client.h"
#include "tests/segd_server.h"

namespace segd {
namespace {

using ::segd::testing::HttpClient;
using ::segd::testing::HttpResponse;
using ::segd::testing::ParseResponse;
using ::segd::testing::ScopedTempDir;
using ::segd::testing::SegdServer;

// The number at `pointer` in a JSON body, or -1.
int64_t NumberAt(const std::string& body, const char* pointer) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  int64_t n;
  if (parser.parse(body).get(root) || root.at_pointer(pointer).get(n)) {
    return -1;
  }
  return n;
}

size_t ArraySizeAt(const std::string& body, const char* pointer) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::array array;
  if (parser.parse(body).get(root) || root.at_pointer(pointer).get(array)) {
    return 0;
  }
  return array.size();
}

int ExitCode(int wait_status) {
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
}

int RunCommand(const std::string& command) {
  return ExitCode(std::system((command + " >/dev/null 2>&1").c_str()));
}

TEST(DurabilityE2eTest, RestartAfterSigtermServesTheSameData) {
  const ScopedTempDir temp("restart");
  SegdServer::Options options;
  options.data_dir = temp.path() + "/data";
  {
    SegdServer first(options);
    ASSERT_TRUE(first.started()) << first.Describe();
    HttpClient http(first.port());
    ASSERT_EQ(http.Post("/v1/profiles",
                        R"({"id":"keep-1","name":"Kept","city":"Pune"})"
                        "\n"
                        R"({"id":"keep-2"})",
                        "application/x-ndjson")
                  .status,
              200);
    ASSERT_EQ(
        http.Put("/v1/segments/kept", R"({"members":["keep-1","keep-2"]})")
            .status,
        200);
    ASSERT_EQ(http.Put("/v1/segments/pune",
                       R"({"rule":{"field":"city","op":"eq","value":"pune"}})")
                  .status,
              200);
    ASSERT_EQ(http.Post("/v1/events",
                        R"({"id":"keep-1","name":"visit","at":"2026-11-20"})")
                  .status,
              200);
    EXPECT_EQ(ExitCode(first.Stop(SIGTERM)), 0);
  }
  SegdServer second(options);
  ASSERT_TRUE(second.started()) << second.Describe();
  HttpClient http(second.port());
  const HttpResponse p = http.Get("/v1/profiles/keep-1");
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_NE(p.body.find("\"name\":\"Kept\""), std::string::npos) << p.body;
  EXPECT_EQ(ArraySizeAt(p.body, "/events"), 1u) << p.body;
  EXPECT_EQ(NumberAt(http.Get("/v1/segments/kept").body, "/count"), 2);
  EXPECT_EQ(NumberAt(http.Get("/v1/segments/pune").body, "/count"), 1);
}

// SPEC §5: SIGTERM finishes the requests in flight. A request sent whole
// before the signal is one, whether the server had begun to read it, only
// accepted its connection, or not even that: it is answered, and what it
// wrote is there after the stop.
TEST(DurabilityE2eTest, ARequestSentWholeBeforeSigtermIsAnswered) {
  const ScopedTempDir temp("term");
  SegdServer::Options options;
  options.data_dir = temp.path() + "/data";
  constexpr int kRounds = 12, kLines = 500;
  for (int round = 0; round < kRounds; ++round) {
    SegdServer server(options);
    ASSERT_TRUE(server.started()) << server.Describe();
    std::string body;
    for (int k = 0; k < kLines; ++k) {
      body += R"({"id":"term-)" + std::to_string(round) + "-" +
              std::to_string(k) + R"(","city":"Pune"})" + "\n";
    }
    const std::string request =
        "POST /v1/profiles HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/x-ndjson\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
    const auto deadline =
        ::segd::testing::internal::Clock::now() + std::chrono::seconds(30);
    const int fd = ::segd::testing::internal::ConnectLoopback(server.port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(::segd::testing::internal::SendAll(fd, request, deadline));
    ::kill(server.pid(), SIGTERM);
    std::string received;
    char chunk[4096];
    while (::segd::testing::internal::WaitFor(fd, POLLIN, deadline)) {
      const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      received.append(chunk, static_cast<size_t>(n));
    }
    ::close(fd);
    const int exit_code = ExitCode(server.Stop(SIGTERM));
    EXPECT_EQ(ParseResponse(received).status, 200)
        << "round " << round << ": " << received.substr(0, 200) << "\n"
        << server.Describe();
    EXPECT_EQ(exit_code, 0);
  }
  SegdServer last(options);
  ASSERT_TRUE(last.started()) << last.Describe();
  HttpClient http(last.port());
  const HttpResponse count =
      http.Post("/v1/query", R"({"rule":{"all":[]},"limit":0})");
  EXPECT_EQ(NumberAt(count.body, "/count"), kRounds * kLines) << count.body;
}

// A file loaded at start, and the writes made on what it holds, survive a
// SIGKILL: the load is saved as a snapshot before the server is ready. The
// same --load at the next start finds the directory holding data, and
// leaves it as it is.
TEST(DurabilityE2eTest, ALoadedFileSurvivesAKill) {
  const ScopedTempDir temp("load");
  const std::string file = temp.path() + "/load.ndjson";
  std::ofstream(file) << R"({"id":"L1","name":"Loaded One","city":"Pune"})"
                      << "\n"
                      << R"({"id":"L2","name":"Loaded Two"})"
                      << "\n";
  SegdServer::Options options;
  options.data_dir = temp.path() + "/data";
  {
    SegdServer::Options loading = options;
    loading.args = {"--load", file};
    SegdServer first(loading);
    ASSERT_TRUE(first.started()) << first.Describe();
    HttpClient http(first.port());
    ASSERT_EQ(http.Patch("/v1/profiles/L1", R"({"vip":true})").status, 200);
    ASSERT_EQ(http.Put("/v1/segments/s", R"({"members":["L1","L2"]})").status,
              200);
    first.Stop(SIGKILL);
  }
  for (const bool load_again : {false, true}) {
    SCOPED_TRACE(load_again ? "--load again" : "no --load");
    SegdServer::Options restart = options;
    if (load_again) restart.args = {"--load", file};
    SegdServer server(restart);
    ASSERT_TRUE(server.started()) << server.Describe();
    HttpClient http(server.port());
    const HttpResponse p = http.Get("/v1/profiles/L1");
    ASSERT_EQ(p.status, 200) << p.body;
    EXPECT_NE(p.body.find("\"vip\":true"), std::string::npos) << p.body;
    EXPECT_EQ(http.Get("/v1/profiles/L2").status, 200);
    EXPECT_EQ(NumberAt(http.Get("/v1/segments/s").body, "/count"), 2);
    server.Stop(SIGKILL);
  }
}

// Writers record what was acknowledged; the server dies with SIGKILL at a
// random moment; after a restart every acknowledged write is there (and
// nothing newer than what was sent).
TEST(DurabilityE2eTest, KilledAtRandomMomentsLosesNoAcknowledgedWrite) {
  const ScopedTempDir temp("kill");
  SegdServer::Options options;
  options.data_dir = temp.path() + "/data";
  constexpr int kRounds = 50;
  constexpr int kIds = 8;  // per writer
  constexpr int kWriters = 3;
  // Per writer and id: the last value sent, and the last acknowledged.
  std::vector<std::vector<int64_t>> sent(kWriters, std::vector<int64_t>(kIds)),
      acked(kWriters, std::vector<int64_t>(kIds));
  int64_t events_sent = 0, events_acked = 0;
  std::mt19937 random(20261202);
  uint64_t acknowledged = 0;

  // Writer 1's segments: the description holds the last value written.
  auto check_segments = [&](HttpClient& http, int round) {
    for (int k = 0; k < kIds; ++k) {
      if (acked[1][k] == 0) continue;
      const std::string name = "s-w1-" + std::to_string(k);
      const HttpResponse r = http.Get("/v1/segments/" + name);
      ASSERT_EQ(r.status, 200) << "round " << round << " lost " << name;
      const size_t at = r.body.find("\"description\":\"");
      ASSERT_NE(at, std::string::npos);
      const int64_t v = std::atoll(r.body.c_str() + at + 15);
      EXPECT_GE(v, acked[1][k]) << "round " << round << " " << name;
      EXPECT_LE(v, sent[1][k]) << "round " << round << " " << name;
    }
  };

  for (int round = 0; round < kRounds; ++round) {
    SegdServer server(options);
    ASSERT_TRUE(server.started())
        << "round " << round << ": " << server.Describe();
    HttpClient check(server.port());
    // Writer 0's profiles hold the last value written in `v`.
    for (int k = 0; k < kIds; ++k) {
      if (acked[0][k] == 0) continue;
      const std::string id = "w0-" + std::to_string(k);
      const HttpResponse r = check.Get("/v1/profiles/" + id);
      ASSERT_EQ(r.status, 200) << "round " << round << " lost " << id;
      const int64_t v = NumberAt(r.body, "/v");
      EXPECT_GE(v, acked[0][k]) << "round " << round << " " << id;
      EXPECT_LE(v, sent[0][k]) << "round " << round << " " << id;
    }
    check_segments(check, round);
    if (events_acked > 0) {
      const HttpResponse r = check.Get("/v1/profiles/ev");
      ASSERT_EQ(r.status, 200);
      const int64_t n = static_cast<int64_t>(ArraySizeAt(r.body, "/events"));
      EXPECT_GE(n, events_acked) << "round " << round;
      EXPECT_LE(n, events_sent) << "round " << round;
    } else {
      check.Post("/v1/profiles", R"({"id":"ev"})");
    }

    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        HttpClient http(server.port());
        for (int i = 0; !stop.load(); ++i) {
          const int k = i % kIds;
          if (w == 2) {  // events, appended to one profile
            ++events_sent;
            const HttpResponse r = http.Post(
                "/v1/events", R"({"id":"ev","name":"tick","at":"2026-11-20"})");
            if (r.status != 200) break;
            ++events_acked;
            continue;
          }
          const std::string id =
              "w" + std::to_string(w) + "-" + std::to_string(k);
          const int64_t v = ++sent[w][k];
          const HttpResponse r =
              w == 0
                  ? http.Post("/v1/profiles", R"({"id":")" + id + R"(","v":)" +
                                                  std::to_string(v) + "}")
                  : http.Put("/v1/segments/s-" + id,
                             R"({"rule":{"all":[]},"description":")" +
                                 std::to_string(v) + "\"}");
          if (r.status != 200) break;  // the server is gone
          if (w == 0) acked[w][k] = v;
          if (w == 1) acked[w][k] = v;
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(
        std::uniform_int_distribution(5, 120)(random)));
    server.Stop(SIGKILL);
    stop.store(true);
    for (std::thread& t : writers) t.join();
    for (int k = 0; k < kIds; ++k) acknowledged += acked[0][k] + acked[1][k];

    SegdServer after(options);
    ASSERT_TRUE(after.started()) << after.Describe();
    HttpClient again(after.port());
    check_segments(again, round);
    after.Stop(SIGKILL);  // killed idle, too
  }
  EXPECT_GT(acknowledged, 0u);  // the writes did happen
  EXPECT_GT(events_acked, 0);
}

TEST(DurabilityE2eTest, AFailedFsyncStopsWritesAndSaysWhy) {
  SegdServer::Options options;
  options.env = {{"SEGD_TEST_FAIL_NEXT_SYNC", "1"}};
  SegdServer server(options);
  ASSERT_TRUE(server.started()) << server.Describe();
  HttpClient http(server.port());
  EXPECT_EQ(http.Post("/v1/profiles", R"({"id":"a"})").status, 503);
  const HttpResponse health = http.Get("/healthz");
  EXPECT_EQ(health.status, 200);  // reads go on
  EXPECT_NE(health.body.find("\"writes\":\"stopped\""), std::string::npos)
      << health.body;
  EXPECT_NE(health.body.find("fdatasync"), std::string::npos) << health.body;
  EXPECT_NE(http.Get("/metrics").body.find("segd_writes_enabled 0"),
            std::string::npos);
  // Never retried: later writes are refused too.
  EXPECT_EQ(http.Patch("/v1/profiles/a", R"({"n":1})").status, 503);
  EXPECT_EQ(http.Put("/v1/segments/x", R"({"rule":{"all":[]}})").status, 503);
  EXPECT_EQ(http.Get("/v1/segments").status, 200);
  EXPECT_NE(server.Describe().find("writes are stopped"), std::string::npos)
      << server.Describe();
}

TEST(DurabilityE2eTest, ASecondServerOnALockedDirectoryExitsAtOnce) {
  const ScopedTempDir temp("lock");
  SegdServer::Options options;
  options.data_dir = temp.path() + "/data";
  SegdServer first(options);
  ASSERT_TRUE(first.started()) << first.Describe();
  options.wait_ready = false;
  SegdServer second(options);
  ASSERT_TRUE(second.WaitForOutput("listening")) << second.Describe();
  // It exits on its own, non-zero, saying why: Stop with no signal waits
  // for that (and kills it after 30 s, which fails the test).
  const int status = second.Stop(0);
  EXPECT_FALSE(second.killed()) << second.Describe();
  EXPECT_EQ(ExitCode(status), 1) << second.Describe();
  EXPECT_NE(second.Describe().find("in use by segd"), std::string::npos)
      << second.Describe();
  EXPECT_EQ(HttpClient(first.port()).Get("/healthz").status, 200);
}

TEST(DurabilityE2eTest, VerifyTellsSoundTornAndCorruptApart) {
  const ScopedTempDir temp("verify");
  const std::string dir = temp.path() + "/data";
  SegdServer::Options options;
  options.data_dir = dir;
  {
    SegdServer server(options);
    ASSERT_TRUE(server.started()) << server.Describe();
    HttpClient http(server.port());
    for (int i = 0; i < 5; ++i) {
      ASSERT_EQ(
          http.Post("/v1/profiles", R"({"id":"v)" + std::to_string(i) + R"("})")
              .status,
          200);
    }
  }
  const std::string segd = SEGD_BINARY;
  EXPECT_EQ(RunCommand(segd + " verify " + dir), 0);
  EXPECT_EQ(RunCommand(segd + " verify " + temp.path() + "/nothing"), 2);
  std::string log;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename().string().starts_with("wal-") &&
        entry.file_size() > 0) {
      log = entry.path();
    }
  }
  ASSERT_FALSE(log.empty());
  const uintmax_t size = std::filesystem::file_size(log);
  std::filesystem::resize_file(log, size - 3);  // torn: normal after a crash
  EXPECT_EQ(RunCommand(segd + " verify " + dir), 0);
  {
    std::fstream io(log, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(20);  // inside the first record, with valid ones after it
    io.put('\x7f');
  }
  EXPECT_EQ(RunCommand(segd + " verify " + dir), 1);
}

}  // namespace
}  // namespace segd
