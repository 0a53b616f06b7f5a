// The SQLite schema: its migrations (append only) and the upgrade that runs them at Open,
// including the backfill of columns older versions kept only in the stance bodies.
#include <initializer_list>
#include <iterator>

#include "query-service/store/sqlite/sqlite_internal.h"

namespace stancewire::query {
namespace {

// Each entry moves the schema one version forward; PRAGMA user_version records how far we are.
// Append only: never edit a migration that has shipped.
constexpr const char* kMigrations[] = {
    // 1: the walking skeleton.
    R"sql(
CREATE TABLE stances (
  id TEXT PRIMARY KEY,
  item_id TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  actor_name TEXT NOT NULL,
  actor_mention TEXT NOT NULL,
  topic TEXT NOT NULL,
  position INTEGER NOT NULL,
  outlet TEXT NOT NULL,
  published INTEGER NOT NULL,
  body BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX stances_by_time ON stances(published DESC, id DESC);
CREATE INDEX stances_by_actor ON stances(actor_id, published DESC, id DESC);
CREATE TABLE stance_conditions (
  stance_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  text TEXT NOT NULL
);
CREATE INDEX stance_conditions_by_stance ON stance_conditions(stance_id);
CREATE INDEX stance_conditions_by_kind ON stance_conditions(kind, stance_id);
)sql",
    // 2: what the query API needs at scale. One row per (stance, condition kind) carrying the
    // columns the common filters use, so that "by condition" and "by actor and condition" read an
    // index in order; the topic label (topic words), the sorted condition kinds (claims), actor
    // names and kinds, and counters kept by triggers (ListActors, ListConditions).
    // topic_label and the actors' kinds live only in the stance bodies: BackfillFromBodies
    // fills them in for stances stored before this migration.
    R"sql(
ALTER TABLE stances ADD COLUMN topic_label TEXT NOT NULL DEFAULT '';
ALTER TABLE stances ADD COLUMN condition_kinds TEXT NOT NULL DEFAULT '';
CREATE INDEX stances_by_topic ON stances(topic, published DESC, id DESC);
CREATE INDEX stances_by_outlet ON stances(outlet COLLATE NOCASE, published DESC, id DESC);
CREATE INDEX stances_by_claim ON stances(actor_id, topic, position, condition_kinds, published DESC, id DESC);
CREATE TABLE stance_kinds (
  stance_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  position INTEGER NOT NULL,
  published INTEGER NOT NULL,
  PRIMARY KEY (stance_id, kind)
) WITHOUT ROWID;
CREATE INDEX stance_kinds_by_time ON stance_kinds(kind, published DESC, stance_id DESC, position);
CREATE INDEX stance_kinds_by_actor ON stance_kinds(kind, actor_id, published DESC, stance_id DESC, position);
DROP INDEX stance_conditions_by_kind;
CREATE TABLE actors (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  kind TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE topic_labels (
  topic TEXT NOT NULL,
  label TEXT NOT NULL,
  PRIMARY KEY (topic, label)
) WITHOUT ROWID;
CREATE TABLE actor_counts (
  actor_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  position INTEGER NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (actor_id, topic, position)
) WITHOUT ROWID;
CREATE INDEX actor_counts_by_topic ON actor_counts(topic);
CREATE TABLE condition_counts (
  kind TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  position INTEGER NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (kind, actor_id, topic, position)
) WITHOUT ROWID;
-- Stances per (condition kind, position); kind '' counts every stance.
CREATE TABLE totals (
  kind TEXT NOT NULL,
  position INTEGER NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (kind, position)
) WITHOUT ROWID;

INSERT OR IGNORE INTO stance_kinds(stance_id, kind, actor_id, topic, position, published)
  SELECT c.stance_id, c.kind, s.actor_id, s.topic, s.position, s.published
  FROM stance_conditions c JOIN stances s ON s.id = c.stance_id;
UPDATE stances SET condition_kinds = COALESCE((SELECT group_concat(kind, ',') FROM
  (SELECT kind FROM stance_kinds k WHERE k.stance_id = stances.id ORDER BY kind)), '');
INSERT INTO actor_counts(actor_id, topic, position, n)
  SELECT actor_id, topic, position, COUNT(*) FROM stances GROUP BY actor_id, topic, position;
INSERT INTO condition_counts(kind, actor_id, topic, position, n)
  SELECT kind, actor_id, topic, position, COUNT(*) FROM stance_kinds
  GROUP BY kind, actor_id, topic, position;
INSERT INTO totals(kind, position, n) SELECT '', position, COUNT(*) FROM stances GROUP BY position;
INSERT INTO totals(kind, position, n)
  SELECT kind, position, COUNT(*) FROM stance_kinds GROUP BY kind, position;
INSERT OR IGNORE INTO topic_labels(topic, label) SELECT DISTINCT topic, '' FROM stances;
INSERT OR IGNORE INTO actors(id, name, kind) SELECT actor_id, actor_name, '' FROM stances;

CREATE TRIGGER stances_count_insert AFTER INSERT ON stances BEGIN
  INSERT INTO actor_counts(actor_id, topic, position, n) VALUES (NEW.actor_id, NEW.topic, NEW.position, 1)
    ON CONFLICT(actor_id, topic, position) DO UPDATE SET n = n + 1;
  INSERT INTO totals(kind, position, n) VALUES ('', NEW.position, 1)
    ON CONFLICT(kind, position) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER stances_count_delete AFTER DELETE ON stances BEGIN
  UPDATE actor_counts SET n = n - 1
    WHERE actor_id = OLD.actor_id AND topic = OLD.topic AND position = OLD.position;
  DELETE FROM actor_counts
    WHERE actor_id = OLD.actor_id AND topic = OLD.topic AND position = OLD.position AND n <= 0;
  UPDATE totals SET n = n - 1 WHERE kind = '' AND position = OLD.position;
END;
CREATE TRIGGER stances_count_update AFTER UPDATE OF actor_id, topic, position ON stances
WHEN OLD.actor_id IS NOT NEW.actor_id OR OLD.topic IS NOT NEW.topic OR OLD.position IS NOT NEW.position
BEGIN
  UPDATE actor_counts SET n = n - 1
    WHERE actor_id = OLD.actor_id AND topic = OLD.topic AND position = OLD.position;
  DELETE FROM actor_counts
    WHERE actor_id = OLD.actor_id AND topic = OLD.topic AND position = OLD.position AND n <= 0;
  INSERT INTO actor_counts(actor_id, topic, position, n) VALUES (NEW.actor_id, NEW.topic, NEW.position, 1)
    ON CONFLICT(actor_id, topic, position) DO UPDATE SET n = n + 1;
  UPDATE totals SET n = n - 1 WHERE kind = '' AND position = OLD.position;
  INSERT INTO totals(kind, position, n) VALUES ('', NEW.position, 1)
    ON CONFLICT(kind, position) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER stance_kinds_count_insert AFTER INSERT ON stance_kinds BEGIN
  INSERT INTO condition_counts(kind, actor_id, topic, position, n)
    VALUES (NEW.kind, NEW.actor_id, NEW.topic, NEW.position, 1)
    ON CONFLICT(kind, actor_id, topic, position) DO UPDATE SET n = n + 1;
  INSERT INTO totals(kind, position, n) VALUES (NEW.kind, NEW.position, 1)
    ON CONFLICT(kind, position) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER stance_kinds_count_delete AFTER DELETE ON stance_kinds BEGIN
  UPDATE condition_counts SET n = n - 1 WHERE kind = OLD.kind AND actor_id = OLD.actor_id
    AND topic = OLD.topic AND position = OLD.position;
  DELETE FROM condition_counts WHERE kind = OLD.kind AND actor_id = OLD.actor_id
    AND topic = OLD.topic AND position = OLD.position AND n <= 0;
  UPDATE totals SET n = n - 1 WHERE kind = OLD.kind AND position = OLD.position;
END;
)sql",
    // 3: a layout that grows at its end. Stance rows are keyed by arrival order (seq), and each
    // stance's condition and kind rows by that seq, so a batch of new stances appends to its
    // tables instead of rewriting random pages of trees keyed by the hashed stance id (in v2,
    // ~28 KB of WAL per stance). No index is keyed by id at all: the writer keeps that map in
    // memory (StanceIdIndex). The counters are no longer kept by triggers: the writer adds up a
    // transaction's changes and applies them once (SqliteStanceStore::Upsert).
    R"sql(
DROP TRIGGER stances_count_insert;
DROP TRIGGER stances_count_delete;
DROP TRIGGER stances_count_update;
DROP TRIGGER stance_kinds_count_insert;
DROP TRIGGER stance_kinds_count_delete;
CREATE TABLE stances_v3 (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  item_id TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  actor_name TEXT NOT NULL,
  actor_mention TEXT NOT NULL,
  topic TEXT NOT NULL,
  topic_label TEXT NOT NULL,
  position INTEGER NOT NULL,
  outlet TEXT NOT NULL,
  outlet_folded TEXT NOT NULL,
  published INTEGER NOT NULL,
  condition_kinds TEXT NOT NULL,
  claim_key INTEGER NOT NULL,
  body BLOB NOT NULL
);
-- One key per (actor, topic, position, condition kinds): the claim a stance reports. Its index
-- on stances is then integer-keyed, which makes it a fraction as costly to maintain as the wide
-- text key it replaces.
CREATE TABLE claims (
  key INTEGER PRIMARY KEY,
  actor_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  position INTEGER NOT NULL,
  condition_kinds TEXT NOT NULL,
  UNIQUE (actor_id, topic, position, condition_kinds)
);
INSERT INTO claims(actor_id, topic, position, condition_kinds)
  SELECT DISTINCT actor_id, topic, position, condition_kinds FROM stances;
-- lower() folds ASCII letters only, as NOCASE did (and as the writer's AsciiLower does).
INSERT INTO stances_v3(id, item_id, actor_id, actor_name, actor_mention, topic, topic_label,
                       position, outlet, outlet_folded, published, condition_kinds, claim_key,
                       body)
  SELECT s.id, s.item_id, s.actor_id, s.actor_name, s.actor_mention, s.topic, s.topic_label,
         s.position, s.outlet, lower(s.outlet), s.published, s.condition_kinds, c.key, s.body
  FROM stances s JOIN claims c ON c.actor_id = s.actor_id AND c.topic = s.topic
    AND c.position = s.position AND c.condition_kinds = s.condition_kinds
  ORDER BY s.published, s.id;
-- For the joins below only: the writer finds stances by id through StanceIdIndex, in memory.
CREATE INDEX stances_v3_by_id ON stances_v3(id);
CREATE TABLE stance_conditions_v3 (
  stance_seq INTEGER NOT NULL,
  ord INTEGER NOT NULL,
  kind TEXT NOT NULL,
  text TEXT NOT NULL,
  PRIMARY KEY (stance_seq, ord)
) WITHOUT ROWID;
INSERT INTO stance_conditions_v3(stance_seq, ord, kind, text)
  SELECT s.seq, c.rowid, c.kind, c.text
  FROM stance_conditions c JOIN stances_v3 s ON s.id = c.stance_id;
CREATE TABLE stance_kinds_v3 (
  stance_seq INTEGER NOT NULL,
  kind TEXT NOT NULL,
  stance_id TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  position INTEGER NOT NULL,
  published INTEGER NOT NULL,
  PRIMARY KEY (stance_seq, kind)
) WITHOUT ROWID;
INSERT INTO stance_kinds_v3(stance_seq, kind, stance_id, actor_id, topic, position, published)
  SELECT s.seq, k.kind, k.stance_id, k.actor_id, k.topic, k.position, k.published
  FROM stance_kinds k JOIN stances_v3 s ON s.id = k.stance_id;
DROP INDEX stances_v3_by_id;
DROP TABLE stance_conditions;
DROP TABLE stance_kinds;
DROP TABLE stances;
ALTER TABLE stances_v3 RENAME TO stances;
ALTER TABLE stance_conditions_v3 RENAME TO stance_conditions;
ALTER TABLE stance_kinds_v3 RENAME TO stance_kinds;
CREATE INDEX stances_by_time ON stances(published, id);
CREATE INDEX stances_by_actor ON stances(actor_id, published, id);
CREATE INDEX stances_by_topic ON stances(topic, published, id);
CREATE INDEX stances_by_outlet ON stances(outlet_folded, published, id);
CREATE INDEX stances_by_claim ON stances(claim_key, published, id);
CREATE INDEX stance_kinds_by_time ON stance_kinds(kind, published, stance_id, position);
CREATE INDEX stance_kinds_by_actor ON stance_kinds(kind, actor_id, published, stance_id, position);
)sql",
    // 4: the speaker and confidence filters. Both live in the stance bodies: BackfillSpeakers
    // fills them in for stances stored before. Most stances name no speaker, so the speaker
    // index holds only those that do (queries repeat its WHERE term to use it).
    R"sql(
ALTER TABLE stances ADD COLUMN speaker_folded TEXT NOT NULL DEFAULT '';
ALTER TABLE stances ADD COLUMN confidence REAL NOT NULL DEFAULT 0;
CREATE INDEX stances_by_speaker ON stances(speaker_folded, published, id) WHERE speaker_folded <> '';
)sql",
};
// The migrations after which BackfillFromBodies and BackfillSpeakers run (1-based: the version
// each produces).
constexpr int64_t kBackfillAfterVersion = 2;
constexpr int64_t kSpeakerBackfillAfterVersion = 4;

}  // namespace

