// Random profiles and rules for the differential test; see random_data.h.
// The value pools below are shared by the data and the rule vocabulary, so
// rules name values the data really holds.
#include "tests/reference/random_data.h"

#include <cstdio>
#include <string_view>

#include "base/json_writer.h"

namespace segd::reference {
namespace {

constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kNow = kRandomDataNowMs;

using Texts = std::span<const std::string_view>;

// ------------------------------------------------------------ Value pools

constexpr std::string_view kCities[] = {
    "Pune",      "pune",   "PUNE",   "Mumbai", "mumbai",    "MUMBAI",
    "Nagpur",    "nagpur", "Zürich", "zürich", "ZÜRICH",    "São Paulo",
    "são paulo", "",       "Pune ",  " Pune",  "New Delhi", "new delhi"};
constexpr std::string_view kCountries[] = {"IN", "in", "In", "US",
                                           "DE", "BR", "CH"};
constexpr std::string_view kGenders[] = {"female", "Female", "male", "MALE",
                                         "other"};
constexpr std::string_view kLifecycles[] = {"active", "Active", "churned",
                                            "new", "dormant"};
constexpr std::string_view kChannels[] = {
    "whatsapp", "WhatsApp", "WHATSAPP", "web", "instagram", "email", "widget"};
constexpr std::string_view kLocales[] = {"mr-IN", "en-IN", "hi-IN", "de-CH",
                                         "pt-BR", "en-US", "EN-us"};
constexpr std::string_view kZips[] = {"411001", "400001",    "440001",
                                      "8001",   "01000-000", "411001 "};
constexpr std::string_view kTags[] = {
    "vip", "VIP",        "Vip",        "source-website", "Source-Website",
    "new", "churn-risk", "zürich-fan", "Zürich-Fan",     "",
    "vip "};
constexpr std::string_view kInterests[] = {"cricket", "Cricket", "music",
                                           "travel",  "food",    "MUSIC"};
constexpr std::string_view kExplicitCustomerTypes[] = {
    "guest", "lead", "customer", "Lead", "CUSTOMER"};
constexpr std::string_view kFirstNames[] = {
    "Asha",   "Rahul", "Priya", "Amit", "Sneha", "Vikram",
    "Anjali", "Rohan", "Jörg",  "Zoë",  "Léa",   "Mohammed"};
constexpr std::string_view kLastNames[] = {
    "Patil",  "Sharma", "Deshmukh", "Kulkarni", "Iyer",
    "Müller", "Silva",  "Khan",     "Nair",     "Joshi"};
// Strings that look like dates but are not (SPEC §1 range checks, 'T' and
// 'Z' exactly, a zone needs minutes), so the attribute stays a string.
constexpr std::string_view kPromoCodes[] = {"2026-02-30",
                                            "2026-13-01",
                                            "2026-11-19T24:00:00Z",
                                            "2026-11-19 08:00:00",
                                            "2026-11-19T08:00:00z",
                                            "2026-11-19t08:00:00Z",
                                            "2026-11-19Z",
                                            "20261119",
                                            "2026-11-19T08",
                                            "2026-11-19T08:00:60Z",
                                            "2026-11-19T08:00:00.Z",
                                            "2026-11-19T08:00:00,5Z",
                                            "2026-11-19T08:00:00+05",
                                            "2026-11-19T08:00+05:60",
                                            "2026-11-19T08:00+24:00",
                                            "1900-02-29",
                                            "2100-02-29",
                                            "2026-1-1",
                                            "10000-01-01",
                                            "SUMMER26"};

// Number literals, written exactly like this into the data.
constexpr std::string_view kOrders[] = {"0",
                                        "1",
                                        "2",
                                        "3",
                                        "5",
                                        "8",
                                        "13",
                                        "-1",
                                        "0.5",
                                        "1.0",
                                        "100",
                                        "1e3",
                                        "9007199254740993"};
constexpr std::string_view kCsat[] = {
    "4.5",  "3",    "3.0", "0",
    "-0.0", "-0.5", "0.1", "0.30000000000000004",
    "5",    "1e-7", "2.5", "4.499999999999999"};
constexpr std::string_view kWebSessions[] = {"0",
                                             "1",
                                             "12",
                                             "12.0",
                                             "-3",
                                             "42",
                                             "9223372036854775807",
                                             "-9223372036854775808",
                                             "1.7976931348623157e308",
                                             "7",
                                             "100"};
constexpr std::string_view kLatitudes[] = {"18.5204", "19.076", "-33.8688", "0",
                                           "47.3769"};
constexpr std::string_view kLongitudes[] = {"73.8567", "72.8777", "151.2093",
                                            "0", "8.5417"};
// Arrays that fit no kind.
constexpr std::string_view kScores[] = {"[1, 2, 3]",    "[0.5]",  "[1, \"a\"]",
                                        "[{\"k\": 1}]", "[null]", "[[1]]"};

// Dates as written, in every accepted form, including negative instants and
// the extreme years.
constexpr std::string_view kFirstSeen[] = {"2026-01-03T10:00:00Z",
                                           "2024-02-29T23:59:59.999+05:30",
                                           "2025-06-15T08:00+0530",
                                           "2025-06-15T08:00",
                                           "1999-12-31T23:59:59.9999999-12:00",
                                           "2026-11-19",
                                           "2000-02-29T00:00:00Z",
                                           "2026-03-08T02:30:00-05:00",
                                           "2026-11-20T12:00:00Z",
                                           "2026-11-20T17:30:00+05:30",
                                           "1970-01-01T00:00:00Z",
                                           "1969-12-31T23:59:59.999Z",
                                           "0000-01-01T00:00:00Z",
                                           "9999-12-31T23:59:59.999Z"};
constexpr std::string_view kBirthdays[] = {
    "1991-04-12", "2000-02-29", "1985-12-31", "1970-01-01", "1969-12-31",
    "0000-02-29", "9999-12-31", "2004-06-01", "1991-04-13", "2010-10-10"};

constexpr std::string_view kEventNames[] = {"order",
                                            "Order",
                                            "ORDER",
                                            "visited_pricing_page",
                                            "Visited_Pricing_Page",
                                            "cart_abandoned",
                                            "CART_ABANDONED",
                                            "replied_whatsapp",
                                            "zahlung_über"};

// Offsets from now that rules are likely to use as window edges.
constexpr int64_t kInterestingOffsets[] = {0,
                                           1,
                                           -1,
                                           -7 * kDay,
                                           -7 * kDay + 1,
                                           -7 * kDay - 1,
                                           -48 * kHour,
                                           -48 * kHour + 1,
                                           -48 * kHour - 1,
                                           -kDay,
                                           -30 * kMinute,
                                           -15 * kDay,
                                           -30 * kDay,
                                           kDay,
                                           -8 * kDay,
                                           -12 * kHour,
                                           -12 * kHour - 1,
                                           -36 * kHour,
                                           12 * kHour - 1,
                                           12 * kHour,
                                           -14 * kDay};

struct ZoneOffset {
  int64_t millis;
  std::string_view colon;    // ±HH:MM
  std::string_view compact;  // ±HHMM
};

constexpr ZoneOffset kZones[] = {{330 * kMinute, "+05:30", "+0530"},
                                 {-480 * kMinute, "-08:00", "-0800"},
                                 {0, "+00:00", "+0000"},
                                 {840 * kMinute, "+14:00", "+1400"},
                                 {-720 * kMinute, "-12:00", "-1200"},
                                 {585 * kMinute, "+09:45", "+0945"}};

// ------------------------------------------------------- Formatting dates

int64_t FloorDiv(int64_t a, int64_t b) {
  const int64_t quotient = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient;
}

struct CivilTime {
  int64_t year = 1970;
  int64_t month = 1, day = 1, hour = 0, minute = 0, second = 0, millis = 0;
};

// The UTC calendar fields of an instant (H. Hinnant's civil_from_days).
CivilTime ToCivil(int64_t instant) {
  const int64_t days = FloorDiv(instant, kDay);
  const int64_t in_day = instant - days * kDay;
  const int64_t z = days + 719468;
  const int64_t era = FloorDiv(z, 146097);
  const int64_t day_of_era = z - era * 146097;
  const int64_t year_of_era = (day_of_era - day_of_era / 1460 +
                               day_of_era / 36524 - day_of_era / 146096) /
                              365;
  const int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t shifted_month = (5 * day_of_year + 2) / 153;
  CivilTime t;
  t.day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
  t.month = shifted_month < 10 ? shifted_month + 3 : shifted_month - 9;
  t.year = year_of_era + era * 400 + (t.month <= 2 ? 1 : 0);
  t.hour = in_day / kHour;
  t.minute = in_day % kHour / kMinute;
  t.second = in_day % kMinute / kSecond;
  t.millis = in_day % kSecond;
  return t;
}

std::string FormatDate(const CivilTime& t) {
  char text[16];
  std::snprintf(text, sizeof(text), "%04lld-%02lld-%02lld",
                static_cast<long long>(t.year), static_cast<long long>(t.month),
                static_cast<long long>(t.day));
  return text;
}

enum class Precision { kMinutes, kSeconds, kMillis };

// `YYYY-MM-DDTHH:MM[:SS[.mmm]]` of `t`, then `zone`.
std::string FormatDateTime(const CivilTime& t, Precision precision,
                           std::string_view zone) {
  char text[32];
  std::snprintf(text, sizeof(text), "T%02lld:%02lld",
                static_cast<long long>(t.hour),
                static_cast<long long>(t.minute));
  std::string out = FormatDate(t) + text;
  if (precision != Precision::kMinutes) {
    std::snprintf(text, sizeof(text), ":%02lld",
                  static_cast<long long>(t.second));
    out += text;
  }
  if (precision == Precision::kMillis) {
    std::snprintf(text, sizeof(text), ".%03lld",
                  static_cast<long long>(t.millis));
    out += text;
  }
  return out + std::string(zone);
}

// The shortest precision that loses nothing.
Precision PrecisionFor(int64_t instant) {
  if (instant % kSecond != 0) return Precision::kMillis;
  if (instant % kMinute != 0) return Precision::kSeconds;
  return Precision::kMinutes;
}

enum class TimeStyle {
  kMillisUtc,      // 2026-11-20T12:00:00.000Z
  kShortUtc,       // 2026-11-20T12:00Z (seconds and millis only if needed)
  kNoZone,         // 2026-11-20T12:00:00.000
  kOffset,         // 2026-11-20T17:30:00.000+05:30
  kCompactOffset,  // 2026-11-20T17:30-0800
  kLongFraction,   // 2026-11-20T12:00:00.000123Z (truncated on read)
  kDateOnly,       // 2026-11-20, only for midnight UTC
};

constexpr TimeStyle kTimeStyles[] = {
    TimeStyle::kMillisUtc, TimeStyle::kShortUtc,      TimeStyle::kNoZone,
    TimeStyle::kOffset,    TimeStyle::kCompactOffset, TimeStyle::kLongFraction,
    TimeStyle::kDateOnly};

std::string FormatInstant(int64_t instant, TimeStyle style, Rng& rng) {
  const ZoneOffset& zone = rng.Pick(std::span<const ZoneOffset>(kZones));
  switch (style) {
    case TimeStyle::kMillisUtc:
      return FormatDateTime(ToCivil(instant), Precision::kMillis, "Z");
    case TimeStyle::kShortUtc:
      return FormatDateTime(ToCivil(instant), PrecisionFor(instant), "Z");
    case TimeStyle::kNoZone:
      return FormatDateTime(ToCivil(instant), Precision::kMillis, "");
    case TimeStyle::kOffset:
      return FormatDateTime(ToCivil(instant + zone.millis), Precision::kMillis,
                            zone.colon);
    case TimeStyle::kCompactOffset:
      return FormatDateTime(ToCivil(instant + zone.millis),
                            PrecisionFor(instant), zone.compact);
    case TimeStyle::kLongFraction: {
      std::string extra = std::to_string(1 + rng.Below(999));
      return FormatDateTime(ToCivil(instant), Precision::kMillis, "") + extra +
             "Z";
    }
    case TimeStyle::kDateOnly:
      if (instant % kDay == 0) return FormatDate(ToCivil(instant));
      return FormatDateTime(ToCivil(instant), Precision::kMillis, "Z");
  }
  return "";
}

// An instant near now: a window edge or a random moment in the last 40 days.
int64_t InstantNearNow(Rng& rng) {
  if (rng.Percent(50)) {
    return kNow + rng.Pick(std::span<const int64_t>(kInterestingOffsets));
  }
  const int64_t seconds = static_cast<int64_t>(rng.Below(42 * 86400));
  const int64_t millis = rng.Percent(30) ? rng.Below(1000) : 0;
  return kNow - 40 * kDay + seconds * kSecond + millis;
}

std::string RandomTimeText(Rng& rng) {
  return FormatInstant(InstantNearNow(rng),
                       rng.Pick(std::span<const TimeStyle>(kTimeStyles)), rng);
}

// A date-only day between 20 days ago and tomorrow.
std::string RecentDay(Rng& rng) {
  const int64_t day =
      FloorDiv(kNow, kDay) - 20 + static_cast<int64_t>(rng.Below(22));
  return FormatDate(ToCivil(day * kDay));
}

// ------------------------------------------------------------ People

uint64_t Mix(uint64_t x) { return Rng(x).Next(); }

std::string LowerAscii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view FirstName(size_t person) {
  return kFirstNames[person % std::size(kFirstNames)];
}
std::string_view LastName(size_t person) {
  return kLastNames[person / std::size(kFirstNames) % std::size(kLastNames)];
}

std::string PersonName(size_t person) {
  return std::string(FirstName(person)) + " " + std::string(LastName(person));
}

std::string Email(size_t person) {
  const std::string number = std::to_string(person);
  switch (person % 3) {
    case 0:
      return LowerAscii(FirstName(person)) + "." +
             LowerAscii(LastName(person)) + number + "@example.com";
    case 1:
      return std::string(FirstName(person)) + "." +
             std::string(LastName(person)) + number + "@Example.COM";
    default:
      return LowerAscii(FirstName(person)) + number + "@mail.test";
  }
}

std::string Phone(size_t person) {
  return "+91" + std::to_string(9000000000ULL + Mix(person) % 1000000000ULL);
}

// Mostly "c-000123"; some ids differ only in case, some are non-ASCII, and
// one is exactly 256 bytes.
std::string IdOf(size_t person) {
  char digits[16];
  std::snprintf(digits, sizeof(digits), "%06zu", person);
  if (person == 4) return std::string(250, 'x') + digits;
  if (person % 41 == 3) return std::string("C-") + digits;
  if (person % 53 == 11) return std::string("ü-") + digits;
  return std::string("c-") + digits;
}

// ------------------------------------------------------- Profile records

class ProfileGenerator {
 public:
  ProfileGenerator(uint64_t seed, size_t records)
      : rng_(seed), records_(records) {}

