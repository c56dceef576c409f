#include "engine/binder.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <vector>

#include "base/ascii.h"
#include "base/time.h"
#include "engine/rule_values.h"

namespace segd {
namespace {

constexpr int64_t kMinInt = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();
// Unions of string values (in, contains, starts_with): up to this many
// common values are OR-ed shard by shard; more are built into one bitmap.
constexpr size_t kMaxLazyBitmaps = 256;
// Up to this many rare values (short row lists) are leaves of their own;
// more are merged into one bitmap.
constexpr size_t kMaxRowListLeaves = 8;
// From this many matching values on (contains, starts_with), an attribute
// that keeps its occurrences in row order is tested row by row against a
// bitset of the matches, in parallel, rather than through a union.
constexpr size_t kMinValueSet = 1024;
// ... and when they hold at least 1/kValueSetMinShare of all occurrences.
constexpr uint64_t kValueSetMinShare = 128;

std::string Quoted(std::string_view s) {
  std::string quoted;
  quoted.reserve(s.size() + 2);
  quoted.append(1, '"').append(s).append(1, '"');
  return quoted;
}

std::string NumberText(const Number& n) {
  if (n.is_int) return std::to_string(n.i);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.17g", n.d);
  return buf;
}

// The operators bound as the complement of a positive twin.
bool IsNegative(Op op) {
  switch (op) {
    case Op::kNotExists:
    case Op::kNeq:
    case Op::kNotIn:
    case Op::kNotContains:
    case Op::kNotWithinLast:
      return true;
    case Op::kExists:
    case Op::kEq:
    case Op::kIn:
    case Op::kContains:
    case Op::kStartsWith:
    case Op::kHasAll:
    case Op::kGt:
    case Op::kGte:
    case Op::kLt:
    case Op::kLte:
    case Op::kBetween:
    case Op::kBefore:
    case Op::kAfter:
    case Op::kOn:
    case Op::kWithinLast:
    case Op::kIsTrue:
    case Op::kIsFalse:
      return false;
  }
  return false;
}

class Binder {
 public:
  Binder(const Index& index, const BindOptions& options)
      : index_(index), options_(options) {}

  Result<BoundNode> BindNode(const RuleNode& node, int depth);

 private:
  Result<BoundNode> BindField(const RuleNode& node);
  Result<BoundNode> BindString(const RuleNode& node, AttrId attr, Op op);
  Result<BoundNode> BindNumber(const RuleNode& node, AttrId attr, Op op);
  Result<BoundNode> BindDate(const RuleNode& node, AttrId attr, Op op);
  Result<BoundNode> BindEvent(const RuleNode& node);
  Result<BoundNode> BindSegment(const RuleNode& node, int depth);

  // Leaves.
  BoundNode BitmapLeaf(const roaring_bitmap_t* bitmap, std::string label) const;
  // Rows holding any of `ids`. `single_valued`: each row holds one value
  // of the attribute, so the values' rows never overlap.
  BoundNode ValuesLeaf(const StringIndex& strings,
                       const std::vector<ValueId>& ids, std::string label,
                       bool single_valued) const;
  // The same for values given as a set.
  BoundNode ValueSetLeaf(const StringIndex& strings, const ValueSet& set,
                         std::string label, bool single_valued) const;
  // Rows whose value contains or starts with `needle` (folded, not empty).
  BoundNode TextLeaf(const StringIndex& strings, const std::string& needle,
                     ValueMatches::Kind kind, std::string label,
                     bool single_valued) const;
  // A kValueSet leaf: each occurrence's value tested against `matches`.
  BoundNode ValueSetNode(const StringIndex& strings,
                         std::shared_ptr<const ValueMatches> matches,
                         uint64_t estimate, std::string label,
                         bool single_valued) const;
  BoundNode IntRangeLeaf(AttrId attr, std::optional<int64_t> lo,
                         std::optional<int64_t> hi, std::string label) const;
  BoundNode NumberRangeLeaf(AttrId attr, const Number* lo, bool lo_strict,
                            const Number* hi, bool hi_strict,
                            std::string label) const;

