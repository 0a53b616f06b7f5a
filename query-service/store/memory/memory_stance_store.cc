#include "query-service/store/memory/memory_stance_store.h"

#include <algorithm>
#include <tuple>

#include "query-service/store/aggregates.h"

namespace stancewire::query {
namespace {

using Stored = MemoryStanceData::Stored;

// (published, id): the order pages follow.
std::pair<int64_t, std::string> Key(const v1::Stance& s) {
  return {TimestampNanos(s.published()), s.id()};
}

// The stored stances passing `filter`, newest first.
std::vector<const Stored*> Matching(const MemoryStanceData& data, const StanceFilter& filter) {
  std::vector<const Stored*> out;
  for (const auto& [id, stored] : data.stances) {
    if (Matches(filter, stored.stance)) out.push_back(&stored);
  }
  std::sort(out.begin(), out.end(),
            [](const Stored* a, const Stored* b) { return Key(a->stance) > Key(b->stance); });
  return out;
}

// ListActors' and ListConditions' rows, counted from the stances (the caller holds the lock).
class MemoryAggregates final : public AggregateSource {
 public:
  explicit MemoryAggregates(const MemoryStanceData& data) : data_(data) {}

  // A topic selects every stored topic whose key it names or one of whose labels (or key) holds
  // its words: the stored topics are the candidates, matched with the filter model's semantics.
  grpc::Status TopicKeys(const TopicFilter& topic, std::vector<std::string>* keys) override {
    StanceFilter f;
    f.topic = topic;
    for (const auto& [key, label] : data_.topic_labels) {
      v1::Stance probe;
      probe.set_topic(key);
      probe.set_topic_label(label);
      if (Matches(f, probe) && (keys->empty() || keys->back() != key)) keys->push_back(key);
    }
    return grpc::Status::OK;
  }

  grpc::Status ActorCounts(const std::vector<std::string>& topics,
                           const ActorCountRow& row) override {
    std::map<std::pair<std::string, int>, int64_t> counts;
    for (const auto& [id, s] : data_.stances) {
      if (On(topics, s.stance)) ++counts[{s.stance.actor().id(), s.stance.position()}];
    }
    for (const auto& [key, n] : counts) row(key.first, static_cast<v1::Position>(key.second), n);
    return grpc::Status::OK;
  }

  grpc::Status ConditionCounts(const std::vector<std::string>& topics,
                               const ConditionCountRow& row) override {
    std::map<std::pair<std::string, std::string>, int64_t> counts;
    for (const auto& [id, s] : data_.stances) {
      if (!On(topics, s.stance)) continue;
      for (const auto& kind : ConditionKinds(s.stance)) ++counts[{kind, s.stance.actor().id()}];
    }
    for (const auto& [key, n] : counts) row(key.first, key.second, n);
    return grpc::Status::OK;
  }

  grpc::Status LoadActorNames(const std::vector<std::string>& ids, ActorNames* names) override {
    for (const auto& id : ids) {
      auto it = data_.actors.find(id);
      if (it != data_.actors.end())
        (*names)[id] = ActorRef{id, it->second.first, it->second.second};
    }
    return grpc::Status::OK;
  }

  grpc::Status LatestStances(const std::vector<std::string>& topics,
                             std::vector<ActorStats>* actors) override {
    std::map<std::string, const v1::Stance*> latest;
    for (const auto& [id, s] : data_.stances) {
      if (!On(topics, s.stance)) continue;
      const v1::Stance*& best = latest[s.stance.actor().id()];
      if (!best || Key(s.stance) > Key(*best)) best = &s.stance;
    }
    for (auto& a : *actors) {
      auto it = latest.find(a.actor.id);
      if (it != latest.end()) a.latest = *it->second;
    }
    return grpc::Status::OK;
  }

 private:
  static bool On(const std::vector<std::string>& topics, const v1::Stance& s) {
    return topics.empty() || std::find(topics.begin(), topics.end(), s.topic()) != topics.end();
  }

