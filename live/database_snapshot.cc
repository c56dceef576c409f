// Database snapshots: the whole state saved as it is held, and loaded back
// without parsing a profile or building an index (live/snapshot_file.h for
// the file around it).
//
// A snapshot holds one version, as readers see it:
//   the schema: attributes (name, type, declared) and event names;
//   the row space's size, the version's sequence number, the next serial;
//   each layer: its dead rows, its stale rows, its blobs (one per local
//     row, in pages), then the layer itself (live/layer.h: rows, id
//     tables, index);
//   each event layer: its dead rows, its blobs, the layer;
//   the saved segments: definitions, and static members as bitmaps.
// The store (index/profile_store.h) is not saved apart: its blobs are the
// layers' live blobs (a stale row's in its event layer), and its id and
// identity tables the layers' entries of live rows, so a load points the
// store into the pages read. The second format (SEGDSNP2) is the same
// without stale rows and event layers.
#include <dirent.h>
#include <tbb/parallel_for.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/row_rule.h"
#include "engine/rule.h"
#include "live/database.h"
#include "live/snapshot_file.h"

namespace segd {
namespace {

// Blobs go in pages of whole blobs, each at most this large unless one
// blob is larger, so that a load reads a page into the store in one piece.
constexpr uint64_t kBlobPageBytes = uint64_t{64} << 20;

// Where page boundaries fall among blobs of `sizes`: the end of each page,
// as a local row. Writer and reader cut the same way.
std::vector<size_t> PageEnds(const std::vector<uint32_t>& sizes) {
  std::vector<size_t> ends;
  uint64_t bytes = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (bytes > 0 && bytes + sizes[i] > kBlobPageBytes) {
      ends.push_back(i);
      bytes = 0;
    }
    bytes += sizes[i];
  }
  if (!sizes.empty()) ends.push_back(sizes.size());
  return ends;
}

void SaveBlobs(ArchiveWriter& out, const Index& index) {
  std::vector<uint32_t> sizes(index.row_count());
  for (uint32_t local = 0; local < sizes.size(); ++local) {
    sizes[local] = static_cast<uint32_t>(index.blob(local).size());
  }
  out.Vector(sizes);
  size_t local = 0;
  for (const size_t end : PageEnds(sizes)) {
    uint64_t bytes = 0;
    for (size_t i = local; i < end; ++i) bytes += sizes[i];
    out.U64(bytes);
    for (; local < end; ++local) {
      const std::string_view blob = index.blob(local);
      out.Put(blob.data(), blob.size());
    }
  }
}

// One layer as read, before it is trusted.
struct LoadedLayer {
  std::shared_ptr<const Bitmap> dead;
  std::shared_ptr<const Bitmap> stale;
  std::shared_ptr<const Layer> layer;
  // Where each local row's blob lies: a page of the snapshot (numbered
  // across layers) and an offset in it.
  std::vector<BlobArena::Placed> placed;
};

// A layer's blobs into new pages (appended to `pages`), read on as many
// threads as there are; their views.
bool LoadBlobs(ArchiveReader& in, std::vector<PageRef>* pages,
               std::vector<BlobArena::Placed>* placed,
               std::vector<std::string_view>* views) {
  std::vector<uint32_t> sizes;
  if (!in.Vector(&sizes)) return false;
  placed->resize(sizes.size());
  views->resize(sizes.size());
  const size_t first_page = pages->size();
  std::vector<std::unique_ptr<ArchiveReader>> sections;
  size_t local = 0;
  for (const size_t end : PageEnds(sizes)) {
    uint64_t bytes = 0;
    for (size_t i = local; i < end; ++i) bytes += sizes[i];
    sections.push_back(in.Section());
    if (sections.back() == nullptr || sections.back()->remaining() != bytes) {
      return false;
    }
    PageRef page(BlobPage::Allocate(bytes));
    page->set_used(bytes);
    const uint32_t number = static_cast<uint32_t>(pages->size());
    uint32_t offset = 0;
    for (; local < end; ++local) {
      (*placed)[local] = BlobArena::Placed{number, offset, sizes[local]};
      (*views)[local] = std::string_view(page->data() + offset, sizes[local]);
      offset += sizes[local];
    }
    pages->push_back(std::move(page));
  }
  std::atomic<bool> read = true;
  tbb::parallel_for(size_t{0}, sections.size(), [&](size_t k) {
    BlobPage& page = *(*pages)[first_page + k];
    // The section's size was checked above, so only a failed read fails.
    if (!sections[k]->Get(page.data(), page.used())) read = false;
  });
  return read;
}

}  // namespace

