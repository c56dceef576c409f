// ReferenceDatabase: a plain, obviously correct twin of a live segd database:
// every write of SPEC §1 and §4 (batches of profiles and events, patch,
// delete, tags, merge, schema, saved segments) and every read of SPEC §3
// (query, explain, members, contains, segments of a profile, report,
// search), written from the contract alone, so that a differential test can
// interleave writes and reads against the engine and this.
//
// Everything is naive: profiles are plain values in a vector indexed by row
// (a deleted row stays empty and is never reused), every read is a loop over
// the rows, a dynamic segment's saved rule is bound again on every read.
// Nothing is shared with the engine, index, ingest or base; records and
// rules go through the same code as ReferenceStore's (reference_internal.h).
//
// Decisions where SPEC.md is silent are written down in the .cc, next to
// the code that makes them, and summarized here:
// - Rows: fixed when a profile is created; replacement, patch, tags and
//   merge (for the survivor) keep it; delete then re-create gives a new,
//   higher row. Results are in ascending row order.
// - Error codes: "malformed" (not JSON, bad segment name, empty search
//   keyword), "invalid" (well-formed but wrong: type conflict, bad value,
//   unknown attribute or segment in a rule, a patch that is not an object or
//   names `id`, merging a profile into itself), "not_found" (unknown profile
//   or segment named by the call), "conflict" (identity owned by another
//   profile, schema type clash, reference cycle, deleting a referenced
//   segment, editing a dynamic segment as static).
// - Patch works on flattened names as JSON merge patch does: null or []
//   removes a name and every name below it; any other value replaces the
//   name and every name below or above it (`address` and `address.city`).
//   `identities: null` removes all identities; `events: null` appends none.
// - Tags and the merge of `tags` compare elements with ASCII case folded,
//   as rules do. Merge unions only `tags`; other string arrays are values
//   (A's wins). A name of B nested below or above one of A's is left out.
// - Report values as text: strings in the spelling of the earliest live row
//   holding that folded value (first such element of an array), numbers as
//   JSON number text (integers in decimal, doubles in shortest round-trip
//   form, so 3.0 shows as "3"), booleans `true`/`false`, dates `YYYY-MM-DD`.
//   A customer_type set by a write is kept folded, so it shows folded.
//
// Threads: writes must not run concurrently with anything else; the const
// reads may run concurrently with each other.
#ifndef SEGD_TESTS_REFERENCE_REFERENCE_DATABASE_H_
#define SEGD_TESTS_REFERENCE_REFERENCE_DATABASE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/reference/reference_evaluator.h"

namespace segd::reference {

// The answer to one write.
struct WriteAnswer {
  bool ok = true;
  std::string error_code;  // when !ok: "malformed", "invalid", "not_found",
                           // "conflict"
  std::string message;     // for failure output
  std::string error_path;  // SaveDynamic: JSON pointer within the rule
  uint64_t accepted = 0;   // batch writes: records applied
  std::vector<uint64_t> rejected_lines;  // batch writes: 1-based lines
                                         // rejected, ascending
  std::vector<std::string> unknown_ids;  // static segment writes
};

// The answer to a report (SPEC §3).
struct ReportAnswer {
  bool ok = false;
  std::string error_code, error_path, error_message;
  uint64_t count = 0;  // members of the rule
  // (value as text, count) in answer order: count descending, then value
  // ascending (by segment name for "segment").
  std::vector<std::pair<std::string, uint64_t>> groups;
  uint64_t other = 0, missing = 0;
};

class ReferenceDatabase {
 public:
  ReferenceDatabase();
  ~ReferenceDatabase();
  ReferenceDatabase(const ReferenceDatabase&) = delete;
  ReferenceDatabase& operator=(const ReferenceDatabase&) = delete;

