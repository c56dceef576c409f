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
#include <string_view>
#include <vector>

#include "base/json_writer.h"
#include "index/index.h"
#include "index/profile_codec.h"

namespace segd {

// id, name, email, phone, customer_type (SPEC §3).
const std::vector<std::string>& DefaultPreviewFields();

// Members of one Index as {"id": ..., field: value, ...}: what each field
// is, and the attributes the fields show, are found once. `fields` must
// outlive the writer.
class MemberWriter {
 public:
  MemberWriter(const Index& index, const std::vector<std::string>& fields);
  // Writes the member whose stored profile is `blob`, a row's of the
  // index. `scratch` is reused from one call to the next.
  void Write(std::string_view blob, DecodedProfile* scratch,
             JsonWriter& out) const;

 private:
  struct Shown {
    enum class Kind : uint8_t { kId, kIdentities, kEvents, kValue };
    Kind kind;
    std::string_view name;  // the field as asked for
    // kValue: the attribute of that name, when the index has one.
    std::optional<AttrId> attr = std::nullopt;
    uint8_t slot = 0;      // where LocateValues puts its value; 0 for none
    std::string key = {};  // "name": as JsonWriter::QuotedKey takes it
  };
  static constexpr size_t kMaxSlots = 64;

  // From the profile decoded: any field, nested objects included.
  void WriteDecoded(const DecodedProfile& p, JsonWriter& out) const;

  const Index& index_;
  std::vector<Shown> shown_;  // `id` first, then the other fields in order
  // Per attribute, whether a field shows it: its own or a prefix of it.
  std::vector<uint8_t> keep_;
  // Identities and events are decoded only when shown.
  DecodeScope scope_ = DecodeScope::kValues;
  // Whether members are written from LocateValues: every field is the id
  // or one attribute's value. Then each attribute shown has a slot.
  bool located_ = false;
  std::vector<uint8_t> slot_of_;
  size_t slots_ = 0;
};

// Writes the whole stored profile `blob`, nested objects rebuilt; `index`
// names its attributes and events.
void WriteProfile(const Index& index, std::string_view blob, JsonWriter& out);

}  // namespace segd

#endif  // SEGD_ENGINE_PREVIEW_H_
