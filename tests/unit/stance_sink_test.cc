// The delivery path in one process: outbox -> forwarder -> StanceSink -> store, over a real gRPC
// stream on a loopback port.
#include "query-service/stance_sink.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <thread>

#include "common/grpc_server.h"
#include "common/security.h"
#include "common/sqlite_db.h"
#include "ingest-service/forwarder.h"
#include "ingest-service/outbox.h"
#include "query-service/store/sqlite/sqlite_stance_store.h"
#include "tests/unit/test_stances.h"

namespace stancewire {
namespace {

using testing::MakeStance;

class DeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("delivery");
    std::string error;
    store_ = query::SqliteStanceStore::Open((dir_ / "stances.db").string(), &error);
    ASSERT_TRUE(store_) << error;
    ingest::OutboxOptions outbox_options;
    outbox_options.path = (dir_ / "outbox.db").string();
    outbox_options.sync = ingest::SyncMode::kOff;
    outbox_ = ingest::Outbox::Open(outbox_options, &error);
    ASSERT_TRUE(outbox_) << error;
  }
  void TearDown() override {
    StopServer();
    outbox_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void StartServer(int port) {
    writer_ = std::make_unique<query::StoreWriter>(store_.get());
    query::SinkAccess access;
    access.insecure = true;  // a plaintext loopback test
    sink_ = std::make_unique<query::StanceSinkService>(writer_.get(), 1000, access);
    PrepareServerBuilderPlugins();
    ServerOptions options;
    options.listen = "127.0.0.1:" + std::to_string(port);
    server_ = stancewire::StartServer(options, {sink_.get()}, &port_);
    ASSERT_TRUE(server_);
  }
  void StopServer() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_.reset();
    sink_.reset();
    writer_.reset();
  }

  void Append(int from, int to) {
    std::vector<v1::Stance> stances;
    for (int i = from; i < to; ++i) {
      stances.push_back(
          MakeStance("s" + std::to_string(i), "AZE", "Azerbaijan", v1::POSITION_SUPPORT, i));
    }
    std::promise<grpc::Status> done;
    outbox_->Append(std::move(stances), [&](const grpc::Status& s) { done.set_value(s); });
    ASSERT_TRUE(done.get_future().get().ok());
  }

  std::set<std::string> StoredIds() {
    std::set<std::string> ids;
    std::optional<query::StanceCursor> after;
    do {
      query::StancePage page;
      EXPECT_TRUE(store_->List({}, 1000, after, &page).ok());
      for (const auto& s : page.stances) ids.insert(s.id());
      after = page.next;
    } while (after);
    return ids;
  }

