#include "extraction/text.h"

#include <unicode/uchar.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

namespace stancewire::extraction {
namespace {

// Decodes one code point at text[i]; returns its length, or 0 when the bytes are not valid UTF-8
// (overlong forms, surrogates and values above U+10FFFF included).
size_t DecodeUtf8(std::string_view text, size_t i, char32_t* cp) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  unsigned char c = s[i];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t len;
  char32_t v;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    v = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    v = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    v = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > n) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((s[i + k] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (s[i + k] & 0x3F);
  }
  if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
      (v >= 0xD800 && v <= 0xDFFF)) {
    return 0;
  }
  *cp = v;
  return len;
}

// ASCII word characters by class; 0 = not a word character. 256 entries, bytes >= 0x80 all 0, so
// that the letter loop needs no separate ASCII test. One bit each, so that a run's classes can be
// OR-ed together.
enum : uint8_t { kUpper = 1, kLower = 2, kDigit = 4 };
constexpr auto kAsciiClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 128; ++c) {
    t[c] = c >= 'A' && c <= 'Z'   ? kUpper
           : c >= 'a' && c <= 'z' ? kLower
           : c >= '0' && c <= '9' ? kDigit
                                  : 0;
  }
  return t;
}();

bool IsSpace(char32_t cp) {
  return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v' ||
         cp == 0xA0 || (cp >= 0x2000 && cp <= 0x200B) || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000 || cp == 0xFEFF;
}

bool IsApostrophe(char32_t cp) { return cp == '\'' || cp == 0x2019 || cp == 0x2018; }

bool IsWordChar(char32_t cp) {
  if (cp < 0x80)
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
  return u_isalnum(static_cast<UChar32>(cp)) ||
         u_getIntPropertyValue(cp, UCHAR_GENERAL_CATEGORY_MASK) & U_GC_M_MASK;
}

bool IsUpper(char32_t cp) {
  if (cp < 0x80) return cp >= 'A' && cp <= 'Z';
  return u_isupper(static_cast<UChar32>(cp));
}

bool IsLetter(char32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  return u_isalpha(static_cast<UChar32>(cp));
}

// Base letters of U+00C0..U+017F, lower-cased; '*' keeps the character as is.
constexpr char kLatinFold[] =
    "aaaaaaaceeeeiiii"   // U+00C0
    "dnooooo*ouuuuyts"   // U+00D0
    "aaaaaaaceeeeiiii"   // U+00E0
    "dnooooo*ouuuuyty"   // U+00F0
    "aaaaaacccccccccd"   // U+0100
    "ddeeeeeeeeeegggg"   // U+0110
    "gggghhhhiiiiiiii"   // U+0120
    "iijjjjkkklllllll"   // U+0130
    "lllnnnnnnnnnoooo"   // U+0140
    "oooorrrrrrssssss"   // U+0150
    "ssttttttuuuuuuuu"   // U+0160
    "uuuuwwyyyzzzzzzs";  // U+0170

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

void AppendFolded(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
    return;
  }
  if (cp >= 0xC0 && cp <= 0x17F && kLatinFold[cp - 0xC0] != '*') {
    out->push_back(kLatinFold[cp - 0xC0]);
    return;
  }
  if (IsApostrophe(cp)) {
    out->push_back('\'');
    return;
  }
  switch (cp) {
    case 0x201C:
    case 0x201D:
    case 0x201E:
    case 0x00AB:
    case 0x00BB:
      out->push_back('"');
      return;
    case 0x2013:
    case 0x2014:
    case 0x2015:
    case 0x2212:
      out->append("--");
      return;
    case 0x2010:
    case 0x2011:
      out->push_back('-');
      return;
    default:
      break;
  }
  AppendUtf8(static_cast<char32_t>(u_tolower(static_cast<UChar32>(cp))), out);
}

}  // namespace

