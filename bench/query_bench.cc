// Micro-benchmarks of segd's hot paths, on generated profiles (segd gen,
// seed 42) and on synthetic bitmaps.
//
// Each benchmark checks its answer once against a plain twin before it is
// timed (a std::set of rows, a loop over stored profiles) and reports items
// per second and bytes touched per second. Data size: SEGD_BENCH_PROFILES
// (default 200000) so that a run stays short; `segd bench` has the 10M
// end-to-end figures.
#include <benchmark/benchmark.h>
#include <simdjson.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/load_stages.h"
#include "engine/query.h"
#include "engine/row_rule.h"
#include "engine/rule.h"
#include "index/bitmap.h"
#include "index/index.h"
#include "ingest/loader.h"
#include "ingest/patch_parser.h"
#include "ingest/record_parser.h"
#include "live/layer.h"
#include "tools/gen.h"

namespace segd {
namespace {

struct Fixture {
  ProfileStore store;
  std::shared_ptr<const Index> index;
  int64_t now_ms = kGenDefaultNowMs;
};

const Fixture& Data() {
  static const Fixture* fixture = [] {
    auto* f = new Fixture;
    GenOptions options;
    const char* env = std::getenv("SEGD_BENCH_PROFILES");
    options.profiles = env ? std::strtoull(env, nullptr, 10) : 200000;
    LoadText(GenerateProfilesToString(options), &f->store);
    f->index = Index::Build(f->store);
    return f;
  }();
  return *fixture;
}

// ---------------------------------------------------------------- Kernels

// A bitmap over one shard with the given density, in roaring form.
Bitmap RandomShard(double density, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution keep(density);
  std::vector<uint32_t> rows;
  for (uint32_t r = 0; r < kShardRows; ++r) {
    if (keep(rng)) rows.push_back(r);
  }
  Bitmap b = Bitmap::Of(rows);
  b.Optimize();
  return b;
}

// words &= shard, then count: the inner step of every AND.
void BM_AndShardAndCount(benchmark::State& state) {
  const double density = static_cast<double>(state.range(0)) / 1000;
  const Bitmap a = RandomShard(0.5, 1), b = RandomShard(density, 2);
  alignas(64) uint64_t words[kShardWords];
  // Check against CRoaring once.
  LoadShard(a.get(), 0, words);
  AndShard(b.get(), 0, words);
  if (CountWords(words) != roaring_bitmap_and_cardinality(a.get(), b.get())) {
    state.SkipWithError(
        "AndShard disagrees with roaring_bitmap_and_cardinality");
    return;
  }
  for (auto _ : state) {
    LoadShard(a.get(), 0, words);
    AndShard(b.get(), 0, words);
    benchmark::DoNotOptimize(CountWords(words));
  }
  state.SetItemsProcessed(state.iterations() * kShardRows);
  state.SetBytesProcessed(
      state.iterations() *
      (a.SizeInBytes() + b.SizeInBytes() + 2 * sizeof(words)));
}
// 15 and 20 per mille: 983 rows stay an array, 1311 become a bitset.
BENCHMARK(BM_AndShardAndCount)
    ->Arg(1)
    ->Arg(10)
    ->Arg(15)
    ->Arg(20)
    ->Arg(100)
    ->Arg(500)
    ->Arg(900);

// ---------------------------------------------------------------- Queries

// The members a preview of every row finds: the plain twin of a count, as
// the two take different paths through the executor.
Result<size_t> MembersOfFullPreview(const Fixture& data, const char* rule,
                                    QueryOptions options) {
  options.limit = data.index->row_count();
  options.count = false;
  Result<ExecuteResult> every = RunQuery(*data.index, rule, options);
  if (!every.ok()) return every.status();
  return every->rows.size();
}

// `words`: count from every shard's words (the result as a bitmap), even
// where the index knows the count.
void RunRule(benchmark::State& state, const char* rule, bool count = true,
             bool words = false) {
  const Fixture& data = Data();
  QueryOptions options;
  options.now_ms = data.now_ms;
  options.limit = static_cast<size_t>(state.range(0));
  options.count = count;
  options.count_from_words = words;
  Result<Plan> plan = PlanQuery(*data.index, rule, options);
  if (!plan.ok()) {
    state.SkipWithError(plan.status().ToString().c_str());
    return;
  }
  const Result<ExecuteResult> first = RunQuery(*data.index, rule, options);
  const Result<size_t> members = MembersOfFullPreview(data, rule, options);
  if (!first.ok() || !members.ok() || (count && *members != first->count)) {
    state.SkipWithError("count disagrees with the rows a full preview finds");
    return;
  }
  for (auto _ : state) {
    Result<ExecuteResult> r = RunQuery(*data.index, rule, options);
    benchmark::DoNotOptimize(r);
  }
  state.counters["matches"] = static_cast<double>(*members);
  state.SetItemsProcessed(state.iterations() * data.index->live_count());
  state.SetBytesProcessed(state.iterations() *
                          BytesTouched(*plan, *data.index));
}

void BM_CityIn(benchmark::State& state) {
  RunRule(state,
          R"({"field":"city","op":"in","value":["Pune","Mumbai","Nagpur"]})");
}
BENCHMARK(BM_CityIn)->Arg(0)->Arg(20);

void BM_WideOr(benchmark::State& state) {
  RunRule(state, R"({"field":"city","op":"in","value":["Mumbai","Delhi",
    "Bengaluru","Pune","Hyderabad","Chennai","Kolkata","Ahmedabad","Jaipur",
    "Nagpur","Surat","Lucknow","Indore","Nashik","Kanpur","Bhopal","Patna",
    "Vadodara","Ludhiana","Agra","Coimbatore","Kochi","Visakhapatnam","Thane",
    "Rajkot","Madurai","Varanasi","Meerut","Srinagar","Aurangabad","Dhanbad",
    "Amritsar","Ranchi","Jodhpur","Raipur","Guwahati","Chandigarh","Mysuru",
    "Gwalior","Dubai","London","Singapore","New York","São Paulo","Zürich",
    "München","Toronto","Sydney","Paris","Berlin"]})");
}
BENCHMARK(BM_WideOr)->Arg(0)->Arg(20);

