#include "index/profile_store.h"

#include <tbb/parallel_invoke.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <limits>
#include <unordered_set>
#include <utility>

#include "base/ascii.h"
#include "base/hash.h"
#include "base/json_pointer.h"

namespace segd {
namespace {

// The names SPEC §1 derives customer_type from. As string_views, a compare
// with a name of another length costs no memcmp.
constexpr std::string_view kCustomerId = "customer_id", kEmail = "email",
                           kPhone = "phone", kOrders = "orders";

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

Status NoProfile(std::string_view id) {
  return Status(ErrorCode::kNotFound, "no profile with id " + Quoted(id));
}

// Whether flattened key `inner` is nested below `outer`: "address.city"
// below "address", not below "addr".
bool NestsBelow(std::string_view inner, std::string_view outer) {
  return inner.size() > outer.size() && inner[outer.size()] == '.' &&
         inner.starts_with(outer);
}

using Attributes = std::vector<std::pair<std::string, Value>>;

// Applies one key of a patch (ProfilePatch::attributes) to `attributes`.
void PatchAttribute(const std::string& name, const Value& value,
                    Attributes* attributes) {
  auto below = [&](const auto& a) { return NestsBelow(a.first, name); };
  if (value.absent) {
    std::erase_if(*attributes,
                  [&](const auto& a) { return a.first == name || below(a); });
    return;
  }
  // A key that nests under or over this one held another shape of value
  // ("address" as an object, now a string): the new value replaces it.
  std::erase_if(*attributes, [&](const auto& a) {
    return below(a) || NestsBelow(name, a.first);
  });
  auto same = std::find_if(attributes->begin(), attributes->end(),
                           [&](const auto& a) { return a.first == name; });
  if (same != attributes->end()) {
    same->second = value;  // in place: the key keeps its position
  } else {
    attributes->emplace_back(name, value);
  }
}

// Appends to `into` the elements of `from` it lacks, in `from`'s order,
// comparing with ASCII case folded as rules do: `VIP` is already there when
// `vip` is, and of `from`'s `New` and `new` only the first is added.
template <typename Strings>
void UnionFolded(const Strings& from, std::vector<std::string>* into) {
  for (const std::string& s : from) {
    if (std::none_of(into->begin(), into->end(), [&](const std::string& mine) {
          return EqualsFolded(mine, s);
        })) {
      into->push_back(s);
    }
  }
}

// The JSON pointer of a flattened attribute: address.city -> /address/city.
std::string AttributePointer(std::string_view name) {
  std::string pointer;
  size_t start = 0;
  while (true) {
    const size_t dot = name.find('.', start);
    pointer = JsonPointerChild(pointer, name.substr(start, dot - start));
    if (dot == std::string_view::npos) return pointer;
    start = dot + 1;
  }
}

// Checks `value`, given for attribute `name`, against the attribute's type.
// Only a declared string takes date-looking text as text (`*as_string`);
// otherwise a date is a date (SPEC §1) and conflicts like any other type.
Status CheckType(const Attribute& attr, const Value& value,
                 std::string_view name, bool* as_string) {
  *as_string = attr.type == AttrType::kString &&
               value.type == AttrType::kDate && attr.declared;
  if (*as_string || attr.type == value.type) return Status::Ok();
  return Invalid("attribute " + Quoted(name) + ": expected " +
                     AttrTypeName(attr.type) + ", got " +
                     AttrTypeName(value.type),
                 AttributePointer(name));
}

// `value` as it is stored: a declared string's date-looking text as a
// string (CheckType's `as_string`), held in `text`.
const Value& AsStored(const Value& value, bool as_string, Value* text) {
  if (!as_string) return value;
  text->type = AttrType::kString;
  text->text = value.text;
  return *text;
}

// Whether an `orders` value of `number` makes a customer (SPEC §1).
bool AnyOrders(const Number& number) {
  return CompareNumbers(number, Number::Int(1)) >= 0;
}

// customer_type as SPEC §1 derives it: customer when customer_id is present
// or orders >= 1; else lead when email or phone is present; else guest.
const char* DerivedCustomerType(bool has_customer_id, bool has_orders,
                                bool has_contact) {
  return has_customer_id || has_orders ? "customer"
         : has_contact                 ? "lead"
                                       : "guest";
}

}  // namespace

ProfileStore::ProfileStore() {
  attribute_cache_.fill(kNoId);
  event_cache_.fill(kNoId);
  customer_type_attr_ = *schema_.Add(kCustomerType, AttrType::kString,
                                     /*declared=*/true);
}

uint64_t ProfileStore::IdHash(std::string_view id) { return HashBytes(id); }

uint64_t ProfileStore::IdentityHash(std::string_view channel,
                                    std::string_view handle) {
  // The channel's length keeps ("ab", "c") apart from ("a", "bc").
  constexpr uint64_t kSeed = 0x9e3779b97f4a7c15ULL;
  return HashBytes(handle, HashBytes(channel, kSeed) + channel.size());
}

namespace {

// The row that `own`, then `shared` (if any), finds for `hash`.
template <typename Matches>
std::optional<uint32_t> FindIn(const RowTable& own,
                               const std::shared_ptr<const RowTable>& shared,
                               uint64_t hash, Matches&& matches) {
  if (std::optional<uint32_t> row = own.Find(hash, matches)) return row;
  if (shared) return shared->Find(hash, matches);
  return std::nullopt;
}

// Starts loading the home slots of `hash` in `own` and in `shared`, if
// any.
void PrefetchIn(const RowTable& own,
                const std::shared_ptr<const RowTable>& shared, uint64_t hash) {
  own.Prefetch(hash);
  if (shared) shared->Prefetch(hash);
}

}  // namespace

void ProfileStore::InsertId(std::string_view id, uint32_t row) {
  row_by_id_.Insert(IdHash(id), row);
  shared_exact_ = false;
}

void ProfileStore::EraseId(std::string_view id, uint32_t row) {
  row_by_id_.Erase(IdHash(id), row);
  shared_exact_ = false;
}

void ProfileStore::InsertIdentity(std::string_view channel,
                                  std::string_view handle, uint32_t row) {
  identity_owner_.Insert(IdentityHash(channel, handle), row);
  shared_exact_ = false;
}

void ProfileStore::EraseIdentity(std::string_view channel,
                                 std::string_view handle, uint32_t row) {
  identity_owner_.Erase(IdentityHash(channel, handle), row);
  shared_exact_ = false;
}

std::optional<ProfileStore::SharedTables> ProfileStore::ShareTables() {
  if (!shared_.ids) {
    shared_.ids = std::make_shared<const RowTable>(std::move(row_by_id_));
    shared_.identities =
        std::make_shared<const RowTable>(std::move(identity_owner_));
    shared_exact_ = true;
  }
  if (!shared_exact_) return std::nullopt;
  return shared_;
}

bool ProfileStore::HasIdentity(uint32_t row, std::string_view channel,
                               std::string_view handle) const {
  // A dead row holds nothing (a shared table's stale entry may name it).
  if (!is_live(row)) return false;
  DecodeIdentities(rows_.Get(row), &stored_identities_);
  for (const auto& [c, h] : stored_identities_) {
    if (c == channel && h == handle) return true;
  }
  return false;
}

void ProfileStore::ReleaseIdentities(uint32_t row) {
  DecodeIdentities(rows_.Get(row), &stored_identities_);
  for (const auto& [channel, handle] : stored_identities_) {
    EraseIdentity(channel, handle, row);
  }
}

std::optional<uint32_t> ProfileStore::FindRow(std::string_view id) const {
  return FindIn(row_by_id_, shared_.ids, IdHash(id), [&](uint32_t row) {
    const std::string_view blob = rows_.Get(row);
    const char* p = blob.data();
    return !blob.empty() && codec::ReadString(p) == id;
  });
}

void ProfileStore::PrefetchFind(uint64_t id_hash, int step,
                                bool whole_blob) const {
  if (step == 0) {
    PrefetchIn(row_by_id_, shared_.ids, id_hash);
    return;
  }
  std::optional<uint32_t> row = row_by_id_.FirstCandidate(id_hash);
  if (!row && shared_.ids) row = shared_.ids->FirstCandidate(id_hash);
  if (!row) return;
  if (step == 1) {
    rows_.PrefetchPlace(*row);
  } else {
    rows_.PrefetchBlob(*row, whole_blob);
  }
}

std::optional<uint32_t> ProfileStore::FindIdentity(
    std::string_view channel, std::string_view handle) const {
  return FindIn(
      identity_owner_, shared_.identities, IdentityHash(channel, handle),
      [&](uint32_t row) { return HasIdentity(row, channel, handle); });
}

AttrId ProfileStore::FindAttribute(std::string_view name) {
  AttrId& cached = attribute_cache_[HashBytes(name) % kCacheSlots];
  if (cached < schema_.size() && schema_.attribute(cached).name == name) {
    return cached;
  }
  const std::optional<AttrId> id = schema_.Find(name);
  if (!id) return kNoId;
  return cached = *id;
}

EventId ProfileStore::InternEvent(std::string_view name) {
  EventId& cached = event_cache_[HashBytes(name) % kCacheSlots];
  if (cached < schema_.event_count() && schema_.event_name(cached) == name) {
    return cached;
  }
  return cached = schema_.InternEvent(name);
}

void ProfileStore::Prefetch(const ProfileInput& input) const {
  PrefetchIn(row_by_id_, shared_.ids, IdHash(input.id));
  for (const auto& [channel, handle] : input.identities) {
    PrefetchIn(identity_owner_, shared_.identities,
               IdentityHash(channel, handle));
  }
}

Result<UpsertOutcome> ProfileStore::Upsert(const ProfileInput& input) {
  return Write(input, std::nullopt);
}

Result<UpsertOutcome> ProfileStore::Write(const ProfileInput& input,
                                          std::optional<uint32_t> yielding) {
  if (input.id.empty() || input.id.size() > kMaxIdBytes) {
    return Malformed("id must be a string of 1 to 256 bytes", "/id");
  }
  const std::optional<uint32_t> existing = FindRow(input.id);

  // Names to attributes, and which values survive: of a name given twice,
  // the last wins. Known names compare by id (a stamp per attribute); new
  // names, rare after the first records, by text.
  const auto& attrs = input.attributes;
  if (stamp_.size() < schema_.size()) stamp_.resize(schema_.size(), 0);
  if (++generation_ == 0) {  // wrapped: clear every stamp
    std::fill(stamp_.begin(), stamp_.end(), 0);
    generation_ = 1;
  }
  ids_.resize(attrs.size());
  superseded_.assign(attrs.size(), 0);
  std::unordered_set<std::string_view> new_names;  // when there are many
  for (size_t i = attrs.size(); i-- > 0;) {
    const std::string& name = attrs[i].first;
    const AttrId id = FindAttribute(name);
    ids_[i] = id;
    if (id != kNoId) {
      superseded_[i] = stamp_[id] == generation_;
      stamp_[id] = generation_;
    } else if (attrs.size() <= 64) {
      for (size_t j = i + 1; j < attrs.size() && !superseded_[i]; ++j) {
        superseded_[i] = ids_[j] == kNoId && attrs[j].first == name;
      }
    } else {
      superseded_[i] = !new_names.insert(name).second;
    }
  }

  // Check every value against the schema before changing anything.
  std::vector<Resolved>& resolved = resolved_;
  resolved.clear();
  bool sets_customer_type = false;
  Value customer_type;
  // SPEC §1 derivation inputs, from the values that survive.
  bool has_customer_id = false, has_orders = false, has_contact = false;
  size_t new_attributes = 0;
  for (size_t i = 0; i < attrs.size(); ++i) {
    if (superseded_[i]) continue;
    const auto& [name, value] = attrs[i];
    if (value.absent) continue;  // null or [] written last
    if (name.empty()) {
      return Malformed("empty attribute name", AttributePointer(name));
    }
    const std::string_view n = name;
    has_customer_id |= n == kCustomerId;
    has_contact |= n == kEmail || n == kPhone;
    has_orders |= n == kOrders && value.type == AttrType::kNumber &&
                  AnyOrders(value.number);
    const AttrId id = ids_[i];
    bool as_string = false;
    new_attributes += id == kNoId;
    // `tags` is the list the tags endpoint edits and merges union (SPEC
    // §1): a first value of another type would fix it as that for good.
    if (id == kNoId && n == kTagsAttribute &&
        value.type != AttrType::kStringArray) {
      return Invalid("attribute \"tags\": expected " +
                         std::string(AttrTypeName(AttrType::kStringArray)) +
                         ", got " + AttrTypeName(value.type),
                     AttributePointer(name));
    }
    if (id != kNoId) {
      SEGD_RETURN_IF_ERROR(
          CheckType(schema_.attribute(id), value, name, &as_string));
    }
    if (n == kCustomerType) {
      if (value.type != AttrType::kString && value.type != AttrType::kDate) {
        return Invalid("attribute \"customer_type\": expected string, got " +
                           std::string(AttrTypeName(value.type)),
                       AttributePointer(name));
      }
      std::string folded = FoldAscii(value.text);
      if (folded != "guest" && folded != "lead" && folded != "customer") {
        return Invalid(
            "customer_type must be \"guest\", \"lead\" or \"customer\", got " +
                Quoted(value.text),
            AttributePointer(name));
      }
      sets_customer_type = true;
      customer_type.type = AttrType::kString;
      customer_type.text = std::move(folded);
      continue;  // encoded below, normalized
    }
    // Member by member: a whole Resolved built on the stack and copied in
    // made the CPU wait on its own stores.
    Resolved& r = resolved.emplace_back();
    r.attr = id;
    r.value = &value;
    r.name = &name;
    r.as_string = as_string;
  }
  if (!sets_customer_type) {
    // SPEC §1: customer when customer_id is present or orders >= 1; else
    // lead when email or phone is present; else guest.
    customer_type.type = AttrType::kString;
    customer_type.text =
        DerivedCustomerType(has_customer_id, has_orders, has_contact);
  }
  if (schema_.size() + new_attributes > Schema::kMaxAttributes) {
    return Status(ErrorCode::kTooLarge,
                  "too many distinct attributes (limit " +
                      std::to_string(Schema::kMaxAttributes) + ")");
  }

  // A rewritten profile keeps the identities it held without a check (most
  // writes change none), and claims only the others.
  held_.clear();
  if (existing) DecodeIdentities(rows_.Get(*existing), &held_);
  auto held = [this](std::string_view channel, std::string_view handle) {
    return std::find(held_.begin(), held_.end(), std::pair(channel, handle)) !=
           held_.end();
  };
  claims_.assign(input.identities.size(), 0);
  for (size_t i = 0; i < input.identities.size(); ++i) {
    const auto& [channel, handle] = input.identities[i];
    if (held(channel, handle)) continue;
    claims_[i] = 1;
    std::optional<uint32_t> owner = FindIdentity(channel, handle);
    if (owner && owner != existing && owner != yielding) {
      const char* p = rows_.Get(*owner).data();
      return Status(ErrorCode::kConflict,
                    "identity " + channel + ":" + handle +
                        " belongs to profile " + Quoted(codec::ReadString(p)),
                    JsonPointerChild("/identities", channel));
    }
  }

  // Commit: new attributes take the type of their first value.
  for (Resolved& r : resolved) {
    if (r.attr != kNoId) continue;
    if (auto again = schema_.Find(*r.name)) {  // earlier in this record
      r.attr = *again;
      continue;
    }
    auto added = schema_.Add(*r.name, r.value->type, /*declared=*/false);
    if (!added.ok()) return added.status();
    r.attr = *added;
  }
  std::vector<StoredEvent>& events = events_;
  events.clear();
  for (const ProfileInput::Event& e : input.events) {
    events.push_back(StoredEvent{InternEvent(e.name), e.at_ms});
  }

  // Encode into a reused buffer, then copy once at the exact size.
  std::string& blob = encode_buffer_;
  blob.clear();
  ProfileEncoder encoder(&blob);
  encoder.Begin(input.id, sets_customer_type ? kExplicitCustomerType : 0,
                resolved.size() + 1);
  // customer_type first: previews show it, and a reader that wants a few
  // values stops once it has them (LocateValues).
  encoder.AddValue(customer_type_attr_, customer_type);
  Value text;
  for (const Resolved& r : resolved) {
    encoder.AddValue(r.attr, AsStored(*r.value, r.as_string, &text));
  }
  auto& identities = identity_views_;
  identities.clear();
  for (const auto& [channel, handle] : input.identities) {
    identities.emplace_back(channel, handle);
  }
  encoder.AddIdentities(identities);
  encoder.AddEvents(events);

  const auto& ids = input.identities;
  uint32_t row;
  if (existing) {
    row = *existing;
    // Identities held and not named again are let go, before the bytes
    // they are read from are replaced.
    for (const auto& [channel, handle] : held_) {
      const bool named = std::any_of(ids.begin(), ids.end(), [&](auto& id) {
        return id.first == channel && id.second == handle;
      });
      if (!named) EraseIdentity(channel, handle, row);
    }
    held_.clear();
  } else {
    row = rows_.size();
    InsertId(input.id, row);
    ++live_count_;
  }
  rows_.Set(row, blob);
  // A record may name the same pair twice; claim it once.
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!claims_[i] ||
        std::find(ids.begin(), ids.begin() + i, ids[i]) != ids.begin() + i) {
      continue;
    }
    InsertIdentity(ids[i].first, ids[i].second, row);
  }
  return UpsertOutcome{row, !existing.has_value()};
}

