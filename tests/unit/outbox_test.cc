#include "ingest-service/outbox.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>

#include "tests/unit/test_stances.h"

namespace stancewire::ingest {
namespace {

using testing::MakeStance;
using testing::WriteVersion0Outbox;

std::vector<v1::Stance> Stances(int n, const std::string& prefix) {
  std::vector<v1::Stance> stances;
  for (int i = 0; i < n; ++i) {
    stances.push_back(
        MakeStance(prefix + std::to_string(i), "AZE", "Azerbaijan", v1::POSITION_SUPPORT, i));
  }
  return stances;
}

std::vector<std::string> Ids(const OutboxBatch& batch) {
  std::vector<v1::Stance> stances;
  EXPECT_TRUE(DecodeStanceRecords(batch.records, &stances));
  EXPECT_EQ(stances.size(), batch.stances);
  std::vector<std::string> ids;
  for (const auto& s : stances) ids.push_back(s.id());
  return ids;
}

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("outbox");
    std::filesystem::create_directories(dir_);
    options_.path = (dir_ / "outbox.db").string();
    options_.max_pending_stances = 5;
    options_.sync = SyncMode::kNormal;
  }
  void TearDown() override {
    outbox_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    outbox_.reset();
    std::string error;
    outbox_ = Outbox::Open(options_, &error);
    ASSERT_TRUE(outbox_) << error;
  }
  grpc::Status AppendAndWait(int n, const std::string& prefix) {
    std::promise<grpc::Status> done;
    outbox_->Append(Stances(n, prefix), [&](const grpc::Status& s) { done.set_value(s); });
    return done.get_future().get();
  }
  grpc::Status AcknowledgeAndWait(uint64_t up_to) {
    std::promise<grpc::Status> done;
    outbox_->Acknowledge(up_to, [&](const grpc::Status& s) { done.set_value(s); });
    return done.get_future().get();
  }
  OutboxBatch Read(uint64_t after, size_t max_stances = 100, size_t max_bytes = 1 << 20) {
    OutboxBatch batch;
    EXPECT_TRUE(outbox_->Read(after, max_stances, max_bytes, &batch).ok());
    return batch;
  }

  std::filesystem::path dir_;
  OutboxOptions options_;
  std::unique_ptr<Outbox> outbox_;
};

TEST_F(OutboxTest, AppendReadAcknowledgeInSequence) {
  Reopen();
  ASSERT_TRUE(AppendAndWait(3, "a").ok());
  ASSERT_TRUE(AppendAndWait(2, "b").ok());
  OutboxBatch all = Read(0);
  EXPECT_EQ(Ids(all), (std::vector<std::string>{"a0", "a1", "a2", "b0", "b1"}));
  EXPECT_EQ(all.last_seq, outbox_->last_committed_seq());
  // Batches hold whole entries (one per Append here): what fits, and at least one.
  OutboxBatch first = Read(0, /*max_stances=*/4);
  EXPECT_EQ(Ids(first), (std::vector<std::string>{"a0", "a1", "a2"}));
  EXPECT_LT(first.last_seq, all.last_seq);
  EXPECT_EQ(Read(0, /*max_stances=*/1).stances, 3u);
  EXPECT_EQ(Read(0, 100, /*max_bytes=*/1).stances, 3u);
  EXPECT_EQ(Ids(Read(first.last_seq)), (std::vector<std::string>{"b0", "b1"}));
  EXPECT_EQ(Read(all.last_seq).stances, 0u);

  ASSERT_TRUE(AcknowledgeAndWait(first.last_seq).ok());
  EXPECT_EQ(outbox_->pending_stances(), 2);
  EXPECT_EQ(Ids(Read(0)), (std::vector<std::string>{"b0", "b1"}));
}

TEST_F(OutboxTest, SplitsLargeAppendsIntoEntriesThatFitABatch) {
  options_.max_stances_per_entry = 2;
  Reopen();
  ASSERT_TRUE(AppendAndWait(5, "a").ok());
  OutboxBatch first = Read(0, /*max_stances=*/2);
  EXPECT_EQ(Ids(first), (std::vector<std::string>{"a0", "a1"}));
  OutboxBatch rest = Read(first.last_seq, /*max_stances=*/2);
  EXPECT_EQ(Ids(rest), (std::vector<std::string>{"a2", "a3"}));
  EXPECT_EQ(Ids(Read(rest.last_seq)), (std::vector<std::string>{"a4"}));
}

TEST_F(OutboxTest, ReadsTheSameFromMemoryAndFromTheFile) {
  options_.max_pending_stances = 100;
  // Room in memory for the last two entries (of two stances each, all of the same size).
  StanceRecords entry;
  for (const auto& s : Stances(2, "a")) entry.Add(s);
  options_.tail_bytes = 2 * entry.bytes().size();
  Reopen();
  for (const char* prefix : {"a", "b", "c", "d", "e"}) ASSERT_TRUE(AppendAndWait(2, prefix).ok());
  const uint64_t first = Read(0, 1).last_seq;
  // Every starting point, whether the entries after it are in memory, on file or both.
  for (uint64_t after = 0; after <= first + 4; ++after) {
    std::vector<std::string> expected;
    for (uint64_t seq = std::max(after + 1, first); seq <= first + 4; ++seq) {
      for (int i = 0; i < 2; ++i)
        expected.push_back(std::string(1, 'a' + (seq - first)) + std::to_string(i));
    }
    EXPECT_EQ(Ids(Read(after)), expected) << "after " << after;
    EXPECT_EQ(Read(after, 3).stances, after >= first + 4 ? 0u : 2u);
  }
  ASSERT_TRUE(AcknowledgeAndWait(first + 3).ok());
  EXPECT_EQ(Ids(Read(first + 3)), (std::vector<std::string>{"e0", "e1"}));
  EXPECT_EQ(Ids(Read(0)), (std::vector<std::string>{"e0", "e1"}));
}

