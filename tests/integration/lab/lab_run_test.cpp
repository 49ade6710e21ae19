/*
 * lab_run_test.cpp — the lab end to end, as root: `lab run` on the smoke scenario
 * primary-postgres-crash against our pg_autoctl must pass and write well-formed reports, and a
 * scenario with an impossible RTO bound must fail with the rto checker's witness (the checkers
 * can fail). After the run no lab namespace, mount or directory may remain. SIGTERM in the middle
 * of a run tears everything down and exits 130. The violation scenario (fencing switched off in
 * the agent) fails with a witness naming both writable nodes.
 */
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "lab_it_support.hpp"
#include "pgaf/netns/reaper.hpp"

namespace fs = std::filesystem;
using namespace pgaf::lab_it;

TEST(LabRun, SmokeScenarioPassesAndImpossibleBoundFails) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, tmpfs mounts)";
  if (!fs::exists("/usr/share/postgresql/15/extension/pgautofailover.control"))
    GTEST_SKIP() << "the pgautofailover extension is not installed (run ctest -R monitor.install)";
  const fs::path dir = fs::temp_directory_path() / ("lab-it-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string log = (dir / "lab.log").string();
  const int rc = run(
      {LAB_BIN, "run", "--pg-autoctl", PG_AUTOCTL_BIN, "--report-dir", (dir / "reports").string(),
       "--timeout", "6m", std::string(LAB_SCENARIOS_DIR) + "/primary-postgres-crash.yaml",
       std::string(LAB_IT_DATA_DIR) + "/impossible-rto.yaml"},
      log, std::chrono::seconds(380));
  const std::string out = slurp(log);
  EXPECT_EQ(rc, 1) << out; /* one scenario failed on purpose */
  EXPECT_NE(out.find("scenario"), std::string::npos) << out;
  EXPECT_NE(out.find("HTML report: "), std::string::npos) << out;

  /* one run directory with both scenarios */
  std::vector<fs::path> runs;
  for (const auto& e : fs::directory_iterator(dir / "reports")) runs.push_back(e.path());
  ASSERT_EQ(runs.size(), 1u) << out;
  const fs::path good = runs[0] / "primary-postgres-crash";
  const fs::path bad = runs[0] / "impossible-rto";
  for (const auto& p : {good / "result.json", good / "junit.xml", good / "report.html",
                        bad / "result.json", runs[0] / "index.html", runs[0] / "junit.xml"}) {
    EXPECT_TRUE(fs::exists(p)) << p;
  }

  const auto g = nlohmann::json::parse(slurp(good / "result.json"));
  EXPECT_EQ(g["outcome"], "PASSED") << g["verdicts"].dump(1) << "\n" << out;
  EXPECT_GT(g["counts"]["acked"].get<int>(), 100);
  EXPECT_EQ(g["counts"]["lost_writes"], 0);
  EXPECT_EQ(g["verdicts"].size(), 8u);
  EXPECT_GT(g["history"]["samples"].size(), 50u);
  EXPECT_GT(g["history"]["fsm"].size(), 50u);
  EXPECT_GT(g["history"]["events"].size(), 3u);
  EXPECT_EQ(g["history"]["faults"].size(), 1u);
  EXPECT_FALSE(fs::exists(good / "logs")) << "logs are kept only for failed scenarios";
  const std::string html = slurp(good / "report.html");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);

  const auto b = nlohmann::json::parse(slurp(bad / "result.json"));
  EXPECT_EQ(b["outcome"], "FAILED") << b["verdicts"].dump(1);
  bool rto_failed = false;
  for (const auto& v : b["verdicts"]) {
    if (v["checker"] == "rto") {
      rto_failed = v["verdict"] == "fail" && !v["witnesses"].empty() &&
                   v["witnesses"][0]["fault"] == "kill-primary-postmaster";
    }
  }
  EXPECT_TRUE(rto_failed) << b["verdicts"].dump(1);
  EXPECT_TRUE(fs::exists(bad / "logs")) << "logs are kept for failed scenarios";

  /* nothing of the lab remains */
  EXPECT_TRUE(pgaf::netns::list_namespaces("pgaf-lab-").empty());
  EXPECT_FALSE(lab_mounts_left());
  fs::remove_all(dir);
}

