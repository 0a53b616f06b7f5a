#include "query-service/sqlite_stance_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include "query-service/postgres_stance_store.h"
#include "query-service/stance_id_index.h"
#include "query-service/stance_match.h"

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
};
// The migration after which BackfillFromBodies runs (1-based: the version it produces).
constexpr int64_t kBackfillAfterVersion = 2;

// A store failure reaches the client as a generic INTERNAL: SQLite's message can name tables,
// columns and SQL, so it goes to the log only.
grpc::Status Internal(const std::string& what, const std::string& detail) {
  spdlog::error("store: {} failed: {}", what, detail);
  return grpc::Status(grpc::StatusCode::INTERNAL,
                      "store: " + what + " failed (the reason is in query-service's log)");
}

// Escapes LIKE wildcards so that user words match literally.
std::string LikePattern(const std::string& word) {
  std::string out = "%";
  for (char c : word) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('%');
  return out;
}

// SQL text with numbered parameters, bound after prepare.
struct Sql {
  std::string text;
  std::vector<std::variant<std::string, int64_t>> params;

  std::string P(std::string v) {
    params.emplace_back(std::move(v));
    return "?" + std::to_string(params.size());
  }
  std::string P(int64_t v) {
    params.emplace_back(v);
    return "?" + std::to_string(params.size());
  }
  void BindAll(SqliteStatement* stmt) const {
    for (size_t i = 0; i < params.size(); ++i) {
      if (const auto* s = std::get_if<std::string>(&params[i])) {
        stmt->Bind(static_cast<int>(i + 1), *s);
      } else {
        stmt->Bind(static_cast<int>(i + 1), std::get<int64_t>(params[i]));
      }
    }
  }
};

bool ParseStance(std::string_view body, v1::Stance* stance) {
  return stance->ParseFromArray(body.data(), static_cast<int>(body.size()));
}

}  // namespace

struct SqliteStanceStore::Reader {
  SqliteDb db;
  std::unordered_map<std::string, std::unique_ptr<SqliteStatement>> statements;

  // A prepared statement for `sql`, reset and ready to bind; nullptr with the reason in *error.
  SqliteStatement* Statement(const std::string& sql, std::string* error) {
    auto it = statements.find(sql);
    if (it != statements.end()) {
      it->second->Reset();
      return it->second.get();
    }
    // Filters make many shapes of SQL; keep the cache bounded.
    if (statements.size() >= 512) statements.clear();
    auto stmt = std::make_unique<SqliteStatement>(db.Prepare(sql));
    if (!stmt->ok()) {
      *error = stmt->error();
      return nullptr;
    }
    return statements.emplace(sql, std::move(stmt)).first->second.get();
  }
};

namespace {

// Runs `stmt` (already bound) to the end, calling on_row for each row; on_row returns false to
// stop early. Resets the statement afterwards. Returns an INTERNAL status on SQLite errors.
template <typename F>
grpc::Status ForEachRow(SqliteStatement* stmt, const std::string& what, F on_row) {
  int rc;
  grpc::Status status = grpc::Status::OK;
  while ((rc = stmt->Step()) == SQLITE_ROW) {
    status = on_row();
    if (!status.ok()) break;
  }
  if (status.ok() && rc != SQLITE_ROW && rc != SQLITE_DONE) status = Internal(what, stmt->error());
  stmt->Reset();
  return status;
}

// Stop marker for ForEachRow: an OK status with a special message is awkward; use CANCELLED
// internally and translate.
const grpc::Status kStop(grpc::StatusCode::CANCELLED, "stop");
bool IsStop(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::CANCELLED && s.error_message() == "stop";
}

// The FROM and WHERE clauses for a filter, choosing which index drives the query.
struct FilterSql {
  std::string from;
  std::string where = "1=1";
  std::string published;  // the column to order and page by
  std::string id;
  bool none = false;       // nothing can match (the topic words name no stored topic)
  std::string count_from;  // the FROM a COUNT(*) needs (no join when stances' columns are unused)
  // COUNT from the trigger-kept counters when the filter's shape allows (no outlet, time or
  // condition words): a few rows read instead of every matching stance.
  std::optional<Sql> counter;
};

}  // namespace

// Resolves topic words to the stored topic keys they can match (a small table), so that the
// main query can use the topic index; each row is still checked against its own label.
static grpc::Status TopicKeys(SqliteStanceStore::Reader* reader, const std::string& topic,
                              std::vector<std::string>* keys) {
  Sql sql;
  sql.text =
      "SELECT DISTINCT topic FROM topic_labels WHERE topic = " + sql.P(topic) + " COLLATE NOCASE";
  auto words = SplitWords(topic);
  if (!words.empty()) {
    sql.text += " OR (1=1";
    for (const auto& w : words) {
      sql.text += " AND (topic || ' ' || label) LIKE " + sql.P(LikePattern(w)) + " ESCAPE '\\'";
    }
    sql.text += ")";
  }
  sql.text += " ORDER BY topic";
  std::string error;
  auto* stmt = reader->Statement(sql.text, &error);
  if (!stmt) return Internal("prepare", error);
  sql.BindAll(stmt);
  keys->clear();
  return ForEachRow(stmt, "topics", [&] {
    keys->emplace_back(stmt->ColumnText(0));
    return grpc::Status::OK;
  });
}

static std::string InList(Sql* sql, const std::vector<std::string>& values) {
  std::string out = "(";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + sql->P(values[i]);
  return out + ")";
}

