#include "ingest/loader.h"

#include <simdjson.h>
#include <sys/stat.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/task_group.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#include "ingest/record_parser.h"

namespace segd {
namespace {

constexpr size_t kPadding = simdjson::SIMDJSON_PADDING;
constexpr size_t kReadBlockBytes = 32u << 20;
// Some editors start UTF-8 files with a byte order mark; it is not JSON.
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
// Records parsed together before they are applied: enough to keep every
// core busy, few enough that their parsed values stay in cache (two
// batches of about 3 KB a record). Measured with `segd bench --profiles
// 1000000` built at each size: one thread parses and stores in about 4.1 s
// with 64 to 256 records a batch, and in 6.5 s with 2048.
constexpr size_t kBatchRecords = 256;

// One record of input: where it is and what it said.
struct Record {
  uint64_t line = 0;
  const char* data = nullptr;
  size_t length = 0;
  size_t capacity = 0;  // readable bytes from data (>= length + padding)
  Status status;        // set up front for records rejected unparsed
  ProfileInput input;
};

bool IsBlank(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return false;
  }
  return true;
}

Status TooLarge(size_t length, size_t limit) {
  return Status(ErrorCode::kTooLarge, "record of " + std::to_string(length) +
                                          " bytes exceeds the limit of " +
                                          std::to_string(limit) + " bytes");
}

// A reusable list of records: slots keep their buffers between blocks, so a
// long load does not allocate per record.
class RecordBatch {
 public:
  Record& Add(uint64_t line, const char* data, size_t length, size_t capacity) {
    if (size_ == records_.size()) records_.emplace_back();
    Record& r = records_[size_++];
    r.line = line;
    r.data = data;
    r.length = length;
    r.capacity = capacity;
    r.status = Status::Ok();
    r.input.id.clear();  // the slot may hold an earlier record's id
    return r;
  }
  size_t size() const { return size_; }
  Record& operator[](size_t i) { return records_[i]; }
  void Clear() { size_ = 0; }

 private:
  std::vector<Record> records_;
  size_t size_ = 0;
};

// Parses records in parallel and applies them to the store in order. Two
// batches take turns: while one is parsed (by oneTBB's workers), the one
// parsed before it is applied by the calling thread, so parsing and the
// store's single writer overlap.
class BlockProcessor {
 public:
  // `input_bytes`: the input's size, if known (else 0), from which the
  // store is sized once the first records are applied.
  BlockProcessor(ProfileStore* store, const LoadOptions& options,
                 LoadReport* report, uint64_t input_bytes)
      : store_(store),
        options_(options),
        report_(report),
        input_bytes_(input_bytes) {}
  // The batch to fill next; call Flush when it is full.
  RecordBatch& batch() { return batches_[filling_]; }

  // Parses the filled batch, applying the previous one meanwhile. On return
  // the filled batch is parsed (it no longer needs its input bytes) and
  // batch() is an empty one.
  void Flush() {
    RecordBatch& fresh = batches_[filling_];
    RecordBatch& parsed = batches_[1 - filling_];
    tbb::task_group parsing;
    parsing.run([&] { Parse(fresh); });
    ApplyAll(parsed);
    parsing.wait();
    filling_ = 1 - filling_;
  }

  // Reports a record rejected before parsing, in line order with the rest.
  void Reject(uint64_t line, Status status) {
    Record& r = batch().Add(line, nullptr, 0, 0);
    r.status = std::move(status);
    if (batch().size() == kBatchRecords) Flush();
  }

  // Applies whatever is parsed or filled but not yet applied. Call once
  // the input is exhausted, before reading the report.
  void Finish() {
    Flush();
    ApplyAll(batches_[1 - filling_]);
  }

 private:
  void Parse(RecordBatch& batch) {
    tbb::parallel_for(size_t{0}, batch.size(), [&](size_t i) {
      Record& r = batch[i];
      if (!r.status.ok()) return;
      try {
        r.status =
            parsers_.local().Parse(r.data, r.length, r.capacity, &r.input);
      } catch (const std::exception& e) {
        // The parser reports errors as values; this net keeps one record's
        // surprise (an exception from a library, memory) from ending a load.
        r.status =
            Malformed(std::string("record could not be parsed: ") + e.what());
      }
    });
  }

