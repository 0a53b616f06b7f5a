// The fast JSON paths of `ingest-service extract` against protobuf's own, which they must match
// byte for byte (or decline, leaving the line or message to protobuf).
#include "ingest-service/extract_json.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "common/json_lines.h"

namespace stancewire::ingest {
namespace {

std::string Protobuf(const v1::Stance& s) { return ToJsonLine(s); }

// Strings that exercise protobuf's escaping: quotes, controls, HTML characters, separators,
// invisible and non-BMP code points, and plain news text.
const std::vector<std::string> kStrings = {
    "",
    "plain text",
    "quote \" backslash \\ slash /",
    "controls \x01\x1f\t\n\r\b\f\x7f",
    "<b>&amp;</b> 'single'",
    "\xe2\x80\x9c"
    "curly"
    "\xe2\x80\x9d \xe2\x80\x94 dash \xe2\x80\x99s",
    "\xe2\x80\xa8 line sep \xe2\x80\xa9 para sep",
    "soft\xc2\xadhyphen zero\xe2\x80\x8bwidth bom\xef\xbb\xbf",
    "T\xc3\xbcrkiye \xd8\xa7\xd9\x84\xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a\xd8\xa9 "
    "\xe4\xb8\xad\xe5\x9b\xbd",
    "emoji \xf0\x9f\x98\x80 tag \xf3\xa0\x80\x81",
};

TEST(IngestExtractJsonTest, StanceWriterMatchesProtobuf) {
  StanceJsonWriter writer;
  std::vector<v1::Stance> stances;
  for (const std::string& s : kStrings) {
    v1::Stance st;
    st.set_id(s);
    st.set_item_id("item " + s);
    st.mutable_actor()->set_mention(s);
    st.set_topic(s);
    st.set_position(v1::POSITION_CONDITIONAL);
    auto* c = st.add_conditions();
    c->set_kind("UN_MANDATE");
    c->set_text(s);
    c->set_end(static_cast<uint32_t>(s.size()));
    st.add_conditions();
    st.set_attribution(s);
    st.mutable_evidence()->set_text(s);
    st.mutable_evidence()->set_start(4000000000u);
    st.set_speaker(s);
    st.set_confidence(0.85f);
    st.mutable_explanation()->add_cues(s);
    st.mutable_explanation()->add_cues("");
    stances.push_back(st);
  }
  v1::Stance empty;
  stances.push_back(empty);
  v1::Stance parts;
  parts.mutable_actor();  // present but empty: {}
  parts.mutable_explanation();
  parts.set_position(static_cast<v1::Position>(17));  // unknown enum value
  parts.mutable_published()->set_seconds(1760572800);
  parts.mutable_published()->set_nanos(500000000);
  stances.push_back(parts);
  for (float f : {-0.0f, 1.0f, 0.1f, 1e-7f, 0.3333333f, 123456789.0f,
                  std::numeric_limits<float>::infinity(), std::nanf("")}) {
    v1::Stance s;
    s.set_confidence(f);
    stances.push_back(s);
  }
  for (const v1::Stance& s : stances) {
    std::string out = "prefix";
    ASSERT_TRUE(writer.Append(s, &out));
    EXPECT_EQ(out, "prefix" + Protobuf(s)) << s.DebugString();
  }
  v1::Stance bad;
  bad.mutable_published()->set_seconds(std::numeric_limits<int64_t>::max());
  std::string out = "kept";
  EXPECT_FALSE(writer.Append(bad, &out));
  EXPECT_EQ(out, "kept");
}

TEST(IngestExtractJsonTest, NewsItemParserMatchesProtobufOrDeclines) {
  const std::vector<std::string> lines = {
      R"({"id":"a","text":"France backs the plan.","published":"2025-10-16T00:00:00Z"})",
      R"( { "id" : "b" , "url":"u","outlet":"o","title":"t","language":"en","text":"x" } )",
      R"({"id":"c","text":"esc \" \\ \/ \b \f \n \r \t \u00e9 \u2028 A"})",
      R"({})",
      R"({"id":"d","text":"emoji \ud83d\ude00"})",
      R"({"id":"e","extra":1})",
      R"({"id":"f","id":"g"})",
      R"({"id":"h","text":null})",
      R"({"id":"i",})",
      R"({"id":"j"} x)",
      R"({"id":"k","published":"bad"})",
      R"({"id":"l","published":"2025-10-16T00:00:00.5+01:00"})",
      R"([1])",
  };
  // Timestamps: the fast parser must agree with protobuf on every one, accepted or not.
  const std::vector<std::string> stamps = {
      "2025-10-16T00:00:00Z",
      "2025-10-16T23:59:59.123456789Z",
      "2024-02-29T12:00:00-05:30",
      "2025-02-29T00:00:00Z",
      "0001-01-01T00:00:00Z",
      "9999-12-31T23:59:59.999999999Z",
      "0000-01-01T00:00:00Z",
      "2025-10-16t00:00:00z",
      "2025-10-16T00:00:00",
      "2025-10-16",
      "2025-10-16T24:00:00Z",
      "2025-10-16T00:00:60Z",
      "2025-10-16T00:00:00.1234567890Z",
      "\\u0032025-10-16T00:00:00Z",
      " 2025-10-16T00:00:00Z",
      "",
      "1969-12-31T23:59:59.5Z",
      "2025-13-01T00:00:00Z",
  };
  for (const std::string& stamp : stamps) {
    const std::string line = R"({"id":"t","published":")" + stamp + R"("})";
    v1::NewsItem fast, slow;
    bool ok = ParseNewsItemFast(line, &fast);
    bool proto_ok = google::protobuf::util::JsonStringToMessage(line, &slow).ok();
    EXPECT_EQ(ok, proto_ok) << line;
    if (ok) {
      EXPECT_EQ(fast.SerializeAsString(), slow.SerializeAsString()) << line;
    }
  }
  for (const std::string& line : lines) {
    v1::NewsItem fast, slow;
    bool ok = ParseNewsItemFast(line, &fast);
    bool proto_ok = google::protobuf::util::JsonStringToMessage(line, &slow).ok();
    if (ok) {
      EXPECT_TRUE(proto_ok) << line;
      EXPECT_EQ(fast.SerializeAsString(), slow.SerializeAsString()) << line;
    }
  }
  v1::NewsItem item;
  EXPECT_TRUE(ParseNewsItemFast(lines[0], &item));
  EXPECT_EQ(item.published().seconds(), 1760572800);
  EXPECT_FALSE(ParseNewsItemFast(lines[5], &item));  // unknown field: protobuf decides
}

}  // namespace
}  // namespace stancewire::ingest
