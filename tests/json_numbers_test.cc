#include "base/json_numbers.h"

#include <gtest/gtest.h>

namespace segd {
namespace {

TEST(WidenBigIntegersTest, LeavesWhatSixtyFourBitsHold) {
  EXPECT_EQ(WidenBigIntegers(R"({"a":18446744073709551615})"), std::nullopt);
  EXPECT_EQ(WidenBigIntegers(R"({"a":-9223372036854775808})"), std::nullopt);
  EXPECT_EQ(WidenBigIntegers(R"([0,-1,12.5e300,1E400,-0.0])"), std::nullopt);
}

TEST(WidenBigIntegersTest, MakesLargerIntegersDoubles) {
  EXPECT_EQ(WidenBigIntegers(R"({"a":18446744073709551616})"),
            R"({"a":18446744073709551616.0})");
  EXPECT_EQ(WidenBigIntegers(R"([-9223372036854775809, 1])"),
            R"([-9223372036854775809.0, 1])");
  EXPECT_EQ(WidenBigIntegers("[123456789012345678901234567890]"),
            "[123456789012345678901234567890.0]");
  // One at the very end, and several.
  EXPECT_EQ(WidenBigIntegers("99999999999999999999"), "99999999999999999999.0");
  EXPECT_EQ(WidenBigIntegers("[99999999999999999999,1,-99999999999999999999]"),
            "[99999999999999999999.0,1,-99999999999999999999.0]");
}

TEST(WidenBigIntegersTest, LeavesFractionsExponentsAndStrings) {
  EXPECT_EQ(WidenBigIntegers("[99999999999999999999.5]"), std::nullopt);
  EXPECT_EQ(WidenBigIntegers("[99999999999999999999e2]"), std::nullopt);
  EXPECT_EQ(WidenBigIntegers("[1e99999999999999999999]"), std::nullopt);
  EXPECT_EQ(WidenBigIntegers(R"(["99999999999999999999"])"), std::nullopt);
  EXPECT_EQ(WidenBigIntegers(R"(["a\"99999999999999999999"])"), std::nullopt);
  EXPECT_EQ(WidenBigIntegers(R"({"k\\":99999999999999999999,"s":"\"1\""})"),
            R"({"k\\":99999999999999999999.0,"s":"\"1\""})");
}

TEST(WidenBigIntegersTest, LeavesTextThatIsNoJsonToTheParser) {
  EXPECT_EQ(WidenBigIntegers("[0099999999999999999999]"), std::nullopt);
  EXPECT_EQ(WidenBigIntegers("[-]"), std::nullopt);
  EXPECT_EQ(WidenBigIntegers(R"(["unterminated 99999999999999999999)"),
            std::nullopt);
}

}  // namespace
}  // namespace segd