  void ApplyAll(RecordBatch& batch) {
    if (batch.size() == 0) return;
    // The store's tables are large and probed at random: their slots for a
    // record a few places ahead are requested while this one is applied.
    constexpr size_t kAhead = 8;
    auto prefetch = [&](size_t i) {
      if (i < batch.size() && batch[i].status.ok()) {
        store_->Prefetch(batch[i].input);
      }
    };
    for (size_t i = 0; i < kAhead; ++i) prefetch(i);
    for (size_t i = 0; i < batch.size(); ++i) {
      prefetch(i + kAhead);
      Apply(batch[i]);
    }
    batch.Clear();
    ReserveAhead();
    if (options_.progress) options_.progress(*report_);
  }

  // Once kSampleRecords are applied, sizes the store for the rest of the
  // input: its records as long, on average, as these, and as many of them
  // new profiles, with a sixteenth more for the sample's error. A table
  // sized under grows near the end of the load, copied into fresh pages
  // while nothing else runs; one sized over, past a power of two, holds
  // slots it does not fill. Input whose first records are much shorter
  // than the rest gets tables larger than it needs, and then holds them.
  void ReserveAhead() {
    if (reserved_ || input_bytes_ == 0 || sampled_records_ < kSampleRecords) {
      return;
    }
    reserved_ = true;
    if (input_bytes_ <= sampled_bytes_) return;
    const double records = static_cast<double>(input_bytes_ - sampled_bytes_) *
                           sampled_records_ / sampled_bytes_;
    const double created =
        records * report_->created / sampled_records_ * (1 + 1.0 / 16);
    store_->Reserve(static_cast<size_t>(
        std::min(created, double{std::numeric_limits<uint32_t>::max()})));
  }

  void Apply(Record& r) {
    if (!reserved_) {
      sampled_bytes_ += r.length + 1;  // and its newline
      ++sampled_records_;
    }
    if (r.status.ok()) {
      Result<UpsertOutcome> outcome = store_->Upsert(r.input);
      if (outcome.ok()) {
        ++report_->accepted;
        ++(outcome->created ? report_->created : report_->replaced);
        if (options_.stored) options_.stored(outcome->row);
        return;
      }
      r.status = outcome.status();
    }
    report_->rejected.push_back(
        RejectedRecord{r.line, r.input.id, std::move(r.status)});
  }

  ProfileStore* store_;
  const LoadOptions& options_;
  LoadReport* report_;
  tbb::enumerable_thread_specific<RecordParser> parsers_;
  RecordBatch batches_[2];
  int filling_ = 0;
  // Records, and their bytes, applied until the store is sized.
  static constexpr uint64_t kSampleRecords = 4096;
  const uint64_t input_bytes_;
  uint64_t sampled_bytes_ = 0;
  uint64_t sampled_records_ = 0;
  bool reserved_ = false;
};

// Splits NDJSON text into records. `end` must be followed by kPadding
// readable bytes. Returns the line number after the last line.
// Hands the records to `processor` a batch at a time.
uint64_t SplitLines(const char* begin, const char* end, uint64_t first_line,
                    size_t max_record_bytes, BlockProcessor& processor) {
  uint64_t line = first_line;
  const char* p = begin;
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
    const char* line_end = nl ? nl : end;
    size_t length = static_cast<size_t>(line_end - p);
    if (!IsBlank(p, length)) {
      RecordBatch& batch = processor.batch();
      Record& r =
          batch.Add(line, p, length, static_cast<size_t>(end - p) + kPadding);
      if (length > max_record_bytes)
        r.status = TooLarge(length, max_record_bytes);
      if (batch.size() == kBatchRecords) processor.Flush();
    }
    ++line;
    p = nl ? nl + 1 : end;
  }
  return line;
}

// Finds the top-level elements of a JSON array without parsing them, so
// that each element is parsed (and fails) on its own. Stops at the first
// structural error: elements before it are kept.
struct ArrayElements {
  std::vector<std::pair<size_t, size_t>> spans;  // (offset, length)
  size_t error_offset = 0;
  std::string error;  // empty when the array is well formed
};

