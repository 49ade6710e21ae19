/*
 * compat_monitor_swap_test.cpp — replacing a lost monitor under a live formation with the
 * reference's commands only (upstream-design.md §8.4): stop the old monitor, `disable monitor
 * --force` on each node, `create monitor` on a new PGDATA and port, `enable monitor <new uri>` on
 * each node (primary first), while a client writes through the formation URI at ~20 writes/s,
 * one transaction per write. Acceptance (issue 10): 0 failed client writes, every acknowledged
 * row on the primary, the new monitor shows primary + 2 secondaries with the usual
 * synchronous_standby_names.
 *
 * Ports: 26240 (old monitor), 26241-26243 (nodes), 26250 (new monitor).
 */
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent_lab.hpp"

namespace pgaf::agent_it {
namespace {

constexpr int kBasePort = 26240;
constexpr int kNewMonitorPort = 26250;

using Clock = std::chrono::steady_clock;
long ms_between(Clock::time_point a, Clock::time_point b) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count());
}

/* One INSERT per transaction every 50 ms through the formation URI; a write that fails (connect
 * or commit) is counted and its id never reused. */
class PacedWriter {
 public:
  explicit PacedWriter(std::string conninfo) : conninfo_(std::move(conninfo)) {}
  ~PacedWriter() { stop(); }
  void start() {
    thread_ = std::thread([this] { loop(); });
  }
  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  std::vector<long> acked() {
    std::lock_guard<std::mutex> l(mu_);
    return acked_;
  }
  long failed() const { return failed_.load(); }
  long attempts() const { return attempts_.load(); }
  std::string last_error() {
    std::lock_guard<std::mutex> l(mu_);
    return last_error_;
  }

 private:
  void loop() {
    long next = 1;
    std::unique_ptr<pgaf::test::PgConnection> conn;
    while (!stop_.load()) {
      const auto t0 = Clock::now();
      attempts_.fetch_add(1);
      const long id = next++;
      try {
        if (!conn) conn = std::make_unique<pgaf::test::PgConnection>(conninfo_);
        auto r = conn->try_query("INSERT INTO swap_writes VALUES (" + std::to_string(id) + ")");
        if (!r.ok) throw std::runtime_error(r.sqlstate + " " + r.message);
        std::lock_guard<std::mutex> l(mu_);
        acked_.push_back(id);
      } catch (const std::exception& e) {
        failed_.fetch_add(1);
        conn.reset();
        std::lock_guard<std::mutex> l(mu_);
        last_error_ = "write " + std::to_string(id) + ": " + e.what();
      }
      const long spent = ms_between(t0, Clock::now());
      if (spent < 50) std::this_thread::sleep_for(std::chrono::milliseconds(50 - spent));
    }
  }
  std::string conninfo_;
  std::atomic<bool> stop_{false};
  std::atomic<long> failed_{0}, attempts_{0};
  std::thread thread_;
  std::mutex mu_;
  std::vector<long> acked_;
  std::string last_error_;
};

/* (name -> "reported/goal") of the nodes registered with the monitor on `port`; empty if it
 * does not answer. */
std::map<std::string, std::string> node_states(AgentLab& lab, int port) {
  std::map<std::string, std::string> out;
  try {
    pgaf::test::PgConnection c(lab.conninfo(port, "pg_auto_failover") + " user=autoctl_node");
    for (const auto& r : c.query("SELECT nodename, reportedstate::text, goalstate::text "
                                 "FROM pgautofailover.node ORDER BY nodeid"))
      out[r[0]] = r[1] + "/" + r[2];
  } catch (const std::exception&) {
  }
  return out;
}

