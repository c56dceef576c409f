// The reference database: SPEC §1 writes, §3 reads and §4 saved segments in
// the plainest form; see reference_database.h. Records and rules go through
// the shared code of reference_internal.h. Sections, in order: helpers, the
// profile table (check and commit), writes, segments, reads.
#include "tests/reference/reference_database.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tests/reference/reference_internal.h"

namespace segd::reference {
namespace {

namespace dom = simdjson::dom;
using internal::AsString;
using internal::AttributeInfo;
using internal::AttributeTable;
using internal::AttributeValue;
using internal::AttributeValues;
using internal::BindRule;
using internal::CheckCustomerType;
using internal::CompareNumbers;
using internal::DaysInMonth;
using internal::DaysSinceEpoch;
using internal::DerivedCustomerType;
using internal::Event;
using internal::FloorDiv;
using internal::Fold;
using internal::Identity;
using internal::kConflict;
using internal::kInvalid;
using internal::kMalformed;
using internal::kMillisPerDay;
using internal::kNotFound;
using internal::Matches;
using internal::Node;
using internal::NodeKind;
using internal::NonBlankLines;
using internal::Number;
using internal::ParsedRecord;
using internal::ParseRecord;
using internal::Profile;
using internal::ReadEvent;
using internal::RuleError;
using internal::SegmentDefinition;
using internal::SegmentLookup;
using internal::UniqueMembers;
using internal::Value;

constexpr std::string_view kCustomerType = "customer_type";
constexpr std::string_view kTags = "tags";
constexpr size_t kMaxSegmentNameBytes = 200;
constexpr size_t kMaxReportLimit = 1000;

std::string Quoted(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

WriteAnswer Failure(std::string_view code, std::string message) {
  WriteAnswer answer;
  answer.ok = false;
  answer.error_code = std::string(code);
  answer.message = std::move(message);
  return answer;
}

// SPEC §4: 1-200 bytes of UTF-8, no control characters (0x00-0x1F, 0x7F),
// no `/`, not `.` or `..`. Returns why not, empty when the name is good.
std::string CheckSegmentName(std::string_view name) {
  if (name.empty() || name.size() > kMaxSegmentNameBytes) {
    return "a segment name must be 1 to 200 bytes";
  }
  if (!simdjson::validate_utf8(name.data(), name.size())) {
    return "a segment name must be UTF-8";
  }
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      return "a segment name must not contain control characters";
    }
    if (c == '/') return "a segment name must not contain /";
  }
  if (name == "." || name == "..") return "a segment name cannot be . or ..";
  return "";
}

// The type names of PUT /v1/schema.
std::optional<AttributeKind> DeclarableKind(std::string_view name) {
  if (name == "string") return AttributeKind::kString;
  if (name == "number") return AttributeKind::kNumber;
  if (name == "date") return AttributeKind::kDate;
  if (name == "bool") return AttributeKind::kBool;
  if (name == "strings") return AttributeKind::kStringArray;
  return std::nullopt;
}

bool IsReservedKey(std::string_view key) {
  return key == "id" || key == "identities" || key == "events";
}

// A JSON number as text: integers in decimal, doubles in their shortest
// round-trip form (std::to_chars), so 3.0 is "3" and 1e20 is "1e+20".
std::string NumberText(const Number& number) {
  if (number.is_integer) return std::to_string(number.integer);
  char buffer[64];
  const auto result =
      std::to_chars(buffer, buffer + sizeof buffer, number.real);
  return std::string(buffer, result.ptr);
}

// `YYYY-MM-DD` of a day counted from 1970-01-01, found by stepping whole
// years and then months (slow and plain; only listed groups are shown).
std::string DayText(int64_t day) {
  int64_t year = 1970;
  while (year > 0 && DaysSinceEpoch(year, 1, 1) > day) --year;
  while (DaysSinceEpoch(year + 1, 1, 1) <= day) ++year;
  int64_t rest = day - DaysSinceEpoch(year, 1, 1);  // >= 0 unless year 0
  int month = 1;
  while (month < 12 && rest >= DaysInMonth(year, month)) {
    rest -= DaysInMonth(year, month);
    ++month;
  }
  char text[64];
  std::snprintf(text, sizeof text, "%04lld-%02d-%02lld",
                static_cast<long long>(year), month,
                static_cast<long long>(rest + 1));
  return text;
}

// A saved segment (SPEC §4).
struct Segment {
  std::optional<std::string> rule_json;  // dynamic: valid when saved
  std::set<uint64_t> rows;               // static: its profiles, by row
  std::vector<std::string> references;   // dynamic: segments named directly
};

// A profile's whole state while a write builds it, before it is checked.
struct Draft {
  std::string id;
  // customer_type is here only when it is set (explicit); Check derives it
  // otherwise.
  AttributeValues attributes;
  std::vector<Identity> identities;
  std::vector<Event> events;
  bool explicit_customer_type = false;  // set by Check
};

struct WriteError {
  std::string_view code;
  std::string message;
};

// Whether flattened name `below` is nested under `name` (`address.city`
// under `address`).
bool IsBelow(std::string_view below, std::string_view name) {
  return below.size() > name.size() && below.starts_with(name) &&
         below[name.size()] == '.';
}

// Whether two flattened names are the same or one is nested under the other:
// in the profile as a JSON document, they are the same place.
bool Overlaps(std::string_view a, std::string_view b) {
  return a == b || IsBelow(a, b) || IsBelow(b, a);
}

// Applies one patched member to flattened attributes as JSON merge patch
// does: an object merges key by key; null or [] (absent) removes the name
// and every name below it (`"address": null` removes `address.city`); any
// other value, a whole array included, replaces the name and every name
// below or above it (`"address": "Pune"` replaces `address.city`, and
// `"address": {"city": ...}` a plain `address`).
void PatchAttribute(const std::string& name, dom::element element,
                    AttributeValues* attributes) {
  dom::object object;
  if (element.get_object().get(object) == simdjson::SUCCESS) {
    for (const auto& [key, member] : UniqueMembers(object)) {
      PatchAttribute(name + "." + std::string(key), member, attributes);
    }
    return;
  }
  std::optional<Value> value = AttributeValue(element);
  if (!value) {
    std::erase_if(*attributes, [&](const auto& entry) {
      return entry.first == name || IsBelow(entry.first, name);
    });
    return;
  }
  std::erase_if(*attributes,
                [&](const auto& entry) { return Overlaps(entry.first, name); });
  (*attributes)[name] = std::move(*value);
}

// `identities` of a patch: null removes all; an object merges by channel,
// a null handle removing that channel.
std::string PatchIdentities(dom::element element,
                            std::vector<Identity>* identities) {
  if (element.is_null()) {
    identities->clear();
    return "";
  }
  dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS) {
    return "identities must be an object";
  }
  for (const auto& [channel, handle] : UniqueMembers(object)) {
    const auto same_channel = [&](const Identity& identity) {
      return identity.first == channel;
    };
    if (handle.is_null()) {
      std::erase_if(*identities, same_channel);
      continue;
    }
    const std::optional<std::string_view> text = AsString(handle);
    if (!text || text->empty()) {
      return "identity " + std::string(channel) + " must be a non-empty string";
    }
    const auto it =
        std::find_if(identities->begin(), identities->end(), same_channel);
    if (it != identities->end()) {
      it->second = std::string(*text);
    } else {
      identities->emplace_back(std::string(channel), std::string(*text));
    }
  }
  return "";
}

