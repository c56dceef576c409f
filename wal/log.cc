#include "wal/log.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <utility>
#include <vector>

#include "base/direct_io.h"
#include "base/thread_name.h"
#include "wal/crc32c.h"

namespace segd {
namespace {

// Header layout: the masked CRC, then the bytes it covers.
constexpr size_t kCrcOffset = 0;
constexpr size_t kLengthOffset = 4;
constexpr size_t kTypeOffset = 8;
constexpr size_t kSeqOffset = 9;
static_assert(kSeqOffset + 8 == kLogRecordHeaderBytes);

constexpr std::string_view kSegmentPrefix = "wal-";
constexpr std::string_view kSegmentSuffix = ".log";
constexpr size_t kSegmentDigits = 20;

void EncodeLe32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

void EncodeLe64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

uint32_t DecodeLe32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= uint32_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

uint64_t DecodeLe64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

std::string ErrnoText(int err) { return std::generic_category().message(err); }

Status IoError(std::string_view what, const std::string& file, int err) {
  return Status(ErrorCode::kIo,
                std::string(what) + " " + file + ": " + ErrnoText(err), file);
}

Status CorruptAt(const std::string& file, uint64_t offset,
                 const std::string& what) {
  return Status(ErrorCode::kCorrupt,
                "write-ahead log corrupt: " + file + " at byte " +
                    std::to_string(offset) + ": " + what,
                file);
}

std::string JoinPath(const std::string& dir, std::string_view name) {
  std::string path = dir;
  if (!path.empty() && path.back() != '/') path += '/';
  path += name;
  return path;
}

// `wal-*.log`: a name the log claims, well-formed or not.
bool LooksLikeSegment(std::string_view name) {
  return name.size() >= kSegmentPrefix.size() + kSegmentSuffix.size() &&
         name.substr(0, kSegmentPrefix.size()) == kSegmentPrefix &&
         name.substr(name.size() - kSegmentSuffix.size()) == kSegmentSuffix;
}

// The first seq of `wal-<20 digits>.log`; nullopt for any other name.
std::optional<uint64_t> ParseSegmentName(std::string_view name) {
  if (name.size() !=
          kSegmentPrefix.size() + kSegmentDigits + kSegmentSuffix.size() ||
      !LooksLikeSegment(name)) {
    return std::nullopt;
  }
  uint64_t value = 0;
  for (char c : name.substr(kSegmentPrefix.size(), kSegmentDigits)) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

struct SegmentFile {
  uint64_t first_seq;
  std::string name;
};

struct SegmentListing {
  std::vector<SegmentFile> segments;  // Sorted by first_seq.
  std::vector<std::string> misnamed;  // wal-*.log but not a segment name.
};

Result<SegmentListing> ListSegments(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return IoError("open directory", dir, errno);
  SegmentListing listing;
  errno = 0;
  while (const dirent* entry = readdir(d)) {
    const std::string_view name = entry->d_name;
    if (!LooksLikeSegment(name)) continue;
    if (std::optional<uint64_t> first = ParseSegmentName(name)) {
      listing.segments.push_back({*first, std::string(name)});
    } else {
      listing.misnamed.emplace_back(name);
    }
  }
  const int err = errno;
  closedir(d);
  if (err != 0) return IoError("read directory", dir, err);
  std::sort(listing.segments.begin(), listing.segments.end(),
            [](const SegmentFile& a, const SegmentFile& b) {
              return a.first_seq < b.first_seq;
            });
  std::sort(listing.misnamed.begin(), listing.misnamed.end());
  return listing;
}

Status SyncDir(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("open directory", dir, errno);
  int rc;
  do {
    rc = fsync(fd);
  } while (rc != 0 && errno == EINTR);
  const int err = errno;
  close(fd);
  if (rc != 0) return IoError("fsync directory", dir, err);
  return Status::Ok();
}

// Creates the segment file `path` in `dir` and syncs the directory. An empty
// file of that name (a writer that died before its first record) is replaced.
// With `*direct`, opens it with O_DIRECT, or clears *direct when the file
// system refuses that (EINVAL, as tmpfs may).
Result<int> CreateSegment(const std::string& dir, const std::string& path,
                          bool* direct) {
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
  int fd = open(path.c_str(), kFlags, 0644);
  int err = errno;
  if (fd < 0 && err == EEXIST) {
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        st.st_size == 0) {
      if (unlink(path.c_str()) != 0) {
        return IoError("remove empty segment", path, errno);
      }
      fd = open(path.c_str(), kFlags, 0644);
      err = errno;
    }
  }
  if (fd < 0) return IoError("create segment", path, err);
  if (*direct) {
    // Set after creating, so that a refusal leaves a usable buffered file.
    if (const int error = EnableDirectIo(fd, direct); error != 0) {
      close(fd);
      return IoError("open for direct writes", path, error);
    }
  }
  if (Status synced = SyncDir(dir); !synced.ok()) {
    close(fd);
    return synced;
  }
  return fd;
}

// Writes all of iov; 0 or an errno. A short write goes on from where it
// stopped (that is progress, not a retry of a failure).
int WriteAll(int fd, iovec* iov, int count) {
  while (count > 0) {
    const ssize_t n = writev(fd, iov, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    size_t done = static_cast<size_t>(n);
    while (count > 0 && done >= iov->iov_len) {
      done -= iov->iov_len;
      ++iov;
      --count;
    }
    if (count > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + done;
      iov->iov_len -= done;
    }
  }
  return 0;
}

Status ReadWholeFile(const std::string& path, std::string* data) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("open", path, errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return IoError("stat", path, err);
  }
  data->resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < data->size()) {
    const ssize_t n = pread(fd, data->data() + done, data->size() - done,
                            static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      close(fd);
      return IoError("read", path, err);
    }
    done += static_cast<size_t>(n);
  }
  close(fd);
  return Status::Ok();
}

Status TruncateFile(const std::string& path, uint64_t size) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return IoError("open", path, errno);
  int err = 0;
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    err = errno;
  } else {
    while (fsync(fd) != 0) {
      if (errno != EINTR) {
        err = errno;
        break;
      }
    }
  }
  close(fd);
  if (err != 0) return IoError("truncate", path, err);
  return Status::Ok();
}

