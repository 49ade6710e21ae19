/*
 * keeper_test.cpp — the node-active loop driven with a fake monitor and a fake Postgres: goal
 * changes produce the right steps in the right order; the lease and the fence behave as
 * docs/design/fencing.md and keeper.hpp say.
 */
#include "pgaf/agent/keeper.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "fakes.hpp"

namespace pgaf::agent {
namespace {

using testing::FakeClock;
using testing::FakeMonitor;
using testing::FakePostgres;

struct Rig {
  FakeClock clock;
  FakePostgres pg; /* the node-active loop's connection */
  FakeMonitor monitor;
  Settings s;
  Config cfg;
  std::vector<KeeperState> saved;
  std::unique_ptr<FenceGuard> guard;
  std::unique_ptr<Keeper> keeper;

  void start(NodeState current, NodeState assigned) {
    cfg.pgdata = "/tmp/fake";
    cfg.monitor = "postgres://autoctl_node@10.0.0.9:5000/pg_auto_failover";
    cfg.settings = s;
    KeeperState st;
    st.node_id = 2;
    st.group_id = 0;
    st.current_role = current;
    st.assigned_role = assigned;
    /* the guard shares the fake Postgres: one model of the server */
    guard = std::make_unique<FenceGuard>(s, clock, pg);
    keeper =
        std::make_unique<Keeper>(cfg, st, clock, pg, monitor, *guard, [this](const KeeperState& k) {
          saved.push_back(k);
          return Status::Ok();
        });
  }
};

TEST(Keeper, InitToSingleRunsInitPrimaryThenAcceptsWrites) {
  Rig r;
  r.monitor.goal = NodeState::Single;
  r.start(NodeState::Init, NodeState::Single);
  IterationResult it = r.keeper->iterate();
  EXPECT_TRUE(it.monitor_ok);
  EXPECT_TRUE(it.transitioned);
  EXPECT_EQ(r.keeper->state().current_role, NodeState::Single);
  std::vector<std::string> steps = r.keeper->step_log();
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[0], "init_primary");
  EXPECT_EQ(steps[1], "disable_sync_rep");
  EXPECT_EQ(steps[2], "maintain_slots");
  EXPECT_LT(r.pg.index_of("initdb"), r.pg.index_of("ensure_running"));
  EXPECT_TRUE(r.pg.has_op("create_roles_and_db(postgres)"));
  EXPECT_TRUE(r.pg.has_op("set_read_only(off)"));
  EXPECT_FALSE(r.pg.read_only);
  EXPECT_TRUE(r.guard->armed());
  ASSERT_FALSE(r.saved.empty());
  EXPECT_EQ(r.saved.back().current_role, NodeState::Single);
  /* the first report said "init" */
  ASSERT_EQ(r.monitor.reports.size(), 1u);
  EXPECT_EQ(r.monitor.reports[0].current, NodeState::Init);
}

TEST(Keeper, PrimaryReportsTheStandbysThatStopAcknowledgingItsWal) {
  /* one-way partition primary -> standby: the standby still reaches the primary and the
   * monitor, but its flush LSN stops while the primary's WAL moves on */
  Rig r;
  r.pg.initialized = r.pg.running = true;
  r.monitor.goal = NodeState::Primary;
  r.start(NodeState::Primary, NodeState::Primary);
  r.pg.acks.flush = {{3, r.pg.lsn}, {4, r.pg.lsn}};
  r.keeper->iterate();
  ASSERT_FALSE(r.monitor.reports.empty());
  ASSERT_TRUE(r.monitor.reports.back().stale_standbys.has_value());
  EXPECT_TRUE(r.monitor.reports.back().stale_standbys->empty());
  for (int i = 0; i < 6; ++i) {
    r.clock.now += 500;
    r.pg.lsn += 0x100;
    r.pg.acks.flush[3] = r.pg.lsn; /* node 3 keeps up; node 4 is stuck */
    r.keeper->iterate();
  }
  EXPECT_EQ(*r.monitor.reports.back().stale_standbys, std::vector<NodeId>{4});
  r.pg.acks.flush[4] = r.pg.lsn; /* the partition heals */
  r.clock.now += 500;
  r.keeper->iterate();
  EXPECT_TRUE(r.monitor.reports.back().stale_standbys->empty());
}

TEST(Keeper, AStandbyGivesNoAcknowledgementVerdict) {
  Rig r;
  r.pg.initialized = r.pg.running = r.pg.in_recovery = true;
  r.monitor.goal = NodeState::Secondary;
  r.start(NodeState::Secondary, NodeState::Secondary);
  r.keeper->iterate();
  ASSERT_FALSE(r.monitor.reports.empty());
  EXPECT_FALSE(r.monitor.reports.back().stale_standbys.has_value());
}

TEST(Keeper, ReportLsnNeverAnswersAnElectionWhileStreaming) {
  /* simulator seeds 692572, 899575: a transition out of report_lsn failed after it configured
   * an upstream; sent back to report_lsn, the node answered the election with an LSN that was
   * not final and went on confirming commits the election did not see */
  Rig r;
  r.pg.initialized = r.pg.running = r.pg.in_recovery = true;
  StandbySetup streaming;
  streaming.upstream = Upstream{"10.0.0.1", 5432, 1};
  r.pg.standby = streaming;
  r.monitor.goal = NodeState::ReportLsn;
  r.start(NodeState::ReportLsn, NodeState::ReportLsn);
  r.monitor.node_active_down = true; /* no reply: only the report itself is at stake */
  r.keeper->iterate();
  EXPECT_TRUE(r.pg.has_op("standby_setup(none)")) << "it must stop streaming before it reports";
  EXPECT_FALSE(r.pg.standby && r.pg.standby->upstream) << "no upstream left";
}

TEST(Keeper, WaitingForASynchronousStandbyDoesNotStarveTheLease) {
  /* seen on real formations: a primary in apply_settings blocked in enable_sync_rep while no
   * standby was up, stopped renewing its lease, fenced itself and was failed over */
  Rig r;
  r.pg.initialized = r.pg.running = true;
  r.monitor.goal = NodeState::Primary;
  r.monitor.sync_names = "ANY 1 (pgautofailover_standby_3)";
  r.start(NodeState::ApplySettings, NodeState::Primary);
  for (int round = 0; round < 4; ++round) {
    const TimeMs before = r.clock.now;
    const std::size_t reports = r.monitor.reports.size();
    r.keeper->iterate();
    EXPECT_EQ(r.monitor.reports.size(), reports + 1);
    EXPECT_LE(r.clock.now - before, r.s.node_active_interval_ms + 100)
        << "one round must end in time for the next report";
    EXPECT_EQ(r.keeper->state().current_role, NodeState::ApplySettings) << "no standby: retried";
  }
  EXPECT_TRUE(r.guard->may_write()) << "the lease is renewed at every round";
}

/* initdb (and the first start) often take longer than the lease the report assigning "single"
 * granted: the step renews the lease with one more report before it writes the roles, instead of
 * failing on a fenced Postgres and waiting for the next round (every create logged an ERROR). */
TEST(Keeper, InitPrimaryRenewsALeaseThatInitdbOutlasted) {
  Rig r;
  r.monitor.goal = NodeState::Single;
  r.start(NodeState::Init, NodeState::Single);
  r.pg.on_initdb = [&r] { r.clock.now += r.s.lease_ms + 500; };
  IterationResult it = r.keeper->iterate();
  EXPECT_TRUE(it.transitioned);
  EXPECT_EQ(r.keeper->state().current_role, NodeState::Single);
  ASSERT_EQ(r.monitor.reports.size(), 2u) << "the round's report, then the renewal";
  EXPECT_EQ(r.monitor.reports[1].current, NodeState::Init);
  EXPECT_GT(r.monitor.reports[1].report_seq, r.monitor.reports[0].report_seq);
  EXPECT_TRUE(r.pg.has_op("set_read_only(off)"));
  EXPECT_LT(r.pg.index_of("set_read_only(off)"), r.pg.index_of("create_roles_and_db(postgres)"));
  EXPECT_TRUE(r.guard->armed());
  EXPECT_TRUE(r.guard->may_write());
}

/* The renewal is a report like any other: a non-writable answer leaves the node read-only. */
TEST(Keeper, InitPrimaryStaysReadOnlyWhenTheRenewalIsNotAGrant) {
  Rig r;
  r.monitor.goal = NodeState::Single;
  r.start(NodeState::Init, NodeState::Single);
  r.pg.on_initdb = [&r] {
    r.clock.now += r.s.lease_ms + 500;
    r.monitor.goal = NodeState::Demoted;
  };
  (void)r.keeper->iterate();
  EXPECT_FALSE(r.pg.has_op("set_read_only(off)"));
  EXPECT_FALSE(r.guard->may_write());
  EXPECT_EQ(r.keeper->state().assigned_role, NodeState::Demoted);
}

TEST(Keeper, InitPrimaryWithoutLeaseStaysReadOnly) {
  Rig r;
  r.monitor.goal = NodeState::Single;
  r.start(NodeState::Init, NodeState::Single);
  r.monitor.node_active_down = true; /* no reply: no lease */
  IterationResult it = r.keeper->iterate();
  EXPECT_FALSE(it.monitor_ok);
  EXPECT_TRUE(it.transitioned); /* assigned was already single (state file) */
  EXPECT_TRUE(r.pg.has_op("set_read_only(on)"));
  EXPECT_FALSE(r.pg.has_op("set_read_only(off)"));
  EXPECT_FALSE(r.guard->armed());
}

TEST(Keeper, StandbyFailoverStepsInOrder) {
  Rig r;
  r.pg.initialized = r.pg.running = r.pg.in_recovery = true;
  r.start(NodeState::Secondary, NodeState::Secondary);
  r.monitor.goal = NodeState::PreparePromotion;
  ASSERT_TRUE(r.keeper->iterate().transitioned);
  EXPECT_EQ(r.keeper->state().current_role, NodeState::PreparePromotion);
  EXPECT_TRUE(r.pg.has_op("standby_setup(none)"));
  r.monitor.goal = NodeState::StopReplication;
  ASSERT_TRUE(r.keeper->iterate().transitioned);
  EXPECT_EQ(r.keeper->state().current_role, NodeState::StopReplication);
  EXPECT_LT(r.pg.index_of("set_read_only(on)"), r.pg.index_of("promote"));
  EXPECT_FALSE(r.pg.in_recovery);
  EXPECT_TRUE(r.pg.read_only) << "promoted but still read-only until wait_primary";
  EXPECT_FALSE(r.pg.has_op("set_read_only(off)"));
  r.monitor.goal = NodeState::WaitPrimary;
  ASSERT_TRUE(r.keeper->iterate().transitioned);
  EXPECT_EQ(r.keeper->state().current_role, NodeState::WaitPrimary);
  EXPECT_FALSE(r.pg.read_only);
  EXPECT_GT(r.pg.index_of("set_read_only(off)"), r.pg.index_of("promote"));
  EXPECT_TRUE(r.guard->armed());
  std::vector<std::string> expect = {"stop_wal_receiver",     "set_read_only",  "promote",
                                     "cleanup_standby_setup", "set_read_write", "maintain_slots"};
  EXPECT_EQ(r.keeper->step_log(), expect);
}

/* A promoted standby whose Postgres crashed in stop_replication: the transition to wait_primary
 * starts it first (found by pgaf-sim running the real keeper: SetReadWrite failed forever). */
TEST(Keeper, TransitionStartsPostgresOfTheCurrentStateFirst) {
  Rig r;
  r.pg.initialized = true;
  r.pg.running = r.pg.in_recovery = false;
  r.pg.read_only = true;
  r.start(NodeState::StopReplication, NodeState::StopReplication);
  r.monitor.goal = NodeState::WaitPrimary;
  ASSERT_TRUE(r.keeper->iterate().transitioned);
  EXPECT_EQ(r.keeper->state().current_role, NodeState::WaitPrimary);
  std::vector<std::string> expect = {"start_postgres", "set_read_write", "maintain_slots"};
  EXPECT_EQ(r.keeper->step_log(), expect);
  EXPECT_LT(r.pg.index_of("ensure_running"), r.pg.index_of("set_read_only(off)"));
}

/* ... but never for a demotion, and never Postgres of a secondary (its steps decide). */
TEST(Keeper, TransitionDoesNotStartPostgresForASecondary) {
  Rig r;
  r.pg.initialized = true;
  r.pg.running = false;
  r.pg.in_recovery = true;
  r.start(NodeState::Secondary, NodeState::Secondary);
  r.monitor.goal = NodeState::WaitMaintenance;
  ASSERT_TRUE(r.keeper->iterate().transitioned);
  EXPECT_TRUE(r.keeper->step_log().empty());
  EXPECT_FALSE(r.pg.has_op("ensure_running"));
}

/* A transition out of report_lsn that fails after Postgres started following the primary goes
 * back to no upstream: the monitor counts on a report_lsn node not streaming (pgaf-sim 28095). */
TEST(Keeper, FailedTransitionOutOfReportLsnStopsStreamingAgain) {
  Rig r;
  r.pg.initialized = r.pg.running = r.pg.in_recovery = true;
  r.start(NodeState::ReportLsn, NodeState::ReportLsn);
  r.monitor.goal = NodeState::Secondary;
  r.monitor.fail_get_primary_after = 1; /* RewindOrBaseBackup gets it, FollowPrimary does not */
  IterationResult it = r.keeper->iterate();
  EXPECT_TRUE(it.failed);
  EXPECT_EQ(r.keeper->state().current_role, NodeState::ReportLsn);
  ASSERT_GE(r.pg.index_of("standby_setup(10.0.0.1:5432)"), 0);
  EXPECT_GT(r.pg.index_of("standby_setup(none)"), r.pg.index_of("standby_setup(10.0.0.1:5432)"));
  EXPECT_EQ(r.keeper->step_log().back(), "stop_wal_receiver");
}

/* A stale assignment to follow the primary waits for the monitor to confirm it. */
TEST(Keeper, NoFollowingThePrimaryWithoutTheMonitor) {
  Rig r;
  r.pg.initialized = r.pg.running = r.pg.in_recovery = true;
  r.start(NodeState::ReportLsn, NodeState::Secondary); /* state file: assigned secondary */
  r.monitor.node_active_down = true;
  IterationResult it = r.keeper->iterate();
  EXPECT_FALSE(it.monitor_ok);
  EXPECT_FALSE(it.transitioned);
  EXPECT_TRUE(r.keeper->step_log().empty());
  EXPECT_EQ(r.keeper->state().current_role, NodeState::ReportLsn);
}

/* A catching-up standby that followed the old primary (named by get_primary while it was being
 * demoted) follows the new one once the monitor names it (pgaf-sim seed 43926). */
TEST(Keeper, CatchingUpFollowsTheNewPrimary) {
  Rig r;
  r.pg.initialized = r.pg.running = r.pg.in_recovery = true;
  r.start(NodeState::Secondary, NodeState::Secondary);
  r.monitor.goal = NodeState::Catchingup;
  ASSERT_TRUE(r.keeper->iterate().transitioned);
  EXPECT_TRUE(r.pg.has_op("standby_setup(10.0.0.1:5432)"));
  EXPECT_FALSE(r.pg.has_op("rewind(10.0.0.3:5432)"));
  r.keeper->iterate(); /* same primary: nothing to do */
  EXPECT_FALSE(r.pg.has_op("rewind(10.0.0.3:5432)"));
  r.monitor.primary = NodeAddress{3, "node_3", "10.0.0.3", 5432, 0, true};
  r.keeper->iterate();
  EXPECT_TRUE(r.pg.has_op("rewind(10.0.0.3:5432)"));
  EXPECT_TRUE(r.pg.has_op("standby_setup(10.0.0.3:5432)"));
  EXPECT_EQ(r.keeper->state().current_role, NodeState::Catchingup);
}

TEST(Keeper, LeaseExpiryFencesThePrimary) {
  Rig r;
  r.pg.initialized = r.pg.running = true;
  r.start(NodeState::Primary, NodeState::Primary);
  r.monitor.goal = NodeState::Primary;
  r.keeper->iterate(); /* lease granted, writes enabled */
  EXPECT_TRUE(r.guard->armed());
  EXPECT_TRUE(r.guard->may_write());
  TimeMs expiry = r.guard->expires_at();
  EXPECT_EQ(expiry, r.clock.now + r.s.lease_ms - r.s.fence_guard_ms);
  r.monitor.reachable = false;
  /* no standby vouches (no replies) */
  r.clock.now = expiry - 50;
  EXPECT_FALSE(r.guard->tick());
  EXPECT_TRUE(r.pg.running);
  r.clock.now = expiry;
  EXPECT_TRUE(r.guard->tick());
  EXPECT_TRUE(r.guard->fenced());
  EXPECT_TRUE(r.pg.read_only);
  EXPECT_FALSE(r.pg.running);
  int ro = r.pg.index_of("set_read_only(on)");
  int term = r.pg.index_of("terminate_client_backends");
  int stop = r.pg.index_of("ensure_stopped");
  EXPECT_LT(ro, term);
  EXPECT_LT(term, stop);
  /* While the monitor is unreachable the loop does not start Postgres again. */
  size_t ops = r.pg.ops.size();
  r.clock.now += 1000;
  r.keeper->iterate();
  EXPECT_FALSE(r.pg.running);
  EXPECT_EQ(r.pg.ops.size(), ops);
  /* It reports Postgres as not running (fenced). */
  r.monitor.reachable = true;
  r.keeper->iterate();
  EXPECT_FALSE(r.monitor.reports.back().pg_is_running);
  /* The monitor renewed the lease (still primary): writes come back. */
  EXPECT_TRUE(r.pg.running);
  EXPECT_FALSE(r.pg.read_only);
  EXPECT_FALSE(r.guard->fenced());
}

/* The test-only switch the lab's violation scenario uses: with it the same lease expiry does
 * not fence, so the checkers can be shown to catch the resulting split brain. */
/* InitPrimary arms the guard (hands pgaf_fence a deadline) before it writes the roles and the
 * database: a Postgres started armed refuses those commits until then. */
TEST(Keeper, InitPrimaryArmsBeforeItWrites) {
  Rig r;
  r.monitor.goal = NodeState::Single;
  r.start(NodeState::Init, NodeState::Single);
  ASSERT_TRUE(r.keeper->iterate().transitioned);
  const int arm = r.pg.index_of("set_fence_deadline");
  const int roles = r.pg.index_of("create_roles_and_db(postgres)");
  ASSERT_GE(arm, 0);
  ASSERT_GE(roles, 0);
  EXPECT_LT(arm, roles);
}

/* A new session (a restarted Postgres: its pgaf_fence starts armed and expired) gets the
 * deadline again at the next tick, even though the lease did not change. */
TEST(Keeper, NewSessionGetsTheDeadlineAgain) {
  Rig r;
  r.pg.initialized = r.pg.running = true;
  r.start(NodeState::Primary, NodeState::Primary);
  r.monitor.goal = NodeState::Primary;
  r.keeper->iterate();
  ASSERT_TRUE(r.guard->armed());
  auto pushes = [&] {
    return std::count(r.pg.ops.begin(), r.pg.ops.end(), std::string("set_fence_deadline"));
  };
  const auto before = pushes();
  ASSERT_GE(before, 1);
  r.guard->tick();
  EXPECT_EQ(pushes(), before) << "same session, same deadline: nothing to push";
  r.pg.epoch++; /* Postgres restarted, the guard's connection is new */
  r.guard->tick();
  EXPECT_EQ(pushes(), before + 1);
}

/* The restart budget: a primary whose Postgres crashed reports it running while a postmaster
 * recovers, for postgres_restart_budget_ms, then down; with no postmaster alive it reports down
 * after postgresql_restart_failure_timeout_ms, and never flaps back to running until Postgres
 * answers again. */
TEST(Keeper, CrashRecoveryIsReportedRunningWithinTheRestartBudget) {
  Rig r;
  r.s.postgres_restart_budget_ms = 4000;
  r.pg.initialized = r.pg.running = true;
  r.start(NodeState::Primary, NodeState::Primary);
  r.monitor.goal = NodeState::Primary;
  r.keeper->iterate();
  ASSERT_TRUE(r.monitor.reports.back().pg_is_running);
  r.pg.running = false; /* SIGKILL: a new postmaster is in crash recovery */
  r.pg.start_blocked = true;
  r.pg.starting = true;
  for (int i = 0; i < 7; ++i) { /* 0 .. 3.5 s */
    r.keeper->iterate();
    EXPECT_TRUE(r.monitor.reports.back().pg_is_running) << "at +" << i * 500 << " ms";
    r.clock.now += 500;
  }
  r.clock.now += 600; /* past the budget */
  r.keeper->iterate();
  EXPECT_FALSE(r.monitor.reports.back().pg_is_running);
  /* recovery done: running again */
  r.pg.start_blocked = false;
  r.pg.starting = false;
  r.pg.running = true;
  r.keeper->iterate();
  EXPECT_TRUE(r.monitor.reports.back().pg_is_running);
}

TEST(Keeper, PostgresThatCannotStartIsReportedDownAfterTheFailureTimeout) {
  Rig r;
  r.pg.initialized = r.pg.running = true;
  r.start(NodeState::Primary, NodeState::Primary);
  r.monitor.goal = NodeState::Primary;
  r.keeper->iterate();
  r.pg.running = false; /* no postmaster at all */
  r.pg.start_blocked = true;
  r.keeper->iterate();
  EXPECT_TRUE(r.monitor.reports.back().pg_is_running) << "the restart-failure grace";
  r.clock.now += r.s.postgresql_restart_failure_timeout_ms;
  r.keeper->iterate();
  EXPECT_FALSE(r.monitor.reports.back().pg_is_running);
  r.pg.starting = true; /* a later start attempt: no flapping back */
  r.clock.now += 500;
  r.keeper->iterate();
  EXPECT_FALSE(r.monitor.reports.back().pg_is_running);
}

TEST(Keeper, DisabledFencingForTestsNeverFences) {
  Rig r;
  r.pg.initialized = r.pg.running = true;
  r.start(NodeState::Primary, NodeState::Primary);
  r.guard->disable_fencing_for_tests();
  r.monitor.goal = NodeState::Primary;
  r.keeper->iterate();
  EXPECT_TRUE(r.guard->armed());
  /* a Postgres started armed (pgaf_fence.start_armed) must write: a deadline a day away */
  EXPECT_GE(r.pg.fence_deadline_ms, r.clock.now + 86400000 - 1000);
  r.monitor.reachable = false;
  r.clock.now += 10 * r.s.lease_ms;
  EXPECT_FALSE(r.guard->tick());
  EXPECT_FALSE(r.guard->fenced());
  EXPECT_TRUE(r.guard->may_write());
  EXPECT_TRUE(r.pg.running);
  EXPECT_FALSE(r.pg.read_only);
}

TEST(Keeper, StandbyVouchKeepsAPrimaryServingWithoutTheMonitor) {
  Rig r;
  r.pg.initialized = r.pg.running = true;
  r.pg.replies = {{"pgautofailover_standby_3", "t0"}};
  r.pg.sync_names = "ANY 1 (pgautofailover_standby_3)";
  r.start(NodeState::Primary, NodeState::Primary);
  r.monitor.goal = NodeState::Primary;
  r.keeper->iterate();
  r.monitor.reachable = false;
  EXPECT_FALSE(r.guard->tick()); /* first sample: baseline */
  for (int i = 1; i <= 100; ++i) {
    r.clock.now += 100;
    r.pg.replies["pgautofailover_standby_3"] = "t" + std::to_string(i); /* standby replies */
    EXPECT_FALSE(r.guard->tick()) << "fenced at step " << i;
  }
  EXPECT_TRUE(r.pg.running);
  EXPECT_GE(r.pg.heartbeats, 40) << "one heartbeat per 200 ms while writable";
  /* The standby stops replying: the vouch runs out and the primary fences. */
  bool fenced = false;
  for (int i = 0; i < 40 && !fenced; ++i) {
    r.clock.now += 100;
    fenced = r.guard->tick();
  }
  EXPECT_TRUE(fenced);
  EXPECT_FALSE(r.pg.running);
}

/* A standby outside synchronous_standby_names (replication_quorum false) never vouches, and k
 * quorum standbys are needed (pgaf-sim seed 66, once it ran the real fence thread). */
TEST(Keeper, OnlyKQuorumStandbysVouch) {
  for (int listed : {0, 1, 2}) {
    Rig r;
    r.pg.initialized = r.pg.running = true;
    r.pg.replies = {{"pgautofailover_standby_3", "t0"}, {"pgautofailover_standby_4", "t0"}};
    r.pg.sync_names = listed == 0   ? "ANY 1 (pgautofailover_standby_4)"
                      : listed == 1 ? "ANY 2 (pgautofailover_standby_3, pgautofailover_standby_4)"
                                    : "ANY 1 (pgautofailover_standby_3, pgautofailover_standby_4)";
    r.start(NodeState::Primary, NodeState::Primary);
    r.monitor.goal = NodeState::Primary;
    r.keeper->iterate();
    r.monitor.reachable = false;
    EXPECT_FALSE(r.guard->tick()); /* baseline */
    bool fenced = false;
    for (int i = 1; i <= 40 && !fenced; ++i) {
      r.clock.now += 100;
      r.pg.replies["pgautofailover_standby_3"] = "t" + std::to_string(i); /* only 3 replies */
      fenced = r.guard->tick();
    }
    /* 3 alone vouches only when it is listed and one listed standby is enough */
    EXPECT_EQ(fenced, listed != 2) << "case " << listed;
  }
}

TEST(Keeper, OldPrimaryRestartNeverStartsPostgresBeforeTheMonitorSpeaks) {
  Rig r;
  r.pg.initialized = true; /* stopped */
  r.start(NodeState::Primary, NodeState::Primary);
  r.monitor.reachable = false;
  r.keeper->iterate();
  r.keeper->iterate();
  EXPECT_FALSE(r.pg.has_op("ensure_running"));
  EXPECT_FALSE(r.pg.running);
  /* the monitor failed over meanwhile: it answers demoted */
  r.monitor.reachable = true;
  r.monitor.goal = NodeState::Demoted;
  auto it = r.keeper->iterate();
  EXPECT_TRUE(it.transitioned);
  EXPECT_EQ(r.keeper->state().current_role, NodeState::Demoted);
  EXPECT_FALSE(r.pg.has_op("ensure_running"));
  EXPECT_FALSE(r.pg.running);
  EXPECT_FALSE(r.monitor.reports.front().pg_is_running);
  /* then rejoin: demoted → catchingup rewinds from the new primary, starts as a standby */
  r.monitor.goal = NodeState::Catchingup;
  r.monitor.primary = NodeAddress{3, "node_3", "10.0.0.3", 5433, 0, true};
  ASSERT_TRUE(r.keeper->iterate().transitioned);
  int rw = r.pg.index_of("rewind(10.0.0.3:5433)");
  int setup = r.pg.index_of("standby_setup(10.0.0.3:5433)");
  int run = r.pg.index_of("ensure_running");
  ASSERT_GE(rw, 0);
  EXPECT_LT(rw, setup);
  EXPECT_LT(setup, run) << "Postgres starts only as a standby";
  EXPECT_FALSE(r.pg.has_op("set_read_only(off)"));
}

TEST(Keeper, RewindFailureFallsBackToBaseBackup) {
  Rig r;
  r.pg.initialized = true;
  r.pg.fail_rewind = true;
  r.start(NodeState::Demoted, NodeState::Demoted);
  r.monitor.goal = NodeState::Catchingup;
  ASSERT_TRUE(r.keeper->iterate().transitioned);
  EXPECT_TRUE(r.pg.has_op("base_backup(10.0.0.1:5432,pgautofailover_standby_2)"));
}

TEST(Keeper, PrimaryMaintainsASlotPerOtherNode) {
  Rig r;
  r.pg.initialized = r.pg.running = true;
  r.pg.slots = {{"pgautofailover_standby_9", false, 0}};
  r.start(NodeState::Single, NodeState::Single);
  r.monitor.goal = NodeState::WaitPrimary;
  r.monitor.others = {NodeAddress{3, "node_3", "10.0.0.3", 5432, 0, false}};
  ASSERT_TRUE(r.keeper->iterate().transitioned);
  EXPECT_TRUE(r.pg.has_op("create_slot(pgautofailover_standby_3)"));
  EXPECT_TRUE(r.pg.has_op("drop_slot(pgautofailover_standby_9)"));
}

TEST(Keeper, EnableSyncRepAppliesTheMonitorsValue) {
  Rig r;
  r.pg.initialized = r.pg.running = true;
  r.start(NodeState::WaitPrimary, NodeState::WaitPrimary);
  r.monitor.goal = NodeState::Primary;
  r.monitor.sync_names = "ANY 1 (pgautofailover_standby_3)";
  /* no synchronous standby yet: the transition fails and is retried */
  auto it = r.keeper->iterate();
  EXPECT_TRUE(it.failed);
  EXPECT_EQ(r.keeper->state().current_role, NodeState::WaitPrimary);
  EXPECT_TRUE(r.pg.has_op("set_sync_names(ANY 1 (pgautofailover_standby_3))"));
}

TEST(Keeper, UnknownTransitionIsRefusedNotGuessed) {
  Rig r;
  r.pg.initialized = r.pg.running = true;
  r.start(NodeState::Single, NodeState::Single);
  r.monitor.goal = NodeState::FastForward; /* no single → fast_forward edge */
  auto it = r.keeper->iterate();
  EXPECT_TRUE(it.failed);
  EXPECT_EQ(r.keeper->state().current_role, NodeState::Single);
  EXPECT_TRUE(r.keeper->step_log().empty());
}

TEST(Keeper, DroppedNodeExits) {
  Rig r;
  r.pg.initialized = r.pg.running = true;
  r.start(NodeState::Secondary, NodeState::Secondary);
  r.monitor.goal = NodeState::Dropped;
  auto it = r.keeper->iterate();
  EXPECT_TRUE(it.transitioned);
  EXPECT_FALSE(r.pg.running);
  it = r.keeper->iterate();
  EXPECT_TRUE(it.dropped);
}

TEST(Keeper, MonitorHostOfUri) {
  EXPECT_EQ(monitor_host_of("postgres://autoctl_node@10.1.2.3:5000/pg_auto_failover"), "10.1.2.3");
  EXPECT_EQ(monitor_host_of("postgresql://h.example:1/db?sslmode=require"), "h.example");
  EXPECT_EQ(monitor_host_of("host=127.0.0.1 port=5 dbname=x"), "127.0.0.1");
  /* fuzz_uri findings: IPv6 literals, %-escapes, spaced and quoted conninfo values, host lists */
  EXPECT_EQ(monitor_host_of("postgres://autoctl_node@[::1]:5432/pg_auto_failover"), "::1");
  EXPECT_EQ(monitor_host_of("postgres://%2Fvar%2Frun%2Fpostgresql/pg_auto_failover"),
            "/var/run/postgresql");
  EXPECT_EQ(monitor_host_of("host = 'mon host' port=5432"), "mon host");
  EXPECT_EQ(monitor_host_of("postgres://h1:5432,h2:5433/db"), "h1");
  EXPECT_EQ(monitor_host_of("postgres://u:h@x:1/db"), "x");
  EXPECT_EQ(monitor_host_of("not a conninfo"), "");
  EXPECT_EQ(monitor_port_of("postgres://autoctl_node@[::1]:5433/pg_auto_failover"), 5433);
  EXPECT_EQ(monitor_port_of("postgres://h:pw@h:5434/db"), 5434);
  EXPECT_EQ(monitor_port_of("host=x port = 6000"), 6000);
  EXPECT_EQ(monitor_port_of("postgres://h/db"), 5432);
  EXPECT_EQ(monitor_port_of("host=x port=99999"), 5432);
}

}  // namespace
}  // namespace pgaf::agent