bool HasFolded(const std::vector<std::string>& folded_items,
               const std::string& folded) {
  return std::find(folded_items.begin(), folded_items.end(), folded) !=
         folded_items.end();
}

// Appends `raw` to a string array value unless an element equal to it with
// ASCII case folded is there already.
void AddElement(std::string_view raw, Value* array) {
  std::string folded = Fold(raw);
  if (HasFolded(array->items, folded)) return;
  array->items.push_back(std::move(folded));
  array->raw_items.emplace_back(raw);
}

// A group of a report by attribute: its value as rules compare it.
struct GroupKey {
  std::string text;   // kString, kStringArray: folded
  Number number;      // kNumber
  int64_t day = 0;    // kDate: days since 1970-01-01 (UTC)
  bool flag = false;  // kBool
};

// Ascending value order: strings by folded bytes, numbers numerically,
// dates by day, false < true.
struct GroupKeyLess {
  AttributeKind kind;
  bool operator()(const GroupKey& a, const GroupKey& b) const {
    switch (kind) {
      case AttributeKind::kString:
      case AttributeKind::kStringArray:
        return a.text < b.text;
      case AttributeKind::kNumber:
        return CompareNumbers(a.number, b.number) < 0;
      case AttributeKind::kDate:
        return a.day < b.day;
      case AttributeKind::kBool:
        return a.flag < b.flag;
      case AttributeKind::kUnindexable:
        return false;
    }
    return false;
  }
};

using GroupKeys = std::set<GroupKey, GroupKeyLess>;

// The groups one value counts in (a string array: each distinct element).
GroupKeys KeysOf(const Value& value, AttributeKind kind) {
  GroupKeys keys(GroupKeyLess{kind});
  GroupKey key;
  switch (kind) {
    case AttributeKind::kString:
      key.text = value.text;
      keys.insert(key);
      break;
    case AttributeKind::kStringArray:
      for (const std::string& item : value.items) {
        key.text = item;
        keys.insert(key);
      }
      break;
    case AttributeKind::kNumber:
      key.number = value.number;
      keys.insert(key);
      break;
    case AttributeKind::kDate:
      key.day = FloorDiv(value.instant, kMillisPerDay);
      keys.insert(key);
      break;
    case AttributeKind::kBool:
      key.flag = value.flag;
      keys.insert(key);
      break;
    case AttributeKind::kUnindexable:
      break;
  }
  return keys;
}

// For failure output: a value as text.
std::string ValueText(const Value& value) {
  switch (value.kind) {
    case AttributeKind::kString:
    case AttributeKind::kDate:
      return value.raw;
    case AttributeKind::kNumber:
      return NumberText(value.number);
    case AttributeKind::kBool:
      return value.flag ? "true" : "false";
    case AttributeKind::kStringArray: {
      std::string text = "[";
      for (size_t i = 0; i < value.raw_items.size(); ++i) {
        text += (i == 0 ? "" : ",") + value.raw_items[i];
      }
      return text + "]";
    }
    case AttributeKind::kUnindexable:
      return "<unindexable>";
  }
  return "?";
}

}  // namespace

// ------------------------------------------------------- The profile table

struct ReferenceDatabase::Impl {
  AttributeTable attributes;  // kinds fixed by accepted writes or schema
  std::vector<std::optional<Profile>> rows;  // by row; empty once deleted
  std::map<std::string, uint64_t, std::less<>> row_of_id;  // live profiles
  std::map<Identity, uint64_t> identity_owners;            // -> row
  std::map<std::string, Segment, std::less<>> segments;    // by name

  Impl() {
    // SPEC §5: the schema lists customer_type as string from the start.
    attributes.emplace(std::string(kCustomerType),
                       AttributeInfo{AttributeKind::kString, 0, true});
  }

