#include "query-service/postgres_stance_store.h"

#include <libpq-fe.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <numeric>
#include <sstream>
#include <unordered_map>

namespace stancewire::query {
namespace {

// Each entry moves the schema one version forward; stancewire_schema_migrations records which
// versions are applied. Append only: never edit a migration that has shipped.
//
// Every text column uses the "C" collation so that ORDER BY and keyset comparisons are bytewise,
// as in SQLite, whatever the database's locale. Case-insensitive comparisons use
// lower(x COLLATE "C"), which folds ASCII letters only (SQLite's NOCASE and LIKE).
constexpr const char* kMigrations[] = {
    // 1: the stances, their conditions, the per-kind rows the condition filters use, actor
    // names and kinds, topic labels, and the upsert of one stance as a function (one round trip).
    R"sql(
CREATE TABLE stances (
  id text COLLATE "C" PRIMARY KEY,
  item_id text COLLATE "C" NOT NULL,
  actor_id text COLLATE "C" NOT NULL,
  actor_name text COLLATE "C" NOT NULL,
  actor_mention text COLLATE "C" NOT NULL,
  topic text COLLATE "C" NOT NULL,
  topic_label text COLLATE "C" NOT NULL,
  position integer NOT NULL,
  outlet text COLLATE "C" NOT NULL,
  published bigint NOT NULL,
  condition_kinds text COLLATE "C" NOT NULL,
  body bytea NOT NULL
);
CREATE INDEX stances_by_time ON stances (published, id);
CREATE INDEX stances_by_actor ON stances (actor_id, published, id);
CREATE INDEX stances_by_topic ON stances (topic, published, id);
CREATE INDEX stances_by_outlet ON stances (lower(outlet), published, id);
CREATE INDEX stances_by_claim ON stances (actor_id, topic, position, condition_kinds, published, id);
CREATE TABLE stance_conditions (
  stance_id text COLLATE "C" NOT NULL REFERENCES stances (id) ON DELETE CASCADE,
  ord integer NOT NULL,
  kind text COLLATE "C" NOT NULL,
  text text COLLATE "C" NOT NULL,
  PRIMARY KEY (stance_id, ord)
);
CREATE TABLE stance_kinds (
  stance_id text COLLATE "C" NOT NULL REFERENCES stances (id) ON DELETE CASCADE,
  kind text COLLATE "C" NOT NULL,
  actor_id text COLLATE "C" NOT NULL,
  topic text COLLATE "C" NOT NULL,
  position integer NOT NULL,
  published bigint NOT NULL,
  PRIMARY KEY (stance_id, kind)
);
CREATE INDEX stance_kinds_by_time ON stance_kinds (kind, published, stance_id);
CREATE INDEX stance_kinds_by_actor ON stance_kinds (kind, actor_id, published, stance_id);
CREATE INDEX stance_kinds_by_topic ON stance_kinds (topic);
CREATE TABLE actors (
  id text COLLATE "C" PRIMARY KEY,
  name text COLLATE "C" NOT NULL,
  kind text COLLATE "C" NOT NULL
);
CREATE TABLE topic_labels (
  topic text COLLATE "C" NOT NULL,
  label text COLLATE "C" NOT NULL,
  PRIMARY KEY (topic, label)
);

-- Inserts or replaces one stance; false when the stored body is byte-identical (nothing done).
-- The actors table is written by the caller once per batch (the last changed stance of each
-- actor, in batch order, names it).
CREATE FUNCTION stancewire_upsert_stance(
    p_id text, p_item_id text, p_actor_id text, p_actor_name text, p_actor_mention text,
    p_topic text, p_topic_label text, p_position integer, p_outlet text,
    p_published bigint, p_condition_kinds text, p_body bytea,
    p_condition_kind text[], p_condition_text text[], p_kinds text[])
RETURNS boolean LANGUAGE plpgsql AS $fn$
DECLARE
  affected bigint;
BEGIN
  INSERT INTO stances AS s (id, item_id, actor_id, actor_name, actor_mention, topic, topic_label,
                            position, outlet, published, condition_kinds, body)
  VALUES (p_id, p_item_id, p_actor_id, p_actor_name, p_actor_mention, p_topic, p_topic_label,
          p_position, p_outlet, p_published, p_condition_kinds, p_body)
  ON CONFLICT (id) DO UPDATE SET
    item_id = excluded.item_id, actor_id = excluded.actor_id, actor_name = excluded.actor_name,
    actor_mention = excluded.actor_mention, topic = excluded.topic,
    topic_label = excluded.topic_label, position = excluded.position, outlet = excluded.outlet,
    published = excluded.published, condition_kinds = excluded.condition_kinds,
    body = excluded.body
  WHERE s.body IS DISTINCT FROM excluded.body;
  GET DIAGNOSTICS affected = ROW_COUNT;
  IF affected = 0 THEN
    RETURN false;
  END IF;
  DELETE FROM stance_conditions WHERE stance_id = p_id;
  INSERT INTO stance_conditions (stance_id, ord, kind, text)
    SELECT p_id, c.ord, c.kind, c.txt
    FROM unnest(p_condition_kind, p_condition_text) WITH ORDINALITY AS c (kind, txt, ord);
  DELETE FROM stance_kinds WHERE stance_id = p_id;
  INSERT INTO stance_kinds (stance_id, kind, actor_id, topic, position, published)
    SELECT p_id, k.kind, p_actor_id, p_topic, p_position, p_published
    FROM unnest(p_kinds) AS k (kind);
  INSERT INTO topic_labels (topic, label) VALUES (p_topic, ''), (p_topic, p_topic_label)
    ON CONFLICT DO NOTHING;
  RETURN true;
END
$fn$;
)sql",
};

// pg_advisory_lock key that serialises migrations across replicas ("swmigrat").
constexpr int64_t kMigrationLockKey = 0x73776d6967726174;

constexpr const char* kUpsertStatement = "stancewire_upsert";
constexpr const char* kUpsertSql =
    "SELECT stancewire_upsert_stance($1, $2, $3, $4, $5, $6, $7, $8::integer, $9, "
    "$10::bigint, $11, $12::bytea, $13::text[], $14::text[], $15::text[])";

// Store failures reach the client without PostgreSQL's message (it can quote SQL, name tables,
// hosts and users); that goes to the log only.
grpc::Status Internal(const std::string& what, const std::string& detail) {
  spdlog::error("store: {} failed: {}", what, detail);
  return grpc::Status(grpc::StatusCode::INTERNAL,
                      "store: " + what + " failed (the reason is in query-service's log)");
}

grpc::Status Unavailable(const std::string& detail) {
  spdlog::warn("store: PostgreSQL unavailable: {}", detail);
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      "store: PostgreSQL is unavailable (the reason is in query-service's log)");
}

