// The language knowledge of the extractor, loaded from data/lexicons, data/conditions and
// data/topics. Every table is a phrase matcher over folded token keys.
#pragma once

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "extraction/phrases.h"
#include "extraction/text.h"

namespace stancewire::extraction {

// kHedge: opens an indirect question or a withheld step ("whether", "stopped short of"); a
// SUPPORT or OPPOSE cue after it in its clause is UNDECIDED.
// kNone: a phrase that contains a cue but is none ("troop-contributing countries"); being
// longer, it keeps the cue inside it from matching.
enum class CueClass { kSupport, kOppose, kUndecided, kNeutral, kNegation, kHedge, kReport, kNone };

struct Cue {
  CueClass cls = CueClass::kNeutral;
  bool weak = false;
  bool passive = false;
  bool compound = false;
  bool negsupport = false;  // negated means acquiescence: "will not block"
  bool negonly = false;     // counts only when negated: "would not attend"
  bool criticism = false;   // aimed at an actor ("condemned Israel") it takes no stance
  bool threat = false;      // a following "if" says what sets the threat off, not a condition
  bool nominal = false;     // a stance noun: held only by its owner ("Belgium's resistance")
  bool mutual = false;      // a deal: a partner named "with" right after it is a party too
  std::string phrase;       // as written in the lexicon, for explanations
};

struct Trigger {
  bool standalone = false;
  bool typed = false;
  bool negative = false;
  bool keep = false;
  bool subject = false;
  bool positive = false;
  bool blocks = false;  // no condition: keeps shorter triggers from matching inside it
  std::string phrase;
};

enum class RoleType {
  kTitle,
  kSpeaker,
  kBody,
  kVoice,
  kMedia,
  kStance,
  kModifier,
  kNonActor,
  kProposal
};

struct Role {
  RoleType type = RoleType::kSpeaker;
  std::string role;
};

// A condition-kind pattern: fires when every group has a hit in the condition text.
struct KindPattern {
  std::string kind;
  size_t groups = 0;
  std::string source;  // "data/conditions/kinds.tsv:12", for explanations
};

struct Topic {
  std::string key;    // "gaza-international-stabilization-force"
  std::string label;  // "Gaza International Stabilisation Force"
};

// Closed word classes from data/lexicons/function_words.tsv, as bits on Token::cls.
enum WordClass : uint32_t {
  kSubjectBefore = 1u << 0,
  kPreposition = 1u << 1,
  kDeterminer = 1u << 2,
  kPronounActor = 1u << 3,
  kPronounPerson = 1u << 4,
  kPossessivePronoun = 1u << 5,
  kClauseEnd = 1u << 6,
  kPronounSpeaker = 1u << 7,
  kTopicHead = 1u << 8,
  kTopicSkip = 1u << 9,
  // some phrase of a table starts with this token: the only tokens worth a lookup there
  kStartsCue = 1u << 10,
  kStartsTrigger = 1u << 11,
  kStartsTopic = 1u << 12,
  kStartsRole = 1u << 13,
  kStartsActor = 1u << 14,
  kStartsAnaphor = 1u << 15,
  kStartsKind = 1u << 16,
  // GROUP_NOUN: "countries", "members": a list after "including" / "like" names them
  kGroupNoun = 1u << 17,
  // LIST_OPENER: "including", "included", "are": a list of holders follows a cue's clause
  kListOpener = 1u << 18,
  // PATRON_NOUN: "group", "militia": "the Iran-backed group" is patronage, not a stance
  kPatronNoun = 1u << 19,
  // INTENSIFIER: "strongly", "overwhelmingly": may stand inside a cue or trigger phrase
  kIntensifier = 1u << 20,
};
constexpr uint32_t kClosedClasses = (1u << 8) - 1;  // the function_words.tsv classes

class Lexicons {
 public:
  // Sets Token::cls for every token (one hash probe each).
  void Classify(std::vector<Token>* tokens) const {
    for (Token& t : *tokens) {
      const uint32_t* c = word_classes.Find(t.hash);
      t.cls = c ? *c : 0;
    }
  }
  FlatMap64 word_classes;
  // NUMBER words of function_words.tsv and their values: "eight" -> 8
  FlatMap64 number_words;
  // The number a token spells ("eight", "8"), 0 when none.
  uint32_t NumberAt(const Token& t) const;
  // Marks the first tokens of a matcher's phrases with `bit` in word_classes.
  void MarkStarts(const PhraseMatcher& m, uint32_t bit) {
    for (uint64_t h : m.first_hashes()) *word_classes.FindOrInsert(h) |= bit;
  }

  // Loads everything under data_dir; errors name file:line.
  bool Load(const std::string& data_dir, std::string* error);

  PhraseMatcher cue_matcher;
  std::vector<Cue> cues;
  PhraseMatcher trigger_matcher;
  std::vector<Trigger> triggers;
  PhraseMatcher role_matcher;
  std::vector<Role> roles;
  PhraseMatcher kind_matcher;  // payload = pattern * 64 + group
  std::vector<KindPattern> kind_patterns;
  PhraseMatcher anaphor_matcher;
  PhraseMatcher topic_matcher;  // payload = index into topics
  std::vector<Topic> topics;
  std::unordered_set<std::string> topic_heads;            // "force", "mission", "treaty", ...
  std::unordered_set<std::string> topic_skip;             // "proposed", "planned", "new", ...
  std::unordered_map<std::string, std::string> spelling;  // "stabilisation" -> "stabilization"

  std::unordered_set<std::string> nonholder_actors;  // dictionary ids
  // HOLDS_AS: a body whose stance is its organisation's ("UNSC" -> "UN"), by dictionary id
  std::vector<std::pair<std::string, std::string>> holds_as;
  SentenceSplitter splitter;

  // Normalises words into a topic key: folded, British spellings mapped, joined by '-'.
  std::string TopicKey(const std::vector<std::string>& words) const;

 private:
  std::string LoadCues(const std::string& path);
  std::string LoadTriggers(const std::string& path);
  std::string LoadRoles(const std::string& path);
  std::string LoadKinds(const std::string& path);
  std::string LoadFunctionWords(const std::string& path);
  std::string LoadTopics(const std::string& path);
  std::string LoadAbbreviations(const std::string& path);
};

}  // namespace stancewire::extraction
