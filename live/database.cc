#include "live/database.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <numeric>
#include <set>
#include <tuple>

#include "base/ascii.h"
#include "base/hash.h"
#include "base/json_pointer.h"
#include "base/json_writer.h"
#include "base/thread_name.h"
#include "base/time.h"
#include "base/utf8.h"
#include "engine/binder.h"
#include "engine/executor.h"
#include "engine/normalizer.h"
#include "engine/planner.h"
#include "engine/preview.h"
#include "engine/report.h"
#include "ingest/patch_parser.h"
#include "live/journal.h"
#include "live/snapshot_file.h"

namespace segd {
namespace {

constexpr size_t kMaxPreview = 10000;  // SPEC §3
constexpr size_t kMaxReportGroups = 1000;
constexpr int64_t kDayMs = 86400000;
// A batch loads what finding a profile by id reads for the ids some
// kLoadAhead, 2 × kLoadAhead, ... places ahead of the one it applies, a
// step of ProfileStore::PrefetchFind each.
constexpr size_t kLoadAhead = 2;

// Whether a write op finds a profile by id, rather than parsing records.
bool FindsById(WriteBatch::Op::Kind kind) {
  using Kind = WriteBatch::Op::Kind;
  switch (kind) {
    case Kind::kUpsert:
    case Kind::kEvents:
      return false;
    case Kind::kPatch:
    case Kind::kDelete:
    case Kind::kTags:
    case Kind::kMerge:
      return true;
  }
  return false;
}

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// `s` as a JSON string.
std::string Quote(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

void PreOrder(const RuleNode& node, std::vector<const RuleNode*>* out) {
  out->push_back(&node);
  for (const RuleNode& child : node.children) PreOrder(child, out);
}

bool HasNode(const RuleNode& node, NodeKind kind) {
  return node.kind == kind ||
         std::any_of(node.children.begin(), node.children.end(),
                     [kind](const RuleNode& c) { return HasNode(c, kind); });
}

// A bit standing for the event name `name` (ASCII case folded), among 64:
// names that share one are told apart by the events, not by their bits.
uint64_t EventNameBit(std::string_view name) {
  return uint64_t{1} << (HashBytes(FoldAscii(name)) & 63);
}

// The bits of the event names that `node` reads.
uint64_t EventNameBits(const RuleNode& node) {
  uint64_t bits = node.kind == NodeKind::kEvent ? EventNameBit(node.name) : 0;
  for (const RuleNode& child : node.children) bits |= EventNameBits(child);
  return bits;
}

RuleNode SegmentNode(std::string name) {
  RuleNode n;
  n.kind = NodeKind::kSegment;
  n.name = std::move(name);
  return n;
}

RuleNode GroupNode(NodeKind kind, std::vector<RuleNode> children) {
  RuleNode n;
  n.kind = kind;
  n.children = std::move(children);
  return n;
}

RuleNode NotNode(RuleNode child) {
  RuleNode n;
  n.kind = NodeKind::kNot;
  n.children.push_back(std::move(child));
  return n;
}

RuleNode FieldNode(std::string name, std::string op,
                   std::optional<JsonValue> value) {
  RuleNode n;
  n.kind = NodeKind::kField;
  n.name = std::move(name);
  n.op = std::move(op);
  n.value = std::move(value);
  return n;
}

JsonValue StringValue(std::string s) {
  JsonValue v;
  v.type = JsonValue::Type::kString;
  v.string = std::move(s);
  return v;
}

// A members cursor is the next database row, written so that nobody reads
// a meaning into it.
constexpr uint32_t kCursorMask = 0x5e6d1a3b;

}  // namespace

std::string EncodeCursor(uint32_t next_row) {
  char text[16];
  std::snprintf(text, sizeof(text), "c%08x", next_row ^ kCursorMask);
  return text;
}

std::optional<uint32_t> DecodeCursor(std::string_view cursor) {
  if (cursor.size() != 9 || cursor[0] != 'c') return std::nullopt;
  uint32_t v = 0;
  for (char c : cursor.substr(1)) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    v = v << 4 | static_cast<uint32_t>(digit);
  }
  return v ^ kCursorMask;
}

Status CheckSegmentName(std::string_view name) {
  if (name.empty() || name.size() > 200) {
    return Malformed("a segment name is 1 to 200 bytes");
  }
  if (name == "." || name == "..") {
    return Malformed("a segment name is not \".\" or \"..\"");
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7F) {
      return Malformed("a segment name holds no control characters");
    }
    if (c == '/') return Malformed("a segment name holds no '/'");
  }
  if (!IsValidUtf8(name)) return Malformed("a segment name is UTF-8");
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Snapshot: reads.

// Saved segments as one layer's binder sees them.
class Snapshot::Resolver final : public SegmentResolver {
 public:
  Resolver(const Snapshot& snapshot, size_t layer,
           std::vector<std::unique_ptr<Bitmap>>* owned)
      : snapshot_(snapshot), layer_(layer), owned_(owned) {}

  const RuleNode* FindRule(std::string_view name) const override {
    const SavedSegment* s = Find(name);
    return s != nullptr && s->kind == SavedSegment::Kind::kDynamic
               ? s->rule.get()
               : nullptr;
  }

  const roaring_bitmap_t* FindMembers(std::string_view name) const override {
    const SavedSegment* s = Find(name);
    if (s == nullptr || s->kind != SavedSegment::Kind::kStatic) return nullptr;
    const Layer& layer = *snapshot_.layers_[layer_].layer;
    auto local = std::make_unique<Bitmap>();
    if (layer.whole_space()) {
      local = std::make_unique<Bitmap>(
          roaring_bitmap_and(s->members->get(), layer.index().live().get()));
    } else if (s->members->cardinality() < layer.size()) {
      roaring_uint32_iterator_t* it =
          roaring_create_iterator(s->members->get());
      for (; it->has_value; roaring_advance_uint32_iterator(it)) {
        if (auto l = layer.LocalRow(it->current_value)) local->Add(*l);
      }
      roaring_free_uint32_iterator(it);
    } else {
      layer.ForEachRow([&](uint32_t l, uint32_t global) {
        if (s->members->contains(global)) local->Add(l);
      });
    }
    owned_->push_back(std::move(local));
    return owned_->back()->get();
  }

 private:
  const SavedSegment* Find(std::string_view name) const {
    auto it = snapshot_.segments_->find(name);
    return it == snapshot_.segments_->end() ? nullptr : it->second.get();
  }

  const Snapshot& snapshot_;
  size_t layer_;
  std::vector<std::unique_ptr<Bitmap>>* owned_;
};

struct Snapshot::Prepared {
  struct LayerPlan {
    uint32_t layer;  // its rows superseded are layers_[layer].dead
    // Null when `matched` holds the layer's rows: most layers of a count
    // asked again, which then cost neither a bind nor a plan's bytes.
    std::unique_ptr<const Plan> plan;
    // A count's rows of the layer, found in its MatchedRows.
    std::shared_ptr<const MatchedRows::Rows> matched;
    // Whether the rows the plan matches go to the layer's MatchedRows,
    // whether binding it read the clock, and whether the event layers
    // answered its event conditions for the layer's stale rows.
    bool keep = false;
    bool read_clock = false;
    bool read_events = false;
  };
  // A count of {"all": []}: every profile alive, which the version knows
  // (live_count_); `plans` is then empty.
  bool everyone = false;
  // Prepare's `count_text`, and the clock the rule was bound at.
  std::string_view count_text;
  int64_t now_ms = 0;
  std::vector<LayerPlan> plans;
  // Bitmaps the plans read that belong to this query (static segments).
  std::vector<std::unique_ptr<Bitmap>> owned;
};

namespace {

// Options that leave `dead`, rows of `layer` (null for none), out of the
// results, with the layer's memo of them (ExcludedMatches).
ExecuteOptions WithoutDead(const Layer& layer,
                           const std::shared_ptr<const Bitmap>& dead) {
  ExecuteOptions options;
  if (dead != nullptr && !roaring_bitmap_is_empty(dead->get())) {
    options.excluded = dead->get();
    options.excluded_version = dead;
    options.excluded_matches = &layer.excluded_matches();
  }
  return options;
}

}  // namespace

bool Snapshot::Alive(size_t layer, uint32_t local) const {
  const auto& dead = layers_[layer].dead;
  return dead == nullptr || !dead->contains(local);
}

std::pair<const Index*, std::string_view> Snapshot::Stored(
    size_t layer, uint32_t local) const {
  const LayerState& state = layers_[layer];
  if (state.stale != nullptr && state.stale->contains(local)) {
    if (const auto at = EventsAt(state.layer->GlobalRow(local))) {
      const Index& index = event_layers_[at->first].layer->index();
      return {&index, index.blob(at->second)};
    }
  }
  const Index& index = state.layer->index();
  return {&index, index.blob(local)};
}

std::optional<std::pair<size_t, uint32_t>> Snapshot::EventsAt(
    uint32_t row) const {
  for (size_t e = event_layers_.size(); e-- > 0;) {
    const LayerState& events = event_layers_[e];
    const std::optional<uint32_t> at = events.layer->LocalRow(row);
    if (at && (events.dead == nullptr || !events.dead->contains(*at))) {
      return std::pair(e, *at);
    }
  }
  return std::nullopt;
}

// Event conditions as the event layers answer them: the database rows
// alive in an event layer that pass one, found once per query however
// many layers bind it.
class Snapshot::EventAnswers {
 public:
  explicit EventAnswers(const Snapshot& snapshot) : snapshot_(snapshot) {}

  const Bitmap& Rows(std::string_view name, int64_t lo, int64_t hi,
                     CountRange count) {
    auto [it, added] =
        found_.try_emplace(Key{FoldAscii(name), lo, hi, count.min, count.max});
    if (!added) return *it->second;
    auto rows = std::make_unique<Bitmap>();
    for (const LayerState& state : snapshot_.event_layers_) {
      const Layer& layer = *state.layer;
      const Index& index = layer.index();
      const std::optional<EventId> event = index.FindEvent(name);
      if (!event || index.live_count() == 0) continue;
      Plan plan;
      plan.root.kind = BoundKind::kLeaf;
      plan.root.leaf.kind = LeafKind::kEvent;
      plan.root.leaf.event = *event;
      plan.root.leaf.lo = lo;
      plan.root.leaf.hi = hi;
      plan.root.leaf.count = count;
      std::vector<std::vector<uint32_t>> found(index.shard_count());
      ExecuteShards(
          plan, index,
          [&](uint32_t s, const uint64_t* words) {
            const uint32_t first = s << kShardBits;
            for (uint32_t w = 0; w < kShardWords; ++w) {
              for (uint64_t bits = words[w]; bits != 0; bits &= bits - 1) {
                const uint32_t local =
                    first + w * 64 +
                    static_cast<uint32_t>(std::countr_zero(bits));
                found[s].push_back(layer.GlobalRow(local));
              }
            }
          },
          state.dead ? state.dead->get() : nullptr);
      for (const std::vector<uint32_t>& part : found) {
        roaring_bitmap_add_many(rows->get(), part.size(), part.data());
      }
    }
    it->second = std::move(rows);
    return *it->second;
  }

 private:
  using Key = std::tuple<std::string, int64_t, int64_t, int64_t, int64_t>;
  const Snapshot& snapshot_;
  std::map<Key, std::unique_ptr<Bitmap>> found_;
};

// One layer's stale rows, as its binder sees them.
class Snapshot::LayerEvents final : public EventOverlay {
 public:
  LayerEvents(const Snapshot& snapshot, size_t layer, EventAnswers* answers)
      : layer_(*snapshot.layers_[layer].layer),
        stale_(*snapshot.layers_[layer].stale),
        answers_(answers) {}

  const roaring_bitmap_t* stale() const override { return stale_.get(); }

  std::shared_ptr<const Bitmap> Matching(std::string_view name, int64_t lo,
                                         int64_t hi,
                                         CountRange count) const override {
    const Bitmap& rows = answers_->Rows(name, lo, hi, count);
    if (layer_.whole_space()) {
      return std::make_shared<Bitmap>(
          roaring_bitmap_and(rows.get(), stale_.get()));
    }
    // From the fewer of the two: the layer's stale rows, or the answer.
    auto local = std::make_shared<Bitmap>();
    if (stale_.cardinality() <= rows.cardinality()) {
      roaring_uint32_iterator_t* it = roaring_create_iterator(stale_.get());
      for (; it->has_value; roaring_advance_uint32_iterator(it)) {
        if (rows.contains(layer_.GlobalRow(it->current_value))) {
          local->Add(it->current_value);
        }
      }
      roaring_free_uint32_iterator(it);
    } else {
      roaring_uint32_iterator_t* it = roaring_create_iterator(rows.get());
      for (; it->has_value; roaring_advance_uint32_iterator(it)) {
        const std::optional<uint32_t> at = layer_.LocalRow(it->current_value);
        if (at && stale_.contains(*at)) local->Add(*at);
      }
      roaring_free_uint32_iterator(it);
    }
    return local;
  }

