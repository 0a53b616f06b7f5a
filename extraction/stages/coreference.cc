#include "extraction/stages/coreference.h"

#include <algorithm>
#include <string>

namespace stancewire::extraction {

namespace {

// What the mentions so far in a sentence offer as antecedents.
struct Antecedents {
  int subject_actor = -1, person_actor = -1, subject_mention = -1, any_actor = -1;
  void Add(const Knowledge& kn, const Mention& m, int k) {
    if (m.actor >= 0 && m.kind != MentionKind::kAnaphor && kn.Holdable(m.actor))
      any_actor = m.actor;
    if (m.subject && m.actor >= 0 && kn.Holdable(m.actor)) {
      subject_actor = m.actor;
      if (m.kind != MentionKind::kPronoun) subject_mention = k;
    }
    if ((m.person >= 0 || m.names_person) && m.actor >= 0) person_actor = m.actor;
  }
};

// Sentences back that a pronoun without an antecedent in its own sentence may reach.
constexpr int kPronounReach = 2;
// Sentences back that a counted group may reach (the lists of the last four): its number, not
// recency, picks the list.
constexpr int kGroupReach = 4;
constexpr size_t kMaxLists = 8;

bool ListMember(const Knowledge& kn, const Mention& m) {
  return m.actor >= 0 && kn.Holdable(m.actor) &&
         (m.kind == MentionKind::kName || m.kind == MentionKind::kMetonym ||
          m.kind == MentionKind::kRole || m.kind == MentionKind::kPerson);
}

// The lists of two or more distinct holdable actors among mentions [0, end), in text order.
std::vector<std::vector<int>> ListsBefore(const Knowledge& kn, const std::vector<Token>& t,
                                          const std::vector<Mention>& mentions, size_t end) {
  std::vector<std::vector<int>> out;
  for (size_t s = 0; s < end; ++s) {
    if (!ListMember(kn, mentions[s])) continue;
    if (s > 0 && ListSeparated(t, mentions[s - 1].end, mentions[s].begin)) continue;  // inside
    // most mentions start no list: spare them ListFrom's vector (this runs on every sentence);
    // touching names are the dropped comma ListFrom also reads as a separator
    if (s + 1 >= end || (!ListSeparated(t, mentions[s].end, mentions[s + 1].begin) &&
                         mentions[s].end != mentions[s + 1].begin))
      continue;
    std::vector<int> actors;
    size_t last = s;
    for (int k : ListFrom(t, mentions, static_cast<int>(s))) {
      if (static_cast<size_t>(k) >= end || !ListMember(kn, mentions[k])) break;
      last = k;
      if (std::find(actors.begin(), actors.end(), mentions[k].actor) == actors.end())
        actors.push_back(mentions[k].actor);
    }
    if (actors.size() >= 2) out.push_back(std::move(actors));
    s = last;
  }
  return out;
}

// The actors a counted group stands for, empty when no list of that size is in reach.
std::vector<int> GroupFor(const Knowledge& kn, const std::vector<Token>& t,
                          const std::vector<Mention>& mentions, size_t k, const Discourse& d) {
  const size_t n = mentions[k].group_size;
  std::vector<std::vector<int>> here = ListsBefore(kn, t, mentions, k);
  for (auto it = here.rbegin(); it != here.rend(); ++it) {
    if (it->size() == n) return *it;
  }
  for (auto it = d.lists.rbegin(); it != d.lists.rend(); ++it) {
    if (it->actors.size() == n && it->age < kGroupReach) return it->actors;
  }
  return {};
}

}  // namespace

void ResolveInSentence(const Knowledge& kn, const std::vector<Token>& t, uint32_t b,
                       const Discourse& d, SentenceMentions* sm) {
  std::vector<Mention>& mentions = sm->list;
  // Outside a quotation, only mentions outside it are antecedents: in "'We reject any plan
  // that sidelines Egypt,' the ministry said" the ministry is not Egypt's.
  Antecedents all, outside;
  bool quoted = false;
  uint32_t scanned = b;
  for (size_t k = 0; k < mentions.size(); ++k) {
    Mention& m = mentions[k];
    for (; scanned < m.begin; ++scanned) quoted ^= t[scanned].hash == H("\"");
    const Antecedents& a = quoted ? all : outside;
    if (m.kind == MentionKind::kPronoun) {
      // "it" reaches back two sentences at most: after a paragraph about the force itself, "It
      // would depend on US intelligence" is the force, not the state named at the top
      m.actor = a.subject_actor >= 0 ? a.subject_actor
                                     : (d.salient_age <= kPronounReach ? d.salient_actor : -1);
      m.antecedent = a.subject_mention;
    } else if (m.kind == MentionKind::kPronounPerson) {
      m.actor = a.person_actor >= 0 ? a.person_actor : d.salient_person_actor;
    } else if (m.kind == MentionKind::kAnaphor) {
      // "the country": the last subject, else the last state named in the sentence, else the
      // actor of the previous sentence
      m.actor = a.subject_actor >= 0 ? a.subject_actor : a.any_actor;
      if (m.actor < 0) m.actor = d.salient_actor;
    } else if (m.kind == MentionKind::kGroupAnaphor) {
      std::vector<int> group = GroupFor(kn, t, mentions, k, d);
      if (!group.empty()) {
        m.actor = group[0];
        m.group = static_cast<int>(sm->groups.size());
        sm->groups.push_back(std::move(group));
      }
    }
    all.Add(kn, m, static_cast<int>(k));
    if (!quoted) outside.Add(kn, m, static_cast<int>(k));
  }
}

void ResolveQuotedSpeakers(const Clauses& c, SentenceMentions* sm) {
  std::vector<Mention>& mentions = sm->list;
  for (Mention& m : mentions) {
    if (m.kind != MentionKind::kPronounSpeaker) continue;
    for (const Report& r : c.reports) {
      if (r.mention >= 0 && mentions[r.mention].actor >= 0 && !r.according_to) {
        m.actor = mentions[r.mention].actor;
        break;
      }
    }
  }
}

void ResolveNames(const Document& doc, uint32_t b, uint32_t e, const Discourse& d,
                  SentenceMentions* sm) {
  if (d.names.empty()) return;
  const auto& t = doc.tokens;
  std::vector<Mention>& list = sm->list;
  size_t added = 0;
  for (uint32_t j = b; j < e; ++j) {
    if (!t[j].word || !t[j].capitalized || t[j].all_caps || sm->CoveringAt(j) >= 0) continue;
    if (j + 1 < e && t[j + 1].word && t[j + 1].capitalized) continue;  // "Tanner Group"
    auto it = d.names.find(t[j].hash);
    if (it == d.names.end() || it->second.actor < 0) continue;
    Mention m;
    m.begin = j;
    m.end = j + 1;
    m.kind = MentionKind::kPerson;
    m.actor = it->second.actor;
    m.person = it->second.person;
    m.names_person = true;
    list.push_back(m);
    ++added;
  }
  if (!added) return;
  std::stable_sort(list.begin(), list.end(),
                   [](const Mention& x, const Mention& y) { return x.begin < y.begin; });
  IndexMentions(b, e, sm);
}

void LearnNames(const Document& doc, const SentenceMentions& sm, Discourse* d) {
  constexpr size_t kMaxNames = 1024;  // an item naming thousands of people stays bounded
  const auto& t = doc.tokens;
  for (const Mention& m : sm.list) {
    if (!m.names_person || m.actor < 0) continue;
    const Token& last = t[m.end - 1];
    if (!last.word || !last.capitalized || last.all_caps) continue;
    auto [it, fresh] = d->names.try_emplace(last.hash);
    if (fresh && d->names.size() > kMaxNames) {
      d->names.erase(it);
      continue;
    }
    if (fresh) {
      it->second = {m.actor, m.person};
    } else if (it->second.actor != m.actor) {
      it->second.actor = -1;
    }
  }
}

void LearnLists(const Knowledge& k, const std::vector<Token>& t, const SentenceMentions& sm,
                Discourse* d) {
  for (auto& l : d->lists) ++l.age;
  d->lists.erase(std::remove_if(d->lists.begin(), d->lists.end(),
                                [](const Discourse::NamedList& l) { return l.age >= kGroupReach; }),
                 d->lists.end());
  for (std::vector<int>& actors : ListsBefore(k, t, sm.list, sm.list.size()))
    d->lists.push_back({std::move(actors), 0});
  if (d->lists.size() > kMaxLists) d->lists.erase(d->lists.begin(), d->lists.end() - kMaxLists);
}

void UpdateSalience(const Knowledge& k, int holder_actor, const SentenceMentions& sm,
                    Discourse* d) {
  int salient = holder_actor;
  if (salient < 0) {
    for (const auto& m : sm.list) {
      if (m.subject && m.actor >= 0 && k.Holdable(m.actor) && m.kind != MentionKind::kPronoun) {
        salient = m.actor;
        break;
      }
    }
  }
  if (salient >= 0) {
    d->salient_actor = salient;
    d->salient_age = 0;
  } else {
    ++d->salient_age;
  }
  for (const auto& m : sm.list) {
    if ((m.person >= 0 || m.names_person) && m.actor >= 0) d->salient_person_actor = m.actor;
  }
}

void TraceCoreference(const Trace& trace, const Knowledge& k, const Document& doc,
                      const SentenceMentions& sm, const Discourse& d) {
  if (!trace.on()) return;
  auto id = [&](int actor) { return actor >= 0 ? k.actors.record(actor).id.c_str() : "-"; };
  for (const Mention& m : sm.list) {
    if (m.kind != MentionKind::kPronoun && m.kind != MentionKind::kPronounPerson &&
        m.kind != MentionKind::kPronounSpeaker && m.kind != MentionKind::kAnaphor &&
        m.kind != MentionKind::kGroupAnaphor) {
      continue;
    }
    const std::string text(doc.Bytes(m.begin, m.end));
    std::string antecedent;
    if (m.antecedent >= 0) {
      const Mention& a = sm.list[m.antecedent];
      antecedent = " (antecedent [" + std::string(doc.Bytes(a.begin, a.end)) + "])";
    }
    if (m.group >= 0) {
      for (size_t i = 1; i < sm.groups[m.group].size(); ++i)
        antecedent += std::string(i == 1 ? " and " : ", ") + id(sm.groups[m.group][i]);
    }
    trace.Line("coreference", "[%s] %s -> %s%s", text.c_str(), MentionRule(m.kind), id(m.actor),
               antecedent.c_str());
  }
  trace.Line("coreference", "carried in: salient actor %s, salient person's actor %s",
             id(d.salient_actor), id(d.salient_person_actor));
}

}  // namespace stancewire::extraction
