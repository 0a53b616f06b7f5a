// The coordinator's per-sentence step (extractor.cc), exposed so that the stage tests run the
// stages exactly as Extract does. Not part of the library's interface (extractor.h is).
#pragma once

#include <vector>

#include "extraction/stages/clauses.h"
#include "extraction/stages/conditions.h"
#include "extraction/stages/coreference.h"
#include "extraction/stages/cues.h"
#include "extraction/stages/knowledge.h"
#include "extraction/stages/mentions.h"
#include "extraction/stages/merge.h"
#include "extraction/stages/segmentation.h"
#include "extraction/stages/trace.h"

namespace stancewire::extraction {

// What one item's sentences leave for the next ones and for the merge.
struct ItemAnalysis {
  Document doc;  // segmented
  Discourse discourse;
  std::vector<Contribution> contributions;
  bool explain = false;
};

// Per-sentence results of the stages; reused across sentences (each stage reuses its storage).
struct SentenceAnalysis {
  SentenceMentions mentions;
  std::vector<Occurrence> cues;
  Clauses clauses;
  ConditionSpans conditions;
  CueAssignments assignments;
  std::vector<Attached> attached;
};

// Runs the per-sentence stages on sentence `si` of item->doc, in order: mentions, clause
// subjects, coreference in the sentence, cues, reporting clauses, quoted speakers, condition
// spans, cue attachment, condition attachment, contributions (appended to item->contributions),
// salience for the next sentence (item->discourse).
void AnalyseSentence(const Knowledge& k, uint32_t si, const Trace& trace, ItemAnalysis* item,
                     SentenceAnalysis* a);

}  // namespace stancewire::extraction
