// api/openapi.json against the routes the server really has.
//
// The document is written by hand; these tests keep it honest: every route
// of api/router.cc is in it and everything in it is a route, path
// parameters match the patterns' placeholders, every operation answers,
// request bodies follow the route table, and every $ref resolves.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "api/router.h"

namespace segd {
namespace {

namespace dom = simdjson::dom;

// The document, read once for the whole binary. SEGD_SOURCE_DIR (set by
// ctest) names the repository; run by hand, the file is found beside this
// source.
struct Document {
  std::string path;
  simdjson::padded_string text;
  dom::parser parser;
  dom::element root;
  std::string error;  // "" once loaded
};

const Document& Doc() {
  static const Document* doc = [] {
    auto* d = new Document;
    const char* dir = std::getenv("SEGD_SOURCE_DIR");
    const std::filesystem::path repo =
        dir != nullptr && *dir != '\0'
            ? std::filesystem::path(dir)
            : std::filesystem::path(__FILE__).parent_path().parent_path();
    d->path = (repo / "api" / "openapi.json").string();
    if (auto e = simdjson::padded_string::load(d->path).get(d->text)) {
      d->error = std::string("cannot read: ") + simdjson::error_message(e);
    } else if (auto e = d->parser.parse(d->text).get(d->root)) {
      d->error = std::string("not JSON: ") + simdjson::error_message(e);
    }
    return d;
  }();
  return *doc;
}

constexpr std::string_view kMethods[] = {"get",     "put",  "post",  "delete",
                                         "options", "head", "patch", "trace"};

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::optional<dom::element> At(dom::element e, std::string_view pointer) {
  dom::element out;
  if (e.at_pointer(pointer).get(out)) return std::nullopt;
  return out;
}

std::optional<dom::element> Member(dom::element e, std::string_view key) {
  dom::object object;
  dom::element out;
  if (e.get_object().get(object) || object[key].get(out)) return std::nullopt;
  return out;
}

std::string StringOf(std::optional<dom::element> e) {
  std::string_view s;
  if (!e || e->get_string().get(s)) return "";
  return std::string(s);
}

bool IsTrue(std::optional<dom::element> e) {
  bool b = false;
  return e && !e->get_bool().get(b) && b;
}

std::vector<dom::element> Items(std::optional<dom::element> e) {
  std::vector<dom::element> items;
  dom::array array;
  if (!e || e->get_array().get(array)) return items;
  for (dom::element item : array) items.push_back(item);
  return items;
}

// `e`, or what its "$ref" names, followed until it is no reference.
dom::element Resolve(dom::element e) {
  for (int hop = 0; hop < 8; ++hop) {
    const std::string ref = StringOf(Member(e, "$ref"));
    if (!ref.starts_with("#")) return e;
    std::optional<dom::element> target =
        At(Doc().root, std::string_view(ref).substr(1));
    if (!target) return e;
    e = *target;
  }
  return e;
}

// The {placeholders} of a pattern, in order.
std::vector<std::string> Placeholders(std::string_view pattern) {
  std::vector<std::string> names;
  for (size_t open = pattern.find('{'); open != std::string_view::npos;
       open = pattern.find('{', open + 1)) {
    const size_t close = pattern.find('}', open);
    if (close == std::string_view::npos) break;
    names.emplace_back(pattern.substr(open + 1, close - open - 1));
  }
  return names;
}

struct Operation {
  std::string path;
  std::string method;  // upper case, as the router spells it
  dom::element path_item;
  dom::element op;

