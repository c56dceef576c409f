#include "index/blob_arena.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace segd {

void BlobArena::Set(uint32_t row, std::string_view blob) {
  if (row == refs_.size()) refs_.emplace_back();
  Placed& ref = refs_[row];
  garbage_ += ref.size;
  if (pages_.empty() || used_ + blob.size() > page_sizes_.back()) {
    const size_t bytes = std::max(kPageBytes, blob.size());
    pages_.push_back(std::make_unique_for_overwrite<char[]>(bytes));
    page_sizes_.push_back(bytes);
    used_ = 0;
  }
  if (!blob.empty())
    std::memcpy(pages_.back().get() + used_, blob.data(), blob.size());
  ref.page = static_cast<uint32_t>(pages_.size() - 1);
  ref.offset = static_cast<uint32_t>(used_);
  ref.size = static_cast<uint32_t>(blob.size());
  used_ += blob.size();
}

void BlobArena::Clear(uint32_t row) {
  garbage_ += refs_[row].size;
  refs_[row] = Placed{};
}

uint32_t BlobArena::AdoptPage(std::unique_ptr<char[]> bytes, size_t size) {
  pages_.push_back(std::move(bytes));
  page_sizes_.push_back(size);
  used_ = size;  // the next Set starts a page of its own
  garbage_ += size;
  return static_cast<uint32_t>(pages_.size() - 1);
}

void BlobArena::Restore(std::vector<Placed> rows) {
  refs_ = std::move(rows);
  for (const Placed& r : refs_) garbage_ -= r.size;
}

size_t BlobArena::MemoryBytes() const {
  size_t bytes = refs_.capacity() * sizeof(Placed) +
                 pages_.capacity() * sizeof(pages_[0]) +
                 page_sizes_.capacity() * sizeof(size_t);
  for (size_t s : page_sizes_) bytes += s;
  return bytes;
}

}  // namespace segd
