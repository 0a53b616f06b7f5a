// Stage 5, cue attachment: the position cues of one sentence and the holder of each.
// - FindCues: cue phrases (data/lexicons/cues.tsv), longest match left to right, not inside an
//   actor mention (except modifiers and pronouns).
// - AttachCues: per position cue, after negation (within three tokens: SUPPORT -> OPPOSE,
//   OPPOSE -> UNDECIDED or, for negsupport cues, SUPPORT), its holders: the actor before a
//   hyphen (compound "U.S.-drafted"), the owner of a stance noun ("Belgium's resistance"), the
//   agent of a passive cue, the nearest subject to the left in the clause with its conjuncts,
//   the reporter of a trailing "..., X said", a list after the cue (", including A and B"),
//   and companions (", along with A"). The first cue of a holder in a clause wins unless weak.
// - SentenceView: the holder search over what the earlier stages found, shared with the
//   condition stage.
// Reads: tokens, mentions, clauses, condition spans (in_condition). Writes: CueOccurrences,
// CueAssignments. Scans are bounded by kScanWindow tokens.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "extraction/stages/clauses.h"
#include "extraction/stages/knowledge.h"
#include "extraction/stages/mentions.h"
#include "extraction/stages/segmentation.h"
#include "extraction/stages/trace.h"
#include "stancewire/v1/stance.pb.h"

namespace stancewire::extraction {

constexpr size_t kNegationWindow = 3;  // tokens between a negation and its cue
constexpr size_t kHedgeWindow = 6;     // tokens between a hedge and its cue

struct Occurrence {
  uint32_t begin = 0, end = 0;
  uint32_t index = 0;  // cue or trigger index
};

// Appends the longest phrase of `matcher` at token i (only tried where Token::cls has `starts`)
// to *out; returns the token after it, i + 1 when none matches.
inline uint32_t MatchAt(const PhraseMatcher& matcher, uint32_t starts, const std::vector<Token>& t,
                        uint32_t i, uint32_t e, std::vector<Occurrence>* out) {
  PhraseMatcher::Match m;
  if (t[i].cls & starts) m = matcher.Longest(t, i, e);
  if (!m.length) return i + 1;
  out->push_back({i, i + m.length, (*m.payloads)[0]});
  return i + m.length;
}

// Fills *cues (reusing its storage) with the cue occurrences of tokens [b, e) of doc.
void FindCues(const Lexicons& lex, const std::vector<Token>& t, uint32_t b, uint32_t e,
              const SentenceMentions& m, std::vector<Occurrence>* cues);

// One sentence as the earlier stages left it, and the holder searches over it.
struct SentenceView {
  SentenceView(const Knowledge& k, const Document& doc, uint32_t b, uint32_t e,
               const SentenceMentions& m, const Clauses& c, const std::vector<char>& in_condition,
               int salient_actor);

  const Knowledge& know;
  const Document& doc;
  const std::vector<Token>& t;
  const uint32_t b, e;  // the sentence's tokens
  const std::vector<Mention>& mentions;
  const std::vector<int>& mention_ending;    // per sentence token
  const std::vector<int>& mention_covering;  // per sentence token
  const std::vector<uint32_t>& clause_of;    // per sentence token
  const std::vector<Report>& reports;
  const std::vector<char>& in_condition;  // per sentence token: inside a condition span
  const int salient_actor;
  const SentenceMentions& sm;
  const Clauses& clauses;

  // The holder for a cue at `pos`: the nearest subject mention to the left in the clause
  // (skipping condition text, asides in parentheses, stopping at a new clause with a subject of
  // its own), or a relative clause's antecedent. -1 when none; sets *rule.
  int HolderLeft(uint32_t pos, std::string* rule) const;
  // The reporter of a "..., X said" after `pos` in the same clause: a mention index, -2 for
  // the salient actor ("the source added"), -1 when none; sets *rule.
  int ReporterAfter(uint32_t pos, std::string* rule) const;
  // A holder and its conjuncts: "Germany and Spain on Thursday backed ...", "they" -> its list.
  std::vector<int> Conjuncts(int mk) const;
  // The reporter's words when it is an unnamed source or a medium, else "".
  std::string AttributionFor(int holder_mention) const;
  // The first mention of a list introduced by ", including" (opener = H("including")) or
  // ", along with" / ", together with" (opener = H("along")) after `from`, in the same clause.
  int ListAfterCue(uint32_t from, uint64_t opener) const;
};

struct Assigned {
  int mention;  // -2 = salient actor
  int actor;
  size_t cue;  // index into the cue occurrences
  v1::Position position;
  bool weak, neutral;
  std::string rule;
};

struct CueAssignments {
  std::vector<Assigned> assigned;  // in cue order
  std::vector<char> cue_held;      // per cue occurrence: it found a holder (assigned or not)

  // The actor of the first non-neutral assignment, -1 when none.
  int FirstHolder() const;
};

// Fills *out (reusing its storage) from the cue occurrences of the sentence.
void AttachCues(const SentenceView& v, const std::vector<Occurrence>& cues, CueAssignments* out);

// One "[cues]" line per cue occurrence and per assignment.
void TraceCues(const Trace& trace, const SentenceView& v, const std::vector<Occurrence>& cues,
               const CueAssignments& a);

}  // namespace stancewire::extraction
