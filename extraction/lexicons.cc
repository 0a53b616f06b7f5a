#include "extraction/lexicons.h"

#include <filesystem>

namespace stancewire::extraction {
namespace {

// Adds every expansion of `phrase` to `m` with `payload`.
std::string AddPhrase(PhraseMatcher* m, std::string_view phrase, uint32_t payload) {
  std::vector<std::vector<std::string>> variants;
  std::string error;
  if (!ExpandPhrase(phrase, &variants, &error)) return error;
  for (const auto& v : variants) m->Add(v, payload);
  return "";
}

std::string Join(const std::string& dir, const char* file) {
  return (std::filesystem::path(dir) / file).string();
}

// The number `s` spells in at most `max_digits` decimal digits, 0 when it is anything else.
uint32_t Digits(std::string_view s, size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return 0;
  uint32_t value = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return 0;
    value = value * 10 + static_cast<uint32_t>(ch - '0');
  }
  return value;
}

}  // namespace

bool Lexicons::Load(const std::string& data_dir, std::string* error) {
  const std::pair<const char*, std::string (Lexicons::*)(const std::string&)> files[] = {
      {"lexicons/cues.tsv", &Lexicons::LoadCues},
      {"lexicons/roles.tsv", &Lexicons::LoadRoles},
      {"lexicons/function_words.tsv", &Lexicons::LoadFunctionWords},
      {"lexicons/abbreviations.txt", &Lexicons::LoadAbbreviations},
      {"conditions/triggers.tsv", &Lexicons::LoadTriggers},
      {"conditions/kinds.tsv", &Lexicons::LoadKinds},
      {"topics/topics.tsv", &Lexicons::LoadTopics},
  };
  for (const auto& [file, loader] : files) {
    std::string err = (this->*loader)(Join(data_dir, file));
    if (!err.empty()) {
      *error = err;
      return false;
    }
  }
  cue_matcher.SkipInside(kIntensifier);
  trigger_matcher.SkipInside(kIntensifier);
  MarkStarts(cue_matcher, kStartsCue);
  MarkStarts(trigger_matcher, kStartsTrigger);
  MarkStarts(topic_matcher, kStartsTopic);
  MarkStarts(role_matcher, kStartsRole);
  MarkStarts(anaphor_matcher, kStartsAnaphor);
  MarkStarts(kind_matcher, kStartsKind);
  for (const auto& w : topic_heads) *word_classes.FindOrInsert(HashKey(w)) |= kTopicHead;
  for (const auto& w : topic_skip) *word_classes.FindOrInsert(HashKey(w)) |= kTopicSkip;
  return true;
}

std::string Lexicons::LoadCues(const std::string& path) {
  return ReadTsv(path,
                 [&](const std::vector<std::string_view>& f, const std::string&) -> std::string {
                   if (f.size() < 2 || f.size() > 3) return "expected CLASS<TAB>phrase[<TAB>flags]";
                   Cue cue;
                   std::string_view c = f[0];
                   if (c == "SUPPORT")
                     cue.cls = CueClass::kSupport;
                   else if (c == "OPPOSE")
                     cue.cls = CueClass::kOppose;
                   else if (c == "UNDECIDED")
                     cue.cls = CueClass::kUndecided;
                   else if (c == "NEUTRAL")
                     cue.cls = CueClass::kNeutral;
                   else if (c == "NEGATION")
                     cue.cls = CueClass::kNegation;
                   else if (c == "HEDGE")
                     cue.cls = CueClass::kHedge;
                   else if (c == "REPORT")
                     cue.cls = CueClass::kReport;
                   else if (c == "NONE")
                     cue.cls = CueClass::kNone;
                   else
                     return "unknown cue class '" + std::string(c) + "'";
                   if (f.size() == 3) {
                     for (std::string_view flag : SplitOn(f[2], ',')) {
                       if (flag == "weak")
                         cue.weak = true;
                       else if (flag == "passive")
                         cue.passive = true;
                       else if (flag == "compound")
                         cue.compound = true;
                       else if (flag == "negsupport")
                         cue.negsupport = true;
                       else if (flag == "negonly")
                         cue.negonly = true;
                       else if (flag == "nominal")
                         cue.nominal = true;
                       else if (flag == "criticism")
                         cue.criticism = true;
                       else if (flag == "threat")
                         cue.threat = true;
                       else if (flag == "mutual")
                         cue.mutual = true;
                       else
                         return "unknown flag '" + std::string(flag) + "'";
                     }
                   }
                   cue.phrase = std::string(f[1]);
                   cues.push_back(cue);
                   return AddPhrase(&cue_matcher, f[1], static_cast<uint32_t>(cues.size() - 1));
                 });
}

