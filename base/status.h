// Status and Result<T>: errors as values.
//
// A Status carries a code (which maps onto an HTTP status and an error code
// string), a human message and a place: a JSON pointer into a rule, a line of
// an input file, or an attribute name. User mistakes travel as Status values;
// asserts are kept for segd's own bugs.
#ifndef SEGD_BASE_STATUS_H_
#define SEGD_BASE_STATUS_H_

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace segd {

enum class ErrorCode {
  kOk,
  kMalformed,     // 400: not valid JSON or not the expected shape.
  kInvalid,       // 422: well-formed but wrong (unknown name, type mismatch).
  kNotFound,      // 404
  kConflict,      // 409
  kTooLarge,      // 413
  kUnauthorized,  // 401
  kMethodNotAllowed,      // 405
  kUnsupportedMediaType,  // 415
  kUnavailable,           // 503: not ready, or writes stopped.
  kCorrupt,               // 500: stored data failed a check.
  kIo,                    // 500: file or disk trouble.
  kInternal,              // 500: a bug in segd.
};

// Stable lower-case name used in JSON error bodies, e.g. "invalid".
const char* ErrorCodeName(ErrorCode code);

class Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message, std::string path = {})
      : code_(code), message_(std::move(message)), path_(std::move(path)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // A JSON pointer (rule errors) or other place; may be empty.
  const std::string& path() const { return path_; }

  // "message (at path)" for logs and stderr.
  std::string ToString() const;
  // {"error": {"code": ..., "message": ..., "path": ...}}
  std::string ToJson() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
  std::string path_;
};

inline Status Malformed(std::string message, std::string path = {}) {
  return Status(ErrorCode::kMalformed, std::move(message), std::move(path));
}
inline Status Invalid(std::string message, std::string path = {}) {
  return Status(ErrorCode::kInvalid, std::move(message), std::move(path));
}

// Either a value or a non-ok Status.
template <typename T>
class Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : state_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(state_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(state_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(state_);
  }
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace segd

#define SEGD_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::segd::Status segd_status_ = (expr);        \
    if (!segd_status_.ok()) return segd_status_; \
  } while (0)

#endif  // SEGD_BASE_STATUS_H_
