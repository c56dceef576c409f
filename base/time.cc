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

namespace time_internal {

// ParseIsoInstant past its inline test of the shape.
std::optional<int64_t> ParseDateShaped(std::string_view s) {
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

}  // namespace time_internal

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

namespace {

// Layout codes: bits 0-1 the clock, bits 2-4 the zone, the rest the offset
// in minutes (0 to 23:59).
enum Clock : uint32_t { kDateOnly, kMinutes, kSeconds, kMillis };
enum Zone : uint32_t { kNoZone, kZulu, kPlusColon, kMinusColon, kPlus, kMinus };

uint32_t LayoutCode(Clock clock, Zone zone, uint32_t offset_minutes) {
  return clock | zone << 2 | offset_minutes << 5;
}

char* Put2(char* p, int64_t v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
  return p + 2;
}

// Years 0 to 9999 as four digits; others as printf's %04lld would.
char* PutYear(char* p, int64_t year) {
  if (year >= 0 && year <= 9999) {
    p = Put2(p, year / 100);
    return Put2(p, year % 100);
  }
  return p + std::snprintf(p, 24, "%04lld", static_cast<long long>(year));
}

}  // namespace

int64_t IsoLayoutUnit(uint32_t code) {
  static constexpr int64_t kUnits[] = {kMillisPerDay, kMillisPerMinute,
                                       kMillisPerSecond, 1};
  return kUnits[code & 3];
}

size_t FormatIsoLayout(int64_t millis, uint32_t code, char* out) {
  const auto clock = static_cast<Clock>(code & 3);
  const auto zone = static_cast<Zone>((code >> 2) & 7);
  const int64_t offset = code >> 5;
  const bool ahead = zone == kPlusColon || zone == kPlus;
  const int64_t local = millis + (ahead ? offset : -offset) * kMillisPerMinute;
  const int64_t days = FloorDiv(local, kMillisPerDay);
  int64_t rem = local - days * kMillisPerDay;
  const CivilDate date = CivilFromDays(days);
  char* p = PutYear(out, date.year);
  *p++ = '-';
  p = Put2(p, date.month);
  *p++ = '-';
  p = Put2(p, date.day);
  if (clock == kDateOnly) return static_cast<size_t>(p - out);
  *p++ = 'T';
  p = Put2(p, rem / kMillisPerHour);
  rem %= kMillisPerHour;
  *p++ = ':';
  p = Put2(p, rem / kMillisPerMinute);
  rem %= kMillisPerMinute;
  if (clock >= kSeconds) {
    *p++ = ':';
    p = Put2(p, rem / kMillisPerSecond);
  }
  if (clock == kMillis) {
    const int64_t ms = rem % kMillisPerSecond;
    *p++ = '.';
    *p++ = static_cast<char>('0' + ms / 100);
    p = Put2(p, ms % 100);
  }
  switch (zone) {
    case kNoZone:
      break;
    case kZulu:
      *p++ = 'Z';
      break;
    default:
      *p++ = ahead ? '+' : '-';
      p = Put2(p, offset / 60);
      if (zone == kPlusColon || zone == kMinusColon) *p++ = ':';
      p = Put2(p, offset % 60);
  }
  return static_cast<size_t>(p - out);
}

std::optional<uint32_t> IsoLayoutOf(std::string_view text, int64_t millis) {
  // `text` parsed, so its fields sit where ParseIsoInstant found them.
  Clock clock = kDateOnly;
  size_t pos = 10;
  if (text.size() > 10) {
    clock = kMinutes;
    pos = 16;
    if (pos < text.size() && text[pos] == ':') {
      clock = kSeconds;
      pos = 19;
      if (pos < text.size() && text[pos] == '.') {
        if (text.size() < 23 || !IsDigit(text[22]) ||
            (text.size() > 23 && IsDigit(text[23]))) {
          return std::nullopt;  // not exactly 3 digits of fraction
        }
        clock = kMillis;
        pos = 23;
      }
    }
  }
  Zone zone = kNoZone;
  int hours = 0, minutes = 0;
  if (pos < text.size()) {
    const char c = text[pos];
    if (c == 'Z') {
      zone = kZulu;
    } else {
      const bool colon = pos + 3 < text.size() && text[pos + 3] == ':';
      zone = c == '+' ? (colon ? kPlusColon : kPlus)
                      : (colon ? kMinusColon : kMinus);
      if (!ReadDigits(text, pos + 1, 2, &hours) ||
          !ReadDigits(text, pos + (colon ? 4 : 3), 2, &minutes)) {
        return std::nullopt;
      }
    }
  }
  const uint32_t code =
      LayoutCode(clock, zone, static_cast<uint32_t>(hours * 60 + minutes));
  if (millis % IsoLayoutUnit(code) != 0) return std::nullopt;
  char buf[kMaxIsoText];
  const size_t n = FormatIsoLayout(millis, code, buf);
  if (std::string_view(buf, n) != text) return std::nullopt;
  return code;
}

std::string FormatIsoInstant(int64_t millis) {
  const Clock clock = millis % kMillisPerSecond != 0 ? kMillis : kSeconds;
  char buf[kMaxIsoText];
  return std::string(buf,
                     FormatIsoLayout(millis, LayoutCode(clock, kZulu, 0), buf));
}

std::string FormatIsoMillis(int64_t millis) {
  char buf[kMaxIsoText];
  return std::string(
      buf, FormatIsoLayout(millis, LayoutCode(kMillis, kZulu, 0), buf));
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