TEST_F(OutboxTest, RefusesPastTheLimitWithResourceExhausted) {
  Reopen();
  ASSERT_TRUE(AppendAndWait(4, "a").ok());
  grpc::Status s = AppendAndWait(2, "b");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(s.error_message().find("outbox is full"), std::string::npos) << s.error_message();
  EXPECT_EQ(outbox_->pending_stances(), 4);
  ASSERT_TRUE(AcknowledgeAndWait(Read(0).last_seq).ok());
  EXPECT_EQ(outbox_->pending_stances(), 0);
  EXPECT_TRUE(AppendAndWait(2, "b").ok());
}

TEST_F(OutboxTest, SurvivesReopenAndNeverReusesSequenceNumbers) {
  Reopen();
  ASSERT_TRUE(AppendAndWait(2, "a").ok());
  const uint64_t last = Read(0).last_seq;
  ASSERT_TRUE(AcknowledgeAndWait(last).ok());
  ASSERT_TRUE(AppendAndWait(1, "b").ok());
  Reopen();
  EXPECT_EQ(outbox_->pending_stances(), 1);
  OutboxBatch batch = Read(0);
  EXPECT_EQ(Ids(batch), std::vector<std::string>{"b0"});
  EXPECT_GT(batch.last_seq, last);
  // After everything is acknowledged and the file reopened, numbering still moves forward.
  ASSERT_TRUE(AcknowledgeAndWait(batch.last_seq).ok());
  Reopen();
  EXPECT_EQ(outbox_->pending_stances(), 0);
  ASSERT_TRUE(AppendAndWait(1, "c").ok());
  EXPECT_GT(Read(0).last_seq, batch.last_seq);
}

TEST_F(OutboxTest, AcknowledgementsQueuedAtShutdownAreCommitted) {
  Reopen();
  ASSERT_TRUE(AppendAndWait(3, "a").ok());
  outbox_->Acknowledge(Read(0).last_seq);
  Reopen();
  EXPECT_EQ(outbox_->pending_stances(), 0);
  EXPECT_EQ(Read(0).stances, 0u);
}

TEST_F(OutboxTest, MigratesAnOutboxOfThePreviousFormat) {
  options_.max_pending_stances = 100;
  WriteVersion0Outbox(options_.path, Stances(5, "old"), /*acknowledged=*/2);
  Reopen();
  EXPECT_EQ(outbox_->pending_stances(), 3);
  OutboxBatch batch = Read(0);
  // The same stances under the same sequence numbers.
  EXPECT_EQ(Ids(batch), (std::vector<std::string>{"old2", "old3", "old4"}));
  EXPECT_EQ(batch.last_seq, 5u);
  EXPECT_EQ(Read(0, /*max_stances=*/2).last_seq, 4u);
  std::vector<v1::Stance> stances;
  ASSERT_TRUE(DecodeStanceRecords(batch.records, &stances));
  EXPECT_EQ(stances[0].SerializeAsString(), Stances(3, "old")[2].SerializeAsString());
  ASSERT_TRUE(AppendAndWait(1, "new").ok());
  EXPECT_EQ(Read(5).last_seq, 6u);
  Reopen();  // already migrated: opens as is
  EXPECT_EQ(outbox_->pending_stances(), 4);
  EXPECT_EQ(Ids(Read(0)), (std::vector<std::string>{"old2", "old3", "old4", "new0"}));
}

TEST_F(OutboxTest, MigratingAnEmptyOutboxKeepsTheSequenceGoing) {
  WriteVersion0Outbox(options_.path, Stances(4, "old"), /*acknowledged=*/4);
  Reopen();
  EXPECT_EQ(outbox_->pending_stances(), 0);
  ASSERT_TRUE(AppendAndWait(1, "new").ok());
  EXPECT_EQ(Read(0).last_seq, 5u);
}

TEST_F(OutboxTest, RefusesAFileFromANewerVersion) {
  {
    SqliteDb db;
    std::string error;
    ASSERT_TRUE(db.Open(options_.path, false, &error));
    ASSERT_TRUE(db.Exec("PRAGMA user_version = 99", &error));
  }
  std::string error;
  EXPECT_FALSE(Outbox::Open(options_, &error));
  EXPECT_NE(error.find("newer"), std::string::npos) << error;
}

TEST(SyncModeTest, ParsesKnownModesOnly) {
  SyncMode mode;
  EXPECT_TRUE(ParseSyncMode("full", &mode));
  EXPECT_EQ(mode, SyncMode::kFull);
  EXPECT_TRUE(ParseSyncMode("off", &mode));
  EXPECT_EQ(mode, SyncMode::kOff);
  EXPECT_FALSE(ParseSyncMode("sometimes", &mode));
}

}  // namespace
}  // namespace stancewire::ingest
