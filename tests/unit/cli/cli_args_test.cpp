/*
 * cli_args_test.cpp — pg_autoctl argument handling: bad input gets exit code 1 (BadArgs) and a
 * message naming the option, before anything is created; other errors use the core exit-code
 * table. Runs the command tree in-process (cli_runner.hpp; no server needed).
 */
#include <gtest/gtest.h>
#include <stdlib.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "cli_runner.hpp"
#include "pgaf/core/error.hpp"

namespace {

namespace fs = std::filesystem;
using CmdResult = pgaf::cli::test::CliResult;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgaf-cli-XXXXXX";
    home_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(home_); }

  CmdResult run(const std::string& args, const std::string& env = "") {
    return pgaf::cli::test::run_pg_autoctl(args, home_, env);
  }
  std::string home_;
};

TEST_F(CliTest, UnknownOptionIsExit1) {
  CmdResult r = run("create postgres --bogus");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.all().find("--bogus"), std::string::npos) << r.all();
}

TEST_F(CliTest, UnknownCommandIsExit1) {
  CmdResult r = run("frobnicate");
  EXPECT_EQ(r.code, 1);
}

TEST_F(CliTest, MissingAuthIsExit1WithClearMessage) {
  CmdResult r = run("create postgres --pgdata " + home_ +
                    "/pgdata --monitor postgres://x@127.0.0.1:1/db --no-ssl");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.all().find("--auth"), std::string::npos) << r.all();
  EXPECT_NE(r.all().find("--skip-pg-hba"), std::string::npos) << r.all();
  EXPECT_FALSE(fs::exists(home_ + "/pgdata"));
  EXPECT_FALSE(fs::exists(home_ + "/.config/pg_autoctl"));
}

TEST_F(CliTest, MissingSslChoiceIsExit1) {
  CmdResult r = run("create monitor --pgdata " + home_ + "/m --auth trust");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.all().find("SSL"), std::string::npos) << r.all();
}

TEST_F(CliTest, CandidatePriorityOutOfRange) {
  CmdResult r = run("create postgres --pgdata " + home_ +
                    "/p --monitor postgres://x@127.0.0.1:1/db "
                    "--auth trust --no-ssl --candidate-priority 101");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.all().find("candidate-priority"), std::string::npos) << r.all();
}

TEST_F(CliTest, ReplicationQuorumMustBeBoolean) {
  CmdResult r = run("create postgres --pgdata " + home_ +
                    "/p --monitor postgres://x@127.0.0.1:1/db "
                    "--auth trust --no-ssl --replication-quorum maybe");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.all().find("replication-quorum"), std::string::npos) << r.all();
}

TEST_F(CliTest, StopAndFastAreExclusiveWithImmediate) {
  CmdResult r = run("stop --pgdata /tmp/x --fast --immediate");
  EXPECT_EQ(r.code, 1);
}

TEST_F(CliTest, StopWhenNotRunningIsBadState) {
  CmdResult r = run("stop --pgdata " + home_ + "/nothing");
  EXPECT_EQ(r.code, pgaf::exit_code(pgaf::ErrorCode::BadState));
  EXPECT_NE(r.all().find("not running"), std::string::npos) << r.all();
}

TEST_F(CliTest, RunWithoutConfigNamesTheFile) {
  CmdResult r = run("run --pgdata " + home_ + "/nothing");
  EXPECT_EQ(r.code, pgaf::exit_code(pgaf::ErrorCode::BadConfig));
  EXPECT_NE(r.all().find("pg_autoctl.cfg"), std::string::npos) << r.all();
}

TEST_F(CliTest, PgdataFromEnvironment) {
  CmdResult r = run("run", "PGDATA=" + home_ + "/fromenv");
  EXPECT_EQ(r.code, pgaf::exit_code(pgaf::ErrorCode::BadConfig));
  EXPECT_NE(r.all().find("fromenv"), std::string::npos) << r.all();
}

TEST_F(CliTest, UnreachableMonitorIsExit6) {
  /* port 1 on loopback: connection refused at once */
  CmdResult r = run("show state --monitor postgres://autoctl_node@127.0.0.1:1/pg_auto_failover");
  EXPECT_EQ(r.code, pgaf::exit_code(pgaf::ErrorCode::Monitor));
  EXPECT_NE(r.all().find("monitor"), std::string::npos) << r.all();
}

TEST_F(CliTest, MonitorFromEnvironment) {
  CmdResult r = run("show events", "PG_AUTOCTL_MONITOR=postgres://autoctl_node@127.0.0.1:1/x");
  EXPECT_EQ(r.code, pgaf::exit_code(pgaf::ErrorCode::Monitor));
}

