#include "live/journal.h"

#include <cstring>

namespace segd {
namespace {

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) {
    char b[4];
    for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
    out_.append(b, 4);
  }
  void U64(uint64_t v) {
    char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
    out_.append(b, 8);
  }
  void Bytes(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void List(std::span<const std::string> items) {
    U32(static_cast<uint32_t>(items.size()));
    for (const std::string& s : items) Bytes(s);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool U8(uint8_t* v) {
    if (in_.empty()) return false;
    *v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool U32(uint32_t* v) {
    if (in_.size() < 4) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) {
      *v |= uint32_t{static_cast<uint8_t>(in_[i])} << (8 * i);
    }
    in_.remove_prefix(4);
    return true;
  }
  bool U64(uint64_t* v) {
    if (in_.size() < 8) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i) {
      *v |= uint64_t{static_cast<uint8_t>(in_[i])} << (8 * i);
    }
    in_.remove_prefix(8);
    return true;
  }
  bool Bytes(std::string* s) {
    uint32_t n;
    if (!U32(&n) || n > in_.size()) return false;
    s->assign(in_.substr(0, n));
    in_.remove_prefix(n);
    return true;
  }
  bool List(std::vector<std::string>* items) {
    uint32_t n;
    // Each item takes at least its 4-byte length.
    if (!U32(&n) || n > in_.size() / 4) return false;
    items->resize(n);
    for (std::string& s : *items) {
      if (!Bytes(&s)) return false;
    }
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

Status Damaged(std::string_view what) {
  return Status(ErrorCode::kCorrupt,
                "a logged " + std::string(what) + " does not decode");
}

}  // namespace

std::string EncodeWriteBatch(const WriteBatch& batch) {
  Writer w;
  w.U32(static_cast<uint32_t>(batch.ops().size()));
  for (const WriteBatch::Op& op : batch.ops()) {
    w.U8(static_cast<uint8_t>(op.kind));
    w.U8(static_cast<uint8_t>(op.format));
    w.Bytes(op.text);
    w.Bytes(op.id);
    w.Bytes(op.other);
    w.List(op.add);
    w.List(op.remove);
  }
  return w.Take();
}

std::string EncodeDeclare(
    const std::vector<std::pair<std::string, AttrType>>& types) {
  Writer w;
  w.U32(static_cast<uint32_t>(types.size()));
  for (const auto& [name, type] : types) {
    w.Bytes(name);
    w.U8(static_cast<uint8_t>(type));
  }
  return w.Take();
}

std::string EncodeSaveSegment(std::string_view name,
                              const SegmentDefinition& definition,
                              int64_t now_ms) {
  Writer w;
  w.Bytes(name);
  w.U8(static_cast<uint8_t>(definition.kind));
  w.Bytes(definition.description);
  w.Bytes(definition.rule_json);
  w.List(definition.ids);
  w.U64(static_cast<uint64_t>(now_ms));
  return w.Take();
}

std::string EncodeDeleteSegment(std::string_view name) {
  Writer w;
  w.Bytes(name);
  return w.Take();
}

std::string EncodeEditMembers(std::string_view name,
                              std::span<const std::string> add,
                              std::span<const std::string> remove) {
  Writer w;
  w.Bytes(name);
  w.List(add);
  w.List(remove);
  return w.Take();
}

Result<JournalEntry> DecodeJournal(uint8_t type, std::string_view payload) {
  JournalEntry e;
  Reader r(payload);
  switch (static_cast<JournalType>(type)) {
    case JournalType::kWriteBatch: {
      e.type = JournalType::kWriteBatch;
      uint32_t n;
      if (!r.U32(&n) || n > payload.size()) return Damaged("write batch");
      for (uint32_t i = 0; i < n; ++i) {
        WriteBatch::Op op;
        uint8_t kind, format;
        if (!r.U8(&kind) || !r.U8(&format) ||
            kind > static_cast<uint8_t>(WriteBatch::Op::Kind::kMerge) ||
            format > static_cast<uint8_t>(BatchFormat::kArray) ||
            !r.Bytes(&op.text) || !r.Bytes(&op.id) || !r.Bytes(&op.other) ||
            !r.List(&op.add) || !r.List(&op.remove)) {
          return Damaged("write batch");
        }
        op.kind = static_cast<WriteBatch::Op::Kind>(kind);
        op.format = static_cast<BatchFormat>(format);
        e.batch.Add(std::move(op));
      }
      break;
    }
    case JournalType::kDeclare: {
      e.type = JournalType::kDeclare;
      uint32_t n;
      if (!r.U32(&n) || n > payload.size()) return Damaged("schema");
      for (uint32_t i = 0; i < n; ++i) {
        std::string name;
        uint8_t t;
        if (!r.Bytes(&name) || !r.U8(&t) ||
            t > static_cast<uint8_t>(AttrType::kUnindexable)) {
          return Damaged("schema");
        }
        e.types.emplace_back(std::move(name), static_cast<AttrType>(t));
      }
      break;
    }
    case JournalType::kSaveSegment: {
      e.type = JournalType::kSaveSegment;
      uint8_t kind;
      uint64_t now;
      if (!r.Bytes(&e.name) || !r.U8(&kind) ||
          kind > static_cast<uint8_t>(SavedSegment::Kind::kStatic) ||
          !r.Bytes(&e.definition.description) ||
          !r.Bytes(&e.definition.rule_json) || !r.List(&e.definition.ids) ||
          !r.U64(&now)) {
        return Damaged("segment");
      }
      e.definition.kind = static_cast<SavedSegment::Kind>(kind);
      e.now_ms = static_cast<int64_t>(now);
      break;
    }
    case JournalType::kDeleteSegment:
      e.type = JournalType::kDeleteSegment;
      if (!r.Bytes(&e.name)) return Damaged("segment delete");
      break;
    case JournalType::kEditMembers:
      e.type = JournalType::kEditMembers;
      if (!r.Bytes(&e.name) || !r.List(&e.add) || !r.List(&e.remove)) {
        return Damaged("members edit");
      }
      break;
    default:
      return Status(ErrorCode::kCorrupt,
                    "a log record of unknown type " + std::to_string(type));
  }
  if (!r.done()) return Damaged("record, which is longer than its fields,");
  return e;
}

}  // namespace segd