// From this many profiles to come, the store's pages are made ready ahead
// (BlobArena::set_pages_ahead): a load's writer then leaves the faults of
// the gigabytes of pages it fills to another thread. It stays so: a live
// database's writer then finds its pages ready too.
constexpr size_t kPagesAheadProfiles = size_t{1} << 16;

void ProfileStore::Reserve(size_t profiles) {
  // Rows are 32-bit, and never reused: the row space holds the dead too.
  profiles = std::min<size_t>(
      profiles, std::numeric_limits<uint32_t>::max() - rows_.size());
  rows_.Reserve(rows_.size() + static_cast<uint32_t>(profiles));
  if (profiles >= kPagesAheadProfiles) rows_.set_pages_ahead(true);
  // The store's own tables take what is written from now on.
  row_by_id_.Reserve(row_by_id_.size() + profiles);
  const size_t identities =
      identity_owner_.size() +
      (shared_.identities ? shared_.identities->size() : 0);
  if (identities > 0 && live_count_ > 0) {
    const double each = static_cast<double>(identities) / live_count_;
    identity_owner_.Reserve(identity_owner_.size() +
                            static_cast<size_t>(each * profiles));
  }
}

void ProfileStore::RestoreSchema(const Schema& schema) {
  assert(rows_.size() == 0);
  schema_ = schema;
  prefixes_.clear();
  prefixed_ = 0;
  customer_type_attr_ = *schema_.Find(kCustomerType);
  attribute_cache_.fill(kNoId);
  event_cache_.fill(kNoId);
}

