// One suite for every StanceStore backend: the same expectations run against SQLite and
// PostgreSQL (instances .../Sqlite and .../Postgres), plus a differential test that feeds both the
// same random stances and compares every answer.
//
// PostgreSQL cases need STANCEWIRE_TEST_POSTGRES_URI (a role that may CREATE DATABASE; each test
// gets a database of its own): tests/postgres/with-postgres.sh starts a throwaway server and sets
// it. Without it the PostgreSQL cases FAIL, unless STANCEWIRE_TEST_POSTGRES=skip.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "query-service/query_service.h"
#include "query-service/store/memory/memory_stance_store.h"
#include "query-service/store/postgres/postgres_stance_store.h"
#include "query-service/store/sqlite/sqlite_stance_store.h"
#include "tests/unit/test_stances.h"

namespace stancewire::query {
namespace {

using testing::MakeStance;

constexpr int64_t kSec = 1000000000LL;

// A database a test may open any number of times (replicas, reopen after close).
class Database {
 public:
  virtual ~Database() = default;
  virtual std::unique_ptr<StanceStore> Open(std::string* error) = 0;
  virtual std::string uri() const = 0;
};

class SqliteDatabase : public Database {
 public:
  SqliteDatabase() {
    static std::atomic<int> counter{0};
    dir_ =
        std::filesystem::temp_directory_path() /
        ("stancewire-conformance-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(dir_);
  }
  ~SqliteDatabase() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<StanceStore> Open(std::string* error) override {
    return OpenStanceStore(uri(), error);
  }
  std::string uri() const override { return "sqlite:" + (dir_ / "stances.db").string(); }

 private:
  std::filesystem::path dir_;
};

// The reference backend: stores opened here share one set of stances, as over one database.
class MemoryDatabase : public Database {
 public:
  std::unique_ptr<StanceStore> Open(std::string* /*error*/) override {
    return std::make_unique<MemoryStanceStore>(data_);
  }
  std::string uri() const override { return "memory:"; }

 private:
  std::shared_ptr<MemoryStanceData> data_ = std::make_shared<MemoryStanceData>();
};

// Replaces the database name in a postgres:// URI.
std::string WithDatabase(const std::string& uri, const std::string& db) {
  const size_t scheme = uri.find("://");
  const size_t slash = uri.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  const size_t query = uri.find('?');
  std::string base = slash == std::string::npos ? uri.substr(0, query) : uri.substr(0, slash);
  std::string params = query == std::string::npos ? "" : uri.substr(query);
  return base + "/" + db + params;
}

bool AdminExec(const std::string& uri, const std::string& sql, std::string* error) {
  PGconn* conn = ConnectPostgres(uri, error);
  if (!conn) return false;
  PGresult* r = PQexec(conn, sql.c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok) *error = PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(conn);
  return ok;
}

class PostgresDatabase : public Database {
 public:
  explicit PostgresDatabase(std::string base_uri) : base_uri_(std::move(base_uri)) {
    static std::atomic<int> counter{0};
    name_ = "sw_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    AdminExec(base_uri_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)", &error_);
    created_ = AdminExec(base_uri_, "CREATE DATABASE " + name_, &error_);
  }
  ~PostgresDatabase() override {
    std::string ignored;
    if (created_)
      AdminExec(base_uri_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)", &ignored);
  }
  bool created() const { return created_; }
  const std::string& error() const { return error_; }
  std::unique_ptr<StanceStore> Open(std::string* error) override {
    return OpenStanceStore(uri(), error);
  }
  std::string uri() const override { return WithDatabase(base_uri_, name_); }

 private:
  std::string base_uri_, name_, error_;
  bool created_ = false;
};

// Empty with the reason in *why when PostgreSQL cases cannot run.
std::string PostgresUri(std::string* why) {
  const char* uri = std::getenv("STANCEWIRE_TEST_POSTGRES_URI");
  if (uri && *uri) return uri;
  *why =
      "STANCEWIRE_TEST_POSTGRES_URI is not set: run through tests/postgres/with-postgres.sh "
      "(or set STANCEWIRE_TEST_POSTGRES=skip to skip the PostgreSQL cases)";
  return "";
}

bool SkipPostgres() {
  const char* skip = std::getenv("STANCEWIRE_TEST_POSTGRES");
  return skip && std::string(skip) == "skip";
}

v1::Stance With(v1::Stance s, const std::string& topic, const std::string& label,
                const std::string& outlet) {
  s.set_topic(topic);
  s.set_topic_label(label);
  s.set_outlet(outlet);
  return s;
}

std::vector<std::string> IdsOf(const std::vector<v1::Stance>& stances) {
  std::vector<std::string> ids;
  for (const auto& s : stances) ids.push_back(s.id());
  return ids;
}

class StoreConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "Sqlite") {
      db_ = std::make_unique<SqliteDatabase>();
    } else if (GetParam() == "Memory") {
      db_ = std::make_unique<MemoryDatabase>();
    } else {
      if (SkipPostgres()) GTEST_SKIP() << "STANCEWIRE_TEST_POSTGRES=skip";
      std::string why;
      std::string uri = PostgresUri(&why);
      ASSERT_FALSE(uri.empty()) << why;
      auto pg = std::make_unique<PostgresDatabase>(uri);
      ASSERT_TRUE(pg->created()) << "cannot create a test database: " << pg->error();
      db_ = std::move(pg);
    }
    std::string error;
    store_ = db_->Open(&error);
    ASSERT_TRUE(store_) << error;
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
  }

  void Put(const std::vector<v1::Stance>& stances) { ASSERT_TRUE(store_->Upsert(stances).ok()); }

  std::vector<std::string> Ids(const StanceFilter& filter, bool oldest_first = false) {
    ListOptions options;
    options.limit = 1000;
    options.oldest_first = oldest_first;
    StancePage page;
    auto status = store_->List(filter, options, &page);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_FALSE(page.next);
    return IdsOf(page.stances);
  }

  int64_t Total(const StanceFilter& filter) {
    ListOptions options;
    options.limit = 1;
    options.count_total = true;
    StancePage page;
    EXPECT_TRUE(store_->List(filter, options, &page).ok());
    EXPECT_TRUE(page.total);
    return page.total.value_or(-1);
  }

  // Every page of `page_size`, following the cursors.
  std::vector<std::string> Paged(StanceStore* store, const StanceFilter& filter, int page_size,
                                 bool oldest_first) {
    std::vector<std::string> ids;
    ListOptions options;
    options.limit = page_size;
    options.oldest_first = oldest_first;
    for (int guard = 0; guard < 1000; ++guard) {
      StancePage page;
      EXPECT_TRUE(store->List(filter, options, &page).ok());
      EXPECT_LE(static_cast<int>(page.stances.size()), page_size);
      for (const auto& s : page.stances) ids.push_back(s.id());
      if (!page.next) break;
      EXPECT_EQ(page.next->id, page.stances.back().id());
      options.after = page.next;
    }
    return ids;
  }

  std::unique_ptr<Database> db_;
  std::unique_ptr<StanceStore> store_;
};

TEST_P(StoreConformanceTest, UpsertIsIdempotentAndReportsChanges) {
  auto a = MakeStance("a", "AZE", "Azerbaijan", v1::POSITION_CONDITIONAL, 100,
                      {{"UN_MANDATE", "a UN Security Council resolution"}});
  auto b = MakeStance("b", "TUR", "Turkey", v1::POSITION_SUPPORT, 200);
  UpsertResult result;
  ASSERT_TRUE(store_->Upsert({a, a, b}, &result).ok());
  EXPECT_EQ(result.changed, (std::vector<size_t>{0, 2}));
  ASSERT_TRUE(store_->Upsert({b, a}, &result).ok());
  EXPECT_TRUE(result.changed.empty());
  int64_t count = 0;
  ASSERT_TRUE(store_->Count(&count).ok());
  EXPECT_EQ(count, 2);

  // A new stance, an unchanged one and a changed one, out of id order.
  auto c = MakeStance("c", "USA", "United States", v1::POSITION_OPPOSE, 300);
  auto a2 = a;
  a2.set_position(v1::POSITION_UNDECIDED);
  ASSERT_TRUE(store_->Upsert({c, b, a2}, &result).ok());
  EXPECT_EQ(result.changed, (std::vector<size_t>{0, 2}));
  ASSERT_TRUE(store_->Count(&count).ok());
  EXPECT_EQ(count, 3);

  // Empty batch.
  ASSERT_TRUE(store_->Upsert({}, &result).ok());
  EXPECT_TRUE(result.changed.empty());
}

