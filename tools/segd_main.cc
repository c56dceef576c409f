// segd: the command line (SPEC §5).
//
//   segd gen --profiles N --seed S [--out FILE] [--now ISO]
//   segd query --load FILE --rule RULE_JSON_OR_@FILE [--limit N] [--now ISO]
//              [--fields a,b] [--schema JSON_OR_@FILE]
//   segd serve [--data-dir DIR] [--port P] [--listen ADDR] [--load FILE]
//              [--api-key KEY] [--fsync always|everysec|no] [--max-body N]
//   segd bench [--profiles N] [--seed S] [--runs R] ...   (bench/suite.h)
//
// Results go to standard output; errors go to standard error as JSON
// ({"error": {...}}) with a non-zero exit status.
#include <signal.h>
#include <simdjson.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api/handlers.h"
#include "api/metrics.h"
#include "api/router.h"
#include "api/server.h"
#include "base/json_pointer.h"
#include "base/json_writer.h"
#include "base/status.h"
#include "base/time.h"
#include "bench/suite.h"
#include "engine/preview.h"
#include "engine/query.h"
#include "index/index.h"
#include "ingest/loader.h"
#include "live/database.h"
#include "live/journal.h"
#include "live/snapshot_file.h"
#include "tools/gen.h"

namespace segd {
namespace {

constexpr char kUsage[] =
    "usage:\n"
    "  segd gen --profiles N --seed S [--out FILE] [--now ISO]\n"
    "  segd query --load FILE --rule RULE_JSON|@FILE [--limit N] [--now ISO]\n"
    "             [--fields a,b,...] [--schema JSON|@FILE]\n"
    "  segd serve [--data-dir DIR] [--port P] [--listen ADDR] [--load FILE]\n"
    "             [--api-key KEY] [--fsync always|everysec|no] [--max-body N]\n"
    "  segd verify DIR\n"
    "  segd bench [--profiles N] [--seed S] [--runs R] [--data-dir DIR]\n"
    "             [--report FILE.md] [--chart FILE.png] [--rules TEXT]\n"
    "             [--loads 1,2|2] [--sections all|live|server] "
    "[--write-seconds S]\n"
    "             [--merge-fanout N] [--max-layers N] [--merge-nice N]\n";

int Fail(const Status& status) {
  std::fprintf(stderr, "%s\n", status.ToJson().c_str());
  return status.code() == ErrorCode::kMalformed ||
                 status.code() == ErrorCode::kInvalid
             ? 2
             : 1;
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "segd: %s\n%s", message.c_str(), kUsage);
  return 64;
}

// --name value pairs; a flag may appear once.
Result<std::map<std::string, std::string>> ParseFlags(int argc, char** argv,
                                                      int first) {
  std::map<std::string, std::string> flags;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || i + 1 >= argc) {
      return Malformed("expected --flag value, got \"" + arg + "\"");
    }
    std::string value = argv[++i];
    if (auto eq = arg.find('='); eq != std::string::npos) {
      return Malformed("write flags as --flag value, got \"" + arg + "\"");
    }
    if (!flags.emplace(arg.substr(2), value).second) {
      return Malformed("flag " + arg + " given twice");
    }
  }
  return flags;
}