  // The query's clock, noted as read (BindOptions::read_clock).
  int64_t Now() const {
    NoteClock(true);
    return options_.now_ms;
  }
  void NoteClock(bool read) const {
    if (read && options_.read_clock != nullptr) *options_.read_clock = true;
  }

  // Dates read against the query's clock (which only "now", "now-7d" and
  // the like read); errors point at `path`.
  Result<int64_t> ReadDate(const JsonValue* v, const std::string& path) const {
    Result<RuleDate> t = segd::ReadDate(v, path, options_.now_ms);
    if (!t.ok()) return t.status();
    NoteClock(t->from_now);
    return t->value;
  }
  Result<std::pair<int64_t, int64_t>> ReadDatePair(
      const std::optional<JsonValue>& v, const std::string& path) const {
    Result<std::pair<RuleDate, RuleDate>> r =
        segd::ReadDatePair(v, path, options_.now_ms);
    if (!r.ok()) return r.status();
    NoteClock(r->first.from_now || r->second.from_now);
    return std::make_pair(r->first.value, r->second.value);
  }

  const Index& index_;
  const BindOptions& options_;
  std::vector<std::string> segment_stack_;  // for cycle detection
};

Result<BoundNode> Binder::BindNode(const RuleNode& node, int depth) {
  if (depth > options_.max_depth) {
    return Invalid("rule nested deeper than " +
                       std::to_string(options_.max_depth) + " levels",
                   node.path);
  }
  if (!node.error.ok()) return node.error;
  switch (node.kind) {
    case NodeKind::kAll:
    case NodeKind::kAny: {
      std::vector<BoundNode> children;
      children.reserve(node.children.size());
      for (const RuleNode& child : node.children) {
        Result<BoundNode> bound = BindNode(child, depth + 1);
        if (!bound.ok()) return bound.status();
        children.push_back(std::move(bound).value());
      }
      return BoundNode::Group(
          node.kind == NodeKind::kAll ? BoundKind::kAnd : BoundKind::kOr,
          std::move(children));
    }
    case NodeKind::kNot: {
      Result<BoundNode> inner = BindNode(node.children[0], depth + 1);
      if (!inner.ok()) return inner.status();
      return BoundNode::Not(std::move(inner).value());
    }
    case NodeKind::kField:
      return BindField(node);
    case NodeKind::kEvent:
      return BindEvent(node);
    case NodeKind::kSegment:
      return BindSegment(node, depth);
  }
  return Status(ErrorCode::kInternal, "unknown rule node", node.path);
}

Result<BoundNode> Binder::BindField(const RuleNode& node) {
  const std::string field_path = node.path + "/field";
  std::optional<AttrId> attr = index_.FindAttribute(node.name);
  if (!attr && options_.schema != nullptr &&
      options_.schema->Find(node.name).has_value()) {
    // No row of this index holds it: a positive operator matches none, a
    // negative one (the complement of its twin) every live row.
    const std::optional<Op> op = ParseOp(node.op);
    return BoundNode::Const(op.has_value() && IsNegative(*op));
  }
  if (!attr)
    return Invalid("unknown attribute " + Quoted(node.name), field_path);
  const AttributeIndex& a = index_.attribute(*attr);
  Result<Op> op = FieldOperator(node, a.type);
  if (!op.ok()) return op.status();
  switch (*op) {
    case Op::kExists:
    case Op::kNotExists: {
      BoundNode leaf = BitmapLeaf(a.presence.get(), node.name + " exists");
      return *op == Op::kExists ? std::move(leaf)
                                : BoundNode::Not(std::move(leaf));
    }
    case Op::kIsTrue:
      return BitmapLeaf(a.true_rows.get(), node.name + " is_true");
    case Op::kIsFalse:
      return BitmapLeaf(a.false_rows.get(), node.name + " is_false");
    default:
      break;
  }
  switch (a.type) {
    case AttrType::kString:
    case AttrType::kStringArray:
      return BindString(node, *attr, *op);
    case AttrType::kNumber:
      return BindNumber(node, *attr, *op);
    case AttrType::kDate:
      return BindDate(node, *attr, *op);
    case AttrType::kBool:
    case AttrType::kUnindexable:
      break;
  }
  return Status(ErrorCode::kInternal, "operator left unbound", node.path);
}

Result<BoundNode> Binder::BindString(const RuleNode& node, AttrId attr, Op op) {
  const std::string value_path = node.path + "/value";
  const AttributeIndex& a = index_.attribute(attr);
  const StringIndex& strings = *a.strings;
  const bool single_valued = a.type == AttrType::kString;
  const std::string prefix = a.name + " " + OpName(op) + " ";
  switch (op) {
    case Op::kEq:
    case Op::kNeq: {
      Result<std::string> v = ReadString(node.value, value_path);
      if (!v.ok()) return v.status();
      const std::string folded = FoldAscii(*v);
      std::vector<ValueId> ids;
      if (auto id = strings.Find(folded)) ids.push_back(*id);
      BoundNode leaf =
          ValuesLeaf(strings, ids, a.name + " eq " + folded, single_valued);
      return op == Op::kEq ? std::move(leaf) : BoundNode::Not(std::move(leaf));
    }
    case Op::kIn:
    case Op::kNotIn:
    case Op::kHasAll: {
      Result<std::vector<std::string>> values =
          ReadStrings(node.value, value_path);
      if (!values.ok()) return values.status();
      std::vector<ValueId> ids;
      std::string label;
      bool missing = false;
      for (const std::string& v : *values) {
        const std::string folded = FoldAscii(v);
        label += (label.empty() ? "" : ",") + folded;
        if (auto id = strings.Find(folded)) {
          ids.push_back(*id);
        } else {
          missing = true;
        }
      }
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      if (op == Op::kHasAll) {
        if (values->empty()) {
          return BitmapLeaf(a.presence.get(), a.name + " exists");
        }
        if (missing) return BoundNode::Const(false);
        std::vector<BoundNode> parts;
        for (ValueId id : ids) {
          parts.push_back(ValuesLeaf(
              strings, {id}, a.name + " eq " + std::string(strings.folded(id)),
              single_valued));
        }
        return BoundNode::Group(BoundKind::kAnd, std::move(parts));
      }
      BoundNode leaf = ValuesLeaf(strings, ids, a.name + " in [" + label + "]",
                                  single_valued);
      return op == Op::kIn ? std::move(leaf) : BoundNode::Not(std::move(leaf));
    }
    case Op::kContains:
    case Op::kNotContains:
    case Op::kStartsWith: {
      Result<std::string> v = ReadString(node.value, value_path);
      if (!v.ok()) return v.status();
      const std::string folded = FoldAscii(*v);
      if (folded.empty()) {
        BoundNode leaf = BitmapLeaf(a.presence.get(), a.name + " exists");
        return op == Op::kNotContains ? BoundNode::Not(std::move(leaf))
                                      : std::move(leaf);
      }
      const bool prefix_only = op == Op::kStartsWith;
      BoundNode leaf = TextLeaf(
          strings, folded,
          prefix_only ? ValueMatches::Kind::kStartsWith
                      : ValueMatches::Kind::kContains,
          a.name + (prefix_only ? " starts_with " : " contains ") + folded,
          single_valued);
      return op == Op::kNotContains ? BoundNode::Not(std::move(leaf))
                                    : std::move(leaf);
    }
    default:
      break;
  }
  return Status(ErrorCode::kInternal, "unexpected string operator", node.path);
}

Result<BoundNode> Binder::BindNumber(const RuleNode& node, AttrId attr, Op op) {
  const std::string value_path = node.path + "/value";
  const std::string& name = index_.attribute(attr).name;
  const std::string label = name + " " + OpName(op) + " ";
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
      const std::string text = label + NumberText(x);
      switch (op) {
        case Op::kEq:
          return NumberRangeLeaf(attr, &x, false, &x, false, text);
        case Op::kNeq:
          return BoundNode::Not(NumberRangeLeaf(attr, &x, false, &x, false,
                                                name + " eq " + NumberText(x)));
        case Op::kGt:
          return NumberRangeLeaf(attr, &x, true, nullptr, false, text);
        case Op::kGte:
          return NumberRangeLeaf(attr, &x, false, nullptr, false, text);
        case Op::kLt:
          return NumberRangeLeaf(attr, nullptr, false, &x, true, text);
        default:
          return NumberRangeLeaf(attr, nullptr, false, &x, false, text);
      }
    }
    case Op::kBetween: {
      Result<std::vector<Number>> v = ReadNumbers(node.value, value_path);
      if (!v.ok()) return v.status();
      if (v->size() != 2) {
        return Malformed("between takes [low, high]", value_path);
      }
      const Number lo = (*v)[0], hi = (*v)[1];
      return NumberRangeLeaf(attr, &lo, false, &hi, false,
                             label + NumberText(lo) + ".." + NumberText(hi));
    }
    case Op::kIn:
    case Op::kNotIn: {
      Result<std::vector<Number>> v = ReadNumbers(node.value, value_path);
      if (!v.ok()) return v.status();
      std::vector<BoundNode> parts;
      for (const Number& x : *v) {
        parts.push_back(NumberRangeLeaf(attr, &x, false, &x, false,
                                        name + " eq " + NumberText(x)));
      }
      BoundNode any = BoundNode::Group(BoundKind::kOr, std::move(parts));
      return op == Op::kIn ? std::move(any) : BoundNode::Not(std::move(any));
    }
    default:
      break;
  }
  return Status(ErrorCode::kInternal, "unexpected number operator", node.path);
}

