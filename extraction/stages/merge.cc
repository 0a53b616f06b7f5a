#include "extraction/stages/merge.h"

#include <algorithm>
#include <unordered_set>

#include "extraction/phrases.h"

namespace stancewire::extraction {
namespace {

using v1::Position;

uint64_t Fnv(std::string_view s, uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// h as 16 lower-case hex digits ("%016llx", without printf's parsing on the hot path).
std::string Hex16(uint64_t h) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[i] = kDigits[h & 0xf];
  return out;
}

int Rank(Position p) {
  switch (p) {
    case v1::POSITION_CONDITIONAL:
      return 4;
    case v1::POSITION_OPPOSE:
      return 3;
    case v1::POSITION_SUPPORT:
      return 2;
    case v1::POSITION_UNDECIDED:
      return 1;
    default:
      return 0;
  }
}

}  // namespace

std::string ItemTopicKey(std::string_view item_id) {
  std::string key = "item-";
  for (char c : item_id) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    key.push_back((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '-');
  }
  return key;
}

void EmitContributions(const SentenceView& v, uint32_t si, const std::vector<Occurrence>& cues,
                       const CueAssignments& ca, std::vector<Attached>* attached_conditions,
                       std::vector<Contribution>* out) {
  const std::vector<Token>& t = v.t;
  const uint32_t b = v.b;
  const auto& mentions = v.mentions;
  const auto& reports = v.reports;
  std::vector<Attached>& attached = *attached_conditions;
  // conditions held by a counted group ("the eight participating countries") hold for each
  for (size_t i = 0, n = attached.size(); i < n; ++i) {
    const int mk = attached[i].mention;
    if (mk < 0 || mentions[mk].group < 0 || attached[i].actor != mentions[mk].actor) continue;
    const std::vector<int>& group = v.sm.groups[mentions[mk].group];
    for (size_t g = 1; g < group.size(); ++g) {
      attached.push_back(attached[i]);
      attached.back().actor = group[g];
    }
  }
  auto make = [&](int mention, int actor) {
    Contribution c;
    c.actor = actor;
    c.sentence = si;
    if (mention >= 0) {
      c.mention_begin = t[mentions[mention].begin].start;
      c.mention_end = t[mentions[mention].end - 1].end;
    }
    c.person = mention >= 0 ? mentions[mention].person : -1;
    if (c.person < 0) {
      for (const Report& r : reports) {
        if (r.mention >= 0 && mentions[r.mention].person >= 0 &&
            mentions[r.mention].actor == actor) {
          c.person = mentions[r.mention].person;
          break;
        }
      }
    }
    c.attribution = v.AttributionFor(mention);
    return c;
  };
  for (const auto& a : ca.assigned) {
    if (a.neutral) continue;
    Contribution c = make(a.mention, a.actor);
    c.position = a.position;
    c.weak = a.weak;
    {
      uint32_t cb = cues[a.cue].begin;
      c.historical =
          (cb > b && t[cb - 1].hash == H("had")) ||
          (cb > b + 1 && t[cb - 2].hash == H("had") && !(t[cb - 1].cls & kClosedClasses));
    }
    c.cue = v.know.lex.cues[cues[a.cue].index].phrase;
    c.holder_rule = a.rule;
    for (auto& at : attached) {
      if (at.actor != a.actor) continue;
      for (auto& h : at.hits) c.conditions.push_back(h);
      for (auto& p : at.patterns) c.condition_patterns.push_back(p);
      at.actor = -1;  // consumed
    }
    if (!c.conditions.empty()) c.position = v1::POSITION_CONDITIONAL;
    out->push_back(std::move(c));
  }
  for (const Mention& m : mentions) {
    // "The Egyptian proposal calls for ...": an actor's own plan as a clause subject
    if (!m.proposal || !m.subject || !v.know.Holdable(m.actor)) continue;
    Contribution c = make(static_cast<int>(&m - mentions.data()), m.actor);
    c.position = v1::POSITION_SUPPORT;
    c.cue = "own proposal";
    c.holder_rule = "subject proposal noun";
    out->push_back(std::move(c));
  }
  for (auto& at : attached) {
    if (at.actor < 0) continue;
    // merge with an earlier attached entry for the same actor
    Contribution c = make(at.mention, at.actor);
    c.position = at.hits.empty() ? v1::POSITION_OPPOSE : v1::POSITION_CONDITIONAL;
    c.conditions = at.hits;
    c.condition_patterns = at.patterns;
    c.cue = "condition";
    c.holder_rule = at.rule;
    out->push_back(std::move(c));
  }
}

std::vector<v1::Stance> MergeStances(const Knowledge& k, const v1::NewsItem& item,
                                     const Document& doc, const ItemTopics& topics,
                                     const std::vector<Contribution>& contributions, bool explain) {
  std::vector<v1::Stance> out;
  const std::string& text = item.text();
  // The item's topic. A sentence naming a topic other than the dominant one gives way to it (one
  // item rarely splits one actor's stance), and sentences naming none take it too. An item that
  // names no proposal specifically (none known, no name, only generic descriptions) still speaks
  // of one thing: its stances share a key of their own ("item-<id>"), labelled with the
  // headline, so that they group together without being merged with other items' unnamed
  // topics. So (actor, topic) pairs are one per actor here.
  const bool named = topics.dominant >= 0;
  const std::string topic = named ? topics.keys[topics.dominant].first : ItemTopicKey(item.id());
  const std::string& label = named ? topics.keys[topics.dominant].second : item.title();
  struct Merged {
    int actor;
    std::vector<const Contribution*> parts;
  };
  std::vector<Merged> merged;
  // By actor: thousands of actors stay linear, and an item's few dozen cost one table rather than
  // a node each. Keys are actor + 1 (actors are indices, and the map reserves key 0); values are
  // the index into merged + 1 (0 = not there yet).
  FlatMap64 merged_index;
  auto add = [&](int actor, const Contribution& c) {
    uint32_t* slot = merged_index.FindOrInsert(static_cast<uint64_t>(actor) + 1);
    if (*slot == 0) {
      merged.push_back(Merged{actor, {}});
      *slot = static_cast<uint32_t>(merged.size());
    }
    merged[*slot - 1].parts.push_back(&c);
  };
  for (const Contribution& c : contributions) {
    // a group's stance is each member's ("the E3 triggered the snapback")
    const std::vector<uint32_t>& members = k.actors.members(c.actor);
    if (members.empty()) add(c.actor, c);
    for (uint32_t member : members) add(static_cast<int>(member), c);
  }

  out.reserve(merged.size());
  for (const Merged& m : merged) {
    Position best = v1::POSITION_UNSPECIFIED;
    bool strong_seen = false, current_seen = false;
    for (const Contribution* c : m.parts) {
      strong_seen |= !c->weak;
      current_seen |= !c->historical;
    }
    for (const Contribution* c : m.parts) {
      if (strong_seen && c->weak && c->position == v1::POSITION_SUPPORT && c->conditions.empty())
        continue;
      // "had opposed the measure, but ... has signalled it may back": the current position wins
      if (current_seen && c->historical && c->conditions.empty()) continue;
      if (Rank(c->position) > Rank(best)) best = c->position;
    }
    if (best != v1::POSITION_CONDITIONAL) {
      // Without conditions, the first sentence that gives a position decides: news leads with
      // the stance and qualifies it later ("announced its support ... does not support the veto
      // privileges"). Within that sentence the stronger one wins ("will provide logistical
      // support but will not send soldiers").
      int lead = -1;
      for (const Contribution* c : m.parts) {
        if (strong_seen && c->weak && c->position == v1::POSITION_SUPPORT && c->conditions.empty())
          continue;
        if (current_seen && c->historical && c->conditions.empty()) continue;
        if (c->position == v1::POSITION_UNSPECIFIED) continue;
        if (lead >= 0 && static_cast<int>(c->sentence) != lead) break;
        if (lead < 0) best = v1::POSITION_UNSPECIFIED;
        lead = static_cast<int>(c->sentence);
        if (Rank(c->position) > Rank(best)) best = c->position;
      }
    }
    if (best == v1::POSITION_UNSPECIFIED) continue;
    const Contribution* ev = nullptr;
    for (const Contribution* c : m.parts) {
      if (c->position == best && (!ev || (ev->weak && !c->weak))) ev = c;
    }
    if (!ev) ev = m.parts.front();
    const Sentence& s = doc.sentences[ev->sentence];
    const auto& rec = k.actors.record(m.actor);

    // Built in place (out has room for every stance): moving a local message into out and
    // destroying the emptied local cost about a tenth of MergeStances.
    v1::Stance& stance = out.emplace_back();
    uint64_t h = Fnv(item.id());
    h = Fnv("\x1f", h);
    h = Fnv(rec.id, h);
    h = Fnv("\x1f", h);
    h = Fnv(topic, h);
    stance.set_id(Hex16(h));
    stance.set_item_id(item.id());
    stance.mutable_actor()->set_id(rec.id);
    stance.mutable_actor()->set_name(rec.name);
    stance.mutable_actor()->set_kind(rec.kind);
    if (ev->mention_end > ev->mention_begin) {
      stance.mutable_actor()->set_mention(
          text.substr(ev->mention_begin, ev->mention_end - ev->mention_begin));
    }
    // Empty strings are left unset: protobuf allocates even for "", and an unset proto3 string
    // prints and serialises as an empty one does.
    stance.set_topic(topic);
    if (!label.empty()) stance.set_topic_label(label);
    stance.set_position(best);
    if (best == v1::POSITION_CONDITIONAL) {
      // a set, not a list: an item repeating its conditions thousands of times stays linear
      std::unordered_set<std::string> seen;
      for (const Contribution* c : m.parts) {
        for (const ConditionHit& h : c->conditions) {
          uint32_t cb = doc.tokens[h.begin].start, ce = doc.tokens[h.end - 1].end;
          if (!seen.insert(h.kind + "\x1f" + std::to_string(cb)).second) continue;
          v1::Condition* cond = stance.add_conditions();
          cond->set_kind(h.kind);
          cond->set_text(text.substr(cb, ce - cb));
          cond->set_start(cb);
          cond->set_end(ce);
        }
      }
    }
    if (!ev->attribution.empty()) stance.set_attribution(ev->attribution);
    stance.mutable_evidence()->set_text(text.substr(s.start, s.end - s.start));
    stance.mutable_evidence()->set_start(s.start);
    stance.mutable_evidence()->set_end(s.end);
    if (!item.url().empty()) stance.set_url(item.url());
    if (!item.outlet().empty()) stance.set_outlet(item.outlet());
    if (item.has_published()) *stance.mutable_published() = item.published();
    int speaker = ev->person;
    for (const Contribution* c : m.parts) {
      if (speaker < 0) speaker = c->person;
    }
    if (speaker >= 0) stance.set_speaker(k.actors.persons()[speaker].name);
    float conf = ev->weak ? 0.45f : 0.6f;
    if (ev->holder_rule.rfind("subject", 0) == 0 || ev->holder_rule == "passive agent")
      conf += 0.1f;
    conf += 0.05f * static_cast<float>(std::min<size_t>(m.parts.size() - 1, 4));
    if (best == v1::POSITION_CONDITIONAL) conf += 0.05f;
    stance.set_confidence(std::min(conf, 0.95f));
    if (explain) {
      v1::Explanation* x = stance.mutable_explanation();
      for (const Contribution* c : m.parts) {
        x->add_cues(c->cue + " -> " + v1::Position_Name(c->position) + " (sentence " +
                    std::to_string(c->sentence + 1) + ")");
        x->add_holder_rules(c->holder_rule);
        for (const auto& p : c->condition_patterns) x->add_condition_patterns(p);
      }
    }
  }
  return out;
}

}  // namespace stancewire::extraction
