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
  const Mention* role = r->Find(0, "The Kenyan foreign minister");
  ASSERT_TRUE(role);
  EXPECT_EQ(role->kind, MentionKind::kRole);
  EXPECT_EQ(r->Id(role->actor), "KEN");
  const Mention* oslo = r->Find(0, "Oslo");
  ASSERT_TRUE(oslo);
  EXPECT_EQ(oslo->kind, MentionKind::kMetonym);
  EXPECT_EQ(r->Id(oslo->actor), "NOR");
  const Mention* gov = r->Find(0, "Norway's government");
  ASSERT_TRUE(gov);
  EXPECT_EQ(gov->kind, MentionKind::kRole);
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
  const Mention* m = r->Find(0, "The foreign minister of Kenya");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, MentionKind::kRole);
  EXPECT_EQ(r->Id(m->actor), "KEN");
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
