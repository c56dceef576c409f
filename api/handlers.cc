#include "api/handlers.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <memory>
#include <optional>

#include "api/csv.h"
#include "base/json_numbers.h"
#include "base/json_pointer.h"
#include "base/json_writer.h"
#include "base/time.h"
#include "base/utf8.h"
#include "engine/preview.h"
#include "index/schema.h"

namespace segd {
namespace {

constexpr size_t kMaxPreview = 10000;      // SPEC §3
constexpr size_t kMaxReportGroups = 1000;  // SPEC §3
constexpr size_t kDefaultMembersPage = 100;
// Body nesting the JSON parser takes; a rule is refused far sooner (at its
// configured depth), this only bounds the parser's own stack.
constexpr size_t kMaxJsonDepth = 256;

// A JSON answer, ended by a newline so that it reads well after curl.
ApiResponse Json(std::string body, int status = 200) {
  ApiResponse response;
  response.status = status;
  response.body = std::move(body);
  response.body.push_back('\n');
  return response;
}

// Status with its path moved under `prefix` (a rule's errors point within
// the rule; the body holds it at "/rule").
Status Under(const Status& status, std::string_view prefix) {
  return Status(status.code(), status.message(),
                std::string(prefix) + status.path());
}

// A rule's error in a body that parsed: 422, whatever is wrong with the
// rule (SPEC §5: a rule that is not an object, an unknown operator), under
// "/rule".
Status RuleError(const Status& status) {
  const ErrorCode code = status.code() == ErrorCode::kMalformed
                             ? ErrorCode::kInvalid
                             : status.code();
  return Status(code, status.message(), "/rule" + status.path());
}

std::string Quoted(std::string_view text) {
  std::string out;
  AppendJsonString(out, text);
  return out;
}

// SPEC §5: a batch is NDJSON or a JSON array by its Content-Type, and
// otherwise (curl's default included) told by its first non-blank byte.
BatchFormat FormatOf(std::string_view content_type) {
  if (content_type == "application/x-ndjson") return BatchFormat::kNdjson;
  if (content_type == "application/json") return BatchFormat::kArray;
  return BatchFormat::kAuto;
}

// An application/json batch that is one JSON object, not an array, is read
// as a batch of that one (it is JSON, and what a client posting a single
// profile means); anything else keeps its text, and an array is expected.
std::string BatchText(const ApiRequest& request) {
  if (FormatOf(request.content_type) != BatchFormat::kArray) {
    return request.body;
  }
  const size_t first = request.body.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || request.body[first] != '{') {
    return request.body;
  }
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  auto error = parser.parse(request.body).get_object().get(object);
  if (error == simdjson::NUMBER_ERROR) {  // an integer past 64 bits
    if (const auto widened = WidenBigIntegers(request.body)) {
      error = parser.parse(*widened).get_object().get(object);
    }
  }
  if (error) return request.body;
  return "[" + request.body + "]";
}

bool IsJsonType(std::string_view type) {
  return type.empty() || type == "application/json" || type == "text/plain" ||
         type == "application/x-www-form-urlencoded" || type.ends_with("+json");
}

// The request body as a JSON object. The parser must outlive the object.
Result<simdjson::dom::object> ParseObject(const ApiRequest& request,
                                          simdjson::dom::parser& parser) {
  if (!IsJsonType(request.content_type)) {
    return Status(ErrorCode::kUnsupportedMediaType,
                  "this path takes a JSON body, not " + request.content_type);
  }
  if (request.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Malformed("the body is empty; this path takes a JSON object");
  }
  // A UTF-8 byte order mark, as some editors save JSON, is no JSON.
  std::string_view text = request.body;
  const bool marked = text.starts_with("\xEF\xBB\xBF");
  if (marked) text.remove_prefix(3);
  simdjson::dom::element root;
  auto error = (marked ? parser.parse(text.data(), text.size())
                       : parser.parse(request.body))
                   .get(root);
  if (error == simdjson::NUMBER_ERROR) {
    // The DOM keeps no view of its text: the widened copy may go.
    if (const auto widened = WidenBigIntegers(text)) {
      error = parser.parse(*widened).get(root);
    }
  }
  if (error) {
    if (error == simdjson::DEPTH_ERROR) {
      return Invalid("the body nests deeper than " +
                     std::to_string(kMaxJsonDepth) + " levels");
    }
    return Malformed(std::string("the body is not valid JSON: ") +
                     simdjson::error_message(error));
  }
  simdjson::dom::object object;
  if (root.get_object().get(object)) {
    return Invalid("the body must be a JSON object");
  }
  return object;
}

simdjson::dom::parser& ThreadParser() {
  thread_local simdjson::dom::parser parser(1 << 20);
  thread_local bool sized = [] {
    return parser.allocate(1 << 16, kMaxJsonDepth) == simdjson::SUCCESS;
  }();
  (void)sized;
  return parser;
}

std::optional<simdjson::dom::element> Member(simdjson::dom::object object,
                                             std::string_view key) {
  simdjson::dom::element value;
  if (object[key].get(value)) return std::nullopt;
  return value;
}

// 422 for a key of the body that the path does not take: a misspelled
// "limt" would otherwise read as no limit, and a merge's unknown option be
// ignored while the merge is done. Keys in `echoed` are taken and ignored:
// the server's own answer holds them, and may be sent back as it is.
Status KnownKeys(simdjson::dom::object object,
                 std::initializer_list<std::string_view> known,
                 std::initializer_list<std::string_view> echoed = {}) {
  for (auto [key, value] : object) {
    auto is = [key](std::string_view k) { return k == key; };
    if (std::any_of(known.begin(), known.end(), is) ||
        std::any_of(echoed.begin(), echoed.end(), is)) {
      continue;
    }
    std::string names;
    for (std::string_view k : known) {
      if (!names.empty()) names += ", ";
      names += Quoted(k);
    }
    return Invalid("unknown key " + Quoted(key) + "; this path takes " + names,
                   JsonPointerChild("", key));
  }
  return Status::Ok();
}

// An optional non-negative integer at /key, at most `max`.
Result<size_t> SizeAt(simdjson::dom::object object, std::string_view key,
                      size_t fallback, size_t max) {
  const std::optional<simdjson::dom::element> value = Member(object, key);
  if (!value || value->is_null()) return fallback;
  uint64_t n;
  if (value->get_uint64().get(n)) {
    return Invalid(std::string(key) + " must be a non-negative integer",
                   JsonPointerChild("", key));
  }
  if (n > max) {
    return Invalid(std::string(key) + " is at most " + std::to_string(max),
                   JsonPointerChild("", key));
  }
  return static_cast<size_t>(n);
}

Result<bool> BoolAt(simdjson::dom::object object, std::string_view key,
                    bool fallback) {
  const std::optional<simdjson::dom::element> value = Member(object, key);
  if (!value || value->is_null()) return fallback;
  bool b;
  if (value->get_bool().get(b)) {
    return Invalid(std::string(key) + " must be true or false",
                   JsonPointerChild("", key));
  }
  return b;
}

// An array of strings at /key; absent or null is empty.
Result<std::vector<std::string>> StringsAt(simdjson::dom::object object,
                                           std::string_view key) {
  std::vector<std::string> out;
  const std::optional<simdjson::dom::element> value = Member(object, key);
  if (!value || value->is_null()) return out;
  simdjson::dom::array array;
  if (value->get_array().get(array)) {
    return Invalid(std::string(key) + " must be an array of strings",
                   JsonPointerChild("", key));
  }
  size_t i = 0;
  for (simdjson::dom::element e : array) {
    std::string_view s;
    if (e.get_string().get(s)) {
      return Invalid(std::string(key) + " must hold only strings",
                     JsonPointerChild(JsonPointerChild("", key), i));
    }
    out.emplace_back(s);
    ++i;
  }
  return out;
}

// `now` of a query body: an ISO-8601 instant pinning the clock.
Result<int64_t> NowAt(simdjson::dom::object object) {
  const std::optional<simdjson::dom::element> value = Member(object, "now");
  if (!value || value->is_null()) return NowMillis();
  std::string_view text;
  std::optional<int64_t> ms;
  if (!value->get_string().get(text)) ms = ParseIsoInstant(text);
  if (!ms) return Invalid("now must be an ISO-8601 date or date-time", "/now");
  return *ms;
}

// The preview fields a query string names, `id` alone when it names none.
std::vector<std::string> SplitFields(std::string_view text) {
  std::vector<std::string> fields;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    std::string field(text.substr(0, comma));
    if (!field.empty() &&
        std::find(fields.begin(), fields.end(), field) == fields.end()) {
      fields.push_back(std::move(field));
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  // `fields=` given empty asks for no field but the id, which is always
  // shown; only an absent parameter means the defaults.
  if (fields.empty()) fields.emplace_back("id");
  return fields;
}

// A query-string count: absent gives `fallback`; not a number is
// malformed, over `max` invalid (SPEC §5).
Result<std::optional<size_t>> SizeParam(const Target& target,
                                        std::string_view name, size_t max) {
  const std::optional<std::string_view> text = target.Param(name);
  if (!text || text->empty()) return std::optional<size_t>();
  // A query string has no JSON pointer: the message names the parameter,
  // and the path is "".
  if (text->find_first_not_of("0123456789") != std::string_view::npos) {
    return Malformed(std::string(name) + " must be a non-negative integer");
  }
  // Leading zeros say nothing; past 18 digits is past any maximum.
  std::string_view digits = *text;
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
  const size_t n =
      digits.size() > 18 ? SIZE_MAX : std::stoull(std::string(digits));
  if (n > max) {
    return Invalid(std::string(name) + " is at most " + std::to_string(max));
  }
  return std::optional<size_t>(n);
}

Result<int64_t> NowParam(const Target& target) {
  const std::optional<std::string_view> text = target.Param("now");
  if (!text || text->empty()) return NowMillis();
  const std::optional<int64_t> ms = ParseIsoInstant(*text);
  if (!ms) return Invalid("now must be an ISO-8601 date or date-time");
  return *ms;
}

std::string BatchAnswer(const BatchResult& result) {
  JsonWriter out;
  out.BeginObject();
  out.Key("accepted");
  out.Uint(result.accepted);
  out.Key("rejected");
  out.BeginArray();
  for (const RejectedRecord& r : result.rejected) {
    out.BeginObject();
    out.Key("line");
    out.Uint(r.line);
    out.Key("id");
    if (r.id.empty()) {
      out.Null();
    } else {
      out.String(r.id);
    }
    out.Key("error");
    out.BeginObject();
    out.Key("code");
    out.String(ErrorCodeName(r.error.code()));
    out.Key("message");
    out.String(r.error.message());
    out.Key("path");
    out.String(r.error.path());
    out.EndObject();
    out.EndObject();
  }
  out.EndArray();
  out.EndObject();
  return out.Take();
}

const char* KindName(SavedSegment::Kind kind) {
  switch (kind) {
    case SavedSegment::Kind::kDynamic:
      return "dynamic";
    case SavedSegment::Kind::kStatic:
      return "static";
  }
  return "dynamic";
}

void WriteSegment(const SegmentInfo& info, JsonWriter& out,
                  const std::vector<std::string>* unknown_ids = nullptr) {
  const SavedSegment& s = *info.segment;
  out.BeginObject();
  out.Key("name");
  out.String(s.name);
  out.Key("kind");
  out.String(KindName(s.kind));
  out.Key("description");
  out.String(s.description);
  if (s.kind == SavedSegment::Kind::kDynamic) {
    out.Key("rule");
    out.Raw(s.rule_json);
  }
  out.Key("count");
  out.Uint(info.count);
  if (unknown_ids != nullptr) {
    out.Key("unknown_ids");
    out.BeginArray();
    for (const std::string& id : *unknown_ids) out.String(id);
    out.EndArray();
  }
  out.EndObject();
}

Status CheckProfileId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdBytes) {
    return Malformed("a profile id is 1 to " + std::to_string(kMaxIdBytes) +
                     " bytes");
  }
  for (const unsigned char c : id) {
    if (c < 0x20 || c == 0x7F) {
      return Malformed("a profile id holds no control characters");
    }
  }
  if (!IsValidUtf8(id)) return Malformed("a profile id is UTF-8");
  return Status::Ok();
}

