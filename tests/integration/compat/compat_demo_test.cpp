/*
 * compat_demo_test.cpp — the reference's demo application (`pg_autoctl do demo`, PG_AUTOCTL_DEBUG
 * set) against a monitor and two nodes on 127.0.0.1 with real PostgreSQL 15: `uri` and `ping`
 * reach the primary through the formation URI; `run` with a failover in the middle exits 0, the
 * other node is then the primary, and its summary (and `summary` again) shows both clients with
 * rows inserted and no acknowledged insert missing from the table.
 *
 * Ports: 26280-26289.
 */
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "agent_lab.hpp"

namespace pgaf::agent_it {
namespace {

/* pg_autoctl -q do demo … (PG_AUTOCTL_DEBUG set); -v when `logs` so the test shows them. */
pgaf::test::CommandResult demo(AgentLab& lab, std::vector<std::string> args, bool logs,
                               int timeout_ms = 60000) {
  auto env = lab.env();
  env["PG_AUTOCTL_DEBUG"] = "1";
  args.insert(args.begin(), {pg_autoctl_bin(), logs ? "-v" : "-q", "do", "demo"});
  args.insert(args.end(), {"--monitor", lab.monitor_uri()});
  return pgaf::test::run_command(args, env, timeout_ms, true);
}

struct InsertRow {
  long rows = -1, acked = -1, failed = -1, lost = -1;
};

/* The "Client | Inserts | Acked | Failed | Lost Acked" rows of a summary, by client. */
std::map<int, InsertRow> insert_rows(const std::string& out) {
  static const std::regex re(R"(^ Client (\d+) +\| +(\d+) \| +(\d+) \| +(\d+) \| +(\d+)$)");
  std::map<int, InsertRow> rows;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, re)) {
      rows[std::stoi(m[1])] = {std::stol(m[2]), std::stol(m[3]), std::stol(m[4]), std::stol(m[5])};
    }
  }
  return rows;
}

void expect_no_lost_insert(const std::string& out) {
  const auto rows = insert_rows(out);
  ASSERT_EQ(rows.size(), 2u) << out;
  for (const auto& [client, r] : rows) {
    EXPECT_GT(r.rows, 0) << "client " << client << "\n" << out;
    EXPECT_GT(r.acked, 0) << "client " << client << "\n" << out;
    EXPECT_EQ(r.lost, 0) << "client " << client << "\n" << out;
  }
  EXPECT_NE(out.find(" All Clients Combined "), std::string::npos) << out;
  EXPECT_NE(out.find("Min Connect Time (ms)"), std::string::npos) << out;
}

TEST(CompatDemo, RunWithAFailoverLosesNoAcknowledgedInsert) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (runs Postgres as postgres)";
  AgentLab lab(26280);
  lab.start_monitor();
  lab.start_node("node_1", 1);
  ASSERT_GE(lab.wait_states({{"node_1", "single"}}, 60000), 0) << lab.state_dump();
  lab.start_node("node_2", 2);
  ASSERT_GE(lab.wait_states({{"node_1", "primary"}, {"node_2", "secondary"}}, 120000), 0)
      << lab.state_dump();

  auto uri = demo(lab, {"uri"}, false);
  EXPECT_EQ(uri.exit_code, 0) << uri.output;
  EXPECT_NE(uri.output.find("target_session_attrs=read-write"), std::string::npos) << uri.output;
  EXPECT_NE(uri.output.find(std::to_string(lab.node_port(2))), std::string::npos) << uri.output;

  auto ping = demo(lab, {"ping"}, false);
  EXPECT_EQ(ping.exit_code, 0) << ping.output;
  EXPECT_NE(ping.output.find("127.0.0.1:" + std::to_string(lab.node_port(1))), std::string::npos)
      << ping.output;

  auto run = demo(lab,
                  {"run", "--clients", "2", "--duration", "12", "--first-failover", "4",
                   "--failover-freq", "100"},
                  true, 240000);
  std::cout << run.output << std::endl;
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("pg_autoctl perform failover"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("Demo done after 1 failover(s)"), std::string::npos) << run.output;
  expect_no_lost_insert(run.output);
  /* the failover happened: node_2 is the primary now */
  EXPECT_GE(lab.wait_states({{"node_2", "primary"}, {"node_1", "secondary"}}, 60000), 0)
      << lab.state_dump();

  auto summary = demo(lab, {"summary"}, false);
  EXPECT_EQ(summary.exit_code, 0) << summary.output;
  expect_no_lost_insert(summary.output);

  /* ping now reaches the new primary */
  auto ping2 = demo(lab, {"ping"}, false);
  EXPECT_EQ(ping2.exit_code, 0) << ping2.output;
  EXPECT_NE(ping2.output.find("127.0.0.1:" + std::to_string(lab.node_port(2))), std::string::npos)
      << ping2.output;

  const auto left = lab.teardown();
  EXPECT_TRUE(left.empty());
}

}  // namespace
}  // namespace pgaf::agent_it
