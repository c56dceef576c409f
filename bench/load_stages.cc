#include "bench/load_stages.h"

#include <simdjson.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "index/index.h"
#include "index/profile_store.h"
#include "ingest/record_parser.h"

namespace segd {
namespace {

namespace od = simdjson::ondemand;
using Clock = std::chrono::steady_clock;

double MicrosSince(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start)
      .count();
}

simdjson::error_code Walk(od::value value, WalkTally* tally) {
  od::json_type type;
  if (auto error = value.type().get(type)) return error;
  switch (type) {
    case od::json_type::object: {
      od::object object;
      if (auto error = value.get_object().get(object)) return error;
      for (auto field : object) {
        std::string_view key;
        if (auto error = field.unescaped_key().get(key)) return error;
        ++tally->strings;
        od::value inner;
        if (auto error = field.value().get(inner)) return error;
        if (auto error = Walk(inner, tally)) return error;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      od::array array;
      if (auto error = value.get_array().get(array)) return error;
      for (auto element : array) {
        od::value inner;
        if (auto error = element.get(inner)) return error;
        if (auto error = Walk(inner, tally)) return error;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::string: {
      std::string_view text;
      ++tally->strings;
      return value.get_string().get(text);
    }
    case od::json_type::number: {
      double number;
      ++tally->numbers;
      return value.get_double().get(number);
    }
    case od::json_type::boolean: {
      bool flag;
      return value.get_bool().get(flag);
    }
    case od::json_type::null:
      return simdjson::SUCCESS;
  }
  return simdjson::SUCCESS;
}

Result<WalkTally> WalkSpans(std::string_view text, size_t capacity,
                            const RecordSpans& spans, od::parser* parser) {
  WalkTally tally;
  for (const auto& [at, length] : spans) {
    const simdjson::padded_string_view json(text.data() + at, length,
                                            capacity - at);
    od::document doc;
    od::value root;
    simdjson::error_code error = parser->iterate(json).get(doc);
    if (!error) error = doc.get_value().get(root);
    if (!error) error = Walk(root, &tally);
    if (error) {
      return Malformed(std::string("the walk failed: ") +
                       simdjson::error_message(error));
    }
  }
  return tally;
}

}  // namespace

RecordSpans SplitRecords(std::string_view ndjson) {
  RecordSpans spans;
  for (size_t at = 0; at < ndjson.size();) {
    size_t end = ndjson.find('\n', at);
    if (end == std::string_view::npos) end = ndjson.size();
    if (ndjson.find_first_not_of(" \t\r", at) < end) {
      spans.emplace_back(at, end - at);
    }
    at = end + 1;
  }
  return spans;
}

Result<WalkTally> WalkRecords(std::string_view ndjson, size_t capacity,
                              const RecordSpans& spans) {
  od::parser parser;
  return WalkSpans(ndjson, capacity, spans, &parser);
}

Result<LoadStageFigures> MeasureLoadStages(std::string_view ndjson,
                                           int passes) {
  std::string text(ndjson);
  const size_t capacity = text.size() + simdjson::SIMDJSON_PADDING;
  text.append(simdjson::SIMDJSON_PADDING, ' ');
  const RecordSpans lines = SplitRecords(ndjson);
  LoadStageFigures figures;
  figures.records = lines.size();
  if (lines.empty()) return figures;
  const double records = static_cast<double>(lines.size());

  od::parser walker;
  double best = 0;
  for (int pass = 0; pass < passes; ++pass) {
    const auto start = Clock::now();
    Result<WalkTally> walked = WalkSpans(text, capacity, lines, &walker);
    const double us = MicrosSince(start);
    if (!walked.ok()) return walked.status();
    if (pass == 0 || us < best) best = us;
  }
  figures.walk_us = best / records;

  // Parse and store take turns a batch at a time, as in the loader, so
  // that the store reads parsed records still in the caches; the slots of
  // the id and identity tables a few records ahead are requested first.
  constexpr size_t kBatch = 256, kAhead = 8;
  RecordParser parser;
  std::vector<ProfileInput> inputs(kBatch);
  std::unique_ptr<ProfileStore> store;
  double best_parse = 0, best_store = 0;
  for (int pass = 0; pass < passes; ++pass) {
    store = std::make_unique<ProfileStore>();
    double parse_us = 0, store_us = 0;
    for (size_t first = 0; first < lines.size(); first += kBatch) {
      const size_t n = std::min(kBatch, lines.size() - first);
      auto start = Clock::now();
      for (size_t i = 0; i < n; ++i) {
        const auto [at, length] = lines[first + i];
        Status parsed =
            parser.Parse(text.data() + at, length, capacity - at, &inputs[i]);
        if (!parsed.ok()) return parsed;
      }
      parse_us += MicrosSince(start);
      start = Clock::now();
      for (size_t i = 0; i < std::min(kAhead, n); ++i) {
        store->Prefetch(inputs[i]);
      }
      for (size_t i = 0; i < n; ++i) {
        if (i + kAhead < n) store->Prefetch(inputs[i + kAhead]);
        Result<UpsertOutcome> stored = store->Upsert(inputs[i]);
        if (!stored.ok()) return stored.status();
      }
      store_us += MicrosSince(start);
    }
    if (pass == 0 || parse_us < best_parse) best_parse = parse_us;
    if (pass == 0 || store_us < best_store) best_store = store_us;
  }
  figures.parse_us = best_parse / records;
  figures.store_us = best_store / records;

  std::shared_ptr<const Index> index;
  tbb::task_arena one_thread(1);
  const auto start = Clock::now();
  one_thread.execute([&] { index = Index::Build(*store); });
  figures.index_us = MicrosSince(start) / records;
  figures.profiles = store->live_count();
  if (index->live_count() != figures.profiles) {
    return Status(ErrorCode::kInternal,
                  "the index holds " + std::to_string(index->live_count()) +
                      " profiles of the store's " +
                      std::to_string(figures.profiles));
  }
  return figures;
}

}  // namespace segd
