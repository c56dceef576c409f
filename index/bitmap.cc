#include "index/bitmap.h"

#include <roaring/containers/containers.h>
#include <roaring/containers/convert.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace segd {
namespace {

// The container holding shard `shard`, unwrapped from copy-on-write sharing;
// nullptr when the bitmap has no rows there.
const void* FindContainer(const roaring_bitmap_t* bitmap, uint32_t shard,
                          uint8_t* typecode) {
  const roaring_array_t& ra = bitmap->high_low_container;
  const uint16_t* begin = ra.keys;
  const uint16_t* end = ra.keys + ra.size;
  const uint16_t* it =
      std::lower_bound(begin, end, static_cast<uint16_t>(shard));
  if (it == end || *it != shard || shard > 0xFFFF) return nullptr;
  const size_t i = static_cast<size_t>(it - begin);
  const void* c = ra.containers[i];
  uint8_t type = ra.typecodes[i];
  if (type == SHARED_CONTAINER_TYPE_CODE) {
    const auto* shared = static_cast<const shared_container_t*>(c);
    c = shared->container;
    type = shared->typecode;
  }
  *typecode = type;
  return c;
}

void SetRange(uint64_t* words, uint32_t start, uint32_t end_inclusive) {
  uint32_t first_word = start >> 6, last_word = end_inclusive >> 6;
  const uint64_t first_mask = ~uint64_t{0} << (start & 63);
  const uint64_t last_mask = ~uint64_t{0} >> (63 - (end_inclusive & 63));
  if (first_word == last_word) {
    words[first_word] |= first_mask & last_mask;
    return;
  }
  words[first_word] |= first_mask;
  for (uint32_t w = first_word + 1; w < last_word; ++w) words[w] = ~uint64_t{0};
  words[last_word] |= last_mask;
}

// words |= the container's rows below `row_end` (a multiple of 64); the
// words from row_end on are left as they are.
void OrContainer(const void* c, uint8_t type, uint64_t* words,
                 uint32_t row_end = kShardRows) {
  switch (type) {
    case BITSET_CONTAINER_TYPE_CODE: {
      const uint64_t* src = static_cast<const bitset_container_t*>(c)->array;
      if (row_end == kShardRows) {
        OrWords(words, src);  // the vector kernel
      } else {
        for (uint32_t w = 0; w < row_end / 64; ++w) words[w] |= src[w];
      }
      break;
    }
    case ARRAY_CONTAINER_TYPE_CODE: {
      const auto* a = static_cast<const array_container_t*>(c);
      for (int32_t i = 0; i < a->cardinality && a->array[i] < row_end; ++i) {
        SetBit(words, a->array[i]);
      }
      break;
    }
    case RUN_CONTAINER_TYPE_CODE: {
      const auto* r = static_cast<const run_container_t*>(c);
      for (int32_t i = 0; i < r->n_runs && r->runs[i].value < row_end; ++i) {
        const uint32_t last =
            static_cast<uint32_t>(r->runs[i].value) + r->runs[i].length;
        SetRange(words, r->runs[i].value, std::min(last, row_end - 1));
      }
      break;
    }
  }
}

}  // namespace

