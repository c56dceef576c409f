// Metrics: what Render writes after recording, checked line by line against
// the Prometheus text format by a small parser kept here.
//
// The concurrency test also runs under ThreadSanitizer.
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api/metrics.h"

namespace segd {
namespace {

// --- A checker for the exposition format (0.0.4) -------------------------

struct Sample {
  std::string series;  // the text before the value: name{labels}
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // unescaped
  double value = 0;
};

// A rendered exposition, checked and indexed.
struct Exposition {
  std::string error;  // the first problem found; empty when well-formed
  std::vector<Sample> samples;
  std::map<std::string, double> values;      // by series
  std::map<std::string, std::string> types;  // family -> TYPE
};

bool IsNameStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}
bool IsNameChar(char c) {
  return IsNameStart(c) || std::isdigit(static_cast<unsigned char>(c));
}

// A metric name at `*pos`; labels names may not hold ':'.
bool ParseName(std::string_view line, size_t* pos, bool label,
               std::string* name) {
  const size_t start = *pos;
  while (*pos < line.size() && IsNameChar(line[*pos]) &&
         !(label && line[*pos] == ':')) {
    ++*pos;
  }
  *name = std::string(line.substr(start, *pos - start));
  return !name->empty() &&
         !std::isdigit(static_cast<unsigned char>((*name)[0]));
}

// A sample value as Go's ParseFloat reads it: decimal or exponent notation,
// NaN, +Inf, -Inf.
bool ParseValue(std::string_view text, double* value) {
  if (text == "NaN") {
    *value = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (text == "+Inf" || text == "Inf") {
    *value = std::numeric_limits<double>::infinity();
    return true;
  }
  if (text == "-Inf") {
    *value = -std::numeric_limits<double>::infinity();
    return true;
  }
  size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  size_t digits = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    ++i, ++digits;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() &&
           std::isdigit(static_cast<unsigned char>(text[i]))) {
      ++i, ++digits;
    }
  }
  if (digits == 0) return false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    size_t exponent = 0;
    while (i < text.size() &&
           std::isdigit(static_cast<unsigned char>(text[i]))) {
      ++i, ++exponent;
    }
    if (exponent == 0) return false;
  }
  if (i != text.size()) return false;
  *value = std::strtod(std::string(text).c_str(), nullptr);
  return true;
}

// One sample line; an error message, or "" when it parses.
std::string ParseSample(std::string_view line, Sample* sample) {
  size_t pos = 0;
  if (!ParseName(line, &pos, false, &sample->name)) return "bad metric name";
  if (pos < line.size() && line[pos] == '{') {
    ++pos;
    while (pos < line.size() && line[pos] != '}') {
      std::string label;
      if (!ParseName(line, &pos, true, &label)) return "bad label name";
      if (line.substr(pos, 2) != "=\"") return "label without =\"";
      pos += 2;
      std::string value;
      while (true) {
        if (pos >= line.size()) return "unterminated label value";
        const char c = line[pos++];
        if (c == '"') break;
        if (c == '\n') return "raw newline in a label value";
        if (c != '\\') {
          value.push_back(c);
          continue;
        }
        if (pos >= line.size()) return "unterminated escape";
        const char escaped = line[pos++];
        if (escaped == '\\') {
          value.push_back('\\');
        } else if (escaped == '"') {
          value.push_back('"');
        } else if (escaped == 'n') {
          value.push_back('\n');
        } else {
          return "bad escape in a label value";
        }
      }
      for (const auto& [name, unused] : sample->labels) {
        if (name == label) return "label " + label + " twice";
      }
      sample->labels.emplace_back(label, value);
      if (pos < line.size() && line[pos] == ',') {
        ++pos;
      } else if (pos < line.size() && line[pos] != '}') {
        return "labels not separated by ','";
      }
    }
    if (pos >= line.size()) return "unterminated labels";
    ++pos;
  }
  sample->series = std::string(line.substr(0, pos));
  if (pos >= line.size() || line[pos] != ' ') return "no space before value";
  ++pos;
  const std::string_view rest = line.substr(pos);
  const size_t space = rest.find(' ');
  if (!ParseValue(rest.substr(0, space), &sample->value)) return "bad value";
  if (space != std::string_view::npos) {
    const std::string_view timestamp = rest.substr(space + 1);
    if (timestamp.empty()) return "empty timestamp";
    for (char c : timestamp) {
      if (!std::isdigit(static_cast<unsigned char>(c)) && c != '-') {
        return "bad timestamp";
      }
    }
  }
  return "";
}

