#include "tests/extraction/stage_runner.h"

#include <gtest/gtest.h>

namespace stancewire::extraction::testing {

const Knowledge& TestKnowledge() {
  static const Knowledge* k = [] {
    auto* loaded = new Knowledge;
    ExtractorConfig config;
    config.data_dir = STANCEWIRE_DATA_DIR;
    std::string error;
    if (!loaded->Load(config, &error)) ADD_FAILURE() << error;
    return loaded;
  }();
  return *k;
}

const Mention* StageRun::Find(uint32_t si, const std::string& words) const {
  for (const Mention& m : sentences.at(si).mentions.list) {
    if (Words(m.begin, m.end) == words) return &m;
  }
  ADD_FAILURE() << "no mention [" << words << "] in sentence " << si;
  return nullptr;
}

std::string StageRun::Describe(uint32_t si, const std::string& words) const {
  const Mention* m = Find(si, words);
  return m ? std::string(MentionRule(m->kind)) + " " + Id(m->actor) : "none";
}

std::string StageRun::Id(int actor) const {
  return actor >= 0 ? TestKnowledge().actors.record(actor).id : "-";
}

std::unique_ptr<StageRun> RunStages(const std::string& text) {
  auto run = std::make_unique<StageRun>();
  run->text = text;
  run->item.doc.text = run->text;
  run->item.doc.date = 20251016;
  const Knowledge& k = TestKnowledge();
  Segment(k.lex, &run->item.doc);
  SentenceAnalysis a;
  for (uint32_t si = 0; si < run->item.doc.sentences.size(); ++si) {
    run->discourse_before.push_back(run->item.discourse);
    AnalyseSentence(k, si, Trace(), &run->item, &a);
    run->sentences.push_back(a);
  }
  return run;
}

}  // namespace stancewire::extraction::testing
