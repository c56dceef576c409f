// Under ThreadSanitizer, oneTBB runs without worker threads.
//
// oneTBB hands tasks between its workers inside libtbb, which is not built
// with ThreadSanitizer, so TSan would flag TBB's own task objects. Without
// workers each thread runs its own parallel loops, and the races that the
// live database's tests look for, between readers, writers and merges on
// threads of their own, are all still seen. Include this in a test's file.
#ifndef SEGD_TESTS_TSAN_H_
#define SEGD_TESTS_TSAN_H_

#include <tbb/global_control.h>

namespace segd::testing {

#if defined(__SANITIZE_THREAD__)
inline const tbb::global_control kNoTbbWorkers(
    tbb::global_control::max_allowed_parallelism, 1);
#endif

}  // namespace segd::testing

#endif  // SEGD_TESTS_TSAN_H_