// The text of a JSON argument, or of the file named after '@'.
Result<std::string> InlineOrFile(const std::string& arg) {
  if (arg.empty() || arg[0] != '@') return arg;
  std::ifstream in(arg.substr(1), std::ios::binary);
  if (!in) return Status(ErrorCode::kIo, "cannot read " + arg.substr(1));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

Result<uint64_t> ParseCount(const std::string& flag, const std::string& text) {
  if (text.empty() || text.size() > 19 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return Malformed("--" + flag + " takes a non-negative integer, got \"" +
                     text + "\"");
  }
  return std::stoull(text);
}

int RunGen(const std::map<std::string, std::string>& flags) {
  GenOptions options;
  for (const auto& [name, value] : flags) {
    if (name == "profiles" || name == "seed") {
      Result<uint64_t> n = ParseCount(name, value);
      if (!n.ok()) return UsageError(n.status().message());
      (name == "profiles" ? options.profiles : options.seed) = *n;
    } else if (name == "now") {
      auto now = ParseIsoInstant(value);
      if (!now) return UsageError("--now takes an ISO-8601 date");
      options.now_ms = *now;
    } else if (name != "out") {
      return UsageError("unknown flag --" + name + " for gen");
    }
  }
  if (!flags.count("profiles")) return UsageError("gen needs --profiles N");
  std::FILE* out = stdout;
  auto it = flags.find("out");
  if (it != flags.end()) {
    out = std::fopen(it->second.c_str(), "wb");
    if (out == nullptr) {
      return Fail(Status(ErrorCode::kIo, "cannot write " + it->second + ": " +
                                             std::strerror(errno)));
    }
  }
  const bool ok = GenerateProfiles(options, out);
  if (out != stdout && std::fclose(out) != 0) {
    return Fail(Status(ErrorCode::kIo, "cannot write " + it->second));
  }
  if (!ok) return Fail(Status(ErrorCode::kIo, "writing profiles failed"));
  return 0;
}

std::vector<std::string> SplitFields(const std::string& text) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string field = text.substr(start, comma - start);
    if (!field.empty() &&
        std::find(fields.begin(), fields.end(), field) == fields.end()) {
      fields.push_back(std::move(field));
    }
    start = comma + 1;
  }
  // As over HTTP: --fields given empty shows the id alone.
  if (fields.empty()) fields.emplace_back("id");
  return fields;
}

// --schema {"signed_up": "string", ...}: declared types.
Result<std::vector<std::pair<std::string, AttrType>>> ParseSchema(
    const std::string& json) {
  std::vector<std::pair<std::string, AttrType>> types;
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(json).get(object)) {
    return Malformed("--schema takes a JSON object of attribute: type");
  }
  for (auto [name, value] : object) {
    std::string_view type_name;
    std::optional<AttrType> type;
    if (!value.get_string().get(type_name)) type = ParseAttrType(type_name);
    if (!type) {
      return Invalid("--schema: the type of \"" + std::string(name) +
                         "\" must be one of string, number, date, bool, "
                         "string_array",
                     JsonPointerChild("", name));
    }
    types.emplace_back(std::string(name), *type);
  }
  return types;
}

void ReportRejected(const LoadReport& report) {
  constexpr size_t kShown = 20;
  for (size_t i = 0; i < report.rejected.size() && i < kShown; ++i) {
    const RejectedRecord& r = report.rejected[i];
    std::fprintf(stderr, "segd: line %llu%s%s%s: rejected: %s\n",
                 static_cast<unsigned long long>(r.line),
                 r.id.empty() ? "" : " (id \"", r.id.c_str(),
                 r.id.empty() ? "" : "\")", r.error.ToString().c_str());
  }
  if (report.rejected.size() > kShown) {
    std::fprintf(stderr, "segd: ... and %zu more rejected records\n",
                 report.rejected.size() - kShown);
  }
}