void BM_FivePredicates(benchmark::State& state) {
  RunRule(state, R"({"all":[
    {"field":"city","op":"in","value":["Pune","Mumbai","Delhi"]},
    {"field":"tags","op":"eq","value":"vip"},
    {"field":"signed_up","op":"within_last","value":"365d"},
    {"field":"orders","op":"gte","value":5},
    {"not":{"field":"lifecycle","op":"eq","value":"churned"}}]})");
}
BENCHMARK(BM_FivePredicates)->Arg(0)->Arg(20);

// Ranges as a bitmap (words in every shard), then counted from the
// column positions alone.
constexpr char kDenseDateRange[] =
    R"({"field":"first_seen","op":"before","value":"now-365d"})";
constexpr char kNumberRange[] =
    R"({"field":"web_sessions","op":"gte","value":20})";
void BM_DenseDateRange(benchmark::State& state) {
  RunRule(state, kDenseDateRange, /*count=*/true, /*words=*/true);
}
BENCHMARK(BM_DenseDateRange)->Arg(0);
void BM_DenseDateRangeCount(benchmark::State& state) {
  RunRule(state, kDenseDateRange);
}
BENCHMARK(BM_DenseDateRangeCount)->Arg(0);
void BM_NumberRange(benchmark::State& state) {
  RunRule(state, kNumberRange, /*count=*/true, /*words=*/true);
}
BENCHMARK(BM_NumberRange)->Arg(0);
void BM_NumberRangeCount(benchmark::State& state) {
  RunRule(state, kNumberRange);
}
BENCHMARK(BM_NumberRangeCount)->Arg(0);

void BM_EventWindow(benchmark::State& state) {
  RunRule(state, R"({"event":"cart_abandoned","within_last":"48h"})");
}
BENCHMARK(BM_EventWindow)->Arg(0)->Arg(20);