// The labels of a histogram sample other than le, as one key.
std::string WithoutLe(const Sample& sample) {
  std::string key;
  for (const auto& [name, value] : sample.labels) {
    if (name != "le") key += name + "=" + value + "\x1f";
  }
  return key;
}

// Checks histograms: per series, buckets in ascending le ending at +Inf,
// counts never falling, +Inf equal to _count, and a _sum.
std::string CheckHistograms(const Exposition& e) {
  struct Series {
    std::vector<std::pair<double, double>> buckets;  // (le, count)
    std::optional<double> count;
    std::optional<double> sum;
  };
  std::map<std::string, Series> series;  // by family and labels
  for (const Sample& s : e.samples) {
    for (const auto& [family, type] : e.types) {
      if (type != "histogram" || !s.name.starts_with(family)) continue;
      const std::string suffix = s.name.substr(family.size());
      Series& h = series[family + "\x1e" + WithoutLe(s)];
      if (suffix == "_bucket") {
        std::optional<double> le;
        for (const auto& [name, value] : s.labels) {
          double parsed;
          if (name == "le" && ParseValue(value, &parsed)) le = parsed;
        }
        if (!le) return s.series + ": bucket without a valid le";
        h.buckets.emplace_back(*le, s.value);
      } else if (suffix == "_count") {
        h.count = s.value;
      } else if (suffix == "_sum") {
        h.sum = s.value;
      }
    }
  }
  for (const auto& [key, h] : series) {
    if (h.buckets.empty() || !h.count || !h.sum) {
      return key + ": histogram without buckets, _count or _sum";
    }
    for (size_t i = 1; i < h.buckets.size(); ++i) {
      if (!(h.buckets[i - 1].first < h.buckets[i].first)) {
        return key + ": le not ascending";
      }
      if (h.buckets[i - 1].second > h.buckets[i].second) {
        return key + ": bucket counts fall";
      }
    }
    if (!std::isinf(h.buckets.back().first)) return key + ": no +Inf bucket";
    if (h.buckets.back().second != *h.count) {
      return key + ": +Inf bucket differs from _count";
    }
  }
  return "";
}

// Parses `text` as the exposition format: every line a sample or a comment,
// each sample after its family's # TYPE and its family's samples together,
// no series twice, histograms whole.
Exposition Parse(std::string_view text) {
  Exposition e;
  auto fail = [&](size_t line_number, std::string_view line,
                  const std::string& why) {
    e.error = "line " + std::to_string(line_number) + " (" + std::string(line) +
              "): " + why;
    return e;
  };
  if (text.empty() || text.back() != '\n') return fail(0, "", "no final \\n");
  std::set<std::string> helped;
  std::set<std::string> closed;  // families whose samples have ended
  std::string current;           // the family of the last # TYPE
  size_t line_number = 0;
  for (size_t start = 0; start < text.size();) {
    const size_t end = text.find('\n', start);
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (line.empty()) return fail(line_number, line, "empty line");
    if (line[0] == '#') {
      const bool help = line.starts_with("# HELP ");
      const bool type = line.starts_with("# TYPE ");
      if (!help && !type) continue;  // any other comment
      const std::string_view rest = line.substr(7);
      size_t pos = 0;
      std::string name;
      if (!ParseName(rest, &pos, false, &name) || pos >= rest.size() ||
          rest[pos] != ' ') {
        return fail(line_number, line, "bad family name");
      }
      const std::string_view tail = rest.substr(pos + 1);
      if (help) {
        if (!helped.insert(name).second) {
          return fail(line_number, line, "second # HELP");
        }
        continue;
      }
      static const std::set<std::string_view> kTypes = {
          "counter", "gauge", "histogram", "summary", "untyped"};
      if (!kTypes.contains(tail)) return fail(line_number, line, "bad type");
      if (e.types.contains(name)) {
        return fail(line_number, line, "second # TYPE");
      }
      e.types[name] = std::string(tail);
      if (!current.empty()) closed.insert(current);
      current = name;
      continue;
    }
    Sample sample;
    const std::string why = ParseSample(line, &sample);
    if (!why.empty()) return fail(line_number, line, why);
    std::string family = sample.name;
    if (e.types.contains(current) && e.types[current] == "histogram") {
      for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
        if (sample.name == current + std::string(suffix)) family = current;
      }
    }
    if (family != current) {
      return fail(line_number, line,
                  closed.contains(family) ? "family split"
                                          : "sample before its # TYPE");
    }
    if (!e.values.emplace(sample.series, sample.value).second) {
      return fail(line_number, line, "series twice");
    }
    e.samples.push_back(std::move(sample));
  }
  e.error = CheckHistograms(e);
  return e;
}

