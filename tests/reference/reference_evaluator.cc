// The reference evaluator: ingest (SPEC §1) and rules (SPEC §2) in the
// plainest form; see reference_evaluator.h. What ReferenceDatabase shares is
// declared in reference_internal.h. Sections, in order: ASCII text, numbers,
// dates, attribute values, records, rules, the rule binder, evaluation, and
// the public API.
#include "tests/reference/reference_evaluator.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tests/reference/reference_internal.h"

namespace segd::reference {
namespace internal {

constexpr int64_t kMillisPerSecond = 1000;
constexpr int64_t kMillisPerMinute = 60 * kMillisPerSecond;
constexpr int64_t kMillisPerHour = 60 * kMillisPerMinute;
static_assert(kMillisPerDay == 24 * kMillisPerHour);
constexpr int64_t kMillisPerWeek = 7 * kMillisPerDay;
constexpr int64_t kMinInstant = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxInstant = std::numeric_limits<int64_t>::max();

constexpr size_t kMaxIdBytes = 256;
constexpr int kMaxRuleDepth = 64;  // the root node is at depth 1

// ------------------------------------------------------------- ASCII text

char FoldChar(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Folds ASCII letters to lower case; every other byte is left as it is.
std::string Fold(std::string_view text) {
  std::string folded(text);
  for (char& c : folded) c = FoldChar(c);
  return folded;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsBlankLine(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
  });
}

std::vector<std::pair<uint64_t, std::string_view>> NonBlankLines(
    std::string_view text) {
  std::vector<std::pair<uint64_t, std::string_view>> lines;
  uint64_t line_number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    ++line_number;
    start = end + 1;
    if (!IsBlankLine(line)) lines.emplace_back(line_number, line);
  }
  return lines;
}

std::string MemberPath(const std::string& parent, std::string_view key) {
  std::string path = parent + "/";
  for (char c : key) {
    if (c == '~') {
      path += "~0";
    } else if (c == '/') {
      path += "~1";
    } else {
      path += c;
    }
  }
  return path;
}

// ---------------------------------------------------------------- Numbers

int Sign(double d) { return d < 0 ? -1 : (d > 0 ? 1 : 0); }

// Exact three-way comparison of an int64 with a (finite) double.
int CompareIntegerToReal(int64_t integer, double real) {
  constexpr double kTwoTo63 = 9223372036854775808.0;
  if (real >= kTwoTo63) return -1;
  if (real < -kTwoTo63) return 1;
  const double whole = std::trunc(real);  // now exactly representable
  const int64_t whole_integer = static_cast<int64_t>(whole);
  if (integer != whole_integer) return integer < whole_integer ? -1 : 1;
  return -Sign(real - whole);
}

int CompareNumbers(const Number& a, const Number& b) {
  if (a.is_integer && b.is_integer) {
    return a.integer < b.integer ? -1 : (a.integer > b.integer ? 1 : 0);
  }
  if (a.is_integer) return CompareIntegerToReal(a.integer, b.real);
  if (b.is_integer) return -CompareIntegerToReal(b.integer, a.real);
  return a.real < b.real ? -1 : (a.real > b.real ? 1 : 0);
}

bool Satisfies(int order, Comparison comparison) {
  switch (comparison) {
    case Comparison::kEq:
      return order == 0;
    case Comparison::kGt:
      return order > 0;
    case Comparison::kGte:
      return order >= 0;
    case Comparison::kLt:
      return order < 0;
    case Comparison::kLte:
      return order <= 0;
  }
  return false;
}

std::optional<Comparison> ComparisonNamed(std::string_view name) {
  if (name == "eq") return Comparison::kEq;
  if (name == "gt") return Comparison::kGt;
  if (name == "gte") return Comparison::kGte;
  if (name == "lt") return Comparison::kLt;
  if (name == "lte") return Comparison::kLte;
  return std::nullopt;
}

// ------------------------------------------------------ Dates and durations

bool IsLeapYear(int64_t year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int DaysInMonth(int64_t year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  return (month == 2 && IsLeapYear(year)) ? 29 : kDays[month - 1];
}

// Days from 0000-01-01 to January 1st of `year` (year >= 0): 365 a year plus
// one for each leap year in [0, year).
int64_t DaysBeforeYear(int64_t year) {
  return 365 * year + (year + 3) / 4 - (year + 99) / 100 + (year + 399) / 400;
}

int64_t DaysSinceEpoch(int64_t year, int month, int day) {
  int64_t days = DaysBeforeYear(year) - DaysBeforeYear(1970);
  for (int m = 1; m < month; ++m) days += DaysInMonth(year, m);
  return days + day - 1;
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t quotient = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --quotient;
  return quotient;
}

// Exactly `count` ASCII digits starting at text[pos], as a number.
std::optional<int> ReadDigits(std::string_view text, size_t pos, size_t count) {
  if (pos + count > text.size()) return std::nullopt;
  int value = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (!IsDigit(text[i])) return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

// Reads `.fraction` (one or more digits) at text[*pos]; extra digits beyond
// milliseconds are truncated. Returns the milliseconds.
std::optional<int64_t> ReadFraction(std::string_view text, size_t* pos) {
  const size_t start = *pos;
  int64_t millis = 0;
  size_t digits = 0;
  while (*pos < text.size() && IsDigit(text[*pos])) {
    if (digits < 3) millis = millis * 10 + (text[*pos] - '0');
    ++digits;
    ++*pos;
  }
  if (*pos == start) return std::nullopt;
  for (; digits < 3; ++digits) millis *= 10;
  return millis;
}

// The zone suffix `Z`, `±HH:MM` or `±HHMM` (all of `zone`), as the offset
// from UTC in milliseconds.
std::optional<int64_t> ParseZone(std::string_view zone) {
  if (zone == "Z") return 0;
  if (zone.empty() || (zone[0] != '+' && zone[0] != '-')) return std::nullopt;
  std::optional<int> hours, minutes;
  if (zone.size() == 6 && zone[3] == ':') {
    hours = ReadDigits(zone, 1, 2);
    minutes = ReadDigits(zone, 4, 2);
  } else if (zone.size() == 5) {
    hours = ReadDigits(zone, 1, 2);
    minutes = ReadDigits(zone, 3, 2);
  }
  if (!hours || !minutes || *hours > 23 || *minutes > 59) return std::nullopt;
  const int64_t offset = *hours * kMillisPerHour + *minutes * kMillisPerMinute;
  return zone[0] == '+' ? offset : -offset;
}

// `HH:MM[:SS[.fraction]]` at the start of `text`, then an optional zone.
// Returns milliseconds since local midnight, minus the zone offset.
std::optional<int64_t> ParseTimeOfDay(std::string_view text) {
  if (text.size() < 5 || text[2] != ':') return std::nullopt;
  const std::optional<int> hour = ReadDigits(text, 0, 2);
  const std::optional<int> minute = ReadDigits(text, 3, 2);
  if (!hour || !minute || *hour > 23 || *minute > 59) return std::nullopt;
  int64_t millis = *hour * kMillisPerHour + *minute * kMillisPerMinute;
  size_t pos = 5;
  if (pos < text.size() && text[pos] == ':') {
    const std::optional<int> second = ReadDigits(text, pos + 1, 2);
    if (!second || *second > 59) return std::nullopt;
    millis += *second * kMillisPerSecond;
    pos += 3;
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      const std::optional<int64_t> fraction = ReadFraction(text, &pos);
      if (!fraction) return std::nullopt;
      millis += *fraction;
    }
  }
  if (pos == text.size()) return millis;  // no zone: UTC
  const std::optional<int64_t> offset = ParseZone(text.substr(pos));
  if (!offset) return std::nullopt;
  return millis - *offset;
}

// One unit of a duration: s, m, h, d or w.
std::optional<int64_t> UnitMillis(char unit) {
  switch (unit) {
    case 's':
      return kMillisPerSecond;
    case 'm':
      return kMillisPerMinute;
    case 'h':
      return kMillisPerHour;
    case 'd':
      return kMillisPerDay;
    case 'w':
      return kMillisPerWeek;
    default:
      return std::nullopt;
  }
}

// `<digits><unit>`, e.g. `48h`; nullopt when malformed or beyond int64.
std::optional<int64_t> ParseDuration(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  const std::optional<int64_t> unit = UnitMillis(text.back());
  if (!unit) return std::nullopt;
  int64_t amount = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (!IsDigit(c)) return std::nullopt;
    if (__builtin_mul_overflow(amount, 10, &amount) ||
        __builtin_add_overflow(amount, c - '0', &amount)) {
      return std::nullopt;
    }
  }
  int64_t millis = 0;
  if (__builtin_mul_overflow(amount, *unit, &millis)) return std::nullopt;
  return millis;
}

// A date value in a rule: ISO-8601, or `now`, `now-7d`, `now+48h`.
std::optional<int64_t> ParseDateValue(std::string_view text, int64_t now_ms) {
  if (!text.starts_with("now")) return ParseIsoInstant(text);
  const std::string_view rest = text.substr(3);
  if (rest.empty()) return now_ms;
  if (rest[0] != '+' && rest[0] != '-') return std::nullopt;
  const std::optional<int64_t> duration = ParseDuration(rest.substr(1));
  if (!duration) return std::nullopt;
  int64_t instant = 0;
  const bool overflow =
      rest[0] == '+' ? __builtin_add_overflow(now_ms, *duration, &instant)
                     : __builtin_sub_overflow(now_ms, *duration, &instant);
  if (overflow) return std::nullopt;
  return instant;
}

int64_t SaturatingSub(int64_t a, int64_t b) {
  int64_t result = 0;
  if (__builtin_sub_overflow(a, b, &result)) return kMinInstant;
  return result;
}

// ------------------------------------------------------- Attribute values

std::optional<std::string_view> AsString(dom::element element) {
  std::string_view text;
  if (element.get_string().get(text) != simdjson::SUCCESS) return std::nullopt;
  return text;
}

std::optional<Number> AsNumber(dom::element element) {
  switch (element.type()) {
    case dom::element_type::INT64:
      return IntegerNumber(element.get_int64().value_unsafe());
    case dom::element_type::UINT64: {
      const uint64_t value = element.get_uint64().value_unsafe();
      if (value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return IntegerNumber(static_cast<int64_t>(value));
      }
      return Number{false, 0, static_cast<double>(value)};
    }
    case dom::element_type::DOUBLE:
      return Number{false, 0, element.get_double().value_unsafe()};
    case dom::element_type::ARRAY:
    case dom::element_type::OBJECT:
    case dom::element_type::STRING:
    case dom::element_type::BOOL:
    case dom::element_type::NULL_VALUE:
      return std::nullopt;
  }
  return std::nullopt;
}

// The value of a JSON array attribute: nullopt for [] (absent), a string
// array when every element is a string, unindexable otherwise.
std::optional<Value> ArrayValue(dom::array array) {
  if (array.begin() == array.end()) return std::nullopt;
  Value value;
  value.kind = AttributeKind::kStringArray;
  for (dom::element item : array) {
    const std::optional<std::string_view> text = AsString(item);
    if (!text) {
      value.kind = AttributeKind::kUnindexable;
      value.items.clear();
      value.raw_items.clear();
      return value;
    }
    value.items.push_back(Fold(*text));
    value.raw_items.emplace_back(*text);
  }
  return value;
}

std::optional<Value> AttributeValue(dom::element element) {
  Value value;
  switch (element.type()) {
    case dom::element_type::STRING: {
      const std::string_view text = *AsString(element);
      value.raw = std::string(text);
      if (const std::optional<int64_t> instant = ParseIsoInstant(text)) {
        value.kind = AttributeKind::kDate;
        value.instant = *instant;
      } else {
        value.kind = AttributeKind::kString;
        value.text = Fold(text);
      }
      return value;
    }
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      value.kind = AttributeKind::kNumber;
      value.number = *AsNumber(element);
      return value;
    case dom::element_type::BOOL:
      value.kind = AttributeKind::kBool;
      value.flag = element.get_bool().value_unsafe();
      return value;
    case dom::element_type::NULL_VALUE:
      return std::nullopt;
    case dom::element_type::ARRAY:
      return ArrayValue(element.get_array().value_unsafe());
    case dom::element_type::OBJECT:
      break;  // objects are flattened by the caller
  }
  return std::nullopt;
}

std::vector<Member> UniqueMembers(dom::object object) {
  std::vector<Member> all;
  for (dom::key_value_pair field : object) {
    all.emplace_back(field.key, field.value);
  }
  std::vector<Member> unique;
  for (size_t i = 0; i < all.size(); ++i) {
    const bool written_again = std::any_of(
        all.begin() + i + 1, all.end(),
        [&](const Member& later) { return later.first == all[i].first; });
    if (!written_again) unique.push_back(all[i]);
  }
  return unique;
}

// Adds the attributes of `element` under `name`, flattening objects with
// dots. Empty objects add nothing. If two members flatten to the same name
// (`"a.b"` and `"a": {"b"}`), the later one wins, even when it is null.
void FlattenInto(const std::string& name, dom::element element,
                 AttributeValues* out) {
  dom::object object;
  if (element.get_object().get(object) == simdjson::SUCCESS) {
    for (const auto& [key, member] : UniqueMembers(object)) {
      FlattenInto(name + "." + std::string(key), member, out);
    }
    return;
  }
  if (std::optional<Value> value = AttributeValue(element)) {
    (*out)[name] = std::move(*value);
  } else {
    out->erase(name);  // a later null or [] removes an earlier value
  }
}

// ---------------------------------------------------------------- Records

std::string ReadId(std::optional<dom::element> element, std::string* id) {
  if (!element) return "missing id";
  const std::optional<std::string_view> text = AsString(*element);
  if (!text) return "id must be a string";
  if (text->empty() || text->size() > kMaxIdBytes) {
    return "id must be 1 to 256 bytes";
  }
  // SPEC §1: no control characters (0x00-0x1F, 0x7F), and not . or ..
  const bool has_control = std::any_of(text->begin(), text->end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7F;
  });
  if (has_control) return "id must not contain control characters";
  if (*text == "." || *text == "..") return "id must not be . or ..";
  *id = std::string(*text);
  return "";
}

