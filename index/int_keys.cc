#include "index/int_keys.h"

#include <algorithm>
#include <numeric>

namespace segd {

IntKeys::IntKeys(const std::vector<int64_t>& sorted) {
  if (sorted.empty()) return;
  // Offsets from the smallest key, as unsigned: exact for any int64 span.
  const int64_t base = sorted.front();
  auto offset = [&](int64_t key) {
    return static_cast<uint64_t>(key) - static_cast<uint64_t>(base);
  };
  uint64_t unit = 0;
  for (int64_t key : sorted) unit = std::gcd(unit, offset(key));
  if (unit == 0) unit = 1;  // every key is the base
  if (offset(sorted.back()) / unit > UINT32_MAX) {
    wide_ = sorted;
    return;
  }
  base_ = base;
  unit_ = unit;
  narrow_.reserve(sorted.size());
  for (int64_t key : sorted) {
    narrow_.push_back(static_cast<uint32_t>(offset(key) / unit));
  }
}

size_t IntKeys::LowerBound(int64_t x) const {
  if (!narrow())
    return std::lower_bound(wide_.begin(), wide_.end(), x) - wide_.begin();
  if (x <= base_) return 0;
  // The smallest k with base + unit * k >= x.
  const uint64_t above =
      static_cast<uint64_t>(x) - static_cast<uint64_t>(base_);
  const uint64_t k = above / unit_ + (above % unit_ != 0);
  if (k > UINT32_MAX) return narrow_.size();
  return std::lower_bound(narrow_.begin(), narrow_.end(),
                          static_cast<uint32_t>(k)) -
         narrow_.begin();
}

size_t IntKeys::UpperBound(int64_t x) const {
  if (!narrow())
    return std::upper_bound(wide_.begin(), wide_.end(), x) - wide_.begin();
  if (x < base_) return 0;
  // The largest k with base + unit * k <= x.
  const uint64_t k =
      (static_cast<uint64_t>(x) - static_cast<uint64_t>(base_)) / unit_;
  if (k >= UINT32_MAX) return narrow_.size();
  return std::upper_bound(narrow_.begin(), narrow_.end(),
                          static_cast<uint32_t>(k)) -
         narrow_.begin();
}

}  // namespace segd