  std::string Generate();

 private:
  std::string GoodRecord(size_t person, bool complete);
  std::string BadRecord(size_t line);
  void WriteAttributes(size_t person, bool complete);
  void WriteNestedAddress(bool complete);
  void WriteIdentities(size_t person);
  void WriteEvents();
  std::string InstagramHandle();

  // Writes `key` with a value from `write_value`, with probability
  // `percent` (always when `complete`); 5% of those are null instead.
  template <typename WriteValue>
  void MaybeWrite(std::string_view key, uint64_t percent, bool complete,
                  WriteValue write_value) {
    if (!complete && !rng_.Percent(percent)) return;
    out_.Key(key);
    if (!complete && rng_.Percent(5)) {
      out_.Null();
    } else {
      write_value();
    }
  }
  void StringFrom(Texts pool) { out_.String(rng_.Pick(pool)); }
  void RawFrom(Texts pool) { out_.Raw(rng_.Pick(pool)); }
  void StringArrayFrom(Texts pool, bool non_empty);

  Rng rng_;
  const size_t records_;
  JsonWriter out_;
  std::vector<size_t> people_;  // people with a record so far
};

std::string ProfileGenerator::Generate() {
  std::string ndjson;
  for (size_t line = 0; line < records_; ++line) {
    std::string text;
    const uint64_t roll = rng_.Below(100);
    if (line < 3) {
      text = GoodRecord(line, /*complete=*/true);
    } else if (roll < 3) {
      text = BadRecord(line);
    } else if (roll < 8) {
      text = GoodRecord(rng_.Pick(people_), /*complete=*/false);  // replace
    } else {
      text = GoodRecord(line, /*complete=*/false);
    }
    if (rng_.Percent(1)) text += "\r";  // CRLF line ends are JSON whitespace
    ndjson += text;
    ndjson += '\n';
  }
  return ndjson;
}

std::string ProfileGenerator::GoodRecord(size_t person, bool complete) {
  people_.push_back(person);
  out_.Clear();
  out_.BeginObject();
  const bool id_last = !complete && rng_.Percent(10);
  if (!id_last) {
    out_.Key("id");
    out_.String(IdOf(person));
  }
  WriteAttributes(person, complete);
  if (complete || rng_.Percent(50)) WriteIdentities(person);
  if (complete || rng_.Percent(60)) WriteEvents();
  if (id_last) {
    out_.Key("id");
    out_.String(IdOf(person));
  }
  out_.EndObject();
  return out_.str();
}

void ProfileGenerator::StringArrayFrom(Texts pool, bool non_empty) {
  out_.BeginArray();
  const uint64_t size = non_empty ? 1 + rng_.Below(4) : rng_.Below(5);
  for (uint64_t i = 0; i < size; ++i) out_.String(rng_.Pick(pool));
  out_.EndArray();
}

void ProfileGenerator::WriteAttributes(size_t person, bool complete) {
  MaybeWrite("name", 90, complete, [&] { out_.String(PersonName(person)); });
  MaybeWrite("email", 60, complete, [&] { out_.String(Email(person)); });
  MaybeWrite("phone", 50, complete, [&] { out_.String(Phone(person)); });
  MaybeWrite("city", 80, complete, [&] { StringFrom(kCities); });
  MaybeWrite("country", 60, complete, [&] { StringFrom(kCountries); });
  MaybeWrite("gender", 50, complete, [&] { StringFrom(kGenders); });
  MaybeWrite("lifecycle", 40, complete, [&] { StringFrom(kLifecycles); });
  MaybeWrite("channel", 50, complete, [&] { StringFrom(kChannels); });
  MaybeWrite("locale", 30, complete, [&] { StringFrom(kLocales); });
  MaybeWrite("promo_code", 25, complete, [&] { StringFrom(kPromoCodes); });
  MaybeWrite("customer_id", 30, complete,
             [&] { out_.String("shop-" + std::to_string(rng_.Below(1000))); });
  MaybeWrite("orders", 60, complete, [&] { RawFrom(kOrders); });
  MaybeWrite("csat", 40, complete, [&] { RawFrom(kCsat); });
  MaybeWrite("web_sessions", 50, complete, [&] {
    if (rng_.Percent(50)) {
      out_.Int(static_cast<int64_t>(rng_.Below(51)));
    } else {
      RawFrom(kWebSessions);
    }
  });
  MaybeWrite("birthday", 40, complete, [&] { StringFrom(kBirthdays); });
  MaybeWrite("first_seen", 50, complete, [&] { StringFrom(kFirstSeen); });
  MaybeWrite("last_seen", 70, complete,
             [&] { out_.String(RandomTimeText(rng_)); });
  MaybeWrite("signed_up", 50, complete, [&] { out_.String(RecentDay(rng_)); });
  MaybeWrite("trial_user", 40, complete, [&] { out_.Bool(rng_.Percent(50)); });
  MaybeWrite("opted_in", 30, complete, [&] { out_.Bool(rng_.Percent(70)); });
  MaybeWrite("tags", 60, complete, [&] { StringArrayFrom(kTags, complete); });
  MaybeWrite("interests", 30, complete,
             [&] { StringArrayFrom(kInterests, complete); });
  MaybeWrite("scores", 20, complete, [&] { RawFrom(kScores); });
  if (complete || rng_.Percent(50)) WriteNestedAddress(complete);
  if (!complete && rng_.Percent(10)) {
    out_.Key("customer_type");
    out_.String(rng_.Pick(Texts(kExplicitCustomerTypes)));
  }
  if (!complete && rng_.Percent(3)) {  // written twice: the last one wins
    out_.Key("city");
    out_.String(rng_.Pick(Texts(kCities)));
  }
  if (!complete &&
      rng_.Percent(2)) {  // a wrong kind overwritten by a right one
    out_.Key("orders");
    out_.String("five");
    out_.Key("orders");
    out_.Int(2);
  }
}

// address.city, address.zip, address.geo.lat, address.geo.lng; sometimes {}
// (contributes nothing).
void ProfileGenerator::WriteNestedAddress(bool complete) {
  out_.Key("address");
  out_.BeginObject();
  if (complete || !rng_.Percent(10)) {
    MaybeWrite("city", 70, complete, [&] { StringFrom(kCities); });
    MaybeWrite("zip", 70, complete, [&] { StringFrom(kZips); });
    if (complete || rng_.Percent(30)) {
      out_.Key("geo");
      out_.BeginObject();
      MaybeWrite("lat", 90, complete, [&] { RawFrom(kLatitudes); });
      MaybeWrite("lng", 90, complete, [&] { RawFrom(kLongitudes); });
      out_.EndObject();
    }
  }
  out_.EndObject();
}

std::string ProfileGenerator::InstagramHandle() {
  std::string handle = "@";  // appended, not `"@" + ...`: GCC 12 -Wrestrict
  handle += LowerAscii(rng_.Pick(Texts(kFirstNames)));
  handle += std::to_string(rng_.Below(records_ / 4 + 3));
  return handle;
}

// whatsapp and email handles belong to the person (so replacements reclaim
// them); instagram handles come from a small pool, so they collide.
void ProfileGenerator::WriteIdentities(size_t person) {
  out_.Key("identities");
  if (rng_.Percent(5)) {
    out_.Null();
    return;
  }
  out_.BeginObject();
  if (rng_.Percent(80)) {
    out_.Key("whatsapp");
    out_.String(Phone(person));
  }
  if (rng_.Percent(40)) {
    out_.Key("email");
    out_.String(Email(person));
  }
  if (rng_.Percent(8)) {
    out_.Key("instagram");
    out_.String(InstagramHandle());
  }
  if (rng_.Percent(10)) {
    out_.Key("widget");
    out_.Null();
  }
  out_.EndObject();
}

void ProfileGenerator::WriteEvents() {
  out_.Key("events");
  if (rng_.Percent(3)) {
    out_.Null();
    return;
  }
  out_.BeginArray();
  const uint64_t count = rng_.Percent(8) ? 0 : rng_.Below(7);
  for (uint64_t i = 0; i < count; ++i) {
    const std::string name(rng_.Pick(Texts(kEventNames)));
    const std::string at = RandomTimeText(rng_);
    const bool at_first = rng_.Percent(20);
    out_.BeginObject();
    if (at_first) {
      out_.Key("at");
      out_.String(at);
    }
    out_.Key("name");
    out_.String(name);
    if (!at_first) {
      out_.Key("at");
      out_.String(at);
    }
    if (rng_.Percent(10)) {  // extra keys are ignored
      out_.Key("value");
      out_.Int(static_cast<int64_t>(rng_.Below(500)));
    }
    out_.EndObject();
  }
  out_.EndArray();
}

// Lines that must be rejected (or, for an identity claim whose owner has
// since released it, accepted); blank lines are not records at all.
constexpr std::string_view kBadLines[] = {
    R"({"id": "bad-ID", "city": "Pune")",
    R"({"id": "bad-ID",})",
    R"(not json at all)",
    R"([{"id": "bad-ID"}])",
    R"("c-000001")",
    R"(42)",
    R"(null)",
    R"({"name": "No Id"})",
    R"({"id": "", "city": "Pune"})",
    R"({"id": 7, "city": "Pune"})",
    R"({"id": null, "city": "Pune"})",
    R"({"id": ["bad-ID"]})",
    R"({"id": "bad-ID", "orders": "five"})",
    R"({"id": "bad-ID", "city": 5})",
    R"({"id": "bad-ID", "tags": "vip"})",
    R"({"id": "bad-ID", "birthday": "soon"})",
    R"({"id": "bad-ID", "trial_user": "yes"})",
    R"({"id": "bad-ID", "csat": true})",
    R"({"id": "bad-ID", "address": {"city": 7}})",
    R"({"id": "bad-ID", "address": {"geo": {"lat": "x"}}})",
    R"({"id": "bad-ID", "scores": ["a", "b"]})",
    R"({"id": "bad-ID", "city": ["Pune"]})",
    R"({"id": "bad-ID", "birthday": 20260101})",
    R"({"id": "bad-ID", "last_seen": "2026-02-30"})",
    R"({"id": "bad-ID", "tags": [null]})",
    R"({"id": "bad-ID", "tags": ["vip", 1]})",
    R"({"id": "bad-ID", "name": "2026-11-19"})",
    R"({"id": "bad-ID", "promo_code": "2026-11-19T08:00:00Z"})",
    R"({"id": "bad-ID", "orders": [1, 2]})",
    R"({"id": "bad-ID", "customer_type": "vip"})",
    R"({"id": "bad-ID", "customer_type": "Customers"})",
    R"({"id": "bad-ID", "customer_type": 5})",
    R"({"id": "bad-ID", "customer_type": ""})",
    R"({"id": "bad-ID", "customer_type": "2026-01-01"})",
    R"({"id": "bad-ID", "customer_type": ["lead"]})",
    R"({"id": "bad-ID", "identities": []})",
    R"({"id": "bad-ID", "identities": "x"})",
    R"({"id": "bad-ID", "identities": {"email": ""}})",
    R"({"id": "bad-ID", "identities": {"email": 5}})",
    R"({"id": "bad-ID", "identities": {"email": {"a": "b"}}})",
    R"({"id": "bad-ID", "events": {}})",
    R"({"id": "bad-ID", "events": "order"})",
    R"({"id": "bad-ID", "events": [null]})",
    R"({"id": "bad-ID", "events": ["order"]})",
    R"({"id": "bad-ID", "events": [{"name": "order"}]})",
    R"({"id": "bad-ID", "events": [{"name": "", "at": "2026-11-19"}]})",
    R"({"id": "bad-ID", "events": [{"name": 5, "at": "2026-11-19"}]})",
    R"({"id": "bad-ID", "events": [{"name": "order", "at": "yesterday"}]})",
    R"({"id": "bad-ID", "events": [{"name": "order", "at": "2026-02-30"}]})",
    R"({"id": "bad-ID", "events": [{"name": "order", "at": 1795176000000}]})",
    R"({"id": "bad-ID", "events": [{"name": "order", "at": "2026-11-19T08:00:00z"}]})",
    "",
    "   \t ",
};

std::string ProfileGenerator::BadRecord(size_t line) {
  const uint64_t roll = rng_.Below(std::size(kBadLines) + 3);
  if (roll == std::size(kBadLines)) {  // an id of 257 bytes
    return R"({"id": ")" + std::string(257, 'y') + R"("})";
  }
  if (roll > std::size(kBadLines)) {  // claim someone's whatsapp handle
    return R"({"id": "bad-)" + std::to_string(line) +
           R"(", "identities": {"whatsapp": ")" + Phone(rng_.Pick(people_)) +
           R"("}})";
  }
  std::string text(kBadLines[roll]);
  const size_t at = text.find("ID");
  if (at != std::string::npos) text.replace(at, 2, std::to_string(line));
  return text;
}