  const Profile* Find(std::string_view id) const {
    const auto it = row_of_id.find(id);
    return it == row_of_id.end() ? nullptr : &*rows[it->second];
  }
  Draft DraftOf(const Profile& profile) const;
  std::optional<WriteError> Check(Draft* draft,
                                  const std::set<uint64_t>& own_rows) const;
  void Commit(Draft draft, uint64_t row);
  void Remove(uint64_t row);
  std::string IngestLine(std::string_view line);
  std::string AppendEventLine(std::string_view line);

  SegmentLookup Lookup() const;
  std::optional<Node> Bind(std::string_view rule_json, int64_t now_ms,
                           RuleError* error) const;
  // The rule {"segment": name}, bound; nullopt for an unknown segment.
  std::optional<Node> SegmentNode(std::string_view name, int64_t now_ms) const;
  std::vector<const Profile*> Live() const;
};

// The profile's values by name, without a derived customer_type (a derived
// one is not a value: every write derives it again).
Draft ReferenceDatabase::Impl::DraftOf(const Profile& profile) const {
  Draft draft;
  draft.id = profile.id;
  for (const auto& [name, info] : attributes) {
    const Value* value = profile.Find(info.slot);
    if (value == nullptr) continue;
    if (name == kCustomerType && !profile.explicit_customer_type) continue;
    draft.attributes[name] = *value;
  }
  draft.identities = profile.identities;
  draft.events = profile.events;
  return draft;
}

// SPEC §1 checks of a whole new state against the table: each value's kind
// against the kind fixed for its name (a declared string takes date-looking
// text as text), a customer_type set, and identities, which may belong only
// to the profiles in `own_rows` (the one written, and for a merge the one
// merged in). Derives customer_type when none is set. Existing values have
// been checked when written and kinds never change, so checking the whole
// state is the same as checking what the write changes.
std::optional<WriteError> ReferenceDatabase::Impl::Check(
    Draft* draft, const std::set<uint64_t>& own_rows) const {
  for (auto& [name, value] : draft->attributes) {
    const auto it = attributes.find(name);
    if (it == attributes.end()) continue;
    const AttributeInfo& info = it->second;
    if (info.kind == AttributeKind::kString && info.declared &&
        value.kind == AttributeKind::kDate) {
      value.kind = AttributeKind::kString;
      value.text = Fold(value.raw);
    } else if (info.kind != value.kind) {
      return WriteError{
          kInvalid, "attribute " + name + ": expected " +
                        std::string(AttributeKindName(info.kind)) + ", got " +
                        std::string(AttributeKindName(value.kind))};
    }
  }
  const auto set = draft->attributes.find(kCustomerType);
  draft->explicit_customer_type = set != draft->attributes.end();
  if (draft->explicit_customer_type) {
    if (std::string error = CheckCustomerType(set->second); !error.empty()) {
      return WriteError{kInvalid, std::move(error)};
    }
    set->second.raw = set->second.text;  // kept folded
  } else {
    draft->attributes[std::string(kCustomerType)] =
        DerivedCustomerType(draft->attributes);
  }
  for (const Identity& identity : draft->identities) {
    const auto owner = identity_owners.find(identity);
    if (owner != identity_owners.end() && !own_rows.count(owner->second)) {
      return WriteError{kConflict, "identity " + identity.first + ":" +
                                       identity.second +
                                       " belongs to profile " +
                                       Quoted(rows[owner->second]->id)};
    }
  }
  return std::nullopt;
}

// Stores a checked draft at `row` (rows.size() for a new profile): fixes the
// kinds of new attributes and moves the identities.
void ReferenceDatabase::Impl::Commit(Draft draft, uint64_t row) {
  Profile profile;
  profile.id = draft.id;
  profile.row = row;
  profile.explicit_customer_type = draft.explicit_customer_type;
  for (auto& [name, value] : draft.attributes) {
    auto [it, is_new] = attributes.try_emplace(name);
    if (is_new) {
      it->second = AttributeInfo{value.kind, attributes.size() - 1, false};
    }
    const size_t slot = it->second.slot;
    if (profile.slots.size() <= slot) profile.slots.resize(slot + 1);
    profile.slots[slot] = std::move(value);
  }
  profile.identities = std::move(draft.identities);
  profile.events = std::move(draft.events);
  if (row == rows.size()) {
    rows.emplace_back();
  } else {
    for (const Identity& identity : rows[row]->identities) {
      identity_owners.erase(identity);
    }
  }
  for (const Identity& identity : profile.identities) {
    identity_owners[identity] = row;
  }
  row_of_id[profile.id] = row;
  rows[row] = std::move(profile);
}

// Deletes the profile at `row`: its identities are released and it leaves
// every static segment. The row is never used again.
void ReferenceDatabase::Impl::Remove(uint64_t row) {
  for (const Identity& identity : rows[row]->identities) {
    identity_owners.erase(identity);
  }
  for (auto& [name, segment] : segments) segment.rows.erase(row);
  row_of_id.erase(rows[row]->id);
  rows[row].reset();
}

std::vector<const Profile*> ReferenceDatabase::Impl::Live() const {
  std::vector<const Profile*> live;
  for (const std::optional<Profile>& profile : rows) {
    if (profile) live.push_back(&*profile);
  }
  return live;
}

// ------------------------------------------------------------------ Writes

