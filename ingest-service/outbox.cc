#include "ingest-service/outbox.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "stancewire/v1/delivery.pb.h"

namespace stancewire::ingest {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedOutputStream;

constexpr uint8_t kStanceRecordTag = WireFormatLite::MakeTag(
    v1::DeliverBatch::kStancesFieldNumber, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);

// The outbox file's schema version (PRAGMA user_version). 0: one decoded Stance per entry, the
// format before StanceRecords; 1: StanceRecords of one Append (or part of one) per entry.
constexpr int64_t kSchemaVersion = 1;
constexpr const char* kCreateTable =
    "CREATE TABLE %s (seq INTEGER PRIMARY KEY AUTOINCREMENT, stances INTEGER NOT NULL, "
    "body BLOB NOT NULL)";  // `stances` first: reading it never walks a body's overflow pages

void AppendRecordHeader(size_t size, std::string* out) {
  uint8_t header[1 + 5];  // tag, length (a varint32 takes at most 5 bytes)
  header[0] = kStanceRecordTag;
  uint8_t* end = CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(size), header + 1);
  out->append(reinterpret_cast<const char*>(header), end - header);
}

std::string CreateTable(const char* name) {
  char sql[256];
  std::snprintf(sql, sizeof sql, kCreateTable, name);
  return sql;
}

int64_t QueryInt(SqliteDb& db, const char* sql, int64_t fallback, std::string* error) {
  auto stmt = db.Prepare(sql);
  if (!stmt.ok()) {
    *error = stmt.error();
    return fallback;
  }
  int rc = stmt.Step();
  if (rc == SQLITE_ROW) return stmt.ColumnInt(0);
  if (rc != SQLITE_DONE) *error = stmt.error();
  return fallback;
}

// Rolls back the open transaction and reports `what` in *error; false, for `return fail(...)`.
bool RollBack(SqliteDb& db, const std::string& what, std::string* error) {
  *error = what;
  std::string ignored;
  db.Exec("ROLLBACK", &ignored);
  return false;
}

}  // namespace

std::string_view StanceRecords::Add(const v1::Stance& stance) {
  const size_t size = stance.ByteSizeLong();
  AppendRecordHeader(size, &bytes_);
  const size_t start = bytes_.size();
  bytes_.resize(start + size);
  stance.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(bytes_.data() + start));
  ends_.push_back(bytes_.size());
  return std::string_view(bytes_.data() + start, size);
}

std::string_view StanceRecords::Range(size_t from, size_t to) const {
  const size_t begin = from == 0 ? 0 : ends_[from - 1];
  const size_t end = to == 0 ? 0 : ends_[to - 1];
  return std::string_view(bytes_).substr(begin, end - begin);
}

bool DecodeStanceRecords(std::string_view bytes, std::vector<v1::Stance>* stances) {
  v1::DeliverBatch batch;
  if (!batch.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  for (auto& s : *batch.mutable_stances()) stances->push_back(std::move(s));
  return true;
}

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
  if (!EnsureParentDirectory(options.path, error) || !CheckNotTruncated(options.path, error)) {
    return nullptr;
  }
  std::unique_ptr<Outbox> outbox(new Outbox(options));
  SqliteDb& db = outbox->db_;
  if (!db.Open(options.path, /*read_only=*/false, error)) return nullptr;
  const char* sync = options.sync == SyncMode::kFull     ? "FULL"
                     : options.sync == SyncMode::kNormal ? "NORMAL"
                                                         : "OFF";
  // secure_delete off: Debian's SQLite zeroes deleted content by default, which rewrites every
  // page an acknowledgement frees; delivered stances live on in query-service anyway.
  if (!db.Exec(std::string("PRAGMA journal_mode=WAL; PRAGMA secure_delete=OFF; "
                           "PRAGMA synchronous=") +
                   sync,
               error) ||
      !outbox->Migrate(error) || !outbox->SplitOversizedEntries(error)) {
    *error = options.path + ": " + *error;
    return nullptr;
  }
  auto count = db.Prepare("SELECT IFNULL(SUM(stances), 0), IFNULL(MAX(seq), 0) FROM outbox");
  if (!count.ok() || count.Step() != SQLITE_ROW) {
    *error = options.path + ": " + count.error();
    return nullptr;
  }
  outbox->pending_ = count.ColumnInt(0);
  outbox->last_committed_seq_ = static_cast<uint64_t>(count.ColumnInt(1));
  outbox->tail_from_ = outbox->last_committed_seq_;  // what is there already: read from the file
  if (outbox->pending_ > 0) {
    spdlog::info("outbox {} holds {} undelivered stances from before; resuming", options.path,
                 outbox->pending_.load());
  }
  if (!outbox->read_db_.Open(options.path, /*read_only=*/false, error)) return nullptr;
  outbox->read_ =
      outbox->read_db_.Prepare("SELECT seq, stances, body FROM outbox WHERE seq > ?1 ORDER BY seq");
  if (!outbox->read_.ok()) {
    *error = options.path + ": " + outbox->read_.error();
    return nullptr;
  }
  outbox->committer_ = std::thread([o = outbox.get()] { o->RunCommitter(); });
  return outbox;
}

