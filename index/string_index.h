// StringIndex: the dictionary and postings of one string or string-array
// attribute, plus a trigram index over the dictionary for attributes with
// many distinct values (names, emails, phones).
//
// Values are keyed by their ASCII-folded form, so `Pune` and `pune` are one
// value (SPEC §2); the first spelling seen is kept for display. Each value's
// rows are a roaring bitmap when the value is common, or a short sorted row
// list when it is rare, which keeps a million one-row emails cheap.
// Value ids ascend with the folded text, so the values with a prefix are
// one run of ids, and a running count of rows along the ids gives any
// run's rows with two reads (or none, when every value has one row).
//
// Immutable once built; safe to read from many threads.
#ifndef SEGD_INDEX_STRING_INDEX_H_
#define SEGD_INDEX_STRING_INDEX_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/archive.h"
#include "index/bitmap.h"

namespace segd {

using ValueId = uint32_t;

// The rows holding one value: exactly one of the two forms is set.
struct Posting {
  const roaring_bitmap_t* bitmap = nullptr;
  std::span<const uint32_t> rows;  // ascending
  uint64_t cardinality = 0;
};

// A set of values as a bitset over value ids.
struct ValueSet {
  std::vector<uint64_t> bits;
  uint64_t count = 0;        // values in the set
  uint64_t occurrences = 0;  // (row, value) pairs holding them
};

class StringIndex {
 public:
  // Values with at least this many rows get a roaring bitmap.
  static constexpr uint32_t kBitmapMinRows = 64;
  // A trigram list is followed by one thread, with a random read for each
  // candidate, while a scan streams the text on every core. On emails and
  // 2 cores (BM_ContainsByTrigrams against BM_ContainsByScan) the two meet
  // when the rarest list holds about 1/64 of the values at 10M profiles
  // and 1/32 at 1M, so a list holding more than 1/64 is not kept.
  static constexpr uint64_t kListDivisor = 64;

  class Builder {
   public:
    // The trigram build fills its lists a slice at a time, each within
    // `trigram_slice_bytes`: less memory at once costs more passes over
    // the text. 256 MiB makes one pass for a million emails.
    static constexpr uint64_t kTrigramSliceBytes = uint64_t{256} << 20;
    // A trigram list is kept while it holds at most 1 / `list_divisor` of
    // the values: kListDivisor, except in benchmarks of that line.
    explicit Builder(uint64_t trigram_slice_bytes = kTrigramSliceBytes,
                     uint64_t list_divisor = kListDivisor)
        : trigram_slice_bytes_(trigram_slice_bytes) {
      index_->list_divisor_ = list_divisor;
      index_->Rehash(16);
    }
    // Feed occurrences in ascending row order; repeats of a value within one
    // row are ignored. In a large dictionary an Add takes effect a few Adds
    // later: meanwhile the hash slot it will probe is loaded, so that its
    // lookups overlap instead of each waiting on memory.
    void Add(uint32_t row, std::string_view value);
    // Applies the Adds still pending; value_count() counts them after it.
    void Flush();
    // Room for this many occurrences, so the pairs grow without copies.
    void Reserve(size_t occurrences);
    // `with_trigrams`: build the trigram index (for high-cardinality use).
    std::unique_ptr<StringIndex> Finish(bool with_trigrams) &&;
    size_t value_count() const;

   private:
    friend class StringIndex;
    // An Add waiting for its hash slot: the value folded, and as given
    // when that differs (else empty).
    struct Pending {
      uint32_t row;
      uint64_t hash;
      std::string folded;
      std::string display;
    };
    static constexpr size_t kAhead = 8;
    // Up to this many slots (32 KiB) the table is taken to be in cache.
    static constexpr size_t kCachedSlots = 4096;
    // `display`: the spelling when it differs from `folded`, else empty.
    void Apply(uint32_t row, std::string_view folded, uint64_t hash,
               std::string_view display);

