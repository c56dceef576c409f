// BlobArena: the encoded profiles of a store, one per row, packed end to end
// in pages that never move.
//
// A blob costs its bytes and a 12-byte reference, where a std::string per
// row would add 32 bytes of string, an allocator header and rounding: some
// 50 bytes a profile. Replacing a blob appends the new one and leaves the
// old bytes unused (counted in garbage_bytes()); nothing is compacted.
//
// Views stay valid until their row is set again or cleared.
#ifndef SEGD_INDEX_BLOB_ARENA_H_
#define SEGD_INDEX_BLOB_ARENA_H_

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace segd {

class BlobArena {
 public:
  // Where a row's blob lies.
  struct Placed {
    uint32_t page = 0;
    uint32_t offset = 0;
    uint32_t size = 0;  // 0: the row holds nothing
  };
  // Pages are this large, or larger for a single larger blob.
  static constexpr size_t kPageBytes = size_t{4} << 20;

  uint32_t size() const { return static_cast<uint32_t>(refs_.size()); }
  std::string_view Get(uint32_t row) const {
    const Placed& r = refs_[row];
    if (r.size == 0) return {};
    return std::string_view(pages_[r.page].get() + r.offset, r.size);
  }
  // Stores `blob` at `row`, which is an existing row or size() (a new one).
  void Set(uint32_t row, std::string_view blob);
  // Row `row` holds nothing from now on.
  void Clear(uint32_t row);

  // Restoring (a snapshot): pages read whole, then the row space, each row
  // holding a blob of one of those pages or nothing. Bytes no row holds
  // count as garbage. REQUIRES: an empty arena; each row's blob lies in
  // its page.
  uint32_t AdoptPage(std::unique_ptr<char[]> bytes, size_t size);
  void Restore(std::vector<Placed> rows);

  size_t MemoryBytes() const;
  size_t garbage_bytes() const { return garbage_; }

 private:
  std::vector<Placed> refs_;  // by row
  std::vector<std::unique_ptr<char[]>> pages_;
  std::vector<size_t> page_sizes_;
  size_t used_ = 0;  // bytes used in the last page
  size_t garbage_ = 0;
};

}  // namespace segd

#endif  // SEGD_INDEX_BLOB_ARENA_H_
