// Layer: an immutable Index over some of a live database's profiles.
//
// A live database (live/database.h) holds its profiles in a few layers, in
// the manner of Lucene's near-real-time segments: a large base, smaller
// layers of recent writes, and a tiny newest one rebuilt on every write.
// Each database row is alive in exactly one layer; the others that still
// hold an older version of it list it as dead (the version's, not the
// layer's, business: layers never change).
//
// A layer's Index has rows of its own, 0..size()-1 ("local rows"), each
// standing for one database row ("global row"): the same number when the
// layer is built over the whole row space (the base: global row r is local
// row r, and rows it does not hold are empty), else the i-th of its
// ascending rows. Local order is global order either way, so a preview's
// row order carries over.
//
// A layer also finds its profiles by id and by identity, so that a reader
// looks a profile up in the same version it evaluates.
//
// Threading: immutable once built; shared as shared_ptr<const Layer>.
// REQUIRES: the blobs it is built from stay valid and unchanged while it
// lives (a ProfileStore's blobs never move: index/blob_arena.h).
#ifndef SEGD_LIVE_LAYER_H_
#define SEGD_LIVE_LAYER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/archive.h"
#include "base/hash.h"
#include "engine/executor.h"
#include "index/index.h"
#include "index/row_table.h"
#include "index/schema.h"

namespace segd {

class ProfileStore;

// The rows that counted rules matched in one layer, kept for when the same
// rule is counted again, in the manner of Lucene's per-segment query
// cache: a layer never changes, so a rule matches the same rows in it for
// as long as the rule binds the same, which its text and the schema decide,
// and `now` too for a rule whose binding read the clock (relative dates,
// event windows). On a layer with stale rows, whose event conditions the
// event layers answer (live/database.h), a rule with one also names the
// version of the events it read, which changes with every event appended;
// its rows of an earlier version are then amended for the rows appended
// to since (Rows::Amended), rather than found again over the whole layer.
// A rule's rows are kept the second time it is counted, at any version,
// so that a rule asked once (a keystroke of an edit) costs no more than
// its count, and only in room that rules found lately do not hold: rules
// asked in turn, more of them than are kept, keep the first ones rather
// than push each other out. Rows that later writes superseded are left
// out when the rows are counted (Rows::CountAlive), not when they are
// kept.
//
// Threading: safe to use from several threads at once.
class MatchedRows {
 public:
  struct Rows {
    std::string rule;                      // the rule's JSON text
    std::shared_ptr<const Schema> schema;  // the one it was bound against
    std::optional<int64_t> now_ms;         // set when binding read the clock
    // Set when the event layers answered for stale rows: the database's
    // Snapshot::event_epoch() then.
    std::optional<uint64_t> event_epoch;
    // The rows matched: `words` (kShardWords a shard of the layer), shared
    // by the rows amended from these, but for the local rows of `flipped`
    // (ascending), whose bits are the other way.
    std::shared_ptr<const std::vector<uint64_t>> words;
    std::vector<uint32_t> flipped;
    uint64_t count = 0;  // the rows matched

    // Whether local row `local` matched.
    bool Test(uint32_t local) const;

    // The rows matched, less those of `dead` (null or empty: none), whose
    // matches `memo` keeps from one count to the next (ExcludedMatches). The
    // last answer is kept for the next count against the same `dead`.
    uint64_t CountAlive(const std::shared_ptr<const Bitmap>& dead,
                        ExcludedMatches& memo) const;

    // These rows at event epoch `epoch`, with the bits of `flips` (local
    // rows, ascending, none of them in `dead`) the other way: the rows
    // that the rule matches once events were appended to some of the
    // layer's rows, found from these for the rows appended to alone. As
    // no row of `dead` flips, as many of them match as here: the new rows'
    // count alive against `dead` follows from this one's.
    std::shared_ptr<Rows> Amended(uint64_t epoch,
                                  std::span<const uint32_t> flips,
                                  const std::shared_ptr<const Bitmap>& dead,
                                  ExcludedMatches& memo) const;
    // Tells `memo` what the last count alive found, so that a count
    // against later dead rows counts only those (rows kept from Amended).
    void Seed(ExcludedMatches& memo) const;
    // Drops these rows' entry from `memo` (rows no longer kept).
    void Forget(ExcludedMatches& memo) const;

   private:
    // The name of these rows' matches among the dead rows in the layer's
    // memo (ExcludedMatches), unique in the process.
    std::string MemoKey() const;
    const uint64_t memo_id_ = NextMemoId();
    static uint64_t NextMemoId();
    mutable std::mutex alive_mu_;
    // The `dead` of the last count, whose control block it keeps, so that
    // no other bitmap can be taken for it; and what that count found.
    mutable std::weak_ptr<const Bitmap> alive_dead_;
    mutable uint64_t alive_ = 0;
  };

  // A count's rule as the layers are asked for it: its JSON text, and the
  // text's hash, computed once per query and shared by every layer's Find.
  // REQUIRES: the text outlives it.
  struct RuleText {
    explicit RuleText(std::string_view text)
        : text(text), hash(HashBytes(text)) {}
    std::string_view text;
    uint64_t hash;
  };

