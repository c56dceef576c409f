#include "api/csv.h"

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <utility>

#include "base/ascii.h"

namespace segd {
namespace {

// ---------------------------------------------------------------------------
// Reading.

// A CSV body has no JSON pointer: the line is told in the message, and the
// path is "" (SPEC §5: the body as a whole).
Status CsvError(int64_t line, const std::string& message,
                ErrorCode code = ErrorCode::kMalformed) {
  return Status(code, "line " + std::to_string(line) + ": " + message);
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool IsLineEnd(char c) { return c == '\n' || c == '\r'; }

// A position in a CSV body and the 1-based line it is on.
class CsvCursor {
 public:
  explicit CsvCursor(std::string_view text) : text_(text) {}

  bool AtEnd() const { return pos_ >= text_.size(); }
  int64_t line() const { return line_; }

  // Reads one cell from the current position and leaves the cursor on the
  // ',' or line end after it, or at the end. `*cell` views the cell's text:
  // into the body, or into `*scratch` when a quoted cell held "".
  Status ReadCell(std::string_view* cell, std::string* scratch) {
    const size_t start = pos_;
    size_t quote = pos_;
    while (quote < text_.size() && text_[quote] == ' ') ++quote;
    if (quote < text_.size() && text_[quote] == '"') {
      pos_ = quote;
      return ReadQuotedCell(cell, scratch);
    }
    // Spaces are part of an unquoted cell (RFC 4180): " a " is no "a".
    // One of spaces alone is empty, as a blank line is.
    while (pos_ < text_.size() && text_[pos_] != ',' &&
           !IsLineEnd(text_[pos_])) {
      ++pos_;
    }
    *cell = text_.substr(start, pos_ - start);
    if (TrimSpaces(*cell).empty()) *cell = {};
    return Status::Ok();
  }

  // After a cell: whether another cell of the same row follows (and steps
  // past the ','); otherwise steps past the line end, if any.
  bool NextCell() {
    if (AtEnd()) return false;
    if (text_[pos_] == ',') {
      ++pos_;
      return true;
    }
    SkipLineEnd();
    return false;
  }

 private:
  // REQUIRES: text_[pos_] is a line end.
  void SkipLineEnd() {
    if (text_[pos_] == '\r' && pos_ + 1 < text_.size() &&
        text_[pos_ + 1] == '\n') {
      ++pos_;
    }
    ++pos_;
    ++line_;
  }

  Status ReadQuotedCell(std::string_view* cell, std::string* scratch) {
    const int64_t open_line = line_;
    ++pos_;  // the opening quote
    size_t start = pos_;
    bool copied = false;  // whether the cell is being built in `scratch`
    while (true) {
      if (pos_ >= text_.size()) {
        return CsvError(open_line, "unterminated quoted cell");
      }
      char c = text_[pos_];
      if (c == '"') {
        if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '"') {
          // "" stands for one quote: copy what came before and the quote.
          if (!copied) {
            scratch->clear();
            copied = true;
          }
          scratch->append(text_.substr(start, pos_ + 1 - start));
          pos_ += 2;
          start = pos_;
          continue;
        }
        break;
      }
      if (c == '\n' || c == '\r') {
        SkipLineEnd();
        continue;
      }
      ++pos_;
    }
    std::string_view tail = text_.substr(start, pos_ - start);
    if (copied) {
      scratch->append(tail);
      *cell = *scratch;
    } else {
      *cell = tail;
    }
    ++pos_;  // the closing quote
    while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
    if (pos_ < text_.size() && text_[pos_] != ',' && !IsLineEnd(text_[pos_])) {
      return CsvError(line_, "text after a closing quote");
    }
    return Status::Ok();
  }

  std::string_view text_;
  size_t pos_ = 0;
  int64_t line_ = 1;
};

constexpr std::string_view kBom = "\xEF\xBB\xBF";

}  // namespace

Result<std::vector<std::string>> ReadCsvIds(std::string_view text) {
  if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());
  CsvCursor cursor(text);
  std::string scratch;     // unquotes cells other than the id
  std::string id_scratch;  // unquotes the id cell
  std::string_view cell;

