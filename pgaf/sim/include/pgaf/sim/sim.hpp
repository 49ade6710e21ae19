/*
 * sim.hpp — the deterministic formation simulator (pgaf-sim).
 *
 * One schedule = one seed: a formation of 1..5 nodes plus a monitor, a fault list, per-host clock
 * drifts and settings. run_schedule() plays it in simulated time (an event queue; nothing sleeps)
 * with the REAL core and the REAL keeper: the monitor calls pgaf::decide(), every simulated agent
 * runs pgaf::agent::Keeper (its loop, reports, transitions and steps) on simulated interfaces
 * (src/sim_io.hpp) and gates its Postgres with the real AgentLease. Only Postgres, the network,
 * clocks, processes, the health checker and the client are simulated.
 *
 * Invariants (a violation ends the run and is reported with the seed):
 *  - split_brain:   at no instant are two nodes able to acknowledge a commit (checked after every
 *                   event; writability only begins at events, so this is exact);
 *  - two_writable:  at no instant do two nodes accept writes (running primary, not read-only, not
 *                   fenced), even if one would block in SyncRep;
 *  - sync_loss:     a commit acknowledged after k quorum standbys flushed it is in the final
 *                   primary's WAL;
 *  - timeline:      a node's timeline never goes back; acknowledged commits never go back in
 *                   timeline;
 *  - no_edge:       the monitor never assigns a goal the keeper table has no edge for (checked on
 *                   the monitor side from the reported state and on the agent side from its state);
 *  - convergence:   after the last fault heals, exactly one primary and every other node secondary
 *                   within SimLimits::converge_ms; the formation forms within bootstrap_ms;
 *  - rto:           in "primary host lost" schedules, a new primary acknowledges a commit within
 *                   SimLimits::rto_violation_ms;
 *  - core_assert:   a PGAF_ASSERT inside the core failed (run_schedule installs an assertion
 *                   handler that turns it into this violation instead of aborting).
 *
 * Determinism: the same Schedule gives the same trace, byte for byte (no wall clock, no address-
 * dependent ordering, one PRNG per run seeded from the schedule).
 */
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgaf/core/settings.hpp"