  std::string Name() const { return method + " " + path; }
};

std::vector<Operation> Operations() {
  std::vector<Operation> ops;
  dom::object paths;
  if (Doc().root["paths"].get_object().get(paths)) return ops;
  for (auto [path, item] : paths) {
    for (std::string_view method : kMethods) {
      if (std::optional<dom::element> op = Member(item, method)) {
        ops.push_back({std::string(path), Upper(method), item, *op});
      }
    }
  }
  return ops;
}

const Route* RouteOf(const Operation& op) {
  for (const Route& route : Routes()) {
    if (route.method == op.method && route.pattern == op.path) return &route;
  }
  return nullptr;
}

// The parameters of an operation, with those of its path item that it
// does not override: (in, name) -> the parameter, resolved.
std::map<std::pair<std::string, std::string>, dom::element> Parameters(
    const Operation& op) {
  std::map<std::pair<std::string, std::string>, dom::element> out;
  for (dom::element owner : {op.path_item, op.op}) {
    dom::array list;
    const std::optional<dom::element> params = Member(owner, "parameters");
    if (!params || params->get_array().get(list)) continue;
    for (dom::element p : list) {
      const dom::element param = Resolve(p);
      out[{StringOf(Member(param, "in")), StringOf(Member(param, "name"))}] =
          param;
    }
  }
  return out;
}

std::set<std::string> ContentTypes(std::optional<dom::element> owner) {
  std::set<std::string> types;
  dom::object content;
  if (!owner) return types;
  const std::optional<dom::element> c = Member(Resolve(*owner), "content");
  if (!c || c->get_object().get(content)) return types;
  for (auto [type, media] : content) types.emplace(type);
  return types;
}

class OpenApiTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(Doc().error, "") << Doc().path;
    root_ = Doc().root;
    ops_ = Operations();
    ASSERT_FALSE(ops_.empty()) << "no operations under /paths";
  }

  dom::element root_;
  std::vector<Operation> ops_;
};

TEST_F(OpenApiTest, IsOpenApi303ForTheLocalServer) {
  EXPECT_EQ(StringOf(At(root_, "/openapi")), "3.0.3");
  EXPECT_NE(StringOf(At(root_, "/info/title")), "");
  EXPECT_NE(StringOf(At(root_, "/info/version")), "");
  EXPECT_EQ(StringOf(At(root_, "/servers/0/url")), "http://127.0.0.1:8080");
}

TEST_F(OpenApiTest, DocumentsEveryRouteOfTheServer) {
  std::set<std::string> documented;
  for (const Operation& op : ops_) documented.insert(op.Name());
  for (const std::string& route : RouteNames()) {
    EXPECT_TRUE(documented.contains(route)) << route << " is not documented";
  }
}

TEST_F(OpenApiTest, DocumentsNothingTheServerDoesNotRoute) {
  const std::vector<std::string> names = RouteNames();
  const std::set<std::string> routes(names.begin(), names.end());
  for (const Operation& op : ops_) {
    EXPECT_TRUE(routes.contains(op.Name()))
        << op.Name() << " is documented but not a route of the server";
  }
}

TEST_F(OpenApiTest, OperationIdsAreUnique) {
  std::set<std::string> seen;
  for (const Operation& op : ops_) {
    const std::string id = StringOf(Member(op.op, "operationId"));
    EXPECT_NE(id, "") << op.Name();
    EXPECT_TRUE(seen.insert(id).second) << op.Name() << ": " << id;
  }
}

TEST_F(OpenApiTest, DeclaresEveryPathParameterOfThePattern) {
  for (const Operation& op : ops_) {
    const std::vector<std::string> wanted = Placeholders(op.path);
    std::set<std::string> declared;
    for (const auto& [key, param] : Parameters(op)) {
      if (key.first != "path") continue;
      declared.insert(key.second);
      EXPECT_TRUE(IsTrue(Member(param, "required")))
          << op.Name() << ": {" << key.second << "}";
      EXPECT_EQ(StringOf(At(param, "/schema/type")), "string")
          << op.Name() << ": {" << key.second << "}";
    }
    EXPECT_EQ(declared, std::set<std::string>(wanted.begin(), wanted.end()))
        << op.Name();
  }
}