// The word kernels come in versions for several instruction sets; the best
// one this CPU has is picked once, at first use, with __builtin_cpu_supports
// (never -march=native: the binary runs anywhere x86-64 does). Debian's
// CRoaring is a generic build whose bit counts are software loops, and so is
// std::popcount without -mpopcnt: these are ours to run at memory speed.
namespace {

template <typename Op>
inline void Combine(uint64_t* __restrict dst, const uint64_t* __restrict src,
                    Op op) {
  for (size_t i = 0; i < kShardWords; ++i) dst[i] = op(dst[i], src[i]);
}

struct WordKernels {
  void (*and_words)(uint64_t*, const uint64_t*);
  void (*and_not_words)(uint64_t*, const uint64_t*);
  void (*or_words)(uint64_t*, const uint64_t*);
  uint64_t (*count_words)(const uint64_t*);
  uint64_t (*and_count_words)(const uint64_t*, const uint64_t*);
  void (*bytes_in_range)(const uint8_t*, uint8_t, uint8_t, uint64_t*);
  // ids_in_range over whole words of 64 ids.
  void (*ids_in_range)(const uint32_t*, size_t, uint32_t, uint32_t, uint64_t*);
};

void AndGeneric(uint64_t* dst, const uint64_t* src) {
  Combine(dst, src, [](uint64_t a, uint64_t b) { return a & b; });
}
void AndNotGeneric(uint64_t* dst, const uint64_t* src) {
  Combine(dst, src, [](uint64_t a, uint64_t b) { return a & ~b; });
}
void OrGeneric(uint64_t* dst, const uint64_t* src) {
  Combine(dst, src, [](uint64_t a, uint64_t b) { return a | b; });
}
uint64_t CountGeneric(const uint64_t* words) {
  uint64_t n = 0;
  for (size_t i = 0; i < kShardWords; ++i) n += std::popcount(words[i]);
  return n;
}
uint64_t AndCountGeneric(const uint64_t* a, const uint64_t* b) {
  uint64_t n = 0;
  for (size_t i = 0; i < kShardWords; ++i) n += std::popcount(a[i] & b[i]);
  return n;
}

// In range as unsigned bytes: b - lo <= hi - lo, wrapping.
void BytesInRangeGeneric(const uint8_t* bytes, uint8_t lo, uint8_t hi,
                         uint64_t* words) {
  const uint8_t span = static_cast<uint8_t>(hi - lo);
  for (size_t w = 0; w < kShardWords; ++w) {
    uint64_t bits = 0;
    for (int j = 0; j < 64; ++j) {
      const uint8_t x = static_cast<uint8_t>(bytes[w * 64 + j] - lo);
      bits |= static_cast<uint64_t>(x <= span) << j;
    }
    words[w] = bits;
  }
}

// In range as unsigned ids: id - lo < width, wrapping. `words` whole
// words of 64 ids.
void IdsInRangeGeneric(const uint32_t* ids, size_t words, uint32_t lo,
                       uint32_t width, uint64_t* out) {
  for (size_t w = 0; w < words; ++w) {
    uint64_t bits = 0;
    for (int j = 0; j < 64; ++j) {
      bits |= static_cast<uint64_t>(ids[w * 64 + j] - lo < width) << j;
    }
    out[w] = bits;
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#define SEGD_TARGET(isa) __attribute__((target(isa)))

// 8 ids: x - lo <= last, as max(x - lo, last) == last. REQUIRES width > 0.
SEGD_TARGET("avx2")
inline uint64_t IdsInRangeMask8(const uint32_t* p, __m256i low, __m256i last) {
  const __m256i x = _mm256_sub_epi32(
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), low);
  const __m256i in = _mm256_cmpeq_epi32(_mm256_max_epu32(x, last), last);
  return static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(in)));
}
SEGD_TARGET("avx2")
void IdsInRangeAvx2(const uint32_t* ids, size_t words, uint32_t lo,
                    uint32_t width, uint64_t* out) {
  const __m256i low = _mm256_set1_epi32(static_cast<int>(lo));
  const __m256i last = _mm256_set1_epi32(static_cast<int>(width - 1));
  for (size_t w = 0; w < words; ++w) {
    uint64_t bits = 0;
    for (int j = 0; j < 8; ++j) {
      bits |= IdsInRangeMask8(ids + w * 64 + j * 8, low, last) << (j * 8);
    }
    out[w] = bits;
  }
}
SEGD_TARGET("avx512f")
void IdsInRangeAvx512(const uint32_t* ids, size_t words, uint32_t lo,
                      uint32_t width, uint64_t* out) {
  const __m512i low = _mm512_set1_epi32(static_cast<int>(lo));
  const __m512i span = _mm512_set1_epi32(static_cast<int>(width));
  for (size_t w = 0; w < words; ++w) {
    uint64_t bits = 0;
    for (int j = 0; j < 4; ++j) {
      const __m512i x =
          _mm512_sub_epi32(_mm512_loadu_si512(ids + w * 64 + j * 16), low);
      bits |= static_cast<uint64_t>(_mm512_cmplt_epu32_mask(x, span))
              << (j * 16);
    }
    out[w] = bits;
  }
}

