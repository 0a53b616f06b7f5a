#include "common/security.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

namespace stancewire {
namespace {

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(ReadTokenFileTest, TakesTheFirstLineTrimmed) {
  std::string token, error;
  ASSERT_TRUE(
      ReadTokenFile(WriteFile("token_ok", "  s3cr3t-delivery-token \r\nignored\n"), &token, &error))
      << error;
  EXPECT_EQ(token, "s3cr3t-delivery-token");
}

TEST(ReadTokenFileTest, NamesTheFileNeverItsContent) {
  std::string token, error;
  const std::string missing = ::testing::TempDir() + "token_missing";
  EXPECT_FALSE(ReadTokenFile(missing, &token, &error));
  EXPECT_EQ(error, missing + ": cannot be read");
  const std::string empty = WriteFile("token_empty", " \n");
  EXPECT_FALSE(ReadTokenFile(empty, &token, &error));
  EXPECT_EQ(error, empty + ": holds no token on its first line");
  const std::string two = WriteFile("token_two", "first-half second-half\n");
  EXPECT_FALSE(ReadTokenFile(two, &token, &error));
  EXPECT_EQ(error, two + ": the first line must hold the token alone");
  EXPECT_EQ(token, "");  // not left holding the line
}

}  // namespace
}  // namespace stancewire
