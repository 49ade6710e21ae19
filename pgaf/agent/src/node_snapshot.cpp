/*
 * node_snapshot.cpp — the health-check answers of a node snapshot. See node_snapshot.hpp.
 */
#include "pgaf/agent/node_snapshot.hpp"

#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>

#include "pgaf/agent/metrics.hpp"

namespace pgaf::agent {

bool is_writable_primary(const NodeSnapshot& s, TimeMs now_ms) {
  return s.valid && !s.monitor_role && can_take_writes_in_state(s.state.current_role) &&
         s.pg.running && !s.pg.in_recovery && !s.pg.read_only && s.writes_enabled && !s.fenced &&
         s.lease_expires_at_ms > now_ms;
}

bool is_streaming_replica(const NodeSnapshot& s, std::int64_t max_lag_bytes) {
  if (!s.valid || s.monitor_role || s.state.current_role != NodeState::Secondary) return false;
  if (!s.pg.running || !s.pg.in_recovery || !s.pg.wal_receiver_active) return false;
  if (max_lag_bytes < 0) return true;
  return s.lag_bytes >= 0 && s.lag_bytes <= max_lag_bytes;
}

TimeMs lease_remaining_ms(const NodeSnapshot& s, TimeMs now_ms) {
  if (s.lease_expires_at_ms < 0 || s.lease_expires_at_ms <= now_ms) return 0;
  return s.lease_expires_at_ms - now_ms;
}

Result<std::int64_t> parse_size_bytes(const std::string& text) {
  std::int64_t n = 0;
  const char* b = text.data();
  const char* e = b + text.size();
  auto [p, ec] = std::from_chars(b, e, n);
  if (ec != std::errc() || p == b || n < 0) {
    return make_error(ErrorCode::InvalidArgument, "invalid size \"" + text + "\"",
                      "use a number of bytes with an optional unit: B, kB, MB, GB, TB");
  }
  std::string unit(p, e);
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::int64_t mult = 1;
  if (unit.empty() || unit == "b") {
    mult = 1;
  } else if (unit == "kb") {
    mult = 1024;
  } else if (unit == "mb") {
    mult = 1024 * 1024;
  } else if (unit == "gb") {
    mult = 1024LL * 1024 * 1024;
  } else if (unit == "tb") {
    mult = 1024LL * 1024 * 1024 * 1024;
  } else {
    return make_error(ErrorCode::InvalidArgument, "invalid size unit in \"" + text + "\"",
                      "use B, kB, MB, GB or TB");
  }
  if (n > INT64_MAX / mult) {
    return make_error(ErrorCode::OutOfRange, "size \"" + text + "\" is too large");
  }
  return n * mult;
}

std::string state_json(const NodeSnapshot& s) {
  nlohmann::json j;
  j["nodename"] = s.name;
  j["nodehost"] = s.host;
  j["nodeport"] = s.port;
  j["group_id"] = s.state.group_id;
  j["node_id"] = s.state.node_id;
  j["current_group_state"] = std::string(to_string(s.state.current_role));
  j["assigned_group_state"] = std::string(to_string(s.state.assigned_role));
  j["candidate_priority"] = s.candidate_priority;
  j["replication_quorum"] = s.replication_quorum;
  j["reported_tli"] = s.pg.running ? s.pg.tli : 0;
  j["reported_lsn"] = format_lsn(s.pg.running ? s.pg.lsn : 0);
  j["health"] = s.pg.running ? 1 : 0;
  /* the state file's fields (pg_autoctl.state) */
  j["formation"] = s.formation;
  j["system_identifier"] = s.state.system_identifier;
  j["last_monitor_contact"] = s.state.last_monitor_contact;
  j["last_secondary_contact"] = s.state.last_secondary_contact;
  return j.dump(2) + "\n";
}

namespace {

HttpAnswer json_answer(int status, const NodeSnapshot& s, const std::string& check, bool ok,
                       const std::string& why) {
  nlohmann::json j;
  j["check"] = check;
  j["ok"] = ok;
  if (!why.empty()) j["reason"] = why;
  j["state"] = std::string(to_string(s.state.current_role));
  j["assigned_state"] = std::string(to_string(s.state.assigned_role));
  j["postgres_running"] = s.pg.running;
  return HttpAnswer{status, "application/json", j.dump() + "\n"};
}

std::string why_not_primary(const NodeSnapshot& s, TimeMs now_ms) {
  if (!s.valid) return "the agent has not completed a round yet";
  if (s.monitor_role) return "this is the monitor";
  if (!can_take_writes_in_state(s.state.current_role)) return "not in a writable state";
  if (!s.pg.running) return "postgres is not running";
  if (s.pg.in_recovery) return "postgres is in recovery";
  if (s.pg.read_only) return "postgres is read-only";
  if (s.fenced) return "the node fenced itself";
  if (!s.writes_enabled) return "the agent has not enabled writes";
  if (s.lease_expires_at_ms <= now_ms) return "the write lease is not held";
  return "";
}

}  // namespace

HttpAnswer answer_request(const NodeSnapshot& s, TimeMs now_ms, const std::string& path,
                          const std::map<std::string, std::string>& params) {
  if (path == "/primary" || path == "/read-write") {
    const bool ok = is_writable_primary(s, now_ms);
    return json_answer(ok ? 200 : 503, s, "primary", ok, ok ? "" : why_not_primary(s, now_ms));
  }
  if (path == "/replica" || path == "/read-only") {
    std::int64_t max_lag = -1;
    if (auto it = params.find("lag"); it != params.end()) {
      auto lag = parse_size_bytes(it->second);
      if (!lag) {
        nlohmann::json j = {{"error", "invalid lag: " + lag.error().message},
                            {"hint", lag.error().hint}};
        return HttpAnswer{400, "application/json", j.dump() + "\n"};
      }
      max_lag = *lag;
    }
    const bool ok = is_streaming_replica(s, max_lag);
    std::string why;
    if (!ok) {
      why = !s.valid || s.state.current_role != NodeState::Secondary ? "not a secondary"
            : !s.pg.running                                          ? "postgres is not running"
            : !s.pg.wal_receiver_active                              ? "not streaming"
                                        : "replication lag " + std::to_string(s.lag_bytes) +
                                              " bytes is above " + std::to_string(max_lag);
    }
    return json_answer(ok ? 200 : 503, s, "replica", ok, why);
  }
  if (path == "/health") {
    const bool ok = s.valid && s.pg.running;
    return json_answer(ok ? 200 : 503, s, "health", ok, ok ? "" : "postgres is not running");
  }
  if (path == "/state") {
    if (!s.valid) return json_answer(503, s, "state", false, "the agent has not started yet");
    return HttpAnswer{200, "application/json", state_json(s)};
  }
  if (path == "/metrics") {
    return HttpAnswer{200, "text/plain; version=0.0.4; charset=utf-8", node_metrics(s, now_ms)};
  }
  return HttpAnswer{404, "application/json",
                    "{\"error\":\"unknown path\",\"hint\":\"GET /primary, /replica[?lag=16MB], "
                    "/health, /state or /metrics\"}\n"};
}

}  // namespace pgaf::agent
