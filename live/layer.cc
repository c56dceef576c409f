#include "live/layer.h"

#include <tbb/parallel_for.h>
#include <tbb/parallel_invoke.h>

#include <algorithm>
#include <cassert>
#include <utility>

#include "base/hash.h"
#include "base/merge_runs.h"
#include "index/blob_page.h"
#include "index/profile_codec.h"
#include "index/profile_store.h"

namespace segd {
namespace {

// Blob views by local row, and a pin on each page they lie in: the store
// lets go of a page once no current profile lies there, while a layer may
// still be read (index/blob_arena.h).
class BlobRows final : public RowSource {
 public:
  explicit BlobRows(std::vector<std::string_view> blobs)
      : blobs_(std::move(blobs)) {
    for (std::string_view blob : blobs_) {
      if (!blob.empty()) pins_.Add(blob.data());
    }
  }
  uint32_t row_count() const override {
    return static_cast<uint32_t>(blobs_.size());
  }
  std::string_view blob(uint32_t row) const override { return blobs_[row]; }

 private:
  std::vector<std::string_view> blobs_;
  PagePins pins_;
};

// From this many profiles a layer fills its id tables beside its index
// build; a small one (the newest, rebuilt on every write) does both in
// turn, without waking another thread.
constexpr size_t kOverlapTablesRows = size_t{1} << 16;

// Rows whose identities one task of a build hashes into one vector.
constexpr size_t kIdentitySpanRows = 4096;

}  // namespace

uint64_t IdKeyHash(std::string_view id) { return ProfileStore::IdHash(id); }

uint64_t IdentityKeyHash(std::string_view channel, std::string_view handle) {
  return ProfileStore::IdentityHash(channel, handle);
}

void Layer::SetTables(RowTable by_id, RowTable by_identity) {
  by_id_ = std::make_shared<const RowTable>(std::move(by_id));
  by_identity_ = std::make_shared<const RowTable>(std::move(by_identity));
}

std::shared_ptr<const RowTable> Layer::NoEntries() {
  static const auto* const empty =
      new std::shared_ptr<const RowTable>(std::make_shared<const RowTable>());
  return *empty;
}

std::shared_ptr<const Layer> Layer::Build(const Schema& schema,
                                          std::vector<Entry> entries,
                                          bool whole_space, uint64_t serial,
                                          Index::Scope scope) {
  auto layer = std::make_shared<Layer>();
  layer->serial_ = serial;
  layer->size_ = static_cast<uint32_t>(entries.size());
  std::vector<std::string_view> blobs;
  if (whole_space && !entries.empty()) {
    blobs.resize(entries.back().row + 1);
    for (const Entry& e : entries) blobs[e.row] = e.blob;
  } else {
    blobs.reserve(entries.size());
    layer->rows_.reserve(entries.size());
    for (const Entry& e : entries) {
      blobs.push_back(e.blob);
      layer->rows_.push_back(e.row);
    }
  }
  if (scope == Index::Scope::kEvents) {
    layer->index_ = Index::Build(
        schema, std::make_shared<BlobRows>(std::move(blobs)), scope);
    return layer;
  }
  auto build_index = [&] {
    layer->index_ =
        Index::Build(schema, std::make_shared<BlobRows>(std::move(blobs)));
  };
  // Ids and identities are hashed in parallel, then inserted in order. A
  // span of rows keeps its identities in one vector, each in 8 bytes
  // (RowTable::Pack), rather than a vector a row, which at 10M profiles
  // would be 10M allocations and 0.7 GB of fresh memory.
  std::vector<uint64_t> id_hashes(entries.size());
  const size_t spans =
      (entries.size() + kIdentitySpanRows - 1) / kIdentitySpanRows;
  std::vector<std::vector<uint64_t>> identity_keys(spans);
  tbb::parallel_for(
      tbb::blocked_range<size_t>(0, spans, 1),
      [&](const tbb::blocked_range<size_t>& range) {
        DecodedProfile p;
        for (size_t span = range.begin(); span != range.end(); ++span) {
          std::vector<uint64_t>& keys = identity_keys[span];
          const size_t end =
              std::min(entries.size(), (span + 1) * kIdentitySpanRows);
          for (size_t i = span * kIdentitySpanRows; i < end; ++i) {
            const uint32_t local =
                whole_space ? entries[i].row : static_cast<uint32_t>(i);
            id_hashes[i] = IdKeyHash(DecodeId(entries[i].blob));
            // The identities; values are stepped over, not decoded.
            DecodeSelected(entries[i].blob, {}, DecodeScope::kAll, &p);
            const auto& ids = p.identities;
            for (size_t k = 0; k < ids.size(); ++k) {
              // A pair named twice is held once, as the store holds it.
              if (std::find(ids.begin(), ids.begin() + k, ids[k]) !=
                  ids.begin() + k) {
                continue;
              }
              keys.push_back(RowTable::Pack(
                  IdentityKeyHash(ids[k].first, ids[k].second), local));
            }
          }
        }
      });
  // The tables are filled on one thread, in order, while the index is
  // built beside them: in a large layer (a load, the base) the inserts'
  // cache misses would otherwise leave the other cores idle. They are
  // sized first: each doubling of a 10M-row table copied it into pages
  // the kernel had to fault in and zero.
  RowTable by_id, by_identity;
  auto fill_tables = [&] {
    size_t identities = 0;
    for (const auto& keys : identity_keys) identities += keys.size();
    if (!entries.empty()) by_id.Reserve(entries.size());
    if (identities > 0) by_identity.Reserve(identities);
    constexpr size_t kAhead = 8;
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i + kAhead < entries.size()) {
        by_id.Prefetch(id_hashes[i + kAhead]);
      }
      const uint32_t local =
          whole_space ? entries[i].row : static_cast<uint32_t>(i);
      by_id.Insert(id_hashes[i], local);
    }
    for (const auto& keys : identity_keys) {
      for (uint64_t key : keys) {
        by_identity.InsertPacked(key);
      }
    }
  };
  if (entries.size() >= kOverlapTablesRows) {
    tbb::parallel_invoke(fill_tables, build_index);
  } else {
    fill_tables();
    build_index();
  }
  layer->SetTables(std::move(by_id), std::move(by_identity));
  return layer;
}

