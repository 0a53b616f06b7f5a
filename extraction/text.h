// Text handling: UTF-8 checks, tokens with byte offsets into the original text, normalised token
// keys for dictionary lookup, and sentence splitting. One linear pass each, no regular expressions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/utf8.h"

namespace stancewire::extraction {

// The one UTF-8 validator every input path shares (common/utf8.h).
using stancewire::FindInvalidUtf8;

struct Token {
  uint32_t start = 0;  // byte offsets into the original text
  uint32_t end = 0;
  std::string key;  // lower-cased, diacritics and curly apostrophes folded ("türkiye" -> "turkiye")
  uint64_t hash = 0;  // hash of key, for phrase lookup
  bool word = false;  // letters or digits (else punctuation / symbol)
  bool capitalized = false;
  bool all_caps = false;      // two or more letters, all upper case ("US", "UAE")
  bool space_before = false;  // whitespace between this token and the previous one
  bool newline_before = false;
  uint32_t cls = 0;  // closed word classes (Lexicons::WordClass bits), filled by the extractor
};

// Folds one token's text into its lookup key. Exposed so that dictionaries fold aliases the same
// way.
std::string FoldKey(std::string_view raw);

// The non-empty parts of `s` between `sep`s, with surrounding spaces trimmed ("a | b|" -> a, b).
std::vector<std::string_view> SplitOn(std::string_view s, char sep);
// FNV-1a over the key's bytes. HashKey(a + b) == HashMore(HashKey(a), b), so the tokeniser can
// hash a key while it builds it.
constexpr uint64_t kHashBasis = 1469598103934665603ULL;
constexpr uint64_t kHashPrime = 1099511628211ULL;
constexpr uint64_t HashMore(uint64_t h, std::string_view bytes) {
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= kHashPrime;
  }
  return h;
}
constexpr uint64_t HashKey(std::string_view key) { return HashMore(kHashBasis, key); }
// Compile-time hash of a folded key, for comparing tokens without string compares.
consteval uint64_t H(std::string_view key) { return HashKey(key); }

// Splits text into tokens. Words keep internal apostrophes and dots of initialisms ("U.S.",
// "J.D."); a possessive "'s" / "’s" becomes its own token with key "'s"; hyphens, dashes, quotes
// and other punctuation are single tokens. Invalid UTF-8 bytes become single-byte punctuation
// tokens.
std::vector<Token> Tokenize(std::string_view text);
// The same into *tokens, reusing its storage (the extractor keeps one buffer per thread).
void Tokenize(std::string_view text, std::vector<Token>* tokens);

struct Sentence {
  uint32_t first_token = 0;  // [first_token, end_token)
  uint32_t end_token = 0;
  uint32_t start = 0;  // byte span in the text
  uint32_t end = 0;
};

// Abbreviations that do not end a sentence when followed by a period ("Mr", "Gen", "No").
struct SentenceSplitter {
  std::unordered_set<std::string> abbreviations;  // folded keys, without the period
  std::unordered_set<std::string> before_number;  // only before a number: "No. 10"
  // Splits at . ! ? (followed by whitespace and an upper-case letter, digit or quote), at newlines,
  // and caps a sentence at max_tokens so that one enormous run-on sentence stays linear.
  std::vector<Sentence> Split(std::string_view text, const std::vector<Token>& tokens,
                              size_t max_tokens = 400) const;
};

}  // namespace stancewire::extraction
