/*
 * campaign_report_test.cpp — per-seed result files and the campaign report on synthetic results:
 * a scenario's result.json (rendered by the lab's own report code) becomes a seed verdict; the
 * merge of three shard directories gives exactly the verdicts of the unsharded directory; a seed
 * in two directories is an error; the HTML, JUnit (one test case per seed) and JSON carry them.
 */
#include "pgaf/lab/campaign_report.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "pgaf/lab/campaign.hpp"
#include "pgaf/lab/report.hpp"

using namespace pgaf::lab;
namespace fs = std::filesystem;

namespace {

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("pgaf-campaign-test-" + std::to_string(::getpid()) + "-" + std::to_string(++n_));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string str(const std::string& sub = "") const { return (path_ / sub).string(); }

 private:
  fs::path path_;
  static inline int n_ = 0;
};

/* A deterministic synthetic verdict for a seed: every 4th fails a checker, every 7th errors. */
SeedResult synthetic(std::uint64_t seed) {
  SeedResult r;
  r.seed = seed;
  r.outcome = seed % 7 == 0 ? "ERROR" : seed % 4 == 0 ? "FAILED" : "PASSED";
  if (r.outcome == "FAILED") r.failed_checkers = {"split_brain"};
  r.faults = {{"f1-kill", "kill", "node1", static_cast<pgaf::TimeMs>(seed * 100), true}};
  r.lost_writes = seed % 8 == 0 ? 2 : 0;
  r.scenario = "scenarios/t-" + std::to_string(seed) + ".yaml";
  r.report = "runs/seed-" + std::to_string(seed) + "/t-" + std::to_string(seed) + "/report.html";
  return r;
}

std::vector<std::tuple<std::uint64_t, std::string, std::vector<std::string>>> verdicts(
    const std::vector<SeedResult>& rs) {
  std::vector<std::tuple<std::uint64_t, std::string, std::vector<std::string>>> v;
  for (const auto& r : rs) v.emplace_back(r.seed, r.outcome, r.failed_checkers);
  return v;
}

TEST(CampaignReport, MergeOfThreeShardsEqualsTheUnshardedVerdicts) {
  TempDir whole, s1, s2, s3, merged;
  const std::vector<const TempDir*> shards = {&s1, &s2, &s3};
  const auto range = *parse_seed_range("1..20");
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    ASSERT_TRUE(write_seed_result(whole.str(), synthetic(seed)).ok());
    for (std::uint64_t i = 1; i <= 3; ++i)
      if (seed_in_shard(seed, range, Shard{i, 3})) {
        ASSERT_TRUE(write_seed_result(shards[i - 1]->str(), synthetic(seed)).ok());
      }
  }
  auto unsharded = read_seed_results(whole.str());
  ASSERT_TRUE(unsharded.ok());
  ASSERT_EQ(unsharded->size(), 20u);
  auto m = merge_seed_results({s1.str(), s2.str(), s3.str()});
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  EXPECT_EQ(verdicts(*m), verdicts(*unsharded));
  const auto a = summarize("t", *m), b = summarize("t", *unsharded);
  EXPECT_EQ(a.violations, b.violations);
  EXPECT_EQ(a.errors, b.errors);
  EXPECT_EQ(a.passed, b.passed);
  EXPECT_EQ(a.violations, 5); /* seeds 4, 8, 12, 16, 20 */
  EXPECT_EQ(a.errors, 2);     /* seeds 7, 14 */
}

TEST(CampaignReport, ASeedInTwoDirectoriesIsAnError) {
  TempDir a, b;
  ASSERT_TRUE(write_seed_result(a.str(), synthetic(3)).ok());
  ASSERT_TRUE(write_seed_result(b.str(), synthetic(3)).ok());
  auto m = merge_seed_results({a.str(), b.str()});
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("seed 3"), std::string::npos);
  EXPECT_FALSE(merge_seed_results({a.str() + "/missing"}).ok());
}