TEST_P(StoreConformanceTest, UpsertReplacesEveryIndexedField) {
  auto s = With(MakeStance("s1", "AZE", "Azerbaijan", v1::POSITION_CONDITIONAL, 100,
                           {{"UN_MANDATE", "a UN Security Council resolution"}}),
                "topic-one", "First Topic", "AnewZ");
  Put({s});
  auto r = With(MakeStance("s1", "TUR", "Turkey", v1::POSITION_OPPOSE, 500,
                           {{"CEASEFIRE", "a lasting ceasefire"}}),
                "topic-two", "Second Topic", "Reuters");
  UpsertResult result;
  ASSERT_TRUE(store_->Upsert({r}, &result).ok());
  EXPECT_EQ(result.changed, std::vector<size_t>{0});

  StanceFilter f;
  f.condition = "UN_MANDATE";
  EXPECT_TRUE(Ids(f).empty());
  f.condition = "security council";
  EXPECT_TRUE(Ids(f).empty());
  f.condition = "CEASEFIRE";
  EXPECT_EQ(Ids(f), std::vector<std::string>{"s1"});
  f = {};
  f.actor_ids = {"AZE"};
  EXPECT_TRUE(Ids(f).empty());
  f.actor_ids = {"TUR"};
  EXPECT_EQ(Ids(f), std::vector<std::string>{"s1"});
  f = {};
  f.position = v1::POSITION_CONDITIONAL;
  EXPECT_TRUE(Ids(f).empty());
  f.position = v1::POSITION_OPPOSE;
  EXPECT_EQ(Ids(f), std::vector<std::string>{"s1"});
  f = {};
  f.outlet = "anewz";
  EXPECT_TRUE(Ids(f).empty());
  f.outlet = "reuters";
  EXPECT_EQ(Ids(f), std::vector<std::string>{"s1"});
  f = {};
  f.published_before_nanos = 200 * kSec;
  EXPECT_TRUE(Ids(f).empty());
  f = {};
  f.topic = "topic-two";
  EXPECT_EQ(Ids(f), std::vector<std::string>{"s1"});

  StancePage page;
  ASSERT_TRUE(store_->List({}, 10, std::nullopt, &page).ok());
  ASSERT_EQ(page.stances.size(), 1u);
  EXPECT_EQ(page.stances[0].SerializeAsString(), r.SerializeAsString());

  std::vector<ActorStats> actors;
  ASSERT_TRUE(store_->ListActors("", &actors).ok());
  ASSERT_EQ(actors.size(), 1u);
  EXPECT_EQ(actors[0].actor.id, "TUR");
  EXPECT_EQ(actors[0].actor.name, "Turkey");
  std::vector<ConditionStats> conditions;
  ASSERT_TRUE(store_->ListConditions("", &conditions).ok());
  ASSERT_EQ(conditions.size(), 1u);
  EXPECT_EQ(conditions[0].kind, "CEASEFIRE");
}

TEST_P(StoreConformanceTest, FiltersByActorIdsAndText) {
  auto a = MakeStance("a", "AZE", "Azerbaijan", v1::POSITION_CONDITIONAL, 300);
  a.mutable_actor()->set_mention("Baku");
  Put({a, MakeStance("b", "USA", "United States", v1::POSITION_SUPPORT, 200),
       MakeStance("c", "TUR", "Turkey", v1::POSITION_CONDITIONAL, 100)});
  StanceFilter f;
  f.actor_ids = {"AZE"};
  EXPECT_EQ(Ids(f), std::vector<std::string>{"a"});
  f.actor_ids = {"TUR", "AZE", "NOPE"};
  EXPECT_EQ(Ids(f), (std::vector<std::string>{"a", "c"}));
  f.actor_ids = {"aze"};  // ids are exact
  EXPECT_TRUE(Ids(f).empty());
  f = {};
  f.actor_text = "united STATES";  // name
  EXPECT_EQ(Ids(f), std::vector<std::string>{"b"});
  f.actor_text = "bAKU";  // mention
  EXPECT_EQ(Ids(f), std::vector<std::string>{"a"});
  f.actor_text = "tur";  // id, case-insensitively
  EXPECT_EQ(Ids(f), std::vector<std::string>{"c"});
  f.actor_text = "Turk";  // no partial matches
  EXPECT_TRUE(Ids(f).empty());
  f.actor_text = "Baku";
  f.actor_ids = {"USA"};  // the ids win over the text
  EXPECT_EQ(Ids(f), std::vector<std::string>{"b"});
}