TEST_F(OpenApiTest, EveryOperationDeclaresItsResponses) {
  const std::set<std::string> statuses = {"200", "400", "401", "404", "409",
                                          "413", "415", "422", "500", "503"};
  for (const Operation& op : ops_) {
    dom::object responses;
    ASSERT_FALSE(op.op["responses"].get_object().get(responses)) << op.Name();
    EXPECT_GT(responses.size(), 0u) << op.Name();
    EXPECT_TRUE(At(op.op, "/responses/200")) << op.Name() << " has no 200";
    // Every path may meet a bad target (a bad escape in its query string).
    EXPECT_TRUE(At(op.op, "/responses/400")) << op.Name() << " has no 400";
    for (auto [status, value] : responses) {
      EXPECT_TRUE(statuses.contains(std::string(status)))
          << op.Name() << ": " << status;
      const dom::element response = Resolve(value);
      EXPECT_NE(StringOf(Member(response, "description")), "")
          << op.Name() << ": " << status;
      EXPECT_FALSE(ContentTypes(response).empty())
          << op.Name() << ": " << status << " has no content";
      // Errors are {"error": {...}}; /healthz's 503 is its status answer.
      const bool error = status != "200" && !(op.path == "/healthz");
      if (error) {
        EXPECT_EQ(
            StringOf(At(response, "/content/application~1json/schema/$ref")),
            "#/components/schemas/Error")
            << op.Name() << ": " << status;
      }
    }
  }
}

TEST_F(OpenApiTest, ErrorSchemaIsCodeMessageAndPath) {
  const std::optional<dom::element> error =
      At(root_, "/components/schemas/Error/properties/error");
  ASSERT_TRUE(error);
  std::set<std::string> required;
  for (dom::element e : Items(Member(*error, "required"))) {
    required.insert(StringOf(e));
  }
  EXPECT_EQ(required, (std::set<std::string>{"code", "message", "path"}));
}

TEST_F(OpenApiTest, BearerKeyGuardsEveryPathButHealthz) {
  EXPECT_EQ(StringOf(At(root_, "/components/securitySchemes/bearerAuth/type")),
            "http");
  EXPECT_EQ(
      StringOf(At(root_, "/components/securitySchemes/bearerAuth/scheme")),
      "bearer");
  EXPECT_TRUE(At(root_, "/security/0/bearerAuth"));
  for (const Operation& op : ops_) {
    const std::optional<dom::element> security = Member(op.op, "security");
    const bool has_401 = At(op.op, "/responses/401").has_value();
    if (op.path == "/healthz") {
      ASSERT_TRUE(security) << "/healthz must override the global security";
      EXPECT_TRUE(security->is_array());
      EXPECT_TRUE(Items(security).empty());
      EXPECT_FALSE(has_401);
    } else {
      EXPECT_FALSE(security) << op.Name() << " overrides the bearer key";
      EXPECT_TRUE(has_401) << op.Name() << " has no 401";
    }
  }
}

TEST_F(OpenApiTest, RequestBodiesFollowTheRouteTable) {
  for (const Operation& op : ops_) {
    const Route* route = RouteOf(op);
    ASSERT_NE(route, nullptr) << op.Name();
    const std::optional<dom::element> body = Member(op.op, "requestBody");
    EXPECT_EQ(body.has_value(), route->body != BodyKind::kNone) << op.Name();
    if (!body) continue;
    EXPECT_TRUE(At(op.op, "/responses/413")) << op.Name() << " has no 413";
    const std::set<std::string> types = ContentTypes(body);
    EXPECT_TRUE(types.contains("application/json")) << op.Name();
    switch (route->id) {
      case RouteId::kIngestProfiles:
      case RouteId::kIngestEvents:
        // Told by Content-Type or first byte: never 415.
        EXPECT_TRUE(types.contains("application/x-ndjson")) << op.Name();
        EXPECT_EQ(StringOf(At(*body, "/content/application~1json/schema/type")),
                  "array")
            << op.Name();
        EXPECT_FALSE(At(op.op, "/responses/415")) << op.Name();
        break;
      case RouteId::kPutSegment:
      case RouteId::kEditMembers:
        EXPECT_TRUE(types.contains("text/csv")) << op.Name();
        EXPECT_TRUE(At(op.op, "/responses/415")) << op.Name();
        break;
      default:
        EXPECT_EQ(types, std::set<std::string>{"application/json"})
            << op.Name();
        EXPECT_TRUE(At(op.op, "/responses/415")) << op.Name();
        break;
    }
  }
}

