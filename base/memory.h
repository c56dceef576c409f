// Freeing a container's memory at once, and counting a string's.
#ifndef SEGD_BASE_MEMORY_H_
#define SEGD_BASE_MEMORY_H_

#include <cstddef>
#include <functional>
#include <string>

namespace segd {

// Empties `c` and gives its memory back. `c = {}` would not: it assigns an
// empty initializer list, which keeps the capacity.
template <typename Container>
void Release(Container& c) {
  Container().swap(c);
}

// The bytes `s` holds on the heap: none while its text fits inside the
// string itself.
inline size_t HeapBytes(const std::string& s) {
  // std::less orders any two pointers, even into different objects.
  const std::less<const char*> before;
  const char* inside = reinterpret_cast<const char*>(&s);
  const bool local =
      !before(s.data(), inside) && before(s.data(), inside + sizeof(s));
  return local ? 0 : s.capacity() + 1;
}

}  // namespace segd

#endif  // SEGD_BASE_MEMORY_H_