  struct Found {
    std::shared_ptr<const Rows> rows;  // null: none kept
    // No rows: the rule's kept at an earlier event epoch, if any, which
    // Rows::Amended brings up to date.
    std::shared_ptr<const Rows> earlier;
    // No rows: whether to find the rule's and Keep them, if its binding
    // reads no clock, and if it does.
    bool keep = false;
    bool keep_at_now = false;
  };
  // The rows kept for `rule` bound against `schema` at `now_ms`, with
  // the events of `event_epoch` when it reads the event layers, if any;
  // else those of the latest earlier epoch (Found::earlier), if any, and
  // whether to keep them: there is room, and the rule was counted here
  // before (at the same `now_ms`, for a rule that reads the clock: the
  // server's clock moves on between two counts; at any epoch). Notes this
  // count.
  Found Find(const RuleText& rule, const Schema* schema, int64_t now_ms,
             std::optional<uint64_t> event_epoch = std::nullopt);
  // Keeps `rows` if there is still room (making it, when kMaxRules are
  // kept, from the least recently found), and returns them; or the same
  // rule's rows, if another count kept them first. Rows of an earlier
  // event epoch make way for the same rule's of a later one: epochs only
  // go forward; rows of an epoch earlier than the same rule's kept are not
  // kept.
  std::shared_ptr<const Rows> Keep(std::shared_ptr<Rows> rows);

  // Bytes of the rows kept.
  size_t MemoryBytes() const;

  // Rows amended from those kept at an earlier event epoch
  // (Rows::Amended) and kept in their place, noted by the caller.
  void NoteAmended() { amended_.fetch_add(1, std::memory_order_relaxed); }
  uint64_t amended() const { return amended_.load(std::memory_order_relaxed); }

  // Rules kept at most per layer. At 8 KiB per 65,536 rows of the layer,
  // the base of 10M profiles keeps at most 40 MiB, a layer of 512k 2 MiB.
  static constexpr size_t kMaxRules = 32;
  // Rules (at a clock) remembered as counted, kept or not; and the counts
  // after which rows not found since make room for another rule's.
  static constexpr size_t kMaxAsked = 256;

 private:
  // Every count asks every layer, and a search runs through all of a
  // layer's rules: the hash of the rows' rule sits here, beside the
  // others', so that a search reads only the rows it finds.
  struct Kept {
    std::shared_ptr<const Rows> rows;
    uint64_t rule_hash = 0;  // HashBytes(rows->rule)
    uint64_t last_used = 0;
  };
  struct Asked {
    uint64_t rule;         // the rule's hash
    uint64_t rule_at_now;  // the same, seeded with `now_ms` too
  };
  // Whether `rows` answer for `rule` bound against `schema` at `now_ms`,
  // with the events of `event_epoch`.
  static bool Names(const Rows& rows, std::string_view rule,
                    const Schema* schema, int64_t now_ms,
                    std::optional<uint64_t> event_epoch);
  // The least recently found rows when kept_ is full and they were not
  // found in the last kMaxAsked counts, else kept_.end(). REQUIRES: mu_
  // held.
  std::vector<Kept>::iterator Oldest();

  mutable std::mutex mu_;
  std::vector<Kept> kept_;
  std::vector<Asked> asked_;  // counts noted, oldest first
  uint64_t clock_ = 0;        // counts asked of the layer
  std::atomic<uint64_t> amended_{0};
};

class Layer {
 public:
  // One profile: its database row and encoded profile.
  struct Entry {
    uint32_t row;
    std::string_view blob;
  };

  // Builds a layer over `entries`, ascending by row. `whole_space`: local
  // rows are global rows (the base), which costs a blob view per row of
  // the row space rather than per profile held. An event layer (scope
  // kEvents) indexes the events alone and finds no profile by id: it
  // answers event conditions for profiles that another layer holds.
  static std::shared_ptr<const Layer> Build(
      const Schema& schema, std::vector<Entry> entries, bool whole_space,
      uint64_t serial, Index::Scope scope = Index::Scope::kAll);
  // The layer Build gives over every profile `store` holds, as it holds
  // them now, over the whole row space up to its last profile (a first
  // load): its blob views read from the store's rows, with no list of
  // entries made first, and its id and identity tables `tables`, the
  // store's own (ProfileStore::ShareTables) rather than hashed from every
  // profile again.
  static std::shared_ptr<const Layer> BuildOfStore(
      const Schema& schema, const ProfileStore& store,
      ProfileStore::SharedTables tables, uint64_t serial);

