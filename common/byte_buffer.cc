#include "common/byte_buffer.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/unknown_field_set.h>
#include <grpcpp/impl/codegen/proto_utils.h>

#include "common/utf8.h"

namespace stancewire {
namespace {

// `prefix` names the message being looked into ("" for the request itself, "item" for its item):
// the nested call answers "" when it finds nothing, so that the caller goes on looking.
std::string Diagnose(const google::protobuf::Descriptor& type, std::string_view bytes,
                     const std::string& prefix) {
  using google::protobuf::FieldDescriptor;
  using google::protobuf::UnknownField;
  google::protobuf::UnknownFieldSet fields;
  if (!fields.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return prefix.empty() ? "the request is not a valid protobuf message"
                          : prefix + " is not a valid protobuf message";
  }
  for (int i = 0; i < fields.field_count(); ++i) {
    const UnknownField& f = fields.field(i);
    const FieldDescriptor* field = type.FindFieldByNumber(f.number());
    if (!field || f.type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
    const std::string name = prefix.empty() ? field->name() : prefix + "." + field->name();
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      if (size_t at = FindInvalidUtf8(f.length_delimited()); at != std::string::npos) {
        return name + " is not valid UTF-8 (first bad byte at offset " + std::to_string(at) + ")";
      }
    } else if (field->type() == FieldDescriptor::TYPE_MESSAGE) {
      std::string nested = Diagnose(*field->message_type(), f.length_delimited(), name);
      if (!nested.empty()) return nested;
    }
  }
  return prefix.empty() ? "the request could not be parsed as a " + type.full_name() : "";
}

}  // namespace

grpc::ByteBuffer ByteBufferFromString(std::string bytes) {
  auto* owned = new std::string(std::move(bytes));
  grpc::Slice slice(
      owned->data(), owned->size(), [](void* s) { delete static_cast<std::string*>(s); }, owned);
  return grpc::ByteBuffer(&slice, 1);
}

grpc::Status SerializeToByteBuffer(const google::protobuf::Message& message,
                                   grpc::ByteBuffer* out) {
  bool own = false;
  return grpc::SerializationTraits<google::protobuf::Message>::Serialize(message, out, &own);
}

std::string DiagnoseUnparsable(const google::protobuf::Descriptor& type, std::string_view bytes) {
  return Diagnose(type, bytes, "");
}

grpc::Status ParseRequest(std::string_view bytes, google::protobuf::Message* request) {
  if (request->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return grpc::Status::OK;
  }
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      DiagnoseUnparsable(*request->GetDescriptor(), bytes));
}

grpc::Status ParseRequest(const grpc::ByteBuffer& buffer, google::protobuf::Message* request) {
  grpc::Slice slice;
  if (!ContiguousSlice(buffer, &slice)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the request could not be read");
  }
  return ParseRequest(View(slice), request);
}

}  // namespace stancewire