// ------------------------------------------------------------ Vocabulary

std::vector<std::string> ToStrings(Texts texts) {
  return std::vector<std::string>(texts.begin(), texts.end());
}

Vocabulary BuildVocabulary() {
  using Kind = AttributeKind;
  Vocabulary v;
  std::vector<std::string> names, emails, phones;
  for (std::string_view first : kFirstNames) names.emplace_back(first);
  for (std::string_view last : kLastNames) names.emplace_back(last);
  for (size_t person = 0; person < 30; ++person) {
    names.push_back(PersonName(person));
    emails.push_back(Email(person));
    phones.push_back(Phone(person));
  }
  emails.insert(emails.end(), {"example.com", "@mail.test", "asha"});
  phones.insert(phones.end(), {"+91", "+919"});

  std::vector<std::string> near_now;
  Rng rng(7);
  for (int64_t offset : kInterestingOffsets) {
    near_now.push_back(
        FormatInstant(kNow + offset, TimeStyle::kMillisUtc, rng));
    near_now.push_back(FormatInstant(
        kNow + offset, rng.Pick(std::span<const TimeStyle>(kTimeStyles)), rng));
  }
  std::vector<std::string> recent_days;
  for (int64_t day = -20; day <= 1; ++day) {
    recent_days.push_back(FormatDate(ToCivil((kNow / kDay + day) * kDay)));
  }

  v.attributes = {
      {"name", Kind::kString, names},
      {"email", Kind::kString, emails},
      {"phone", Kind::kString, phones},
      {"city", Kind::kString, ToStrings(kCities)},
      {"country", Kind::kString, ToStrings(kCountries)},
      {"gender", Kind::kString, ToStrings(kGenders)},
      {"lifecycle", Kind::kString, ToStrings(kLifecycles)},
      {"channel", Kind::kString, ToStrings(kChannels)},
      {"locale", Kind::kString, ToStrings(kLocales)},
      {"promo_code", Kind::kString, ToStrings(kPromoCodes)},
      {"customer_id", Kind::kString, {"shop-1", "shop-12", "shop-", "SHOP-7"}},
      {"customer_type", Kind::kString, ToStrings(kExplicitCustomerTypes)},
      {"address.city", Kind::kString, ToStrings(kCities)},
      {"address.zip", Kind::kString, ToStrings(kZips)},
      {"orders", Kind::kNumber, ToStrings(kOrders)},
      {"csat", Kind::kNumber, ToStrings(kCsat)},
      {"web_sessions", Kind::kNumber, ToStrings(kWebSessions)},
      {"address.geo.lat", Kind::kNumber, ToStrings(kLatitudes)},
      {"address.geo.lng", Kind::kNumber, ToStrings(kLongitudes)},
      {"birthday", Kind::kDate, ToStrings(kBirthdays)},
      {"first_seen", Kind::kDate, ToStrings(kFirstSeen)},
      {"last_seen", Kind::kDate, near_now},
      {"signed_up", Kind::kDate, recent_days},
      {"trial_user", Kind::kBool, {}},
      {"opted_in", Kind::kBool, {}},
      {"tags", Kind::kStringArray, ToStrings(kTags)},
      {"interests", Kind::kStringArray, ToStrings(kInterests)},
      {"scores", Kind::kUnindexable, {}},
  };
  v.unknown_attributes = {"nonexistent", "address", "address.geo", "id",
                          "events",      "City",    "tags.0"};
  v.event_names = ToStrings(kEventNames);
  v.strings_not_in_data = {"Atlantis", "pun", "ZüRICH", "vip  ",
                           "ü",        "%",   "*",      "null"};
  v.numbers = {"-1",
               "0",
               "0.5",
               "1",
               "1.0",
               "2",
               "3",
               "4.5",
               "5",
               "12",
               "100",
               "1e3",
               "-0.0",
               "0.1",
               "0.30000000000000004",
               "9007199254740992",
               "9007199254740993",
               "9007199254740992.0",
               "9223372036854775807",
               "-9223372036854775808",
               "9.2233720368547758e18",
               "1e308"};
  v.absolute_dates = near_now;
  v.absolute_dates.insert(v.absolute_dates.end(), recent_days.begin(),
                          recent_days.end());
  v.relative_dates = {"now",     "now-7d", "now+1d",    "now-48h",
                      "now-30m", "now-1w", "now-3600s", "now-15d",
                      "now-0d",  "now+0s", "now-12h",   "now-40d"};
  v.durations = {"7d",  "48h", "1w", "0d",  "30m", "3600s",
                 "15d", "1d",  "2d", "40d", "0s",  "12h"};
  return v;
}

