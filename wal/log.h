// The write-ahead log (SPEC §6): every write is framed, checksummed and
// appended here before it is acknowledged.
//
// Files. A log is a directory of segment files `wal-<S>.log`, where S is
// the sequence number of the segment's first record in 20 decimal digits,
// so names sort in log order. Other files in the directory (snapshots, a
// lock file) are ignored. A writer appends to one segment and starts the
// next once the current one has grown past LogOptions::segment_bytes.
//
// Framing. A segment is a plain sequence of records, each
//   [u32 masked crc32c][u32 payload length][u8 type][u64 seq][payload]
// with integers little-endian (a 17-byte header). The CRC-32C covers
// everything after itself (length, type, seq, payload) and is stored
// masked (wal/crc32c.h). A length over kMaxLogPayload is damage. Sequence
// numbers start at 1 and rise by one from record to record, across
// segments.
//
// Durability. Append() writes its records before it returns, so they
// survive a process crash, but not a power cut until an fdatasync covers
// them. WaitDurable() waits for that as FsyncMode says.
//
// Direct writes. Where the file system allows it, segments are opened with
// O_DIRECT and Append() writes whole kDirectIoBlock blocks from a buffer
// the writer keeps: the block holding the end of the log is written again,
// with the new records, by the next Append. This keeps the log out of the
// page cache: a buffered write into fresh page-cache pages costs far more
// than the device write itself on machines that hand freed memory back to
// their host (BENCHMARKS.md, "Durability"). The last block of the last
// segment is therefore padded with zeros past the last record; a segment
// is cut to its records' end when it is closed or rolled over, and a reader
// cuts the padding of a writer that crashed (LogReadReport::padding_bytes).
// Failure is final: after a failed write or fdatasync the log never tries
// again (the kernel may have dropped the dirty pages, so a later success
// would prove nothing), and every later Append/WaitDurable returns kIo.
//
// Recovery. ReadLog() reads the segments back in order, cuts a torn record
// at the very end of the log and reports anything else as kCorrupt.
#ifndef SEGD_WAL_LOG_H_
#define SEGD_WAL_LOG_H_

#include <sys/uio.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>

#include "base/direct_io.h"
#include "base/status.h"

namespace segd {

inline constexpr size_t kLogRecordHeaderBytes = 17;
inline constexpr uint32_t kMaxLogPayload = uint32_t{1} << 30;  // 1 GiB

enum class FsyncMode {
  kAlways,    // WaitDurable returns after an fdatasync covering the record.
  kEverySec,  // A background thread fdatasyncs about once a second.
  kNo,        // The operating system decides.
};

// "always", "everysec" or "no"; nullopt for anything else.
std::optional<FsyncMode> ParseFsyncMode(std::string_view text);
const char* FsyncModeName(FsyncMode mode);

struct LogOptions {
  std::string dir;  // Exists; the log's segment files live here.
  FsyncMode fsync = FsyncMode::kAlways;
  uint64_t segment_bytes = 64ull << 20;  // A segment rolls over past this.
  // O_DIRECT where the file system takes it (not tmpfs); buffered writes
  // otherwise, or when false.
  bool direct_io = true;
};

struct LogRecord {
  uint64_t seq;
  uint8_t type;
  std::string payload;
};

// Appends records to the log in one directory.
//
// Threads: Append() has one caller at a time (the database's writer lock).
// WaitDurable() and the accessors may be called from any thread, also
// while Append() runs. RemoveSegmentsBefore() may run alongside both. The
// destructor REQUIRES that no other call is in progress.
//
// Owns its open segment file and, in kEverySec mode, a background thread
// that syncs it.
class LogWriter {
 public:
  // Starts a new segment `wal-<next_seq>.log` in options.dir (O_CREAT |
  // O_EXCL; the directory is fsynced after creating it). An empty file of
  // that name, left by a writer that crashed before its first record, is
  // replaced; any other existing file is a kIo error. The first record
  // appended gets `next_seq`.
  // REQUIRES: next_seq >= 1, one past the last record already in the log
  // (ReadLog's last_seq + 1) for the log to read back, and ReadLog run with
  // `repair` first, so that no torn tail is left ahead of the new segment.
  static Result<std::unique_ptr<LogWriter>> Open(const LogOptions& options,
                                                 uint64_t next_seq);

  // Syncs what was appended (unless the log has failed), stops the
  // background thread and closes the file.
  ~LogWriter();

  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Appends one record: written to the file before this returns, not yet
  // synced. Returns its sequence number. When the current segment is past
  // segment_bytes, it is first fdatasynced and closed, and a new segment
  // is started (the directory synced); this happens in every mode, so that
  // a power cut can tear only the last segment, never one before it. A payload
  // over kMaxLogPayload is kInvalid (nothing written); once the log has failed,
  // kIo. REQUIRES: one caller at a time.
  Result<uint64_t> Append(uint8_t type, std::string_view payload);
  // Records of one type in order, with as few writes as the segment's
  // bound allows; the last one's sequence number. None is written when
  // any payload is too large; a failed write may leave some written.
  Result<uint64_t> Append(uint8_t type,
                          std::span<const std::string_view> payloads);

  // Returns when record `seq` is durable as the mode says. kAlways: after
  // an fdatasync covering it; concurrent callers share one fdatasync
  // (group commit: one leader syncs everything appended so far while the
  // others wait, then the next leader takes the next group). kEverySec and
  // kNo: at once. kIo once the log has failed, whatever `seq`.
  // REQUIRES: seq <= last_seq() (a larger seq is kInternal).
  Status WaitDurable(uint64_t seq);

