// Names the calling thread, as `top -H`, perf and gdb show it.
#ifndef SEGD_BASE_THREAD_NAME_H_
#define SEGD_BASE_THREAD_NAME_H_

#include <pthread.h>

namespace segd {

// `name`: at most 15 bytes (the kernel's limit); a longer one is ignored.
inline void NameThisThread(const char* name) {
  pthread_setname_np(pthread_self(), name);
}

}  // namespace segd

#endif  // SEGD_BASE_THREAD_NAME_H_
