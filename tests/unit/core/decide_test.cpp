/*
 * decide_test.cpp — every rule of decide() by name, the API events' preconditions and errors,
 * and the fencing rule (no write-enabling assignment before the old primary is provably fenced).
 */
#include <gtest/gtest.h>

#include "group_builder.hpp"
#include "pgaf/core/keeper_table.hpp"
#include "pgaf/core/sync_names.hpp"

namespace pgaf {
namespace {
using S = NodeState;
using test::Monitor;

/* ---- register_node ---- */

TEST(DecideRegister, FirstNodeIsSingle) {
  Monitor m;
  auto d = m.reg(1);
  EXPECT_EQ(m.goal(1), S::Single);
  ASSERT_EQ(d.assignments.size(), 1u);
  EXPECT_NE(d.assignments[0].description.find("Setting goal state of node 1 \"node_1\""),
            std::string::npos);
}

TEST(DecideRegister, FirstNodeWithPriorityZeroIsRefused) {
  Monitor m;
  Node n;
  n.id = 1;
  n.host = "h";
  n.candidate_priority = 0;
  auto r = m.try_apply(RegisterEvent{n, S::Init});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::NoPrimary);
  EXPECT_EQ(r.error().hint, "Retry registering in a moment");
}

TEST(DecideRegister, SecondNodeWaitsForStandby) {
  Monitor m;
  m.reg(1);
  m.reach(1);
  m.reg(2);
  EXPECT_EQ(m.goal(2), S::WaitStandby);
  EXPECT_EQ(m.node(2).name, "node_2");
}

TEST(DecideRegister, WrongInitialStateIsAnError) {
  Monitor m;
  m.reg(1);
  Node n;
  n.id = 2;
  n.host = "other";
  auto r = m.try_apply(RegisterEvent{n, S::Single});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::BadState);
  EXPECT_NE(r.error().message.find("should be in state wait_standby"), std::string::npos);
}

/* fuzz_decide finding: a node registered with an id below an existing one (register_node's
 * desired_node_id) was appended at the end, breaking the snapshot's order by id (node.hpp) that
 * the rules' evaluation order relies on. */
TEST(DecideRegister, LowerIdIsInsertedInIdOrder) {
  Monitor m;
  m.reg(7);
  m.reach(7);
  m.reg(2);
  ASSERT_EQ(m.g.nodes.size(), 2u);
  EXPECT_EQ(m.g.nodes[0].id, 2);
  EXPECT_EQ(m.g.nodes[1].id, 7);
  EXPECT_EQ(m.goal(2), S::WaitStandby);
  EXPECT_EQ(m.goal(7), S::Single);
}

TEST(DecideRegister, AdoptingARunningPrimaryAsSingle) {
  Monitor m;
  Node n;
  n.id = 1;
  n.host = "h";
  auto r = m.try_apply(RegisterEvent{n, S::Single});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(m.converged(1, S::Single));
}

TEST(DecideRegister, BadInputIsRejectedAndNothingChanges) {
  Monitor m;
  m.reg(1);
  const GroupSnapshot before = m.g;
  Node n;
  n.id = 2;
  n.host = "198.18.0.11"; /* node 1's host:port */
  auto dup = m.try_apply(RegisterEvent{n, S::Init});
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::AlreadyExists);
  n.host = "x";
  n.candidate_priority = 101;
  auto prio = m.try_apply(RegisterEvent{n, S::Init});
  ASSERT_FALSE(prio.ok());
  EXPECT_EQ(prio.error().code, ErrorCode::OutOfRange);
  EXPECT_NE(prio.error().message.find("candidate_priority"), std::string::npos);
  n.candidate_priority = 50;
  n.port = 70000;
  EXPECT_FALSE(m.try_apply(RegisterEvent{n, S::Init}).ok());
  n.port = 5432;
  n.name = "node_1";
  EXPECT_EQ(m.try_apply(RegisterEvent{n, S::Init}).error().code, ErrorCode::AlreadyExists);
  EXPECT_EQ(m.g.nodes.size(), before.nodes.size());
}

TEST(DecideRegister, OptSecondaryFalseRefusesStandbys) {
  Monitor m;
  m.g.formation.opt_secondary = false;
  m.reg(1);
  Node n;
  n.id = 2;
  n.host = "x";
  auto r = m.try_apply(RegisterEvent{n, S::Init});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().hint.find("enable secondary"), std::string::npos);
}

TEST(DecideRegister, SecondQuorumStandbySetsNumberSyncStandbysToOne) {
  Monitor m;
  m.build_stable(2);
  EXPECT_EQ(m.g.formation.number_sync_standbys, 0);
  m.reg(3);
  EXPECT_EQ(m.g.formation.number_sync_standbys, 1);
}

TEST(DecideRegister, ARegisteredNodeHasTheReferencesSyncStateUntilItReports) {
  /* the reference's node table: reportedrepstate defaults to 'async'; a node_active without a
   * sync state (the 4-argument call of its regression script) stores 'unknown' */
  Monitor m;
  m.reg(1);
  EXPECT_EQ(m.node(1).sync_state, "async");
  m.reach(1);
  EXPECT_EQ(m.node(1).sync_state, "unknown");
  auto r = m.try_apply(NodeActiveEvent{1, S::Single, true, 1, 0, "quorum", 0, std::nullopt});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(m.node(1).sync_state, "quorum");
}

TEST(DecideInput, AnUnknownSyncStateIsRefusedAndNothingChanges) {
  Monitor m;
  m.reg(1);
  m.reach(1);
  const S before = m.node(1).reported_state;
  auto r = m.try_apply(NodeActiveEvent{1, S::Single, true, 1, 0, "sometimes", 0, std::nullopt});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(r.error().message.find("\"sometimes\""), std::string::npos);
  EXPECT_EQ(m.node(1).sync_state, "unknown");
  EXPECT_EQ(m.node(1).reported_state, before);
}

/* ---- birth ---- */

