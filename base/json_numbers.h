// Integers too large for 64 bits in JSON text.
//
// JSON puts no bound on an integer, but simdjson's DOM parser refuses one
// above 2^64 - 1 or below -2^63 as a number error, failing the whole text.
// Ingest reads such a number as a double (On Demand); the bodies that are
// parsed whole (rules, queries, segments) are first widened here, so that
// the same number means the same everywhere.
#ifndef SEGD_BASE_JSON_NUMBERS_H_
#define SEGD_BASE_JSON_NUMBERS_H_

#include <optional>
#include <string>
#include <string_view>

namespace segd {

// `json` with ".0" after each integer literal outside strings that 64 bits
// cannot hold, which makes it a double; nullopt when there is none. Text
// that is not JSON is left for the parser to refuse.
std::optional<std::string> WidenBigIntegers(std::string_view json);

}  // namespace segd

#endif  // SEGD_BASE_JSON_NUMBERS_H_
