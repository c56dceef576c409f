// ParseTarget and MatchRoute (api/router.h) against SPEC §5's paths: split
// at '/', then decode once; no "." or ".." segment, raw or encoded; no bad
// escape; 405 with the allowed methods, 404 for anything else.
#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "api/router.h"

namespace segd {
namespace {

using Segments = std::vector<std::string>;
using Query = std::vector<std::pair<std::string, std::string>>;

Segments SegmentsOf(std::string_view target) {
  Result<Target> parsed = ParseTarget(target);
  EXPECT_TRUE(parsed.ok()) << target << ": " << parsed.status().ToString();
  return parsed.ok() ? parsed->segments : Segments{};
}

Query QueryOf(std::string_view target) {
  Result<Target> parsed = ParseTarget(target);
  EXPECT_TRUE(parsed.ok()) << target << ": " << parsed.status().ToString();
  return parsed.ok() ? parsed->query : Query{};
}

ErrorCode ParseError(std::string_view target) {
  return ParseTarget(target).status().code();
}

// The route a request target and method reach; null for an error, whose
// code goes to `code` and allowed methods to `allow`.
const Route* RouteFor(std::string_view method, std::string_view target,
                      Segments* params = nullptr, ErrorCode* code = nullptr,
                      std::string* allow = nullptr) {
  Result<Target> parsed = ParseTarget(target);
  EXPECT_TRUE(parsed.ok()) << target << ": " << parsed.status().ToString();
  if (!parsed.ok()) return nullptr;
  std::string allowed;
  Result<Match> match = MatchRoute(method, parsed->segments, &allowed);
  if (allow != nullptr) *allow = allowed;
  if (code != nullptr) *code = match.status().code();
  if (!match.ok()) return nullptr;
  if (params != nullptr) *params = match->params;
  return match->route;
}

std::optional<RouteId> IdOf(const Route* route) {
  if (route == nullptr) return std::nullopt;
  return route->id;
}

ErrorCode MatchError(std::string_view method, std::string_view target,
                     std::string* allow = nullptr) {
  ErrorCode code = ErrorCode::kOk;
  EXPECT_EQ(RouteFor(method, target, nullptr, &code, allow), nullptr)
      << method << " " << target;
  return code;
}

// --- ParseTarget: the path -------------------------------------------------

TEST(ParseTargetTest, SplitsAtSlashes) {
  EXPECT_EQ(SegmentsOf("/v1/profiles/c-1"),
            (Segments{"v1", "profiles", "c-1"}));
  EXPECT_EQ(SegmentsOf("/healthz"), Segments{"healthz"});
  EXPECT_EQ(SegmentsOf("/"), Segments{""});
}

TEST(ParseTargetTest, DecodesAfterSplittingSoEncodedSlashStaysInOneSegment) {
  EXPECT_EQ(SegmentsOf("/v1/profiles/a%2Fb"),
            (Segments{"v1", "profiles", "a/b"}));
  EXPECT_EQ(SegmentsOf("/v1/profiles/a%2fb/tags"),
            (Segments{"v1", "profiles", "a/b", "tags"}));
  EXPECT_EQ(SegmentsOf("/v1/segments/%2F%2F"),
            (Segments{"v1", "segments", "//"}));
}

TEST(ParseTargetTest, DecodesOnceOnly) {
  EXPECT_EQ(SegmentsOf("/v1/profiles/%252F"),
            (Segments{"v1", "profiles", "%2F"}));
  EXPECT_EQ(SegmentsOf("/v1/profiles/%25"), (Segments{"v1", "profiles", "%"}));
  EXPECT_EQ(SegmentsOf("/v1/profiles/%252e%252e"),
            (Segments{"v1", "profiles", "%2e%2e"}));
}

TEST(ParseTargetTest, DecodesAnyByteAndKeepsPlusInThePath) {
  EXPECT_EQ(SegmentsOf("/v1/profiles/a+b%20c"),
            (Segments{"v1", "profiles", "a+b c"}));
  EXPECT_EQ(SegmentsOf("/v1/profiles/%E0%A4%85"),
            (Segments{"v1", "profiles", "\xE0\xA4\x85"}));
  EXPECT_EQ(SegmentsOf("/v1/%70rofiles/x"), (Segments{"v1", "profiles", "x"}));
}

TEST(ParseTargetTest, KeepsEmptySegments) {
  EXPECT_EQ(SegmentsOf("/v1/profiles/"), (Segments{"v1", "profiles", ""}));
  EXPECT_EQ(SegmentsOf("//v1"), (Segments{"", "v1"}));
  EXPECT_EQ(SegmentsOf("/v1//profiles"), (Segments{"v1", "", "profiles"}));
}

TEST(ParseTargetTest, RefusesRawDotSegments) {
  for (std::string_view target :
       {"/v1/profiles/.", "/v1/profiles/..", "/v1/./profiles",
        "/v1/../v1/profiles", "/..", "/.", "/v1/profiles/../../etc",
        "/v1/profiles/..?x=1"}) {
    EXPECT_EQ(ParseError(target), ErrorCode::kMalformed) << target;
  }
}

TEST(ParseTargetTest, RefusesEncodedDotSegments) {
  for (std::string_view target :
       {"/v1/profiles/%2e", "/v1/profiles/%2E", "/v1/profiles/%2e%2e",
        "/v1/profiles/%2E%2e", "/v1/profiles/.%2e", "/v1/profiles/%2E.",
        "/v1/segments/%2e%2e/members", "/%2e%2e/v1/profiles"}) {
    EXPECT_EQ(ParseError(target), ErrorCode::kMalformed) << target;
  }
}

TEST(ParseTargetTest, TakesDotsThatAreNotAWholeSegment) {
  EXPECT_EQ(SegmentsOf("/v1/profiles/..."),
            (Segments{"v1", "profiles", "..."}));
  EXPECT_EQ(SegmentsOf("/v1/profiles/.a"), (Segments{"v1", "profiles", ".a"}));
  EXPECT_EQ(SegmentsOf("/v1/profiles/a.b"),
            (Segments{"v1", "profiles", "a.b"}));
  // Decoded to "../", one segment: an id, never a step up.
  EXPECT_EQ(SegmentsOf("/v1/profiles/..%2F"),
            (Segments{"v1", "profiles", "../"}));
  EXPECT_EQ(SegmentsOf("/v1/profiles/%2e%2e%2f%2e%2e"),
            (Segments{"v1", "profiles", "../.."}));
}

TEST(ParseTargetTest, RefusesBadEscapesInThePath) {
  for (std::string_view target :
       {"/v1/profiles/%", "/v1/profiles/%2", "/v1/profiles/%zz",
        "/v1/profiles/%g0", "/v1/profiles/%0g", "/v1/profiles/a%",
        "/v1/profiles/%%41", "/v1/profiles/%2/tags", "/v1/profiles/% 1",
        "/v1/profiles/%-1"}) {
    EXPECT_EQ(ParseError(target), ErrorCode::kMalformed) << target;
  }
}

TEST(ParseTargetTest, RefusesATargetThatIsNotAnAbsolutePath) {
  for (std::string_view target :
       {"", "v1/profiles", "*", "http://127.0.0.1:8080/v1/profiles", "?q=a"}) {
    EXPECT_EQ(ParseError(target), ErrorCode::kMalformed) << target;
  }
}

TEST(ParseTargetTest, RefusesAFragmentInThePath) {
  EXPECT_EQ(ParseError("/v1/profiles/a#b"), ErrorCode::kMalformed);
}

// --- ParseTarget: the query string ------------------------------------------

TEST(ParseTargetTest, SplitsTheQueryStringFromThePath) {
  Result<Target> t = ParseTarget("/v1/search?q=pune&limit=5");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->segments, (Segments{"v1", "search"}));
  EXPECT_EQ(t->query, (Query{{"q", "pune"}, {"limit", "5"}}));
  EXPECT_EQ(t->Param("q"), "pune");
  EXPECT_EQ(t->Param("limit"), "5");
  EXPECT_EQ(t->Param("cursor"), std::nullopt);
}

TEST(ParseTargetTest, DecodesPlusAsSpaceAndEscapesInTheQuery) {
  EXPECT_EQ(QueryOf("/v1/search?q=asha+patil"), (Query{{"q", "asha patil"}}));
  EXPECT_EQ(QueryOf("/v1/search?q=a%2Bb"), (Query{{"q", "a+b"}}));
  EXPECT_EQ(QueryOf("/v1/search?q=%2F%26%3D%25"), (Query{{"q", "/&=%"}}));
  EXPECT_EQ(QueryOf("/v1/search?f%69elds=a%2Cb"), (Query{{"fields", "a,b"}}));
  EXPECT_EQ(QueryOf("/v1/search?now=2026-11-20T00%3A00%3A00%2B05%3A30"),
            (Query{{"now", "2026-11-20T00:00:00+05:30"}}));
}

TEST(ParseTargetTest, KeepsEveryPairAndParamTakesTheFirst) {
  Result<Target> t = ParseTarget("/v1/search?q=a&limit=1&q=b&limit=2");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->query,
            (Query{{"q", "a"}, {"limit", "1"}, {"q", "b"}, {"limit", "2"}}));
  EXPECT_EQ(t->Param("q"), "a");
  EXPECT_EQ(t->Param("limit"), "1");
}

