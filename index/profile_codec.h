// The stored form of one profile: a compact, self-describing byte string.
//
//   varint id length, id bytes
//   byte   flags (kExplicitCustomerType, kValuesLength)
//   varint values length, when the flags have kValuesLength: the bytes
//          from the attribute count up to the identity count, so that a
//          reader of the identities or events alone jumps there
//   varint attribute count, then per attribute:
//          varint attribute id, byte tag, payload (see ValueTag)
//   varint identity count, then per identity: string channel, string handle
//   varint event count, then per event: varint event id, instant (below)
//
// Strings are varint length + bytes; fixed64 is little-endian; integers are
// zigzag varints. A date whose text has a layout base/time.h can rebuild is
// kept as that layout and the instant in the layout's unit (seconds, say):
// about 6 bytes instead of 30. An event's instant is the difference from the
// previous event's (from 0 for the first), as a zigzag varint shifted left by
// 2 over a 2-bit form: 0 whole seconds, 1 milliseconds, 2 absolute fixed64
// milliseconds follow (a difference too wide for the varint). Snapshots keep
// blobs as they are (live/database_snapshot.cc), so a change to the encoding
// must still decode what was written before. Values may come in any order;
// the store writes customer_type first.
#ifndef SEGD_INDEX_PROFILE_CODEC_H_
#define SEGD_INDEX_PROFILE_CODEC_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/time.h"
#include "index/schema.h"
#include "index/value.h"

namespace segd {

enum class ValueTag : uint8_t {
  kString = 0,       // string
  kInt = 1,          // zigzag varint
  kDouble = 2,       // fixed64 (bit pattern)
  kDate = 3,         // fixed64 millis, string original text
  kFalse = 4,        // no payload
  kTrue = 5,         // no payload
  kStringArray = 6,  // varint count, strings
  kRaw = 7,          // string: JSON text of an unindexable value
  // Stored only: varint layout code, zigzag varint instant in the layout's
  // unit. Decodes as kDate.
  kDateLayout = 8,
};

// DecodedValue::date_layout of a date stored with its text.
inline constexpr uint32_t kVerbatimDate = ~uint32_t{0};

struct StoredEvent {
  EventId name;
  int64_t at_ms;
};

inline constexpr uint8_t kExplicitCustomerType = 1;
// The values' length follows the flags. ProfileEncoder always writes it;
// blobs stored before it was added have none, and readers step over their
// values instead. DecodedProfile::flags never has it.
inline constexpr uint8_t kValuesLength = 2;

// One attribute value as decoded: views into the blob.
struct DecodedValue {
  AttrId attr = 0;
  ValueTag tag = ValueTag::kString;
  std::string_view text;                 // kString, kRaw, kDate stored verbatim
  Number number;                         // kInt, kDouble
  int64_t date_ms = 0;                   // kDate
  uint32_t date_layout = kVerbatimDate;  // kDate: rebuilds the text
  // kStringArray: `array_count` strings encoded in `array_data`.
  std::string_view array_data;
  uint32_t array_count = 0;

  bool boolean() const { return tag == ValueTag::kTrue; }
  // The original text of a kDate value; may point into `buffer`.
  std::string_view DateText(char (&buffer)[kMaxIsoText]) const;
  // Calls fn(std::string_view) for each element of a kStringArray value.
  template <typename Fn>
  void ForEachString(Fn&& fn) const;
};

// A decoded profile. Reuse one across many Decode calls to avoid allocation.
struct DecodedProfile {
  std::string_view id;
  uint8_t flags = 0;
  std::vector<DecodedValue> values;
  std::vector<std::pair<std::string_view, std::string_view>> identities;
  std::vector<StoredEvent> events;