std::string Trimmed(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A text[] literal: every element quoted, with '"' and '\' escaped.
std::string ArrayLiteral(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

// ASCII case folding of an SQL expression (lower() under the C collation folds A-Z only).
std::string Fold(const std::string& expr) { return "lower((" + expr + ") COLLATE \"C\")"; }

// SQL text with numbered parameters ($1, $2, ...), all sent as text except bytea (binary).
struct Sql {
  std::string text;
  std::vector<std::string> values;
  std::vector<int> formats;
  bool has_nul = false;

  std::string P(const std::string& v) {
    if (v.find('\0') != std::string::npos) has_nul = true;
    return Add(v, 0) + "::text";
  }
  std::string P(int64_t v) { return Add(std::to_string(v), 0) + "::bigint"; }
  std::string PArray(const std::vector<std::string>& v) {
    for (const auto& s : v) {
      if (s.find('\0') != std::string::npos) has_nul = true;
    }
    return Add(ArrayLiteral(v), 0) + "::text[]";
  }
  std::string PBytes(const std::string& v) { return Add(v, 1) + "::bytea"; }

 private:
  std::string Add(std::string v, int format) {
    values.push_back(std::move(v));
    formats.push_back(format);
    return "$" + std::to_string(values.size());
  }
};

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// Binary-format column readers.
std::string_view Bytes(const PGresult* r, int row, int col) {
  return std::string_view(PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col)));
}

int64_t Int(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return 0;
  const auto* p = reinterpret_cast<const unsigned char*>(PQgetvalue(r, row, col));
  const int len = PQgetlength(r, row, col);
  uint64_t v = 0;
  for (int i = 0; i < len; ++i) v = (v << 8) | p[i];
  if (len == 8) return static_cast<int64_t>(v);
  if (len == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
  if (len == 2) return static_cast<int16_t>(static_cast<uint16_t>(v));
  return static_cast<int64_t>(v);
}

bool Bool(const PGresult* r, int row, int col) {
  return PQgetlength(r, row, col) == 1 && PQgetvalue(r, row, col)[0] != 0;
}

bool ParseStance(std::string_view body, v1::Stance* stance) {
  return stance->ParseFromArray(body.data(), static_cast<int>(body.size()));
}

std::string SqlState(const PGresult* r) {
  const char* s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  return s ? s : "";
}

}  // namespace

PGconn* ConnectPostgres(const std::string& uri, std::string* error) {
  // The URI goes to libpq as it is (expand_dbname); the entries before it are defaults the URI
  // can override, and PG* environment variables fill in whatever neither sets.
  std::vector<const char*> keys = {"fallback_application_name"};
  std::vector<const char*> values = {"stancewire-query-service"};
  if (!std::getenv("PGCONNECT_TIMEOUT")) {
    keys.push_back("connect_timeout");
    values.push_back("10");
  }
  keys.push_back("dbname");
  values.push_back(uri.c_str());
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
  if (!conn) {
    *error = "out of memory";
    return nullptr;
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    *error = Trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    return nullptr;
  }
  if (PQsetClientEncoding(conn, "UTF8") != 0) {
    *error = "cannot use client encoding UTF8: " + Trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    return nullptr;
  }
  return conn;
}

struct PostgresStanceStore::Conn {
  PGconn* pg = nullptr;
  bool upsert_prepared = false;
  ~Conn() {
    if (pg) PQfinish(pg);
  }

  // Runs `sql`; binary results. Errors: UNAVAILABLE when the connection broke, else INTERNAL
  // (or `*sqlstate` for the caller to decide on retries).
  grpc::Status Exec(const Sql& sql, const std::string& what, Result* out = nullptr,
                    std::string* sqlstate = nullptr) {
    if (sql.has_nul) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "store: text values must not contain NUL characters");
    }
    std::vector<const char*> values;
    std::vector<int> lengths;
    for (const auto& v : sql.values) {
      values.push_back(v.c_str());
      lengths.push_back(static_cast<int>(v.size()));
    }
    Result r(PQexecParams(pg, sql.text.c_str(), static_cast<int>(values.size()), nullptr,
                          values.data(), lengths.data(), sql.formats.data(), /*binary=*/1));
    return Check(std::move(r), what, out, sqlstate);
  }

  grpc::Status Exec(const std::string& text, const std::string& what, Result* out = nullptr) {
    Sql sql;
    sql.text = text;
    return Exec(sql, what, out);
  }

  grpc::Status Check(Result r, const std::string& what, Result* out, std::string* sqlstate) {
    const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
      if (out) *out = std::move(r);
      return grpc::Status::OK;
    }
    // The primary message alone: the full one quotes the statement (LINE 1: SELECT ...).
    std::string message = r ? Trimmed(PQresultErrorField(r.get(), PG_DIAG_MESSAGE_PRIMARY)) : "";
    if (message.empty()) message = Trimmed(PQerrorMessage(pg));
    if (sqlstate) *sqlstate = SqlState(r.get());
    if (PQstatus(pg) == CONNECTION_BAD) return Unavailable(what + ": " + message);
    return Internal(what, message);
  }
};

