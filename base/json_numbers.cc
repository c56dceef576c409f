#include "base/json_numbers.h"

#include <cstddef>

namespace segd {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Whether the digits of an integer literal (no sign, no leading zeros)
// name a magnitude past `limit`, the largest one 64 bits hold.
bool Exceeds(std::string_view digits, std::string_view limit) {
  if (digits.size() != limit.size()) return digits.size() > limit.size();
  return digits > limit;
}

}  // namespace

std::optional<std::string> WidenBigIntegers(std::string_view json) {
  std::string out;
  size_t copied = 0;  // json[0, copied) is in `out`
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, whatever it is
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (c != '-' && !IsDigit(c)) continue;
    // A number: its sign, integer digits, then any fraction or exponent.
    const bool negative = c == '-';
    size_t end = negative ? i + 1 : i;
    const size_t first_digit = end;
    while (end < json.size() && IsDigit(json[end])) ++end;
    const std::string_view digits = json.substr(first_digit, end - first_digit);
    const bool integer =
        end == json.size() ||
        (json[end] != '.' && json[end] != 'e' && json[end] != 'E');
    if (integer && !digits.empty() && digits[0] != '0' &&
        Exceeds(digits,
                negative ? "9223372036854775808" : "18446744073709551615")) {
      out.append(json.substr(copied, end - copied));
      out.append(".0");
      copied = end;
    }
    // Past the number's fraction and exponent: no digit in them starts a
    // number of its own.
    while (end < json.size() &&
           (IsDigit(json[end]) || json[end] == '.' || json[end] == 'e' ||
            json[end] == 'E' || json[end] == '+' || json[end] == '-')) {
      ++end;
    }
    i = end - 1;
  }
  if (copied == 0) return std::nullopt;
  out.append(json.substr(copied));
  return out;
}

}  // namespace segd
