/*
 * failover_test.cpp — the whole monitor loop with real servers: two plain PostgreSQL instances
 * play the nodes (the health checks reach them), simulated agents report every 100 ms (each
 * reports its last assigned goal as its state). The primary's host "dies" (its Postgres stops and
 * its agent falls silent): the health check marks it bad, its lease expires, and the standby is
 * promoted to wait_primary — in seconds, never with two writable goals. Ports 25450-25452.
 */
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <thread>

#include "monitor_fixture.hpp"

using namespace pgaf::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::unique_ptr<PgCluster> node_server(int port) {
  PgClusterOptions o;
  o.port = port;
  o.name = "pgaf-monitor-node";
  auto pg = std::make_unique<PgCluster>(o);
  pg->exec("CREATE ROLE pgautofailover_monitor LOGIN");
  return pg;
}

/* A simulated agent: reports its last goal as its state every 100 ms until stopped. */
class Agent {
 public:
  Agent(PgCluster& monitor, int id, std::string initial) : id_(id), goal_(std::move(initial)) {
    thread_ = std::thread([this, &monitor] {
      auto c = monitor.connect("pg_auto_failover");
      while (!stop_.load()) {
        auto r = c.try_query("SELECT assigned_group_state FROM pgautofailover.node_active("
                             "'default', " + std::to_string(id_) + ", 0, '" + goal() +
                             "', true, 1, '0/3000000', '')");
        if (r.ok) {
          std::lock_guard<std::mutex> g(mu_);
          goal_ = r.rows.at(0).at(0);
        } else {
          errors_.fetch_add(1);
        }
        std::this_thread::sleep_for(100ms);
      }
    });
  }
  ~Agent() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::string goal() {
    std::lock_guard<std::mutex> g(mu_);
    return goal_;
  }
  int errors() const { return errors_.load(); }

 private:
  int id_;
  std::mutex mu_;
  std::string goal_;
  std::atomic<bool> stop_{false};
  std::atomic<int> errors_{0};
  std::thread thread_;
};

TEST(MonitorFailover, PrimaryHostDiesStandbyPromotedInSeconds) {
  auto monitor = start_monitor(25450, true,
                               {"pgautofailover.health_check_period = 200",
                                "pgautofailover.health_check_timeout = 300",
                                "pgautofailover.health_check_max_retries = 1",
                                "pgautofailover.health_check_retry_delay = 100"});
  auto a_pg = node_server(25451);
  auto b_pg = node_server(25452);
  auto c = monitor->connect("pg_auto_failover");
  c.exec("SELECT pgautofailover.register_node('default', '127.0.0.1', 25451, 'postgres', "
         "sysidentifier => 1)");
  c.exec("SELECT pgautofailover.register_node('default', '127.0.0.1', 25452, 'postgres', "
         "sysidentifier => 1)");
  Agent a(*monitor, 1, "single");
  Agent b(*monitor, 2, "wait_standby");
  const auto converge_deadline = Clock::now() + 20s;
  while (Clock::now() < converge_deadline &&
         !(a.goal() == "primary" && b.goal() == "secondary" &&
           c.query_value("SELECT count(*) FROM pgautofailover.node WHERE health = 1 AND "
                         "goalstate = reportedstate") == "2"))
    std::this_thread::sleep_for(50ms);
  ASSERT_EQ(a.goal(), "primary");
  ASSERT_EQ(b.goal(), "secondary");

  /* the primary's host dies */
  const auto t0 = Clock::now();
  a.stop();
  a_pg->stop();

  std::string b_goal;
  int max_writable = 0;
  const auto deadline = t0 + 30s;
  while (Clock::now() < deadline) {
    b_goal = b.goal();
    max_writable = std::max(
        max_writable,
        std::stoi(c.query_value("SELECT count(*) FROM pgautofailover.node WHERE goalstate IN "
                                "('single','wait_primary','primary','join_primary',"
                                "'apply_settings')")));
    if (b_goal == "wait_primary" || b_goal == "primary") break;
    std::this_thread::sleep_for(20ms);
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  std::cout << "standby goal " << b_goal << " " << elapsed.count()
            << " ms after the primary's host died" << std::endl;
  EXPECT_TRUE(b_goal == "wait_primary" || b_goal == "primary") << monitor->log_tail();
  EXPECT_LT(elapsed, 15s);
  EXPECT_LE(max_writable, 1);
  EXPECT_EQ(c.query_value("SELECT goalstate FROM pgautofailover.node WHERE nodeid = 1"),
            "demoted");
  EXPECT_EQ(b.errors(), 0);
  for (auto& row : c.query("SELECT nodeid, reportedstate, goalstate, description FROM "
                           "pgautofailover.last_events('default', count => 12)"))
    std::cout << row[0] << " " << row[1] << " " << row[2] << " " << row[3] << "\n";
}

}  // namespace