  // The header: the first row that is not blank (a row whose only cell is
  // empty).
  std::optional<size_t> id_column;
  while (!cursor.AtEnd()) {
    size_t column = 0;
    std::optional<size_t> found;
    do {
      SEGD_RETURN_IF_ERROR(cursor.ReadCell(&cell, &scratch));
      if (!found && EqualsFolded(TrimSpaces(cell), "id")) found = column;
      ++column;
    } while (cursor.NextCell());
    if (column == 1 && cell.empty()) continue;
    id_column = found.value_or(0);
    break;
  }
  if (!id_column) {
    return CsvError(1,
                    text.empty() ? "empty CSV body" : "no header row in CSV");
  }

  std::vector<std::string> ids;
  while (!cursor.AtEnd()) {
    const int64_t row_line = cursor.line();
    size_t column = 0;
    std::optional<std::string_view> id;
    do {
      const bool is_id = column == *id_column;
      SEGD_RETURN_IF_ERROR(
          cursor.ReadCell(&cell, is_id ? &id_scratch : &scratch));
      if (is_id) id = cell;
      ++column;
    } while (cursor.NextCell());
    if (column == 1 && cell.empty()) continue;  // a blank line
    if (!id) {
      return CsvError(row_line, "the row ends before the id column (column " +
                                    std::to_string(*id_column + 1) + ")");
    }
    if (!id->empty()) ids.emplace_back(*id);
  }
  return ids;
}

// ---------------------------------------------------------------------------
// Writing.

void AppendCsvCell(std::string& out, std::string_view value) {
  bool needs_quotes =
      !value.empty() && (value.front() == ' ' || value.back() == ' ');
  for (char c : value) {
    if (c == ',' || c == '"' || c == '\r' || c == '\n') {
      needs_quotes = true;
      break;
    }
  }
  if (!needs_quotes) {
    out.append(value);
    return;
  }
  out.push_back('"');
  for (size_t pos = 0;;) {
    size_t quote = value.find('"', pos);
    if (quote == std::string_view::npos) {
      out.append(value.substr(pos));
      break;
    }
    out.append(value.substr(pos, quote + 1 - pos));
    out.push_back('"');
    pos = quote + 1;
  }
  out.push_back('"');
}

void AppendCsvHeader(const std::vector<std::string>& columns,
                     std::string& out) {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendCsvCell(out, columns[i]);
  }
  out.append("\r\n");
}

namespace {

namespace ondemand = simdjson::ondemand;

// One thread's parser and buffers, reused across calls so a page of members
// allocates nothing once they have grown.
struct RowConverter {
  ondemand::parser parser;
  std::string padded;  // the input followed by simdjson's padding
  std::string cells;   // this row's cells, back to back, already CSV-quoted
  // Per column, where its cell lies in `cells`; {0, 0} is an empty cell.
  std::vector<std::pair<uint32_t, uint32_t>> spans;
  std::string minified;

