/*
 * state.cpp — state names (the wire format) and the reference's state predicates.
 */
#include "pgaf/core/state.hpp"

#include <string>

namespace pgaf {

namespace {
constexpr std::array<std::string_view, kNodeStateCount> kNames = {
    "init",         "single",        "wait_primary",     "primary",
    "draining",     "demote_timeout", "demoted",         "catchingup",
    "secondary",    "prepare_promotion", "stop_replication", "wait_standby",
    "maintenance",  "join_primary",  "apply_settings",   "prepare_maintenance",
    "wait_maintenance", "report_lsn", "fast_forward",    "join_secondary",
    "dropped",      "unknown",
};

std::array<NodeState, 21> make_all() {
  std::array<NodeState, 21> a{};
  for (int i = 0; i < 21; ++i) a[static_cast<std::size_t>(i)] = static_cast<NodeState>(i);
  return a;
}
}  // namespace

const std::array<NodeState, 21>& all_node_states() {
  static const std::array<NodeState, 21> all = make_all();
  return all;
}

std::string_view to_string(NodeState s) {
  const int i = static_cast<int>(s);
  PGAF_ASSERT(i >= 0 && i < kNodeStateCount, "node state out of range");
  return kNames[static_cast<std::size_t>(i)];
}

Result<NodeState> parse_node_state(std::string_view name) {
  for (int i = 0; i < kNodeStateCount; ++i) {
    if (kNames[static_cast<std::size_t>(i)] == name) return static_cast<NodeState>(i);
  }
  return make_error(ErrorCode::UnknownState,
                    "invalid node state \"" + std::string(name) + "\"",
                    "valid states are init, single, wait_primary, primary, draining, "
                    "demote_timeout, demoted, catchingup, secondary, prepare_promotion, "
                    "stop_replication, wait_standby, maintenance, join_primary, apply_settings, "
                    "prepare_maintenance, wait_maintenance, report_lsn, fast_forward, "
                    "join_secondary, dropped");
}

bool can_take_writes_in_state(NodeState s) {
  return s == NodeState::Single || s == NodeState::WaitPrimary || s == NodeState::Primary ||
         s == NodeState::JoinPrimary || s == NodeState::ApplySettings;
}

bool can_take_writes_in_state(std::string_view wire_name) {
  const auto s = parse_node_state(wire_name);
  return s.ok() && can_take_writes_in_state(*s);
}

Result<std::string> parse_sync_state(std::string_view name) {
  if (name.empty() || name == "unknown") return std::string("unknown");
  for (std::string_view known : {"sync", "async", "quorum", "potential"})
    if (name == known) return std::string(known);
  return make_error(ErrorCode::InvalidArgument,
                    "unknown replication sync state \"" + std::string(name) + "\"",
                    "valid sync states are sync, async, quorum, potential and unknown (or empty)");
}

bool can_initiate_failover(NodeState s) {
  return s == NodeState::Single || s == NodeState::Primary || s == NodeState::JoinPrimary;
}

bool state_belongs_to_primary(NodeState s) {
  return can_take_writes_in_state(s) || s == NodeState::Draining ||
         s == NodeState::DemoteTimeout || s == NodeState::PrepareMaintenance;
}

bool is_maintenance_goal(NodeState s) {
  return s == NodeState::PrepareMaintenance || s == NodeState::WaitMaintenance ||
         s == NodeState::Maintenance;
}

bool state_streams_from_primary(NodeState s) {
  switch (s) {
    case NodeState::Catchingup:
    case NodeState::Secondary:
    case NodeState::WaitMaintenance:
    case NodeState::Maintenance: /* operator owns Postgres: it may well be streaming */
      return true;
    default:
      return false;
  }
}

}  // namespace pgaf
