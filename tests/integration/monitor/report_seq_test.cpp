/*
 * report_seq_test.cpp — node_active's report_seq (9-argument form; simulator finding F10) on a
 * real server: a stale report sends no NOTIFY on either channel and writes no event; concurrent
 * numbered reports of one node, arriving in any order, never leave a row that mixes two reports
 * or goes back in sequence, and end with the newest one (the shared path writes a row only if
 * it is still the version it decided on). Ports 25460-25461.
 * The SQL-visible behaviour (rows, replies, errors) is in sql/07_report_seq.sql.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "monitor_fixture.hpp"

using namespace pgaf::test;

namespace {

std::string lsn_of(long long seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0/%llX", 0x1000000LL + seq * 0x100LL);
  return buf;
}

std::string report(PgConnection& c, const std::string& state, long long seq,
                   const std::string& lsn) {
  return c.query_value(
      "SELECT assigned_group_state FROM pgautofailover.node_active('default', 1, "
      "0, '" +
      state + "', true, 1, '" + lsn + "', '', " + std::to_string(seq) + ")");
}

void drain(PgConnection& listener) {
  for (int i = 0; i < 100 && listener.wait_notification(300); ++i) {
  }
}

TEST(MonitorReportSeq, StaleReportNotifiesNothing) {
  auto pg = start_monitor(25460);
  auto listener = pg->connect("pg_auto_failover");
  listener.exec("LISTEN state; LISTEN log");
  auto c = pg->connect("pg_auto_failover");
  c.exec(
      "SELECT * FROM pgautofailover.register_node('default', 'localhost', 9876, 'postgres', "
      "sysidentifier => 1)");
  EXPECT_EQ(report(c, "single", 10, "0/3000000"), "single");
  drain(listener);
  const std::string events = c.query_value("SELECT count(*) FROM pgautofailover.event");
  EXPECT_EQ(events, "2");

  /* older (9) and duplicate (10) reports claiming an older state: ignored, current goal */
  EXPECT_EQ(report(c, "init", 9, "0/2000000"), "single");
  EXPECT_EQ(report(c, "init", 10, "0/2000000"), "single");
  while (auto m = listener.wait_notification(500)) {
    ADD_FAILURE() << "unexpected notification on " << m->channel << ": " << m->payload;
  }
  EXPECT_EQ(c.query_value("SELECT count(*) FROM pgautofailover.event"), events);
  EXPECT_EQ(c.query_value("SELECT reportedstate || ' ' || reportedlsn || ' ' || lastreportseq "
                          "FROM pgautofailover.node WHERE nodeid = 1"),
            "single 0/3000000 10");
}

TEST(MonitorReportSeq, ConcurrentReportsOfOneNodeKeepTheNewest) {
  constexpr int kThreads = 4;
  constexpr int kReportsPerThread = 250;
  auto pg = start_monitor(25461);
  auto c = pg->connect("pg_auto_failover");
  c.exec(
      "SELECT * FROM pgautofailover.register_node('default', 'localhost', 9876, 'postgres', "
      "sysidentifier => 1)");
  ASSERT_EQ(report(c, "single", 1, lsn_of(1)), "single");

  /* every report takes the next number, then races the others to the monitor */
  std::atomic<long long> next{1};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      try {
        auto conn = pg->connect("pg_auto_failover");
        for (int i = 0; i < kReportsPerThread; ++i) {
          const long long seq = ++next;
          /* 55000 is the documented "updated concurrently, retry" answer (docs/monitor.md):
           * an agent sends its next report; here the same one is retried, bounded */
          for (int attempt = 0;; ++attempt) {
            try {
              if (report(conn, "single", seq, lsn_of(seq)) != "single") ++failures;
              break;
            } catch (const pgaf::test::PgError& e) {
              if (e.sqlstate() != "55000" || attempt >= 5) throw;
            }
          }
        }
      } catch (const std::exception& e) {
        std::cerr << "reporter failed: " << e.what() << "\n";
        ++failures;
      }
    });
  }
  /* every committed version of the row is one whole report, and the sequence never goes back */
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::atomic<int> backwards{0};
  std::atomic<int> checks{0};
  std::thread checker([&] {
    auto conn = pg->connect("pg_auto_failover");
    long long seen = 0;
    while (!done.load()) {
      auto row = conn.query(
          "SELECT lastreportseq, reportedlsn FROM pgautofailover.node "
          "WHERE nodeid = 1");
      const long long seq = std::stoll(row.at(0).at(0));
      if (row.at(0).at(1) != lsn_of(seq)) {
        if (torn.fetch_add(1) < 5)
          std::cerr << "row mixes reports: seq " << seq << " with lsn " << row.at(0).at(1) << "\n";
      }
      if (seq < seen) ++backwards;
      seen = std::max(seen, seq);
      ++checks;
    }
  });
  for (auto& th : threads) th.join();
  done = true;
  checker.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(torn.load(), 0) << "of " << checks.load() << " reads";
  EXPECT_EQ(backwards.load(), 0) << "of " << checks.load() << " reads";

  /* the newest report (nothing above it can be stale) is the one in the row, whole */
  const long long last = next.load();
  ASSERT_EQ(last, 1 + kThreads * kReportsPerThread);
  EXPECT_EQ(c.query_value("SELECT lastreportseq || ' ' || reportedlsn FROM pgautofailover.node "
                          "WHERE nodeid = 1"),
            std::to_string(last) + " " + lsn_of(last));
  /* steady-state reports write no event (register + the single report only) */
  EXPECT_EQ(c.query_value("SELECT count(*) FROM pgautofailover.event"), "2");
  /* how often the race happened (information only: it depends on scheduling) */
  std::ifstream log(pg->log_path());
  int stale = 0;
  for (std::string line; std::getline(log, line);)
    if (line.find("Ignoring a stale report") != std::string::npos) ++stale;
  std::cout << kThreads * kReportsPerThread << " concurrent reports, " << stale
            << " arrived after a newer one and were ignored\n";
}

}  // namespace