TEST(DecideBirth, StandbyBirthAndSyncReplication) {
  Monitor m;
  m.reg(1);
  m.reach(1);
  EXPECT_TRUE(m.converged(1, S::Single));
  m.reg(2);
  m.advance(100);
  m.reach(2); /* wait_standby reported; the primary is not wait_primary yet */
  EXPECT_EQ(m.goal(2), S::WaitStandby);
  m.reach(1); /* rule 3.3.1: single → wait_primary when a standby waits */
  EXPECT_EQ(m.goal(1), S::WaitPrimary);
  m.reach(1);
  m.reach(2);
  EXPECT_EQ(m.goal(2), S::Catchingup); /* rule 13 */
  m.reach(2);
  EXPECT_EQ(m.goal(2), S::Secondary); /* rule 16 */
  m.reach(2);
  m.reach(1);
  EXPECT_EQ(m.goal(1), S::Primary); /* 3.3: wait_primary → primary */
  m.reach(1);
  EXPECT_EQ(*synchronous_standby_names(m.g), "ANY 1 (pgautofailover_standby_2)");
}

TEST(DecideBirth, LaggingStandbyStaysCatchingUp) {
  Monitor m;
  m.reg(1);
  m.reach(1, 0x9000000);
  m.reg(2);
  for (int i = 0; i < 4; ++i) {
    m.reach(1, 0x9000000);
    m.reach(2, 0x1000000); /* 128 MB behind */
  }
  EXPECT_TRUE(m.converged(2, S::Catchingup));
  m.report(2, S::Catchingup, 0x9000000, true, 2); /* other timeline */
  EXPECT_EQ(m.goal(2), S::Catchingup);
  m.report(2, S::Catchingup, 0x9000000, true, 1);
  EXPECT_EQ(m.goal(2), S::Secondary);
}

TEST(DecideBirth, PrimaryGoesWaitPrimaryWhenItsStandbyIsLost) {
  Monitor m;
  m.build_stable(2);
  ASSERT_TRUE(m.converged(1, S::Primary));
  m.advance(m.s.node_considered_unhealthy_timeout_ms + 1);
  m.health(2, Health::Bad);
  m.reach(1);
  EXPECT_EQ(m.goal(2), S::Catchingup);
  EXPECT_EQ(m.goal(1), S::WaitPrimary);
}

TEST(DecideBirth, NumberSyncStandbysKeepsPrimaryBlocking) {
  Monitor m;
  m.build_stable(3);
  ASSERT_EQ(m.g.formation.number_sync_standbys, 1);
  ASSERT_TRUE(m.converged(1, S::Primary));
  m.advance(m.s.node_considered_unhealthy_timeout_ms + 1);
  m.health(2, Health::Bad);
  m.health(3, Health::Bad);
  m.reach(1);
  EXPECT_EQ(m.goal(1), S::Primary) << "nss >= 1: writes block rather than go async";
}

/* ---- one-way partitions: a standby that does not acknowledge the primary's WAL ---- */

NodeActiveEvent primary_report(NodeId id, std::vector<NodeId> stale, NodeState st = S::Primary) {
  NodeActiveEvent e;
  e.node_id = id;
  e.reported_state = st;
  e.lsn = 0x1000000;
  e.tli = 1;
  e.stale_standbys = std::move(stale);
  return e;
}

TEST(DecideOneWay, StandbyThatStopsAcknowledgingLeavesSyncRep) {
  Monitor m;
  m.build_stable(2);
  ASSERT_TRUE(m.converged(1, S::Primary));
  ASSERT_EQ(*synchronous_standby_names(m.g), "ANY 1 (pgautofailover_standby_2)");
  m.apply(primary_report(1, {}));
  EXPECT_EQ(m.goal(2), S::Secondary) << "an acknowledging standby stays";
  /* healthy for the monitor (its health checks and reports go through), silent for the primary */
  m.report(2, S::Secondary);
  m.apply(primary_report(1, {2}));
  EXPECT_EQ(m.node(2).wal_ack_stale_by, 1);
  EXPECT_EQ(m.goal(2), S::Catchingup);
  EXPECT_EQ(m.goal(1), S::WaitPrimary) << "no quorum standby left: writes go on without one";
  EXPECT_EQ(*synchronous_standby_names(m.g), "");
  /* it catches up only once the primary says it acknowledges again */
  m.report(1, S::WaitPrimary);
  m.report(2, S::Catchingup);
  EXPECT_EQ(m.goal(2), S::Catchingup) << "still not acknowledging";
  m.apply(primary_report(1, {}, S::WaitPrimary));
  EXPECT_EQ(m.node(2).wal_ack_stale_by, 0);
  m.report(2, S::Catchingup);
  EXPECT_EQ(m.goal(2), S::Secondary);
}

TEST(DecideOneWay, OnlyTheCurrentPrimarysVerdictCounts) {
  Monitor m;
  m.build_stable(3);
  /* a verdict left by another node (an old primary) is ignored */
  m.node(3).wal_ack_stale_by = 2;
  m.report(3, S::Secondary);
  m.reach(1);
  EXPECT_EQ(m.goal(3), S::Secondary);
  /* a standby cannot mark anyone stale, whatever it sends */
  NodeActiveEvent e = primary_report(2, {3}, S::Secondary);
  m.apply(e);
  EXPECT_EQ(m.goal(3), S::Secondary);
  /* with two quorum standbys the primary keeps the other one and stays primary */
  m.apply(primary_report(1, {3}));
  EXPECT_EQ(m.goal(3), S::Catchingup);
  EXPECT_EQ(m.goal(2), S::Secondary);
  EXPECT_TRUE(m.goal(1) == S::Primary || m.goal(1) == S::ApplySettings) << to_string(m.goal(1));
}

TEST(DecideOneWay, ReportsWithoutAVerdictChangeNothing) {
  Monitor m;
  m.build_stable(2);
  m.apply(primary_report(1, {2}));
  ASSERT_EQ(m.goal(2), S::Catchingup);
  m.report(1, S::WaitPrimary); /* the reference's agents send no verdict: it stays */
  EXPECT_EQ(m.node(2).wal_ack_stale_by, 1);
}

