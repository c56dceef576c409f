#include "index/string_index.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <numeric>
#include <ranges>
#include <unordered_map>

#include "base/ascii.h"
#include "base/hash.h"
#include "base/memory.h"
#include "base/merge_runs.h"
#include "base/prefetch.h"
#include "base/radix_sort.h"
#include "index/substring.h"

namespace segd {
namespace {

uint32_t TrigramKey(const char* p) {
  return static_cast<uint32_t>(static_cast<uint8_t>(p[0])) << 16 |
         static_cast<uint32_t>(static_cast<uint8_t>(p[1])) << 8 |
         static_cast<uint32_t>(static_cast<uint8_t>(p[2]));
}

// Ascending intersection of two ascending lists.
std::vector<ValueId> Intersect(std::span<const ValueId> a,
                               std::span<const ValueId> b) {
  std::vector<ValueId> out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(),
                        std::back_inserter(out));
  return out;
}

// SortByText radix sorts runs of values this long; shorter ones compare.
constexpr size_t kRadixSortFrom = 4096;

}  // namespace

bool StringIndex::TrigramListKept(uint64_t values) const {
  return values * list_divisor_ <= value_count();
}

std::string_view StringIndex::folded(ValueId id) const {
  return std::string_view(folded_arena_)
      .substr(folded_offsets_[id],
              folded_offsets_[id + 1] - folded_offsets_[id]);
}

std::string_view StringIndex::display(ValueId id) const {
  auto it = std::lower_bound(displays_.begin(), displays_.end(), id,
                             [](const std::pair<ValueId, uint32_t>& e,
                                ValueId v) { return e.first < v; });
  if (it == displays_.end() || it->first != id) return folded(id);
  const uint32_t end = it + 1 == displays_.end()
                           ? static_cast<uint32_t>(display_arena_.size())
                           : (it + 1)->second;
  return std::string_view(display_arena_).substr(it->second, end - it->second);
}

Posting StringIndex::posting(ValueId id) const {
  Posting p;
  p.cardinality = OccurrencesIn(id, id + 1);
  auto it = std::lower_bound(bitmaps_.begin(), bitmaps_.end(), id,
                             [](const std::pair<ValueId, Bitmap>& e,
                                ValueId v) { return e.first < v; });
  if (it != bitmaps_.end() && it->first == id) {
    p.bitmap = it->second.get();
    return p;
  }
  // The row lists of the values before this one, less the bitmaps' rows.
  const uint32_t begin = static_cast<uint32_t>(OccurrencesIn(0, id)) -
                         bitmap_rows_before_[it - bitmaps_.begin()];
  p.rows = std::span<const uint32_t>(small_rows_).subspan(begin, p.cardinality);
  return p;
}

std::optional<ValueId> StringIndex::Find(std::string_view key) const {
  // Ids ascend with the folded text: a binary search, which needs no table
  // beside the text. Lookups happen once per value a rule names.
  const auto ids =
      std::views::iota(ValueId{0}, static_cast<ValueId>(value_count()));
  const auto it = std::ranges::partition_point(
      ids, [&](ValueId id) { return folded(id) < key; });
  if (it == ids.end() || folded(*it) != key) return std::nullopt;
  return *it;
}

void StringIndex::Rehash(size_t slot_count) {
  std::vector<uint64_t> old(slot_count, kEmptySlot);
  old.swap(slots_);
  const size_t mask = slot_count - 1;
  for (const uint64_t slot : old) {
    if (slot == kEmptySlot) continue;
    // A slot keeps the high half of its value's hash: enough to place it
    // in tables of up to 2^32 slots.
    size_t i = (slot >> 32) & mask;
    while (slots_[i] != kEmptySlot) i = (i + 1) & mask;
    slots_[i] = slot;
  }
}

ValueId StringIndex::Intern(std::string_view key, uint64_t hash,
                            std::string_view display) {
  const uint64_t check = hash >> 32;
  const size_t mask = slots_.size() - 1;
  size_t i = check & mask;
  for (; slots_[i] != kEmptySlot; i = (i + 1) & mask) {
    const ValueId id = static_cast<ValueId>(slots_[i]);
    if ((slots_[i] >> 32) == check && folded(id) == key) return id;
  }
  const ValueId id = static_cast<ValueId>(value_count());
  folded_arena_.append(key);
  folded_offsets_.push_back(static_cast<uint32_t>(folded_arena_.size()));
  if (!display.empty()) {
    displays_.emplace_back(id, static_cast<uint32_t>(display_arena_.size()));
    display_arena_.append(display);
  }
  slots_[i] = check << 32 | id;
  // Keep the table at most three quarters full.
  if (uint64_t{id + 1} * 4 > slots_.size() * 3) Rehash(slots_.size() * 2);
  return id;
}

void StringIndex::Builder::Add(uint32_t row, std::string_view value) {
  if (index_->slots_.size() <= kCachedSlots) {
    // A table this small stays in cache: nothing to wait for, so the value
    // goes in at once. (Tables only grow, so no Add is pending here.)
    Pending& p = pending_[0];
    const bool changed = FoldAsciiInto(value, &p.folded);
    Apply(row, p.folded, HashBytes(p.folded),
          changed ? value : std::string_view());
    return;
  }
  Pending& p = pending_[adds_ % kAhead];
  if (adds_ - applied_ == kAhead) {
    Apply(p.row, p.folded, p.hash, p.display);
    ++applied_;
  }
  p.row = row;
  // The spelling is kept only when it is not the folded text.
  if (FoldAsciiInto(value, &p.folded)) {
    p.display.assign(value);
  } else {
    p.display.clear();
  }
  p.hash = HashBytes(p.folded);
  index_->PrefetchSlot(p.hash);
  ++adds_;
}

