/*
 * keeper.cpp — the node-active loop: reports, the lease, transitions in the table's order, and
 * keeping the current state. What each KeeperStep (pgaf/core keeper_table.hpp) does to Postgres:
 * keeper_steps.cpp. See keeper.hpp for the invariants.
 *
 * Every step is idempotent and self-contained: it checks the preconditions it needs (e.g. asks the
 * monitor for the primary) so a failed transition can simply be retried from its first step.
 */
#include "pgaf/agent/keeper.hpp"

#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <set>

#include "pgaf/agent/monitor_swap.hpp"
#include "pgaf/core/sync_names.hpp"

namespace pgaf::agent {

/* ---------------- Keeper ---------------- */

namespace {
/* The first value of a comma-separated conninfo keyword ("host", "port") as libpq reads it, or
 * "" when absent or when libpq refuses the string. */
std::string conninfo_first(const std::string& conninfo, const char* keyword) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (err != nullptr) PQfreemem(err);
  if (opts == nullptr) return "";
  std::string value;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o)
    if (std::strcmp(o->keyword, keyword) == 0 && o->val != nullptr) value = o->val;
  PQconninfoFree(opts);
  return value.substr(0, value.find(','));
}
}  // namespace

/* fuzz_uri finding: a hand-made parser read "[::1]" as "[", kept %-escapes ("%2Ftmp") and missed
 * "host = x" and quoted values; libpq's own parser is the one that will use the string. */
std::string monitor_host_of(const std::string& uri) {
  return conninfo_first(uri, "host");
}

int monitor_port_of(const std::string& uri) {
  /* read as libpq reads a port: strtol, blanks allowed around the number */
  const std::string port = conninfo_first(uri, "port");
  char* end = nullptr;
  errno = 0;
  const long p = std::strtol(port.c_str(), &end, 10);
  while (end != nullptr && std::isspace(static_cast<unsigned char>(*end)) != 0) ++end;
  if (port.empty() || errno != 0 || end == port.c_str() || *end != '\0' || p <= 0 || p > 65535)
    return 5432;
  return static_cast<int>(p);
}

Keeper::Keeper(Config cfg, KeeperState state, Clock& clock, PostgresControl& pg,
               MonitorClient& monitor, FenceGuard& guard,
               std::function<Status(const KeeperState&)> persist)
    : cfg_(std::move(cfg)),
      state_(state),
      clock_(clock),
      pg_(pg),
      monitor_(monitor),
      guard_(guard),
      persist_(std::move(persist)) {
  monitor_host_ = monitor_host_of(cfg_.monitor);
  guard_.set_current(state_.current_role);
}

Status Keeper::persist() {
  {
    /* disable|enable monitor: once a reload that changes the monitor is pending, the state file
     * is enable monitor's (the reload reads it); writing ours would undo its registration */
    std::lock_guard<std::mutex> l(reload_mu_);
    if (pending_reload_ && pending_reload_->monitor != cfg_.monitor) return Status::Ok();
  }
  return persist_ ? persist_(state_) : Status::Ok();
}

std::string Keeper::slot_name(NodeId id) const {
  return standby_name(id);
}

StandbySetup Keeper::standby_setup(std::optional<Upstream> up, Lsn target) const {
  StandbySetup s;
  s.upstream = std::move(up);
  s.application_name = standby_name(state_.node_id);
  s.slot_name = s.upstream ? slot_name(state_.node_id) : "";
  s.recovery_target_lsn = target;
  return s;
}

Result<Upstream> Keeper::primary_upstream() {
  auto p = monitor_.get_primary(cfg_.formation, state_.group_id);
  if (!p) return p.error();
  if (p->node_id == state_.node_id) {
    return make_error(ErrorCode::BadState, "the monitor says this node is the primary",
                      "wait for the failover to complete");
  }
  return Upstream{p->host, p->port, p->node_id};
}

NodeActiveArgs Keeper::base_report(const PgStatus& ps) {
  NodeActiveArgs a;
  a.formation = cfg_.formation;
  a.node_id = state_.node_id;
  a.group_id = state_.group_id;
  a.current = state_.current_role;
  a.pg_is_running = report_pg_is_running(ps);
  a.tli = ps.running ? ps.tli : 0;
  a.lsn = ps.running ? ps.lsn : 0;
  a.sync_state = ps.sync_state;
  /* strictly increasing across restarts: persisted, and at least the wall clock in µs */
  const std::int64_t wall_us = clock_.wall_clock_us();
  state_.last_report_seq = std::max<std::int64_t>(state_.last_report_seq + 1, wall_us);
  a.report_seq = state_.last_report_seq;
  return a;
}