Result<BoundNode> Binder::BindDate(const RuleNode& node, AttrId attr, Op op) {
  const std::string value_path = node.path + "/value";
  const std::string& name = index_.attribute(attr).name;
  switch (op) {
    case Op::kBefore:
    case Op::kAfter:
    case Op::kOn: {
      if (!node.value) return Malformed("missing value", value_path);
      Result<int64_t> t = ReadDate(&*node.value, value_path);
      if (!t.ok()) return t.status();
      if (op == Op::kBefore) {
        return IntRangeLeaf(
            attr, std::nullopt,
            *t == kMinInt ? std::nullopt : std::optional(*t - 1),
            name + " before " + FormatIsoInstant(*t));
      }
      if (op == Op::kAfter) {
        if (*t == kMaxInt) return BoundNode::Const(false);
        return IntRangeLeaf(attr, *t + 1, std::nullopt,
                            name + " after " + FormatIsoInstant(*t));
      }
      const int64_t day = StartOfUtcDay(*t);
      return IntRangeLeaf(attr, day, day + kMillisPerDay - 1,
                          name + " on " + FormatIsoInstant(day).substr(0, 10));
    }
    case Op::kBetween: {
      Result<std::pair<int64_t, int64_t>> r =
          ReadDatePair(node.value, value_path);
      if (!r.ok()) return r.status();
      return IntRangeLeaf(attr, r->first, r->second,
                          name + " between " + FormatIsoInstant(r->first) +
                              ".." + FormatIsoInstant(r->second));
    }
    case Op::kWithinLast:
    case Op::kNotWithinLast: {
      Result<int64_t> d = ReadDuration(node.value, value_path);
      if (!d.ok()) return d.status();
      const int64_t now = Now();
      BoundNode leaf = IntRangeLeaf(
          attr, now - *d, now, name + " within_last " + node.value->string);
      return op == Op::kWithinLast ? std::move(leaf)
                                   : BoundNode::Not(std::move(leaf));
    }
    default:
      break;
  }
  return Status(ErrorCode::kInternal, "unexpected date operator", node.path);
}