void StringIndex::Builder::Flush() {
  for (; applied_ < adds_; ++applied_) {
    const Pending& p = pending_[applied_ % kAhead];
    Apply(p.row, p.folded, p.hash, p.display);
  }
}

void StringIndex::Builder::Apply(uint32_t row, std::string_view folded,
                                 uint64_t hash, std::string_view display) {
  const ValueId id = index_->Intern(folded, hash, display);
  if (id == last_row_.size()) last_row_.push_back(~uint32_t{0});
  if (last_row_[id] == row) return;
  last_row_[id] = row;
  occurrence_rows_.push_back(row);
  occurrence_values_.push_back(id);
}

void StringIndex::PrefetchSlot(uint64_t hash) const {
  Prefetch(&slots_[(hash >> 32) & (slots_.size() - 1)]);
}

void StringIndex::Builder::Reserve(size_t occurrences) {
  occurrence_rows_.reserve(occurrences);
  occurrence_values_.reserve(occurrences);
}

size_t StringIndex::Builder::value_count() const {
  return index_->value_count();
}

std::unique_ptr<StringIndex> StringIndex::Builder::Finish(
    bool with_trigrams) && {
  Flush();
  StringIndex& index = *index_;
  const size_t n = index.value_count();
  Release(last_row_);
  // No value comes after this: lookups from now on search the sorted text,
  // and the hash table goes.
  Release(index.slots_);
  index.SortValues(occurrence_values_);
  // The build holds the occurrences, then rows by value, then the
  // postings: each is sized exactly, and freed as soon as it is read unless
  // the index keeps it.
  //
  // Counting sort of occurrences by value; rows stay ascending per value.
  // next[id] starts as where value id's rows begin and ends as where they
  // end.
  std::vector<uint64_t> next(n + 1, 0);
  for (ValueId id : occurrence_values_) ++next[id + 1];
  for (size_t i = 0; i < n; ++i) next[i + 1] += next[i];
  std::vector<uint32_t> rows(occurrence_rows_.size());
  for (size_t i = 0; i < occurrence_rows_.size(); ++i) {
    rows[next[occurrence_values_[i]]++] = occurrence_rows_[i];
  }
  if (with_trigrams) {
    // A row's values, in the order the row named them, are put in order
    // of their ids: no reader needs it, but a merge gives them so (Merge),
    // and the two then save the same bytes.
    for (size_t i = 0; i < occurrence_rows_.size();) {
      size_t j = i + 1;
      while (j < occurrence_rows_.size() &&
             occurrence_rows_[j] == occurrence_rows_[i]) {
        ++j;
      }
      if (j - i > 1) {
        std::sort(occurrence_values_.begin() + i,
                  occurrence_values_.begin() + j);
      }
      i = j;
    }
    index.KeepOccurrences(std::move(occurrence_rows_),
                          std::move(occurrence_values_));
  }
  Release(occurrence_rows_);
  Release(occurrence_values_);
  index.BuildPostings(rows, std::span(next).first(n));
  Release(rows);
  Release(next);
  if (with_trigrams) {
    index.BuildTrigrams(trigram_slice_bytes_);
    index.BuildLetterRuns();
  }
  return std::move(index_);
}

void StringIndex::KeepOccurrences(std::vector<uint32_t> rows,
                                  std::vector<ValueId> values) {
  // Per row when each row has at most one value and most rows have one,
  // else as pairs.
  const bool one_per_row =
      std::adjacent_find(rows.begin(), rows.end()) == rows.end();
  const size_t row_end = rows.empty() ? 0 : rows.back() + 1;
  if (one_per_row && row_end <= 2 * rows.size()) {
    row_values_.assign(row_end, kNoValue);
    for (size_t i = 0; i < rows.size(); ++i) row_values_[rows[i]] = values[i];
    return;
  }
  occurrence_rows_ = std::move(rows);
  occurrence_values_ = std::move(values);
}

void StringIndex::BuildPostings(std::span<const uint32_t> rows,
                                std::span<const uint64_t> ends) {
  const size_t n = value_count();
  auto begin_of = [&](size_t id) { return id == 0 ? 0 : ends[id - 1]; };
  // Rare values keep their row lists; common ones become bitmaps.
  size_t small = 0;
  for (size_t id = 0; id < n; ++id) {
    const uint64_t count = ends[id] - begin_of(id);
    if (count < kBitmapMinRows) small += count;
  }
  small_rows_.reserve(small);
  const bool one_row_each = small == n && rows.size() == n;
  if (!one_row_each) occurrences_before_.assign(n + 1, 0);
  uint32_t bitmap_rows = 0;
  for (size_t id = 0; id < n; ++id) {
    const uint64_t first = begin_of(id), count = ends[id] - first;
    if (!one_row_each) {
      occurrences_before_[id + 1] = static_cast<uint32_t>(ends[id]);
    }
    if (count >= kBitmapMinRows) {
      Bitmap b = Bitmap::Of(rows.subspan(first, count));
      b.Optimize();
      bitmaps_.emplace_back(static_cast<ValueId>(id), std::move(b));
      bitmap_rows_before_.push_back(bitmap_rows);
      bitmap_rows += static_cast<uint32_t>(count);
    } else {
      small_rows_.insert(small_rows_.end(), rows.begin() + first,
                         rows.begin() + first + count);
    }
  }
  bitmap_rows_before_.push_back(bitmap_rows);
  bitmaps_.shrink_to_fit();
  bitmap_rows_before_.shrink_to_fit();
}

template <typename Fn>
void StringIndex::ForEachPosting(std::vector<uint32_t>& scratch,
                                 Fn&& fn) const {
  size_t next_bitmap = 0, small = 0;
  for (ValueId v = 0; v < value_count(); ++v) {
    const uint32_t count = static_cast<uint32_t>(OccurrencesIn(v, v + 1));
    if (next_bitmap < bitmaps_.size() && bitmaps_[next_bitmap].first == v) {
      scratch.resize(count);
      roaring_bitmap_to_uint32_array(bitmaps_[next_bitmap].second.get(),
                                     scratch.data());
      ++next_bitmap;
      fn(v, std::span<const uint32_t>(scratch));
      continue;
    }
    fn(v, std::span<const uint32_t>(small_rows_).subspan(small, count));
    small += count;
  }
}

