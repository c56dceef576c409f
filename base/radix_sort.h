// RadixSort: a stable LSD radix sort by a 64-bit unsigned key, a byte at a
// time, over the low bytes up to the largest key's highest, and skipping
// those every key shares (dates of a few years differ in 5 of their 8).
// Linear in the items, with one scratch copy of them.
#ifndef SEGD_BASE_RADIX_SORT_H_
#define SEGD_BASE_RADIX_SORT_H_

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace segd {

// Sorts `items` by key_of(item) (uint64_t), keeping the order of equal keys.
template <typename T, typename KeyOf>
void RadixSort(std::vector<T>& items, KeyOf key_of) {
  uint64_t largest = 0;
  for (const T& item : items) {
    largest = std::max<uint64_t>(largest, key_of(item));
  }
  // Bytes above the largest key's highest are zero in every key.
  const int digits = (std::bit_width(largest) + 7) / 8;
  size_t counts[8 * 256];
  std::fill_n(counts, digits * 256, 0);
  for (const T& item : items) {
    const uint64_t key = key_of(item);
    for (int d = 0; d < digits; ++d) {
      ++counts[d * 256 + (key >> (8 * d) & 0xFF)];
    }
  }
  std::vector<T> other(items.size());
  for (int d = 0; d < digits; ++d) {
    size_t* count = counts + d * 256;
    // A byte that every key shares: all in the first key's bucket.
    if (count[key_of(items[0]) >> (8 * d) & 0xFF] == items.size()) continue;
    size_t start = 0;
    for (int b = 0; b < 256; ++b) start += std::exchange(count[b], start);
    for (const T& item : items) {
      other[count[key_of(item) >> (8 * d) & 0xFF]++] = item;
    }
    items.swap(other);
  }
}

}  // namespace segd

#endif  // SEGD_BASE_RADIX_SORT_H_
