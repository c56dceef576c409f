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

// Folds `s` into `out`, replacing what it held; whether that changed a
// letter.
inline bool FoldAsciiInto(std::string_view s, std::string* out) {
  out->resize(s.size());
  char* folded = out->data();
  bool changed = false;
  for (size_t i = 0; i < s.size(); ++i) {
    folded[i] = FoldAscii(s[i]);
    changed |= folded[i] != s[i];
  }
  return changed;
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
