// StringIndex: the dictionary and postings of one string or string-array
// attribute, plus a trigram index over the dictionary for attributes with
// many distinct values (names, emails, phones).
//
// Values are keyed by their ASCII-folded form, so `Pune` and `pune` are one
// value (SPEC §2); the first spelling seen is kept for display. Each value's
// rows are a roaring bitmap when the value is common, or a short sorted row
// list when it is rare, which keeps a million one-row emails cheap.
//
// Immutable once built; safe to read from many threads.
#ifndef SEGD_INDEX_STRING_INDEX_H_
#define SEGD_INDEX_STRING_INDEX_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "index/bitmap.h"

namespace segd {

using ValueId = uint32_t;

// The rows holding one value: exactly one of the two forms is set.
struct Posting {
  const roaring_bitmap_t* bitmap = nullptr;
  std::span<const uint32_t> rows;  // ascending
  uint64_t cardinality = 0;
};

class StringIndex {
 public:
  // Values with at least this many rows get a roaring bitmap.
  static constexpr uint32_t kBitmapMinRows = 64;

  class Builder {
   public:
    // Feed occurrences in ascending row order; repeats of a value within one
    // row are ignored.
    void Add(uint32_t row, std::string_view value);
    // `with_trigrams`: build the trigram index (for high-cardinality use).
    std::unique_ptr<StringIndex> Finish(bool with_trigrams) &&;
    size_t value_count() const;

   private:
    friend class StringIndex;
    std::unique_ptr<StringIndex> index_ = std::make_unique<StringIndex>();
    std::vector<uint32_t> last_row_;                         // per value
    std::vector<std::pair<ValueId, uint32_t>> occurrences_;  // (value, row)
    std::string folded_;                                     // scratch
  };

  size_t value_count() const { return folded_offsets_.size() - 1; }
  std::optional<ValueId> Find(std::string_view folded) const;
  std::string_view folded(ValueId id) const;
  std::string_view display(ValueId id) const;
  const Posting& posting(ValueId id) const { return postings_[id]; }
  bool has_trigrams() const { return !trigram_offsets_.empty(); }

  // Values whose folded text contains `folded_needle`, ascending ids.
  std::vector<ValueId> Contains(std::string_view folded_needle) const;
  // Values whose folded text starts with `folded_prefix`, ascending ids.
  std::vector<ValueId> StartsWith(std::string_view folded_prefix) const;

  size_t MemoryBytes() const;

  StringIndex() = default;

 private:
  ValueId Intern(std::string_view folded, std::string_view display);
  std::optional<ValueId> FindHashed(std::string_view folded, size_t hash) const;
  void Rehash(size_t slot_count);
  void BuildTrigrams();
  std::vector<ValueId> ScanDictionary(std::string_view needle,
                                      bool prefix_only) const;

  // Dictionary: value id -> folded text in one arena; display spellings in
  // another. Offsets have value_count() + 1 entries.
  std::string folded_arena_;
  std::vector<uint64_t> folded_offsets_{0};
  std::string display_arena_;
  std::vector<uint64_t> display_offsets_{0};
  // Open-addressing table of value ids (kEmptySlot when free).
  static constexpr ValueId kEmptySlot = ~ValueId{0};
  std::vector<ValueId> slots_;
  std::vector<uint32_t> hashes_;  // low 32 bits of each value's hash

  std::vector<Posting> postings_;
  std::vector<Bitmap> bitmaps_;       // owners of the bitmap postings
  std::vector<uint32_t> small_rows_;  // backing store of row-list postings

  // Trigram -> ascending value ids (CSR over sorted trigram keys).
  std::vector<uint32_t> trigram_keys_;
  std::vector<uint32_t> trigram_offsets_;
  std::vector<ValueId> trigram_values_;
};

}  // namespace segd

#endif  // SEGD_INDEX_STRING_INDEX_H_
