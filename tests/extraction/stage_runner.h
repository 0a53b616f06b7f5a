// Runs the extraction stages on a short text of our own, as Extract does, and keeps every
// sentence's results so that the stage tests can look at what each stage decided.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "extraction/pipeline.h"

namespace stancewire::extraction::testing {

// The knowledge from the project's data/ folder, loaded once.
const Knowledge& TestKnowledge();

struct StageRun {
  std::string text;
  ItemAnalysis item;
  std::vector<SentenceAnalysis> sentences;  // each sentence's results, in order
  std::vector<Discourse> discourse_before;  // the discourse each sentence started from

  std::string Words(uint32_t begin, uint32_t end) const {
    return std::string(item.doc.Bytes(begin, end));
  }
  // The mention of sentence si whose text is `words`; nullptr (and a test failure) if none.
  const Mention* Find(uint32_t si, const std::string& words) const;
  // "RULE ACTOR" of that mention ("role noun KEN", "pronoun -"), "none" if there is none.
  std::string Describe(uint32_t si, const std::string& words) const;
  // The dictionary id of an actor index, "-" for none.
  std::string Id(int actor) const;
};

// Segments `text` and runs every per-sentence stage on each sentence.
std::unique_ptr<StageRun> RunStages(const std::string& text);

}  // namespace stancewire::extraction::testing