TEST(ParseTargetTest, SkipsEmptyPairs) {
  EXPECT_EQ(QueryOf("/v1/search?"), Query{});
  EXPECT_EQ(QueryOf("/v1/search?&&"), Query{});
  EXPECT_EQ(QueryOf("/v1/search?&q=a&&limit=2&"),
            (Query{{"q", "a"}, {"limit", "2"}}));
}

TEST(ParseTargetTest, ANameWithoutValueIsEmpty) {
  Result<Target> t = ParseTarget("/v1/search?q&limit=");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->query, (Query{{"q", ""}, {"limit", ""}}));
  EXPECT_EQ(t->Param("q"), "");
  EXPECT_EQ(QueryOf("/v1/search?=x"), (Query{{"", "x"}}));
  // Only the first '=' splits.
  EXPECT_EQ(QueryOf("/v1/search?q=a=b"), (Query{{"q", "a=b"}}));
}

TEST(ParseTargetTest, RefusesBadEscapesInTheQuery) {
  for (std::string_view target :
       {"/v1/search?q=%", "/v1/search?q=%2", "/v1/search?q=%zz",
        "/v1/search?%zz=1", "/healthz?x=%"}) {
    EXPECT_EQ(ParseError(target), ErrorCode::kMalformed) << target;
  }
}

