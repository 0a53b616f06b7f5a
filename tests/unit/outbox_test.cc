#include "ingest-service/outbox.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>

#include "tests/unit/test_stances.h"

namespace stancewire::ingest {
namespace {

using testing::MakeStance;

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("outbox");
    options_.path = (dir_ / "outbox.db").string();
    options_.max_pending_stances = 5;
    options_.sync = SyncMode::kNormal;
    Reopen();
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
    std::vector<v1::Stance> stances;
    for (int i = 0; i < n; ++i) {
      stances.push_back(
          MakeStance(prefix + std::to_string(i), "AZE", "Azerbaijan", v1::POSITION_SUPPORT, i));
    }
    std::promise<grpc::Status> done;
    outbox_->Append(std::move(stances), [&](const grpc::Status& s) { done.set_value(s); });
    return done.get_future().get();
  }

  std::filesystem::path dir_;
  OutboxOptions options_;
  std::unique_ptr<Outbox> outbox_;
};

TEST_F(OutboxTest, AppendReadAcknowledgeInSequence) {
  ASSERT_TRUE(AppendAndWait(3, "a").ok());
  std::vector<OutboxEntry> entries;
  ASSERT_TRUE(outbox_->Read(0, 10, &entries).ok());
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].stance.id(), "a0");
  EXPECT_LT(entries[0].seq, entries[2].seq);
  ASSERT_TRUE(outbox_->Read(entries[0].seq, 1, &entries).ok());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].stance.id(), "a1");
  ASSERT_TRUE(outbox_->Acknowledge(entries[0].seq).ok());
  EXPECT_EQ(outbox_->pending_stances(), 1);
  ASSERT_TRUE(outbox_->Read(0, 10, &entries).ok());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].stance.id(), "a2");
}

TEST_F(OutboxTest, RefusesPastTheLimitWithResourceExhausted) {
  ASSERT_TRUE(AppendAndWait(4, "a").ok());
  grpc::Status s = AppendAndWait(2, "b");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(s.error_message().find("outbox is full"), std::string::npos) << s.error_message();
  EXPECT_EQ(outbox_->pending_stances(), 4);
  std::vector<OutboxEntry> entries;
  ASSERT_TRUE(outbox_->Read(0, 10, &entries).ok());
  ASSERT_TRUE(outbox_->Acknowledge(entries.back().seq).ok());
  EXPECT_TRUE(AppendAndWait(2, "b").ok());
}

TEST_F(OutboxTest, SurvivesReopenAndNeverReusesSequenceNumbers) {
  ASSERT_TRUE(AppendAndWait(2, "a").ok());
  std::vector<OutboxEntry> entries;
  ASSERT_TRUE(outbox_->Read(0, 10, &entries).ok());
  const uint64_t last = entries.back().seq;
  ASSERT_TRUE(outbox_->Acknowledge(last).ok());
  ASSERT_TRUE(AppendAndWait(1, "b").ok());
  Reopen();
  EXPECT_EQ(outbox_->pending_stances(), 1);
  ASSERT_TRUE(outbox_->Read(0, 10, &entries).ok());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].stance.id(), "b0");
  EXPECT_GT(entries[0].seq, last);
  // After everything is acknowledged and the file reopened, numbering still moves forward.
  ASSERT_TRUE(outbox_->Acknowledge(entries[0].seq).ok());
  Reopen();
  ASSERT_TRUE(AppendAndWait(1, "c").ok());
  ASSERT_TRUE(outbox_->Read(0, 10, &entries).ok());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_GT(entries[0].seq, last + 1);
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