TEST_P(StoreConformanceTest, ConditionKindVersusWords) {
  Put({MakeStance("a", "AZE", "Azerbaijan", v1::POSITION_CONDITIONAL, 300,
                  {{"UN_MANDATE", "a Security Council resolution"},
                   {"CLEAR_MANDATE", "with a defined remit"}}),
       MakeStance("b", "TUR", "Turkey", v1::POSITION_CONDITIONAL, 200,
                  {{"UN_MANDATE", "UN backing"}, {"", "a 100% guarantee of safety"}}),
       MakeStance("c", "EGY", "Egypt", v1::POSITION_CONDITIONAL, 100,
                  {{"GUARANTEES", "a 1000 guarantee"}, {"OTHER", "Council on the_security"}})});
  StanceFilter f;
  f.condition = "UN_MANDATE";
  EXPECT_EQ(Ids(f), (std::vector<std::string>{"a", "b"}));
  f.condition = "un_mandate";
  EXPECT_EQ(Ids(f), (std::vector<std::string>{"a", "b"}));
  f.condition = "UN-MANDATE";
  EXPECT_EQ(Ids(f), (std::vector<std::string>{"a", "b"}));
  f.condition = "CEASEFIRE";
  EXPECT_TRUE(Ids(f).empty());
  // Words: all in one condition's text, ASCII case-insensitively.
  f.condition = "SECURITY council";
  EXPECT_EQ(Ids(f), (std::vector<std::string>{"a", "c"}));
  f.condition = "security resolution";
  EXPECT_EQ(Ids(f), std::vector<std::string>{"a"});
  // ... or the words' upper-snake form is a kind ("clear mandate" -> CLEAR_MANDATE).
  f.condition = "clear mandate";
  EXPECT_EQ(Ids(f), std::vector<std::string>{"a"});
  // Words must all be in the same condition.
  f.condition = "backing guarantee";
  EXPECT_TRUE(Ids(f).empty());
  // LIKE wildcards in words are literal.
  f.condition = "100% guarantee";
  EXPECT_EQ(Ids(f), std::vector<std::string>{"b"});
  f.condition = "on the_security";
  EXPECT_EQ(Ids(f), std::vector<std::string>{"c"});
  f.condition = "on the%security";
  EXPECT_TRUE(Ids(f).empty());
  f.condition = "the_s";  // one token with '_': a kind, not words
  EXPECT_TRUE(Ids(f).empty());
  f.condition = "guarantee";  // one lower-case word: words
  EXPECT_EQ(Ids(f), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(Total(f), 2);
}

// QueryService refuses condition and topic filters of more than kMaxFilterWords words; every
// backend answers (not INTERNAL) at that limit, in every call that takes them.
TEST_P(StoreConformanceTest, FiltersAtTheWordLimitAreAnswered) {
  std::string words;
  for (size_t i = 0; i < kMaxFilterWords; ++i) words += "w" + std::to_string(i) + " ";
  words.pop_back();
  Put({MakeStance("a", "AZE", "Azerbaijan", v1::POSITION_CONDITIONAL, 300,
                  {{"OTHER", "says " + words + " in one condition"}}),
       MakeStance("b", "TUR", "Turkey", v1::POSITION_CONDITIONAL, 200, {{"OTHER", "w1 w2"}})});
  StanceFilter f;
  f.condition = words;
  EXPECT_EQ(Ids(f), std::vector<std::string>{"a"});
  EXPECT_EQ(Total(f), 1);
  f.topic = words;  // no stored topic has these words
  EXPECT_TRUE(Ids(f).empty());
  EXPECT_EQ(Total(f), 0);
  ClaimOptions options;
  options.count_total = true;
  ClaimPage claims;
  ASSERT_TRUE(store_->ListClaims(f, options, &claims).ok());
  EXPECT_TRUE(claims.claims.empty());
  std::vector<ActorStats> actors;
  ASSERT_TRUE(store_->ListActors(words, &actors).ok());
  EXPECT_TRUE(actors.empty());
  std::vector<ConditionStats> conditions;
  ASSERT_TRUE(store_->ListConditions(words, &conditions).ok());
  EXPECT_TRUE(conditions.empty());
}

TEST_P(StoreConformanceTest, TopicKeyVersusWords) {
  Put({With(MakeStance("a", "AZE", "Azerbaijan", v1::POSITION_CONDITIONAL, 300),
            "gaza-international-stabilization-force", "International Stabilisation Force", ""),
       With(MakeStance("b", "TUR", "Turkey", v1::POSITION_OPPOSE, 200),
            "gaza-international-stabilization-force", "the ISF", ""),
       With(MakeStance("c", "EGY", "Egypt", v1::POSITION_SUPPORT, 100), "rafah-crossing",
            "Rafah border crossing", ""),
       With(MakeStance("d", "QAT", "Qatar", v1::POSITION_SUPPORT, 50), "Rafah-Crossing", "", "")});
  StanceFilter f;
  f.topic = "gaza-international-stabilization-force";
  EXPECT_EQ(Ids(f), (std::vector<std::string>{"a", "b"}));
  f.topic = "GAZA-International-Stabilization-Force";
  EXPECT_EQ(Ids(f), (std::vector<std::string>{"a", "b"}));
  // Words match each stance's own key and label.
  f.topic = "stabilisation force";
  EXPECT_EQ(Ids(f), std::vector<std::string>{"a"});
  f.topic = "ISF gaza";
  EXPECT_EQ(Ids(f), std::vector<std::string>{"b"});
  f.topic = "stabilization";  // in the key
  EXPECT_EQ(Ids(f), (std::vector<std::string>{"a", "b"}));
  f.topic = "rafah-crossing";  // keys differing in case are one topic to the filter
  EXPECT_EQ(Ids(f), (std::vector<std::string>{"c", "d"}));
  f.topic = "border";
  EXPECT_EQ(Ids(f), std::vector<std::string>{"c"});
  f.topic = "nowhere";
  EXPECT_TRUE(Ids(f).empty());
  EXPECT_EQ(Total(f), 0);
  f.topic = "gaza%";
  EXPECT_TRUE(Ids(f).empty());
}

TEST_P(StoreConformanceTest, PositionOutletPublishedRangeAndTheirConjunction) {
  Put({With(MakeStance("a", "AZE", "Azerbaijan", v1::POSITION_CONDITIONAL, 100,
                       {{"UN_MANDATE", "x"}}),
            "t1", "Topic One", "Reuters"),
       With(MakeStance("b", "AZE", "Azerbaijan", v1::POSITION_CONDITIONAL, 200,
                       {{"UN_MANDATE", "x"}}),
            "t1", "Topic One", "AnewZ"),
       With(MakeStance("c", "AZE", "Azerbaijan", v1::POSITION_SUPPORT, 300, {{"UN_MANDATE", "x"}}),
            "t1", "Topic One", "reuters"),
       With(MakeStance("d", "TUR", "Turkey", v1::POSITION_CONDITIONAL, 400, {{"UN_MANDATE", "x"}}),
            "t1", "Topic One", "Reuters"),
       With(MakeStance("e", "AZE", "Azerbaijan", v1::POSITION_CONDITIONAL, 500,
                       {{"UN_MANDATE", "x"}}),
            "t2", "Topic Two", "Reuters"),
       With(MakeStance("f", "AZE", "Azerbaijan", v1::POSITION_CONDITIONAL, 600), "t1", "Topic One",
            "Reuters")});
  StanceFilter f;
  f.position = v1::POSITION_SUPPORT;
  EXPECT_EQ(Ids(f), std::vector<std::string>{"c"});
  f = {};
  f.outlet = "REUTERS";
  EXPECT_EQ(Ids(f), (std::vector<std::string>{"f", "e", "d", "c", "a"}));
  f.outlet = "Reut";
  EXPECT_TRUE(Ids(f).empty());
  f = {};
  f.published_after_nanos = 200 * kSec;   // inclusive
  f.published_before_nanos = 400 * kSec;  // exclusive
  EXPECT_EQ(Ids(f), (std::vector<std::string>{"c", "b"}));
  EXPECT_EQ(Total(f), 2);
  // All at once: only "a" has every property.
  f = {};
  f.actor_ids = {"AZE"};
  f.condition = "UN_MANDATE";
  f.position = v1::POSITION_CONDITIONAL;
  f.topic = "topic one";
  f.outlet = "reuters";
  f.published_after_nanos = 100 * kSec;
  f.published_before_nanos = 101 * kSec;
  EXPECT_EQ(Ids(f), std::vector<std::string>{"a"});
  EXPECT_EQ(Total(f), 1);
  f.published_before_nanos.reset();
  EXPECT_EQ(Ids(f), std::vector<std::string>{"a"});
  f.outlet.clear();
  EXPECT_EQ(Ids(f), (std::vector<std::string>{"b", "a"}));
  f.topic = TopicFilter();
  EXPECT_EQ(Ids(f), (std::vector<std::string>{"e", "b", "a"}));
  f.condition = ConditionFilter();
  EXPECT_EQ(Ids(f), (std::vector<std::string>{"f", "e", "b", "a"}));
  EXPECT_EQ(Total(f), 4);
  f.actor_ids.clear();
  f.actor_text = "azerbaijan";
  EXPECT_EQ(Ids(f), (std::vector<std::string>{"f", "e", "b", "a"}));
}

TEST_P(StoreConformanceTest, SpeakerAndMinConfidence) {
  auto with = [](v1::Stance s, const std::string& speaker, float confidence) {
    s.set_speaker(speaker);
    s.set_confidence(confidence);
    return s;
  };
  Put({with(MakeStance("a", "TUR", "Turkey", v1::POSITION_CONDITIONAL, 100, {{"UN_MANDATE", "x"}}),
            "Hakan Fidan", 0.75f),
       with(MakeStance("b", "TUR", "Turkey", v1::POSITION_SUPPORT, 200), "Hakan Fidan", 0.45f),
       with(MakeStance("c", "AZE", "Azerbaijan", v1::POSITION_SUPPORT, 300), "", 0.95f),
       with(MakeStance("d", "AZE", "Azerbaijan", v1::POSITION_SUPPORT, 400), "Jeyhun Bayramov",
            0.6f)});
  StanceFilter f;
  f.speaker = "hakan FIDAN";  // ASCII case-insensitive
  EXPECT_EQ(Ids(f), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(Total(f), 2);
  f.speaker = "Fidan";  // the store compares full names; the request resolves forms
  EXPECT_TRUE(Ids(f).empty());
  f = {};
  f.min_confidence = 0.6f;  // inclusive, compared as floats
  EXPECT_EQ(Ids(f), (std::vector<std::string>{"d", "c", "a"}));
  EXPECT_EQ(Total(f), 3);
  f.min_confidence = 0.75f;
  EXPECT_EQ(Ids(f), (std::vector<std::string>{"c", "a"}));
  // with the other filters, also through the condition-kind rows
  f.speaker = "Hakan Fidan";
  EXPECT_EQ(Ids(f), std::vector<std::string>{"a"});
  f.condition = "UN_MANDATE";
  EXPECT_EQ(Ids(f), std::vector<std::string>{"a"});
  f.min_confidence = 0.8f;
  EXPECT_TRUE(Ids(f).empty());
  f = {};
  f.actor_ids = {"AZE"};
  f.speaker = "jeyhun bayramov";
  EXPECT_EQ(Ids(f), std::vector<std::string>{"d"});
  // a revision moves the stance between speakers and confidences
  Put({with(MakeStance("d", "AZE", "Azerbaijan", v1::POSITION_SUPPORT, 400), "", 0.3f)});
  EXPECT_TRUE(Ids(f).empty());
  f = {};
  f.min_confidence = 0.5f;
  EXPECT_EQ(Ids(f), (std::vector<std::string>{"c", "a"}));
}

TEST_P(StoreConformanceTest, OrdersAndPagesWithoutGapsOrRepeatsUnderTies) {
  // Ties on published, ids whose bytewise order differs from a locale's ("B" < "a" < "b").
  std::vector<v1::Stance> batch;
  const std::vector<std::string> ids = {"a", "B", "b",  "A1", "a1", "_x", "z", "Z",
                                        "m", "0", "aa", "ab", "Ab", "é",  "e", "f"};
  for (size_t i = 0; i < ids.size(); ++i) {
    batch.push_back(MakeStance(ids[i], i % 2 ? "AZE" : "TUR", "x", v1::POSITION_SUPPORT,
                               100 + static_cast<int64_t>(i % 3)));
  }
  Put(batch);
  std::vector<std::pair<int64_t, std::string>> keys;
  for (const auto& s : batch) keys.emplace_back(s.published().seconds(), s.id());
  std::sort(keys.begin(), keys.end());
  std::vector<std::string> oldest;
  for (const auto& k : keys) oldest.push_back(k.second);
  std::vector<std::string> newest(oldest.rbegin(), oldest.rend());

  EXPECT_EQ(Ids({}), newest);
  EXPECT_EQ(Ids({}, /*oldest_first=*/true), oldest);
  for (int size : {1, 2, 3, 5, 16, 17}) {
    EXPECT_EQ(Paged(store_.get(), {}, size, false), newest) << "page size " << size;
    EXPECT_EQ(Paged(store_.get(), {}, size, true), oldest) << "page size " << size;
  }
  // With a filter, pages follow the filtered order.
  StanceFilter f;
  f.actor_ids = {"AZE"};
  std::vector<std::string> aze;
  for (const auto& id : newest) {
    auto it = std::find(ids.begin(), ids.end(), id);
    if ((it - ids.begin()) % 2) aze.push_back(id);
  }
  EXPECT_EQ(Paged(store_.get(), f, 3, false), aze);

  // A cursor between stored keys resumes strictly after it.
  ListOptions options;
  options.limit = 100;
  options.after = StanceCursor{101 * kSec, "b"};
  StancePage page;
  ASSERT_TRUE(store_->List({}, options, &page).ok());
  std::vector<std::string> expected;
  for (const auto& k : keys) {
    if (k.first < 101 || (k.first == 101 && k.second < "b")) expected.push_back(k.second);
  }
  std::reverse(expected.begin(), expected.end());
  EXPECT_EQ(IdsOf(page.stances), expected);

  // Totals, and a page that ends exactly at the end has no cursor.
  options = {};
  options.limit = static_cast<int>(ids.size());
  options.count_total = true;
  ASSERT_TRUE(store_->List({}, options, &page).ok());
  EXPECT_EQ(page.total, static_cast<int64_t>(ids.size()));
  EXPECT_FALSE(page.next);
  options.limit = 4;
  ASSERT_TRUE(store_->List(f, options, &page).ok());
  EXPECT_EQ(page.total, static_cast<int64_t>(aze.size()));
  ASSERT_TRUE(page.next);
  EXPECT_EQ(page.next->id, aze[3]);
  options.count_total = false;
  ASSERT_TRUE(store_->List(f, options, &page).ok());
  EXPECT_FALSE(page.total);
}

TEST_P(StoreConformanceTest, SerializedPagesAreTheStoredStancesWithTheSameCursors) {
  std::vector<v1::Stance> batch;
  for (int i = 0; i < 7; ++i) {
    batch.push_back(MakeStance("s" + std::to_string(i), i % 2 ? "AZE" : "TUR", "x",
                               v1::POSITION_CONDITIONAL, 100 + i / 3,
                               {{"UN_MANDATE", "a mandate " + std::to_string(i)}}));
  }
  Put(batch);
  for (bool oldest_first : {false, true}) {
    ListOptions decoded;
    decoded.limit = 3;
    decoded.oldest_first = oldest_first;
    decoded.count_total = true;
    ListOptions serialized = decoded;
    serialized.serialized = true;
    for (int page_no = 0; page_no < 4; ++page_no) {
      StancePage a, b;
      ASSERT_TRUE(store_->List({}, decoded, &a).ok());
      ASSERT_TRUE(store_->List({}, serialized, &b).ok());
      EXPECT_TRUE(b.stances.empty());
      ASSERT_EQ(a.stances.size(), b.serialized.size());
      for (size_t i = 0; i < a.stances.size(); ++i) {
        v1::Stance parsed;
        ASSERT_TRUE(parsed.ParseFromString(b.serialized[i]));
        EXPECT_EQ(parsed.SerializeAsString(), a.stances[i].SerializeAsString());
      }
      EXPECT_EQ(a.total, b.total);
      ASSERT_EQ(a.next.has_value(), b.next.has_value());
      if (!a.next) break;
      EXPECT_EQ(a.next->id, b.next->id);
      EXPECT_EQ(a.next->published_nanos, b.next->published_nanos);
      decoded.after = serialized.after = a.next;
    }
  }
}

TEST_P(StoreConformanceTest, ListActorsContentsAndOrder) {
  auto a1 = With(MakeStance("a1", "AZE", "Azerbaijan", v1::POSITION_CONDITIONAL, 100), "t1",
                 "Stabilisation Force", "");
  a1.mutable_actor()->set_kind("state");
  auto a2 = a1;
  a2.set_id("a2");
  a2.set_position(v1::POSITION_SUPPORT);
  a2.mutable_published()->set_seconds(300);
  auto a3 = a1;
  a3.set_id("a3");
  a3.set_topic("t2");
  a3.set_topic_label("Other");
  a3.mutable_published()->set_seconds(500);
  auto t1 = With(MakeStance("t1", "TUR", "Turkey", v1::POSITION_OPPOSE, 200), "t1", "ISF", "");
  auto t2 = t1;
  t2.set_id("t2");
  t2.set_position(v1::POSITION_SUPPORT);
  auto e1 = With(MakeStance("e1", "EGY", "Egypt", v1::POSITION_SUPPORT, 50), "t1", "", "");
  auto b1 = With(MakeStance("b1", "BHR", "Bahrain", v1::POSITION_SUPPORT, 60), "t1", "", "");
  Put({a1, a2, a3, t1, t2, e1, b1});

  std::vector<ActorStats> actors;
  ASSERT_TRUE(store_->ListActors("", &actors).ok());
  ASSERT_EQ(actors.size(), 4u);
  EXPECT_EQ(actors[0].actor.id, "AZE");
  EXPECT_EQ(actors[0].actor.name, "Azerbaijan");
  EXPECT_EQ(actors[0].actor.kind, "state");
  EXPECT_EQ(actors[0].stance_count, 3);
  EXPECT_EQ(actors[0].position_counts,
            (std::vector<std::pair<v1::Position, int64_t>>{{v1::POSITION_SUPPORT, 1},
                                                           {v1::POSITION_CONDITIONAL, 2}}));
  EXPECT_EQ(actors[0].latest.id(), "a3");
  EXPECT_EQ(actors[1].actor.id, "TUR");
  EXPECT_EQ(actors[1].stance_count, 2);
  EXPECT_EQ(actors[1].latest.id(), "t2");  // same time: the larger id
  // Equal counts: by id.
  EXPECT_EQ(actors[2].actor.id, "BHR");
  EXPECT_EQ(actors[3].actor.id, "EGY");

  // Topic words pick topics by key or any label they were reported under.
  ASSERT_TRUE(store_->ListActors("stabilisation", &actors).ok());
  ASSERT_EQ(actors.size(), 4u);  // t1 was reported as "Stabilisation Force"
  EXPECT_EQ(actors[0].stance_count, 2);
  EXPECT_EQ(actors[0].latest.id(), "a2");
  ASSERT_TRUE(store_->ListActors("T2", &actors).ok());
  ASSERT_EQ(actors.size(), 1u);
  EXPECT_EQ(actors[0].actor.id, "AZE");
  EXPECT_EQ(actors[0].stance_count, 1);
  ASSERT_TRUE(store_->ListActors("nowhere", &actors).ok());
  EXPECT_TRUE(actors.empty());
}

TEST_P(StoreConformanceTest, ListConditionsContentsAndOrder) {
  Put({With(MakeStance("a", "AZE", "Azerbaijan", v1::POSITION_CONDITIONAL, 100,
                       {{"UN_MANDATE", "x"}, {"UN_MANDATE", "y"}, {"CLEAR_MANDATE", "z"}}),
            "t1", "", ""),
       With(MakeStance("b", "TUR", "Turkey", v1::POSITION_CONDITIONAL, 200, {{"UN_MANDATE", "x"}}),
            "t1", "", ""),
       With(MakeStance("c", "TUR", "Turkey", v1::POSITION_CONDITIONAL, 300,
                       {{"UN_MANDATE", "x"}, {"", "no kind"}}),
            "t2", "Second", ""),
       With(MakeStance("d", "EGY", "Egypt", v1::POSITION_CONDITIONAL, 400, {{"CEASEFIRE", "x"}}),
            "t2", "Second", "")});
  std::vector<ConditionStats> conditions;
  ASSERT_TRUE(store_->ListConditions("", &conditions).ok());
  ASSERT_EQ(conditions.size(), 3u);
  EXPECT_EQ(conditions[0].kind, "UN_MANDATE");
  EXPECT_EQ(conditions[0].stance_count, 3);  // a counts once
  ASSERT_EQ(conditions[0].actors.size(), 2u);
  EXPECT_EQ(conditions[0].actors[0].first.id, "TUR");
  EXPECT_EQ(conditions[0].actors[0].first.name, "Turkey");
  EXPECT_EQ(conditions[0].actors[0].second, 2);
  EXPECT_EQ(conditions[0].actors[1].first.id, "AZE");
  // Equal counts: by kind.
  EXPECT_EQ(conditions[1].kind, "CEASEFIRE");
  EXPECT_EQ(conditions[2].kind, "CLEAR_MANDATE");
  ASSERT_TRUE(store_->ListConditions("second", &conditions).ok());
  ASSERT_EQ(conditions.size(), 2u);
  EXPECT_EQ(conditions[0].kind, "CEASEFIRE");
  EXPECT_EQ(conditions[1].kind, "UN_MANDATE");
  ASSERT_TRUE(store_->ListConditions("nowhere", &conditions).ok());
  EXPECT_TRUE(conditions.empty());
}

// ListActors and ListConditions under speaker, min_confidence and the time window count only
// the stances List returns for the same filter, in the same order as the counters' answer.
TEST_P(StoreConformanceTest, AggregatesFollowSpeakerConfidenceAndWindow) {
  auto with = [](v1::Stance s, const std::string& speaker, float confidence) {
    s.set_speaker(speaker);
    s.set_confidence(confidence);
    return s;
  };
  const std::vector<v1::Stance> all = {
      with(With(MakeStance("a1", "AZE", "Azerbaijan", v1::POSITION_CONDITIONAL, 100,
                           {{"UN_MANDATE", "x"}}),
                "t1", "Force", ""),
           "Hakan Fidan", 0.9f),
      with(
          With(MakeStance("a2", "AZE", "Azerbaijan", v1::POSITION_SUPPORT, 200), "t1", "Force", ""),
          "Hakan Fidan", 0.5f),
      with(With(MakeStance("a3", "AZE", "Azerbaijan", v1::POSITION_OPPOSE, 300,
                           {{"CEASEFIRE", "y"}}),
                "t2", "Other", ""),
           "Jeyhun Bayramov", 0.8f),
      with(With(MakeStance("t1", "TUR", "Turkey", v1::POSITION_CONDITIONAL, 150,
                           {{"UN_MANDATE", "z"}, {"CEASEFIRE", "w"}}),
                "t1", "Force", ""),
           "Hakan Fidan", 0.7f),
      with(With(MakeStance("e1", "EGY", "Egypt", v1::POSITION_SUPPORT, 250, {{"UN_MANDATE", "v"}}),
                "t1", "Force", ""),
           "", 0.95f)};
  Put(all);
  auto ids_of = [](const std::vector<ActorStats>& actors) {
    std::vector<std::string> ids;
    for (const auto& a : actors) ids.push_back(a.actor.id + ":" + std::to_string(a.stance_count));
    return ids;
  };
  std::vector<ActorStats> actors;
  StanceFilter f;
  f.speaker = "hakan fidan";
  ASSERT_TRUE(store_->ListActorsMatching(f, &actors).ok());
  EXPECT_EQ(ids_of(actors), (std::vector<std::string>{"AZE:2", "TUR:1"}));
  ASSERT_EQ(actors.size(), 2u);
  EXPECT_EQ(actors[0].actor.name, "Azerbaijan");
  EXPECT_EQ(actors[0].latest.id(), "a2");  // a3 is Bayramov's
  EXPECT_EQ(actors[0].position_counts,
            (std::vector<std::pair<v1::Position, int64_t>>{{v1::POSITION_SUPPORT, 1},
                                                           {v1::POSITION_CONDITIONAL, 1}}));
  f.min_confidence = 0.7f;  // inclusive: t1 (0.7) passes, a2 (0.5) does not
  ASSERT_TRUE(store_->ListActorsMatching(f, &actors).ok());
  EXPECT_EQ(ids_of(actors), (std::vector<std::string>{"AZE:1", "TUR:1"}));
  EXPECT_EQ(actors[0].latest.id(), "a1");
  f = {};
  f.min_confidence = 0.75f;
  f.topic = "t1";
  ASSERT_TRUE(store_->ListActorsMatching(f, &actors).ok());
  EXPECT_EQ(ids_of(actors), (std::vector<std::string>{"AZE:1", "EGY:1"}));
  f = {};
  f.published_after_nanos = int64_t{150} * 1000000000;  // [150 s, 300 s)
  f.published_before_nanos = int64_t{300} * 1000000000;
  ASSERT_TRUE(store_->ListActorsMatching(f, &actors).ok());
  EXPECT_EQ(ids_of(actors), (std::vector<std::string>{"AZE:1", "EGY:1", "TUR:1"}));
  f.speaker = "nobody";
  ASSERT_TRUE(store_->ListActorsMatching(f, &actors).ok());
  EXPECT_TRUE(actors.empty());

  // Every stance passes: the fold gives what the counters give.
  std::vector<ActorStats> counted;
  ASSERT_TRUE(store_->ListActors("", &counted).ok());
  f = {};
  f.min_confidence = 0.01f;
  ASSERT_TRUE(store_->ListActorsMatching(f, &actors).ok());
  ASSERT_EQ(ids_of(actors), ids_of(counted));
  for (size_t i = 0; i < actors.size(); ++i) {
    EXPECT_EQ(actors[i].position_counts, counted[i].position_counts);
    EXPECT_EQ(actors[i].latest.id(), counted[i].latest.id());
    EXPECT_EQ(actors[i].actor.name, counted[i].actor.name);
  }

  auto kinds_of = [](const std::vector<ConditionStats>& conditions) {
    std::vector<std::string> out;
    for (const auto& c : conditions) {
      std::string line = c.kind + ":" + std::to_string(c.stance_count);
      for (const auto& [actor, n] : c.actors) line += " " + actor.id + "=" + std::to_string(n);
      out.push_back(line);
    }
    return out;
  };
  std::vector<ConditionStats> conditions;
  f = {};
  f.speaker = "Hakan Fidan";
  ASSERT_TRUE(store_->ListConditionsMatching(f, &conditions).ok());
  EXPECT_EQ(kinds_of(conditions),
            (std::vector<std::string>{"UN_MANDATE:2 AZE=1 TUR=1", "CEASEFIRE:1 TUR=1"}));
  ASSERT_FALSE(conditions.empty());
  EXPECT_EQ(conditions[0].actors[0].first.name, "Azerbaijan");
  f = {};
  f.min_confidence = 0.8f;
  ASSERT_TRUE(store_->ListConditionsMatching(f, &conditions).ok());
  EXPECT_EQ(kinds_of(conditions),
            (std::vector<std::string>{"UN_MANDATE:2 AZE=1 EGY=1", "CEASEFIRE:1 AZE=1"}));
  f.published_before_nanos = int64_t{250} * 1000000000;
  ASSERT_TRUE(store_->ListConditionsMatching(f, &conditions).ok());
  EXPECT_EQ(kinds_of(conditions), (std::vector<std::string>{"UN_MANDATE:1 AZE=1"}));
  std::vector<ConditionStats> all_counted;
  ASSERT_TRUE(store_->ListConditions("", &all_counted).ok());
  f = {};
  f.min_confidence = 0.01f;
  ASSERT_TRUE(store_->ListConditionsMatching(f, &conditions).ok());
  EXPECT_EQ(kinds_of(conditions), kinds_of(all_counted));
}

TEST_P(StoreConformanceTest, ListClaimsGroupsCountsAndOrders) {
  auto claim = [](const std::string& id, const std::string& actor, v1::Position p, int64_t t,
                  const std::string& outlet,
                  std::vector<std::pair<std::string, std::string>> conditions) {
    auto s = With(MakeStance(id, actor, actor + " name", p, t, conditions), "t1", "Topic", outlet);
    s.mutable_actor()->set_kind("state");
    return s;
  };
  Put({claim("a1", "AZE", v1::POSITION_CONDITIONAL, 100, "Reuters",
             {{"UN_MANDATE", "x"}, {"CLEAR_MANDATE", "y"}}),
       claim("a2", "AZE", v1::POSITION_CONDITIONAL, 300, "AnewZ",
             {{"CLEAR_MANDATE", "y"}, {"UN_MANDATE", "x"}}),
       claim("a3", "AZE", v1::POSITION_CONDITIONAL, 200, "Reuters",
             {{"UN_MANDATE", "z"}, {"CLEAR_MANDATE", "w"}}),
       claim("a4", "AZE", v1::POSITION_CONDITIONAL, 400, "", {{"UN_MANDATE", "x"}}),
       claim("t1", "TUR", v1::POSITION_OPPOSE, 50, "Reuters", {}),
       claim("t2", "TUR", v1::POSITION_OPPOSE, 60, "AP", {}),
       claim("e1", "EGY", v1::POSITION_SUPPORT, 70, "AP", {}),
       claim("e2", "EGY", v1::POSITION_SUPPORT, 80, "AP", {})});
  ClaimOptions options;
  options.count_total = true;
  ClaimPage page;
  ASSERT_TRUE(store_->ListClaims({}, options, &page).ok());
  EXPECT_EQ(page.total, 4);
  EXPECT_FALSE(page.more);
  ASSERT_EQ(page.claims.size(), 4u);
  const auto& c = page.claims[0];
  EXPECT_EQ(c.actor.id, "AZE");
  EXPECT_EQ(c.actor.name, "AZE name");
  EXPECT_EQ(c.actor.kind, "state");
  EXPECT_EQ(c.topic, "t1");
  EXPECT_EQ(c.position, v1::POSITION_CONDITIONAL);
  EXPECT_EQ(c.condition_kinds, (std::vector<std::string>{"CLEAR_MANDATE", "UN_MANDATE"}));
  EXPECT_EQ(c.count, 3);
  EXPECT_EQ(c.outlets, (std::vector<std::string>{"AnewZ", "Reuters"}));
  EXPECT_EQ(c.first_seen_nanos, 100 * kSec);
  EXPECT_EQ(c.last_seen_nanos, 300 * kSec);
  EXPECT_EQ(c.item_ids, (std::vector<std::string>{"item-a2", "item-a3", "item-a1"}));
  EXPECT_EQ(c.latest.id(), "a2");
  // Two stances each: TUR has two outlets, EGY one.
  EXPECT_EQ(page.claims[1].actor.id, "TUR");
  EXPECT_EQ(page.claims[1].condition_kinds, std::vector<std::string>{});
  EXPECT_EQ(page.claims[2].actor.id, "EGY");
  EXPECT_EQ(page.claims[2].outlets, std::vector<std::string>{"AP"});
  EXPECT_EQ(page.claims[3].actor.id, "AZE");
  EXPECT_EQ(page.claims[3].count, 1);
  EXPECT_TRUE(page.claims[3].outlets.empty());

  options.min_count = 2;
  options.limit = 1;
  options.offset = 1;
  ASSERT_TRUE(store_->ListClaims({}, options, &page).ok());
  EXPECT_EQ(page.total, 3);
  EXPECT_TRUE(page.more);
  ASSERT_EQ(page.claims.size(), 1u);
  EXPECT_EQ(page.claims[0].actor.id, "TUR");
  options.offset = 2;
  ASSERT_TRUE(store_->ListClaims({}, options, &page).ok());
  EXPECT_FALSE(page.more);
  ASSERT_EQ(page.claims.size(), 1u);
  EXPECT_EQ(page.claims[0].actor.id, "EGY");

  // Filters apply to the stances inside claims too.
  StanceFilter f;
  f.outlet = "reuters";
  options = {};
  ASSERT_TRUE(store_->ListClaims(f, options, &page).ok());
  ASSERT_EQ(page.claims.size(), 2u);
  EXPECT_EQ(page.claims[0].count, 2);
  EXPECT_EQ(page.claims[0].outlets, std::vector<std::string>{"Reuters"});
  EXPECT_EQ(page.claims[0].item_ids, (std::vector<std::string>{"item-a3", "item-a1"}));
  f = {};
  f.topic = "nowhere";
  options.count_total = true;
  ASSERT_TRUE(store_->ListClaims(f, options, &page).ok());
  EXPECT_TRUE(page.claims.empty());
  EXPECT_EQ(page.total, 0);
}

TEST_P(StoreConformanceTest, ClaimItemIdsAreCapped) {
  std::vector<v1::Stance> batch;
  for (int i = 0; i < kMaxClaimItemIds + 5; ++i) {
    batch.push_back(MakeStance("s" + std::to_string(1000 + i), "AZE", "Azerbaijan",
                               v1::POSITION_SUPPORT, 1000 + i));
  }
  Put(batch);
  ClaimPage page;
  ASSERT_TRUE(store_->ListClaims({}, ClaimOptions{}, &page).ok());
  ASSERT_EQ(page.claims.size(), 1u);
  EXPECT_EQ(page.claims[0].count, kMaxClaimItemIds + 5);
  ASSERT_EQ(page.claims[0].item_ids.size(), static_cast<size_t>(kMaxClaimItemIds));
  EXPECT_EQ(page.claims[0].item_ids[0], "item-s" + std::to_string(1000 + kMaxClaimItemIds + 4));
}

TEST_P(StoreConformanceTest, ReopenKeepsDataAndRerunsMigrationsHarmlessly) {
  Put({MakeStance("a", "AZE", "Azerbaijan", v1::POSITION_SUPPORT, 100, {{"UN_MANDATE", "x"}})});
  store_.reset();
  for (int i = 0; i < 2; ++i) {
    std::string error;
    store_ = db_->Open(&error);
    ASSERT_TRUE(store_) << error;
    int64_t count = 0;
    ASSERT_TRUE(store_->Count(&count).ok());
    EXPECT_EQ(count, 1);
    StanceFilter f;
    f.condition = "UN_MANDATE";
    EXPECT_EQ(Ids(f), std::vector<std::string>{"a"});
    if (auto* pg = dynamic_cast<PostgresStanceStore*>(store_.get())) {
      EXPECT_EQ(pg->SchemaVersion(), PostgresStanceStore::LatestSchemaVersion());
    }
    store_.reset();
  }
}

TEST_P(StoreConformanceTest, StoresOpeningOneDatabaseTogetherAgree) {
  // A fresh database: every store migrates at once.
  store_.reset();
  constexpr int kStores = 4;
  std::vector<std::unique_ptr<StanceStore>> stores(kStores);
  std::vector<std::string> errors(kStores);
  std::vector<std::thread> threads;
  for (int i = 0; i < kStores; ++i) {
    threads.emplace_back([&, i] { stores[i] = db_->Open(&errors[i]); });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kStores; ++i) ASSERT_TRUE(stores[i]) << errors[i];

  // Overlapping batches from every store at once (in different orders).
  std::vector<v1::Stance> batch;
  for (int i = 0; i < 40; ++i) {
    batch.push_back(MakeStance("s" + std::to_string(i), i % 3 ? "AZE" : "TUR", "x",
                               v1::POSITION_SUPPORT, 100 + i % 5, {{"UN_MANDATE", "x"}}));
  }
  threads.clear();
  std::vector<grpc::Status> statuses(kStores);
  for (int i = 0; i < kStores; ++i) {
    threads.emplace_back([&, i] {
      auto mine = batch;
      if (i % 2) std::reverse(mine.begin(), mine.end());
      statuses[i] = stores[i]->Upsert(mine);
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kStores; ++i) ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();

  // A write through one is read through every other, with the same answers.
  UpsertResult result;
  auto extra = MakeStance("zz", "EGY", "Egypt", v1::POSITION_OPPOSE, 999);
  ASSERT_TRUE(stores[0]->Upsert({extra}, &result).ok());
  EXPECT_EQ(result.changed, std::vector<size_t>{0});
  ASSERT_TRUE(stores[1]->Upsert({extra}, &result).ok());
  EXPECT_TRUE(result.changed.empty());
  std::vector<std::string> first;
  for (int i = 0; i < kStores; ++i) {
    int64_t count = 0;
    ASSERT_TRUE(stores[i]->Count(&count).ok());
    EXPECT_EQ(count, 41);
    auto ids = Paged(stores[i].get(), {}, 7, false);
    if (i == 0) first = ids;
    EXPECT_EQ(ids, first);
    std::vector<ConditionStats> conditions;
    ASSERT_TRUE(stores[i]->ListConditions("", &conditions).ok());
    ASSERT_EQ(conditions.size(), 1u);
    EXPECT_EQ(conditions[0].stance_count, 40);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformanceTest,
                         ::testing::Values("Sqlite", "Postgres", "Memory"),
                         [](const auto& info) { return info.param; });

// ---- PostgreSQL only: URIs, errors, notifications, and the same answers as SQLite. ----

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (SkipPostgres()) GTEST_SKIP() << "STANCEWIRE_TEST_POSTGRES=skip";
    std::string why;
    uri_ = PostgresUri(&why);
    ASSERT_FALSE(uri_.empty()) << why;
    db_ = std::make_unique<PostgresDatabase>(uri_);
    ASSERT_TRUE(db_->created()) << db_->error();
  }
  std::string uri_;
  std::unique_ptr<PostgresDatabase> db_;
};

TEST_F(PostgresStoreTest, OpensBothSchemesAndReportsUnreachableServers) {
  std::string error;
  auto uri = db_->uri();
  ASSERT_EQ(uri.rfind("postgres://", 0), 0u);
  EXPECT_TRUE(OpenStanceStore(uri, &error)) << error;
  EXPECT_TRUE(OpenStanceStore("postgresql://" + uri.substr(11), &error)) << error;
  // Port 1 on loopback: nobody listens.
  EXPECT_FALSE(OpenStanceStore("postgres://nobody@127.0.0.1:1/none?connect_timeout=2", &error));
  EXPECT_NE(error.find("cannot connect to PostgreSQL"), std::string::npos) << error;
  EXPECT_FALSE(OpenStanceStore("mysql://x", &error));
  EXPECT_NE(error.find("unsupported store URI"), std::string::npos) << error;
}

TEST_F(PostgresStoreTest, WrongPasswordIsAClearError) {
  const char* saved = std::getenv("PGPASSWORD");
  std::string keep = saved ? saved : "";
  ::setenv("PGPASSWORD", "wrong", 1);
  std::string error;
  auto store = OpenStanceStore(db_->uri(), &error);
  if (saved)
    ::setenv("PGPASSWORD", keep.c_str(), 1);
  else
    ::unsetenv("PGPASSWORD");
  if (keep.empty()) GTEST_SKIP() << "the server does not ask for a password";
  EXPECT_FALSE(store);
  EXPECT_NE(error.find("password"), std::string::npos) << error;
}

TEST_F(PostgresStoreTest, NotifiesCommittedChangesToEveryListener) {
  std::string error;
  auto writer = PostgresStanceStore::Open(db_->uri(), &error);
  ASSERT_TRUE(writer) << error;
  auto reader = PostgresStanceStore::Open(db_->uri(), &error);
  ASSERT_TRUE(reader) << error;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<PostgresStanceStore::Change> seen_by_reader, seen_by_writer;
  ASSERT_TRUE(reader->StartChangeListener(
      [&](const PostgresStanceStore::Change& c) {
        std::lock_guard lock(mu);
        seen_by_reader.push_back(c);
        cv.notify_all();
      },
      &error))
      << error;
  ASSERT_TRUE(writer->StartChangeListener(
      [&](const PostgresStanceStore::Change& c) {
        std::lock_guard lock(mu);
        seen_by_writer.push_back(c);
        cv.notify_all();
      },
      &error))
      << error;
  EXPECT_FALSE(writer->StartChangeListener([](const auto&) {}, &error));

  auto a = MakeStance("a", "AZE", "Azerbaijan", v1::POSITION_SUPPORT, 100);
  auto b = MakeStance("b", "TUR", "Turkey", v1::POSITION_SUPPORT, 100);
  ASSERT_TRUE(writer->Upsert({a, b}).ok());
  ASSERT_TRUE(writer->Upsert({a, b}).ok());  // unchanged: no notification
  auto a2 = a;
  a2.set_position(v1::POSITION_OPPOSE);
  ASSERT_TRUE(writer->Upsert({a2}).ok());
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] {
      return seen_by_reader.size() >= 3 && seen_by_writer.size() >= 3;
    }));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(seen_by_reader.size(), 3u);
    std::vector<std::string> ids;
    for (const auto& c : seen_by_reader) {
      EXPECT_FALSE(c.all);
      EXPECT_FALSE(c.local);
      ids.push_back(c.id);
    }
    EXPECT_EQ(ids, (std::vector<std::string>{"a", "b", "a"}));
    ASSERT_EQ(seen_by_writer.size(), 3u);
    for (const auto& c : seen_by_writer) EXPECT_TRUE(c.local);
    seen_by_reader.clear();
  }

  // What a listener re-reads.
  std::vector<v1::Stance> stances;
  ASSERT_TRUE(reader->GetStances({"b", "nope", "a"}, &stances).ok());
  ASSERT_EQ(stances.size(), 2u);
  EXPECT_EQ(stances[0].id(), "b");
  EXPECT_EQ(stances[1].position(), v1::POSITION_OPPOSE);

  // A large batch is one "changed" marker.
  std::vector<v1::Stance> batch;
  for (size_t i = 0; i <= PostgresStanceStore::kMaxNotifiedIds; ++i) {
    batch.push_back(MakeStance("big" + std::to_string(i), "AZE", "x", v1::POSITION_SUPPORT, 1));
  }
  ASSERT_TRUE(writer->Upsert(batch).ok());
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(
        cv.wait_for(lock, std::chrono::seconds(10), [&] { return !seen_by_reader.empty(); }));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(seen_by_reader.size(), 1u);
    EXPECT_TRUE(seen_by_reader[0].all);
  }
  reader->StopChangeListener();
  writer->StopChangeListener();
}

