// Small stance builders shared by the unit tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/sqlite_db.h"
#include "stancewire/v1/stance.pb.h"

namespace stancewire::testing {

// An empty folder of the current test's own ("stancewire-PREFIX-PID-TEST"), so that tests and
// parallel runs never share files.
inline std::filesystem::path FreshTestDir(const std::string& prefix) {
  auto dir = std::filesystem::temp_directory_path() /
             ("stancewire-" + prefix + "-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  return dir;
}

inline v1::Stance MakeStance(
    const std::string& id, const std::string& actor_id, const std::string& actor_name,
    v1::Position position, int64_t published_seconds,
    const std::vector<std::pair<std::string, std::string>>& conditions = {}) {
  v1::Stance s;
  s.set_id(id);
  s.set_item_id("item-" + id);
  s.mutable_actor()->set_id(actor_id);
  s.mutable_actor()->set_name(actor_name);
  s.mutable_actor()->set_mention(actor_name);
  s.set_topic("gaza-international-stabilization-force");
  s.set_position(position);
  s.mutable_published()->set_seconds(published_seconds);
  for (const auto& [kind, text] : conditions) {
    auto* c = s.add_conditions();
    c->set_kind(kind);
    c->set_text(text);
  }
  return s;
}

// An outbox file as the ingest-service before the StanceRecords format wrote it: one serialized
// Stance per entry. The first `acknowledged` were delivered and deleted already.
inline void WriteVersion0Outbox(const std::string& path, const std::vector<v1::Stance>& stances,
                                size_t acknowledged) {
  SqliteDb db;
  std::string error;
  ASSERT_TRUE(db.Open(path, /*read_only=*/false, &error)) << error;
  ASSERT_TRUE(
      db.Exec("PRAGMA journal_mode=WAL; CREATE TABLE outbox (seq INTEGER PRIMARY KEY "
              "AUTOINCREMENT, body BLOB NOT NULL);",
              &error))
      << error;
  auto insert = db.Prepare("INSERT INTO outbox(body) VALUES (?1)");
  for (const auto& s : stances) {
    insert.BindBlob(1, s.SerializeAsString());
    ASSERT_TRUE(insert.Run()) << insert.error();
  }
  auto remove = db.Prepare("DELETE FROM outbox WHERE seq <= ?1");
  remove.Bind(1, static_cast<int64_t>(acknowledged));
  ASSERT_TRUE(remove.Run()) << remove.error();
}

}  // namespace stancewire::testing
