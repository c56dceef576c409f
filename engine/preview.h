// Members as JSON: a stored profile, or the requested fields of one.
//
// A field is `id`, `customer_type`, `identities`, `events`, any attribute by
// its flattened name (`address.city`), or the prefix of flattened names
// (`address`), which is shown as the nested object it came from. A field the
// profile lacks is shown as null.
#ifndef SEGD_ENGINE_PREVIEW_H_
#define SEGD_ENGINE_PREVIEW_H_

#include <string>
#include <vector>

#include "base/json_writer.h"
#include "index/index.h"

namespace segd {

// id, name, email, phone, customer_type (SPEC §3).
const std::vector<std::string>& DefaultPreviewFields();

// Writes {"id": ..., field: value, ...} for `row`. REQUIRES: row is live.
void WriteMember(const Index& index, uint32_t row,
                 const std::vector<std::string>& fields, JsonWriter& out);

// Writes the whole stored profile, nested objects rebuilt.
void WriteProfile(const Index& index, uint32_t row, JsonWriter& out);

}  // namespace segd

#endif  // SEGD_ENGINE_PREVIEW_H_