std::string SchemaAnswer(const Schema& schema) {
  JsonWriter out;
  out.BeginObject();
  out.Key("attributes");
  out.BeginObject();
  for (const Attribute& a : schema.attributes()) {
    out.Key(a.name);
    out.String(a.type == AttrType::kStringArray ? "strings"
                                                : AttrTypeName(a.type));
  }
  out.EndObject();
  out.EndObject();
  return out.Take();
}

// The columns of a CSV export: the id, then the fields but the id.
std::vector<std::string> CsvColumns(const std::vector<std::string>& fields) {
  std::vector<std::string> columns = {"id"};
  for (const std::string& f :
       fields.empty() ? DefaultPreviewFields() : fields) {
    if (f != "id") columns.push_back(f);
  }
  return columns;
}

std::string PercentEncode(std::string_view text) {
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

}  // namespace

int HttpStatus(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return 200;
    case ErrorCode::kMalformed:
      return 400;
    case ErrorCode::kInvalid:
      return 422;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kTooLarge:
      return 413;
    case ErrorCode::kUnauthorized:
      return 401;
    case ErrorCode::kMethodNotAllowed:
      return 405;
    case ErrorCode::kUnsupportedMediaType:
      return 415;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kCorrupt:
    case ErrorCode::kIo:
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

ApiResponse ErrorResponse(const Status& status) {
  return Json(status.ToJson(), HttpStatus(status.code()));
}

namespace {

// Runs `fn`, whose result an ApiResponse converts to, and answers an
// exception from it with a 500 instead of letting it reach the server.
template <typename Fn>
auto Guarded(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return ErrorResponse(
        Status(ErrorCode::kInternal, "out of memory answering this request"));
  } catch (const std::exception& e) {
    return ErrorResponse(Status(ErrorCode::kInternal, e.what()));
  }
}

ApiResponse NotReady() {
  return ErrorResponse(
      Status(ErrorCode::kUnavailable, "segd is loading its data; retry"));
}

}  // namespace

