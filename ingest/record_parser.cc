#include "ingest/record_parser.h"

#include <simdjson.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "base/json_numbers.h"
#include "base/json_pointer.h"
#include "base/time.h"

namespace segd {
namespace {

namespace od = simdjson::ondemand;

Status JsonError(simdjson::error_code error, const std::string& path) {
  std::string message;
  switch (error) {
    case simdjson::UTF8_ERROR:
      message = "invalid UTF-8";
      break;
    case simdjson::DEPTH_ERROR:
      message = "JSON nested too deeply";
      break;
    case simdjson::NUMBER_ERROR:
      message = "number out of range";
      break;
    case simdjson::STRING_ERROR:
    case simdjson::UNESCAPED_CHARS:
    case simdjson::UNCLOSED_STRING:
      message = "malformed JSON: bad or unterminated string";
      break;
    default:
      message =
          std::string("malformed JSON: ") + simdjson::error_message(error);
  }
  return Malformed(std::move(message), path);
}

// An integer too long for 64 bits (valid JSON, e.g. 1e30 written out in
// digits) as the nearest double; nullopt for anything malformed.
std::optional<double> BigInteger(od::value& value) {
  std::string_view token = value.raw_json_token();
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t' ||
                            token.back() == '\r' || token.back() == '\n')) {
    token.remove_suffix(1);
  }
  const size_t digits_from = !token.empty() && token[0] == '-' ? 1 : 0;
  if (token.size() <= digits_from + 19 || token[digits_from] == '0') {
    return std::nullopt;
  }
  for (size_t i = digits_from; i < token.size(); ++i) {
    if (token[i] < '0' || token[i] > '9') return std::nullopt;
  }
  return std::strtod(std::string(token).c_str(), nullptr);
}

// A null token; false for anything else, including a malformed token (the
// caller then reports it). Never throws.
bool IsNull(od::value& value) {
  bool is_null = false;
  return !value.is_null().get(is_null) && is_null;
}

// key == literal, always inline: in the large functions below GCC otherwise
// calls string_view::compare and memcmp out of line for every key.
template <size_t N>
[[gnu::always_inline]] inline bool KeyIs(std::string_view key,
                                         const char (&literal)[N]) {
  return key.size() == N - 1 && std::memcmp(key.data(), literal, N - 1) == 0;
}

using Attributes = std::vector<std::pair<std::string, Value>>;

}  // namespace

// The readers of the documents RecordParser takes. Records, patches and event
// lines share everything below their top-level keys: attribute flattening
// and type inference, identities, events.
struct RecordParser::Impl {
  od::parser parser;
  od::parser string_parser;            // re-reads arrays of strings
  simdjson::dom::parser array_parser;  // validates other arrays in full
  // The code of a well-formed document of the wrong shape (an event without
  // a name): kMalformed for records, as they always were; kInvalid (422)
  // for patches and event lines. Bad JSON is kMalformed in all.
  ErrorCode shape = ErrorCode::kMalformed;
  Status ShapeError(std::string message, std::string path) const {
    return Status(shape, std::move(message), std::move(path));
  }

  // The error messages of a document that is not an object and of text
  // after it. With `not_object_invalid`, a document that is JSON but not an
  // object is kInvalid (SPEC §5: it parses, but is not what the path
  // expects); otherwise it is kMalformed.
  struct DocumentErrors {
    const char* not_object;
    const char* trailing;
    bool not_object_invalid = false;
  };
  // Reads the object at json[0, length) with on_object(od::object), then
  // checks that nothing follows it.
  template <typename OnObject>
  Status ParseDocument(const char* json, size_t length, size_t capacity,
                       DocumentErrors errors, OnObject&& on_object);
  // Calls on_field(key, value) for each field of a top-level object.
  template <typename OnField>
  Status ForEachField(od::object object, OnField&& on_field);
  Status ParseObject(od::object object, const std::string& prefix,
                     const std::string& path, int depth, Attributes* out);
  // `path` + "/" + `key` points at the value; built only for errors.
  Status ParseValue(od::value value, std::string_view name,
                    const std::string& path, std::string_view key, int depth,
                    Attributes* out);
  // The next attribute slot of `out`. Slots are reused from record to
  // record, so their strings keep their buffers and parsing rarely allocates.
  Value& NextSlot(std::string_view name, Attributes* out);
  size_t used = 0;  // slots of `out` filled for this document
  // `parent` + "/" + `key` points at the array; built only for errors.
  Status ParseArray(std::string_view raw, const std::string& parent,
                    std::string_view key, Value* value);
  // Calls set(channel, handle) for each channel of an identities object,
  // with handle nullopt for a null one. A null object is no channels.
  template <typename Set>
  Status ParseIdentities(od::value value, Set&& set);
  Status ParseEvents(od::value value, std::vector<ProfileInput::Event>* out);
  // One event object: `name`, `at` and, when `id` is not null, the `id` of
  // its profile; other keys must parse and are ignored. path() is the
  // pointer of the object, built only for errors.
  template <typename Path>
  Status ParseEvent(od::object event, Path&& path, std::string* id,
                    ProfileInput::Event* out);
  // A profile id (SPEC §1): a string of 1 to 256 bytes of UTF-8 with no
  // control characters, and not `.` or `..`. path() points at the object
  // holding it.
  template <typename Path>
  Status ParseId(od::value value, Path&& path, std::string* id);
};