SEGD_TARGET("avx2")
inline uint64_t InRangeMask32(const uint8_t* p, __m256i low, __m256i span) {
  const __m256i x = _mm256_sub_epi8(
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), low);
  const __m256i in = _mm256_cmpeq_epi8(_mm256_max_epu8(x, span), span);
  return static_cast<uint32_t>(_mm256_movemask_epi8(in));
}
SEGD_TARGET("avx2")
void BytesInRangeAvx2(const uint8_t* bytes, uint8_t lo, uint8_t hi,
                      uint64_t* words) {
  const __m256i low = _mm256_set1_epi8(static_cast<char>(lo));
  const __m256i span = _mm256_set1_epi8(static_cast<char>(hi - lo));
  for (size_t w = 0; w < kShardWords; ++w) {
    const uint8_t* p = bytes + w * 64;
    words[w] = InRangeMask32(p, low, span) | InRangeMask32(p + 32, low, span)
                                                 << 32;
  }
}
SEGD_TARGET("avx512f,avx512bw")
void BytesInRangeAvx512(const uint8_t* bytes, uint8_t lo, uint8_t hi,
                        uint64_t* words) {
  const __m512i low = _mm512_set1_epi8(static_cast<char>(lo));
  const __m512i span = _mm512_set1_epi8(static_cast<char>(hi - lo));
  for (size_t w = 0; w < kShardWords; ++w) {
    const __m512i x = _mm512_sub_epi8(_mm512_loadu_si512(bytes + w * 64), low);
    words[w] = _mm512_cmple_epu8_mask(x, span);
  }
}

SEGD_TARGET("avx2") void AndAvx2(uint64_t* dst, const uint64_t* src) {
  Combine(dst, src, [](uint64_t a, uint64_t b) { return a & b; });
}
SEGD_TARGET("avx2") void AndNotAvx2(uint64_t* dst, const uint64_t* src) {
  Combine(dst, src, [](uint64_t a, uint64_t b) { return a & ~b; });
}
SEGD_TARGET("avx2") void OrAvx2(uint64_t* dst, const uint64_t* src) {
  Combine(dst, src, [](uint64_t a, uint64_t b) { return a | b; });
}
SEGD_TARGET("popcnt") uint64_t CountPopcnt(const uint64_t* words) {
  // Four sums keep four POPCNTs in flight.
  uint64_t a = 0, b = 0, c = 0, d = 0;
  for (size_t i = 0; i < kShardWords; i += 4) {
    a += __builtin_popcountll(words[i]);
    b += __builtin_popcountll(words[i + 1]);
    c += __builtin_popcountll(words[i + 2]);
    d += __builtin_popcountll(words[i + 3]);
  }
  return a + b + c + d;
}
SEGD_TARGET("popcnt")
uint64_t AndCountPopcnt(const uint64_t* x, const uint64_t* y) {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  for (size_t i = 0; i < kShardWords; i += 4) {
    a += __builtin_popcountll(x[i] & y[i]);
    b += __builtin_popcountll(x[i + 1] & y[i + 1]);
    c += __builtin_popcountll(x[i + 2] & y[i + 2]);
    d += __builtin_popcountll(x[i + 3] & y[i + 3]);
  }
  return a + b + c + d;
}
SEGD_TARGET("avx512f,avx512vpopcntdq")
uint64_t AndCountAvx512(const uint64_t* x, const uint64_t* y) {
  __m512i sum = _mm512_setzero_si512();
  for (size_t i = 0; i < kShardWords; i += 8) {
    const __m512i both =
        _mm512_and_si512(_mm512_loadu_si512(x + i), _mm512_loadu_si512(y + i));
    sum = _mm512_add_epi64(sum, _mm512_popcnt_epi64(both));
  }
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, sum);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] +
         lanes[6] + lanes[7];
}
SEGD_TARGET("avx512f,avx512vpopcntdq")
uint64_t CountAvx512(const uint64_t* words) {
  __m512i sum = _mm512_setzero_si512();
  for (size_t i = 0; i < kShardWords; i += 8) {
    sum = _mm512_add_epi64(sum,
                           _mm512_popcnt_epi64(_mm512_loadu_si512(words + i)));
  }
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, sum);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] +
         lanes[6] + lanes[7];
}
#endif

