// Tests of the write-ahead log: the CRC-32C paths against each other and
// known vectors, framing, round trips, torn tails, corruption, segment
// removal, group commit and sync failure.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "wal/crc32c.h"
#include "wal/log.h"

namespace segd {
namespace {

namespace fs = std::filesystem;
using crc32c_internal::Crc32cPortable;
using crc32c_internal::Crc32cSse42;
using crc32c_internal::HasSse42;

// ---------------------------------------------------------------------------
// Helpers

// Directories made by TestDir(), removed when the run ends.
std::vector<fs::path>& TestDirs() {
  static std::vector<fs::path> dirs;
  return dirs;
}

class RemoveTestDirs : public ::testing::Environment {
 public:
  void TearDown() override {
    std::error_code ignored;
    for (const fs::path& dir : TestDirs()) fs::remove_all(dir, ignored);
  }
};

[[maybe_unused]] ::testing::Environment* const kRemoveTestDirs =
    ::testing::AddGlobalTestEnvironment(new RemoveTestDirs);

// A fresh, empty directory for the running test.
std::string TestDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = fs::path(::testing::TempDir()) /
                 ("wal_test_" + std::string(info->test_suite_name()) + "_" +
                  info->name() + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  TestDirs().push_back(dir);
  return dir.string();
}

std::string Bytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

struct ReadResult {
  Status status;
  LogReadReport report;
  std::vector<LogRecord> records;
};

ReadResult ReadAll(const std::string& dir, uint64_t from = 1,
                   bool repair = false) {
  ReadResult out;
  Result<LogReadReport> report =
      ReadLog(dir, from, repair, [&](const LogRecord& record) {
        out.records.push_back(record);
        return Status::Ok();
      });
  if (report.ok()) {
    out.report = *report;
  } else {
    out.status = report.status();
  }
  return out;
}

std::unique_ptr<LogWriter> OpenWriter(const std::string& dir, uint64_t next_seq,
                                      FsyncMode mode = FsyncMode::kAlways,
                                      uint64_t segment_bytes = 64ull << 20,
                                      bool direct_io = true) {
  LogOptions options;
  options.dir = dir;
  options.fsync = mode;
  options.segment_bytes = segment_bytes;
  options.direct_io = direct_io;
  Result<std::unique_ptr<LogWriter>> writer =
      LogWriter::Open(options, next_seq);
  EXPECT_TRUE(writer.ok()) << writer.status().ToString();
  return writer.ok() ? std::move(writer).value() : nullptr;
}

// Appends `records` (seq ignored) and checks the seqs given.
void AppendAll(LogWriter& writer, const std::vector<LogRecord>& records) {
  for (const LogRecord& r : records) {
    Result<uint64_t> seq = writer.Append(r.type, r.payload);
    ASSERT_TRUE(seq.ok()) << seq.status().ToString();
    ASSERT_EQ(*seq, r.seq);
  }
}

std::vector<LogRecord> MakeRecords(uint64_t first_seq, size_t count,
                                   size_t max_payload, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<LogRecord> records;
  for (size_t i = 0; i < count; ++i) {
    const size_t size = rng() % (max_payload + 1);
    records.push_back(
        {first_seq + i, static_cast<uint8_t>(rng()), Bytes(rng, size)});
  }
  return records;
}

void ExpectSameRecords(const std::vector<LogRecord>& got,
                       const std::vector<LogRecord>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].seq, want[i].seq) << i;
    EXPECT_EQ(got[i].type, want[i].type) << i;
    EXPECT_EQ(got[i].payload, want[i].payload) << i;
  }
}

std::string SegmentPath(const std::string& dir, uint64_t first_seq) {
  return (fs::path(dir) / LogSegmentName(first_seq)).string();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

void CopyDir(const std::string& from, const std::string& to) {
  fs::remove_all(to);
  fs::copy(from, to, fs::copy_options::recursive);
}

std::vector<std::string> FileNames(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

size_t FrameBytes(const LogRecord& r) {
  return kLogRecordHeaderBytes + r.payload.size();
}

// The framing as documented in wal/log.h, written out independently of
// the writer: the slow twin that crafted segments are made with.
std::string EncodeRecord(uint64_t seq, uint8_t type,
                         const std::string& payload) {
  std::string body;
  for (int i = 0; i < 4; ++i)
    body += static_cast<char>(payload.size() >> (8 * i));
  body += static_cast<char>(type);
  for (int i = 0; i < 8; ++i) body += static_cast<char>(seq >> (8 * i));
  body += payload;
  const uint32_t crc = Crc32cPortable(body.data(), body.size(), 0);
  const uint32_t rotated = (crc >> 15) | (crc << 17);
  const uint32_t masked = rotated + 0xa282ead8u;
  std::string frame;
  for (int i = 0; i < 4; ++i) frame += static_cast<char>(masked >> (8 * i));
  return frame + body;
}

// ---------------------------------------------------------------------------
// CRC-32C

TEST(Crc32cTest, MatchesKnownVectors) {
  const std::string digits = "123456789";
  std::string zeros(32, '\0'), ones(32, '\xff'), up(32, 0), down(32, 0);
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<char>(i);
    down[i] = static_cast<char>(31 - i);
  }
  struct Vector {
    const std::string* data;
    uint32_t crc;
  };
  const Vector vectors[] = {{&digits, 0xE3069283u},
                            {&zeros, 0x8A9136AAu},
                            {&ones, 0x62A8AB43u},
                            {&up, 0x46DD794Eu},
                            {&down, 0x113FDB5Cu}};
  for (const Vector& v : vectors) {
    EXPECT_EQ(Crc32c(v.data->data(), v.data->size()), v.crc);
    EXPECT_EQ(Crc32cPortable(v.data->data(), v.data->size(), 0), v.crc);
    if (HasSse42()) {
      EXPECT_EQ(Crc32cSse42(v.data->data(), v.data->size(), 0), v.crc);
    }
  }
  EXPECT_EQ(Crc32c(nullptr, 0), 0u);
}

TEST(Crc32cTest, ExtendsPieceByPiece) {
  std::mt19937_64 rng(7);
  const std::string data = Bytes(rng, 200);
  const uint32_t whole = Crc32c(data.data(), data.size());
  for (size_t split = 0; split <= data.size(); ++split) {
    const uint32_t first = Crc32c(data.data(), split);
    EXPECT_EQ(Crc32c(data.data() + split, data.size() - split, first), whole)
        << split;
    EXPECT_EQ(Crc32cPortable(data.data() + split, data.size() - split,
                             Crc32cPortable(data.data(), split, 0)),
              whole)
        << split;
  }
}

TEST(Crc32cTest, CombinesTheCrcsOfPieces) {
  std::mt19937_64 rng(5);
  const std::string data = Bytes(rng, 70000);
  const uint32_t whole = Crc32c(data.data(), data.size());
  for (size_t split : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{4096},
                       size_t{65536}, data.size() - 1, data.size()}) {
    const uint32_t a = Crc32c(data.data(), split);
    const uint32_t b = Crc32c(data.data() + split, data.size() - split);
    EXPECT_EQ(Crc32cCombine(a, b, data.size() - split), whole) << split;
  }
  // Many pieces, folded left to right.
  uint32_t crc = 0;
  for (size_t at = 0; at < data.size();) {
    const size_t n = std::min(data.size() - at, size_t{1} + rng() % 5000);
    crc = Crc32cCombine(crc, Crc32c(data.data() + at, n), n);
    at += n;
  }
  EXPECT_EQ(crc, whole);
  // Megabytes at once, against the same bytes fed in piece by piece.
  const std::string zeros(4 << 20, '\0');
  uint32_t fed = Crc32c("abc", 3);
  for (size_t at = 0; at < zeros.size(); at += 1 << 20) {
    fed = Crc32c(zeros.data() + at, 1 << 20, fed);
  }
  EXPECT_EQ(Crc32cCombine(Crc32c("abc", 3), Crc32c(zeros.data(), zeros.size()),
                          zeros.size()),
            fed);
}

