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
// Positions are compared 32 or 64 at a time, without a branch on the text
// (a longer needle's first 16 bytes, then the rest where those match): a
// substring that most values hold costs no more than a rare one.
void MarkMatchStarts(const char* text, size_t size, std::string_view needle,
                     uint64_t* starts);
// One word more than the starts themselves: MarkValuesHolding reads whole
// words at any byte.
inline size_t MatchStartWords(size_t size) { return size / 64 + 2; }

// For values i in [0, count), each text[offsets[i] - base,
// offsets[i + 1] - base) of the text marked by MarkMatchStarts: sets bit i
// of `held` when the needle (`needle_size` bytes) starts inside the value
// and ends inside it too. No branch depends on whether a value holds it.
void MarkValuesHolding(const uint32_t* offsets, size_t count, uint32_t base,
                       size_t needle_size, const uint64_t* starts,
                       uint64_t* held);

}  // namespace segd

#endif  // SEGD_INDEX_SUBSTRING_H_
