/*
 * world.hpp — internals of the simulator: the simulated hosts, Postgres, agents, monitor, network
 * and client, and the event loop that drives them (private to pgaf_sim; see sim.hpp for the API).
 *
 * Invariants of the model:
 *  - true time only moves forward; every event runs at its scheduled time, ties in insertion order;
 *  - a host's clock is offset + t·(1 + drift_ppm/10⁶); |drift_ppm| ≤ clock_drift_ppm/2, so any two
 *    clocks differ in rate by at most clock_drift_ppm (the bound settings.hpp promises);
 *  - a Postgres WAL is a vector of records with unique ids; a standby streams from an upstream only
 *    while its WAL is a prefix of the upstream's (otherwise it needs a rewind), so "commit c is on
 *    node n" is "c's record id is in n's WAL";
 *  - a node can acknowledge a commit only while writable(): host up, Postgres running as primary,
 *    not read-only, and the agent's AgentLease grants writes on the node's own clock.
 */
#pragma once

#include <cstdint>
#include <memory>
#include <queue>
#include <string>
#include <vector>

#include "pgaf/core/decide.hpp"
#include "pgaf/core/keeper_table.hpp"
#include "pgaf/core/lease.hpp"
#include "pgaf/sim/sim.hpp"
#include "sim_io.hpp"

namespace pgaf::sim {

/* splitmix64: small, fast, and good enough to drive a simulation. */
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  /* uniform in [lo, hi] */
  std::int64_t range(std::int64_t lo, std::int64_t hi) {
    if (hi <= lo) return lo;
    const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
    return lo + static_cast<std::int64_t>(next() % span);
  }
  bool chance(int pct) { return static_cast<int>(next() % 100) < pct; }

 private:
  std::uint64_t s_;
};

struct Clock {
  std::int64_t offset_us = 0;
  std::int64_t ppm = 0;
  std::int64_t local_us(SimTime t) const { return offset_us + t + t * ppm / 1000000; }
  TimeMs local_ms(SimTime t) const { return local_us(t) / 1000; }
  /* Earliest true time t ≥ 0 at which local_us(t) ≥ target_us. */
  SimTime true_at(std::int64_t target_us) const;
};

enum class EvKind : std::uint8_t {
  AgentLoop,
  AgentCallTimeout,
  AgentStep,
  FenceTick,
  ToMonitor,
  ToAgent,
  HealthRound,
  HealthAttempt,
  HealthResult,
  ReplTick,
  ClientTick,
  FaultStart,
  FaultEnd,
  End,
};

struct Ev {
  SimTime at = 0;
  std::uint64_t seq = 0;
  EvKind kind = EvKind::End;
  int node = 0;
  std::uint64_t epoch = 0;
  std::int64_t a = 0;
  std::int64_t b = 0;
  std::int64_t c = 0;
};
struct EvLater {
  bool operator()(const Ev& x, const Ev& y) const {
    return x.at != y.at ? x.at > y.at : x.seq > y.seq;
  }
};

struct Rec {
  Lsn lsn = 0;
  std::uint64_t id = 0; /* unique per record; commit records use the commit id */
  bool commit = false;
};

struct Waiter {
  std::uint64_t commit_id = 0;
  std::size_t pos = 0; /* WAL length that must be flushed by k standbys */
};

