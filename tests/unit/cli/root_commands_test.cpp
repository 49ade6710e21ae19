/*
 * root_commands_test.cpp — the reference's habits that need no server: version [--json], help,
 * boolean option values in any case, --auth skip, the files create postgres writes before it
 * registers, config check / config set postgresql.pg_ctl, get formation settings, set node
 * metadata and run --name, and where commands on a monitor's PGDATA connect.
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

class RootCommands : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgaf-cli-XXXXXX";
    home_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(home_); }
  CliResult run(const std::string& args, const std::string& env = "") {
    return pgaf::cli::test::run_pg_autoctl(args, home_, env);
  }
  std::string slurp(const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::string cfg_path(const std::string& pgdata) {
    return home_ + "/.config/pg_autoctl" + pgdata + "/pg_autoctl.cfg";
  }
  std::string state_path(const std::string& pgdata) {
    return home_ + "/.local/share/pg_autoctl" + pgdata + "/pg_autoctl.state";
  }
  std::string home_;
};

TEST_F(RootCommands, VersionTextAndJson) {
  CliResult v = run("version");
  EXPECT_EQ(v.code, 0) << v.all();
  EXPECT_EQ(v.out.rfind("pg_autoctl version 2.2\npg_autoctl extension version 2.2\n", 0), 0u)
      << v.out;
  CliResult j = run("version --json");
  ASSERT_EQ(j.code, 0) << j.all();
  const auto js = nlohmann::json::parse(j.out);
  for (const char* key : {"pg_autoctl", "pgautofailover", "pg_major", "pg_version",
                          "pg_version_str", "pg_version_num"})
    EXPECT_TRUE(js.contains(key)) << key << ": " << j.out;
  EXPECT_EQ(js["pg_major"], "15");
  EXPECT_EQ(run("--json version").out, j.out) << "the global --json works too";
}

TEST_F(RootCommands, HelpPrintsTheTree) {
  CliResult h = run("help");
  EXPECT_EQ(h.code, 0);
  EXPECT_NE(h.out.find("+ create"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("    - postgres"), std::string::npos) << h.out;
  EXPECT_EQ(h.out.find("+ do"), std::string::npos) << "no do tree without PG_AUTOCTL_DEBUG";
  EXPECT_NE(run("help", "PG_AUTOCTL_DEBUG=1").out.find("+ do"), std::string::npos);
}

TEST_F(RootCommands, BooleanValuesInAnyCase) {
  const std::string base = "create postgres --pgdata " + home_ + "/p --monitor " + kDeadMonitor +
                           " --auth trust --no-ssl ";
  /* accepted: the next error is the unreachable monitor (exit 6) */
  EXPECT_EQ(run(base + "--replication-quorum False").code, 6);
  EXPECT_EQ(run(base + "--replication-quorum YES").code, 6);
  EXPECT_EQ(run(base, "PG_AUTOCTL_REPLICATION_QUORUM=Off").code, 6);
  CliResult bad = run(base + "--replication-quorum maybe");
  EXPECT_EQ(bad.code, 1);
  /* flags from the environment, any case */
  CliResult env =
      run("create postgres --pgdata " + home_ + "/q --monitor " + kDeadMonitor + " --auth trust",
          "PG_AUTOCTL_SSL_SELF_SIGNED=True");
  EXPECT_EQ(env.code, 6) << env.all();
}

TEST_F(RootCommands, AuthSkipIsSkipPgHbaAndFilesComeBeforeRegistering) {
  const std::string pgdata = home_ + "/node";
  CliResult r = run("create postgres --pgdata " + pgdata + " --monitor " + kDeadMonitor +
                    " --auth skip --no-ssl --pgport 26190");
  EXPECT_EQ(r.code, 6) << r.all(); /* the monitor does not answer */
  const std::string cfg = slurp(cfg_path(pgdata));
  EXPECT_NE(cfg.find("hba_level = skip"), std::string::npos) << cfg;
  EXPECT_EQ(cfg.find("auth_method = skip"), std::string::npos) << cfg;
  /* the state file is there, with no node id yet, and pg_autoctl.init marks the unfinished create
   */
  const std::string st = slurp(state_path(pgdata));
  EXPECT_NE(st.find("\"nodeId\": -1"), std::string::npos) << st;
  EXPECT_TRUE(fs::exists(home_ + "/.local/share/pg_autoctl" + pgdata + "/pg_autoctl.init"));
  /* running it again resumes the registration (same error, nothing else changes) */
  EXPECT_EQ(run("create postgres --pgdata " + pgdata + " --monitor " + kDeadMonitor +
                " --auth skip --no-ssl --pgport 26190")
                .code,
            6);
  /* so does run */
  EXPECT_EQ(run("run --pgdata " + pgdata).code, 6);
}

