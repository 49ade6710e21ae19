/*
 * runner_faults.cpp — the fault engine: resolving targets, trigger evaluation, firing each
 * fault action (network, process, disk, switchover), healing, and restarts of killed agents.
 * Every fault fired is recorded in the history; one that fails to apply is recorded skipped.
 */
#include "runner_internal.hpp"

namespace pgaf::lab::runner_detail {

std::string ScenarioRun::resolve_target(const Target& t) {
  auto fsm = rec_.fsm_snapshot();
  switch (t.kind) {
    case Target::Kind::Monitor:
      return "monitor";
    case Target::Kind::Clients:
      return "client";
    case Target::Kind::Node:
      return "node" + std::to_string(t.node_index + 1);
    case Target::Kind::Primary: {
      std::string best;
      for (const auto& [n, s] : fsm) {
        if (pgaf::can_take_writes_in_state(s.reported) && (best.empty() || s.goal == s.reported))
          best = n;
      }
      if (!best.empty()) return best;
      for (const auto& [n, s] : rec_.sample_snapshot()) {
        if (s.reachable && !s.in_recovery && !s.read_only) return n;
      }
      return rec_.h.initial_primary.empty() ? "node1" : rec_.h.initial_primary;
    }
    case Target::Kind::Standby: {
      const std::string primary = resolve_target(Target{Target::Kind::Primary, -1});
      std::vector<std::string> c;
      for (const auto& [n, s] : fsm) {
        if (n != primary && s.reported == "secondary") c.push_back(n);
      }
      if (c.empty()) {
        for (const auto& n : rec_.h.nodes) {
          if (n != primary) c.push_back(n);
        }
      }
      if (c.empty()) return primary;
      return c[static_cast<size_t>(rng_() % c.size())];
    }
    case Target::Kind::AnyNode:
      return rec_.h.nodes[static_cast<size_t>(rng_() % rec_.h.nodes.size())];
  }
  return "node1";
}

std::vector<std::string> ScenarioRun::other_hosts(const std::string& host, bool include_clients) {
  std::vector<std::string> out;
  for (const auto& [name, d] : hosts_) {
    if (name == host) continue;
    if (name == "client" && !include_clients) continue;
    out.push_back(name);
  }
  return out;
}

bool ScenarioRun::when_matches(const Trigger::When& w) {
  auto fsm = rec_.fsm_snapshot();
  if (w.node.kind == Target::Kind::Node) {
    const std::string n = "node" + std::to_string(w.node.node_index + 1);
    return fsm.count(n) && fsm[n].reported == w.state;
  }
  if (w.node.kind == Target::Kind::Primary) {
    const std::string n = resolve_target(w.node);
    return fsm.count(n) && fsm[n].reported == w.state;
  }
  for (const auto& [n, s] : fsm) {
    if (s.reported != w.state) continue;
    if (w.node.kind == Target::Kind::Standby && n == rec_.h.initial_primary) continue;
    return true;
  }
  return false;
}

Status ScenarioRun::fire(size_t fi) {
  const Fault& f = sc_.faults[fi];
  FaultRecord r;
  r.name = f.name;
  r.action = to_string(f.action);
  r.start_ms = rec_.now();
  const std::string target =
      f.action == FaultAction::Switchover ? "monitor" : resolve_target(f.target);
  r.targets = {target};
  ActiveFault af;
  af.heal_at = f.duration_ms ? steady_ms() + *f.duration_ms : -1;
  const netns::Action action =
      f.mode == FaultMode::Reject ? netns::Action::Reject : netns::Action::Drop;
  Status st;
  auto take = [&](Result<netns::Fault> x) {
    if (!x.ok()) {
      st = x.error();
      return;
    }
    r.detail = x->description();
    af.net = std::move(x).value();
  };
  switch (f.action) {
    case FaultAction::IfDown:
      take(net_.link_down(target, netns::LinkSide::Both));
      break;
    case FaultAction::Partition: {
      if (f.to) {
        netns::PartitionSpec p;
        p.from = {target};
        const std::string to = resolve_target(*f.to);
        p.to = {to};
        r.targets.push_back(to);
        p.action = action;
        take(net_.partition(p));
      } else if (f.include_clients) {
        take(net_.isolate(target, action));
      } else {
        netns::PartitionSpec p;
        p.from = {target};
        p.to = other_hosts(target, false);
        p.action = action;
        take(net_.partition(p));
      }
      break;
    }
    case FaultAction::OneWay: {
      netns::PartitionSpec p;
      p.from = {target};
      const std::string to = resolve_target(*f.to);
      p.to = {to};
      r.targets.push_back(to);
      p.action = action;
      p.one_way = true;
      p.strict = true; /* every packet target → to, including replies within to's connections */
      take(net_.partition(p));
      break;
    }
    case FaultAction::Loss:
      take(net_.packet_loss(target, f.loss_percent));
      break;
    case FaultAction::Latency:
      take(net_.latency(target, std::chrono::milliseconds(f.delay_ms)));
      break;
    case FaultAction::Bandwidth:
      take(net_.bandwidth(target, static_cast<std::uint64_t>(f.rate_kbit) * 1000 / 8));
      break;
    case FaultAction::ZonePartition:
      r.targets = f.zones;
      take(net_.zone_partition(f.zones[0], f.zones[1], action));
      break;
    case FaultAction::PathMtu:
      r.targets = {f.router, f.zone};
      take(net_.path_mtu(f.router, f.zone, f.mtu));
      break;
    case FaultAction::Reroute:
      r.targets = {f.zone, f.to_zone, f.via};
      take(net_.reroute(f.zone, f.to_zone, f.via));
      break;
    case FaultAction::FirewallReset:
      r.targets = {f.router};
      st = net_.firewall_reset(f.router);
      r.detail = "conntrack state table of " + f.router + " flushed";
      r.end_ms = r.start_ms;
      break;
    case FaultAction::MonitorLoss:
    case FaultAction::Reboot: {
      kill_host(target);
      r.detail = "SIGKILL every process of " + target;
      TimeMs restart =
          f.restart_after_ms ? *f.restart_after_ms : (f.action == FaultAction::Reboot ? 0 : -1);
      restarts_.push_back({restart >= 0 ? steady_ms() + restart : -1, target, false});
      r.end_ms = -1;
      break;
    }
    case FaultAction::Kill: {
      if (f.process == ProcessKind::Postmaster) {
        const std::string& pgdata = dirs(target).pgdata;
        /* prevent_restart: Postgres refuses a data directory with group/other permissions,
         * so every restart fails until heal gives back 0700 */
        if (f.prevent_restart && ::chmod(pgdata.c_str(), 0777) == 0) af.pgdata_mode = pgdata;
        const pid_t pm = postmaster_pid(pgdata);
        if (pm <= 0 || ::kill(pm, SIGKILL) != 0) {
          st = make_error(ErrorCode::BadState, "could not find the postmaster of " + target);
        } else {
          r.detail = "SIGKILL postmaster pid " + std::to_string(pm) +
                     (af.pgdata_mode.empty() ? "" : " (restarts fail until heal)");
        }
      } else {
        auto pids =
            host_pids_matching(target, [&](const std::string& e) { return is_agent_exe(e); });
        for (pid_t p : pids) ::kill(p, SIGKILL);
        auto it = services_.find(target);
        if (it != services_.end()) {
          (void)it->second.wait_for(std::chrono::milliseconds(1000));
          services_.erase(it);
        }
        r.detail = "SIGKILL " + std::to_string(pids.size()) + " agent process(es)";
        restarts_.push_back(
            {f.restart_after_ms ? steady_ms() + *f.restart_after_ms : -1, target, false});
      }
      break;
    }
    case FaultAction::Freeze: {
      std::vector<pid_t> pids;
      if (f.process == ProcessKind::Postmaster) {
        const pid_t pm = postmaster_pid(dirs(target).pgdata);
        if (pm > 0) pids.push_back(pm);
      } else if (f.process == ProcessKind::Agent) {
        pids = host_pids_matching(target, [&](const std::string& e) { return is_agent_exe(e); });
      } else {
        pids = host_pids(target);
      }
      for (pid_t p : pids) ::kill(p, SIGSTOP);
      af.stopped = pids;
      r.detail = "SIGSTOP " + std::to_string(pids.size()) + " process(es)";
      break;
    }
    case FaultAction::DiskFull: {
      const std::string filler = dirs(target).mount + "/lab-disk-filler";
      const int fd = ::open(filler.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0) {
        st = make_error(ErrorCode::Internal, "could not create \"" + filler + "\"");
        break;
      }
      std::vector<char> buf(1 << 20, 0);
      std::uint64_t written = 0;
      while (true) {
        const ssize_t n = ::write(fd, buf.data(), buf.size());
        if (n <= 0) break;
        written += static_cast<std::uint64_t>(n);
      }
      ::close(fd);
      af.filler = filler;
      r.detail =
          "filled " + std::to_string(written >> 20) + " MiB of " + target + "'s PGDATA filesystem";
      break;
    }
    case FaultAction::Switchover: {
      const HostDirs& mon = dirs("monitor");
      r.detail = "pg_autoctl perform switchover";
      const size_t rec_index = rec_.h.faults.size();
      auto child = spawn(mon,
                         {agent_bin_, "perform", "switchover", "--monitor", monitor_uri_,
                          "--formation", "default", "--wait", "60"},
                         "switchover");
      if (!child.ok()) {
        st = child.error();
        break;
      }
      auto shared = std::make_shared<netns::ChildProcess>(std::move(child).value());
      side_threads_.emplace_back([this, shared, rec_index] {
        const TimeMs until = steady_ms() + 90000;
        int status = -1;
        while (!stop_.load() && steady_ms() < until) {
          auto w = shared->wait_for(std::chrono::milliseconds(100));
          if (w.ok()) {
            status = *w;
            break;
          }
        }
        if (status == -1) (void)shared->kill();
        std::lock_guard<std::mutex> g(rec_.mu);
        auto& fr = rec_.h.faults[rec_index];
        fr.end_ms = rec_.now();
        fr.detail += status == -1 ? " (did not finish)"
                     : WIFEXITED(status)
                         ? " (exit code " + std::to_string(WEXITSTATUS(status)) + ")"
                         : " (killed)";
      });
      break;
    }
  }
  if (!st.ok()) {
    r.skipped = true;
    r.detail = st.error().message + (st.error().detail.empty() ? "" : ": " + st.error().detail);
  }
  {
    std::lock_guard<std::mutex> g(rec_.mu);
    af.record = rec_.h.faults.size();
    rec_.h.faults.push_back(r);
  }
  std::string on = target;
  if (f.needs_network()) {
    on.clear();
    for (const auto& t : r.targets) on += (on.empty() ? "" : ",") + t;
  }
  log_line(sc_.name, "fault " + f.name + " (" + r.action + ") on " + on +
                         (r.skipped ? ": FAILED " : ": ") + r.detail);
  if (!af.pgdata_mode.empty() && r.skipped) ::chmod(af.pgdata_mode.c_str(), 0700);
  if (!r.skipped &&
      (af.net || !af.stopped.empty() || !af.filler.empty() || !af.pgdata_mode.empty()))
    active_.push_back(std::move(af));
  return st;
}

void ScenarioRun::heal(ActiveFault& af) {
  if (af.healed) return;
  af.healed = true;
  if (af.net) (void)af.net->heal();
  for (pid_t p : af.stopped) ::kill(p, SIGCONT);
  if (!af.filler.empty()) ::unlink(af.filler.c_str());
  if (!af.pgdata_mode.empty()) ::chmod(af.pgdata_mode.c_str(), 0700);
  std::lock_guard<std::mutex> g(rec_.mu);
  rec_.h.faults[af.record].end_ms = rec_.now();
}

Status ScenarioRun::fault_phase() {
  fired_.assign(sc_.faults.size(), false);
  when_seen_.assign(sc_.faults.size(), std::nullopt);
  const TimeMs start = steady_ms();
  const TimeMs end = start + sc_.phases.faults_ms;
  Status first_error;
  TimeMs next_reap = start;
  while (!expired() && steady_ms() < end) {
    const TimeMs now = steady_ms();
    for (size_t i = 0; i < sc_.faults.size(); ++i) {
      if (fired_[i]) continue;
      const Trigger& t = sc_.faults[i].trigger;
      bool go = false;
      if (t.at_ms) {
        go = now >= start + *t.at_ms;
      } else if (t.when) {
        if (!when_seen_[i] && when_matches(*t.when)) {
          when_seen_[i] = now;
          log_line(sc_.name,
                   "trigger of " + sc_.faults[i].name + ": a node entered " + t.when->state);
        }
        go = when_seen_[i] && now >= *when_seen_[i] + t.when->delay_ms;
      }
      if (go) {
        fired_[i] = true;
        Status s = fire(i);
        if (!s.ok() && first_error.ok()) first_error = s;
      }
    }
    for (auto& af : active_) {
      if (!af.healed && af.heal_at >= 0 && now >= af.heal_at) heal(af);
    }
    for (auto& r : restarts_) {
      if (!r.done && r.at >= 0 && now >= r.at) {
        r.done = true;
        Status s = start_service(dirs(r.host));
        rec_.note("restarted pg_autoctl run on " + r.host +
                  (s.ok() ? "" : ": " + s.error().message));
        end_process_faults(r.host);
      }
    }
    if (now >= next_reap) {
      (void)reap_postgres_zombies(); /* a killed postmaster must not outlive its crash */
      next_reap = now + 200;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (size_t i = 0; i < sc_.faults.size(); ++i) {
    if (!fired_[i])
      rec_.note("fault " + sc_.faults[i].name + " never fired (its trigger did not happen)");
  }
  return first_error;
}

void ScenarioRun::heal_all() {
  for (auto& af : active_) heal(af);
  for (auto& r : restarts_) {
    if (r.done) continue;
    r.done = true;
    Status s = start_service(dirs(r.host));
    rec_.note("restarted pg_autoctl run on " + r.host + " at heal" +
              (s.ok() ? "" : ": " + s.error().message));
    end_process_faults(r.host);
  }
  /* a restart that fired during the fault phase ends its fault there */
  std::lock_guard<std::mutex> g(rec_.mu);
  for (auto& fr : rec_.h.faults) {
    if (fr.end_ms < 0 && fr.action != "switchover") fr.end_ms = rec_.now();
  }
}

void ScenarioRun::end_process_faults(const std::string& host) {
  std::lock_guard<std::mutex> g(rec_.mu);
  for (auto& fr : rec_.h.faults) {
    if (fr.end_ms < 0 && !fr.targets.empty() && fr.targets[0] == host &&
        (fr.action == "monitor_loss" || fr.action == "kill" || fr.action == "reboot")) {
      fr.end_ms = rec_.now();
    }
  }
}

}  // namespace pgaf::lab::runner_detail