    uint64_t trigram_slice_bytes_;
    std::unique_ptr<StringIndex> index_ = std::make_unique<StringIndex>();
    std::array<Pending, kAhead> pending_;
    uint64_t adds_ = 0;               // Adds so far
    uint64_t applied_ = 0;            // of which applied
    std::vector<uint32_t> last_row_;  // per value
    // Every (row, value) pair, in row order (a row's values in the order
    // it named them, until Finish puts them in order of their ids).
    std::vector<uint32_t> occurrence_rows_;
    std::vector<ValueId> occurrence_values_;
  };

  // A dictionary of a merge (Merge), and where its rows go.
  static constexpr uint32_t kDroppedRow = UINT32_MAX;
  struct MergeSource {
    const StringIndex* index;
    // By the source's row: its row in the merge, or kDroppedRow. The rows
    // kept ascend as the source's do; no two sources keep the same row.
    std::span<const uint32_t> to_row;
  };
  // The spelling of the value folded as `folded` that row `row` of the
  // merge holds.
  using SpellingAt =
      std::function<std::string(uint32_t row, std::string_view folded)>;
  // The dictionary of a merge's `row_count` rows from its sources'
  // dictionaries, not
  // from the rows' values again: what a Builder fed the values of the rows
  // kept, in the merge's row order, finishes as, with trigrams when it
  // holds `trigram_min_values` values or more. Values are merged by their
  // sorted text, their rows by row. A value's spelling is its first row's:
  // the source's when that row is kept there, else `spelling_at`'s.
  static std::unique_ptr<StringIndex> Merge(
      std::span<const MergeSource> sources, uint32_t row_count,
      size_t trigram_min_values, const SpellingAt& spelling_at);

  size_t value_count() const { return folded_offsets_.size() - 1; }
  // The value with this folded text: a binary search of the sorted text.
  std::optional<ValueId> Find(std::string_view folded) const;
  std::string_view folded(ValueId id) const;
  // The first spelling seen.
  std::string_view display(ValueId id) const;
  Posting posting(ValueId id) const;
  bool has_trigrams() const { return !trigram_keys_.empty(); }

  // Values whose folded text contains `folded_needle`, ascending ids.
  std::vector<ValueId> Contains(std::string_view folded_needle) const;
  // The same as a set. When the needle's rarest trigram list was not kept
  // (TrigramListKept), following it would take longer than scanning the
  // dictionary text in parallel, which is done instead.
  ValueSet ContainsSet(std::string_view folded_needle) const;
  // The same by a parallel scan of the text, whatever the trigrams say.
  ValueSet ScanSet(std::string_view folded_needle) const;
  // The bytes ContainsSet reads: ScanBytes when it scans, else
  // kBytesPerCandidate for each candidate of the rarest trigram (its list
  // entry, offset and text).
  uint64_t ContainsSetBytes(std::string_view folded_needle) const;
  static constexpr uint64_t kBytesPerCandidate = 100;
  // The bytes a scan reads: the text, its offsets and any running row
  // counts.
  uint64_t ScanBytes() const;
  // An upper bound on the values Contains finds: the size of the needle's
  // rarest trigram list (every value, for needles under three bytes or
  // without trigrams).
  uint64_t ContainsCandidates(std::string_view folded_needle) const;
  // The values whose folded text starts with `folded_prefix`: ids
  // [first, second).
  std::pair<ValueId, ValueId> PrefixRange(std::string_view folded_prefix) const;
  // The same as a set.
  ValueSet StartsWith(std::string_view folded_prefix) const;

  // Occurrences of the values holding `folded_needle` when the letter runs
  // settle them without a scan: a needle of letters a-z only lies inside
  // one maximal run of letters of any value holding it, so when just one
  // of the values' runs holds the needle ("gmail" among emails, "patil"
  // among names), the values holding the needle are that run's. Otherwise
  // none (also without runs: they are kept with the trigrams, when few).
  std::optional<uint64_t> RunOccurrences(std::string_view folded_needle) const;