void BM_EventCount(benchmark::State& state) {
  RunRule(state, R"({"event":"order","within_last":"365d","count":{"gte":3}})");
}
BENCHMARK(BM_EventCount)->Arg(0);

void BM_ContainsEmail(benchmark::State& state) {
  RunRule(state, R"({"field":"email","op":"contains","value":"patil"})");
}
BENCHMARK(BM_ContainsEmail)->Arg(20);

// A substring most emails hold: hundreds of thousands of matching values.
void BM_ContainsCommon(benchmark::State& state) {
  RunRule(state, R"({"field":"email","op":"contains","value":"gmail"})",
          state.range(0) == 0);
}
BENCHMARK(BM_ContainsCommon)->Arg(0)->Arg(20);

// Where a contains should stop following trigram lists and scan: the email
// dictionary rebuilt keeping every list of up to a quarter of the values,
// and needles (4 to 6 bytes of its values) whose rarest list holds about
// 1/d of them, for d = state.range(0). By trigrams is one thread with a
// random read for each candidate; by scan streams the text on every core.
// StringIndex::kListDivisor is where the two meet.
struct TrigramNeedles {
  std::unique_ptr<StringIndex> emails;
  std::vector<std::vector<std::string>> by_share;  // [log2 d]
};

const TrigramNeedles& NeedlesByShare() {
  static const TrigramNeedles* needles = [] {
    auto* n = new TrigramNeedles;
    const Index& index = *Data().index;
    const StringIndex& source =
        *index.attribute(*index.FindAttribute("email")).strings;
    StringIndex::Builder builder(StringIndex::Builder::kTrigramSliceBytes,
                                 /*list_divisor=*/4);
    for (ValueId id = 0; id < source.value_count(); ++id) {
      builder.Add(id, source.folded(id));
    }
    n->emails = std::move(builder).Finish(/*with_trigrams=*/true);
    const double values = static_cast<double>(n->emails->value_count());
    n->by_share.resize(16);
    std::mt19937_64 rng(42);
    for (int tries = 0; tries < 200000; ++tries) {
      const std::string_view v = n->emails->folded(
          static_cast<ValueId>(rng() % n->emails->value_count()));
      const size_t length = 4 + rng() % 3;
      if (v.size() < length) continue;
      const std::string needle(
          v.substr(rng() % (v.size() - length + 1), length));
      // The nearest power of two to values / rarest list.
      const double d =
          values / static_cast<double>(n->emails->ContainsCandidates(needle));
      const int log_d = static_cast<int>(std::lround(std::log2(d)));
      if (log_d >= 2 && log_d < 16 && n->by_share[log_d].size() < 8) {
        n->by_share[log_d].push_back(needle);
      }
    }
    return n;
  }();
  return *needles;
}