// Builds FROM/WHERE for `filter`. Index choice is made here, deterministically, instead of
// leaving it to the planner (which has no statistics on a fresh database): a condition kind
// drives through stance_kinds (with the actor when there is one), else the actor, else the
// outlet, else the topic, else time. Terms that must not drive are written as +column, which
// SQLite never uses for an index.
static grpc::Status BuildFilter(SqliteStanceStore::Reader* reader, const StanceFilter& filter,
                                Sql* sql, FilterSql* out) {
  std::vector<std::string> topic_keys;
  if (!filter.topic.empty()) {
    grpc::Status status = TopicKeys(reader, filter.topic, &topic_keys);
    if (!status.ok()) return status;
    if (topic_keys.empty()) {
      out->none = true;
      return grpc::Status::OK;
    }
  }
  ConditionQuery condition;
  if (!filter.condition.empty()) condition = ParseConditionQuery(filter.condition);
  const bool by_kind = !filter.condition.empty() && condition.by_kind;
  const bool has_actor_ids = !filter.actor_ids.empty();

  std::string& w = out->where;
  auto eq_or_in = [&](const std::string& column, const std::vector<std::string>& values) {
    if (values.size() == 1) return column + " = " + sql->P(values[0]);
    return column + " IN " + InList(sql, values);
  };

  if (by_kind) {
    out->from = "stance_kinds k JOIN stances s ON s.seq = k.stance_seq";
    out->published = "k.published";
    out->id = "k.stance_id";
    w += " AND k.kind = " + sql->P(condition.kind);
    if (has_actor_ids) w += " AND " + eq_or_in("k.actor_id", filter.actor_ids);
    if (filter.position != v1::POSITION_UNSPECIFIED) {
      w += " AND k.position = " + sql->P(static_cast<int64_t>(filter.position));
    }
    if (!topic_keys.empty()) w += " AND " + eq_or_in("+k.topic", topic_keys);
  } else {
    out->from = "stances s";
    out->published = "s.published";
    out->id = "s.id";
    const bool drive_actor = has_actor_ids;
    const bool drive_outlet = !drive_actor && !filter.outlet.empty();
    const bool drive_topic = !drive_actor && !drive_outlet && !topic_keys.empty();
    if (has_actor_ids) w += " AND " + eq_or_in("s.actor_id", filter.actor_ids);
    if (filter.position != v1::POSITION_UNSPECIFIED) {
      w += " AND +s.position = " + sql->P(static_cast<int64_t>(filter.position));
    }
    if (!topic_keys.empty()) {
      w += " AND " + eq_or_in(drive_topic ? "s.topic" : "+s.topic", topic_keys);
    }
    if (!filter.outlet.empty()) {
      w += std::string(" AND ") + (drive_outlet ? "s.outlet_folded" : "+s.outlet_folded") + " = " +
           sql->P(AsciiLower(filter.outlet));
    }
    if (!filter.condition.empty()) {
      // Words: a condition whose text holds every word, or whose kind is their upper-snake form.
      w +=
          " AND (EXISTS (SELECT 1 FROM stance_kinds kk WHERE kk.stance_seq = s.seq AND kk.kind = " +
          sql->P(condition.kind) + ")";
      if (!condition.words.empty()) {
        w += " OR EXISTS (SELECT 1 FROM stance_conditions c WHERE c.stance_seq = s.seq";
        for (const auto& word : condition.words) {
          w += " AND c.text LIKE " + sql->P(LikePattern(word)) + " ESCAPE '\\'";
        }
        w += ")";
      }
      w += ")";
    }
  }
  if (by_kind && !filter.outlet.empty()) {
    w += " AND +s.outlet_folded = " + sql->P(AsciiLower(filter.outlet));
  }
  if (!filter.actor_text.empty() && !has_actor_ids) {
    std::string p = sql->P(filter.actor_text);
    w += " AND (s.actor_id = " + p + " COLLATE NOCASE OR s.actor_name = " + p +
         " COLLATE NOCASE OR s.actor_mention = " + p + " COLLATE NOCASE)";
  }
  // The topic names exactly one stored key: the key test above is the whole test.
  const bool exact_topic =
      topic_keys.size() == 1 && AsciiLower(topic_keys[0]) == AsciiLower(filter.topic);
  bool uses_s =
      !by_kind || !filter.outlet.empty() || (!filter.actor_text.empty() && !has_actor_ids);
  if (!filter.topic.empty() && !exact_topic) {
    uses_s = true;
    // Each stance against its own key and label (the keys above were candidates).
    w += " AND (s.topic = " + sql->P(filter.topic) + " COLLATE NOCASE";
    auto words = SplitWords(filter.topic);
    if (!words.empty()) {
      w += " OR (1=1";
      for (const auto& word : words) {
        w += " AND (s.topic || ' ' || s.topic_label) LIKE " + sql->P(LikePattern(word)) +
             " ESCAPE '\\'";
      }
      w += ")";
    }
    w += ")";
  }
  if (filter.published_after_nanos) {
    w += " AND " + out->published + " >= " + sql->P(*filter.published_after_nanos);
  }
  if (filter.published_before_nanos) {
    w += " AND " + out->published + " < " + sql->P(*filter.published_before_nanos);
  }
  out->count_from = uses_s ? out->from : "stance_kinds k";

  const bool countable =
      filter.outlet.empty() && !filter.published_after_nanos && !filter.published_before_nanos &&
      (has_actor_ids || filter.actor_text.empty()) && (filter.condition.empty() || by_kind) &&
      (filter.topic.empty() || exact_topic);
  if (countable) {
    Sql c;
    std::string where;
    auto in = [&](const std::string& column, const std::vector<std::string>& values) {
      return values.size() == 1 ? column + " = " + c.P(values[0])
                                : column + " IN " + InList(&c, values);
    };
    const bool by_position = filter.position != v1::POSITION_UNSPECIFIED;
    if (!has_actor_ids && topic_keys.empty()) {
      c.text = "SELECT COALESCE(SUM(n), 0) FROM totals WHERE kind = " +
               c.P(by_kind ? condition.kind : std::string());
    } else if (by_kind) {
      c.text =
          "SELECT COALESCE(SUM(n), 0) FROM condition_counts WHERE kind = " + c.P(condition.kind);
      if (has_actor_ids) c.text += " AND " + in("actor_id", filter.actor_ids);
      if (!topic_keys.empty()) c.text += " AND " + in("topic", topic_keys);
    } else {
      c.text = "SELECT COALESCE(SUM(n), 0) FROM actor_counts WHERE 1=1";
      if (has_actor_ids) c.text += " AND " + in("actor_id", filter.actor_ids);
      if (!topic_keys.empty()) c.text += " AND " + in("topic", topic_keys);
    }
    if (by_position) c.text += " AND position = " + c.P(static_cast<int64_t>(filter.position));
    out->counter = std::move(c);
  }
  return grpc::Status::OK;
}

