/*
 * fence_test.cpp — pgaf_fence inside a real PostgreSQL 15: once armed, no writing transaction
 * commits after the lease deadline; reads and an unarmed server are unaffected.
 * Ports 25700-25709.
 */
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>

#include "pgaf/test/pg_cluster.hpp"

namespace {
using pgaf::test::PgCluster;
using pgaf::test::PgClusterOptions;

class Fence : public ::testing::Test {
 protected:
  void SetUp() override {
    PgClusterOptions o;
    o.port = 25700;
    o.name = "pgaf-fence";
    o.conf_lines = {"shared_preload_libraries = 'pgaf_fence'"};
    pg = std::make_unique<PgCluster>(o);
    pg->exec("CREATE EXTENSION pgaf_fence");
    pg->exec("CREATE TABLE t (id int)");
  }
  long long now_ms() { return std::stoll(pg->query_value("SELECT pgaf_fence_now()")); }
  std::unique_ptr<PgCluster> pg;
};

TEST_F(Fence, UnarmedServerIsUnaffected) {
  EXPECT_EQ(pg->query_value("SELECT armed FROM pgaf_fence_status()"), "f");
  EXPECT_TRUE(pg->try_query("INSERT INTO t VALUES (1)").ok);
}

TEST_F(Fence, WritesCommitUntilTheDeadlineThenNot) {
  const long long deadline = now_ms() + 400;
  pg->exec("SELECT pgaf_fence_set_deadline(" + std::to_string(deadline) + ")");
  EXPECT_TRUE(pg->try_query("INSERT INTO t VALUES (1)").ok);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto r = pg->try_query("INSERT INTO t VALUES (2)");
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.sqlstate, "25006");
  EXPECT_NE(r.message.find("write lease of this node expired"), std::string::npos) << r.message;
  EXPECT_TRUE(pg->try_query("SELECT count(*) FROM t").ok) << "reads are not fenced";
  EXPECT_EQ(pg->query_value("SELECT count(*) FROM t"), "1") << "the refused row is not there";
  /* a renewed lease lets writes through again */
  pg->exec("SELECT pgaf_fence_set_deadline(" + std::to_string(now_ms() + 60000) + ")");
  EXPECT_TRUE(pg->try_query("INSERT INTO t VALUES (3)").ok);
  pg->exec("SELECT pgaf_fence_disarm()");
}

TEST_F(Fence, TransactionOpenAcrossTheDeadlineCannotCommit) {
  pg->exec("SELECT pgaf_fence_set_deadline(" + std::to_string(now_ms() + 300) + ")");
  auto c = pg->connect();
  c.exec("BEGIN");
  c.exec("INSERT INTO t VALUES (10)");
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  auto r = c.try_query("COMMIT");
  EXPECT_FALSE(r.ok) << "a commit after the deadline must fail";
  EXPECT_EQ(pg->query_value("SELECT count(*) FROM t WHERE id = 10"), "0");
  pg->exec("SELECT pgaf_fence_disarm()");
}

TEST_F(Fence, ExpiredLeaseRefusesAtOnceAndDisarmRestores) {
  auto left = pg->query_value("SELECT pgaf_fence_set_deadline(0)");
  EXPECT_LT(std::stoll(left), 0);
  EXPECT_FALSE(pg->try_query("INSERT INTO t VALUES (1)").ok);
  EXPECT_EQ(pg->query_value("SELECT armed FROM pgaf_fence_status()"), "t");
  pg->exec("SELECT pgaf_fence_disarm()");
  EXPECT_TRUE(pg->try_query("INSERT INTO t VALUES (1)").ok);
}

TEST_F(Fence, BadDeadlineIsAClearError) {
  auto r = pg->try_query("SELECT pgaf_fence_set_deadline(-5)");
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.sqlstate, "22023");
  EXPECT_NE(r.message.find("invalid lease deadline"), std::string::npos);
}

TEST_F(Fence, EnforceGucSwitchesTheCheckOff) {
  pg->exec("SELECT pgaf_fence_set_deadline(0)");
  pg->append_conf({"pgaf_fence.enforce = off"});
  pg->reload();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(pg->try_query("INSERT INTO t VALUES (1)").ok);
}

/* pgaf_fence.start_armed (pg_autoctl's managed config): a started server refuses writing
 * commits until a deadline is set, also right after a restart that followed a crash; the
 * extension can be created together with the deadline in one transaction (what the agent does
 * on a fresh primary). */
TEST_F(Fence, StartArmedRefusesFromTheFirstTransactionUntilADeadline) {
  pg->append_conf({"pgaf_fence.start_armed = on"});
  pg->stop();
  pg->start();
  EXPECT_EQ(pg->query_value("SELECT armed FROM pgaf_fence_status()"), "t");
  auto r = pg->try_query("INSERT INTO t VALUES (1)");
  ASSERT_FALSE(r.ok) << "a started server must refuse writes before it has a deadline";
  EXPECT_EQ(r.sqlstate, "25006");
  EXPECT_TRUE(pg->try_query("SELECT count(*) FROM t").ok) << "reads are not fenced";
  /* a writing statement alone cannot commit; with the deadline set in the same transaction
   * (the agent's CREATE EXTENSION + set_deadline on a fresh primary) it can */
  EXPECT_FALSE(pg->try_query("CREATE TABLE t2 (id int)").ok);
  pg->exec("CREATE TABLE t3 (id int); SELECT pgaf_fence_set_deadline(pgaf_fence_now() + 60000)");
  EXPECT_TRUE(pg->try_query("INSERT INTO t VALUES (2)").ok);
  /* a backend crash: the postmaster reinitialises shared memory, armed again and expired */
  auto victim = pg->connect();
  const std::string pid = victim.query_value("SELECT pg_backend_pid()");
  ASSERT_EQ(::kill(static_cast<pid_t>(std::stol(pid)), SIGKILL), 0);
  bool back = false;
  for (int i = 0; i < 200 && !back; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    back = pg->try_query("SELECT 1").ok;
  }
  ASSERT_TRUE(back) << "the server did not come back after the crash of a backend";
  EXPECT_EQ(pg->query_value("SELECT armed FROM pgaf_fence_status()"), "t");
  EXPECT_EQ(pg->query_value("SELECT deadline_ms FROM pgaf_fence_status()"), "0");
  EXPECT_FALSE(pg->try_query("INSERT INTO t VALUES (3)").ok);
  /* (the fixture runs with synchronous_commit off: row 2 may or may not survive the crash) */
  EXPECT_EQ(pg->query_value("SELECT count(*) FROM t WHERE id = 3"), "0");
}

}  // namespace