// One profile line; returns why it was rejected, empty if accepted. A
// profile ingested again (same id) keeps its row and static memberships;
// everything else is replaced.
std::string ReferenceDatabase::Impl::IngestLine(std::string_view line) {
  dom::parser parser;
  dom::element root;
  if (const auto error = parser.parse(line.data(), line.size()).get(root)) {
    return "malformed JSON: " + std::string(simdjson::error_message(error));
  }
  ParsedRecord record;
  if (std::string error = ParseRecord(root, &record); !error.empty()) {
    return error;
  }
  Draft draft;
  draft.id = record.id;
  draft.attributes = std::move(record.attributes);
  if (!record.explicit_customer_type)
    draft.attributes.erase(std::string(kCustomerType));
  draft.identities = std::move(record.identities);
  draft.events = std::move(record.events);
  const auto existing = row_of_id.find(draft.id);
  const uint64_t row =
      existing != row_of_id.end() ? existing->second : rows.size();
  if (std::optional<WriteError> error = Check(&draft, {row})) {
    return error->message;
  }
  Commit(std::move(draft), row);
  return "";
}

// One event line; returns why it was rejected, empty if accepted. Members
// other than id, name and at are ignored.
std::string ReferenceDatabase::Impl::AppendEventLine(std::string_view line) {
  dom::parser parser;
  dom::element root;
  if (const auto error = parser.parse(line.data(), line.size()).get(root)) {
    return "malformed JSON: " + std::string(simdjson::error_message(error));
  }
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return "an event must be a JSON object";
  }
  std::optional<std::string_view> id;
  for (const auto& [key, value] : UniqueMembers(object)) {
    if (key == "id") id = AsString(value);
  }
  if (!id) return "an event needs the id of a profile";
  const auto row = row_of_id.find(*id);
  if (row == row_of_id.end()) return "unknown profile " + Quoted(*id);
  Event event;
  if (std::string error = ReadEvent(root, &event); !error.empty()) {
    return error;
  }
  rows[row->second]->events.push_back(std::move(event));
  return "";
}

ReferenceDatabase::ReferenceDatabase() : impl_(std::make_unique<Impl>()) {}

ReferenceDatabase::~ReferenceDatabase() = default;

WriteAnswer ReferenceDatabase::UpsertNdjson(std::string_view ndjson) {
  WriteAnswer answer;
  for (const auto& [line_number, line] : NonBlankLines(ndjson)) {
    if (std::string error = impl_->IngestLine(line); !error.empty()) {
      answer.rejected_lines.push_back(line_number);
      answer.message +=
          "line " + std::to_string(line_number) + ": " + error + "\n";
    } else {
      ++answer.accepted;
    }
  }
  return answer;
}

WriteAnswer ReferenceDatabase::AppendEventsNdjson(std::string_view ndjson) {
  WriteAnswer answer;
  for (const auto& [line_number, line] : NonBlankLines(ndjson)) {
    if (std::string error = impl_->AppendEventLine(line); !error.empty()) {
      answer.rejected_lines.push_back(line_number);
      answer.message +=
          "line " + std::to_string(line_number) + ": " + error + "\n";
    } else {
      ++answer.accepted;
    }
  }
  return answer;
}

// SPEC §1 "Patch". Decisions: an `id` member is "invalid" (the id comes
// from the path); `events: null` appends nothing (events are history, not a
// value); `identities: null` removes every identity; a non-object patch is
// "invalid" (SPEC §5: it parses but is not what the path expects); an
// identity owned by another profile is "conflict".
WriteAnswer ReferenceDatabase::Patch(std::string_view id,
                                     std::string_view patch_json) {
  const Profile* profile = impl_->Find(id);
  if (profile == nullptr) {
    return Failure(kNotFound, "unknown profile " + Quoted(id));
  }
  dom::parser parser;
  dom::element root;
  if (const auto error =
          parser.parse(patch_json.data(), patch_json.size()).get(root)) {
    return Failure(kMalformed, "patch is not JSON: " +
                                   std::string(simdjson::error_message(error)));
  }
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return Failure(kInvalid, "a patch must be a JSON object");
  }
  Draft draft = impl_->DraftOf(*profile);
  for (const auto& [key, value] : UniqueMembers(object)) {
    if (key == "id") {
      return Failure(kInvalid, "a patch cannot name an id");
    } else if (key == "identities") {
      if (std::string error = PatchIdentities(value, &draft.identities);
          !error.empty()) {
        return Failure(kInvalid, std::move(error));
      }
    } else if (key == "events") {
      if (value.is_null()) continue;
      dom::array events;
      if (value.get_array().get(events) != simdjson::SUCCESS) {
        return Failure(kInvalid, "events must be an array");
      }
      for (dom::element item : events) {
        Event event;
        if (std::string error = ReadEvent(item, &event); !error.empty()) {
          return Failure(kInvalid, std::move(error));
        }
        draft.events.push_back(std::move(event));
      }
    } else {
      PatchAttribute(std::string(key), value, &draft.attributes);
    }
  }
  if (std::optional<WriteError> error = impl_->Check(&draft, {profile->row})) {
    return Failure(error->code, std::move(error->message));
  }
  impl_->Commit(std::move(draft), profile->row);
  return WriteAnswer{};
}

WriteAnswer ReferenceDatabase::Delete(std::string_view id) {
  const Profile* profile = impl_->Find(id);
  if (profile == nullptr) {
    return Failure(kNotFound, "unknown profile " + Quoted(id));
  }
  impl_->Remove(profile->row);
  return WriteAnswer{};
}