void ProfileStore::RestoreRows(std::vector<BlobArena::Placed> rows) {
  assert(rows_.size() == 0);
  live_count_ = 0;
  for (const BlobArena::Placed& r : rows) live_count_ += r.size > 0;
  rows_.Restore(std::move(rows));
}

void ProfileStore::RestoreTables(
    SharedTables shared, size_t ids,
    const std::function<void(RowTable&)>& fill_ids, size_t identities,
    const std::function<void(RowTable&)>& fill_identities) {
  assert(!shared_.ids &&
         (shared.ids == nullptr) == (shared.identities == nullptr));
  shared_ = std::move(shared);
  shared_exact_ = false;
  tbb::parallel_invoke(
      [&] {
        row_by_id_.Reserve(ids);
        fill_ids(row_by_id_);
      },
      [&] {
        identity_owner_.Reserve(identities);
        fill_identities(identity_owner_);
      });
}

Status ProfileStore::Delete(std::string_view id) {
  std::optional<uint32_t> row = FindRow(id);
  if (!row) return NoProfile(id);
  ReleaseIdentities(*row);
  EraseId(id, *row);
  rows_.Clear(*row);
  --live_count_;
  return Status::Ok();
}

ProfileInput ProfileStore::Editable(uint32_t row) const {
  DecodedProfile decoded;
  DecodeProfile(rows_.Get(row), &decoded);
  ProfileInput input;
  ToProfileInput(decoded, schema_, &input);
  if (!(decoded.flags & kExplicitCustomerType)) {
    std::erase_if(input.attributes,
                  [](const auto& a) { return a.first == kCustomerType; });
  }
  return input;
}