int64_t TimestampNanos(const google::protobuf::Timestamp& ts) {
  int64_t nanos = 0;
  if (__builtin_mul_overflow(ts.seconds(), int64_t{1000000000}, &nanos) ||
      __builtin_add_overflow(nanos, int64_t{ts.nanos()}, &nanos)) {
    return ts.seconds() < 0 ? INT64_MIN : INT64_MAX;
  }
  return nanos;
}

// What the writer connection keeps between transactions: its statements, prepared once, and what
// it knows to be stored already (topic labels, actor names and kinds), so that a batch does not
// rewrite the same few rows thousands of times.
struct SqliteStanceStore::WriterState {
  // Where each stored id is (its seq): the stances table has no index by id.
  StanceIdIndex ids;
  SqliteStatement insert_stance, find_stance, update_stance, find_claim, add_claim, ids_after;
  SqliteStatement clear_conditions, add_condition, clear_kinds, add_kind;
  SqliteStatement add_label, put_actor;
  SqliteStatement add_actor_count, drop_actor_count, add_condition_count, drop_condition_count,
      add_total, data_version;

  // Stored as far as this connection knows; forgotten when a transaction rolls back.
  std::unordered_set<std::string> labels;                             // topic \x1f label
  std::map<std::string, std::pair<std::string, std::string>> actors;  // id -> (name, kind)
  std::unordered_map<std::string, int64_t> claim_keys;  // actor \x1f topic \x1f position \x1f kinds
  std::string scratch;                                  // for building those keys
  // PRAGMA data_version after our last transaction: another connection's commit changes it, and
  // then what we know may be stale.
  int64_t known_version = -1;

  // The counter changes of one transaction, applied once at its end. The keys point into the
  // batch's stances, or into `old_values` for what a revision replaces.
  std::map<std::tuple<std::string_view, std::string_view, int64_t>, int64_t> actor_deltas;
  std::map<std::tuple<std::string_view, std::string_view, std::string_view, int64_t>, int64_t>
      condition_deltas;
  std::map<std::pair<std::string_view, int64_t>, int64_t> total_deltas;
  std::deque<std::string> old_values;

  WriterState(SqliteDb& db, StanceIdIndex::HashFunction id_hash)
      : ids(id_hash),
        insert_stance(db.Prepare(
            "INSERT INTO stances(id, item_id, actor_id, actor_name, actor_mention, topic, "
            "topic_label, position, outlet, outlet_folded, published, condition_kinds, "
            "claim_key, body) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)")),
        find_stance(
            db.Prepare("SELECT id, actor_id, topic, position, condition_kinds, body FROM stances "
                       "WHERE seq = ?1")),
        update_stance(db.Prepare(
            "UPDATE stances SET item_id = ?2, actor_id = ?3, actor_name = ?4, "
            "actor_mention = ?5, topic = ?6, topic_label = ?7, position = ?8, outlet = ?9, "
            "outlet_folded = ?10, published = ?11, condition_kinds = ?12, claim_key = ?13, "
            "body = ?14 WHERE seq = ?1")),
        find_claim(db.Prepare(
            "SELECT key FROM claims WHERE actor_id = ?1 AND topic = ?2 AND position = ?3 "
            "AND condition_kinds = ?4")),
        add_claim(db.Prepare("INSERT INTO claims(actor_id, topic, position, condition_kinds) "
                             "VALUES (?1, ?2, ?3, ?4)")),
        ids_after(db.Prepare("SELECT seq, id FROM stances WHERE seq > ?1 ORDER BY seq")),
        clear_conditions(db.Prepare("DELETE FROM stance_conditions WHERE stance_seq = ?1")),
        add_condition(db.Prepare(
            "INSERT INTO stance_conditions(stance_seq, ord, kind, text) VALUES (?1, ?2, ?3, ?4)")),
        clear_kinds(db.Prepare("DELETE FROM stance_kinds WHERE stance_seq = ?1")),
        add_kind(db.Prepare(
            "INSERT INTO stance_kinds(stance_seq, kind, stance_id, actor_id, topic, position, "
            "published) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")),
        add_label(db.Prepare("INSERT OR IGNORE INTO topic_labels(topic, label) VALUES (?1, ?2)")),
        put_actor(db.Prepare(
            "INSERT INTO actors(id, name, kind) VALUES (?1, ?2, ?3) ON CONFLICT(id) DO UPDATE "
            "SET name = excluded.name, kind = excluded.kind "
            "WHERE name IS NOT excluded.name OR kind IS NOT excluded.kind")),
        add_actor_count(db.Prepare(
            "INSERT INTO actor_counts(actor_id, topic, position, n) VALUES (?1, ?2, ?3, ?4) "
            "ON CONFLICT(actor_id, topic, position) DO UPDATE SET n = n + excluded.n")),
        drop_actor_count(db.Prepare(
            "DELETE FROM actor_counts WHERE actor_id = ?1 AND topic = ?2 AND position = ?3 "
            "AND n <= 0")),
        add_condition_count(
            db.Prepare("INSERT INTO condition_counts(kind, actor_id, topic, position, n) "
                       "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(kind, actor_id, topic, position) "
                       "DO UPDATE SET n = n + excluded.n")),
        drop_condition_count(db.Prepare(
            "DELETE FROM condition_counts WHERE kind = ?1 AND actor_id = ?2 AND topic = ?3 "
            "AND position = ?4 AND n <= 0")),
        add_total(db.Prepare("INSERT INTO totals(kind, position, n) VALUES (?1, ?2, ?3) "
                             "ON CONFLICT(kind, position) DO UPDATE SET n = n + excluded.n")),
        data_version(db.Prepare("PRAGMA data_version")) {}

  const std::string* PrepareError() const {
    for (const SqliteStatement* s :
         {&insert_stance, &find_stance, &update_stance, &find_claim, &add_claim, &ids_after,
          &clear_conditions, &add_condition, &clear_kinds, &add_kind, &add_label, &put_actor,
          &add_actor_count, &drop_actor_count, &add_condition_count, &drop_condition_count,
          &add_total, &data_version}) {
      if (!s->ok()) return &s->error();
    }
    return nullptr;
  }