  const MemoryStanceData& data_;
};

}  // namespace

MemoryStanceStore::MemoryStanceStore(std::shared_ptr<MemoryStanceData> data)
    : data_(data ? std::move(data) : std::make_shared<MemoryStanceData>()) {}

grpc::Status MemoryStanceStore::Upsert(const std::vector<v1::Stance>& stances, UpsertResult* result,
                                       const std::vector<std::string_view>* wire) {
  std::lock_guard lock(data_->mu);
  if (result) result->changed.clear();
  for (size_t i = 0; i < stances.size(); ++i) {
    const auto& s = stances[i];
    std::string body = wire ? std::string((*wire)[i]) : s.SerializeAsString();
    auto it = data_->stances.find(s.id());
    if (it != data_->stances.end() && it->second.body == body) continue;  // a redelivery
    data_->stances[s.id()] = Stored{s, std::move(body)};
    data_->actors[s.actor().id()] = {s.actor().name(), s.actor().kind()};
    data_->topic_labels.insert({s.topic(), ""});
    data_->topic_labels.insert({s.topic(), s.topic_label()});
    if (result) result->changed.push_back(i);
  }
  return grpc::Status::OK;
}

grpc::Status MemoryStanceStore::List(const StanceFilter& filter, const ListOptions& options,
                                     StancePage* page) {
  std::lock_guard lock(data_->mu);
  page->stances.clear();
  page->serialized.clear();
  page->next.reset();
  page->total.reset();
  auto matching = Matching(*data_, filter);
  if (options.oldest_first) std::reverse(matching.begin(), matching.end());
  if (options.count_total) page->total = static_cast<int64_t>(matching.size());
  std::vector<const Stored*> rows;  // strictly after the cursor, in the order asked for
  for (const Stored* s : matching) {
    const auto key = Key(s->stance);
    const bool after =
        !options.after ||
        (options.oldest_first
             ? key > std::make_pair(options.after->published_nanos, options.after->id)
             : key < std::make_pair(options.after->published_nanos, options.after->id));
    if (after) rows.push_back(s);
  }
  const size_t limit = static_cast<size_t>(std::max(0, options.limit));
  for (size_t i = 0; i < rows.size() && i < limit; ++i) {
    if (options.serialized) {
      page->serialized.push_back(rows[i]->body);
    } else {
      page->stances.push_back(rows[i]->stance);
    }
  }
  if (rows.size() > limit && limit > 0) {
    const auto key = Key(rows[limit - 1]->stance);
    page->next = StanceCursor{key.first, key.second};
  }
  return grpc::Status::OK;
}

grpc::Status MemoryStanceStore::Count(int64_t* count) {
  std::lock_guard lock(data_->mu);
  *count = static_cast<int64_t>(data_->stances.size());
  return grpc::Status::OK;
}

grpc::Status MemoryStanceStore::ListActors(const TopicFilter& topic,
                                           std::vector<ActorStats>* actors) {
  std::lock_guard lock(data_->mu);
  MemoryAggregates source(*data_);
  return CollectActors(&source, topic, actors);
}

grpc::Status MemoryStanceStore::ListConditions(const TopicFilter& topic,
                                               std::vector<ConditionStats>* conditions) {
  std::lock_guard lock(data_->mu);
  MemoryAggregates source(*data_);
  return CollectConditions(&source, topic, conditions);
}

grpc::Status MemoryStanceStore::ListClaims(const StanceFilter& filter, const ClaimOptions& options,
                                           ClaimPage* page) {
  std::lock_guard lock(data_->mu);
  page->claims.clear();
  page->more = false;
  page->total.reset();
  // Grouped by (actor, topic, position, condition kinds), each group's stances newest first.
  std::map<std::tuple<std::string, std::string, int, std::string>, std::vector<const Stored*>>
      groups;
  for (const Stored* s : Matching(*data_, filter)) {
    const auto& st = s->stance;
    groups[{st.actor().id(), st.topic(), st.position(), JoinKinds(ConditionKinds(st))}].push_back(
        s);
  }
  std::vector<ClaimRecord> claims;
  for (const auto& [key, members] : groups) {
    if (static_cast<int64_t>(members.size()) < std::max<int64_t>(1, options.min_count)) continue;
    ClaimRecord c;
    c.actor.id = std::get<0>(key);
    c.topic = std::get<1>(key);
    c.position = static_cast<v1::Position>(std::get<2>(key));
    c.condition_kinds = SplitKinds(std::get<3>(key));
    c.count = static_cast<int64_t>(members.size());
    c.latest = members.front()->stance;
    c.actor.name = c.latest.actor().name();
    c.actor.kind = c.latest.actor().kind();
    c.first_seen_nanos = TimestampNanos(members.back()->stance.published());
    c.last_seen_nanos = TimestampNanos(members.front()->stance.published());
    std::set<std::string> outlets;
    for (const Stored* s : members) {
      if (!s->stance.outlet().empty()) outlets.insert(s->stance.outlet());
      if (c.item_ids.size() < static_cast<size_t>(kMaxClaimItemIds)) {
        c.item_ids.push_back(s->stance.item_id());
      }
    }
    c.outlets.assign(outlets.begin(), outlets.end());
    claims.push_back(std::move(c));
  }
  // Count, distinct outlets and last seen, all descending, then the key.
  std::sort(claims.begin(), claims.end(), [](const ClaimRecord& x, const ClaimRecord& y) {
    return std::make_tuple(-x.count, -static_cast<int64_t>(x.outlets.size()), -x.last_seen_nanos,
                           x.actor.id, x.topic, static_cast<int>(x.position),
                           JoinKinds(x.condition_kinds)) <
           std::make_tuple(-y.count, -static_cast<int64_t>(y.outlets.size()), -y.last_seen_nanos,
                           y.actor.id, y.topic, static_cast<int>(y.position),
                           JoinKinds(y.condition_kinds));
  });
  if (options.count_total) page->total = static_cast<int64_t>(claims.size());
  const size_t begin =
      std::min(claims.size(), static_cast<size_t>(std::max<int64_t>(0, options.offset)));
  const size_t limit = static_cast<size_t>(std::max(0, options.limit));
  const size_t end = std::min(claims.size(), begin + limit);
  page->more = claims.size() > end;
  for (size_t i = begin; i < end; ++i) page->claims.push_back(std::move(claims[i]));
  return grpc::Status::OK;
}

}  // namespace stancewire::query