std::string Lexicons::LoadTriggers(const std::string& path) {
  return ReadTsv(
      path, [&](const std::vector<std::string_view>& f, const std::string&) -> std::string {
        if (f.empty() || f.size() > 2) return "expected phrase[<TAB>flags]";
        Trigger t;
        if (f.size() == 2) {
          for (std::string_view flag : SplitOn(f[1], ',')) {
            if (flag == "standalone")
              t.standalone = true;
            else if (flag == "typed")
              t.typed = true;
            else if (flag == "negative")
              t.negative = true;
            else if (flag == "keep")
              t.keep = true;
            else if (flag == "subject")
              t.subject = true;
            else if (flag == "positive")
              t.positive = true;
            else if (flag == "blocks")
              t.blocks = true;
            else
              return "unknown flag '" + std::string(flag) + "'";
          }
        }
        t.phrase = std::string(f[0]);
        triggers.push_back(t);
        return AddPhrase(&trigger_matcher, f[0], static_cast<uint32_t>(triggers.size() - 1));
      });
}

std::string Lexicons::LoadRoles(const std::string& path) {
  return ReadTsv(path,
                 [&](const std::vector<std::string_view>& f, const std::string&) -> std::string {
                   if (f.size() < 2 || f.size() > 3) return "expected TYPE<TAB>phrases[<TAB>role]";
                   Role r;
                   std::string_view t = f[0];
                   if (t == "TITLE")
                     r.type = RoleType::kTitle;
                   else if (t == "SPEAKER")
                     r.type = RoleType::kSpeaker;
                   else if (t == "BODY")
                     r.type = RoleType::kBody;
                   else if (t == "VOICE")
                     r.type = RoleType::kVoice;
                   else if (t == "MEDIA")
                     r.type = RoleType::kMedia;
                   else if (t == "STANCE")
                     r.type = RoleType::kStance;
                   else if (t == "MODIFIER")
                     r.type = RoleType::kModifier;
                   else if (t == "NONACTOR")
                     r.type = RoleType::kNonActor;
                   else if (t == "PROPOSAL")
                     r.type = RoleType::kProposal;
                   else
                     return "unknown role type '" + std::string(t) + "'";
                   if (f.size() == 3) r.role = std::string(f[2]);
                   roles.push_back(r);
                   uint32_t index = static_cast<uint32_t>(roles.size() - 1);
                   // one field lists several phrases separated by '|' (each a literal phrase, may
                   // have spaces)
                   for (std::string_view phrase : SplitOn(f[1], '|')) {
                     std::vector<std::string> keys = PhraseKeys(phrase);
                     if (keys.empty() || keys.size() > PhraseMatcher::kMaxLen)
                       return "bad role phrase '" + std::string(phrase) + "'";
                     role_matcher.Add(keys, index);
                   }
                   return "";
                 });
}

std::string Lexicons::LoadKinds(const std::string& path) {
  return ReadTsv(
      path, [&](const std::vector<std::string_view>& f, const std::string& where) -> std::string {
        if (f.size() < 2) return "expected KIND<TAB>group[<TAB>group...]";
        if (f.size() > 33) return "too many groups";
        for (char c : f[0]) {
          if (!((c >= 'A' && c <= 'Z') || c == '_' || (c >= '0' && c <= '9'))) {
            return "kind must be UPPER_CASE: '" + std::string(f[0]) + "'";
          }
        }
        KindPattern p;
        p.kind = std::string(f[0]);
        p.groups = f.size() - 1;
        // explanations travel with the stances to every client: name the file relative to the
        // data folder ("conditions/kinds.tsv:12"), never the machine's path
        p.source = where;
        const std::string prefix =
            (std::filesystem::path(path).parent_path().parent_path() / "").string();
        if (p.source.compare(0, prefix.size(), prefix) == 0) p.source.erase(0, prefix.size());
        kind_patterns.push_back(p);
        uint32_t index = static_cast<uint32_t>(kind_patterns.size() - 1);
        for (size_t g = 1; g < f.size(); ++g) {
          auto phrases = SplitOn(f[g], ';');
          if (phrases.empty()) return "empty group " + std::to_string(g);
          for (std::string_view phrase : phrases) {
            std::string err =
                AddPhrase(&kind_matcher, phrase, index * 64 + static_cast<uint32_t>(g - 1));
            if (!err.empty()) return err;
          }
        }
        return "";
      });
}

