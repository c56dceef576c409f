#include "live/snapshot_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

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
                               std::string path, int fd, bool direct)
    : dir_(std::move(dir)),
      tmp_(std::move(tmp)),
      path_(std::move(path)),
      fd_(fd),
      direct_(direct),
      buffer_(AllocateAligned(kBufferBytes)) {}

Result<std::unique_ptr<SnapshotWriter>> SnapshotWriter::Create(
    const std::string& dir, uint64_t seq) {
  const std::string path = dir + "/" + SnapshotFileName(seq);
  const std::string tmp = path + ".tmp";
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
      new SnapshotWriter(dir, tmp, path, fd, direct));
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
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pwrite(fd_, buffer_.get() + done, size - done,
                             static_cast<off_t>(written_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      error_ = IoError("cannot write", tmp_);
      return error_;
    }
    done += static_cast<size_t>(n);
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

SnapshotReader::SnapshotReader(std::string path, const char* map, uint64_t size)
    : path_(std::move(path)),
      map_(map),
      size_(size),
      data_end_(size >= kTrailerBytes ? size - kTrailerBytes : 0) {
  crc_ = std::async(std::launch::async, [this] {
    return Crc32c(map_, static_cast<size_t>(data_end_), 0);
  });
}

SnapshotReader::~SnapshotReader() {
  if (crc_.valid()) crc_.wait();
  if (map_ != nullptr) munmap(const_cast<char*>(map_), size_);
}

Result<std::unique_ptr<SnapshotReader>> SnapshotReader::Open(
    const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open", path);
  struct stat info;
  if (fstat(fd, &info) != 0) {
    const Status error = IoError("cannot stat", path);
    close(fd);
    return error;
  }
  const uint64_t size = static_cast<uint64_t>(info.st_size);
  void* map = nullptr;
  if (size > 0) {
    // The data directory is locked (live/database.h), so nothing cuts the
    // file short while it is mapped.
    map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      const Status error = IoError("cannot map", path);
      close(fd);
      return error;
    }
    madvise(map, size, MADV_WILLNEED);
  }
  close(fd);
  std::unique_ptr<SnapshotReader> reader(
      new SnapshotReader(path, static_cast<const char*>(map), size));
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
  if (n > remaining()) return false;
  std::memcpy(out, map_ + offset_, n);
  offset_ += n;
  return true;
}

std::unique_ptr<ArchiveReader> SnapshotReader::Fork(uint64_t n) {
  auto fork = std::make_unique<MemoryReader>(map_ + offset_, n);
  offset_ += n;
  return fork;
}

Status SnapshotReader::Finish() {
  if (offset_ != data_end_) return Damaged("length (data left unread)");
  if (size_ < 16 + kTrailerBytes) return Damaged("trailer");
  const uint32_t crc = crc_.get();
  const char* trailer = map_ + data_end_;
  uint32_t stored = 0;
  for (int i = 0; i < 4; ++i) {
    stored |= uint32_t{static_cast<uint8_t>(trailer[8 + i])} << (8 * i);
  }
  if (std::memcmp(trailer, kEndMagic, 8) != 0) return Damaged("trailer");
  if (stored != crc) return Damaged("checksum");
  return Status::Ok();
}

Result<uint64_t> VerifySnapshotFile(const std::string& path) {
  Result<std::unique_ptr<SnapshotReader>> reader = SnapshotReader::Open(path);
  if (!reader.ok()) return reader.status();
  SnapshotReader& in = **reader;
  // The checksum thread reads the data; nothing here needs to.
  in.Fork(in.remaining());
  SEGD_RETURN_IF_ERROR(in.Finish());
  return in.seq();
}

Status SnapshotReader::Damaged(std::string_view what) const {
  return Status(ErrorCode::kCorrupt,
                "snapshot " + path_ + " is damaged: bad " + std::string(what) +
                    "; it is never loaded (segd verify says more)");
}

}  // namespace segd
