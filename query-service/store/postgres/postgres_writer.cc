// PostgresStanceStore::Upsert: one transaction per batch, rows locked in id order, changed ids
// announced on the change channel at commit, retried on serialization failures and deadlocks.
#include <algorithm>
#include <chrono>
#include <map>
#include <numeric>
#include <thread>

#include "query-service/store/postgres/postgres_internal.h"

namespace stancewire::query {
namespace {

constexpr const char* kUpsertStatement = "stancewire_upsert";
constexpr const char* kUpsertSql =
    "SELECT stancewire_upsert_stance($1, $2, $3, $4, $5, $6, $7, $8::integer, $9, "
    "$10::bigint, $11, $12::bytea, $13::text[], $14::text[], $15::text[], $16, $17::real)";

}  // namespace

using postgres_store::Bool;
using postgres_store::Result;
using postgres_store::Sql;
using postgres_store::Transaction;

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
      sql.P(st.speaker());
      sql.PReal(st.confidence());
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

}  // namespace stancewire::query
