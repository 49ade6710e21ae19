/*
 * service.hpp — the processes of `pg_autoctl run` (upstream-design.md §7.1):
 *
 *   supervisor (owns the pid file) — also the Postgres controller: runs `postgres` as its
 *   │   child, starting and stopping it to match the expected-status file pg_autoctl.pg, and
 *   │   restarting it when it dies (the reference runs the controller as a separate child; one
 *   │   process less keeps the agent's memory under 30 MB; `do service postgres` still exists)
 *   └─ do service node-active  — the keeper loop (keeper.hpp) and its fence thread
 *   (on a monitor: └─ do service listener — logs the monitor's log/state notifications,
 *    monitor_listener.hpp)
 *
 * Invariants:
 *  - every child dies with its parent (PR_SET_PDEATHSIG: SIGKILL for services, SIGQUIT for the
 *    postmaster, i.e. an immediate shutdown), so no process survives the supervisor;
 *  - at start the supervisor removes a stale pg_autoctl.pg on a keeper, so Postgres is started
 *    only when the node-active service has heard from the monitor (keeper.hpp);
 *  - signals: SIGTERM = stop, SIGINT = fast stop, SIGQUIT = immediate stop, SIGHUP = reload;
 *    the supervisor forwards them to its children;
 *  - restart policy: a service that exits is restarted, at most 5 times in 300 s, then the
 *    supervisor stops everything; exit 121 (dropped) stops everything cleanly, 122 is fatal.
 */
#pragma once

#include <string>
#include <vector>

#include "pgaf/agent/config.hpp"

namespace pgaf::agent {

/* Global verbosity passed to children: 0 = info, 1 = debug (-v), 2 = trace (-vv), -1 = warn (-q).
 */
void setup_logging(int verbosity, const std::string& log_file = {});

/* postgres_only: `do service pgcontroller`, the supervisor with its Postgres controller and no
 * child service (Postgres follows pg_autoctl.pg, i.e. `do pgctl on|off`). */
int run_supervisor(const Config& cfg, int verbosity, bool postgres_only = false);
int run_postgres_controller(const Config& cfg);
int run_node_active(const Config& cfg);
int run_monitor_listener(const Config& cfg);

/* pg_autoctl create monitor: initdb (or adopt a stopped PGDATA), configuration, roles, database
 * pg_auto_failover, CREATE EXTENSION pgautofailover CASCADE, HBA. Leaves Postgres stopped. */
Status create_monitor(const Config& cfg);

/* Pid file: first line the supervisor pid. Returns -1 when absent or the process is gone. */
long read_supervisor_pid(const std::string& pid_file);
/* Alive and not a zombie. */
bool process_alive(long pid);
struct PidFileInfo {
  long pid = -1;
  std::string pgdata;
  std::vector<std::pair<long, std::string>> services;
};
Result<PidFileInfo> read_pid_file(const std::string& pid_file);

/* Database system identifier of a stopped or running PGDATA (pg_controldata), or 0. */
std::int64_t read_system_identifier(const Config& cfg);

}  // namespace pgaf::agent