Result<uint32_t> ProfileStore::Patch(std::string_view id,
                                     const ProfilePatch& patch) {
  for (const auto& [name, value] : patch.attributes) {
    if (IsReservedKey(name)) {
      return Invalid("attribute " + Quoted(name) + " is a reserved key",
                     AttributePointer(name));
    }
  }
  const std::optional<uint32_t> row = FindRow(id);
  if (!row) return NoProfile(id);
  if (patch.identities.empty() && !patch.clear_identities &&
      patch.events.empty()) {
    if (PatchValues(*row, patch)) return *row;
  }
  ProfileInput input = Editable(*row);
  for (const auto& [name, value] : patch.attributes) {
    PatchAttribute(name, value, &input.attributes);
  }
  auto& identities = input.identities;
  if (patch.clear_identities) identities.clear();
  for (const auto& [channel, handle] : patch.identities) {
    std::erase_if(identities,
                  [&](const auto& pair) { return pair.first == channel; });
    if (handle) identities.emplace_back(channel, *handle);
  }
  input.events.insert(input.events.end(), patch.events.begin(),
                      patch.events.end());
  Result<UpsertOutcome> stored = Write(input, std::nullopt);
  if (!stored.ok()) return stored.status();
  return stored->row;
}

bool ProfileStore::HasNestedRelative(std::string_view name) {
  for (; prefixed_ < schema_.size(); ++prefixed_) {
    const std::string_view other = schema_.attribute(prefixed_).name;
    for (size_t dot = other.find('.'); dot != std::string_view::npos;
         dot = other.find('.', dot + 1)) {
      prefixes_.emplace(other.substr(0, dot));
    }
  }
  if (prefixes_.contains(name)) return true;  // a key nested below
  for (size_t dot = name.find('.'); dot != std::string_view::npos;
       dot = name.find('.', dot + 1)) {
    if (FindAttribute(name.substr(0, dot)) != kNoId) return true;  // above
  }
  return false;
}

