// Api: what each HTTP path of SPEC §5 does, apart from the wire.
//
// The server (api/server.h) reads a request, finds its route and hands it
// here as an ApiRequest; the answer comes back as an ApiResponse, whose
// body is whole or, for a members export, streamed in chunks. Nothing here
// knows the HTTP library, so every path can be tested without a socket.
//
// Threading: Handle may be called from any thread at once; the database
// serializes writes and never blocks reads.
#ifndef SEGD_API_HANDLERS_H_
#define SEGD_API_HANDLERS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "api/metrics.h"
#include "api/router.h"
#include "base/status.h"
#include "live/database.h"

namespace segd {

struct ApiRequest {
  const Route* route = nullptr;
  std::vector<std::string> params;  // the route's {placeholders}, decoded
  Target target;
  // The media type of the body, lower case, without parameters ("" when
  // the request has none).
  std::string content_type;
  std::string body;
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // A streamed body: called until it returns false, each call appending
  // the next chunk to `out`. It runs on one thread at a time, in order.
  std::function<bool(std::string& out)> stream;
};

// The status of an error answer.
int HttpStatus(ErrorCode code);
ApiResponse ErrorResponse(const Status& status);

// Whether the segment names and profile ids a matched path holds could be
// any (SPEC §1, §4), whatever the method: one that never could is 400, not
// "not found". `params` are the route's, in pattern order.
Status CheckPathParams(const Route& route,
                       const std::vector<std::string>& params);

class Api {
 public:
  // `db` may be null until the data is loaded: every path but /healthz
  // and /metrics answers 503 until SetReady(true).
  Api(Database* db, Metrics& metrics) : db_(db), metrics_(metrics) {}

  ApiResponse Handle(const ApiRequest& request);

  // A profile write taken apart, so that a server can run it without
  // holding a thread while it waits for the log (Database::WriteAsync):
  // the batch to write, and the answer made from its outcomes.
  struct Write {
    WriteBatch batch;
    std::function<ApiResponse(std::vector<WriteOutcome>& outcomes)> answer;
  };
  // The routes that write one WriteBatch: profiles, events, a profile's
  // patch, delete, tags and merge.
  static bool WritesBatch(RouteId id);
  // The write `request` asks for, or its answer when it is refused before
  // any (a malformed body, data not loaded). REQUIRES: WritesBatch(route).
  std::variant<ApiResponse, Write> PrepareWrite(const ApiRequest& request);
  // Runs `batch` as Database::WriteAsync does. REQUIRES: a write prepared.
  void WriteAsync(WriteBatch batch, Database::WriteDone done) {
    db_->WriteAsync(std::move(batch), std::move(done));
  }
  // The answer to a prepared write once written: write.answer, with an
  // exception answered 500 as Handle answers one.
  ApiResponse Answer(Write& write, std::vector<WriteOutcome>& outcomes);

  // /healthz answers 503 and every other path 503 until the server is
  // ready (recovery or a --load in progress). REQUIRES: a database set.
  void SetReady(bool ready) { ready_.store(ready); }
  bool ready() const { return ready_.load(); }
  // REQUIRES: not ready yet.
  void SetDatabase(Database* db) { db_ = db; }

  // Pages a streamed export reads at a time.
  static constexpr size_t kExportPage = 10000;

 private:
  using Prepared = std::variant<ApiResponse, Write>;
  Prepared IngestProfiles(const ApiRequest& request);
  Prepared IngestEvents(const ApiRequest& request);
  Prepared PatchProfile(const ApiRequest& request);
  Prepared DeleteProfile(const ApiRequest& request);
  Prepared ProfileTags(const ApiRequest& request);
  Prepared ProfileMerge(const ApiRequest& request);
  ApiResponse GetProfile(const ApiRequest& request);
  ApiResponse ProfileSegments(const ApiRequest& request);
  ApiResponse Identity(const ApiRequest& request);
  ApiResponse Query(const ApiRequest& request);
  ApiResponse ListSegments(const ApiRequest& request);
  ApiResponse GetSegment(const ApiRequest& request);
  ApiResponse PutSegment(const ApiRequest& request);
  ApiResponse DeleteSegment(const ApiRequest& request);
  ApiResponse SegmentMembers(const ApiRequest& request);
  ApiResponse EditMembers(const ApiRequest& request);
  ApiResponse Contains(const ApiRequest& request);
  ApiResponse GetSchema(const ApiRequest& request);
  ApiResponse PutSchema(const ApiRequest& request);
  ApiResponse Report(const ApiRequest& request);
  ApiResponse Search(const ApiRequest& request);
  ApiResponse Health(const ApiRequest& request);
  ApiResponse MetricsText(const ApiRequest& request);

  // The profile `id` as stored now, or 404.
  ApiResponse ProfileAnswer(std::string_view id);
  // A write of profile `id`, answered with the profile as it is then; the
  // caller adds the op.
  Write OneProfile(std::string id, WriteKind kind);
  // A batch of profiles or events, answered with its counts; the caller
  // adds the op.
  Write BatchWrite(WriteKind kind);

  // Answers a write's failure; the first that finds writes stopped says
  // so in the server's log.
  ApiResponse WriteError(const Status& status);

  Database* db_;  // set before ready_, read only after it
  Metrics& metrics_;
  std::atomic<bool> ready_{true};
  std::atomic<bool> said_writes_stopped_{false};
};

}  // namespace segd

#endif  // SEGD_API_HANDLERS_H_