 private:
  const Layer& layer_;
  const Bitmap& stale_;
  EventAnswers* answers_;
};

std::optional<std::pair<size_t, uint32_t>> Snapshot::Locate(
    std::string_view id) const {
  // The base first, where most profiles are alive, then the newest down.
  const uint64_t hash = IdKeyHash(id);
  for (size_t k = 0; k < layers_.size(); ++k) {
    const size_t i = k == 0 ? 0 : layers_.size() - k;
    const std::optional<uint32_t> local = layers_[i].layer->FindId(id, hash);
    if (local && Alive(i, *local)) return std::pair(i, *local);
  }
  return std::nullopt;
}

bool Snapshot::HasProfile(std::string_view id) const {
  return Locate(id).has_value();
}

const SavedSegment* Snapshot::FindSegment(std::string_view name) const {
  auto it = segments_->find(name);
  return it == segments_->end() ? nullptr : it->second.get();
}

Result<Snapshot::Prepared> Snapshot::Prepare(
    const RuleNode& rule, int64_t now_ms, std::string_view count_text) const {
  Prepared prepared;
  prepared.count_text = count_text;
  prepared.now_ms = now_ms;
  if (!count_text.empty() && rule.kind == NodeKind::kAll &&
      rule.children.empty()) {
    prepared.everyone = true;
    return prepared;
  }
  // A rule that names a saved segment reads more than the layer: what it
  // matches there is not the layer's alone to keep. An event condition
  // reads the event layers for a layer's stale rows: what it matches there
  // is kept for the events of this epoch.
  const bool reusable =
      !count_text.empty() && !HasNode(rule, NodeKind::kSegment);
  const bool reads_events = HasNode(rule, NodeKind::kEvent);
  EventAnswers answers(*this);
  const MatchedRows::RuleText count_rule(count_text);
  // The rule compiled to match a profile at a time, for the layers that
  // amend the rows they kept at an earlier event epoch, and the names of
  // the events it reads.
  std::optional<Result<RowRule>> row_rule;
  const uint64_t rule_events = reads_events ? EventNameBits(rule) : 0;
  prepared.plans.reserve(layers_.size());
  for (size_t i = layers_.size(); i-- > 0;) {
    const LayerState& state = layers_[i];
    const bool newest = i + 1 == layers_.size();
    // The newest layer is rebuilt on every write, and a base that no write
    // has touched (no dead rows, none stale) counts what its index knows
    // whole at once.
    const bool read_events = reads_events && state.stale != nullptr;
    // Read only for the base: the layers above it count from kept rows
    // whether they have dead rows or not.
    auto has_dead = [&state] {
      return state.dead != nullptr &&
             !roaring_bitmap_is_empty(state.dead->get());
    };
    MatchedRows::Found found;
    if (reusable && !newest &&
        (!state.layer->whole_space() || has_dead() || read_events)) {
      found = state.layer->matched_rows().Find(
          count_rule, schema_.get(), now_ms,
          read_events ? std::optional(event_epoch_) : std::nullopt);
      if (found.rows == nullptr && found.earlier != nullptr) {
        found.rows =
            Amend(i, *found.earlier, rule, rule_events, now_ms, &row_rule);
      }
      if (found.rows != nullptr) {
        prepared.plans.push_back(Prepared::LayerPlan{
            static_cast<uint32_t>(i), nullptr, std::move(found.rows)});
        continue;
      }
    }
    const uint64_t dead = state.dead != nullptr ? state.dead->cardinality() : 0;
    // Only the newest layer binds when it holds nothing: for the errors.
    if (!newest && state.layer->size() == dead) continue;
    Resolver resolver(*this, i, &prepared.owned);
    BindOptions options;
    options.now_ms = now_ms;
    options.max_depth = max_depth_;
    options.segments = &resolver;
    options.schema = newest ? nullptr : schema_.get();
    std::optional<LayerEvents> events;
    if (state.stale != nullptr) {
      options.events = &events.emplace(*this, i, &answers);
    }
    bool read_clock = false;
    options.read_clock = &read_clock;
    const Index& index = state.layer->index();
    Result<BoundNode> bound = Bind(rule, index, options);
    if (!bound.ok()) return bound.status();
    if (state.layer->size() == dead) continue;
    // Rows that a later write superseded are evaluated, and left out of
    // the results (ExecuteOptions::excluded). What the plan matches is
    // kept as the layer's MatchedRows said, now that binding has told
    // whether the clock is part of the rule's name.
    const bool keep = read_clock ? found.keep_at_now : found.keep;
    prepared.plans.push_back(
        Prepared::LayerPlan{static_cast<uint32_t>(i),
                            std::make_unique<const Plan>(MakePlan(
                                Normalize(std::move(bound).value()), index)),
                            nullptr, keep, read_clock, read_events});
  }
  return prepared;
}

std::shared_ptr<MatchedRows::Rows> Snapshot::Match(const Prepared& prepared,
                                                   size_t i) const {
  const Prepared::LayerPlan& plan = prepared.plans[i];
  const Index& index = layers_[plan.layer].layer->index();
  auto rows = std::make_shared<MatchedRows::Rows>();
  rows->rule = std::string(prepared.count_text);
  rows->schema = schema_;
  if (plan.read_clock) rows->now_ms = prepared.now_ms;
  if (plan.read_events) rows->event_epoch = event_epoch_;
  auto matched = std::make_shared<std::vector<uint64_t>>(
      size_t{index.shard_count()} * kShardWords);
  std::atomic<uint64_t> count{0};
  ExecuteShards(*plan.plan, index, [&](uint32_t shard, const uint64_t* words) {
    std::copy_n(words, kShardWords,
                matched->data() + size_t{shard} * kShardWords);
    count += CountWords(words);
  });
  rows->words = std::move(matched);
  rows->count = count;
  return rows;
}

uint64_t Snapshot::Count(const Prepared& prepared) const {
  uint64_t total = 0;
  Run(prepared, 0, 0, &total);
  return total;
}

std::vector<Snapshot::Hit> Snapshot::Run(const Prepared& prepared,
                                         uint32_t first_row, size_t limit,
                                         uint64_t* total) const {
  if (prepared.everyone) {  // a count, and nothing else
    assert(limit == 0 && first_row == 0);
    if (total != nullptr) *total += live_count_;
    return {};
  }
  // Layers run side by side: most are small, and their fixed costs would
  // add up one after another.
  std::vector<ExecuteResult> results(prepared.plans.size());
  uint32_t end_row = UINT32_MAX;  // members are database rows before it
  auto run = [&](size_t i) {
    const Prepared::LayerPlan& p = prepared.plans[i];
    const Layer& layer = *layers_[p.layer].layer;
    if (p.matched != nullptr || p.keep) {  // a count, and nothing else
      assert(limit == 0 && first_row == 0);
      std::shared_ptr<const MatchedRows::Rows> rows = p.matched;
      if (rows == nullptr) rows = layer.matched_rows().Keep(Match(prepared, i));
      results[i].count =
          rows->CountAlive(layers_[p.layer].dead, layer.excluded_matches());
      return;
    }
    ExecuteOptions options = WithoutDead(layer, layers_[p.layer].dead);
    options.limit = limit;
    options.count = total != nullptr;
    options.first_row = layer.LowerBound(first_row);
    options.row_end =
        end_row == UINT32_MAX ? UINT32_MAX : layer.LowerBound(end_row);
    results[i] = Execute(*p.plan, layer.index(), options);
  };
  // A long page is found in the largest layer first: no other layer's
  // members past its last one can be on the page, so the others stop
  // there instead of each finding a page of its own.
  constexpr size_t kLongPage = 1024;
  std::optional<size_t> first;
  if (results.size() > 1 && limit >= kLongPage && limit != SIZE_MAX) {
    first = 0;
    for (size_t i = 1; i < results.size(); ++i) {
      if (layers_[prepared.plans[i].layer].layer->size() >
          layers_[prepared.plans[*first].layer].layer->size()) {
        first = i;
      }
    }
    run(*first);
    const std::vector<uint32_t>& rows = results[*first].rows;
    if (rows.size() == limit) {
      end_row =
          layers_[prepared.plans[*first].layer].layer->GlobalRow(rows.back()) +
          1;
    }
  }
  // Layers that count from their rows kept take a moment each: side by
  // side they would cost more to share out than to run.
  const size_t to_execute = std::count_if(
      prepared.plans.begin(), prepared.plans.end(),
      [](const Prepared::LayerPlan& p) { return p.matched == nullptr; });
  if (to_execute <= 1) {
    for (size_t i = 0; i < results.size(); ++i) {
      if (i != first) run(i);
    }
  } else {
    tbb::parallel_for(size_t{0}, results.size(), [&](size_t i) {
      if (i != first) run(i);
    });
  }
  if (total != nullptr) {
    for (const ExecuteResult& r : results) *total += r.count;
  }
  // Each layer's rows ascend: the first `limit` of them all, merged. Each
  // layer with members left has its next one's database row at hand.
  struct Head {
    uint32_t row;     // database row of the next member
    size_t result;    // in results
    size_t next = 0;  // its position there
  };
  std::vector<Head> heads;
  auto global = [&](const Head& h) {
    return layers_[prepared.plans[h.result].layer].layer->GlobalRow(
        results[h.result].rows[h.next]);
  };
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].rows.empty()) continue;
    heads.push_back(Head{0, i});
    heads.back().row = global(heads.back());
  }
  std::vector<Hit> hits;
  hits.reserve(std::min<size_t>(limit, 1 << 16));
  while (hits.size() < limit && !heads.empty()) {
    size_t best = 0;
    for (size_t k = 1; k < heads.size(); ++k) {
      if (heads[k].row < heads[best].row) best = k;
    }
    Head& h = heads[best];
    hits.push_back(Hit{h.row, prepared.plans[h.result].layer,
                       results[h.result].rows[h.next]});
    if (++h.next == results[h.result].rows.size()) {
      heads.erase(heads.begin() + static_cast<ptrdiff_t>(best));
    } else {
      h.row = global(h);
    }
  }
  return hits;
}

void Snapshot::Render(const std::vector<Hit>& hits,
                      const std::vector<std::string>& fields, bool ndjson,
                      std::vector<std::string>* ids, std::string* json) const {
  const std::vector<std::string>& shown =
      fields.empty() ? DefaultPreviewFields() : fields;
  // Large pages are resolved and rendered in chunks side by side, then
  // joined: each member is written on its own, followed by a separator.
  constexpr size_t kChunk = 1024;
  const size_t chunks = (hits.size() + kChunk - 1) / kChunk;
  auto for_each_chunk = [&](auto&& body) {
    if (chunks > 1) {
      tbb::parallel_for(size_t{0}, chunks, body);
    } else if (chunks == 1) {
      body(size_t{0});
    }
  };
  auto chunk_end = [&](size_t c) {
    return std::min(hits.size(), (c + 1) * kChunk);
  };
  // Each member's bytes, found side by side: a stale row's take a search
  // of the event layers, which on one thread held up a page of 10,000.
  std::vector<std::pair<const Index*, std::string_view>> stored(hits.size());
  for_each_chunk([&](size_t c) {
    for (size_t i = c * kChunk, end = chunk_end(c); i < end; ++i) {
      stored[i] = Stored(hits[i].layer, hits[i].local);
    }
  });
  // Fields are found once per index that names them. A page's members lie
  // in a handful of indexes, in runs: the last one found is tried first.
  std::vector<std::pair<const Index*, std::unique_ptr<MemberWriter>>> writers;
  auto writer_of = [&writers](const Index* index, size_t* last) {
    if (*last >= writers.size() || writers[*last].first != index) {
      *last = 0;
      while (*last < writers.size() && writers[*last].first != index) ++*last;
    }
    return *last;
  };
  if (json != nullptr) {
    size_t last = 0;
    for (const auto& [index, blob] : stored) {
      if (writer_of(index, &last) == writers.size()) {
        writers.emplace_back(index,
                             std::make_unique<MemberWriter>(*index, shown));
      }
    }
  }
  std::vector<std::string> texts(chunks);
  std::vector<std::vector<std::string>> chunk_ids(ids ? chunks : 0);
  const char separator = ndjson ? '\n' : ',';
  for_each_chunk([&](size_t c) {
    DecodedProfile p;
    JsonWriter out;  // the chunk's members, each followed by the separator
    size_t last = 0;
    for (size_t i = c * kChunk, end = chunk_end(c); i < end; ++i) {
      const auto [index, blob] = stored[i];
      if (ids != nullptr) chunk_ids[c].emplace_back(DecodeId(blob));
      if (json == nullptr) continue;  // ids alone: no need to decode the rest
      writers[writer_of(index, &last)].second->Write(blob, &p, out);
      out.Separator(separator);
    }
    texts[c] = out.Take();
  });
  if (ids != nullptr) {
    ids->reserve(ids->size() + hits.size());
    for (auto& part : chunk_ids) {
      for (std::string& id : part) ids->push_back(std::move(id));
    }
  }
  if (json == nullptr) return;
  size_t bytes = 2;
  for (const std::string& t : texts) bytes += t.size();
  json->reserve(json->size() + bytes);
  if (!ndjson) json->push_back('[');
  for (const std::string& t : texts) json->append(t);
  if (!ndjson) {
    if (!hits.empty()) json->pop_back();  // the last separator
    json->push_back(']');
  }
}

Result<QueryResult> Snapshot::Query(const QueryRequest& request) const {
  if (request.limit > kMaxPreview) {
    return Invalid("limit is at most " + std::to_string(kMaxPreview), "/limit");
  }
  Result<RuleNode> rule = ParseRule(request.rule_json);
  if (!rule.ok()) return rule.status();
  const bool count_only = request.count && request.limit == 0;
  Result<Prepared> prepared = Prepare(
      *rule, request.now_ms,
      count_only ? std::string_view(request.rule_json) : std::string_view());
  if (!prepared.ok()) return prepared.status();
  QueryResult result;
  const std::vector<Hit> hits =
      Run(*prepared, 0, request.limit, request.count ? &result.count : nullptr);
  for (const Hit& h : hits) result.rows.push_back(h.row);
  Render(hits, request.fields, false, &result.ids, &result.members_json);
  if (request.explain) {
    std::vector<const RuleNode*> nodes;
    PreOrder(*rule, &nodes);
    for (const RuleNode* node : nodes) {
      Result<Prepared> part = Prepare(*node, request.now_ms);
      if (!part.ok()) return part.status();
      result.explain.push_back(ExplainEntry{node->path, Count(*part)});
    }
  }
  return result;
}

Result<RuleNode> Snapshot::SegmentRule(std::string_view name) const {
  const SavedSegment* segment = FindSegment(name);
  if (segment == nullptr) {
    return Status(ErrorCode::kNotFound, "no segment " + Quoted(name));
  }
  // Bound through the resolver, as a rule that names it.
  return SegmentNode(std::string(name));
}

