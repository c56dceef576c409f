#include "live/snapshot_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <vector>

#include "wal/crc32c.h"

namespace segd {
namespace {

constexpr char kMagic[] = "SEGDSNP3";
constexpr char kEndMagic[] = "SEGDEND1";
constexpr size_t kBufferBytes = size_t{1} << 20;
constexpr size_t kTrailerBytes = 12;  // kEndMagic and the CRC32C

Status IoError(const std::string& what, const std::string& path) {
  return Status(ErrorCode::kIo,
                what + " " + path + ": " + std::strerror(errno));
}

Status SyncDirectory(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open", dir);
  const int rc = fsync(fd);
  close(fd);
  return rc == 0 ? Status::Ok() : IoError("cannot fsync", dir);
}

}  // namespace

std::string SnapshotFileName(uint64_t seq) {
  char name[64];
  std::snprintf(name, sizeof(name), "snapshot-%020llu.snap",
                static_cast<unsigned long long>(seq));
  return name;
}

std::optional<std::pair<uint64_t, std::string>> NewestSnapshot(
    const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return std::nullopt;
  std::optional<std::pair<uint64_t, std::string>> newest;
  while (const dirent* entry = readdir(d)) {
    const std::string_view name = entry->d_name;
    if (name.size() != 34 || !name.starts_with("snapshot-") ||
        !name.ends_with(".snap")) {
      continue;
    }
    const std::string digits(name.substr(9, 20));
    if (digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const uint64_t seq = std::stoull(digits);
    if (!newest || seq > newest->first) {
      newest.emplace(seq, dir + "/" + std::string(name));
    }
  }
  closedir(d);
  return newest;
}

// --- Writing ---------------------------------------------------------------

SnapshotWriter::SnapshotWriter(std::string dir, std::string tmp,
                               std::string path, int fd, bool direct,
                               AlignedBuffer buffer)
    : dir_(std::move(dir)),
      tmp_(std::move(tmp)),
      path_(std::move(path)),
      fd_(fd),
      direct_(direct),
      buffer_(std::move(buffer)) {}

Result<std::unique_ptr<SnapshotWriter>> SnapshotWriter::Create(
    const std::string& dir, uint64_t seq) {
  const std::string path = dir + "/" + SnapshotFileName(seq);
  const std::string tmp = path + ".tmp";
  AlignedBuffer buffer = AllocateAligned(kBufferBytes);  // before the file
  const int fd =
      open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot create", tmp);
  bool direct = false;
  if (const int error = EnableDirectIo(fd, &direct); error != 0) {
    close(fd);
    unlink(tmp.c_str());
    errno = error;
    return IoError("cannot open for direct writes", tmp);
  }
  std::unique_ptr<SnapshotWriter> writer(
      new SnapshotWriter(dir, tmp, path, fd, direct, std::move(buffer)));
  writer->Put(kMagic, 8);
  writer->U64(seq);
  return writer;
}

SnapshotWriter::~SnapshotWriter() {
  if (fd_ >= 0) close(fd_);
  if (!committed_) unlink(tmp_.c_str());
}

void SnapshotWriter::Put(const void* data, size_t n) {
  crc_ = Crc32c(data, n, crc_);
  Append(static_cast<const char*>(data), n);
}

void SnapshotWriter::Append(const char* data, size_t n) {
  while (n > 0) {
    if (used_ == kBufferBytes && !Flush(/*last=*/false).ok()) return;
    const size_t take = std::min(n, kBufferBytes - used_);
    std::memcpy(buffer_.get() + used_, data, take);
    used_ += take;
    data += take;
    n -= take;
  }
}

Status SnapshotWriter::Flush(bool last) {
  if (!error_.ok()) return error_;
  // Only the last write may end off a block boundary.
  const size_t size = direct_ ? RoundUpToDirectIoBlock(used_) : used_;
  std::memset(buffer_.get() + used_, 0, size - used_);
  if (const int error = WriteAllAt(fd_, buffer_.get(), size, written_)) {
    errno = error;
    error_ = IoError("cannot write", tmp_);
    return error_;
  }
  written_ += used_;
  used_ = 0;
  if (last && direct_ && ftruncate(fd_, static_cast<off_t>(written_)) != 0) {
    error_ = IoError("cannot truncate", tmp_);
  }
  return error_;
}

Status SnapshotWriter::Commit() {
  char trailer[kTrailerBytes];
  std::memcpy(trailer, kEndMagic, 8);
  const uint32_t crc = crc_;
  for (int i = 0; i < 4; ++i)
    trailer[8 + i] = static_cast<char>(crc >> (8 * i));
  Append(trailer, sizeof(trailer));
  SEGD_RETURN_IF_ERROR(Flush(/*last=*/true));
  if (fdatasync(fd_) != 0) return IoError("cannot fdatasync", tmp_);
  if (close(fd_) != 0) {
    fd_ = -1;
    return IoError("cannot close", tmp_);
  }
  fd_ = -1;
  if (rename(tmp_.c_str(), path_.c_str()) != 0) {
    return IoError("cannot rename to", path_);
  }
  committed_ = true;
  return SyncDirectory(dir_);
}

// --- Reading ---------------------------------------------------------------

namespace {
constexpr uint64_t kReadBufferBytes = uint64_t{4} << 20;
constexpr uint64_t kFirstFillBytes = uint64_t{64} << 10;
}  // namespace

struct SnapshotReader::File {
  // A run of bytes one reader read in a row, and their checksum.
  struct Run {
    uint64_t begin;
    uint64_t length;
    uint32_t crc;
  };

  File(std::string path, int fd, uint64_t size)
      : path(std::move(path)), fd(fd), size(size) {}
  ~File() { close(fd); }

  AlignedBuffer TakeBuffer() {
    std::lock_guard<std::mutex> lock(mu);
    if (free_buffers.empty()) return AllocateAligned(kReadBufferBytes);
    AlignedBuffer buffer = std::move(free_buffers.back());
    free_buffers.pop_back();
    return buffer;
  }
  void GiveBack(AlignedBuffer buffer) {
    std::lock_guard<std::mutex> lock(mu);
    free_buffers.push_back(std::move(buffer));
  }
  void AddRun(const Run& run) {
    std::lock_guard<std::mutex> lock(mu);
    runs.push_back(run);
  }
  void FailRead(int error) {
    std::lock_guard<std::mutex> lock(mu);
    if (read_error.ok()) {
      errno = error;
      read_error = IoError("cannot read", path);
    }
  }

  const std::string path;
  const int fd;
  const uint64_t size;
  std::mutex mu;
  // Guarded by mu. Buffers stay warm from reader to reader.
  std::vector<AlignedBuffer> free_buffers;
  std::vector<Run> runs;
  Status read_error;
};

class SnapshotReader::Range final : public ArchiveReader {
 public:
  // Reads the file's bytes [begin, end), checksumming them unless told
  // not to (the trailer).
  Range(std::shared_ptr<File> file, uint64_t begin, uint64_t end,
        bool checksummed)
      : file_(std::move(file)),
        offset_(begin),
        end_(end),
        run_begin_(begin),
        checksummed_(checksummed) {}
  ~Range() override {
    EndRun();
    Release();
  }

  bool Get(void* out, size_t n) override {
    if (n > remaining()) return false;
    char* to = static_cast<char*>(out);
    while (n > 0) {
      if (offset_ < buffer_begin_ || offset_ >= buffer_end_) {
        if (!Fill()) return false;
      }
      const char* from = buffer_.get() + (offset_ - buffer_begin_);
      const size_t take =
          static_cast<size_t>(std::min<uint64_t>(n, buffer_end_ - offset_));
      std::memcpy(to, from, take);
      if (checksummed_) run_crc_ = Crc32c(from, take, run_crc_);
      to += take;
      offset_ += take;
      n -= take;
    }
    if (offset_ == end_) Release();
    return true;
  }
  uint64_t remaining() const override { return end_ - offset_; }

 protected:
  friend class SnapshotReader;  // forks its data's sections
  std::unique_ptr<ArchiveReader> Fork(uint64_t n) override {
    EndRun();
    auto fork =
        std::make_unique<Range>(file_, offset_, offset_ + n, checksummed_);
    offset_ += n;
    run_begin_ = offset_;
    if (offset_ == end_) Release();
    return fork;
  }

 private:
  // Reads the blocks from the one holding offset_ into the buffer, up to
  // end_: 64 KiB at first, twice as many bytes each time the reading goes on
  // where the last read ended, up to the buffer's size. So a reader that
  // reads a section's length and forks the section off reads little of
  // what the fork will read again. False when the file cannot be read.
  bool Fill() {
    if (buffer_ == nullptr) buffer_ = file_->TakeBuffer();
    fill_bytes_ = offset_ == buffer_end_ && buffer_end_ != 0
                      ? std::min(2 * fill_bytes_, kReadBufferBytes)
                      : kFirstFillBytes;
    const uint64_t begin = RoundDownToDirectIoBlock(offset_);
    const uint64_t want =
        std::min<uint64_t>(fill_bytes_, RoundUpToDirectIoBlock(end_ - begin));
    uint64_t got = 0;
    while (got < want) {
      const ssize_t n = pread(file_->fd, buffer_.get() + got, want - got,
                              static_cast<off_t>(begin + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        file_->FailRead(errno);
        return false;
      }
      if (n == 0) break;
      got += static_cast<uint64_t>(n);
      if (got % kDirectIoBlock != 0) break;  // the end of the file
    }
    buffer_begin_ = begin;
    buffer_end_ = begin + got;
    if (buffer_end_ <= offset_) {
      file_->FailRead(EIO);  // shorter than when it was opened
      return false;
    }
    return true;
  }

  // Records the checksum of the bytes read since the last run ended.
  void EndRun() {
    if (checksummed_ && offset_ > run_begin_) {
      file_->AddRun({run_begin_, offset_ - run_begin_, run_crc_});
    }
    run_begin_ = offset_;
    run_crc_ = 0;
  }

  void Release() {
    if (buffer_ != nullptr) file_->GiveBack(std::move(buffer_));
    buffer_begin_ = buffer_end_ = 0;
  }

  std::shared_ptr<File> file_;
  uint64_t offset_;  // the next byte to read
  uint64_t end_;
  AlignedBuffer buffer_;  // the file's [buffer_begin_, buffer_end_)
  uint64_t buffer_begin_ = 0;
  uint64_t buffer_end_ = 0;
  uint64_t fill_bytes_ = 0;  // read by the last Fill()
  uint64_t run_begin_;
  uint32_t run_crc_ = 0;  // of [run_begin_, offset_)
  const bool checksummed_;
};

SnapshotReader::SnapshotReader(std::shared_ptr<File> file, uint64_t data_end)
    : file_(std::move(file)),
      data_(std::make_unique<Range>(file_, 0, data_end, true)),
      data_end_(data_end) {}

SnapshotReader::~SnapshotReader() = default;

Result<std::unique_ptr<SnapshotReader>> SnapshotReader::Open(
    const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open", path);
  struct stat info;
  bool direct = false;
  if (fstat(fd, &info) != 0 || EnableDirectIo(fd, &direct) != 0) {
    const Status error = IoError("cannot read", path);
    close(fd);
    return error;
  }
  const uint64_t size = static_cast<uint64_t>(info.st_size);
  std::unique_ptr<SnapshotReader> reader(
      new SnapshotReader(std::make_shared<File>(path, fd, size),
                         size >= kTrailerBytes ? size - kTrailerBytes : 0));
  char magic[8];
  if (!reader->Get(magic, 8)) return reader->Damaged("header");
  if (std::memcmp(magic, "SEGDSNP1", 8) == 0) {
    return Status(ErrorCode::kCorrupt,
                  "snapshot " + path +
                      " has the first format, which held no indexes and is "
                      "no longer read: load the profiles again (--load) into "
                      "an empty data directory");
  }
  // The second format is the third without event layers.
  if (std::memcmp(magic, "SEGDSNP2", 8) == 0) reader->format_ = 2;
  if ((reader->format_ == 3 && std::memcmp(magic, kMagic, 8) != 0) ||
      !reader->U64(&reader->seq_)) {
    return reader->Damaged("header");
  }
  return reader;
}

bool SnapshotReader::Get(void* out, size_t n) {
  return data_ != nullptr && data_->Get(out, n);
}

uint64_t SnapshotReader::remaining() const {
  return data_ == nullptr ? 0 : data_->remaining();
}

std::unique_ptr<ArchiveReader> SnapshotReader::Fork(uint64_t n) {
  return data_->Fork(n);
}

Status SnapshotReader::Finish() {
  if (remaining() != 0) return Damaged("length (data left unread)");
  data_.reset();  // its last run recorded
  if (file_->size < 16 + kTrailerBytes) return Damaged("trailer");
  char trailer[kTrailerBytes];
  Range trailer_range(file_, data_end_, file_->size, /*checksummed=*/false);
  if (!trailer_range.Get(trailer, kTrailerBytes)) return Damaged("trailer");
  if (std::memcmp(trailer, kEndMagic, 8) != 0) return Damaged("trailer");
  uint32_t stored = 0;
  for (int i = 0; i < 4; ++i) {
    stored |= uint32_t{static_cast<uint8_t>(trailer[8 + i])} << (8 * i);
  }
  std::vector<File::Run> runs;
  {
    std::lock_guard<std::mutex> lock(file_->mu);
    runs = file_->runs;
  }
  // The runs, in order, must cover the data exactly once.
  std::sort(
      runs.begin(), runs.end(),
      [](const File::Run& a, const File::Run& b) { return a.begin < b.begin; });
  uint32_t crc = 0;
  uint64_t covered = 0;
  for (const File::Run& run : runs) {
    if (run.begin != covered) return Damaged("checksum (bytes unread)");
    crc = Crc32cCombine(crc, run.crc, run.length);
    covered += run.length;
  }
  if (covered != data_end_) return Damaged("checksum (bytes unread)");
  if (stored != crc) return Damaged("checksum");
  return Status::Ok();
}

Result<uint64_t> VerifySnapshotFile(const std::string& path) {
  Result<std::unique_ptr<SnapshotReader>> reader = SnapshotReader::Open(path);
  if (!reader.ok()) return reader.status();
  SnapshotReader& in = **reader;
  std::vector<char> scratch(kReadBufferBytes);
  while (in.remaining() > 0) {
    const size_t n =
        static_cast<size_t>(std::min<uint64_t>(in.remaining(), scratch.size()));
    if (!in.Get(scratch.data(), n)) return in.Damaged("data");
  }
  SEGD_RETURN_IF_ERROR(in.Finish());
  return in.seq();
}

Status SnapshotReader::Damaged(std::string_view what) const {
  {
    std::lock_guard<std::mutex> lock(file_->mu);
    if (!file_->read_error.ok()) return file_->read_error;
  }
  return Status(ErrorCode::kCorrupt,
                "snapshot " + file_->path + " is damaged: bad " +
                    std::string(what) +
                    "; it is never loaded (segd verify says more)");
}

}  // namespace segd