// Tags are compared with ASCII case folded, as rules compare them: adding
// `VIP` to ["vip"] changes nothing, removing `VIP` removes `vip`. New tags
// go after the existing ones, in the order given.
WriteAnswer ReferenceDatabase::Tags(std::string_view id,
                                    const std::vector<std::string>& add,
                                    const std::vector<std::string>& remove) {
  const Profile* profile = impl_->Find(id);
  if (profile == nullptr) {
    return Failure(kNotFound, "unknown profile " + Quoted(id));
  }
  const auto info = impl_->attributes.find(kTags);
  if (info != impl_->attributes.end() &&
      info->second.kind != AttributeKind::kStringArray) {
    return Failure(kInvalid,
                   "attribute tags is a " +
                       std::string(AttributeKindName(info->second.kind)) +
                       ", not a string array");
  }
  Draft draft = impl_->DraftOf(*profile);
  Value tags;
  tags.kind = AttributeKind::kStringArray;
  if (const auto it = draft.attributes.find(kTags);
      it != draft.attributes.end()) {
    tags = it->second;
  }
  for (const std::string& tag : add) AddElement(tag, &tags);
  for (const std::string& tag : remove) {
    const std::string folded = Fold(tag);
    for (size_t i = tags.items.size(); i-- > 0;) {
      if (tags.items[i] != folded) continue;
      tags.items.erase(tags.items.begin() + i);
      tags.raw_items.erase(tags.raw_items.begin() + i);
    }
  }
  if (tags.items.empty()) {
    draft.attributes.erase(std::string(kTags));  // an empty array is absent
  } else {
    draft.attributes[std::string(kTags)] = std::move(tags);
  }
  if (std::optional<WriteError> error = impl_->Check(&draft, {profile->row})) {
    return Failure(error->code, std::move(error->message));
  }
  impl_->Commit(std::move(draft), profile->row);
  return WriteAnswer{};
}

// SPEC §1 "Merge". A's values win and B's fill the names A lacks; a name of
// B nested below or above one of A's (`address.city` against `address`) is
// left out, as A's value or object wins whole. Only `tags` is unioned when
// both hold a string array (A's elements, then B's not already there,
// compared folded); any other string array is a value like the rest.
// Identities by channel (A's handle stays); events A's then B's.
// customer_type: A's if A set one, else B's if B set one, else derived
// from the merged values. B's static memberships move to A.
WriteAnswer ReferenceDatabase::Merge(std::string_view into_id,
                                     std::string_view from_id) {
  const Profile* into = impl_->Find(into_id);
  if (into == nullptr) {
    return Failure(kNotFound, "unknown profile " + Quoted(into_id));
  }
  const Profile* from = impl_->Find(from_id);
  if (from == nullptr) {
    return Failure(kNotFound, "unknown profile " + Quoted(from_id));
  }
  if (into == from)
    return Failure(kInvalid, "cannot merge a profile into itself");
  Draft draft = impl_->DraftOf(*into);
  const Draft other = impl_->DraftOf(*from);
  const AttributeValues into_values = draft.attributes;
  for (const auto& [name, value] : other.attributes) {
    const bool taken = std::any_of(
        into_values.begin(), into_values.end(),
        [&](const auto& entry) { return Overlaps(entry.first, name); });
    const auto mine = draft.attributes.find(name);
    if (!taken) {
      draft.attributes[name] = value;
    } else if (name == kTags && mine != draft.attributes.end() &&
               value.kind == AttributeKind::kStringArray &&
               mine->second.kind == AttributeKind::kStringArray) {
      for (const std::string& raw : value.raw_items) {
        AddElement(raw, &mine->second);
      }
    }
  }
  for (const Identity& identity : other.identities) {
    const bool channel_taken = std::any_of(
        draft.identities.begin(), draft.identities.end(),
        [&](const Identity& mine) { return mine.first == identity.first; });
    if (!channel_taken) draft.identities.push_back(identity);
  }
  draft.events.insert(draft.events.end(), other.events.begin(),
                      other.events.end());
  const uint64_t into_row = into->row;
  const uint64_t from_row = from->row;
  if (std::optional<WriteError> error =
          impl_->Check(&draft, {into_row, from_row})) {
    return Failure(error->code, std::move(error->message));  // not reached
  }
  for (auto& [name, segment] : impl_->segments) {
    if (segment.rows.count(from_row)) segment.rows.insert(into_row);
  }
  impl_->Remove(from_row);
  impl_->Commit(std::move(draft), into_row);
  return WriteAnswer{};
}

// PUT /v1/schema. Decisions: not JSON is "malformed"; not an object, an
// empty or reserved name (id, identities, events), or a type other than the
// five is "invalid"; declaring the type an attribute already has is fine
// (and makes it declared, so a string then takes date-looking text).
WriteAnswer ReferenceDatabase::DeclareSchema(std::string_view attributes_json) {
  dom::parser parser;
  dom::element root;
  if (const auto error =
          parser.parse(attributes_json.data(), attributes_json.size())
              .get(root)) {
    return Failure(kMalformed, "schema is not JSON: " +
                                   std::string(simdjson::error_message(error)));
  }
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return Failure(kInvalid, "attributes must be a JSON object");
  }
  std::vector<std::pair<std::string, AttributeKind>> declared;
  for (const auto& [name, type] : UniqueMembers(object)) {
    if (name.empty() || IsReservedKey(name)) {
      return Failure(kInvalid, Quoted(name) + " cannot be declared");
    }
    const std::optional<std::string_view> type_name = AsString(type);
    const std::optional<AttributeKind> kind =
        type_name ? DeclarableKind(*type_name) : std::nullopt;
    if (!kind) {
      return Failure(kInvalid, "attribute " + Quoted(name) +
                                   ": type must be string, number, date, "
                                   "bool or strings");
    }
    declared.emplace_back(std::string(name), *kind);
  }
  for (const auto& [name, kind] : declared) {
    const auto it = impl_->attributes.find(name);
    if (it != impl_->attributes.end() && it->second.kind != kind) {
      return Failure(kConflict,
                     "attribute " + Quoted(name) + " is already " +
                         std::string(AttributeKindName(it->second.kind)));
    }
  }
  for (const auto& [name, kind] : declared) {
    auto [it, is_new] = impl_->attributes.try_emplace(name);
    if (is_new) {
      it->second = AttributeInfo{kind, impl_->attributes.size() - 1, true};
    }
    it->second.declared = true;
  }
  return WriteAnswer{};
}

