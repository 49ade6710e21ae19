/*
 * scenario_test.cpp — the scenario format: a valid file parses to the documented values, and
 * every kind of malformed file is rejected with file, line and field in the message. Also checks
 * that every scenario shipped in scenarios/ parses and that the smoke subset exists.
 */
#include "pgaf/lab/scenario.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

using namespace pgaf::lab;

namespace {

const char* kValid = R"(version: 1
name: primary-crash
description: kill the primary postmaster
tags: [smoke, crash]
seed: 42
timeout: 10m
formation:
  nodes: 3
  candidate_priorities: [50, 60, 0]
  replication_quorum: [true, true, true]
  number_sync_standbys: 1
  synchronous_commit: remote_apply
  node_disk_mb: 128
  settings:
    lease_ms: 3000
  stable_timeout: 90s
  agent_env:
    PGAF_TEST_FLAG: "1"
workload:
  clients: 4
  rate: 50
  op_timeout: 1500ms
phases:
  warmup: 3s
  warmup_min_ok_ratio: 0.9
  faults: 30s
  converge_within: 1m
  cooldown: 2s
faults:
  - name: kill-pm
    at: 2s
    action: kill
    target: primary
    process: postmaster
  - name: cut
    when: {node: node2, state: report_lsn, delay: 500ms}
    action: oneway
    target: primary
    to: node2
    mode: reject
    duration: 5s
  - name: mon
    at: 10s
    action: monitor_loss
    restart_after: 3s
expect:
  rto_max: 20s
  failover: required
  final_states: {primary: 1, secondary: 1, catchingup: 1}
)";

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << "test bug: " << from;
  if (pos != std::string::npos) s.replace(pos, from.size(), to);
  return s;
}

}  // namespace

