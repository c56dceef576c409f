// RecordParser: one JSON profile record -> ProfileInput (SPEC §1).
//
// Flattens nested objects with dots, infers each value's type (ISO-8601
// strings are dates), treats null and [] as absent, keeps values that fit no
// type as raw JSON, and reads the reserved keys `id`, `identities` and
// `events`. Errors carry a JSON pointer into the record ("/events/2/at").
// Type agreement with earlier records is the store's job, not the parser's.
// It also reads the other documents made of a record's parts: a patch and
// one line of an events batch (ingest/patch_parser.h wraps those).
//
// One parser per thread; it reuses its buffers across records.
#ifndef SEGD_INGEST_RECORD_PARSER_H_
#define SEGD_INGEST_RECORD_PARSER_H_

#include <cstddef>
#include <memory>
#include <string>

#include "base/status.h"
#include "index/profile_codec.h"
#include "index/profile_store.h"

namespace segd {

// Nested objects deeper than this are rejected rather than flattened.
inline constexpr int kMaxRecordNesting = 32;

class RecordParser {
 public:
  RecordParser();
  ~RecordParser();

  // Parses the record at json[0, length). REQUIRES: `capacity` >= length +
  // simdjson's padding, i.e. the bytes after the record up to `capacity` are
  // readable (true for a line inside a padded buffer). On error `out` holds
  // whatever was read so far (out->id may be set). An id that breaks SPEC
  // §1's rule (1 to 256 bytes of UTF-8, no control characters, not `.` or
  // `..`) is kInvalid at "/id"; a missing or non-string one is kMalformed.
  Status Parse(const char* json, size_t length, size_t capacity,
               ProfileInput* out);

  // A patch body (SPEC §1 "Patch"), with Parse's REQUIRES. Attributes are
  // flattened and typed as in a record, a null or [] one kept as absent (a
  // removal) under its own name: "address": null stays "address". A null
  // handle is a removal too, and `"identities": null` removes them all
  // (out->clear_identities); `"events": null` appends none. Of `identities`
  // or `events` given twice, the last wins. An `id` key is an error. Bad
  // JSON is kMalformed; JSON that is not an object (an array, a string, a
  // number) and a body of the wrong shape are kInvalid, with a JSON
  // pointer.
  Status ParsePatch(const char* json, size_t length, size_t capacity,
                    ProfilePatch* out);

  // One line of an events batch, {"id": ..., "name": ..., "at": ISO-8601},
  // with Parse's REQUIRES; other keys are ignored. Errors as for ParsePatch,
  // except that a line that is not an object is kMalformed. The id follows
  // Parse's rule.
  Status ParseEventRecord(const char* json, size_t length, size_t capacity,
                          std::string* id, ProfileInput::Event* out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace segd

#endif  // SEGD_INGEST_RECORD_PARSER_H_
