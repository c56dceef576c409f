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
  auto load64 = [](const char* p) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    return word;
  };
  auto load32 = [](const char* p) {
    uint32_t word;
    std::memcpy(&word, p, 4);
    return uint64_t{word};
  };
  // Every read has a fixed width: a copy of a variable length into a word
  // would be stored byte by byte and read back whole, which stalls. The
  // last bytes are read again where they overlap, which the length, mixed
  // in first, keeps apart.
  const char* p = s.data();
  const size_t n = s.size();
  uint64_t h = mix(seed, n);
  if (n >= 8) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) h = mix(h, load64(p + i));
    if (i < n) h = mix(h, load64(p + n - 8));
  } else if (n >= 4) {
    h = mix(h, load32(p) | load32(p + n - 4) << 32);
  } else if (n > 0) {
    h = mix(h, uint64_t{static_cast<uint8_t>(p[0])} |
                   uint64_t{static_cast<uint8_t>(p[n / 2])} << 8 |
                   uint64_t{static_cast<uint8_t>(p[n - 1])} << 16);
  }
  h = (h ^ (h >> 32)) * kOdd;
  return h ^ (h >> 32);
}

}  // namespace segd

#endif  // SEGD_BASE_HASH_H_
