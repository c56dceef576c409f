// Members as JSON: a stored profile, or the requested fields of one.
//
// A field is `id`, `customer_type`, `identities`, `events`, any attribute by
// its flattened name (`address.city`), or the prefix of flattened names
// (`address`), which is shown as the nested object it came from. A field the
// profile lacks is shown as null.
#ifndef SEGD_ENGINE_PREVIEW_H_
#define SEGD_ENGINE_PREVIEW_H_

#include <optional>
#include <string>
#include <vector>

#include "base/json_writer.h"
#include "index/index.h"
#include "index/profile_codec.h"

namespace segd {

// id, name, email, phone, customer_type (SPEC §3).
const std::vector<std::string>& DefaultPreviewFields();

// Writes {"id": ..., field: value, ...} for `row`. REQUIRES: row is live.
void WriteMember(const Index& index, uint32_t row,
                 const std::vector<std::string>& fields, JsonWriter& out);

// The same for many members of one Index: each field's attribute is found
// once, and each profile is decoded once, by the caller.
class MemberWriter {
 public:
  MemberWriter(const Index& index, const std::vector<std::string>& fields);
  // REQUIRES: `profile` is decoded from a row of the index, with scope().
  void Write(const DecodedProfile& profile, JsonWriter& out) const;
  // What the fields need decoded: identities and events only when shown.
  DecodeScope scope() const { return scope_; }

 private:
  const Index& index_;
  const std::vector<std::string>& fields_;
  // Per field: its attribute, when the index has one by that name.
  std::vector<std::optional<AttrId>> attrs_;
  DecodeScope scope_ = DecodeScope::kValues;
};

// Writes the whole stored profile, nested objects rebuilt.
void WriteProfile(const Index& index, uint32_t row, JsonWriter& out);

}  // namespace segd

#endif  // SEGD_ENGINE_PREVIEW_H_