namespace {

// Ends a read transaction (or rolls back a failed one) when leaving scope.
class Transaction {
 public:
  explicit Transaction(PostgresStanceStore::Conn* conn) : conn_(conn) {}
  grpc::Status Begin(const char* sql) {
    grpc::Status s = conn_->Exec(sql, "begin");
    active_ = s.ok();
    return s;
  }
  grpc::Status Commit() {
    active_ = false;
    return conn_->Exec("COMMIT", "commit");
  }
  ~Transaction() {
    if (active_) conn_->Exec("ROLLBACK", "rollback");
  }

 private:
  PostgresStanceStore::Conn* conn_;
  bool active_ = false;
};

constexpr const char* kReadSnapshot = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

// The WHERE clause (over "stances s") for a filter; see StanceFilter for the semantics.
void BuildWhere(const StanceFilter& filter, Sql* sql, std::string* where) {
  std::string& w = *where;
  w = "TRUE";
  if (!filter.actor_ids.empty()) {
    w += filter.actor_ids.size() == 1
             ? " AND s.actor_id = " + sql->P(filter.actor_ids[0])
             : " AND s.actor_id = ANY(" + sql->PArray(filter.actor_ids) + ")";
  } else if (!filter.actor_text.empty()) {
    const std::string p = Fold(sql->P(filter.actor_text));
    w += " AND (" + Fold("s.actor_id") + " = " + p + " OR " + Fold("s.actor_name") + " = " + p +
         " OR " + Fold("s.actor_mention") + " = " + p + ")";
  }
  if (filter.position != v1::POSITION_UNSPECIFIED) {
    w += " AND s.position = " + sql->P(static_cast<int64_t>(filter.position));
  }
  if (!filter.topic.empty()) {
    w += " AND (" + Fold("s.topic") + " = " + Fold(sql->P(filter.topic));
    const auto words = SplitWords(filter.topic);
    if (!words.empty()) {
      w += " OR (TRUE";
      for (const auto& word : words) {
        w += " AND strpos(" + Fold("s.topic || ' ' || s.topic_label") + ", " + Fold(sql->P(word)) +
             ") > 0";
      }
      w += ")";
    }
    w += ")";
  }
  if (!filter.outlet.empty()) {
    w += " AND lower(s.outlet) = " + Fold(sql->P(filter.outlet));
  }
  if (!filter.condition.empty()) {
    const ConditionQuery condition = ParseConditionQuery(filter.condition);
    w += " AND (EXISTS (SELECT 1 FROM stance_kinds k WHERE k.stance_id = s.id AND k.kind = " +
         sql->P(condition.kind) + ")";
    if (!condition.by_kind && !condition.words.empty()) {
      w += " OR EXISTS (SELECT 1 FROM stance_conditions c WHERE c.stance_id = s.id";
      for (const auto& word : condition.words) {
        w += " AND strpos(" + Fold("c.text") + ", " + Fold(sql->P(word)) + ") > 0";
      }
      w += ")";
    }
    w += ")";
  }
  if (filter.published_after_nanos) {
    w += " AND s.published >= " + sql->P(*filter.published_after_nanos);
  }
  if (filter.published_before_nanos) {
    w += " AND s.published < " + sql->P(*filter.published_before_nanos);
  }
}

// Topic keys a topic filter selects: the key itself (ASCII case-insensitively) or words found in
// the key or in any label the topic was reported under.
grpc::Status TopicKeys(PostgresStanceStore::Conn* conn, const std::string& topic,
                       std::vector<std::string>* keys) {
  Sql sql;
  sql.text =
      "SELECT DISTINCT topic FROM topic_labels WHERE " + Fold("topic") + " = " + Fold(sql.P(topic));
  const auto words = SplitWords(topic);
  if (!words.empty()) {
    sql.text += " OR (TRUE";
    for (const auto& w : words) {
      sql.text += " AND strpos(" + Fold("topic || ' ' || label") + ", " + Fold(sql.P(w)) + ") > 0";
    }
    sql.text += ")";
  }
  sql.text += " ORDER BY topic";
  Result r;
  grpc::Status status = conn->Exec(sql, "topics", &r);
  if (!status.ok()) return status;
  keys->clear();
  for (int i = 0; i < PQntuples(r.get()); ++i) keys->emplace_back(Bytes(r.get(), i, 0));
  return grpc::Status::OK;
}

}  // namespace

int64_t PostgresStanceStore::LatestSchemaVersion() {
  return static_cast<int64_t>(std::size(kMigrations));
}

PostgresStanceStore::PostgresStanceStore(std::string uri) : uri_(std::move(uri)) {}

PostgresStanceStore::~PostgresStanceStore() { StopChangeListener(); }

