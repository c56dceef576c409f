// BlobArena: the encoded profiles of a store, one per row, packed end to end
// in pages that never move (index/blob_page.h).
//
// A blob costs its bytes and a 12-byte reference, where a std::string per
// row would add 32 bytes of string, an allocator header and rounding: some
// 50 bytes a profile. Replacing a blob appends the new one; the old bytes
// stay where they are, since readers (a live database's layers) may still
// view them. The arena counts, per page, the bytes its current blobs use,
// and lets go of a page once none does: the page is freed when the layers
// that pinned it let go too. A page mostly unused is freed sooner by
// Repoint, which moves its rows to copies made elsewhere (a merge's).
//
// Views stay valid until their row is set again or cleared, or longer
// while a pin holds their page.
//
// Threading: one thread at a time. The pages' live byte counts may be read
// from others (BlobPage::live_bytes). With pages made ready ahead, the
// arena runs a thread of its own for each (set_pages_ahead).
#ifndef SEGD_INDEX_BLOB_ARENA_H_
#define SEGD_INDEX_BLOB_ARENA_H_

#include <algorithm>
#include <cstdint>
#include <future>
#include <string_view>
#include <utility>
#include <vector>

#include "base/prefetch.h"
#include "index/blob_page.h"

namespace segd {

class BlobArena {
 public:
  // Where a row's blob lies.
  struct Placed {
    uint32_t page = 0;  // the arena's number for the page
    uint32_t offset = 0;
    uint32_t size = 0;  // 0: the row holds nothing
  };

  BlobArena() = default;
  BlobArena(const BlobArena&) = delete;
  BlobArena& operator=(const BlobArena&) = delete;
  BlobArena(BlobArena&& other) noexcept { Swap(other); }
  BlobArena& operator=(BlobArena&& other) noexcept {
    BlobArena gone;
    gone.Swap(other);
    Swap(gone);
    return *this;
  }
  ~BlobArena();

  // Bytes filled in a page before the next is started (at most
  // BlobPage::kBytes; tests make it small to see pages come and go).
  void set_page_fill(size_t bytes);
  size_t page_fill() const { return page_fill_; }
  // Whether the next page to fill is made ready on a thread of its own
  // while this one fills: allocated and faulted in, so that the thread
  // storing blobs (a load's writer, a live database's) does not wait on
  // the kernel zeroing it. It costs a page held ahead, and a thread
  // started for each page.
  void set_pages_ahead(bool on);

  uint32_t size() const { return static_cast<uint32_t>(refs_.size()); }
  std::string_view Get(uint32_t row) const {
    const Placed& r = refs_[row];
    if (r.size == 0) return {};
    return std::string_view(pages_[r.page]->data() + r.offset, r.size);
  }
  // Start loading where row's blob lies, and then (once that is loaded)
  // its first bytes: for a Get soon.
  void PrefetchPlace(uint32_t row) const { Prefetch(&refs_[row]); }
  // Loads ahead the first cache line of row's blob, or (`whole`) each of
  // the lines of its first kWholePrefetchBytes: PrefetchLines.
  void PrefetchBlob(uint32_t row, bool whole = false) const {
    const auto [first, end] = PrefetchLines(row, whole);
    for (uintptr_t line = first; line < end; line += kLineBytes) {
      Prefetch(reinterpret_cast<const void*>(line));
    }
  }
  // The lines PrefetchBlob loads, as LinesOf gives them (none when the row
  // holds nothing).
  std::pair<uintptr_t, uintptr_t> PrefetchLines(uint32_t row,
                                                bool whole) const {
    const Placed& r = refs_[row];
    if (r.size == 0) return {0, 0};
    return LinesOf(
        reinterpret_cast<uintptr_t>(pages_[r.page]->data() + r.offset),
        whole ? std::min(r.size, kWholePrefetchBytes) : 1);
  }
  static constexpr uint32_t kWholePrefetchBytes = 2048;
  static constexpr uintptr_t kLineBytes = 64;
  // The cache lines holding `bytes` bytes (at least 1) from address `at`:
  // the first line's address, and the end of the last.
  static std::pair<uintptr_t, uintptr_t> LinesOf(uintptr_t at, uint32_t bytes) {
    return {at & ~(kLineBytes - 1),
            (at + bytes + kLineBytes - 1) & ~(kLineBytes - 1)};
  }
  // Room for `rows` rows without growing the row space; at least twice the
  // room held, so that reserving a little at a time still grows it by
  // doubling.
  void Reserve(uint32_t rows) {
    if (rows > refs_.capacity()) {
      refs_.reserve(std::max<size_t>(rows, 2 * refs_.capacity()));
    }
  }
  // Stores `blob` at `row`, which is an existing row or size() (a new one).
  void Set(uint32_t row, std::string_view blob);
  // Row `row` holds nothing from now on.
  void Clear(uint32_t row);
  // Row `row` reads its blob from `copy` from now on: the same bytes, in a
  // page that another holder (a layer) pins. The arena pins that page too
  // while one of its rows lies there. REQUIRES: copy equals Get(row), and
  // its page is filled no further.
  void Repoint(uint32_t row, std::string_view copy);