Result<BoundNode> Binder::BindEvent(const RuleNode& node) {
  int64_t lo = kMinInt, hi = kMaxInt;
  if (node.within_last) {
    Result<int64_t> d =
        ReadDuration(node.within_last, node.path + "/within_last");
    if (!d.ok()) return d.status();
    const int64_t now = Now();
    lo = std::max(lo, now - *d);
    hi = std::min(hi, now);
  }
  if (node.after) {
    Result<int64_t> t = ReadDate(&*node.after, node.path + "/after");
    if (!t.ok()) return t.status();
    if (*t == kMaxInt) return BoundNode::Const(false);
    lo = std::max(lo, *t + 1);
  }
  if (node.before) {
    Result<int64_t> t = ReadDate(&*node.before, node.path + "/before");
    if (!t.ok()) return t.status();
    if (*t == kMinInt) return BoundNode::Const(false);
    hi = std::min(hi, *t - 1);
  }
  if (node.between) {
    Result<std::pair<int64_t, int64_t>> r =
        ReadDatePair(node.between, node.path + "/between");
    if (!r.ok()) return r.status();
    lo = std::max(lo, r->first);
    hi = std::min(hi, r->second);
  }
  Result<CountTest> test = ReadCountTest(node);
  if (!test.ok()) return test.status();
  // A profile without such events in the window counts 0.
  const CountRange counts = PassingCounts(*test);
  const bool zero_matches = !counts.empty() && counts.min == 0;
  std::optional<EventId> event = index_.FindEvent(node.name);
  // Rows whose events are held elsewhere may have this event when the
  // index has not.
  const roaring_bitmap_t* stale =
      options_.events != nullptr ? options_.events->stale() : nullptr;
  if (counts.empty() || (!event && stale == nullptr) || lo > hi) {
    return BoundNode::Const(zero_matches);
  }
  if (zero_matches && counts.max == INT64_MAX) return BoundNode::Const(true);
  // A test that passes 0 is the complement of the rows counting more, so
  // the leaf itself only ever selects rows that have events.
  BoundNode n;
  n.kind = BoundKind::kLeaf;
  n.leaf.kind = LeafKind::kEvent;
  n.leaf.event = event.value_or(kNoEvent);
  n.leaf.lo = lo;
  n.leaf.hi = hi;
  n.leaf.count = zero_matches ? CountRange{counts.max + 1, INT64_MAX} : counts;
  if (stale != nullptr) {
    n.leaf.stale = stale;
    n.leaf.stale_matches =
        options_.events->Matching(node.name, lo, hi, n.leaf.count);
  }
  const std::string range_text =
      n.leaf.count.max == INT64_MAX
          ? "count >= " + std::to_string(n.leaf.count.min)
          : "count " + std::to_string(n.leaf.count.min) + ".." +
                std::to_string(n.leaf.count.max);
  n.label = "event " + FoldAscii(node.name) + " [" +
            (lo == kMinInt ? "-inf" : FormatIsoInstant(lo)) + ", " +
            (hi == kMaxInt ? "+inf" : FormatIsoInstant(hi)) + "] " + range_text;
  // Estimate, an upper bound on the profiles: in a shard whose events all
  // lie at or before the window's end, the profiles with one in the window,
  // from the first rung of the recency ladder; elsewhere the events in the
  // window.
  uint64_t estimate =
      n.leaf.stale_matches ? n.leaf.stale_matches->cardinality() : 0;
  for (uint32_t s = 0; event && s < index_.shard_count(); ++s) {
    const ShardIndex& shard = index_.shard(s);
    if (shard.NoEventAfter(*event, hi)) {
      const IntKeys& latest = shard.recency[*event][0].keys;
      estimate += latest.size() - latest.LowerBound(lo);
      continue;
    }
    estimate += shard.EventsIn(*event, lo, hi).total;
  }
  n.estimate = std::min<uint64_t>(estimate, index_.live_count());
  return zero_matches ? BoundNode::Not(std::move(n)) : n;
}