// ---------------------------------------------------------------- Segments

SegmentLookup ReferenceDatabase::Impl::Lookup() const {
  return [this](std::string_view name) -> std::optional<SegmentDefinition> {
    const auto it = segments.find(name);
    if (it == segments.end()) return std::nullopt;
    const Segment& segment = it->second;
    return SegmentDefinition{segment.rule_json ? &*segment.rule_json : nullptr,
                             &segment.rows};
  };
}

std::optional<Node> ReferenceDatabase::Impl::Bind(std::string_view rule_json,
                                                  int64_t now_ms,
                                                  RuleError* error) const {
  const SegmentLookup lookup = Lookup();
  return BindRule(rule_json, attributes, now_ms, &lookup, /*in_progress=*/{},
                  error, /*referenced=*/nullptr);
}

std::optional<Node> ReferenceDatabase::Impl::SegmentNode(std::string_view name,
                                                         int64_t now_ms) const {
  const auto it = segments.find(name);
  if (it == segments.end()) return std::nullopt;
  Node node;
  node.kind = NodeKind::kSegment;
  if (!it->second.rule_json) {
    node.static_rows = &it->second.rows;
    return node;
  }
  RuleError error;
  std::optional<Node> rule = Bind(*it->second.rule_json, now_ms, &error);
  if (!rule) return std::nullopt;  // not reached: saved rules stay valid
  node.children.push_back(std::move(*rule));
  return node;
}

// The rule is checked as any rule (with the clock at the epoch: only the
// rare relative date that overflows depends on it); a reference to an
// unknown segment is "invalid", one that closes a cycle "conflict".
WriteAnswer ReferenceDatabase::SaveDynamic(std::string_view name,
                                           std::string_view rule_json) {
  if (std::string error = CheckSegmentName(name); !error.empty()) {
    return Failure(kMalformed, std::move(error));
  }
  const SegmentLookup lookup = impl_->Lookup();
  RuleError error;
  std::vector<std::string> references;
  if (!BindRule(rule_json, impl_->attributes, /*now_ms=*/0, &lookup,
                {std::string(name)}, &error, &references)) {
    WriteAnswer answer = Failure(error.code, std::move(error.message));
    answer.error_path = std::move(error.path);
    return answer;
  }
  Segment& segment = impl_->segments[std::string(name)];
  segment = Segment{std::string(rule_json), {}, std::move(references)};
  return WriteAnswer{};
}

WriteAnswer ReferenceDatabase::SaveStatic(std::string_view name,
                                          const std::vector<std::string>& ids) {
  if (std::string error = CheckSegmentName(name); !error.empty()) {
    return Failure(kMalformed, std::move(error));
  }
  WriteAnswer answer;
  Segment segment;
  for (const std::string& id : ids) {
    if (const Profile* profile = impl_->Find(id)) {
      segment.rows.insert(profile->row);
    } else if (std::find(answer.unknown_ids.begin(), answer.unknown_ids.end(),
                         id) == answer.unknown_ids.end()) {
      answer.unknown_ids.push_back(id);
    }
  }
  impl_->segments[std::string(name)] = std::move(segment);
  return answer;
}

WriteAnswer ReferenceDatabase::EditStatic(
    std::string_view name, const std::vector<std::string>& add,
    const std::vector<std::string>& remove) {
  if (std::string error = CheckSegmentName(name); !error.empty()) {
    return Failure(kMalformed, std::move(error));
  }
  const auto it = impl_->segments.find(name);
  if (it == impl_->segments.end()) {
    return Failure(kNotFound, "unknown segment " + Quoted(name));
  }
  if (it->second.rule_json) {
    return Failure(kConflict, "segment " + Quoted(name) + " is dynamic");
  }
  WriteAnswer answer;
  const auto apply = [&](const std::vector<std::string>& ids, bool adding) {
    for (const std::string& id : ids) {
      if (const Profile* profile = impl_->Find(id)) {
        if (adding) {
          it->second.rows.insert(profile->row);
        } else {
          it->second.rows.erase(profile->row);
        }
      } else if (std::find(answer.unknown_ids.begin(), answer.unknown_ids.end(),
                           id) == answer.unknown_ids.end()) {
        answer.unknown_ids.push_back(id);
      }
    }
  };
  apply(add, /*adding=*/true);
  apply(remove, /*adding=*/false);
  return answer;
}

WriteAnswer ReferenceDatabase::DeleteSegment(std::string_view name) {
  if (std::string error = CheckSegmentName(name); !error.empty()) {
    return Failure(kMalformed, std::move(error));
  }
  const auto it = impl_->segments.find(name);
  if (it == impl_->segments.end()) {
    return Failure(kNotFound, "unknown segment " + Quoted(name));
  }
  for (const auto& [other, segment] : impl_->segments) {
    const auto& references = segment.references;
    if (std::find(references.begin(), references.end(), name) !=
        references.end()) {
      return Failure(kConflict, "segment " + Quoted(name) +
                                    " is referenced by " + Quoted(other));
    }
  }
  impl_->segments.erase(it);
  return WriteAnswer{};
}

// ------------------------------------------------------------------- Reads