TEST_F(PostgresStoreTest, RefusesASchemaNewerThanTheBuild) {
  std::string error;
  ASSERT_TRUE(PostgresStanceStore::Open(db_->uri(), &error)) << error;
  ASSERT_TRUE(AdminExec(db_->uri(),
                        "INSERT INTO stancewire_schema_migrations (version) VALUES (9999)", &error))
      << error;
  EXPECT_FALSE(PostgresStanceStore::Open(db_->uri(), &error));
  EXPECT_NE(error.find("newer than this build"), std::string::npos) << error;
}

// A store of schema version 1 (before the speaker and confidence columns) is upgraded in place:
// migration 2 adds them and fills them from the stored bodies.
TEST_F(PostgresStoreTest, UpgradesAVersionOneStoreFillingSpeakersFromBodies) {
  std::string error;
  {
    auto store = PostgresStanceStore::Open(db_->uri(), &error);
    ASSERT_TRUE(store) << error;
    auto s = MakeStance("old", "TUR", "Turkey", v1::POSITION_SUPPORT, 50);
    s.set_speaker("Hakan Fidan");
    s.set_confidence(0.7f);
    ASSERT_TRUE(
        store->Upsert({s, MakeStance("plain", "TUR", "Turkey", v1::POSITION_SUPPORT, 60)}).ok());
  }
  // Back to version 1: its columns and its upsert function's signature.
  ASSERT_TRUE(AdminExec(db_->uri(), R"sql(
DROP INDEX stances_by_speaker;
ALTER TABLE stances DROP COLUMN speaker, DROP COLUMN confidence;
DROP FUNCTION stancewire_upsert_stance(text, text, text, text, text, text, text, integer, text,
    bigint, text, bytea, text[], text[], text[], text, real);
CREATE FUNCTION stancewire_upsert_stance(text, text, text, text, text, text, text, integer, text,
    bigint, text, bytea, text[], text[], text[]) RETURNS boolean LANGUAGE sql AS 'SELECT false';
DELETE FROM stancewire_schema_migrations WHERE version >= 2;
)sql",
                        &error))
      << error;
  auto store = PostgresStanceStore::Open(db_->uri(), &error);
  ASSERT_TRUE(store) << error;
  EXPECT_EQ(store->SchemaVersion(), PostgresStanceStore::LatestSchemaVersion());
  StanceFilter f;
  f.speaker = "hakan fidan";
  f.min_confidence = 0.7f;
  ListOptions options;
  options.limit = 10;
  StancePage page;
  ASSERT_TRUE(store->List(f, options, &page).ok());
  EXPECT_EQ(IdsOf(page.stances), std::vector<std::string>{"old"});
  // and the replaced upsert function writes both columns
  auto revised = MakeStance("plain", "TUR", "Turkey", v1::POSITION_SUPPORT, 60);
  revised.set_speaker("Hakan Fidan");
  revised.set_confidence(0.9f);
  ASSERT_TRUE(store->Upsert({revised}).ok());
  ASSERT_TRUE(store->List(f, options, &page).ok());
  EXPECT_EQ(IdsOf(page.stances), (std::vector<std::string>{"plain", "old"}));
}

