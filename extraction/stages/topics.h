// Stage 7, topics: the topic registry of one item. Per sentence, the first topic it names: a
// known proposal from data/topics/topics.tsv (any of its names), a capitalised name ending in a
// head noun ("Gang Suppression Force", not an actor such as "the UN Security Council"), or a
// described proposal ("a stabilisation force", "the reassurance force for Ukraine"). Keys are
// normalised (folded, British -> American spelling, skip words dropped, hyphen-joined), so the
// names of one proposal share one key within and across items; an acronym defined in
// parentheses ("(ISF)") counts for its name. The dominant topic is the known proposal with most
// weight if the item names one, else the key with most weight (name 2, description 1); none
// when that key is a generic description without its place ("the peace deal"), which other
// items could not share.
// Reads: the Document, Knowledge. Writes: ItemTopics. Linear in the tokens.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "extraction/stages/knowledge.h"
#include "extraction/stages/segmentation.h"
#include "extraction/stages/trace.h"

namespace stancewire::extraction {

struct ItemTopics {
  std::vector<int> sentence_topic;                        // per sentence: index into keys, -1
  std::vector<std::pair<std::string, std::string>> keys;  // key, label (first words naming it)
  int dominant = -1;                                      // index into keys, -1 = none named
  // For the trace: per key, its weight, whether the registry knows it, and the sentences that
  // name it (in order).
  std::vector<int> weight;
  std::vector<char> known;
  std::vector<std::vector<uint32_t>> named_in;
};

void FindTopics(const Knowledge& k, const Document& doc, ItemTopics* out);

// One "[topics]" line per key and the dominant one.
void TraceTopics(const Trace& trace, const ItemTopics& topics);

}  // namespace stancewire::extraction