struct Pg {
  bool has_data = false;
  bool running = false;
  bool primary = false; /* running out of recovery (set at every start from standby_signal) */
  /* Configuration files, applied at the next start (primary_conninfo also at a reload). */
  bool standby_signal = false;
  int conf_upstream = 0;   /* primary_conninfo: node id, 0 = none */
  Lsn conf_target_lsn = 0; /* recovery_target_lsn, 0 = none */
  Lsn target_lsn = 0;      /* recovery_target_lsn in effect (standby stops replaying there) */
  std::int64_t sysid = 0;  /* system identifier (initdb; copied by a base backup) */
  std::vector<std::string> slots; /* replication slots */
  int tli = 0;
  std::vector<Rec> log;
  int upstream = 0; /* node id of primary_conninfo, 0 = none */
  bool read_only = false;
  std::string sync_names; /* synchronous_standby_names */
  int sync_k = 0;
  std::vector<int> sync_members;
  std::uint64_t epoch = 0;   /* bumped on every start, stop and promotion */
  SimTime blocked_until = 0; /* CrashPostgres: cannot start before this */
  /* CrashPostgres: until blocked_until a postmaster is alive and in crash recovery (the agent
   * sees postmaster_starting()); false: no postmaster at all (it cannot start). */
  bool recovering = false;
  bool streaming = false;    /* as a standby: the last replication tick succeeded */
  /* As a primary/upstream (indexed by node id): last reply time and flushed WAL length, for the
   * current epoch only. */
  std::vector<SimTime> reply_at;
  std::vector<std::size_t> flushed;
  std::vector<Waiter> waiters;
};

struct Agent {
  bool alive = false;
  bool frozen = false;
  SimTime frozen_until = 0;
  std::uint64_t epoch = 0;
  bool registered = false;
  NodeState current = NodeState::Init; /* persisted (state file) */
  NodeState assigned = NodeState::Init;
  bool granted_ever = false; /* for Broken::AgentIgnoresLease */
  /* The fence thread is gone (agent dead or paused) while Postgres was writable under a lease:
   * Postgres stays writable (RunOptions::fence_dies_with_agent). */
  bool unfenced = false;
  std::int64_t loop_token = 0;
  std::int64_t call_id = 0;
  /* The state file (what the keeper persisted): survives agent restarts. */
  NodeState file_current = NodeState::Init;
  NodeState file_assigned = NodeState::Init;
  std::int64_t file_report_seq = 0;
  bool call_outstanding = false;
  TimeMs call_t_send = 0;
  bool busy = false;
  /* The agent process: the real Keeper and FenceGuard on the simulated interfaces. */
  std::shared_ptr<AgentIo> io;
};

struct Ack {
  std::uint64_t commit_id = 0;
  int node = 0;
  SimTime at = 0;
  int tli = 0;
  bool sync = false;
};

struct ActiveFault {
  Fault f;
  int a = 0; /* resolved targets */
  int b = 0;
  bool active = false;
  int retries = 0; /* operator retries of the undo action (bounded) */
};

class World {
  friend class SimClock;
  friend class SimPostgres;
  friend class SimMonitor;

 public:
  World(const Schedule& s, const RunOptions& o);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;
  RunResult run();
  /* A log line of node n's keeper or fence thread (traced runs only). */
  void keeper_log(int n, std::string_view level, std::string_view text);

 private:
  /* ---- event plumbing ---- */
  void push(Ev e);
  SimTime after_local(int host, SimTime now, TimeMs d_ms) const;
  void dispatch(const Ev& e);
  void tr(const char* who, const std::string& text);
  bool tracing() const { return opt_.trace; }
  void violate(const std::string& kind, const std::string& detail);

  /* ---- network ---- */
  bool endpoint_up(int e) const;
  bool link_ok(int from, int to) const;
  bool pair_ok(int a, int b) const { return link_ok(a, b) && link_ok(b, a); }
  SimTime link_delay(int from, int to);
  void send(int from, int to, Ev e);
  void recompute_links();

  /* ---- Postgres ---- */
  Pg& pg(int n) { return pgs_[static_cast<std::size_t>(n)]; }
  const Pg& pg(int n) const { return pgs_[static_cast<std::size_t>(n)]; }
  void pg_start(int n);
  void pg_stop(int n, bool clean);
  void pg_promote(int n);
  void pg_set_tli(int n, int tli, const char* why);
  void pg_set_sync_names(int n, const std::string& names);
  void pg_append(int n, std::uint64_t id, bool commit, Lsn bytes);
  void pg_initdb(int n);
  void pg_copy_from(int n, int u, const char* how);
  void pg_set_upstream(int n, int u);
  std::string pg_sync_state(int n) const;
  void pg_process_waiters(int n, bool cancel);
  void pg_reset_standby_view(int n);
  bool writable(int n) const;
  bool can_ack(int n) const;
  bool claims_writable(int n) const;
  static bool is_prefix(const std::vector<Rec>& a, const std::vector<Rec>& b);
  void repl_tick(int n);