TEST(Crc32cTest, HardwareAndPortablePathsAgree) {
  std::mt19937_64 rng(42);
  std::string buffer = Bytes(rng, 300 + 64);
  for (size_t n = 0; n <= 300; ++n) {
    for (int trial = 0; trial < 4; ++trial) {
      const size_t align = rng() % 64;
      const uint32_t seed = trial == 0 ? 0 : static_cast<uint32_t>(rng());
      const char* p = buffer.data() + align;
      const uint32_t portable = Crc32cPortable(p, n, seed);
      EXPECT_EQ(Crc32c(p, n, seed), portable) << n << " at " << align;
      if (HasSse42()) {
        EXPECT_EQ(Crc32cSse42(p, n, seed), portable) << n << " at " << align;
      }
    }
  }
  if (!HasSse42()) GTEST_SKIP() << "no SSE4.2: only the portable path ran";
}

TEST(Crc32cTest, MaskRoundTripsAndChangesTheValue) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 1000; ++i) {
    const uint32_t crc = static_cast<uint32_t>(rng());
    EXPECT_EQ(UnmaskCrc(MaskCrc(crc)), crc);
    EXPECT_NE(MaskCrc(crc), crc);
  }
  const uint32_t crc = Crc32c("abc", 3);
  EXPECT_NE(MaskCrc(MaskCrc(crc)), crc);
}

// ---------------------------------------------------------------------------
// Options and framing

TEST(FsyncModeTest, ParsesTheThreeNames) {
  EXPECT_EQ(ParseFsyncMode("always"), FsyncMode::kAlways);
  EXPECT_EQ(ParseFsyncMode("everysec"), FsyncMode::kEverySec);
  EXPECT_EQ(ParseFsyncMode("no"), FsyncMode::kNo);
  EXPECT_EQ(ParseFsyncMode("Always"), std::nullopt);
  EXPECT_EQ(ParseFsyncMode(""), std::nullopt);
  for (FsyncMode mode :
       {FsyncMode::kAlways, FsyncMode::kEverySec, FsyncMode::kNo}) {
    EXPECT_EQ(ParseFsyncMode(FsyncModeName(mode)), mode);
  }
}

TEST(LogWriterTest, WritesTheDocumentedFraming) {
  const std::string dir = TestDir();
  {
    auto writer = OpenWriter(dir, 41);
    ASSERT_TRUE(writer);
    ASSERT_EQ(*writer->Append(7, "hello"), 41u);
    ASSERT_EQ(*writer->Append(0, ""), 42u);
  }
  EXPECT_EQ(FileNames(dir),
            std::vector<std::string>{"wal-00000000000000000041.log"});
  EXPECT_EQ(ReadFile(SegmentPath(dir, 41)),
            EncodeRecord(41, 7, "hello") + EncodeRecord(42, 0, ""));
}

TEST(LogWriterTest, OpenNeedsAnExistingDirectory) {
  LogOptions options;
  options.dir = TestDir() + "/missing";
  Result<std::unique_ptr<LogWriter>> writer = LogWriter::Open(options, 1);
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.status().code(), ErrorCode::kIo);
}

TEST(LogWriterTest, OpenRefusesAnExistingSegmentButReplacesAnEmptyOne) {
  const std::string dir = TestDir();
  {
    auto writer = OpenWriter(dir, 1);
    ASSERT_TRUE(writer);
    ASSERT_TRUE(writer->Append(1, "x").ok());
  }
  LogOptions options;
  options.dir = dir;
  Result<std::unique_ptr<LogWriter>> again = LogWriter::Open(options, 1);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), ErrorCode::kIo);
  EXPECT_NE(again.status().message().find(LogSegmentName(1)),
            std::string::npos);

  // A writer that died before its first record leaves an empty segment.
  WriteFile(SegmentPath(dir, 2), "");
  {
    auto writer = OpenWriter(dir, 2);
    ASSERT_TRUE(writer);
    ASSERT_EQ(*writer->Append(2, "y"), 2u);
  }
  ReadResult read = ReadAll(dir);
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  EXPECT_EQ(read.records.size(), 2u);
}