void RunContainsRoute(benchmark::State& state, bool by_scan) {
  const TrigramNeedles& n = NeedlesByShare();
  const auto log_d = static_cast<size_t>(std::log2(state.range(0)));
  const std::vector<std::string>& needles = n.by_share[log_d];
  if (needles.empty()) {
    state.SkipWithError("no needle has a rarest list of that share");
    return;
  }
  for (const std::string& needle : needles) {  // the two routes agree
    if (n.emails->Contains(needle).size() != n.emails->ScanSet(needle).count) {
      state.SkipWithError("trigrams and scan disagree");
      return;
    }
  }
  uint64_t candidates = 0;
  for (const std::string& needle : needles) {
    candidates += n.emails->ContainsCandidates(needle);
  }
  const uint64_t bytes = by_scan ? needles.size() * n.emails->ScanBytes()
                                 : candidates * StringIndex::kBytesPerCandidate;
  for (auto _ : state) {
    for (const std::string& needle : needles) {
      if (by_scan) {
        benchmark::DoNotOptimize(n.emails->ScanSet(needle));
      } else {
        benchmark::DoNotOptimize(n.emails->Contains(needle));
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * needles.size());
  state.SetBytesProcessed(state.iterations() * bytes);
  state.counters["values"] = static_cast<double>(n.emails->value_count());
  state.counters["candidates"] =
      static_cast<double>(candidates) / static_cast<double>(needles.size());
}
void BM_ContainsByTrigrams(benchmark::State& state) {
  RunContainsRoute(state, /*by_scan=*/false);
}
void BM_ContainsByScan(benchmark::State& state) {
  RunContainsRoute(state, /*by_scan=*/true);
}
BENCHMARK(BM_ContainsByTrigrams)->RangeMultiplier(2)->Range(8, 1024);
BENCHMARK(BM_ContainsByScan)->RangeMultiplier(2)->Range(8, 1024);

// A prefix held by a few percent of the phones: the count is two reads of
// running row counts, the preview tests rows until it has its members.
void BM_StartsWithPhone(benchmark::State& state) {
  RunRule(state, R"({"field":"phone","op":"starts_with","value":"+9198"})",
          state.range(0) == 0);
}
BENCHMARK(BM_StartsWithPhone)->Arg(0)->Arg(20);

// The complement of a bitmap: the count is the live rows less the
// bitmap's cardinality, the preview reads a window of the first rows.
void BM_NoEmail(benchmark::State& state) {
  RunRule(state, R"({"field":"email","op":"not_exists"})", state.range(0) == 0);
}
BENCHMARK(BM_NoEmail)->Arg(0)->Arg(20);

void BM_PreviewOnly(benchmark::State& state) {
  RunRule(state, R"({"field":"lifecycle","op":"eq","value":"active"})",
          /*count=*/false);
}
BENCHMARK(BM_PreviewOnly)->Arg(20);

// ---------------------------------------------------------------- Planning

// Parse, bind, normalize and plan, without executing: the fixed cost every
// query pays.
void BM_ParseAndPlan(benchmark::State& state) {
  const Fixture& data = Data();
  constexpr char kRule[] = R"({"all":[
    {"any":[{"field":"city","op":"in","value":["Pune","Mumbai"]},
            {"all":[{"field":"country","op":"neq","value":"IN"},
                    {"field":"orders","op":"gte","value":2}]}]},
    {"not":{"field":"lifecycle","op":"eq","value":"churned"}},
    {"event":"opened_email","within_last":"30d"}]})";
  QueryOptions options;
  options.now_ms = data.now_ms;
  // The plan is right when it counts what a walk of every row finds.
  const Result<ExecuteResult> counted = RunQuery(*data.index, kRule, options);
  const Result<size_t> members = MembersOfFullPreview(data, kRule, options);
  if (!counted.ok() || !members.ok() || counted->count != *members) {
    state.SkipWithError("the plan's count disagrees with a full preview");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(PlanQuery(*data.index, kRule, options));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * (sizeof(kRule) - 1));
}
BENCHMARK(BM_ParseAndPlan);

// ---------------------------------------------------------------- Loading

// The load path a stage at a time, on one thread: parse, store, index.
struct LoadFixture {
  std::string text;                  // NDJSON with simdjson's padding after it
  RecordSpans lines;                 // (offset, length) of each record
  std::vector<ProfileInput> inputs;  // every record, parsed
};

const LoadFixture& LoadData() {
  static const LoadFixture* fixture = [] {
    auto* f = new LoadFixture;
    GenOptions options;
    options.profiles = 20000;
    f->text = GenerateProfilesToString(options);
    f->lines = SplitRecords(f->text);
    // simdjson reads up to SIMDJSON_PADDING bytes past a record.
    f->text.append(simdjson::SIMDJSON_PADDING, ' ');
    RecordParser parser;
    f->inputs.resize(f->lines.size());
    for (size_t i = 0; i < f->lines.size(); ++i) {
      const auto [at, length] = f->lines[i];
      if (!parser
               .Parse(f->text.data() + at, length, f->text.size() - at,
                      &f->inputs[i])
               .ok()) {
        f->inputs.clear();  // reported by the benchmarks
        break;
      }
    }
    return f;
  }();
  return *fixture;
}

