/*
 * do_commands_test.cpp — the `do` tree (PG_AUTOCTL_DEBUG set) without a server: each command's
 * output on a node whose create stopped before registering (the monitor does not answer), and
 * the reference's exit codes on bad arguments (1), bad configuration (2), bad state (3),
 * Postgres not ready (4), monitor unreachable (6).
 */
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli_runner.hpp"

namespace {

namespace fs = std::filesystem;
using pgaf::cli::test::CliResult;

const std::string kDeadMonitor = "postgres://autoctl_node@127.0.0.1:1/pg_auto_failover";

class DoCommands : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgaf-cli-XXXXXX";
    home_ = mkdtemp(tmpl);
    pgdata_ = home_ + "/node";
  }
  void TearDown() override { fs::remove_all(home_); }
  CliResult run_do(const std::string& args, const std::string& env = "") {
    return pgaf::cli::test::run_pg_autoctl("do " + args, home_, "PG_AUTOCTL_DEBUG=1 " + env);
  }
  /* a node whose files exist but that is not registered (create stops at the dead monitor) */
  void create_node() {
    CliResult r = pgaf::cli::test::run_pg_autoctl(
        "create postgres --pgdata " + pgdata_ + " --monitor " + kDeadMonitor +
            " --auth trust --no-ssl --pgport 26195 --hostname 127.0.0.1",
        home_);
    ASSERT_EQ(r.code, 6) << r.all();
  }
  std::string state_file() const {
    return home_ + "/.local/share/pg_autoctl" + pgdata_ + "/pg_autoctl.state";
  }
  std::string home_, pgdata_;
};

TEST_F(DoCommands, HelpListsTheTree) {
  CliResult h = run_do("--help");
  EXPECT_EQ(h.code, 0);
  for (const char* group :
       {"monitor", "fsm", "primary", "standby", "show", "pgsetup", "pgctl", "service"})
    EXPECT_NE(h.out.find(std::string("  ") + group), std::string::npos) << group << h.out;
  CliResult without = pgaf::cli::test::run_pg_autoctl("do fsm list", home_);
  EXPECT_EQ(without.code, 1) << "no do tree without PG_AUTOCTL_DEBUG";
}

TEST_F(DoCommands, FsmListAndGvShowTheKeeperTable) {
  CliResult l = run_do("fsm list");
  EXPECT_EQ(l.code, 0);
  EXPECT_NE(l.out.find("init -> single: Start as a single node"), std::string::npos) << l.out;
  CliResult gv = run_do("fsm gv");
  EXPECT_EQ(gv.out.rfind("digraph pg_autoctl_fsm {\n", 0), 0u) << gv.out;
  EXPECT_NE(gv.out.find("\"init\" -> \"single\""), std::string::npos) << gv.out;
}

TEST_F(DoCommands, FsmStateAssignInit) {
  EXPECT_EQ(run_do("fsm state --pgdata " + pgdata_).code, 2) << "no configuration yet";
  create_node();
  CliResult s = run_do("fsm state --pgdata " + pgdata_);
  ASSERT_EQ(s.code, 0) << s.all();
  const auto j = nlohmann::json::parse(s.out);
  EXPECT_EQ(j["state"]["current_role"], "init");
  EXPECT_EQ(j["state"]["nodeId"], -1);
  EXPECT_EQ(j["postgres"]["pgdata"], pgdata_);
  EXPECT_EQ(j["postgres"]["port"], 26195);
  /* assign: a known state is written to the state file; anything else is exit 1 */
  CliResult a = run_do("fsm assign single --pgdata " + pgdata_);
  EXPECT_EQ(a.code, 0) << a.all();
  std::ifstream in(state_file());
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_NE(ss.str().find("\"assigned_role\": \"single\""), std::string::npos) << ss.str();
  EXPECT_EQ(run_do("fsm assign nonsense --pgdata " + pgdata_).code, 1);
  EXPECT_EQ(run_do("fsm assign --pgdata " + pgdata_).code, 1) << "state missing";
  EXPECT_EQ(run_do("fsm init --pgdata " + pgdata_).code, 3) << "the state file exists";
  EXPECT_EQ(run_do("fsm nodes set nodes.json --pgdata " + pgdata_).code, 1);
  EXPECT_EQ(run_do("fsm nodes get --pgdata " + pgdata_).code, 6) << "asks the monitor";
  EXPECT_EQ(run_do("fsm step --pgdata " + pgdata_).code, 6) << "the monitor does not answer";
}

