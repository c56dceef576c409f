// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
// write-ahead log records.
//
// Crc32c() uses the SSE4.2 `crc32` instruction when the CPU has it (checked
// once, at the first call) and a table-driven slicing-by-8 loop otherwise;
// both give the same value for every input. The functions are pure: any
// thread may call them at any time.
#ifndef SEGD_WAL_CRC32C_H_
#define SEGD_WAL_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace segd {

// The CRC-32C of data[0, n). `crc` is the CRC of what came before, so a CRC
// can be extended piece by piece:
//   Crc32c(b, nb, Crc32c(a, na)) == Crc32c(a then b, na + nb).
// REQUIRES: data points at n readable bytes (any alignment; may be null
// when n == 0).
uint32_t Crc32c(const void* data, size_t n, uint32_t crc = 0);

// The CRC-32C of a then b, from the CRCs of a and of b and b's length, in
// O(log length_b): pieces checksummed apart, on different threads, combine
// into the CRC of the whole.
uint32_t Crc32cCombine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b);

// A CRC stored inside data that is itself checksummed (a record holding
// another record, a file of CRCs) would make the outer CRC degenerate; it
// is stored masked instead: rotated right by 15 bits plus a constant.
inline constexpr uint32_t kCrcMaskDelta = 0xa282ead8u;

inline constexpr uint32_t MaskCrc(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + kCrcMaskDelta;
}

inline constexpr uint32_t UnmaskCrc(uint32_t masked) {
  const uint32_t rotated = masked - kCrcMaskDelta;
  return (rotated >> 17) | (rotated << 15);
}

namespace crc32c_internal {

// The portable path: slicing-by-8 over eight 256-entry tables.
uint32_t Crc32cPortable(const void* data, size_t n, uint32_t crc);

// Whether this CPU has SSE4.2 (and so Crc32cSse42 may be called).
bool HasSse42();

// The hardware path. REQUIRES: HasSse42().
uint32_t Crc32cSse42(const void* data, size_t n, uint32_t crc);

}  // namespace crc32c_internal
}  // namespace segd

#endif  // SEGD_WAL_CRC32C_H_
