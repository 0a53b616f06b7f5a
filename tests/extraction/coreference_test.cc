// Unit tests for the coreference stage (extraction/stages/coreference.h), on texts of our own.
#include "extraction/stages/coreference.h"

#include <gtest/gtest.h>

#include "tests/extraction/stage_runner.h"

namespace stancewire::extraction {
namespace {

using testing::RunStages;

TEST(Coreference, PronounInTheSentenceTakesTheLastSubject) {
  auto r = RunStages("Kenya said it would back the plan.");
  EXPECT_EQ(r->Id(r->Find(0, "it")->actor), "KEN");
}

TEST(Coreference, AcrossSentencesTheSalientActor) {
  auto r = RunStages("Norway backed the plan. It also said the country would pay.");
  EXPECT_EQ(r->Id(r->discourse_before[1].salient_actor), "NOR");
  EXPECT_EQ(r->Id(r->Find(1, "It")->actor), "NOR");
  EXPECT_EQ(r->Id(r->Find(1, "the country")->actor), "NOR");  // an anaphor
}

TEST(Coreference, APronounReachesBackTwoSentencesAtMost) {
  auto r = RunStages(
      "Norway backed the patrol. The patrol is small. Its ships are old. It has one base. It "
      "would need more ships.");
  EXPECT_EQ(r->Id(r->Find(3, "It")->actor), "NOR");  // two sentences after Norway held a stance
  EXPECT_EQ(r->Id(r->Find(4, "It")->actor), "-");    // three: the patrol, not Norway
}

TEST(Coreference, TheyStandsForTheList) {
  auto r = RunStages("Kenya and Norway said they would back the plan.");
  const Mention* they = r->Find(0, "they");
  ASSERT_TRUE(they);
  EXPECT_GE(they->antecedent, 0);
}

TEST(Coreference, QuotedWeIsTheSpeaker) {
  auto r = RunStages("\"We will back the force,\" the Chilean foreign minister said.");
  EXPECT_EQ(r->Describe(0, "We"), "first-person pronoun (quoted speaker) CHL");
}

TEST(Coreference, AReporterAfterAQuotationRefersPastIt) {
  auto r = RunStages(
      "Kenya's foreign ministry issued a statement. \"We reject any plan that sidelines "
      "Norway,\" the ministry said.");
  EXPECT_EQ(r->Describe(1, "the ministry"), "anaphor KEN");  // not Norway, named in the quote
  EXPECT_EQ(r->Describe(1, "We"), "first-person pronoun (quoted speaker) KEN");
}

TEST(Coreference, ALaterSurnameIsThePersonNamedInFull) {
  auto r = RunStages(
      "Chilean Defence Minister Ana Rojas met her counterparts. \"We will help,\" Rojas said. "
      "She added that the plan was sound.");
  EXPECT_EQ(r->Describe(1, "Rojas"), "person CHL");
  EXPECT_EQ(r->Describe(1, "We"), "first-person pronoun (quoted speaker) CHL");
  EXPECT_EQ(r->Describe(2, "She"), "personal pronoun CHL");
}

TEST(Coreference, ASurnameTwoStatesShareStaysUnresolved) {
  auto r = RunStages(
      "Chilean Defence Minister Ana Rojas met Peruvian Foreign Minister Luis Rojas. Rojas said "
      "nothing.");
  for (const Mention& m : r->sentences[1].mentions.list)
    EXPECT_NE(r->Words(m.begin, m.end), "Rojas");
}

TEST(Coreference, SalienceFallsBackToTheFirstSubject) {
  auto r = RunStages("Norway met Kenya on Monday. It later backed the plan.");
  EXPECT_EQ(r->Id(r->discourse_before[1].salient_actor), "NOR");
  Discourse d;
  UpdateSalience(testing::TestKnowledge(), -1, r->sentences[0].mentions, &d);
  EXPECT_EQ(r->Id(d.salient_actor), "NOR");
}

TEST(Coreference, ACountedGroupStandsForAListOfThatSize) {
  auto r = RunStages(
      "Ministers of Chile, Peru and Ghana met in Lima. Kenya and Norway sent observers. The three "
      "countries agreed to a joint patrol. The two sides said nothing.");
  const Mention* three = r->Find(2, "The three countries");
  ASSERT_TRUE(three);
  EXPECT_EQ(three->kind, MentionKind::kGroupAnaphor);
  ASSERT_GE(three->group, 0);
  std::vector<std::string> ids;
  for (int a : r->sentences[2].mentions.groups[three->group]) ids.push_back(r->Id(a));
  EXPECT_EQ(ids, (std::vector<std::string>{"CHL", "PER", "GHA"}));  // not the later pair
  const Mention* two = r->Find(3, "The two sides");
  ASSERT_TRUE(two);
  ASSERT_GE(two->group, 0);
  EXPECT_EQ(r->sentences[3].mentions.groups[two->group].size(), 2u);
  EXPECT_EQ(r->Id(two->actor), "KEN");
}

TEST(Coreference, ACountedGroupWithoutAListOfItsSizeStaysUnresolved) {
  auto r = RunStages("Chile and Peru met in Lima. The five countries agreed to a joint patrol.");
  EXPECT_EQ(r->Describe(1, "The five countries"), "group anaphor -");
  auto far = RunStages(
      "Chile and Peru met in Lima. The talks were long. The port is old. The roads are new. The "
      "hotels are full. The two countries agreed to a joint patrol.");
  EXPECT_EQ(far->Describe(5, "The two countries"), "group anaphor -");  // five sentences back
}

}  // namespace
}  // namespace stancewire::extraction