// ----------------------------------------------------------------- Rules

struct OperatorsOfKind {
  AttributeKind kind;
  std::span<const std::string_view> names;
};

constexpr std::string_view kStringOperators[] = {
    "exists", "not_exists", "eq",           "neq",        "in",
    "not_in", "contains",   "not_contains", "starts_with"};
constexpr std::string_view kStringArrayOperators[] = {
    "exists", "not_exists", "eq",           "neq",         "in",
    "not_in", "contains",   "not_contains", "starts_with", "has_all"};
constexpr std::string_view kNumberOperators[] = {
    "exists", "not_exists", "eq",      "neq", "gt",    "gte",
    "lt",     "lte",        "between", "in",  "not_in"};
constexpr std::string_view kDateOperators[] = {
    "exists",  "not_exists", "before",      "after",
    "between", "on",         "within_last", "not_within_last"};
constexpr std::string_view kBoolOperators[] = {"exists", "not_exists",
                                               "is_true", "is_false"};
constexpr std::string_view kAllOperators[] = {
    "exists",  "not_exists", "eq",           "neq",         "in",
    "not_in",  "contains",   "not_contains", "starts_with", "has_all",
    "gt",      "gte",        "lt",           "lte",         "between",
    "before",  "after",      "on",           "within_last", "not_within_last",
    "is_true", "is_false"};
