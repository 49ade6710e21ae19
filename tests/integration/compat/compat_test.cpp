/*
 * compat_test.cpp — a pg_auto_failover user's habits against pgaf, on 127.0.0.1 with real
 * PostgreSQL 15 and the real monitor: only the reference's commands and options, their outputs
 * and exit codes.
 *
 * Ports: 26100-26199, one block of 10 per test.
 */
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "agent_lab.hpp"
#include "golden.hpp"

namespace pgaf::agent_it {
namespace {

#define REQUIRE_ROOT()                                                            \
  do {                                                                            \
    if (geteuid() != 0) GTEST_SKIP() << "needs root (runs Postgres as postgres)"; \
  } while (0)

/* What a Postgres server answers to a startup packet (protocol 3.0, no SSL) from a client bound
 * to `source` (an address of this host): "ok" (AuthenticationOk), or the server's error text.
 * libpq cannot choose its source address, hence this small client. */
std::string startup_from(const std::string& source, int port, const std::string& user,
                         const std::string& db) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "socket failed";
  sockaddr_in src{};
  src.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &src.sin_addr);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
    ::close(fd);
    return std::string("connect failed: ") + std::strerror(errno);
  }
  std::string body;
  const uint32_t proto = htonl(196608);
  body.append(reinterpret_cast<const char*>(&proto), 4);
  for (const std::string& kv : {std::string("user"), user, std::string("database"), db}) {
    body += kv;
    body.push_back('\0');
  }
  body.push_back('\0');
  const uint32_t len = htonl(static_cast<uint32_t>(body.size() + 4));
  std::string msg(reinterpret_cast<const char*>(&len), 4);
  msg += body;
  (void)!::write(fd, msg.data(), msg.size());
  char buf[1024] = {};
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n < 9) return "no answer";
  if (buf[0] == 'R') {
    uint32_t code = 0;
    std::memcpy(&code, buf + 5, 4);
    return ntohl(code) == 0 ? "ok" : "authentication requested";
  }
  /* 'E': fields (type byte, text) — keep the message field 'M' */
  for (ssize_t i = 5; i < n; ++i) {
    if (buf[i] == 'M') return std::string(buf + i + 1);
    while (i < n && buf[i] != '\0') ++i;
  }
  return "error";
}

