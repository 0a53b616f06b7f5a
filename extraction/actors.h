// The actor dictionary: canonical records from data/actors/*.tsv and every surface form that names
// them, matched over tokens.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "extraction/extractor.h"
#include "extraction/phrases.h"

namespace stancewire::extraction {

enum class AliasType { kName, kMetonym, kDemonym, kPerson };

class Actors : public ActorDictionary {
 public:
  struct Person {
    std::string name;  // "Hakan Fidan"
    std::string role;  // "foreign_minister"
    int from = 0;      // YYYYMMDD, 0 = open
    int to = 0;
    uint32_t actor = 0;
  };
  struct Alias {
    uint32_t actor = 0;
    AliasType type = AliasType::kName;
    std::string exact;         // non-empty: must appear exactly like this ("US", "UAE")
    int person = -1;           // index into persons() for kPerson
    bool capitalised = false;  // written with a capital: text must be too ("Chad", not "chad")
  };
  struct Hit {
    uint32_t length = 0;  // tokens; 0 = none
    const Alias* alias = nullptr;
  };

  // Loads files in the given order. Errors name file:line.
  bool Load(const std::vector<std::string>& files, std::string* error);
  // Loads the dictionary a configuration names: config.data_dir/actors/*.tsv in name order, then
  // config.extra_actor_files. What query-service needs to resolve aliases, without the extractor.
  bool LoadConfigured(const ExtractorConfig& config, std::string* error);

  const Record* Resolve(std::string_view alias) const override;
  const std::string* ResolvePerson(std::string_view form) const override;

  // Longest alias starting at tokens[i] (before `end`) valid on `date` (YYYYMMDD, 0 = any).
  Hit Match(std::string_view text, const std::vector<Token>& tokens, size_t i, size_t end,
            int date) const;

  const Record& record(uint32_t i) const { return records_[i]; }
  const std::vector<Person>& persons() const { return persons_; }
  size_t size() const { return records_.size(); }
  const PhraseMatcher& matcher() const { return matcher_; }
  // Per actor: the actors whose stances its own stand for ("E3" -> Britain, France, Germany),
  // from `members` lines; empty for most.
  const std::vector<uint32_t>& members(uint32_t i) const { return members_[i]; }

 private:
  std::string LoadFile(const std::string& path);
  // The first alias stored under `keys` (optionally only a person's) that `form` is written as:
  // one with exact capitals ("US") only when written so.
  const Alias* AliasFor(const std::vector<std::string>& keys, std::string_view form,
                        bool person_only) const;
  void AddAlias(std::string_view surface, Alias alias);

  std::vector<Record> records_;
  std::vector<std::string> parents_;
  std::vector<std::vector<uint32_t>> members_;
  std::unordered_map<std::string, uint32_t> by_id_;
  std::vector<Person> persons_;
  std::vector<Alias> aliases_;
  std::unordered_map<std::string, std::vector<uint32_t>> by_surface_;  // joined folded keys
  PhraseMatcher matcher_;
};

// "YYYY-MM-DD" -> YYYYMMDD; "" -> 0; -1 when malformed.
int ParseDate(std::string_view s);

}  // namespace stancewire::extraction