// The value of `series`, or -1 (and a failure) when it is absent.
double Value(const Exposition& e, const std::string& series) {
  auto it = e.values.find(series);
  if (it == e.values.end()) {
    ADD_FAILURE() << "no series " << series;
    return -1;
  }
  return it->second;
}

// Series whose text starts with `prefix`.
size_t CountSeries(const Exposition& e, std::string_view prefix) {
  size_t n = 0;
  for (const auto& [series, value] : e.values) n += series.starts_with(prefix);
  return n;
}

Exposition RenderAndParse(const Metrics& metrics,
                          const Metrics::Gauges& gauges = {}) {
  Exposition e = Parse(metrics.Render(gauges));
  EXPECT_EQ(e.error, "");
  return e;
}

const std::vector<std::string> kRoutes = {
    "GET /v1/segments/{name}", "POST /v1/query", "PUT /v1/segments/{name}"};
const std::string kGetSegment = R"(method="GET",route="/v1/segments/{name}")";
const std::string kPostQuery = R"(method="POST",route="/v1/query")";

constexpr std::string_view kBucketLes[] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25",   "0.5",   "1",      "2.5",   "5",    "10",    "+Inf"};

std::string Bucket(const std::string& labels, std::string_view le) {
  return "segd_http_request_duration_seconds_bucket{" + labels + ",le=\"" +
         std::string(le) + "\"}";
}

// --- The checker checks --------------------------------------------------

TEST(ExpositionCheckerTest, AcceptsWellFormedTextAndRejectsMistakes) {
  const std::string good =
      "# HELP a_total A.\n# TYPE a_total counter\n"
      "a_total{x=\"q\\\"\\\\\\n\"} 3\n"
      "# TYPE h histogram\n"
      "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1.5e0\n"
      "h_count 2\n";
  EXPECT_EQ(Parse(good).error, "");
  EXPECT_EQ(Parse(good).samples[0].labels[0].second, "q\"\\\n");

  const std::vector<std::string> bad = {
      "# TYPE a gauge\na 1",                           // no final newline
      "a 1\n",                                         // no # TYPE
      "# TYPE a gauge\na one\n",                       // bad value
      "# TYPE a gauge\na{x=\"q\"\"} 1\n",              // unescaped quote
      "# TYPE a gauge\na{x=\"\\t\"} 1\n",              // bad escape
      "# TYPE a gauge\na{x=\"1\"} 1\na{x=\"1\"} 2\n",  // series twice
      "# TYPE a gauge\na 1\n\n",                       // empty line
      "# TYPE a gauge\n# TYPE b gauge\nb 1\na 1\n",    // family split
      "# TYPE a wobbly\na 1\n",                        // bad type
      "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
      "h_sum 1\nh_count 1\n",  // buckets fall
      "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
  };
  for (const std::string& text : bad) {
    EXPECT_NE(Parse(text).error, "") << text;
  }
}

// --- Metrics ---------------------------------------------------------------

TEST(MetricsTest, CountsRequestsByRouteAndStatus) {
  Metrics metrics(kRoutes);
  metrics.Observe(0, 200, 0.001);
  metrics.Observe(0, 200, 0.002);
  metrics.Observe(0, 404, 0.003);
  metrics.Observe(1, 422, 0.004);
  const Exposition e = RenderAndParse(metrics);
  EXPECT_EQ(
      Value(e, "segd_http_requests_total{" + kGetSegment + ",status=\"200\"}"),
      2);
  EXPECT_EQ(
      Value(e, "segd_http_requests_total{" + kGetSegment + ",status=\"404\"}"),
      1);
  EXPECT_EQ(
      Value(e, "segd_http_requests_total{" + kPostQuery + ",status=\"422\"}"),
      1);
  EXPECT_EQ(CountSeries(e, "segd_http_requests_total{"), 3u);
  EXPECT_EQ(e.types.at("segd_http_requests_total"), "counter");
  EXPECT_EQ(e.types.at("segd_http_request_duration_seconds"), "histogram");
}

