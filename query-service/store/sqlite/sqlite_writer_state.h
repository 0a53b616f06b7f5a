// The SQLite writer connection's state: statements prepared once, the in-memory id index and
// what is known to be stored, and the counter changes of the open transaction. Internal to
// store/sqlite/ (Open builds it, Upsert uses it).
#pragma once

#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "query-service/stance_id_index.h"
#include "query-service/store/sqlite/sqlite_internal.h"

namespace stancewire::query {

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
            "claim_key, speaker_folded, confidence, body) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)")),
        find_stance(
            db.Prepare("SELECT id, actor_id, topic, position, condition_kinds, body FROM stances "
                       "WHERE seq = ?1")),
        update_stance(db.Prepare(
            "UPDATE stances SET item_id = ?2, actor_id = ?3, actor_name = ?4, "
            "actor_mention = ?5, topic = ?6, topic_label = ?7, position = ?8, outlet = ?9, "
            "outlet_folded = ?10, published = ?11, condition_kinds = ?12, claim_key = ?13, "
            "speaker_folded = ?14, confidence = ?15, body = ?16 WHERE seq = ?1")),
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

}  // namespace stancewire::query
