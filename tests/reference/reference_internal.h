// The parts of the reference evaluator that ReferenceStore
// (reference_evaluator.cc) and ReferenceDatabase (reference_database.cc)
// share: ASCII folding, numbers, attribute values, record parsing, the rule
// binder and the evaluation loop. Only those two files include this header;
// everything is defined in reference_evaluator.cc and written from SPEC.md
// alone (nothing from segd's engine, index, ingest or base).
//
// Threads: nothing here keeps state between calls; each caller owns its
// values.
#ifndef SEGD_TESTS_REFERENCE_REFERENCE_INTERNAL_H_
#define SEGD_TESTS_REFERENCE_REFERENCE_INTERNAL_H_

#include <simdjson.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/reference/reference_evaluator.h"

namespace segd::reference::internal {

namespace dom = simdjson::dom;

// Error codes, as the HTTP API names them (SPEC §5).
inline constexpr std::string_view kMalformed = "malformed";
inline constexpr std::string_view kInvalid = "invalid";
inline constexpr std::string_view kNotFound = "not_found";
inline constexpr std::string_view kConflict = "conflict";

inline constexpr int64_t kMillisPerDay = 24 * 60 * 60 * 1000;

// ------------------------------------------------------------- Text

// Folds ASCII letters to lower case; every other byte is left as it is.
std::string Fold(std::string_view text);
bool IsBlankLine(std::string_view line);
// `parent` + "/" + `key` escaped as one JSON pointer token (RFC 6901).
std::string MemberPath(const std::string& parent, std::string_view key);
// (1-based line number, line) of every non-blank line of an NDJSON text.
std::vector<std::pair<uint64_t, std::string_view>> NonBlankLines(
    std::string_view text);

// ---------------------------------------------------------- Numbers

// A JSON number: an integer when it fits int64, otherwise a double (JSON
// integers above INT64_MAX are rounded to the nearest double).
struct Number {
  bool is_integer = true;
  int64_t integer = 0;
  double real = 0;
};

inline Number IntegerNumber(int64_t value) { return Number{true, value, 0}; }
// Exact three-way comparison: -1, 0 or 1 as a <, ==, > b.
int CompareNumbers(const Number& a, const Number& b);
int64_t FloorDiv(int64_t a, int64_t b);

// ------------------------------------------------------------ Dates

int DaysInMonth(int64_t year, int month);  // month 1-12
// Days from 1970-01-01 to the given day. REQUIRES: year >= 0.
int64_t DaysSinceEpoch(int64_t year, int month, int day);

// ------------------------------------------------------ Attribute values

// One attribute value of a profile. Strings are kept ASCII-folded (every
// string operator folds case) and as written (`raw`, for display).
struct Value {
  AttributeKind kind = AttributeKind::kString;
  std::string text;                    // kString: folded
  std::string raw;                     // kString, kDate: the text as written
  Number number;                       // kNumber
  int64_t instant = 0;                 // kDate, ms since the epoch
  bool flag = false;                   // kBool
  std::vector<std::string> items;      // kStringArray: folded
  std::vector<std::string> raw_items;  // kStringArray: as written
};

// Flattened attribute name -> value.
using AttributeValues = std::map<std::string, Value, std::less<>>;

std::optional<std::string_view> AsString(dom::element element);
// The value of one non-object JSON value; nullopt when it means absent (null
// or []). Objects are flattened by the caller.
std::optional<Value> AttributeValue(dom::element element);

using Member = std::pair<std::string_view, dom::element>;
// The members of `object` in written order, except that a key written more
// than once keeps only its last occurrence (the last one wins).
std::vector<Member> UniqueMembers(dom::object object);

// Adds the attributes of `element` under `name`, flattening objects with
// dots. Empty objects add nothing; null or [] removes `name` alone.
void FlattenInto(const std::string& name, dom::element element,
                 AttributeValues* out);

// --------------------------------------------------------------- Records

struct Event {
  std::string name;  // folded
  int64_t at = 0;
};

using Identity = std::pair<std::string, std::string>;  // (channel, handle)

// One record after parsing, before it is checked against the store.
struct ParsedRecord {
  std::string id;
  AttributeValues attributes;  // customer_type included, set or derived
  bool explicit_customer_type = false;  // the record set customer_type
  std::vector<Identity> identities;
  std::vector<Event> events;
};

// Each returns an error message, empty on success.
// `id`: a string of 1-256 bytes with no control characters, not . or ..
std::string ReadId(std::optional<dom::element> element, std::string* id);
// {"name": non-empty string, "at": ISO-8601}.
std::string ReadEvent(dom::element element, Event* event);
// Parses one record on its own (nothing about the store is checked here).
std::string ParseRecord(dom::element root, ParsedRecord* record);
// guest, lead or customer, any ASCII case.
std::string CheckCustomerType(const Value& value);
// SPEC §1: customer when customer_id is present or orders >= 1; else lead
// when email or phone is present; else guest.
Value DerivedCustomerType(const AttributeValues& attributes);

// ------------------------------------------------------ Stored profiles

struct AttributeInfo {
  AttributeKind kind = AttributeKind::kString;
  size_t slot = 0;        // index into Profile::slots
  bool declared = false;  // typed by a schema: a declared string takes
                          // date-looking text as text
};

using AttributeTable = std::map<std::string, AttributeInfo, std::less<>>;

struct Profile {
  std::string id;
  uint64_t row = 0;
  std::vector<std::optional<Value>> slots;  // by AttributeInfo::slot
  bool explicit_customer_type = false;
  std::vector<Identity> identities;
  std::vector<Event> events;

