// The bodies that edit stored profiles: a PATCH of one profile, and one line
// of an events batch. Both read with RecordParser (ingest/record_parser.h),
// so a patch's attributes flatten and take their types exactly as a
// record's do.
//
// Any thread may call; each keeps its own parser and padded copy of the
// input, so `json` needs no simdjson padding.
#ifndef SEGD_INGEST_PATCH_PARSER_H_
#define SEGD_INGEST_PATCH_PARSER_H_

#include <string>
#include <string_view>

#include "base/status.h"
#include "index/profile_codec.h"
#include "index/profile_store.h"

namespace segd {

// Parses a PATCH body (a JSON object) into `out` (SPEC §1 "Patch"). An `id`
// in the body is an error (kInvalid at "/id"): the id comes from the path.
// `"identities": null` removes every identity, `"events": null` appends
// nothing. Bad JSON is kMalformed; JSON that is not an object and a body of
// the wrong shape are kInvalid (SPEC §5's 422); both with the JSON pointer
// of the bad node.
Status ParsePatch(std::string_view json, ProfilePatch* out);

// Parses one line of an events batch, {"id": "...", "name": "...", "at":
// ISO-8601}, into `id` and `out`. Errors as for ParsePatch, except that a
// line that is not an object is kMalformed, as a bad line of a batch.
Status ParseEventRecord(std::string_view json, std::string* id,
                        ProfileInput::Event* out);

}  // namespace segd

#endif  // SEGD_INGEST_PATCH_PARSER_H_