  bool WaitUntilDelivered(std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (outbox_->pending_stances() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return outbox_->pending_stances() == 0;
  }

  static std::set<std::string> Expected(int n) {
    std::set<std::string> ids;
    for (int i = 0; i < n; ++i) ids.insert("s" + std::to_string(i));
    return ids;
  }

  std::filesystem::path dir_;
  std::unique_ptr<query::SqliteStanceStore> store_;
  std::unique_ptr<ingest::Outbox> outbox_;
  std::unique_ptr<query::StoreWriter> writer_;
  std::unique_ptr<query::StanceSinkService> sink_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

ingest::ForwarderOptions FastOptions() {
  ingest::ForwarderOptions options;
  options.batch_stances = 64;
  options.backoff_initial = std::chrono::milliseconds(20);
  options.backoff_max = std::chrono::milliseconds(200);
  options.connect_timeout = std::chrono::milliseconds(200);
  return options;
}

TEST_F(DeliveryTest, DeliversEverythingInBatchesAndEmptiesTheOutbox) {
  StartServer(0);
  Append(0, 1000);
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials());
  ingest::Forwarder forwarder(outbox_.get(), channel, FastOptions());
  forwarder.Start();
  Append(1000, 1500);  // while streaming
  ASSERT_TRUE(WaitUntilDelivered(std::chrono::seconds(20)));
  EXPECT_EQ(forwarder.Stop(std::chrono::system_clock::now()), 0);
  EXPECT_EQ(StoredIds(), Expected(1500));
}

TEST_F(DeliveryTest, WaitsForALateReceiverAndResumesAfterItRestarts) {
  // Reserve a port, then free it: the forwarder starts before anything listens there.
  StartServer(0);
  const int port = port_;
  StopServer();
  Append(0, 300);
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  ingest::Forwarder forwarder(outbox_.get(), channel, FastOptions());
  forwarder.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(outbox_->pending_stances(), 300);
  StartServer(port);
  ASSERT_TRUE(WaitUntilDelivered(std::chrono::seconds(20)));
  StopServer();
  Append(300, 600);
  StartServer(port);
  ASSERT_TRUE(WaitUntilDelivered(std::chrono::seconds(20)));
  forwarder.Stop(std::chrono::system_clock::now());
  EXPECT_EQ(StoredIds(), Expected(600));
}

TEST_F(DeliveryTest, DeliversAnOutboxLeftByThePreviousVersion) {
  // The previous ingest-service kept one serialized Stance per entry; 300 were still undelivered
  // when it was upgraded.
  const std::string path = (dir_ / "old-outbox.db").string();
  std::vector<v1::Stance> old;
  for (int i = 0; i < 300; ++i) {
    old.push_back(
        MakeStance("s" + std::to_string(i), "AZE", "Azerbaijan", v1::POSITION_SUPPORT, i));
  }
  testing::WriteVersion0Outbox(path, old, /*acknowledged=*/0);
  ingest::OutboxOptions options;
  options.path = path;
  options.sync = ingest::SyncMode::kOff;
  std::string error;
  outbox_ = ingest::Outbox::Open(options, &error);
  ASSERT_TRUE(outbox_) << error;
  EXPECT_EQ(outbox_->pending_stances(), 300);
  StartServer(0);
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials());
  ingest::Forwarder forwarder(outbox_.get(), channel, FastOptions());
  forwarder.Start();
  Append(300, 400);  // the new format after them
  ASSERT_TRUE(WaitUntilDelivered(std::chrono::seconds(20)));
  forwarder.Stop(std::chrono::system_clock::now());
  EXPECT_EQ(StoredIds(), Expected(400));
}

