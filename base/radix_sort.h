// RadixSort: a stable LSD radix sort by a 64-bit unsigned key, a byte at a
// time, skipping the bytes every key shares (dates of a few years differ in
// 5 of their 8). Linear in the items, with one scratch copy of them.
#ifndef SEGD_BASE_RADIX_SORT_H_
#define SEGD_BASE_RADIX_SORT_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace segd {

// Sorts `items` by key_of(item) (uint64_t), keeping the order of equal keys.
template <typename T, typename KeyOf>
void RadixSort(std::vector<T>& items, KeyOf key_of) {
  size_t counts[8][256] = {};
  for (const T& item : items) {
    const uint64_t key = key_of(item);
    for (int d = 0; d < 8; ++d) ++counts[d][key >> (8 * d) & 0xFF];
  }
  std::vector<T> other(items.size());
  for (int d = 0; d < 8; ++d) {
    size_t* count = counts[d];
    if (*std::max_element(count, count + 256) == items.size()) continue;
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
