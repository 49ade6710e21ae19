/*
 * campaign_test.cpp — the campaign generator: the same seed gives byte-identical scenario YAML,
 * every generated scenario (the shipped campaigns, many seeds) parses as a scenario (what
 * `lab check` runs), the portable distributions stay in range, malformed campaign files are
 * rejected naming the field, and shards of a seed range are disjoint and cover it.
 */
#include "pgaf/lab/campaign.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

using namespace pgaf::lab;

namespace {

const std::string kCampaigns = LAB_SCENARIOS_DIR "/campaigns";
const std::string kShrinkCampaign = LAB_IT_DATA_DIR "/shrink-campaign.yaml";

Campaign load(const std::string& path) {
  auto c = parse_campaign_file(path);
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().to_string());
  return c.ok() ? *c : Campaign{};
}

const char* kMinimal = R"(version: 1
name: t
formation: {nodes: [2, 4], synchronous_commit: [on, local], number_sync_standbys: [0, 2]}
phases: {faults: 20s}
faults:
  count: [1, 4]
  overlap_percent: 50
  palette:
    - {action: partition, target: [primary, standby, monitor], to: [none, monitor, standby, clients], mode: [drop, reject], include_clients: [true, false], duration: [1s, 10s]}
    - {action: oneway, target: [primary, standby], to: [primary, monitor], duration: [1s, 5s]}
    - {action: kill, target: [primary, standby, any], process: [postmaster, agent], restart_after: [0s, 3s], prevent_restart_percent: 30}
    - {action: freeze, target: [primary, monitor], process: [node, postmaster, agent], duration: [1s, 3s]}
    - {action: loss, target: monitor, percent: [1, 50], duration: 2s}
    - {action: latency, target: standby, delay: [10ms, 100ms], duration: 2s}
    - {action: bandwidth, target: primary, rate_kbit: [64, 1024], duration: 2s}
    - {action: disk_full, target: primary, duration: 2s}
    - {action: ifdown, target: any, duration: 2s}
    - {action: reboot, target: standby, restart_after: [0s, 2s]}
    - {action: monitor_loss, restart_after: 3s}
    - {action: switchover}
expect: {rto_max: 30s, failover_required_after: 5s}
)";

TEST(Campaign, SameSeedSameYamlByteForByte) {
  auto c = parse_campaign(kMinimal, "t.yaml");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  std::set<std::string> distinct;
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    const std::string a = render_schedule_yaml(generate_schedule(*c, seed));
    const std::string b = render_schedule_yaml(generate_schedule(*c, seed));
    EXPECT_EQ(a, b) << "seed " << seed;
    distinct.insert(a);
  }
  EXPECT_EQ(distinct.size(), 50u);
  /* the schedules themselves differ, not only the seed in the text */
  std::set<std::string> bodies;
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    Schedule s = generate_schedule(*c, seed);
    s.seed = 0;
    s.name = "x";
    bodies.insert(render_schedule_yaml(s));
  }
  EXPECT_GT(bodies.size(), 40u);
}

TEST(Campaign, EveryGeneratedScenarioPassesLabCheck) {
  auto mini = parse_campaign(kMinimal, "t.yaml");
  ASSERT_TRUE(mini.ok()) << mini.error().to_string();
  std::vector<Campaign> all = {*mini, load(kCampaigns + "/nightly.yaml"), load(kShrinkCampaign)};
  std::map<std::string, int> actions;
  for (const auto& c : all) {
    for (std::uint64_t seed = 1; seed <= 300; ++seed) {
      const Schedule s = generate_schedule(c, seed);
      auto sc = schedule_scenario(s, s.name + ".yaml");
      ASSERT_TRUE(sc.ok()) << c.name << " seed " << seed << ": " << sc.error().to_string() << "\n"
                           << render_schedule_yaml(s);
      EXPECT_EQ(sc->seed, seed);
      EXPECT_GE(sc->formation.nodes, c.nodes.lo);
      EXPECT_LE(sc->formation.nodes, c.nodes.hi);
      EXPECT_GE(static_cast<int>(sc->faults.size()), c.faults_per_schedule.lo);
      EXPECT_LE(static_cast<int>(sc->faults.size()), c.faults_per_schedule.hi);
      for (const auto& f : sc->faults) {
        ++actions[to_string(f.action)];
        ASSERT_TRUE(f.trigger.at_ms.has_value());
        EXPECT_LE(*f.trigger.at_ms + f.duration_ms.value_or(0), sc->phases.faults_ms);
      }
    }
  }
  EXPECT_EQ(actions.size(), 12u) << "every action of the palette is drawn";
}

TEST(Campaign, DistributionsStayInRangeAndFollowWeights) {
  CampaignRng rng(7);
  std::map<std::int64_t, int> seen;
  for (int i = 0; i < 6000; ++i) {
    const auto v = rng.between(-2, 3);
    ASSERT_GE(v, -2);
    ASSERT_LE(v, 3);
    ++seen[v];
  }
  EXPECT_EQ(seen.size(), 6u);
  for (const auto& [v, n] : seen) EXPECT_GT(n, 800) << v;
  int heavy = 0;
  for (int i = 0; i < 4000; ++i) heavy += rng.weighted({1, 3}) == 1 ? 1 : 0;
  EXPECT_GT(heavy, 2700);
  EXPECT_LT(heavy, 3300);
  EXPECT_EQ(rng.weighted({0, 5, 0}), 1u);
}

