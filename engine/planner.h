// Plan: a normalized BoundNode ordered for execution.
//
// Children of an AND run cheapest first (fewest estimated rows), so the
// running intersection empties early and later children are skipped; its NOT
// children come last and are subtracted (ANDNOT). Children of an OR run
// largest first. Estimates of groups are derived from their children.
#ifndef SEGD_ENGINE_PLANNER_H_
#define SEGD_ENGINE_PLANNER_H_

#include <memory>

#include "engine/bound.h"
#include "index/index.h"

namespace segd {

struct Plan {
  BoundNode root;
  int depth = 1;  // levels in `root`; execution keeps one scratch per level
};

// REQUIRES: `normalized` came out of Normalize().
Plan MakePlan(BoundNode normalized, const Index& index);

}  // namespace segd

#endif  // SEGD_ENGINE_PLANNER_H_
