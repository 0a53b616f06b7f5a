#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/sqlite_db.h"
#include "query-service/stance_store.h"

namespace stancewire::query {

// SQLite in WAL mode: one writer connection, a pool of reader connections (each with its own
// prepared-statement cache) so that queries run alongside ingestion.
//
// Besides the stances themselves the schema keeps what the query API needs to stay fast at
// millions of stances: one row per (stance, condition kind) with the columns the common filters
// use (stance_kinds), and counters maintained by triggers (actor_counts, condition_counts).
class SqliteStanceStore : public StanceStore {
 public:
  // Opens (creating and migrating) the database at `path`. nullptr with the reason in *error.
  static std::unique_ptr<SqliteStanceStore> Open(const std::string& path, std::string* error);
  ~SqliteStanceStore() override;

  using StanceStore::List;
  grpc::Status Upsert(const std::vector<v1::Stance>& stances,
                      UpsertResult* result = nullptr) override;
  grpc::Status List(const StanceFilter& filter, const ListOptions& options,
                    StancePage* page) override;
  grpc::Status Count(int64_t* count) override;
  grpc::Status ListActors(const std::string& topic, std::vector<ActorStats>* actors) override;
  grpc::Status ListConditions(const std::string& topic,
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
  // Borrows a reader connection (opening one if the pool is empty).
  std::unique_ptr<Reader> AcquireReader(std::string* error);
  void ReleaseReader(std::unique_ptr<Reader> reader);

  const std::string path_;
  std::mutex write_mu_;
  SqliteDb writer_;
  std::mutex readers_mu_;
  std::vector<std::unique_ptr<Reader>> readers_;
};

}  // namespace stancewire::query
