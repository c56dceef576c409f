// The HTTP paths of SPEC §5 and how a request target finds one.
//
// A target is split at '/' first and each segment percent-decoded once
// after, so "%2F" is part of an id; a "." or ".." segment, before or after
// decoding, and a bad escape are refused. Nothing in a path ever reaches a
// file name. The table is fixed; everything here is a pure function of its
// input, safe from any thread.
#ifndef SEGD_API_ROUTER_H_
#define SEGD_API_ROUTER_H_

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace segd {

enum class RouteId {
  kIngestProfiles,
  kGetProfile,
  kPatchProfile,
  kDeleteProfile,
  kProfileTags,
  kProfileMerge,
  kProfileSegments,
  kIdentity,
  kIngestEvents,
  kQuery,
  kListSegments,
  kGetSegment,
  kPutSegment,
  kDeleteSegment,
  kSegmentMembers,
  kEditMembers,
  kContains,
  kGetSchema,
  kPutSchema,
  kReport,
  kSearch,
  kHealth,
  kMetrics,
};

// SPEC §5's body limits: batch ingest and CSV uploads, and the rest.
constexpr size_t kBatchBodyLimit = size_t{64} << 20;
constexpr size_t kSmallBody = size_t{1} << 20;

// Which body limit a route's request falls under (SPEC §5).
enum class BodyKind {
  kNone,   // no body expected; read under the small limit
  kSmall,  // JSON: 1 MiB
  kBatch,  // batch ingest and CSV uploads: 64 MiB, or --max-body
};

struct Route {
  RouteId id;
  std::string_view method;
  std::string_view pattern;  // "/v1/segments/{name}/members/{id}"
  BodyKind body;
};

// Every route of the server, in a fixed order (the index of a route in it
// is its metrics index).
std::span<const Route> Routes();
// "METHOD /pattern" of each route, in the order of Routes().
std::vector<std::string> RouteNames();

// A request target, split and decoded.
struct Target {
  std::vector<std::string> segments;  // the path's, decoded
  // The query string's name=value pairs in order, decoded ('+' is a space).
  std::vector<std::pair<std::string, std::string>> query;

  // The value of the first pair named `name`.
  std::optional<std::string_view> Param(std::string_view name) const;
};

// kMalformed for a target that is not an absolute path, a bad escape, or a
// "." or ".." segment.
Result<Target> ParseTarget(std::string_view target);

// The route `method` and `segments` ask for, with the values of its
// {placeholders} in order. kNotFound when no route has that path,
// kMethodNotAllowed (with the allowed methods in `allow`) when some route
// has the path but not the method.
struct Match {
  const Route* route = nullptr;
  std::vector<std::string> params;
};
Result<Match> MatchRoute(std::string_view method,
                         const std::vector<std::string>& segments,
                         std::string* allow);

}  // namespace segd

#endif  // SEGD_API_ROUTER_H_