/* ---- two-node automatic failover and fencing ---- */

TEST(DecideFailover, TwoNodePrimaryHostLost) {
  Monitor m;
  m.build_stable(2);
  const TimeMs last_report = m.node(1).report_time_ms;
  /* silence shorter than the lease: no failover even with a bad health check */
  m.now = last_report + m.s.monitor_lease_wait_ms() - 2;
  m.health(1, Health::Bad);
  m.reach(2); /* at lease wait - 1 */
  EXPECT_EQ(m.goal(2), S::Secondary);
  /* past the lease with a failed check: rule 17 */
  m.now = last_report + m.s.monitor_lease_wait_ms();
  m.health(1, Health::Bad);
  EXPECT_EQ(m.goal(1), S::Draining);
  EXPECT_EQ(m.goal(2), S::PreparePromotion);
  m.reach(2);
  EXPECT_EQ(m.goal(1), S::DemoteTimeout); /* rule 23 */
  EXPECT_EQ(m.goal(2), S::StopReplication);
  m.reach(2);
  /* the candidate stopped streaming when it reported prepare_promotion: its vouch for the old
   * primary ends monitor_vouch_wait_ms after that report */
  EXPECT_EQ(m.goal(2), S::StopReplication) << "writes enabled before the vouch expired";
  const TimeMs stop = m.node(2).stream_stop_time_ms;
  m.now = stop + m.s.monitor_vouch_wait_ms() - 1;
  m.reach(2);
  EXPECT_EQ(m.goal(2), S::StopReplication);
  m.now = stop + m.s.monitor_vouch_wait_ms();
  m.reach(2);
  EXPECT_EQ(m.goal(2), S::WaitPrimary); /* rule 26 */
  EXPECT_EQ(m.goal(1), S::Demoted);
  EXPECT_LE(m.now - last_report, 5000) << "failover arithmetic over 5 s";
}

TEST(DecideFailover, DeadAgentWithLivePostgresIsNotFailedOver) {
  Monitor m;
  m.build_stable(2);
  m.advance(10000);
  m.health(1, Health::Good);
  m.reach(2);
  EXPECT_EQ(m.goal(1), S::Primary);
  EXPECT_EQ(m.goal(2), S::Secondary);
}

TEST(DecideFailover, PostgresDownOnPrimaryFailsOverWithFastFencing) {
  Monitor m;
  m.build_stable(2);
  m.report(1, S::Primary, 0x1000000, /*running=*/false);
  m.reach(2);
  EXPECT_EQ(m.goal(1), S::Draining);
  EXPECT_EQ(m.goal(2), S::PreparePromotion);
  m.reach(1); /* the live agent stops Postgres and reports draining: fenced */
  m.reach(2);
  m.reach(1);
  m.reach(2);
  EXPECT_EQ(m.goal(2), S::WaitPrimary) << "a reported stop is proof enough: no lease wait";
  EXPECT_EQ(m.goal(1), S::Demoted);
}

TEST(DecideFailover, PriorityZeroStandbyIsNeverPromoted) {
  Monitor m;
  m.build_stable(2, {100, 0});
  m.advance(10000);
  m.health(1, Health::Bad);
  m.reach(2);
  EXPECT_EQ(m.goal(2), S::Secondary);
  EXPECT_EQ(m.goal(1), S::Primary);
}

TEST(DecideFailover, StandbyTooFarBehindIsNotPromoted) {
  Monitor m;
  m.build_stable(2);
  m.report(1, S::Primary, 0x9000000);
  m.advance(10000);
  m.health(1, Health::Bad);
  m.report(2, S::Secondary, 0x1000000);
  EXPECT_EQ(m.goal(2), S::Secondary);
}

TEST(DecideFailover, NoFailoverDuringStartupGrace) {
  Monitor m;
  m.build_stable(2);
  m.g.monitor_start_ms = m.now;
  m.advance(m.s.monitor_lease_wait_ms() + 1);
  m.health(1, Health::Bad);
  m.reach(2);
  EXPECT_EQ(m.goal(2), S::Secondary);
}

TEST(DecideFailover, OldPrimaryRejoinsThroughCatchingUp) {
  Monitor m;
  m.build_stable(2);
  m.advance(3000);
  m.health(1, Health::Bad);
  m.reach(2);
  m.advance(3000);
  m.reach(2);
  m.reach(2);
  ASSERT_EQ(m.goal(2), S::WaitPrimary);
  m.reach(2);
  /* the old primary comes back and reports its last state */
  m.health(1, Health::Good);
  m.report(1, S::Primary);
  EXPECT_EQ(m.goal(1), S::Demoted) << "an old primary never gets a writable goal back";
  m.reach(1);
  EXPECT_EQ(m.goal(1), S::Catchingup); /* rule 30 */
  m.reach(1);
  EXPECT_EQ(m.goal(1), S::Secondary);
  m.reach(1);
  m.reach(2);
  EXPECT_EQ(m.goal(2), S::Primary);
}

TEST(DecideFenced, MonitorUnreachablePrimaryVouchedByStreamingStandbyIsNotReplaced) {
  /* The primary cannot reach the monitor but its standby streams from it: as long as the
   * standby has not reported that it stopped streaming, nobody may become writable. */
  Monitor m;
  m.build_stable(2);
  m.advance(10000);
  m.health(2, Health::Good);
  m.health(1, Health::Bad);
  EXPECT_EQ(m.goal(2), S::PreparePromotion);
  /* the standby has not reported since: the monitor cannot prove it stopped streaming */
  m.advance(60000);
  m.tick();
  EXPECT_NE(m.goal(2), S::WaitPrimary);
  EXPECT_EQ(count_writable_goals(m.g), 0);
}

