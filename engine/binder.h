// Bind: RuleNode (parsed) + Index -> BoundNode.
//
// Resolves attribute, event and segment names, checks each operator against
// the attribute's type, types the values (relative dates against `now_ms`),
// and turns each predicate into index leaves. Errors come back in document
// order with the JSON pointer of the offending member: "/all/2/field" for an
// unknown attribute, "/all/2/op" for an operator that does not fit,
// "/all/2/value" for a malformed value.
#ifndef SEGD_ENGINE_BINDER_H_
#define SEGD_ENGINE_BINDER_H_

#include <cstdint>
#include <memory>
#include <string_view>

#include "base/status.h"
#include "engine/bound.h"
#include "engine/rule.h"
#include "index/index.h"

namespace segd {

// Saved segments as the binder sees them. Implementations must be safe to
// call from the thread that binds.
class SegmentResolver {
 public:
  virtual ~SegmentResolver() = default;
  // The rule of dynamic segment `name`, or nullptr if there is none.
  virtual const RuleNode* FindRule(std::string_view name) const = 0;
  // The members of static segment `name` among the live rows of the index
  // being bound, or nullptr if there is no such static segment. The bitmap
  // lives as long as the resolver.
  virtual const roaring_bitmap_t* FindMembers(std::string_view name) const {
    return nullptr;
  }
};

// Rows of the index being bound whose events are held elsewhere: a live
// database's event layers (live/layer.h) index the events appended to a
// profile since its layer was built, and answer event conditions for it.
// Implementations must be safe to call from the thread that binds.
class EventOverlay {
 public:
  virtual ~EventOverlay() = default;
  // The index's rows whose events are elsewhere; null when none.
  virtual const roaring_bitmap_t* stale() const = 0;
  // Those of them with count.min..count.max events named `name` at
  // instants [lo, hi] (count.min >= 1).
  virtual std::shared_ptr<const Bitmap> Matching(std::string_view name,
                                                 int64_t lo, int64_t hi,
                                                 CountRange count) const = 0;
};

struct BindOptions {
  int64_t now_ms = 0;
  int max_depth = 64;  // nesting of rule nodes, the root being depth 1
  const SegmentResolver* segments = nullptr;
  // When set, an attribute that the index lacks but this schema holds is
  // absent from every row of the index, rather than unknown: a live
  // database's older layers predate attributes that the newest one knows
  // (and that one reports the rule's errors).
  const Schema* schema = nullptr;
  // When set, event conditions take the answer of its stale rows from it
  // (Leaf::stale), and an event the index has never seen binds as a leaf
  // that only those rows can match.
  const EventOverlay* events = nullptr;
  // When set, becomes true once the binding reads `now_ms` (a date
  // relative to now, a within_last window), so that a caller keeping what
  // the rule matched knows whether the clock is part of its name.
  bool* read_clock = nullptr;
};

Result<BoundNode> Bind(const RuleNode& rule, const Index& index,
                       const BindOptions& options);

}  // namespace segd

#endif  // SEGD_ENGINE_BINDER_H_
