// Snapshot files on their own (live/snapshot_file.h): what a writer puts
// is what a reader gets, at every length around the writer's buffer and
// the direct-write block, and damage is refused.
#include "live/snapshot_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
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
        kBuffer - kHeaderBytes + 1, 3 * kBuffer + 4321}) {
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
