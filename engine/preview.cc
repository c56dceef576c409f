#include "engine/preview.h"

#include <algorithm>
#include <initializer_list>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "base/time.h"
#include "index/profile_codec.h"

namespace segd {
namespace {

void WriteValue(const DecodedValue& v, JsonWriter& out) {
  switch (v.tag) {
    case ValueTag::kString:
      out.String(v.text);
      return;
    case ValueTag::kDate: {
      char buffer[kMaxIsoText];
      out.String(v.DateText(buffer));
      return;
    }
    case ValueTag::kDateLayout:
      break;  // decoded as kDate
    case ValueTag::kInt:
      out.Int(v.number.i);
      return;
    case ValueTag::kDouble:
      out.Double(v.number.d);
      return;
    case ValueTag::kFalse:
    case ValueTag::kTrue:
      out.Bool(v.boolean());
      return;
    case ValueTag::kStringArray:
      out.BeginArray();
      v.ForEachString([&](std::string_view s) { out.String(s); });
      out.EndArray();
      return;
    case ValueTag::kRaw:
      out.Raw(v.text);
      return;
  }
}

// Values whose names continue `prefix` ("address." ...), written back as the
// nested object they were flattened from.
struct Entry {
  std::string_view rest;  // name after the prefix
  const DecodedValue* value;
};

void WriteNested(const std::vector<Entry>& entries, JsonWriter& out);

// Where `name` splits into the key of a nested object and the rest: at its
// first dot, unless that leaves a part empty ("a.", ".a"), which no key of
// a record's object can be: such a name stays whole.
size_t NestAt(std::string_view name) {
  const size_t dot = name.find('.');
  return dot == 0 || dot + 1 == name.size() ? std::string_view::npos : dot;
}

// Writes the key/value pairs of `entries` into the object open in `out`,
// in their order: dotted names grouped under their head, as the nested
// object they were flattened from, where the first of them stood. Names
// that continue a key written whole ("city.zone" beside "city", or one of
// `taken`) stay dotted, as no object can be both: each key is written
// once, and the document reads back as the same attributes.
void WriteMembers(const std::vector<Entry>& entries, JsonWriter& out,
                  std::initializer_list<std::string_view> taken = {}) {
  std::unordered_set<std::string_view> whole(taken);
  for (const Entry& e : entries) {
    if (NestAt(e.rest) == std::string_view::npos) whole.insert(e.rest);
  }
  // Each group's entries, under its head; written at its first entry.
  std::unordered_map<std::string_view, std::vector<Entry>> groups;
  std::vector<const std::vector<Entry>*> group_at(entries.size(), nullptr);
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string_view rest = entries[i].rest;
    const size_t dot = NestAt(rest);
    if (dot == std::string_view::npos) continue;
    const std::string_view head = rest.substr(0, dot);
    if (whole.contains(head)) continue;
    auto [it, added] = groups.try_emplace(head);
    it->second.push_back(Entry{rest.substr(dot + 1), entries[i].value});
    if (added) group_at[i] = &it->second;
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string_view rest = entries[i].rest;
    const size_t dot = NestAt(rest);
    if (group_at[i] != nullptr) {
      out.Key(rest.substr(0, dot));
      WriteNested(*group_at[i], out);
    } else if (dot == std::string_view::npos ||
               whole.contains(rest.substr(0, dot))) {
      out.Key(rest);
      WriteValue(*entries[i].value, out);
    }  // else written with its group
  }
}

void WriteNested(const std::vector<Entry>& entries, JsonWriter& out) {
  out.BeginObject();
  WriteMembers(entries, out);
  out.EndObject();
}

void WriteIdentities(const DecodedProfile& p, JsonWriter& out) {
  out.BeginObject();
  for (const auto& [channel, handle] : p.identities) {
    out.Key(channel);
    out.String(handle);
  }
  out.EndObject();
}

// Ascending by `at` (SPEC §5), those at the same instant in the order they
// came.
void WriteEvents(const Index& index, const DecodedProfile& p, JsonWriter& out) {
  std::vector<StoredEvent> events(p.events.begin(), p.events.end());
  std::stable_sort(events.begin(), events.end(),
                   [](const StoredEvent& a, const StoredEvent& b) {
                     return a.at_ms < b.at_ms;
                   });
  out.BeginArray();
  for (const StoredEvent& e : events) {
    out.BeginObject();
    out.Key("name");
    out.String(index.event_name(e.name));
    out.Key("at");
    out.String(FormatIsoMillis(e.at_ms));
    out.EndObject();
  }
  out.EndArray();
}

// The value of `attr` in `p`, or else the values whose names continue
// `field` ("address." ...) as the nested object they were flattened from,
// or else null.
void WriteValueOrNested(const Index& index, const DecodedProfile& p,
                        std::string_view field, std::optional<AttrId> attr,
                        JsonWriter& out) {
  if (attr) {
    if (const DecodedValue* v = p.Find(*attr)) {
      WriteValue(*v, out);
      return;
    }
  }
  std::vector<Entry> nested;
  for (const DecodedValue& v : p.values) {
    const std::string& name = index.attribute(v.attr).name;
    if (name.size() > field.size() &&
        name.compare(0, field.size(), field) == 0 &&
        name[field.size()] == '.') {
      nested.push_back(
          Entry{std::string_view(name).substr(field.size() + 1), &v});
    }
  }
  if (nested.empty()) {
    out.Null();
  } else {
    WriteNested(std::move(nested), out);
  }
}

}  // namespace

