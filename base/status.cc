#include "base/status.h"

#include "base/json_writer.h"

namespace segd {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "ok";
    case ErrorCode::kMalformed:
      return "malformed";
    case ErrorCode::kInvalid:
      return "invalid";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kConflict:
      return "conflict";
    case ErrorCode::kTooLarge:
      return "too_large";
    case ErrorCode::kUnauthorized:
      return "unauthorized";
    case ErrorCode::kMethodNotAllowed:
      return "method_not_allowed";
    case ErrorCode::kUnsupportedMediaType:
      return "unsupported_media_type";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kCorrupt:
      return "corrupt";
    case ErrorCode::kIo:
      return "io";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  if (path_.empty()) return message_;
  return message_ + " (at " + path_ + ")";
}

std::string Status::ToJson() const {
  JsonWriter w;
  w.BeginObject();
  w.Key("error");
  w.BeginObject();
  w.Key("code");
  w.String(ErrorCodeName(code_));
  w.Key("message");
  w.String(message_);
  // Always present, as SPEC §5 shapes every error: "" points at the whole
  // input (a rule that is not an object, say).
  w.Key("path");
  w.String(path_);
  w.EndObject();
  w.EndObject();
  return w.Take();
}

}  // namespace segd
