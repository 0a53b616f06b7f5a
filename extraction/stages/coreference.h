// Stage 4, coreference: what pronouns, anaphors and a quoted "we" stand for, within a sentence
// and across sentences through the discourse state (the actor that held the last sentence's
// stance, the last person's state).
// - ResolveInSentence, left to right after the clause stage marked subjects: "it" / "they" -> the
//   last holdable subject of the sentence, else the salient actor ("they" also keeps the list it
//   stands for as its antecedent); "he" / "she" -> the last person's state, else the salient
//   person's; an anaphor ("the kingdom", "its foreign minister") -> the last subject, else the
//   last holdable actor named in the sentence, else the salient actor. Outside a quotation,
//   mentions inside one are no antecedents ("'... sidelines Egypt,' the ministry said"). A
//   counted group ("the eight participating countries") -> the last list of exactly that many
//   actors, in the sentence before it, else among the lists of the last four sentences.
// - ResolveQuotedSpeakers, after the reporting clauses: a quoted first-person pronoun ("We will
//   not ...," the minister said) stands for the first reporter that names an actor.
// - ResolveNames / LearnNames, right after the mention stage: a person the item has named in
//   full ("Austrian Defence Minister Klaudia Tanner", "Hakan Fidan") is later known by the last
//   word of the name alone ("Tanner said"), which becomes a person mention of that state; a
//   word two people of different states share stays unresolved.
// - UpdateSalience, at the end of a sentence: the sentence's first holder, else its first
//   holdable non-pronoun subject, becomes the salient actor; the last person named, the salient
//   person.
// Reads and writes Mention::actor / antecedent and the Discourse; O(mentions + reports).
#pragma once

#include <cstdint>
#include <unordered_map>

#include "extraction/clause_structure.h"
#include "extraction/stages/clauses.h"
#include "extraction/stages/knowledge.h"
#include "extraction/stages/mentions.h"
#include "extraction/stages/trace.h"

namespace stancewire::extraction {

// What carries over from one sentence to the next within an item.
struct Discourse {
  int salient_actor = -1;         // the last sentence's holder (or first subject)
  int salient_age = 0;            // sentences since salient_actor was last named or held
  int salient_person_actor = -1;  // the state of the last person named
  struct NamedPerson {
    int actor = -1;  // -1: two people of different states share the word
    int person = -1;
  };
  std::unordered_map<uint64_t, NamedPerson> names;  // by the hash of a name's last word
  // Lists of two or more actors named in the last sentences, oldest first: what "the eight
  // participating countries" counts back to.
  struct NamedList {
    std::vector<int> actors;
    int age = 0;  // sentences since it was named
  };
  std::vector<NamedList> lists;
};

// Adds a person mention for each word of sentence [b, e) outside mentions that is the last word
// of a name the item gave earlier.
void ResolveNames(const Document& doc, uint32_t b, uint32_t e, const Discourse& d,
                  SentenceMentions* m);

// Records the last word of each person's name in the sentence's mentions.
void LearnNames(const Document& doc, const SentenceMentions& m, Discourse* d);

void ResolveInSentence(const Knowledge& k, const std::vector<Token>& t, uint32_t b,
                       const Discourse& d, SentenceMentions* m);

void ResolveQuotedSpeakers(const Clauses& c, SentenceMentions* m);

// Ages the remembered lists and adds the sentence's own lists of two or more actors.
void LearnLists(const Knowledge& k, const std::vector<Token>& t, const SentenceMentions& m,
                Discourse* d);

// holder_actor: the actor of the sentence's first non-neutral holder, -1 when none.
void UpdateSalience(const Knowledge& k, int holder_actor, const SentenceMentions& m, Discourse* d);

// One "[coreference]" line per resolved pronoun or anaphor, and the discourse state.
void TraceCoreference(const Trace& trace, const Knowledge& k, const Document& doc,
                      const SentenceMentions& m, const Discourse& d);

}  // namespace stancewire::extraction
