#include "engine/preview.h"

#include <algorithm>
#include <string_view>

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

void WriteNested(std::vector<Entry> entries, JsonWriter& out);

// Writes the key/value pairs of `entries` into the object open in `out`.
void WriteMembers(std::vector<Entry> entries, JsonWriter& out) {
  std::vector<bool> done(entries.size(), false);
  for (size_t i = 0; i < entries.size(); ++i) {
    if (done[i]) continue;
    const std::string_view rest = entries[i].rest;
    const size_t dot = rest.find('.');
    if (dot == std::string_view::npos) {
      out.Key(rest);
      WriteValue(*entries[i].value, out);
      continue;
    }
    const std::string_view head = rest.substr(0, dot);
    std::vector<Entry> inner;
    for (size_t j = i; j < entries.size(); ++j) {
      const std::string_view r = entries[j].rest;
      if (!done[j] && r.size() > dot && r.substr(0, dot) == head &&
          r[dot] == '.') {
        inner.push_back(Entry{r.substr(dot + 1), entries[j].value});
        done[j] = true;
      }
    }
    out.Key(head);
    WriteNested(std::move(inner), out);
  }
}

void WriteNested(std::vector<Entry> entries, JsonWriter& out) {
  out.BeginObject();
  WriteMembers(std::move(entries), out);
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

// `attr`: the field's attribute when known, else found by name.
void WriteField(const Index& index, const DecodedProfile& p,
                std::string_view field, JsonWriter& out,
                std::optional<std::optional<AttrId>> attr = std::nullopt) {
  out.Key(field);
  if (field == "id") {
    out.String(p.id);
    return;
  }
  if (field == "identities") {
    WriteIdentities(p, out);
    return;
  }
  if (field == "events") {
    WriteEvents(index, p, out);
    return;
  }
  if (!attr) attr = index.FindAttribute(field);
  if (*attr) {
    if (const DecodedValue* v = p.Find(**attr)) {
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

void WriteMember(const Index& index, uint32_t row,
                 const std::vector<std::string>& fields, JsonWriter& out) {
  DecodedProfile p;
  DecodeProfile(index.blob(row), &p);
  out.BeginObject();
  out.Key("id");
  out.String(p.id);
  for (const std::string& field : fields) {
    if (field != "id") WriteField(index, p, field, out);
  }
  out.EndObject();
}

MemberWriter::MemberWriter(const Index& index,
                           const std::vector<std::string>& fields)
    : index_(index), fields_(fields) {
  for (const std::string& field : fields) {
    attrs_.push_back(index.FindAttribute(field));
    if (field == "identities" || field == "events") scope_ = DecodeScope::kAll;
  }
}

void MemberWriter::Write(const DecodedProfile& p, JsonWriter& out) const {
  out.BeginObject();
  out.Key("id");
  out.String(p.id);
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (fields_[i] != "id") WriteField(index_, p, fields_[i], out, attrs_[i]);
  }
  out.EndObject();
}

void WriteProfile(const Index& index, uint32_t row, JsonWriter& out) {
  DecodedProfile p;
  DecodeProfile(index.blob(row), &p);
  std::vector<Entry> entries;
  for (const DecodedValue& v : p.values) {
    entries.push_back(Entry{index.attribute(v.attr).name, &v});
  }
  out.BeginObject();
  out.Key("id");
  out.String(p.id);
  WriteMembers(std::move(entries), out);
  if (!p.identities.empty()) {
    out.Key("identities");
    WriteIdentities(p, out);
  }
  if (!p.events.empty()) {
    out.Key("events");
    WriteEvents(index, p, out);
  }
  out.EndObject();
}

}  // namespace segd