  const Value* Find(size_t slot) const {
    return slot < slots.size() && slots[slot] ? &*slots[slot] : nullptr;
  }
};

// ------------------------------------------------------------------ Rules

// Field operators. Each negative operator is bound as its positive twin
// with Node::negated set, so it is the exact complement by construction.
enum class Op {
  kExists,
  kEq,
  kIn,
  kContains,
  kStartsWith,
  kHasAll,
  kGt,
  kGte,
  kLt,
  kLte,
  kBetween,
  kBefore,
  kAfter,
  kOn,
  kWithinLast,
  kIsTrue,
  kIsFalse,
};

// Comparison operators shared by number predicates and event counts.
enum class Comparison { kEq, kGt, kGte, kLt, kLte };

struct FieldPredicate {
  size_t slot = 0;
  AttributeKind kind = AttributeKind::kString;
  Op op = Op::kExists;               // the positive twin
  std::vector<std::string> strings;  // folded
  std::vector<Number> numbers;
  std::vector<int64_t> instants;  // kWithinLast: {now - d, now}
};

// The instants an event condition counts: inclusive [from, to] and the
// strict bounds `after` and `before`.
struct TimeWindow {
  int64_t from = std::numeric_limits<int64_t>::min();
  int64_t to = std::numeric_limits<int64_t>::max();
  std::optional<int64_t> after;
  std::optional<int64_t> before;

  void Intersect(int64_t lo, int64_t hi) {
    from = std::max(from, lo);
    to = std::min(to, hi);
  }
  bool Contains(int64_t t) const {
    return from <= t && t <= to && (!after || t > *after) &&
           (!before || t < *before);
  }
};

struct EventCondition {
  std::string name;  // folded
  TimeWindow window;
  Comparison count_comparison = Comparison::kGte;  // default: count >= 1
  Number count_operand = IntegerNumber(1);
};

enum class NodeKind { kAll, kAny, kNot, kField, kEvent, kSegment };

struct Node {
  NodeKind kind = NodeKind::kAll;
  std::string path;            // JSON pointer of the node within its rule
  std::vector<Node> children;  // kAll, kAny: any number; kNot: one;
                               // kSegment: the saved rule of a dynamic one
  bool negated = false;        // kField: a negative operator
  FieldPredicate field;
  EventCondition event;
  // kSegment of a static segment: its rows (owned by the caller's store,
  // which must outlive the node).
  const std::set<uint64_t>* static_rows = nullptr;
};

struct RuleError {
  std::string code;
  std::string path;
  std::string message;
};

// A saved segment as the binder sees it: a dynamic one has a rule (JSON
// text, valid when saved), a static one its rows.
struct SegmentDefinition {
  const std::string* rule_json = nullptr;    // dynamic
  const std::set<uint64_t>* rows = nullptr;  // static
};
// nullopt for an unknown name.
using SegmentLookup =
    std::function<std::optional<SegmentDefinition>(std::string_view name)>;

// Parses and binds `rule_json` against `attributes` with the clock pinned at
// `now_ms`. `segments` resolves {"segment": NAME} (nullptr: none exist, so
// every such node is an unknown segment); a dynamic segment's saved rule is
// bound in turn, with the same clock. A reference to a name in
// `in_progress` (the segment being saved) is a cycle ("conflict").
// `referenced`, if given, receives the names the rule references directly.
// On failure returns nullopt with `error` set (the first error in written
// order, depth-first).
std::optional<Node> BindRule(std::string_view rule_json,
                             const AttributeTable& attributes, int64_t now_ms,
                             const SegmentLookup* segments,
                             const std::vector<std::string>& in_progress,
                             RuleError* error,
                             std::vector<std::string>* referenced);

// Whether `profile` matches the bound rule.
bool Matches(const Node& node, const Profile& profile);

}  // namespace segd::reference::internal

#endif  // SEGD_TESTS_REFERENCE_REFERENCE_INTERNAL_H_
