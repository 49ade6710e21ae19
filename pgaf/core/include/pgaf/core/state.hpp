/*
 * state.hpp — node states, with exactly the wire names of pg_auto_failover.
 *
 * The enumerator order is the SQL enum order of pgautofailover.replication_state (minus "unknown",
 * which is last here), so the names are the wire format and never change.
 */
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "pgaf/core/error.hpp"

namespace pgaf {

enum class NodeState : int {
  Init = 0,
  Single,
  WaitPrimary,
  Primary,
  Draining,
  DemoteTimeout,
  Demoted,
  Catchingup,
  Secondary,
  PreparePromotion,
  StopReplication,
  WaitStandby,
  Maintenance,
  JoinPrimary,
  ApplySettings,
  PrepareMaintenance,
  WaitMaintenance,
  ReportLsn,
  FastForward,
  JoinSecondary,
  Dropped,
  Unknown,
};

inline constexpr int kNodeStateCount = 22; /* including Unknown */

/* Every real state (without Unknown), in enum order. */
const std::array<NodeState, 21>& all_node_states();

/* Wire name: "wait_primary", ... ("unknown" for Unknown). */
std::string_view to_string(NodeState s);

/* Parse a wire name; an unknown name is an ErrorCode::UnknownState error naming it. */
Result<NodeState> parse_node_state(std::string_view name);

/* Predicates of the reference (names kept so the rules read the same). */
bool can_take_writes_in_state(NodeState s);        /* single, wait_primary, primary, join_primary, apply_settings */
/* The same predicate on a wire name, for code that holds names (lab, CLI, reports): never test
 * writability with string comparisons. "", "unknown" and names that are not states are not
 * writable. */
bool can_take_writes_in_state(std::string_view wire_name);
bool can_initiate_failover(NodeState s);           /* single, primary, join_primary */
bool state_belongs_to_primary(NodeState s);        /* writable ∪ draining, demote_timeout, prepare_maintenance */
bool is_maintenance_goal(NodeState s);             /* prepare_maintenance, wait_maintenance, maintenance */
/* States in which the keeper runs Postgres as a standby streaming from the primary: its WAL
 * receiver may be vouching for the primary's lease (see docs/design/fencing.md). */
bool state_streams_from_primary(NodeState s);

/* A node's reported replication sync state (pg_stat_replication.sync_state of its best
 * standby), as the reference stores it: "" and "unknown" are "unknown"; "sync", "async",
 * "quorum" and "potential" are kept; anything else is an ErrorCode::InvalidArgument error. */
Result<std::string> parse_sync_state(std::string_view name);
/* What a node registered but not reported yet has (the reference's column default). */
inline constexpr std::string_view kRegisteredSyncState = "async";

}  // namespace pgaf
