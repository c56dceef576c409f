// BlobPage: memory for encoded profiles, shared by the store that writes
// profiles into it and the index layers that read them, and returned to the
// system when the last of them lets go.
//
// A live database (live/database.h) replaces profiles while readers still
// hold layers that view the old bytes, so no single owner can free a page.
// Each holder pins it instead: the store while a current profile lies in
// it, each layer while one of its blobs does. A layer finds the pages of
// its blobs from their addresses alone (Of): pages are aligned to kBytes
// and listed in a process-wide directory by kBytes granule.
//
// Threading: Allocate, Of, Pin and Unpin may be called from any thread; the
// last Unpin frees the page, on whichever thread makes it. The bytes used and
// the store's live bytes are each written by one thread (the one filling
// the page; the store's) and read from any, as an estimate.
#ifndef SEGD_INDEX_BLOB_PAGE_H_
#define SEGD_INDEX_BLOB_PAGE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace segd {

class BlobPage {
 public:
  // A page's size and alignment; a page for one larger blob is a multiple.
  static constexpr size_t kBytes = size_t{4} << 20;
  static constexpr uint32_t kNoSlot = std::numeric_limits<uint32_t>::max();

  // A page of at least `bytes`, pinned once for the caller. Its memory is
  // the kernel's zeroed pages, asked for as huge pages.
  static BlobPage* Allocate(size_t bytes);
  // The page holding the byte at `p`. REQUIRES: that page is pinned.
  static BlobPage* Of(const char* p);
  // Bytes of every page not yet freed, in this process.
  static size_t allocated_bytes();

  BlobPage(const BlobPage&) = delete;
  BlobPage& operator=(const BlobPage&) = delete;

  char* data() const { return data_; }
  size_t size() const { return size_; }

  void Pin() { pins_.fetch_add(1, std::memory_order_relaxed); }
  // The last unpin frees the page.
  void Unpin();
  // Faults the page's memory in (writes a zero to each 4 KiB of it), so
  // that its first writer does not. REQUIRES: nothing is written yet.
  void Prefault();

  // Bytes filled from the start: set by the one thread filling the page,
  // read by any.
  size_t used() const { return used_.load(std::memory_order_relaxed); }
  void set_used(size_t bytes) { used_.store(bytes, std::memory_order_relaxed); }
  // The holding store's number for the page (BlobArena), or kNoSlot; the
  // store's business alone.
  uint32_t slot() const { return slot_; }
  void set_slot(uint32_t slot) { slot_ = slot; }
  // Bytes of the page that hold the store's current profiles.
  uint64_t live_bytes() const {
    return live_bytes_.load(std::memory_order_relaxed);
  }
  void set_live_bytes(uint64_t bytes) {
    live_bytes_.store(bytes, std::memory_order_relaxed);
  }

 private:
  BlobPage(char* data, size_t size) : data_(data), size_(size) {}
  ~BlobPage() = default;

  char* const data_;
  const size_t size_;
  uint32_t slot_ = kNoSlot;
  std::atomic<uint32_t> pins_{1};
  std::atomic<size_t> used_{0};
  std::atomic<uint64_t> live_bytes_{0};
};

// Unpins a page: a pin held as a unique_ptr.
struct PageUnpin {
  void operator()(BlobPage* page) const { page->Unpin(); }
};
using PageRef = std::unique_ptr<BlobPage, PageUnpin>;

// The pages a set of blobs lies in, each pinned once while this lives.
class PagePins {
 public:
  PagePins() = default;
  PagePins(const PagePins&) = delete;
  PagePins& operator=(const PagePins&) = delete;
  PagePins(PagePins&& other) noexcept
      : pages_(std::move(other.pages_)), seen_(std::move(other.seen_)) {}
  PagePins& operator=(PagePins&& other) noexcept;
  ~PagePins() { Clear(); }

  // Pins the page of the byte at `p`, unless already pinned here.
  // REQUIRES: someone else pins it meanwhile (the blob is alive).
  void Add(const char* p);
  // Takes over one pin of `page` that the caller held.
  // REQUIRES: not pinned here yet.
  void Adopt(BlobPage* page) {
    pages_.push_back(page);
    if (!seen_.empty()) seen_.insert(page);
  }
  void Clear();
  size_t size() const { return pages_.size(); }

 private:
  // Past this many pages, a set finds the ones already pinned.
  static constexpr size_t kFewPages = 16;
  std::vector<BlobPage*> pages_;  // distinct
  std::unordered_set<BlobPage*> seen_;
};

// Copies blobs end to end into pages of its own, `fill` bytes a page (a
// larger blob gets a page to itself), and pins those pages while it lives.
class BlobPacker {
 public:
  explicit BlobPacker(size_t fill) : fill_(fill) {}
  // The copy of `blob`, valid while this or another pin holds its page.
  std::string_view Copy(std::string_view blob);

 private:
  size_t fill_;
  BlobPage* current_ = nullptr;
  PagePins pages_;
};

}  // namespace segd

#endif  // SEGD_INDEX_BLOB_PAGE_H_