std::shared_ptr<const Layer> Layer::BuildOfStore(
    const Schema& schema, const ProfileStore& store,
    ProfileStore::SharedTables tables, uint64_t serial) {
  const uint32_t end = store.live_end();
  auto layer = std::make_shared<Layer>();
  layer->serial_ = serial;
  layer->size_ = static_cast<uint32_t>(store.live_count());
  std::vector<std::string_view> blobs(end);
  for (uint32_t row = 0; row < end; ++row) blobs[row] = store.blob(row);
  // The store holds no profile but these: its tables hold what hashing
  // them would insert, perhaps in more slots (sized ahead) and in another
  // order within a probe run, which no lookup sees.
  layer->by_id_ = std::move(tables.ids);
  layer->by_identity_ = std::move(tables.identities);
  layer->index_ =
      Index::Build(schema, std::make_shared<BlobRows>(std::move(blobs)));
  return layer;
}

std::shared_ptr<const Layer> Layer::MergeEvents(
    const Schema& schema, std::span<const EventSource> sources,
    uint64_t serial) {
  return Merge(schema, sources, {}, serial, Index::Scope::kEvents);
}

std::shared_ptr<const Layer> Layer::Merge(const Schema& schema,
                                          std::span<const MergeSource> sources,
                                          std::span<const Entry> held,
                                          uint64_t serial, Index::Scope scope) {
  assert(scope == Index::Scope::kAll || held.empty());
  // The rows kept, a run per source ascending by global row: each as its
  // global row above its place in `kept`, which says where it comes from.
  struct Kept {
    uint32_t source;
    uint32_t local;
  };
  std::vector<Kept> kept;
  std::vector<uint64_t> words, scratch;
  std::vector<size_t> runs;
  for (uint32_t i = 0; i < sources.size(); ++i) {
    const MergeSource& src = sources[i];
    runs.push_back(words.size());
    src.layer->ForEachRow([&](uint32_t local, uint32_t row) {
      if (src.dead != nullptr && src.dead->contains(local)) return;
      words.push_back(uint64_t{row} << 32 | kept.size());
      kept.push_back(Kept{i, local});
    });
  }
  MergeRuns(words, runs, scratch);

  auto layer = std::make_shared<Layer>();
  layer->serial_ = serial;
  layer->size_ = static_cast<uint32_t>(words.size());
  // The sources' indexes; an index of the held rows' events follows.
  std::vector<Index::MergeSource> indexes(sources.size());
  for (uint32_t i = 0; i < sources.size(); ++i) {
    indexes[i].index = &sources[i].layer->index();
    indexes[i].to_row.assign(indexes[i].index->row_count(), Index::kDropped);
  }
  // The held rows kept, whose events an index of their own gives.
  std::vector<std::string_view> held_blobs;
  std::vector<uint32_t> held_to_row;
  std::vector<Kept> moved;  // their rows in the sources
  std::vector<std::string_view> blobs(words.size());
  layer->rows_.resize(words.size());
  size_t next_held = 0;
  for (uint32_t local = 0; local < words.size(); ++local) {
    const Kept& k = kept[static_cast<uint32_t>(words[local])];
    const uint32_t row = static_cast<uint32_t>(words[local] >> 32);
    indexes[k.source].to_row[k.local] = local;
    layer->rows_[local] = row;
    blobs[local] = indexes[k.source].index->blob(k.local);
    while (next_held < held.size() && held[next_held].row < row) ++next_held;
    if (next_held < held.size() && held[next_held].row == row) {
      blobs[local] = held[next_held].blob;
      held_blobs.push_back(blobs[local]);
      held_to_row.push_back(local);
      moved.push_back(k);
    }
  }
  for (const Kept& k : moved) {
    Index::MergeSource& src = indexes[k.source];
    if (src.events_to_row.empty()) src.events_to_row = src.to_row;
    src.events_to_row[k.local] = Index::kDropped;
  }
  std::shared_ptr<const Index> held_events;
  if (!held_blobs.empty()) {
    held_events =
        Index::Build(schema, std::make_shared<BlobRows>(std::move(held_blobs)),
                     Index::Scope::kEvents);
    indexes.push_back(Index::MergeSource{
        held_events.get(),
        std::vector<uint32_t>(held_to_row.size(), Index::kDropped),
        std::move(held_to_row)});
  }
  layer->index_ = Index::Merge(
      schema, std::make_shared<BlobRows>(std::move(blobs)), indexes, scope);
  if (scope == Index::Scope::kEvents) return layer;

  // The id tables take the sources' entries, renumbered: a profile's id
  // and identities are its own, whatever events were appended.
  size_t identities = 0;
  for (uint32_t i = 0; i < sources.size(); ++i) {
    sources[i].layer->ForEachIdentity([&](uint32_t local, uint64_t) {
      identities += indexes[i].to_row[local] != Index::kDropped;
    });
  }
  RowTable by_id, by_identity;
  if (layer->size_ > 0) by_id.Reserve(layer->size_);
  if (identities > 0) by_identity.Reserve(identities);
  for (uint32_t i = 0; i < sources.size(); ++i) {
    const std::vector<uint32_t>& to_row = indexes[i].to_row;
    sources[i].layer->ForEachId([&](uint32_t local, uint64_t hash) {
      if (to_row[local] != Index::kDropped) {
        by_id.Insert(hash, to_row[local]);
      }
    });
    sources[i].layer->ForEachIdentity([&](uint32_t local, uint64_t hash) {
      if (to_row[local] != Index::kDropped) {
        by_identity.Insert(hash, to_row[local]);
      }
    });
  }
  layer->SetTables(std::move(by_id), std::move(by_identity));
  return layer;
}

