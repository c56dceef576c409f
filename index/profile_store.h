// ProfileStore: the system of record for profiles, keyed by external id.
//
// Each profile lives at a row, fixed when it is first created; replacing a
// profile keeps its row, deleting it frees nothing (rows are never reused, so
// row order stays creation order). The store enforces SPEC §1 on every write:
// types fixed at first sight, customer_type derivation, identities unique
// across profiles. Every write is a whole operation (an upsert, a patch, a
// tag update, a merge, appended events): on any error nothing changes, not
// even the schema, and on success it returns the row(s) it wrote so that the
// caller can index them again. Edits decode the stored profile back into a
// ProfileInput (ToProfileInput), change it, and store it through the same
// checks as Upsert, at the same row; appended events, which change nothing
// those checks look at, are added to the stored bytes as they are.
//
// Threading: one writer at a time, and no reader while it writes. Readers
// query an Index built from the store (index/index.h), not the store itself.
#ifndef SEGD_INDEX_PROFILE_STORE_H_
#define SEGD_INDEX_PROFILE_STORE_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "base/status.h"
#include "index/blob_arena.h"
#include "index/profile_codec.h"
#include "index/row_table.h"
#include "index/schema.h"

namespace segd {

inline constexpr size_t kMaxIdBytes = 256;

struct UpsertOutcome {
  uint32_t row;
  bool created;  // false when an existing profile was replaced
};

// What a patch says (SPEC §1 "Patch").
struct ProfilePatch {
  // By flattened name, applied in order. A Value with absent=true (JSON null
  // or []) removes the key and every key nested below it ("address": null
  // removes "address.city"). Any other value replaces the key, and every key
  // nested below or above it ("address": "Pune" replaces "address.city",
  // "address.city" replaces a plain "address"), as JSON merge patch does.
  // Nested objects in the patch arrive already flattened, so they merge key
  // by key; arrays replace whole. Setting `customer_type` makes it set (kept
  // until removed); null removes it, so it is derived again.
  std::vector<std::pair<std::string, Value>> attributes;
  // Removes every identity of the profile before `identities` apply
  // (`"identities": null`).
  bool clear_identities = false;
  // channel -> handle, replacing every handle of that channel; nullopt (a
  // null handle) removes the channel.
  std::vector<std::pair<std::string, std::optional<std::string>>> identities;
  std::vector<ProfileInput::Event> events;  // appended
};

struct MergeOutcome {
  uint32_t into_row;  // rewritten
  uint32_t from_row;  // now dead
};

class ProfileStore {
 public:
  // The id table (live rows by IdHash of their ids) and the identity table
  // (by IdentityHash of each identity a live row holds), read-only.
  struct SharedTables {
    std::shared_ptr<const RowTable> ids;
    std::shared_ptr<const RowTable> identities;
  };

  ProfileStore();

  const Schema& schema() const { return schema_; }
  // Declares an attribute type before data arrives (SPEC §1 "schema").
  Status Declare(std::string_view name, AttrType type) {
    return schema_.Declare(name, type);
  }

  // Creates the profile, or replaces the one with the same id in place.
  // On error nothing changes. Errors name the attribute or identity at fault.
  Result<UpsertOutcome> Upsert(const ProfileInput& input);

  // Room for `profiles` more profiles without growing the row space or the
  // id table, and in the identity table for as many identities each as
  // the profiles held now have. A large load sizes them from its first
  // records, rather than copying them into fresh pages at each doubling.
  // From 65,536 profiles on, the blob pages are also made ready ahead
  // (BlobArena::set_pages_ahead), from then on.
  void Reserve(size_t profiles);

  // Starts loading the table slots an Upsert of `input` will probe, so that
  // a loader can overlap those memory reads with earlier records' work.
  void Prefetch(const ProfileInput& input) const;

  // Removes the profile; its row stays dead. kNotFound if the id is unknown.
  Status Delete(std::string_view id);

  // Merges `patch` into the profile (SPEC §1 "Patch") and returns its row.
  // kNotFound for an unknown id; kInvalid for a reserved name (`id`,
  // `identities`, `events`) among the attributes; otherwise Upsert's errors.
  Result<uint32_t> Patch(std::string_view id, const ProfilePatch& patch);

  // Edits the `tags` string array. Tags compare with ASCII case folded, as
  // rules compare strings: adds the tags not present yet (existing tags keep
  // their place and spelling, added ones follow in the order given, a tag
  // given twice is added once), then removes every tag equal to one in
  // `remove` (removing `vip` removes `VIP`). Creates `tags` when absent; an
  // empty result removes it. kNotFound for an unknown id; kInvalid when the
  // profile's `tags` is not a string array.
  Result<uint32_t> UpdateTags(std::string_view id,
                              std::span<const std::string> add,
                              std::span<const std::string> remove);

