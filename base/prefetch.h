// Prefetch: asks for the cache line at an address to be loaded, so that a
// read soon after finds it there.
//
// Not __builtin_prefetch: GCC 12 drops it from some shapes of code at -O2
// and -O3, silently. Two prefetches each under a branch of its own, one
// table's slot and another's, compiled to nothing, and
// ProfileStore::Prefetch to a bare `ret`. An asm volatile statement is
// kept wherever it is written.
#ifndef SEGD_BASE_PREFETCH_H_
#define SEGD_BASE_PREFETCH_H_

namespace segd {

inline void Prefetch(const void* address) {
#if defined(__x86_64__)
  asm volatile("prefetcht0 (%0)" : : "r"(address));
#else
  __builtin_prefetch(address);
#endif
}

}  // namespace segd

#endif  // SEGD_BASE_PREFETCH_H_
