// The extraction pipeline. Per item: tokenise once, split sentences, then per sentence find actor
// mentions, cue phrases and condition triggers with hash-trie lookups (one pass each), attach
// each cue to its holder with bounded left/right scans, and merge per (actor, topic).
// Every scan is bounded by a constant window, so time is linear in the text.
#include "extraction/extractor.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "common/timestamps.h"
#include "extraction/actors.h"
#include "extraction/clause_structure.h"
#include "extraction/lexicons.h"
#include "extraction/text.h"

namespace stancewire::extraction {
namespace {

using v1::Position;

constexpr size_t kScanWindow = 60;     // tokens a holder search looks back
constexpr size_t kConditionMax = 40;   // tokens in one condition text
constexpr size_t kNegationWindow = 3;  // tokens between a negation and its cue

enum class MentionKind {
  kName,            // "Azerbaijan", "the United States"
  kMetonym,         // "Baku", "the Kremlin"
  kRole,            // "the Turkish foreign minister", "EU diplomats", "Pakistan's prime minister"
  kStanceNoun,      // "Azerbaijan's position"
  kPerson,          // "Hakan Fidan", "President Prabowo Subianto"
  kPronoun,         // "it"
  kPronounPerson,   // "he", "she"
  kPronounSpeaker,  // "we" in a quotation: the quoted speaker
  kAnaphor,         // "the kingdom", "the country's foreign minister", "its prime minister"
};

const char* MentionRule(MentionKind k) {
  switch (k) {
    case MentionKind::kName:
      return "name";
    case MentionKind::kMetonym:
      return "metonym";
    case MentionKind::kRole:
      return "role noun";
    case MentionKind::kStanceNoun:
      return "possessive position noun";
    case MentionKind::kPerson:
      return "person";
    case MentionKind::kPronoun:
      return "pronoun";
    case MentionKind::kPronounPerson:
      return "personal pronoun";
    case MentionKind::kPronounSpeaker:
      return "first-person pronoun (quoted speaker)";
    case MentionKind::kAnaphor:
      return "anaphor";
  }
  return "";
}

struct Mention {
  uint32_t begin = 0, end = 0;  // tokens
  MentionKind kind = MentionKind::kName;
  int actor = -1;   // resolved actor, -1 when unknown
  int person = -1;  // index into Actors::persons()
  bool subject = false;
  bool voice = false;             // unnamed sources: "Egyptian diplomatic sources"
  bool possessive_other = false;  // "Gaza's reconstruction": a modifier, never a holder
  bool proposal = false;          // "the Egyptian proposal", "Egypt's plan": the actor proposes
  int antecedent = -1;            // for pronouns: the mention they stand for ("they" -> a list)
};

struct Occurrence {
  uint32_t begin = 0, end = 0;
  uint32_t index = 0;  // cue or trigger index
};

struct Report {
  uint32_t begin = 0, end = 0;        // the reporting verb
  uint32_t np_begin = 0, np_end = 0;  // the reporter as written
  int mention = -1;                   // actor mention inside the reporter, if any
  bool voice = false;                 // the reporter is an unnamed source or a medium
  bool anaphoric = false;             // "the source", "he": stands for the salient actor
  bool according_to = false;
  bool nonactor = false;  // analysts, experts: what they say is no stance
};

struct ConditionHit {
  std::string kind;
  uint32_t begin = 0, end = 0;  // tokens
  std::string pattern;
};

// One piece of evidence for an actor's position found in one sentence.
struct Contribution {
  int actor = -1;
  Position position = v1::POSITION_UNSPECIFIED;
  bool weak = false;
  bool historical = false;  // past perfect ("had opposed"): superseded by a current position
  bool neutral = false;
  std::vector<ConditionHit> conditions;
  uint32_t sentence = 0;
  uint32_t mention_begin = 0, mention_end = 0;  // the holder as written (bytes)
  int person = -1;
  std::string attribution;
  std::string cue;
  std::string holder_rule;
  std::vector<std::string> condition_patterns;
  std::string topic_key, topic_label;
};

uint64_t Fnv(std::string_view s, uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// The list of mentions that starts at mention `first`: its index and those of the mentions that
// follow it separated by ",", "and", ", and" or "as well as".
std::vector<int> ListFrom(const std::vector<Token>& t, const std::vector<Mention>& mentions,
                          int first) {
  std::vector<int> out{first};
  for (size_t k = first + 1; k < mentions.size(); ++k) {
    if (!ListSeparated(t, mentions[k - 1].end, mentions[k].begin)) break;
    out.push_back(static_cast<int>(k));
  }
  return out;
}

// The topic key of an item that names no known proposal: "item-" and the item id folded to
// the key alphabet (lower-case letters, digits, '-').
std::string ItemTopicKey(std::string_view item_id) {
  std::string key = "item-";
  for (char c : item_id) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    key.push_back((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '-');
  }
  return key;
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

class ExtractorImpl : public Extractor {
 public:
  bool Init(const ExtractorConfig& config, std::string* error) {
    std::vector<std::string> files;
    std::filesystem::path dir = std::filesystem::path(config.data_dir) / "actors";
    std::error_code ec;
    if (std::filesystem::is_directory(dir, ec)) {
      for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        if (e.path().extension() == ".tsv") files.push_back(e.path().string());
      }
    }
    std::sort(files.begin(), files.end());
    files.insert(files.end(), config.extra_actor_files.begin(), config.extra_actor_files.end());
    if (files.empty()) {
      *error = dir.string() + ": no actor dictionary (*.tsv) found";
      return false;
    }
    if (!actors_.Load(files, error)) return false;
    if (!lex_.Load(config.data_dir, error)) return false;
    lex_.MarkStarts(actors_.matcher(), kStartsActor);
    for (size_t i = 0; i < actors_.size(); ++i) {
      holdable_.push_back(!lex_.nonholder_actors.count(actors_.record(i).id));
    }
    holds_as_.assign(actors_.size(), -1);
    for (const auto& [body, organisation] : lex_.holds_as) {
      const auto* from = actors_.Resolve(body);
      const auto* to = actors_.Resolve(organisation);
      if (!from || !to || from->id != body || to->id != organisation) {
        *error = config.data_dir +
                 "/lexicons/function_words.tsv: HOLDS_AS names an unknown actor id '" +
                 (from && from->id == body ? organisation : body) + "'";
        return false;
      }
      holds_as_[from - &actors_.record(0)] = static_cast<int>(to - &actors_.record(0));
    }
    return true;
  }

  const ActorDictionary& actors() const override { return actors_; }

  std::vector<v1::Stance> Extract(const v1::NewsItem& item,
                                  const ExtractOptions& options) const override;

 private:
  struct ItemState;
  void AnalyseSentence(ItemState& st, uint32_t si) const;
  void FindMentions(ItemState& st, uint32_t b, uint32_t e, std::vector<Mention>* out) const;
  void ClassifyConditions(ItemState& st, uint32_t b, uint32_t e, std::vector<ConditionHit>* out,
                          std::vector<std::string>* patterns) const;
  // prefer_title: "Prime Minister" before a name is a title, elsewhere a role noun
  bool RoleAt(const std::vector<Token>& t, size_t i, size_t end, RoleType* type, uint32_t* len,
              bool skip_determiners, bool prefer_title = false) const;
  bool Holdable(int actor) const { return actor >= 0 && holdable_[actor]; }
  void FindTopics(ItemState& st) const;

  Actors actors_;
  Lexicons lex_;
  std::vector<char> holdable_;  // per actor: may hold a stance (not a venue such as the ICJ)
  std::vector<int> holds_as_;   // per actor: the organisation that holds its stances, or -1
  bool debug_ = std::getenv("STANCEWIRE_EXTRACTION_DEBUG") != nullptr;
};

struct ExtractorImpl::ItemState {
  std::string_view text;
  std::vector<Token> tokens;
  std::vector<Sentence> sentences;
  int date = 0;
  int salient_actor = -1;
  int salient_person_actor = -1;
  std::vector<Contribution> contributions;
  // topics per sentence: index into topic_keys, -1 = none named
  std::vector<int> sentence_topic;
  std::vector<std::pair<std::string, std::string>> topic_keys;  // key, label
  int dominant_topic = -1;
  bool explain = false;

  std::string_view Bytes(uint32_t tb, uint32_t te) const {
    if (te <= tb) return {};
    return text.substr(tokens[tb].start, tokens[te - 1].end - tokens[tb].start);
  }
};

bool ExtractorImpl::RoleAt(const std::vector<Token>& t, size_t i, size_t end, RoleType* type,
                           uint32_t* len, bool skip_determiners, bool prefer_title) const {
  // skips modifiers ("senior", "military"), then reports the longest role phrase
  size_t j = i;
  while (j < end) {
    if (!(t[j].cls & kStartsRole)) return false;
    PhraseMatcher::Match m = lex_.role_matcher.Longest(t, j, end);
    if (!m.length) return false;
    // a phrase can be both a modifier and a role ("government"): prefer the longest role reading,
    // and read it as a modifier only when a role follows
    const Role* best = nullptr;
    for (uint32_t p : *m.payloads) {
      if (lex_.roles[p].type == RoleType::kModifier) continue;
      bool title = lex_.roles[p].type == RoleType::kTitle;
      if (!best || title == prefer_title) best = &lex_.roles[p];
    }
    bool is_modifier = false;
    for (uint32_t p : *m.payloads) is_modifier |= lex_.roles[p].type == RoleType::kModifier;
    if (is_modifier && !skip_determiners && ((t[j].cls & kDeterminer) != 0)) return false;
    if (is_modifier) {
      RoleType inner;
      uint32_t inner_len;
      if (j + m.length < end && RoleAt(t, j + m.length, end, &inner, &inner_len, true)) {
        *type = inner;
        *len = static_cast<uint32_t>(j + m.length + inner_len - i);
        return true;
      }
    }
    if (best) {
      *type = best->type;
      *len = static_cast<uint32_t>(j + m.length - i);
      return true;
    }
    return false;
  }
  return false;
}

void ExtractorImpl::FindMentions(ItemState& st, uint32_t b, uint32_t e,
                                 std::vector<Mention>* out) const {
  const auto& t = st.tokens;
  uint32_t i = b;
  auto skip_name = [&](uint32_t j) {  // unknown capitalised name after a title
    while (j < e && t[j].word && t[j].capitalized) ++j;
    return j;
  };
  // A role noun ending before `of` followed by a name ("... of the Netherlands"): makes *m a
  // role mention of that actor, ending after the name.
  auto role_of_actor = [&](uint32_t of, Mention* m) {
    if (of + 1 >= e || t[of].hash != H("of")) return false;
    uint32_t at = of + 1;
    if (at < e && t[at].hash == H("the")) ++at;
    Actors::Hit name = at < e ? actors_.Match(st.text, t, at, e, st.date) : Actors::Hit{};
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
    // anaphors: "the kingdom", "the country's foreign minister", "its prime minister"
    // anaphors start with a determiner or possessive ("the kingdom", "his country")
    PhraseMatcher::Match an;
    if (t[i].cls & kStartsAnaphor) an = lex_.anaphor_matcher.Longest(t, i, e);
    if (an.length) {
      // a name wins over an anaphor it starts with: "the Organisation of Islamic Cooperation"
      uint32_t s0 = i + (((t[i].cls & kDeterminer) != 0) ? 1 : 0);
      Actors::Hit longer = actors_.Match(st.text, t, s0, e, st.date);
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
      if (m.end + 1 < e && t[m.end].hash == H("'s") && RoleAt(t, m.end + 1, e, &rt, &rl, true) &&
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
      if (RoleAt(t, i + 1, e, &rt, &rl, false) &&
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
      hit = actors_.Match(st.text, t, i, e, st.date);
      if (hit.length) start = i;
    }
    if (!hit.length && (t[start].cls & kStartsActor)) {
      hit = actors_.Match(st.text, t, start, e, st.date);
    }
    if (!hit.length && t[start].capitalized && RoleAt(t, start, e, &rt, &rl, true, true) &&
        rt == RoleType::kTitle) {
      Actors::Hit p = actors_.Match(st.text, t, start + rl, e, st.date);
      if (p.length && p.alias->type == AliasType::kPerson) {
        m.kind = MentionKind::kPerson;
        m.actor = static_cast<int>(p.alias->actor);
        m.person = p.alias->person;
        m.begin = i;
        m.end = start + rl + p.length;
        // "Prime Minister Giorgia Meloni's office"
        RoleType r2;
        uint32_t l2;
        if (m.end + 1 < e && t[m.end].hash == H("'s") && RoleAt(t, m.end + 1, e, &r2, &l2, true) &&
            r2 == RoleType::kBody) {
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
    // "the foreign minister of Qatar"
    if (!hit.length && RoleAt(t, start, e, &rt, &rl, false) &&
        (rt == RoleType::kSpeaker || rt == RoleType::kBody) && role_of_actor(start + rl, &m)) {
      out->push_back(m);
      i = m.end;
      continue;
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
      if (RoleAt(t, after, e, &rt, &rl, false, true)) {
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
          Actors::Hit p = actors_.Match(st.text, t, after + rl, e, st.date);
          m.kind = MentionKind::kRole;
          if (p.length && p.alias->type == AliasType::kPerson) {
            m.person = p.alias->person;
            m.kind = MentionKind::kPerson;
            m.end = after + rl + p.length;
          } else {
            m.end = std::max(skip_name(after + rl), after + rl);
          }
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
      m.end = after;
      if (after + 1 < e && t[after].hash == H("'s") && RoleAt(t, after + 1, e, &rt, &rl, true) &&
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
      if (RoleAt(t, after + 1, e, &rt, &rl, true)) {
        if (rt == RoleType::kSpeaker || rt == RoleType::kBody || rt == RoleType::kVoice) {
          m.kind = MentionKind::kRole;
          m.end = after + 1 + rl;
        } else if (rt == RoleType::kStance) {
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
    } else if (RoleAt(t, after, e, &rt, &rl, false, true)) {
      // "EU diplomats", "U.S. officials", "UN Secretary-General António Guterres"
      if (rt == RoleType::kSpeaker || rt == RoleType::kBody || rt == RoleType::kVoice) {
        m.kind = MentionKind::kRole;
        m.voice = rt == RoleType::kVoice;
        m.end = after + rl;
      } else if (rt == RoleType::kTitle) {
        Actors::Hit p = actors_.Match(st.text, t, after + rl, e, st.date);
        m.kind = MentionKind::kRole;
        if (p.length && p.alias->type == AliasType::kPerson) {
          m.person = p.alias->person;
          m.end = after + rl + p.length;
        } else {
          m.end = std::max(skip_name(after + rl), after + rl);
        }
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

void ExtractorImpl::ClassifyConditions(ItemState& st, uint32_t b, uint32_t e,
                                       std::vector<ConditionHit>* out,
                                       std::vector<std::string>* patterns) const {
  const auto& t = st.tokens;
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
  for (auto [sb, se] : segments) {
    std::vector<uint64_t> groups_hit(lex_.kind_patterns.size(), 0);
    std::vector<uint32_t> fired;
    for (uint32_t i = sb; i < se; ++i) {
      if (!(t[i].cls & kStartsKind)) continue;
      PhraseMatcher::Match m = lex_.kind_matcher.Longest(t, i, se);
      if (!m.length) continue;
      for (uint32_t p : *m.payloads) {
        uint32_t pattern = p / 64, group = p % 64;
        groups_hit[pattern] |= 1ULL << group;
        uint64_t all = (lex_.kind_patterns[pattern].groups >= 64)
                           ? ~0ULL
                           : ((1ULL << lex_.kind_patterns[pattern].groups) - 1);
        if (groups_hit[pattern] == all &&
            std::find(fired.begin(), fired.end(), pattern) == fired.end()) {
          fired.push_back(pattern);
        }
      }
    }
    std::vector<std::string> kinds;
    for (uint32_t p : fired) {
      const std::string& kind = lex_.kind_patterns[p].kind;
      if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) {
        kinds.push_back(kind);
        if (st.explain) patterns->push_back(kind + " (" + lex_.kind_patterns[p].source + ")");
      }
    }
    if (kinds.empty()) {
      uint32_t words = 0;
      for (uint32_t i = sb; i < se; ++i) words += t[i].word;
      if (words < 2) continue;
      kinds.push_back("OTHER");
    }
    for (const auto& k : kinds) out->push_back(ConditionHit{k, sb, se, ""});
  }
}

void ExtractorImpl::AnalyseSentence(ItemState& st, uint32_t si) const {
  const auto& t = st.tokens;
  const Sentence& sen = st.sentences[si];
  const uint32_t b = sen.first_token, e = sen.end_token;
  const uint32_t n = e - b;

  // Per-sentence scratch space, reused across sentences and items (per thread) to spare malloc.
  thread_local std::vector<Mention> mentions;
  thread_local std::vector<int> mention_ending, mention_covering;  // token -> mention
  mentions.clear();
  FindMentions(st, b, e, &mentions);
  for (Mention& m : mentions) {
    if (m.actor >= 0 && holds_as_[m.actor] >= 0) m.actor = holds_as_[m.actor];
  }
  mention_ending.assign(n, -1);
  mention_covering.assign(n, -1);
  for (size_t k = 0; k < mentions.size(); ++k) {
    mention_ending[mentions[k].end - 1 - b] = static_cast<int>(k);
    for (uint32_t j = mentions[k].begin; j < mentions[k].end; ++j)
      mention_covering[j - b] = static_cast<int>(k);
  }

  // Subject test and pronoun / anaphor resolution, left to right.
  int last_subject_actor = -1, last_person_actor = -1, last_subject_mention = -1;
  int last_any_actor = -1;
  for (size_t k = 0; k < mentions.size(); ++k) {
    Mention& m = mentions[k];
    bool subject;
    if (m.possessive_other) {
      subject = false;
    } else if (m.begin == b) {
      subject = true;
    } else {
      const uint32_t lead = ModifiersBefore(t, b, m.begin);
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
      } else if (prev.cls & kSubjectBefore) {
        subject = true;
        if (k > 0 && m.kind != MentionKind::kPronoun && m.kind != MentionKind::kPronounPerson &&
            (ListSeparated(t, mentions[k - 1].end, m.begin) ||
             (prev.hash == H("or") && mentions[k - 1].end + 1 == m.begin))) {
          subject = mentions[k - 1].subject;  // a list inherits: "sounding out A, B and C"
        }
      } else {
        subject = false;
      }
    }
    m.subject = subject;
    if (m.kind == MentionKind::kPronoun) {
      m.actor = last_subject_actor >= 0 ? last_subject_actor : st.salient_actor;
      m.antecedent = last_subject_mention;
    } else if (m.kind == MentionKind::kPronounPerson) {
      m.actor = last_person_actor >= 0 ? last_person_actor : st.salient_person_actor;
    } else if (m.kind == MentionKind::kAnaphor) {
      // "the country": the last subject, else the last state named in the sentence, else the
      // actor of the previous sentence
      m.actor = last_subject_actor >= 0 ? last_subject_actor : last_any_actor;
      if (m.actor < 0) m.actor = st.salient_actor;
    }
    if (m.actor >= 0 && m.kind != MentionKind::kAnaphor && Holdable(m.actor))
      last_any_actor = m.actor;
    if (m.subject && m.actor >= 0 && Holdable(m.actor)) {
      last_subject_actor = m.actor;
      if (m.kind != MentionKind::kPronoun) last_subject_mention = static_cast<int>(k);
    }
    if (m.person >= 0 && m.actor >= 0) last_person_actor = m.actor;
  }

  // Cues and triggers, longest match left to right.
  thread_local std::vector<Occurrence> cues, triggers;
  cues.clear();
  triggers.clear();
  for (uint32_t i = b; i < e;) {
    if (mention_covering[i - b] >= 0 && !mentions[mention_covering[i - b]].possessive_other &&
        mentions[mention_covering[i - b]].kind != MentionKind::kPronoun) {
      i = mentions[mention_covering[i - b]].end;
      continue;
    }
    PhraseMatcher::Match m;
    if (t[i].cls & kStartsCue) m = lex_.cue_matcher.Longest(t, i, e);
    if (m.length) {
      cues.push_back({i, i + m.length, (*m.payloads)[0]});
      i += m.length;
    } else {
      ++i;
    }
  }
  for (uint32_t i = b; i < e;) {
    PhraseMatcher::Match m;
    if (t[i].cls & kStartsTrigger) m = lex_.trigger_matcher.Longest(t, i, e);
    if (m.length) {
      triggers.push_back({i, i + m.length, (*m.payloads)[0]});
      i += m.length;
    } else {
      ++i;
    }
  }

  // Reporting clauses: who said it, and whether that is a speaker or an attribution.
  thread_local std::vector<Report> reports;
  thread_local std::vector<char> is_report_token;
  reports.clear();
  is_report_token.assign(n, 0);
  for (const Occurrence& o : cues) {
    const Cue& c = lex_.cues[o.index];
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
      if (RoleAt(t, j, r.np_end, &rt, &rl, true)) {
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

  // "We will not ...," the minister said: first-person pronouns stand for the reporter.
  for (Mention& m : mentions) {
    if (m.kind != MentionKind::kPronounSpeaker) continue;
    for (const Report& r : reports) {
      if (r.mention >= 0 && mentions[r.mention].actor >= 0 && !r.according_to) {
        m.actor = mentions[r.mention].actor;
        break;
      }
    }
  }

  // Condition spans.
  struct Span {
    uint32_t trigger_begin, trigger_end, begin, end;
    const Trigger* trigger;
  };
  thread_local std::vector<Span> spans;
  thread_local std::vector<char> in_condition;
  spans.clear();
  in_condition.assign(n, 0);
  for (const Occurrence& o : triggers) {
    const Trigger& tr = lex_.triggers[o.index];
    uint32_t sb = tr.keep ? o.begin : o.end;
    uint32_t j = o.end;
    while (j < e && j - sb < kConditionMax) {
      static constexpr uint64_t kStop[] = {
          H(","),   H(";"),      H(":"),       H("--"),     H("."),      H("!"),       H("?"),
          H("("),   H(")"),      H("\""),      H("but"),    H("while"),  H("whereas"), H("which"),
          H("who"), H("saying"), H("arguing"), H("citing"), H("adding"), H("so")};
      bool stop = is_report_token[j - b];
      for (uint64_t h : kStop) stop |= t[j].hash == h;
      if (stop) {
        break;
      }
      ++j;
    }
    if (j <= o.end) continue;
    if (tr.subject) {
      // take in the clause's subject: whoever "must first" act is part of the condition
      // ("... insisting that Stockholm should first show Budapest more respect")
      uint32_t k = o.begin;
      while (k > b && o.begin - k < 6 && t[k - 1].word && t[k - 1].hash != H("that") &&
             !(t[k - 1].cls & kSubjectBefore)) {
        --k;
      }
      if (k < o.begin && (k == b || !t[k - 1].word || t[k - 1].hash == H("that"))) sb = k;
    }
    spans.push_back({o.begin, o.end, sb, j, &tr});
  }
  for (const Span& s : spans) {
    // the trigger's own words ("wants", "called for") may still be the position cue
    for (uint32_t j = s.begin; j < s.end; ++j) {
      if (j < s.trigger_begin || j >= s.trigger_end) in_condition[j - b] = true;
    }
  }

  // A new coordinated clause ("..., but will not send soldiers") may carry a second cue for the
  // same holder; both count, and the merge decides.
  thread_local std::vector<uint32_t> clause_of;
  clause_of.assign(n, 0);
  for (uint32_t j = b, c = 0; j < e; ++j) {
    if (t[j].hash == H("but") || t[j].hash == H("while") || t[j].hash == H("whereas") ||
        t[j].hash == H(";") || t[j].hash == H("although") || t[j].hash == H("though")) {
      ++c;
    }
    clause_of[j - b] = c;
  }
  // Finds the holder for a cue at `pos`: the nearest subject mention to the left in the clause
  // (skipping condition text), else the reporter of a trailing "..., X said".
  auto holder_left = [&](uint32_t pos, std::string* rule) -> int {
    for (uint32_t j = pos; j > b && pos - j < kScanWindow;) {
      --j;
      if ((t[j].cls & kClauseEnd) && mention_covering[j - b] < 0) break;  // not in "Jr."
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
        if (mk >= 0 && mentions[mk].actor >= 0 && Holdable(mentions[mk].actor) &&
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
      if (!m.subject || m.actor < 0 || !Holdable(m.actor)) continue;
      *rule = std::string("subject ") + MentionRule(m.kind);
      return mk;
    }
    return -1;
  };
  auto reporter_after = [&](uint32_t pos, std::string* rule) -> int {
    for (const Report& r : reports) {
      if (r.begin < pos || r.according_to) continue;
      if (clause_of[r.begin - b] != clause_of[pos - b]) break;  // never across "but"
      if (r.mention >= 0 && r.np_begin >= pos) {
        const Mention& m = mentions[r.mention];
        if (m.actor >= 0 && Holdable(m.actor)) {
          *rule = std::string("reporter ") + MentionRule(m.kind);
          return r.mention;
        }
      }
      if (r.anaphoric && st.salient_actor >= 0) {
        *rule = "reporter refers back to " + actors_.record(st.salient_actor).name;
        return -2;  // salient actor
      }
    }
    return -1;
  };
  // Conjuncts of a holder: "Germany and Spain on Thursday backed ..."
  auto conjuncts = [&](int mk) {
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
      if (prev.actor < 0 || !Holdable(prev.actor) || prev.possessive_other) break;
      out.push_back(k - 1);
      --k;
    }
    return out;
  };
  auto attribution_for = [&](int holder_mention) -> std::string {
    for (const Report& r : reports) {
      if (!r.voice || r.np_end <= r.np_begin) continue;
      if (holder_mention >= 0 && r.mention == holder_mention && !mentions[holder_mention].voice)
        continue;
      return std::string(st.Bytes(r.np_begin, r.np_end));
    }
    return "";
  };

  // The first mention of a list introduced by ", including" (opener = H("including")) or
  // ", along with" / ", together with" (opener = H("along")) after `from`, in the same clause.
  auto list_after_cue = [&](uint32_t from, uint64_t opener) -> int {
    for (uint32_t j = from; j + 1 < e && j - from < kScanWindow; ++j) {
      if ((t[j].cls & kClauseEnd) || clause_of[j - b] != clause_of[from - 1 - b]) break;
      if (t[j].hash != H(",") && t[j].hash != H("including")) continue;
      uint32_t q = j + 1;
      if (opener == H("including") && t[q].hash == H("including")) {
        ++q;
      } else if (opener == H("including") && t[j].hash == H("including")) {
        q = j + 1;  // "pledged support for the initiative including Spain and France"
      } else if (opener == H("along") && q + 1 < e &&
                 (t[q].hash == H("along") || t[q].hash == H("together")) &&
                 t[q + 1].hash == H("with")) {
        q += 2;
      } else {
        continue;
      }
      if (q < e && t[q].hash == H("the")) ++q;
      if (q >= e) return -1;
      int mk = mention_covering[q - b];
      if (mk < 0 || mentions[mk].possessive_other || !Holdable(mentions[mk].actor)) return -1;
      return mk;
    }
    return -1;
  };
  // "France ... has the support of Poland": the clause already has a holder, whose stance the
  // supporters share; only a clause without one lets "the support of X" name X as the holder.
  auto subject_before = [&](uint32_t pos) {
    for (const Mention& m : mentions) {
      if (m.end <= pos && m.subject && clause_of[m.begin - b] == clause_of[pos - b] &&
          Holdable(m.actor)) {
        return true;
      }
    }
    return false;
  };

  // True when `pos` lies in ", who|which ... ," (bounded by the scan window).
  auto in_relative_aside = [&](uint32_t pos) {
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
  };

  // Holder per cue; the first cue of a holder mention wins unless it is weak.
  struct Assigned {
    int mention;  // -2 = salient actor
    int actor;
    size_t cue;  // index into cues
    Position position;
    bool weak, neutral;
    std::string rule;
  };
  thread_local std::vector<Assigned> assigned;
  assigned.clear();
  auto find_assigned = [&](int mention, int actor, uint32_t clause) -> Assigned* {
    for (auto& a : assigned) {
      if (a.mention == mention && a.actor == actor && clause_of[cues[a.cue].begin - b] == clause) {
        return &a;
      }
    }
    return nullptr;
  };
  thread_local std::vector<char> cue_held;  // the cue found a holder (assigned or not)
  cue_held.assign(cues.size(), 0);
  for (size_t ci = 0; ci < cues.size(); ++ci) {
    const Occurrence& o = cues[ci];
    const Cue& c = lex_.cues[o.index];
    if (c.cls == CueClass::kNegation || c.cls == CueClass::kReport) continue;
    // "Sharaa, who met with Trump last month, urged ...": a NEUTRAL cue in a relative aside
    // does not claim the antecedent, whose stance the main clause gives
    if (c.cls == CueClass::kNeutral && in_relative_aside(o.begin)) continue;
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
    bool negated = false;
    if (c.cls != CueClass::kNeutral) {
      for (size_t k = ci; k > 0; --k) {
        const Occurrence& p = cues[k - 1];
        if (o.begin - p.end > kNegationWindow) break;
        bool boundary = false;
        for (uint32_t j = p.end; j < o.begin; ++j) boundary |= !t[j].word;
        if (boundary) break;
        if (lex_.cues[p.index].cls == CueClass::kNegation) {
          negated = true;
          break;
        }
      }
    }
    if (c.negonly && !negated) continue;
    if (negated) {
      if (pos == v1::POSITION_SUPPORT)
        pos = v1::POSITION_OPPOSE;
      else if (pos == v1::POSITION_OPPOSE)
        pos = c.negsupport ? v1::POSITION_SUPPORT : v1::POSITION_UNDECIDED;
    }
    std::vector<std::pair<int, std::string>> holders;  // mention, rule
    bool compound = false;
    if (c.compound && o.begin >= b + 2 && t[o.begin - 1].hash == H("-") &&
        !t[o.begin - 1].space_before && !t[o.begin].space_before &&
        mention_ending[o.begin - 2 - b] >= 0) {
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
                 !subject_before(o.begin) && t[o.end].hash == H("of") &&
                 mention_covering[o.end + 1 - b] >= 0 &&
                 mentions[mention_covering[o.end + 1 - b]].begin == o.end + 1) {
        owner = mention_covering[o.end + 1 - b];
      }
      // "Venezuela's opposition welcomed ...": a stance noun that a verb follows names a group
      // (the opposition party), not a stance
      if (owner >= 0 && c.nominal && o.end < e && t[o.end].word && !NominalContinues(t[o.end])) {
        owner = -1;
      }
      if (owner >= 0 && mentions[owner].actor >= 0 && Holdable(mentions[owner].actor)) {
        for (int k : ListFrom(t, mentions, owner))
          holders.push_back({k, "owner of the stance noun"});
      }
      if (c.nominal && holders.empty()) continue;
    }
    if (holders.empty() && !compound && c.passive) {
      for (uint32_t j = o.end; j < e && j < o.end + 4; ++j) {
        int mk = mention_covering[j - b];
        if (mk < 0) continue;
        if (mentions[mk].actor >= 0 && Holdable(mentions[mk].actor)) {
          // "put forward by the United States and Panama"
          for (int k : ListFrom(t, mentions, mk)) holders.push_back({k, "passive agent"});
        }
        break;
      }
      if (holders.empty()) continue;
    }
    if (holders.empty() && !compound) {
      std::string rule;
      int mk = holder_left(o.begin, &rule);
      if (mk >= 0) {
        for (int k : conjuncts(mk)) holders.push_back({k, k == mk ? rule : "conjunct " + rule});
      } else {
        mk = reporter_after(o.end, &rule);
        if (mk != -1) holders.push_back({mk, rule});
      }
    }
    if (holders.empty() && !compound && !c.nominal) {
      // "Of the 15 members, 12 voted for it, including Japan and France"; "the countries that
      // backed the effort, including A, B and C": the list names the holders
      int first = list_after_cue(o.end, H("including"));
      if (first >= 0) {
        for (int k : ListFrom(t, mentions, first)) holders.push_back({k, "list after the cue"});
      }
    }
    if (!holders.empty() && !compound) {
      // "The United States voted against it, along with Israel and Argentina"
      int first = list_after_cue(o.end, H("along"));
      if (first >= 0) {
        for (int k : ListFrom(t, mentions, first))
          holders.push_back({k, "companion of the holder"});
      }
    }
    if (!holders.empty()) cue_held[ci] = 1;
    for (auto& [mk, rule] : holders) {
      int actor = mk >= 0 ? mentions[mk].actor : st.salient_actor;
      if (actor < 0 || !Holdable(actor)) continue;
      Assigned* a = find_assigned(mk, actor, clause_of[o.begin - b]);
      bool neutral = c.cls == CueClass::kNeutral;
      if (a) {
        if (a->weak && !c.weak) {
          *a = Assigned{mk, actor, ci, pos, c.weak, neutral, rule};
        }
        continue;
      }
      assigned.push_back(Assigned{mk, actor, ci, pos, c.weak, neutral, rule});
    }
  }

  if (debug_) {
    std::fprintf(stderr, "S%u: %.*s\n", si, static_cast<int>(sen.end - sen.start),
                 st.text.data() + sen.start);
    for (const auto& m : mentions) {
      std::fprintf(stderr, "  M [%s] %s actor=%s subj=%d poss=%d\n",
                   std::string(st.Bytes(m.begin, m.end)).c_str(), MentionRule(m.kind),
                   m.actor >= 0 ? actors_.record(m.actor).id.c_str() : "-", m.subject,
                   m.possessive_other);
    }
    for (const auto& o : cues)
      std::fprintf(stderr, "  C [%s] %s\n", std::string(st.Bytes(o.begin, o.end)).c_str(),
                   lex_.cues[o.index].phrase.c_str());
    for (const auto& sp : spans)
      std::fprintf(stderr, "  T [%s] span=[%s]\n", sp.trigger->phrase.c_str(),
                   std::string(st.Bytes(sp.begin, sp.end)).c_str());
    for (const auto& a : assigned)
      std::fprintf(stderr, "  A actor=%s pos=%d weak=%d neutral=%d rule=%s\n",
                   actors_.record(a.actor).id.c_str(), a.position, a.weak, a.neutral,
                   a.rule.c_str());
  }

  // Conditions attach to the holder of the nearest cue to the left (else to the right), or,
  // for standalone triggers, to the clause's own holder.
  struct Attached {
    int mention;
    int actor;
    std::vector<ConditionHit> hits;
    std::vector<std::string> patterns;
    std::string rule;
  };
  thread_local std::vector<Attached> attached;
  attached.clear();
  for (const Span& s : spans) {
    std::vector<ConditionHit> hits;
    std::vector<std::string> patterns;
    ClassifyConditions(st, s.begin, s.end, &hits, &patterns);
    if (hits.empty()) continue;
    bool typed = false;
    for (const auto& h : hits) typed |= h.kind != "OTHER";
    for (uint32_t j = s.begin; j < s.end && !typed; ++j) {
      typed = t[j].hash == H("first") || t[j].hash == H("before");  // a precondition
    }
    if (s.trigger->typed && !typed) continue;
    const Assigned* target = nullptr;
    for (const auto& a : assigned) {
      if (a.neutral) continue;
      const Occurrence& o = cues[a.cue];
      if (o.begin <= s.trigger_begin) {
        // weak triggers ("once", "when") bind only within a short stretch of the same clause:
        // "a proposal to join the force -- a mission to secure the territory once hostilities end"
        bool weak_trigger = !s.trigger->standalone;
        bool boundary = weak_trigger && o.end < s.trigger_begin && s.trigger_begin - o.end > 15;
        // ... nor past a stance cue that has no holder: "plans for a force that could be
        // deployed to Ukraine after a ceasefire" describes the force
        for (size_t oi = 0; oi < cues.size(); ++oi) {
          const Occurrence& other = cues[oi];
          CueClass k = lex_.cues[other.index].cls;
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
        if (lex_.cues[o.index].cls == CueClass::kNegation && o.end <= s.trigger_begin &&
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
      int mk = holder_left(s.trigger_begin, &r2);
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
      mention = target->mention;
      actor = target->actor;
      rule = target->rule;
    } else if (s.trigger->standalone) {
      int mk = holder_left(s.trigger_begin, &rule);
      if (mk < 0) mk = reporter_after(s.end, &rule);
      if (mk == -1 && st.salient_actor >= 0 && t[b].hash == H("any")) {
        // "Any dispatch would require ...": the previous sentence's holder
        mk = -2;
        rule = "generic subject refers back to " + actors_.record(st.salient_actor).name;
      }
      if (mk == -1) continue;
      mention = mk;
      actor = mk >= 0 ? mentions[mk].actor : st.salient_actor;
    } else {
      continue;
    }
    if (actor < 0 || !Holdable(actor)) continue;
    if (st.explain) {
      for (auto& p : patterns) p = "'" + s.trigger->phrase + "' -> " + p;
      if (patterns.empty()) patterns.push_back("'" + s.trigger->phrase + "' -> OTHER");
    }
    if (debug_)
      std::fprintf(stderr, "  K %s -> %s (%zu hits)\n", s.trigger->phrase.c_str(),
                   actors_.record(actor).id.c_str(), hits.size());
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
    }
    attached.push_back(Attached{mention, actor, std::move(hits), std::move(patterns), rule});
  }

  // Emit contributions.
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
    c.attribution = attribution_for(mention);
    return c;
  };
  for (const auto& a : assigned) {
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
    c.cue = lex_.cues[cues[a.cue].index].phrase;
    c.holder_rule = a.rule;
    for (auto& at : attached) {
      if (at.actor != a.actor) continue;
      for (auto& h : at.hits) c.conditions.push_back(h);
      for (auto& p : at.patterns) c.condition_patterns.push_back(p);
      at.actor = -1;  // consumed
    }
    if (!c.conditions.empty()) c.position = v1::POSITION_CONDITIONAL;
    st.contributions.push_back(std::move(c));
  }
  for (const Mention& m : mentions) {
    // "The Egyptian proposal calls for ...": an actor's own plan as a clause subject
    if (!m.proposal || !m.subject || !Holdable(m.actor)) continue;
    Contribution c = make(static_cast<int>(&m - mentions.data()), m.actor);
    c.position = v1::POSITION_SUPPORT;
    c.cue = "own proposal";
    c.holder_rule = "subject proposal noun";
    st.contributions.push_back(std::move(c));
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
    st.contributions.push_back(std::move(c));
  }

  // Salience for the next sentences: the holder found here, else the first subject mention.
  int salient = -1;
  for (const auto& a : assigned) {
    if (!a.neutral) {
      salient = a.actor;
      break;
    }
  }
  if (salient < 0) {
    for (const auto& m : mentions) {
      if (m.subject && m.actor >= 0 && Holdable(m.actor) && m.kind != MentionKind::kPronoun) {
        salient = m.actor;
        break;
      }
    }
  }
  if (salient >= 0) st.salient_actor = salient;
  for (const auto& m : mentions) {
    if (m.person >= 0 && m.actor >= 0) st.salient_person_actor = m.actor;
  }
}

void ExtractorImpl::FindTopics(ItemState& st) const {
  const auto& t = st.tokens;
  std::map<std::string, int> weight;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> acronyms;  // "isf" -> key
  st.sentence_topic.assign(st.sentences.size(), -1);
  auto index_of = [&](const std::string& key, std::string_view label) {
    for (size_t k = 0; k < st.topic_keys.size(); ++k) {
      if (st.topic_keys[k].first == key) return static_cast<int>(k);
    }
    st.topic_keys.push_back({key, std::string(label)});
    return static_cast<int>(st.topic_keys.size() - 1);
  };
  for (uint32_t si = 0; si < st.sentences.size(); ++si) {
    const Sentence& s = st.sentences[si];
    for (uint32_t i = s.first_token; i < s.end_token; ++i) {
      // known topics from the gazetteer
      PhraseMatcher::Match m;
      if (t[i].cls & kStartsTopic) m = lex_.topic_matcher.Longest(t, i, s.end_token);
      if (m.length) {
        const Topic& topic = lex_.topics[(*m.payloads)[0]];
        int k = index_of(topic.key, st.Bytes(i, i + m.length));
        weight[topic.key] += 3;
        if (st.sentence_topic[si] < 0) st.sentence_topic[si] = k;
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
          actor = actors_.Match(st.text, t, k, i + 1, 0).length == i + 1 - k;
        }
        if (j < i && !actor) {
          std::vector<std::string> words;
          for (uint32_t k = j; k <= i; ++k) words.push_back(t[k].key);
          std::string key = lex_.TopicKey(words);
          if (!key.empty()) {
            int k = index_of(key, st.Bytes(j, i + 1));
            weight[key] += 2;
            if (st.sentence_topic[si] < 0) st.sentence_topic[si] = k;
            // "(ISF)" defines an acronym for this name
            if (i + 3 < s.end_token && t[i + 1].hash == H("(") && t[i + 2].all_caps &&
                t[i + 3].hash == H(")")) {
              acronyms[t[i + 2].key] = key;
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
      if (i + 2 < s.end_token && (t[i + 1].hash == H("in") || t[i + 1].hash == H("for")) &&
          t[i + 2].capitalized && t[i + 2].word) {
        words.push_back(t[i + 2].key);  // the place leads the key: "gaza-...-force"
        end = i + 3;
      }
      for (uint32_t k = j; k <= i; ++k) words.push_back(t[k].key);
      std::string key = lex_.TopicKey(words);
      if (key.empty() || key.find('-') == std::string::npos) continue;
      int k = index_of(key, st.Bytes(j, end));
      weight[key] += 1;
      if (st.sentence_topic[si] < 0) st.sentence_topic[si] = k;
      if (t[i].all_caps) {
        auto it = acronyms.find(t[i].key);
        if (it != acronyms.end()) weight[it->second] += 1;
      }
    }
  }
  int best = -1, best_w = 0;
  for (size_t k = 0; k < st.topic_keys.size(); ++k) {
    int w = weight[st.topic_keys[k].first];
    if (w > best_w) {
      best_w = w;
      best = static_cast<int>(k);
    }
  }
  st.dominant_topic = best;
}

std::vector<v1::Stance> ExtractorImpl::Extract(const v1::NewsItem& item,
                                               const ExtractOptions& options) const {
  std::vector<v1::Stance> out;
  const std::string& text = item.text();
  if (text.empty() || text.size() >= UINT32_MAX) return out;
  if (FindInvalidUtf8(text) != std::string_view::npos) return out;  // see ValidateItem

  ItemState st;
  st.text = text;
  st.explain = options.explain;
  if (item.has_published()) {
    time_t secs = static_cast<time_t>(item.published().seconds());
    struct tm tmv;
    if (gmtime_r(&secs, &tmv))
      st.date = (tmv.tm_year + 1900) * 10000 + (tmv.tm_mon + 1) * 100 + tmv.tm_mday;
  }
  st.tokens = Tokenize(text);
  lex_.Classify(&st.tokens);
  st.sentences = lex_.splitter.Split(text, st.tokens);
  for (uint32_t si = 0; si < st.sentences.size(); ++si) AnalyseSentence(st, si);
  if (st.contributions.empty()) return out;
  FindTopics(st);

  // Merge per (actor, topic).
  struct Merged {
    int actor;
    std::string topic, label;
    std::vector<const Contribution*> parts;
  };
  std::vector<Merged> merged;
  std::unordered_map<std::string, size_t> merged_index;
  for (const Contribution& c : st.contributions) {
    int ti = st.sentence_topic[c.sentence];
    if (ti < 0) ti = st.dominant_topic;
    // An item that names no proposal we know still speaks of one thing: its stances share a
    // key of their own ("item-<id>"), labelled with the headline, so that they group together
    // without being merged with other items' unnamed topics.
    std::string key = ti >= 0 ? st.topic_keys[ti].first : ItemTopicKey(item.id());
    std::string label = ti >= 0 ? st.topic_keys[ti].second : item.title();
    if (ti >= 0 && st.dominant_topic >= 0 && ti != st.dominant_topic) {
      // a sentence naming a different topic keeps it only when no other part of the item
      // supports the dominant one for this actor: one item rarely splits one actor's stance
      key = st.topic_keys[st.dominant_topic].first;
      label = st.topic_keys[st.dominant_topic].second;
    }
    // indexed by (actor, topic): an item with thousands of actor-topic pairs stays linear
    auto [slot, fresh] =
        merged_index.try_emplace(std::to_string(c.actor) + "\x1f" + key, merged.size());
    if (fresh) merged.push_back(Merged{c.actor, key, label, {}});
    merged[slot->second].parts.push_back(&c);
  }

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
    const Sentence& s = st.sentences[ev->sentence];
    const auto& rec = actors_.record(m.actor);

    v1::Stance stance;
    uint64_t h = Fnv(item.id());
    h = Fnv("\x1f", h);
    h = Fnv(rec.id, h);
    h = Fnv("\x1f", h);
    h = Fnv(m.topic, h);
    char id[17];
    std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(h));
    stance.set_id(id);
    stance.set_item_id(item.id());
    stance.mutable_actor()->set_id(rec.id);
    stance.mutable_actor()->set_name(rec.name);
    stance.mutable_actor()->set_kind(rec.kind);
    if (ev->mention_end > ev->mention_begin) {
      stance.mutable_actor()->set_mention(
          text.substr(ev->mention_begin, ev->mention_end - ev->mention_begin));
    }
    stance.set_topic(m.topic);
    stance.set_topic_label(m.label);
    stance.set_position(best);
    if (best == v1::POSITION_CONDITIONAL) {
      // a set, not a list: an item repeating its conditions thousands of times stays linear
      std::unordered_set<std::string> seen;
      for (const Contribution* c : m.parts) {
        for (const ConditionHit& h : c->conditions) {
          uint32_t cb = st.tokens[h.begin].start, ce = st.tokens[h.end - 1].end;
          if (!seen.insert(h.kind + "\x1f" + std::to_string(cb)).second) continue;
          v1::Condition* cond = stance.add_conditions();
          cond->set_kind(h.kind);
          cond->set_text(text.substr(cb, ce - cb));
          cond->set_start(cb);
          cond->set_end(ce);
        }
      }
    }
    stance.set_attribution(ev->attribution);
    stance.mutable_evidence()->set_text(text.substr(s.start, s.end - s.start));
    stance.mutable_evidence()->set_start(s.start);
    stance.mutable_evidence()->set_end(s.end);
    stance.set_url(item.url());
    stance.set_outlet(item.outlet());
    if (item.has_published()) *stance.mutable_published() = item.published();
    int speaker = ev->person;
    for (const Contribution* c : m.parts) {
      if (speaker < 0) speaker = c->person;
    }
    if (speaker >= 0) stance.set_speaker(actors_.persons()[speaker].name);
    float conf = ev->weak ? 0.45f : 0.6f;
    if (ev->holder_rule.rfind("subject", 0) == 0 || ev->holder_rule == "passive agent")
      conf += 0.1f;
    conf += 0.05f * static_cast<float>(std::min<size_t>(m.parts.size() - 1, 4));
    if (best == v1::POSITION_CONDITIONAL) conf += 0.05f;
    stance.set_confidence(std::min(conf, 0.95f));
    if (options.explain) {
      v1::Explanation* x = stance.mutable_explanation();
      for (const Contribution* c : m.parts) {
        x->add_cues(c->cue + " -> " + v1::Position_Name(c->position) + " (sentence " +
                    std::to_string(c->sentence + 1) + ")");
        x->add_holder_rules(c->holder_rule);
        for (const auto& p : c->condition_patterns) x->add_condition_patterns(p);
      }
    }
    out.push_back(std::move(stance));
  }
  return out;
}

}  // namespace

std::unique_ptr<Extractor> Extractor::Load(const ExtractorConfig& config, std::string* error) {
  auto impl = std::make_unique<ExtractorImpl>();
  std::string err;
  if (!impl->Init(config, &err)) {
    if (error) *error = err;
    return nullptr;
  }
  return impl;
}

std::string ValidateItem(const v1::NewsItem& item, size_t max_text_bytes) {
  const std::string& text = item.text();
  if (text.empty()) return "text is empty";
  if (text.size() > max_text_bytes) {
    return "text is " + std::to_string(text.size()) + " bytes, over the limit of " +
           std::to_string(max_text_bytes);
  }
  size_t bad = FindInvalidUtf8(text);
  if (bad != std::string_view::npos)
    return "text is not valid UTF-8 at byte " + std::to_string(bad);
  if (item.has_published()) return PublishedProblem("published", item.published());
  return "";
}

}  // namespace stancewire::extraction
