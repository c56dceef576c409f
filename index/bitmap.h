// Row bitmaps and the shard-at-a-time view of them.
//
// A Bitmap owns a CRoaring bitmap of global row numbers. Rows are split into
// shards of 2^16: shard s holds rows [s << 16, (s + 1) << 16), which is
// exactly CRoaring's container with key s. Execution works a shard at a time
// on dense words (kShardWords uint64 = 8 KiB, cache resident), so these
// helpers turn one container into words without building any bitmap.
#ifndef SEGD_INDEX_BITMAP_H_
#define SEGD_INDEX_BITMAP_H_

#include <roaring/roaring.h>

#include <bit>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/archive.h"

namespace segd {

inline constexpr int kShardBits = 16;
inline constexpr uint32_t kShardRows = 1u << kShardBits;
inline constexpr size_t kShardWords = kShardRows / 64;

inline uint32_t ShardOf(uint32_t row) { return row >> kShardBits; }
inline uint32_t ShardCount(uint32_t row_count) {
  return (row_count + kShardRows - 1) >> kShardBits;
}

struct RoaringDeleter {
  void operator()(roaring_bitmap_t* b) const { roaring_bitmap_free(b); }
};

class Bitmap {
 public:
  Bitmap() : bitmap_(roaring_bitmap_create()) {}
  explicit Bitmap(roaring_bitmap_t* owned) : bitmap_(owned) {}
  // From ascending or unsorted row numbers.
  static Bitmap Of(std::span<const uint32_t> rows) {
    return Bitmap(roaring_bitmap_of_ptr(rows.size(), rows.data()));
  }

  const roaring_bitmap_t* get() const { return bitmap_.get(); }
  roaring_bitmap_t* get() { return bitmap_.get(); }
  uint64_t cardinality() const {
    return roaring_bitmap_get_cardinality(bitmap_.get());
  }
  bool contains(uint32_t row) const {
    return roaring_bitmap_contains(bitmap_.get(), row);
  }
  void Add(uint32_t row) { roaring_bitmap_add(bitmap_.get(), row); }
  // Converts containers to run form where smaller, and array containers of
  // kDenseArrayRows or more to bitsets; call once after building.
  void Optimize();
  size_t SizeInBytes() const {
    return roaring_bitmap_portable_size_in_bytes(bitmap_.get());
  }

  // Archived in CRoaring's portable format (base/archive.h). The format
  // reads a container of up to 4096 rows as an array, so the arrays that
  // Optimize made bitsets are saved as arrays, from a copy, and made
  // bitsets again by Load. Load validates the bitmap before it is used:
  // the bytes parse whole, and every container is well formed (keys and
  // rows ascending, counts right).
  void Save(ArchiveWriter& out) const;
  bool Load(ArchiveReader& in);

 private:
  // Array containers of kDenseArrayRows rows or more become bitsets.
  void DenseArraysToBitsets();

  std::unique_ptr<roaring_bitmap_t, RoaringDeleter> bitmap_;
};

// Array containers from this many rows up are kept as bitsets. An array
// is scattered into words a row at a time, a bitset is one 8 KiB pass read
// in place: AND and count of one shard take 1.1 us for a 983-row array and
// 0.28 us for a 1311-row bitset (build/bench/segd_bench
// --benchmark_filter=AndShard, 15 and 20 per mille). The price is at most 6 KiB
// more for a shard between 1024 and 4096 rows. Such bitsets are what CRoaring's
// lazy operations leave behind: every operation accepts them, but a bitmap
// holding them must go through roaring_bitmap_repair_after_lazy before portable
// serialization.
inline constexpr int32_t kDenseArrayRows = 1024;

// Dense words of one shard. All functions take `words` of kShardWords.
void ClearWords(uint64_t* words);
void FillWords(uint64_t* words);  // all ones
void CopyWords(uint64_t* dst, const uint64_t* src);
void AndWords(uint64_t* dst, const uint64_t* src);
void AndNotWords(uint64_t* dst, const uint64_t* src);
void OrWords(uint64_t* dst, const uint64_t* src);
uint64_t CountWords(const uint64_t* words);
uint64_t AndCountWords(const uint64_t* a, const uint64_t* b);  // |a & b|
bool AnyWords(const uint64_t* words);
// words = the rows whose byte in `bytes` (kShardRows of them) is within
// [lo, hi].
void BytesInRangeWords(const uint8_t* bytes, uint8_t lo, uint8_t hi,
                       uint64_t* words);

// words = the positions i < count whose id is in [lo, lo + width), one bit
// each; writes (count + 63) / 64 words, with the last one's bits past
// `count` zero.
void IdsInRangeWords(const uint32_t* ids, size_t count, uint32_t lo,
                     uint32_t width, uint64_t* words);

inline void SetBit(uint64_t* words, uint32_t local_row) {
  words[local_row >> 6] |= uint64_t{1} << (local_row & 63);
}
inline void ClearBit(uint64_t* words, uint32_t local_row) {
  words[local_row >> 6] &= ~(uint64_t{1} << (local_row & 63));
}

// Appends the positions of the bits set in `words` to `rows`, ascending.
inline void AppendSetBits(std::span<const uint64_t> words,
                          std::vector<uint32_t>* rows) {
  for (size_t w = 0; w < words.size(); ++w) {
    for (uint64_t bits = words[w]; bits != 0; bits &= bits - 1) {
      rows->push_back(static_cast<uint32_t>(w * 64 + std::countr_zero(bits)));
    }
  }
}

// words = shard `shard` of `bitmap` (all zero when it has none). Returns false
// when the shard is empty.
bool LoadShard(const roaring_bitmap_t* bitmap, uint32_t shard, uint64_t* words);
// words |= shard of bitmap.
void OrShard(const roaring_bitmap_t* bitmap, uint32_t shard, uint64_t* words);
// words |= the shard's rows below `row_end` (a multiple of 64); the words
// from row_end on are left as they are.
void OrShardBelow(const roaring_bitmap_t* bitmap, uint32_t shard,
                  uint32_t row_end, uint64_t* words);
// words &= shard of bitmap.
void AndShard(const roaring_bitmap_t* bitmap, uint32_t shard, uint64_t* words);
// |words & shard of bitmap|, reading the container in place.
uint64_t AndCountShard(const roaring_bitmap_t* bitmap, uint32_t shard,
                       const uint64_t* words);
// Rows of shard `shard` in `bitmap`.
uint32_t ShardCardinality(const roaring_bitmap_t* bitmap, uint32_t shard);

}  // namespace segd

#endif  // SEGD_INDEX_BITMAP_H_