uint32_t Layer::LowerBound(uint32_t global) const {
  if (rows_.empty()) return std::min(global, index_->row_count());
  return static_cast<uint32_t>(
      std::lower_bound(rows_.begin(), rows_.end(), global) - rows_.begin());
}

std::optional<uint32_t> Layer::LocalRow(uint32_t global) const {
  if (rows_.empty()) {
    if (global < index_->row_count() && !index_->blob(global).empty()) {
      return global;
    }
    return std::nullopt;
  }
  const uint32_t local = LowerBound(global);
  if (local < rows_.size() && rows_[local] == global) return local;
  return std::nullopt;
}

std::optional<uint32_t> Layer::FindId(std::string_view id,
                                      uint64_t hash) const {
  return by_id_->Find(hash, [&](uint32_t local) {
    return DecodeId(index_->blob(local)) == id;
  });
}

std::optional<uint32_t> Layer::FindIdentity(std::string_view channel,
                                            std::string_view handle) const {
  return by_identity_->Find(
      IdentityKeyHash(channel, handle), [&](uint32_t local) {
        DecodedProfile p;
        DecodeProfile(index_->blob(local), &p);
        return std::find(p.identities.begin(), p.identities.end(),
                         std::pair(channel, handle)) != p.identities.end();
      });
}

