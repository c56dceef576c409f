#include "ingest/patch_parser.h"

#include <simdjson.h>

#include "ingest/record_parser.h"

namespace segd {
namespace {

// This thread's parser, and `json` copied into a buffer followed by the
// padding simdjson reads past the end of its input.
struct PaddedParser {
  RecordParser parser;
  std::string buffer;

  const char* Pad(std::string_view json) {
    buffer.assign(json);
    buffer.append(simdjson::SIMDJSON_PADDING, '\0');
    return buffer.data();
  }
};

PaddedParser& ThreadParser() {
  thread_local PaddedParser parser;
  return parser;
}

}  // namespace

Status ParsePatch(std::string_view json, ProfilePatch* out) {
  PaddedParser& p = ThreadParser();
  const char* padded = p.Pad(json);
  return p.parser.ParsePatch(padded, json.size(), p.buffer.size(), out);
}

Status ParseEventRecord(std::string_view json, std::string* id,
                        ProfileInput::Event* out) {
  PaddedParser& p = ThreadParser();
  const char* padded = p.Pad(json);
  return p.parser.ParseEventRecord(padded, json.size(), p.buffer.size(), id,
                                   out);
}

}  // namespace segd
