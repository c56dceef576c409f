#include "wal/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define SEGD_CRC32C_X86 1
#else
#define SEGD_CRC32C_X86 0
#endif

namespace segd {
namespace crc32c_internal {

constexpr uint32_t kPolynomial = 0x82F63B78u;  // reflected 0x1EDC6F41

namespace {

using Tables = std::array<std::array<uint32_t, 256>, 8>;

// tables[0][b] is the CRC of the single byte b; tables[k][b] is the CRC of
// b followed by k zero bytes, so eight bytes can be folded in at once.
constexpr Tables MakeTables() {
  Tables tables{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t crc = b;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc >> 1) ^ ((crc & 1) ? kPolynomial : 0);
    }
    tables[0][b] = crc;
  }
  for (int k = 1; k < 8; ++k) {
    for (uint32_t b = 0; b < 256; ++b) {
      const uint32_t prev = tables[k - 1][b];
      tables[k][b] = (prev >> 8) ^ tables[0][prev & 0xff];
    }
  }
  return tables;
}

constexpr Tables kTables = MakeTables();

inline uint32_t LoadLe32(const unsigned char* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 |
         uint32_t{p[3]} << 24;
}

}  // namespace

uint32_t Crc32cPortable(const void* data, size_t n, uint32_t crc) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t state = ~crc;
  // Eight bytes per step: the first four are folded into the running state,
  // the last four are looked up on their own.
  while (n >= 8) {
    const uint32_t lo = LoadLe32(p) ^ state;
    const uint32_t hi = LoadLe32(p + 4);
    state = kTables[7][lo & 0xff] ^ kTables[6][(lo >> 8) & 0xff] ^
            kTables[5][(lo >> 16) & 0xff] ^ kTables[4][lo >> 24] ^
            kTables[3][hi & 0xff] ^ kTables[2][(hi >> 8) & 0xff] ^
            kTables[1][(hi >> 16) & 0xff] ^ kTables[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    state = (state >> 8) ^ kTables[0][(state ^ *p) & 0xff];
    ++p;
    --n;
  }
  return ~state;
}

#if SEGD_CRC32C_X86

bool HasSse42() { return __builtin_cpu_supports("sse4.2"); }

__attribute__((target("sse4.2"))) uint32_t Crc32cSse42(const void* data,
                                                       size_t n, uint32_t crc) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t state = ~crc;
  // Single bytes up to an 8-byte boundary, then whole words.
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    state = _mm_crc32_u8(state, *p);
    ++p;
    --n;
  }
#if defined(__x86_64__)
  uint64_t state64 = state;
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    state64 = _mm_crc32_u64(state64, word);
    p += 8;
    n -= 8;
  }
  state = static_cast<uint32_t>(state64);
#endif
  while (n >= 4) {
    uint32_t word;
    std::memcpy(&word, p, 4);
    state = _mm_crc32_u32(state, word);
    p += 4;
    n -= 4;
  }
  while (n > 0) {
    state = _mm_crc32_u8(state, *p);
    ++p;
    --n;
  }
  return ~state;
}

#else  // !SEGD_CRC32C_X86

bool HasSse42() { return false; }

uint32_t Crc32cSse42(const void* data, size_t n, uint32_t crc) {
  return Crc32cPortable(data, n, crc);
}

#endif  // SEGD_CRC32C_X86

}  // namespace crc32c_internal

namespace {

using Crc32cFunction = uint32_t (*)(const void*, size_t, uint32_t);

Crc32cFunction ChooseCrc32c() {
  return crc32c_internal::HasSse42() ? crc32c_internal::Crc32cSse42
                                     : crc32c_internal::Crc32cPortable;
}

}  // namespace

uint32_t Crc32c(const void* data, size_t n, uint32_t crc) {
  static const Crc32cFunction function = ChooseCrc32c();
  return function(data, n, crc);
}

namespace {

// Polynomials over GF(2) modulo the CRC's, in the reflected order of the
// CRC itself: bit 31 is x^0, bit 0 is x^31.
constexpr uint32_t kOne = uint32_t{1} << 31;

constexpr uint32_t MultiplyModP(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t bit = kOne; bit != 0; bit >>= 1) {
    if (a & bit) product ^= b;
    // b times x.
    b = (b & 1) ? (b >> 1) ^ crc32c_internal::kPolynomial : b >> 1;
  }
  return product;
}

// kPowers[k] is x^(2^k) mod P.
constexpr std::array<uint32_t, 64> MakePowers() {
  std::array<uint32_t, 64> powers{};
  powers[0] = kOne >> 1;  // x^1
  for (size_t k = 1; k < powers.size(); ++k) {
    powers[k] = MultiplyModP(powers[k - 1], powers[k - 1]);
  }
  return powers;
}

constexpr std::array<uint32_t, 64> kPowers = MakePowers();

}  // namespace

uint32_t Crc32cCombine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b) {
  // Appending length_b bytes multiplies a's CRC by x^(8 length_b); the
  // pre- and post-conditioning of the two CRCs cancel out in the sum.
  uint32_t shift = kOne;
  for (size_t k = 3; length_b != 0; length_b >>= 1, ++k) {
    if (length_b & 1) shift = MultiplyModP(kPowers[k], shift);
  }
  return MultiplyModP(shift, crc_a) ^ crc_b;
}

}  // namespace segd
