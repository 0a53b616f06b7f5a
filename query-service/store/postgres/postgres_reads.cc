// PostgresStanceStore's reads: pages of stances, counts, stances by id, actors, conditions and
// claims, each in one read-only snapshot where it takes more than one statement.
#include <algorithm>
#include <map>
#include <unordered_map>

#include "query-service/store/aggregates.h"
#include "query-service/store/postgres/postgres_filter.h"

namespace stancewire::query {

using postgres_store::BuildWhere;
using postgres_store::Bytes;
using postgres_store::Int;
using postgres_store::Internal;
using postgres_store::kReadSnapshot;
using postgres_store::ParseStance;
using postgres_store::Result;
using postgres_store::Sql;
using postgres_store::Transaction;

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

// ListActors' and ListConditions' rows, counted from the stances in the caller's snapshot.
class PostgresAggregates final : public AggregateSource {
 public:
  explicit PostgresAggregates(PostgresStanceStore::Conn* conn) : conn_(conn) {}

  grpc::Status TopicKeys(const TopicFilter& topic, std::vector<std::string>* keys) override {
    return postgres_store::TopicKeys(conn_, topic, keys);
  }

  grpc::Status ActorCounts(const std::vector<std::string>& topics,
                           const ActorCountRow& row) override {
    Sql sql;
    sql.text = "SELECT actor_id, position, count(*) FROM stances WHERE " + OnTopics(topics, &sql) +
               " GROUP BY actor_id, position ORDER BY actor_id, position";
    Result r;
    grpc::Status s = conn_->Exec(sql, "actor counts", &r);
    for (int i = 0; s.ok() && i < PQntuples(r.get()); ++i) {
      row(Bytes(r.get(), i, 0), static_cast<v1::Position>(Int(r.get(), i, 1)), Int(r.get(), i, 2));
    }
    return s;
  }

  grpc::Status ConditionCounts(const std::vector<std::string>& topics,
                               const ConditionCountRow& row) override {
    Sql sql;
    sql.text = "SELECT kind, actor_id, count(*) FROM stance_kinds WHERE " + OnTopics(topics, &sql) +
               " GROUP BY kind, actor_id ORDER BY kind, actor_id";
    Result r;
    grpc::Status s = conn_->Exec(sql, "condition counts", &r);
    for (int i = 0; s.ok() && i < PQntuples(r.get()); ++i) {
      row(Bytes(r.get(), i, 0), Bytes(r.get(), i, 1), Int(r.get(), i, 2));
    }
    return s;
  }

  grpc::Status LoadActorNames(const std::vector<std::string>& ids, ActorNames* names) override {
    Sql sql;
    sql.text = "SELECT id, name, kind FROM actors WHERE id = ANY(" + sql.PArray(ids) + ")";
    Result r;
    grpc::Status s = conn_->Exec(sql, "actors", &r);
    for (int i = 0; s.ok() && i < PQntuples(r.get()); ++i) {
      ActorRef a{std::string(Bytes(r.get(), i, 0)), std::string(Bytes(r.get(), i, 1)),
                 std::string(Bytes(r.get(), i, 2))};
      (*names)[a.id] = a;
    }
    return s;
  }

  // One statement for every actor (DISTINCT ON).
  grpc::Status LatestStances(const std::vector<std::string>& topics,
                             std::vector<ActorStats>* actors) override {
    Sql sql;
    sql.text = "SELECT DISTINCT ON (actor_id) actor_id, body FROM stances WHERE " +
               OnTopics(topics, &sql) + " ORDER BY actor_id, published DESC, id DESC";
    Result r;
    grpc::Status s = conn_->Exec(sql, "latest", &r);
    if (!s.ok()) return s;
    std::unordered_map<std::string, int> row_of;
    for (int i = 0; i < PQntuples(r.get()); ++i) row_of[std::string(Bytes(r.get(), i, 0))] = i;
    for (auto& a : *actors) {
      auto it = row_of.find(a.actor.id);
      if (it != row_of.end() && !ParseStance(Bytes(r.get(), it->second, 1), &a.latest)) {
        return Internal("decode", "latest stance of " + a.actor.id + " is corrupt");
      }
    }
    return grpc::Status::OK;
  }

 private:
  static std::string OnTopics(const std::vector<std::string>& topics, Sql* sql) {
    return topics.empty() ? "TRUE" : "topic = ANY(" + sql->PArray(topics) + ")";
  }

  PostgresStanceStore::Conn* conn_;
};

// Runs `collect` in one read-only snapshot.
template <typename F>
grpc::Status InSnapshot(PostgresStanceStore::Conn* conn, F collect) {
  Transaction txn(conn);
  grpc::Status s = txn.Begin(kReadSnapshot);
  if (s.ok()) s = collect();
  return s.ok() ? txn.Commit() : s;
}

}  // namespace

grpc::Status PostgresStanceStore::ListActors(const TopicFilter& topic,
                                             std::vector<ActorStats>* actors) {
  return WithConn([&](Conn* conn) -> grpc::Status {
    PostgresAggregates source(conn);
    return InSnapshot(conn, [&] { return CollectActors(&source, topic, actors); });
  });
}

grpc::Status PostgresStanceStore::ListConditions(const TopicFilter& topic,
                                                 std::vector<ConditionStats>* conditions) {
  return WithConn([&](Conn* conn) -> grpc::Status {
    PostgresAggregates source(conn);
    return InSnapshot(conn, [&] { return CollectConditions(&source, topic, conditions); });
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

}  // namespace stancewire::query
