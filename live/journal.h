// Journal: the database's writes as write-ahead log records (SPEC §6).
//
// Each write call is logged as one record, after it is applied under the
// writer lock and before it is acknowledged, so the log's order is the
// order of the writes and a batch is one record: after a crash it is there
// whole or not at all. A record holds the write as it was asked (a batch's
// text, a patch's body, a segment's definition), not its effect: applied
// again in order to the state that came before it, it has the same effect,
// since every write is deterministic given that state.
//
// Payloads: a sequence of fields, integers as little-endian u32/u64,
// strings as a u32 length and the bytes. Decoding checks every length
// against what is left (kCorrupt otherwise). Pure functions.
#ifndef SEGD_LIVE_JOURNAL_H_
#define SEGD_LIVE_JOURNAL_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "index/schema.h"
#include "live/database.h"

namespace segd {

enum class JournalType : uint8_t {
  kWriteBatch = 1,  // profiles, events, patches, deletes, tags, merges
  kDeclare = 2,     // schema types
  kSaveSegment = 3,
  kDeleteSegment = 4,
  kEditMembers = 5,
};

// One logged write, decoded.
struct JournalEntry {
  JournalType type = JournalType::kWriteBatch;
  WriteBatch batch;                                     // kWriteBatch
  std::vector<std::pair<std::string, AttrType>> types;  // kDeclare
  std::string name;                                     // segment ops
  SegmentDefinition definition;                         // kSaveSegment
  int64_t now_ms = 0;                                   // kSaveSegment
  std::vector<std::string> add, remove;                 // kEditMembers
};

std::string EncodeWriteBatch(const WriteBatch& batch);
std::string EncodeDeclare(
    const std::vector<std::pair<std::string, AttrType>>& types);
std::string EncodeSaveSegment(std::string_view name,
                              const SegmentDefinition& definition,
                              int64_t now_ms);
std::string EncodeDeleteSegment(std::string_view name);
std::string EncodeEditMembers(std::string_view name,
                              std::span<const std::string> add,
                              std::span<const std::string> remove);

// kCorrupt for an unknown type or a payload that does not parse whole.
Result<JournalEntry> DecodeJournal(uint8_t type, std::string_view payload);

}  // namespace segd

#endif  // SEGD_LIVE_JOURNAL_H_