ApiResponse Api::Handle(const ApiRequest& request) {
  const RouteId id = request.route->id;
  if (!ready() && id != RouteId::kHealth && id != RouteId::kMetrics) {
    return NotReady();
  }
  if (WritesBatch(id)) {
    Prepared prepared = PrepareWrite(request);
    if (ApiResponse* refused = std::get_if<ApiResponse>(&prepared)) {
      return std::move(*refused);
    }
    Write& write = std::get<Write>(prepared);
    std::vector<WriteOutcome> outcomes = db_->Write(write.batch);
    return Answer(write, outcomes);
  }
  return Guarded([&]() -> ApiResponse {
    switch (id) {
      case RouteId::kIngestProfiles:
      case RouteId::kPatchProfile:
      case RouteId::kDeleteProfile:
      case RouteId::kProfileTags:
      case RouteId::kProfileMerge:
      case RouteId::kIngestEvents:
        break;  // above
      case RouteId::kGetProfile:
        return GetProfile(request);
      case RouteId::kProfileSegments:
        return ProfileSegments(request);
      case RouteId::kIdentity:
        return Identity(request);
      case RouteId::kQuery:
        return Query(request);
      case RouteId::kListSegments:
        return ListSegments(request);
      case RouteId::kGetSegment:
        return GetSegment(request);
      case RouteId::kPutSegment:
        return PutSegment(request);
      case RouteId::kDeleteSegment:
        return DeleteSegment(request);
      case RouteId::kSegmentMembers:
        return SegmentMembers(request);
      case RouteId::kEditMembers:
        return EditMembers(request);
      case RouteId::kContains:
        return Contains(request);
      case RouteId::kGetSchema:
        return GetSchema(request);
      case RouteId::kPutSchema:
        return PutSchema(request);
      case RouteId::kReport:
        return Report(request);
      case RouteId::kSearch:
        return Search(request);
      case RouteId::kHealth:
        return Health(request);
      case RouteId::kMetrics:
        return MetricsText(request);
    }
    return ErrorResponse(Status(ErrorCode::kInternal, "unknown route"));
  });
}

