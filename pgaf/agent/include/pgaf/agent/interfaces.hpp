/*
 * interfaces.hpp — the agent's I/O boundaries: Clock, ProcessRunner, PostgresControl,
 * MonitorClient. Real implementations live in src/ (wired only by the CLI's main paths); fakes for
 * unit tests live in tests/unit/agent.
 *
 * Invariants:
 *  - every call is bounded in time (a timeout argument, or the Settings deadline it documents);
 *  - failures are Errors (pgaf/core error.hpp), never exceptions across these interfaces.
 */
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pgaf/core/error.hpp"
#include "pgaf/core/node.hpp"
#include "pgaf/core/settings.hpp"
#include "pgaf/core/state.hpp"

namespace pgaf::agent {

struct Config; /* config.hpp */

/* ---- stop requests ---- */
/* Set by the services' signal handling; every bounded wait of the agent also ends early when a
 * stop was requested (returning an error), so `pg_autoctl stop` never waits for a step. */
void request_stop();
bool stop_requested();

/* ---- time ---- */
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimeMs now_ms() = 0; /* monotonic */
  virtual void sleep_ms(TimeMs ms) = 0;
  /* Wall clock, µs since the Unix epoch (report numbering, last contact times): the keeper never
   * reads a clock but through this interface, so a simulator can run it. */
  virtual std::int64_t wall_clock_us() = 0;
};
class SystemClock final : public Clock {
 public:
  TimeMs now_ms() override;
  void sleep_ms(TimeMs ms) override;
  std::int64_t wall_clock_us() override;
};

/* ---- processes ---- */
struct ProcessSpec {
  std::string program; /* absolute path */
  std::vector<std::string> args;
  std::map<std::string, std::string> env_set; /* added to the inherited environment */
  std::string output_file;                    /* append stdout+stderr there; empty = capture */
  TimeMs timeout_ms = 60000;                  /* SIGKILL after this */
};
struct ProcessResult {
  int exit_code = -1; /* -1: killed or timed out */
  bool timed_out = false;
  std::string output; /* captured output (when output_file is empty), bounded */
};
class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  /* Run to completion (bounded). The child dies with us (PR_SET_PDEATHSIG). */
  virtual ProcessResult run(const ProcessSpec& spec) = 0;
};
/* Boost.Process implementation. */
std::unique_ptr<ProcessRunner> make_process_runner();

/* ---- local Postgres ---- */
enum class PgExpected { Unknown, Stopped, Running };
std::string_view to_string(PgExpected e);

struct PgStatus {
  bool running = false; /* accepts connections */
  bool in_recovery = false;
  bool read_only = false; /* default_transaction_read_only */
  int tli = 0;
  Lsn lsn = 0;
  std::string sync_state; /* best sync_state of our standbys: quorum > sync > potential > async */
  std::int64_t system_identifier = 0;
  bool wal_receiver_active = false; /* a WAL receiver process exists (standby streaming) */
};

struct Upstream {
  std::string host;
  int port = 0;
  NodeId node_id = 0; /* the upstream's node id */
};

struct StandbySetup {
  std::optional<Upstream> upstream; /* nullopt: no primary_conninfo (standby with no upstream) */
  std::string slot_name;            /* primary_slot_name ('' = none) */
  std::string application_name;     /* pgautofailover_standby_<our id> */
  Lsn recovery_target_lsn = 0;      /* 0 = none */
};

struct SlotInfo {
  std::string name;
  bool active = false;
  Lsn restart_lsn = 0;
};

/* application_name -> reply_time (text) of every streaming pgautofailover standby. */
using StandbyReplies = std::map<std::string, std::string>;
/* The primary's WAL position and the flush LSN of every connected pgautofailover standby, by
 * node id (from application_name pgautofailover_standby_<id>). */
struct WalAcks {
  Lsn current = 0;
  std::map<NodeId, Lsn> flush;
};