RecordParser::RecordParser() : impl_(std::make_unique<Impl>()) {}
RecordParser::~RecordParser() = default;

template <typename OnObject>
Status RecordParser::Impl::ParseDocument(const char* json, size_t length,
                                         size_t capacity, DocumentErrors errors,
                                         OnObject&& on_object) {
  od::document doc;
  auto error =
      parser.iterate(simdjson::padded_string_view(json, length, capacity))
          .get(doc);
  if (error) return JsonError(error, "");
  od::object object;
  if (doc.get_object().get(object)) {
    if (!errors.not_object_invalid) return Malformed(errors.not_object, "");
    // On Demand has read no further than the first token: only a document
    // that parses in full is JSON of the wrong kind; anything else is bad
    // JSON, kMalformed.
    simdjson::dom::element element;
    if ((error = array_parser.parse(json, length, false).get(element))) {
      return JsonError(error, "");
    }
    return Invalid(errors.not_object, "");
  }
  SEGD_RETURN_IF_ERROR(on_object(object));
  const char* rest;
  if (!doc.current_location().get(rest)) {
    return Malformed(errors.trailing, "");
  }
  return Status::Ok();
}

template <typename OnField>
Status RecordParser::Impl::ForEachField(od::object object, OnField&& on_field) {
  for (auto field : object) {
    std::string_view key;
    auto error = field.unescaped_key().get(key);
    if (error) return JsonError(error, "");
    od::value value;
    if ((error = field.value().get(value)))
      return JsonError(error, JsonPointerChild("", key));
    SEGD_RETURN_IF_ERROR(on_field(key, value));
  }
  return Status::Ok();
}

template <typename Path>
Status RecordParser::Impl::ParseId(od::value value, Path&& path,
                                   std::string* id) {
  std::string_view s;
  if (auto error = value.get_string().get(s)) {
    if (error != simdjson::INCORRECT_TYPE) {  // a bad escape, say
      return JsonError(error, JsonPointerChild(path(), "id"));
    }
    return ShapeError("id must be a string", JsonPointerChild(path(), "id"));
  }
  // The text is UTF-8: On Demand validated the whole document before the
  // first token, and its unescaping makes no invalid sequence (a lone
  // surrogate fails get_string above). What is left is SPEC §1's rule, which
  // breaks the value, not the shape: kInvalid.
  if (s.empty() || s.size() > kMaxIdBytes) {
    return Invalid("id must be 1 to 256 bytes", JsonPointerChild(path(), "id"));
  }
  // Every byte is checked, without a branch each: ids are short, and this
  // runs for every record of a bulk load.
  bool control = false;
  for (const char c : s) {
    const auto byte = static_cast<unsigned char>(c);
    control |= byte < 0x20 || byte == 0x7F;
  }
  if (control) {
    return Invalid("id must not contain control characters",
                   JsonPointerChild(path(), "id"));
  }
  if (s.size() <= 2 && (s == "." || s == "..")) {
    return Invalid("id cannot be . or ..", JsonPointerChild(path(), "id"));
  }
  id->assign(s);
  return Status::Ok();
}

