// PostgresStanceStore's connections: connecting, Open, and the pool of connections calls borrow
// (reset when broken, one retry on a fresh connection).
#include "query-service/store/postgres/postgres_stance_store.h"

#include <cstdlib>

#include "query-service/store/postgres/postgres_internal.h"

namespace stancewire::query {

using postgres_store::Trimmed;
using postgres_store::Unavailable;

PGconn* ConnectPostgres(const std::string& uri, std::string* error) {
  // The URI goes to libpq as it is (expand_dbname); the entries before it are defaults the URI
  // can override, and PG* environment variables fill in whatever neither sets.
  std::vector<const char*> keys = {"fallback_application_name"};
  std::vector<const char*> values = {"stancewire-query-service"};
  if (!std::getenv("PGCONNECT_TIMEOUT")) {
    keys.push_back("connect_timeout");
    values.push_back("10");
  }
  keys.push_back("dbname");
  values.push_back(uri.c_str());
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
  if (!conn) {
    *error = "out of memory";
    return nullptr;
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    *error = Trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    return nullptr;
  }
  if (PQsetClientEncoding(conn, "UTF8") != 0) {
    *error = "cannot use client encoding UTF8: " + Trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    return nullptr;
  }
  return conn;
}

PostgresStanceStore::PostgresStanceStore(std::string uri) : uri_(std::move(uri)) {}

PostgresStanceStore::~PostgresStanceStore() { StopChangeListener(); }

std::unique_ptr<PostgresStanceStore> PostgresStanceStore::Open(const std::string& uri,
                                                               std::string* error) {
  std::unique_ptr<PostgresStanceStore> store(new PostgresStanceStore(uri));
  if (!store->Migrate(error)) return nullptr;
  return store;
}

std::unique_ptr<PostgresStanceStore::Conn> PostgresStanceStore::Acquire(grpc::Status* status) {
  std::unique_ptr<Conn> conn;
  {
    std::unique_lock lock(pool_mu_);
    pool_cv_.wait(lock, [&] { return !idle_.empty() || open_ < kMaxConnections; });
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    } else {
      ++open_;  // reserve a slot; released below if connecting fails
    }
  }
  if (conn && PQstatus(conn->pg) != CONNECTION_OK) {
    // Broken while idle (server restart, network): reset it in place.
    const int old_pid = PQbackendPID(conn->pg);
    PQreset(conn->pg);
    std::lock_guard lock(pool_mu_);
    backend_pids_.erase(old_pid);
    if (PQstatus(conn->pg) == CONNECTION_OK) {
      backend_pids_.insert(PQbackendPID(conn->pg));
      conn->upsert_prepared = false;
      PQsetClientEncoding(conn->pg, "UTF8");
    } else {
      *status = Unavailable(Trimmed(PQerrorMessage(conn->pg)));
      conn.reset();
      --open_;
      pool_cv_.notify_one();
      return nullptr;
    }
  }
  if (!conn) {
    std::string error;
    PGconn* pg = ConnectPostgres(uri_, &error);
    std::lock_guard lock(pool_mu_);
    if (!pg) {
      --open_;
      pool_cv_.notify_one();
      *status = Unavailable(error);
      return nullptr;
    }
    conn = std::make_unique<Conn>();
    conn->pg = pg;
    backend_pids_.insert(PQbackendPID(pg));
  }
  return conn;
}

void PostgresStanceStore::Release(std::unique_ptr<Conn> conn) {
  if (PQstatus(conn->pg) == CONNECTION_OK && PQtransactionStatus(conn->pg) != PQTRANS_IDLE) {
    conn->Exec("ROLLBACK", "rollback");
  }
  std::lock_guard lock(pool_mu_);
  if (PQstatus(conn->pg) != CONNECTION_OK || PQtransactionStatus(conn->pg) != PQTRANS_IDLE) {
    backend_pids_.erase(PQbackendPID(conn->pg));
    conn.reset();
    --open_;
  } else {
    idle_.push_back(std::move(conn));
  }
  pool_cv_.notify_one();
}

grpc::Status PostgresStanceStore::WithConn(const std::function<grpc::Status(Conn*)>& fn) {
  grpc::Status status;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto conn = Acquire(&status);
    if (!conn) return status;
    status = fn(conn.get());
    const bool broken = PQstatus(conn->pg) != CONNECTION_OK;
    Release(std::move(conn));
    if (status.ok() || !broken) return status;
  }
  return status;
}

}  // namespace stancewire::query
