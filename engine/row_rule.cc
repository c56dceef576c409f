#include "engine/row_rule.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "base/ascii.h"
#include "base/time.h"
#include "engine/bound.h"
#include "engine/rule_values.h"

namespace segd {
namespace row_rule_internal {
namespace {

constexpr int64_t kMinInt = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();

// ---------------------------------------------------------------------------
// ASCII folding eight bytes at a time. Rule strings are folded at Compile;
// a profile's bytes are folded as they are compared, never copied.

constexpr uint64_t kHighBits = 0x8080808080808080ull;

// Each byte of `x` folded as FoldAscii folds it: 'A'..'Z' gain 0x20, every
// other byte (bytes >= 0x80 included) stays.
inline uint64_t FoldWord(uint64_t x) {
  const uint64_t low7 = x & ~kHighBits;
  const uint64_t at_least_a = low7 + 0x3F3F3F3F3F3F3F3Full;  // >= 'A'
  const uint64_t past_z = low7 + 0x2525252525252525ull;      // > 'Z'
  const uint64_t upper = at_least_a & ~past_z & ~x & kHighBits;
  return x | (upper >> 2);
}

inline uint64_t Load8(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

// The `n` < 8 bytes at `p`, zero-extended.
inline uint64_t LoadTail(const char* p, size_t n) {
  uint64_t w = 0;
  std::memcpy(&w, p, n);
  return w;
}

// Whether `n` bytes at `text`, folded, equal the folded bytes at `folded`.
inline bool EqualsFoldedAt(const char* text, const char* folded, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    if (FoldWord(Load8(text + i)) != Load8(folded + i)) return false;
  }
  for (; i < n; ++i) {
    if (FoldAscii(text[i]) != folded[i]) return false;
  }
  return true;
}

inline bool EqualsFolded(std::string_view text, const std::string& folded) {
  return text.size() == folded.size() &&
         EqualsFoldedAt(text.data(), folded.data(), folded.size());
}

inline bool StartsWithFolded(std::string_view text, const std::string& folded) {
  return text.size() >= folded.size() &&
         EqualsFoldedAt(text.data(), folded.data(), folded.size());
}

// REQUIRES: !folded.empty().
bool ContainsFolded(std::string_view text, const std::string& folded) {
  const size_t m = folded.size();
  if (text.size() < m) return false;
  const char first = folded[0];
  const char* rest = folded.data() + 1;
  const size_t last = text.size() - m;
  for (size_t i = 0; i <= last; ++i) {
    if (FoldAscii(text[i]) == first &&
        EqualsFoldedAt(text.data() + i + 1, rest, m - 1)) {
      return true;
    }
  }
  return false;
}

// A hash of `text` with ASCII folded: equal for any two spellings that fold
// alike.
uint64_t FoldedHash(std::string_view text) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  uint64_t h = text.size() * kMul;
  size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    h = std::rotl((h ^ FoldWord(Load8(text.data() + i))) * kMul, 29);
  }
  if (i < text.size()) {
    h = std::rotl(
        (h ^ FoldWord(LoadTail(text.data() + i, text.size() - i))) * kMul, 29);
  }
  h ^= h >> 32;
  return h * kMul;
}

// Folded strings to test a profile's values against (`in`): compared one by
// one when few, else through an open-addressing table of their hashes.
class FoldedStringSet {
 public:
  static constexpr size_t kMaxLinear = 8;

  explicit FoldedStringSet(std::vector<std::string> folded)
      : values_(std::move(folded)) {
    std::sort(values_.begin(), values_.end());
    values_.erase(std::unique(values_.begin(), values_.end()), values_.end());
    if (values_.size() <= kMaxLinear) return;
    const size_t slots = std::bit_ceil(values_.size() * 2);
    mask_ = slots - 1;
    slots_.assign(slots, 0);
    hashes_.reserve(values_.size());
    for (size_t v = 0; v < values_.size(); ++v) {
      const uint64_t h = FoldedHash(values_[v]);
      hashes_.push_back(h);
      size_t s = h & mask_;
      while (slots_[s] != 0) s = (s + 1) & mask_;
      slots_[s] = static_cast<uint32_t>(v + 1);
    }
  }

  bool empty() const { return values_.empty(); }

  bool Contains(std::string_view text) const {
    if (slots_.empty()) {
      for (const std::string& v : values_) {
        if (EqualsFolded(text, v)) return true;
      }
      return false;
    }
    const uint64_t h = FoldedHash(text);
    for (size_t s = h & mask_; slots_[s] != 0; s = (s + 1) & mask_) {
      const uint32_t v = slots_[s] - 1;
      if (hashes_[v] == h && EqualsFolded(text, values_[v])) return true;
    }
    return false;
  }

