// Stage 2, mentions: the actor mentions of one sentence, left to right and non-overlapping, each
// with its kind and, where the words name it, its actor. Names, metonyms, demonym + role noun,
// name + role, possessive + role or stance noun, title + person, "ROLE of NAME", anaphors and
// pronouns (left unresolved: coreference resolves them). A name used as a modifier ("Gaza's
// reconstruction", "a U.S. veto") is kept only as possessive_other, never a holder. Bodies that
// hold as their organisation (HOLDS_AS) are mapped to it.
// Reads: the Document's tokens, Knowledge. Writes: SentenceMentions (subject, antecedent and the
// actor of pronouns and anaphors are filled by later stages). Linear: each token starts at most a
// bounded number of phrase lookups.
#pragma once

#include <cstdint>
#include <vector>

#include "extraction/stages/knowledge.h"
#include "extraction/stages/segmentation.h"
#include "extraction/stages/trace.h"

namespace stancewire::extraction {

enum class MentionKind {
  kName,            // "Azerbaijan", "the United States"
  kMetonym,         // "Baku", "the Kremlin"
  kRole,            // "the Turkish foreign minister", "EU diplomats", "Pakistan's prime minister"
  kStanceNoun,      // "Azerbaijan's position"
  kPerson,          // "Hakan Fidan", "President Prabowo Subianto"
  kPronoun,         // "it"
  kPronounPerson,   // "he", "she"
  kPronounSpeaker,  // "we" in a quotation: the quoted speaker
  kAnaphor,         // "the kingdom", "the country's foreign minister", "its prime minister"
  kGroupAnaphor,    // "the eight participating countries": a list of that many named before
};

// The rule name of a kind, as explanations show it ("role noun", "anaphor").
const char* MentionRule(MentionKind k);

struct Mention {
  uint32_t begin = 0, end = 0;  // tokens
  MentionKind kind = MentionKind::kName;
  int actor = -1;                 // resolved actor, -1 when unknown
  int person = -1;                // index into Actors::persons()
  bool subject = false;           // set by the clause stage
  bool voice = false;             // unnamed sources: "Egyptian diplomatic sources"
  bool possessive_other = false;  // "Gaza's reconstruction": a modifier, never a holder
  bool proposal = false;          // "the Egyptian proposal", "Egypt's plan": the actor proposes
  int antecedent = -1;            // for pronouns: the mention they stand for ("they" -> a list)
  bool names_person = false;      // ends in a person's name, known or not ("... Klaudia Tanner")
  uint32_t group_size = 0;        // kGroupAnaphor: how many actors it counts
  int group = -1;                 // kGroupAnaphor, resolved: index into SentenceMentions::groups
};

// The mentions of sentence tokens [begin, end), with per-token indexes.
struct SentenceMentions {
  uint32_t begin = 0;  // the sentence's first token
  std::vector<Mention> list;
  std::vector<std::vector<int>> groups;  // the actors each resolved group anaphor stands for
  std::vector<int> ending;               // per sentence token: the mention ending at it, or -1
  std::vector<int> covering;             // per sentence token: the mention covering it, or -1

  int EndingAt(uint32_t token) const { return ending[token - begin]; }
  int CoveringAt(uint32_t token) const { return covering[token - begin]; }
};

// Fills *out (reusing its storage) with the mentions of tokens [b, e) of doc.
void FindMentions(const Knowledge& k, const Document& doc, uint32_t b, uint32_t e,
                  SentenceMentions* out);

// Rebuilds out->ending and out->covering after mentions were added to out->list (kept in text
// order); b, e: the sentence's tokens.
void IndexMentions(uint32_t b, uint32_t e, SentenceMentions* out);

// The list of mentions that starts at mention `first`: its index and those of the mentions that
// follow it separated by ",", "and", ", and" or "as well as".
std::vector<int> ListFrom(const std::vector<Token>& t, const std::vector<Mention>& mentions,
                          int first);

// One "[mentions]" line per mention (text, kind, actor, subject, modifier).
void TraceMentions(const Trace& trace, const Knowledge& k, const Document& doc,
                   const SentenceMentions& m);

}  // namespace stancewire::extraction