bool ProfileStore::PatchValues(uint32_t row, const ProfilePatch& patch) {
  // Every key is checked before anything changes. A key that the whole
  // path treats apart takes it: customer_type (set or derived again), a
  // name new to the schema, and a name with keys nested below or above it.
  const auto& given = patch.attributes;
  if (given.size() > kMaxPatchedValues) return false;
  auto& keys = patched_;
  keys.clear();
  bool derivation_input = false;
  for (const auto& [name, value] : given) {
    const AttrId attr = FindAttribute(name);
    if (attr == kNoId || attr == customer_type_attr_ ||
        HasNestedRelative(name)) {
      return false;
    }
    bool as_string = false;
    // A value of the wrong type is the whole path's to report: it names the
    // first such value in the profile's order, not in the patch's. (Of a
    // name given twice, the whole path checks only the last value.)
    if (!value.absent &&
        !CheckType(schema_.attribute(attr), value, name, &as_string).ok()) {
      return false;
    }
    const std::string_view n = name;
    derivation_input |=
        n == kCustomerId || n == kOrders || n == kEmail || n == kPhone;
    keys.push_back(PatchedKey{attr, &value, as_string});
  }
  if (keys.empty()) return true;

  // Each value's bytes replaced in turn, from the stored profile into one
  // buffer and then between two.
  std::string_view blob = rows_.Get(row);
  std::string* out = &encode_buffer_;
  std::string* spare = &patch_buffer_;
  auto replace = [&](AttrId attr, const Value* value) {
    ReplaceValueInBlob(blob, attr, value, out);
    blob = *out;
    std::swap(out, spare);
  };
  Value text;
  for (const PatchedKey& key : keys) {
    replace(key.attr, key.value->absent
                          ? nullptr
                          : &AsStored(*key.value, key.as_string, &text));
  }
  if (derivation_input && !(DecodeFlags(blob) & kExplicitCustomerType)) {
    auto has = [&](std::string_view name) {
      const AttrId attr = FindAttribute(name);
      return attr != kNoId && FindValue(blob, attr).has_value();
    };
    bool has_orders = false;
    if (const AttrId orders = FindAttribute(kOrders); orders != kNoId) {
      const std::optional<DecodedValue> v = FindValue(blob, orders);
      has_orders = v &&
                   (v->tag == ValueTag::kInt || v->tag == ValueTag::kDouble) &&
                   AnyOrders(v->number);
    }
    const std::string_view derived = DerivedCustomerType(
        has(kCustomerId), has_orders, has(kEmail) || has(kPhone));
    const std::optional<DecodedValue> stored =
        FindValue(blob, customer_type_attr_);
    if (!stored || stored->text != derived) {
      text.type = AttrType::kString;
      text.text = derived;
      replace(customer_type_attr_, &text);
    }
  }
  rows_.Set(row, blob);
  return true;
}