  // Occurrences (row, value pairs) of values [first, last): for an
  // attribute holding at most one value per row, the rows that match.
  uint64_t OccurrencesIn(ValueId first, ValueId last) const {
    if (occurrences_before_.empty()) return last - first;  // one row each
    // A difference of two running counts modulo 2^32 is exact, as every
    // count of rows fits 32 bits.
    return static_cast<uint32_t>(occurrences_before_[last] -
                                 occurrences_before_[first]);
  }

  // The occurrences in row order, kept when the index has trigrams: a
  // contains that matches many values then tests each row's value against
  // a bitset of matches, shard by shard, instead of building the union of
  // their rows. They are kept in one of two forms, whichever is smaller:
  // every (row, value) pair (occurrence_rows, occurrence_values), or, when
  // each row holds at most one value, every row's value (row_values, with
  // kNoValue for a row without one; rows past its end have none either).
  bool keeps_occurrences() const {
    return !occurrence_rows_.empty() || !row_values_.empty();
  }
  std::span<const uint32_t> occurrence_rows() const { return occurrence_rows_; }
  std::span<const ValueId> occurrence_values() const {
    return occurrence_values_;
  }
  static constexpr ValueId kNoValue = ~ValueId{0};
  std::span<const ValueId> row_values() const { return row_values_; }
  // (row, value) pairs in all; a value per row is fewer than 2^32.
  uint64_t occurrence_count() const {
    return row_values_.empty()
               ? occurrence_rows_.size()
               : OccurrencesIn(0, static_cast<ValueId>(value_count()));
  }

  // Bytes held, by part.
  struct Memory {
    size_t text = 0;         // the values' folded text
    size_t dictionary = 0;   // its offsets, spellings
    size_t postings = 0;     // bitmaps, row lists, running row counts
    size_t trigrams = 0;     // trigram lists, letter runs
    size_t occurrences = 0;  // occurrences in row order
    size_t total() const {
      return text + dictionary + postings + trigrams + occurrences;
    }
    Memory& operator+=(const Memory& other) {
      text += other.text;
      dictionary += other.dictionary;
      postings += other.postings;
      trigrams += other.trigrams;
      occurrences += other.occurrences;
      return *this;
    }
  };
  Memory MemoryUse() const;
  size_t MemoryBytes() const { return MemoryUse().total(); }

  // Archived as built (base/archive.h): no dictionary is sorted and no
  // trigram list filled again on Load.
  void Save(ArchiveWriter& out) const;
  bool Load(ArchiveReader& in);

  StringIndex() = default;

 private:
  // `display`: the spelling when it differs from `folded`, else empty.
  ValueId Intern(std::string_view folded, uint64_t hash,
                 std::string_view display);
  void PrefetchSlot(uint64_t hash) const;
  void Rehash(size_t slot_count);
  // Renumbers the values, so far in order of first appearance, to ascend
  // with their folded text; `occurrence_values` follow.
  void SortValues(std::span<ValueId> occurrence_values);
  // Sorts `ids` by their folded text. REQUIRES: the texts agree on their
  // first `depth` bytes. Runs that still agree past kSortChunkDepth bytes
  // are sorted by string compares, which bounds the recursion.
  static constexpr size_t kSortChunkDepth = 64;
  void SortByText(std::span<ValueId> ids, size_t depth) const;
  // The postings from every value's rows: value v's, ascending, are
  // rows[ends[v - 1], ends[v]) (from 0 for v = 0). REQUIRES: the
  // dictionary is sorted.
  void BuildPostings(std::span<const uint32_t> rows,
                     std::span<const uint64_t> ends);
  // Keeps the occurrences in row order (keeps_occurrences), given as the
  // rows and their values, ascending by row, then by value.
  void KeepOccurrences(std::vector<uint32_t> rows, std::vector<ValueId> values);
  // Calls fn(value, rows) for every value in order, with its rows
  // ascending; a bitmap's are written to `scratch` first.
  template <typename Fn>
  void ForEachPosting(std::vector<uint32_t>& scratch, Fn&& fn) const;
  void BuildTrigrams(uint64_t slice_bytes);
  // REQUIRES: the postings are built.
  void BuildLetterRuns();
  // Ascending values of trigram list `k`.
  std::vector<ValueId> TrigramValues(size_t k) const;
  std::vector<ValueId> ScanDictionary(std::string_view needle) const;
  // Whether ContainsSet scans the text rather than follow the trigrams.
  bool ContainsScans(std::string_view needle) const;
  // Values first..last - 1 holding `needle` into `bits`, where `first` is a
  // multiple of 64; adds how many, and their occurrences, to `tally`.
  void ScanValues(std::string_view needle, ValueId first, ValueId last,
                  uint64_t* bits, ValueSet* tally) const;
  // Values on the list of trigram `key` (0 when the trigram has none; for
  // a list not kept, the trigram's occurrences, which is at least that).
  uint64_t TrigramListSize(uint32_t key) const;
  // The smallest TrigramListSize of the needle's trigrams. REQUIRES: the
  // needle has three bytes or more.
  uint64_t RarestTrigramCount(std::string_view folded_needle) const;
  // Whether a trigram list of this many values is kept: one longer would
  // never be followed, as scanning the text costs less.
  bool TrigramListKept(uint64_t values) const;

