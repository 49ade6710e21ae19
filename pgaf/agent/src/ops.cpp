/*
 * ops.cpp — HTTP endpoint, hooks and systemd notifications of a running agent. See ops.hpp.
 */
#include "pgaf/agent/ops.hpp"

#include <spdlog/spdlog.h>

#include "pgaf/agent/metrics.hpp"

namespace pgaf::agent {

namespace {
HookNode hook_node(const Config& cfg, const KeeperState& st) {
  return HookNode{st.node_id, cfg.name, cfg.formation, st.group_id};
}
}  // namespace

NodeOps::NodeOps(const Config& cfg, const KeeperState& initial, Clock& clock)
    : cfg_(cfg),
      clock_(clock),
      hooks_(cfg.hook_on_state_change, cfg.hook_on_role_change, cfg.settings.hook_timeout_ms,
             make_process_runner()),
      pacer_(systemd_watchdog_usec()),
      last_role_(initial.current_role) {
  box_.update([&](NodeSnapshot& s) {
    s.formation = cfg.formation;
    s.name = cfg.name;
    s.host = cfg.hostname;
    s.port = cfg.port;
    s.candidate_priority = cfg.candidate_priority;
    s.replication_quorum = cfg.replication_quorum;
    s.state = initial;
  });
  if (pacer_.enabled()) {
    spdlog::info("systemd watchdog: {} ms, pinged every {} ms while the keeper loop runs",
                 pacer_.period_ms(), pacer_.ping_interval_ms());
  }
}

NodeOps::~NodeOps() {
  if (http_) http_->stop();
}

Status NodeOps::start_http() {
  if (cfg_.http_listen.empty()) return Status::Ok();
  auto a = parse_listen_address(cfg_.http_listen);
  if (!a) return a.error();
  http_ = std::make_unique<HttpEndpoint>(
      [this](const std::string& path, const std::map<std::string, std::string>& params) {
        return answer_request(box_.get(), clock_.now_ms(), path, params);
      },
      cfg_.settings.http_request_timeout_ms);
  return http_->start(*a);
}

void NodeOps::on_tick(const KeeperTick& t) {
  const NodeState now_role = t.state.current_role;
  const bool changed = now_role != last_role_;
  const bool promoted =
      changed && !can_take_writes_in_state(last_role_) && can_take_writes_in_state(now_role);
  std::int64_t lag = -1;
  if (t.pg.running && t.pg.in_recovery) {
    for (const auto& o : t.others) {
      if (o.is_primary && o.lsn > 0)
        lag = o.lsn > t.pg.lsn ? static_cast<std::int64_t>(o.lsn - t.pg.lsn) : 0;
    }
  }
  box_.update([&](NodeSnapshot& s) {
    s.valid = true;
    s.state = t.state;
    s.pg = t.pg;
    s.lag_bytes = lag;
    if (t.monitor_ok) s.last_monitor_ok_ms = t.now_ms;
    s.published_ms = t.now_ms;
    if (!t.monitor_ok) ++s.monitor_failures;
    if (changed) ++s.transitions;
    if (promoted) ++s.promotions;
  });
  if (changed) {
    hooks_.on_transition(last_role_, now_role, hook_node(cfg_, t.state));
    last_role_ = now_role;
  }
  std::lock_guard<std::mutex> l(wd_mu_);
  pacer_.on_round(t.now_ms);
  if (!ready_sent_) {
    ready_sent_ = true;
    sd_notify_ready("node " + std::to_string(t.state.node_id) + " in state " +
                    std::string(to_string(now_role)));
  } else if (changed) {
    sd_notify_status("node " + std::to_string(t.state.node_id) + " in state " +
                     std::string(to_string(now_role)));
  }
}

void NodeOps::on_step() {
  std::lock_guard<std::mutex> l(wd_mu_);
  pacer_.on_step(clock_.now_ms());
  /* the first step follows the first monitor contact: ready (a base backup may take long) */
  if (!ready_sent_) {
    ready_sent_ = true;
    sd_notify_ready("executing a transition assigned by the monitor");
  }
}

void NodeOps::on_fence_tick(TimeMs lease_expires_at_ms, bool armed, bool fenced) {
  box_.update([&](NodeSnapshot& s) {
    s.lease_expires_at_ms = lease_expires_at_ms;
    s.writes_enabled = armed;
    s.fenced = fenced && !armed;
  });
}

void NodeOps::poll_watchdog() {
  std::lock_guard<std::mutex> l(wd_mu_);
  const TimeMs now = clock_.now_ms();
  if (!pacer_.should_ping(now)) return;
  sd_notify_watchdog();
  pacer_.pinged(now);
}

MonitorOps::MonitorOps(const Config& cfg, Clock& clock)
    : cfg_(cfg), clock_(clock), pacer_(systemd_watchdog_usec()) {
  box_.update([&](NodeSnapshot& s) {
    s.monitor_role = true;
    s.formation = "monitor";
    s.name = "monitor";
    s.host = cfg.hostname;
    s.port = cfg.port;
  });
}

MonitorOps::~MonitorOps() {
  if (http_) http_->stop();
}

Status MonitorOps::start_http() {
  if (cfg_.http_listen.empty()) return Status::Ok();
  auto a = parse_listen_address(cfg_.http_listen);
  if (!a) return a.error();
  const std::string conninfo = cfg_.local_conninfo("pg_auto_failover");
  const TimeMs timeout = cfg_.settings.http_request_timeout_ms;
  http_ = std::make_unique<HttpEndpoint>(
      [this, conninfo, timeout](const std::string& path,
                                const std::map<std::string, std::string>& params) {
        const NodeSnapshot s = box_.get();
        if (path != "/metrics") return answer_request(s, clock_.now_ms(), path, params);
        auto t = read_monitor_tables(conninfo, timeout);
        if (!t) {
          return HttpAnswer{503, "text/plain; version=0.0.4; charset=utf-8",
                            "# HELP pgaf_monitor_up 1: the monitor's tables were read\n"
                            "# TYPE pgaf_monitor_up gauge\npgaf_monitor_up 0\n"};
        }
        return HttpAnswer{200, "text/plain; version=0.0.4; charset=utf-8", monitor_metrics(*t)};
      },
      timeout);
  return http_->start(*a);
}

void MonitorOps::on_loop(bool pg_running) {
  const TimeMs now = clock_.now_ms();
  box_.update([&](NodeSnapshot& s) {
    s.valid = true;
    s.pg.running = pg_running;
    s.published_ms = now;
  });
  pacer_.on_round(now);
  if (!ready_sent_ && pg_running) {
    ready_sent_ = true;
    sd_notify_ready("monitor serving on port " + std::to_string(cfg_.port));
  }
  if (pacer_.should_ping(now)) {
    sd_notify_watchdog();
    pacer_.pinged(now);
  }
}

}  // namespace pgaf::agent
