// Schema: the attributes segd has seen, each with the type fixed at first
// sight (or declared up front), and the names of events.
//
// Owned by the ProfileStore and changed only by its writer; an Index copies
// what it needs when it is built, so readers never see the schema move.
#ifndef SEGD_INDEX_SCHEMA_H_
#define SEGD_INDEX_SCHEMA_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/hash.h"
#include "base/status.h"

namespace segd {

// The attribute every profile has, set or derived (SPEC §1).
inline constexpr std::string_view kCustomerType = "customer_type";

// The attribute of a profile's tags, which tag edits change (SPEC §1).
inline constexpr std::string_view kTagsAttribute = "tags";

// Whether `name` is a key of a record that is never an attribute: `id`,
// `identities`, `events` (SPEC §1).
inline bool IsReservedKey(std::string_view name) {
  return name == "id" || name == "identities" || name == "events";
}

enum class AttrType : uint8_t {
  kString,
  kNumber,
  kDate,
  kBool,
  kStringArray,
  // Values that fit no type (arrays of numbers or objects): stored and shown,
  // never indexed; a rule naming such an attribute is rejected.
  kUnindexable,
};

// "string", "number", "date", "bool", "string array", "unindexable".
const char* AttrTypeName(AttrType type);
// Parses the names above (and "string_array"); nullopt otherwise.
std::optional<AttrType> ParseAttrType(std::string_view name);

using AttrId = uint32_t;
using EventId = uint32_t;

struct Attribute {
  std::string name;
  AttrType type;
  bool declared = false;  // typed by a schema rather than by first sight
};

// Transparent hashing so maps keyed by std::string accept string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return HashBytes(s); }
};
template <typename V>
using StringMap =
    std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

class Schema {
 public:
  // A generous cap that keeps a stream of random keys from growing the
  // schema without bound.
  static constexpr size_t kMaxAttributes = 65536;

  std::optional<AttrId> Find(std::string_view name) const;
  const Attribute& attribute(AttrId id) const { return attributes_[id]; }
  size_t size() const { return attributes_.size(); }
  const std::vector<Attribute>& attributes() const { return attributes_; }

  // Adds a new attribute. REQUIRES: Find(name) is empty.
  Result<AttrId> Add(std::string_view name, AttrType type, bool declared);

  // Declares `name` as `type` before data arrives; an attribute already typed
  // differently is an error.
  Status Declare(std::string_view name, AttrType type);

  // Event names compare with ASCII case folded, and each spelling has an
  // id of its own, so that an event is shown as it was sent. The id of the
  // first spelling of a folded name is the canonical one, which rules and
  // indexes use: FindEvent returns it.
  std::optional<EventId> FindEvent(std::string_view name) const;
  EventId InternEvent(std::string_view name);
  const std::string& event_name(EventId id) const { return event_names_[id]; }
  EventId canonical_event(EventId id) const { return canonical_events_[id]; }
  size_t event_count() const { return event_names_.size(); }

 private:
  std::vector<Attribute> attributes_;
  StringMap<AttrId> by_name_;
  std::vector<std::string> event_names_;
  std::vector<EventId> canonical_events_;  // per spelling
  StringMap<EventId> events_by_name_;
  StringMap<EventId> events_by_folded_name_;  // to the canonical spelling
};

}  // namespace segd

#endif  // SEGD_INDEX_SCHEMA_H_
