#include "extraction/stages/conditions.h"

#include <algorithm>

namespace stancewire::extraction {

void FindConditionSpans(const Lexicons& lex, const std::vector<Token>& t, uint32_t b, uint32_t e,
                        const Clauses& c, ConditionSpans* out) {
  const uint32_t n = e - b;
  std::vector<Occurrence>& triggers = out->triggers;
  std::vector<ConditionSpan>& spans = out->spans;
  std::vector<char>& in_condition = out->in_condition;
  triggers.clear();
  for (uint32_t i = b; i < e;) i = MatchAt(lex.trigger_matcher, kStartsTrigger, t, i, e, &triggers);
  spans.clear();
  in_condition.assign(n, 0);
  for (const Occurrence& o : triggers) {
    const Trigger& tr = lex.triggers[o.index];
    if (tr.blocks) continue;
    uint32_t sb = tr.keep ? o.begin : o.end;
    uint32_t j = o.end;
    static constexpr uint64_t kStop[] = {
        H(","),   H(";"),      H(":"),       H("--"),     H("."),      H("!"),       H("?"),
        H("("),   H(")"),      H("\""),      H("but"),    H("while"),  H("whereas"), H("which"),
        H("who"), H("saying"), H("arguing"), H("citing"), H("adding"), H("so")};
    auto stops = [&](uint32_t k) {
      bool stop = c.IsReportToken(k);
      for (uint64_t h : kStop) stop |= t[k].hash == h;
      return stop;
    };
    while (j < e && j - sb < kConditionMax && !stops(j)) ++j;
    // a list of requirements after a main clause goes on past its commas to the clause end when
    // an "and" / "or" closes it and no part opens a clause of its own (an auxiliary among its
    // first words, a pronoun, or a conditional of its own): "... will first have to leave
    // Lebanon, stop its attacks, release prisoners and allow ..."; never for a condition before
    // its main clause ("..., and that if the group refused, the army would move in", "If ...,
    // Kenya will send troops and money")
    const bool preposed = o.begin == b || !t[o.begin - 1].word ||
                          t[o.begin - 1].hash == H("that") || t[o.begin - 1].hash == H("and") ||
                          t[o.begin - 1].hash == H("but") || t[o.begin - 1].hash == H("or");
    if (j < e && t[j].hash == H(",") && !preposed) {
      static constexpr uint64_t kAux[] = {
          H("is"),    H("are"),  H("was"),  H("were"), H("will"),   H("would"), H("can"),
          H("could"), H("has"),  H("have"), H("had"),  H("should"), H("must"),  H("may"),
          H("might"), H("said"), H("says"), H("does"), H("did"),    H("do")};
      uint32_t k = j, part = j, comma = j;
      bool closed = false, clause = false;
      while (k < e && k - sb < 2 * kConditionMax && (t[k].hash == H(",") || !stops(k))) {
        if (t[k].hash == H(",")) part = comma = k;
        if (t[k].hash == H("and") || t[k].hash == H("or")) {
          closed = true;
          part = k;
        }
        for (uint64_t a : kAux) clause |= t[k].hash == a && k - part <= 4;
        clause |= t[k].hash == H("if") || t[k].hash == H("then") || t[k].hash == H("unless") ||
                  t[k].hash == H("when");
        // a part opened by a pronoun has a subject of its own: "..., and we all need ..."
        clause |= k == part + 1 &&
                  (t[k].hash == H("we") || t[k].hash == H("they") || t[k].hash == H("he") ||
                   t[k].hash == H("she") || t[k].hash == H("i") || t[k].hash == H("it"));
        ++k;
      }
      bool ends = k >= e || t[k].hash == H(".") || t[k].hash == H(";");
      // "..., and specify how Washington would respond, he told journalists"
      if (k < e && c.IsReportToken(k) && comma > j && k - comma <= 4) {
        k = comma;
        ends = true;
      }
      if (closed && !clause && ends && k - sb < 2 * kConditionMax) j = k;
    }
    // "set two conditions: a UN mandate and full funding" (also "... for joining the force: ..."):
    // a trigger naming conditions lists them after the colon
    const uint64_t last = t[o.end - 1].hash;
    if (j < e && t[j].hash == H(":") &&
        (last == H("conditions") || last == H("condition") || last == H("preconditions"))) {
      sb = j + 1;
      j = e;
      while (j > sb && !t[j - 1].word) --j;  // not the sentence's full stop
    }
    bool with_subject = false;
    if (tr.subject) {
      // take in the clause's subject: whoever "must first" act is part of the condition
      // ("... insisting that Stockholm should first show Budapest more respect")
      uint32_t k = o.begin;
      while (k > b && o.begin - k < 6 && t[k - 1].word && t[k - 1].hash != H("that") &&
             !(t[k - 1].cls & kSubjectBefore)) {
        --k;
      }
      if (k < o.begin && (k == b || !t[k - 1].word || (t[k - 1].cls & kSubjectBefore))) {
        sb = k;
        with_subject = true;
      }
    }
    // nothing after the trigger but the clause end: a condition only when its subject is ("a
    // ceasefire must come first")
    const bool ends_clause =
        j >= e || t[j].hash == H(".") || t[j].hash == H(",") || t[j].hash == H(";");
    if (j <= o.end && !(tr.keep && with_subject && ends_clause)) continue;
    spans.push_back({o.begin, o.end, sb, j, &tr});
  }
  for (const ConditionSpan& s : spans) {
    // the trigger's own words ("wants", "called for") may still be the position cue
    for (uint32_t j = s.begin; j < s.end; ++j) {
      if (j < s.trigger_begin || j >= s.trigger_end) in_condition[j - b] = true;
    }
  }
}

void ClassifyConditions(const Lexicons& lex, const std::vector<Token>& t, uint32_t b, uint32_t e,
                        bool explain, std::vector<ConditionHit>* out,
                        std::vector<std::string>* patterns) {
  // Split at "and" / "or" / "," (except in "between X and Y") so that each requirement gets its
  // own kind: "authorised by the UN Security Council and Israeli troops leave ..."
  std::vector<std::pair<uint32_t, uint32_t>> segments;
  uint32_t s = b;
  bool between = false;
  for (uint32_t i = b; i < e; ++i) {
    const uint64_t k = t[i].hash;
    if (k == H("between")) between = true;
    bool split = (k == H("and") || k == H("or") || k == H(","));
    if (split && k == H("and") && between) {
      between = false;
      continue;
    }
    if (split) {
      if (i > s) segments.push_back({s, i});
      s = i + 1;
    }
  }
  if (e > s) segments.push_back({s, e});
  // Coordinated subjects share one predicate: "the terms of reference and mandate have been
  // spelled out" is one requirement. A segment whose verb comes within its first three tokens
  // joins a previous segment that has no verb of its own.
  static constexpr uint64_t kAux[] = {H("is"),    H("are"), H("was"),   H("were"), H("be"),
                                      H("been"),  H("has"), H("have"),  H("had"),  H("will"),
                                      H("would"), H("can"), H("could"), H("must"), H("should")};
  auto has_aux = [&](uint32_t from, uint32_t to) {
    for (uint32_t i = from; i < to; ++i) {
      for (uint64_t a : kAux) {
        if (t[i].hash == a) return true;
      }
    }
    return false;
  };
  for (size_t k = 1; k < segments.size();) {
    auto& prev = segments[k - 1];
    auto& cur = segments[k];
    if (!has_aux(prev.first, prev.second) &&
        has_aux(cur.first, std::min(cur.second, cur.first + 3)) && cur.first > prev.second &&
        cur.first - prev.second <= 1 && t[prev.second].hash == H("and")) {
      prev.second = cur.second;
      segments.erase(segments.begin() + k);
    } else {
      ++k;
    }
  }
  // A short segment that names no kind is a conjunct of the next one, not a requirement of its
  // own: "all violations and attacks cease", "the U.S. and other allies help ensure security".
  uint32_t carried = UINT32_MAX;  // start of such a segment, pending
  for (size_t si = 0; si < segments.size(); ++si) {
    auto [sb, se] = segments[si];
    if (carried != UINT32_MAX) sb = carried;
    carried = UINT32_MAX;
    thread_local std::vector<uint64_t> groups_hit;  // per pattern: the groups with a hit
    thread_local std::vector<uint32_t> fired;       // patterns whose every group has one
    groups_hit.assign(lex.kind_patterns.size(), 0);
    fired.clear();
    for (uint32_t i = sb; i < se; ++i) {
      if (!(t[i].cls & kStartsKind)) continue;
      PhraseMatcher::Match m = lex.kind_matcher.Longest(t, i, se);
      if (!m.length) continue;
      for (uint32_t p : *m.payloads) {
        uint32_t pattern = p / 64, group = p % 64;
        groups_hit[pattern] |= 1ULL << group;
        uint64_t all = (lex.kind_patterns[pattern].groups >= 64)
                           ? ~0ULL
                           : ((1ULL << lex.kind_patterns[pattern].groups) - 1);
        if (groups_hit[pattern] == all &&
            std::find(fired.begin(), fired.end(), pattern) == fired.end()) {
          fired.push_back(pattern);
        }
      }
    }
    std::vector<std::string> kinds;
    for (uint32_t p : fired) {
      const std::string& kind = lex.kind_patterns[p].kind;
      if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) {
        kinds.push_back(kind);
        if (explain) patterns->push_back(kind + " (" + lex.kind_patterns[p].source + ")");
      }
    }
    if (kinds.empty()) {
      uint32_t words = 0;
      for (uint32_t i = sb; i < se; ++i) words += t[i].word;
      if (words <= 3 && si + 1 < segments.size() && segments[si + 1].first == se + 1 &&
          !has_aux(sb, se)) {
        carried = sb;
        continue;
      }
      if (words < 2) continue;
      kinds.push_back("OTHER");
    }
    for (const auto& k : kinds) out->push_back(ConditionHit{k, sb, se, ""});
  }
}

