// Unit tests for extraction/clause_structure: each rule on short sentences, with the word
// classes the lexicons would give (set by hand here, so that the tests do not depend on data/).
#include "extraction/clause_structure.h"

#include <gtest/gtest.h>

#include <string>

#include "extraction/lexicons.h"

namespace stancewire::extraction {
namespace {

std::vector<Token> Tokens(const std::string& text) {
  std::vector<Token> t = Tokenize(text);
  for (Token& k : t) {
    if (k.key == "countries" || k.key == "nations" || k.key == "members") k.cls |= kGroupNoun;
    if (k.key == "group" || k.key == "movement") k.cls |= kPatronNoun;
    if (k.key == "the" || k.key == "its" || k.key == "several" || k.key == "current")
      k.cls |= kDeterminer;
    if (k.key == "," || k.key == "while" || k.key == "and" || k.key == "but")
      k.cls |= kSubjectBefore;
  }
  return t;
}

// Index of the first token whose key is `key`.
uint32_t At(const std::vector<Token>& t, const std::string& key, uint32_t from = 0) {
  for (uint32_t i = from; i < t.size(); ++i) {
    if (t[i].key == key) return i;
  }
  ADD_FAILURE() << "no token " << key;
  return 0;
}

TEST(ClauseStructure, ListSeparators) {
  auto t = Tokens("Kenya, Uganda, and Egypt as well as Chad or Mali");
  EXPECT_TRUE(ListSeparated(t, At(t, "kenya") + 1, At(t, "uganda")));
  EXPECT_TRUE(ListSeparated(t, At(t, "uganda") + 1, At(t, "egypt")));  // serial comma
  EXPECT_TRUE(ListSeparated(t, At(t, "egypt") + 1, At(t, "chad")));    // as well as
  const auto n = Tokens("Neither Kenya nor Uganda agreed.");
  EXPECT_TRUE(ListSeparated(n, At(n, "kenya") + 1, At(n, "uganda")));
  EXPECT_FALSE(ListSeparated(t, At(t, "chad") + 1, At(t, "mali")));  // "or" is a choice
}

TEST(ClauseStructure, ListAfterGroupSubject) {
  auto t = Tokens("Several countries, including Chile and Peru, backed it.");
  EXPECT_TRUE(ListAfterGroupSubject(t, 0, At(t, "chile")));
  t = Tokens("The plan was opposed by most nations, including the United States.");
  EXPECT_FALSE(ListAfterGroupSubject(t, 0, At(t, "united")));  // the group is an agent, late
  t = Tokens("Most voted yes, while 14 nations, including the United States, opposed it.");
  EXPECT_TRUE(ListAfterGroupSubject(t, 0, At(t, "united")));
  t = Tokens("Washington imposed sanctions on countries like Cuba.");
  EXPECT_FALSE(ListAfterGroupSubject(t, 0, At(t, "cuba")));  // an object, not a subject
  t = Tokens("A handful of nations \u2013 including Fiji and Tonga \u2013 have backed it.");
  EXPECT_TRUE(ListAfterGroupSubject(t, 0, At(t, "fiji")));  // dashes set the list off too
}

TEST(ClauseStructure, ClauseSharesSubject) {
  auto t = Tokens("Chile backed it but would not fund it");
  EXPECT_TRUE(ClauseSharesSubject(t, At(t, "but") + 1, At(t, "fund")));
  t = Tokens("Chile backed it, while nine members opposed it");
  EXPECT_FALSE(ClauseSharesSubject(t, At(t, "while") + 1, At(t, "opposed")));
  t = Tokens("Chile backed it but then also strongly rejected the fund");
  EXPECT_TRUE(ClauseSharesSubject(t, At(t, "but") + 1, At(t, "rejected")));
}

TEST(ClauseStructure, ModifiersBefore) {
  auto t = Tokens("Meanwhile the current Kremlin-friendly government said");
  // "the current Kremlin - friendly": five tokens, three modifiers
  EXPECT_EQ(ModifiersBefore(t, 0, At(t, "government")), 5u);
  t = Tokens("Officials said a government spokesman said");
  EXPECT_EQ(ModifiersBefore(t, 0, At(t, "government")), 0u);  // "a" is not kept
  EXPECT_EQ(ModifiersBefore(t, 0, 0), 0u);
}

TEST(ClauseStructure, MiddleInitial) {
  auto t = Tokens("Ana M. Rojas said");
  EXPECT_TRUE(MiddleInitial(t, At(t, "m"), t.size()));
  EXPECT_FALSE(MiddleInitial(t, At(t, "ana"), t.size()));
  EXPECT_FALSE(MiddleInitial(t, At(t, "m"), At(t, "rojas")));  // the name is past the end
  t = Tokens("Plan B. Rojas said");  // only the shape counts: a capital, a tight period, a name
  EXPECT_TRUE(MiddleInitial(t, At(t, "b"), t.size()));
  t = Tokens("Ana M. the envoy said");
  EXPECT_FALSE(MiddleInitial(t, At(t, "m"), t.size()));
}

TEST(ClauseStructure, DescriptorBefore) {
  auto t = Tokens("Later the Chilean rebel group Frente Sur said");
  EXPECT_EQ(DescriptorBefore(t, 0, At(t, "frente")), At(t, "the"));
  t = Tokens("The Peru-backed movement Frente Sur said");
  EXPECT_EQ(DescriptorBefore(t, 0, At(t, "frente")), 0u);  // a hyphenated modifier is one word
  t = Tokens("Chile, a group Frente Sur admires, said");
  EXPECT_EQ(DescriptorBefore(t, 0, At(t, "frente")), At(t, "a"));
  t = Tokens("Its supporters group Frente Sur said");  // no article opens the phrase
  EXPECT_EQ(DescriptorBefore(t, 0, At(t, "frente")), At(t, "frente"));
  t = Tokens("Chile and the Andean nations Peru and Bolivia said");  // not a group noun
  EXPECT_EQ(DescriptorBefore(t, 0, At(t, "peru")), At(t, "peru"));
}

TEST(ClauseStructure, NominalContinues) {
  auto t = Tokens("resistance to the loan; opposition welcomed it; objection is firm");
  EXPECT_TRUE(NominalContinues(t[At(t, "resistance") + 1]));
  EXPECT_FALSE(NominalContinues(t[At(t, "opposition") + 1]));
  EXPECT_TRUE(NominalContinues(t[At(t, "objection") + 1]));
}

}  // namespace
}  // namespace stancewire::extraction
