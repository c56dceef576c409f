#include "index/value.h"

#include <cmath>

namespace segd {
namespace {

// Compares an int64 with a finite double exactly.
int CompareIntDouble(int64_t i, double d) {
  // Every int64 lies in [-2^63, 2^63); doubles outside decide at once.
  if (d >= 9223372036854775808.0) return -1;
  if (d < -9223372036854775808.0) return 1;
  const double truncated = std::trunc(d);
  const int64_t t = static_cast<int64_t>(truncated);  // exact in range
  if (i < t) return -1;
  if (i > t) return 1;
  // Same integer part: the fraction decides.
  if (d > truncated) return -1;
  if (d < truncated) return 1;
  return 0;
}

}  // namespace

int CompareNumbers(const Number& a, const Number& b) {
  if (a.is_int && b.is_int) return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
  if (!a.is_int && !b.is_int) return a.d < b.d ? -1 : (a.d > b.d ? 1 : 0);
  if (a.is_int) return CompareIntDouble(a.i, b.d);
  return -CompareIntDouble(b.i, a.d);
}

}  // namespace segd
