/*
 * group_store.hpp — load a GroupSnapshot from the tables, run pgaf::decide(), write the
 * Decision back with its events and notifications.
 *
 * Locking protocol (no deadlock, no half decision):
 *  - every caller takes the formation lock first (share; exclusive for register_node), then at
 *    most one group lock at a time, and writes goal states only under the group lock in
 *    exclusive mode;
 *  - run_decision(try_shared = true) first takes the group lock in share mode, loads and decides;
 *    when the Decision changes nothing but the reporting node's own report columns, it writes
 *    that row and returns (cheap steady state; concurrent reporters of one group proceed in
 *    parallel). Otherwise it releases the share lock *before writing anything*, takes the lock
 *    in exclusive mode, reloads and decides again, and writes. Because nothing is written while
 *    waiting for the upgrade, no row lock is held across the wait: two upgraders cannot
 *    deadlock on rows;
 *  - share holders may write the same row (two reports of one node, a report and a health
 *    check): the shared path writes the reporter's row only if its xmin is still the one it
 *    loaded (no lost update, no stale write). Else it may now hold that row's lock (READ
 *    COMMITTED re-check), so it must not wait for the exclusive lock: it decides again in share
 *    mode (at most 3 times) and fails with BadState ("retry") if that needs the exclusive lock;
 *  - a stale node_active (report_seq not above the node's lastreportseq) writes nothing, inserts
 *    no event and sends no NOTIFY, in either path;
 *  - an exclusive holder reloads after acquiring the lock, and READ COMMITTED gives each of its
 *    statements a snapshot taken after every earlier holder committed.
 */
#pragma once

#include <string>

#include "db.hpp"
#include "pgaf/core/decide.hpp"
#include "pgaf/core/node.hpp"

namespace pgaf::monitor {

/* Load formation `formation` and its group `group` (nodes ordered by id, dropped included).
 * An unknown formation is an UnknownFormation error. */
Result<GroupSnapshot> load_group(Db& db, const std::string& formation, GroupId group);

struct RunOptions {
  bool try_shared = false;
  /* The node whose own row may change in the shared (fast) path: the reporter of a
   * node_active, the checked node of a health check. 0 = none. */
  NodeId own_node = 0;
  /* The shared path may commit without waiting for the WAL flush (node_active only: its
   * transaction holds nothing else; the health worker's transaction may also change goals). */
  bool async_commit_ok = false;
  /* Extra event rows for nodes whose settings changed (priority / quorum updates). */
  bool settings_event = false;
};

/* What run_decision() saw and decided. */
struct Ran {
  GroupSnapshot before;
  Decision decision;
};

/* Run one event through decide() under the group lock and persist the result. The caller holds
 * the formation lock. */
Result<Ran> run_decision(Db& db, const std::string& formation, GroupId group,
                              const Event& event, const RunOptions& options);

/* The JSON payload of NOTIFY state for one node (exact keys of the reference). */
std::string state_json(const std::string& formation, const Node& n, NodeState goal);

}  // namespace pgaf::monitor