TEST(Compat, PgHbaLanAdmitsTheNodesNetwork) {
  REQUIRE_ROOT();
  AgentLab lab(26100);
  lab.start_monitor();
  lab.start_node("node_1", 1, {"--pg-hba-lan"});
  ASSERT_GE(lab.wait_states({{"node_1", "single"}}, 60000), 0) << lab.state_dump();
  /* 127.0.0.2 is on the node's network (127.0.0.0/8) but matches no rule initdb wrote.
   * "the database system is starting up" is retried, bounded, as a client would: when the agent
   * is not scheduled for longer than its lease (lease_ms - fence_guard_ms = 1.2 s; seen once on a
   * loaded CI machine) its fence stops Postgres and the next round starts it again, while the
   * monitor still shows "single" (reproduced by SIGSTOP of node-active for 1.8 s: "write lease
   * expired … fencing PostgreSQL", stop, start 60 ms later). */
  std::string answer;
  for (int i = 0; i < 100; ++i) {
    answer = startup_from("127.0.0.2", lab.node_port(1), "postgres", "postgres");
    if (answer != "the database system is starting up") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(answer, "ok");
  /* the monitor got no such rule for the postgres database: the same client is refused there */
  const std::string refused = startup_from("127.0.0.2", lab.monitor_port(), "postgres", "postgres");
  EXPECT_NE(refused.find("pg_hba.conf"), std::string::npos) << refused;
  const auto left = lab.teardown();
  EXPECT_TRUE(left.empty());
}

/* pg_autoctl with PG_AUTOCTL_DEBUG set (the do tree), quiet logs: stdout is the answer. */
pgaf::test::CommandResult debug_ctl(AgentLab& lab, std::vector<std::string> args,
                                    int timeout_ms = 60000) {
  auto env = lab.env();
  env["PG_AUTOCTL_DEBUG"] = "1";
  args.insert(args.begin(), {pg_autoctl_bin(), "-q"});
  return pgaf::test::run_command(args, env, timeout_ms, true);
}

/* Whether <name>.log contains `text` within timeout_ms (the services write their logs
 * asynchronously). */
bool log_shows_within(AgentLab& lab, const std::string& name, const std::string& text,
                      int timeout_ms) {
  for (int waited = 0; waited <= timeout_ms; waited += 100) {
    if (lab.log(name).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

/* `do fsm state` until it answers (create has written its files), at most 5 s: its exit code. */
int wait_for_state_file(AgentLab& lab, const std::string& node) {
  int rc = -1;
  for (int i = 0; i < 100 && rc != 0; ++i) {
    rc = debug_ctl(lab, {"do", "fsm", "state", "--pgdata", lab.pgdata(node)}).exit_code;
    if (rc != 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return rc;
}

/* A reference user's script: create in the background, wait with do pgsetup wait, read the
 * state file with do fsm state, then operate the formation with the reference's commands. */
TEST(Compat, ReferenceScriptOnALiveFormation) {
  REQUIRE_ROOT();
  AgentLab lab(26110);
  lab.start_monitor();
  lab.start_node("node_1", 1);
  /* the state file exists as soon as create has started (before it registers) */
  EXPECT_EQ(wait_for_state_file(lab, "node_1"), 0);
  auto wait = debug_ctl(lab, {"do", "pgsetup", "wait", "--pgdata", lab.pgdata("node_1")});
  EXPECT_EQ(wait.exit_code, 0) << wait.output;
  EXPECT_NE(wait.output.find("Postgres status is: \"ready\""), std::string::npos) << wait.output;
  ASSERT_GE(lab.wait_states({{"node_1", "single"}}, 60000), 0) << lab.state_dump();
  auto st = debug_ctl(lab, {"do", "fsm", "state", "--pgdata", lab.pgdata("node_1")});
  ASSERT_EQ(st.exit_code, 0) << st.output;
  const auto js = nlohmann::json::parse(st.output);
  EXPECT_EQ(js["state"]["current_role"], "single") << st.output;
  EXPECT_GT(js["postgres"]["pid"].get<long>(), 0) << st.output;
  EXPECT_EQ(debug_ctl(lab, {"do", "pgsetup", "ready", "--pgdata", lab.pgdata("node_1")}).exit_code,
            0);
  auto version = debug_ctl(lab, {"do", "monitor", "version", "--pgdata", lab.pgdata("node_1")});
  EXPECT_EQ(version.exit_code, 0) << version.output;
  EXPECT_EQ(version.output, "2.2\n");
  auto primary =
      debug_ctl(lab, {"do", "monitor", "get", "primary", "--pgdata", lab.pgdata("node_1")});
  EXPECT_NE(primary.output.find("\"node_name\": \"node_1\""), std::string::npos) << primary.output;
  EXPECT_EQ(debug_ctl(lab, {"do", "primary", "slot", "create", "compat_slot", "--pgdata",
                            lab.pgdata("node_1")})
                .exit_code,
            0);
  pgaf::test::PgConnection c(lab.conninfo(lab.node_port(1)) + " user=postgres");
  EXPECT_EQ(c.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = 'compat_slot'").size(),
            1u);
  EXPECT_EQ(debug_ctl(lab, {"do", "primary", "slot", "drop", "compat_slot", "--pgdata",
                            lab.pgdata("node_1")})
                .exit_code,
            0);
  EXPECT_EQ(c.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = 'compat_slot'").size(),
            0u);
  auto pid =
      debug_ctl(lab, {"do", "service", "getpid", "postgres", "--pgdata", lab.pgdata("node_1")});
  EXPECT_EQ(pid.exit_code, 0) << pid.output;
  EXPECT_GT(std::atol(pid.output.c_str()), 0) << pid.output;
  /* the monitor's listener service logs every notification, as the reference's monitor does;
   * what happens before it LISTENs is missed (as in the reference), so node_2 starts after */
  auto lpid =
      debug_ctl(lab, {"do", "service", "getpid", "listener", "--pgdata", lab.pgdata("monitor")});
  EXPECT_EQ(lpid.exit_code, 0) << lpid.output;
  EXPECT_GT(std::atol(lpid.output.c_str()), 0) << lpid.output;
  EXPECT_TRUE(log_shows_within(lab, "monitor", "Contacting the monitor to LISTEN", 10000))
      << lab.log("monitor");
  /* do show version: the binary on disk, asked for its version --json */
  EXPECT_EQ(debug_ctl(lab, {"do", "show", "version"}).exit_code, 0);
  /* do pgctl off|on: through the postgres service, bounded; the node serves again after "on" */
  auto off = debug_ctl(lab, {"do", "pgctl", "off", "--pgdata", lab.pgdata("node_1")});
  EXPECT_EQ(off.exit_code, 0) << off.output;
  auto on = debug_ctl(lab, {"do", "pgctl", "on", "--json", "--pgdata", lab.pgdata("node_1")});
  EXPECT_EQ(on.exit_code, 0) << on.output;
  EXPECT_NE(on.output.find("\"pgdata\""), std::string::npos) << on.output;
  EXPECT_EQ(debug_ctl(lab, {"do", "pgsetup", "ready", "--pgdata", lab.pgdata("node_1")}).exit_code,
            0);

  /* a second node; the reference's show state --json keys */
  lab.start_node("node_2", 2);
  ASSERT_GE(lab.wait_states({{"node_1", "primary"}, {"node_2", "secondary"}}, 90000), 0)
      << lab.state_dump();
  EXPECT_TRUE(log_shows_within(lab, "monitor", "New state for node 2 \"node_2\"", 10000))
      << lab.log("monitor");
  auto state = lab.ctl({"-q", "show", "state", "--json", "--pgdata", lab.pgdata("node_1")});
  ASSERT_EQ(state.exit_code, 0) << state.output;
  const auto rows = nlohmann::json::parse(state.output);
  ASSERT_EQ(rows.size(), 2u);
  for (const char* key : {"nodename", "nodehost", "nodeport", "current_group_state",
                          "assigned_group_state", "reported_lsn"})
    EXPECT_TRUE(rows[0].contains(key)) << key;
  /* number-sync-standbys 0 and back: settles on primary or wait_primary within --wait */
  auto nss = lab.ctl({"-q", "set", "formation", "number-sync-standbys", "--pgdata",
                      lab.pgdata("node_1"), "--wait", "30", "0"});
  EXPECT_EQ(nss.exit_code, 0) << nss.output;
  /* metadata through the reference's command */
  auto meta = lab.ctl(
      {"-q", "set", "node", "metadata", "--pgdata", lab.pgdata("node_2"), "--name", "renamed_2"});
  EXPECT_EQ(meta.exit_code, 0) << meta.output;
  auto after = lab.ctl({"-q", "show", "state", "--json", "--pgdata", lab.pgdata("node_1")});
  EXPECT_NE(after.output.find("renamed_2"), std::string::npos) << after.output;
  auto settings = lab.ctl({"-q", "get", "formation", "settings", "--pgdata", lab.pgdata("node_1")});
  EXPECT_EQ(settings.exit_code, 0) << settings.output;
  EXPECT_NE(settings.output.find("number_sync_standbys"), std::string::npos) << settings.output;
  auto check = lab.ctl({"-q", "config", "check", "--pgdata", lab.pgdata("node_1")});
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_NE(check.output.find("Monitor is running version \"2.2\""), std::string::npos)
      << check.output;
  const auto left = lab.teardown();
  EXPECT_TRUE(left.empty());
}

/* Output with what changes from run to run replaced: LSNs, timeline numbers, times, pids. */
std::string normalized(std::string text) {
  static const std::vector<std::pair<std::regex, std::string>> subs = {
      {std::regex(R"([0-9A-F]+/[0-9A-F]+)"), "<LSN>"},
      {std::regex(R"(\d{4}-\d{2}-\d{2}[ T][0-9:.+-]+)"), "<TIME>"},
      {std::regex(R"(\d+: <LSN>)"), "<TLI>: <LSN>"},
      {std::regex(R"("reported_tli": \d+)"), "\"reported_tli\": <TLI>"},
      /* health is unknown until the monitor's first check: not part of the format */
      {std::regex(R"("health": -?\d+)"), "\"health\": <HEALTH>"},
      {std::regex(R"(( *)(read-write|read-only|none) [?!])"), "  $1$2"},
  };
  for (const auto& [re, with] : subs) text = std::regex_replace(text, re, with);
  return text;
}

/* do service pgcontroller: the supervisor with its Postgres controller only; Postgres follows
 * do pgctl on|off; the pid file names the postgres service; SIGTERM stops both. */
TEST(Compat, PgcontrollerRunsPostgresAsDoPgctlSays) {
  REQUIRE_ROOT();
  AgentLab lab(26130);
  const std::string pgdata = lab.pgdata("monitor");
  auto create = lab.ctl({"create", "monitor", "--pgdata", pgdata, "--pgport", "26130", "--hostname",
                         "127.0.0.1", "--listen", "127.0.0.1", "--auth", "trust", "--no-ssl"},
                        120000);
  ASSERT_EQ(create.exit_code, 0) << create.output;
  const pid_t sup = lab.spawn("pgcontroller", {"do", "service", "pgcontroller", "--pgdata", pgdata},
                              {{"PG_AUTOCTL_DEBUG", "1"}});
  /* a monitor's controller starts Postgres at once; do pgsetup wait is bounded */
  auto wait = debug_ctl(lab, {"do", "pgsetup", "wait", "--pgdata", pgdata});
  EXPECT_EQ(wait.exit_code, 0) << wait.output << lab.log("pgcontroller");
  auto pid = debug_ctl(lab, {"do", "service", "getpid", "postgres", "--pgdata", pgdata});
  EXPECT_EQ(pid.exit_code, 0) << pid.output;
  EXPECT_EQ(std::atol(pid.output.c_str()), static_cast<long>(sup)) << pid.output;
  EXPECT_EQ(debug_ctl(lab, {"do", "pgctl", "off", "--pgdata", pgdata}).exit_code, 0);
  EXPECT_EQ(debug_ctl(lab, {"do", "pgsetup", "ready", "--pgdata", pgdata}).exit_code, 4)
      << "stopped by do pgctl off, and no keeper to start it again";
  EXPECT_EQ(debug_ctl(lab, {"do", "pgctl", "on", "--pgdata", pgdata}).exit_code, 0);
  EXPECT_EQ(debug_ctl(lab, {"do", "pgsetup", "ready", "--pgdata", pgdata}).exit_code, 0);
  lab.kill_group(sup, SIGTERM);
  int status = 0;
  EXPECT_TRUE(lab.wait_exit(sup, 30000, &status)) << lab.log("pgcontroller");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(debug_ctl(lab, {"do", "pgsetup", "ready", "--pgdata", pgdata}).exit_code, 4);
  const auto left = lab.teardown();
  EXPECT_TRUE(left.empty());
}

/* Three nodes on loopback driven only with the reference's commands and options, checking their
 * outputs (golden files for show state / settings / events) and exit codes. */
TEST(Compat, ThreeNodesWithReferenceCommandsOnly) {
  REQUIRE_ROOT();
  AgentLab lab(26120);
  lab.start_monitor();
  lab.start_node("node_1", 1, {"--pg-hba-lan"});
  ASSERT_EQ(wait_for_state_file(lab, "node_1"), 0);
  EXPECT_EQ(debug_ctl(lab, {"do", "pgsetup", "wait", "--pgdata", lab.pgdata("node_1")}).exit_code,
            0);
  ASSERT_GE(lab.wait_states({{"node_1", "single"}}, 60000), 0) << lab.state_dump();
  /* one after the other, so that node ids follow names (the golden files list them) */
  lab.start_node("node_2", 2, {"--pg-hba-lan"});
  ASSERT_GE(lab.wait_states({{"node_1", "primary"}, {"node_2", "secondary"}}, 120000), 0)
      << lab.state_dump();
  lab.start_node("node_3", 3, {"--pg-hba-lan"});
  ASSERT_GE(lab.wait_states(
                {{"node_1", "primary"}, {"node_2", "secondary"}, {"node_3", "secondary"}}, 120000),
            0)
      << lab.state_dump();
  for (const char* n : {"node_2", "node_3"}) {
    auto st = debug_ctl(lab, {"do", "fsm", "state", "--pgdata", lab.pgdata(n)});
    ASSERT_EQ(st.exit_code, 0) << st.output;
    EXPECT_EQ(nlohmann::json::parse(st.output)["state"]["current_role"], "secondary") << st.output;
  }
  const auto node1 = lab.pgdata("node_1");
  auto show = lab.ctl({"-q", "show", "state", "--pgdata", node1});
  EXPECT_EQ(show.exit_code, 0);
  pgaf::compat::expect_golden_file("show_state.txt", normalized(show.output));
  auto show_json = lab.ctl({"-q", "show", "state", "--json", "--pgdata", node1});
  pgaf::compat::expect_golden_file("show_state.json", normalized(show_json.output));
  auto settings = lab.ctl({"-q", "show", "settings", "--pgdata", node1});
  pgaf::compat::expect_golden_file("show_settings.txt", normalized(settings.output));
  auto settings_json = lab.ctl({"-q", "show", "settings", "--json", "--pgdata", node1});
  pgaf::compat::expect_golden_file("show_settings.json", normalized(settings_json.output));
  auto events = lab.ctl({"-q", "show", "events", "--count", "3", "--json", "--pgdata", node1});
  ASSERT_EQ(events.exit_code, 0) << events.output;
  const auto ev = nlohmann::json::parse(events.output);
  ASSERT_EQ(ev.size(), 3u) << events.output;
  for (const char* key :
       {"eventtime", "nodeid", "nodename", "reportedstate", "goalstate", "description"})
    EXPECT_TRUE(ev[0].contains(key)) << key << ": " << events.output;

  /* maintenance: a standby goes and comes back; the primary needs --allow-failover (exit 1) */
  auto r = lab.ctl({"enable", "maintenance", "--pgdata", lab.pgdata("node_3"), "--wait", "30"});
  EXPECT_EQ(r.exit_code, 0) << r.output << lab.state_dump();
  r = lab.ctl({"disable", "maintenance", "--pgdata", lab.pgdata("node_3"), "--wait", "30"});
  EXPECT_EQ(r.exit_code, 0) << r.output << lab.state_dump();
  r = lab.ctl({"enable", "maintenance", "--pgdata", node1});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  ASSERT_GE(lab.wait_states(
                {{"node_1", "primary"}, {"node_2", "secondary"}, {"node_3", "secondary"}}, 60000),
            0)
      << lab.state_dump();

  /* number-sync-standbys: 2 needs three quorum standbys (refused, nothing changes); 0 and back
   * to 1 settle within --wait */
  r = lab.ctl({"set", "formation", "number-sync-standbys", "--pgdata", node1, "--wait", "30", "2"});
  EXPECT_EQ(r.exit_code, 6) << r.output; /* the reference's EXIT_CODE_MONITOR */
  EXPECT_NE(r.output.find("Failed to set \"number-sync-standbys\" to \"2\"."), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("number_sync_standbys"), std::string::npos) << r.output;
  r = lab.ctl({"set", "formation", "number-sync-standbys", "--pgdata", node1, "--wait", "30", "0"});
  EXPECT_EQ(r.exit_code, 0) << r.output << lab.state_dump();
  auto nss = lab.ctl({"-q", "get", "formation", "number-sync-standbys", "--pgdata", node1});
  EXPECT_EQ(nss.output, "0\n");
  r = lab.ctl({"set", "formation", "number-sync-standbys", "--pgdata", node1, "--wait", "30", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.output << lab.state_dump();
  auto names = lab.ctl({"-q", "show", "standby-names", "--pgdata", node1});
  EXPECT_EQ(names.output, "'ANY 1 (pgautofailover_standby_2, pgautofailover_standby_3)'\n");

  /* failover: one of the standbys becomes the primary */
  r = lab.ctl({"perform", "failover", "--pgdata", node1, "--wait", "60"});
  EXPECT_EQ(r.exit_code, 0) << r.output << lab.state_dump();
  std::string new_primary;
  for (const auto& n : lab.nodes())
    if (n.goal == "primary" || n.goal == "wait_primary") new_primary = n.name;
  EXPECT_TRUE(new_primary == "node_2" || new_primary == "node_3") << lab.state_dump();

  /* drop node --destroy of the old primary: exit 0, its PGDATA is gone */
  r = lab.ctl({"drop", "node", "--destroy", "--pgdata", node1, "--wait", "60"}, 120000);
  EXPECT_EQ(r.exit_code, 0) << r.output << lab.state_dump();
  struct stat sb;
  EXPECT_NE(::stat(node1.c_str(), &sb), 0) << "PGDATA of the dropped node still exists";
  auto after = lab.ctl({"-q", "show", "state", "--json", "--pgdata", lab.pgdata("node_2")});
  EXPECT_EQ(after.output.find("node_1"), std::string::npos) << after.output;
  const auto left = lab.teardown();
  EXPECT_TRUE(left.empty());
}

}  // namespace
}  // namespace pgaf::agent_it
