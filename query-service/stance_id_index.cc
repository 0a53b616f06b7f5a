#include "query-service/stance_id_index.h"

#include <algorithm>
#include <functional>

namespace stancewire::query {

StanceIdIndex::StanceIdIndex(HashFunction hash) : hash_(hash) {}

uint64_t StanceIdIndex::Hash(std::string_view id) const {
  return hash_ ? hash_(id) : std::hash<std::string_view>{}(id);
}

StanceIdIndex::Lookup StanceIdIndex::Find(std::string_view id, int64_t* seq) const {
  if (!collided_.empty()) {
    if (auto it = collided_.find(absl::string_view(id.data(), id.size())); it != collided_.end()) {
      *seq = it->second;
      return Lookup::kExact;
    }
  }
  auto it = by_hash_.find(Hash(id));
  if (it == by_hash_.end()) return Lookup::kAbsent;
  *seq = it->second;
  return Lookup::kCandidate;
}

void StanceIdIndex::Add(std::string_view id, int64_t seq, bool hash_taken) {
  const uint64_t h = Hash(id);
  Added added{h, {}, max_seq_};
  if (hash_taken) {
    collided_.emplace(std::string(id), seq);
    added.collided_id.assign(id);
  } else {
    by_hash_.emplace(h, seq);
  }
  max_seq_ = std::max(max_seq_, seq);
  if (in_transaction_) added_.push_back(std::move(added));
}

void StanceIdIndex::Load(std::string_view id, int64_t seq) {
  Add(id, seq, by_hash_.contains(Hash(id)));
}

void StanceIdIndex::BeginTransaction() {
  in_transaction_ = true;
  added_.clear();
}

void StanceIdIndex::CommitTransaction() {
  in_transaction_ = false;
  added_.clear();
}

void StanceIdIndex::RollbackTransaction() {
  for (auto it = added_.rbegin(); it != added_.rend(); ++it) {
    if (it->collided_id.empty()) {
      by_hash_.erase(it->hash);
    } else {
      collided_.erase(it->collided_id);
    }
    max_seq_ = it->previous_max_seq;
  }
  in_transaction_ = false;
  added_.clear();
}

}  // namespace stancewire::query
