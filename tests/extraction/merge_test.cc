// Unit tests for the merge stage (extraction/stages/merge.h), on texts of our own.
#include "extraction/stages/merge.h"

#include <gtest/gtest.h>

#include "tests/extraction/stage_runner.h"

namespace stancewire::extraction {
namespace {

std::vector<v1::Stance> Merge(const std::string& text) {
  auto r = testing::RunStages(text);
  v1::NewsItem item;
  item.set_id("merge-1");
  item.set_text(text);
  ItemTopics topics;
  FindTopics(testing::TestKnowledge(), r->item.doc, &topics);
  return MergeStances(testing::TestKnowledge(), item, r->item.doc, topics, r->item.contributions,
                      true);
}

TEST(Merge, OneStancePerActorTheFirstSentenceDecides) {
  auto s = Merge("Kenya backed the plan. Kenya opposed parts of it. Norway opposed it.");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].actor().id(), "KEN");
  EXPECT_EQ(s[0].position(), v1::POSITION_SUPPORT);
  EXPECT_EQ(s[0].evidence().text(), "Kenya backed the plan.");
  EXPECT_EQ(s[0].explanation().cues_size(), 2);
  EXPECT_EQ(s[1].actor().id(), "NOR");
  EXPECT_EQ(s[1].topic(), "item-merge-1");
}

TEST(Merge, AnyConditionMakesItConditional) {
  auto s = Merge(
      "Kenya backed the plan. Kenya will send troops only if the UN Security Council "
      "authorises it.");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].position(), v1::POSITION_CONDITIONAL);
  ASSERT_EQ(s[0].conditions_size(), 1);
  EXPECT_EQ(s[0].conditions(0).kind(), "UN_MANDATE");
}

TEST(Merge, ItemTopicKey) { EXPECT_EQ(ItemTopicKey("AB_12.x"), "item-ab-12-x"); }

}  // namespace
}  // namespace stancewire::extraction
