#include "extraction/stages/topics.h"

#include <string>
#include <unordered_map>
#include <vector>

namespace stancewire::extraction {

void FindTopics(const Knowledge& kn, const Document& doc, ItemTopics* out) {
  const auto& t = doc.tokens;
  // Per index into out->keys (one per distinct key), rather than maps keyed by the key string.
  std::vector<int>& weight = out->weight;
  std::vector<char>& known = out->known;
  std::vector<char> specific;                     // known, a name, or a description with its place
  std::unordered_map<std::string, int> acronyms;  // "isf" -> index of its key
  out->sentence_topic.assign(doc.sentences.size(), -1);
  out->keys.clear();  // weight, known, specific and named_in run parallel to keys
  weight.clear();
  known.clear();
  out->named_in.clear();
  auto index_of = [&](const std::string& key, std::string_view label) {
    for (size_t k = 0; k < out->keys.size(); ++k) {
      if (out->keys[k].first == key) return static_cast<int>(k);
    }
    out->keys.push_back({key, std::string(label)});
    weight.push_back(0);
    known.push_back(0);
    specific.push_back(0);
    out->named_in.emplace_back();
    return static_cast<int>(out->keys.size() - 1);
  };
  auto named = [&](int k, uint32_t si) {
    if (out->named_in[k].empty() || out->named_in[k].back() != si) out->named_in[k].push_back(si);
  };
  for (uint32_t si = 0; si < doc.sentences.size(); ++si) {
    const Sentence& s = doc.sentences[si];
    for (uint32_t i = s.first_token; i < s.end_token; ++i) {
      // known topics from the gazetteer
      PhraseMatcher::Match m;
      if (t[i].cls & kStartsTopic) m = kn.lex.topic_matcher.Longest(t, i, s.end_token);
      if (m.length) {
        const Topic& topic = kn.lex.topics[(*m.payloads)[0]];
        int k = index_of(topic.key, doc.Bytes(i, i + m.length));
        // once per sentence: "the reparations loan based on frozen Russian assets" is one mention
        // of one proposal, though two of its names match
        if (out->named_in[k].empty() || out->named_in[k].back() != si) weight[k] += 3;
        known[k] = 1;
        specific[k] = 1;
        if (out->sentence_topic[si] < 0) out->sentence_topic[si] = k;
        named(k, si);
        i += m.length - 1;
        continue;
      }
      if (!t[i].word || !(t[i].cls & kTopicHead)) continue;
      if (t[i].capitalized) {
        // a capitalised name ending in a head noun: "Gang Suppression Force"
        uint32_t j = i;
        while (j > s.first_token && i - j < 6 && t[j - 1].word &&
               (t[j - 1].capitalized || t[j - 1].hash == H("-")) && !(t[j - 1].cls & kDeterminer)) {
          --j;
        }
        // institutions are actors, not topics: "the UN Security Council"
        bool actor = false;
        for (uint32_t k = j; k <= i && !actor; ++k) {
          actor = kn.actors.Match(doc.text, t, k, i + 1, 0).length == i + 1 - k;
        }
        if (j < i && !actor) {
          std::vector<std::string> words;
          for (uint32_t k = j; k <= i; ++k) words.push_back(t[k].key);
          std::string key = kn.lex.TopicKey(words);
          if (!key.empty()) {
            int k = index_of(key, doc.Bytes(j, i + 1));
            weight[k] += 2;
            specific[k] = 1;
            if (out->sentence_topic[si] < 0) out->sentence_topic[si] = k;
            named(k, si);
            // "(ISF)" defines an acronym for this name
            if (i + 3 < s.end_token && t[i + 1].hash == H("(") && t[i + 2].all_caps &&
                t[i + 3].hash == H(")")) {
              acronyms[t[i + 2].key] = k;
            }
          }
        }
        continue;
      }
      // a described proposal: "a stabilisation force", "the reassurance force for Ukraine"
      uint32_t j = i;
      while (j > s.first_token && i - j < 4 && t[j - 1].word && !t[j - 1].capitalized &&
             !(t[j - 1].cls & (kClosedClasses | kTopicSkip)) && t[j - 1].hash != H("'s")) {
        --j;
      }
      if (j == i) continue;
      std::vector<std::string> words;
      uint32_t end = i + 1;
      bool placed = false;
      if (i + 2 < s.end_token && (t[i + 1].hash == H("in") || t[i + 1].hash == H("for")) &&
          t[i + 2].capitalized && t[i + 2].word) {
        words.push_back(t[i + 2].key);  // the place leads the key: "gaza-...-force"
        end = i + 3;
        placed = true;
      }
      for (uint32_t k = j; k <= i; ++k) words.push_back(t[k].key);
      std::string key = kn.lex.TopicKey(words);
      if (key.empty() || key.find('-') == std::string::npos) continue;
      int k = index_of(key, doc.Bytes(j, end));
      weight[k] += 1;
      if (placed) specific[k] = 1;
      if (out->sentence_topic[si] < 0) out->sentence_topic[si] = k;
      named(k, si);
      if (t[i].all_caps) {
        auto it = acronyms.find(t[i].key);
        if (it != acronyms.end()) weight[it->second] += 1;
      }
    }
  }
  // A proposal the gazetteer knows outranks generated keys, however often the item describes
  // it generically ("the trade agreement" in an item about the EU-Mercosur agreement).
  int best = -1;
  std::pair<bool, int> best_rank{false, 0};
  for (size_t k = 0; k < out->keys.size(); ++k) {
    const std::pair<bool, int> rank{known[k] != 0, weight[k]};
    if (rank.second > 0 && rank > best_rank) {
      best_rank = rank;
      best = static_cast<int>(k);
    }
  }
  // A generic description alone ("the peace deal", "an immediate ceasefire") names no proposal
  // that other items could share: such an item keeps a key of its own.
  if (best >= 0 && !specific[best]) best = -1;
  out->dominant = best;
}

void TraceTopics(const Trace& trace, const ItemTopics& topics) {
  if (!trace.on()) return;
  for (size_t k = 0; k < topics.keys.size(); ++k) {
    std::string sentences;
    for (uint32_t si : topics.named_in[k]) {
      sentences += sentences.empty() ? "" : ",";
      sentences += std::to_string(si);
    }
    trace.Line("topics", "%s (\"%s\") weight %d%s, sentences %s", topics.keys[k].first.c_str(),
               topics.keys[k].second.c_str(), topics.weight[k], topics.known[k] ? " known" : "",
               sentences.c_str());
  }
  trace.Line("topics", "dominant: %s",
             topics.dominant >= 0 ? topics.keys[topics.dominant].first.c_str() : "none");
}

}  // namespace stancewire::extraction