TEST(DecideFenced, ExpiryPredicates) {
  Settings s;
  Node p = test::make_node(1, S::Primary, S::Primary);
  p.lease_granted_ms = 1000;
  EXPECT_FALSE(primary_lease_expired(p, s, 1000 + s.monitor_lease_wait_ms() - 1));
  EXPECT_TRUE(primary_lease_expired(p, s, 1000 + s.monitor_lease_wait_ms()));
  GroupSnapshot g;
  g.nodes = {p, test::make_node(2, S::Secondary, S::Secondary)};
  EXPECT_FALSE(standby_vouch_expired(g, 1, s, 1000000));
  g.nodes[1].stream_stop_time_ms = 5000;
  EXPECT_FALSE(standby_vouch_expired(g, 1, s, 5000 + s.monitor_vouch_wait_ms() - 1));
  EXPECT_TRUE(standby_vouch_expired(g, 1, s, 5000 + s.monitor_vouch_wait_ms()));
  g.nodes[1].stream_stop_time_ms = -1;
  g.nodes[1].replication_quorum = false;
  EXPECT_TRUE(standby_vouch_expired(g, 1, s, 0)) << "non-quorum standbys do not vouch";
}

/* ---- manual failover, promotion ---- */

TEST(DecideManual, TwoNodeSwitchover) {
  Monitor m;
  m.build_stable(2);
  m.apply(PerformFailoverEvent{});
  EXPECT_EQ(m.goal(1), S::Draining);
  EXPECT_EQ(m.goal(2), S::PreparePromotion);
  for (int i = 0; i < 6; ++i) {
    m.advance(50);
    m.reach(1);
    m.reach(2);
  }
  EXPECT_TRUE(can_take_writes_in_state(m.goal(2)));
  EXPECT_EQ(count_writable_goals(m.g), 1);
  for (int i = 0; i < 6; ++i) {
    m.advance(50);
    m.reach(1);
    m.reach(2);
  }
  EXPECT_TRUE(m.converged(1, S::Secondary));
  EXPECT_TRUE(m.converged(2, S::Primary));
}

TEST(DecideManual, FailoverNeedsAStableGroup) {
  Monitor m;
  m.reg(1);
  m.reach(1);
  auto r = m.try_apply(PerformFailoverEvent{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::BadState);
  m.reg(2);
  m.reach(1);
  auto r2 = m.try_apply(PerformFailoverEvent{});
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.error().message.find("not in a stable state"), std::string::npos);
}

TEST(DecideManual, FailoverRefusedWhenNoOtherNodeCanWin) {
  /* F5 of docs/simulator.md: with priorities [100, 0, 0] a switchover would park every node in
   * report_lsn */
  Monitor m;
  m.build_stable(3, {100, 0, 0});
  auto r = m.try_apply(PerformFailoverEvent{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("no other node has a non-zero candidate priority"),
            std::string::npos);
  EXPECT_EQ(m.goal(1), S::Primary);
}

TEST(DecideManual, PromotionOfAPrimaryReturnsFalse) {
  Monitor m;
  m.build_stable(2);
  auto d = m.apply(PerformPromotionEvent{1});
  EXPECT_FALSE(d.result);
  EXPECT_TRUE(d.assignments.empty());
}

TEST(DecideManual, PromotionOfPriorityZeroNodeIsRefused) {
  Monitor m;
  m.build_stable(3, {100, 0, 100});
  auto r = m.try_apply(PerformPromotionEvent{2});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("candidate priority 0"), std::string::npos);
}

/* ---- multi-standby ---- */

/* Drive every node to its goal a few times. */
void settle(Monitor& m, int rounds = 8, std::vector<NodeId> silent = {}) {
  for (int i = 0; i < rounds; ++i) {
    m.advance(100);
    for (auto& n : std::vector<Node>(m.g.nodes)) {
      if (std::find(silent.begin(), silent.end(), n.id) != silent.end()) continue;
      if (m.g.find(n.id) == nullptr) continue;
      m.reach(n.id, m.node(n.id).reported_lsn);
    }
  }
}

TEST(DecideElection, HighestPriorityWins) {
  Monitor m;
  m.build_stable(3, {100, 50, 90});
  m.advance(3000);
  m.health(1, Health::Bad);
  EXPECT_EQ(m.goal(1), S::Draining);
  settle(m, 3, {1});
  EXPECT_TRUE(m.node(3).goal_state == S::PreparePromotion ||
              m.node(3).goal_state == S::StopReplication ||
              can_take_writes_in_state(m.node(3).goal_state));
  m.advance(3000);
  settle(m, 8, {1});
  EXPECT_TRUE(m.converged(3, S::Primary) || m.converged(3, S::WaitPrimary));
  EXPECT_TRUE(m.converged(2, S::Secondary));
  EXPECT_EQ(m.goal(1), S::Demoted);
}

TEST(DecideElection, TieOnPriorityGoesToTheMostAdvancedLsn) {
  Monitor m;
  m.build_stable(3);
  m.report(2, S::Secondary, 0x1000000);
  m.report(3, S::Secondary, 0x1000100);
  m.advance(3000);
  m.health(1, Health::Bad);
  m.reach(2, 0x1000000);
  m.reach(3, 0x1000100);
  EXPECT_EQ(m.goal(3), S::PreparePromotion);
  EXPECT_EQ(m.goal(2), S::ReportLsn);
}

TEST(DecideElection, LaggingPreferredCandidateIsFastForwarded) {
  Monitor m;
  m.build_stable(3, {100, 100, 50});
  m.report(2, S::Secondary, 0x1000000);
  m.report(3, S::Secondary, 0x1000200);
  m.advance(3000);
  m.health(1, Health::Bad);
  m.reach(2, 0x1000000);
  m.reach(3, 0x1000200);
  EXPECT_EQ(m.goal(2), S::FastForward);
  EXPECT_EQ(m.goal(3), S::ReportLsn);
  m.reach(2, 0x1000200);
  EXPECT_EQ(m.goal(2), S::PreparePromotion); /* rule 11 */
}