namespace pgaf::agent {
namespace {

TEST(Keeper, ReloadAppliesSettingsButKeepsRestartOnlyKeys) {
  Rig r;
  r.pg.initialized = r.pg.running = true;
  r.start(NodeState::Secondary, NodeState::Secondary);
  r.monitor.goal = NodeState::Secondary;
  r.keeper->iterate();
  EXPECT_TRUE(r.pg.has_op("ensure_hba"));
  Config c = r.cfg;
  c.hba_level = "skip"; /* applied at once */
  c.port = 9999;        /* needs a restart: kept */
  r.keeper->request_reload(c);
  r.pg.ops.clear();
  r.keeper->iterate();
  EXPECT_FALSE(r.pg.has_op("ensure_hba")) << "hba_level = skip was not applied";
  ASSERT_EQ(r.monitor.reports.size(), 2u);
  EXPECT_EQ(r.monitor.reports[1].node_id, 2);
}

}  // namespace
}  // namespace pgaf::agent

namespace pgaf::agent {
namespace {

TEST(Keeper, ReportsAreNumberedStrictlyIncreasing) {
  Rig r;
  r.pg.initialized = r.pg.running = true;
  r.start(NodeState::Secondary, NodeState::Secondary);
  r.monitor.goal = NodeState::Secondary;
  for (int i = 0; i < 5; ++i) r.keeper->iterate();
  ASSERT_EQ(r.monitor.reports.size(), 5u);
  for (size_t i = 1; i < r.monitor.reports.size(); ++i) {
    EXPECT_GT(r.monitor.reports[i].report_seq, r.monitor.reports[i - 1].report_seq);
  }
  EXPECT_GT(r.monitor.reports[0].report_seq, 0);
  ASSERT_FALSE(r.saved.empty());
  EXPECT_EQ(r.saved.back().last_report_seq, r.monitor.reports.back().report_seq);
}

}  // namespace
}  // namespace pgaf::agent