Status Database::WriteSnapshot() {
  if (log_ == nullptr) {
    return Status(ErrorCode::kInternal, "a snapshot needs a data directory");
  }
  std::lock_guard<std::mutex> one_at_a_time(snapshot_mu_);
  // A moment under the writer lock: the version and the log record it
  // holds. The rest reads that immutable version while writes go on.
  std::shared_ptr<const Snapshot> version;
  uint64_t seq, row_count, next_serial;
  {
    std::lock_guard<std::mutex> lock(write_mu_);
    // Writes applied and logged, not yet published, are in the log up to
    // `seq`, so in the version saved too.
    PublishPending();
    version = Read();
    seq = log_->last_seq();
    row_count = store_.row_count();
    next_serial = next_serial_;
  }
  Result<std::unique_ptr<SnapshotWriter>> created =
      SnapshotWriter::Create(options_.data_dir, seq);
  if (!created.ok()) return created.status();
  SnapshotWriter& out = **created;
  const Schema& schema = *version->schema_;
  out.U32(static_cast<uint32_t>(schema.size()));
  for (const Attribute& a : schema.attributes()) {
    out.Bytes(a.name);
    out.U8(static_cast<uint8_t>(a.type));
    out.U8(a.declared ? 1 : 0);
  }
  out.U32(static_cast<uint32_t>(schema.event_count()));
  for (EventId e = 0; e < schema.event_count(); ++e) {
    out.Bytes(schema.event_name(e));
  }
  out.U32(static_cast<uint32_t>(row_count));
  out.U64(version->sequence_);
  out.U64(next_serial);
  auto save = [&](const std::vector<Snapshot::LayerState>& layers,
                  bool events) {
    out.U64(layers.size());
    for (const Snapshot::LayerState& state : layers) {
      out.U8(state.dead ? 1 : 0);
      if (state.dead) state.dead->Save(out);
      if (!events) {
        out.U8(state.stale ? 1 : 0);
        if (state.stale) state.stale->Save(out);
      }
      SaveBlobs(out, state.layer->index());
      state.layer->Save(out);
    }
  };
  save(version->layers_, false);
  save(version->event_layers_, true);
  out.U32(static_cast<uint32_t>(version->segments_->size()));
  for (const auto& [name, segment] : *version->segments_) {
    out.Bytes(name);
    out.U8(static_cast<uint8_t>(segment->kind));
    out.Bytes(segment->description);
    out.Bytes(segment->rule_json);
    out.U8(segment->members ? 1 : 0);
    if (segment->members) segment->members->Save(out);
  }
  SEGD_RETURN_IF_ERROR(out.Commit());
  // The snapshot holds every record up to `seq`: older snapshots and the
  // log segments wholly before it go.
  if (DIR* d = opendir(options_.data_dir.c_str())) {
    const std::string keep = SnapshotFileName(seq);
    while (const dirent* entry = readdir(d)) {
      const std::string name = entry->d_name;
      if (name.starts_with("snapshot-") && name != keep) {
        unlink((options_.data_dir + "/" + name).c_str());
      }
    }
    closedir(d);
  }
  return log_->RemoveSegmentsBefore(seq + 1);
}