TEST_F(OpenApiTest, QueryParametersOfTheReadPaths) {
  auto names = [&](std::string_view wanted) {
    std::set<std::string> out;
    for (const Operation& op : ops_) {
      if (op.Name() != wanted) continue;
      for (const auto& [key, param] : Parameters(op)) {
        if (key.first == "query") out.insert(key.second);
      }
    }
    return out;
  };
  using Names = std::set<std::string>;
  EXPECT_EQ(names("GET /v1/segments/{name}/members"),
            (Names{"limit", "cursor", "format", "fields", "now"}));
  EXPECT_EQ(names("GET /v1/search"), (Names{"q", "limit", "fields"}));
  EXPECT_EQ(names("GET /v1/segments"), Names{"now"});
  EXPECT_EQ(names("GET /v1/segments/{name}"), Names{"now"});
  EXPECT_EQ(names("GET /v1/segments/{name}/members/{id}"), Names{"now"});
  EXPECT_EQ(names("GET /v1/profiles/{id}/segments"), Names{"now"});

  const std::optional<dom::element> format =
      At(root_, "/components/parameters/Format/schema/enum");
  ASSERT_TRUE(format);
  Names formats;
  for (dom::element e : Items(format)) formats.insert(StringOf(e));
  EXPECT_EQ(formats, (Names{"json", "ndjson", "csv"}));
}

TEST_F(OpenApiTest, MembersExportInThreeFormats) {
  const std::optional<dom::element> ok =
      At(root_, "/paths/~1v1~1segments~1{name}~1members/get/responses/200");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ContentTypes(ok),
            (std::set<std::string>{"application/json", "application/x-ndjson",
                                   "text/csv"}));
  EXPECT_TRUE(At(Resolve(*ok), "/headers/Link"));
}

TEST_F(OpenApiTest, MetricsArePlainText) {
  const std::optional<dom::element> ok =
      At(root_, "/paths/~1metrics/get/responses/200");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ContentTypes(ok), std::set<std::string>{"text/plain"});
}

TEST_F(OpenApiTest, NamesTheSharedSchemas) {
  for (std::string_view name :
       {"Error", "Profile", "BatchAnswer", "QueryRequest", "QueryAnswer",
        "Rule", "Segment", "MembersPage", "ReportRequest", "ReportAnswer",
        "Schema"}) {
    EXPECT_TRUE(At(root_, "/components/schemas/" + std::string(name))) << name;
  }
}

TEST_F(OpenApiTest, RuleIsOneOfTheSixNodeForms) {
  const std::optional<dom::element> one_of =
      At(root_, "/components/schemas/Rule/oneOf");
  ASSERT_TRUE(one_of);
  std::set<std::string> keys;
  for (dom::element alternative : Items(one_of)) {
    // The first required key names the form.
    const std::vector<dom::element> required =
        Items(Member(Resolve(alternative), "required"));
    ASSERT_FALSE(required.empty());
    keys.insert(StringOf(required[0]));
  }
  EXPECT_EQ(keys, (std::set<std::string>{"all", "any", "not", "field", "event",
                                         "segment"}));
}

// Every "$ref" below `e`, with the JSON pointer where it stands.
void CollectRefs(dom::element e, const std::string& at,
                 std::vector<std::pair<std::string, std::string>>* refs) {
  dom::object object;
  if (!e.get_object().get(object)) {
    for (auto [key, value] : object) {
      if (key == "$ref") refs->emplace_back(at, StringOf(value));
      std::string escaped;
      for (char c : key) {
        escaped += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
      }
      CollectRefs(value, at + "/" + escaped, refs);
    }
    return;
  }
  size_t i = 0;
  for (dom::element value : Items(e)) {
    CollectRefs(value, at + "/" + std::to_string(i++), refs);
  }
}

TEST_F(OpenApiTest, EveryRefResolvesWithinTheDocument) {
  std::vector<std::pair<std::string, std::string>> refs;
  CollectRefs(root_, "", &refs);
  EXPECT_GT(refs.size(), 0u);
  for (const auto& [at, ref] : refs) {
    ASSERT_TRUE(ref.starts_with("#/")) << at << ": " << ref;
    EXPECT_TRUE(At(root_, std::string_view(ref).substr(1)))
        << at << ": " << ref << " does not resolve";
  }
}

}  // namespace
}  // namespace segd