TEST(MetricsTest, HistogramBucketsAreCumulativeAndEndAtTheCount) {
  Metrics metrics(kRoutes);
  // One latency in each bucket's range, and two past the last bound.
  const double latencies[] = {0.0001, 0.0007, 0.002, 0.004, 0.007, 0.02,
                              0.03,   0.07,   0.2,   0.3,   0.7,   2,
                              3,      7,      11,    100};
  for (double seconds : latencies) metrics.Observe(2, 201, seconds);
  const Exposition e = RenderAndParse(metrics);
  const std::string labels =
      R"(method="PUT",route="/v1/segments/{name}",status="201")";
  for (size_t b = 0; b < std::size(kBucketLes); ++b) {
    const double expected = b + 1 == std::size(kBucketLes) ? 16 : b + 1;
    EXPECT_EQ(Value(e, Bucket(labels, kBucketLes[b])), expected)
        << kBucketLes[b];
  }
  EXPECT_EQ(
      Value(e, "segd_http_request_duration_seconds_count{" + labels + "}"), 16);
  double sum = 0;
  for (double seconds : latencies) sum += seconds;
  EXPECT_DOUBLE_EQ(
      Value(e, "segd_http_request_duration_seconds_sum{" + labels + "}"), sum);
}

TEST(MetricsTest, LatencyOnABoundCountsInThatBucket) {
  Metrics metrics(kRoutes);
  metrics.Observe(0, 200, 0.001);     // le="0.001" is inclusive
  metrics.Observe(0, 200, 0.001001);  // just past it
  const Exposition e = RenderAndParse(metrics);
  const std::string labels = kGetSegment + ",status=\"200\"";
  EXPECT_EQ(Value(e, Bucket(labels, "0.0005")), 0);
  EXPECT_EQ(Value(e, Bucket(labels, "0.001")), 1);
  EXPECT_EQ(Value(e, Bucket(labels, "0.0025")), 2);
}

TEST(MetricsTest, SumIsExactInNanoseconds) {
  Metrics metrics(kRoutes);
  for (int i = 0; i < 1000; ++i) metrics.Observe(1, 200, 0.000123);
  const std::string text = metrics.Render({});
  EXPECT_NE(text.find("segd_http_request_duration_seconds_sum{" + kPostQuery +
                      ",status=\"200\"} 0.123\n"),
            std::string::npos)
      << text;
}

TEST(MetricsTest, NegativeNanAndHugeLatenciesStayInRange) {
  Metrics metrics(kRoutes);
  metrics.Observe(0, 200, -1);
  metrics.Observe(0, 200, std::nan(""));
  metrics.Observe(0, 200, std::numeric_limits<double>::infinity());
  metrics.Observe(0, 200, 1e300);
  const Exposition e = RenderAndParse(metrics);
  const std::string labels = kGetSegment + ",status=\"200\"";
  EXPECT_EQ(Value(e, Bucket(labels, "0.0005")), 2);
  EXPECT_EQ(Value(e, Bucket(labels, "10")), 2);
  EXPECT_EQ(Value(e, Bucket(labels, "+Inf")), 4);
  const double sum =
      Value(e, "segd_http_request_duration_seconds_sum{" + labels + "}");
  EXPECT_TRUE(std::isfinite(sum));
  EXPECT_GT(sum, 0);
}