Result<MembersPage> Snapshot::Members(const MembersRequest& request) const {
  Result<RuleNode> rule = request.segment.empty()
                              ? ParseRule(request.rule_json)
                              : SegmentRule(request.segment);
  if (!rule.ok()) return rule.status();
  uint32_t first_row = 0;
  if (!request.cursor.empty()) {
    const std::optional<uint32_t> row = DecodeCursor(request.cursor);
    if (!row) return Invalid("not a cursor of this database");
    first_row = *row;
  }
  Result<Prepared> prepared = Prepare(*rule, request.now_ms);
  if (!prepared.ok()) return prepared.status();
  MembersPage page;
  // One more than the page tells whether more remain.
  const size_t wanted =
      request.limit == SIZE_MAX ? SIZE_MAX : request.limit + 1;
  std::vector<Hit> hits =
      Run(*prepared, first_row, wanted, request.count ? &page.count : nullptr);
  if (hits.size() > request.limit) {
    hits.resize(request.limit);
    // A page of none goes no further: it has no cursor to follow.
    if (!hits.empty()) page.next_cursor = EncodeCursor(hits.back().row + 1);
  }
  for (const Hit& h : hits) page.rows.push_back(h.row);
  Render(hits, request.fields, request.ndjson, &page.ids,
         request.render ? &page.members_json : nullptr);
  return page;
}

std::optional<std::string> Snapshot::Profile(std::string_view id) const {
  const auto at = Locate(id);
  if (!at) return std::nullopt;
  JsonWriter out;
  const auto [index, blob] = Stored(at->first, at->second);
  WriteProfile(*index, blob, out);
  return out.Take();
}

std::optional<std::string> Snapshot::ProfileByIdentity(
    std::string_view channel, std::string_view handle) const {
  for (size_t i = layers_.size(); i-- > 0;) {
    const std::optional<uint32_t> local =
        layers_[i].layer->FindIdentity(channel, handle);
    if (local && Alive(i, *local)) {
      JsonWriter out;
      const auto [index, blob] = Stored(i, *local);
      WriteProfile(*index, blob, out);
      return out.Take();
    }
  }
  return std::nullopt;
}

// Saved segments as a RowRule sees them.
class Snapshot::RowResolver final : public RowSegments {
 public:
  explicit RowResolver(const Snapshot& snapshot) : snapshot_(snapshot) {}
  const RowRule* FindRule(std::string_view name) const override {
    const SavedSegment* s = snapshot_.FindSegment(name);
    return s != nullptr && s->kind == SavedSegment::Kind::kDynamic
               ? s->row_rule.get()
               : nullptr;
  }
  std::optional<bool> InStatic(std::string_view name,
                               uint32_t row) const override {
    const SavedSegment* s = snapshot_.FindSegment(name);
    if (s == nullptr || s->kind != SavedSegment::Kind::kStatic) {
      return std::nullopt;
    }
    return s->members->contains(row);
  }

 private:
  const Snapshot& snapshot_;
};

bool Snapshot::InSegment(const SavedSegment& segment,
                         const DecodedProfile& profile, uint32_t row,
                         int64_t now_ms) const {
  if (segment.kind == SavedSegment::Kind::kStatic) {
    return segment.members->contains(row);
  }
  const RowResolver resolver(*this);
  return segment.row_rule->Matches(profile, row, now_ms, *schema_, &resolver);
}

// At most one row in kAmendOneRowIn of a layer's, and kAmendRows more, are
// matched one by one to amend what the layer kept: past that, evaluating
// the rule over the layer costs less than finding and decoding those
// profiles. A row is found, decoded and matched in about 1.5 µs,
// where the base of 10M evaluated an event rule in 2.7–9.3 ms (p99 in the
// live bench while events were appended: BENCHMARKS.md); a small layer
// costs a bind and a plan, some 10 µs.
constexpr uint32_t kAmendOneRowIn = 4096;
constexpr size_t kAmendRows = 8;

std::shared_ptr<const MatchedRows::Rows> Snapshot::Amend(
    size_t at, const MatchedRows::Rows& earlier, const RuleNode& rule,
    uint64_t rule_events, int64_t now_ms,
    std::optional<Result<RowRule>>* compiled) const {
  const LayerState& state = layers_[at];
  const Layer& layer = *state.layer;
  // The log must hold every epoch since the rows were kept.
  const uint64_t since = *earlier.event_epoch;
  if (appended_ == nullptr || appended_->empty() ||
      appended_->front()->epoch > since + 1 ||
      appended_->back()->epoch != event_epoch_) {
    return nullptr;
  }
  const size_t most = layer.size() / kAmendOneRowIn + kAmendRows;
  std::vector<uint32_t> changed;
  // Events of a name that the rule does not name change none of its
  // answers: only the rows appended others are matched.
  for (auto it = appended_->rbegin();
       it != appended_->rend() && (*it)->epoch > since; ++it) {
    for (const Appended::LayerRows& rows : (*it)->by_layer) {
      if (rows.serial != layer.serial()) continue;
      for (size_t k = 0; k < rows.locals.size(); ++k) {
        if ((rows.names[k] & rule_events) == 0) continue;
        // A row appended to in several epochs is listed in each.
        if (changed.size() == 4 * most) return nullptr;
        changed.push_back(rows.locals[k]);
      }
    }
  }
  std::sort(changed.begin(), changed.end());
  changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  if (changed.size() > most) return nullptr;
  if (!*compiled) *compiled = RowRule::Compile(rule, *schema_, max_depth_);
  if (!(*compiled)->ok()) return nullptr;
  const RowRule& row_rule = ***compiled;
  // A row dead here keeps its bit: CountAlive leaves it out. (No version
  // of this epoch has it alive: a stale row that dies leaves its event
  // layer, which begins an epoch.)
  std::vector<uint32_t> flips;
  DecodedProfile profile;
  const RowResolver resolver(*this);
  for (uint32_t local : changed) {
    if (!Alive(at, local)) continue;
    DecodeProfile(Stored(at, local).second, &profile);
    if (row_rule.Matches(profile, layer.GlobalRow(local), now_ms, *schema_,
                         &resolver) != earlier.Test(local)) {
      flips.push_back(local);
    }
  }
  std::shared_ptr<MatchedRows::Rows> amended = earlier.Amended(
      event_epoch_, flips, state.dead, layer.excluded_matches());
  std::shared_ptr<const MatchedRows::Rows> kept =
      layer.matched_rows().Keep(amended);
  if (kept == amended) {  // in the place of `earlier`, as a rule
    amended->Seed(layer.excluded_matches());
    earlier.Forget(layer.excluded_matches());
    layer.matched_rows().NoteAmended();
  }
  return kept;
}

Result<bool> Snapshot::Contains(std::string_view segment, std::string_view id,
                                int64_t now_ms) const {
  const SavedSegment* s = FindSegment(segment);
  if (s == nullptr) {
    return Status(ErrorCode::kNotFound, "no segment " + Quoted(segment));
  }
  const auto at = Locate(id);
  if (!at) return Status(ErrorCode::kNotFound, "no profile " + Quoted(id));
  const Layer& layer = *layers_[at->first].layer;
  DecodedProfile profile;
  DecodeProfile(Stored(at->first, at->second).second, &profile);
  return InSegment(*s, profile, layer.GlobalRow(at->second), now_ms);
}

Result<std::vector<std::string>> Snapshot::SegmentsOf(std::string_view id,
                                                      int64_t now_ms) const {
  const auto at = Locate(id);
  if (!at) return Status(ErrorCode::kNotFound, "no profile " + Quoted(id));
  const Layer& layer = *layers_[at->first].layer;
  DecodedProfile profile;
  DecodeProfile(Stored(at->first, at->second).second, &profile);
  const uint32_t row = layer.GlobalRow(at->second);
  std::vector<std::string> names;
  for (const auto& [name, segment] : *segments_) {
    if (InSegment(*segment, profile, row, now_ms)) names.push_back(name);
  }
  return names;
}

Result<QueryResult> Snapshot::Search(
    std::string_view keyword, size_t limit,
    const std::vector<std::string>& fields) const {
  if (keyword.empty()) return Malformed("the search keyword is empty");
  if (limit > kMaxPreview) {
    return Invalid("limit is at most " + std::to_string(kMaxPreview));
  }
  std::vector<RuleNode> tests;
  for (const char* name : {"name", "email", "phone"}) {
    const std::optional<AttrId> attr = schema_->Find(name);
    if (!attr) continue;
    const AttrType type = schema_->attribute(*attr).type;
    if (type != AttrType::kString && type != AttrType::kStringArray) continue;
    tests.push_back(
        FieldNode(name, "contains", StringValue(std::string(keyword))));
  }
  const RuleNode rule = GroupNode(NodeKind::kAny, std::move(tests));
  Result<Prepared> prepared = Prepare(rule, 0);
  if (!prepared.ok()) return prepared.status();
  QueryResult result;
  const std::vector<Hit> hits = Run(*prepared, 0, limit, &result.count);
  for (const Hit& h : hits) result.rows.push_back(h.row);
  Render(hits, fields, false, &result.ids, &result.members_json);
  return result;
}

std::vector<SegmentInfo> Snapshot::Segments(int64_t now_ms) const {
  std::vector<SegmentInfo> out;
  for (const auto& [name, segment] : *segments_) {
    Result<SegmentInfo> info = Segment(name, now_ms);
    if (info.ok()) out.push_back(std::move(info).value());
  }
  return out;
}

Result<SegmentInfo> Snapshot::Segment(std::string_view name,
                                      int64_t now_ms) const {
  auto it = segments_->find(name);
  if (it == segments_->end()) {
    return Status(ErrorCode::kNotFound, "no segment " + Quoted(name));
  }
  // A dynamic segment that names no other is counted as its rule, which
  // the layers may have kept the rows of.
  const SavedSegment& segment = *it->second;
  const bool own_rule = segment.kind == SavedSegment::Kind::kDynamic &&
                        segment.references.empty();
  Result<Prepared> prepared =
      own_rule ? Prepare(*segment.rule, now_ms, segment.rule_json)
               : Prepare(SegmentNode(std::string(name)), now_ms);
  if (!prepared.ok()) return prepared.status();
  return SegmentInfo{it->second, Count(*prepared)};
}

uint64_t Snapshot::LayerState::StaleCount() const {
  if (stale == nullptr) return 0;
  return dead ? roaring_bitmap_andnot_cardinality(stale->get(), dead->get())
              : stale->cardinality();
}