class PostgresControl {
 public:
  virtual ~PostgresControl() = default;
  virtual bool pgdata_initialized() = 0; /* PG_VERSION exists */
  virtual Status initdb() = 0;
  /* postgresql-auto-failover.conf + include lines in postgresql.conf. */
  virtual Status write_managed_config() = 0;
  /* Expected status for the controller (pg_autoctl.pg), then wait (bounded) for it. */
  virtual Status ensure_running(TimeMs timeout_ms) = 0;
  virtual Status ensure_stopped(TimeMs timeout_ms) = 0;
  virtual Status release_to_operator() = 0; /* remove pg_autoctl.pg */
  virtual Result<PgStatus> status() = 0;    /* running=false if it does not answer */
  /* A postmaster serves this PGDATA but does not accept connections yet: crash recovery or
   * startup after a restart (postmaster.pid names a live process). Default: never. */
  virtual bool postmaster_starting() { return false; }
  /* Counts the sessions this object opened to Postgres; a new value means a new session, maybe
   * to a restarted server whose shared memory (pgaf_fence's deadline) is fresh. Default: 0. */
  virtual std::uint64_t session_epoch() { return 0; }
  virtual Status set_read_only(bool on) = 0; /* ALTER SYSTEM + reload */
  /* Hand the lease deadline (this host's CLOCK_MONOTONIC, ms) to the pgaf_fence extension,
   * which refuses commits after it even if the agent dies or is frozen (fencing.md L4b).
   * Default: not available (fakes, or a Postgres without pgaf_fence). */
  virtual Status set_fence_deadline(TimeMs deadline_ms) {
    (void)deadline_ms;
    return make_error(ErrorCode::Unsupported, "pgaf_fence is not available");
  }
  virtual Status terminate_client_backends() = 0;
  virtual Status set_synchronous_standby_names(
      const std::string& value) = 0; /* + cancel waiters if '' */
  virtual Result<std::string> synchronous_standby_names() = 0;
  virtual Status checkpoint() = 0;
  virtual Status promote(TimeMs timeout_ms) = 0; /* promote and wait until out of recovery */
  virtual Result<std::vector<SlotInfo>> list_slots() = 0;
  virtual Status create_slot(const std::string& name) = 0;
  virtual Status drop_slot(const std::string& name) = 0;
  virtual Status advance_slot(const std::string& name, Lsn lsn) = 0;
  virtual Status write_standby_setup(const StandbySetup& s) = 0; /* + standby.signal */
  virtual Status cleanup_standby_setup() = 0;
  /* Reload config so primary_conninfo changes apply (PG ≥ 13), restart if not running. */
  virtual Status reload() = 0;
  /* SIGHUP: the re-read configuration for what this object does from now on (the TLS parameters
   * of the connections it makes, the replication password). Default: nothing to update. */
  virtual void reconfigure(const Config& cfg) { (void)cfg; }
  virtual Status restart(TimeMs timeout_ms) = 0;
  virtual Status base_backup(const Upstream& from, const std::string& slot) = 0;
  virtual Status rewind(const Upstream& from) = 0;
  virtual Result<Lsn> replay_lsn() = 0;
  virtual Result<int> upstream_timeline(const Upstream& from) = 0;
  virtual Status create_roles_and_db(const std::string& dbname) = 0;
  /* Ensure HBA lines for these hosts (replication + dbname for pgautofailover_replicator,
   * postgres for pgautofailover_monitor from the monitor host); reload when changed. */
  virtual Status ensure_hba(const std::vector<std::string>& node_hosts,
                            const std::string& monitor_host) = 0;
  virtual Result<StandbyReplies> standby_replies() = 0;
  /* A few bytes of WAL that commit nothing and never wait for a standby (non-transactional
   * logical message): the standbys receive it and reply, which keeps their vouch fresh. */
  virtual Status emit_heartbeat() = 0;
  /* pg_current_wal_lsn() and pg_stat_replication's flush_lsn per standby (one-way partitions:
   * WalAckTracker). Default: not available (fakes), which means no verdict is reported. */
  virtual Result<WalAcks> wal_acks() {
    return make_error(ErrorCode::Unsupported, "WAL acknowledgements are not available");
  }
};