// The size of the valid record starting at data[offset], or 0 when there
// is none there, with *problem saying why.
size_t CheckRecord(std::string_view data, size_t offset, const char** problem) {
  const size_t rest = data.size() - offset;
  if (rest < kLogRecordHeaderBytes) {
    *problem = "incomplete record header";
    return 0;
  }
  const char* p = data.data() + offset;
  const uint32_t length = DecodeLe32(p + kLengthOffset);
  if (length > kMaxLogPayload) {
    *problem = "record length over 1 GiB";
    return 0;
  }
  if (length > rest - kLogRecordHeaderBytes) {
    *problem = "incomplete record";
    return 0;
  }
  const uint32_t crc =
      Crc32c(p + kLengthOffset, kLogRecordHeaderBytes - kLengthOffset + length);
  if (crc != UnmaskCrc(DecodeLe32(p + kCrcOffset))) {
    *problem = "checksum mismatch";
    return 0;
  }
  return kLogRecordHeaderBytes + length;
}

// The first offset at or after `from` where a valid record starts.
std::optional<size_t> FindValidRecord(std::string_view data, size_t from) {
  const char* unused;
  for (size_t offset = from; offset + kLogRecordHeaderBytes <= data.size();
       ++offset) {
    if (CheckRecord(data, offset, &unused) != 0) return offset;
  }
  return std::nullopt;
}

// Whether data[offset, end) is a direct writer's zero padding: zeros only,
// less than a block, up to a block boundary.
bool IsPadding(std::string_view data, size_t offset) {
  const size_t rest = data.size() - offset;
  return data.size() % kDirectIoBlock == 0 && rest < kDirectIoBlock &&
         std::all_of(data.begin() + offset, data.end(),
                     [](char c) { return c == 0; });
}

