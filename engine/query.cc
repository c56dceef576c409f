#include "engine/query.h"

#include "base/json_writer.h"
#include "engine/normalizer.h"
#include "engine/planner.h"
#include "engine/preview.h"
#include "engine/rule.h"

namespace segd {

Result<Plan> PlanQuery(const Index& index, std::string_view rule_json,
                       const QueryOptions& options) {
  Result<RuleNode> rule = ParseRule(rule_json);
  if (!rule.ok()) return rule.status();
  BindOptions bind_options;
  bind_options.now_ms = options.now_ms;
  bind_options.max_depth = options.max_depth;
  bind_options.segments = options.segments;
  Result<BoundNode> bound = Bind(*rule, index, bind_options);
  if (!bound.ok()) return bound.status();
  return MakePlan(Normalize(std::move(bound).value()), index);
}

Result<ExecuteResult> RunQuery(const Index& index, std::string_view rule_json,
                               const QueryOptions& options) {
  Result<Plan> plan = PlanQuery(index, rule_json, options);
  if (!plan.ok()) return plan.status();
  ExecuteOptions execute_options;
  execute_options.limit = options.limit;
  execute_options.count = options.count;
  execute_options.count_from_words = options.count_from_words;
  return Execute(*plan, index, execute_options);
}

std::string RenderQueryResult(const Index& index, const ExecuteResult& result,
                              const std::vector<std::string>& fields) {
  JsonWriter out;
  out.BeginObject();
  out.Key("count");
  out.Uint(result.count);
  out.Key("members");
  out.BeginArray();
  const MemberWriter writer(index, fields);
  DecodedProfile p;
  for (uint32_t row : result.rows) writer.Write(index.blob(row), &p, out);
  out.EndArray();
  out.EndObject();
  return out.Take();
}

}  // namespace segd
