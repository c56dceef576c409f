#include "base/radix_sort.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

namespace segd {
namespace {

// Against std::stable_sort: keys that differ in every byte, keys that share
// all but their low byte (the passes over shared bytes are skipped), keys
// whose high bytes are all zero (those bytes are not counted), and many
// equal keys, whose original order must survive.
TEST(RadixSortTest, AgreesWithAStableSort) {
  struct Keys {
    uint64_t varying;  // the bits that differ from key to key
    bool shared;       // the others random (else zero) and the same in all
  };
  const std::vector<Keys> cases = {
      {~uint64_t{0}, true}, {0xFF, true}, {0xFF00000000000000, true},
      {0x3, true},          {0, true},    {(uint64_t{1} << 37) - 1, false}};
  std::mt19937_64 rng(7);
  for (const Keys& keys : cases) {
    for (const size_t n : {size_t{0}, size_t{1}, size_t{1000}, size_t{70000}}) {
      std::vector<std::pair<uint64_t, uint32_t>> items(n), want;
      const uint64_t shared = keys.shared ? rng() & ~keys.varying : 0;
      for (uint32_t i = 0; i < n; ++i) {
        items[i] = {shared | (rng() & keys.varying), i};
      }
      want = items;
      std::stable_sort(
          want.begin(), want.end(),
          [](const auto& a, const auto& b) { return a.first < b.first; });
      RadixSort(items, [](const auto& item) { return item.first; });
      ASSERT_EQ(items, want)
          << "varying " << keys.varying << ", " << n << " items";
    }
  }
}

}  // namespace
}  // namespace segd