bool Outbox::Migrate(std::string* error) {
  if (!db_.Exec("BEGIN IMMEDIATE", error)) return false;
  auto fail = [&](const std::string& what) { return RollBack(db_, what, error); };
  std::string problem;
  const int64_t version = QueryInt(db_, "PRAGMA user_version", -1, &problem);
  const bool has_table = QueryInt(db_,
                                  "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND "
                                  "name = 'outbox'",
                                  0, &problem) > 0;
  if (!problem.empty()) return fail(problem);
  if (version == kSchemaVersion) return db_.Exec("COMMIT", error);
  if (version > kSchemaVersion || version < 0) {
    return fail("outbox schema version " + std::to_string(version) +
                " is newer than this ingest-service knows (" + std::to_string(kSchemaVersion) +
                ")");
  }
  // AUTOINCREMENT: sequence numbers never go back, even after every entry has been acknowledged
  // and deleted, so query-service never sees an old seq reused for new stances.
  if (!has_table) {
    if (!db_.Exec(CreateTable("outbox"), error)) return fail(*error);
  } else {
    // Version 0 entries hold one serialized Stance each: wrap each in its record header, keeping
    // its seq, and carry the sequence over so that numbering goes on where it stopped.
    const int64_t last_seq = QueryInt(
        db_, "SELECT IFNULL(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'outbox'", 0, &problem);
    if (!problem.empty()) return fail(problem);
    if (!db_.Exec(CreateTable("outbox_v1"), error)) return fail(*error);
    auto select = db_.Prepare("SELECT seq, body FROM outbox ORDER BY seq");
    auto insert = db_.Prepare("INSERT INTO outbox_v1(seq, stances, body) VALUES (?1, 1, ?2)");
    if (!select.ok()) return fail(select.error());
    if (!insert.ok()) return fail(insert.error());
    std::string record;
    int rc;
    int64_t migrated = 0;
    while ((rc = select.Step()) == SQLITE_ROW) {
      std::string_view body = select.ColumnBlob(1);
      record.clear();
      AppendRecordHeader(body.size(), &record);
      record.append(body);
      insert.Bind(1, select.ColumnInt(0));
      insert.BindBlob(2, record);
      if (!insert.Run()) return fail(insert.error());
      ++migrated;
    }
    if (rc != SQLITE_DONE) return fail(select.error());
    select = SqliteStatement();
    insert = SqliteStatement();
    if (!db_.Exec("DROP TABLE outbox; ALTER TABLE outbox_v1 RENAME TO outbox; "
                  "DELETE FROM sqlite_sequence WHERE name = 'outbox'",
                  error)) {
      return fail(*error);
    }
    auto sequence = db_.Prepare("INSERT INTO sqlite_sequence(name, seq) VALUES ('outbox', ?1)");
    sequence.Bind(1, last_seq);
    if (!sequence.ok() || !sequence.Run()) return fail(db_.last_error());
    spdlog::info("outbox {}: migrated {} entries of the previous format", options_.path, migrated);
  }
  if (!db_.Exec("PRAGMA user_version = " + std::to_string(kSchemaVersion), error)) {
    return fail(*error);
  }
  return db_.Exec("COMMIT", error) || fail(*error);
}

