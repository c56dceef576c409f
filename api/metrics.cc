#include "api/metrics.h"

#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cstdio>
#include <utility>

namespace segd {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

// The statuses segd answers, each with series of its own; any other status
// shares the last slot, "other". Fixed, so that recording is an index.
constexpr std::array<int, 13> kStatuses = {200, 201, 204, 400, 401, 404, 405,
                                           409, 413, 415, 422, 500, 503};
constexpr size_t kStatusSlots = kStatuses.size() + 1;
constexpr size_t kOtherSlot = kStatuses.size();
constexpr std::array<std::string_view, kStatusSlots> kStatusLabels = {
    "200", "201", "204", "400", "401", "404", "405",
    "409", "413", "415", "422", "500", "503", "other"};

// The slot of every status 0..599, so that Observe looks it up in one load.
constexpr int kStatusLimit = 600;
constexpr std::array<uint8_t, kStatusLimit> kSlotOfStatus = [] {
  std::array<uint8_t, kStatusLimit> slots{};
  slots.fill(static_cast<uint8_t>(kOtherSlot));
  for (size_t i = 0; i < kStatuses.size(); ++i) {
    slots[kStatuses[i]] = static_cast<uint8_t>(i);
  }
  return slots;
}();

size_t StatusSlot(int status) {
  if (status < 0 || status >= kStatusLimit) return kOtherSlot;
  return kSlotOfStatus[status];
}

// Latencies are kept in whole nanoseconds: an integer add is one lock-free
// instruction and sums exactly whatever order threads add in.
constexpr uint64_t kNanosPerSecond = 1'000'000'000;
// A latency past this (11.6 days) is a bug or a broken clock; it is counted
// as this, so the sum cannot overflow in practice.
constexpr uint64_t kMaxNanos = 1'000'000 * kNanosPerSecond;

// The upper bounds of the finite histogram buckets (le, inclusive).
constexpr std::array<uint64_t, 14> kBucketBounds = {
    500'000,       1'000'000,     2'500'000,     5'000'000,     10'000'000,
    25'000'000,    50'000'000,    100'000'000,   250'000'000,   500'000'000,
    1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};
// The same bounds as they are written, then +Inf.
constexpr size_t kBuckets = kBucketBounds.size() + 1;
constexpr std::array<std::string_view, kBuckets> kBucketLabels = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25",   "0.5",   "1",      "2.5",   "5",    "10",    "+Inf"};

constexpr std::array<WriteKind, kWriteKindCount> kWriteKinds = {
    WriteKind::kProfiles, WriteKind::kEvents, WriteKind::kPatch,
    WriteKind::kDelete,   WriteKind::kTags,   WriteKind::kMerge,
    WriteKind::kSchema,   WriteKind::kSegment};

uint64_t ToNanos(double seconds) {
  if (!(seconds > 0)) return 0;  // negative, zero or NaN
  if (seconds >= static_cast<double>(kMaxNanos / kNanosPerSecond)) {
    return kMaxNanos;
  }
  return static_cast<uint64_t>(seconds * 1e9 + 0.5);
}

// A label value as the exposition format wants it: backslash, double quote
// and line feed escaped.
void AppendEscaped(std::string_view value, std::string* out) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '"':
        out->append("\\\"");
        break;
      case '\n':
        out->append("\\n");
        break;
      default:
        out->push_back(c);
    }
  }
}

template <typename Int>
void AppendInt(Int value, std::string* out) {
  char buffer[24];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  assert(ec == std::errc());
  out->append(buffer, end);
}

// Nanoseconds as seconds in decimal, exact: "0.0015", "12".
void AppendSeconds(uint64_t nanos, std::string* out) {
  AppendInt(nanos / kNanosPerSecond, out);
  uint64_t fraction = nanos % kNanosPerSecond;
  if (fraction == 0) return;
  char digits[9];
  for (int i = 8; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + fraction % 10);
    fraction /= 10;
  }
  size_t length = 9;
  while (digits[length - 1] == '0') --length;
  out->push_back('.');
  out->append(digits, length);
}

