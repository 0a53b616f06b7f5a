// Unit tests for the condition stage (extraction/stages/conditions.h), on sentences of our own.
#include "extraction/stages/conditions.h"

#include <gtest/gtest.h>

#include "tests/extraction/stage_runner.h"

namespace stancewire::extraction {
namespace {

using testing::RunStages;

TEST(Conditions, SpanRunsToTheEndOfTheClause) {
  auto r =
      RunStages("Kenya will join only if the UN Security Council authorises it, Nairobi said.");
  const ConditionSpans& cs = r->sentences[0].conditions;
  ASSERT_EQ(cs.spans.size(), 1u);
  EXPECT_EQ(r->Words(cs.spans[0].begin, cs.spans[0].end), "the UN Security Council authorises it");
  EXPECT_TRUE(cs.in_condition[cs.spans[0].begin]);
  EXPECT_FALSE(cs.in_condition[cs.spans[0].trigger_begin]);  // the trigger's own words
}

TEST(Conditions, KindsPerPart) {
  auto r = RunStages("the UN Security Council approves it and the troops leave");
  std::vector<ConditionHit> hits;
  std::vector<std::string> patterns;
  const auto& t = r->item.doc.tokens;
  ClassifyConditions(testing::TestKnowledge().lex, t, 0, static_cast<uint32_t>(t.size()), true,
                     &hits, &patterns);
  ASSERT_EQ(hits.size(), 2u);  // split at "and"
  EXPECT_EQ(hits[0].kind, "UN_MANDATE");
  EXPECT_EQ(r->Words(hits[1].begin, hits[1].end), "the troops leave");
  EXPECT_FALSE(patterns.empty());
  EXPECT_EQ(patterns[0].rfind("UN_MANDATE (conditions/kinds.tsv:", 0), 0u);
}

TEST(Conditions, ShortUntypedConjunctJoinsTheNextPart) {
  // "the nightly shelling" names no kind and has no verb: it shares "end" with the next part
  auto r = RunStages("the nightly shelling and the air strikes end");
  std::vector<ConditionHit> hits;
  std::vector<std::string> patterns;
  const auto& t = r->item.doc.tokens;
  ClassifyConditions(testing::TestKnowledge().lex, t, 0, static_cast<uint32_t>(t.size()), false,
                     &hits, &patterns);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].kind, "CEASEFIRE");
  EXPECT_EQ(r->Words(hits[0].begin, hits[0].end), "the nightly shelling and the air strikes end");
}

TEST(Conditions, AttachToTheHolderOfTheCue) {
  auto r = RunStages("Kenya will send troops only if the UN Security Council authorises it.");
  const auto& attached = r->sentences[0].attached;
  ASSERT_EQ(r->item.contributions.size(), 1u);
  EXPECT_EQ(r->item.contributions[0].position, v1::POSITION_CONDITIONAL);
  EXPECT_EQ(r->Id(r->item.contributions[0].actor), "KEN");
  for (const Attached& a : attached) EXPECT_EQ(a.actor, -1);  // consumed by the contribution
}

TEST(Conditions, WeakTriggerNeedsAKnownKind) {
  auto r = RunStages("Kenya will send troops once the mission ends.");
  ASSERT_EQ(r->item.contributions.size(), 1u);
  EXPECT_EQ(r->item.contributions[0].position, v1::POSITION_SUPPORT);
}

}  // namespace
}  // namespace stancewire::extraction
