#include "base/json_writer.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "base/utf8.h"

namespace segd {
namespace {

// Whether any of the 8 bytes at `p` is one a JSON string cannot carry as
// it is (a control byte, '"' or '\\') or one of 0x80 and above, which must
// be checked as UTF-8. Each test sets the high bit of a byte that matches
// (the classic "has a zero byte" trick); no match in any byte sets none.
bool AnyToEscape(const char* p) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  uint64_t w;
  std::memcpy(&w, p, 8);
  const uint64_t quote = w ^ (kOnes * '"');
  const uint64_t backslash = w ^ (kOnes * '\\');
  const uint64_t control = (w - kOnes * 0x20) & ~w;
  return ((control | ((quote - kOnes) & ~quote) |
           ((backslash - kOnes) & ~backslash) | w) &
          kHigh) != 0;
}

// Whether `value` goes out as it is: no byte to escape, all ASCII.
bool Plain(std::string_view value) {
  const char* p = value.data();
  const size_t n = value.size();
  if (n < 8) {
    char padded[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
    if (n > 0) std::memcpy(padded, p, n);
    return !AnyToEscape(padded);
  }
  for (size_t i = 0; i + 8 <= n; i += 8) {
    if (AnyToEscape(p + i)) return false;
  }
  return !AnyToEscape(p + n - 8);  // the tail, overlapping the last block
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  if (Plain(value)) {  // names, emails, ids: the common case
    const size_t at = out.size();
    out.resize(at + value.size() + 2);
    char* dst = out.data() + at;
    dst[0] = '"';
    if (!value.empty()) std::memcpy(dst + 1, value.data(), value.size());
    dst[value.size() + 1] = '"';
    return;
  }
  out.push_back('"');
  size_t run_start = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') continue;
    if (c >= 0x80) {
      // Valid UTF-8 goes out as it is; a byte that starts no valid
      // sequence becomes U+FFFD, so the output is always valid JSON.
      const size_t n = Utf8SequenceLength(value.substr(i));
      if (n > 0) {
        i += n - 1;
        continue;
      }
      out.append(value.data() + run_start, i - run_start);
      run_start = i + 1;
      out.append("\\ufffd");
      continue;
    }
    out.append(value.data() + run_start, i - run_start);
    run_start = i + 1;
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
    }
  }
  out.append(value.data() + run_start, value.size() - run_start);
  out.push_back('"');
}

void JsonWriter::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_.push_back(',');
    first_.back() = false;
  }
}

void JsonWriter::BeginObject() {
  BeforeValue();
  out_.push_back('{');
  first_.push_back(true);
}

void JsonWriter::EndObject() {
  out_.push_back('}');
  first_.pop_back();
}

void JsonWriter::BeginArray() {
  BeforeValue();
  out_.push_back('[');
  first_.push_back(true);
}

void JsonWriter::EndArray() {
  out_.push_back(']');
  first_.pop_back();
}

void JsonWriter::Key(std::string_view key) {
  BeforeValue();
  AppendJsonString(out_, key);
  out_.push_back(':');
  after_key_ = true;
}

void JsonWriter::String(std::string_view value) {
  BeforeValue();
  AppendJsonString(out_, value);
}

void JsonWriter::Int(int64_t value) {
  BeforeValue();
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  out_.append(buf, end);
}

void JsonWriter::Uint(uint64_t value) {
  BeforeValue();
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  out_.append(buf, end);
}

void JsonWriter::Double(double value) {
  if (!std::isfinite(value)) {
    Null();
    return;
  }
  BeforeValue();
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  out_.append(buf, end);
}

void JsonWriter::Bool(bool value) {
  BeforeValue();
  out_.append(value ? "true" : "false");
}

void JsonWriter::Null() {
  BeforeValue();
  out_.append("null");
}

void JsonWriter::Raw(std::string_view json) {
  BeforeValue();
  out_.append(json);
}

void JsonWriter::Clear() {
  out_.clear();
  first_.clear();
  after_key_ = false;
}

}  // namespace segd
