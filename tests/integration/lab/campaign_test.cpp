/*
 * campaign_test.cpp — `lab campaign` end to end, as root: with the agent's fencing switched off
 * (test-only switch) a short campaign (tests/integration/lab/data/shrink-campaign.yaml: a primary
 * isolated from the monitor and its standby while clients still reach it, among noise faults)
 * finds a split brain, shrinks it to at most two faults, saves the reproducer beside the original
 * with its replay command, and the reproducer fails again under `lab run`. A rerun of the same
 * seed is skipped (resume). Nothing of the lab remains afterwards.
 */
#include "pgaf/lab/campaign.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "lab_it_support.hpp"
#include "pgaf/netns/reaper.hpp"

namespace fs = std::filesystem;
using namespace pgaf::lab_it;

TEST(Campaign, FindsAndShrinksASplitBrainThatReplays) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, tmpfs mounts)";
  if (!fs::exists("/usr/share/postgresql/15/extension/pgautofailover.control"))
    GTEST_SKIP() << "the pgautofailover extension is not installed (run ctest -R monitor.install)";
  const std::string file = std::string(LAB_IT_DATA_DIR) + "/shrink-campaign.yaml";
  auto c = pgaf::lab::parse_campaign_file(file);
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  /* the first seed whose schedule opens with the isolation of the primary, among noise */
  std::uint64_t seed = 0;
  for (std::uint64_t s = 1; s <= 200 && seed == 0; ++s) {
    const auto sch = pgaf::lab::generate_schedule(*c, s);
    if (sch.faults.size() == 3 && sch.faults[0].action == pgaf::lab::FaultAction::Partition)
      seed = s;
  }
  ASSERT_NE(seed, 0u);
  const fs::path dir =
      fs::temp_directory_path() / ("lab-campaign-it-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string seeds = std::to_string(seed) + ".." + std::to_string(seed);
  const std::string log = (dir.string() + ".log");
  const int rc = run({LAB_BIN, "campaign", file, "--seeds", seeds, "--pg-autoctl", PG_AUTOCTL_BIN,
                      "--out", dir.string()},
                     log, std::chrono::seconds(480));
  const std::string out = slurp(log);
  EXPECT_EQ(rc, 1) << out; /* a violation */
  EXPECT_NE(out.find("schedules/hour"), std::string::npos) << out;
  const fs::path result = dir / "results" / ("seed-" + std::to_string(seed) + ".json");
  ASSERT_TRUE(fs::exists(result)) << out;
  const auto r = nlohmann::json::parse(slurp(result));
  EXPECT_EQ(r["outcome"], "FAILED") << r.dump(1);
  ASSERT_TRUE(r.contains("reproducer")) << r.dump(1) << "\n" << out;
  const auto& rep = r["reproducer"];
  EXPECT_LE(rep["faults"].get<int>(), 2) << rep.dump(1);
  EXPECT_EQ(rep["original_faults"], 3);
  const fs::path min = dir / rep["file"].get<std::string>();
  ASSERT_TRUE(fs::exists(min)) << rep.dump(1);
  EXPECT_EQ(min.parent_path(), (dir / r["scenario"].get<std::string>()).parent_path())
      << "saved beside the original";
  EXPECT_NE(slurp(min).find("# replay: lab run"), std::string::npos);
  EXPECT_NE(rep["replay"].get<std::string>().find(min.string()), std::string::npos);
  for (const auto* f : {"index.html", "junit.xml", "campaign.json"})
    EXPECT_TRUE(fs::exists(dir / f)) << f;

  /* the reproducer fails again, the same checker, under a plain lab run */
  const std::string checker = r["failed_checkers"][0].get<std::string>();
  const fs::path replay_dir = dir / "replay";
  const int rc2 = run({LAB_BIN, "run", "--pg-autoctl", PG_AUTOCTL_BIN, "--report-dir",
                       replay_dir.string(), "--run-id", "again", min.string()},
                      log + ".replay", std::chrono::seconds(300));
  EXPECT_EQ(rc2, 1) << slurp(log + ".replay");
  const fs::path again = replay_dir / "again" / min.stem() / "result.json";
  ASSERT_TRUE(fs::exists(again)) << slurp(log + ".replay");
  const auto a = nlohmann::json::parse(slurp(again));
  bool same = false;
  for (const auto& v : a["verdicts"])
    same = same || (v["checker"] == checker && v["verdict"] == "fail");
  EXPECT_TRUE(same) << checker << " did not fail again: " << a["verdicts"].dump(1);

  /* resume: the seed is done, a rerun skips it */
  const int rc3 = run({LAB_BIN, "campaign", file, "--seeds", seeds, "--pg-autoctl", PG_AUTOCTL_BIN,
                       "--out", dir.string()},
                      log + ".resume", std::chrono::seconds(60));
  EXPECT_EQ(rc3, 1) << "the recorded violation still counts";
  EXPECT_NE(slurp(log + ".resume").find("(1 already done, skipped)"), std::string::npos)
      << slurp(log + ".resume");

  EXPECT_TRUE(pgaf::netns::list_namespaces("pgaf-lab-").empty());
  EXPECT_FALSE(lab_mounts_left());
  fs::remove_all(dir);
  fs::remove(log);
  fs::remove(log + ".replay");
  fs::remove(log + ".resume");
}