Status RecordParser::Parse(const char* json, size_t length, size_t capacity,
                           ProfileInput* out) {
  Impl& impl = *impl_;
  out->id.clear();
  impl.used = 0;
  out->identities.clear();
  out->events.clear();
  impl.shape = ErrorCode::kMalformed;
  bool has_id = false;
  auto on_field = [&](std::string_view key, od::value value) -> Status {
    if (KeyIs(key, "id")) {
      has_id = true;
      return impl.ParseId(
          value, [] { return std::string(); }, &out->id);
    }
    if (KeyIs(key, "identities")) {
      return impl.ParseIdentities(
          value, [&](std::string_view channel,
                     std::optional<std::string_view> handle) {
            // Of duplicate channels the last wins, as for attributes; a
            // null handle leaves the channel out.
            std::erase_if(out->identities, [&](const auto& pair) {
              return pair.first == channel;
            });
            if (handle) out->identities.emplace_back(channel, *handle);
          });
    }
    if (KeyIs(key, "events")) return impl.ParseEvents(value, &out->events);
    return impl.ParseValue(value, key, "", key, 1, &out->attributes);
  };
  Status status = impl.ParseDocument(
      json, length, capacity,
      {"a profile must be a JSON object", "trailing content after the record"},
      [&](od::object object) { return impl.ForEachField(object, on_field); });
  // The slots filled, on error too: the unused ones hold an earlier record.
  out->attributes.resize(impl.used);
  if (!status.ok()) return status;
  if (!has_id) return Malformed("missing id", "/id");
  return Status::Ok();
}

Status RecordParser::ParsePatch(const char* json, size_t length,
                                size_t capacity, ProfilePatch* out) {
  Impl& impl = *impl_;
  impl.used = 0;
  out->clear_identities = false;
  out->identities.clear();
  out->events.clear();
  impl.shape = ErrorCode::kInvalid;
  auto on_field = [&](std::string_view key, od::value value) -> Status {
    if (KeyIs(key, "id")) {
      return Invalid("a patch cannot change the id, which comes from the path",
                     "/id");
    }
    // Of `identities` or `events` given twice, the last wins whole.
    if (KeyIs(key, "identities")) {
      out->identities.clear();
      // null removes every identity, as null removes any other key.
      out->clear_identities = IsNull(value);
      return impl.ParseIdentities(
          value, [&](std::string_view channel,
                     std::optional<std::string_view> handle) {
            std::erase_if(out->identities, [&](const auto& pair) {
              return pair.first == channel;
            });
            out->identities.emplace_back(channel, handle);
          });
    }
    if (KeyIs(key, "events")) {
      out->events.clear();
      return impl.ParseEvents(value, &out->events);  // null appends none
    }
    return impl.ParseValue(value, key, "", key, 1, &out->attributes);
  };
  Status status = impl.ParseDocument(
      json, length, capacity,
      {"a patch must be a JSON object", "trailing content after the patch",
       /*not_object_invalid=*/true},
      [&](od::object object) { return impl.ForEachField(object, on_field); });
  out->attributes.resize(impl.used);
  return status;
}

Status RecordParser::ParseEventRecord(const char* json, size_t length,
                                      size_t capacity, std::string* id,
                                      ProfileInput::Event* out) {
  Impl& impl = *impl_;
  impl.shape = ErrorCode::kInvalid;
  id->clear();
  out->name.clear();
  return impl.ParseDocument(
      json, length, capacity,
      {"an event must be a JSON object", "trailing content after the event"},
      [&](od::object object) {
        return impl.ParseEvent(
            object, [] { return std::string(); }, id, out);
      });
}

Status RecordParser::Impl::ParseObject(od::object object,
                                       const std::string& prefix,
                                       const std::string& path, int depth,
                                       Attributes* out) {
  if (depth > kMaxRecordNesting) {
    return ShapeError("objects nested deeper than " +
                          std::to_string(kMaxRecordNesting) + " levels",
                      path);
  }
  for (auto field : object) {
    std::string_view key;
    auto error = field.unescaped_key().get(key);
    if (error) return JsonError(error, path);
    od::value value;
    if ((error = field.value().get(value)))
      return JsonError(error, JsonPointerChild(path, key));
    if (key.empty()) {
      return ShapeError("empty attribute name", JsonPointerChild(path, key));
    }
    std::string name = prefix;
    name.push_back('.');
    name.append(key);
    SEGD_RETURN_IF_ERROR(ParseValue(value, name, path, key, depth, out));
  }
  return Status::Ok();
}