// --- Profiles and events -------------------------------------------------

ApiResponse Api::WriteError(const Status& status) {
  if (status.code() == ErrorCode::kUnavailable &&
      !said_writes_stopped_.exchange(true)) {
    std::fprintf(stderr, "segd: %s\n", status.message().c_str());
  }
  return ErrorResponse(status);
}

bool Api::WritesBatch(RouteId id) {
  switch (id) {
    case RouteId::kIngestProfiles:
    case RouteId::kIngestEvents:
    case RouteId::kPatchProfile:
    case RouteId::kDeleteProfile:
    case RouteId::kProfileTags:
    case RouteId::kProfileMerge:
      return true;
    default:
      return false;
  }
}

Api::Prepared Api::PrepareWrite(const ApiRequest& request) {
  if (!ready()) return NotReady();
  return Guarded([&]() -> Prepared {
    switch (request.route->id) {
      case RouteId::kIngestProfiles:
        return IngestProfiles(request);
      case RouteId::kIngestEvents:
        return IngestEvents(request);
      case RouteId::kPatchProfile:
        return PatchProfile(request);
      case RouteId::kDeleteProfile:
        return DeleteProfile(request);
      case RouteId::kProfileTags:
        return ProfileTags(request);
      case RouteId::kProfileMerge:
        return ProfileMerge(request);
      default:
        return ErrorResponse(
            Status(ErrorCode::kInternal, "not a profile write"));
    }
  });
}

ApiResponse Api::Answer(Write& write, std::vector<WriteOutcome>& outcomes) {
  return Guarded([&] { return write.answer(outcomes); });
}

// A write of a batch of profiles or events, answered with its counts.
Api::Write Api::BatchWrite(WriteKind kind) {
  Write write;
  write.answer = [this, kind](std::vector<WriteOutcome>& outcomes) {
    const BatchResult& result = outcomes[0].batch;
    if (!result.status.ok()) return WriteError(result.status);
    metrics_.CountWrites(kind, result.accepted);
    return Json(BatchAnswer(result));
  };
  return write;
}

Api::Prepared Api::IngestProfiles(const ApiRequest& request) {
  Write write = BatchWrite(WriteKind::kProfiles);
  write.batch.Upsert(BatchText(request), FormatOf(request.content_type));
  return write;
}

Api::Prepared Api::IngestEvents(const ApiRequest& request) {
  Write write = BatchWrite(WriteKind::kEvents);
  write.batch.AppendEvents(BatchText(request), FormatOf(request.content_type));
  return write;
}

ApiResponse Api::ProfileAnswer(std::string_view id) {
  std::optional<std::string> profile = db_->Read()->Profile(id);
  if (!profile) {
    return ErrorResponse(
        Status(ErrorCode::kNotFound, "no profile " + Quoted(id)));
  }
  return Json(std::move(*profile));
}

ApiResponse Api::GetProfile(const ApiRequest& request) {
  return ProfileAnswer(request.params[0]);
}

Api::Write Api::OneProfile(std::string id, WriteKind kind) {
  Write write;
  write.answer = [this, id = std::move(id),
                  kind](std::vector<WriteOutcome>& outcomes) {
    const Status& status = outcomes[0].status;
    if (!status.ok()) return WriteError(status);
    metrics_.CountWrites(kind, 1);
    return ProfileAnswer(id);
  };
  return write;
}

Api::Prepared Api::PatchProfile(const ApiRequest& request) {
  simdjson::dom::parser& parser = ThreadParser();
  Result<simdjson::dom::object> body = ParseObject(request, parser);
  if (!body.ok()) return ErrorResponse(body.status());
  Write write = OneProfile(request.params[0], WriteKind::kPatch);
  write.batch.Patch(request.params[0], request.body);
  return write;
}

Api::Prepared Api::DeleteProfile(const ApiRequest& request) {
  Write write;
  write.batch.Delete(request.params[0]);
  write.answer = [this,
                  id = request.params[0]](std::vector<WriteOutcome>& outcomes) {
    const Status& status = outcomes[0].status;
    if (!status.ok()) return WriteError(status);
    metrics_.CountWrites(WriteKind::kDelete, 1);
    JsonWriter out;
    out.BeginObject();
    out.Key("deleted");
    out.String(id);
    out.EndObject();
    return Json(out.Take());
  };
  return write;
}

Api::Prepared Api::ProfileTags(const ApiRequest& request) {
  simdjson::dom::parser& parser = ThreadParser();
  Result<simdjson::dom::object> body = ParseObject(request, parser);
  if (!body.ok()) return ErrorResponse(body.status());
  if (Status s = KnownKeys(*body, {"add", "remove"}); !s.ok()) {
    return ErrorResponse(s);
  }
  Result<std::vector<std::string>> add = StringsAt(*body, "add");
  if (!add.ok()) return ErrorResponse(add.status());
  Result<std::vector<std::string>> remove = StringsAt(*body, "remove");
  if (!remove.ok()) return ErrorResponse(remove.status());
  Write write = OneProfile(request.params[0], WriteKind::kTags);
  write.batch.UpdateTags(request.params[0], std::move(*add),
                         std::move(*remove));
  return write;
}

