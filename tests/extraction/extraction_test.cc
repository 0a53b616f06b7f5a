#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "extraction/actors.h"
#include "extraction/extractor.h"
#include "extraction/lexicons.h"
#include "extraction/phrases.h"
#include "extraction/text.h"

namespace stancewire::extraction {
namespace {

const std::string kData = STANCEWIRE_DATA_DIR;
const std::string kFixtures = std::string(STANCEWIRE_TEST_DIR) + "/fixtures/";

const Extractor& Shared() {
  static std::unique_ptr<Extractor> ex = [] {
    ExtractorConfig config;
    config.data_dir = kData;
    std::string error;
    auto e = Extractor::Load(config, &error);
    if (!e) ADD_FAILURE() << error;
    return e;
  }();
  return *ex;
}

v1::NewsItem Item(const std::string& text, const std::string& id = "t1") {
  v1::NewsItem item;
  item.set_id(id);
  item.set_outlet("Test Wire");
  item.set_url("https://example.org/" + id);
  item.set_text(text);
  item.mutable_published()->set_seconds(1760572800);  // 2025-10-16
  return item;
}

const v1::Stance* Find(const std::vector<v1::Stance>& stances, const std::string& name) {
  for (const auto& s : stances) {
    if (s.actor().name() == name) return &s;
  }
  return nullptr;
}

bool HasKind(const v1::Stance& s, const std::string& kind) {
  for (const auto& c : s.conditions()) {
    if (c.kind() == kind) return true;
  }
  return false;
}

// ---- text -------------------------------------------------------------------------------------

TEST(Text, TokensKeepByteOffsetsIntoTheOriginal) {
  std::string text =
      "Türkiye’s minister said \u201cno\u201d\u00a0— U.S.-backed plan, 20,000 troops.";
  auto tokens = Tokenize(text);
  for (const auto& t : tokens) {
    ASSERT_LE(t.end, text.size());
    ASSERT_LT(t.start, t.end);
  }
  EXPECT_EQ(tokens[0].key, "turkiye");
  EXPECT_EQ(text.substr(tokens[0].start, tokens[0].end - tokens[0].start), "Türkiye");
  EXPECT_EQ(tokens[1].key, "'s");
  bool saw_us = false, saw_number = false;
  for (const auto& t : tokens) {
    saw_us |= t.key == "u.s.";
    saw_number |= t.key == "20,000";
  }
  EXPECT_TRUE(saw_us);
  EXPECT_TRUE(saw_number);
}

TEST(Text, FoldKeyFoldsCaseDiacriticsAndApostrophes) {
  EXPECT_EQ(FoldKey("Çavuşoğlu"), "cavusoglu");
  EXPECT_EQ(FoldKey("Côte d’Ivoire"), "cote d'ivoire");
  EXPECT_EQ(FoldKey("ÉMIRATS"), "emirats");
}

TEST(Text, SplitsNegationClitic) {
  auto tokens = Tokenize("Paris won't join.");
  ASSERT_GE(tokens.size(), 4u);
  EXPECT_EQ(tokens[1].key, "wo");
  EXPECT_EQ(tokens[2].key, "n't");
}

TEST(Text, SentenceSplitterSurvivesAbbreviationsAndInitials) {
  SentenceSplitter splitter;
  splitter.abbreviations = {"gen", "no", "mr"};
  std::string text =
      "U.S. Vice President J.D. Vance met Gen. Smith at No. 10 on Monday. Mr. Jones said 2.5 "
      "percent was \"enough.\" The talks ended.\nA new paragraph";
  auto tokens = Tokenize(text);
  auto sentences = splitter.Split(text, tokens);
  ASSERT_EQ(sentences.size(), 4u);
  EXPECT_EQ(text.substr(sentences[0].start, sentences[0].end - sentences[0].start),
            "U.S. Vice President J.D. Vance met Gen. Smith at No. 10 on Monday.");
  EXPECT_EQ(text.substr(sentences[1].start, sentences[1].end - sentences[1].start),
            "Mr. Jones said 2.5 percent was \"enough.\"");
  EXPECT_EQ(text.substr(sentences[3].start, sentences[3].end - sentences[3].start),
            "A new paragraph");
}

TEST(Text, FindsInvalidUtf8) {
  EXPECT_EQ(FindInvalidUtf8("plain"), std::string_view::npos);
  EXPECT_EQ(FindInvalidUtf8("ok \xC3\xA9 then \xFF"), 11u);
  EXPECT_EQ(FindInvalidUtf8("\xED\xA0\x80"), 0u);  // surrogate
  EXPECT_EQ(FindInvalidUtf8("\xC0\xAF"), 0u);      // overlong
}

// ---- phrases ----------------------------------------------------------------------------------

TEST(Phrases, ExpandsAlternativesAndEmpty) {
  std::vector<std::vector<std::string>> out;
  std::string error;
  ASSERT_TRUE(ExpandPhrase("has|have _|not yet decided", &out, &error)) << error;
  EXPECT_EQ(out.size(), 4u);
  PhraseMatcher m;
  for (size_t i = 0; i < out.size(); ++i) m.Add(out[i], 7);
  auto tokens = Tokenize("Rome has not yet decided");
  auto hit = m.Longest(tokens, 1, tokens.size());
  EXPECT_EQ(hit.length, 4u);
}

TEST(Phrases, QuotationMarksInsideAPhraseAreSkipped) {
  std::vector<std::vector<std::string>> out;
  std::string error;
  ASSERT_TRUE(ExpandPhrase("a great victory", &out, &error)) << error;
  PhraseMatcher m;
  m.Add(out[0], 3);
  auto tokens = Tokenize("Lima called it a \u201cgreat victory\u201d today");
  auto hit = m.Longest(tokens, 3, tokens.size());
  EXPECT_EQ(hit.length, 4u);  // a, the opening quote, great, victory: not the closing quote
  EXPECT_EQ(m.Longest(tokens, 4, tokens.size()).length, 0u);  // no phrase starts at a quote
}

TEST(Phrases, MarkedTokensInsideAPhraseAreSkippedOnlyWhereNoPhraseGoesOn) {
  std::vector<std::vector<std::string>> out;
  std::string error;
  ASSERT_TRUE(ExpandPhrase("voted in favour", &out, &error)) << error;
  ASSERT_TRUE(ExpandPhrase("voted firmly", &out, &error)) << error;
  PhraseMatcher m;
  m.Add(out[0], 1);
  m.Add(out[1], 2);
  m.SkipInside(1u << 20);
  auto tokens = Tokenize("Lima voted overwhelmingly in favour; Quito voted firmly");
  for (auto& t : tokens) t.cls = t.key == "overwhelmingly" || t.key == "firmly" ? 1u << 20 : 0;
  auto hit = m.Longest(tokens, 1, tokens.size());
  EXPECT_EQ(hit.length, 4u);  // voted, the skipped adverb, in, favour
  EXPECT_EQ((*hit.payloads)[0], 1u);
  hit = m.Longest(tokens, 7, tokens.size());
  EXPECT_EQ(hit.length, 2u);  // "firmly" is a word of this phrase, matched, not skipped
  EXPECT_EQ((*hit.payloads)[0], 2u);
  PhraseMatcher plain;  // without SkipInside, the adverb ends the phrase
  plain.Add(out[0], 1);
  EXPECT_EQ(plain.Longest(tokens, 1, tokens.size()).length, 0u);
}

// ---- actor dictionary -------------------------------------------------------------------------

TEST(Actors, LoadsAndResolvesAliases) {
  Actors actors;
  std::string error;
  ASSERT_TRUE(actors.Load({kFixtures + "actors_small.tsv"}, &error)) << error;
  ASSERT_NE(actors.Resolve("Baku"), nullptr);
  EXPECT_EQ(actors.Resolve("Baku")->name, "Azerbaijan");
  EXPECT_EQ(actors.Resolve("the United States")->id, "USA");
  EXPECT_EQ(actors.Resolve("Turkiye")->id, "TUR");
  EXPECT_EQ(actors.Resolve("TÜRKIYE")->id, "TUR");
  EXPECT_EQ(actors.Resolve("US")->id, "USA");
  EXPECT_EQ(actors.Resolve("us"), nullptr);  // capitals-only alias is case-sensitive
  EXPECT_EQ(actors.Resolve("Fidan")->id, "TUR");
  EXPECT_EQ(actors.Resolve("aze")->id, "AZE");  // ids resolve too
  EXPECT_EQ(actors.Resolve("Atlantis"), nullptr);
}

TEST(Actors, ResolvesPeopleToTheirFullName) {
  Actors actors;
  std::string error;
  ASSERT_TRUE(actors.Load({kFixtures + "actors_small.tsv"}, &error)) << error;
  ASSERT_NE(actors.ResolvePerson("Fidan"), nullptr);
  EXPECT_EQ(*actors.ResolvePerson("Fidan"), "Hakan Fidan");
  EXPECT_EQ(*actors.ResolvePerson("hakan fidan"), "Hakan Fidan");
  EXPECT_EQ(*actors.ResolvePerson("Cavusoglu"), "Mevlüt Çavuşoğlu");  // diacritics folded
  EXPECT_EQ(actors.ResolvePerson("Turkey"), nullptr);                 // an actor, not a person
  EXPECT_EQ(actors.ResolvePerson("Atlantis"), nullptr);
}

TEST(Actors, GroupsListTheirMembers) {
  Actors actors;
  std::string error;
  ASSERT_TRUE(actors.Load({kFixtures + "actors_small.tsv"}, &error)) << error;
  const auto* pair = actors.Resolve("the Caspian pair");
  ASSERT_NE(pair, nullptr);
  const auto& members = actors.members(static_cast<uint32_t>(pair - &actors.record(0)));
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(actors.record(members[0]).id, "AZE");
  EXPECT_EQ(actors.record(members[1]).id, "TUR");
  EXPECT_TRUE(actors.members(0).empty());
  Actors bad;
  EXPECT_FALSE(bad.Load({kFixtures + "actors_bad_member.tsv"}, &error));
  EXPECT_NE(error.find("actors_bad_member.tsv:3: unknown member 'ATL'"), std::string::npos)
      << error;
}

TEST(Actors, PersonsMapOnlyWhileInOffice) {
  Actors actors;
  std::string error;
  ASSERT_TRUE(actors.Load({kFixtures + "actors_small.tsv"}, &error)) << error;
  auto tokens = Tokenize("Cavusoglu said");
  EXPECT_TRUE(actors.Match("Cavusoglu said", tokens, 0, tokens.size(), 20200101).length);
  EXPECT_FALSE(actors.Match("Cavusoglu said", tokens, 0, tokens.size(), 20250101).length);
}

TEST(Actors, ErrorsNameFileAndLine) {
  Actors a;
  std::string error;
  EXPECT_FALSE(a.Load({kFixtures + "actors_bad_kind.tsv"}, &error));
  EXPECT_NE(error.find("actors_bad_kind.tsv:1:"), std::string::npos) << error;
  EXPECT_NE(error.find("planet"), std::string::npos) << error;
  Actors b;
  EXPECT_FALSE(b.Load({kFixtures + "actors_bad_type.tsv"}, &error));
  EXPECT_NE(error.find("actors_bad_type.tsv:3: unknown alias type 'capitol'"), std::string::npos)
      << error;
}

TEST(Actors, RealDictionaryLoadsFast) {
  auto start = std::chrono::steady_clock::now();
  ExtractorConfig config;
  config.data_dir = kData;
  std::string error;
  auto ex = Extractor::Load(config, &error);
  ASSERT_TRUE(ex) << error;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  EXPECT_LT(ms, 1000) << "Load took " << ms << " ms";
  EXPECT_EQ(ex->actors().Resolve("Baku")->id, "AZE");
  EXPECT_EQ(ex->actors().Resolve("Downing Street")->name, "United Kingdom");
}

TEST(Extractor, LoadFailsWithMessage) {
  ExtractorConfig config;
  config.data_dir = "/nonexistent";
  std::string error;
  EXPECT_EQ(Extractor::Load(config, &error), nullptr);
  EXPECT_FALSE(error.empty());
}

TEST(Lexicons, NumberWordsNeedAValueAndErrorsNameFileAndLine) {
  // a copy of the real data folder whose function_words.tsv gains one bad NUMBER line
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("stancewire_lexicons_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::copy(kData, dir, std::filesystem::copy_options::recursive);
  const std::filesystem::path words = dir / "lexicons" / "function_words.tsv";
  size_t lines = 0;
  {
    std::ifstream in(words);
    for (std::string line; std::getline(in, line);) ++lines;
  }
  std::ofstream(words, std::ios::app) << "NUMBER\tdozen=12|score\n";
  Lexicons lex;
  std::string error;
  EXPECT_FALSE(lex.Load(dir.string(), &error));
  EXPECT_NE(error.find("function_words.tsv:" + std::to_string(lines + 1) + ":"), std::string::npos)
      << error;
  EXPECT_NE(error.find("'score'"), std::string::npos) << error;
  std::filesystem::remove_all(dir);

  Lexicons real;
  ASSERT_TRUE(real.Load(kData, &error)) << error;
  EXPECT_EQ(real.NumberAt(Tokenize("eight")[0]), 8u);
  EXPECT_EQ(real.NumberAt(Tokenize("27")[0]), 27u);
  EXPECT_EQ(real.NumberAt(Tokenize("2025")[0]), 0u);  // a year counts nothing
  EXPECT_EQ(real.NumberAt(Tokenize("several")[0]), 0u);
}

// ---- extraction ------------------------------------------------------------------------------

// The founding article's facts, retold.
const char kFounding[] =
    "According to AnewZ, the United States has approached Azerbaijan with a proposal to join an "
    "international Stabilisation Force in Gaza.\n"
    "Sources say Baku has not yet made a final decision. Azerbaijan's position remains clear: any "
    "participation must be based on a United Nations Security Council resolution that provides "
    "international legitimacy and defines a clear mandate for the mission.\n"
    "Israeli media report that the idea was discussed between U.S. and Israeli officials.\n"
    "Baku coordinates with the Arab League, stressing that Arab states must first reach a unified "
    "vision for Gaza's future before outside actors become involved.";

TEST(Extractor, FoundingArticle) {
  auto stances = Shared().Extract(Item(kFounding));
  const auto* us = Find(stances, "United States");
  const auto* az = Find(stances, "Azerbaijan");
  ASSERT_NE(us, nullptr);
  ASSERT_NE(az, nullptr);
  EXPECT_EQ(us->position(), v1::POSITION_SUPPORT);
  EXPECT_EQ(us->attribution(), "AnewZ");
  EXPECT_EQ(az->position(), v1::POSITION_CONDITIONAL);
  EXPECT_TRUE(HasKind(*az, "UN_MANDATE"));
  EXPECT_TRUE(HasKind(*az, "CLEAR_MANDATE"));
  EXPECT_TRUE(HasKind(*az, "REGIONAL_CONSENSUS"));
  EXPECT_EQ(Find(stances, "Israel"), nullptr);
  EXPECT_EQ(Find(stances, "Arab League"), nullptr);
  EXPECT_EQ(az->topic(), "gaza-international-stabilization-force");
}

TEST(Extractor, OffsetsIdsAndItemFields) {
  v1::NewsItem item = Item(kFounding, "item-42");
  auto a = Shared().Extract(item);
  auto b = Shared().Extract(item);
  ASSERT_FALSE(a.empty());
  ASSERT_EQ(a.size(), b.size());
  const std::string& text = item.text();
  for (size_t i = 0; i < a.size(); ++i) {
    const auto& s = a[i];
    EXPECT_EQ(s.id(), b[i].id());
    EXPECT_EQ(s.id().size(), 16u);
    EXPECT_EQ(s.item_id(), "item-42");
    EXPECT_EQ(s.outlet(), "Test Wire");
    EXPECT_EQ(s.url(), item.url());
    EXPECT_EQ(s.published().seconds(), item.published().seconds());
    EXPECT_EQ(text.substr(s.evidence().start(), s.evidence().end() - s.evidence().start()),
              s.evidence().text());
    for (const auto& c : s.conditions()) {
      EXPECT_EQ(text.substr(c.start(), c.end() - c.start()), c.text());
    }
    EXPECT_GE(s.confidence(), 0.0f);
    EXPECT_LE(s.confidence(), 1.0f);
  }
}

TEST(Extractor, ExplainsWhenAsked) {
  ExtractOptions options;
  options.explain = true;
  auto stances = Shared().Extract(Item(kFounding), options);
  const auto* az = Find(stances, "Azerbaijan");
  ASSERT_NE(az, nullptr);
  EXPECT_GT(az->explanation().cues_size(), 0);
  EXPECT_GT(az->explanation().holder_rules_size(), 0);
  EXPECT_GT(az->explanation().condition_patterns_size(), 0);
  auto plain = Shared().Extract(Item(kFounding));
  EXPECT_FALSE(Find(plain, "Azerbaijan")->has_explanation());
}

struct Case {
  const char* text;
  const char* actor;
  v1::Position position;
  const char* kind;  // a condition kind that must be present, or nullptr
};

class Constructions : public ::testing::TestWithParam<Case> {};

TEST_P(Constructions, Extracts) {
  const Case& c = GetParam();
  auto stances = Shared().Extract(Item(c.text));
  const auto* s = Find(stances, c.actor);
  ASSERT_NE(s, nullptr) << c.text;
  EXPECT_EQ(s->position(), c.position) << c.text;
  if (c.kind) {
    EXPECT_TRUE(HasKind(*s, c.kind)) << c.text;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Positions, Constructions,
    ::testing::Values(
        Case{"Ankara did not rule out a contribution to the force.", "Turkey",
             v1::POSITION_UNDECIDED, nullptr},
        Case{"Rome would only join if the Security Council authorised the mission.", "Italy",
             v1::POSITION_CONDITIONAL, "UN_MANDATE"},
        Case{"Jakarta is weighing the request.", "Indonesia", v1::POSITION_UNDECIDED, nullptr},
        Case{"Pretoria has not yet decided whether to take part.", "South Africa",
             v1::POSITION_UNDECIDED, nullptr},
        Case{"Canberra refused to send warships.", "Australia", v1::POSITION_OPPOSE, nullptr},
        Case{"Warsaw will not send troops, its prime minister said.", "Poland", v1::POSITION_OPPOSE,
             nullptr},
        Case{"The plan, backed by the United States, was unveiled on Monday.", "United States",
             v1::POSITION_SUPPORT, nullptr},
        Case{"The Turkish foreign minister said Ankara would join as long as a ceasefire holds.",
             "Turkey", v1::POSITION_CONDITIONAL, "CEASEFIRE"},
        Case{"A senior Emirati official said the UAE would probably not take part.",
             "United Arab Emirates", v1::POSITION_OPPOSE, nullptr},
        Case{"Pakistan's prime minister endorsed the mission.", "Pakistan", v1::POSITION_SUPPORT,
             nullptr},
        Case{"Egypt is ready to contribute provided that Israeli troops withdraw from the "
             "territory.",
             "Egypt", v1::POSITION_CONDITIONAL, "WITHDRAWAL"},
        Case{"Any deployment would need the approval of parliament, Greek officials said.",
             "Greece", v1::POSITION_CONDITIONAL, "DOMESTIC_APPROVAL"},
        Case{"Kenya, whose officers lead the mission, said it would stay only if funding arrives.",
             "Kenya", v1::POSITION_CONDITIONAL, "RESOURCES"},
        Case{"Sweden vetoed the proposal.", "Sweden", v1::POSITION_OPPOSE, nullptr},
        Case{"Germany and Spain backed the agreement.", "Spain", v1::POSITION_SUPPORT, nullptr},
        Case{"Hungary's government said it would vote against the target.", "Hungary",
             v1::POSITION_OPPOSE, nullptr}));

TEST(Extractor, MentionedOrMeetingActorsHaveNoStance) {
  auto stances = Shared().Extract(Item(
      "The United States approached Azerbaijan with a proposal to join the force. Israel discussed "
      "the idea with Egypt. Qatar met officials from Jordan."));
  EXPECT_NE(Find(stances, "United States"), nullptr);
  EXPECT_EQ(Find(stances, "Azerbaijan"), nullptr);
  EXPECT_EQ(Find(stances, "Israel"), nullptr);
  EXPECT_EQ(Find(stances, "Egypt"), nullptr);
  EXPECT_EQ(Find(stances, "Qatar"), nullptr);
  EXPECT_EQ(Find(stances, "Jordan"), nullptr);
}

TEST(Extractor, SpeakerAndAttributionStayDistinct) {
  auto stances = Shared().Extract(
      Item("Turkey is ready to join the force, Foreign Minister Hakan Fidan said, according to "
           "Turkish state media."));
  const auto* tr = Find(stances, "Turkey");
  ASSERT_NE(tr, nullptr);
  EXPECT_EQ(tr->speaker(), "Hakan Fidan");
  EXPECT_EQ(tr->attribution(), "Turkish state media");
  EXPECT_EQ(tr->outlet(), "Test Wire");
}

TEST(Extractor, ThreadSafe) {
  v1::NewsItem item = Item(kFounding, "threads");
  auto expected = Shared().Extract(item);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int i = 0; i < 50; ++i) {
        auto got = Shared().Extract(item);
        if (got.size() != expected.size()) {
          ++mismatches[k];
          continue;
        }
        for (size_t j = 0; j < got.size(); ++j) {
          if (got[j].SerializeAsString() != expected[j].SerializeAsString()) ++mismatches[k];
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

// ---- bad input ---------------------------------------------------------------------------------

TEST(ValidateItem, NamesTheProblem) {
  EXPECT_EQ(ValidateItem(Item("Fine."), 100), "");
  EXPECT_EQ(ValidateItem(Item(""), 100), "text is empty");
  EXPECT_EQ(ValidateItem(Item("ab\xFFz"), 100), "text is not valid UTF-8 at byte 2");
  EXPECT_EQ(ValidateItem(Item(std::string(200, 'a')), 100),
            "text is 200 bytes, over the limit of 100");
}

// published: protobuf's range, then the range stores keep exactly (1678..2262).
TEST(ValidateItem, NamesAPublicationTimeOutOfRange) {
  auto with = [](int64_t seconds, int32_t nanos) {
    auto item = Item("Fine.");
    item.mutable_published()->set_seconds(seconds);
    item.mutable_published()->set_nanos(nanos);
    return ValidateItem(item, 100);
  };
  EXPECT_EQ(with(1760572800, 0), "");
  EXPECT_EQ(with(-9214560000, 0), "");         // 1678-01-01T00:00:00Z
  EXPECT_EQ(with(9214646399, 999999999), "");  // the last nanosecond of 2261
  EXPECT_NE(with(INT64_MAX, 0)
                .find("published is not a valid timestamp (seconds "
                      "9223372036854775807"),
            std::string::npos);
  EXPECT_NE(with(0, -1).find("nanos -1"), std::string::npos);
  EXPECT_NE(with(0, 1000000000).find("nanos 1000000000"), std::string::npos);
  EXPECT_EQ(with(9214646400, 0),
            "published 2262-01-01T00:00:00Z is outside 1678-01-01T00:00:00Z..2262-01-01T00:00:00Z, "
            "the publication times stancewire stores");
  EXPECT_NE(with(-9214560001, 0).find("is outside"), std::string::npos);
}

TEST(BadInput, NeverCrashesAndStaysLinear) {
  const Extractor& ex = Shared();
  EXPECT_TRUE(ex.Extract(Item("")).empty());
  EXPECT_TRUE(ex.Extract(Item("Turkey backs \xFF\xFE the plan.")).empty());
  std::mt19937 rng(42);
  std::string garbage(1 << 20, '\0');
  for (auto& c : garbage) c = static_cast<char>(rng());
  ex.Extract(Item(garbage));
  // Linear, not a time budget (speed is for the benchmarks): four times the input may take at
  // most eight times as long (quadratic work would take sixteen), measured on the same machine in
  // the same run, for one long "sentence" without punctuation full of actors and cues and for a
  // multi-megabyte item.
  auto seconds = [&](const std::string& text) {
    auto start = std::chrono::steady_clock::now();
    ex.Extract(Item(text));
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  auto repeat = [](std::string_view unit, size_t bytes) {
    std::string out;
    while (out.size() < bytes) out += unit;
    return out;
  };
  const std::string clause = "Turkey backs Azerbaijan only if the council agrees ";
  const std::string paragraph = std::string(kFounding) + "\n";
  for (const auto& [unit, bytes] :
       {std::pair{clause, size_t{50000}}, std::pair{paragraph, size_t{10} << 20}}) {
    const double small = seconds(repeat(unit, bytes / 4));
    const double large = seconds(repeat(unit, bytes));
    EXPECT_LT(large, 8 * small + 0.05)
        << bytes << " bytes: " << large << " s, a quarter of it " << small << " s";
  }
}

}  // namespace
}  // namespace stancewire::extraction