TEST(DecideElection, WaitsForEveryQuorumStandbyToReport) {
  Monitor m;
  m.build_stable(4);
  m.advance(3000);
  m.health(1, Health::Bad);
  /* nodes 2 and 3 report their LSN, node 4 is slow but alive */
  m.reach(2);
  m.reach(3);
  m.reach(2);
  m.reach(3);
  EXPECT_EQ(m.goal(4), S::ReportLsn);
  EXPECT_TRUE(m.converged(2, S::ReportLsn));
  EXPECT_TRUE(m.converged(3, S::ReportLsn)) << "no election before node 4 reported";
  m.reach(4);
  EXPECT_EQ(m.goal(2), S::PreparePromotion) << "ties go to the lowest node id";
}

TEST(DecideElection, OlderTimelineCandidateIsNotElected) {
  /* F7: a node on an older timeline cannot fast-forward from the newest one */
  Monitor m;
  m.build_stable(3, {100, 100, 50});
  m.report(2, S::Secondary, 0x2000000, true, 1);
  m.report(3, S::Secondary, 0x1000000, true, 2);
  m.advance(3000);
  m.health(1, Health::Bad);
  m.report(2, S::ReportLsn, 0x2000000, true, 1);
  m.report(3, S::ReportLsn, 0x1000000, true, 2);
  EXPECT_EQ(m.goal(3), S::PreparePromotion);
  EXPECT_NE(m.goal(2), S::FastForward);
}

TEST(DecideFenced, AStreamingGoalMeansPossiblyStreaming) {
  /* F6: a node with a streaming goal may already stream though it reports an old state */
  Monitor m;
  m.reg(1);
  m.reach(1);
  m.reg(2);
  m.report(2, S::WaitStandby);
  EXPECT_GE(m.node(2).stream_stop_time_ms, 0) << "wait_standby does not stream";
  m.reach(1);
  m.reach(1);
  m.report(2, S::WaitStandby);
  ASSERT_EQ(m.goal(2), S::Catchingup);
  EXPECT_EQ(m.node(2).stream_stop_time_ms, -1);
  m.report(2, S::WaitStandby); /* the base backup is still running */
  EXPECT_EQ(m.node(2).stream_stop_time_ms, -1);
}

TEST(DecideElection, AllPrioritiesZeroNobodyIsPromoted) {
  Monitor m;
  m.build_stable(3, {100, 0, 0});
  m.advance(3000);
  m.health(1, Health::Bad);
  settle(m, 6, {1});
  EXPECT_TRUE(m.converged(2, S::ReportLsn));
  EXPECT_TRUE(m.converged(3, S::ReportLsn));
  EXPECT_FALSE(can_take_writes_in_state(m.goal(2)));
  EXPECT_FALSE(can_take_writes_in_state(m.goal(3)));
  m.apply(SetCandidatePriorityEvent{2, 10});
  m.advance(3000);
  settle(m, 10, {1});
  EXPECT_TRUE(m.converged(2, S::WaitPrimary) || m.converged(2, S::Primary));
}

TEST(DecideElection, PerformPromotionPicksTheTarget) {
  Monitor m;
  m.build_stable(3, {100, 100, 50});
  m.apply(PerformPromotionEvent{3});
  EXPECT_EQ(m.goal(1), S::Draining);
  settle(m, 12);
  EXPECT_TRUE(m.converged(3, S::Primary) || m.converged(3, S::WaitPrimary));
  EXPECT_EQ(m.node(3).candidate_priority, 50) << "the promotion bump is undone";
  EXPECT_EQ(m.node(1).candidate_priority, 100) << "the failover penalty is undone";
}

TEST(DecideElection, ManualFailoverWithThreeNodes) {
  Monitor m;
  m.build_stable(3);
  m.apply(PerformFailoverEvent{});
  settle(m, 12);
  EXPECT_FALSE(can_take_writes_in_state(m.goal(1)));
  EXPECT_EQ(count_writable_goals(m.g), 1);
  EXPECT_TRUE(m.converged(1, S::Secondary));
}

/* ---- maintenance ---- */

TEST(DecideMaintenance, StandbyMaintenanceWithAnotherSyncStandby) {
  Monitor m;
  m.build_stable(3);
  m.apply(StartMaintenanceEvent{3});
  /* first out of synchronous_standby_names, then released to the operator */
  EXPECT_EQ(m.goal(3), S::WaitMaintenance);
  EXPECT_EQ(m.goal(1), S::ApplySettings);
  EXPECT_EQ(*synchronous_standby_names(m.g), "ANY 1 (pgautofailover_standby_2)");
  m.reach(3);
  EXPECT_EQ(m.goal(3), S::WaitMaintenance) << "released before the primary applied the change";
  m.reach(1); /* apply_settings reached → primary */
  m.reach(3);
  EXPECT_EQ(m.goal(3), S::WaitMaintenance);
  m.reach(1); /* primary reached: the new names are in force */
  m.reach(3);
  EXPECT_EQ(m.goal(3), S::Maintenance);
  m.reach(3);
  m.apply(StopMaintenanceEvent{3});
  EXPECT_EQ(m.goal(3), S::Catchingup);
  EXPECT_EQ(m.goal(1), S::ApplySettings);
}

TEST(DecideMaintenance, LastQuorumStandbyWaitsForWaitPrimary) {
  Monitor m;
  m.build_stable(2);
  m.apply(StartMaintenanceEvent{2});
  EXPECT_EQ(m.goal(1), S::WaitPrimary);
  EXPECT_EQ(m.goal(2), S::WaitMaintenance);
  m.reach(1);
  m.reach(2);
  EXPECT_EQ(m.goal(2), S::Maintenance); /* rule 18 */
}

TEST(DecideMaintenance, PrimaryMaintenanceTwoNodes) {
  Monitor m;
  m.build_stable(2);
  m.apply(StartMaintenanceEvent{1});
  EXPECT_EQ(m.goal(1), S::PrepareMaintenance);
  EXPECT_EQ(m.goal(2), S::PreparePromotion);
  settle(m, 6);
  EXPECT_TRUE(m.converged(1, S::Maintenance));
  EXPECT_TRUE(m.converged(2, S::WaitPrimary));
}