  const DecodedValue* Find(AttrId attr) const;
};

// What a record says about one profile, before it is stored.
struct ProfileInput {
  std::string id;
  std::vector<std::pair<std::string, Value>> attributes;  // flattened names
  std::vector<std::pair<std::string, std::string>> identities;
  struct Event {
    std::string name;
    int64_t at_ms;
  };
  std::vector<Event> events;
};

// The Value that AddValue encoded as `decoded`: its type, a date with its
// original text, a string array's elements. A declared string attribute's
// date-looking text was stored as a string and comes back as one.
Value ToValue(const DecodedValue& decoded);

// The input that, stored again, encodes as `profile`: every attribute by its
// name in `schema` (customer_type included; whether it was set or derived is
// `profile.flags & kExplicitCustomerType`), the identities, and the events
// by name, all in stored order. REQUIRES: `schema` is the one `profile` was
// encoded against.
void ToProfileInput(const DecodedProfile& profile, const Schema& schema,
                    ProfileInput* out);

// Appends the encoding of one profile to `out`: Begin, AddValue for each of
// `attribute_count` values, AddIdentities (which writes the values' length
// before them), AddEvents. Values must already carry the attribute's type
// (a declared string holds its date-looking text).
class ProfileEncoder {
 public:
  explicit ProfileEncoder(std::string* out) : out_(out) {}
  void Begin(std::string_view id, uint8_t flags, size_t attribute_count);
  void AddValue(AttrId attr, const Value& value);
  void AddIdentities(
      const std::vector<std::pair<std::string_view, std::string_view>>& ids);
  void AddEvents(const std::vector<StoredEvent>& events);

 private:
  std::string* out_;
  size_t values_at_ = 0;  // where the attribute count starts in *out_
};

// What DecodeProfile reads: the whole profile, or its id, flags and values
// only (identities and events left empty), which is all most previews show.
enum class DecodeScope { kAll, kValues };

// Decodes `blob` (produced by ProfileEncoder) into `out`.
void DecodeProfile(std::string_view blob, DecodedProfile* out,
                   DecodeScope scope = DecodeScope::kAll);

// The same, keeping only the values of the attributes that `keep` flags
// (keep[attr] != 0; an attribute past its end is not kept). A value not
// kept is stepped over: only what gives its length is read.
void DecodeSelected(std::string_view blob, std::span<const uint8_t> keep,
                    DecodeScope scope, DecodedProfile* out);

// Where the values that a reader wants start, without decoding any: for
// each value of `blob` whose attribute `a` has a slot (slot_of[a] != 0; an
// attribute past its end has none), at[slot_of[a]] is set to the value's
// tag, until all `slots` slots are found. at[0] is overwritten by other
// values. Returns the id. REQUIRES: slots 1..`slots` are each some
// attribute's, and `at` has room for slots + 1.
std::string_view LocateValues(std::string_view blob,
                              std::span<const uint8_t> slot_of, size_t slots,
                              const char** at);
// Decodes the value of `attr` whose tag LocateValues found at `at`.
void ReadValueAt(const char* at, AttrId attr, DecodedValue* v);

// The id alone, which leads the blob.
std::string_view DecodeId(std::string_view blob);
// The flags alone, as DecodedProfile::flags has them.
uint8_t DecodeFlags(std::string_view blob);

// The identities alone, as views into `blob`: the values before them are
// jumped over (stepped over, in a blob that does not say their length).
void DecodeIdentities(
    std::string_view blob,
    std::vector<std::pair<std::string_view, std::string_view>>* out);

// Writes to `out` the blob `blob` with `events` after its own: its bytes up
// to the events, copied, and its events and `events` as AddEvents encodes
// them. What comes before the events is stepped over, not decoded.
void AppendEventsToBlob(std::string_view blob,
                        std::span<const StoredEvent> events, std::string* out);

// The value of `attr` in `blob`, decoded, if the profile holds one.
std::optional<DecodedValue> FindValue(std::string_view blob, AttrId attr);

// Writes to `out` the blob `blob` with the value of `attr` replaced by
// `value` as ProfileEncoder::AddValue encodes it (added after the other
// values when the profile holds none), or left out when `value` is null.
// The values' length is written anew (and the flag that says it is
// there); every other byte is copied as it is, and what follows the
// values is not read at all.
void ReplaceValueInBlob(std::string_view blob, AttrId attr, const Value* value,
                        std::string* out);

// Low-level varint helpers, shared with the decoder.
namespace codec {
inline uint64_t ReadVarint(const char*& p) {
  uint64_t v = 0;
  int shift = 0;
  while (true) {
    const uint8_t byte = static_cast<uint8_t>(*p++);
    v |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if (!(byte & 0x80)) return v;
    shift += 7;
  }
}
inline std::string_view ReadString(const char*& p) {
  const uint64_t n = ReadVarint(p);
  std::string_view s(p, n);
  p += n;
  return s;
}
}  // namespace codec

template <typename Fn>
void DecodedValue::ForEachString(Fn&& fn) const {
  const char* p = array_data.data();
  for (uint32_t i = 0; i < array_count; ++i) fn(codec::ReadString(p));
}

}  // namespace segd

#endif  // SEGD_INDEX_PROFILE_CODEC_H_
