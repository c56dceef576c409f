// Loader: NDJSON or JSON-array input -> ProfileStore.
//
// NDJSON is read line by line in large blocks; each block's lines are parsed
// in parallel (oneTBB) and then applied to the store in line order, so "type
// fixed at first sight" and replace-by-id follow the file. A bad record never
// stops a load: it is reported with its line number, id (when known) and
// reason, and every good record is kept. A JSON array is parsed element by
// element the same way; a syntax error in the array itself ends the load at
// that element (nothing after it can be read reliably), keeping what came
// before.
//
// Threading: the loader is the store's only writer while it runs.
#ifndef SEGD_INGEST_LOADER_H_
#define SEGD_INGEST_LOADER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "index/profile_store.h"

namespace segd {

struct RejectedRecord {
  uint64_t line;   // 1-based line of the record's first byte
  std::string id;  // empty when the record had no readable id
  Status error;
};

struct LoadReport {
  uint64_t accepted = 0;  // created + replaced
  uint64_t created = 0;
  uint64_t replaced = 0;
  uint64_t bytes = 0;
  std::vector<RejectedRecord> rejected;
};

// How a batch's text is read (SPEC §5: by Content-Type, else by its first
// non-blank byte).
enum class BatchFormat {
  kAuto,    // a JSON array when the first non-blank byte is '[', else NDJSON
  kNdjson,  // one object a line
  kArray,   // one JSON array of objects
};

struct LoadOptions {
  BatchFormat format = BatchFormat::kAuto;
  // Records longer than this are rejected without being parsed.
  size_t max_record_bytes = 16u << 20;
  // Called after each block with the running report; may be empty.
  std::function<void(const LoadReport&)> progress;
  // Called with the row of each record stored (created or replaced), in
  // line order; may be empty.
  std::function<void(uint32_t row)> stored;
};

// Loads `text` (NDJSON, or a JSON array: see BatchFormat). Never fails as
// a whole: bad records land in the report, each with its line (NDJSON) or
// its 1-based position (an array's element).
LoadReport LoadText(std::string_view text, ProfileStore* store,
                    const LoadOptions& options = {});

// The records of a batch (NDJSON, or a JSON array when its first non-blank
// byte is '['), unparsed: calls fn(line, record) for each in order, where
// record is the record's JSON text or why it cannot be read (too large, or
// a broken array, after which nothing more is read). Blank lines are
// skipped but counted.
void ForEachRecord(
    std::string_view text, const LoadOptions& options,
    const std::function<void(uint64_t line, Result<std::string_view> record)>&
        fn);

// Loads a file; fails only when the file cannot be read.
Result<LoadReport> LoadFile(const std::string& path, ProfileStore* store,
                            const LoadOptions& options = {});

}  // namespace segd

#endif  // SEGD_INGEST_LOADER_H_
