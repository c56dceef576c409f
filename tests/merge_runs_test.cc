#include "base/merge_runs.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace segd {
namespace {

// Against std::sort, for runs of every count from none to nine, some of
// them empty, with equal words within and across runs, and the first
// run's start given or not; as 8-byte words and as 4-byte ones.
template <typename Word>
void ExpectSortedAsBySort() {
  std::mt19937_64 rng(11);
  std::vector<Word> scratch = {42, 43};  // contents never read
  for (int trial = 0; trial < 200; ++trial) {
    const size_t run_count = trial % 10;
    const uint64_t range = trial % 3 == 0 ? 8 : ~uint64_t{0};
    std::vector<Word> words;
    std::vector<size_t> runs;
    for (size_t k = 0; k < run_count; ++k) {
      // Every third trial leaves its first run's start unsaid.
      if (k > 0 || trial % 3 != 1) runs.push_back(words.size());
      const size_t n = rng() % 4 == 0 ? 0 : rng() % 300;
      std::vector<Word> run(n);
      for (Word& w : run) w = static_cast<Word>(rng() % range);
      std::sort(run.begin(), run.end());
      words.insert(words.end(), run.begin(), run.end());
    }
    std::vector<Word> want = words;
    std::sort(want.begin(), want.end());
    MergeRuns(words, runs, scratch);
    ASSERT_EQ(words, want) << "trial " << trial;
    EXPECT_LE(runs.size(), 1u);
  }
}

TEST(MergeRunsTest, AgreesWithASort) { ExpectSortedAsBySort<uint64_t>(); }

TEST(MergeRunsTest, AgreesWithASortOnFourByteWords) {
  ExpectSortedAsBySort<uint32_t>();
}

}  // namespace
}  // namespace segd