TEST(DecideMaintenance, StandbyWaitingForMaintenanceTakesPartInAnElection) {
  /* The primary is lost before it applied the new names: the standby may hold commits the
   * primary acknowledged, so it is not ignored by the election. */
  Monitor m;
  m.build_stable(3);
  m.apply(StartMaintenanceEvent{3});
  m.reach(3);
  ASSERT_EQ(m.goal(3), S::WaitMaintenance);
  m.advance(3000);
  m.health(1, Health::Bad);
  EXPECT_EQ(m.goal(3), S::ReportLsn);
}

TEST(DecideMaintenance, StopCancelsAMaintenanceNotStartedYet) {
  Monitor m;
  m.build_stable(3);
  m.apply(StartMaintenanceEvent{3});
  ASSERT_EQ(m.goal(3), S::WaitMaintenance);
  m.apply(StopMaintenanceEvent{3});
  EXPECT_EQ(m.goal(3), S::Catchingup);
}

TEST(DecideMaintenance, StopCancelsAMaintenanceTheNodeHasNotReachedYet) {
  /* simulator seed 66458: the node is cut off (or down) after it was told maintenance and
   * before it reported it; stop_maintenance was refused until it got there, and the operator's
   * retries ran out: it stayed in maintenance for good */
  Monitor m;
  m.build_stable(2);
  m.apply(StartMaintenanceEvent{2});
  m.reach(1);
  m.reach(2);
  ASSERT_EQ(m.goal(2), S::Maintenance);
  ASSERT_EQ(m.node(2).reported_state, S::WaitMaintenance);
  m.apply(StopMaintenanceEvent{2});
  EXPECT_EQ(m.goal(2), S::Catchingup);
  ASSERT_TRUE(find_keeper_transition(S::WaitMaintenance, S::Catchingup).has_value());
}

TEST(DecideMaintenance, ACancelledMaintenanceStillTakesPartInAnElection) {
  /* simulator seed 206589: node 3's maintenance was cancelled while the primary, cut off, still
   * counted it in synchronous_standby_names; on its way back (wait_maintenance -> catchingup)
   * it was left out of the election and the commits only it confirmed were lost */
  Monitor m;
  m.build_stable(3);
  m.apply(StartMaintenanceEvent{3});
  m.reach(3);
  ASSERT_EQ(m.node(3).reported_state, S::WaitMaintenance);
  m.apply(StopMaintenanceEvent{3});
  ASSERT_EQ(m.goal(3), S::Catchingup);
  m.advance(3000);
  m.health(1, Health::Bad);
  m.report(2, S::Secondary);
  EXPECT_EQ(m.goal(3), S::ReportLsn) << "it may hold acknowledged commits";
  EXPECT_NE(m.goal(2), S::PreparePromotion);
}

TEST(DecideMaintenance, Errors) {
  Monitor m;
  m.build_stable(2);
  auto r = m.try_apply(StopMaintenanceEvent{2});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::BadState);
  auto u = m.try_apply(StartMaintenanceEvent{42});
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().code, ErrorCode::UnknownNode);
  EXPECT_NE(u.error().message.find("node 42"), std::string::npos);
}

/* ---- remove ---- */

TEST(DecideRemove, StandbyIsDroppedThenDeleted) {
  Monitor m;
  m.build_stable(2);
  m.apply(RemoveEvent{2, false});
  EXPECT_EQ(m.goal(2), S::Dropped);
  auto d = m.reach(2);
  EXPECT_EQ(d.deleted, std::vector<NodeId>{2});
  EXPECT_EQ(m.g.find(2), nullptr);
  settle(m, 4);
  EXPECT_TRUE(m.converged(1, S::Single));
}

TEST(DecideRemove, RemovingThePrimarySendsOthersToReportLsn) {
  Monitor m;
  m.build_stable(3);
  m.apply(RemoveEvent{1, false});
  EXPECT_EQ(m.goal(1), S::Dropped);
  EXPECT_EQ(m.goal(2), S::ReportLsn);
  EXPECT_EQ(m.goal(3), S::ReportLsn);
}

TEST(DecideRemove, RemovingThePrimaryOfThreeLowersNumberSyncStandbys) {
  /* two nodes remain; one of them becomes the primary, so one standby is left and
   * number_sync_standbys 1 could never be met (the reference sets it to 0 too) */
  Monitor m;
  m.build_stable(3);
  ASSERT_EQ(m.g.formation.number_sync_standbys, 1);
  m.apply(RemoveEvent{1, false});
  EXPECT_EQ(m.g.formation.number_sync_standbys, 0);
}

TEST(DecideRemove, RemovingAStandbyOfFourKeepsNumberSyncStandbys) {
  Monitor m;
  m.build_stable(4);
  m.apply(SetNumberSyncStandbysEvent{1});
  ASSERT_EQ(m.g.formation.number_sync_standbys, 1);
  m.apply(RemoveEvent{4, false});
  EXPECT_EQ(m.g.formation.number_sync_standbys, 1);
}

TEST(DecideRemove, RemovalsDuringAnElectionRestorePriorities) {
  /* monitor finding 2: the +101/-101 election adjustments are undone when one node is left */
  Monitor m;
  m.build_stable(3);
  m.apply(PerformPromotionEvent{3});
  ASSERT_LT(m.node(1).candidate_priority, 0);
  m.apply(RemoveEvent{2, false});
  m.apply(RemoveEvent{3, false});
  settle(m, 4);
  EXPECT_EQ(m.node(1).candidate_priority, 100);
}