std::string Lexicons::LoadFunctionWords(const std::string& path) {
  return ReadTsv(
      path, [&](const std::vector<std::string_view>& f, const std::string&) -> std::string {
        if (f.size() != 2) return "expected CLASS<TAB>word|word|...";
        std::string_view c = f[0];
        if (c == "ANAPHOR") {
          for (std::string_view phrase : SplitOn(f[1], '|'))
            anaphor_matcher.Add(PhraseKeys(phrase), 0);
          return "";
        }
        if (c == "HOLDS_AS") {
          for (std::string_view w : SplitOn(f[1], '|')) {
            size_t eq = w.find('=');
            if (eq == std::string_view::npos || eq == 0 || eq + 1 == w.size())
              return "expected BODY=ORGANISATION, got '" + std::string(w) + "'";
            holds_as.emplace_back(std::string(w.substr(0, eq)), std::string(w.substr(eq + 1)));
          }
          return "";
        }
        if (c == "NUMBER") {
          for (std::string_view w : SplitOn(f[1], '|')) {
            const size_t eq = w.find('=');
            const uint32_t value = eq == std::string_view::npos ? 0 : Digits(w.substr(eq + 1), 4);
            if (eq == 0 || value < 2)
              return "expected word=NUMBER with a number of at least 2, got '" + std::string(w) +
                     "'";
            *number_words.FindOrInsert(HashKey(FoldKey(w.substr(0, eq)))) = value;
          }
          return "";
        }
        if (c == "NONHOLDER_ACTOR") {
          for (std::string_view w : SplitOn(f[1], '|')) nonholder_actors.insert(std::string(w));
          return "";
        }
        static const std::pair<std::string_view, uint32_t> kClasses[] = {
            {"SUBJECT_BEFORE", kSubjectBefore},
            {"PREPOSITION", kPreposition},
            {"DETERMINER", kDeterminer},
            {"PRONOUN_ACTOR", kPronounActor},
            {"PRONOUN_PERSON", kPronounPerson},
            {"PRONOUN_SPEAKER", kPronounSpeaker},
            {"POSSESSIVE_PRONOUN", kPossessivePronoun},
            {"CLAUSE_END", kClauseEnd},
            {"GROUP_NOUN", kGroupNoun},
            {"LIST_OPENER", kListOpener},
            {"PATRON_NOUN", kPatronNoun},
            {"INTENSIFIER", kIntensifier}};
        uint32_t bit = 0;
        for (const auto& [name, b] : kClasses) {
          if (c == name) bit = b;
        }
        if (bit == 0) return "unknown class '" + std::string(c) + "'";
        for (std::string_view w : SplitOn(f[1], '|'))
          *word_classes.FindOrInsert(HashKey(FoldKey(w))) |= bit;
        return "";
      });
}

uint32_t Lexicons::NumberAt(const Token& t) const {
  if (const uint32_t* v = number_words.Find(t.hash)) return *v;
  return Digits(t.key, 3);  // "27" counts a list; "2025" is a year
}

std::string Lexicons::LoadAbbreviations(const std::string& path) {
  return ReadTsv(path,
                 [&](const std::vector<std::string_view>& f, const std::string&) -> std::string {
                   if (f.size() == 2 && f[1] == "number") {
                     splitter.before_number.insert(FoldKey(f[0]));
                     return "";
                   }
                   if (f.size() != 1)
                     return "expected an abbreviation per line, optionally followed by 'number'";
                   splitter.abbreviations.insert(FoldKey(f[0]));
                   return "";
                 });
}

std::string Lexicons::LoadTopics(const std::string& path) {
  if (!std::filesystem::exists(path)) return "";  // topics are optional
  return ReadTsv(
      path, [&](const std::vector<std::string_view>& f, const std::string&) -> std::string {
        std::string_view t = f[0];
        if (t == "spelling") {
          if (f.size() != 3) return "expected spelling<TAB>variant<TAB>canonical";
          spelling[FoldKey(f[1])] = FoldKey(f[2]);
          return "";
        }
        if (t == "head" || t == "skip") {
          if (f.size() != 2) return "expected " + std::string(t) + "<TAB>word|word|...";
          for (std::string_view w : SplitOn(f[1], '|'))
            (t == "head" ? topic_heads : topic_skip).insert(FoldKey(w));
          return "";
        }
        if (t == "topic") {
          if (f.size() != 4) return "expected topic<TAB>key<TAB>label<TAB>phrase;phrase;...";
          topics.push_back(Topic{std::string(f[1]), std::string(f[2])});
          uint32_t index = static_cast<uint32_t>(topics.size() - 1);
          for (std::string_view phrase : SplitOn(f[3], ';')) {
            std::string err = AddPhrase(&topic_matcher, phrase, index);
            if (!err.empty()) return err;
          }
          return "";
        }
        return "unknown line type '" + std::string(t) + "' (topic, head, skip, spelling)";
      });
}

std::string Lexicons::TopicKey(const std::vector<std::string>& words) const {
  std::string key;
  for (const std::string& w : words) {
    if (topic_skip.count(w)) continue;
    std::string part;
    for (char c : w) {
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        part.push_back(c);
      else if (c == '-' && !part.empty())
        part.push_back('-');
    }
    if (part.empty()) continue;
    auto it = spelling.find(part);
    if (it != spelling.end()) part = it->second;
    if (!key.empty()) key.push_back('-');
    key += part;
  }
  return key;
}

}  // namespace stancewire::extraction
