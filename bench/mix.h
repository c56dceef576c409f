// The query mix of `segd bench`: rules marketers build every day, over
// `segd gen` data.
#ifndef SEGD_BENCH_MIX_H_
#define SEGD_BENCH_MIX_H_

#include <cstddef>

namespace segd {

struct MixRule {
  const char* name;
  const char* json;
};

extern const MixRule kMix[];
extern const size_t kMixSize;

}  // namespace segd

#endif  // SEGD_BENCH_MIX_H_
