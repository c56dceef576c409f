// Instants, ISO-8601 text and durations.
//
// An instant is milliseconds since 1970-01-01T00:00:00Z (int64). Accepted
// text (SPEC §1): a whole date `YYYY-MM-DD` (midnight UTC) or a date-time
// `YYYY-MM-DDTHH:MM[:SS[.fraction]][Z|±HH:MM|±HHMM]`; a date-time without a
// zone is read as UTC. Fractions beyond milliseconds are truncated. Years run
// from 0000 to 9999; every field is range-checked (2026-02-30 is not a date).
#ifndef SEGD_BASE_TIME_H_
#define SEGD_BASE_TIME_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace segd {

inline constexpr int64_t kMillisPerSecond = 1000;
inline constexpr int64_t kMillisPerMinute = 60 * kMillisPerSecond;
inline constexpr int64_t kMillisPerHour = 60 * kMillisPerMinute;
inline constexpr int64_t kMillisPerDay = 24 * kMillisPerHour;

// Days since 1970-01-01 of a proleptic Gregorian civil date.
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);

struct CivilDate {
  int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

// The civil date `days` after 1970-01-01 (the inverse of DaysFromCivil).
CivilDate CivilFromDays(int64_t days);

namespace time_internal {
std::optional<int64_t> ParseDateShaped(std::string_view text);
}  // namespace time_internal

// Parses a whole ISO-8601 date or date-time; nullopt if `text` is anything
// else (including trailing bytes or out-of-range fields). Most strings
// handed to it are not dates: those not shaped like YYYY-MM-DD are turned
// away inline, before the call.
inline std::optional<int64_t> ParseIsoInstant(std::string_view text) {
  if (text.size() < 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  return time_internal::ParseDateShaped(text);
}

// Formats as `YYYY-MM-DDTHH:MM:SS[.mmm]Z` (milliseconds only when non-zero).
std::string FormatIsoInstant(int64_t millis);
// Formats as `YYYY-MM-DDTHH:MM:SS.mmmZ`, milliseconds always (an event's
// `at`, SPEC §5).
std::string FormatIsoMillis(int64_t millis);

// The layout of an ISO-8601 text, as a small code: the clock part (none,
// HH:MM, HH:MM:SS or HH:MM:SS.mmm), the zone (none, Z, or an offset with or
// without a colon) and the offset. With the instant it rebuilds the text
// byte for byte, so a stored profile keeps a code and an instant instead of
// the text.
inline constexpr size_t kMaxIsoText = 48;  // room for any layout and year

// The layout code of `text`, which ParseIsoInstant read as `millis`, when
// FormatIsoLayout(millis, code) rebuilds `text` exactly; nullopt for the
// forms it cannot (a fraction of other than 3 digits, say).
std::optional<uint32_t> IsoLayoutOf(std::string_view text, int64_t millis);

// Writes `millis` in the layout `code` (from IsoLayoutOf) to `out`, which
// has room for kMaxIsoText bytes; returns the length.
size_t FormatIsoLayout(int64_t millis, uint32_t code, char* out);

// The unit the instant of a layout is a whole multiple of: a day, a minute,
// a second or a millisecond.
int64_t IsoLayoutUnit(uint32_t code);

// Parses a duration `<digits><unit>` with unit s, m, h, d or w.
std::optional<int64_t> ParseDuration(std::string_view text);

// Parses an absolute instant or a relative one: `now`, `now-7d`, `now+48h`.
std::optional<int64_t> ParseDateValue(std::string_view text, int64_t now_ms);

// The first millisecond of the UTC day holding `millis`.
int64_t StartOfUtcDay(int64_t millis);

// The wall clock, in milliseconds since the epoch.
int64_t NowMillis();

}  // namespace segd

#endif  // SEGD_BASE_TIME_H_
