// The read side of ListActors and ListConditions, written once for every backend: topic words
// resolved to stored topic keys, counter rows folded into ActorStats and ConditionStats, actor ids
// named from the store's actors table (an unknown id stands for itself), and the order answered
// in (most stances first, then by id or kind). A backend supplies only the rows, through
// AggregateSource, inside whatever snapshot it reads in.
#pragma once

#include <grpcpp/support/status.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "query-service/store/stance_store.h"

namespace stancewire::query {

// Actor id -> the stored name and kind (the actors table).
using ActorNames = std::map<std::string, ActorRef>;

class AggregateSource {
 public:
  virtual ~AggregateSource() = default;
  // The stored topic keys a non-empty topic filter selects (see StanceFilter::topic).
  virtual grpc::Status TopicKeys(const TopicFilter& topic, std::vector<std::string>* keys) = 0;
  // Calls `row` with (actor id, position, stances > 0) over stances on `topics` (empty: all),
  // ordered by actor id, then position.
  using ActorCountRow = std::function<void(std::string_view, v1::Position, int64_t)>;
  virtual grpc::Status ActorCounts(const std::vector<std::string>& topics,
                                   const ActorCountRow& row) = 0;
  // Calls `row` with (condition kind, actor id, stances > 0) over stances on `topics` (empty:
  // all), ordered by kind, then actor id.
  using ConditionCountRow = std::function<void(std::string_view, std::string_view, int64_t)>;
  virtual grpc::Status ConditionCounts(const std::vector<std::string>& topics,
                                       const ConditionCountRow& row) = 0;
  // The stored names of (at least) these actor ids, sorted and distinct.
  virtual grpc::Status LoadActorNames(const std::vector<std::string>& ids, ActorNames* names) = 0;
  // Sets each actor's `latest`: its newest stance on `topics` (empty: any).
  virtual grpc::Status LatestStances(const std::vector<std::string>& topics,
                                     std::vector<ActorStats>* actors) = 0;
};

// StanceStore::ListActors and ListConditions over a backend's rows.
grpc::Status CollectActors(AggregateSource* source, const TopicFilter& topic,
                           std::vector<ActorStats>* actors);
grpc::Status CollectConditions(AggregateSource* source, const TopicFilter& topic,
                               std::vector<ConditionStats>* conditions);

}  // namespace stancewire::query
