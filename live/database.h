// Database: the live database that the CLI, the server and the tests hold.
//
// It owns the profiles, their indexes and the saved segments, takes every
// write of SPEC §1 and §4 while it serves every read of §3.
//
// Writes go to a ProfileStore (the system of record, one writer at a time)
// and reach the indexes without a rebuild: the rows a write touches are
// indexed again in the newest layer, a small Index rebuilt on each write,
// and marked dead in the layer that held them (live/layer.h). Layers that
// pile up are merged in the background, so a read touches only a few.
//
// Readers take a Snapshot: one immutable version of everything (layers with
// their dead rows, schema, saved segments), published by the writer with a
// pointer swap. A write call is atomic for readers, a whole batch
// included: a snapshot has all of it or none. A write is in every snapshot
// taken after the call returns. Taking a snapshot never waits on a writer.
//
// Threading: every method may be called from any thread at any time.
// Writes are serialized among themselves: profile writes queue for the
// database's commit thread, which applies every write queued as one group
// (Write waits for it, WriteAsync does not). Reads run in parallel with
// them and with each other (queries run on oneTBB's threads).
#ifndef SEGD_LIVE_DATABASE_H_
#define SEGD_LIVE_DATABASE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/prefetch.h"
#include "base/status.h"
#include "engine/row_rule.h"
#include "engine/rule.h"
#include "index/bitmap.h"
#include "index/profile_store.h"
#include "index/schema.h"
#include "ingest/loader.h"
#include "live/layer.h"
#include "wal/log.h"

