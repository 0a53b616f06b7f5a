#include "common/json_lines.h"

#include <gtest/gtest.h>

#include <sstream>

#include "stancewire/v1/stance.pb.h"

namespace stancewire {
namespace {

using Result = JsonLinesReader::Result;

TEST(JsonLinesReaderTest, ReadsItemsSkipsBlankLinesAndCountsLines) {
  std::istringstream in(
      "{\"id\":\"a\",\"text\":\"x\",\"published\":\"2025-10-16T00:00:00Z\"}\n\n"
      "{\"id\":\"b\"}\r\n");
  JsonLinesReader reader(in, {});
  v1::NewsItem item;
  std::string error;
  ASSERT_EQ(reader.Next(&item, &error), Result::kMessage);
  EXPECT_EQ(item.id(), "a");
  EXPECT_EQ(item.published().seconds(), 1760572800);
  ASSERT_EQ(reader.Next(&item, &error), Result::kMessage);
  EXPECT_EQ(item.id(), "b");
  EXPECT_EQ(reader.line_number(), 3u);
  EXPECT_EQ(reader.Next(&item, &error), Result::kEnd);
}

TEST(JsonLinesReaderTest, MalformedLineNamesItsNumberAndReaderGoesOn) {
  std::istringstream in("{\"id\":\"a\"}\n{not json\n{\"id\":\"c\"}\n");
  JsonLinesReader reader(in, {});
  v1::NewsItem item;
  std::string error;
  ASSERT_EQ(reader.Next(&item, &error), Result::kMessage);
  ASSERT_EQ(reader.Next(&item, &error), Result::kError);
  EXPECT_EQ(error.rfind("line 2:", 0), 0u) << error;
  ASSERT_EQ(reader.Next(&item, &error), Result::kMessage);
  EXPECT_EQ(item.id(), "c");
}

TEST(JsonLinesReaderTest, UnknownFieldsAreRefusedUnlessIgnored) {
  const std::string line = "{\"id\":\"a\",\"stances\":[]}\n";
  {
    std::istringstream in(line);
    JsonLinesReader reader(in, {});
    v1::NewsItem item;
    std::string error;
    EXPECT_EQ(reader.Next(&item, &error), Result::kError);
    EXPECT_NE(error.find("stances"), std::string::npos) << error;
  }
  {
    std::istringstream in(line);
    JsonLinesReader::Options options;
    options.ignore_unknown_fields = true;
    JsonLinesReader reader(in, options);
    v1::NewsItem item;
    std::string error;
    EXPECT_EQ(reader.Next(&item, &error), Result::kMessage);
  }
}

TEST(JsonLinesReaderTest, OverlongLineIsRefusedWithoutBufferingIt) {
  std::string big = "{\"id\":\"" + std::string(5000, 'x') + "\"}\n{\"id\":\"ok\"}\n";
  std::istringstream in(big);
  JsonLinesReader::Options options;
  options.max_line_bytes = 1000;
  JsonLinesReader reader(in, options);
  v1::NewsItem item;
  std::string error;
  ASSERT_EQ(reader.Next(&item, &error), Result::kError);
  EXPECT_NE(error.find("longer than 1000 bytes"), std::string::npos) << error;
  ASSERT_EQ(reader.Next(&item, &error), Result::kMessage);
  EXPECT_EQ(item.id(), "ok");
}

}  // namespace
}  // namespace stancewire

namespace stancewire {
namespace {

TEST(JsonLinesReaderTest, InvalidUtf8IsReportedByColumnWithoutEchoingIt) {
  std::istringstream in("{\"id\":\"a\",\"text\":\"bad \xff byte\"}\n");
  JsonLinesReader reader(in, {});
  v1::NewsItem item;
  std::string error;
  ASSERT_EQ(reader.Next(&item, &error), JsonLinesReader::Result::kError);
  EXPECT_EQ(error, "line 1: not valid UTF-8 (first bad byte at column 23)");
}

// A message the JSON mapping cannot print (a Timestamp out of range) is refused whole: protobuf
// would leave half a line behind.
TEST(ToJsonLineTest, RefusesAMessageItCannotPrint) {
  v1::Stance stance;
  stance.set_id("s");
  std::string line, error;
  ASSERT_TRUE(ToJsonLine(stance, &line, &error)) << error;
  EXPECT_EQ(line, "{\"id\":\"s\"}");
  stance.mutable_published()->set_seconds(INT64_MAX);
  EXPECT_FALSE(ToJsonLine(stance, &line, &error));
  EXPECT_EQ(line, "");
  EXPECT_FALSE(error.empty());
  EXPECT_EQ(ToJsonLine(stance), "");
}

}  // namespace
}  // namespace stancewire
