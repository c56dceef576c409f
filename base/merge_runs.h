// MergeRuns: one ascending run of words (unsigned integers of any width)
// from several, merged pairwise without branches on the data, whose order a
// branch would guess at random (instants of many profiles' events interleave).
#ifndef SEGD_BASE_MERGE_RUNS_H_
#define SEGD_BASE_MERGE_RUNS_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace segd {

// Merges ascending [a, a_end) and [b, b_end) into `out`; returns the end.
template <typename Word>
Word* MergeTwo(const Word* a, const Word* a_end, const Word* b,
               const Word* b_end, Word* out) {
  static_assert(std::is_unsigned_v<Word>);
  while (a != a_end && b != b_end) {
    const Word x = *a, y = *b;
    const bool take_b = y < x;  // equal words: a's first
    *out++ = take_b ? y : x;
    a += !take_b;
    b += take_b;
  }
  out = std::copy(a, a_end, out);
  return std::copy(b, b_end, out);
}

// Sorts `words`, made of ascending runs that start at the ascending
// positions `runs` (each run ends where the next starts, the last at the
// end; an empty run starts where the next does; words before the first
// start are a run too), by merging
// neighbours, log2(runs) passes. `runs` is left with the one run's start,
// or none; `scratch` is a buffer of any contents.
template <typename Word>
void MergeRuns(std::vector<Word>& words, std::vector<size_t>& runs,
               std::vector<Word>& scratch) {
  while (!runs.empty() && runs.back() >= words.size()) runs.pop_back();
  if (!words.empty() && (runs.empty() || runs.front() != 0)) {
    runs.insert(runs.begin(), 0);
  }
  // Empty runs take no pass.
  runs.erase(std::unique(runs.begin(), runs.end()), runs.end());
  while (runs.size() > 1) {
    scratch.resize(words.size());
    const Word* in = words.data();
    size_t kept = 0;
    for (size_t k = 0; k < runs.size(); k += 2) {
      const size_t begin = runs[k];
      const size_t middle = k + 1 < runs.size() ? runs[k + 1] : words.size();
      const size_t end = k + 2 < runs.size() ? runs[k + 2] : words.size();
      MergeTwo(in + begin, in + middle, in + middle, in + end,
               scratch.data() + begin);
      runs[kept++] = begin;
    }
    runs.resize(kept);
    words.swap(scratch);
  }
}

}  // namespace segd

#endif  // SEGD_BASE_MERGE_RUNS_H_