namespace segd {

struct DatabaseOptions {
  // The newest layer is rebuilt on every write; at this many profiles it
  // is kept as it is and a new one starts.
  uint32_t newest_layer_rows = 128;
  // Layers of about the same size are merged once there are this many.
  // A profile costs a merge per size class it climbs: from batch layers
  // of 1,000 rows, 8 reaches a base's share of 10M profiles in three
  // classes where 4 took five, and more layers wait between merges, which
  // queries pay at their tail (BENCHMARKS.md, "Layers merge eight at a
  // time").
  uint32_t merge_fanout = 8;
  // The same for event layers. Their merges move every event they hold,
  // once per size class it climbs, and only event conditions over
  // stale rows read them (once a query, not once a layer): fewer, larger
  // merges pay.
  uint32_t event_merge_fanout = 8;
  // The base is rebuilt with every other layer once they, and the base's
  // dead rows, hold this share of its profiles.
  double base_merge_share = 0.25;
  // The stored profiles' pages (index/blob_arena.h): replaced profiles
  // leave their bytes behind, and a page is freed once none of its
  // profiles is current and no layer views it. Pages that current profiles
  // use less than half of are compacted by rebuilding the base, which
  // copies those profiles into pages of its own, once such pages hold this
  // share of the current profiles' bytes, and at least compact_min_bytes.
  double compact_share = 0.5;
  uint64_t compact_min_bytes = uint64_t{64} << 20;
  // Bytes filled in a page before the next (tests make it small).
  size_t blob_page_bytes = BlobPage::kBytes;
  // Writes wait while a version has more layers than this, until merges
  // bring them back under it (RocksDB's write stall): reads stay fast, and
  // a sustained write rate is one the merges keep up with. Room for
  // seven layers waiting in each of three size classes, beside the base
  // and the newest layer.
  uint32_t max_layers = 24;
  // Merges run on threads of their own (false: only when MergeNow() is
  // called, for tests), each with this many oneTBB threads.
  bool background_merges = true;
  int merge_threads = 1;
  // How much the merge threads raise their nice value, above the writers'
  // and readers': where the cores are short, merges take what they leave.
  // Merges that fall behind stall the writes (max_layers), which gives
  // them the cores. With 5, batches of 1,000 at 10M on 2 cores did 6–26%
  // more per second of the run's load time, in four pairs of runs
  // (BENCHMARKS.md, "Merges below the writers").
  int merge_nice = 5;
  int max_depth = 64;  // rule nesting (SPEC §2)
  // Durability (SPEC §6), for Database::Open: with a data directory every
  // write is logged before it is acknowledged; empty keeps it in memory.
  std::string data_dir;
  FsyncMode fsync = FsyncMode::kAlways;
  uint64_t log_segment_bytes = 64ull << 20;
  // A snapshot is written in the background once the log has grown this
  // much since the last one (0: only when asked).
  uint64_t snapshot_log_bytes = 512ull << 20;
};

// What Database::Open found in the data directory.
struct RecoveryReport {
  std::string snapshot;     // the snapshot loaded, if any
  uint64_t records = 0;     // log records replayed after it
  uint64_t torn_bytes = 0;  // cut from the log's tail (a crash mid-write)
  // Zeros cut from the log's tail: a direct write's padding, as a crash
  // leaves it, or zeros a power cut left (LogReadReport::padding_bytes).
  uint64_t padding_bytes = 0;
  std::string torn_file;  // the file cut, when either is > 0
};

// SPEC §4: a saved segment.
struct SavedSegment {
  enum class Kind { kDynamic, kStatic };
  std::string name;
  Kind kind = Kind::kDynamic;
  std::string description;
  std::string rule_json;                 // kDynamic, as given
  std::shared_ptr<const RuleNode> rule;  // kDynamic
  // kDynamic: the rule compiled to test one profile (contains, the
  // segments of a profile) without an index.
  std::shared_ptr<const RowRule> row_rule;
  std::shared_ptr<const Bitmap> members;  // kStatic: database rows
  std::vector<std::string> references;    // segments its rule names
};

// What a segment is saved as.
struct SegmentDefinition {
  SavedSegment::Kind kind = SavedSegment::Kind::kDynamic;
  std::string description;
  std::string rule_json;         // kDynamic
  std::vector<std::string> ids;  // kStatic
};

struct BatchResult {
  uint64_t accepted = 0;
  std::vector<RejectedRecord> rejected;  // in line order
  // kUnavailable when the batch could not be made durable (a failed log):
  // then nothing of it is acknowledged.
  Status status;
};

// What a static segment's edit did.
struct StaticEdit {
  uint64_t count = 0;  // members after the write
  // Ids named that no profile has, each once, in the order given.
  std::vector<std::string> unknown_ids;
};

struct QueryRequest {
  std::string rule_json;
  size_t limit = 20;  // members to show (SPEC §3: at most 10,000)
  bool count = true;  // false: members only, which may stop early
  bool explain = false;
  int64_t now_ms = 0;
  std::vector<std::string> fields;  // empty: DefaultPreviewFields()
};

struct ExplainEntry {
  std::string path;  // the node's JSON pointer within the rule
  uint64_t count;
};

struct QueryResult {
  uint64_t count = 0;
  std::vector<uint32_t> rows;    // members, ascending
  std::vector<std::string> ids;  // theirs
  std::string members_json;      // [{"id": ..., fields...}, ...]
  std::vector<ExplainEntry> explain;
};

// Members of a rule or a saved segment, a page at a time.
struct MembersRequest {
  std::string segment;    // a saved segment, or else
  std::string rule_json;  // a rule
  std::string cursor;     // "" for the first page
  size_t limit = 100;
  bool count = true;  // the whole count beside the page
  int64_t now_ms = 0;
  std::vector<std::string> fields;  // empty: DefaultPreviewFields()
  bool render = true;               // members_json wanted
  bool ndjson = false;              // members_json as one object a line
};

struct MembersPage {
  uint64_t count = 0;  // all members, when asked
  std::vector<uint32_t> rows;
  std::vector<std::string> ids;
  std::string members_json;  // [...], or one object per line (ndjson)
  std::string next_cursor;   // "" when no more remain
};

struct ReportRequest {
  std::string rule_json;  // "": everyone
  std::string group_by;   // an attribute, or "segment"
  size_t limit = 10;      // at most 1,000
  int64_t now_ms = 0;
};

struct ReportResult {
  uint64_t count = 0;
  // (value, count); value as JSON text: a string's spelling quoted, a
  // number, true or false, a date's day quoted ("2026-11-20"), a segment's
  // name quoted.
  std::vector<std::pair<std::string, uint64_t>> groups;
  uint64_t other = 0;
  uint64_t missing = 0;
};

struct SegmentInfo {
  std::shared_ptr<const SavedSegment> segment;
  uint64_t count = 0;
};

class Database;
struct JournalEntry;
enum class JournalType : uint8_t;

// Writes applied together (LevelDB's WriteBatch): in order, under one lock,
// published as one version, so readers see all of them or none. Each op
// succeeds or fails on its own, as the same call alone would.
class WriteBatch {
 public:
  // NDJSON or a JSON array of profiles (Database::Upsert).
  void Upsert(std::string text, BatchFormat format = BatchFormat::kAuto);
  // Lines of {"id": ..., "name": ..., "at": ...} (Database::AppendEvents).
  void AppendEvents(std::string text, BatchFormat format = BatchFormat::kAuto);
  void Patch(std::string id, std::string patch_json);
  void Delete(std::string id);
  void UpdateTags(std::string id, std::vector<std::string> add,
                  std::vector<std::string> remove);
  void Merge(std::string into, std::string from);
  size_t size() const { return ops_.size(); }

