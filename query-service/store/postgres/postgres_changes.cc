// PostgresStanceStore's change listener: LISTEN on the change channel over a connection of its
// own, reconnecting with backoff (and then reporting that changes may have been missed).
#include <poll.h>

#include <chrono>
#include <thread>

#include "query-service/store/postgres/postgres_internal.h"

namespace stancewire::query {

using postgres_store::Result;
using postgres_store::Trimmed;

bool PostgresStanceStore::StartChangeFeed(StoredCallback on_stored, std::function<void()> on_missed,
                                          std::string* error) {
  return StartChangeListener(
      [this, on_stored = std::move(on_stored), on_missed = std::move(on_missed)](const Change& c) {
        if (c.local) return;
        if (c.all) {
          on_missed();
          return;
        }
        std::vector<v1::Stance> stances;
        if (GetStances({c.id}, &stances).ok() && !stances.empty()) on_stored(stances);
      },
      error);
}

bool PostgresStanceStore::StartChangeListener(ChangeCallback callback, std::string* error) {
  std::lock_guard lock(listener_mu_);
  if (listener_.joinable()) {
    *error = "a change listener already runs";
    return false;
  }
  std::string connect_error;
  PGconn* pg = ConnectPostgres(uri_, &connect_error);
  if (!pg) {
    *error = "cannot connect to PostgreSQL: " + connect_error;
    return false;
  }
  Result r(PQexec(pg, (std::string("LISTEN ") + kNotifyChannel).c_str()));
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    *error = "LISTEN failed: " + Trimmed(PQerrorMessage(pg));
    PQfinish(pg);
    return false;
  }
  stop_listener_ = false;
  listener_ = std::thread([this, callback = std::move(callback), pg] { ListenLoop(callback, pg); });
  return true;
}

void PostgresStanceStore::StopChangeListener() {
  std::lock_guard lock(listener_mu_);
  if (!listener_.joinable()) return;
  stop_listener_ = true;
  listener_.join();
}

void PostgresStanceStore::ListenLoop(ChangeCallback callback, PGconn* conn) {
  auto backoff = std::chrono::milliseconds(100);
  while (!stop_listener_) {
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
      if (conn) PQfinish(conn);
      conn = nullptr;
      // Wait (interruptibly), then reconnect and listen again.
      const auto until = std::chrono::steady_clock::now() + backoff;
      while (!stop_listener_ && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (stop_listener_) break;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      std::string error;
      conn = ConnectPostgres(uri_, &error);
      if (!conn) continue;
      Result r(PQexec(conn, (std::string("LISTEN ") + kNotifyChannel).c_str()));
      if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) continue;
      backoff = std::chrono::milliseconds(100);
      // Notifications sent while we were away are lost: tell the caller to re-read.
      callback(Change{"", true, false});
    }
    pollfd pfd{PQsocket(conn), POLLIN, 0};
    if (pfd.fd < 0) {
      PQfinish(conn);
      conn = nullptr;
      continue;
    }
    const int ready = ::poll(&pfd, 1, 200);
    if (ready < 0) continue;
    if (ready > 0 && !PQconsumeInput(conn)) {
      PQfinish(conn);  // the connection broke; reconnect above
      conn = nullptr;
      continue;
    }
    while (PGnotify* n = PQnotifies(conn)) {
      Change change;
      const std::string payload = n->extra ? n->extra : "";
      if (payload == kChangedMarker) {
        change.all = true;
      } else {
        change.id = payload;
      }
      {
        std::lock_guard lock(pool_mu_);
        change.local = backend_pids_.count(n->be_pid) > 0;
      }
      PQfreemem(n);
      callback(change);
    }
  }
  if (conn) PQfinish(conn);
}

}  // namespace stancewire::query