Status BeyondLastSeq(uint64_t seq, uint64_t last_seq) {
  return Status(ErrorCode::kInternal,
                "WaitDurable(" + std::to_string(seq) +
                    ") is beyond the last appended record " +
                    std::to_string(last_seq));
}

}  // namespace

std::optional<FsyncMode> ParseFsyncMode(std::string_view text) {
  if (text == "always") return FsyncMode::kAlways;
  if (text == "everysec") return FsyncMode::kEverySec;
  if (text == "no") return FsyncMode::kNo;
  return std::nullopt;
}

const char* FsyncModeName(FsyncMode mode) {
  switch (mode) {
    case FsyncMode::kAlways:
      return "always";
    case FsyncMode::kEverySec:
      return "everysec";
    case FsyncMode::kNo:
      return "no";
  }
  return "always";
}

std::string LogSegmentName(uint64_t first_seq) {
  char name[64];
  std::snprintf(name, sizeof(name), "wal-%020llu.log",
                static_cast<unsigned long long>(first_seq));
  return name;
}

// ---------------------------------------------------------------------------
// LogWriter

LogWriter::LogWriter(const LogOptions& options, uint64_t next_seq, int fd,
                     std::string file, AlignedBuffer buffer)
    : options_(options),
      fd_(fd),
      file_(std::move(file)),
      last_seq_(next_seq - 1),
      durable_seq_(next_seq - 1),
      current_first_seq_(next_seq),
      direct_(buffer != nullptr),
      buffer_(std::move(buffer)) {}

Result<std::unique_ptr<LogWriter>> LogWriter::Open(const LogOptions& options,
                                                   uint64_t next_seq) {
  if (next_seq == 0) {
    return Status(ErrorCode::kInvalid, "log sequence numbers start at 1");
  }
  std::string file = JoinPath(options.dir, LogSegmentName(next_seq));
  // Allocated first, so that a failure leaves no file open.
  AlignedBuffer buffer;
  if (options.direct_io) buffer = AllocateAligned(kDirectBufferBytes);
  bool direct = options.direct_io;
  Result<int> fd = CreateSegment(options.dir, file, &direct);
  if (!fd.ok()) return fd.status();
  if (!direct) buffer.reset();
  std::unique_ptr<LogWriter> writer(new LogWriter(
      options, next_seq, *fd, std::move(file), std::move(buffer)));
  if (options.fsync == FsyncMode::kEverySec) {
    writer->syncer_ = std::thread([w = writer.get()] { w->SyncEverySecond(); });
  }
  return writer;
}

LogWriter::~LogWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (syncer_.joinable()) syncer_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    // With the padding cut, one fdatasync makes both the records and the
    // segment's length durable (a reader that finds the padding in a segment
    // that is not the last would refuse the log). A failure here has no one
    // left to tell: the next start reads what is there.
    if (failure_.ok() && CutPadding() == 0) SyncFile(fd_);
  }
  close(fd_);
}

Result<uint64_t> LogWriter::Append(uint8_t type, std::string_view payload) {
  return Append(type, std::span<const std::string_view>(&payload, 1));
}