constexpr std::string_view kUnknownOperators[] = {"equals", "like", "ne"};

Texts OperatorsFor(AttributeKind kind) {
  switch (kind) {
    case AttributeKind::kString:
      return kStringOperators;
    case AttributeKind::kStringArray:
      return kStringArrayOperators;
    case AttributeKind::kNumber:
      return kNumberOperators;
    case AttributeKind::kDate:
      return kDateOperators;
    case AttributeKind::kBool:
      return kBoolOperators;
    case AttributeKind::kUnindexable:
      return kAllOperators;
  }
  return kAllOperators;
}

bool TakesNoValue(std::string_view op) {
  return op == "exists" || op == "not_exists" || op == "is_true" ||
         op == "is_false";
}

bool TakesList(std::string_view op) {
  return op == "in" || op == "not_in" || op == "has_all";
}

// Values of the wrong JSON shape, by what the operator wanted.
constexpr std::string_view kBadStrings[] = {"5", "true", "null", "[\"a\"]",
                                            "{}"};
constexpr std::string_view kBadStringLists[] = {"\"Pune\"", "[1, 2]",
                                                "[\"a\", null]", "{}"};
constexpr std::string_view kBadNumbers[] = {"\"5\"", "true", "null", "[5]"};
constexpr std::string_view kBadNumberLists[] = {"[\"1\"]", "5", "[true]",
                                                "[1, null]"};