// `method="...",route="..."`, escaped.
std::string RouteLabel(std::string_view method, std::string_view route) {
  std::string label = "method=\"";
  AppendEscaped(method, &label);
  label.append("\",route=\"");
  AppendEscaped(route, &label);
  label.append("\"");
  return label;
}

void AppendFamily(std::string_view name, std::string_view type,
                  std::string_view help, std::string* out) {
  out->append("# HELP ").append(name).append(" ").append(help).append("\n");
  out->append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void AppendGauge(std::string_view name, std::string_view help, uint64_t value,
                 std::string* out) {
  AppendFamily(name, "gauge", help, out);
  out->append(name).append(" ");
  AppendInt(value, out);
  out->append("\n");
}

}  // namespace

std::string_view WriteKindName(WriteKind kind) {
  switch (kind) {
    case WriteKind::kProfiles:
      return "profiles";
    case WriteKind::kEvents:
      return "events";
    case WriteKind::kPatch:
      return "patch";
    case WriteKind::kDelete:
      return "delete";
    case WriteKind::kTags:
      return "tags";
    case WriteKind::kMerge:
      return "merge";
    case WriteKind::kSchema:
      return "schema";
    case WriteKind::kSegment:
      return "segment";
  }
  return "unknown";  // not reached: the switch names every kind
}

// Requests of one (route, status) pair by latency bucket, not cumulative:
// Observe adds to one bucket, Render sums them. The count is their total,
// so +Inf and _count agree even while recorders run. Two cache lines.
struct alignas(64) Metrics::Cell {
  std::array<std::atomic<uint64_t>, kBuckets> by_bucket{};
  std::atomic<uint64_t> sum_nanos{0};
};

Metrics::Metrics(std::vector<std::string> routes)
    : route_count_(routes.size() + 1),
      cells_(std::make_unique<Cell[]>(route_count_ * kStatusSlots)) {
  route_labels_.reserve(route_count_);
  for (const std::string& pattern : routes) {
    const std::string_view whole = pattern;
    const size_t space = whole.find(' ');
    if (space == std::string_view::npos) {
      route_labels_.push_back(RouteLabel("", whole));
    } else {
      route_labels_.push_back(
          RouteLabel(whole.substr(0, space), whole.substr(space + 1)));
    }
  }
  route_labels_.push_back(RouteLabel("", "unmatched"));
}

Metrics::~Metrics() = default;

void Metrics::Observe(size_t route, int status, double seconds) {
  assert(route < route_count_);
  route = std::min(route, route_count_ - 1);
  const uint64_t nanos = ToNanos(seconds);
  // The first bucket whose bound is at least the latency; past the last
  // finite bound, the +Inf one.
  const size_t bucket =
      std::lower_bound(kBucketBounds.begin(), kBucketBounds.end(), nanos) -
      kBucketBounds.begin();
  Cell& cell = cells_[route * kStatusSlots + StatusSlot(status)];
  cell.by_bucket[bucket].fetch_add(1, kRelaxed);
  cell.sum_nanos.fetch_add(nanos, kRelaxed);
}

void Metrics::CountWrites(WriteKind kind, uint64_t items) {
  writes_[static_cast<size_t>(kind)].fetch_add(items, kRelaxed);
}

void Metrics::CountQuery() { queries_.fetch_add(1, kRelaxed); }

void Metrics::ConnectionOpened() { connections_open_.fetch_add(1, kRelaxed); }

void Metrics::ConnectionClosed() { connections_open_.fetch_sub(1, kRelaxed); }

