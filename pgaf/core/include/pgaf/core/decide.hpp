/*
 * decide.hpp — the failover state machine as a pure function.
 *
 *   decide(group snapshot, event, settings, now) → Decision
 *
 * No I/O, no clock, no globals: the same inputs always give the same Decision. The monitor
 * extension loads a snapshot under the group lock, calls decide(), and writes the Decision back;
 * the simulator calls the very same function.
 *
 * The rules follow pg_auto_failover 2.2 (../shared/reference/upstream-design.md §3, §9) except:
 *  - the primary is judged lost by its lease (docs/design/fencing.md), not by a 20 s silence;
 *  - the write-enabling step of a failover (stop_replication → wait_primary) waits for the old
 *    primary to be provably fenced (its lease and every standby vouch expired), not a fixed 30 s;
 *  - a wait_primary primary gets draining/demote_timeout edges (upstream #1168).
 *
 * Invariants asserted on every Decision (a violation is a bug in this file, not bad input):
 *  - at most one node of a group has a writable goal;
 *  - a node with candidate priority 0 is never promoted;
 *  - no node is promoted past a quorum standby that has not reported its LSN.
 */
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "pgaf/core/node.hpp"
#include "pgaf/core/settings.hpp"

namespace pgaf {

/* ---- events ---- */

/* A node's periodic report (node_active). */
struct NodeActiveEvent {
  NodeId node_id = 0;
  NodeState reported_state = NodeState::Init;
  bool pg_is_running = true;
  int tli = 0;       /* 0 = unknown, keep the stored value */
  Lsn lsn = 0;       /* 0 = unknown, keep the stored value */
  std::string sync_state;
  /* Orders the reports of one node (simulator finding F10: a report delayed past the agent's
   * timeout is still executed after newer ones). Strictly increasing per node; 0 = not given
   * (pg_auto_failover's agents): always applied. A report whose seq is not above the last one
   * applied is stale: it changes nothing and is answered with the current goal. */
  std::int64_t report_seq = 0;
  /* From a primary: the standbys that have not acknowledged its WAL for standby_ack_timeout_ms
   * (WalAckTracker). nullopt = not reported (pg_auto_failover's agents, or not a primary): the
   * stored verdicts stay as they are. */
  std::optional<std::vector<NodeId>> stale_standbys;
};

/* register_node: the caller has allocated the id; name may be empty (→ node_<id>). */
struct RegisterEvent {
  Node node;                                    /* id, name, host, port, priority, quorum, cluster */
  NodeState initial_state = NodeState::Init;    /* what the caller says it is */
};

struct RemoveEvent {
  NodeId node_id = 0;
  bool force = false;
};

struct PerformFailoverEvent {};
struct PerformPromotionEvent {
  NodeId node_id = 0;
};
struct StartMaintenanceEvent {
  NodeId node_id = 0;
};
struct StopMaintenanceEvent {
  NodeId node_id = 0;
};
struct SetCandidatePriorityEvent {
  NodeId node_id = 0;
  int candidate_priority = 0;
};
struct SetReplicationQuorumEvent {
  NodeId node_id = 0;
  bool replication_quorum = true;
};
struct SetNumberSyncStandbysEvent {
  int number_sync_standbys = 0;
};
/* A health-check result from the monitor's background worker. */
struct HealthCheckEvent {
  NodeId node_id = 0;
  Health health = Health::Unknown;
};
/* Time passed: re-evaluate every node (the monitor's worker sends one per round; this is how a
 * lease expiry is acted on even when no node reports). */
struct TickEvent {};

using Event = std::variant<NodeActiveEvent, RegisterEvent, RemoveEvent, PerformFailoverEvent,
                           PerformPromotionEvent, StartMaintenanceEvent, StopMaintenanceEvent,
                           SetCandidatePriorityEvent, SetReplicationQuorumEvent,
                           SetNumberSyncStandbysEvent, HealthCheckEvent, TickEvent>;

std::string_view event_name(const Event& e);

/* ---- decisions ---- */

struct GoalAssignment {
  NodeId node_id = 0;
  NodeState from = NodeState::Init; /* previous goal */
  NodeState goal = NodeState::Init;
  std::string description; /* "Setting goal state of node 2 "node_2" (h:p) to catchingup after ..." */
};

enum class MessageLevel { Log, Notice, Warning };
struct Message {
  MessageLevel level = MessageLevel::Log;
  std::string text;
};

struct Decision {
  /* The group after the event: reports applied, goals assigned, priorities restored, nodes
   * that reached dropped removed. The caller writes back what differs from its snapshot. */
  GroupSnapshot after;
  std::vector<GoalAssignment> assignments; /* in the order they were made */
  std::vector<Message> messages;           /* log / notice / warning, in order */
  std::vector<NodeId> deleted;             /* rows to delete */
  bool reported_state_changed = false;     /* for NodeActive: the node reported a new state */
  bool stale_report = false;               /* for NodeActive: ignored, see report_seq */
  bool health_changed = false;             /* for HealthCheck */
  /* PerformPromotion on a node already primary returns false (a NOTICE, not an error). */
  bool result = true;
};

Result<Decision> decide(const GroupSnapshot& snapshot, const Event& event,
                        const Settings& settings, TimeMs now_ms);

/* ---- health predicates (exposed for tests, the monitor's views and the simulator) ---- */
bool is_unhealthy(const Node& n, const GroupSnapshot& g, const Settings& s, TimeMs now_ms);
bool is_healthy(const Node& n, const Settings& s, TimeMs now_ms);
/* The primary is lost: its lease has provably expired on the monitor's clock and the monitor
 * has evidence it is down (failed health check after its last report, or it reported Postgres
 * not running). */
bool primary_lease_expired(const Node& primary, const Settings& s, TimeMs now_ms);
/* Every quorum standby that could vouch for the old primary has provably stopped doing so. */
bool standby_vouch_expired(const GroupSnapshot& g, NodeId old_primary, const Settings& s,
                           TimeMs now_ms);
bool is_in_primary_state(const Node& n);

/* Nodes of the group with a writable goal (invariant: at most one). */
int count_writable_goals(const GroupSnapshot& g);

}  // namespace pgaf