  // ------------------------------------------------------------- Writes
  // SPEC §1. Each line of `ndjson` is one profile, accepted or rejected
  // whole; blank lines are skipped but counted. Always ok.
  WriteAnswer UpsertNdjson(std::string_view ndjson);
  // Lines of {"id": PROFILE_ID, "name": ..., "at": ...}: the event is
  // appended to that profile. An unknown id, a missing or empty `name` or a
  // missing or non-ISO `at` rejects that line. Always ok.
  WriteAnswer AppendEventsNdjson(std::string_view ndjson);
  // Merges the JSON object `patch_json` into profile `id` (SPEC §1 "Patch").
  // "not_found" for an unknown id; any error changes nothing.
  WriteAnswer Patch(std::string_view id, std::string_view patch_json);
  // "not_found" if unknown.
  WriteAnswer Delete(std::string_view id);
  // Adds, then removes, elements of the `tags` string array.
  WriteAnswer Tags(std::string_view id, const std::vector<std::string>& add,
                   const std::vector<std::string>& remove);
  // Merges profile `from_id` into `into_id` (SPEC §1 "Merge").
  WriteAnswer Merge(std::string_view into_id, std::string_view from_id);
  // {"NAME": "string"|"number"|"date"|"bool"|"strings", ...}: all or
  // nothing; "conflict" when an attribute is already typed otherwise.
  WriteAnswer DeclareSchema(std::string_view attributes_json);

  // SPEC §4. Each creates or replaces the segment `name`.
  WriteAnswer SaveDynamic(std::string_view name, std::string_view rule_json);
  // Unknown ids are reported in `unknown_ids` (input order, each once).
  WriteAnswer SaveStatic(std::string_view name,
                         const std::vector<std::string>& ids);
  // Adds, then removes; "conflict" on a dynamic segment, "not_found" for an
  // unknown one. Unknown ids of either list are reported.
  WriteAnswer EditStatic(std::string_view name,
                         const std::vector<std::string>& add,
                         const std::vector<std::string>& remove);
  // "conflict" while another segment references it; "not_found".
  WriteAnswer DeleteSegment(std::string_view name);

  // -------------------------------------------------------------- Reads
  // The rule's count and first `limit` members; saved segments allowed.
  Answer Evaluate(std::string_view rule_json, int64_t now_ms,
                  size_t limit) const;
  // (JSON pointer of every node of the rule in document order, count over
  // all live profiles). A {"segment": ...} node is a leaf. Empty when the
  // rule is rejected (Evaluate says why).
  std::vector<std::pair<std::string, uint64_t>> Explain(
      std::string_view rule_json, int64_t now_ms) const;
  // Every member of a saved segment, in row order; empty for an unknown
  // segment.
  std::vector<std::string> Members(std::string_view segment,
                                   int64_t now_ms) const;
  // nullopt: unknown segment or profile.
  std::optional<bool> Contains(std::string_view segment, std::string_view id,
                               int64_t now_ms) const;
  // The saved segments profile `id` belongs to, names ascending (bytewise);
  // nullopt for an unknown profile.
  std::optional<std::vector<std::string>> SegmentsOf(std::string_view id,
                                                     int64_t now_ms) const;
  // `group_by` is "segment" or an attribute; an empty `rule_json` means
  // everyone. `limit` at most 1,000.
  ReportAnswer Report(std::string_view rule_json, std::string_view group_by,
                      size_t limit, int64_t now_ms) const;
  // Profiles whose string `name`, `email` or `phone` contains `keyword`
  // (ASCII case folded); an empty keyword is "malformed".
  Answer Search(std::string_view keyword, size_t limit) const;
  // Live profiles.
  size_t profile_count() const;

  // For tests: the kind fixed for `attribute`, nullopt if none.
  std::optional<AttributeKind> KindOf(std::string_view attribute) const;
  // For tests and failure output: one line showing profile `id`'s row,
  // attributes by name as written (customer_type marked "(set)" when set
  // rather than derived), identities and event names in stored order, e.g.
  // `row=0 city=Pune customer_type=lead tags=[vip,new]
  // identities={email:a@x.com} events=[order]`; nullopt if unknown.
  std::optional<std::string> DescribeProfile(std::string_view id) const;

 private:
  struct Impl;

  std::unique_ptr<Impl> impl_;
};

}  // namespace segd::reference

#endif  // SEGD_TESTS_REFERENCE_REFERENCE_DATABASE_H_
