/*
 * rewind_fallback_test.cpp — the reference's fsm_rewind_or_init on real PostgreSQL 15: after a
 * failover the old primary rejoins with pg_rewind; when its Postgres then cannot start, the
 * agent takes a fresh pg_basebackup from the new primary in the same step and the node becomes a
 * streaming secondary (it used to retry the rewind at every attempt).
 *
 * The failure is made by the node's own tools: postgresql.pg_ctl points to a copy of the bin
 * directory whose pg_rewind runs the real one and then, once, removes global/pg_control from the
 * rewound PGDATA (Postgres refuses to start without it). Ports 26230-26232.
 */
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "agent_lab.hpp"
#include "steps.hpp"

namespace pgaf::agent_it {
namespace {

namespace fs = std::filesystem;

/* A bin directory like `real_bindir` whose pg_rewind breaks the PGDATA it rewound, once (the
 * marker file next to PGDATA records it). */
std::string sabotaging_bindir(const std::string& real_bindir, const std::string& dir) {
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(real_bindir)) {
    if (e.path().filename() == "pg_rewind") continue;
    fs::create_symlink(e.path(), fs::path(dir) / e.path().filename());
  }
  const std::string script = dir + "/pg_rewind";
  std::ofstream(script) << "#!/bin/sh\n"
                        << real_bindir << "/pg_rewind \"$@\" || exit $?\n"
                        << "for a in \"$@\"; do case \"$a\" in --target-pgdata=*) "
                           "d=\"${a#--target-pgdata=}\";; esac; done\n"
                        << "if [ ! -e \"$d/../rewind-sabotaged\" ]; then\n"
                        << "  touch \"$d/../rewind-sabotaged\" && rm -f \"$d/global/pg_control\"\n"
                        << "fi\n";
  ::chmod(script.c_str(), 0755);
  ::chmod(dir.c_str(), 0755);
  return dir + "/pg_ctl";
}

TEST(RewindFallback, UnstartableAfterRewindGetsABaseBackup) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (runs Postgres as postgres)";
  AgentLab lab(26230);
  birth(lab);
  if (HasFatalFailure()) return;
  const std::string pg1 = lab.pgdata("node_1");
  auto ctl = lab.ctl({"config", "get", "--pgdata", pg1, "postgresql.pg_ctl"});
  ASSERT_EQ(ctl.exit_code, 0) << ctl.output;
  const std::string real_pg_ctl = ctl.output.substr(0, ctl.output.find('\n'));
  const std::string wrapped = sabotaging_bindir(fs::path(real_pg_ctl).parent_path().string(),
                                                fs::path(pg1).parent_path().string() + "/bin");
  for (const auto& [key, value] :
       {std::pair<std::string, std::string>{"postgresql.pg_ctl", wrapped},
        {"pgaf.postgres_start_timeout_ms", "5000"}}) {
    auto set = lab.ctl({"config", "set", "--pgdata", pg1, key, value});
    ASSERT_EQ(set.exit_code, 0) << key << ": " << set.output;
  }
  sleep_ms(500); /* the service reloads its configuration (SIGHUP) */

  auto r = lab.ctl({"perform", "failover", "--monitor", lab.monitor_uri()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  ASSERT_GE(lab.wait_states({{"node_1", "secondary"}, {"node_2", "primary"}}, 90000), 0)
      << lab.state_dump() << lab.log("node_1");
  const std::string log = lab.log("node_1");
  EXPECT_TRUE(fs::exists(fs::path(pg1).parent_path() / "rewind-sabotaged"))
      << "pg_rewind did not run:\n"
      << log;
  EXPECT_NE(log.find("PostgreSQL did not start after pg_rewind, using pg_basebackup instead"),
            std::string::npos)
      << log;
  /* node_1 streams from the new primary */
  pgaf::test::PgConnection p(lab.conninfo(lab.node_port(2)) + " user=postgres");
  EXPECT_EQ(poll_value(p,
                       "SELECT count(*) FROM pg_stat_replication WHERE application_name = "
                       "'pgautofailover_standby_1' AND state = 'streaming'",
                       "1"),
            "1");
  const auto left = lab.teardown();
  EXPECT_TRUE(left.empty());
}

}  // namespace
}  // namespace pgaf::agent_it
