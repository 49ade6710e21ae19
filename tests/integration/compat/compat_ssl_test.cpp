/*
 * compat_ssl_test.cpp — a pg_auto_failover user's `pg_autoctl enable ssl` / `disable ssl` on a
 * live monitor and node (real PostgreSQL 15, the real monitor, 127.0.0.1): created with --no-ssl,
 * switched to self-signed TLS and back while the services keep running — no Postgres restart
 * (same postmaster start time), the same pg_autoctl processes, the node still `single`, its
 * monitor connection following the new sslmode. Bad arguments exit 1 as in the reference.
 *
 * Ports: 26220-26221 and 26225-26227.
 */
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>

#include "agent_lab.hpp"

namespace pgaf::agent_it {
namespace {

/* What a client with this sslmode gets: the server's `SHOW ssl`, or the connection error. */
std::string ssl_answer(AgentLab& lab, int port, const std::string& db, const std::string& mode) {
  try {
    pgaf::test::PgConnection c(lab.conninfo(port, db) + " user=postgres sslmode=" + mode);
    return c.query_value("SHOW ssl");
  } catch (const pgaf::test::PgError& e) {
    return e.what();
  }
}

/* fn() until it returns `want`, every 100 ms, at most timeout_ms (Postgres reloads its
 * configuration asynchronously after SIGHUP); the last answer. */
std::string poll_until(const std::function<std::string()>& fn, const std::string& want,
                       int timeout_ms = 15000) {
  std::string v;
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  do {
    v = fn();
    if (v == want) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < end);
  return v;
}

void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

std::string started_at(AgentLab& lab, int port, const std::string& db) {
  pgaf::test::PgConnection c(lab.conninfo(port, db) + " user=postgres sslmode=prefer");
  return c.query_value("SELECT pg_postmaster_start_time()");
}

/* "t" once every keeper connection to the monitor (user autoctl_node) is over TLS */
const char* const kKeeperOverTls =
    "SELECT coalesce(bool_and(s.ssl), false) FROM pg_stat_activity a JOIN pg_stat_ssl s "
    "USING (pid) WHERE a.usename = 'autoctl_node'";

TEST(CompatSsl, EnableThenDisableSslOnALiveMonitorAndNode) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (runs Postgres as postgres)";
  AgentLab lab(26220);
  lab.start_monitor();
  const pid_t node_pid = lab.start_node("node_1", 1);
  ASSERT_GE(lab.wait_states({{"node_1", "single"}}, 60000), 0) << lab.state_dump();
  const int mport = lab.monitor_port(), nport = lab.node_port(1);
  const std::string mdb = "pg_auto_failover";
  /* created with --no-ssl: a client that requires TLS is refused */
  EXPECT_NE(ssl_answer(lab, mport, mdb, "require").find("does not support SSL"), std::string::npos);
  EXPECT_NE(ssl_answer(lab, nport, "postgres", "require").find("does not support SSL"),
            std::string::npos);
  pgaf::test::PgConnection mon(lab.conninfo(mport, mdb) + " user=postgres sslmode=prefer");
  EXPECT_EQ(mon.query_value(kKeeperOverTls), "f") << "the keeper's connections are not clear";
  const std::string m_started = started_at(lab, mport, mdb);
  const std::string n_started = started_at(lab, nport, "postgres");

  /* bad arguments: the reference's exit code 1, nothing changed */
  auto bad = lab.ctl({"enable", "ssl", "--pgdata", lab.pgdata("node_1")});
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  bad =
      lab.ctl({"enable", "ssl", "--pgdata", lab.pgdata("node_1"), "--no-ssl", "--ssl-self-signed"});
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  bad = lab.ctl({"disable", "ssl", "--pgdata", lab.pgdata("node_1"), "--ssl-mode", "require"});
  EXPECT_EQ(bad.exit_code, 1) << bad.output;

