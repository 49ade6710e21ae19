/*
 * bench_test.cpp — `lab bench`'s figures from reports (lab/src/bench.cpp): nearest-rank
 * statistics, a run's figures taken from its report (failover, window, not recovered, lost), the
 * table, and the marked markdown section rewritten in place; plus the scenario keys the benchmark
 * scenarios use (connection: per_write, prevent_restart) and their validation.
 */
#include "pgaf/lab/bench.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "history_builder.hpp"
#include "pgaf/lab/scenario.hpp"

namespace {

using namespace pgaf::lab;

TEST(Bench, NearestRankStatistics) {
  const BenchStats s = bench_stats({500, 100, 400, 200, 300});
  EXPECT_EQ(s.n, 5u);
  EXPECT_EQ(s.min, 100);
  EXPECT_EQ(s.median, 300);
  EXPECT_EQ(s.p90, 500);
  EXPECT_EQ(s.max, 500);
  const BenchStats ten = bench_stats({1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  EXPECT_EQ(ten.median, 5) << "the lower middle value of an even count";
  EXPECT_EQ(ten.p90, 9);
  EXPECT_EQ(bench_stats({}).n, 0u);
}

ScenarioReport report_of(labtest::Builder b, ScenarioOutcome outcome) {
  ScenarioReport r;
  r.name = "x-run1";
  r.outcome = outcome;
  r.history = b.h;
  FaultRto f;
  f.fault = "kill-primary";
  f.recovered = true;
  f.unavailable_ms = 3500;
  f.detect_ms = 800;
  f.decide_ms = 200;
  f.promote_ms = 2000;
  r.checks.rto = {f};
  r.checks.lost_writes = 0;
  return r;
}

TEST(Bench, RunFiguresComeFromTheReport) {
  const BenchRun b =
      bench_run_of(report_of(labtest::Builder::clean_failover(), ScenarioOutcome::Passed));
  EXPECT_TRUE(b.ran);
  EXPECT_TRUE(b.passed);
  EXPECT_TRUE(b.failover) << "node2 acknowledged writes after node1";
  EXPECT_TRUE(b.recovered);
  EXPECT_EQ(b.window_ms, 3500);
  ASSERT_TRUE(b.monitor_writable_ms.has_value());
  EXPECT_EQ(*b.monitor_writable_ms, 3000);
  /* no other node ever wrote or reported writable: no failover */
  labtest::Builder still(2);
  for (pgaf::TimeMs t = 1000; t < 20000; t += 100)
    still.op(t, t + 20, OpOutcome::Ok, "node1", 1, static_cast<pgaf::Lsn>(t));
  still.fsm_all(6000, {"primary", "secondary"});
  EXPECT_FALSE(bench_run_of(report_of(still, ScenarioOutcome::Failed)).failover);
  /* an errored run ran nothing */
  EXPECT_FALSE(bench_run_of(report_of(still, ScenarioOutcome::Error)).ran);
}

TEST(Bench, TableCountsUnrecoveredAndLostRuns) {
  BenchCase c{"bench-b", "B", {}};
  BenchRun ok;
  ok.ran = ok.recovered = true;
  ok.window_ms = 500;
  BenchRun slow = ok;
  slow.window_ms = 900;
  BenchRun never = ok;
  never.recovered = false;
  never.lost = 2;
  BenchRun errored;
  c.runs = {ok, slow, never, errored};
  const std::string t = bench_table_markdown({c}, "note");
  EXPECT_EQ(t.rfind("note\n\n", 0), 0u);
  EXPECT_NE(t.find("| bench-b | 3/4 | 0 | 0.50 / **0.50** / 0.90 / 0.90 | 1 | 2 | – |"),
            std::string::npos)
      << t;
}

TEST(Bench, MarkdownSectionIsReplacedInPlace) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("pgaf-bench-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string file = (dir / "b.md").string();
  {
    std::ofstream o(file);
    o << "# Benchmarks\n\nintro\n";
  }
  ASSERT_TRUE(update_markdown_section(file, "idle", "table one\n").ok());
  ASSERT_TRUE(update_markdown_section(file, "load2", "table two\n").ok());
  ASSERT_TRUE(update_markdown_section(file, "idle", "table three\n").ok());
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  EXPECT_EQ(text.find("table one"), std::string::npos);
  EXPECT_NE(text.find("<!-- lab-bench:idle:begin -->\ntable three\n<!-- lab-bench:idle:end -->"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("table two"), std::string::npos);
  EXPECT_EQ(text.rfind("# Benchmarks\n\nintro\n", 0), 0u);
  std::filesystem::remove_all(dir);
}

TEST(Bench, BenchmarkScenariosParse) {
  for (const char* f : {"a-link-down.yaml", "b-postmaster-kill.yaml", "b2-cannot-restart.yaml",
                        "c-switchover.yaml"}) {
    auto sc = parse_scenario_file(std::string(LAB_SCENARIOS_DIR) + "/bench/" + f);
    ASSERT_TRUE(sc.ok()) << f << ": " << sc.error().to_string();
    EXPECT_TRUE(sc->workload.connect_per_write) << f;
  }
  auto b2 = parse_scenario_file(std::string(LAB_SCENARIOS_DIR) + "/bench/b2-cannot-restart.yaml");
  ASSERT_TRUE(b2.ok());
  EXPECT_TRUE(b2->faults.at(0).prevent_restart);
}

}  // namespace

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(Bench, BadBenchKeysNameTheirField) {
  const std::string b2 =
      read_text(std::string(LAB_SCENARIOS_DIR) + "/bench/b2-cannot-restart.yaml");
  auto bad_conn = pgaf::lab::parse_scenario(
      replaced(b2, "connection: per_write", "connection: sometimes"), "b2.yaml");
  ASSERT_FALSE(bad_conn.ok());
  EXPECT_NE(bad_conn.error().message.find("field \"workload.connection\""), std::string::npos)
      << bad_conn.error().message;
  auto agent =
      pgaf::lab::parse_scenario(replaced(b2, "process: postmaster", "process: agent"), "b2.yaml");
  ASSERT_FALSE(agent.ok());
  EXPECT_NE(agent.error().message.find("prevent_restart"), std::string::npos)
      << agent.error().message;
  EXPECT_NE(agent.error().message.find("only valid for kill of the postmaster"), std::string::npos);
}

}  // namespace