Status Keeper::renew_lease() {
  auto st = pg_.status();
  NodeActiveArgs a = base_report(st ? *st : PgStatus{});
  const TimeMs t_send = clock_.now_ms();
  auto reply = monitor_.node_active(a);
  if (!reply) return reply.error();
  /* a non-writable answer revokes (L2): the step then refuses to enable writes */
  guard_.on_monitor_reply(t_send, reply->goal);
  if (reply->goal != state_.assigned_role) {
    spdlog::info("Monitor assigned new state \"{}\"", to_string(reply->goal));
  }
  state_.assigned_role = reply->goal;
  return Status::Ok();
}

bool Keeper::report_pg_is_running(const PgStatus& st) {
  if (st.running) {
    pg_down_since_ = -1;
    restart_logged_ = false;
    reported_down_ = false;
    seen_running_ = true;
    return true;
  }
  /* The grace below is for a crash of a Postgres we were running; an agent that restarts with
   * Postgres down (an old primary coming back) tells the truth at once. */
  if (!seen_running_ || !can_take_writes_in_state(state_.current_role) || guard_.fenced()) {
    return false;
  }
  TimeMs now = clock_.now_ms();
  if (pg_down_since_ < 0) pg_down_since_ = now;
  /* A primary keeps saying "running" while the controller restarts Postgres, for a bounded time:
   * while a postmaster is alive and recovering, up to the restart budget (restart in place, no
   * failover); while none is, only for the short restart-failure grace (a Postgres that cannot
   * start is a failover). */
  const TimeMs down_ms = now - pg_down_since_;
  if (reported_down_) return false; /* once said, no flapping back until it runs again */
  if (pg_.postmaster_starting()) {
    if (down_ms < cfg_.settings.postgres_restart_budget_ms) {
      if (!restart_logged_) {
        restart_logged_ = true;
        spdlog::info(
            "PostgreSQL is restarting (crash recovery): reporting it as running for up "
            "to {} ms (postgres_restart_budget_ms)",
            cfg_.settings.postgres_restart_budget_ms);
      }
      return true;
    }
    spdlog::warn("PostgreSQL did not finish restarting within {} ms: reporting it down",
                 cfg_.settings.postgres_restart_budget_ms);
    reported_down_ = true;
    return false;
  }
  if (down_ms < cfg_.settings.postgresql_restart_failure_timeout_ms) return true;
  spdlog::warn(
      "PostgreSQL is not running and no postmaster is starting after {} ms: reporting "
      "it down",
      down_ms);
  reported_down_ = true;
  return false;
}

Status Keeper::refresh_other_nodes() {
  auto others = monitor_.get_other_nodes(state_.node_id);
  if (!others) return others.error();
  other_nodes_ = std::move(*others);
  if (cfg_.hba_level == "skip") return Status::Ok();
  std::vector<std::string> hosts;
  for (auto& n : other_nodes_) hosts.push_back(n.host);
  return pg_.ensure_hba(hosts, monitor_host_);
}

Status Keeper::maintain_slots(bool advance) {
  auto slots = pg_.list_slots();
  if (!slots) return slots.error();
  std::set<std::string> wanted;
  for (auto& n : other_nodes_) wanted.insert(slot_name(n.node_id));
  for (auto& sl : *slots) {
    if (sl.name.rfind("pgautofailover_standby_", 0) != 0) continue;
    if (!wanted.count(sl.name) && !sl.active) {
      Status d = pg_.drop_slot(sl.name);
      if (!d) return d;
    }
  }
  for (auto& n : other_nodes_) {
    std::string name = slot_name(n.node_id);
    bool found = std::any_of(slots->begin(), slots->end(),
                             [&](const SlotInfo& s) { return s.name == name; });
    if (!found) {
      Status c = pg_.create_slot(name);
      if (!c) return c;
      spdlog::info("created replication slot \"{}\"", name);
    } else if (advance && n.lsn != 0) {
      Status a = pg_.advance_slot(name, n.lsn);
      if (!a) spdlog::debug("advancing slot {}: {}", name, a.error().message);
    }
  }
  return Status::Ok();
}

