#include "engine/planner.h"

#include <algorithm>

namespace segd {
namespace {

// Orders children and fills in group estimates; returns the subtree depth.
int Order(BoundNode& node, uint64_t live) {
  int depth = 1;
  for (BoundNode& c : node.children)
    depth = std::max(depth, 1 + Order(c, live));
  switch (node.kind) {
    case BoundKind::kAnd: {
      std::stable_sort(node.children.begin(), node.children.end(),
                       [](const BoundNode& a, const BoundNode& b) {
                         const bool a_not = a.kind == BoundKind::kNot;
                         const bool b_not = b.kind == BoundKind::kNot;
                         if (a_not != b_not) return b_not;
                         // Positives: smallest first. Negatives (whose
                         // estimate is what they keep): the one removing most
                         // rows first, which is again the smallest.
                         return a.estimate < b.estimate;
                       });
      uint64_t est = live;
      for (const BoundNode& c : node.children) est = std::min(est, c.estimate);
      node.estimate = est;
      break;
    }
    case BoundKind::kOr: {
      std::stable_sort(node.children.begin(), node.children.end(),
                       [](const BoundNode& a, const BoundNode& b) {
                         return a.estimate > b.estimate;
                       });
      uint64_t sum = 0;
      for (const BoundNode& c : node.children) sum += c.estimate;
      node.estimate = std::min(sum, live);
      break;
    }
    case BoundKind::kNot: {
      const uint64_t inner = node.children[0].estimate;
      node.estimate = live > inner ? live - inner : 0;
      break;
    }
    case BoundKind::kConst:
      node.estimate = node.constant ? live : 0;
      break;
    case BoundKind::kLeaf:
      break;
  }
  return depth;
}

}  // namespace

Plan MakePlan(BoundNode normalized, const Index& index) {
  Plan plan;
  plan.root = std::move(normalized);
  plan.depth = Order(plan.root, index.live_count());
  return plan;
}

}  // namespace segd
