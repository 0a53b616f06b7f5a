#include "extraction/stages/cues.h"

#include "extraction/clause_structure.h"

namespace stancewire::extraction {

using v1::Position;

void FindCues(const Lexicons& lex, const std::vector<Token>& t, uint32_t b, uint32_t e,
              const SentenceMentions& sm, std::vector<Occurrence>* out) {
  const std::vector<Mention>& mentions = sm.list;
  const std::vector<int>& mention_covering = sm.covering;
  std::vector<Occurrence>& cues = *out;
  cues.clear();
  for (uint32_t i = b; i < e;) {
    if (mention_covering[i - b] >= 0 && !mentions[mention_covering[i - b]].possessive_other &&
        mentions[mention_covering[i - b]].kind != MentionKind::kPronoun) {
      i = mentions[mention_covering[i - b]].end;
      continue;
    }
    i = MatchAt(lex.cue_matcher, kStartsCue, t, i, e, &cues);
    if (!cues.empty() && lex.cues[cues.back().index].cls == CueClass::kNone) cues.pop_back();
  }
}

SentenceView::SentenceView(const Knowledge& k, const Document& doc, uint32_t b, uint32_t e,
                           const SentenceMentions& m, const Clauses& c,
                           const std::vector<char>& in_condition, int salient_actor)
    : know(k),
      doc(doc),
      t(doc.tokens),
      b(b),
      e(e),
      mentions(m.list),
      mention_ending(m.ending),
      mention_covering(m.covering),
      clause_of(c.clause_of),
      reports(c.reports),
      in_condition(in_condition),
      salient_actor(salient_actor),
      sm(m),
      clauses(c) {}

int SentenceView::HolderLeft(uint32_t pos, std::string* rule) const {
  for (uint32_t j = pos; j > b && pos - j < kScanWindow;) {
    --j;
    // not in "Jr." or an initial ("Ana M. Rojas")
    if ((t[j].cls & kClauseEnd) && mention_covering[j - b] < 0 &&
        !(j >= b + 2 && t[j - 2].capitalized && MiddleInitial(t, j - 1, e)))
      break;
    if (t[j].hash == H(")")) {
      // a parenthesis between holder and verb: "Hungary and Slovakia (which are ...) blocked"
      uint32_t open = j;
      while (open > b && pos - open < kScanWindow && t[open].hash != H("(")) --open;
      // only an aside ("(which are ...)"); a list in parentheses glosses its group and may
      // hold the stance: "the European troika (France, Germany and the UK)"
      if (t[open].hash == H("(") && open + 1 < j &&
          (t[open + 1].hash == H("which") || t[open + 1].hash == H("who") ||
           t[open + 1].hash == H("whose"))) {
        j = open;
        continue;
      }
    }
    if (j + 1 < pos && clause_of[j + 1 - b] != clause_of[j - b] &&
        !ClauseSharesSubject(t, j + 2, pos)) {
      // "..., while nine members opposed it": the new clause has a subject of its own
      return -1;
    }
    if ((t[j].hash == H("which") || t[j].hash == H("who")) && !in_condition[j - b]) {
      // a relative clause's subject is its antecedent: "Hungary, which opposed it" holds;
      // "the new mission, which is expected to ..." has no holder
      uint32_t q = j;
      if (q > b && t[q - 1].hash == H(",")) --q;
      int mk = q > b ? mention_ending[q - 1 - b] : -1;
      if (mk >= 0 && mentions[mk].actor >= 0 && know.Holdable(mentions[mk].actor) &&
          !mentions[mk].possessive_other) {
        *rule = std::string("antecedent ") + MentionRule(mentions[mk].kind);
        return mk;
      }
      return -1;
    }
    if (in_condition[j - b] && pos > j) {
      // a condition before the cue ("If ..., Islamabad is ready") does not hide holders
      // after it, but its own mentions never hold the stance
      if (mention_ending[j - b] >= 0) continue;
    }
    int mk = mention_ending[j - b];
    if (mk < 0) continue;
    const Mention& m = mentions[mk];
    if (in_condition[m.begin - b]) continue;
    if (!m.subject || m.actor < 0 || !know.Holdable(m.actor)) continue;
    // "Qatar said Israel's plan was unacceptable": a plan holds no stance (its owner backs it,
    // merge.h); the evaluation is the speaker's
    if (m.proposal) continue;
    *rule = std::string("subject ") + MentionRule(m.kind);
    return mk;
  }
  return -1;
}

int SentenceView::ReporterAfter(uint32_t pos, std::string* rule) const {
  for (const Report& r : reports) {
    if (r.begin < pos || r.according_to) continue;
    if (clause_of[r.begin - b] != clause_of[pos - b]) break;  // never across "but"
    if (r.mention >= 0 && r.np_begin >= pos) {
      const Mention& m = mentions[r.mention];
      if (m.actor >= 0 && know.Holdable(m.actor)) {
        *rule = std::string("reporter ") + MentionRule(m.kind);
        return r.mention;
      }
    }
    if (r.anaphoric && salient_actor >= 0) {
      *rule = "reporter refers back to " + know.actors.record(salient_actor).name;
      return -2;  // salient actor
    }
  }
  return -1;
}

std::vector<int> SentenceView::Conjuncts(int mk) const {
  // "they" stands for the whole list it refers to: "Denmark and the Netherlands said they ..."
  if (mentions[mk].kind == MentionKind::kPronoun && mentions[mk].antecedent >= 0 &&
      t[mentions[mk].begin].hash == H("they")) {
    mk = mentions[mk].antecedent;
  }
  std::vector<int> out{mk};
  int k = mk;
  while (k > 0) {
    const Mention& prev = mentions[k - 1];
    const Mention& cur = mentions[k];
    if (!ListSeparated(t, prev.end, cur.begin)) break;
    if (prev.actor < 0 || !know.Holdable(prev.actor) || prev.possessive_other) break;
    out.push_back(k - 1);
    --k;
  }
  return out;
}

std::string SentenceView::AttributionFor(int holder_mention) const {
  for (const Report& r : reports) {
    if (!r.voice || r.np_end <= r.np_begin) continue;
    if (holder_mention >= 0 && r.mention == holder_mention && !mentions[holder_mention].voice)
      continue;
    return std::string(doc.Bytes(r.np_begin, r.np_end));
  }
  return "";
}

namespace {

// Whether the compound cue ending at `end` modifies a group noun or an actor mention within the
// next few words ("the Iran-backed Shiite militia").
bool ModifiesGroup(const SentenceView& v, uint32_t end) {
  for (uint32_t j = end; j < v.e && j < end + 4; ++j) {
    if (!v.t[j].word) return false;
    if ((v.t[j].cls & kPatronNoun) || v.mention_covering[j - v.b] >= 0) return true;
  }
  return false;
}

// Whether a possessive pronoun can refer to mention m: "its" to a state or a body ("the
// ministry"), "his"/"her" to a person ("Chile's president"), "their" to any.
bool PronounFits(const SentenceView& v, const Token& pronoun, const Mention& m) {
  bool person =
      m.person >= 0 || m.kind == MentionKind::kPronounPerson || m.kind == MentionKind::kPerson;
  for (uint32_t i = m.begin; i < m.end && m.kind == MentionKind::kRole && !person; ++i) {
    RoleType type;
    uint32_t len;
    person = v.know.RoleAt(v.t, i, m.end, &type, &len, false) && type == RoleType::kSpeaker;
  }
  if (pronoun.hash == H("its")) return !person;
  if (pronoun.hash == H("his") || pronoun.hash == H("her")) return person;
  return true;
}

// A cue of class `cls` (NEGATION, HEDGE) before cue `ci` within `window` tokens, only words
// between: "did not back", "would not say whether Canada will take part".
bool PrecededBy(const SentenceView& v, const std::vector<Occurrence>& cues, size_t ci, CueClass cls,
                size_t window) {
  const uint32_t at = cues[ci].begin;
  for (size_t k = ci; k > 0; --k) {
    const Occurrence& p = cues[k - 1];
    if (at - p.end > window) return false;
    for (uint32_t j = p.end; j < at; ++j) {
      if (!v.t[j].word) return false;
    }
    if (v.know.lex.cues[p.index].cls == cls) return true;
  }
  return false;
}

// The list of mentions that begins at token q, after an optional "the", within [q, limit):
// "with Peru and Bolivia", "with the Netherlands and Japan". Empty when no mention begins there or
// it is a possessive of another's noun.
std::vector<int> ListBeginningAt(const SentenceView& v, uint32_t q, uint32_t limit) {
  if (v.t[q].hash == H("the") && q + 1 < limit) ++q;
  const int first = v.mention_covering[q - v.b];
  if (first < 0 || v.mentions[first].begin != q || v.mentions[first].possessive_other) return {};
  return ListFrom(v.t, v.mentions, first);
}

bool IsJoin(uint64_t h) {
  return h == H("join") || h == H("joins") || h == H("joined") || h == H("joining");
}

// The list X in "join X in <cue>" right before the cue, or in "<join> X in ..." when the cue is
// the verb itself; empty when the words do not have that shape.
std::vector<int> JoinedIn(const SentenceView& v, const Occurrence& o) {
  const auto& t = v.t;
  auto list_then_in = [&](uint32_t q, uint32_t limit) -> std::vector<int> {
    if (q >= limit) return {};
    std::vector<int> list = ListBeginningAt(v, q, limit);
    if (list.empty()) return {};
    const uint32_t after = v.mentions[list.back()].end;
    if (after >= limit || t[after].hash != H("in")) return {};
    return list;
  };
  if (o.end == o.begin + 1 && IsJoin(t[o.begin].hash)) return list_then_in(o.end, v.e);
  if (o.begin < v.b + 3 || t[o.begin - 1].hash != H("in")) return {};
  // back from "in" over the list to the verb: the list starts after the nearest "join"
  for (uint32_t j = o.begin - 2; j > v.b && o.begin - j < kScanWindow; --j) {
    if (IsJoin(t[j].hash)) {
      std::vector<int> list = list_then_in(j + 1, o.begin);
      if (!list.empty() && v.mentions[list.back()].end == o.begin - 1) return list;
      return {};
    }
    if (t[j].cls & kClauseEnd) break;
  }
  return {};
}

}  // namespace

int SentenceView::ListAfterCue(uint32_t from, uint64_t opener) const {
  for (uint32_t j = from; j + 1 < e && j - from < kScanWindow; ++j) {
    if ((t[j].cls & kClauseEnd) || clause_of[j - b] != clause_of[from - 1 - b]) break;
    if (t[j].hash != H(",") && !(t[j].cls & kListOpener)) continue;
    uint32_t q = j + 1;
    if (opener == H("including") && t[q].hash == H("including")) {
      ++q;
    } else if (opener == H("including") && (t[j].cls & kListOpener)) {
      // "pledged support for the initiative including Spain and France"; "the countries voting
      // against included A, B and C"; "the countries which have accepted it are A, B and C"
      q = j + 1;
    } else if (opener == H("along") && q + 1 < e &&
               (((t[q].hash == H("along") || t[q].hash == H("together")) &&
                 t[q + 1].hash == H("with")) ||
                (t[q].hash == H("followed") && t[q + 1].hash == H("by")))) {
      // "..., along with Israel", "Poland submitted the largest request, followed by France"
      q += 2;
    } else {
      continue;
    }
    if (q < e && t[q].hash == H("the")) ++q;
    if (q >= e) return -1;
    int mk = mention_covering[q - b];
    if (mk < 0 || mentions[mk].possessive_other || !know.Holdable(mentions[mk].actor)) return -1;
    return mk;
  }
  return -1;
}
int CueAssignments::FirstHolder() const {
  for (const auto& a : assigned) {
    if (!a.neutral) return a.actor;
  }
  return -1;
}

void AttachCues(const SentenceView& v, const std::vector<Occurrence>& cues, CueAssignments* out) {
  const Lexicons& lex = v.know.lex;
  const std::vector<Token>& t = v.t;
  const uint32_t b = v.b, e = v.e;
  const auto& mentions = v.mentions;
  const auto &mention_ending = v.mention_ending, &mention_covering = v.mention_covering;
  const auto& clause_of = v.clause_of;
  const auto& in_condition = v.in_condition;
  const auto& reports = v.reports;
  std::vector<Assigned>& assigned = out->assigned;
  std::vector<char>& cue_held = out->cue_held;
  assigned.clear();
  auto find_assigned = [&](int mention, int actor, uint32_t clause) -> Assigned* {
    for (auto& a : assigned) {
      if (a.mention == mention && a.actor == actor && clause_of[cues[a.cue].begin - b] == clause) {
        return &a;
      }
    }
    return nullptr;
  };
  cue_held.assign(cues.size(), 0);
  for (size_t ci = 0; ci < cues.size(); ++ci) {
    const Occurrence& o = cues[ci];
    const Cue& c = lex.cues[o.index];
    if (c.cls == CueClass::kNegation || c.cls == CueClass::kHedge || c.cls == CueClass::kReport)
      continue;
    // "Sharaa, who met with Trump last month, urged ...": a NEUTRAL cue in a relative aside
    // does not claim the antecedent, whose stance the main clause gives
    if (c.cls == CueClass::kNeutral && InRelativeAside(t, b, e, o.begin)) continue;
    if (in_condition[o.begin - b]) continue;  // "only if the council authorises it"
    // "a force that could be deployed": a weak cue in the passive has no holder of its own
    if (c.weak && !c.passive && o.begin > b &&
        (t[o.begin - 1].hash == H("be") || t[o.begin - 1].hash == H("been") ||
         t[o.begin - 1].hash == H("being"))) {
      continue;
    }
    bool speculation = false;  // "Analysts said Azerbaijan would join": not a stance
    for (const Report& r : reports) {
      if (r.nonactor && (r.end <= o.begin || (r.np_begin >= o.end && !r.according_to)))
        speculation = true;
    }
    if (speculation) continue;
    Position pos = v1::POSITION_UNSPECIFIED;
    if (c.cls == CueClass::kSupport) pos = v1::POSITION_SUPPORT;
    if (c.cls == CueClass::kOppose) pos = v1::POSITION_OPPOSE;
    if (c.cls == CueClass::kUndecided) pos = v1::POSITION_UNDECIDED;
    const bool negated = c.cls != CueClass::kNeutral &&
                         PrecededBy(v, cues, ci, CueClass::kNegation, kNegationWindow);
    if (c.negonly && !negated) continue;
    if (c.criticism) {
      // "criticised Israel's continued attacks", "condemned Russia": a criticism of an actor,
      // not a position on a proposal
      uint32_t q = o.end;
      if (q < e && t[q].hash == H("the")) ++q;
      const int mk = q < e ? mention_covering[q - b] : -1;
      // ("condemned it": "it" is more often the move than a state)
      if (mk >= 0 && mentions[mk].begin == q && mentions[mk].kind != MentionKind::kPronoun &&
          mentions[mk].actor >= 0 && v.know.Holdable(mentions[mk].actor))
        continue;
    }
    if (negated) {
      if (pos == v1::POSITION_SUPPORT)
        pos = v1::POSITION_OPPOSE;
      else if (pos == v1::POSITION_OPPOSE)
        pos = c.negsupport ? v1::POSITION_SUPPORT : v1::POSITION_UNDECIDED;
    }
    // "would not say whether Canada will take part", "is deciding whether to join": a cue in an
    // indirect question states no position, only that it is open
    if ((pos == v1::POSITION_SUPPORT || pos == v1::POSITION_OPPOSE) &&
        PrecededBy(v, cues, ci, CueClass::kHedge, kHedgeWindow))
      pos = v1::POSITION_UNDECIDED;
    std::vector<std::pair<int, std::string>> holders;  // mention, rule
    bool compound = false;
    if (c.compound && o.begin >= b + 2 && TightHyphen(t, o.begin - 1) &&
        mention_ending[o.begin - 2 - b] >= 0) {
      // "the Iran-backed group", "the US-backed Hezbollah": a compound before an armed or
      // political group (or an actor) says who sponsors it, not where the sponsor stands
      if (ModifiesGroup(v, o.end)) continue;
      holders.push_back({mention_ending[o.begin - 2 - b], "compound (X-" + t[o.begin].key + ")"});
      compound = true;
    } else if (c.compound && o.begin > b && mention_ending[o.begin - 1 - b] >= 0 &&
               !t[o.begin].space_before) {
      // "U.S.-backed": the initialism swallowed the hyphen's neighbour
    }
    if (!compound && !c.passive) {
      // A stance noun's owner holds it: "Belgium's resistance", "the backing of Poland and
      // Hungary" (not "in support of Ukraine": the owner needs "the" before the noun).
      int owner = -1;
      if (o.begin > b && mention_ending[o.begin - 1 - b] >= 0) {
        const Mention& m = mentions[mention_ending[o.begin - 1 - b]];
        if (m.possessive_other && t[m.end - 1].hash == H("'s"))
          owner = mention_ending[o.begin - 1 - b];
      } else if (o.begin > b && t[o.begin - 1].hash == H("the") && o.end + 1 < e &&
                 !SubjectBefore(v.know, v.sm, v.clauses, o.begin) && t[o.end].hash == H("of") &&
                 mention_covering[o.end + 1 - b] >= 0 &&
                 mentions[mention_covering[o.end + 1 - b]].begin == o.end + 1) {
        owner = mention_covering[o.end + 1 - b];
      }
      // "Venezuela's opposition welcomed ...": a stance noun that a verb follows names a group
      // (the opposition party), not a stance
      if (owner >= 0 && c.nominal && o.end < e && t[o.end].word && !NominalContinues(t[o.end])) {
        owner = -1;
      }
      if (owner >= 0 && mentions[owner].actor >= 0 && v.know.Holdable(mentions[owner].actor)) {
        for (int k : ListFrom(t, mentions, owner))
          holders.push_back({k, "owner of the stance noun"});
      }
      if (c.nominal && holders.empty()) {
        // "France declared its opposition", "Orban reiterated his opposition": a possessive
        // pronoun's owner is the clause subject when the pronoun fits it (not "Trump ... its
        // refusal", where "its" is another country)
        std::string rule;
        const int mk = o.begin > b && (t[o.begin - 1].cls & kPossessivePronoun)
                           ? v.HolderLeft(o.begin, &rule)
                           : -1;
        if (mk < 0 || !PronounFits(v, t[o.begin - 1], mentions[mk])) continue;
        holders.push_back({mk, "owner of the stance noun (" + t[o.begin - 1].key + ")"});
      }
    }
    if (holders.empty() && !compound && c.passive) {
      for (uint32_t j = o.end; j < e && j < o.end + 4; ++j) {
        int mk = mention_covering[j - b];
        if (mk < 0) continue;
        if (mentions[mk].actor >= 0 && v.know.Holdable(mentions[mk].actor)) {
          // "put forward by the United States and Panama"
          for (int k : ListFrom(t, mentions, mk)) holders.push_back({k, "passive agent"});
        }
        break;
      }
      if (holders.empty()) continue;
    }
    // "any force that is asked to fight": a request in a relative clause is made of its
    // antecedent, and must not claim the sentence's holder for nothing
    if (holders.empty() && c.cls == CueClass::kNeutral && o.begin > b &&
        t[o.begin - 1].hash == H("that")) {
      continue;
    }
    if (holders.empty() && !compound) {
      std::string rule;
      int mk = v.HolderLeft(o.begin, &rule);
      if (mk >= 0) {
        for (int k : v.Conjuncts(mk)) holders.push_back({k, k == mk ? rule : "conjunct " + rule});
      } else {
        mk = v.ReporterAfter(o.end, &rule);
        if (mk != -1) holders.push_back({mk, rule});
      }
    }
    if (holders.empty() && !compound && !c.nominal) {
      // "Of the 15 members, 12 voted for it, including Japan and France"; "the countries that
      // backed the effort, including A, B and C": the list names the holders
      int first = v.ListAfterCue(o.end, H("including"));
      if (first >= 0) {
        for (int k : ListFrom(t, mentions, first)) holders.push_back({k, "list after the cue"});
      }
    }
    if (!holders.empty() && !compound && holders[0].first >= 0 &&
        mentions[holders[0].first].end < o.begin) {
      // "Chile, together with Peru, proposed ...": a companion set off by commas between the
      // holder and its cue; so are partners the holder works with towards it ("Egypt is
      // coordinating with France and Britain to promote a resolution")
      for (uint32_t j = mentions[holders[0].first].end; j + 3 < o.begin; ++j) {
        const uint64_t w = t[j + 1].hash;
        const bool companion = t[j].hash == H(",") && (w == H("along") || w == H("together"));
        const bool partner = w == H("working") || w == H("coordinating") || w == H("cooperating") ||
                             w == H("partnering");
        if (t[j + 2].hash != H("with") || (!companion && !partner)) continue;
        for (int k : ListBeginningAt(v, j + 3, o.begin)) {
          if (mentions[k].end < o.begin) holders.push_back({k, "companion of the holder"});
        }
        break;
      }
    }
    if (!holders.empty() && !compound) {
      // "Slovakia joined Poland and Hungary in expressing opposition to ...": those joined do
      // what the holder joins them in; so for "joined Britain in freezing the assets"
      for (int k : JoinedIn(v, o)) holders.push_back({k, "joined by the holder"});
    }
    if (!holders.empty() && !compound) {
      // "The United States voted against it, along with Israel and Argentina"
      int first = v.ListAfterCue(o.end, H("along"));
      if (first >= 0) {
        for (int k : ListFrom(t, mentions, first))
          holders.push_back({k, "companion of the holder"});
      }
    }
    if (!holders.empty() && c.mutual && o.end + 1 < e && t[o.end].hash == H("with")) {
      // "Chile reached a deal with Peru and Bolivia": the partners are parties to it
      for (int k : ListBeginningAt(v, o.end + 1, e)) holders.push_back({k, "partner in the deal"});
    }
    if (!holders.empty()) cue_held[ci] = 1;
    const bool neutral = c.cls == CueClass::kNeutral;
    auto assign = [&](int mk, int actor, const std::string& rule) {
      if (actor < 0 || !v.know.Holdable(actor)) return;
      Assigned* a = find_assigned(mk, actor, clause_of[o.begin - b]);
      if (!a) {
        assigned.push_back(Assigned{mk, actor, ci, pos, c.weak, neutral, rule});
      } else if (a->weak && !c.weak) {
        *a = Assigned{mk, actor, ci, pos, c.weak, neutral, rule};
      }
    };
    for (auto& [mk, rule] : holders) {
      assign(mk, mk >= 0 ? mentions[mk].actor : v.salient_actor, rule);
      // "the eight participating countries reiterated ...": every counted actor holds
      if (mk >= 0 && mentions[mk].group >= 0) {
        const std::vector<int>& group = v.sm.groups[mentions[mk].group];
        for (size_t g = 1; g < group.size(); ++g) assign(mk, group[g], rule);
      }
    }
  }
}

void TraceCues(const Trace& trace, const SentenceView& v, const std::vector<Occurrence>& cues,
               const CueAssignments& a) {
  if (!trace.on()) return;
  for (const auto& o : cues) {
    const std::string text(v.doc.Bytes(o.begin, o.end));
    const VerbGroup g = VerbGroupBefore(v.t, v.b, o.begin);
    const std::string group(v.doc.Bytes(g.begin, o.begin));
    trace.Line("cues", "[%s] %s; verb group [%s]%s%s%s%s", text.c_str(),
               v.know.lex.cues[o.index].phrase.c_str(), group.c_str(), g.modal ? " modal" : "",
               g.negated ? " negated" : "", g.past_perfect ? " past-perfect" : "",
               g.passive ? " passive" : "");
  }
  for (const auto& x : a.assigned) {
    trace.Line("cues", "[%s] held by %s: %s%s%s (%s)",
               std::string(v.doc.Bytes(cues[x.cue].begin, cues[x.cue].end)).c_str(),
               v.know.actors.record(x.actor).id.c_str(), v1::Position_Name(x.position).c_str(),
               x.weak ? " weak" : "", x.neutral ? " neutral" : "", x.rule.c_str());
  }
}

}  // namespace stancewire::extraction
