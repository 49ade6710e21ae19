/*
 * http_test.cpp — the agent's HTTP endpoint (issue 11) on a live formation: a monitor and two
 * nodes with --http-listen, real PostgreSQL 15, 127.0.0.1 only.
 *
 *  - /primary, /replica, /health, /state, /metrics answer what the formation is; /metrics parses
 *    (tests/support prom_text.hpp) and carries the documented names, on the nodes and on the
 *    monitor (per-node metrics from its tables);
 *  - 100 held-open connections (re-opened as soon as the server closes them) do not delay the
 *    keeper loops: every node keeps reporting to the monitor at its interval, and a switchover
 *    under them completes as fast as without;
 *  - a switchover flips /primary 200 -> 503 on the old primary and 503 -> 200 on the new one, never
 *    200 on both at once; the flip times are printed;
 *  - a primary left alone (no standby, no monitor) answers 503 on /primary when its lease ends,
 *    no later than it refuses writes; the time is printed.
 *
 * Ports 26020-26039 (issue 11's range): monitor 26020, nodes 26021-26022, HTTP 26031-26033.
 */
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "agent_lab.hpp"
#include "pgaf/test/prom_text.hpp"
#include "steps.hpp"

namespace pgaf::agent_it {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr int kHttp1 = 26031, kHttp2 = 26032, kHttpMonitor = 26033;

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

struct Reply {
  int status = -1;
  std::string body;
};

/* One GET on a fresh connection, bounded by timeout_ms. */
Reply get(int port, const std::string& path, int timeout_ms = 3000) {
  Reply r;
  int fd = connect_to(port);
  if (fd < 0) return r;
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) < 0) {
    ::close(fd);
    return r;
  }
  std::string resp;
  char buf[8192];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) resp.append(buf, static_cast<size_t>(n));
  ::close(fd);
  if (resp.rfind("HTTP/1.1 ", 0) != 0) return r;
  r.status = std::atoi(resp.c_str() + 9);
  const auto sep = resp.find("\r\n\r\n");
  if (sep != std::string::npos) r.body = resp.substr(sep + 4);
  return r;
}

/* Keeps `count` connections open to each port: half send half a request, half nothing; a
 * connection the server closes is opened again at once. */
class ConnectionHolder {
 public:
  ConnectionHolder(std::vector<int> ports, int count) : ports_(std::move(ports)), count_(count) {
    thread_ = std::thread([this] { loop(); });
  }
  ~ConnectionHolder() {
    stop_ = true;
    thread_.join();
  }
  long reopened() const { return reopened_.load(); }
  long held_min() const { return held_min_.load(); }

 private:
  void loop() {
    std::vector<std::pair<int, int>> fds; /* port, fd */
    for (int p : ports_)
      for (int i = 0; i < count_; ++i) fds.push_back({p, open(p, i)});
    while (!stop_) {
      std::vector<pollfd> pf;
      for (auto& [p, fd] : fds) pf.push_back({fd, POLLIN, 0});
      (void)::poll(pf.data(), pf.size(), 20);
      long held = 0;
      for (size_t i = 0; i < fds.size(); ++i) {
        char b[256];
        if (fds[i].second >= 0 && (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
            ::recv(fds[i].second, b, sizeof b, MSG_DONTWAIT) <= 0) {
          ::close(fds[i].second);
          fds[i].second = -1;
        }
        if (fds[i].second < 0) {
          fds[i].second = open(fds[i].first, static_cast<int>(i));
          ++reopened_;
        }
        if (fds[i].second >= 0) ++held;
      }
      if (held < held_min_.load()) held_min_.store(held);
    }
    for (auto& [p, fd] : fds)
      if (fd >= 0) ::close(fd);
  }
  static int open(int port, int i) {
    int fd = connect_to(port);
    if (fd >= 0 && i % 2 == 0) (void)::send(fd, "GET /primary HTTP/1.1\r\n", 23, MSG_NOSIGNAL);
    return fd;
  }
  std::vector<int> ports_;
  int count_;
  std::atomic<bool> stop_{false};
  std::atomic<long> reopened_{0};
  std::atomic<long> held_min_{1 << 30};
  std::thread thread_;
};

/* Polls /primary on both nodes every 10 ms and records every answer's time. */
class PrimaryWatch {
 public:
  struct Sample {
    long t_ms;
    int s1, s2;
  };
  PrimaryWatch() : t0_(SteadyClock::now()) {
    thread_ = std::thread([this] {
      while (!stop_) {
        Reply a = get(kHttp1, "/primary", 1000);
        Reply b = get(kHttp2, "/primary", 1000);
        {
          std::lock_guard<std::mutex> l(mu_);
          samples_.push_back({ms_since(t0_), a.status, b.status});
        }
        sleep_ms(10);
      }
    });
  }
  ~PrimaryWatch() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<Sample> samples() {
    std::lock_guard<std::mutex> l(mu_);
    return samples_;
  }
  SteadyClock::time_point t0() const { return t0_; }

