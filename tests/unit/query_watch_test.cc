// WatchStances over a real gRPC server on loopback: stances arrive as the sink stores them,
// filtered like ListStances; a watcher that does not read is dropped with RESOURCE_EXHAUSTED
// instead of growing the server's memory; shutdown ends watchers. Also: the in-memory matcher
// agrees with the SQLite store on every filter shape.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "common/grpc_server.h"
#include "query-service/query_service.h"
#include "query-service/stance_match.h"
#include "query-service/stance_sink.h"
#include "query-service/store/sqlite/sqlite_stance_store.h"
#include "query-service/watch_hub.h"
#include "stancewire/v1/delivery.grpc.pb.h"
#include "tests/unit/test_stances.h"

namespace stancewire::query {
namespace {

using testing::MakeStance;

v1::Stance WithOutlet(v1::Stance s, const std::string& outlet, const std::string& label = "") {
  s.set_outlet(outlet);
  s.set_topic_label(label);
  return s;
}

class WatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("watch");
    std::string error;
    store_ = SqliteStanceStore::Open((dir_ / "stances.db").string(), &error);
    ASSERT_TRUE(store_) << error;
  }
  void Start(WatchOptions options, MemoryBudget* budget = nullptr) {
    options.budget = budget;
    hub_ = std::make_unique<WatchHub>(options);
    service_ = std::make_unique<QueryServiceImpl>(store_.get(), nullptr, "key", hub_.get(), nullptr,
                                                  budget);
    writer_ = std::make_unique<StoreWriter>(store_.get(), hub_.get());
    SinkAccess access;
    access.insecure = true;  // a plaintext loopback test
    sink_ = std::make_unique<StanceSinkService>(writer_.get(), 1000, access);
    PrepareServerBuilderPlugins();
    ServerOptions server_options;
    server_options.listen = "127.0.0.1:0";
    int port = 0;
    server_ = StartServer(server_options, {service_.get(), sink_.get()}, &port);
    ASSERT_TRUE(server_);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::QueryService::NewStub(channel_);
  }
  void TearDown() override {
    if (hub_) hub_->Close();
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_.reset();
    writer_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Delivers one batch through the real StanceSink stream and waits for its acknowledgement.
  void Deliver(const std::vector<v1::Stance>& stances, uint64_t seq) {
    auto sink = v1::StanceSink::NewStub(channel_);
    grpc::ClientContext ctx;
    auto stream = sink->Deliver(&ctx);
    v1::DeliverBatch batch;
    batch.set_seq(seq);
    for (const auto& s : stances) *batch.add_stances() = s;
    ASSERT_TRUE(stream->Write(batch));
    v1::DeliverAck ack;
    ASSERT_TRUE(stream->Read(&ack));
    EXPECT_EQ(ack.seq(), seq);
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
  }

  std::filesystem::path dir_;
  std::unique_ptr<SqliteStanceStore> store_;
  std::unique_ptr<WatchHub> hub_;
  std::unique_ptr<StoreWriter> writer_;
  std::unique_ptr<QueryServiceImpl> service_;
  std::unique_ptr<StanceSinkService> sink_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::QueryService::Stub> stub_;
};

TEST_F(WatchTest, StreamsMatchingStancesAsTheyAreStoredOnceEach) {
  Start({});
  grpc::ClientContext ctx;
  v1::WatchStancesRequest request;
  request.set_actor("AZE");
  request.set_condition("UN_MANDATE");
  auto reader = stub_->WatchStances(&ctx, request);
  // Headers arrive once the watch is registered.
  reader->WaitForInitialMetadata();
  auto un = MakeStance("a1", "AZE", "Azerbaijan", v1::POSITION_CONDITIONAL, 10,
                       {{"UN_MANDATE", "a Security Council resolution"}});
  Deliver({un, MakeStance("t1", "TUR", "Turkey", v1::POSITION_SUPPORT, 11),
           MakeStance("a2", "AZE", "Azerbaijan", v1::POSITION_SUPPORT, 12)},
          1);
  Deliver({un}, 2);  // redelivery of an unchanged stance: not news
  auto changed = un;
  changed.set_confidence(0.5f);
  Deliver({changed}, 3);  // a changed stance is
  v1::Stance got;
  ASSERT_TRUE(reader->Read(&got));
  EXPECT_EQ(got.id(), "a1");
  ASSERT_TRUE(reader->Read(&got));
  EXPECT_EQ(got.id(), "a1");
  EXPECT_FLOAT_EQ(got.confidence(), 0.5f);
  ctx.TryCancel();
  while (reader->Read(&got)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(WatchTest, SlowWatcherIsDroppedWithResourceExhaustedNotBuffered) {
  Start({/*max_queue=*/8, /*max_watchers=*/10});
  grpc::ClientContext ctx;
  auto reader = stub_->WatchStances(&ctx, v1::WatchStancesRequest());
  reader->WaitForInitialMetadata();
  // The client reads nothing while 2000 large stances are stored: the server can hold only 8
  // per watcher (plus what the transport buffers), so it drops the watcher.
  std::string big(16 * 1024, 'x');
  for (int b = 0; b < 20; ++b) {
    std::vector<v1::Stance> batch;
    for (int i = 0; i < 100; ++i) {
      auto s = MakeStance("s" + std::to_string(b * 100 + i), "AZE", "Azerbaijan",
                          v1::POSITION_SUPPORT, b * 100 + i);
      s.mutable_evidence()->set_text(big);
      batch.push_back(std::move(s));
    }
    UpsertResult stored;
    ASSERT_TRUE(store_->Upsert(batch, &stored).ok());
    hub_->Publish(batch);
  }
  int read = 0;
  v1::Stance got;
  while (reader->Read(&got)) ++read;
  auto status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("behind"), std::string::npos) << status.error_message();
  EXPECT_LT(read, 2000);
  // The hub forgets it.
  for (int i = 0; i < 100 && hub_->watcher_count() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(hub_->watcher_count(), 0u);
}

// Stores and publishes `n` stances with `bytes` of evidence each, ids from `first`.
void StoreBig(SqliteStanceStore* store, WatchHub* hub, int first, int n, size_t bytes) {
  const std::string text(bytes, 'x');
  std::vector<v1::Stance> batch;
  for (int i = first; i < first + n; ++i) {
    auto s = MakeStance("s" + std::to_string(i), "AZE", "Azerbaijan", v1::POSITION_SUPPORT, i);
    s.mutable_evidence()->set_text(text);
    batch.push_back(std::move(s));
  }
  UpsertResult stored;
  ASSERT_TRUE(store->Upsert(batch, &stored).ok());
  hub->Publish(batch);
}

// Waits until `budget` holds nothing (calls release it from gRPC's threads, after the fact).
bool Drained(const MemoryBudget& budget) {
  for (int i = 0; i < 500 && budget.used() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return budget.used() == 0;
}

TEST_F(WatchTest, WatcherIsDroppedWhenItsQueueHoldsTooManyBytes) {
  MemoryBudget budget(size_t{1} << 30);
  // Plenty of stances allowed, but only 256 KiB of them.
  Start({/*max_queue=*/100000, /*max_watchers=*/10, /*max_queue_bytes=*/256 * 1024}, &budget);
  grpc::ClientContext ctx;
  auto reader = stub_->WatchStances(&ctx, v1::WatchStancesRequest());
  reader->WaitForInitialMetadata();
  for (int b = 0; b < 20; ++b) StoreBig(store_.get(), hub_.get(), b * 100, 100, 16 * 1024);
  int read = 0;
  v1::Stance got;
  while (reader->Read(&got)) ++read;
  auto status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("bytes) behind"), std::string::npos)
      << status.error_message();
  EXPECT_LT(read, 2000);
  EXPECT_TRUE(Drained(budget)) << budget.used() << " bytes still reserved";
}

TEST_F(WatchTest, SlowWatchersShareOneBudgetAndAnUpToDateWatcherKeepsUp) {
  MemoryBudget budget(size_t{1} << 20);
  Start({/*max_queue=*/100000, /*max_watchers=*/10, /*max_queue_bytes=*/size_t{1} << 30}, &budget);
  // Two watchers that read nothing: together they may hold 1 MiB, not 2 x 20 x 100 x 16 KiB.
  grpc::ClientContext ctx1, ctx2, ctx3;
  auto slow1 = stub_->WatchStances(&ctx1, v1::WatchStancesRequest());
  auto slow2 = stub_->WatchStances(&ctx2, v1::WatchStancesRequest());
  slow1->WaitForInitialMetadata();
  slow2->WaitForInitialMetadata();
  // A third reads each stance as it comes.
  v1::WatchStancesRequest one;
  one.set_actor("TUR");
  auto fast = stub_->WatchStances(&ctx3, one);
  fast->WaitForInitialMetadata();
  size_t peak = 0;
  for (int b = 0; b < 20; ++b) {
    StoreBig(store_.get(), hub_.get(), b * 100, 100, 16 * 1024);
    peak = std::max(peak, budget.used());
    auto turkey = MakeStance("t" + std::to_string(b), "TUR", "Turkey", v1::POSITION_OPPOSE, b);
    UpsertResult stored;
    ASSERT_TRUE(store_->Upsert({turkey}, &stored).ok());
    hub_->Publish({turkey});
    v1::Stance got;
    ASSERT_TRUE(fast->Read(&got)) << "the up-to-date watcher was dropped at batch " << b;
    EXPECT_EQ(got.id(), turkey.id());
  }
  // Within the budget, give or take the one stance an up-to-date watcher may always take.
  EXPECT_LE(peak, budget.limit() + 2 * 17 * 1024);
  for (auto* reader : {slow1.get(), slow2.get()}) {
    v1::Stance got;
    while (reader->Read(&got)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  ctx3.TryCancel();
  v1::Stance got;
  while (fast->Read(&got)) {
  }
  fast->Finish();
  EXPECT_TRUE(Drained(budget)) << budget.used() << " bytes still reserved";
}

TEST_F(WatchTest, AnswersThatDoNotFitTheBudgetAreRefusedAndReleasedOnceSent) {
  MemoryBudget budget(size_t{1} << 20);
  Start({}, &budget);
  StoreBig(store_.get(), hub_.get(), 0, 200, 16 * 1024);
  grpc::ClientContext big_ctx;
  v1::ListStancesRequest big;
  big.set_page_size(100);  // ~1.6 MiB: more than the whole budget
  v1::ListStancesResponse response;
  auto status = stub_->ListStances(&big_ctx, big, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("not read yet"), std::string::npos)
      << status.error_message();
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    v1::ListStancesRequest small;
    small.set_page_size(10);
    ASSERT_TRUE(stub_->ListStances(&ctx, small, &response).ok());
    EXPECT_EQ(response.stances_size(), 10);
  }
  EXPECT_TRUE(Drained(budget)) << budget.used() << " bytes still reserved";
}

TEST_F(WatchTest, RefusesBadFiltersTooManyWatchersAndEndsWatchersOnClose) {
  Start({/*max_queue=*/8, /*max_watchers=*/1});
  {
    grpc::ClientContext ctx;
    v1::WatchStancesRequest bad;
    bad.set_position(static_cast<v1::Position>(42));
    auto reader = stub_->WatchStances(&ctx, bad);
    v1::Stance got;
    EXPECT_FALSE(reader->Read(&got));
    auto status = reader->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("position 42"), std::string::npos);
  }
  grpc::ClientContext first_ctx;
  auto first = stub_->WatchStances(&first_ctx, v1::WatchStancesRequest());
  first->WaitForInitialMetadata();
  {
    grpc::ClientContext ctx;
    auto second = stub_->WatchStances(&ctx, v1::WatchStancesRequest());
    v1::Stance got;
    EXPECT_FALSE(second->Read(&got));
    auto status = second->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_NE(status.error_message().find("too many watchers"), std::string::npos);
  }
  hub_->Close();
  v1::Stance got;
  EXPECT_FALSE(first->Read(&got));
  auto status = first->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(status.error_message().find("shutting down"), std::string::npos);
}

TEST_F(WatchTest, MatcherAgreesWithTheStoreOnEveryFilterShape) {
  std::vector<v1::Stance> stances = {
      WithOutlet(MakeStance("a", "AZE", "Azerbaijan", v1::POSITION_CONDITIONAL, 300,
                            {{"UN_MANDATE", "a Security Council resolution"},
                             {"CLEAR_MANDATE", "a clear mandate"}}),
                 "AnewZ", "International Stabilisation Force"),
      WithOutlet(MakeStance("b", "USA", "United States", v1::POSITION_SUPPORT, 200), "Reuters",
                 "ISF"),
      WithOutlet(MakeStance("c", "TUR", "Turkey", v1::POSITION_CONDITIONAL, 100,
                            {{"REGIONAL_CONSENSUS", "agreement among Arab states"}}),
                 "reuters"),
      WithOutlet(
          MakeStance("d", "TUR", "Turkey", v1::POSITION_OPPOSE, 400, {{"OTHER", "100%_ sure"}}),
          ""),
  };
  stances[3].set_topic("unifil-mandate");
  ASSERT_TRUE(store_->Upsert(stances).ok());
  std::vector<StanceFilter> filters(1);
  auto add = [&](auto edit) {
    StanceFilter f;
    edit(f);
    filters.push_back(f);
  };
  add([](auto& f) { f.actor_ids = {"TUR"}; });
  add([](auto& f) { f.actor_ids = {"TUR", "USA"}; });
  add([](auto& f) { f.actor_text = "united states"; });
  add([](auto& f) { f.actor_text = "nobody"; });
  for (const char* c : {"UN_MANDATE", "un_mandate", "clear mandate", "security council", "Security",
                        "arab", "OTHER", "100%_", "regional-consensus", "mandate"}) {
    add([&](auto& f) { f.condition = c; });
  }
  for (const char* t :
       {"gaza-international-stabilization-force", "GAZA-INTERNATIONAL-STABILIZATION-FORCE",
        "stabilisation", "isf", "unifil", "mandate", "gaza force", "nothing"}) {
    add([&](auto& f) { f.topic = t; });
  }
  add([](auto& f) { f.outlet = "REUTERS"; });
  add([](auto& f) { f.position = v1::POSITION_CONDITIONAL; });
  add([](auto& f) { f.published_after_nanos = 200LL * 1000000000; });
  add([](auto& f) { f.published_before_nanos = 300LL * 1000000000; });
  add([](auto& f) {
    f.actor_ids = {"TUR"};
    f.condition = "REGIONAL_CONSENSUS";
    f.outlet = "Reuters";
    f.position = v1::POSITION_CONDITIONAL;
    f.published_after_nanos = 100LL * 1000000000;
    f.topic = "gaza";
  });
  for (const auto& f : filters) {
    StancePage page;
    ASSERT_TRUE(store_->List(f, 100, std::nullopt, &page).ok());
    std::set<std::string> from_store, from_matcher;
    for (const auto& s : page.stances) from_store.insert(s.id());
    StanceMatcher matcher(f);
    for (const auto& s : stances) {
      if (matcher.Matches(s)) from_matcher.insert(s.id());
    }
    EXPECT_EQ(from_store, from_matcher) << "condition=" << f.condition << " topic=" << f.topic
                                        << " outlet=" << f.outlet << " actor_text=" << f.actor_text;
  }
}

}  // namespace
}  // namespace stancewire::query
