/*
 * runner.hpp — runs scenarios for real: a hermetic network of namespace hosts (netns library), a
 * monitor and N Postgres nodes started with `pg_autoctl` as the postgres user (each node's PGDATA
 * on its own size-limited tmpfs), client workers writing through the formation's multi-host URI
 * (target_session_attrs=read-write) from their own host, a sampler inside every node's namespace
 * over loopback (a path no fault touches), a monitor recorder (current states every 100 ms plus
 * the event table, woken by LISTEN), and the fault engine (time-offset or FSM-state triggers).
 *
 * Invariants:
 *  - every wait is bounded: per-scenario timeout, global deadline, and each step's own bound;
 *  - teardown always runs (also after SIGINT/SIGTERM, which only set a flag): faults healed,
 *    every process in the lab's namespaces killed, tmpfs mounts unmounted, namespaces removed;
 *  - a crashed earlier run is reaped at start (namespaces by the netns reaper, mounts by
 *    reap_lab_mounts()), never a live run's;
 *  - network traffic only inside the lab's namespaces (198.18.0.0/15 addresses, no route out).
 */
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "pgaf/lab/report.hpp"
#include "pgaf/lab/scenario.hpp"
#include "pgaf/netns/capabilities.hpp"

namespace pgaf::lab {

struct RunOptions {
  std::string pg_autoctl; /* absolute path of the pg_autoctl binary to test */
  std::string pg_bindir = "/usr/lib/postgresql/15/bin";
  std::string report_dir = "reports";
  std::string run_id; /* reports/<run_id>/...; default: UTC timestamp */
  std::optional<std::uint64_t> seed_override;
  TimeMs global_timeout_ms = 60 * 60 * 1000;
  std::string user = "postgres";
  bool keep_logs_on_pass = false;
  /* --network FILE: build this profile's zones and routers for every scenario (instead of the
   * scenario's own `network:` section or the single switch). */
  std::optional<NetworkProfile> network;
};

/* Set by the SIGINT/SIGTERM handler; every loop of the runner polls it. */
extern std::atomic<bool> g_interrupted;
void install_signal_handlers();

/* Reap leftovers of crashed runs: namespaces "pgaf-lab-*" whose owner is dead (netns reaper) and
 * tmpfs mounts / directories under /run/pgaf-lab/ whose owner pid is dead. Returns a summary. */
Result<std::string> reap_crashed_runs();

/* Run one scenario to completion (or skip it); never throws. */
/* Why a scenario cannot run on this kernel (empty: it can). */
std::string missing_capability(const Scenario& sc, const netns::Capabilities& caps);
/* Run one scenario to completion (or skip it); never throws. global_deadline_ms is on the
 * steady clock (milliseconds since its epoch). */
ScenarioReport run_scenario(const Scenario& sc, const RunOptions& opt,
                            const netns::Capabilities& caps, int index, TimeMs global_deadline_ms);

/* Run all, write reports and the index, print the summary table; returns the exit status
 * (0 only when every scenario passed; skipped scenarios do not fail the run). */
int run_all(const std::vector<Scenario>& scenarios, RunOptions opt,
            std::vector<ScenarioReport>* reports_out = nullptr);

}  // namespace pgaf::lab
