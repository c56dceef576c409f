#include "engine/bound.h"

#include <tbb/task_arena.h>

#include <bit>

namespace segd {

bool CountTest::Matches(uint64_t count) const {
  const int c =
      CompareNumbers(Number::Int(static_cast<int64_t>(count)), operand);
  switch (op) {
    case CmpOp::kEq:
      return c == 0;
    case CmpOp::kGt:
      return c > 0;
    case CmpOp::kGte:
      return c >= 0;
    case CmpOp::kLt:
      return c < 0;
    case CmpOp::kLte:
      return c <= 0;
  }
  return false;
}

CountRange PassingCounts(const CountTest& test) {
  // The tests are monotone in the count (eq is a point), so the interval's
  // ends are found by binary search over Matches, exact for any operand.
  auto first_passing = [&](int64_t lo, int64_t hi, auto&& pass) {
    // Smallest c in [lo, hi] with pass(c); hi + 1 when none. pass is
    // false then true over the range.
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (pass(mid)) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return pass(lo) ? lo : hi + (hi < INT64_MAX ? 1 : 0);
  };
  auto matches = [&](int64_t c) {
    return test.Matches(static_cast<uint64_t>(c));
  };
  CountRange r;
  switch (test.op) {
    case CmpOp::kGt:
    case CmpOp::kGte:
      r.min = first_passing(0, INT64_MAX, matches);
      if (!matches(r.min)) r = CountRange{1, 0};
      return r;
    case CmpOp::kLt:
    case CmpOp::kLte:
      r.min = 0;
      r.max =
          first_passing(0, INT64_MAX, [&](int64_t c) { return !matches(c); }) -
          1;
      if (!matches(INT64_MAX)) return r;
      r.max = INT64_MAX;
      return r;
    case CmpOp::kEq: {
      const int64_t c = first_passing(0, INT64_MAX, [&](int64_t n) {
        return CompareNumbers(Number::Int(n), test.operand) >= 0;
      });
      return matches(c) ? CountRange{c, c} : CountRange{1, 0};
    }
  }
  return CountRange{1, 0};
}

ValueMatches::ValueMatches(const StringIndex& strings, ValueSet set)
    : strings_(&strings),
      bits_(std::move(set.bits)),
      occurrences_(set.occurrences),
      known_(true) {
  if (set.count > kMaxKeyValues) return;
  key_ = "=";
  for (size_t w = 0; w < bits_.size(); ++w) {
    for (uint64_t bits = bits_[w]; bits != 0; bits &= bits - 1) {
      const ValueId id = static_cast<ValueId>(w * 64 + std::countr_zero(bits));
      key_.append(reinterpret_cast<const char*>(&id), sizeof(id));
    }
  }
}

ValueMatches::ValueMatches(const StringIndex& strings, std::string needle,
                           Kind kind)
    : strings_(&strings), needle_(std::move(needle)), kind_(kind) {
  if (kind_ == Kind::kStartsWith) prefixed_ = strings.PrefixRange(needle_);
  key_ = (kind_ == Kind::kStartsWith ? "^" : "~") + needle_;
}

const std::vector<uint64_t>& ValueMatches::bits() const {
  if (!known_.load(std::memory_order_acquire)) {
    // Isolated: while its parallel scan waits, this thread must not pick
    // up another task that could wait on the same once_flag.
    std::call_once(once_, [&] {
      tbb::this_task_arena::isolate([&] {
        ValueSet set = kind_ == Kind::kContains ? strings_->ContainsSet(needle_)
                                                : strings_->StartsWith(needle_);
        bits_ = std::move(set.bits);
        occurrences_ = set.occurrences;
      });
      known_.store(true, std::memory_order_release);
    });
  }
  return bits_;
}

uint64_t ValueMatches::Occurrences() const {
  if (kind_ == Kind::kStartsWith) {
    return strings_->OccurrencesIn(prefixed_.first, prefixed_.second);
  }
  if (!known_.load(std::memory_order_acquire)) {
    if (const std::optional<uint64_t> n = strings_->RunOccurrences(needle_)) {
      return *n;
    }
  }
  bits();
  return occurrences_;
}

uint64_t ValueMatches::FindBytes() const {
  if (needle_.empty() || kind_ != Kind::kContains) return 0;
  return strings_->ContainsSetBytes(needle_);
}

bool ValueMatches::Test(ValueId v) const {
  if (known_.load(std::memory_order_acquire)) {
    return bits_[v >> 6] >> (v & 63) & 1;
  }
  if (kind_ == Kind::kStartsWith) {
    return v >= prefixed_.first && v < prefixed_.second;
  }
  return strings_->folded(v).find(needle_) != std::string_view::npos;
}

BoundNode BoundNode::Const(bool value) {
  BoundNode n;
  n.kind = BoundKind::kConst;
  n.constant = value;
  n.label = value ? "TRUE" : "FALSE";
  return n;
}

BoundNode BoundNode::Not(BoundNode child) {
  BoundNode n;
  n.kind = BoundKind::kNot;
  n.children.push_back(std::move(child));
  return n;
}

BoundNode BoundNode::Group(BoundKind kind, std::vector<BoundNode> children) {
  BoundNode n;
  n.kind = kind;
  n.children = std::move(children);
  return n;
}

std::string ToString(const BoundNode& node) {
  auto group = [&](const char* name) {
    std::string s = name;
    s.push_back('(');
    for (size_t i = 0; i < node.children.size(); ++i) {
      if (i > 0) s.append(", ");
      s.append(ToString(node.children[i]));
    }
    s.push_back(')');
    return s;
  };
  switch (node.kind) {
    case BoundKind::kAnd:
      return group("AND");
    case BoundKind::kOr:
      return group("OR");
    case BoundKind::kNot:
      return group("NOT");
    case BoundKind::kConst:
      return node.constant ? "TRUE" : "FALSE";
    case BoundKind::kLeaf:
      return node.label;
  }
  return "?";
}

}  // namespace segd