std::vector<Snapshot::LayerInfo> Snapshot::Layers() const {
  std::vector<LayerInfo> out;
  for (const auto* layers : {&layers_, &event_layers_}) {
    for (const LayerState& s : *layers) {
      out.push_back(LayerInfo{s.layer->serial(), s.layer->size(),
                              s.dead ? s.dead->cardinality() : 0,
                              s.layer->MemoryBytes(), s.StaleCount(),
                              layers == &event_layers_,
                              s.layer->matched_rows().amended()});
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Reports.

Result<ReportResult> Snapshot::Report(const ReportRequest& request) const {
  if (request.limit > kMaxReportGroups) {
    return Invalid("limit is at most " + std::to_string(kMaxReportGroups),
                   "/limit");
  }
  RuleNode rule = GroupNode(NodeKind::kAll, {});  // everyone
  if (!request.rule_json.empty()) {
    Result<RuleNode> parsed = ParseRule(request.rule_json);
    if (!parsed.ok()) return parsed.status();
    rule = std::move(parsed).value();
  }
  if (request.group_by == "segment") return ReportBySegment(rule, request);
  return ReportByAttribute(rule, request);
}

Result<ReportResult> Snapshot::ReportBySegment(
    const RuleNode& rule, const ReportRequest& request) const {
  ReportResult report;
  Result<Prepared> all = Prepare(rule, request.now_ms);
  if (!all.ok()) return all.status();
  report.count = Count(*all);
  std::vector<std::pair<std::string, uint64_t>> counts;
  std::vector<RuleNode> every;
  for (const auto& [name, segment] : *segments_) {
    Result<Prepared> in = Prepare(
        GroupNode(NodeKind::kAll, {rule, SegmentNode(name)}), request.now_ms);
    if (!in.ok()) return in.status();
    counts.emplace_back(name, Count(*in));
    every.push_back(SegmentNode(name));
  }
  // By count, ties by name (the catalog's order, kept by a stable sort).
  std::stable_sort(
      counts.begin(), counts.end(),
      [](const auto& a, const auto& b) { return a.second > b.second; });
  if (counts.size() > request.limit) counts.resize(request.limit);
  std::vector<RuleNode> listed;
  for (const auto& [name, count] : counts) {
    report.groups.emplace_back(Quote(name), count);
    listed.push_back(SegmentNode(name));
  }
  const RuleNode in_any = GroupNode(NodeKind::kAny, every);
  Result<Prepared> other = Prepare(
      GroupNode(NodeKind::kAll,
                {rule, in_any,
                 NotNode(GroupNode(NodeKind::kAny, std::move(listed)))}),
      request.now_ms);
  if (!other.ok()) return other.status();
  report.other = Count(*other);
  Result<Prepared> missing = Prepare(
      GroupNode(NodeKind::kAll, {rule, NotNode(in_any)}), request.now_ms);
  if (!missing.ok()) return missing.status();
  report.missing = Count(*missing);
  return report;
}

namespace {

// A group of a report being added up over layers.
struct Group {
  std::string value;  // as JSON
  uint64_t count = 0;
  std::string text;  // strings: the spelling shown
};

std::string NumberJson(long double key) {
  JsonWriter out;
  const int64_t i = static_cast<int64_t>(key);
  if (static_cast<long double>(i) == key && std::fabs(key) < 9.3e18L) {
    out.Int(i);
  } else {
    out.Double(static_cast<double>(key));
  }
  return out.Take();
}

}  // namespace

Result<ReportResult> Snapshot::ReportByAttribute(
    const RuleNode& rule, const ReportRequest& request) const {
  const std::optional<AttrId> attr = schema_->Find(request.group_by);
  if (!attr) {
    return Invalid("unknown attribute " + Quoted(request.group_by),
                   "/group_by");
  }
  const AttrType type = schema_->attribute(*attr).type;
  if (type == AttrType::kUnindexable) {
    return Invalid("attribute " + Quoted(request.group_by) +
                       " holds values that fit no type",
                   "/group_by");
  }
  Result<Prepared> prepared = Prepare(rule, request.now_ms);
  if (!prepared.ok()) return prepared.status();
  ReportResult report;
  uint64_t with_value = 0;
  // Groups keyed as rules compare values: folded text, exact numbers, UTC
  // days, booleans; each map is in ascending value order.
  std::map<std::string, Group> strings;
  std::map<long double, Group> numbers;
  std::map<int64_t, Group> days;
  Group trues{"true", 0, {}}, falses{"false", 0, {}};
  for (const Prepared::LayerPlan& p : prepared->plans) {
    const Layer& layer = *layers_[p.layer].layer;
    const std::shared_ptr<const Bitmap>& dead = layers_[p.layer].dead;
    const Index& index = layer.index();
    const std::optional<AttrId> local = index.FindAttribute(request.group_by);
    if (!local) {  // no member here holds it
      ExecuteOptions count_only = WithoutDead(layer, dead);
      count_only.limit = 0;
      report.count += Execute(*p.plan, index, count_only).count;
      continue;
    }
    const ExecuteOptions without_dead = WithoutDead(layer, dead);
    const Tally tally =
        TallyValues(*p.plan, index, *local, without_dead.excluded);
    report.count += tally.members;
    with_value += tally.with_value;
    if (const StringIndex* s = index.attribute(*local).strings.get()) {
      for (ValueId v = 0; v < tally.by_value.size(); ++v) {
        if (tally.by_value[v] == 0) continue;
        Group& g = strings[std::string(s->folded(v))];
        if (g.value.empty()) {
          g.text = std::string(s->display(v));
          g.value = Quote(g.text);
        }
        g.count += tally.by_value[v];
      }
    }
    for (const auto& [key, count] : tally.ints) {
      if (type == AttrType::kDate) {
        const int64_t day =
            key >= 0 ? key / kDayMs : -((-key - 1) / kDayMs) - 1;
        Group& g = days[day];
        if (g.value.empty()) {
          g.value = Quote(FormatIsoInstant(day * kDayMs).substr(0, 10));
        }
        g.count += count;
      } else {
        Group& g = numbers[static_cast<long double>(key)];
        if (g.value.empty()) g.value = NumberJson(key);
        g.count += count;
      }
    }
    for (const auto& [key, count] : tally.reals) {
      Group& g = numbers[key];
      if (g.value.empty()) g.value = NumberJson(key);
      g.count += count;
    }
    trues.count += tally.trues;
    falses.count += tally.falses;
  }
  // Every group in ascending value order, then the top `limit` by count.
  std::vector<Group> groups;
  std::vector<RuleNode> listed_tests;
  auto take = [&](auto& map) {
    for (auto& [key, g] : map) groups.push_back(std::move(g));
  };
  if (type == AttrType::kBool) {
    if (falses.count > 0) groups.push_back(falses);
    if (trues.count > 0) groups.push_back(trues);
  }
  take(strings);
  take(numbers);
  take(days);
  std::stable_sort(
      groups.begin(), groups.end(),
      [](const Group& a, const Group& b) { return a.count > b.count; });
  if (groups.size() > request.limit) groups.resize(request.limit);
  uint64_t listed = 0;
  std::vector<std::string> listed_texts;  // string arrays: the values shown
  for (Group& g : groups) {
    listed += g.count;
    if (type == AttrType::kStringArray) listed_texts.push_back(g.text);
    report.groups.emplace_back(std::move(g.value), g.count);
  }
  report.missing = report.count - with_value;
  // A member of an array attribute may hold several listed values, so
  // `other` is counted, not derived, unless each member holds one value.
  if (type != AttrType::kStringArray) {
    report.other = with_value - listed;
    return report;
  }
  JsonValue values;
  values.type = JsonValue::Type::kArray;
  for (const std::string& text : listed_texts) {
    values.items.push_back(StringValue(text));
  }
  RuleNode has = FieldNode(request.group_by, "exists", std::nullopt);
  RuleNode in_listed = FieldNode(request.group_by, "in", std::move(values));
  Result<Prepared> other =
      Prepare(GroupNode(NodeKind::kAll,
                        {rule, std::move(has), NotNode(std::move(in_listed))}),
              request.now_ms);
  if (!other.ok()) return other.status();
  report.other = Count(*other);
  return report;
}

// ---------------------------------------------------------------------------
// Database: writes.

// A row whose events alone were appended, with their names
// (EventNameBits).
struct Database::AppendedRow {
  uint32_t row;
  uint64_t names;
};

struct Database::Touched {
  std::vector<uint32_t> rows;         // rows written or deleted
  std::vector<AppendedRow> appended;  // rows whose events alone were appended
  bool schema = false;                // the schema may have changed
};

Database::Database(DatabaseOptions options) : options_(options) {
  store_.set_page_fill(options_.blob_page_bytes);
  auto version = std::make_shared<Snapshot>();
  version->max_depth_ = options_.max_depth;
  version->schema_ = std::make_shared<const Schema>(store_.schema());
  version->segments_ = std::make_shared<const Snapshot::Catalog>();
  version->layers_.push_back(Snapshot::LayerState{
      Layer::Build(store_.schema(), {}, false, next_serial_++), nullptr,
      nullptr});
  version->event_layers_.push_back(
      Snapshot::LayerState{Layer::Build(store_.schema(), {}, false,
                                        next_serial_++, Index::Scope::kEvents),
                           nullptr, nullptr});
  current_ = std::move(version);
  commit_thread_ = std::thread([this] { CommitLoop(); });
  sync_thread_ = std::thread([this] { SyncLoop(); });
  if (options_.background_merges) {
    for (MergeLane lane : kLanes) {
      merge_threads_[static_cast<int>(lane)] =
          std::thread([this, lane] { MergeLoop(lane); });
    }
  }
}

Database::~Database() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    closing_ = true;
  }
  queue_cv_.notify_one();
  commit_thread_.join();  // after the writes queued
  sync_thread_.join();
  {
    std::lock_guard<std::mutex> lock(merge_mu_);
    stopping_ = true;
  }
  merge_cv_.notify_all();
  for (std::condition_variable& cv : lane_cv_) cv.notify_all();
  snapshot_cv_.notify_all();
  for (std::thread& t : merge_threads_) {
    if (t.joinable()) t.join();
  }
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  log_.reset();                        // syncs what was appended
  if (lock_fd_ >= 0) close(lock_fd_);  // and the directory's lock with it
}

// ---------------------------------------------------------------------------
// Durability.

namespace {

// Takes the data directory's lock: flock on DIR/LOCK, which dies with the
// process. Returns the descriptor that holds it.
Result<int> LockDirectory(const std::string& dir) {
  const std::string path = dir + "/LOCK";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status(ErrorCode::kIo,
                  "cannot open " + path + ": " + std::strerror(errno));
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    char holder[32] = {0};
    const ssize_t n = pread(fd, holder, sizeof(holder) - 1, 0);
    close(fd);
    if (error == EWOULDBLOCK) {
      std::string who = n > 0 ? std::string(holder, static_cast<size_t>(n))
                              : std::string("another process");
      while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) {
        who.pop_back();
      }
      return Status(ErrorCode::kConflict, "data directory " + dir +
                                              " is in use by segd (pid " + who +
                                              "); two servers never share one");
    }
    return Status(ErrorCode::kIo,
                  "cannot lock " + path + ": " + std::strerror(error));
  }
  const std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) !=
                                   static_cast<ssize_t>(pid.size())) {
    // The pid is only for the message of a second server; not fatal.
  }
  return fd;
}

}  // namespace

Result<std::unique_ptr<Database>> Database::Open(DatabaseOptions options,
                                                 RecoveryReport* report) {
  auto db = std::make_unique<Database>(options);
  if (options.data_dir.empty()) return db;
  const std::string& dir = options.data_dir;
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status(ErrorCode::kIo,
                  "cannot create " + dir + ": " + std::strerror(errno));
  }
  Result<int> lock = LockDirectory(dir);
  if (!lock.ok()) return lock.status();
  db->lock_fd_ = *lock;

  // The newest snapshot, then the log after it.
  RecoveryReport recovered;
  uint64_t from = 1;
  if (const auto newest = NewestSnapshot(dir)) {
    Result<uint64_t> seq = db->LoadSnapshot(newest->second);
    if (!seq.ok()) return seq.status();
    from = *seq + 1;
    recovered.snapshot = newest->second;
  }
  // Replay the log, consecutive write batches as one batch: the same
  // writes in the same order, published once instead of once each.
  WriteBatch group;
  auto flush = [&]() -> Status {
    if (group.size() == 0) return Status::Ok();
    db->Write(group);
    group = WriteBatch();
    return Status::Ok();
  };
  Result<LogReadReport> read = ReadLog(
      dir, from, /*repair=*/true, [&](const LogRecord& record) -> Status {
        Result<JournalEntry> entry = DecodeJournal(record.type, record.payload);
        if (!entry.ok()) {
          return Status(ErrorCode::kCorrupt, entry.status().message() +
                                                 " (record " +
                                                 std::to_string(record.seq) +
                                                 " of the log in " + dir + ")");
        }
        ++recovered.records;
        if (entry->type == JournalType::kWriteBatch) {
          for (const WriteBatch::Op& op : entry->batch.ops()) group.Add(op);
          if (group.size() < 100000) return Status::Ok();
          return flush();
        }
        SEGD_RETURN_IF_ERROR(flush());
        return db->Replay(*entry);
      });
  if (!read.ok()) return read.status();
  SEGD_RETURN_IF_ERROR(flush());
  recovered.torn_bytes = read->torn_bytes;
  recovered.padding_bytes = read->padding_bytes;
  recovered.torn_file = read->torn_file;

  LogOptions log_options;
  log_options.dir = dir;
  log_options.fsync = options.fsync;
  log_options.segment_bytes = options.log_segment_bytes;
  Result<std::unique_ptr<LogWriter>> log =
      LogWriter::Open(log_options, std::max(read->last_seq, from - 1) + 1);
  if (!log.ok()) return log.status();
  db->log_ = std::move(log).value();
  if (options.snapshot_log_bytes > 0) {
    Database* raw = db.get();
    db->snapshot_thread_ = std::thread([raw] { raw->SnapshotLoop(); });
  }
  if (report != nullptr) *report = std::move(recovered);
  return db;
}

void Database::SnapshotLoop() {
  NameThisThread("segd-snapshot");
  std::unique_lock<std::mutex> lock(merge_mu_);
  while (!stopping_) {
    snapshot_cv_.wait(lock, [&] {
      return stopping_ || logged_bytes_.load() >= options_.snapshot_log_bytes;
    });
    if (stopping_) return;
    lock.unlock();
    logged_bytes_.store(0);
    const auto start = std::chrono::steady_clock::now();
    if (Status s = WriteSnapshot(); !s.ok()) {
      std::fprintf(stderr, "segd: snapshot failed: %s\n", s.ToString().c_str());
    } else {
      std::fprintf(
          stderr,
          "segd: snapshot written in %.1f s, as the log passed "
          "%llu MiB\n",
          std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                        start)
              .count(),
          static_cast<unsigned long long>(options_.snapshot_log_bytes >> 20));
    }
    lock.lock();
  }
}

Status Database::Replay(const JournalEntry& entry) {
  // Each was applied once and logged only if it succeeded; applied again
  // in order it succeeds again.
  switch (entry.type) {
    case JournalType::kWriteBatch:
      Write(entry.batch);
      return Status::Ok();
    case JournalType::kDeclare: {
      // A log written before reserved keys were refused may declare one:
      // it never named an attribute that data could hold, so it is left.
      std::vector<std::pair<std::string, AttrType>> types = entry.types;
      std::erase_if(types,
                    [](const auto& t) { return IsReservedKey(t.first); });
      return Declare(types);
    }
    case JournalType::kSaveSegment:
      return SaveSegment(entry.name, entry.definition, nullptr, entry.now_ms)
          .status();
    case JournalType::kDeleteSegment:
      return DeleteSegment(entry.name);
    case JournalType::kEditMembers:
      return EditMembers(entry.name, entry.add, entry.remove).status();
  }
  return Status(ErrorCode::kCorrupt, "a log record of unknown type");
}

Status Database::CheckWritable() const {
  if (log_ == nullptr) return Status::Ok();
  const Status failure = log_->failure();
  if (failure.ok()) return Status::Ok();
  return Status(ErrorCode::kUnavailable,
                "writes are stopped: the write-ahead log failed (" +
                    failure.message() + "); reads go on");
}

void Database::FailNextSyncForTest() {
  if (log_ != nullptr) log_->FailNextSyncForTest();
}

Result<uint64_t> Database::Journal(JournalType type, std::string payload) {
  const std::string_view view = payload;
  return Journal(type, std::span<const std::string_view>(&view, 1));
}

Result<uint64_t> Database::Journal(JournalType type,
                                   std::span<const std::string_view> payloads) {
  if (log_ == nullptr || payloads.empty()) return uint64_t{0};
  Result<uint64_t> seq = log_->Append(static_cast<uint8_t>(type), payloads);
  if (!seq.ok()) {
    Status writable = CheckWritable();  // the log's failure, said once
    return writable.ok() ? seq.status() : writable;
  }
  uint64_t bytes = 0;
  for (std::string_view payload : payloads) bytes += payload.size();
  if (options_.snapshot_log_bytes > 0 &&
      logged_bytes_.fetch_add(bytes) + bytes >= options_.snapshot_log_bytes) {
    snapshot_cv_.notify_one();
  }
  return seq;
}

