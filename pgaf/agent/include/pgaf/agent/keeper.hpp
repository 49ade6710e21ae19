/*
 * keeper.hpp — the node-active loop: report to the monitor, execute the keeper transition table
 * (pgaf/core keeper_table.hpp) for real, and fence when the write lease runs out.
 *
 * Invariants:
 *  - Postgres is made writable (running, default_transaction_read_only=off, in a writable state)
 *    only while the lease (pgaf/core AgentLease) allows writes: the lease is granted only by a
 *    monitor reply assigning a writable goal, so an old primary that restarts never starts as a
 *    writable primary before the monitor has confirmed its role;
 *  - when the lease expires in a writable state, the FenceGuard makes Postgres refuse writes
 *    (default_transaction_read_only=on, terminate client backends) and then stops it, within
 *    fence_guard_ms before the lease's end (it runs on its own thread and connection);
 *  - transitions are idempotent and retried on the next iteration after a failure; current_role
 *    changes only after every step of the transition succeeded, and is persisted at once.
 */
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pgaf/agent/config.hpp"
#include "pgaf/agent/interfaces.hpp"
#include "pgaf/core/keeper_table.hpp"
#include "pgaf/core/lease.hpp"
#include "pgaf/core/wal_acks.hpp"

namespace pgaf::agent {

/* Shared between the node-active loop and the fence thread.
 * "Armed" means: this agent has made Postgres writable under the current lease. Only an armed
 * guard fences; the keeper arms it right after it enabled writes (which it does only while
 * may_write()) and disarms it when it leaves the writable states. */
class FenceGuard {
 public:
  FenceGuard(const Settings& s, Clock& clock, PostgresControl& pg);

  /* TEST ONLY (PGAF_TEST_DISABLE_FENCING=1, wired in main): the guard never fences, never arms
   * pgaf_fence and always lets the node write. It exists so the lab can show that its checkers
   * catch the split brain fencing prevents (scenarios/violations/). Never use it in production. */
  void disable_fencing_for_tests();

  void on_monitor_reply(TimeMs t_send_ms, NodeState goal);
  void set_current(NodeState current);
  void set_armed(bool armed);
  bool armed();
  bool may_write();
  /* The guard fenced Postgres since the last clear_fenced(). */
  bool fenced();
  void clear_fenced();
  /* One round: sample standbys (in state primary), then fence if armed and the lease has run
   * out. Returns true if it fenced in this round. */
  bool tick();
  TimeMs expires_at();

 private:
  std::mutex mu_;
  Settings s_;
  Clock& clock_;
  PostgresControl& pg_;
  AgentLease lease_;
  NodeState current_ = NodeState::Init;
  bool armed_ = false;
  bool fenced_ = false;
  StandbyReplies last_replies_; /* previous sample: a standby counts when its reply changed */
  TimeMs last_heartbeat_ms_ = -1;
  TimeMs pushed_deadline_ms_ = -1; /* the deadline pgaf_fence holds (-1: none pushed) */
  std::uint64_t pushed_epoch_ = 0; /* pg_.session_epoch() when it was pushed */
  bool fence_ext_warned_ = false;
  bool disabled_ = false; /* disable_fencing_for_tests() */
  void push_deadline_locked();
};

/* What one round saw, for the observers of the loop (HTTP snapshot, hooks, watchdog). */
struct KeeperTick {
  const KeeperState& state;               /* after the round */
  const PgStatus& pg;                     /* the round's sample of Postgres */
  bool monitor_ok = false;                /* the monitor answered this round's report */
  TimeMs now_ms = 0;                      /* end of the round (Clock::now_ms) */
  const std::vector<NodeAddress>& others; /* the other nodes, as last refreshed */
  long monitor_failures = 0;              /* consecutive failed reports */
};

struct IterationResult {
  bool monitor_ok = false;
  bool transitioned = false; /* a transition completed: iterate again at once */
  bool failed = false;       /* a transition step failed (will be retried) */
  bool dropped = false;      /* the node is dropped: exit 121 */
};

class Keeper {
 public:
  /* persist: saves the state file (called after each change). */
  Keeper(Config cfg, KeeperState state, Clock& clock, PostgresControl& pg, MonitorClient& monitor,
         FenceGuard& guard, std::function<Status(const KeeperState&)> persist);

  /* One node-active round. */
  IterationResult iterate();
  /* Run the loop until stop() (or dropped); wakes on notifications for our group. */
  int run(const std::atomic<bool>& stop_requested);

