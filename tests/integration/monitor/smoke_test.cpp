/*
 * smoke_test.cpp — the extension loads only through shared_preload_libraries, creates its schema,
 * and its C++ functions answer through the extern "C" wall with the right SQLSTATEs.
 * Ports 25400-25409.
 */
#include <gtest/gtest.h>

#include "monitor_fixture.hpp"

using namespace pgaf::test;

namespace {

TEST(MonitorSmoke, RegisterAndReportSingle) {
  auto pg = start_monitor(25400);
  auto c = pg->connect("pg_auto_failover");
  auto r = c.query(
      "SELECT * FROM pgautofailover.register_node('default', 'localhost', 9876, 'postgres', "
      "sysidentifier => 6852685710417058800)");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0], (Row{"1", "0", "single", "100", "t", "node_1"}));
  r = c.query("SELECT * FROM pgautofailover.node_active('default', 1, 0, 'single')");
  EXPECT_EQ(r[0], (Row{"1", "0", "single", "100", "t"}));
  /* the assignment to single, then the reported state single */
  EXPECT_EQ(c.query_value("SELECT count(*) FROM pgautofailover.event"), "2");
}

TEST(MonitorSmoke, ErrorsCarrySqlstate) {
  auto pg = start_monitor(25401);
  auto c = pg->connect("pg_auto_failover");
  auto r = c.try_query("SELECT * FROM pgautofailover.node_active('default', 42, 0, 'single')");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.sqlstate, "42704") << r.message;
  r = c.try_query("SELECT * FROM pgautofailover.register_node('nope', 'h', 1, 'postgres')");
  EXPECT_EQ(r.sqlstate, "42704") << r.message;
  r = c.try_query("SELECT * FROM pgautofailover.get_primary()");
  EXPECT_EQ(r.sqlstate, "55006") << r.message;
  /* a PostgreSQL error inside the C++ call (bad enum label) is re-thrown unchanged */
  r = c.try_query("SELECT * FROM pgautofailover.node_active('default', 1, 0, 'nope')");
  EXPECT_EQ(r.sqlstate, "22P02") << r.message;
  /* the session survives */
  EXPECT_EQ(c.query_value("SELECT 1"), "1");
}

/* PostgreSQL errors raised inside the C++ call (a lock wait cancelled by statement_timeout, a
 * constraint violated by a write) come back unchanged, nothing is half-written, and the session
 * and the backend survive (the error crossed the wall without a longjmp through C++ frames). */
TEST(MonitorSmoke, PostgresErrorsInsideTheCallAreRethrown) {
  auto pg = start_monitor(25403);
  auto a = pg->connect("pg_auto_failover");
  auto b = pg->connect("pg_auto_failover");
  const int b_pid = b.backend_pid();
  a.exec("SELECT * FROM pgautofailover.register_node('default', 'localhost', 9876, 'postgres', "
         "sysidentifier => 1)");
  /* a holds the formation lock in exclusive mode (register_node) until it commits */
  a.exec("BEGIN");
  a.exec("SELECT * FROM pgautofailover.register_node('default', 'localhost', 9877, 'postgres')");
  b.exec("SET statement_timeout = 300");
  auto r = b.try_query("SELECT * FROM pgautofailover.node_active('default', 1, 0, 'single')");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.sqlstate, "57014") << r.message;
  a.exec("COMMIT");
  EXPECT_EQ(b.query_value("SELECT assigned_group_state FROM pgautofailover.node_active("
                          "'default', 1, 0, 'single')"),
            "single");
  /* node 2 has no system identifier: reporting secondary violates a constraint in the UPDATE */
  const std::string before = b.query_value(
      "SELECT row(goalstate, reportedstate, reporttime)::text FROM pgautofailover.node "
      "WHERE nodeid = 2");
  r = b.try_query("SELECT * FROM pgautofailover.node_active('default', 2, 0, 'secondary')");
  EXPECT_EQ(r.sqlstate, "23514") << r.message;
  EXPECT_EQ(b.query_value("SELECT row(goalstate, reportedstate, reporttime)::text FROM "
                          "pgautofailover.node WHERE nodeid = 2"),
            before);
  /* the same backend served every call: no crash, no reconnect */
  EXPECT_EQ(b.query_value("SELECT pg_backend_pid()"), std::to_string(b_pid));
  EXPECT_EQ(pg->query_value("SELECT count(*) FROM pgautofailover.event WHERE nodeid = 2 AND "
                            "description LIKE 'New state%'",
                            "pg_auto_failover"),
            "0");
}

TEST(MonitorSmoke, RefusesToLoadWithoutPreload) {
  PgClusterOptions o;
  o.port = 25402;
  o.name = "pgaf-monitor";
  PgCluster pg(o);
  auto r = pg.try_query("LOAD 'pgautofailover'");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("shared_preload_libraries"), std::string::npos) << r.message;
}

}  // namespace
