#include "engine/rule.h"

#include <simdjson.h>

#include <algorithm>

#include "base/json_numbers.h"
#include "base/json_pointer.h"

namespace segd {
namespace {

namespace dom = simdjson::dom;

struct OpEntry {
  std::string_view name;
  Op op;
};
constexpr OpEntry kOps[] = {
    {"exists", Op::kExists},
    {"not_exists", Op::kNotExists},
    {"eq", Op::kEq},
    {"neq", Op::kNeq},
    {"in", Op::kIn},
    {"not_in", Op::kNotIn},
    {"contains", Op::kContains},
    {"not_contains", Op::kNotContains},
    {"starts_with", Op::kStartsWith},
    {"has_all", Op::kHasAll},
    {"gt", Op::kGt},
    {"gte", Op::kGte},
    {"lt", Op::kLt},
    {"lte", Op::kLte},
    {"between", Op::kBetween},
    {"before", Op::kBefore},
    {"after", Op::kAfter},
    {"on", Op::kOn},
    {"within_last", Op::kWithinLast},
    {"not_within_last", Op::kNotWithinLast},
    {"is_true", Op::kIsTrue},
    {"is_false", Op::kIsFalse},
};

JsonValue Convert(dom::element e) {
  JsonValue v;
  switch (e.type()) {
    case dom::element_type::NULL_VALUE:
      v.type = JsonValue::Type::kNull;
      break;
    case dom::element_type::BOOL:
      v.type = JsonValue::Type::kBool;
      if (e.get_bool().get(v.boolean))
        break;  // cannot fail: type checked above
      break;
    case dom::element_type::INT64:
      v.type = JsonValue::Type::kNumber;
      if (e.get_int64().get(v.number.i))
        break;  // cannot fail: type checked above
      v.number.is_int = true;
      break;
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      v.type = JsonValue::Type::kNumber;
      v.number.is_int = false;
      if (e.get_double().get(v.number.d))
        break;  // cannot fail: type checked above
      break;
    case dom::element_type::STRING: {
      v.type = JsonValue::Type::kString;
      std::string_view s;
      if (e.get_string().get(s)) break;  // cannot fail: type checked above
      v.string.assign(s);
      break;
    }
    case dom::element_type::ARRAY: {
      v.type = JsonValue::Type::kArray;
      dom::array array;
      if (e.get_array().get(array)) break;  // cannot fail: type checked above
      for (dom::element item : array) v.items.push_back(Convert(item));
      break;
    }
    case dom::element_type::OBJECT: {
      v.type = JsonValue::Type::kObject;
      dom::object object;
      if (e.get_object().get(object)) break;  // cannot fail: type checked above
      for (dom::key_value_pair kv : object) {
        v.members.emplace_back(std::string(kv.key), Convert(kv.value));
      }
      break;
    }
  }
  return v;
}

RuleNode ParseNode(const JsonValue& json, const std::string& path);

RuleNode ShapeError(RuleNode node, std::string message, std::string path) {
  node.error = Malformed(std::move(message), std::move(path));
  return node;
}

RuleNode ParseGroup(NodeKind kind, const JsonValue& list,
                    const std::string& path, RuleNode node) {
  node.kind = kind;
  const char* key = kind == NodeKind::kAll ? "all" : "any";
  const std::string list_path = JsonPointerChild(path, key);
  if (list.type != JsonValue::Type::kArray) {
    return ShapeError(std::move(node),
                      std::string("\"") + key + "\" must be a list of rules",
                      list_path);
  }
  for (size_t i = 0; i < list.items.size(); ++i) {
    node.children.push_back(
        ParseNode(list.items[i], list_path + "/" + std::to_string(i)));
  }
  return node;
}

RuleNode ParseNode(const JsonValue& json, const std::string& path) {
  RuleNode node;
  node.path = path;
  if (json.type != JsonValue::Type::kObject) {
    return ShapeError(std::move(node), "a rule must be a JSON object", path);
  }
  // Of duplicate keys the last wins, as in the profile records.
  auto find = [&](std::string_view key) -> const JsonValue* {
    const JsonValue* found = nullptr;
    for (const auto& [k, v] : json.members) {
      if (k == key) found = &v;
    }
    return found;
  };
  // The first form key written decides the form.
  std::string_view form;
  for (const auto& [k, v] : json.members) {
    if (k == "all" || k == "any" || k == "not" || k == "field" ||
        k == "event" || k == "segment") {
      form = k;
      break;
    }
  }
  // The form is decided by which key is present; every other key must
  // belong to that form.
  std::vector<std::string_view> allowed;
  if (const JsonValue* list = form == "all" ? find("all") : nullptr) {
    node = ParseGroup(NodeKind::kAll, *list, path, std::move(node));
    allowed = {"all"};
  } else if (const JsonValue* list = form == "any" ? find("any") : nullptr) {
    node = ParseGroup(NodeKind::kAny, *list, path, std::move(node));
    allowed = {"any"};
  } else if (const JsonValue* inner = form == "not" ? find("not") : nullptr) {
    node.kind = NodeKind::kNot;
    node.children.push_back(ParseNode(*inner, JsonPointerChild(path, "not")));
    allowed = {"not"};
  } else if (const JsonValue* field =
                 form == "field" ? find("field") : nullptr) {
    node.kind = NodeKind::kField;
    allowed = {"field", "op", "value"};
    if (field->type != JsonValue::Type::kString) {
      return ShapeError(std::move(node), "\"field\" must be a string",
                        JsonPointerChild(path, "field"));
    }
    node.name = field->string;
    const JsonValue* op = find("op");
    if (op == nullptr || op->type != JsonValue::Type::kString) {
      return ShapeError(std::move(node), "\"op\" must be an operator name",
                        JsonPointerChild(path, "op"));
    }
    node.op = op->string;
    if (const JsonValue* value = find("value")) node.value = *value;
  } else if (const JsonValue* event =
                 form == "event" ? find("event") : nullptr) {
    node.kind = NodeKind::kEvent;
    allowed = {"event", "within_last", "after", "before", "between", "count"};
    if (event->type != JsonValue::Type::kString) {
      return ShapeError(std::move(node), "\"event\" must be a string",
                        JsonPointerChild(path, "event"));
    }
    node.name = event->string;
    auto copy = [&](std::string_view key, std::optional<JsonValue>& out) {
      if (const JsonValue* v = find(key)) out = *v;
    };
    copy("within_last", node.within_last);
    copy("after", node.after);
    copy("before", node.before);
    copy("between", node.between);
    copy("count", node.count);
  } else if (const JsonValue* segment =
                 form == "segment" ? find("segment") : nullptr) {
    node.kind = NodeKind::kSegment;
    allowed = {"segment"};
    if (segment->type != JsonValue::Type::kString) {
      return ShapeError(std::move(node), "\"segment\" must be a string",
                        JsonPointerChild(path, "segment"));
    }
    node.name = segment->string;
  } else {
    return ShapeError(std::move(node),
                      "a rule must have one of all, any, not, field, event, "
                      "segment",
                      path);
  }
  if (!node.error.ok()) return node;
  for (const auto& [key, v] : json.members) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return ShapeError(std::move(node), "unexpected key \"" + key + "\"",
                        JsonPointerChild(path, key));
    }
  }
  return node;
}

