#include "extraction/stages/segmentation.h"

#include <ctime>

namespace stancewire::extraction {

int PublicationDate(const v1::NewsItem& item) {
  if (!item.has_published()) return 0;
  time_t secs = static_cast<time_t>(item.published().seconds());
  struct tm tmv;
  if (!gmtime_r(&secs, &tmv)) return 0;
  return (tmv.tm_year + 1900) * 10000 + (tmv.tm_mon + 1) * 100 + tmv.tm_mday;
}

void Segment(const Lexicons& lex, Document* doc) {
  Tokenize(doc->text, &doc->tokens);
  lex.Classify(&doc->tokens);
  doc->sentences = lex.splitter.Split(doc->text, doc->tokens);
}

}  // namespace stancewire::extraction
