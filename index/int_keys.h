// IntKeys: an ascending run of int64 keys, held in 32 bits a key where the
// keys allow it.
//
// Keys are stored as base + unit * k with k < 2^32 when every key fits that
// form: dates at whole seconds or days over a century, small counts and
// scores. Otherwise they stay 64-bit. Searches take int64 bounds either way.
#ifndef SEGD_INDEX_INT_KEYS_H_
#define SEGD_INDEX_INT_KEYS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace segd {

class IntKeys {
 public:
  IntKeys() = default;
  // REQUIRES: `sorted` ascends.
  explicit IntKeys(const std::vector<int64_t>& sorted);

  size_t size() const {
    return narrow_.empty() ? wide_.size() : narrow_.size();
  }
  int64_t operator[](size_t i) const {
    // In unsigned arithmetic: the offset may exceed INT64_MAX.
    return narrow_.empty() ? wide_[i]
                           : static_cast<int64_t>(static_cast<uint64_t>(base_) +
                                                  unit_ * narrow_[i]);
  }
  // The first position whose key is >= x, and > x.
  size_t LowerBound(int64_t x) const;
  size_t UpperBound(int64_t x) const;

  bool narrow() const { return !narrow_.empty(); }
  size_t MemoryBytes() const {
    return narrow_.capacity() * sizeof(uint32_t) +
           wide_.capacity() * sizeof(int64_t);
  }

 private:
  int64_t base_ = 0;
  uint64_t unit_ = 1;
  std::vector<uint32_t> narrow_;  // k, when the keys fit
  std::vector<int64_t> wide_;     // the keys, when they do not
};

}  // namespace segd

#endif  // SEGD_INDEX_INT_KEYS_H_