TEST(DecideElection, SwitchoverWhileStandbysAreBackFromReportLsn) {
  /* monitor finding 1: standbys reported report_lsn with goal secondary when the failover
   * starts: they must take part, not leave the group without a primary */
  Monitor m;
  m.build_stable(3);
  for (NodeId id : {2, 3}) {
    m.node(id).reported_state = S::ReportLsn;
    m.node(id).goal_state = S::Secondary;
  }
  m.apply(PerformFailoverEvent{});
  EXPECT_EQ(m.goal(1), S::Draining);
  EXPECT_EQ(m.goal(2), S::ReportLsn);
  EXPECT_EQ(m.goal(3), S::ReportLsn);
  settle(m, 16);
  EXPECT_EQ(count_writable_goals(m.g), 1);
  EXPECT_FALSE(can_take_writes_in_state(m.goal(1)));
}

TEST(DecideElection, ElectedCandidateKeepsANonZeroPriority) {
  /* simulator seeds 133505, 152005: priority 0 set on the node being fast-forwarded made rule
   * 11 promote a priority-0 node (core_assert) */
  Monitor m;
  m.build_stable(3, {100, 100, 50});
  m.report(2, S::Secondary, 0x1000000);
  m.report(3, S::Secondary, 0x1000200);
  m.advance(3000);
  m.health(1, Health::Bad);
  m.reach(2, 0x1000000);
  m.reach(3, 0x1000200);
  ASSERT_EQ(m.goal(2), S::FastForward);
  auto r = m.try_apply(SetCandidatePriorityEvent{2, 0});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::BadState);
  EXPECT_NE(r.error().message.find("being promoted"), std::string::npos) << r.error().message;
  EXPECT_EQ(m.node(2).candidate_priority, 100);
  EXPECT_TRUE(m.try_apply(SetCandidatePriorityEvent{3, 0}).ok()) << "others may change";
  m.reach(2, 0x1000200);
  EXPECT_EQ(m.goal(2), S::PreparePromotion);
}

TEST(DecideElection, ReportLsnNodeWaitsWhileACandidateIsChosen) {
  /* simulator seed 183684: the old primary came back healthy while the elected candidate was
   * fast-forwarding; the other report_lsn node went back to streaming from the old primary and
   * acknowledged commits that the new timeline never got */
  Monitor m;
  m.build_stable(3);
  m.node(2).reported_state = S::ReportLsn;
  m.node(2).goal_state = S::FastForward;
  m.node(3).reported_state = S::ReportLsn;
  m.node(3).goal_state = S::ReportLsn;
  m.health(1, Health::Good);
  m.report(1, S::Primary);
  m.report(3, S::ReportLsn);
  EXPECT_EQ(m.goal(3), S::ReportLsn) << "it must not stream from the primary being replaced";
  EXPECT_EQ(m.goal(2), S::FastForward);
}

TEST(DecideElection, AReportLsnFromAnEarlierElectionDoesNotCount) {
  /* simulator seed 467683: node 2 reached report_lsn in an earlier election, was sent back to
   * secondary, and streamed (confirming synchronous commits) while its agent was down; in the
   * next election its stored report_lsn and old LSN were taken as its answer, node 3 was elected
   * and the commits node 2 confirmed were lost */
  Monitor m;
  m.build_stable(3);
  m.advance(3000);
  m.report(1, S::Primary, 0x1000200, false);
  m.health(1, Health::Bad);
  Node& two = m.node(2);
  two.reported_state = S::ReportLsn;
  two.goal_state = S::ReportLsn;
  two.reported_lsn = 0x1000000;
  two.stream_stop_time_ms = -1; /* it streamed since its last report_lsn */
  m.report(3, S::ReportLsn, 0x1000100);
  for (NodeId id : {2, 3}) {
    EXPECT_NE(m.goal(id), S::PreparePromotion) << "node " << id << " elected on a stale answer";
    EXPECT_NE(m.goal(id), S::FastForward) << "node " << id << " elected on a stale answer";
  }
  /* its fresh answer holds the commits: it wins */
  m.report(2, S::ReportLsn, 0x1000180);
  settle(m, 4, {1});
  EXPECT_TRUE(m.goal(2) == S::PreparePromotion || m.goal(2) == S::StopReplication ||
              can_take_writes_in_state(m.goal(2)))
      << to_string(m.goal(2));
}

TEST(DecideElection, AnOldPrimaryAlreadyToldDemotedIsNotSentBackToDemoteTimeout) {
  /* simulator seed 259481: cut off, the old primary still "reports" primary to the monitor
   * while its goal is demoted; a second election's candidate reached prepare_promotion */
  Monitor m;
  m.build_stable(3);
  m.node(1).goal_state = S::Demoted;
  m.node(2).reported_state = S::PreparePromotion;
  m.node(2).goal_state = S::PreparePromotion;
  m.report(2, S::PreparePromotion);
  EXPECT_EQ(m.goal(1), S::Demoted) << "the keeper has no demoted -> demote_timeout edge";
  EXPECT_EQ(m.goal(2), S::StopReplication);
}

TEST(DecideElection, NoStandbyOnThePrimarysTimelineMeansNoFailover) {
  /* simulator seeds 46144, 94613, 115487, 203759: the new primary (timeline 2) was lost before
   * any standby streamed from it; electing a timeline-1 standby lost commits that the previous
   * primary's synchronous standby — the new primary — had acknowledged */
  Monitor m;
  m.build_stable(3);
  m.report(1, S::Primary, 0x1000200, true, 2);
  m.report(2, S::Secondary, 0x1000000, true, 1);
  m.report(3, S::Secondary, 0x1000000, true, 1);
  m.advance(3000);
  m.report(1, S::Primary, 0x1000200, false, 2);
  m.health(1, Health::Bad);
  settle(m, 8, {1});
  for (NodeId id : {2, 3}) {
    EXPECT_NE(m.goal(id), S::FastForward) << "node " << id << " was elected";
    EXPECT_NE(m.goal(id), S::PreparePromotion) << "node " << id << " was elected";
    EXPECT_FALSE(can_take_writes_in_state(m.goal(id)));
  }
  /* once a standby reports the primary's timeline, the election may proceed */
  m.report(3, S::ReportLsn, 0x1000300, true, 2);
  settle(m, 8, {1});
  EXPECT_TRUE(can_take_writes_in_state(m.goal(3)) || m.goal(3) == S::PreparePromotion ||
              m.goal(3) == S::StopReplication)
      << to_string(m.goal(3));
}