bool Outbox::SplitOversizedEntries(std::string* error) {
  const size_t per_entry = std::max<size_t>(1, options_.max_stances_per_entry);
  auto find = db_.Prepare(
      "SELECT IFNULL(MIN(seq), 0), IFNULL(MAX(seq), 0) FROM outbox "
      "WHERE stances > ?1 OR length(body) > ?2");
  if (!find.ok()) {
    *error = find.error();
    return false;
  }
  find.Bind(1, static_cast<int64_t>(per_entry));
  find.Bind(2, static_cast<int64_t>(options_.max_entry_bytes));
  if (find.Step() != SQLITE_ROW) {
    *error = find.error();
    return false;
  }
  const int64_t first = find.ColumnInt(0);
  find = SqliteStatement();
  if (first == 0) return true;  // the usual case: nothing to do

  // Entries are delivered in seq order and acknowledged by seq, so a split entry's parts cannot
  // keep its number: it and every entry after it move to the end, in the same order.
  if (!db_.Exec("BEGIN IMMEDIATE", error)) return false;
  auto fail = [&](const std::string& what) { return RollBack(db_, what, error); };
  std::string problem;
  const int64_t last = QueryInt(db_, "SELECT IFNULL(MAX(seq), 0) FROM outbox", 0, &problem);
  if (!problem.empty()) return fail(problem);
  auto select = db_.Prepare("SELECT body FROM outbox WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq");
  auto insert = db_.Prepare("INSERT INTO outbox(stances, body) VALUES (?1, ?2)");
  if (!select.ok()) return fail(select.error());
  if (!insert.ok()) return fail(insert.error());
  select.Bind(1, first);
  select.Bind(2, last);
  int64_t moved = 0, written = 0;
  int rc;
  while ((rc = select.Step()) == SQLITE_ROW) {
    ++moved;
    // A copy: inserting into the table may move the page the column points into.
    const std::string copy(select.ColumnBlob(0));
    const std::string_view body = copy;
    const auto* data = reinterpret_cast<const uint8_t*>(body.data());
    google::protobuf::io::CodedInputStream in(data, static_cast<int>(body.size()));
    size_t chunk_begin = 0, chunk_stances = 0;
    auto flush = [&](size_t end) {
      insert.Bind(1, static_cast<int64_t>(chunk_stances));
      insert.BindBlobView(2, body.substr(chunk_begin, end - chunk_begin));
      ++written;
      chunk_begin = end;
      chunk_stances = 0;
      return insert.Run();
    };
    while (in.CurrentPosition() < static_cast<int>(body.size())) {
      const size_t record_begin = static_cast<size_t>(in.CurrentPosition());
      uint32_t length = 0;
      if (in.ReadTag() != kStanceRecordTag || !in.ReadVarint32(&length) ||
          length > body.size() - in.CurrentPosition() || !in.Skip(static_cast<int>(length))) {
        return fail("an entry of the outbox is not in the stance record format");
      }
      const size_t record_end = static_cast<size_t>(in.CurrentPosition());
      if (chunk_stances > 0 &&
          (chunk_stances == per_entry || record_end - chunk_begin > options_.max_entry_bytes)) {
        if (!flush(record_begin)) return fail(insert.error());
      }
      ++chunk_stances;
    }
    if (chunk_stances > 0 && !flush(body.size())) return fail(insert.error());
  }
  if (rc != SQLITE_DONE) return fail(select.error());
  select = SqliteStatement();
  insert = SqliteStatement();
  auto remove = db_.Prepare("DELETE FROM outbox WHERE seq >= ?1 AND seq <= ?2");
  remove.Bind(1, first);
  remove.Bind(2, last);
  if (!remove.ok() || !remove.Run()) return fail(db_.last_error());
  remove = SqliteStatement();
  if (!db_.Exec("COMMIT", error)) return fail(*error);
  spdlog::info(
      "outbox: split entries over {} stances or {} bytes: {} entries from seq {} on are now {}",
      per_entry, options_.max_entry_bytes, moved, first, written);
  return true;
}

