// Direct I/O: files written around the page cache (O_DIRECT).
//
// The log and snapshots are written once and read back only after a
// restart, so keeping their pages cached buys nothing. Writing them
// through the page cache costs a fresh page for every 4 KiB, and on
// machines that hand freed memory back to their host a fresh page costs
// far more than the device write (BENCHMARKS.md, "Durability"). Direct
// writes go from a buffer of our own, which stays warm, in whole blocks
// at block-aligned offsets.
#ifndef SEGD_BASE_DIRECT_IO_H_
#define SEGD_BASE_DIRECT_IO_H_

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>

namespace segd {

// Buffers, sizes and offsets of direct writes are multiples of this: a
// multiple of every device's logical block.
inline constexpr size_t kDirectIoBlock = 4096;

inline size_t RoundUpToDirectIoBlock(size_t n) {
  return (n + kDirectIoBlock - 1) / kDirectIoBlock * kDirectIoBlock;
}
inline size_t RoundDownToDirectIoBlock(size_t n) {
  return n / kDirectIoBlock * kDirectIoBlock;
}

struct FreeAligned {
  void operator()(char* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<char[], FreeAligned>;

// `bytes` (a multiple of kDirectIoBlock) aligned to kDirectIoBlock.
inline AlignedBuffer AllocateAligned(size_t bytes) {
  AlignedBuffer buffer(
      static_cast<char*>(std::aligned_alloc(kDirectIoBlock, bytes)));
  if (buffer == nullptr) throw std::bad_alloc();
  return buffer;
}

// Turns O_DIRECT on for an open file. 0 with *on set; 0 with *on false
// when the file system refuses it (EINVAL: tmpfs may); another errno when
// the file cannot be changed.
inline int EnableDirectIo(int fd, bool* on) {
  *on = false;
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return errno;
  if (fcntl(fd, F_SETFL, flags | O_DIRECT) != 0) {
    return errno == EINVAL ? 0 : errno;
  }
  *on = true;
  return 0;
}

// pwrite(2)s all of [data, data + size) at `offset`, going on after a
// short write; 0 or an errno.
inline int WriteAllAt(int fd, const char* data, size_t size, uint64_t offset) {
  while (size > 0) {
    const ssize_t n = pwrite(fd, data, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    data += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return 0;
}

}  // namespace segd

#endif  // SEGD_BASE_DIRECT_IO_H_