std::unique_ptr<StringIndex> StringIndex::Merge(
    std::span<const MergeSource> sources, uint32_t row_count,
    size_t trigram_min_values, const SpellingAt& spelling_at) {
  // Each source's values with the rows they keep, as merged rows: value
  // v's are rows[ends[v - 1], ends[v]), from 0 for v = 0.
  struct Part {
    const StringIndex* index;
    std::vector<uint32_t> rows;
    std::vector<uint64_t> ends;
    std::vector<uint8_t> first_kept;  // whether v's first row is kept
    ValueId next = 0;                 // the merge's place in its values
    // next's text, and its first 8 bytes as a big-endian number (zero
    // padded), which orders as the text does where two differ.
    std::string_view text;
    uint64_t head = 0;
    uint64_t begin(ValueId v) const { return v == 0 ? 0 : ends[v - 1]; }
    bool kept(ValueId v) const { return ends[v] > begin(v); }
    // Moves `next` to the first value from it with rows kept.
    void Skip() {
      while (next < ends.size() && !kept(next)) ++next;
      if (done()) return;
      text = index->folded(next);
      head = 0;
      for (size_t i = 0; i < 8; ++i) {
        head =
            head << 8 | (i < text.size() ? static_cast<uint8_t>(text[i]) : 0);
      }
    }
    bool done() const { return next == ends.size(); }
    // next's text against `other`'s next: below, equal or above 0.
    int Compare(const Part& other) const {
      if (head != other.head) return head < other.head ? -1 : 1;
      return text.compare(other.text);
    }
  };
  std::vector<Part> parts(sources.size());
  std::vector<uint32_t> scratch;
  for (size_t k = 0; k < sources.size(); ++k) {
    const StringIndex& src = *sources[k].index;
    const std::span<const uint32_t> to_row = sources[k].to_row;
    Part& part = parts[k];
    part.index = &src;
    part.ends.resize(src.value_count());
    part.first_kept.resize(src.value_count());
    src.ForEachPosting(scratch, [&](ValueId v, std::span<const uint32_t> rows) {
      for (const uint32_t row : rows) {
        const uint32_t to = to_row[row];
        if (to != kDroppedRow) part.rows.push_back(to);
      }
      part.ends[v] = part.rows.size();
      part.first_kept[v] = !rows.empty() && to_row[rows.front()] != kDroppedRow;
    });
    part.Skip();
  }

  auto index = std::make_unique<StringIndex>();
  std::vector<uint32_t> rows;  // by merged value
  std::vector<uint64_t> ends;
  std::vector<size_t> runs;  // where each source's rows of a value start
  std::vector<uint32_t> value_rows, merge_scratch;
  std::vector<uint64_t> words;
  // A value with a row for every this many words of the merge's rows or
  // more merges its rows in words.
  constexpr size_t kWordsPerCommonRow = 4;
  std::vector<size_t> same;  // the parts holding the least value
  for (;;) {
    // The least value among the parts' next, and the parts holding it.
    same.clear();
    for (size_t k = 0; k < parts.size(); ++k) {
      if (parts[k].done()) continue;
      const int order = same.empty() ? -1 : parts[k].Compare(parts[same[0]]);
      if (order < 0) {
        same.assign(1, k);
      } else if (order == 0) {
        same.push_back(k);
      }
    }
    if (same.empty()) break;
    const std::string_view least = parts[same[0]].text;
    const ValueId id = static_cast<ValueId>(index->value_count());
    index->folded_arena_.append(least);
    index->folded_offsets_.push_back(
        static_cast<uint32_t>(index->folded_arena_.size()));
    // Its rows, a run from each part, and its spelling, from the part that
    // holds its first row.
    runs.clear();
    const size_t start = rows.size();
    size_t first = same.front();
    for (const size_t k : same) {
      const Part& part = parts[k];
      runs.push_back(rows.size() - start);
      const uint32_t* begin = part.rows.data() + part.begin(part.next);
      const uint32_t* end = part.rows.data() + part.ends[part.next];
      rows.insert(rows.end(), begin, end);
      const Part& holder = parts[first];
      if (*begin < holder.rows[holder.begin(holder.next)]) first = k;
    }
    if (same.size() > 1) {
      // A common value's rows are set in words over the merge's rows and
      // read off in order; a rarer one's runs are merged.
      const size_t count = rows.size() - start;
      if (count * kWordsPerCommonRow >= row_count / 64) {
        words.assign((row_count + 63) / 64, 0);
        for (size_t i = start; i < rows.size(); ++i) {
          SetBit(words.data(), rows[i]);
        }
        rows.resize(start);
        AppendSetBits(words, &rows);
      } else {
        value_rows.assign(rows.begin() + start, rows.end());
        MergeRuns(value_rows, runs, merge_scratch);
        std::copy(value_rows.begin(), value_rows.end(), rows.begin() + start);
      }
    }
    ends.push_back(rows.size());
    const Part& holder = parts[first];
    std::string spelling;
    std::string_view shown;
    if (holder.first_kept[holder.next]) {
      shown = holder.index->display(holder.next);
    } else {
      spelling = spelling_at(rows[start], least);
      shown = spelling;
    }
    if (shown != least) {
      index->displays_.emplace_back(
          id, static_cast<uint32_t>(index->display_arena_.size()));
      index->display_arena_.append(shown);
    }
    for (const size_t k : same) {
      ++parts[k].next;
      parts[k].Skip();
    }
  }
  Release(parts);
  // Sized exactly, as a build sizes them.
  index->folded_arena_.shrink_to_fit();
  index->folded_offsets_.shrink_to_fit();
  index->displays_.shrink_to_fit();
  index->display_arena_.shrink_to_fit();
  const bool with_trigrams = index->value_count() >= trigram_min_values;
  if (with_trigrams) {
    // The occurrences in row order: per row if each row holds one value,
    // else sorted as (row, value) words.
    std::vector<uint32_t> occurrence_rows;
    std::vector<ValueId> occurrence_values;
    std::vector<ValueId> by_row(row_count, kNoValue);
    bool one_per_row = true;
    for (ValueId v = 0; v < ends.size() && one_per_row; ++v) {
      for (uint64_t i = v == 0 ? 0 : ends[v - 1]; i < ends[v]; ++i) {
        if (by_row[rows[i]] != kNoValue) {
          one_per_row = false;
          break;
        }
        by_row[rows[i]] = v;
      }
    }
    if (one_per_row) {
      occurrence_rows.reserve(rows.size());
      occurrence_values.reserve(rows.size());
      for (uint32_t row = 0; row < row_count; ++row) {
        if (by_row[row] == kNoValue) continue;
        occurrence_rows.push_back(row);
        occurrence_values.push_back(by_row[row]);
      }
    } else {
      std::vector<uint64_t> pairs;
      pairs.reserve(rows.size());
      for (ValueId v = 0; v < ends.size(); ++v) {
        for (uint64_t i = v == 0 ? 0 : ends[v - 1]; i < ends[v]; ++i) {
          pairs.push_back(uint64_t{rows[i]} << 32 | v);
        }
      }
      RadixSort(pairs, [](uint64_t w) { return w; });
      occurrence_rows.reserve(pairs.size());
      occurrence_values.reserve(pairs.size());
      for (const uint64_t w : pairs) {
        occurrence_rows.push_back(static_cast<uint32_t>(w >> 32));
        occurrence_values.push_back(static_cast<ValueId>(w));
      }
    }
    Release(by_row);
    index->KeepOccurrences(std::move(occurrence_rows),
                           std::move(occurrence_values));
  }
  index->BuildPostings(rows, ends);
  Release(rows);
  Release(ends);
  if (with_trigrams) {
    index->BuildTrigrams(Builder::kTrigramSliceBytes);
    index->BuildLetterRuns();
  }
  return index;
}

