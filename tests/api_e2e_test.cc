// `segd serve` end to end (SPEC §1-§5): the real binary, started on a free
// loopback port with a fresh data directory, driven over HTTP/1.1 with the
// small client of tests/http_client.h.
//
// Each suite shares one server, started in SetUpTestSuite and stopped with
// SIGTERM in TearDownTestSuite; tests that need their own flags start their
// own. Tests of one suite share its data, so each test uses ids, attribute
// names and a `test` value of its own (counts are scoped by `test`).
//
// Where the server and SPEC.md disagree, the test asserts what SPEC.md says.
// No test asserts on time; every wait is bounded so that a hang fails.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "tests/http_client.h"
#include "tests/segd_server.h"
#include "tools/gen.h"

namespace segd {
namespace {

using ::segd::testing::Clip;
using ::segd::testing::HttpClient;
using ::segd::testing::HttpResponse;
using ::segd::testing::ParseResponse;
using ::segd::testing::RawExchange;
using ::segd::testing::RawResult;
using ::segd::testing::ScopedTempDir;
using ::segd::testing::SegdServer;
using ::testing::AssertionFailure;
using ::testing::AssertionResult;
using ::testing::AssertionSuccess;

// --- JSON answers ----------------------------------------------------------

// A parsed JSON text; its own parser, so several can live at once.
class Json {
 public:
  explicit Json(std::string_view text)
      : text_(text), parser_(std::make_unique<simdjson::dom::parser>()) {
    ok_ = parser_->parse(text_).get(root_) == simdjson::SUCCESS;
  }
  explicit Json(const HttpResponse& response) : Json(response.body) {}

  bool ok() const { return ok_; }
  const std::string& text() const { return text_; }

  // The element at a JSON pointer ("" for the root).
  std::optional<simdjson::dom::element> Find(std::string_view pointer) const {
    if (!ok_) return std::nullopt;
    simdjson::dom::element e;
    if (root_.at_pointer(pointer).get(e)) return std::nullopt;
    return e;
  }
  bool Has(std::string_view pointer) const { return Find(pointer).has_value(); }

  simdjson::dom::element At(std::string_view pointer) const {
    if (std::optional<simdjson::dom::element> e = Find(pointer)) return *e;
    ADD_FAILURE() << "no " << pointer << " in " << Clip(text_);
    static const Json* const kNull = new Json("null");
    return kNull->root_;
  }
  int64_t Int(std::string_view pointer) const {
    int64_t v = -1;
    if (At(pointer).get_int64().get(v)) {
      ADD_FAILURE() << pointer << " is not an integer in " << Clip(text_);
    }
    return v;
  }
  double Number(std::string_view pointer) const {
    double v = -1;
    if (At(pointer).get_double().get(v)) {
      ADD_FAILURE() << pointer << " is not a number in " << Clip(text_);
    }
    return v;
  }
  std::string Str(std::string_view pointer) const {
    std::string_view v;
    if (At(pointer).get_string().get(v)) {
      ADD_FAILURE() << pointer << " is not a string in " << Clip(text_);
    }
    return std::string(v);
  }
  bool Bool(std::string_view pointer) const {
    bool v = false;
    if (At(pointer).get_bool().get(v)) {
      ADD_FAILURE() << pointer << " is not a boolean in " << Clip(text_);
    }
    return v;
  }
  bool IsNull(std::string_view pointer) const {
    std::optional<simdjson::dom::element> e = Find(pointer);
    return e && e->is_null();
  }
  // The size of an array or object.
  size_t Size(std::string_view pointer) const {
    simdjson::dom::element e = At(pointer);
    simdjson::dom::array a;
    if (!e.get_array().get(a)) return a.size();
    simdjson::dom::object o;
    if (!e.get_object().get(o)) return o.size();
    ADD_FAILURE() << pointer << " is no array or object in " << Clip(text_);
    return 0;
  }
  std::vector<std::string> Strings(std::string_view pointer) const {
    std::vector<std::string> out;
    simdjson::dom::array a;
    if (At(pointer).get_array().get(a)) {
      ADD_FAILURE() << pointer << " is not an array in " << Clip(text_);
      return out;
    }
    for (simdjson::dom::element e : a) {
      std::string_view s;
      if (e.get_string().get(s)) {
        ADD_FAILURE() << pointer << " holds a non-string in " << Clip(text_);
      }
      out.emplace_back(s);
    }
    return out;
  }
  // The `id` of every object of an array (a members list).
  std::vector<std::string> Ids(std::string_view pointer = "/members") const {
    std::vector<std::string> out;
    simdjson::dom::array a;
    if (At(pointer).get_array().get(a)) {
      ADD_FAILURE() << pointer << " is not an array in " << Clip(text_);
      return out;
    }
    for (simdjson::dom::element e : a) {
      std::string_view id;
      if (e["id"].get_string().get(id)) {
        ADD_FAILURE() << "a member without a string id in " << Clip(text_);
      }
      out.emplace_back(id);
    }
    return out;
  }
  std::set<std::string> Keys(std::string_view pointer) const {
    std::set<std::string> out;
    simdjson::dom::object o;
    if (At(pointer).get_object().get(o)) {
      ADD_FAILURE() << pointer << " is not an object in " << Clip(text_);
      return out;
    }
    for (auto field : o) out.emplace(field.key);
    return out;
  }
  // Each element of an array, in the canonical form of Canonical().
  std::vector<std::string> Elements(std::string_view pointer) const;
  std::string Canonical(std::string_view pointer = "") const;

 private:
  std::string text_;
  std::unique_ptr<simdjson::dom::parser> parser_;
  simdjson::dom::element root_;
  bool ok_ = false;
};

std::string JsonQuote(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      char escape[8];
      std::snprintf(escape, sizeof(escape), "\\u%04x", c);
      out += escape;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}

// Minified JSON with object keys sorted: two values are the same JSON
// when their canonical forms are equal.
std::string CanonicalOf(simdjson::dom::element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::ARRAY: {
      std::string out = "[";
      bool first = true;
      for (simdjson::dom::element x : e.get_array()) {
        if (!first) out += ",";
        first = false;
        out += CanonicalOf(x);
      }
      return out + "]";
    }
    case simdjson::dom::element_type::OBJECT: {
      std::vector<std::pair<std::string, std::string>> fields;
      for (auto field : e.get_object()) {
        fields.emplace_back(std::string(field.key), CanonicalOf(field.value));
      }
      std::sort(fields.begin(), fields.end());
      std::string out = "{";
      for (size_t i = 0; i < fields.size(); ++i) {
        if (i > 0) out += ",";
        out += JsonQuote(fields[i].first) + ":" + fields[i].second;
      }
      return out + "}";
    }
    default:
      return simdjson::minify(e);
  }
}

std::vector<std::string> Json::Elements(std::string_view pointer) const {
  std::vector<std::string> out;
  simdjson::dom::array a;
  if (At(pointer).get_array().get(a)) {
    ADD_FAILURE() << pointer << " is not an array in " << Clip(text_);
    return out;
  }
  for (simdjson::dom::element e : a) out.push_back(CanonicalOf(e));
  return out;
}

std::string Json::Canonical(std::string_view pointer) const {
  return CanonicalOf(At(pointer));
}

// --- Checks ----------------------------------------------------------------

AssertionResult HasStatus(const HttpResponse& r, int status) {
  if (r.status == status) return AssertionSuccess();
  return AssertionFailure() << "status " << r.status << " (wanted " << status
                            << ")" << (r.error.empty() ? "" : ", " + r.error)
                            << ", body: " << Clip(r.body);
}

constexpr int kAny4xx = -4;

// An error answer of SPEC §5: `status` (kAny4xx: any 4xx) and a JSON body
// {"error": {"code": "...", "message": "...", "path": "..."}}, with `path`
// when given.
AssertionResult IsError(const HttpResponse& r, int status,
                        std::optional<std::string> path = std::nullopt) {
  const bool status_ok = status == kAny4xx ? r.status >= 400 && r.status < 500
                                           : r.status == status;
  if (!status_ok) {
    return AssertionFailure()
           << "status " << r.status << " (wanted "
           << (status == kAny4xx ? std::string("4xx") : std::to_string(status))
           << ")" << (r.error.empty() ? "" : ", " + r.error)
           << ", body: " << Clip(r.body);
  }
  const std::optional<std::string> type = r.Header("Content-Type");
  if (!type || !type->starts_with("application/json")) {
    return AssertionFailure()
           << "error Content-Type is " << type.value_or("(none)");
  }
  Json body(r.body);
  if (!body.ok()) return AssertionFailure() << "not JSON: " << Clip(r.body);
  simdjson::dom::object root, error;
  if (body.At("").get_object().get(root) || root.size() != 1 ||
      !body.Find("/error") || body.At("/error").get_object().get(error)) {
    return AssertionFailure() << "not {\"error\": {...}}: " << Clip(r.body);
  }
  std::string_view code, message, where;
  if (error["code"].get_string().get(code) || code.empty() ||
      error["message"].get_string().get(message) || message.empty() ||
      error["path"].get_string().get(where)) {
    return AssertionFailure()
           << "error lacks a code, message or path: " << Clip(r.body);
  }
  if (path && where != *path) {
    return AssertionFailure() << "error path \"" << where << "\" (wanted \""
                              << *path << "\"): " << Clip(r.body);
  }
  return AssertionSuccess();
}

AssertionResult IsErrorUnder(const HttpResponse& r, int status,
                             std::string_view prefix) {
  AssertionResult shape = IsError(r, status);
  if (!shape) return shape;
  const std::string path = Json(r).Str("/error/path");
  if (path.starts_with(prefix)) return AssertionSuccess();
  return AssertionFailure() << "error path \"" << path << "\" is not under \""
                            << prefix << "\": " << Clip(r.body);
}

// Percent-encodes every byte but the unreserved ones (RFC 3986).
std::string Encode(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::vector<std::string> NonBlankLines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string line(text.substr(0, eol));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") != std::string::npos) {
      out.push_back(std::move(line));
    }
    if (eol == std::string_view::npos) break;
    text.remove_prefix(eol + 1);
  }
  return out;
}

// RFC 4180: quoted cells with "" for a quote; CRLF or LF ends a row.
std::vector<std::vector<std::string>> ParseCsv(std::string_view text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string cell;
  bool in_quotes = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        cell.push_back('"');
        ++i;
      } else if (c == '"') {
        in_quotes = false;
      } else {
        cell.push_back(c);
      }
    } else if (c == '"') {
      in_quotes = true;
    } else if (c == ',') {
      row.push_back(std::move(cell));
      cell.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      continue;
    } else if (c == '\n') {
      row.push_back(std::move(cell));
      cell.clear();
      rows.push_back(std::move(row));
      row.clear();
    } else {
      cell.push_back(c);
    }
  }
  if (!cell.empty() || !row.empty()) {
    row.push_back(std::move(cell));
    rows.push_back(std::move(row));
  }
  return rows;
}

// The target of a `Link: <TARGET>; rel="next"` header, or "".
std::string NextLink(const HttpResponse& r) {
  const std::optional<std::string> link = r.Header("Link");
  if (!link) return "";
  const size_t open = link->find('<');
  const size_t close = link->find('>');
  if (open == std::string::npos || close == std::string::npos ||
      link->find("rel=\"next\"", close) == std::string::npos) {
    ADD_FAILURE() << "not a rel=\"next\" link: " << *link;
    return "";
  }
  return link->substr(open + 1, close - open - 1);
}

// --- Requests --------------------------------------------------------------

// Ingests NDJSON and checks that every record is accepted.
void IngestAll(HttpClient& http, std::string_view ndjson) {
  const HttpResponse r =
      http.Post("/v1/profiles", ndjson, "application/x-ndjson");
  ASSERT_TRUE(HasStatus(r, 200));
  Json body(r);
  EXPECT_EQ(body.Size("/rejected"), 0u) << r.body;
}

// The count of a rule (a JSON text), or -1.
int64_t Count(HttpClient& http, std::string_view rule) {
  const HttpResponse r = http.Post(
      "/v1/query", "{\"rule\":" + std::string(rule) + ",\"limit\":0}");
  if (r.status != 200) {
    ADD_FAILURE() << "count of " << rule << ": " << r.status << " "
                  << Clip(r.body);
    return -1;
  }
  return Json(r).Int("/count");
}

// The ids of a rule's members, in row order.
std::vector<std::string> MemberIds(HttpClient& http, std::string_view rule) {
  const HttpResponse r = http.Post(
      "/v1/query", "{\"rule\":" + std::string(rule) + ",\"limit\":10000}");
  if (r.status != 200) {
    ADD_FAILURE() << "members of " << rule << ": " << r.status << " "
                  << Clip(r.body);
    return {};
  }
  return Json(r).Ids();
}

std::string TestIs(std::string_view value) {
  return R"({"field":"test","op":"eq","value":")" + std::string(value) + "\"}";
}

std::set<std::string> AsSet(const std::vector<std::string>& v) {
  return std::set<std::string>(v.begin(), v.end());
}

// --- Fixtures --------------------------------------------------------------

// One server for all tests of `Suite`. A suite may define
// `static SegdServer::Options ServerOptions()` for its flags,
// `static void Seed(HttpClient&)` for data every test of it reads, and
// `static testing::Headers DefaultHeaders()`.
template <typename Suite>
class ServedTest : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    server_ = std::make_unique<SegdServer>(Suite::ServerOptions());
    if (server_->started()) {
      HttpClient http(server_->port());
      for (const auto& [name, value] : Suite::DefaultHeaders()) {
        http.SetDefaultHeader(name, value);
      }
      Suite::Seed(http);
    }
  }
  static void TearDownTestSuite() {
    if (server_ != nullptr) {
      const int status = server_->Stop(SIGTERM);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << "segd did not stop cleanly: wait status " << status << "\n"
          << server_->Describe();
    }
    server_.reset();
  }
  static SegdServer::Options ServerOptions() { return {}; }
  static void Seed(HttpClient&) {}
  static ::segd::testing::Headers DefaultHeaders() { return {}; }

 protected:
  void SetUp() override {
    ASSERT_TRUE(server_ != nullptr && server_->started())
        << (server_ ? server_->Describe() : "no server");
    client_ = std::make_unique<HttpClient>(server_->port());
    for (const auto& [name, value] : Suite::DefaultHeaders()) {
      client_->SetDefaultHeader(name, value);
    }
  }
  HttpClient& http() { return *client_; }
  static uint16_t port() { return server_->port(); }

  static inline std::unique_ptr<SegdServer> server_;
  std::unique_ptr<HttpClient> client_;
};

// ===========================================================================
// Profiles, identities and events (SPEC §1, §5)
// ===========================================================================

class ProfilesApiTest : public ServedTest<ProfilesApiTest> {};

TEST_F(ProfilesApiTest, NdjsonBatchKeepsGoodLinesAndReportsBadOnesByLine) {
  const std::string body =
      R"({"id":"nd-1","test":"nd","nd_orders":3,"city":"Pune"})"
      "\n"
      "\n"
      R"({"id":"nd-2","test":"nd","nd_orders":"three"})"
      "\n"
      "   \n"
      R"({"id":"nd-3","test":"nd","nd_orders":5})"
      "\n"
      R"({"id":"nd-4","test":"nd",)"
      "\n"
      R"({"id":"nd-5","test":"nd","events":[{"name":"nd_ev"}]})"
      "\n"
      R"({"id":"nd-6","test":"nd"})"
      "\n";
  const HttpResponse r =
      http().Post("/v1/profiles", body, "application/x-ndjson");
  ASSERT_TRUE(HasStatus(r, 200));
  Json answer(r);
  EXPECT_EQ(answer.Int("/accepted"), 3);
  ASSERT_EQ(answer.Size("/rejected"), 3u) << r.body;
  // Blank lines are skipped but counted.
  EXPECT_EQ(answer.Int("/rejected/0/line"), 3);
  EXPECT_EQ(answer.Str("/rejected/0/id"), "nd-2");
  EXPECT_EQ(answer.Int("/rejected/1/line"), 6);
  EXPECT_EQ(answer.Int("/rejected/2/line"), 7);
  EXPECT_EQ(answer.Str("/rejected/2/id"), "nd-5");
  for (int i = 0; i < 3; ++i) {
    const std::string at = "/rejected/" + std::to_string(i) + "/error";
    EXPECT_FALSE(answer.Str(at + "/code").empty());
    EXPECT_FALSE(answer.Str(at + "/message").empty());
    EXPECT_TRUE(answer.Has(at + "/path"));
  }
  // The type conflict names the attribute, the expected and actual type.
  const std::string message = answer.Str("/rejected/0/error/message");
  EXPECT_NE(message.find("nd_orders"), std::string::npos) << message;
  EXPECT_NE(message.find("number"), std::string::npos) << message;
  EXPECT_NE(message.find("string"), std::string::npos) << message;

  EXPECT_TRUE(IsError(http().Get("/v1/profiles/nd-2"), 404));
  EXPECT_TRUE(IsError(http().Get("/v1/profiles/nd-5"), 404));
  const HttpResponse kept = http().Get("/v1/profiles/nd-1");
  ASSERT_TRUE(HasStatus(kept, 200));
  EXPECT_EQ(Json(kept).Int("/nd_orders"), 3);
  EXPECT_EQ(MemberIds(http(), TestIs("nd")),
            (std::vector<std::string>{"nd-1", "nd-3", "nd-6"}));
}

TEST_F(ProfilesApiTest, RejectedRecordFixesNoAttributeType) {
  IngestAll(http(), R"({"id":"rt-0","rt_num":1})");
  const HttpResponse r =
      http().Post("/v1/profiles",
                  R"({"id":"rt-1","rt_new":5,"rt_num":"bad"})"
                  "\n"
                  R"({"id":"rt-2","rt_new":"text"})",
                  "application/x-ndjson");
  ASSERT_TRUE(HasStatus(r, 200));
  Json answer(r);
  EXPECT_EQ(answer.Int("/accepted"), 1);
  ASSERT_EQ(answer.Size("/rejected"), 1u);
  EXPECT_EQ(answer.Int("/rejected/0/line"), 1);
  const HttpResponse schema = http().Get("/v1/schema");
  ASSERT_TRUE(HasStatus(schema, 200));
  EXPECT_EQ(Json(schema).Str("/attributes/rt_new"), "string");
  EXPECT_TRUE(IsError(http().Get("/v1/profiles/rt-1"), 404));
}

TEST_F(ProfilesApiTest, JsonArrayReportsTheElementPositionAsLine) {
  const HttpResponse r = http().Post(
      "/v1/profiles",
      R"([{"id":"ja-1","test":"ja","ja_n":1},{"id":"ja-2","test":"ja","ja_n":"x"},{"id":"ja-3","test":"ja"}])",
      "application/json");
  ASSERT_TRUE(HasStatus(r, 200));
  Json answer(r);
  EXPECT_EQ(answer.Int("/accepted"), 2);
  ASSERT_EQ(answer.Size("/rejected"), 1u) << r.body;
  EXPECT_EQ(answer.Str("/rejected/0/id"), "ja-2");
  // SPEC §5: "line is ... the 1-based position of an element of a JSON
  // array".
  EXPECT_EQ(answer.Int("/rejected/0/line"), 2) << r.body;
  EXPECT_EQ(MemberIds(http(), TestIs("ja")),
            (std::vector<std::string>{"ja-1", "ja-3"}));
}