  /* enable: the monitor first (the node's new monitor URI is tried before it is kept) */
  auto en = lab.ctl({"enable", "ssl", "--pgdata", lab.pgdata("monitor"), "--ssl-self-signed"});
  ASSERT_EQ(en.exit_code, 0) << en.output;
  EXPECT_EQ(poll_until([&] { return ssl_answer(lab, mport, mdb, "require"); }, "on"), "on");
  en = lab.ctl({"enable", "ssl", "--pgdata", lab.pgdata("node_1"), "--ssl-self-signed"});
  ASSERT_EQ(en.exit_code, 0) << en.output;
  EXPECT_NE(en.output.find("signaled to reload"), std::string::npos) << en.output;
  EXPECT_EQ(poll_until([&] { return ssl_answer(lab, nport, "postgres", "require"); }, "on"), "on");
  auto uri = lab.ctl({"config", "get", "--pgdata", lab.pgdata("node_1"), "pg_autoctl.monitor"});
  EXPECT_NE(uri.output.find("sslmode=require"), std::string::npos) << uri.output;
  /* the running keeper reconnected to the monitor with the new sslmode (SIGHUP, no restart) */
  EXPECT_EQ(poll_until([&] { return mon.query_value(kKeeperOverTls); }, "t"), "t")
      << lab.log("node_1");
  EXPECT_EQ(started_at(lab, mport, mdb), m_started) << "the monitor's Postgres restarted";
  EXPECT_EQ(started_at(lab, nport, "postgres"), n_started) << "the node's Postgres restarted";
  EXPECT_EQ(::kill(node_pid, 0), 0) << "the node's pg_autoctl is gone";
  EXPECT_GE(lab.wait_states({{"node_1", "single"}}, 30000), 0) << lab.state_dump();

  /* disable: the node, then the monitor; require is refused again, a clear-text client gets in */
  auto dis = lab.ctl({"disable", "ssl", "--pgdata", lab.pgdata("node_1")});
  ASSERT_EQ(dis.exit_code, 0) << dis.output;
  dis = lab.ctl({"disable", "ssl", "--pgdata", lab.pgdata("monitor")});
  ASSERT_EQ(dis.exit_code, 0) << dis.output;
  for (const auto& [port, db] : {std::pair<int, std::string>{mport, mdb}, {nport, "postgres"}}) {
    const std::string refused = poll_until(
        [&, p = port, d = db] {
          const std::string a = ssl_answer(lab, p, d, "require");
          return a.find("does not support SSL") != std::string::npos ? "refused" : a;
        },
        "refused");
    EXPECT_EQ(refused, "refused") << port;
    EXPECT_EQ(ssl_answer(lab, port, db, "disable"), "off") << port;
  }
  uri = lab.ctl({"config", "get", "--pgdata", lab.pgdata("node_1"), "pg_autoctl.monitor"});
  EXPECT_NE(uri.output.find("sslmode=prefer"), std::string::npos) << uri.output;
  EXPECT_EQ(started_at(lab, mport, mdb), m_started) << "the monitor's Postgres restarted";
  EXPECT_EQ(started_at(lab, nport, "postgres"), n_started) << "the node's Postgres restarted";
  EXPECT_EQ(::kill(node_pid, 0), 0) << "the node's pg_autoctl is gone";
  EXPECT_GE(lab.wait_states({{"node_1", "single"}}, 30000), 0) << lab.state_dump();
  const auto left = lab.teardown();
  EXPECT_TRUE(left.empty());
}

/* The standby's replication follows: enable ssl on a secondary rewrites primary_conninfo and
 * Postgres reloads it (the walreceiver reconnects over TLS); disable ssl the other way round,
 * the standby first. Replication keeps streaming throughout. */
const char* const kStandbyStreamsOverTls =
    "SELECT coalesce(bool_and(s.ssl), false) FROM pg_stat_replication r JOIN pg_stat_ssl s "
    "USING (pid) WHERE r.state = 'streaming'";
const char* const kOneStreaming =
    "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'";

TEST(CompatSsl, StandbyReplicationFollowsEnableAndDisableSsl) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (runs Postgres as postgres)";
  AgentLab lab(26225);
  lab.start_monitor();
  lab.start_node("node_1", 1);
  ASSERT_GE(lab.wait_states({{"node_1", "single"}}, 60000), 0) << lab.state_dump();
  lab.start_node("node_2", 2);
  ASSERT_GE(lab.wait_states({{"node_1", "primary"}, {"node_2", "secondary"}}, 60000), 0)
      << lab.state_dump();
  pgaf::test::PgConnection primary(lab.conninfo(lab.node_port(1)) + " user=postgres");
  pgaf::test::PgConnection standby(lab.conninfo(lab.node_port(2)) + " user=postgres");
  EXPECT_EQ(poll_until([&] { return primary.query_value(kOneStreaming); }, "1"), "1");
  EXPECT_EQ(primary.query_value(kStandbyStreamsOverTls), "f");
  const std::string s_started = standby.query_value("SELECT pg_postmaster_start_time()");

