#include "common/json_lines.h"

#include <google/protobuf/util/json_util.h>

#include "common/utf8.h"

namespace stancewire {

bool JsonLinesReader::ReadLine(std::string* line, bool* too_long) {
  line->clear();
  *too_long = false;
  std::streambuf* buf = in_.rdbuf();
  int c = buf->sbumpc();
  if (c == std::char_traits<char>::eof()) return false;
  while (c != std::char_traits<char>::eof() && c != '\n') {
    if (line->size() < options_.max_line_bytes) {
      line->push_back(static_cast<char>(c));
    } else {
      *too_long = true;
    }
    c = buf->sbumpc();
  }
  if (!line->empty() && line->back() == '\r') line->pop_back();
  return true;
}

JsonLinesReader::Result JsonLinesReader::Next(google::protobuf::Message* message,
                                              std::string* error) {
  std::string line;
  bool too_long = false;
  while (ReadLine(&line, &too_long)) {
    ++line_number_;
    if (too_long) {
      *error = "line " + std::to_string(line_number_) + ": longer than " +
               std::to_string(options_.max_line_bytes) + " bytes";
      return Result::kError;
    }
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    // Checked here so that the message names the offset instead of echoing the broken bytes.
    if (size_t bad = FindInvalidUtf8(line); bad != std::string::npos) {
      *error = "line " + std::to_string(line_number_) +
               ": not valid UTF-8 (first bad byte at column " + std::to_string(bad + 1) + ")";
      return Result::kError;
    }
    message->Clear();
    if (options_.fast_parse && options_.fast_parse(line, message)) return Result::kMessage;
    message->Clear();
    google::protobuf::util::JsonParseOptions parse_options;
    parse_options.ignore_unknown_fields = options_.ignore_unknown_fields;
    auto status = google::protobuf::util::JsonStringToMessage(line, message, parse_options);
    if (!status.ok()) {
      *error = "line " + std::to_string(line_number_) + ": " + std::string(status.message());
      return Result::kError;
    }
    return Result::kMessage;
  }
  return Result::kEnd;
}

bool ToJsonLine(const google::protobuf::Message& message, std::string* out, std::string* error) {
  out->clear();
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = false;
  auto status = google::protobuf::util::MessageToJsonString(message, out, options);
  if (status.ok()) return true;
  // What was printed up to the failure is not JSON.
  out->clear();
  *error = std::string(status.message());
  return false;
}

std::string ToJsonLine(const google::protobuf::Message& message) {
  std::string out, ignored;
  ToJsonLine(message, &out, &ignored);
  return out;
}

}  // namespace stancewire
