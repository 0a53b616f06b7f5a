#include "extraction/actors.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace stancewire::extraction {
namespace {

const char* const kKinds[] = {"state",    "observer_state", "territory", "igo",
                              "igo_body", "nonstate",       "group"};

bool ValidKind(std::string_view k) {
  for (const char* kind : kKinds) {
    if (k == kind) return true;
  }
  return false;
}

// "US", "UK", "UAE", "NATO": written fully in capitals, 2-4 letters -> matched case-sensitively.
bool IsCapsAcronym(std::string_view s) {
  if (s.size() < 2 || s.size() > 4) return false;
  for (char c : s) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

std::string Joined(const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) {
    if (!out.empty()) out.push_back(' ');
    out += k;
  }
  return out;
}

}  // namespace

int ParseDate(std::string_view s) {
  if (s.empty()) return 0;
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return -1;
  int v = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 4 || i == 7) continue;
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

void Actors::AddAlias(std::string_view surface, Alias alias) {
  if (IsCapsAcronym(surface)) alias.exact = std::string(surface);
  alias.capitalised = !surface.empty() && surface[0] >= 'A' && surface[0] <= 'Z';
  std::vector<std::string> keys = PhraseKeys(surface);
  if (keys.empty()) return;
  uint32_t index = static_cast<uint32_t>(aliases_.size());
  aliases_.push_back(std::move(alias));
  matcher_.Add(keys, index);
  by_surface_[Joined(keys)].push_back(index);
}

bool Actors::LoadConfigured(const ExtractorConfig& config, std::string* error) {
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
  return Load(files, error);
}

bool Actors::Load(const std::vector<std::string>& files, std::string* error) {
  for (const auto& f : files) {
    std::string err = LoadFile(f);
    if (!err.empty()) {
      *error = err;
      return false;
    }
  }
  for (size_t i = 0; i < parents_.size(); ++i) {
    if (!parents_[i].empty() && !by_id_.count(parents_[i])) {
      *error = "actor " + records_[i].id + ": unknown parent_id '" + parents_[i] + "'";
      return false;
    }
  }
  return true;
}

std::string Actors::LoadFile(const std::string& path) {
  return ReadTsv(
      path, [&](const std::vector<std::string_view>& f, const std::string&) -> std::string {
        if (f.size() < 3)
          return "expected at least 3 tab-separated fields, got " + std::to_string(f.size());
        std::string id(f[0]);
        if (id.empty()) return "empty actor id";
        std::string_view type = f[1];
        if (type == "actor") {
          if (f.size() < 4 || f.size() > 5)
            return "actor line needs: ID, actor, name, kind[, parent_id]";
          if (by_id_.count(id)) return "duplicate actor id '" + id + "'";
          if (f[2].empty()) return "empty canonical name";
          if (!ValidKind(f[3])) return "unknown actor kind '" + std::string(f[3]) + "'";
          uint32_t index = static_cast<uint32_t>(records_.size());
          records_.push_back(Record{id, std::string(f[2]), std::string(f[3])});
          parents_.push_back(f.size() == 5 ? std::string(f[4]) : "");
          members_.emplace_back();
          by_id_[id] = index;
          Alias a;
          a.actor = index;
          AddAlias(f[2], a);
          AddAlias(id, a);
          return "";
        }
        auto it = by_id_.find(id);
        if (it == by_id_.end())
          return "unknown actor id '" + id + "' (declare it with an 'actor' line first)";
        Alias a;
        a.actor = it->second;
        if (f[2].empty()) return "empty surface form";
        if (type == "name" || type == "metonym" || type == "demonym") {
          if (f.size() != 3) return "expected 3 fields for '" + std::string(type) + "'";
          a.type = type == "name"      ? AliasType::kName
                   : type == "metonym" ? AliasType::kMetonym
                                       : AliasType::kDemonym;
          AddAlias(f[2], a);
          if (a.type == AliasType::kDemonym && records_[a.actor].kind == "state") {
            // "the Russians have called for ...": the plural with "the" names the state's
            // government, as a metonym does. Forms with no -s plural ("the Chinese", "the
            // French") are left out: they also open "the Chinese foreign ministry".
            std::string_view d = f[2];
            auto ends = [&](std::string_view suffix) {
              return d.size() > suffix.size() &&
                     d.compare(d.size() - suffix.size(), suffix.size(), suffix) == 0;
            };
            if (!ends("ese") && !ends("ch") && !ends("sh") && !ends("ss") && !ends("s")) {
              Alias plural = a;
              plural.type = AliasType::kMetonym;
              AddAlias("the " + std::string(d) + "s", plural);
            }
          }
          return "";
        }
        if (type == "members") {
          // "E3  members  GBR|FRA|DEU": the group's stances are stances of each member, which
          // must be defined earlier (files load in name order: states before groups)
          if (f.size() != 3) return "expected 3 fields for 'members'";
          std::vector<uint32_t>& members = members_[a.actor];
          for (std::string_view m : SplitOn(f[2], '|')) {
            auto member = by_id_.find(std::string(m));
            if (member == by_id_.end() || member->second == a.actor)
              return "unknown member '" + std::string(m) + "' (declare it before the group)";
            members.push_back(member->second);
          }
          return "";
        }
        if (type == "person") {
          if (f.size() < 4 || f.size() > 7)
            return "person line needs: ID, person, Full Name, role[, from, to, short forms]";
          Person p;
          p.name = std::string(f[2]);
          p.role = std::string(f[3]);
          p.actor = a.actor;
          p.from = f.size() > 4 ? ParseDate(f[4]) : 0;
          p.to = f.size() > 5 ? ParseDate(f[5]) : 0;
          if (p.from < 0 || p.to < 0) return "dates must be YYYY-MM-DD or empty";
          a.type = AliasType::kPerson;
          a.person = static_cast<int>(persons_.size());
          persons_.push_back(p);
          AddAlias(f[2], a);
          if (f.size() > 6) {
            for (std::string_view form : SplitOn(f[6], '|')) AddAlias(form, a);
          }
          return "";
        }
        return "unknown alias type '" + std::string(type) + "'";
      });
}