  // A layer of a merge, and its rows that later writes superseded (null:
  // none).
  struct MergeSource {
    const Layer* layer;
    const Bitmap* dead;
  };
  // The layer over the rows of `sources` not dead there, its index merged
  // from theirs (Index::Merge) and its id tables from their tables, rather
  // than built from the profiles again: what Build gives over the same
  // profiles (but for Index::Merge's one exception, which no answer
  // shows). A row of `held` (ascending by row: rows whose events were
  // appended since their layer was built, stale there) is stored as the
  // profile given there, which an event layer holds, its events read from
  // it: an index of those profiles' events alone is built, and merged as a
  // source, so that a merge costs what its held rows hold, not what the
  // event layers holding them do.
  // REQUIRES: no row alive in two sources; a held row's profile differs
  // from its source's in its events alone; `scope` kEvents: the sources
  // are event layers, and `held` is empty.
  static std::shared_ptr<const Layer> Merge(
      const Schema& schema, std::span<const MergeSource> sources,
      std::span<const Entry> held, uint64_t serial,
      Index::Scope scope = Index::Scope::kAll);
  // The event layer merged from event layers.
  using EventSource = MergeSource;
  static std::shared_ptr<const Layer> MergeEvents(
      const Schema& schema, std::span<const EventSource> sources,
      uint64_t serial);

  // A number no other layer of the database has.
  uint64_t serial() const { return serial_; }
  const Index& index() const { return *index_; }
  // Profiles held, alive or dead.
  uint32_t size() const { return size_; }
  bool whole_space() const { return rows_.empty() && size_ > 0; }
  // The id and identity tables, which hold global rows in a layer over
  // the whole row space: for a restored store to read (ProfileStore::
  // RestoreTables).
  ProfileStore::SharedTables tables() const { return {by_id_, by_identity_}; }

  uint32_t GlobalRow(uint32_t local) const {
    return rows_.empty() ? local : rows_[local];
  }
  // The first local row whose global row is `global` or later.
  uint32_t LowerBound(uint32_t global) const;
  // The local row of `global`, if the layer holds it.
  std::optional<uint32_t> LocalRow(uint32_t global) const;
  // The same, for a row the layer is known to hold (a base over the row
  // space need not read its blob table to know it).
  uint32_t HeldLocalRow(uint32_t global) const {
    return rows_.empty() ? global : LowerBound(global);
  }
  // The rows held, in local order, as global rows.
  template <typename Fn>
  void ForEachRow(Fn&& fn) const;

  // Local row of the profile with this id or identity, if held here.
  // `hash` is IdKeyHash(id), which a lookup across layers computes once.
  std::optional<uint32_t> FindId(std::string_view id, uint64_t hash) const;
  std::optional<uint32_t> FindIdentity(std::string_view channel,
                                       std::string_view handle) const;

  // What the layer's counts learned of its rows that later writes
  // superseded (ExcludedMatches): not part of the layer's contents, which
  // never change.
  ExcludedMatches& excluded_matches() const { return excluded_matches_; }
  // The rows that counted rules matched here (MatchedRows): not part of
  // the layer's contents either.
  MatchedRows& matched_rows() const { return matched_rows_; }

  // The index's bytes plus the layer's own tables.
  size_t MemoryBytes() const;

  // Archives the layer (base/archive.h): all but its blobs, which the
  // caller saves, and gives Load again, one per local row (empty where the
  // base holds no profile), with the scope it was built with. Load returns
  // null when the archive does not hold such a layer over `blobs`.
  void Save(ArchiveWriter& out) const;
  static std::shared_ptr<const Layer> Load(ArchiveReader& in,
                                           std::vector<std::string_view> blobs,
                                           Index::Scope scope);

  // Calls fn(local, hash) for each entry of the id table, and of the
  // identity table: the hashes ProfileStore's tables hold.
  template <typename Fn>
  void ForEachId(Fn&& fn) const {
    by_id_->ForEach([&](uint64_t hash, uint32_t local) { fn(local, hash); });
  }
  size_t identity_entries() const { return by_identity_->size(); }
  template <typename Fn>
  void ForEachIdentity(Fn&& fn) const {
    by_identity_->ForEach(
        [&](uint64_t hash, uint32_t local) { fn(local, hash); });
  }

 private:
  uint64_t serial_ = 0;
  uint32_t size_ = 0;
  std::shared_ptr<const Index> index_;
  std::vector<uint32_t> rows_;  // local -> global; empty: the same
  // Never changed once built; a first load's are shared with the store.
  static std::shared_ptr<const RowTable> NoEntries();
  // Takes tables built for this layer alone.
  void SetTables(RowTable by_id, RowTable by_identity);
  std::shared_ptr<const RowTable> by_id_ = NoEntries();
  std::shared_ptr<const RowTable> by_identity_ = NoEntries();
  mutable ExcludedMatches excluded_matches_;
  mutable MatchedRows matched_rows_;
};

template <typename Fn>
void Layer::ForEachRow(Fn&& fn) const {
  if (!rows_.empty()) {
    for (uint32_t local = 0; local < rows_.size(); ++local) {
      fn(local, rows_[local]);
    }
    return;
  }
  const Index& ix = *index_;
  for (uint32_t local = 0; local < ix.row_count(); ++local) {
    if (!ix.blob(local).empty()) fn(local, local);
  }
}

// Hashes of ids and identities, shared by the layers and their tests.
uint64_t IdKeyHash(std::string_view id);
uint64_t IdentityKeyHash(std::string_view channel, std::string_view handle);

}  // namespace segd

#endif  // SEGD_LIVE_LAYER_H_
