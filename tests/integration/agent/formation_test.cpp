/*
 * formation_test.cpp — pg_autoctl against real PostgreSQL 15 and the real pgautofailover
 * monitor, on 127.0.0.1: birth, switchover, failovers (postmaster crash that cannot restart,
 * whole node killed), rejoin via pg_rewind, candidate priorities, drop node, bad input. Every
 * test checks that no process it started survives its teardown, and failover tests print the
 * write-unavailability window they measured.
 *
 * Ports: 25500-25599 (agent integration range), one block of 10 per test.
 */
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "agent_lab.hpp"
#include "steps.hpp"

namespace pgaf::agent_it {
namespace {

using SteadyClock = std::chrono::steady_clock;
long ms_since(SteadyClock::time_point t) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t).count());
}
void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

#define REQUIRE_ROOT()                                                            \
  do {                                                                            \
    if (geteuid() != 0) GTEST_SKIP() << "needs root (runs Postgres as postgres)"; \
  } while (0)

long postmaster_pid(const std::string& pgdata) {
  FILE* f = std::fopen((pgdata + "/postmaster.pid").c_str(), "r");
  if (f == nullptr) return -1;
  long pid = -1;
  if (std::fscanf(f, "%ld", &pid) != 1) pid = -1;
  std::fclose(f);
  return pid;
}

void expect_no_survivors(AgentLab& lab) {
  auto left = lab.teardown();
  EXPECT_TRUE(left.empty()) << left.size() << " processes survived the teardown";
}

/* Every acknowledged id is on the server at `port`. */
void expect_no_lost_writes(AgentLab& lab, int port, const std::vector<long>& acked) {
  pgaf::test::PgConnection c(lab.conninfo(port) + " user=postgres");
  auto rows = c.query("SELECT id FROM t");
  std::set<long> have;
  for (auto& r : rows) have.insert(std::atol(r[0].c_str()));
  long lost = 0;
  for (long id : acked) lost += have.count(id) ? 0 : 1;
  EXPECT_EQ(lost, 0) << "acknowledged writes lost";
  std::printf("acknowledged writes: %zu, lost: %ld\n", acked.size(), lost);
}

TEST(Formation, BirthPrimarySecondaryAndReplication) {
  REQUIRE_ROOT();
  AgentLab lab(25500);
  auto t0 = SteadyClock::now();
  birth(lab);
  if (HasFatalFailure()) return;
  std::printf("formation (monitor + 2 nodes) ready in %ld ms\n", ms_since(t0));
  pgaf::test::PgConnection p(lab.conninfo(lab.node_port(1)) + " user=postgres");
  p.exec("CREATE TABLE birth(x int); INSERT INTO birth VALUES (42)");
  auto t1 = SteadyClock::now();
  std::string v;
  while (ms_since(t1) < 10000) {
    auto r = pgaf::test::PgConnection(lab.conninfo(lab.node_port(2)) + " user=postgres")
                 .try_query("SELECT x FROM birth");
    if (r.ok && !r.rows.empty()) {
      v = r.rows[0][0];
      break;
    }
    sleep_ms(50);
  }
  EXPECT_EQ(v, "42") << "the write on node_1 did not reach node_2";
  /* node_2 is a read-only standby */
  auto w = pgaf::test::PgConnection(lab.conninfo(lab.node_port(2)) + " user=postgres")
               .try_query("INSERT INTO birth VALUES (1)");
  EXPECT_FALSE(w.ok);
  /* pg_autoctl status and show state work against the live formation */
  auto st = lab.ctl({"status", "--pgdata", lab.pgdata("node_1"), "--json"});
  EXPECT_EQ(st.exit_code, 0) << st.output;
  EXPECT_NE(st.output.find("node-active"), std::string::npos);
  auto ss = lab.ctl({"show", "state", "--monitor", lab.monitor_uri()});
  EXPECT_EQ(ss.exit_code, 0) << ss.output;
  EXPECT_NE(ss.output.find("secondary"), std::string::npos) << ss.output;
  auto su = lab.ctl({"show", "uri", "--monitor", lab.monitor_uri(), "--json"});
  EXPECT_EQ(su.exit_code, 0);
  EXPECT_NE(su.output.find("target_session_attrs=read-write"), std::string::npos) << su.output;
  /* pg_autoctl reload: the node-active service re-reads pg_autoctl.cfg */
  auto rl = lab.ctl({"reload", "--pgdata", lab.pgdata("node_1")});
  EXPECT_EQ(rl.exit_code, 0) << rl.output;
  auto tr = SteadyClock::now();
  while (lab.log("node_1").find("reloaded the configuration") == std::string::npos &&
         ms_since(tr) < 5000) {
    sleep_ms(50);
  }
  EXPECT_NE(lab.log("node_1").find("reloaded the configuration"), std::string::npos);
  /* pg_autoctl stop: the node's whole tree goes away */
  auto stop = lab.ctl({"stop", "--pgdata", lab.pgdata("node_2")});
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  stop = lab.ctl({"stop", "--pgdata", lab.pgdata("node_1"), "--immediate"});
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  stop = lab.ctl({"stop", "--pgdata", lab.pgdata("monitor"), "--fast"});
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  auto again = lab.ctl({"stop", "--pgdata", lab.pgdata("monitor")});
  EXPECT_EQ(again.exit_code, 3) << "stopping a stopped node is a bad state";
  /* pg_autoctl drop monitor: refused on a node, --destroy removes the monitor's files */
  EXPECT_EQ(lab.ctl({"drop", "monitor", "--pgdata", lab.pgdata("node_1")}).exit_code, 1);
  auto dm = lab.ctl({"drop", "monitor", "--pgdata", lab.pgdata("monitor"), "--destroy"});
  EXPECT_EQ(dm.exit_code, 0) << dm.output;
  EXPECT_FALSE(std::filesystem::exists(lab.pgdata("monitor"))) << dm.output;
  EXPECT_EQ(lab.ctl({"drop", "monitor", "--pgdata", lab.pgdata("monitor")}).exit_code, 2)
      << "no configuration left";
  expect_no_survivors(lab);
}