TEST_F(CliTest, DoTreeNeedsDebugEnv) {
  CmdResult r = run("do service postgres --pgdata /tmp/x");
  EXPECT_EQ(r.code, 1);
  CmdResult r2 = run("do service postgres --pgdata " + home_ + "/x", "PG_AUTOCTL_DEBUG=1");
  EXPECT_EQ(r2.code, pgaf::exit_code(pgaf::ErrorCode::BadConfig)) << r2.all();
}

TEST_F(CliTest, HelpAndVersionExit0) {
  EXPECT_EQ(run("--help").code, 0);
  CmdResult v = run("--version");
  EXPECT_EQ(v.code, 0);
  EXPECT_NE(v.all().find("pg_autoctl"), std::string::npos);
}

TEST_F(CliTest, GlobalVerbosityFlagsAccepted) {
  EXPECT_EQ(run("-vv stop --pgdata " + home_ + "/x").code, 3);
  EXPECT_EQ(run("-q stop --pgdata " + home_ + "/x").code, 3);
  EXPECT_EQ(run("status --json --pgdata " + home_ + "/x").code, 3);
}

/* config get / set on a keeper's and a monitor's configuration file (no server needed): a bad
 * value, an unknown key or an identity key is refused naming the key, and the file is unchanged;
 * a monitor's [pgaf] settings become pgautofailover.* GUCs in its managed configuration. */
class ConfigCmdTest : public CliTest {
 protected:
  std::string write_cfg(const std::string& role) {
    const std::string pgdata = home_ + "/" + role;
    fs::create_directories(pgdata);
    const std::string dir = home_ + "/.config/pg_autoctl" + pgdata;
    fs::create_directories(dir);
    std::string text = "[pg_autoctl]\nrole = " + role + "\n";
    if (role == "keeper")
      text += "monitor = postgres://autoctl_node@127.0.0.1:25500/pg_auto_failover\n";
    text += "hostname = 127.0.0.1\n[postgresql]\npgdata = " + pgdata + "\nport = 25501\n";
    std::FILE* f = std::fopen((dir + "/pg_autoctl.cfg").c_str(), "w");
    std::fputs(text.c_str(), f);
    std::fclose(f);
    cfg_path_ = dir + "/pg_autoctl.cfg";
    return pgdata;
  }
  std::string slurp(const std::string& p) {
    std::string out;
    std::FILE* f = std::fopen(p.c_str(), "r");
    if (f == nullptr) return out;
    std::array<char, 4096> buf{};
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) out.append(buf.data(), n);
    std::fclose(f);
    return out;
  }
  std::string cfg_path_;
};

TEST_F(ConfigCmdTest, GetAndSetAKeeperSetting) {
  const std::string pgdata = write_cfg("keeper");
  CmdResult g = run("config get --pgdata " + pgdata + " pgaf.lease_ms");
  EXPECT_EQ(g.code, 0) << g.all();
  EXPECT_EQ(g.out, "1500\n");
  CmdResult s = run("config set --pgdata " + pgdata + " pgaf.lease_ms 2000");
  EXPECT_EQ(s.code, 0) << s.all();
  EXPECT_EQ(run("config get --pgdata " + pgdata + " pgaf.lease_ms").out, "2000\n");
  CmdResult p = run("config set --pgdata " + pgdata + " postgresql.port 25509");
  EXPECT_EQ(p.code, 0) << p.all();
  CmdResult all = run("config get --pgdata " + pgdata);
  EXPECT_NE(all.all().find("lease_ms = 2000"), std::string::npos) << all.all();
  EXPECT_NE(all.all().find("port = 25509"), std::string::npos) << all.all();
}

TEST_F(ConfigCmdTest, BadValuesAreRefusedAndTheFileIsUnchanged) {
  const std::string pgdata = write_cfg("keeper");
  ASSERT_EQ(run("config set --pgdata " + pgdata + " pgaf.lease_ms 2000").code, 0);
  const std::string before = slurp(cfg_path_);
  struct Case {
    std::string args;
    int code;
    std::string names;
  };
  const std::vector<Case> cases = {
      {"pgaf.lease_ms abc", 2, "pgaf.lease_ms"},
      {"pgaf.lease_ms 100", 2, "fence_guard_ms"}, /* lease shorter than the fence guard */
      {"postgresql.port 70000", 2, "postgresql.port"},
      {"pgaf.no_such_setting 1", 2, "pgaf.no_such_setting"},
      {"nosection 1", 1, "nosection"},
      {"pg_autoctl.role monitor", 1, "pg_autoctl.role"},
  };
  for (const auto& c : cases) {
    CmdResult r = run("config set --pgdata " + pgdata + " " + c.args);
    EXPECT_EQ(r.code, c.code) << c.args << ": " << r.all();
    EXPECT_NE(r.all().find(c.names), std::string::npos) << c.args << ": " << r.all();
    EXPECT_EQ(slurp(cfg_path_), before) << c.args;
  }
  EXPECT_EQ(run("config set --pgdata " + pgdata + " pgaf.lease_ms").code, 1) << "value missing";
}