std::unique_ptr<PostgresStanceStore> PostgresStanceStore::Open(const std::string& uri,
                                                               std::string* error) {
  std::unique_ptr<PostgresStanceStore> store(new PostgresStanceStore(uri));
  if (!store->Migrate(error)) return nullptr;
  return store;
}

bool PostgresStanceStore::Migrate(std::string* error) {
  std::string connect_error;
  PGconn* pg = ConnectPostgres(uri_, &connect_error);
  if (!pg) {
    *error = "cannot connect to PostgreSQL: " + connect_error;
    return false;
  }
  Conn conn;
  conn.pg = pg;
  auto fail = [&](const std::string& what, const grpc::Status& s) {
    *error = what + ": " + s.error_message();
    return false;
  };
  // A session lock: replicas starting together queue here, and the lock goes away with the
  // session if this process dies half-way.
  Sql lock;
  lock.text = "SELECT pg_advisory_lock(" + lock.P(kMigrationLockKey) + ")";
  grpc::Status s = conn.Exec(lock, "migration lock");
  if (!s.ok()) return fail("cannot take the migration lock", s);
  struct Unlock {
    Conn* conn;
    ~Unlock() {
      if (PQstatus(conn->pg) != CONNECTION_OK) return;
      if (PQtransactionStatus(conn->pg) != PQTRANS_IDLE) conn->Exec("ROLLBACK", "rollback");
      Sql unlock;
      unlock.text = "SELECT pg_advisory_unlock(" + unlock.P(kMigrationLockKey) + ")";
      conn->Exec(unlock, "migration unlock", nullptr);
    }
  } unlock{&conn};

  s = conn.Exec(
      "CREATE TABLE IF NOT EXISTS stancewire_schema_migrations ("
      "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
      "migrations table");
  if (!s.ok()) return fail("cannot create the migrations table", s);
  Result r;
  s = conn.Exec("SELECT COALESCE(max(version), 0)::bigint FROM stancewire_schema_migrations",
                "schema version", &r);
  if (!s.ok()) return fail("cannot read the schema version", s);
  int64_t version = Int(r.get(), 0, 0);
  const int64_t target = LatestSchemaVersion();
  if (version > target) {
    *error = "schema version " + std::to_string(version) + " is newer than this build knows (" +
             std::to_string(target) + ")";
    return false;
  }
  for (; version < target; ++version) {
    // Each migration and its record commit together.
    s = conn.Exec("BEGIN", "begin");
    if (s.ok()) {
      // Several statements: the simple query protocol (no parameters).
      Result m(PQexec(conn.pg, kMigrations[version]));
      s = conn.Check(std::move(m), "migration " + std::to_string(version + 1), nullptr, nullptr);
    }
    if (s.ok()) {
      Sql record;
      record.text = "INSERT INTO stancewire_schema_migrations (version) VALUES (" +
                    record.P(version + 1) + "::integer)";
      s = conn.Exec(record, "record migration");
    }
    if (s.ok()) s = conn.Exec("COMMIT", "commit");
    if (!s.ok()) return fail("migration " + std::to_string(version + 1) + " failed", s);
  }
  schema_version_ = version;
  return true;
}

std::unique_ptr<PostgresStanceStore::Conn> PostgresStanceStore::Acquire(grpc::Status* status) {
  std::unique_ptr<Conn> conn;
  {
    std::unique_lock lock(pool_mu_);
    pool_cv_.wait(lock, [&] { return !idle_.empty() || open_ < kMaxConnections; });
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    } else {
      ++open_;  // reserve a slot; released below if connecting fails
    }
  }
  if (conn && PQstatus(conn->pg) != CONNECTION_OK) {
    // Broken while idle (server restart, network): reset it in place.
    const int old_pid = PQbackendPID(conn->pg);
    PQreset(conn->pg);
    std::lock_guard lock(pool_mu_);
    backend_pids_.erase(old_pid);
    if (PQstatus(conn->pg) == CONNECTION_OK) {
      backend_pids_.insert(PQbackendPID(conn->pg));
      conn->upsert_prepared = false;
      PQsetClientEncoding(conn->pg, "UTF8");
    } else {
      *status = Unavailable(Trimmed(PQerrorMessage(conn->pg)));
      conn.reset();
      --open_;
      pool_cv_.notify_one();
      return nullptr;
    }
  }
  if (!conn) {
    std::string error;
    PGconn* pg = ConnectPostgres(uri_, &error);
    std::lock_guard lock(pool_mu_);
    if (!pg) {
      --open_;
      pool_cv_.notify_one();
      *status = Unavailable(error);
      return nullptr;
    }
    conn = std::make_unique<Conn>();
    conn->pg = pg;
    backend_pids_.insert(PQbackendPID(pg));
  }
  return conn;
}

void PostgresStanceStore::Release(std::unique_ptr<Conn> conn) {
  if (PQstatus(conn->pg) == CONNECTION_OK && PQtransactionStatus(conn->pg) != PQTRANS_IDLE) {
    conn->Exec("ROLLBACK", "rollback");
  }
  std::lock_guard lock(pool_mu_);
  if (PQstatus(conn->pg) != CONNECTION_OK || PQtransactionStatus(conn->pg) != PQTRANS_IDLE) {
    backend_pids_.erase(PQbackendPID(conn->pg));
    conn.reset();
    --open_;
  } else {
    idle_.push_back(std::move(conn));
  }
  pool_cv_.notify_one();
}