bool MatchedRows::Rows::Test(uint32_t local) const {
  const bool bit = ((*words)[local / 64] >> (local % 64)) & 1;
  return bit != std::binary_search(flipped.begin(), flipped.end(), local);
}

uint64_t MatchedRows::Rows::NextMemoId() {
  static std::atomic<uint64_t> next{0};
  return next.fetch_add(1, std::memory_order_relaxed) + 1;
}

std::string MatchedRows::Rows::MemoKey() const {
  std::string key(1, 'm');  // a condition of its own among the layer's
  key.append(reinterpret_cast<const char*>(&memo_id_), sizeof(memo_id_));
  return key;
}

uint64_t MatchedRows::Rows::CountAlive(
    const std::shared_ptr<const Bitmap>& dead, ExcludedMatches& memo) const {
  if (dead == nullptr || roaring_bitmap_is_empty(dead->get())) return count;
  {
    std::lock_guard<std::mutex> lock(alive_mu_);
    if (!alive_dead_.owner_before(dead) && !dead.owner_before(alive_dead_)) {
      return alive_;
    }
  }
  const uint64_t gone = *memo.Count(
      MemoKey(), dead, UINT64_MAX, [this](const roaring_bitmap_t* rows) {
        const std::vector<uint64_t>& w = *words;
        uint64_t n = 0;
        for (uint32_t s = 0; s < w.size() / kShardWords; ++s) {
          n += AndCountShard(rows, s, w.data() + size_t{s} * kShardWords);
        }
        // A flipped row of `rows` counts if it matches now, not as its word
        // says.
        for (uint32_t local : flipped) {
          if (!roaring_bitmap_contains(rows, local)) continue;
          const bool bit = (w[local / 64] >> (local % 64)) & 1;
          n = bit ? n - 1 : n + 1;
        }
        return n;
      });
  std::lock_guard<std::mutex> lock(alive_mu_);
  alive_dead_ = dead;
  alive_ = count - gone;
  return alive_;
}

std::shared_ptr<MatchedRows::Rows> MatchedRows::Rows::Amended(
    uint64_t epoch, std::span<const uint32_t> flips,
    const std::shared_ptr<const Bitmap>& dead, ExcludedMatches& memo) const {
  assert(std::is_sorted(flips.begin(), flips.end()));
  auto rows = std::make_shared<Rows>();
  rows->rule = rule;
  rows->schema = schema;
  rows->now_ms = now_ms;
  rows->event_epoch = epoch;
  rows->words = words;
  int64_t change = 0;
  for (uint32_t local : flips) change += Test(local) ? -1 : 1;
  rows->count = count + change;
  // The flipped rows as a sorted symmetric difference: a row flipped twice
  // is as its word says again.
  rows->flipped.reserve(flipped.size() + flips.size());
  std::set_symmetric_difference(flipped.begin(), flipped.end(), flips.begin(),
                                flips.end(), std::back_inserter(rows->flipped));
  // Past one flip for 64 words (a row in 4,096 of the layer's row space),
  // the words are copied with the flips in them: a test and a count stay
  // a read of a word, and a count's walk of the flips stays short.
  if (rows->flipped.size() * 64 > words->size()) {
    auto own = std::make_shared<std::vector<uint64_t>>(*words);
    for (uint32_t local : rows->flipped) {
      (*own)[local / 64] ^= uint64_t{1} << (local % 64);
    }
    rows->words = std::move(own);
    rows->flipped.clear();
  }
  // No dead row flips, so as many dead rows match as here.
  if (dead != nullptr && !roaring_bitmap_is_empty(dead->get())) {
    rows->alive_dead_ = dead;
    rows->alive_ = CountAlive(dead, memo) + change;
  }
  return rows;
}

