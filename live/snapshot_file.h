// Snapshot files: the whole state of a database as of one log record, so
// that a restart reads it instead of replaying the log from the start
// (SPEC §6).
//
// DIR/snapshot-<sequence, 20 digits>.snap holds "SEGDSNP3", the sequence
// number of the last log record it includes, the fields the database
// writes (integers little-endian, strings and blobs as a u32 length and the
// bytes), then "SEGDEND1" and the CRC32C of everything before it. It is
// written to a .tmp file, synced, renamed into place and the directory
// synced, so a crash leaves the old snapshot or the new one, whole. It is
// written around the page cache (base/direct_io.h) where the file system
// allows it.
//
// Threading: a writer is used by one thread at a time; a reader, as its
// comment says.
#ifndef SEGD_LIVE_SNAPSHOT_FILE_H_
#define SEGD_LIVE_SNAPSHOT_FILE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/archive.h"
#include "base/direct_io.h"
#include "base/status.h"

namespace segd {

std::string SnapshotFileName(uint64_t seq);

// The newest snapshot in `dir`: its sequence number and path.
std::optional<std::pair<uint64_t, std::string>> NewestSnapshot(
    const std::string& dir);

// Checks a snapshot file whole: its header, trailer and checksum, without
// reading what it holds. Its sequence number, or kCorrupt.
Result<uint64_t> VerifySnapshotFile(const std::string& path);

class SnapshotWriter final : public ArchiveWriter {
 public:
  // Starts DIR/snapshot-<seq>.snap.tmp.
  static Result<std::unique_ptr<SnapshotWriter>> Create(const std::string& dir,
                                                        uint64_t seq);
  ~SnapshotWriter();  // removes the .tmp file unless committed

  void Put(const void* data, size_t n) override;

  // The trailer, fdatasync, rename into place, and the directory synced.
  Status Commit();
  uint64_t bytes() const { return written_ + used_; }

 private:
  SnapshotWriter(std::string dir, std::string tmp, std::string path, int fd,
                 bool direct, AlignedBuffer buffer);
  // Copies into the buffer, writing it whenever it fills.
  void Append(const char* data, size_t n);
  // Writes the buffer. A direct writer pads the last write to a whole
  // block, and then cuts the file to its length.
  Status Flush(bool last);

  std::string dir_, tmp_, path_;
  int fd_;
  bool direct_;
  AlignedBuffer buffer_;
  size_t used_ = 0;
  uint64_t written_ = 0;
  uint32_t crc_ = 0;
  Status error_;
  bool committed_ = false;
};

// Reads a snapshot. Sections (ArchiveReader::Section) are readers of their
// own, which other threads read at the same time.
//
// The file is read through buffers of the reader's own, up to 4 MiB at a
// time,
// with direct reads where the file system allows them (base/direct_io.h).
// Snapshots are written around the page cache, so a snapshot is cold when
// read back; reading it through the page cache, or into memory of its
// size, would cost a fresh page for every 4 KiB, several times what the
// device takes (BENCHMARKS.md, "Durability"). Each reader checksums the
// runs of bytes it reads, and Finish() combines them into the file's.
//
// Threading: each reader, this one or a section's, is used by one thread at
// a time; they may all run at once.
class SnapshotReader final : public ArchiveReader {
 public:
  // Opens `path` and reads its header: kCorrupt when it is no snapshot.
  static Result<std::unique_ptr<SnapshotReader>> Open(const std::string& path);
  ~SnapshotReader();

  uint64_t seq() const { return seq_; }
  // The format's number: 2 held no event layers, 3 does.
  int format() const { return format_; }
  // False past the end of the data (the trailer is not data), or when the
  // file cannot be read (Damaged() then says so).
  bool Get(void* out, size_t n) override;
  uint64_t remaining() const override;

  // Checks that every byte of data was read, the trailer, and the
  // checksum: kCorrupt otherwise. Until it returns ok, nothing read may be
  // trusted. REQUIRES: every section's reader is destroyed.
  Status Finish();
  // kCorrupt naming the file, for a field that does not parse; kIo
  // instead when a read of the file failed.
  Status Damaged(std::string_view what) const;

 protected:
  std::unique_ptr<ArchiveReader> Fork(uint64_t n) override;

 private:
  struct File;  // shared by this reader and its sections'
  class Range;  // reads a range of the file

  SnapshotReader(std::shared_ptr<File> file, uint64_t data_end);

  std::shared_ptr<File> file_;
  std::unique_ptr<Range> data_;  // [0, data_end_); null after Finish()
  uint64_t data_end_;            // where the trailer starts
  uint64_t seq_ = 0;
  int format_ = 3;
};

}  // namespace segd

#endif  // SEGD_LIVE_SNAPSHOT_FILE_H_
