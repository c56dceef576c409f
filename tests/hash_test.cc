#include "base/hash.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

namespace segd {
namespace {

// Strings a byte or a length apart hash apart: trailing zero bytes, every
// length from 0 to 40, and one byte flipped at every position.
TEST(HashTest, NearbyStringsHashApart) {
  std::vector<std::string> inputs;
  for (size_t n = 0; n <= 40; ++n) {
    const std::string base(n, 'x');
    inputs.push_back(base);
    inputs.push_back(std::string(n, '\0'));
    for (size_t i = 0; i < n; ++i) {
      for (char c : {'y', '\0', '\x80'}) {
        std::string s = base;
        s[i] = c;
        inputs.push_back(s);
      }
    }
  }
  std::set<std::string> distinct(inputs.begin(), inputs.end());
  std::set<uint64_t> hashes;
  for (const std::string& s : distinct) hashes.insert(HashBytes(s));
  EXPECT_EQ(hashes.size(), distinct.size());
  EXPECT_NE(HashBytes("a"), HashBytes(std::string_view("a\0", 2)));
  EXPECT_NE(HashBytes("ab", 1), HashBytes("ab", 2));  // seeds count
}

// Open addressing masks the low bits (the store's tables) or the high 32
// bits (the dictionaries): ids that differ only in their last digits must
// spread evenly over both. 65536 sequential ids into 4096 buckets average
// 16 per bucket; a poor mix piles them into a few.
TEST(HashTest, SequentialIdsSpreadOverLowAndHighBits) {
  constexpr size_t kIds = 65536, kBuckets = 4096;
  std::vector<int> low(kBuckets), high(kBuckets);
  char id[32];
  for (size_t i = 0; i < kIds; ++i) {
    std::snprintf(id, sizeof(id), "c-%08zu", i);
    const uint64_t h = HashBytes(id);
    ++low[h % kBuckets];
    ++high[(h >> 32) % kBuckets];
  }
  for (size_t b = 0; b < kBuckets; ++b) {
    // For a uniform spread, a bucket beyond 40 has odds below 1 in 10^6.
    ASSERT_LE(low[b], 40) << "low bits, bucket " << b;
    ASSERT_LE(high[b], 40) << "high bits, bucket " << b;
  }
}

}  // namespace
}  // namespace segd