TEST_F(ProfilesApiTest, BatchWithoutAKnownTypeIsToldByItsFirstNonBlankByte) {
  struct Case {
    std::string content_type;
    std::string body;
    std::vector<std::string> ids;
  };
  const std::vector<Case> cases = {
      {"",
       "\n  \n"
       R"([{"id":"ft-1"},{"id":"ft-2"}])",
       {"ft-1", "ft-2"}},
      {"",
       R"({"id":"ft-3"})"
       "\n"
       R"({"id":"ft-4"})",
       {"ft-3", "ft-4"}},
      {"application/x-www-form-urlencoded",
       R"({"id":"ft-5"})"
       "\n"
       R"({"id":"ft-6"})",
       {"ft-5", "ft-6"}},
      {"application/x-www-form-urlencoded", R"( [{"id":"ft-7"}])", {"ft-7"}},
      {"text/plain", R"([{"id":"ft-8"}])", {"ft-8"}},
      {"application/json; charset=utf-8", R"([{"id":"ft-9"}])", {"ft-9"}},
      {"application/x-ndjson; charset=utf-8", R"({"id":"ft-10"})", {"ft-10"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("Content-Type: " + c.content_type + ", body: " + c.body);
    const HttpResponse r = http().Post("/v1/profiles", c.body, c.content_type);
    ASSERT_TRUE(HasStatus(r, 200));
    Json answer(r);
    EXPECT_EQ(answer.Int("/accepted"), static_cast<int64_t>(c.ids.size()));
    EXPECT_EQ(answer.Size("/rejected"), 0u);
    for (const std::string& id : c.ids) {
      EXPECT_TRUE(HasStatus(http().Get("/v1/profiles/" + id), 200)) << id;
    }
  }
}

TEST_F(ProfilesApiTest, NdjsonContentTypeReadsAnArrayBodyAsOneBadLine) {
  // SPEC §5: "A batch is NDJSON when its Content-Type is
  // application/x-ndjson": line 1 is then an array, not a profile.
  const HttpResponse r =
      http().Post("/v1/profiles", R"([{"id":"nt-1"},{"id":"nt-2"}])",
                  "application/x-ndjson");
  ASSERT_TRUE(HasStatus(r, 200));
  Json answer(r);
  EXPECT_EQ(answer.Int("/accepted"), 0) << r.body;
  ASSERT_EQ(answer.Size("/rejected"), 1u) << r.body;
  EXPECT_EQ(answer.Int("/rejected/0/line"), 1);
  EXPECT_TRUE(IsError(http().Get("/v1/profiles/nt-1"), 404));
}

TEST_F(ProfilesApiTest, JsonContentTypeDoesNotReadNdjson) {
  // SPEC §5: a batch is "a JSON array when it is application/json"; two
  // objects on two lines are no JSON array, so nothing is ingested.
  const HttpResponse r = http().Post("/v1/profiles",
                                     R"({"id":"jt-1"})"
                                     "\n"
                                     R"({"id":"jt-2"})",
                                     "application/json");
  if (r.status == 200) {
    Json answer(r);
    EXPECT_EQ(answer.Int("/accepted"), 0) << r.body;
    EXPECT_GE(answer.Size("/rejected"), 1u) << r.body;
  } else {
    EXPECT_TRUE(IsError(r, 400));
  }
  EXPECT_TRUE(IsError(http().Get("/v1/profiles/jt-1"), 404));
  EXPECT_TRUE(IsError(http().Get("/v1/profiles/jt-2"), 404));
}

TEST_F(ProfilesApiTest, EmptyBatchAcceptsNothingAndIsNoError) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"application/x-ndjson", ""},
      {"", ""},
      {"application/x-ndjson", "\n\n  \n"},
      {"application/json", "[]"},
      {"", " [ ] "},
  };
  for (const auto& [type, body] : cases) {
    SCOPED_TRACE("Content-Type: " + type + ", body: \"" + body + "\"");
    const HttpResponse r = http().Post("/v1/profiles", body, type);
    ASSERT_TRUE(HasStatus(r, 200));
    Json answer(r);
    EXPECT_EQ(answer.Int("/accepted"), 0);
    EXPECT_EQ(answer.Size("/rejected"), 0u);
  }
}

constexpr std::string_view kSpecProfile =
    R"({"id": "spec-1",
 "name": "Asha Patil", "email": "asha@example.com", "phone": "+919812345678",
 "gender": "female", "birthday": "1991-04-12", "locale": "mr-IN",
 "timezone": "Asia/Kolkata", "channel": "whatsapp", "city": "Pune",
 "country": "IN", "first_seen": "2026-01-03T10:00:00Z",
 "last_seen": "2026-11-20T08:15:00Z", "signed_up": "2026-11-19",
 "web_sessions": 12, "orders": 3, "csat": 4.5, "lifecycle": "active",
 "customer_id": "shop-991", "trial_user": true,
 "tags": ["vip", "source-website"],
 "address": {"city": "Pune", "zip": "411001"},
 "identities": {"whatsapp": "+919812345678", "instagram": "@asha"},
 "events": [{"name": "visited_pricing_page", "at": "2026-11-20T08:00:00Z"},
            {"name": "order", "at": "2026-10-02T12:00:00Z"}]})";

TEST_F(ProfilesApiTest, GetReturnsTheProfileAsIngested) {
  // The SPEC §1 example, as a JSON array of one (it spans lines).
  const HttpResponse in =
      http().Post("/v1/profiles", "[" + std::string(kSpecProfile) + "]",
                  "application/json");
  ASSERT_TRUE(HasStatus(in, 200));
  ASSERT_EQ(Json(in).Int("/accepted"), 1) << in.body;

  const HttpResponse r = http().Get("/v1/profiles/spec-1");
  ASSERT_TRUE(HasStatus(r, 200));
  Json p(r);
  EXPECT_EQ(p.Str("/id"), "spec-1");
  EXPECT_EQ(p.Str("/name"), "Asha Patil");
  EXPECT_EQ(p.Str("/email"), "asha@example.com");
  EXPECT_EQ(p.Str("/phone"), "+919812345678");
  EXPECT_EQ(p.Str("/city"), "Pune");
  EXPECT_EQ(p.Str("/locale"), "mr-IN");
  // Attribute dates in the spelling they were sent.
  EXPECT_EQ(p.Str("/birthday"), "1991-04-12");
  EXPECT_EQ(p.Str("/first_seen"), "2026-01-03T10:00:00Z");
  EXPECT_EQ(p.Str("/signed_up"), "2026-11-19");
  EXPECT_EQ(p.Int("/web_sessions"), 12);
  EXPECT_EQ(p.Int("/orders"), 3);
  EXPECT_DOUBLE_EQ(p.Number("/csat"), 4.5);
  EXPECT_TRUE(p.Bool("/trial_user"));
  EXPECT_EQ(p.Strings("/tags"),
            (std::vector<std::string>{"vip", "source-website"}));
  // Nested objects as objects, not as flattened keys.
  EXPECT_EQ(p.Canonical("/address"), R"({"city":"Pune","zip":"411001"})");
  EXPECT_FALSE(p.Has("/address.city"));
  EXPECT_EQ(p.Canonical("/identities"),
            R"({"instagram":"@asha","whatsapp":"+919812345678"})");
  EXPECT_EQ(p.Str("/customer_type"), "customer");
  EXPECT_EQ(p.Size("/events"), 2u);
}

TEST_F(ProfilesApiTest, TagsSentAsAnObjectAreShownOnce) {
  IngestAll(http(), R"({"id":"tobj-1","tags":{"a":"b"}})");
  const HttpResponse r = http().Get("/v1/profiles/tobj-1");
  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Json(r).Canonical("/tags"), R"({"a":"b"})");
  EXPECT_EQ(r.body.find("\"tags\""), r.body.rfind("\"tags\"")) << r.body;
}

// A name that continues one holding a value of its own ("city" and
// "city.zone"), or a key the profile shows anyway ("events.x"), stays
// dotted, and so does a name that would leave a key empty ("a."): each key
// is shown once, and the profile shown reads back as the same attributes.
TEST_F(ProfilesApiTest, ANameAndItsContinuationAreShownOnceEach) {
  IngestAll(http(), R"({"id":"dot-1","city":"Pune","city.zone":"west",)"
                    R"("area":{"code":{"pin":"411"},"name":"Kothrud"},)"
                    R"("tags":{"a":"b"},"customer_type.x":1,"events.x":2,)"
                    R"("identities.y":3,"id.z":4,"a.":5,".b":6,"c..d":7})");
  ASSERT_TRUE(HasStatus(
      http().Post("/v1/profiles/dot-1/tags", R"({"add":["vip"]})"), 200));
  const HttpResponse r = http().Get("/v1/profiles/dot-1");
  ASSERT_TRUE(HasStatus(r, 200));
  for (const char* key : {"\"city\"", "\"tags\"", "\"customer_type\"",
                          "\"events\"", "\"identities\"", "\"id\"", "\"c\""}) {
    EXPECT_EQ(r.body.find(key), r.body.rfind(key)) << key << ": " << r.body;
  }
  const Json p(r);
  EXPECT_EQ(p.Str("/city"), "Pune");
  EXPECT_EQ(p.Str("/city.zone"), "west");
  EXPECT_EQ(p.Canonical("/area"), R"({"code":{"pin":"411"},"name":"Kothrud"})");
  EXPECT_EQ(p.Strings("/tags"), std::vector<std::string>{"vip"});
  EXPECT_EQ(p.Str("/tags.a"), "b");
  EXPECT_EQ(p.Int("/customer_type.x"), 1);
  EXPECT_EQ(p.Int("/events.x"), 2);
  EXPECT_EQ(p.Int("/identities.y"), 3);
  EXPECT_EQ(p.Int("/id.z"), 4);
  EXPECT_EQ(p.Int("/a."), 5);
  EXPECT_EQ(p.Int("/.b"), 6);
  EXPECT_EQ(p.Canonical("/c"), R"({".d":7})");

  // Ingested again under another id, it is shown the same.
  std::string again = r.body;
  again.replace(again.find("dot-1"), 5, "dot-2");
  IngestAll(http(), again);
  std::string shown = http().Get("/v1/profiles/dot-2").body;
  shown.replace(shown.find("dot-2"), 5, "dot-1");
  EXPECT_EQ(shown, r.body);
}

TEST_F(ProfilesApiTest, ABareProfileShowsEmptyTagsIdentitiesAndEvents) {
  IngestAll(http(), R"({"id":"bare-1"})");
  const HttpResponse r = http().Get("/v1/profiles/bare-1");
  ASSERT_TRUE(HasStatus(r, 200));
  const Json p(r);
  EXPECT_EQ(p.Canonical("/tags"), "[]");
  EXPECT_EQ(p.Canonical("/identities"), "{}");
  EXPECT_EQ(p.Canonical("/events"), "[]");
  EXPECT_EQ(p.Str("/customer_type"), "guest");
}

TEST_F(ProfilesApiTest, ProfileShowsEventsAscendingWithMillisecondTimes) {
  IngestAll(
      http(),
      R"({"id":"evo-1","events":[{"name":"visited_pricing_page","at":"2026-11-20T08:00:00Z"},{"name":"order","at":"2026-10-02T12:00:00Z"},{"name":"visit","at":"2026-09-01"}]})");
  const HttpResponse r = http().Get("/v1/profiles/evo-1");
  ASSERT_TRUE(HasStatus(r, 200));
  // SPEC §5: events "ascending by at, each at as ISO-8601 UTC with
  // milliseconds".
  EXPECT_EQ(
      Json(r).Canonical("/events"),
      R"([{"at":"2026-09-01T00:00:00.000Z","name":"visit"},)"
      R"({"at":"2026-10-02T12:00:00.000Z","name":"order"},)"
      R"({"at":"2026-11-20T08:00:00.000Z","name":"visited_pricing_page"}])");
}

TEST_F(ProfilesApiTest, CustomerTypeIsDerivedUntilSetAndSetUntilRemoved) {
  IngestAll(http(), R"({"id":"ct-guest"})"
                    "\n"
                    R"({"id":"ct-lead","phone":"+910000000401"})"
                    "\n"
                    R"({"id":"ct-cust","orders":1})"
                    "\n"
                    R"({"id":"ct-set","orders":4,"customer_type":"lead"})");
  auto type_of = [&](std::string_view id) {
    const HttpResponse r = http().Get("/v1/profiles/" + std::string(id));
    EXPECT_TRUE(HasStatus(r, 200)) << id;
    return Json(r).Str("/customer_type");
  };
  EXPECT_EQ(type_of("ct-guest"), "guest");
  EXPECT_EQ(type_of("ct-lead"), "lead");
  EXPECT_EQ(type_of("ct-cust"), "customer");
  EXPECT_EQ(type_of("ct-set"), "lead");
  // Derived again on every write while unset.
  ASSERT_TRUE(HasStatus(
      http().Patch("/v1/profiles/ct-guest", R"({"email":"g@x.com"})"), 200));
  EXPECT_EQ(type_of("ct-guest"), "lead");
  // A set value stays through other writes, until removed with null.
  ASSERT_TRUE(
      HasStatus(http().Patch("/v1/profiles/ct-set", R"({"orders":9})"), 200));
  EXPECT_EQ(type_of("ct-set"), "lead");
  ASSERT_TRUE(HasStatus(
      http().Patch("/v1/profiles/ct-set", R"({"customer_type":null})"), 200));
  EXPECT_EQ(type_of("ct-set"), "customer");
  EXPECT_TRUE(IsError(
      http().Patch("/v1/profiles/ct-set", R"({"customer_type":"vip"})"), 422));
  // Merge: a value set only on the other fills this one.
  IngestAll(http(), R"({"id":"ct-a","email":"a@ct.x"})"
                    "\n"
                    R"({"id":"ct-b","customer_type":"customer"})");
  const HttpResponse merged =
      http().Post("/v1/profiles/ct-a/merge", R"({"from":"ct-b"})");
  ASSERT_TRUE(HasStatus(merged, 200));
  EXPECT_EQ(Json(merged).Str("/customer_type"), "customer");
}

TEST_F(ProfilesApiTest, IdsWithSlashAndOddBytesAreReachablePercentEncoded) {
  const std::vector<std::string> ids = {"sl/ash", "odd ?#%&=\xC3\xA9", "pl+us",
                                        "semi;colon"};
  std::string batch;
  for (const std::string& id : ids) {
    batch += "{\"id\":" + JsonQuote(id) + ",\"test\":\"odd\"}\n";
  }
  IngestAll(http(), batch);
  for (const std::string& id : ids) {
    const HttpResponse r = http().Get("/v1/profiles/" + Encode(id));
    ASSERT_TRUE(HasStatus(r, 200)) << id;
    EXPECT_EQ(Json(r).Str("/id"), id);
  }
  // '+' in a path is itself, not a space.
  const HttpResponse plus = http().Get("/v1/profiles/pl+us");
  ASSERT_TRUE(HasStatus(plus, 200));
  EXPECT_EQ(Json(plus).Str("/id"), "pl+us");
  // Unencoded, the slash splits the path.
  EXPECT_TRUE(IsError(http().Get("/v1/profiles/sl/ash"), 404));
}

TEST_F(ProfilesApiTest, RecordsWithBadIdsAreRejectedOneByOne) {
  const std::string batch = R"({"id":"."})"
                            "\n"
                            R"({"id":".."})"
                            "\n"
                            R"({"id":"ctl\u0001x"})"
                            "\n"
                            R"({"id":"del\u007fx"})"
                            "\n"
                            R"({"id":""})"
                            "\n"
                            "{\"id\":\"" +
                            std::string(257, 'x') +
                            "\"}\n"
                            "{\"id\":\"" +
                            std::string(256, 'y') +
                            "\"}\n"
                            R"({"id":7})"
                            "\n"
                            R"({"name":"no id"})"
                            "\n";
  const HttpResponse r =
      http().Post("/v1/profiles", batch, "application/x-ndjson");
  ASSERT_TRUE(HasStatus(r, 200));
  Json answer(r);
  EXPECT_EQ(answer.Int("/accepted"), 1);
  std::vector<int64_t> lines;
  for (size_t i = 0; i < answer.Size("/rejected"); ++i) {
    lines.push_back(answer.Int("/rejected/" + std::to_string(i) + "/line"));
  }
  EXPECT_EQ(lines, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 8, 9}));
  EXPECT_TRUE(
      HasStatus(http().Get("/v1/profiles/" + std::string(256, 'y')), 200));
}

TEST_F(ProfilesApiTest, UnknownProfileIs404OnEveryPath) {
  EXPECT_TRUE(IsError(http().Get("/v1/profiles/nobody"), 404, ""));
  EXPECT_TRUE(IsError(http().Patch("/v1/profiles/nobody", R"({"a":1})"), 404));
  EXPECT_TRUE(IsError(http().Delete("/v1/profiles/nobody"), 404));
  EXPECT_TRUE(IsError(
      http().Post("/v1/profiles/nobody/tags", R"({"add":["x"]})"), 404));
  EXPECT_TRUE(IsError(http().Get("/v1/profiles/nobody/segments"), 404));
  IngestAll(http(), R"({"id":"un-1"})");
  EXPECT_TRUE(IsError(
      http().Post("/v1/profiles/nobody/merge", R"({"from":"un-1"})"), 404));
  EXPECT_TRUE(HasStatus(http().Get("/v1/profiles/un-1"), 200));
}

TEST_F(ProfilesApiTest, IngestingAnIdAgainReplacesTheWholeProfile) {
  IngestAll(
      http(),
      R"({"id":"rp-1","test":"rp","rp_a":1,"tags":["x"],"identities":{"email":"rp1@x.com"},"events":[{"name":"rp_ev","at":"2026-01-01"}]})"
      "\n"
      R"({"id":"rp-2","test":"rp"})");
  IngestAll(http(), R"({"id":"rp-1","test":"rp","rp_b":2})");
  const HttpResponse r = http().Get("/v1/profiles/rp-1");
  ASSERT_TRUE(HasStatus(r, 200));
  Json p(r);
  EXPECT_EQ(p.Int("/rp_b"), 2);
  EXPECT_FALSE(p.Has("/rp_a"));
  EXPECT_TRUE(!p.Has("/tags") || p.Size("/tags") == 0) << r.body;
  EXPECT_TRUE(!p.Has("/identities") || p.Size("/identities") == 0) << r.body;
  EXPECT_TRUE(!p.Has("/events") || p.Size("/events") == 0) << r.body;
  EXPECT_TRUE(IsError(http().Get("/v1/identities/email/rp1@x.com"), 404));
  // It keeps its row: still first.
  EXPECT_EQ(MemberIds(http(), TestIs("rp")),
            (std::vector<std::string>{"rp-1", "rp-2"}));
}

TEST_F(ProfilesApiTest, PatchMergesKeysNullRemovesAndNestedObjectsMerge) {
  IngestAll(
      http(),
      R"({"id":"pt-1","test":"pt","name":"Old","pt_city":"Pune","address":{"city":"Pune","zip":"411001"},"tags":["a","b"],"identities":{"email":"pt1@x.com","whatsapp":"+910000000101"}})");
  const HttpResponse r = http().Patch(
      "/v1/profiles/pt-1",
      R"({"name":"New","pt_city":null,"address":{"zip":"411002"},"tags":["c"],"pt_score":7,)"
      R"("identities":{"email":null,"instagram":"@pt1"},"events":[{"name":"pt_ev","at":"2026-11-01T00:00:00Z"}]})");
  ASSERT_TRUE(HasStatus(r, 200));
  for (const HttpResponse& shown : {r, http().Get("/v1/profiles/pt-1")}) {
    Json p(shown);
    EXPECT_EQ(p.Str("/id"), "pt-1");
    EXPECT_EQ(p.Str("/name"), "New");
    EXPECT_FALSE(p.Has("/pt_city"));
    EXPECT_EQ(p.Canonical("/address"), R"({"city":"Pune","zip":"411002"})");
    EXPECT_EQ(p.Strings("/tags"), std::vector<std::string>{"c"});
    EXPECT_EQ(p.Int("/pt_score"), 7);
    EXPECT_EQ(p.Canonical("/identities"),
              R"({"instagram":"@pt1","whatsapp":"+910000000101"})");
    ASSERT_EQ(p.Size("/events"), 1u);
    EXPECT_EQ(p.Str("/events/0/name"), "pt_ev");
  }
  const std::string scope = TestIs("pt");
  EXPECT_EQ(Count(http(), R"({"all":[)" + scope +
                              R"(,{"field":"pt_city","op":"exists"}]})"),
            0);
  EXPECT_EQ(
      Count(http(),
            R"({"all":[)" + scope +
                R"(,{"field":"address.zip","op":"eq","value":"411002"}]})"),
      1);
  EXPECT_EQ(Count(http(), R"({"all":[)" + scope +
                              R"(,{"field":"tags","op":"eq","value":"a"}]})"),
            0);
  EXPECT_TRUE(IsError(http().Get("/v1/identities/email/pt1@x.com"), 404));
  const HttpResponse owner = http().Get("/v1/identities/instagram/%40pt1");
  ASSERT_TRUE(HasStatus(owner, 200));
  EXPECT_EQ(Json(owner).Str("/id"), "pt-1");
}

TEST_F(ProfilesApiTest, BadPatchChangesNothing) {
  IngestAll(http(), R"({"id":"bp-1","bp_n":1,"name":"Keep"})");
  EXPECT_TRUE(IsError(
      http().Patch("/v1/profiles/bp-1", R"({"bp_n":"x","name":"Lost"})"), 422));
  EXPECT_TRUE(IsError(http().Patch("/v1/profiles/bp-1", R"([1,2])"), 422));
  EXPECT_TRUE(IsError(http().Patch("/v1/profiles/bp-1", R"({"name":)"), 400));
  const HttpResponse r = http().Get("/v1/profiles/bp-1");
  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Json(r).Str("/name"), "Keep");
  EXPECT_EQ(Json(r).Int("/bp_n"), 1);
}