Api::Prepared Api::ProfileMerge(const ApiRequest& request) {
  simdjson::dom::parser& parser = ThreadParser();
  Result<simdjson::dom::object> body = ParseObject(request, parser);
  if (!body.ok()) return ErrorResponse(body.status());
  if (Status s = KnownKeys(*body, {"from"}); !s.ok()) return ErrorResponse(s);
  std::string_view from;
  const std::optional<simdjson::dom::element> value = Member(*body, "from");
  if (!value || value->get_string().get(from)) {
    return ErrorResponse(
        Invalid("from must name the profile to merge in", "/from"));
  }
  Write write;
  write.batch.Merge(request.params[0], std::string(from));
  write.answer = [this, into = request.params[0], from = std::string(from)](
                     std::vector<WriteOutcome>& outcomes) {
    const Status& status = outcomes[0].status;
    if (status.code() == ErrorCode::kUnavailable) return WriteError(status);
    if (!status.ok()) {
      // The profile in the body is at /from; the one in the path, looked
      // for first, is the whole request's.
      const std::shared_ptr<const Snapshot> version = db_->Read();
      const bool from_missing = status.code() == ErrorCode::kNotFound &&
                                version->HasProfile(into) &&
                                !version->HasProfile(from);
      return ErrorResponse(from_missing ? Under(status, "/from") : status);
    }
    metrics_.CountWrites(WriteKind::kMerge, 1);
    return ProfileAnswer(into);
  };
  return write;
}

ApiResponse Api::ProfileSegments(const ApiRequest& request) {
  Result<int64_t> now = NowParam(request.target);
  if (!now.ok()) return ErrorResponse(now.status());
  metrics_.CountQuery();
  Result<std::vector<std::string>> names =
      db_->Read()->SegmentsOf(request.params[0], *now);
  if (!names.ok()) return ErrorResponse(names.status());
  JsonWriter out;
  out.BeginObject();
  out.Key("segments");
  out.BeginArray();
  for (const std::string& name : *names) out.String(name);
  out.EndArray();
  out.EndObject();
  return Json(out.Take());
}

ApiResponse Api::Identity(const ApiRequest& request) {
  std::optional<std::string> profile =
      db_->Read()->ProfileByIdentity(request.params[0], request.params[1]);
  if (!profile) {
    return ErrorResponse(
        Status(ErrorCode::kNotFound, "no profile has identity " +
                                         Quoted(request.params[0]) + " " +
                                         Quoted(request.params[1])));
  }
  return Json(std::move(*profile));
}

Status CheckPathParams(const Route& route,
                       const std::vector<std::string>& params) {
  std::string_view pattern = route.pattern;
  for (const std::string& value : params) {
    const size_t open = pattern.find('{');
    const size_t close = pattern.find('}', open);
    if (close == std::string_view::npos) break;
    const std::string_view name = pattern.substr(open + 1, close - open - 1);
    pattern.remove_prefix(close + 1);
    if (name == "name") SEGD_RETURN_IF_ERROR(CheckSegmentName(value));
    if (name == "id") SEGD_RETURN_IF_ERROR(CheckProfileId(value));
  }
  return Status::Ok();
}

// --- Queries -------------------------------------------------------------

ApiResponse Api::Query(const ApiRequest& request) {
  simdjson::dom::parser& parser = ThreadParser();
  Result<simdjson::dom::object> body = ParseObject(request, parser);
  if (!body.ok()) return ErrorResponse(body.status());
  if (Status s = KnownKeys(
          *body, {"rule", "limit", "fields", "now", "explain", "count"});
      !s.ok()) {
    return ErrorResponse(s);
  }
  QueryRequest query;
  const std::optional<simdjson::dom::element> rule = Member(*body, "rule");
  if (!rule) return ErrorResponse(Invalid("the body needs a rule", "/rule"));
  query.rule_json = simdjson::minify(*rule);
  Result<size_t> limit = SizeAt(*body, "limit", 20, kMaxPreview);
  if (!limit.ok()) return ErrorResponse(limit.status());
  query.limit = *limit;
  Result<bool> count = BoolAt(*body, "count", true);
  if (!count.ok()) return ErrorResponse(count.status());
  query.count = *count;
  Result<bool> explain = BoolAt(*body, "explain", false);
  if (!explain.ok()) return ErrorResponse(explain.status());
  query.explain = *explain;
  Result<std::vector<std::string>> fields = StringsAt(*body, "fields");
  if (!fields.ok()) return ErrorResponse(fields.status());
  query.fields = std::move(*fields);
  // "fields": [] shows the id alone; absent or null, the defaults.
  if (const auto given = Member(*body, "fields");
      query.fields.empty() && given && !given->is_null()) {
    query.fields.emplace_back("id");
  }
  Result<int64_t> now = NowAt(*body);
  if (!now.ok()) return ErrorResponse(now.status());
  query.now_ms = *now;

  metrics_.CountQuery();
  Result<QueryResult> result = db_->Read()->Query(query);
  if (!result.ok()) return ErrorResponse(RuleError(result.status()));
  JsonWriter out;
  out.BeginObject();
  if (query.count) {
    out.Key("count");
    out.Uint(result->count);
  }
  out.Key("members");
  out.Raw(result->members_json);
  if (query.explain) {
    out.Key("explain");
    out.BeginArray();
    for (const ExplainEntry& e : result->explain) {
      out.BeginObject();
      out.Key("path");
      out.String(e.path);
      out.Key("count");
      out.Uint(e.count);
      out.EndObject();
    }
    out.EndArray();
  }
  out.EndObject();
  return Json(out.Take());
}