namespace {

// Tags `add`ed (unless held already, in any case) and `remove`d.
void EditTags(std::span<const std::string> add,
              std::span<const std::string> remove,
              std::vector<std::string>* tags) {
  UnionFolded(add, tags);
  std::erase_if(*tags, [&](const std::string& s) {
    return std::any_of(remove.begin(), remove.end(), [&](const std::string& r) {
      return EqualsFolded(s, r);
    });
  });
}

}  // namespace

Result<uint32_t> ProfileStore::UpdateTags(std::string_view id,
                                          std::span<const std::string> add,
                                          std::span<const std::string> remove) {
  const std::optional<uint32_t> row = FindRow(id);
  if (!row) return NoProfile(id);
  // Once the schema knows `tags` (a string array, as Write makes sure),
  // only that value's bytes change: nothing else is decoded or checked.
  const std::optional<AttrId> tags_attr = schema_.Find(kTagsAttribute);
  if (tags_attr &&
      schema_.attribute(*tags_attr).type == AttrType::kStringArray) {
    const std::string_view blob = rows_.Get(*row);
    const std::optional<DecodedValue> stored = FindValue(blob, *tags_attr);
    if (!stored || stored->tag == ValueTag::kStringArray) {
      Value tags;
      tags.type = AttrType::kStringArray;
      if (stored) {
        stored->ForEachString(
            [&](std::string_view s) { tags.strings.emplace_back(s); });
      }
      EditTags(add, remove, &tags.strings);
      ReplaceValueInBlob(blob, *tags_attr,
                         tags.strings.empty() ? nullptr : &tags,
                         &encode_buffer_);
      rows_.Set(*row, encode_buffer_);
      return *row;
    }
  }
  ProfileInput input = Editable(*row);
  Attributes& attributes = input.attributes;
  auto tags =
      std::find_if(attributes.begin(), attributes.end(),
                   [](const auto& a) { return a.first == kTagsAttribute; });
  if (tags == attributes.end()) {
    Value empty;
    empty.type = AttrType::kStringArray;
    attributes.emplace_back(kTagsAttribute, std::move(empty));
    tags = attributes.end() - 1;
  } else if (tags->second.type != AttrType::kStringArray) {
    // The stored profile is at fault, not the request: no pointer.
    return Invalid("attribute \"tags\": expected string array, got " +
                   std::string(AttrTypeName(tags->second.type)));
  }
  std::vector<std::string>& strings = tags->second.strings;
  EditTags(add, remove, &strings);
  if (strings.empty()) attributes.erase(tags);
  Result<UpsertOutcome> stored = Write(input, std::nullopt);
  if (!stored.ok()) return stored.status();
  return stored->row;
}

