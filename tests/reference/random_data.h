// Deterministic random data for the differential test: nasty NDJSON profiles
// and random rule trees drawn from the same vocabulary, so that predicates
// hit real values, boundaries and case variants.
//
// Everything is a pure function of the seed (own PRNG, no
// std::*_distribution), so a failure printed with its seed reproduces on any
// machine.
#ifndef SEGD_TESTS_REFERENCE_RANDOM_DATA_H_
#define SEGD_TESTS_REFERENCE_RANDOM_DATA_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tests/reference/reference_evaluator.h"

namespace segd::reference {

// The clock the generated data is centred on: 2026-11-20T12:00:00Z. Pass it
// as `now` when evaluating rules over RandomProfilesNdjson data.
inline constexpr int64_t kRandomDataNowMs = 1795176000000;

// SplitMix64: small, fast and identical everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t Next();
  // Uniform in [0, n). REQUIRES: n > 0.
  uint64_t Below(uint64_t n) { return Next() % n; }
  // True with probability percent / 100.
  bool Percent(uint64_t percent) { return Below(100) < percent; }
  // REQUIRES: !items.empty().
  template <typename T>
  const T& Pick(std::span<const T> items) {
    return items[Below(items.size())];
  }
  template <typename T>
  const T& Pick(const std::vector<T>& items) {
    return items[Below(items.size())];
  }

 private:
  uint64_t state_;
};

// One attribute of the generated data.
struct VocabularyAttribute {
  std::string name;
  AttributeKind kind = AttributeKind::kString;
  // Values the data holds: the text of strings, string-array elements and
  // dates (as written in the data), JSON literals of numbers, nothing for
  // bools and unindexable attributes.
  std::vector<std::string> values;
};

// What rules are drawn from.
struct Vocabulary {
  std::vector<VocabularyAttribute> attributes;  // every attribute in the data
  std::vector<std::string> unknown_attributes;  // names no record defines
  std::vector<std::string> event_names;         // as written in the data
  std::vector<std::string> strings_not_in_data;
  std::vector<std::string> numbers;         // JSON literals
  std::vector<std::string> absolute_dates;  // ISO-8601, near kRandomDataNowMs
  std::vector<std::string> relative_dates;  // `now`, `now-7d`, ...
  std::vector<std::string> durations;       // `48h`, ...
};

// The vocabulary of RandomProfilesNdjson's data.
const Vocabulary& DataVocabulary();

// `records` NDJSON lines (newline-terminated) of profiles: every attribute
// kind, ASCII case variants and non-ASCII text, boundary dates around
// kRandomDataNowMs in every accepted ISO form, nulls and empty arrays, events
// and identities, replacements of earlier ids, and about 3% bad lines
// (malformed JSON, wrong kinds, identity conflicts, bad customer_type, bad
// ids, bad events and identities, blank lines). The first three records set
// every attribute, so kinds are fixed before the first bad record.
std::string RandomProfilesNdjson(uint64_t seed, size_t records);

// A random rule of at most `max_depth` node levels (>= 1) using every node
// kind and operator, with values mostly from `vocabulary`. A small share of
// rules are wrong (unknown attribute, operator that does not fit, malformed
// value or node, segment reference); each wrong node has one fault, and the
// members of every node are written in canonical order (field, op, value;
// event, within_last, after, before, between, count).
std::string RandomRule(Rng& rng, const Vocabulary& vocabulary, int max_depth);

}  // namespace segd::reference

#endif  // SEGD_TESTS_REFERENCE_RANDOM_DATA_H_
