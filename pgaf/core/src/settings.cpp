/*
 * settings.cpp — validation, named access and the lease arithmetic of Settings.
 */
#include "pgaf/core/settings.hpp"

#include <charconv>
#include <functional>

namespace pgaf {

namespace {

/* drift-scaled wait: w * (1 + rho) / (1 - rho) rounded up, plus margin. */
TimeMs scaled(TimeMs w, std::int64_t ppm, TimeMs margin) {
  const std::int64_t num = w * (1000000 + ppm);
  const std::int64_t den = 1000000 - ppm;
  return (num + den - 1) / den + margin;
}

struct Field {
  const char* name;
  std::function<std::int64_t&(Settings&)> ref;
  std::int64_t min;
  std::int64_t max;
};

/* int fields are stored as int in the struct; we expose them through a proxy. */
const std::vector<Field>& fields() {
  static const std::vector<Field> f = {
      {"health_check_period_ms", [](Settings& s) -> std::int64_t& { return s.health_check_period_ms; }, 1, 3600000},
      {"health_check_timeout_ms", [](Settings& s) -> std::int64_t& { return s.health_check_timeout_ms; }, 1, 3600000},
      {"health_check_retry_delay_ms", [](Settings& s) -> std::int64_t& { return s.health_check_retry_delay_ms; }, 0, 3600000},
      {"node_considered_unhealthy_timeout_ms", [](Settings& s) -> std::int64_t& { return s.node_considered_unhealthy_timeout_ms; }, 1, 3600000},
      {"startup_grace_period_ms", [](Settings& s) -> std::int64_t& { return s.startup_grace_period_ms; }, 0, 3600000},
      {"monitor_tick_interval_ms", [](Settings& s) -> std::int64_t& { return s.monitor_tick_interval_ms; }, 1, 3600000},
      {"enable_sync_wal_log_threshold_bytes", [](Settings& s) -> std::int64_t& { return s.enable_sync_wal_log_threshold_bytes; }, 0, INT64_MAX / 2},
      {"promote_wal_log_threshold_bytes", [](Settings& s) -> std::int64_t& { return s.promote_wal_log_threshold_bytes; }, 0, INT64_MAX / 2},
      {"lease_ms", [](Settings& s) -> std::int64_t& { return s.lease_ms; }, 1, 3600000},
      {"standby_vouch_ms", [](Settings& s) -> std::int64_t& { return s.standby_vouch_ms; }, 0, 3600000},
      {"clock_drift_ppm", [](Settings& s) -> std::int64_t& { return s.clock_drift_ppm; }, 0, 100000},
      {"lease_margin_ms", [](Settings& s) -> std::int64_t& { return s.lease_margin_ms; }, 0, 3600000},
      {"fence_guard_ms", [](Settings& s) -> std::int64_t& { return s.fence_guard_ms; }, 0, 3600000},
      {"node_active_interval_ms", [](Settings& s) -> std::int64_t& { return s.node_active_interval_ms; }, 1, 3600000},
      {"monitor_call_timeout_ms", [](Settings& s) -> std::int64_t& { return s.monitor_call_timeout_ms; }, 1, 3600000},
      {"postgresql_restart_failure_timeout_ms", [](Settings& s) -> std::int64_t& { return s.postgresql_restart_failure_timeout_ms; }, 0, 3600000},
      {"postgres_restart_budget_ms", [](Settings& s) -> std::int64_t& { return s.postgres_restart_budget_ms; }, 0, 3600000},
      {"listen_notifications_timeout_ms", [](Settings& s) -> std::int64_t& { return s.listen_notifications_timeout_ms; }, 1, 86400000},
      {"prepare_promotion_catchup_ms", [](Settings& s) -> std::int64_t& { return s.prepare_promotion_catchup_ms; }, 0, 3600000},
      {"standby_ack_timeout_ms", [](Settings& s) -> std::int64_t& { return s.standby_ack_timeout_ms; }, 0, 3600000},
      {"prepare_promotion_walreceiver_ms", [](Settings& s) -> std::int64_t& { return s.prepare_promotion_walreceiver_ms; }, 0, 3600000},
      {"node_active_retry_delay_ms", [](Settings& s) -> std::int64_t& { return s.node_active_retry_delay_ms; }, 0, 3600000},
      {"standby_heartbeat_interval_ms", [](Settings& s) -> std::int64_t& { return s.standby_heartbeat_interval_ms; }, 1, 3600000},
      {"fence_stop_timeout_ms", [](Settings& s) -> std::int64_t& { return s.fence_stop_timeout_ms; }, 1, 3600000},
      {"postgres_start_timeout_ms", [](Settings& s) -> std::int64_t& { return s.postgres_start_timeout_ms; }, 1, 3600000},
      {"postgres_running_check_ms", [](Settings& s) -> std::int64_t& { return s.postgres_running_check_ms; }, 0, 3600000},
      {"postgres_stop_timeout_ms", [](Settings& s) -> std::int64_t& { return s.postgres_stop_timeout_ms; }, 1, 3600000},
      {"stop_escalation_ms", [](Settings& s) -> std::int64_t& { return s.stop_escalation_ms; }, 1, 3600000},
      {"service_stop_timeout_ms", [](Settings& s) -> std::int64_t& { return s.service_stop_timeout_ms; }, 1, 3600000},
      {"pg_ctl_timeout_ms", [](Settings& s) -> std::int64_t& { return s.pg_ctl_timeout_ms; }, 1, 3600000},
      {"initdb_timeout_ms", [](Settings& s) -> std::int64_t& { return s.initdb_timeout_ms; }, 1, 86400000},
      {"pg_controldata_timeout_ms", [](Settings& s) -> std::int64_t& { return s.pg_controldata_timeout_ms; }, 1, 3600000},
      {"local_connect_timeout_ms", [](Settings& s) -> std::int64_t& { return s.local_connect_timeout_ms; }, 1, 3600000},
      {"http_request_timeout_ms", [](Settings& s) -> std::int64_t& { return s.http_request_timeout_ms; }, 1, 600000},
      {"hook_timeout_ms", [](Settings& s) -> std::int64_t& { return s.hook_timeout_ms; }, 1, 86400000},
      {"watch_refresh_ms", [](Settings& s) -> std::int64_t& { return s.watch_refresh_ms; }, 1, 3600000},
      {"watch_poll_ms", [](Settings& s) -> std::int64_t& { return s.watch_poll_ms; }, 1, 60000},
  };
  return f;
}

Result<std::int64_t> parse_int(const std::string& name, const std::string& value, std::int64_t lo,
                               std::int64_t hi) {
  std::int64_t v = 0;
  const char* b = value.data();
  const char* e = b + value.size();
  auto [p, ec] = std::from_chars(b, e, v);
  if (ec != std::errc() || p != e || value.empty()) {
    return make_error(ErrorCode::InvalidArgument,
                      "invalid value \"" + value + "\" for setting \"" + name + "\"",
                      "the value must be an integer");
  }
  if (v < lo || v > hi) {
    return make_error(ErrorCode::OutOfRange,
                      "value " + value + " for setting \"" + name + "\" is out of range",
                      "valid values are between " + std::to_string(lo) + " and " +
                          std::to_string(hi));
  }
  return v;
}

}  // namespace

TimeMs Settings::monitor_lease_wait_ms() const {
  return scaled(lease_ms, clock_drift_ppm, lease_margin_ms);
}

TimeMs Settings::monitor_vouch_wait_ms() const {
  return scaled(standby_vouch_ms, clock_drift_ppm, lease_margin_ms);
}

std::int64_t Settings::connect_timeout_seconds(TimeMs ms) {
  return ms <= 1000 ? 1 : (ms + 999) / 1000;
}

Status Settings::validate() const {
  Settings copy = *this;
  for (const auto& f : fields()) {
    const std::int64_t v = f.ref(copy);
    if (v < f.min || v > f.max) {
      return make_error(ErrorCode::OutOfRange,
                        std::string("setting \"") + f.name + "\" is out of range: " +
                            std::to_string(v),
                        "valid values are between " + std::to_string(f.min) + " and " +
                            std::to_string(f.max));
    }
  }
  if (health_check_max_retries < 0 || health_check_max_retries > 100) {
    return make_error(ErrorCode::OutOfRange,
                      "setting \"health_check_max_retries\" is out of range: " +
                          std::to_string(health_check_max_retries),
                      "valid values are between 0 and 100");
  }
  if (postgresql_restart_failure_max_retries < 0 || postgresql_restart_failure_max_retries > 100) {
    return make_error(ErrorCode::OutOfRange,
                      "setting \"postgresql_restart_failure_max_retries\" is out of range: " +
                          std::to_string(postgresql_restart_failure_max_retries),
                      "valid values are between 0 and 100");
  }
  if (fence_guard_ms >= lease_ms) {
    return make_error(ErrorCode::InvalidArgument,
                      "setting \"fence_guard_ms\" (" + std::to_string(fence_guard_ms) +
                          ") must be smaller than \"lease_ms\" (" + std::to_string(lease_ms) + ")",
                      "the agent would never hold a lease");
  }
  if (2 * node_active_interval_ms > lease_ms) {
    return make_error(ErrorCode::InvalidArgument,
                      "setting \"lease_ms\" (" + std::to_string(lease_ms) +
                          ") must be at least twice \"node_active_interval_ms\" (" +
                          std::to_string(node_active_interval_ms) + ")",
                      "a primary would lose its lease between two reports");
  }
  return Status::Ok();
}

Status Settings::set(const std::string& name, const std::string& value) {
  for (const auto& f : fields()) {
    if (name == f.name) {
      auto v = parse_int(name, value, f.min, f.max);
      if (!v.ok()) return v.error();
      f.ref(*this) = *v;
      return Status::Ok();
    }
  }
  if (name == "health_check_max_retries" || name == "postgresql_restart_failure_max_retries") {
    auto v = parse_int(name, value, 0, 100);
    if (!v.ok()) return v.error();
    (name == "health_check_max_retries" ? health_check_max_retries
                                        : postgresql_restart_failure_max_retries) =
        static_cast<int>(*v);
    return Status::Ok();
  }
  return make_error(ErrorCode::InvalidArgument, "unknown setting \"" + name + "\"",
                    "see pgaf/core/include/pgaf/core/settings.hpp for the list of settings");
}

std::vector<std::pair<std::string, std::string>> Settings::list() const {
  std::vector<std::pair<std::string, std::string>> out;
  Settings copy = *this;
  for (const auto& f : fields()) out.emplace_back(f.name, std::to_string(f.ref(copy)));
  out.emplace_back("health_check_max_retries", std::to_string(health_check_max_retries));
  out.emplace_back("postgresql_restart_failure_max_retries",
                   std::to_string(postgresql_restart_failure_max_retries));
  return out;
}

}  // namespace pgaf
