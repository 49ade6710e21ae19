/*
 * keeper_table.cpp — the keeper transition table (current, goal) → steps.
 *
 * Rows follow pg_auto_failover 2.2's KeeperFSM (upstream-design.md §4.2), with these changes:
 *  - wait_primary gets draining / demote_timeout edges (upstream #1168), and draining → demoted;
 *  - X → prepare_promotion stops the WAL receiver (StopWalReceiver): the node's vouch for the old
 *    primary's lease ends here, and the monitor measures the vouch expiry from this report
 *    (docs/design/fencing.md);
 *  - demote_timeout → report_lsn exists (an old primary that fenced itself can join an election).
 * The first matching row wins; from == Unknown matches any current state.
 */
#include "pgaf/core/keeper_table.hpp"

#include <algorithm>
#include <mutex>

namespace pgaf {

namespace {
using S = NodeState;
using K = KeeperStep;

std::vector<KeeperTransition> make_table() {
  std::vector<KeeperTransition> t;
  auto add = [&t](std::initializer_list<S> froms, S to, std::vector<K> steps,
                  std::string_view comment) {
    for (S f : froms) t.push_back({f, to, steps, comment});
  };
  const std::vector<K> init_primary = {K::InitPrimary, K::DisableSyncRep, K::MaintainSlots};
  const std::vector<K> disable_rep = {K::StartPostgres, K::DisableSyncRep, K::MaintainSlots};
  const std::vector<K> stop = {K::StopPostgres};
  const std::vector<K> promote = {K::StartPostgres, K::Promote, K::CleanupStandbySetup,
                                  K::DisableSyncRep, K::SetReadWrite, K::MaintainSlots};

  add({S::Init, S::Dropped}, S::Single, init_primary, "Start as a single node");
  add({S::Init, S::Dropped}, S::ReportLsn, {K::InitFromStandby},
      "Initialise from the most advanced standby");
  add({S::Primary, S::WaitPrimary, S::JoinPrimary, S::ApplySettings}, S::Single, disable_rep,
      "Other nodes are gone: disable replication");
  add({S::Single, S::Primary, S::WaitPrimary, S::JoinPrimary, S::ApplySettings}, S::Draining,
      stop, "A failover occurred, stopping writes");
  add({S::Single, S::Primary, S::WaitPrimary, S::JoinPrimary, S::ApplySettings}, S::Demoted,
      stop, "A failover occurred, no longer primary");
  add({S::Single, S::Primary, S::WaitPrimary, S::JoinPrimary, S::ApplySettings},
      S::DemoteTimeout, stop, "Demoting: stop Postgres");
  add({S::Single, S::Primary, S::WaitPrimary, S::JoinPrimary, S::ApplySettings}, S::ReportLsn,
      {K::StopPostgres, K::RestartWithoutUpstream},
      "No longer primary: restart as a standby and report the last LSN");
  add({S::WaitStandby}, S::Single, init_primary,
      "The primary is gone before this standby was built: start as a single node");
  add({S::WaitStandby}, S::ReportLsn, {K::InitFromStandby},
      "The primary is gone before this standby was built: copy the most advanced standby");
  add({S::Primary}, S::PrepareMaintenance, {K::StopForMaintenance},
      "Primary going to maintenance");
  add({S::Primary}, S::Maintenance, {K::StopForMaintenance}, "Primary going to maintenance");
  add({S::PrepareMaintenance}, S::Maintenance,
      {K::StopPostgres, K::SetupStandbyNoUpstream, K::ReleaseToOperator},
      "Maintenance: the operator owns Postgres");
  add({S::Draining}, S::DemoteTimeout, stop, "Demote timeout: Postgres stopped");
  add({S::Draining, S::DemoteTimeout}, S::Demoted, stop, "Demoted: keep Postgres stopped");
  add({S::Demoted, S::DemoteTimeout, S::Draining}, S::Single, disable_rep,
      "Resume as the only node");
  add({S::Secondary, S::Catchingup, S::PreparePromotion, S::StopReplication, S::ReportLsn,
       S::FastForward, S::JoinSecondary, S::Maintenance, S::PrepareMaintenance,
       S::WaitMaintenance},
      S::Single, promote, "Promote: the other nodes are gone");
  add({S::Single}, S::WaitPrimary, {K::MaintainSlots}, "A standby is joining");
  add({S::Primary}, S::JoinPrimary, {}, "Legacy join_primary");
  add({S::Primary, S::JoinPrimary, S::ApplySettings}, S::WaitPrimary, {K::DisableSyncRep},
      "No healthy quorum standby: disable synchronous replication");
  add({S::WaitPrimary, S::ApplySettings}, S::JoinPrimary, {}, "Legacy join_primary");
  add({S::WaitPrimary, S::JoinPrimary, S::ApplySettings}, S::Primary, {K::EnableSyncRep},
      "A quorum standby is ready: enable synchronous replication");
  add({S::DemoteTimeout}, S::Primary, {K::StartPostgres, K::ApplySettings},
      "The monitor kept this node primary: start Postgres");
  add({S::WaitStandby}, S::Catchingup, {K::InitStandby}, "Base backup from the primary");
  add({S::Demoted}, S::Catchingup, {K::RewindOrBaseBackup, K::DropLocalSlots, K::FollowPrimary},
      "Rejoin as a standby of the new primary (pg_rewind)");
  /* it may have streamed past the new primary's fork point (F8 of simulator.md) */
  add({S::Secondary}, S::Catchingup, {K::StopPostgres, K::RewindOrBaseBackup, K::FollowPrimary},
      "Follow the new primary (rewind first)");
  add({S::Catchingup}, S::Secondary, {K::CheckTimeline, K::MaintainSlots},
      "Caught up: now a secondary");
  add({S::Secondary, S::Catchingup, S::ReportLsn}, S::PreparePromotion, {K::StopWalReceiver},
      "Chosen for promotion: stop streaming from the old primary");
  add({S::PreparePromotion}, S::StopReplication, {K::SetReadOnly, K::Promote,
      K::CleanupStandbySetup}, "Promote, still read-only until the old primary is fenced");
  add({S::StopReplication}, S::WaitPrimary, {K::SetReadWrite, K::MaintainSlots},
      "The old primary is fenced: accept writes");
  add({S::PreparePromotion}, S::WaitPrimary,
      {K::SetReadOnly, K::Promote, K::CleanupStandbySetup, K::SetReadWrite, K::MaintainSlots},
      "Promote and accept writes");
  add({S::Init, S::Dropped, S::Secondary}, S::WaitStandby, {}, "Waiting for the primary");
  add({S::Secondary, S::Catchingup}, S::WaitMaintenance, {}, "Waiting to go to maintenance");
  add({S::Secondary, S::Catchingup, S::WaitMaintenance}, S::Maintenance,
      {K::ReleaseToOperator}, "Maintenance: the operator owns Postgres");
  /* it may have streamed from an old primary past the new primary's fork point while it
   * waited (simulator seed 73500): rewind first, as secondary -> catchingup does (F8) */
  add({S::WaitMaintenance}, S::Catchingup,
      {K::StopPostgres, K::RewindOrBaseBackup, K::FollowPrimary},
      "Maintenance cancelled before it started (rewind first)");
  add({S::Maintenance, S::PrepareMaintenance}, S::Catchingup,
      {K::RewindOrBaseBackup, K::FollowPrimary}, "Back from maintenance");
  add({S::Primary, S::WaitPrimary}, S::ApplySettings, {}, "Settings changed");
  add({S::ApplySettings}, S::Single, disable_rep, "Other nodes are gone");
  add({S::Secondary, S::Catchingup, S::Maintenance, S::PrepareMaintenance, S::WaitMaintenance},
      S::ReportLsn, {K::RestartWithoutUpstream}, "Failover: report the last received LSN");
  add({S::PreparePromotion, S::JoinSecondary, S::FastForward}, S::ReportLsn,
      {K::RestartWithoutUpstream}, "Failover: report the last received LSN");
  add({S::StopReplication}, S::ReportLsn, {K::StopPostgres, K::RestartWithoutUpstream},
      "The promotion was abandoned: restart as a standby and report the last LSN");
  add({S::Draining, S::Demoted, S::DemoteTimeout}, S::ReportLsn,
      {K::StopPostgres, K::DropLocalSlots, K::RestartWithoutUpstream},
      "Old primary joins the election");
  /* An old primary that joined the election (report_lsn) while the monitor was down can be sent
   * back to the demotion path once another node is promoted: it is a standby without upstream,
   * not writable; stop it and let the monitor rejoin it (pgaf-sim seed 652127, a Postgres that
   * could not restart: stuck in report_lsn with goal demoted until this transition existed). */
  add({S::ReportLsn}, S::DemoteTimeout, stop, "Another node is being promoted: stop Postgres");
  add({S::ReportLsn}, S::Demoted, stop, "Another node is the primary: keep Postgres stopped");
  add({S::ReportLsn}, S::FastForward, {K::FastForward},
      "Fetch missing WAL from the most advanced standby");
  add({S::FastForward}, S::PreparePromotion, {K::CleanupStandbySetup}, "Fast-forward done");
  add({S::ReportLsn, S::Secondary, S::Catchingup}, S::JoinSecondary, {K::CheckpointAndStop},
      "Not elected: stop and wait for the new primary");
  /* A loser of an election may sit on an older timeline than the winner (several failovers
   * while it was stopped): rewind (a no-op when its WAL is a prefix of the new history). */
  add({S::ReportLsn, S::JoinSecondary}, S::Secondary,
      {K::StopPostgres, K::RewindOrBaseBackup, K::FollowPrimary, K::CheckTimeline},
      "Follow the new primary");
  add({S::Unknown}, S::Dropped, {K::DropNode}, "This node is being dropped");
  return t;
}

std::mutex g_mu;
std::vector<KeeperTransition>& table() {
  static std::vector<KeeperTransition> t = make_table();
  return t;
}
}  // namespace

std::string_view to_string(KeeperStep s) {
  switch (s) {
    case K::InitPrimary: return "init_primary";
    case K::InitFromStandby: return "init_from_standby";
    case K::InitStandby: return "init_standby";
    case K::StartPostgres: return "start_postgres";
    case K::StopPostgres: return "stop_postgres";
    case K::CheckpointAndStop: return "checkpoint_and_stop";
    case K::StopForMaintenance: return "stop_for_maintenance";
    case K::SetupStandbyNoUpstream: return "setup_standby_no_upstream";
    case K::DisableSyncRep: return "disable_sync_rep";
    case K::EnableSyncRep: return "enable_sync_rep";
    case K::ApplySettings: return "apply_settings";
    case K::MaintainSlots: return "maintain_slots";
    case K::StopWalReceiver: return "stop_wal_receiver";
    case K::SetReadOnly: return "set_read_only";
    case K::SetReadWrite: return "set_read_write";
    case K::Promote: return "promote";
    case K::CleanupStandbySetup: return "cleanup_standby_setup";
    case K::RewindOrBaseBackup: return "rewind_or_base_backup";
    case K::DropLocalSlots: return "drop_local_slots";
    case K::FollowPrimary: return "follow_primary";
    case K::CheckTimeline: return "check_timeline";
    case K::RestartWithoutUpstream: return "restart_without_upstream";
    case K::FastForward: return "fast_forward";
    case K::ReleaseToOperator: return "release_to_operator";
    case K::DropNode: return "drop_node";
  }
  return "unknown_step";
}

const std::vector<KeeperTransition>& keeper_transitions() {
  std::lock_guard<std::mutex> lock(g_mu);
  return table();
}

std::optional<KeeperTransition> find_keeper_transition(NodeState from, NodeState to) {
  std::lock_guard<std::mutex> lock(g_mu);
  for (const auto& row : table()) {
    if ((row.from == from || row.from == NodeState::Unknown) && row.to == to) return row;
  }
  return std::nullopt;
}

void keeper_table_remove_edge_for_test(NodeState from, NodeState to) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto& t = table();
  t.erase(std::remove_if(t.begin(), t.end(),
                         [&](const KeeperTransition& r) { return r.from == from && r.to == to; }),
          t.end());
}

void keeper_table_reset_for_test() {
  std::lock_guard<std::mutex> lock(g_mu);
  table() = make_table();
}

std::string keeper_table_mermaid() {
  std::string out = "stateDiagram-v2\n";
  for (const auto& row : keeper_transitions()) {
    const std::string from =
        row.from == NodeState::Unknown ? std::string("any_state") : std::string(to_string(row.from));
    out += "    " + from + " --> " + std::string(to_string(row.to));
    if (!row.steps.empty()) {
      out += " : ";
      for (std::size_t i = 0; i < row.steps.size(); ++i) {
        if (i > 0) out += ", ";
        out += std::string(to_string(row.steps[i]));
      }
    }
    out += "\n";
  }
  return out;
}

}  // namespace pgaf
