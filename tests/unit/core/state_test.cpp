/* state_test.cpp — wire names of node states and the reference's state predicates. */
#include <gtest/gtest.h>

#include "pgaf/core/state.hpp"

namespace pgaf {
namespace {

TEST(State, WireNamesRoundTrip) {
  const char* expected[] = {"init",          "single",          "wait_primary",
                            "primary",       "draining",        "demote_timeout",
                            "demoted",       "catchingup",      "secondary",
                            "prepare_promotion", "stop_replication", "wait_standby",
                            "maintenance",   "join_primary",    "apply_settings",
                            "prepare_maintenance", "wait_maintenance", "report_lsn",
                            "fast_forward",  "join_secondary",  "dropped"};
  ASSERT_EQ(all_node_states().size(), 21u);
  for (std::size_t i = 0; i < 21; ++i) {
    EXPECT_EQ(to_string(all_node_states()[i]), expected[i]);
    auto parsed = parse_node_state(expected[i]);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, all_node_states()[i]);
  }
}

TEST(State, UnknownNameIsAClearError) {
  auto r = parse_node_state("primaryy");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::UnknownState);
  EXPECT_NE(r.error().message.find("\"primaryy\""), std::string::npos);
  EXPECT_FALSE(r.error().hint.empty());
  EXPECT_FALSE(parse_node_state("").ok());
  EXPECT_FALSE(parse_node_state("PRIMARY").ok());
}

TEST(State, WritableStates) {
  for (auto s : all_node_states()) {
    const bool w = s == NodeState::Single || s == NodeState::WaitPrimary ||
                   s == NodeState::Primary || s == NodeState::JoinPrimary ||
                   s == NodeState::ApplySettings;
    EXPECT_EQ(can_take_writes_in_state(s), w) << to_string(s);
  }
}

/* The wire-name form agrees with the enum form on every state; non-states are not writable. */
TEST(State, WritableByWireName) {
  for (NodeState st : all_node_states()) {
    EXPECT_EQ(can_take_writes_in_state(to_string(st)), can_take_writes_in_state(st))
        << to_string(st);
  }
  for (const char* name : {"", "unknown", "Primary", "primary ", "writable", "wait-primary"}) {
    EXPECT_FALSE(can_take_writes_in_state(std::string_view(name))) << '"' << name << '"';
  }
}

TEST(State, BelongsToPrimary) {
  EXPECT_TRUE(state_belongs_to_primary(NodeState::Draining));
  EXPECT_TRUE(state_belongs_to_primary(NodeState::DemoteTimeout));
  EXPECT_TRUE(state_belongs_to_primary(NodeState::PrepareMaintenance));
  EXPECT_FALSE(state_belongs_to_primary(NodeState::Demoted));
  EXPECT_FALSE(state_belongs_to_primary(NodeState::Secondary));
}

TEST(State, StreamingStates) {
  EXPECT_TRUE(state_streams_from_primary(NodeState::Secondary));
  EXPECT_TRUE(state_streams_from_primary(NodeState::Catchingup));
  EXPECT_FALSE(state_streams_from_primary(NodeState::PreparePromotion));
  EXPECT_FALSE(state_streams_from_primary(NodeState::ReportLsn));
  EXPECT_FALSE(state_streams_from_primary(NodeState::StopReplication));
}

TEST(State, MaintenanceGoals) {
  EXPECT_TRUE(is_maintenance_goal(NodeState::PrepareMaintenance));
  EXPECT_TRUE(is_maintenance_goal(NodeState::WaitMaintenance));
  EXPECT_TRUE(is_maintenance_goal(NodeState::Maintenance));
  EXPECT_FALSE(is_maintenance_goal(NodeState::Secondary));
}

}  // namespace
}  // namespace pgaf