// ---------------------------------------------------------------------------
// Round trips

TEST(LogReadTest, RoundTripsAcrossSegmentRollovers) {
  const std::string dir = TestDir();
  constexpr uint64_t kSegmentBytes = 256;
  std::vector<LogRecord> records = MakeRecords(1, 300, 120, 11);
  records[100].payload.assign(1000, 'z');  // Alone larger than a segment.
  {
    auto writer = OpenWriter(dir, 1, FsyncMode::kAlways, kSegmentBytes);
    ASSERT_TRUE(writer);
    AppendAll(*writer, records);
    EXPECT_EQ(writer->last_seq(), 300u);
    // Rolling over synced every finished segment.
    EXPECT_GE(writer->durable_seq(), 250u);
  }
  // Every segment but the last went past segment_bytes with its last
  // record, and not before.
  const std::vector<std::string> names = FileNames(dir);
  ASSERT_GT(names.size(), 10u);
  size_t next = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    ASSERT_EQ(names[i], LogSegmentName(records[next].seq));
    const uint64_t size = fs::file_size(fs::path(dir) / names[i]);
    uint64_t sum = 0;
    size_t count = 0;
    while (sum < size) sum += FrameBytes(records[next + count++]);
    ASSERT_EQ(sum, size);
    if (i + 1 < names.size()) {
      EXPECT_GE(size, kSegmentBytes) << names[i];
      EXPECT_LT(size - FrameBytes(records[next + count - 1]), kSegmentBytes)
          << names[i];
    }
    next += count;
  }
  EXPECT_EQ(next, records.size());

  ReadResult read = ReadAll(dir);
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  ExpectSameRecords(read.records, records);
  EXPECT_EQ(read.report.records, 300u);
  EXPECT_EQ(read.report.last_seq, 300u);
  EXPECT_EQ(read.report.torn_bytes, 0u);
  EXPECT_TRUE(read.report.torn_file.empty());
}

TEST(LogWriterTest, AppendingManyAtOnceWritesWhatOneByOneWrites) {
  // The same records, one by one and in batches of one type (sizes 1 to
  // 300, past the writev chunk of 256), with segments small enough that
  // batches cross their bound: the same files, byte for byte.
  constexpr uint64_t kSegmentBytes = 2048;
  std::mt19937_64 rng(23);
  std::vector<LogRecord> records = MakeRecords(1, 3000, 60, 29);
  std::vector<std::pair<size_t, size_t>> batches;  // [first, last)
  for (size_t first = 0; first < records.size();) {
    const size_t last = std::min(records.size(), first + 1 + rng() % 300);
    for (size_t i = first; i < last; ++i) records[i].type = records[first].type;
    batches.emplace_back(first, last);
    first = last;
  }
  records[1500].payload.assign(5000, 'z');  // alone larger than a segment

  const std::string one_by_one = TestDir() + "/one";
  const std::string batched = TestDir() + "/many";
  fs::create_directories(one_by_one);
  fs::create_directories(batched);
  {
    auto writer = OpenWriter(one_by_one, 1, FsyncMode::kNo, kSegmentBytes);
    ASSERT_TRUE(writer);
    AppendAll(*writer, records);
  }
  {
    auto writer = OpenWriter(batched, 1, FsyncMode::kNo, kSegmentBytes);
    ASSERT_TRUE(writer);
    for (const auto& [first, last] : batches) {
      std::vector<std::string_view> payloads;
      for (size_t i = first; i < last; ++i) {
        payloads.push_back(records[i].payload);
      }
      Result<uint64_t> seq = writer->Append(records[first].type, payloads);
      ASSERT_TRUE(seq.ok()) << seq.status().ToString();
      ASSERT_EQ(*seq, records[last - 1].seq);
      ASSERT_EQ(writer->last_seq(), *seq);
    }
    // An empty batch writes nothing.
    Result<uint64_t> none =
        writer->Append(7, std::span<const std::string_view>());
    ASSERT_TRUE(none.ok());
    EXPECT_EQ(*none, records.back().seq);
  }
  const std::vector<std::string> names = FileNames(batched);
  ASSERT_EQ(names, FileNames(one_by_one));
  ASSERT_GT(names.size(), 20u);
  for (const std::string& name : names) {
    EXPECT_EQ(ReadFile(batched + "/" + name), ReadFile(one_by_one + "/" + name))
        << name;
  }
  ReadResult read = ReadAll(batched);
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  ExpectSameRecords(read.records, records);
}

TEST(LogWriterTest, DirectAndBufferedWritesMakeTheSameFiles) {
  // Records from empty to three times the direct writer's 1 MiB buffer,
  // one by one and in batches, across segment rollovers.
  constexpr uint64_t kSegmentBytes = 1 << 20;
  std::mt19937_64 rng(31);
  std::vector<LogRecord> records = MakeRecords(1, 400, 9000, 37);
  for (size_t i : {5, 6, 150, 151, 152, 399}) {
    records[i].payload = Bytes(rng, 1000 + rng() % (3 << 20));
  }
  std::vector<std::pair<size_t, size_t>> batches;  // [first, last)
  for (size_t first = 0; first < records.size();) {
    const size_t last = std::min(records.size(), first + 1 + rng() % 20);
    for (size_t i = first; i < last; ++i) records[i].type = records[first].type;
    batches.emplace_back(first, last);
    first = last;
  }
  const std::string buffered = TestDir() + "/buffered";
  const std::string direct = TestDir() + "/direct";
  fs::create_directories(buffered);
  fs::create_directories(direct);
  for (const std::string& dir : {buffered, direct}) {
    auto writer =
        OpenWriter(dir, 1, FsyncMode::kNo, kSegmentBytes, dir == direct);
    ASSERT_TRUE(writer);
    if (dir == direct && !writer->direct()) {
      GTEST_SKIP() << "the file system of " << dir << " refuses O_DIRECT";
    }
    EXPECT_FALSE(dir == buffered && writer->direct());
    for (const auto& [first, last] : batches) {
      std::vector<std::string_view> payloads;
      for (size_t i = first; i < last; ++i) {
        payloads.push_back(records[i].payload);
      }
      ASSERT_EQ(*writer->Append(records[first].type, payloads),
                records[last - 1].seq);
    }
  }
  const std::vector<std::string> names = FileNames(direct);
  ASSERT_EQ(names, FileNames(buffered));
  ASSERT_GT(names.size(), 5u);
  for (const std::string& name : names) {
    // Not EXPECT_EQ: megabytes of bytes would be printed.
    EXPECT_TRUE(ReadFile(direct + "/" + name) ==
                ReadFile(buffered + "/" + name))
        << name;
  }
  ReadResult read = ReadAll(direct);
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  ExpectSameRecords(read.records, records);
  EXPECT_EQ(read.report.padding_bytes, 0u);
}

