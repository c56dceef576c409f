#include "index/schema.h"

#include "base/ascii.h"
#include "base/json_pointer.h"

namespace segd {

const char* AttrTypeName(AttrType type) {
  switch (type) {
    case AttrType::kString:
      return "string";
    case AttrType::kNumber:
      return "number";
    case AttrType::kDate:
      return "date";
    case AttrType::kBool:
      return "bool";
    case AttrType::kStringArray:
      return "string array";
    case AttrType::kUnindexable:
      return "unindexable";
  }
  return "unknown";
}

std::optional<AttrType> ParseAttrType(std::string_view name) {
  if (name == "string") return AttrType::kString;
  if (name == "number") return AttrType::kNumber;
  if (name == "date") return AttrType::kDate;
  if (name == "bool") return AttrType::kBool;
  if (name == "strings" || name == "string array" || name == "string_array") {
    return AttrType::kStringArray;
  }
  return std::nullopt;
}

std::optional<AttrId> Schema::Find(std::string_view name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

Result<AttrId> Schema::Add(std::string_view name, AttrType type,
                           bool declared) {
  if (attributes_.size() >= kMaxAttributes) {
    return Status(ErrorCode::kTooLarge,
                  "too many distinct attributes (limit " +
                      std::to_string(kMaxAttributes) + ")",
                  JsonPointerChild("", name));
  }
  const AttrId id = static_cast<AttrId>(attributes_.size());
  attributes_.push_back(Attribute{std::string(name), type, declared});
  by_name_.emplace(std::string(name), id);
  return id;
}

Status Schema::Declare(std::string_view name, AttrType type) {
  if (IsReservedKey(name)) {
    return Invalid(
        "\"" + std::string(name) + "\" is a reserved key, not an attribute",
        JsonPointerChild("", name));
  }
  if (auto id = Find(name)) {
    const Attribute& attr = attributes_[*id];
    if (attr.type != type) {
      return Invalid("attribute \"" + std::string(name) + "\" is already " +
                         AttrTypeName(attr.type) + ", cannot declare it " +
                         AttrTypeName(type),
                     JsonPointerChild("", name));
    }
    attributes_[*id].declared = true;
    return Status::Ok();
  }
  auto added = Add(name, type, /*declared=*/true);
  return added.ok() ? Status::Ok() : added.status();
}

std::optional<EventId> Schema::FindEvent(std::string_view name) const {
  auto it = events_by_folded_name_.find(FoldAscii(name));
  if (it == events_by_folded_name_.end()) return std::nullopt;
  return it->second;
}

EventId Schema::InternEvent(std::string_view name) {
  if (auto it = events_by_name_.find(name); it != events_by_name_.end()) {
    return it->second;
  }
  const EventId id = static_cast<EventId>(event_names_.size());
  event_names_.emplace_back(name);
  events_by_name_.emplace(std::string(name), id);
  const auto [canonical, added] =
      events_by_folded_name_.emplace(FoldAscii(name), id);
  canonical_events_.push_back(canonical->second);
  return id;
}

}  // namespace segd
