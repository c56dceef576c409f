// RowTable: an open-addressing hash table from key hashes to rows.
//
// The keys themselves (profile ids, identities) already live in the stored
// profiles, so the table keeps only 32 bits of each key's hash and the row:
// 8 bytes a slot, one cache miss a lookup. Find confirms a candidate with a
// caller-supplied predicate that compares the real key. Linear probing with
// backward-shift deletion, so no tombstones build up.
//
// Not thread-safe to change; owned by the ProfileStore's writer until it
// shares it (ProfileStore::ShareTables), read-only from then on, by the
// writer and a layer's readers alike.
#ifndef SEGD_INDEX_ROW_TABLE_H_
#define SEGD_INDEX_ROW_TABLE_H_

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "base/archive.h"
#include "base/prefetch.h"

namespace segd {

class RowTable {
 public:
  RowTable() = default;
  RowTable(const RowTable&) = default;
  RowTable& operator=(const RowTable&) = default;
  // A table moved from is left empty.
  RowTable(RowTable&& other) noexcept
      : slots_(std::move(other.slots_)), size_(std::exchange(other.size_, 0)) {
    other.slots_.clear();
  }
  RowTable& operator=(RowTable&& other) noexcept {
    slots_ = std::move(other.slots_);
    other.slots_.clear();
    size_ = std::exchange(other.size_, 0);
    return *this;
  }

  // Returns the first row whose slot matches `hash` and satisfies
  // `matches(row)`.
  template <typename Matches>
  std::optional<uint32_t> Find(uint64_t hash, Matches&& matches) const {
    if (slots_.empty()) return std::nullopt;
    const uint32_t tag = TagOf(hash);
    for (size_t i = tag & mask(); slots_[i].row != kEmpty;
         i = (i + 1) & mask()) {
      if (slots_[i].tag == tag && matches(slots_[i].row)) return slots_[i].row;
    }
    return std::nullopt;
  }

  // The row of the first slot whose tag matches `hash`, which Find would
  // test first: for loading its key ahead.
  std::optional<uint32_t> FirstCandidate(uint64_t hash) const {
    if (slots_.empty()) return std::nullopt;
    const uint32_t tag = TagOf(hash);
    for (size_t i = tag & mask(); slots_[i].row != kEmpty;
         i = (i + 1) & mask()) {
      if (slots_[i].tag == tag) return slots_[i].row;
    }
    return std::nullopt;
  }

  // Starts loading the home slot of `hash`, for a Find or Insert soon.
  void Prefetch(uint64_t hash) const {
    if (!slots_.empty()) segd::Prefetch(&slots_[TagOf(hash) & mask()]);
  }

  void Insert(uint64_t hash, uint32_t row);

  // An entry in one word, the part of `hash` a table keeps and `row`: for
  // lists of entries gathered to be inserted later (InsertPacked).
  static uint64_t Pack(uint64_t hash, uint32_t row) {
    return uint64_t{TagOf(hash)} << 32 | row;
  }
  void InsertPacked(uint64_t entry) {
    Insert(entry, static_cast<uint32_t>(entry));
  }
  // Removes the slot holding (hash, row); no-op when there is none.
  void Erase(uint64_t hash, uint32_t row);

  size_t size() const { return size_; }
  size_t MemoryBytes() const { return slots_.capacity() * sizeof(Slot); }

  // Calls fn(hash, row) for every entry, with a hash that stands for the
  // key's in any RowTable: a table can be refilled from another's entries
  // (a snapshot's load) without the keys.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const Slot& s : slots_) {
      if (s.row != kEmpty) fn(uint64_t{s.tag} << 32, s.row);
    }
  }
  // Room for `n` entries without a rehash.
  void Reserve(size_t n);

  // Archived as its slots (base/archive.h); Load counts the entries.
  void Save(ArchiveWriter& out) const;
  bool Load(ArchiveReader& in);

 private:
  static constexpr uint32_t kEmpty = ~uint32_t{0};
  struct Slot {
    uint32_t tag;
    uint32_t row = kEmpty;
  };
  // The high half of the hash: its low bits pick the home slot, all of it
  // filters candidates (HashBytes mixes every input bit into both halves).
  static uint32_t TagOf(uint64_t hash) {
    return static_cast<uint32_t>(hash >> 32);
  }
  // Whether `entries` fit in `slots`: at most three quarters full. A
  // lookup then probes about two slots when the key is there and eight
  // when it is not, one or two cache lines; tables kept at most half full
  // would often take twice the memory (10M ids: 32M slots, not 16M).
  static bool Fits(size_t entries, size_t slots) {
    return entries * 4 <= slots * 3;
  }
  size_t mask() const { return slots_.size() - 1; }
  void Rehash(size_t slot_count);

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace segd

#endif  // SEGD_INDEX_ROW_TABLE_H_