std::string FoldKey(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  size_t i = 0;
  while (i < raw.size()) {
    char32_t cp;
    size_t len = DecodeUtf8(raw, i, &cp);
    if (len == 0) {
      out.push_back('?');
      ++i;
      continue;
    }
    AppendFolded(cp, &out);
    i += len;
  }
  return out;
}

std::vector<Token> Tokenize(std::string_view text) {
  std::vector<Token> tokens;
  Tokenize(text, &tokens);
  return tokens;
}

void Tokenize(std::string_view text, std::vector<Token>* out) {
  std::vector<Token>& tokens = *out;
  // Token objects are reused in place rather than cleared and rebuilt: a key longer than the
  // small-string buffer keeps its storage from the previous text, so steady state allocates
  // nothing.
  size_t used = 0;
  tokens.reserve(text.size() / 4 + 16);
  size_t i = 0;
  const size_t n = text.size();
  const auto* u = reinterpret_cast<const unsigned char*>(text.data());
  bool space = true, newline = true;

  // The next token's object, not yet counted; keys are built in it directly.
  auto slot = [&]() -> Token& {
    return used < tokens.size() ? tokens[used] : tokens.emplace_back();
  };
  // Counts the slot's token, with its key (and the key's hash) already known.
  auto commit = [&](Token& t, size_t start, size_t end, bool word, uint64_t hash) {
    ++used;
    t.start = static_cast<uint32_t>(start);
    t.end = static_cast<uint32_t>(end);
    t.hash = hash;
    t.word = word;
    t.capitalized = false;
    t.all_caps = false;
    t.space_before = space;
    t.newline_before = newline;
    t.cls = 0;
    space = newline = false;
  };
  auto emit = [&](size_t start, size_t end, bool word, std::string_view key) {
    Token& t = slot();
    // resize + copy rather than assign: GCC 12 warns (-Wrestrict) on assign from a literal
    t.key.resize(key.size());
    std::memcpy(t.key.data(), key.data(), key.size());
    commit(t, start, end, word, HashKey(key));
  };

  while (i < n) {
    const unsigned char c0 = u[i];
    char32_t cp;
    size_t len;
    if (c0 < 0x80) {  // ASCII, most of the text: no decoding, no ICU
      if (!kAsciiClass[c0]) {
        if (c0 == ' ' || c0 == '\t' || c0 == '\n' || c0 == '\r' || c0 == '\f' || c0 == '\v') {
          space = true;
          if (c0 == '\n' || c0 == '\r') newline = true;
        } else {
          emit(i, i + 1, false, text.substr(i, 1));
        }
        ++i;
        continue;
      }
      cp = c0;
      len = 1;
    } else {
      len = DecodeUtf8(text, i, &cp);
      if (len == 0) {  // invalid byte: a one-byte symbol token, so offsets stay exact
        emit(i, i + 1, false, "?");
        ++i;
        continue;
      }
      if (IsSpace(cp)) {
        space = true;
        i += len;
        continue;
      }
      if (!IsWordChar(cp)) {
        Token& t = slot();
        t.key.clear();
        AppendFolded(cp, &t.key);
        commit(t, i, i + len, false, HashKey(t.key));
        i += len;
        continue;
      }
    }
    // A word: letters / digits, internal apostrophes, dots of initialisms and decimals.
    size_t start = i;
    Token& word = slot();
    std::string& key = word.key;
    key.clear();
    bool split = false;  // "don't" -> "do" + "n't": both emitted
    bool first_upper = IsUpper(cp);
    bool all_upper = true;
    int letters = 0;
    int segment_letters = 0;  // letters since the last dot, for initialisms
    bool has_dot = false;
    bool prev_digit = false;
    // The ASCII runs are hashed while they are copied; `hash` covers key[0, hashed), and the rarer
    // bytes appended elsewhere are hashed when the next run starts or the word ends.
    uint64_t hash = kHashBasis;
    size_t hashed = 0;
    auto hash_rest = [&] {
      if (hashed == key.size()) return;  // the common case: nothing appended outside the runs
      hash = HashMore(hash, std::string_view(key).substr(hashed));
      hashed = key.size();
    };
    while (i < n) {
      if (kAsciiClass[u[i]]) {  // fast path: a run of ASCII letters and digits
        // classified, lower-cased and hashed in one pass, appended a chunk at a time
        // ('| 0x20' lower-cases A-Z and leaves a-z and 0-9 as they are)
        hash_rest();
        char buf[64];
        const size_t run_start = i;
        const size_t limit = std::min(n, i + sizeof buf);
        uint8_t seen = 0;  // the classes in the run, OR-ed
        for (; i < limit; ++i) {
          const unsigned char byte = u[i];
          const uint8_t cls = kAsciiClass[byte];
          if (cls == 0) break;
          const unsigned char folded = byte | 0x20;
          buf[i - run_start] = static_cast<char>(folded);
          hash = (hash ^ folded) * kHashPrime;
          seen |= cls;
        }
        const size_t run_length = i - run_start;
        int run_letters = static_cast<int>(run_length);
        if (seen & kDigit) {  // digits are rarer than letters: counted only when there are some
          run_letters -= static_cast<int>(
              std::count_if(buf, buf + run_length, [](char b) { return b >= '0' && b <= '9'; }));
        }
        key.append(buf, run_length);
        hashed = key.size();
        letters += run_letters;
        segment_letters += run_letters;
        if (seen & kLower) all_upper = false;
        prev_digit = kAsciiClass[u[i - 1]] == kDigit;
        continue;
      }
      // Only '.', ',' and apostrophes can continue a word among ASCII characters: a space or any
      // other punctuation ends it without decoding.
      if (u[i] < 0x80 && u[i] != '.' && u[i] != ',' && u[i] != '\'') break;
      char32_t c;
      size_t l = DecodeUtf8(text, i, &c);
      if (l == 0) break;
      if (IsWordChar(c)) {
        if (IsLetter(c)) {
          ++letters;
          ++segment_letters;
          if (!IsUpper(c)) all_upper = false;
        }
        prev_digit = c < 0x80 && c >= '0' && c <= '9';
        AppendFolded(c, &key);
        i += l;
        continue;
      }
      if (c == '.' && i + 1 <= n) {
        char32_t next = 0;
        size_t nl = i + 1 < n ? DecodeUtf8(text, i + 1, &next) : 0;
        bool next_word = nl && IsWordChar(next);
        if (prev_digit && next_word && next >= '0' && next <= '9') {  // decimal "2.5"
          key.push_back('.');
          i += 1;
          continue;
        }
        if (segment_letters == 1 && (next_word || has_dot)) {  // initialism "U.S.", "J.D."
          key.push_back('.');
          has_dot = true;
          segment_letters = 0;
          i += 1;
          continue;
        }
        break;
      }
      if (c == ',' && prev_digit && i + 1 < n && text[i + 1] >= '0' && text[i + 1] <= '9') {
        key.push_back(',');  // "20,000"
        i += 1;
        continue;
      }
      if (IsApostrophe(c) && i + l < n) {
        // "'s" possessive and "n't" become their own tokens; other apostrophes stay in the word.
        char32_t next = 0;
        size_t nl = DecodeUtf8(text, i + l, &next);
        if (!nl || !IsLetter(next)) break;
        char32_t after = 0;
        size_t al = i + l + nl < n ? DecodeUtf8(text, i + l + nl, &after) : 0;
        bool next_ends = !al || !IsWordChar(after);
        if ((next == 's' || next == 'S') && next_ends) break;
        if ((next == 't' || next == 'T') && next_ends && !key.empty() && key.back() == 'n' &&
            key.size() > 1) {
          // split "don't" -> "do" + "n't"
          size_t n_pos = i - 1;
          key.pop_back();
          commit(word, start, n_pos, true, HashKey(key));
          word.capitalized = first_upper;
          emit(n_pos, i + l + nl, true, "n't");  // may move the tokens: word is not used again
          i = i + l + nl;
          split = true;
          break;
        }
        AppendFolded(c, &key);
        i += l;
        continue;
      }
      break;
    }
    if (split || key.empty()) continue;  // both halves of "don't" are out
    hash_rest();
    commit(word, start, i, true, hash);
    word.capitalized = first_upper;
    word.all_caps = letters >= 2 && all_upper;
    // possessive "'s"
    if (i < n && (u[i] == '\'' || u[i] >= 0x80)) {
      char32_t c;
      size_t l = DecodeUtf8(text, i, &c);
      if (l && IsApostrophe(c) && i + l < n && (text[i + l] == 's' || text[i + l] == 'S')) {
        size_t e = i + l + 1;
        char32_t after = 0;
        size_t al = e < n ? DecodeUtf8(text, e, &after) : 0;
        if (!al || !IsWordChar(after)) {
          emit(i, e, true, "'s");
          i = e;
        }
      }
    }
  }
  tokens.resize(used);
}

