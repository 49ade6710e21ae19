/*
 * ci_workflow_test.cpp — ci/github/nightly.yml parses (yaml-cpp) and has the structure the
 * nightly campaign needs: a schedule, a matrix of shards whose campaign step passes
 * --shard "<matrix.shard>/<count>" to ci/nightly and uploads its directory, and a merge job that
 * needs the shards, downloads their artifacts and runs `lab merge`. The shard count in the env
 * must equal the matrix size (else seeds would be lost or run twice).
 */
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>

namespace {

const std::string kWorkflow = LAB_REPO_DIR "/ci/github/nightly.yml";

std::string steps_text(const YAML::Node& steps, const std::string& key) {
  std::string all;
  for (const auto& s : steps)
    if (s[key]) all += s[key].as<std::string>() + "\n";
  return all;
}

TEST(CiWorkflow, NightlyShardsAndMerges) {
  YAML::Node w;
  ASSERT_NO_THROW(w = YAML::LoadFile(kWorkflow));
  ASSERT_TRUE(w["on"]["schedule"].IsSequence());
  EXPECT_TRUE(w["on"]["schedule"][0]["cron"].IsScalar());
  const YAML::Node jobs = w["jobs"];
  ASSERT_TRUE(jobs.IsMap());
  const YAML::Node c = jobs["campaign"];
  ASSERT_TRUE(c.IsMap());
  const YAML::Node shards = c["strategy"]["matrix"]["shard"];
  ASSERT_TRUE(shards.IsSequence());
  ASSERT_GE(shards.size(), 2u);
  for (size_t i = 0; i < shards.size(); ++i) EXPECT_EQ(shards[i].as<size_t>(), i + 1);
  EXPECT_EQ(c["env"]["SHARDS"].as<size_t>(), shards.size());
  EXPECT_FALSE(c["strategy"]["fail-fast"].as<bool>())
      << "one violating shard must not cancel others";
  const std::string runs = steps_text(c["steps"], "run");
  EXPECT_NE(runs.find("ci/nightly"), std::string::npos);
  EXPECT_NE(runs.find("--shard \"${{ matrix.shard }}/${SHARDS}\""), std::string::npos);
  EXPECT_NE(steps_text(c["steps"], "uses").find("actions/upload-artifact"), std::string::npos);

  const YAML::Node m = jobs["merge"];
  ASSERT_TRUE(m.IsMap());
  EXPECT_EQ(m["needs"].as<std::string>(), "campaign");
  EXPECT_EQ(m["if"].as<std::string>(), "always()");
  EXPECT_NE(steps_text(m["steps"], "uses").find("actions/download-artifact"), std::string::npos);
  EXPECT_NE(steps_text(m["steps"], "run").find("lab merge"), std::string::npos);
  for (const auto& job : jobs)
    for (const auto& s : job.second["steps"])
      EXPECT_TRUE(s["run"] || s["uses"]) << "each step runs or uses something";
}

}  // namespace