Result<uint64_t> LogWriter::Append(uint8_t type,
                                   std::span<const std::string_view> payloads) {
  if (failed_.load(std::memory_order_acquire)) return failure();
  for (std::string_view payload : payloads) {
    if (payload.size() > kMaxLogPayload) {
      return Status(ErrorCode::kInvalid, "log record of " +
                                             std::to_string(payload.size()) +
                                             " bytes is over the 1 GiB limit");
    }
  }
  // A write takes up to kChunk records (a writev's IOV_MAX is 1024
  // buffers), and none past the segment's bound: the next chunk starts a
  // new segment.
  constexpr size_t kChunk = 256;
  std::vector<std::array<char, kLogRecordHeaderBytes>> headers(
      std::min(payloads.size(), kChunk));
  std::vector<iovec> iov;
  iov.reserve(2 * headers.size());
  uint64_t seq = last_seq_.load(std::memory_order_relaxed);
  size_t next = 0;
  while (next < payloads.size()) {
    if (segment_bytes_ >= options_.segment_bytes) {
      SEGD_RETURN_IF_ERROR(RollOver(seq + 1));
    }
    iov.clear();
    uint64_t bytes = 0;
    for (size_t n = 0; n < kChunk && next < payloads.size(); ++n, ++next) {
      const std::string_view payload = payloads[next];
      char* header = headers[n].data();
      EncodeLe32(header + kLengthOffset, static_cast<uint32_t>(payload.size()));
      header[kTypeOffset] = static_cast<char>(type);
      EncodeLe64(header + kSeqOffset, ++seq);
      const uint32_t crc =
          Crc32c(payload.data(), payload.size(),
                 Crc32c(header + kLengthOffset,
                        kLogRecordHeaderBytes - kLengthOffset));
      EncodeLe32(header + kCrcOffset, MaskCrc(crc));
      iov.push_back(iovec{header, kLogRecordHeaderBytes});
      if (!payload.empty()) {
        iov.push_back(iovec{const_cast<char*>(payload.data()), payload.size()});
      }
      bytes += kLogRecordHeaderBytes + payload.size();
      if (segment_bytes_ + bytes >= options_.segment_bytes) {
        ++next;
        break;
      }
    }
    if (const int err = Write(iov.data(), static_cast<int>(iov.size()));
        err != 0) {
      std::lock_guard<std::mutex> lock(mu_);
      FailLocked(IoError("write", file_, err));
      return failure_;
    }
    segment_bytes_ += bytes;
    last_seq_.store(seq, std::memory_order_release);
  }
  return seq;
}

int LogWriter::Write(iovec* iov, int count) {
  return direct_ ? WriteDirect(iov, count) : WriteAll(fd_, iov, count);
}

int LogWriter::WriteDirect(const iovec* iov, int count) {
  char* const buffer = buffer_.get();
  // The buffer holds the file's bytes from `offset`, a block boundary: the
  // last partial block so far, then what this call adds.
  size_t buffered = segment_bytes_ % kDirectIoBlock;
  uint64_t offset = segment_bytes_ - buffered;
  for (int i = 0; i < count; ++i) {
    const char* data = static_cast<const char*>(iov[i].iov_base);
    size_t size = iov[i].iov_len;
    while (size > 0) {
      const size_t n = std::min(size, kDirectBufferBytes - buffered);
      std::memcpy(buffer + buffered, data, n);
      buffered += n;
      data += n;
      size -= n;
      if (buffered == kDirectBufferBytes) {  // Whole blocks: no padding.
        if (const int err =
                WriteAllAt(fd_, buffer, kDirectBufferBytes, offset)) {
          return err;
        }
        offset += kDirectBufferBytes;
        buffered = 0;
      }
    }
  }
  if (buffered == 0) return 0;
  // The last block, padded with zeros; the next write rewrites it.
  const size_t whole = RoundDownToDirectIoBlock(buffered);
  const size_t padded = RoundUpToDirectIoBlock(buffered);
  std::memset(buffer + buffered, 0, padded - buffered);
  if (const int err = WriteAllAt(fd_, buffer, padded, offset)) return err;
  std::memmove(buffer, buffer + whole, buffered - whole);
  return 0;
}

int LogWriter::CutPadding() {
  if (!direct_ || segment_bytes_ % kDirectIoBlock == 0) return 0;
  if (ftruncate(fd_, static_cast<off_t>(segment_bytes_)) != 0) return errno;
  return 0;
}