namespace {

// Whether key is one character of `chars` (cheaper than comparing with each as a C string).
bool IsOneOf(const std::string& key, std::string_view chars) {
  if (key.size() != 1) return false;
  for (char c : chars) {  // a few characters: compared inline, no call to memchr
    if (key[0] == c) return true;
  }
  return false;
}

}  // namespace

std::vector<Sentence> SentenceSplitter::Split(std::string_view text,
                                              const std::vector<Token>& tokens,
                                              size_t max_tokens) const {
  std::vector<Sentence> out;
  const size_t n = tokens.size();
  size_t begin = 0;
  auto close = [&](size_t end) {
    if (end <= begin) return;
    Sentence s;
    s.first_token = static_cast<uint32_t>(begin);
    s.end_token = static_cast<uint32_t>(end);
    s.start = tokens[begin].start;
    s.end = tokens[end - 1].end;
    out.push_back(s);
    begin = end;
  };
  for (size_t i = 0; i < n; ++i) {
    if (i > begin && tokens[i].newline_before) close(i);
    if (i - begin >= max_tokens) close(i);
    const std::string& k = tokens[i].key;
    bool terminal = IsOneOf(k, ".!?") || k == "\u2026";
    if (!terminal) continue;
    // extend over closing quotes / brackets and repeated terminators
    size_t j = i + 1;
    while (j < n && !tokens[j].space_before && IsOneOf(tokens[j].key, "\"').!?")) ++j;
    if (j >= n) {
      close(n);
      i = n;
      break;
    }
    const Token& next = tokens[j];
    if (!next.space_before && !next.newline_before) continue;  // "3.5", "a.m.x"
    if (k == "." && i > begin) {
      const Token& prev = tokens[i - 1];
      if (!tokens[i].space_before && prev.word) {
        if (abbreviations.count(prev.key)) continue;
        if (before_number.count(prev.key) && next.word && next.key[0] >= '0' &&
            next.key[0] <= '9') {
          continue;
        }
        // single capital initial ("George W. Bush")
        if (prev.end - prev.start == 1 && prev.capitalized) continue;
      }
    }
    if (!next.newline_before) {
      // the next sentence must start like one: capital, digit, quote or bracket
      unsigned char c = static_cast<unsigned char>(text[next.start]);
      bool starts = next.capitalized || (c >= '0' && c <= '9') || !next.word;
      if (!starts) continue;
    }
    close(j);
    i = j - 1;
  }
  close(n);
  return out;
}

std::vector<std::string_view> SplitOn(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t a = 0;
  while (a <= s.size()) {
    size_t b = s.find(sep, a);
    if (b == std::string_view::npos) b = s.size();
    std::string_view part = s.substr(a, b - a);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (!part.empty()) out.push_back(part);
    a = b + 1;
  }
  return out;
}

}  // namespace stancewire::extraction