TEST(Campaign, DerivedFailoverOnlyForALongIsolationOfThePrimary) {
  Schedule s;
  s.nodes = 2;
  s.priorities = {50, 50};
  s.phases.faults_ms = 20000;
  s.failover_required_after_ms = 10000;
  ScheduleFault f;
  f.action = FaultAction::IfDown;
  f.target = "primary";
  f.duration_ms = 12000;
  s.faults = {f};
  EXPECT_EQ(derived_failover(s), FailoverExpectation::Required);
  s.faults[0].duration_ms = 5000;
  EXPECT_EQ(derived_failover(s), FailoverExpectation::Allowed);
  s.faults[0].duration_ms = 12000;
  s.priorities = {50, 0};
  EXPECT_EQ(derived_failover(s), FailoverExpectation::Allowed) << "no candidate";
  s.priorities = {50, 50};
  s.faults.push_back(f);
  EXPECT_EQ(derived_failover(s), FailoverExpectation::Allowed) << "two faults: not derived";
}

TEST(Campaign, MalformedFilesAreRejectedNamingTheField) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"version: 1\nname: x\nformation: {nodes: [2, 3]}\nfaults: {palette: [{action: kil}]}\n",
       "faults.palette[0].action"},
      {"version: 1\nname: x\nformation: {nodes: [2, 9]}\nfaults: {palette: [{action: "
       "switchover}]}\n",
       "formation.nodes[1]"},
      {"version: 1\nname: x\nformation: {nodes: 2, colour: red}\nfaults: {palette: [{action: "
       "switchover}]}\n",
       "formation.colour"},
      {"version: 1\nname: x\nformation: {nodes: 2}\nfaults: {palette: []}\n", "faults.palette"},
      {"version: 1\nname: x\nformation: {nodes: 2}\nphases: {faults: 5s}\n"
       "faults: {palette: [{action: ifdown, target: primary, duration: [1s, 9s]}]}\n",
       "faults.palette[0].duration"},
      {"version: 1\nname: x\nformation: {nodes: 2}\nfaults: {palette: [{action: kill, target: "
       "primary}]}\n",
       "faults.palette[0].process"},
      {"version: 1\nname: x\nformation: {nodes: 2}\nfaults: {palette: [{action: oneway, target: "
       "primary}]}\n",
       "faults.palette[0].to"},
      {"version: 1\nname: x\nformation: {nodes: 2}\nfaults: {palette: [{action: loss, target: "
       "primary, percent: 5, delay: 10ms}]}\n",
       "faults.palette[0].delay"},
      {"version: 1\nname: X\nformation: {nodes: 2}\nfaults: {palette: [{action: switchover}]}\n",
       "name"},
  };
  for (const auto& [text, field] : bad) {
    auto c = parse_campaign(text, "bad.yaml");
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_NE(c.error().message.find("bad.yaml:"), std::string::npos) << c.error().message;
    EXPECT_NE(c.error().message.find("field \"" + field + "\""), std::string::npos)
        << c.error().message;
  }
}

TEST(Campaign, ShardsAreDisjointAndCoverTheRange) {
  auto r = parse_seed_range("1..100");
  ASSERT_TRUE(r.ok());
  std::multiset<std::uint64_t> all;
  for (std::uint64_t i = 1; i <= 3; ++i) {
    auto sh = parse_shard(std::to_string(i) + "/3");
    ASSERT_TRUE(sh.ok());
    for (auto s : shard_seeds(*r, *sh)) {
      all.insert(s);
      EXPECT_TRUE(seed_in_shard(s, *r, *sh));
      for (std::uint64_t j = 1; j <= 3; ++j)
        if (j != i) {
          EXPECT_FALSE(seed_in_shard(s, *r, Shard{j, 3}));
        }
    }
  }
  EXPECT_EQ(all.size(), 100u);
  EXPECT_EQ(std::set<std::uint64_t>(all.begin(), all.end()).size(), 100u) << "disjoint";
  EXPECT_EQ(*all.begin(), 1u);
  EXPECT_EQ(*all.rbegin(), 100u);
  EXPECT_EQ(shard_seeds(*parse_seed_range("5"), Shard{1, 1}), std::vector<std::uint64_t>{5});
}

TEST(Campaign, BadSeedRangesAndShardsAreRejected) {
  for (const auto* s : {"", "5..1", "a..b", "1..", "..3", "1...3"})
    EXPECT_FALSE(parse_seed_range(s).ok()) << s;
  for (const auto* s : {"0/3", "4/3", "1/0", "1", "x/y"}) EXPECT_FALSE(parse_shard(s).ok()) << s;
  auto e = parse_shard("4/3");
  EXPECT_NE(e.error().message.find("--shard"), std::string::npos);
}

}  // namespace