grpc::Status PostgresStanceStore::WithConn(const std::function<grpc::Status(Conn*)>& fn) {
  grpc::Status status;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto conn = Acquire(&status);
    if (!conn) return status;
    status = fn(conn.get());
    const bool broken = PQstatus(conn->pg) != CONNECTION_OK;
    Release(std::move(conn));
    if (status.ok() || !broken) return status;
  }
  return status;
}

grpc::Status PostgresStanceStore::Upsert(const std::vector<v1::Stance>& stances,
                                         UpsertResult* result,
                                         const std::vector<std::string_view>* /*wire*/) {
  if (result) result->changed.clear();
  if (stances.empty()) return grpc::Status::OK;
  // Rows are locked in id order so that replicas writing overlapping batches cannot deadlock;
  // a stable sort keeps repeated ids in batch order (the later one wins, as in SQLite).
  std::vector<size_t> order(stances.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return stances[a].id() < stances[b].id(); });

  std::vector<size_t> changed;
  auto attempt = [&](Conn* conn, std::string* sqlstate) -> grpc::Status {
    changed.clear();
    if (!conn->upsert_prepared) {
      Result p(PQprepare(conn->pg, kUpsertStatement, kUpsertSql, 0, nullptr));
      grpc::Status s = conn->Check(std::move(p), "prepare upsert", nullptr, nullptr);
      if (!s.ok()) return s;
      conn->upsert_prepared = true;
    }
    Transaction txn(conn);
    grpc::Status s = txn.Begin("BEGIN");
    if (!s.ok()) return s;
    std::string body;
    for (size_t i : order) {
      const auto& st = stances[i];
      st.SerializeToString(&body);
      std::vector<std::string> condition_kinds, condition_texts;
      for (const auto& c : st.conditions()) {
        condition_kinds.push_back(c.kind());
        condition_texts.push_back(c.text());
      }
      const auto kinds = ConditionKinds(st);
      Sql sql;  // only for the values; the statement is prepared
      sql.P(st.id());
      sql.P(st.item_id());
      sql.P(st.actor().id());
      sql.P(st.actor().name());
      sql.P(st.actor().mention());
      sql.P(st.topic());
      sql.P(st.topic_label());
      sql.P(static_cast<int64_t>(st.position()));
      sql.P(st.outlet());
      sql.P(TimestampNanos(st.published()));
      sql.P(JoinKinds(kinds));
      sql.PBytes(body);
      sql.PArray(condition_kinds);
      sql.PArray(condition_texts);
      sql.PArray(kinds);
      if (sql.has_nul) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "store: stance " + st.id() + " has text with NUL characters");
      }
      std::vector<const char*> values;
      std::vector<int> lengths;
      for (const auto& v : sql.values) {
        values.push_back(v.c_str());
        lengths.push_back(static_cast<int>(v.size()));
      }
      Result r(PQexecPrepared(conn->pg, kUpsertStatement, static_cast<int>(values.size()),
                              values.data(), lengths.data(), sql.formats.data(), /*binary=*/1));
      Result ok;
      s = conn->Check(std::move(r), "upsert " + st.id(), &ok, sqlstate);
      if (!s.ok()) return s;
      if (PQntuples(ok.get()) == 1 && Bool(ok.get(), 0, 0)) changed.push_back(i);
    }
    if (!changed.empty()) {
      // Actor names and kinds: the last changed stance of each actor in batch order wins (as when
      // the batch is applied one by one); rows are written in id order.
      std::map<std::string, std::pair<std::string, std::string>> named;
      std::vector<size_t> in_batch_order = changed;
      std::sort(in_batch_order.begin(), in_batch_order.end());
      for (size_t i : in_batch_order) {
        named[stances[i].actor().id()] = {stances[i].actor().name(), stances[i].actor().kind()};
      }
      std::vector<std::string> actor_ids, actor_names, actor_kinds;
      for (const auto& [id, name_kind] : named) {
        actor_ids.push_back(id);
        actor_names.push_back(name_kind.first);
        actor_kinds.push_back(name_kind.second);
      }
      Sql actors;
      actors.text = "INSERT INTO actors AS a (id, name, kind) SELECT * FROM unnest(" +
                    actors.PArray(actor_ids) + ", " + actors.PArray(actor_names) + ", " +
                    actors.PArray(actor_kinds) +
                    ") ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind "
                    "WHERE a.name IS DISTINCT FROM excluded.name "
                    "OR a.kind IS DISTINCT FROM excluded.kind";
      s = conn->Exec(actors, "actors", nullptr, sqlstate);
      if (!s.ok()) return s;

      // Delivered to listeners on commit, and only then.
      Sql notify;
      std::vector<std::string> ids;
      size_t payload = 0;
      for (size_t i : changed) payload = std::max(payload, stances[i].id().size());
      if (changed.size() <= kMaxNotifiedIds && payload < 7000) {
        for (size_t i : changed) ids.push_back(stances[i].id());
        notify.text = "SELECT pg_notify(" + notify.P(std::string(kNotifyChannel)) +
                      ", x) FROM unnest(" + notify.PArray(ids) + ") AS x";
      } else {
        notify.text = "SELECT pg_notify(" + notify.P(std::string(kNotifyChannel)) + ", " +
                      notify.P(std::string(kChangedMarker)) + ")";
      }
      s = conn->Exec(notify, "notify", nullptr, sqlstate);
      if (!s.ok()) return s;
    }
    return txn.Commit();
  };

  grpc::Status status;
  for (int tries = 0; tries < 5; ++tries) {
    std::string sqlstate;
    status = WithConn([&](Conn* conn) { return attempt(conn, &sqlstate); });
    // Serialization failures and deadlocks (concurrent replicas) are worth another go.
    if (status.ok() || (sqlstate != "40001" && sqlstate != "40P01")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10 << tries));
  }
  if (!status.ok()) return status;
  std::sort(changed.begin(), changed.end());
  if (result) result->changed = std::move(changed);
  return grpc::Status::OK;
}

