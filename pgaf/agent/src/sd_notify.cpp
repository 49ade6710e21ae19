/*
 * sd_notify.cpp — systemd readiness and watchdog. See sd_notify.hpp for the invariants.
 */
#include "pgaf/agent/sd_notify.hpp"

#include <systemd/sd-daemon.h>

#include <algorithm>

namespace pgaf::agent {

WatchdogPacer::WatchdogPacer(std::uint64_t watchdog_usec)
    : period_ms_(static_cast<TimeMs>(watchdog_usec / 1000)) {
  if (watchdog_usec > 0 && period_ms_ == 0) period_ms_ = 1;
}

TimeMs WatchdogPacer::ping_interval_ms() const {
  return std::max<TimeMs>(1, period_ms_ / 2);
}

void WatchdogPacer::on_round(TimeMs now_ms) {
  last_round_ms_ = now_ms;
  in_step_ = false;
}

void WatchdogPacer::on_step(TimeMs now_ms) {
  (void)now_ms;
  in_step_ = true;
}

bool WatchdogPacer::alive(TimeMs now_ms) const {
  if (in_step_) return true;
  return last_round_ms_ >= 0 && now_ms - last_round_ms_ <= period_ms_;
}

bool WatchdogPacer::should_ping(TimeMs now_ms) const {
  if (!enabled() || !alive(now_ms)) return false;
  return last_ping_ms_ < 0 || now_ms - last_ping_ms_ >= ping_interval_ms();
}

std::uint64_t systemd_watchdog_usec() {
  uint64_t usec = 0;
  if (::sd_watchdog_enabled(0, &usec) > 0) return usec;
  return 0;
}

void sd_notify_ready(const std::string& status) {
  (void)::sd_notifyf(0, "READY=1\nSTATUS=%s", status.c_str());
}

void sd_notify_watchdog() {
  (void)::sd_notify(0, "WATCHDOG=1");
}

void sd_notify_status(const std::string& status) {
  (void)::sd_notifyf(0, "STATUS=%s", status.c_str());
}

void sd_notify_stopping() {
  (void)::sd_notify(0, "STOPPING=1");
}

}  // namespace pgaf::agent
