#include "api/router.h"

#include <array>

namespace segd {
namespace {

constexpr std::array kRoutes = {
    Route{RouteId::kIngestProfiles, "POST", "/v1/profiles", BodyKind::kBatch},
    Route{RouteId::kGetProfile, "GET", "/v1/profiles/{id}", BodyKind::kNone},
    Route{RouteId::kPatchProfile, "PATCH", "/v1/profiles/{id}",
          BodyKind::kSmall},
    Route{RouteId::kDeleteProfile, "DELETE", "/v1/profiles/{id}",
          BodyKind::kNone},
    Route{RouteId::kProfileTags, "POST", "/v1/profiles/{id}/tags",
          BodyKind::kSmall},
    Route{RouteId::kProfileMerge, "POST", "/v1/profiles/{id}/merge",
          BodyKind::kSmall},
    Route{RouteId::kProfileSegments, "GET", "/v1/profiles/{id}/segments",
          BodyKind::kNone},
    Route{RouteId::kIdentity, "GET", "/v1/identities/{channel}/{handle}",
          BodyKind::kNone},
    Route{RouteId::kIngestEvents, "POST", "/v1/events", BodyKind::kBatch},
    Route{RouteId::kQuery, "POST", "/v1/query", BodyKind::kSmall},
    Route{RouteId::kListSegments, "GET", "/v1/segments", BodyKind::kNone},
    Route{RouteId::kGetSegment, "GET", "/v1/segments/{name}", BodyKind::kNone},
    // A CSV body may be large; a JSON one is held to the small limit once
    // its Content-Type is known.
    Route{RouteId::kPutSegment, "PUT", "/v1/segments/{name}", BodyKind::kBatch},
    Route{RouteId::kDeleteSegment, "DELETE", "/v1/segments/{name}",
          BodyKind::kNone},
    Route{RouteId::kSegmentMembers, "GET", "/v1/segments/{name}/members",
          BodyKind::kNone},
    Route{RouteId::kEditMembers, "POST", "/v1/segments/{name}/members",
          BodyKind::kBatch},
    Route{RouteId::kContains, "GET", "/v1/segments/{name}/members/{id}",
          BodyKind::kNone},
    Route{RouteId::kGetSchema, "GET", "/v1/schema", BodyKind::kNone},
    Route{RouteId::kPutSchema, "PUT", "/v1/schema", BodyKind::kSmall},
    Route{RouteId::kReport, "POST", "/v1/report", BodyKind::kSmall},
    Route{RouteId::kSearch, "GET", "/v1/search", BodyKind::kNone},
    Route{RouteId::kHealth, "GET", "/healthz", BodyKind::kNone},
    Route{RouteId::kMetrics, "GET", "/metrics", BodyKind::kNone},
};

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `text` once; '+' is a space when `plus_is_space` (the
// query string's form encoding).
Result<std::string> Decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      const bool whole = i + 2 < text.size();
      const int hi = whole ? HexDigit(text[i + 1]) : -1;
      const int lo = whole ? HexDigit(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return Malformed("bad percent-escape \"" +
                         std::string(text.substr(i, 3)) +
                         "\" in the request target");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool IsDotSegment(std::string_view s) { return s == "." || s == ".."; }

// The segments of a pattern or path after its leading '/'.
std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 1;
  while (true) {
    const size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      parts.push_back(path.substr(start));
      return parts;
    }
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

// Whether `segments` fit `pattern`; the placeholders' values go to params.
bool Fits(std::string_view pattern, const std::vector<std::string>& segments,
          std::vector<std::string>* params) {
  const std::vector<std::string_view> parts = Split(pattern);
  if (parts.size() != segments.size()) return false;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].starts_with('{')) {
      // A placeholder takes any one segment but an empty one.
      if (segments[i].empty()) return false;
    } else if (parts[i] != segments[i]) {
      return false;
    }
  }
  if (params) {
    params->clear();
    for (size_t i = 0; i < parts.size(); ++i) {
      if (parts[i].starts_with('{')) params->push_back(segments[i]);
    }
  }
  return true;
}

}  // namespace

std::span<const Route> Routes() { return kRoutes; }

std::vector<std::string> RouteNames() {
  std::vector<std::string> names;
  for (const Route& r : kRoutes) {
    names.push_back(std::string(r.method) + " " + std::string(r.pattern));
  }
  return names;
}

std::optional<std::string_view> Target::Param(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return value;
  }
  return std::nullopt;
}

Result<Target> ParseTarget(std::string_view target) {
  if (target.empty() || target[0] != '/') {
    return Malformed("the request target must be an absolute path");
  }
  Target out;
  std::string_view path = target;
  if (const size_t q = target.find('?'); q != std::string_view::npos) {
    path = target.substr(0, q);
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
      const size_t amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view()
                                           : rest.substr(amp + 1);
      if (pair.empty()) continue;
      const size_t eq = pair.find('=');
      Result<std::string> name = Decode(pair.substr(0, eq), true);
      Result<std::string> value =
          Decode(eq == std::string_view::npos ? std::string_view()
                                              : pair.substr(eq + 1),
                 true);
      if (!name.ok()) return name.status();
      if (!value.ok()) return value.status();
      out.query.emplace_back(std::move(*name), std::move(*value));
    }
  }
  if (path.find('#') != std::string_view::npos) {
    return Malformed("the request target must not carry a fragment");
  }
  for (std::string_view raw : Split(path)) {
    if (IsDotSegment(raw)) {
      return Malformed("a path must not have a \".\" or \"..\" segment");
    }
    Result<std::string> segment = Decode(raw, false);
    if (!segment.ok()) return segment.status();
    if (IsDotSegment(*segment)) {
      return Malformed("a path must not have a \".\" or \"..\" segment");
    }
    out.segments.push_back(std::move(*segment));
  }
  return out;
}

Result<Match> MatchRoute(std::string_view method,
                         const std::vector<std::string>& segments,
                         std::string* allow) {
  Match match;
  allow->clear();
  for (const Route& route : kRoutes) {
    if (!Fits(route.pattern, segments, nullptr)) continue;
    if (route.method == method) {
      match.route = &route;
      Fits(route.pattern, segments, &match.params);
      return match;
    }
    if (!allow->empty()) allow->append(", ");
    allow->append(route.method);
  }
  if (!allow->empty()) {
    return Status(
        ErrorCode::kMethodNotAllowed,
        std::string(method) + " is not allowed here; allowed: " + *allow);
  }
  return Status(ErrorCode::kNotFound, "no such path");
}

}  // namespace segd
