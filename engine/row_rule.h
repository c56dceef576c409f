// RowRule: a rule compiled to test one profile at a time.
//
// Bind (binder.h) reduces a rule to leaves over a whole Index, which a
// query then executes over every shard. A live database that asks whether
// ONE profile is in a saved segment, or which of its saved segments one
// profile is in, cannot pay for that. RowRule::Compile resolves a rule once
// against a Schema (attribute ids and types, folded strings, typed numbers,
// absolute dates, durations, count ranges; relative dates are kept as
// offsets from now) and Matches tests one decoded profile against it, in
// well under a microsecond for a typical rule, with no allocation.
//
// Semantics are Bind's, exactly (SPEC §2): ASCII case folding, arrays
// matching when any element does, exact numbers across int64 and double,
// negative operators as the complement of their positive twin (so absent
// values match them), event windows and count tests. Two points differ,
// because a RowRule outlives the segments and events it was compiled
// against:
//   - {"segment": NAME} is resolved when matching, through RowSegments: a
//     name that is no saved segment matches nothing, where Bind rejects the
//     rule. So does a reference that closes a cycle, or that puts the
//     referenced rule's nodes deeper than the max_depth of the rule being
//     matched (depth counted through references as Bind counts it), both
//     of which Bind rejects too.
//   - An event name unknown at Compile may be seen later: Matches finds it
//     through the schema it is given.
//
// Ownership and threading: a RowRule is immutable after Compile and shares
// its compiled form (shared_ptr<const>), so copies are cheap and Matches may
// run on many threads at once. It keeps no pointer into the RuleNode or the
// Schema it was compiled from.
#ifndef SEGD_ENGINE_ROW_RULE_H_
#define SEGD_ENGINE_ROW_RULE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include "base/status.h"
#include "engine/rule.h"
#include "index/profile_codec.h"
#include "index/schema.h"

namespace segd {

class RowRule;

namespace row_rule_internal {
struct Program;
struct MatchState;
}  // namespace row_rule_internal

// Saved segments as a RowRule sees them when it meets {"segment": NAME}.
// Implementations must be safe to call from every thread that matches.
class RowSegments {
 public:
  virtual ~RowSegments() = default;
  // The compiled rule of dynamic segment `name`, or nullptr. The rule must
  // stay alive until the Matches call that asked for it returns.
  virtual const RowRule* FindRule(std::string_view name) const = 0;
  // Whether `row` is a member of static segment `name`; nullopt when there
  // is no such static segment.
  virtual std::optional<bool> InStatic(std::string_view name,
                                       uint32_t row) const = 0;
};

class RowRule {
 public:
  // Compiles `rule` against `schema`. Accepts exactly the rules Bind accepts
  // with an Index of the same schema, except that segment references are
  // not checked (they are resolved when matching, by name); on any other
  // rule, returns Bind's error (code, message and JSON pointer). Depth
  // counts every node, the root being 1, as in Bind.
  static Result<RowRule> Compile(const RuleNode& rule, const Schema& schema,
                                 int max_depth = 64);

  // Whether `profile`, stored at database row `row` and alive, matches,
  // with relative dates (`now-7d`, `within_last`) read against `now_ms`.
  // `schema` is the schema now: the one Compile saw, or a later state of
  // it (attribute and event ids never change; events first seen after
  // Compile resolve through it). Nested segment references recurse through
  // `segments`, which may be null when the rule names none.
  // REQUIRES: `profile` was encoded against `schema`, and nothing writes
  // `schema` during the call.
  bool Matches(const DecodedProfile& profile, uint32_t row, int64_t now_ms,
               const Schema& schema, const RowSegments* segments) const;

  // Whether the rule names a saved segment anywhere (nested references
  // aside), so that Matches needs a RowSegments.
  bool references_segments() const;

 private:
  explicit RowRule(std::shared_ptr<const row_rule_internal::Program> program)
      : program_(std::move(program)) {}
  bool MatchesAt(const row_rule_internal::MatchState& state, int depth) const;
  friend struct row_rule_internal::MatchState;

  std::shared_ptr<const row_rule_internal::Program> program_;
};

}  // namespace segd

#endif  // SEGD_ENGINE_ROW_RULE_H_
