// Rule: the parsed, unbound form of a segment rule (SPEC §2).
//
// ParseRule turns JSON text into a RuleNode tree. It checks only what needs
// no schema: the node forms, their keys and the JSON shapes. A node with a
// shape error keeps the error (with its JSON pointer) in place so that the
// binder, walking the tree in document order, reports the first error the
// way a reader of the rule would find it. Values stay as JsonValue until the
// binder knows the attribute's type.
#ifndef SEGD_ENGINE_RULE_H_
#define SEGD_ENGINE_RULE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "index/value.h"

namespace segd {

// A JSON value held by the rule tree.
struct JsonValue {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = Type::kNull;
  bool boolean = false;
  Number number;
  std::string string;
  std::vector<JsonValue> items;                            // kArray
  std::vector<std::pair<std::string, JsonValue>> members;  // kObject
};

enum class NodeKind { kAll, kAny, kNot, kField, kEvent, kSegment };

enum class Op {
  kExists,
  kNotExists,
  kEq,
  kNeq,
  kIn,
  kNotIn,
  kContains,
  kNotContains,
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
  kNotWithinLast,
  kIsTrue,
  kIsFalse,
};

const char* OpName(Op op);
std::optional<Op> ParseOp(std::string_view name);

struct RuleNode {
  NodeKind kind = NodeKind::kAll;
  std::string path;  // JSON pointer of this node ("" for the root)
  Status error;      // a shape error found by the parser, reported by bind

  std::vector<RuleNode> children;  // kAll, kAny; kNot has exactly one

  std::string name;                // the field, event or segment name
  std::string op;                  // kField: the operator as written
  std::optional<JsonValue> value;  // kField
  // kEvent: the window parts and the count, as written.
  std::optional<JsonValue> within_last, after, before, between, count;
};

// Parses rule JSON. Fails only when the text is not JSON at all (or is
// nested beyond what the JSON parser accepts); everything else is recorded
// in the tree. Any thread may call it; each keeps a parser for its calls,
// of at most about 1 MiB.
Result<RuleNode> ParseRule(std::string_view json);

// The saved segments a rule refers to, each once, in the order met.
void CollectReferences(const RuleNode& node, std::vector<std::string>* out);

}  // namespace segd

#endif  // SEGD_ENGINE_RULE_H_
