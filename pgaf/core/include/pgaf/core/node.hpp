/*
 * node.hpp — what the monitor knows about a node, a formation and a group.
 *
 * All times are on the monitor's clock (milliseconds). A GroupSnapshot is the input of decide();
 * nodes are kept ordered by id, as the reference orders them (ORDER BY nodeid).
 */
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pgaf/core/settings.hpp"
#include "pgaf/core/state.hpp"

namespace pgaf {

using NodeId = std::int64_t;
using GroupId = int;

enum class Health : int { Unknown = -1, Bad = 0, Good = 1 };
std::string_view to_string(Health h); /* "unknown", "bad", "good" */

enum class FormationKind { Pgsql, Citus };
std::string_view to_string(FormationKind k);
Result<FormationKind> parse_formation_kind(std::string_view s);

inline constexpr int kMaxCandidatePriority = 100;

struct Node {
  NodeId id = 0;
  GroupId group_id = 0;
  std::string name;
  std::string host;
  int port = 5432;
  std::string node_cluster = "default";
  std::int64_t sysidentifier = 0; /* 0 = not known yet */

  /* Stored priority. May transiently be > 100 (perform_promotion) or < 0 (perform_failover),
   * as in the reference; user input is validated to 0..100. */
  int candidate_priority = 100;
  bool replication_quorum = true;

  NodeState reported_state = NodeState::Init;
  NodeState goal_state = NodeState::Init;
  bool pg_is_running = true;
  int reported_tli = 1;
  Lsn reported_lsn = 0;
  std::string sync_state; /* '', sync, async, quorum, potential */
  Health health = Health::Unknown;

  TimeMs report_time_ms = 0;        /* last node_active received */
  TimeMs health_check_time_ms = 0;  /* last health-check result */
  TimeMs state_change_time_ms = 0;  /* last change of goal or reported state */
  TimeMs wal_report_time_ms = 0;    /* last report that carried an LSN */
  /* Fencing: monitor time of the first report in which this node said it had stopped streaming
   * from the primary (a reported state where state_streams_from_primary() is false), or -1 while
   * it may still be streaming. See docs/design/fencing.md. */
  TimeMs stream_stop_time_ms = -1;
  /* Fencing: monitor time of the last report this node got a writable goal in reply to (the
   * agent's lease runs from before that report), or -1 if it never did. */
  TimeMs lease_granted_ms = -1;
  /* report_seq of the last node_active applied (0 = none, or the agent does not send one). */
  std::int64_t last_report_seq = 0;
  /* One-way partitions: the id of the primary whose last report said this standby does not
   * acknowledge its WAL (see wal_acks.hpp), or 0. It only counts while that node is still the
   * primary: such a standby is not counted for synchronous replication. */
  NodeId wal_ack_stale_by = 0;

  bool converged(NodeState s) const { return reported_state == s && goal_state == s; }
};

struct Formation {
  std::string id = "default";
  FormationKind kind = FormationKind::Pgsql;
  std::string dbname = "postgres";
  bool opt_secondary = true;
  int number_sync_standbys = 0;
};

struct GroupSnapshot {
  Formation formation;
  GroupId group_id = 0;
  std::vector<Node> nodes;        /* ordered by id; includes nodes with goal dropped */
  TimeMs monitor_start_ms = 0;    /* when the monitor started (for startup_grace_period_ms) */

  const Node* find(NodeId id) const;
  Node* find(NodeId id);
};

/* Node description for messages: node 2 "node_2" (10.0.0.2:5432) */
std::string describe(const Node& n);

}  // namespace pgaf