Status Database::AwaitDurable(const Result<uint64_t>& seq) {
  if (!seq.ok()) {
    return seq.status().code() == ErrorCode::kUnavailable
               ? seq.status()
               : Status(ErrorCode::kUnavailable, seq.status().message());
  }
  if (*seq == 0) return Status::Ok();
  if (Status durable = log_->WaitDurable(*seq); !durable.ok()) {
    return CheckWritable().ok()
               ? Status(ErrorCode::kUnavailable, durable.message())
               : CheckWritable();
  }
  return Status::Ok();
}

std::shared_ptr<const Snapshot> Database::Read() const {
  std::lock_guard<std::mutex> lock(current_mu_);
  return current_;
}

bool Snapshot::SameEventsAs(const Snapshot& other) const {
  if (event_layers_.size() != other.event_layers_.size()) return false;
  for (size_t e = 0; e < event_layers_.size(); ++e) {
    if (event_layers_[e].layer != other.event_layers_[e].layer ||
        event_layers_[e].dead != other.event_layers_[e].dead) {
      return false;
    }
  }
  for (const LayerState& state : layers_) {
    if (state.stale == nullptr) continue;
    for (const LayerState& was : other.layers_) {
      if (was.layer == state.layer && was.stale != state.stale) return false;
    }
  }
  return true;
}

namespace {

// The appended log kept by a version: the epochs of about this many rows,
// and at most this many epochs (merges begin epochs that append nothing).
// A version that begins an epoch copies its log's pointers, a few µs.
constexpr size_t kAppendedRows = size_t{1} << 17;
constexpr size_t kAppendedEpochs = 256;

}  // namespace

std::shared_ptr<const Snapshot::AppendedLog> Snapshot::LogAppended(
    const std::shared_ptr<const AppendedLog>& log, uint64_t epoch,
    Appended::ByLayer by_layer) {
  auto entry = std::make_shared<Appended>();
  entry->epoch = epoch;
  entry->by_layer = std::move(by_layer);
  size_t rows = 0;
  auto rows_of = [](const Appended& e) {
    size_t n = 0;
    for (const Appended::LayerRows& l : e.by_layer) n += l.locals.size();
    return n;
  };
  rows += rows_of(*entry);
  size_t first = log != nullptr ? log->size() : 0;
  while (first > 0 && log->size() - first + 1 < kAppendedEpochs &&
         rows + rows_of(*(*log)[first - 1]) <= kAppendedRows) {
    rows += rows_of(*(*log)[--first]);
  }
  auto next = std::make_shared<AppendedLog>();
  if (log != nullptr) next->assign(log->begin() + first, log->end());
  next->push_back(std::move(entry));
  return next;
}

void Database::Install(std::shared_ptr<Snapshot> next,
                       Snapshot::Appended::ByLayer appended) {
  blob_live_bytes_.store(store_.blobs().live_bytes());
  const uint64_t sparse = store_.blobs().sparse_bytes();
  blob_sparse_bytes_.store(sparse);
  if (sparse < blob_sparse_floor_.load()) blob_sparse_floor_.store(sparse);
  // Writers take turns, so the current version is the one `next` was made
  // from; both are held, so nothing compared is new at an old address.
  std::shared_ptr<const Snapshot> replaced = Read();
  if (replaced != nullptr) {
    next->event_epoch_ = replaced->event_epoch_;
    next->appended_ = replaced->appended_;
    if (!appended.empty() || !next->SameEventsAs(*replaced)) {
      next->appended_ = Snapshot::LogAppended(
          replaced->appended_, ++next->event_epoch_, std::move(appended));
    }
  }
  {
    std::lock_guard<std::mutex> lock(current_mu_);
    current_ = std::move(next);
  }
  replaced.reset();  // the previous version, unless a reader still holds it
  NotifyMerges();
}

// Layers smaller than this are built on the writing thread alone: a batch
// of 1,000 profiles took longer on both cores than on one (before a
// one-shard index read its strings in its first pass; now the rest of the
// build has little to share out), and the other core has queries and
// merges to run.
constexpr size_t kSmallLayerRows = 4096;

template <typename Build>
void Database::InstallNewest(const Schema& schema,
                             std::vector<Snapshot::LayerState>& layers,
                             Index::Scope scope, size_t profiles,
                             Build&& build) {
  auto small = [](auto&& make) {
    // Waking oneTBB's workers for a few rows costs more than it saves, and
    // takes the cores from the server's threads.
    std::shared_ptr<const Layer> built;
    thread_local tbb::task_arena alone(1);
    alone.execute([&] { built = make(); });
    return built;
  };
  layers.back() = Snapshot::LayerState{
      profiles >= kSmallLayerRows ? build() : small(build), nullptr, nullptr};
  if (profiles >= options_.newest_layer_rows) {
    // Kept as it is; a new, empty newest layer takes the next writes.
    const uint64_t serial = next_serial_++;
    layers.push_back(Snapshot::LayerState{
        small([&] { return Layer::Build(schema, {}, false, serial, scope); }),
        nullptr, nullptr});
  }
}

namespace {

// How many rows ahead a pass over written rows loads their holders.
constexpr size_t kHoldersAhead = 8;

// Whether a layer of `profiles`, the last at row end - 1, is built over
// the whole row space (local rows are rows, a blob view a row): when it
// holds most of it (a first load, a base).
bool OverWholeSpace(uint64_t profiles, uint64_t end) {
  return profiles > 0 && profiles * 2 >= end;
}

// A copy of `bitmap` (or an empty one) to add to: copy-on-write.
std::unique_ptr<Bitmap> Writable(const std::shared_ptr<const Bitmap>& bitmap) {
  return std::make_unique<Bitmap>(bitmap ? roaring_bitmap_copy(bitmap->get())
                                         : roaring_bitmap_create());
}

// The position of the layer numbered `serial` in `layers` (a snapshot's
// layer states), if there.
template <typename LayerStates>
std::optional<size_t> PositionOf(const LayerStates& layers, uint64_t serial) {
  for (size_t i = 0; i < layers.size(); ++i) {
    if (layers[i].layer->serial() == serial) return i;
  }
  return std::nullopt;
}

}  // namespace

bool Database::Leave(std::vector<Snapshot::LayerState>& layers,
                     RowSerials& holders, std::span<const uint32_t> rows) {
  const uint64_t newest = layers.back().layer->serial();
  std::vector<std::unique_ptr<Bitmap>> dead(layers.size());
  bool newest_left = false;
  for (size_t k = 0; k < rows.size(); ++k) {
    // At 10M rows each holder read misses the cache: load those ahead.
    if (k + kHoldersAhead < rows.size()) {
      holders.Prefetch(rows[k + kHoldersAhead]);
    }
    const uint32_t row = rows[k];
    const uint64_t serial = holders.Get(row);
    holders.Set(row, 0);
    newest_left |= serial == newest;
    if (serial == 0 || serial == newest) continue;
    const std::optional<size_t> i = PositionOf(layers, serial);
    if (!i) continue;
    if (!dead[*i]) dead[*i] = Writable(layers[*i].dead);
    dead[*i]->Add(layers[*i].layer->HeldLocalRow(row));
  }
  for (size_t i = 0; i < dead.size(); ++i) {
    if (dead[i]) layers[i].dead = std::move(dead[i]);
  }
  return newest_left;
}

void Database::RebuildNewest(const Schema& schema,
                             std::vector<Snapshot::LayerState>& layers,
                             RowSerials& holders,
                             std::span<const uint32_t> rows,
                             Index::Scope scope) {
  const Layer& newest = *layers.back().layer;
  const uint64_t serial = next_serial_++;
  auto held_here = [&](uint32_t row) {
    return holders.Get(row) == newest.serial();
  };
  // A layer of every profile there is (a first load, and each write until
  // the newest layer first freezes) over most of the row space is built
  // from the store as it is, with no list of entries, and keeps the
  // store's id tables, when the store can share them (not once it has
  // written entries past those it shared). The store's bytes are then
  // those the newest layer holds for its rows still held there: every row
  // the store changed since is in `rows` (a write published, or
  // unpublished_), or left the newest (events appended to it come back as
  // rows written whole).
  const uint64_t live = store_.live_count();
  if (scope == Index::Scope::kAll && live > 0 &&
      newest.size() + rows.size() >= live) {
    uint64_t count = 0;
    newest.ForEachRow([&](uint32_t, uint32_t row) { count += held_here(row); });
    for (uint32_t row : rows) count += store_.is_live(row);
    const uint32_t end = store_.live_end();
    std::optional<ProfileStore::SharedTables> tables;
    if (count == live && OverWholeSpace(count, end)) {
      tables = store_.ShareTables();
    }
    if (tables) {
      for (uint32_t row = 0; row < end; ++row) {
        if (store_.is_live(row)) holders.Set(row, serial);
      }
      InstallNewest(schema, layers, scope, count, [&] {
        return Layer::BuildOfStore(schema, store_, *std::move(tables), serial);
      });
      return;
    }
  }
  std::vector<Layer::Entry> entries;
  entries.reserve(newest.size() + rows.size());
  newest.ForEachRow([&](uint32_t local, uint32_t row) {
    if (held_here(row)) {
      entries.push_back(Layer::Entry{row, newest.index().blob(local)});
    }
  });
  const size_t kept = entries.size();
  for (uint32_t row : rows) {
    if (store_.is_live(row)) {
      entries.push_back(Layer::Entry{row, store_.blob(row)});
    }
  }
  std::inplace_merge(entries.begin(), entries.begin() + kept, entries.end(),
                     [](const Layer::Entry& a, const Layer::Entry& b) {
                       return a.row < b.row;
                     });
  for (const Layer::Entry& e : entries) holders.Set(e.row, serial);
  const bool whole_space =
      scope == Index::Scope::kAll && !entries.empty() &&
      OverWholeSpace(entries.size(), uint64_t{entries.back().row} + 1);
  InstallNewest(schema, layers, scope, entries.size(), [&] {
    return Layer::Build(schema, std::move(entries), whole_space, serial, scope);
  });
}

void Database::Publish(Touched touched,
                       std::shared_ptr<const Snapshot::Catalog> segments) {
  const std::shared_ptr<const Snapshot> current = Read();
  auto next = std::make_shared<Snapshot>(*current);
  next->sequence_ = current->sequence_ + 1;
  next->live_count_ = store_.live_count();
  if (segments) next->segments_ = std::move(segments);
  const Schema& schema = store_.schema();
  if (touched.schema || schema.size() != current->schema_->size() ||
      schema.event_count() != current->schema_->event_count()) {
    next->schema_ = std::make_shared<const Schema>(schema);
  }
  // The rows the commit thread applied and left for this version too.
  std::vector<uint32_t> rows = std::move(touched.rows);
  rows.insert(rows.end(), unpublished_.begin(), unpublished_.end());
  unpublished_.clear();
  std::vector<AppendedRow> appended = std::move(touched.appended);
  appended.insert(appended.end(), unpublished_appended_.begin(),
                  unpublished_appended_.end());
  unpublished_appended_.clear();
  const bool rebuild =
      !rows.empty() || !appended.empty() || next->schema_ != current->schema_;
  if (!rebuild) {
    Install(std::move(next));
    return;
  }
  holder_.Grow(store_.row_count());

  // A first load's rows come in order.
  if (!std::is_sorted(rows.begin(), rows.end())) {
    std::sort(rows.begin(), rows.end());
  }
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  // A row written whole is indexed whole, its events with it; a row
  // appended to twice, once, with the names of both.
  std::sort(
      appended.begin(), appended.end(),
      [](const AppendedRow& a, const AppendedRow& b) { return a.row < b.row; });
  std::vector<AppendedRow> events_only;
  for (const AppendedRow& a : appended) {
    if (std::binary_search(rows.begin(), rows.end(), a.row)) continue;
    if (!events_only.empty() && events_only.back().row == a.row) {
      events_only.back().names |= a.names;
    } else {
      events_only.push_back(a);
    }
  }
  Snapshot::Appended::ByLayer staled;
  {
    std::vector<uint32_t> whole =
        PublishAppended(*next, rows, events_only, &staled);
    if (!whole.empty()) {
      std::vector<uint32_t> all;
      std::merge(rows.begin(), rows.end(), whole.begin(), whole.end(),
                 std::back_inserter(all));
      rows = std::move(all);
    }
  }
  // Rows written leave the layer that held them, and are indexed again in
  // the newest.
  Leave(next->layers_, holder_, rows);
  RebuildNewest(*next->schema_, next->layers_, holder_, rows,
                Index::Scope::kAll);
  Install(std::move(next), std::move(staled));
}

std::vector<uint32_t> Database::PublishAppended(
    Snapshot& next, const std::vector<uint32_t>& rows,
    const std::vector<AppendedRow>& appended,
    Snapshot::Appended::ByLayer* staled_by_layer) {
  // A row appended to stays alive in its layer, stale there, unless that
  // is the newest layer (rebuilt on this write anyway).
  const uint64_t newest_layer = next.layers_.back().layer->serial();
  std::vector<uint32_t> whole, staled;
  std::vector<std::unique_ptr<Bitmap>> stale(next.layers_.size());
  // Ascending, as `appended` is.
  std::vector<Snapshot::Appended::LayerRows> by_layer(next.layers_.size());
  for (size_t k = 0; k < appended.size(); ++k) {
    if (k + kHoldersAhead < appended.size()) {
      holder_.Prefetch(appended[k + kHoldersAhead].row);
    }
    const uint32_t row = appended[k].row;
    const uint64_t holder = holder_.Get(row);
    const std::optional<size_t> i = holder == newest_layer
                                        ? std::nullopt
                                        : PositionOf(next.layers_, holder);
    if (!i) {
      whole.push_back(row);
      continue;
    }
    if (!stale[*i]) stale[*i] = Writable(next.layers_[*i].stale);
    const uint32_t local = next.layers_[*i].layer->HeldLocalRow(row);
    stale[*i]->Add(local);
    by_layer[*i].locals.push_back(local);
    by_layer[*i].names.push_back(appended[k].names);
    staled.push_back(row);
  }
  for (size_t i = 0; i < stale.size(); ++i) {
    if (!stale[i]) continue;
    next.layers_[i].stale = std::move(stale[i]);
    by_layer[i].serial = next.layers_[i].layer->serial();
    staled_by_layer->push_back(std::move(by_layer[i]));
  }
  // Every row written leaves its event layer; the rows appended to are
  // indexed again in the newest, with all their events as stored now.
  auto& events = next.event_layers_;
  bool newest_left = Leave(events, event_holder_, rows);
  newest_left |= Leave(events, event_holder_, whole);
  newest_left |= Leave(events, event_holder_, staled);
  if (!staled.empty() || newest_left) {
    RebuildNewest(*next.schema_, events, event_holder_, staled,
                  Index::Scope::kEvents);
  }
  return whole;
}