grpc::Status PostgresStanceStore::List(const StanceFilter& filter, const ListOptions& options,
                                       StancePage* page) {
  return WithConn([&](Conn* conn) -> grpc::Status {
    page->stances.clear();
    page->serialized.clear();
    page->next.reset();
    page->total.reset();
    Sql sql;
    std::string where;
    BuildWhere(filter, &sql, &where);
    // The count and the page come from one snapshot.
    Transaction txn(conn);
    if (options.count_total) {
      grpc::Status s = txn.Begin(kReadSnapshot);
      if (!s.ok()) return s;
      Sql count = sql;
      count.text = "SELECT count(*) FROM stances s WHERE " + where;
      Result r;
      s = conn->Exec(count, "count", &r);
      if (!s.ok()) return s;
      page->total = Int(r.get(), 0, 0);
    }
    const char* dir = options.oldest_first ? "ASC" : "DESC";
    const char* cmp = options.oldest_first ? ">" : "<";
    if (options.after) {
      where += std::string(" AND (s.published, s.id) ") + cmp + " (" +
               sql.P(options.after->published_nanos) + ", " + sql.P(options.after->id) + ")";
    }
    const int limit = std::max(0, options.limit);
    sql.text = "SELECT s.body, s.id, s.published FROM stances s WHERE " + where +
               " ORDER BY s.published " + dir + ", s.id " + dir + " LIMIT " +
               sql.P(static_cast<int64_t>(limit) + 1);
    Result r;
    grpc::Status s = conn->Exec(sql, "query", &r);
    if (!s.ok()) return s;
    const int rows = PQntuples(r.get());
    for (int i = 0; i < rows && i < limit; ++i) {
      if (options.serialized) {
        page->serialized.emplace_back(Bytes(r.get(), i, 0));
        continue;
      }
      v1::Stance stance;
      if (!ParseStance(Bytes(r.get(), i, 0), &stance)) {
        return Internal("decode", "stance " + std::string(Bytes(r.get(), i, 1)) + " is corrupt");
      }
      page->stances.push_back(std::move(stance));
    }
    if (rows > limit && limit > 0) {
      page->next =
          StanceCursor{Int(r.get(), limit - 1, 2), std::string(Bytes(r.get(), limit - 1, 1))};
    }
    if (options.count_total) return txn.Commit();
    return grpc::Status::OK;
  });
}

grpc::Status PostgresStanceStore::Count(int64_t* count) {
  return WithConn([&](Conn* conn) -> grpc::Status {
    Result r;
    grpc::Status s = conn->Exec("SELECT count(*) FROM stances", "count", &r);
    if (s.ok()) *count = Int(r.get(), 0, 0);
    return s;
  });
}

grpc::Status PostgresStanceStore::GetStances(const std::vector<std::string>& ids,
                                             std::vector<v1::Stance>* stances) {
  return WithConn([&](Conn* conn) -> grpc::Status {
    stances->clear();
    if (ids.empty()) return grpc::Status::OK;
    Sql sql;
    sql.text = "SELECT id, body FROM stances WHERE id = ANY(" + sql.PArray(ids) + ")";
    Result r;
    grpc::Status s = conn->Exec(sql, "get stances", &r);
    if (!s.ok()) return s;
    std::unordered_map<std::string, v1::Stance> found;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      std::string id(Bytes(r.get(), i, 0));
      if (!ParseStance(Bytes(r.get(), i, 1), &found[id])) {
        return Internal("decode", "stance " + id + " is corrupt");
      }
    }
    for (const auto& id : ids) {
      auto it = found.find(id);
      if (it != found.end()) stances->push_back(it->second);
    }
    return grpc::Status::OK;
  });
}

namespace {

grpc::Status LoadActors(PostgresStanceStore::Conn* conn, const std::vector<std::string>& ids,
                        std::map<std::string, ActorRef>* actors) {
  Sql sql;
  sql.text = "SELECT id, name, kind FROM actors WHERE id = ANY(" + sql.PArray(ids) + ")";
  Result r;
  grpc::Status s = conn->Exec(sql, "actors", &r);
  if (!s.ok()) return s;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    ActorRef a{std::string(Bytes(r.get(), i, 0)), std::string(Bytes(r.get(), i, 1)),
               std::string(Bytes(r.get(), i, 2))};
    (*actors)[a.id] = a;
  }
  return grpc::Status::OK;
}

ActorRef Named(const std::map<std::string, ActorRef>& names, const std::string& id) {
  auto it = names.find(id);
  return it != names.end() ? it->second : ActorRef{id, id, ""};
}

}  // namespace