int RunQueryCommand(const std::map<std::string, std::string>& flags) {
  static const char* kKnown[] = {"load", "rule",   "limit",
                                 "now",  "fields", "schema"};
  for (const auto& [name, value] : flags) {
    if (std::find(std::begin(kKnown), std::end(kKnown), name) ==
        std::end(kKnown)) {
      return UsageError("unknown flag --" + name + " for query");
    }
  }
  if (!flags.count("load")) return UsageError("query needs --load FILE");
  if (!flags.count("rule")) return UsageError("query needs --rule JSON|@FILE");

  QueryOptions options;
  options.now_ms = NowMillis();
  if (auto it = flags.find("now"); it != flags.end()) {
    auto now = ParseIsoInstant(it->second);
    if (!now) return Fail(Malformed("--now takes an ISO-8601 date"));
    options.now_ms = *now;
  }
  if (auto it = flags.find("limit"); it != flags.end()) {
    Result<uint64_t> n = ParseCount("limit", it->second);
    if (!n.ok()) return Fail(n.status());
    options.limit = *n;
  }
  std::vector<std::string> fields = DefaultPreviewFields();
  if (auto it = flags.find("fields"); it != flags.end()) {
    fields = SplitFields(it->second);
  }
  Result<std::string> rule = InlineOrFile(flags.at("rule"));
  if (!rule.ok()) return Fail(rule.status());

  DatabaseOptions db_options;
  db_options.background_merges = false;  // one load, then one query
  Database db(db_options);
  if (auto it = flags.find("schema"); it != flags.end()) {
    Result<std::string> schema = InlineOrFile(it->second);
    if (!schema.ok()) return Fail(schema.status());
    Result<std::vector<std::pair<std::string, AttrType>>> types =
        ParseSchema(*schema);
    if (!types.ok()) return Fail(types.status());
    Status declared = db.Declare(*types);
    if (!declared.ok()) return Fail(declared);
  }

  LoadOptions load_options;
  const bool tty = isatty(STDERR_FILENO);
  const auto start = std::chrono::steady_clock::now();
  if (tty) {
    double shown = 0;
    load_options.progress = [&](const LoadReport& r) {
      const double s = std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - start)
                           .count();
      if (s - shown < 0.1) return;  // ten updates a second are plenty
      shown = s;
      std::fprintf(stderr, "\rloading: %llu profiles, %.0f MB, %.1f s",
                   static_cast<unsigned long long>(r.accepted), r.bytes / 1e6,
                   s);
      std::fflush(stderr);
    };
  }
  // The load indexes as it publishes: a first load is one layer.
  Result<LoadReport> report = db.UpsertFile(flags.at("load"), load_options);
  if (tty) std::fprintf(stderr, "\n");
  if (!report.ok()) return Fail(report.status());
  ReportRejected(*report);

  const auto loaded = std::chrono::steady_clock::now();
  QueryRequest request;
  request.rule_json = *rule;
  request.limit = options.limit;
  request.now_ms = options.now_ms;
  request.fields = fields;
  const std::shared_ptr<const Snapshot> snapshot = db.Read();
  Result<QueryResult> result = snapshot->Query(request);
  if (!result.ok()) return Fail(result.status());
  const auto queried = std::chrono::steady_clock::now();
  if (tty) {
    auto ms = [](auto a, auto b) {
      return std::chrono::duration<double, std::milli>(b - a).count();
    };
    size_t index_bytes = 0;
    for (const Snapshot::LayerInfo& layer : snapshot->Layers()) {
      index_bytes += layer.bytes;
    }
    std::fprintf(stderr,
                 "loaded and indexed %llu profiles in %.0f ms "
                 "(%.1f MB index), queried in %.2f ms\n",
                 static_cast<unsigned long long>(report->accepted),
                 ms(start, loaded), index_bytes / 1e6, ms(loaded, queried));
  }
  JsonWriter out;
  out.BeginObject();
  out.Key("count");
  out.Uint(result->count);
  out.Key("members");
  out.Raw(result->members_json);
  out.EndObject();
  const std::string json = out.Take();
  std::fwrite(json.data(), 1, json.size(), stdout);
  std::fputc('\n', stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

// Lets the server hold as many connections as the system allows: the soft
// descriptor limit (often 1,024) goes up to the hard one.
void RaiseDescriptorLimit() {
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 &&
      limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int RunServe(const std::map<std::string, std::string>& flags) {
  static const char* kKnown[] = {"data-dir", "port",  "listen",  "load",
                                 "api-key",  "fsync", "max-body"};
  for (const auto& [name, value] : flags) {
    if (std::find(std::begin(kKnown), std::end(kKnown), name) ==
        std::end(kKnown)) {
      return UsageError("unknown flag --" + name + " for serve");
    }
  }
  ServerOptions options;
  if (auto it = flags.find("port"); it != flags.end()) {
    Result<uint64_t> port = ParseCount("port", it->second);
    if (!port.ok() || *port > 65535) {
      return UsageError("--port takes a number from 0 to 65535");
    }
    options.port = static_cast<uint16_t>(*port);
  }
  if (auto it = flags.find("listen"); it != flags.end()) {
    options.address = it->second;
  }
  if (auto it = flags.find("max-body"); it != flags.end()) {
    Result<uint64_t> bytes = ParseCount("max-body", it->second);
    if (!bytes.ok() || *bytes == 0) {
      return UsageError("--max-body takes a positive number of bytes");
    }
    options.max_batch_body = *bytes;
  }
  if (auto it = flags.find("fsync"); it != flags.end()) {
    if (it->second != "always" && it->second != "everysec" &&
        it->second != "no") {
      return UsageError("--fsync takes always, everysec or no");
    }
  }
  if (auto it = flags.find("api-key"); it != flags.end()) {
    options.api_key = it->second;
  } else if (const char* key = std::getenv("SEGD_API_KEY")) {
    options.api_key = key;
  }
  RaiseDescriptorLimit();

  // SIGINT and SIGTERM are taken by sigwait below, on this thread only:
  // blocked before any other thread starts, so every thread inherits it.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  DatabaseOptions db_options;
  if (auto it = flags.find("data-dir"); it != flags.end()) {
    db_options.data_dir = it->second;
  }
  if (auto it = flags.find("fsync"); it != flags.end()) {
    db_options.fsync = *ParseFsyncMode(it->second);
  }
  Metrics metrics(RouteNames());
  Api api(nullptr, metrics);
  api.SetReady(false);
  Server server(api, metrics, options);
  if (Status started = server.Start(); !started.ok()) return Fail(started);
  std::printf("segd: listening on http://%s:%u\n", options.address.c_str(),
              static_cast<unsigned>(server.port()));
  std::fflush(stdout);

  // The data directory is recovered, and a --load file read, while the
  // server answers /healthz with 503.
  std::unique_ptr<Database> db;
  std::atomic<bool> failed{false};
  const auto load = flags.find("load");
  std::thread loader([&] {
    const auto start = std::chrono::steady_clock::now();
    auto seconds = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                           start)
          .count();
    };
    auto fail = [&](const std::string& message) {
      std::fprintf(stderr, "segd: %s\n", message.c_str());
      failed.store(true);
      kill(getpid(), SIGTERM);
    };
    RecoveryReport recovery;
    Result<std::unique_ptr<Database>> opened =
        Database::Open(db_options, &recovery);
    if (!opened.ok()) return fail(opened.status().ToString());
    db = std::move(opened).value();
    // Test hook (the end-to-end tests): the log's first fdatasync fails.
    if (const char* hook = std::getenv("SEGD_TEST_FAIL_NEXT_SYNC");
        hook != nullptr && std::string_view(hook) == "1") {
      db->FailNextSyncForTest();
    }
    if (!db_options.data_dir.empty()) {
      if (recovery.torn_bytes > 0) {
        std::printf("segd: cut a torn record of %llu bytes off the end of %s\n",
                    static_cast<unsigned long long>(recovery.torn_bytes),
                    recovery.torn_file.c_str());
      }
      if (recovery.padding_bytes > 0) {
        std::printf(
            "segd: cut %llu zero bytes off the end of %s (the padding of a "
            "direct write, or zeros a power cut left)\n",
            static_cast<unsigned long long>(recovery.padding_bytes),
            recovery.torn_file.c_str());
      }
      std::printf(
          "segd: recovered %s: %s%llu logged writes replayed, in %.1f s\n",
          db_options.data_dir.c_str(),
          recovery.snapshot.empty() ? "" : "a snapshot and ",
          static_cast<unsigned long long>(recovery.records), seconds());
    }
    // A data directory that holds data already is not loaded into again:
    // the file would replace what writes made of its profiles since.
    const bool holds_data =
        !db_options.data_dir.empty() &&
        (!recovery.snapshot.empty() || recovery.records > 0);
    if (load != flags.end() && holds_data) {
      std::printf("segd: %s holds data already; %s is not loaded again\n",
                  db_options.data_dir.c_str(), load->second.c_str());
    } else if (load != flags.end()) {
      Result<LoadReport> report = db->UpsertFile(load->second);
      if (!report.ok()) {
        return fail("cannot load " + load->second + ": " +
                    report.status().ToString());
      }
      ReportRejected(*report);
      std::printf("segd: loaded %llu profiles from %s in %.1f s\n",
                  static_cast<unsigned long long>(report->accepted),
                  load->second.c_str(), seconds());
      // A load is not logged record by record: with a data directory it
      // is made durable as a snapshot before any write can build on it.
      if (!db_options.data_dir.empty()) {
        if (Status saved = db->WriteSnapshot(); !saved.ok()) {
          return fail("cannot save the load in " + db_options.data_dir + ": " +
                      saved.ToString());
        }
        std::printf("segd: saved the load as a snapshot, at %.1f s\n",
                    seconds());
      }
    }
    api.SetDatabase(db.get());
    api.SetReady(true);
    std::printf("segd: ready\n");
    std::fflush(stdout);
  });

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  if (!failed.load()) {
    std::printf("segd: %s: finishing requests in flight, then stopping\n",
                signal_number == SIGINT ? "interrupted" : "terminated");
    std::fflush(stdout);
  }
  server.Stop();
  loader.join();  // recovery and a load are not cut short
  // SPEC §5: a clean stop writes a snapshot, so the next start reads it
  // instead of the log.
  if (db != nullptr && !failed.load() && !db_options.data_dir.empty() &&
      db->CheckWritable().ok()) {
    const auto start = std::chrono::steady_clock::now();
    if (Status saved = db->WriteSnapshot(); !saved.ok()) {
      std::fprintf(stderr, "segd: snapshot failed: %s\n",
                   saved.ToString().c_str());
    } else {
      std::printf("segd: snapshot written in %.1f s\n",
                  std::chrono::duration<double>(
                      std::chrono::steady_clock::now() - start)
                      .count());
    }
  }
  db.reset();  // the log synced and closed, the directory unlocked
  if (failed.load()) return 1;
  std::printf("segd: stopped\n");
  return 0;
}

