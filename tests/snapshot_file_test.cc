// Snapshot files on their own (live/snapshot_file.h): what a writer puts
// is what a reader gets, at every length around the buffers (the writer's
// 1 MiB, the reader's 4 MiB) and the direct-write block, sections read on
// threads of their own included, and damage is refused.
#include "live/snapshot_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace segd {
namespace {

namespace fs = std::filesystem;

class SnapshotFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = ::testing::TempDir() + "/segd_snapshot_file_XXXXXX";
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string dir_;
};

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// The fixed bytes around the data: magic and sequence number, then the
// end magic and the checksum.
constexpr uint64_t kHeaderBytes = 16;
constexpr uint64_t kTrailerBytes = 12;

TEST_F(SnapshotFileTest, ReadsBackEveryLengthAroundTheBufferAndTheBlock) {
  constexpr size_t kBuffer = size_t{1} << 20;
  std::mt19937_64 rng(7);
  for (const size_t length :
       {size_t{0}, size_t{1}, kDirectIoBlock - kHeaderBytes - kTrailerBytes,
        kDirectIoBlock - kHeaderBytes - kTrailerBytes + 1,
        kDirectIoBlock - kHeaderBytes, kBuffer - kHeaderBytes - kTrailerBytes,
        kBuffer - kHeaderBytes - 5, kBuffer - kHeaderBytes,
        kBuffer - kHeaderBytes + 1, 9 * kBuffer + 4321}) {
    SCOPED_TRACE("length " + std::to_string(length));
    const uint64_t seq = 1000 + length;
    const std::string data = RandomBytes(rng, length);
    {
      Result<std::unique_ptr<SnapshotWriter>> writer =
          SnapshotWriter::Create(dir_, seq);
      ASSERT_TRUE(writer.ok()) << writer.status().ToString();
      // Pieces of every size, so that they straddle the buffer's end.
      for (size_t done = 0; done < length;) {
        const size_t piece = std::min(length - done, size_t{1} + rng() % 9000);
        (*writer)->Put(data.data() + done, piece);
        done += piece;
      }
      EXPECT_EQ((*writer)->bytes(), kHeaderBytes + length);
      ASSERT_TRUE((*writer)->Commit().ok());
    }
    const std::string path = dir_ + "/" + SnapshotFileName(seq);
    EXPECT_FALSE(fs::exists(path + ".tmp"));
    EXPECT_EQ(fs::file_size(path), kHeaderBytes + length + kTrailerBytes);
    Result<std::unique_ptr<SnapshotReader>> reader = SnapshotReader::Open(path);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    EXPECT_EQ((*reader)->seq(), seq);
    std::string back(length, '\0');
    ASSERT_TRUE((*reader)->Get(back.data(), length));
    EXPECT_TRUE(back == data);
    EXPECT_EQ((*reader)->remaining(), 0u);
    EXPECT_TRUE((*reader)->Finish().ok());
    EXPECT_EQ(*VerifySnapshotFile(path), seq);
  }
}

// A snapshot of `outer` bytes around two sections, each of `inner` bytes
// holding a nested section of `inner / 2`: the shape the database writes.
struct Nested {
  std::string before, a, a_inner, b, after;
};

Nested MakeNested(std::mt19937_64& rng, size_t inner) {
  return {RandomBytes(rng, 3000), RandomBytes(rng, inner),
          RandomBytes(rng, inner / 2), RandomBytes(rng, inner),
          RandomBytes(rng, 5000)};
}

void WriteNested(const std::string& dir, uint64_t seq, const Nested& n) {
  Result<std::unique_ptr<SnapshotWriter>> writer =
      SnapshotWriter::Create(dir, seq);
  ASSERT_TRUE(writer.ok());
  ArchiveWriter& out = **writer;
  out.Bytes(n.before);
  out.Section([&](ArchiveWriter& w) {
    w.Bytes(n.a);
    w.Section([&](ArchiveWriter& x) { x.Bytes(n.a_inner); });
  });
  out.Section([&](ArchiveWriter& w) { w.Bytes(n.b); });
  out.Bytes(n.after);
  ASSERT_TRUE((*writer)->Commit().ok());
}

