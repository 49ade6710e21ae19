/*
 * pg_cluster_test.cpp — tests of the shared Postgres fixture itself: it starts a real server as
 * `postgres`, runs queries, restarts, reports SQL errors with their SQLSTATE, delivers
 * notifications, and leaves no process and no directory behind.
 * Ports 25490-25499 (the top of the monitor range).
 */
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "pgaf/test/pg_cluster.hpp"

using pgaf::test::PgCluster;
using pgaf::test::PgClusterOptions;
using pgaf::test::PgError;

namespace {

PgClusterOptions opts(int port) {
  PgClusterOptions o;
  o.port = port;
  o.name = "pgaf-support";
  return o;
}

TEST(PgCluster, StartsQueriesAndCleansUp) {
  std::string dir, token;
  {
    PgCluster pg(opts(25490));
    dir = pg.dir();
    token = pg.token();
    EXPECT_TRUE(pg.running());
    EXPECT_EQ(pg.query_value("SELECT current_setting('server_version_num')::int / 10000"), "15");
    auto rows = pg.query("SELECT 1, NULL::text, 'x' UNION ALL SELECT 2, 'b', 'y' ORDER BY 1");
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0], (pgaf::test::Row{"1", "", "x"}));
    EXPECT_EQ(rows[1][1], "b");
    /* The server runs as postgres, never as root. */
    EXPECT_EQ(pg.query_value("SELECT current_setting('port')"), "25490");
    struct stat st {};
    ASSERT_EQ(stat(pg.data_dir().c_str(), &st), 0);
    if (geteuid() == 0) {
      EXPECT_NE(st.st_uid, 0u);
    }
    EXPECT_FALSE(pgaf::test::surviving_processes(token).empty());
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_TRUE(pgaf::test::surviving_processes(token).empty());
}

TEST(PgCluster, ErrorsCarrySqlstate) {
  PgCluster pg(opts(25491));
  try {
    pg.query("SELECT 1/0");
    FAIL() << "expected an error";
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate(), "22012");
  }
  auto r = pg.try_query("SELECT * FROM no_such_table");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.sqlstate, "42P01");
}

TEST(PgCluster, RestartKeepsDataAndConfLines) {
  PgClusterOptions o = opts(25492);
  o.conf_lines = {"application_name = 'fixture_test'"};
  PgCluster pg(o);
  pg.exec("CREATE TABLE t(x int); INSERT INTO t VALUES (42)");
  pid_t before = pg.postmaster_pid();
  pg.restart();
  EXPECT_NE(pg.postmaster_pid(), before);
  EXPECT_EQ(pg.query_value("SELECT x FROM t"), "42");
  EXPECT_EQ(pg.query_value("SHOW application_name"), "fixture_test");
  pg.stop();
  EXPECT_FALSE(pg.running());
  EXPECT_THROW(pg.query("SELECT 1"), PgError);
}

TEST(PgCluster, NotificationsAndNotices) {
  PgCluster pg(opts(25493));
  auto listener = pg.connect();
  listener.exec("LISTEN state");
  pg.exec("NOTIFY state, 'hello'");
  auto n = listener.wait_notification(5000);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->channel, "state");
  EXPECT_EQ(n->payload, "hello");
  EXPECT_FALSE(listener.wait_notification(50).has_value());
  auto r = listener.try_query("DO $$ BEGIN RAISE NOTICE 'careful'; END $$");
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.notices.size(), 1u);
  EXPECT_EQ(r.notices[0], "careful");
}

TEST(PgCluster, PortInUseIsAnErrorNotAnotherServer) {
  PgCluster first(opts(25494));
  PgClusterOptions o = opts(25494);
  EXPECT_THROW(PgCluster second(o), pgaf::test::FixtureError);
  EXPECT_EQ(first.query_value("SELECT 1"), "1");
}

TEST(PgCluster, RunCommandIsBounded) {
  auto r = pgaf::test::run_command({"/bin/sleep", "5"}, {}, 200);
  EXPECT_TRUE(r.timed_out);
  auto ok = pgaf::test::run_command({pgaf::test::pg_bindir() + "/postgres", "--version"});
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_NE(ok.output.find("15."), std::string::npos);
}

}  // namespace