  // Learns the rows other connections appended since we last looked (all of them, the first
  // time). Rows are never deleted and a row's id never changes, so this keeps `ids` exact.
  bool CatchUp(SqliteDb& db, std::string* error) {
    // The first time, every row: through the smallest covering index rather than the table
    // with its bodies (under a second per million stances instead of several).
    SqliteStatement all;
    if (ids.max_seq() == 0) all = db.Prepare("SELECT seq, id FROM stances");
    SqliteStatement& stmt = all.ok() ? all : ids_after;
    if (&stmt == &ids_after) ids_after.Bind(1, ids.max_seq());
    int rc;
    while ((rc = stmt.Step()) == SQLITE_ROW) ids.Load(stmt.ColumnText(1), stmt.ColumnInt(0));
    if (rc != SQLITE_DONE) *error = stmt.error();
    stmt.Reset();
    return rc == SQLITE_DONE;
  }

  // One stance more (sign +1) or less (-1) under these counters.
  void Count(std::string_view actor, std::string_view topic, int64_t position,
             const std::vector<std::string_view>& kinds, int sign) {
    actor_deltas[{actor, topic, position}] += sign;
    total_deltas[{std::string_view(""), position}] += sign;  // "": not null, see BindView
    for (const auto& kind : kinds) {
      condition_deltas[{kind, actor, topic, position}] += sign;
      total_deltas[{kind, position}] += sign;
    }
  }
  // The key of a stance's claim, adding it to `claims` when it is new. 0 with the reason in
  // *error when SQLite fails.
  int64_t ClaimKey(SqliteDb& db, std::string_view actor, std::string_view topic, int64_t position,
                   std::string_view kinds, std::string* error) {
    scratch.assign(actor).append("\x1f").append(topic).append("\x1f");
    scratch.append(std::to_string(position)).append("\x1f").append(kinds);
    if (auto it = claim_keys.find(scratch); it != claim_keys.end()) return it->second;
    find_claim.BindView(1, actor);
    find_claim.BindView(2, topic);
    find_claim.Bind(3, position);
    find_claim.BindView(4, kinds);
    int64_t key = 0;
    const int rc = find_claim.Step();
    if (rc == SQLITE_ROW) key = find_claim.ColumnInt(0);
    find_claim.Reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      *error = find_claim.error();
      return 0;
    }
    if (key == 0) {
      add_claim.BindView(1, actor);
      add_claim.BindView(2, topic);
      add_claim.Bind(3, position);
      add_claim.BindView(4, kinds);
      if (!add_claim.Run()) {
        *error = db.last_error();
        return 0;
      }
      key = sqlite3_last_insert_rowid(db.handle());
    }
    claim_keys.emplace(scratch, key);
    return key;
  }

  // A copy that lives until the end of the transaction.
  std::string_view Keep(std::string_view value) { return old_values.emplace_back(value); }

  void EndTransaction(bool committed, int64_t version) {
    actor_deltas.clear();
    condition_deltas.clear();
    total_deltas.clear();
    old_values.clear();
    if (committed) {
      ids.CommitTransaction();
      known_version = version;
    } else {
      ids.RollbackTransaction();
      labels.clear();
      actors.clear();
      claim_keys.clear();
      known_version = -1;
    }
  }
};

namespace {

// Binds `args` in order (without copying: they outlive the step) and runs the statement.
bool Run(SqliteStatement& stmt, std::initializer_list<std::variant<std::string_view, int64_t>> args,
         bool blob_last = false) {
  int i = 0;
  const int n = static_cast<int>(args.size());
  for (const auto& a : args) {
    ++i;
    if (const auto* v = std::get_if<int64_t>(&a)) {
      stmt.Bind(i, *v);
    } else if (blob_last && i == n) {
      stmt.BindBlobView(i, std::get<std::string_view>(a));
    } else {
      stmt.BindView(i, std::get<std::string_view>(a));
    }
  }
  return stmt.Run();
}

}  // namespace

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
    if (!ok) {
      std::string ignored;
      writer_.Exec("ROLLBACK", &ignored);
      *error = "migration " + std::to_string(version + 1) + " failed: " + *error;
      return false;
    }
  }
  return writer_.Exec("PRAGMA user_version=" + std::to_string(target) + "; COMMIT", error);
}

bool SqliteStanceStore::BackfillFromBodies(std::string* error) {
  auto select = writer_.Prepare("SELECT id, body FROM stances");
  auto label = writer_.Prepare("UPDATE stances SET topic_label = ?2 WHERE id = ?1");
  auto topic = writer_.Prepare("INSERT OR IGNORE INTO topic_labels(topic, label) VALUES (?1, ?2)");
  auto actor = writer_.Prepare("UPDATE actors SET kind = ?2 WHERE id = ?1");
  for (auto* stmt : {&select, &label, &topic, &actor}) {
    if (!stmt->ok()) {
      *error = stmt->error();
      return false;
    }
  }
  int rc;
  while ((rc = select.Step()) == SQLITE_ROW) {
    v1::Stance s;
    if (!ParseStance(select.ColumnBlob(1), &s)) {
      *error = "stance " + std::string(select.ColumnText(0)) + " is corrupt";
      return false;
    }
    label.Bind(1, s.id());
    label.Bind(2, s.topic_label());
    topic.Bind(1, s.topic());
    topic.Bind(2, s.topic_label());
    actor.Bind(1, s.actor().id());
    actor.Bind(2, s.actor().kind());
    if (!label.Run() || !topic.Run() || !actor.Run()) {
      *error = writer_.last_error();
      return false;
    }
  }
  if (rc != SQLITE_DONE) {
    *error = select.error();
    return false;
  }
  return true;
}

