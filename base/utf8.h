// UTF-8 validity (RFC 3629): no overlong forms, no surrogates, nothing past
// U+10FFFF. Input from JSON is valid already (simdjson checks it); names and
// ids that arrive percent-encoded in a URL path are not, so they are checked
// here, and anything echoed back in JSON is made valid on the way out.
#ifndef SEGD_BASE_UTF8_H_
#define SEGD_BASE_UTF8_H_

#include <cstddef>
#include <string_view>

namespace segd {

// The length of the valid UTF-8 sequence that starts `text`, or 0 when
// there is none (an invalid or cut-off sequence, or empty text).
inline size_t Utf8SequenceLength(std::string_view text) {
  if (text.empty()) return 0;
  const auto byte = [&](size_t i) {
    return static_cast<unsigned char>(text[i]);
  };
  const unsigned char c = byte(0);
  if (c < 0x80) return 1;
  size_t length;
  unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
  if (c >= 0xC2 && c <= 0xDF) {
    length = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    length = 3;
    if (c == 0xE0) lo = 0xA0;  // no overlong forms
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    length = 4;
    if (c == 0xF0) lo = 0x90;  // no overlong forms
    if (c == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  if (byte(1) < lo || byte(1) > hi) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return length;
}

inline bool IsValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t n = Utf8SequenceLength(text.substr(i));
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace segd

#endif  // SEGD_BASE_UTF8_H_