TEST(DecideRemove, ForceRemovalOfAnUnfencedPrimaryIsRefused) {
  Monitor m;
  m.build_stable(2);
  auto r = m.try_apply(RemoveEvent{1, true});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::BadState);
}

TEST(DecideRemove, LastNodeBecomesSingleOnlyOnceTheRemovedPrimaryIsFenced) {
  Monitor m;
  m.build_stable(2);
  m.apply(RemoveEvent{1, false});
  m.reach(2);
  EXPECT_FALSE(can_take_writes_in_state(m.goal(2)));
  m.reach(1); /* the old primary stops and reports dropped: it is deleted */
  m.advance(100);
  m.reach(2);
  m.reach(2);
  m.advance(m.s.monitor_vouch_wait_ms() + m.s.monitor_lease_wait_ms());
  settle(m, 6);
  EXPECT_TRUE(m.converged(2, S::Single));
}

/* ---- settings events ---- */

TEST(DecideSettings, CandidatePriorityValidation) {
  Monitor m;
  m.build_stable(2);
  auto r = m.try_apply(SetCandidatePriorityEvent{2, 101});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::OutOfRange);
  auto r2 = m.try_apply(SetCandidatePriorityEvent{2, -1});
  ASSERT_FALSE(r2.ok());
  auto d = m.apply(SetCandidatePriorityEvent{2, 0});
  EXPECT_EQ(m.goal(1), S::ApplySettings);
  EXPECT_FALSE(d.messages.empty());
}

TEST(DecideSettings, NumberSyncStandbysValidation) {
  Monitor m;
  m.build_stable(2);
  auto neg = m.try_apply(SetNumberSyncStandbysEvent{-1});
  ASSERT_FALSE(neg.ok());
  EXPECT_EQ(neg.error().code, ErrorCode::OutOfRange);
  auto big = m.try_apply(SetNumberSyncStandbysEvent{1});
  ASSERT_FALSE(big.ok()) << "1 sync standby needs 2 quorum standbys";
  m.apply(SetNumberSyncStandbysEvent{0});
  EXPECT_EQ(m.goal(1), S::ApplySettings);
  m.reach(1);
  EXPECT_EQ(m.goal(1), S::Primary);
}

TEST(DecideSettings, ReplicationQuorumFalseMustKeepNssValid) {
  Monitor m;
  m.build_stable(3);
  ASSERT_EQ(m.g.formation.number_sync_standbys, 1);
  auto r = m.try_apply(SetReplicationQuorumEvent{2, false});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(m.node(2).replication_quorum);
}

/* ---- bad input ---- */

TEST(DecideInput, EventForAnUnknownNode) {
  Monitor m;
  m.reg(1);
  auto r = m.try_apply(NodeActiveEvent{7, S::Single, true, 1, 0, "", 0, std::nullopt});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::UnknownNode);
  EXPECT_EQ(std::string(sqlstate(r.error().code)), "42704");
}

TEST(DecideInput, NegativeNumberSyncStandbysInSnapshot) {
  Monitor m;
  m.reg(1);
  m.g.formation.number_sync_standbys = -2;
  auto r = decide(m.g, TickEvent{}, m.s, m.now);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("number_sync_standbys"), std::string::npos);
}

TEST(DecideInput, InvalidSettingsAreAnError) {
  Monitor m;
  m.s.lease_ms = 0;
  auto r = decide(m.g, TickEvent{}, m.s, m.now);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("lease_ms"), std::string::npos);
}

TEST(DecideInput, SnapshotWithTwoWritableGoalsDoesNotCrash) {
  Monitor m;
  m.g.nodes = {test::make_node(1, S::Primary, S::Primary),
               test::make_node(2, S::Primary, S::Primary)};
  auto r = decide(m.g, TickEvent{}, m.s, m.now);
  EXPECT_TRUE(r.ok()) << "bad input never asserts";
}

TEST(DecideInput, StaleReportsAreIgnored) {
  /* F10 of docs/simulator.md: a report delayed past newer ones must not revert the state */
  Monitor m;
  m.build_stable(2);
  NodeActiveEvent newer{2, S::Secondary, true, 1, 0x1000000, "", 20, std::nullopt};
  m.apply(newer);
  const auto before = m.node(2);
  NodeActiveEvent stale{2, S::Catchingup, false, 1, 0x1000000, "", 19, std::nullopt};
  auto d = m.apply(stale);
  EXPECT_TRUE(d.stale_report);
  EXPECT_TRUE(d.assignments.empty());
  EXPECT_EQ(m.node(2).reported_state, S::Secondary);
  EXPECT_TRUE(m.node(2).pg_is_running);
  EXPECT_EQ(m.node(2).report_time_ms, before.report_time_ms) << "a stale report renews nothing";
  NodeActiveEvent legacy{2, S::Secondary, true, 1, 0x1000000, "", 0, std::nullopt};
  EXPECT_FALSE(m.apply(legacy).stale_report) << "agents that send no sequence are never stale";
}

TEST(DecideInput, DecideIsPure) {
  Monitor m;
  m.build_stable(3);
  m.advance(3000);
  auto a = decide(m.g, HealthCheckEvent{1, Health::Bad}, m.s, m.now);
  auto b = decide(m.g, HealthCheckEvent{1, Health::Bad}, m.s, m.now);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->assignments.size(), b->assignments.size());
  for (std::size_t i = 0; i < a->assignments.size(); ++i) {
    EXPECT_EQ(a->assignments[i].node_id, b->assignments[i].node_id);
    EXPECT_EQ(a->assignments[i].goal, b->assignments[i].goal);
  }
}

}  // namespace
}  // namespace pgaf
