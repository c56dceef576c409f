#include "index/substring.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace segd {
namespace {

// The vector kernels compare this many leading bytes of the needle at every
// position; a longer needle's candidates are checked for the rest after.
constexpr size_t kProbes = 16;

void SetStart(uint64_t* starts, size_t p) {
  starts[p >> 6] |= uint64_t{1} << (p & 63);
}

// Marks positions [from, size - needle.size()] one at a time.
void MarkTail(const char* text, size_t size, std::string_view needle,
              size_t from, uint64_t* starts) {
  const std::string_view all(text, size);
  for (size_t p = all.find(needle, from); p != std::string_view::npos;
       p = all.find(needle, p + 1)) {
    SetStart(starts, p);
  }
}

// Returns the first position not yet marked.
using MarkKernel = size_t (*)(const char* text, size_t size,
                              std::string_view needle, uint64_t* starts);

size_t MarkGeneric(const char*, size_t, std::string_view, uint64_t*) {
  return 0;  // all of it is MarkTail's
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) size_t MarkAvx2(const char* text, size_t size,
                                                std::string_view needle,
                                                uint64_t* starts) {
  const size_t probes = std::min(needle.size(), kProbes);
  __m256i want[kProbes];
  for (size_t j = 0; j < probes; ++j) want[j] = _mm256_set1_epi8(needle[j]);
  size_t i = 0;
  for (; i + 32 + probes - 1 <= size; i += 32) {
    __m256i eq = _mm256_cmpeq_epi8(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(text + i)),
        want[0]);
    for (size_t j = 1; j < probes; ++j) {
      eq = _mm256_and_si256(
          eq,
          _mm256_cmpeq_epi8(_mm256_loadu_si256(
                                reinterpret_cast<const __m256i*>(text + i + j)),
                            want[j]));
    }
    const uint32_t mask = static_cast<uint32_t>(_mm256_movemask_epi8(eq));
    std::memcpy(reinterpret_cast<char*>(starts) + i / 8, &mask, sizeof(mask));
  }
  return i;
}

__attribute__((target("avx512f,avx512bw"))) size_t MarkAvx512(
    const char* text, size_t size, std::string_view needle, uint64_t* starts) {
  const size_t probes = std::min(needle.size(), kProbes);
  __m512i want[kProbes];
  for (size_t j = 0; j < probes; ++j) want[j] = _mm512_set1_epi8(needle[j]);
  size_t i = 0;
  for (; i + 64 + probes - 1 <= size; i += 64) {
    __mmask64 eq =
        _mm512_cmpeq_epi8_mask(_mm512_loadu_si512(text + i), want[0]);
    for (size_t j = 1; j < probes; ++j) {
      eq = _mm512_mask_cmpeq_epi8_mask(eq, _mm512_loadu_si512(text + i + j),
                                       want[j]);
    }
    starts[i / 64] = eq;
  }
  return i;
}
#endif

// SEGD_KERNELS=generic|popcnt|avx2 caps the choice, as for the word
// kernels.
MarkKernel PickKernel() {
#if defined(__x86_64__) && defined(__GNUC__)
  const char* cap_env = std::getenv("SEGD_KERNELS");
  const std::string_view cap = cap_env ? cap_env : "";
  if (cap == "generic" || cap == "popcnt") return MarkGeneric;
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2")) return MarkGeneric;
  if (cap == "avx2") return MarkAvx2;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) {
    return MarkAvx512;
  }
  return MarkAvx2;
#else
  return MarkGeneric;
#endif
}

}  // namespace

void MarkMatchStarts(const char* text, size_t size, std::string_view needle,
                     uint64_t* starts) {
  static const MarkKernel kernel = PickKernel();
  // The kernel writes positions [0, done), in whole 32- or 64-bit pieces;
  // the rest starts clear.
  const size_t done = kernel(text, size, needle, starts);
  size_t clear_from = done / 64;
  if (done % 64 != 0) {
    starts[clear_from] &= (uint64_t{1} << (done % 64)) - 1;
    ++clear_from;
  }
  std::fill(starts + clear_from, starts + MatchStartWords(size), 0);
  // Candidates of a needle longer than the probes: check the rest.
  if (needle.size() > kProbes) {
    const std::string_view rest = needle.substr(kProbes);
    for (size_t w = 0; w < (done + 63) / 64; ++w) {
      for (uint64_t bits = starts[w]; bits != 0; bits &= bits - 1) {
        const size_t p = w * 64 + static_cast<size_t>(std::countr_zero(bits));
        if (p + needle.size() > size ||
            std::memcmp(text + p + kProbes, rest.data(), rest.size()) != 0) {
          starts[w] &= ~(uint64_t{1} << (p & 63));
        }
      }
    }
  }
  MarkTail(text, size, needle, done, starts);
}

}  // namespace segd