  /* ---- agent ---- */
  Agent& agent(int n) { return agents_[static_cast<std::size_t>(n)]; }
  void agent_schedule_loop(int n, TimeMs d_ms);
  void agent_loop(int n);
  void agent_on_reply(int n, std::int64_t call_id, bool ok, NodeState goal);
  void agent_new_process(int n);
  void agent_start_keeper(int n);
  void agent_wait(int n, AgentWait kind, TimeMs ms); /* on the agent's fiber */
  void agent_resume(int n);
  void agent_after_switch(int n);
  Result<agent::NodeAssignment> agent_node_active(int n, const agent::NodeActiveArgs& args);
  Result<bool> agent_listen(int n, TimeMs ms);
  void agent_crash(int n);
  void agent_fence_tick(int n);
  void agent_lost_fence(int n);
  void agent_restart(int n);
  TimeMs step_duration(KeeperStep st);

  /* ---- monitor ---- */
  TimeMs mon_now() const { return clocks_[0].local_ms(now_); }
  bool mon_apply(const Event& ev, std::string* err);
  void mon_on_message(const Ev& e);
  void mon_health_round();
  void mon_health_attempt(int n);
  void mon_health_result(int n, bool ok);
  void mon_crash();
  void mon_restart();

  /* ---- host, client, faults ---- */
  void host_crash(int n);
  void host_boot(int n);
  void client_tick();
  void submit_commit(int n);
  void ack(int n, std::uint64_t commit_id, bool sync);
  void fault_start(std::size_t i);
  void fault_end(std::size_t i);
  int resolve_target(int t, int aux) const;
  int current_primary() const;

  /* ---- checks ---- */
  void check_invariants();
  bool converged(std::string* why) const;
  void final_checks();
  std::string state_dump() const;

  Schedule s_;
  RunOptions opt_;
  Settings mon_settings_; /* what the monitor's decide() sees (Broken::MonitorSkipsLeaseWait) */
  Rng rng_;
  SimTime now_ = 0;
  std::uint64_t seq_ = 0;
  std::priority_queue<Ev, std::vector<Ev>, EvLater> q_;
  RunResult res_;
  bool stop_ = false;
  int n_ = 0; /* nodes */

  std::vector<Clock> clocks_;  /* endpoint 0 = monitor */
  std::vector<bool> host_up_;  /* endpoint 0 = monitor */
  std::vector<int> down_;      /* (N+1)² link-down counters */
  std::vector<int> loss_;      /* (N+1)² loss percentages */
  std::vector<SimTime> extra_; /* (N+1)² extra delays (µs) */
  std::vector<SimTime> dup_;   /* (N+1)² duplicate window (µs), 0 = no duplicates */
  std::vector<Pg> pgs_;        /* index = node id; 0 unused */
  std::vector<Agent> agents_;  /* index = node id; 0 unused */

  /* monitor */
  GroupSnapshot g_;
  std::uint64_t mon_epoch_ = 1;
  std::vector<int> hc_tries_;
  std::vector<bool> hc_active_;
  std::vector<NodeActiveEvent> reports_;

  /* client and records */
  std::uint64_t next_id_ = 1;
  std::vector<Ack> acks_;
  int last_ack_tli_ = 0;
  int last_writer_ = 0;

  /* faults and phases */
  std::vector<ActiveFault> faults_;
  SimTime formed_at_ = -1;
  SimTime last_ack_at_ = -1; /* for RunResult::max_ack_gap_ms */
  SimTime heal_at_ = -1;
  SimTime converged_at_ = -1;
  int faults_open_ = 0;
  SimTime rto_from_ = -1;
  int rto_node_ = 0;
};

}  // namespace pgaf::sim
