#include "tests/engine_under_test.h"

#include "engine/query.h"
#include "index/index.h"
#include "index/profile_store.h"
#include "ingest/loader.h"

namespace segd::testing {

struct EngineUnderTest::Impl {
  ProfileStore store;
  LoadAnswer load;
  std::shared_ptr<const Index> index;
};

EngineUnderTest::EngineUnderTest(std::string_view ndjson)
    : impl_(std::make_unique<Impl>()) {
  LoadReport report = LoadText(ndjson, &impl_->store);
  impl_->load.accepted = report.accepted;
  for (const RejectedRecord& r : report.rejected) {
    impl_->load.rejected.emplace_back(r.line, r.error.ToString());
  }
  impl_->index = Index::Build(impl_->store);
}

EngineUnderTest::~EngineUnderTest() = default;

const LoadAnswer& EngineUnderTest::load() const { return impl_->load; }

EngineAnswer EngineUnderTest::Query(std::string_view rule_json, int64_t now_ms,
                                    size_t limit) const {
  QueryOptions options;
  options.limit = limit;
  options.now_ms = now_ms;
  Result<ExecuteResult> result = RunQuery(*impl_->index, rule_json, options);
  EngineAnswer answer;
  if (!result.ok()) {
    answer.error_code = ErrorCodeName(result.status().code());
    answer.error_path = result.status().path();
    answer.error_message = result.status().message();
    return answer;
  }
  answer.ok = true;
  answer.count = result->count;
  DecodedProfile p;
  for (uint32_t row : result->rows) {
    DecodeProfile(impl_->store.blob(row), &p);
    answer.ids.emplace_back(p.id);
  }
  return answer;
}

}  // namespace segd::testing
