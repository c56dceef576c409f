// ExactDivisor: division by a fixed divisor of the numbers known to be its
// multiples, and the test of whether a number is one, each a shift and a
// multiply instead of a 64-bit divide.
//
// With divisor = odd << shift, a multiple of `odd` times odd's inverse mod
// 2^64 is the quotient, and no other number's product is as small as
// (2^64 - 1) / odd (Granlund and Montgomery, "Division by invariant
// integers using multiplication", 1994, section 9).
#ifndef SEGD_BASE_EXACT_DIVISOR_H_
#define SEGD_BASE_EXACT_DIVISOR_H_

#include <bit>
#include <cstdint>

namespace segd {

class ExactDivisor {
 public:
  // REQUIRES: divisor > 0.
  explicit ExactDivisor(uint64_t divisor) : shift_(std::countr_zero(divisor)) {
    const uint64_t odd = divisor >> shift_;
    low_bits_ = (uint64_t{1} << shift_) - 1;
    limit_ = UINT64_MAX / odd;
    // odd * odd == 1 mod 8; each Newton step doubles the bits that hold.
    inverse_ = odd;
    for (int i = 0; i < 5; ++i) inverse_ *= 2 - odd * inverse_;
  }

  // Whether x is a multiple of the divisor (0 is).
  bool Divides(uint64_t x) const {
    return (x & low_bits_) == 0 && (x >> shift_) * inverse_ <= limit_;
  }
  // x / divisor. REQUIRES: Divides(x).
  uint64_t Divide(uint64_t x) const { return (x >> shift_) * inverse_; }

 private:
  int shift_;
  uint64_t low_bits_;
  uint64_t inverse_;
  uint64_t limit_;
};

}  // namespace segd

#endif  // SEGD_BASE_EXACT_DIVISOR_H_