  // One write of the batch, as asked (the journal logs them).
  struct Op {
    enum class Kind { kUpsert, kEvents, kPatch, kDelete, kTags, kMerge };
    Kind kind = Kind::kUpsert;
    std::string text;   // a batch, or a patch
    std::string id;     // the profile (merge: into)
    std::string other;  // merge: from
    std::vector<std::string> add, remove;
    BatchFormat format = BatchFormat::kAuto;  // kUpsert, kEvents
  };
  const std::vector<Op>& ops() const { return ops_; }
  void Add(Op op) { ops_.push_back(std::move(op)); }

 private:
  friend class Database;
  std::vector<Op> ops_;
};

// What one op of a WriteBatch did: `batch` for Upsert and AppendEvents,
// `status` for the others.
struct WriteOutcome {
  Status status;
  BatchResult batch;
};

// One version of the whole database. Reads on one snapshot agree with
// each other; a snapshot never changes.
class Snapshot {
 public:
  // Writes applied before this version (0 for an empty database).
  uint64_t sequence() const { return sequence_; }
  // A number that goes up with every version whose event layers, or
  // layers' stale rows, are not those of the version before: what an event
  // condition finds for stale rows is the same at the same epoch.
  uint64_t event_epoch() const { return event_epoch_; }
  uint64_t live_count() const { return live_count_; }
  const Schema& schema() const { return *schema_; }
  size_t segment_count() const { return segments_->size(); }

  Result<QueryResult> Query(const QueryRequest& request) const;
  Result<MembersPage> Members(const MembersRequest& request) const;
  // {"id": ..., attributes..., "identities": ..., "events": [...]}.
  std::optional<std::string> Profile(std::string_view id) const;
  std::optional<std::string> ProfileByIdentity(std::string_view channel,
                                               std::string_view handle) const;
  bool HasProfile(std::string_view id) const;
  // kNotFound for an unknown segment or profile.
  Result<bool> Contains(std::string_view segment, std::string_view id,
                        int64_t now_ms) const;
  // The saved segments profile `id` is in, by name.
  Result<std::vector<std::string>> SegmentsOf(std::string_view id,
                                              int64_t now_ms) const;
  Result<ReportResult> Report(const ReportRequest& request) const;
  // Profiles whose name, email or phone contains `keyword` (SPEC §3).
  Result<QueryResult> Search(std::string_view keyword, size_t limit,
                             const std::vector<std::string>& fields) const;
  std::vector<SegmentInfo> Segments(int64_t now_ms) const;
  Result<SegmentInfo> Segment(std::string_view name, int64_t now_ms) const;

  // Layers and their sizes, for tests and the benchmark: the layers, then
  // the event layers.
  struct LayerInfo {
    uint64_t serial;
    uint32_t size;  // profiles held, alive or dead
    uint64_t dead;
    size_t bytes;         // its index and tables
    uint64_t stale = 0;   // rows whose events an event layer holds
    bool events = false;  // an event layer
    // Rows kept at an earlier event epoch that counts amended here, and
    // kept in their place (Snapshot::Amend).
    uint64_t amended = 0;
  };
  std::vector<LayerInfo> Layers() const;