using sqlite_store::ParseStance;

bool SqliteStanceStore::Migrate(std::string* error) {
  // BEGIN IMMEDIATE takes the write lock first, so two processes starting together migrate once.
  if (!writer_.Exec("BEGIN IMMEDIATE", error)) return false;
  int64_t version = 0;
  {
    auto version_stmt = writer_.Prepare("PRAGMA user_version");
    version = version_stmt.Step() == SQLITE_ROW ? version_stmt.ColumnInt(0) : 0;
  }
  const int64_t target = static_cast<int64_t>(std::size(kMigrations));
  if (version > target) {
    std::string ignored;
    writer_.Exec("ROLLBACK", &ignored);
    *error = "schema version " + std::to_string(version) + " is newer than this build knows (" +
             std::to_string(target) + ")";
    return false;
  }
  for (; version < target; ++version) {
    bool ok = writer_.Exec(kMigrations[version], error);
    if (ok && version + 1 == kBackfillAfterVersion) ok = BackfillFromBodies(error);
    if (ok && version + 1 == kSpeakerBackfillAfterVersion) ok = BackfillSpeakers(error);
    if (!ok) {
      std::string ignored;
      writer_.Exec("ROLLBACK", &ignored);
      *error = "migration " + std::to_string(version + 1) + " failed: " + *error;
      return false;
    }
  }
  return writer_.Exec("PRAGMA user_version=" + std::to_string(target) + "; COMMIT", error);
}

