// What every stage reads: the actor dictionary and the lexicons loaded from the data folder, with
// the per-actor tables derived from them at load. Immutable after Load, shared by all threads.
#pragma once

#include <string>
#include <vector>

#include "extraction/actors.h"
#include "extraction/extractor.h"
#include "extraction/lexicons.h"

namespace stancewire::extraction {

struct Knowledge {
  Actors actors;
  Lexicons lex;
  std::vector<char> holdable;  // per actor: may hold a stance (not a venue such as the ICJ)
  std::vector<int> holds_as;   // per actor: the organisation that holds its stances, or -1

  // Loads data_dir/actors/*.tsv (sorted), the extra actor files and the lexicons. On failure
  // returns false with *error naming the file and line.
  bool Load(const ExtractorConfig& config, std::string* error);

  bool Holdable(int actor) const { return actor >= 0 && holdable[actor]; }

  // The longest role phrase at tokens [i, end) after optional modifiers ("senior", "military"):
  // its type and length in tokens. skip_determiners: a modifier may itself start with a
  // determiner; prefer_title: "Prime Minister" before a name is a title, elsewhere a role noun.
  bool RoleAt(const std::vector<Token>& t, size_t i, size_t end, RoleType* type, uint32_t* len,
              bool skip_determiners, bool prefer_title = false) const;
};

}  // namespace stancewire::extraction
