// JsonWriter: a small, allocation-light JSON emitter.
//
// Appends to an internal std::string; commas and nesting are tracked so the
// caller only says what comes next. Control characters, quotes and
// backslashes are escaped; bytes that are not valid UTF-8 (an id echoed from
// a URL path, say) become U+FFFD, so the output is always valid JSON. Not
// thread-safe; one writer per output.
#ifndef SEGD_BASE_JSON_WRITER_H_
#define SEGD_BASE_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace segd {

class JsonWriter {
 public:
  JsonWriter() = default;

  void BeginObject();
  void EndObject();
  void BeginArray();
  void EndArray();
  void Key(std::string_view key);
  // A key written many times, kept as AppendJsonString wrote it, followed
  // by ':' ("\"name\":").
  void QuotedKey(std::string_view quoted) {
    BeforeValue();
    out_.append(quoted);
    after_key_ = true;
  }

  void String(std::string_view value);
  void Int(int64_t value);
  void Uint(uint64_t value);
  // Shortest representation that reads back to the same double; NaN and
  // infinities (which JSON cannot carry) are written as null.
  void Double(double value);
  void Bool(bool value);
  void Null();
  // Inserts already-serialized JSON as one value.
  void Raw(std::string_view json);
  // Appends `c` between top-level values written one after another (the
  // lines of NDJSON, say). REQUIRES: no object or array open.
  void Separator(char c) { out_.push_back(c); }

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }
  void Clear();

 private:
  void BeforeValue();

  std::string out_;
  // One entry per open object/array: true until its first element is written.
  std::vector<bool> first_;
  bool after_key_ = false;
};

// Appends `value` as a quoted, escaped JSON string.
void AppendJsonString(std::string& out, std::string_view value);

}  // namespace segd

#endif  // SEGD_BASE_JSON_WRITER_H_
