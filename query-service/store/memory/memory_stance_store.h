// The reference backend: every stance in memory, every query answered by scanning them with the
// filter model's own semantics (Matches in store/stance_filter.h). It is what the conformance
// suite holds the SQL backends to (tests/unit/store_conformance_test.cc), not a store to serve
// from: nothing is kept past the process, and every read is linear in the stored stances.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "query-service/store/stance_store.h"

namespace stancewire::query {

// What the stores opened over one "database" share.
struct MemoryStanceData {
  struct Stored {
    v1::Stance stance;
    std::string body;  // the stored wire form
  };
  std::mutex mu;
  std::map<std::string, Stored> stances;  // by id
  // As the SQL backends keep them: the name and kind of each actor's last changed stance, and
  // every (topic, label) ever stored (with the label "" for each topic).
  std::map<std::string, std::pair<std::string, std::string>> actors;
  std::set<std::pair<std::string, std::string>> topic_labels;
};

class MemoryStanceStore : public StanceStore {
 public:
  explicit MemoryStanceStore(std::shared_ptr<MemoryStanceData> data = nullptr);

  using StanceStore::List;
  grpc::Status Upsert(const std::vector<v1::Stance>& stances, UpsertResult* result = nullptr,
                      const std::vector<std::string_view>* wire = nullptr) override;
  grpc::Status List(const StanceFilter& filter, const ListOptions& options,
                    StancePage* page) override;
  grpc::Status Count(int64_t* count) override;
  grpc::Status ListActors(const TopicFilter& topic, std::vector<ActorStats>* actors) override;
  grpc::Status ListConditions(const TopicFilter& topic,
                              std::vector<ConditionStats>* conditions) override;
  grpc::Status ListClaims(const StanceFilter& filter, const ClaimOptions& options,
                          ClaimPage* page) override;

 private:
  std::shared_ptr<MemoryStanceData> data_;
};

}  // namespace stancewire::query