TEST(Scenario, ValidFileParsesToDocumentedValues) {
  auto r = parse_scenario(kValid, "valid.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Scenario& s = *r;
  EXPECT_EQ(s.name, "primary-crash");
  EXPECT_TRUE(s.has_tag("smoke"));
  EXPECT_EQ(s.seed, 42u);
  EXPECT_EQ(s.timeout_ms, 600000);
  EXPECT_EQ(s.formation.nodes, 3);
  EXPECT_EQ(s.formation.candidate_priorities, (std::vector<int>{50, 60, 0}));
  EXPECT_EQ(s.formation.replication_quorum, (std::vector<bool>{true, true, true}));
  EXPECT_EQ(s.formation.number_sync_standbys, 1);
  EXPECT_EQ(s.formation.synchronous_commit, SyncCommit::RemoteApply);
  EXPECT_EQ(s.formation.node_disk_mb, 128);
  ASSERT_EQ(s.formation.settings.size(), 1u);
  EXPECT_EQ(s.formation.settings[0].first, "lease_ms");
  EXPECT_EQ(s.formation.stable_timeout_ms, 90000);
  EXPECT_EQ(s.workload.clients, 4);
  EXPECT_EQ(s.workload.rate_per_client, 50);
  EXPECT_EQ(s.workload.op_timeout_ms, 1500);
  EXPECT_EQ(s.phases.warmup_ms, 3000);
  EXPECT_DOUBLE_EQ(s.phases.warmup_min_ok_ratio, 0.9);
  ASSERT_EQ(s.faults.size(), 3u);
  EXPECT_EQ(s.faults[0].action, FaultAction::Kill);
  EXPECT_EQ(s.faults[0].process, ProcessKind::Postmaster);
  EXPECT_EQ(*s.faults[0].trigger.at_ms, 2000);
  EXPECT_EQ(s.faults[0].line, 30);
  EXPECT_FALSE(s.faults[1].trigger.at_ms.has_value());
  ASSERT_TRUE(s.faults[1].trigger.when.has_value());
  EXPECT_EQ(s.faults[1].trigger.when->state, "report_lsn");
  EXPECT_EQ(s.faults[1].trigger.when->node.kind, Target::Kind::Node);
  EXPECT_EQ(s.faults[1].trigger.when->node.node_index, 1);
  EXPECT_EQ(s.faults[1].trigger.when->delay_ms, 500);
  EXPECT_EQ(s.faults[1].mode, FaultMode::Reject);
  EXPECT_EQ(s.faults[1].to->to_string(), "node2");
  EXPECT_EQ(*s.faults[1].duration_ms, 5000);
  EXPECT_EQ(s.faults[2].target.kind, Target::Kind::Monitor);
  EXPECT_EQ(*s.faults[2].restart_after_ms, 3000);
  EXPECT_EQ(*s.expect.rto_max_ms, 20000);
  EXPECT_EQ(s.expect.failover, FailoverExpectation::Required);
  EXPECT_EQ(s.expect.final_states.at("catchingup"), 1);
  EXPECT_TRUE(s.sync_replication());
  EXPECT_EQ(s.effective_lost_writes_max(), 0);
}

TEST(Scenario, DefaultsAreFilled) {
  auto r = parse_scenario(
      "version: 1\nname: tiny\nformation: {nodes: 2, synchronous_commit: local}\n", "t.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->formation.candidate_priorities, (std::vector<int>{50, 50}));
  EXPECT_EQ(r->expect.final_states.at("primary"), 1);
  EXPECT_EQ(r->expect.final_states.at("secondary"), 1);
  EXPECT_FALSE(r->sync_replication());
  EXPECT_FALSE(r->effective_lost_writes_max().has_value()); /* async: RPO counted, not bounded */
}

struct BadCase {
  const char* what;
  std::string from, to;
  int line;
  const char* field;
  const char* words;
};

TEST(Scenario, MalformedInputIsRejectedWithFileLineAndField) {
  const std::vector<BadCase> cases = {
      {"unknown top-level field", "seed: 42", "seed: 42\nsede: 1", 6, "sede", "unknown field"},
      {"missing unit", "timeout: 10m", "timeout: 600", 6, "timeout", "needs a unit"},
      {"bad unit", "warmup: 3s", "warmup: 3h", 24, "phases.warmup", "unknown unit"},
      {"nodes out of range", "nodes: 3", "nodes: 9", 8, "formation.nodes", "out of range"},
      {"priority list length", "candidate_priorities: [50, 60, 0]",
       "candidate_priorities: [50, 60]", 9, "formation.candidate_priorities", "has 2 entries"},
      {"priority out of range", "candidate_priorities: [50, 60, 0]",
       "candidate_priorities: [50, 160, 0]", 9, "formation.candidate_priorities[1]",
       "out of range"},
      {"sync standbys beyond quorum", "number_sync_standbys: 1", "number_sync_standbys: 2", 11,
       "formation.number_sync_standbys", "needs at least 3 quorum standbys"},
      {"bad synchronous_commit", "synchronous_commit: remote_apply", "synchronous_commit: maybe",
       12, "formation.synchronous_commit", "unknown value \"maybe\""},
      {"unknown setting", "lease_ms: 3000", "lease_msec: 3000", 15, "formation.settings.lease_msec",
       ""},
      {"bad agent_env", "PGAF_TEST_FLAG", "lower_case", 18, "formation.agent_env.lower_case",
       "upper-case"},
      {"unknown action", "action: kill", "action: kil", 32, "faults[0].action",
       "unknown value \"kil\""},
      {"unknown target", "target: primary\n    process", "target: primray\n    process", 33,
       "faults[0].target", "unknown target"},
      {"missing node", "to: node2", "to: node7", 39, "faults[1].to", "does not exist"},
      {"unknown state", "state: report_lsn", "state: report_lssn", 36, "faults[1].when.state",
       "unknown FSM state"},
      {"both triggers", "  - name: mon\n    at: 10s",
       "  - name: mon\n    when: {state: primary}\n    at: 10s", 42, "faults[2]",
       "exactly one trigger"},
      {"kill without process", "    process: postmaster\n", "", 30, "faults[0].process",
       "is required"},
      {"duration on kill", "    process: postmaster\n",
       "    process: postmaster\n    duration: 3s\n", 35, "faults[0].duration",
       "not valid for kill"},
      {"at beyond phase", "at: 2s", "at: 40s", 31, "faults[0].at", "out of range"},
      {"duplicate fault names", "name: mon", "name: cut", 42, "faults[2].name", "duplicate"},
      {"final states sum", "secondary: 1, catchingup: 1", "secondary: 1", 49, "expect.final_states",
       "add up to 2"},
      {"bad failover", "failover: required", "failover: maybe", 48, "expect.failover",
       "unknown value"},
      {"bad name", "name: primary-crash", "name: Primary Crash", 2, "name", "[a-z0-9_-]"},
      {"timeout too short", "timeout: 10m", "timeout: 60s", 6, "timeout",
       "shorter than its phases"},
      {"wrong version", "version: 1", "version: 2", 1, "version", "out of range"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string text = replace(kValid, c.from, c.to);
    auto r = parse_scenario(text, "scenarios/x.yaml");
    ASSERT_FALSE(r.ok()) << c.what;
    const std::string& m = r.error().message;
    EXPECT_EQ(r.error().code, pgaf::ErrorCode::InvalidArgument);
    EXPECT_EQ(m.rfind("scenarios/x.yaml:" + std::to_string(c.line) + ": ", 0), 0u) << m;
    EXPECT_NE(m.find(std::string("field \"") + c.field + "\""), std::string::npos) << m;
    EXPECT_NE(m.find(c.words), std::string::npos) << m;
  }
}

TEST(Scenario, BadFilesOnDiskNameFileLineAndField) {
  const std::string dir = LAB_TEST_DATA_DIR;
  struct F {
    const char* file;
    int line;
    const char* needle;
  };
  for (const F& f :
       {F{"bad_unknown_field.yaml", 11, "field \"faults[0].durration\": unknown field"},
        F{"bad_state.yaml", 10,
          "field \"faults[0].when.state\": unknown FSM state \"report_lssn\""},
        F{"bad_syntax.yaml", 6, "malformed YAML"},
        F{"bad_setting.yaml", 7, "field \"formation.settings.lease_millis\""}}) {
    const std::string path = dir + "/" + f.file;
    auto r = parse_scenario_file(path);
    ASSERT_FALSE(r.ok()) << f.file;
    EXPECT_EQ(r.error().message.rfind(path + ":" + std::to_string(f.line) + ":", 0), 0u)
        << r.error().message;
    EXPECT_NE(r.error().message.find(f.needle), std::string::npos) << r.error().message;
  }
  auto missing = parse_scenario_file(dir + "/does-not-exist.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("could not open"), std::string::npos);
}

TEST(Scenario, EmptyFileIsRejected) {
  auto r = parse_scenario("", "empty.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("empty.yaml:1: the file is empty"), std::string::npos)
      << r.error().message;
}

TEST(Scenario, ShippedScenariosAllParseAndCoverTheSeedCases) {
  namespace fs = std::filesystem;
  int count = 0, smoke = 0;
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(LAB_SCENARIOS_DIR)) {
    if (e.path().extension() != ".yaml") continue;
    auto r = parse_scenario_file(e.path().string());
    ASSERT_TRUE(r.ok()) << r.error().message;
    ++count;
    smoke += r->has_tag("smoke") ? 1 : 0;
    EXPECT_TRUE(names.insert(r->name).second) << "duplicate scenario name " << r->name;
    EXPECT_EQ(e.path().stem().string(), r->name) << "file name must match the scenario name";
  }
  EXPECT_GE(count, 12);
  EXPECT_GE(smoke, 1);
  EXPECT_LE(smoke, 4); /* the smoke subset must fit in 10 minutes */
  /* the scenario built to violate an invariant parses too */
  auto v = parse_scenario_file(std::string(LAB_SCENARIOS_DIR) +
                               "/violations/fencing-disabled-split-brain.yaml");
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_TRUE(v->has_tag("violation"));
}