TEST_F(SnapshotFileTest, SectionsReadOnThreadsOfTheirOwnAddUpToTheChecksum) {
  std::mt19937_64 rng(9);
  const Nested want = MakeNested(rng, 3 << 20);
  WriteNested(dir_, 1, want);
  const std::string path = dir_ + "/" + SnapshotFileName(1);

  // Whole: the sections read on threads while this reader reads on.
  for (const bool read_b_whole : {true, false}) {
    SCOPED_TRACE(read_b_whole ? "every byte read" : "a section left unread");
    Result<std::unique_ptr<SnapshotReader>> reader = SnapshotReader::Open(path);
    ASSERT_TRUE(reader.ok());
    SnapshotReader& in = **reader;
    Nested got;
    ASSERT_TRUE(in.Bytes(&got.before));
    {
      std::unique_ptr<ArchiveReader> a = in.Section();
      std::unique_ptr<ArchiveReader> b = in.Section();
      ASSERT_TRUE(a != nullptr && b != nullptr);
      std::thread read_a([&] {
        std::unique_ptr<ArchiveReader> a_inner;
        ASSERT_TRUE(a->Bytes(&got.a));
        a_inner = a->Section();
        ASSERT_TRUE(a_inner != nullptr);
        EXPECT_EQ(a->remaining(), 0u);
        ASSERT_TRUE(a_inner->Bytes(&got.a_inner));
      });
      std::thread read_b([&] {
        if (read_b_whole) {
          ASSERT_TRUE(b->Bytes(&got.b));
        } else {
          char skipped[100];
          ASSERT_TRUE(b->Get(skipped, sizeof(skipped)));
        }
      });
      ASSERT_TRUE(in.Bytes(&got.after));
      read_a.join();
      read_b.join();
    }
    EXPECT_TRUE(got.before == want.before && got.a == want.a &&
                got.a_inner == want.a_inner && got.after == want.after);
    const Status finished = in.Finish();
    if (read_b_whole) {
      EXPECT_TRUE(got.b == want.b);
      EXPECT_TRUE(finished.ok()) << finished.ToString();
    } else {
      EXPECT_EQ(finished.code(), ErrorCode::kCorrupt);
      EXPECT_NE(finished.message().find("unread"), std::string::npos)
          << finished.ToString();
    }
  }
}

TEST_F(SnapshotFileTest, AFlippedBitInASectionIsRefused) {
  std::mt19937_64 rng(10);
  const Nested want = MakeNested(rng, 100000);
  WriteNested(dir_, 2, want);
  const std::string path = dir_ + "/" + SnapshotFileName(2);
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // A byte of the nested section, and one of the second section.
  for (const size_t at : {size_t{16 + 4 + 3000 + 8 + 4 + 100000 + 8 + 4 + 10},
                          bytes.size() - 12 - 5000 - 4 - 10}) {
    std::string damaged = bytes;
    damaged[at] ^= 0x01;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << damaged;
    Result<std::unique_ptr<SnapshotReader>> reader = SnapshotReader::Open(path);
    ASSERT_TRUE(reader.ok());
    SnapshotReader& in = **reader;
    Nested got;
    ASSERT_TRUE(in.Bytes(&got.before));
    {
      std::unique_ptr<ArchiveReader> a = in.Section();
      std::unique_ptr<ArchiveReader> b = in.Section();
      ASSERT_TRUE(a->Bytes(&got.a));
      std::unique_ptr<ArchiveReader> a_inner = a->Section();
      ASSERT_TRUE(a_inner->Bytes(&got.a_inner));
      ASSERT_TRUE(b->Bytes(&got.b));
      ASSERT_TRUE(in.Bytes(&got.after));
    }
    EXPECT_FALSE(got.a_inner == want.a_inner && got.b == want.b);
    const Status finished = in.Finish();
    EXPECT_EQ(finished.code(), ErrorCode::kCorrupt) << at;
    EXPECT_NE(finished.message().find("checksum"), std::string::npos);
  }
}

TEST_F(SnapshotFileTest, AFlippedBitAnywhereIsRefused) {
  std::mt19937_64 rng(8);
  const std::string data = RandomBytes(rng, 10000);
  {
    Result<std::unique_ptr<SnapshotWriter>> writer =
        SnapshotWriter::Create(dir_, 5);
    ASSERT_TRUE(writer.ok());
    (*writer)->Put(data.data(), data.size());
    ASSERT_TRUE((*writer)->Commit().ok());
  }
  const std::string path = dir_ + "/" + SnapshotFileName(5);
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (const size_t at : {size_t{3}, size_t{12}, size_t{20}, size_t{9000},
                          bytes.size() - 10, bytes.size() - 1}) {
    SCOPED_TRACE("byte " + std::to_string(at));
    std::string damaged = bytes;
    damaged[at] ^= 0x10;
    const std::string copy = dir_ + "/damaged.snap";
    std::ofstream(copy, std::ios::binary | std::ios::trunc) << damaged;
    Result<uint64_t> verified = VerifySnapshotFile(copy);
    ASSERT_FALSE(verified.ok());
    EXPECT_EQ(verified.status().code(), ErrorCode::kCorrupt);
  }
}

TEST_F(SnapshotFileTest, AWriterNeverCommittedLeavesNoFile) {
  {
    Result<std::unique_ptr<SnapshotWriter>> writer =
        SnapshotWriter::Create(dir_, 9);
    ASSERT_TRUE(writer.ok());
    const std::string data(3 << 20, 'x');
    (*writer)->Put(data.data(), data.size());
  }
  EXPECT_TRUE(fs::is_empty(dir_));
}

}  // namespace
}  // namespace segd
