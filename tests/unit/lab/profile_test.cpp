/*
 * profile_test.cpp — network profiles (profile.hpp) and the faults that use them: the shipped
 * two-zones profile parses to the documented topology; every malformed profile is rejected with
 * file, line and the field path; scenario faults naming unknown zones or routers are rejected
 * against the profile; a scenario may carry its own `network:` section; the certification
 * verdict is CERTIFIED only when every invariant passed.
 */
#include "pgaf/lab/profile.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "pgaf/lab/certify.hpp"
#include "pgaf/lab/scenario.hpp"

using namespace pgaf::lab;

namespace {

const std::string kVendorDir = std::string(LAB_SCENARIOS_DIR) + "/vendor";

/* A profile in a temporary directory, with a ruleset file beside it. */
class ProfileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("pgaf-profile-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "fw.nft") << "table inet vendor { }\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  pgaf::Result<NetworkProfile> parse(const std::string& text) {
    return parse_network_profile(text, (dir_ / "p.yaml").string());
  }
  std::filesystem::path dir_;
};

/* The router's zones line through the end of its links (to replace them together). */
const char* kLinks =
    "zones: [a, b]\n      ruleset: fw.nft\n      links:\n        b: {mtu: 1400, bandwidth_kbit: "
    "8000, loss: 0.5}";

const char* kGood = R"(version: 1
network:
  name: lab
  zones:
    - {name: a, subnet: 198.18.10.0/24}
    - {name: b, subnet: 198.18.11.0/24, mtu: 9000}
  routers:
    - name: r1
      zones: [a, b]
      ruleset: fw.nft
      links:
        b: {mtu: 1400, bandwidth_kbit: 8000, loss: 0.5}
  routes:
    - {zone: b, to: a, via: r1}
  placement: {monitor: a, node1: a, default: b}
)";

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST_F(ProfileTest, AValidProfileParsesToItsTopology) {
  auto p = parse(kGood);
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  EXPECT_EQ(p->name, "lab");
  ASSERT_EQ(p->topology.zones.size(), 2u);
  EXPECT_EQ(p->topology.zones[1].mtu, 9000);
  ASSERT_EQ(p->topology.routers.size(), 1u);
  const auto& r = p->topology.routers[0];
  EXPECT_EQ(r.ruleset, "table inet vendor { }\n");
  EXPECT_EQ(r.interfaces[1].link.mtu, 1400);
  EXPECT_EQ(r.interfaces[1].link.bandwidth_bytes_per_second, 1'000'000u);
  EXPECT_DOUBLE_EQ(r.interfaces[1].link.loss_percent, 0.5);
  EXPECT_EQ(pgaf::netns::zone_of(p->topology, "node1"), "a");
  EXPECT_EQ(pgaf::netns::zone_of(p->topology, "node2"), "b");
  EXPECT_EQ(p->source_text, kGood);
}

/* Each malformed profile: the message names file:line and the field path. */
TEST_F(ProfileTest, MalformedProfilesAreRejectedNamingTheField) {
  const std::string good = kGood;
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"{name: a, subnet: 198.18.10.0/24}", "{name: a, subnet: 198.18.10.0/33}",
       ":5: field \"network.zones[0].subnet\""},
      {"{name: b, subnet: 198.18.11.0/24, mtu: 9000}",
       "{name: b, subnet: 198.18.10.128/25, mtu: 9000}", ":6: field \"network.zones[1].subnet\""},
      {"mtu: 9000}", "mtu: 100}", ":6: field \"network.zones[1].mtu\""},
      {kLinks, "zones: [a, c]", ":9: field \"network.routers[0].zones[1]\""},
      {kLinks, "zones: [a]", ":9: field \"network.routers[0].zones\""},
      {"ruleset: fw.nft", "ruleset: missing.nft", ":10: field \"network.routers[0].ruleset\""},
      {"b: {mtu: 1400", "c: {mtu: 1400", ":12: field \"network.routers[0].links.c\""},
      {"loss: 0.5", "loss: 200", ":12: field \"network.routers[0].links.b.loss\""},
      {"loss: 0.5", "jitter: 1s", ":12: field \"network.routers[0].links.b.jitter\""},
      {"via: r1", "via: r9", ":14: field \"network.routes[0].via\""},
      {"monitor: a", "monitor: z", "field \"network.placement.monitor\""},
      {"node1: a", "nodeX: a", ":15: field \"network.placement.nodeX\""},
      {"name: r1", "name: node1", ":8: field \"network.routers[0].name\""},
      {"name: lab", "name: lab\n  color: red", ":4: field \"network.color\""},
      {"version: 1", "version: 2", ":1: field \"version\""},
  };
  for (const auto& [from, to, expected] : cases) {
    auto p = parse(replaced(good, from, to));
    ASSERT_FALSE(p.ok()) << to;
    EXPECT_NE(p.error().message.find(expected), std::string::npos)
        << to << " -> " << p.error().message;
    EXPECT_EQ(p.error().message.rfind((dir_ / "p.yaml").string(), 0), 0u) << p.error().message;
  }
  auto latency_and_rate = parse(replaced(good, "loss: 0.5", "latency: 5ms"));
  ASSERT_FALSE(latency_and_rate.ok());
  EXPECT_NE(latency_and_rate.error().message.find(":12: field \"network.routers[0].links.b\""),
            std::string::npos)
      << latency_and_rate.error().message;
}

