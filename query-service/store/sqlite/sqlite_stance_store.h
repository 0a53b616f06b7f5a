#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/sqlite_db.h"
#include "query-service/stance_id_index.h"
#include "query-service/store/stance_store.h"

namespace stancewire::query {

// SQLite in WAL mode: one writer connection, a pool of reader connections (each with its own
// prepared-statement cache) so that queries run alongside ingestion.
//
// Besides the stances themselves the schema keeps what the query API needs to stay fast at
// millions of stances: one row per (stance, condition kind) with the columns the common filters
// use (stance_kinds), and counters the writer maintains in the same transaction (actor_counts,
// condition_counts, totals). Rows are keyed by arrival order so that writes append; a thread of
// its own checkpoints the WAL.
class SqliteStanceStore : public StanceStore {
 public:
  // Opens (creating and migrating) the database at `path`. nullptr with the reason in *error.
  // `id_hash` replaces the hash the writer's id index uses (tests force collisions with it).
  static std::unique_ptr<SqliteStanceStore> Open(const std::string& path, std::string* error,
                                                 StanceIdIndex::HashFunction id_hash = nullptr);
  ~SqliteStanceStore() override;

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

  // Plain SQLite access for tests and tools: the query plan SQLite picks for a List call.
  std::string ExplainList(const StanceFilter& filter, const ListOptions& options);
  // Runs ANALYZE so that the planner has statistics (after bulk loads).
  bool Analyze(std::string* error);

  // A reader connection and the statements prepared on it, keyed by SQL text.
  struct Reader;

 private:
  explicit SqliteStanceStore(std::string path);
  bool Migrate(std::string* error);
  bool BackfillFromBodies(std::string* error);
  bool BackfillSpeakers(std::string* error);
  // Borrows a reader connection (opening one if the pool is empty).
  std::unique_ptr<Reader> AcquireReader(std::string* error);
  void ReleaseReader(std::unique_ptr<Reader> reader);

  // Statements and caches of the writer connection (defined in the .cc).
  struct WriterState;
  grpc::Status UpsertLocked(const std::vector<v1::Stance>& stances, UpsertResult* result,
                            const std::vector<std::string_view>* wire);
  // Called by SQLite after each commit with the WAL's size in pages.
  void OnWalCommitted(int pages);
  void RunCheckpointer();

  const std::string path_;
  std::mutex write_mu_;
  SqliteDb writer_;
  std::unique_ptr<WriterState> writer_state_;

  SqliteDb checkpoint_db_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_wanted_ = false;
  bool stopping_ = false;
  std::thread checkpointer_;

  std::mutex readers_mu_;
  std::vector<std::unique_ptr<Reader>> readers_;
};

}  // namespace stancewire::query
