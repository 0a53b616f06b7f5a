// Unit tests for the topic stage (extraction/stages/topics.h), on texts of our own.
#include "extraction/stages/topics.h"

#include <gtest/gtest.h>

#include "tests/extraction/stage_runner.h"

namespace stancewire::extraction {
namespace {

ItemTopics TopicsOf(const std::string& text) {
  auto r = testing::RunStages(text);
  ItemTopics topics;
  FindTopics(testing::TestKnowledge(), r->item.doc, &topics);
  return topics;
}

TEST(Topics, NamesAndDescriptionsShareNormalisedKeys) {
  ItemTopics t = TopicsOf(
      "Kenya backed the Harbour Protection Force (HPF). Norway said the HPF was welcome. Chile "
      "met Peru.");
  ASSERT_EQ(t.sentence_topic.size(), 3u);
  ASSERT_GE(t.sentence_topic[0], 0);
  EXPECT_EQ(t.keys[t.sentence_topic[0]].first, "harbour-protection-force");
  EXPECT_EQ(t.sentence_topic[2], -1);
  EXPECT_EQ(t.dominant, t.sentence_topic[0]);
}

TEST(Topics, AKnownProposalOutranksGenericDescriptions) {
  // described three times, known once: the known proposal is the item's topic
  ItemTopics t = TopicsOf(
      "Kenya backed the fishing quota deal. Norway said the fishing quota deal was fair. Chile "
      "called the fishing quota deal a start. Peru welcomed the Mercosur deal.");
  ASSERT_GE(t.dominant, 0);
  EXPECT_EQ(t.keys[t.dominant].first, "eu-mercosur-agreement");
}

TEST(Topics, BritishSpellingFolds) {
  ItemTopics a = TopicsOf("Kenya backed a stabilisation force for Tonga.");
  ItemTopics b = TopicsOf("Kenya backed a stabilization force for Tonga.");
  ASSERT_GE(a.dominant, 0);
  ASSERT_GE(b.dominant, 0);
  EXPECT_EQ(a.keys[a.dominant].first, b.keys[b.dominant].first);
}

TEST(Topics, AGenericDescriptionAloneIsNoSharedTopic) {
  ItemTopics t = TopicsOf("Kenya backed the peace deal. Norway welcomed the peace deal.");
  ASSERT_GE(t.sentence_topic[0], 0);  // the sentence still names it
  EXPECT_EQ(t.dominant, -1);          // but the item keeps a key of its own
}

TEST(Topics, ClausesAboutHamasLayingDownArmsNameItsDisarmament) {
  // the Gaza force is named once, the disarmament three times in clause form
  ItemTopics t = TopicsOf(
      "Chile said Hamas must disarm before talks on the ISF. Peru warned that Hamas does not "
      "disarm in time. Kenya pressed for Hamas's full disarmament.");
  ASSERT_GE(t.dominant, 0);
  EXPECT_EQ(t.keys[t.dominant].first, "hamas-disarmament");
  ItemTopics u = TopicsOf("Norway urged Hezbollah's complete disarmament.");
  ASSERT_GE(u.dominant, 0);
  EXPECT_EQ(u.keys[u.dominant].first, "hezbollah-disarmament");
}

TEST(Topics, AnInternationalForceForHaitiIsTheSecurityMission) {
  ItemTopics a = TopicsOf("Kenya offered police for an international force to Haiti.");
  ItemTopics b = TopicsOf("Chile doubted that a mission to Haiti could work.");
  ASSERT_GE(a.dominant, 0);
  ASSERT_GE(b.dominant, 0);
  EXPECT_EQ(a.keys[a.dominant].first, "haiti-multinational-security-support-mission");
  EXPECT_EQ(b.keys[b.dominant].first, "haiti-multinational-security-support-mission");
}

TEST(Topics, PeacekeepersForGazaAreTheStabilisationForce) {
  // as "peacekeepers to Ukraine" is the Ukraine reassurance force
  ItemTopics t = TopicsOf("Chile will not send peacekeepers to Gaza this year.");
  ASSERT_GE(t.dominant, 0);
  EXPECT_EQ(t.keys[t.dominant].first, "gaza-international-stabilization-force");
}

TEST(Topics, InstitutionsAreActorsNotTopics) {
  ItemTopics t = TopicsOf("The UN Security Council met.");
  EXPECT_EQ(t.dominant, -1);
}

}  // namespace
}  // namespace stancewire::extraction