TEST(LogReadTest, ADirectWritersPaddingIsCutButNotTorn) {
  // The files of a live direct writer, as a crash would leave them, after
  // every append: the last block is padded, earlier records are intact in
  // the block written again, and a reader cuts the padding alone.
  const std::string base = TestDir();
  const std::string src = base + "/src";
  fs::create_directories(src);
  auto writer = OpenWriter(src, 1, FsyncMode::kNo);
  ASSERT_TRUE(writer);
  if (!writer->direct()) {
    GTEST_SKIP() << "the file system of " << src << " refuses O_DIRECT";
  }
  std::mt19937_64 rng(41);
  std::vector<LogRecord> records;
  uint64_t end = 0;
  for (uint64_t seq = 1; seq <= 60; ++seq) {
    const size_t size =
        seq % 7 == 0 ? 4096 - kLogRecordHeaderBytes : rng() % 6000;
    records.push_back({seq, static_cast<uint8_t>(seq), Bytes(rng, size)});
    ASSERT_EQ(*writer->Append(records.back().type, records.back().payload),
              seq);
    end += FrameBytes(records.back());
    SCOPED_TRACE("after record " + std::to_string(seq));

    const std::string dir = base + "/crash";
    CopyDir(src, dir);
    const std::string path = SegmentPath(dir, 1);
    const uint64_t size_on_disk = fs::file_size(path);
    EXPECT_EQ(size_on_disk % kDirectIoBlock, 0u);
    EXPECT_EQ(size_on_disk - end,
              (kDirectIoBlock - end % kDirectIoBlock) % kDirectIoBlock);
    ReadResult read = ReadAll(dir, 1, /*repair=*/true);
    ASSERT_TRUE(read.status.ok()) << read.status.ToString();
    ExpectSameRecords(read.records, records);
    EXPECT_EQ(read.report.torn_bytes, 0u);
    EXPECT_EQ(read.report.padding_bytes, size_on_disk - end);
    EXPECT_EQ(read.report.torn_file, size_on_disk > end ? path : "");
    EXPECT_EQ(fs::file_size(path), end);
  }
  writer.reset();  // A writer that closes cuts its own padding.
  EXPECT_EQ(fs::file_size(SegmentPath(src, 1)), end);

  // Zeros that are not a padding are a torn tail: more than a block, or
  // not ending at a block boundary.
  const uint64_t to_boundary =
      (kDirectIoBlock - end % kDirectIoBlock) % kDirectIoBlock;
  const uint64_t off_boundary = (end + 100) % kDirectIoBlock == 0 ? 101 : 100;
  for (const uint64_t zeros : {kDirectIoBlock + to_boundary, off_boundary}) {
    const std::string dir = base + "/zeros";
    CopyDir(src, dir);
    fs::resize_file(SegmentPath(dir, 1), end + zeros);
    ReadResult read = ReadAll(dir);
    ASSERT_TRUE(read.status.ok()) << read.status.ToString();
    EXPECT_EQ(read.report.torn_bytes, zeros);
    EXPECT_EQ(read.report.padding_bytes, 0u);
  }
}

TEST(LogReadTest, FromSkipsEarlierRecordsButStillChecksThem) {
  const std::string dir = TestDir();
  std::vector<LogRecord> records = MakeRecords(1, 300, 60, 12);
  {
    auto writer = OpenWriter(dir, 1, FsyncMode::kNo, 512);
    ASSERT_TRUE(writer);
    AppendAll(*writer, records);
  }
  for (uint64_t from : {1u, 2u, 150u, 300u, 301u, 1000u}) {
    ReadResult read = ReadAll(dir, from);
    ASSERT_TRUE(read.status.ok()) << read.status.ToString();
    std::vector<LogRecord> want(
        records.begin() + std::min<uint64_t>(from - 1, records.size()),
        records.end());
    ExpectSameRecords(read.records, want);
    EXPECT_EQ(read.report.records, want.size());
    EXPECT_EQ(read.report.last_seq, 300u);
  }
  // Damage before `from` is still found.
  const std::string first = SegmentPath(dir, 1);
  std::string data = ReadFile(first);
  data[kLogRecordHeaderBytes + records[0].payload.size() + 2] ^= 0x10;
  WriteFile(first, data);
  ReadResult read = ReadAll(dir, 200);
  EXPECT_EQ(read.status.code(), ErrorCode::kCorrupt);
  EXPECT_TRUE(read.records.empty());
}

TEST(LogReadTest, StopsWithTheCallbacksError) {
  const std::string dir = TestDir();
  {
    auto writer = OpenWriter(dir, 1);
    ASSERT_TRUE(writer);
    AppendAll(*writer, MakeRecords(1, 10, 10, 13));
  }
  int calls = 0;
  Result<LogReadReport> read =
      ReadLog(dir, 1, false, [&](const LogRecord& record) {
        ++calls;
        return record.seq == 4 ? Invalid("stop here") : Status::Ok();
      });
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().message(), "stop here");
  EXPECT_EQ(calls, 4);
}

