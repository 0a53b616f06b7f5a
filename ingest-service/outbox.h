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
#include <string_view>
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

// Stances in the wire form of DeliverBatch's repeated `stances` field: per stance its tag, its
// length and the serialized Stance. The outbox keeps them so, and the forwarder splices them into
// a DeliverBatch as they are: each stance is encoded once, when it is extracted, and never decoded
// on the way to query-service.
class StanceRecords {
 public:
  // Appends `stance`; returns its serialized form (valid until the next Add).
  std::string_view Add(const v1::Stance& stance);

  size_t size() const { return ends_.size(); }
  bool empty() const { return ends_.empty(); }
  const std::string& bytes() const { return bytes_; }
  // The bytes of records [from, to).
  std::string_view Range(size_t from, size_t to) const;

 private:
  std::string bytes_;
  std::vector<size_t> ends_;  // where each record ends in bytes_
};

// Decodes StanceRecords bytes (tests and tools; the delivery path never does).
bool DecodeStanceRecords(std::string_view bytes, std::vector<v1::Stance>* stances);

struct OutboxOptions {
  std::string path = "data/local/ingest/outbox.db";
  int64_t max_pending_stances = 1'000'000;  // past this Append refuses with RESOURCE_EXHAUSTED
  SyncMode sync = SyncMode::kFull;
  // An Append becomes entries of at most this many stances, so that any entry fits in a batch
  // (ingest-service sets it to --batch-size).
  size_t max_stances_per_entry = 500;
  // And of at most this many bytes (one stance larger than that is an entry of its own), so
  // that whole entries fill a batch well below the gRPC message limit. Entries past either bound
  // left by an earlier ingest-service are split when the file is opened.
  size_t max_entry_bytes = 1024 * 1024;
  // Bytes of the latest committed entries kept in memory as well, for Read.
  size_t tail_bytes = 8 * 1024 * 1024;
};

// Consecutive committed entries, as the forwarder sends them.
struct OutboxBatch {
  uint64_t last_seq = 0;  // seq of the last entry
  size_t stances = 0;
  std::string records;  // StanceRecords bytes of the entries, in seq order
};

class Outbox {
 public:
  // Opens the file, creating it or migrating one written by an older ingest-service (one stance
  // per entry, decoded form) without losing or renumbering what it holds.
  static std::unique_ptr<Outbox> Open(const OutboxOptions& options, std::string* error);
  ~Outbox();  // commits what is queued (appends and acknowledgements), then stops the committer

  using Done = std::function<void(const grpc::Status&)>;
  // Queues the stances for the next commit; `done` runs on the committer thread once they are
  // durable (OK) or could not be written. Refuses at once, without queueing, when the outbox would
  // exceed its limit: RESOURCE_EXHAUSTED (retry later) while the backlog is in the way,
  // INVALID_ARGUMENT when there are more stances than the limit, which no retry can change.
  // Group commit: concurrent appends share one transaction and one fsync.
  void Append(StanceRecords records, Done done);
  void Append(const std::vector<v1::Stance>& stances, Done done);

  // Committed entries with seq > after, in seq order: whole entries while they fit in
  // `max_stances` and `max_bytes`, and at least one. Empty when there is none. Recent entries come
  // from memory (see tail_), older ones from the file.
  grpc::Status Read(uint64_t after, size_t max_stances, size_t max_bytes, OutboxBatch* out);

  // Removes every entry with seq <= up_to (query-service has stored them) in the committer's next
  // transaction, together with the appends queued by then; `done` (optional) runs once that is
  // committed. Losing an acknowledgement in a crash only means its entries are delivered again,
  // which query-service applies idempotently.
  void Acknowledge(uint64_t up_to, Done done = nullptr);

  // Waits until an entry with seq > after is committed, the timeout passes or Wake() is called.
  void WaitForEntries(uint64_t after, std::chrono::milliseconds timeout);
  void Wake();

  uint64_t last_committed_seq() const { return last_committed_seq_.load(); }
  // Stances committed or queued and not yet removed by an acknowledgement.
  int64_t pending_stances() const { return pending_.load(); }

 private:
  explicit Outbox(OutboxOptions options) : options_(std::move(options)) {}
  bool Migrate(std::string* error);
  // Splits entries past max_stances_per_entry or max_entry_bytes, and moves every entry from the
  // first such one on to the end, in order, with new sequence numbers (numbers never go back).
  bool SplitOversizedEntries(std::string* error);
  void RunCommitter();

  struct Request {
    StanceRecords records;
    Done done;
  };
  struct TailEntry {
    uint64_t seq;
    size_t stances;
    std::string records;
  };
  // Adds entries just committed to the tail, forgetting the oldest past options_.tail_bytes.
  void AddToTail(std::vector<TailEntry> entries);

  const OutboxOptions options_;
  SqliteDb db_;  // the committer's: every write goes through it
  std::atomic<int64_t> pending_{0};
  std::atomic<uint64_t> last_committed_seq_{0};

  // The forwarder's reads use a connection of their own: WAL lets them run while a commit waits
  // for its fsync.
  std::mutex read_mu_;
  SqliteDb read_db_;
  SqliteStatement read_;

  // The entries committed last, so that the forwarder, which mostly sends what was just
  // committed, does not read it back from the file. It holds every committed entry with
  // seq > tail_from_ that is not yet acknowledged.
  std::mutex tail_mu_;
  std::deque<TailEntry> tail_;
  size_t tail_bytes_ = 0;
  uint64_t tail_from_ = 0;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Request> queue_;
  uint64_t ack_up_to_ = 0;         // highest seq acknowledged
  std::vector<Done> ack_waiters_;  // acknowledgements waiting for their commit
  bool stopping_ = false;
  std::thread committer_;

  std::mutex entries_mu_;
  std::condition_variable entries_cv_;
  uint64_t wake_generation_ = 0;
};

}  // namespace stancewire::ingest
