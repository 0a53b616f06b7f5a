#include "common/sqlite_db.h"

#include <filesystem>
#include <system_error>
#include <utility>

namespace stancewire {

SqliteStatement::SqliteStatement(sqlite3* db, std::string_view sql) : db_(db) {
  if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &stmt_, nullptr) != SQLITE_OK) {
    // SQLite's reason only: the statement text must not reach logs or clients.
    error_ = sqlite3_errmsg(db);
    stmt_ = nullptr;
  }
}

SqliteStatement::~SqliteStatement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)), error_(std::move(other.error_)) {}

SqliteStatement& SqliteStatement::operator=(SqliteStatement&& other) noexcept {
  if (this != &other) {
    if (stmt_) sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
    error_ = std::move(other.error_);
  }
  return *this;
}

void SqliteStatement::Bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}
void SqliteStatement::BindBlob(int index, std::string_view bytes) {
  sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
}
void SqliteStatement::BindView(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
}
void SqliteStatement::BindBlobView(int index, std::string_view bytes) {
  sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_STATIC);
}
void SqliteStatement::Bind(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
void SqliteStatement::Bind(int index, double value) { sqlite3_bind_double(stmt_, index, value); }
void SqliteStatement::BindNull(int index) { sqlite3_bind_null(stmt_, index); }

int SqliteStatement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) error_ = sqlite3_errmsg(db_);
  return rc;
}

bool SqliteStatement::Run() {
  int rc = Step();
  Reset();
  return rc == SQLITE_DONE;
}

void SqliteStatement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t SqliteStatement::ColumnInt(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string_view SqliteStatement::ColumnText(int column) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  return p ? std::string_view(p, sqlite3_column_bytes(stmt_, column)) : std::string_view();
}

std::string_view SqliteStatement::ColumnBlob(int column) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
  return p ? std::string_view(p, sqlite3_column_bytes(stmt_, column)) : std::string_view();
}

SqliteDb::~SqliteDb() {
  if (db_) sqlite3_close_v2(db_);
}

bool SqliteDb::Open(const std::string& path, bool read_only, std::string* error) {
  const int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    *error = "cannot open " + path + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory");
    return false;
  }
  // Writers and readers share the file; wait for a lock instead of failing at once.
  sqlite3_busy_timeout(db_, 5000);
  return true;
}

bool SqliteDb::Exec(std::string_view sql, std::string* error) {
  char* message = nullptr;
  std::string owned(sql);
  if (sqlite3_exec(db_, owned.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    *error = message ? message : "unknown SQLite error";
    sqlite3_free(message);
    return false;
  }
  return true;
}

std::string SqliteDb::last_error() const { return db_ ? sqlite3_errmsg(db_) : "not open"; }

bool EnsureParentDirectory(const std::string& path, std::string* error) {
  auto parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return true;
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) {
    *error = "cannot create folder " + parent.string() + ": " + ec.message();
    return false;
  }
  return true;
}

bool CheckNotTruncated(const std::string& path, std::string* error) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size > 0) return true;  // missing (new), or not a regular file: Open will say
  // With WAL, a store's content may still be in PATH-wal alone, before its first checkpoint.
  const auto wal = std::filesystem::file_size(path + "-wal", ec);
  if (!ec && wal > 0) return true;
  *error = path +
           " is an empty file (0 bytes), not a database: restore it from a backup, or delete it "
           "to start with an empty one";
  return false;
}

}  // namespace stancewire
