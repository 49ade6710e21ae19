/*
 * http_endpoint_test.cpp — node_snapshot.hpp's answers (snapshot -> HTTP status), metrics.hpp's
 * Prometheus text (read back with the test parser, tests/support prom_text.hpp), and
 * http_endpoint.hpp's listen checks and live server: 100 held-open connections do not delay a
 * loop that publishes snapshots, and requests are still answered. Ports 26010-26019.
 */
#include "pgaf/agent/http_endpoint.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "pgaf/agent/metrics.hpp"
#include "pgaf/agent/node_snapshot.hpp"
#include "pgaf/test/prom_text.hpp"

namespace {

using namespace pgaf;
using namespace pgaf::agent;

NodeSnapshot writable_primary(TimeMs now) {
  NodeSnapshot s;
  s.valid = true;
  s.formation = "default";
  s.name = "node_1";
  s.host = "10.0.0.1";
  s.port = 5432;
  s.state.node_id = 1;
  s.state.group_id = 0;
  s.state.current_role = NodeState::Primary;
  s.state.assigned_role = NodeState::Primary;
  s.pg.running = true;
  s.pg.tli = 3;
  s.pg.lsn = 0x3000060;
  s.lease_expires_at_ms = now + 800;
  s.writes_enabled = true;
  s.last_monitor_ok_ms = now - 200;
  s.published_ms = now - 100;
  return s;
}

NodeSnapshot streaming_secondary() {
  NodeSnapshot s;
  s.valid = true;
  s.state.current_role = NodeState::Secondary;
  s.state.assigned_role = NodeState::Secondary;
  s.pg.running = true;
  s.pg.in_recovery = true;
  s.pg.wal_receiver_active = true;
  s.lag_bytes = 1024;
  return s;
}

TEST(HttpAnswers, PrimaryIs200OnlyWhileWritableAndHoldingTheLease) {
  const TimeMs now = 100000;
  NodeSnapshot s = writable_primary(now);
  EXPECT_EQ(answer_request(s, now, "/primary", {}).status, 200);
  EXPECT_EQ(answer_request(s, now + 799, "/primary", {}).status, 200);
  /* the lease runs out while the keeper is silent: 503 at once, judged at request time */
  auto late = answer_request(s, now + 800, "/primary", {});
  EXPECT_EQ(late.status, 503);
  EXPECT_NE(late.body.find("lease"), std::string::npos) << late.body;
  for (auto mutate : std::vector<std::function<void(NodeSnapshot&)>>{
           [](NodeSnapshot& x) { x.fenced = true; },
           [](NodeSnapshot& x) { x.writes_enabled = false; },
           [](NodeSnapshot& x) { x.pg.read_only = true; },
           [](NodeSnapshot& x) { x.pg.in_recovery = true; },
           [](NodeSnapshot& x) { x.pg.running = false; },
           [](NodeSnapshot& x) { x.state.current_role = NodeState::Draining; },
           [](NodeSnapshot& x) { x.state.current_role = NodeState::DemoteTimeout; },
           [](NodeSnapshot& x) { x.valid = false; }, [](NodeSnapshot& x) { x.monitor_role = true; },
           [](NodeSnapshot& x) { x.lease_expires_at_ms = -1; }}) {
    NodeSnapshot t = writable_primary(now);
    mutate(t);
    EXPECT_EQ(answer_request(t, now, "/primary", {}).status, 503) << state_json(t);
  }
  /* every writable state counts */
  for (NodeState w : {NodeState::Single, NodeState::WaitPrimary, NodeState::JoinPrimary,
                      NodeState::ApplySettings}) {
    NodeSnapshot t = writable_primary(now);
    t.state.current_role = w;
    EXPECT_EQ(answer_request(t, now, "/primary", {}).status, 200) << to_string(w);
  }
  EXPECT_EQ(answer_request(s, now, "/replica", {}).status, 503);
}

TEST(HttpAnswers, ReplicaHonoursTheLagBound) {
  NodeSnapshot s = streaming_secondary();
  EXPECT_EQ(answer_request(s, 0, "/replica", {}).status, 200);
  EXPECT_EQ(answer_request(s, 0, "/replica", {{"lag", "16MB"}}).status, 200);
  EXPECT_EQ(answer_request(s, 0, "/replica", {{"lag", "1kB"}}).status, 200);
  EXPECT_EQ(answer_request(s, 0, "/replica", {{"lag", "1023"}}).status, 503);
  s.lag_bytes = -1; /* unknown lag fails a bounded check, passes an unbounded one */
  EXPECT_EQ(answer_request(s, 0, "/replica", {{"lag", "16MB"}}).status, 503);
  EXPECT_EQ(answer_request(s, 0, "/replica", {}).status, 200);
  auto bad = answer_request(s, 0, "/replica", {{"lag", "16 parsecs"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("lag"), std::string::npos);
  s.pg.wal_receiver_active = false;
  EXPECT_EQ(answer_request(s, 0, "/replica", {}).status, 503);
  EXPECT_EQ(answer_request(s, 0, "/primary", {}).status, 503);
}

TEST(HttpAnswers, HealthStateAndUnknownPaths) {
  NodeSnapshot s = streaming_secondary();
  EXPECT_EQ(answer_request(s, 0, "/health", {}).status, 200);
  s.pg.running = false;
  EXPECT_EQ(answer_request(s, 0, "/health", {}).status, 503);
  EXPECT_EQ(answer_request(s, 0, "/nope", {}).status, 404);
  const TimeMs now = 5000;
  auto st = answer_request(writable_primary(now), now, "/state", {});
  EXPECT_EQ(st.status, 200);
  /* the keys of `pg_autoctl show state --json` */
  for (const char* k :
       {"\"nodename\"", "\"nodehost\"", "\"nodeport\"", "\"group_id\"", "\"node_id\"",
        "\"current_group_state\"", "\"assigned_group_state\"", "\"candidate_priority\"",
        "\"replication_quorum\"", "\"reported_tli\"", "\"reported_lsn\"", "\"health\""})
    EXPECT_NE(st.body.find(k), std::string::npos) << k;
  EXPECT_NE(st.body.find("\"0/3000060\""), std::string::npos) << st.body;
}

TEST(HttpAnswers, SizesParseAsPostgresWritesThem) {
  EXPECT_EQ(*parse_size_bytes("16MB"), 16 * 1024 * 1024);
  EXPECT_EQ(*parse_size_bytes("16mb"), 16 * 1024 * 1024);
  EXPECT_EQ(*parse_size_bytes("0"), 0);
  EXPECT_EQ(*parse_size_bytes("2GB"), 2LL * 1024 * 1024 * 1024);
  EXPECT_FALSE(parse_size_bytes("").ok());
  EXPECT_FALSE(parse_size_bytes("-1MB").ok());
  EXPECT_FALSE(parse_size_bytes("MB").ok());
  EXPECT_FALSE(parse_size_bytes("99999999999999999TB").ok());
}

TEST(Metrics, NodeMetricsParseAndCarryTheDocumentedNames) {
  const TimeMs now = 100000;
  NodeSnapshot s = writable_primary(now);
  s.name = "node \"1\"\\x"; /* escaped in labels */
  s.transitions = 4;
  s.promotions = 1;
  auto text = pgaf::test::parse_prometheus_text(node_metrics(s, now));
  const std::map<std::string, std::string> me = {{"name", "node \"1\"\\x"}, {"node_id", "1"}};
  EXPECT_EQ(text.value("pgaf_primary", me), 1);
  EXPECT_EQ(text.value("pgaf_postgres_running", me), 1);
  EXPECT_EQ(text.value("pgaf_timeline", me), 3);
  EXPECT_EQ(text.value("pgaf_wal_lsn_bytes", me), static_cast<double>(0x3000060));
  EXPECT_DOUBLE_EQ(text.value("pgaf_lease_remaining_seconds", me), 0.8);
  EXPECT_DOUBLE_EQ(text.value("pgaf_monitor_last_report_age_seconds", me), 0.2);
  EXPECT_EQ(text.value("pgaf_state_transitions_total", me), 4);
  EXPECT_EQ(text.value("pgaf_promotions_total", me), 1);
  EXPECT_EQ(text.families.at("pgaf_state_transitions_total").type, "counter");
  EXPECT_EQ(text.value("pgaf_node_state", {{"state", "primary"}}), 1);
  EXPECT_EQ(text.value("pgaf_node_state", {{"state", "secondary"}}), 0);
  EXPECT_EQ(text.value("pgaf_node_assigned_state", {{"state", "primary"}}), 1);
  EXPECT_TRUE(text.find("pgaf_replication_lag_bytes").empty()) << "a primary has no lag";
  /* a standby that never reached the monitor */
  NodeSnapshot t = streaming_secondary();
  auto t2 = pgaf::test::parse_prometheus_text(node_metrics(t, now));
  EXPECT_EQ(t2.value("pgaf_replication_lag_bytes"), 1024);
  EXPECT_TRUE(std::isinf(t2.value("pgaf_monitor_last_report_age_seconds")));
  EXPECT_EQ(t2.value("pgaf_primary"), 0);
  /* after the lease ran out */
  EXPECT_EQ(pgaf::test::parse_prometheus_text(node_metrics(s, now + 900))
                .value("pgaf_lease_remaining_seconds", me),
            0);
}

TEST(Metrics, MonitorMetricsParse) {
  MonitorTables t;
  t.nodes.push_back({"default", "node_1", 1, 0, "primary", "primary", 1, true, 0.25});
  t.nodes.push_back({"default", "node_2", 2, 0, "secondary", "secondary", 0, false, 7.5});
  t.events[{"default", "primary"}] = 3;
  t.events[{"default", "secondary"}] = 5;
  auto p = pgaf::test::parse_prometheus_text(monitor_metrics(t));
  EXPECT_EQ(p.value("pgaf_monitor_nodes"), 2);
  EXPECT_EQ(
      p.value("pgaf_monitor_node_reported_state", {{"name", "node_2"}, {"state", "secondary"}}), 1);
  EXPECT_EQ(p.value("pgaf_monitor_node_health", {{"name", "node_2"}}), 0);
  EXPECT_DOUBLE_EQ(p.value("pgaf_monitor_node_last_report_age_seconds", {{"name", "node_2"}}), 7.5);
  EXPECT_EQ(p.value("pgaf_monitor_events_total", {{"goal_state", "secondary"}}), 5);
  EXPECT_EQ(p.families.at("pgaf_monitor_events_total").type, "counter");
}

TEST(PromTextParser, RejectsMalformedExpositions) {
  using pgaf::test::parse_prometheus_text;
  EXPECT_NO_THROW(parse_prometheus_text("# TYPE a gauge\na 1\na{x=\"y\"} 2 1700000000\n"));
  for (const char* bad : {"a 1", /* no final newline */
                          "a{x=\"y} 1\n", "a{x=y} 1\n", "a{x=\"1\",x=\"2\"} 1\n", "1a 1\n",
                          "a one\n", "a 1 2 3\n", "a 1\na 2\n", "a{x=\"\\q\"} 1\n",
                          "a 1\n# TYPE a gauge\n", "# TYPE a gauge\n# TYPE a gauge\n",
                          "# TYPE a thing\n", "a{} 1x\n", "a{x=\"1\" y=\"2\"} 1\n"}) {
    EXPECT_THROW(parse_prometheus_text(bad), pgaf::test::PromParseError) << bad;
  }
}

TEST(ListenAddress, ParsesAndRejectsNamingTheProblem) {
  auto a = parse_listen_address("127.0.0.1:8008");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8008);
  auto b = parse_listen_address("[::1]:9");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  for (const char* bad : {"", "8008", "127.0.0.1", "127.0.0.1:", ":8008", "127.0.0.1:0",
                          "127.0.0.1:65536", "127.0.0.1:80x", "::1:8008", "[::1]8008", "a b:1"}) {
    auto r = parse_listen_address(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_FALSE(r.error().hint.empty()) << bad;
    }
  }
}

int listen_on(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 4) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/* One GET over a fresh connection; the status code, or -1. */
int http_status(int port, const std::string& path, std::string* body = nullptr) {
  int fd = connect_to(port);
  if (fd < 0) return -1;
  timeval tv{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  if (::send(fd, req.data(), req.size(), 0) < 0) {
    ::close(fd);
    return -1;
  }
  std::string resp;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) resp.append(buf, static_cast<size_t>(n));
  ::close(fd);
  if (resp.rfind("HTTP/1.1 ", 0) != 0) return -1;
  if (body) *body = resp.substr(resp.find("\r\n\r\n") + 4);
  return std::atoi(resp.c_str() + 9);
}

TEST(ListenAddress, PortInUseAndForeignAddressAreClearErrors) {
  int held = listen_on(26010);
  ASSERT_GE(held, 0);
  auto r = check_listen_available(*parse_listen_address("127.0.0.1:26010"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("already in use"), std::string::npos) << r.error().message;
  HttpEndpoint ep(
      [](const std::string&, const std::map<std::string, std::string>&) { return HttpAnswer{}; },
      1000);
  auto s = ep.start(*parse_listen_address("127.0.0.1:26010"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("already in use"), std::string::npos) << s.error().message;
  ::close(held);
  EXPECT_TRUE(check_listen_available(*parse_listen_address("127.0.0.1:26010")).ok());
  /* TEST-NET-1: never an address of this host */
  auto f = check_listen_available(*parse_listen_address("192.0.2.1:26011"));
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().hint.find("not one of this host's"), std::string::npos) << f.error().hint;
}

TEST(HttpEndpointLive, HundredHeldConnectionsDoNotDelayTheLoop) {
  SnapshotBox box;
  std::atomic<bool> stop{false};
  std::atomic<long> max_gap_us{0};
  std::atomic<long> ticks{0};
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  auto now_ms = [&] {
    return static_cast<TimeMs>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
  };
  HttpEndpoint ep(
      [&](const std::string& path, const std::map<std::string, std::string>& params) {
        return answer_request(box.get(), now_ms(), path, params);
      },
      1000);
  ASSERT_TRUE(ep.start(*parse_listen_address("127.0.0.1:26012")).ok());
  /* a stand-in for the keeper loop: publishes every 10 ms and records its longest gap */
  std::thread loop([&] {
    auto last = Clock::now();
    while (!stop.load()) {
      const TimeMs n = now_ms();
      box.update([&](NodeSnapshot& s) {
        s = writable_primary(n);
        s.published_ms = n;
      });
      ++ticks;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      const auto t = Clock::now();
      const long gap = static_cast<long>(
          std::chrono::duration_cast<std::chrono::microseconds>(t - last).count());
      if (gap > max_gap_us.load()) max_gap_us.store(gap);
      last = t;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(http_status(26012, "/primary"), 200);
  /* 100 clients connect; half send half a request, half nothing, and all hold on */
  std::vector<int> held;
  for (int i = 0; i < 100; ++i) {
    int fd = connect_to(26012);
    ASSERT_GE(fd, 0) << i;
    if (i % 2 == 0) (void)::send(fd, "GET /primary HTTP/1.1\r\n", 23, 0);
    held.push_back(fd);
  }
  const long gap_before = max_gap_us.load();
  const auto q0 = Clock::now();
  std::string body;
  const int status = http_status(26012, "/metrics", &body);
  const long answer_ms = static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - q0).count());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  stop.store(true);
  loop.join();
  for (int fd : held) ::close(fd);
  std::printf(
      "100 held connections: loop max gap %.1f ms (%.1f ms before them, %ld ticks); "
      "/metrics answered in %ld ms\n",
      static_cast<double>(max_gap_us.load()) / 1000.0, static_cast<double>(gap_before) / 1000.0,
      ticks.load(), answer_ms);
  EXPECT_EQ(status, 200);
  EXPECT_NO_THROW(pgaf::test::parse_prometheus_text(body));
  /* the loop sleeps 10 ms; scheduling noise on a busy CI machine stays far below 100 ms */
  EXPECT_LT(max_gap_us.load(), 100000);
  /* held connections are closed after the request timeout (1 s) by 16 workers: a new request
   * waits for the queue ahead of it, about 100 / 16 timeouts */
  EXPECT_LT(answer_ms, 12000);
  ep.stop();
}

}  // namespace
