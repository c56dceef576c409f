#include "index/blob_arena.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <new>
#include <system_error>
#include <utility>

namespace segd {

BlobArena::~BlobArena() {
  DropPageAhead();
  for (BlobPage* page : pages_) {
    if (page != nullptr) page->Unpin();
  }
}

void BlobArena::Swap(BlobArena& other) noexcept {
  std::swap(refs_, other.refs_);
  std::swap(pages_, other.pages_);
  std::swap(free_numbers_, other.free_numbers_);
  std::swap(filling_, other.filling_);
  std::swap(page_fill_, other.page_fill_);
  std::swap(held_, other.held_);
  std::swap(live_, other.live_);
  std::swap(sparse_, other.sparse_);
  std::swap(pages_ahead_, other.pages_ahead_);
  std::swap(page_ahead_, other.page_ahead_);
}

void BlobArena::set_page_fill(size_t bytes) {
  page_fill_ = std::clamp<size_t>(bytes, 1, BlobPage::kBytes);
}

bool BlobArena::IsSparse(const BlobPage& page) const {
  return page.slot() != filling_ && IsSparse(page, page_fill_);
}

uint32_t BlobArena::Hold(BlobPage* page) {
  uint32_t number;
  if (free_numbers_.empty()) {
    number = static_cast<uint32_t>(pages_.size());
    pages_.push_back(page);
  } else {
    number = free_numbers_.back();
    free_numbers_.pop_back();
    pages_[number] = page;
  }
  page->set_slot(number);
  held_ += page->size();
  if (IsSparse(*page)) sparse_ += page->used();
  return number;
}

void BlobArena::AddLive(uint32_t number, size_t bytes) {
  BlobPage& page = *pages_[number];
  const bool was_sparse = IsSparse(page);
  page.set_live_bytes(page.live_bytes() + bytes);
  live_ += bytes;
  if (was_sparse && !IsSparse(page)) sparse_ -= page.used();
}

void BlobArena::DropLive(uint32_t number, size_t bytes) {
  BlobPage& page = *pages_[number];
  const bool was_sparse = IsSparse(page);
  page.set_live_bytes(page.live_bytes() - bytes);
  live_ -= bytes;
  const bool sparse = IsSparse(page);
  if (sparse != was_sparse) {
    sparse ? sparse_ += page.used() : sparse_ -= page.used();
  }
  if (page.live_bytes() == 0 && number != filling_) LetGo(number);
}

void BlobArena::LetGo(uint32_t number) {
  // No current blob lies here: freed once the layers that still view the
  // page are gone.
  BlobPage& page = *pages_[number];
  if (IsSparse(page)) sparse_ -= page.used();
  held_ -= page.size();
  page.set_slot(kNone);
  pages_[number] = nullptr;
  free_numbers_.push_back(number);
  page.Unpin();
}

void BlobArena::Retire(uint32_t number) {
  BlobPage& page = *pages_[number];
  if (IsSparse(page)) sparse_ += page.used();
  if (page.live_bytes() == 0) LetGo(number);
}

void BlobArena::set_pages_ahead(bool on) {
  pages_ahead_ = on;
  if (!on) DropPageAhead();
}

void BlobArena::DropPageAhead() {
  if (!page_ahead_.valid()) return;
  if (BlobPage* page = page_ahead_.get()) page->Unpin();
}

BlobPage* BlobArena::NextPage() {
  BlobPage* page = page_ahead_.valid() ? page_ahead_.get() : nullptr;
  if (page == nullptr) page = BlobPage::Allocate(page_fill_);
  if (!pages_ahead_) return page;
  try {
    page_ahead_ = std::async(std::launch::async, []() -> BlobPage* {
      try {
        BlobPage* next = BlobPage::Allocate(BlobPage::kBytes);
        next->Prefault();
        return next;
      } catch (const std::bad_alloc&) {
        return nullptr;  // the writer allocates its own, and fails there
      }
    });
  } catch (const std::system_error&) {
    pages_ahead_ = false;  // no thread to be had: pages as they are needed
  }
  return page;
}

void BlobArena::Set(uint32_t row, std::string_view blob) {
  if (row == refs_.size()) refs_.emplace_back();
  const Placed old = refs_[row];
  refs_[row] = Placed{};
  uint32_t retired = kNone;
  if (!blob.empty()) {
    BlobPage* page = filling_ == kNone ? nullptr : pages_[filling_];
    if (page == nullptr || page->used() + blob.size() > page_fill_) {
      retired = filling_;
      page = blob.size() <= page_fill_ ? NextPage()
                                       : BlobPage::Allocate(blob.size());
      filling_ = Hold(page);
    }
    const size_t offset = page->used();
    std::memcpy(page->data() + offset, blob.data(), blob.size());
    page->set_used(offset + blob.size());
    AddLive(filling_, blob.size());
    refs_[row] = Placed{filling_, static_cast<uint32_t>(offset),
                        static_cast<uint32_t>(blob.size())};
  }
  if (retired != kNone) Retire(retired);
  // The old blob is let go after the new one is copied: they may be one.
  if (old.size > 0) DropLive(old.page, old.size);
}

void BlobArena::Clear(uint32_t row) {
  const Placed old = refs_[row];
  refs_[row] = Placed{};
  if (old.size > 0) DropLive(old.page, old.size);
}

void BlobArena::Repoint(uint32_t row, std::string_view copy) {
  const Placed old = refs_[row];
  assert(old.size == copy.size() &&
         std::memcmp(Get(row).data(), copy.data(), copy.size()) == 0);
  BlobPage* page = BlobPage::Of(copy.data());
  uint32_t number = page->slot();
  if (number == kNone) {
    page->Pin();
    number = Hold(page);
  }
  if (number == old.page) return;
  refs_[row] = Placed{number, static_cast<uint32_t>(copy.data() - page->data()),
                      old.size};
  AddLive(number, old.size);
  DropLive(old.page, old.size);
}

uint32_t BlobArena::AdoptPage(BlobPage* page) { return Hold(page); }

void BlobArena::Restore(std::vector<Placed> rows) {
  refs_ = std::move(rows);
  for (const Placed& r : refs_) {
    if (r.size > 0) AddLive(r.page, r.size);
  }
  for (uint32_t number = 0; number < pages_.size(); ++number) {
    if (pages_[number] != nullptr && pages_[number]->live_bytes() == 0) {
      LetGo(number);
    }
  }
}

bool BlobArena::CountsAgree() const {
  std::vector<size_t> live(pages_.size(), 0);
  size_t all_live = 0;
  for (const Placed& r : refs_) {
    if (r.size == 0) continue;
    if (r.page >= pages_.size() || pages_[r.page] == nullptr ||
        r.offset + r.size > pages_[r.page]->used()) {
      return false;
    }
    live[r.page] += r.size;
    all_live += r.size;
  }
  size_t held = 0, sparse = 0;
  for (uint32_t number = 0; number < pages_.size(); ++number) {
    const BlobPage* page = pages_[number];
    if (page == nullptr) continue;
    if (page->slot() != number || page->live_bytes() != live[number]) {
      return false;
    }
    if (live[number] == 0 && number != filling_) return false;
    held += page->size();
    if (number != filling_ && IsSparse(*page, page_fill_)) {
      sparse += page->used();
    }
  }
  return all_live == live_ && held == held_ && sparse == sparse_;
}

size_t BlobArena::MemoryBytes() const {
  return refs_.capacity() * sizeof(Placed) +
         pages_.capacity() * sizeof(pages_[0]) +
         free_numbers_.capacity() * sizeof(uint32_t) + held_;
}

}  // namespace segd
