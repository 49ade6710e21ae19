/*
 * monitor_swap_test.cpp — disable|enable monitor on the agent side (monitor_swap.hpp): the
 * registration decision, registering a live node again, the switchable monitor client, and the
 * keeper without a monitor (no lease: a primary writes on its standbys' vouch only) and after a
 * new monitor is enabled (the state enable monitor wrote, reports to the new monitor).
 */
#include "pgaf/agent/monitor_swap.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "fakes.hpp"
#include "pgaf/agent/keeper.hpp"

namespace pgaf::agent {
namespace {

using testing::FakeClock;
using testing::FakeMonitor;
using testing::FakePostgres;

PgStatus pg(bool running, bool in_recovery) {
  PgStatus s;
  s.running = running;
  s.in_recovery = in_recovery;
  return s;
}

/* pg_autoctl.cfg keeps the reference's value, and loads back as a disabled monitor. */
TEST(MonitorDisabledConfig, RoundTripsAsTheReferenceWritesIt) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("pgaf_swap_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  Config c;
  c.pgdata = "/var/lib/pgaf/node1";
  c.hostname = "127.0.0.1";
  c.monitor = kMonitorDisabled;
  const std::string path = (dir / "pg_autoctl.cfg").string();
  ASSERT_TRUE(c.save(path).ok());
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("monitor = PG_AUTOCTL_DISABLED\n"), std::string::npos) << text;
  auto back = Config::load(path);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_TRUE(monitor_disabled(back->monitor));
  EXPECT_FALSE(monitor_disabled("postgres://autoctl_node@127.0.0.1:26240/pg_auto_failover"));
  fs::remove_all(dir);
}

TEST(RegisterAgainState, APrimaryRegistersAsSingleAStandbyAsWaitStandby) {
  for (NodeState w : {NodeState::Single, NodeState::WaitPrimary, NodeState::Primary,
                      NodeState::JoinPrimary, NodeState::ApplySettings}) {
    auto r = register_again_state(w, pg(true, false));
    ASSERT_TRUE(r.ok()) << to_string(w);
    EXPECT_EQ(*r, NodeState::Single) << to_string(w);
  }
  for (NodeState s : {NodeState::Secondary, NodeState::Catchingup, NodeState::WaitStandby}) {
    auto r = register_again_state(s, pg(true, true));
    ASSERT_TRUE(r.ok()) << to_string(s);
    EXPECT_EQ(*r, NodeState::WaitStandby) << to_string(s);
  }
}

TEST(RegisterAgainState, RefusesWhatCouldMakeASecondPrimary) {
  /* a standby whose Postgres left recovery (promoted by hand): never registered as primary */
  auto promoted = register_again_state(NodeState::Secondary, pg(true, false));
  ASSERT_FALSE(promoted.ok());
  EXPECT_EQ(promoted.error().code, ErrorCode::BadState);
  EXPECT_NE(promoted.error().message.find("not in recovery"), std::string::npos);
  /* an old primary that fenced itself (stopped): it cannot tell whether someone took over */
  auto stopped = register_again_state(NodeState::Primary, pg(false, false));
  ASSERT_FALSE(stopped.ok());
  EXPECT_NE(stopped.error().message.find("not running"), std::string::npos);
  /* a writable state file with a Postgres in recovery */
  EXPECT_FALSE(register_again_state(NodeState::Primary, pg(true, true)).ok());
  /* a demoted old primary still out of recovery */
  EXPECT_FALSE(register_again_state(NodeState::Demoted, pg(true, false)).ok());
}

struct Node {
  FakeClock clock;
  FakePostgres pg;
  FakeMonitor monitor;
  Config cfg;
  KeeperState local;
  Node(NodeState role, bool in_recovery) {
    cfg.formation = "default";
    cfg.hostname = "127.0.0.1";
    cfg.port = 26242;
    cfg.name = "node_3";
    pg.initialized = pg.running = true;
    pg.in_recovery = in_recovery;
    local.node_id = 3;
    local.group_id = 0;
    local.current_role = local.assigned_role = role;
    local.last_report_seq = 1700000000000000;
  }
};

/* A node's row on the new monitor (port 26242, as Node's). */
StateRow row(NodeId id, const std::string& host, NodeState goal) {
  StateRow r;
  r.node_id = id;
  r.host = host;
  r.port = 26242;
  r.goal = goal;
  return r;
}

TEST(RegisterAgain, APrimaryRegistersAsSingleWithItsNodeId) {
  Node n(NodeState::Primary, false);
  n.monitor.goal = NodeState::Single;
  auto out = register_again(n.cfg, n.local, n.monitor, n.pg, n.clock, 60000);
  ASSERT_TRUE(out.ok()) << out.error().to_string();
  ASSERT_EQ(n.monitor.registrations.size(), 1u);
  EXPECT_EQ(n.monitor.registrations[0].initial_state, NodeState::Single);
  EXPECT_EQ(n.monitor.registrations[0].desired_node_id, 3);
  EXPECT_EQ(n.monitor.registrations[0].port, 26242);
  EXPECT_EQ(out->node_id, 3);
  EXPECT_EQ(out->current_role, NodeState::Single);
  EXPECT_EQ(out->assigned_role, NodeState::Single);
  EXPECT_TRUE(n.monitor.reports.empty()) << "the service reports, not enable monitor";
  EXPECT_FALSE(n.pg.has_op("set_read_only(off)")) << "registering grants no write";
}

TEST(RegisterAgain, APrimaryNeverRecordsANonWritableGoal) {
  Node n(NodeState::Primary, false);
  n.monitor.register_exists = true;
  StateRow mine = row(3, "127.0.0.1", NodeState::Draining);
  n.monitor.rows = {mine};
  auto out = register_again(n.cfg, n.local, n.monitor, n.pg, n.clock, 60000);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code, ErrorCode::BadState);
  mine.goal = NodeState::WaitPrimary; /* a retry after a standby registered */
  n.monitor.rows = {mine};
  out = register_again(n.cfg, n.local, n.monitor, n.pg, n.clock, 60000);
  ASSERT_TRUE(out.ok()) << out.error().to_string();
  EXPECT_EQ(out->current_role, NodeState::WaitPrimary);
}

