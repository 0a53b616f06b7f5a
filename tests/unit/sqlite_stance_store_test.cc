#include "query-service/sqlite_stance_store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/unit/test_stances.h"

namespace stancewire::query {
namespace {

using testing::MakeStance;

class SqliteStanceStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("stancewire-store-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
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

TEST(OpenStanceStoreTest, RejectsUnknownSchemes) {
  std::string error;
  EXPECT_FALSE(OpenStanceStore("mysql://x", &error));
  EXPECT_NE(error.find("unsupported store URI"), std::string::npos) << error;
  EXPECT_FALSE(OpenStanceStore("sqlite:", &error));
}

}  // namespace
}  // namespace stancewire::query
