// QueryServiceImpl over a real SQLite store, without gRPC: filters, validation, paging, the
// aggregate calls and the timeline marks.
#include "query-service/query_service.h"

#include <google/protobuf/util/message_differencer.h>
#include <google/protobuf/util/time_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>

#include "common/grpc_server.h"
#include "query-service/store/sqlite/sqlite_stance_store.h"
#include "tests/unit/test_stances.h"

namespace stancewire::query {
namespace {

using google::protobuf::util::MessageDifferencer;
using google::protobuf::util::TimeUtil;
using testing::MakeStance;

class FakeActors final : public extraction::ActorDictionary {
 public:
  FakeActors() {
    Add({"AZE", "Azerbaijan", "state"}, {"azerbaijan", "baku", "azerbaijani", "jeyhun bayramov"});
    Add({"TUR", "Turkey", "state"}, {"turkey", "ankara", "hakan fidan"});
    Add({"IDN", "Indonesia", "state"}, {"indonesia", "jakarta"});
    Add({"USA", "United States", "state"}, {"united states", "washington"});
  }
  const Record* Resolve(std::string_view alias) const override {
    std::string key = AsciiLower(std::string(alias));
    auto it = aliases_.find(key);
    if (it != aliases_.end()) return &records_.at(it->second);
    auto by_id = records_.find(std::string(alias));
    return by_id == records_.end() ? nullptr : &by_id->second;
  }
  const std::string* ResolvePerson(std::string_view form) const override {
    static const std::map<std::string, std::string> kPeople = {
        {"hakan fidan", "Hakan Fidan"},
        {"fidan", "Hakan Fidan"},
        {"jeyhun bayramov", "Jeyhun Bayramov"},
        {"bayramov", "Jeyhun Bayramov"}};
    auto it = kPeople.find(AsciiLower(std::string(form)));
    return it == kPeople.end() ? nullptr : &it->second;
  }