  for (const char* n : {"monitor", "node_1", "node_2"}) {
    auto en = lab.ctl({"enable", "ssl", "--pgdata", lab.pgdata(n), "--ssl-self-signed"});
    ASSERT_EQ(en.exit_code, 0) << n << ": " << en.output;
    const int port = std::string(n) == "monitor"  ? lab.monitor_port()
                     : std::string(n) == "node_1" ? lab.node_port(1)
                                                  : lab.node_port(2);
    const std::string db = std::string(n) == "monitor" ? "pg_auto_failover" : "postgres";
    EXPECT_EQ(poll_until([&] { return ssl_answer(lab, port, db, "require"); }, "on"), "on") << n;
  }
  EXPECT_NE(standby.query_value("SHOW primary_conninfo").find("sslmode=require"),
            std::string::npos);
  /* HBA is left alone (the reference's warning): the primary's "host" lines for its standby
   * still match, no "hostssl" twins are added by the running keeper */
  sleep_ms(1500); /* a few node-active rounds (HBA refresh) */
  std::ifstream hba_in(lab.pgdata("node_1") + "/pg_hba.conf");
  const std::string hba((std::istreambuf_iterator<char>(hba_in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(hba.find("\nhostssl "), std::string::npos) << hba;
  EXPECT_NE(hba.find("\nhost replication pgautofailover_replicator"), std::string::npos) << hba;
  EXPECT_EQ(poll_until([&] { return primary.query_value(kStandbyStreamsOverTls); }, "t"), "t")
      << "the standby does not stream over TLS" << lab.log("node_2");

  for (const char* n : {"node_2", "node_1", "monitor"}) {
    auto dis = lab.ctl({"disable", "ssl", "--pgdata", lab.pgdata(n)});
    ASSERT_EQ(dis.exit_code, 0) << n << ": " << dis.output;
  }
  EXPECT_EQ(
      poll_until([&] { return ssl_answer(lab, lab.node_port(1), "postgres", "disable"); }, "off"),
      "off");
  EXPECT_NE(standby.query_value("SHOW primary_conninfo").find("sslmode=prefer"), std::string::npos);
  EXPECT_EQ(poll_until([&] { return primary.query_value(kOneStreaming); }, "1"), "1")
      << lab.log("node_2");
  EXPECT_EQ(standby.query_value("SELECT pg_postmaster_start_time()"), s_started)
      << "the standby's Postgres restarted";
  EXPECT_GE(lab.wait_states({{"node_1", "primary"}, {"node_2", "secondary"}}, 30000), 0)
      << lab.state_dump();
  const auto left = lab.teardown();
  EXPECT_TRUE(left.empty());
}

}  // namespace
}  // namespace pgaf::agent_it
