// ASCII case folding. segd compares strings with ASCII letters folded and all
// other bytes as they are (SPEC §2), so folding never changes UTF-8 length.
#ifndef SEGD_BASE_ASCII_H_
#define SEGD_BASE_ASCII_H_

#include <string>
#include <string_view>

namespace segd {

inline char FoldAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

inline std::string FoldAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = FoldAscii(c);
  return out;
}

inline void FoldAsciiInPlace(std::string& s) {
  for (char& c : s) c = FoldAscii(c);
}

inline bool EqualsFolded(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (FoldAscii(a[i]) != FoldAscii(b[i])) return false;
  }
  return true;
}

}  // namespace segd

#endif  // SEGD_BASE_ASCII_H_
