#include "query-service/stance_match.h"

#include <algorithm>

namespace stancewire::query {
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

}  // namespace

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
