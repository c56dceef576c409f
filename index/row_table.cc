#include "index/row_table.h"

#include <bit>

namespace segd {

void RowTable::Insert(uint64_t hash, uint32_t row) {
  if (!Fits(size_ + 1, slots_.size())) {
    Rehash(slots_.empty() ? 16 : slots_.size() * 2);
  }
  const uint32_t tag = TagOf(hash);
  size_t i = tag & mask();
  while (slots_[i].row != kEmpty) i = (i + 1) & mask();
  slots_[i] = Slot{tag, row};
  ++size_;
}

void RowTable::Erase(uint64_t hash, uint32_t row) {
  if (slots_.empty()) return;
  const uint32_t tag = TagOf(hash);
  size_t i = tag & mask();
  while (slots_[i].row != kEmpty &&
         !(slots_[i].tag == tag && slots_[i].row == row)) {
    i = (i + 1) & mask();
  }
  if (slots_[i].row == kEmpty) return;
  // Backward shift: pull later slots of the same probe run into the hole.
  size_t j = i;
  while (true) {
    j = (j + 1) & mask();
    if (slots_[j].row == kEmpty) break;
    const size_t home = slots_[j].tag & mask();
    // The slot at j may stay if its home lies cyclically in (i, j].
    const bool stays =
        i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (stays) continue;
    slots_[i] = slots_[j];
    i = j;
  }
  slots_[i] = Slot{};
  --size_;
}

void RowTable::Rehash(size_t slot_count) {
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.assign(slot_count, Slot{});
  for (const Slot& s : old) {
    if (s.row == kEmpty) continue;
    size_t i = s.tag & mask();
    while (slots_[i].row != kEmpty) i = (i + 1) & mask();
    slots_[i] = s;
  }
}

void RowTable::Reserve(size_t n) {
  size_t slots = slots_.empty() ? 16 : slots_.size();
  while (!Fits(n, slots)) slots *= 2;
  if (slots != slots_.size()) Rehash(slots);
}

void RowTable::Save(ArchiveWriter& out) const { out.Vector(slots_); }

bool RowTable::Load(ArchiveReader& in) {
  if (!in.Vector(&slots_)) return false;
  size_ = 0;
  for (const Slot& s : slots_) size_ += s.row != kEmpty;
  // A power of two, never fuller than Fits allows: every probe meets an
  // empty slot.
  return slots_.empty() ||
         (std::has_single_bit(slots_.size()) && Fits(size_, slots_.size()));
}

}  // namespace segd