 private:
  std::vector<std::string> values_;  // folded, sorted, distinct
  std::vector<uint32_t> slots_;      // value index + 1; 0 for empty
  std::vector<uint64_t> hashes_;     // by value index
  size_t mask_ = 0;
};

}  // namespace

// ---------------------------------------------------------------------------
// The compiled program.

enum class Kind : uint8_t {
  kAnd,
  kOr,
  kNot,
  kConst,
  kExists,       // the attribute holds an indexable value
  kStringEq,     // any string equals strings[first] (folded)
  kStringIn,     // any string is in sets[first]
  kContains,     // any string contains strings[first]; not empty
  kStartsWith,   // any string starts with strings[first]; not empty
  kHasAll,       // each of strings[first, first + count) equals a string
  kNumberRange,  // the number lies in number_ranges[first]
  kNumberIn,     // the number equals one of numbers[first, first + count)
  kDateRange,    // the date lies in date_ranges[first]
  kIsTrue,
  kIsFalse,
  kEvent,    // events[first]
  kSegment,  // membership of saved segment segment_names[first]
};

struct Node {
  Kind kind = Kind::kConst;
  bool constant = false;  // kConst
  AttrId attr = 0;        // field predicates
  // kAnd, kOr: children[first, first + count); kNot: children[first]; the
  // leaves: an entry (or `count` entries) of their table, see Kind.
  uint32_t first = 0;
  uint32_t count = 0;
  int depth = 1;  // kSegment: the node's depth, the root being 1
};

// A number predicate as an interval, its ends as the rule wrote them.
struct NumberRange {
  bool has_lo = false, has_hi = false;
  bool lo_strict = false, hi_strict = false;
  Number lo, hi;
  // The same interval over int64 values, inclusive (CeilInt, FloorInt):
  // an int64 value is tested with two integer compares.
  int64_t int_lo = kMinInt, int_hi = kMaxInt;

  bool Matches(const Number& v) const {
    if (v.is_int) return int_lo <= v.i && v.i <= int_hi;
    if (has_lo) {
      const int c = CompareNumbers(v, lo);
      if (c < 0 || (c == 0 && lo_strict)) return false;
    }
    if (has_hi) {
      const int c = CompareNumbers(v, hi);
      if (c > 0 || (c == 0 && hi_strict)) return false;
    }
    return true;
  }
};

// An inclusive interval of instants, each end absolute or an offset from
// now. `on_day`: the UTC day holding now + lo (`on` a relative date).
struct DateRange {
  int64_t lo = kMinInt, hi = kMaxInt;
  bool lo_from_now = false, hi_from_now = false;
  bool on_day = false;

  std::pair<int64_t, int64_t> At(int64_t now) const {
    if (on_day) {
      const int64_t day = StartOfUtcDay(now + lo);
      return {day, day + kMillisPerDay - 1};
    }
    return {lo_from_now ? now + lo : lo, hi_from_now ? now + hi : hi};
  }
};

// An event condition: the events named `folded_name` in the window
// [max(abs_lo, now + rel_lo), min(abs_hi, now + rel_hi)], their count
// within `counts`.
struct EventTest {
  std::string folded_name;
  bool known = false;  // the schema knew the name at Compile: `id`
  EventId id = 0;
  // Event ids from this one on were first seen after Compile.
  EventId first_unknown = 0;
  int64_t abs_lo = kMinInt, abs_hi = kMaxInt;
  bool has_rel_lo = false, has_rel_hi = false;
  int64_t rel_lo = kMinInt, rel_hi = kMaxInt;
  CountRange counts;
};

// A compiled rule: a tree of nodes, nodes[root] at the top, whose leaves
// keep their operands in the tables below.
struct Program {
  std::vector<Node> nodes;
  uint32_t root = 0;
  int height = 1;      // the deepest node's depth, the root being 1
  int max_depth = 64;  // as compiled: bounds nesting through segments too
  bool has_segments = false;
  std::vector<uint32_t> children;
  std::vector<std::string> strings;
  std::vector<FoldedStringSet> sets;
  std::vector<Number> numbers;  // per kNumberIn, ascending
  std::vector<NumberRange> number_ranges;
  std::vector<DateRange> date_ranges;
  std::vector<EventTest> events;
  std::vector<std::string> segment_names;
};

// The dynamic segments being evaluated, innermost first: a reference back
// to one of them is a cycle.
struct Frame {
  const Program* program;
  const Frame* up;
};