TEST_F(ProfilesApiTest, DeleteRemovesTheProfileFromEveryResult) {
  IngestAll(http(), R"({"id":"dl-1","test":"dl","name":"Dee Elle"})"
                    "\n"
                    R"({"id":"dl-2","test":"dl"})");
  const HttpResponse r = http().Delete("/v1/profiles/dl-1");
  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Json(r).Str("/deleted"), "dl-1");
  EXPECT_TRUE(IsError(http().Get("/v1/profiles/dl-1"), 404));
  EXPECT_EQ(MemberIds(http(), TestIs("dl")), std::vector<std::string>{"dl-2"});
  EXPECT_EQ(Json(http().Get("/v1/search?q=dee%20elle")).Int("/count"), 0);
  EXPECT_TRUE(IsError(http().Delete("/v1/profiles/dl-1"), 404));
}

TEST_F(ProfilesApiTest, TagsAreAddedAndRemoved) {
  IngestAll(http(), R"({"id":"tg-1","test":"tg","tags":["a","b"]})");
  const HttpResponse r = http().Post("/v1/profiles/tg-1/tags",
                                     R"({"add":["c","a"],"remove":["b"]})");
  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Json(r).Str("/id"), "tg-1");
  EXPECT_EQ(AsSet(Json(r).Strings("/tags")), (std::set<std::string>{"a", "c"}));
  EXPECT_EQ(AsSet(Json(http().Get("/v1/profiles/tg-1")).Strings("/tags")),
            (std::set<std::string>{"a", "c"}));
  const std::string scope = TestIs("tg");
  EXPECT_EQ(
      Count(http(),
            R"({"all":[)" + scope +
                R"(,{"field":"tags","op":"has_all","value":["a","c"]}]})"),
      1);
  EXPECT_EQ(Count(http(), R"({"all":[)" + scope +
                              R"(,{"field":"tags","op":"eq","value":"b"}]})"),
            0);
  // Remove only.
  ASSERT_TRUE(HasStatus(
      http().Post("/v1/profiles/tg-1/tags", R"({"remove":["a","zz"]})"), 200));
  EXPECT_EQ(Json(http().Get("/v1/profiles/tg-1")).Strings("/tags"),
            std::vector<std::string>{"c"});
  EXPECT_TRUE(IsError(http().Post("/v1/profiles/tg-1/tags", R"({"add":"x"})"),
                      422, "/add"));
}

TEST_F(ProfilesApiTest, MergeKeepsTheTargetFillsGapsAndDeletesTheOther) {
  IngestAll(
      http(),
      R"({"id":"mg-a","test":"mg","name":"Asha","tags":["x"],"identities":{"email":"a@mg.x"},"events":[{"name":"mg_ev","at":"2026-01-01T00:00:00Z"}]})"
      "\n"
      R"({"id":"mg-b","test":"mg","name":"Bela","mg_city":"Pune","tags":["y"],"identities":{"email":"b@mg.x","whatsapp":"+910000000201"},"events":[{"name":"mg_ev","at":"2026-02-01T00:00:00Z"}]})");
  const HttpResponse r =
      http().Post("/v1/profiles/mg-a/merge", R"({"from":"mg-b"})");
  ASSERT_TRUE(HasStatus(r, 200));
  for (const HttpResponse& shown : {r, http().Get("/v1/profiles/mg-a")}) {
    Json p(shown);
    EXPECT_EQ(p.Str("/id"), "mg-a");
    EXPECT_EQ(p.Str("/name"), "Asha");
    EXPECT_EQ(p.Str("/mg_city"), "Pune");
    EXPECT_EQ(AsSet(p.Strings("/tags")), (std::set<std::string>{"x", "y"}));
    EXPECT_EQ(p.Canonical("/identities"),
              R"({"email":"a@mg.x","whatsapp":"+910000000201"})");
    EXPECT_EQ(p.Size("/events"), 2u);
  }
  EXPECT_TRUE(IsError(http().Get("/v1/profiles/mg-b"), 404));
  const HttpResponse moved =
      http().Get("/v1/identities/whatsapp/%2B910000000201");
  ASSERT_TRUE(HasStatus(moved, 200));
  EXPECT_EQ(Json(moved).Str("/id"), "mg-a");
  // Where both had a channel, B's handle is released.
  EXPECT_TRUE(IsError(http().Get("/v1/identities/email/b@mg.x"), 404));
  EXPECT_EQ(MemberIds(http(), TestIs("mg")), std::vector<std::string>{"mg-a"});
  EXPECT_EQ(Count(http(), R"({"all":[)" + TestIs("mg") +
                              R"(,{"event":"mg_ev","count":{"eq":2}}]})"),
            1);
}

TEST_F(ProfilesApiTest, MergeRefusesAnUnknownOtherAndItself) {
  IngestAll(http(), R"({"id":"mr-a","name":"A"})");
  EXPECT_TRUE(
      IsError(http().Post("/v1/profiles/mr-a/merge", R"({"from":"mr-nobody"})"),
              404, "/from"));
  EXPECT_TRUE(IsError(
      http().Post("/v1/profiles/mr-a/merge", R"({"from":"mr-a"})"), 422));
  EXPECT_TRUE(IsError(http().Post("/v1/profiles/mr-a/merge", R"({})"), 422));
  EXPECT_TRUE(HasStatus(http().Get("/v1/profiles/mr-a"), 200));
  // The profile in the path is looked for first, and it is the request's
  // as a whole, not the body's /from.
  EXPECT_TRUE(IsError(
      http().Post("/v1/profiles/mr-none/merge", R"({"from":"mr-nobody"})"), 404,
      ""));
}

// SPEC §5: a body that is not what the path expects is 422. A misspelled
// key is not ignored: "limt" read as no limit, or a merge's unknown option
// dropped while the merge is done, would be worse than an error.
TEST_F(ProfilesApiTest, UnknownKeysInABodyAre422AndChangeNothing) {
  IngestAll(http(), R"({"id":"uk-a","tags":["t"]})"
                    "\n"
                    R"({"id":"uk-b","name":"B"})");
  EXPECT_TRUE(IsError(
      http().Post("/v1/profiles/uk-a/merge", R"({"from":"uk-b","mode":"dry"})"),
      422, "/mode"));
  EXPECT_TRUE(HasStatus(http().Get("/v1/profiles/uk-b"), 200));
  EXPECT_TRUE(
      IsError(http().Post("/v1/profiles/uk-a/tags", R"({"tags":["u"]})"), 422,
              "/tags"));
  EXPECT_TRUE(
      IsError(http().Post("/v1/query", R"({"rule":{"all":[]},"limt":1})"), 422,
              "/limt"));
  EXPECT_TRUE(
      IsError(http().Post("/v1/report", R"({"group_by":"name","rules":{}})"),
              422, "/rules"));
  EXPECT_TRUE(IsError(http().Put("/v1/schema", R"({"attributes":{},"x~y":1})"),
                      422, "/x~0y"));
  EXPECT_TRUE(IsError(
      http().Put("/v1/segments/uk-s", R"({"members":["uk-a"],"remvoe":[]})"),
      422, "/remvoe"));
  EXPECT_TRUE(HasStatus(http().Get("/v1/segments/uk-s"), 404));
  // A segment as GET shows it may be sent back as it is.
  const HttpResponse saved = http().Put(
      "/v1/segments/uk-s",
      R"({"name":"uk-s","kind":"static","members":["uk-a"],"count":7})");
  ASSERT_TRUE(HasStatus(saved, 200));
  EXPECT_EQ(Json(saved).Int("/count"), 1);
  EXPECT_TRUE(IsError(
      http().Post("/v1/segments/uk-s/members", R"({"add":[],"drop":[]})"), 422,
      "/drop"));
}

// SPEC §1 calls tags an array of strings, and the tags endpoint and merges
// edit them as one: a first `tags` of another type is refused, not fixed.
// The error path of the one record that NDJSON `batch` rejects, its other
// `accepted` records kept.
std::string OneRejectedPath(HttpClient& http, std::string_view batch,
                            int64_t accepted) {
  const HttpResponse r =
      http.Post("/v1/profiles", batch, "application/x-ndjson");
  if (!HasStatus(r, 200)) return "(no answer)";
  const Json answer(r);
  EXPECT_EQ(answer.Int("/accepted"), accepted) << r.body;
  if (answer.Size("/rejected") != 1) return "(rejected: " + r.body + ")";
  return answer.Str("/rejected/0/error/path");
}

TEST_F(ProfilesApiTest, TagsAreFirstSeenOnlyAsAnArrayOfStrings) {
  EXPECT_EQ(OneRejectedPath(http(),
                            R"({"id":"tg-1","tags":"vip"})"
                            "\n"
                            R"({"id":"tg-2","tags":["a","b"]})",
                            1),
            "/tags");
  EXPECT_TRUE(HasStatus(
      http().Post("/v1/profiles/tg-2/tags", R"({"add":["c"]})"), 200));
}

TEST_F(ProfilesApiTest, AnIdentityNeedsAChannelName) {
  EXPECT_EQ(
      OneRejectedPath(http(), R"({"id":"ic-1","identities":{"":"x"}})", 0),
      "/identities/");
}

TEST_F(ProfilesApiTest, IdentityLookupFindsTheOwner) {
  IngestAll(
      http(),
      R"({"id":"idn-1","identities":{"whatsapp":"+910000000301","web":"a/b"}})");
  const HttpResponse r = http().Get("/v1/identities/whatsapp/%2B910000000301");
  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Json(r).Str("/id"), "idn-1");
  const HttpResponse slash = http().Get("/v1/identities/web/a%2Fb");
  ASSERT_TRUE(HasStatus(slash, 200));
  EXPECT_EQ(Json(slash).Str("/id"), "idn-1");
  EXPECT_TRUE(IsError(http().Get("/v1/identities/whatsapp/%2B9100"), 404));
  EXPECT_TRUE(IsError(http().Get("/v1/identities/fax/%2B910000000301"), 404));

  // A record claiming a pair owned by another is rejected, naming the owner.
  const HttpResponse claim =
      http().Post("/v1/profiles",
                  R"({"id":"idn-2","identities":{"whatsapp":"+910000000301"}})",
                  "application/x-ndjson");
  ASSERT_TRUE(HasStatus(claim, 200));
  Json answer(claim);
  EXPECT_EQ(answer.Int("/accepted"), 0);
  ASSERT_EQ(answer.Size("/rejected"), 1u);
  EXPECT_NE(answer.Str("/rejected/0/error/message").find("idn-1"),
            std::string::npos)
      << claim.body;
  EXPECT_TRUE(IsError(http().Get("/v1/profiles/idn-2"), 404));
}

TEST_F(ProfilesApiTest, EventsAreAppendedAndBadLinesReported) {
  IngestAll(
      http(),
      R"({"id":"ev-1","test":"ev","events":[{"name":"ev_order","at":"2026-10-02T12:00:00Z"}]})"
      "\n"
      R"({"id":"ev-2","test":"ev"})");
  const HttpResponse r = http().Post(
      "/v1/events",
      R"({"id":"ev-1","name":"ev_cart","at":"2026-09-01T10:00:00+05:30"})"
      "\n"
      R"({"id":"ev-nobody","name":"ev_cart","at":"2026-09-01"})"
      "\n"
      "\n"
      R"({"id":"ev-1","name":"ev_cart"})"
      "\n"
      R"({"id":"ev-1","name":"ev_cart","at":"2026-11-05T01:02:03.456Z"})",
      "application/x-ndjson");
  ASSERT_TRUE(HasStatus(r, 200));
  Json answer(r);
  EXPECT_EQ(answer.Int("/accepted"), 2);
  ASSERT_EQ(answer.Size("/rejected"), 2u) << r.body;
  EXPECT_EQ(answer.Int("/rejected/0/line"), 2);
  EXPECT_EQ(answer.Str("/rejected/0/id"), "ev-nobody");
  EXPECT_EQ(answer.Str("/rejected/0/error/code"), "not_found");
  EXPECT_EQ(answer.Str("/rejected/0/error/path"), "/id");
  EXPECT_EQ(answer.Int("/rejected/1/line"), 4);
  EXPECT_EQ(answer.Str("/rejected/1/id"), "ev-1");

  // A JSON array of events too.
  const HttpResponse array = http().Post(
      "/v1/events", R"([{"id":"ev-1","name":"ev_visit","at":"2026-11-20"}])",
      "application/json");
  ASSERT_TRUE(HasStatus(array, 200));
  EXPECT_EQ(Json(array).Int("/accepted"), 1);

  const HttpResponse p = http().Get("/v1/profiles/ev-1");
  ASSERT_TRUE(HasStatus(p, 200));
  std::multiset<std::string> names;
  Json profile(p);
  for (size_t i = 0; i < profile.Size("/events"); ++i) {
    names.insert(profile.Str("/events/" + std::to_string(i) + "/name"));
  }
  EXPECT_EQ(names, (std::multiset<std::string>{"ev_cart", "ev_cart", "ev_order",
                                               "ev_visit"}));

  const std::string scope = TestIs("ev");
  EXPECT_EQ(MemberIds(http(), R"({"all":[)" + scope +
                                  R"(,{"event":"ev_cart","count":{"eq":2}}]})"),
            std::vector<std::string>{"ev-1"});
  const std::string windowed =
      R"({"rule":{"all":[)" + scope +
      R"(,{"event":"ev_cart","within_last":"30d"}]},"now":"2026-11-20T12:00:00Z","limit":0})";
  const HttpResponse q = http().Post("/v1/query", windowed);
  ASSERT_TRUE(HasStatus(q, 200));
  EXPECT_EQ(Json(q).Int("/count"), 1);
  EXPECT_EQ(Count(http(), R"({"all":[)" + scope +
                              R"(,{"event":"ev_cart","count":{"lt":1}}]})"),
            1);
}

TEST_F(ProfilesApiTest, AppendedEventsAreShownAscendingWithMilliseconds) {
  IngestAll(
      http(),
      R"({"id":"eva-1","events":[{"name":"order","at":"2026-10-02T12:00:00Z"}]})");
  ASSERT_TRUE(HasStatus(
      http().Post(
          "/v1/events",
          R"({"id":"eva-1","name":"cart","at":"2026-09-01T10:00:00+05:30"})"
          "\n"
          R"({"id":"eva-1","name":"cart","at":"2026-11-05T01:02:03.456Z"})",
          "application/x-ndjson"),
      200));
  const HttpResponse r = http().Get("/v1/profiles/eva-1");
  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Json(r).Canonical("/events"),
            R"([{"at":"2026-09-01T04:30:00.000Z","name":"cart"},)"
            R"({"at":"2026-10-02T12:00:00.000Z","name":"order"},)"
            R"({"at":"2026-11-05T01:02:03.456Z","name":"cart"}])");
}

// Rules fold an event name's case; a profile shows each event as it was
// sent, whatever another profile called it.
TEST_F(ProfilesApiTest, EventNamesKeepTheirSpellingAndMatchFolded) {
  IngestAll(
      http(),
      R"({"id":"evs-1","evs":1,"events":[{"name":"Signed_Up","at":"2026-11-01"}]})"
      "\n"
      R"({"id":"evs-2","evs":1,"events":[{"name":"signed_up","at":"2026-11-02"},)"
      R"({"name":"SIGNED_UP","at":"2026-11-03"}]})");
  ASSERT_TRUE(HasStatus(
      http().Post("/v1/events",
                  R"({"id":"evs-2","name":"Signed_up","at":"2026-11-04"})"),
      200));
  EXPECT_EQ(Json(http().Get("/v1/profiles/evs-1")).Canonical("/events"),
            R"([{"at":"2026-11-01T00:00:00.000Z","name":"Signed_Up"}])");
  EXPECT_EQ(Json(http().Get("/v1/profiles/evs-2")).Canonical("/events"),
            R"([{"at":"2026-11-02T00:00:00.000Z","name":"signed_up"},)"
            R"({"at":"2026-11-03T00:00:00.000Z","name":"SIGNED_UP"},)"
            R"({"at":"2026-11-04T00:00:00.000Z","name":"Signed_up"}])");
  // Every spelling counts toward one name, through the index and through
  // a saved segment's membership test alike.
  const std::string rule = R"({"all":[{"field":"evs","op":"exists"},)"
                           R"({"event":"signed_UP","count":{"gte":3}}]})";
  const HttpResponse q = http().Post("/v1/query", R"({"rule":)" + rule + "}");
  ASSERT_TRUE(HasStatus(q, 200));
  EXPECT_EQ(Json(q).Int("/count"), 1) << q.body;
  EXPECT_EQ(Json(q).Str("/members/0/id"), "evs-2");
  ASSERT_TRUE(HasStatus(
      http().Put("/v1/segments/evs-three", R"({"rule":)" + rule + "}"), 200));
  EXPECT_TRUE(
      Json(http().Get("/v1/segments/evs-three/members/evs-2")).Bool("/member"));
  EXPECT_FALSE(
      Json(http().Get("/v1/segments/evs-three/members/evs-1")).Bool("/member"));
}

// ===========================================================================
// Queries (SPEC §2, §3, §5)
// ===========================================================================

class QueryApiTest : public ServedTest<QueryApiTest> {
 public:
  static void Seed(HttpClient& http) {
    IngestAll(
        http,
        R"({"id":"q-0","test":"q","name":"Q Zero","q_city":"Pune","q_orders":1,"q_signed":"2026-11-19","q_vip":true,"q_tags":["a","b"]})"
        "\n"
        R"({"id":"q-1","test":"q","q_city":"Mumbai","q_orders":5,"q_signed":"2026-11-10","q_vip":false,"q_tags":["b"]})"
        "\n"
        R"({"id":"q-2","test":"q","q_city":"pune","q_orders":0,"q_signed":"2026-11-18T23:00:00Z","q_tags":["a"]})"
        "\n"
        R"({"id":"q-3","test":"q","q_city":"Delhi","q_orders":7,"q_signed":"2026-10-01","q_vip":true})"
        "\n"
        R"({"id":"q-4","test":"q","q_city":"Nagpur","q_orders":2,"q_signed":"2026-11-14"})"
        "\n"
        R"({"id":"q-5","test":"q","q_orders":9,"q_vip":false})"
        "\n"
        R"({"id":"q-6","test":"q","q_city":"Pune","q_orders":3,"q_signed":"2026-11-20T06:00:00Z"})"
        "\n"
        R"({"id":"q-7","test":"q","q_city":"Mumbai","q_signed":"2025-01-01"})"
        "\n"
        R"({"id":"q-8","test":"q","q_city":"Chennai","q_orders":4,"q_tags":["c"]})"
        "\n"
        R"({"id":"q-9","test":"q","q_city":"PUNE","q_orders":6,"q_vip":true})"
        "\n");
  }

 protected:
  // {"all": [test is q, CONDITION]}
  static std::string InQ(std::string_view condition) {
    return R"({"all":[)" + TestIs("q") + "," + std::string(condition) + "]}";
  }
};

TEST_F(QueryApiTest, CountAndPreviewFollowRowOrderLimitAndFields) {
  const HttpResponse r = http().Post(
      "/v1/query",
      R"({"rule":)" +
          InQ(R"({"field":"q_city","op":"in","value":["Pune","Mumbai","Nagpur"]})") +
          R"(,"limit":3,"fields":["q_city","q_orders"]})");
  ASSERT_TRUE(HasStatus(r, 200));
  Json answer(r);
  EXPECT_EQ(answer.Int("/count"), 7);
  EXPECT_EQ(answer.Ids(), (std::vector<std::string>{"q-0", "q-1", "q-2"}));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(answer.Keys("/members/" + std::to_string(i)),
              (std::set<std::string>{"id", "q_city", "q_orders"}));
  }
  EXPECT_EQ(answer.Str("/members/0/q_city"), "Pune");
  EXPECT_EQ(answer.Int("/members/0/q_orders"), 1);
  EXPECT_EQ(answer.Str("/members/2/q_city"), "pune");
  EXPECT_EQ(answer.Int("/members/2/q_orders"), 0);
  EXPECT_FALSE(answer.Has("/explain"));
}

