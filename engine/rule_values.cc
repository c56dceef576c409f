#include "engine/rule_values.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <string_view>

#include "base/time.h"

namespace segd {
namespace {

constexpr int64_t kMinInt = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();

// Whether `op` applies to an attribute of `type` (exists and not_exists
// aside).
bool Fits(Op op, AttrType type) {
  switch (op) {
    case Op::kExists:
    case Op::kNotExists:
      return true;
    case Op::kEq:
    case Op::kNeq:
    case Op::kIn:
    case Op::kNotIn:
      return type == AttrType::kString || type == AttrType::kStringArray ||
             type == AttrType::kNumber;
    case Op::kContains:
    case Op::kNotContains:
    case Op::kStartsWith:
      return type == AttrType::kString || type == AttrType::kStringArray;
    case Op::kHasAll:
      return type == AttrType::kStringArray;
    case Op::kGt:
    case Op::kGte:
    case Op::kLt:
    case Op::kLte:
      return type == AttrType::kNumber;
    case Op::kBetween:
      return type == AttrType::kNumber || type == AttrType::kDate;
    case Op::kBefore:
    case Op::kAfter:
    case Op::kOn:
    case Op::kWithinLast:
    case Op::kNotWithinLast:
      return type == AttrType::kDate;
    case Op::kIsTrue:
    case Op::kIsFalse:
      return type == AttrType::kBool;
  }
  return false;
}

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

}  // namespace

Result<Op> FieldOperator(const RuleNode& node, AttrType type) {
  if (type == AttrType::kUnindexable) {
    return Invalid("attribute " + Quoted(node.name) +
                       " holds values that fit no type and is not indexable",
                   node.path + "/field");
  }
  const std::optional<Op> op = ParseOp(node.op);
  if (!op) {
    return Malformed("unknown operator " + Quoted(node.op), node.path + "/op");
  }
  if (!Fits(*op, type)) {
    return Invalid("operator " + Quoted(node.op) + " does not apply to " +
                       AttrTypeName(type) + " attribute " + Quoted(node.name),
                   node.path + "/op");
  }
  return *op;
}

Result<CountTest> ReadCountTest(const RuleNode& node) {
  CountTest test;
  if (!node.count) return test;
  const JsonValue& c = *node.count;
  static constexpr std::pair<std::string_view, CmpOp> kCmps[] = {
      {"eq", CmpOp::kEq},
      {"gt", CmpOp::kGt},
      {"gte", CmpOp::kGte},
      {"lt", CmpOp::kLt},
      {"lte", CmpOp::kLte}};
  const auto* entry =
      c.type == JsonValue::Type::kObject && c.members.size() == 1
          ? std::find_if(
                std::begin(kCmps), std::end(kCmps),
                [&](const auto& e) { return e.first == c.members[0].first; })
          : std::end(kCmps);
  if (entry == std::end(kCmps) ||
      c.members[0].second.type != JsonValue::Type::kNumber) {
    return Malformed(
        "count must be one of {\"eq\"|\"gt\"|\"gte\"|\"lt\"|\"lte\": number}",
        node.path + "/count");
  }
  test.op = entry->second;
  test.operand = c.members[0].second.number;
  return test;
}

Result<std::string> ReadString(const std::optional<JsonValue>& v,
                               const std::string& path) {
  if (!v || v->type != JsonValue::Type::kString) {
    return Malformed("value must be a string", path);
  }
  return v->string;
}

Result<std::vector<std::string>> ReadStrings(const std::optional<JsonValue>& v,
                                             const std::string& path) {
  if (!v || v->type != JsonValue::Type::kArray) {
    return Malformed("value must be a list of strings", path);
  }
  std::vector<std::string> out;
  for (const JsonValue& item : v->items) {
    if (item.type != JsonValue::Type::kString) {
      return Malformed("value must be a list of strings", path);
    }
    out.push_back(item.string);
  }
  return out;
}

Result<Number> ReadNumber(const std::optional<JsonValue>& v,
                          const std::string& path) {
  if (!v || v->type != JsonValue::Type::kNumber) {
    return Malformed("value must be a number", path);
  }
  return v->number;
}

Result<std::vector<Number>> ReadNumbers(const std::optional<JsonValue>& v,
                                        const std::string& path) {
  if (!v || v->type != JsonValue::Type::kArray) {
    return Malformed("value must be a list of numbers", path);
  }
  std::vector<Number> out;
  for (const JsonValue& item : v->items) {
    if (item.type != JsonValue::Type::kNumber) {
      return Malformed("value must be a list of numbers", path);
    }
    out.push_back(item.number);
  }
  return out;
}

Result<RuleDate> ReadDate(const JsonValue* v, const std::string& path,
                          int64_t now_ms) {
  if (v != nullptr && v->type == JsonValue::Type::kString) {
    if (auto t = ParseDateValue(v->string, now_ms)) {
      return RuleDate{*t, v->string.starts_with("now")};
    }
  }
  return Malformed(
      "value must be an ISO-8601 date or now, now-7d, now+48h, ...", path);
}

Result<std::pair<RuleDate, RuleDate>> ReadDatePair(
    const std::optional<JsonValue>& v, const std::string& path,
    int64_t now_ms) {
  if (!v || v->type != JsonValue::Type::kArray || v->items.size() != 2) {
    return Malformed("between takes [from, to] dates", path);
  }
  Result<RuleDate> lo = ReadDate(&v->items[0], path, now_ms);
  if (!lo.ok()) return lo.status();
  Result<RuleDate> hi = ReadDate(&v->items[1], path, now_ms);
  if (!hi.ok()) return hi.status();
  return std::make_pair(*lo, *hi);
}

Result<int64_t> ReadDuration(const std::optional<JsonValue>& v,
                             const std::string& path) {
  if (v && v->type == JsonValue::Type::kString) {
    if (auto d = ParseDuration(v->string)) return *d;
  }
  return Malformed("value must be a duration such as 48h or 7d", path);
}

std::optional<int64_t> CeilInt(const Number& x, bool strict) {
  if (x.is_int) {
    if (!strict) return x.i;
    if (x.i == kMaxInt) return std::nullopt;
    return x.i + 1;
  }
  if (x.d >= 9223372036854775808.0) return std::nullopt;
  if (x.d < -9223372036854775808.0) return kMinInt;
  const double c = std::ceil(x.d);
  int64_t v = static_cast<int64_t>(c);
  if (strict && c == x.d) {
    if (v == kMaxInt) return std::nullopt;
    ++v;
  }
  return v;
}

std::optional<int64_t> FloorInt(const Number& x, bool strict) {
  if (x.is_int) {
    if (!strict) return x.i;
    if (x.i == kMinInt) return std::nullopt;
    return x.i - 1;
  }
  if (x.d < -9223372036854775808.0) return std::nullopt;
  if (x.d >= 9223372036854775808.0) return kMaxInt;
  const double f = std::floor(x.d);
  int64_t v = static_cast<int64_t>(f);
  if (strict && f == x.d) {
    if (v == kMinInt) return std::nullopt;
    --v;
  }
  return v;
}

}  // namespace segd