constexpr std::string_view kBadNumberPairs[] = {"[1]", "[1, 2, 3]", "\"1..2\"",
                                                "[\"1\", 2]", "[]"};
constexpr std::string_view kBadDates[] = {"\"2026-02-30\"",
                                          "\"yesterday\"",
                                          "\"now-7\"",
                                          "\"now-7x\"",
                                          "\"now - 7d\"",
                                          "5",
                                          "\"NOW\"",
                                          "\"2026-11-19T08:00:00z\"",
                                          "\"2026-11-19 08:00\"",
                                          "\"now-7D\"",
                                          "\"now-\"",
                                          "\"now-+7d\""};
constexpr std::string_view kBadDatePairs[] = {
    "[\"now\"]", "[\"now-7d\", \"now\", \"now+1d\"]", "\"now\"", "[\"now\", 5]",
    "[\"now\", \"2026-13-01\"]"};
constexpr std::string_view kBadDurations[] = {
    "\"7\"",      "\"-7d\"", "\"7days\"", "\"d\"", "7",
    "\"now-7d\"", "\"7D\"",  "\"1.5h\"",  "\"\"",  "\"+7d\""};
constexpr std::string_view kBadCounts[] = {
    "{\"gte\": \"2\"}",        "{\"ge\": 1}", "{}",
    "{\"gte\": 1, \"lt\": 3}", "2",           "[1]",
    "{\"gte\": null}",         "{\"EQ\": 1}"};
constexpr std::string_view kBrokenNodes[] = {
    "{}",
    "{\"foo\": 1}",
    "{\"all\": {}}",
    "{\"any\": [1]}",
    "{\"not\": []}",
    "[]",
    "\"city\"",
    "null",
    "{\"not\": {\"field\": \"city\", \"op\": \"exists\"}, \"extra\": 1}",
    "{\"all\": [], \"extra\": 1}",
    "{\"field\": \"city\", \"value\": \"Pune\"}",
    "{\"field\": 5, \"op\": \"exists\"}",
    "{\"field\": \"city\", \"op\": 5, \"value\": \"Pune\"}",
    "{\"field\": \"city\", \"op\": \"eq\"}",
    "{\"event\": 5}",
    "{\"segment\": 5}",
};
constexpr std::string_view kEventMembers[] = {"within_last", "after", "before",
                                              "between", "count"};
