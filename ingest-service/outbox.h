// The outbox: stances ingest-service has accepted but query-service has not yet acknowledged,
// kept in an SQLite file (WAL) so that they survive a crash or restart of either service.
#pragma once

#include <grpcpp/support/status.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/sqlite_db.h"
#include "stancewire/v1/stance.pb.h"

namespace stancewire::ingest {

// How hard each commit is pushed to disk. kFull: fsync on every commit — an acknowledged Ingest
// survives power loss. kNormal: survives a crash of the process, may lose the last commits on
// power loss. kOff: for tests and benchmarks that measure everything else.
enum class SyncMode { kFull, kNormal, kOff };
bool ParseSyncMode(const std::string& text, SyncMode* mode);

struct OutboxOptions {
  std::string path = "data/local/ingest/outbox.db";
  int64_t max_pending_stances = 1'000'000;  // past this Append refuses with RESOURCE_EXHAUSTED
  SyncMode sync = SyncMode::kFull;
};

struct OutboxEntry {
  uint64_t seq;
  v1::Stance stance;
};

class Outbox {
 public:
  static std::unique_ptr<Outbox> Open(const OutboxOptions& options, std::string* error);
  ~Outbox();  // commits what is queued, then stops the committer

  using Done = std::function<void(const grpc::Status&)>;
  // Queues the stances for the next commit; `done` runs on the committer thread once they are
  // durable (OK) or could not be written. Refuses at once, without queueing, when the outbox would
  // exceed its limit. Group commit: concurrent appends share one transaction and one fsync.
  void Append(std::vector<v1::Stance> stances, Done done);

  // Up to `max` committed entries with seq > after, in seq order.
  grpc::Status Read(uint64_t after, size_t max, std::vector<OutboxEntry>* out);
  // Removes every entry with seq <= up_to: query-service has stored them.
  grpc::Status Acknowledge(uint64_t up_to);

  // Waits until an entry with seq > after is committed, the timeout passes or Wake() is called.
  void WaitForEntries(uint64_t after, std::chrono::milliseconds timeout);
  void Wake();

  uint64_t last_committed_seq() const { return last_committed_seq_.load(); }
  // Stances committed or queued and not yet acknowledged.
  int64_t pending_stances() const { return pending_.load(); }

 private:
  explicit Outbox(OutboxOptions options) : options_(std::move(options)) {}
  void RunCommitter();

  struct Request {
    std::vector<v1::Stance> stances;
    Done done;
  };

  const OutboxOptions options_;
  std::mutex db_mu_;  // guards db_
  SqliteDb db_;
  std::atomic<int64_t> pending_{0};
  std::atomic<uint64_t> last_committed_seq_{0};

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Request> queue_;
  bool stopping_ = false;
  std::thread committer_;

  std::mutex entries_mu_;
  std::condition_variable entries_cv_;
  uint64_t wake_generation_ = 0;
};

}  // namespace stancewire::ingest
