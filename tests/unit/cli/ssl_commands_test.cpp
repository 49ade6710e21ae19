/*
 * ssl_commands_test.cpp — pg_autoctl enable | disable ssl without a server (cli_ssl.cpp): bad
 * arguments exit 1 as in the reference and change nothing; a valid choice rewrites [ssl] of
 * pg_autoctl.cfg (every key: nothing left from the previous choice); a monitor that does not
 * answer keeps the current monitor URI. The running-node case: compat_ssl_test.cpp.
 */
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "cli_runner.hpp"

namespace {

namespace fs = std::filesystem;
using pgaf::cli::test::CliResult;

const std::string kDeadMonitor = "postgres://autoctl_node@127.0.0.1:1/pg_auto_failover";

class SslCommands : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgaf-cli-ssl-XXXXXX";
    home_ = mkdtemp(tmpl);
    pgdata_ = home_ + "/node";
    /* create writes its files before it asks the (dead) monitor: exit 6, configuration there */
    CliResult c = run("create postgres --pgdata " + pgdata_ + " --monitor " + kDeadMonitor +
                      " --auth trust --no-ssl --pgport 26220");
    ASSERT_EQ(c.code, 6) << c.all();
  }
  void TearDown() override { fs::remove_all(home_); }
  CliResult run(const std::string& args) { return pgaf::cli::test::run_pg_autoctl(args, home_); }
  std::string get(const std::string& key) {
    CliResult r = run("config get --pgdata " + pgdata_ + " " + key);
    EXPECT_EQ(r.code, 0) << r.all();
    return r.out.substr(0, r.out.find('\n'));
  }
  std::string home_, pgdata_;
};

TEST_F(SslCommands, BadArgumentsExitOneAndChangeNothing) {
  const std::string cfg_before = get("ssl.active") + get("ssl.sslmode");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"enable ssl --pgdata " + pgdata_, "explicit SSL choice"},
      {"enable ssl --pgdata " + pgdata_ + " --no-ssl --ssl-self-signed", "mutually exclusive"},
      {"enable ssl --pgdata " + pgdata_ + " --ssl-self-signed --ssl-mode verify-full",
       "--ssl-ca-file"},
      {"enable ssl --pgdata " + pgdata_ + " --ssl-self-signed --ssl-mode sometimes", "--ssl-mode"},
      {"enable ssl --pgdata " + pgdata_ +
           " --server-cert /nonexistent/c.pem --server-key "
           "/nonexistent/k.pem",
       "--server-cert"},
      {"disable ssl --pgdata " + pgdata_ + " --ssl-self-signed", "--ssl-self-signed"},
  };
  for (const auto& [args, names] : cases) {
    CliResult r = run(args);
    EXPECT_EQ(r.code, 1) << args << ": " << r.all();
    EXPECT_NE(r.all().find(names), std::string::npos) << args << ": " << r.all();
  }
  EXPECT_EQ(get("ssl.active") + get("ssl.sslmode"), cfg_before);
}

TEST_F(SslCommands, EnableThenDisableRewritesTheSslSection) {
  CliResult on = run("enable ssl --pgdata " + pgdata_ + " --ssl-self-signed");
  EXPECT_EQ(on.code, 0) << on.all();
  EXPECT_EQ(get("ssl.active"), "1");
  EXPECT_EQ(get("ssl.sslmode"), "require");
  EXPECT_EQ(get("ssl.cert_file"), pgdata_ + "/server.crt");
  EXPECT_EQ(get("ssl.key_file"), pgdata_ + "/server.key");
  /* the monitor did not answer with sslmode=require: its URI is kept, and the user is told */
  EXPECT_EQ(get("pg_autoctl.monitor"), kDeadMonitor);
  EXPECT_NE(on.all().find("monitor URI is not changed"), std::string::npos) << on.all();

  CliResult off = run("disable ssl --pgdata " + pgdata_);
  EXPECT_EQ(off.code, 0) << off.all();
  EXPECT_EQ(get("ssl.active"), "0");
  EXPECT_EQ(get("ssl.sslmode"), "prefer");
  /* no certificate files left in [ssl] (empty keys are not written) */
  CliResult all = run("config get --pgdata " + pgdata_);
  EXPECT_EQ(all.code, 0) << all.all();
  EXPECT_EQ(all.out.find("cert_file"), std::string::npos) << all.out;
  EXPECT_EQ(all.out.find("key_file"), std::string::npos) << all.out;
}

}  // namespace