struct MatchState {
  const DecodedProfile* profile;
  uint32_t row;
  int64_t now;
  const Schema* schema;
  const RowSegments* segments;
  int max_depth;  // of the rule Matches was called on
  const Frame* frame;

  static const Program& ProgramOf(const RowRule& rule) {
    return *rule.program_;
  }
};

namespace {

// ---------------------------------------------------------------------------
// Matching.

// Calls pred(string_view) on each string of `v` (one for a string, each
// element for a string array) until it returns true.
template <typename Pred>
inline bool AnyString(const DecodedValue& v, Pred&& pred) {
  if (v.tag == ValueTag::kString) return pred(v.text);
  if (v.tag != ValueTag::kStringArray) return false;
  const char* p = v.array_data.data();
  for (uint32_t i = 0; i < v.array_count; ++i) {
    if (pred(codec::ReadString(p))) return true;
  }
  return false;
}

inline bool IsNumber(const DecodedValue& v) {
  return v.tag == ValueTag::kInt || v.tag == ValueTag::kDouble;
}

bool MatchEvent(const EventTest& test, const MatchState& state) {
  int64_t lo = test.abs_lo, hi = test.abs_hi;
  if (test.has_rel_lo) lo = std::max(lo, state.now + test.rel_lo);
  if (test.has_rel_hi) hi = std::min(hi, state.now + test.rel_hi);
  const CountRange& counts = test.counts;
  if (lo > hi) return counts.min == 0;
  // The event's id: known at Compile, or found among the ids first seen
  // since, by name, at most once per distinct id met.
  bool known = test.known;
  EventId id = test.id;
  EventId rejected = ~EventId{0};
  const EventId event_count = static_cast<EventId>(state.schema->event_count());
  int64_t count = 0;
  for (const StoredEvent& e : state.profile->events) {
    if (e.at_ms < lo || e.at_ms > hi) continue;
    if (known) {
      // Every spelling of the name counts, under the first one's id.
      if (e.name >= event_count ||
          state.schema->canonical_event(e.name) != id) {
        continue;
      }
    } else {
      if (e.name < test.first_unknown || e.name >= event_count ||
          e.name == rejected) {
        continue;
      }
      if (!EqualsFolded(state.schema->event_name(e.name), test.folded_name)) {
        rejected = e.name;
        continue;
      }
      known = true;
      id = state.schema->canonical_event(e.name);
    }
    ++count;
    if (count > counts.max) return false;
    if (count >= counts.min && counts.max == kMaxInt) return true;
  }
  return count >= counts.min && count <= counts.max;
}

bool Evaluate(const Program& p, uint32_t n, const MatchState& state, int base);

bool MatchSegment(const Program& p, const Node& node, const MatchState& state,
                  int base) {
  if (state.segments == nullptr) return false;
  const std::string& name = p.segment_names[node.first];
  if (const RowRule* rule = state.segments->FindRule(name)) {
    const Program& inner = MatchState::ProgramOf(*rule);
    // The segment's root sits where the reference does (as Bind binds it).
    const int inner_base = base + node.depth - 1;
    if (inner_base + inner.height > state.max_depth) return false;
    for (const Frame* f = state.frame; f != nullptr; f = f->up) {
      if (f->program == &inner) return false;  // a cycle
    }
    const Frame frame{&inner, state.frame};
    MatchState inner_state = state;
    inner_state.frame = &frame;
    return Evaluate(inner, inner.root, inner_state, inner_base);
  }
  return state.segments->InStatic(name, state.row).value_or(false);
}

// Whether node `n` of `p` matches; `base` is the depth of `p`'s root less 1.
bool Evaluate(const Program& p, uint32_t n, const MatchState& state, int base) {
  const Node& node = p.nodes[n];
  switch (node.kind) {
    case Kind::kAnd:
      for (uint32_t i = 0; i < node.count; ++i) {
        if (!Evaluate(p, p.children[node.first + i], state, base)) return false;
      }
      return true;
    case Kind::kOr:
      for (uint32_t i = 0; i < node.count; ++i) {
        if (Evaluate(p, p.children[node.first + i], state, base)) return true;
      }
      return false;
    case Kind::kNot:
      return !Evaluate(p, p.children[node.first], state, base);
    case Kind::kConst:
      return node.constant;
    case Kind::kEvent:
      return MatchEvent(p.events[node.first], state);
    case Kind::kSegment:
      return MatchSegment(p, node, state, base);
    case Kind::kExists:
    case Kind::kStringEq:
    case Kind::kStringIn:
    case Kind::kContains:
    case Kind::kStartsWith:
    case Kind::kHasAll:
    case Kind::kNumberRange:
    case Kind::kNumberIn:
    case Kind::kDateRange:
    case Kind::kIsTrue:
    case Kind::kIsFalse:
      break;
  }
  const DecodedValue* v = state.profile->Find(node.attr);
  if (v == nullptr) return false;
  switch (node.kind) {
    case Kind::kExists:
      return v->tag != ValueTag::kRaw;
    case Kind::kStringEq: {
      const std::string& want = p.strings[node.first];
      return AnyString(
          *v, [&](std::string_view s) { return EqualsFolded(s, want); });
    }
    case Kind::kStringIn: {
      const FoldedStringSet& set = p.sets[node.first];
      return AnyString(*v, [&](std::string_view s) { return set.Contains(s); });
    }
    case Kind::kContains: {
      const std::string& needle = p.strings[node.first];
      return AnyString(
          *v, [&](std::string_view s) { return ContainsFolded(s, needle); });
    }
    case Kind::kStartsWith: {
      const std::string& prefix = p.strings[node.first];
      return AnyString(
          *v, [&](std::string_view s) { return StartsWithFolded(s, prefix); });
    }
    case Kind::kHasAll:
      for (uint32_t i = 0; i < node.count; ++i) {
        const std::string& want = p.strings[node.first + i];
        if (!AnyString(*v, [&](std::string_view s) {
              return EqualsFolded(s, want);
            })) {
          return false;
        }
      }
      return true;
    case Kind::kNumberRange:
      return IsNumber(*v) && p.number_ranges[node.first].Matches(v->number);
    case Kind::kNumberIn: {
      if (!IsNumber(*v)) return false;
      const Number* begin = p.numbers.data() + node.first;
      const Number* end = begin + node.count;
      const Number* it = std::lower_bound(begin, end, v->number,
                                          [](const Number& a, const Number& b) {
                                            return CompareNumbers(a, b) < 0;
                                          });
      return it != end && CompareNumbers(*it, v->number) == 0;
    }
    case Kind::kDateRange: {
      if (v->tag != ValueTag::kDate) return false;
      const auto [lo, hi] = p.date_ranges[node.first].At(state.now);
      return lo <= v->date_ms && v->date_ms <= hi;
    }
    case Kind::kIsTrue:
      return v->tag == ValueTag::kTrue;
    case Kind::kIsFalse:
      return v->tag == ValueTag::kFalse;
    case Kind::kAnd:
    case Kind::kOr:
    case Kind::kNot:
    case Kind::kConst:
    case Kind::kEvent:
    case Kind::kSegment:
      break;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Compiling. The checks, their order and their errors are Bind's
// (binder.cc), so that both accept and reject the same rules.

std::string Quoted(std::string_view s) {
  std::string quoted;
  quoted.reserve(s.size() + 2);
  quoted.append(1, '"').append(s).append(1, '"');
  return quoted;
}

// A date value as written: an instant, or, read against a clock at 0, an
// offset from now.
using DateValue = RuleDate;

class Compiler {
 public:
  Compiler(const Schema& schema, int max_depth, Program* out)
      : schema_(schema), max_depth_(max_depth), p_(*out) {}

  Result<uint32_t> CompileNode(const RuleNode& node, int depth);

 private:
  Result<uint32_t> CompileField(const RuleNode& node);
  Result<uint32_t> CompileString(const RuleNode& node, AttrId attr, Op op);
  Result<uint32_t> CompileNumber(const RuleNode& node, AttrId attr, Op op);
  Result<uint32_t> CompileDate(const RuleNode& node, AttrId attr, Op op);
  Result<uint32_t> CompileEvent(const RuleNode& node);

  uint32_t Add(Node node) {
    p_.nodes.push_back(node);
    return static_cast<uint32_t>(p_.nodes.size() - 1);
  }
  uint32_t Const(bool value) {
    Node n;
    n.kind = Kind::kConst;
    n.constant = value;
    return Add(n);
  }
  uint32_t Leaf(Kind kind, AttrId attr, uint32_t first, uint32_t count = 1) {
    Node n;
    n.kind = kind;
    n.attr = attr;
    n.first = first;
    n.count = count;
    return Add(n);
  }
  uint32_t AddString(std::string folded) {
    p_.strings.push_back(std::move(folded));
    return static_cast<uint32_t>(p_.strings.size() - 1);
  }
  // NOT of node `child`, folding constants and double negations.
  uint32_t Not(uint32_t child);
  // AND or OR of `children`, folding constants.
  uint32_t Group(Kind kind, const std::vector<uint32_t>& children);
  // The number interval with the given ends (nullptr: unbounded).
  uint32_t NumberRangeNode(AttrId attr, const Number* lo, bool lo_strict,
                           const Number* hi, bool hi_strict);
  uint32_t DateRangeNode(AttrId attr, DateRange range);

  // Dates read against a clock at 0: a relative one is its offset.
  Result<DateValue> ReadDate(const JsonValue* v,
                             const std::string& path) const {
    return segd::ReadDate(v, path, 0);
  }
  Result<std::pair<DateValue, DateValue>> ReadDatePair(
      const std::optional<JsonValue>& v, const std::string& path) const {
    return segd::ReadDatePair(v, path, 0);
  }

  const Schema& schema_;
  const int max_depth_;
  Program& p_;
};

uint32_t Compiler::Not(uint32_t child) {
  const Node c = p_.nodes[child];
  if (c.kind == Kind::kConst) return Const(!c.constant);
  if (c.kind == Kind::kNot) return p_.children[c.first];
  Node n;
  n.kind = Kind::kNot;
  n.first = static_cast<uint32_t>(p_.children.size());
  n.count = 1;
  p_.children.push_back(child);
  return Add(n);
}

uint32_t Compiler::Group(Kind kind, const std::vector<uint32_t>& children) {
  // AND: true children drop out, a false one decides; OR the reverse.
  const bool neutral = kind == Kind::kAnd;
  std::vector<uint32_t> kept;
  for (uint32_t c : children) {
    const Node& child = p_.nodes[c];
    if (child.kind == Kind::kConst) {
      if (child.constant != neutral) return Const(!neutral);
      continue;
    }
    kept.push_back(c);
  }
  if (kept.empty()) return Const(neutral);
  if (kept.size() == 1) return kept[0];
  Node n;
  n.kind = kind;
  n.first = static_cast<uint32_t>(p_.children.size());
  n.count = static_cast<uint32_t>(kept.size());
  p_.children.insert(p_.children.end(), kept.begin(), kept.end());
  return Add(n);
}

Result<uint32_t> Compiler::CompileNode(const RuleNode& node, int depth) {
  if (depth > max_depth_) {
    return Invalid(
        "rule nested deeper than " + std::to_string(max_depth_) + " levels",
        node.path);
  }
  if (!node.error.ok()) return node.error;
  p_.height = std::max(p_.height, depth);
  switch (node.kind) {
    case NodeKind::kAll:
    case NodeKind::kAny: {
      std::vector<uint32_t> children;
      children.reserve(node.children.size());
      for (const RuleNode& child : node.children) {
        Result<uint32_t> c = CompileNode(child, depth + 1);
        if (!c.ok()) return c.status();
        children.push_back(*c);
      }
      return Group(node.kind == NodeKind::kAll ? Kind::kAnd : Kind::kOr,
                   children);
    }
    case NodeKind::kNot: {
      Result<uint32_t> inner = CompileNode(node.children[0], depth + 1);
      if (!inner.ok()) return inner.status();
      return Not(*inner);
    }
    case NodeKind::kField:
      return CompileField(node);
    case NodeKind::kEvent:
      return CompileEvent(node);
    case NodeKind::kSegment: {
      p_.has_segments = true;
      p_.segment_names.push_back(node.name);
      Node n;
      n.kind = Kind::kSegment;
      n.first = static_cast<uint32_t>(p_.segment_names.size() - 1);
      n.depth = depth;
      return Add(n);
    }
  }
  return Status(ErrorCode::kInternal, "unknown rule node", node.path);
}

Result<uint32_t> Compiler::CompileField(const RuleNode& node) {
  const std::string field_path = node.path + "/field";
  const std::optional<AttrId> attr = schema_.Find(node.name);
  if (!attr) {
    return Invalid("unknown attribute " + Quoted(node.name), field_path);
  }
  const AttrType type = schema_.attribute(*attr).type;
  Result<Op> op = FieldOperator(node, type);
  if (!op.ok()) return op.status();
  switch (*op) {
    case Op::kExists:
    case Op::kNotExists: {
      const uint32_t exists = Leaf(Kind::kExists, *attr, 0);
      return *op == Op::kExists ? exists : Not(exists);
    }
    case Op::kIsTrue:
      return Leaf(Kind::kIsTrue, *attr, 0);
    case Op::kIsFalse:
      return Leaf(Kind::kIsFalse, *attr, 0);
    default:
      break;
  }
  switch (type) {
    case AttrType::kString:
    case AttrType::kStringArray:
      return CompileString(node, *attr, *op);
    case AttrType::kNumber:
      return CompileNumber(node, *attr, *op);
    case AttrType::kDate:
      return CompileDate(node, *attr, *op);
    case AttrType::kBool:
    case AttrType::kUnindexable:
      break;
  }
  return Status(ErrorCode::kInternal, "operator left uncompiled", node.path);
}

Result<uint32_t> Compiler::CompileString(const RuleNode& node, AttrId attr,
                                         Op op) {
  const std::string value_path = node.path + "/value";
  switch (op) {
    case Op::kEq:
    case Op::kNeq: {
      Result<std::string> v = ReadString(node.value, value_path);
      if (!v.ok()) return v.status();
      const uint32_t eq = Leaf(Kind::kStringEq, attr, AddString(FoldAscii(*v)));
      return op == Op::kEq ? eq : Not(eq);
    }
    case Op::kIn:
    case Op::kNotIn:
    case Op::kHasAll: {
      Result<std::vector<std::string>> values =
          ReadStrings(node.value, value_path);
      if (!values.ok()) return values.status();
      std::vector<std::string> folded;
      folded.reserve(values->size());
      for (const std::string& v : *values) folded.push_back(FoldAscii(v));
      if (op == Op::kHasAll) {
        // Every listed value present; none listed: any value present.
        if (folded.empty()) return Leaf(Kind::kExists, attr, 0);
        std::sort(folded.begin(), folded.end());
        folded.erase(std::unique(folded.begin(), folded.end()), folded.end());
        const auto first = static_cast<uint32_t>(p_.strings.size());
        for (std::string& f : folded) p_.strings.push_back(std::move(f));
        return Leaf(Kind::kHasAll, attr, first,
                    static_cast<uint32_t>(folded.size()));
      }
      FoldedStringSet set(std::move(folded));
      uint32_t in;
      if (set.empty()) {
        in = Const(false);
      } else {
        p_.sets.push_back(std::move(set));
        in = Leaf(Kind::kStringIn, attr,
                  static_cast<uint32_t>(p_.sets.size() - 1));
      }
      return op == Op::kIn ? in : Not(in);
    }
    case Op::kContains:
    case Op::kNotContains:
    case Op::kStartsWith: {
      Result<std::string> v = ReadString(node.value, value_path);
      if (!v.ok()) return v.status();
      std::string folded = FoldAscii(*v);
      uint32_t leaf;
      if (folded.empty()) {
        // Every value contains and starts with "": any value present.
        leaf = Leaf(Kind::kExists, attr, 0);
      } else {
        leaf = Leaf(op == Op::kStartsWith ? Kind::kStartsWith : Kind::kContains,
                    attr, AddString(std::move(folded)));
      }
      return op == Op::kNotContains ? Not(leaf) : leaf;
    }
    default:
      break;
  }
  return Status(ErrorCode::kInternal, "unexpected string operator", node.path);
}

uint32_t Compiler::NumberRangeNode(AttrId attr, const Number* lo,
                                   bool lo_strict, const Number* hi,
                                   bool hi_strict) {
  NumberRange r;
  if (lo) {
    r.has_lo = true;
    r.lo = *lo;
    r.lo_strict = lo_strict;
    const std::optional<int64_t> l = CeilInt(*lo, lo_strict);
    r.int_lo = l.value_or(kMaxInt);
    if (!l) r.int_hi = kMinInt;  // no int64 passes
  }
  if (hi) {
    r.has_hi = true;
    r.hi = *hi;
    r.hi_strict = hi_strict;
    const std::optional<int64_t> h = FloorInt(*hi, hi_strict);
    if (h) {
      r.int_hi = std::min(r.int_hi, *h);
    } else {
      r.int_lo = kMaxInt;
      r.int_hi = kMinInt;
    }
  }
  // An empty interval matches nothing, whatever the value's form.
  if (lo && hi) {
    const int c = CompareNumbers(*lo, *hi);
    if (c > 0 || (c == 0 && (lo_strict || hi_strict))) return Const(false);
  }
  p_.number_ranges.push_back(r);
  return Leaf(Kind::kNumberRange, attr,
              static_cast<uint32_t>(p_.number_ranges.size() - 1));
}

Result<uint32_t> Compiler::CompileNumber(const RuleNode& node, AttrId attr,
                                         Op op) {
  const std::string value_path = node.path + "/value";
  switch (op) {
    case Op::kEq:
    case Op::kNeq:
    case Op::kGt:
    case Op::kGte:
    case Op::kLt:
    case Op::kLte: {
      Result<Number> v = ReadNumber(node.value, value_path);
      if (!v.ok()) return v.status();
      const Number& x = *v;
      switch (op) {
        case Op::kEq:
          return NumberRangeNode(attr, &x, false, &x, false);
        case Op::kNeq:
          return Not(NumberRangeNode(attr, &x, false, &x, false));
        case Op::kGt:
          return NumberRangeNode(attr, &x, true, nullptr, false);
        case Op::kGte:
          return NumberRangeNode(attr, &x, false, nullptr, false);
        case Op::kLt:
          return NumberRangeNode(attr, nullptr, false, &x, true);
        default:
          return NumberRangeNode(attr, nullptr, false, &x, false);
      }
    }
    case Op::kBetween: {
      Result<std::vector<Number>> v = ReadNumbers(node.value, value_path);
      if (!v.ok()) return v.status();
      if (v->size() != 2) {
        return Malformed("between takes [low, high]", value_path);
      }
      const Number lo = (*v)[0], hi = (*v)[1];
      return NumberRangeNode(attr, &lo, false, &hi, false);
    }
    case Op::kIn:
    case Op::kNotIn: {
      Result<std::vector<Number>> v = ReadNumbers(node.value, value_path);
      if (!v.ok()) return v.status();
      std::vector<Number> numbers = std::move(v).value();
      auto less = [](const Number& a, const Number& b) {
        return CompareNumbers(a, b) < 0;
      };
      std::sort(numbers.begin(), numbers.end(), less);
      numbers.erase(std::unique(numbers.begin(), numbers.end(),
                                [](const Number& a, const Number& b) {
                                  return CompareNumbers(a, b) == 0;
                                }),
                    numbers.end());
      uint32_t in;
      if (numbers.empty()) {
        in = Const(false);
      } else {
        const auto first = static_cast<uint32_t>(p_.numbers.size());
        p_.numbers.insert(p_.numbers.end(), numbers.begin(), numbers.end());
        in = Leaf(Kind::kNumberIn, attr, first,
                  static_cast<uint32_t>(numbers.size()));
      }
      return op == Op::kIn ? in : Not(in);
    }
    default:
      break;
  }
  return Status(ErrorCode::kInternal, "unexpected number operator", node.path);
}

uint32_t Compiler::DateRangeNode(AttrId attr, DateRange range) {
  // Both ends absolute (or both from now): an empty range is known now.
  if (!range.on_day && range.lo_from_now == range.hi_from_now &&
      range.lo > range.hi) {
    return Const(false);
  }
  p_.date_ranges.push_back(range);
  return Leaf(Kind::kDateRange, attr,
              static_cast<uint32_t>(p_.date_ranges.size() - 1));
}

Result<uint32_t> Compiler::CompileDate(const RuleNode& node, AttrId attr,
                                       Op op) {
  const std::string value_path = node.path + "/value";
  switch (op) {
    case Op::kBefore:
    case Op::kAfter:
    case Op::kOn: {
      if (!node.value) return Malformed("missing value", value_path);
      Result<DateValue> t = ReadDate(&*node.value, value_path);
      if (!t.ok()) return t.status();
      DateRange r;
      if (op == Op::kBefore) {
        // Strictly before t: at most t - 1.
        if (!t->from_now && t->value == kMinInt) return Const(false);
        r.hi = t->value - 1;
        r.hi_from_now = t->from_now;
      } else if (op == Op::kAfter) {
        if (!t->from_now && t->value == kMaxInt) return Const(false);
        r.lo = t->value + 1;
        r.lo_from_now = t->from_now;
      } else if (t->from_now) {
        r.on_day = true;
        r.lo = t->value;
      } else {
        r.lo = StartOfUtcDay(t->value);
        r.hi = r.lo + kMillisPerDay - 1;
      }
      return DateRangeNode(attr, r);
    }
    case Op::kBetween: {
      Result<std::pair<DateValue, DateValue>> r =
          ReadDatePair(node.value, value_path);
      if (!r.ok()) return r.status();
      DateRange range;
      range.lo = r->first.value;
      range.lo_from_now = r->first.from_now;
      range.hi = r->second.value;
      range.hi_from_now = r->second.from_now;
      return DateRangeNode(attr, range);
    }
    case Op::kWithinLast:
    case Op::kNotWithinLast: {
      Result<int64_t> d = ReadDuration(node.value, value_path);
      if (!d.ok()) return d.status();
      DateRange range;
      range.lo = -*d;
      range.hi = 0;
      range.lo_from_now = range.hi_from_now = true;
      const uint32_t within = DateRangeNode(attr, range);
      return op == Op::kWithinLast ? within : Not(within);
    }
    default:
      break;
  }
  return Status(ErrorCode::kInternal, "unexpected date operator", node.path);
}

Result<uint32_t> Compiler::CompileEvent(const RuleNode& node) {
  EventTest test;
  // Window ends: absolute ones narrow abs_lo/abs_hi now; relative ones
  // narrow rel_lo/rel_hi (offsets from now) when matching.
  auto narrow_lo = [&](const DateValue& t) {
    if (t.from_now) {
      test.rel_lo = test.has_rel_lo ? std::max(test.rel_lo, t.value) : t.value;
      test.has_rel_lo = true;
    } else {
      test.abs_lo = std::max(test.abs_lo, t.value);
    }
  };
  auto narrow_hi = [&](const DateValue& t) {
    if (t.from_now) {
      test.rel_hi = test.has_rel_hi ? std::min(test.rel_hi, t.value) : t.value;
      test.has_rel_hi = true;
    } else {
      test.abs_hi = std::min(test.abs_hi, t.value);
    }
  };
  bool empty_window = false;
  if (node.within_last) {
    Result<int64_t> d =
        ReadDuration(node.within_last, node.path + "/within_last");
    if (!d.ok()) return d.status();
    narrow_lo(DateValue{-*d, true});
    narrow_hi(DateValue{0, true});
  }
  if (node.after) {
    Result<DateValue> t = ReadDate(&*node.after, node.path + "/after");
    if (!t.ok()) return t.status();
    if (!t->from_now && t->value == kMaxInt) {
      empty_window = true;
    } else {
      narrow_lo(DateValue{t->value + 1, t->from_now});
    }
  }
  if (node.before) {
    Result<DateValue> t = ReadDate(&*node.before, node.path + "/before");
    if (!t.ok()) return t.status();
    if (!t->from_now && t->value == kMinInt) {
      empty_window = true;
    } else {
      narrow_hi(DateValue{t->value - 1, t->from_now});
    }
  }
  if (node.between) {
    Result<std::pair<DateValue, DateValue>> r =
        ReadDatePair(node.between, node.path + "/between");
    if (!r.ok()) return r.status();
    narrow_lo(r->first);
    narrow_hi(r->second);
  }
  Result<CountTest> count_test = ReadCountTest(node);
  if (!count_test.ok()) return count_test.status();
  // A profile without such events in the window counts 0.
  test.counts = PassingCounts(*count_test);
  const bool zero_matches = !test.counts.empty() && test.counts.min == 0;
  if (test.counts.empty() || empty_window || test.abs_lo > test.abs_hi ||
      (test.has_rel_lo && test.has_rel_hi && test.rel_lo > test.rel_hi)) {
    return Const(zero_matches);
  }
  if (zero_matches && test.counts.max == kMaxInt) return Const(true);
  test.folded_name = FoldAscii(node.name);
  test.first_unknown = static_cast<EventId>(schema_.event_count());
  if (const std::optional<EventId> id = schema_.FindEvent(node.name)) {
    test.known = true;
    test.id = *id;
  }
  p_.events.push_back(std::move(test));
  Node n;
  n.kind = Kind::kEvent;
  n.first = static_cast<uint32_t>(p_.events.size() - 1);
  return Add(n);
}

}  // namespace
}  // namespace row_rule_internal

using row_rule_internal::Frame;
using row_rule_internal::MatchState;
using row_rule_internal::Program;

Result<RowRule> RowRule::Compile(const RuleNode& rule, const Schema& schema,
                                 int max_depth) {
  auto program = std::make_shared<Program>();
  program->max_depth = max_depth;
  row_rule_internal::Compiler compiler(schema, max_depth, program.get());
  Result<uint32_t> root = compiler.CompileNode(rule, 1);
  if (!root.ok()) return root.status();
  program->root = *root;
  return RowRule(std::move(program));
}

bool RowRule::Matches(const DecodedProfile& profile, uint32_t row,
                      int64_t now_ms, const Schema& schema,
                      const RowSegments* segments) const {
  const Frame frame{program_.get(), nullptr};
  const MatchState state{
      &profile, row, now_ms, &schema, segments, program_->max_depth, &frame};
  return MatchesAt(state, 0);
}

bool RowRule::MatchesAt(const MatchState& state, int depth) const {
  return row_rule_internal::Evaluate(*program_, program_->root, state, depth);
}

bool RowRule::references_segments() const { return program_->has_segments; }

}  // namespace segd
