/*
 * do_demo_test.cpp — `pg_autoctl do demo run|uri|ping|summary` (PG_AUTOCTL_DEBUG set) without a
 * server: bad arguments exit 1 naming the option, a monitor that does not answer exits 6.
 */
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "cli_runner.hpp"

namespace {

using pgaf::cli::test::CliResult;

const std::string kDeadMonitor = "postgres://autoctl_node@127.0.0.1:1/pg_auto_failover";

class DoDemo : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgaf-cli-demo-XXXXXX";
    home_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(home_); }
  CliResult demo(const std::string& args, const std::string& env = "") {
    return pgaf::cli::test::run_pg_autoctl("do demo " + args, home_, "PG_AUTOCTL_DEBUG=1 " + env);
  }
  std::string home_;
};

TEST_F(DoDemo, EveryCommandNeedsTheMonitor) {
  for (const char* c : {"run", "uri", "ping", "summary"}) {
    CliResult r = demo(c);
    EXPECT_EQ(r.code, 1) << c << ": " << r.all();
    EXPECT_NE(r.err.find("please provide --monitor"), std::string::npos) << c << ": " << r.all();
  }
}

TEST_F(DoDemo, BadOptionsExitOneNamingTheOption) {
  const std::string m = " --monitor " + kDeadMonitor;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"run --clients 0" + m, "--clients"},
      {"run --clients 129" + m, "--clients"},
      {"run --clients many" + m, "--clients"},
      {"run --duration 0" + m, "--duration"},
      {"run --first-failover -1" + m, "--first-failover"},
      {"run --failover-freq 0" + m, "--failover-freq"},
      {"run --group -2" + m, "--group"},
      {"ping --monitor nonsense=1", "--monitor"},
      {"summary --clients 1000" + m, "--clients"}};
  for (const auto& [args, option] : cases) {
    CliResult r = demo(args);
    EXPECT_EQ(r.code, 1) << args << ": " << r.all();
    EXPECT_NE(r.all().find(option), std::string::npos) << args << ": " << r.all();
  }
}

TEST_F(DoDemo, UnreachableMonitorExitsSix) {
  for (const char* c : {"uri", "ping", "summary", "run --no-failover --duration 1"}) {
    CliResult r = demo(std::string(c) + " --monitor " + kDeadMonitor);
    EXPECT_EQ(r.code, 6) << c << ": " << r.all();
    EXPECT_NE(r.err.find("could not connect to the monitor"), std::string::npos) << r.all();
  }
  /* PG_AUTOCTL_MONITOR stands for --monitor, as in the reference */
  CliResult r = demo("uri", "PG_AUTOCTL_MONITOR=" + kDeadMonitor);
  EXPECT_EQ(r.code, 6) << r.all();
}

TEST_F(DoDemo, HiddenWithoutDebug) {
  CliResult r = pgaf::cli::test::run_pg_autoctl("do demo uri --monitor " + kDeadMonitor, home_);
  EXPECT_NE(r.code, 0) << r.all();
  EXPECT_NE(r.code, 6) << r.all();
}

}  // namespace