Result<BoundNode> Binder::BindSegment(const RuleNode& node, int depth) {
  const std::string path = node.path + "/segment";
  const RuleNode* rule =
      options_.segments ? options_.segments->FindRule(node.name) : nullptr;
  if (rule == nullptr) {
    const roaring_bitmap_t* members =
        options_.segments ? options_.segments->FindMembers(node.name) : nullptr;
    if (members == nullptr)
      return Invalid("unknown segment " + Quoted(node.name), path);
    BoundNode leaf = BitmapLeaf(members, "segment " + node.name);
    leaf.leaf.lasting = false;  // members change from version to version
    return leaf;
  }
  if (std::find(segment_stack_.begin(), segment_stack_.end(), node.name) !=
      segment_stack_.end()) {
    return Invalid("segment " + Quoted(node.name) + " refers to itself", path);
  }
  segment_stack_.push_back(node.name);
  Result<BoundNode> bound = BindNode(*rule, depth);
  segment_stack_.pop_back();
  if (!bound.ok()) {
    return Invalid("segment " + Quoted(node.name) +
                       " cannot be evaluated: " + bound.status().ToString(),
                   path);
  }
  return bound;
}

BoundNode Binder::BitmapLeaf(const roaring_bitmap_t* bitmap,
                             std::string label) const {
  BoundNode n;
  n.kind = BoundKind::kLeaf;
  n.leaf.kind = LeafKind::kBitmap;
  n.leaf.bitmap = bitmap;
  n.leaf.lasting = true;
  n.estimate = roaring_bitmap_get_cardinality(bitmap);
  n.label = std::move(label);
  return n;
}

