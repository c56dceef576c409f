#include "index/substring.h"

#include <cstdlib>
#include <cstring>

namespace segd::substring_internal {

bool UseAvx2() {
  static const bool use = [] {
#if defined(__x86_64__) && defined(__GNUC__)
    const char* cap = std::getenv("SEGD_KERNELS");
    if (cap != nullptr &&
        (std::strcmp(cap, "generic") == 0 || std::strcmp(cap, "popcnt") == 0)) {
      return false;
    }
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
#else
    return false;
#endif
  }();
  return use;
}

}  // namespace segd::substring_internal