const std::vector<std::string>& DefaultPreviewFields() {
  static const std::vector<std::string> kFields = {"id", "name", "email",
                                                   "phone", "customer_type"};
  return kFields;
}

MemberWriter::MemberWriter(const Index& index,
                           const std::vector<std::string>& fields)
    : index_(index) {
  shown_.push_back(Shown{Shown::Kind::kId, "id"});
  for (const std::string& field : fields) {
    if (field == "id") continue;  // shown first, once
    if (field == "identities") {
      shown_.push_back(Shown{Shown::Kind::kIdentities, field});
      scope_ = DecodeScope::kAll;
    } else if (field == "events") {
      shown_.push_back(Shown{Shown::Kind::kEvents, field});
      scope_ = DecodeScope::kAll;
    } else {
      shown_.push_back(
          Shown{Shown::Kind::kValue, field, index.FindAttribute(field)});
    }
  }
  // The attributes shown: each field's own, and those it is a prefix of
  // ("address" of "address.city"), found by looking each name and each of
  // its prefixes up among the fields.
  std::unordered_set<std::string_view> values;
  for (const Shown& s : shown_) {
    if (s.kind == Shown::Kind::kValue) values.insert(s.name);
  }
  bool nested = false;
  keep_.assign(index.attribute_count(), 0);
  for (AttrId a = 0; a < keep_.size(); ++a) {
    const std::string_view name = index.attribute(a).name;
    keep_[a] = values.contains(name);
    for (size_t dot = name.find('.'); dot != std::string_view::npos;
         dot = name.find('.', dot + 1)) {
      if (values.contains(name.substr(0, dot))) {
        keep_[a] = 1;
        nested = true;
      }
    }
  }
  for (Shown& s : shown_) {
    AppendJsonString(s.key, s.name);
    s.key.push_back(':');
  }
  // When every field is the id or one attribute's value, a member is
  // written from where its values lie in the blob, nothing else decoded.
  located_ = !nested && scope_ == DecodeScope::kValues;
  slot_of_.assign(index.attribute_count(), 0);
  for (Shown& s : shown_) {
    if (!located_ || !s.attr) continue;
    uint8_t& slot = slot_of_[*s.attr];
    if (slot == 0) {
      if (slots_ == kMaxSlots) {
        located_ = false;
        break;
      }
      slot = static_cast<uint8_t>(++slots_);
    }
    s.slot = slot;
  }
}

void MemberWriter::Write(std::string_view blob, DecodedProfile* scratch,
                         JsonWriter& out) const {
  if (!located_) {
    DecodeSelected(blob, keep_, scope_, scratch);
    WriteDecoded(*scratch, out);
    return;
  }
  const char* at[kMaxSlots + 1];
  std::fill_n(at, slots_ + 1, nullptr);
  const std::string_view id = LocateValues(blob, slot_of_, slots_, at);
  out.BeginObject();
  for (const Shown& s : shown_) {
    out.QuotedKey(s.key);
    if (s.kind == Shown::Kind::kId) {
      out.String(id);
    } else if (s.slot != 0 && at[s.slot] != nullptr) {
      DecodedValue v;
      ReadValueAt(at[s.slot], *s.attr, &v);
      WriteValue(v, out);
    } else {
      out.Null();
    }
  }
  out.EndObject();
}

void MemberWriter::WriteDecoded(const DecodedProfile& p,
                                JsonWriter& out) const {
  out.BeginObject();
  for (const Shown& s : shown_) {
    out.QuotedKey(s.key);
    switch (s.kind) {
      case Shown::Kind::kId:
        out.String(p.id);
        break;
      case Shown::Kind::kIdentities:
        WriteIdentities(p, out);
        break;
      case Shown::Kind::kEvents:
        WriteEvents(index_, p, out);
        break;
      case Shown::Kind::kValue:
        WriteValueOrNested(index_, p, s.name, s.attr, out);
        break;
    }
  }
  out.EndObject();
}

void WriteProfile(const Index& index, std::string_view blob, JsonWriter& out) {
  DecodedProfile p;
  DecodeProfile(blob, &p);
  std::vector<Entry> entries;
  for (const DecodedValue& v : p.values) {
    entries.push_back(Entry{index.attribute(v.attr).name, &v});
  }
  // customer_type is stored first and shown last, after what the profile
  // said of itself.
  std::stable_partition(entries.begin(), entries.end(),
                        [](const Entry& e) { return e.rest != kCustomerType; });
  out.BeginObject();
  out.Key("id");
  out.String(p.id);
  // Tags sent as an object (tags.a) are shown as that object instead.
  const bool has_tags =
      std::any_of(entries.begin(), entries.end(), [](const Entry& e) {
        return e.rest == kTagsAttribute ||
               (e.rest.size() > kTagsAttribute.size() &&
                e.rest.starts_with(kTagsAttribute) &&
                e.rest[kTagsAttribute.size()] == '.');
      });
  // The keys written after the attributes are taken: an attribute such as
  // "events.x" stays dotted.
  WriteMembers(entries, out, {"id", "identities", "events"});
  // SPEC §5: a profile is shown with its tags, identities and events, even
  // when it has none.
  if (!has_tags) {
    out.Key(kTagsAttribute);
    out.BeginArray();
    out.EndArray();
  }
  out.Key("identities");
  WriteIdentities(p, out);
  out.Key("events");
  WriteEvents(index, p, out);
  out.EndObject();
}

}  // namespace segd
