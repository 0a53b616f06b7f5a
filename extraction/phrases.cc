#include "extraction/phrases.h"

#include <fstream>
#include <sstream>

namespace stancewire::extraction {

std::vector<std::string> PhraseKeys(std::string_view phrase) {
  std::vector<std::string> keys;
  for (Token& t : Tokenize(phrase)) keys.push_back(std::move(t.key));
  return keys;
}

bool ExpandPhrase(std::string_view phrase, std::vector<std::vector<std::string>>* out,
                  std::string* error) {
  std::vector<std::vector<std::string>> partial(1);
  size_t i = 0;
  while (i < phrase.size()) {
    while (i < phrase.size() && phrase[i] == ' ') ++i;
    if (i >= phrase.size()) break;
    size_t j = phrase.find(' ', i);
    if (j == std::string_view::npos) j = phrase.size();
    std::string_view word = phrase.substr(i, j - i);
    i = j;
    std::vector<std::vector<std::string>> next;
    size_t a = 0;
    while (a <= word.size()) {
      size_t b = word.find('|', a);
      if (b == std::string_view::npos) b = word.size();
      std::string_view alt = word.substr(a, b - a);
      std::vector<std::string> keys;
      if (alt != "_") keys = PhraseKeys(alt);
      for (const auto& p : partial) {
        auto q = p;
        q.insert(q.end(), keys.begin(), keys.end());
        next.push_back(std::move(q));
      }
      a = b + 1;
    }
    partial = std::move(next);
    if (partial.size() > 4096) {
      *error = "phrase expands to too many variants: '" + std::string(phrase) + "'";
      return false;
    }
  }
  for (auto& p : partial) {
    if (p.empty()) continue;
    if (p.size() > PhraseMatcher::kMaxLen) {
      *error = "phrase longer than " + std::to_string(PhraseMatcher::kMaxLen) + " tokens: '" +
               std::string(phrase) + "'";
      return false;
    }
    out->push_back(std::move(p));
  }
  if (out->empty()) {
    *error = "empty phrase";
    return false;
  }
  return true;
}

uint32_t* FlatMap64::FindOrInsert(uint64_t key) {
  if ((size_ + 1) * 2 > slots_.size()) Grow();
  key = key ? key : 1;
  for (size_t i = (key * 0x9E3779B97F4A7C15ULL) >> shift_;; i = (i + 1) & mask_) {
    if (slots_[i].key == key) return &slots_[i].value;
    if (slots_[i].key == 0) {
      slots_[i].key = key;
      slots_[i].value = 0;
      ++size_;
      return &slots_[i].value;
    }
  }
}

void FlatMap64::Grow() {
  std::vector<Slot> old = std::move(slots_);
  size_t capacity = old.empty() ? 64 : old.size() * 2;
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
  shift_ = 64 - __builtin_ctzll(capacity);
  size_ = 0;
  for (const Slot& slot : old) {
    if (slot.key) *FindOrInsert(slot.key) = slot.value;
  }
}

void PhraseMatcher::Add(const std::vector<std::string>& keys, uint32_t payload) {
  if (keys.empty() || keys.size() > kMaxLen) return;
  first_hashes_.push_back(HashKey(keys[0]));
  if (first_bits_.empty()) first_bits_.assign((size_t{1} << kFirstBits) / 64, 0);
  size_t bit = FirstBit(first_hashes_.back());
  first_bits_[bit / 64] |= uint64_t{1} << (bit % 64);
  uint64_t h = 0;
  for (size_t k = 0; k < keys.size(); ++k) {
    h = Step(h, HashKey(keys[k]));
    if (k + 1 < keys.size()) *nodes_.FindOrInsert(h) |= kPrefix;
  }
  uint32_t* node = nodes_.FindOrInsert(h);
  if ((*node & ~kPrefix) == 0) {
    payloads_.emplace_back();
    *node |= static_cast<uint32_t>(payloads_.size());
  }
  auto& v = payloads_[(*node & ~kPrefix) - 1];
  for (uint32_t p : v) {
    if (p == payload) return;
  }
  v.push_back(payload);
}

PhraseMatcher::Match PhraseMatcher::Longest(const std::vector<Token>& tokens, size_t i,
                                            size_t end) const {
  Match m;
  if (first_bits_.empty() || i >= end) return m;
  size_t bit = FirstBit(tokens[i].hash);
  if (!(first_bits_[bit / 64] >> (bit % 64) & 1)) return m;
  uint64_t h = 0;
  size_t words = 0;  // phrase tokens matched, not counting skipped quotation marks
  for (size_t k = 0; words < kMaxLen && i + k < end; ++k) {
    // journalists quote inside a phrase ('warned of a "harsh response"', 'called it a "great
    // victory"'): a quotation mark after the first token is skipped, not matched
    if (k > 0 && tokens[i + k].hash == H("\"")) continue;
    const uint64_t next = Step(h, tokens[i + k].hash);
    const uint32_t* node = nodes_.Find(next);
    if (!node) {
      if (k > 0 && (tokens[i + k].cls & skip_inside_)) continue;
      break;
    }
    ++words;
    h = next;
    if (*node & ~kPrefix) {
      m.length = static_cast<uint32_t>(k + 1);
      m.payloads = &payloads_[(*node & ~kPrefix) - 1];
    }
    if (!(*node & kPrefix)) break;
  }
  return m;
}

std::string ReadTsv(const std::string& path,
                    const std::function<std::string(const std::vector<std::string_view>&,
                                                    const std::string&)>& row) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return path + ": cannot open file";
  std::string line;
  size_t number = 0;
  std::vector<std::string_view> fields;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string where = path + ":" + std::to_string(number);
    if (FindInvalidUtf8(line) != std::string_view::npos) return where + ": not valid UTF-8";
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    fields.clear();
    std::string_view sv(line);
    size_t a = 0;
    while (true) {
      size_t b = sv.find('\t', a);
      std::string_view f = sv.substr(a, b == std::string_view::npos ? sv.npos : b - a);
      while (!f.empty() && f.front() == ' ') f.remove_prefix(1);
      while (!f.empty() && f.back() == ' ') f.remove_suffix(1);
      fields.push_back(f);
      if (b == std::string_view::npos) break;
      a = b + 1;
    }
    std::string err = row(fields, where);
    if (!err.empty()) return where + ": " + err;
  }
  return "";
}

}  // namespace stancewire::extraction
