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

TEST_F(OutboxTest, AnAppendLargerThanTheLimitCanNeverFit) {
  Reopen();  // limit 5
  grpc::Status s = AppendAndWait(6, "a");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("can never succeed"), std::string::npos) << s.error_message();
  EXPECT_EQ(s.error_message().find("retry later"), std::string::npos) << s.error_message();
  EXPECT_EQ(outbox_->pending_stances(), 0);
  EXPECT_TRUE(AppendAndWait(5, "b").ok());
}

// Entries are bounded in bytes as well as in stances, so that any batch of whole entries stays
// under the gRPC message limit.
TEST_F(OutboxTest, SplitsAppendsIntoEntriesBoundedInBytes) {
  options_.max_pending_stances = 100;
  options_.max_stances_per_entry = 100;
  StanceRecords all;
  for (const auto& s : Stances(10, "a")) all.Add(s);
  options_.max_entry_bytes = all.bytes().size() / 3;  // about three stances per entry
  Reopen();
  ASSERT_TRUE(AppendAndWait(10, "a").ok());
  std::vector<std::string> ids;
  size_t entries = 0, from = 0;
  for (uint64_t after = 0;;) {
    OutboxBatch entry = Read(after, 1);  // one entry at a time
    if (entry.stances == 0) break;
    ++entries;
    EXPECT_LE(entry.records.size(), options_.max_entry_bytes);
    // Greedy: the next stance would not have fitted.
    if (from + entry.stances < all.size()) {
      EXPECT_GT(all.Range(from, from + entry.stances + 1).size(), options_.max_entry_bytes);
    }
    from += entry.stances;
    for (auto& id : Ids(entry)) ids.push_back(id);
    after = entry.last_seq;
  }
  EXPECT_GE(entries, 3u);
  EXPECT_EQ(ids.size(), 10u);
  EXPECT_EQ(ids.front(), "a0");
  EXPECT_EQ(ids.back(), "a9");
}

// An outbox written before entries were bounded in bytes may hold one larger than a gRPC message:
// opening it splits that entry, moving it and what follows to the end in order, so that it drains.
TEST_F(OutboxTest, SplitsOversizedEntriesLeftByAnEarlierVersionWhenOpened) {
  options_.max_pending_stances = 100;
  options_.max_stances_per_entry = 100;
  options_.max_entry_bytes = 1 << 30;  // as before: no byte bound
  Reopen();
  ASSERT_TRUE(AppendAndWait(2, "a").ok());
  ASSERT_TRUE(AppendAndWait(8, "big").ok());  // one entry of 8
  ASSERT_TRUE(AppendAndWait(2, "c").ok());
  const uint64_t before = outbox_->last_committed_seq();
  StanceRecords big;
  for (const auto& s : Stances(8, "big")) big.Add(s);
  options_.max_entry_bytes = big.bytes().size() / 3;  // the entry of 8 becomes three or four
  Reopen();
  EXPECT_EQ(outbox_->pending_stances(), 12);
  std::vector<std::string> ids;
  std::vector<uint64_t> seqs;
  for (uint64_t after = 0;;) {
    OutboxBatch entry = Read(after, 1);
    if (entry.stances == 0) break;
    EXPECT_LE(entry.records.size(), options_.max_entry_bytes);
    for (auto& id : Ids(entry)) ids.push_back(id);
    seqs.push_back(entry.last_seq);
    after = entry.last_seq;
  }
  std::vector<std::string> expected;
  for (const auto& s : Stances(2, "a")) expected.push_back(s.id());
  for (const auto& s : Stances(8, "big")) expected.push_back(s.id());
  for (const auto& s : Stances(2, "c")) expected.push_back(s.id());
  EXPECT_EQ(ids, expected);        // nothing lost, same order
  ASSERT_GE(seqs.size(), 5u);      // a; big in three or more; c
  EXPECT_EQ(seqs[0], before - 2);  // the entry before the oversized one keeps its number
  EXPECT_GT(seqs[1], before);      // the rest moved past every number used
  ASSERT_TRUE(AppendAndWait(1, "d").ok());
  EXPECT_GT(outbox_->last_committed_seq(), seqs.back());
  Reopen();  // nothing oversized is left: the numbers stay
  EXPECT_EQ(Read(seqs[0], 1).last_seq, seqs[1]);
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