void StringIndex::SortByText(std::span<ValueId> ids, size_t depth) const {
  if (depth >= kSortChunkDepth) {  // long shared prefixes: compare the rest
    std::sort(ids.begin(), ids.end(),
              [&](ValueId a, ValueId b) { return folded(a) < folded(b); });
    return;
  }
  auto chunk = [&](ValueId id) {
    const std::string_view s = folded(id);
    uint64_t key = 0;
    for (size_t i = depth; i < depth + 8; ++i) {
      key = key << 8 | (i < s.size() ? static_cast<uint8_t>(s[i]) : 0);
    }
    return key;
  };
  std::vector<std::pair<uint64_t, ValueId>> keyed(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) keyed[i] = {chunk(ids[i]), ids[i]};
  if (keyed.size() >= kRadixSortFrom) {
    RadixSort(keyed, [](const auto& k) { return k.first; });
  } else {
    std::sort(keyed.begin(), keyed.end());
  }
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = keyed[i].second;
  for (size_t i = 0; i < ids.size();) {
    size_t j = i + 1;
    while (j < ids.size() && keyed[j].first == keyed[i].first) ++j;
    if (j - i > 1) {
      const std::span<ValueId> tied = ids.subspan(i, j - i);
      const bool ended = std::all_of(tied.begin(), tied.end(), [&](ValueId id) {
        return folded(id).size() <= depth + 8;
      });
      if (ended) {
        // Equal but for the zero padding: each is a prefix of the longer
        // ones (text ending in zero bytes), so shorter comes first.
        std::sort(tied.begin(), tied.end(), [&](ValueId a, ValueId b) {
          return folded(a).size() < folded(b).size();
        });
      } else {
        SortByText(tied, depth + 8);
      }
    }
    i = j;
  }
}

void StringIndex::SortValues(std::span<ValueId> occurrence_values) {
  // Sorted eight bytes at a time, each eight as one big-endian integer
  // (zero padded, which orders like the text): integer compares instead of
  // string compares, on keys read in order rather than text read at random.
  const size_t n = value_count();
  std::vector<ValueId> order(n);  // old ids, ascending text
  std::iota(order.begin(), order.end(), ValueId{0});
  SortByText(order, 0);
  // The text and its offsets laid out again in the new order, each
  // sized exactly; the old ones go as soon as the new ones are whole. The
  // old text is read at random: its offsets are loaded 16 values ahead and
  // its bytes 8 ahead.
  {
    std::string arena;
    arena.reserve(folded_arena_.size());
    std::vector<uint32_t> offsets;
    offsets.reserve(n + 1);
    offsets.push_back(0);
    for (size_t i = 0; i < n; ++i) {
      if (i + 16 < n) Prefetch(&folded_offsets_[order[i + 16]]);
      if (i + 8 < n) {
        Prefetch(folded_arena_.data() + folded_offsets_[order[i + 8]]);
      }
      arena.append(folded(order[i]));
      offsets.push_back(static_cast<uint32_t>(arena.size()));
    }
    folded_arena_ = std::move(arena);
    folded_offsets_ = std::move(offsets);
  }
  std::vector<ValueId> rank(n);  // old id -> new id
  for (ValueId i = 0; i < n; ++i) rank[order[i]] = i;
  Release(order);
  // Spellings, ascending by their new ids.
  {
    std::vector<std::pair<ValueId, std::string_view>> spellings;
    spellings.reserve(displays_.size());
    for (size_t i = 0; i < displays_.size(); ++i) {
      const size_t end = i + 1 < displays_.size() ? displays_[i + 1].second
                                                  : display_arena_.size();
      spellings.emplace_back(
          rank[displays_[i].first],
          std::string_view(display_arena_)
              .substr(displays_[i].second, end - displays_[i].second));
    }
    std::sort(spellings.begin(), spellings.end());
    std::string arena;
    arena.reserve(display_arena_.size());
    std::vector<std::pair<ValueId, uint32_t>> displays;
    displays.reserve(spellings.size());
    for (const auto& [id, text] : spellings) {
      displays.emplace_back(id, static_cast<uint32_t>(arena.size()));
      arena.append(text);
    }
    Release(spellings);
    display_arena_ = std::move(arena);
    displays_ = std::move(displays);
  }
  for (ValueId& id : occurrence_values) id = rank[id];
}