TEST(RegisterAgain, AStandbyWaitsForCatchingupWithoutABaseBackup) {
  Node n(NodeState::Secondary, true);
  n.monitor.goal = NodeState::WaitStandby;
  n.monitor.on_report = [](FakeMonitor& m, const NodeActiveArgs& a) {
    EXPECT_EQ(a.current, NodeState::WaitStandby);
    EXPECT_TRUE(a.pg_is_running);
    if (m.reports.size() >= 3) m.goal = NodeState::Catchingup; /* the primary moved */
  };
  auto out = register_again(n.cfg, n.local, n.monitor, n.pg, n.clock, 60000);
  ASSERT_TRUE(out.ok()) << out.error().to_string();
  EXPECT_EQ(n.monitor.registrations[0].initial_state, NodeState::WaitStandby);
  EXPECT_EQ(n.monitor.reports.size(), 3u);
  EXPECT_EQ(out->node_id, 3);
  EXPECT_EQ(out->current_role, NodeState::Catchingup);
  EXPECT_EQ(out->assigned_role, NodeState::Catchingup);
  EXPECT_GT(out->last_report_seq, 0);
  for (const char* step : {"initdb", "base_backup", "standby_setup(none)", "ensure_stopped"})
    EXPECT_FALSE(n.pg.has_op(step)) << step;
}

