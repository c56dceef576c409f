// Tally: a rule's members counted by the values of one attribute, over one
// Index (SPEC §3 "report"). A live database adds the tallies of its layers
// up by value, so a tally keeps each value's count in the index's own terms:
// per string value id, or per distinct number or instant.
//
// Per-call state only; safe to run from many threads on one Index.
#ifndef SEGD_ENGINE_REPORT_H_
#define SEGD_ENGINE_REPORT_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "engine/planner.h"
#include "index/index.h"

namespace segd {

struct Tally {
  uint64_t members = 0;     // rows of the rule
  uint64_t with_value = 0;  // of which hold the attribute
  // kString, kStringArray: members holding each value id (a member counts
  // once for each of its values).
  std::vector<uint32_t> by_value;
  // kNumber (integers) and kDate (instants, ms): (key, members holding
  // it), ascending by key, keys distinct.
  std::vector<std::pair<int64_t, uint64_t>> ints;
  // kNumber holding a non-integer: exact keys (index/real_keys.h).
  std::vector<std::pair<long double, uint64_t>> reals;
  uint64_t trues = 0, falses = 0;  // kBool
};

// REQUIRES: `attr` is an attribute of `index` of an indexable type.
// `excluded`: rows left out as if not live (ExecuteOptions::excluded).
Tally TallyValues(const Plan& plan, const Index& index, AttrId attr,
                  const roaring_bitmap_t* excluded = nullptr);

}  // namespace segd

#endif  // SEGD_ENGINE_REPORT_H_
