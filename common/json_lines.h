#pragma once

#include <google/protobuf/message.h>

#include <cstddef>
#include <istream>
#include <string>
#include <string_view>

namespace stancewire {

// Reads JSON Lines one message at a time, with line numbers for error messages and a bound on
// line length so that a runaway line cannot exhaust memory.
class JsonLinesReader {
 public:
  struct Options {
    bool ignore_unknown_fields = false;
    size_t max_line_bytes = 16 * 1024 * 1024;
    // Tried before protobuf's parser on each (valid UTF-8) line; when it returns false the line
    // goes to JsonStringToMessage, which also words the errors.
    bool (*fast_parse)(std::string_view line, google::protobuf::Message* message) = nullptr;
  };

  enum class Result { kMessage, kError, kEnd };

  JsonLinesReader(std::istream& in, Options options) : in_(in), options_(options) {}

  // Parses the next non-blank line into `message`. On kError, `error` names the line and the
  // problem; the reader has moved past that line, so the caller may go on or stop.
  Result Next(google::protobuf::Message* message, std::string* error);

  size_t line_number() const { return line_number_; }

 private:
  // Reads one line without its terminator; returns false at end of input. Sets *too_long when the
  // line exceeded max_line_bytes (the rest of it is skipped).
  bool ReadLine(std::string* line, bool* too_long);

  // Moves what the stream already holds (or, when it holds nothing, one byte, which may block)
  // into buffer_; false at end of input. Never waits for more than the next byte, so that
  // items piped in one at a time are answered one at a time.
  bool Fill();

  std::istream& in_;
  Options options_;
  size_t line_number_ = 0;
  std::string buffer_;  // read ahead of the current line
  size_t pos_ = 0;      // next unread byte of buffer_
};

// Serialises `message` as one line of proto3 JSON (no trailing newline). False, with *out empty
// and the reason in *error, when the JSON mapping cannot print it (a Timestamp out of range).
bool ToJsonLine(const google::protobuf::Message& message, std::string* out, std::string* error);
// The same, "" when the message cannot be printed: for messages known to be printable.
std::string ToJsonLine(const google::protobuf::Message& message);

}  // namespace stancewire