 private:
  friend class Database;
  struct LayerState {
    std::shared_ptr<const Layer> layer;
    // Local rows superseded by a later write or deleted; null when none.
    std::shared_ptr<const Bitmap> dead;
    // Local rows alive here whose events an event layer holds newer (events
    // appended since this layer was built); null when none. A row that
    // dies after it went stale stays listed, and is stale no longer.
    std::shared_ptr<const Bitmap> stale;
    // Rows alive and stale.
    uint64_t StaleCount() const;
  };
  class Resolver;
  class RowResolver;
  class EventAnswers;
  class LayerEvents;
  // The profile at local row `local` of layer `layer`, as this version
  // holds it (the event layer's bytes for a stale row), and the index that
  // names its attributes and events.
  std::pair<const Index*, std::string_view> Stored(size_t layer,
                                                   uint32_t local) const;
  // Rows whose events alone were appended by the write that began event
  // epoch `epoch`: for each layer holding some of them stale, its serial,
  // their local rows there, ascending, and the names of the events each
  // was appended (EventNameBits).
  struct Appended {
    struct LayerRows {
      uint64_t serial = 0;
      std::vector<uint32_t> locals;
      std::vector<uint64_t> names;
    };
    using ByLayer = std::vector<LayerRows>;
    uint64_t epoch = 0;
    ByLayer by_layer;
  };
  using AppendedLog = std::vector<std::shared_ptr<const Appended>>;
  // `log` with an entry for `epoch` last, of the rows of `by_layer`, and
  // as many of the epochs before as kAppendedRows rows and
  // kAppendedEpochs epochs leave room for.
  static std::shared_ptr<const AppendedLog> LogAppended(
      const std::shared_ptr<const AppendedLog>& log, uint64_t epoch,
      Appended::ByLayer by_layer);
  // What layer `at` kept for a count's rule at an earlier event epoch
  // (`earlier`), brought to this version's: the rows appended events that
  // the rule names (`rule_events`, EventNameBits) since are matched one by
  // one (`rule`, at `now_ms`, compiled into `compiled` by the first layer
  // that needs it), the others are as they were. Kept in the layer's
  // MatchedRows, and returned; null when this version's log no longer
  // reaches back to `earlier`, or those rows are too many for it to pay.
  std::shared_ptr<const MatchedRows::Rows> Amend(
      size_t at, const MatchedRows::Rows& earlier, const RuleNode& rule,
      uint64_t rule_events, int64_t now_ms,
      std::optional<Result<RowRule>>* compiled) const;
  // Whether the event layers and each layer's stale rows are `other`'s
  // (layers that `other` lacks have kept nothing yet).
  bool SameEventsAs(const Snapshot& other) const;
  // The event layer (a position in event_layers_) and local row where
  // database row `row`'s events are alive, if any is.
  std::optional<std::pair<size_t, uint32_t>> EventsAt(uint32_t row) const;
  // Whether the profile decoded as `profile`, alive at database row `row`,
  // is in `segment`.
  bool InSegment(const SavedSegment& segment, const DecodedProfile& profile,
                 uint32_t row, int64_t now_ms) const;
  using Catalog =
      std::map<std::string, std::shared_ptr<const SavedSegment>, std::less<>>;

  // A member: its database row, and where it is alive.
  struct Hit {
    uint32_t row;
    uint32_t layer;  // position in layers_
    uint32_t local;  // row in that layer
  };
  // The layer and local row where `id` is alive.
  std::optional<std::pair<size_t, uint32_t>> Locate(std::string_view id) const;
  bool Alive(size_t layer, uint32_t local) const;
  // The rule bound and planned on every layer with rows alive; errors come
  // from the newest layer, which knows the whole schema. `count_text`, for
  // a count and nothing else, is the rule's JSON text: the layers that
  // counted it before answer from what it matched there (MatchedRows), and
  // the others keep what it matches; a count of {"all": []} is the
  // version's live profiles. Run then takes limit 0.
  struct Prepared;
  Result<Prepared> Prepare(const RuleNode& rule, int64_t now_ms,
                           std::string_view count_text = {}) const;
  // Up to `limit` members from database row `first_row` on, ascending;
  // with `total`, the count of all members too.
  std::vector<Hit> Run(const Prepared& prepared, uint32_t first_row,
                       size_t limit, uint64_t* total) const;
  uint64_t Count(const Prepared& prepared) const;
  // The rows that the i-th layer plan of a count matches in its layer, to
  // keep in the layer's MatchedRows.
  std::shared_ptr<MatchedRows::Rows> Match(const Prepared& prepared,
                                           size_t i) const;
  // Each hit's id, and its members JSON: an array, or one object a line.
  void Render(const std::vector<Hit>& hits,
              const std::vector<std::string>& fields, bool ndjson,
              std::vector<std::string>* ids, std::string* json) const;
  // What saved segment `name` selects, as a rule node; kNotFound if none.
  Result<RuleNode> SegmentRule(std::string_view name) const;
  const SavedSegment* FindSegment(std::string_view name) const;
  // Counts a rule's members by the values of `attr` (Report).
  Result<ReportResult> ReportByAttribute(const RuleNode& rule,
                                         const ReportRequest& request) const;
  Result<ReportResult> ReportBySegment(const RuleNode& rule,
                                       const ReportRequest& request) const;