TEST(Formation, DropPrimaryLeavesTheStandbyAsSingle) {
  REQUIRE_ROOT();
  AgentLab lab(25595);
  birth(lab);
  if (HasFatalFailure()) return;
  pgaf::test::PgConnection(lab.conninfo(lab.node_port(1)) + " user=postgres")
      .exec("CREATE TABLE kept(x int); INSERT INTO kept VALUES (7)");
  sleep_ms(300);
  auto r = lab.ctl({"drop", "node", "--pgdata", lab.pgdata("node_1"), "--wait", "30"});
  EXPECT_EQ(r.exit_code, 0) << r.output << lab.log("node_1");
  long ms = lab.wait_states({{"node_2", "single"}}, 40000);
  EXPECT_GE(ms, 0) << lab.state_dump() << lab.log("node_2");
  auto ns = lab.nodes();
  EXPECT_TRUE(std::none_of(ns.begin(), ns.end(), [](const NodeRow& n) {
    return n.name == "node_1";
  })) << lab.state_dump();
  /* node_2 is writable and has node_1's committed data */
  pgaf::test::PgConnection c(lab.conninfo(lab.node_port(2)) + " user=postgres");
  EXPECT_EQ(c.query_value("SELECT x FROM kept"), "7");
  EXPECT_TRUE(c.try_query("INSERT INTO kept VALUES (8)").ok);
  expect_no_survivors(lab);
}

TEST(Formation, SwitchoverSwapsRolesWithoutLosingWrites) {
  REQUIRE_ROOT();
  AgentLab lab(25510);
  birth(lab);
  if (HasFatalFailure()) return;
  pgaf::test::PgConnection(lab.conninfo(lab.node_port(1)) + " user=postgres")
      .exec("CREATE TABLE t(id bigint primary key)");
  Writer w(lab.rw_conninfo({lab.node_port(1), lab.node_port(2)}) +
               " options='-c statement_timeout=5000'",
           "t");
  w.start();
  sleep_ms(500);
  auto t0 = SteadyClock::now();
  auto r = lab.ctl({"perform", "switchover", "--monitor", lab.monitor_uri()});
  long took = ms_since(t0);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::printf("perform switchover returned in %ld ms\n", took);
  ASSERT_GE(lab.wait_states({{"node_2", "primary"}, {"node_1", "secondary"}}, 45000), 0)
      << lab.state_dump() << lab.log("node_1") << lab.log("node_2");
  sleep_ms(500);
  w.stop();
  std::printf("switchover write gap: %ld ms\n", w.max_gap_ms());
  expect_no_lost_writes(lab, lab.node_port(2), w.acked());
  EXPECT_GT(w.acked().size(), 10u);
  expect_no_survivors(lab);
}

TEST(Formation, PostmasterKilledAndUnableToRestartFailsOver) {
  REQUIRE_ROOT();
  AgentLab lab(25520);
  birth(lab);
  if (HasFatalFailure()) return;
  pgaf::test::PgConnection(lab.conninfo(lab.node_port(1)) + " user=postgres")
      .exec("CREATE TABLE t(id bigint primary key)");
  Writer w(lab.rw_conninfo({lab.node_port(1), lab.node_port(2)}) +
               " options='-c statement_timeout=5000'",
           "t");
  w.start();
  sleep_ms(500);
  /* Postgres cannot restart: its data directory gets invalid permissions. */
  std::string pgdata = lab.pgdata("node_1");
  ASSERT_EQ(::chmod(pgdata.c_str(), 0777), 0);
  long pm = postmaster_pid(pgdata);
  ASSERT_GT(pm, 0);
  auto t0 = SteadyClock::now();
  ::kill(static_cast<pid_t>(pm), SIGKILL);
  long ms = lab.wait_states({{"node_2", "wait_primary"}}, 30000);
  ASSERT_GE(ms, 0) << lab.state_dump() << lab.log("node_1") << lab.log("node_2");
  std::printf("postmaster killed (cannot restart): node_2 wait_primary after %ld ms\n",
              ms_since(t0));
  sleep_ms(500);
  w.stop();
  std::printf("write-unavailability window: %ld ms\n", w.max_gap_ms());
  expect_no_lost_writes(lab, lab.node_port(2), w.acked());
  ::chmod(pgdata.c_str(), 0700);
  expect_no_survivors(lab);
}