void MatchedRows::Rows::Seed(ExcludedMatches& memo) const {
  std::lock_guard<std::mutex> lock(alive_mu_);
  if (const std::shared_ptr<const Bitmap> dead = alive_dead_.lock()) {
    memo.Seed(MemoKey(), dead, count - alive_);
  }
}

void MatchedRows::Rows::Forget(ExcludedMatches& memo) const {
  memo.Forget(MemoKey());
}

bool MatchedRows::Names(const Rows& rows, std::string_view rule,
                        const Schema* schema, int64_t now_ms,
                        std::optional<uint64_t> event_epoch) {
  return rows.schema.get() == schema &&
         rows.now_ms.value_or(now_ms) == now_ms &&
         rows.event_epoch == event_epoch && rows.rule == rule;
}

MatchedRows::Found MatchedRows::Find(const RuleText& rule, const Schema* schema,
                                     int64_t now_ms,
                                     std::optional<uint64_t> event_epoch) {
  std::lock_guard<std::mutex> lock(mu_);
  ++clock_;
  Kept* earlier = nullptr;  // the same rule's at the latest earlier epoch
  bool later = false;       // the same rule's kept at a later epoch
  for (Kept& k : kept_) {
    const std::optional<uint64_t>& kept_epoch = k.rows->event_epoch;
    if (k.rule_hash != rule.hash ||
        !Names(*k.rows, rule.text, schema, now_ms, kept_epoch)) {
      continue;
    }
    if (kept_epoch == event_epoch) {
      k.last_used = clock_;
      return Found{k.rows, nullptr};
    }
    later |= event_epoch < kept_epoch;
    if (event_epoch && kept_epoch && kept_epoch < event_epoch &&
        (earlier == nullptr || earlier->rows->event_epoch < kept_epoch)) {
      earlier = &k;
    }
  }
  if (earlier != nullptr) earlier->last_used = clock_;
  // A count at another epoch is the same rule's, as far as asking goes:
  // what it matched at one is amended for the next. Seeded from the text's
  // hash, which the query found once: every layer it asks in vain comes
  // here.
  auto seeded = [&rule](uint64_t seed) {
    return HashBytes(std::string_view(reinterpret_cast<const char*>(&rule.hash),
                                      sizeof(rule.hash)),
                     seed);
  };
  const Asked now{seeded(0), seeded(static_cast<uint64_t>(now_ms))};
  bool asked = false, asked_at_now = false;
  for (const Asked& a : asked_) {
    asked |= a.rule == now.rule;
    asked_at_now |= a.rule_at_now == now.rule_at_now;
  }
  if (!asked_at_now) {
    if (asked_.size() == kMaxAsked) asked_.erase(asked_.begin());
    asked_.push_back(now);
  }
  // Rows of an older version than the rule's kept would not be kept.
  const bool room = !later && (kept_.size() < kMaxRules ||
                               Oldest() != kept_.end() || earlier != nullptr);
  return Found{nullptr, earlier != nullptr ? earlier->rows : nullptr,
               asked && room, asked_at_now && room};
}

std::vector<MatchedRows::Kept>::iterator MatchedRows::Oldest() {
  if (kept_.size() < kMaxRules) return kept_.end();
  auto oldest = std::min_element(
      kept_.begin(), kept_.end(),
      [](const Kept& a, const Kept& b) { return a.last_used < b.last_used; });
  return clock_ - oldest->last_used >= kMaxAsked ? oldest : kept_.end();
}