ArrayElements SplitArray(const char* data, size_t length) {
  ArrayElements out;
  size_t pos = 0;
  auto skip_space = [&] {
    while (pos < length && (data[pos] == ' ' || data[pos] == '\t' ||
                            data[pos] == '\n' || data[pos] == '\r')) {
      ++pos;
    }
  };
  auto fail = [&](size_t at, std::string message) {
    out.error_offset = at;
    out.error = std::move(message);
    return out;
  };
  skip_space();
  if (pos >= length || data[pos] != '[') return fail(pos, "expected '['");
  ++pos;
  skip_space();
  if (pos < length && data[pos] == ']') {
    ++pos;
  } else {
    while (true) {
      skip_space();
      const size_t start = pos;
      int depth = 0;
      bool in_string = false;
      for (; pos < length; ++pos) {
        const char c = data[pos];
        if (in_string) {
          if (c == '\\') {
            ++pos;
          } else if (c == '"') {
            in_string = false;
          }
          continue;
        }
        if (c == '"') {
          in_string = true;
        } else if (c == '{' || c == '[') {
          ++depth;
        } else if (c == '}' || c == ']') {
          if (depth == 0) break;  // the array's own ']', or a stray '}'

          --depth;
        } else if (c == ',' && depth == 0) {
          break;
        }
      }
      if (pos >= length) {
        return fail(start, "the array ends in the middle of an element");
      }
      size_t end = pos;
      while (end > start && (data[end - 1] == ' ' || data[end - 1] == '\t' ||
                             data[end - 1] == '\n' || data[end - 1] == '\r')) {
        --end;
      }
      if (end == start) return fail(start, "empty array element");
      out.spans.emplace_back(start, end - start);
      if (data[pos] == '}') return fail(pos, "unexpected '}'");
      if (data[pos++] == ']') break;
    }
  }
  skip_space();
  if (pos != length) return fail(pos, "unexpected content after the array");
  return out;
}

void LoadArray(const char* data, size_t length, BlockProcessor& processor,
               size_t max_record_bytes) {
  // An element's "line" is its 1-based position in the array (SPEC §5).
  const ArrayElements elements = SplitArray(data, length);
  uint64_t position = 0;
  for (const auto& [offset, size] : elements.spans) {
    Record& r = processor.batch().Add(++position, data + offset, size,
                                      length - offset + kPadding);
    if (size > max_record_bytes) r.status = TooLarge(size, max_record_bytes);
    if (processor.batch().size() == kBatchRecords) processor.Flush();
  }
  if (!elements.error.empty()) {
    processor.Reject(position + 1,
                     Malformed("malformed JSON array: " + elements.error +
                               "; nothing after this point is read"));
  }
  processor.Flush();
}

bool StartsWithBracket(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const char c = p[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '[';
  }
  return false;
}

bool AllBlank(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const char c = p[i];
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

// Whether a batch is read as one JSON array. A blank text is an empty
// NDJSON batch whatever its format: nothing to accept, and no error.
bool ReadsAsArray(const char* p, size_t n, BatchFormat format) {
  switch (format) {
    case BatchFormat::kAuto:
      return StartsWithBracket(p, n);
    case BatchFormat::kNdjson:
      return false;
    case BatchFormat::kArray:
      return !AllBlank(p, n);
  }
  return false;
}

// Handles records block by block to bound memory.
void LoadNdjsonBlock(const char* begin, const char* end, uint64_t* line,
                     BlockProcessor& processor, size_t max_record_bytes) {
  *line = SplitLines(begin, end, *line, max_record_bytes, processor);
  processor.Flush();
}

}  // namespace

LoadReport LoadText(std::string_view text, ProfileStore* store,
                    const LoadOptions& options) {
  if (text.substr(0, 3) == kUtf8Bom) text.remove_prefix(3);
  LoadReport report;
  report.bytes = text.size();
  BlockProcessor processor(store, options, &report, text.size());
  simdjson::padded_string padded(text);
  const char* data = padded.data();
  if (ReadsAsArray(data, text.size(), options.format)) {
    LoadArray(data, text.size(), processor, options.max_record_bytes);
    processor.Finish();
    return report;
  }
  // Blocks of about kReadBlockBytes, cut at line ends.
  uint64_t line = 1;
  const char* p = data;
  const char* end = data + text.size();
  while (p < end) {
    const char* cut = p + std::min<size_t>(kReadBlockBytes, end - p);
    if (cut < end) {
      const char* nl =
          static_cast<const char*>(std::memchr(cut, '\n', end - cut));
      cut = nl ? nl + 1 : end;
    }
    LoadNdjsonBlock(p, cut, &line, processor, options.max_record_bytes);
    p = cut;
  }
  processor.Finish();
  return report;
}