TEST(LogReadTest, AnEmptyDirectoryIsAnEmptyLog) {
  const std::string dir = TestDir();
  ReadResult read = ReadAll(dir);
  ASSERT_TRUE(read.status.ok());
  EXPECT_EQ(read.report.records, 0u);
  EXPECT_EQ(read.report.last_seq, 0u);
  ReadResult missing = ReadAll(dir + "/missing");
  EXPECT_EQ(missing.status.code(), ErrorCode::kIo);
}

TEST(LogReadTest, IgnoresFilesThatAreNotSegments) {
  const std::string dir = TestDir();
  {
    auto writer = OpenWriter(dir, 1);
    ASSERT_TRUE(writer);
    AppendAll(*writer, MakeRecords(1, 5, 10, 14));
  }
  WriteFile(dir + "/snapshot-00000000000000000003.snap", "not a log");
  WriteFile(dir + "/LOCK", "");
  WriteFile(dir + "/wal-00000000000000000009.log.tmp", "junk");
  fs::create_directory(dir + "/archive");
  ReadResult read = ReadAll(dir);
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  EXPECT_EQ(read.report.records, 5u);

  // A wal-*.log that is not a segment name cannot be put in order.
  WriteFile(dir + "/wal-7.log", "");
  read = ReadAll(dir);
  EXPECT_EQ(read.status.code(), ErrorCode::kCorrupt);
  EXPECT_NE(read.status.message().find("wal-7.log"), std::string::npos);
}

// ---------------------------------------------------------------------------
// Torn tails

TEST(LogReadTest, CutsATornTailAtEveryByteOfTheLastThreeRecords) {
  const std::string base = TestDir();
  const std::string src = base + "/src";
  fs::create_directory(src);
  std::vector<LogRecord> records = MakeRecords(1, 15, 50, 15);
  records[12].payload = std::string(25, 'a');
  records[13].payload.clear();  // A header-only record.
  records[14].payload = std::string(30, 'b');
  {
    // Two sessions, so that the last segment is not the only one.
    auto writer = OpenWriter(src, 1);
    ASSERT_TRUE(writer);
    AppendAll(*writer, {records.begin(), records.begin() + 5});
  }
  {
    auto writer = OpenWriter(src, 6);
    ASSERT_TRUE(writer);
    AppendAll(*writer, {records.begin() + 5, records.end()});
  }
  // ends[k]: where record 6 + k ends in the last segment.
  std::vector<uint64_t> ends;
  uint64_t end = 0;
  for (size_t i = 5; i < records.size(); ++i) {
    end += FrameBytes(records[i]);
    ends.push_back(end);
  }
  const std::string last_name = LogSegmentName(6);
  ASSERT_EQ(fs::file_size(fs::path(src) / last_name), end);
  const uint64_t sweep_from = ends[ends.size() - 4];  // Start of record 13.

  for (uint64_t cut = sweep_from; cut < end; ++cut) {
    SCOPED_TRACE("cut at byte " + std::to_string(cut));
    const std::string dir = base + "/cut";
    CopyDir(src, dir);
    const std::string path = (fs::path(dir) / last_name).string();
    fs::resize_file(path, cut);

    size_t whole = 5;  // Records wholly before the cut.
    uint64_t whole_end = 0;
    for (size_t k = 0; k < ends.size() && ends[k] <= cut; ++k) {
      whole = 6 + k;
      whole_end = ends[k];
    }
    const std::vector<LogRecord> want(records.begin(), records.begin() + whole);

    ReadResult read = ReadAll(dir);
    ASSERT_TRUE(read.status.ok()) << read.status.ToString();
    ExpectSameRecords(read.records, want);
    EXPECT_EQ(read.report.last_seq, whole);
    EXPECT_EQ(read.report.torn_bytes, cut - whole_end);
    EXPECT_EQ(read.report.torn_file, cut > whole_end ? path : "");
    EXPECT_EQ(fs::file_size(path), cut);  // Not repaired.

    read = ReadAll(dir, 1, /*repair=*/true);
    ASSERT_TRUE(read.status.ok()) << read.status.ToString();
    ExpectSameRecords(read.records, want);
    EXPECT_EQ(read.report.torn_bytes, cut - whole_end);
    EXPECT_EQ(fs::file_size(path), whole_end);

    read = ReadAll(dir);
    ASSERT_TRUE(read.status.ok()) << read.status.ToString();
    EXPECT_EQ(read.report.torn_bytes, 0u);

    // A new writer continues where the whole records end.
    {
      auto writer = OpenWriter(dir, whole + 1);
      ASSERT_TRUE(writer);
      ASSERT_EQ(*writer->Append(99, "after the cut"), whole + 1);
    }
    read = ReadAll(dir);
    ASSERT_TRUE(read.status.ok()) << read.status.ToString();
    ASSERT_EQ(read.records.size(), whole + 1);
    ExpectSameRecords({read.records.begin(), read.records.end() - 1}, want);
    EXPECT_EQ(read.records.back().seq, whole + 1);
    EXPECT_EQ(read.records.back().type, 99);
    EXPECT_EQ(read.records.back().payload, "after the cut");
    EXPECT_EQ(read.report.torn_bytes, 0u);
  }
}

TEST(LogReadTest, AZeroFilledTailIsTorn) {
  const std::string dir = TestDir();
  const std::vector<LogRecord> records = MakeRecords(1, 8, 40, 16);
  {
    auto writer = OpenWriter(dir, 1);
    ASSERT_TRUE(writer);
    AppendAll(*writer, records);
  }
  const std::string path = SegmentPath(dir, 1);
  const uint64_t size = fs::file_size(path);
  fs::resize_file(path, size + 4096);  // Zeros, as after a power cut.
  ReadResult read = ReadAll(dir, 1, /*repair=*/true);
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  ExpectSameRecords(read.records, records);
  EXPECT_EQ(read.report.torn_bytes, 4096u);
  EXPECT_EQ(read.report.torn_file, path);
  EXPECT_EQ(fs::file_size(path), size);
}

