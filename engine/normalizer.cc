#include "engine/normalizer.h"

namespace segd {
namespace {

BoundKind Dual(BoundKind kind) {
  return kind == BoundKind::kAnd ? BoundKind::kOr : BoundKind::kAnd;
}

// NOT applied to `node`, pushed as deep as it goes.
BoundNode Negate(BoundNode node) {
  switch (node.kind) {
    case BoundKind::kNot:
      return PushNotDown(std::move(node.children[0]));
    case BoundKind::kConst:
      return BoundNode::Const(!node.constant);
    case BoundKind::kAnd:
    case BoundKind::kOr: {
      std::vector<BoundNode> children;
      children.reserve(node.children.size());
      for (BoundNode& c : node.children)
        children.push_back(Negate(std::move(c)));
      return BoundNode::Group(Dual(node.kind), std::move(children));
    }
    case BoundKind::kLeaf:
      return BoundNode::Not(std::move(node));
  }
  return node;
}

}  // namespace

BoundNode PushNotDown(BoundNode node) {
  switch (node.kind) {
    case BoundKind::kNot:
      return Negate(std::move(node.children[0]));
    case BoundKind::kAnd:
    case BoundKind::kOr:
      for (BoundNode& c : node.children) c = PushNotDown(std::move(c));
      return node;
    case BoundKind::kConst:
    case BoundKind::kLeaf:
      return node;
  }
  return node;
}

BoundNode FlattenGroups(BoundNode node) {
  if (node.kind == BoundKind::kNot) {
    node.children[0] = FlattenGroups(std::move(node.children[0]));
    return node;
  }
  if (node.kind != BoundKind::kAnd && node.kind != BoundKind::kOr) return node;
  std::vector<BoundNode> flat;
  for (BoundNode& c : node.children) {
    BoundNode child = FlattenGroups(std::move(c));
    if (child.kind == node.kind) {
      for (BoundNode& g : child.children) flat.push_back(std::move(g));
      node.disjoint = false;  // the spliced rows may overlap the others
    } else {
      flat.push_back(std::move(child));
    }
  }
  node.children = std::move(flat);
  return node;
}

BoundNode FoldConstants(BoundNode node) {
  switch (node.kind) {
    case BoundKind::kNot: {
      BoundNode child = FoldConstants(std::move(node.children[0]));
      if (child.kind == BoundKind::kConst)
        return BoundNode::Const(!child.constant);
      node.children[0] = std::move(child);
      return node;
    }
    case BoundKind::kAnd:
    case BoundKind::kOr: {
      // The absorbing constant: FALSE for AND, TRUE for OR.
      const bool absorbing = node.kind == BoundKind::kOr;
      std::vector<BoundNode> kept;
      for (BoundNode& c : node.children) {
        BoundNode child = FoldConstants(std::move(c));
        if (child.kind == BoundKind::kConst) {
          if (child.constant == absorbing) return BoundNode::Const(absorbing);
          continue;  // the identity element
        }
        kept.push_back(std::move(child));
      }
      if (kept.empty()) return BoundNode::Const(!absorbing);
      if (kept.size() == 1) return std::move(kept[0]);
      node.children = std::move(kept);
      return node;
    }
    case BoundKind::kConst:
    case BoundKind::kLeaf:
      return node;
  }
  return node;
}

BoundNode Normalize(BoundNode node) {
  // Folding can expose nested groups of the same kind (AND(a, OR(b)) ->
  // AND(a, b)), so flatten once more afterwards.
  return FlattenGroups(
      FoldConstants(FlattenGroups(PushNotDown(std::move(node)))));
}

}  // namespace segd
