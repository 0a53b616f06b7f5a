// Filter to SQL for the SQLite backend: the FROM and WHERE of a StanceFilter, which index drives
// the query, and whether the writer's counters can answer its COUNT. Internal to store/sqlite/.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "query-service/store/sqlite/sqlite_internal.h"

namespace stancewire::query::sqlite_store {

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

// Resolves topic words to the stored topic keys they can match (a small table), so that the
// main query can use the topic index; each row is still checked against its own label.
grpc::Status TopicKeys(SqliteStanceStore::Reader* reader, const TopicFilter& topic,
                       std::vector<std::string>* keys);

// Builds FROM/WHERE for `filter`. Index choice is made here, deterministically, instead of
// leaving it to the planner (which has no statistics on a fresh database): a condition kind
// drives through stance_kinds (with the actor when there is one), else the actor, else the
// outlet, else the topic, else time. Terms that must not drive are written as +column, which
// SQLite never uses for an index.
grpc::Status BuildFilter(SqliteStanceStore::Reader* reader, const StanceFilter& filter, Sql* sql,
                         FilterSql* out);

// The page query over a built filter: ordered by (published, id), after the cursor, one row
// beyond the limit (which tells that more follow).
void BuildListSql(const FilterSql& f, const ListOptions& options, Sql* sql);

}  // namespace stancewire::query::sqlite_store
