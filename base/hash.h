// Hashing of short strings (ids, emails, names) for segd's hash tables.
//
// Reads eight bytes at a time and mixes each word with a multiply; a final
// mix spreads every input bit over the low bits too, which open addressing
// masks off. It is several times faster than std::hash on strings of a few
// dozen bytes, and not for anything that needs resistance to chosen input.
#ifndef SEGD_BASE_HASH_H_
#define SEGD_BASE_HASH_H_

#include <cstdint>
#include <cstring>
#include <string_view>

namespace segd {

inline uint64_t HashBytes(std::string_view s, uint64_t seed = 0) {
  constexpr uint64_t kOdd = 0x9E3779B97F4A7C15;  // 2^64 / golden ratio
  auto mix = [](uint64_t h, uint64_t word) {
    h = (h ^ word) * kOdd;
    return h ^ (h >> 29);
  };
  const char* p = s.data();
  size_t n = s.size();
  uint64_t h = mix(seed, n);
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    h = mix(h, word);
  }
  if (n > 0) {
    uint64_t word = 0;
    std::memcpy(&word, p, n);
    h = mix(h, word);
  }
  h = (h ^ (h >> 32)) * kOdd;
  return h ^ (h >> 32);
}

}  // namespace segd

#endif  // SEGD_BASE_HASH_H_