BoundNode Binder::ValuesLeaf(const StringIndex& strings,
                             const std::vector<ValueId>& ids, std::string label,
                             bool single_valued) const {
  if (ids.empty()) return BoundNode::Const(false);
  auto leaf_of = [&](ValueId id) {
    const Posting p = strings.posting(id);
    BoundNode n;
    n.kind = BoundKind::kLeaf;
    if (p.bitmap != nullptr) {
      n.leaf.kind = LeafKind::kBitmap;
      n.leaf.bitmap = p.bitmap;
    } else {
      n.leaf.kind = LeafKind::kRowList;
      n.leaf.rows = p.rows;
    }
    n.leaf.lasting = true;
    n.estimate = p.cardinality;
    return n;
  };
  if (ids.size() == 1) {
    BoundNode n = leaf_of(ids[0]);
    n.label = std::move(label);
    return n;
  }
  uint64_t matched_rows = 0;
  if (ids.size() >= kMinValueSet) {
    for (ValueId id : ids) matched_rows += strings.posting(id).cardinality;
  }
  // Testing every occurrence pays off once the matches are a fair share of
  // them; a few thousand rows are cheaper to gather into one bitmap.
  if (ids.size() >= kMinValueSet &&
      matched_rows * kValueSetMinShare >= strings.occurrence_count() &&
      strings.keeps_occurrences()) {
    ValueSet set;
    set.bits.assign((strings.value_count() + 63) / 64, 0);
    for (ValueId id : ids) set.bits[id >> 6] |= uint64_t{1} << (id & 63);
    set.count = ids.size();
    set.occurrences = matched_rows;
    return ValueSetNode(strings,
                        std::make_shared<ValueMatches>(strings, std::move(set)),
                        matched_rows, std::move(label), single_valued);
  }
  // Common values stay separate bitmap leaves, OR-ed shard by shard in
  // parallel. Rare values (row lists) are few rows each: beyond a handful
  // they are merged into one bitmap for this query. So is an extreme number
  // of common values, where a per-shard OR would look up too many
  // containers.
  std::vector<ValueId> common, rare;
  for (ValueId id : ids) {
    (strings.posting(id).bitmap != nullptr ? common : rare).push_back(id);
  }
  auto owned_leaf = [&](roaring_bitmap_t* bitmap) {
    auto owned = std::make_shared<Bitmap>(bitmap);
    BoundNode n;
    n.kind = BoundKind::kLeaf;
    n.leaf.kind = LeafKind::kBitmap;
    n.leaf.bitmap = owned->get();
    n.estimate = owned->cardinality();
    n.leaf.owned = std::move(owned);
    n.label = label + "#union";
    return n;
  };
  // Values as leaves of their own, or, past `limit`, merged by `merge`.
  std::vector<BoundNode> parts;
  auto add = [&](const std::vector<ValueId>& values, size_t limit,
                 auto&& merge) {
    if (values.size() > limit) {
      parts.push_back(owned_leaf(merge(values)));
      return;
    }
    for (ValueId id : values) {
      BoundNode part = leaf_of(id);
      part.label = label + "#" + std::string(strings.folded(id));
      parts.push_back(std::move(part));
    }
  };
  add(common, kMaxLazyBitmaps, [&](const std::vector<ValueId>& values) {
    std::vector<const roaring_bitmap_t*> bitmaps;
    for (ValueId id : values) bitmaps.push_back(strings.posting(id).bitmap);
    return roaring_bitmap_or_many(bitmaps.size(), bitmaps.data());
  });
  add(rare, kMaxRowListLeaves, [&](const std::vector<ValueId>& values) {
    std::vector<uint32_t> rows;
    for (ValueId id : values) {
      const Posting p = strings.posting(id);
      rows.insert(rows.end(), p.rows.begin(), p.rows.end());
    }
    return roaring_bitmap_of_ptr(rows.size(), rows.data());
  });
  if (parts.size() == 1) {
    parts[0].label = std::move(label);
    return std::move(parts[0]);
  }
  BoundNode any = BoundNode::Group(BoundKind::kOr, std::move(parts));
  any.disjoint = single_valued;
  return any;
}