Answer ReferenceDatabase::Evaluate(std::string_view rule_json, int64_t now_ms,
                                   size_t limit) const {
  Answer answer;
  RuleError error;
  const std::optional<Node> rule = impl_->Bind(rule_json, now_ms, &error);
  if (!rule) {
    answer.error_code = error.code;
    answer.error_path = error.path;
    answer.error_message = error.message;
    return answer;
  }
  answer.ok = true;
  for (const Profile* profile : impl_->Live()) {
    if (!Matches(*rule, *profile)) continue;
    ++answer.count;
    if (answer.ids.size() < limit) answer.ids.push_back(profile->id);
  }
  return answer;
}

namespace {

// Pre-order (document order): a group, then its children; a segment node is
// a leaf (its saved rule is not part of this rule's document).
void CollectNodes(const Node& node, std::vector<const Node*>* out) {
  out->push_back(&node);
  switch (node.kind) {
    case NodeKind::kAll:
    case NodeKind::kAny:
    case NodeKind::kNot:
      for (const Node& child : node.children) CollectNodes(child, out);
      break;
    case NodeKind::kField:
    case NodeKind::kEvent:
    case NodeKind::kSegment:
      break;
  }
}

}  // namespace

std::vector<std::pair<std::string, uint64_t>> ReferenceDatabase::Explain(
    std::string_view rule_json, int64_t now_ms) const {
  RuleError error;
  const std::optional<Node> rule = impl_->Bind(rule_json, now_ms, &error);
  if (!rule) return {};
  std::vector<const Node*> nodes;
  CollectNodes(*rule, &nodes);
  const std::vector<const Profile*> live = impl_->Live();
  std::vector<std::pair<std::string, uint64_t>> counts;
  for (const Node* node : nodes) {
    const uint64_t count = std::count_if(
        live.begin(), live.end(),
        [&](const Profile* profile) { return Matches(*node, *profile); });
    counts.emplace_back(node->path, count);
  }
  return counts;
}

std::vector<std::string> ReferenceDatabase::Members(std::string_view segment,
                                                    int64_t now_ms) const {
  const std::optional<Node> node = impl_->SegmentNode(segment, now_ms);
  if (!node) return {};
  std::vector<std::string> ids;
  for (const Profile* profile : impl_->Live()) {
    if (Matches(*node, *profile)) ids.push_back(profile->id);
  }
  return ids;
}

std::optional<bool> ReferenceDatabase::Contains(std::string_view segment,
                                                std::string_view id,
                                                int64_t now_ms) const {
  const Profile* profile = impl_->Find(id);
  const std::optional<Node> node = impl_->SegmentNode(segment, now_ms);
  if (profile == nullptr || !node) return std::nullopt;
  return Matches(*node, *profile);
}

std::optional<std::vector<std::string>> ReferenceDatabase::SegmentsOf(
    std::string_view id, int64_t now_ms) const {
  const Profile* profile = impl_->Find(id);
  if (profile == nullptr) return std::nullopt;
  std::vector<std::string> names;
  for (const auto& [name, segment] : impl_->segments) {  // names ascending
    if (Matches(*impl_->SegmentNode(name, now_ms), *profile)) {
      names.push_back(name);
    }
  }
  return names;
}