void BM_ParseRecords(benchmark::State& state) {
  const LoadFixture& data = LoadData();
  if (data.inputs.size() != data.lines.size()) {
    state.SkipWithError("a generated record does not parse");
    return;
  }
  RecordParser parser;
  ProfileInput input;
  size_t bytes = 0;
  for (auto _ : state) {
    for (const auto& [at, length] : data.lines) {
      benchmark::DoNotOptimize(parser.Parse(data.text.data() + at, length,
                                            data.text.size() - at, &input));
      bytes += length;
    }
  }
  state.SetItemsProcessed(state.iterations() * data.lines.size());
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_ParseRecords)->Unit(benchmark::kMillisecond);

// The floor under any parse of these records with simdjson: On Demand
// visits every key and value, unescapes every string and converts every
// number, and keeps nothing (bench/load_stages.h). RecordParser does that
// and also flattens names, infers types, reads dates and fills a
// ProfileInput.
void BM_SimdjsonWalk(benchmark::State& state) {
  const LoadFixture& data = LoadData();
  const std::string_view records(data.text.data(),
                                 data.text.size() - simdjson::SIMDJSON_PADDING);
  // The simple path: every string of these records is a pair of quotes
  // (the generator escapes none), and the records hold some numbers.
  const uint64_t quotes = std::count(records.begin(), records.end(), '"');
  const Result<WalkTally> check =
      WalkRecords(records, data.text.size(), data.lines);
  if (!check.ok() || check->strings * 2 != quotes || check->numbers == 0) {
    state.SkipWithError("the walk missed strings or numbers");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        WalkRecords(records, data.text.size(), data.lines));
  }
  state.SetItemsProcessed(state.iterations() * data.lines.size());
  state.SetBytesProcessed(state.iterations() * records.size());
}
BENCHMARK(BM_SimdjsonWalk)->Unit(benchmark::kMillisecond);

void BM_StoreUpsert(benchmark::State& state) {
  const LoadFixture& data = LoadData();
  if (data.inputs.size() != data.lines.size()) {
    state.SkipWithError("a generated record does not parse");
    return;
  }
  uint64_t bytes = 0;  // the stores' bytes: what the upserts wrote
  for (auto _ : state) {
    state.PauseTiming();
    auto store = std::make_unique<ProfileStore>();
    state.ResumeTiming();
    for (const ProfileInput& input : data.inputs) {
      if (!store->Upsert(input).ok()) {
        state.SkipWithError("a generated record is rejected");
        return;
      }
    }
    state.PauseTiming();
    if (store->live_count() != data.inputs.size()) {
      state.SkipWithError("the store lost profiles");
    }
    bytes += store->MemoryBytes();
    store.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * data.inputs.size());
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_StoreUpsert)->Unit(benchmark::kMillisecond);