BoundNode Binder::ValueSetNode(const StringIndex& strings,
                               std::shared_ptr<const ValueMatches> matches,
                               uint64_t estimate, std::string label,
                               bool single_valued) const {
  BoundNode n;
  n.kind = BoundKind::kLeaf;
  n.estimate = estimate;
  n.leaf.kind = LeafKind::kValueSet;
  if (strings.row_values().empty()) {
    n.leaf.rows = strings.occurrence_rows();
    n.leaf.values = strings.occurrence_values();
  } else {
    n.leaf.values = strings.row_values();
  }
  n.leaf.matches = std::move(matches);
  n.leaf.single_valued = single_valued;
  n.label = std::move(label);
  return n;
}

BoundNode Binder::TextLeaf(const StringIndex& strings,
                           const std::string& needle, ValueMatches::Kind kind,
                           std::string label, bool single_valued) const {
  const bool contains = kind == ValueMatches::Kind::kContains;
  // When many values may match, among an attribute that keeps its
  // occurrences, the set is left to be found when needed: a preview tests
  // only the rows it reads.
  const uint64_t occurrences = strings.occurrence_count();
  if (strings.keeps_occurrences()) {
    // A prefix's run of ids is found once, here.
    auto matches = std::make_shared<ValueMatches>(strings, needle, kind);
    const auto ids = matches->id_range();
    const uint64_t candidates =
        ids ? ids->second - ids->first : strings.ContainsCandidates(needle);
    const uint64_t estimate = candidates * occurrences / strings.value_count();
    if (candidates >= kMinValueSet &&
        estimate * kValueSetMinShare >= occurrences) {
      return ValueSetNode(strings, std::move(matches), estimate,
                          std::move(label), single_valued);
    }
  }
  return ValueSetLeaf(
      strings,
      contains ? strings.ContainsSet(needle) : strings.StartsWith(needle),
      std::move(label), single_valued);
}