// Reads `identities`: null, or an object of non-empty string handles (a null
// handle skips that channel).
std::string ReadIdentities(dom::element element, std::vector<Identity>* out) {
  if (element.is_null()) return "";
  dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS) {
    return "identities must be an object";
  }
  for (const auto& [channel, handle] : UniqueMembers(object)) {
    if (handle.is_null()) continue;
    const std::optional<std::string_view> text = AsString(handle);
    if (!text || text->empty()) {
      return "identity " + std::string(channel) + " must be a non-empty string";
    }
    out->emplace_back(std::string(channel), std::string(*text));
  }
  return "";
}

std::string ReadEvent(dom::element element, Event* event) {
  dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS) {
    return "an event must be an object";
  }
  std::optional<std::string_view> name, at;
  for (const auto& [key, value] : UniqueMembers(object)) {
    if (key == "name") name = AsString(value);
    if (key == "at") at = AsString(value);
  }
  if (!name || name->empty()) return "an event needs a non-empty name";
  const std::optional<int64_t> instant =
      at ? ParseIsoInstant(*at) : std::nullopt;
  if (!instant) return "an event needs an ISO-8601 `at`";
  event->name = Fold(*name);
  event->at = *instant;
  return "";
}

// Reads `events`: null, or an array of {"name": ..., "at": ...}.
std::string ReadEvents(dom::element element, std::vector<Event>* out) {
  if (element.is_null()) return "";
  dom::array array;
  if (element.get_array().get(array) != simdjson::SUCCESS) {
    return "events must be an array";
  }
  for (dom::element item : array) {
    Event event;
    if (std::string error = ReadEvent(item, &event); !error.empty()) {
      return error;
    }
    out->push_back(std::move(event));
  }
  return "";
}