grpc::Status PostgresStanceStore::ListActors(const std::string& topic,
                                             std::vector<ActorStats>* actors) {
  return WithConn([&](Conn* conn) -> grpc::Status {
    actors->clear();
    Transaction txn(conn);
    grpc::Status s = txn.Begin(kReadSnapshot);
    if (!s.ok()) return s;
    std::vector<std::string> keys;
    if (!topic.empty()) {
      s = TopicKeys(conn, topic, &keys);
      if (!s.ok() || keys.empty()) return s;
    }
    Sql sql;
    std::string where = keys.empty() ? "TRUE" : "topic = ANY(" + sql.PArray(keys) + ")";
    sql.text = "SELECT actor_id, position, count(*) FROM stances WHERE " + where +
               " GROUP BY actor_id, position ORDER BY actor_id, position";
    Result r;
    s = conn->Exec(sql, "actor counts", &r);
    if (!s.ok()) return s;
    std::vector<std::string> ids;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      std::string id(Bytes(r.get(), i, 0));
      if (actors->empty() || actors->back().actor.id != id) {
        actors->emplace_back();
        actors->back().actor.id = id;
        ids.push_back(id);
      }
      auto& a = actors->back();
      const int64_t n = Int(r.get(), i, 2);
      a.position_counts.emplace_back(static_cast<v1::Position>(Int(r.get(), i, 1)), n);
      a.stance_count += n;
    }
    if (actors->empty()) return txn.Commit();
    std::map<std::string, ActorRef> names;
    s = LoadActors(conn, ids, &names);
    if (!s.ok()) return s;
    sql.text = "SELECT DISTINCT ON (actor_id) actor_id, body FROM stances WHERE " + where +
               " ORDER BY actor_id, published DESC, id DESC";
    s = conn->Exec(sql, "latest", &r);
    if (!s.ok()) return s;
    std::unordered_map<std::string, int> row_of;
    for (int i = 0; i < PQntuples(r.get()); ++i) row_of[std::string(Bytes(r.get(), i, 0))] = i;
    for (auto& a : *actors) {
      a.actor = Named(names, a.actor.id);
      auto it = row_of.find(a.actor.id);
      if (it != row_of.end() && !ParseStance(Bytes(r.get(), it->second, 1), &a.latest)) {
        return Internal("decode", "latest stance of " + a.actor.id + " is corrupt");
      }
    }
    std::stable_sort(actors->begin(), actors->end(), [](const ActorStats& x, const ActorStats& y) {
      return x.stance_count > y.stance_count;
    });
    return txn.Commit();
  });
}

grpc::Status PostgresStanceStore::ListConditions(const std::string& topic,
                                                 std::vector<ConditionStats>* conditions) {
  return WithConn([&](Conn* conn) -> grpc::Status {
    conditions->clear();
    Transaction txn(conn);
    grpc::Status s = txn.Begin(kReadSnapshot);
    if (!s.ok()) return s;
    std::vector<std::string> keys;
    if (!topic.empty()) {
      s = TopicKeys(conn, topic, &keys);
      if (!s.ok() || keys.empty()) return s;
    }
    Sql sql;
    sql.text = "SELECT kind, actor_id, count(*) FROM stance_kinds";
    if (!keys.empty()) sql.text += " WHERE topic = ANY(" + sql.PArray(keys) + ")";
    sql.text += " GROUP BY kind, actor_id ORDER BY kind, actor_id";
    Result r;
    s = conn->Exec(sql, "condition counts", &r);
    if (!s.ok()) return s;
    std::vector<std::string> ids;
    for (int i = 0; i < PQntuples(r.get()); ++i) ids.emplace_back(Bytes(r.get(), i, 1));
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    std::map<std::string, ActorRef> names;
    if (!ids.empty()) {
      s = LoadActors(conn, ids, &names);
      if (!s.ok()) return s;
    }
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      std::string kind(Bytes(r.get(), i, 0));
      if (conditions->empty() || conditions->back().kind != kind) {
        conditions->emplace_back();
        conditions->back().kind = kind;
      }
      auto& c = conditions->back();
      const int64_t n = Int(r.get(), i, 2);
      c.actors.emplace_back(Named(names, std::string(Bytes(r.get(), i, 1))), n);
      c.stance_count += n;
    }
    for (auto& c : *conditions) {
      std::stable_sort(c.actors.begin(), c.actors.end(),
                       [](const auto& x, const auto& y) { return x.second > y.second; });
    }
    std::stable_sort(conditions->begin(), conditions->end(),
                     [](const ConditionStats& x, const ConditionStats& y) {
                       return x.stance_count > y.stance_count;
                     });
    return txn.Commit();
  });
}

