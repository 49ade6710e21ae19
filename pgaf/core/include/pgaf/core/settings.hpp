/*
 * settings.hpp — every timeout and threshold of pgaf, in one struct.
 *
 * Units are in the names (_ms, _bytes, _ppm). Defaults are documented next to each field; where a
 * field has a pg_auto_failover counterpart (GUC or keeper config key) it is named in the comment,
 * and where our default differs, the reason is given. The fencing fields are explained in
 * docs/design/fencing.md, including the failover-time arithmetic.
 *
 * validate() rejects nonsense (negative timeouts, a lease shorter than the report interval, ...)
 * with an error naming the field.
 */
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pgaf/core/error.hpp"
#include "pgaf/core/lsn.hpp"

namespace pgaf {

using TimeMs = std::int64_t; /* milliseconds on some monotonic clock (whose clock: see each use) */
/* Lsn (a WAL position) and its text form: pgaf/core/lsn.hpp */

struct Settings {
  /* ---- monitor: health checks (GUCs pgautofailover.health_check_*) ---- */
  /* Time between health-check rounds. Reference default 5000; ours is faster so that a dead
   * host is confirmed within the lease (see fencing.md). */
  TimeMs health_check_period_ms = 500;
  /* Deadline of one connection attempt. Reference 5000. */
  TimeMs health_check_timeout_ms = 500;
  /* Failed attempts after the first before a node is marked bad. Reference 2. */
  int health_check_max_retries = 1;
  /* Delay between attempts. Reference 2000. */
  TimeMs health_check_retry_delay_ms = 200;

  /* ---- monitor: node health (GUCs) ---- */
  /* A silent node (no report) with a failed health check is unhealthy after this long.
   * Reference pgautofailover.node_considered_unhealthy_timeout = 20000. Used for standbys;
   * the primary is judged by its lease instead (lease_ms), which is shorter. */
  TimeMs node_considered_unhealthy_timeout_ms = 5000;
  /* No "unhealthy" verdict this long after the monitor starts. Reference 10000. */
  TimeMs startup_grace_period_ms = 3000;
  /* The health-check worker re-evaluates every group this often (a TickEvent), also while a
   * health-check round is probing a dead node: the end of a lease or vouch wait is acted on
   * within this bound, not at the next report or round (GUC pgautofailover.tick_interval; pgaf). */
  TimeMs monitor_tick_interval_ms = 100;

  /* ---- monitor: replication thresholds (GUCs, reference defaults) ---- */
  /* catchingup → secondary only within this lag of the primary. */
  std::int64_t enable_sync_wal_log_threshold_bytes = 16 * 1024 * 1024;
  /* promote only if the candidate is within this lag of the primary's last reported LSN. */
  std::int64_t promote_wal_log_threshold_bytes = 16 * 1024 * 1024;

  /* ---- fencing: the primary's lease (ours; replaces primary_demote_timeout = 30000 and
   *      network_partition_timeout = 20000 of the reference) ---- */
  /* A primary's agent may accept writes for lease_ms (its own clock) after it *sent* a report that
   * the monitor answered with a writable goal. */
  TimeMs lease_ms = 1500;
  /* While the monitor is unreachable, a primary in state primary may keep writing for
   * standby_vouch_ms after it last saw enough quorum standbys streaming from it. */
  TimeMs standby_vouch_ms = 1500;
  /* Bound on clock rate difference between any two hosts, parts per million. */
  std::int64_t clock_drift_ppm = 1000;
  /* Added by the monitor on top of the drift-scaled lease before it treats a lease as expired. */
  TimeMs lease_margin_ms = 250;
  /* The agent starts fencing this long before its lease ends: bound on the time to make
   * Postgres refuse writes plus the agent's own scheduling delay. */
  TimeMs fence_guard_ms = 300;