void ForEachRecord(
    std::string_view text, const LoadOptions& options,
    const std::function<void(uint64_t line, Result<std::string_view> record)>&
        fn) {
  if (text.substr(0, 3) == kUtf8Bom) text.remove_prefix(3);
  auto give = [&](uint64_t line, const char* data, size_t length) {
    if (length > options.max_record_bytes) {
      fn(line, TooLarge(length, options.max_record_bytes));
    } else {
      fn(line, std::string_view(data, length));
    }
  };
  const char* data = text.data();
  if (ReadsAsArray(data, text.size(), options.format)) {
    const ArrayElements elements = SplitArray(data, text.size());
    uint64_t position = 0;  // an element's 1-based position is its "line"
    for (const auto& [offset, size] : elements.spans) {
      give(++position, data + offset, size);
    }
    if (!elements.error.empty()) {
      fn(position + 1, Malformed("malformed JSON array: " + elements.error +
                                 "; nothing after this point is read"));
    }
    return;
  }
  uint64_t line = 1;
  const char* p = data;
  const char* end = data + text.size();
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
    const char* line_end = nl ? nl : end;
    const size_t length = static_cast<size_t>(line_end - p);
    if (!IsBlank(p, length)) give(line, p, length);
    ++line;
    p = nl ? nl + 1 : end;
  }
}

Result<LoadReport> LoadFile(const std::string& path, ProfileStore* store,
                            const LoadOptions& options) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"),
                                             &std::fclose);
  if (!file) {
    return Status(ErrorCode::kIo,
                  "cannot open " + path + ": " + std::strerror(errno));
  }
  // Sniff the first bytes: a JSON array is read whole.
  std::vector<char> buffer(kReadBlockBytes + kPadding);
  size_t filled = std::fread(buffer.data(), 1, kReadBlockBytes, file.get());
  if (std::ferror(file.get())) {
    return Status(ErrorCode::kIo,
                  "cannot read " + path + ": " + std::strerror(errno));
  }
  if (std::string_view(buffer.data(), filled).substr(0, 3) == kUtf8Bom) {
    std::memmove(buffer.data(), buffer.data() + 3, filled - 3);
    filled -= 3;
  }
  if (StartsWithBracket(buffer.data(), filled)) {
    std::string all(buffer.data(), filled);
    char chunk[1 << 16];
    size_t n;
    while ((n = std::fread(chunk, 1, sizeof(chunk), file.get())) > 0) {
      all.append(chunk, n);
    }
    if (std::ferror(file.get())) {
      return Status(ErrorCode::kIo, "cannot read " + path);
    }
    return LoadText(all, store, options);
  }

  // NDJSON: process whole lines and carry the partial last line over. A line
  // longer than the record limit is skipped to its end, never buffered whole.
  LoadReport report;
  struct stat info;
  const uint64_t file_bytes =
      fstat(fileno(file.get()), &info) == 0 && S_ISREG(info.st_mode)
          ? static_cast<uint64_t>(info.st_size)
          : 0;
  BlockProcessor processor(store, options, &report, file_bytes);
  report.bytes = filled;
  uint64_t line = 1;
  size_t size = filled;   // bytes of input in buffer[0, size)
  bool skipping = false;  // inside an over-long line
  size_t skipped_bytes = 0;
  bool eof = filled == 0;
  while (true) {
    char* data = buffer.data();
    size_t start = 0;
    if (skipping) {
      const char* nl = static_cast<const char*>(std::memchr(data, '\n', size));
      if (nl == nullptr) {
        skipped_bytes += size;
        start = size;
      } else {
        skipped_bytes += static_cast<size_t>(nl - data);
        processor.Reject(line++,
                         TooLarge(skipped_bytes, options.max_record_bytes));
        skipping = false;
        start = static_cast<size_t>(nl - data) + 1;
      }
    }
    // Complete lines end at the last newline; at end of file, all are.
    size_t complete = start;
    if (!skipping) {
      complete = size;
      if (!eof) {
        while (complete > start && data[complete - 1] != '\n') --complete;
      }
      if (complete > start) {
        LoadNdjsonBlock(data + start, data + complete, &line, processor,
                        options.max_record_bytes);
      }
    }
    size_t rest = size - complete;
    if (rest > options.max_record_bytes) {
      skipping = true;
      skipped_bytes = rest;
      rest = 0;
    }
    if (eof) break;
    std::memmove(data, data + complete, rest);
    if (buffer.size() < rest + kReadBlockBytes + kPadding) {
      buffer.resize(rest + kReadBlockBytes + kPadding);
    }
    const size_t n =
        std::fread(buffer.data() + rest, 1, kReadBlockBytes, file.get());
    if (std::ferror(file.get())) {
      return Status(ErrorCode::kIo, "cannot read " + path);
    }
    report.bytes += n;
    size = rest + n;
    eof = n == 0;
  }
  if (skipping) {
    processor.Reject(line, TooLarge(skipped_bytes, options.max_record_bytes));
  }
  processor.Finish();
  return report;
}

}  // namespace segd
