// RealKeys: an ascending run of exact numbers, held in 8 bytes a key where
// the keys allow it.
//
// A number column holding any non-integer keeps every key as a long double,
// which holds every int64 and every double exactly (x86-64: a 64-bit
// mantissa), so that mixed integers and doubles compare exactly. When every
// key is a double (scores like 4.5, integers below 2^53), they are kept as
// doubles, which compare with long double bounds just as exactly.
#ifndef SEGD_INDEX_REAL_KEYS_H_
#define SEGD_INDEX_REAL_KEYS_H_

#include <algorithm>
#include <cstddef>
#include <vector>

namespace segd {

class RealKeys {
 public:
  RealKeys() = default;
  // REQUIRES: `sorted` ascends.
  explicit RealKeys(std::vector<long double> sorted) {
    const bool doubles =
        std::all_of(sorted.begin(), sorted.end(), [](long double k) {
          return static_cast<long double>(static_cast<double>(k)) == k;
        });
    if (!doubles) {
      wide_ = std::move(sorted);
      return;
    }
    narrow_.assign(sorted.begin(), sorted.end());
  }

  size_t size() const {
    return narrow_.empty() ? wide_.size() : narrow_.size();
  }
  long double operator[](size_t i) const {
    return narrow_.empty() ? wide_[i] : narrow_[i];
  }
  // The first position whose key is >= x, and > x.
  size_t LowerBound(long double x) const {
    return narrow_.empty() ? Search(wide_, x, std::less<long double>())
                           : Search(narrow_, x, std::less<long double>());
  }
  size_t UpperBound(long double x) const {
    return narrow_.empty() ? Search(wide_, x, std::less_equal<long double>())
                           : Search(narrow_, x, std::less_equal<long double>());
  }

  bool narrow() const { return !narrow_.empty(); }
  size_t MemoryBytes() const {
    return narrow_.capacity() * sizeof(double) +
           wide_.capacity() * sizeof(long double);
  }

 private:
  // The first position whose key k does not have below(k, x).
  template <typename K, typename Below>
  static size_t Search(const std::vector<K>& keys, long double x, Below below) {
    return std::partition_point(
               keys.begin(), keys.end(),
               [&](K k) { return below(static_cast<long double>(k), x); }) -
           keys.begin();
  }

  std::vector<double> narrow_;     // the keys, when all are doubles
  std::vector<long double> wide_;  // the keys, when they are not
};

}  // namespace segd

#endif  // SEGD_INDEX_REAL_KEYS_H_
