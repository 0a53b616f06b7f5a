#include "query-service/sqlite_stance_store.h"

#include <sstream>

namespace stancewire::query {
namespace {

// Each entry moves the schema one version forward; PRAGMA user_version records how far we are.
// Append only: never edit a migration that has shipped.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE stances (
  id TEXT PRIMARY KEY,
  item_id TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  actor_name TEXT NOT NULL,
  actor_mention TEXT NOT NULL,
  topic TEXT NOT NULL,
  position INTEGER NOT NULL,
  outlet TEXT NOT NULL,
  published INTEGER NOT NULL,
  body BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX stances_by_time ON stances(published DESC, id DESC);
CREATE INDEX stances_by_actor ON stances(actor_id, published DESC, id DESC);
CREATE TABLE stance_conditions (
  stance_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  text TEXT NOT NULL
);
CREATE INDEX stance_conditions_by_stance ON stance_conditions(stance_id);
CREATE INDEX stance_conditions_by_kind ON stance_conditions(kind, stance_id);
)sql",
};

grpc::Status Internal(const std::string& what, const std::string& detail) {
  return grpc::Status(grpc::StatusCode::INTERNAL, "store: " + what + ": " + detail);
}

// Escapes LIKE wildcards so that user words match literally.
std::string LikePattern(const std::string& word) {
  std::string out = "%";
  for (char c : word) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('%');
  return out;
}

std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::string Upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c == ' ' || c == '-') c = '_';
  }
  return s;
}

}  // namespace

int64_t TimestampNanos(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1000000000LL + ts.nanos();
}

std::unique_ptr<SqliteStanceStore> SqliteStanceStore::Open(const std::string& path,
                                                           std::string* error) {
  if (!EnsureParentDirectory(path, error)) return nullptr;
  std::unique_ptr<SqliteStanceStore> store(new SqliteStanceStore(path));
  if (!store->writer_.Open(path, /*read_only=*/false, error)) return nullptr;
  // WAL lets readers run while the writer commits; synchronous=FULL makes every acknowledged
  // batch survive a power cut, not only a crash.
  if (!store->writer_.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", error)) {
    *error = path + ": " + *error;
    return nullptr;
  }
  if (!store->Migrate(error)) {
    *error = path + ": " + *error;
    return nullptr;
  }
  return store;
}

bool SqliteStanceStore::Migrate(std::string* error) {
  // BEGIN IMMEDIATE takes the write lock first, so two processes starting together migrate once.
  if (!writer_.Exec("BEGIN IMMEDIATE", error)) return false;
  auto version_stmt = writer_.Prepare("PRAGMA user_version");
  int64_t version = version_stmt.Step() == SQLITE_ROW ? version_stmt.ColumnInt(0) : 0;
  const int64_t target = static_cast<int64_t>(std::size(kMigrations));
  if (version > target) {
    writer_.Exec("ROLLBACK", error);
    *error = "schema version " + std::to_string(version) + " is newer than this build knows (" +
             std::to_string(target) + ")";
    return false;
  }
  for (; version < target; ++version) {
    if (!writer_.Exec(kMigrations[version], error)) {
      std::string ignored;
      writer_.Exec("ROLLBACK", &ignored);
      *error = "migration " + std::to_string(version + 1) + " failed: " + *error;
      return false;
    }
  }
  return writer_.Exec("PRAGMA user_version=" + std::to_string(target) + "; COMMIT", error);
}

grpc::Status SqliteStanceStore::Upsert(const std::vector<v1::Stance>& stances) {
  std::lock_guard lock(write_mu_);
  std::string error;
  if (!writer_.Exec("BEGIN IMMEDIATE", &error)) return Internal("begin", error);
  auto upsert = writer_.Prepare(
      "INSERT INTO stances(id, item_id, actor_id, actor_name, actor_mention, topic, position, "
      "outlet, published, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
      "ON CONFLICT(id) DO UPDATE SET item_id=excluded.item_id, actor_id=excluded.actor_id, "
      "actor_name=excluded.actor_name, actor_mention=excluded.actor_mention, "
      "topic=excluded.topic, position=excluded.position, outlet=excluded.outlet, "
      "published=excluded.published, body=excluded.body");
  auto clear_conditions = writer_.Prepare("DELETE FROM stance_conditions WHERE stance_id = ?1");
  auto add_condition =
      writer_.Prepare("INSERT INTO stance_conditions(stance_id, kind, text) VALUES (?1, ?2, ?3)");
  for (auto* stmt : {&upsert, &clear_conditions, &add_condition}) {
    if (!stmt->ok()) {
      writer_.Exec("ROLLBACK", &error);
      return Internal("prepare", stmt->error());
    }
  }
  std::string body;
  for (const auto& s : stances) {
    s.SerializeToString(&body);
    upsert.Bind(1, s.id());
    upsert.Bind(2, s.item_id());
    upsert.Bind(3, s.actor().id());
    upsert.Bind(4, s.actor().name());
    upsert.Bind(5, s.actor().mention());
    upsert.Bind(6, s.topic());
    upsert.Bind(7, static_cast<int64_t>(s.position()));
    upsert.Bind(8, s.outlet());
    upsert.Bind(9, TimestampNanos(s.published()));
    upsert.BindBlob(10, body);
    bool ok = upsert.Run();
    clear_conditions.Bind(1, s.id());
    ok = ok && clear_conditions.Run();
    for (const auto& c : s.conditions()) {
      if (!ok) break;
      add_condition.Bind(1, s.id());
      add_condition.Bind(2, c.kind());
      add_condition.Bind(3, c.text());
      ok = add_condition.Run();
    }
    if (!ok) {
      std::string detail = writer_.last_error();
      writer_.Exec("ROLLBACK", &error);
      return Internal("upsert " + s.id(), detail);
    }
  }
  if (!writer_.Exec("COMMIT", &error)) {
    std::string ignored;
    writer_.Exec("ROLLBACK", &ignored);
    return Internal("commit", error);
  }
  return grpc::Status::OK;
}

