// Normalize: rewrites a bound rule into an equivalent, simpler tree.
//
// Each rewrite is its own function (and test group):
//   FlattenGroups   AND(a, AND(b, c)) -> AND(a, b, c); same for OR
//   PushNotDown     NOT(AND(a, b)) -> OR(NOT a, NOT b); NOT(NOT a) -> a
//   FoldConstants   AND(a, FALSE) -> FALSE; OR(a, FALSE) -> a; AND() -> TRUE
// Together they leave NOT only directly above a leaf, so an AND's NOT
// children become its ANDNOT part (see planner.h), and constants only at the
// root.
#ifndef SEGD_ENGINE_NORMALIZER_H_
#define SEGD_ENGINE_NORMALIZER_H_

#include "engine/bound.h"

namespace segd {

BoundNode PushNotDown(BoundNode node);
BoundNode FlattenGroups(BoundNode node);
BoundNode FoldConstants(BoundNode node);

// All rewrites, in the order that reaches a fixed point in one pass.
BoundNode Normalize(BoundNode node);

}  // namespace segd

#endif  // SEGD_ENGINE_NORMALIZER_H_