TEST(RegisterAgain, AStandbyBeforeItsPrimaryRetriesThenGivesUpInTime) {
  Node n(NodeState::Secondary, true);
  n.monitor.register_no_primary = 1000000;
  const TimeMs t0 = n.clock.now;
  auto out = register_again(n.cfg, n.local, n.monitor, n.pg, n.clock, 5000);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code, ErrorCode::NoPrimary);
  EXPECT_GE(n.clock.now - t0, 5000);
  EXPECT_LT(n.clock.now - t0, 6000);
  EXPECT_GT(n.monitor.registrations.size(), 1u);
}

/* enable monitor run again after it timed out on a standby: it goes on from the registration
 * the new monitor already has (same id, host and port), and only from that one. */
TEST(RegisterAgain, ARetryGoesOnFromItsOwnEarlierRegistration) {
  Node n(NodeState::Secondary, true);
  n.monitor.register_exists = true;
  StateRow other = row(3, "127.0.0.9", NodeState::WaitStandby); /* our id, not our host */
  n.monitor.rows = {other};
  auto refused = register_again(n.cfg, n.local, n.monitor, n.pg, n.clock, 60000);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::AlreadyExists);
  StateRow mine = other;
  mine.host = "127.0.0.1";
  n.monitor.rows = {mine};
  n.monitor.goal = NodeState::Catchingup;
  auto out = register_again(n.cfg, n.local, n.monitor, n.pg, n.clock, 60000);
  ASSERT_TRUE(out.ok()) << out.error().to_string();
  EXPECT_EQ(out->current_role, NodeState::Catchingup);
  EXPECT_EQ(n.monitor.reports.size(), 1u);
}

TEST(RegisterAgain, NothingIsRegisteredWhenTheDecisionRefuses) {
  Node n(NodeState::Secondary, false); /* promoted by hand */
  auto out = register_again(n.cfg, n.local, n.monitor, n.pg, n.clock, 60000);
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(n.monitor.registrations.empty());
}

TEST(SwitchableMonitorClient, DisabledFailsEveryCallThenDelegates) {
  SwitchableMonitorClient m;
  EXPECT_TRUE(m.disabled());
  auto r = m.node_active(NodeActiveArgs{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::Monitor);
  EXPECT_NE(r.error().message.find("disabled"), std::string::npos);
  EXPECT_FALSE(m.get_primary("default", 0).ok());
  auto fake = std::make_unique<FakeMonitor>();
  FakeMonitor* f = fake.get();
  f->goal = NodeState::Secondary;
  m.set_target(std::move(fake));
  EXPECT_FALSE(m.disabled());
  auto ok = m.node_active(NodeActiveArgs{});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->goal, NodeState::Secondary);
  EXPECT_EQ(f->reports.size(), 1u);
  /* enable|disable ssl's reload reaches the monitor the node uses */
  m.set_uri("postgres://autoctl_node@m:5432/pg_auto_failover?sslmode=require");
  ASSERT_EQ(f->uris_set.size(), 1u);
  EXPECT_EQ(f->uris_set[0], "postgres://autoctl_node@m:5432/pg_auto_failover?sslmode=require");
  m.set_target(nullptr);
  EXPECT_FALSE(m.node_active(NodeActiveArgs{}).ok());
  m.set_uri("postgres://autoctl_node@m:5432/pg_auto_failover"); /* disabled: nothing to do */
}

/* ---- the keeper without a monitor, and after enable monitor ---- */

struct Rig {
  FakeClock clock;
  FakePostgres pg;
  FakeMonitor* fake = nullptr; /* the new monitor, once enabled */
  SwitchableMonitorClient monitor;
  Settings s;
  Config cfg;
  std::vector<KeeperState> saved;
  KeeperState on_disk; /* what enable monitor wrote */
  std::unique_ptr<FenceGuard> guard;
  std::unique_ptr<Keeper> keeper;

