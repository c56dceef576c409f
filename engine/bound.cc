#include "engine/bound.h"

namespace segd {

bool CountTest::Matches(uint64_t count) const {
  const int c =
      CompareNumbers(Number::Int(static_cast<int64_t>(count)), operand);
  switch (op) {
    case CmpOp::kEq:
      return c == 0;
    case CmpOp::kGt:
      return c > 0;
    case CmpOp::kGte:
      return c >= 0;
    case CmpOp::kLt:
      return c < 0;
    case CmpOp::kLte:
      return c <= 0;
  }
  return false;
}

BoundNode BoundNode::Const(bool value) {
  BoundNode n;
  n.kind = BoundKind::kConst;
  n.constant = value;
  n.label = value ? "TRUE" : "FALSE";
  return n;
}

BoundNode BoundNode::Not(BoundNode child) {
  BoundNode n;
  n.kind = BoundKind::kNot;
  n.children.push_back(std::move(child));
  return n;
}

BoundNode BoundNode::Group(BoundKind kind, std::vector<BoundNode> children) {
  BoundNode n;
  n.kind = kind;
  n.children = std::move(children);
  return n;
}

std::string ToString(const BoundNode& node) {
  auto group = [&](const char* name) {
    std::string s = name;
    s.push_back('(');
    for (size_t i = 0; i < node.children.size(); ++i) {
      if (i > 0) s.append(", ");
      s.append(ToString(node.children[i]));
    }
    s.push_back(')');
    return s;
  };
  switch (node.kind) {
    case BoundKind::kAnd:
      return group("AND");
    case BoundKind::kOr:
      return group("OR");
    case BoundKind::kNot:
      return group("NOT");
    case BoundKind::kConst:
      return node.constant ? "TRUE" : "FALSE";
    case BoundKind::kLeaf:
      return node.label;
  }
  return "?";
}

}  // namespace segd