namespace {

// The reporter whose words hold the condition span `s`: a reporting verb before it in the same
// clause ("Norway said the force must ...") or after it ("'... must ...,' the minister said"),
// when no holder stands between. -1 if none, -2 for the salient actor.
int ReporterOfComplement(const SentenceView& v, const ConditionSpan& s, std::string* rule) {
  std::string own;
  const int subject = v.HolderLeft(s.trigger_begin, &own);
  for (const Report& r : v.reports) {
    if (r.end > s.trigger_begin || r.according_to || r.nonactor || r.voice || r.mention < 0 ||
        v.mentions[r.mention].kind == MentionKind::kPronoun) {  // "it was reported that ..."
      continue;
    }
    if (v.clause_of[r.end - 1 - v.b] != v.clause_of[s.trigger_begin - v.b]) continue;
    if (subject >= 0 && v.mentions[subject].begin >= r.end) return -1;  // "said Israel must ..."
    if (v.mentions[r.mention].actor < 0 || !v.know.Holdable(v.mentions[r.mention].actor)) continue;
    *rule = std::string("reporter of the requirement ") + MentionRule(v.mentions[r.mention].kind);
    return r.mention;
  }
  if (subject >= 0) return -1;
  return v.ReporterAfter(s.end, rule);
}

}  // namespace