TEST_F(DoCommands, MonitorCommands) {
  const std::string payload =
      R"({"type": "state", "formation": "default", "groupId": 0, "nodeId": 2, "name": "node_2",)"
      R"( "host": "127.0.0.1", "port": 26102, "reportedState": "secondary",)"
      R"( "goalState": "secondary", "health":"good"})";
  CliResult p = pgaf::cli::test::run_pg_autoctl(
      std::vector<std::string>{"do", "monitor", "parse-notification", payload}, home_,
      "PG_AUTOCTL_DEBUG=1");
  ASSERT_EQ(p.code, 0) << p.all();
  const auto j = nlohmann::json::parse(p.out);
  EXPECT_EQ(j["nodeId"], 2);
  EXPECT_EQ(j["goalState"], "secondary");
  EXPECT_EQ(run_do("monitor parse-notification {}").code, 1);
  EXPECT_EQ(run_do("monitor parse-notification").code, 1);
  EXPECT_EQ(run_do("monitor version --monitor " + kDeadMonitor).code, 6);
  EXPECT_EQ(run_do("monitor get primary --monitor " + kDeadMonitor).code, 6);
  CliResult coord = run_do("monitor get coordinator --monitor " + kDeadMonitor);
  EXPECT_EQ(coord.code, 1) << "no Citus here, refused before asking";
  EXPECT_NE(coord.all().find("Citus"), std::string::npos) << coord.all();
  create_node();
  EXPECT_EQ(run_do("monitor register nonsense --pgdata " + pgdata_).code, 1);
  EXPECT_EQ(run_do("monitor register init --pgdata " + pgdata_).code, 6);
}

TEST_F(DoCommands, ShowNetwork) {
  CliResult ip = run_do("show ipaddr");
  EXPECT_EQ(ip.code, 0) << ip.all();
  EXPECT_EQ(ip.out, "127.0.0.1\n");
  CliResult cidr = run_do("show cidr");
  EXPECT_EQ(cidr.out, "127.0.0.0/8\n") << cidr.all();
  CliResult lookup = run_do("show lookup localhost");
  EXPECT_EQ(lookup.code, 0);
  EXPECT_NE(lookup.out.find("127.0.0.1"), std::string::npos) << lookup.out;
  EXPECT_EQ(run_do("show reverse not-an-address").code, 1);
  EXPECT_EQ(run_do("show lookup").code, 1) << "hostname missing";
  EXPECT_EQ(run_do("show hostname").code, 0);
}

TEST_F(DoCommands, PgsetupAndLocalCommands) {
  create_node();
  CliResult pgctl = run_do("pgsetup pg_ctl --pgdata " + pgdata_);
  EXPECT_EQ(pgctl.code, 0) << pgctl.all();
  EXPECT_EQ(pgctl.out.rfind("Found pg_ctl for PostgreSQL 15", 0), 0u) << pgctl.out;
  CliResult disc = run_do("pgsetup discover --json --pgdata " + pgdata_);
  ASSERT_EQ(disc.code, 0) << disc.all();
  EXPECT_EQ(nlohmann::json::parse(disc.out)["pgdata"], pgdata_);
  EXPECT_EQ(run_do("pgsetup ready --pgdata " + pgdata_).code, 4) << "Postgres is not running";
  CliResult tune = run_do("pgsetup tune --pgdata " + pgdata_);
  EXPECT_NE(tune.out.find("wal_level = 'replica'"), std::string::npos) << tune.out;
  EXPECT_NE(run_do("pgsetup logs --pgdata " + pgdata_).code, 0) << "no startup log yet";
  EXPECT_EQ(run_do("service getpid postgres --pgdata " + pgdata_).code, 3) << "not running";
  EXPECT_EQ(run_do("service restart postgres --pgdata " + pgdata_).code, 3);
  EXPECT_EQ(run_do("pgctl --pgdata " + pgdata_).code, 1) << "on or off is required";
  EXPECT_EQ(run_do("primary slot create --pgdata " + pgdata_).code, 1) << "slot name missing";
  EXPECT_EQ(run_do("standby init 127.0.0.1 notaport --pgdata " + pgdata_).code, 1);
  EXPECT_EQ(run_do("primary identify 127.0.0.1 0 --pgdata " + pgdata_).code, 1);
}

}  // namespace
