// Requests to the filter model: every QueryService request that selects stances is validated and
// read here, once, into one StanceFilter (store/stance_filter.h) with its aliases resolved to
// actor ids through the actor dictionary and its condition and topic words parsed. A refusal is
// an INVALID_ARGUMENT naming the field and the problem.
#pragma once

#include <grpcpp/support/status.h>

#include <cstddef>
#include <string>

#include "extraction/extractor.h"
#include "query-service/store/stance_filter.h"
#include "stancewire/v1/query.pb.h"

namespace stancewire::query {

inline constexpr size_t kMaxFilterBytes = 1024;
// Words of a condition or topic filter: each becomes a clause of the store's query, and a few
// hundred exceed what a database will parse.
inline constexpr size_t kMaxFilterWords = 32;

// Every filter field of these requests. `actors` may be null (no alias is then resolved: an
// actor is matched by its id, name or mention as written).
grpc::Status ReadFilter(const v1::ListStancesRequest& request,
                        const extraction::ActorDictionary* actors, StanceFilter* filter);
grpc::Status ReadFilter(const v1::ListClaimsRequest& request,
                        const extraction::ActorDictionary* actors, StanceFilter* filter);
grpc::Status ReadFilter(const v1::WatchStancesRequest& request,
                        const extraction::ActorDictionary* actors, StanceFilter* filter);

// GetActorTimeline: its actor (required), topic, speaker and min_confidence; its window comes from
// ReadTimeWindow.
grpc::Status ReadTimelineFilter(const v1::GetActorTimelineRequest& request,
                                const extraction::ActorDictionary* actors, StanceFilter* filter);
grpc::Status ReadTimeWindow(const v1::GetActorTimelineRequest& request, StanceFilter* filter);

// ListActors and ListConditions: topic, speaker, min_confidence and the time window.
grpc::Status ReadAggregateFilter(const v1::ListActorsRequest& request,
                                 const extraction::ActorDictionary* actors, StanceFilter* filter);
grpc::Status ReadAggregateFilter(const v1::ListConditionsRequest& request,
                                 const extraction::ActorDictionary* actors, StanceFilter* filter);

// A free-text filter field: at most kMaxFilterBytes, and not blank.
grpc::Status CheckFilterText(const char* field, const std::string& value);

}  // namespace stancewire::query