 private:
  void Add(Record r, std::vector<std::string> aliases) {
    for (auto& a : aliases) aliases_[a] = r.id;
    records_[r.id] = std::move(r);
  }
  std::map<std::string, Record> records_;
  std::map<std::string, std::string> aliases_;
};

v1::Stance Rich(const std::string& id, const std::string& actor_id, const std::string& name,
                v1::Position position, int64_t seconds, const std::string& outlet,
                const std::vector<std::pair<std::string, std::string>>& conditions = {},
                const std::string& topic = "gaza-international-stabilization-force",
                const std::string& label = "International Stabilisation Force") {
  auto s = MakeStance(id, actor_id, name, position, seconds, conditions);
  s.set_outlet(outlet);
  s.set_topic(topic);
  s.set_topic_label(label);
  s.mutable_actor()->set_kind("state");
  return s;
}

class QueryServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("query");
    std::string error;
    store_ = SqliteStanceStore::Open((dir_ / "stances.db").string(), &error);
    ASSERT_TRUE(store_) << error;
    service_ = std::make_unique<QueryServiceImpl>(store_.get(), &actors_, "key");
    // Azerbaijan: undecided, then conditional (UN mandate), then conditional (+ clear mandate),
    // reported by several outlets; Turkey supports, then opposes; Indonesia on another topic.
    ASSERT_TRUE(store_
                    ->Upsert({
                        Rich("a1", "AZE", "Azerbaijan", v1::POSITION_UNDECIDED, 1000, "AnewZ"),
                        Rich("a2", "AZE", "Azerbaijan", v1::POSITION_CONDITIONAL, 2000, "AnewZ",
                             {{"UN_MANDATE", "a UN Security Council resolution"}}),
                        Rich("a3", "AZE", "Azerbaijan", v1::POSITION_CONDITIONAL, 3000, "Reuters",
                             {{"UN_MANDATE", "a Security Council mandate"}}),
                        Rich("a4", "AZE", "Azerbaijan", v1::POSITION_CONDITIONAL, 4000, "APA",
                             {{"UN_MANDATE", "UN backing"},
                              {"CLEAR_MANDATE", "a clear mandate for the mission"}}),
                        Rich("t1", "TUR", "Turkey", v1::POSITION_SUPPORT, 1500, "Reuters"),
                        Rich("t2", "TUR", "Turkey", v1::POSITION_OPPOSE, 3500, "Anadolu"),
                        Rich("i1", "IDN", "Indonesia", v1::POSITION_CONDITIONAL, 2500, "Antara",
                             {{"UN_MANDATE", "if the UN Security Council authorises it"},
                              {"PARLIAMENT_APPROVAL", "approval of parliament"}},
                             "haiti-gang-suppression-force", "Gang Suppression Force"),
                    })
                    .ok());
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::vector<std::string> Ids(v1::ListStancesRequest r) {
    v1::ListStancesResponse response;
    auto status = service_->DoListStances(r, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::vector<std::string> ids;
    for (const auto& s : response.stances()) ids.push_back(s.id());
    return ids;
  }

  FakeActors actors_;
  std::filesystem::path dir_;
  std::unique_ptr<SqliteStanceStore> store_;
  std::unique_ptr<QueryServiceImpl> service_;
};

using IdList = std::vector<std::string>;

TEST_F(QueryServiceTest, NewFiltersCombineWithAndNewestFirst) {
  v1::ListStancesRequest r;
  EXPECT_EQ(Ids(r), (IdList{"a4", "t2", "a3", "i1", "a2", "t1", "a1"}));
  r.set_position(v1::POSITION_CONDITIONAL);
  EXPECT_EQ(Ids(r), (IdList{"a4", "a3", "i1", "a2"}));
  r.set_outlet("reuters");  // case-insensitive
  EXPECT_EQ(Ids(r), (IdList{"a3"}));
  r = {};
  r.set_topic("gaza-international-stabilization-force");
  EXPECT_EQ(Ids(r).size(), 6u);
  r.set_topic("gang suppression");  // words in the label
  EXPECT_EQ(Ids(r), (IdList{"i1"}));
  r.set_topic("Stabilisation force");  // British spelling: only the label has it
  EXPECT_EQ(Ids(r).size(), 6u);
  r.set_topic("no such topic");
  EXPECT_TRUE(Ids(r).empty());
  r = {};
  *r.mutable_published_after() = TimeUtil::SecondsToTimestamp(2000);   // inclusive
  *r.mutable_published_before() = TimeUtil::SecondsToTimestamp(3500);  // exclusive
  EXPECT_EQ(Ids(r), (IdList{"a3", "i1", "a2"}));
  r.set_actor("Baku");
  r.set_condition("security council");
  EXPECT_EQ(Ids(r), (IdList{"a3", "a2"}));
  r.set_condition("UN_MANDATE");
  r.set_position(v1::POSITION_CONDITIONAL);
  r.set_outlet("AnewZ");
  EXPECT_EQ(Ids(r), (IdList{"a2"}));
}

TEST_F(QueryServiceTest, ActorAcceptsAnyDictionaryAlias) {
  for (const char* alias : {"AZE", "Azerbaijan", "baku", "Azerbaijani", "Jeyhun Bayramov"}) {
    v1::ListStancesRequest r;
    r.set_actor(alias);
    EXPECT_EQ(Ids(r), (IdList{"a4", "a3", "a2", "a1"})) << alias;
  }
  v1::ListStancesRequest r;
  r.set_actor("Hakan Fidan");  // a person's name resolves to the state
  EXPECT_EQ(Ids(r), (IdList{"t2", "t1"}));
  r.set_actor("Atlantis");
  EXPECT_TRUE(Ids(r).empty());
}

TEST_F(QueryServiceTest, SpeakerByAnyFormAndMinConfidence) {
  v1::Stance fidan = Rich("t3", "TUR", "Turkey", v1::POSITION_CONDITIONAL, 5000, "Anadolu",
                          {{"UN_MANDATE", "a Security Council mandate"}});
  fidan.set_speaker("Hakan Fidan");
  fidan.set_confidence(0.8f);
  v1::Stance unnamed = Rich("t4", "TUR", "Turkey", v1::POSITION_SUPPORT, 5100, "Reuters");
  unnamed.set_speaker("Ibrahim Kalin");  // not in the dictionary
  unnamed.set_confidence(0.5f);
  ASSERT_TRUE(store_->Upsert({fidan, unnamed}).ok());
  for (const char* form : {"Hakan Fidan", "fidan", "HAKAN FIDAN"}) {
    v1::ListStancesRequest r;
    r.set_speaker(form);
    EXPECT_EQ(Ids(r), IdList{"t3"}) << form;
  }
  v1::ListStancesRequest r;
  r.set_speaker("ibrahim kalin");  // unknown forms match the stored name as given
  EXPECT_EQ(Ids(r), IdList{"t4"});
  r.set_speaker("Kalin");
  EXPECT_TRUE(Ids(r).empty());
  r = {};
  r.set_min_confidence(0.5f);
  EXPECT_EQ(Ids(r), (IdList{"t4", "t3"}));  // the fixture's other stances have confidence 0
  r.set_min_confidence(0.8f);
  EXPECT_EQ(Ids(r), IdList{"t3"});
  r.set_actor("Baku");
  EXPECT_TRUE(Ids(r).empty());
  // the same filters for claims
  v1::ListClaimsRequest c;
  c.set_speaker("Fidan");
  v1::ListClaimsResponse claims;
  ASSERT_TRUE(service_->DoListClaims(c, &claims).ok());
  ASSERT_EQ(claims.claims_size(), 1);
  EXPECT_EQ(claims.claims(0).actor().id(), "TUR");
}

// Bounds outside 1677..2262 do not fit int64 nanoseconds; they saturate instead of wrapping, so
// a bound past every stored stance still excludes (or includes) them all.
TEST_F(QueryServiceTest, TimeBoundsBeyondTheStoredRangeCompareCorrectly) {
  auto at = [](const char* text) {
    google::protobuf::Timestamp ts;
    EXPECT_TRUE(TimeUtil::FromString(text, &ts)) << text;
    return ts;
  };
  v1::ListStancesRequest r;
  *r.mutable_published_after() = at("2300-01-01T00:00:00Z");
  EXPECT_TRUE(Ids(r).empty());
  *r.mutable_published_before() = at("2400-01-01T00:00:00Z");
  EXPECT_TRUE(Ids(r).empty());  // a valid window, though both ends saturate
  r.Clear();
  *r.mutable_published_before() = at("1600-01-01T00:00:00Z");
  EXPECT_TRUE(Ids(r).empty());
  r.Clear();
  *r.mutable_published_after() = at("0001-01-01T00:00:00Z");
  *r.mutable_published_before() = at("9999-12-31T23:59:59Z");
  EXPECT_EQ(Ids(r).size(), 7u);

  EXPECT_EQ(TimestampNanos(at("2300-01-01T00:00:00Z")), INT64_MAX);
  EXPECT_EQ(TimestampNanos(at("1600-01-01T00:00:00Z")), INT64_MIN);
  EXPECT_EQ(TimestampNanos(at("2261-12-31T23:59:59.999999999Z")), 9214646399999999999);
  EXPECT_EQ(TimestampNanos(at("1678-01-01T00:00:00Z")), -9214560000000000000);
}

TEST_F(QueryServiceTest, TotalSizeIsCountedOnceAndCarriedThroughPages) {
  v1::ListStancesRequest r;
  r.set_page_size(3);
  r.set_actor("AZE");
  std::vector<std::string> seen;
  int pages = 0;
  while (true) {
    v1::ListStancesResponse response;
    ASSERT_TRUE(service_->DoListStances(r, &response).ok());
    EXPECT_EQ(response.total_size(), 4);
    for (const auto& s : response.stances()) seen.push_back(s.id());
    ++pages;
    if (response.next_page_token().empty()) break;
    r.set_page_token(response.next_page_token());
  }
  EXPECT_EQ(pages, 2);
  EXPECT_EQ(seen, (IdList{"a4", "a3", "a2", "a1"}));
}

TEST_F(QueryServiceTest, RefusesBadRequestsNamingTheProblem) {
  v1::ListStancesResponse first;
  v1::ListStancesRequest one;
  one.set_page_size(1);
  ASSERT_TRUE(service_->DoListStances(one, &first).ok());
  ASSERT_FALSE(first.next_page_token().empty());
  struct Case {
    std::function<void(v1::ListStancesRequest*)> edit;
    std::string words;
  };
  std::vector<Case> cases = {
      {[](auto* r) { r->set_page_size(-1); }, "page_size"},
      {[](auto* r) { r->set_position(static_cast<v1::Position>(9)); }, "position 9"},
      {[](auto* r) { r->set_topic("   "); }, "topic is blank"},
      {[](auto* r) { r->set_condition(std::string(2000, 'x')); }, "condition is 2000 bytes"},
      {[](auto* r) { r->mutable_published_after()->set_nanos(-1); },
       "published_after is not a valid"},
      {[](auto* r) {
         *r->mutable_published_after() = TimeUtil::SecondsToTimestamp(10);
         *r->mutable_published_before() = TimeUtil::SecondsToTimestamp(10);
       },
       "must be earlier than published_before"},
      {[](auto* r) { r->mutable_published_before()->set_seconds(INT64_MAX); },
       "published_before is not a valid timestamp"},
      {[](auto* r) {
         std::string many;
         for (int i = 0; i < 512; ++i) many += "w" + std::to_string(i) + " ";
         r->set_condition(many.substr(0, 1024));
       },
       "words, over the limit of 32"},
      {[](auto* r) {
         r->set_topic("a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3 4 5 6 7");
       },
       "topic has 33 words, over the limit of 32"},
      {[](auto* r) { r->set_speaker(" "); }, "speaker is blank"},
      {[](auto* r) { r->set_min_confidence(1.5f); }, "min_confidence is 1.5"},
      {[](auto* r) { r->set_min_confidence(-0.1f); }, "it must be in [0, 1]"},
      {[](auto* r) { r->set_min_confidence(std::nanf("")); }, "min_confidence is nan"},
      {[](auto* r) { r->set_page_token("forged"); }, "page_token"},
      {[&](auto* r) {
         r->set_page_token(first.next_page_token());
         r->set_outlet("AnewZ");
       },
       "different filters"},
  };
  for (const auto& c : cases) {
    v1::ListStancesRequest r;
    c.edit(&r);
    v1::ListStancesResponse response;
    auto status = service_->DoListStances(r, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.words;
    EXPECT_NE(status.error_message().find(c.words), std::string::npos) << status.error_message();
  }
  // A ListStances token is not a ListClaims token.
  v1::ListClaimsRequest claims;
  claims.set_page_token(first.next_page_token());
  v1::ListClaimsResponse claims_response;
  auto status = service_->DoListClaims(claims, &claims_response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("different filters"), std::string::npos);
}

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// The ListStances method answers spliced stored bytes; they must parse to exactly what the
// decoding path builds, on every page of every listing (tokens and total_size included).
TEST_F(QueryServiceTest, SplicedListStancesParsesToTheDecodedResponse) {
  std::vector<v1::ListStancesRequest> listings(7);
  listings[1].set_actor("Baku");
  listings[2].set_condition("UN_MANDATE");
  listings[3].set_actor("Azerbaijan");
  listings[3].set_condition("clear mandate");
  listings[4].set_position(v1::POSITION_CONDITIONAL);
  listings[4].set_topic("stabilisation force");
  listings[5].set_topic("no such topic");  // empty: total_size 0, no token, no bytes at all
  *listings[6].mutable_published_after() = TimeUtil::SecondsToTimestamp(2000);
  for (auto& r : listings) {
    for (int page_size : {0, 1, 3}) {
      r.set_page_size(page_size);
      r.clear_page_token();
      int pages = 0, seen = 0;
      do {
        SCOPED_TRACE(r.ShortDebugString());
        v1::ListStancesResponse decoded;
        ASSERT_TRUE(service_->DoListStances(r, &decoded).ok());
        grpc::ByteBuffer wire;
        ASSERT_TRUE(service_->DoListStancesWire(r, &wire).ok());
        v1::ListStancesResponse spliced;
        ASSERT_TRUE(spliced.ParseFromString(Flatten(wire)));
        EXPECT_TRUE(MessageDifferencer::Equals(spliced, decoded))
            << "spliced: " << spliced.ShortDebugString()
            << "\ndecoded: " << decoded.ShortDebugString();
        const int left = decoded.total_size() - seen;
        EXPECT_EQ(spliced.stances_size(), std::min(page_size == 0 ? 50 : page_size, left))
            << "every page is full but the last";
        seen += spliced.stances_size();
        r.set_page_token(spliced.next_page_token());
        ++pages;
      } while (!r.page_token().empty() && pages < 10);
      EXPECT_TRUE(r.page_token().empty());
    }
  }
  // Refusals are the same on both paths.
  v1::ListStancesRequest bad;
  bad.set_page_size(-1);
  v1::ListStancesResponse decoded;
  grpc::ByteBuffer wire;
  auto a = service_->DoListStances(bad, &decoded);
  auto b = service_->DoListStancesWire(bad, &wire);
  EXPECT_EQ(a.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(b.error_code(), a.error_code());
  EXPECT_EQ(b.error_message(), a.error_message());
}

// The raw ListStances method through a real server: a typed client reads the spliced answer, and
// a request protobuf would refuse gets INVALID_ARGUMENT naming the field (not UNIMPLEMENTED).
TEST_F(QueryServiceTest, ListStancesOverGrpcAnswersTypedClientsAndNamesBadFields) {
  PrepareServerBuilderPlugins();
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  int port = 0;
  auto server = StartServer(options, {service_.get()}, &port);
  ASSERT_TRUE(server);
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  auto stub = v1::QueryService::NewStub(channel);

  v1::ListStancesRequest r;
  r.set_actor("Baku");
  r.set_page_size(2);
  v1::ListStancesResponse expected, got;
  ASSERT_TRUE(service_->DoListStances(r, &expected).ok());
  {
    grpc::ClientContext ctx;
    auto status = stub->ListStances(&ctx, r, &got);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_TRUE(MessageDifferencer::Equals(got, expected)) << got.ShortDebugString();
  EXPECT_EQ(got.stances_size(), 2);
  EXPECT_EQ(got.total_size(), 4);
  {
    grpc::ClientContext ctx;
    v1::ListStancesRequest bad;
    bad.set_page_size(5000);
    auto status = stub->ListStances(&ctx, bad, &got);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("page_size 5000"), std::string::npos);
  }

  // Hand-built requests: actor (field 1) with a stray 0xff byte; published_after (field 8) whose
  // body is cut short; bytes that are not protobuf at all.
  const std::pair<std::string, std::string> cases[] = {
      {std::string("\x0a\x04"
                   "Ba\xffu",
                   6),
       "actor is not valid UTF-8 (first bad byte at offset 2)"},
      {std::string("\x42\x03\x08\x96", 4), "not a valid protobuf message"},
      {std::string("\x42\x02\x08\x96", 4), "published_after is not a valid protobuf message"},
  };
  grpc::GenericStub generic(channel);
  for (const auto& [bytes, words] : cases) {
    SCOPED_TRACE(words);
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1), response;
    grpc::ClientContext ctx;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    grpc::Status status;
    generic.UnaryCall(&ctx, "/stancewire.v1.QueryService/ListStances", grpc::StubOptions(),
                      &request, &response, [&](grpc::Status s) {
                        std::lock_guard<std::mutex> lock(mu);
                        status = std::move(s);
                        done = true;
                        cv.notify_one();
                      });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_NE(status.error_message().find(words), std::string::npos) << status.error_message();
  }
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

TEST_F(QueryServiceTest, ListActorsCountsPositionsAndShowsLatest) {
  v1::ListActorsResponse response;
  ASSERT_TRUE(service_->DoListActors({}, &response).ok());
  ASSERT_EQ(response.actors_size(), 3);
  EXPECT_EQ(response.total_size(), 3);
  const auto& aze = response.actors(0);  // most stances first
  EXPECT_EQ(aze.actor().id(), "AZE");
  EXPECT_EQ(aze.actor().name(), "Azerbaijan");
  EXPECT_EQ(aze.actor().kind(), "state");
  EXPECT_EQ(aze.stance_count(), 4);
  std::map<int, int> counts;
  for (const auto& pc : aze.position_counts()) counts[pc.position()] = pc.count();
  EXPECT_EQ(counts,
            (std::map<int, int>{{v1::POSITION_CONDITIONAL, 3}, {v1::POSITION_UNDECIDED, 1}}));
  EXPECT_EQ(aze.latest().id(), "a4");

  v1::ListActorsRequest by_topic;
  by_topic.set_topic("gang suppression");
  response.Clear();
  ASSERT_TRUE(service_->DoListActors(by_topic, &response).ok());
  ASSERT_EQ(response.actors_size(), 1);
  EXPECT_EQ(response.actors(0).actor().id(), "IDN");

  v1::ListActorsRequest paged;
  paged.set_page_size(2);
  response.Clear();
  ASSERT_TRUE(service_->DoListActors(paged, &response).ok());
  EXPECT_EQ(response.actors_size(), 2);
  paged.set_page_token(response.next_page_token());
  response.Clear();
  ASSERT_TRUE(service_->DoListActors(paged, &response).ok());
  ASSERT_EQ(response.actors_size(), 1);
  EXPECT_TRUE(response.next_page_token().empty());
}

TEST_F(QueryServiceTest, ListConditionsCountsStancesAndActors) {
  v1::ListConditionsResponse response;
  ASSERT_TRUE(service_->DoListConditions({}, &response).ok());
  ASSERT_GE(response.conditions_size(), 3);
  const auto& un = response.conditions(0);
  EXPECT_EQ(un.kind(), "UN_MANDATE");
  EXPECT_EQ(un.stance_count(), 4);
  ASSERT_EQ(un.actors_size(), 2);
  EXPECT_EQ(un.actors(0).actor().name(), "Azerbaijan");
  EXPECT_EQ(un.actors(0).count(), 3);
  EXPECT_EQ(un.actors(1).actor().id(), "IDN");

  v1::ListConditionsRequest by_topic;
  by_topic.set_topic("gaza-international-stabilization-force");
  response.Clear();
  ASSERT_TRUE(service_->DoListConditions(by_topic, &response).ok());
  std::set<std::string> kinds;
  for (const auto& c : response.conditions()) kinds.insert(c.kind());
  EXPECT_EQ(kinds, (std::set<std::string>{"UN_MANDATE", "CLEAR_MANDATE"}));
}

// ListActors, ListConditions and GetActorTimeline read speaker and min_confidence as ListStances
// does (any form of a known person, the same bounds and messages), and their tokens are bound to
// them.
TEST_F(QueryServiceTest, AggregatesAndTimelineTakeSpeakerAndMinConfidence) {
  v1::Stance t3 = Rich("t3", "TUR", "Turkey", v1::POSITION_CONDITIONAL, 5000, "Anadolu",
                       {{"UN_MANDATE", "a Security Council mandate"}});
  t3.set_speaker("Hakan Fidan");
  t3.set_confidence(0.8f);
  v1::Stance a5 = Rich("a5", "AZE", "Azerbaijan", v1::POSITION_CONDITIONAL, 6000, "APA",
                       {{"UN_MANDATE", "UN backing"}});
  a5.set_speaker("Hakan Fidan");
  a5.set_confidence(0.9f);
  ASSERT_TRUE(store_->Upsert({t3, a5}).ok());
  auto actors = [&](const v1::ListActorsRequest& r) {
    v1::ListActorsResponse response;
    auto status = service_->DoListActors(r, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::vector<std::string> out;
    for (const auto& a : response.actors()) {
      out.push_back(a.actor().id() + ":" + std::to_string(a.stance_count()) + ":" +
                    a.latest().id());
    }
    return out;
  };
  v1::ListActorsRequest r;
  EXPECT_EQ(actors(r), (IdList{"AZE:5:a5", "TUR:3:t3", "IDN:1:i1"}));
  r.set_speaker("fidan");
  EXPECT_EQ(actors(r), (IdList{"AZE:1:a5", "TUR:1:t3"}));
  r.set_min_confidence(0.85f);
  EXPECT_EQ(actors(r), IdList{"AZE:1:a5"});
  r = {};
  *r.mutable_published_before() = TimeUtil::SecondsToTimestamp(2000);  // a1, t1
  EXPECT_EQ(actors(r), (IdList{"AZE:1:a1", "TUR:1:t1"}));

  v1::ListConditionsRequest c;
  c.set_speaker("Hakan Fidan");
  v1::ListConditionsResponse conditions;
  ASSERT_TRUE(service_->DoListConditions(c, &conditions).ok());
  ASSERT_EQ(conditions.conditions_size(), 1);
  EXPECT_EQ(conditions.conditions(0).kind(), "UN_MANDATE");
  EXPECT_EQ(conditions.conditions(0).stance_count(), 2);
  c.set_min_confidence(0.85f);
  conditions.Clear();
  ASSERT_TRUE(service_->DoListConditions(c, &conditions).ok());
  ASSERT_EQ(conditions.conditions_size(), 1);
  ASSERT_EQ(conditions.conditions(0).actors_size(), 1);
  EXPECT_EQ(conditions.conditions(0).actors(0).actor().name(), "Azerbaijan");

  // Azerbaijan as voiced by Fidan: one stance, compared with no earlier one of his (a4, unvoiced,
  // would mark CLEAR_MANDATE removed).
  v1::GetActorTimelineRequest t;
  t.set_actor("Baku");
  t.set_speaker("Fidan");
  v1::GetActorTimelineResponse timeline;
  ASSERT_TRUE(service_->DoGetActorTimeline(t, &timeline).ok());
  ASSERT_EQ(timeline.entries_size(), 1);
  EXPECT_EQ(timeline.entries(0).stance().id(), "a5");
  EXPECT_EQ(timeline.entries(0).previous_position(), v1::POSITION_UNSPECIFIED);
  EXPECT_FALSE(timeline.entries(0).conditions_changed());
  t.set_min_confidence(0.95f);
  timeline.Clear();
  ASSERT_TRUE(service_->DoGetActorTimeline(t, &timeline).ok());
  EXPECT_EQ(timeline.entries_size(), 0);

  // The same refusals as ListStances.
  for (const auto& [confidence, speaker, words] :
       std::vector<std::tuple<float, std::string, std::string>>{
           {1.5f, "", "min_confidence is 1.5"},
           {-0.1f, "", "it must be in [0, 1]"},
           {std::nanf(""), "", "min_confidence is nan"},
           {0.0f, " ", "speaker is blank"}}) {
    v1::ListActorsRequest la;
    la.set_min_confidence(confidence);
    la.set_speaker(speaker);
    v1::ListConditionsRequest lc;
    lc.set_min_confidence(confidence);
    lc.set_speaker(speaker);
    v1::GetActorTimelineRequest gt;
    gt.set_actor("AZE");
    gt.set_min_confidence(confidence);
    gt.set_speaker(speaker);
    v1::ListActorsResponse a;
    v1::ListConditionsResponse l;
    v1::GetActorTimelineResponse g;
    for (const grpc::Status& status :
         {service_->DoListActors(la, &a), service_->DoListConditions(lc, &l),
          service_->DoGetActorTimeline(gt, &g)}) {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << words;
      EXPECT_NE(status.error_message().find(words), std::string::npos) << status.error_message();
    }
  }

  // A token is bound to the speaker and confidence it was issued for.
  v1::ListActorsRequest paged;
  paged.set_speaker("Fidan");
  paged.set_page_size(1);
  v1::ListActorsResponse page;
  ASSERT_TRUE(service_->DoListActors(paged, &page).ok());
  ASSERT_FALSE(page.next_page_token().empty());
  paged.set_page_token(page.next_page_token());
  page.Clear();
  ASSERT_TRUE(service_->DoListActors(paged, &page).ok());
  ASSERT_EQ(page.actors_size(), 1);
  EXPECT_EQ(page.actors(0).actor().id(), "TUR");
  for (auto edit : std::vector<std::function<void(v1::ListActorsRequest*)>>{
           [](auto* q) { q->clear_speaker(); }, [](auto* q) { q->set_min_confidence(0.5f); }}) {
    v1::ListActorsRequest other = paged;
    edit(&other);
    auto status = service_->DoListActors(other, &page);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("different filters"), std::string::npos);
  }
}

TEST_F(QueryServiceTest, TimelineMarksPositionAndConditionChanges) {
  v1::GetActorTimelineRequest r;
  r.set_actor("Baku");
  v1::GetActorTimelineResponse response;
  ASSERT_TRUE(service_->DoGetActorTimeline(r, &response).ok());
  EXPECT_EQ(response.actor().name(), "Azerbaijan");
  ASSERT_EQ(response.entries_size(), 4);
  EXPECT_EQ(response.entries(0).stance().id(), "a1");
  EXPECT_FALSE(response.entries(0).position_changed());
  EXPECT_TRUE(response.entries(1).position_changed());
  EXPECT_EQ(response.entries(1).previous_position(), v1::POSITION_UNDECIDED);
  EXPECT_TRUE(response.entries(1).conditions_changed());
  EXPECT_EQ(response.entries(1).added_conditions(0), "UN_MANDATE");
  EXPECT_FALSE(response.entries(2).position_changed());
  EXPECT_FALSE(response.entries(2).conditions_changed());
  EXPECT_TRUE(response.entries(3).conditions_changed());
  EXPECT_EQ(response.entries(3).added_conditions(0), "CLEAR_MANDATE");

  // Paging (and windows) compare the first entry with the stance before it.
  r.set_page_size(2);
  r.set_page_token("");
  response.Clear();
  ASSERT_TRUE(service_->DoGetActorTimeline(r, &response).ok());
  r.set_page_token(response.next_page_token());
  response.Clear();
  ASSERT_TRUE(service_->DoGetActorTimeline(r, &response).ok());
  ASSERT_EQ(response.entries_size(), 2);
  EXPECT_EQ(response.entries(0).stance().id(), "a3");
  EXPECT_EQ(response.entries(0).previous_position(), v1::POSITION_CONDITIONAL);
  EXPECT_FALSE(response.entries(0).conditions_changed());

  v1::GetActorTimelineRequest missing;
  EXPECT_EQ(service_->DoGetActorTimeline(missing, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  missing.set_actor("Atlantis");
  auto status = service_->DoGetActorTimeline(missing, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(status.error_message().find("Atlantis"), std::string::npos);
}

TEST_F(QueryServiceTest, ClaimsGroupCorroboratingReports) {
  v1::ListClaimsRequest r;
  r.set_actor("AZE");
  r.set_condition("UN_MANDATE");
  v1::ListClaimsResponse response;
  ASSERT_TRUE(service_->DoListClaims(r, &response).ok());
  ASSERT_EQ(response.claims_size(), 2);
  EXPECT_EQ(response.total_size(), 2);
  const auto& top = response.claims(0);  // a2 + a3: same position and kinds, two outlets
  EXPECT_EQ(top.count(), 2);
  EXPECT_EQ(top.position(), v1::POSITION_CONDITIONAL);
  EXPECT_EQ(std::vector<std::string>(top.condition_kinds().begin(), top.condition_kinds().end()),
            IdList{"UN_MANDATE"});
  EXPECT_EQ(std::vector<std::string>(top.outlets().begin(), top.outlets().end()),
            (IdList{"AnewZ", "Reuters"}));
  EXPECT_EQ(top.first_seen().seconds(), 2000);
  EXPECT_EQ(top.last_seen().seconds(), 3000);
  EXPECT_EQ(top.latest().id(), "a3");
  EXPECT_EQ(std::vector<std::string>(top.item_ids().begin(), top.item_ids().end()),
            (IdList{"item-a3", "item-a2"}));
  EXPECT_EQ(top.actor().name(), "Azerbaijan");
  EXPECT_EQ(response.claims(1).count(), 1);

  r.set_min_count(2);
  response.Clear();
  ASSERT_TRUE(service_->DoListClaims(r, &response).ok());
  EXPECT_EQ(response.claims_size(), 1);

  v1::ListClaimsRequest all;
  all.set_page_size(2);
  std::set<std::string> keys;
  int pages = 0;
  do {
    response.Clear();
    ASSERT_TRUE(service_->DoListClaims(all, &response).ok());
    EXPECT_EQ(response.total_size(), 6);
    for (const auto& c : response.claims()) keys.insert(c.actor().id() + c.latest().id());
    all.set_page_token(response.next_page_token());
    ++pages;
  } while (!all.page_token().empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(keys.size(), 6u);
}

}  // namespace
}  // namespace stancewire::query
