#include "base/radix_sort.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

namespace segd {
namespace {

// Against std::stable_sort: keys that differ in every byte, keys that share
// all but their low byte (the passes over shared bytes are skipped), and
// many equal keys, whose original order must survive.
TEST(RadixSortTest, AgreesWithAStableSort) {
  std::mt19937_64 rng(7);
  const std::vector<uint64_t> masks = {~uint64_t{0}, 0xFF, 0xFF00000000000000,
                                       0x3, 0};
  for (const uint64_t mask : masks) {
    for (const size_t n : {size_t{0}, size_t{1}, size_t{1000}, size_t{70000}}) {
      std::vector<std::pair<uint64_t, uint32_t>> items(n), want;
      const uint64_t shared = rng() & ~mask;
      for (uint32_t i = 0; i < n; ++i) items[i] = {shared | (rng() & mask), i};
      want = items;
      std::stable_sort(
          want.begin(), want.end(),
          [](const auto& a, const auto& b) { return a.first < b.first; });
      RadixSort(items, [](const auto& item) { return item.first; });
      ASSERT_EQ(items, want) << "mask " << mask << ", " << n << " items";
    }
  }
}

}  // namespace
}  // namespace segd