  uint64_t sequence_ = 0;
  uint64_t event_epoch_ = 0;
  // The rows appended to in the last event epochs, oldest first, ending
  // with event_epoch_'s (epochs with none appended have an empty entry),
  // as far back as LogAppended keeps them.
  std::shared_ptr<const AppendedLog> appended_;
  uint64_t live_count_ = 0;
  int max_depth_ = 64;
  std::vector<LayerState> layers_;  // the last is the newest
  // Event layers (Layer::Build, scope kEvents): the events of profiles
  // that a layer above holds stale, each row alive in at most one of them;
  // the last is the newest, rebuilt on every append.
  std::vector<LayerState> event_layers_;
  std::shared_ptr<const Schema> schema_;
  std::shared_ptr<const Catalog> segments_;
};

// Per database row, the serial of the layer where it is alive, or 0.
// Rows past the end hold 0 and take no memory until one is set, when the
// table grows to that row: a load, whose events no event layer holds
// apart, leaves its event holders empty rather than 8 bytes a row of
// zeros, until events are appended to its profiles.
class RowSerials {
 public:
  uint64_t Get(uint32_t row) const {
    return row < serials_.size() ? serials_[row] : 0;
  }
  void Set(uint32_t row, uint64_t serial) {
    if (row >= serials_.size()) {
      if (serial == 0) return;
      serials_.resize(size_t{row} + 1);
    }
    serials_[row] = serial;
  }
  // Holds `rows` rows, each 0 past those held now.
  void Grow(uint32_t rows) {
    if (rows > serials_.size()) serials_.resize(rows);
  }
  void Clear() { serials_.clear(); }
  // Rows held: 0 past them.
  size_t size() const { return serials_.size(); }
  // Loads the cache line of `row`, to be written soon.
  void Prefetch(uint32_t row) const {
    if (row < serials_.size()) segd::Prefetch(&serials_[row]);
  }

 private:
  std::vector<uint64_t> serials_;
};

class Database {
 public:
  // In memory only; options.data_dir is not read.
  explicit Database(DatabaseOptions options = {});
  // With options.data_dir: locks the directory (kConflict when another
  // process holds it), replays its log, and logs every write from then on.
  // kCorrupt when the log is damaged anywhere but at its very end, where a
  // torn record is cut (and reported).
  static Result<std::unique_ptr<Database>> Open(DatabaseOptions options,
                                                RecoveryReport* report);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // The current version; never waits on a writer.
  std::shared_ptr<const Snapshot> Read() const;

  // --- Writes (SPEC §1). Each is atomic and visible when it returns. ---
  // The ops of `batch` in order, published together.
  std::vector<WriteOutcome> Write(const WriteBatch& batch);
  // The same without holding the calling thread: `done` gets the outcomes
  // once they are acknowledged (durable, or failed), by then visible to
  // every read. It runs on a thread of the database's, so it must be
  // quick and must not call back into a write.
  using WriteDone = std::function<void(std::vector<WriteOutcome>)>;
  void WriteAsync(WriteBatch batch, WriteDone done);
  // NDJSON or a JSON array (by `format`; kAuto: an array when the first
  // non-blank byte is '['). Good records are applied, bad ones reported
  // with their line, or their position in the array.
  BatchResult Upsert(std::string_view text,
                     BatchFormat format = BatchFormat::kAuto);
  // The same from a file, read in blocks (`options.progress` reports);
  // fails only when the file cannot be read.
  Result<LoadReport> UpsertFile(const std::string& path,
                                LoadOptions options = {});
  // Lines (or an array) of {"id": ..., "name": ..., "at": ...}, appended.
  BatchResult AppendEvents(std::string_view text,
                           BatchFormat format = BatchFormat::kAuto);
  Status Patch(std::string_view id, std::string_view patch_json);
  Status Delete(std::string_view id);
  Status UpdateTags(std::string_view id, std::span<const std::string> add,
                    std::span<const std::string> remove);
  // Merges `from` into `into`; `from`'s static memberships move to `into`.
  Status Merge(std::string_view into, std::string_view from);
  // All or nothing: kConflict when any attribute is typed otherwise, at
  // the path "/NAME" (within {"NAME": TYPE, ...}).
  Status Declare(const std::vector<std::pair<std::string, AttrType>>& types);

