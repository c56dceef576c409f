// The values of a rule's nodes, read one way for Bind (binder.h) and
// RowRule::Compile (row_rule.h), so that both accept the same values and
// reject the rest with the same errors (kMalformed at the value's JSON
// pointer); and the int64 bounds of a number comparison, which both use to
// compare exactly across int64 and double.
#ifndef SEGD_ENGINE_RULE_VALUES_H_
#define SEGD_ENGINE_RULE_VALUES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "engine/bound.h"
#include "engine/rule.h"
#include "index/schema.h"
#include "index/value.h"

namespace segd {

Result<std::string> ReadString(const std::optional<JsonValue>& v,
                               const std::string& path);
Result<std::vector<std::string>> ReadStrings(const std::optional<JsonValue>& v,
                                             const std::string& path);
Result<Number> ReadNumber(const std::optional<JsonValue>& v,
                          const std::string& path);
Result<std::vector<Number>> ReadNumbers(const std::optional<JsonValue>& v,
                                        const std::string& path);

// A date as written: ISO-8601, or relative (`now`, `now-7d`), read against
// the clock `now_ms`; `from_now` says which.
struct RuleDate {
  int64_t value;
  bool from_now;
};
Result<RuleDate> ReadDate(const JsonValue* v, const std::string& path,
                          int64_t now_ms);
// `between`: [from, to].
Result<std::pair<RuleDate, RuleDate>> ReadDatePair(
    const std::optional<JsonValue>& v, const std::string& path, int64_t now_ms);
// A duration such as `48h` or `7d`, in milliseconds.
Result<int64_t> ReadDuration(const std::optional<JsonValue>& v,
                             const std::string& path);

// The operator of field node `node` on an attribute of type `type`, or the
// error a rule gets for it: an attribute that is not indexable (invalid, at
// /field), an operator that is unknown (malformed, at /op) or that does not
// fit the type (invalid, at /op). exists and not_exists fit every type.
Result<Op> FieldOperator(const RuleNode& node, AttrType type);

// An event node's `count`: {"eq"|"gt"|"gte"|"lt"|"lte": number}; at least
// one event when the node gives none.
Result<CountTest> ReadCountTest(const RuleNode& node);

// Smallest int64 >= x (> x when strict); nullopt when none exists.
std::optional<int64_t> CeilInt(const Number& x, bool strict);
// Largest int64 <= x (< x when strict); nullopt when none exists.
std::optional<int64_t> FloorInt(const Number& x, bool strict);

}  // namespace segd

#endif  // SEGD_ENGINE_RULE_VALUES_H_
