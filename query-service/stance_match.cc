#include "query-service/stance_match.h"

#include <algorithm>
#include <sstream>

namespace stancewire::query {
std::vector<std::string> SplitWords(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::string JoinKinds(const std::vector<std::string>& kinds) {
  std::string out;
  for (const auto& k : kinds) {
    if (!out.empty()) out += ',';
    out += k;
  }
  return out;
}

std::vector<std::string> SplitKinds(std::string_view joined) {
  std::vector<std::string> out;
  while (!joined.empty()) {
    size_t comma = joined.find(',');
    out.emplace_back(joined.substr(0, comma));
    if (comma == std::string_view::npos) break;
    joined.remove_prefix(comma + 1);
  }
  return out;
}

namespace {

bool EqualsNoCase(const std::string& a, const std::string& b) {
  return a.size() == b.size() && AsciiLower(a) == AsciiLower(b);
}

bool ContainsAll(const std::string& haystack_lower, const std::vector<std::string>& words_lower) {
  for (const auto& w : words_lower) {
    if (haystack_lower.find(w) == std::string::npos) return false;
  }
  return true;
}

std::string UpperSnake(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c == '-' || c == ' ') c = '_';
  }
  return out;
}

}  // namespace

std::string AsciiLower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

google::protobuf::Timestamp NanosTimestamp(int64_t nanos) {
  google::protobuf::Timestamp ts;
  int64_t seconds = nanos / 1000000000LL;
  int64_t rest = nanos % 1000000000LL;
  if (rest < 0) {
    rest += 1000000000LL;
    --seconds;
  }
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(rest));
  return ts;
}

std::vector<std::string> ConditionKinds(const v1::Stance& stance) {
  std::vector<std::string> kinds;
  for (const auto& c : stance.conditions()) {
    if (!c.kind().empty()) kinds.push_back(c.kind());
  }
  std::sort(kinds.begin(), kinds.end());
  kinds.erase(std::unique(kinds.begin(), kinds.end()), kinds.end());
  return kinds;
}

ConditionQuery ParseConditionQuery(const std::string& condition) {
  ConditionQuery q;
  auto words = SplitWords(condition);
  if (words.size() == 1) {
    const std::string& token = words[0];
    bool kind_chars = true, underscore = false, lower = false;
    for (char c : token) {
      if (c == '_') underscore = true;
      if (c >= 'a' && c <= 'z') lower = true;
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '-')) {
        kind_chars = false;
      }
    }
    if (kind_chars && (underscore || !lower)) {
      q.by_kind = true;
      q.kind = UpperSnake(token);
      return q;
    }
  }
  q.words = words;
  std::string joined;
  for (const auto& w : words) joined += (joined.empty() ? "" : "_") + w;
  q.kind = UpperSnake(joined);
  return q;
}

StanceMatcher::StanceMatcher(StanceFilter filter) : filter_(std::move(filter)) {
  if (!filter_.condition.empty()) {
    condition_ = ParseConditionQuery(filter_.condition);
    for (auto& w : condition_.words) w = AsciiLower(w);
  }
  for (auto& w : SplitWords(filter_.topic)) topic_words_.push_back(AsciiLower(w));
}

bool StanceMatcher::Matches(const v1::Stance& s) const {
  const auto& f = filter_;
  if (!f.actor_ids.empty()) {
    if (std::find(f.actor_ids.begin(), f.actor_ids.end(), s.actor().id()) == f.actor_ids.end()) {
      return false;
    }
  } else if (!f.actor_text.empty()) {
    if (!EqualsNoCase(s.actor().id(), f.actor_text) &&
        !EqualsNoCase(s.actor().name(), f.actor_text) &&
        !EqualsNoCase(s.actor().mention(), f.actor_text)) {
      return false;
    }
  }
  if (f.position != v1::POSITION_UNSPECIFIED && s.position() != f.position) return false;
  if (!f.outlet.empty() && !EqualsNoCase(s.outlet(), f.outlet)) return false;
  const int64_t published = TimestampNanos(s.published());
  if (f.published_after_nanos && published < *f.published_after_nanos) return false;
  if (f.published_before_nanos && published >= *f.published_before_nanos) return false;
  if (!f.topic.empty() && !EqualsNoCase(s.topic(), f.topic)) {
    if (topic_words_.empty() ||
        !ContainsAll(AsciiLower(s.topic() + " " + s.topic_label()), topic_words_)) {
      return false;
    }
  }
  if (!f.condition.empty()) {
    bool any = false;
    for (const auto& c : s.conditions()) {
      if (c.kind() == condition_.kind || (!condition_.by_kind && !condition_.words.empty() &&
                                          ContainsAll(AsciiLower(c.text()), condition_.words))) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  return true;
}

}  // namespace stancewire::query
