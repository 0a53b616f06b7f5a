// SqliteStanceStore's connections: Open (pragmas, migrations, the writer's state), the pool of
// reader connections and the background WAL checkpointer.
#include "query-service/store/sqlite/sqlite_stance_store.h"

#include <chrono>

#include "query-service/store/sqlite/sqlite_writer_state.h"

namespace stancewire::query {

namespace {

// Background checkpoints start when the WAL holds this many pages (4 KiB each); past the upper
// bound the committing writer also checkpoints, so the WAL stays bounded even if the background
// checkpoints fall behind.
constexpr int kCheckpointPages = 8192;
constexpr int kWriterCheckpointPages = 65536;

}  // namespace

std::unique_ptr<SqliteStanceStore> SqliteStanceStore::Open(const std::string& path,
                                                           std::string* error,
                                                           StanceIdIndex::HashFunction id_hash) {
  if (!EnsureParentDirectory(path, error) || !CheckNotTruncated(path, error)) return nullptr;
  std::unique_ptr<SqliteStanceStore> store(new SqliteStanceStore(path));
  if (!store->writer_.Open(path, /*read_only=*/false, error)) return nullptr;
  // WAL lets readers run while the writer commits; synchronous=FULL makes every acknowledged
  // batch survive a power cut, not only a crash. A 128 MiB page cache keeps the growing ends of
  // the indexes in memory while large batches land; journal_size_limit trims the WAL file after
  // it has been checkpointed and restarted. secure_delete (on in Debian's build) would zero every
  // byte a page split or replacement frees, which nothing here needs.
  if (!store->writer_.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                           "PRAGMA cache_size=-131072; PRAGMA journal_size_limit=67108864; "
                           "PRAGMA secure_delete=OFF;",
                           error)) {
    *error = path + ": " + *error;
    return nullptr;
  }
  if (!store->Migrate(error)) {
    *error = path + ": " + *error;
    return nullptr;
  }
  store->writer_state_ = std::make_unique<WriterState>(store->writer_, id_hash);
  if (const std::string* prepare_error = store->writer_state_->PrepareError()) {
    *error = path + ": " + *prepare_error;
    return nullptr;
  }
  if (!store->writer_state_->CatchUp(store->writer_, error)) {
    *error = path + ": reading stance ids: " + *error;
    return nullptr;
  }
  // Checkpoints (copying the WAL into the database, with an fsync) move off the commit path to a
  // connection and thread of their own, so they overlap the next batch instead of stalling it.
  sqlite3_wal_hook(
      store->writer_.handle(),
      [](void* self, sqlite3*, const char*, int pages) {
        static_cast<SqliteStanceStore*>(self)->OnWalCommitted(pages);
        return SQLITE_OK;
      },
      store.get());
  if (!store->checkpoint_db_.Open(path, /*read_only=*/false, error) ||
      !store->checkpoint_db_.Exec("PRAGMA synchronous=FULL", error)) {
    *error = path + ": " + *error;
    return nullptr;
  }
  store->checkpointer_ = std::thread([s = store.get()] { s->RunCheckpointer(); });
  return store;
}

SqliteStanceStore::SqliteStanceStore(std::string path) : path_(std::move(path)) {}

SqliteStanceStore::~SqliteStanceStore() {
  {
    std::lock_guard lock(checkpoint_mu_);
    stopping_ = true;
  }
  checkpoint_cv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
}

void SqliteStanceStore::OnWalCommitted(int pages) {
  if (pages < kCheckpointPages) return;
  {
    std::lock_guard lock(checkpoint_mu_);
    checkpoint_wanted_ = true;
  }
  checkpoint_cv_.notify_one();
  if (pages >= kWriterCheckpointPages) {
    sqlite3_wal_checkpoint_v2(writer_.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                              nullptr);
  }
}

void SqliteStanceStore::RunCheckpointer() {
  std::unique_lock lock(checkpoint_mu_);
  while (!stopping_) {
    // Also every few seconds, so that a quiet store does not keep a large WAL around.
    checkpoint_cv_.wait_for(lock, std::chrono::seconds(5),
                            [this] { return stopping_ || checkpoint_wanted_; });
    if (stopping_) break;
    checkpoint_wanted_ = false;
    lock.unlock();
    int log = 0, done = 0;
    const int rc = sqlite3_wal_checkpoint_v2(checkpoint_db_.handle(), nullptr,
                                             SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      spdlog::warn("store {}: checkpoint failed: {}", path_, checkpoint_db_.last_error());
    }
    lock.lock();
  }
}

std::unique_ptr<SqliteStanceStore::Reader> SqliteStanceStore::AcquireReader(std::string* error) {
  {
    std::lock_guard lock(readers_mu_);
    if (!readers_.empty()) {
      auto reader = std::move(readers_.back());
      readers_.pop_back();
      return reader;
    }
  }
  auto reader = std::make_unique<Reader>();
  if (!reader->db.Open(path_, /*read_only=*/true, error)) return nullptr;
  // Reads go through the OS page cache shared by all connections, not a copy per connection,
  // and without a pread per page. SQLite caps the map at its compile-time maximum (2 GiB in
  // Debian's build); pages beyond it are read as usual.
  std::string ignored;
  reader->db.Exec("PRAGMA mmap_size=17179869184", &ignored);
  return reader;
}

void SqliteStanceStore::ReleaseReader(std::unique_ptr<Reader> reader) {
  std::lock_guard lock(readers_mu_);
  readers_.push_back(std::move(reader));
}

bool SqliteStanceStore::Analyze(std::string* error) {
  std::lock_guard lock(write_mu_);
  return writer_.Exec("ANALYZE", error);
}

}  // namespace stancewire::query