TEST(CampaignReport, AResultFileRoundTrips) {
  SeedResult r = synthetic(8);
  r.variant = "compare";
  r.reproducer = Reproducer{"scenarios/t-8-min.yaml", 1, 3, 4, true, "lab run x", {"kept 1 of 3"}};
  auto back = seed_result_from_json(to_json(r));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(to_json(*back), to_json(r));
  EXPECT_EQ(result_file_name(8, "compare"), "seed-8.compare.json");
  EXPECT_FALSE(seed_result_from_json(nlohmann::json{{"seed", 1}}).ok());
}

TEST(CampaignReport, ScenarioResultBecomesASeedVerdict) {
  ScenarioReport rep;
  rep.name = "t-5";
  rep.seed = 5;
  rep.outcome = ScenarioOutcome::Failed;
  rep.history.faults.push_back(FaultRecord{"f1-ifdown", "ifdown", {"node1"}, 100, 5000, "", false});
  rep.checks.verdicts.push_back(Verdict{"rto", VerdictStatus::Pass, "", nlohmann::json::array()});
  rep.checks.verdicts.push_back(
      Verdict{"split_brain", VerdictStatus::Fail, "two", nlohmann::json::array()});
  FaultRto x;
  x.fault = "f1-ifdown";
  x.unavailable_ms = 4321;
  x.recovered = true;
  rep.checks.rto.push_back(x);
  rep.checks.lost_writes = 3;
  auto r = seed_result_from_scenario(nlohmann::json::parse(render_result_json(rep)));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->seed, 5u);
  EXPECT_EQ(r->outcome, "FAILED");
  EXPECT_EQ(r->failed_checkers, std::vector<std::string>{"split_brain"});
  ASSERT_EQ(r->faults.size(), 1u);
  EXPECT_EQ(r->faults[0].action, "ifdown");
  EXPECT_EQ(r->faults[0].target, "node1");
  EXPECT_EQ(r->faults[0].rto_ms, 4321);
  EXPECT_EQ(r->lost_writes, 3);
}

TEST(CampaignReport, HtmlJunitAndJsonCarryEverySeed) {
  TempDir out;
  std::vector<SeedResult> rs;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    rs.push_back(synthetic(seed));
    rs.back().dir = out.str();
  }
  rs[3].reproducer =
      Reproducer{"scenarios/t-4-min.yaml", 1, 2, 3, true, "lab run /x/t-4-min.yaml", {}};
  SeedResult cmp = synthetic(2);
  cmp.variant = "compare";
  cmp.dir = out.str();
  cmp.faults[0].rto_ms = 9000;
  rs.push_back(cmp);
  CampaignSummary s = summarize("t", rs);
  s.schedules_per_hour = 120.5;
  s.jobs = 2;
  ASSERT_TRUE(write_campaign_report(out.str(), s, rs).ok());
  std::ifstream h(out.str("index.html")), j(out.str("junit.xml"));
  std::stringstream hs, js;
  hs << h.rdbuf();
  js << j.rdbuf();
  const std::string html = hs.str(), junit = js.str();
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("compare (n=1)"), std::string::npos) << "both distributions plotted";
  EXPECT_NE(html.find("runs/seed-4/t-4/report.html"), std::string::npos);
  EXPECT_NE(html.find("lab run /x/t-4-min.yaml"), std::string::npos);
  EXPECT_NE(html.find("120.5 schedules/hour at -j 2"), std::string::npos);
  size_t cases = 0;
  for (size_t p = junit.find("<testcase"); p != std::string::npos;
       p = junit.find("<testcase", p + 1))
    ++cases;
  EXPECT_EQ(cases, rs.size());
  EXPECT_NE(junit.find("name=\"seed-4\""), std::string::npos);
  EXPECT_NE(junit.find("<failure"), std::string::npos);
  std::ifstream jj(out.str("campaign.json"));
  auto json = nlohmann::json::parse(jj);
  EXPECT_EQ(json["summary"]["violations"], 1);
  EXPECT_EQ(json["seeds"].size(), rs.size());
}

}  // namespace