// segd verify DIR (SPEC §6): 0 sound (a torn tail is reported, and normal
// after a crash), 1 corrupt, 2 cannot check.
int RunVerify(int argc, char** argv) {
  if (argc != 3) {
    UsageError("verify takes one data directory");
    return 2;
  }
  const std::string dir = argv[2];
  struct stat info;
  if (stat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    std::fprintf(stderr, "segd verify: %s is not a directory\n", dir.c_str());
    return 2;
  }
  uint64_t from = 1;
  if (const auto newest = NewestSnapshot(dir)) {
    Result<uint64_t> seq = VerifySnapshotFile(newest->second);
    if (!seq.ok()) {
      std::fprintf(stderr, "segd verify: %s\n",
                   seq.status().ToString().c_str());
      return seq.status().code() == ErrorCode::kCorrupt ? 1 : 2;
    }
    std::printf("segd verify: %s is sound, up to log record %llu\n",
                newest->second.c_str(), static_cast<unsigned long long>(*seq));
    from = *seq + 1;
  }
  uint64_t records = 0;
  Result<LogReadReport> log =
      ReadLog(dir, from, /*repair=*/false, [&](const LogRecord& record) {
        ++records;
        Result<JournalEntry> entry = DecodeJournal(record.type, record.payload);
        if (!entry.ok()) {
          return Status(ErrorCode::kCorrupt,
                        entry.status().message() + " (record " +
                            std::to_string(record.seq) + ")");
        }
        return Status::Ok();
      });
  if (!log.ok()) {
    std::fprintf(stderr, "segd verify: %s: %s\n", dir.c_str(),
                 log.status().ToString().c_str());
    return log.status().code() == ErrorCode::kCorrupt ? 1 : 2;
  }
  if (log->torn_bytes > 0) {
    std::printf(
        "segd verify: %s: a torn record of %llu bytes at the end of %s "
        "(a crash mid-write; recovery cuts it)\n",
        dir.c_str(), static_cast<unsigned long long>(log->torn_bytes),
        log->torn_file.c_str());
  }
  if (log->padding_bytes > 0) {
    std::printf(
        "segd verify: %s: %llu zero bytes at the end of %s (the padding of a "
        "direct write, or zeros a power cut left; recovery cuts them)\n",
        dir.c_str(), static_cast<unsigned long long>(log->padding_bytes),
        log->torn_file.c_str());
  }
  std::printf("segd verify: %s is sound: %llu log records, the last %llu\n",
              dir.c_str(), static_cast<unsigned long long>(records),
              static_cast<unsigned long long>(log->last_seq));
  return 0;
}

