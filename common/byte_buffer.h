// Raw wire bytes for gRPC methods that handle their messages themselves (every QueryService and
// IngestService method, the delivery stream): reading a received buffer, parsing it as a request
// with a diagnosis when protobuf refuses it, and building buffers without copying the bytes.
//
// The methods take raw bytes because gRPC answers a request protobuf refuses (a string field
// that is not UTF-8) with a bare UNIMPLEMENTED before any service code runs; parsing it here lets
// the service answer INVALID_ARGUMENT naming the field and byte instead.
#pragma once

#include <google/protobuf/message.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>
#include <grpcpp/support/status.h>

#include <string>
#include <string_view>
#include <vector>

namespace stancewire {

// The whole message in one slice: the received one itself when it came in one piece (no copy),
// else a joined copy. False when the buffer cannot be read.
inline bool ContiguousSlice(const grpc::ByteBuffer& buffer, grpc::Slice* out) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  if (slices.size() == 1) {
    *out = std::move(slices[0]);
    return true;
  }
  std::string joined;
  for (const auto& s : slices) joined.append(reinterpret_cast<const char*>(s.begin()), s.size());
  *out = grpc::Slice(joined);
  return true;
}

inline std::string_view View(const grpc::Slice& slice) {
  return std::string_view(reinterpret_cast<const char*>(slice.begin()), slice.size());
}

// A one-slice buffer that takes `bytes` over without copying them (the slice frees them).
grpc::ByteBuffer ByteBufferFromString(std::string bytes);

// `message` encoded into `out` the way gRPC encodes a typed response, straight into its slices.
grpc::Status SerializeToByteBuffer(const google::protobuf::Message& message, grpc::ByteBuffer* out);

// Parses `bytes` as `request`. When protobuf refuses them: INVALID_ARGUMENT with
// DiagnoseUnparsable's message.
grpc::Status ParseRequest(std::string_view bytes, google::protobuf::Message* request);
// The same for a request as gRPC received it, without copying it when it came in one slice.
grpc::Status ParseRequest(const grpc::ByteBuffer& buffer, google::protobuf::Message* request);

// Says why protobuf refused `bytes` as a `type` message: the first string field (nested ones
// too) that is not UTF-8, as "item.text is not valid UTF-8 (first bad byte at offset 12)", or
// wire data that is not protobuf ("the request is not a valid protobuf message", or
// "published_after is not ..." for a nested message).
std::string DiagnoseUnparsable(const google::protobuf::Descriptor& type, std::string_view bytes);

}  // namespace stancewire
