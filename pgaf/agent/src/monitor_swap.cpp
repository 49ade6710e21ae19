/*
 * monitor_swap.cpp — SwitchableMonitorClient, and registering a live node with a new monitor
 * (pg_autoctl enable monitor); see monitor_swap.hpp for the invariants.
 */
#include "pgaf/agent/monitor_swap.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

namespace pgaf::agent {

SwitchableMonitorClient::SwitchableMonitorClient(std::unique_ptr<MonitorClient> target)
    : target_(std::move(target)) {}

void SwitchableMonitorClient::set_target(std::unique_ptr<MonitorClient> target) {
  std::lock_guard<std::mutex> l(mu_);
  target_ = std::move(target);
}

bool SwitchableMonitorClient::disabled() {
  std::lock_guard<std::mutex> l(mu_);
  return target_ == nullptr;
}

/* Calls run outside the lock (a call may take monitor_call_timeout_ms): the shared_ptr keeps a
 * client that is being replaced alive until its call returns. */
template <typename F>
auto SwitchableMonitorClient::with_target(F&& f) -> decltype(f(std::declval<MonitorClient&>())) {
  std::shared_ptr<MonitorClient> t;
  {
    std::lock_guard<std::mutex> l(mu_);
    t = target_;
  }
  if (!t) {
    return make_error(ErrorCode::Monitor, "the monitor is disabled for this node",
                      "pg_autoctl enable monitor <uri> registers it with a new monitor");
  }
  return f(*t);
}

Result<NodeAssignment> SwitchableMonitorClient::register_node(const RegisterArgs& a) {
  return with_target([&](MonitorClient& m) { return m.register_node(a); });
}
Result<NodeAssignment> SwitchableMonitorClient::node_active(const NodeActiveArgs& a) {
  return with_target([&](MonitorClient& m) { return m.node_active(a); });
}
Result<NodeAddress> SwitchableMonitorClient::get_primary(const std::string& formation,
                                                         GroupId group) {
  return with_target([&](MonitorClient& m) { return m.get_primary(formation, group); });
}
Result<std::vector<NodeAddress>> SwitchableMonitorClient::get_other_nodes(NodeId node_id) {
  return with_target([&](MonitorClient& m) { return m.get_other_nodes(node_id); });
}
Result<std::optional<NodeAddress>> SwitchableMonitorClient::get_most_advanced_standby(
    const std::string& formation, GroupId group) {
  return with_target(
      [&](MonitorClient& m) { return m.get_most_advanced_standby(formation, group); });
}
Result<std::string> SwitchableMonitorClient::synchronous_standby_names(const std::string& formation,
                                                                       GroupId group) {
  return with_target(
      [&](MonitorClient& m) { return m.synchronous_standby_names(formation, group); });
}
Status SwitchableMonitorClient::set_node_system_identifier(NodeId node_id, std::int64_t sysid) {
  return with_target(
      [&](MonitorClient& m) { return m.set_node_system_identifier(node_id, sysid); });
}
Result<bool> SwitchableMonitorClient::remove_node(NodeId node_id, bool force) {
  return with_target([&](MonitorClient& m) { return m.remove_node(node_id, force); });
}
Result<bool> SwitchableMonitorClient::remove_node_by_host(const std::string& host, int port,
                                                          bool force) {
  return with_target([&](MonitorClient& m) { return m.remove_node_by_host(host, port, force); });
}
Status SwitchableMonitorClient::perform_failover(const std::string& formation, GroupId group) {
  return with_target([&](MonitorClient& m) { return m.perform_failover(formation, group); });
}
Result<bool> SwitchableMonitorClient::perform_promotion(const std::string& formation,
                                                        const std::string& name) {
  return with_target([&](MonitorClient& m) { return m.perform_promotion(formation, name); });
}
Result<bool> SwitchableMonitorClient::start_maintenance(NodeId node_id) {
  return with_target([&](MonitorClient& m) { return m.start_maintenance(node_id); });
}
Status SwitchableMonitorClient::set_node_candidate_priority(const std::string& formation,
                                                            const std::string& name, int priority) {
  return with_target(
      [&](MonitorClient& m) { return m.set_node_candidate_priority(formation, name, priority); });
}
Status SwitchableMonitorClient::set_node_replication_quorum(const std::string& formation,
                                                            const std::string& name, bool quorum) {
  return with_target(
      [&](MonitorClient& m) { return m.set_node_replication_quorum(formation, name, quorum); });
}
Status SwitchableMonitorClient::set_formation_number_sync_standbys(const std::string& formation,
                                                                   int n) {
  return with_target(
      [&](MonitorClient& m) { return m.set_formation_number_sync_standbys(formation, n); });
}
Result<int> SwitchableMonitorClient::formation_number_sync_standbys(const std::string& formation) {
  return with_target([&](MonitorClient& m) { return m.formation_number_sync_standbys(formation); });
}
Status SwitchableMonitorClient::create_formation(const std::string& formation,
                                                 const std::string& kind, const std::string& dbname,
                                                 bool opt_secondary, int nss) {
  return with_target([&](MonitorClient& m) {
    return m.create_formation(formation, kind, dbname, opt_secondary, nss);
  });
}
Status SwitchableMonitorClient::drop_formation(const std::string& formation) {
  return with_target([&](MonitorClient& m) { return m.drop_formation(formation); });
}
Status SwitchableMonitorClient::set_formation_secondary(const std::string& formation,
                                                        bool enabled) {
  return with_target(
      [&](MonitorClient& m) { return m.set_formation_secondary(formation, enabled); });
}
Result<bool> SwitchableMonitorClient::stop_maintenance(NodeId node_id) {
  return with_target([&](MonitorClient& m) { return m.stop_maintenance(node_id); });
}
Result<std::vector<StateRow>> SwitchableMonitorClient::current_state(const std::string& formation) {
  return with_target([&](MonitorClient& m) { return m.current_state(formation); });
}
Result<std::vector<EventRow>> SwitchableMonitorClient::last_events(const std::string& formation,
                                                                   GroupId group, int count) {
  return with_target([&](MonitorClient& m) { return m.last_events(formation, group, count); });
}
Result<std::optional<std::string>> SwitchableMonitorClient::formation_uri(
    const std::string& formation, const std::string& sslmode, const std::string& sslrootcert,
    const std::string& sslcrl) {
  return with_target(
      [&](MonitorClient& m) { return m.formation_uri(formation, sslmode, sslrootcert, sslcrl); });
}
Result<bool> SwitchableMonitorClient::wait_for_state_change(const std::string& formation,
                                                            GroupId group, TimeMs timeout_ms) {
  return with_target(
      [&](MonitorClient& m) { return m.wait_for_state_change(formation, group, timeout_ms); });
}
Status SwitchableMonitorClient::update_node_metadata(NodeId node_id, const std::string& name,
                                                     const std::string& host, int port) {
  return with_target(
      [&](MonitorClient& m) { return m.update_node_metadata(node_id, name, host, port); });
}
Result<std::pair<std::string, std::string>> SwitchableMonitorClient::extension_version() {
  return with_target([&](MonitorClient& m) { return m.extension_version(); });
}
void SwitchableMonitorClient::set_uri(const std::string& uri) {
  (void)with_target([&](MonitorClient& m) -> Status {
    m.set_uri(uri);
    return Status::Ok();
  });
}

/* ---------------- registering again ---------------- */

Result<NodeState> register_again_state(NodeState local_role, const PgStatus& pg) {
  const std::string role(to_string(local_role));
  if (!pg.running) {
    return make_error(ErrorCode::BadState,
                      "cannot register with the new monitor: PostgreSQL is not running",
                      "a stopped node cannot tell whether it is a primary or a standby; start "
                      "it (a primary that fenced itself must be started by hand, see "
                      "docs/operations.md) and retry",
                      "local state \"" + role + "\"");
  }
  const bool writable = can_take_writes_in_state(local_role);
  if (writable && !pg.in_recovery) return NodeState::Single;
  if (!writable && pg.in_recovery) return NodeState::WaitStandby;
  if (writable) {
    return make_error(ErrorCode::BadState,
                      "cannot register with the new monitor: the local state is \"" + role +
                          "\" but PostgreSQL is in recovery",
                      "the state file and PostgreSQL disagree; check which node is the primary");
  }
  return make_error(ErrorCode::BadState,
                    "cannot register with the new monitor: the local state is \"" + role +
                        "\" but PostgreSQL is not in recovery",
                    "only the node the old monitor last made primary may register as primary; "
                    "check which node is the primary");
}

namespace {
/* This node's row on monitor m (same id, host and port), as an assignment; nullopt if absent. */
std::optional<NodeAssignment> already_registered(MonitorClient& m, const Config& cfg, NodeId id) {
  auto rows = m.current_state(cfg.formation);
  if (!rows) return std::nullopt;
  for (const auto& r : *rows) {
    if (r.node_id != id || r.host != cfg.hostname || r.port != cfg.port) continue;
    return NodeAssignment{r.node_id, r.group_id, r.goal, r.candidate_priority, r.replication_quorum,
                          r.name};
  }
  return std::nullopt;
}
}  // namespace

Result<KeeperState> register_again(const Config& cfg, const KeeperState& local, MonitorClient& m,
                                   PostgresControl& pg, Clock& clock, TimeMs timeout_ms) {
  auto st = pg.status();
  if (!st) return st.error();
  auto initial = register_again_state(local.current_role, *st);
  if (!initial) return initial.error();
  RegisterArgs ra;
  ra.formation = cfg.formation;
  ra.host = cfg.hostname;
  ra.port = cfg.port;
  ra.dbname = cfg.dbname;
  ra.name = cfg.name;
  ra.sysidentifier = st->system_identifier != 0 ? st->system_identifier : local.system_identifier;
  ra.desired_node_id = local.node_id > 0 ? local.node_id : -1;
  ra.initial_state = *initial;
  ra.candidate_priority = cfg.candidate_priority;
  ra.replication_quorum = cfg.replication_quorum;
  const TimeMs deadline = clock.now_ms() + timeout_ms;
  Result<NodeAssignment> reg = make_error(ErrorCode::Internal, "not registered");
  while (true) {
    reg = m.register_node(ra);
    if (!reg && reg.error().code == ErrorCode::AlreadyExists) {
      /* an earlier enable monitor registered this node and then timed out: go on from there */
      if (auto again = already_registered(m, cfg, ra.desired_node_id)) {
        spdlog::info("node {} is registered with the new monitor already", again->node_id);
        reg = *again;
      }
    }
    if (reg) break;
    /* the monitor asks a standby to retry while its primary is not registered yet */
    if (reg.error().code != ErrorCode::NoPrimary || clock.now_ms() >= deadline) return reg.error();
    spdlog::info("{}: retrying (register the primary first)", reg.error().message);
    clock.sleep_ms(300);
  }
  spdlog::info("Registered node {} \"{}\" with the new monitor in state \"{}\"", reg->node_id,
               reg->name, to_string(reg->goal));
  KeeperState out = local;
  out.node_id = reg->node_id;
  out.group_id = reg->group_id;
  out.last_report_seq = 0;
  if (*initial == NodeState::Single) {
    if (!can_take_writes_in_state(reg->goal)) {
      /* never record a non-writable state while Postgres accepts writes (fencing.md L5) */
      return make_error(ErrorCode::BadState,
                        "the new monitor assigns \"" + std::string(to_string(reg->goal)) +
                            "\" to node " + std::to_string(reg->node_id) +
                            ", which runs as a primary",
                        "check pg_autoctl show state on the new monitor");
    }
    out.current_role = out.assigned_role = reg->goal;
    return out;
  }
  /* A standby: the monitor moves it to catchingup once its primary is in wait_primary. Report
   * wait_standby from here until then; the service then goes on from catchingup, streaming as
   * it does now (no base backup). */
  NodeAssignment goal = *reg;
  std::int64_t seq = 0;
  while (goal.goal != NodeState::Catchingup) {
    if (clock.now_ms() >= deadline) {
      return make_error(ErrorCode::Timeout,
                        "the new monitor did not assign \"catchingup\" to node " +
                            std::to_string(reg->node_id) + " in time (it assigns \"" +
                            std::string(to_string(goal.goal)) + "\")",
                        "make sure the primary is registered with the new monitor and runs "
                        "pg_autoctl run, then retry");
    }
    clock.sleep_ms(300);
    auto now = pg.status();
    PgStatus ps = now ? *now : PgStatus{};
    NodeActiveArgs a;
    a.formation = cfg.formation;
    a.node_id = reg->node_id;
    a.group_id = reg->group_id;
    a.current = NodeState::WaitStandby;
    a.pg_is_running = ps.running;
    a.tli = ps.running ? ps.tli : 0;
    a.lsn = ps.running ? ps.lsn : 0;
    a.sync_state = ps.sync_state;
    seq = std::max<std::int64_t>(seq + 1, clock.wall_clock_us());
    a.report_seq = seq;
    auto r = m.node_active(a);
    if (r) {
      goal = *r;
    } else {
      spdlog::warn("could not report to the new monitor: {}", r.error().message);
    }
  }
  out.current_role = out.assigned_role = NodeState::Catchingup;
  out.last_report_seq = seq;
  return out;
}

}  // namespace pgaf::agent