void AttachConditions(const SentenceView& v, const std::vector<Occurrence>& cues,
                      const CueAssignments& ca, const ConditionSpans& cs, bool explain,
                      const Trace& trace, std::vector<Attached>* out) {
  const Lexicons& lex = v.know.lex;
  const std::vector<Token>& t = v.t;
  const uint32_t b = v.b;
  const auto& mentions = v.mentions;
  const std::vector<Assigned>& assigned = ca.assigned;
  const std::vector<char>& cue_held = ca.cue_held;
  std::vector<Attached>& attached = *out;
  attached.clear();
  for (const ConditionSpan& s : cs.spans) {
    std::vector<ConditionHit> hits;
    std::vector<std::string> patterns;
    ClassifyConditions(lex, t, s.begin, s.end, explain, &hits, &patterns);
    if (hits.empty()) continue;
    bool typed = false;
    for (const auto& h : hits) typed |= h.kind != "OTHER";
    for (uint32_t j = s.begin; j < s.end && !typed; ++j) {
      // a precondition, or a restriction: "must be deployed only at the borders" (not "not
      // only ... but", "the only obstacle")
      typed = t[j].hash == H("first") || t[j].hash == H("before") ||
              (t[j].hash == H("only") && j > s.begin && t[j - 1].hash != H("not") &&
               !(t[j - 1].cls & kDeterminer));
    }
    // "First, we need a Security Council resolution": the adverb "first" just before the trigger
    // (a comma or a pronoun between) marks a precondition, which needs no position cue to hold;
    // "the first attempt when ..." is an adjective
    bool first_before = false;
    for (uint32_t j = s.trigger_begin; j > b && s.trigger_begin - j < 3; --j) {
      const Token& w = t[j - 1];
      if (w.hash == H("first")) {
        first_before = j - 1 == b || (t[j - 2].cls & kDeterminer) == 0;
        break;
      }
      if (w.hash != H(",") && w.hash != H("we") && w.hash != H("they") && w.hash != H("i")) break;
    }
    typed |= first_before;
    const bool standalone = s.trigger->standalone || first_before;
    if (s.trigger->typed && !typed) continue;
    const Assigned* target = nullptr;
    for (const auto& a : assigned) {
      if (a.neutral) continue;
      const Occurrence& o = cues[a.cue];
      if (o.begin <= s.trigger_begin) {
        // weak triggers ("once", "when") bind only within a short stretch of the same clause:
        // "a proposal to join the force -- a mission to secure the territory once hostilities end"
        bool weak_trigger = !standalone;
        bool boundary = weak_trigger && o.end < s.trigger_begin && s.trigger_begin - o.end > 15;
        // ... nor past a stance cue that has no holder: "plans for a force that could be
        // deployed to Ukraine after a ceasefire" describes the force
        for (size_t oi = 0; oi < cues.size(); ++oi) {
          const Occurrence& other = cues[oi];
          CueClass k = lex.cues[other.index].cls;
          if (weak_trigger && !cue_held[oi] && other.begin >= o.end &&
              other.end <= s.trigger_begin &&
              (k == CueClass::kSupport || k == CueClass::kOppose || k == CueClass::kUndecided)) {
            boundary = true;
          }
        }
        for (uint32_t j = o.end; j < s.trigger_begin; ++j) {
          boundary |= ((t[j].cls & kClauseEnd) != 0) > 0 ||
                      (weak_trigger && (t[j].hash == H("--") || t[j].hash == H("(")));
        }
        if (!boundary && (!target || cues[target->cue].begin < o.begin)) target = &a;
      }
    }
    if (!target) {
      for (const auto& a : assigned) {
        if (a.neutral) continue;
        if (cues[a.cue].begin >= s.end && (!target || cues[a.cue].begin < cues[target->cue].begin))
          target = &a;
      }
    }
    // "will not disarm as long as troops occupy ...": a positive-only trigger after a refusal
    // gives the refusal's reason, not a condition
    bool refusal = false;
    if (s.trigger->positive) {
      if (target && target->position == v1::POSITION_OPPOSE) continue;
      for (const Occurrence& o : cues) {
        if (lex.cues[o.index].cls == CueClass::kNegation && o.end <= s.trigger_begin &&
            s.trigger_begin - o.end <= 8) {
          bool boundary = false;
          for (uint32_t j = o.end; j < s.trigger_begin; ++j) boundary |= !t[j].word;
          refusal |= !boundary;
        }
      }
      if (refusal && target) continue;
      if (!refusal && !target) continue;  // "as long as" needs a stance to qualify
    }
    int mention = -1, actor = -1;
    std::string rule;
    int new_subject = -1;
    if (target) {
      // a new clause subject between the cue and the trigger holds the condition:
      // "Armenia is ready to sign, but Azerbaijan insists that Yerevan first ..."
      std::string r2;
      int mk = v.HolderLeft(s.trigger_begin, &r2);
      if (mk >= 0 && mentions[mk].begin >= cues[target->cue].end &&
          mentions[mk].actor != target->actor) {
        target = nullptr;
        new_subject = mk;
        rule = r2;
      }
    }
    if (new_subject >= 0) {
      mention = new_subject;
      actor = mentions[new_subject].actor;
    } else if (target) {
      if (s.trigger->negative && target->position != v1::POSITION_OPPOSE) continue;
      if (lex.cues[cues[target->cue].index].threat) continue;  // the threat's trigger
      mention = target->mention;
      actor = target->actor;
      rule = target->rule;
    } else if (standalone) {
      int mk = v.HolderLeft(s.trigger_begin, &rule);
      if (mk < 0) mk = v.ReporterAfter(s.end, &rule);
      if (mk == -1 && v.salient_actor >= 0 && t[b].hash == H("any")) {
        // "Any dispatch would require ...": the previous sentence's holder
        mk = -2;
        rule = "generic subject refers back to " + v.know.actors.record(v.salient_actor).name;
      }
      if (mk == -1) continue;
      mention = mk;
      actor = mk >= 0 ? mentions[mk].actor : v.salient_actor;
    } else if (typed && !s.trigger->negative && !s.trigger->positive) {
      // "Norway said the force must be fully under UN supervision": a requirement of a known
      // kind in what a reporter says, whose clause has no holder of its own, is the reporter's
      const int mk = ReporterOfComplement(v, s, &rule);
      if (mk == -1) continue;
      mention = mk;
      actor = mk >= 0 ? mentions[mk].actor : v.salient_actor;
    } else {
      continue;
    }
    if (actor < 0 || !v.know.Holdable(actor)) continue;
    if (explain) {
      for (auto& p : patterns) p = "'" + s.trigger->phrase + "' -> " + p;
      if (patterns.empty()) patterns.push_back("'" + s.trigger->phrase + "' -> OTHER");
    }
    if (trace.on()) {
      std::string kinds;
      for (const auto& h : hits) kinds += " " + h.kind;
      trace.Line("conditions", "'%s' -> %s (%s)%s", s.trigger->phrase.c_str(),
                 v.know.actors.record(actor).id.c_str(), rule.c_str(),
                 refusal ? " refusal: no condition" : kinds.c_str());
    }
    if (refusal) {
      hits.clear();
      patterns.clear();
      rule += " (refusal: not ... " + s.trigger->phrase + ")";
    }
    // holders that share the cue share its conditions: "Australia and New Zealand will not ..."
    if (target && new_subject < 0) {
      for (const auto& a : assigned) {
        if (&a != target && a.cue == target->cue && !a.neutral && a.actor != actor) {
          attached.push_back(Attached{a.mention, a.actor, hits, patterns, a.rule});
        }
      }
    } else if (mention >= 0 && !target) {
      // so do a holder's conjuncts: "Saudi Arabia and the UAE have conditioned the aid on ..."
      for (int k : v.Conjuncts(mention)) {
        if (k == mention || mentions[k].actor == actor) continue;
        attached.push_back(Attached{k, mentions[k].actor, hits, patterns, "conjunct " + rule});
      }
    }
    attached.push_back(Attached{mention, actor, std::move(hits), std::move(patterns), rule});
  }
}

void TraceConditionSpans(const Trace& trace, const Document& doc, const ConditionSpans& cs) {
  if (!trace.on()) return;
  for (const auto& sp : cs.spans) {
    const std::string text(doc.Bytes(sp.begin, sp.end));
    uint32_t opener;
    const ClauseType type =
        SubordinateType(doc.tokens, sp.trigger_begin, sp.trigger_end + 1, &opener);
    trace.Line("conditions", "trigger '%s' (%s clause) span=[%s]", sp.trigger->phrase.c_str(),
               ClauseTypeName(type), text.c_str());
  }
}

}  // namespace stancewire::extraction
