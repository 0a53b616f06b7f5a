// Multi-word phrase lookup over tokens (a hash trie keyed by folded token keys) and the small
// TSV reader every data file uses.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "extraction/text.h"

namespace stancewire::extraction {

// Expands the lexicon phrase syntax: words separated by spaces, alternatives inside a word
// separated by '|', '_' as the empty alternative. "rule|rules|ruled out" -> 3 phrases;
// "has|have _|not yet decided" -> 4. Each result is a list of folded token keys (the phrase is
// tokenised like text, so "U.S." and "Azerbaijan's" fold exactly as they do in articles).
// Returns false (and sets *error) when the expansion is empty or too large.
bool ExpandPhrase(std::string_view phrase, std::vector<std::vector<std::string>>* out,
                  std::string* error);

// Folded token keys of a literal phrase (no alternation).
std::vector<std::string> PhraseKeys(std::string_view phrase);

// uint64 -> uint32 open-addressing hash map (linear probing, key 0 reserved): the lookup on the
// hot path, several times faster than std::unordered_map.
class FlatMap64 {
 public:
  uint32_t* FindOrInsert(uint64_t key);
  const uint32_t* Find(uint64_t key) const {
    if (slots_.empty()) return nullptr;
    key = key ? key : 1;
    for (size_t i = (key * 0x9E3779B97F4A7C15ULL) >> shift_;; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return &slots_[i].value;
      if (slots_[i].key == 0) return nullptr;
    }
  }
  size_t size() const { return size_; }

 private:
  void Grow();
  // Key and value side by side: a hit costs one cache miss, not two (the actor dictionary's
  // table is larger than the cache).
  struct Slot {
    uint64_t key = 0;
    uint32_t value = 0;
  };
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
};

// Maps token sequences to payload indices. Longest match wins.
class PhraseMatcher {
 public:
  static constexpr size_t kMaxLen = 12;

  void Add(const std::vector<std::string>& keys, uint32_t payload);

  struct Match {
    uint32_t length = 0;  // tokens; 0 = no match
    const std::vector<uint32_t>* payloads = nullptr;
  };
  // Longest phrase starting at tokens[i], not extending past `end`.
  Match Longest(const std::vector<Token>& tokens, size_t i, size_t end) const;
  bool empty() const { return payloads_.empty(); }
  // Tokens whose Token::cls has a bit of `mask` may stand inside a phrase after its first word
  // without being part of it, when no phrase continues with them ("voted overwhelmingly in
  // favour", "is strongly opposed to"); they are covered by the match.
  void SkipInside(uint32_t mask) { skip_inside_ = mask; }
  // Hashes of every phrase's first token, so that callers can skip tokens no phrase starts with.
  const std::vector<uint64_t>& first_hashes() const { return first_hashes_; }

 private:
  static uint64_t Step(uint64_t h, uint64_t token_hash) {
    h ^= token_hash + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdULL;
  }
  // prefix hash -> kPrefix bit | (index into payloads_ + 1, 0 = not a whole phrase)
  static constexpr uint32_t kPrefix = 0x80000000u;
  FlatMap64 nodes_;
  std::vector<std::vector<uint32_t>> payloads_;
  std::vector<uint64_t> first_hashes_;
  // One bit per first-token hash (a Bloom filter with one probe): most tokens start no phrase,
  // and this 8 KB table answers that without the cache miss of a probe into nodes_.
  static constexpr int kFirstBits = 16;
  static size_t FirstBit(uint64_t token_hash) {
    return (token_hash * 0x9E3779B97F4A7C15ULL) >> (64 - kFirstBits);
  }
  std::vector<uint64_t> first_bits_;
  uint32_t skip_inside_ = 0;
};

// Reads a UTF-8 TSV data file: '#' comments and blank lines skipped, fields split on tabs.
// Calls row(fields, where) with where = "path:line"; row returns "" or an error message, which
// stops reading and is returned prefixed with where.
std::string ReadTsv(const std::string& path,
                    const std::function<std::string(const std::vector<std::string_view>&,
                                                    const std::string&)>& row);

}  // namespace stancewire::extraction