constexpr std::string_view kCountOperators[] = {"eq", "gt", "gte", "lt", "lte"};
constexpr std::string_view kOddCounts[] = {"1.5", "0.5", "2.0", "-1"};

class RuleGenerator {
 public:
  RuleGenerator(Rng& rng, const Vocabulary& vocabulary)
      : rng_(rng), vocabulary_(vocabulary) {}

  std::string Generate(int max_depth) {
    WriteNode(max_depth);
    return out_.Take();
  }

 private:
  // The one thing wrong with a leaf, if any.
  enum class Fault {
    kNone,
    kUnknownAttribute,
    kAnyOperator,  // from every kind's operators: may not fit
    kUnknownOperator,
    kMalformedValue,
    kExtraKey,
  };

  Fault PickFault();
  void WriteNode(int levels_left);
  void WriteGroup(std::string_view form, int levels_left);
  void WriteFieldPredicate();
  void WriteValue(const VocabularyAttribute& attribute, std::string_view op);
  void WriteMalformedValue(AttributeKind kind, std::string_view op);
  void WriteEventCondition();
  void WriteCount(bool malformed);

  const VocabularyAttribute& PickAttribute(bool allow_unindexable);
  std::string StringOperand(const VocabularyAttribute& attribute);
  std::string Fragment(const VocabularyAttribute& attribute);
  std::string DateOperand(const VocabularyAttribute& attribute);
  std::string NumberOperand(const VocabularyAttribute& attribute);
  std::string RandomCase(std::string text);

  Rng& rng_;
  const Vocabulary& vocabulary_;
  JsonWriter out_;
};

void RuleGenerator::WriteNode(int levels_left) {
  if (levels_left > 1 && rng_.Percent(45)) {
    const uint64_t roll = rng_.Below(10);
    if (roll < 4) {
      WriteGroup("all", levels_left);
    } else if (roll < 8) {
      WriteGroup("any", levels_left);
    } else {
      out_.BeginObject();
      out_.Key("not");
      WriteNode(levels_left - 1);
      out_.EndObject();
    }
    return;
  }
  const uint64_t roll = rng_.Below(400);
  if (roll < 2) {
    out_.BeginObject();
    out_.Key("segment");
    out_.String("high-intent");
    out_.EndObject();
  } else if (roll < 6) {
    out_.Raw(rng_.Pick(Texts(kBrokenNodes)));
  } else if (roll < 280) {
    WriteFieldPredicate();
  } else {
    WriteEventCondition();
  }
}

void RuleGenerator::WriteGroup(std::string_view form, int levels_left) {
  out_.BeginObject();
  out_.Key(form);
  out_.BeginArray();
  const uint64_t children = rng_.Percent(8) ? 0 : 1 + rng_.Below(4);
  for (uint64_t i = 0; i < children; ++i) WriteNode(levels_left - 1);
  out_.EndArray();
  out_.EndObject();
}

// Naming an unindexable attribute is a fault of its own: allowed only in a
// node without another fault, and then rarely.
const VocabularyAttribute& RuleGenerator::PickAttribute(
    bool allow_unindexable) {
  const VocabularyAttribute* attribute = &rng_.Pick(vocabulary_.attributes);
  while (attribute->kind == AttributeKind::kUnindexable &&
         (!allow_unindexable || rng_.Percent(80))) {
    attribute = &rng_.Pick(vocabulary_.attributes);
  }
  return *attribute;
}

// At most one fault per node, so that the first error of a rule does not
// depend on the order in which an implementation checks one node's members.
RuleGenerator::Fault RuleGenerator::PickFault() {
  const uint64_t roll = rng_.Below(1000);
  if (roll < 20) return Fault::kUnknownAttribute;
  if (roll < 45) return Fault::kAnyOperator;
  if (roll < 50) return Fault::kUnknownOperator;
  if (roll < 80) return Fault::kMalformedValue;
  if (roll < 85) return Fault::kExtraKey;
  return Fault::kNone;
}

void RuleGenerator::WriteFieldPredicate() {
  const Fault fault = PickFault();
  const VocabularyAttribute& attribute = PickAttribute(fault == Fault::kNone);
  std::string_view op = rng_.Pick(OperatorsFor(attribute.kind));
  if (fault == Fault::kAnyOperator) op = rng_.Pick(Texts(kAllOperators));
  if (fault == Fault::kUnknownOperator) {
    op = rng_.Pick(Texts(kUnknownOperators));
  }
  out_.BeginObject();
  out_.Key("field");
  out_.String(fault == Fault::kUnknownAttribute
                  ? rng_.Pick(vocabulary_.unknown_attributes)
                  : attribute.name);
  out_.Key("op");
  out_.String(op);
  if (!TakesNoValue(op)) {
    out_.Key("value");
    if (fault == Fault::kMalformedValue) {
      WriteMalformedValue(attribute.kind, op);
    } else {
      WriteValue(attribute, op);
    }
  }
  if (fault == Fault::kExtraKey) {
    out_.Key("extra");
    out_.Bool(true);
  }
  out_.EndObject();
}

void RuleGenerator::WriteValue(const VocabularyAttribute& attribute,
                               std::string_view op) {
  const bool number = attribute.kind == AttributeKind::kNumber;
  const bool date = attribute.kind == AttributeKind::kDate;
  if (op == "within_last" || op == "not_within_last") {
    out_.String(rng_.Pick(vocabulary_.durations));
  } else if (op == "between") {
    out_.BeginArray();
    for (int i = 0; i < 2; ++i) {
      if (date) {
        out_.String(DateOperand(attribute));
      } else {
        out_.Raw(NumberOperand(attribute));
      }
    }
    out_.EndArray();
  } else if (TakesList(op)) {
    out_.BeginArray();
    const uint64_t size = rng_.Percent(10) ? 0 : 1 + rng_.Below(4);
    for (uint64_t i = 0; i < size; ++i) {
      if (number) {
        out_.Raw(NumberOperand(attribute));
      } else {
        out_.String(StringOperand(attribute));
      }
    }
    out_.EndArray();
  } else if (op == "before" || op == "after" || op == "on") {
    out_.String(DateOperand(attribute));
  } else if (op == "contains" || op == "not_contains" || op == "starts_with") {
    out_.String(Fragment(attribute));
  } else if (number) {
    out_.Raw(NumberOperand(attribute));
  } else {
    out_.String(StringOperand(attribute));
  }
}

