// Unit tests for the cue stage (extraction/stages/cues.h), on sentences of our own.
#include "extraction/stages/cues.h"

#include <gtest/gtest.h>

#include "tests/extraction/stage_runner.h"

namespace stancewire::extraction {
namespace {

using testing::RunStages;

// "ACTOR POSITION rule" for each assignment of sentence si.
std::vector<std::string> Held(const testing::StageRun& r, uint32_t si) {
  std::vector<std::string> out;
  for (const Assigned& a : r.sentences[si].assignments.assigned) {
    out.push_back(r.Id(a.actor) + " " + v1::Position_Name(a.position) + " " + a.rule);
  }
  return out;
}

TEST(Cues, SubjectHoldsAndNegationFlips) {
  auto r = RunStages("Kenya backed the plan. Norway did not back it.");
  EXPECT_EQ(Held(*r, 0), (std::vector<std::string>{"KEN POSITION_SUPPORT subject name"}));
  EXPECT_EQ(Held(*r, 1), (std::vector<std::string>{"NOR POSITION_OPPOSE subject name"}));
}

TEST(Cues, AnIndirectQuestionIsUndecided) {
  auto r =
      RunStages("Kenya is deciding whether to join the force. Norway said Chile will join it.");
  EXPECT_EQ(Held(*r, 0), (std::vector<std::string>{"KEN POSITION_UNDECIDED subject name"}));
  EXPECT_EQ(Held(*r, 1), (std::vector<std::string>{"CHL POSITION_SUPPORT subject name"}));
}

TEST(Cues, ConjunctsAndPassiveAgents) {
  auto r = RunStages("Kenya and Norway backed the plan. The force was backed by Chile.");
  EXPECT_EQ(Held(*r, 0), (std::vector<std::string>{"NOR POSITION_SUPPORT subject name",
                                                   "KEN POSITION_SUPPORT conjunct subject name"}));
  EXPECT_EQ(Held(*r, 1), (std::vector<std::string>{"CHL POSITION_SUPPORT passive agent"}));
}

TEST(Cues, PossessivePronounOwnsAStanceNounWhenItFits) {
  auto r = RunStages(
      "Norway restated its opposition to the quota. Chile's president reaffirmed his opposition "
      "to the levy. Kenya's president regrets its refusal.");
  EXPECT_EQ(Held(*r, 0),
            (std::vector<std::string>{"NOR POSITION_OPPOSE owner of the stance noun (its)"}));
  EXPECT_EQ(Held(*r, 1),
            (std::vector<std::string>{"CHL POSITION_OPPOSE owner of the stance noun (his)"}));
  EXPECT_TRUE(Held(*r, 2).empty());  // "its" is another state, not the president
}

TEST(Cues, CriticismOfAnActorTakesNoStance) {
  auto r = RunStages("Kenya condemned Somalia's raids. Norway condemned the levy.");
  EXPECT_TRUE(Held(*r, 0).empty());
  EXPECT_EQ(Held(*r, 1), (std::vector<std::string>{"NOR POSITION_OPPOSE subject name"}));
}

TEST(Cues, TrailingReporter) {
  auto r = RunStages("The plan deserves backing, the Kenyan foreign minister said.");
  ASSERT_EQ(r->sentences[0].assignments.assigned.size(), 1u);
  EXPECT_EQ(r->Id(r->sentences[0].assignments.assigned[0].actor), "KEN");
  EXPECT_EQ(r->sentences[0].assignments.assigned[0].rule, "reporter role noun");
}

TEST(Cues, NoCueInsideAMention) {
  auto r = RunStages("Kenya backed it.");
  const auto& cues = r->sentences[0].cues;
  ASSERT_EQ(cues.size(), 1u);
  EXPECT_EQ(r->Words(cues[0].begin, cues[0].end), "backed");
  EXPECT_EQ(r->sentences[0].assignments.FirstHolder(), r->Find(0, "Kenya")->actor);
}

TEST(Cues, AnIntensifierStandsInsideACue) {
  auto r = RunStages(
      "Norway voted overwhelmingly in favour of the quota. Kenya is strongly opposed to it.");
  EXPECT_EQ(Held(*r, 0), (std::vector<std::string>{"NOR POSITION_SUPPORT subject name"}));
  EXPECT_EQ(r->Words(r->sentences[0].cues[0].begin, r->sentences[0].cues[0].end),
            "voted overwhelmingly in favour");
  EXPECT_EQ(Held(*r, 1), (std::vector<std::string>{"KEN POSITION_OPPOSE subject name"}));
}

TEST(Cues, ThePartiesToADealReached) {
  auto r = RunStages(
      "Chile reached a deal with Peru on the quota. Chile is keen to reach a deal with Kenya. "
      "Norway and Kenya failed to reach an agreement on the levy.");
  EXPECT_EQ(Held(*r, 0), (std::vector<std::string>{"CHL POSITION_SUPPORT subject name",
                                                   "PER POSITION_SUPPORT partner in the deal"}));
  // a deal wished for commits only the one who wishes it
  EXPECT_EQ(Held(*r, 1), (std::vector<std::string>{"CHL POSITION_SUPPORT subject name"}));
  for (const auto& a : r->sentences[2].assignments.assigned) EXPECT_TRUE(a.neutral);
}

TEST(Cues, DecliningToSayIsNoRefusal) {
  auto r = RunStages(
      "Norway declined to say if its troops would stay. Kenya declined to say whether it would "
      "join the force. Chile declined the offer.");
  EXPECT_TRUE(Held(*r, 0).empty());
  EXPECT_EQ(Held(*r, 1), (std::vector<std::string>{"KEN POSITION_UNDECIDED subject name"}));
  EXPECT_EQ(Held(*r, 2), (std::vector<std::string>{"CHL POSITION_OPPOSE subject name"}));
}

TEST(Cues, ACompanionSetOffByCommasSharesTheStance) {
  auto r = RunStages(
      "Chile, together with Peru and Kenya, proposed a joint patrol. The Chilean president, along "
      "with his Kenyan counterpart, rejected the levy.");
  EXPECT_EQ(Held(*r, 0),
            (std::vector<std::string>{"CHL POSITION_SUPPORT subject name",
                                      "PER POSITION_SUPPORT companion of the holder",
                                      "KEN POSITION_SUPPORT companion of the holder"}));
  EXPECT_EQ(Held(*r, 1), (std::vector<std::string>{"CHL POSITION_OPPOSE subject role noun",
                                                   "KEN POSITION_OPPOSE companion of the holder"}));
}

TEST(Cues, EveryActorACountedGroupStandsForHolds) {
  auto r = RunStages("Chile, Peru and Ghana met in Lima. The three countries rejected the levy.");
  EXPECT_EQ(Held(*r, 1), (std::vector<std::string>{"CHL POSITION_OPPOSE subject group anaphor",
                                                   "PER POSITION_OPPOSE subject group anaphor",
                                                   "GHA POSITION_OPPOSE subject group anaphor"}));
}

TEST(Cues, AListMissingOneCommaStillListsTheHolders) {
  auto r = RunStages(
      "The countries which have accepted the invitation are Chile Peru, Ghana and Kenya.");
  EXPECT_EQ(Held(*r, 0), (std::vector<std::string>{"CHL POSITION_SUPPORT list after the cue",
                                                   "PER POSITION_SUPPORT list after the cue",
                                                   "GHA POSITION_SUPPORT list after the cue",
                                                   "KEN POSITION_SUPPORT list after the cue"}));
}

TEST(Cues, ThoseTheHolderJoinsInACueHoldItToo) {
  auto r = RunStages(
      "Chile has joined Peru and Ghana in voicing opposition to the levy. Kenya joined Norway in "
      "backing the patrol. Kenya joined Norway at the talks.");
  EXPECT_EQ(Held(*r, 0), (std::vector<std::string>{"CHL POSITION_OPPOSE subject name",
                                                   "PER POSITION_OPPOSE joined by the holder",
                                                   "GHA POSITION_OPPOSE joined by the holder"}));
  EXPECT_EQ(Held(*r, 1), (std::vector<std::string>{"KEN POSITION_SUPPORT subject name",
                                                   "NOR POSITION_SUPPORT joined by the holder"}));
  EXPECT_EQ(Held(*r, 2), (std::vector<std::string>{"KEN POSITION_SUPPORT subject name"}));
}

TEST(Cues, CoSponsorsAfterByArePassiveAgents) {
  auto r = RunStages("The amendment was proposed by Chile and co-sponsored by Peru.");
  EXPECT_EQ(Held(*r, 0), (std::vector<std::string>{"CHL POSITION_SUPPORT passive agent",
                                                   "PER POSITION_SUPPORT passive agent"}));
}

TEST(Cues, AMiddleInitialAndABulletDoNotHideTheHolder) {
  auto r = RunStages(
      "Chilean Deputy Defense Minister Ana M. Rojas, who also attended the forum in Lima, "
      "rejected the proposal.\n• Peru continues to block the levy.");
  EXPECT_EQ(Held(*r, 0), (std::vector<std::string>{"CHL POSITION_OPPOSE antecedent role noun"}));
  EXPECT_EQ(Held(*r, 1), (std::vector<std::string>{"PER POSITION_OPPOSE subject name"}));
}

TEST(Cues, AWordBuiltOnACueIsNoCue) {
  auto r = RunStages(
      "The troop-contributing countries, including Kenya and Chad, backed the plan. Chile "
      "attended a summit of troop-contributing nations. Yemen's internationally recognised "
      "government rejected the truce.");
  EXPECT_EQ(Held(*r, 0), (std::vector<std::string>{"TCD POSITION_SUPPORT subject name",
                                                   "KEN POSITION_SUPPORT conjunct subject name"}));
  EXPECT_TRUE(Held(*r, 1).empty());
  EXPECT_EQ(Held(*r, 2), (std::vector<std::string>{"YEM POSITION_OPPOSE subject role noun"}));
}

TEST(Cues, ANameAfterItsDescriptorIsTheSubject) {
  auto r = RunStages("The Yemeni rebel movement Ansar Allah rejected the truce.");
  EXPECT_EQ(Held(*r, 0), (std::vector<std::string>{"HOUTHIS POSITION_OPPOSE subject name"}));
}

TEST(Cues, PartnersTheHolderWorksWithShareItsAim) {
  auto r =
      RunStages("Chile is coordinating with Peru and Kenya to promote a resolution on the patrol.");
  EXPECT_EQ(Held(*r, 0),
            (std::vector<std::string>{"CHL POSITION_SUPPORT subject name",
                                      "PER POSITION_SUPPORT companion of the holder",
                                      "KEN POSITION_SUPPORT companion of the holder"}));
}

TEST(Cues, AnEvaluationAgainstAPlanIsOpposition) {
  auto r = RunStages(
      "Chile and Kenya deem the quota too ambitious. The levy is fundamentally flawed, the "
      "Norwegian "
      "foreign minister said.");
  EXPECT_EQ(Held(*r, 0), (std::vector<std::string>{"KEN POSITION_OPPOSE subject name",
                                                   "CHL POSITION_OPPOSE conjunct subject name"}));
  EXPECT_EQ(Held(*r, 1), (std::vector<std::string>{"NOR POSITION_OPPOSE reporter role noun"}));
}

TEST(Cues, BackInAPhrasalVerbIsNoBacking) {
  auto r = RunStages("Norway's army pulled back from the border. Kenya backed away from the levy.");
  for (int si = 0; si < 2; ++si) {
    for (const auto& a : r->sentences[si].assignments.assigned) EXPECT_TRUE(a.neutral);
  }
}

TEST(Cues, APatronBacksAForceNotAPlan) {
  auto r = RunStages(
      "The Kenya-backed political and military force rejected the levy. Norway praised the "
      "Kenya-backed plan.");
  EXPECT_TRUE(Held(*r, 0).empty());  // no holder: the force is no actor, and Kenya is its patron
  EXPECT_EQ(Held(*r, 1), (std::vector<std::string>{"NOR POSITION_SUPPORT subject name",
                                                   "KEN POSITION_SUPPORT compound (X-backed)"}));
}

}  // namespace
}  // namespace stancewire::extraction
