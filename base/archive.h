// Archives: the byte streams that structures are saved to and loaded from
// (a database snapshot, live/snapshot_file.h), so that a restart copies
// indexes back instead of building them again.
//
// Integers are written as they lie in memory (little-endian; index/ asserts
// it), and vectors of trivially copyable elements as a u64 count and their
// bytes, so that saving and loading are a copy at memory speed. An archive
// carries no types: each structure reads back exactly the fields it wrote,
// in the same order.
//
// A reader never trusts a count: one larger than the bytes left fails the
// read before anything is allocated, so a damaged file costs no more memory
// than its size. A load checks what it needs to stay in bounds while it
// reads; the archive's checksum, verified when the reading ends, vouches for
// the rest before anything is used.
//
// Sections (a length, then the bytes) let a reader hand a part to another
// thread: a structure made of many independent parts (an index's shards and
// attributes, pages of blobs) saves each as a section and loads them all at
// once.
//
// Threading: one thread per reader or writer; a section's reader is a
// reader of its own.
#ifndef SEGD_BASE_ARCHIVE_H_
#define SEGD_BASE_ARCHIVE_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace segd {

class ArchiveWriter {
 public:
  virtual ~ArchiveWriter() = default;
  // Appends `n` bytes. Errors are sticky and reported when the archive is
  // committed, so the structures saving to it need not check each write.
  virtual void Put(const void* data, size_t n) = 0;

  void U8(uint8_t v) { Put(&v, 1); }
  void U32(uint32_t v) { Put(&v, sizeof(v)); }
  void U64(uint64_t v) { Put(&v, sizeof(v)); }
  // A u32 length and the bytes.
  void Bytes(std::string_view bytes) {
    U32(static_cast<uint32_t>(bytes.size()));
    Put(bytes.data(), bytes.size());
  }
  // A u64 length and the bytes, for text that may pass 4 GiB.
  void LongBytes(std::string_view bytes) {
    U64(bytes.size());
    Put(bytes.data(), bytes.size());
  }
  template <typename T>
  void Pod(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    Put(&v, sizeof(T));
  }
  template <typename T>
  void Vector(const std::vector<T>& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    U64(v.size());
    Put(v.data(), v.size() * sizeof(T));
  }
  // What `save(ArchiveWriter&)` writes, after its length in bytes, so that
  // a reader can Fork it off and load it on a thread of its own. `save`
  // runs twice (first to count), so it must write the same both times.
  template <typename Save>
  void Section(Save&& save);
};

// Counts bytes instead of writing them (ArchiveWriter::Section).
class ByteCounter final : public ArchiveWriter {
 public:
  void Put(const void*, size_t n) override { bytes_ += n; }
  uint64_t bytes() const { return bytes_; }

 private:
  uint64_t bytes_ = 0;
};

template <typename Save>
void ArchiveWriter::Section(Save&& save) {
  ByteCounter counter;
  save(static_cast<ArchiveWriter&>(counter));
  U64(counter.bytes());
  save(*this);
}

class ArchiveReader {
 public:
  virtual ~ArchiveReader() = default;
  // Copies the next `n` bytes to `out`; false when fewer are left.
  virtual bool Get(void* out, size_t n) = 0;
  // Bytes left to read.
  virtual uint64_t remaining() const = 0;

  bool U8(uint8_t* v) { return Get(v, 1); }
  bool U32(uint32_t* v) { return Get(v, sizeof(*v)); }
  bool U64(uint64_t* v) { return Get(v, sizeof(*v)); }
  bool Bytes(std::string* bytes) {
    uint32_t n;
    return U32(&n) && Text(n, bytes);
  }
  bool LongBytes(std::string* bytes) {
    uint64_t n;
    return U64(&n) && Text(n, bytes);
  }
  bool Bool(bool* v) {
    uint8_t b;
    if (!U8(&b) || b > 1) return false;
    *v = b != 0;
    return true;
  }
  template <typename T>
  bool Pod(T* v) {
    static_assert(std::is_trivially_copyable_v<T>);
    return Get(v, sizeof(T));
  }
  template <typename T>
  bool Vector(std::vector<T>* v) {
    static_assert(std::is_trivially_copyable_v<T>);
    uint64_t n;
    if (!U64(&n) || !Fits(n, sizeof(T))) return false;
    v->resize(n);
    // An empty vector's data() may be null, which no Get takes.
    return n == 0 || Get(v->data(), n * sizeof(T));
  }
  // Whether `count` items of `item_bytes` each can still be read: checked
  // before a count sizes anything.
  bool Fits(uint64_t count, uint64_t item_bytes) const {
    return item_bytes == 0 || count <= remaining() / item_bytes;
  }

  // A reader of the next section (ArchiveWriter::Section), which this one
  // skips; null when the section does not fit. Sections read on threads
  // of their own, each from its own reader, while this one reads on. The
  // fork's bytes count as read by the fork, not by this reader.
  std::unique_ptr<ArchiveReader> Section() {
    uint64_t n;
    if (!U64(&n) || n > remaining()) return nullptr;
    return Fork(n);
  }

 protected:
  // The next `n` bytes as a reader of their own, a view of them.
  // REQUIRES: n <= remaining().
  virtual std::unique_ptr<ArchiveReader> Fork(uint64_t n) = 0;

 private:
  bool Text(uint64_t n, std::string* bytes) {
    if (!Fits(n, 1)) return false;
    bytes->resize(n);
    return Get(bytes->data(), n);
  }
};

// Reads an archive held in memory, which it does not own.
class MemoryReader final : public ArchiveReader {
 public:
  MemoryReader(const char* data, uint64_t size)
      : at_(data), end_(data + size) {}

  bool Get(void* out, size_t n) override {
    if (n > remaining()) return false;
    std::memcpy(out, at_, n);
    at_ += n;
    return true;
  }
  uint64_t remaining() const override {
    return static_cast<uint64_t>(end_ - at_);
  }

 protected:
  std::unique_ptr<ArchiveReader> Fork(uint64_t n) override {
    auto fork = std::make_unique<MemoryReader>(at_, n);
    at_ += n;
    return fork;
  }

 private:
  const char* at_;
  const char* end_;
};

}  // namespace segd

#endif  // SEGD_BASE_ARCHIVE_H_
