#include "query-service/store/aggregates.h"

#include <algorithm>

namespace stancewire::query {
namespace {

ActorRef Named(const ActorNames& names, const std::string& id) {
  auto it = names.find(id);
  return it != names.end() ? it->second : ActorRef{id, id, ""};
}

// False (with nothing to report) when a topic filter selects no stored topic.
grpc::Status ResolveTopic(AggregateSource* source, const TopicFilter& topic,
                          std::vector<std::string>* keys, bool* none) {
  *none = false;
  if (topic.empty()) return grpc::Status::OK;
  grpc::Status status = source->TopicKeys(topic, keys);
  *none = status.ok() && keys->empty();
  return status;
}

}  // namespace

grpc::Status CollectActors(AggregateSource* source, const TopicFilter& topic,
                           std::vector<ActorStats>* actors) {
  actors->clear();
  std::vector<std::string> keys;
  bool none = false;
  grpc::Status status = ResolveTopic(source, topic, &keys, &none);
  if (!status.ok() || none) return status;
  status = source->ActorCounts(keys, [&](std::string_view id, v1::Position position, int64_t n) {
    if (actors->empty() || actors->back().actor.id != id) {
      actors->emplace_back();
      actors->back().actor.id = std::string(id);
    }
    auto& a = actors->back();
    a.position_counts.emplace_back(position, n);
    a.stance_count += n;
  });
  if (!status.ok() || actors->empty()) return status;
  std::vector<std::string> ids;  // sorted and distinct: the rows came by actor id
  for (const auto& a : *actors) ids.push_back(a.actor.id);
  ActorNames names;
  status = source->LoadActorNames(ids, &names);
  if (!status.ok()) return status;
  for (auto& a : *actors) a.actor = Named(names, a.actor.id);
  status = source->LatestStances(keys, actors);
  if (!status.ok()) return status;
  std::stable_sort(actors->begin(), actors->end(), [](const ActorStats& x, const ActorStats& y) {
    return x.stance_count > y.stance_count;
  });
  return grpc::Status::OK;
}

grpc::Status CollectConditions(AggregateSource* source, const TopicFilter& topic,
                               std::vector<ConditionStats>* conditions) {
  conditions->clear();
  std::vector<std::string> keys;
  bool none = false;
  grpc::Status status = ResolveTopic(source, topic, &keys, &none);
  if (!status.ok() || none) return status;
  std::vector<std::string> ids;
  status = source->ConditionCounts(
      keys, [&](std::string_view kind, std::string_view actor_id, int64_t n) {
        if (conditions->empty() || conditions->back().kind != kind) {
          conditions->emplace_back();
          conditions->back().kind = std::string(kind);
        }
        auto& c = conditions->back();
        c.actors.emplace_back(ActorRef{std::string(actor_id), "", ""}, n);
        c.stance_count += n;
        ids.emplace_back(actor_id);
      });
  if (!status.ok() || conditions->empty()) return status;
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  ActorNames names;
  status = source->LoadActorNames(ids, &names);
  if (!status.ok()) return status;
  for (auto& c : *conditions) {
    for (auto& entry : c.actors) entry.first = Named(names, entry.first.id);
    std::stable_sort(c.actors.begin(), c.actors.end(),
                     [](const auto& x, const auto& y) { return x.second > y.second; });
  }
  std::stable_sort(conditions->begin(), conditions->end(),
                   [](const ConditionStats& x, const ConditionStats& y) {
                     return x.stance_count > y.stance_count;
                   });
  return grpc::Status::OK;
}

}  // namespace stancewire::query
