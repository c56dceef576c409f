// KeyRuns: an ascending run of keys with few distinct values (counts,
// scores, dates at whole days), held as each distinct key and where its run
// ends.
#ifndef SEGD_INDEX_KEY_RUNS_H_
#define SEGD_INDEX_KEY_RUNS_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/archive.h"

namespace segd {

// The forms a column's keys take (IntKeys, RealKeys): runs, a narrow form
// and a wide one; exactly one holds the keys.
enum class KeyForm { kRuns, kNarrow, kWide };
inline KeyForm FormOf(bool runs, bool narrow) {
  return runs ? KeyForm::kRuns : narrow ? KeyForm::kNarrow : KeyForm::kWide;
}

template <typename K>
class KeyRuns {
 public:
  // Whether `sorted` is worth holding as runs: when the runs take less than
  // a quarter of `bytes_per_key` a key.
  template <typename Sorted>
  static bool Worth(const Sorted& sorted, size_t bytes_per_key) {
    const size_t budget = sorted.size() * bytes_per_key / 4;
    size_t bytes = 0;
    for (size_t i = 0; i < sorted.size(); ++i) {
      if (i == 0 || sorted[i] != sorted[i - 1]) {
        bytes += sizeof(K) + sizeof(uint32_t);
        if (bytes >= budget) return false;
      }
    }
    return !sorted.empty();
  }

  KeyRuns() = default;
  // REQUIRES: `sorted` ascends, with fewer than 2^32 keys.
  template <typename Sorted>
  explicit KeyRuns(const Sorted& sorted) {
    for (size_t i = 0; i < sorted.size(); ++i) {
      if (i == 0 || sorted[i] != sorted[i - 1]) {
        if (i > 0) ends_.push_back(static_cast<uint32_t>(i));
        keys_.push_back(sorted[i]);
      }
    }
    if (!sorted.empty()) ends_.push_back(static_cast<uint32_t>(sorted.size()));
    keys_.shrink_to_fit();
    ends_.shrink_to_fit();
  }

  bool empty() const { return keys_.empty(); }
  size_t size() const { return ends_.empty() ? 0 : ends_.back(); }
  K operator[](size_t i) const {
    return keys_[std::upper_bound(ends_.begin(), ends_.end(), i) -
                 ends_.begin()];
  }
  // The first position whose key k does not have below(k, x): where the
  // runs of those keys end.
  template <typename X, typename Below>
  size_t Search(X x, Below below) const {
    return Start(std::partition_point(keys_.begin(), keys_.end(),
                                      [&](K k) { return below(k, x); }) -
                 keys_.begin());
  }
  // The first position whose key is >= x, and > x.
  template <typename X>
  size_t LowerBound(X x) const {
    return Search(x, [](K k, X y) { return k < y; });
  }
  template <typename X>
  size_t UpperBound(X x) const {
    return Search(x, [](K k, X y) { return k <= y; });
  }

  size_t MemoryBytes() const {
    return keys_.capacity() * sizeof(K) + ends_.capacity() * sizeof(uint32_t);
  }

  // Archived as they are (base/archive.h).
  void Save(ArchiveWriter& out) const {
    out.Vector(keys_);
    out.Vector(ends_);
  }
  bool Load(ArchiveReader& in) {
    return in.Vector(&keys_) && in.Vector(&ends_) &&
           keys_.size() == ends_.size();
  }

 private:
  // The position where run r starts.
  size_t Start(size_t r) const { return r == 0 ? 0 : ends_[r - 1]; }

  std::vector<K> keys_;         // distinct, ascending
  std::vector<uint32_t> ends_;  // ends_[r]: the position after run r
};

}  // namespace segd

#endif  // SEGD_INDEX_KEY_RUNS_H_