void Database::NotifyMerges() {
  // Under the mutex, so that a merge thread between testing its condition
  // and sleeping cannot miss the new version. A thread is woken only when
  // it has something to do: most versions (a write's) start no merge.
  std::lock_guard<std::mutex> lock(merge_mu_);
  const std::shared_ptr<const Snapshot> version = Read();
  for (MergeLane lane : kLanes) {
    if (!DueMerge(*version, lane).empty()) {
      lane_cv_[static_cast<int>(lane)].notify_one();
    }
  }
  if (merge_waiters_ > 0) merge_cv_.notify_all();
}

// ---------------------------------------------------------------------------
// Database: profile writes, applied a batch at a time.

void WriteBatch::Upsert(std::string text, BatchFormat format) {
  ops_.push_back(Op{Op::Kind::kUpsert, std::move(text), {}, {}, {}, {}});
  ops_.back().format = format;
}
void WriteBatch::AppendEvents(std::string text, BatchFormat format) {
  ops_.push_back(Op{Op::Kind::kEvents, std::move(text), {}, {}, {}, {}});
  ops_.back().format = format;
}
void WriteBatch::Patch(std::string id, std::string patch_json) {
  ops_.push_back(
      Op{Op::Kind::kPatch, std::move(patch_json), std::move(id), {}, {}, {}});
}
void WriteBatch::Delete(std::string id) {
  ops_.push_back(Op{Op::Kind::kDelete, {}, std::move(id), {}, {}, {}});
}
void WriteBatch::UpdateTags(std::string id, std::vector<std::string> add,
                            std::vector<std::string> remove) {
  ops_.push_back(Op{Op::Kind::kTags,
                    {},
                    std::move(id),
                    {},
                    std::move(add),
                    std::move(remove)});
}
void WriteBatch::Merge(std::string into, std::string from) {
  ops_.push_back(
      Op{Op::Kind::kMerge, {}, std::move(into), std::move(from), {}, {}});
}

struct Database::Pending {
  Touched touched;
  // Static memberships to move (from, to) or drop (from, nullopt), in order.
  std::vector<std::pair<uint32_t, std::optional<uint32_t>>> moves;
};

BatchResult Database::ApplyUpsert(std::string_view text, BatchFormat format,
                                  Pending* pending) {
  LoadOptions options;
  options.format = format;
  options.stored = [&](uint32_t row) { pending->touched.rows.push_back(row); };
  LoadReport report = LoadText(text, &store_, options);
  BatchResult result;
  result.accepted = report.accepted;
  result.rejected = std::move(report.rejected);
  return result;
}

BatchResult Database::ApplyEvents(std::string_view text, BatchFormat format,
                                  Pending* pending) {
  LoadOptions options;
  options.format = format;
  BatchResult result;
  struct Record {
    std::string id;
    uint64_t id_hash = 0;  // ProfileStore::IdHash(id)
    ProfileInput::Event event;
    uint64_t line;
  };
  std::vector<Record> records;
  ForEachRecord(text, options,
                [&](uint64_t line, Result<std::string_view> record) {
                  if (!record.ok()) {
                    result.rejected.push_back({line, "", record.status()});
                    return;
                  }
                  Record& r = records.emplace_back();
                  r.line = line;
                  Status parsed = ParseEventRecord(*record, &r.id, &r.event);
                  if (!parsed.ok()) {
                    result.rejected.push_back({line, std::move(r.id), parsed});
                    records.pop_back();
                    return;
                  }
                  r.id_hash = ProfileStore::IdHash(r.id);
                });
  // The events of one profile are appended together, in line order: the
  // records ordered by id (its hash first, which mostly settles it), then
  // line, and their events moved into runs.
  std::vector<uint32_t> order(records.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const Record& x = records[a];
    const Record& y = records[b];
    if (x.id_hash != y.id_hash) return x.id_hash < y.id_hash;
    const int c = x.id.compare(y.id);
    return c != 0 ? c < 0 : a < b;
  });
  std::vector<ProfileInput::Event> events;
  events.reserve(order.size());
  std::vector<size_t> runs;  // where each id's events start, and the end
  for (size_t k = 0; k < order.size(); ++k) {
    const Record& r = records[order[k]];
    if (k == 0 || r.id_hash != records[order[k - 1]].id_hash ||
        r.id != records[order[k - 1]].id) {
      runs.push_back(k);
    }
    events.push_back(std::move(records[order[k]].event));
  }
  runs.push_back(order.size());
  const size_t ids = runs.size() - 1;
  const auto record_of = [&](size_t run) -> const Record& {
    return records[order[runs[run]]];
  };
  // Each id is found with its table slot, placement and stored profile
  // loaded ahead (the whole profile, which the append copies): at 10M
  // profiles each is a cache miss, which the profiles before it overlap.
  for (size_t k = 0; k < ids; ++k) {
    for (int step = 0; step < ProfileStore::kFindSteps; ++step) {
      const size_t ahead = k + (ProfileStore::kFindSteps - step) * kLoadAhead;
      if (ahead < ids) {
        store_.PrefetchFind(record_of(ahead).id_hash, step, true);
      }
    }
    const std::string& id = record_of(k).id;
    const std::span<const ProfileInput::Event> own(events.data() + runs[k],
                                                   runs[k + 1] - runs[k]);
    Result<uint32_t> row = store_.AppendEvents(id, own);
    if (row.ok()) {
      uint64_t names = 0;
      for (const ProfileInput::Event& e : own) names |= EventNameBit(e.name);
      pending->touched.appended.push_back(AppendedRow{*row, names});
      result.accepted += own.size();
      continue;
    }
    // An unknown profile is the record's id at fault.
    const Status& s = row.status();
    const Status error = s.code() == ErrorCode::kNotFound
                             ? Status(s.code(), s.message(), "/id")
                             : s;
    for (size_t i = runs[k]; i < runs[k + 1]; ++i) {
      result.rejected.push_back({records[order[i]].line, id, error});
    }
  }
  std::sort(result.rejected.begin(), result.rejected.end(),
            [](const RejectedRecord& a, const RejectedRecord& b) {
              return a.line < b.line;
            });
  return result;
}

Status Database::ApplyOne(const WriteBatch::Op& op, Pending* pending) {
  using Kind = WriteBatch::Op::Kind;
  switch (op.kind) {
    case Kind::kUpsert:
    case Kind::kEvents:
      break;  // batches: Write
    case Kind::kPatch: {
      // The profile named by the path first, then the body.
      if (!store_.FindRow(op.id)) {
        return Status(ErrorCode::kNotFound, "no profile " + Quoted(op.id));
      }
      ProfilePatch patch;
      SEGD_RETURN_IF_ERROR(ParsePatch(op.text, &patch));
      Result<uint32_t> row = store_.Patch(op.id, patch);
      if (!row.ok()) return row.status();
      pending->touched.rows.push_back(*row);
      return Status::Ok();
    }
    case Kind::kDelete: {
      const std::optional<uint32_t> row = store_.FindRow(op.id);
      if (!row) {
        return Status(ErrorCode::kNotFound, "no profile " + Quoted(op.id));
      }
      SEGD_RETURN_IF_ERROR(store_.Delete(op.id));
      pending->touched.rows.push_back(*row);
      pending->moves.emplace_back(*row, std::nullopt);
      return Status::Ok();
    }
    case Kind::kTags: {
      Result<uint32_t> row = store_.UpdateTags(op.id, op.add, op.remove);
      if (!row.ok()) return row.status();
      pending->touched.rows.push_back(*row);
      return Status::Ok();
    }
    case Kind::kMerge: {
      Result<MergeOutcome> merged = store_.Merge(op.id, op.other);
      if (!merged.ok()) return merged.status();
      pending->touched.rows.push_back(merged->into_row);
      pending->touched.rows.push_back(merged->from_row);
      pending->moves.emplace_back(merged->from_row, merged->into_row);
      return Status::Ok();
    }
  }
  return Status(ErrorCode::kInternal, "unknown write");
}

void Database::StallForMerges() {
  auto under = [&] {
    const std::shared_ptr<const Snapshot> version = Read();
    return version->layers_.size() <= options_.max_layers &&
           version->event_layers_.size() <= options_.max_layers;
  };
  if (under()) return;
  if (!options_.background_merges) {
    MergeNow();
    return;
  }
  std::unique_lock<std::mutex> lock(merge_mu_);
  ++merge_waiters_;
  merge_cv_.wait(lock, [&] { return stopping_ || under(); });
  --merge_waiters_;
}

void Database::ApplyBatch(const WriteBatch& batch,
                          std::vector<WriteOutcome>* outcomes,
                          Pending* pending) {
  // An op on a profile finds it by id, and at 10M profiles that is three
  // cache misses in a row (ProfileStore::PrefetchFind), then the profile's
  // own lines: a patch decodes it, a tags edit copies it. The ops a few
  // places ahead have them loaded while this one is applied (a merge, both
  // of its profiles).
  const std::vector<WriteBatch::Op>& ops = batch.ops_;
  auto load_ahead = [&](const WriteBatch::Op& op, int step) {
    if (!FindsById(op.kind)) return;
    store_.PrefetchFind(ProfileStore::IdHash(op.id), step, /*whole_blob=*/true);
    if (op.kind == WriteBatch::Op::Kind::kMerge) {
      store_.PrefetchFind(ProfileStore::IdHash(op.other), step, true);
    }
  };
  for (size_t i = 0; i < ops.size(); ++i) {
    for (int step = 0; step < ProfileStore::kFindSteps; ++step) {
      const size_t ahead = i + (ProfileStore::kFindSteps - step) * kLoadAhead;
      if (ahead < ops.size()) load_ahead(ops[ahead], step);
    }
    const WriteBatch::Op& op = ops[i];
    WriteOutcome& out = (*outcomes)[i];
    try {
      switch (op.kind) {
        case WriteBatch::Op::Kind::kUpsert:
          out.batch = ApplyUpsert(op.text, op.format, pending);
          break;
        case WriteBatch::Op::Kind::kEvents:
          out.batch = ApplyEvents(op.text, op.format, pending);
          break;
        case WriteBatch::Op::Kind::kPatch:
        case WriteBatch::Op::Kind::kDelete:
        case WriteBatch::Op::Kind::kTags:
        case WriteBatch::Op::Kind::kMerge:
          out.status = ApplyOne(op, pending);
          break;
      }
    } catch (const std::bad_alloc&) {
      out.status = Status(ErrorCode::kInternal, "out of memory");
    }
  }
}

namespace {

void FailAll(std::vector<WriteOutcome>* outcomes, const Status& status) {
  for (WriteOutcome& out : *outcomes) {
    out.status = status;
    out.batch.status = status;
  }
}

}  // namespace

std::vector<WriteOutcome> Database::Write(const WriteBatch& batch) {
  // A write refused (the log has failed) is refused by the commit thread,
  // as one that finds the log failed when its turn comes.
  Writer self;
  self.batch = &batch;
  self.outcomes.resize(batch.ops_.size());
  Enqueue(&self);
  std::unique_lock<std::mutex> lock(finish_mu_);
  self.cv.wait(lock, [&] { return self.finished; });
  return std::move(self.outcomes);
}

void Database::WriteAsync(WriteBatch batch, WriteDone done) {
  auto writer = std::make_unique<Writer>();
  writer->owned = std::make_unique<WriteBatch>(std::move(batch));
  writer->batch = writer->owned.get();
  writer->outcomes.resize(writer->batch->ops_.size());
  writer->done = std::move(done);
  Enqueue(writer.release());  // Finish deletes it
}

void Database::Enqueue(Writer* writer) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (!closing_) {
      wake = queue_.empty();  // else the commit thread is awake already
      queue_.push_back(writer);
      writer = nullptr;
    }
  }
  if (wake) queue_cv_.notify_one();
  if (writer != nullptr) {
    FailAll(&writer->outcomes,
            Status(ErrorCode::kUnavailable, "the database is closing"));
    Finish(Group{{writer}, 0}, Status::Ok());
  }
}