TEST_F(QueryApiTest, PreviewDefaultsToTwentyMembersWithDefaultFields) {
  std::string batch;
  for (int i = 0; i < 25; ++i) {
    batch += R"({"id":"qd-)" + std::to_string(i) +
             R"(","test":"qd","name":"QD )" + std::to_string(i) +
             R"(","email":"qd)" + std::to_string(i) + R"(@x.com"})" + "\n";
  }
  IngestAll(http(), batch);
  const HttpResponse r =
      http().Post("/v1/query", R"({"rule":)" + TestIs("qd") + "}");
  ASSERT_TRUE(HasStatus(r, 200));
  Json answer(r);
  EXPECT_EQ(answer.Int("/count"), 25);
  std::vector<std::string> first20;
  for (int i = 0; i < 20; ++i) first20.push_back("qd-" + std::to_string(i));
  EXPECT_EQ(answer.Ids(), first20);
  EXPECT_EQ(
      answer.Keys("/members/0"),
      (std::set<std::string>{"id", "name", "email", "phone", "customer_type"}));
  EXPECT_EQ(answer.Str("/members/0/name"), "QD 0");
  EXPECT_EQ(answer.Str("/members/0/email"), "qd0@x.com");
  EXPECT_TRUE(answer.IsNull("/members/0/phone"));
  EXPECT_EQ(answer.Str("/members/0/customer_type"), "lead");
}

TEST_F(QueryApiTest, EmptyFieldsShowTheIdAlone) {
  const HttpResponse r = http().Post(
      "/v1/query", R"({"rule":)" +
                       InQ(R"({"field":"q_orders","op":"gte","value":5})") +
                       R"(,"limit":2,"fields":[]})");
  ASSERT_TRUE(HasStatus(r, 200));
  const Json body(r);
  ASSERT_EQ(body.Size("/members"), 2u);
  EXPECT_EQ(body.Keys("/members/0"), (std::set<std::string>{"id"}));
  EXPECT_EQ(body.Str("/members/0/id"), "q-1");
  // null, like no fields at all, shows the defaults.
  const HttpResponse d = http().Post(
      "/v1/query", R"({"rule":)" +
                       InQ(R"({"field":"q_orders","op":"gte","value":5})") +
                       R"(,"limit":1,"fields":null})");
  ASSERT_TRUE(HasStatus(d, 200));
  EXPECT_EQ(
      Json(d).Keys("/members/0"),
      (std::set<std::string>{"id", "name", "email", "phone", "customer_type"}));
}

// JSON bounds no integer: one past 64 bits is a double, as at ingest.
TEST_F(QueryApiTest, IntegersPastSixtyFourBitsAreNumbersNotBadJson) {
  // One object posted as application/json is a batch of one, big number
  // and all.
  const HttpResponse in = http().Post(
      "/v1/profiles", R"({"id":"big-1","big_n":18446744073709551616})",
      "application/json");
  ASSERT_TRUE(HasStatus(in, 200));
  ASSERT_EQ(Json(in).Int("/accepted"), 1) << in.body;
  const HttpResponse q = http().Post(
      "/v1/query",
      R"({"rule":{"field":"big_n","op":"gte","value":18446744073709551616}})");
  ASSERT_TRUE(HasStatus(q, 200));
  EXPECT_EQ(Json(q).Int("/count"), 1);
  const HttpResponse limit = http().Post(
      "/v1/query", R"({"rule":{"all":[]},"limit":18446744073709551616})");
  EXPECT_TRUE(IsError(limit, 422)) << limit.body;
  EXPECT_EQ(Json(limit).Str("/error/path"), "/limit");
}

TEST_F(QueryApiTest, LimitZeroGivesTheCountAndNoMembers) {
  const HttpResponse r =
      http().Post("/v1/query", R"({"rule":)" + TestIs("q") + R"(,"limit":0})");
  ASSERT_TRUE(HasStatus(r, 200));
  Json answer(r);
  EXPECT_EQ(answer.Int("/count"), 10);
  ASSERT_TRUE(answer.Has("/members"));
  EXPECT_EQ(answer.Size("/members"), 0u);
}

TEST_F(QueryApiTest, LimitOverTenThousandIs422) {
  EXPECT_TRUE(
      IsError(http().Post("/v1/query", R"({"rule":{"all":[]},"limit":10001})"),
              422, "/limit"));
  EXPECT_TRUE(
      IsError(http().Post("/v1/query", R"({"rule":{"all":[]},"limit":-1})"),
              422, "/limit"));
  const HttpResponse most = http().Post(
      "/v1/query", R"({"rule":)" + TestIs("q") + R"(,"limit":10000})");
  ASSERT_TRUE(HasStatus(most, 200));
  EXPECT_EQ(Json(most).Size("/members"), 10u);
}

TEST_F(QueryApiTest, NowPinsRelativeDates) {
  auto count_at = [&](std::string_view condition, std::string_view now) {
    const HttpResponse r = http().Post(
        "/v1/query", R"({"rule":)" + InQ(condition) + R"(,"limit":0,"now":")" +
                         std::string(now) + "\"}");
    EXPECT_TRUE(HasStatus(r, 200));
    return Json(r).Int("/count");
  };
  const std::string_view last7 =
      R"({"field":"q_signed","op":"within_last","value":"7d"})";
  EXPECT_EQ(count_at(last7, "2026-11-20T12:00:00Z"), 4);
  EXPECT_EQ(count_at(last7, "2026-11-15T00:00:00Z"), 2);
  EXPECT_EQ(count_at(R"({"field":"q_signed","op":"after","value":"now-2d"})",
                     "2026-11-20T12:00:00Z"),
            3);
  EXPECT_EQ(
      count_at(R"({"field":"q_signed","op":"not_within_last","value":"7d"})",
               "2026-11-20T12:00:00Z"),
      6);
  EXPECT_TRUE(IsError(
      http().Post("/v1/query", R"({"rule":{"all":[]},"now":"yesterday"})"), 422,
      "/now"));
}

TEST_F(QueryApiTest, NegativeOperatorsIncludeProfilesWithoutTheAttribute) {
  EXPECT_EQ(
      MemberIds(http(), InQ(R"({"field":"q_city","op":"neq","value":"pune"})")),
      (std::vector<std::string>{"q-1", "q-3", "q-4", "q-5", "q-7", "q-8"}));
  EXPECT_EQ(
      MemberIds(http(),
                InQ(R"({"field":"q_orders","op":"between","value":[2,5]})")),
      (std::vector<std::string>{"q-1", "q-4", "q-6", "q-8"}));
}

TEST_F(QueryApiTest, ExplainCountsEveryNodeInDocumentOrder) {
  const int64_t live = Count(http(), R"({"all":[]})");
  const HttpResponse r = http().Post(
      "/v1/query",
      R"({"rule":{"all":[)" + TestIs("q") +
          R"(,{"any":[{"field":"q_city","op":"eq","value":"pune"},{"field":"q_orders","op":"gt","value":5}]},)"
          R"({"not":{"field":"q_vip","op":"is_true"}}]},"explain":true,"limit":0})");
  ASSERT_TRUE(HasStatus(r, 200));
  Json answer(r);
  EXPECT_EQ(answer.Int("/count"), 3);
  const std::vector<std::pair<std::string, int64_t>> expected = {
      {"", 3},
      {"/all/0", 10},
      {"/all/1", 6},
      {"/all/1/any/0", 4},
      {"/all/1/any/1", 3},
      {"/all/2", live - 3},
      {"/all/2/not", 3}};
  ASSERT_EQ(answer.Size("/explain"), expected.size()) << r.body;
  for (size_t i = 0; i < expected.size(); ++i) {
    const std::string at = "/explain/" + std::to_string(i);
    EXPECT_EQ(answer.Keys(at), (std::set<std::string>{"path", "count"}));
    EXPECT_EQ(answer.Str(at + "/path"), expected[i].first) << r.body;
    EXPECT_EQ(answer.Int(at + "/count"), expected[i].second)
        << expected[i].first;
  }
}

TEST_F(QueryApiTest, EventNeverSeenIsCountZeroNotAnError) {
  EXPECT_EQ(Count(http(), InQ(R"({"event":"q_never_seen"})")), 0);
  EXPECT_EQ(Count(http(), InQ(R"({"event":"q_never_seen","count":{"lt":1}})")),
            10);
}

TEST_F(QueryApiTest, UnknownAttributeIs422WithItsPointer) {
  EXPECT_TRUE(
      IsError(http().Post("/v1/query",
                          R"({"rule":{"all":[)" + TestIs("q") +
                              R"(,{"field":"q_nope","op":"eq","value":1}]}})"),
              422, "/rule/all/1/field"));
  EXPECT_TRUE(IsErrorUnder(
      http().Post("/v1/query", R"({"rule":{"segment":"q-no-such-segment"}})"),
      422, "/rule"));
}

TEST_F(QueryApiTest, OperatorOrValueNotFittingTheTypeIs422) {
  EXPECT_TRUE(IsErrorUnder(
      http().Post("/v1/query",
                  R"({"rule":{"all":[)" + TestIs("q") +
                      R"(,{"field":"q_city","op":"gt","value":3}]}})"),
      422, "/rule/all/1"));
  EXPECT_TRUE(IsErrorUnder(
      http().Post(
          "/v1/query",
          R"({"rule":{"any":[{"field":"q_orders","op":"frobnicate","value":3}]}})"),
      422, "/rule/any/0"));
  EXPECT_TRUE(IsErrorUnder(
      http().Post(
          "/v1/query",
          R"({"rule":{"not":{"field":"q_orders","op":"gt","value":"many"}}})"),
      422, "/rule/not"));
  EXPECT_TRUE(IsErrorUnder(
      http().Post(
          "/v1/query",
          R"({"rule":{"field":"q_signed","op":"within_last","value":"7 days"}})"),
      422, "/rule"));
}

TEST_F(QueryApiTest, MissingRuleIs422) {
  EXPECT_TRUE(IsError(http().Post("/v1/query", R"({"limit":5})"), 422));
}

TEST_F(QueryApiTest, RuleThatIsNotAnObjectIs422) {
  // SPEC §5: "A body that parses but is not what the path expects (a
  // missing rule, a rule that is not an object, ...) gets 422".
  for (const std::string_view rule : {"5", R"("city")", "[]", "null"}) {
    EXPECT_TRUE(IsError(
        http().Post("/v1/query", R"({"rule":)" + std::string(rule) + "}"), 422))
        << rule;
  }
}

TEST_F(QueryApiTest, BodyThatIsNotAnObjectIs422) {
  EXPECT_TRUE(IsError(http().Post("/v1/query", "[1,2]"), 422));
  EXPECT_TRUE(IsError(http().Post("/v1/query", "42"), 422));
}

TEST_F(QueryApiTest, MalformedOrEmptyBodyIs400) {
  EXPECT_TRUE(
      IsError(http().Post("/v1/query", R"({"rule":{"all":[})"), 400, ""));
  EXPECT_TRUE(IsError(http().Post("/v1/query", ""), 400, ""));
  EXPECT_TRUE(IsError(http().Post("/v1/query", " \r\n "), 400, ""));
}

TEST_F(QueryApiTest, AByteOrderMarkBeforeTheBodyIsSkipped) {
  const HttpResponse r = http().Post("/v1/query",
                                     "\xEF\xBB\xBF"
                                     R"({"rule":{"all":[]},"limit":0})");
  ASSERT_TRUE(HasStatus(r, 200)) << r.body;
  EXPECT_EQ(Json(r).Size("/members"), 0u);
}

TEST_F(QueryApiTest, ContentTypeDecidesWhetherTheBodyIsRead) {
  const std::string body = R"({"rule":)" + TestIs("q") + R"(,"limit":0})";
  for (const std::string_view type :
       {"", "application/json", "application/json; charset=utf-8", "text/plain",
        "application/x-www-form-urlencoded"}) {
    const HttpResponse r = http().Post("/v1/query", body, type);
    ASSERT_TRUE(HasStatus(r, 200)) << type;
    EXPECT_EQ(Json(r).Int("/count"), 10) << type;
  }
  EXPECT_TRUE(IsError(http().Post("/v1/query", body, "text/csv"), 415));
  EXPECT_TRUE(IsError(http().Post("/v1/query", body, "application/xml"), 415));
  EXPECT_TRUE(IsError(
      http().Post("/v1/report", R"({"group_by":"q_city"})", "text/csv"), 415));
  EXPECT_TRUE(IsError(
      http().Put("/v1/schema", R"({"attributes":{}})", "text/csv"), 415));
}

TEST_F(QueryApiTest, DepthBeyondSixtyFourIs422) {
  // Depth counts every node on the way down, the root being 1.
  auto nested = [](int nots) {
    std::string rule;
    for (int i = 0; i < nots; ++i) rule += R"({"not":)";
    rule += R"({"field":"q_orders","op":"exists"})";
    rule += std::string(nots, '}');
    return rule;
  };
  const HttpResponse deepest =
      http().Post("/v1/query", R"({"rule":)" + nested(63) + R"(,"limit":0})");
  ASSERT_TRUE(HasStatus(deepest, 200));
  EXPECT_TRUE(IsError(
      http().Post("/v1/query", R"({"rule":)" + nested(64) + R"(,"limit":0})"),
      422));
}

TEST_F(QueryApiTest, TenThousandDeepRuleGetsAnErrorAndTheServerGoesOn) {
  std::string rule;
  for (int i = 0; i < 10000; ++i) rule += R"({"not":)";
  rule += R"({"field":"q_orders","op":"exists"})";
  rule += std::string(10000, '}');
  EXPECT_TRUE(
      IsError(http().Post("/v1/query", R"({"rule":)" + rule + "}"), kAny4xx));
  std::string array_rule;
  for (int i = 0; i < 10000; ++i) array_rule += R"({"all":[)";
  array_rule += "{}";
  for (int i = 0; i < 10000; ++i) array_rule += "]}";
  EXPECT_TRUE(IsError(
      http().Post("/v1/query", R"({"rule":)" + array_rule + "}"), kAny4xx));
  HttpClient other(port());
  EXPECT_TRUE(HasStatus(other.Get("/healthz"), 200));
  EXPECT_EQ(Count(other, TestIs("q")), 10);
}

TEST_F(QueryApiTest, BodyOverOneMebibyteIs413) {
  std::string body = R"({"rule":{"all":[]},"limit":0)";
  body += std::string((size_t{1} << 20) + 16, ' ');
  body += "}";
  EXPECT_TRUE(IsError(http().Post("/v1/query", body), 413));
  HttpClient other(port());
  EXPECT_EQ(Count(other, TestIs("q")), 10);
  // Just under the limit is read.
  std::string under = R"({"rule":)" + TestIs("q") + R"(,"limit":0)";
  under += std::string((size_t{1} << 20) - under.size() - 1, ' ') + "}";
  const HttpResponse r = other.Post("/v1/query", under);
  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Json(r).Int("/count"), 10);
}

// ===========================================================================
// Saved segments (SPEC §4, §5)
// ===========================================================================

class SegmentsApiTest : public ServedTest<SegmentsApiTest> {
 public:
  static void Seed(HttpClient& http) {
    IngestAll(http,
              R"({"id":"sg-0","test":"sg","sg_city":"Pune","sg_vip":true})"
              "\n"
              R"({"id":"sg-1","test":"sg","sg_city":"Mumbai","sg_vip":false})"
              "\n"
              R"({"id":"sg-2","test":"sg","sg_city":"pune","sg_vip":true})"
              "\n"
              R"({"id":"sg-3","test":"sg","sg_city":"Delhi"})"
              "\n"
              R"({"id":"sg-4","test":"sg","sg_city":"Pune"})"
              "\n"
              R"({"id":"sg-5","test":"sg","sg_city":"Mumbai","sg_vip":true})"
              "\n"
              R"({"id":"sg-6","test":"sg","sg_city":"Nagpur"})"
              "\n"
              R"({"id":"sg-7","test":"sg","sg_city":"Pune","sg_vip":true})"
              "\n");
  }

 protected:
  bool IsMember(std::string_view segment, std::string_view id) {
    const HttpResponse r = http().Get("/v1/segments/" + Encode(segment) +
                                      "/members/" + Encode(id));
    EXPECT_TRUE(HasStatus(r, 200)) << segment << " " << id;
    return Json(r).Bool("/member");
  }
  int64_t SegmentCount(std::string_view segment) {
    const HttpResponse r = http().Get("/v1/segments/" + Encode(segment));
    EXPECT_TRUE(HasStatus(r, 200)) << segment;
    return Json(r).Int("/count");
  }
};

constexpr std::string_view kPuneRule =
    R"({"field":"sg_city","op":"eq","value":"Pune"})";

TEST_F(SegmentsApiTest, DynamicSegmentIsSavedWithItsCount) {
  const HttpResponse r = http().Put("/v1/segments/sg-pune",
                                    R"({"rule":)" + std::string(kPuneRule) +
                                        R"(,"description":"Pune leads"})");
  ASSERT_TRUE(HasStatus(r, 200));
  Json put(r);
  EXPECT_EQ(put.Str("/name"), "sg-pune");
  EXPECT_EQ(put.Str("/kind"), "dynamic");
  EXPECT_EQ(put.Str("/description"), "Pune leads");
  EXPECT_EQ(put.Canonical("/rule"), Json(kPuneRule).Canonical());
  EXPECT_EQ(put.Int("/count"), 4);

  const HttpResponse one = http().Get("/v1/segments/sg-pune");
  ASSERT_TRUE(HasStatus(one, 200));
  Json got(one);
  EXPECT_EQ(got.Str("/kind"), "dynamic");
  EXPECT_EQ(got.Str("/description"), "Pune leads");
  EXPECT_EQ(got.Canonical("/rule"), Json(kPuneRule).Canonical());
  EXPECT_EQ(got.Int("/count"), 4);

  const HttpResponse list = http().Get("/v1/segments");
  ASSERT_TRUE(HasStatus(list, 200));
  Json all(list);
  bool found = false;
  for (size_t i = 0; i < all.Size("/segments"); ++i) {
    const std::string at = "/segments/" + std::to_string(i);
    if (all.Str(at + "/name") != "sg-pune") continue;
    found = true;
    EXPECT_EQ(all.Str(at + "/kind"), "dynamic");
    EXPECT_EQ(all.Int(at + "/count"), 4);
  }
  EXPECT_TRUE(found) << list.body;
}

TEST_F(SegmentsApiTest, DynamicSegmentFollowsTheDataAndCanBeReplaced) {
  IngestAll(http(), R"({"id":"sgd-1","sgd_flag":"on"})"
                    "\n"
                    R"({"id":"sgd-2","sgd_flag":"on"})");
  ASSERT_TRUE(HasStatus(
      http().Put("/v1/segments/sg-dyn",
                 R"({"rule":{"field":"sgd_flag","op":"eq","value":"on"}})"),
      200));
  EXPECT_EQ(SegmentCount("sg-dyn"), 2);
  ASSERT_TRUE(HasStatus(
      http().Patch("/v1/profiles/sgd-2", R"({"sgd_flag":"off"})"), 200));
  EXPECT_EQ(SegmentCount("sg-dyn"), 1);
  EXPECT_FALSE(IsMember("sg-dyn", "sgd-2"));
  const HttpResponse replaced = http().Put(
      "/v1/segments/sg-dyn",
      R"({"rule":{"field":"sgd_flag","op":"exists"},"description":"any flag"})");
  ASSERT_TRUE(HasStatus(replaced, 200));
  EXPECT_EQ(Json(replaced).Int("/count"), 2);
  EXPECT_EQ(Json(http().Get("/v1/segments/sg-dyn")).Str("/description"),
            "any flag");
}

TEST_F(SegmentsApiTest, StaticSegmentFromJsonReportsUnknownIds) {
  const HttpResponse r = http().Put("/v1/segments/sg-static",
                                    R"({"members":["sg-1","sg-3","ghost-1"]})");
  ASSERT_TRUE(HasStatus(r, 200));
  Json put(r);
  EXPECT_EQ(put.Str("/name"), "sg-static");
  EXPECT_EQ(put.Str("/kind"), "static");
  EXPECT_EQ(put.Int("/count"), 2);
  EXPECT_EQ(put.Strings("/unknown_ids"), std::vector<std::string>{"ghost-1"});
  const HttpResponse got = http().Get("/v1/segments/sg-static");
  ASSERT_TRUE(HasStatus(got, 200));
  EXPECT_EQ(Json(got).Str("/kind"), "static");
  EXPECT_EQ(Json(got).Int("/count"), 2);
  EXPECT_TRUE(IsMember("sg-static", "sg-3"));
  EXPECT_FALSE(IsMember("sg-static", "sg-0"));
}

TEST_F(SegmentsApiTest, StaticSegmentFromCsvTakesTheIdColumn) {
  const HttpResponse r = http().Put(
      "/v1/segments/sg-csv",
      "name,ID\r\n\"Doe, J\",sg-1\r\nx,\"sg-2\"\r\ny,ghost-2\r\n", "text/csv");
  ASSERT_TRUE(HasStatus(r, 200));
  Json put(r);
  EXPECT_EQ(put.Str("/kind"), "static");
  EXPECT_EQ(put.Int("/count"), 2);
  EXPECT_EQ(put.Strings("/unknown_ids"), std::vector<std::string>{"ghost-2"});
  EXPECT_TRUE(IsMember("sg-csv", "sg-1"));
  EXPECT_TRUE(IsMember("sg-csv", "sg-2"));
}