TEST(LogReadTest, AWhollyTornLastSegmentIsEmptiedAndReused) {
  const std::string dir = TestDir();
  {
    auto writer = OpenWriter(dir, 1);
    ASSERT_TRUE(writer);
    AppendAll(*writer, MakeRecords(1, 3, 20, 17));
  }
  {
    auto writer = OpenWriter(dir, 4);
    ASSERT_TRUE(writer);
    ASSERT_TRUE(writer->Append(1, "only").ok());
  }
  const std::string path = SegmentPath(dir, 4);
  fs::resize_file(path, 10);  // Half a header.
  ReadResult read = ReadAll(dir, 1, /*repair=*/true);
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  EXPECT_EQ(read.report.last_seq, 3u);
  EXPECT_EQ(read.report.torn_bytes, 10u);
  EXPECT_EQ(fs::file_size(path), 0u);
  {
    auto writer = OpenWriter(dir, 4);  // Replaces the empty segment.
    ASSERT_TRUE(writer);
    ASSERT_TRUE(writer->Append(2, "again").ok());
  }
  read = ReadAll(dir);
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  ASSERT_EQ(read.records.size(), 4u);
  EXPECT_EQ(read.records.back().payload, "again");
}

TEST(LogReadTest, ABitFlipInTheLastRecordIsATornTail) {
  const std::string base = TestDir();
  const std::string src = base + "/src";
  fs::create_directory(src);
  const std::vector<LogRecord> records = MakeRecords(1, 5, 40, 18);
  {
    auto writer = OpenWriter(src, 1);
    ASSERT_TRUE(writer);
    AppendAll(*writer, records);
  }
  const std::string original = ReadFile(SegmentPath(src, 1));
  const size_t start = original.size() - FrameBytes(records.back());
  const std::string dir = base + "/flip";
  for (size_t byte = start; byte < original.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      SCOPED_TRACE("byte " + std::to_string(byte) + " bit " +
                   std::to_string(bit));
      CopyDir(src, dir);
      std::string data = original;
      data[byte] ^= static_cast<char>(1 << bit);
      WriteFile(SegmentPath(dir, 1), data);
      ReadResult read = ReadAll(dir);
      ASSERT_TRUE(read.status.ok()) << read.status.ToString();
      ExpectSameRecords(read.records, {records.begin(), records.end() - 1});
      EXPECT_EQ(read.report.torn_bytes, original.size() - start);
    }
  }
}

// ---------------------------------------------------------------------------
// Corruption

TEST(LogReadTest, ABitFlipInAMiddleRecordIsCorruptNeverSkipped) {
  const std::string base = TestDir();
  const std::string src = base + "/src";
  fs::create_directory(src);
  const std::vector<LogRecord> records = MakeRecords(1, 5, 40, 19);
  {
    auto writer = OpenWriter(src, 1);
    ASSERT_TRUE(writer);
    AppendAll(*writer, records);
  }
  const std::string original = ReadFile(SegmentPath(src, 1));
  const size_t start = FrameBytes(records[0]) + FrameBytes(records[1]);
  const size_t stop = start + FrameBytes(records[2]);
  const std::string dir = base + "/flip";
  for (size_t byte = start; byte < stop; ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      SCOPED_TRACE("byte " + std::to_string(byte) + " bit " +
                   std::to_string(bit));
      CopyDir(src, dir);
      std::string data = original;
      data[byte] ^= static_cast<char>(1 << bit);
      const std::string path = SegmentPath(dir, 1);
      WriteFile(path, data);
      ReadResult read = ReadAll(dir, 1, /*repair=*/true);
      ASSERT_EQ(read.status.code(), ErrorCode::kCorrupt);
      EXPECT_NE(read.status.message().find(path), std::string::npos)
          << read.status.message();
      EXPECT_NE(read.status.message().find("at byte " + std::to_string(start)),
                std::string::npos)
          << read.status.message();
      // Only the records before the damage were seen, none after it.
      ExpectSameRecords(read.records, {records.begin(), records.begin() + 2});
      EXPECT_EQ(ReadFile(path), data);  // Corruption is never "repaired".
    }
  }
}

TEST(LogReadTest, DamageInASegmentThatIsNotTheLastIsCorrupt) {
  const std::string base = TestDir();
  const std::string src = base + "/src";
  fs::create_directory(src);
  {
    auto writer = OpenWriter(src, 1);
    ASSERT_TRUE(writer);
    AppendAll(*writer, MakeRecords(1, 5, 40, 20));
  }
  {
    auto writer = OpenWriter(src, 6);
    ASSERT_TRUE(writer);
    AppendAll(*writer, MakeRecords(6, 5, 40, 21));
  }
  const std::string dir = base + "/damaged";
  const std::string first = SegmentPath(dir, 1);
  const std::string original = ReadFile(SegmentPath(src, 1));

  // The last record of the first segment flipped, truncated, or followed
  // by zeros: a torn tail anywhere but the end of the log is corruption.
  std::string flipped = original;
  flipped[original.size() - 1] ^= 1;
  const std::string damaged[] = {flipped,
                                 original.substr(0, original.size() - 3),
                                 original + std::string(100, '\0')};
  for (const std::string& data : damaged) {
    CopyDir(src, dir);
    WriteFile(first, data);
    ReadResult read = ReadAll(dir, 1, /*repair=*/true);
    ASSERT_EQ(read.status.code(), ErrorCode::kCorrupt);
    EXPECT_NE(read.status.message().find(first), std::string::npos)
        << read.status.message();
    EXPECT_EQ(ReadFile(first), data);
  }
}

