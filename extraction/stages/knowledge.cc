#include "extraction/stages/knowledge.h"

namespace stancewire::extraction {

bool Knowledge::Load(const ExtractorConfig& config, std::string* error) {
  if (!actors.LoadConfigured(config, error)) return false;
  if (!lex.Load(config.data_dir, error)) return false;
  lex.MarkStarts(actors.matcher(), kStartsActor);
  for (size_t i = 0; i < actors.size(); ++i) {
    holdable.push_back(!lex.nonholder_actors.count(actors.record(i).id));
  }
  holds_as.assign(actors.size(), -1);
  for (const auto& [body, organisation] : lex.holds_as) {
    const auto* from = actors.Resolve(body);
    const auto* to = actors.Resolve(organisation);
    if (!from || !to || from->id != body || to->id != organisation) {
      *error = config.data_dir +
               "/lexicons/function_words.tsv: HOLDS_AS names an unknown actor id '" +
               (from && from->id == body ? organisation : body) + "'";
      return false;
    }
    holds_as[from - &actors.record(0)] = static_cast<int>(to - &actors.record(0));
  }
  return true;
}

bool Knowledge::RoleAt(const std::vector<Token>& t, size_t i, size_t end, RoleType* type,
                       uint32_t* len, bool skip_determiners, bool prefer_title) const {
  // skips modifiers ("senior", "military"), then reports the longest role phrase
  size_t j = i;
  while (j < end) {
    if (!(t[j].cls & kStartsRole)) return false;
    PhraseMatcher::Match m = lex.role_matcher.Longest(t, j, end);
    if (!m.length) return false;
    // a phrase can be both a modifier and a role ("government"): prefer the longest role reading,
    // and read it as a modifier only when a role follows
    const Role* best = nullptr;
    for (uint32_t p : *m.payloads) {
      if (lex.roles[p].type == RoleType::kModifier) continue;
      bool title = lex.roles[p].type == RoleType::kTitle;
      if (!best || title == prefer_title) best = &lex.roles[p];
    }
    bool is_modifier = false;
    for (uint32_t p : *m.payloads) is_modifier |= lex.roles[p].type == RoleType::kModifier;
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

}  // namespace stancewire::extraction