TEST_F(SegmentsApiTest, StaticSegmentFromCsvWithoutIdColumnTakesTheFirst) {
  const HttpResponse r = http().Put("/v1/segments/sg-csv-first",
                                    "ref,name\nsg-3,a\nsg-4,b\n", "text/csv");
  ASSERT_TRUE(HasStatus(r, 200));
  Json put(r);
  EXPECT_EQ(put.Int("/count"), 2);
  // The header row is no id.
  EXPECT_EQ(put.Size("/unknown_ids"), 0u) << r.body;
  EXPECT_TRUE(IsMember("sg-csv-first", "sg-3"));
  EXPECT_TRUE(IsMember("sg-csv-first", "sg-4"));
}

TEST_F(SegmentsApiTest, DerivedSegmentRefinesAnother) {
  ASSERT_TRUE(
      HasStatus(http().Put("/v1/segments/sg-base",
                           R"({"rule":)" + std::string(kPuneRule) + "}"),
                200));
  const HttpResponse r = http().Put(
      "/v1/segments/sg-derived",
      R"({"rule":{"all":[{"segment":"sg-base"},{"field":"sg_vip","op":"is_true"}]}})");
  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Json(r).Str("/kind"), "dynamic");
  EXPECT_EQ(Json(r).Int("/count"), 3);
  EXPECT_EQ(MemberIds(http(), R"({"segment":"sg-derived"})"),
            (std::vector<std::string>{"sg-0", "sg-2", "sg-7"}));
  // A derived segment may also combine a static one.
  ASSERT_TRUE(HasStatus(
      http().Put("/v1/segments/sg-derived-st", R"({"members":["sg-1"]})"),
      200));
  const HttpResponse any = http().Put(
      "/v1/segments/sg-derived-any",
      R"({"rule":{"any":[{"segment":"sg-derived-st"},{"segment":"sg-derived"}]}})");
  ASSERT_TRUE(HasStatus(any, 200));
  EXPECT_EQ(Json(any).Int("/count"), 4);
}

TEST_F(SegmentsApiTest, ReferenceCycleIs409) {
  const std::string_view exists =
      R"({"rule":{"field":"sg_city","op":"exists"}})";
  ASSERT_TRUE(HasStatus(http().Put("/v1/segments/sg-cyc-b", exists), 200));
  ASSERT_TRUE(HasStatus(
      http().Put("/v1/segments/sg-cyc-a", R"({"rule":{"segment":"sg-cyc-b"}})"),
      200));
  EXPECT_TRUE(IsError(
      http().Put("/v1/segments/sg-cyc-b", R"({"rule":{"segment":"sg-cyc-a"}})"),
      409));
  // Nothing changed.
  EXPECT_EQ(Json(http().Get("/v1/segments/sg-cyc-b")).Canonical("/rule"),
            Json(R"({"field":"sg_city","op":"exists"})").Canonical());
  EXPECT_TRUE(
      IsError(http().Put("/v1/segments/sg-cyc-self",
                         R"({"rule":{"not":{"segment":"sg-cyc-self"}}})"),
              409));
  EXPECT_TRUE(IsError(http().Get("/v1/segments/sg-cyc-self"), 404));
}

TEST_F(SegmentsApiTest, DeletingAReferencedSegmentIs409) {
  ASSERT_TRUE(HasStatus(
      http().Put("/v1/segments/sg-del-base", R"({"members":["sg-0"]})"), 200));
  ASSERT_TRUE(HasStatus(http().Put("/v1/segments/sg-del-user",
                                   R"({"rule":{"segment":"sg-del-base"}})"),
                        200));
  EXPECT_TRUE(IsError(http().Delete("/v1/segments/sg-del-base"), 409));
  EXPECT_TRUE(HasStatus(http().Get("/v1/segments/sg-del-base"), 200));

  const HttpResponse user = http().Delete("/v1/segments/sg-del-user");
  ASSERT_TRUE(HasStatus(user, 200));
  EXPECT_EQ(Json(user).Str("/deleted"), "sg-del-user");
  const HttpResponse base = http().Delete("/v1/segments/sg-del-base");
  ASSERT_TRUE(HasStatus(base, 200));
  EXPECT_EQ(Json(base).Str("/deleted"), "sg-del-base");
  EXPECT_TRUE(IsError(http().Get("/v1/segments/sg-del-base"), 404));
  EXPECT_TRUE(IsError(http().Delete("/v1/segments/sg-del-base"), 404));
  EXPECT_TRUE(IsError(http().Get("/v1/segments/sg-del-base/members"), 404));
  EXPECT_TRUE(
      IsError(http().Get("/v1/segments/sg-del-base/members/sg-0"), 404));
  EXPECT_TRUE(IsErrorUnder(
      http().Post("/v1/query", R"({"rule":{"segment":"sg-del-base"}})"), 422,
      "/rule"));
  const HttpResponse list = http().Get("/v1/segments");
  ASSERT_TRUE(HasStatus(list, 200));
  EXPECT_EQ(list.body.find("\"sg-del-base\""), std::string::npos);
}

TEST_F(SegmentsApiTest, EditMembersAddsThenRemovesAndReportsUnknownIds) {
  ASSERT_TRUE(HasStatus(
      http().Put("/v1/segments/sg-edit", R"({"members":["sg-0"]})"), 200));
  const HttpResponse r =
      http().Post("/v1/segments/sg-edit/members",
                  R"({"add":["sg-1","ghost-3"],"remove":["sg-0","ghost-4"]})");
  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Json(r).Int("/count"), 1);
  EXPECT_EQ(Json(r).Strings("/unknown_ids"),
            (std::vector<std::string>{"ghost-3", "ghost-4"}));
  EXPECT_TRUE(IsMember("sg-edit", "sg-1"));
  EXPECT_FALSE(IsMember("sg-edit", "sg-0"));
  // Adds, then removes.
  const HttpResponse both = http().Post(
      "/v1/segments/sg-edit/members", R"({"add":["sg-2"],"remove":["sg-2"]})");
  ASSERT_TRUE(HasStatus(both, 200));
  EXPECT_EQ(Json(both).Int("/count"), 1);
  EXPECT_EQ(SegmentCount("sg-edit"), 1);
}

TEST_F(SegmentsApiTest, EditMembersFromCsvAdds) {
  ASSERT_TRUE(HasStatus(
      http().Put("/v1/segments/sg-edit-csv", R"({"members":["sg-0"]})"), 200));
  const HttpResponse r =
      http().Post("/v1/segments/sg-edit-csv/members",
                  "Id\nsg-3\n\"sg-4\"\nghost-5\n", "text/csv");
  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Json(r).Int("/count"), 3);
  EXPECT_EQ(Json(r).Strings("/unknown_ids"),
            std::vector<std::string>{"ghost-5"});
  EXPECT_TRUE(IsMember("sg-edit-csv", "sg-4"));
}

TEST_F(SegmentsApiTest, EditMembersOfADynamicSegmentIs409) {
  ASSERT_TRUE(
      HasStatus(http().Put("/v1/segments/sg-edit-dyn",
                           R"({"rule":)" + std::string(kPuneRule) + "}"),
                200));
  EXPECT_TRUE(IsError(
      http().Post("/v1/segments/sg-edit-dyn/members", R"({"add":["sg-1"]})"),
      409));
  EXPECT_TRUE(IsError(
      http().Post("/v1/segments/sg-edit-dyn/members", "id\nsg-1\n", "text/csv"),
      409));
  EXPECT_FALSE(IsMember("sg-edit-dyn", "sg-1"));
  EXPECT_TRUE(IsError(
      http().Post("/v1/segments/sg-no-such/members", R"({"add":["sg-1"]})"),
      404));
}

TEST_F(SegmentsApiTest, ContainsAnswersMembershipOr404) {
  ASSERT_TRUE(
      HasStatus(http().Put("/v1/segments/sg-contains",
                           R"({"rule":)" + std::string(kPuneRule) + "}"),
                200));
  const HttpResponse yes = http().Get("/v1/segments/sg-contains/members/sg-0");
  ASSERT_TRUE(HasStatus(yes, 200));
  EXPECT_EQ(Json(yes).Canonical(), R"({"member":true})");
  const HttpResponse no = http().Get("/v1/segments/sg-contains/members/sg-1");
  ASSERT_TRUE(HasStatus(no, 200));
  EXPECT_EQ(Json(no).Canonical(), R"({"member":false})");
  EXPECT_TRUE(IsError(http().Get("/v1/segments/sg-nope/members/sg-0"), 404));
  EXPECT_TRUE(
      IsError(http().Get("/v1/segments/sg-contains/members/nobody"), 404));
}

TEST_F(SegmentsApiTest, SegmentsOfAProfileListsItsMemberships) {
  IngestAll(http(), R"({"id":"sg-sp","sgsp":"yes"})");
  ASSERT_TRUE(HasStatus(
      http().Put("/v1/segments/sg-sp-dyn",
                 R"({"rule":{"field":"sgsp","op":"eq","value":"yes"}})"),
      200));
  ASSERT_TRUE(HasStatus(
      http().Put("/v1/segments/sg-sp-st", R"({"members":["sg-sp"]})"), 200));
  ASSERT_TRUE(HasStatus(
      http().Put("/v1/segments/sg-sp-other", R"({"members":["sg-0"]})"), 200));
  const HttpResponse r = http().Get("/v1/profiles/sg-sp/segments");
  ASSERT_TRUE(HasStatus(r, 200));
  const std::set<std::string> names = AsSet(Json(r).Strings("/segments"));
  EXPECT_TRUE(names.contains("sg-sp-dyn")) << r.body;
  EXPECT_TRUE(names.contains("sg-sp-st")) << r.body;
  EXPECT_FALSE(names.contains("sg-sp-other")) << r.body;
  for (const std::string& name : names) EXPECT_TRUE(IsMember(name, "sg-sp"));
  EXPECT_TRUE(IsError(http().Get("/v1/profiles/sg-nobody/segments"), 404));
}

TEST_F(SegmentsApiTest, MergeMovesStaticMemberships) {
  IngestAll(http(), R"({"id":"sg-ma"})"
                    "\n"
                    R"({"id":"sg-mb"})");
  ASSERT_TRUE(HasStatus(
      http().Put("/v1/segments/sg-merge", R"({"members":["sg-mb"]})"), 200));
  ASSERT_TRUE(HasStatus(
      http().Post("/v1/profiles/sg-ma/merge", R"({"from":"sg-mb"})"), 200));
  EXPECT_TRUE(IsMember("sg-merge", "sg-ma"));
  EXPECT_EQ(SegmentCount("sg-merge"), 1);
  EXPECT_TRUE(
      AsSet(
          Json(http().Get("/v1/profiles/sg-ma/segments")).Strings("/segments"))
          .contains("sg-merge"));
  EXPECT_TRUE(IsError(http().Get("/v1/segments/sg-merge/members/sg-mb"), 404));
}

TEST_F(SegmentsApiTest,
       DeleteRemovesStaticMembershipsAndANewProfileStartsOutside) {
  IngestAll(http(), R"({"id":"sg-d1"})"
                    "\n"
                    R"({"id":"sg-d2"})");
  ASSERT_TRUE(HasStatus(
      http().Put("/v1/segments/sg-dd", R"({"members":["sg-d1","sg-d2"]})"),
      200));
  // Replaced: the same profile, still a member.
  IngestAll(http(), R"({"id":"sg-d2","again":true})");
  EXPECT_TRUE(IsMember("sg-dd", "sg-d2"));
  ASSERT_TRUE(HasStatus(http().Delete("/v1/profiles/sg-d1"), 200));
  EXPECT_EQ(SegmentCount("sg-dd"), 1);
  EXPECT_EQ(MemberIds(http(), R"({"segment":"sg-dd"})"),
            std::vector<std::string>{"sg-d2"});
  // Deleted and ingested again: a new profile, in no static segment.
  IngestAll(http(), R"({"id":"sg-d1"})");
  EXPECT_FALSE(IsMember("sg-dd", "sg-d1"));
  EXPECT_EQ(SegmentCount("sg-dd"), 1);
}

TEST_F(SegmentsApiTest, BadSegmentNamesAre400) {
  const std::string body = R"({"members":["sg-0"]})";
  for (const std::string& name :
       {std::string("bad%01name"), std::string("bad%7Fname"),
        std::string("bad%00"), std::string(201, 'n'), std::string("%2e"),
        std::string("%2E%2E"), std::string(".."), std::string("."),
        std::string("a%2Fb")}) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(IsError(http().Put("/v1/segments/" + name, body), 400));
    // A name that could never be saved is 400 whatever the method.
    EXPECT_TRUE(IsError(http().Get("/v1/segments/" + name), 400));
    EXPECT_TRUE(IsError(http().Get("/v1/segments/" + name + "/members"), 400));
    EXPECT_TRUE(IsError(http().Delete("/v1/segments/" + name), 400));
  }
  // The most a name holds, and UTF-8.
  EXPECT_TRUE(HasStatus(
      http().Put("/v1/segments/" + std::string(200, 'n'), body), 200));
  const std::string cafe = "caf\xC3\xA9 segment";
  const HttpResponse r = http().Put("/v1/segments/" + Encode(cafe), body);
  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Json(r).Str("/name"), cafe);
  const HttpResponse got = http().Get("/v1/segments/" + Encode(cafe));
  ASSERT_TRUE(HasStatus(got, 200));
  EXPECT_EQ(Json(got).Str("/name"), cafe);
}

// A server of its own: a name that is not UTF-8, if saved, would spoil every
// list of segments after it.
TEST(SegmentNameTest, NamesThatAreNotUtf8Are400) {
  SegdServer server;
  ASSERT_TRUE(server.started()) << server.Describe();
  HttpClient http(server.port());
  // A stray byte, a cut sequence, an overlong '/'.
  for (const std::string_view name : {"bad%FF", "bad%C3", "bad%C0%AF"}) {
    EXPECT_TRUE(IsError(
        http.Put("/v1/segments/" + std::string(name), R"({"members":[]})"),
        400))
        << name;
  }
  const HttpResponse list = http.Get("/v1/segments");
  ASSERT_TRUE(HasStatus(list, 200));
  EXPECT_TRUE(Json(list).ok()) << Clip(list.body);
}

// The process's own file, as /proc shows it: its name, or its environment
// as NAME=VALUE lines.
std::string ProcFile(pid_t pid, const char* name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + name);
  std::string text(std::istreambuf_iterator<char>(in), {});
  std::replace(text.begin(), text.end(), '\0', '\n');
  return text;
}

TEST(ProcessTest, RunsOnHugePagesUnderItsOwnName) {
  // segd runs itself again with glibc's heap on transparent huge pages,
  // keeping its name (pkill -x segd) and a tunable the user set.
  SegdServer server;
  ASSERT_TRUE(server.started()) << server.Describe();
  EXPECT_EQ(ProcFile(server.pid(), "comm"), "segd\n");
  EXPECT_NE(("\n" + ProcFile(server.pid(), "environ"))
                .find("\nGLIBC_TUNABLES=glibc.malloc.hugetlb=1\n"),
            std::string::npos);

  SegdServer::Options options;
  options.env = {{"GLIBC_TUNABLES", "glibc.malloc.hugetlb=0"}};
  SegdServer declined(options);
  ASSERT_TRUE(declined.started()) << declined.Describe();
  const std::string environment = "\n" + ProcFile(declined.pid(), "environ");
  EXPECT_NE(environment.find("\nGLIBC_TUNABLES=glibc.malloc.hugetlb=0\n"),
            std::string::npos);
  EXPECT_EQ(environment.find("hugetlb=1"), std::string::npos);
}

TEST_F(SegmentsApiTest, BadSegmentBodiesAre4xx) {
  EXPECT_TRUE(IsError(http().Put("/v1/segments/sg-bad",
                                 R"({"rule":{"all":[]},"members":["sg-0"]})"),
                      422));
  EXPECT_TRUE(IsError(
      http().Put("/v1/segments/sg-bad", R"({"description":"x"})"), 422));
  EXPECT_TRUE(IsError(
      http().Put("/v1/segments/sg-bad",
                 R"({"rule":{"all":[{"field":"sg_nope","op":"exists"}]}})"),
      422, "/rule/all/0/field"));
  EXPECT_TRUE(IsError(http().Put("/v1/segments/sg-bad", R"({"rule":)"), 400));
  EXPECT_TRUE(IsError(http().Put("/v1/segments/sg-bad", R"({"members":["a"]})",
                                 "application/xml"),
                      415));
  EXPECT_TRUE(IsError(http().Get("/v1/segments/sg-bad"), 404));
}

// ===========================================================================
// Members: pages, exports (SPEC §3, §5)
// ===========================================================================

class MembersApiTest : public ServedTest<MembersApiTest> {
 public:
  static constexpr int kProfiles = 130;

  static void Seed(HttpClient& http) {
    // Ingested out of id order, so that row order is not id order.
    std::string batch;
    order_.clear();
    for (int i = 0; i < kProfiles; ++i) {
      const int k = (i * 37) % kProfiles;
      char id[16];
      std::snprintf(id, sizeof(id), "mb-%03d", k);
      order_.push_back(id);
      std::string p = R"({"id":")" + std::string(id) + R"(","test":"mb")";
      p += k % 10 == 0 ? R"(,"name":"Doe, \"J\"\n)" + std::to_string(k) + "\""
                       : R"(,"name":"Name )" + std::to_string(k) + "\"";
      if (k % 7 == 0) {
        p += R"(,"mb_n":)" + std::to_string(k) + ".5";
      } else {
        p += R"(,"mb_n":)" + std::to_string(k);
      }
      p += std::string(R"(,"mb_flag":)") + (k % 2 == 0 ? "true" : "false");
      if (k % 3 == 0) p += R"(,"mb_tags":["a","b"])";
      char day[16];
      std::snprintf(day, sizeof(day), "2026-11-%02d", k % 28 + 1);
      p += R"(,"mb_day":")" + std::string(day) + "\"";
      if (k % 5 == 0) p += R"(,"mb_note":"note )" + std::to_string(k) + "\"";
      batch += p + "}\n";
    }
    IngestAll(http, batch);
    EXPECT_TRUE(HasStatus(
        http.Put("/v1/segments/mb-all", R"({"rule":)" + TestIs("mb") + "}"),
        200));
  }

 protected:
  // The query's members of mb-all, whole, in canonical form.
  std::vector<std::string> QueryMembers(std::string_view fields = "") {
    std::string body = R"({"rule":{"segment":"mb-all"},"limit":10000)";
    if (!fields.empty()) body += R"(,"fields":)" + std::string(fields);
    const HttpResponse r = http().Post("/v1/query", body + "}");
    EXPECT_TRUE(HasStatus(r, 200));
    return Json(r).Elements("/members");
  }

  static inline std::vector<std::string> order_;
};

TEST_F(MembersApiTest, QueryMembersComeInRowOrder) {
  EXPECT_EQ(MemberIds(http(), R"({"segment":"mb-all"})"), order_);
}

TEST_F(MembersApiTest, JsonPagesFollowTheCursorToTheQueryMembers) {
  const std::vector<std::string> expected = QueryMembers();
  ASSERT_EQ(expected.size(), static_cast<size_t>(kProfiles));
  std::vector<std::string> paged;
  std::string target = "/v1/segments/mb-all/members?limit=17";
  for (int page = 0; page < 20; ++page) {
    const HttpResponse r = http().Get(target);
    ASSERT_TRUE(HasStatus(r, 200));
    Json body(r);
    EXPECT_EQ(body.Int("/count"), kProfiles);
    const std::vector<std::string> members = body.Elements("/members");
    paged.insert(paged.end(), members.begin(), members.end());
    if (!body.Has("/next_cursor")) break;
    EXPECT_EQ(members.size(), 17u);
    target = "/v1/segments/mb-all/members?limit=17&cursor=" +
             Encode(body.Str("/next_cursor"));
  }
  EXPECT_EQ(paged, expected);
}

