// ReferenceStore: a plain, obviously correct twin of segd's ingest (SPEC §1)
// and rule evaluation (SPEC §2), written from the contract alone.
//
// The differential test loads the same NDJSON into this store and into the
// engine and requires identical answers for random rules. Everything here is
// deliberately naive: records become plain values, and a rule is bound once
// and then tested against every profile in a loop; no indexes, no bitmaps.
// Nothing is shared with the engine: ISO-8601 dates, durations and ASCII case
// folding are re-implemented in the .cc so that a bug in segd's shared code
// cannot hide behind an identical bug here.
//
// Semantics the SPEC leaves open follow segd's decisions; each one is
// written down next to the code that implements it.
//
// Threads: LoadNdjson must not run concurrently with anything else; the
// const methods may run concurrently with each other.
#ifndef SEGD_TESTS_REFERENCE_REFERENCE_EVALUATOR_H_
#define SEGD_TESTS_REFERENCE_REFERENCE_EVALUATOR_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace segd::reference {

// The kind of an attribute, fixed by the first accepted record that gives it
// a value. A string that is a whole ISO-8601 date is kDate; an array whose
// elements are all strings is kStringArray; any other array is kUnindexable.
enum class AttributeKind {
  kString,
  kNumber,
  kDate,
  kBool,
  kStringArray,
  kUnindexable,
};

// "string", "number", "date", "bool", "string_array" or "unindexable".
std::string_view AttributeKindName(AttributeKind kind);

// Milliseconds since 1970-01-01T00:00:00Z of a whole ISO-8601 date
// (`YYYY-MM-DD`, midnight UTC) or date-time
// (`YYYY-MM-DDTHH:MM[:SS[.fraction]][Z|±HH:MM|±HHMM]`, UTC when no zone;
// fraction truncated to milliseconds); nullopt for anything else.
std::optional<int64_t> ParseIsoInstant(std::string_view text);

// The answer to one rule.
struct Answer {
  bool ok = false;
  std::string error_code;     // "malformed" or "invalid" when !ok
  std::string error_path;     // JSON pointer of the offending member when !ok
  std::string error_message;  // human-readable, for failure output only
  uint64_t count = 0;         // matching live profiles
  std::vector<std::string> ids;  // the first `limit` of them, in row order
};

class ReferenceStore {
 public:
  ReferenceStore();
  ~ReferenceStore();
  ReferenceStore(const ReferenceStore&) = delete;
  ReferenceStore& operator=(const ReferenceStore&) = delete;

  // Ingests NDJSON: one record per line, applied in order; blank lines are
  // skipped but still counted. Good records are kept and bad ones reported
  // in rejected(). May be called again; totals accumulate and line numbers
  // restart at 1 for each call.
  void LoadNdjson(std::string_view text);

  // (1-based line, message) of every rejected record, in line order.
  const std::vector<std::pair<uint64_t, std::string>>& rejected() const {
    return rejected_;
  }
  // Accepted records, replacements included.
  uint64_t accepted() const { return accepted_; }
  // Live profiles (distinct ids).
  size_t profile_count() const;
  // The kind fixed for `attribute`, or nullopt if no accepted record set it.
  std::optional<AttributeKind> KindOf(std::string_view attribute) const;

  // Evaluates `rule_json` with the clock pinned at `now_ms`. There are no
  // saved segments, so any {"segment": ...} node is an error.
  Answer Evaluate(std::string_view rule_json, int64_t now_ms,
                  size_t limit) const;

 private:
  struct Impl;

  std::unique_ptr<Impl> impl_;
  std::vector<std::pair<uint64_t, std::string>> rejected_;
  uint64_t accepted_ = 0;
};

}  // namespace segd::reference

#endif  // SEGD_TESTS_REFERENCE_REFERENCE_EVALUATOR_H_