Status Keeper::apply_sync_names(bool wait_for_catchup) {
  auto names = monitor_.synchronous_standby_names(cfg_.formation, state_.group_id);
  if (!names) return names.error();
  auto cur = pg_.synchronous_standby_names();
  if (!cur || *cur != *names) {
    Status s = pg_.set_synchronous_standby_names(*names);
    if (!s) return s;
    spdlog::info("synchronous_standby_names is now '{}'", *names);
  }
  if (!wait_for_catchup || names->empty()) return Status::Ok();
  /* Require a standby in sync/quorum state before reporting primary. A long step must not
   * starve lease renewal: a primary in apply_settings that waited here for a standby that is not
   * up stopped reporting, fenced itself and was failed over (issue 13). Wait at most one
   * node-active period; the transition is retried at the next round, after a report. */
  TimeMs deadline = clock_.now_ms() + std::min(cfg_.settings.prepare_promotion_catchup_ms,
                                               cfg_.settings.node_active_interval_ms);
  while (true) {
    auto st = pg_.status();
    if (st && (st->sync_state == "sync" || st->sync_state == "quorum")) return Status::Ok();
    if (clock_.now_ms() >= deadline || stop_requested()) {
      return make_error(ErrorCode::Keeper, "no synchronous standby is connected yet",
                        "the transition is retried at the next round");
    }
    clock_.sleep_ms(50);
  }
}

void Keeper::set_step_observer(std::function<void(KeeperStep)> observer) {
  step_observer_ = std::move(observer);
}

Status Keeper::reach_assigned_state() {
  NodeState from = state_.current_role, to = state_.assigned_role;
  auto tr = find_keeper_transition(from, to);
  if (!tr) {
    return make_error(ErrorCode::Keeper, "pg_autoctl does not know how to reach state \"" +
                                             std::string(to_string(to)) + "\" from \"" +
                                             std::string(to_string(from)) + "\"");
  }
  spdlog::info("FSM transition from \"{}\" to \"{}\"{}{}", to_string(from), to_string(to),
               tr->comment.empty() ? "" : ": ", tr->comment);
  if (!can_take_writes_in_state(to)) {
    /* leaving the writable states: the guard must not fence a node that is stopping anyway,
     * and no step below enables writes */
    guard_.set_current(to);
  }
  /* Ensure the current state first, as the reference keeper does: a read-only state that runs
   * Postgres (a standby being promoted, catching up or reporting its LSN) gets it started again
   * before the transition, or a Postgres crash between two transitions leaves a step such as
   * SetReadWrite failing at every round (pgaf-sim, seed 585, once it ran this code). A
   * secondary's steps start Postgres themselves; writable states are ensure_current_state's. */
  const bool needs_running = from == NodeState::PreparePromotion ||
                             from == NodeState::StopReplication || from == NodeState::Catchingup ||
                             from == NodeState::ReportLsn;
  const bool must_stop =
      to == NodeState::Draining || to == NodeState::Demoted || to == NodeState::DemoteTimeout;
  if (needs_running && !must_stop) {
    auto st = pg_.status();
    if (!st || !st->running) {
      if (Status s = run_step(KeeperStep::StartPostgres); !s) {
        spdlog::error("failed to start PostgreSQL before the transition to \"{}\": {}",
                      to_string(to), s.error().to_string());
        return s;
      }
    }
  }
  for (KeeperStep step : tr->steps) {
    Status s = run_step(step);
    if (!s) {
      spdlog::error("failed to transition from \"{}\" to \"{}\" at step {}: {}", to_string(from),
                    to_string(to), to_string(step), s.error().to_string());
      if (from == NodeState::ReportLsn || from == NodeState::PreparePromotion) {
        /* We still report `from`, a state in which the monitor counts on this node NOT
         * streaming from the primary (its reported LSN is final, it vouches for no one). A step
         * such as RewindOrBaseBackup may already have started Postgres following the primary:
         * go back to no upstream until the transition is retried (pgaf-sim seeds 14542,
         * 28095: the node confirmed commits to the old primary that the elected node lacked). */
        Status back = run_step(KeeperStep::StopWalReceiver);
        if (!back) spdlog::error("could not stop streaming again: {}", back.error().to_string());
      }
      return s;
    }
  }
  state_.current_role = to;
  guard_.set_current(to);
  if (Status p = persist(); !p) return p;
  spdlog::info("Transition complete: current state is now \"{}\"", to_string(to));
  return Status::Ok();
}

