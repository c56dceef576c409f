#include "index/int_keys.h"

#include <algorithm>
#include <bit>
#include <numeric>

#include "base/exact_divisor.h"

namespace segd {
namespace {

// `key` - `base` as unsigned: exact for any int64 pair with key >= base.
uint64_t Offset(int64_t key, int64_t base) {
  return static_cast<uint64_t>(key) - static_cast<uint64_t>(base);
}

}  // namespace

IntKeys::IntKeys(const std::vector<int64_t>& sorted) {
  if (sorted.empty()) return;
  if (KeyRuns<int64_t>::Worth(sorted, sizeof(uint32_t))) {
    runs_ = KeyRuns<int64_t>(sorted);
    return;
  }
  const size_t n = sorted.size();
  uint64_t unit = 0;
  ExactDivisor by_unit(1);
  for (size_t i = 1; i < n && unit != 1; ++i) {
    // Most offsets are multiples of the unit so far (whole seconds, whole
    // days): testing that is far faster than a gcd.
    const uint64_t offset = Offset(sorted[i], sorted[0]);
    if (unit == 0 || !by_unit.Divides(offset)) {
      unit = std::gcd(unit, offset);
      if (unit != 0) by_unit = ExactDivisor(unit);
    }
  }
  if (unit == 0) unit = 1;  // every key is the first: by_unit is 1 still
  const size_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<uint8_t> widths(blocks);
  uint64_t bits = 0;
  for (size_t b = 0; b < blocks; ++b) {
    const size_t first = b * kBlock, last = std::min(n, first + kBlock) - 1;
    const uint64_t top = by_unit.Divide(Offset(sorted[last], sorted[first]));
    widths[b] = static_cast<uint8_t>(std::bit_width(top));
    if (widths[b] > kMaxWidth) {
      wide_ = sorted;
      return;
    }
    bits += widths[b] * kBlock;
  }
  unit_ = unit;
  packed_size_ = n;
  bases_.resize(blocks);
  block_starts_.resize(blocks + 1);
  packed_.assign((bits + 7) / 8 + sizeof(uint64_t), 0);
  uint64_t bit = 0;
  for (size_t b = 0; b < blocks; ++b) {
    block_starts_[b] = bit;
    const size_t first = b * kBlock, end = std::min(n, first + kBlock);
    bases_[b] = sorted[first];
    // A full block takes widths[b] * kBlock bits, a multiple of 64, so each
    // block starts on a word: its keys gather in a register, written out a
    // word at a time (not read back from memory and or-ed in, key by key).
    const int width = widths[b];
    uint8_t* out = packed_.data() + (bit >> 3);
    uint64_t word = 0;
    int filled = 0;
    for (size_t i = first; i < end; ++i) {
      const uint64_t k = by_unit.Divide(Offset(sorted[i], bases_[b]));
      word |= k << filled;
      filled += width;
      if (filled >= 64) {
        std::memcpy(out, &word, sizeof(word));
        out += sizeof(word);
        filled -= 64;
        word = filled > 0 ? k >> (width - filled) : 0;
      }
    }
    if (filled > 0) {  // a short last block
      std::memcpy(out, &word, sizeof(word));
    }
    bit += static_cast<uint64_t>(width) * kBlock;
  }
  block_starts_[blocks] = bit;
}

template <typename Below>
size_t IntKeys::SearchBlock(size_t begin, size_t end, Below below) const {
  while (begin < end) {
    const size_t mid = begin + (end - begin) / 2;
    if (below(K(mid))) {
      begin = mid + 1;
    } else {
      end = mid;
    }
  }
  return begin;
}

// Every block's keys are at least its base, so the first key >= x (or > x)
// is in the last block whose base is below x (at most x), or else it is the
// first key of the next block.

size_t IntKeys::LowerBound(int64_t x) const {
  if (form() == Form::kRuns) return runs_.LowerBound(x);
  if (form() == Form::kWide)
    return std::lower_bound(wide_.begin(), wide_.end(), x) - wide_.begin();
  const size_t next =
      std::lower_bound(bases_.begin(), bases_.end(), x) - bases_.begin();
  if (next == 0) return 0;
  const size_t begin = (next - 1) * kBlock;
  const size_t end = std::min(packed_size_, next * kBlock);
  // The smallest k with base + unit * k >= x.
  const uint64_t above = Offset(x, bases_[next - 1]);
  const uint64_t k = above / unit_ + (above % unit_ != 0);
  return SearchBlock(begin, end, [k](uint64_t key) { return key < k; });
}

size_t IntKeys::UpperBound(int64_t x) const {
  if (form() == Form::kRuns) return runs_.UpperBound(x);
  if (form() == Form::kWide)
    return std::upper_bound(wide_.begin(), wide_.end(), x) - wide_.begin();
  const size_t next =
      std::upper_bound(bases_.begin(), bases_.end(), x) - bases_.begin();
  if (next == 0) return 0;
  const size_t begin = (next - 1) * kBlock;
  const size_t end = std::min(packed_size_, next * kBlock);
  // The largest k with base + unit * k <= x.
  const uint64_t k = Offset(x, bases_[next - 1]) / unit_;
  return SearchBlock(begin, end, [k](uint64_t key) { return key <= k; });
}

void IntKeys::Save(ArchiveWriter& out) const {
  runs_.Save(out);
  out.U64(unit_);
  out.Vector(bases_);
  out.Vector(block_starts_);
  out.Vector(packed_);
  out.U64(packed_size_);
  out.Vector(wide_);
}

bool IntKeys::Load(ArchiveReader& in) {
  uint64_t packed_size;
  if (!runs_.Load(in) || !in.U64(&unit_) || !in.Vector(&bases_) ||
      !in.Vector(&block_starts_) || !in.Vector(&packed_) ||
      !in.U64(&packed_size) || !in.Vector(&wide_)) {
    return false;
  }
  packed_size_ = static_cast<size_t>(packed_size);
  if (bases_.empty()) {
    return block_starts_.empty() && packed_.empty() && packed_size_ == 0;
  }
  const size_t blocks = bases_.size();
  if (block_starts_.size() != blocks + 1 || packed_size_ > blocks * kBlock ||
      packed_size_ <= (blocks - 1) * kBlock || block_starts_[0] != 0) {
    return false;
  }
  for (size_t b = 0; b < blocks; ++b) {
    const uint64_t span = block_starts_[b + 1] - block_starts_[b];
    if (block_starts_[b + 1] < block_starts_[b] || span % kBlock != 0 ||
        span / kBlock > kMaxWidth) {
      return false;
    }
  }
  return packed_.size() == (block_starts_[blocks] + 7) / 8 + sizeof(uint64_t);
}

}  // namespace segd
