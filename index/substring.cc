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

// Whether a start marked in `starts` lies within [b, b + fits).
inline bool AnyStart(const uint64_t* starts, size_t b, size_t fits) {
  if (fits <= 56) [[likely]] {
    // One unaligned word holds the whole window.
    uint64_t window;
    std::memcpy(&window, reinterpret_cast<const char*>(starts) + b / 8,
                sizeof(window));
    return (window >> (b % 8) & ((uint64_t{1} << fits) - 1)) != 0;
  }
  for (size_t p = b; p < b + fits; ++p) {
    if (starts[p >> 6] >> (p & 63) & 1) return true;
  }
  return false;
}

// Values [from, count) of MarkValuesHolding, one at a time; returns the
// first value not yet done.
using HoldKernel = size_t (*)(const uint32_t* offsets, size_t count,
                              uint32_t base, size_t needle_size,
                              const uint64_t* starts, uint64_t* held);

void HoldTail(const uint32_t* offsets, size_t from, size_t count, uint32_t base,
              size_t needle_size, const uint64_t* starts, uint64_t* held) {
  // A whole word of `held` is gathered in a register, without a branch on
  // whether a value holds the needle.
  for (size_t word_first = from; word_first < count;
       word_first = (word_first | 63) + 1) {
    const size_t word_last = std::min(count, (word_first | 63) + 1);
    uint64_t word = 0;
    for (size_t i = word_first; i < word_last; ++i) {
      const size_t b = offsets[i] - base, length = offsets[i + 1] - offsets[i];
      const size_t fits = length >= needle_size ? length - needle_size + 1 : 0;
      word |= uint64_t{AnyStart(starts, b, fits)} << (i & 63);
    }
    held[word_first >> 6] |= word;
  }
}

size_t HoldGeneric(const uint32_t*, size_t, uint32_t, size_t, const uint64_t*,
                   uint64_t*) {
  return 0;  // all of it is HoldTail's
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

// Eight values at a time: their windows of start bits are gathered as eight
// unaligned words, shifted and masked in vector lanes.
//
// GCC 12 warns that the intrinsics' own undefined source vectors may be used
// uninitialized (GCC bug 105593); they are not.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f,avx512bw"))) size_t HoldAvx512(
    const uint32_t* offsets, size_t count, uint32_t base, size_t needle_size,
    const uint64_t* starts, uint64_t* held) {
  const __m512i vbase = _mm512_set1_epi64(base);
  const __m512i before_fit =
      _mm512_set1_epi64(static_cast<int64_t>(needle_size) - 1);
  const __m512i widest = _mm512_set1_epi64(56);
  const __m512i seven = _mm512_set1_epi64(7);
  const __m512i one = _mm512_set1_epi64(1);
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m512i b = _mm512_sub_epi64(
        _mm512_cvtepu32_epi64(
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(offsets + i))),
        vbase);
    const __m512i e = _mm512_sub_epi64(
        _mm512_cvtepu32_epi64(_mm256_loadu_si256(
            reinterpret_cast<const __m256i*>(offsets + i + 1))),
        vbase);
    // Starts that fit: length - (needle_size - 1), at least 0.
    const __m512i fits =
        _mm512_max_epi64(_mm512_sub_epi64(_mm512_sub_epi64(e, b), before_fit),
                         _mm512_setzero_si512());
    const __m512i window = _mm512_srlv_epi64(
        _mm512_i64gather_epi64(_mm512_srli_epi64(b, 3), starts, 1),
        _mm512_and_si512(b, seven));
    const __m512i mask = _mm512_sub_epi64(_mm512_sllv_epi64(one, fits), one);
    uint32_t hit = _mm512_test_epi64_mask(window, mask);
    // Values too long for one word: one at a time (rare).
    for (uint32_t wide = _mm512_cmpgt_epu64_mask(fits, widest); wide != 0;
         wide &= wide - 1) {
      const size_t lane = static_cast<size_t>(std::countr_zero(wide));
      const size_t v = i + lane;
      const size_t bv = offsets[v] - base;
      const size_t fv = offsets[v + 1] - offsets[v] - (needle_size - 1);
      hit = (hit & ~(1u << lane)) |
            static_cast<uint32_t>(AnyStart(starts, bv, fv)) << lane;
    }
    held[i >> 6] |= uint64_t{hit} << (i & 63);
  }
  return i;
}
#pragma GCC diagnostic pop
#endif

// SEGD_KERNELS=generic|popcnt|avx2 caps the choice, as for the word
// kernels.
struct Kernels {
  MarkKernel mark = MarkGeneric;
  HoldKernel hold = HoldGeneric;
};

Kernels PickKernels() {
  Kernels k;
#if defined(__x86_64__) && defined(__GNUC__)
  const char* cap_env = std::getenv("SEGD_KERNELS");
  const std::string_view cap = cap_env ? cap_env : "";
  if (cap == "generic" || cap == "popcnt") return k;
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2")) return k;
  k.mark = MarkAvx2;
  if (cap == "avx2") return k;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) {
    k.mark = MarkAvx512;
    k.hold = HoldAvx512;
  }
#endif
  return k;
}

const Kernels& PickedKernels() {
  static const Kernels kernels = PickKernels();
  return kernels;
}

}  // namespace

void MarkMatchStarts(const char* text, size_t size, std::string_view needle,
                     uint64_t* starts) {
  // The kernel writes positions [0, done), in whole 32- or 64-bit pieces;
  // the rest starts clear.
  const size_t done = PickedKernels().mark(text, size, needle, starts);
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

void MarkValuesHolding(const uint32_t* offsets, size_t count, uint32_t base,
                       size_t needle_size, const uint64_t* starts,
                       uint64_t* held) {
  const size_t done =
      PickedKernels().hold(offsets, count, base, needle_size, starts, held);
  HoldTail(offsets, done, count, base, needle_size, starts, held);
}

}  // namespace segd