bool IsPresent(const AttributeValues& attributes, std::string_view name) {
  return attributes.find(name) != attributes.end();
}

std::string CheckCustomerType(const Value& value) {
  const bool valid = value.kind == AttributeKind::kString &&
                     (value.text == "guest" || value.text == "lead" ||
                      value.text == "customer");
  return valid ? "" : "customer_type must be guest, lead or customer";
}

Value DerivedCustomerType(const AttributeValues& attributes) {
  const auto orders = attributes.find("orders");
  const bool has_orders =
      orders != attributes.end() &&
      orders->second.kind == AttributeKind::kNumber &&
      CompareNumbers(orders->second.number, IntegerNumber(1)) >= 0;
  Value derived;
  derived.kind = AttributeKind::kString;
  if (IsPresent(attributes, "customer_id") || has_orders) {
    derived.text = "customer";
  } else if (IsPresent(attributes, "email") || IsPresent(attributes, "phone")) {
    derived.text = "lead";
  } else {
    derived.text = "guest";
  }
  derived.raw = derived.text;
  return derived;
}

// Checks a customer_type the record sets, or derives it (SPEC §1). A value
// set is kept folded (its spelling is not kept).
std::string ResolveCustomerType(ParsedRecord* record) {
  AttributeValues& attributes = record->attributes;
  const auto set = attributes.find("customer_type");
  if (set != attributes.end()) {
    if (std::string error = CheckCustomerType(set->second); !error.empty()) {
      return error;
    }
    set->second.raw = set->second.text;
    record->explicit_customer_type = true;
    return "";
  }
  attributes["customer_type"] = DerivedCustomerType(attributes);
  return "";
}

std::string ParseRecord(dom::element root, ParsedRecord* record) {
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return "a record must be a JSON object";
  }
  const std::vector<Member> members = UniqueMembers(object);
  std::optional<dom::element> id;
  for (const auto& [key, value] : members) {
    if (key == "id") id = value;
  }
  if (std::string error = ReadId(id, &record->id); !error.empty()) {
    return error;
  }
  for (const auto& [key, value] : members) {
    std::string error;
    if (key == "identities") {
      error = ReadIdentities(value, &record->identities);
    } else if (key == "events") {
      error = ReadEvents(value, &record->events);
    } else if (key != "id") {
      FlattenInto(std::string(key), value, &record->attributes);
    }
    if (!error.empty()) return error;
  }
  return ResolveCustomerType(record);
}

// ------------------------------------------------------------------ Rules

struct OperatorName {
  std::string_view name;
  Op op;
  bool negated;
};