Status LogWriter::RollOver(uint64_t first_seq) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    sync_done_.wait(lock,
                    [this] { return !sync_in_progress_ || !failure_.ok(); });
    if (!failure_.ok()) return failure_;
    sync_in_progress_ = true;
  }
  // As leader, with Append (this thread) the only writer: the old segment
  // is made whole on disk before the next one exists, in every mode, so a
  // power cut can tear only the last segment.
  const uint64_t covered = last_seq_.load(std::memory_order_relaxed);
  std::string file = JoinPath(options_.dir, LogSegmentName(first_seq));
  Status status;
  int fd = -1;
  bool direct = direct_;
  if (const int err = CutPadding(); err != 0) {
    status = IoError("truncate", file_, err);
  } else if (const int err = SyncFile(fd_); err != 0) {
    status = IoError("fdatasync", file_, err);
  } else {
    Result<int> created = CreateSegment(options_.dir, file, &direct);
    if (created.ok()) {
      fd = *created;
    } else {
      status = created.status();
    }
  }

  std::lock_guard<std::mutex> lock(mu_);
  sync_in_progress_ = false;
  if (!status.ok()) {
    FailLocked(std::move(status));
    return failure_;
  }
  close(fd_);
  fd_ = fd;
  file_ = std::move(file);
  segment_bytes_ = 0;
  // The same, unless the file system changed its mind.
  if (!direct) {
    direct_ = false;
    buffer_.reset();
  }
  current_first_seq_.store(first_seq);
  if (covered > durable_seq_.load()) durable_seq_.store(covered);
  sync_done_.notify_all();
  return Status::Ok();
}

Status LogWriter::WaitDurable(uint64_t seq) {
  if (options_.fsync == FsyncMode::kAlways) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!failure_.ok()) return failure_;
    if (seq > last_seq_.load(std::memory_order_acquire)) {
      return BeyondLastSeq(seq, last_seq_.load());
    }
    return SyncLocked(lock, seq);
  }
  if (failed_.load(std::memory_order_acquire)) return failure();
  if (seq > last_seq_.load(std::memory_order_acquire)) {
    return BeyondLastSeq(seq, last_seq_.load());
  }
  return Status::Ok();
}

Status LogWriter::SyncLocked(std::unique_lock<std::mutex>& lock, uint64_t seq) {
  for (;;) {
    if (!failure_.ok()) return failure_;
    if (durable_seq_.load() >= seq) return Status::Ok();
    if (!sync_in_progress_) break;
    sync_done_.wait(lock);
  }
  // Leader: everything appended so far goes into this one fdatasync; those
  // who arrive meanwhile wait and form the next group.
  sync_in_progress_ = true;
  const uint64_t target = last_seq_.load(std::memory_order_acquire);
  const int fd = fd_;
  lock.unlock();
  const int err = SyncFile(fd);
  lock.lock();
  sync_in_progress_ = false;
  if (err != 0) {
    FailLocked(IoError("fdatasync", file_, err));
  } else if (target > durable_seq_.load()) {
    durable_seq_.store(target);
  }
  sync_done_.notify_all();
  return failure_;
}

int LogWriter::SyncFile(int fd) {
  syncs_.fetch_add(1, std::memory_order_relaxed);
  if (fail_next_sync_.exchange(false)) return EIO;
  while (fdatasync(fd) != 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

void LogWriter::FailLocked(Status status) {
  if (failure_.ok()) {
    failure_ = std::move(status);
    failed_.store(true, std::memory_order_release);
  }
  sync_done_.notify_all();
}

void LogWriter::SyncEverySecond() {
  NameThisThread("segd-log-sync");
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_ && failure_.ok()) {
    stop_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; });
    if (stop_) break;
    SyncLocked(lock, last_seq_.load(std::memory_order_acquire));
  }
}

Status LogWriter::failure() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failure_;
}

uint64_t LogWriter::last_seq() const {
  return last_seq_.load(std::memory_order_acquire);
}

uint64_t LogWriter::durable_seq() const { return durable_seq_.load(); }

uint64_t LogWriter::syncs() const {
  return syncs_.load(std::memory_order_relaxed);
}

void LogWriter::FailNextSyncForTest() { fail_next_sync_.store(true); }

Status LogWriter::RemoveSegmentsBefore(uint64_t seq) {
  Result<SegmentListing> listing = ListSegments(options_.dir);
  if (!listing.ok()) return listing.status();
  const std::vector<SegmentFile>& segments = listing->segments;
  const uint64_t current = current_first_seq_.load();
  bool removed = false;
  // Segment i holds seqs [first_i, first_{i+1}), all below `seq` exactly
  // when first_{i+1} <= seq.
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    if (segments[i].first_seq >= current) break;
    if (segments[i + 1].first_seq > seq) break;
    const std::string path = JoinPath(options_.dir, segments[i].name);
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return IoError("remove segment", path, errno);
    }
    removed = true;
  }
  if (removed) return SyncDir(options_.dir);
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// ReadLog