// SEGD_KERNELS=generic|popcnt|avx2 caps the choice, so that tests can run
// every version on a machine that has them all.
WordKernels PickKernels() {
  WordKernels k{AndGeneric,       AndNotGeneric,   OrGeneric,
                CountGeneric,     AndCountGeneric, BytesInRangeGeneric,
                IdsInRangeGeneric};
#if defined(__x86_64__) && defined(__GNUC__)
  const char* cap_env = std::getenv("SEGD_KERNELS");
  const std::string_view cap = cap_env ? cap_env : "";
  if (cap == "generic") return k;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("popcnt")) {
    k.count_words = CountPopcnt;
    k.and_count_words = AndCountPopcnt;
  }
  if (cap == "popcnt") return k;
  if (__builtin_cpu_supports("avx2")) {
    k.and_words = AndAvx2;
    k.and_not_words = AndNotAvx2;
    k.or_words = OrAvx2;
    k.bytes_in_range = BytesInRangeAvx2;
    k.ids_in_range = IdsInRangeAvx2;
  }
  if (cap == "avx2") return k;
  if (__builtin_cpu_supports("avx512f") &&
      __builtin_cpu_supports("avx512vpopcntdq")) {
    k.count_words = CountAvx512;
    k.and_count_words = AndCountAvx512;
  }
  if (__builtin_cpu_supports("avx512f")) k.ids_in_range = IdsInRangeAvx512;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) {
    k.bytes_in_range = BytesInRangeAvx512;
  }
#endif
  return k;
}

const WordKernels& Kernels() {
  static const WordKernels kernels = PickKernels();
  return kernels;
}

}  // namespace

void ClearWords(uint64_t* words) {
  std::memset(words, 0, kShardWords * sizeof(uint64_t));
}
void FillWords(uint64_t* words) {
  std::memset(words, 0xFF, kShardWords * sizeof(uint64_t));
}
void CopyWords(uint64_t* dst, const uint64_t* src) {
  std::memcpy(dst, src, kShardWords * sizeof(uint64_t));
}
void AndWords(uint64_t* dst, const uint64_t* src) {
  Kernels().and_words(dst, src);
}
void AndNotWords(uint64_t* dst, const uint64_t* src) {
  Kernels().and_not_words(dst, src);
}
void OrWords(uint64_t* dst, const uint64_t* src) {
  Kernels().or_words(dst, src);
}
uint64_t CountWords(const uint64_t* words) {
  return Kernels().count_words(words);
}
uint64_t AndCountWords(const uint64_t* a, const uint64_t* b) {
  return Kernels().and_count_words(a, b);
}
void BytesInRangeWords(const uint8_t* bytes, uint8_t lo, uint8_t hi,
                       uint64_t* words) {
  Kernels().bytes_in_range(bytes, lo, hi, words);
}
void IdsInRangeWords(const uint32_t* ids, size_t count, uint32_t lo,
                     uint32_t width, uint64_t* words) {
  const size_t whole = count / 64, tail = count % 64;
  if (width == 0) {
    std::memset(words, 0, (whole + (tail != 0)) * sizeof(uint64_t));
    return;
  }
  Kernels().ids_in_range(ids, whole, lo, width, words);
  if (tail != 0) {
    uint64_t bits = 0;
    for (size_t j = 0; j < tail; ++j) {
      bits |= static_cast<uint64_t>(ids[whole * 64 + j] - lo < width) << j;
    }
    words[whole] = bits;
  }
}
bool AnyWords(const uint64_t* words) {
  uint64_t any = 0;
  for (size_t i = 0; i < kShardWords; ++i) any |= words[i];
  return any != 0;
}