/* The pid of node <name>'s node-active service (the keeper loop), from pg_autoctl's pid file. */
long node_active_pid(AgentLab& lab, const std::string& name) {
  std::ifstream in(lab.dir() + "/run/pg_autoctl" + lab.pgdata(name) + "/pg_autoctl.pid");
  std::string line;
  while (std::getline(in, line)) {
    const auto sp = line.find(' ');
    if (sp != std::string::npos && line.substr(sp + 1) == "node-active")
      return std::atol(line.c_str());
  }
  return -1;
}

/* Issue 14: a postmaster killed while the agent lives is restarted in place — the monitor keeps
 * the same primary (no draining), nothing acknowledged is lost. */
TEST(Formation, PostmasterKilledRestartsInPlace) {
  REQUIRE_ROOT();
  AgentLab lab(25575);
  birth(lab);
  if (HasFatalFailure()) return;
  pgaf::test::PgConnection(lab.conninfo(lab.node_port(1)) + " user=postgres")
      .exec("CREATE TABLE t(id bigint primary key)");
  Writer w(lab.rw_conninfo({lab.node_port(1), lab.node_port(2)}) +
               " options='-c statement_timeout=5000'",
           "t");
  w.start();
  sleep_ms(500);
  long pm = postmaster_pid(lab.pgdata("node_1"));
  ASSERT_GT(pm, 0);
  ::kill(static_cast<pid_t>(pm), SIGKILL);
  sleep_ms(4000);
  w.stop();
  std::printf("postmaster killed (restart in place): write-unavailability window %ld ms\n",
              w.max_gap_ms());
  auto ev = pgaf::test::PgConnection(lab.conninfo(lab.monitor_port(), "pg_auto_failover") +
                                     " user=autoctl_node")
                .query(
                    "SELECT count(*) FROM pgautofailover.event WHERE goalstate IN "
                    "('draining', 'demote_timeout', 'prepare_promotion')");
  EXPECT_EQ(ev[0][0], "0") << "the monitor failed over instead of waiting for the restart\n"
                           << lab.state_dump() << lab.log("node_1");
  EXPECT_GE(lab.wait_states({{"node_1", "primary"}, {"node_2", "secondary"}}, 10000), 0)
      << lab.state_dump();
  expect_no_lost_writes(lab, lab.node_port(1), w.acked());
  expect_no_survivors(lab);
}

/* Issue 14: a Postgres restarted while its agent cannot renew the lease (node-active stopped)
 * refuses every writing commit: pgaf_fence starts armed with an expired deadline. */
TEST(Fencing, RestartedPostgresRefusesCommitsUntilTheAgentHoldsALease) {
  REQUIRE_ROOT();
  AgentLab lab(25585);
  birth(lab);
  if (HasFatalFailure()) return;
  const std::string direct = lab.conninfo(lab.node_port(1)) + " user=postgres connect_timeout=2";
  pgaf::test::PgConnection(direct).exec("CREATE TABLE t(id bigint primary key)");
  const long keeper = node_active_pid(lab, "node_1");
  ASSERT_GT(keeper, 0);
  ASSERT_EQ(::kill(static_cast<pid_t>(keeper), SIGSTOP), 0);
  long pm = postmaster_pid(lab.pgdata("node_1"));
  ASSERT_GT(pm, 0);
  ::kill(static_cast<pid_t>(pm), SIGKILL);
  /* the controller (in the supervisor, still running) restarts Postgres; write directly */
  int answered = 0, committed = 0;
  std::string last_error;
  auto t0 = SteadyClock::now();
  for (int i = 0; ms_since(t0) < 5000; ++i) {
    try {
      pgaf::test::PgConnection c(direct);
      auto r = c.try_query("INSERT INTO t VALUES (" + std::to_string(i) + ")");
      ++answered;
      if (r.ok)
        ++committed;
      else
        last_error = r.sqlstate + " " + r.message;
    } catch (const std::exception&) {
      /* not accepting connections yet */
    }
    sleep_ms(50);
  }
  ::kill(static_cast<pid_t>(keeper), SIGCONT);
  std::printf("restarted Postgres without a lease: %d writes answered, %d committed (%s)\n",
              answered, committed, last_error.c_str());
  EXPECT_GT(answered, 0) << "Postgres did not restart\n" << lab.log("node_1");
  EXPECT_EQ(committed, 0) << "a restarted Postgres committed without a lease";
  expect_no_survivors(lab);
}