TEST(MetricsTest, PairsNeverSeenAreAbsent) {
  Metrics fresh(kRoutes);
  Exposition e = RenderAndParse(fresh);
  EXPECT_EQ(CountSeries(e, "segd_http_requests_total"), 0u);
  EXPECT_EQ(CountSeries(e, "segd_http_request_duration_seconds"), 0u);
  // The families are still declared.
  EXPECT_TRUE(e.types.contains("segd_http_requests_total"));
  EXPECT_TRUE(e.types.contains("segd_http_request_duration_seconds"));

  Metrics metrics(kRoutes);
  metrics.Observe(0, 200, 0.01);
  e = RenderAndParse(metrics);
  EXPECT_EQ(CountSeries(e, "segd_http_requests_total{"), 1u);
  EXPECT_EQ(CountSeries(e, "segd_http_request_duration_seconds_bucket{"),
            std::size(kBucketLes));
  EXPECT_EQ(CountSeries(e, "segd_http_request_duration_seconds_sum{"), 1u);
  EXPECT_EQ(CountSeries(e, "segd_http_request_duration_seconds_count{"), 1u);
  EXPECT_FALSE(e.values.contains("segd_http_requests_total{" + kGetSegment +
                                 ",status=\"201\"}"));
  EXPECT_FALSE(e.values.contains("segd_http_requests_total{" + kPostQuery +
                                 ",status=\"200\"}"));
}

TEST(MetricsTest, UnmatchedRequestsHaveTheirOwnRoute) {
  Metrics metrics(kRoutes);
  EXPECT_EQ(metrics.UnmatchedRoute(), kRoutes.size());
  metrics.Observe(metrics.UnmatchedRoute(), 404, 0.0001);
  metrics.Observe(metrics.UnmatchedRoute(), 405, 0.0001);
  const Exposition e = RenderAndParse(metrics);
  EXPECT_EQ(Value(e, R"(segd_http_requests_total{method="",)"
                     R"(route="unmatched",status="404"})"),
            1);
  EXPECT_EQ(Value(e, R"(segd_http_requests_total{method="",)"
                     R"(route="unmatched",status="405"})"),
            1);
  EXPECT_EQ(CountSeries(e, "segd_http_requests_total{"), 2u);
}

TEST(MetricsTest, WorksWithNoRoutes) {
  Metrics metrics({});
  EXPECT_EQ(metrics.UnmatchedRoute(), 0u);
  metrics.Observe(0, 404, 0.0001);
  const Exposition e = RenderAndParse(metrics);
  EXPECT_EQ(Value(e, R"(segd_http_requests_total{method="",)"
                     R"(route="unmatched",status="404"})"),
            1);
}

TEST(MetricsTest, StatusOutsideTheTableCountsAsOther) {
  Metrics metrics(kRoutes);
  for (int status :
       {200, 201, 204, 400, 401, 404, 405, 409, 413, 415, 422, 500, 503}) {
    metrics.Observe(0, status, 0.001);
  }
  for (int status : {100, 302, 304, 418, 429, 502, 599, 0, -1, 600, 1000}) {
    metrics.Observe(1, status, 0.001);
  }
  const Exposition e = RenderAndParse(metrics);
  EXPECT_EQ(CountSeries(e, "segd_http_requests_total{" + kGetSegment), 13u);
  EXPECT_EQ(CountSeries(e, "segd_http_requests_total{" + kPostQuery), 1u);
  EXPECT_EQ(
      Value(e, "segd_http_requests_total{" + kPostQuery + ",status=\"other\"}"),
      11);
}

TEST(MetricsTest, SplitsMethodFromRouteAndEscapesLabelValues) {
  Metrics metrics({"GET /v1/a\"b\\c\nd", "nospace", "POST /with space"});
  metrics.Observe(0, 200, 0.001);
  metrics.Observe(1, 200, 0.001);
  metrics.Observe(2, 200, 0.001);
  const std::string text = metrics.Render({});
  EXPECT_NE(text.find(R"(segd_http_requests_total{method="GET",)"
                      R"(route="/v1/a\"b\\c\nd",status="200"} 1)"),
            std::string::npos)
      << text;
  const Exposition e = Parse(text);
  ASSERT_EQ(e.error, "");
  std::set<std::pair<std::string, std::string>> method_route;
  for (const Sample& s : e.samples) {
    if (s.name != "segd_http_requests_total") continue;
    ASSERT_GE(s.labels.size(), 2u);
    EXPECT_EQ(s.labels[0].first, "method");
    EXPECT_EQ(s.labels[1].first, "route");
    method_route.emplace(s.labels[0].second, s.labels[1].second);
  }
  const std::set<std::pair<std::string, std::string>> expected = {
      {"GET", "/v1/a\"b\\c\nd"}, {"", "nospace"}, {"POST", "/with space"}};
  EXPECT_EQ(method_route, expected);
}

