// OpenStanceStore: the backend a store URI names.
#include "query-service/store/postgres/postgres_stance_store.h"
#include "query-service/store/sqlite/sqlite_stance_store.h"
#include "query-service/store/stance_store.h"

namespace stancewire::query {

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
