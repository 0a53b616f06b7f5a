// Stage 8, merge: per-sentence evidence into one stance per (actor, topic) of an item.
// - EmitContributions, per sentence: one Contribution per non-neutral cue holder (CONDITIONAL
//   when conditions attach to its actor), per subject proposal noun ("The Egyptian proposal
//   calls for ...": SUPPORT), and per condition left without a cue of its actor (CONDITIONAL, or
//   OPPOSE for a refusal with its reason); with the holder's text, speaker and attribution.
// - MergeStances, per item: contributions grouped by (actor, topic; a sentence's own topic gives
//   way to the dominant one). Any condition -> CONDITIONAL; else the first sentence that gives a
//   position decides, OPPOSE > SUPPORT > UNDECIDED within it; weak SUPPORT gives way to a strong
//   cue, a past-perfect position ("had opposed") to a current one. Evidence is the first
//   sentence showing the final position; ids are FNV-1a-64 of (item id, actor id, topic).
// Reads: all earlier stages. Writes: Contributions, then v1::Stance. Indexed by (actor, topic)
// and conditions by a set, so an item with thousands of them stays linear.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "extraction/stages/conditions.h"
#include "extraction/stages/cues.h"
#include "extraction/stages/topics.h"
#include "stancewire/v1/stance.pb.h"

namespace stancewire::extraction {

// One piece of evidence for an actor's position found in one sentence.
struct Contribution {
  int actor = -1;
  v1::Position position = v1::POSITION_UNSPECIFIED;
  bool weak = false;
  bool historical = false;  // past perfect ("had opposed"): superseded by a current position
  bool neutral = false;
  std::vector<ConditionHit> conditions;
  uint32_t sentence = 0;
  uint32_t mention_begin = 0, mention_end = 0;  // the holder as written (bytes)
  int person = -1;
  std::string attribution;
  std::string cue;
  std::string holder_rule;
  std::vector<std::string> condition_patterns;
};

// Appends the contributions of sentence `si` to *out; consumes the attached conditions.
void EmitContributions(const SentenceView& v, uint32_t si, const std::vector<Occurrence>& cues,
                       const CueAssignments& a, std::vector<Attached>* attached,
                       std::vector<Contribution>* out);

// The item's stances, in the order their (actor, topic) first contributed.
std::vector<v1::Stance> MergeStances(const Knowledge& k, const v1::NewsItem& item,
                                     const Document& doc, const ItemTopics& topics,
                                     const std::vector<Contribution>& contributions, bool explain);

// The topic key of an item that names no known proposal: "item-" and the item id folded to
// the key alphabet (lower-case letters, digits, '-').
std::string ItemTopicKey(std::string_view item_id);

}  // namespace stancewire::extraction