TEST(MetricsTest, RendersWriteAndQueryCounters) {
  Metrics metrics(kRoutes);
  metrics.CountWrites(WriteKind::kProfiles, 1000);
  metrics.CountWrites(WriteKind::kProfiles, 24);
  metrics.CountWrites(WriteKind::kEvents, 7);
  metrics.CountWrites(WriteKind::kPatch, 1);
  metrics.CountWrites(WriteKind::kSegment, 1);
  metrics.CountWrites(WriteKind::kSegment, 1);
  for (int i = 0; i < 5; ++i) metrics.CountQuery();
  const Exposition e = RenderAndParse(metrics);
  EXPECT_EQ(e.types.at("segd_writes_total"), "counter");
  EXPECT_EQ(Value(e, R"(segd_writes_total{kind="profiles"})"), 1024);
  EXPECT_EQ(Value(e, R"(segd_writes_total{kind="events"})"), 7);
  EXPECT_EQ(Value(e, R"(segd_writes_total{kind="patch"})"), 1);
  EXPECT_EQ(Value(e, R"(segd_writes_total{kind="segment"})"), 2);
  // Every kind is there from the start, at zero if nothing was written.
  for (const char* kind : {"delete", "tags", "merge", "schema"}) {
    EXPECT_EQ(Value(e, "segd_writes_total{kind=\"" + std::string(kind) + "\"}"),
              0);
  }
  EXPECT_EQ(CountSeries(e, "segd_writes_total{"), kWriteKindCount);
  EXPECT_EQ(e.types.at("segd_queries_total"), "counter");
  EXPECT_EQ(Value(e, "segd_queries_total"), 5);
}

TEST(MetricsTest, RendersGaugesAndOpenConnections) {
  Metrics metrics(kRoutes);
  for (int i = 0; i < 3; ++i) metrics.ConnectionOpened();
  metrics.ConnectionClosed();
  Metrics::Gauges gauges;
  gauges.profiles = 10'000'000;
  gauges.segments = 12;
  gauges.rss_bytes = 123456789;
  gauges.layers = 4;
  gauges.ready = true;
  gauges.writes_enabled = false;
  Exposition e = RenderAndParse(metrics, gauges);
  EXPECT_EQ(Value(e, "segd_http_connections_open"), 2);
  EXPECT_EQ(Value(e, "segd_profiles"), 10'000'000);
  EXPECT_EQ(Value(e, "segd_segments"), 12);
  EXPECT_EQ(Value(e, "segd_resident_memory_bytes"), 123456789);
  EXPECT_EQ(Value(e, "segd_layers"), 4);
  EXPECT_EQ(Value(e, "segd_ready"), 1);
  EXPECT_EQ(Value(e, "segd_writes_enabled"), 0);
  for (const char* gauge :
       {"segd_http_connections_open", "segd_profiles", "segd_segments",
        "segd_resident_memory_bytes", "segd_layers", "segd_ready",
        "segd_writes_enabled"}) {
    EXPECT_EQ(e.types.at(gauge), "gauge") << gauge;
  }

  gauges.ready = false;
  gauges.writes_enabled = true;
  e = RenderAndParse(metrics, gauges);
  EXPECT_EQ(Value(e, "segd_ready"), 0);
  EXPECT_EQ(Value(e, "segd_writes_enabled"), 1);
}

TEST(MetricsTest, EveryFamilyHasHelpAndType) {
  Metrics metrics(kRoutes);
  metrics.Observe(0, 200, 0.01);
  const std::string text = metrics.Render({});
  ASSERT_EQ(Parse(text).error, "");
  for (const char* family :
       {"segd_http_requests_total", "segd_http_request_duration_seconds",
        "segd_http_connections_open", "segd_writes_total", "segd_queries_total",
        "segd_profiles", "segd_segments", "segd_layers",
        "segd_resident_memory_bytes", "segd_ready", "segd_writes_enabled"}) {
    EXPECT_NE(text.find("# HELP " + std::string(family) + " "),
              std::string::npos)
        << family;
    EXPECT_NE(text.find("# TYPE " + std::string(family) + " "),
              std::string::npos)
        << family;
  }
}