  // Appends the CSV cell for `value` to `cells`.
  simdjson::error_code AppendCell(ondemand::value& value) {
    ondemand::json_type type;
    if (auto error = value.type().get(type)) return error;
    switch (type) {
      case ondemand::json_type::string: {
        std::string_view s;
        if (auto error = value.get_string().get(s)) return error;
        AppendCsvCell(cells, s);
        return simdjson::SUCCESS;
      }
      case ondemand::json_type::number: {
        // The number's own text, as it was rendered.
        std::string_view token = TrimJsonSpace(value.raw_json_token());
        for (char c : token) {
          if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' ||
                c == 'e' || c == 'E')) {
            return simdjson::NUMBER_ERROR;
          }
        }
        cells.append(token);
        return simdjson::SUCCESS;
      }
      case ondemand::json_type::boolean: {
        bool b;
        if (auto error = value.get_bool().get(b)) return error;
        cells.append(b ? "true" : "false");
        return simdjson::SUCCESS;
      }
      case ondemand::json_type::null: {
        bool is_null;
        if (auto error = value.is_null().get(is_null)) return error;
        return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
      }
      case ondemand::json_type::array: {
        ondemand::array array;
        std::string_view raw;
        if (auto error = value.get_array().get(array)) return error;
        if (auto error = array.raw_json().get(raw)) return error;
        return AppendMinified(raw);
      }
      case ondemand::json_type::object: {
        ondemand::object object;
        std::string_view raw;
        if (auto error = value.get_object().get(object)) return error;
        if (auto error = object.raw_json().get(raw)) return error;
        return AppendMinified(raw);
      }
    }
    return simdjson::INCORRECT_TYPE;
  }

  simdjson::error_code AppendMinified(std::string_view json) {
    minified.resize(json.size());
    size_t length = 0;
    if (auto error =
            simdjson::minify(json.data(), json.size(), minified.data(), length))
      return error;
    AppendCsvCell(cells, std::string_view(minified.data(), length));
    return simdjson::SUCCESS;
  }

  static std::string_view TrimJsonSpace(std::string_view s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' ||
                          s.back() == '\n' || s.back() == '\r')) {
      s.remove_suffix(1);
    }
    return s;
  }

  // The column named `key`, looking first at `next` (keys usually come in
  // the order of the columns) and onwards; columns.size() if none.
  static size_t FindColumn(const std::vector<std::string>& columns,
                           std::string_view key, size_t next) {
    const size_t n = columns.size();
    for (size_t k = 0; k < n; ++k) {
      size_t i = next + k < n ? next + k : next + k - n;
      if (columns[i] == key) return i;
    }
    return n;
  }

  // Converts one JSON object (json[0, length), padded up to `capacity`)
  // and appends its row to `out`.
  simdjson::error_code ConvertLine(const char* json, size_t length,
                                   size_t capacity,
                                   const std::vector<std::string>& columns,
                                   std::string& out) {
    ondemand::document doc;
    if (auto error = parser.iterate(json, length, capacity).get(doc)) {
      return error;
    }
    ondemand::object object;
    if (auto error = doc.get_object().get(object)) return error;
    cells.clear();
    spans.assign(columns.size(), {0, 0});
    size_t next = 0;
    for (auto field : object) {
      std::string_view key;
      if (auto error = field.unescaped_key().get(key)) return error;
      size_t column = FindColumn(columns, key, next);
      if (column == columns.size()) continue;  // skipped by the iterator
      next = column + 1 < columns.size() ? column + 1 : 0;
      ondemand::value value;
      if (auto error = field.value().get(value)) return error;
      size_t start = cells.size();
      if (auto error = AppendCell(value)) return error;
      spans[column] = {static_cast<uint32_t>(start),
                       static_cast<uint32_t>(cells.size() - start)};
    }
    // Nothing may follow the object.
    const char* rest;
    if (!doc.current_location().get(rest)) return simdjson::TRAILING_CONTENT;
    for (size_t i = 0; i < spans.size(); ++i) {
      if (i > 0) out.push_back(',');
      out.append(cells, spans[i].first, spans[i].second);
    }
    out.append("\r\n");
    return simdjson::SUCCESS;
  }
};

RowConverter& ThreadRowConverter() {
  thread_local RowConverter converter;
  return converter;
}

bool IsBlank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

}  // namespace

Status AppendCsvRows(std::string_view ndjson,
                     const std::vector<std::string>& columns,
                     std::string& out) {
  RowConverter& converter = ThreadRowConverter();
  // One padded copy of the whole input; each line is parsed in place, with
  // the rest of the buffer as its padding.
  converter.padded.assign(ndjson);
  converter.padded.append(simdjson::SIMDJSON_PADDING, ' ');
  const char* base = converter.padded.data();
  const size_t out_size = out.size();
  int64_t line = 0;
  for (size_t pos = 0; pos < ndjson.size();) {
    ++line;
    size_t end = ndjson.find('\n', pos);
    if (end == std::string_view::npos) end = ndjson.size();
    std::string_view text = ndjson.substr(pos, end - pos);
    size_t start = pos;
    pos = end + 1;
    if (IsBlank(text)) continue;
    simdjson::error_code error =
        converter.ConvertLine(base + start, text.size(),
                              converter.padded.size() - start, columns, out);
    if (error != simdjson::SUCCESS) {
      out.resize(out_size);
      return CsvError(line,
                      std::string("member is not a JSON object: ") +
                          simdjson::error_message(error),
                      ErrorCode::kInternal);
    }
  }
  return Status::Ok();
}

}  // namespace segd
