#include "common/json_lines.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstring>

#include "common/utf8.h"

namespace stancewire {

bool JsonLinesReader::Fill() {
  std::streambuf* buf = in_.rdbuf();
  buffer_.erase(0, pos_);
  pos_ = 0;
  std::streamsize avail = buf->in_avail();
  if (avail <= 0) {
    int c = buf->sbumpc();
    if (c == std::char_traits<char>::eof()) return false;
    buffer_.push_back(static_cast<char>(c));
    avail = buf->in_avail();
  }
  if (avail > 0) {
    size_t old = buffer_.size();
    size_t want = static_cast<size_t>(std::min<std::streamsize>(avail, 1 << 16));
    buffer_.resize(old + want);
    buffer_.resize(old + static_cast<size_t>(buf->sgetn(buffer_.data() + old, want)));
  }
  return true;
}

bool JsonLinesReader::ReadLine(std::string* line, bool* too_long) {
  line->clear();
  *too_long = false;
  bool any = false;
  for (;;) {
    if (pos_ >= buffer_.size() && !Fill()) break;
    any = true;
    const char* begin = buffer_.data() + pos_;
    const size_t left = buffer_.size() - pos_;
    const void* nl = std::memchr(begin, '\n', left);
    const size_t take = nl ? static_cast<const char*>(nl) - begin : left;
    const size_t room = options_.max_line_bytes - std::min(options_.max_line_bytes, line->size());
    if (take > room) *too_long = true;
    line->append(begin, std::min(take, room));
    pos_ += take;
    if (nl) {
      ++pos_;
      break;
    }
  }
  if (!any) return false;
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
