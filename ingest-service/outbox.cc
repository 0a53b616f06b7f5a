#include "ingest-service/outbox.h"

#include <spdlog/spdlog.h>

namespace stancewire::ingest {

bool ParseSyncMode(const std::string& text, SyncMode* mode) {
  if (text == "full") {
    *mode = SyncMode::kFull;
  } else if (text == "normal") {
    *mode = SyncMode::kNormal;
  } else if (text == "off") {
    *mode = SyncMode::kOff;
  } else {
    return false;
  }
  return true;
}

std::unique_ptr<Outbox> Outbox::Open(const OutboxOptions& options, std::string* error) {
  if (!EnsureParentDirectory(options.path, error)) return nullptr;
  std::unique_ptr<Outbox> outbox(new Outbox(options));
  SqliteDb& db = outbox->db_;
  if (!db.Open(options.path, /*read_only=*/false, error)) return nullptr;
  const char* sync = options.sync == SyncMode::kFull     ? "FULL"
                     : options.sync == SyncMode::kNormal ? "NORMAL"
                                                         : "OFF";
  // AUTOINCREMENT: sequence numbers never go back, even after every entry has been acknowledged
  // and deleted, so query-service never sees an old seq reused for new stances.
  if (!db.Exec(std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=") + sync +
                   "; CREATE TABLE IF NOT EXISTS outbox ("
                   "seq INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB NOT NULL);",
               error)) {
    *error = options.path + ": " + *error;
    return nullptr;
  }
  auto count = db.Prepare("SELECT COUNT(*), IFNULL(MAX(seq), 0) FROM outbox");
  if (!count.ok() || count.Step() != SQLITE_ROW) {
    *error = options.path + ": " + count.error();
    return nullptr;
  }
  outbox->pending_ = count.ColumnInt(0);
  outbox->last_committed_seq_ = static_cast<uint64_t>(count.ColumnInt(1));
  if (outbox->pending_ > 0) {
    spdlog::info("outbox {} holds {} undelivered stances from before; resuming", options.path,
                 outbox->pending_.load());
  }
  outbox->committer_ = std::thread([o = outbox.get()] { o->RunCommitter(); });
  return outbox;
}

Outbox::~Outbox() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (committer_.joinable()) committer_.join();
}

void Outbox::Append(std::vector<v1::Stance> stances, Done done) {
  const auto n = static_cast<int64_t>(stances.size());
  // Reserve room first so that concurrent appends cannot overshoot the limit together.
  int64_t before = pending_.fetch_add(n);
  if (before + n > options_.max_pending_stances) {
    pending_.fetch_sub(n);
    done(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                      "outbox is full: " + std::to_string(before) +
                          " stances await delivery to query-service (limit " +
                          std::to_string(options_.max_pending_stances) +
                          "); query-service is slow or unreachable, retry later"));
    return;
  }
  {
    std::lock_guard lock(queue_mu_);
    if (!stopping_) {
      queue_.push_back(Request{std::move(stances), std::move(done)});
      queue_cv_.notify_one();
      return;
    }
  }
  pending_.fetch_sub(n);
  done(grpc::Status(grpc::StatusCode::UNAVAILABLE, "ingest-service is shutting down"));
}

void Outbox::RunCommitter() {
  std::deque<Request> batch;
  for (;;) {
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      batch.swap(queue_);
    }
    grpc::Status status = grpc::Status::OK;
    uint64_t last_seq = 0;
    int64_t written = 0;
    {
      std::lock_guard lock(db_mu_);
      std::string error;
      if (!db_.Exec("BEGIN IMMEDIATE", &error)) {
        status = grpc::Status(grpc::StatusCode::INTERNAL, "outbox: " + error);
      } else {
        auto insert = db_.Prepare("INSERT INTO outbox(body) VALUES (?1)");
        std::string body;
        bool ok = insert.ok();
        for (auto& request : batch) {
          for (auto& stance : request.stances) {
            if (!ok) break;
            stance.SerializeToString(&body);
            insert.BindBlob(1, body);
            ok = insert.Run();
            ++written;
          }
        }
        if (ok) {
          last_seq = static_cast<uint64_t>(sqlite3_last_insert_rowid(db_.handle()));
          ok = db_.Exec("COMMIT", &error);
        }
        if (!ok) {
          std::string detail = insert.ok() ? db_.last_error() : insert.error();
          db_.Exec("ROLLBACK", &error);
          status = grpc::Status(grpc::StatusCode::INTERNAL, "outbox write failed: " + detail);
        }
      }
    }
    if (status.ok()) {
      if (last_seq > 0) last_committed_seq_ = last_seq;
      {
        std::lock_guard lock(entries_mu_);
        ++wake_generation_;
      }
      entries_cv_.notify_all();
    } else {
      spdlog::error("{}", status.error_message());
      for (auto& request : batch) pending_.fetch_sub(static_cast<int64_t>(request.stances.size()));
    }
    for (auto& request : batch) request.done(status);
    batch.clear();
  }
}

grpc::Status Outbox::Read(uint64_t after, size_t max, std::vector<OutboxEntry>* out) {
  out->clear();
  std::lock_guard lock(db_mu_);
  auto select = db_.Prepare("SELECT seq, body FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2");
  if (!select.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "outbox: " + select.error());
  select.Bind(1, static_cast<int64_t>(after));
  select.Bind(2, static_cast<int64_t>(max));
  int rc;
  while ((rc = select.Step()) == SQLITE_ROW) {
    OutboxEntry entry;
    entry.seq = static_cast<uint64_t>(select.ColumnInt(0));
    auto body = select.ColumnBlob(1);
    if (!entry.stance.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
      return grpc::Status(grpc::StatusCode::DATA_LOSS,
                          "outbox entry " + std::to_string(entry.seq) + " is corrupt");
    }
    out->push_back(std::move(entry));
  }
  if (rc != SQLITE_DONE)
    return grpc::Status(grpc::StatusCode::INTERNAL, "outbox: " + select.error());
  return grpc::Status::OK;
}

grpc::Status Outbox::Acknowledge(uint64_t up_to) {
  std::lock_guard lock(db_mu_);
  auto del = db_.Prepare("DELETE FROM outbox WHERE seq <= ?1");
  if (!del.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "outbox: " + del.error());
  del.Bind(1, static_cast<int64_t>(up_to));
  if (!del.Run()) return grpc::Status(grpc::StatusCode::INTERNAL, "outbox: " + del.error());
  pending_.fetch_sub(sqlite3_changes(db_.handle()));
  return grpc::Status::OK;
}

void Outbox::WaitForEntries(uint64_t after, std::chrono::milliseconds timeout) {
  std::unique_lock lock(entries_mu_);
  const uint64_t generation = wake_generation_;
  entries_cv_.wait_for(lock, timeout, [&] {
    return last_committed_seq_.load() > after || wake_generation_ != generation;
  });
}

void Outbox::Wake() {
  {
    std::lock_guard lock(entries_mu_);
    ++wake_generation_;
  }
  entries_cv_.notify_all();
}

}  // namespace stancewire::ingest
