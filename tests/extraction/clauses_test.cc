// Unit tests for the clause stage (extraction/stages/clauses.h), on sentences of our own.
#include "extraction/stages/clauses.h"

#include <gtest/gtest.h>

#include "tests/extraction/stage_runner.h"

namespace stancewire::extraction {
namespace {

using testing::RunStages;

TEST(Clauses, SubjectsAndObjects) {
  auto r = RunStages("Kenya and Norway backed the plan drafted by Chile.");
  EXPECT_TRUE(r->Find(0, "Kenya")->subject);
  EXPECT_TRUE(r->Find(0, "Norway")->subject);  // a list inherits
  EXPECT_FALSE(r->Find(0, "Chile")->subject);  // after a preposition
}

TEST(Clauses, AComplementAfterSayOpensWithItsSubject) {
  auto r = RunStages("Diplomats say Kenya and Norway did not want the levy.");
  EXPECT_TRUE(r->Find(0, "Kenya")->subject);
  EXPECT_TRUE(r->Find(0, "Norway")->subject);
}

TEST(Clauses, AnAliasInParenthesesIsTheMentionBeforeIt) {
  auto r =
      RunStages("Mali and Niger, forming the Alliance of Sahel States (AES), rejected the plan.");
  const auto& mentions = r->sentences[0].mentions.list;
  ASSERT_EQ(mentions.size(), 4u);
  EXPECT_EQ(r->Words(mentions[3].begin, mentions[3].end), "AES");
  EXPECT_FALSE(mentions[3].subject);  // as "the Alliance of Sahel States" before it
  EXPECT_TRUE(r->Find(0, "Niger")->subject);
}

TEST(Clauses, CommaAfterAClosedListStartsANewList) {
  auto r = RunStages("In addition to Kenya and Norway, Chile and Peru opposed the plan.");
  EXPECT_FALSE(r->Find(0, "Norway")->subject);  // the list after "to" ends with its "and"
  EXPECT_TRUE(r->Find(0, "Chile")->subject);
  EXPECT_TRUE(r->Find(0, "Peru")->subject);
}

TEST(Clauses, AStatesRoleAfterAClosedListStartsANewList) {
  auto r = RunStages("Along with Kenya and Norway, delegations from Chile and Peru voted against.");
  EXPECT_FALSE(r->Find(0, "Norway")->subject);
  EXPECT_TRUE(r->Find(0, "delegations from Chile")->subject);
  EXPECT_TRUE(r->Find(0, "Peru")->subject);
}

TEST(Clauses, CoordinatedClauses) {
  auto r = RunStages("Kenya backed it, but Norway opposed it; Chile did not.");
  const Clauses& c = r->sentences[0].clauses;
  const auto& t = r->item.doc.tokens;
  EXPECT_EQ(c.ClauseOf(0), 0u);
  EXPECT_EQ(c.ClauseOf(r->Find(0, "Norway")->begin), 1u);
  EXPECT_EQ(c.ClauseOf(r->Find(0, "Chile")->begin), 2u);
  EXPECT_EQ(t[r->Find(0, "Chile")->begin].key, "chile");
}

TEST(Clauses, ReportersBeforeAfterAndAccordingTo) {
  auto r = RunStages(
      "Kenya backed the plan, the foreign ministry said. Norway opposed it, according to "
      "diplomatic sources. \"We back it,\" said the Chilean foreign minister.");
  ASSERT_EQ(r->sentences.size(), 3u);
  ASSERT_EQ(r->sentences[0].clauses.reports.size(), 1u);
  const Report& said = r->sentences[0].clauses.reports[0];
  EXPECT_EQ(r->Words(said.np_begin, said.np_end), "the foreign ministry");
  ASSERT_GE(said.mention, 0);  // an anaphor, resolved to the sentence's subject
  EXPECT_EQ(r->Id(r->sentences[0].mentions.list[said.mention].actor), "KEN");
  ASSERT_EQ(r->sentences[1].clauses.reports.size(), 1u);
  const Report& according = r->sentences[1].clauses.reports[0];
  EXPECT_TRUE(according.according_to);
  EXPECT_TRUE(according.voice);
  EXPECT_EQ(r->Words(according.np_begin, according.np_end), "diplomatic sources");
  ASSERT_EQ(r->sentences[2].clauses.reports.size(), 1u);
  const Report& inverted = r->sentences[2].clauses.reports[0];
  EXPECT_EQ(r->Words(inverted.np_begin, inverted.np_end), "the Chilean foreign minister");
  EXPECT_EQ(r->Id(r->sentences[2].mentions.list[inverted.mention].actor), "CHL");
  EXPECT_TRUE(r->sentences[2].clauses.IsReportToken(inverted.begin));
}

TEST(Clauses, AnalystsAreNoActors) {
  auto r = RunStages("Analysts said Kenya would back the plan.");
  ASSERT_EQ(r->sentences[0].clauses.reports.size(), 1u);
  EXPECT_TRUE(r->sentences[0].clauses.reports[0].nonactor);
  EXPECT_TRUE(r->sentences[0].assignments.assigned.empty());  // speculation, no stance
}

TEST(Clauses, RelativeAsideAndSubjectBefore) {
  auto r = RunStages("Kenya, which met Norway, backed the support of Chile.");
  const auto& t = r->item.doc.tokens;
  const uint32_t e = r->item.doc.sentences[0].end_token;
  const uint32_t met = 3, backed = 6;
  ASSERT_EQ(t[met].key, "met");
  ASSERT_EQ(t[backed].key, "backed");
  EXPECT_TRUE(InRelativeAside(t, 0, e, met));
  EXPECT_FALSE(InRelativeAside(t, 0, e, backed));
  EXPECT_TRUE(SubjectBefore(testing::TestKnowledge(), r->sentences[0].mentions,
                            r->sentences[0].clauses, backed));
}

TEST(Clauses, VerbGroups) {
  auto r = RunStages("Kenya would not have backed it, and Norway had opposed it.");
  const auto& t = r->item.doc.tokens;
  const uint32_t backed = 4, opposed = 10;
  ASSERT_EQ(t[backed].key, "backed");
  ASSERT_EQ(t[opposed].key, "opposed");
  VerbGroup g = VerbGroupBefore(t, 0, backed);
  EXPECT_EQ(r->Words(g.begin, backed), "would not have");
  EXPECT_EQ(g.modal, H("would"));
  EXPECT_TRUE(g.negated);
  EXPECT_TRUE(g.perfect);
  EXPECT_FALSE(g.past_perfect);
  g = VerbGroupBefore(t, 0, opposed);
  EXPECT_TRUE(g.past_perfect);
  EXPECT_FALSE(g.negated);
  EXPECT_EQ(VerbGroupBefore(t, 0, 0).begin, 0u);  // nothing before the sentence
}

TEST(Clauses, SubordinateTypes) {
  auto r = RunStages(
      "if unless after in exchange for in return for because although in order to as long as in");
  const auto& t = r->item.doc.tokens;
  const uint32_t e = static_cast<uint32_t>(t.size());
  uint32_t n = 0;
  EXPECT_EQ(SubordinateType(t, 0, e, &n), ClauseType::kCondition);
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(SubordinateType(t, 1, e, &n), ClauseType::kCondition);
  EXPECT_EQ(SubordinateType(t, 2, e, &n), ClauseType::kTime);
  EXPECT_EQ(SubordinateType(t, 3, e, &n), ClauseType::kExchange);
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(SubordinateType(t, 6, e, &n), ClauseType::kExchange);
  EXPECT_EQ(SubordinateType(t, 9, e, &n), ClauseType::kCause);
  EXPECT_EQ(SubordinateType(t, 10, e, &n), ClauseType::kConcession);
  EXPECT_EQ(SubordinateType(t, 11, e, &n), ClauseType::kPurpose);
  EXPECT_EQ(SubordinateType(t, 14, e, &n), ClauseType::kCondition);
  EXPECT_EQ(SubordinateType(t, 17, e, &n), ClauseType::kNone);  // a lone "in"
  EXPECT_EQ(n, 0u);
  EXPECT_STREQ(ClauseTypeName(ClauseType::kPurpose), "purpose");
}

}  // namespace
}  // namespace stancewire::extraction
