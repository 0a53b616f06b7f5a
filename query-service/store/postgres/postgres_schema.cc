// The PostgreSQL schema: its migrations (append only) and the upgrade that runs them at Open
// under an advisory lock, so that replicas starting together migrate once.
#include <iterator>

#include "query-service/store/postgres/postgres_internal.h"

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
    // 2: the speaker and confidence filters. Both live in the stance bodies: BackfillSpeakers
    // fills them in for stances stored before. The speaker index holds only stances that name
    // one (queries repeat its WHERE term). The upsert function gains both values.
    R"sql(
ALTER TABLE stances ADD COLUMN speaker text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE stances ADD COLUMN confidence real NOT NULL DEFAULT 0;
CREATE INDEX stances_by_speaker ON stances (lower(speaker), published, id) WHERE speaker <> '';
DROP FUNCTION stancewire_upsert_stance(text, text, text, text, text, text, text, integer, text,
                                       bigint, text, bytea, text[], text[], text[]);
CREATE FUNCTION stancewire_upsert_stance(
    p_id text, p_item_id text, p_actor_id text, p_actor_name text, p_actor_mention text,
    p_topic text, p_topic_label text, p_position integer, p_outlet text,
    p_published bigint, p_condition_kinds text, p_body bytea,
    p_condition_kind text[], p_condition_text text[], p_kinds text[],
    p_speaker text, p_confidence real)
RETURNS boolean LANGUAGE plpgsql AS $fn$
DECLARE
  affected bigint;
BEGIN
  INSERT INTO stances AS s (id, item_id, actor_id, actor_name, actor_mention, topic, topic_label,
                            position, outlet, published, condition_kinds, body, speaker,
                            confidence)
  VALUES (p_id, p_item_id, p_actor_id, p_actor_name, p_actor_mention, p_topic, p_topic_label,
          p_position, p_outlet, p_published, p_condition_kinds, p_body, p_speaker, p_confidence)
  ON CONFLICT (id) DO UPDATE SET
    item_id = excluded.item_id, actor_id = excluded.actor_id, actor_name = excluded.actor_name,
    actor_mention = excluded.actor_mention, topic = excluded.topic,
    topic_label = excluded.topic_label, position = excluded.position, outlet = excluded.outlet,
    published = excluded.published, condition_kinds = excluded.condition_kinds,
    body = excluded.body, speaker = excluded.speaker, confidence = excluded.confidence
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
// The migration after which BackfillSpeakers runs (1-based: the version it produces).
constexpr int64_t kSpeakerBackfillAfterVersion = 2;

// pg_advisory_lock key that serialises migrations across replicas ("swmigrat").
constexpr int64_t kMigrationLockKey = 0x73776d6967726174;

}  // namespace

using postgres_store::Int;
using postgres_store::Result;
using postgres_store::Sql;

// Fills the speaker and confidence columns from the stored bodies, which only this code can read;
// inside the migration's transaction.
grpc::Status PostgresStanceStore::BackfillSpeakers(Conn* conn) {
  // In pages by id, so that a large store is not read into memory at once.
  std::string last;
  for (;;) {
    Sql page;
    page.text =
        "SELECT id, body FROM stances WHERE id > " + page.P(last) + " ORDER BY id LIMIT 1000";
    Result rows;
    grpc::Status s = conn->Exec(page, "read stances", &rows);
    if (!s.ok()) return s;
    const int n = PQntuples(rows.get());
    if (n == 0) return grpc::Status::OK;
    for (int i = 0; i < n; ++i) {
      last = std::string(postgres_store::Bytes(rows.get(), i, 0));
      const std::string_view body = postgres_store::Bytes(rows.get(), i, 1);
      v1::Stance stance;
      if (!stance.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
        return grpc::Status(grpc::StatusCode::DATA_LOSS, "stance " + last + " is corrupt");
      }
      if (stance.speaker().empty() && stance.confidence() == 0.0f) continue;
      Sql update;
      update.text = "UPDATE stances SET speaker = " + update.P(stance.speaker()) +
                    ", confidence = " + update.PReal(stance.confidence()) +
                    " WHERE id = " + update.P(last);
      s = conn->Exec(update, "backfill speakers");
      if (!s.ok()) return s;
    }
  }
}

int64_t PostgresStanceStore::LatestSchemaVersion() {
  return static_cast<int64_t>(std::size(kMigrations));
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
    if (s.ok() && version + 1 == kSpeakerBackfillAfterVersion) s = BackfillSpeakers(&conn);
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

}  // namespace stancewire::query
