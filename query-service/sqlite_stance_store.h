#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/sqlite_db.h"
#include "query-service/stance_store.h"

namespace stancewire::query {

// SQLite in WAL mode: one writer connection, a small pool of reader connections so that queries
// run alongside ingestion.
class SqliteStanceStore : public StanceStore {
 public:
  // Opens (creating and migrating) the database at `path`. nullptr with the reason in *error.
  static std::unique_ptr<SqliteStanceStore> Open(const std::string& path, std::string* error);

  grpc::Status Upsert(const std::vector<v1::Stance>& stances) override;
  grpc::Status List(const StanceFilter& filter, int limit, const std::optional<StanceCursor>& after,
                    StancePage* page) override;
  grpc::Status Count(int64_t* count) override;

 private:
  explicit SqliteStanceStore(std::string path) : path_(std::move(path)) {}
  bool Migrate(std::string* error);
  // Borrows a reader connection (opening one if the pool is empty); returned by the guard.
  std::unique_ptr<SqliteDb> AcquireReader(std::string* error);
  void ReleaseReader(std::unique_ptr<SqliteDb> db);

  const std::string path_;
  std::mutex write_mu_;
  SqliteDb writer_;
  std::mutex readers_mu_;
  std::vector<std::unique_ptr<SqliteDb>> readers_;
};

}  // namespace stancewire::query