grpc::Status SqliteStanceStore::Upsert(const std::vector<v1::Stance>& stances, UpsertResult* result,
                                       const std::vector<std::string_view>* wire) {
  std::lock_guard lock(write_mu_);
  if (result) result->changed.clear();
  WriterState& w = *writer_state_;
  std::string error;
  if (!writer_.Exec("BEGIN IMMEDIATE", &error)) return Internal("begin", error);
  int64_t version = 0;
  if (w.data_version.Step() == SQLITE_ROW) version = w.data_version.ColumnInt(0);
  w.data_version.Reset();
  grpc::Status status = grpc::Status::OK;
  if (version != w.known_version) {  // another connection wrote: what we knew may be stale
    w.labels.clear();
    w.actors.clear();
    w.claim_keys.clear();
    if (!w.CatchUp(writer_, &error)) status = Internal("read ids", error);
  }
  w.ids.BeginTransaction();
  if (status.ok()) status = UpsertLocked(stances, result, wire);
  if (status.ok() && !writer_.Exec("COMMIT", &error)) status = Internal("commit", error);
  if (!status.ok()) {
    std::string ignored;
    writer_.Exec("ROLLBACK", &ignored);
    if (result) result->changed.clear();
    w.EndTransaction(/*committed=*/false, version);
    return status;
  }
  w.EndTransaction(/*committed=*/true, version);
  return grpc::Status::OK;
}