void Bitmap::Optimize() {
  roaring_bitmap_run_optimize(bitmap_.get());
  roaring_bitmap_shrink_to_fit(bitmap_.get());
  DenseArraysToBitsets();
}

void Bitmap::DenseArraysToBitsets() {
  roaring_array_t& ra = bitmap_->high_low_container;
  for (int32_t i = 0; i < ra.size; ++i) {
    if (ra.typecodes[i] != ARRAY_CONTAINER_TYPE_CODE) continue;
    auto* array = static_cast<array_container_t*>(ra.containers[i]);
    if (array->cardinality < kDenseArrayRows) continue;
    ra.containers[i] = bitset_container_from_array(array);
    ra.typecodes[i] = BITSET_CONTAINER_TYPE_CODE;
    array_container_free(array);
  }
}

namespace {

// Whether a bitmap read from outside is well formed: CRoaring 0.2.66
// checks that the bytes parse, not what they say.
bool WellFormed(const roaring_bitmap_t* bitmap) {
  const roaring_array_t& ra = bitmap->high_low_container;
  for (int32_t i = 0; i < ra.size; ++i) {
    if (i > 0 && ra.keys[i] <= ra.keys[i - 1]) return false;
    const void* c = ra.containers[i];
    switch (ra.typecodes[i]) {
      case BITSET_CONTAINER_TYPE_CODE: {
        const auto* b = static_cast<const bitset_container_t*>(c);
        int32_t count = 0;
        for (size_t w = 0; w < kShardWords; ++w) {
          count += std::popcount(b->array[w]);
        }
        if (count != b->cardinality || count <= DEFAULT_MAX_SIZE) return false;
        break;
      }
      case ARRAY_CONTAINER_TYPE_CODE: {
        const auto* a = static_cast<const array_container_t*>(c);
        if (a->cardinality <= 0 || a->cardinality > DEFAULT_MAX_SIZE) {
          return false;
        }
        for (int32_t j = 1; j < a->cardinality; ++j) {
          if (a->array[j] <= a->array[j - 1]) return false;
        }
        break;
      }
      case RUN_CONTAINER_TYPE_CODE: {
        const auto* r = static_cast<const run_container_t*>(c);
        if (r->n_runs <= 0) return false;
        uint32_t next = 0;  // the first row a run may start at
        for (int32_t j = 0; j < r->n_runs; ++j) {
          const uint32_t start = r->runs[j].value;
          const uint32_t end = start + r->runs[j].length;  // inclusive
          if (start < next || end > 0xFFFF) return false;
          next = end + 2;  // runs neither overlap nor touch
        }
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

}  // namespace

void Bitmap::Save(ArchiveWriter& out) const {
  const roaring_bitmap_t* saved = bitmap_.get();
  std::unique_ptr<roaring_bitmap_t, RoaringDeleter> copy;
  const roaring_array_t& ra = saved->high_low_container;
  for (int32_t i = 0; i < ra.size; ++i) {
    if (ra.typecodes[i] == BITSET_CONTAINER_TYPE_CODE &&
        static_cast<const bitset_container_t*>(ra.containers[i])->cardinality <=
            DEFAULT_MAX_SIZE) {
      copy.reset(roaring_bitmap_copy(saved));
      roaring_bitmap_repair_after_lazy(copy.get());
      saved = copy.get();
      break;
    }
  }
  const size_t bytes = roaring_bitmap_portable_size_in_bytes(saved);
  std::string buffer(bytes, '\0');
  roaring_bitmap_portable_serialize(saved, buffer.data());
  out.LongBytes(buffer);
}

bool Bitmap::Load(ArchiveReader& in) {
  std::string buffer;
  if (!in.LongBytes(&buffer)) return false;
  roaring_bitmap_t* loaded =
      roaring_bitmap_portable_deserialize_safe(buffer.data(), buffer.size());
  if (loaded == nullptr) return false;
  bitmap_.reset(loaded);
  if (roaring_bitmap_portable_size_in_bytes(loaded) != buffer.size() ||
      !WellFormed(loaded)) {
    bitmap_.reset(roaring_bitmap_create());
    return false;
  }
  DenseArraysToBitsets();
  return true;
}

bool LoadShard(const roaring_bitmap_t* bitmap, uint32_t shard,
               uint64_t* words) {
  uint8_t type;
  const void* c = FindContainer(bitmap, shard, &type);
  if (c == nullptr) {
    ClearWords(words);
    return false;
  }
  if (type == BITSET_CONTAINER_TYPE_CODE) {
    CopyWords(words, static_cast<const bitset_container_t*>(c)->array);
  } else {
    ClearWords(words);
    OrContainer(c, type, words);
  }
  return true;
}

void OrShard(const roaring_bitmap_t* bitmap, uint32_t shard, uint64_t* words) {
  OrShardBelow(bitmap, shard, kShardRows, words);
}

void OrShardBelow(const roaring_bitmap_t* bitmap, uint32_t shard,
                  uint32_t row_end, uint64_t* words) {
  uint8_t type;
  const void* c = FindContainer(bitmap, shard, &type);
  if (c != nullptr) OrContainer(c, type, words, row_end);
}

void AndShard(const roaring_bitmap_t* bitmap, uint32_t shard, uint64_t* words) {
  uint8_t type;
  const void* c = FindContainer(bitmap, shard, &type);
  if (c == nullptr) {
    ClearWords(words);
    return;
  }
  if (type == BITSET_CONTAINER_TYPE_CODE) {
    AndWords(words, static_cast<const bitset_container_t*>(c)->array);
    return;
  }
  alignas(64) uint64_t tmp[kShardWords];
  ClearWords(tmp);
  OrContainer(c, type, tmp);
  AndWords(words, tmp);
}

uint64_t AndCountShard(const roaring_bitmap_t* bitmap, uint32_t shard,
                       const uint64_t* words) {
  uint8_t type;
  const void* c = FindContainer(bitmap, shard, &type);
  if (c == nullptr) return 0;
  switch (type) {
    case BITSET_CONTAINER_TYPE_CODE:
      return AndCountWords(words,
                           static_cast<const bitset_container_t*>(c)->array);
    case ARRAY_CONTAINER_TYPE_CODE: {
      const auto* a = static_cast<const array_container_t*>(c);
      uint64_t n = 0;
      for (int32_t i = 0; i < a->cardinality; ++i) {
        const uint16_t row = a->array[i];
        n += words[row >> 6] >> (row & 63) & 1;
      }
      return n;
    }
    case RUN_CONTAINER_TYPE_CODE: {
      const auto* r = static_cast<const run_container_t*>(c);
      alignas(64) uint64_t runs[kShardWords];
      ClearWords(runs);
      OrContainer(r, RUN_CONTAINER_TYPE_CODE, runs);
      return AndCountWords(words, runs);
    }
  }
  return 0;
}

uint32_t ShardCardinality(const roaring_bitmap_t* bitmap, uint32_t shard) {
  uint8_t type;
  const void* c = FindContainer(bitmap, shard, &type);
  if (c == nullptr) return 0;
  switch (type) {
    case BITSET_CONTAINER_TYPE_CODE:
      return static_cast<uint32_t>(
          static_cast<const bitset_container_t*>(c)->cardinality);
    case ARRAY_CONTAINER_TYPE_CODE:
      return static_cast<uint32_t>(
          static_cast<const array_container_t*>(c)->cardinality);
    case RUN_CONTAINER_TYPE_CODE: {
      const auto* r = static_cast<const run_container_t*>(c);
      uint32_t n = 0;
      for (int32_t i = 0; i < r->n_runs; ++i) n += r->runs[i].length + 1u;
      return n;
    }
  }
  return 0;
}

}  // namespace segd
