// The load-stage measurement behind `segd bench`: its walk must see every
// string and number of the records, and every stage must run over all of
// them (times are not checked).
#include "bench/load_stages.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <string>

#include "tools/gen.h"

namespace segd {
namespace {

std::string Padded(std::string text) {
  text.append(simdjson::SIMDJSON_PADDING, ' ');
  return text;
}

TEST(LoadStagesTest, WalkCountsEveryStringAndNumber) {
  const std::string records =
      "{\"id\":\"a\",\"n\":1.5,\"tags\":[\"x\",\"y\"],\"o\":{\"k\":[2,3]}}\n"
      "\n"
      "{\"id\":\"b\",\"ok\":true,\"none\":null,\"s\":\"q\\\"uote\"}\n";
  const std::string text = Padded(records);
  const RecordSpans spans = SplitRecords(records);
  ASSERT_EQ(spans.size(), 2u);  // the blank line is no record
  const Result<WalkTally> tally = WalkRecords(records, text.size(), spans);
  ASSERT_TRUE(tally.ok()) << tally.status().message();
  // Keys id n tags o k, values a x y; keys id ok none s, values b q"uote.
  EXPECT_EQ(tally->strings, 14u);
  EXPECT_EQ(tally->numbers, 3u);
}

TEST(LoadStagesTest, WalkReportsAMalformedRecord) {
  const std::string records = "{\"id\":\"a\"}\n{\"id\":\"b\",}\n";
  const std::string text = Padded(records);
  EXPECT_FALSE(WalkRecords(records, text.size(), SplitRecords(records)).ok());
}

TEST(LoadStagesTest, EveryStageRunsOverEveryRecord) {
  GenOptions options;
  options.profiles = 600;  // more than two of the loader's batches
  const std::string records = GenerateProfilesToString(options);
  const Result<LoadStageFigures> figures = MeasureLoadStages(records, 2);
  ASSERT_TRUE(figures.ok()) << figures.status().message();
  EXPECT_EQ(figures->records, 600u);
  EXPECT_EQ(figures->profiles, 600u);  // stored and indexed
  EXPECT_GT(figures->walk_us, 0);
  EXPECT_GT(figures->parse_us, 0);
  EXPECT_GT(figures->store_us, 0);
  EXPECT_GT(figures->index_us, 0);
  EXPECT_DOUBLE_EQ(figures->total_us(),
                   figures->parse_us + figures->store_us + figures->index_us);
}

TEST(LoadStagesTest, ARejectedRecordFailsTheMeasurement) {
  // The second record gives `n` another type: the store rejects it.
  const std::string records =
      "{\"id\":\"a\",\"n\":1}\n{\"id\":\"b\",\"n\":\"text\"}\n";
  const Result<LoadStageFigures> figures = MeasureLoadStages(records, 1);
  ASSERT_FALSE(figures.ok());
  EXPECT_NE(figures.status().message().find("\"n\""), std::string::npos)
      << figures.status().message();
}

}  // namespace
}  // namespace segd