const Actors::Alias* Actors::AliasFor(const std::vector<std::string>& keys, std::string_view form,
                                      bool person_only) const {
  auto it = by_surface_.find(Joined(keys));
  if (it == by_surface_.end()) return nullptr;
  // prefer an alias matched exactly, then case-insensitive ones
  for (uint32_t idx : it->second) {
    const Alias& a = aliases_[idx];
    if (person_only && a.type != AliasType::kPerson) continue;
    if (a.exact.empty() || a.exact == form) return &a;
  }
  return nullptr;
}

const std::string* Actors::ResolvePerson(std::string_view form) const {
  std::vector<std::string> keys = PhraseKeys(form);
  if (keys.empty()) return nullptr;
  const Alias* a = AliasFor(keys, form, /*person_only=*/true);
  return a ? &persons_[a->person].name : nullptr;
}

const ActorDictionary::Record* Actors::Resolve(std::string_view alias) const {
  std::vector<std::string> keys = PhraseKeys(alias);
  if (!keys.empty() && keys[0] == "the" && keys.size() > 1) keys.erase(keys.begin());
  if (keys.empty()) return nullptr;
  if (const Alias* a = AliasFor(keys, alias, /*person_only=*/false)) return &records_[a->actor];
  // ids ("AZE") resolve case-insensitively through the map of ids
  for (const auto& [id, index] : by_id_) {
    if (id.size() == alias.size()) {
      bool same = true;
      for (size_t i = 0; i < id.size() && same; ++i) {
        same = std::tolower(static_cast<unsigned char>(id[i])) ==
               std::tolower(static_cast<unsigned char>(alias[i]));
      }
      if (same) return &records_[index];
    }
  }
  return nullptr;
}

Actors::Hit Actors::Match(std::string_view text, const std::vector<Token>& tokens, size_t i,
                          size_t end, int date) const {
  Hit hit;
  PhraseMatcher::Match m = matcher_.Longest(tokens, i, end);
  if (!m.length) return hit;
  for (uint32_t idx : *m.payloads) {
    const Alias& a = aliases_[idx];
    if (!a.exact.empty()) {
      std::string_view raw =
          text.substr(tokens[i].start, tokens[i + m.length - 1].end - tokens[i].start);
      if (raw != a.exact) continue;
    }
    if (a.person >= 0 && date > 0) {
      const Person& p = persons_[a.person];
      if ((p.from && date < p.from) || (p.to && date > p.to)) continue;
    }
    // proper names are capitalised in running text: avoids "chad", "turkey" the bird, "dar"
    if (a.capitalised && !tokens[i].capitalized) continue;
    hit.length = m.length;
    hit.alias = &a;
    return hit;
  }
  return hit;
}

}  // namespace stancewire::extraction
