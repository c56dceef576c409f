// CSV in and out for static segments (SPEC §4) and member exports (SPEC §5).
//
// ReadCsvIds takes an uploaded CSV body apart into profile ids; the Append*
// functions write RFC 4180 text with CRLF line ends. All functions are
// thread-safe: AppendCsvRows keeps one JSON parser per thread. Output
// functions only append to `out`; they never clear it.
#ifndef SEGD_API_CSV_H_
#define SEGD_API_CSV_H_

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace segd {

// SPEC §4: the ids of a static segment from a CSV body, in file order
// (duplicates kept). The first non-blank row is the header; ids come from
// the column named `id` (ASCII case folded, surrounding spaces ignored; the
// first such column), or else from the first column. RFC 4180: quoted cells
// with "" for a quote, commas and line ends inside quotes; CRLF, LF or a lone
// CR end a line; a missing final line end is fine. Spaces are part of an
// unquoted cell, but one of spaces alone is empty; around a quoted cell they
// are dropped. A row whose
// only cell is empty (a blank line) is skipped, and so is an empty id cell.
// A UTF-8 BOM at the start is ignored. A header with no rows is no ids.
//
// Errors are kMalformed with path "line N" (1-based, counting every line
// end, also those inside quotes): an unterminated quote (the line it
// opened on), text after a closing quote (`"a"b`), a row with too few cells
// to reach the id column, or a body with no header (empty or blank).
Result<std::vector<std::string>> ReadCsvIds(std::string_view text);

// Appends `value` as one RFC 4180 cell: quoted (with "" for a quote) when it
// holds a comma, a quote, CR or LF, or starts or ends with a space, so that
// ReadCsvIds reads it back as it was; as it is otherwise.
void AppendCsvCell(std::string& out, std::string_view value);

// Turns members as rendered by segd (NDJSON: one JSON object per line, such
// as `{"id": ..., "city": ...}`) into CSV rows, one per object, each ending in
// CRLF, with one cell per entry of `columns` in that order: a string as its
// cell, a number or boolean as its JSON text, null or a missing key as an
// empty cell, an array or object as its minified JSON text (written with
// AppendCsvCell, so quoted when it holds a comma or a quote). Keys not in
// `columns` are ignored; of a repeated key the last wins. Blank lines are
// skipped. Returns kInternal (path "line N", 1-based) if a line is not a
// JSON object, and then leaves `out` as it was.
Status AppendCsvRows(std::string_view ndjson,
                     const std::vector<std::string>& columns, std::string& out);

// The header row: the column names as cells, then CRLF.
void AppendCsvHeader(const std::vector<std::string>& columns, std::string& out);

}  // namespace segd

#endif  // SEGD_API_CSV_H_
