// IntKeys: an ascending run of int64 keys, bit-packed where the keys allow
// it.
//
// Keys are cut into blocks of kBlock, and stored as base + unit * k, where
// base is the first key of the key's block, unit is common to all (whole
// seconds or days for dates, 1 for counts) and k takes as many bits as the
// block's largest k needs, at most 32: 256 of a shard's 65536 dates over
// four years span about six days, 19 bits a key at whole seconds. When some
// block's keys do not fit that form, they all stay 64-bit. Keys with few
// distinct values (counts, scores, dates at whole days) are held as runs
// instead (index/key_runs.h). Searches take int64 bounds in every form.
#ifndef SEGD_INDEX_INT_KEYS_H_
#define SEGD_INDEX_INT_KEYS_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "base/archive.h"
#include "index/key_runs.h"

namespace segd {

static_assert(std::endian::native == std::endian::little,
              "IntKeys reads its packed keys as little-endian words");

class IntKeys {
 public:
  static constexpr size_t kBlockBits = 8;
  static constexpr size_t kBlock = size_t{1} << kBlockBits;
  static constexpr int kMaxWidth = 32;  // bits of a packed k

  IntKeys() = default;
  // REQUIRES: `sorted` ascends.
  explicit IntKeys(const std::vector<int64_t>& sorted);

  using Form = KeyForm;
  Form form() const { return FormOf(!runs_.empty(), !bases_.empty()); }

  // One form holds the keys, the others are empty.
  size_t size() const { return runs_.size() + packed_size_ + wide_.size(); }
  int64_t operator[](size_t i) const {
    switch (form()) {
      case Form::kRuns:
        return runs_[i];
      case Form::kNarrow:
        // In unsigned arithmetic: the offset may exceed INT64_MAX.
        return static_cast<int64_t>(
            static_cast<uint64_t>(bases_[i >> kBlockBits]) + unit_ * K(i));
      case Form::kWide:
        break;
    }
    return wide_[i];
  }
  // The first position whose key is >= x, and > x.
  size_t LowerBound(int64_t x) const;
  size_t UpperBound(int64_t x) const;

  // Archived as they are (base/archive.h). Load checks that every packed
  // key lies inside packed_, so that reading one stays in bounds.
  void Save(ArchiveWriter& out) const;
  bool Load(ArchiveReader& in);

  size_t MemoryBytes() const {
    return runs_.MemoryBytes() + packed_.capacity() +
           (bases_.capacity() + wide_.capacity()) * sizeof(int64_t) +
           block_starts_.capacity() * sizeof(uint64_t);
  }

 private:
  // The packed k of key i: `width` bits from bit block_starts_[block] +
  // width * (i % kBlock). A width of at most 32 bits, shifted by at most 7,
  // lies within the 8 bytes loaded from its first byte, which the padding
  // past the end keeps inside packed_. Bit b is bit b % 8 of byte b / 8,
  // so a little-endian load puts it at b % 8 in the word.
  uint64_t K(size_t i) const {
    const size_t block = i >> kBlockBits;
    const uint64_t start = block_starts_[block];
    const uint64_t width = (block_starts_[block + 1] - start) >> kBlockBits;
    const uint64_t bit = start + width * (i & (kBlock - 1));
    uint64_t word;
    std::memcpy(&word, packed_.data() + (bit >> 3), sizeof(word));
    return (word >> (bit & 7)) & ((uint64_t{1} << width) - 1);
  }
  // The first position p in [begin, end), positions within one block,
  // whose k is not below(k): a block's k ascend.
  template <typename Below>
  size_t SearchBlock(size_t begin, size_t end, Below below) const;

  KeyRuns<int64_t> runs_;  // the keys, when they are few
  uint64_t unit_ = 1;
  std::vector<int64_t> bases_;  // the first key of each block
  // Where each block's k start in packed_, in bits, and one more start
  // past the last block: a block's width is its bits over kBlock, so a
  // last block short of kBlock keys is padded to kBlock.
  std::vector<uint64_t> block_starts_;
  // With 8 bytes of padding past the end, for K's loads and for the
  // word that packing a short last block writes.
  std::vector<uint8_t> packed_;
  size_t packed_size_ = 0;     // keys held in packed_
  std::vector<int64_t> wide_;  // the keys, when they do not fit
};

}  // namespace segd

#endif  // SEGD_INDEX_INT_KEYS_H_