/* ---- the monitor ---- */
struct NodeAssignment {
  NodeId node_id = 0;
  GroupId group_id = 0;
  NodeState goal = NodeState::Init;
  int candidate_priority = 0;
  bool replication_quorum = true;
  std::string name;
};

struct NodeAddress {
  NodeId node_id = 0;
  std::string name;
  std::string host;
  int port = 0;
  Lsn lsn = 0;
  bool is_primary = false;
};

struct RegisterArgs {
  std::string formation = "default";
  std::string host;
  int port = 0;
  std::string dbname = "postgres";
  std::string name;
  std::int64_t sysidentifier = 0;
  NodeState initial_state = NodeState::Init;
  NodeId desired_node_id = -1; /* -1: the monitor picks (enable monitor asks for its old id) */
  int candidate_priority = 50;
  bool replication_quorum = true;
};

struct NodeActiveArgs {
  std::string formation = "default";
  NodeId node_id = 0;
  GroupId group_id = 0;
  NodeState current = NodeState::Init;
  bool pg_is_running = false;
  int tli = 0;
  Lsn lsn = 0;
  std::string sync_state;
  /* Strictly increasing per node (0 = none): the monitor ignores a report older than one it
   * already applied (a call that timed out on our side but still ran late). */
  std::int64_t report_seq = 0;
  /* A primary's verdict (WalAckTracker): standbys that do not acknowledge its WAL. nullopt: no
   * verdict (not a primary, or no sample yet). */
  std::optional<std::vector<NodeId>> stale_standbys;
};

struct StateRow {
  std::string name, host;
  int port = 0;
  GroupId group_id = 0;
  NodeId node_id = 0;
  NodeState reported = NodeState::Unknown;
  NodeState goal = NodeState::Unknown;
  int candidate_priority = 0;
  bool replication_quorum = true;
  int tli = 0;
  std::string lsn;
  int health = -1;
};

/* A row of pgautofailover.event (last_events), every column the reference's show events prints. */
struct EventRow {
  std::int64_t event_id = 0;
  std::string time;     /* eventtime as Postgres prints a timestamptz */
  std::string time_iso; /* eventtime as row_to_json renders it (ISO 8601) */
  std::string formation;
  NodeId node_id = 0;
  GroupId group_id = 0;
  std::string node_name, node_host;
  int node_port = 0;
  std::string reported, goal;
  std::optional<std::string> rep_state; /* reportedrepstate (NULL: nullopt) */
  int tli = 1;
  std::string lsn;
  std::optional<int> candidate_priority;
  std::optional<bool> replication_quorum;
  std::string description;
};

