// Unit tests for the segmentation stage (extraction/stages/segmentation.h).
#include "extraction/stages/segmentation.h"

#include <gtest/gtest.h>

#include "tests/extraction/stage_runner.h"

namespace stancewire::extraction {
namespace {

// A text and its segmentation.
struct Segmented {
  explicit Segmented(std::string s) : text(std::move(s)) {
    doc.text = text;
    Segment(testing::TestKnowledge().lex, &doc);
  }
  std::string text;
  Document doc;
};

TEST(Segmentation, TokensCarryWordClassesAndSentencesTheirBytes) {
  Segmented s("Kenya backed the plan. Norway did not.\nOslo said so.");
  const Document& doc = s.doc;
  const std::string& text = s.text;
  ASSERT_EQ(doc.sentences.size(), 3u);
  EXPECT_EQ(doc.Bytes(doc.sentences[1].first_token, doc.sentences[1].end_token), "Norway did not.");
  EXPECT_EQ(text.substr(doc.sentences[2].start, doc.sentences[2].end - doc.sentences[2].start),
            "Oslo said so.");
  EXPECT_NE(doc.tokens[2].cls & kDeterminer, 0u);   // "the"
  EXPECT_NE(doc.tokens[0].cls & kStartsActor, 0u);  // "Kenya" starts an actor name
  EXPECT_EQ(doc.Bytes(3, 3), "");
}

TEST(Segmentation, AbbreviationsDoNotEndASentence) {
  EXPECT_EQ(Segmented("Gen. Smith said Kenya backed it. It did.").doc.sentences.size(), 2u);
}

TEST(Segmentation, PublicationDate) {
  v1::NewsItem item;
  EXPECT_EQ(PublicationDate(item), 0);
  item.mutable_published()->set_seconds(1760572800);  // 2025-10-16T00:00:00Z
  EXPECT_EQ(PublicationDate(item), 20251016);
}

}  // namespace
}  // namespace stancewire::extraction