TEST_F(ConfigCmdTest, MonitorSettingsBecomeExtensionGucs) {
  const std::string pgdata = write_cfg("monitor");
  {
    std::FILE* f = std::fopen((pgdata + "/PG_VERSION").c_str(), "w");
    std::fputs("15\n", f);
    std::fclose(f);
    std::FILE* c = std::fopen((pgdata + "/postgresql.conf").c_str(), "w");
    std::fclose(c);
  }
  ASSERT_EQ(run("config set --pgdata " + pgdata + " pgaf.lease_ms 2500").code, 0);
  ASSERT_EQ(run("config set --pgdata " + pgdata + " pgaf.health_check_period_ms 700").code, 0);
  const std::string conf = slurp(pgdata + "/postgresql-auto-failover.conf");
  EXPECT_NE(conf.find("pgautofailover.lease_ms = 2500"), std::string::npos) << conf;
  EXPECT_NE(conf.find("pgautofailover.health_check_period = 700"), std::string::npos) << conf;
  EXPECT_EQ(conf.find("pgautofailover.standby_vouch_ms"), std::string::npos)
      << "only settings that differ from the defaults: " << conf;
  EXPECT_NE(slurp(pgdata + "/postgresql.conf").find("include 'postgresql-auto-failover.conf'"),
            std::string::npos);
}

/* TLS choices: validated before anything is created, each error naming its option. */
TEST_F(CliTest, TlsOptionsAreValidated) {
  const std::string base = "create postgres --pgdata " + home_ +
                           "/pgdata --monitor postgres://x@127.0.0.1:1/db --auth trust ";
  struct Case {
    std::string args;
    std::string names;
  };
  const std::vector<Case> cases = {
      {"--ssl-self-signed --ssl-mode required", "--ssl-mode"},
      {"--no-ssl --ssl-self-signed", "mutually exclusive"},
      {"--server-cert " + home_ + "/c.pem", "--server-key"},
      {"--server-cert /nonexistent/c.pem --server-key /nonexistent/k.pem", "--server-cert"},
      {"--no-ssl --ssl-mode require", "--no-ssl"},
      {"--ssl-self-signed --ssl-mode verify-full", "--ssl-ca-file"},
      {"--ssl-self-signed --ssl-crl-file " + home_ + "/c.crl", "--ssl-crl-file needs"},
      {"--no-ssl --ssl-crl-file " + home_ + "/c.crl", "--ssl-crl-file needs"},
  };
  for (const auto& c : cases) {
    CmdResult r = run(base + c.args);
    EXPECT_EQ(r.code, 1) << c.args << ": " << r.all();
    EXPECT_NE(r.all().find(c.names), std::string::npos) << c.args << ": " << r.all();
  }
  EXPECT_FALSE(fs::exists(home_ + "/.config/pg_autoctl"));
  /* a valid choice gets past the checks: the unreachable monitor is the next error (exit 6) */
  CmdResult ok = run(base + "--ssl-self-signed");
  EXPECT_EQ(ok.code, 6) << ok.all();
}

TEST_F(ConfigCmdTest, ShowFileAndSystemd) {
  const std::string pgdata = write_cfg("keeper");
  CmdResult all = run("show file --pgdata " + pgdata);
  EXPECT_EQ(all.code, 0) << all.all();
  EXPECT_NE(all.all().find(cfg_path_), std::string::npos) << all.all();
  EXPECT_NE(all.all().find("pg_autoctl.state"), std::string::npos) << all.all();
  CmdResult cfg = run("show file --config --pgdata " + pgdata);
  EXPECT_EQ(cfg.out, cfg_path_ + "\n");
  CmdResult contents = run("show file --config --contents --pgdata " + pgdata);
  EXPECT_EQ(contents.out, slurp(cfg_path_));
  CmdResult js = run("show file --json --pgdata " + pgdata);
  EXPECT_NE(js.all().find("\"Config\": \"" + cfg_path_ + "\""), std::string::npos) << js.all();
  EXPECT_EQ(run("show file --config --state --pgdata " + pgdata).code, 1);
  CmdResult missing = run("show file --state --contents --pgdata " + pgdata);
  EXPECT_NE(missing.code, 0) << "the state file does not exist: " << missing.all();
  CmdResult unit = run("show systemd --pgdata " + pgdata);
  EXPECT_EQ(unit.code, 0) << unit.all();
  EXPECT_NE(unit.all().find("Environment = 'PGDATA=" + pgdata + "'"), std::string::npos)
      << unit.all();
  EXPECT_NE(unit.all().find(" run\n"), std::string::npos) << unit.all();
  EXPECT_NE(unit.all().find("WantedBy = multi-user.target"), std::string::npos) << unit.all();
}

}  // namespace