  // --- Saved segments (SPEC §4). ---
  // Creates or replaces. kMalformed for a bad name, rule errors as a
  // query's (with paths within the rule), kConflict for a reference cycle.
  Result<SegmentInfo> SaveSegment(std::string_view name,
                                  const SegmentDefinition& definition,
                                  std::vector<std::string>* unknown_ids,
                                  int64_t now_ms);
  // kConflict while another segment references it.
  Status DeleteSegment(std::string_view name);
  // Static segments: adds, then removes. kConflict on a dynamic one.
  Result<StaticEdit> EditMembers(std::string_view name,
                                 std::span<const std::string> add,
                                 std::span<const std::string> remove);

  // Runs the merges due now, on the calling thread (tests, benchmarks).
  void MergeNow();
  // Waits until no merge is due or running.
  void WaitForMerges();

  uint64_t merges_done() const { return merges_done_.load(); }

  // Ok while writes are taken; kUnavailable, with the reason, once the log
  // has failed (a failed fsync is never retried: reads go on, writes stop).
  Status CheckWritable() const;

  // Test hook: the log's next fdatasync fails.
  void FailNextSyncForTest();

  // Writes the whole state to a snapshot in the data directory
  // (live/snapshot_file.h) and drops the log it makes needless. Writes
  // wait only while the version to save is taken; reads never wait.
  // REQUIRES: opened with a data directory.
  Status WriteSnapshot();