TEST_F(RootCommands, ConfigSetRefusesANonPgCtl) {
  const std::string pgdata = home_ + "/node";
  ASSERT_EQ(run("create postgres --pgdata " + pgdata + " --monitor " + kDeadMonitor +
                " --auth trust --no-ssl --pgport 26191")
                .code,
            6);
  const std::string before = slurp(cfg_path(pgdata));
  CliResult bad = run("config set --pgdata " + pgdata + " postgresql.pg_ctl /not/a/pg_ctl");
  EXPECT_EQ(bad.code, 2) << bad.all();
  EXPECT_NE(bad.all().find("/not/a/pg_ctl"), std::string::npos) << bad.all();
  CliResult notpg = run("config set --pgdata " + pgdata + " postgresql.pg_ctl /bin/true");
  EXPECT_EQ(notpg.code, 2) << notpg.all();
  EXPECT_EQ(slurp(cfg_path(pgdata)), before);
  CliResult good =
      run("config set --pgdata " + pgdata + " postgresql.pg_ctl /usr/lib/postgresql/15/bin/pg_ctl");
  EXPECT_EQ(good.code, 0) << good.all();
}

TEST_F(RootCommands, ConfigCheck) {
  const std::string pgdata = home_ + "/node";
  EXPECT_EQ(run("config check --pgdata " + pgdata).code, 2) << "no configuration";
  ASSERT_EQ(run("create postgres --pgdata " + pgdata + " --monitor " + kDeadMonitor +
                " --auth trust --no-ssl --pgport 26192")
                .code,
            6);
  CliResult c = run("config check --pgdata " + pgdata);
  EXPECT_EQ(c.code, 2) << c.all();
  EXPECT_NE(c.all().find("not a PostgreSQL data directory"), std::string::npos) << c.all();
}

TEST_F(RootCommands, MetadataCommandsAct) {
  const std::string pgdata = home_ + "/node";
  ASSERT_EQ(run("create postgres --pgdata " + pgdata + " --monitor " + kDeadMonitor +
                " --auth trust --no-ssl --pgport 26193")
                .code,
            6);
  EXPECT_EQ(run("set node metadata --pgdata " + pgdata).code, 1) << "nothing to set";
  /* the node id is not known yet: the state file says so before the monitor is asked */
  CliResult m = run("set node metadata --pgdata " + pgdata + " --name n1");
  EXPECT_EQ(m.code, 3) << m.all();
  EXPECT_NE(m.all().find("not registered"), std::string::npos) << m.all();
  EXPECT_EQ(run("run --pgdata " + pgdata + " --name n1").code, 6) << "registers first";
  CliResult g = run("get formation settings --monitor " + kDeadMonitor);
  EXPECT_EQ(g.code, 6) << g.all();
}

/* A command on the monitor's PGDATA connects where libpq would: PGHOST first. */
TEST_F(RootCommands, MonitorPgdataHonoursPghost) {
  const std::string pgdata = home_ + "/monitor";
  fs::create_directories(pgdata);
  const std::string dir = home_ + "/.config/pg_autoctl" + pgdata;
  fs::create_directories(dir);
  std::ofstream(dir + "/pg_autoctl.cfg")
      << "[pg_autoctl]\nrole = monitor\nhostname = 127.0.0.1\n[postgresql]\npgdata = " << pgdata
      << "\nport = 1\nhost = /tmp\n";
  CliResult tcp = run("show state --pgdata " + pgdata, "PGHOST=127.0.0.1");
  EXPECT_EQ(tcp.code, 6) << tcp.all();
  EXPECT_NE(tcp.all().find("127.0.0.1"), std::string::npos) << tcp.all();
  CliResult sock = run("show state --pgdata " + pgdata, "PGHOST=" + home_);
  EXPECT_EQ(sock.code, 6) << sock.all();
  EXPECT_NE(sock.all().find(home_ + "/.s.PGSQL.1"), std::string::npos) << sock.all();
}

}  // namespace
