#include "common/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace stancewire {
namespace {

constexpr size_t kValid = std::string_view::npos;

TEST(FindInvalidUtf8Test, AcceptsWellFormedText) {
  EXPECT_EQ(FindInvalidUtf8(""), kValid);
  EXPECT_EQ(FindInvalidUtf8("Baku"), kValid);
  EXPECT_EQ(FindInvalidUtf8("Azerbaijan\u2019s \u201cposition\u201d \u2014 T\u00fcrkiye"), kValid);
  EXPECT_EQ(FindInvalidUtf8("\U0001F30D \xc2\xa0"), kValid);  // astral plane, NBSP
}

TEST(FindInvalidUtf8Test, NamesTheFirstBadByte) {
  EXPECT_EQ(FindInvalidUtf8("ab\xff"), 2u);
  EXPECT_EQ(FindInvalidUtf8("ab\xc3"), 2u);                // truncated at the end
  EXPECT_EQ(FindInvalidUtf8("a\xc3(b"), 1u);               // bad continuation
  EXPECT_EQ(FindInvalidUtf8("\xc0\xaf"), 0u);              // overlong '/'
  EXPECT_EQ(FindInvalidUtf8("\xe0\x80\xaf"), 0u);          // overlong, 3 bytes
  EXPECT_EQ(FindInvalidUtf8("x\xed\xa0\x80"), 1u);         // UTF-16 surrogate
  EXPECT_EQ(FindInvalidUtf8("\xf4\x90\x80\x80"), 0u);      // above U+10FFFF
  EXPECT_EQ(FindInvalidUtf8("ok \xe2\x80\x94 \x80"), 7u);  // lone continuation after a dash
}

}  // namespace
}  // namespace stancewire
