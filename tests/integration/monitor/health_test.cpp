/*
 * health_test.cpp — the background worker checks every node with non-blocking connections:
 * a node whose port is closed is marked bad within its retries, a running node is good, a node
 * that stops becomes bad and comes back good; each change is an event row. GUCs reload on SIGHUP.
 * Ports 25430 (monitor) and 25431 (a plain Postgres playing the node); 25439 stays closed.
 */
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "monitor_fixture.hpp"

using namespace pgaf::test;
using namespace std::chrono_literals;

namespace {

/* Poll `sql` until it returns `want`, at most timeout. */
bool wait_for_value(PgConnection& c, const std::string& sql, const std::string& want,
                    std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (c.query_value(sql) == want) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

TEST(MonitorHealth, ClosedPortBadRunningGoodAndBack) {
  auto monitor = start_monitor(25430, /*health_checks=*/true,
                               {"pgautofailover.health_check_period = 200",
                                "pgautofailover.health_check_timeout = 300",
                                "pgautofailover.health_check_max_retries = 1",
                                "pgautofailover.health_check_retry_delay = 100"});
  PgClusterOptions no;
  no.port = 25431;
  no.name = "pgaf-monitor-node";
  PgCluster node(no);
  node.exec("CREATE ROLE pgautofailover_monitor LOGIN");

  auto c = monitor->connect("pg_auto_failover");
  c.exec("SELECT * FROM pgautofailover.register_node('default', '127.0.0.1', 25431, 'postgres', "
         "sysidentifier => 1)");
  c.exec("SELECT * FROM pgautofailover.register_node('default', '127.0.0.1', 25439, 'postgres')");
  const std::string health1 = "SELECT health FROM pgautofailover.node WHERE nodeid = 1";
  const std::string health2 = "SELECT health FROM pgautofailover.node WHERE nodeid = 2";

  EXPECT_TRUE(wait_for_value(c, health1, "1", 10s)) << monitor->log_tail();
  EXPECT_TRUE(wait_for_value(c, health2, "0", 10s)) << monitor->log_tail();

  node.stop();
  EXPECT_TRUE(wait_for_value(c, health1, "0", 10s)) << monitor->log_tail();
  node.start();
  EXPECT_TRUE(wait_for_value(c, health1, "1", 10s)) << monitor->log_tail();

  auto events = c.query(
      "SELECT nodeid, description FROM pgautofailover.event "
      "WHERE description LIKE 'Node % is marked as %' ORDER BY eventid");
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events[0][1].find("Node 1 \"node_1\" (127.0.0.1:25431) is marked as healthy"), 0u)
      << events[0][1];
  EXPECT_EQ(c.query_value("SELECT count(*) FROM pgautofailover.event WHERE nodeid = 2 AND "
                          "description LIKE '% is marked as unhealthy by the monitor'"),
            "1");
  /* healthchecktime moves forward every round */
  const std::string t1 = c.query_value(
      "SELECT healthchecktime FROM pgautofailover.node WHERE nodeid = 1");
  std::this_thread::sleep_for(600ms);
  EXPECT_NE(c.query_value("SELECT healthchecktime FROM pgautofailover.node WHERE nodeid = 1"), t1);
}

TEST(MonitorHealth, GucsReloadOnSighup) {
  auto monitor = start_monitor(25432, true);
  auto c = monitor->connect("pg_auto_failover");
  EXPECT_EQ(c.query_value("SHOW pgautofailover.health_check_period"), "500ms");
  c.exec("ALTER SYSTEM SET pgautofailover.health_check_period = 1234");
  c.exec("SELECT pg_reload_conf()");
  auto fresh = monitor->connect("pg_auto_failover");
  EXPECT_TRUE(wait_for_value(fresh, "SHOW pgautofailover.health_check_period", "1234ms", 5s));
  auto r = c.try_query("SET pgautofailover.health_check_period = 10");
  EXPECT_FALSE(r.ok); /* PGC_SIGHUP: not settable in a session */
  EXPECT_EQ(r.sqlstate, "55P02");
}

}  // namespace

namespace {

/* A database with the extension gets its own health-check worker, and DROP DATABASE still works
 * (the utility hook stops the worker first). Port 25433. */
TEST(MonitorHealth, WorkerPerDatabaseAndDropDatabase) {
  auto monitor = start_monitor(25433, true);
  monitor->exec("CREATE DATABASE dropme");
  monitor->exec("CREATE EXTENSION pgautofailover CASCADE", "dropme");
  auto c = monitor->connect("postgres");
  const std::string workers =
      "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgautofailover' "
      "AND datname = 'dropme'";
  EXPECT_TRUE(wait_for_value(c, workers, "1", 10s)) << monitor->log_tail();
  EXPECT_TRUE(wait_for_value(c,
                             "SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                             "'pgautofailover' AND datname = 'pg_auto_failover'",
                             "1", 10s));
  const auto t0 = std::chrono::steady_clock::now();
  c.exec("DROP DATABASE dropme");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(c.query_value("SELECT count(*) FROM pg_database WHERE datname = 'dropme'"), "0");
}

}  // namespace