TEST(MetricsTest, ConcurrentRecordersGiveExactTotals) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100'000;
  constexpr int kStatuses[] = {200, 404, 302};  // 302 counts as "other"
  Metrics metrics(kRoutes);
  std::atomic<bool> done{false};
  std::atomic<int> renders{0};

  // Renders while the recorders run: each one is well-formed, and within
  // it every pair's requests_total equals its _count.
  std::thread reader([&] {
    // At least once, however soon the recorders finish.
    do {
      const Exposition e = Parse(metrics.Render({}));
      EXPECT_EQ(e.error, "");
      for (const Sample& s : e.samples) {
        if (s.name != "segd_http_requests_total") continue;
        const std::string count =
            "segd_http_request_duration_seconds_count" +
            s.series.substr(std::string("segd_http_requests_total").size());
        EXPECT_EQ(Value(e, count), s.value);
      }
      renders.fetch_add(1, std::memory_order_relaxed);
    } while (!done.load(std::memory_order_acquire));
  });

  std::vector<std::thread> recorders;
  for (int t = 0; t < kThreads; ++t) {
    recorders.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        metrics.ConnectionOpened();
        // Whole microseconds, so the expected sum is exact.
        metrics.Observe(i % 4, kStatuses[(i / 4) % 3], (i % 1000) * 1e-6);
        metrics.CountQuery();
        metrics.CountWrites(
            t % 2 == 0 ? WriteKind::kProfiles : WriteKind::kEvents, 2);
        metrics.ConnectionClosed();
      }
    });
  }
  for (std::thread& r : recorders) r.join();
  done.store(true, std::memory_order_release);
  reader.join();
  EXPECT_GT(renders.load(), 0);

  // The same requests, counted here one thread's worth at a time.
  std::map<std::string, uint64_t> count;
  std::map<std::string, uint64_t> sum_micros;
  std::map<std::string, uint64_t> up_to_half_ms;  // le="0.0005"
  const std::vector<std::string> route_labels = {
      kGetSegment, kPostQuery, R"(method="PUT",route="/v1/segments/{name}")",
      R"(method="",route="unmatched")"};
  for (int i = 0; i < kPerThread; ++i) {
    const int status = kStatuses[(i / 4) % 3];
    const std::string labels =
        route_labels[i % 4] + ",status=\"" +
        (status == 302 ? std::string("other") : std::to_string(status)) + "\"";
    count[labels] += kThreads;
    sum_micros[labels] += uint64_t{kThreads} * (i % 1000);
    if (i % 1000 <= 500) up_to_half_ms[labels] += kThreads;
  }

  const Exposition e = RenderAndParse(metrics);
  EXPECT_EQ(CountSeries(e, "segd_http_requests_total{"), count.size());
  uint64_t total = 0;
  for (const auto& [labels, n] : count) {
    EXPECT_EQ(Value(e, "segd_http_requests_total{" + labels + "}"), n)
        << labels;
    EXPECT_EQ(
        Value(e, "segd_http_request_duration_seconds_count{" + labels + "}"),
        n);
    EXPECT_EQ(Value(e, Bucket(labels, "0.0005")), up_to_half_ms[labels]);
    EXPECT_EQ(Value(e, Bucket(labels, "0.001")), n);
    EXPECT_EQ(Value(e, Bucket(labels, "+Inf")), n);
    EXPECT_DOUBLE_EQ(
        Value(e, "segd_http_request_duration_seconds_sum{" + labels + "}"),
        static_cast<double>(sum_micros[labels]) / 1e6);
    total += n;
  }
  EXPECT_EQ(total, uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(Value(e, "segd_queries_total"), kThreads * kPerThread);
  EXPECT_EQ(Value(e, R"(segd_writes_total{kind="profiles"})"),
            2.0 * kPerThread * 2);
  EXPECT_EQ(Value(e, R"(segd_writes_total{kind="events"})"),
            2.0 * kPerThread * 2);
  EXPECT_EQ(Value(e, "segd_http_connections_open"), 0);
}

TEST(ResidentBytesTest, ReadsThisProcessFromProc) {
  const uint64_t bytes = ResidentBytes();
  EXPECT_GT(bytes, 0u);
  EXPECT_LT(bytes, uint64_t{1} << 40);
}

}  // namespace
}  // namespace segd