void StringIndex::BuildTrigrams(uint64_t slice_bytes) {
  // A counting sort on the trigram: count the trigrams, lay the lists out
  // by prefix sums, then fill them in value order, so every list comes out
  // ascending and a value's repeated trigram lands next to itself, to be
  // dropped when the list is encoded. Lists are filled and encoded a slice
  // of trigrams at a time, so the transient memory is the count table and
  // 4 bytes per trigram of one slice, not a sort's two copies of all.
  //
  // Trigrams are numbered over the bytes the text holds, in byte order: with
  // an alphabet of A bytes a trigram is a number below A^3, in the order of
  // its 24-bit key, and the count table indexed by it stays in cache (41
  // bytes make up emails: 69k trigrams, where all 24-bit keys would take a
  // 64 MiB table). Only values of three bytes or more hold a trigram.
  std::array<bool, 256> present{};
  for (ValueId id = 0; id < value_count(); ++id) {
    const std::string_view s = folded(id);
    if (s.size() < 3) continue;
    for (const char c : s) present[static_cast<uint8_t>(c)] = true;
  }
  std::array<uint32_t, 256> code{};
  std::array<uint8_t, 256> byte_of{};
  uint32_t alphabet = 0;
  for (int b = 0; b < 256; ++b) {
    if (!present[b]) continue;
    code[b] = alphabet;
    byte_of[alphabet++] = static_cast<uint8_t>(b);
  }
  const size_t key_space = size_t{alphabet} * alphabet * alphabet;
  auto key_of = [&](uint32_t number) {  // the trigram's 24-bit key
    const char bytes[3] = {
        static_cast<char>(byte_of[number / alphabet / alphabet]),
        static_cast<char>(byte_of[number / alphabet % alphabet]),
        static_cast<char>(byte_of[number % alphabet])};
    return TrigramKey(bytes);
  };
  auto for_each_trigram = [&](ValueId id, auto&& fn) {
    const std::string_view s = folded(id);
    for (size_t i = 0; i + 3 <= s.size(); ++i) {
      fn((code[static_cast<uint8_t>(s[i])] * alphabet +
          code[static_cast<uint8_t>(s[i + 1])]) *
             alphabet +
         code[static_cast<uint8_t>(s[i + 2])]);
    }
  };
  auto varint_size = [](uint32_t v) {
    size_t n = 1;
    for (; v >= 0x80; v >>= 7) ++n;
    return n;
  };
  // next[k]: how often trigram k occurs (a value holding it twice counts
  // twice); then where list k starts; during its slice's fill, where its
  // next entry goes.
  std::vector<uint32_t> next(key_space, 0);
  for (ValueId id = 0; id < value_count(); ++id) {
    for_each_trigram(id, [&](uint32_t k) { ++next[k]; });
  }
  // The trigrams that occur, ascending, with their list sizes: only these
  // are visited from here on, not the whole key space. A list too long
  // ever to be followed (TrigramListKept) is left out, and only its size
  // is kept.
  constexpr uint32_t kLeftOut = UINT32_MAX;  // in next[k]
  std::vector<uint32_t> keys, sizes;
  std::vector<std::pair<uint32_t, uint32_t>> left_out;  // (key, size)
  uint32_t total = 0;
  for (uint32_t k = 0; k < key_space; ++k) {
    if (next[k] == 0) continue;
    if (!TrigramListKept(next[k])) {
      left_out.emplace_back(key_of(k), next[k]);
      next[k] = kLeftOut;
      continue;
    }
    keys.push_back(k);
    sizes.push_back(next[k]);
    next[k] = total;
    total += sizes.back();
  }
  const uint64_t slices = 1 + uint64_t{total} * sizeof(ValueId) /
                                  std::max<uint64_t>(slice_bytes, 1);
  std::vector<ValueId> lists;
  for (size_t lo = 0; lo < keys.size();) {
    // Keys [lo, hi) of `keys`: about total / slices trigrams.
    const uint32_t base = next[keys[lo]];
    size_t hi = lo;
    uint64_t slice = 0;
    while (hi < keys.size() && slice * slices < total) slice += sizes[hi++];
    const uint32_t first_key = keys[lo], last_key = keys[hi - 1];
    lists.assign(slice, 0);
    for (ValueId id = 0; id < value_count(); ++id) {
      for_each_trigram(id, [&](uint32_t k) {
        if (k >= first_key && k <= last_key && next[k] != kLeftOut) {
          lists[next[k]++ - base] = id;
        }
      });
    }
    // Each list as deltas between ascending values, 7 bits a byte: common
    // trigrams have small gaps and take about a byte a value. The bytes
    // are counted first and reserved exactly.
    auto for_each_delta = [&](size_t i, auto&& fn) {
      const uint32_t e = next[keys[i]] - base, b = e - sizes[i];
      for (uint32_t j = b; j < e; ++j) {
        if (j == b) {
          fn(lists[j]);
        } else if (lists[j] != lists[j - 1]) {
          fn(lists[j] - lists[j - 1]);
        }
      }
    };
    size_t bytes = 0;
    for (size_t i = lo; i < hi; ++i) {
      for_each_delta(i, [&](uint32_t d) { bytes += varint_size(d); });
    }
    trigram_data_.reserve(trigram_data_.size() + bytes);
    for (size_t i = lo; i < hi; ++i) {
      uint32_t count = 0;
      const size_t offset = trigram_data_.size();
      for_each_delta(i, [&](uint32_t delta) {
        ++count;
        for (; delta >= 0x80; delta >>= 7) {
          trigram_data_.push_back(static_cast<uint8_t>(delta | 0x80));
        }
        trigram_data_.push_back(static_cast<uint8_t>(delta));
      });
      trigram_keys_.push_back(key_of(keys[i]));
      trigram_counts_.push_back(count);
      trigram_offsets_.push_back(offset);
    }
    lo = hi;
  }
  // The lists left out, by key among the others, with their sizes (values
  // counted as often as they hold the trigram: an upper bound, and still
  // too long to follow).
  if (!left_out.empty()) {
    std::vector<uint32_t> all_keys, counts;
    std::vector<uint64_t> offsets;
    const size_t lists_in_all = trigram_keys_.size() + left_out.size();
    all_keys.reserve(lists_in_all);
    counts.reserve(lists_in_all);
    offsets.reserve(lists_in_all);
    size_t i = 0;
    for (const auto& [key, size] : left_out) {
      for (; i < trigram_keys_.size() && trigram_keys_[i] < key; ++i) {
        all_keys.push_back(trigram_keys_[i]);
        counts.push_back(trigram_counts_[i]);
        offsets.push_back(trigram_offsets_[i]);
      }
      all_keys.push_back(key);
      counts.push_back(size);
      offsets.push_back(trigram_data_.size());  // no entries
    }
    for (; i < trigram_keys_.size(); ++i) {
      all_keys.push_back(trigram_keys_[i]);
      counts.push_back(trigram_counts_[i]);
      offsets.push_back(trigram_offsets_[i]);
    }
    trigram_keys_ = std::move(all_keys);
    trigram_counts_ = std::move(counts);
    trigram_offsets_ = std::move(offsets);
  }
  trigram_keys_.shrink_to_fit();
  trigram_counts_.shrink_to_fit();
  trigram_offsets_.shrink_to_fit();
}

