#include "query-service/store/stance_filter.h"

#include <algorithm>

#include "query-service/store/stance_store.h"

namespace stancewire::query {
namespace {

std::string UpperSnake(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c == '-' || c == ' ') c = '_';
  }
  return out;
}

bool EqualsNoCase(const std::string& a, const std::string& b) {
  return a.size() == b.size() && AsciiLower(a) == AsciiLower(b);
}

bool ContainsAll(const std::string& haystack_lower, const std::vector<std::string>& words_lower) {
  for (const auto& w : words_lower) {
    if (haystack_lower.find(w) == std::string::npos) return false;
  }
  return true;
}

std::vector<std::string> Lowered(std::vector<std::string> words) {
  for (auto& w : words) w = AsciiLower(w);
  return words;
}

}  // namespace

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

ConditionFilter::ConditionFilter(std::string condition) : text(std::move(condition)) {
  if (!text.empty()) query = ParseConditionQuery(text);
  lower_words = Lowered(query.words);
}

TopicFilter::TopicFilter(std::string topic)
    : text(std::move(topic)), words(SplitWords(text)), lower_words(Lowered(words)) {}

std::ostream& operator<<(std::ostream& out, const ConditionFilter& condition) {
  return out << condition.text;
}

std::ostream& operator<<(std::ostream& out, const TopicFilter& topic) { return out << topic.text; }

bool Matches(const StanceFilter& f, const v1::Stance& s) {
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
  if (!f.speaker.empty() && !EqualsNoCase(s.speaker(), f.speaker)) return false;
  if (f.min_confidence && !(s.confidence() >= *f.min_confidence)) return false;
  const int64_t published = TimestampNanos(s.published());
  if (f.published_after_nanos && published < *f.published_after_nanos) return false;
  if (f.published_before_nanos && published >= *f.published_before_nanos) return false;
  if (!f.topic.empty() && !EqualsNoCase(s.topic(), f.topic.text)) {
    if (f.topic.lower_words.empty() ||
        !ContainsAll(AsciiLower(s.topic() + " " + s.topic_label()), f.topic.lower_words)) {
      return false;
    }
  }
  if (!f.condition.empty()) {
    bool any = false;
    for (const auto& c : s.conditions()) {
      const ConditionQuery& q = f.condition.query;
      if (c.kind() == q.kind || (!q.by_kind && !q.words.empty() &&
                                 ContainsAll(AsciiLower(c.text()), f.condition.lower_words))) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  return true;
}

}  // namespace stancewire::query