// A page of none goes nowhere: a cursor or link from it would lead to the
// same page again, for ever.
TEST_F(MembersApiTest, LimitZeroGivesTheCountAndNoWayOn) {
  const HttpResponse j = http().Get("/v1/segments/mb-all/members?limit=0");
  ASSERT_TRUE(HasStatus(j, 200));
  const Json body(j);
  EXPECT_EQ(body.Int("/count"), kProfiles);
  EXPECT_EQ(body.Size("/members"), 0u);
  EXPECT_FALSE(body.Has("/next_cursor"));
  for (const char* format : {"ndjson", "csv"}) {
    const HttpResponse r = http().Get(
        "/v1/segments/mb-all/members?limit=0&format=" + std::string(format));
    ASSERT_TRUE(HasStatus(r, 200)) << format;
    EXPECT_FALSE(r.Header("Link").has_value()) << format;
  }
}

TEST_F(MembersApiTest, JsonPageHoldsOneHundredByDefault) {
  const HttpResponse r = http().Get("/v1/segments/mb-all/members");
  ASSERT_TRUE(HasStatus(r, 200));
  Json first(r);
  EXPECT_EQ(first.Size("/members"), 100u);
  ASSERT_TRUE(first.Has("/next_cursor"));
  const HttpResponse rest = http().Get("/v1/segments/mb-all/members?cursor=" +
                                       Encode(first.Str("/next_cursor")));
  ASSERT_TRUE(HasStatus(rest, 200));
  EXPECT_EQ(Json(rest).Size("/members"), 30u);
  EXPECT_FALSE(Json(rest).Has("/next_cursor"));
}

TEST_F(MembersApiTest, FieldsChooseTheMemberKeys) {
  const HttpResponse r =
      http().Get("/v1/segments/mb-all/members?limit=3&fields=mb_n,name");
  ASSERT_TRUE(HasStatus(r, 200));
  Json body(r);
  ASSERT_EQ(body.Size("/members"), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(body.Keys("/members/" + std::to_string(i)),
              (std::set<std::string>{"id", "mb_n", "name"}));
  }
  EXPECT_EQ(body.Str("/members/0/id"), order_[0]);
  // `fields=` given empty: the id alone.
  const HttpResponse bare =
      http().Get("/v1/segments/mb-all/members?limit=2&fields=");
  ASSERT_TRUE(HasStatus(bare, 200));
  EXPECT_EQ(Json(bare).Keys("/members/1"), (std::set<std::string>{"id"}));
}

TEST_F(MembersApiTest, CursorHeldAcrossWritesNeverRepeatsOrSkips) {
  std::string batch;
  for (int i = 0; i < 30; ++i) {
    batch += R"({"id":"mbw-)" + std::to_string(i) + R"(","test":"mbw"})" + "\n";
  }
  IngestAll(http(), batch);
  ASSERT_TRUE(HasStatus(
      http().Put("/v1/segments/mbw-all", R"({"rule":)" + TestIs("mbw") + "}"),
      200));
  const HttpResponse first =
      http().Get("/v1/segments/mbw-all/members?limit=10");
  ASSERT_TRUE(HasStatus(first, 200));
  std::vector<std::string> seen = Json(first).Ids();
  ASSERT_TRUE(Json(first).Has("/next_cursor"));
  const std::string cursor = Json(first).Str("/next_cursor");

  // Writes while the cursor is held: new profiles, a delete ahead of the
  // cursor, profiles replaced behind and ahead of it, a patch, a merge
  // whose survivor was already seen.
  std::string more;
  for (int i = 30; i < 35; ++i) {
    more += R"({"id":"mbw-)" + std::to_string(i) + R"(","test":"mbw"})" + "\n";
  }
  IngestAll(http(), more);
  ASSERT_TRUE(HasStatus(http().Delete("/v1/profiles/mbw-12"), 200));
  IngestAll(http(), R"({"id":"mbw-3","test":"mbw","again":1})"
                    "\n"
                    R"({"id":"mbw-15","test":"mbw","again":1})");
  ASSERT_TRUE(
      HasStatus(http().Patch("/v1/profiles/mbw-20", R"({"mbw_x":1})"), 200));
  ASSERT_TRUE(HasStatus(
      http().Post("/v1/profiles/mbw-5/merge", R"({"from":"mbw-25"})"), 200));

  std::string next = cursor;
  for (int page = 0; page < 10 && !next.empty(); ++page) {
    const HttpResponse r = http().Get(
        "/v1/segments/mbw-all/members?limit=10&cursor=" + Encode(next));
    ASSERT_TRUE(HasStatus(r, 200));
    Json body(r);
    const std::vector<std::string> ids = body.Ids();
    seen.insert(seen.end(), ids.begin(), ids.end());
    next = body.Has("/next_cursor") ? body.Str("/next_cursor") : "";
  }
  EXPECT_TRUE(next.empty());
  const std::set<std::string> distinct = AsSet(seen);
  EXPECT_EQ(distinct.size(), seen.size()) << "a profile came twice";
  for (int i = 0; i < 30; ++i) {
    const std::string id = "mbw-" + std::to_string(i);
    if (i == 12 || i == 25) {
      EXPECT_FALSE(distinct.contains(id)) << id << " was deleted";
    } else {
      EXPECT_TRUE(distinct.contains(id)) << id << " was skipped";
    }
  }
}

TEST_F(MembersApiTest, NdjsonExportStreamsEveryMemberChunked) {
  const HttpResponse r =
      http().Get("/v1/segments/mb-all/members?format=ndjson");
  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_TRUE(r.chunked);
  EXPECT_TRUE(r.Header("Content-Type")
                  .value_or("")
                  .starts_with("application/x-ndjson"));
  EXPECT_FALSE(r.Header("Link").has_value());
  std::vector<std::string> members;
  for (const std::string& line : NonBlankLines(r.body)) {
    Json member(line);
    ASSERT_TRUE(member.ok()) << line;
    members.push_back(member.Canonical());
  }
  EXPECT_EQ(members, QueryMembers());
}

TEST_F(MembersApiTest, CsvExportHasAHeaderRowAndRfc4180Cells) {
  const HttpResponse r = http().Get(
      "/v1/segments/mb-all/members?format=csv&fields=name,mb_n,mb_flag,mb_tags,"
      "mb_day,mb_note");
  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_TRUE(r.chunked);
  EXPECT_TRUE(r.Header("Content-Type").value_or("").starts_with("text/csv"));
  EXPECT_TRUE(
      r.body.starts_with("id,name,mb_n,mb_flag,mb_tags,mb_day,mb_note\r\n"))
      << Clip(r.body, 200);
  const std::vector<std::vector<std::string>> rows = ParseCsv(r.body);
  ASSERT_EQ(rows.size(), static_cast<size_t>(kProfiles) + 1);
  EXPECT_EQ(rows[0],
            (std::vector<std::string>{"id", "name", "mb_n", "mb_flag",
                                      "mb_tags", "mb_day", "mb_note"}));
  std::vector<std::string> ids;
  for (size_t i = 1; i < rows.size(); ++i) {
    const std::vector<std::string>& row = rows[i];
    ASSERT_EQ(row.size(), 7u) << i;
    ids.push_back(row[0]);
    const int k = std::atoi(row[0].c_str() + 3);
    EXPECT_EQ(row[1], k % 10 == 0 ? "Doe, \"J\"\n" + std::to_string(k)
                                  : "Name " + std::to_string(k));
    EXPECT_EQ(row[2], std::to_string(k) + (k % 7 == 0 ? ".5" : ""));
    EXPECT_EQ(row[3], k % 2 == 0 ? "true" : "false");
    EXPECT_EQ(row[4], k % 3 == 0 ? R"(["a","b"])" : "");
    char day[16];
    std::snprintf(day, sizeof(day), "2026-11-%02d", k % 28 + 1);
    EXPECT_TRUE(row[5].starts_with(day)) << row[5];
    EXPECT_EQ(row[6], k % 5 == 0 ? "note " + std::to_string(k) : "");
  }
  EXPECT_EQ(ids, order_);
}

TEST_F(MembersApiTest, CsvExportDefaultColumnsAreThoseOfAPreview) {
  const HttpResponse r =
      http().Get("/v1/segments/mb-all/members?format=csv&limit=2");
  ASSERT_TRUE(HasStatus(r, 200));
  const std::vector<std::vector<std::string>> rows = ParseCsv(r.body);
  ASSERT_EQ(rows.size(), 3u) << r.body;
  EXPECT_EQ(rows[0], (std::vector<std::string>{"id", "name", "email", "phone",
                                               "customer_type"}));
  EXPECT_EQ(rows[1][0], order_[0]);
  EXPECT_EQ(rows[1][4], "guest");
}

TEST_F(MembersApiTest, LimitedNdjsonExportLinksToTheNextPage) {
  const std::vector<std::string> expected = QueryMembers();
  std::vector<std::string> members;
  std::string target = "/v1/segments/mb-all/members?format=ndjson&limit=40";
  int pages = 0;
  while (!target.empty() && pages < 10) {
    const HttpResponse r = http().Get(target);
    ASSERT_TRUE(HasStatus(r, 200)) << target;
    ++pages;
    for (const std::string& line : NonBlankLines(r.body)) {
      members.push_back(Json(line).Canonical());
    }
    target = NextLink(r);
  }
  EXPECT_EQ(pages, 4);
  EXPECT_EQ(members, expected);
}

TEST_F(MembersApiTest, LimitedCsvExportLinksToTheNextPage) {
  std::vector<std::string> ids;
  std::string target =
      "/v1/segments/mb-all/members?format=csv&limit=50&fields=mb_n";
  int pages = 0;
  while (!target.empty() && pages < 10) {
    const HttpResponse r = http().Get(target);
    ASSERT_TRUE(HasStatus(r, 200)) << target;
    ++pages;
    const std::vector<std::vector<std::string>> rows = ParseCsv(r.body);
    ASSERT_FALSE(rows.empty());
    EXPECT_EQ(rows[0], (std::vector<std::string>{"id", "mb_n"}));
    for (size_t i = 1; i < rows.size(); ++i) ids.push_back(rows[i][0]);
    target = NextLink(r);
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(ids, order_);
}

TEST_F(MembersApiTest, LimitOverTenThousandIs422) {
  for (const std::string_view format : {"json", "ndjson", "csv"}) {
    EXPECT_TRUE(IsError(http().Get("/v1/segments/mb-all/members?format=" +
                                   std::string(format) + "&limit=10001"),
                        422))
        << format;
  }
  EXPECT_TRUE(
      IsError(http().Get("/v1/segments/mb-all/members?limit=ten"), kAny4xx));
  EXPECT_TRUE(
      IsError(http().Get("/v1/segments/mb-all/members?format=xml"), kAny4xx));
  EXPECT_TRUE(
      HasStatus(http().Get("/v1/segments/mb-all/members?limit=10000"), 200));
  // However long, a limit over the most is 422; a query string has no JSON
  // pointer, so the path is "".
  const HttpResponse huge =
      http().Get("/v1/segments/mb-all/members?limit=99999999999999999999999");
  EXPECT_TRUE(IsError(huge, 422)) << huge.body;
  EXPECT_EQ(Json(huge).Str("/error/path"), "");
}

TEST_F(MembersApiTest, BadCursorIs4xx) {
  EXPECT_TRUE(IsError(http().Get("/v1/segments/mb-all/members?cursor=garbage"),
                      kAny4xx));
  EXPECT_TRUE(IsError(
      http().Get(
          "/v1/segments/mb-all/members?format=ndjson&limit=5&cursor=zzz"),
      kAny4xx));
  EXPECT_TRUE(
      IsError(http().Get("/v1/segments/mb-all/members?cursor=%ZZ"), 400));
}

TEST_F(MembersApiTest, StaticSegmentMembersComeInRowOrder) {
  std::vector<std::string> chosen = {order_[90], order_[5], order_[60],
                                     order_[0]};
  std::string body = R"({"members":[)";
  for (size_t i = 0; i < chosen.size(); ++i) {
    body += (i ? "," : "") + JsonQuote(chosen[i]);
  }
  ASSERT_TRUE(
      HasStatus(http().Put("/v1/segments/mb-static", body + "]}"), 200));
  const HttpResponse r = http().Get("/v1/segments/mb-static/members");
  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Json(r).Int("/count"), 4);
  EXPECT_EQ(Json(r).Ids(), (std::vector<std::string>{order_[0], order_[5],
                                                     order_[60], order_[90]}));
}

TEST_F(MembersApiTest, UnknownSegmentIs404) {
  EXPECT_TRUE(IsError(http().Get("/v1/segments/mb-nope/members"), 404));
  EXPECT_TRUE(
      IsError(http().Get("/v1/segments/mb-nope/members?format=csv"), 404));
}

// ===========================================================================
// Reports (SPEC §3)
// ===========================================================================

class ReportApiTest : public ServedTest<ReportApiTest> {
 public:
  static void Seed(HttpClient& http) {
    IngestAll(
        http,
        R"({"id":"rp-1","test":"rp","r_city":"Pune","r_tags":["vip","new"],"r_n":1,"r_day":"2026-11-19T08:00:00Z","r_flag":true})"
        "\n"
        R"({"id":"rp-2","test":"rp","r_city":"pune","r_tags":["vip"],"r_n":2,"r_day":"2026-11-19T23:00:00Z","r_flag":false})"
        "\n"
        R"({"id":"rp-3","test":"rp","r_city":"Mumbai","r_tags":["new"],"r_n":1,"r_day":"2026-11-20T01:00:00+05:30"})"
        "\n"
        R"({"id":"rp-4","test":"rp","r_city":"Mumbai","r_n":3,"r_day":"2026-11-18","r_flag":true})"
        "\n"
        R"({"id":"rp-5","test":"rp","r_city":"Delhi","r_tags":[],"r_n":1.5})"
        "\n"
        R"({"id":"rp-6","test":"rp","r_city":"Agra"})"
        "\n"
        R"({"id":"rp-7","test":"rp","r_tags":["old"]})"
        "\n"
        R"({"id":"rp-8","test":"rp"})"
        "\n"
        R"({"id":"rp-9","test":"rp","r_city":"Delhi"})"
        "\n");
  }

 protected:
  Json Report(std::string_view group_by, int limit = -1,
              std::string_view rule = "") {
    std::string body = R"({"group_by":")" + std::string(group_by) + "\"";
    body += R"(,"rule":)" + (rule.empty() ? TestIs("rp") : std::string(rule));
    if (limit >= 0) body += R"(,"limit":)" + std::to_string(limit);
    const HttpResponse r = http().Post("/v1/report", body + "}");
    EXPECT_TRUE(HasStatus(r, 200)) << body;
    return Json(r);
  }
};

TEST_F(ReportApiTest, ByStringAttributeFoldsCaseAndBreaksTiesByValue) {
  Json top2 = Report("r_city", 2);
  EXPECT_EQ(top2.Int("/count"), 9);
  ASSERT_EQ(top2.Size("/groups"), 2u) << top2.text();
  EXPECT_EQ(top2.Str("/groups/0/value"), "Delhi");
  EXPECT_EQ(top2.Int("/groups/0/count"), 2);
  EXPECT_EQ(top2.Str("/groups/1/value"), "Mumbai");
  EXPECT_EQ(top2.Int("/groups/1/count"), 2);
  EXPECT_EQ(top2.Int("/other"), 3);
  EXPECT_EQ(top2.Int("/missing"), 2);

  Json all = Report("r_city");
  ASSERT_EQ(all.Size("/groups"), 4u) << all.text();
  const std::string pune = all.Str("/groups/2/value");
  EXPECT_TRUE(pune == "Pune" || pune == "pune") << pune;
  EXPECT_EQ(all.Int("/groups/2/count"), 2);
  EXPECT_EQ(all.Str("/groups/3/value"), "Agra");
  EXPECT_EQ(all.Int("/groups/3/count"), 1);
  EXPECT_EQ(all.Int("/other"), 0);
  EXPECT_EQ(all.Int("/missing"), 2);
}

TEST_F(ReportApiTest, ByStringArrayCountsAMemberInEachOfItsGroups) {
  Json r = Report("r_tags");
  EXPECT_EQ(r.Int("/count"), 9);
  EXPECT_EQ(r.Canonical("/groups"),
            R"([{"count":2,"value":"new"},{"count":2,"value":"vip"},)"
            R"({"count":1,"value":"old"}])");
  EXPECT_EQ(r.Int("/other"), 0);
  EXPECT_EQ(r.Int("/missing"), 5);
}

TEST_F(ReportApiTest, ByNumberDateAndBool) {
  Json n = Report("r_n");
  ASSERT_EQ(n.Size("/groups"), 4u) << n.text();
  const std::vector<std::pair<double, int64_t>> numbers = {
      {1, 2}, {1.5, 1}, {2, 1}, {3, 1}};
  for (size_t i = 0; i < numbers.size(); ++i) {
    const std::string at = "/groups/" + std::to_string(i);
    EXPECT_DOUBLE_EQ(n.Number(at + "/value"), numbers[i].first);
    EXPECT_EQ(n.Int(at + "/count"), numbers[i].second);
  }
  EXPECT_EQ(n.Int("/missing"), 4);

  // Dates by UTC day.
  Json day = Report("r_day");
  EXPECT_EQ(
      day.Canonical("/groups"),
      R"([{"count":3,"value":"2026-11-19"},{"count":1,"value":"2026-11-18"}])");
  EXPECT_EQ(day.Int("/other"), 0);
  EXPECT_EQ(day.Int("/missing"), 5);

  Json flag = Report("r_flag");
  EXPECT_EQ(flag.Canonical("/groups"),
            R"([{"count":2,"value":true},{"count":1,"value":false}])");
  EXPECT_EQ(flag.Int("/missing"), 6);
}

TEST_F(ReportApiTest, RuleChoosesTheMembersAndDefaultsToEveryone) {
  Json some = Report("r_city", 10, R"({"field":"r_n","op":"gte","value":2})");
  EXPECT_EQ(some.Int("/count"), 2);
  ASSERT_EQ(some.Size("/groups"), 2u) << some.text();
  EXPECT_EQ(some.Str("/groups/0/value"), "Mumbai");
  // Shown in one of the group's spellings.
  const std::string pune = some.Str("/groups/1/value");
  EXPECT_TRUE(pune == "Pune" || pune == "pune") << pune;
  EXPECT_EQ(some.Int("/missing"), 0);

  const int64_t live = Count(http(), R"({"all":[]})");
  const HttpResponse everyone =
      http().Post("/v1/report", R"({"group_by":"r_city"})");
  ASSERT_TRUE(HasStatus(everyone, 200));
  EXPECT_EQ(Json(everyone).Int("/count"), live);
  EXPECT_EQ(Json(everyone).Int("/missing"), live - 7);
}

TEST_F(ReportApiTest, BySegmentCountsMembersOfEverySavedSegment) {
  ASSERT_TRUE(HasStatus(
      http().Put("/v1/segments/rs-a", R"({"members":["rp-1","rp-2","rp-3"]})"),
      200));
  ASSERT_TRUE(HasStatus(
      http().Put("/v1/segments/rs-b",
                 R"({"rule":{"field":"r_city","op":"eq","value":"Mumbai"}})"),
      200));
  ASSERT_TRUE(
      HasStatus(http().Put("/v1/segments/rs-c", R"({"members":[]})"), 200));
  ASSERT_TRUE(
      HasStatus(http().Put("/v1/segments/rs-d",
                           R"({"rule":{"field":"r_flag","op":"is_true"}})"),
                200));
  Json one = Report("segment", 1);
  EXPECT_EQ(one.Int("/count"), 9);
  EXPECT_EQ(one.Canonical("/groups"), R"([{"count":3,"value":"rs-a"}])");
  EXPECT_EQ(one.Int("/other"), 1);
  EXPECT_EQ(one.Int("/missing"), 5);

  // Ties in name order; empty segments included.
  Json all = Report("segment");
  EXPECT_EQ(all.Canonical("/groups"),
            R"([{"count":3,"value":"rs-a"},{"count":2,"value":"rs-b"},)"
            R"({"count":2,"value":"rs-d"},{"count":0,"value":"rs-c"}])");
  EXPECT_EQ(all.Int("/other"), 0);
  EXPECT_EQ(all.Int("/missing"), 5);
}

TEST_F(ReportApiTest, BadReportsAre4xx) {
  EXPECT_TRUE(
      IsError(http().Post("/v1/report", R"({"rule":{"all":[]}})"), 422));
  EXPECT_TRUE(IsErrorUnder(
      http().Post("/v1/report", R"({"group_by":"r_nope"})"), 422, "/group_by"));
  EXPECT_TRUE(IsError(
      http().Post("/v1/report", R"({"group_by":"r_city","limit":1001})"), 422,
      "/limit"));
  EXPECT_TRUE(HasStatus(
      http().Post("/v1/report", R"({"group_by":"r_city","limit":1000})"), 200));
  EXPECT_TRUE(IsErrorUnder(
      http().Post(
          "/v1/report",
          R"({"group_by":"r_city","rule":{"field":"r_nope","op":"exists"}})"),
      422, "/rule"));
  EXPECT_TRUE(IsError(http().Post("/v1/report", "{"), 400));
}