 private:
  // Logs a write. REQUIRES: write_mu_, the write applied. Returns the
  // record's sequence number (0 without a log), or kUnavailable.
  Result<uint64_t> Journal(JournalType type, std::string payload);
  // Records in order, with as few writes as can be; the last one's number.
  Result<uint64_t> Journal(JournalType type,
                           std::span<const std::string_view> payloads);
  // Waits until record `seq` is durable; kUnavailable when it cannot be.
  Status AwaitDurable(const Result<uint64_t>& seq);
  // Applies a logged write again (recovery).
  Status Replay(const JournalEntry& entry);
  // Loads a snapshot into this empty database; the sequence number of the
  // last log record it holds. kCorrupt when it is damaged.
  Result<uint64_t> LoadSnapshot(const std::string& path);
  struct Touched;
  struct Pending;
  // A write in the writers' queue: a thread waits on `cv`, or `done` is
  // called (WriteAsync, which owns the batch).
  struct Writer {
    const WriteBatch* batch = nullptr;
    std::unique_ptr<WriteBatch> owned;
    std::vector<WriteOutcome> outcomes;
    WriteDone done;
    bool logged = false;    // its record is in the log
    bool finished = false;  // REQUIRES: finish_mu_
    std::condition_variable cv;
  };
  // A group of writers applied and published together, and the log
  // record that must be durable before they are acknowledged (0: none).
  struct Group {
    std::vector<Writer*> writers;
    uint64_t last_seq = 0;
  };
  void Enqueue(Writer* writer);
  // The commit thread: takes the writers queued, applies them as one
  // group, publishes one version and hands the group on to be synced.
  void CommitLoop();
  // The sync thread: one fdatasync for every group handed to it since the
  // last, then acknowledges them (`--fsync always`); meanwhile the commit
  // thread applies the next group.
  void SyncLoop();
  // Applies and logs a group; its rows join unpublished_.
  Group ApplyGroup(std::vector<Writer*> writers);
  // Publishes every group applied so far. On the commit thread.
  void PublishGroups();
  // Publishes unpublished_, if any. REQUIRES: write_mu_.
  void PublishPending();
  // Acknowledges a group's writers; those logged fail unless `durable`.
  void Finish(const Group& group, const Status& durable);
  // The ops of `batch`, their outcomes into `outcomes`. REQUIRES: write_mu_.
  void ApplyBatch(const WriteBatch& batch, std::vector<WriteOutcome>* outcomes,
                  Pending* pending);
  BatchResult ApplyUpsert(std::string_view text, BatchFormat format,
                          Pending* pending);
  BatchResult ApplyEvents(std::string_view text, BatchFormat format,
                          Pending* pending);
  Status ApplyOne(const WriteBatch::Op& op, Pending* pending);
  // Publishes a version with `touched` rows re-indexed. REQUIRES: write_mu_.
  void Publish(Touched touched,
               std::shared_ptr<const Snapshot::Catalog> segments = nullptr);
  // Publish's part for the event layers. `rows` are written whole, and
  // leave their event layer; `appended` (none of them in `rows`) had
  // events alone appended: each stays alive in its layer, stale there,
  // and its events are indexed again in the newest event layer. Returns
  // those of `appended` whose layer is the newest, which is rebuilt with
  // them whole instead; the others, stale now, go to `staled_by_layer`.
  // REQUIRES: write_mu_, holder_ as before the write.
  struct AppendedRow;
  std::vector<uint32_t> PublishAppended(
      Snapshot& next, const std::vector<uint32_t>& rows,
      const std::vector<AppendedRow>& appended,
      Snapshot::Appended::ByLayer* staled_by_layer);
  // Rows leaving the layer of `layers` that `holders` names for each: it
  // dies there, unless that is the newest, which is rebuilt without it;
  // its holder becomes 0. Returns whether any left the newest. REQUIRES:
  // write_mu_.
  bool Leave(std::vector<Snapshot::LayerState>& layers, RowSerials& holders,
             std::span<const uint32_t> rows);
  // Rebuilds the newest of `layers` over its rows still held there and
  // `rows` (ascending, none of them held there), from their bytes as
  // stored now, and records the new layer in `holders`; at
  // newest_layer_rows it is kept as it is and an empty newest one starts.
  // REQUIRES: write_mu_.
  void RebuildNewest(const Schema& schema,
                     std::vector<Snapshot::LayerState>& layers,
                     RowSerials& holders, std::span<const uint32_t> rows,
                     Index::Scope scope);
  // Makes the layer `build` gives, of `profiles` profiles, the newest of
  // `layers`, built on this thread alone when it is small; at
  // newest_layer_rows it is kept as it is and an empty newest one starts.
  // REQUIRES: write_mu_.
  template <typename Build>
  void InstallNewest(const Schema& schema,
                     std::vector<Snapshot::LayerState>& layers,
                     Index::Scope scope, size_t profiles, Build&& build);
  // Makes `next` the current version, at the next event epoch if its
  // events are not the current one's, whose log then records the rows
  // `appended` made stale (by layer: Snapshot::Appended); the one it
  // replaces is released outside the lock. Wakes merge threads and
  // waiters. REQUIRES: write_mu_, or no other thread yet (Open): `next`
  // was made from the current version.
  void Install(std::shared_ptr<Snapshot> next,
               Snapshot::Appended::ByLayer appended = {});
  void NotifyMerges();
  // Waits, before a write takes the writer lock, while the version has
  // more than max_layers layers.
  void StallForMerges();
  // Moves static memberships of `from` to `into` (or drops them when
  // `into` is absent) in a new catalog, or null when none change.
  std::shared_ptr<const Snapshot::Catalog> MoveMemberships(
      const std::vector<std::pair<uint32_t, std::optional<uint32_t>>>& moves)
      const;
  // Merges run in three lanes, each on a thread of its own, so that the
  // layers above the base keep merging while the base is rebuilt, and the
  // event layers beside them.
  enum class MergeLane { kBase, kUpper, kEvents };
  static constexpr MergeLane kLanes[] = {MergeLane::kBase, MergeLane::kUpper,
                                         MergeLane::kEvents};
  // The positions of `version`'s layers that `lane` should merge now, none
  // of them claimed by the other lane. REQUIRES: merge_mu_.
  std::vector<size_t> DueMerge(const Snapshot& version, MergeLane lane) const;
  // Runs one merge of `lane` if one is due; returns whether it ran.
  bool RunMerge(MergeLane lane);
  void MergeLoop(MergeLane lane);