TEST(LogReadTest, SequenceGapsAndMisnamedSegmentsAreCorrupt) {
  const std::string base = TestDir();
  const std::string src = base + "/src";
  fs::create_directory(src);
  for (uint64_t first : {1u, 4u, 7u}) {
    auto writer = OpenWriter(src, first);
    ASSERT_TRUE(writer);
    AppendAll(*writer, MakeRecords(first, 3, 20, first));
  }
  const std::string dir = base + "/dir";

  // A missing segment.
  CopyDir(src, dir);
  fs::remove(SegmentPath(dir, 4));
  ReadResult read = ReadAll(dir);
  ASSERT_EQ(read.status.code(), ErrorCode::kCorrupt);
  EXPECT_NE(read.status.message().find("gap"), std::string::npos)
      << read.status.message();
  EXPECT_NE(read.status.message().find(SegmentPath(dir, 7)), std::string::npos)
      << read.status.message();

  // The first segment missing: records 1 to 3 are nowhere, unless a
  // snapshot holds them (read from 4).
  CopyDir(src, dir);
  fs::remove(SegmentPath(dir, 1));
  read = ReadAll(dir);
  ASSERT_EQ(read.status.code(), ErrorCode::kCorrupt);
  EXPECT_NE(read.status.message().find("starts at record 4"), std::string::npos)
      << read.status.message();
  read = ReadAll(dir, /*from=*/4);
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  EXPECT_EQ(read.records.size(), 6u);

  // A segment whose name does not match its first record.
  CopyDir(src, dir);
  fs::rename(SegmentPath(dir, 1), SegmentPath(dir, 2));
  read = ReadAll(dir);
  ASSERT_EQ(read.status.code(), ErrorCode::kCorrupt);
  EXPECT_NE(read.status.message().find(SegmentPath(dir, 2)), std::string::npos)
      << read.status.message();

  // A writer opened at a seq already in the log: going backwards.
  CopyDir(src, dir);
  {
    auto writer = OpenWriter(dir, 3);
    ASSERT_TRUE(writer);
    ASSERT_TRUE(writer->Append(0, "again").ok());
  }
  read = ReadAll(dir);
  ASSERT_EQ(read.status.code(), ErrorCode::kCorrupt);
  EXPECT_NE(read.status.message().find("backwards"), std::string::npos)
      << read.status.message();

  // Within a segment, crafted with the documented framing.
  const std::string crafted = base + "/crafted";
  fs::create_directory(crafted);
  const std::string path = SegmentPath(crafted, 1);
  WriteFile(path, EncodeRecord(1, 0, "a") + EncodeRecord(2, 0, "b") +
                      EncodeRecord(2, 0, "c"));
  read = ReadAll(crafted);
  ASSERT_EQ(read.status.code(), ErrorCode::kCorrupt);
  EXPECT_NE(read.status.message().find("backwards"), std::string::npos);
  EXPECT_NE(read.status.message().find(
                "at byte " + std::to_string(2 * (kLogRecordHeaderBytes + 1))),
            std::string::npos)
      << read.status.message();
  WriteFile(path, EncodeRecord(1, 0, "a") + EncodeRecord(3, 0, "c"));
  read = ReadAll(crafted);
  ASSERT_EQ(read.status.code(), ErrorCode::kCorrupt);
  EXPECT_NE(read.status.message().find("gap"), std::string::npos);

  // An absurd length is damage, here followed by a valid record.
  std::string huge = EncodeRecord(2, 0, "b");
  huge[7] = 0x7f;  // Length >= 2 GiB.
  WriteFile(path, EncodeRecord(1, 0, "a") + huge + EncodeRecord(3, 0, "c"));
  read = ReadAll(crafted);
  ASSERT_EQ(read.status.code(), ErrorCode::kCorrupt);
  EXPECT_NE(read.status.message().find("1 GiB"), std::string::npos)
      << read.status.message();
}

// ---------------------------------------------------------------------------
// Removing segments

TEST(LogWriterTest, RemoveSegmentsBeforeKeepsWhatIsNeeded) {
  const std::string dir = TestDir();
  // 40-byte payloads are 57-byte frames: two to a 100-byte segment.
  std::vector<LogRecord> records = MakeRecords(1, 20, 0, 22);
  for (LogRecord& r : records) r.payload.assign(40, 'p');
  auto writer = OpenWriter(dir, 1, FsyncMode::kAlways, 100);
  ASSERT_TRUE(writer);
  AppendAll(*writer, records);
  std::vector<std::string> want;
  for (uint64_t first = 1; first <= 19; first += 2) {
    want.push_back(LogSegmentName(first));
  }
  ASSERT_EQ(FileNames(dir), want);
  WriteFile(dir + "/snapshot", "kept");

  ASSERT_TRUE(writer->RemoveSegmentsBefore(1).ok());
  ASSERT_TRUE(writer->RemoveSegmentsBefore(2).ok());
  EXPECT_EQ(FileNames(dir).size(), 11u);

  // Segments 1-2, 3-4, 5-6 go; 7-8 holds record 8 and stays.
  ASSERT_TRUE(writer->RemoveSegmentsBefore(8).ok());
  EXPECT_EQ(FileNames(dir)[1], LogSegmentName(7));  // After "snapshot".
  ReadResult read = ReadAll(dir, 8);
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  ExpectSameRecords(read.records, {records.begin() + 7, records.end()});

  // Never the current segment, even when asked for everything.
  ASSERT_TRUE(writer->RemoveSegmentsBefore(1000).ok());
  EXPECT_EQ(FileNames(dir),
            (std::vector<std::string>{"snapshot", LogSegmentName(19)}));
  ASSERT_EQ(*writer->Append(1, "more"), 21u);
  writer.reset();
  read = ReadAll(dir, 19);
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  EXPECT_EQ(read.records.size(), 3u);
}

// ---------------------------------------------------------------------------
// Durability