TEST(ParseTargetTest, DotsAndSlashesInTheQueryAreValues) {
  Result<Target> t = ParseTarget("/v1/segments/s/members?cursor=../..&x=./a/b");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->segments, (Segments{"v1", "segments", "s", "members"}));
  EXPECT_EQ(t->Param("cursor"), "../..");
  EXPECT_EQ(t->Param("x"), "./a/b");
}

// --- MatchRoute
// ---------------------------------------------------------------

TEST(RouteTableTest, NamesFollowRoutesAndAreUnique) {
  const std::vector<std::string> names = RouteNames();
  ASSERT_EQ(names.size(), Routes().size());
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(names[i], std::string(Routes()[i].method) + " " +
                            std::string(Routes()[i].pattern));
  }
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(),
            names.size());
}

// Each placeholder gets a value that needs encoding: a slash, a percent
// sign, a space, a dot and a plus.
TEST(MatchRouteTest, MatchesEveryRouteByItsOwnPattern) {
  const std::vector<std::pair<std::string, std::string>> samples = {
      {"a%2Fb%25c", "a/b%c"}, {"h%20d.e+f", "h d.e+f"}, {"%2E%2E%2F", "../"}};
  for (const Route& route : Routes()) {
    std::string target;
    Segments expected;
    std::string_view rest = route.pattern;
    while (!rest.empty()) {
      const size_t open = rest.find('{');
      target.append(rest.substr(0, open));
      if (open == std::string_view::npos) break;
      const auto& [encoded, decoded] = samples[expected.size()];
      target += encoded;
      expected.push_back(decoded);
      rest.remove_prefix(rest.find('}', open) + 1);
    }
    Segments params;
    const Route* found = RouteFor(route.method, target + "?now=x", &params);
    EXPECT_EQ(found, &route) << route.method << " " << target;
    EXPECT_EQ(params, expected) << route.method << " " << target;
  }
}

TEST(MatchRouteTest, PlaceholdersTakeWhatLooksLikeALiteral) {
  Segments params;
  EXPECT_EQ(IdOf(RouteFor("GET", "/v1/profiles/tags", &params)),
            RouteId::kGetProfile);
  EXPECT_EQ(params, Segments{"tags"});
  EXPECT_EQ(IdOf(RouteFor("GET", "/v1/segments/members", &params)),
            RouteId::kGetSegment);
  EXPECT_EQ(params, Segments{"members"});
  EXPECT_EQ(IdOf(RouteFor("GET", "/v1/segments/members/members", &params)),
            RouteId::kSegmentMembers);
  EXPECT_EQ(params, Segments{"members"});
  EXPECT_EQ(IdOf(RouteFor("GET", "/v1/segments/s/members/c%2F1", &params)),
            RouteId::kContains);
  EXPECT_EQ(params, (Segments{"s", "c/1"}));
  EXPECT_EQ(IdOf(RouteFor("GET", "/v1/identities/email/a%40b.com", &params)),
            RouteId::kIdentity);
  EXPECT_EQ(params, (Segments{"email", "a@b.com"}));
}