  const DatabaseOptions options_;
  std::unique_ptr<LogWriter> log_;  // null: memory only
  int lock_fd_ = -1;                // holds the data directory's lock
  std::mutex snapshot_mu_;          // one snapshot at a time
  // Log bytes appended since the last snapshot; past
  // options_.snapshot_log_bytes the snapshot thread writes one.
  std::atomic<uint64_t> logged_bytes_{0};
  std::thread snapshot_thread_;
  void SnapshotLoop();
  mutable std::mutex write_mu_;  // one writer at a time
  // The writers' queue (LevelDB's), drained by the commit thread.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Writer*> queue_;  // REQUIRES: queue_mu_
  bool closing_ = false;       // REQUIRES: queue_mu_; no more writes
  std::thread commit_thread_;
  // Groups applied and logged, waiting for their sync.
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::deque<Group> to_sync_;  // REQUIRES: sync_mu_
  bool commits_done_ = false;  // REQUIRES: sync_mu_; the commit thread ended
  // Groups are published once their sync is under way, not one by one:
  // all the groups that share an fdatasync share one newest layer. The
  // sync thread asks for the writes up to log record publish_wanted_ and
  // acknowledges them once published_seq_ has reached it.
  uint64_t publish_wanted_ = 0;  // REQUIRES: queue_mu_
  // The last log record in the published version; written by the commit
  // thread alone, under sync_mu_.
  uint64_t published_seq_ = 0;
  // Rows written and not yet in a published version. Every Publish takes
  // them. REQUIRES: write_mu_.
  std::vector<uint32_t> unpublished_;
  // Rows whose events alone were appended, likewise. REQUIRES: write_mu_.
  std::vector<AppendedRow> unpublished_appended_;
  std::thread sync_thread_;
  std::mutex finish_mu_;  // Writer::finished
  ProfileStore store_;    // REQUIRES: write_mu_
  // Per database row: the serial of the layer where it is alive, or 0.
  RowSerials holder_;  // REQUIRES: write_mu_
  // Per database row: the serial of the event layer where its events are
  // alive (its layer in holder_ holds it stale), or 0.
  RowSerials event_holder_;   // REQUIRES: write_mu_
  uint64_t next_serial_ = 1;  // REQUIRES: write_mu_
  // The current version. Its mutex is held only to copy or swap the
  // pointer, never while anything is built or freed.
  mutable std::mutex current_mu_;
  std::shared_ptr<const Snapshot> current_;

  std::mutex merge_mu_;  // guards claimed_, merge_waiters_ and stopping_
  std::condition_variable lane_cv_[3];  // a merge thread's, by MergeLane
  // Writers stalled and WaitForMerges wait for merges here.
  std::condition_variable merge_cv_;
  int merge_waiters_ = 0;
  std::condition_variable snapshot_cv_;  // the snapshot thread's
  std::set<uint64_t> claimed_;           // serials of the layers being merged
  bool stopping_ = false;
  std::atomic<uint64_t> merges_done_{0};
  // The store's blob bytes as of the last version installed, for the base
  // merge's test (DueMerge) off the writer's lock: current profiles', and
  // those of pages they use less than half of.
  std::atomic<uint64_t> blob_live_bytes_{0};
  std::atomic<uint64_t> blob_sparse_bytes_{0};
  // The sparse bytes that the last base merge left (its profiles' copies
  // taken, the rest in layers it did not merge): only bytes since count
  // towards the next, so that no merge is run for nothing.
  std::atomic<uint64_t> blob_sparse_floor_{0};
  std::thread merge_threads_[3];  // by MergeLane
};

// The opaque text of a members cursor, and back.
std::string EncodeCursor(uint32_t next_row);
std::optional<uint32_t> DecodeCursor(std::string_view cursor);

// SPEC §4: 1-200 bytes, no control characters, no '/', not "." or "..".
Status CheckSegmentName(std::string_view name);

}  // namespace segd

#endif  // SEGD_LIVE_DATABASE_H_
