// Filter to SQL for the PostgreSQL backend: the WHERE clause of a StanceFilter over "stances s",
// and topic words resolved to stored topic keys. Internal to store/postgres/.
#pragma once

#include <string>
#include <vector>

#include "query-service/store/postgres/postgres_internal.h"

namespace stancewire::query::postgres_store {

// The WHERE clause (over "stances s") for a filter; see StanceFilter for the semantics.
void BuildWhere(const StanceFilter& filter, Sql* sql, std::string* where);

// Topic keys a topic filter selects: the key itself (ASCII case-insensitively) or words found in
// the key or in any label the topic was reported under.
grpc::Status TopicKeys(PostgresStanceStore::Conn* conn, const TopicFilter& topic,
                       std::vector<std::string>* keys);

}  // namespace stancewire::query::postgres_store