// ===========================================================================
// Search (SPEC §3)
// ===========================================================================

class SearchApiTest : public ServedTest<SearchApiTest> {
 public:
  static void Seed(HttpClient& http) {
    IngestAll(http, R"({"id":"sr-0","name":"Zebra One"})"
                    "\n"
                    R"({"id":"sr-1","name":"Kiran ZEBRA"})"
                    "\n"
                    R"({"id":"sr-2","email":"zebra@x.com"})"
                    "\n"
                    R"({"id":"sr-3","phone":"+919900000001"})"
                    "\n"
                    R"({"id":"sr-4","name":"Zeb Ra"})"
                    "\n"
                    R"({"id":"sr-5","name":"Ren\u00e9e Z\u00c9BRA"})"
                    "\n");
  }
};

TEST_F(SearchApiTest, FindsTheKeywordInNameEmailOrPhoneInRowOrder) {
  const HttpResponse r = http().Get("/v1/search?q=zebra");
  ASSERT_TRUE(HasStatus(r, 200));
  Json body(r);
  EXPECT_EQ(body.Int("/count"), 3);
  EXPECT_EQ(body.Ids(), (std::vector<std::string>{"sr-0", "sr-1", "sr-2"}));
  EXPECT_EQ(
      body.Keys("/members/0"),
      (std::set<std::string>{"id", "name", "email", "phone", "customer_type"}));
  EXPECT_EQ(body.Str("/members/0/name"), "Zebra One");
}

TEST_F(SearchApiTest, LimitCutsTheMembersNotTheCount) {
  const HttpResponse r = http().Get("/v1/search?q=ZEBRA&limit=1");
  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Json(r).Int("/count"), 3);
  EXPECT_EQ(Json(r).Ids(), std::vector<std::string>{"sr-0"});
  const HttpResponse none = http().Get("/v1/search?q=zebra&limit=0");
  ASSERT_TRUE(HasStatus(none, 200));
  EXPECT_EQ(Json(none).Int("/count"), 3);
  EXPECT_EQ(Json(none).Size("/members"), 0u);
  EXPECT_TRUE(IsError(http().Get("/v1/search?q=zebra&limit=10001"), 422));
}

TEST_F(SearchApiTest, KeywordIsOneWholeSubstring) {
  EXPECT_EQ(Json(http().Get("/v1/search?q=zeb%20ra")).Ids(),
            std::vector<std::string>{"sr-4"});
  EXPECT_EQ(Json(http().Get("/v1/search?q=zeb+ra")).Ids(),
            std::vector<std::string>{"sr-4"});
  EXPECT_EQ(Json(http().Get("/v1/search?q=%2B9199")).Ids(),
            std::vector<std::string>{"sr-3"});
  // Only ASCII folds: "ÉBRA" is not "ébra".
  EXPECT_EQ(Json(http().Get("/v1/search?q=z%C3%89bra")).Ids(),
            std::vector<std::string>{"sr-5"});
  EXPECT_EQ(Json(http().Get("/v1/search?q=z%C3%A9bra")).Int("/count"), 0);
  const HttpResponse none = http().Get("/v1/search?q=nothing-like-it");
  ASSERT_TRUE(HasStatus(none, 200));
  EXPECT_EQ(Json(none).Int("/count"), 0);
  EXPECT_EQ(Json(none).Size("/members"), 0u);
}

TEST_F(SearchApiTest, MissingKeywordIs4xx) {
  EXPECT_TRUE(IsError(http().Get("/v1/search"), kAny4xx));
  EXPECT_TRUE(IsError(http().Get("/v1/search?q="), kAny4xx));
}

// ===========================================================================
// Schema (SPEC §1, §5)
// ===========================================================================

class SchemaApiTest : public ServedTest<SchemaApiTest> {};

TEST_F(SchemaApiTest, ListsCustomerTypeAsString) {
  const HttpResponse r = http().Get("/v1/schema");
  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Json(r).Str("/attributes/customer_type"), "string");
}

TEST_F(SchemaApiTest, DeclaredTypesComeBeforeTheData) {
  const HttpResponse r = http().Put(
      "/v1/schema",
      R"({"attributes":{"sc_code":"string","sc_when":"date","sc_list":"strings","sc_n":"number","sc_b":"bool"}})");
  ASSERT_TRUE(HasStatus(r, 200));
  const HttpResponse got = http().Get("/v1/schema");
  ASSERT_TRUE(HasStatus(got, 200));
  Json schema(got);
  EXPECT_EQ(schema.Str("/attributes/sc_code"), "string");
  EXPECT_EQ(schema.Str("/attributes/sc_when"), "date");
  EXPECT_EQ(schema.Str("/attributes/sc_list"), "strings");
  EXPECT_EQ(schema.Str("/attributes/sc_n"), "number");
  EXPECT_EQ(schema.Str("/attributes/sc_b"), "bool");
  EXPECT_EQ(schema.Str("/attributes/customer_type"), "string");

  // A date-looking string stays a string.
  IngestAll(http(), R"({"id":"sc-1","sc_code":"2026-11-19"})");
  EXPECT_EQ(
      Count(http(), R"({"field":"sc_code","op":"eq","value":"2026-11-19"})"),
      1);
  EXPECT_TRUE(IsError(
      http().Post(
          "/v1/query",
          R"({"rule":{"field":"sc_code","op":"before","value":"2027-01-01"}})"),
      422));
  // A declared number refuses a string.
  const HttpResponse bad = http().Post(
      "/v1/profiles", R"({"id":"sc-2","sc_n":"many"})", "application/x-ndjson");
  ASSERT_TRUE(HasStatus(bad, 200));
  EXPECT_EQ(Json(bad).Int("/accepted"), 0);

  // Declarations add up.
  ASSERT_TRUE(HasStatus(
      http().Put("/v1/schema", R"({"attributes":{"sc_more":"number"}})"), 200));
  Json after(http().Get("/v1/schema"));
  EXPECT_EQ(after.Str("/attributes/sc_more"), "number");
  EXPECT_EQ(after.Str("/attributes/sc_code"), "string");
}

TEST_F(SchemaApiTest, ConflictIs409AndDeclaresNothing) {
  IngestAll(http(), R"({"id":"sc-3","sc_city":"Pune"})");
  EXPECT_TRUE(IsError(
      http().Put("/v1/schema",
                 R"({"attributes":{"sc_fresh":"number","sc_city":"number"}})"),
      409));
  Json schema(http().Get("/v1/schema"));
  EXPECT_FALSE(schema.Has("/attributes/sc_fresh")) << schema.text();
  EXPECT_EQ(schema.Str("/attributes/sc_city"), "string");
  // The same type again is no conflict.
  EXPECT_TRUE(HasStatus(
      http().Put("/v1/schema", R"({"attributes":{"sc_city":"string"}})"), 200));
}

TEST_F(SchemaApiTest, BadDeclarationsAre4xx) {
  EXPECT_TRUE(IsError(
      http().Put("/v1/schema", R"({"attributes":{"sc_x":"integer"}})"), 422));
  EXPECT_TRUE(IsError(http().Put("/v1/schema", R"({"attributes":5})"), 422));
  EXPECT_TRUE(IsError(http().Put("/v1/schema", R"({"attributes":)"), 400));
  EXPECT_FALSE(Json(http().Get("/v1/schema")).Has("/attributes/sc_x"));
}

TEST_F(SchemaApiTest, ReservedKeysAreNoAttributes) {
  for (const std::string key : {"id", "identities", "events"}) {
    SCOPED_TRACE(key);
    const HttpResponse r =
        http().Put("/v1/schema", R"({"attributes":{"sc_ok":"string",")" + key +
                                     R"(":"string"}})");
    ASSERT_TRUE(IsError(r, 422));
    EXPECT_EQ(Json(r).Str("/error/path"), "/attributes/" + key);
    const Json schema(http().Get("/v1/schema"));
    EXPECT_FALSE(schema.Has("/attributes/" + key));
    EXPECT_FALSE(schema.Has("/attributes/sc_ok"));  // all or nothing
  }
}

TEST_F(SchemaApiTest, UnindexableValuesAreKeptButNotQueried) {
  IngestAll(http(), R"({"id":"sc-4","sc_nums":[1,2,3],"sc_objs":[{"a":1}]})");
  Json schema(http().Get("/v1/schema"));
  EXPECT_EQ(schema.Str("/attributes/sc_nums"), "unindexable");
  EXPECT_TRUE(IsError(
      http().Post("/v1/query", R"({"rule":{"field":"sc_nums","op":"exists"}})"),
      422));
  const HttpResponse p = http().Get("/v1/profiles/sc-4");
  ASSERT_TRUE(HasStatus(p, 200));
  EXPECT_EQ(Json(p).Canonical("/sc_nums"), "[1,2,3]");
  const HttpResponse preview = http().Post(
      "/v1/query", R"({"rule":{"all":[]},"fields":["sc_nums"],"limit":10000})");
  ASSERT_TRUE(HasStatus(preview, 200));
  Json members(preview);
  bool shown = false;
  for (size_t i = 0; i < members.Size("/members"); ++i) {
    const std::string at = "/members/" + std::to_string(i);
    if (members.Str(at + "/id") != "sc-4") continue;
    shown = true;
    EXPECT_EQ(members.Canonical(at + "/sc_nums"), "[1,2,3]");
  }
  EXPECT_TRUE(shown) << preview.body;
}

// ===========================================================================
// Health and metrics (SPEC §5)
// ===========================================================================

class OpsApiTest : public ServedTest<OpsApiTest> {};

TEST_F(OpsApiTest, HealthzAnswersReady) {
  const HttpResponse r = http().Get("/healthz");
  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Json(r).Canonical(), R"({"status":"ready"})");
}

// The value of the sample `series` (name and labels as printed), or 0.
double Sample(const std::string& text, std::string_view series) {
  for (const std::string& line : NonBlankLines(text)) {
    if (line.starts_with(series) && line.size() > series.size() &&
        line[series.size()] == ' ') {
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
    }
  }
  return 0;
}

TEST_F(OpsApiTest, MetricsArePrometheusTextAndCountersGrow) {
  const HttpResponse before = http().Get("/metrics");
  ASSERT_TRUE(HasStatus(before, 200));
  EXPECT_TRUE(
      before.Header("Content-Type").value_or("").starts_with("text/plain"))
      << before.Header("Content-Type").value_or("(none)");
  EXPECT_NE(before.body.find("# TYPE "), std::string::npos);
  // Every sample line is a name, optional labels and a number.
  for (const std::string& line : NonBlankLines(before.body)) {
    if (line.starts_with("#")) continue;
    const size_t space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos) << line;
    const std::string value = line.substr(space + 1);
    char* end = nullptr;
    std::strtod(value.c_str(), &end);
    EXPECT_TRUE(*end == '\0' || value == "NaN" || value == "+Inf") << line;
    EXPECT_TRUE(std::isalpha(static_cast<unsigned char>(line[0])) ||
                line[0] == '_')
        << line;
  }
  const std::string healthz =
      R"(segd_http_requests_total{method="GET",route="/healthz",status="200"})";
  const std::string query =
      R"(segd_http_requests_total{method="POST",route="/v1/query",status="200"})";
  const double healthz0 = Sample(before.body, healthz);
  const double query0 = Sample(before.body, query);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(HasStatus(http().Get("/healthz"), 200));
  ASSERT_TRUE(
      HasStatus(http().Post("/v1/query", R"({"rule":{"all":[]}})"), 200));
  const HttpResponse after = http().Get("/metrics");
  ASSERT_TRUE(HasStatus(after, 200));
  EXPECT_GE(Sample(after.body, healthz), healthz0 + 3)
      << Clip(after.body, 4000);
  EXPECT_GE(Sample(after.body, query), query0 + 1) << Clip(after.body, 4000);
}

// ===========================================================================
// Paths, methods and malformed requests (SPEC §5)
// ===========================================================================

class HttpErrorsApiTest : public ServedTest<HttpErrorsApiTest> {};

TEST_F(HttpErrorsApiTest, UnknownPathIs404) {
  for (const std::string_view target :
       {"/v1/nothing", "/", "/v1", "/v2/query", "/v1/profiles/a/b/c",
        "/v1/segments/s/members/x/y", "/healthz/x", "/v1/profiles/"}) {
    EXPECT_TRUE(IsError(http().Get(target), 404, "")) << target;
  }
  EXPECT_TRUE(IsError(http().Post("/v1/queries", "{}"), 404));
}

TEST_F(HttpErrorsApiTest, WrongMethodIs405WithAllow) {
  struct Case {
    std::string_view method, target, allowed;
  };
  for (const Case& c :
       {Case{"DELETE", "/v1/query", "POST"}, Case{"GET", "/v1/query", "POST"},
        Case{"PUT", "/healthz", "GET"}, Case{"GET", "/v1/events", "POST"},
        Case{"POST", "/v1/segments", "GET"},
        Case{"PATCH", "/v1/segments/x", "PUT"},
        Case{"PUT", "/v1/profiles/x", "PATCH"},
        Case{"POST", "/metrics", "GET"}}) {
    const HttpResponse r = http().Request(c.method, c.target, "{}");
    EXPECT_TRUE(IsError(r, 405)) << c.method << " " << c.target;
    EXPECT_NE(r.Header("Allow").value_or("").find(c.allowed), std::string::npos)
        << c.method << " " << c.target
        << " Allow: " << r.Header("Allow").value_or("(none)");
  }
}

TEST_F(HttpErrorsApiTest, DotSegmentsAre400) {
  for (const std::string_view target :
       {"/v1/profiles/..", "/v1/profiles/.", "/v1/profiles/%2e%2e",
        "/v1/profiles/%2E", "/v1/profiles/.%2e", "/v1/segments/%2e%2e/members",
        "/v1/../healthz", "/./healthz", "/v1/identities/email/..",
        "/v1/profiles/%2e%2e/segments"}) {
    EXPECT_TRUE(IsError(http().Get(target), 400)) << target;
  }
  EXPECT_TRUE(IsError(http().Delete("/v1/segments/%2e%2e"), 400));
  EXPECT_TRUE(IsError(http().Patch("/v1/profiles/..", R"({"a":1})"), 400));
}

TEST_F(HttpErrorsApiTest, BadPercentEscapeIs400) {
  for (const std::string_view target :
       {"/v1/profiles/%ZZ", "/v1/profiles/abc%", "/v1/profiles/%4",
        "/v1/segments/x%g0", "/v1/segments/x%g0/members", "/v1/search?q=%zz",
        "/v1/identities/email/%%"}) {
    EXPECT_TRUE(IsError(http().Get(target), 400)) << target;
  }
}

TEST_F(HttpErrorsApiTest, OddBytesInIdsAndNamesAreAnsweredWithJson) {
  IngestAll(http(), "{\"id\":\"\xC3\xA9-raw\"}");
  // A control byte is in no id.
  for (const std::string_view target :
       {"/v1/profiles/%00x", "/v1/profiles/x%0Ay", "/v1/profiles/%7F",
        "/v1/segments/%01/members", "/v1/profiles/%FF%FE"}) {
    EXPECT_TRUE(IsError(http().Get(target), 400)) << target;
  }
  EXPECT_TRUE(HasStatus(http().Get("/v1/profiles/%C3%A9-raw"), 200));
  // Raw bytes over 0x7F in a target: an answer (or a refusal), never a
  // crash.
  const RawResult raw =
      RawExchange(port(),
                  "GET /v1/profiles/\xC3\xA9-raw HTTP/1.1\r\nHost: x\r\n"
                  "Connection: close\r\n\r\n",
                  std::chrono::seconds(20), true);
  EXPECT_FALSE(raw.timed_out);
  if (!raw.received.empty()) {
    const HttpResponse r = ParseResponse(raw.received);
    EXPECT_TRUE(r.status == 200 || (r.status >= 400 && r.status < 500))
        << Clip(raw.received);
  }
  EXPECT_TRUE(HasStatus(HttpClient(port()).Get("/healthz"), 200));
}

constexpr char kNulInTarget[] = "GET /\0healthz HTTP/1.1\r\nHost: x\r\n\r\n";

TEST_F(HttpErrorsApiTest, MalformedRequestsGet4xxOrCloseAndTheServerGoesOn) {
  const std::vector<std::string> requests = {
      "GARBAGE\r\n\r\n",
      "GET /healthz\r\n\r\n",
      "GET relative/path HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
      "POST /v1/query HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
      "POST /v1/query HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "zz\r\n{}\r\n0\r\n\r\n",
      std::string(kNulInTarget, sizeof(kNulInTarget) - 1),
  };
  for (const std::string& bytes : requests) {
    SCOPED_TRACE(Clip(bytes, 80));
    const RawResult raw =
        RawExchange(port(), bytes, std::chrono::seconds(20), true);
    EXPECT_TRUE(raw.connected);
    EXPECT_FALSE(raw.timed_out);
    const HttpResponse r = ParseResponse(raw.received);
    EXPECT_TRUE(r.status >= 400 && r.status < 500) << Clip(raw.received);
    EXPECT_TRUE(HasStatus(HttpClient(port()).Get("/healthz"), 200));
  }
}

TEST_F(HttpErrorsApiTest, KeepAliveServesManyRequestsOnOneConnection) {
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(HasStatus(http().Get("/healthz"), 200));
  }
  // An error with no body left unread keeps the connection too.
  EXPECT_TRUE(IsError(http().Get("/v1/profiles/nobody"), 404));
  EXPECT_TRUE(HasStatus(http().Get("/healthz"), 200));
  EXPECT_EQ(http().connections(), 1);
}

TEST_F(HttpErrorsApiTest, PipelinedRequestsAreAnsweredInOrder) {
  HttpClient c(port());
  const std::string three =
      c.Format("GET", "/healthz", "", {}) +
      c.Format("POST", "/v1/query", R"({"rule":{"all":[]},"limit":0})",
               {{"Content-Type", "application/json"}}) +
      c.Format("GET", "/v1/profiles/nobody", "", {});
  ASSERT_TRUE(c.SendRaw(three));
  EXPECT_TRUE(HasStatus(c.ReadResponse(), 200));
  const HttpResponse query = c.ReadResponse();
  ASSERT_TRUE(HasStatus(query, 200));
  EXPECT_TRUE(Json(query).Has("/count"));
  EXPECT_TRUE(IsError(c.ReadResponse(), 404));
}

// ===========================================================================
// API key (SPEC §5)
// ===========================================================================

struct RouteCall {
  std::string_view method, target, body;
};

// A request to every path of SPEC §5 but /healthz.
const std::vector<RouteCall>& EveryGuardedRoute() {
  static const auto* const kCalls = new std::vector<RouteCall>{
      {"GET", "/v1/profiles/au-1", ""},
      {"POST", "/v1/profiles", R"({"id":"au-1"})"},
      {"PATCH", "/v1/profiles/au-1", R"({"a":1})"},
      {"DELETE", "/v1/profiles/au-1", ""},
      {"POST", "/v1/profiles/au-1/tags", R"({"add":["x"]})"},
      {"POST", "/v1/profiles/au-1/merge", R"({"from":"au-2"})"},
      {"GET", "/v1/profiles/au-1/segments", ""},
      {"GET", "/v1/identities/email/a@x", ""},
      {"POST", "/v1/events", R"({"id":"au-1","name":"e","at":"2026-01-01"})"},
      {"POST", "/v1/query", R"({"rule":{"all":[]}})"},
      {"GET", "/v1/segments", ""},
      {"GET", "/v1/segments/au-s", ""},
      {"PUT", "/v1/segments/au-s", R"({"members":[]})"},
      {"DELETE", "/v1/segments/au-s", ""},
      {"GET", "/v1/segments/au-s/members", ""},
      {"POST", "/v1/segments/au-s/members", R"({"add":["au-1"]})"},
      {"GET", "/v1/segments/au-s/members/au-1", ""},
      {"GET", "/v1/schema", ""},
      {"PUT", "/v1/schema", R"({"attributes":{"au_x":"number"}})"},
      {"POST", "/v1/report", R"({"group_by":"segment"})"},
      {"GET", "/v1/search?q=a", ""},
      {"GET", "/metrics", ""},
  };
  return *kCalls;
}

