// Stage 6, conditions: the condition spans of one sentence, their kinds, and whose they are.
// - FindConditionSpans: each trigger (data/conditions/triggers.tsv: "only if", "provided that",
//   "would need", "once", ...) opens a span that runs to the end of its clause (at most
//   kConditionMax tokens, not into a reporting verb), taking in the clause subject for `subject`
//   triggers; a list of requirements after its main clause goes on past its commas when an
//   "and" / "or" closes it (at most 2 * kConditionMax tokens); the tokens inside (not the
//   trigger's own words) are marked in_condition.
// - ClassifyConditions: the span is split at "and" / "or" / "," (not "between X and Y";
//   coordinated subjects of one verb stay together), and each part gets every kind whose
//   pattern (data/conditions/kinds.tsv) fires, else OTHER when it has two words or more.
// - AttachConditions: a span belongs to the holder of the nearest cue before it in the clause
//   (else after it), to a new clause subject between them, or, for standalone triggers, to the
//   clause's own holder. Weak (`typed`) triggers need a known kind or a precondition; `positive`
//   triggers after a refusal give its reason (no condition, OPPOSE); `negative` ones need an
//   OPPOSE cue. Holders sharing the cue share its conditions.
// Reads: tokens, clauses, cue assignments. Writes: ConditionSpans, Attached conditions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "extraction/lexicons.h"
#include "extraction/stages/clauses.h"
#include "extraction/stages/cues.h"
#include "extraction/stages/trace.h"

namespace stancewire::extraction {

constexpr size_t kConditionMax = 40;  // tokens in one condition text (twice that for a list)

struct ConditionHit {
  std::string kind;
  uint32_t begin = 0, end = 0;  // tokens
  std::string pattern;
};

struct ConditionSpan {
  uint32_t trigger_begin, trigger_end, begin, end;  // tokens
  const Trigger* trigger;
};

struct ConditionSpans {
  std::vector<Occurrence> triggers;  // trigger phrases, longest match left to right
  std::vector<ConditionSpan> spans;  // one per trigger that opens a non-empty span
  std::vector<char> in_condition;    // per sentence token: inside a span (not trigger words)
};

// Fills *out (reusing its storage) for tokens [b, e).
void FindConditionSpans(const Lexicons& lex, const std::vector<Token>& t, uint32_t b, uint32_t e,
                        const Clauses& c, ConditionSpans* out);

// The kinds of the condition text [b, e): appends one hit per (part, kind) to *out and, when
// explain, "KIND (kinds.tsv:LINE)" per fired pattern to *patterns.
void ClassifyConditions(const Lexicons& lex, const std::vector<Token>& t, uint32_t b, uint32_t e,
                        bool explain, std::vector<ConditionHit>* out,
                        std::vector<std::string>* patterns);

// Conditions attached to a holder (a mention, -2 for the salient actor).
struct Attached {
  int mention;
  int actor;
  std::vector<ConditionHit> hits;  // empty: a refusal with its reason (OPPOSE)
  std::vector<std::string> patterns;
  std::string rule;
};

// Fills *out (cleared first) with the conditions of the sentence's spans and their holders.
void AttachConditions(const SentenceView& v, const std::vector<Occurrence>& cues,
                      const CueAssignments& a, const ConditionSpans& spans, bool explain,
                      const Trace& trace, std::vector<Attached>* out);

// One "[conditions]" line per span (its trigger and text).
void TraceConditionSpans(const Trace& trace, const Document& doc, const ConditionSpans& spans);

}  // namespace stancewire::extraction