// A parser that grew past this for a large rule is let go once it is done:
// a parser holds some 15 bytes per byte of capacity.
constexpr size_t kKeptParserCapacity = size_t{64} << 10;

// Every query parses its rule: a parser kept by each thread spares it the
// parser's allocations, one of them 8 KiB for the depth, which after a
// large query's frees cost tens of µs of malloc's sorting of free chunks.
dom::parser& ThreadRuleParser() {
  thread_local dom::parser parser;
  return parser;
}

}  // namespace

const char* OpName(Op op) {
  for (const OpEntry& e : kOps) {
    if (e.op == op) return e.name.data();
  }
  return "?";
}

std::optional<Op> ParseOp(std::string_view name) {
  for (const OpEntry& e : kOps) {
    if (e.name == name) return e.op;
  }
  return std::nullopt;
}

Result<RuleNode> ParseRule(std::string_view json) {
  dom::parser& parser = ThreadRuleParser();
  // The parsed document is the parser's until converted: the parser is
  // replaced only after that, when it grew large, or when a failed
  // allocation left it without its depth (simdjson then keeps a depth of
  // 0, which would fail every later rule of the thread).
  struct ReplaceIfSpoilt {
    dom::parser& parser;
    ~ReplaceIfSpoilt() {
      if (parser.capacity() > kKeptParserCapacity ||
          parser.max_depth() != simdjson::DEFAULT_MAX_DEPTH) {
        parser = dom::parser();
      }
    }
  } replace_if_spoilt{parser};
  dom::element root;
  auto error = parser.parse(json.data(), json.size()).get(root);
  if (error == simdjson::NUMBER_ERROR) {
    if (const auto widened = WidenBigIntegers(json)) {
      error = parser.parse(*widened).get(root);
    }
  }
  if (error) {
    return Malformed(std::string("rule is not valid JSON: ") +
                         simdjson::error_message(error),
                     "");
  }
  return ParseNode(Convert(root), "");
}

void CollectReferences(const RuleNode& node, std::vector<std::string>* out) {
  if (node.kind == NodeKind::kSegment &&
      std::find(out->begin(), out->end(), node.name) == out->end()) {
    out->push_back(node.name);
  }
  for (const RuleNode& child : node.children) CollectReferences(child, out);
}

}  // namespace segd