Value& RecordParser::Impl::NextSlot(std::string_view name, Attributes* out) {
  if (used == out->size()) out->emplace_back();
  auto& [slot_name, value] = (*out)[used++];
  slot_name.assign(name);
  value.text.clear();
  value.strings.clear();
  value.absent = false;
  return value;
}

Status RecordParser::Impl::ParseValue(od::value value, std::string_view name,
                                      const std::string& parent,
                                      std::string_view key, int depth,
                                      Attributes* out) {
  auto path = [&] { return JsonPointerChild(parent, key); };
  od::json_type type;
  auto error = value.type().get(type);
  if (error) return JsonError(error, path());
  switch (type) {
    case od::json_type::null:
      if (!IsNull(value)) return Malformed("malformed JSON value", path());
      NextSlot(name, out).absent = true;  // supersedes an earlier duplicate
      return Status::Ok();
    case od::json_type::object: {
      od::object object;
      if ((error = value.get_object().get(object))) {
        return JsonError(error, path());
      }
      return ParseObject(object, std::string(name), path(), depth + 1, out);
    }
    case od::json_type::array: {
      std::string_view raw;
      if ((error = simdjson::to_json_string(value).get(raw))) {
        return JsonError(error, path());
      }
      Value& v = NextSlot(name, out);
      Status status = ParseArray(raw, parent, key, &v);
      // [] is absent, and supersedes an earlier duplicate.
      if (v.type == AttrType::kStringArray && v.strings.empty())
        v.absent = true;
      return status;
    }
    case od::json_type::string: {
      std::string_view s;
      if ((error = value.get_string().get(s))) return JsonError(error, path());
      Value& v = NextSlot(name, out);
      v.text.assign(s);
      if (auto ms = ParseIsoInstant(s)) {
        v.type = AttrType::kDate;
        v.date_ms = *ms;
      } else {
        v.type = AttrType::kString;
      }
      return Status::Ok();
    }
    case od::json_type::number: {
      od::number n;
      Number number;
      if (!value.get_number().get(n)) {
        number = n.is_int64() ? Number::Int(n.get_int64())
                              : Number::Double(n.as_double());
      } else if (auto big = BigInteger(value)) {
        number = Number::Double(*big);  // beyond 64 bits: the nearest double
      } else {
        return Malformed("malformed or out-of-range number", path());
      }
      Value& v = NextSlot(name, out);
      v.type = AttrType::kNumber;
      v.number = number;
      return Status::Ok();
    }
    case od::json_type::boolean: {
      bool b;
      if ((error = value.get_bool().get(b))) return JsonError(error, path());
      Value& v = NextSlot(name, out);
      v.type = AttrType::kBool;
      v.boolean = b;
      return Status::Ok();
    }
  }
  return Malformed("malformed JSON value", path());
}

// Deepest nesting of arrays and objects in `json`, strings skipped.
int NestingDepth(std::string_view json) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

Status RecordParser::Impl::ParseArray(std::string_view raw,
                                      const std::string& parent,
                                      std::string_view key, Value* value) {
  auto path = [&] { return JsonPointerChild(parent, key); };
  if (NestingDepth(raw) > kMaxRecordNesting) {
    return ShapeError("arrays nested deeper than " +
                          std::to_string(kMaxRecordNesting) + " levels",
                      path());
  }
  // `raw` lies inside the padded input buffer, so the padding after it is
  // readable and it can be re-read in place. Most arrays hold only strings
  // (tags): On Demand reads those, checking every string it returns.
  const simdjson::padded_string_view padded(
      raw.data(), raw.size(), raw.size() + simdjson::SIMDJSON_PADDING);
  od::document doc;
  od::array strings;
  bool all_strings =
      !string_parser.iterate(padded).get(doc) && !doc.get_array().get(strings);
  if (all_strings) {
    for (auto element : strings) {
      std::string_view s;
      if (element.get_string().get(s)) {
        all_strings = false;
        break;
      }
      value->strings.emplace_back(s);
    }
  }
  if (all_strings) {
    value->type = AttrType::kStringArray;
    return Status::Ok();
  }
  // Anything else is kept as JSON; On Demand checked only its brackets, so
  // the DOM parser validates every atom before it is stored.
  simdjson::dom::array array;
  auto error = array_parser.parse(raw.data(), raw.size(), false).get(array);
  value->type = AttrType::kUnindexable;
  value->strings.clear();
  if (error == simdjson::NUMBER_ERROR) {
    // An integer past 64 bits (base/json_numbers.h): valid when widened,
    // and then kept as it was written, its spaces taken out.
    const std::optional<std::string> widened = WidenBigIntegers(raw);
    if (!widened ||
        array_parser.parse(*widened).get(array) != simdjson::SUCCESS) {
      return JsonError(error, path());
    }
    value->text.resize(raw.size());
    size_t size = 0;
    if (simdjson::minify(raw.data(), raw.size(), value->text.data(), size)) {
      return JsonError(error, path());
    }
    value->text.resize(size);
    return Status::Ok();
  }
  if (error) return JsonError(error, path());
  value->text = simdjson::minify(array);
  return Status::Ok();
}