std::unique_ptr<SqliteDb> SqliteStanceStore::AcquireReader(std::string* error) {
  {
    std::lock_guard lock(readers_mu_);
    if (!readers_.empty()) {
      auto db = std::move(readers_.back());
      readers_.pop_back();
      return db;
    }
  }
  auto db = std::make_unique<SqliteDb>();
  if (!db->Open(path_, /*read_only=*/true, error)) return nullptr;
  return db;
}

void SqliteStanceStore::ReleaseReader(std::unique_ptr<SqliteDb> db) {
  std::lock_guard lock(readers_mu_);
  readers_.push_back(std::move(db));
}

grpc::Status SqliteStanceStore::List(const StanceFilter& filter, int limit,
                                     const std::optional<StanceCursor>& after, StancePage* page) {
  std::string sql = "SELECT s.body, s.published, s.id FROM stances s WHERE 1=1";
  // Placeholders are numbered as they are appended; bound by number after prepare.
  std::vector<std::pair<int, std::string>> texts;
  std::vector<std::pair<int, int64_t>> ints;
  int index = 0;
  auto text_param = [&](const std::string& v) {
    texts.emplace_back(++index, v);
    return "?" + std::to_string(index);
  };
  auto int_param = [&](int64_t v) {
    ints.emplace_back(++index, v);
    return "?" + std::to_string(index);
  };

  if (!filter.actor_ids.empty()) {
    sql += " AND s.actor_id IN (";
    for (size_t i = 0; i < filter.actor_ids.size(); ++i) {
      sql += (i ? ", " : "") + text_param(filter.actor_ids[i]);
    }
    sql += ")";
  } else if (!filter.actor_text.empty()) {
    std::string p = text_param(filter.actor_text);
    sql += " AND (s.actor_id = " + p + " COLLATE NOCASE OR s.actor_name = " + p +
           " COLLATE NOCASE OR s.actor_mention = " + p + " COLLATE NOCASE)";
  }
  if (!filter.condition.empty()) {
    sql += " AND EXISTS (SELECT 1 FROM stance_conditions c WHERE c.stance_id = s.id AND (c.kind = " +
           text_param(Upper(filter.condition));
    auto words = Words(filter.condition);
    if (!words.empty()) {
      sql += " OR (1=1";
      for (const auto& w : words) sql += " AND c.text LIKE " + text_param(LikePattern(w)) + " ESCAPE '\\'";
      sql += ")";
    }
    sql += "))";
  }
  if (after) {
    std::string p = int_param(after->published_nanos);
    sql += " AND (s.published < " + p + " OR (s.published = " + p +
           " AND s.id < " + text_param(after->id) + "))";
  }
  sql += " ORDER BY s.published DESC, s.id DESC LIMIT " + int_param(limit + 1);

  std::string error;
  auto db = AcquireReader(&error);
  if (!db) return Internal("open reader", error);
  grpc::Status status = grpc::Status::OK;
  {
    auto stmt = db->Prepare(sql);
    if (!stmt.ok()) {
      status = Internal("prepare", stmt.error());
    } else {
      for (auto& [i, v] : texts) stmt.Bind(i, v);
      for (auto& [i, v] : ints) stmt.Bind(i, v);
      page->stances.clear();
      page->next.reset();
      int rc;
      while ((rc = stmt.Step()) == SQLITE_ROW) {
        if (static_cast<int>(page->stances.size()) == limit) {
          // One row beyond the page: there is more, and the cursor is the last row returned.
          const auto& last = page->stances.back();
          page->next = StanceCursor{TimestampNanos(last.published()), last.id()};
          break;
        }
        v1::Stance stance;
        auto body = stmt.ColumnBlob(0);
        if (!stance.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
          status = Internal("decode", "stance " + std::string(stmt.ColumnText(2)) + " is corrupt");
          break;
        }
        page->stances.push_back(std::move(stance));
      }
      if (status.ok() && rc != SQLITE_ROW && rc != SQLITE_DONE) status = Internal("query", stmt.error());
    }
  }
  ReleaseReader(std::move(db));
  return status;
}

grpc::Status SqliteStanceStore::Count(int64_t* count) {
  std::string error;
  auto db = AcquireReader(&error);
  if (!db) return Internal("open reader", error);
  grpc::Status status = grpc::Status::OK;
  {
    auto stmt = db->Prepare("SELECT COUNT(*) FROM stances");
    if (stmt.ok() && stmt.Step() == SQLITE_ROW) {
      *count = stmt.ColumnInt(0);
    } else {
      status = Internal("count", stmt.error());
    }
  }
  ReleaseReader(std::move(db));
  return status;
}

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
  *error = "unsupported store URI '" + uri + "' (expected sqlite:PATH)";
  return nullptr;
}

}  // namespace stancewire::query