namespace pgaf::agent {
namespace {

/* The reference's fsm_rewind_or_init: Postgres that does not start on the rewound PGDATA gets a
 * fresh pg_basebackup in the same step, then starts as a standby of the same upstream. */
TEST(Keeper, RewindThatCannotStartFallsBackToBaseBackup) {
  Rig r;
  r.pg.initialized = true;
  r.pg.rewound_cannot_start = true;
  r.start(NodeState::Demoted, NodeState::Demoted);
  r.monitor.goal = NodeState::Catchingup;
  ASSERT_TRUE(r.keeper->iterate().transitioned);
  EXPECT_EQ(r.keeper->state().current_role, NodeState::Catchingup);
  const int rw = r.pg.index_of("rewind(10.0.0.1:5432)");
  const int bb = r.pg.index_of("base_backup(10.0.0.1:5432,pgautofailover_standby_2)");
  ASSERT_GE(rw, 0);
  ASSERT_GT(bb, rw) << "no pg_basebackup after the failed start";
  /* the failed start, then Postgres stopped before the copy replaces PGDATA */
  int failed_start = -1, stop = -1;
  for (int i = rw; i < bb; ++i) {
    if (r.pg.ops[static_cast<size_t>(i)] == "ensure_running") failed_start = i;
    if (r.pg.ops[static_cast<size_t>(i)] == "ensure_stopped") stop = i;
  }
  EXPECT_GE(failed_start, 0);
  EXPECT_GT(stop, failed_start);
  EXPECT_TRUE(r.pg.running) << "the base backup's copy was not started";
  EXPECT_EQ(r.pg.count_op("rewind("), 1);
  EXPECT_EQ(r.pg.count_op("base_backup("), 1);
}

/* Bounded: when the copy cannot start either, the step fails after one rewind and one base
 * backup (the next attempt starts over), it does not loop. */
TEST(Keeper, RewindFallbackIsBoundedPerAttempt) {
  Rig r;
  r.pg.initialized = true;
  r.pg.start_blocked = true;
  r.start(NodeState::Demoted, NodeState::Demoted);
  r.monitor.goal = NodeState::Catchingup;
  EXPECT_FALSE(r.keeper->iterate().transitioned);
  EXPECT_EQ(r.keeper->state().current_role, NodeState::Demoted);
  EXPECT_EQ(r.pg.count_op("rewind("), 1);
  EXPECT_EQ(r.pg.count_op("base_backup("), 1);
}

/* enable|disable ssl then SIGHUP: the same monitor with new TLS parameters is used at once, and
 * Postgres control gets the new sslmode (primary_conninfo, pg_basebackup, pg_rewind); another
 * monitor host still needs a restart. */
TEST(Keeper, ReloadAppliesNewSslParametersToTheSameMonitor) {
  Rig r;
  r.pg.initialized = r.pg.running = true;
  r.start(NodeState::Secondary, NodeState::Secondary);
  r.monitor.goal = NodeState::Secondary;
  Config c = r.cfg;
  c.ssl_active = true;
  c.sslmode = "require";
  c.monitor = r.cfg.monitor + "?sslmode=require";
  r.keeper->request_reload(c);
  r.keeper->iterate();
  ASSERT_EQ(r.monitor.uris_set.size(), 1u);
  EXPECT_EQ(r.monitor.uris_set[0], c.monitor);
  EXPECT_EQ(r.pg.reconfigured_sslmode, "require");
  Config other = c;
  other.monitor = "postgres://autoctl_node@10.0.0.8:5000/pg_auto_failover?sslmode=require";
  r.keeper->request_reload(other);
  r.keeper->iterate();
  EXPECT_EQ(r.monitor.uris_set.size(), 1u) << "a monitor on another host was switched to";
}

}  // namespace
}  // namespace pgaf::agent
