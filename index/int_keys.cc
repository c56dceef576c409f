#include "index/int_keys.h"

#include <algorithm>
#include <numeric>

namespace segd {
namespace {

// `key` - `base` as unsigned: exact for any int64 pair with key >= base.
uint64_t Offset(int64_t key, int64_t base) {
  return static_cast<uint64_t>(key) - static_cast<uint64_t>(base);
}

}  // namespace

IntKeys::IntKeys(const std::vector<int64_t>& sorted) {
  if (sorted.empty()) return;
  if (KeyRuns<int64_t>::Worth(sorted, sizeof(uint32_t))) {
    runs_ = KeyRuns<int64_t>(sorted);
    return;
  }
  const size_t n = sorted.size();
  uint64_t unit = 0;
  for (size_t i = 1; i < n && unit != 1; ++i) {
    // Most offsets are multiples of the unit so far (whole seconds, whole
    // days): a remainder tells, far faster than a gcd.
    const uint64_t offset = Offset(sorted[i], sorted[0]);
    if (unit == 0 || offset % unit != 0) unit = std::gcd(unit, offset);
  }
  if (unit == 0) unit = 1;  // every key is the first
  for (size_t b = 0; b < n; b += kBlock) {
    const size_t last = std::min(n, b + kBlock) - 1;
    if (Offset(sorted[last], sorted[b]) / unit > UINT32_MAX) {
      wide_ = sorted;
      return;
    }
  }
  unit_ = unit;
  bases_.reserve((n + kBlock - 1) / kBlock);
  narrow_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (i % kBlock == 0) bases_.push_back(sorted[i]);
    narrow_.push_back(
        static_cast<uint32_t>(Offset(sorted[i], bases_.back()) / unit));
  }
}

// Every block's keys are at least its base, so the first key >= x (or > x)
// is in the last block whose base is below x (at most x), or else it is the
// first key of the next block.

size_t IntKeys::LowerBound(int64_t x) const {
  if (form() == Form::kRuns) return runs_.LowerBound(x);
  if (form() == Form::kWide)
    return std::lower_bound(wide_.begin(), wide_.end(), x) - wide_.begin();
  const size_t next =
      std::lower_bound(bases_.begin(), bases_.end(), x) - bases_.begin();
  if (next == 0) return 0;
  const size_t begin = (next - 1) * kBlock;
  const size_t end = std::min(narrow_.size(), next * kBlock);
  // The smallest k with base + unit * k >= x.
  const uint64_t above = Offset(x, bases_[next - 1]);
  const uint64_t k = above / unit_ + (above % unit_ != 0);
  if (k > UINT32_MAX) return end;
  return std::lower_bound(narrow_.begin() + begin, narrow_.begin() + end,
                          static_cast<uint32_t>(k)) -
         narrow_.begin();
}

size_t IntKeys::UpperBound(int64_t x) const {
  if (form() == Form::kRuns) return runs_.UpperBound(x);
  if (form() == Form::kWide)
    return std::upper_bound(wide_.begin(), wide_.end(), x) - wide_.begin();
  const size_t next =
      std::upper_bound(bases_.begin(), bases_.end(), x) - bases_.begin();
  if (next == 0) return 0;
  const size_t begin = (next - 1) * kBlock;
  const size_t end = std::min(narrow_.size(), next * kBlock);
  // The largest k with base + unit * k <= x.
  const uint64_t k = Offset(x, bases_[next - 1]) / unit_;
  if (k >= UINT32_MAX) return end;
  return std::upper_bound(narrow_.begin() + begin, narrow_.begin() + end,
                          static_cast<uint32_t>(k)) -
         narrow_.begin();
}

}  // namespace segd
