/* lease_test.cpp — the agent side of the write lease. */
#include <gtest/gtest.h>

#include "pgaf/core/lease.hpp"

namespace pgaf {
namespace {

TEST(AgentLease, NoLeaseUntilTheMonitorSaysWritable) {
  Settings s;
  AgentLease l(s);
  EXPECT_FALSE(l.may_write(0));
  l.on_monitor_reply(1000, NodeState::Secondary);
  EXPECT_FALSE(l.may_write(1001));
}

TEST(AgentLease, WritableReplyGrantsFromSendTimeMinusGuard) {
  Settings s;
  AgentLease l(s);
  l.on_monitor_reply(1000, NodeState::Primary);
  const TimeMs end = 1000 + s.lease_ms - s.fence_guard_ms;
  EXPECT_TRUE(l.may_write(end - 1));
  EXPECT_FALSE(l.may_write(end));
  EXPECT_EQ(l.expires_at(), end);
}

TEST(AgentLease, NonWritableReplyRevokesAtOnce) {
  Settings s;
  AgentLease l(s);
  l.on_monitor_reply(1000, NodeState::Primary);
  l.on_monitor_reply(1100, NodeState::Draining);
  EXPECT_FALSE(l.may_write(1101));
}

TEST(AgentLease, StandbysVouchOnlyForAConfirmedPrimary) {
  Settings s;
  AgentLease l(s);
  l.on_standby_sample(900, 1, 1, NodeState::Primary);
  l.on_standby_sample(1000, 1, 1, NodeState::Primary);
  EXPECT_FALSE(l.may_write(1001)) << "no vouch without a monitor-confirmed writable role";
  l.on_monitor_reply(1000, NodeState::Primary);
  l.on_standby_sample(2900, 0, 1, NodeState::Primary);
  l.on_standby_sample(3000, 1, 1, NodeState::Primary);
  /* dated at the previous sample (2900): a newer reply proves streaming after 2900 only */
  EXPECT_TRUE(l.may_write(2900 + s.standby_vouch_ms - s.fence_guard_ms - 1));
  EXPECT_FALSE(l.may_write(2900 + s.standby_vouch_ms - s.fence_guard_ms));
}

TEST(AgentLease, VouchAfterAPauseIsDatedBeforeThePause) {
  /* F1 of docs/simulator.md: the agent pauses 3 s; the first sample after the pause sees a
   * reply from before the pause and must not grant a fresh vouch. */
  Settings s;
  AgentLease l(s);
  l.on_monitor_reply(0, NodeState::Primary);
  l.on_standby_sample(1000, 1, 1, NodeState::Primary);
  l.on_standby_sample(4000, 1, 1, NodeState::Primary);
  EXPECT_FALSE(l.may_write(4001));
}

TEST(AgentLease, VouchNeedsEnoughQuorumStandbysAndStatePrimary) {
  Settings s;
  AgentLease l(s);
  l.on_monitor_reply(0, NodeState::Primary);
  l.on_standby_sample(4900, 0, 2, NodeState::Primary);
  l.on_standby_sample(5000, 1, 2, NodeState::Primary);
  EXPECT_FALSE(l.may_write(5001));
  l.on_standby_sample(5000, 2, 2, NodeState::WaitPrimary);
  EXPECT_FALSE(l.may_write(5001)) << "wait_primary has no synchronous standby to vouch";
  l.on_standby_sample(5000, 2, 2, NodeState::Primary);
  EXPECT_TRUE(l.may_write(5001));
}

TEST(AgentLease, RevokedPrimaryCannotBeRevivedByStandbys) {
  Settings s;
  AgentLease l(s);
  l.on_monitor_reply(0, NodeState::Primary);
  l.on_monitor_reply(100, NodeState::Draining);
  l.on_standby_sample(150, 3, 1, NodeState::Primary);
  l.on_standby_sample(200, 3, 1, NodeState::Primary);
  EXPECT_FALSE(l.may_write(201));
}

}  // namespace
}  // namespace pgaf