  void start(NodeState role) {
    cfg.pgdata = "/tmp/fake";
    cfg.monitor = kMonitorDisabled;
    cfg.settings = s;
    KeeperState st;
    st.node_id = 1;
    st.current_role = st.assigned_role = role;
    guard = std::make_unique<FenceGuard>(s, clock, pg);
    keeper =
        std::make_unique<Keeper>(cfg, st, clock, pg, monitor, *guard, [this](const KeeperState& k) {
          saved.push_back(k);
          return Status::Ok();
        });
    keeper->set_monitor_switch([this](const std::string& uri) -> Result<KeeperState> {
      if (monitor_disabled(uri)) {
        fake = nullptr; /* destroyed by set_target */
        monitor.set_target(nullptr);
      } else {
        auto f = std::make_unique<FakeMonitor>();
        fake = f.get();
        fake->goal = on_disk.assigned_role;
        monitor.set_target(std::move(f));
      }
      return on_disk;
    });
  }
  /* a primary that held a lease and armed the guard before the monitor was lost */
  void arm_primary() {
    pg.initialized = pg.running = true;
    pg.sync_names = "ANY 1 (pgautofailover_standby_2, pgautofailover_standby_3)";
    pg.replies = {{"pgautofailover_standby_2", "t0"}, {"pgautofailover_standby_3", "t0"}};
    guard->on_monitor_reply(clock.now, NodeState::Primary);
    guard->set_armed(true);
    EXPECT_FALSE(guard->tick()); /* baseline sample */
  }
};

TEST(KeeperWithoutMonitor, ReportsNothingAndNeverWritesTheStateFile) {
  Rig r;
  r.start(NodeState::Secondary);
  r.pg.initialized = r.pg.running = r.pg.in_recovery = true;
  for (int i = 0; i < 5; ++i) {
    IterationResult it = r.keeper->iterate();
    EXPECT_FALSE(it.monitor_ok);
    EXPECT_FALSE(it.transitioned);
  }
  EXPECT_TRUE(r.saved.empty()) << "the state file belongs to enable monitor";
  EXPECT_TRUE(r.pg.running) << "a standby keeps streaming";
  EXPECT_FALSE(r.pg.has_op("ensure_stopped"));
}

TEST(KeeperWithoutMonitor, APrimaryWithStreamingStandbysKeepsWriting) {
  Rig r;
  r.start(NodeState::Primary);
  r.arm_primary();
  for (int i = 1; i <= 100; ++i) { /* 10 s, far past the lease */
    r.clock.now += 100;
    r.pg.replies["pgautofailover_standby_2"] = "t" + std::to_string(i);
    r.keeper->iterate();
    EXPECT_FALSE(r.guard->tick()) << "fenced at step " << i;
  }
  EXPECT_TRUE(r.pg.running);
  EXPECT_TRUE(r.guard->may_write());
}

TEST(KeeperWithoutMonitor, ALonePrimaryFencesWhenItsLeaseEnds) {
  Rig r;
  r.start(NodeState::Primary);
  r.arm_primary();
  r.pg.replies.clear(); /* no standby */
  bool fenced = false;
  for (int i = 0; i < 40 && !fenced; ++i) {
    r.clock.now += 100;
    r.keeper->iterate();
    fenced = r.guard->tick();
  }
  EXPECT_TRUE(fenced);
  EXPECT_LE(r.clock.now - 1000000, r.s.lease_ms);
  EXPECT_FALSE(r.pg.running);
}

