// The blob arena against a plain map of rows to strings, and its pages'
// lives: a page is freed when neither the arena nor a pin holds it.
#include "index/blob_arena.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "index/blob_page.h"

namespace segd {
namespace {

size_t PagesAlive() { return BlobPage::allocated_bytes() / BlobPage::kBytes; }

std::string Blob(int row, int version, size_t size = 200) {
  std::string s = std::to_string(row) + "/" + std::to_string(version) + ":";
  s.resize(size, static_cast<char>('a' + (row + version) % 26));
  return s;
}

TEST(BlobPageTest, AnAddressAnywhereInAPageFindsIt) {
  PageRef page(BlobPage::Allocate(3 * BlobPage::kBytes - 5));
  ASSERT_EQ(page->size(), 3 * BlobPage::kBytes);
  EXPECT_EQ(BlobPage::Of(page->data()), page.get());
  EXPECT_EQ(BlobPage::Of(page->data() + BlobPage::kBytes + 17), page.get());
  EXPECT_EQ(BlobPage::Of(page->data() + page->size() - 1), page.get());
  const size_t before = BlobPage::allocated_bytes();
  page.reset();
  EXPECT_EQ(BlobPage::allocated_bytes(), before - 3 * BlobPage::kBytes);
}

TEST(BlobArenaTest, ReservingALittleMoreStillDoublesTheRowSpace) {
  BlobArena arena;
  arena.Reserve(1000);
  const size_t sized = arena.MemoryBytes();
  EXPECT_GE(sized, 1000 * sizeof(BlobArena::Placed));
  arena.Reserve(1001);  // a batch's few rows more: room for 2,000
  EXPECT_EQ(arena.MemoryBytes() - sized, 1000 * sizeof(BlobArena::Placed));
  const size_t doubled = arena.MemoryBytes();
  arena.Reserve(2000);  // within the room held
  EXPECT_EQ(arena.MemoryBytes(), doubled);
}

// Pages made ready ahead: blobs read back as stored, across pages; while
// the arena fills, one page more than those it holds is alive, and none
// once it stops or goes. A blob larger than a page takes a page of its
// own, not the one ahead.
TEST(BlobArenaTest, PagesMadeReadyAheadHoldTheSameBlobs) {
  const size_t before = PagesAlive();
  // The page ahead is allocated on a thread of its own: wait for it.
  auto pages_alive_soon = [&](size_t pages) {
    for (int i = 0; i < 10000 && PagesAlive() - before != pages; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return PagesAlive() - before;
  };
  {
    BlobArena arena;
    arena.set_page_fill(1900);  // nine blobs of 200 bytes a page
    arena.set_pages_ahead(true);
    for (int row = 0; row < 30; ++row) arena.Set(row, Blob(row, 0));
    EXPECT_EQ(pages_alive_soon(4 + 1), 4u + 1);
    arena.Set(30, Blob(30, 0, BlobPage::kBytes + 1));
    EXPECT_EQ(pages_alive_soon(4 + 2 + 1), 4u + 2 + 1);
    for (int row = 0; row < 30; ++row) {
      ASSERT_EQ(arena.Get(row), Blob(row, 0)) << row;
    }
    EXPECT_EQ(arena.Get(30), Blob(30, 0, BlobPage::kBytes + 1));
    EXPECT_TRUE(arena.CountsAgree());
    arena.set_pages_ahead(false);
    EXPECT_EQ(PagesAlive() - before, 4u + 2);
    arena.set_pages_ahead(true);
    arena.Set(31, Blob(31, 0));  // a new page, and one ahead again
    EXPECT_EQ(pages_alive_soon(4 + 2 + 1 + 1), 4u + 2 + 1 + 1);
    // Moved with its page ahead, and filled on.
    BlobArena moved;
    moved = std::move(arena);
    moved.Set(32, Blob(32, 0));
    EXPECT_EQ(moved.Get(5), Blob(5, 0));
    EXPECT_EQ(moved.Get(32), Blob(32, 0));
  }
  EXPECT_EQ(PagesAlive(), before);
}

// The lines that a blob's loads ahead cover: every line holding one of its
// bytes, and no other.
TEST(BlobArenaTest, LinesOfABlobAreThoseHoldingItsBytes) {
  using Lines = std::pair<uintptr_t, uintptr_t>;
  EXPECT_EQ(BlobArena::LinesOf(4096, 1), Lines(4096, 4160));
  EXPECT_EQ(BlobArena::LinesOf(4096, 64), Lines(4096, 4160));
  EXPECT_EQ(BlobArena::LinesOf(4096, 65), Lines(4096, 4224));
  EXPECT_EQ(BlobArena::LinesOf(4159, 1), Lines(4096, 4160));
  EXPECT_EQ(BlobArena::LinesOf(4159, 2), Lines(4096, 4224));
  EXPECT_EQ(BlobArena::LinesOf(4100, 60), Lines(4096, 4160));
  EXPECT_EQ(BlobArena::LinesOf(4100, BlobArena::kWholePrefetchBytes),
            Lines(4096, 4100 + 2048 + 60));
}

// A blob loaded ahead: its first line alone, or every line of a short one,
// or the lines of a long one's first kWholePrefetchBytes; an empty row
// loads nothing.
TEST(BlobArenaTest, LoadsAheadCoverTheBlobsFirstBytes) {
  BlobArena arena;
  arena.Set(0, std::string(100, 's'));
  arena.Set(1, std::string(5 * BlobArena::kWholePrefetchBytes, 'l'));
  arena.Set(2, "gone");
  arena.Clear(2);
  using Lines = std::pair<uintptr_t, uintptr_t>;
  for (uint32_t row : {0u, 1u}) {
    const std::string_view blob = arena.Get(row);
    const auto at = reinterpret_cast<uintptr_t>(blob.data());
    const uint32_t shown = std::min<uint32_t>(
        static_cast<uint32_t>(blob.size()), BlobArena::kWholePrefetchBytes);
    EXPECT_EQ(arena.PrefetchLines(row, true), BlobArena::LinesOf(at, shown));
    EXPECT_EQ(arena.PrefetchLines(row, false), BlobArena::LinesOf(at, 1));
  }
  const Lines long_lines = arena.PrefetchLines(1, true);
  EXPECT_LE(long_lines.second - long_lines.first,
            BlobArena::kWholePrefetchBytes + BlobArena::kLineBytes);
  EXPECT_EQ(arena.PrefetchLines(2, true), Lines(0, 0));
}

TEST(BlobArenaTest, PagesNoCurrentBlobUsesAreFreed) {
  const size_t before = PagesAlive();
  {
    BlobArena arena;
    arena.set_page_fill(1900);  // nine blobs of 200 bytes a page
    for (int row = 0; row < 90; ++row) arena.Set(row, Blob(row, 0));
    EXPECT_EQ(PagesAlive(), before + 10);
    for (int version = 1; version <= 5; ++version) {
      for (int row = 0; row < 90; ++row) arena.Set(row, Blob(row, version));
      EXPECT_TRUE(arena.CountsAgree());
    }
    // The blobs of the last version, and the page being filled.
    EXPECT_LE(PagesAlive(), before + 11);
    EXPECT_EQ(arena.live_bytes(), 90u * 200);
    for (int row = 0; row < 90; ++row) EXPECT_EQ(arena.Get(row), Blob(row, 5));
    for (int row = 0; row < 90; ++row) arena.Clear(row);
    EXPECT_TRUE(arena.CountsAgree());
    EXPECT_EQ(arena.live_bytes(), 0u);
    EXPECT_LE(PagesAlive(), before + 1);
  }
  EXPECT_EQ(PagesAlive(), before);
}

TEST(BlobArenaTest, APinnedPageOutlivesItsBlobs) {
  const size_t before = PagesAlive();
  BlobArena arena;
  arena.set_page_fill(1000);
  for (int row = 0; row < 10; ++row) arena.Set(row, Blob(row, 0));
  const std::string_view old = arena.Get(0);
  PagePins pins;
  pins.Add(old.data());
  for (int row = 0; row < 10; ++row) arena.Set(row, Blob(row, 1));
  // The arena let the first page go; the pin keeps its bytes readable.
  EXPECT_TRUE(arena.CountsAgree());
  EXPECT_EQ(old, Blob(0, 0));
  const size_t pinned = PagesAlive();
  pins.Clear();
  EXPECT_EQ(PagesAlive(), pinned - 1);
  EXPECT_GE(PagesAlive(), before);
}

TEST(BlobArenaTest, RepointedRowsLetASparsePageGo) {
  BlobArena arena;
  arena.set_page_fill(1900);
  for (int row = 0; row < 20; ++row) arena.Set(row, Blob(row, 0));
  // Rows 0..8 fill the first page; seven of them move on.
  for (int row = 0; row < 7; ++row) arena.Set(row, Blob(row, 1));
  EXPECT_TRUE(arena.CountsAgree());
  EXPECT_EQ(arena.sparse_bytes(), 1800u);
  const size_t pages = PagesAlive();
  {
    BlobPacker packer(1900);
    const std::string_view copies[] = {packer.Copy(arena.Get(7)),
                                       packer.Copy(arena.Get(8))};
    arena.Repoint(7, copies[0]);
    arena.Repoint(8, copies[1]);
    EXPECT_TRUE(arena.CountsAgree());
    // The packer's page, a fifth filled, is sparse in its turn.
    EXPECT_EQ(arena.sparse_bytes(), 400u);
    // The sparse page is gone; the packer's is held by it and the arena.
    EXPECT_EQ(PagesAlive(), pages);
  }
  EXPECT_EQ(PagesAlive(), pages);
  for (int row = 7; row < 9; ++row) EXPECT_EQ(arena.Get(row), Blob(row, 0));
  for (int row = 7; row < 9; ++row) arena.Clear(row);
  EXPECT_TRUE(arena.CountsAgree());
  EXPECT_EQ(PagesAlive(), pages - 1);
}

TEST(BlobArenaTest, ABlobLargerThanAPageHasOneOfItsOwn) {
  BlobArena arena;
  arena.set_page_fill(1000);
  arena.Set(0, Blob(0, 0));
  const std::string large = Blob(1, 0, 5 * BlobPage::kBytes + 3);
  arena.Set(1, large);
  arena.Set(2, Blob(2, 0));
  EXPECT_TRUE(arena.CountsAgree());
  EXPECT_EQ(arena.Get(1), large);
  EXPECT_EQ(BlobPage::Of(arena.Get(1).data() + large.size() - 1),
            BlobPage::Of(arena.Get(1).data()));
  EXPECT_NE(BlobPage::Of(arena.Get(2).data()),
            BlobPage::Of(arena.Get(1).data()));
  arena.Clear(1);
  EXPECT_TRUE(arena.CountsAgree());
}

// Random sets, clears, repoints and pins against a map; the counters
// against their recount after every step.
TEST(BlobArenaTest, RandomEditsAgreeWithAMap) {
  const size_t before = PagesAlive();
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    std::mt19937 rng(seed);
    BlobArena arena;
    arena.set_page_fill(1 + rng() % 3000);
    std::map<uint32_t, std::string> expected;
    std::vector<PagePins> pins(4);
    std::vector<std::pair<std::string_view, std::string>> pinned_views;
    std::vector<std::unique_ptr<BlobPacker>> packers;
    for (int step = 0; step < 3000; ++step) {
      const uint32_t row = rng() % (arena.size() + 1);
      switch (rng() % 6) {
        case 0:
        case 1:
        case 2: {
          const std::string blob = Blob(static_cast<int>(row), step,
                                        rng() % 4 == 0 ? 0 : 1 + rng() % 900);
          arena.Set(row, blob);
          if (blob.empty()) {
            expected.erase(row);
          } else {
            expected[row] = blob;
          }
          break;
        }
        case 3:
          if (row < arena.size()) {
            arena.Clear(row);
            expected.erase(row);
          }
          break;
        case 4: {
          // A few rows copied, then read from their copies (a page is
          // filled no further once the arena may hold it).
          auto packer = std::make_unique<BlobPacker>(1 + rng() % 3000);
          std::vector<std::pair<uint32_t, std::string_view>> copies;
          for (int k = 0; k < 4; ++k) {
            const uint32_t r = rng() % (arena.size() + 1);
            if (r < arena.size() && !arena.Get(r).empty()) {
              copies.emplace_back(r, packer->Copy(arena.Get(r)));
            }
          }
          for (const auto& [r, copy] : copies) {
            if (arena.Get(r).data() != copy.data()) arena.Repoint(r, copy);
          }
          if (rng() % 2 == 0) packers.push_back(std::move(packer));
          break;
        }
        case 5:
          if (row < arena.size() && !arena.Get(row).empty()) {
            const size_t k = rng() % pins.size();
            if (rng() % 4 == 0) {
              pinned_views.clear();
              for (PagePins& p : pins) p.Clear();
            } else {
              pins[k].Add(arena.Get(row).data());
              pinned_views.emplace_back(arena.Get(row),
                                        std::string(arena.Get(row)));
            }
          }
          break;
      }
      if (rng() % 16 == 0 && !packers.empty()) packers.erase(packers.begin());
      ASSERT_TRUE(arena.CountsAgree()) << "seed " << seed << " step " << step;
    }
    for (uint32_t row = 0; row < arena.size(); ++row) {
      const auto it = expected.find(row);
      EXPECT_EQ(arena.Get(row), it == expected.end() ? "" : it->second)
          << "seed " << seed << " row " << row;
    }
    // Bytes a pin holds stay as they were, whatever the arena did since.
    for (const auto& [view, bytes] : pinned_views) EXPECT_EQ(view, bytes);
  }
  EXPECT_EQ(PagesAlive(), before);
}

}  // namespace
}  // namespace segd