Result<uint64_t> Database::LoadSnapshot(const std::string& path) {
  Result<std::unique_ptr<SnapshotReader>> opened = SnapshotReader::Open(path);
  if (!opened.ok()) return opened.status();
  SnapshotReader& in = **opened;
  std::lock_guard<std::mutex> lock(write_mu_);

  // Read everything; nothing read is trusted until in.Finish() vouches
  // for the checksum, so reading only checks what keeps it in bounds.
  Schema schema;
  uint32_t attributes, events;
  if (!in.U32(&attributes)) return in.Damaged("schema");
  for (uint32_t i = 0; i < attributes; ++i) {
    std::string name;
    uint8_t type, declared;
    if (!in.Bytes(&name) || !in.U8(&type) || !in.U8(&declared) ||
        type > static_cast<uint8_t>(AttrType::kUnindexable)) {
      return in.Damaged("schema");
    }
    if (schema.Find(name)) {
      // customer_type, which every schema starts with.
      if (i != 0) return in.Damaged("schema");
      continue;
    }
    if (!schema.Add(name, static_cast<AttrType>(type), declared != 0).ok()) {
      return in.Damaged("schema");
    }
  }
  if (!in.U32(&events)) return in.Damaged("schema");
  for (uint32_t i = 0; i < events; ++i) {
    std::string name;
    if (!in.Bytes(&name)) return in.Damaged("event names");
    schema.InternEvent(name);
  }
  if (schema.size() != attributes || schema.event_count() != events) {
    return in.Damaged("schema");
  }
  uint32_t row_count;
  uint64_t sequence, next_serial;
  if (!in.U32(&row_count) || !in.U64(&sequence) || !in.U64(&next_serial)) {
    return in.Damaged("layer count");
  }
  std::vector<PageRef> pages;
  auto load_bitmap = [&](std::shared_ptr<const Bitmap>* bitmap) {
    bool has;
    if (!in.Bool(&has)) return false;
    if (!has) return true;
    auto loaded = std::make_shared<Bitmap>();
    if (!loaded->Load(in)) return false;
    *bitmap = std::move(loaded);
    return true;
  };
  // Layers, or event layers: at least one of each (the newest).
  auto load_layers = [&](bool events, std::vector<LoadedLayer>* layers) {
    uint64_t count;
    if (!in.U64(&count) || count == 0 || !in.Fits(count, 8)) {
      return in.Damaged("layer count");
    }
    layers->resize(count);
    for (LoadedLayer& loaded : *layers) {
      if (!load_bitmap(&loaded.dead)) return in.Damaged("dead rows of a layer");
      if (!events && in.format() >= 3 && !load_bitmap(&loaded.stale)) {
        return in.Damaged("stale rows of a layer");
      }
      std::vector<std::string_view> views;
      if (!LoadBlobs(in, &pages, &loaded.placed, &views)) {
        return in.Damaged("profiles of a layer");
      }
      loaded.layer =
          Layer::Load(in, std::move(views),
                      events ? Index::Scope::kEvents : Index::Scope::kAll);
      if (loaded.layer == nullptr) return in.Damaged("index of a layer");
    }
    return Status::Ok();
  };
  std::vector<LoadedLayer> layers, event_layers;
  SEGD_RETURN_IF_ERROR(load_layers(false, &layers));
  if (in.format() >= 3) SEGD_RETURN_IF_ERROR(load_layers(true, &event_layers));
  struct LoadedSegment {
    std::shared_ptr<SavedSegment> segment;
    std::unique_ptr<Bitmap> members;
  };
  uint32_t segment_count;
  if (!in.U32(&segment_count)) return in.Damaged("segments");
  std::vector<LoadedSegment> segments(segment_count);
  for (LoadedSegment& loaded : segments) {
    auto segment = std::make_shared<SavedSegment>();
    uint8_t kind;
    bool has_members;
    if (!in.Bytes(&segment->name) || !in.U8(&kind) ||
        kind > static_cast<uint8_t>(SavedSegment::Kind::kStatic) ||
        !in.Bytes(&segment->description) || !in.Bytes(&segment->rule_json) ||
        !in.Bool(&has_members)) {
      return in.Damaged("segments");
    }
    segment->kind = static_cast<SavedSegment::Kind>(kind);
    if (has_members != (segment->kind == SavedSegment::Kind::kStatic)) {
      return in.Damaged("segment " + segment->name);
    }
    if (has_members) {
      loaded.members = std::make_unique<Bitmap>();
      if (!loaded.members->Load(in)) {
        return in.Damaged("members of segment " + segment->name);
      }
    }
    loaded.segment = std::move(segment);
  }
  SEGD_RETURN_IF_ERROR(in.Finish());

  // Trusted from here: put it together, checking what ties the parts.
  auto version = std::make_shared<Snapshot>();
  version->sequence_ = sequence;
  version->max_depth_ = options_.max_depth;
  // Each row is alive in exactly one layer: there its blob goes to the
  // store, and its id and identity entries to the store's tables. A base
  // over the whole row space lends its placements (local rows are rows).
  std::vector<BlobArena::Placed> refs;
  const bool lent =
      layers[0].layer->whole_space() && layers[0].placed.size() <= row_count;
  if (lent) refs = std::move(layers[0].placed);
  refs.resize(row_count);
  holder_.Clear();
  holder_.Grow(row_count);
  uint64_t live = 0, identities = 0, base_live = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    const LoadedLayer& loaded = layers[i];
    const Layer& layer = *loaded.layer;
    if (layer.serial() == 0 || layer.serial() >= next_serial) {
      return in.Damaged("layer numbers");
    }
    std::vector<uint32_t> dead;  // ascending
    if (loaded.dead) {
      dead.resize(loaded.dead->cardinality());
      roaring_bitmap_to_uint32_array(loaded.dead->get(), dead.data());
    }
    size_t next_dead = 0;
    bool misplaced = false;
    layer.ForEachRow([&](uint32_t local, uint32_t row) {
      while (next_dead < dead.size() && dead[next_dead] < local) ++next_dead;
      if (next_dead < dead.size() && dead[next_dead] == local) {
        if (lent && i == 0) refs[row] = BlobArena::Placed{};
        return;
      }
      if (row >= row_count || holder_.Get(row) != 0) {
        misplaced = true;
        return;
      }
      holder_.Set(row, layer.serial());
      if (!(lent && i == 0)) refs[row] = loaded.placed[local];
      ++live;
      base_live += i == 0;
    });
    if (misplaced) return in.Damaged("rows of a layer");
    identities += layer.identity_entries();
    version->layers_.push_back(
        Snapshot::LayerState{loaded.layer, loaded.dead, loaded.stale});
  }
  // Each stale row's events are alive in exactly one event layer, whose
  // blob is the profile as it is now.
  event_holder_.Clear();
  uint64_t stale_rows = 0;
  std::unordered_map<uint64_t, const Snapshot::LayerState*> by_serial;
  for (const Snapshot::LayerState& state : version->layers_) {
    stale_rows += state.StaleCount();
    by_serial[state.layer->serial()] = &state;
  }
  for (const LoadedLayer& loaded : event_layers) {
    const Layer& layer = *loaded.layer;
    if (layer.serial() == 0 || layer.serial() >= next_serial) {
      return in.Damaged("event layer numbers");
    }
    bool misplaced = false;
    layer.ForEachRow([&](uint32_t local, uint32_t row) {
      if (loaded.dead && loaded.dead->contains(local)) return;
      if (row >= row_count) {
        misplaced = true;
        return;
      }
      const auto held = by_serial.find(holder_.Get(row));
      const Snapshot::LayerState* state =
          held == by_serial.end() ? nullptr : held->second;
      if (state == nullptr || event_holder_.Get(row) != 0 || !state->stale ||
          !state->stale->contains(*state->layer->LocalRow(row)) ||
          stale_rows == 0) {
        misplaced = true;
        return;
      }
      event_holder_.Set(row, layer.serial());
      refs[row] = loaded.placed[local];
      --stale_rows;
    });
    if (misplaced) return in.Damaged("rows of an event layer");
    version->event_layers_.push_back(
        Snapshot::LayerState{loaded.layer, loaded.dead, nullptr});
  }
  if (stale_rows != 0) return in.Damaged("rows of an event layer");
  if (version->event_layers_.empty()) {  // the second format
    version->event_layers_.push_back(Snapshot::LayerState{
        Layer::Build(schema, {}, false, next_serial++, Index::Scope::kEvents),
        nullptr, nullptr});
  }
  store_.RestoreSchema(schema);
  for (PageRef& page : pages) store_.RestorePage(std::move(page));
  store_.RestoreRows(std::move(refs));
  // A base that lent its placements (its local rows are rows, every one
  // inside the row space) lends its tables too: the store reads them as
  // they are, as it would once a load's layer took them, and their entries
  // of rows alive elsewhere, or dead, are found or stepped over as a write
  // would leave them. The store's own tables take the entries of the rows
  // alive in the other layers. The base's ids of rows alive there are
  // counted all the same: every live row must have its id.
  const Layer& first = *version->layers_[0].layer;
  const bool shared = lent;
  size_t own_ids = live, own_identities = identities;
  if (shared) {
    own_ids -= base_live;
    own_identities -= std::min(own_identities, first.identity_entries());
  }
  std::atomic<uint64_t> ids = 0;
  auto fill = [&](bool identity) {
    return [&, identity](RowTable& table) {
      uint64_t added = 0;
      for (const Snapshot::LayerState& state : version->layers_) {
        const Layer& layer = *state.layer;
        const bool counted = shared && &layer == &first;
        if (counted && identity) continue;
        auto add = [&](uint32_t local, uint64_t hash) {
          const uint32_t row = layer.GlobalRow(local);
          if (row < row_count && holder_.Get(row) == layer.serial()) {
            if (!counted) table.Insert(hash, row);
            ++added;
          }
        };
        if (identity) {
          layer.ForEachIdentity(add);
        } else {
          layer.ForEachId(add);
        }
      }
      if (!identity) ids = added;
    };
  };
  store_.RestoreTables(shared ? first.tables() : ProfileStore::SharedTables{},
                       own_ids, fill(false), own_identities, fill(true));
  if (ids != live) return in.Damaged("id tables");
  next_serial_ = next_serial;
  version->live_count_ = live;
  version->schema_ = std::make_shared<const Schema>(store_.schema());

  auto catalog = std::make_shared<Snapshot::Catalog>();
  for (LoadedSegment& loaded : segments) {
    SavedSegment& segment = *loaded.segment;
    if (segment.kind == SavedSegment::Kind::kStatic) {
      segment.members = std::move(loaded.members);
    } else {
      Result<RuleNode> rule = ParseRule(segment.rule_json);
      if (!rule.ok()) return in.Damaged("rule of segment " + segment.name);
      CollectReferences(*rule, &segment.references);
      Result<RowRule> row_rule =
          RowRule::Compile(*rule, store_.schema(), options_.max_depth);
      if (!row_rule.ok()) {
        return in.Damaged("rule of segment " + segment.name);
      }
      segment.rule = std::make_shared<const RuleNode>(std::move(rule).value());
      segment.row_rule =
          std::make_shared<const RowRule>(std::move(row_rule).value());
    }
    (*catalog)[segment.name] = std::move(loaded.segment);
  }
  version->segments_ = std::move(catalog);
  Install(std::move(version));
  return in.seq();
}

}  // namespace segd