  // Merges profile `from_id` into `into_id` (SPEC §1 "Merge") and deletes
  // `from_id`. Into's values win; from's fill the keys into lacks (a key of
  // from nested below or above one of into's is left out: into's object or
  // value wins whole). Only `tags` is unioned when both hold it: into's
  // tags, then from's that into lacks (ASCII case folded), in from's order;
  // any other string array is a value like the rest. Identities are unioned
  // by channel: where both have a channel, into's handles stay and from's
  // are released.
  // Events are concatenated, into's first. customer_type: into's if set,
  // else from's if set, else derived again. kNotFound for an unknown id
  // (`into_id` is checked first), kInvalid for a profile merged into itself.
  Result<MergeOutcome> Merge(std::string_view into_id,
                             std::string_view from_id);

  // Appends `events` to the profile and returns its row; kNotFound for an
  // unknown id.
  Result<uint32_t> AppendEvents(std::string_view id,
                                std::span<const ProfileInput::Event> events);

  // Restoring a saved store (a snapshot), in this order: the schema; the
  // pages holding the encoded profiles (index/blob_arena.h); the row space,
  // each live row's blob placed in a page; then the id and identity
  // tables: `shared`, a layer's tables over the row space (null: none),
  // which the store reads as ShareTables leaves them, stale entries and
  // all, and its own tables, which `fill_ids` and `fill_identities` fill
  // with the other live rows' entries (hashes as a RowTable's ForEach gives
  // them), at once on two threads, each table sized first for the entries
  // it will get at most. REQUIRES: an empty store; blobs made by this
  // store's encoder with this schema, and entries that match them (a
  // snapshot's checksum vouches for both).
  void RestoreSchema(const Schema& schema);
  uint32_t RestorePage(PageRef page) { return rows_.AdoptPage(page.release()); }
  void RestoreRows(std::vector<BlobArena::Placed> rows);
  void RestoreTables(SharedTables shared, size_t ids,
                     const std::function<void(RowTable&)>& fill_ids,
                     size_t identities,
                     const std::function<void(RowTable&)>& fill_identities);

  // The hashes of the id and identity tables. A live database's layers
  // (live/layer.h) hash with them too, so that a snapshot's load fills the
  // store's tables from the layers' entries, without the keys.
  static uint64_t IdHash(std::string_view id);
  static uint64_t IdentityHash(std::string_view channel,
                               std::string_view handle);

  std::optional<uint32_t> FindRow(std::string_view id) const;
  // Loads ahead what FindRow(id) reads, in kFindSteps steps, each wanting
  // the loads of the one before done: the table's slot, where the
  // candidate's profile lies, its stored id. Taking step s for the id some
  // (kFindSteps - s) × k places ahead of the one being found overlaps a
  // batch's misses: each step finds the loads of the one before it done.
  // `id_hash` is IdHash(id), which a caller taking every step hashes once.
  // With `whole_blob`, the last step loads the candidate's whole profile
  // (its first BlobArena::kWholePrefetchBytes), for a caller that goes on
  // to read it all (an event append copies it).
  static constexpr int kFindSteps = 3;
  void PrefetchFind(uint64_t id_hash, int step, bool whole_blob = false) const;
  std::optional<uint32_t> FindIdentity(std::string_view channel,
                                       std::string_view handle) const;

  // Rows ever created, live or not: the size of the row space.
  uint32_t row_count() const { return rows_.size(); }
  uint64_t live_count() const { return live_count_; }
  bool is_live(uint32_t row) const { return !rows_.Get(row).empty(); }
  // One past the last live row; 0 when none is live. Steps back over the
  // dead rows at the end.
  uint32_t live_end() const {
    uint32_t end = live_count_ > 0 ? row_count() : 0;
    while (end > 0 && !is_live(end - 1)) --end;
    return end;
  }
  // The encoded profile (profile_codec.h); empty for a dead row.
  std::string_view blob(uint32_t row) const { return rows_.Get(row); }

  // The encoded profiles' pages (index/blob_arena.h): the row's profile is
  // read from `copy` from now on, the same bytes in a page a layer pins;
  // pages are filled this far.
  void Repoint(uint32_t row, std::string_view copy) {
    rows_.Repoint(row, copy);
  }
  void set_page_fill(size_t bytes) { rows_.set_page_fill(bytes); }
  const BlobArena& blobs() const { return rows_; }

  // The tables of every live profile, for a layer that holds them all
  // (Layer::BuildOfStore) to keep rather than copy: 384 MB at 10M
  // profiles. The first call hands over the store's own tables. The store
  // goes on reading them as they were, beside tables of its own that take
  // every entry written later; its lookups check the profile a candidate
  // row holds, so the entries that later writes made stale in the shared
  // ones (a profile deleted, an identity let go) are stepped over. A later
  // call gives the same tables while no entry was written or erased since;
  // otherwise nullopt, and a layer hashes its profiles (Layer::Build).
  std::optional<SharedTables> ShareTables();

  // The store's own tables: every entry until ShareTables, then those
  // written since.
  const RowTable& id_table() const { return row_by_id_; }
  const RowTable& identity_table() const { return identity_owner_; }

