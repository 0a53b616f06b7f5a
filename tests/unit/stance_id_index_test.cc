#include "query-service/stance_id_index.h"

#include <gtest/gtest.h>

namespace stancewire::query {
namespace {

using Lookup = StanceIdIndex::Lookup;

uint64_t SameHashForAll(std::string_view) { return 7; }

TEST(StanceIdIndexTest, FindsWhatWasAddedAsCandidates) {
  StanceIdIndex index;
  int64_t seq = -1;
  EXPECT_EQ(index.Find("a", &seq), Lookup::kAbsent);
  index.Add("a", 1, /*hash_taken=*/false);
  index.Add("b", 5, /*hash_taken=*/false);
  EXPECT_EQ(index.Find("a", &seq), Lookup::kCandidate);
  EXPECT_EQ(seq, 1);
  EXPECT_EQ(index.Find("b", &seq), Lookup::kCandidate);
  EXPECT_EQ(seq, 5);
  EXPECT_EQ(index.Find("c", &seq), Lookup::kAbsent);
  EXPECT_EQ(index.size(), 2u);
  EXPECT_EQ(index.max_seq(), 5);
}

TEST(StanceIdIndexTest, IdsWhoseHashIsTakenAreFoundByTheirText) {
  StanceIdIndex index(SameHashForAll);
  int64_t seq = -1;
  index.Add("first", 1, false);
  // Every other id hashes alike: the caller sees the first one's row, finds another id there,
  // and records the new id as taken.
  ASSERT_EQ(index.Find("second", &seq), Lookup::kCandidate);
  EXPECT_EQ(seq, 1);
  index.Add("second", 2, /*hash_taken=*/true);
  index.Add("third", 3, /*hash_taken=*/true);
  EXPECT_EQ(index.Find("second", &seq), Lookup::kExact);
  EXPECT_EQ(seq, 2);
  EXPECT_EQ(index.Find("third", &seq), Lookup::kExact);
  EXPECT_EQ(seq, 3);
  EXPECT_EQ(index.Find("first", &seq), Lookup::kCandidate);
  EXPECT_EQ(seq, 1);
  EXPECT_EQ(index.size(), 3u);
}

TEST(StanceIdIndexTest, LoadTreatsATakenHashAsAnotherId) {
  StanceIdIndex index(SameHashForAll);
  index.Load("x", 10);
  index.Load("y", 11);
  int64_t seq = -1;
  EXPECT_EQ(index.Find("y", &seq), Lookup::kExact);
  EXPECT_EQ(seq, 11);
  EXPECT_EQ(index.Find("x", &seq), Lookup::kCandidate);
  EXPECT_EQ(seq, 10);
  EXPECT_EQ(index.max_seq(), 11);
}

TEST(StanceIdIndexTest, RollbackForgetsWhatTheTransactionAdded) {
  StanceIdIndex index(SameHashForAll);
  index.Add("kept", 1, false);
  index.BeginTransaction();
  index.Add("gone", 2, /*hash_taken=*/true);
  index.CommitTransaction();
  index.BeginTransaction();
  index.Add("undone", 3, /*hash_taken=*/true);
  index.RollbackTransaction();
  int64_t seq = -1;
  EXPECT_EQ(index.Find("gone", &seq), Lookup::kExact);
  EXPECT_EQ(index.Find("undone", &seq), Lookup::kCandidate);  // only the first id's row
  EXPECT_EQ(seq, 1);
  EXPECT_EQ(index.max_seq(), 2);
  EXPECT_EQ(index.size(), 2u);

  StanceIdIndex plain;
  plain.BeginTransaction();
  plain.Add("a", 4, false);
  plain.RollbackTransaction();
  EXPECT_EQ(plain.Find("a", &seq), Lookup::kAbsent);
  EXPECT_EQ(plain.max_seq(), 0);
}

}  // namespace
}  // namespace stancewire::query
