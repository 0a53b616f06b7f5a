// The SQLite writer's map from stance id to stored row (seq), kept in memory so that an upsert
// needs no index keyed by id on disk: stance ids are hashes, so such a B-tree takes every new
// stance to a random page, and each commit rewrote one page per new stance (most of the store's
// write cost). ~25 bytes per stored stance; rebuilt from the database when the store opens.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace stancewire::query {

// Keyed by a 64-bit hash of the id. A hit is a candidate that the caller confirms against the
// stored row; ids whose hash another stored id already has are kept by their full text.
class StanceIdIndex {
 public:
  using HashFunction = uint64_t (*)(std::string_view id);
  // `hash` may be null (std::hash); tests pass a weak one to force collisions.
  explicit StanceIdIndex(HashFunction hash = nullptr);

  enum class Lookup {
    kAbsent,     // no stored stance has this id
    kExact,      // *seq is this id's row
    kCandidate,  // *seq is the row of a stance whose id hashes alike: compare the ids
  };
  Lookup Find(std::string_view id, int64_t* seq) const;

  // Records a stored stance. `hash_taken`: Find answered kCandidate and the row held another id.
  void Add(std::string_view id, int64_t seq, bool hash_taken);
  // Records a stance read back from the database (ids there are unique, so a hash already
  // present is another id's).
  void Load(std::string_view id, int64_t seq);

  // What Add records between BeginTransaction and RollbackTransaction is forgotten again.
  void BeginTransaction();
  void CommitTransaction();
  void RollbackTransaction();

  size_t size() const { return by_hash_.size() + collided_.size(); }
  // The largest seq recorded: rows after it were written by another connection.
  int64_t max_seq() const { return max_seq_; }

 private:
  uint64_t Hash(std::string_view id) const;

  HashFunction hash_;
  absl::flat_hash_map<uint64_t, int64_t> by_hash_;
  absl::flat_hash_map<std::string, int64_t> collided_;
  int64_t max_seq_ = 0;

  struct Added {
    uint64_t hash;
    std::string collided_id;  // empty: the entry is in by_hash_
    int64_t previous_max_seq;
  };
  bool in_transaction_ = false;
  std::vector<Added> added_;
};

}  // namespace stancewire::query
