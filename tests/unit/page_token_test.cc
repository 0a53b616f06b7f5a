#include "query-service/page_token.h"

#include <gtest/gtest.h>

namespace stancewire::query {
namespace {

TEST(PageTokenTest, RoundTripsCursor) {
  PageTokenCodec codec("secret");
  std::string token = codec.Encode(StanceCursor{1760572800000000000,
                                                "abc\x1f"
                                                "def"},
                                   "filters");
  std::string error;
  auto state = codec.Decode(token, "filters", &error);
  ASSERT_TRUE(state) << error;
  EXPECT_EQ(state->cursor.published_nanos, 1760572800000000000);
  EXPECT_EQ(state->cursor.id,
            "abc\x1f"
            "def");
  EXPECT_EQ(state->total, -1);
}

TEST(PageTokenTest, RoundTripsOffsetAndTotal) {
  PageTokenCodec codec("secret");
  std::string token = codec.Encode(PageState{{-5, ""}, 150, 1234}, "f");
  std::string error;
  auto state = codec.Decode(token, "f", &error);
  ASSERT_TRUE(state) << error;
  EXPECT_EQ(state->cursor.published_nanos, -5);
  EXPECT_EQ(state->cursor.id, "");
  EXPECT_EQ(state->offset, 150);
  EXPECT_EQ(state->total, 1234);
}

TEST(PageTokenTest, RefusesTokensFromAnotherKeyAsNotIssuedHere) {
  // A restart with a random key makes old tokens fail the signature, with a hint why.
  std::string token = PageTokenCodec("before restart").Encode(StanceCursor{5, "id"}, "f");
  std::string error;
  EXPECT_FALSE(PageTokenCodec("after restart").Decode(token, "f", &error));
  EXPECT_NE(error.find("restart"), std::string::npos) << error;
}

TEST(PageTokenTest, RefusesTokenForOtherFilters) {
  PageTokenCodec codec("secret");
  std::string token = codec.Encode(StanceCursor{5, "id"}, "actor=AZE");
  std::string error;
  EXPECT_FALSE(codec.Decode(token, "actor=TUR", &error));
  EXPECT_NE(error.find("different filters"), std::string::npos) << error;
}

TEST(PageTokenTest, RefusesEditedAndForeignTokens) {
  PageTokenCodec codec("secret");
  std::string token = codec.Encode(StanceCursor{5, "id"}, "f");
  std::string error;
  std::string edited = token;
  edited[3] = edited[3] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(codec.Decode(edited, "f", &error));
  EXPECT_NE(error.find("signature"), std::string::npos) << error;
  PageTokenCodec other("another key");
  EXPECT_FALSE(other.Decode(token, "f", &error));
  EXPECT_FALSE(codec.Decode("not base64 !!", "f", &error));
  EXPECT_NE(error.find("malformed"), std::string::npos) << error;
  EXPECT_FALSE(codec.Decode("", "f", &error));
}

}  // namespace
}  // namespace stancewire::query
