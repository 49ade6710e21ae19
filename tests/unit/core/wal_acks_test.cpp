/*
 * wal_acks_test.cpp — WalAckTracker: which standbys stopped acknowledging the primary's WAL.
 */
#include "pgaf/core/wal_acks.hpp"

#include <gtest/gtest.h>

namespace pgaf {
namespace {

TEST(WalAckTracker, CaughtUpOrAdvancingStandbysAreNeverStale) {
  WalAckTracker t(2000);
  TimeMs now = 1000;
  Lsn primary = 100;
  for (int i = 0; i < 100; ++i, now += 500, primary += 10) {
    /* node 2 is always caught up; node 3 lags but advances */
    t.on_sample(now, primary, {{2, primary}, {3, primary - 50 + i % 2}});
    EXPECT_TRUE(t.stale(now).empty()) << "sample " << i;
  }
}

TEST(WalAckTracker, AStuckStandbyTurnsStaleAfterTheTimeout) {
  WalAckTracker t(2000);
  t.on_sample(0, 100, {{2, 100}, {3, 100}});
  /* the primary writes on; node 3 receives nothing (one-way partition) */
  t.on_sample(1000, 200, {{2, 200}, {3, 100}});
  EXPECT_TRUE(t.stale(2000).empty()) << "its last progress was at 0: not yet";
  t.on_sample(2001, 300, {{2, 300}, {3, 100}});
  EXPECT_EQ(t.stale(2001), std::vector<NodeId>{3});
  /* it acknowledges again */
  t.on_sample(2500, 300, {{2, 300}, {3, 250}});
  EXPECT_TRUE(t.stale(2500).empty());
}

TEST(WalAckTracker, AStandbyThatLeftTurnsStaleAndOneNeverSeenIsNotJudged) {
  WalAckTracker t(2000);
  t.on_sample(0, 100, {{2, 100}});
  t.on_sample(500, 100, {});
  EXPECT_TRUE(t.stale(1000).empty());
  EXPECT_EQ(t.stale(2001), std::vector<NodeId>{2});
  t.reset();
  EXPECT_TRUE(t.stale(5000).empty());
}

TEST(WalAckTracker, AnExpectedStandbyThatNeverStreamsTurnsStale) {
  /* F12: a secondary cascading from another standby never shows up in our pg_stat_replication */
  WalAckTracker t(2000);
  t.on_sample(0, 100, {{2, 100}}, {2, 3});
  t.on_sample(1500, 200, {{2, 200}}, {2, 3});
  EXPECT_TRUE(t.stale(1500).empty());
  t.on_sample(2500, 300, {{2, 300}}, {2, 3});
  EXPECT_EQ(t.stale(2500), std::vector<NodeId>{3});
  t.on_sample(3000, 300, {{2, 300}, {3, 120}}, {2, 3});
  EXPECT_TRUE(t.stale(3000).empty()) << "it streams from us now: it advances";
}

TEST(WalAckTracker, ZeroTimeoutDisablesTheVerdictAndTheTableIsBounded) {
  WalAckTracker off(0);
  off.on_sample(0, 100, {{2, 1}});
  EXPECT_TRUE(off.stale(1000000).empty());
  WalAckTracker t(10);
  std::map<NodeId, Lsn> many;
  for (NodeId id = 1; id <= 1000; ++id) many[id] = 0;
  t.on_sample(0, 100, many);
  EXPECT_EQ(t.stale(100).size(), WalAckTracker::kMaxTracked);
}

}  // namespace
}  // namespace pgaf
