#include "extraction/stages/trace.h"

#include <cstdarg>
#include <cstdio>

namespace stancewire::extraction {
namespace {

void Append(std::string* out, const char* format, va_list args) {
  va_list copy;
  va_copy(copy, args);
  char buffer[512];
  int n = std::vsnprintf(buffer, sizeof buffer, format, copy);
  va_end(copy);
  if (n < 0) return;
  if (static_cast<size_t>(n) < sizeof buffer) {
    out->append(buffer, n);
  } else {
    size_t at = out->size();
    out->resize(at + n + 1);
    std::vsnprintf(out->data() + at, n + 1, format, args);
    out->resize(at + n);
  }
  out->push_back('\n');
}

}  // namespace

void Trace::Line(const char* stage, const char* format, ...) const {
  if (!out_) return;
  out_->append("  [").append(stage).append("] ");
  va_list args;
  va_start(args, format);
  Append(out_, format, args);
  va_end(args);
}

void Trace::Raw(const char* format, ...) const {
  if (!out_) return;
  va_list args;
  va_start(args, format);
  Append(out_, format, args);
  va_end(args);
}

}  // namespace stancewire::extraction
