// Unit tests for the condition stage (extraction/stages/conditions.h), on sentences of our own.
#include "extraction/stages/conditions.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

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

TEST(Conditions, AListOfRequirementsAfterTheMainClauseRunsPastItsCommas) {
  auto r = RunStages(
      "Kenya will join the force only if the fighting ends, the militias leave the port and "
      "the UN pays for it, Nairobi said.");
  const ConditionSpans& cs = r->sentences[0].conditions;
  ASSERT_EQ(cs.spans.size(), 1u);
  EXPECT_EQ(r->Words(cs.spans[0].begin, cs.spans[0].end),
            "the fighting ends, the militias leave the port and the UN pays for it");
  // a condition before its main clause ends at the comma, and so does a part with a subject
  // and a verb of its own
  for (const char* text : {"If the UN approves it, Kenya will send troops, trucks and money.",
                           "Kenya will join if the UN approves it, Uganda will send trucks and "
                           "Tanzania will send money."}) {
    auto before = RunStages(text);
    const ConditionSpans& b = before->sentences[0].conditions;
    ASSERT_EQ(b.spans.size(), 1u) << text;
    EXPECT_EQ(before->Words(b.spans[0].begin, b.spans[0].end), "the UN approves it") << text;
  }
}

// The kinds of a whole text read as one condition span, with the explained patterns.
struct Classified {
  std::unique_ptr<testing::StageRun> run;
  std::vector<ConditionHit> hits;
  std::vector<std::string> patterns;
};
Classified Classify(const std::string& text) {
  Classified c{RunStages(text), {}, {}};
  const auto& t = c.run->item.doc.tokens;
  ClassifyConditions(testing::TestKnowledge().lex, t, 0, static_cast<uint32_t>(t.size()), true,
                     &c.hits, &c.patterns);
  return c;
}

TEST(Conditions, ConditionsListedAfterAColon) {
  auto r = RunStages("Kenya set two conditions: a UN Security Council mandate and full funding.");
  const ConditionSpans& cs = r->sentences[0].conditions;
  ASSERT_EQ(cs.spans.size(), 1u);
  EXPECT_EQ(r->Words(cs.spans[0].begin, cs.spans[0].end),
            "a UN Security Council mandate and full funding");
}

TEST(Conditions, KindsPerPart) {
  Classified c = Classify("the UN Security Council approves it and the troops leave");
  ASSERT_EQ(c.hits.size(), 2u);  // split at "and"
  EXPECT_EQ(c.hits[0].kind, "UN_MANDATE");
  EXPECT_EQ(c.run->Words(c.hits[1].begin, c.hits[1].end), "the troops leave");
  ASSERT_FALSE(c.patterns.empty());
  EXPECT_EQ(c.patterns[0].rfind("UN_MANDATE (conditions/kinds.tsv:", 0), 0u);
}

TEST(Conditions, ShortUntypedConjunctJoinsTheNextPart) {
  // "the nightly shelling" names no kind and has no verb: it shares "end" with the next part
  Classified c = Classify("the nightly shelling and the air strikes end");
  ASSERT_EQ(c.hits.size(), 1u);
  EXPECT_EQ(c.hits[0].kind, "CEASEFIRE");
  EXPECT_EQ(c.run->Words(c.hits[0].begin, c.hits[0].end),
            "the nightly shelling and the air strikes end");
}

TEST(Conditions, AttachToTheHolderOfTheCue) {
  auto r = RunStages("Kenya will send troops only if the UN Security Council authorises it.");
  const auto& attached = r->sentences[0].attached;
  ASSERT_EQ(r->item.contributions.size(), 1u);
  EXPECT_EQ(r->item.contributions[0].position, v1::POSITION_CONDITIONAL);
  EXPECT_EQ(r->Id(r->item.contributions[0].actor), "KEN");
  for (const Attached& a : attached) EXPECT_EQ(a.actor, -1);  // consumed by the contribution
}

TEST(Conditions, AReporterHoldsARequirementOfAKnownKindInItsWords) {
  auto before = RunStages("Kenya said the force must be fully under UN supervision.");
  ASSERT_EQ(before->item.contributions.size(), 1u);
  EXPECT_EQ(before->Id(before->item.contributions[0].actor), "KEN");
  EXPECT_EQ(before->item.contributions[0].position, v1::POSITION_CONDITIONAL);
  auto after = RunStages("\"The force must be under UN supervision,\" the Kenyan minister said.");
  ASSERT_EQ(after->item.contributions.size(), 1u);
  EXPECT_EQ(after->Id(after->item.contributions[0].actor), "KEN");
  // a clause with a holder of its own is not the reporter's; an OTHER requirement is no condition
  auto own = RunStages("Kenya said Norway must be under UN supervision.");
  for (const auto& c : own->item.contributions) EXPECT_NE(own->Id(c.actor), "KEN");
  EXPECT_TRUE(RunStages("Kenya said the force must be small.")->item.contributions.empty());
}

TEST(Conditions, WeakTriggerNeedsAKnownKind) {
  auto r = RunStages("Kenya will send troops once the mission ends.");
  ASSERT_EQ(r->item.contributions.size(), 1u);
  EXPECT_EQ(r->item.contributions[0].position, v1::POSITION_SUPPORT);
}

TEST(Conditions, AdverbFirstBeforeATriggerMarksAPrecondition) {
  // no position cue: the adverb makes "need" hold for the speaker
  auto r = RunStages("\"First, we need a new ceasefire,\" the Kenyan foreign minister said.");
  ASSERT_EQ(r->item.contributions.size(), 1u);
  EXPECT_EQ(r->item.contributions[0].position, v1::POSITION_CONDITIONAL);
  EXPECT_EQ(r->Id(r->item.contributions[0].actor), "KEN");
  // the adjective is no precondition
  auto adjective = RunStages(
      "Kenya became the first country to pledge troops at the first summit when the mission ends.");
  ASSERT_EQ(adjective->item.contributions.size(), 1u);
  EXPECT_EQ(adjective->item.contributions[0].position, v1::POSITION_SUPPORT);
}

TEST(Conditions, AnIndirectQuestionIsNoCondition) {
  auto asked = RunStages("Kenya backed the force but was asked if it would send troops to Haiti.");
  ASSERT_EQ(asked->item.contributions.size(), 1u);
  EXPECT_EQ(asked->item.contributions[0].position, v1::POSITION_SUPPORT);
  // a conditional in what is said stays one
  auto said =
      RunStages("Kenya said if the UN Security Council authorises it, it will send troops.");
  bool conditional = false;
  for (const auto& c : said->item.contributions)
    conditional |= c.position == v1::POSITION_CONDITIONAL && c.conditions.size() == 1;
  EXPECT_TRUE(conditional);
}

}  // namespace
}  // namespace stancewire::extraction
