#include "base/exact_divisor.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

namespace segd {
namespace {

// Against % and /: divisors of one, powers of two up to 2^63, odd ones,
// odd ones times powers of two (a second and a day in milliseconds) and the
// largest, each over multiples up to the top of the range and numbers next
// to them.
TEST(ExactDivisorTest, AgreesWithTheRemainderAndTheQuotient) {
  std::vector<uint64_t> divisors = {1,
                                    2,
                                    3,
                                    7,
                                    1000,
                                    86'400'000,
                                    uint64_t{1} << 63,
                                    (uint64_t{1} << 63) + 1,
                                    UINT64_MAX,
                                    UINT64_MAX - 1};
  std::mt19937_64 rng(41);
  for (int i = 0; i < 200; ++i) {
    divisors.push_back((rng() >> (rng() % 64)) | 1);
    divisors.push_back(((rng() >> (rng() % 64)) | 1) << (rng() % 20));
  }
  for (const uint64_t d : divisors) {
    const ExactDivisor by(d);
    const uint64_t top = UINT64_MAX / d;
    std::vector<uint64_t> quotients = {0, 1, 2, top, top - 1};
    for (int i = 0; i < 50; ++i) {
      quotients.push_back(top == UINT64_MAX ? rng() : rng() % (top + 1));
    }
    for (const uint64_t q : quotients) {
      if (q > top) continue;  // 2, for the divisors past 2^63
      const uint64_t x = q * d;
      ASSERT_TRUE(by.Divides(x)) << x << " by " << d;
      EXPECT_EQ(by.Divide(x), q) << x << " by " << d;
      for (const uint64_t near : {x - 1, x + 1, x + d / 2}) {
        EXPECT_EQ(by.Divides(near), near % d == 0) << near << " by " << d;
      }
    }
  }
}

}  // namespace
}  // namespace segd