namespace {

bool IsLetter(char c) { return c >= 'a' && c <= 'z'; }

}  // namespace

void StringIndex::BuildLetterRuns() {
  // Runs are worth keeping while they are few: their text is scanned whole
  // by every needle that asks, so past a sixteenth of the dictionary's
  // text they are dropped.
  const size_t budget = folded_arena_.size() / 16;
  std::unordered_map<std::string_view, uint32_t> ids;  // views of the text
  std::vector<std::string_view> runs;
  std::vector<ValueId> last_value;  // per run, so a value counts once
  size_t text = 0;
  for (ValueId v = 0; v < value_count(); ++v) {
    const std::string_view s = folded(v);
    for (size_t i = 0; i < s.size();) {
      if (!IsLetter(s[i])) {
        ++i;
        continue;
      }
      size_t j = i + 1;
      while (j < s.size() && IsLetter(s[j])) ++j;
      const auto [it, added] = ids.try_emplace(
          s.substr(i, j - i), static_cast<uint32_t>(runs.size()));
      if (added) {
        runs.push_back(it->first);
        last_value.push_back(kNoValue);
        run_rows_.push_back(0);
        text += j - i + 1;
        if (text > budget) {
          Release(run_rows_);
          return;
        }
      }
      const uint32_t r = it->second;
      if (last_value[r] != v) {
        last_value[r] = v;
        run_rows_[r] += OccurrencesIn(v, v + 1);
      }
      i = j;
    }
  }
  run_text_.reserve(text);
  run_starts_.reserve(runs.size() + 1);
  for (const std::string_view run : runs) {
    run_starts_.push_back(static_cast<uint32_t>(run_text_.size()));
    run_text_.append(run);
    run_text_.push_back('\0');
  }
  run_starts_.push_back(static_cast<uint32_t>(run_text_.size()));
  run_rows_.shrink_to_fit();
}

std::optional<uint64_t> StringIndex::RunOccurrences(
    std::string_view needle) const {
  if (run_rows_.empty() || needle.empty() ||
      !std::all_of(needle.begin(), needle.end(), IsLetter)) {
    return std::nullopt;
  }
  // The runs holding the needle, from one pass that marks where it starts
  // in their text: a match never crosses a run's end, as '\0' is no letter.
  thread_local std::vector<uint64_t> starts;
  starts.resize(MatchStartWords(run_text_.size()));
  MarkMatchStarts(run_text_.data(), run_text_.size(), needle, starts.data());
  std::optional<size_t> holder;
  for (size_t w = 0; w < starts.size(); ++w) {
    for (uint64_t bits = starts[w]; bits != 0; bits &= bits - 1) {
      const size_t at = w * 64 + static_cast<size_t>(std::countr_zero(bits));
      const size_t r =
          std::upper_bound(run_starts_.begin(), run_starts_.end(), at) -
          run_starts_.begin() - 1;
      // Two runs: a value may hold both, and counting it once needs a scan.
      if (holder && *holder != r) return std::nullopt;
      holder = r;
    }
  }
  return holder ? run_rows_[*holder] : 0;
}

std::vector<ValueId> StringIndex::TrigramValues(size_t k) const {
  std::vector<ValueId> values(trigram_counts_[k]);
  const uint8_t* p = trigram_data_.data() + trigram_offsets_[k];
  ValueId value = 0;
  for (ValueId& v : values) {
    uint32_t delta = 0;
    for (int shift = 0;; shift += 7) {
      const uint8_t byte = *p++;
      delta |= static_cast<uint32_t>(byte & 0x7F) << shift;
      if (!(byte & 0x80)) break;
    }
    value += delta;
    v = value;
  }
  return values;
}

