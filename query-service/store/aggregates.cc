#include "query-service/store/aggregates.h"

#include <algorithm>
#include <map>
#include <optional>

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

namespace {

// Only the topic is set: the counters answer.
bool TopicOnly(const StanceFilter& f) {
  return f.actor_ids.empty() && f.actor_text.empty() && f.condition.empty() &&
         f.position == v1::POSITION_UNSPECIFIED && f.outlet.empty() && !f.published_after_nanos &&
         !f.published_before_nanos && f.speaker.empty() && !f.min_confidence;
}

ActorRef StanceActor(const v1::Stance& s) {
  return ActorRef{s.actor().id(), s.actor().name(), s.actor().kind()};
}

// Calls `each` with every stance matching `filter`, newest first, a page at a time.
template <typename F>
grpc::Status ForEachMatching(StanceStore* store, const StanceFilter& filter, F each) {
  ListOptions options;
  options.limit = 1000;
  for (;;) {
    StancePage page;
    grpc::Status status = store->List(filter, options, &page);
    if (!status.ok()) return status;
    for (auto& s : page.stances) each(std::move(s));
    if (!page.next) return grpc::Status::OK;
    options.after = page.next;
  }
}

}  // namespace

grpc::Status StanceStore::ListActorsMatching(const StanceFilter& filter,
                                             std::vector<ActorStats>* actors) {
  actors->clear();
  if (TopicOnly(filter)) return ListActors(filter.topic, actors);
  std::map<std::string, ActorStats> by_id;
  std::map<std::string, std::map<v1::Position, int64_t>> positions;
  grpc::Status status = ForEachMatching(this, filter, [&](v1::Stance s) {
    auto [it, first] = by_id.try_emplace(s.actor().id());
    ActorStats& a = it->second;
    ++a.stance_count;
    ++positions[s.actor().id()][s.position()];
    if (first) {  // newest first: the first one seen is the latest
      a.actor = StanceActor(s);
      a.latest = std::move(s);
    }
  });
  if (!status.ok()) return status;
  for (auto& [id, a] : by_id) {  // by id, then most stances first (as CollectActors)
    for (const auto& [position, n] : positions[id]) a.position_counts.emplace_back(position, n);
    actors->push_back(std::move(a));
  }
  std::stable_sort(actors->begin(), actors->end(), [](const ActorStats& x, const ActorStats& y) {
    return x.stance_count > y.stance_count;
  });
  return grpc::Status::OK;
}

grpc::Status StanceStore::ListConditionsMatching(const StanceFilter& filter,
                                                 std::vector<ConditionStats>* conditions) {
  conditions->clear();
  if (TopicOnly(filter)) return ListConditions(filter.topic, conditions);
  std::map<std::string, ActorRef> names;  // from each actor's newest matching stance
  std::map<std::string, std::map<std::string, int64_t>> counts;  // kind -> actor id -> stances
  grpc::Status status = ForEachMatching(this, filter, [&](v1::Stance s) {
    const auto kinds = ConditionKinds(s);
    if (kinds.empty()) return;
    names.try_emplace(s.actor().id(), StanceActor(s));
    for (const auto& kind : kinds) ++counts[kind][s.actor().id()];
  });
  if (!status.ok()) return status;
  for (const auto& [kind, by_actor] : counts) {  // by kind, then most stances first
    ConditionStats c;
    c.kind = kind;
    for (const auto& [id, n] : by_actor) {
      c.actors.emplace_back(names[id], n);
      c.stance_count += n;
    }
    std::stable_sort(c.actors.begin(), c.actors.end(),
                     [](const auto& x, const auto& y) { return x.second > y.second; });
    conditions->push_back(std::move(c));
  }
  std::stable_sort(conditions->begin(), conditions->end(),
                   [](const ConditionStats& x, const ConditionStats& y) {
                     return x.stance_count > y.stance_count;
                   });
  return grpc::Status::OK;
}

}  // namespace stancewire::query