  /* ---- agent (keeper config timeout.* and the node-active loop) ---- */
  /* Period of node_active reports. Reference: 1 s loop. Must be well under lease_ms. */
  TimeMs node_active_interval_ms = 500;
  /* Connection and statement deadline for one monitor call (PGCONNECT_TIMEOUT; reference 2 s).
   * The connection's libpq connect_timeout is this, rounded up to whole seconds
   * (connect_timeout_seconds); libpq 15 documents 2 s as its minimum (1 is read as 2). */
  TimeMs monitor_call_timeout_ms = 1000;
  /* A primary whose Postgres is down keeps reporting "running" while it retries restarting it,
   * for at most this long / this many restarts (timeout.postgresql_restart_failure_*; reference
   * 20000 ms / 3). Ours is faster: a dead primary Postgres is a failover, not a retry loop. */
  TimeMs postgresql_restart_failure_timeout_ms = 1000;
  int postgresql_restart_failure_max_retries = 1;
  /* The restart budget (pgaf; the reference has none): after a crash of a primary's Postgres,
   * while a postmaster for its PGDATA is alive but not yet accepting connections (crash recovery,
   * startup), the agent keeps reporting Postgres as running for at most this long, measured from
   * the first report that found it down; the monitor, which trusts that report while the agent
   * reports and holds its lease, therefore restarts in place instead of failing over. While
   * Postgres is down it acknowledges no commit, and a restarted Postgres refuses commits until
   * the agent holds a fresh lease (pgaf_fence.start_armed), so waiting costs no safety
   * (docs/design/fencing.md, "Restart in place"). A restart that fails (no postmaster alive past
   * postgresql_restart_failure_timeout_ms) or lasts longer than this is a failover. */
  TimeMs postgres_restart_budget_ms = 10000;
  /* How long CLI commands wait for target states (listen_notifications_timeout; reference 60 s). */
  TimeMs listen_notifications_timeout_ms = 60000;
  /* Bound for a fast-forward of a lagging candidate, and for prepare_promotion catch-up. */
  TimeMs prepare_promotion_catchup_ms = 5000;
  /* A primary's agent reports a standby as not acknowledging WAL when, for this long (its own
   * clock), the standby's flush LSN in pg_stat_replication neither advanced nor reached the
   * primary's WAL position. The monitor then stops counting it for synchronous replication
   * (it goes to catchingup; a primary left without quorum standbys goes to wait_primary), so a
   * one-way partition primary -> standby stalls writes for about this long, not until the
   * standby's health check fails (pgaf; the reference has no such report). 0 = never report. */
  TimeMs standby_ack_timeout_ms = 2000;
  /* A standby in stop_replication waits this long for its WAL receiver to be gone before it
   * reports (fencing.md, L6). Reference timeout.prepare_promotion_walreceiver = 5 s. */
  TimeMs prepare_promotion_walreceiver_ms = 5000;
  /* After a failed keeper round, wait this long before the next one (a failed round does not
   * wait for a state notification). */
  TimeMs node_active_retry_delay_ms = 100;

  /* ---- agent: the primary's fence (fencing.md) ---- */
  /* While a primary holds its lease, it writes a few bytes of WAL this often so that its
   * standbys reply (and vouch) faster than wal_receiver_status_interval (1 s). Keep it well under
   * standby_vouch_ms. */
  TimeMs standby_heartbeat_interval_ms = 200;
  /* When the lease runs out, the fence makes Postgres read-only, ends its client backends, then
   * waits this long for Postgres to stop. */
  TimeMs fence_stop_timeout_ms = 10000;

  /* ---- agent: Postgres process control ---- */
  /* Bound on starting, promoting, restarting or stopping Postgres within one keeper transition
   * (and on restarting a fenced primary). */
  TimeMs postgres_start_timeout_ms = 30000;
  /* Outside transitions, one keeper round waits at most this long for a Postgres it expects to
   * run; a slower start is waited for at the next round, so reports keep flowing. */
  TimeMs postgres_running_check_ms = 200;
  /* A fast stop (SIGINT) may take this long before it is escalated to an immediate stop
   * (SIGQUIT); also the bound for stopping a demoted node's Postgres. */
  TimeMs postgres_stop_timeout_ms = 30000;
  /* After an escalated stop signal (SIGQUIT, then SIGKILL), wait this long before the next
   * escalation (the Postgres controller; the supervisor's services). */
  TimeMs stop_escalation_ms = 5000;
  /* The supervisor waits this long for its services to stop before it kills them. */
  TimeMs service_stop_timeout_ms = 60000;
  /* pg_ctl start/stop of `pg_autoctl create monitor` (pg_ctl -t, rounded up to whole seconds;
   * the process itself is given 10 s more). */
  TimeMs pg_ctl_timeout_ms = 60000;
  /* initdb of `pg_autoctl create monitor`. */
  TimeMs initdb_timeout_ms = 120000;
  /* pg_controldata (reading the system identifier). */
  TimeMs pg_controldata_timeout_ms = 10000;
  /* Connecting to the local Postgres while setting up the monitor database (libpq
   * connect_timeout, rounded up to whole seconds). */
  TimeMs local_connect_timeout_ms = 10000;

  /* ---- agent: operations (docs/operations.md) ---- */
  /* HTTP endpoint: read, write and keep-alive timeout of one connection, and the deadline of the
   * monitor's /metrics query. Held-open idle connections are closed after it. */
  TimeMs http_request_timeout_ms = 1000;
  /* A hook ([hooks] on_state_change, on_role_change) is killed (SIGKILL) after this long. */
  TimeMs hook_timeout_ms = 10000;

  /* ---- CLI: pg_autoctl watch, show state|events --watch ---- */
  /* The display is refreshed on each notification from the monitor, and at least this often. */
  TimeMs watch_refresh_ms = 1000;
  /* Longest wait for a notification before the keyboard and the window size are looked at. */
  TimeMs watch_poll_ms = 100;

  /* Monitor-side bound: how long after the last evidence a lease is provably expired
   * (drift-scaled lease plus margin). */
  TimeMs monitor_lease_wait_ms() const;
  TimeMs monitor_vouch_wait_ms() const;

  /* A libpq connect_timeout (whole seconds) for a deadline in ms: rounded up, at least 1 (0 would
   * mean "wait forever"). */
  static std::int64_t connect_timeout_seconds(TimeMs ms);

  /* Returns an error naming the first invalid field, or Ok. */
  Status validate() const;

  /* Named access for config files and GUC-like overrides ("lease_ms" = "2000").
   * Unknown names and malformed numbers are errors naming the field. */
  Status set(const std::string& name, const std::string& value);
  std::vector<std::pair<std::string, std::string>> list() const;
};

}  // namespace pgaf