std::vector<ValueId> StringIndex::ScanDictionary(
    std::string_view needle) const {
  std::vector<ValueId> out;
  for (ValueId id = 0; id < value_count(); ++id) {
    if (folded(id).find(needle) != std::string_view::npos) out.push_back(id);
  }
  return out;
}

std::vector<ValueId> StringIndex::Contains(std::string_view needle) const {
  if (!has_trigrams() || needle.size() < 3) {
    return ScanDictionary(needle);
  }
  // Candidates: values holding every trigram of the needle, rarest first.
  std::vector<size_t> lists;
  for (size_t i = 0; i + 3 <= needle.size(); ++i) {
    const uint32_t key = TrigramKey(&needle[i]);
    auto it = std::lower_bound(trigram_keys_.begin(), trigram_keys_.end(), key);
    if (it == trigram_keys_.end() || *it != key) return {};
    lists.push_back(static_cast<size_t>(it - trigram_keys_.begin()));
  }
  std::sort(lists.begin(), lists.end(), [&](size_t a, size_t b) {
    return trigram_counts_[a] < trigram_counts_[b];
  });
  lists.erase(std::unique(lists.begin(), lists.end()), lists.end());
  // The rarest list may be too long to have been kept: then scan.
  if (!TrigramListKept(trigram_counts_[lists[0]])) {
    return ScanDictionary(needle);
  }
  std::vector<ValueId> candidates = TrigramValues(lists[0]);
  // Two lists narrow enough; verification below settles the rest, and
  // decoding a long common list would cost more than it saves.
  for (size_t i = 1; i < lists.size() && i < 2 && !candidates.empty(); ++i) {
    if (!TrigramListKept(trigram_counts_[lists[i]])) break;
    candidates = Intersect(candidates, TrigramValues(lists[i]));
  }
  // Trigrams prove nothing about order: verify each candidate.
  std::erase_if(candidates, [&](ValueId id) {
    return folded(id).find(needle) == std::string_view::npos;
  });
  return candidates;
}

uint64_t StringIndex::TrigramListSize(uint32_t key) const {
  auto it = std::lower_bound(trigram_keys_.begin(), trigram_keys_.end(), key);
  if (it == trigram_keys_.end() || *it != key) return 0;
  return trigram_counts_[it - trigram_keys_.begin()];
}

void StringIndex::ScanValues(std::string_view needle, ValueId first,
                             ValueId last, uint64_t* bits,
                             ValueSet* tally) const {
  // Where the needle starts anywhere in these values' text, then which
  // values hold a start far enough inside them.
  const uint32_t base = folded_offsets_[first];
  const size_t size = folded_offsets_[last] - base;
  thread_local std::vector<uint64_t> starts;
  starts.resize(MatchStartWords(size));
  MarkMatchStarts(folded_arena_.data() + base, size, needle, starts.data());
  MarkValuesHolding(folded_offsets_.data() + first, last - first, base,
                    needle.size(), starts.data(), bits + first / 64);
  // The words from `first` are this chunk's alone.
  uint64_t values = 0, occurrences = 0;
  for (size_t w = first / 64; w < (size_t{last} + 63) / 64; ++w) {
    values += static_cast<uint64_t>(std::popcount(bits[w]));
    for (uint64_t word = bits[w]; word != 0; word &= word - 1) {
      const ValueId id = static_cast<ValueId>(w * 64) +
                         static_cast<ValueId>(std::countr_zero(word));
      occurrences += OccurrencesIn(id, id + 1);
    }
  }
  tally->count += values;
  tally->occurrences += occurrences;
}

uint64_t StringIndex::RarestTrigramCount(std::string_view needle) const {
  uint64_t rarest = UINT64_MAX;
  for (size_t i = 0; i + 3 <= needle.size(); ++i) {
    rarest = std::min(rarest, TrigramListSize(TrigramKey(&needle[i])));
  }
  return rarest;
}

uint64_t StringIndex::ContainsCandidates(std::string_view needle) const {
  if (!has_trigrams() || needle.size() < 3) return value_count();
  // A list left out counts its trigram's every occurrence.
  return std::min<uint64_t>(RarestTrigramCount(needle), value_count());
}

bool StringIndex::ContainsScans(std::string_view needle) const {
  return !has_trigrams() || needle.size() < 3 ||
         !TrigramListKept(RarestTrigramCount(needle));
}

uint64_t StringIndex::ScanBytes() const {
  return folded_arena_.size() +
         (folded_offsets_.size() + occurrences_before_.size()) *
             sizeof(uint32_t);
}

uint64_t StringIndex::ContainsSetBytes(std::string_view needle) const {
  if (!ContainsScans(needle)) {
    return RarestTrigramCount(needle) * kBytesPerCandidate;
  }
  return ScanBytes();
}

ValueSet StringIndex::ContainsSet(std::string_view needle) const {
  if (ContainsScans(needle)) return ScanSet(needle);
  ValueSet set;
  set.bits.assign((value_count() + 63) / 64, 0);
  for (ValueId id : Contains(needle)) {
    set.bits[id >> 6] |= uint64_t{1} << (id & 63);
    ++set.count;
    set.occurrences += OccurrencesIn(id, id + 1);
  }
  return set;
}