TEST(Formation, WholePrimaryKilledFailsOverThenRejoinsWithRewind) {
  REQUIRE_ROOT();
  AgentLab lab(25530);
  birth(lab);
  if (HasFatalFailure()) return;
  pgaf::test::PgConnection(lab.conninfo(lab.node_port(1)) + " user=postgres")
      .exec("CREATE TABLE t(id bigint primary key)");
  Writer w(lab.rw_conninfo({lab.node_port(1), lab.node_port(2)}) +
               " options='-c statement_timeout=5000'",
           "t");
  w.start();
  sleep_ms(500);
  /* node_1's supervisor leads its process group: kill agent and Postgres at once */
  pid_t node1 = -1;
  {
    FILE* f = std::fopen(
        (lab.dir() + "/run/pg_autoctl" + lab.pgdata("node_1") + "/pg_autoctl.pid").c_str(), "r");
    ASSERT_NE(f, nullptr);
    long p = -1;
    ASSERT_EQ(std::fscanf(f, "%ld", &p), 1);
    std::fclose(f);
    node1 = static_cast<pid_t>(p);
  }
  auto t0 = SteadyClock::now();
  lab.kill_group(node1, SIGKILL);
  long ms = lab.wait_states({{"node_2", "wait_primary"}}, 30000);
  ASSERT_GE(ms, 0) << lab.state_dump() << lab.log("node_2");
  long failover_ms = ms_since(t0);
  sleep_ms(300);
  w.stop();
  std::printf(
      "whole primary killed: node_2 wait_primary after %ld ms; write-unavailability window %ld "
      "ms\n",
      failover_ms, w.max_gap_ms());
  /* lease-based bound: lease + drift + margin + health checks + promotion; generous for CI */
  EXPECT_LT(failover_ms, 15000);
  expect_no_lost_writes(lab, lab.node_port(2), w.acked());
  /* no process of node_1 survived the kill */
  lab.wait_exit(node1, 5000);
  /* restart node_1: it must come back as a secondary, via pg_rewind */
  lab.run_node("node_1");
  ASSERT_GE(lab.wait_states({{"node_1", "secondary"}, {"node_2", "primary"}}, 45000), 0)
      << lab.state_dump() << lab.log("node_1");
  EXPECT_NE(lab.log("node_1").find("pg_rewind from"), std::string::npos) << lab.log("node_1");
  expect_no_survivors(lab);
}