// Writers queue (LevelDB's writer queue) and the commit thread takes every
// write queued as one group: it applies them in order, publishes one
// version and logs one record per batch, so that concurrent writers share
// the cost of a newest layer. With `--fsync always` the group then goes to
// the sync thread, and the next group is applied while this one syncs;
// every group handed over meanwhile shares the next fdatasync.
void Database::CommitLoop() {
  NameThisThread("segd-commit");
  constexpr size_t kMaxGroupOps = 4096;
  for (;;) {
    std::vector<Writer*> writers;
    bool publish = false;
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait(lock, [&] {
        return closing_ || !queue_.empty() || publish_wanted_ > published_seq_;
      });
      publish = publish_wanted_ > published_seq_;
      if (queue_.empty() && !publish) break;  // closing, every write done
      size_t ops = 0;
      while (!queue_.empty()) {
        const size_t size = queue_.front()->batch->size();
        if (!writers.empty() && ops + size > kMaxGroupOps) break;
        writers.push_back(queue_.front());
        queue_.pop_front();
        ops += size;
      }
    }
    // The sync thread has taken groups to sync, and acknowledges them once
    // they are published: now, while their fdatasync runs.
    if (publish) PublishGroups();
    if (writers.empty()) continue;
    StallForMerges();
    Group group = ApplyGroup(std::move(writers));
    if (group.last_seq != 0 && options_.fsync == FsyncMode::kAlways) {
      {
        std::lock_guard<std::mutex> lock(sync_mu_);
        to_sync_.push_back(std::move(group));
      }
      sync_cv_.notify_one();
      continue;
    }
    // `everysec` and `no` are acknowledged once logged, unless the log
    // has failed.
    PublishGroups();
    Finish(group, AwaitDurable(Result<uint64_t>(group.last_seq)));
  }
  PublishGroups();
  {
    std::lock_guard<std::mutex> lock(sync_mu_);
    commits_done_ = true;
  }
  sync_cv_.notify_one();
}

void Database::PublishPending() {
  if (!unpublished_.empty() || !unpublished_appended_.empty()) {
    Publish(Touched{});
  }
}

void Database::PublishGroups() {
  uint64_t seq = 0;
  {
    std::lock_guard<std::mutex> lock(write_mu_);
    PublishPending();
    if (log_ != nullptr) seq = log_->last_seq();
  }
  {
    std::lock_guard<std::mutex> lock(sync_mu_);
    published_seq_ = seq;
  }
  // Only with a log and `always` does the sync thread wait for one.
  if (log_ != nullptr && options_.fsync == FsyncMode::kAlways) {
    sync_cv_.notify_one();
  }
}

void Database::SyncLoop() {
  NameThisThread("segd-sync");
  for (;;) {
    std::deque<Group> groups;
    {
      std::unique_lock<std::mutex> lock(sync_mu_);
      sync_cv_.wait(lock, [&] { return commits_done_ || !to_sync_.empty(); });
      if (to_sync_.empty()) return;
      groups.swap(to_sync_);
    }
    const uint64_t last = groups.back().last_seq;
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      publish_wanted_ = last;
    }
    queue_cv_.notify_one();
    // Records are appended in order: the last group's covers all.
    const Status durable =
        AwaitDurable(Result<uint64_t>(groups.back().last_seq));
    {
      std::unique_lock<std::mutex> lock(sync_mu_);
      sync_cv_.wait(lock, [&] { return published_seq_ >= last; });
    }
    for (const Group& group : groups) Finish(group, durable);
  }
}

Database::Group Database::ApplyGroup(std::vector<Writer*> writers) {
  Group group;
  group.writers = std::move(writers);
  Pending pending;
  std::lock_guard<std::mutex> lock(write_mu_);
  std::vector<Writer*> changed;
  std::vector<std::string> records;
  for (Writer* w : group.writers) {
    if (Status writable = CheckWritable(); !writable.ok()) {
      FailAll(&w->outcomes, writable);
      continue;
    }
    const size_t before =
        pending.touched.rows.size() + pending.touched.appended.size();
    ApplyBatch(*w->batch, &w->outcomes, &pending);
    if (pending.touched.rows.size() + pending.touched.appended.size() ==
        before) {
      continue;  // nothing changed
    }
    changed.push_back(w);
    // A batch is one record, failed ops included: applied again in order,
    // they fail again.
    if (log_ != nullptr) records.push_back(EncodeWriteBatch(*w->batch));
  }
  if (!changed.empty()) {
    // The group's records in one write.
    const std::vector<std::string_view> views(records.begin(), records.end());
    const Result<uint64_t> seq = Journal(JournalType::kWriteBatch, views);
    for (Writer* w : changed) {
      if (seq.ok()) {
        w->logged = true;
      } else {
        FailAll(&w->outcomes, seq.status());
      }
    }
    if (seq.ok()) group.last_seq = *seq;
  }
  // Published by the commit thread, once or for many groups: a group
  // waits for that before it is acknowledged. Memberships that move go
  // into a catalog made from the current version's, so now.
  unpublished_.insert(unpublished_.end(), pending.touched.rows.begin(),
                      pending.touched.rows.end());
  unpublished_appended_.insert(unpublished_appended_.end(),
                               pending.touched.appended.begin(),
                               pending.touched.appended.end());
  if (!pending.moves.empty()) {
    Publish(Touched{}, MoveMemberships(pending.moves));
  }
  return group;
}

void Database::Finish(const Group& group, const Status& durable) {
  for (Writer* w : group.writers) {
    // Nothing of a batch whose record is not durable is acknowledged.
    if (w->logged && !durable.ok()) FailAll(&w->outcomes, durable);
    if (w->done) {
      std::unique_ptr<Writer> owned(w);
      owned->done(std::move(owned->outcomes));
      continue;
    }
    std::lock_guard<std::mutex> lock(finish_mu_);
    w->finished = true;
    w->cv.notify_one();
  }
}

BatchResult Database::Upsert(std::string_view text, BatchFormat format) {
  WriteBatch batch;
  batch.Upsert(std::string(text), format);
  return std::move(Write(batch)[0].batch);
}

Result<LoadReport> Database::UpsertFile(const std::string& path,
                                        LoadOptions options) {
  std::lock_guard<std::mutex> lock(write_mu_);
  Touched touched;
  options.stored = [&](uint32_t row) { touched.rows.push_back(row); };
  Result<LoadReport> report = LoadFile(path, &store_, options);
  if (!touched.rows.empty()) Publish(std::move(touched));
  return report;
}

BatchResult Database::AppendEvents(std::string_view text, BatchFormat format) {
  WriteBatch batch;
  batch.AppendEvents(std::string(text), format);
  return std::move(Write(batch)[0].batch);
}

Status Database::Patch(std::string_view id, std::string_view patch_json) {
  WriteBatch batch;
  batch.Patch(std::string(id), std::string(patch_json));
  return Write(batch)[0].status;
}

Status Database::Delete(std::string_view id) {
  WriteBatch batch;
  batch.Delete(std::string(id));
  return Write(batch)[0].status;
}

Status Database::UpdateTags(std::string_view id,
                            std::span<const std::string> add,
                            std::span<const std::string> remove) {
  WriteBatch batch;
  batch.UpdateTags(std::string(id), {add.begin(), add.end()},
                   {remove.begin(), remove.end()});
  return Write(batch)[0].status;
}

Status Database::Merge(std::string_view into, std::string_view from) {
  WriteBatch batch;
  batch.Merge(std::string(into), std::string(from));
  return Write(batch)[0].status;
}

Status Database::Declare(
    const std::vector<std::pair<std::string, AttrType>>& types) {
  SEGD_RETURN_IF_ERROR(CheckWritable());
  std::unique_lock<std::mutex> lock(write_mu_);
  const Schema& schema = store_.schema();
  for (const auto& [name, type] : types) {
    if (IsReservedKey(name)) {
      return Invalid(Quoted(name) + " is a reserved key, not an attribute",
                     JsonPointerChild("", name));
    }
    const std::optional<AttrId> attr = schema.Find(name);
    if (attr && schema.attribute(*attr).type != type) {
      return Status(ErrorCode::kConflict,
                    "attribute " + Quoted(name) + " is already " +
                        AttrTypeName(schema.attribute(*attr).type),
                    JsonPointerChild("", name));
    }
  }
  for (const auto& [name, type] : types) {
    SEGD_RETURN_IF_ERROR(store_.Declare(name, type));
  }
  Result<uint64_t> seq = Journal(JournalType::kDeclare, EncodeDeclare(types));
  Touched touched;
  touched.schema = true;
  Publish(std::move(touched));
  lock.unlock();
  return AwaitDurable(seq);
}

std::shared_ptr<const Snapshot::Catalog> Database::MoveMemberships(
    const std::vector<std::pair<uint32_t, std::optional<uint32_t>>>& moves)
    const {
  const std::shared_ptr<const Snapshot> current = Read();
  std::shared_ptr<Snapshot::Catalog> catalog;
  for (const auto& [name, segment] : *current->segments_) {
    if (segment->kind != SavedSegment::Kind::kStatic) continue;
    std::shared_ptr<Bitmap> members;
    for (const auto& [from, to] : moves) {
      if (!segment->members->contains(from)) continue;
      if (!members) {
        members = std::make_shared<Bitmap>(
            roaring_bitmap_copy(segment->members->get()));
      }
      roaring_bitmap_remove(members->get(), from);
      if (to) members->Add(*to);
    }
    if (!members) continue;
    if (!catalog) {
      catalog = std::make_shared<Snapshot::Catalog>(*current->segments_);
    }
    auto changed = std::make_shared<SavedSegment>(*segment);
    changed->members = std::move(members);
    (*catalog)[name] = std::move(changed);
  }
  return catalog;
}

// ---------------------------------------------------------------------------
// Database: saved segments.

Result<SegmentInfo> Database::SaveSegment(std::string_view name,
                                          const SegmentDefinition& definition,
                                          std::vector<std::string>* unknown_ids,
                                          int64_t now_ms) {
  SEGD_RETURN_IF_ERROR(CheckSegmentName(name));
  auto segment = std::make_shared<SavedSegment>();
  segment->name = std::string(name);
  segment->kind = definition.kind;
  segment->description = definition.description;
  if (definition.kind == SavedSegment::Kind::kDynamic) {
    Result<RuleNode> rule = ParseRule(definition.rule_json);
    if (!rule.ok()) return rule.status();
    segment->rule_json = definition.rule_json;
    CollectReferences(*rule, &segment->references);

    segment->rule = std::make_shared<const RuleNode>(std::move(rule).value());
  }
  SEGD_RETURN_IF_ERROR(CheckWritable());
  std::unique_lock<std::mutex> lock(write_mu_);
  const std::shared_ptr<const Snapshot> current = Read();
  auto catalog = std::make_shared<Snapshot::Catalog>(*current->segments_);
  if (definition.kind == SavedSegment::Kind::kStatic) {
    auto members = std::make_shared<Bitmap>();
    std::set<std::string_view> reported;
    for (const std::string& id : definition.ids) {
      if (const std::optional<uint32_t> row = store_.FindRow(id)) {
        members->Add(*row);
      } else if (unknown_ids != nullptr && reported.insert(id).second) {
        unknown_ids->push_back(id);
      }
    }
    segment->members = std::move(members);
  } else {
    // A reference cycle through the new rule: a walk from its references
    // that comes back to `name`.
    std::vector<std::string> stack = segment->references;
    std::set<std::string> seen;
    while (!stack.empty()) {
      const std::string next = std::move(stack.back());
      stack.pop_back();
      if (next == name) {
        return Status(ErrorCode::kConflict,
                      "segment " + Quoted(name) +
                          " would refer to itself through its rule");
      }
      if (!seen.insert(next).second) continue;
      auto it = catalog->find(next);
      if (it == catalog->end()) continue;
      for (const std::string& r : it->second->references) stack.push_back(r);
    }
  }
  (*catalog)[segment->name] = segment;
  // The rule must bind as a query would (unknown names, types), against
  // the catalog it joins.
  Snapshot candidate(*current);
  candidate.segments_ = catalog;
  Result<Snapshot::Prepared> prepared =
      candidate.Prepare(SegmentNode(segment->name), now_ms);
  if (!prepared.ok()) {
    if (segment->rule) {
      // Errors point into the segment's rule, not at the reference.
      Result<Snapshot::Prepared> direct =
          candidate.Prepare(*segment->rule, now_ms);
      if (!direct.ok()) return direct.status();
    }
    return prepared.status();
  }
  if (segment->rule) {
    // Checked as a query (above): it compiles to the same rule.
    Result<RowRule> row_rule =
        RowRule::Compile(*segment->rule, *current->schema_, options_.max_depth);
    if (!row_rule.ok()) return row_rule.status();
    segment->row_rule =
        std::make_shared<const RowRule>(std::move(row_rule).value());
  }
  const uint64_t count = candidate.Count(*prepared);
  Result<uint64_t> seq = Journal(JournalType::kSaveSegment,
                                 EncodeSaveSegment(name, definition, now_ms));
  Publish(Touched{}, catalog);
  lock.unlock();
  SEGD_RETURN_IF_ERROR(AwaitDurable(seq));
  return SegmentInfo{segment, count};
}

Status Database::DeleteSegment(std::string_view name) {
  SEGD_RETURN_IF_ERROR(CheckSegmentName(name));
  SEGD_RETURN_IF_ERROR(CheckWritable());
  std::unique_lock<std::mutex> lock(write_mu_);
  const std::shared_ptr<const Snapshot> current = Read();
  if (current->FindSegment(name) == nullptr) {
    return Status(ErrorCode::kNotFound, "no segment " + Quoted(name));
  }
  for (const auto& [other, segment] : *current->segments_) {
    if (std::find(segment->references.begin(), segment->references.end(),
                  name) != segment->references.end()) {
      return Status(ErrorCode::kConflict,
                    "segment " + Quoted(other) + " refers to " + Quoted(name));
    }
  }
  auto catalog = std::make_shared<Snapshot::Catalog>(*current->segments_);
  catalog->erase(catalog->find(name));
  Result<uint64_t> seq =
      Journal(JournalType::kDeleteSegment, EncodeDeleteSegment(name));
  Publish(Touched{}, catalog);
  lock.unlock();
  return AwaitDurable(seq);
}