ValueSet StringIndex::ScanSet(std::string_view needle) const {
  ValueSet set;
  set.bits.assign((value_count() + 63) / 64, 0);
  // Chunks of whole bitset words, so no two threads write one word.
  constexpr ValueId kChunk = 1 << 14;
  const ValueId values = static_cast<ValueId>(value_count());
  std::atomic<uint64_t> count{0}, occurrences{0};
  tbb::parallel_for(ValueId{0}, (values + kChunk - 1) / kChunk, [&](ValueId c) {
    const ValueId first = c * kChunk;
    const ValueId last = std::min(values, first + kChunk);
    ValueSet tally;
    ScanValues(needle, first, last, set.bits.data(), &tally);
    count += tally.count;
    occurrences += tally.occurrences;
  });
  set.count = count;
  set.occurrences = occurrences;
  return set;
}

std::pair<ValueId, ValueId> StringIndex::PrefixRange(
    std::string_view prefix) const {
  // Ids ascend with the text: the values with the prefix lie between the
  // last value ordered before it and the first ordered after all its
  // continuations.
  auto head = [&](ValueId id) { return folded(id).substr(0, prefix.size()); };
  const auto ids =
      std::views::iota(ValueId{0}, static_cast<ValueId>(value_count()));
  const auto first = std::ranges::partition_point(
      ids, [&](ValueId id) { return head(id) < prefix; });
  const auto last = std::ranges::partition_point(
      first, ids.end(), [&](ValueId id) { return head(id) == prefix; });
  return {static_cast<ValueId>(first - ids.begin()),
          static_cast<ValueId>(last - ids.begin())};
}

ValueSet StringIndex::StartsWith(std::string_view prefix) const {
  ValueSet set;
  set.bits.assign((value_count() + 63) / 64, 0);
  const auto [first, last] = PrefixRange(prefix);
  for (ValueId id = first; id < last;) {
    if (id % 64 == 0 && last - id >= 64) {  // a whole word
      set.bits[id >> 6] = ~uint64_t{0};
      id += 64;
    } else {
      set.bits[id >> 6] |= uint64_t{1} << (id & 63);
      ++id;
    }
  }
  set.count = last - first;
  set.occurrences = OccurrencesIn(first, last);
  return set;
}

StringIndex::Memory StringIndex::MemoryUse() const {
  Memory m;
  m.text = HeapBytes(folded_arena_);
  m.dictionary = HeapBytes(display_arena_) +
                 folded_offsets_.capacity() * sizeof(uint32_t) +
                 displays_.capacity() * sizeof(displays_[0]) +
                 slots_.capacity() * sizeof(uint64_t);
  m.postings = (small_rows_.capacity() + occurrences_before_.capacity() +
                bitmap_rows_before_.capacity()) *
               sizeof(uint32_t);
  for (const auto& [id, b] : bitmaps_) {
    m.postings += sizeof(id) + roaring_bitmap_size_in_bytes(b.get()) +
                  sizeof(roaring_bitmap_t);
  }
  m.trigrams =
      (trigram_keys_.capacity() + trigram_counts_.capacity() +
       run_starts_.capacity()) *
          sizeof(uint32_t) +
      (trigram_offsets_.capacity() + run_rows_.capacity()) * sizeof(uint64_t) +
      trigram_data_.capacity() + HeapBytes(run_text_);
  m.occurrences = (occurrence_rows_.capacity() + occurrence_values_.capacity() +
                   row_values_.capacity()) *
                  sizeof(uint32_t);
  return m;
}

void StringIndex::Save(ArchiveWriter& out) const {
  out.LongBytes(folded_arena_);
  out.Vector(folded_offsets_);
  out.U64(displays_.size());
  for (const auto& [value, offset] : displays_) {
    out.U32(value);
    out.U32(offset);
  }
  out.LongBytes(display_arena_);
  out.Vector(small_rows_);
  out.U64(bitmaps_.size());
  for (const auto& [value, bitmap] : bitmaps_) {
    out.U32(value);
    bitmap.Save(out);
  }
  out.Vector(bitmap_rows_before_);
  out.Vector(occurrences_before_);
  out.Vector(occurrence_rows_);
  out.Vector(occurrence_values_);
  out.Vector(row_values_);
  out.LongBytes(run_text_);
  out.Vector(run_starts_);
  out.Vector(run_rows_);
  out.Vector(trigram_keys_);
  out.Vector(trigram_counts_);
  out.Vector(trigram_offsets_);
  out.Vector(trigram_data_);
  out.U64(list_divisor_);
}

bool StringIndex::Load(ArchiveReader& in) {
  uint64_t displays, bitmaps;
  if (!in.LongBytes(&folded_arena_) || !in.Vector(&folded_offsets_) ||
      folded_offsets_.empty() ||
      folded_offsets_.back() != folded_arena_.size() || !in.U64(&displays) ||
      !in.Fits(displays, 2 * sizeof(uint32_t))) {
    return false;
  }
  displays_.resize(displays);
  for (auto& [value, offset] : displays_) {
    if (!in.U32(&value) || !in.U32(&offset)) return false;
  }
  if (!in.LongBytes(&display_arena_) || !in.Vector(&small_rows_) ||
      !in.U64(&bitmaps) || !in.Fits(bitmaps, sizeof(uint32_t))) {
    return false;
  }
  bitmaps_.resize(bitmaps);
  for (auto& [value, bitmap] : bitmaps_) {
    if (!in.U32(&value) || !bitmap.Load(in)) return false;
  }
  return in.Vector(&bitmap_rows_before_) && in.Vector(&occurrences_before_) &&
         in.Vector(&occurrence_rows_) && in.Vector(&occurrence_values_) &&
         in.Vector(&row_values_) && in.LongBytes(&run_text_) &&
         in.Vector(&run_starts_) && in.Vector(&run_rows_) &&
         in.Vector(&trigram_keys_) && in.Vector(&trigram_counts_) &&
         in.Vector(&trigram_offsets_) && in.Vector(&trigram_data_) &&
         in.U64(&list_divisor_) && list_divisor_ > 0 &&
         trigram_counts_.size() == trigram_keys_.size() &&
         trigram_offsets_.size() >= trigram_keys_.size();
}

}  // namespace segd
