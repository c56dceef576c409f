// JSON pointers (RFC 6901), the places errors point at: "/all/2/value".
#ifndef SEGD_BASE_JSON_POINTER_H_
#define SEGD_BASE_JSON_POINTER_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace segd {

// `parent` + "/" + `key`, with '~' and '/' in the key escaped as ~0 and ~1.
inline std::string JsonPointerChild(std::string_view parent,
                                    std::string_view key) {
  std::string p(parent);
  p.push_back('/');
  for (char c : key) {
    if (c == '~') {
      p.append("~0");
    } else if (c == '/') {
      p.append("~1");
    } else {
      p.push_back(c);
    }
  }
  return p;
}

inline std::string JsonPointerChild(std::string_view parent, size_t index) {
  return std::string(parent) + "/" + std::to_string(index);
}

}  // namespace segd

#endif  // SEGD_BASE_JSON_POINTER_H_
