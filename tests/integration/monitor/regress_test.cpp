/*
 * regress_test.cpp — runs the pg_regress suite (sql/NAME.sql against expected/NAME.out) on a real
 * server with the extension, health checks off (outputs must not depend on timing).
 * pg_regress runs as postgres on a copy of the files in the server's temporary directory; on a
 * difference the test fails and prints regression.diffs. Port 25410.
 */
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "monitor_fixture.hpp"

#ifndef PGAF_MONITOR_REGRESS_DIR
#error "PGAF_MONITOR_REGRESS_DIR must point at tests/integration/monitor"
#endif
#ifndef PGAF_PG_REGRESS
#error "PGAF_PG_REGRESS must point at pg_regress"
#endif

namespace fs = std::filesystem;
using namespace pgaf::test;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(MonitorRegress, Suite) {
  auto pg = start_monitor(25410);
  /* pg_regress --use-existing neither creates the database nor loads extensions */
  pg->exec("CREATE DATABASE pgaf_regress");
  pg->exec("CREATE EXTENSION pgautofailover CASCADE", "pgaf_regress");
  const fs::path src = PGAF_MONITOR_REGRESS_DIR;
  const fs::path work = fs::path(pg->dir()) / "regress";
  fs::create_directories(work);
  fs::copy(src / "sql", work / "sql", fs::copy_options::recursive);
  fs::copy(src / "expected", work / "expected", fs::copy_options::recursive);
  std::vector<std::string> tests;
  for (const auto& e : fs::directory_iterator(src / "sql"))
    if (e.path().extension() == ".sql") tests.push_back(e.path().stem().string());
  std::sort(tests.begin(), tests.end());
  ASSERT_FALSE(tests.empty());
  RunAs as = postgres_identity();
  if (as.drop) {
    for (const auto& e : fs::recursive_directory_iterator(work))
      ASSERT_EQ(lchown(e.path().c_str(), as.uid, as.gid), 0);
    ASSERT_EQ(lchown(work.c_str(), as.uid, as.gid), 0);
  }
  std::vector<std::string> argv = {PGAF_PG_REGRESS,
                                   "--use-existing",
                                   "--host=127.0.0.1",
                                   "--port=" + std::to_string(pg->port()),
                                   "--user=postgres",
                                   "--dbname=pgaf_regress",
                                   "--inputdir=" + work.string(),
                                   "--outputdir=" + work.string(),
                                   "--bindir=" + pg_bindir()};
  argv.insert(argv.end(), tests.begin(), tests.end());
  auto r = run_command(argv, {{"PGTZ", "UTC"}, {"PGDATESTYLE", "ISO"}}, 120000);
  std::cout << r.output;
  if (r.exit_code != 0) {
    std::cout << slurp(work / "regression.diffs");
    /* keep the results for inspection when asked to */
    if (const char* keep = std::getenv("PGAF_REGRESS_KEEP")) {
      fs::remove_all(keep);
      fs::copy(work / "results", keep, fs::copy_options::recursive);
    }
  }
  EXPECT_EQ(r.exit_code, 0) << "pg_regress failed, see the diffs above";
}

}  // namespace