Result<StaticEdit> Database::EditMembers(std::string_view name,
                                         std::span<const std::string> add,
                                         std::span<const std::string> remove) {
  SEGD_RETURN_IF_ERROR(CheckSegmentName(name));
  SEGD_RETURN_IF_ERROR(CheckWritable());
  std::unique_lock<std::mutex> lock(write_mu_);
  const std::shared_ptr<const Snapshot> current = Read();
  const SavedSegment* segment = current->FindSegment(name);
  if (segment == nullptr) {
    return Status(ErrorCode::kNotFound, "no segment " + Quoted(name));
  }
  if (segment->kind != SavedSegment::Kind::kStatic) {
    return Status(ErrorCode::kConflict,
                  "segment " + Quoted(name) + " has a rule, not a member list");
  }
  StaticEdit edit;
  std::set<std::string_view> reported;
  auto members =
      std::make_shared<Bitmap>(roaring_bitmap_copy(segment->members->get()));
  auto apply = [&](std::span<const std::string> ids, bool adding) {
    for (const std::string& id : ids) {
      const std::optional<uint32_t> row = store_.FindRow(id);
      if (!row) {
        if (reported.insert(id).second) edit.unknown_ids.push_back(id);
        continue;
      }
      if (adding) {
        members->Add(*row);
      } else {
        roaring_bitmap_remove(members->get(), *row);
      }
    }
  };
  apply(add, true);
  apply(remove, false);
  edit.count = members->cardinality();
  auto changed = std::make_shared<SavedSegment>(*segment);
  changed->members = std::move(members);
  auto catalog = std::make_shared<Snapshot::Catalog>(*current->segments_);
  (*catalog)[changed->name] = std::move(changed);
  Result<uint64_t> seq =
      Journal(JournalType::kEditMembers, EncodeEditMembers(name, add, remove));
  Publish(Touched{}, catalog);
  lock.unlock();
  SEGD_RETURN_IF_ERROR(AwaitDurable(seq));
  return edit;
}

// ---------------------------------------------------------------------------
// Database: merges.

std::vector<size_t> Database::DueMerge(const Snapshot& version,
                                       MergeLane lane) const {
  const bool events = lane == MergeLane::kEvents;
  const auto& layers = events ? version.event_layers_ : version.layers_;
  const size_t frozen = layers.size() - 1;  // all but the newest
  auto claimed = [&](size_t i) {
    return claimed_.count(layers[i].layer->serial()) > 0;
  };
  auto alive = [&](size_t i) {
    return layers[i].layer->size() -
           (layers[i].dead ? layers[i].dead->cardinality() : 0);
  };
  if (lane != MergeLane::kBase) {
    // Layers above the base (or event layers) by size class: `fanout` of
    // one class merge.
    const uint32_t fanout = std::max<uint32_t>(
        events ? options_.event_merge_fanout : options_.merge_fanout, 2);
    const double unit = std::max<uint32_t>(options_.newest_layer_rows, 1);
    std::map<int, std::vector<size_t>> classes;
    for (size_t i = events ? 0 : 1; i < frozen; ++i) {
      if (claimed(i)) continue;
      const double size = std::max<double>(alive(i), 1);
      const int c = static_cast<int>(
          std::floor(std::log(std::max(size / unit, 1.0)) / std::log(fanout)));
      classes[c].push_back(i);
    }
    for (auto& [c, positions] : classes) {
      if (positions.size() >= fanout) return positions;
    }
    // Too many layers for any class to fill: the smallest merge, so that
    // writes waiting on the layer count go on.
    if (layers.size() + 2 > options_.max_layers) {
      std::vector<size_t> smallest;
      for (auto& [c, positions] : classes) {
        for (size_t i : positions) smallest.push_back(i);
      }
      std::sort(smallest.begin(), smallest.end(),
                [&](size_t a, size_t b) { return alive(a) < alive(b); });
      smallest.resize(std::min<size_t>(smallest.size(), fanout));
      if (smallest.size() >= 2) {
        std::sort(smallest.begin(), smallest.end());
        return smallest;
      }
    }
    return {};
  }
  // The base with every unclaimed layer above it, once those, the base's
  // dead rows and half its stale rows are a share of the base. Stale rows
  // cost a query less than dead ones (only event conditions read their
  // event layers), but the event layers that hold them only grow until
  // the base is rebuilt.
  if (frozen == 0 || claimed(0)) return {};
  // Rebuilt to compact the stored profiles' pages (DatabaseOptions).
  const uint64_t all_sparse = blob_sparse_bytes_.load();
  const uint64_t sparse =
      all_sparse - std::min(all_sparse, blob_sparse_floor_.load());
  const bool compact =
      sparse >= std::max<uint64_t>(options_.compact_min_bytes, 1) &&
      static_cast<double>(sparse) >=
          options_.compact_share * static_cast<double>(blob_live_bytes_.load());
  uint64_t above = 0;
  std::vector<size_t> all = {0};
  for (size_t i = 1; i < frozen; ++i) {
    if (claimed(i)) continue;
    above += alive(i);
    all.push_back(i);
  }
  const uint64_t base_dead = layers[0].dead ? layers[0].dead->cardinality() : 0;
  // Rows stale and dead count twice: a bound, read off in constant time,
  // as this runs on every new version.
  const uint64_t base_stale =
      layers[0].stale ? layers[0].stale->cardinality() : 0;
  if (compact) return all;
  if (above + base_dead + base_stale == 0) return {};
  const double base = std::max<double>(alive(0), options_.newest_layer_rows);
  if (static_cast<double>(above + base_dead) + 0.5 * base_stale >=
      options_.base_merge_share * base) {
    return all;
  }
  return {};
}

bool Database::RunMerge(MergeLane lane) {
  std::shared_ptr<const Snapshot> version;
  std::vector<size_t> positions;
  std::vector<uint64_t> sources;
  const bool events = lane == MergeLane::kEvents;
  {
    std::lock_guard<std::mutex> lock(merge_mu_);
    if (stopping_) return false;
    version = Read();
    positions = DueMerge(*version, lane);
    if (positions.empty()) return false;
    const auto& layers = events ? version->event_layers_ : version->layers_;
    for (size_t i : positions) {
      sources.push_back(layers[i].layer->serial());
      claimed_.insert(sources.back());
    }
  }
  const bool base = lane == MergeLane::kBase;
  const auto& layers = events ? version->event_layers_ : version->layers_;
  // The base is built from its profiles; the layers above it, and event
  // layers, merge their indexes (reading a profile only for a spelling
  // whose row is gone, and for the events of a stale row).
  std::vector<Layer::Entry> entries;
  std::vector<Layer::MergeSource> merge_sources;
  // Rows read stale, with the event layer that held their events: the
  // merged layer has those events, unless more came since.
  std::vector<std::pair<uint32_t, uint64_t>> read_stale;
  std::vector<Layer::Entry> held;  // stale rows, as they are now
  for (size_t i : positions) {
    const Snapshot::LayerState& state = layers[i];
    if (!base) merge_sources.push_back({state.layer.get(), state.dead.get()});
    if (events || (!base && state.stale == nullptr)) continue;
    state.layer->ForEachRow([&](uint32_t local, uint32_t row) {
      if (state.dead != nullptr && state.dead->contains(local)) return;
      if (state.stale != nullptr && state.stale->contains(local)) {
        const auto [e, at] = *version->EventsAt(row);
        const Layer& holder = *version->event_layers_[e].layer;
        const std::string_view now = holder.index().blob(at);
        if (base) {
          entries.push_back(Layer::Entry{row, now});
        } else {
          held.push_back(Layer::Entry{row, now});
        }
        read_stale.emplace_back(row, holder.serial());
        return;
      }
      if (base) {
        entries.push_back(Layer::Entry{row, state.layer->index().blob(local)});
      }
    });
  }
  const auto by_row = [](const Layer::Entry& a, const Layer::Entry& b) {
    return a.row < b.row;
  };
  std::sort(entries.begin(), entries.end(), by_row);
  std::sort(held.begin(), held.end(), by_row);
  std::sort(read_stale.begin(), read_stale.end());
  // The base takes copies of the profiles whose pages the store's current
  // profiles use less than half of, packed in pages of its own; the store
  // reads them from there once the merge is in, and lets the old pages go.
  BlobPacker packer(options_.blob_page_bytes);
  // Rows copied, ascending, with where their bytes were.
  std::vector<std::pair<uint32_t, const char*>> packed;
  if (base) {
    for (Layer::Entry& e : entries) {
      if (e.blob.empty() || !BlobArena::IsSparse(*BlobPage::Of(e.blob.data()),
                                                 options_.blob_page_bytes)) {
        continue;
      }
      packed.emplace_back(e.row, e.blob.data());
      e.blob = packer.Copy(e.blob);
    }
  }
  uint64_t serial;
  {
    std::lock_guard<std::mutex> lock(write_mu_);
    serial = next_serial_++;
  }
  // The base is built over the whole row space when it holds most of it.
  const bool whole_space =
      base && !entries.empty() &&
      OverWholeSpace(entries.size(), uint64_t{entries.back().row} + 1);
  std::shared_ptr<const Layer> merged;
  tbb::task_arena arena(std::max(1, options_.merge_threads));
  arena.execute([&] {
    if (events) {
      merged = Layer::MergeEvents(*version->schema_, merge_sources, serial);
    } else if (!base) {
      merged = Layer::Merge(*version->schema_, merge_sources, held, serial);
    } else {
      merged = Layer::Build(*version->schema_, std::move(entries), whole_space,
                            serial);
    }
  });

  {
    std::lock_guard<std::mutex> lock(write_mu_);
    const std::shared_ptr<const Snapshot> current = Read();
    auto next = std::make_shared<Snapshot>(*current);
    auto& holders = events ? event_holder_ : holder_;
    auto is_source = [&](uint64_t s) {
      return std::find(sources.begin(), sources.end(), s) != sources.end();
    };
    // Rows written since the merge began died in their source layer: they
    // are dead in the merged one too. Of the rest, those whose events were
    // appended since are stale in it, and those read stale have their
    // events in it: they leave their event layer.
    auto dead = std::make_shared<Bitmap>();
    auto stale = std::make_shared<Bitmap>();
    std::vector<std::unique_ptr<Bitmap>> event_dead(next->event_layers_.size());
    size_t next_packed = 0;
    merged->ForEachRow([&](uint32_t local, uint32_t row) {
      if (!is_source(holders.Get(row))) {
        dead->Add(local);
        return;
      }
      holders.Set(row, serial);
      // A copy is the profile as it is now when the store still reads the
      // bytes copied: a write the commit thread applied but has not
      // published yet (holders lag the store) changed them.
      auto take_copy = [&] {
        while (next_packed < packed.size() && packed[next_packed].first < row) {
          ++next_packed;
        }
        if (next_packed < packed.size() && packed[next_packed].first == row &&
            store_.blob(row).data() == packed[next_packed].second) {
          store_.Repoint(row, merged->index().blob(local));
        }
      };
      if (events) return;
      const uint64_t event_holder = event_holder_.Get(row);
      if (event_holder == 0) {
        take_copy();
        return;
      }
      const auto read = std::lower_bound(read_stale.begin(), read_stale.end(),
                                         std::pair(row, uint64_t{0}));
      const bool absorbed = read != read_stale.end() && read->first == row &&
                            read->second == event_holder;
      if (!absorbed) {
        stale->Add(local);
        return;
      }
      take_copy();
      const std::optional<size_t> e =
          PositionOf(next->event_layers_, event_holder);
      event_holder_.Set(row, 0);
      if (!event_dead[*e])
        event_dead[*e] = Writable(next->event_layers_[*e].dead);
      event_dead[*e]->Add(next->event_layers_[*e].layer->HeldLocalRow(row));
    });
    for (size_t e = 0; e < event_dead.size(); ++e) {
      if (event_dead[e]) next->event_layers_[e].dead = std::move(event_dead[e]);
    }
    auto& replaced = events ? next->event_layers_ : next->layers_;
    std::vector<Snapshot::LayerState> kept;
    bool placed = false;
    for (const Snapshot::LayerState& state : replaced) {
      if (!is_source(state.layer->serial())) {
        kept.push_back(state);
        continue;
      }
      if (!placed && merged->size() > 0) {
        kept.push_back(Snapshot::LayerState{
            merged, dead->cardinality() > 0 ? dead : nullptr,
            stale->cardinality() > 0 ? stale : nullptr});
      }
      placed = true;
    }
    replaced = std::move(kept);
    if (base) blob_sparse_floor_.store(store_.blobs().sparse_bytes());
    {
      std::lock_guard<std::mutex> merge_lock(merge_mu_);
      for (uint64_t s : sources) claimed_.erase(s);
    }
    Install(std::move(next));
  }
  merges_done_.fetch_add(1);
  return true;
}

void Database::MergeNow() {
  while (RunMerge(MergeLane::kUpper) || RunMerge(MergeLane::kEvents) ||
         RunMerge(MergeLane::kBase)) {
  }
}

void Database::WaitForMerges() {
  if (!options_.background_merges) {
    MergeNow();
    return;
  }
  std::unique_lock<std::mutex> lock(merge_mu_);
  ++merge_waiters_;
  merge_cv_.wait(lock, [&] {
    if (stopping_) return true;
    const std::shared_ptr<const Snapshot> version = Read();
    return claimed_.empty() &&
           std::all_of(std::begin(kLanes), std::end(kLanes),
                       [&](MergeLane lane) {
                         return DueMerge(*version, lane).empty();
                       });
  });
  --merge_waiters_;
}

void Database::MergeLoop(MergeLane lane) {
  NameThisThread(lane == MergeLane::kBase     ? "segd-merge-base"
                 : lane == MergeLane::kEvents ? "segd-merge-ev"
                                              : "segd-merge");
  // Below the threads that write and read, where cores are short. On Linux
  // a thread's nice value is its own, and nice() raises the calling
  // thread's (to 19 at most; raising it needs no privilege). Only this
  // thread's: with merge_threads > 1, the oneTBB workers joining its arena
  // keep theirs.
  [[maybe_unused]] const int niceness = nice(options_.merge_nice);
  while (true) {
    {
      std::unique_lock<std::mutex> lock(merge_mu_);
      lane_cv_[static_cast<int>(lane)].wait(
          lock, [&] { return stopping_ || !DueMerge(*Read(), lane).empty(); });
      if (stopping_) return;
    }
    while (RunMerge(lane)) {
    }
  }
}

}  // namespace segd
