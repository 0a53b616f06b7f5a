#include "common/byte_buffer.h"

#include <gtest/gtest.h>

#include <string>

#include "stancewire/v1/ingest.pb.h"
#include "stancewire/v1/query.pb.h"

namespace stancewire {
namespace {

// A length-delimited field as protobuf writes it (field numbers and lengths below 128).
std::string Field(int number, const std::string& body) {
  return std::string{static_cast<char>(number << 3 | 2), static_cast<char>(body.size())} + body;
}

grpc::ByteBuffer InSlices(const std::vector<std::string>& parts) {
  std::vector<grpc::Slice> slices;
  for (const auto& p : parts) slices.emplace_back(p);
  return grpc::ByteBuffer(slices.data(), slices.size());
}

TEST(ParseRequestTest, ParsesARequestThatCameInSeveralSlices) {
  v1::ExtractRequest sent;
  sent.mutable_item()->set_id("a1");
  sent.mutable_item()->set_text("Turkey backs the plan.");
  const std::string wire = sent.SerializeAsString();
  v1::ExtractRequest got;
  ASSERT_TRUE(ParseRequest(InSlices({wire.substr(0, 5), wire.substr(5)}), &got).ok());
  EXPECT_EQ(got.item().text(), "Turkey backs the plan.");
}

TEST(ParseRequestTest, NamesTheNestedStringFieldThatIsNotUtf8) {
  // item (1) { id (1) "u8", text (5) "Ankara said \xff\xfe no." }: what e2e_bad_input sends.
  const std::string wire = Field(1, Field(1, "u8") + Field(5, "Ankara said \xff\xfe no."));
  v1::ExtractRequest request;
  grpc::Status status = ParseRequest(wire, &request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "item.text is not valid UTF-8 (first bad byte at offset 12)");
  EXPECT_EQ(ParseRequest(InSlices({wire.substr(0, 3), wire.substr(3)}), &request).error_message(),
            "item.text is not valid UTF-8 (first bad byte at offset 12)");
}

TEST(ParseRequestTest, SaysWhenTheBytesAreNotProtobuf) {
  v1::ExtractRequest extract;
  EXPECT_EQ(ParseRequest(std::string("\xff\xff\xff\xff", 4), &extract).error_message(),
            "the request is not a valid protobuf message");
  // published_after (field 8) whose body is cut short.
  v1::ListStancesRequest list;
  EXPECT_EQ(ParseRequest(std::string("\x42\x02\x08\x96", 4), &list).error_message(),
            "published_after is not a valid protobuf message");
  EXPECT_EQ(DiagnoseUnparsable(*v1::ListStancesRequest::descriptor(), Field(6, "gaza")),
            "the request could not be parsed as a stancewire.v1.ListStancesRequest");
}

TEST(ByteBufferFromStringTest, TakesTheBytesOverWithoutCopying) {
  std::string bytes(4096, 'x');
  const char* data = bytes.data();
  grpc::ByteBuffer buffer = ByteBufferFromString(std::move(bytes));
  grpc::Slice slice;
  ASSERT_TRUE(ContiguousSlice(buffer, &slice));
  EXPECT_EQ(View(slice).data(), data);
  EXPECT_EQ(View(slice).size(), 4096u);
}

TEST(SerializeToByteBufferTest, EncodesAsProtobufDoes) {
  v1::ExtractResponse response;
  response.add_stances()->set_id("s1");
  grpc::ByteBuffer buffer;
  ASSERT_TRUE(SerializeToByteBuffer(response, &buffer).ok());
  grpc::Slice slice;
  ASSERT_TRUE(ContiguousSlice(buffer, &slice));
  EXPECT_EQ(View(slice), response.SerializeAsString());
}

}  // namespace
}  // namespace stancewire