ApiResponse Api::Report(const ApiRequest& request) {
  simdjson::dom::parser& parser = ThreadParser();
  Result<simdjson::dom::object> body = ParseObject(request, parser);
  if (!body.ok()) return ErrorResponse(body.status());
  if (Status s = KnownKeys(*body, {"rule", "group_by", "limit", "now"});
      !s.ok()) {
    return ErrorResponse(s);
  }
  ReportRequest report;
  if (const auto rule = Member(*body, "rule"); rule && !rule->is_null()) {
    report.rule_json = simdjson::minify(*rule);
  }
  std::string_view group_by;
  const std::optional<simdjson::dom::element> group = Member(*body, "group_by");
  if (!group || group->get_string().get(group_by) || group_by.empty()) {
    return ErrorResponse(Invalid(
        "group_by must name an attribute, or be \"segment\"", "/group_by"));
  }
  report.group_by = group_by;
  Result<size_t> limit = SizeAt(*body, "limit", 10, kMaxReportGroups);
  if (!limit.ok()) return ErrorResponse(limit.status());
  report.limit = *limit;
  Result<int64_t> now = NowAt(*body);
  if (!now.ok()) return ErrorResponse(now.status());
  report.now_ms = *now;

  metrics_.CountQuery();
  Result<ReportResult> result = db_->Read()->Report(report);
  if (!result.ok()) {
    const Status& s = result.status();
    return ErrorResponse(s.path().starts_with("/group_by") ? s : RuleError(s));
  }
  JsonWriter out;
  out.BeginObject();
  out.Key("count");
  out.Uint(result->count);
  out.Key("groups");
  out.BeginArray();
  for (const auto& [value, n] : result->groups) {
    out.BeginObject();
    out.Key("value");
    out.Raw(value);
    out.Key("count");
    out.Uint(n);
    out.EndObject();
  }
  out.EndArray();
  out.Key("other");
  out.Uint(result->other);
  out.Key("missing");
  out.Uint(result->missing);
  out.EndObject();
  return Json(out.Take());
}

ApiResponse Api::Search(const ApiRequest& request) {
  const std::optional<std::string_view> q = request.target.Param("q");
  if (!q || q->empty()) {
    return ErrorResponse(Invalid("search needs a keyword: ?q=..."));
  }
  Result<std::optional<size_t>> limit =
      SizeParam(request.target, "limit", kMaxPreview);
  if (!limit.ok()) return ErrorResponse(limit.status());
  std::vector<std::string> fields;
  if (auto f = request.target.Param("fields")) fields = SplitFields(*f);
  metrics_.CountQuery();
  Result<QueryResult> result =
      db_->Read()->Search(*q, limit->value_or(20), fields);
  if (!result.ok()) return ErrorResponse(result.status());
  JsonWriter out;
  out.BeginObject();
  out.Key("count");
  out.Uint(result->count);
  out.Key("members");
  out.Raw(result->members_json);
  out.EndObject();
  return Json(out.Take());
}

// --- Saved segments ------------------------------------------------------

ApiResponse Api::ListSegments(const ApiRequest& request) {
  Result<int64_t> now = NowParam(request.target);
  if (!now.ok()) return ErrorResponse(now.status());
  JsonWriter out;
  out.BeginObject();
  out.Key("segments");
  out.BeginArray();
  for (const SegmentInfo& info : db_->Read()->Segments(*now)) {
    WriteSegment(info, out);
  }
  out.EndArray();
  out.EndObject();
  return Json(out.Take());
}

ApiResponse Api::GetSegment(const ApiRequest& request) {
  Result<int64_t> now = NowParam(request.target);
  if (!now.ok()) return ErrorResponse(now.status());
  Result<SegmentInfo> info = db_->Read()->Segment(request.params[0], *now);
  if (!info.ok()) return ErrorResponse(info.status());
  JsonWriter out;
  WriteSegment(*info, out);
  return Json(out.Take());
}

ApiResponse Api::PutSegment(const ApiRequest& request) {
  const std::string& name = request.params[0];
  if (Status s = CheckSegmentName(name); !s.ok()) return ErrorResponse(s);
  SegmentDefinition definition;
  int64_t now_ms = NowMillis();
  if (request.content_type == "text/csv") {
    Result<std::vector<std::string>> ids = ReadCsvIds(request.body);
    if (!ids.ok()) return ErrorResponse(ids.status());
    definition.kind = SavedSegment::Kind::kStatic;
    definition.ids = std::move(*ids);
  } else {
    simdjson::dom::parser& parser = ThreadParser();
    Result<simdjson::dom::object> body = ParseObject(request, parser);
    if (!body.ok()) return ErrorResponse(body.status());
    if (Status s = KnownKeys(*body, {"rule", "description", "members", "now"},
                             {"name", "kind", "count", "unknown_ids"});
        !s.ok()) {
      return ErrorResponse(s);
    }
    const std::optional<simdjson::dom::element> rule = Member(*body, "rule");
    const std::optional<simdjson::dom::element> members =
        Member(*body, "members");
    if (rule.has_value() == members.has_value()) {
      return ErrorResponse(
          Invalid("a segment has either a rule (dynamic) or members "
                  "(static)",
                  rule ? "/members" : ""));
    }
    if (const auto d = Member(*body, "description"); d && !d->is_null()) {
      std::string_view text;
      if (d->get_string().get(text)) {
        return ErrorResponse(
            Invalid("description must be a string", "/description"));
      }
      definition.description = text;
    }
    if (rule) {
      definition.kind = SavedSegment::Kind::kDynamic;
      definition.rule_json = simdjson::minify(*rule);
      Result<int64_t> now = NowAt(*body);
      if (!now.ok()) return ErrorResponse(now.status());
      now_ms = *now;
    } else {
      Result<std::vector<std::string>> ids = StringsAt(*body, "members");
      if (!ids.ok()) return ErrorResponse(ids.status());
      definition.kind = SavedSegment::Kind::kStatic;
      definition.ids = std::move(*ids);
    }
  }
  std::vector<std::string> unknown;
  Result<SegmentInfo> info =
      db_->SaveSegment(name, definition, &unknown, now_ms);
  if (!info.ok()) {
    const Status& s = info.status();
    if (s.code() == ErrorCode::kUnavailable) return WriteError(s);
    // The name was checked above: a dynamic segment's malformed or invalid
    // answer is its rule's. Cycles (409) are the request's as a whole.
    const bool rule_error =
        definition.kind == SavedSegment::Kind::kDynamic &&
        (s.code() == ErrorCode::kInvalid || s.code() == ErrorCode::kMalformed);
    return ErrorResponse(rule_error ? RuleError(s) : s);
  }
  metrics_.CountWrites(WriteKind::kSegment, 1);
  JsonWriter out;
  WriteSegment(
      *info, out,
      definition.kind == SavedSegment::Kind::kStatic ? &unknown : nullptr);
  return Json(out.Take());
}