class MonitorClient {
 public:
  virtual ~MonitorClient() = default;
  virtual Result<NodeAssignment> register_node(const RegisterArgs& a) = 0;
  virtual Result<NodeAssignment> node_active(const NodeActiveArgs& a) = 0;
  virtual Result<NodeAddress> get_primary(const std::string& formation, GroupId group) = 0;
  virtual Result<std::vector<NodeAddress>> get_other_nodes(NodeId node_id) = 0;
  virtual Result<std::optional<NodeAddress>> get_most_advanced_standby(const std::string& formation,
                                                                       GroupId group) = 0;
  virtual Result<std::string> synchronous_standby_names(const std::string& formation,
                                                        GroupId group) = 0;
  virtual Status set_node_system_identifier(NodeId node_id, std::int64_t sysid) = 0;
  virtual Result<bool> remove_node(NodeId node_id, bool force) = 0;
  virtual Result<bool> remove_node_by_host(const std::string& host, int port, bool force) = 0;
  virtual Status perform_failover(const std::string& formation, GroupId group) = 0;
  virtual Result<bool> perform_promotion(const std::string& formation, const std::string& name) = 0;
  /* pgautofailover.start_maintenance / stop_maintenance */
  virtual Result<bool> start_maintenance(NodeId node_id) = 0;
  /* set_node_candidate_priority / set_node_replication_quorum / set_formation_number_sync_standbys,
   * and the formation's number_sync_standbys */
  virtual Status set_node_candidate_priority(const std::string& formation, const std::string& name,
                                             int priority) = 0;
  virtual Status set_node_replication_quorum(const std::string& formation, const std::string& name,
                                             bool quorum) = 0;
  virtual Status set_formation_number_sync_standbys(const std::string& formation, int n) = 0;
  virtual Result<int> formation_number_sync_standbys(const std::string& formation) = 0;
  /* create_formation / drop_formation / enable_secondary / disable_secondary */
  virtual Status create_formation(const std::string& formation, const std::string& kind,
                                  const std::string& dbname, bool opt_secondary, int nss) = 0;
  virtual Status drop_formation(const std::string& formation) = 0;
  virtual Status set_formation_secondary(const std::string& formation, bool enabled) = 0;
  virtual Result<bool> stop_maintenance(NodeId node_id) = 0;
  virtual Result<std::vector<StateRow>> current_state(const std::string& formation) = 0;
  /* pgautofailover.last_events: the newest `count` events of the formation, oldest first; of one
   * group when group >= 0 (the reference's (formation, group, count) overload), else of all. */
  virtual Result<std::vector<EventRow>> last_events(const std::string& formation, GroupId group,
                                                    int count) = 0;
  /* pgautofailover.formation_uri(formation, 'default', sslmode, sslrootcert, sslcrl) */
  virtual Result<std::optional<std::string>> formation_uri(const std::string& formation,
                                                           const std::string& sslmode,
                                                           const std::string& sslrootcert,
                                                           const std::string& sslcrl) = 0;
  /* Wait at most timeout_ms for a `state` notification about (formation, group); true if one
   * arrived. LISTENs on first use; a broken connection is an error (callers then just poll). */
  virtual Result<bool> wait_for_state_change(const std::string& formation, GroupId group,
                                             TimeMs timeout_ms) = 0;
  /* As wait_for_state_change, also woken by any message on the `log` channel (watch).
   * Default: the state channel only. */
  virtual Result<bool> wait_for_notification(const std::string& formation, GroupId group,
                                             TimeMs timeout_ms) {
    return wait_for_state_change(formation, group, timeout_ms);
  }
  /* pgautofailover.update_node_metadata: '' / 0 leave a field as it is. Default: unsupported. */
  virtual Status update_node_metadata(NodeId node_id, const std::string& name,
                                      const std::string& host, int port) {
    (void)node_id, (void)name, (void)host, (void)port;
    return make_error(ErrorCode::Unsupported, "update_node_metadata is not available");
  }
  /* SIGHUP after `enable|disable ssl`: connect with this URI from now on (the open connections
   * are closed). Default: nothing to update. */
  virtual void set_uri(const std::string& uri) { (void)uri; }
  /* The pgautofailover extension's {default_version, installed_version} on the monitor.
   * Default: unsupported. */
  virtual Result<std::pair<std::string, std::string>> extension_version() {
    return make_error(ErrorCode::Unsupported, "the monitor's extension version is not available");
  }
};
/* A NOTIFY on channel `state` from the monitor (its JSON payload, the reference's keys). */
struct StateNotification {
  std::string formation;
  GroupId group_id = -1;
  NodeId node_id = -1;
  std::string name, host;
  int port = 0;
  std::string reported, goal, health;
};
/* Parse a `state` payload; a payload that is not one is an error naming what is wrong. */
Result<StateNotification> parse_state_notification(const std::string& payload);

/* libpqxx implementation; every call bounded by settings.monitor_call_timeout_ms. */
std::unique_ptr<MonitorClient> make_monitor_client(const std::string& uri, const Settings& s);

}  // namespace pgaf::agent