constexpr OperatorName kOperators[] = {
    {"exists", Op::kExists, false},
    {"not_exists", Op::kExists, true},
    {"eq", Op::kEq, false},
    {"neq", Op::kEq, true},
    {"in", Op::kIn, false},
    {"not_in", Op::kIn, true},
    {"contains", Op::kContains, false},
    {"not_contains", Op::kContains, true},
    {"starts_with", Op::kStartsWith, false},
    {"has_all", Op::kHasAll, false},
    {"gt", Op::kGt, false},
    {"gte", Op::kGte, false},
    {"lt", Op::kLt, false},
    {"lte", Op::kLte, false},
    {"between", Op::kBetween, false},
    {"before", Op::kBefore, false},
    {"after", Op::kAfter, false},
    {"on", Op::kOn, false},
    {"within_last", Op::kWithinLast, false},
    {"not_within_last", Op::kWithinLast, true},
    {"is_true", Op::kIsTrue, false},
    {"is_false", Op::kIsFalse, false},
};

std::optional<OperatorName> OperatorNamed(std::string_view name) {
  for (const OperatorName& entry : kOperators) {
    if (entry.name == name) return entry;
  }
  return std::nullopt;
}

// The operator table of SPEC §2.
bool OperatorFits(Op op, AttributeKind kind) {
  switch (kind) {
    case AttributeKind::kString:
      return op == Op::kExists || op == Op::kEq || op == Op::kIn ||
             op == Op::kContains || op == Op::kStartsWith;
    case AttributeKind::kStringArray:
      return op == Op::kExists || op == Op::kEq || op == Op::kIn ||
             op == Op::kContains || op == Op::kStartsWith || op == Op::kHasAll;
    case AttributeKind::kNumber:
      return op == Op::kExists || op == Op::kEq || op == Op::kIn ||
             op == Op::kGt || op == Op::kGte || op == Op::kLt ||
             op == Op::kLte || op == Op::kBetween;
    case AttributeKind::kDate:
      return op == Op::kExists || op == Op::kBefore || op == Op::kAfter ||
             op == Op::kBetween || op == Op::kOn || op == Op::kWithinLast;
    case AttributeKind::kBool:
      return op == Op::kExists || op == Op::kIsTrue || op == Op::kIsFalse;
    case AttributeKind::kUnindexable:
      return false;
  }
  return false;
}

// What the `value` member of a field predicate must be.
enum class ValueShape {
  kNone,  // no `value` member at all
  kString,
  kStringList,  // array of strings, any length
  kNumber,
  kNumberPair,  // [lo, hi]
  kNumberList,  // array of numbers, any length
  kDate,        // ISO-8601 or relative date string
  kDatePair,    // [lo, hi] of dates
  kDuration,    // `48h`
};

// REQUIRES: OperatorFits(op, kind).
ValueShape ShapeOf(Op op, AttributeKind kind) {
  const bool number = kind == AttributeKind::kNumber;
  switch (op) {
    case Op::kExists:
    case Op::kIsTrue:
    case Op::kIsFalse:
      return ValueShape::kNone;
    case Op::kEq:
      return number ? ValueShape::kNumber : ValueShape::kString;
    case Op::kIn:
      return number ? ValueShape::kNumberList : ValueShape::kStringList;
    case Op::kContains:
    case Op::kStartsWith:
      return ValueShape::kString;
    case Op::kHasAll:
      return ValueShape::kStringList;
    case Op::kGt:
    case Op::kGte:
    case Op::kLt:
    case Op::kLte:
      return ValueShape::kNumber;
    case Op::kBetween:
      return number ? ValueShape::kNumberPair : ValueShape::kDatePair;
    case Op::kBefore:
    case Op::kAfter:
    case Op::kOn:
      return ValueShape::kDate;
    case Op::kWithinLast:
      return ValueShape::kDuration;
  }
  return ValueShape::kNone;
}

// ---------------------------------------------------------- Rule readers

std::optional<std::vector<dom::element>> AsArray(dom::element element) {
  dom::array array;
  if (element.get_array().get(array) != simdjson::SUCCESS) return std::nullopt;
  return std::vector<dom::element>(array.begin(), array.end());
}

std::optional<std::vector<std::string>> AsFoldedStrings(dom::element element) {
  const auto items = AsArray(element);
  if (!items) return std::nullopt;
  std::vector<std::string> strings;
  for (dom::element item : *items) {
    const std::optional<std::string_view> text = AsString(item);
    if (!text) return std::nullopt;
    strings.push_back(Fold(*text));
  }
  return strings;
}

std::optional<std::vector<Number>> AsNumbers(dom::element element) {
  const auto items = AsArray(element);
  if (!items) return std::nullopt;
  std::vector<Number> numbers;
  for (dom::element item : *items) {
    const std::optional<Number> number = AsNumber(item);
    if (!number) return std::nullopt;
    numbers.push_back(*number);
  }
  return numbers;
}

std::optional<int64_t> AsDateValue(dom::element element, int64_t now_ms) {
  const std::optional<std::string_view> text = AsString(element);
  if (!text) return std::nullopt;
  return ParseDateValue(*text, now_ms);
}

// Exactly two date values.
std::optional<std::vector<int64_t>> AsDatePair(dom::element element,
                                               int64_t now_ms) {
  const auto items = AsArray(element);
  if (!items || items->size() != 2) return std::nullopt;
  std::vector<int64_t> instants;
  for (dom::element item : *items) {
    const std::optional<int64_t> instant = AsDateValue(item, now_ms);
    if (!instant) return std::nullopt;
    instants.push_back(*instant);
  }
  return instants;
}

std::optional<int64_t> AsDuration(dom::element element) {
  const std::optional<std::string_view> text = AsString(element);
  if (!text) return std::nullopt;
  return ParseDuration(*text);
}

// ------------------------------------------------------------ Rule binder

// Parses and binds a rule against the attribute table in one depth-first
// pass over the members in written order; the first error found is the one
// reported. A member whose check depends on another member (the operator on
// the attribute's kind, the value on both) is checked only when that other
// member is itself valid; otherwise the other member's error is reported.
class RuleBinder {
 public:
  // See BindRule for `segments`, `in_progress` and `referenced`.
  RuleBinder(const AttributeTable& attributes, int64_t now_ms,
             const SegmentLookup* segments,
             const std::vector<std::string>& in_progress,
             std::vector<std::string>* referenced)
      : attributes_(attributes),
        now_ms_(now_ms),
        segments_(segments),
        in_progress_(in_progress),
        referenced_(referenced) {}

  // The bound rule, or nullopt with error() set.
  std::optional<Node> Bind(dom::element root) {
    Node node;
    if (!BindNode(root, "", 1, &node)) return std::nullopt;
    return node;
  }
  const RuleError& error() const { return error_; }

