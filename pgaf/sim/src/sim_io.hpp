/*
 * sim_io.hpp — the agent's I/O interfaces (pgaf/agent interfaces.hpp) implemented on the simulated
 * world, so that pgaf-sim runs the REAL keeper step code (pgaf::agent::Keeper::run_step):
 *  - SimClock: the node's own drifting clock; sleep_ms suspends the keeper's fiber and the world
 *    resumes it at the node-local deadline (no thread, no wall clock);
 *  - SimPostgres: the node's simulated Postgres (World::Pg), including its configuration files
 *    (standby.signal, primary_conninfo, recovery_target_lsn) that take effect at start or reload;
 *  - SimMonitor: the monitor's SQL functions the steps call, answered from the monitor's durable
 *    state (World::g_), and failing when the fault model says this node cannot reach the monitor.
 * AgentIo bundles them with the real FenceGuard and Keeper of one agent process, and StepFiber
 * runs one keeper step on its own stack so a step that waits (EnableSyncRep, FastForward) yields
 * to the event loop instead of blocking it.
 *
 * Invariants:
 *  - every call acts atomically at the current event time (now_); only sleep_ms lets time pass;
 *  - a call never blocks and never reads a real clock;
 *  - a suspended fiber is either resumed or killed (its stack unwound) before it is destroyed.
 */
#pragma once

#include <ucontext.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>

#include "pgaf/agent/interfaces.hpp"
#include "pgaf/agent/keeper.hpp"

namespace pgaf::sim {

class World;

/* What the agent's fiber is suspended on. */
enum class AgentWait : std::uint8_t { None, Sleep, Call, Listen };

/* One keeper step on its own stack (ucontext). */
class StepFiber {
 public:
  explicit StepFiber(std::size_t stack_bytes = 256 * 1024);
  ~StepFiber();
  StepFiber(const StepFiber&) = delete;
  StepFiber& operator=(const StepFiber&) = delete;

  /* Run fn on the fiber until it returns (true) or yields (false). An exception thrown by fn is
   * rethrown here, on the caller's stack. */
  bool start(std::function<void()> fn);
  bool resume();
  /* Inside the fiber: back to the caller until resume(); throws Killed when killed meanwhile. */
  void yield();
  /* Unwind a suspended fiber (its destructors run); no-op otherwise. */
  void kill();
  bool suspended() const { return suspended_; }
  bool inside() const { return inside_; }

  struct Killed {};

 private:
  static void entry();
  bool switch_in();
  std::unique_ptr<char[]> stack_;
  std::size_t stack_bytes_;
  ucontext_t ctx_{};
  ucontext_t caller_{};
  std::function<void()> fn_;
  std::exception_ptr exc_;
  bool suspended_ = false;
  bool inside_ = false;
  bool done_ = true;
  bool kill_ = false;
};

class SimClock final : public agent::Clock {
 public:
  SimClock(World& w, int node) : w_(w), n_(node) {}
  TimeMs now_ms() override;
  void sleep_ms(TimeMs ms) override;
  std::int64_t wall_clock_us() override;

 private:
  World& w_;
  int n_;
};

class SimPostgres final : public agent::PostgresControl {
 public:
  SimPostgres(World& w, int node) : w_(w), n_(node) {}
  bool pgdata_initialized() override;
  Status initdb() override;
  Status write_managed_config() override;
  Status ensure_running(TimeMs timeout_ms) override;
  Status ensure_stopped(TimeMs timeout_ms) override;
  Status release_to_operator() override;
  Result<agent::PgStatus> status() override;
  bool postmaster_starting() override;
  Status set_read_only(bool on) override;
  Status set_fence_deadline(TimeMs deadline_ms) override;
  Status terminate_client_backends() override;
  Status set_synchronous_standby_names(const std::string& value) override;
  Result<std::string> synchronous_standby_names() override;
  Status checkpoint() override;
  Status promote(TimeMs timeout_ms) override;
  Result<std::vector<agent::SlotInfo>> list_slots() override;
  Status create_slot(const std::string& name) override;
  Status drop_slot(const std::string& name) override;
  Status advance_slot(const std::string& name, Lsn lsn) override;
  Status write_standby_setup(const agent::StandbySetup& s) override;
  Status cleanup_standby_setup() override;
  Status reload() override;
  Status restart(TimeMs timeout_ms) override;
  Status base_backup(const agent::Upstream& from, const std::string& slot) override;
  Status rewind(const agent::Upstream& from) override;
  Result<Lsn> replay_lsn() override;
  Result<int> upstream_timeline(const agent::Upstream& from) override;
  Status create_roles_and_db(const std::string& dbname) override;
  Status ensure_hba(const std::vector<std::string>& node_hosts,
                    const std::string& monitor_host) override;
  Result<agent::StandbyReplies> standby_replies() override;
  Status emit_heartbeat() override;
  Result<agent::WalAcks> wal_acks() override;

 private:
  Status need_running() const;
  Status copy_from(int u, const char* how);
  World& w_;
  int n_;
};

class SimMonitor final : public agent::MonitorClient {
 public:
  SimMonitor(World& w, int node) : w_(w), n_(node) {}
  Result<agent::NodeAssignment> register_node(const agent::RegisterArgs& a) override;
  Result<agent::NodeAssignment> node_active(const agent::NodeActiveArgs& a) override;
  Result<agent::NodeAddress> get_primary(const std::string& formation, GroupId group) override;
  Result<std::vector<agent::NodeAddress>> get_other_nodes(NodeId node_id) override;
  Result<std::optional<agent::NodeAddress>> get_most_advanced_standby(const std::string& formation,
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
  Result<std::vector<agent::StateRow>> current_state(const std::string& formation) override;
  Result<std::vector<agent::EventRow>> last_events(const std::string& formation, GroupId group,
                                                   int count) override;
  Result<std::optional<std::string>> formation_uri(const std::string& formation,
                                                   const std::string& sslmode,
                                                   const std::string& sslrootcert,
                                                   const std::string& sslcrl) override;
  Result<bool> wait_for_state_change(const std::string& formation, GroupId group,
                                     TimeMs timeout_ms) override;

 private:
  Status reach() const; /* the request and its answer both get through, or an error */
  World& w_;
  int n_;
};

/* One agent process: its interfaces, its fence guard and its keeper (recreated at each restart,
 * as a new pg_autoctl process would be). */
struct AgentIo {
  AgentIo(World& w, int node, const Settings& s, const agent::KeeperState& state,
          std::function<Status(const agent::KeeperState&)> persist);
  ~AgentIo();
  SimClock clock;
  SimPostgres pg;
  SimMonitor monitor;
  agent::FenceGuard guard;
  agent::Keeper keeper;
  StepFiber fiber;
  std::atomic<bool> stop{false}; /* Keeper::run's flag (the process dies by fiber.kill()) */
  bool started = false;          /* Keeper::run is on the fiber */
  AgentWait wait = AgentWait::None;
  std::int64_t token = 0; /* the AgentStep event that ends the current wait */
  bool call_done = false; /* node_active: an answer arrived */
  bool call_ok = false;
  NodeState call_goal = NodeState::Init;
  bool notified = false;       /* LISTEN: a notification ended the wait */
  bool notify_pending = false; /* LISTEN: one arrived while the keeper was not waiting */
};

}  // namespace pgaf::sim
