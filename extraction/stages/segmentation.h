// Stage 1, segmentation: one item's text into tokens (with their word classes from the lexicons)
// and sentences. Reads nothing but the text and the lexicons; everything later indexes into the
// Document it fills. Linear in the text: one pass to tokenise, one hash probe per token to
// classify, one pass to split (sentences capped at 400 tokens).
#pragma once

#include <string_view>
#include <vector>

#include "extraction/lexicons.h"
#include "extraction/text.h"
#include "stancewire/v1/stance.pb.h"

namespace stancewire::extraction {

struct Document {
  std::string_view text;
  std::vector<Token> tokens;  // Token::cls filled
  std::vector<Sentence> sentences;
  int date = 0;  // the item's publication day, YYYYMMDD; 0 = unknown (persons in office on it)

  // The text of tokens [tb, te), "" when empty.
  std::string_view Bytes(uint32_t tb, uint32_t te) const {
    if (te <= tb) return {};
    return text.substr(tokens[tb].start, tokens[te - 1].end - tokens[tb].start);
  }
};

// YYYYMMDD of item.published (UTC), 0 when absent.
int PublicationDate(const v1::NewsItem& item);

// Fills doc->tokens (reusing its storage) and doc->sentences from doc->text, which must outlive
// the Document.
void Segment(const Lexicons& lex, Document* doc);

}  // namespace stancewire::extraction