 private:
  bool BindNode(dom::element element, const std::string& path, int depth,
                Node* node);
  bool BindGroup(NodeKind kind, std::string_view form,
                 const std::vector<Member>& members, const std::string& path,
                 int depth, Node* node);
  bool BindNot(const std::vector<Member>& members, const std::string& path,
               int depth, Node* node);
  bool BindSegment(const std::vector<Member>& members, const std::string& path,
                   Node* node);
  bool ResolveSegment(std::string_view name, const std::string& path,
                      Node* node);
  bool BindField(const std::vector<Member>& members, const std::string& path,
                 Node* node);
  bool CheckAttribute(dom::element element, const std::string& path);
  bool CheckOperator(dom::element element, const AttributeInfo* attribute,
                     const std::string& path);
  bool BindValue(dom::element element, ValueShape shape,
                 const std::string& path, FieldPredicate* predicate);
  bool BindEvent(const std::vector<Member>& members, const std::string& path,
                 Node* node);
  bool BindEventMember(std::string_view key, dom::element element,
                       const std::string& node_path, EventCondition* event);
  bool BindCount(dom::element element, const std::string& path,
                 EventCondition* event);

  // The attribute `element` names, if it is indexable and known.
  const AttributeInfo* IndexableAttribute(dom::element element) const;

  bool Fail(std::string_view code, const std::string& path,
            std::string message) {
    error_ = RuleError{std::string(code), path, std::move(message)};
    return false;
  }
  bool FailUnknownKey(const std::string& node_path, std::string_view key) {
    return Fail(kMalformed, MemberPath(node_path, key),
                "unknown key \"" + std::string(key) + "\"");
  }

  const AttributeTable& attributes_;
  const int64_t now_ms_;
  const SegmentLookup* const segments_;         // may be null
  const std::vector<std::string> in_progress_;  // segments being bound
  std::vector<std::string>* const referenced_;  // may be null
  RuleError error_;
};

bool RuleBinder::BindNode(dom::element element, const std::string& path,
                          int depth, Node* node) {
  node->path = path;
  if (depth > kMaxRuleDepth) {
    return Fail(kInvalid, path, "rule nests deeper than 64 levels");
  }
  dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS) {
    return Fail(kMalformed, path, "a rule must be a JSON object");
  }
  const std::vector<Member> members = UniqueMembers(object);
  // The form is that of the first member naming one; any other member that
  // does not belong to that form is an unknown key.
  for (const auto& [key, value] : members) {
    if (key == "all") {
      return BindGroup(NodeKind::kAll, key, members, path, depth, node);
    }
    if (key == "any") {
      return BindGroup(NodeKind::kAny, key, members, path, depth, node);
    }
    if (key == "not") return BindNot(members, path, depth, node);
    if (key == "field") return BindField(members, path, node);
    if (key == "event") return BindEvent(members, path, node);
    if (key == "segment") return BindSegment(members, path, node);
  }
  return Fail(kMalformed, path,
              "expected one of all, any, not, field, event, segment");
}

bool RuleBinder::BindGroup(NodeKind kind, std::string_view form,
                           const std::vector<Member>& members,
                           const std::string& path, int depth, Node* node) {
  node->kind = kind;
  for (const auto& [key, value] : members) {
    if (key != form) return FailUnknownKey(path, key);
    const std::string list_path = MemberPath(path, key);
    const auto children = AsArray(value);
    if (!children) return Fail(kMalformed, list_path, "expected an array");
    for (size_t i = 0; i < children->size(); ++i) {
      Node child;
      const std::string child_path = list_path + "/" + std::to_string(i);
      if (!BindNode((*children)[i], child_path, depth + 1, &child)) {
        return false;
      }
      node->children.push_back(std::move(child));
    }
  }
  return true;
}

bool RuleBinder::BindNot(const std::vector<Member>& members,
                         const std::string& path, int depth, Node* node) {
  node->kind = NodeKind::kNot;
  for (const auto& [key, value] : members) {
    if (key != "not") return FailUnknownKey(path, key);
    Node child;
    if (!BindNode(value, MemberPath(path, key), depth + 1, &child)) {
      return false;
    }
    node->children.push_back(std::move(child));
  }
  return true;
}

bool RuleBinder::BindSegment(const std::vector<Member>& members,
                             const std::string& path, Node* node) {
  node->kind = NodeKind::kSegment;
  for (const auto& [key, value] : members) {
    if (key != "segment") return FailUnknownKey(path, key);
    const std::string member_path = MemberPath(path, key);
    const std::optional<std::string_view> name = AsString(value);
    if (!name) return Fail(kMalformed, member_path, "expected a string");
    if (!ResolveSegment(*name, member_path, node)) return false;
  }
  return true;
}

// A static segment is its rows; a dynamic one its saved rule, bound here
// with the same clock. Saved rules were valid when saved, and neither
// attribute kinds nor referenced segments can change since, so binding one
// fails only on a cycle, which is reported at the reference that closes it.
bool RuleBinder::ResolveSegment(std::string_view name, const std::string& path,
                                Node* node) {
  const std::string quoted = "\"" + std::string(name) + "\"";
  if (std::find(in_progress_.begin(), in_progress_.end(), name) !=
      in_progress_.end()) {
    return Fail(kConflict, path,
                "segment " + quoted + " would reference itself (a cycle)");
  }
  std::optional<SegmentDefinition> segment;
  if (segments_ != nullptr) segment = (*segments_)(name);
  if (!segment) return Fail(kInvalid, path, "unknown segment " + quoted);
  if (referenced_ != nullptr) referenced_->emplace_back(name);
  if (segment->rule_json == nullptr) {
    node->static_rows = segment->rows;
    return true;
  }
  std::vector<std::string> in_progress = in_progress_;
  in_progress.emplace_back(name);
  RuleError error;
  std::optional<Node> rule =
      BindRule(*segment->rule_json, attributes_, now_ms_, segments_,
               in_progress, &error, /*referenced=*/nullptr);
  if (!rule) {
    return Fail(error.code, path, "segment " + quoted + ": " + error.message);
  }
  node->children.push_back(std::move(*rule));
  return true;
}

