/*
 * keeper_table.hpp — the keeper transition table: (current, goal) → the named steps the agent
 * performs to get there.
 *
 * One table, used by the real agent (which maps each step to Postgres operations) and by the
 * simulator (which maps each step to its simulated Postgres). A test explores every state
 * decide() can reach for groups of 1–4 nodes and checks that each goal it assigns has an edge
 * here from the state the node is in.
 */
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "pgaf/core/state.hpp"

namespace pgaf {

enum class KeeperStep {
  InitPrimary,           /* initdb if needed, start Postgres as a primary, no sync rep */
  InitFromStandby,       /* base backup from the most advanced standby, recovery_target_lsn */
  InitStandby,           /* pg_basebackup from the primary (its slot), start as standby */
  StartPostgres,         /* start Postgres as it is configured */
  StopPostgres,          /* stop Postgres and keep it stopped */
  CheckpointAndStop,     /* RESET primary_conninfo, CHECKPOINT, stop */
  StopForMaintenance,    /* primary going to maintenance: CHECKPOINT twice, stop */
  SetupStandbyNoUpstream,/* standby.signal with no primary_conninfo */
  DisableSyncRep,        /* synchronous_standby_names = '' + cancel SyncRep waiters */
  EnableSyncRep,         /* fetch synchronous_standby_names from the monitor, apply, wait catch-up */
  ApplySettings,         /* fetch and apply synchronous_standby_names */
  MaintainSlots,         /* replication slot for every other node */
  StopWalReceiver,       /* stop streaming from the primary (ends this node's vouch) */
  SetReadOnly,           /* default_transaction_read_only = on */
  SetReadWrite,          /* default_transaction_read_only = off */
  Promote,               /* pg_ctl promote, wait until out of recovery, CHECKPOINT */
  CleanupStandbySetup,   /* remove recovery settings */
  RewindOrBaseBackup,    /* pg_rewind from the primary, falling back to pg_basebackup */
  DropLocalSlots,        /* drop every local replication slot */
  FollowPrimary,         /* rewrite primary_conninfo to the current primary, restart */
  CheckTimeline,         /* local timeline equals the upstream's */
  RestartWithoutUpstream,/* report_lsn: restart with no primary_conninfo: the LSN freezes */
  FastForward,           /* stream from the most advanced standby up to its LSN */
  ReleaseToOperator,     /* maintenance: stop managing Postgres */
  DropNode,              /* stop Postgres, forget the node */
};

std::string_view to_string(KeeperStep s);

struct KeeperTransition {
  NodeState from;
  NodeState to;
  std::vector<KeeperStep> steps; /* empty = adopt the new state, nothing to do */
  std::string_view comment;
};

/* The whole table, in lookup order. A row with from == Unknown matches any current state. */
const std::vector<KeeperTransition>& keeper_transitions();

/* The first matching row, or nullopt: "pg_autoctl does not know how to reach state X from Y". */
std::optional<KeeperTransition> find_keeper_transition(NodeState from, NodeState to);

/* Test hook: remove one edge from the table (to show the reachability test fails). */
void keeper_table_remove_edge_for_test(NodeState from, NodeState to);
void keeper_table_reset_for_test();

/* Graphviz / Mermaid rendering of the table (docs/fsm.md is generated from it). */
std::string keeper_table_mermaid();

}  // namespace pgaf