TEST_F(DeliveryTest, DrainAcknowledgesWhatItStoredThenEndsTheStreamAndRefusesNewOnes) {
  StartServer(0);
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials());
  auto stub = v1::StanceSink::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto stream = stub->Deliver(&context);
  v1::DeliverBatch batch;
  batch.set_seq(7);
  for (int i = 0; i < 10; ++i) {
    *batch.add_stances() =
        MakeStance("s" + std::to_string(i), "AZE", "Azerbaijan", v1::POSITION_SUPPORT, i);
  }
  ASSERT_TRUE(stream->Write(batch));
  v1::DeliverAck ack;
  ASSERT_TRUE(stream->Read(&ack));
  EXPECT_EQ(ack.seq(), 7u);

  // The sender keeps its stream open, as ingest-service's forwarder does; Drain ends it.
  sink_->Drain();
  EXPECT_FALSE(stream->Read(&ack));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(status.error_message().find("shutting down"), std::string::npos)
      << status.error_message();
  EXPECT_EQ(StoredIds(), Expected(10));

  grpc::ClientContext again;
  again.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto refused = stub->Deliver(&again);
  EXPECT_FALSE(refused->Read(&ack));
  EXPECT_EQ(refused->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
// A batch whose seq is 0, repeats, goes back or is past the outbox's range would let an
// acknowledgement cover batches that were never stored: it ends the stream, and nothing from it
// is stored.
TEST_F(DeliveryTest, RefusesSequenceNumbersThatAreZeroRepeatGoBackOrWrap) {
  StartServer(0);
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials());
  auto stub = v1::StanceSink::NewStub(channel);
  auto batch_of = [](uint64_t seq, const std::string& id) {
    v1::DeliverBatch batch;
    batch.set_seq(seq);
    *batch.add_stances() = MakeStance(id, "AZE", "Azerbaijan", v1::POSITION_SUPPORT, 1);
    return batch;
  };
  // Each case: the batches sent on one stream; all but the last are acknowledged.
  const std::vector<std::pair<std::vector<uint64_t>, std::string>> cases = {
      {{0}, "is 0"},
      {{5, 5}, "does not follow 5"},
      {{9, 4}, "does not follow 9"},
      {{UINT64_MAX}, "out of range"},
      {{uint64_t{1} << 63}, "out of range"},
  };
  int n = 0;
  std::set<std::string> expected;
  for (const auto& [seqs, message] : cases) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    auto stream = stub->Deliver(&context);
    v1::DeliverAck ack;
    for (size_t i = 0; i + 1 < seqs.size(); ++i) {
      const std::string id = "good" + std::to_string(n++);
      ASSERT_TRUE(stream->Write(batch_of(seqs[i], id)));
      ASSERT_TRUE(stream->Read(&ack));
      EXPECT_EQ(ack.seq(), seqs[i]);
      expected.insert(id);
    }
    stream->Write(batch_of(seqs.back(), "bad" + std::to_string(n++)));
    EXPECT_FALSE(stream->Read(&ack));
    grpc::Status status = stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << message;
    EXPECT_NE(status.error_message().find(message), std::string::npos) << status.error_message();
  }
  EXPECT_EQ(StoredIds(), expected);
}

// Without --insecure-delivery, a peer with neither a client certificate nor a delivery token is
// refused, and an Ingest writer token is not a delivery token.
TEST_F(DeliveryTest, RefusesPeersWithoutDeliveryCredentials) {
  const std::filesystem::path tokens = dir_ / "tokens";
  {
    std::ofstream out(tokens);
    out << "writer-token-0123456789 writer\ndelivery-token-0123456 delivery\n";
  }
  std::string error;
  auto authorizer = TokenAuthorizer::Load(tokens.string(), &error);
  ASSERT_TRUE(authorizer) << error;
  for (bool with_tokens : {false, true}) {
    writer_ = std::make_unique<query::StoreWriter>(store_.get());
    query::SinkAccess access;
    if (with_tokens) access.tokens = authorizer.get();
    sink_ = std::make_unique<query::StanceSinkService>(writer_.get(), 1000, access);
    PrepareServerBuilderPlugins();
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    server_ = stancewire::StartServer(options, {sink_.get()}, &port_);
    ASSERT_TRUE(server_);
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                       grpc::InsecureChannelCredentials());
    auto stub = v1::StanceSink::NewStub(channel);
    auto deliver = [&](const std::string& token, uint64_t seq) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
      if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
      auto stream = stub->Deliver(&context);
      v1::DeliverBatch batch;
      batch.set_seq(seq);
      *batch.add_stances() =
          MakeStance("s" + std::to_string(seq), "AZE", "Azerbaijan", v1::POSITION_SUPPORT, 1);
      stream->Write(batch);
      stream->WritesDone();
      v1::DeliverAck ack;
      while (stream->Read(&ack)) {
      }
      return stream->Finish();
    };
    grpc::Status anonymous = deliver("", 1);
    EXPECT_EQ(anonymous.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << anonymous.error_message();
    if (with_tokens) {
      EXPECT_EQ(deliver("writer-token-0123456789", 2).error_code(),
                grpc::StatusCode::PERMISSION_DENIED);
      EXPECT_TRUE(deliver("delivery-token-0123456", 3).ok());
    }
    StopServer();
  }
  EXPECT_EQ(StoredIds(), std::set<std::string>{"s3"});
}

}  // namespace stancewire