const AttributeInfo* RuleBinder::IndexableAttribute(
    dom::element element) const {
  const std::optional<std::string_view> name = AsString(element);
  if (!name) return nullptr;
  const auto it = attributes_.find(*name);
  if (it == attributes_.end() ||
      it->second.kind == AttributeKind::kUnindexable) {
    return nullptr;
  }
  return &it->second;
}

bool RuleBinder::CheckAttribute(dom::element element, const std::string& path) {
  const std::optional<std::string_view> name = AsString(element);
  if (!name) return Fail(kMalformed, path, "field must be a string");
  const auto it = attributes_.find(*name);
  if (it == attributes_.end()) {
    return Fail(kInvalid, path,
                "unknown attribute \"" + std::string(*name) + "\"");
  }
  if (it->second.kind == AttributeKind::kUnindexable) {
    return Fail(kInvalid, path,
                "attribute \"" + std::string(*name) + "\" is not indexable");
  }
  return true;
}

bool RuleBinder::CheckOperator(dom::element element,
                               const AttributeInfo* attribute,
                               const std::string& path) {
  const std::optional<std::string_view> name = AsString(element);
  if (!name) return Fail(kMalformed, path, "op must be a string");
  const std::optional<OperatorName> op = OperatorNamed(*name);
  if (!op) {
    return Fail(kMalformed, path,
                "unknown operator \"" + std::string(*name) + "\"");
  }
  if (attribute != nullptr && !OperatorFits(op->op, attribute->kind)) {
    return Fail(kInvalid, path,
                "operator " + std::string(*name) + " does not apply to a " +
                    std::string(AttributeKindName(attribute->kind)));
  }
  return true;
}

bool RuleBinder::BindField(const std::vector<Member>& members,
                           const std::string& path, Node* node) {
  // Look the members up first: whether the operator fits, and what shape
  // the value must have, depend on the attribute's kind.
  const AttributeInfo* attribute = nullptr;
  std::optional<OperatorName> op;
  bool has_op = false;
  bool has_value = false;
  for (const auto& [key, value] : members) {
    if (key == "field") attribute = IndexableAttribute(value);
    if (key == "op") {
      has_op = true;
      const std::optional<std::string_view> name = AsString(value);
      if (name) op = OperatorNamed(*name);
    }
    if (key == "value") has_value = true;
  }
  const bool op_fits =
      attribute != nullptr && op && OperatorFits(op->op, attribute->kind);

  FieldPredicate& predicate = node->field;
  for (const auto& [key, value] : members) {
    const std::string member_path = MemberPath(path, key);
    if (key == "field") {
      if (!CheckAttribute(value, member_path)) return false;
    } else if (key == "op") {
      if (!CheckOperator(value, attribute, member_path)) return false;
    } else if (key == "value") {
      if (op_fits && !BindValue(value, ShapeOf(op->op, attribute->kind),
                                member_path, &predicate)) {
        return false;
      }
    } else {
      return FailUnknownKey(path, key);
    }
  }
  // Every member present is valid here, so attribute and op (if any) are
  // set. A missing member is reported at the pointer it should have had.
  if (!has_op) return Fail(kMalformed, MemberPath(path, "op"), "missing op");
  if (!has_value && ShapeOf(op->op, attribute->kind) != ValueShape::kNone) {
    return Fail(kMalformed, MemberPath(path, "value"), "missing value");
  }
  node->kind = NodeKind::kField;
  node->negated = op->negated;
  predicate.slot = attribute->slot;
  predicate.kind = attribute->kind;
  predicate.op = op->op;
  return true;
}

bool RuleBinder::BindValue(dom::element element, ValueShape shape,
                           const std::string& path, FieldPredicate* predicate) {
  bool ok = false;
  switch (shape) {
    case ValueShape::kNone:
      return true;  // a value given to exists or is_true is ignored
    case ValueShape::kString:
      if (const auto text = AsString(element)) {
        predicate->strings = {Fold(*text)};
        ok = true;
      }
      break;
    case ValueShape::kStringList:
      if (auto strings = AsFoldedStrings(element)) {
        predicate->strings = std::move(*strings);
        ok = true;
      }
      break;
    case ValueShape::kNumber:
      if (const auto number = AsNumber(element)) {
        predicate->numbers = {*number};
        ok = true;
      }
      break;
    case ValueShape::kNumberPair:
    case ValueShape::kNumberList:
      if (auto numbers = AsNumbers(element)) {
        ok = shape == ValueShape::kNumberList || numbers->size() == 2;
        predicate->numbers = std::move(*numbers);
      }
      break;
    case ValueShape::kDate:
      if (const auto instant = AsDateValue(element, now_ms_)) {
        predicate->instants = {*instant};
        ok = true;
      }
      break;
    case ValueShape::kDatePair:
      if (auto instants = AsDatePair(element, now_ms_)) {
        predicate->instants = std::move(*instants);
        ok = true;
      }
      break;
    case ValueShape::kDuration:
      if (const auto duration = AsDuration(element)) {
        predicate->instants = {SaturatingSub(now_ms_, *duration), now_ms_};
        ok = true;
      }
      break;
  }
  return ok ? true : Fail(kMalformed, path, "value has the wrong shape");
}

bool RuleBinder::BindEvent(const std::vector<Member>& members,
                           const std::string& path, Node* node) {
  node->kind = NodeKind::kEvent;
  for (const auto& [key, value] : members) {
    if (!BindEventMember(key, value, path, &node->event)) return false;
  }
  return true;
}

bool RuleBinder::BindEventMember(std::string_view key, dom::element element,
                                 const std::string& node_path,
                                 EventCondition* event) {
  const std::string path = MemberPath(node_path, key);
  TimeWindow& window = event->window;
  if (key == "event") {
    const std::optional<std::string_view> name = AsString(element);
    if (!name) return Fail(kMalformed, path, "event must be a string");
    event->name = Fold(*name);
  } else if (key == "within_last") {
    const std::optional<int64_t> duration = AsDuration(element);
    if (!duration) return Fail(kMalformed, path, "expected a duration");
    window.Intersect(SaturatingSub(now_ms_, *duration), now_ms_);
  } else if (key == "after" || key == "before") {
    const std::optional<int64_t> instant = AsDateValue(element, now_ms_);
    if (!instant) return Fail(kMalformed, path, "expected a date");
    (key == "after" ? window.after : window.before) = *instant;
  } else if (key == "between") {
    const auto instants = AsDatePair(element, now_ms_);
    if (!instants) return Fail(kMalformed, path, "expected [date, date]");
    window.Intersect((*instants)[0], (*instants)[1]);
  } else if (key == "count") {
    return BindCount(element, path, event);
  } else {
    return FailUnknownKey(node_path, key);
  }
  return true;
}