// Random stances into both backends and the reference (in-memory, the filter model's own
// semantics), then many random queries: every answer must be the same.
TEST_F(PostgresStoreTest, GivesTheSameAnswersAsSqliteOnRandomData) {
  SqliteDatabase sqlite_db;
  std::string error;
  auto sqlite = sqlite_db.Open(&error);
  ASSERT_TRUE(sqlite) << error;
  auto pg = db_->Open(&error);
  ASSERT_TRUE(pg) << error;
  MemoryStanceStore reference;

  std::mt19937 rng(20251105);
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  const std::vector<std::string> actors = {"AZE", "TUR", "EGY", "QAT", "aze", "USA"};
  const std::vector<std::string> topics = {"gaza-isf", "Gaza-ISF", "rafah", "ceasefire-talks"};
  const std::vector<std::string> labels = {"", "Stabilisation Force", "the ISF", "Rafah crossing",
                                           "truce 100% talks"};
  const std::vector<std::string> outlets = {"", "Reuters", "reuters", "AP", "AnewZ"};
  const std::vector<std::string> kinds = {"UN_MANDATE", "CLEAR_MANDATE", "CEASEFIRE", ""};
  const std::vector<std::string> texts = {"a Security Council resolution", "clear mandate",
                                          "a lasting ceasefire", "under_score 50%", "UN backing"};
  const std::vector<std::string> speakers = {"", "", "Hakan Fidan", "hakan fidan",
                                             "Jeyhun Bayramov"};
  // 0.75000006 is the float nearest 0.75 from above: stores must compare floats, not decimals
  const std::vector<float> confidences = {0.45f, 0.6f, 0.75f, 0.75000006f, 0.95f};
  for (int round = 0; round < 3; ++round) {
    std::vector<v1::Stance> batch;
    for (int i = 0; i < 120; ++i) {
      const std::string actor = pick(actors);
      std::vector<std::pair<std::string, std::string>> conditions;
      for (int c = rng() % 3; c > 0; --c) conditions.emplace_back(pick(kinds), pick(texts));
      auto s = With(MakeStance("id" + std::to_string(rng() % 200), actor, actor + " name",
                               static_cast<v1::Position>(rng() % 5), 1000 + rng() % 40, conditions),
                    pick(topics), pick(labels), pick(outlets));
      s.mutable_actor()->set_mention(rng() % 2 ? "Baku" : "Ankara");
      s.mutable_actor()->set_kind(rng() % 2 ? "state" : "");
      s.set_speaker(pick(speakers));
      s.set_confidence(confidences[rng() % confidences.size()]);
      batch.push_back(s);
    }
    UpsertResult rs, rp, rm;
    ASSERT_TRUE(sqlite->Upsert(batch, &rs).ok());
    ASSERT_TRUE(pg->Upsert(batch, &rp).ok());
    ASSERT_TRUE(reference.Upsert(batch, &rm).ok());
    EXPECT_EQ(rs.changed, rp.changed) << "round " << round;
    EXPECT_EQ(rs.changed, rm.changed) << "round " << round;
  }

  const std::vector<std::string> conditions = {
      "",        "UN_MANDATE", "ceasefire",   "clear mandate",
      "council", "50%",        "under_score", "un backing"};
  const std::vector<std::string> topic_filters = {
      "", "gaza-isf", "GAZA-isf", "isf", "force", "rafah", "100%", "talks truce", "none"};
  for (int q = 0; q < 300; ++q) {
    StanceFilter f;
    if (rng() % 3 == 0) f.actor_ids = {pick(actors)};
    if (rng() % 5 == 0) f.actor_ids = {pick(actors), pick(actors)};
    if (rng() % 4 == 0) f.actor_text = pick({"aze", "baku", "TUR name", "ankara"});
    if (rng() % 3 == 0) f.condition = pick(conditions);
    if (rng() % 3 == 0) f.topic = pick(topic_filters);
    if (rng() % 4 == 0) f.position = static_cast<v1::Position>(rng() % 5);
    if (rng() % 4 == 0) f.outlet = pick(outlets);
    if (rng() % 4 == 0) f.published_after_nanos = (1000 + rng() % 40) * kSec;
    if (rng() % 4 == 0) f.published_before_nanos = (1000 + rng() % 40) * kSec;
    if (rng() % 4 == 0) f.speaker = pick({"Hakan Fidan", "HAKAN FIDAN", "Jeyhun Bayramov", "x"});
    if (rng() % 4 == 0) f.min_confidence = confidences[rng() % confidences.size()];
    const bool oldest = rng() % 2;
    const int size = 1 + rng() % 25;
    // Page through both, compare every page and total.
    ListOptions options;
    options.limit = size;
    options.oldest_first = oldest;
    options.count_total = true;
    for (int guard = 0; guard < 500; ++guard) {
      StancePage ps, pp, pm;
      ASSERT_TRUE(sqlite->List(f, options, &ps).ok());
      auto status = pg->List(f, options, &pp);
      ASSERT_TRUE(status.ok()) << status.error_message();
      ASSERT_TRUE(reference.List(f, options, &pm).ok());
      ASSERT_EQ(IdsOf(ps.stances), IdsOf(pp.stances)) << "query " << q;
      ASSERT_EQ(ps.total, pp.total) << "query " << q;
      ASSERT_EQ(ps.next.has_value(), pp.next.has_value());
      ASSERT_EQ(IdsOf(ps.stances), IdsOf(pm.stances)) << "query " << q << " (reference)";
      ASSERT_EQ(ps.total, pm.total) << "query " << q << " (reference)";
      ASSERT_EQ(ps.next.has_value(), pm.next.has_value()) << "query " << q << " (reference)";
      if (!ps.next) break;
      options.after = ps.next;
    }
    ClaimOptions co;
    co.count_total = true;
    co.min_count = 1 + rng() % 3;
    co.limit = 1 + rng() % 10;
    co.offset = rng() % 5;
    ClaimPage cs;
    ASSERT_TRUE(sqlite->ListClaims(f, co, &cs).ok());
    for (StanceStore* other :
         {static_cast<StanceStore*>(pg.get()), static_cast<StanceStore*>(&reference)}) {
      ClaimPage cp;
      ASSERT_TRUE(other->ListClaims(f, co, &cp).ok());
      ASSERT_EQ(cs.total, cp.total) << "query " << q;
      ASSERT_EQ(cs.more, cp.more);
      ASSERT_EQ(cs.claims.size(), cp.claims.size()) << "query " << q;
      for (size_t i = 0; i < cs.claims.size(); ++i) {
        const auto &x = cs.claims[i], &y = cp.claims[i];
        EXPECT_EQ(x.actor.id, y.actor.id);
        EXPECT_EQ(x.actor.name, y.actor.name);
        EXPECT_EQ(x.topic, y.topic);
        EXPECT_EQ(x.position, y.position);
        EXPECT_EQ(x.condition_kinds, y.condition_kinds);
        EXPECT_EQ(x.count, y.count);
        EXPECT_EQ(x.outlets, y.outlets);
        EXPECT_EQ(x.first_seen_nanos, y.first_seen_nanos);
        EXPECT_EQ(x.last_seen_nanos, y.last_seen_nanos);
        EXPECT_EQ(x.item_ids, y.item_ids);
        EXPECT_EQ(x.latest.id(), y.latest.id());
      }
    }
  }
  for (const auto& topic : topic_filters) {
    for (StanceStore* other :
         {static_cast<StanceStore*>(pg.get()), static_cast<StanceStore*>(&reference)}) {
      std::vector<ActorStats> as, ap;
      ASSERT_TRUE(sqlite->ListActors(topic, &as).ok());
      ASSERT_TRUE(other->ListActors(topic, &ap).ok());
      ASSERT_EQ(as.size(), ap.size()) << topic;
      for (size_t i = 0; i < as.size(); ++i) {
        EXPECT_EQ(as[i].actor.id, ap[i].actor.id) << topic;
        EXPECT_EQ(as[i].actor.name, ap[i].actor.name);
        EXPECT_EQ(as[i].actor.kind, ap[i].actor.kind);
        EXPECT_EQ(as[i].stance_count, ap[i].stance_count);
        EXPECT_EQ(as[i].position_counts, ap[i].position_counts);
        EXPECT_EQ(as[i].latest.SerializeAsString(), ap[i].latest.SerializeAsString());
      }
      std::vector<ConditionStats> cs, cp;
      ASSERT_TRUE(sqlite->ListConditions(topic, &cs).ok());
      ASSERT_TRUE(other->ListConditions(topic, &cp).ok());
      ASSERT_EQ(cs.size(), cp.size()) << topic;
      for (size_t i = 0; i < cs.size(); ++i) {
        EXPECT_EQ(cs[i].kind, cp[i].kind) << topic;
        EXPECT_EQ(cs[i].stance_count, cp[i].stance_count);
        ASSERT_EQ(cs[i].actors.size(), cp[i].actors.size());
        for (size_t j = 0; j < cs[i].actors.size(); ++j) {
          EXPECT_EQ(cs[i].actors[j].first.id, cp[i].actors[j].first.id);
          EXPECT_EQ(cs[i].actors[j].first.name, cp[i].actors[j].first.name);
          EXPECT_EQ(cs[i].actors[j].second, cp[i].actors[j].second);
        }
      }
    }
  }
  int64_t ns = 0, np = 0, nm = 0;
  ASSERT_TRUE(sqlite->Count(&ns).ok());
  ASSERT_TRUE(pg->Count(&np).ok());
  ASSERT_TRUE(reference.Count(&nm).ok());
  EXPECT_EQ(ns, np);
  EXPECT_EQ(ns, nm);
}

}  // namespace
}  // namespace stancewire::query
