// The PostgreSQL backend of StanceStore (libpq), for several query-service replicas over one
// database. docs/storage.md describes the URI, credentials, schema, migrations and replicas.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "query-service/store/stance_store.h"

typedef struct pg_conn PGconn;

namespace stancewire::query {

// Same behaviour as SqliteStanceStore (tests/unit/store_conformance_test.cc runs one suite against
// both): ASCII case-insensitive text comparisons, (published, id) order compared bytewise, keyset
// paging, Upsert in one transaction reporting only new or changed stances.
//
// Connections: a small pool (at most kMaxConnections, borrowed under a mutex); a connection that
// broke is reset (PQreset) on its next use, and a call whose connection broke mid-way is retried
// once on a fresh one. When the database cannot be reached calls return UNAVAILABLE.
//
// Schema migrations are versioned (table stancewire_schema_migrations) and run at Open under
// pg_advisory_lock, so replicas starting together migrate once and wait for each other.
//
// Every committed Upsert that changed something notifies channel kNotifyChannel (in the same
// transaction, so only committed changes are announced): the payload is a changed stance id, or
// kChangedMarker when a batch changed more than kMaxNotifiedIds stances.
class PostgresStanceStore : public StanceStore {
 public:
  static constexpr const char* kNotifyChannel = "stancewire_stances";
  static constexpr const char* kChangedMarker = "changed";
  // One notification per changed id up to this many (a whole commit of the store writer);
  // beyond it, one kChangedMarker.
  static constexpr size_t kMaxNotifiedIds = 20000;
  static constexpr size_t kMaxConnections = 8;

  // Connects to `uri` (postgres://... or postgresql://..., handed to libpq unchanged, so PG*
  // environment variables, ~/.pgpass / PGPASSFILE and sslmode apply) and migrates the schema.
  // nullptr with the reason in *error.
  static std::unique_ptr<PostgresStanceStore> Open(const std::string& uri, std::string* error);
  ~PostgresStanceStore() override;

  using StanceStore::List;
  grpc::Status Upsert(const std::vector<v1::Stance>& stances, UpsertResult* result = nullptr,
                      const std::vector<std::string_view>* wire = nullptr) override;
  grpc::Status List(const StanceFilter& filter, const ListOptions& options,
                    StancePage* page) override;
  grpc::Status Count(int64_t* count) override;
  grpc::Status ListActors(const TopicFilter& topic, std::vector<ActorStats>* actors) override;
  grpc::Status ListConditions(const TopicFilter& topic,
                              std::vector<ConditionStats>* conditions) override;
  grpc::Status ListClaims(const StanceFilter& filter, const ClaimOptions& options,
                          ClaimPage* page) override;

  // LISTEN/NOTIFY (StartChangeListener below): other replicas' changes, re-read by id.
  bool StartChangeFeed(StoredCallback on_stored, std::function<void()> on_missed,
                       std::string* error) override;
  void StopChangeFeed() override { StopChangeListener(); }

  // The stored stances with these ids (unknown ids are skipped), in the order asked for: what a
  // change listener re-reads.
  grpc::Status GetStances(const std::vector<std::string>& ids, std::vector<v1::Stance>* stances);

  // One notification from kNotifyChannel.
  struct Change {
    // The changed stance's id; empty when `all` is set.
    std::string id;
    // Something changed and which stances is not known (a large batch, or the listener
    // reconnected and may have missed notifications): re-read what you need.
    bool all = false;
    // The write was made through this store object (its own connections); a caller that already
    // publishes its own writes can skip these.
    bool local = false;
  };
  using ChangeCallback = std::function<void(const Change&)>;

  // Starts a thread that LISTENs on kNotifyChannel over a connection of its own and calls
  // `callback` (on that thread) for each notification. It reconnects with backoff when the
  // connection breaks and then reports Change{all = true}. Returns false with *error when the
  // first connection fails or a listener already runs.
  bool StartChangeListener(ChangeCallback callback, std::string* error);
  // Stops and joins the listener thread (also done by the destructor).
  void StopChangeListener();

  // The schema version Open left the database at.
  int64_t SchemaVersion() const { return schema_version_; }
  // How many migrations this build knows.
  static int64_t LatestSchemaVersion();

  struct Conn;

 private:
  explicit PostgresStanceStore(std::string uri);
  bool Migrate(std::string* error);
  grpc::Status BackfillSpeakers(Conn* conn);
  // Borrows a connection (waiting while kMaxConnections are in use); nullptr and an UNAVAILABLE
  // status when the database cannot be reached.
  std::unique_ptr<Conn> Acquire(grpc::Status* status);
  void Release(std::unique_ptr<Conn> conn);
  // Runs fn on a borrowed connection; when it fails because the connection broke, runs it once
  // more on a fresh connection.
  grpc::Status WithConn(const std::function<grpc::Status(Conn*)>& fn);
  void ListenLoop(ChangeCallback callback, PGconn* conn);

  const std::string uri_;
  int64_t schema_version_ = 0;

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<Conn>> idle_;
  size_t open_ = 0;  // connections open (idle and borrowed)
  std::set<int> backend_pids_;

  std::mutex listener_mu_;
  std::thread listener_;
  std::atomic<bool> stop_listener_{false};
};

// Opens a connection to `uri` the way the store does (libpq, URI unchanged, a connect timeout of
// 10 s unless the URI or PGCONNECT_TIMEOUT sets one). nullptr with the reason in *error.
PGconn* ConnectPostgres(const std::string& uri, std::string* error);

}  // namespace stancewire::query