// A patch of one profile as the live bench's batches make them (a number
// and a string it holds already), on the load stages' profiles. The patch
// bodies are parsed before the clock runs.
void BM_StorePatch(benchmark::State& state) {
  const LoadFixture& data = LoadData();
  ProfileStore store;
  for (const ProfileInput& input : data.inputs) (void)store.Upsert(input);
  if (store.live_count() == 0) {
    state.SkipWithError("no profiles");
    return;
  }
  std::vector<ProfilePatch> patches(9);
  for (int k = 0; k < 9; ++k) {
    const std::string body =
        R"({"orders": )" + std::to_string(k) + R"(, "lifecycle": "active"})";
    if (!ParsePatch(body, &patches[k]).ok()) {
      state.SkipWithError("a patch does not parse");
      return;
    }
  }
  std::mt19937_64 rng(42);
  uint64_t patched = 0;
  uint64_t bytes = 0;  // the profiles' bytes written
  for (auto _ : state) {
    const ProfileInput& input = data.inputs[rng() % data.inputs.size()];
    const Result<uint32_t> row = store.Patch(input.id, patches[patched++ % 9]);
    if (!row.ok()) {
      state.SkipWithError("a patch is rejected");
      return;
    }
    bytes += store.blob(*row).size();
  }
  // The last patch is there.
  const ProfileInput& last = data.inputs.front();
  (void)store.Patch(last.id, patches[7]);
  DecodedProfile p;
  DecodeProfile(store.blob(*store.FindRow(last.id)), &p);
  const DecodedValue* orders = p.Find(*store.schema().Find("orders"));
  if (orders == nullptr || orders->tag != ValueTag::kInt ||
      orders->number.i != 7) {
    state.SkipWithError("a patch of orders is not stored");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_StorePatch);

// On the query fixture's profiles, as the load stages' own data is too small
// for the dictionaries to leave the caches.
void BM_IndexBuild(benchmark::State& state) {
  const Fixture& data = Data();
  tbb::task_arena one_thread(1);  // per core, like the other load stages
  for (auto _ : state) {
    one_thread.execute([&] {
      auto index = Index::Build(data.store);
      if (index->live().cardinality() != data.store.live_count()) {
        state.SkipWithError("the index lost profiles");
      }
    });
  }
  state.SetItemsProcessed(state.iterations() * data.store.live_count());
  // Each build writes an index the size of the fixture's.
  state.SetBytesProcessed(state.iterations() * data.index->MemoryBytes());
}
BENCHMARK(BM_IndexBuild)->Unit(benchmark::kMillisecond);

// A live database's newest layer (live/layer.h): the index and id tables of
// a few recently written profiles, built again on every group of writes.
void BM_SmallLayerBuild(benchmark::State& state) {
  const Fixture& data = Data();
  const size_t rows = static_cast<size_t>(state.range(0));
  std::vector<Layer::Entry> entries;
  const uint32_t stride = static_cast<uint32_t>(
      std::min<size_t>(701, data.store.row_count() / rows));
  if (stride == 0) {
    state.SkipWithError("fewer profiles than the layer's rows");
    return;
  }
  for (uint32_t row = 0; entries.size() < rows; row += stride) {
    entries.push_back(Layer::Entry{row, data.store.blob(row)});
  }
  std::sort(entries.begin(), entries.end(),
            [](const Layer::Entry& a, const Layer::Entry& b) {
              return a.row < b.row;
            });
  for (auto _ : state) {
    auto layer = Layer::Build(data.store.schema(), entries, false, 1);
    benchmark::DoNotOptimize(layer);
  }
  state.SetItemsProcessed(state.iterations() * rows);
}
BENCHMARK(BM_SmallLayerBuild)
    ->Arg(1)
    ->Arg(16)
    ->Arg(64)
    ->Arg(128)
    ->Arg(1000)
    ->Arg(8000)
    ->Arg(64000)
    ->Unit(benchmark::kMicrosecond);

// The profiles of `layers` layers of a merge of `rows` rows: every
// `layers`-th of `rows` rows spread evenly over the fixture.
std::vector<std::vector<Layer::Entry>> SpreadLayers(const Fixture& data,
                                                    uint32_t rows,
                                                    uint32_t layers) {
  const uint32_t step = data.store.row_count() / rows;
  std::vector<std::vector<Layer::Entry>> out(layers);
  for (uint32_t i = 0; i < rows; ++i) {
    out[i % layers].push_back(
        Layer::Entry{i * step, data.store.blob(i * step)});
  }
  return out;
}

// An event layer (Index::Scope::kEvents): the events alone of the profiles
// a batch of event appends touched (1,000), or of eight such layers merged.
// The profiles are spread over the store, their bytes in cache after the
// first build, as the commit thread finds those it has just written.
void BM_EventLayerBuild(benchmark::State& state) {
  const Fixture& data = Data();
  const size_t rows = static_cast<size_t>(state.range(0));
  if (data.store.row_count() < rows) {
    state.SkipWithError("fewer profiles than the layer holds");
    return;
  }
  const std::vector<Layer::Entry> entries =
      SpreadLayers(data, static_cast<uint32_t>(rows), 1)[0];
  uint64_t bytes = 0;
  for (const Layer::Entry& e : entries) bytes += e.blob.size();
  for (auto _ : state) {
    auto layer = Layer::Build(data.store.schema(), entries, false, 1,
                              Index::Scope::kEvents);
    benchmark::DoNotOptimize(layer);
  }
  state.SetItemsProcessed(state.iterations() * rows);
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_EventLayerBuild)
    ->Arg(1000)
    ->Arg(8000)
    ->Arg(64000)
    ->Arg(160000)
    ->Unit(benchmark::kMicrosecond);

// An event merge: eight event layers of an eighth of N profiles of the
// fixture each, every eighth of N rows spread over the fixture, merged from
// their columns into one (Layer::MergeEvents), against
// BM_EventLayerBuild/N, which builds the same layer from the profiles.
// Arg 8000: a merge within one shard, as the event lane's first class
// makes; 160000: a merge over three shards, each source's rows reaching
// all three. Items are profiles merged; bytes, the sources' event columns.
void BM_EventLayerMerge(benchmark::State& state) {
  constexpr uint32_t kSources = 8;
  const auto rows = static_cast<uint32_t>(state.range(0));
  const Fixture& data = Data();
  if (data.store.row_count() < rows) {
    state.SkipWithError("fewer profiles than the layer holds");
    return;
  }
  std::vector<std::shared_ptr<const Layer>> layers;
  uint64_t bytes = 0;
  for (std::vector<Layer::Entry>& entries :
       SpreadLayers(data, rows, kSources)) {
    layers.push_back(Layer::Build(data.store.schema(), std::move(entries),
                                  false, 1, Index::Scope::kEvents));
    bytes += layers.back()->index().MemoryUse().events +
             layers.back()->index().MemoryUse().recency;
  }
  std::vector<Layer::EventSource> sources;
  for (const auto& layer : layers) sources.push_back({layer.get(), nullptr});
  for (auto _ : state) {
    auto merged = Layer::MergeEvents(data.store.schema(), sources, 2);
    benchmark::DoNotOptimize(merged);
  }
  state.SetItemsProcessed(state.iterations() * rows);
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_EventLayerMerge)
    ->Arg(8000)
    ->Arg(64000)
    ->Arg(160000)
    ->Unit(benchmark::kMicrosecond);

// A merge above the base: eight layers of an eighth of N profiles each,
// every eighth of N rows spread over the fixture, with a tenth of each
// layer's rows dead. Arg 0 merges them from their indexes and id tables
// (Layer::Merge), Arg 1 builds the same layer from its profiles
// (Layer::Build), as the upper lane did. N 8000 and 64000: the lane's
// first two classes (one shard); 160000: three shards. Items are profiles
// kept; bytes (of a merge), the sources' indexes and tables.
void BM_LayerMerge(benchmark::State& state) {
  constexpr uint32_t kSources = 8;
  const auto rows = static_cast<uint32_t>(state.range(0));
  const bool build = state.range(1) == 1;
  const Fixture& data = Data();
  if (data.store.row_count() < rows) {
    state.SkipWithError("fewer profiles than the layer holds");
    return;
  }
  std::vector<std::shared_ptr<const Layer>> layers;
  std::vector<std::unique_ptr<Bitmap>> dead;
  std::vector<Layer::MergeSource> sources;
  std::vector<Layer::Entry> kept;
  uint64_t bytes = 0;
  uint32_t k = 0;
  for (std::vector<Layer::Entry>& entries :
       SpreadLayers(data, rows, kSources)) {
    dead.push_back(std::make_unique<Bitmap>());
    for (uint32_t local = 0; local < entries.size(); ++local) {
      if (local % 10 == k) {
        dead.back()->Add(local);
      } else {
        kept.push_back(entries[local]);
      }
    }
    layers.push_back(
        Layer::Build(data.store.schema(), std::move(entries), false, 1));
    sources.push_back({layers.back().get(), dead.back().get()});
    bytes += layers.back()->MemoryBytes();
    ++k;
  }
  std::sort(kept.begin(), kept.end(),
            [](const Layer::Entry& a, const Layer::Entry& b) {
              return a.row < b.row;
            });
  for (auto _ : state) {
    auto merged = build ? Layer::Build(data.store.schema(), kept, false, 2)
                        : Layer::Merge(data.store.schema(), sources, {}, 2);
    benchmark::DoNotOptimize(merged);
  }
  state.SetItemsProcessed(state.iterations() * kept.size());
  // A merge reads its sources' indexes and tables (a build, the blobs).
  if (!build) state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_LayerMerge)
    ->ArgsProduct({{8000, 64000, 160000}, {0, 1}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace segd

// ------------------------------------------------------ One profile at a time

namespace segd {
namespace {

// RowRule::Matches (engine/row_rule.h), the live database's test of one
// profile against a saved segment. Checked first against the index's rows
// for the same rule over the fixture's first 65,536 live profiles; timed
// over the first 512 of them, decoded beforehand and so in cache, as a
// profile is when the database has just decoded it (Arg 5: rule 0 with
// DecodeProfile in the loop). Items are profiles tested, one thread.
void BM_RowRuleMatches(benchmark::State& state) {
  static constexpr const char* kRowRules[] = {
      // 0 (and 5): a typical segment, five predicates.
      R"({"all":[
        {"field":"city","op":"in","value":["Pune","Mumbai","Delhi"]},
        {"field":"tags","op":"eq","value":"vip"},
        {"field":"signed_up","op":"within_last","value":"365d"},
        {"field":"orders","op":"gte","value":5},
        {"not":{"field":"lifecycle","op":"eq","value":"churned"}}]})",
      R"({"field":"city","op":"in","value":["Pune","Mumbai","Nagpur"]})",
      R"({"field":"city","op":"in","value":["Mumbai","Delhi","Bengaluru",
        "Pune","Hyderabad","Chennai","Kolkata","Ahmedabad","Jaipur","Nagpur",
        "Surat","Lucknow","Indore","Nashik","Kanpur","Bhopal","Patna",
        "Vadodara","Ludhiana","Agra","Dubai","London","Singapore","Paris"]})",
      R"({"event":"order","within_last":"365d","count":{"gte":3}})",
      R"({"field":"email","op":"contains","value":"patil"})",
  };
  const bool decode = state.range(0) == 5;
  const char* rule_json = kRowRules[decode ? 0 : state.range(0)];
  const Fixture& data = Data();
  Result<RuleNode> node = ParseRule(rule_json);
  Result<RowRule> rule =
      node.ok() ? RowRule::Compile(*node, data.store.schema()) : node.status();
  if (!rule.ok()) {
    state.SkipWithError(rule.status().ToString().c_str());
    return;
  }
  std::vector<uint32_t> rows;
  std::vector<DecodedProfile> profiles;
  for (uint32_t row = 0; row < data.store.row_count() && rows.size() < 65536;
       ++row) {
    if (!data.store.is_live(row)) continue;
    rows.push_back(row);
    DecodeProfile(data.store.blob(row), &profiles.emplace_back());
  }
  QueryOptions options;
  options.now_ms = data.now_ms;
  options.limit = data.index->row_count();
  const Result<ExecuteResult> want = RunQuery(*data.index, rule_json, options);
  size_t expected = 0;
  for (uint32_t row : want.ok() ? want->rows : std::vector<uint32_t>()) {
    expected += row <= rows.back() ? 1 : 0;
  }
  size_t matches = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    matches += rule->Matches(profiles[i], rows[i], data.now_ms,
                             data.store.schema(), nullptr);
  }
  if (!want.ok() || matches != expected) {
    state.SkipWithError("RowRule disagrees with the index");
    return;
  }
  constexpr size_t kHot = 512;
  const size_t timed = std::min(rows.size(), kHot);
  DecodedProfile scratch;
  for (auto _ : state) {
    size_t n = 0;
    for (size_t i = 0; i < timed; ++i) {
      const DecodedProfile* p = &profiles[i];
      if (decode) {
        DecodeProfile(data.store.blob(rows[i]), &scratch);
        p = &scratch;
      }
      n +=
          rule->Matches(*p, rows[i], data.now_ms, data.store.schema(), nullptr);
    }
    benchmark::DoNotOptimize(n);
  }
  state.counters["matches"] = static_cast<double>(matches);
  state.SetItemsProcessed(state.iterations() * timed);
}
BENCHMARK(BM_RowRuleMatches)->DenseRange(0, 5);

}  // namespace
}  // namespace segd

BENCHMARK_MAIN();