// SPEC §3 "report". Decisions: an empty rule means everyone; a limit over
// 1,000 is "invalid" at /limit; an unknown or unindexable attribute is
// "invalid" at /group_by; these are checked in that order, before the rule
// (whose errors have paths within the rule). "segment" always means saved
// segments.
ReportAnswer ReferenceDatabase::Report(std::string_view rule_json,
                                       std::string_view group_by, size_t limit,
                                       int64_t now_ms) const {
  ReportAnswer answer;
  const auto fail = [&](std::string_view code, std::string path,
                        std::string message) {
    answer.error_code = std::string(code);
    answer.error_path = std::move(path);
    answer.error_message = std::move(message);
    return answer;
  };
  if (limit > kMaxReportLimit) {
    return fail(kInvalid, "/limit", "limit is at most 1000");
  }
  const bool by_segment = group_by == "segment";
  const auto attribute = impl_->attributes.find(group_by);
  if (!by_segment && attribute == impl_->attributes.end()) {
    return fail(kInvalid, "/group_by", "unknown attribute " + Quoted(group_by));
  }
  if (!by_segment && attribute->second.kind == AttributeKind::kUnindexable) {
    return fail(kInvalid, "/group_by",
                "attribute " + Quoted(group_by) + " is not indexable");
  }
  RuleError error;
  const std::optional<Node> rule = impl_->Bind(
      rule_json.empty() ? R"({"all": []})" : rule_json, now_ms, &error);
  if (!rule) return fail(error.code, error.path, error.message);
  std::vector<const Profile*> members;
  for (const Profile* profile : impl_->Live()) {
    if (Matches(*rule, *profile)) members.push_back(profile);
  }
  answer.count = members.size();

  if (by_segment) {
    // By name ascending, then stably by count descending.
    std::vector<std::pair<std::string, std::vector<bool>>> in_segment;
    for (const auto& [name, segment] : impl_->segments) {
      const Node node = *impl_->SegmentNode(name, now_ms);
      std::vector<bool> in(members.size());
      for (size_t i = 0; i < members.size(); ++i) {
        in[i] = Matches(node, *members[i]);
      }
      in_segment.emplace_back(name, std::move(in));
    }
    std::vector<std::pair<std::string, uint64_t>> groups;
    for (const auto& [name, in] : in_segment) {
      groups.emplace_back(name, std::count(in.begin(), in.end(), true));
    }
    std::stable_sort(
        groups.begin(), groups.end(),
        [](const auto& a, const auto& b) { return a.second > b.second; });
    if (groups.size() > limit) groups.resize(limit);
    for (size_t i = 0; i < members.size(); ++i) {
      bool in_any = false, in_listed = false;
      for (const auto& [name, in] : in_segment) {
        if (!in[i]) continue;
        in_any = true;
        in_listed |=
            std::any_of(groups.begin(), groups.end(),
                        [&](const auto& g) { return g.first == name; });
      }
      if (!in_any) {
        ++answer.missing;
      } else if (!in_listed) {
        ++answer.other;
      }
    }
    answer.groups = std::move(groups);
    answer.ok = true;
    return answer;
  }

  const AttributeKind kind = attribute->second.kind;
  const size_t slot = attribute->second.slot;
  // Count every group, ascending by value; then stably by count descending.
  std::map<GroupKey, uint64_t, GroupKeyLess> counts(GroupKeyLess{kind});
  for (const Profile* member : members) {
    const Value* value = member->Find(slot);
    if (value == nullptr) continue;
    for (const GroupKey& key : KeysOf(*value, kind)) ++counts[key];
  }
  std::vector<std::pair<GroupKey, uint64_t>> ranked(counts.begin(),
                                                    counts.end());
  std::stable_sort(
      ranked.begin(), ranked.end(),
      [](const auto& a, const auto& b) { return a.second > b.second; });
  if (ranked.size() > limit) ranked.resize(limit);
  GroupKeys listed(GroupKeyLess{kind});
  for (const auto& [key, count] : ranked) listed.insert(key);
  for (const Profile* member : members) {
    const Value* value = member->Find(slot);
    if (value == nullptr) {
      ++answer.missing;
      continue;
    }
    const GroupKeys keys = KeysOf(*value, kind);
    const bool in_listed = std::any_of(
        keys.begin(), keys.end(),
        [&](const GroupKey& key) { return listed.count(key) != 0; });
    if (!in_listed) ++answer.other;
  }
  // Strings show the spelling of the earliest live row holding the value.
  const auto spelling = [&](const std::string& folded) {
    for (const Profile* profile : impl_->Live()) {
      const Value* value = profile->Find(slot);
      if (value == nullptr) continue;
      if (value->kind == AttributeKind::kString && value->text == folded) {
        return value->raw;
      }
      for (size_t i = 0; i < value->items.size(); ++i) {
        if (value->items[i] == folded) return value->raw_items[i];
      }
    }
    return folded;  // not reached: a member holds it
  };
  for (const auto& [key, count] : ranked) {
    std::string text;
    switch (kind) {
      case AttributeKind::kString:
      case AttributeKind::kStringArray:
        text = spelling(key.text);
        break;
      case AttributeKind::kNumber:
        text = NumberText(key.number);
        break;
      case AttributeKind::kDate:
        text = DayText(key.day);
        break;
      case AttributeKind::kBool:
        text = key.flag ? "true" : "false";
        break;
      case AttributeKind::kUnindexable:
        break;
    }
    answer.groups.emplace_back(std::move(text), count);
  }
  answer.ok = true;
  return answer;
}

// SPEC §3 "search". `name`, `email` and `phone` count only while they are
// string attributes; a profile without one of them, or an attribute of
// another kind, is skipped.
Answer ReferenceDatabase::Search(std::string_view keyword, size_t limit) const {
  Answer answer;
  if (keyword.empty()) {
    answer.error_code = std::string(kMalformed);
    answer.error_message = "the keyword must not be empty";
    return answer;
  }
  const std::string folded = Fold(keyword);
  std::vector<size_t> slots;
  for (std::string_view name : {"name", "email", "phone"}) {
    const auto it = impl_->attributes.find(name);
    if (it != impl_->attributes.end() &&
        it->second.kind == AttributeKind::kString) {
      slots.push_back(it->second.slot);
    }
  }
  answer.ok = true;
  for (const Profile* profile : impl_->Live()) {
    const bool found = std::any_of(slots.begin(), slots.end(), [&](size_t s) {
      const Value* value = profile->Find(s);
      return value != nullptr && value->text.find(folded) != std::string::npos;
    });
    if (!found) continue;
    ++answer.count;
    if (answer.ids.size() < limit) answer.ids.push_back(profile->id);
  }
  return answer;
}

size_t ReferenceDatabase::profile_count() const {
  return impl_->row_of_id.size();
}

std::optional<AttributeKind> ReferenceDatabase::KindOf(
    std::string_view attribute) const {
  const auto it = impl_->attributes.find(attribute);
  if (it == impl_->attributes.end()) return std::nullopt;
  return it->second.kind;
}

std::optional<std::string> ReferenceDatabase::DescribeProfile(
    std::string_view id) const {
  const Profile* profile = impl_->Find(id);
  if (profile == nullptr) return std::nullopt;
  std::string text = "row=" + std::to_string(profile->row);
  for (const auto& [name, info] : impl_->attributes) {
    const Value* value = profile->Find(info.slot);
    if (value == nullptr) continue;
    text += " " + name + "=" + ValueText(*value);
    if (name == kCustomerType && profile->explicit_customer_type) {
      text += "(set)";
    }
  }
  text += " identities={";
  for (size_t i = 0; i < profile->identities.size(); ++i) {
    const auto& [channel, handle] = profile->identities[i];
    text += (i == 0 ? "" : ",") + channel + ":" + handle;
  }
  text += "} events=[";
  for (size_t i = 0; i < profile->events.size(); ++i) {
    text += (i == 0 ? "" : ",") + profile->events[i].name;
  }
  return text + "]";
}

}  // namespace segd::reference