int RunBench(const std::map<std::string, std::string>& flags) {
  BenchOptions options;
  for (const auto& [name, value] : flags) {
    if (name == "profiles" || name == "seed" || name == "runs") {
      Result<uint64_t> n = ParseCount(name, value);
      if (!n.ok()) return UsageError(n.status().message());
      if (name == "profiles") options.profiles = *n;
      if (name == "seed") options.seed = *n;
      if (name == "runs")
        options.runs = static_cast<int>(std::max<uint64_t>(*n, 1));
    } else if (name == "data-dir") {
      options.data_dir = value;
    } else if (name == "report") {
      options.report = value;
    } else if (name == "chart") {
      options.chart = value;
    } else if (name == "rules") {
      options.rules = value;
    } else if (name == "sections") {
      if (value != "all" && value != "live" && value != "server") {
        return UsageError("--sections takes all, live or server");
      }
      options.sections = value;
    } else if (name == "write-seconds") {
      Result<uint64_t> n = ParseCount(name, value);
      if (!n.ok()) return UsageError(n.status().message());
      options.write_seconds = static_cast<double>(std::max<uint64_t>(*n, 1));
    } else if (name == "merge-fanout" || name == "max-layers") {
      // Fewer than 8 layers would hold writes at nearly every batch.
      const bool fanout = name == "merge-fanout";
      const uint64_t least = fanout ? 2 : 8;
      Result<uint64_t> n = ParseCount(name, value);
      if (!n.ok()) return UsageError(n.status().message());
      if (*n < least || *n > 64) {
        return UsageError("--" + name + " takes " + std::to_string(least) +
                          " to 64");
      }
      auto& setting = fanout ? options.merge_fanout : options.max_layers;
      setting = static_cast<uint32_t>(*n);
    } else if (name == "merge-nice") {
      Result<uint64_t> n = ParseCount(name, value);
      if (!n.ok()) return UsageError(n.status().message());
      if (*n > 19) return UsageError("--merge-nice takes 0 to 19");
      options.merge_nice = static_cast<int>(*n);
    } else if (name == "loads") {
      if (value != "1,2" && value != "2") {
        return UsageError(
            "--loads takes 1,2 (both loads) or 2 (only the "
            "2-thread load)");
      }
      options.quick = value == "2";
    } else {
      return UsageError("unknown flag --" + name + " for bench");
    }
  }
  Status status = RunBenchmarkSuite(options);
  return status.ok() ? 0 : Fail(status);
}