TEST(VendorPack, TheShippedProfileAndPackFitTogether) {
  auto p = parse_network_profile_file(kVendorDir + "/two-zones.yaml");
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  EXPECT_EQ(p->topology.zones.size(), 2u);
  EXPECT_EQ(p->topology.routers.size(), 2u);
  EXPECT_EQ(p->ruleset_files.size(), 2u);
  int scenarios = 0;
  for (const auto& e : std::filesystem::directory_iterator(kVendorDir + "/pack")) {
    if (e.path().extension() != ".yaml") continue;
    auto sc = parse_scenario_file(e.path().string());
    ASSERT_TRUE(sc.ok()) << sc.error().to_string();
    EXPECT_TRUE(check_scenario_network(*sc, &*p).ok()) << e.path();
    /* Without a profile the pack's faults cannot run: said before anything starts. */
    EXPECT_FALSE(check_scenario_network(*sc, nullptr).ok()) << e.path();
    ++scenarios;
  }
  EXPECT_EQ(scenarios, 4);
}

const char* kScenario = R"(version: 1
name: zoned
formation: {nodes: 2}
phases: {faults: 20s}
network:
  name: inline
  zones:
    - {name: dc1, subnet: 198.18.1.0/24}
    - {name: dc2, subnet: 198.18.2.0/24}
  routers:
    - {name: fw, zones: [dc1, dc2]}
  placement: {node2: dc2}
faults:
  - name: cut
    at: 1s
    action: zone_partition
    zones: [dc1, dc2]
    mode: reject
    duration: 5s
  - name: hole
    at: 2s
    action: path_mtu
    router: fw
    zone: dc2
    mtu: 1280
    duration: 5s
  - name: state
    at: 3s
    action: firewall_reset
    router: fw
)";

TEST(NetworkFaults, AScenarioCarriesItsOwnNetworkSection) {
  auto sc = parse_scenario(kScenario, "zoned.yaml");
  ASSERT_TRUE(sc.ok()) << sc.error().to_string();
  ASSERT_TRUE(sc->network.has_value());
  EXPECT_EQ(sc->network->name, "inline");
  EXPECT_EQ(sc->faults[0].action, FaultAction::ZonePartition);
  EXPECT_EQ(sc->faults[0].mode, FaultMode::Reject);
  EXPECT_EQ(sc->faults[1].mtu, 1280);
  EXPECT_EQ(sc->faults[2].router, "fw");
  EXPECT_FALSE(sc->faults[2].duration_ms.has_value());
}

TEST(NetworkFaults, BadNamesAndFieldsAreRejectedNamingTheField) {
  const std::string s = kScenario;
  const std::vector<std::pair<std::pair<std::string, std::string>, std::string>> cases = {
      {{"zones: [dc1, dc2]\n    mode", "zones: [dc1, dc9]\n    mode"},
       "field \"faults[0].zones\": unknown zone \"dc9\""},
      {{"router: fw\n    zone", "router: fw9\n    zone"}, "field \"faults[1].router\""},
      {{"mtu: 1280", "mtu: 100"}, ":25: field \"faults[1].mtu\""},
      {{"mtu: 1280", "mtu: 1280\n    via: fw"}, "field \"faults[1].via\": is not valid"},
      {{"action: firewall_reset\n", "action: firewall_reset\n    duration: 1s\n"},
       "faults[2].duration"},
      {{"zones: [dc1, dc2]\n    mode", "zones: [dc1]\n    mode"}, "field \"faults[0].zones\""},
      {{"action: firewall_reset", "action: firewall_reset\n    target: primary"},
       "field \"faults[2].target\""},
      {{"{name: fw, zones: [dc1, dc2]}", "{name: fw, zones: [dc1, dc3]}"},
       "field \"network.routers[0].zones[1]\""},
  };
  for (const auto& [edit, expected] : cases) {
    auto sc = parse_scenario(replaced(s, edit.first, edit.second), "zoned.yaml");
    ASSERT_FALSE(sc.ok()) << edit.second;
    EXPECT_NE(sc.error().message.find(expected), std::string::npos)
        << edit.second << " -> " << sc.error().message;
  }
}

TEST(Certification, CertifiedOnlyWhenEveryInvariantPassed) {
  Certification c;
  c.profile.name = "p<1>";
  EXPECT_FALSE(certified(c)); /* nothing ran: nothing certified */
  ScenarioReport a;
  a.name = "a";
  a.outcome = ScenarioOutcome::Passed;
  FaultRto rto;
  rto.fault = "wan-cut";
  rto.recovered = true;
  rto.unavailable_ms = 4200;
  a.checks.rto.push_back(rto);
  c.results = {a};
  c.pgaf_version = "pg_autoctl (pgaf) 0.1.0";
  EXPECT_TRUE(certified(c));
  auto j = certification_json(c);
  EXPECT_EQ(j["verdict"], "certified");
  EXPECT_EQ(j["invariants"][0]["rto"][0]["fault"], "wan-cut");
  EXPECT_EQ(j["pgaf_version"], "pg_autoctl (pgaf) 0.1.0");
  const std::string html = render_certification_html(c);
  EXPECT_NE(html.find("CERTIFIED"), std::string::npos);
  EXPECT_NE(html.find("wan-cut: 4.2 s unavailable"), std::string::npos);
  EXPECT_NE(html.find("p&lt;1&gt;"), std::string::npos);
  ScenarioReport b;
  b.name = "b";
  b.outcome = ScenarioOutcome::Skipped;
  b.message = "needs netem";
  c.results.push_back(b);
  EXPECT_FALSE(certified(c));
  EXPECT_EQ(certification_json(c)["verdict"], "not certified");
  EXPECT_EQ(certification_json(c)["invariants"][1]["why"], "needs netem");
  EXPECT_NE(render_certification_html(c).find("NOT CERTIFIED"), std::string::npos);
}

}  // namespace
