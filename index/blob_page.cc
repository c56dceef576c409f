#include "index/blob_page.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace segd {
namespace {

// The directory: the page of each kBytes granule of the address space
// (user space is below 2^47 on Linux), two levels so that only the
// granules in use cost memory. Leaves are never freed, like a page table.
constexpr int kAddressBits = 47;
constexpr int kGranuleShift = 22;
static_assert(BlobPage::kBytes == size_t{1} << kGranuleShift);
constexpr int kLeafBits = 13;
constexpr size_t kLeafSize = size_t{1} << kLeafBits;
constexpr size_t kTopSize = size_t{1}
                            << (kAddressBits - kGranuleShift - kLeafBits);

struct Leaf {
  std::atomic<BlobPage*> pages[kLeafSize];
};
std::atomic<Leaf*> directory[kTopSize];
std::atomic<size_t> allocated{0};

std::atomic<BlobPage*>& Entry(uintptr_t address) {
  const uintptr_t granule = address >> kGranuleShift;
  std::atomic<Leaf*>& top = directory[granule >> kLeafBits];
  Leaf* leaf = top.load(std::memory_order_acquire);
  if (leaf == nullptr) {
    Leaf* fresh = new Leaf{};
    if (top.compare_exchange_strong(leaf, fresh, std::memory_order_acq_rel)) {
      leaf = fresh;
    } else {
      delete fresh;
    }
  }
  return leaf->pages[granule & (kLeafSize - 1)];
}

void Register(char* data, size_t size, BlobPage* page) {
  for (size_t at = 0; at < size; at += BlobPage::kBytes) {
    Entry(reinterpret_cast<uintptr_t>(data) + at)
        .store(page, std::memory_order_release);
  }
}

}  // namespace

BlobPage* BlobPage::Allocate(size_t bytes) {
  const size_t size =
      std::max<size_t>((bytes + kBytes - 1) / kBytes * kBytes, kBytes);
  // Twice the size from the kernel, then all but an aligned page returned.
  void* mapped = mmap(nullptr, size + kBytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapped == MAP_FAILED) throw std::bad_alloc();
  const uintptr_t start = reinterpret_cast<uintptr_t>(mapped);
  const uintptr_t aligned = (start + kBytes - 1) & ~(uintptr_t{kBytes} - 1);
  if (aligned > start) munmap(mapped, aligned - start);
  const uintptr_t end = start + size + kBytes;
  if (end > aligned + size) {
    munmap(reinterpret_cast<void*>(aligned + size), end - aligned - size);
  }
  char* data = reinterpret_cast<char*>(aligned);
  if ((aligned + size) >> kAddressBits != 0) {  // past the directory's reach
    munmap(data, size);
    throw std::bad_alloc();
  }
  // Fewer, cheaper page faults as the page fills; a hint the kernel may
  // ignore.
  madvise(data, size, MADV_HUGEPAGE);
  auto* page = new BlobPage(data, size);
  Register(data, size, page);
  allocated.fetch_add(size, std::memory_order_relaxed);
  return page;
}

BlobPage* BlobPage::Of(const char* p) {
  return Entry(reinterpret_cast<uintptr_t>(p)).load(std::memory_order_acquire);
}

size_t BlobPage::allocated_bytes() {
  return allocated.load(std::memory_order_relaxed);
}

void BlobPage::Prefault() {
  constexpr size_t kSmallPage = 4096;
  volatile char* const bytes = data_;
  for (size_t at = 0; at < size_; at += kSmallPage) bytes[at] = 0;
}

void BlobPage::Unpin() {
  if (pins_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  Register(data_, size_, nullptr);
  munmap(data_, size_);
  allocated.fetch_sub(size_, std::memory_order_relaxed);
  delete this;
}

PagePins& PagePins::operator=(PagePins&& other) noexcept {
  if (this != &other) {
    Clear();
    pages_ = std::move(other.pages_);
    seen_ = std::move(other.seen_);
  }
  return *this;
}

void PagePins::Add(const char* p) {
  BlobPage* page = BlobPage::Of(p);
  // Blobs come in runs from the same page: the last one is checked first.
  if (!pages_.empty() && pages_.back() == page) return;
  if (pages_.size() < kFewPages) {
    if (std::find(pages_.begin(), pages_.end(), page) != pages_.end()) return;
  } else {
    if (seen_.empty()) seen_.insert(pages_.begin(), pages_.end());
    if (!seen_.insert(page).second) return;
  }
  page->Pin();
  pages_.push_back(page);
}

std::string_view BlobPacker::Copy(std::string_view blob) {
  if (blob.empty()) return {};
  if (current_ == nullptr || current_->used() + blob.size() > fill_) {
    current_ = BlobPage::Allocate(std::max(fill_, blob.size()));
    pages_.Adopt(current_);
  }
  char* at = current_->data() + current_->used();
  std::memcpy(at, blob.data(), blob.size());
  current_->set_used(current_->used() + blob.size());
  return std::string_view(at, blob.size());
}

void PagePins::Clear() {
  for (BlobPage* page : pages_) page->Unpin();
  pages_.clear();
  seen_.clear();
}

}  // namespace segd
