// Query: the whole rule pipeline in one call.
//
//   JSON --ParseRule--> RuleNode --Bind--> BoundNode --Normalize-->
//   --MakePlan--> Plan --Execute--> count + first `limit` rows
#ifndef SEGD_ENGINE_QUERY_H_
#define SEGD_ENGINE_QUERY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/binder.h"
#include "engine/executor.h"
#include "index/index.h"

namespace segd {

struct QueryOptions {
  size_t limit = 20;
  bool count = true;  // false: a preview only, which may stop early
  // Count from every shard's words even where the index knows the figure
  // (benchmarks: the cost of the result as a bitmap).
  bool count_from_words = false;
  int64_t now_ms = 0;  // the clock relative dates are read against
  int max_depth = 64;
  const SegmentResolver* segments = nullptr;
};

// Evaluates `rule_json`; errors carry the JSON pointer of the bad node.
Result<ExecuteResult> RunQuery(const Index& index, std::string_view rule_json,
                               const QueryOptions& options);

// The plan of `rule_json`, for explain and benchmarks.
Result<Plan> PlanQuery(const Index& index, std::string_view rule_json,
                       const QueryOptions& options);

// {"count": N, "members": [{"id": ..., fields...}, ...]}
std::string RenderQueryResult(const Index& index, const ExecuteResult& result,
                              const std::vector<std::string>& fields);

}  // namespace segd

#endif  // SEGD_ENGINE_QUERY_H_