TEST(Formation, ThreeNodesHighestPriorityWins) {
  REQUIRE_ROOT();
  AgentLab lab(25540);
  lab.start_monitor();
  lab.start_node("node_1", 1);
  ASSERT_GE(lab.wait_states({{"node_1", "single"}}, 30000), 0) << lab.state_dump();
  lab.start_node("node_2", 2, {"--candidate-priority", "20"});
  ASSERT_GE(lab.wait_states({{"node_1", "primary"}, {"node_2", "secondary"}}, 45000), 0)
      << lab.state_dump();
  lab.start_node("node_3", 3, {"--candidate-priority", "90"});
  ASSERT_GE(lab.wait_states(
                {{"node_1", "primary"}, {"node_2", "secondary"}, {"node_3", "secondary"}}, 45000),
            0)
      << lab.state_dump() << lab.log("node_3");
  auto r = lab.ctl({"perform", "failover", "--monitor", lab.monitor_uri()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  long ms = lab.wait_states(
      {{"node_3", "primary"}, {"node_2", "secondary"}, {"node_1", "secondary"}}, 50000);
  EXPECT_GE(ms, 0) << lab.state_dump() << lab.log("node_1") << lab.log("node_2")
                   << lab.log("node_3");
  expect_no_survivors(lab);
}

TEST(Formation, AllPrioritiesZeroNothingIsPromoted) {
  REQUIRE_ROOT();
  AgentLab lab(25550);
  lab.start_monitor();
  lab.start_node("node_1", 1);
  ASSERT_GE(lab.wait_states({{"node_1", "single"}}, 30000), 0) << lab.state_dump();
  lab.start_node("node_2", 2, {"--candidate-priority", "0"});
  ASSERT_GE(lab.wait_states({{"node_1", "primary"}, {"node_2", "secondary"}}, 45000), 0)
      << lab.state_dump();
  auto r = lab.ctl({"perform", "failover", "--monitor", lab.monitor_uri(), "--wait", "3"});
  EXPECT_NE(r.exit_code, 0) << r.output;
  sleep_ms(3000);
  for (auto& n : lab.nodes()) {
    if (n.name == "node_2") {
      EXPECT_NE(n.goal, "wait_primary");
      EXPECT_NE(n.goal, "primary");
      EXPECT_NE(n.goal, "stop_replication");
    }
  }
  expect_no_survivors(lab);
}

TEST(Formation, DropStandbyThenPrimary) {
  REQUIRE_ROOT();
  AgentLab lab(25560);
  birth(lab);
  if (HasFatalFailure()) return;
  auto r = lab.ctl({"drop", "node", "--pgdata", lab.pgdata("node_2"), "--wait", "30"});
  EXPECT_EQ(r.exit_code, 0) << r.output << lab.log("node_2");
  auto t0 = SteadyClock::now();
  bool gone = false;
  while (!gone && ms_since(t0) < 20000) {
    auto ns = lab.nodes();
    gone = std::none_of(ns.begin(), ns.end(), [](const NodeRow& n) { return n.name == "node_2"; });
    if (!gone) sleep_ms(100);
  }
  EXPECT_TRUE(gone) << lab.state_dump();
  EXPECT_GE(lab.wait_states({{"node_1", "single"}}, 30000), 0) << lab.state_dump();
  auto r2 =
      lab.ctl({"drop", "node", "--pgdata", lab.pgdata("node_1"), "--wait", "30", "--destroy"});
  EXPECT_EQ(r2.exit_code, 0) << r2.output << lab.log("node_1");
  EXPECT_TRUE(lab.nodes().empty()) << lab.state_dump();
  struct stat sb;
  EXPECT_NE(::stat(lab.pgdata("node_1").c_str(), &sb), 0) << "--destroy removes PGDATA";
  expect_no_survivors(lab);
}

TEST(Formation, BadInput) {
  REQUIRE_ROOT();
  AgentLab lab(25570);
  /* a monitor URI that does not answer: bounded wait, clear error, exit 6 */
  auto t0 = SteadyClock::now();
  auto r = lab.ctl(
      {"create", "postgres", "--pgdata", lab.pgdata("x"), "--pgport", "25571", "--monitor",
       "postgres://autoctl_node@127.0.0.1:25579/pg_auto_failover", "--auth", "trust", "--no-ssl"},
      30000);
  EXPECT_EQ(r.exit_code, 6) << r.output;
  EXPECT_LT(ms_since(t0), 10000);
  EXPECT_NE(r.output.find("monitor"), std::string::npos) << r.output;
  /* missing --auth: exit 1, nothing created */
  r = lab.ctl({"create", "postgres", "--pgdata", lab.pgdata("y"), "--monitor", lab.monitor_uri(),
               "--no-ssl"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  struct stat sb;
  EXPECT_NE(::stat(lab.pgdata("y").c_str(), &sb), 0);
  /* unknown option */
  r = lab.ctl({"create", "postgres", "--frobnicate"});
  EXPECT_EQ(r.exit_code, 1);
  /* a PGDATA of another cluster cannot join a formation */
  lab.start_monitor();
  lab.start_node("node_1", 1);
  ASSERT_GE(lab.wait_states({{"node_1", "single"}}, 30000), 0) << lab.state_dump();
  auto init = pgaf::test::run_command(
      {pgaf::test::pg_bindir() + "/initdb", "-D", lab.pgdata("other"), "--no-sync"}, {}, 60000,
      true);
  ASSERT_EQ(init.exit_code, 0) << init.output;
  r = lab.ctl({"create", "postgres", "--pgdata", lab.pgdata("other"), "--pgport", "25572",
               "--hostname", "127.0.0.1", "--monitor", lab.monitor_uri(), "--auth", "trust",
               "--no-ssl"});
  EXPECT_NE(r.exit_code, 0) << r.output;
  std::printf("foreign PGDATA refused with exit code %d\n", r.exit_code);
  expect_no_survivors(lab);
}

}  // namespace
}  // namespace pgaf::agent_it

namespace pgaf::agent_it {
namespace {

bool can_write(AgentLab& lab, int port) {
  try {
    pgaf::test::PgConnection c(lab.conninfo(port) + " user=postgres");
    auto r = c.try_query("INSERT INTO t VALUES (nextval('s'))");
    return r.ok;
  } catch (const std::exception&) {
    return false;
  }
}

/* The monitor goes away; the primary's standby keeps vouching: writes continue. */
TEST(Fencing, MonitorLossPrimaryWithStandbyKeepsServing) {
  REQUIRE_ROOT();
  AgentLab lab(25580);
  birth(lab);
  if (HasFatalFailure()) return;
  pgaf::test::PgConnection(lab.conninfo(lab.node_port(1)) + " user=postgres")
      .exec("CREATE TABLE t(id bigint primary key); CREATE SEQUENCE s");
  auto st = lab.ctl({"stop", "--pgdata", lab.pgdata("monitor")});
  ASSERT_EQ(st.exit_code, 0) << st.output;
  auto t0 = SteadyClock::now();
  long failures = 0, ok = 0;
  while (ms_since(t0) < 6000) {
    if (can_write(lab, lab.node_port(1))) {
      ++ok;
    } else {
      ++failures;
    }
    sleep_ms(100);
  }
  std::printf("monitor down 6 s: %ld writes ok, %ld refused\n", ok, failures);
  EXPECT_EQ(failures, 0) << lab.log("node_1");
  /* the monitor comes back: nothing changed */
  lab.spawn("monitor", {"run", "--pgdata", lab.pgdata("monitor")});
  EXPECT_GE(lab.wait_states({{"node_1", "primary"}, {"node_2", "secondary"}}, 30000), 0)
      << lab.state_dump();
  expect_no_survivors(lab);
}

/* The primary loses both the monitor and its standby: it fences itself within its lease. */
TEST(Fencing, PrimaryAloneWithoutMonitorFences) {
  REQUIRE_ROOT();
  AgentLab lab(25590);
  birth(lab);
  if (HasFatalFailure()) return;
  pgaf::test::PgConnection(lab.conninfo(lab.node_port(1)) + " user=postgres")
      .exec("CREATE TABLE t(id bigint primary key); CREATE SEQUENCE s");
  /* the standby goes away: the monitor moves the primary to wait_primary */
  auto st = lab.ctl({"stop", "--pgdata", lab.pgdata("node_2")});
  ASSERT_EQ(st.exit_code, 0) << st.output;
  ASSERT_GE(lab.wait_states({{"node_1", "wait_primary"}}, 40000), 0) << lab.state_dump();
  ASSERT_TRUE(can_write(lab, lab.node_port(1)));
  st = lab.ctl({"stop", "--pgdata", lab.pgdata("monitor")});
  ASSERT_EQ(st.exit_code, 0) << st.output;
  auto t0 = SteadyClock::now();
  long fenced_after = -1;
  while (ms_since(t0) < 10000) {
    if (!can_write(lab, lab.node_port(1))) {
      fenced_after = ms_since(t0);
      break;
    }
    sleep_ms(50);
  }
  std::printf("primary alone without monitor: writes refused after %ld ms\n", fenced_after);
  ASSERT_GE(fenced_after, 0) << "the primary kept accepting writes" << lab.log("node_1");
  EXPECT_LT(fenced_after, 2000 + 500) << "lease_ms plus scheduling slack";
  /* it stays fenced while the monitor is away */
  sleep_ms(2000);
  EXPECT_FALSE(can_write(lab, lab.node_port(1)));
  EXPECT_NE(lab.log("node_1").find("fencing PostgreSQL"), std::string::npos);
  /* the monitor comes back and renews the lease: writes resume */
  lab.spawn("monitor", {"run", "--pgdata", lab.pgdata("monitor")});
  auto t1 = SteadyClock::now();
  bool back = false;
  while (!back && ms_since(t1) < 30000) {
    back = can_write(lab, lab.node_port(1));
    if (!back) sleep_ms(100);
  }
  EXPECT_TRUE(back) << lab.state_dump() << lab.log("node_1");
  expect_no_survivors(lab);
}

}  // namespace
}  // namespace pgaf::agent_it

namespace pgaf::agent_it {
namespace {

/* The preferred candidate (priority 90) lags behind the other standby when the primary dies:
 * it is fast-forwarded from the most advanced standby before its promotion, and no
 * acknowledged write is lost. */
TEST(Formation, LaggingPreferredCandidateIsFastForwarded) {
  REQUIRE_ROOT();
  AgentLab lab(25540 + 5);
  lab.start_monitor();
  lab.start_node("node_1", 1);
  ASSERT_GE(lab.wait_states({{"node_1", "single"}}, 30000), 0) << lab.state_dump();
  lab.start_node("node_2", 2, {"--candidate-priority", "50"});
  ASSERT_GE(lab.wait_states({{"node_1", "primary"}, {"node_2", "secondary"}}, 45000), 0)
      << lab.state_dump();
  lab.start_node("node_3", 3, {"--candidate-priority", "90"});
  ASSERT_GE(lab.wait_states(
                {{"node_1", "primary"}, {"node_2", "secondary"}, {"node_3", "secondary"}}, 45000),
            0)
      << lab.state_dump();
  pgaf::test::PgConnection p(lab.conninfo(lab.node_port(1)) + " user=postgres");
  p.exec("CREATE TABLE ff(x int)");
  sleep_ms(500);
  /* node_3 stops receiving WAL (behind the agent's back) */
  pgaf::test::PgConnection n3(lab.conninfo(lab.node_port(3)) + " user=postgres");
  n3.exec("ALTER SYSTEM SET primary_conninfo = ''");
  n3.exec("SELECT pg_reload_conf()");
  auto t0 = SteadyClock::now();
  while (n3.query_value("SELECT count(*) FROM pg_stat_wal_receiver") != "0" &&
         ms_since(t0) < 10000) {
    sleep_ms(50);
  }
  p.exec("INSERT INTO ff SELECT generate_series(1, 1000)");
  EXPECT_EQ(n3.query_value("SELECT count(*) FROM ff"), "0");
  sleep_ms(1500); /* node_2 and node_3 report their LSNs */
  /* the primary dies; node_3 may stream again, but only from the standbys */
  long sup = -1;
  {
    FILE* f = std::fopen(
        (lab.dir() + "/run/pg_autoctl" + lab.pgdata("node_1") + "/pg_autoctl.pid").c_str(), "r");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fscanf(f, "%ld", &sup), 1);
    std::fclose(f);
  }
  lab.kill_group(static_cast<pid_t>(sup), SIGKILL);
  n3.exec("ALTER SYSTEM RESET primary_conninfo");
  n3.exec("SELECT pg_reload_conf()");
  long ms = lab.wait_states({{"node_3", "wait_primary"}}, 50000);
  if (ms < 0) ms = lab.wait_states({{"node_3", "primary"}}, 1000);
  ASSERT_GE(ms, 0) << lab.state_dump() << lab.log("node_3") << lab.log("node_2");
  EXPECT_NE(lab.log("node_3").find("\"fast_forward\""), std::string::npos) << lab.log("node_3");
  pgaf::test::PgConnection c(lab.conninfo(lab.node_port(3)) + " user=postgres");
  EXPECT_EQ(c.query_value("SELECT count(*) FROM ff"), "1000");
  expect_no_survivors(lab);
}

/* pg_autoctl enable / disable maintenance: a standby goes to maintenance while the primary keeps
 * taking writes (wait_primary), and comes back as a secondary; the primary refuses without
 * --allow-failover and, with it, fails over to the standby first. Ports 25555-25557. */
TEST(Formation, MaintenanceOfTheStandbyThenOfThePrimary) {
  REQUIRE_ROOT();
  AgentLab lab(25555);
  birth(lab);
  if (HasFatalFailure()) return;
  auto r = lab.ctl({"enable", "maintenance", "--pgdata", lab.pgdata("node_2"), "--wait", "30"});
  ASSERT_EQ(r.exit_code, 0) << r.output << lab.state_dump() << lab.log("node_2");
  ASSERT_GE(lab.wait_states({{"node_1", "wait_primary"}, {"node_2", "maintenance"}}, 30000), 0)
      << lab.state_dump();
  {
    pgaf::test::PgConnection c(lab.conninfo(lab.node_port(1)) + " user=postgres");
    c.exec("CREATE TABLE m(id int)");
    c.exec("INSERT INTO m VALUES (1)"); /* the primary still takes writes */
  }
  r = lab.ctl({"disable", "maintenance", "--pgdata", lab.pgdata("node_2"), "--wait", "30"});
  ASSERT_EQ(r.exit_code, 0) << r.output << lab.state_dump() << lab.log("node_2");
  ASSERT_GE(lab.wait_states({{"node_1", "primary"}, {"node_2", "secondary"}}, 30000), 0)
      << lab.state_dump() << lab.log("node_2");

  /* the primary: refused without --allow-failover, nothing changes */
  r = lab.ctl({"enable", "maintenance", "--pgdata", lab.pgdata("node_1")});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("--allow-failover"), std::string::npos) << r.output;
  EXPECT_GE(lab.wait_states({{"node_1", "primary"}, {"node_2", "secondary"}}, 1000), 0);
  r = lab.ctl({"enable", "maintenance", "--pgdata", lab.pgdata("node_1"), "--allow-failover",
               "--wait", "45"});
  ASSERT_EQ(r.exit_code, 0) << r.output << lab.state_dump() << lab.log("node_1")
                            << lab.log("node_2");
  ASSERT_GE(lab.wait_states({{"node_2", "wait_primary"}, {"node_1", "maintenance"}}, 30000), 0)
      << lab.state_dump();
  EXPECT_EQ(pgaf::test::PgConnection(lab.conninfo(lab.node_port(2)) + " user=postgres")
                .query_value("SELECT count(*) FROM m"),
            "1");
  r = lab.ctl({"disable", "maintenance", "--pgdata", lab.pgdata("node_1"), "--wait", "45"});
  ASSERT_EQ(r.exit_code, 0) << r.output << lab.state_dump() << lab.log("node_1");
  ASSERT_GE(lab.wait_states({{"node_2", "primary"}, {"node_1", "secondary"}}, 30000), 0)
      << lab.state_dump() << lab.log("node_1");
  expect_no_survivors(lab);
}

/* pg_autoctl get/set node candidate-priority | replication-quorum, get/set formation
 * number-sync-standbys, show standby-names / settings, create / drop formation, enable / disable
 * secondary and perform promotion against a live formation; bad values exit 1 and change
 * nothing. Ports 25565-25567. */
TEST(Formation, GetSetNodeAndFormationSettings) {
  REQUIRE_ROOT();
  AgentLab lab(25565);
  birth(lab);
  if (HasFatalFailure()) return;
  const std::string n2 = lab.pgdata("node_2");
  auto r = lab.ctl({"set", "node", "candidate-priority", "--pgdata", n2, "70"});
  ASSERT_EQ(r.exit_code, 0) << r.output << lab.state_dump();
  r = lab.ctl({"get", "node", "candidate-priority", "--pgdata", n2});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("70"), std::string::npos) << r.output;
  r = lab.ctl({"config", "get", "--pgdata", n2, "replication.candidate_priority"});
  EXPECT_NE(r.output.find("70"), std::string::npos) << "local config follows: " << r.output;
  r = lab.ctl({"get", "node", "candidate-priority", "--monitor", lab.monitor_uri(), "--name",
               "node_1", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("\"candidate-priority\": 50"), std::string::npos) << r.output;

  r = lab.ctl({"show", "standby-names", "--monitor", lab.monitor_uri()});
  EXPECT_NE(r.output.find("pgautofailover_standby_"), std::string::npos) << r.output;
  r = lab.ctl({"set", "node", "replication-quorum", "--pgdata", n2, "false"});
  ASSERT_EQ(r.exit_code, 0) << r.output << lab.state_dump();
  r = lab.ctl({"get", "node", "replication-quorum", "--pgdata", n2});
  EXPECT_NE(r.output.find("false"), std::string::npos) << r.output;
  r = lab.ctl({"show", "standby-names", "--monitor", lab.monitor_uri()});
  EXPECT_EQ(r.output.find("pgautofailover_standby_"), std::string::npos)
      << "a non-quorum standby is not a synchronous standby: " << r.output;
  r = lab.ctl({"set", "node", "replication-quorum", "--pgdata", n2, "true"});
  ASSERT_EQ(r.exit_code, 0) << r.output << lab.state_dump();
  ASSERT_GE(lab.wait_states({{"node_1", "primary"}, {"node_2", "secondary"}}, 30000), 0)
      << lab.state_dump();

  r = lab.ctl({"get", "formation", "number-sync-standbys", "--monitor", lab.monitor_uri()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("0"), std::string::npos) << r.output;
  r = lab.ctl({"set", "formation", "number-sync-standbys", "--monitor", lab.monitor_uri(), "0"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = lab.ctl({"show", "settings", "--monitor", lab.monitor_uri(), "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("number_sync_standbys"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("synchronous_standby_names"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\"value\": \"70\""), std::string::npos) << r.output;

  /* bad values: exit 1, nothing changes */
  EXPECT_EQ(lab.ctl({"set", "node", "candidate-priority", "--pgdata", n2, "101"}).exit_code, 1);
  EXPECT_EQ(lab.ctl({"set", "node", "replication-quorum", "--pgdata", n2, "maybe"}).exit_code, 1);
  EXPECT_EQ(
      lab.ctl({"set", "formation", "number-sync-standbys", "--monitor", lab.monitor_uri(), "x"})
          .exit_code,
      1);
  r = lab.ctl({"get", "node", "candidate-priority", "--pgdata", n2});
  EXPECT_NE(r.output.find("70"), std::string::npos) << r.output;

  /* formations: create, secondary on/off, drop; errors for duplicates and unknown ones */
  const std::string mon = lab.monitor_uri();
  r = lab.ctl({"create", "formation", "--monitor", mon, "--formation", "other", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("\"name\": \"other\""), std::string::npos) << r.output;
  EXPECT_NE(lab.ctl({"create", "formation", "--monitor", mon, "--formation", "other"}).exit_code,
            0);
  EXPECT_EQ(
      lab.ctl({"create", "formation", "--monitor", mon, "--formation", "x", "--kind", "citus"})
          .exit_code,
      1);
  EXPECT_EQ(lab.ctl({"disable", "secondary", "--monitor", mon, "--formation", "other"}).exit_code,
            0);
  EXPECT_EQ(lab.ctl({"enable", "secondary", "--monitor", mon, "--formation", "other"}).exit_code,
            0);
  EXPECT_EQ(lab.ctl({"drop", "formation", "--monitor", mon, "--formation", "other"}).exit_code, 0);
  EXPECT_NE(lab.ctl({"drop", "formation", "--monitor", mon, "--formation", "other"}).exit_code, 0);

  /* perform promotion of the standby: roles swap */
  r = lab.ctl({"perform", "promotion", "--pgdata", n2, "--wait", "45"});
  EXPECT_EQ(r.exit_code, 0) << r.output << lab.state_dump();
  EXPECT_GE(lab.wait_states({{"node_2", "primary"}, {"node_1", "secondary"}}, 30000), 0)
      << lab.state_dump() << lab.log("node_1") << lab.log("node_2");
  expect_no_survivors(lab);
}

}  // namespace
}  // namespace pgaf::agent_it