/* A catching-up standby follows the primary it was given when it entered the state; during a
 * failover that may be the old primary being demoted (get_primary names it until the new one is
 * writable), and the monitor keeps the goal catchingup until the node catches up with the new
 * one: follow the new primary once the monitor names it (pgaf-sim seed 43926: stuck forever). */
Status Keeper::follow_new_primary() {
  if (following_ == 0) return Status::Ok(); /* unknown (agent restarted): keep it */
  auto p = monitor_.get_primary(cfg_.formation, state_.group_id);
  if (!p || p->node_id == state_.node_id || p->node_id == following_) return Status::Ok();
  spdlog::info("the primary is now node {} (was node {}): follow it", p->node_id, following_);
  if (Status s = run_step(KeeperStep::RewindOrBaseBackup); !s) return s;
  return run_step(KeeperStep::FollowPrimary);
}

Status Keeper::ensure_current_state() {
  NodeState cur = state_.current_role;
  if (can_take_writes_in_state(cur)) {
    if (!guard_.may_write()) return Status::Ok(); /* the guard owns this case */
    auto st = pg_.status();
    if (!st || !st->running) {
      Status s = pg_.ensure_running(guard_.fenced() ? cfg_.settings.postgres_start_timeout_ms
                                                    : cfg_.settings.postgres_running_check_ms);
      if (!s) return s;
      st = pg_.status();
      if (!st) return st.error();
    }
    if (st->read_only || !guard_.armed()) {
      if (!guard_.may_write()) return Status::Ok();
      if (Status s = pg_.set_read_only(false); !s) return s;
      guard_.set_armed(true);
      if (guard_.fenced()) spdlog::info("lease renewed: PostgreSQL accepts writes again");
      guard_.clear_fenced();
    }
    return maintain_slots(false);
  }
  switch (cur) {
    case NodeState::PreparePromotion:
    case NodeState::StopReplication:
      return pg_.ensure_running(cfg_.settings.postgres_running_check_ms);
    case NodeState::Catchingup: {
      Status s = pg_.ensure_running(cfg_.settings.postgres_running_check_ms);
      if (!s) return s;
      return follow_new_primary();
    }
    case NodeState::ReportLsn: {
      /* A transition out of report_lsn that failed midway (e.g. follow_primary done, then
       * check_timeline failed) leaves an upstream configured; when the monitor sends the node
       * back to report_lsn it must stop streaming, or it confirms commits that the election it
       * answers does not see (simulator seed 692572). */
      auto st = pg_.status();
      if (st && st->running && st->wal_receiver_active) {
        spdlog::info("report_lsn: PostgreSQL still streams from an upstream, stopping it");
        if (Status s = run_step(KeeperStep::RestartWithoutUpstream); !s) return s;
      }
      Status s = pg_.ensure_running(cfg_.settings.postgres_running_check_ms);
      if (!s) return s;
      return maintain_slots(true);
    }
    case NodeState::Secondary: {
      Status s = pg_.ensure_running(cfg_.settings.postgres_running_check_ms);
      if (!s) return s;
      return maintain_slots(true);
    }
    case NodeState::Demoted:
    case NodeState::DemoteTimeout:
    case NodeState::Draining: {
      auto st = pg_.status();
      if (st && st->running) return pg_.ensure_stopped(cfg_.settings.postgres_stop_timeout_ms);
      return Status::Ok();
    }
    default:
      return Status::Ok();
  }
}

void Keeper::request_reload(const Config& cfg) {
  std::lock_guard<std::mutex> l(reload_mu_);
  pending_reload_ = cfg;
}