void ExpectEveryGuardedRouteRefuses(uint16_t port,
                                    const ::segd::testing::Headers& headers,
                                    std::string_view what) {
  HttpClient c(port);
  for (const RouteCall& call : EveryGuardedRoute()) {
    ::segd::testing::Headers all = headers;
    if (!call.body.empty())
      all.emplace_back("Content-Type", "application/json");
    const HttpResponse r = c.Request(call.method, call.target, call.body, all);
    EXPECT_TRUE(IsError(r, 401))
        << what << ": " << call.method << " " << call.target;
  }
}

class AuthApiTest : public ServedTest<AuthApiTest> {
 public:
  static SegdServer::Options ServerOptions() {
    SegdServer::Options options;
    options.args = {"--api-key", "s3cret-key"};
    return options;
  }
};

TEST_F(AuthApiTest, HealthzNeedsNoKey) {
  const HttpResponse r = http().Get("/healthz");
  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Json(r).Str("/status"), "ready");
}

TEST_F(AuthApiTest, EveryOtherPathRefusesNoKeyOrAWrongOne) {
  ExpectEveryGuardedRouteRefuses(port(), {}, "no key");
  ExpectEveryGuardedRouteRefuses(
      port(), {{"Authorization", "Bearer wrong-key"}}, "wrong key");
  ExpectEveryGuardedRouteRefuses(
      port(), {{"Authorization", "Bearer s3cret-key-and-more"}}, "longer key");
  ExpectEveryGuardedRouteRefuses(
      port(), {{"Authorization", "Basic s3cret-key"}}, "another scheme");
  ExpectEveryGuardedRouteRefuses(port(), {{"Authorization", "s3cret-key"}},
                                 "no scheme");
  // Nothing was written.
  HttpClient keyed(port());
  keyed.SetDefaultHeader("Authorization", "Bearer s3cret-key");
  EXPECT_TRUE(IsError(keyed.Get("/v1/profiles/au-1"), 404));
  EXPECT_TRUE(IsError(keyed.Get("/v1/segments/au-s"), 404));
  EXPECT_FALSE(Json(keyed.Get("/v1/schema")).Has("/attributes/au_x"));
}

TEST_F(AuthApiTest, WithoutTheKeyNotEvenAPathIsTold) {
  for (const std::string_view target :
       {"/v1/nope", "/v1/profiles/x/y/z", "/v1/profiles/%zz", "/nowhere"}) {
    EXPECT_TRUE(IsError(http().Get(target), 401)) << target;
  }
}

TEST_F(AuthApiTest, TheSchemeIsCaseInsensitive) {
  HttpClient keyed(port());
  keyed.SetDefaultHeader("Authorization", "bearer s3cret-key");
  EXPECT_TRUE(HasStatus(keyed.Get("/v1/schema"), 200));
}

TEST_F(AuthApiTest, TheRightKeyIsServed) {
  HttpClient keyed(port());
  keyed.SetDefaultHeader("Authorization", "Bearer s3cret-key");
  const HttpResponse in =
      keyed.Post("/v1/profiles", R"({"id":"au-ok"})", "application/x-ndjson");
  ASSERT_TRUE(HasStatus(in, 200));
  EXPECT_EQ(Json(in).Int("/accepted"), 1);
  EXPECT_TRUE(HasStatus(keyed.Get("/v1/profiles/au-ok"), 200));
  EXPECT_TRUE(
      HasStatus(keyed.Post("/v1/query", R"({"rule":{"all":[]}})"), 200));
  EXPECT_TRUE(HasStatus(keyed.Get("/v1/schema"), 200));
  EXPECT_TRUE(HasStatus(keyed.Get("/metrics"), 200));
  EXPECT_TRUE(HasStatus(keyed.Get("/healthz"), 200));
}

class EnvKeyApiTest : public ServedTest<EnvKeyApiTest> {
 public:
  static SegdServer::Options ServerOptions() {
    SegdServer::Options options;
    options.env = {{"SEGD_API_KEY", "from-env"}};
    return options;
  }
};

TEST_F(EnvKeyApiTest, KeyFromTheEnvironmentIsRequired) {
  EXPECT_TRUE(HasStatus(http().Get("/healthz"), 200));
  ExpectEveryGuardedRouteRefuses(port(), {}, "no key");
  ExpectEveryGuardedRouteRefuses(port(), {{"Authorization", "Bearer wrong"}},
                                 "wrong key");
  HttpClient keyed(port());
  keyed.SetDefaultHeader("Authorization", "Bearer from-env");
  EXPECT_TRUE(HasStatus(keyed.Get("/v1/schema"), 200));
  EXPECT_TRUE(
      HasStatus(keyed.Post("/v1/query", R"({"rule":{"all":[]}})"), 200));
}

// ===========================================================================
// Body and header limits, slow clients (SPEC §5)
// ===========================================================================

class BodyLimitsApiTest : public ServedTest<BodyLimitsApiTest> {
 public:
  static SegdServer::Options ServerOptions() {
    SegdServer::Options options;
    options.args = {"--max-body", "1000"};
    return options;
  }
};

std::string PaddedBatch(size_t size) {
  std::string batch = R"({"id":"lim-pad"})";
  batch += std::string(size - batch.size(), '\n');
  return batch;
}

TEST_F(BodyLimitsApiTest, BatchOverMaxBodyGets413BeforeTheBodyIsSent) {
  for (const std::string_view path : {"/v1/profiles", "/v1/events"}) {
    SCOPED_TRACE(path);
    HttpClient c(port());
    // The header announces 200,000 bytes; only 300 follow, and the answer
    // must come without the rest.
    ASSERT_TRUE(c.SendRaw("POST " + std::string(path) +
                          " HTTP/1.1\r\nHost: x\r\n"
                          "Content-Type: application/x-ndjson\r\n"
                          "Content-Length: 200000\r\n\r\n" +
                          std::string(300, '\n')));
    EXPECT_TRUE(IsError(c.ReadResponse(), 413));
  }
  // A client that asks to continue is refused before it sends the body.
  HttpClient asking(port());
  ASSERT_TRUE(asking.SendRaw(
      "POST /v1/profiles HTTP/1.1\r\nHost: x\r\n"
      "Content-Type: application/x-ndjson\r\nExpect: 100-continue\r\n"
      "Content-Length: 200000\r\n\r\n"));
  EXPECT_TRUE(IsError(asking.ReadResponse(), 413));

  HttpClient after(port());
  EXPECT_TRUE(HasStatus(after.Get("/healthz"), 200));
  // One under the limit that asks to continue is taken.
  const std::string line = R"({"id":"lim-0"})";
  ASSERT_TRUE(after.SendRaw(
      "POST /v1/profiles HTTP/1.1\r\nHost: x\r\n"
      "Content-Type: application/x-ndjson\r\nExpect: 100-continue\r\n"
      "Content-Length: " +
      std::to_string(line.size()) + "\r\n\r\n" + line));
  const HttpResponse continued = after.ReadResponse();
  ASSERT_TRUE(HasStatus(continued, 200));
  EXPECT_EQ(Json(continued).Int("/accepted"), 1);
  const HttpResponse small =
      after.Post("/v1/profiles", R"({"id":"lim-1"})", "application/x-ndjson");
  ASSERT_TRUE(HasStatus(small, 200));
  EXPECT_EQ(Json(small).Int("/accepted"), 1);
}

TEST_F(BodyLimitsApiTest, WholeOrChunkedBatchOverMaxBodyIs413) {
  EXPECT_TRUE(IsError(
      http().Post("/v1/profiles", PaddedBatch(1001), "application/x-ndjson"),
      413));
  HttpClient chunked(port());
  const std::string chunk(600, '\n');
  ASSERT_TRUE(
      chunked.SendRaw("POST /v1/profiles HTTP/1.1\r\nHost: x\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n258\r\n" +
                      chunk + "\r\n258\r\n" + chunk + "\r\n0\r\n\r\n"));
  EXPECT_TRUE(IsError(chunked.ReadResponse(), 413));
  // At the limit is read.
  const HttpResponse most = HttpClient(port()).Post(
      "/v1/profiles", PaddedBatch(1000), "application/x-ndjson");
  ASSERT_TRUE(HasStatus(most, 200));
  EXPECT_EQ(Json(most).Int("/accepted"), 1);
}

TEST_F(BodyLimitsApiTest, CsvUploadOverMaxBodyIs413) {
  std::string csv = "id\n";
  while (csv.size() <= 1000) csv += "some-profile-id\n";
  EXPECT_TRUE(
      IsError(http().Put("/v1/segments/lim-csv", csv, "text/csv"), 413));
  ASSERT_TRUE(HasStatus(
      HttpClient(port()).Put("/v1/segments/lim-csv", R"({"members":[]})"),
      200));
  EXPECT_TRUE(IsError(
      HttpClient(port()).Post("/v1/segments/lim-csv/members", csv, "text/csv"),
      413));
}

TEST_F(BodyLimitsApiTest, MaxBodyLeavesJsonPathsTheirOneMebibyte) {
  std::string query = R"({"rule":{"all":[]},"limit":0)";
  query += std::string(5000, ' ') + "}";
  EXPECT_TRUE(HasStatus(http().Post("/v1/query", query), 200));
  std::string segment = R"({"members":[])";
  segment += std::string(5000, ' ') + "}";
  EXPECT_TRUE(HasStatus(http().Put("/v1/segments/lim-json", segment), 200));
}

class ConnectionsApiTest : public ServedTest<ConnectionsApiTest> {};

TEST_F(ConnectionsApiTest, HeaderOver16KiBIsRefusedAndTheServerGoesOn) {
  const std::string big = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
                          std::string(20 << 10, 'a') + "\r\n\r\n";
  const RawResult raw =
      RawExchange(port(), big, std::chrono::seconds(20), true);
  EXPECT_FALSE(raw.timed_out);
  EXPECT_EQ(ParseResponse(raw.received).status, 431) << Clip(raw.received);
  EXPECT_TRUE(HasStatus(http().Get("/healthz"), 200));
  // A header well under the bound is served.
  EXPECT_TRUE(HasStatus(
      http().Get("/healthz", {{"X-Medium", std::string(8 << 10, 'b')}}), 200));
}

TEST_F(ConnectionsApiTest, LargeBatchesAreReadWholeThenTheConnectionGoesOn) {
  // A body of many reads, with a length and chunked, then a small request
  // on the same connection: each is read whole, whatever the reads' size.
  auto batch = [](const std::string& prefix) {
    std::string ndjson;
    for (int i = 0; i < 4000; ++i) {
      ndjson += R"({"id":")" + prefix + std::to_string(i) + R"(","name":")" +
                prefix + "batch " + std::to_string(i) + R"(","city":"Pune"})" +
                "\n";
    }
    return ndjson;
  };
  HttpClient client(port());
  const std::string whole = batch("lb-");
  ASSERT_GT(whole.size(), size_t{200} << 10);
  const HttpResponse first =
      client.Post("/v1/profiles", whole, "application/x-ndjson");
  ASSERT_TRUE(HasStatus(first, 200));
  EXPECT_EQ(Json(first).Int("/accepted"), 4000);

  const std::string text = batch("lc-");
  std::string chunked =
      "POST /v1/profiles HTTP/1.1\r\nHost: x\r\n"
      "Content-Type: application/x-ndjson\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (size_t at = 0; at < text.size(); at += 3000) {
    const std::string piece = text.substr(at, 3000);
    char size[16];
    std::snprintf(size, sizeof(size), "%zx\r\n", piece.size());
    chunked += size + piece + "\r\n";
  }
  chunked += "0\r\n\r\n";
  ASSERT_TRUE(client.SendRaw(chunked));
  const HttpResponse second = client.ReadResponse();
  ASSERT_TRUE(HasStatus(second, 200));
  EXPECT_EQ(Json(second).Int("/accepted"), 4000);

  EXPECT_EQ(
      Count(client, R"({"field":"name","op":"starts_with","value":"lb-"})"),
      4000);
  EXPECT_EQ(
      Count(client, R"({"field":"name","op":"starts_with","value":"lc-"})"),
      4000);
}

TEST_F(ConnectionsApiTest, SlowClientsDoNotHoldUpOthers) {
  std::vector<std::unique_ptr<HttpClient>> slow;
  for (int i = 0; i < 4; ++i) {
    slow.push_back(std::make_unique<HttpClient>(port()));
    ASSERT_TRUE(slow.back()->SendRaw("GET /healthz HTTP/1.1\r\nHo"));
  }
  // One more stalls in the middle of a body.
  HttpClient slow_body(port());
  ASSERT_TRUE(slow_body.SendRaw(
      "POST /v1/profiles HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
      R"({"id":)"));
  for (int i = 0; i < 20; ++i) {
    HttpClient other(port());
    ASSERT_TRUE(HasStatus(other.Get("/healthz"), 200));
  }
  IngestAll(http(), R"({"id":"slow-ok","test":"slow"})");
  EXPECT_EQ(Count(http(), TestIs("slow")), 1);
  // The slow one finishes and is answered too.
  ASSERT_TRUE(slow[0]->SendRaw("st: x\r\n\r\n"));
  EXPECT_TRUE(HasStatus(slow[0]->ReadResponse(), 200));
}

TEST_F(ConnectionsApiTest, TwoHundredKeepAliveConnectionsAreAllAnswered) {
  constexpr int kConnections = 200;
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < kConnections; ++i) {
    clients.push_back(std::make_unique<HttpClient>(port()));
    ASSERT_TRUE(clients.back()->Connect()) << i;
  }
  // Every connection has a request in flight before any is read.
  for (auto& c : clients) {
    ASSERT_TRUE(c->SendRaw(c->Format("GET", "/healthz", "", {})));
  }
  for (auto& c : clients) EXPECT_TRUE(HasStatus(c->ReadResponse(), 200));
  for (auto& c : clients) {
    ASSERT_TRUE(c->SendRaw(c->Format("POST", "/v1/query",
                                     R"({"rule":{"all":[]},"limit":0})",
                                     {{"Content-Type", "application/json"}})));
  }
  int answered = 0;
  for (auto& c : clients) {
    const HttpResponse r = c->ReadResponse();
    EXPECT_TRUE(HasStatus(r, 200));
    answered += r.status == 200;
    EXPECT_EQ(c->connections(), 1);
  }
  EXPECT_EQ(answered, kConnections);
}

// ===========================================================================
// Concurrency (SPEC §1: a batch is atomic for readers)
// ===========================================================================

class ConcurrencyApiTest : public ServedTest<ConcurrencyApiTest> {};

TEST_F(ConcurrencyApiTest, ReadersSeeOnlyWholeBatches) {
  constexpr int kBatch = 500;
  constexpr int kBatches = 20;
  constexpr int kBase = 250;
  const std::string rule = R"({"field":"cc_group","op":"eq","value":"g"})";
  auto batch_of = [](std::string_view prefix, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) {
      out += R"({"id":")" + std::string(prefix) + std::to_string(i) +
             R"(","cc_group":"g","cc_n":)" + std::to_string(i) + "}\n";
    }
    return out;
  };
  IngestAll(http(), batch_of("cc-base-", kBase));

  std::atomic<bool> stop{false};
  std::atomic<int> ready{0};
  std::mutex mu;
  std::vector<std::string> problems;
  std::vector<int> reads(4, 0);
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      HttpClient c(port());
      int64_t last = kBase;
      bool counted_ready = false;
      while (!stop.load()) {
        const HttpResponse r =
            c.Post("/v1/query", R"({"rule":)" + rule + R"(,"limit":0})");
        std::string problem;
        int64_t count = -1;
        if (r.status != 200) {
          problem = "status " + std::to_string(r.status) + " " + r.error;
        } else {
          Json body(r);
          std::optional<simdjson::dom::element> e = body.Find("/count");
          if (!e || e->get_int64().get(count)) problem = "no count: " + r.body;
        }
        if (problem.empty() && count % kBatch != kBase % kBatch) {
          problem = "count " + std::to_string(count) + " is part of a batch";
        }
        if (problem.empty() && count < last) {
          problem = "count went back from " + std::to_string(last) + " to " +
                    std::to_string(count);
        }
        if (!problem.empty()) {
          std::lock_guard lock(mu);
          problems.push_back(problem);
          if (problems.size() > 20) return;
          continue;
        }
        last = count;
        ++reads[t];
        if (!counted_ready) {
          counted_ready = true;
          ready.fetch_add(1);
        }
      }
    });
  }
  // Readers are running before the first batch.
  for (int i = 0; i < 20000 && ready.load() < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (int b = 0; b < kBatches; ++b) {
    const HttpResponse r = http().Post(
        "/v1/profiles", batch_of("cc-" + std::to_string(b) + "-", kBatch),
        "application/x-ndjson");
    ASSERT_TRUE(HasStatus(r, 200));
    EXPECT_EQ(Json(r).Int("/accepted"), kBatch);
  }
  stop.store(true);
  for (std::thread& t : readers) t.join();
  for (const std::string& p : problems) ADD_FAILURE() << p;
  for (int t = 0; t < 4; ++t) EXPECT_GT(reads[t], 0) << "reader " << t;
  EXPECT_EQ(Count(http(), rule), kBase + kBatch * kBatches);
}

// ===========================================================================
// Lifecycle (SPEC §5)
// ===========================================================================

void ExpectCleanExit(int status) {
  EXPECT_TRUE(WIFEXITED(status)) << "wait status " << status;
  if (WIFEXITED(status)) {
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
}

TEST(LifecycleTest, SigtermExitsZeroAndClosesThePort) {
  SegdServer server;
  ASSERT_TRUE(server.started()) << server.Describe();
  const uint16_t port = server.port();
  HttpClient idle(port);
  ASSERT_TRUE(HasStatus(idle.Get("/healthz"), 200));
  IngestAll(idle, R"({"id":"life-1"})");
  ASSERT_TRUE(idle.connected());

  // The idle connection holds no request: the stop does not wait for it
  // (a fraction of a second), nor for the server's 30 s grace.
  ExpectCleanExit(server.Stop(SIGTERM, std::chrono::seconds(15)));
  EXPECT_FALSE(server.killed());
  const int fd = ::segd::testing::internal::ConnectLoopback(port);
  EXPECT_LT(fd, 0) << "the port still takes connections";
  if (fd >= 0) ::close(fd);
  // The kept-alive connection is closed too.
  EXPECT_EQ(idle.Get("/healthz").status, 0);
}

TEST(LifecycleTest, SigintExitsZero) {
  SegdServer server;
  ASSERT_TRUE(server.started()) << server.Describe();
  ASSERT_TRUE(HasStatus(HttpClient(server.port()).Get("/healthz"), 200));
  ExpectCleanExit(server.Stop(SIGINT));
  EXPECT_FALSE(server.killed());
}

TEST(LifecycleTest, LoadedFileIsServedOnceReady) {
  const ScopedTempDir temp("load");
  ASSERT_FALSE(temp.path().empty());
  const std::string& dir = temp.path();
  const std::string file = dir + "/profiles.ndjson";
  GenOptions gen;
  gen.profiles = 2000;
  gen.seed = 7;
  {
    std::FILE* out = std::fopen(file.c_str(), "w");
    ASSERT_NE(out, nullptr);
    ASSERT_TRUE(GenerateProfiles(gen, out));
    std::fclose(out);
  }
  {
    SegdServer::Options options;
    options.args = {"--load", file};
    options.wait_ready = false;
    SegdServer server(options);
    ASSERT_TRUE(server.started()) << server.Describe();
    HttpClient http(server.port());
    // While it loads, /healthz answers 503 recovering (other paths 503);
    // then 200 ready.
    bool ready = false;
    for (int i = 0; i < 6000 && !ready; ++i) {
      const HttpResponse h = http.Get("/healthz");
      if (h.status == 200) {
        EXPECT_EQ(Json(h).Canonical(), R"({"status":"ready"})");
        ready = true;
        break;
      }
      ASSERT_EQ(h.status, 503) << h.body;
      EXPECT_EQ(Json(h).Canonical(), R"({"status":"recovering"})");
      const HttpResponse q =
          http.Post("/v1/query", R"({"rule":{"all":[]},"limit":0})");
      if (q.status != 200) {
        EXPECT_TRUE(IsError(q, 503));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(ready) << server.Describe();
    EXPECT_TRUE(server.WaitForOutput("segd: ready\n")) << server.Describe();
    EXPECT_EQ(Count(http, R"({"all":[]})"), 2000);
    const HttpResponse first =
        http.Post("/v1/query", R"({"rule":{"all":[]},"limit":1})");
    ASSERT_TRUE(HasStatus(first, 200));
    const std::string id = Json(first).Str("/members/0/id");
    EXPECT_TRUE(HasStatus(http.Get("/v1/profiles/" + Encode(id)), 200));
    ExpectCleanExit(server.Stop(SIGTERM));
  }
}

}  // namespace
}  // namespace segd