  // Memory is per value, so a million one-row emails stay cheap: the
  // folded text, a 4-byte offset and their row, plus the trigram entries.
  std::string folded_arena_;
  std::vector<uint32_t> folded_offsets_{0};
  // Spellings that differ from the folded text ("Pune" for "pune"), as
  // (value, offset into display_arena_), ascending by value.
  std::vector<std::pair<ValueId, uint32_t>> displays_;
  std::string display_arena_;
  // While the dictionary is built: an open-addressing table whose slots
  // hold a value id in the low 32 bits and the high 32 bits of the value's
  // hash above it (kEmptySlot when free), so that a probe reads one slot
  // and compares text only on a likely match. Once the dictionary is
  // built, lookups search the sorted text instead.
  static constexpr uint64_t kEmptySlot = ~uint64_t{0};
  std::vector<uint64_t> slots_;

  // Common values have a bitmap in bitmaps_, ascending by value. The rows
  // of the rare ones follow each other in small_rows_, by value: value v's
  // start there is OccurrencesIn(0, v) less the rows of the bitmaps
  // before v (bitmap_rows_before_[i] for the i-th bitmap; the last entry
  // counts them all), modulo 2^32.
  std::vector<uint32_t> small_rows_;
  std::vector<std::pair<ValueId, Bitmap>> bitmaps_;
  std::vector<uint32_t> bitmap_rows_before_;
  // occurrences_before_[v]: occurrences of values [0, v), modulo 2^32;
  // empty when each value has one row (emails, phones), as it would be v.
  std::vector<uint32_t> occurrences_before_;

  std::vector<uint32_t> occurrence_rows_;
  std::vector<ValueId> occurrence_values_;
  std::vector<ValueId> row_values_;

  // Every maximal run of letters a-z in the values' text, once, each
  // followed by '\0' in run_text_ from run_starts_[r] (one more start ends
  // the text); run_rows_[r]: the occurrences of the values holding run r,
  // each value once.
  std::string run_text_;
  std::vector<uint32_t> run_starts_;
  std::vector<uint64_t> run_rows_;

  // Trigram -> ascending value ids, delta- and varint-coded: list k is
  // trigram_counts_[k] values in trigram_data_ from trigram_offsets_[k],
  // unless TrigramListKept(trigram_counts_[k]) is false: then the list is
  // not kept, and its count is the trigram's occurrences, at least the
  // values holding it (that count alone marks the list as not kept).
  std::vector<uint32_t> trigram_keys_;
  std::vector<uint32_t> trigram_counts_;
  std::vector<uint64_t> trigram_offsets_;
  std::vector<uint8_t> trigram_data_;
  uint64_t list_divisor_ = kListDivisor;  // TrigramListKept
};

}  // namespace segd

#endif  // SEGD_INDEX_STRING_INDEX_H_