std::string Metrics::Render(const Gauges& gauges) const {
  // Each seen pair's counters, read once, so that its requests_total, its
  // buckets and its _count all come from the same reads.
  struct Seen {
    size_t route;
    size_t slot;
    std::array<uint64_t, kBuckets> cumulative;  // [kBuckets - 1] is the count
    uint64_t sum_nanos;
  };
  std::vector<Seen> seen;
  for (size_t route = 0; route < route_count_; ++route) {
    for (size_t slot = 0; slot < kStatusSlots; ++slot) {
      const Cell& cell = cells_[route * kStatusSlots + slot];
      Seen pair{route, slot, {}, 0};
      uint64_t total = 0;
      for (size_t b = 0; b < kBuckets; ++b) {
        total += cell.by_bucket[b].load(kRelaxed);
        pair.cumulative[b] = total;
      }
      if (total == 0) continue;
      pair.sum_nanos = cell.sum_nanos.load(kRelaxed);
      seen.push_back(pair);
    }
  }

  std::string out;
  out.reserve(4096 + seen.size() * (kBuckets + 3) * 96);
  auto append_labels = [&](const Seen& pair) {
    out.append(route_labels_[pair.route]).append(",status=\"");
    out.append(kStatusLabels[pair.slot]).append("\"");
  };

  AppendFamily("segd_http_requests_total", "counter",
               "HTTP requests answered, by route pattern and status.", &out);
  for (const Seen& pair : seen) {
    out.append("segd_http_requests_total{");
    append_labels(pair);
    out.append("} ");
    AppendInt(pair.cumulative[kBuckets - 1], &out);
    out.append("\n");
  }

  AppendFamily("segd_http_request_duration_seconds", "histogram",
               "Time taken to answer HTTP requests, by route pattern and "
               "status.",
               &out);
  for (const Seen& pair : seen) {
    for (size_t b = 0; b < kBuckets; ++b) {
      out.append("segd_http_request_duration_seconds_bucket{");
      append_labels(pair);
      out.append(",le=\"").append(kBucketLabels[b]).append("\"} ");
      AppendInt(pair.cumulative[b], &out);
      out.append("\n");
    }
    out.append("segd_http_request_duration_seconds_sum{");
    append_labels(pair);
    out.append("} ");
    AppendSeconds(pair.sum_nanos, &out);
    out.append("\nsegd_http_request_duration_seconds_count{");
    append_labels(pair);
    out.append("} ");
    AppendInt(pair.cumulative[kBuckets - 1], &out);
    out.append("\n");
  }

  AppendFamily("segd_http_connections_open", "gauge",
               "HTTP connections open now.", &out);
  out.append("segd_http_connections_open ");
  AppendInt(connections_open_.load(kRelaxed), &out);
  out.append("\n");

  AppendFamily("segd_writes_total", "counter",
               "Items written: profiles accepted, events appended, and "
               "profile, schema and segment edits.",
               &out);
  for (WriteKind kind : kWriteKinds) {
    out.append("segd_writes_total{kind=\"")
        .append(WriteKindName(kind))
        .append("\"} ");
    AppendInt(writes_[static_cast<size_t>(kind)].load(kRelaxed), &out);
    out.append("\n");
  }

  AppendFamily("segd_queries_total", "counter",
               "Queries evaluated: queries, members pages, reports, "
               "searches, membership checks and segments of a profile.",
               &out);
  out.append("segd_queries_total ");
  AppendInt(queries_.load(kRelaxed), &out);
  out.append("\n");

  AppendGauge("segd_profiles", "Live profiles.", gauges.profiles, &out);
  AppendGauge("segd_segments", "Saved segments.", gauges.segments, &out);
  AppendGauge("segd_layers", "Index layers in the current snapshot.",
              gauges.layers, &out);
  AppendGauge("segd_resident_memory_bytes",
              "Resident set size of the process in bytes.", gauges.rss_bytes,
              &out);
  AppendGauge("segd_ready",
              "1 while serving, 0 while the data directory is being loaded.",
              gauges.ready ? 1 : 0, &out);
  AppendGauge("segd_writes_enabled",
              "1 while writes are accepted, 0 while they are refused.",
              gauges.writes_enabled ? 1 : 0, &out);
  return out;
}

uint64_t ResidentBytes() {
  std::FILE* file = std::fopen("/proc/self/statm", "r");
  if (file == nullptr) return 0;
  unsigned long long size_pages = 0;
  unsigned long long resident_pages = 0;
  const int read = std::fscanf(file, "%llu %llu", &size_pages, &resident_pages);
  std::fclose(file);
  const long page_bytes = sysconf(_SC_PAGESIZE);
  if (read != 2 || page_bytes <= 0) return 0;
  return static_cast<uint64_t>(resident_pages) *
         static_cast<uint64_t>(page_bytes);
}

}  // namespace segd
