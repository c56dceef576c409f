// Substring search over long texts, such as a dictionary's concatenated
// values, picked at run time for the CPU like the word kernels.
#ifndef SEGD_INDEX_SUBSTRING_H_
#define SEGD_INDEX_SUBSTRING_H_

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <cstddef>
#include <string_view>

namespace segd {

namespace substring_internal {

bool UseAvx2();  // once per process: the CPU has it and SEGD_KERNELS allows

// Needles are short: a loop beats a call to memcmp.
inline bool SameBytes(const char* a, const char* b, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

template <typename OnMatch>
void ForEachMatchGeneric(const char* text, size_t size, std::string_view needle,
                         size_t from, OnMatch& on_match) {
  const std::string_view all(text, size);
  while (from < size) {
    const size_t at = all.find(needle, from);
    if (at == std::string_view::npos) return;
    from = on_match(at);
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// 32 positions at a time: those whose first and last bytes match the
// needle's are compared in full.
template <typename OnMatch>
__attribute__((target("avx2"))) void ForEachMatchAvx2(const char* text,
                                                      size_t size,
                                                      std::string_view needle,
                                                      size_t from,
                                                      OnMatch& on_match) {
  const size_t k = needle.size();
  if (k < 2) return ForEachMatchGeneric(text, size, needle, from, on_match);
  const __m256i first = _mm256_set1_epi8(needle[0]);
  const __m256i last = _mm256_set1_epi8(needle[k - 1]);
  size_t i = from;
  while (i + k - 1 + 32 <= size) {
    const __m256i a =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(text + i));
    const __m256i b =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(text + i + k - 1));
    uint32_t mask = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_and_si256(
        _mm256_cmpeq_epi8(a, first), _mm256_cmpeq_epi8(b, last))));
    size_t next = i + 32;
    while (mask != 0) {
      const size_t at = i + static_cast<size_t>(__builtin_ctz(mask));
      mask &= mask - 1;
      if (!SameBytes(text + at + 1, needle.data() + 1, k - 2)) continue;
      const size_t resume = on_match(at);
      if (resume > at + 1) {  // skip the matches before `resume`
        next = resume;
        break;
      }
    }
    i = next;
  }
  ForEachMatchGeneric(text, size, needle, i, on_match);
}
#endif

}  // namespace substring_internal

// Calls on_match(position) for each place at or after `from` where `needle`
// (not empty) starts within text[0, size), in ascending order. on_match
// returns where to go on searching: position + 1 for every match, or
// further to skip matches.
template <typename OnMatch>
void ForEachMatch(const char* text, size_t size, std::string_view needle,
                  size_t from, OnMatch&& on_match) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (substring_internal::UseAvx2()) {
    return substring_internal::ForEachMatchAvx2(text, size, needle, from,
                                                on_match);
  }
#endif
  substring_internal::ForEachMatchGeneric(text, size, needle, from, on_match);
}

}  // namespace segd

#endif  // SEGD_INDEX_SUBSTRING_H_