TEST(CompatMonitorSwap, ReplaceALostMonitorUnderALiveFormationWithNoFailedWrite) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (runs Postgres as postgres)";
  AgentLab lab(kBasePort);
  lab.start_monitor();
  lab.start_node("node_1", 1);
  ASSERT_GE(lab.wait_states({{"node_1", "single"}}, 60000), 0) << lab.state_dump();
  lab.start_node("node_2", 2);
  ASSERT_GE(lab.wait_states({{"node_1", "primary"}, {"node_2", "secondary"}}, 90000), 0)
      << lab.state_dump();
  lab.start_node("node_3", 3);
  ASSERT_GE(lab.wait_states(
                {{"node_1", "primary"}, {"node_2", "secondary"}, {"node_3", "secondary"}}, 90000),
            0)
      << lab.state_dump();
  auto nss = lab.ctl(
      {"-q", "set", "formation", "number-sync-standbys", "--pgdata", lab.pgdata("node_1"), "1"});
  ASSERT_EQ(nss.exit_code, 0) << nss.output;
  auto uri =
      lab.ctl({"-q", "show", "uri", "--formation", "default", "--pgdata", lab.pgdata("node_1")});
  ASSERT_EQ(uri.exit_code, 0) << uri.output;
  /* the formation's URI: the output itself, or its row of the monitor + formation table */
  std::size_t at = uri.output.rfind("postgres://", 0) == 0 ? 0 : std::string::npos;
  if (at == std::string::npos) {
    const std::size_t row = uri.output.find("formation |");
    ASSERT_NE(row, std::string::npos) << uri.output;
    at = uri.output.find("postgres://", row);
  }
  ASSERT_NE(at, std::string::npos) << uri.output;
  std::string formation_uri = uri.output.substr(at, uri.output.find_first_of("\r\n ", at) - at);
  formation_uri += (formation_uri.find('?') == std::string::npos ? "?" : "&") +
                   std::string("user=postgres&connect_timeout=2");
  {
    pgaf::test::PgConnection c(lab.conninfo(lab.node_port(1)) + " user=postgres");
    c.exec("CREATE TABLE swap_writes (id bigint PRIMARY KEY)");
  }
  /* the standbys keep streaming through the swap: no restart, no base backup */
  std::map<std::string, std::string> started;
  for (int i : {1, 2, 3}) {
    pgaf::test::PgConnection c(lab.conninfo(lab.node_port(i)) + " user=postgres");
    started["node_" + std::to_string(i)] = c.query_value("SELECT pg_postmaster_start_time()");
  }
  PacedWriter writer(formation_uri);
  writer.start();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const std::size_t acked_before_loss = writer.acked().size();

  /* the monitor is lost */
  auto stop = lab.ctl({"stop", "--pgdata", lab.pgdata("monitor")});
  ASSERT_EQ(stop.exit_code, 0) << stop.output;
  std::this_thread::sleep_for(std::chrono::seconds(3)); /* longer than the lease: vouch only */
  for (const char* n : {"node_1", "node_2", "node_3"}) {
    auto d = lab.ctl({"disable", "monitor", "--force", "--pgdata", lab.pgdata(n)});
    ASSERT_EQ(d.exit_code, 0) << n << ": " << d.output;
  }
  {
    /* no monitor anywhere: both standbys still stream from the primary */
    pgaf::test::PgConnection c(lab.conninfo(lab.node_port(1)) + " user=postgres");
    EXPECT_EQ(c.query_value("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"),
              "2");
  }
  /* without the --force, a node already disabled is refused (exit 2, bad configuration) */
  EXPECT_EQ(lab.ctl({"disable", "monitor", "--pgdata", lab.pgdata("node_2")}).exit_code, 2);

  /* a new monitor */
  const std::string port = std::to_string(kNewMonitorPort);
  auto cm =
      lab.ctl({"create", "monitor", "--pgdata", lab.pgdata("monitor2"), "--pgport", port,
               "--hostname", "127.0.0.1", "--listen", "127.0.0.1", "--auth", "trust", "--no-ssl"},
              120000);
  ASSERT_EQ(cm.exit_code, 0) << cm.output;
  lab.spawn("monitor2", {"run", "--pgdata", lab.pgdata("monitor2")});
  const std::string new_uri =
      "postgres://autoctl_node@127.0.0.1:" + port + "/pg_auto_failover?sslmode=prefer";
  auto t_answer = Clock::now();
  bool answers = false;
  while (!answers && ms_between(t_answer, Clock::now()) < 30000) {
    answers = lab.ctl({"-q", "show", "state", "--monitor", new_uri}).exit_code == 0;
    if (!answers) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(answers) << lab.log("monitor2");

  const std::size_t acked_without_monitor = writer.acked().size() - acked_before_loss;
  EXPECT_NE(lab.log("node_1").find("the monitor is disabled"), std::string::npos);
  const auto t_enable = Clock::now();
  for (const char* n : {"node_1", "node_2", "node_3"}) {
    auto e = lab.ctl({"enable", "monitor", "--pgdata", lab.pgdata(n), new_uri}, 90000);
    ASSERT_EQ(e.exit_code, 0) << n << ": " << e.output << "\n" << lab.log(n);
  }
  std::map<std::string, std::string> want = {{"node_1", "primary/primary"},
                                             {"node_2", "secondary/secondary"},
                                             {"node_3", "secondary/secondary"}};
  std::map<std::string, std::string> seen;
  while (seen != want && ms_between(t_enable, Clock::now()) < 90000) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    seen = node_states(lab, kNewMonitorPort);
  }
  const long settle_ms = ms_between(t_enable, Clock::now());
  auto show = lab.ctl({"-q", "show", "state", "--monitor", new_uri});
  ASSERT_EQ(seen, want) << show.output << "\n" << lab.log("node_1");
  std::string names;
  auto t_names = Clock::now();
  pgaf::test::PgConnection p(lab.conninfo(lab.node_port(1)) + " user=postgres");
  while (ms_between(t_names, Clock::now()) < 30000) {
    names = p.query_value("SHOW synchronous_standby_names");
    if (names == "ANY 1 (pgautofailover_standby_2, pgautofailover_standby_3)") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(names, "ANY 1 (pgautofailover_standby_2, pgautofailover_standby_3)");
  auto old_config =
      lab.ctl({"-q", "config", "get", "pg_autoctl.monitor", "--pgdata", lab.pgdata("node_3")});
  EXPECT_EQ(old_config.output.substr(0, old_config.output.find('\n')), new_uri);
  for (int i : {1, 2, 3}) {
    pgaf::test::PgConnection c(lab.conninfo(lab.node_port(i)) + " user=postgres");
    EXPECT_EQ(c.query_value("SELECT pg_postmaster_start_time()"),
              started["node_" + std::to_string(i)])
        << "node_" << i << " restarted";
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  writer.stop();

  const auto acked = writer.acked();
  std::set<long> on_primary;
  for (const auto& r : p.query("SELECT id FROM swap_writes")) on_primary.insert(std::stol(r[0]));
  long lost = 0;
  for (long id : acked) lost += on_primary.count(id) == 0 ? 1 : 0;
  std::printf(
      "monitor swap: %ld writes attempted, %zu acknowledged (%zu while no monitor was enabled), "
      "%ld failed, %ld acknowledged missing on the primary; new monitor settled %ld ms after "
      "the first enable monitor\n%s",
      writer.attempts(), acked.size(), acked_without_monitor, writer.failed(), lost, settle_ms,
      show.output.c_str());
  EXPECT_EQ(writer.failed(), 0) << writer.last_error();
  EXPECT_EQ(lost, 0);
  /* ≥ 3 s without any monitor (past the lease: the standbys' vouch only), at ~20 writes/s */
  EXPECT_GE(acked_without_monitor, 50u) << "the primary served while no monitor was enabled";
  const auto left = lab.teardown();
  EXPECT_TRUE(left.empty());
}

}  // namespace
}  // namespace pgaf::agent_it