int Main(int argc, char** argv) {
  if (argc < 2) return UsageError("missing command");
  const std::string command = argv[1];
  // A help flag anywhere, as in `segd bench --help`, asks for the usage,
  // even in a flag's place: no flag expects "--help" or "-h" as its value.
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help" || (i == 1 && arg == "help")) {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  if (command == "verify") return RunVerify(argc, argv);
  auto flags = ParseFlags(argc, argv, 2);
  if (!flags.ok()) return UsageError(flags.status().message());
  if (command == "gen") return RunGen(*flags);
  if (command == "query") return RunQueryCommand(*flags);
  if (command == "bench") return RunBench(*flags);
  if (command == "serve") return RunServe(*flags);
  return UsageError("unknown command \"" + command + "\"");
}

// glibc backs its heap with transparent huge pages only when told so as
// the process starts (GLIBC_TUNABLES is read before main), so segd sets
// glibc.malloc.hugetlb=1 and runs itself again, once. Where a page fault
// is dear (a VM), that is a third off loading and restarting: a 2 MiB
// page is one fault where 4 KiB pages are 512 (BENCHMARKS.md). A tunable
// the user set, this one included, is kept as it is.
void UseHugePages(char** argv) {
  const char* set = std::getenv("GLIBC_TUNABLES");
  // A copy: setenv may free the string `set` points to.
  const std::optional<std::string> tunables =
      set != nullptr ? std::optional<std::string>(set) : std::nullopt;
  if (tunables && tunables->find("glibc.malloc.hugetlb") != std::string::npos) {
    return;
  }
  const std::string value = tunables && !tunables->empty()
                                ? *tunables + ":glibc.malloc.hugetlb=1"
                                : std::string("glibc.malloc.hugetlb=1");
  // The binary by its own path, so that the process keeps its name.
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return;
  self[n] = '\0';
  if (setenv("GLIBC_TUNABLES", value.c_str(), 1) != 0) return;
  execv(self, argv);
  unsetenv("GLIBC_TUNABLES");  // not run again: go on as we are
  if (tunables) setenv("GLIBC_TUNABLES", tunables->c_str(), 1);
}

}  // namespace
}  // namespace segd

int main(int argc, char** argv) {
  segd::UseHugePages(argv);
  try {
    return segd::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(
        stderr, "%s\n",
        segd::Status(segd::ErrorCode::kInternal, e.what()).ToJson().c_str());
    return 1;
  }
}
