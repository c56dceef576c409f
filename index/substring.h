// Substring search over long texts, such as a dictionary's concatenated
// values, picked at run time for the CPU like the word kernels.
#ifndef SEGD_INDEX_SUBSTRING_H_
#define SEGD_INDEX_SUBSTRING_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace segd {

// Sets bit p of `starts`, for each p where `needle` (not empty) starts
// within text[0, size), and clears the others. `starts` holds
// MatchStartWords(size) words.
//
// Every position is compared in full, 32 or 64 at a time, without a branch
// on the text: a substring that most values hold costs no more than a rare
// one.
void MarkMatchStarts(const char* text, size_t size, std::string_view needle,
                     uint64_t* starts);
inline size_t MatchStartWords(size_t size) { return size / 64 + 1; }

}  // namespace segd

#endif  // SEGD_INDEX_SUBSTRING_H_
