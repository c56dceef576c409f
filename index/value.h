// Typed attribute values as ingest produces them and the store keeps them.
#ifndef SEGD_INDEX_VALUE_H_
#define SEGD_INDEX_VALUE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "index/schema.h"

namespace segd {

// A JSON number: int64 when the text is an integer that fits, else double.
// Compared numerically and exactly across both forms.
struct Number {
  bool is_int = true;
  int64_t i = 0;
  double d = 0;

  static Number Int(int64_t v) { return Number{true, v, 0}; }
  static Number Double(double v) { return Number{false, 0, v}; }
  double AsDouble() const { return is_int ? static_cast<double>(i) : d; }
};

// -1, 0 or 1; exact even for integers beyond 2^53. NaN never occurs (JSON
// cannot spell it).
int CompareNumbers(const Number& a, const Number& b);

struct Value {
  AttrType type = AttrType::kString;
  // kString: the string; kDate: the original text; kUnindexable: raw JSON.
  std::string text;
  std::vector<std::string> strings;  // kStringArray
  Number number;                     // kNumber
  int64_t date_ms = 0;               // kDate
  bool boolean = false;              // kBool
  // null or []: no value, but it still overrides an earlier duplicate key
  // of the same record (the last duplicate wins).
  bool absent = false;
};

}  // namespace segd

#endif  // SEGD_INDEX_VALUE_H_
