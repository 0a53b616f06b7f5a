#include "query-service/store/sqlite/sqlite_stance_store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/unit/test_stances.h"

namespace stancewire::query {
namespace {

using testing::MakeStance;

class SqliteStanceStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("store");
    std::string error;
    store_ = SqliteStanceStore::Open((dir_ / "sub" / "stances.db").string(), &error);
    ASSERT_TRUE(store_) << error;
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::vector<std::string> Ids(const StanceFilter& filter, int limit = 100) {
    StancePage page;
    EXPECT_TRUE(store_->List(filter, limit, std::nullopt, &page).ok());
    std::vector<std::string> ids;
    for (const auto& s : page.stances) ids.push_back(s.id());
    return ids;
  }

  std::filesystem::path dir_;
  std::unique_ptr<SqliteStanceStore> store_;
};

TEST_F(SqliteStanceStoreTest, UpsertIsIdempotentAndReplacesConditions) {
  auto s = MakeStance("s1", "AZE", "Azerbaijan", v1::POSITION_CONDITIONAL, 100,
                      {{"UN_MANDATE", "a UN Security Council resolution"}});
  ASSERT_TRUE(store_->Upsert({s, s}).ok());
  ASSERT_TRUE(store_->Upsert({s}).ok());
  int64_t count = 0;
  ASSERT_TRUE(store_->Count(&count).ok());
  EXPECT_EQ(count, 1);

  s.clear_conditions();
  s.set_position(v1::POSITION_UNDECIDED);
  ASSERT_TRUE(store_->Upsert({s}).ok());
  StanceFilter by_kind;
  by_kind.condition = "UN_MANDATE";
  EXPECT_TRUE(Ids(by_kind).empty());
  auto all = Ids({});
  ASSERT_EQ(all.size(), 1u);
}

TEST_F(SqliteStanceStoreTest, FiltersByActorIdsTextAndCondition) {
  ASSERT_TRUE(store_
                  ->Upsert({MakeStance("a", "AZE", "Azerbaijan", v1::POSITION_CONDITIONAL, 300,
                                       {{"UN_MANDATE", "a Security Council resolution"},
                                        {"CLEAR_MANDATE", "a clear mandate for the mission"}}),
                            MakeStance("b", "USA", "United States", v1::POSITION_SUPPORT, 200),
                            MakeStance("c", "TUR", "Turkey", v1::POSITION_CONDITIONAL, 100,
                                       {{"UN_MANDATE", "UN backing"}})})
                  .ok());
  StanceFilter f;
  f.actor_ids = {"AZE"};
  EXPECT_EQ(Ids(f), std::vector<std::string>{"a"});
  f = {};
  f.actor_text = "united states";
  EXPECT_EQ(Ids(f), std::vector<std::string>{"b"});
  f = {};
  f.condition = "un_mandate";  // kinds match case-insensitively
  EXPECT_EQ(Ids(f), (std::vector<std::string>{"a", "c"}));
  f.condition = "clear mandate";  // words in the condition text
  EXPECT_EQ(Ids(f), std::vector<std::string>{"a"});
  f.condition = "100%_";  // wildcards are literal
  EXPECT_TRUE(Ids(f).empty());
  f = {};
  f.actor_ids = {"TUR"};
  f.condition = "UN_MANDATE";
  EXPECT_EQ(Ids(f), std::vector<std::string>{"c"});
}

TEST_F(SqliteStanceStoreTest, PagesNewestFirstWithoutGapsOrRepeats) {
  std::vector<v1::Stance> stances;
  for (int i = 0; i < 25; ++i) {
    // Several stances share a timestamp so that the id breaks ties.
    stances.push_back(MakeStance("s" + std::to_string(100 + i), "AZE", "Azerbaijan",
                                 v1::POSITION_SUPPORT, 1000 + i / 3));
  }
  ASSERT_TRUE(store_->Upsert(stances).ok());
  std::vector<std::string> seen;
  std::optional<StanceCursor> after;
  int pages = 0;
  do {
    StancePage page;
    ASSERT_TRUE(store_->List({}, 7, after, &page).ok());
    for (const auto& s : page.stances) seen.push_back(s.id());
    after = page.next;
    ++pages;
  } while (after);
  EXPECT_EQ(pages, 4);
  ASSERT_EQ(seen.size(), 25u);
  for (int i = 0; i < 25; ++i) EXPECT_EQ(seen[i], "s" + std::to_string(124 - i));
}

TEST_F(SqliteStanceStoreTest, ReopenKeepsDataAndDoesNotRemigrate) {
  ASSERT_TRUE(store_->Upsert({MakeStance("x", "AZE", "Azerbaijan", v1::POSITION_SUPPORT, 1)}).ok());
  store_.reset();
  std::string error;
  store_ = SqliteStanceStore::Open((dir_ / "sub" / "stances.db").string(), &error);
  ASSERT_TRUE(store_) << error;
  EXPECT_EQ(Ids({}), std::vector<std::string>{"x"});
}

TEST_F(SqliteStanceStoreTest, UpsertReportsOnlyNewOrChangedStances) {
  auto a = MakeStance("a", "AZE", "Azerbaijan", v1::POSITION_UNDECIDED, 1);
  auto b = MakeStance("b", "TUR", "Turkey", v1::POSITION_SUPPORT, 2);
  UpsertResult result;
  ASSERT_TRUE(store_->Upsert({a, b, a}, &result).ok());
  EXPECT_EQ(result.changed, (std::vector<size_t>{0, 1}));
  a.set_position(v1::POSITION_CONDITIONAL);
  ASSERT_TRUE(store_->Upsert({b, a}, &result).ok());
  EXPECT_EQ(result.changed, (std::vector<size_t>{1}));
}

TEST_F(SqliteStanceStoreTest, CountersFollowUpdatesOfPositionAndConditions) {
  auto a = MakeStance("a", "AZE", "Azerbaijan", v1::POSITION_CONDITIONAL, 1,
                      {{"UN_MANDATE", "x"}, {"UN_MANDATE", "y"}, {"CEASEFIRE", "z"}});
  ASSERT_TRUE(
      store_->Upsert({a, MakeStance("b", "AZE", "Azerbaijan", v1::POSITION_SUPPORT, 2)}).ok());
  std::vector<ActorStats> actors;
  ASSERT_TRUE(store_->ListActors("", &actors).ok());
  ASSERT_EQ(actors.size(), 1u);
  EXPECT_EQ(actors[0].stance_count, 2);
  EXPECT_EQ(actors[0].latest.id(), "b");
  std::vector<ConditionStats> conditions;
  ASSERT_TRUE(store_->ListConditions("", &conditions).ok());
  ASSERT_EQ(conditions.size(), 2u);
  EXPECT_EQ(conditions[0].stance_count, 1);  // two UN_MANDATE phrases count one stance

  a.set_position(v1::POSITION_OPPOSE);
  a.clear_conditions();
  ASSERT_TRUE(store_->Upsert({a}).ok());
  ASSERT_TRUE(store_->ListActors("", &actors).ok());
  ASSERT_EQ(actors[0].position_counts.size(), 2u);
  EXPECT_EQ(actors[0].position_counts[0], std::make_pair(v1::POSITION_SUPPORT, int64_t{1}));
  EXPECT_EQ(actors[0].position_counts[1], std::make_pair(v1::POSITION_OPPOSE, int64_t{1}));
  ASSERT_TRUE(store_->ListConditions("", &conditions).ok());
  EXPECT_TRUE(conditions.empty());
}

TEST_F(SqliteStanceStoreTest, OldestFirstAndTotal) {
  std::vector<v1::Stance> stances;
  for (int i = 0; i < 10; ++i) {
    stances.push_back(MakeStance("s" + std::to_string(i), "AZE", "Azerbaijan", v1::POSITION_SUPPORT,
                                 100 + i / 2));
  }
  ASSERT_TRUE(store_->Upsert(stances).ok());
  ListOptions options;
  options.limit = 4;
  options.oldest_first = true;
  options.count_total = true;
  std::vector<std::string> seen;
  do {
    StancePage page;
    ASSERT_TRUE(store_->List({}, options, &page).ok());
    if (options.count_total) EXPECT_EQ(page.total, 10);
    for (const auto& s : page.stances) seen.push_back(s.id());
    options.after = page.next;
    options.count_total = false;
  } while (options.after);
  EXPECT_EQ(seen,
            (std::vector<std::string>{"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"}));
}

// Stances delivered with their wire form are stored as those very bytes (fields this build does
// not know included), and the same bytes again are a redelivery.
TEST_F(SqliteStanceStoreTest, StoresTheWireFormItWasGiven) {
  auto s = MakeStance("w1", "AZE", "Azerbaijan", v1::POSITION_SUPPORT, 100);
  std::string wire = s.SerializeAsString();
  wire += std::string("\xf8\x3e\x01", 3);  // field 999, varint 1: unknown to this build
  v1::Stance parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  std::vector<std::string_view> views = {wire};
  UpsertResult result;
  ASSERT_TRUE(store_->Upsert({parsed}, &result, &views).ok());
  EXPECT_EQ(result.changed, std::vector<size_t>{0});
  ListOptions options;
  options.serialized = true;
  StancePage page;
  ASSERT_TRUE(store_->List({}, options, &page).ok());
  ASSERT_EQ(page.serialized.size(), 1u);
  EXPECT_EQ(page.serialized[0], wire);
  ASSERT_TRUE(store_->Upsert({parsed}, &result, &views).ok());
  EXPECT_TRUE(result.changed.empty());
}

// The writer finds stored stances by a hash of their id, in memory. With every id hashing alike,
// upserts, redeliveries, revisions and a reopen must still treat each id as its own stance.
TEST_F(SqliteStanceStoreTest, IdsWithTheSameHashStayDistinct) {
  store_.reset();
  const auto path = (dir_ / "collide" / "stances.db").string();
  auto one_hash = [](std::string_view) -> uint64_t { return 1; };
  std::string error;
  store_ = SqliteStanceStore::Open(path, &error, one_hash);
  ASSERT_TRUE(store_) << error;
  std::vector<v1::Stance> batch;
  for (int i = 0; i < 6; ++i) {
    batch.push_back(MakeStance("c" + std::to_string(i), i % 2 ? "AZE" : "TUR", "x",
                               v1::POSITION_SUPPORT, 100 + i));
  }
  UpsertResult result;
  ASSERT_TRUE(store_->Upsert(batch, &result).ok());
  EXPECT_EQ(result.changed.size(), 6u);
  ASSERT_TRUE(store_->Upsert(batch, &result).ok());
  EXPECT_TRUE(result.changed.empty());  // every one found again, none taken for another

  for (int reopen = 0; reopen < 2; ++reopen) {
    batch[3].set_position(v1::POSITION_OPPOSE);
    batch[3].mutable_published()->set_seconds(200 + reopen);
    ASSERT_TRUE(store_->Upsert({batch[3], batch[0]}, &result).ok());
    EXPECT_EQ(result.changed, std::vector<size_t>{0});
    EXPECT_EQ(Ids({}), (std::vector<std::string>{"c3", "c5", "c4", "c2", "c1", "c0"}));
    int64_t count = 0;
    ASSERT_TRUE(store_->Count(&count).ok());
    EXPECT_EQ(count, 6);
    std::vector<ActorStats> actors;
    ASSERT_TRUE(store_->ListActors("", &actors).ok());
    ASSERT_EQ(actors.size(), 2u);
    EXPECT_EQ(actors[0].stance_count + actors[1].stance_count, 6);
    // The index is rebuilt from the database, collisions included.
    store_.reset();
    store_ = SqliteStanceStore::Open(path, &error, one_hash);
    ASSERT_TRUE(store_) << error;
  }
}

// A failed transaction leaves nothing behind, in the database or in the writer's id index: the
// same stances stored afterwards are new, once each.
TEST_F(SqliteStanceStoreTest, AFailedBatchIsForgottenWhole) {
  auto good = MakeStance("g", "AZE", "Azerbaijan", v1::POSITION_SUPPORT, 100);
  auto bad = MakeStance("b", "AZE", "Azerbaijan", v1::POSITION_SUPPORT, 101);
  SqliteDb other;
  std::string error;
  ASSERT_TRUE(other.Open((dir_ / "sub" / "stances.db").string(), false, &error)) << error;
  // The second stance's insert fails after the first one's has been written.
  ASSERT_TRUE(
      other.Exec("CREATE TRIGGER refuse_b BEFORE INSERT ON stances WHEN NEW.id = 'b' "
                 "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
                 &error))
      << error;
  auto status = store_->Upsert({good, bad});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  // SQLite's own message goes to the log, not to the caller.
  EXPECT_EQ(status.error_message().find("refused by the test"), std::string::npos)
      << status.error_message();
  EXPECT_TRUE(Ids({}).empty());
  ASSERT_TRUE(other.Exec("DROP TRIGGER refuse_b", &error)) << error;
  UpsertResult result;
  ASSERT_TRUE(store_->Upsert({good, bad}, &result).ok());
  EXPECT_EQ(result.changed, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(Ids({}), (std::vector<std::string>{"b", "g"}));
}

// A database written by the walking skeleton (schema version 1) is migrated in place, through
// every later version: the new columns and counters are filled from what was stored, including
// what only the bodies hold, and the rows move to the append-ordered layout of version 3.
TEST(SqliteStanceStoreMigrationTest, UpgradesAVersionOneDatabase) {
  auto dir =
      std::filesystem::temp_directory_path() / ("stancewire-migrate-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "stances.db").string();
  {
    SqliteDb db;
    std::string error;
    ASSERT_TRUE(db.Open(path, false, &error)) << error;
    ASSERT_TRUE(db.Exec(R"sql(
CREATE TABLE stances (
  id TEXT PRIMARY KEY, item_id TEXT NOT NULL, actor_id TEXT NOT NULL, actor_name TEXT NOT NULL,
  actor_mention TEXT NOT NULL, topic TEXT NOT NULL, position INTEGER NOT NULL,
  outlet TEXT NOT NULL, published INTEGER NOT NULL, body BLOB NOT NULL) WITHOUT ROWID;
CREATE INDEX stances_by_time ON stances(published DESC, id DESC);
CREATE INDEX stances_by_actor ON stances(actor_id, published DESC, id DESC);
CREATE TABLE stance_conditions (stance_id TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL);
CREATE INDEX stance_conditions_by_stance ON stance_conditions(stance_id);
CREATE INDEX stance_conditions_by_kind ON stance_conditions(kind, stance_id);
PRAGMA user_version=1;
)sql",
                        &error))
        << error;
    auto s = MakeStance("old", "AZE", "Azerbaijan", v1::POSITION_CONDITIONAL, 50,
                        {{"UN_MANDATE", "a UN resolution"}, {"CLEAR_MANDATE", "a clear mandate"}});
    s.set_topic_label("International Stabilisation Force");
    s.mutable_actor()->set_kind("state");
    s.set_speaker("Jeyhun Bayramov");
    s.set_confidence(0.8f);
    auto insert = db.Prepare(
        "INSERT INTO stances VALUES ('old', 'item-old', 'AZE', 'Azerbaijan', 'Baku', "
        "'gaza-international-stabilization-force', 3, 'AnewZ', 50000000000, ?1)");
    insert.BindBlob(1, s.SerializeAsString());
    ASSERT_TRUE(insert.Run()) << db.last_error();
    ASSERT_TRUE(
        db.Exec("INSERT INTO stance_conditions VALUES ('old', 'UN_MANDATE', 'a UN "
                "resolution'), ('old', 'CLEAR_MANDATE', 'a clear mandate')",
                &error))
        << error;
  }
  std::string error;
  auto store = SqliteStanceStore::Open(path, &error);
  ASSERT_TRUE(store) << error;
  StanceFilter f;
  f.topic = "stabilisation";  // from the label, which only the body held
  f.condition = "UN_MANDATE";
  StancePage page;
  ASSERT_TRUE(store->List(f, 10, std::nullopt, &page).ok());
  ASSERT_EQ(page.stances.size(), 1u);
  // Speaker and confidence (version 4) come from the body too.
  StanceFilter by_speaker;
  by_speaker.speaker = "jeyhun bayramov";
  by_speaker.min_confidence = 0.8f;
  ASSERT_TRUE(store->List(by_speaker, 10, std::nullopt, &page).ok());
  ASSERT_EQ(page.stances.size(), 1u);
  by_speaker.min_confidence = 0.9f;
  ASSERT_TRUE(store->List(by_speaker, 10, std::nullopt, &page).ok());
  EXPECT_TRUE(page.stances.empty());
  std::vector<ActorStats> actors;
  ASSERT_TRUE(store->ListActors("", &actors).ok());
  ASSERT_EQ(actors.size(), 1u);
  EXPECT_EQ(actors[0].actor.kind, "state");
  EXPECT_EQ(actors[0].stance_count, 1);
  ClaimPage claims;
  ASSERT_TRUE(store->ListClaims({}, ClaimOptions{}, &claims).ok());
  ASSERT_EQ(claims.claims.size(), 1u);
  EXPECT_EQ(claims.claims[0].condition_kinds,
            (std::vector<std::string>{"CLEAR_MANDATE", "UN_MANDATE"}));
  // New stances after the migration are counted on top.
  ASSERT_TRUE(
      store->Upsert({MakeStance("new", "AZE", "Azerbaijan", v1::POSITION_SUPPORT, 60)}).ok());
  ASSERT_TRUE(store->ListActors("", &actors).ok());
  EXPECT_EQ(actors[0].stance_count, 2);
  // Condition text moved with its stance (condition words read it).
  StanceFilter words;
  words.condition = "resolution";
  ASSERT_TRUE(store->List(words, 10, std::nullopt, &page).ok());
  ASSERT_EQ(page.stances.size(), 1u);
  EXPECT_EQ(page.stances[0].id(), "old");
  // A migrated stance is found again by id and revised in place, its counters moved.
  auto revised = MakeStance("old", "AZE", "Azerbaijan", v1::POSITION_SUPPORT, 50);
  UpsertResult result;
  ASSERT_TRUE(store->Upsert({revised}, &result).ok());
  EXPECT_EQ(result.changed, std::vector<size_t>{0});
  int64_t count = 0;
  ASSERT_TRUE(store->Count(&count).ok());
  EXPECT_EQ(count, 2);
  ASSERT_TRUE(store->ListActors("", &actors).ok());
  ASSERT_EQ(actors.size(), 1u);
  EXPECT_EQ(actors[0].position_counts,
            (std::vector<std::pair<v1::Position, int64_t>>{{v1::POSITION_SUPPORT, 2}}));
  std::vector<ConditionStats> conditions;
  ASSERT_TRUE(store->ListConditions("", &conditions).ok());
  EXPECT_TRUE(conditions.empty());
  ASSERT_TRUE(store->List(words, 10, std::nullopt, &page).ok());
  EXPECT_TRUE(page.stances.empty());
  store.reset();
  std::filesystem::remove_all(dir);
}

TEST(OpenStanceStoreTest, RejectsUnknownSchemes) {
  std::string error;
  EXPECT_FALSE(OpenStanceStore("mysql://x", &error));
  EXPECT_NE(error.find("unsupported store URI"), std::string::npos) << error;
  EXPECT_FALSE(OpenStanceStore("sqlite:", &error));
}

}  // namespace
}  // namespace stancewire::query
