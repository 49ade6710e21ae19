/*
 * scenario.hpp — the lab's declarative scenario: what formation to build, what workload to run,
 * which faults to inject (at a time offset or when a node enters an FSM state), and what the
 * checkers must find. docs/scenarios.md documents every field.
 *
 * Invariants:
 *  - A Scenario returned by parse_scenario*() is fully validated: every name resolves, every
 *    number is inside its documented range, every required field is present, and no unknown
 *    field exists. The runner never re-validates; it may PGAF_ASSERT on these facts.
 *  - A malformed file yields an Error whose message starts with "<file>:<line>:" and names the
 *    field path ("faults[2].target"), before anything is started.
 */
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pgaf/core/error.hpp"
#include "pgaf/core/settings.hpp"
#include "pgaf/lab/profile.hpp"

namespace pgaf::lab {

/* Hard limits (TigerBeetle style: a limit on everything). */
inline constexpr int kMaxNodes = 8;
inline constexpr int kMaxClients = 16;
inline constexpr int kMaxFaults = 32;
inline constexpr int kMaxRatePerClient = 1000;
inline constexpr TimeMs kMaxScenarioTimeoutMs = 30 * 60 * 1000;

enum class FaultAction {
  IfDown,      /* set the node's interface down for duration, then up */
  Partition,   /* isolate `target` from every other lab host (or `from` groups), both directions */
  OneWay,      /* drop/reject packets from `target` to `to` only */
  MonitorLoss, /* kill the monitor's processes; restart after `restart_after` (optional) */
  DiskFull,    /* fill the node's tmpfs (PGDATA: WAL and data) for duration */
  Reboot,      /* SIGKILL every process of the node, then start `pg_autoctl run` again */
  Kill,        /* SIGKILL one process of the node: postmaster or agent */
  Freeze,      /* SIGSTOP a process or the whole node for duration, then SIGCONT */
  Loss,        /* packet loss percent on the node's link (capability probed) */
  Latency,     /* added delay on the node's link (capability probed) */
  Bandwidth,   /* rate limit on the node's link (capability probed) */
  Switchover,  /* operator action: pg_autoctl perform switchover */
  /* Under a network profile (profile.hpp, docs/vendor.md): */
  ZonePartition, /* every router drops (or rejects) traffic between two zones */
  PathMtu,       /* MTU black hole on a router's link into a zone (DF packets above it vanish) */
  FirewallReset, /* a router loses its connection-tracking state table (instantaneous) */
  Reroute,       /* hosts of a zone reach another zone through another router (asymmetry) */
};

enum class FaultMode { Drop, Reject };
enum class ProcessKind { Node, Postmaster, Agent };
enum class SyncCommit { Off, Local, RemoteWrite, On, RemoteApply };
enum class FailoverExpectation { Allowed, Required, Forbidden };

/* Who a fault hits. Resolved when the fault fires (the primary then, not at parse time). */
struct Target {
  enum class Kind { Primary, Standby, AnyNode, Node, Monitor, Clients } kind = Kind::Primary;
  int node_index = -1; /* Kind::Node: 0-based (node1 → 0) */
  std::string to_string() const;
};

/* When a fault fires: at an offset from the start of the fault phase, or when a node enters a
 * monitor FSM state (reported state), optionally plus a delay. */
struct Trigger {
  std::optional<TimeMs> at_ms;
  struct When {
    Target node;       /* Primary, Standby, AnyNode or Node */
    std::string state; /* a pg_auto_failover wire state name, e.g. "report_lsn" */
    TimeMs delay_ms = 0;
  };
  std::optional<When> when;
};

struct Fault {
  std::string name;
  int line = 0; /* line of the fault in the file, for messages */
  FaultAction action = FaultAction::Kill;
  Trigger trigger;
  Target target;
  std::optional<Target> to; /* OneWay: the receiving side; Partition: optional peer */
  FaultMode mode = FaultMode::Drop;
  ProcessKind process = ProcessKind::Node;
  std::optional<TimeMs> duration_ms;      /* heal after; absent = until the heal phase */
  std::optional<TimeMs> restart_after_ms; /* MonitorLoss/Reboot/Kill agent: restart after */
  int loss_percent = 0;
  TimeMs delay_ms = 0;
  int rate_kbit = 0;
  bool include_clients = true; /* Partition: clients are cut off too */
  /* Kill postmaster: Postgres cannot start again until the heal phase (its data directory gets
   * permissions Postgres refuses, restored at heal) — "the restart fails". */
  bool prevent_restart = false;
  /* Network-profile faults: zone names, router names, the MTU of a black hole. */
  std::vector<std::string> zones; /* ZonePartition: the two zones */
  std::string router;             /* PathMtu, FirewallReset */
  std::string zone;               /* PathMtu: the router's leg; Reroute: whose route changes */
  std::string to_zone;            /* Reroute: the destination zone */
  std::string via;                /* Reroute: the router used from now on */
  int mtu = 0;                    /* PathMtu */
  bool needs_network() const {
    return action == FaultAction::ZonePartition || action == FaultAction::PathMtu ||
           action == FaultAction::FirewallReset || action == FaultAction::Reroute;
  }
};

struct FormationSpec {
  int nodes = 2;
  std::vector<int> candidate_priorities; /* size == nodes; 0..100 */
  std::vector<bool> replication_quorum;  /* size == nodes */
  int number_sync_standbys = 0;
  SyncCommit synchronous_commit = SyncCommit::On;
  int node_disk_mb = 256;                                    /* tmpfs size of each node's PGDATA */
  std::vector<std::pair<std::string, std::string>> settings; /* pgaf::Settings names */
  TimeMs stable_timeout_ms = 120000;                         /* bound on building the formation */
  /* Test-only agent switches (e.g. disable fencing) passed as environment to pg_autoctl run,
   * used by scenarios built to violate an invariant. */
  std::vector<std::pair<std::string, std::string>> agent_env;
  /* Each node's agent serves its HTTP endpoint on 127.0.0.1:kLabHttpPort of its host (YAML
   * `http_endpoint: true`); the sampler reads `GET /primary` and the report draws it per node. */
  bool http_endpoint = false;
};
inline constexpr int kLabHttpPort = 8008;

struct WorkloadSpec {
  int clients = 2;
  int rate_per_client = 20; /* writes per second per client */
  TimeMs op_timeout_ms = 2000;
  TimeMs connect_timeout_ms = 1000;
  /* false: each client keeps its session and reconnects through the URI when it breaks; true:
   * a new session through the URI for every write, as a probe in a shell loop does (YAML
   * `connection: per_write`). */
  bool connect_per_write = false;
};

struct PhasesSpec {
  TimeMs warmup_ms = 5000;
  double warmup_min_ok_ratio = 0.95; /* steady-state check of the warm-up phase */
  TimeMs faults_ms = 20000;          /* length of the fault phase; faults heal at its end */
  TimeMs converge_within_ms = 60000; /* after heal, bound on convergence */
  TimeMs cooldown_ms = 3000;         /* workload keeps running after convergence */
};

struct Expectations {
  std::optional<TimeMs> rto_max_ms;   /* per fault, client-observed write unavailability */
  std::optional<int> lost_writes_max; /* default: 0 with sync replication, unbounded async */
  FailoverExpectation failover = FailoverExpectation::Allowed;
  std::optional<int> new_primary;          /* node index the failover must promote */
  std::map<std::string, int> final_states; /* e.g. primary: 1, secondary: 2 */
};

struct Scenario {
  std::string file;
  std::string name;
  std::string description;
  std::vector<std::string> tags;
  std::uint64_t seed = 1;
  TimeMs timeout_ms = 600000; /* per-scenario hard bound on the whole run */
  FormationSpec formation;
  WorkloadSpec workload;
  PhasesSpec phases;
  std::vector<Fault> faults;
  Expectations expect;
  /* The `network:` section: zones and routers instead of the single switch (profile.hpp).
   * `lab run|certify --network FILE` overrides it. */
  std::optional<NetworkProfile> network;

  bool has_tag(const std::string& tag) const;
  /* Sync replication is on when commits wait for a standby: synchronous_commit is on,
   * remote_write or remote_apply and at least one standby participates in the quorum. */
  bool sync_replication() const;
  /* lost_writes_max, or its default (0 with sync replication, unbounded otherwise). */
  std::optional<int> effective_lost_writes_max() const;
  /* Faults that need a capability the kernel may lack (loss, latency, bandwidth). */
  std::vector<std::string> required_capabilities() const;
};

std::string to_string(FaultAction a);
std::string to_string(FaultMode m);
std::string to_string(ProcessKind p);
std::string to_string(SyncCommit s);
std::string to_string(FailoverExpectation f);

/* The scenario's network-profile faults name zones and routers of `network` (nullptr: no profile,
 * then such faults are an error). The error names file, line and field. */
Status check_scenario_network(const Scenario& sc, const NetworkProfile* network);

/* Parse and validate a scenario from YAML text; `file` is used in messages only. */
Result<Scenario> parse_scenario(const std::string& yaml_text, const std::string& file);
/* Read and parse a file. */
Result<Scenario> parse_scenario_file(const std::string& path);

}  // namespace pgaf::lab