Result<LogReadReport> ReadLog(
    const std::string& dir, uint64_t from, bool repair,
    const std::function<Status(const LogRecord&)>& fn) {
  Result<SegmentListing> listing = ListSegments(dir);
  if (!listing.ok()) return listing.status();
  if (!listing->misnamed.empty()) {
    const std::string path = JoinPath(dir, listing->misnamed.front());
    return Status(ErrorCode::kCorrupt,
                  "write-ahead log corrupt: " + path +
                      " is not a segment name (wal-<20 digits>.log)",
                  path);
  }
  const std::vector<SegmentFile>& segments = listing->segments;
  // The records before `from` are in a snapshot; those from it on must all
  // be here. A log that starts later lost its head, or the snapshot that
  // held it.
  if (!segments.empty() && segments.front().first_seq > from) {
    const std::string path = JoinPath(dir, segments.front().name);
    return CorruptAt(
        path, 0,
        "the log starts at record " +
            std::to_string(segments.front().first_seq) + ", but records from " +
            std::to_string(from) +
            " on are in no snapshot: a snapshot or a log segment is missing");
  }

  LogReadReport report;
  LogRecord record{0, 0, {}};
  std::string data;
  std::optional<uint64_t> expected;  // The next seq.
  for (size_t i = 0; i < segments.size(); ++i) {
    const bool last_segment = i + 1 == segments.size();
    const std::string path = JoinPath(dir, segments[i].name);
    const uint64_t first = segments[i].first_seq;
    if (expected && first != *expected) {
      return CorruptAt(path, 0,
                       std::string(first < *expected ? "sequence goes backwards"
                                                     : "sequence gap") +
                           ": segment starts at " + std::to_string(first) +
                           ", expected " + std::to_string(*expected));
    }
    expected = first;
    SEGD_RETURN_IF_ERROR(ReadWholeFile(path, &data));

    size_t offset = 0;
    while (offset < data.size()) {
      const char* problem = nullptr;
      const size_t size = CheckRecord(data, offset, &problem);
      if (size == 0) {
        if (std::optional<size_t> next = FindValidRecord(data, offset + 1)) {
          return CorruptAt(path, offset,
                           std::string(problem) +
                               ", followed by a valid record at byte " +
                               std::to_string(*next));
        }
        if (!last_segment) {
          return CorruptAt(
              path, offset,
              std::string(problem) + " in a segment that is not the last");
        }
        if (IsPadding(data, offset)) {
          report.padding_bytes = data.size() - offset;
        } else {
          report.torn_bytes = data.size() - offset;
        }
        report.torn_file = path;
        if (repair) SEGD_RETURN_IF_ERROR(TruncateFile(path, offset));
        break;
      }

      const char* p = data.data() + offset;
      const uint64_t seq = DecodeLe64(p + kSeqOffset);
      if (seq != *expected) {
        std::string what;
        if (offset == 0) {
          what = "segment name says its first record is " +
                 std::to_string(first) + ", but it is " + std::to_string(seq);
        } else {
          what = std::string(seq < *expected ? "sequence goes backwards"
                                             : "sequence gap") +
                 ": record " + std::to_string(seq) + ", expected " +
                 std::to_string(*expected);
        }
        return CorruptAt(path, offset, what);
      }
      if (seq >= from) {
        record.seq = seq;
        record.type = static_cast<uint8_t>(p[kTypeOffset]);
        record.payload.assign(p + kLogRecordHeaderBytes,
                              size - kLogRecordHeaderBytes);
        SEGD_RETURN_IF_ERROR(fn(record));
        ++report.records;
      }
      report.last_seq = seq;
      expected = seq + 1;
      offset += size;
    }
  }
  return report;
}

}  // namespace segd