Outbox::~Outbox() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (committer_.joinable()) committer_.join();
}

void Outbox::Append(const std::vector<v1::Stance>& stances, Done done) {
  StanceRecords records;
  for (const auto& s : stances) records.Add(s);
  Append(std::move(records), std::move(done));
}

void Outbox::Append(StanceRecords records, Done done) {
  const auto n = static_cast<int64_t>(records.size());
  if (n > options_.max_pending_stances) {
    done(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      std::to_string(n) + " stances are more than the outbox ever holds (limit " +
                          std::to_string(options_.max_pending_stances) +
                          "): this call can never succeed, retrying will not help"));
    return;
  }
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
      queue_.push_back(Request{std::move(records), std::move(done)});
      queue_cv_.notify_one();
      return;
    }
  }
  pending_.fetch_sub(n);
  done(grpc::Status(grpc::StatusCode::UNAVAILABLE, "ingest-service is shutting down"));
}

void Outbox::Acknowledge(uint64_t up_to, Done done) {
  {
    std::lock_guard lock(tail_mu_);
    while (!tail_.empty() && tail_.front().seq <= up_to) {
      tail_bytes_ -= tail_.front().records.size();
      tail_.pop_front();
    }
    tail_from_ = std::max(tail_from_, up_to);
  }
  {
    std::lock_guard lock(queue_mu_);
    ack_up_to_ = std::max(ack_up_to_, up_to);
    if (done) ack_waiters_.push_back(std::move(done));
  }
  queue_cv_.notify_one();
}