void Keeper::apply_pending_reload() {
  std::optional<Config> c;
  {
    std::lock_guard<std::mutex> l(reload_mu_);
    c.swap(pending_reload_);
  }
  if (!c) return;
  if (c->pgdata != cfg_.pgdata || c->port != cfg_.port || c->formation != cfg_.formation) {
    spdlog::warn("reload: pgdata, port and formation changes need a restart");
    c->pgdata = cfg_.pgdata;
    c->port = cfg_.port;
    c->formation = cfg_.formation;
  }
  /* the same monitor with other connection parameters (enable|disable ssl: sslmode,
   * sslrootcert, sslcrl): reconnect; another monitor (enable|disable monitor): switch */
  const bool same_monitor = !monitor_disabled(c->monitor) && !monitor_disabled(cfg_.monitor) &&
                            monitor_host_of(c->monitor) == monitor_host_of(cfg_.monitor) &&
                            monitor_port_of(c->monitor) == monitor_port_of(cfg_.monitor);
  if (c->monitor != cfg_.monitor && same_monitor) {
    spdlog::info("reload: the monitor connection parameters changed: reconnecting");
    monitor_.set_uri(c->monitor);
  } else if (c->monitor != cfg_.monitor) {
    auto fresh = monitor_switch_ ? monitor_switch_(c->monitor)
                                 : Result<KeeperState>(make_error(
                                       ErrorCode::Reload, "this service cannot change monitor"));
    if (fresh) {
      state_ = *fresh;
      /* a writable state keeps the guard armed: the standbys' vouch (L3) lasts until the new
       * monitor answers this round's report with a lease (L1) */
      guard_.set_current(state_.current_role);
      sysid_published_ = false;
      monitor_failures_ = 0;
      disabled_logged_ = false;
      spdlog::info("reload: the monitor is now {} (node {}, state \"{}\")",
                   monitor_disabled(c->monitor) ? "disabled" : "\"" + c->monitor + "\"",
                   state_.node_id, to_string(state_.current_role));
    } else {
      spdlog::error("reload: keeping the monitor: {}", fresh.error().to_string());
      c->monitor = cfg_.monitor;
    }
  }
  cfg_ = *c;
  pg_.reconfigure(cfg_);
  monitor_host_ = monitor_host_of(cfg_.monitor);
  spdlog::info("reloaded the configuration");
}

void Keeper::set_monitor_switch(std::function<Result<KeeperState>(const std::string&)> fn) {
  monitor_switch_ = std::move(fn);
}

/* No monitor (disable monitor): no report, hence no lease (L1); a primary writes on its
 * standbys' vouch only (L3), which the fence thread keeps sampling. Nothing is persisted: the
 * state file belongs to enable monitor until the reload that ends this period. */
IterationResult Keeper::disabled_round(const PgStatus& ps) {
  if (!disabled_logged_) {
    disabled_logged_ = true;
    spdlog::warn(
        "the monitor is disabled: no failover and no lease; a primary keeps writing only while "
        "its quorum standbys stream (pg_autoctl enable monitor <uri> registers with a new one)");
  }
  IterationResult r;
  if (tick_observer_) {
    tick_observer_(KeeperTick{state_, ps, false, clock_.now_ms(), other_nodes_, monitor_failures_});
  }
  return r;
}