/* The checkers can fail on a real violation: with the agent's fencing switched off (a test-only
 * switch), a primary cut from the monitor and from its standby keeps accepting writes while the
 * standby is promoted. The run must fail, naming both writable nodes in its witness. */
TEST(LabRun, FencingDisabledViolationFailsWithWitness) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, tmpfs mounts)";
  if (!fs::exists("/usr/share/postgresql/15/extension/pgautofailover.control"))
    GTEST_SKIP() << "the pgautofailover extension is not installed (run ctest -R monitor.install)";
  const fs::path dir = fs::temp_directory_path() / ("lab-it-viol-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string log = (dir / "lab.log").string();
  const int rc =
      run({LAB_BIN, "run", "--pg-autoctl", PG_AUTOCTL_BIN, "--report-dir",
           (dir / "reports").string(), "--timeout", "6m",
           std::string(LAB_SCENARIOS_DIR) + "/violations/fencing-disabled-split-brain.yaml"},
          log, std::chrono::seconds(380));
  const std::string out = slurp(log);
  EXPECT_EQ(rc, 1) << out;
  std::vector<fs::path> runs;
  for (const auto& e : fs::directory_iterator(dir / "reports")) runs.push_back(e.path());
  ASSERT_EQ(runs.size(), 1u) << out;
  const auto r =
      nlohmann::json::parse(slurp(runs[0] / "fencing-disabled-split-brain" / "result.json"));
  EXPECT_EQ(r["outcome"], "FAILED") << r["verdicts"].dump(1);
  bool two_writable = false;
  for (const auto& v : r["verdicts"]) {
    if (v["checker"] != "writable_primaries" || v["verdict"] != "fail") continue;
    for (const auto& w : v["witnesses"]) {
      const std::string e = w["explanation"].get<std::string>();
      if (e.find("node1") != std::string::npos && e.find("node2") != std::string::npos)
        two_writable = true;
    }
  }
  EXPECT_TRUE(two_writable) << r["verdicts"].dump(1) << "\n" << out;
  EXPECT_TRUE(pgaf::netns::list_namespaces("pgaf-lab-").empty());
  EXPECT_FALSE(lab_mounts_left());
  fs::remove_all(dir);
}

TEST(LabRun, SigtermTearsDownAndExits130) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, tmpfs mounts)";
  if (!fs::exists("/usr/share/postgresql/15/extension/pgautofailover.control"))
    GTEST_SKIP() << "the pgautofailover extension is not installed (run ctest -R monitor.install)";
  const fs::path dir = fs::temp_directory_path() / ("lab-it-term-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string log = (dir / "lab.log").string();
  const std::vector<std::string> argv = {LAB_BIN,
                                         "run",
                                         "--pg-autoctl",
                                         PG_AUTOCTL_BIN,
                                         "--report-dir",
                                         (dir / "reports").string(),
                                         std::string(LAB_SCENARIOS_DIR) + "/monitor-loss.yaml"};
  const pid_t pid = start(argv, log);
  ASSERT_GT(pid, 0);
  /* wait (bounded) until the workload runs, then interrupt */
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (slurp(log).find("warm-up") == std::string::npos &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_NE(slurp(log).find("warm-up"), std::string::npos) << slurp(log);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ::kill(pid, SIGTERM);
  int status = 0;
  const auto exit_until = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > exit_until) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      FAIL() << "lab did not stop within 90 s of SIGTERM\n" << slurp(log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130) << slurp(log);
  EXPECT_TRUE(pgaf::netns::list_namespaces("pgaf-lab-").empty());
  EXPECT_FALSE(lab_mounts_left());
  fs::remove_all(dir);
}
