// IntKeys: an ascending run of int64 keys, held in 32 bits a key where the
// keys allow it.
//
// Keys are cut into blocks of kBlock, and stored as base + unit * k with
// k < 2^32, where base is the first key of the key's block and unit is
// common to all: dates at whole seconds or days over a century, dates at
// milliseconds over the few weeks a block of a shard's column spans, small
// counts and scores. When some block's keys do not fit that form, they all
// stay 64-bit. Keys with few distinct values (counts, scores, dates at whole
// days) are held as runs instead (index/key_runs.h). Searches take int64
// bounds in every form.
#ifndef SEGD_INDEX_INT_KEYS_H_
#define SEGD_INDEX_INT_KEYS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "index/key_runs.h"

namespace segd {

class IntKeys {
 public:
  static constexpr size_t kBlockBits = 8;
  static constexpr size_t kBlock = size_t{1} << kBlockBits;

  IntKeys() = default;
  // REQUIRES: `sorted` ascends.
  explicit IntKeys(const std::vector<int64_t>& sorted);

  using Form = KeyForm;
  Form form() const { return FormOf(!runs_.empty(), !narrow_.empty()); }

  // One form holds the keys, the others are empty.
  size_t size() const { return runs_.size() + narrow_.size() + wide_.size(); }
  int64_t operator[](size_t i) const {
    switch (form()) {
      case Form::kRuns:
        return runs_[i];
      case Form::kNarrow:
        // In unsigned arithmetic: the offset may exceed INT64_MAX.
        return static_cast<int64_t>(
            static_cast<uint64_t>(bases_[i >> kBlockBits]) +
            unit_ * narrow_[i]);
      case Form::kWide:
        break;
    }
    return wide_[i];
  }
  // The first position whose key is >= x, and > x.
  size_t LowerBound(int64_t x) const;
  size_t UpperBound(int64_t x) const;

  size_t MemoryBytes() const {
    return runs_.MemoryBytes() + narrow_.capacity() * sizeof(uint32_t) +
           (bases_.capacity() + wide_.capacity()) * sizeof(int64_t);
  }

 private:
  KeyRuns<int64_t> runs_;  // the keys, when they are few
  uint64_t unit_ = 1;
  std::vector<int64_t> bases_;    // the first key of each block
  std::vector<uint32_t> narrow_;  // k, when the keys fit
  std::vector<int64_t> wide_;     // the keys, when they do not
};

}  // namespace segd

#endif  // SEGD_INDEX_INT_KEYS_H_
