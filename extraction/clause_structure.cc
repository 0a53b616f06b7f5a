#include "extraction/clause_structure.h"

#include "extraction/lexicons.h"

namespace stancewire::extraction {

bool ListSeparated(const std::vector<Token>& t, uint32_t end, uint32_t begin) {
  if (begin == end + 1)  // "neither India nor Pakistan" is a list too
    return t[end].hash == H("and") || t[end].hash == H(",") || t[end].hash == H("nor");
  if (begin == end + 2) return t[end].hash == H(",") && t[end + 1].hash == H("and");
  if (begin == end + 3)
    return t[end].hash == H("as") && t[end + 1].hash == H("well") && t[end + 2].hash == H("as");
  return false;
}

namespace {

// "A host of countries - including A and B - have ..." sets the list off like commas do (the
// tokenizer folds en and em dashes to "--").
bool IsDash(const Token& t) { return t.hash == H("-") || t.hash == H("--"); }

}  // namespace

bool ListAfterGroupSubject(const std::vector<Token>& t, uint32_t sentence_begin, uint32_t begin) {
  if (begin < sentence_begin + 2) return false;
  uint32_t j = begin - 1;
  if (t[j].hash == H("the") && j > sentence_begin) --j;
  const uint64_t h = t[j].hash;
  if (h == H("as") && j > sentence_begin && t[j - 1].hash == H("such")) {
    --j;
  } else if (h == H("by") && j > sentence_begin && t[j - 1].hash == H("led")) {
    --j;  // "Oil-producing countries, led by Saudi Arabia, resisted ..."
  } else if (h != H("including") && h != H("like") && h != H("namely")) {
    return false;
  }
  if (j > sentence_begin && (t[j - 1].hash == H(",") || IsDash(t[j - 1]))) --j;
  if (j == sentence_begin || !(t[j - 1].cls & kGroupNoun)) return false;
  // the group noun opens its clause: up to three words after the sentence start or a clause
  // opener ("..., while 14 nations, including the United States, opposed it")
  for (uint32_t q = j - 1, words = 0; words <= 3; --q, ++words) {
    if (q == sentence_begin) return true;
    if (t[q - 1].cls & kSubjectBefore) return t[q - 1].hash != H("and") || words > 0;
  }
  return false;
}

bool ClauseSharesSubject(const std::vector<Token>& t, uint32_t from, uint32_t to) {
  static const uint64_t kTransparent[] = {
      H("will"),  H("would"), H("has"),   H("have"), H("had"),  H("is"),    H("are"),
      H("was"),   H("were"),  H("could"), H("can"),  H("may"),  H("might"), H("should"),
      H("must"),  H("did"),   H("does"),  H("do"),   H("not"),  H("still"), H("later"),
      H("never"), H("be"),    H("been"),  H("also"), H("then"), H("now"),   H("n't"),
      H(","),     H("that"),  H("it"),    H("they"), H("he"),   H("she"),   H("instead")};
  for (uint32_t j = from; j < to; ++j) {
    if (!t[j].word && t[j].hash != H(",")) continue;
    bool transparent = false;
    for (uint64_t h : kTransparent) transparent |= t[j].hash == h;
    const std::string& k = t[j].key;
    transparent |= k.size() > 4 && k.compare(k.size() - 2, 2, "ly") == 0;
    if (!transparent) return false;
  }
  return true;
}

bool TightHyphen(const std::vector<Token>& t, uint32_t i) {
  return t[i].hash == H("-") && !t[i].space_before && !t[i + 1].space_before;
}

bool MiddleInitial(const std::vector<Token>& t, uint32_t i, uint32_t end) {
  return i + 2 < end && t[i].key.size() == 1 && t[i].capitalized && t[i + 1].hash == H(".") &&
         !t[i + 1].space_before && t[i + 2].word && t[i + 2].capitalized;
}

uint32_t ModifiersBefore(const std::vector<Token>& t, uint32_t sentence_begin, uint32_t begin) {
  static const uint64_t kModifiers[] = {
      H("current"),     H("ruling"),      H("powerful"), H("fellow"), H("neighbouring"),
      H("neighboring"), H("influential"), H("oil-rich"), H("gulf"),   H("key")};
  uint32_t j = begin;
  for (int words = 0; j > sentence_begin && words < 4; ++words) {
    const Token& p = t[j - 1];
    bool modifier = (p.cls & kDeterminer) != 0 && p.hash != H("a") && p.hash != H("an");
    for (uint64_t h : kModifiers) modifier |= p.hash == h;
    if (p.word && j >= sentence_begin + 3 && TightHyphen(t, j - 2) && t[j - 3].word) {
      j -= 3;  // a hyphenated modifier: "Kremlin-friendly", "pro-Iranian"
      continue;
    }
    if (!modifier) break;
    --j;
  }
  return begin - j;
}

uint32_t DescriptorBefore(const std::vector<Token>& t, uint32_t sentence_begin, uint32_t begin) {
  if (begin <= sentence_begin + 1 || !(t[begin - 1].cls & kPatronNoun)) return begin;
  for (uint32_t j = begin - 1; j > sentence_begin && begin - j <= 5; --j) {
    const Token& p = t[j - 1];
    if (p.hash == H("the") || p.hash == H("a") || p.hash == H("an")) return j - 1;
    if (!p.word && !TightHyphen(t, j - 1)) break;  // "Iran-backed" is one modifier
  }
  return begin;
}

bool NominalContinues(const Token& next) {
  static const uint64_t kContinuations[] = {H("to"),      H("against"),  H("over"), H("on"),
                                            H("toward"),  H("towards"),  H("is"),   H("was"),
                                            H("remains"), H("remained"), H("of"),   H("for")};
  for (uint64_t h : kContinuations) {
    if (next.hash == h) return true;
  }
  return false;
}

}  // namespace stancewire::extraction
