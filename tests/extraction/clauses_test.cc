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

}  // namespace
}  // namespace stancewire::extraction