namespace {

// Whether every statement prepared; else *error is the first one's reason.
bool Prepared(std::initializer_list<const SqliteStatement*> statements, std::string* error) {
  for (const auto* stmt : statements) {
    if (!stmt->ok()) {
      *error = stmt->error();
      return false;
    }
  }
  return true;
}

// Calls each(row, stance) for every row `select` returns (column 0: the row's key, column 1: the
// stance's body); each returns false, having set *error, to stop. Runs inside a migration.
template <typename F>
bool ForEachStoredStance(SqliteStatement& select, std::string* error, F each) {
  int rc;
  while ((rc = select.Step()) == SQLITE_ROW) {
    v1::Stance s;
    if (!ParseStance(select.ColumnBlob(1), &s)) {
      *error = "stance " + std::string(select.ColumnText(0)) + " is corrupt";
      return false;
    }
    if (!each(select, s)) return false;
  }
  if (rc != SQLITE_DONE) {
    *error = select.error();
    return false;
  }
  return true;
}

}  // namespace

bool SqliteStanceStore::BackfillSpeakers(std::string* error) {
  // by seq: since version 3 no index is keyed by id
  auto select = writer_.Prepare("SELECT seq, body FROM stances");
  auto update =
      writer_.Prepare("UPDATE stances SET speaker_folded = ?2, confidence = ?3 WHERE seq = ?1");
  if (!Prepared({&select, &update}, error)) return false;
  return ForEachStoredStance(select, error, [&](SqliteStatement& row, const v1::Stance& s) {
    update.Bind(1, row.ColumnInt(0));
    update.Bind(2, AsciiLower(s.speaker()));
    update.Bind(3, static_cast<double>(s.confidence()));
    if (update.Run()) return true;
    *error = writer_.last_error();
    return false;
  });
}

bool SqliteStanceStore::BackfillFromBodies(std::string* error) {
  auto select = writer_.Prepare("SELECT id, body FROM stances");
  auto label = writer_.Prepare("UPDATE stances SET topic_label = ?2 WHERE id = ?1");
  auto topic = writer_.Prepare("INSERT OR IGNORE INTO topic_labels(topic, label) VALUES (?1, ?2)");
  auto actor = writer_.Prepare("UPDATE actors SET kind = ?2 WHERE id = ?1");
  if (!Prepared({&select, &label, &topic, &actor}, error)) return false;
  return ForEachStoredStance(select, error, [&](SqliteStatement&, const v1::Stance& s) {
    label.Bind(1, s.id());
    label.Bind(2, s.topic_label());
    topic.Bind(1, s.topic());
    topic.Bind(2, s.topic_label());
    actor.Bind(1, s.actor().id());
    actor.Bind(2, s.actor().kind());
    if (label.Run() && topic.Run() && actor.Run()) return true;
    *error = writer_.last_error();
    return false;
  });
}

}  // namespace stancewire::query
