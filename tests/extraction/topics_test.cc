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

// The item's dominant topic key, "" when it has none.
std::string DominantKey(const std::string& text) {
  ItemTopics t = TopicsOf(text);
  return t.dominant >= 0 ? t.keys[t.dominant].first : "";
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
  const std::string key = DominantKey("Kenya backed a stabilisation force for Tonga.");
  EXPECT_NE(key, "");
  EXPECT_EQ(key, DominantKey("Kenya backed a stabilization force for Tonga."));
}

TEST(Topics, AGenericDescriptionAloneIsNoSharedTopic) {
  ItemTopics t = TopicsOf("Kenya backed the peace deal. Norway welcomed the peace deal.");
  ASSERT_GE(t.sentence_topic[0], 0);  // the sentence still names it
  EXPECT_EQ(t.dominant, -1);          // but the item keeps a key of its own
}

TEST(Topics, ClausesAboutHamasLayingDownArmsNameItsDisarmament) {
  // the Gaza force is named once, the disarmament three times in clause form
  EXPECT_EQ(DominantKey("Chile said Hamas must disarm before talks on the ISF. Peru warned that "
                        "Hamas does not disarm in time. Kenya pressed for Hamas's full "
                        "disarmament."),
            "hamas-disarmament");
  EXPECT_EQ(DominantKey("Norway urged Hezbollah's complete disarmament."), "hezbollah-disarmament");
}

TEST(Topics, AnInternationalForceForHaitiIsTheSecurityMission) {
  EXPECT_EQ(DominantKey("Kenya offered police for an international force to Haiti."),
            "haiti-multinational-security-support-mission");
  EXPECT_EQ(DominantKey("Chile doubted that a mission to Haiti could work."),
            "haiti-multinational-security-support-mission");
}

TEST(Topics, PeacekeepersForGazaAreTheStabilisationForce) {
  // as "peacekeepers to Ukraine" is the Ukraine reassurance force
  EXPECT_EQ(DominantKey("Chile will not send peacekeepers to Gaza this year."),
            "gaza-international-stabilization-force");
}

TEST(Topics, TheSdfJoiningSyriasInstitutionsIsOneKnownProposal) {
  EXPECT_EQ(DominantKey("Damascus and the Kurdish-led SDF agreed to merge the SDF into the army."),
            "sdf-integration-into-syrian-state");
  EXPECT_EQ(DominantKey("Ankara told the group to keep its word and integrate into Syria's state "
                        "structures before winter."),
            "sdf-integration-into-syrian-state");
}

TEST(Topics, ANuclearDealWithIranIsNotByItselfThe2015Deal) {
  // a new deal sought years later is no JCPOA; the 2015 deal keeps its own names
  EXPECT_NE(DominantKey("Chile hopes for a nuclear deal with Iran by the summer."),
            "iran-nuclear-deal");
  EXPECT_EQ(DominantKey("Chile still backs the JCPOA."), "iran-nuclear-deal");
}

TEST(Topics, AProposalNamedTwiceInOneSentenceCountsOnce) {
  // "the reparations loan based on frozen Russian assets" matches two names of one proposal in
  // one noun phrase: it weighs as much as the 90 billion euro loan named first, which wins the tie
  EXPECT_EQ(DominantKey("Peru backed the €90 billion loan for Ukraine. Chile said the reparations "
                        "loan based on frozen Russian assets was unworkable."),
            "eu-ukraine-90-billion-loan");
}

TEST(Topics, ArmsSalesToTaiwanAreOneKnownProposal) {
  EXPECT_EQ(DominantKey("Peru said any arms sale to Taiwan was a matter for Washington."),
            "us-arms-sales-to-taiwan");
}

TEST(Topics, InstitutionsAreActorsNotTopics) {
  ItemTopics t = TopicsOf("The UN Security Council met.");
  EXPECT_EQ(t.dominant, -1);
}

}  // namespace
}  // namespace stancewire::extraction
