// Unit tests for the mentions stage (extraction/stages/mentions.h), on sentences of our own.
#include "extraction/stages/mentions.h"

#include <gtest/gtest.h>

#include "tests/extraction/stage_runner.h"

namespace stancewire::extraction {
namespace {

using testing::RunStages;

TEST(Mentions, NamesRolesAndMetonyms) {
  auto r = RunStages("The Kenyan foreign minister said Oslo and Norway's government backed it.");
  const auto& list = r->sentences[0].mentions.list;
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(r->Describe(0, "The Kenyan foreign minister"), "role noun KEN");
  EXPECT_EQ(r->Describe(0, "Oslo"), "metonym NOR");
  EXPECT_EQ(r->Describe(0, "Norway's government"), "role noun NOR");
  EXPECT_EQ(r->Find(0, "it")->kind, MentionKind::kPronoun);
}

TEST(Mentions, ModifiersAreNeverHolders) {
  auto r = RunStages("Kenya's economy and a Norwegian proposal grew.");
  const Mention* kenya = r->Find(0, "Kenya's");
  ASSERT_TRUE(kenya);
  EXPECT_TRUE(kenya->possessive_other);
  const Mention* proposal = r->Find(0, "a Norwegian proposal");
  ASSERT_TRUE(proposal);
  EXPECT_TRUE(proposal->proposal);
}

TEST(Mentions, RoleOfName) {
  auto r = RunStages("The foreign minister of Kenya spoke.");
  EXPECT_EQ(r->Describe(0, "The foreign minister of Kenya"), "role noun KEN");
}

TEST(Mentions, AMissionIsABodyOnlyAsADiplomaticMission) {
  auto r = RunStages(
      "Norway said a Kenyan peacekeeping mission could be sent. Kenya's mission to the UN said "
      "so.");
  // a proposal, not a body: Norway is the sentence's only mention
  ASSERT_EQ(r->sentences[0].mentions.list.size(), 1u);
  EXPECT_EQ(r->Describe(0, "Norway"), "name NOR");
  EXPECT_EQ(r->Describe(1, "Kenya's mission to the UN"), "role noun KEN");
}

TEST(Mentions, AStanceNounThatIsACueLeavesItToTheCueStage) {
  auto r = RunStages("Kenya's position is clear, and Norway's support for it is firm.");
  EXPECT_EQ(r->Find(0, "Kenya's position")->kind, MentionKind::kStanceNoun);
  const Mention* norway = r->Find(0, "Norway's");
  ASSERT_TRUE(norway);  // "support" is a SUPPORT cue, read with its owner
  EXPECT_TRUE(norway->possessive_other);
  ASSERT_EQ(r->item.contributions.size(), 1u);
  EXPECT_EQ(r->Id(r->item.contributions[0].actor), "NOR");
  EXPECT_EQ(r->item.contributions[0].position, v1::POSITION_SUPPORT);
}

TEST(Mentions, ABodyWithoutItsStateIsNoMention) {
  auto r =
      RunStages("National Security Council spokesman Jan Berg said Kenya's Security Council met.");
  for (const Mention& m : r->sentences[0].mentions.list) EXPECT_NE(r->Id(m.actor), "UN");
}

TEST(Mentions, IndexesByToken) {
  auto r = RunStages("Kenya and Norway met.");
  const SentenceMentions& m = r->sentences[0].mentions;
  EXPECT_EQ(m.EndingAt(0), 0);
  EXPECT_EQ(m.CoveringAt(1), -1);  // "and"
  EXPECT_EQ(m.EndingAt(2), 1);
  EXPECT_EQ(ListFrom(r->item.doc.tokens, m.list, 0), (std::vector<int>{0, 1}));
}

}  // namespace
}  // namespace stancewire::extraction