namespace pgaf::sim {

using SimTime = std::int64_t; /* true simulated time, microseconds since the start of the run */

/* Deliberately broken variants: the simulator must catch each of them. */
enum class Broken {
  None,
  AgentIgnoresLease,     /* the agent lets Postgres write once granted, never fences */
  MonitorSkipsLeaseWait, /* the monitor runs decide() with lease and vouch windows zeroed */
  StandbyAcksEarly,      /* a standby confirms a flush one record before it has it */
};
std::string_view to_string(Broken b);
std::optional<Broken> parse_broken(std::string_view s);

/* Endpoint 0 is the monitor, 1..N are nodes. Role-relative targets are resolved when the fault
 * starts. */
inline constexpr int kMonitor = 0;
inline constexpr int kTargetPrimary = -1; /* the node that is primary when the fault starts */
inline constexpr int kTargetStandby = -2; /* some node that is not the primary (picked by aux) */

enum class FaultKind {
  Partition,       /* links a→b and b→a down */
  PartitionOneWay, /* link a→b down only */
  Isolate,         /* every link of a, both directions */
  IsolateOut,      /* every link from a */
  IsolateIn,       /* every link to a */
  Lossy,           /* a⇄b drop messages with probability loss_pct */
  Slow,            /* a⇄b extra delay delay_ms */
  CrashPostgres,   /* Postgres of node a crashes; it cannot start again until the fault ends */
  CrashAgent,      /* the agent of node a dies; restarts (state file kept) when the fault ends */
  FreezeAgent,     /* the agent of node a is paused; resumes when the fault ends */
  CrashHost,       /* node a: power off (Postgres, agent, network); boots when the fault ends */
  CrashMonitor,    /* the monitor is down; restarts with its durable state when the fault ends */
  /* Operator actions through the monitor API (not faults, but they share the schedule): */
  Switchover,      /* perform_failover at the start */
  Promote,         /* perform_promotion of node a at the start */
  Maintenance,     /* start_maintenance of node a at the start, stop_maintenance at the end */
  SetPriority,     /* set_node_candidate_priority(a, value), restored at the end */
  SetSyncStandbys, /* set_formation_number_sync_standbys(value), restored at the end */
  Duplicate,       /* a⇄b every message is delivered twice, the copy up to delay_ms later */
};
std::string_view to_string(FaultKind k);

struct Fault {
  FaultKind kind = FaultKind::Partition;
  int a = 1;
  int b = 0;
  int aux = 0;               /* picks among candidates for kTargetStandby */
  std::int64_t start_ms = 0; /* after the formation first formed */
  std::int64_t duration_ms = 0;
  int loss_pct = 0;
  std::int64_t delay_ms = 0;
  int value = 0; /* SetPriority, SetSyncStandbys */
};
std::string describe(const Fault& f);

struct Schedule {
  std::uint64_t seed = 0;
  int nodes = 2;
  int number_sync_standbys = 0;
  std::vector<int> candidate_priority;  /* per node (index 0 = node 1) */
  std::vector<bool> replication_quorum; /* per node */
  std::vector<std::int64_t> drift_ppm;  /* per endpoint (0 = monitor), |x| ≤ clock_drift_ppm/2 */
  Settings settings;
  std::vector<Fault> faults;
  bool primary_lost = false; /* the canonical "primary host lost" schedule (RTO measured) */
  Broken broken = Broken::None;
};
std::string describe(const Schedule& s);

/* A schedule as one token, independent of the generator (so a finding replays after the
 * generator changes): "v1;seed=N;n=3;nss=0;prio=100,100,0;q=1,1,1;drift=500,-500,12,0;
 * f=kind,a,b,aux,start,dur,loss,delay,value;f=...;pl=0;broken=none". Settings are the defaults. */
std::string encode(const Schedule& s);
/* Parses encode()'s format; an error names the malformed field. */
Result<Schedule> decode(std::string_view text);

struct GenOptions {
  int nodes = 0; /* 0 = random 1..5 */
  Broken broken = Broken::None;
  int primary_lost_pct = 25; /* share of canonical "primary host lost" schedules */
};
Schedule generate_schedule(std::uint64_t seed, const GenOptions& o);

struct SimLimits {
  SimTime bootstrap_ms = 20000;
  SimTime converge_ms = 30000; /* after the last fault ends */
  SimTime rto_violation_ms = 10000;
  SimTime settle_ms = 1000; /* run on after convergence, then check the end state */
};

struct Violation {
  std::string kind; /* split_brain, sync_loss, timeline, no_edge, convergence, rto, ... */
  SimTime at_us = 0;
  std::string detail;
};

struct RunResult {
  std::uint64_t seed = 0;
  std::optional<Violation> violation;
  std::optional<std::int64_t> rto_ms; /* primary loss → first ack on another node */
  std::int64_t acked = 0;
  std::int64_t acked_sync = 0;
  std::int64_t lost_async = 0; /* RPO: async-acknowledged commits missing at the end */
  std::int64_t events = 0;
  /* Longest interval without any acknowledged commit once the formation formed (client-observed
   * write unavailability: the sim's client writes every 25-55 ms), in ms. */
  std::int64_t max_ack_gap_ms = 0;
  std::int64_t promotions = 0; /* Postgres promotions (failovers and switchovers) */
  SimTime end_us = 0;
  std::uint64_t trace_hash = 0;   /* FNV-1a of every trace line (computed even untraced) */
  std::vector<std::string> trace; /* filled only with RunOptions::trace */
};

struct RunOptions {
  bool trace = false;
  SimLimits limits;
  /* Ignored since the simulator runs the real FenceGuard (which feeds AgentLease itself; the lease
   * dates a vouch at the previous sample since core c22a67e). Kept so that the replay commands
   * printed by older versions, and docs/simulator.md's, still parse. */
  bool vouch_from_previous_sample = false;
  /* true (as pgaf/agent does it): the fence is a thread of the agent, so while the agent is dead or
   * paused a Postgres that was writable stays writable. false: the lease deadline is enforced
   * inside Postgres and expires on its own. */
  bool fence_dies_with_agent = false; /* the agent arms pgaf_fence (fencing.md L4b) */
};

RunResult run_schedule(const Schedule& s, const RunOptions& o);

/* The replay token of the schedule being run (or ""), kept so that a crash inside the core (an
 * assertion aborts) can still name what to replay: pgaf-sim prints it from its SIGABRT handler. */
const char* running_schedule_token();

/* Greedy shrink: drop faults one at a time while the run still fails (any violation of the same
 * kind). Bounded by max_runs. */
Schedule shrink(const Schedule& failing, const std::string& kind, const RunOptions& o,
                int max_runs = 200);

/* Seed range summary. */
struct Summary {
  std::int64_t schedules = 0;
  std::int64_t violations = 0;
  std::vector<std::uint64_t> failing_seeds;
  std::map<std::string, std::int64_t> by_kind; /* violations per kind */
  std::vector<std::int64_t> rto_ms;            /* canonical primary-lost schedules */
  std::int64_t acked = 0;
  std::int64_t lost_async = 0;
  std::int64_t events = 0;
  double seconds = 0; /* wall clock, for the printed rate only */
  std::optional<RunResult> first_failure;
  std::optional<Schedule> first_failure_schedule;
};
/* Shard i of n (1-based) takes the seeds first + k*n + (i-1): the n shards are disjoint and
 * cover the range, whatever machine runs each (a CI matrix, Kubernetes Indexed Jobs). */
struct Shard {
  std::uint64_t index = 1;
  std::uint64_t count = 1;
};
/* Parses "i/n" with 1 <= i <= n; nullopt otherwise. */
std::optional<Shard> parse_shard(std::string_view text);

Summary run_seeds(std::uint64_t first, std::uint64_t last, const GenOptions& g, const RunOptions& o,
                  bool stop_at_first_failure, Shard shard = {});

std::int64_t percentile(std::vector<std::int64_t> v, double p); /* nearest rank; -1 if empty */

}  // namespace pgaf::sim
