// Metrics: the server's counters, served at GET /metrics as Prometheus text
// (exposition format 0.0.4).
//
// Recording (Observe, CountWrites, CountQuery, ConnectionOpened/Closed) is a
// few relaxed atomic adds into tables sized at construction: no lock, no
// allocation, so every request can record from any thread. Render reads the
// same atomics and allocates its output; it never blocks a recorder.
// Counters are read one by one, so a render running beside recorders may
// miss the newest requests, but within one render a histogram's +Inf bucket
// always equals its _count and its requests_total.
//
// Threading: every method may be called from any thread at any time. The
// route table is fixed at construction.
#ifndef SEGD_API_METRICS_H_
#define SEGD_API_METRICS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace segd {

// The Content-Type of Render's output.
inline constexpr std::string_view kMetricsContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// What a write did; segd_writes_total counts items under each kind's label.
enum class WriteKind {
  kProfiles,  // "profiles": profiles accepted by a batch
  kEvents,    // "events": events appended
  kPatch,     // "patch": one per PATCH of a profile
  kDelete,    // "delete": one per profile deleted
  kTags,      // "tags": one per tags edit of a profile
  kMerge,     // "merge": one per profile merge
  kSchema,    // "schema": attributes declared
  kSegment,   // "segment": segment created, replaced, deleted or edited
};
inline constexpr size_t kWriteKindCount = 8;

// The label value of `kind`, as listed above.
std::string_view WriteKindName(WriteKind kind);

class Metrics {
 public:
  // `routes` are the server's route patterns, a method and a path split by
  // the first space: "GET /v1/segments/{name}" renders as
  // method="GET",route="/v1/segments/{name}" (a pattern without a space
  // gets method=""). A request is recorded by its route's index;
  // UnmatchedRoute() (== routes.size()) records requests that matched no
  // route, under method="",route="unmatched".
  explicit Metrics(std::vector<std::string> routes);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  size_t UnmatchedRoute() const { return route_count_ - 1; }

  // One answered request: its route index (REQUIRES route <=
  // UnmatchedRoute(); asserted, and counted as unmatched where asserts are
  // off), its HTTP status and its latency in seconds (a negative or NaN
  // latency counts as 0, one past 10^6 s as 10^6 s).
  // Statuses segd answers (200, 201, 204, 400, 401, 404, 405, 409, 413,
  // 415, 422, 500, 503) have their own series; any other is status="other".
  void Observe(size_t route, int status, double seconds);

  // `items` written of `kind`.
  void CountWrites(WriteKind kind, uint64_t items);
  // One query evaluated: a query, members page, report, search, membership
  // check or a profile's segments.
  void CountQuery();
  void ConnectionOpened();
  void ConnectionClosed();

  // Point-in-time values the server reads when /metrics is asked.
  struct Gauges {
    uint64_t profiles = 0;
    uint64_t segments = 0;
    uint64_t rss_bytes = 0;
    uint64_t layers = 0;
    bool ready = false;
    bool writes_enabled = false;
  };
  // Every family with # HELP and # TYPE lines; of the request series, only
  // the (route, status) pairs seen so far.
  std::string Render(const Gauges& gauges) const;

 private:
  struct Cell;  // one (route, status) pair's counters

  const size_t route_count_;  // routes plus the unmatched one
  // Per route, `method="...",route="..."` with the values escaped.
  std::vector<std::string> route_labels_;
  std::unique_ptr<Cell[]> cells_;  // route-major

  std::array<std::atomic<uint64_t>, kWriteKindCount> writes_{};
  alignas(64) std::atomic<uint64_t> queries_{0};
  alignas(64) std::atomic<int64_t> connections_open_{0};
};

// The resident set size of this process in bytes (from /proc/self/statm),
// 0 if unknown.
uint64_t ResidentBytes();

}  // namespace segd

#endif  // SEGD_API_METRICS_H_
