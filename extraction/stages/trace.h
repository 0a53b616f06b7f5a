// Where the stages write what they decided, one line per decision: "[stage] ...". Shown by
// `ingest-service extract --explain` (on stderr) and STANCEWIRE_EXTRACTION_DEBUG; null, and never
// formatted, on the normal path.
#pragma once

#include <string>

namespace stancewire::extraction {

class Trace {
 public:
  explicit Trace(std::string* out = nullptr) : out_(out) {}
  bool on() const { return out_ != nullptr; }
  // Appends "  [stage] " and the printf-formatted line and a newline; does nothing when off.
  void Line(const char* stage, const char* format, ...) const __attribute__((format(printf, 3, 4)));
  // Appends a line without the stage prefix (a sentence header).
  void Raw(const char* format, ...) const __attribute__((format(printf, 2, 3)));

 private:
  std::string* out_;
};

}  // namespace stancewire::extraction
