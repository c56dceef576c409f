// The engine as the differential test sees it: load NDJSON text once, then
// answer rules with a count and the first `limit` member ids in row order.
#ifndef SEGD_TESTS_ENGINE_UNDER_TEST_H_
#define SEGD_TESTS_ENGINE_UNDER_TEST_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace segd::testing {

struct EngineAnswer {
  bool ok = false;
  std::string error_code;     // "malformed" or "invalid" when !ok
  std::string error_path;     // JSON pointer of the offending node when !ok
  std::string error_message;  // for failure messages
  uint64_t count = 0;
  std::vector<std::string> ids;  // first `limit` members, ascending row order
};

struct LoadAnswer {
  uint64_t accepted = 0;
  // (line, error message) of every rejected record, in line order.
  std::vector<std::pair<uint64_t, std::string>> rejected;
};

class EngineUnderTest {
 public:
  // Loads NDJSON text (one profile per line).
  explicit EngineUnderTest(std::string_view ndjson);
  ~EngineUnderTest();

  const LoadAnswer& load() const;
  EngineAnswer Query(std::string_view rule_json, int64_t now_ms,
                     size_t limit) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace segd::testing

#endif  // SEGD_TESTS_ENGINE_UNDER_TEST_H_