grpc::Status SqliteStanceStore::UpsertLocked(const std::vector<v1::Stance>& stances,
                                             UpsertResult* result,
                                             const std::vector<std::string_view>* wire) {
  WriterState& w = *writer_state_;
  std::string encoded, joined, outlet_folded;
  std::string_view body;  // the stance's wire form: as it arrived, or encoded here
  std::vector<std::string_view> kinds;
  for (size_t i = 0; i < stances.size(); ++i) {
    const auto& s = stances[i];
    if (wire) {
      body = (*wire)[i];
    } else {
      s.SerializeToString(&encoded);
      body = encoded;
    }
    const int64_t published = TimestampNanos(s.published());
    const int64_t position = static_cast<int64_t>(s.position());
    // Sorted, distinct, and pointing into the stance: the counter keys outlive this iteration.
    kinds.clear();
    for (const auto& c : s.conditions()) {
      if (!c.kind().empty()) kinds.push_back(c.kind());
    }
    std::sort(kinds.begin(), kinds.end());
    kinds.erase(std::unique(kinds.begin(), kinds.end()), kinds.end());
    joined.clear();
    for (const auto& k : kinds) {
      if (!joined.empty()) joined += ',';
      joined += k;
    }
    std::string claim_error;
    const int64_t claim_key =
        w.ClaimKey(writer_, s.actor().id(), s.topic(), position, joined, &claim_error);
    if (claim_key == 0) return Internal("upsert " + s.id(), "claim: " + claim_error);
    outlet_folded = AsciiLower(s.outlet());
    const auto fail = [&](const SqliteStatement& stmt) {
      return Internal("upsert " + s.id(),
                      stmt.error().empty() ? writer_.last_error() : stmt.error());
    };
    int64_t seq = 0;
    bool stored = false, hash_taken = false;
    const auto found = w.ids.Find(s.id(), &seq);
    if (found != StanceIdIndex::Lookup::kAbsent) {
      // Stored before (a redelivery, identical: nothing to do; or a revision), or another id
      // with the same hash.
      w.find_stance.Bind(1, seq);
      if (w.find_stance.Step() != SQLITE_ROW) {
        w.find_stance.Reset();
        return Internal("upsert " + s.id(), "row " + std::to_string(seq) + " is missing");
      }
      stored = found == StanceIdIndex::Lookup::kExact || w.find_stance.ColumnText(0) == s.id();
      hash_taken = !stored;
      const bool same = stored && w.find_stance.ColumnBlob(5) == body;
      if (stored && !same) {
        std::vector<std::string_view> old_kinds;
        for (const auto& k : SplitKinds(w.find_stance.ColumnText(4))) {
          old_kinds.push_back(w.Keep(k));
        }
        w.Count(w.Keep(w.find_stance.ColumnText(1)), w.Keep(w.find_stance.ColumnText(2)),
                w.find_stance.ColumnInt(3), old_kinds, -1);
      }
      w.find_stance.Reset();
      if (same) continue;
    }
    if (!stored) {
      if (!Run(w.insert_stance,
               {s.id(), s.item_id(), s.actor().id(), s.actor().name(), s.actor().mention(),
                s.topic(), s.topic_label(), position, s.outlet(), outlet_folded, published, joined,
                claim_key, body},
               /*blob_last=*/true)) {
        return fail(w.insert_stance);
      }
      seq = sqlite3_last_insert_rowid(writer_.handle());
      w.ids.Add(s.id(), seq, hash_taken);
    } else if (!Run(w.update_stance,
                    {seq, s.item_id(), s.actor().id(), s.actor().name(), s.actor().mention(),
                     s.topic(), s.topic_label(), position, s.outlet(), outlet_folded, published,
                     joined, claim_key, body},
                    /*blob_last=*/true) ||
               !Run(w.clear_conditions, {seq}) || !Run(w.clear_kinds, {seq})) {
      return fail(w.update_stance);
    }
    w.Count(s.actor().id(), s.topic(), position, kinds, +1);
    for (int c = 0; c < s.conditions_size(); ++c) {
      if (!Run(w.add_condition,
               {seq, int64_t{c}, s.conditions(c).kind(), s.conditions(c).text()})) {
        return fail(w.add_condition);
      }
    }
    for (const auto& kind : kinds) {
      if (!Run(w.add_kind, {seq, kind, s.id(), s.actor().id(), s.topic(), position, published})) {
        return fail(w.add_kind);
      }
    }
    for (const std::string& label : {std::string(), s.topic_label()}) {
      w.scratch.assign(s.topic()).append("\x1f").append(label);
      if (w.labels.count(w.scratch)) continue;
      w.labels.insert(w.scratch);
      if (!Run(w.add_label, {s.topic(), label})) return fail(w.add_label);
    }
    auto known = w.actors.find(s.actor().id());
    if (known == w.actors.end() || known->second.first != s.actor().name() ||
        known->second.second != s.actor().kind()) {
      if (!Run(w.put_actor, {s.actor().id(), s.actor().name(), s.actor().kind()})) {
        return fail(w.put_actor);
      }
      w.actors[s.actor().id()] = {s.actor().name(), s.actor().kind()};
    }
    if (result) result->changed.push_back(i);
  }
  // The counters, once per key for the whole transaction.
  for (const auto& [key, n] : w.actor_deltas) {
    if (n == 0) continue;
    const auto& [actor, topic, position] = key;
    if (!Run(w.add_actor_count, {actor, topic, position, n}) ||
        (n < 0 && !Run(w.drop_actor_count, {actor, topic, position}))) {
      return Internal("actor counts", writer_.last_error());
    }
  }
  for (const auto& [key, n] : w.condition_deltas) {
    if (n == 0) continue;
    const auto& [kind, actor, topic, position] = key;
    if (!Run(w.add_condition_count, {kind, actor, topic, position, n}) ||
        (n < 0 && !Run(w.drop_condition_count, {kind, actor, topic, position}))) {
      return Internal("condition counts", writer_.last_error());
    }
  }
  for (const auto& [key, n] : w.total_deltas) {
    if (n != 0 && !Run(w.add_total, {key.first, key.second, n})) {
      return Internal("totals", writer_.last_error());
    }
  }
  return grpc::Status::OK;
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

// Borrowing a reader with automatic return.
class ScopedReader {
 public:
  ScopedReader(std::function<void(std::unique_ptr<SqliteStanceStore::Reader>)> release,
               std::unique_ptr<SqliteStanceStore::Reader> reader)
      : release_(std::move(release)), reader_(std::move(reader)) {}
  ~ScopedReader() {
    if (reader_) release_(std::move(reader_));
  }
  SqliteStanceStore::Reader* get() { return reader_.get(); }

 private:
  std::function<void(std::unique_ptr<SqliteStanceStore::Reader>)> release_;
  std::unique_ptr<SqliteStanceStore::Reader> reader_;
};

#define SW_BORROW_READER(name)                                               \
  std::string name##_error;                                                  \
  auto name##_owned = AcquireReader(&name##_error);                          \
  if (!name##_owned) return Internal("open reader", name##_error);           \
  ScopedReader name##_scope([this](auto r) { ReleaseReader(std::move(r)); }, \
                            std::move(name##_owned));                        \
  Reader* name = name##_scope.get()

static void BuildListSql(const FilterSql& f, const ListOptions& options, Sql* sql) {
  const char* dir = options.oldest_first ? "ASC" : "DESC";
  const char* cmp = options.oldest_first ? ">" : "<";
  std::string where = f.where;
  if (options.after) {
    std::string p = sql->P(options.after->published_nanos);
    where += " AND (" + f.published + " " + cmp + " " + p + " OR (" + f.published + " = " + p +
             " AND " + f.id + " " + cmp + " " + sql->P(options.after->id) + "))";
  }
  sql->text = "SELECT s.body, s.published, s.id FROM " + f.from + " WHERE " + where + " ORDER BY " +
              f.published + " " + dir + ", " + f.id + " " + dir + " LIMIT " +
              sql->P(static_cast<int64_t>(options.limit) + 1);
}

grpc::Status SqliteStanceStore::List(const StanceFilter& filter, const ListOptions& options,
                                     StancePage* page) {
  page->stances.clear();
  page->serialized.clear();
  page->next.reset();
  page->total.reset();
  SW_BORROW_READER(reader);
  Sql sql;
  FilterSql f;
  grpc::Status status = BuildFilter(reader, filter, &sql, &f);
  if (!status.ok()) return status;
  if (f.none) {
    if (options.count_total) page->total = 0;
    return grpc::Status::OK;
  }
  // The count and the page come from one snapshot (prepared BEGIN and COMMIT: sqlite3_exec
  // would compile them again on every call).
  std::string error;
  if (options.count_total) {
    auto* begin = reader->Statement("BEGIN", &error);
    if (!begin) return Internal("prepare", error);
    if (!begin->Run()) return Internal("begin", begin->error());
  }
  struct EndRead {
    Reader* reader;
    bool active;
    ~EndRead() {
      std::string ignored;
      if (!active) return;
      if (auto* commit = reader->Statement("COMMIT", &ignored)) commit->Run();
    }
  } end_read{reader, options.count_total};
  if (options.count_total) {
    Sql count = sql;
    if (f.counter) {
      count = *f.counter;
    } else {
      count.text = "SELECT COUNT(*) FROM " + f.count_from + " WHERE " + f.where;
    }
    auto* stmt = reader->Statement(count.text, &error);
    if (!stmt) return Internal("prepare", error);
    count.BindAll(stmt);
    status = ForEachRow(stmt, "count", [&] {
      page->total = stmt->ColumnInt(0);
      return grpc::Status::OK;
    });
    if (!status.ok()) return status;
  }
  BuildListSql(f, options, &sql);
  auto* stmt = reader->Statement(sql.text, &error);
  if (!stmt) return Internal("prepare", error);
  sql.BindAll(stmt);
  int rows = 0;
  StanceCursor last;
  status = ForEachRow(stmt, "query", [&]() -> grpc::Status {
    if (rows == options.limit) {
      // One row beyond the page: there is more, and the cursor is the last row returned.
      page->next = std::move(last);
      return kStop;
    }
    ++rows;
    last.published_nanos = stmt->ColumnInt(1);
    last.id.assign(stmt->ColumnText(2));
    if (options.serialized) {
      page->serialized.emplace_back(stmt->ColumnBlob(0));
      return grpc::Status::OK;
    }
    v1::Stance stance;
    if (!ParseStance(stmt->ColumnBlob(0), &stance)) {
      return Internal("decode", "stance " + last.id + " is corrupt");
    }
    page->stances.push_back(std::move(stance));
    return grpc::Status::OK;
  });
  return IsStop(status) ? grpc::Status::OK : status;
}

std::string SqliteStanceStore::ExplainList(const StanceFilter& filter, const ListOptions& options) {
  std::string error;
  auto reader = AcquireReader(&error);
  if (!reader) return error;
  Sql sql;
  FilterSql f;
  std::string plan;
  if (BuildFilter(reader.get(), filter, &sql, &f).ok() && !f.none) {
    BuildListSql(f, options, &sql);
    auto stmt = reader->db.Prepare("EXPLAIN QUERY PLAN " + sql.text);
    sql.BindAll(&stmt);
    while (stmt.Step() == SQLITE_ROW) plan += std::string(stmt.ColumnText(3)) + "\n";
  }
  ReleaseReader(std::move(reader));
  return plan;
}

bool SqliteStanceStore::Analyze(std::string* error) {
  std::lock_guard lock(write_mu_);
  return writer_.Exec("ANALYZE", error);
}

grpc::Status SqliteStanceStore::Count(int64_t* count) {
  SW_BORROW_READER(reader);
  std::string error;
  // The counter the writer keeps, not a scan of the whole table.
  auto* stmt = reader->Statement("SELECT COALESCE(SUM(n), 0) FROM totals WHERE kind = ''", &error);
  if (!stmt) return Internal("prepare", error);
  return ForEachRow(stmt, "count", [&] {
    *count = stmt->ColumnInt(0);
    return grpc::Status::OK;
  });
}

static grpc::Status LoadActors(SqliteStanceStore::Reader* reader,
                               std::map<std::string, ActorRef>* actors) {
  std::string error;
  auto* stmt = reader->Statement("SELECT id, name, kind FROM actors", &error);
  if (!stmt) return Internal("prepare", error);
  return ForEachRow(stmt, "actors", [&] {
    ActorRef a{std::string(stmt->ColumnText(0)), std::string(stmt->ColumnText(1)),
               std::string(stmt->ColumnText(2))};
    (*actors)[a.id] = a;
    return grpc::Status::OK;
  });
}

grpc::Status SqliteStanceStore::ListActors(const std::string& topic,
                                           std::vector<ActorStats>* actors) {
  actors->clear();
  SW_BORROW_READER(reader);
  std::vector<std::string> keys;
  if (!topic.empty()) {
    grpc::Status status = TopicKeys(reader, topic, &keys);
    if (!status.ok() || keys.empty()) return status;
  }
  std::map<std::string, ActorRef> names;
  grpc::Status status = LoadActors(reader, &names);
  if (!status.ok()) return status;

  Sql sql;
  sql.text = "SELECT actor_id, position, SUM(n) FROM actor_counts";
  if (!keys.empty()) sql.text += " WHERE topic IN " + InList(&sql, keys);
  sql.text += " GROUP BY actor_id, position HAVING SUM(n) > 0 ORDER BY actor_id, position";
  std::string error;
  auto* stmt = reader->Statement(sql.text, &error);
  if (!stmt) return Internal("prepare", error);
  sql.BindAll(stmt);
  status = ForEachRow(stmt, "actor counts", [&] {
    std::string id(stmt->ColumnText(0));
    if (actors->empty() || actors->back().actor.id != id) {
      actors->emplace_back();
      auto it = names.find(id);
      actors->back().actor = it != names.end() ? it->second : ActorRef{id, id, ""};
    }
    auto& a = actors->back();
    int64_t n = stmt->ColumnInt(2);
    a.position_counts.emplace_back(static_cast<v1::Position>(stmt->ColumnInt(1)), n);
    a.stance_count += n;
    return grpc::Status::OK;
  });
  if (!status.ok()) return status;

  Sql latest;
  latest.text = "SELECT body FROM stances WHERE actor_id = " + latest.P(std::string());
  if (!keys.empty()) latest.text += " AND +topic IN " + InList(&latest, keys);
  latest.text += " ORDER BY published DESC, id DESC LIMIT 1";
  stmt = reader->Statement(latest.text, &error);
  if (!stmt) return Internal("prepare", error);
  for (auto& a : *actors) {
    latest.params[0] = a.actor.id;
    latest.BindAll(stmt);
    status = ForEachRow(stmt, "latest", [&]() -> grpc::Status {
      if (!ParseStance(stmt->ColumnBlob(0), &a.latest)) {
        return Internal("decode", "latest stance of " + a.actor.id + " is corrupt");
      }
      return grpc::Status::OK;
    });
    if (!status.ok()) return status;
  }
  std::stable_sort(actors->begin(), actors->end(), [](const ActorStats& x, const ActorStats& y) {
    return x.stance_count > y.stance_count;
  });
  return grpc::Status::OK;
}

grpc::Status SqliteStanceStore::ListConditions(const std::string& topic,
                                               std::vector<ConditionStats>* conditions) {
  conditions->clear();
  SW_BORROW_READER(reader);
  std::vector<std::string> keys;
  if (!topic.empty()) {
    grpc::Status status = TopicKeys(reader, topic, &keys);
    if (!status.ok() || keys.empty()) return status;
  }
  std::map<std::string, ActorRef> names;
  grpc::Status status = LoadActors(reader, &names);
  if (!status.ok()) return status;
  Sql sql;
  sql.text = "SELECT kind, actor_id, SUM(n) FROM condition_counts";
  if (!keys.empty()) sql.text += " WHERE topic IN " + InList(&sql, keys);
  sql.text += " GROUP BY kind, actor_id HAVING SUM(n) > 0 ORDER BY kind, actor_id";
  std::string error;
  auto* stmt = reader->Statement(sql.text, &error);
  if (!stmt) return Internal("prepare", error);
  sql.BindAll(stmt);
  status = ForEachRow(stmt, "condition counts", [&] {
    std::string kind(stmt->ColumnText(0));
    if (conditions->empty() || conditions->back().kind != kind) {
      conditions->emplace_back();
      conditions->back().kind = kind;
    }
    auto& c = conditions->back();
    std::string id(stmt->ColumnText(1));
    auto it = names.find(id);
    int64_t n = stmt->ColumnInt(2);
    c.actors.emplace_back(it != names.end() ? it->second : ActorRef{id, id, ""}, n);
    c.stance_count += n;
    return grpc::Status::OK;
  });
  if (!status.ok()) return status;
  for (auto& c : *conditions) {
    std::stable_sort(c.actors.begin(), c.actors.end(),
                     [](const auto& x, const auto& y) { return x.second > y.second; });
  }
  std::stable_sort(conditions->begin(), conditions->end(),
                   [](const ConditionStats& x, const ConditionStats& y) {
                     return x.stance_count > y.stance_count;
                   });
  return grpc::Status::OK;
}

grpc::Status SqliteStanceStore::ListClaims(const StanceFilter& filter, const ClaimOptions& options,
                                           ClaimPage* page) {
  page->claims.clear();
  page->more = false;
  page->total.reset();
  SW_BORROW_READER(reader);
  Sql sql;
  FilterSql f;
  grpc::Status status = BuildFilter(reader, filter, &sql, &f);
  if (!status.ok()) return status;
  if (f.none) {
    if (options.count_total) page->total = 0;
    return grpc::Status::OK;
  }
  const std::string group =
      // The claim's columns are the same on every row of its group (claim_key names them).
      "SELECT s.actor_id, s.topic, s.position, s.condition_kinds, COUNT(*) AS n, "
      "COUNT(DISTINCT NULLIF(s.outlet, '')) AS o, MIN(s.published), MAX(s.published) AS last, "
      "s.claim_key FROM " +
      f.from + " WHERE " + f.where +
      " GROUP BY s.claim_key HAVING COUNT(*) >= " + sql.P(std::max<int64_t>(1, options.min_count));
  std::string error;
  if (options.count_total) {
    Sql count = sql;
    count.text = "SELECT COUNT(*) FROM (" + group + ")";
    auto* stmt = reader->Statement(count.text, &error);
    if (!stmt) return Internal("prepare", error);
    count.BindAll(stmt);
    status = ForEachRow(stmt, "count claims", [&] {
      page->total = stmt->ColumnInt(0);
      return grpc::Status::OK;
    });
    if (!status.ok()) return status;
  }
  // The filter's WHERE again, for the per-claim details below.
  const Sql filter_params = sql;
  sql.text = group +
             " ORDER BY n DESC, o DESC, last DESC, s.actor_id, s.topic, s.position, "
             "s.condition_kinds LIMIT " +
             sql.P(static_cast<int64_t>(options.limit) + 1) + " OFFSET " +
             sql.P(std::max<int64_t>(0, options.offset));
  auto* stmt = reader->Statement(sql.text, &error);
  if (!stmt) return Internal("prepare", error);
  sql.BindAll(stmt);
  std::vector<int64_t> claim_keys;  // parallel to page->claims
  status = ForEachRow(stmt, "claims", [&]() -> grpc::Status {
    if (static_cast<int>(page->claims.size()) == options.limit) {
      page->more = true;
      return kStop;
    }
    ClaimRecord c;
    c.actor.id = std::string(stmt->ColumnText(0));
    c.topic = std::string(stmt->ColumnText(1));
    c.position = static_cast<v1::Position>(stmt->ColumnInt(2));
    c.condition_kinds = SplitKinds(stmt->ColumnText(3));
    c.count = stmt->ColumnInt(4);
    c.first_seen_nanos = stmt->ColumnInt(6);
    c.last_seen_nanos = stmt->ColumnInt(7);
    claim_keys.push_back(stmt->ColumnInt(8));
    page->claims.push_back(std::move(c));
    return grpc::Status::OK;
  });
  if (!IsStop(status) && !status.ok()) return status;

  // Per claim: its newest reports (latest stance, item ids) and its outlets, under the same
  // filters, through the claim index.
  for (size_t i = 0; i < page->claims.size(); ++i) {
    auto& c = page->claims[i];
    Sql detail = filter_params;
    std::string key = " AND s.claim_key = " + detail.P(claim_keys[i]);
    Sql outlets = detail;
    detail.text = "SELECT s.body, s.item_id FROM " + f.from + " WHERE " + f.where + key +
                  " ORDER BY s.published DESC, s.id DESC LIMIT " +
                  detail.P(static_cast<int64_t>(kMaxClaimItemIds));
    auto* d = reader->Statement(detail.text, &error);
    if (!d) return Internal("prepare", error);
    detail.BindAll(d);
    status = ForEachRow(d, "claim items", [&]() -> grpc::Status {
      if (c.item_ids.empty() && !ParseStance(d->ColumnBlob(0), &c.latest)) {
        return Internal("decode",
                        "a stance of claim " + c.actor.id + "/" + c.topic + " is corrupt");
      }
      c.item_ids.emplace_back(d->ColumnText(1));
      return grpc::Status::OK;
    });
    if (!status.ok()) return status;
    c.actor.name = c.latest.actor().name();
    c.actor.kind = c.latest.actor().kind();
    outlets.text = "SELECT DISTINCT s.outlet FROM " + f.from + " WHERE " + f.where + key +
                   " AND s.outlet <> '' ORDER BY s.outlet";
    auto* o = reader->Statement(outlets.text, &error);
    if (!o) return Internal("prepare", error);
    outlets.BindAll(o);
    status = ForEachRow(o, "claim outlets", [&] {
      c.outlets.emplace_back(o->ColumnText(0));
      return grpc::Status::OK;
    });
    if (!status.ok()) return status;
  }
  return grpc::Status::OK;
}

std::unique_ptr<StanceStore> OpenStanceStore(const std::string& uri, std::string* error) {
  constexpr std::string_view kSqlite = "sqlite:";
  if (uri.rfind(kSqlite, 0) == 0) {
    std::string path = uri.substr(kSqlite.size());
    if (path.empty()) {
      *error = "store URI '" + uri + "' has no path (expected sqlite:PATH)";
      return nullptr;
    }
    return SqliteStanceStore::Open(path, error);
  }
  // postgres://USER@HOST:PORT/DB (or postgresql://...): handed to libpq unchanged.
  if (uri.rfind("postgres://", 0) == 0 || uri.rfind("postgresql://", 0) == 0) {
    return PostgresStanceStore::Open(uri, error);
  }
  *error =
      "unsupported store URI '" + uri + "' (expected sqlite:PATH or postgres://USER@HOST:PORT/DB)";
  return nullptr;
}

}  // namespace stancewire::query
