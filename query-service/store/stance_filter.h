// The filter model: one pre-resolved value (StanceFilter) for every query that selects stances,
// read once from the request (query-service/request_filter.h) and then consumed as it is by both
// SQL builders (store/sqlite/sqlite_filter.cc, store/postgres/postgres_filter.cc) and by
// Matches() below, the in-memory reference semantics that watches use and the conformance suite
// holds the stores to. Text comparisons are ASCII case-insensitive.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "stancewire/v1/stance.pb.h"

namespace stancewire::query {

// How a condition filter reads: "UN_MANDATE", "un_mandate", "CEASEFIRE" (one token, in capitals
// or with an underscore; '-' counts as '_') name a kind; anything else is words ("security
// council"), which match a condition whose text holds every word, or whose kind is the words'
// upper-snake form ("clear mandate" -> CLEAR_MANDATE).
struct ConditionQuery {
  bool by_kind = false;
  std::string kind;                // upper-snake: set in both modes
  std::vector<std::string> words;  // words mode only
};
ConditionQuery ParseConditionQuery(const std::string& condition);

// A condition filter as given, and how it reads (parsed when set).
struct ConditionFilter {
  ConditionFilter() = default;
  ConditionFilter(std::string text);  // NOLINT: implicit, a filter is set from its text
  ConditionFilter(const char* text) : ConditionFilter(std::string(text)) {}  // NOLINT
  bool empty() const { return text.empty(); }

  std::string text;
  ConditionQuery query;
  std::vector<std::string> lower_words;  // query.words ASCII lower-cased, for Matches()
};

// A topic filter: the topic key itself, or words (split on white space when set) that must all
// appear in the stance's topic key or topic label.
struct TopicFilter {
  TopicFilter() = default;
  TopicFilter(std::string text);                                     // NOLINT: implicit
  TopicFilter(const char* text) : TopicFilter(std::string(text)) {}  // NOLINT
  bool empty() const { return text.empty(); }

  std::string text;
  std::vector<std::string> words;
  std::vector<std::string> lower_words;  // ASCII lower-cased, for Matches()
};

std::ostream& operator<<(std::ostream& out, const ConditionFilter& condition);
std::ostream& operator<<(std::ostream& out, const TopicFilter& topic);

// All set fields must hold (AND).
struct StanceFilter {
  // Match stances whose actor id is one of these; empty means the actor filter is off unless
  // actor_text is set.
  std::vector<std::string> actor_ids;
  // Fallback for names the actor dictionary does not know: matches actor id, name or mention.
  std::string actor_text;
  ConditionFilter condition;
  // POSITION_UNSPECIFIED: any.
  v1::Position position = v1::POSITION_UNSPECIFIED;
  TopicFilter topic;
  // Exact outlet name.
  std::string outlet;
  std::optional<int64_t> published_after_nanos;   // inclusive
  std::optional<int64_t> published_before_nanos;  // exclusive
  // The person who voiced the stance: the dictionary's full name for a form it knows ("Fidan" ->
  // "Hakan Fidan"), else the text as given; equal to Stance.speaker, ASCII case-insensitively.
  std::string speaker;
  // Stance.confidence >= this (both floats, so every store compares the same values).
  std::optional<float> min_confidence;
};

// Whether `stance` passes `filter`: the meaning every store must agree with.
bool Matches(const StanceFilter& filter, const v1::Stance& stance);

}  // namespace stancewire::query
