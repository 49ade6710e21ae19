/*
 * monitor_swap_cmd_test.cpp — pg_autoctl disable|enable monitor on a node's files, without a
 * server (the full procedure runs in compat.CompatMonitorSwap): the reference's exit codes, the
 * PG_AUTOCTL_DISABLED value written only when allowed, commands needing a monitor refused
 * clearly while it is disabled, and enable monitor refusing before it contacts anyone.
 */
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "cli_runner.hpp"
#include "pgaf/agent/config.hpp"
#include "pgaf/core/error.hpp"

namespace {

namespace fs = std::filesystem;
using CmdResult = pgaf::cli::test::CliResult;

class MonitorSwapCmd : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgaf-swap-XXXXXX";
    home_ = mkdtemp(tmpl);
    pgdata_ = home_ + "/node";
    fs::create_directories(pgdata_);
    const std::string dir = home_ + "/.config/pg_autoctl" + pgdata_;
    fs::create_directories(dir);
    cfg_path_ = dir + "/pg_autoctl.cfg";
    /* port 1 on loopback: a monitor that is gone (connection refused at once) */
    std::ofstream(cfg_path_) << "[pg_autoctl]\nrole = keeper\n"
                                "monitor = postgres://autoctl_node@127.0.0.1:1/pg_auto_failover\n"
                                "hostname = 127.0.0.1\n[postgresql]\npgdata = "
                             << pgdata_ << "\nport = 26241\n";
    const std::string data = home_ + "/.local/share/pg_autoctl" + pgdata_;
    fs::create_directories(data);
    pgaf::agent::KeeperState st;
    st.node_id = 1;
    st.current_role = st.assigned_role = pgaf::NodeState::Primary;
    ASSERT_TRUE(st.save(data + "/pg_autoctl.state").ok());
  }
  void TearDown() override { fs::remove_all(home_); }
  CmdResult run(const std::string& args) {
    return pgaf::cli::test::run_pg_autoctl(args, home_, "");
  }
  std::string cfg_text() {
    std::ifstream in(cfg_path_);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  std::string home_, pgdata_, cfg_path_;
};

TEST_F(MonitorSwapCmd, DisableNeedsForceWhenTheMonitorIsGone) {
  const std::string before = cfg_text();
  CmdResult r = run("disable monitor --pgdata " + pgdata_);
  EXPECT_EQ(r.code, pgaf::exit_code(pgaf::ErrorCode::Monitor)) << r.all();
  EXPECT_NE(r.all().find("--force"), std::string::npos) << r.all();
  EXPECT_EQ(cfg_text(), before);
  CmdResult f = run("disable monitor --force --pgdata " + pgdata_);
  EXPECT_EQ(f.code, 0) << f.all();
  EXPECT_NE(cfg_text().find("monitor = PG_AUTOCTL_DISABLED\n"), std::string::npos) << cfg_text();
  /* twice: the reference's "monitor disabled is not ok" (bad configuration) */
  EXPECT_EQ(run("disable monitor --force --pgdata " + pgdata_).code, 2);
}

TEST_F(MonitorSwapCmd, CommandsNeedingTheMonitorSayItIsDisabled) {
  ASSERT_EQ(run("disable monitor --force --pgdata " + pgdata_).code, 0);
  for (const char* cmd : {"show state", "enable maintenance", "show events"}) {
    CmdResult r = run(std::string(cmd) + " --pgdata " + pgdata_);
    EXPECT_EQ(r.code, 2) << cmd << ": " << r.all();
    EXPECT_NE(r.all().find("the monitor is disabled"), std::string::npos) << cmd << r.all();
    EXPECT_NE(r.all().find("enable monitor"), std::string::npos) << cmd << r.all();
  }
}

TEST_F(MonitorSwapCmd, ConfigCheckSaysTheMonitorIsDisabled) {
  std::ofstream(pgdata_ + "/PG_VERSION") << "15\n";
  /* enabled: the gone monitor is an error (exit 6) */
  EXPECT_EQ(run("config check --pgdata " + pgdata_).code,
            pgaf::exit_code(pgaf::ErrorCode::Monitor));
  ASSERT_EQ(run("disable monitor --force --pgdata " + pgdata_).code, 0);
  CmdResult r = run("config check --pgdata " + pgdata_);
  EXPECT_EQ(r.code, 0) << r.all();
  EXPECT_NE(r.out.find("The monitor is disabled"), std::string::npos) << r.all();
}

TEST_F(MonitorSwapCmd, EnableChecksItsArgumentsAndTheLocalNodeFirst) {
  /* a monitor is still enabled: bad configuration */
  EXPECT_EQ(
      run("enable monitor --pgdata " + pgdata_ + " postgres://autoctl_node@127.0.0.1:1/x").code, 2);
  ASSERT_EQ(run("disable monitor --force --pgdata " + pgdata_).code, 0);
  EXPECT_EQ(run("enable monitor --pgdata " + pgdata_).code, 1) << "the URI is required";
  CmdResult bad = run("enable monitor --pgdata " + pgdata_ + " PG_AUTOCTL_DISABLED");
  EXPECT_EQ(bad.code, 1) << bad.all();
  EXPECT_NE(bad.all().find("invalid monitor URI"), std::string::npos) << bad.all();
  /* Postgres is not running here: refused (bad state) before any monitor is contacted — the
   * URI's port 1 would otherwise give exit 6 */
  CmdResult stopped = run("enable monitor --allow-failover --pgdata " + pgdata_ +
                          " postgres://autoctl_node@127.0.0.1:1/pg_auto_failover");
  EXPECT_EQ(stopped.code, pgaf::exit_code(pgaf::ErrorCode::BadState)) << stopped.all();
  EXPECT_NE(stopped.all().find("not running"), std::string::npos) << stopped.all();
  EXPECT_NE(cfg_text().find("monitor = PG_AUTOCTL_DISABLED\n"), std::string::npos)
      << "the configuration is unchanged";
}

TEST_F(MonitorSwapCmd, CreateWithoutAMonitorStaysRefusedWithTheReason) {
  for (const char* opt : {"--disable-monitor", "--node-id 3"}) {
    CmdResult r = run("create postgres --pgdata " + home_ + "/new --auth trust --no-ssl " + opt);
    EXPECT_EQ(r.code, 1) << opt << ": " << r.all();
    EXPECT_NE(r.all().find("never granted writes"), std::string::npos) << r.all();
    EXPECT_FALSE(fs::exists(home_ + "/new/PG_VERSION"));
  }
}

}  // namespace