BoundNode Binder::ValueSetLeaf(const StringIndex& strings, const ValueSet& set,
                               std::string label, bool single_valued) const {
  std::vector<ValueId> ids;
  ids.reserve(set.count);
  for (size_t w = 0; w < set.bits.size(); ++w) {
    for (uint64_t bits = set.bits[w]; bits != 0; bits &= bits - 1) {
      ids.push_back(static_cast<ValueId>(w * 64 + std::countr_zero(bits)));
    }
  }
  return ValuesLeaf(strings, ids, std::move(label), single_valued);
}

BoundNode Binder::IntRangeLeaf(AttrId attr, std::optional<int64_t> lo,
                               std::optional<int64_t> hi,
                               std::string label) const {
  const int64_t l = lo.value_or(kMinInt), h = hi.value_or(kMaxInt);
  if (l > h) return BoundNode::Const(false);
  BoundNode n;
  n.kind = BoundKind::kLeaf;
  n.leaf.kind = LeafKind::kIntRange;
  n.leaf.attr = attr;
  n.leaf.lo = l;
  n.leaf.hi = h;
  n.label = std::move(label);
  for (uint32_t s = 0; s < index_.shard_count(); ++s) {
    const IntKeys& keys = index_.shard(s).int_columns[attr].keys;
    const size_t b = keys.LowerBound(l);
    n.estimate += std::max(b, keys.UpperBound(h)) - b;
  }
  return n;
}

BoundNode Binder::NumberRangeLeaf(AttrId attr, const Number* lo, bool lo_strict,
                                  const Number* hi, bool hi_strict,
                                  std::string label) const {
  if (index_.attribute(attr).integer_domain) {
    std::optional<int64_t> l, h;
    if (lo) {
      l = CeilInt(*lo, lo_strict);
      if (!l) return BoundNode::Const(false);
    }
    if (hi) {
      h = FloorInt(*hi, hi_strict);
      if (!h) return BoundNode::Const(false);
    }
    return IntRangeLeaf(attr, l, h, std::move(label));
  }
  BoundNode n;
  n.kind = BoundKind::kLeaf;
  n.leaf.kind = LeafKind::kMixedRange;
  n.leaf.attr = attr;
  constexpr long double kInf = std::numeric_limits<long double>::infinity();
  auto exact = [](const Number& x) {
    return x.is_int ? static_cast<long double>(x.i)
                    : static_cast<long double>(x.d);
  };
  n.leaf.dlo = lo ? exact(*lo) : -kInf;
  n.leaf.dhi = hi ? exact(*hi) : kInf;
  n.leaf.dlo_strict = lo && lo_strict;
  n.leaf.dhi_strict = hi && hi_strict;
  if (n.leaf.dlo > n.leaf.dhi ||
      (n.leaf.dlo == n.leaf.dhi && (n.leaf.dlo_strict || n.leaf.dhi_strict))) {
    return BoundNode::Const(false);
  }
  n.label = std::move(label);
  for (uint32_t s = 0; s < index_.shard_count(); ++s) {
    const auto& keys = index_.shard(s).mixed_columns[attr].keys;
    const size_t b = n.leaf.dlo_strict ? keys.UpperBound(n.leaf.dlo)
                                       : keys.LowerBound(n.leaf.dlo);
    const size_t e = n.leaf.dhi_strict ? keys.LowerBound(n.leaf.dhi)
                                       : keys.UpperBound(n.leaf.dhi);
    if (e > b) n.estimate += e - b;
  }
  return n;
}

}  // namespace

Result<BoundNode> Bind(const RuleNode& rule, const Index& index,
                       const BindOptions& options) {
  Binder binder(index, options);
  return binder.BindNode(rule, 1);
}

}  // namespace segd
