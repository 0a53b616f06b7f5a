// Raw-bytes gRPC methods (ListStances, the delivery stream) parse their messages themselves.
#pragma once

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

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

}  // namespace stancewire