IterationResult Keeper::iterate() {
  apply_pending_reload();
  if (monitor_disabled(cfg_.monitor)) {
    auto ds = pg_.status();
    return disabled_round(ds ? *ds : PgStatus{});
  }
  IterationResult r;
  auto st = pg_.status();
  if (state_.current_role == NodeState::ReportLsn && st && st->running && st->wal_receiver_active) {
    /* never answer an election while still streaming: the LSN reported would not be final,
     * and Postgres would go on confirming commits the election does not see (simulator seeds
     * 692572, 899575; a transition out of report_lsn failed midway) */
    spdlog::info("report_lsn: PostgreSQL still streams from an upstream, stopping it");
    if (Status s = run_step(KeeperStep::RestartWithoutUpstream); !s)
      spdlog::warn("could not stop streaming: {}", s.error().message);
    st = pg_.status();
  }
  PgStatus ps = st ? *st : PgStatus{};
  NodeActiveArgs a = base_report(ps);
  /* one-way partitions: a primary says which standbys stopped acknowledging its WAL */
  if (can_take_writes_in_state(state_.current_role) && ps.running && !ps.in_recovery) {
    if (auto acks = pg_.wal_acks()) {
      const TimeMs now = clock_.now_ms();
      std::vector<NodeId> expected;
      for (const auto& o : other_nodes_) expected.push_back(o.node_id);
      acks_.on_sample(now, acks->current, acks->flush, expected);
      a.stale_standbys = acks_.stale(now);
      if (*a.stale_standbys != last_stale_) { /* log changes only */
        std::string ids;
        for (NodeId id : *a.stale_standbys) ids += (ids.empty() ? "" : ", ") + std::to_string(id);
        if (ids.empty())
          spdlog::info("every standby acknowledges our WAL again");
        else
          spdlog::warn("standby node(s) {} did not acknowledge our WAL for {} ms", ids,
                       cfg_.settings.standby_ack_timeout_ms);
        last_stale_ = *a.stale_standbys;
      }
    }
  } else {
    acks_.reset();
    last_stale_.clear();
  }
  TimeMs t_send = clock_.now_ms();
  auto reply = monitor_.node_active(a);
  if (reply) {
    if (monitor_failures_ > 0) {
      spdlog::info("the monitor answers again after {} failed attempts", monitor_failures_);
    }
    monitor_failures_ = 0;
    r.monitor_ok = true;
    guard_.on_monitor_reply(t_send, reply->goal);
    if (reply->goal != state_.assigned_role) {
      spdlog::info("Monitor assigned new state \"{}\"", to_string(reply->goal));
    }
    state_.assigned_role = reply->goal;
    state_.group_id = reply->group_id;
    state_.last_monitor_contact = clock_.wall_clock_us() / 1000000;
    Status o = refresh_other_nodes();
    if (!o) spdlog::warn("could not refresh the other nodes: {}", o.error().message);
    if (!sysid_published_ && ps.system_identifier != 0 && state_.current_role != NodeState::Init &&
        state_.current_role != NodeState::WaitStandby) {
      if (monitor_.set_node_system_identifier(state_.node_id, ps.system_identifier)) {
        sysid_published_ = true;
      }
    }
  } else {
    /* first failure, then every 20th: an outage does not flood the log */
    if (monitor_failures_++ % 20 == 0) {
      spdlog::warn("failed to contact the monitor ({} attempts): {}", monitor_failures_,
                   reply.error().message);
    }
    if (state_.current_role == NodeState::Dropped && reply.error().code == ErrorCode::UnknownNode) {
      r.dropped = true;
      return r;
    }
  }

  /* Following a primary needs an assignment confirmed in this round: while we could not hear the
   * monitor it may have started a failover, and a standby that follows the old primary then
   * vouches for it and confirms commits the elected node lacks (pgaf-sim seed 28095). */
  const bool follows_primary =
      state_.assigned_role == NodeState::Secondary || state_.assigned_role == NodeState::Catchingup;
  if (state_.assigned_role != state_.current_role && follows_primary && !r.monitor_ok) {
    r.failed = true;
  } else if (state_.assigned_role != state_.current_role) {
    Status s = reach_assigned_state();
    if (s) {
      r.transitioned = true;
    } else {
      r.failed = true;
      /* a failed step logs itself; a transition the table lacks must not fail silently */
      if (s.error().code == ErrorCode::Keeper && s.error().message != last_transition_error_) {
        last_transition_error_ = s.error().message;
        spdlog::error("{}", s.error().to_string());
      }
    }
  } else if (r.monitor_ok) {
    Status s = ensure_current_state();
    if (!s) spdlog::warn("could not ensure the current state: {}", s.error().message);
    if (state_.current_role == NodeState::Dropped) {
      if (++dropped_rounds_ >= 1) r.dropped = true;
    }
  }
  Status p = persist();
  if (!p) spdlog::error("{}", p.error().to_string());
  if (tick_observer_) {
    tick_observer_(
        KeeperTick{state_, ps, r.monitor_ok, clock_.now_ms(), other_nodes_, monitor_failures_});
  }
  return r;
}

void Keeper::set_tick_observer(std::function<void(const KeeperTick&)> observer) {
  tick_observer_ = std::move(observer);
}

int Keeper::run(const std::atomic<bool>& stop_requested) {
  bool immediate = true;
  while (!stop_requested.load()) {
    if (!immediate) {
      /* Sleep up to one interval, waking on a state notification for our group. */
      auto woke = monitor_.wait_for_state_change(cfg_.formation, state_.group_id,
                                                 cfg_.settings.node_active_interval_ms);
      /* no LISTEN connection (monitor down): still one report per interval */
      if (!woke) clock_.sleep_ms(cfg_.settings.node_active_interval_ms);
      if (stop_requested.load()) break;
    }
    IterationResult r = iterate();
    if (r.dropped) {
      spdlog::info("this node has been dropped from the monitor");
      return exit_code(ErrorCode::Dropped);
    }
    immediate = r.transitioned;
    if (r.failed) clock_.sleep_ms(cfg_.settings.node_active_retry_delay_ms);
  }
  return 0;
}

}  // namespace pgaf::agent
