#include "base/time.h"

#include <chrono>
#include <cstdio>
#include <limits>

namespace segd {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `n` digits at `pos`; false if any is not a digit.
bool ReadDigits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!IsDigit(s[pos + i])) return false;
    v = v * 10 + (s[pos + i] - '0');
  }
  *out = v;
  return true;
}

bool IsLeapYear(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned DaysInMonth(int64_t year, unsigned month) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30,
                                       31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

// Floor division for negative instants.
int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

}  // namespace

int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  // Shift the year to start in March so the leap day is the last day.
  year -= month <= 2 ? 1 : 0;
  const int64_t era = FloorDiv(year, 400);
  const int64_t year_of_era = year - era * 400;                     // [0, 399]
  const int64_t shifted_month = month > 2 ? month - 3 : month + 9;  // [0, 11]
  const int64_t day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
  const int64_t day_of_era =
      year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

std::optional<int64_t> ParseIsoInstant(std::string_view s) {
  int year, month, day;
  if (s.size() < 10 || !ReadDigits(s, 0, 4, &year) || s[4] != '-' ||
      !ReadDigits(s, 5, 2, &month) || s[7] != '-' ||
      !ReadDigits(s, 8, 2, &day)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 ||
      static_cast<unsigned>(day) > DaysInMonth(year, month)) {
    return std::nullopt;
  }
  int64_t millis = DaysFromCivil(year, month, day) * kMillisPerDay;
  if (s.size() == 10) return millis;
  if (s[10] != 'T') return std::nullopt;

  int hour, minute, second = 0, frac_ms = 0;
  if (!ReadDigits(s, 11, 2, &hour) || s.size() < 16 || s[13] != ':' ||
      !ReadDigits(s, 14, 2, &minute) || hour > 23 || minute > 59) {
    return std::nullopt;
  }
  size_t pos = 16;
  if (pos < s.size() && s[pos] == ':') {
    if (!ReadDigits(s, pos + 1, 2, &second) || second > 59) return std::nullopt;
    pos += 3;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      size_t digits = 0;
      while (pos < s.size() && IsDigit(s[pos])) {
        if (digits < 3) frac_ms = frac_ms * 10 + (s[pos] - '0');
        ++digits;
        ++pos;
      }
      if (digits == 0) return std::nullopt;
      for (size_t d = digits; d < 3; ++d) frac_ms *= 10;
    }
  }
  int64_t offset_minutes = 0;
  if (pos < s.size()) {
    const char zone = s[pos];
    if (zone == 'Z') {
      ++pos;
    } else if (zone == '+' || zone == '-') {
      int oh, om;
      if (!ReadDigits(s, pos + 1, 2, &oh)) return std::nullopt;
      size_t mpos = pos + 3;
      if (mpos < s.size() && s[mpos] == ':') ++mpos;
      if (!ReadDigits(s, mpos, 2, &om) || oh > 23 || om > 59) {
        return std::nullopt;
      }
      pos = mpos + 2;
      offset_minutes = (zone == '+' ? 1 : -1) * (oh * 60 + om);
    } else {
      return std::nullopt;
    }
  }
  if (pos != s.size()) return std::nullopt;
  millis += hour * kMillisPerHour + minute * kMillisPerMinute +
            second * kMillisPerSecond + frac_ms;
  return millis - offset_minutes * kMillisPerMinute;
}

CivilDate CivilFromDays(int64_t days) {
  // Count from 0000-03-01 so that the leap day ends each year.
  const int64_t z = days + 719468;
  const int64_t era = FloorDiv(z, 146097);
  const int64_t day_of_era = z - era * 146097;  // [0, 146096]
  const int64_t year_of_era = (day_of_era - day_of_era / 1460 +
                               day_of_era / 36524 - day_of_era / 146096) /
                              365;
  const int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t mp = (5 * day_of_year + 2) / 153;
  const auto day = static_cast<unsigned>(day_of_year - (153 * mp + 2) / 5 + 1);
  const auto month = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  return {year_of_era + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

std::string FormatIsoInstant(int64_t millis) {
  const int64_t days = FloorDiv(millis, kMillisPerDay);
  int64_t rem = millis - days * kMillisPerDay;
  const CivilDate date = CivilFromDays(days);
  const int64_t year = date.year, month = date.month, day = date.day;

  const int64_t hour = rem / kMillisPerHour;
  rem %= kMillisPerHour;
  const int64_t minute = rem / kMillisPerMinute;
  rem %= kMillisPerMinute;
  const int64_t second = rem / kMillisPerSecond;
  const int64_t ms = rem % kMillisPerSecond;
  char buf[96];
  if (ms != 0) {
    std::snprintf(buf, sizeof(buf),
                  "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
                  static_cast<long long>(year), static_cast<long long>(month),
                  static_cast<long long>(day), static_cast<long long>(hour),
                  static_cast<long long>(minute),
                  static_cast<long long>(second), static_cast<long long>(ms));
  } else {
    std::snprintf(
        buf, sizeof(buf), "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ",
        static_cast<long long>(year), static_cast<long long>(month),
        static_cast<long long>(day), static_cast<long long>(hour),
        static_cast<long long>(minute), static_cast<long long>(second));
  }
  return buf;
}

std::optional<int64_t> ParseDuration(std::string_view s) {
  if (s.size() < 2 || s.size() > 20) return std::nullopt;
  int64_t unit;
  switch (s.back()) {
    case 's':
      unit = kMillisPerSecond;
      break;
    case 'm':
      unit = kMillisPerMinute;
      break;
    case 'h':
      unit = kMillisPerHour;
      break;
    case 'd':
      unit = kMillisPerDay;
      break;
    case 'w':
      unit = 7 * kMillisPerDay;
      break;
    default:
      return std::nullopt;
  }
  int64_t n = 0;
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (!IsDigit(s[i])) return std::nullopt;
    n = n * 10 + (s[i] - '0');
    // Durations past ~292 million years overflow int64 milliseconds.
    if (n > std::numeric_limits<int64_t>::max() / unit / 10)
      return std::nullopt;
  }
  return n * unit;
}

std::optional<int64_t> ParseDateValue(std::string_view s, int64_t now_ms) {
  if (s.substr(0, 3) == "now") {
    if (s.size() == 3) return now_ms;
    const char sign = s[3];
    if (sign != '+' && sign != '-') return std::nullopt;
    auto d = ParseDuration(s.substr(4));
    if (!d) return std::nullopt;
    return sign == '+' ? now_ms + *d : now_ms - *d;
  }
  return ParseIsoInstant(s);
}

int64_t StartOfUtcDay(int64_t millis) {
  return FloorDiv(millis, kMillisPerDay) * kMillisPerDay;
}

int64_t NowMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
      .count();
}

}  // namespace segd