void RuleGenerator::WriteMalformedValue(AttributeKind kind,
                                        std::string_view op) {
  const bool number = kind == AttributeKind::kNumber;
  Texts pool = kBadStrings;
  if (op == "within_last" || op == "not_within_last") {
    pool = kBadDurations;
  } else if (op == "between") {
    pool = kind == AttributeKind::kDate ? Texts(kBadDatePairs)
                                        : Texts(kBadNumberPairs);
  } else if (op == "before" || op == "after" || op == "on") {
    pool = kBadDates;
  } else if (TakesList(op)) {
    pool = number ? Texts(kBadNumberLists) : Texts(kBadStringLists);
  } else if (number) {
    pool = kBadNumbers;
  }
  out_.Raw(rng_.Pick(pool));
}

void RuleGenerator::WriteEventCondition() {
  // At most one fault: in one window member, in count, or an extra key.
  const Fault fault = PickFault();
  const std::string_view bad_member = fault == Fault::kMalformedValue
                                          ? rng_.Pick(Texts(kEventMembers))
                                          : std::string_view();
  out_.BeginObject();
  out_.Key("event");
  if (rng_.Percent(90)) {
    out_.String(RandomCase(rng_.Pick(vocabulary_.event_names)));
  } else {
    out_.String(rng_.Percent(50) ? "never_happened" : "order_placed");
  }
  const VocabularyAttribute near_now{"", AttributeKind::kDate,
                                     vocabulary_.absolute_dates};
  const auto wanted = [&](std::string_view member, uint64_t percent) {
    return member == bad_member || rng_.Percent(percent);
  };
  if (wanted("within_last", 30)) {
    out_.Key("within_last");
    if (bad_member == "within_last") {
      out_.Raw(rng_.Pick(Texts(kBadDurations)));
    } else {
      out_.String(rng_.Pick(vocabulary_.durations));
    }
  }
  for (std::string_view member : {"after", "before"}) {
    if (!wanted(member, 15)) continue;
    out_.Key(member);
    if (bad_member == member) {
      out_.Raw(rng_.Pick(Texts(kBadDates)));
    } else {
      out_.String(DateOperand(near_now));
    }
  }
  if (wanted("between", 15)) {
    out_.Key("between");
    if (bad_member == "between") {
      out_.Raw(rng_.Pick(Texts(kBadDatePairs)));
    } else {
      out_.BeginArray();
      out_.String(DateOperand(near_now));
      out_.String(DateOperand(near_now));
      out_.EndArray();
    }
  }
  if (wanted("count", 50)) WriteCount(bad_member == "count");
  if (fault == Fault::kExtraKey) {
    out_.Key("within");
    out_.String("7d");
  }
  out_.EndObject();
}

void RuleGenerator::WriteCount(bool malformed) {
  out_.Key("count");
  if (malformed) {
    out_.Raw(rng_.Pick(Texts(kBadCounts)));
    return;
  }
  out_.BeginObject();
  out_.Key(rng_.Pick(Texts(kCountOperators)));
  if (rng_.Percent(90)) {
    out_.Int(static_cast<int64_t>(rng_.Below(5)));
  } else {
    out_.Raw(rng_.Pick(Texts(kOddCounts)));
  }
  out_.EndObject();
}

// Flips the case of ASCII letters in some values, so folding is exercised.
std::string RuleGenerator::RandomCase(std::string text) {
  if (!rng_.Percent(40)) return text;
  for (char& c : text) {
    if (!rng_.Percent(30)) continue;
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    } else if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return text;
}

std::string RuleGenerator::StringOperand(const VocabularyAttribute& attribute) {
  if (attribute.values.empty() || rng_.Percent(25)) {
    return rng_.Pick(vocabulary_.strings_not_in_data);
  }
  return RandomCase(rng_.Pick(attribute.values));
}

bool IsUtf8Continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// A piece of a known value (cut at character boundaries), "" or a miss.
std::string RuleGenerator::Fragment(const VocabularyAttribute& attribute) {
  if (rng_.Percent(15)) return "";
  if (attribute.values.empty() || rng_.Percent(20)) {
    return rng_.Pick(vocabulary_.strings_not_in_data);
  }
  const std::string& value = rng_.Pick(attribute.values);
  if (value.empty()) return value;
  size_t begin = rng_.Percent(50) ? 0 : rng_.Below(value.size());
  size_t end = begin + 1 + rng_.Below(value.size() - begin);
  while (begin > 0 && IsUtf8Continuation(value[begin])) --begin;
  while (end < value.size() && IsUtf8Continuation(value[end])) ++end;
  return RandomCase(value.substr(begin, end - begin));
}

std::string RuleGenerator::NumberOperand(const VocabularyAttribute& attribute) {
  if (!attribute.values.empty() && rng_.Percent(60)) {
    return rng_.Pick(attribute.values);
  }
  if (rng_.Percent(30)) return std::to_string(rng_.Below(60));
  return rng_.Pick(vocabulary_.numbers);
}

std::string RuleGenerator::DateOperand(const VocabularyAttribute& attribute) {
  const uint64_t roll = rng_.Below(10);
  if (roll < 4 && !attribute.values.empty()) {
    return rng_.Pick(attribute.values);
  }
  if (roll < 7) return rng_.Pick(vocabulary_.relative_dates);
  return rng_.Pick(vocabulary_.absolute_dates);
}

}  // namespace

uint64_t Rng::Next() {
  state_ += 0x9E3779B97F4A7C15ULL;
  uint64_t z = state_;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

const Vocabulary& DataVocabulary() {
  static const Vocabulary* const kVocabulary =
      new Vocabulary(BuildVocabulary());
  return *kVocabulary;
}

std::string RandomProfilesNdjson(uint64_t seed, size_t records) {
  return ProfileGenerator(seed, records).Generate();
}

std::string RandomRule(Rng& rng, const Vocabulary& vocabulary, int max_depth) {
  return RuleGenerator(rng, vocabulary).Generate(max_depth);
}

}  // namespace segd::reference
