#include "base/time.h"

#include <gtest/gtest.h>

namespace segd {
namespace {

TEST(TimeTest, DateOnlyIsMidnightUtc) {
  EXPECT_EQ(ParseIsoInstant("1970-01-01"), 0);
  EXPECT_EQ(ParseIsoInstant("1970-01-02"), kMillisPerDay);
  EXPECT_EQ(ParseIsoInstant("2026-11-19"), 1795046400000);
}

TEST(TimeTest, DateTimeWithZoneOffsetsAndFractions) {
  EXPECT_EQ(ParseIsoInstant("2026-11-19T08:00:00Z"),
            1795046400000 + 8 * kMillisPerHour);
  EXPECT_EQ(ParseIsoInstant("2026-11-19T13:30:00+05:30"),
            1795046400000 + 8 * kMillisPerHour);
  EXPECT_EQ(ParseIsoInstant("2026-11-19T03:00:00-0500"),
            1795046400000 + 8 * kMillisPerHour);
  EXPECT_EQ(ParseIsoInstant("1970-01-01T00:00:00.5Z"), 500);
  EXPECT_EQ(ParseIsoInstant("1970-01-01T00:00:00.123456Z"), 123);
  EXPECT_EQ(ParseIsoInstant("1970-01-01T00:01Z"), kMillisPerMinute);
  EXPECT_EQ(ParseIsoInstant("1970-01-01T00:00:00"), 0);  // no zone: UTC
  EXPECT_EQ(ParseIsoInstant("1969-12-31T23:59:59.500Z"), -500);
}

TEST(TimeTest, RejectsAnythingThatIsNotAWholeDate) {
  for (const char* bad :
       {"", "2026", "2026-13-01", "2026-02-29", "2026-02-30", "2026-11-19x",
        "2026-11-19T", "2026-11-19T24:00:00Z", "2026-11-19T10:60Z",
        "2026-11-19T10:00:00.Z", "2026-11-19T10:00:00+5:30", "19-11-2026",
        "2026/11/19", " 2026-11-19", "2026-11-19T10:00:00Z "}) {
    EXPECT_FALSE(ParseIsoInstant(bad).has_value()) << bad;
  }
  EXPECT_TRUE(ParseIsoInstant("2024-02-29").has_value());
}

TEST(TimeTest, FormatRoundTrips) {
  for (int64_t ms : {int64_t{0}, int64_t{-500}, int64_t{1795046400123},
                     int64_t{-62135596800000}, int64_t{253402300799999}}) {
    EXPECT_EQ(ParseIsoInstant(FormatIsoInstant(ms)), ms)
        << FormatIsoInstant(ms);
  }
  EXPECT_EQ(FormatIsoInstant(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatIsoInstant(1), "1970-01-01T00:00:00.001Z");
}

TEST(TimeTest, DurationsAndRelativeDates) {
  EXPECT_EQ(ParseDuration("48h"), 48 * kMillisPerHour);
  EXPECT_EQ(ParseDuration("7d"), 7 * kMillisPerDay);
  EXPECT_EQ(ParseDuration("2w"), 14 * kMillisPerDay);
  EXPECT_EQ(ParseDuration("0s"), 0);
  EXPECT_FALSE(ParseDuration("7").has_value());
  EXPECT_FALSE(ParseDuration("d").has_value());
  EXPECT_FALSE(ParseDuration("-7d").has_value());
  EXPECT_FALSE(ParseDuration("7y").has_value());
  EXPECT_FALSE(ParseDuration("99999999999999999d").has_value());
  const int64_t now = 1795046400000;
  EXPECT_EQ(ParseDateValue("now", now), now);
  EXPECT_EQ(ParseDateValue("now-7d", now), now - 7 * kMillisPerDay);
  EXPECT_EQ(ParseDateValue("now+48h", now), now + 48 * kMillisPerHour);
  EXPECT_FALSE(ParseDateValue("now-", now).has_value());
  EXPECT_FALSE(ParseDateValue("now*2d", now).has_value());
  EXPECT_EQ(ParseDateValue("2026-11-19", now), 1795046400000);
}

TEST(TimeTest, StartOfUtcDay) {
  EXPECT_EQ(StartOfUtcDay(kMillisPerDay + 5), kMillisPerDay);
  EXPECT_EQ(StartOfUtcDay(-1), -kMillisPerDay);
}

TEST(TimeTest, FormatsEventInstantsWithMilliseconds) {
  EXPECT_EQ(FormatIsoMillis(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatIsoMillis(1763640000123), "2025-11-20T12:00:00.123Z");
  EXPECT_EQ(ParseIsoInstant(FormatIsoMillis(-1)), -1);
}

}  // namespace
}  // namespace segd
