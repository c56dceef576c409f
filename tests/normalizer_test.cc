// Golden tests for the normalizer: each rewrite in its own group.
#include "engine/normalizer.h"

#include <gtest/gtest.h>

namespace segd {
namespace {

BoundNode L(const char* label) {
  BoundNode n;
  n.kind = BoundKind::kLeaf;
  n.label = label;
  return n;
}
BoundNode And(std::vector<BoundNode> c) {
  return BoundNode::Group(BoundKind::kAnd, std::move(c));
}
BoundNode Or(std::vector<BoundNode> c) {
  return BoundNode::Group(BoundKind::kOr, std::move(c));
}
BoundNode Not(BoundNode c) { return BoundNode::Not(std::move(c)); }
BoundNode T() { return BoundNode::Const(true); }
BoundNode F() { return BoundNode::Const(false); }

TEST(FlattenGroupsTest, MergesNestedGroupsOfTheSameKind) {
  EXPECT_EQ(
      ToString(FlattenGroups(And({L("a"), And({L("b"), And({L("c")})})}))),
      "AND(a, b, c)");
  EXPECT_EQ(ToString(FlattenGroups(Or({Or({L("a"), L("b")}), L("c")}))),
            "OR(a, b, c)");
}

TEST(FlattenGroupsTest, KeepsGroupsOfTheOtherKind) {
  EXPECT_EQ(ToString(FlattenGroups(And({L("a"), Or({L("b"), L("c")})}))),
            "AND(a, OR(b, c))");
}

TEST(FlattenGroupsTest, FlattensUnderNot) {
  EXPECT_EQ(ToString(FlattenGroups(Not(And({L("a"), And({L("b")})})))),
            "NOT(AND(a, b))");
}

TEST(PushNotDownTest, DeMorganOverAnd) {
  EXPECT_EQ(ToString(PushNotDown(Not(And({L("a"), L("b")})))),
            "OR(NOT(a), NOT(b))");
}

TEST(PushNotDownTest, DeMorganOverOr) {
  EXPECT_EQ(ToString(PushNotDown(Not(Or({L("a"), L("b")})))),
            "AND(NOT(a), NOT(b))");
}

TEST(PushNotDownTest, CancelsDoubleNegation) {
  EXPECT_EQ(ToString(PushNotDown(Not(Not(L("a"))))), "a");
  EXPECT_EQ(ToString(PushNotDown(Not(Not(Not(L("a")))))), "NOT(a)");
}

TEST(PushNotDownTest, NegatesConstants) {
  EXPECT_EQ(ToString(PushNotDown(Not(T()))), "FALSE");
  EXPECT_EQ(ToString(PushNotDown(Not(And({F(), L("a")})))), "OR(TRUE, NOT(a))");
}

TEST(PushNotDownTest, ReachesNestedNots) {
  EXPECT_EQ(
      ToString(PushNotDown(And({L("a"), Not(Or({L("b"), Not(L("c"))}))}))),
      "AND(a, AND(NOT(b), c))");
}

TEST(FoldConstantsTest, AbsorbingElements) {
  EXPECT_EQ(ToString(FoldConstants(And({L("a"), F()}))), "FALSE");
  EXPECT_EQ(ToString(FoldConstants(Or({L("a"), T()}))), "TRUE");
}

TEST(FoldConstantsTest, IdentityElementsAreDropped) {
  EXPECT_EQ(ToString(FoldConstants(And({L("a"), T(), L("b")}))), "AND(a, b)");
  EXPECT_EQ(ToString(FoldConstants(Or({F(), L("a")}))), "a");
}

TEST(FoldConstantsTest, EmptyGroups) {
  EXPECT_EQ(ToString(FoldConstants(And({}))), "TRUE");
  EXPECT_EQ(ToString(FoldConstants(Or({}))), "FALSE");
  EXPECT_EQ(ToString(FoldConstants(And({Or({}), L("a")}))), "FALSE");
}

TEST(FoldConstantsTest, ThroughNot) {
  EXPECT_EQ(ToString(FoldConstants(Not(Or({})))), "TRUE");
}

TEST(NormalizeTest, LeavesNotOnlyAboveLeaves) {
  EXPECT_EQ(ToString(Normalize(Not(And({L("a"), Or({L("b"), Not(L("c"))})})))),
            "OR(NOT(a), AND(NOT(b), c))");
}

TEST(NormalizeTest, FoldingExposesGroupsToFlatten) {
  EXPECT_EQ(
      ToString(Normalize(And({L("a"), Or({And({L("b"), L("c")}), F()})}))),
      "AND(a, b, c)");
}

TEST(NormalizeTest, AndNotShape) {
  // all [a, not any [b, c]] becomes AND(a, NOT b, NOT c): one ANDNOT each.
  EXPECT_EQ(ToString(Normalize(And({L("a"), Not(Or({L("b"), L("c")}))}))),
            "AND(a, NOT(b), NOT(c))");
}

TEST(NormalizeTest, NotOfEmptyAllMatchesNothing) {
  EXPECT_EQ(ToString(Normalize(Not(And({})))), "FALSE");
}

}  // namespace
}  // namespace segd