ApiResponse Api::DeleteSegment(const ApiRequest& request) {
  const Status status = db_->DeleteSegment(request.params[0]);
  if (!status.ok()) return WriteError(status);
  metrics_.CountWrites(WriteKind::kSegment, 1);
  JsonWriter out;
  out.BeginObject();
  out.Key("deleted");
  out.String(request.params[0]);
  out.EndObject();
  return Json(out.Take());
}

ApiResponse Api::EditMembers(const ApiRequest& request) {
  std::vector<std::string> add, remove;
  if (request.content_type == "text/csv") {
    Result<std::vector<std::string>> ids = ReadCsvIds(request.body);
    if (!ids.ok()) return ErrorResponse(ids.status());
    add = std::move(*ids);
  } else {
    simdjson::dom::parser& parser = ThreadParser();
    Result<simdjson::dom::object> body = ParseObject(request, parser);
    if (!body.ok()) return ErrorResponse(body.status());
    if (Status s = KnownKeys(*body, {"add", "remove"}); !s.ok()) {
      return ErrorResponse(s);
    }
    Result<std::vector<std::string>> a = StringsAt(*body, "add");
    if (!a.ok()) return ErrorResponse(a.status());
    Result<std::vector<std::string>> r = StringsAt(*body, "remove");
    if (!r.ok()) return ErrorResponse(r.status());
    add = std::move(*a);
    remove = std::move(*r);
  }
  Result<StaticEdit> edit = db_->EditMembers(request.params[0], add, remove);
  if (!edit.ok()) return WriteError(edit.status());
  metrics_.CountWrites(WriteKind::kSegment, 1);
  JsonWriter out;
  out.BeginObject();
  out.Key("count");
  out.Uint(edit->count);
  out.Key("unknown_ids");
  out.BeginArray();
  for (const std::string& id : edit->unknown_ids) out.String(id);
  out.EndArray();
  out.EndObject();
  return Json(out.Take());
}

ApiResponse Api::Contains(const ApiRequest& request) {
  Result<int64_t> now = NowParam(request.target);
  if (!now.ok()) return ErrorResponse(now.status());
  metrics_.CountQuery();
  Result<bool> member =
      db_->Read()->Contains(request.params[0], request.params[1], *now);
  if (!member.ok()) return ErrorResponse(member.status());
  return Json(*member ? "{\"member\":true}" : "{\"member\":false}");
}

