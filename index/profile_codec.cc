#include "index/profile_codec.h"

#include <cassert>
#include <cstring>

namespace segd {
namespace {

void PutVarint(std::string* out, uint64_t v) {
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out->append(buf, n);
}

void PutFixed64(std::string* out, uint64_t v) {
  char buf[8];
  std::memcpy(buf, &v, 8);  // x86-64 and arm64 are little-endian
  out->append(buf, 8);
}

void PutString(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

// Inserts, at `at` in `out`, the varint length of what follows it.
void InsertValuesLength(std::string* out, size_t at) {
  char buf[10];
  size_t n = 0;
  for (uint64_t v = out->size() - at;; v >>= 7) {
    if (v < 0x80) {
      buf[n++] = static_cast<char>(v);
      break;
    }
    buf[n++] = static_cast<char>(v | 0x80);
  }
  out->insert(at, buf, n);
}

// Event instant forms (the low 2 bits of the varint).
constexpr uint64_t kEventSeconds = 0, kEventMillis = 1, kEventAbsolute = 2;

uint64_t ReadFixed64(const char*& p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  p += 8;
  return v;
}

}  // namespace

std::string_view DecodedValue::DateText(char (&buffer)[kMaxIsoText]) const {
  if (date_layout == kVerbatimDate) return text;
  return std::string_view(buffer,
                          FormatIsoLayout(date_ms, date_layout, buffer));
}

const DecodedValue* DecodedProfile::Find(AttrId attr) const {
  for (const DecodedValue& v : values) {
    if (v.attr == attr) return &v;
  }
  return nullptr;
}

Value ToValue(const DecodedValue& decoded) {
  Value value;
  switch (decoded.tag) {
    case ValueTag::kString:
      value.type = AttrType::kString;
      value.text = decoded.text;
      break;
    case ValueTag::kInt:
    case ValueTag::kDouble:
      value.type = AttrType::kNumber;
      value.number = decoded.number;
      break;
    case ValueTag::kDate:
    case ValueTag::kDateLayout: {  // DecodeProfile gives kDate for both
      char buffer[kMaxIsoText];
      value.type = AttrType::kDate;
      value.text = decoded.DateText(buffer);
      value.date_ms = decoded.date_ms;
      break;
    }
    case ValueTag::kFalse:
    case ValueTag::kTrue:
      value.type = AttrType::kBool;
      value.boolean = decoded.boolean();
      break;
    case ValueTag::kStringArray:
      value.type = AttrType::kStringArray;
      value.strings.reserve(decoded.array_count);
      decoded.ForEachString(
          [&](std::string_view s) { value.strings.emplace_back(s); });
      break;
    case ValueTag::kRaw:
      value.type = AttrType::kUnindexable;
      value.text = decoded.text;
      break;
  }
  return value;
}

void ToProfileInput(const DecodedProfile& profile, const Schema& schema,
                    ProfileInput* out) {
  out->id = profile.id;
  out->attributes.clear();
  out->attributes.reserve(profile.values.size());
  for (const DecodedValue& v : profile.values) {
    out->attributes.emplace_back(schema.attribute(v.attr).name, ToValue(v));
  }
  out->identities.clear();
  for (const auto& [channel, handle] : profile.identities) {
    out->identities.emplace_back(channel, handle);
  }
  out->events.clear();
  out->events.reserve(profile.events.size());
  for (const StoredEvent& e : profile.events) {
    out->events.push_back({schema.event_name(e.name), e.at_ms});
  }
}

void ProfileEncoder::Begin(std::string_view id, uint8_t flags,
                           size_t attribute_count) {
  PutString(out_, id);
  out_->push_back(static_cast<char>(flags));
  values_at_ = out_->size();
  PutVarint(out_, attribute_count);
}

void ProfileEncoder::AddValue(AttrId attr, const Value& value) {
  PutVarint(out_, attr);
  switch (value.type) {
    case AttrType::kString:
      out_->push_back(static_cast<char>(ValueTag::kString));
      PutString(out_, value.text);
      break;
    case AttrType::kNumber:
      if (value.number.is_int) {
        out_->push_back(static_cast<char>(ValueTag::kInt));
        PutVarint(out_, ZigZag(value.number.i));
      } else {
        out_->push_back(static_cast<char>(ValueTag::kDouble));
        uint64_t bits;
        std::memcpy(&bits, &value.number.d, 8);
        PutFixed64(out_, bits);
      }
      break;
    case AttrType::kDate:
      if (auto layout = IsoLayoutOf(value.text, value.date_ms)) {
        out_->push_back(static_cast<char>(ValueTag::kDateLayout));
        PutVarint(out_, *layout);
        PutVarint(out_, ZigZag(value.date_ms / IsoLayoutUnit(*layout)));
      } else {
        out_->push_back(static_cast<char>(ValueTag::kDate));
        PutFixed64(out_, static_cast<uint64_t>(value.date_ms));
        PutString(out_, value.text);
      }
      break;
    case AttrType::kBool:
      out_->push_back(static_cast<char>(value.boolean ? ValueTag::kTrue
                                                      : ValueTag::kFalse));
      break;
    case AttrType::kStringArray:
      out_->push_back(static_cast<char>(ValueTag::kStringArray));
      PutVarint(out_, value.strings.size());
      for (const std::string& s : value.strings) PutString(out_, s);
      break;
    case AttrType::kUnindexable:
      out_->push_back(static_cast<char>(ValueTag::kRaw));
      PutString(out_, value.text);
      break;
  }
}

void ProfileEncoder::AddIdentities(
    const std::vector<std::pair<std::string_view, std::string_view>>& ids) {
  // The flags say that the length follows only once it does.
  InsertValuesLength(out_, values_at_);
  (*out_)[values_at_ - 1] |= static_cast<char>(kValuesLength);
  PutVarint(out_, ids.size());
  for (const auto& [channel, handle] : ids) {
    PutString(out_, channel);
    PutString(out_, handle);
  }
}

namespace {

// One event, its instant as the difference from `*previous`, which it then
// becomes.
void PutEvent(std::string* out, const StoredEvent& e, uint64_t* previous) {
  PutVarint(out, e.name);
  const uint64_t at = static_cast<uint64_t>(e.at_ms);
  // Wrapping arithmetic: any two instants have a difference that adds back.
  const auto delta = static_cast<int64_t>(at - *previous);
  *previous = at;
  if (delta % kMillisPerSecond == 0) {
    PutVarint(out, ZigZag(delta / kMillisPerSecond) << 2 | kEventSeconds);
  } else if (ZigZag(delta) >> 62 == 0) {
    PutVarint(out, ZigZag(delta) << 2 | kEventMillis);
  } else {
    PutVarint(out, kEventAbsolute);
    PutFixed64(out, at);
  }
}

// Reads one event's instant, the difference from `*previous` or absolute,
// which it then becomes.
int64_t ReadEventInstant(const char*& p, uint64_t* previous) {
  const uint64_t v = codec::ReadVarint(p);
  const int64_t delta = UnZigZag(v >> 2);
  switch (v & 3) {
    case kEventSeconds:
      *previous += static_cast<uint64_t>(delta * kMillisPerSecond);
      break;
    case kEventMillis:
      *previous += static_cast<uint64_t>(delta);
      break;
    default:
      *previous = ReadFixed64(p);
  }
  return static_cast<int64_t>(*previous);
}

}  // namespace

void ProfileEncoder::AddEvents(const std::vector<StoredEvent>& events) {
  PutVarint(out_, events.size());
  uint64_t previous = 0;
  for (const StoredEvent& e : events) PutEvent(out_, e, &previous);
}

namespace {

// Reads one value, its attribute and tag read already.
void ReadValue(const char*& p, DecodedValue& v) {
  using codec::ReadString;
  using codec::ReadVarint;
  switch (v.tag) {
    case ValueTag::kString:
    case ValueTag::kRaw:
      v.text = ReadString(p);
      break;
    case ValueTag::kInt:
      v.number = Number::Int(UnZigZag(ReadVarint(p)));
      break;
    case ValueTag::kDouble: {
      const uint64_t bits = ReadFixed64(p);
      double d;
      std::memcpy(&d, &bits, 8);
      v.number = Number::Double(d);
      break;
    }
    case ValueTag::kDate:
      v.date_ms = static_cast<int64_t>(ReadFixed64(p));
      v.date_layout = kVerbatimDate;
      v.text = ReadString(p);
      break;
    case ValueTag::kDateLayout:
      v.tag = ValueTag::kDate;
      v.date_layout = static_cast<uint32_t>(ReadVarint(p));
      v.date_ms = UnZigZag(ReadVarint(p)) * IsoLayoutUnit(v.date_layout);
      v.text = {};
      break;
    case ValueTag::kFalse:
    case ValueTag::kTrue:
      break;
    case ValueTag::kStringArray: {
      v.array_count = static_cast<uint32_t>(ReadVarint(p));
      const char* start = p;
      for (uint32_t i = 0; i < v.array_count; ++i) ReadString(p);
      v.array_data = std::string_view(start, p - start);
      break;
    }
  }
}

// Moves past one value of type `tag`, reading only what gives its length.
void SkipValue(ValueTag tag, const char*& p) {
  using codec::ReadVarint;
  switch (tag) {
    case ValueTag::kString:
    case ValueTag::kRaw:
      p += ReadVarint(p);
      break;
    case ValueTag::kInt:
      ReadVarint(p);
      break;
    case ValueTag::kDouble:
      p += 8;
      break;
    case ValueTag::kDate:
      p += 8;
      p += ReadVarint(p);
      break;
    case ValueTag::kDateLayout:
      ReadVarint(p);
      ReadVarint(p);
      break;
    case ValueTag::kFalse:
    case ValueTag::kTrue:
      break;
    case ValueTag::kStringArray:
      for (uint64_t n = ReadVarint(p); n > 0; --n) p += ReadVarint(p);
      break;
  }
}

// What precedes the values.
struct Header {
  std::string_view id;
  uint8_t flags;          // as stored, kValuesLength included
  const char* flags_end;  // just past the flags byte
  const char* values;     // the attribute count
  const char* rest;       // the identity count, if the blob says where
};

Header ReadHeader(std::string_view blob) {
  Header h;
  const char* p = blob.data();
  h.id = codec::ReadString(p);
  h.flags = static_cast<uint8_t>(*p++);
  h.flags_end = p;
  h.rest = nullptr;
  if (h.flags & kValuesLength) {
    const uint64_t length = codec::ReadVarint(p);
    h.rest = p + length;
  }
  h.values = p;
  return h;
}

// Past the values that start at `p` (their count).
const char* SkipValues(const char* p) {
  for (uint64_t n = codec::ReadVarint(p); n > 0; --n) {
    codec::ReadVarint(p);  // attribute
    const auto tag = static_cast<ValueTag>(*p++);
    SkipValue(tag, p);
  }
  return p;
}

// Where the identities start.
const char* RestOf(const Header& h) {
  return h.rest != nullptr ? h.rest : SkipValues(h.values);
}

// The identities and events, which follow the values.
void ReadRest(const char* p, DecodedProfile* out, DecodeScope scope) {
  using codec::ReadString;
  using codec::ReadVarint;
  if (scope == DecodeScope::kValues) {
    out->identities.clear();
    out->events.clear();
    return;
  }
  out->identities.resize(ReadVarint(p));
  for (auto& [channel, handle] : out->identities) {
    channel = ReadString(p);
    handle = ReadString(p);
  }
  out->events.resize(ReadVarint(p));
  uint64_t previous = 0;
  for (StoredEvent& e : out->events) {
    e.name = static_cast<EventId>(ReadVarint(p));
    e.at_ms = ReadEventInstant(p, &previous);
  }
}

}  // namespace

void DecodeProfile(std::string_view blob, DecodedProfile* out,
                   DecodeScope scope) {
  const Header h = ReadHeader(blob);
  const char* p = h.values;
  out->id = h.id;
  out->flags = h.flags & ~kValuesLength;
  out->values.resize(codec::ReadVarint(p));
  for (DecodedValue& v : out->values) {
    v.attr = static_cast<AttrId>(codec::ReadVarint(p));
    v.tag = static_cast<ValueTag>(*p++);
    ReadValue(p, v);
  }
  ReadRest(p, out, scope);
}

void DecodeIdentities(
    std::string_view blob,
    std::vector<std::pair<std::string_view, std::string_view>>* out) {
  const char* p = RestOf(ReadHeader(blob));
  out->resize(codec::ReadVarint(p));
  for (auto& [channel, handle] : *out) {
    channel = codec::ReadString(p);
    handle = codec::ReadString(p);
  }
}

void DecodeSelected(std::string_view blob, std::span<const uint8_t> keep,
                    DecodeScope scope, DecodedProfile* out) {
  const Header h = ReadHeader(blob);
  out->id = h.id;
  out->flags = h.flags & ~kValuesLength;
  out->values.clear();
  if (keep.empty()) {  // the identities and events alone
    ReadRest(RestOf(h), out, scope);
    return;
  }
  const char* p = h.values;
  for (uint64_t n = codec::ReadVarint(p); n > 0; --n) {
    const auto attr = static_cast<AttrId>(codec::ReadVarint(p));
    const auto tag = static_cast<ValueTag>(*p++);
    if (attr < keep.size() && keep[attr] != 0) {
      DecodedValue& v = out->values.emplace_back();
      v.attr = attr;
      v.tag = tag;
      ReadValue(p, v);
    } else {
      SkipValue(tag, p);
    }
  }
  ReadRest(p, out, scope);
}

std::string_view LocateValues(std::string_view blob,
                              std::span<const uint8_t> slot_of, size_t slots,
                              const char** at) {
  const Header h = ReadHeader(blob);
  const char* p = h.values;
  size_t found = 0;
  for (uint64_t n = codec::ReadVarint(p); n > 0 && found < slots; --n) {
    const auto attr = static_cast<AttrId>(codec::ReadVarint(p));
    const uint8_t slot = attr < slot_of.size() ? slot_of[attr] : 0;
    // No branch on whether the value is wanted: those that are not all
    // land in at[0].
    at[slot] = p;
    found += slot != 0;
    const auto tag = static_cast<ValueTag>(*p++);
    SkipValue(tag, p);
  }
  return h.id;
}

void ReadValueAt(const char* at, AttrId attr, DecodedValue* v) {
  v->attr = attr;
  v->tag = static_cast<ValueTag>(*at++);
  ReadValue(at, *v);
}

std::string_view DecodeId(std::string_view blob) {
  const char* p = blob.data();
  return codec::ReadString(p);
}

uint8_t DecodeFlags(std::string_view blob) {
  return ReadHeader(blob).flags & ~kValuesLength;
}

std::optional<DecodedValue> FindValue(std::string_view blob, AttrId attr) {
  const char* p = ReadHeader(blob).values;
  for (uint64_t n = codec::ReadVarint(p); n > 0; --n) {
    const auto at = static_cast<AttrId>(codec::ReadVarint(p));
    const auto tag = static_cast<ValueTag>(*p++);
    if (at == attr) {
      DecodedValue v;
      v.attr = attr;
      v.tag = tag;
      ReadValue(p, v);
      return v;
    }
    SkipValue(tag, p);
  }
  return std::nullopt;
}

void ReplaceValueInBlob(std::string_view blob, AttrId attr, const Value* value,
                        std::string* out) {
  using codec::ReadVarint;
  const Header h = ReadHeader(blob);
  const char* p = h.values;
  const uint64_t count = ReadVarint(p);
  // The values before `attr`'s, its own [found, found_end), and the rest.
  const char* first_value = p;
  const char* found = nullptr;
  const char* found_end = nullptr;
  for (uint64_t n = count; n > 0; --n) {
    const char* start = p;
    const auto at = static_cast<AttrId>(ReadVarint(p));
    const auto tag = static_cast<ValueTag>(*p++);
    SkipValue(tag, p);
    if (at == attr) {
      found = start;
      found_end = p;
    }
  }
  const char* values_end = p;
  assert(h.rest == nullptr || h.rest == values_end);
  const uint64_t new_count = count - (found != nullptr) + (value != nullptr);

  // The id and the flags, which now say that the values' length follows.
  out->assign(blob.data(), h.flags_end);
  out->back() = static_cast<char>(h.flags | kValuesLength);
  const size_t values_at = out->size();
  PutVarint(out, new_count);
  ProfileEncoder encoder(out);
  if (found != nullptr) {
    out->append(first_value, found);
    if (value != nullptr) encoder.AddValue(attr, *value);
    out->append(found_end, values_end);
  } else {
    out->append(first_value, values_end);
    if (value != nullptr) encoder.AddValue(attr, *value);
  }
  InsertValuesLength(out, values_at);
  out->append(values_end, blob.data() + blob.size());
}

void AppendEventsToBlob(std::string_view blob,
                        std::span<const StoredEvent> events, std::string* out) {
  using codec::ReadVarint;
  // The bytes before the events are copied as they are, the values' length
  // with them.
  const char* p = RestOf(ReadHeader(blob));
  for (uint64_t n = ReadVarint(p); n > 0; --n) {
    p += ReadVarint(p);  // channel
    p += ReadVarint(p);  // handle
  }
  const char* count_at = p;
  const uint64_t count = ReadVarint(p);
  const char* first_event = p;
  uint64_t previous = 0;
  for (uint64_t n = count; n > 0; --n) {
    ReadVarint(p);  // name
    ReadEventInstant(p, &previous);
  }
  assert(p == blob.data() + blob.size());  // events close the blob

  out->assign(blob.data(), count_at);
  PutVarint(out, count + events.size());
  out->append(first_event, p);
  for (const StoredEvent& e : events) PutEvent(out, e, &previous);
}

}  // namespace segd
