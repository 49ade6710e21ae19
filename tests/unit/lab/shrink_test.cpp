/*
 * shrink_test.cpp — the shrinker against a fake oracle (no lab run): ddmin keeps only the faults
 * the failure needs, timings shrink while it still fails, the formation shrinks, the budget
 * bounds the number of runs, and the result always still fails.
 */
#include "pgaf/lab/shrink.hpp"

#include <gtest/gtest.h>

using namespace pgaf::lab;

namespace {

Schedule five_faults() {
  Schedule s;
  s.name = "t-1";
  s.seed = 1;
  s.nodes = 4;
  s.priorities = {50, 50, 50, 50};
  s.number_sync_standbys = 2;
  s.phases.faults_ms = 30000;
  for (int i = 0; i < 5; ++i) {
    ScheduleFault f;
    f.name = "f" + std::to_string(i + 1);
    f.action = FaultAction::Partition;
    f.target = "primary";
    f.at_ms = 1000 * (i + 1);
    f.duration_ms = 16000;
    s.faults.push_back(f);
  }
  return s;
}

bool has(const Schedule& s, const std::string& name) {
  for (const auto& f : s.faults)
    if (f.name == name) return true;
  return false;
}

TEST(Shrink, KeepsOnlyTheFaultsTheFailureNeedsThenTimingsThenNodes) {
  /* fails when f2 and f4 are both present, f4 lasts >= 3 s, with >= 3 nodes */
  int calls = 0;
  auto oracle = [&](const Schedule& s) {
    ++calls;
    if (!has(s, "f2") || !has(s, "f4") || s.nodes < 3) return false;
    for (const auto& f : s.faults)
      if (f.name == "f4" && f.duration_ms.value_or(0) < 3000) return false;
    return true;
  };
  const Schedule orig = five_faults();
  ASSERT_TRUE(oracle(orig));
  calls = 0;
  ShrinkResult r = shrink_schedule(orig, oracle, 100);
  EXPECT_EQ(r.runs, calls);
  EXPECT_TRUE(oracle(r.minimal)) << "the result still fails";
  ASSERT_EQ(r.minimal.faults.size(), 2u);
  EXPECT_EQ(r.minimal.faults[0].name, "f2");
  EXPECT_EQ(r.minimal.faults[1].name, "f4");
  EXPECT_EQ(r.minimal.faults[1].duration_ms, 4000) << "16 s halved while it still fails";
  EXPECT_EQ(r.minimal.faults[0].duration_ms, 1000);
  EXPECT_EQ(r.minimal.faults[0].at_ms, 0);
  EXPECT_LT(r.minimal.phases.faults_ms, orig.phases.faults_ms);
  EXPECT_EQ(r.minimal.nodes, 3);
  EXPECT_EQ(r.minimal.priorities.size(), 3u);
  EXPECT_LE(r.minimal.number_sync_standbys, 1) << "clamped to what 3 nodes allow";
  EXPECT_FALSE(r.budget_exhausted);
  EXPECT_FALSE(r.steps.empty());
}

TEST(Shrink, TheBudgetBoundsTheRuns) {
  int calls = 0;
  auto oracle = [&](const Schedule& s) {
    ++calls;
    return has(s, "f5");
  };
  ShrinkResult r = shrink_schedule(five_faults(), oracle, 3);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(r.runs, 3);
  EXPECT_TRUE(r.budget_exhausted);
  EXPECT_TRUE(has(r.minimal, "f5")) << "whatever it reached still fails";
}

TEST(Shrink, NothingToRemoveKeepsTheOriginal) {
  auto never = [](const Schedule&) { return false; };
  const Schedule orig = five_faults();
  ShrinkResult r = shrink_schedule(orig, never, 50);
  EXPECT_EQ(r.minimal.faults.size(), orig.faults.size());
  EXPECT_EQ(r.minimal.nodes, orig.nodes);
  EXPECT_TRUE(r.steps.empty());
}

}  // namespace