// `count` is an object with exactly one member: eq, gt, gte, lt or lte, whose
// value is a number.
bool RuleBinder::BindCount(dom::element element, const std::string& path,
                           EventCondition* event) {
  dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS ||
      object.size() != 1) {
    return Fail(kMalformed, path, "count must have exactly one comparison");
  }
  const dom::key_value_pair member = *object.begin();
  const std::optional<Comparison> comparison = ComparisonNamed(member.key);
  const std::optional<Number> operand = AsNumber(member.value);
  if (!comparison || !operand) {
    return Fail(kMalformed, path, "count takes eq, gt, gte, lt or lte: N");
  }
  event->count_comparison = *comparison;
  event->count_operand = *operand;
  return true;
}

// ------------------------------------------------------------- Evaluation

// Applies `matches` to the string, or to each element of the string array;
// true when any matches.
template <typename Predicate>
bool AnyString(const Value& value, Predicate matches) {
  if (value.kind == AttributeKind::kString) return matches(value.text);
  return std::any_of(value.items.begin(), value.items.end(), matches);
}

bool IsOneOf(const std::string& text, const std::vector<std::string>& list) {
  return std::find(list.begin(), list.end(), text) != list.end();
}

bool IsOneOf(const Number& number, const std::vector<Number>& list) {
  return std::any_of(list.begin(), list.end(), [&](const Number& n) {
    return CompareNumbers(number, n) == 0;
  });
}

// The positive predicate; absent values never match it. The binder has
// checked that the operator fits the kind and that the operands are there.
bool MatchesField(const FieldPredicate& predicate, const Profile& profile) {
  const Value* value = profile.Find(predicate.slot);
  if (value == nullptr) return false;
  const std::vector<std::string>& strings = predicate.strings;
  const std::vector<Number>& numbers = predicate.numbers;
  const std::vector<int64_t>& instants = predicate.instants;
  const auto compare = [&](Comparison comparison) {
    return Satisfies(CompareNumbers(value->number, numbers[0]), comparison);
  };
  switch (predicate.op) {
    case Op::kExists:
      return true;
    case Op::kEq:
      if (predicate.kind == AttributeKind::kNumber) {
        return compare(Comparison::kEq);
      }
      return AnyString(*value,
                       [&](const std::string& s) { return s == strings[0]; });
    case Op::kIn:
      if (predicate.kind == AttributeKind::kNumber) {
        return IsOneOf(value->number, numbers);
      }
      return AnyString(
          *value, [&](const std::string& s) { return IsOneOf(s, strings); });
    case Op::kContains:
      return AnyString(*value, [&](const std::string& s) {
        return s.find(strings[0]) != std::string::npos;
      });
    case Op::kStartsWith:
      return AnyString(*value, [&](const std::string& s) {
        return s.starts_with(strings[0]);
      });
    case Op::kHasAll:
      return std::all_of(
          strings.begin(), strings.end(),
          [&](const std::string& s) { return IsOneOf(s, value->items); });
    case Op::kGt:
      return compare(Comparison::kGt);
    case Op::kGte:
      return compare(Comparison::kGte);
    case Op::kLt:
      return compare(Comparison::kLt);
    case Op::kLte:
      return compare(Comparison::kLte);
    case Op::kBetween:
      if (predicate.kind == AttributeKind::kNumber) {
        return CompareNumbers(value->number, numbers[0]) >= 0 &&
               CompareNumbers(value->number, numbers[1]) <= 0;
      }
      return instants[0] <= value->instant && value->instant <= instants[1];
    case Op::kBefore:
      return value->instant < instants[0];
    case Op::kAfter:
      return value->instant > instants[0];
    case Op::kOn:
      return FloorDiv(value->instant, kMillisPerDay) ==
             FloorDiv(instants[0], kMillisPerDay);
    case Op::kWithinLast:  // instants are {now - d, now}
      return instants[0] <= value->instant && value->instant <= instants[1];
    case Op::kIsTrue:
      return value->flag;
    case Op::kIsFalse:
      return !value->flag;
  }
  return false;
}

bool MatchesEvent(const EventCondition& condition, const Profile& profile) {
  int64_t count = 0;
  for (const Event& event : profile.events) {
    if (event.name == condition.name && condition.window.Contains(event.at)) {
      ++count;
    }
  }
  return Satisfies(
      CompareNumbers(IntegerNumber(count), condition.count_operand),
      condition.count_comparison);
}

bool Matches(const Node& node, const Profile& profile) {
  switch (node.kind) {
    case NodeKind::kAll:
      return std::all_of(node.children.begin(), node.children.end(),
                         [&](const Node& c) { return Matches(c, profile); });
    case NodeKind::kAny:
      return std::any_of(node.children.begin(), node.children.end(),
                         [&](const Node& c) { return Matches(c, profile); });
    case NodeKind::kNot:
      return !Matches(node.children[0], profile);
    case NodeKind::kField:
      return MatchesField(node.field, profile) != node.negated;
    case NodeKind::kEvent:
      return MatchesEvent(node.event, profile);
    case NodeKind::kSegment:
      if (node.static_rows != nullptr) {
        return node.static_rows->count(profile.row) != 0;
      }
      return Matches(node.children[0], profile);
  }
  return false;
}

std::optional<Node> BindRule(std::string_view rule_json,
                             const AttributeTable& attributes, int64_t now_ms,
                             const SegmentLookup* segments,
                             const std::vector<std::string>& in_progress,
                             RuleError* error,
                             std::vector<std::string>* referenced) {
  dom::parser parser;
  dom::element root;
  if (const auto code =
          parser.parse(rule_json.data(), rule_json.size()).get(root)) {
    *error = RuleError{
        std::string(kMalformed), "",
        "rule is not JSON: " + std::string(simdjson::error_message(code))};
    return std::nullopt;
  }
  RuleBinder binder(attributes, now_ms, segments, in_progress, referenced);
  std::optional<Node> rule = binder.Bind(root);
  if (!rule) *error = binder.error();
  return rule;
}

}  // namespace internal

