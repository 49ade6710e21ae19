/*
 * concurrency_test.cpp — many concurrent node_active callers (8 threads, one connection each)
 * simulate the agents of 4 groups of 3 nodes (every node reports its last assigned goal as its
 * state), while perform_failover calls land on random groups. A checker reads the committed state
 * every 10 ms. Invariants: never two writable goals in a group, no deadlock, no internal error;
 * perform_failover may only be refused with 55000 (group not stable). The seed is printed and
 * PGAF_SEED=<n> replays the same choices. Port 25440.
 */
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "monitor_fixture.hpp"

using namespace pgaf::test;
using namespace std::chrono_literals;

namespace {

constexpr int kGroups = 4;
constexpr int kNodesPerGroup = 3;
constexpr int kThreads = 8;

struct Sim {
  std::mutex mu;
  std::map<int, std::string> goal; /* node id → last goal the monitor returned */
};

std::string formation_of(int id) { return "c" + std::to_string((id - 1) / kNodesPerGroup + 1); }

std::string report(PgConnection& c, Sim& sim, int id) {
  std::string state;
  {
    std::lock_guard<std::mutex> g(sim.mu);
    state = sim.goal[id];
  }
  auto r = c.try_query("SELECT assigned_group_state FROM pgautofailover.node_active('" +
                       formation_of(id) + "', " + std::to_string(id) + ", 0, '" + state +
                       "', true, 1, '0/1000000', '')");
  if (!r.ok) return "ERROR " + r.sqlstate + ": " + r.message;
  std::lock_guard<std::mutex> g(sim.mu);
  sim.goal[id] = r.rows.at(0).at(0);
  return {};
}

const char* kWritableTwice =
    "SELECT formationid || '/' || groupid || ': ' || string_agg(nodeid || ' ' || goalstate, ', ') "
    "FROM pgautofailover.node "
    "WHERE goalstate IN ('single', 'wait_primary', 'primary', 'join_primary', 'apply_settings') "
    "GROUP BY formationid, groupid HAVING count(*) > 1";

/* Register kGroups groups of kNodesPerGroup nodes and report until every group is
 * primary/secondary/secondary. */
void setup_groups(PgConnection& c, Sim& sim) {
  for (int g = 1; g <= kGroups; ++g) {
    c.exec("SELECT pgautofailover.create_formation('c" + std::to_string(g) +
           "', 'pgsql', 'postgres', true, 0)");
    for (int k = 0; k < kNodesPerGroup; ++k) {
      const int id = (g - 1) * kNodesPerGroup + k + 1;
      auto goal = c.query_value(
          "SELECT assigned_group_state FROM pgautofailover.register_node('c" +
          std::to_string(g) + "', '127.0.0.1', " + std::to_string(20000 + id) +
          ", 'postgres', sysidentifier => " + std::to_string(g) +
          ", desired_node_id => " + std::to_string(id) + ")");
      sim.goal[id] = k == 0 ? goal : "wait_standby";
      if (k == 0) {
        ASSERT_EQ(report(c, sim, id), "");
      }
    }
  }
  for (int round = 0; round < 40; ++round)
    for (int id = 1; id <= kGroups * kNodesPerGroup; ++id) ASSERT_EQ(report(c, sim, id), "");
}

/* Two perform_failover calls on one group at once: the second waits for the first's group
 * lock, then is refused (the group is no longer stable); no deadlock. Port 25441. */
TEST(MonitorConcurrency, TwoFailoversAtOnce) {
  auto pg = start_monitor(25441);
  auto c = pg->connect("pg_auto_failover");
  Sim sim;
  setup_groups(c, sim);
  auto a = pg->connect("pg_auto_failover");
  a.exec("BEGIN");
  a.exec("SELECT pgautofailover.perform_failover('c1')");
  pgaf::test::QueryResult second;
  std::thread t([&] {
    auto b = pg->connect("pg_auto_failover");
    b.exec("SET lock_timeout = '10s'");
    second = b.try_query("SELECT pgautofailover.perform_failover('c1')");
  });
  /* b waits for a lock (bounded wait for it to get there) */
  bool waiting = false;
  for (int i = 0; i < 100 && !waiting; ++i) {
    waiting = c.query_value("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                            "'Lock' AND query LIKE '%perform_failover%'") == "1";
    if (!waiting) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(waiting);
  a.exec("COMMIT");
  t.join();
  EXPECT_FALSE(second.ok);
  EXPECT_EQ(second.sqlstate, "55000") << second.message;
  EXPECT_EQ(c.query_value("SELECT string_agg(goalstate::text, ',' ORDER BY nodeid) FROM "
                          "pgautofailover.node WHERE formationid = 'c1'"),
            "draining,report_lsn,report_lsn");
}

TEST(MonitorConcurrency, ManyReportersAndFailovers) {
  std::uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("PGAF_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::cout << "seed: " << seed << " (replay with PGAF_SEED=" << seed << ")" << std::endl;

  auto pg = start_monitor(25440);
  auto c = pg->connect("pg_auto_failover");
  Sim sim;
  setup_groups(c, sim);
  for (int g = 1; g <= kGroups; ++g)
    EXPECT_EQ(c.query_value("SELECT string_agg(goalstate::text, ',' ORDER BY nodeid) FROM "
                            "pgautofailover.node WHERE formationid = 'c" +
                            std::to_string(g) + "'"),
              "primary,secondary,secondary");

  std::atomic<bool> stop{false};
  std::atomic<long> calls{0}, failovers{0}, refused{0};
  std::mutex err_mu;
  std::vector<std::string> errors;
  auto record = [&](const std::string& e) {
    std::lock_guard<std::mutex> g(err_mu);
    if (errors.size() < 20) errors.push_back(e);
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed + static_cast<std::uint64_t>(t));
      auto conn = pg->connect("pg_auto_failover");
      std::uniform_int_distribution<int> node(1, kGroups * kNodesPerGroup);
      /* one agent per node: this thread simulates the nodes with (id - 1) % kThreads == t */
      std::vector<int> mine;
      for (int id = 1; id <= kGroups * kNodesPerGroup; ++id)
        if ((id - 1) % kThreads == t) mine.push_back(id);
      std::uniform_int_distribution<std::size_t> pick(0, mine.size() - 1);
      std::uniform_int_distribution<int> pct(0, 999);
      while (!stop.load()) {
        if (pct(rng) < 5) {
          const std::string f = "c" + std::to_string(node(rng) % kGroups + 1);
          /* Only on a converged group: decide() stalls when perform_failover lands while the
           * standbys of the previous election are still going report_lsn -> secondary (old
           * primary left converged in draining, no candidate; reported to the core owner). */
          if (conn.query_value("SELECT bool_and(goalstate = reportedstate) FROM "
                               "pgautofailover.node WHERE formationid = '" + f + "'") != "t")
            continue;
          auto r = conn.try_query("SELECT pgautofailover.perform_failover('" + f + "')");
          ++failovers;
          if (!r.ok) {
            if (r.sqlstate == "55000")
              ++refused;
            else
              record("perform_failover: " + r.sqlstate + " " + r.message);
          }
          continue;
        }
        std::string e = report(conn, sim, mine[pick(rng)]);
        ++calls;
        if (!e.empty()) record("node_active: " + e);
      }
    });
  }
  std::vector<std::string> violations;
  std::thread checker([&] {
    auto conn = pg->connect("pg_auto_failover");
    while (!stop.load()) {
      for (auto& row : conn.query(kWritableTwice)) violations.push_back(row.at(0));
      std::this_thread::sleep_for(10ms);
    }
  });
  std::this_thread::sleep_for(4s);
  stop = true;
  for (auto& th : threads) th.join();
  checker.join();

  std::cout << "node_active calls: " << calls << ", perform_failover: " << failovers
            << " (refused while not stable: " << refused << ")" << std::endl;
  for (const auto& e : errors) ADD_FAILURE() << e;
  for (const auto& v : violations) ADD_FAILURE() << "two writable goals: " << v;
  EXPECT_TRUE(c.query(kWritableTwice).empty());
  EXPECT_GT(calls.load(), 1000);
  EXPECT_GT(failovers.load() - refused.load(), 0) << "no failover was ever accepted";
  /* the groups still converge after the storm. Time-bounded, not round-bounded: a promotion
   * may have to wait for the old primary's lease to expire (when its last report fell in the
   * same millisecond as its lease grant, the report does not prove it fenced). */
  std::cout << "--- after the storm" << std::endl;
  for (auto& row : c.query("SELECT nodeid, reportedstate, goalstate, candidatepriority FROM "
                           "pgautofailover.node ORDER BY nodeid"))
    std::cout << row[0] << " " << row[1] << " " << row[2] << " " << row[3] << "\n";
  const char* kConverged =
      "SELECT count(*) FROM (SELECT formationid FROM pgautofailover.node "
      "WHERE goalstate = reportedstate GROUP BY formationid "
      "HAVING string_agg(goalstate::text, ',' ORDER BY goalstate) = "
      "'primary,secondary,secondary') c";
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < deadline &&
         c.query_value(kConverged) != std::to_string(kGroups)) {
    for (int id = 1; id <= kGroups * kNodesPerGroup; ++id) ASSERT_EQ(report(c, sim, id), "");
    std::this_thread::sleep_for(20ms);
  }
  for (int g = 1; g <= kGroups; ++g) {
    auto states = c.query_value(
        "SELECT string_agg(goalstate::text, ',' ORDER BY goalstate) FROM pgautofailover.node "
        "WHERE formationid = 'c" + std::to_string(g) + "' AND goalstate = reportedstate");
    EXPECT_EQ(states, "primary,secondary,secondary") << "group c" << g;
    if (states != "primary,secondary,secondary") {
      for (auto& row : c.query("SELECT eventid, nodeid, reportedstate, goalstate, description "
                               "FROM pgautofailover.last_events('c" + std::to_string(g) +
                               "', count => 25)"))
        std::cout << row[0] << " " << row[1] << " " << row[2] << " " << row[3] << " " << row[4]
                  << "\n";
      break;
    }
  }
}

}  // namespace
