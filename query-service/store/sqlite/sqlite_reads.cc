// SqliteStanceStore's reads: pages of stances, counts, actors, conditions and claims, each on a
// borrowed reader connection.
#include <algorithm>
#include <functional>
#include <map>

#include "query-service/store/aggregates.h"
#include "query-service/store/sqlite/sqlite_filter.h"

namespace stancewire::query {

using sqlite_store::BuildFilter;
using sqlite_store::BuildListSql;
using sqlite_store::FilterSql;
using sqlite_store::ForEachRow;
using sqlite_store::InList;
using sqlite_store::Internal;
using sqlite_store::IsStop;
using sqlite_store::kStop;
using sqlite_store::ParseStance;
using sqlite_store::Sql;

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

namespace {

// ListActors' and ListConditions' rows from the counters the writer keeps, on one reader.
class SqliteAggregates final : public AggregateSource {
 public:
  explicit SqliteAggregates(SqliteStanceStore::Reader* reader) : reader_(reader) {}

  grpc::Status TopicKeys(const TopicFilter& topic, std::vector<std::string>* keys) override {
    return sqlite_store::TopicKeys(reader_, topic, keys);
  }

  grpc::Status ActorCounts(const std::vector<std::string>& topics,
                           const ActorCountRow& row) override {
    Sql sql;
    sql.text = "SELECT actor_id, position, SUM(n) FROM actor_counts";
    if (!topics.empty()) sql.text += " WHERE topic IN " + InList(&sql, topics);
    sql.text += " GROUP BY actor_id, position HAVING SUM(n) > 0 ORDER BY actor_id, position";
    return Rows(sql, "actor counts", [&](SqliteStatement* stmt) {
      row(stmt->ColumnText(0), static_cast<v1::Position>(stmt->ColumnInt(1)), stmt->ColumnInt(2));
    });
  }

  grpc::Status ConditionCounts(const std::vector<std::string>& topics,
                               const ConditionCountRow& row) override {
    Sql sql;
    sql.text = "SELECT kind, actor_id, SUM(n) FROM condition_counts";
    if (!topics.empty()) sql.text += " WHERE topic IN " + InList(&sql, topics);
    sql.text += " GROUP BY kind, actor_id HAVING SUM(n) > 0 ORDER BY kind, actor_id";
    return Rows(sql, "condition counts", [&](SqliteStatement* stmt) {
      row(stmt->ColumnText(0), stmt->ColumnText(1), stmt->ColumnInt(2));
    });
  }

  // All of them: the table is small, and one statement serves every call.
  grpc::Status LoadActorNames(const std::vector<std::string>& /*ids*/, ActorNames* names) override {
    Sql sql;
    sql.text = "SELECT id, name, kind FROM actors";
    return Rows(sql, "actors", [&](SqliteStatement* stmt) {
      ActorRef a{std::string(stmt->ColumnText(0)), std::string(stmt->ColumnText(1)),
                 std::string(stmt->ColumnText(2))};
      (*names)[a.id] = a;
    });
  }

  // One indexed probe per actor (by actor, newest first).
  grpc::Status LatestStances(const std::vector<std::string>& topics,
                             std::vector<ActorStats>* actors) override {
    Sql latest;
    latest.text = "SELECT body FROM stances WHERE actor_id = " + latest.P(std::string());
    if (!topics.empty()) latest.text += " AND +topic IN " + InList(&latest, topics);
    latest.text += " ORDER BY published DESC, id DESC LIMIT 1";
    for (auto& a : *actors) {
      latest.params[0] = a.actor.id;
      bool corrupt = false;
      grpc::Status status = Rows(latest, "latest", [&](SqliteStatement* stmt) {
        corrupt = !ParseStance(stmt->ColumnBlob(0), &a.latest);
      });
      if (!status.ok()) return status;
      if (corrupt) return Internal("decode", "latest stance of " + a.actor.id + " is corrupt");
    }
    return grpc::Status::OK;
  }

 private:
  template <typename F>
  grpc::Status Rows(const Sql& sql, const std::string& what, F on_row) {
    std::string error;
    auto* stmt = reader_->Statement(sql.text, &error);
    if (!stmt) return Internal("prepare", error);
    sql.BindAll(stmt);
    return ForEachRow(stmt, what, [&] {
      on_row(stmt);
      return grpc::Status::OK;
    });
  }

  SqliteStanceStore::Reader* reader_;
};

}  // namespace

grpc::Status SqliteStanceStore::ListActors(const TopicFilter& topic,
                                           std::vector<ActorStats>* actors) {
  actors->clear();
  SW_BORROW_READER(reader);
  SqliteAggregates source(reader);
  return CollectActors(&source, topic, actors);
}

grpc::Status SqliteStanceStore::ListConditions(const TopicFilter& topic,
                                               std::vector<ConditionStats>* conditions) {
  conditions->clear();
  SW_BORROW_READER(reader);
  SqliteAggregates source(reader);
  return CollectConditions(&source, topic, conditions);
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

}  // namespace stancewire::query