 private:
  SteadyClock::time_point t0_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Sample> samples_;
  std::thread thread_;
};

/* Longest age of any node's last report on the monitor, sampled every 100 ms for ms. */
double max_report_age_s(AgentLab& lab, int ms) {
  double worst = 0;
  auto t0 = SteadyClock::now();
  while (ms_since(t0) < ms) {
    pgaf::test::PgConnection c(lab.conninfo(lab.monitor_port(), "pg_auto_failover") +
                               " user=autoctl_node");
    auto v = c.query_value(
        "SELECT max(extract(epoch FROM now() - reporttime))::float8 FROM pgautofailover.node");
    worst = std::max(worst, std::atof(v.c_str()));
    sleep_ms(100);
  }
  return worst;
}

bool can_write(AgentLab& lab, int port) {
  try {
    pgaf::test::PgConnection c(lab.conninfo(port) + " user=postgres");
    return c.try_query("INSERT INTO t VALUES (nextval('s'))").ok;
  } catch (const std::exception&) {
    return false;
  }
}

#define REQUIRE_ROOT()                                                            \
  do {                                                                            \
    if (geteuid() != 0) GTEST_SKIP() << "needs root (runs Postgres as postgres)"; \
  } while (0)

TEST(Http, EndpointsFlipInSwitchoverAndIsolation) {
  REQUIRE_ROOT();
  AgentLab lab(26020);
  lab.start_monitor({"--http-listen", "127.0.0.1:" + std::to_string(kHttpMonitor)});
  lab.start_node("node_1", 1, {"--http-listen", "127.0.0.1:" + std::to_string(kHttp1)});
  ASSERT_GE(lab.wait_states({{"node_1", "single"}}, 30000), 0) << lab.state_dump();
  lab.start_node("node_2", 2, {"--http-listen", "127.0.0.1:" + std::to_string(kHttp2)});
  ASSERT_GE(lab.wait_states({{"node_1", "primary"}, {"node_2", "secondary"}}, 45000), 0)
      << lab.state_dump() << lab.log("node_1") << lab.log("node_2");
  pgaf::test::PgConnection(lab.conninfo(lab.node_port(1)) + " user=postgres")
      .exec("CREATE TABLE t(id bigint primary key); CREATE SEQUENCE s");

  /* what a converged formation answers (the standby's lag is known after a report or two) */
  Reply r2;
  for (int i = 0; i < 50; ++i) {
    r2 = get(kHttp2, "/replica?lag=16MB");
    if (r2.status == 200) break;
    sleep_ms(100);
  }
  EXPECT_EQ(r2.status, 200) << r2.body;
  Reply p1r = get(kHttp1, "/primary");
  EXPECT_EQ(p1r.status, 200) << p1r.body;
  EXPECT_EQ(get(kHttp2, "/primary").status, 503);
  EXPECT_EQ(get(kHttp1, "/replica").status, 503);
  EXPECT_EQ(get(kHttp1, "/health").status, 200);
  EXPECT_EQ(get(kHttp2, "/health").status, 200);
  EXPECT_EQ(get(kHttp2, "/replica?lag=lots").status, 400);
  EXPECT_EQ(get(kHttp2, "/nowhere").status, 404);
  Reply st = get(kHttp1, "/state");
  EXPECT_EQ(st.status, 200);
  EXPECT_NE(st.body.find("\"current_group_state\": \"primary\""), std::string::npos) << st.body;
  EXPECT_NE(st.body.find("\"nodename\": \"node_1\""), std::string::npos) << st.body;
  Reply m1 = get(kHttp1, "/metrics");
  ASSERT_EQ(m1.status, 200);
  auto p1 = pgaf::test::parse_prometheus_text(m1.body);
  EXPECT_EQ(p1.value("pgaf_primary"), 1);
  EXPECT_EQ(p1.value("pgaf_node_state", {{"state", "primary"}}), 1);
  EXPECT_EQ(p1.value("pgaf_postgres_running"), 1);
  EXPECT_GE(p1.value("pgaf_timeline"), 1);
  EXPECT_GT(p1.value("pgaf_wal_lsn_bytes"), 0);
  EXPECT_GT(p1.value("pgaf_lease_remaining_seconds"), 0);
  EXPECT_LT(p1.value("pgaf_monitor_last_report_age_seconds"), 2);
  EXPECT_GE(p1.value("pgaf_state_transitions_total"), 1);
  auto p2 = pgaf::test::parse_prometheus_text(get(kHttp2, "/metrics").body);
  EXPECT_EQ(p2.value("pgaf_primary"), 0);
  EXPECT_EQ(p2.value("pgaf_postgres_in_recovery"), 1);
  EXPECT_GE(p2.value("pgaf_replication_lag_bytes"), 0);
  Reply mm = get(kHttpMonitor, "/metrics");
  ASSERT_EQ(mm.status, 200) << mm.body << lab.log("monitor");
  auto pm = pgaf::test::parse_prometheus_text(mm.body);
  EXPECT_EQ(pm.value("pgaf_monitor_nodes"), 2);
  EXPECT_EQ(
      pm.value("pgaf_monitor_node_reported_state", {{"name", "node_1"}, {"state", "primary"}}), 1);
  EXPECT_EQ(pm.find("pgaf_monitor_node_health", {{"name", "node_2"}}).size(), 1u);
  EXPECT_LT(pm.value("pgaf_monitor_node_last_report_age_seconds", {{"name", "node_2"}}), 2);
  EXPECT_GE(pm.value("pgaf_monitor_events_total", {{"goal_state", "primary"}}), 1);
  EXPECT_EQ(get(kHttpMonitor, "/primary").status, 503);

  /* 100 held connections on each node's endpoint: the keepers keep reporting at their pace */
  const double idle_age = max_report_age_s(lab, 2000);
  double held_age = 0;
  long reopened = 0;
  {
    ConnectionHolder h({kHttp1, kHttp2}, 100);
    held_age = max_report_age_s(lab, 4000);
    reopened = h.reopened();
    EXPECT_GE(h.held_min(), 150) << "the holder could not keep its connections open";
  }
  std::printf(
      "keeper reports: longest report age %.3f s without, %.3f s with 2x100 held "
      "connections (%ld re-opened)\n",
      idle_age, held_age, reopened);
  EXPECT_LT(held_age, 1.5) << "node_active_interval_ms is 500 ms";

  /* switchover node_1 -> node_2, watching /primary on both */
  long switch_ms = 0;
  {
    PrimaryWatch watch;
    sleep_ms(300);
    const long started = ms_since(watch.t0());
    auto t0 = SteadyClock::now();
    auto r = lab.ctl({"perform", "switchover", "--monitor", lab.monitor_uri()});
    switch_ms = ms_since(t0);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    ASSERT_GE(lab.wait_states({{"node_2", "primary"}, {"node_1", "secondary"}}, 45000), 0)
        << lab.state_dump();
    sleep_ms(500);
    watch.stop();
    long old_last_200 = -1, old_first_503 = -1, new_first_200 = -1;
    bool both = false;
    for (const auto& s : watch.samples()) {
      if (s.s1 == 200 && s.s2 == 200) both = true;
      if (s.s1 == 200) old_last_200 = s.t_ms;
      if (s.t_ms > started && s.s1 == 503 && old_first_503 < 0 && s.t_ms > old_last_200)
        old_first_503 = s.t_ms;
      if (s.s2 == 200 && new_first_200 < 0) new_first_200 = s.t_ms;
    }
    std::printf(
        "switchover (perform switchover returned in %ld ms): old primary /primary "
        "200->503 at +%ld ms, new primary 503->200 at +%ld ms after the command; no "
        "writable-primary answer for %ld ms\n",
        switch_ms, old_first_503 - started, new_first_200 - started, new_first_200 - old_last_200);
    EXPECT_FALSE(both) << "two nodes answered 200 on /primary in the same round";
    EXPECT_GT(old_first_503, 0);
    EXPECT_GT(new_first_200, old_last_200);
  }

  /* and back, under 100 held connections per node: no slower */
  {
    ConnectionHolder h({kHttp1, kHttp2}, 100);
    auto t0 = SteadyClock::now();
    auto r = lab.ctl({"perform", "switchover", "--monitor", lab.monitor_uri()});
    const long held_switch_ms = ms_since(t0);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::printf("switchover back with 2x100 held HTTP connections: %ld ms (without: %ld ms)\n",
                held_switch_ms, switch_ms);
    EXPECT_LT(held_switch_ms, 3 * switch_ms + 3000);
  }
  ASSERT_GE(lab.wait_states({{"node_1", "primary"}, {"node_2", "secondary"}}, 45000), 0)
      << lab.state_dump();

  /* isolation: node_1's standby and the monitor go away; its lease runs out */
  auto s = lab.ctl({"stop", "--pgdata", lab.pgdata("node_2")});
  ASSERT_EQ(s.exit_code, 0) << s.output;
  ASSERT_GE(lab.wait_states({{"node_1", "wait_primary"}}, 40000), 0) << lab.state_dump();
  Reply alone = get(kHttp1, "/primary");
  EXPECT_EQ(alone.status, 200) << alone.body;
  s = lab.ctl({"stop", "--pgdata", lab.pgdata("monitor")});
  ASSERT_EQ(s.exit_code, 0) << s.output;
  auto t0 = SteadyClock::now();
  long http_503 = -1, refused = -1;
  while (ms_since(t0) < 10000 && (http_503 < 0 || refused < 0)) {
    if (http_503 < 0 && get(kHttp1, "/primary", 500).status == 503) http_503 = ms_since(t0);
    if (refused < 0 && !can_write(lab, lab.node_port(1))) refused = ms_since(t0);
    sleep_ms(10);
  }
  std::printf(
      "isolated primary: /primary 503 after %ld ms, writes refused after %ld ms "
      "(lease_ms 1500)\n",
      http_503, refused);
  ASSERT_GE(http_503, 0) << lab.log("node_1");
  ASSERT_GE(refused, 0);
  EXPECT_LE(http_503, refused + 100) << "/primary said 200 while writes were refused";
  EXPECT_LT(http_503, 1500 + 500);
  auto left = lab.teardown();
  EXPECT_TRUE(left.empty()) << left.size() << " processes survived the teardown";
}

TEST(Http, BadListenAddressesAreRefusedAtCreateAndConfigSet) {
  REQUIRE_ROOT();
  AgentLab lab(26025);
  /* a port in use */
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(26036);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  auto in_use =
      lab.ctl({"create", "monitor", "--pgdata", lab.pgdata("monitor"), "--pgport", "26025",
               "--auth", "trust", "--no-ssl", "--http-listen", "127.0.0.1:26036"});
  EXPECT_NE(in_use.exit_code, 0);
  EXPECT_NE(in_use.output.find("already in use"), std::string::npos) << in_use.output;
  EXPECT_FALSE(std::filesystem::exists(lab.pgdata("monitor") + "/PG_VERSION"))
      << "nothing is created when an option is refused";
  auto bad = lab.ctl({"create", "monitor", "--pgdata", lab.pgdata("monitor"), "--pgport", "26025",
                      "--auth", "trust", "--no-ssl", "--http-listen", "localhost"});
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("invalid --http-listen"), std::string::npos) << bad.output;
  auto hook = lab.ctl({"create", "postgres", "--pgdata", lab.pgdata("node_1"), "--pgport", "26026",
                       "--monitor", lab.monitor_uri(), "--auth", "trust", "--no-ssl",
                       "--on-state-change", "/nonexistent/hook"});
  EXPECT_NE(hook.exit_code, 0);
  EXPECT_NE(hook.output.find("does not exist"), std::string::npos) << hook.output;
  /* config set on a created monitor */
  auto ok = lab.ctl({"create", "monitor", "--pgdata", lab.pgdata("monitor"), "--pgport", "26025",
                     "--auth", "trust", "--no-ssl"},
                    120000);
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  auto cs = lab.ctl(
      {"config", "set", "--pgdata", lab.pgdata("monitor"), "http.listen", "127.0.0.1:26036"});
  EXPECT_NE(cs.exit_code, 0);
  EXPECT_NE(cs.output.find("already in use"), std::string::npos) << cs.output;
  auto cs2 = lab.ctl(
      {"config", "set", "--pgdata", lab.pgdata("monitor"), "http.listen", "127.0.0.1:99999"});
  EXPECT_NE(cs2.exit_code, 0);
  EXPECT_NE(cs2.output.find("http.listen"), std::string::npos) << cs2.output;
  auto cs3 = lab.ctl(
      {"config", "set", "--pgdata", lab.pgdata("monitor"), "http.listen", "127.0.0.1:26037"});
  EXPECT_EQ(cs3.exit_code, 0) << cs3.output;
  auto get3 = lab.ctl({"config", "get", "--pgdata", lab.pgdata("monitor"), "http.listen"});
  EXPECT_NE(get3.output.find("127.0.0.1:26037"), std::string::npos) << get3.output;
  /* run refuses to start when the port is taken meanwhile */
  sa.sin_port = htons(26037);
  int fd2 = ::socket(AF_INET, SOCK_STREAM, 0);
  ::setsockopt(fd2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ASSERT_EQ(::bind(fd2, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(fd2, 1), 0);
  auto run = lab.ctl({"run", "--pgdata", lab.pgdata("monitor")}, 30000);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("already in use"), std::string::npos) << run.output;
  ::close(fd2);
  ::close(fd);
  auto left = lab.teardown();
  EXPECT_TRUE(left.empty());
}

}  // namespace
}  // namespace pgaf::agent_it
