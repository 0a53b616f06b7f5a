// The extraction library: news item in, stances out. Pure logic, no I/O after Load; shared by
// ingest-service, its `extract` subcommand, the benchmarks, the fuzzer and the unit tests.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "stancewire/v1/stance.pb.h"

namespace stancewire::extraction {

// Where the knowledge lives. Every file is plain UTF-8 text users can extend without recompiling.
struct ExtractorConfig {
  std::string data_dir = "data";  // holds actors/, lexicons/, conditions/, ...
  std::vector<std::string>
      extra_actor_files;  // --actors FILE (repeatable): loaded after data_dir/actors/*.tsv
};

struct ExtractOptions {
  bool explain = false;  // fill Stance.explanation
  // When set, every stage appends what it decided, one "[stage] ..." line per decision, a header
  // line per item and per sentence (`ingest-service extract --explain` prints it on stderr).
  std::string* trace = nullptr;
};

// The canonical actor records and every surface form that names them.
class ActorDictionary {
 public:
  struct Record {
    std::string id;    // "AZE", "ARAB_LEAGUE"
    std::string name;  // "Azerbaijan"
    std::string kind;  // "state", "igo", "nonstate", ...
  };
  virtual ~ActorDictionary() = default;
  // Any alias (id, name, short name, metonym, demonym, person's name), matched case- and
  // diacritic-insensitively. nullptr when unknown.
  virtual const Record* Resolve(std::string_view alias) const = 0;
  // The full name of the person a form names ("Fidan", "hakan fidan" -> "Hakan Fidan"), as
  // Stance.speaker holds it; nullptr when the form names no person.
  virtual const std::string* ResolvePerson(std::string_view form) const = 0;
};

class Extractor {
 public:
  virtual ~Extractor() = default;
  // Loads and validates all data files. On failure returns nullptr and sets *error to a message
  // naming the file and line ("data/actors/states.tsv:12: unknown alias type 'capitol'").
  static std::unique_ptr<Extractor> Load(const ExtractorConfig& config, std::string* error);

  // Thread-safe, never throws, linear in the size of the text. Returns one stance per
  // (actor, topic) found in the item, with item fields (item_id, url, outlet, published) copied in.
  virtual std::vector<v1::Stance> Extract(const v1::NewsItem& item,
                                          const ExtractOptions& options = {}) const = 0;

  virtual const ActorDictionary& actors() const = 0;
};

// Checks an item before extraction. Returns "" when acceptable, else a message naming the
// problem ("text is empty", "text is not valid UTF-8 at byte 1234", "text is 2000000 bytes, over
// the limit of 1048576", a `published` outside 1678..2262, see common/timestamps.h).
std::string ValidateItem(const v1::NewsItem& item, size_t max_text_bytes);

}  // namespace stancewire::extraction
