// RowTable against a plain multimap twin, with hashes chosen to collide.
#include "index/row_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "tests/index_compare.h"

namespace segd {
namespace {

TEST(RowTableTest, FindsInsertedRowsAndForgetsErasedOnes) {
  RowTable table;
  table.Insert(1ull << 32, 7);
  table.Insert(2ull << 32, 8);
  auto is = [](uint32_t want) {
    return [want](uint32_t row) { return row == want; };
  };
  EXPECT_EQ(table.Find(1ull << 32, is(7)), 7u);
  EXPECT_FALSE(table.Find(1ull << 32, is(8)).has_value());
  table.Erase(1ull << 32, 7);
  EXPECT_FALSE(table.Find(1ull << 32, is(7)).has_value());
  EXPECT_EQ(table.Find(2ull << 32, is(8)), 8u);
  EXPECT_EQ(table.size(), 1u);
}

// A table moved from is empty, both ways, and takes entries again.
TEST(RowTableTest, ATableMovedFromIsEmpty) {
  auto any = [](uint32_t) { return true; };
  RowTable table;
  table.Insert(1ull << 32, 7);
  RowTable taken(std::move(table));
  EXPECT_EQ(table.size(), 0u);  // NOLINT(bugprone-use-after-move)
  EXPECT_FALSE(table.Find(1ull << 32, any).has_value());
  EXPECT_EQ(taken.Find(1ull << 32, any), 7u);
  RowTable assigned;
  assigned = std::move(taken);
  EXPECT_EQ(taken.size(), 0u);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(taken.MemoryBytes(), 0u);
  EXPECT_EQ(assigned.size(), 1u);
  taken.Insert(2ull << 32, 8);
  EXPECT_EQ(taken.Find(2ull << 32, any), 8u);
  EXPECT_EQ(taken.size(), 1u);
}

TEST(RowTableTest, AgreesWithAMultimapUnderRandomChurn) {
  // Few distinct hashes so that probe runs are long and wrap around, and
  // deletions must shift entries back across them.
  std::mt19937_64 rng(7);
  RowTable table;
  std::multimap<uint64_t, uint32_t> twin;
  std::set<uint32_t> live_rows;
  uint32_t next_row = 0;
  for (int step = 0; step < 30000; ++step) {
    const uint64_t hash = (rng() % 97) << 32 | (rng() & 0xFF);
    if (rng() % 3 != 0 || twin.empty()) {
      table.Insert(hash, next_row);
      twin.emplace(hash, next_row);
      live_rows.insert(next_row++);
    } else {
      auto it = twin.begin();
      std::advance(it, rng() % std::min<size_t>(twin.size(), 50));
      table.Erase(it->first, it->second);
      live_rows.erase(it->second);
      twin.erase(it);
    }
    ASSERT_EQ(table.size(), twin.size());
    if (step % 3000 == 0) {
      for (const auto& [h, row] : twin) {
        const uint32_t want = row;
        ASSERT_EQ(table.Find(h, [&](uint32_t r) { return r == want; }), want);
        // The candidate loaded ahead is the first that Find tests.
        ASSERT_EQ(table.FirstCandidate(h),
                  table.Find(h, [](uint32_t) { return true; }));
      }
      for (uint64_t h = 97; h < 100; ++h) {
        ASSERT_EQ(table.FirstCandidate(h << 32),
                  table.Find(h << 32, [](uint32_t) { return true; }));
      }
    }
  }
  // Rows erased are gone everywhere.
  for (uint32_t row = 0; row < next_row; ++row) {
    if (live_rows.count(row)) continue;
    for (uint64_t h = 0; h < 97; ++h) {
      for (uint64_t low = 0; low < 256; low += 85) {
        ASSERT_FALSE(
            table.Find(h << 32 | low, [&](uint32_t r) { return r == row; }));
      }
    }
    if (row > 300) break;
  }
}

// An archived table of `slots` slots whose first `entries` hold rows
// 0..entries-1 (a slot is its tag, then its row; kEmpty is all ones).
std::string ArchivedTable(size_t slots, size_t entries) {
  std::vector<uint64_t> raw(slots, uint64_t{0xFFFFFFFF} << 32);
  for (size_t i = 0; i < entries; ++i) raw[i] = uint64_t{i} << 32 | i;
  testing::StringWriter out;
  out.Vector(raw);
  return out.bytes;
}

TEST(RowTableTest, PackedEntriesAreFoundAsInsertedOnes) {
  RowTable table;
  const uint64_t hash = 0x12345678'9ABCDEF0;
  table.InsertPacked(RowTable::Pack(hash, 42));
  // Any hash with the same high half finds it; the low half holds the row.
  EXPECT_EQ(table.Find(hash, [](uint32_t row) { return row == 42; }), 42u);
  EXPECT_EQ(table.Find(0x12345678'00000000, [](uint32_t) { return true; }),
            42u);
  EXPECT_EQ(RowTable::Pack(hash, 42), 0x12345678'0000002Aull);
  EXPECT_EQ(table.size(), 1u);
}

TEST(RowTableTest, FillsThreeQuartersOfItsSlotsBeforeGrowing) {
  RowTable table;
  for (uint32_t row = 0; row < 12; ++row)
    table.Insert(uint64_t{row} << 32, row);
  EXPECT_EQ(table.MemoryBytes(), 16 * 8u);
  table.Insert(uint64_t{12} << 32, 12);
  EXPECT_EQ(table.MemoryBytes(), 32 * 8u);
  for (uint32_t row = 0; row <= 12; ++row) {
    EXPECT_EQ(
        table.Find(uint64_t{row} << 32, [&](uint32_t r) { return r == row; }),
        row);
  }
  RowTable sized;
  sized.Reserve(12'000'000);
  EXPECT_EQ(sized.MemoryBytes(), (size_t{1} << 24) * 8);  // 16M slots
}

TEST(RowTableTest, LoadsTablesNoFullerThanItWouldGrow) {
  for (const auto& [entries, fits] : std::vector<std::pair<size_t, bool>>{
           {0, true}, {12, true}, {13, false}, {16, false}}) {
    const std::string bytes = ArchivedTable(16, entries);
    MemoryReader in(bytes.data(), bytes.size());
    RowTable table;
    EXPECT_EQ(table.Load(in), fits) << entries << " entries";
    if (fits) {
      EXPECT_EQ(table.size(), entries);
    }
  }
  const std::string odd = ArchivedTable(12, 1);  // not a power of two
  MemoryReader in(odd.data(), odd.size());
  RowTable table;
  EXPECT_FALSE(table.Load(in));
}

}  // namespace
}  // namespace segd