void Outbox::RunCommitter() {
  std::deque<Request> batch;
  std::vector<Done> ack_done;
  uint64_t acked_through = 0;  // entries up to here are deleted
  auto insert = db_.Prepare("INSERT INTO outbox(stances, body) VALUES (?1, ?2)");
  auto remove = db_.Prepare("DELETE FROM outbox WHERE seq <= ?1 RETURNING stances");
  const size_t per_entry = std::max<size_t>(1, options_.max_stances_per_entry);
  for (;;) {
    uint64_t ack_target = 0;
    {
      std::unique_lock lock(queue_mu_);
      auto has_work = [&] {
        return !queue_.empty() || ack_up_to_ > acked_through || !ack_waiters_.empty();
      };
      queue_cv_.wait(lock, [&] { return stopping_ || has_work(); });
      if (!has_work()) return;  // stopping, and everything is committed
      batch.swap(queue_);
      ack_done.swap(ack_waiters_);
      ack_target = ack_up_to_;
    }
    grpc::Status status = grpc::Status::OK;
    uint64_t last_seq = 0;
    int64_t removed = 0;
    size_t inserted = 0;
    std::vector<TailEntry> committed;
    if (!batch.empty() || ack_target > acked_through) {
      std::string error;
      bool ok = insert.ok() && remove.ok() && db_.Exec("BEGIN IMMEDIATE", &error);
      for (auto& request : batch) {
        const StanceRecords& records = request.records;
        for (size_t from = 0, to = 0; ok && from < records.size(); from = to) {
          to = from + 1;
          while (to < records.size() && to - from < per_entry &&
                 records.Range(from, to + 1).size() <= options_.max_entry_bytes) {
            ++to;
          }
          insert.Bind(1, static_cast<int64_t>(to - from));
          insert.BindBlobView(2, records.Range(from, to));
          ok = insert.Run();
          ++inserted;
          committed.push_back(
              TailEntry{static_cast<uint64_t>(sqlite3_last_insert_rowid(db_.handle())), to - from,
                        std::string(records.Range(from, to))});
        }
      }
      if (ok && inserted > 0) {
        last_seq = static_cast<uint64_t>(sqlite3_last_insert_rowid(db_.handle()));
      }
      if (ok && ack_target > acked_through) {
        remove.Bind(1, static_cast<int64_t>(ack_target));
        int rc;
        while ((rc = remove.Step()) == SQLITE_ROW) removed += remove.ColumnInt(0);
        ok = rc == SQLITE_DONE;
        remove.Reset();
      }
      if (ok) ok = db_.Exec("COMMIT", &error);
      if (!ok) {
        std::string detail = !insert.ok()    ? insert.error()
                             : !remove.ok()  ? remove.error()
                             : error.empty() ? db_.last_error()
                                             : error;
        std::string ignored;
        db_.Exec("ROLLBACK", &ignored);
        status = grpc::Status(grpc::StatusCode::INTERNAL, "outbox write failed: " + detail);
      }
    }
    if (status.ok()) {
      acked_through = std::max(acked_through, ack_target);
      pending_.fetch_sub(removed);
      if (last_seq > 0) {
        AddToTail(std::move(committed));  // before last_committed_seq_ tells the forwarder
        last_committed_seq_ = last_seq;
        {
          std::lock_guard lock(entries_mu_);
          ++wake_generation_;
        }
        entries_cv_.notify_all();
      }
    } else {
      spdlog::error("{}", status.error_message());
      for (auto& request : batch) {
        pending_.fetch_sub(static_cast<int64_t>(request.records.size()));
      }
    }
    for (auto& request : batch) request.done(status);
    for (auto& done : ack_done) done(status);
    batch.clear();
    ack_done.clear();
    // A failed acknowledgement is retried with the next commit; don't spin on a broken disk.
    if (!status.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void Outbox::AddToTail(std::vector<TailEntry> entries) {
  std::lock_guard lock(tail_mu_);
  for (auto& e : entries) {
    tail_bytes_ += e.records.size();
    tail_.push_back(std::move(e));
  }
  while (tail_bytes_ > options_.tail_bytes) {
    tail_from_ = tail_.front().seq;
    tail_bytes_ -= tail_.front().records.size();
    tail_.pop_front();
  }
}

grpc::Status Outbox::Read(uint64_t after, size_t max_stances, size_t max_bytes, OutboxBatch* out) {
  out->last_seq = 0;
  out->stances = 0;
  out->records.clear();
  auto fits = [&](size_t stances, size_t bytes) {
    return out->stances == 0 ||
           (out->stances + stances <= max_stances && out->records.size() + bytes <= max_bytes);
  };
  {
    std::lock_guard lock(tail_mu_);
    if (after >= tail_from_) {
      auto it = std::upper_bound(tail_.begin(), tail_.end(), after,
                                 [](uint64_t seq, const TailEntry& e) { return seq < e.seq; });
      for (; it != tail_.end() && fits(it->stances, it->records.size()); ++it) {
        out->records.append(it->records);
        out->stances += it->stances;
        out->last_seq = it->seq;
      }
      return grpc::Status::OK;
    }
  }
  std::lock_guard lock(read_mu_);
  read_.Bind(1, static_cast<int64_t>(after));
  int rc;
  while ((rc = read_.Step()) == SQLITE_ROW) {
    const auto stances = static_cast<size_t>(read_.ColumnInt(1));
    std::string_view body = read_.ColumnBlob(2);
    if (!fits(stances, body.size())) {
      rc = SQLITE_DONE;
      break;
    }
    out->records.append(body);
    out->stances += stances;
    out->last_seq = static_cast<uint64_t>(read_.ColumnInt(0));
  }
  std::string error = rc == SQLITE_DONE ? "" : read_.error();
  // Resetting ends the read transaction, so that checkpoints are not held back.
  read_.Reset();
  if (!error.empty()) return grpc::Status(grpc::StatusCode::INTERNAL, "outbox: " + error);
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
