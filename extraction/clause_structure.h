// Clause structure read off tokens, for the holder rules: where a list goes on, whether a list
// names a group subject, which words before a mention only modify it, whether a clause after
// "but" / "while" has a subject of its own, and whether a stance noun goes on as a stance.
// Pure functions over a sentence's tokens (Token::cls filled from the lexicons); each looks at a
// bounded number of tokens, so that the extractor stays linear in the text.
#pragma once

#include <cstdint>
#include <vector>

#include "extraction/text.h"

namespace stancewire::extraction {

// True when the tokens [end, begin) between two mentions separate items of one list: ",",
// "and", ", and" (the serial comma), "as well as".
bool ListSeparated(const std::vector<Token>& t, uint32_t end, uint32_t begin);

// True when a mention at `begin` opens a list that names the members of a group noun
// (Token::cls kGroupNoun) opening its clause: "Several other countries, including A, B and C,
// have ...", "Many countries like A and B ...", "..., while 14 nations, including A, opposed it".
// Objects ("sanctions on countries like A") stay objects.
bool ListAfterGroupSubject(const std::vector<Token>& t, uint32_t sentence_begin, uint32_t begin);

// True when the tokens [from, to) between a clause opener ("but", "while") and a cue hold no
// subject of their own, so that the clause shares the previous one's: "backed it but would
// oppose ...". Auxiliaries, negation, pronouns and -ly adverbs are transparent; any other word is
// taken for a subject ("but nine members opposed ...").
bool ClauseSharesSubject(const std::vector<Token>& t, uint32_t from, uint32_t to);

// Whether t[i] is a hyphen written tight between its neighbours ("Sudan-backed", "Ukraine-Russia"),
// which makes a compound word; t[i + 1] must exist.
bool TightHyphen(const std::vector<Token>& t, uint32_t i);

// Whether t[i], t[i + 1], t[i + 2] are a middle initial, its tight period and the next name
// ("Ana M. Rojas" at "M"); none past `end`.
bool MiddleInitial(const std::vector<Token>& t, uint32_t i, uint32_t end);

// How many tokens right before `begin` (at most four modifiers, none before `sentence_begin`)
// are determiners or modifiers of a mention: "the current Israeli government", "its
// Kremlin-friendly prime minister". They do not stop the mention from being a subject.
uint32_t ModifiersBefore(const std::vector<Token>& t, uint32_t sentence_begin, uint32_t begin);

// "The Iraqi group Kataib Hezbollah rejected ...", "the militant movement Hamas said": a name
// right after a descriptive noun phrase that ends in a group noun (PATRON_NOUN) and opens with
// "the" or "a" at most five tokens before. Returns where that phrase begins, or `begin` when
// the name has no such phrase: the phrase, not the name, stands where a subject would.
uint32_t DescriptorBefore(const std::vector<Token>& t, uint32_t sentence_begin, uint32_t begin);

// True when the token after a stance noun continues a stance ("Belgium's resistance to the
// loan", "... resistance is firm"), not a clause of which the noun is the subject ("Venezuela's
// opposition welcomed the move": the opposition party).
bool NominalContinues(const Token& next);

}  // namespace stancewire::extraction