TEST(LogWriterTest, GroupCommitSharesSyncsBetweenWaiters) {
  const std::string dir = TestDir();
  constexpr int kThreads = 8;
  constexpr int kWritesPerThread = 500;
  auto writer = OpenWriter(dir, 1);
  ASSERT_TRUE(writer);
  std::mutex append_mu;  // The database's writer lock.
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string payload = "thread " + std::to_string(t);
      for (int i = 0; i < kWritesPerThread; ++i) {
        uint64_t seq;
        {
          std::lock_guard<std::mutex> lock(append_mu);
          Result<uint64_t> appended =
              writer->Append(static_cast<uint8_t>(t), payload);
          if (!appended.ok()) {
            ++failures;
            return;
          }
          seq = *appended;
        }
        if (!writer->WaitDurable(seq).ok() || writer->durable_seq() < seq) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  constexpr uint64_t kWrites = kThreads * kWritesPerThread;
  EXPECT_EQ(writer->last_seq(), kWrites);
  EXPECT_EQ(writer->durable_seq(), kWrites);
  EXPECT_GE(writer->syncs(), 1u);
  EXPECT_LT(writer->syncs(), kWrites);
  std::printf("[ info     ] %llu fdatasyncs for %llu writes\n",
              static_cast<unsigned long long>(writer->syncs()),
              static_cast<unsigned long long>(kWrites));
  writer.reset();

  ReadResult read = ReadAll(dir);
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  ASSERT_EQ(read.records.size(), kWrites);
  std::vector<int> per_thread(kThreads);
  for (size_t i = 0; i < read.records.size(); ++i) {
    EXPECT_EQ(read.records[i].seq, i + 1);
    const int t = read.records[i].type;
    ASSERT_LT(t, kThreads);
    EXPECT_EQ(read.records[i].payload, "thread " + std::to_string(t));
    ++per_thread[t];
  }
  for (int count : per_thread) EXPECT_EQ(count, kWritesPerThread);
}

TEST(LogWriterTest, EverySecReturnsAtOnceAndSyncsInTheBackground) {
  const std::string dir = TestDir();
  auto writer = OpenWriter(dir, 1, FsyncMode::kEverySec);
  ASSERT_TRUE(writer);
  AppendAll(*writer, MakeRecords(1, 10, 20, 23));
  EXPECT_TRUE(writer->WaitDurable(10).ok());
  // The background thread syncs about once a second; the deadline only
  // catches a thread that never does.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (writer->durable_seq() < 10 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(writer->durable_seq(), 10u);
  EXPECT_GE(writer->syncs(), 1u);
}

TEST(LogWriterTest, NoModeReturnsAtOnceWithoutSyncing) {
  const std::string dir = TestDir();
  {
    auto writer = OpenWriter(dir, 1, FsyncMode::kNo);
    ASSERT_TRUE(writer);
    AppendAll(*writer, MakeRecords(1, 10, 20, 24));
    EXPECT_TRUE(writer->WaitDurable(10).ok());
    EXPECT_EQ(writer->syncs(), 0u);
    EXPECT_EQ(writer->durable_seq(), 0u);
    EXPECT_EQ(writer->WaitDurable(11).code(), ErrorCode::kInternal);
  }
  EXPECT_EQ(ReadAll(dir).records.size(), 10u);
}

TEST(LogWriterTest, AFailedSyncIsStickyAndNeverRetried) {
  const std::string dir = TestDir();
  auto writer = OpenWriter(dir, 1);
  ASSERT_TRUE(writer);
  ASSERT_EQ(*writer->Append(1, "one"), 1u);
  ASSERT_TRUE(writer->WaitDurable(1).ok());
  EXPECT_TRUE(writer->failure().ok());

  writer->FailNextSyncForTest();
  ASSERT_EQ(*writer->Append(1, "two"), 2u);
  const Status failed = writer->WaitDurable(2);
  ASSERT_EQ(failed.code(), ErrorCode::kIo);
  const std::string eio = std::generic_category().message(EIO);
  EXPECT_NE(failed.message().find(eio), std::string::npos) << failed.message();
  EXPECT_NE(failed.message().find("fdatasync"), std::string::npos);
  EXPECT_NE(failed.message().find(LogSegmentName(1)), std::string::npos);
  EXPECT_EQ(writer->failure().code(), ErrorCode::kIo);
  EXPECT_EQ(writer->failure().message(), failed.message());
  const uint64_t syncs = writer->syncs();

  Result<uint64_t> appended = writer->Append(1, "three");
  ASSERT_FALSE(appended.ok());
  EXPECT_EQ(appended.status().code(), ErrorCode::kIo);
  EXPECT_EQ(appended.status().message(), failed.message());
  EXPECT_EQ(writer->WaitDurable(1).code(), ErrorCode::kIo);
  EXPECT_EQ(writer->WaitDurable(2).code(), ErrorCode::kIo);
  EXPECT_EQ(writer->syncs(), syncs);  // Nothing was tried again.
  EXPECT_EQ(writer->durable_seq(), 1u);
  EXPECT_EQ(writer->last_seq(), 2u);
  writer.reset();
  EXPECT_EQ(ReadAll(dir).records.size(), 2u);
}

TEST(LogWriterTest, AFailedSyncWakesEveryWaiter) {
  const std::string dir = TestDir();
  auto writer = OpenWriter(dir, 1);
  ASSERT_TRUE(writer);
  std::mutex append_mu;
  std::atomic<int> appended{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      // Runs until the log fails; the next sync after the hook is armed
      // fails, so every thread stops.
      for (;;) {
        uint64_t seq;
        {
          std::lock_guard<std::mutex> lock(append_mu);
          Result<uint64_t> r = writer->Append(0, "x");
          if (!r.ok()) {
            EXPECT_EQ(r.status().code(), ErrorCode::kIo);
            return;
          }
          seq = *r;
        }
        ++appended;
        const Status s = writer->WaitDurable(seq);
        if (!s.ok()) {
          EXPECT_EQ(s.code(), ErrorCode::kIo);
          return;
        }
      }
    });
  }
  while (appended.load() < 50) std::this_thread::yield();
  writer->FailNextSyncForTest();
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(writer->failure().code(), ErrorCode::kIo);
}

TEST(LogWriterTest, AFailedBackgroundSyncFailsTheLog) {
  const std::string dir = TestDir();
  auto writer = OpenWriter(dir, 1, FsyncMode::kEverySec);
  ASSERT_TRUE(writer);
  writer->FailNextSyncForTest();
  ASSERT_TRUE(writer->Append(0, "x").ok());
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (writer->failure().ok() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(writer->failure().code(), ErrorCode::kIo);
  EXPECT_EQ(writer->Append(0, "y").status().code(), ErrorCode::kIo);
  EXPECT_EQ(writer->WaitDurable(1).code(), ErrorCode::kIo);
  EXPECT_EQ(writer->syncs(), 1u);
}

}  // namespace
}  // namespace segd
