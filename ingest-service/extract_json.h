// JSON Lines for `ingest-service extract` without protobuf's JSON converter, which took about
// two thirds of the command's time (it round-trips every message through the binary format and a
// type resolver). Both paths here are exact by construction: anything outside the plain shapes
// they handle is left to protobuf (the caller falls back), and every value whose rendering
// protobuf decides (escaping of a code point, a float, a timestamp, an enum) is rendered once by
// protobuf itself and cached.
#pragma once

#include <google/protobuf/message.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "stancewire/v1/stance.pb.h"

namespace stancewire::ingest {

// Parses one JSON Lines line (valid UTF-8) into *message, a cleared v1::NewsItem, when the line
// is a flat object of NewsItem string fields, each at most once. Returns false otherwise (unknown
// or repeated fields, non-string values, surrogate escapes, syntax errors, ...), leaving the line
// to JsonStringToMessage, which then also words the error.
bool ParseNewsItemFast(std::string_view line, google::protobuf::Message* message);

// Prints Stances as MessageToJsonString does (default options), byte for byte. One per thread:
// it keeps the caches.
class StanceJsonWriter {
 public:
  StanceJsonWriter();
  // Appends the JSON of `stance` to *out. False (with *out as it was) when protobuf cannot print
  // a value of it (a Timestamp out of range); the caller then falls back to ToJsonLine.
  bool Append(const v1::Stance& stance, std::string* out);

 private:
  void String(std::string_view s, std::string* out);
  void EscapedCodePoint(char32_t cp, std::string_view bytes, std::string* out);
  bool Timestamp(const google::protobuf::Timestamp& ts, std::string* out);
  void Float(float value, std::string* out);
  void Enum(int value, std::string* out);

  // ASCII: how protobuf prints each byte inside a string.
  std::string ascii_[128];
  // Per byte: an ASCII byte protobuf prints as one character (ascii_[c].size() == 1), looked up
  // without loading ascii_'s strings; output is mostly such runs.
  bool plain_[256] = {};
  // Non-ASCII code points: 0 = not seen yet, 1 = printed as is, 2 = escaped (see escaped_).
  std::vector<uint8_t> bmp_state_;
  std::unordered_map<char32_t, std::string> escaped_;
  std::unordered_map<uint32_t, std::string> floats_;  // by bit pattern
  std::unordered_map<int, std::string> enums_;
  int64_t last_seconds_ = 0;
  int32_t last_nanos_ = -1;
  std::string last_timestamp_;
};

}  // namespace stancewire::ingest
