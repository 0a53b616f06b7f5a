// Stage 4, coreference: what pronouns, anaphors and a quoted "we" stand for, within a sentence
// and across sentences through the discourse state (the actor that held the last sentence's
// stance, the last person's state).
// - ResolveInSentence, left to right after the clause stage marked subjects: "it" / "they" -> the
//   last holdable subject of the sentence, else the salient actor ("they" also keeps the list it
//   stands for as its antecedent); "he" / "she" -> the last person's state, else the salient
//   person's; an anaphor ("the kingdom", "its foreign minister") -> the last subject, else the
//   last holdable actor named in the sentence, else the salient actor.
// - ResolveQuotedSpeakers, after the reporting clauses: a quoted first-person pronoun ("We will
//   not ...," the minister said) stands for the first reporter that names an actor.
// - UpdateSalience, at the end of a sentence: the sentence's first holder, else its first
//   holdable non-pronoun subject, becomes the salient actor; the last person named, the salient
//   person.
// Reads and writes Mention::actor / antecedent and the Discourse; O(mentions + reports).
#pragma once

#include "extraction/stages/clauses.h"
#include "extraction/stages/knowledge.h"
#include "extraction/stages/mentions.h"
#include "extraction/stages/trace.h"

namespace stancewire::extraction {

// What carries over from one sentence to the next within an item.
struct Discourse {
  int salient_actor = -1;         // the last sentence's holder (or first subject)
  int salient_person_actor = -1;  // the state of the last person named
};

void ResolveInSentence(const Knowledge& k, const Discourse& d, SentenceMentions* m);

void ResolveQuotedSpeakers(const Clauses& c, SentenceMentions* m);

// holder_actor: the actor of the sentence's first non-neutral holder, -1 when none.
void UpdateSalience(const Knowledge& k, int holder_actor, const SentenceMentions& m, Discourse* d);

// One "[coreference]" line per resolved pronoun or anaphor, and the discourse state.
void TraceCoreference(const Trace& trace, const Knowledge& k, const Document& doc,
                      const SentenceMentions& m, const Discourse& d);

}  // namespace stancewire::extraction
