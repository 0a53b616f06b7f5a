#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace stancewire {

// Thin RAII over the SQLite C API: just enough to keep statements prepared and errors readable.
class SqliteStatement {
 public:
  SqliteStatement() = default;
  SqliteStatement(sqlite3* db, std::string_view sql);  // check ok() / error()
  ~SqliteStatement();
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&& other) noexcept;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  const std::string& error() const { return error_; }

  // Binding indexes start at 1, as in SQLite. Bind and BindBlob copy the bytes; the *View
  // variants do not, so the bytes must stay valid until the statement is reset (Run resets).
  void Bind(int index, std::string_view text);
  void BindBlob(int index, std::string_view bytes);
  void BindView(int index, std::string_view text);
  void BindBlobView(int index, std::string_view bytes);
  void Bind(int index, int64_t value);
  void Bind(int index, double value);
  void BindNull(int index);

  // Steps once. Returns SQLITE_ROW, SQLITE_DONE or an error code (message in error()).
  int Step();
  // Steps to completion (for statements that return no rows). True on SQLITE_DONE.
  bool Run();
  void Reset();

  int64_t ColumnInt(int column) const;
  std::string_view ColumnText(int column) const;
  std::string_view ColumnBlob(int column) const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  std::string error_;
};

class SqliteDb {
 public:
  SqliteDb() = default;
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Opens (creating if needed) the database file. Returns false with the reason in *error.
  bool Open(const std::string& path, bool read_only, std::string* error);
  // Runs one or more statements separated by ';'. Returns false with the reason in *error.
  bool Exec(std::string_view sql, std::string* error);
  SqliteStatement Prepare(std::string_view sql) { return SqliteStatement(db_, sql); }
  sqlite3* handle() const { return db_; }
  std::string last_error() const;

 private:
  sqlite3* db_ = nullptr;
};

// Creates the parent folder of `path` if it is missing. False with the reason in *error.
bool EnsureParentDirectory(const std::string& path, std::string* error);

// SQLite takes an empty file for an empty database, so a store truncated to 0 bytes (a failed
// copy or restore) would silently start empty. False, with the reason in *error, when `path` is
// an existing 0-byte file whose write-ahead log (PATH-wal) holds nothing either; a missing file
// (a new store, created by this process) is fine. Call before SqliteDb::Open creates the file.
bool CheckNotTruncated(const std::string& path, std::string* error);

}  // namespace stancewire