  // Restoring (a snapshot): pages read whole, then the row space, each row
  // holding a blob of one of those pages or nothing. AdoptPage takes over
  // the caller's pin of `page`, whose used() bytes are filled, and gives
  // its number. REQUIRES: an empty arena; each row's blob lies in its page.
  uint32_t AdoptPage(BlobPage* page);
  void Restore(std::vector<Placed> rows);

  // Bytes of the pages held.
  size_t MemoryBytes() const;
  // Bytes of the current blobs.
  size_t live_bytes() const { return live_; }
  // Bytes filled in the pages held that current blobs use less than half
  // of (all but the page being filled): what copying their rows elsewhere
  // would free, once the layers viewing them are gone.
  size_t sparse_bytes() const { return sparse_; }
  // Whether current blobs use less than half of `page`, filled `fill`
  // bytes a page (or more, for one larger blob): from any thread, an
  // estimate while the store's thread writes.
  static bool IsSparse(const BlobPage& page, size_t fill) {
    return page.live_bytes() * 2 < std::max(page.used(), fill);
  }
  // Counts everything above again from the rows and the pages, and checks
  // that no page is held for nothing: the slow twin of the counters.
  bool CountsAgree() const;

 private:
  void Swap(BlobArena& other) noexcept;
  bool IsSparse(const BlobPage& page) const;
  // Pages held by number; the number given to a page held anew.
  uint32_t Hold(BlobPage* page);
  void AddLive(uint32_t number, size_t bytes);
  void DropLive(uint32_t number, size_t bytes);
  // The page held as `number` is filled no further.
  void Retire(uint32_t number);
  // The page held as `number`, used by no current blob, is held no longer.
  void LetGo(uint32_t number);
  // A page of page_fill_ bytes to fill, the one made ready ahead if any.
  BlobPage* NextPage();
  // Lets go of the page ahead, if any, waiting for it.
  void DropPageAhead();

  static constexpr uint32_t kNone = BlobPage::kNoSlot;
  std::vector<Placed> refs_;      // by row
  std::vector<BlobPage*> pages_;  // by number; null when let go
  std::vector<uint32_t> free_numbers_;
  uint32_t filling_ = kNone;  // the page new blobs go to
  size_t page_fill_ = BlobPage::kBytes;
  size_t held_ = 0;  // bytes of the pages held
  size_t live_ = 0;
  size_t sparse_ = 0;
  bool pages_ahead_ = false;
  // Pinned once for the arena; null when it could not be allocated.
  std::future<BlobPage*> page_ahead_;
};

}  // namespace segd

#endif  // SEGD_INDEX_BLOB_ARENA_H_
