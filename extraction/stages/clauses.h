// Stage 3, clause analysis of one sentence, over its tokens and mentions:
// - MarkSubjects: which mentions are clause subjects (sentence start, after a clause opener,
//   "with X -ing", a list after a group noun, list members inherit; after a preposition or a
//   verb a mention is an object). The token-level tests live in extraction/clause_structure.h.
// - FindClauses: clause boundaries ("but", "while", "whereas", ";", "although", "though" open a
//   new coordinated clause) and the reporting clauses: the reporting verb ("said", "according
//   to"), its reporter as written (before the verb, inverted after it: '"...," said the
//   ministry', or the nearest subject: "X, who is also ..., told"), the actor mention inside it,
//   and whether the reporter is an unnamed source or medium (voice), stands for the salient actor
//   (anaphoric: "the source", "he"), or is an analyst (nonactor: no stance).
// - VerbGroupBefore, SubordinateType: the verb group of a cue and the type of a subordinate
//   clause, shown by --explain (the cue and condition stages still decide by their own rules:
//   negation within three tokens, trigger flags).
// Reads: tokens, SentenceMentions (actors of pronouns resolved for FindClauses), the cue
// occurrences. Writes: Mention::subject, Clauses. Every scan is bounded (12 tokens for a
// reporter, 60 for an aside), so linear in the sentence.
#pragma once

#include <cstdint>
#include <vector>

#include "extraction/stages/knowledge.h"
#include "extraction/stages/mentions.h"
#include "extraction/stages/segmentation.h"
#include "extraction/stages/trace.h"

namespace stancewire::extraction {

struct Occurrence;  // a cue or trigger phrase found in the text (cues.h)

constexpr size_t kScanWindow = 60;  // tokens a holder search looks back

struct Report {
  uint32_t begin = 0, end = 0;        // the reporting verb
  uint32_t np_begin = 0, np_end = 0;  // the reporter as written
  int mention = -1;                   // actor mention inside the reporter, if any
  bool voice = false;                 // the reporter is an unnamed source or a medium
  bool anaphoric = false;             // "the source", "he": stands for the salient actor
  bool according_to = false;
  bool nonactor = false;  // analysts, experts: what they say is no stance
};

struct Clauses {
  uint32_t begin = 0;                 // the sentence's first token
  std::vector<uint32_t> clause_of;    // per sentence token: its coordinated clause, from 0
  std::vector<Report> reports;        // in text order
  std::vector<char> is_report_token;  // per sentence token: part of a reporting verb

  uint32_t ClauseOf(uint32_t token) const { return clause_of[token - begin]; }
  bool IsReportToken(uint32_t token) const { return is_report_token[token - begin] != 0; }
};

// Sets Mention::subject for every mention of sentence tokens [b, e).
void MarkSubjects(const std::vector<Token>& t, uint32_t b, uint32_t e, SentenceMentions* m);

// Fills *out (reusing its storage): clause indexes and reporting clauses of tokens [b, e).
// `cues` are the sentence's cue occurrences in text order (reports are its non-weak REPORT cues).
void FindClauses(const Knowledge& k, const std::vector<Token>& t, uint32_t b, uint32_t e,
                 const SentenceMentions& m, const std::vector<Occurrence>& cues, Clauses* out);

// True when `pos` lies in ", who|which ... ," (bounded by the scan window).
bool InRelativeAside(const std::vector<Token>& t, uint32_t b, uint32_t e, uint32_t pos);

// True when a holdable subject mention ends at or before `pos` in pos's clause: "France ... has
// the support of Poland" already has its holder.
bool SubjectBefore(const Knowledge& k, const SentenceMentions& m, const Clauses& c, uint32_t pos);

// The auxiliaries before a verb (at most four tokens back, within the sentence): "would not
// have backed", "had opposed", "could be deployed".
struct VerbGroup {
  uint32_t begin = 0;         // first token of the group (the verb itself when it has none)
  bool negated = false;       // "not", "n't", "never"
  bool perfect = false;       // "has", "have", "had"
  bool past_perfect = false;  // "had"
  bool passive = false;       // "be", "been", "being", "is", "was", ... before a participle
  uint64_t modal = 0;         // hash of "will", "would", "could", "may", "might", "should",
                              // "must", "can", 0 when none
};
VerbGroup VerbGroupBefore(const std::vector<Token>& t, uint32_t b, uint32_t verb);

// What a subordinate clause does, read off its opener: "if", "unless", "as long as"
// (condition); "after", "before", "once", "until", "when" (time); "because", "since" (cause);
// "to", "in order to", "so that" (purpose); "in exchange for", "in return for" (exchange);
// "although", "though", "even if", "despite" (concession).
enum class ClauseType { kNone, kCondition, kTime, kCause, kPurpose, kExchange, kConcession };
const char* ClauseTypeName(ClauseType type);
// The type of the clause opened at token i (before e) and its opener's length in tokens.
ClauseType SubordinateType(const std::vector<Token>& t, uint32_t i, uint32_t e, uint32_t* length);

// One "[clauses]" line per reporting clause and one with the clause boundaries.
void TraceClauses(const Trace& trace, const Knowledge& k, const Document& doc, uint32_t b,
                  uint32_t e, const SentenceMentions& m, const Clauses& c);

}  // namespace stancewire::extraction
