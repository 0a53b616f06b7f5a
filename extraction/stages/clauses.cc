#include "extraction/stages/clauses.h"

#include <string>

#include "extraction/clause_structure.h"
#include "extraction/stages/cues.h"

namespace stancewire::extraction {

void MarkSubjects(const std::vector<Token>& t, uint32_t b, uint32_t e, SentenceMentions* sm) {
  std::vector<Mention>& mentions = sm->list;
  for (size_t k = 0; k < mentions.size(); ++k) {
    Mention& m = mentions[k];
    bool subject;
    if (m.possessive_other) {
      subject = false;
    } else if ((m.end + 1 < e && TightHyphen(t, m.end) && t[m.end + 1].word) ||
               (m.begin >= b + 2 && TightHyphen(t, m.begin - 1) && t[m.begin - 2].word)) {
      // a hyphenated modifier: "The Sudan-backed militia rejected ...", "Ukraine-Russia talks"
      subject = false;
    } else if (m.begin == b) {
      subject = true;
    } else if (k > 0 && m.begin == mentions[k - 1].end + 1 && t[m.begin - 1].hash == H("(") &&
               mentions[k - 1].actor == m.actor) {
      // "forming the Alliance of Sahel States (AES), have rejected": an alias in parentheses
      // is the mention before it, not a new subject
      subject = mentions[k - 1].subject;
    } else {
      // "The Iraqi group Kataib Hezbollah rejected ...": the name stands where its descriptor does
      const uint32_t at = DescriptorBefore(t, b, m.begin);
      const uint32_t lead = at < m.begin ? m.begin - at : ModifiersBefore(t, b, m.begin);
      const Token& prev = t[m.begin - 1 - lead];
      if (lead > 0 && m.begin - lead == b) {
        subject = true;  // "The pro-Iranian Hezbollah warned ..."
      } else if (ListAfterGroupSubject(t, b, m.begin)) {
        subject = true;
      } else if (prev.cls & kPreposition) {
        // absolute construction: "with China's ambassador warning that ..."
        // (also for a list: "with the Netherlands, Czech Republic, and Poland voting against")
        uint32_t list_end = m.end;
        for (size_t q = k + 1; q < mentions.size(); ++q) {
          if (!ListSeparated(t, mentions[q - 1].end, mentions[q].begin)) break;
          list_end = mentions[q].end;
        }
        subject = prev.hash == H("with") && list_end < e && t[list_end].key.size() > 4 &&
                  t[list_end].key.compare(t[list_end].key.size() - 3, 3, "ing") == 0;
      } else if ((prev.hash == H("accused") || prev.hash == H("accuses") ||
                  prev.hash == H("accuse") || prev.hash == H("accusing")) &&
                 m.end < e && t[m.end].hash == H("of")) {
        subject = true;  // "Turkey accused Greece of backing the plan": Greece backs it
      } else if ((prev.hash == H("told") || prev.hash == H("tell") || prev.hash == H("tells") ||
                  prev.hash == H("telling")) &&
                 m.end < e && t[m.end].hash == H("to")) {
        subject = false;  // "told Putin to agree to a ceasefire": Putin is told, not telling
      } else if (prev.cls & kSubjectBefore) {
        subject = true;
        // a bare comma after a list's closing "and" starts a new list of states: "In addition
        // to Paris and Warsaw, Ireland, Hungary and Austria refused ..." (a person there is an
        // apposition: "the envoy to Ukraine and Russia, Keith Kellogg, ..."); so does a state's
        // role: "Along with Chile and Peru, delegations from Bolivia ... voted against"
        const bool after_closed_list =
            k > 1 && (m.kind == MentionKind::kName || m.kind == MentionKind::kRole) &&
            m.begin == mentions[k - 1].end + 1 && prev.hash == H(",") &&
            ListSeparated(t, mentions[k - 2].end, mentions[k - 1].begin) &&
            t[mentions[k - 1].begin - 1].hash == H("and");
        if (k > 0 && m.kind != MentionKind::kPronoun && m.kind != MentionKind::kPronounPerson &&
            !after_closed_list &&
            (ListSeparated(t, mentions[k - 1].end, m.begin) ||
             (prev.hash == H("or") && mentions[k - 1].end + 1 == m.begin))) {
          subject = mentions[k - 1].subject;  // a list inherits: "sounding out A, B and C"
        }
      } else {
        subject = false;
      }
    }
    m.subject = subject;
  }
}

void FindClauses(const Knowledge& kn, const std::vector<Token>& t, uint32_t b, uint32_t e,
                 const SentenceMentions& sm, const std::vector<Occurrence>& cues, Clauses* out) {
  const uint32_t n = e - b;
  const std::vector<Mention>& mentions = sm.list;
  const std::vector<int>& mention_covering = sm.covering;
  out->begin = b;
  // A new coordinated clause ("..., but will not send soldiers") may carry a second cue for the
  // same holder; both count, and the merge decides.
  std::vector<uint32_t>& clause_of = out->clause_of;
  clause_of.assign(n, 0);
  for (uint32_t j = b, c = 0; j < e; ++j) {
    if (t[j].hash == H("but") || t[j].hash == H("while") || t[j].hash == H("whereas") ||
        t[j].hash == H(";") || t[j].hash == H("although") || t[j].hash == H("though")) {
      ++c;
    }
    clause_of[j - b] = c;
  }
  // Reporting clauses: who said it, and whether that is a speaker or an attribution.
  std::vector<Report>& reports = out->reports;
  std::vector<char>& is_report_token = out->is_report_token;
  reports.clear();
  is_report_token.assign(n, 0);
  for (const Occurrence& o : cues) {
    const Cue& c = kn.lex.cues[o.index];
    if (c.cls != CueClass::kReport || c.weak) continue;
    Report r;
    r.begin = o.begin;
    r.end = o.end;
    for (uint32_t j = o.begin; j < o.end; ++j) is_report_token[j - b] = true;
    r.according_to = t[o.begin].hash == H("according");
    if (r.according_to) {
      r.np_begin = o.end;
      uint32_t j = o.end;
      while (j < e && j - o.end < 12 && t[j].hash != H(",") && !((t[j].cls & kClauseEnd) != 0) &&
             t[j].hash != H("--") && !(t[j].hash == H("on") && j + 1 < e && t[j + 1].capitalized) &&
             t[j].hash != H("held")) {
        ++j;
      }
      r.np_end = j;
    } else {
      uint32_t j = o.begin;
      while (j > b && o.begin - j < 12) {
        const uint64_t k = t[j - 1].hash;
        if (k == H(",") || k == H(";") || k == H(":") || k == H("--") || k == H("\"") ||
            k == H("that") || k == H("and") || k == H("(")) {
          break;
        }
        --j;
      }
      // skip trailing adverbs of the reporter's verb phrase ("also", "later", "previously", "has")
      uint32_t end = o.begin;
      while (end > j && (t[end - 1].hash == H("also") || t[end - 1].hash == H("has") ||
                         t[end - 1].hash == H("have") || t[end - 1].hash == H("had") ||
                         t[end - 1].hash == H("later") || t[end - 1].hash == H("previously") ||
                         t[end - 1].hash == H("repeatedly") || t[end - 1].hash == H("earlier"))) {
        --end;
      }
      r.np_begin = j;
      r.np_end = end;
      if (r.np_begin == r.np_end && o.end < e &&
          (j == b || t[j - 1].hash == H(",") || t[j - 1].hash == H("\""))) {
        // inverted: "..., said Foreign Minister Hakan Fidan." / "\"...,\" said the ministry."
        uint32_t k = o.end;
        while (k < e && k - o.end < 10 && t[k].word && !(t[k].cls & kPreposition)) ++k;
        if (k > o.end) {
          r.np_begin = o.end;
          r.np_end = k;
        }
      }
      if (r.np_begin == r.np_end) {
        // "Ishaq Dar, who is also deputy prime minister, told ...": nearest subject mention
        for (int k = static_cast<int>(mentions.size()) - 1; k >= 0; --k) {
          if (mentions[k].end <= o.begin && o.begin - mentions[k].end < 14 && mentions[k].subject) {
            r.mention = k;
            r.np_begin = mentions[k].begin;
            r.np_end = mentions[k].end;
            break;
          }
        }
      }
    }
    for (uint32_t j = r.np_begin; j < r.np_end; ++j) {
      RoleType rt;
      uint32_t rl;
      if (kn.RoleAt(t, j, r.np_end, &rt, &rl, true)) {
        if (rt == RoleType::kVoice || rt == RoleType::kMedia) r.voice = true;
        if (rt == RoleType::kNonActor) r.nonactor = true;
      }
      int mk = mention_covering[j - b];
      if (mk >= 0 && r.mention < 0 && mentions[mk].actor >= 0 && !mentions[mk].possessive_other) {
        r.mention = mk;
        if (mentions[mk].voice) r.voice = true;
      }
    }
    if (r.np_end > r.np_begin && r.mention < 0) {
      const Token& first = t[r.np_begin];
      r.anaphoric = first.hash == H("the") || (first.cls & kPronounPerson) || first.hash == H("it");
      if (!r.anaphoric) r.voice = true;
    }
    // a speaker with a role of the state ("the source", "a Kenyan official") is also a voice
    if (r.mention >= 0 && mentions[r.mention].voice) r.voice = true;
    reports.push_back(r);
  }
}

bool InRelativeAside(const std::vector<Token>& t, uint32_t b, uint32_t e, uint32_t pos) {
  for (uint32_t j = pos; j > b + 1 && pos - j < kScanWindow; --j) {
    const uint64_t h = t[j - 1].hash;
    if (h == H("who") || h == H("which")) {
      if (t[j - 2].hash != H(",")) return false;
      for (uint32_t k = pos; k < e && k - pos < kScanWindow; ++k) {
        if (t[k].hash == H(",")) return true;
        if (t[k].cls & kClauseEnd) return false;
      }
      return false;
    }
    if (h == H(",") || (t[j - 1].cls & kClauseEnd)) return false;
  }
  return false;
}

bool SubjectBefore(const Knowledge& k, const SentenceMentions& sm, const Clauses& c, uint32_t pos) {
  for (const Mention& m : sm.list) {
    if (m.end <= pos && m.subject && c.ClauseOf(m.begin) == c.ClauseOf(pos) &&
        k.Holdable(m.actor)) {
      return true;
    }
  }
  return false;
}

VerbGroup VerbGroupBefore(const std::vector<Token>& t, uint32_t b, uint32_t verb) {
  static constexpr uint64_t kModals[] = {H("will"),  H("would"), H("could"),  H("can"),
                                         H("may"),   H("might"), H("should"), H("must"),
                                         H("shall"), H("cannot")};
  static constexpr uint64_t kBe[] = {H("be"),  H("been"), H("being"), H("is"),
                                     H("are"), H("was"),  H("were")};
  VerbGroup g;
  g.begin = verb;
  for (uint32_t j = verb; j > b && verb - j < 4; --j) {
    const uint64_t h = t[j - 1].hash;
    bool aux = false;
    for (uint64_t m : kModals) {
      if (h == m) g.modal = h, aux = true;
    }
    for (uint64_t x : kBe) {
      if (h == x) g.passive = j == verb, aux = true;
    }
    if (h == H("not") || h == H("n't") || h == H("never")) g.negated = aux = true;
    if (h == H("has") || h == H("have") || h == H("had")) {
      g.perfect = aux = true;
      g.past_perfect |= h == H("had");
    }
    if (h == H("do") || h == H("does") || h == H("did")) aux = true;
    if (!aux) break;
    g.begin = j - 1;
  }
  return g;
}

const char* ClauseTypeName(ClauseType type) {
  static const char* const kNames[] = {"none",    "condition", "time",      "cause",
                                       "purpose", "exchange",  "concession"};
  return kNames[static_cast<size_t>(type)];
}

ClauseType SubordinateType(const std::vector<Token>& t, uint32_t i, uint32_t e, uint32_t* length) {
  struct Opener {
    uint64_t words[3];
    ClauseType type;
  };
  static constexpr Opener kOpeners[] = {
      {{H("in"), H("exchange"), H("for")}, ClauseType::kExchange},
      {{H("in"), H("return"), H("for")}, ClauseType::kExchange},
      {{H("in"), H("order"), H("to")}, ClauseType::kPurpose},
      {{H("as"), H("long"), H("as")}, ClauseType::kCondition},
      {{H("on"), H("condition"), H("that")}, ClauseType::kCondition},
      {{H("provided"), H("that")}, ClauseType::kCondition},
      {{H("even"), H("if")}, ClauseType::kConcession},
      {{H("even"), H("though")}, ClauseType::kConcession},
      {{H("so"), H("that")}, ClauseType::kPurpose},
      {{H("only"), H("if")}, ClauseType::kCondition},
      {{H("if")}, ClauseType::kCondition},
      {{H("unless")}, ClauseType::kCondition},
      {{H("after")}, ClauseType::kTime},
      {{H("before")}, ClauseType::kTime},
      {{H("once")}, ClauseType::kTime},
      {{H("until")}, ClauseType::kTime},
      {{H("when")}, ClauseType::kTime},
      {{H("because")}, ClauseType::kCause},
      {{H("since")}, ClauseType::kCause},
      {{H("although")}, ClauseType::kConcession},
      {{H("though")}, ClauseType::kConcession},
      {{H("despite")}, ClauseType::kConcession},
  };
  for (const Opener& o : kOpeners) {
    uint32_t n = 0;
    while (n < 3 && o.words[n] != 0 && i + n < e && t[i + n].hash == o.words[n]) ++n;
    if (n > 0 && (n == 3 || o.words[n] == 0)) {
      *length = n;
      return o.type;
    }
  }
  *length = 0;
  return ClauseType::kNone;
}

void TraceClauses(const Trace& trace, const Knowledge& k, const Document& doc, uint32_t b,
                  uint32_t e, const SentenceMentions& m, const Clauses& c) {
  if (!trace.on()) return;
  std::string bounds;
  for (uint32_t j = b + 1; j < e; ++j) {
    if (c.ClauseOf(j) != c.ClauseOf(j - 1)) bounds += " | " + std::string(doc.Bytes(j, j + 1));
  }
  trace.Line("clauses", "%u coordinated clause(s)%s", e > b ? c.ClauseOf(e - 1) + 1 : 0,
             bounds.c_str());
  for (const Report& r : c.reports) {
    const std::string verb(doc.Bytes(r.begin, r.end)), who(doc.Bytes(r.np_begin, r.np_end));
    const char* actor = r.mention >= 0 && m.list[r.mention].actor >= 0
                            ? k.actors.record(m.list[r.mention].actor).id.c_str()
                            : "-";
    trace.Line("clauses", "report [%s] by [%s] actor=%s%s%s%s%s", verb.c_str(), who.c_str(), actor,
               r.voice ? " voice" : "", r.anaphoric ? " anaphoric" : "",
               r.according_to ? " according-to" : "", r.nonactor ? " nonactor" : "");
  }
}

}  // namespace stancewire::extraction