  /* SIGHUP: a re-read configuration, applied at the start of the next iteration (thread-safe).
   * Keys that need a restart (pgdata, port, formation) are kept, with a warning; the fence guard
   * keeps the lease settings it started with. A new pg_autoctl.monitor (disable|enable monitor)
   * is applied through the monitor switch below, or kept with a warning when there is none. */
  void request_reload(const Config& cfg);
  /* How the service changes monitor: point the MonitorClient this keeper uses at `uri` (or at
   * nothing: monitor_swap.hpp kMonitorDisabled) and return the state file as `enable monitor`
   * left it, which replaces the keeper's state. While the monitor is disabled the keeper
   * reports to nobody and never writes the state file (enable monitor writes it). */
  void set_monitor_switch(std::function<Result<KeeperState>(const std::string& uri)> fn);

  /* Run one step (exposed for tests and `do` commands). */
  Status run_step(KeeperStep step);
  /* Called at the start of every step, before it acts (the simulator lets the step's simulated
   * duration pass there; nothing else sets it). */
  void set_step_observer(std::function<void(KeeperStep)> observer);
  /* Called at the end of every round, on the loop's thread: it must be quick (copy, queue). */
  void set_tick_observer(std::function<void(const KeeperTick&)> observer);
  const KeeperState& state() const { return state_; }
  /* Names of the steps executed so far, in order (for tests and logs). */
  const std::vector<std::string>& step_log() const { return step_log_; }

 private:
  Status reach_assigned_state();
  Status ensure_current_state();
  Status follow_new_primary();
  Status rewind_or_base_backup(); /* keeper_rewind.cpp */
  bool report_pg_is_running(const PgStatus& st);
  /* The fields of a node_active report every round sends (current state, Postgres's status,
   * a strictly increasing sequence number). */
  NodeActiveArgs base_report(const PgStatus& ps);
  /* One report in the middle of a transition, so that a long step (initdb, the first start)
   * does not outlast the lease granted by the report that assigned the goal. */
  Status renew_lease();
  Status maintain_slots(bool advance);
  Status refresh_other_nodes();
  std::string slot_name(NodeId id) const;
  Result<Upstream> primary_upstream();
  Status apply_sync_names(bool wait_for_catchup);
  StandbySetup standby_setup(std::optional<Upstream> up, Lsn target = 0) const;
  Status persist();
  void apply_pending_reload();

  Config cfg_;
  KeeperState state_;
  Clock& clock_;
  PostgresControl& pg_;
  MonitorClient& monitor_;
  FenceGuard& guard_;
  std::function<Status(const KeeperState&)> persist_;
  std::vector<NodeAddress> other_nodes_;
  std::string monitor_host_;
  std::vector<std::string> step_log_;
  std::function<void(KeeperStep)> step_observer_;
  std::function<void(const KeeperTick&)> tick_observer_;
  TimeMs pg_down_since_ = -1;
  bool restart_logged_ = false;       /* "restarting" logged for the current outage */
  bool reported_down_ = false;        /* reported pg_is_running = false for the current outage */
  std::string last_transition_error_; /* logged once until it changes */
  bool seen_running_ = false;
  int restart_attempts_ = 0;
  bool sysid_published_ = false;
  NodeId following_ = 0; /* the upstream of our last standby setup (0: unknown) */
  int dropped_rounds_ = 0;
  long monitor_failures_ = 0;
  std::mutex reload_mu_;
  std::optional<Config> pending_reload_;
  std::function<Result<KeeperState>(const std::string&)> monitor_switch_;
  bool disabled_logged_ = false; /* "the monitor is disabled" logged for this period */
  IterationResult disabled_round(const PgStatus& ps);
  /* while primary: which standbys stopped acknowledging our WAL (reported to the monitor) */
  WalAckTracker acks_{cfg_.settings.standby_ack_timeout_ms};
  std::vector<NodeId> last_stale_; /* the verdict last logged */
};

/* Host of a postgres:// URI or conninfo string as libpq reads it (the first one of a list; for
 * HBA rules and pg_autoctl's local address discovery); "" if none or if libpq refuses it. */
std::string monitor_host_of(const std::string& uri);
/* Port likewise (the first one); 5432 if none, invalid, or if libpq refuses the string. */
int monitor_port_of(const std::string& uri);

}  // namespace pgaf::agent
