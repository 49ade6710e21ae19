/*
 * ops.hpp — the operations side of a running agent, wired by service.cpp: the HTTP endpoint, the
 * hooks, and systemd's readiness and watchdog, fed by the keeper loop and the fence thread.
 *
 *   keeper loop  --on_tick/on_step-->  NodeOps  --snapshot-->  HTTP threads (/primary, /metrics)
 *   fence thread --on_fence_tick--> (lease end, fenced)   --hooks--> hook worker (hooks.hpp)
 *   signal thread --poll_watchdog--> sd_notify WATCHDOG=1 while the loop is alive
 *
 * Invariants: every entry point only takes a short lock and copies; nothing here waits for a
 * client, a hook or systemd on the keeper's thread. MonitorOps does the same for the monitor's
 * supervisor (no keeper: /metrics reads the monitor's tables, bounded).
 */
#pragma once

#include <memory>
#include <mutex>

#include "pgaf/agent/config.hpp"
#include "pgaf/agent/hooks.hpp"
#include "pgaf/agent/http_endpoint.hpp"
#include "pgaf/agent/keeper.hpp"
#include "pgaf/agent/node_snapshot.hpp"
#include "pgaf/agent/sd_notify.hpp"

namespace pgaf::agent {

class NodeOps {
 public:
  NodeOps(const Config& cfg, const KeeperState& initial, Clock& clock);
  ~NodeOps();
  /* Start the HTTP endpoint if [http] listen is set (an error if it cannot listen). */
  Status start_http();
  void on_tick(const KeeperTick& t);
  void on_step();
  /* armed: the agent made Postgres writable under the current lease (FenceGuard::armed);
   * fenced: the fence fired since writes were last enabled. */
  void on_fence_tick(TimeMs lease_expires_at_ms, bool armed, bool fenced);
  void poll_watchdog();
  SnapshotBox& box() { return box_; }
  HookRunner& hooks() { return hooks_; }

 private:
  Config cfg_;
  Clock& clock_;
  SnapshotBox box_;
  HookRunner hooks_;
  std::mutex wd_mu_;
  WatchdogPacer pacer_;
  bool ready_sent_ = false;
  NodeState last_role_;
  std::unique_ptr<HttpEndpoint> http_;
};

class MonitorOps {
 public:
  MonitorOps(const Config& cfg, Clock& clock);
  ~MonitorOps();
  Status start_http();
  /* The supervisor's loop: Postgres running or not; readiness and watchdog. */
  void on_loop(bool pg_running);

 private:
  Config cfg_;
  Clock& clock_;
  SnapshotBox box_;
  WatchdogPacer pacer_;
  bool ready_sent_ = false;
  std::unique_ptr<HttpEndpoint> http_;
};

}  // namespace pgaf::agent