ApiResponse Api::SegmentMembers(const ApiRequest& request) {
  const Target& target = request.target;
  const std::string_view format = target.Param("format").value_or("json");
  if (format != "json" && format != "ndjson" && format != "csv") {
    return ErrorResponse(Invalid("format is json, ndjson or csv"));
  }
  Result<std::optional<size_t>> limit = SizeParam(target, "limit", kMaxPreview);
  if (!limit.ok()) return ErrorResponse(limit.status());
  Result<int64_t> now = NowParam(target);
  if (!now.ok()) return ErrorResponse(now.status());

  MembersRequest members;
  members.segment = request.params[0];
  members.cursor = std::string(target.Param("cursor").value_or(""));
  members.now_ms = *now;
  if (auto f = target.Param("fields")) members.fields = SplitFields(*f);
  members.ndjson = format != "json";
  std::shared_ptr<const Snapshot> snapshot = db_->Read();
  metrics_.CountQuery();

  if (format == "json") {
    members.limit = limit->value_or(kDefaultMembersPage);
    Result<MembersPage> page = snapshot->Members(members);
    if (!page.ok()) return ErrorResponse(page.status());
    JsonWriter out;
    out.BeginObject();
    out.Key("count");
    out.Uint(page->count);
    out.Key("members");
    out.Raw(page->members_json);
    if (!page->next_cursor.empty()) {
      out.Key("next_cursor");
      out.String(page->next_cursor);
    }
    out.EndObject();
    return Json(out.Take());
  }

  const bool csv = format == "csv";
  const std::vector<std::string> columns = CsvColumns(members.fields);
  ApiResponse response;
  response.content_type = csv ? "text/csv" : "application/x-ndjson";
  members.count = false;
  if (limit->has_value()) {
    // One page, and a link to the next while more remain.
    members.limit = **limit;
    Result<MembersPage> page = snapshot->Members(members);
    if (!page.ok()) return ErrorResponse(page.status());
    if (csv) {
      AppendCsvHeader(columns, response.body);
      Status s = AppendCsvRows(page->members_json, columns, response.body);
      if (!s.ok()) return ErrorResponse(s);
    } else {
      response.body = std::move(page->members_json);
    }
    if (!page->next_cursor.empty()) {
      std::string link = "</v1/segments/" + PercentEncode(members.segment) +
                         "/members?format=" + std::string(format) +
                         "&limit=" + std::to_string(**limit) +
                         "&cursor=" + PercentEncode(page->next_cursor);
      if (auto f = target.Param("fields"))
        link += "&fields=" + PercentEncode(*f);
      if (auto n = target.Param("now")) link += "&now=" + PercentEncode(*n);
      response.headers.emplace_back("Link", link + ">; rel=\"next\"");
    }
    return response;
  }

  // The whole export, streamed a page at a time from one snapshot, so that
  // it is one consistent version and never whole in memory.
  members.limit = kExportPage;
  Result<MembersPage> first = snapshot->Members(members);
  if (!first.ok()) return ErrorResponse(first.status());
  struct Export {
    std::shared_ptr<const Snapshot> snapshot;
    MembersRequest request;
    std::optional<MembersPage> next;  // the page to send next
    std::vector<std::string> columns;
    bool csv;
    bool header_sent = false;
  };
  auto state = std::make_shared<Export>();
  state->snapshot = std::move(snapshot);
  state->request = std::move(members);
  state->next = std::move(first).value();
  state->columns = columns;
  state->csv = csv;
  response.stream = [state](std::string& out) {
    Export& e = *state;
    if (!e.next) return false;
    if (e.csv) {
      if (!e.header_sent) AppendCsvHeader(e.columns, out);
      e.header_sent = true;
      if (!AppendCsvRows(e.next->members_json, e.columns, out).ok()) {
        return false;
      }
    } else {
      out.append(e.next->members_json);
    }
    const std::string cursor = std::move(e.next->next_cursor);
    e.next.reset();
    if (!cursor.empty()) {
      e.request.cursor = cursor;
      Result<MembersPage> page = e.snapshot->Members(e.request);
      if (page.ok()) e.next = std::move(page).value();
    }
    return true;
  };
  return response;
}

// --- Schema, health, metrics ---------------------------------------------

ApiResponse Api::GetSchema(const ApiRequest& request) {
  return Json(SchemaAnswer(db_->Read()->schema()));
}

ApiResponse Api::PutSchema(const ApiRequest& request) {
  simdjson::dom::parser& parser = ThreadParser();
  Result<simdjson::dom::object> body = ParseObject(request, parser);
  if (!body.ok()) return ErrorResponse(body.status());
  if (Status s = KnownKeys(*body, {"attributes"}); !s.ok()) {
    return ErrorResponse(s);
  }
  simdjson::dom::object attributes;
  const std::optional<simdjson::dom::element> value =
      Member(*body, "attributes");
  if (!value || value->get_object().get(attributes)) {
    return ErrorResponse(
        Invalid("attributes must be an object of NAME: TYPE", "/attributes"));
  }
  std::vector<std::pair<std::string, AttrType>> types;
  for (auto [name, type_value] : attributes) {
    std::string_view type_name;
    std::optional<AttrType> type;
    if (!type_value.get_string().get(type_name)) {
      type = ParseAttrType(type_name);
    }
    const std::string path = JsonPointerChild("/attributes", name);
    if (!type) {
      return ErrorResponse(Invalid(
          "a type is one of string, number, date, bool, strings", path));
    }
    if (name.empty()) {
      return ErrorResponse(Invalid("an attribute name is not empty", path));
    }
    types.emplace_back(std::string(name), *type);
  }
  const Status status = db_->Declare(types);
  if (status.code() == ErrorCode::kUnavailable) return WriteError(status);
  if (!status.ok()) return ErrorResponse(Under(status, "/attributes"));
  metrics_.CountWrites(WriteKind::kSchema, types.size());
  return Json(SchemaAnswer(db_->Read()->schema()));
}

ApiResponse Api::Health(const ApiRequest& request) {
  if (!ready()) return Json("{\"status\":\"recovering\"}", 503);
  const Status writable = db_->CheckWritable();
  if (writable.ok()) return Json("{\"status\":\"ready\"}");
  // Reads go on; writes are refused, and this says why.
  JsonWriter out;
  out.BeginObject();
  out.Key("status");
  out.String("ready");
  out.Key("writes");
  out.String("stopped");
  out.Key("reason");
  out.String(writable.message());
  out.EndObject();
  return Json(out.Take());
}

ApiResponse Api::MetricsText(const ApiRequest& request) {
  Metrics::Gauges gauges;
  gauges.rss_bytes = ResidentBytes();
  gauges.ready = ready();
  if (gauges.ready) {
    const std::shared_ptr<const Snapshot> snapshot = db_->Read();
    gauges.profiles = snapshot->live_count();
    gauges.segments = snapshot->segment_count();
    gauges.layers = snapshot->Layers().size();
    gauges.writes_enabled = db_->CheckWritable().ok();
  }
  ApiResponse response;
  response.content_type = std::string(kMetricsContentType);
  response.body = metrics_.Render(gauges);
  return response;
}

}  // namespace segd