TEST(MatchRouteTest, AnEncodedSlashIsNotAnotherSegment) {
  Segments params;
  // One id "a/tags", not the tags path of "a".
  EXPECT_EQ(IdOf(RouteFor("GET", "/v1/profiles/a%2Ftags", &params)),
            RouteId::kGetProfile);
  EXPECT_EQ(params, Segments{"a/tags"});
  EXPECT_EQ(MatchError("GET", "/v1/profiles/a/b"), ErrorCode::kNotFound);
}

TEST(MatchRouteTest, TrailingSlashAndEmptySegmentsMatchNoRoute) {
  for (std::string_view target :
       {"/v1/profiles/", "/v1/profiles//tags", "/v1/segments/",
        "/v1/segments//members", "/v1/segments/s/members/", "/v1/query/",
        "/healthz/", "//healthz", "/v1//query", "/v1/identities//h",
        "/v1/identities/email/", "/"}) {
    EXPECT_EQ(MatchError("GET", target), ErrorCode::kNotFound) << target;
    EXPECT_EQ(MatchError("POST", target), ErrorCode::kNotFound) << target;
  }
}

TEST(MatchRouteTest, UnknownPathsAreNotFound) {
  std::string allow = "left over";
  EXPECT_EQ(MatchError("GET", "/v2/profiles/x", &allow), ErrorCode::kNotFound);
  EXPECT_EQ(allow, "");
  for (std::string_view target :
       {"/v1", "/v1/unknown", "/v1/profiles/a/b", "/v1/profiles/a/tags/x",
        "/v1/segments/s/members/c/x", "/v1/identities/email", "/V1/query",
        "/v1/Query", "/metrics/x", "/favicon.ico"}) {
    EXPECT_EQ(MatchError("GET", target), ErrorCode::kNotFound) << target;
  }
}

TEST(MatchRouteTest, AnotherMethodOnAKnownPathIsNotAllowed) {
  const std::vector<
      std::tuple<std::string_view, std::string_view, std::string_view>>
      cases = {
          {"GET", "/v1/profiles", "POST"},
          {"PUT", "/v1/profiles/c-1", "GET, PATCH, DELETE"},
          {"POST", "/v1/profiles/c-1", "GET, PATCH, DELETE"},
          {"GET", "/v1/profiles/c-1/tags", "POST"},
          {"DELETE", "/v1/profiles/c-1/merge", "POST"},
          {"POST", "/v1/profiles/c-1/segments", "GET"},
          {"DELETE", "/v1/identities/email/a", "GET"},
          {"GET", "/v1/events", "POST"},
          {"GET", "/v1/query", "POST"},
          {"POST", "/v1/segments", "GET"},
          {"POST", "/v1/segments/s", "GET, PUT, DELETE"},
          {"PUT", "/v1/segments/s/members", "GET, POST"},
          {"DELETE", "/v1/segments/s/members/c-1", "GET"},
          {"POST", "/v1/schema", "GET, PUT"},
          {"GET", "/v1/report", "POST"},
          {"POST", "/v1/search", "GET"},
          {"POST", "/healthz", "GET"},
          {"HEAD", "/healthz", "GET"},
          {"DELETE", "/metrics", "GET"},
          // Methods are case-sensitive.
          {"get", "/healthz", "GET"},
      };
  for (const auto& [method, target, allowed] : cases) {
    std::string allow;
    EXPECT_EQ(MatchError(method, target, &allow), ErrorCode::kMethodNotAllowed)
        << method << " " << target;
    EXPECT_EQ(allow, allowed) << method << " " << target;
  }
}

TEST(MatchRouteTest, NotAllowedNamesTheAllowedMethods) {
  Result<Target> t = ParseTarget("/v1/segments/s");
  ASSERT_TRUE(t.ok());
  std::string allow;
  Result<Match> match = MatchRoute("PATCH", t->segments, &allow);
  ASSERT_FALSE(match.ok());
  EXPECT_EQ(match.status().code(), ErrorCode::kMethodNotAllowed);
  EXPECT_NE(match.status().message().find("GET, PUT, DELETE"),
            std::string::npos)
      << match.status().message();
}

TEST(MatchRouteTest, MatchesAMethodListedAfterOthersOfItsPath) {
  // `allow` is only meaningful on kMethodNotAllowed: here it may hold the
  // methods tried before the match.
  Result<Target> t = ParseTarget("/v1/segments/s");
  ASSERT_TRUE(t.ok());
  std::string allow;
  Result<Match> match = MatchRoute("DELETE", t->segments, &allow);
  ASSERT_TRUE(match.ok());
  EXPECT_EQ(match->route->id, RouteId::kDeleteSegment);
  EXPECT_EQ(match->params, Segments{"s"});
}

}  // namespace
}  // namespace segd