  // Ok, or why the log failed (the first failed write or fdatasync, with
  // the file and the errno text). Never returns to ok.
  Status failure() const;

  uint64_t last_seq() const;     // The last appended; next_seq - 1 at first.
  uint64_t durable_seq() const;  // The last known synced.
  uint64_t syncs() const;        // fdatasync calls made on segments so far.
  bool direct() const { return direct_; }  // Segments written with O_DIRECT.

  // Deletes the segment files all of whose records have seq < `seq` (held
  // by a snapshot now), never the current segment, then syncs the
  // directory. A segment's last seq is known from the name of the segment
  // after it, so only segments with a successor are candidates.
  Status RemoveSegmentsBefore(uint64_t seq);

  // Test hook: the next fdatasync fails as if with EIO (it is not made).
  void FailNextSyncForTest();

 private:
  // `buffer` (kDirectBufferBytes) when direct, else null.
  LogWriter(const LogOptions& options, uint64_t next_seq, int fd,
            std::string file, AlignedBuffer buffer);

  // Writes iov at the end of the current segment: one writev, or in direct
  // mode through buffer_ in whole blocks. 0 or an errno.
  int Write(iovec* iov, int count);
  int WriteDirect(const iovec* iov, int count);
  // Cuts a directly written segment's zero padding. 0 or an errno.
  int CutPadding();

  // Makes every record up to `seq` durable, as a group-commit leader or by
  // waiting for one. REQUIRES: `lock` holds mu_.
  Status SyncLocked(std::unique_lock<std::mutex>& lock, uint64_t seq);
  // fdatasync(fd), counted; 0 or an errno.
  int SyncFile(int fd);
  // Syncs and closes the current segment and starts `wal-<first_seq>.log`.
  Status RollOver(uint64_t first_seq);
  // Records the first failure and wakes every waiter. REQUIRES: mu_ held.
  void FailLocked(Status status);
  void SyncEverySecond();

  const LogOptions options_;

  // Written only by Append (under mu_ when it changes), so Append reads
  // them without the lock; others read them under mu_ while
  // sync_in_progress_ keeps them stable.
  int fd_ = -1;
  std::string file_;            // Path of the current segment.
  uint64_t segment_bytes_ = 0;  // Bytes written to the current segment.

  std::atomic<uint64_t> last_seq_;
  std::atomic<uint64_t> durable_seq_;
  std::atomic<uint64_t> current_first_seq_;
  std::atomic<uint64_t> syncs_{0};
  std::atomic<bool> failed_{false};
  std::atomic<bool> fail_next_sync_{false};

  mutable std::mutex mu_;
  std::condition_variable sync_done_;  // sync_in_progress_ became false.
  std::condition_variable stop_cv_;    // stop_ became true.
  bool sync_in_progress_ = false;      // Guarded by mu_.
  bool stop_ = false;                  // Guarded by mu_.
  Status failure_;                     // Guarded by mu_.

  std::thread syncer_;  // kEverySec only.

  // Direct mode only, used by Append alone: kDirectBufferBytes aligned to
  // kDirectIoBlock. Between Appends it begins with the segment's last
  // partial block, the segment_bytes_ % kDirectIoBlock bytes past the last
  // block boundary.
  static constexpr size_t kDirectBufferBytes = size_t{1} << 20;
  bool direct_;
  AlignedBuffer buffer_;
};

struct LogReadReport {
  uint64_t records = 0;   // Valid records passed to fn (seq >= from).
  uint64_t last_seq = 0;  // Of the last valid record, passed or not (0: none).
  uint64_t torn_bytes = 0;  // Cut from the tail of the last segment.
  std::string torn_file;    // Its path, when torn or padding bytes > 0.
  // Zeros after the last record of the last segment up to its end, which
  // is block-aligned and less than a block away: a direct writer's padding,
  // not damage. Cut like a torn tail, but not counted in torn_bytes.
  uint64_t padding_bytes = 0;
};

// Reads every segment of `dir` in order, calling fn for each valid record
// with seq >= `from` (records before it are still checked).
//
// A torn record at the very end of the LAST segment (incomplete, or
// failing its checksum, with no valid record at any later byte offset:
// zero-filled garbage, a half-written header or payload) is cut: when
// `repair`, the file is truncated to the end of the last valid record and
// fsynced; either way it is reported in torn_bytes and torn_file (or in
// padding_bytes alone, when it is a direct writer's zero padding).
//
// kCorrupt, with the file and byte offset in the message (and the file in
// the status' path): damage followed by any valid record, damage in a
// segment that is not the last, a sequence gap or a sequence going
// backwards (between segments too), a log whose first segment starts after
// `from` (the records before it in no snapshot), a segment whose name does not
// match its first record, a `wal-*.log` name that is not a segment name. kIo
// when a file cannot be read. If fn returns a non-ok Status, reading stops
// and that status is returned.
//
// Threads: any, but not while a LogWriter appends to `dir`.
Result<LogReadReport> ReadLog(
    const std::string& dir, uint64_t from, bool repair,
    const std::function<Status(const LogRecord&)>& fn);

// "wal-<seq, 20 digits>.log".
std::string LogSegmentName(uint64_t first_seq);

}  // namespace segd

#endif  // SEGD_WAL_LOG_H_
