#include "extraction/stages/mentions.h"

#include <algorithm>
#include <string>

#include "extraction/clause_structure.h"

namespace stancewire::extraction {

const char* MentionRule(MentionKind k) {
  // in the order of MentionKind
  static const char* const kRules[] = {
      "name",    "metonym",      "role noun",        "possessive position noun",
      "person",  "pronoun",      "personal pronoun", "first-person pronoun (quoted speaker)",
      "anaphor", "group anaphor"};
  const size_t i = static_cast<size_t>(k);
  return i < sizeof kRules / sizeof kRules[0] ? kRules[i] : "";
}

namespace {

// "A B, C and D": copy that drops one comma in a list of names still lists B. Both names must
// touch and the list must go on after B, so "the Russia Ukraine talks" stays what it was.
bool MissingComma(const std::vector<Token>& t, const std::vector<Mention>& mentions, size_t k) {
  const Mention& a = mentions[k - 1];
  const Mention& b = mentions[k];
  return a.end == b.begin && a.kind == MentionKind::kName && b.kind == MentionKind::kName &&
         k + 1 < mentions.size() && ListSeparated(t, b.end, mentions[k + 1].begin);
}

}  // namespace

std::vector<int> ListFrom(const std::vector<Token>& t, const std::vector<Mention>& mentions,
                          int first) {
  std::vector<int> out{first};
  for (size_t k = first + 1; k < mentions.size(); ++k) {
    if (!ListSeparated(t, mentions[k - 1].end, mentions[k].begin) && !MissingComma(t, mentions, k))
      break;
    out.push_back(static_cast<int>(k));
  }
  return out;
}

namespace {

// "Egypt's support for the plan": a stance noun that is itself a position cue says the position;
// the cue stage reads it with its owner (possessive), as for "Belgium's resistance".
bool IsPositionCue(const Knowledge& k, const std::vector<Token>& t, uint32_t i, uint32_t e) {
  if (i >= e || !(t[i].cls & kStartsCue)) return false;
  const PhraseMatcher::Match m = k.lex.cue_matcher.Longest(t, i, e);
  if (!m.length) return false;
  const CueClass c = k.lex.cues[(*m.payloads)[0]].cls;
  return c == CueClass::kSupport || c == CueClass::kOppose || c == CueClass::kUndecided;
}

// "the eight participating countries", "the two sides", "these three states": a definite group
// noun counted by a number, with at most one word between. Returns the count (0: none) and sets
// *end after the noun. "The other eight" is no group: it counts the rest of a list, not a list.
uint32_t CountedGroup(const Knowledge& k, const std::vector<Token>& t, uint32_t i, uint32_t e,
                      uint32_t* end) {
  const uint64_t h = t[i].hash;
  if (i + 2 >= e || (h != H("the") && h != H("these") && h != H("those"))) return 0;
  const uint32_t n = k.lex.NumberAt(t[i + 1]);
  if (n < 2) return 0;
  uint32_t j = i + 2;
  if (!(t[j].cls & kGroupNoun) && j + 1 < e && t[j].word && !t[j].capitalized) ++j;
  if (!(t[j].cls & kGroupNoun)) return 0;
  *end = j + 1;
  return n;
}

void Scan(const Knowledge& k, const Document& doc, uint32_t b, uint32_t e,
          std::vector<Mention>* out) {
  const auto& t = doc.tokens;
  uint32_t i = b;
  auto skip_name = [&](uint32_t j) {  // unknown capitalised name after a title
    while (j < e && t[j].word && t[j].capitalized) {
      ++j;
      if (MiddleInitial(t, j, e)) j += 2;  // "Volodymyr V. Havrylov"
    }
    return j;
  };
  // A role noun ending before `of` or `from` followed by a name ("... of the Netherlands",
  // "foreign ministers from the Group of Seven"): makes *m a role mention of that actor, ending
  // after the name.
  auto role_of_actor = [&](uint32_t of, Mention* m) {
    if (of + 1 >= e || (t[of].hash != H("of") && t[of].hash != H("from"))) return false;
    uint32_t at = of + 1;
    if (at < e && t[at].hash == H("the")) ++at;
    Actors::Hit name = at < e ? k.actors.Match(doc.text, t, at, e, doc.date) : Actors::Hit{};
    if (!name.length ||
        (name.alias->type != AliasType::kName && name.alias->type != AliasType::kMetonym)) {
      return false;
    }
    m->kind = MentionKind::kRole;
    m->actor = static_cast<int>(name.alias->actor);
    m->end = at + name.length;
    return true;
  };
  while (i < e) {
    if (!t[i].word) {
      ++i;
      continue;
    }
    Mention m;
    m.begin = i;
    if (uint32_t end, n; (n = CountedGroup(k, t, i, e, &end)) != 0) {
      m.kind = MentionKind::kGroupAnaphor;
      m.end = end;
      m.group_size = n;
      out->push_back(m);
      i = end;
      continue;
    }
    // anaphors: "the kingdom", "the country's foreign minister", "its prime minister"
    // anaphors start with a determiner or possessive ("the kingdom", "his country")
    PhraseMatcher::Match an;
    if (t[i].cls & kStartsAnaphor) an = k.lex.anaphor_matcher.Longest(t, i, e);
    if (an.length) {
      // a name wins over an anaphor it starts with: "the Organisation of Islamic Cooperation"
      uint32_t s0 = i + (((t[i].cls & kDeterminer) != 0) ? 1 : 0);
      Actors::Hit longer = k.actors.Match(doc.text, t, s0, e, doc.date);
      if (longer.length && s0 + longer.length > i + an.length) an.length = 0;
    }
    // "the government of Greenland" names its actor: not an anaphor
    if (an.length && role_of_actor(i + an.length, &m)) {
      out->push_back(m);
      i = m.end;
      continue;
    }
    if (an.length) {
      m.kind = MentionKind::kAnaphor;
      m.end = i + an.length;
      RoleType rt;
      uint32_t rl;
      if (m.end + 1 < e && t[m.end].hash == H("'s") && k.RoleAt(t, m.end + 1, e, &rt, &rl, true) &&
          (rt == RoleType::kSpeaker || rt == RoleType::kBody)) {
        m.end = m.end + 1 + rl;
      }
      out->push_back(m);
      i = m.end;
      continue;
    }
    if (((t[i].cls & kPossessivePronoun) != 0)) {
      RoleType rt;
      uint32_t rl;
      if (k.RoleAt(t, i + 1, e, &rt, &rl, false) &&
          (rt == RoleType::kSpeaker || rt == RoleType::kBody)) {
        m.kind = MentionKind::kAnaphor;
        m.end = i + 1 + rl;
        out->push_back(m);
        i = m.end;
        continue;
      }
    }
    // leading determiners / modifiers belong to the mention text ("a senior Emirati official")
    uint32_t lead = i;
    while (lead < e && (((t[lead].cls & kDeterminer) != 0)) && lead - i < 3) ++lead;
    uint32_t start = lead;
    if (start >= e) break;
    // a title before a person: "President Prabowo Subianto", "UN Secretary-General ..."
    RoleType rt;
    uint32_t rl;
    Actors::Hit hit;
    if (lead > i && (t[i].cls & kStartsActor)) {
      // a name may begin with a determiner-like word: "New Zealand"
      hit = k.actors.Match(doc.text, t, i, e, doc.date);
      if (hit.length) start = i;
    }
    if (!hit.length && (t[start].cls & kStartsActor)) {
      hit = k.actors.Match(doc.text, t, start, e, doc.date);
    }
    if (!hit.length && t[start].capitalized && k.RoleAt(t, start, e, &rt, &rl, true, true) &&
        rt == RoleType::kTitle) {
      Actors::Hit p = k.actors.Match(doc.text, t, start + rl, e, doc.date);
      if (p.length && p.alias->type == AliasType::kPerson) {
        m.kind = MentionKind::kPerson;
        m.actor = static_cast<int>(p.alias->actor);
        m.person = p.alias->person;
        m.names_person = true;
        m.begin = i;
        m.end = start + rl + p.length;
        // "Prime Minister Giorgia Meloni's office"
        RoleType r2;
        uint32_t l2;
        if (m.end + 1 < e && t[m.end].hash == H("'s") &&
            k.RoleAt(t, m.end + 1, e, &r2, &l2, true) && r2 == RoleType::kBody) {
          m.kind = MentionKind::kRole;
          m.end = m.end + 1 + l2;
        }
        out->push_back(m);
        i = m.end;
        continue;
      }
      i = std::max(skip_name(start + rl), start + rl);
      continue;
    }
    // "the foreign minister of Qatar", "officials from Egypt"
    if (!hit.length && k.RoleAt(t, start, e, &rt, &rl, false) &&
        (rt == RoleType::kSpeaker || rt == RoleType::kBody || rt == RoleType::kVoice)) {
      if (role_of_actor(start + rl, &m)) {
        out->push_back(m);
        i = m.end;
        continue;
      }
      // a body named without its state ("National Security Council spokesman Brian Hughes") is
      // no mention, and no shorter name inside it is one ("Security Council": the UN's)
      if (rt == RoleType::kBody && rl >= 2) {
        i = start + rl;
        continue;
      }
    }
    if (!hit.length) {
      if (start == i && (t[i].cls & (kPronounActor | kPronounPerson | kPronounSpeaker))) {
        m.kind = (t[i].cls & kPronounActor)    ? MentionKind::kPronoun
                 : (t[i].cls & kPronounPerson) ? MentionKind::kPronounPerson
                                               : MentionKind::kPronounSpeaker;
        m.end = i + 1;
        out->push_back(m);
      }
      i = start + 1;
      continue;
    }
    const Actors::Alias& a = *hit.alias;
    uint32_t after = start + hit.length;
    m.actor = static_cast<int>(a.actor);
    m.begin = i;
    if (a.type == AliasType::kDemonym) {
      // a demonym names an actor only before a role noun or a title:
      // "the Turkish foreign minister", "Egyptian officials", "French President Emmanuel Macron"
      if (k.RoleAt(t, after, e, &rt, &rl, false, true)) {
        if (rt == RoleType::kSpeaker || rt == RoleType::kBody || rt == RoleType::kVoice ||
            rt == RoleType::kProposal) {
          m.kind = MentionKind::kRole;
          m.voice = rt == RoleType::kVoice;
          m.proposal = rt == RoleType::kProposal;
          m.end = after + rl;
          out->push_back(m);
          i = m.end;
          continue;
        }
        if (rt == RoleType::kTitle) {
          Actors::Hit p = k.actors.Match(doc.text, t, after + rl, e, doc.date);
          m.kind = MentionKind::kRole;
          if (p.length && p.alias->type == AliasType::kPerson) {
            m.person = p.alias->person;
            m.kind = MentionKind::kPerson;
            m.end = after + rl + p.length;
          } else {
            m.end = std::max(skip_name(after + rl), after + rl);
          }
          m.names_person = m.end > after + rl;
          out->push_back(m);
          i = m.end;
          continue;
        }
      }
      // adjective use ("Turkish soldiers"); kept only to carry compound cues ("French-drafted")
      if (after + 1 < e && t[after].hash == H("-") && !t[after].space_before &&
          !t[after + 1].space_before) {
        m.kind = MentionKind::kName;
        m.end = after;
        m.possessive_other = true;
        out->push_back(m);
      }
      i = after;
      continue;
    }
    if (a.type == AliasType::kPerson) {
      m.kind = MentionKind::kPerson;
      m.person = a.person;
      m.names_person = true;
      m.end = after;
      if (after + 1 < e && t[after].hash == H("'s") && k.RoleAt(t, after + 1, e, &rt, &rl, true) &&
          rt == RoleType::kBody) {
        m.kind = MentionKind::kRole;
        m.end = after + 1 + rl;
      }
      out->push_back(m);
      i = m.end;
      continue;
    }
    m.kind = a.type == AliasType::kMetonym ? MentionKind::kMetonym : MentionKind::kName;
    m.end = after;
    if (after < e && t[after].hash == H("'s")) {
      if (k.RoleAt(t, after + 1, e, &rt, &rl, true)) {
        if (rt == RoleType::kSpeaker || rt == RoleType::kBody || rt == RoleType::kVoice) {
          m.kind = MentionKind::kRole;
          m.end = after + 1 + rl;
        } else if (rt == RoleType::kStance && !IsPositionCue(k, t, after + 1, e)) {
          m.kind = MentionKind::kStanceNoun;
          m.end = after + 1 + rl;
        } else if (rt == RoleType::kProposal) {
          m.kind = MentionKind::kRole;
          m.proposal = true;
          m.end = after + 1 + rl;
        } else {
          m.possessive_other = true;
          m.end = after + 1;
        }
      } else {
        m.possessive_other = true;
        m.end = after + 1;
      }
    } else if (k.RoleAt(t, after, e, &rt, &rl, false, true)) {
      // "EU diplomats", "U.S. officials", "UN Secretary-General António Guterres"
      if (rt == RoleType::kSpeaker || rt == RoleType::kBody || rt == RoleType::kVoice) {
        m.kind = MentionKind::kRole;
        m.voice = rt == RoleType::kVoice;
        m.end = after + rl;
      } else if (rt == RoleType::kTitle) {
        Actors::Hit p = k.actors.Match(doc.text, t, after + rl, e, doc.date);
        m.kind = MentionKind::kRole;
        if (p.length && p.alias->type == AliasType::kPerson) {
          m.person = p.alias->person;
          m.end = after + rl + p.length;
        } else {
          m.end = std::max(skip_name(after + rl), after + rl);
        }
        m.names_person = m.end > after + rl;
      } else if (rt == RoleType::kMedia) {
        i = after + rl;  // "Israeli media": a source, never a holder
        continue;
      }
    } else if (start > i && (t[start - 1].hash == H("a") || t[start - 1].hash == H("an")) &&
               after < e && t[after].word && !t[after].capitalized) {
      // "a U.S. veto": the name used as a modifier
      m.possessive_other = true;
    }
    out->push_back(m);
    i = m.end;
  }
}

}  // namespace

void FindMentions(const Knowledge& k, const Document& doc, uint32_t b, uint32_t e,
                  SentenceMentions* out) {
  out->begin = b;
  out->list.clear();
  out->groups.clear();
  Scan(k, doc, b, e, &out->list);
  for (Mention& m : out->list) {
    if (m.actor >= 0 && k.holds_as[m.actor] >= 0) m.actor = k.holds_as[m.actor];
  }
  IndexMentions(b, e, out);
}

void IndexMentions(uint32_t b, uint32_t e, SentenceMentions* out) {
  const uint32_t n = e - b;
  out->ending.assign(n, -1);
  out->covering.assign(n, -1);
  for (size_t i = 0; i < out->list.size(); ++i) {
    const Mention& m = out->list[i];
    out->ending[m.end - 1 - b] = static_cast<int>(i);
    for (uint32_t j = m.begin; j < m.end; ++j) out->covering[j - b] = static_cast<int>(i);
  }
}

void TraceMentions(const Trace& trace, const Knowledge& k, const Document& doc,
                   const SentenceMentions& m) {
  if (!trace.on()) return;
  for (const auto& x : m.list) {
    const std::string text(doc.Bytes(x.begin, x.end));
    trace.Line("mentions", "[%s] %s actor=%s subj=%d poss=%d", text.c_str(), MentionRule(x.kind),
               x.actor >= 0 ? k.actors.record(x.actor).id.c_str() : "-", x.subject,
               x.possessive_other);
  }
}

}  // namespace stancewire::extraction