Result<MergeOutcome> ProfileStore::Merge(std::string_view into_id,
                                         std::string_view from_id) {
  const std::optional<uint32_t> into_row = FindRow(into_id);
  if (!into_row) return NoProfile(into_id);
  if (into_id == from_id) {
    return Invalid("cannot merge profile " + Quoted(into_id) + " into itself",
                   "/from");
  }
  const std::optional<uint32_t> from_row = FindRow(from_id);
  if (!from_row) return NoProfile(from_id);
  ProfileInput into = Editable(*into_row), from = Editable(*from_row);

  // Into's values win; from's fill only keys into has no value at, above or
  // below. Checked against into's own keys: from's may nest among
  // themselves as they did in from. `tags` alone is unioned (SPEC §1).
  Attributes& attributes = into.attributes;
  const size_t into_count = attributes.size();
  for (auto& [name, value] : from.attributes) {
    bool overlaps = false;
    for (size_t i = 0; i < into_count && !overlaps; ++i) {
      auto& [into_name, into_value] = attributes[i];
      if (into_name == name) {
        if (name == kTagsAttribute &&
            into_value.type == AttrType::kStringArray &&
            value.type == AttrType::kStringArray) {
          UnionFolded(value.strings, &into_value.strings);
        }
        overlaps = true;
      } else {
        overlaps = NestsBelow(into_name, name) || NestsBelow(name, into_name);
      }
    }
    if (!overlaps) attributes.emplace_back(std::move(name), std::move(value));
  }
  auto& identities = into.identities;
  const size_t into_identities = identities.size();
  for (auto& pair : from.identities) {
    auto into_end = identities.begin() + into_identities;
    if (std::none_of(identities.begin(), into_end, [&](const auto& mine) {
          return mine.first == pair.first;
        })) {
      identities.push_back(std::move(pair));
    }
  }
  into.events.insert(into.events.end(), from.events.begin(), from.events.end());

  Result<UpsertOutcome> stored = Write(into, *from_row);
  if (!stored.ok()) return stored.status();
  // Releases from's claims, the moved identities' included: Write claimed
  // those again for into's row, and those claims stay.
  [[maybe_unused]] const Status deleted = Delete(from_id);
  assert(deleted.ok());
  return MergeOutcome{stored->row, *from_row};
}

Result<uint32_t> ProfileStore::AppendEvents(
    std::string_view id, std::span<const ProfileInput::Event> events) {
  const std::optional<uint32_t> row = FindRow(id);
  if (!row) return NoProfile(id);
  // Events change no value, identity or customer_type, so nothing is
  // checked again: the blob gets the events appended to its own.
  std::vector<StoredEvent>& added = events_;
  added.clear();
  for (const ProfileInput::Event& e : events) {
    added.push_back(StoredEvent{InternEvent(e.name), e.at_ms});
  }
  AppendEventsToBlob(rows_.Get(*row), added, &encode_buffer_);
  rows_.Set(*row, encode_buffer_);
  return *row;
}

}  // namespace segd