grpc::Status PostgresStanceStore::ListClaims(const StanceFilter& filter,
                                             const ClaimOptions& options, ClaimPage* page) {
  return WithConn([&](Conn* conn) -> grpc::Status {
    page->claims.clear();
    page->more = false;
    page->total.reset();
    Transaction txn(conn);
    grpc::Status s = txn.Begin(kReadSnapshot);
    if (!s.ok()) return s;
    Sql sql;
    std::string where;
    BuildWhere(filter, &sql, &where);
    const Sql filter_params = sql;
    const std::string group =
        "SELECT s.actor_id, s.topic, s.position, s.condition_kinds, count(*) AS n, "
        "count(DISTINCT NULLIF(s.outlet, '')) AS o, min(s.published), max(s.published) AS last "
        "FROM stances s WHERE " +
        where + " GROUP BY s.actor_id, s.topic, s.position, s.condition_kinds HAVING count(*) >= " +
        sql.P(std::max<int64_t>(1, options.min_count));
    if (options.count_total) {
      Sql count = sql;
      count.text = "SELECT count(*) FROM (" + group + ") g";
      Result r;
      s = conn->Exec(count, "count claims", &r);
      if (!s.ok()) return s;
      page->total = Int(r.get(), 0, 0);
    }
    const int limit = std::max(0, options.limit);
    sql.text = group +
               " ORDER BY n DESC, o DESC, last DESC, s.actor_id, s.topic, s.position, "
               "s.condition_kinds LIMIT " +
               sql.P(static_cast<int64_t>(limit) + 1) + " OFFSET " +
               sql.P(std::max<int64_t>(0, options.offset));
    Result r;
    s = conn->Exec(sql, "claims", &r);
    if (!s.ok()) return s;
    const int rows = PQntuples(r.get());
    page->more = rows > limit;
    for (int i = 0; i < rows && i < limit; ++i) {
      ClaimRecord c;
      c.actor.id = std::string(Bytes(r.get(), i, 0));
      c.topic = std::string(Bytes(r.get(), i, 1));
      c.position = static_cast<v1::Position>(Int(r.get(), i, 2));
      c.condition_kinds = SplitKinds(Bytes(r.get(), i, 3));
      c.count = Int(r.get(), i, 4);
      c.first_seen_nanos = Int(r.get(), i, 6);
      c.last_seen_nanos = Int(r.get(), i, 7);
      page->claims.push_back(std::move(c));
    }
    // Per claim: its newest reports (latest stance, item ids) and its outlets, under the same
    // filters.
    for (auto& c : page->claims) {
      Sql detail = filter_params;
      const std::string key = " AND s.actor_id = " + detail.P(c.actor.id) +
                              " AND s.topic = " + detail.P(c.topic) +
                              " AND s.position = " + detail.P(static_cast<int64_t>(c.position)) +
                              " AND s.condition_kinds = " + detail.P(JoinKinds(c.condition_kinds));
      Sql outlets = detail;
      detail.text = "SELECT s.body, s.item_id FROM stances s WHERE " + where + key +
                    " ORDER BY s.published DESC, s.id DESC LIMIT " +
                    detail.P(static_cast<int64_t>(kMaxClaimItemIds));
      Result d;
      s = conn->Exec(detail, "claim items", &d);
      if (!s.ok()) return s;
      for (int i = 0; i < PQntuples(d.get()); ++i) {
        if (i == 0 && !ParseStance(Bytes(d.get(), 0, 0), &c.latest)) {
          return Internal("decode",
                          "a stance of claim " + c.actor.id + "/" + c.topic + " is corrupt");
        }
        c.item_ids.emplace_back(Bytes(d.get(), i, 1));
      }
      c.actor.name = c.latest.actor().name();
      c.actor.kind = c.latest.actor().kind();
      outlets.text = "SELECT DISTINCT s.outlet FROM stances s WHERE " + where + key +
                     " AND s.outlet <> '' ORDER BY s.outlet";
      Result o;
      s = conn->Exec(outlets, "claim outlets", &o);
      if (!s.ok()) return s;
      for (int i = 0; i < PQntuples(o.get()); ++i) c.outlets.emplace_back(Bytes(o.get(), i, 0));
    }
    return txn.Commit();
  });
}

bool PostgresStanceStore::StartChangeListener(ChangeCallback callback, std::string* error) {
  std::lock_guard lock(listener_mu_);
  if (listener_.joinable()) {
    *error = "a change listener already runs";
    return false;
  }
  std::string connect_error;
  PGconn* pg = ConnectPostgres(uri_, &connect_error);
  if (!pg) {
    *error = "cannot connect to PostgreSQL: " + connect_error;
    return false;
  }
  Result r(PQexec(pg, (std::string("LISTEN ") + kNotifyChannel).c_str()));
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    *error = "LISTEN failed: " + Trimmed(PQerrorMessage(pg));
    PQfinish(pg);
    return false;
  }
  stop_listener_ = false;
  listener_ = std::thread([this, callback = std::move(callback), pg] { ListenLoop(callback, pg); });
  return true;
}

void PostgresStanceStore::StopChangeListener() {
  std::lock_guard lock(listener_mu_);
  if (!listener_.joinable()) return;
  stop_listener_ = true;
  listener_.join();
}

void PostgresStanceStore::ListenLoop(ChangeCallback callback, PGconn* conn) {
  auto backoff = std::chrono::milliseconds(100);
  while (!stop_listener_) {
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
      if (conn) PQfinish(conn);
      conn = nullptr;
      // Wait (interruptibly), then reconnect and listen again.
      const auto until = std::chrono::steady_clock::now() + backoff;
      while (!stop_listener_ && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (stop_listener_) break;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      std::string error;
      conn = ConnectPostgres(uri_, &error);
      if (!conn) continue;
      Result r(PQexec(conn, (std::string("LISTEN ") + kNotifyChannel).c_str()));
      if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) continue;
      backoff = std::chrono::milliseconds(100);
      // Notifications sent while we were away are lost: tell the caller to re-read.
      callback(Change{"", true, false});
    }
    pollfd pfd{PQsocket(conn), POLLIN, 0};
    if (pfd.fd < 0) {
      PQfinish(conn);
      conn = nullptr;
      continue;
    }
    const int ready = ::poll(&pfd, 1, 200);
    if (ready < 0) continue;
    if (ready > 0 && !PQconsumeInput(conn)) {
      PQfinish(conn);  // the connection broke; reconnect above
      conn = nullptr;
      continue;
    }
    while (PGnotify* n = PQnotifies(conn)) {
      Change change;
      const std::string payload = n->extra ? n->extra : "";
      if (payload == kChangedMarker) {
        change.all = true;
      } else {
        change.id = payload;
      }
      {
        std::lock_guard lock(pool_mu_);
        change.local = backend_pids_.count(n->be_pid) > 0;
      }
      PQfreemem(n);
      callback(change);
    }
  }
  if (conn) PQfinish(conn);
}

}  // namespace stancewire::query
