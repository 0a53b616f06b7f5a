// Pieces the PostgreSQL backend's files share (schema, filter, writer, reads, change feed):
// error reporting, SQL with parameters, result readers, connections and read transactions.
// Internal to store/postgres/.
#pragma once

#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "query-service/store/postgres/postgres_stance_store.h"
#include "query-service/store/store_error.h"

namespace stancewire::query::postgres_store {

inline grpc::Status Internal(const std::string& what, const std::string& detail) {
  return StoreInternal(what, detail);
}

inline grpc::Status Unavailable(const std::string& detail) {
  spdlog::warn("store: PostgreSQL unavailable: {}", detail);
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      "store: PostgreSQL is unavailable (the reason is in query-service's log)");
}

inline std::string Trimmed(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A text[] literal: every element quoted, with '"' and '\' escaped.
inline std::string ArrayLiteral(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

// ASCII case folding of an SQL expression (lower() under the C collation folds A-Z only).
inline std::string Fold(const std::string& expr) { return "lower((" + expr + ") COLLATE \"C\")"; }

// SQL text with numbered parameters ($1, $2, ...), all sent as text except bytea (binary).
struct Sql {
  std::string text;
  std::vector<std::string> values;
  std::vector<int> formats;
  bool has_nul = false;

  std::string P(const std::string& v) {
    if (v.find('\0') != std::string::npos) has_nul = true;
    return Add(v, 0) + "::text";
  }
  std::string P(int64_t v) { return Add(std::to_string(v), 0) + "::bigint"; }
  std::string PArray(const std::vector<std::string>& v) {
    for (const auto& s : v) {
      if (s.find('\0') != std::string::npos) has_nul = true;
    }
    return Add(ArrayLiteral(v), 0) + "::text[]";
  }
  std::string PBytes(const std::string& v) { return Add(v, 1) + "::bytea"; }
  // A float as text that reads back to the same float ("%.9g" round-trips).
  std::string PReal(float v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
    return Add(buf, 0) + "::real";
  }

 private:
  std::string Add(std::string v, int format) {
    values.push_back(std::move(v));
    formats.push_back(format);
    return "$" + std::to_string(values.size());
  }
};

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// Binary-format column readers.
inline std::string_view Bytes(const PGresult* r, int row, int col) {
  return std::string_view(PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col)));
}

inline int64_t Int(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return 0;
  const auto* p = reinterpret_cast<const unsigned char*>(PQgetvalue(r, row, col));
  const int len = PQgetlength(r, row, col);
  uint64_t v = 0;
  for (int i = 0; i < len; ++i) v = (v << 8) | p[i];
  if (len == 8) return static_cast<int64_t>(v);
  if (len == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
  if (len == 2) return static_cast<int16_t>(static_cast<uint16_t>(v));
  return static_cast<int64_t>(v);
}

inline bool Bool(const PGresult* r, int row, int col) {
  return PQgetlength(r, row, col) == 1 && PQgetvalue(r, row, col)[0] != 0;
}

inline bool ParseStance(std::string_view body, v1::Stance* stance) {
  return stance->ParseFromArray(body.data(), static_cast<int>(body.size()));
}

inline std::string SqlState(const PGresult* r) {
  const char* s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  return s ? s : "";
}

}  // namespace stancewire::query::postgres_store

namespace stancewire::query {

struct PostgresStanceStore::Conn {
  using Sql = postgres_store::Sql;
  using Result = postgres_store::Result;
  PGconn* pg = nullptr;
  bool upsert_prepared = false;
  ~Conn() {
    if (pg) PQfinish(pg);
  }

  // Runs `sql`; binary results. Errors: UNAVAILABLE when the connection broke, else INTERNAL
  // (or `*sqlstate` for the caller to decide on retries).
  grpc::Status Exec(const Sql& sql, const std::string& what, Result* out = nullptr,
                    std::string* sqlstate = nullptr) {
    if (sql.has_nul) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "store: text values must not contain NUL characters");
    }
    std::vector<const char*> values;
    std::vector<int> lengths;
    for (const auto& v : sql.values) {
      values.push_back(v.c_str());
      lengths.push_back(static_cast<int>(v.size()));
    }
    Result r(PQexecParams(pg, sql.text.c_str(), static_cast<int>(values.size()), nullptr,
                          values.data(), lengths.data(), sql.formats.data(), /*binary=*/1));
    return Check(std::move(r), what, out, sqlstate);
  }

  grpc::Status Exec(const std::string& text, const std::string& what, Result* out = nullptr) {
    Sql sql;
    sql.text = text;
    return Exec(sql, what, out);
  }

  grpc::Status Check(Result r, const std::string& what, Result* out, std::string* sqlstate) {
    const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
      if (out) *out = std::move(r);
      return grpc::Status::OK;
    }
    // The primary message alone: the full one quotes the statement (LINE 1: SELECT ...).
    std::string message =
        r ? postgres_store::Trimmed(PQresultErrorField(r.get(), PG_DIAG_MESSAGE_PRIMARY)) : "";
    if (message.empty()) message = postgres_store::Trimmed(PQerrorMessage(pg));
    if (sqlstate) *sqlstate = postgres_store::SqlState(r.get());
    if (PQstatus(pg) == CONNECTION_BAD) return postgres_store::Unavailable(what + ": " + message);
    return postgres_store::Internal(what, message);
  }
};

}  // namespace stancewire::query

namespace stancewire::query::postgres_store {

// Ends a read transaction (or rolls back a failed one) when leaving scope.
class Transaction {
 public:
  explicit Transaction(PostgresStanceStore::Conn* conn) : conn_(conn) {}
  grpc::Status Begin(const char* sql) {
    grpc::Status s = conn_->Exec(sql, "begin");
    active_ = s.ok();
    return s;
  }
  grpc::Status Commit() {
    active_ = false;
    return conn_->Exec("COMMIT", "commit");
  }
  ~Transaction() {
    if (active_) conn_->Exec("ROLLBACK", "rollback");
  }

 private:
  PostgresStanceStore::Conn* conn_;
  bool active_ = false;
};

inline constexpr const char* kReadSnapshot = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

}  // namespace stancewire::query::postgres_store
