// RealKeys: an ascending run of exact numbers, held in 8 bytes a key where
// the keys allow it.
//
// A number column holding any non-integer keeps every key as a long double,
// which holds every int64 and every double exactly (x86-64: a 64-bit
// mantissa), so that mixed integers and doubles compare exactly. When every
// key is a double (scores like 4.5, integers below 2^53), they are kept as
// doubles, which compare with long double bounds just as exactly. Keys with
// few distinct values (scores like 4.5) are held as runs instead
// (index/key_runs.h).
#ifndef SEGD_INDEX_REAL_KEYS_H_
#define SEGD_INDEX_REAL_KEYS_H_

#include <algorithm>
#include <cstddef>
#include <functional>
#include <vector>

#include "index/key_runs.h"

namespace segd {

class RealKeys {
 public:
  RealKeys() = default;
  // REQUIRES: `sorted` ascends.
  explicit RealKeys(std::vector<long double> sorted) {
    if (KeyRuns<long double>::Worth(sorted, sizeof(double))) {
      runs_ = KeyRuns<long double>(sorted);
      return;
    }
    const bool doubles =
        std::all_of(sorted.begin(), sorted.end(), [](long double k) {
          return static_cast<long double>(static_cast<double>(k)) == k;
        });
    if (!doubles) {
      wide_ = std::move(sorted);
      return;
    }
    narrow_.assign(sorted.begin(), sorted.end());
  }

  using Form = KeyForm;
  Form form() const { return FormOf(!runs_.empty(), !narrow_.empty()); }

  // One form holds the keys, the others are empty.
  size_t size() const { return runs_.size() + narrow_.size() + wide_.size(); }
  long double operator[](size_t i) const {
    switch (form()) {
      case Form::kRuns:
        return runs_[i];
      case Form::kNarrow:
        return narrow_[i];
      case Form::kWide:
        break;
    }
    return wide_[i];
  }
  // The first position whose key is >= x, and > x.
  size_t LowerBound(long double x) const {
    return Search(x, std::less<long double>());
  }
  size_t UpperBound(long double x) const {
    return Search(x, std::less_equal<long double>());
  }

  size_t MemoryBytes() const {
    return runs_.MemoryBytes() + narrow_.capacity() * sizeof(double) +
           wide_.capacity() * sizeof(long double);
  }

  // Archived as they are (base/archive.h).
  void Save(ArchiveWriter& out) const {
    runs_.Save(out);
    out.Vector(narrow_);
    out.Vector(wide_);
  }
  bool Load(ArchiveReader& in) {
    return runs_.Load(in) && in.Vector(&narrow_) && in.Vector(&wide_);
  }

 private:
  // The first position whose key k does not have below(k, x).
  template <typename Below>
  size_t Search(long double x, Below below) const {
    auto search = [&](const auto& keys) {
      return static_cast<size_t>(
          std::partition_point(
              keys.begin(), keys.end(),
              [&](auto k) { return below(static_cast<long double>(k), x); }) -
          keys.begin());
    };
    switch (form()) {
      case Form::kRuns:
        return runs_.Search(x, below);
      case Form::kNarrow:
        return search(narrow_);
      case Form::kWide:
        break;
    }
    return search(wide_);
  }

  KeyRuns<long double> runs_;      // the keys, when they are few
  std::vector<double> narrow_;     // the keys, when all are doubles
  std::vector<long double> wide_;  // the keys, when they are not
};

}  // namespace segd

#endif  // SEGD_INDEX_REAL_KEYS_H_