namespace dom = simdjson::dom;
using internal::AttributeInfo;
using internal::AttributeTable;
using internal::BindRule;
using internal::DaysInMonth;
using internal::DaysSinceEpoch;
using internal::Identity;
using internal::kMillisPerDay;
using internal::Matches;
using internal::Node;
using internal::NonBlankLines;
using internal::ParsedRecord;
using internal::ParseRecord;
using internal::ParseTimeOfDay;
using internal::Profile;
using internal::ReadDigits;
using internal::RuleError;

// ------------------------------------------------------------ Public API

std::string_view AttributeKindName(AttributeKind kind) {
  switch (kind) {
    case AttributeKind::kString:
      return "string";
    case AttributeKind::kNumber:
      return "number";
    case AttributeKind::kDate:
      return "date";
    case AttributeKind::kBool:
      return "bool";
    case AttributeKind::kStringArray:
      return "string_array";
    case AttributeKind::kUnindexable:
      return "unindexable";
  }
  return "?";
}

std::optional<int64_t> ParseIsoInstant(std::string_view text) {
  if (text.size() < 10 || text[4] != '-' || text[7] != '-') {
    return std::nullopt;
  }
  const std::optional<int> year = ReadDigits(text, 0, 4);
  const std::optional<int> month = ReadDigits(text, 5, 2);
  const std::optional<int> day = ReadDigits(text, 8, 2);
  if (!year || !month || !day || *month < 1 || *month > 12 || *day < 1 ||
      *day > DaysInMonth(*year, *month)) {
    return std::nullopt;
  }
  const int64_t midnight = DaysSinceEpoch(*year, *month, *day) * kMillisPerDay;
  if (text.size() == 10) return midnight;
  if (text[10] != 'T') return std::nullopt;
  const std::optional<int64_t> time = ParseTimeOfDay(text.substr(11));
  if (!time) return std::nullopt;
  return midnight + *time;
}

struct ReferenceStore::Impl {
  AttributeTable attributes;  // kinds fixed by accepted records
  std::vector<Profile> rows;  // in row order
  std::unordered_map<std::string, size_t> row_of_id;
  std::map<Identity, std::string> identity_owners;  // -> profile id
  dom::parser parser;

  // Ingests one non-blank line; returns why it was rejected, empty if not.
  std::string Ingest(std::string_view line);
  std::string CheckAgainstStore(const ParsedRecord& record) const;
  void Accept(ParsedRecord record);
};

std::string ReferenceStore::Impl::Ingest(std::string_view line) {
  dom::element root;
  if (const auto error = parser.parse(line.data(), line.size()).get(root)) {
    return "malformed JSON: " + std::string(simdjson::error_message(error));
  }
  ParsedRecord record;
  if (std::string error = ParseRecord(root, &record); !error.empty()) {
    return error;
  }
  if (std::string error = CheckAgainstStore(record); !error.empty()) {
    return error;
  }
  Accept(std::move(record));
  return "";
}

// Kinds already fixed, and identities owned by other profiles.
std::string ReferenceStore::Impl::CheckAgainstStore(
    const ParsedRecord& record) const {
  for (const auto& [name, value] : record.attributes) {
    const auto it = attributes.find(name);
    if (it != attributes.end() && it->second.kind != value.kind) {
      return "attribute " + name + ": expected " +
             std::string(AttributeKindName(it->second.kind)) + ", got " +
             std::string(AttributeKindName(value.kind));
    }
  }
  for (const Identity& identity : record.identities) {
    const auto owner = identity_owners.find(identity);
    if (owner != identity_owners.end() && owner->second != record.id) {
      return "identity " + identity.first + ":" + identity.second +
             " belongs to profile " + owner->second;
    }
  }
  return "";
}

void ReferenceStore::Impl::Accept(ParsedRecord record) {
  Profile profile;
  profile.id = record.id;
  profile.explicit_customer_type = record.explicit_customer_type;
  for (auto& [name, value] : record.attributes) {
    auto [it, is_new] = attributes.try_emplace(name);
    if (is_new) it->second = AttributeInfo{value.kind, attributes.size() - 1};
    const size_t slot = it->second.slot;
    if (profile.slots.size() <= slot) profile.slots.resize(slot + 1);
    profile.slots[slot] = std::move(value);
  }
  profile.identities = std::move(record.identities);
  profile.events = std::move(record.events);

  const auto [it, is_new] = row_of_id.try_emplace(profile.id, rows.size());
  profile.row = it->second;
  if (is_new) {
    rows.emplace_back();
  } else {
    for (const Identity& identity : rows[it->second].identities) {
      identity_owners.erase(identity);
    }
  }
  for (const Identity& identity : profile.identities) {
    identity_owners[identity] = profile.id;
  }
  rows[it->second] = std::move(profile);
}

ReferenceStore::ReferenceStore() : impl_(std::make_unique<Impl>()) {}

ReferenceStore::~ReferenceStore() = default;

void ReferenceStore::LoadNdjson(std::string_view text) {
  for (const auto& [line_number, line] : NonBlankLines(text)) {
    if (std::string error = impl_->Ingest(line); !error.empty()) {
      rejected_.emplace_back(line_number, std::move(error));
    } else {
      ++accepted_;
    }
  }
}

size_t ReferenceStore::profile_count() const { return impl_->rows.size(); }

std::optional<AttributeKind> ReferenceStore::KindOf(
    std::string_view attribute) const {
  const auto it = impl_->attributes.find(attribute);
  if (it == impl_->attributes.end()) return std::nullopt;
  return it->second.kind;
}

Answer ReferenceStore::Evaluate(std::string_view rule_json, int64_t now_ms,
                                size_t limit) const {
  Answer answer;
  RuleError error;
  // No saved segments: every {"segment": ...} node is an unknown segment.
  const std::optional<Node> rule =
      BindRule(rule_json, impl_->attributes, now_ms, /*segments=*/nullptr,
               /*in_progress=*/{}, &error, /*referenced=*/nullptr);
  if (!rule) {
    answer.error_code = error.code;
    answer.error_path = error.path;
    answer.error_message = error.message;
    return answer;
  }
  answer.ok = true;
  for (const Profile& profile : impl_->rows) {
    if (!Matches(*rule, profile)) continue;
    ++answer.count;
    if (answer.ids.size() < limit) answer.ids.push_back(profile.id);
  }
  return answer;
}

}  // namespace segd::reference