std::shared_ptr<const MatchedRows::Rows> MatchedRows::Keep(
    std::shared_ptr<Rows> rows) {
  std::lock_guard<std::mutex> lock(mu_);
  auto same_rule = [&rows](const Kept& k) {
    const Rows& r = *k.rows;
    return r.schema == rows->schema && r.now_ms == rows->now_ms &&
           r.rule == rows->rule;
  };
  for (const Kept& k : kept_) {
    if (!same_rule(k)) continue;
    if (k.rows->event_epoch == rows->event_epoch) {
      return k.rows;  // kept meanwhile by another count
    }
    // A count of an older version: never to be found by the newer ones.
    if (rows->event_epoch < k.rows->event_epoch) return rows;
  }
  // The same rule's at earlier epochs are never to be found again: these
  // take the place of the first, and the others go.
  auto earlier = [&](const Kept& k) {
    return same_rule(k) && k.rows->event_epoch < rows->event_epoch;
  };
  const auto first = std::find_if(kept_.begin(), kept_.end(), earlier);
  if (first != kept_.end()) {
    first->rows = rows;
    first->last_used = clock_;
    kept_.erase(std::remove_if(first + 1, kept_.end(), earlier), kept_.end());
    return rows;
  }
  if (kept_.size() == kMaxRules) {
    const auto oldest = Oldest();
    if (oldest == kept_.end()) return rows;  // no room left meanwhile
    kept_.erase(oldest);
  }
  kept_.push_back(Kept{rows, HashBytes(rows->rule), clock_});
  return rows;
}

size_t MatchedRows::MemoryBytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t bytes =
      kept_.capacity() * sizeof(Kept) + asked_.capacity() * sizeof(Asked);
  for (const Kept& k : kept_) {
    bytes += sizeof(Rows) + k.rows->rule.capacity() +
             k.rows->words->capacity() * sizeof(uint64_t) +
             k.rows->flipped.capacity() * sizeof(uint32_t);
  }
  return bytes;
}

size_t Layer::MemoryBytes() const {
  return index_->MemoryBytes() + rows_.capacity() * sizeof(uint32_t) +
         index_->row_count() * sizeof(std::string_view) +
         by_id_->MemoryBytes() + by_identity_->MemoryBytes() +
         matched_rows_.MemoryBytes();
}

void Layer::Save(ArchiveWriter& out) const {
  out.U64(serial_);
  out.U32(size_);
  out.Vector(rows_);
  out.Section([&](ArchiveWriter& w) { by_id_->Save(w); });
  out.Section([&](ArchiveWriter& w) { by_identity_->Save(w); });
  index_->Save(out);
}

std::shared_ptr<const Layer> Layer::Load(ArchiveReader& in,
                                         std::vector<std::string_view> blobs,
                                         Index::Scope scope) {
  auto layer = std::make_shared<Layer>();
  const size_t local_rows = blobs.size();
  if (!in.U64(&layer->serial_) || !in.U32(&layer->size_) ||
      !in.Vector(&layer->rows_)) {
    return nullptr;
  }
  // Local rows: one per profile held, or the row space for the base.
  const bool whole_space = layer->rows_.empty() && layer->size_ > 0;
  if (!whole_space && layer->rows_.size() != local_rows) return nullptr;
  if (!std::is_sorted(layer->rows_.begin(), layer->rows_.end()) ||
      std::adjacent_find(layer->rows_.begin(), layer->rows_.end()) !=
          layer->rows_.end()) {
    return nullptr;
  }
  std::unique_ptr<ArchiveReader> ids = in.Section();
  std::unique_ptr<ArchiveReader> identities = in.Section();
  if (ids == nullptr || identities == nullptr) return nullptr;
  // The tables and the index at once.
  bool ids_ok = false, identities_ok = false;
  RowTable by_id, by_identity;
  tbb::parallel_invoke(
      [&] { ids_ok = by_id.Load(*ids) && ids->remaining() == 0; },
      [&] {
        identities_ok =
            by_identity.Load(*identities) && identities->remaining() == 0;
      },
      [&] {
        layer->index_ =
            Index::Load(in, std::make_shared<BlobRows>(std::move(blobs)));
      });
  // An event layer finds no profile by id.
  const uint32_t ids_held = scope == Index::Scope::kEvents ? 0 : layer->size_;
  if (!ids_ok || !identities_ok || layer->index_ == nullptr ||
      by_id.size() != ids_held) {
    return nullptr;
  }
  layer->SetTables(std::move(by_id), std::move(by_identity));
  return layer;
}

}  // namespace segd
