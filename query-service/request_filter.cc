#include "query-service/request_filter.h"

#include <google/protobuf/util/time_util.h>

#include <utility>

#include "common/timestamps.h"
#include "query-service/store/stance_store.h"

namespace stancewire::query {
namespace {

using google::protobuf::util::TimeUtil;

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

grpc::Status CheckFilterTextImpl(const char* field, const std::string& value) {
  if (value.size() > kMaxFilterBytes) {
    return Invalid(std::string(field) + " is " + std::to_string(value.size()) +
                   " bytes, over the limit of " + std::to_string(kMaxFilterBytes));
  }
  if (!value.empty() && value.find_first_not_of(" \t\r\n\v\f") == std::string::npos) {
    return Invalid(std::string(field) + " is blank; leave it empty to not filter on it");
  }
  return grpc::Status::OK;
}

// Condition and topic filters match word by word.
grpc::Status CheckWords(const char* field, const std::string& value) {
  if (auto s = CheckFilterTextImpl(field, value); !s.ok()) return s;
  if (const size_t n = SplitWords(value).size(); n > kMaxFilterWords) {
    return Invalid(std::string(field) + " has " + std::to_string(n) + " words, over the limit of " +
                   std::to_string(kMaxFilterWords));
  }
  return grpc::Status::OK;
}

grpc::Status CheckTopic(const std::string& topic) { return CheckWords("topic", topic); }

// published_after / published_before, shared by every request that has them. Bounds past the
// range of stored publication times saturate in TimestampNanos, which still compares correctly
// with every stored stance (all lie inside it; see common/timestamps.h).
template <typename Request>
grpc::Status TimeBounds(const Request& r, StanceFilter* filter) {
  if (r.has_published_after()) {
    if (auto p = TimestampProblem("published_after", r.published_after()); !p.empty()) {
      return Invalid(p);
    }
    filter->published_after_nanos = TimestampNanos(r.published_after());
  }
  if (r.has_published_before()) {
    if (auto p = TimestampProblem("published_before", r.published_before()); !p.empty()) {
      return Invalid(p);
    }
    filter->published_before_nanos = TimestampNanos(r.published_before());
  }
  // Compared as timestamps: two bounds beyond 2262 saturate to the same nanoseconds.
  if (r.has_published_after() && r.has_published_before() &&
      r.published_after() >= r.published_before()) {
    return Invalid("published_after (" + TimeUtil::ToString(r.published_after()) +
                   ") must be earlier than published_before (" +
                   TimeUtil::ToString(r.published_before()) +
                   "): the window is [published_after, published_before)");
  }
  return grpc::Status::OK;
}

void ResolveActor(const std::string& actor, const extraction::ActorDictionary* actors,
                  StanceFilter* filter) {
  if (actor.empty()) return;
  const auto* record = actors ? actors->Resolve(actor) : nullptr;
  if (record) {
    filter->actor_ids.push_back(record->id);
  } else {
    filter->actor_text = actor;
  }
}

// "Fidan" -> "Hakan Fidan"; a form the dictionary does not know is kept as given.
void ResolveSpeaker(const std::string& speaker, const extraction::ActorDictionary* actors,
                    StanceFilter* filter) {
  if (speaker.empty()) return;
  const std::string* name = actors ? actors->ResolvePerson(speaker) : nullptr;
  filter->speaker = name ? *name : speaker;
}

// 0 (proto3's unset) is no filter: every confidence is >= 0.
grpc::Status MinConfidence(float value, StanceFilter* filter) {
  if (!(value >= 0.0f && value <= 1.0f)) {  // also NaN
    return Invalid("min_confidence is " + std::to_string(value) +
                   "; it must be in [0, 1] (0 or unset: any confidence)");
  }
  if (value > 0.0f) filter->min_confidence = value;
  return grpc::Status::OK;
}

// ListStances, ListClaims and WatchStances share their filter fields.
template <typename Request>
grpc::Status ReadStanceFields(const Request& r, const extraction::ActorDictionary* actors,
                              StanceFilter* filter) {
  for (auto [field, value] : {std::pair<const char*, const std::string*>{"actor", &r.actor()},
                              {"outlet", &r.outlet()},
                              {"speaker", &r.speaker()}}) {
    if (auto s = CheckFilterTextImpl(field, *value); !s.ok()) return s;
  }
  if (auto s = CheckWords("condition", r.condition()); !s.ok()) return s;
  if (auto s = CheckTopic(r.topic()); !s.ok()) return s;
  if (!v1::Position_IsValid(r.position())) {
    return Invalid("position " + std::to_string(r.position()) +
                   " is not a Position: use POSITION_SUPPORT, POSITION_OPPOSE, "
                   "POSITION_CONDITIONAL, POSITION_UNDECIDED, or leave it unset for any");
  }
  if (auto s = MinConfidence(r.min_confidence(), filter); !s.ok()) return s;
  ResolveActor(r.actor(), actors, filter);
  ResolveSpeaker(r.speaker(), actors, filter);
  filter->condition = r.condition();
  filter->position = r.position();
  filter->topic = r.topic();
  filter->outlet = r.outlet();
  return TimeBounds(r, filter);
}

// ListActors and ListConditions: the fields they share with ListStances, read the same way.
template <typename Request>
grpc::Status ReadAggregateFields(const Request& r, const extraction::ActorDictionary* actors,
                                 StanceFilter* filter) {
  if (auto s = CheckFilterTextImpl("speaker", r.speaker()); !s.ok()) return s;
  if (auto s = CheckTopic(r.topic()); !s.ok()) return s;
  if (auto s = MinConfidence(r.min_confidence(), filter); !s.ok()) return s;
  ResolveSpeaker(r.speaker(), actors, filter);
  filter->topic = r.topic();
  return TimeBounds(r, filter);
}

}  // namespace

grpc::Status ReadAggregateFilter(const v1::ListActorsRequest& request,
                                 const extraction::ActorDictionary* actors, StanceFilter* filter) {
  return ReadAggregateFields(request, actors, filter);
}

grpc::Status ReadAggregateFilter(const v1::ListConditionsRequest& request,
                                 const extraction::ActorDictionary* actors, StanceFilter* filter) {
  return ReadAggregateFields(request, actors, filter);
}

grpc::Status ReadFilter(const v1::ListStancesRequest& request,
                        const extraction::ActorDictionary* actors, StanceFilter* filter) {
  return ReadStanceFields(request, actors, filter);
}

grpc::Status ReadFilter(const v1::ListClaimsRequest& request,
                        const extraction::ActorDictionary* actors, StanceFilter* filter) {
  return ReadStanceFields(request, actors, filter);
}

grpc::Status ReadFilter(const v1::WatchStancesRequest& request,
                        const extraction::ActorDictionary* actors, StanceFilter* filter) {
  return ReadStanceFields(request, actors, filter);
}

grpc::Status ReadTimelineFilter(const v1::GetActorTimelineRequest& request,
                                const extraction::ActorDictionary* actors, StanceFilter* filter) {
  if (request.actor().empty()) {
    return Invalid("actor is required: an actor id, name or any alias (\"AZE\", \"Baku\")");
  }
  if (auto s = CheckFilterTextImpl("actor", request.actor()); !s.ok()) return s;
  if (auto s = CheckFilterTextImpl("speaker", request.speaker()); !s.ok()) return s;
  if (auto s = CheckTopic(request.topic()); !s.ok()) return s;
  if (auto s = MinConfidence(request.min_confidence(), filter); !s.ok()) return s;
  ResolveActor(request.actor(), actors, filter);
  ResolveSpeaker(request.speaker(), actors, filter);
  filter->topic = request.topic();
  return grpc::Status::OK;
}

grpc::Status ReadTimeWindow(const v1::GetActorTimelineRequest& request, StanceFilter* filter) {
  return TimeBounds(request, filter);
}

grpc::Status CheckFilterText(const char* field, const std::string& value) {
  return CheckFilterTextImpl(field, value);
}

}  // namespace stancewire::query
