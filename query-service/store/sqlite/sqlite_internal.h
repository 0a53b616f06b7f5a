// Pieces the SQLite backend's files share (schema, filter, writer, reads): error reporting,
// SQL with bound parameters, row iteration and the reader connection. Internal to store/sqlite/.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "common/sqlite_db.h"
#include "query-service/store/sqlite/sqlite_stance_store.h"
#include "query-service/store/store_error.h"

namespace stancewire::query {

struct SqliteStanceStore::Reader {
  SqliteDb db;
  std::unordered_map<std::string, std::unique_ptr<SqliteStatement>> statements;

  // A prepared statement for `sql`, reset and ready to bind; nullptr with the reason in *error.
  SqliteStatement* Statement(const std::string& sql, std::string* error) {
    auto it = statements.find(sql);
    if (it != statements.end()) {
      it->second->Reset();
      return it->second.get();
    }
    // Filters make many shapes of SQL; keep the cache bounded.
    if (statements.size() >= 512) statements.clear();
    auto stmt = std::make_unique<SqliteStatement>(db.Prepare(sql));
    if (!stmt->ok()) {
      *error = stmt->error();
      return nullptr;
    }
    return statements.emplace(sql, std::move(stmt)).first->second.get();
  }
};

}  // namespace stancewire::query

namespace stancewire::query::sqlite_store {

inline grpc::Status Internal(const std::string& what, const std::string& detail) {
  return StoreInternal(what, detail);
}

// Escapes LIKE wildcards so that user words match literally.
inline std::string LikePattern(const std::string& word) {
  std::string out = "%";
  for (char c : word) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('%');
  return out;
}

// SQL text with numbered parameters, bound after prepare.
struct Sql {
  std::string text;
  std::vector<std::variant<std::string, int64_t, double>> params;

  std::string P(std::string v) {
    params.emplace_back(std::move(v));
    return "?" + std::to_string(params.size());
  }
  std::string P(int64_t v) {
    params.emplace_back(v);
    return "?" + std::to_string(params.size());
  }
  std::string P(double v) {
    params.emplace_back(v);
    return "?" + std::to_string(params.size());
  }
  void BindAll(SqliteStatement* stmt) const {
    for (size_t i = 0; i < params.size(); ++i) {
      std::visit([&](const auto& v) { stmt->Bind(static_cast<int>(i + 1), v); }, params[i]);
    }
  }
};

inline bool ParseStance(std::string_view body, v1::Stance* stance) {
  return stance->ParseFromArray(body.data(), static_cast<int>(body.size()));
}

// Runs `stmt` (already bound) to the end, calling on_row for each row; on_row returns false to
// stop early. Resets the statement afterwards. Returns an INTERNAL status on SQLite errors.
template <typename F>
grpc::Status ForEachRow(SqliteStatement* stmt, const std::string& what, F on_row) {
  int rc;
  grpc::Status status = grpc::Status::OK;
  while ((rc = stmt->Step()) == SQLITE_ROW) {
    status = on_row();
    if (!status.ok()) break;
  }
  if (status.ok() && rc != SQLITE_ROW && rc != SQLITE_DONE) status = Internal(what, stmt->error());
  stmt->Reset();
  return status;
}

// Stop marker for ForEachRow: an OK status with a special message is awkward; use CANCELLED
// internally and translate.
inline const grpc::Status kStop(grpc::StatusCode::CANCELLED, "stop");
inline bool IsStop(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::CANCELLED && s.error_message() == "stop";
}

// "(?1, ?2, ...)": the values bound as parameters of `sql`.
inline std::string InList(Sql* sql, const std::vector<std::string>& values) {
  std::string out = "(";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + sql->P(values[i]);
  return out + ")";
}

}  // namespace stancewire::query::sqlite_store
