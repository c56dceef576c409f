#include "ingest/record_parser.h"

#include <simdjson.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>

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

}  // namespace

struct RecordParser::Impl {
  od::parser parser;
  od::parser string_parser;            // re-reads arrays of strings
  simdjson::dom::parser array_parser;  // validates other arrays in full

  Status ParseObject(od::object object, const std::string& prefix,
                     const std::string& path, int depth, ProfileInput* out);
  // `path` + "/" + `key` points at the value; built only for errors.
  Status ParseValue(od::value value, std::string_view name,
                    const std::string& path, std::string_view key, int depth,
                    ProfileInput* out);
  // The next attribute slot of `out`. Slots are reused from record to
  // record, so their strings keep their buffers and parsing rarely allocates.
  Value& NextSlot(std::string_view name, ProfileInput* out);
  size_t used = 0;  // slots of out->attributes filled for this record
  // `parent` + "/" + `key` points at the array; built only for errors.
  Status ParseArray(std::string_view raw, const std::string& parent,
                    std::string_view key, Value* value);
  Status ParseIdentities(od::value value, ProfileInput* out);
  Status ParseEvents(od::value value, ProfileInput* out);
};

RecordParser::RecordParser() : impl_(std::make_unique<Impl>()) {}
RecordParser::~RecordParser() = default;

Status RecordParser::Parse(const char* json, size_t length, size_t capacity,
                           ProfileInput* out) {
  out->id.clear();
  impl_->used = 0;
  out->identities.clear();
  out->events.clear();
  od::document doc;
  auto error =
      impl_->parser
          .iterate(simdjson::padded_string_view(json, length, capacity))
          .get(doc);
  if (error) return JsonError(error, "");
  od::object object;
  if (doc.get_object().get(object)) {
    return Malformed("a profile must be a JSON object", "");
  }
  bool has_id = false;
  for (auto field : object) {
    std::string_view key;
    if ((error = field.unescaped_key().get(key))) return JsonError(error, "");
    od::value value;
    if ((error = field.value().get(value)))
      return JsonError(error, JsonPointerChild("", key));
    if (key == "id") {
      std::string_view id;
      if (value.get_string().get(id)) {
        return Malformed("id must be a string", "/id");
      }
      if (id.empty() || id.size() > 256) {
        return Malformed("id must be 1 to 256 bytes", "/id");
      }
      out->id.assign(id);
      has_id = true;
    } else if (key == "identities") {
      SEGD_RETURN_IF_ERROR(impl_->ParseIdentities(value, out));
    } else if (key == "events") {
      SEGD_RETURN_IF_ERROR(impl_->ParseEvents(value, out));
    } else {
      SEGD_RETURN_IF_ERROR(impl_->ParseValue(value, key, "", key, 1, out));
    }
  }
  out->attributes.resize(impl_->used);
  const char* rest;
  if (!doc.current_location().get(rest)) {
    return Malformed("trailing content after the record", "");
  }
  if (!has_id) return Malformed("missing id", "/id");
  return Status::Ok();
}

Status RecordParser::Impl::ParseObject(od::object object,
                                       const std::string& prefix,
                                       const std::string& path, int depth,
                                       ProfileInput* out) {
  if (depth > kMaxRecordNesting) {
    return Malformed("objects nested deeper than " +
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
      return Malformed("empty attribute name", JsonPointerChild(path, key));
    }
    std::string name = prefix;
    name.push_back('.');
    name.append(key);
    SEGD_RETURN_IF_ERROR(ParseValue(value, name, path, key, depth, out));
  }
  return Status::Ok();
}

Value& RecordParser::Impl::NextSlot(std::string_view name, ProfileInput* out) {
  if (used == out->attributes.size()) out->attributes.emplace_back();
  auto& [slot_name, value] = out->attributes[used++];
  slot_name.assign(name);
  value.text.clear();
  value.strings.clear();
  value.absent = false;
  return value;
}

Status RecordParser::Impl::ParseValue(od::value value, std::string_view name,
                                      const std::string& parent,
                                      std::string_view key, int depth,
                                      ProfileInput* out) {
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
    return Malformed("arrays nested deeper than " +
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
  if (error) return JsonError(error, path());
  value->type = AttrType::kUnindexable;
  value->strings.clear();
  value->text = simdjson::minify(array);
  return Status::Ok();
}

Status RecordParser::Impl::ParseIdentities(od::value value, ProfileInput* out) {
  if (IsNull(value)) return Status::Ok();
  od::object object;
  if (value.get_object().get(object)) {
    return Malformed("identities must be an object of channel: handle",
                     "/identities");
  }
  for (auto field : object) {
    std::string_view channel;
    auto error = field.unescaped_key().get(channel);
    if (error) return JsonError(error, "/identities");
    auto path = [&] { return JsonPointerChild("/identities", channel); };
    od::value handle_value;
    if ((error = field.value().get(handle_value)))
      return JsonError(error, path());
    // Of duplicate channels the last wins, as for attributes.
    std::erase_if(out->identities,
                  [&](const auto& pair) { return pair.first == channel; });
    if (IsNull(handle_value)) continue;
    std::string_view handle;
    if (handle_value.get_string().get(handle) || handle.empty()) {
      return Malformed("an identity must map a channel to a non-empty string",
                       path());
    }
    out->identities.emplace_back(std::string(channel), std::string(handle));
  }
  return Status::Ok();
}

Status RecordParser::Impl::ParseEvents(od::value value, ProfileInput* out) {
  if (IsNull(value)) return Status::Ok();
  od::array array;
  if (value.get_array().get(array)) {
    return Malformed("events must be an array of {name, at}", "/events");
  }
  size_t index = 0;
  for (auto element : array) {
    const size_t position = index++;
    auto path = [&] { return JsonPointerChild("/events", position); };
    od::object event;
    if (element.get_object().get(event)) {
      return Malformed("an event must be an object with name and at", path());
    }
    std::string name;
    std::optional<int64_t> at;
    bool has_name = false;
    for (auto field : event) {
      std::string_view key;
      auto error = field.unescaped_key().get(key);
      if (error) return JsonError(error, path());
      od::value v;
      if ((error = field.value().get(v)))
        return JsonError(error, JsonPointerChild(path(), key));
      if (key == "name") {
        std::string_view s;
        if (v.get_string().get(s) || s.empty()) {
          return Malformed("event name must be a non-empty string",
                           JsonPointerChild(path(), "name"));
        }
        name.assign(s);
        has_name = true;
      } else if (key == "at") {
        std::string_view s;
        if (v.get_string().get(s) || !(at = ParseIsoInstant(s))) {
          return Malformed("event at must be an ISO-8601 date",
                           JsonPointerChild(path(), "at"));
        }
      } else {
        std::string_view ignored;  // extra keys are allowed, but must parse
        if ((error = simdjson::to_json_string(v).get(ignored))) {
          return JsonError(error, JsonPointerChild(path(), key));
        }
      }
    }
    if (!has_name) return Malformed("event without a name", path());
    if (!at) return Malformed("event without an at date", path());
    out->events.push_back(ProfileInput::Event{std::move(name), *at});
  }
  return Status::Ok();
}

}  // namespace segd