template <typename Set>
Status RecordParser::Impl::ParseIdentities(od::value value, Set&& set) {
  if (IsNull(value)) return Status::Ok();
  od::object object;
  if (value.get_object().get(object)) {
    return ShapeError("identities must be an object of channel: handle",
                      "/identities");
  }
  for (auto field : object) {
    std::string_view channel;
    auto error = field.unescaped_key().get(channel);
    if (error) return JsonError(error, "/identities");
    auto path = [&] { return JsonPointerChild("/identities", channel); };
    if (channel.empty()) {
      // A profile could never be found by it.
      return ShapeError("an identity's channel must be a non-empty name",
                        path());
    }
    od::value handle_value;
    if ((error = field.value().get(handle_value)))
      return JsonError(error, path());
    if (IsNull(handle_value)) {
      set(channel, std::nullopt);
      continue;
    }
    std::string_view handle;
    if (handle_value.get_string().get(handle) || handle.empty()) {
      return ShapeError("an identity must map a channel to a non-empty string",
                        path());
    }
    set(channel, handle);
  }
  return Status::Ok();
}

Status RecordParser::Impl::ParseEvents(od::value value,
                                       std::vector<ProfileInput::Event>* out) {
  if (IsNull(value)) return Status::Ok();
  od::array array;
  if (value.get_array().get(array)) {
    return ShapeError("events must be an array of {name, at}", "/events");
  }
  size_t index = 0;
  ProfileInput::Event event;
  for (auto element : array) {
    const size_t position = index++;
    auto path = [&] { return JsonPointerChild("/events", position); };
    od::object object;
    if (element.get_object().get(object)) {
      return ShapeError("an event must be an object with name and at", path());
    }
    SEGD_RETURN_IF_ERROR(ParseEvent(object, path, nullptr, &event));
    out->push_back(std::move(event));
  }
  return Status::Ok();
}

template <typename Path>
Status RecordParser::Impl::ParseEvent(od::object event, Path&& path,
                                      std::string* id,
                                      ProfileInput::Event* out) {
  std::optional<int64_t> at;
  bool has_name = false, has_id = false;
  for (auto field : event) {
    std::string_view key;
    auto error = field.unescaped_key().get(key);
    if (error) return JsonError(error, path());
    od::value v;
    if ((error = field.value().get(v)))
      return JsonError(error, JsonPointerChild(path(), key));
    if (KeyIs(key, "name")) {
      std::string_view s;
      if (v.get_string().get(s) || s.empty()) {
        return ShapeError("event name must be a non-empty string",
                          JsonPointerChild(path(), "name"));
      }
      out->name.assign(s);
      has_name = true;
    } else if (KeyIs(key, "at")) {
      std::string_view s;
      if (v.get_string().get(s) || !(at = ParseIsoInstant(s))) {
        return ShapeError("event at must be an ISO-8601 date",
                          JsonPointerChild(path(), "at"));
      }
    } else if (KeyIs(key, "id") && id != nullptr) {
      SEGD_RETURN_IF_ERROR(ParseId(v, path, id));
      has_id = true;
    } else {
      std::string_view ignored;  // extra keys are allowed, but must parse
      if ((error = simdjson::to_json_string(v).get(ignored))) {
        return JsonError(error, JsonPointerChild(path(), key));
      }
    }
  }
  if (id != nullptr && !has_id) {
    return ShapeError("event without a profile id",
                      JsonPointerChild(path(), "id"));
  }
  if (!has_name) return ShapeError("event without a name", path());
  if (!at) return ShapeError("event without an at date", path());
  out->at_ms = *at;
  return Status::Ok();
}

}  // namespace segd