TEST(KeeperWithoutMonitor, EnableMonitorHandsOverFromTheVouchToTheNewLease) {
  Rig r;
  r.start(NodeState::Primary);
  r.arm_primary();
  for (int i = 1; i <= 30; ++i) { /* the old lease is long over; the vouch holds */
    r.clock.now += 100;
    r.pg.replies["pgautofailover_standby_2"] = "t" + std::to_string(i);
    r.keeper->iterate();
    EXPECT_FALSE(r.guard->tick()) << "fenced at step " << i;
  }
  /* enable monitor registered the node as single and wrote the state file */
  r.on_disk.node_id = 1;
  r.on_disk.current_role = r.on_disk.assigned_role = NodeState::Single;
  Config c = r.cfg;
  c.monitor = "postgres://autoctl_node@127.0.0.1:26279/pg_auto_failover";
  r.keeper->request_reload(c);
  r.clock.now += 100;
  IterationResult it = r.keeper->iterate();
  EXPECT_TRUE(it.monitor_ok);
  ASSERT_NE(r.fake, nullptr);
  ASSERT_EQ(r.fake->reports.size(), 1u);
  EXPECT_EQ(r.fake->reports[0].current, NodeState::Single);
  EXPECT_EQ(r.keeper->state().current_role, NodeState::Single);
  EXPECT_FALSE(r.saved.empty()) << "with a monitor again, the keeper owns the state file";
  /* standbys stop replying: the new lease alone keeps it writable */
  for (int i = 0; i < 30; ++i) {
    r.clock.now += 100;
    r.keeper->iterate();
    EXPECT_FALSE(r.guard->tick()) << "fenced at step " << i;
  }
  EXPECT_TRUE(r.pg.running);
  EXPECT_FALSE(r.pg.read_only);
  /* disable monitor again: reports stop, and the lease runs out (no standby vouches) */
  Config d = c;
  d.monitor = kMonitorDisabled;
  r.on_disk = r.keeper->state();
  r.keeper->request_reload(d);
  bool fenced = false;
  for (int i = 0; i < 40 && !fenced; ++i) {
    r.clock.now += 100;
    r.keeper->iterate();
    fenced = r.guard->tick();
  }
  EXPECT_EQ(r.fake, nullptr);
  EXPECT_TRUE(r.monitor.disabled()) << "reports go nowhere";
  EXPECT_TRUE(fenced);
}

/* disable monitor lands while a round talks to the old monitor: that round must not write the
 * state file any more (enable monitor may be writing it), the next one applies the reload. */
TEST(KeeperWithoutMonitor, ARoundEndingAfterDisableDoesNotWriteTheStateFile) {
  Rig r;
  r.pg.initialized = r.pg.running = r.pg.in_recovery = true;
  r.start(NodeState::Secondary);
  r.on_disk.node_id = 1;
  r.on_disk.current_role = r.on_disk.assigned_role = NodeState::Secondary;
  Config c = r.cfg;
  c.monitor = "postgres://autoctl_node@127.0.0.1:26279/pg_auto_failover";
  r.keeper->request_reload(c);
  ASSERT_TRUE(r.keeper->iterate().monitor_ok);
  ASSERT_FALSE(r.saved.empty());
  const std::size_t saved = r.saved.size();
  Config d = c;
  d.monitor = kMonitorDisabled;
  r.fake->on_report = [&r, d](FakeMonitor&, const NodeActiveArgs&) {
    r.keeper->request_reload(d); /* SIGHUP during the call */
  };
  r.keeper->iterate();
  EXPECT_EQ(r.saved.size(), saved) << "written after disable monitor";
  r.keeper->iterate(); /* applies the reload: disabled */
  EXPECT_TRUE(r.monitor.disabled());
  EXPECT_EQ(r.saved.size(), saved);
}

TEST(KeeperWithoutMonitor, AFailedSwitchKeepsTheCurrentMonitor) {
  Rig r;
  r.start(NodeState::Secondary);
  r.keeper->set_monitor_switch([](const std::string&) -> Result<KeeperState> {
    return make_error(ErrorCode::BadConfig, "cannot read the state file (test)");
  });
  Config c = r.cfg;
  c.monitor = "postgres://autoctl_node@127.0.0.1:26279/pg_auto_failover";
  r.keeper->request_reload(c);
  EXPECT_FALSE(r.keeper->iterate().monitor_ok);
  EXPECT_TRUE(r.saved.empty()) << "still disabled: nothing persisted";
}

}  // namespace
}  // namespace pgaf::agent
