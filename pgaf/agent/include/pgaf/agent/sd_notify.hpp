/*
 * sd_notify.hpp — systemd integration (libsystemd): readiness (Type=notify) and the watchdog, kept
 * by the agent's main loop, so systemd restarts an agent whose loop hangs (Patroni's watchdog
 * idea, with systemd's own). Outside systemd (no NOTIFY_SOCKET) every call is a no-op.
 *
 * Invariants:
 *  - WATCHDOG=1 is sent at most every half watchdog period (systemd's advice) and only while the
 *    loop is alive: it completed a round within one watchdog period, or it is inside a keeper step
 *    (every step is bounded by its own Settings timeout; a base backup may take long);
 *  - WatchdogPacer is pure (times passed in) so its rules are unit-tested.
 */
#pragma once

#include <cstdint>
#include <string>

#include "pgaf/core/settings.hpp"

namespace pgaf::agent {

class WatchdogPacer {
 public:
  /* watchdog_usec: systemd's WATCHDOG_USEC (0 = no watchdog). */
  explicit WatchdogPacer(std::uint64_t watchdog_usec);
  bool enabled() const { return period_ms_ > 0; }
  TimeMs period_ms() const { return period_ms_; }
  /* Pings are spaced by half the period (at least 1 ms). */
  TimeMs ping_interval_ms() const;

  /* The loop completed a round at now_ms (and left any step). */
  void on_round(TimeMs now_ms);
  /* The loop entered a keeper step at now_ms. */
  void on_step(TimeMs now_ms);
  /* Send a ping now? Call then pinged(now_ms) after sending. */
  bool should_ping(TimeMs now_ms) const;
  void pinged(TimeMs now_ms) { last_ping_ms_ = now_ms; }
  /* The loop looks alive at now_ms. */
  bool alive(TimeMs now_ms) const;

 private:
  TimeMs period_ms_ = 0;
  TimeMs last_round_ms_ = -1;
  bool in_step_ = false;
  TimeMs last_ping_ms_ = -1;
};

/* WATCHDOG_USEC for this process (sd_watchdog_enabled), 0 when none. */
std::uint64_t systemd_watchdog_usec();
void sd_notify_ready(const std::string& status);
void sd_notify_watchdog();
void sd_notify_status(const std::string& status);
void sd_notify_stopping();

}  // namespace pgaf::agent
