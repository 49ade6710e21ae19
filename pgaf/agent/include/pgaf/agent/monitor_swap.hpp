/*
 * monitor_swap.hpp — replacing a lost monitor under a live node (pg_autoctl disable monitor /
 * enable monitor, upstream-design.md §8.4): the "monitor disabled" configuration value, a
 * monitor client whose target the running service can change, and the registration of a live
 * node with a new, empty monitor (the reference's keeper_register_again).
 *
 * Invariants (docs/design/fencing.md):
 *  - a node whose monitor is disabled reports to nobody: it receives no lease (L1), so a primary
 *    keeps accepting writes only on its standbys' vouch (L3, state primary, quorum standbys
 *    streaming) and fences when that ends (L4);
 *  - a node registers as the new monitor's primary ("single") only when its local state is a
 *    writable one AND its Postgres runs out of recovery; a standby registers as wait_standby and
 *    never as a primary; any other combination is refused, so an enable monitor cannot make a
 *    standby (or a fenced, stopped old primary) writable;
 *  - registering grants nothing by itself: the node becomes writable only when the running
 *    service's own report is answered with a writable goal (the monitor's gate M1).
 */
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "pgaf/agent/config.hpp"
#include "pgaf/agent/interfaces.hpp"

namespace pgaf::agent {

/* The reference's value of pg_autoctl.monitor for a node without a monitor. */
inline constexpr const char* kMonitorDisabled = "PG_AUTOCTL_DISABLED";
inline bool monitor_disabled(const std::string& monitor_uri) {
  return monitor_uri == kMonitorDisabled;
}

/* A MonitorClient delegating to a client that can be replaced while the service runs (the
 * node-active loop keeps one reference). Without a target (monitor disabled) every call fails
 * with ErrorCode::Monitor "the monitor is disabled for this node". Thread-safe. */
class SwitchableMonitorClient final : public MonitorClient {
 public:
  explicit SwitchableMonitorClient(std::unique_ptr<MonitorClient> target = nullptr);
  /* nullptr: disabled. */
  void set_target(std::unique_ptr<MonitorClient> target);
  bool disabled();

  Result<NodeAssignment> register_node(const RegisterArgs& a) override;
  Result<NodeAssignment> node_active(const NodeActiveArgs& a) override;
  Result<NodeAddress> get_primary(const std::string& formation, GroupId group) override;
  Result<std::vector<NodeAddress>> get_other_nodes(NodeId node_id) override;
  Result<std::optional<NodeAddress>> get_most_advanced_standby(const std::string& formation,
                                                               GroupId group) override;
  Result<std::string> synchronous_standby_names(const std::string& formation,
                                                GroupId group) override;
  Status set_node_system_identifier(NodeId node_id, std::int64_t sysid) override;
  Result<bool> remove_node(NodeId node_id, bool force) override;
  Result<bool> remove_node_by_host(const std::string& host, int port, bool force) override;
  Status perform_failover(const std::string& formation, GroupId group) override;
  Result<bool> perform_promotion(const std::string& formation, const std::string& name) override;
  Result<bool> start_maintenance(NodeId node_id) override;
  Status set_node_candidate_priority(const std::string& formation, const std::string& name,
                                     int priority) override;
  Status set_node_replication_quorum(const std::string& formation, const std::string& name,
                                     bool quorum) override;
  Status set_formation_number_sync_standbys(const std::string& formation, int n) override;
  Result<int> formation_number_sync_standbys(const std::string& formation) override;
  Status create_formation(const std::string& formation, const std::string& kind,
                          const std::string& dbname, bool opt_secondary, int nss) override;
  Status drop_formation(const std::string& formation) override;
  Status set_formation_secondary(const std::string& formation, bool enabled) override;
  Result<bool> stop_maintenance(NodeId node_id) override;
  Result<std::vector<StateRow>> current_state(const std::string& formation) override;
  Result<std::vector<EventRow>> last_events(const std::string& formation, GroupId group,
                                            int count) override;
  Result<std::optional<std::string>> formation_uri(const std::string& formation,
                                                   const std::string& sslmode,
                                                   const std::string& sslrootcert,
                                                   const std::string& sslcrl) override;
  Result<bool> wait_for_state_change(const std::string& formation, GroupId group,
                                     TimeMs timeout_ms) override;
  Status update_node_metadata(NodeId node_id, const std::string& name, const std::string& host,
                              int port) override;
  Result<std::pair<std::string, std::string>> extension_version() override;
  /* the same monitor, other connection parameters (enable|disable ssl): passed to the target */
  void set_uri(const std::string& uri) override;

 private:
  template <typename F>
  auto with_target(F&& f) -> decltype(f(std::declval<MonitorClient&>()));
  std::mutex mu_;
  std::shared_ptr<MonitorClient> target_;
};

/* The state a live node registers in with a new monitor, from its local state file's role and
 * a sample of its Postgres: Single (a primary: writable local role, running, not in recovery) or
 * WaitStandby (a standby: running, in recovery, non-writable local role). Anything else is an
 * error naming what does not match, with what to do. */
Result<NodeState> register_again_state(NodeState local_role, const PgStatus& pg);

/* keeper_register_again: register this live node with the monitor `m` (new and empty for this
 * node) in the state register_again_state() chooses, asking for its current node id. A standby
 * then reports wait_standby (as the reference, from this process) until the monitor assigns
 * catchingup — its primary must have registered first — at most timeout_ms. Returns the
 * state file to write: the new node id, group, and current = assigned = the state reached, so
 * that the running service goes on from there without a base backup. */
Result<KeeperState> register_again(const Config& cfg, const KeeperState& local, MonitorClient& m,
                                   PostgresControl& pg, Clock& clock, TimeMs timeout_ms);

}  // namespace pgaf::agent