  // Bytes held: the encoded profiles, the store's own tables, and the
  // shared ones once no layer keeps them (a merge replaced the layer that
  // took them; the store still reads their entries).
  size_t MemoryBytes() const {
    size_t bytes = rows_.MemoryBytes() + row_by_id_.MemoryBytes() +
                   identity_owner_.MemoryBytes();
    for (const auto* table : {&shared_.ids, &shared_.identities}) {
      if (*table && table->use_count() == 1) bytes += (*table)->MemoryBytes();
    }
    return bytes;
  }

 private:
  // Whether the profile at `row` claims (channel, handle).
  bool HasIdentity(uint32_t row, std::string_view channel,
                   std::string_view handle) const;
  void ReleaseIdentities(uint32_t row);
  // Upsert, except that identities owned by the profile at `yielding` may be
  // claimed too: the caller deletes that profile right after (Merge).
  Result<UpsertOutcome> Write(const ProfileInput& input,
                              std::optional<uint32_t> yielding);
  // Patch's path for a patch of values alone, each of a name the schema
  // holds with no key nested below or above it, customer_type aside: only
  // those values' bytes change (and a derived customer_type's), nothing
  // else is decoded or checked. False, with nothing changed, for a patch
  // that needs the whole path, and for one with a value of the wrong type,
  // whose error the whole path names.
  bool PatchValues(uint32_t row, const ProfilePatch& patch);
  // Whether the schema holds a key nested below `name` or above it. Adds
  // the dotted prefixes of attributes new since the last call to
  // prefixes_ first.
  bool HasNestedRelative(std::string_view name);
  // The live profile at `row` as an input that Write stores back unchanged:
  // its customer_type only when set (a derived one is derived again).
  ProfileInput Editable(uint32_t row) const;
  // The schema's lookups, through attribute_cache_ and event_cache_.
  // FindAttribute gives kNoId for a name the schema does not hold: ids go
  // without std::optional here, whose flag, stored beside the id and read
  // back with it, stalled the CPU on every attribute of every record.
  AttrId FindAttribute(std::string_view name);
  EventId InternEvent(std::string_view name);

  Schema schema_;
  AttrId customer_type_attr_;
  BlobArena rows_;
  // The tables' entries: those shared with a layer (null until then),
  // perhaps stale since, and the store's own, exact, written since. Keys
  // live in the stored profiles; the tables hold hashes and rows. Every
  // change goes through the four calls below, which note that the shared
  // tables no longer hold the store's entries exactly.
  void InsertId(std::string_view id, uint32_t row);
  void EraseId(std::string_view id, uint32_t row);
  void InsertIdentity(std::string_view channel, std::string_view handle,
                      uint32_t row);
  void EraseIdentity(std::string_view channel, std::string_view handle,
                     uint32_t row);
  SharedTables shared_;
  bool shared_exact_ = false;
  RowTable row_by_id_;
  RowTable identity_owner_;
  uint64_t live_count_ = 0;
  // Attribute and event ids by name, through a small direct-mapped cache
  // ahead of the schema's maps: records repeat the same few dozen names.
  static constexpr size_t kCacheSlots = 1024;
  static constexpr uint32_t kNoId = ~uint32_t{0};
  std::array<AttrId, kCacheSlots> attribute_cache_;
  std::array<EventId, kCacheSlots> event_cache_;

  // Scratch for Upsert, kept between calls so that it rarely allocates.
  struct Resolved {
    AttrId attr;  // kNoId: a new attribute, added on commit
    const Value* value;
    const std::string* name;
    bool as_string;  // a date-looking value of a declared string attribute
  };
  std::vector<AttrId> ids_;          // per input attribute, or kNoId
  std::vector<uint8_t> superseded_;  // per input attribute
  std::vector<uint32_t> stamp_;      // per attribute: last generation naming it
  uint32_t generation_ = 0;
  std::vector<Resolved> resolved_;
  std::vector<StoredEvent> events_;
  std::vector<std::pair<std::string_view, std::string_view>> identity_views_;
  std::string encode_buffer_;
  // Scratch for PatchValues: the keys checked, and a second buffer.
  struct PatchedKey {
    AttrId attr;
    const Value* value;
    bool as_string;
  };
  static constexpr size_t kMaxPatchedValues = 32;  // more: the whole path
  std::vector<PatchedKey> patched_;
  std::string patch_buffer_;
  // The proper prefixes of the schema's dotted names ("address" of
  // "address.city"), through attribute prefixed_ - 1.
  std::unordered_set<std::string, StringHash, std::equal_to<>> prefixes_;
  AttrId prefixed_ = 0;
  // The identities a rewritten profile held, and whether each identity of
  // the record is new to it (claimed, checked for a conflict).
  std::vector<std::pair<std::string_view, std::string_view>> held_;
  std::vector<uint8_t> claims_;
  // Scratch for identity checks.
  mutable std::vector<std::pair<std::string_view, std::string_view>>
      stored_identities_;
};

}  // namespace segd

#endif  // SEGD_INDEX_PROFILE_STORE_H_
