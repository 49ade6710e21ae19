/*
 * sim_io.cpp — the agent's interfaces on the simulated world (see sim_io.hpp): what each
 * PostgresControl and MonitorClient call does to the simulated Postgres and monitor, and the
 * fiber a keeper step runs on.
 *
 * Invariants: see sim_io.hpp. Every call here is deterministic (it reads only the world and the
 * world's PRNG), so a seed still gives the same run byte for byte.
 */
#include "sim_io.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "pgaf/core/sync_names.hpp"
#include "world.hpp"

namespace pgaf::sim {

/* ---------------------------------------------------------------- fiber */

namespace {
thread_local StepFiber* t_starting = nullptr; /* the fiber entry() runs */
}

StepFiber::StepFiber(std::size_t stack_bytes)
    : stack_(new char[stack_bytes]), stack_bytes_(stack_bytes) {}

StepFiber::~StepFiber() {
  kill();
}

void StepFiber::entry() {
  StepFiber* self = t_starting;
  try {
    self->fn_();
  } catch (const Killed&) {
    /* unwound on purpose */
  } catch (...) {
    self->exc_ = std::current_exception();
  }
  self->done_ = true;
  self->fn_ = nullptr;
  /* returning resumes uc_link (caller_, as saved by the last switch in) */
}

bool StepFiber::switch_in() {
  inside_ = true;
  suspended_ = false;
  swapcontext(&caller_, &ctx_);
  inside_ = false;
  if (!done_) suspended_ = true;
  if (exc_) {
    std::exception_ptr e = exc_;
    exc_ = nullptr;
    std::rethrow_exception(e);
  }
  return done_;
}

bool StepFiber::start(std::function<void()> fn) {
  kill();
  fn_ = std::move(fn);
  done_ = false;
  kill_ = false;
  getcontext(&ctx_);
  ctx_.uc_stack.ss_sp = stack_.get();
  ctx_.uc_stack.ss_size = stack_bytes_;
  ctx_.uc_link = &caller_;
  makecontext(&ctx_, &StepFiber::entry, 0);
  t_starting = this;
  return switch_in();
}

bool StepFiber::resume() {
  if (!suspended_) return true;
  return switch_in();
}

void StepFiber::yield() {
  swapcontext(&ctx_, &caller_);
  if (kill_) throw Killed{};
}

void StepFiber::kill() {
  if (!suspended_) return;
  kill_ = true;
  try {
    switch_in();
  } catch (...) {
    /* the step's own failure while unwinding: the process is gone anyway */
  }
  kill_ = false;
  suspended_ = false;
}

/* ---------------------------------------------------------------- clock */

TimeMs SimClock::now_ms() {
  return w_.clocks_[static_cast<std::size_t>(n_)].local_ms(w_.now_);
}

void SimClock::sleep_ms(TimeMs ms) {
  w_.agent_wait(n_, AgentWait::Sleep, std::max<TimeMs>(ms, 1));
}

/* An arbitrary epoch plus the node's own clock: monotonic per node, as report numbering needs. */
std::int64_t SimClock::wall_clock_us() {
  return 1700000000000000 + w_.clocks_[static_cast<std::size_t>(n_)].local_us(w_.now_);
}

/* ---------------------------------------------------------------- Postgres */

namespace {
Status pg_error(std::string what) {
  return make_error(ErrorCode::Pgsql, std::move(what));
}
}  // namespace

Status SimPostgres::need_running() const {
  if (!w_.pg(n_).running) return pg_error("could not connect: PostgreSQL is not running");
  return Status::Ok();
}

bool SimPostgres::pgdata_initialized() {
  return w_.pg(n_).has_data;
}

Status SimPostgres::initdb() {
  if (!w_.pg(n_).has_data) w_.pg_initdb(n_);
  return Status::Ok();
}

Status SimPostgres::write_managed_config() {
  return Status::Ok();
}

Status SimPostgres::ensure_running(TimeMs timeout_ms) {
  (void)timeout_ms;
  Pg& p = w_.pg(n_);
  if (p.running) return Status::Ok();
  if (!p.has_data) return pg_error("PGDATA is not initialised");
  if (w_.now_ < p.blocked_until) return pg_error("PostgreSQL does not start (crashed)");
  w_.pg_start(n_);
  return Status::Ok();
}

/* A crashed Postgres in crash recovery (World::Pg::recovering): it accepts connections from
 * blocked_until on, at the next ensure_running (the controller's start, in the agent). */
bool SimPostgres::postmaster_starting() {
  const Pg& p = w_.pg(n_);
  return !p.running && p.has_data && p.recovering;
}

Status SimPostgres::ensure_stopped(TimeMs timeout_ms) {
  (void)timeout_ms;
  w_.pg_stop(n_, true);
  return Status::Ok();
}

Status SimPostgres::release_to_operator() {
  return Status::Ok();
}

Result<agent::PgStatus> SimPostgres::status() {
  const Pg& p = w_.pg(n_);
  agent::PgStatus st;
  if (!p.running) return st;
  st.running = true;
  st.in_recovery = !p.primary;
  st.read_only = p.read_only;
  st.tli = p.tli;
  st.lsn = p.log.empty() ? 0 : p.log.back().lsn;
  st.system_identifier = p.sysid;
  st.wal_receiver_active = !p.primary && p.upstream != 0;
  st.sync_state = w_.pg_sync_state(n_);
  return st;
}

Status SimPostgres::set_read_only(bool on) {
  if (Status s = need_running(); !s) return s;
  w_.pg(n_).read_only = on;
  return Status::Ok();
}

/* pgaf_fence: with the default model (RunOptions::fence_dies_with_agent false) the deadline the
 * guard pushes holds inside Postgres — the world keeps consulting the dead agent's guard lease,
 * which is that deadline; --agent-fence-only models a Postgres without the extension. */
Status SimPostgres::set_fence_deadline(TimeMs deadline_ms) {
  (void)deadline_ms;
  if (w_.opt_.fence_dies_with_agent)
    return make_error(ErrorCode::Unsupported, "pgaf_fence is not available");
  return need_running();
}

Status SimPostgres::terminate_client_backends() {
  if (Status s = need_running(); !s) return s;
  w_.pg(n_).waiters.clear(); /* never acknowledged */
  return Status::Ok();
}

Status SimPostgres::set_synchronous_standby_names(const std::string& value) {
  if (Status s = need_running(); !s) return s;
  w_.pg_set_sync_names(n_, value);
  /* '' cancels the backends waiting in SyncRep (their commits return success); a new list
   * may release waiters its members already confirmed */
  w_.pg_process_waiters(n_, value.empty());
  return Status::Ok();
}

Result<std::string> SimPostgres::synchronous_standby_names() {
  if (Status s = need_running(); !s) return s.error();
  return w_.pg(n_).sync_names;
}

Status SimPostgres::checkpoint() {
  return need_running();
}

Status SimPostgres::promote(TimeMs timeout_ms) {
  (void)timeout_ms;
  if (Status s = need_running(); !s) return s;
  Pg& p = w_.pg(n_);
  if (!p.primary) w_.pg_promote(n_);
  p.standby_signal = false;
  p.conf_target_lsn = 0;
  p.target_lsn = 0;
  return Status::Ok();
}

Result<std::vector<agent::SlotInfo>> SimPostgres::list_slots() {
  if (Status s = need_running(); !s) return s.error();
  std::vector<agent::SlotInfo> out;
  for (const std::string& name : w_.pg(n_).slots) {
    agent::SlotInfo si;
    si.name = name;
    for (int m = 1; m <= w_.n_; ++m) {
      const Pg& q = w_.pg(m);
      if (m != n_ && q.running && !q.primary && q.upstream == n_ && q.streaming &&
          standby_name(m) == name)
        si.active = true;
    }
    out.push_back(std::move(si));
  }
  return out;
}

Status SimPostgres::create_slot(const std::string& name) {
  if (Status s = need_running(); !s) return s;
  auto& sl = w_.pg(n_).slots;
  if (std::find(sl.begin(), sl.end(), name) == sl.end()) sl.push_back(name);
  return Status::Ok();
}

Status SimPostgres::drop_slot(const std::string& name) {
  if (Status s = need_running(); !s) return s;
  auto& sl = w_.pg(n_).slots;
  sl.erase(std::remove(sl.begin(), sl.end(), name), sl.end());
  return Status::Ok();
}

Status SimPostgres::advance_slot(const std::string& name, Lsn lsn) {
  (void)name;
  (void)lsn;
  return need_running();
}

Status SimPostgres::write_standby_setup(const agent::StandbySetup& s) {
  Pg& p = w_.pg(n_);
  p.standby_signal = true;
  p.conf_upstream = s.upstream ? static_cast<int>(s.upstream->node_id) : 0;
  p.conf_target_lsn = s.recovery_target_lsn;
  return Status::Ok();
}

Status SimPostgres::cleanup_standby_setup() {
  Pg& p = w_.pg(n_);
  p.standby_signal = false;
  p.conf_upstream = 0;
  p.conf_target_lsn = 0;
  return Status::Ok();
}

Status SimPostgres::reload() {
  Pg& p = w_.pg(n_);
  if (!p.running) return ensure_running(30000);
  if (!p.primary) w_.pg_set_upstream(n_, p.conf_upstream); /* primary_conninfo (PG ≥ 13) */
  return Status::Ok();
}

Status SimPostgres::restart(TimeMs timeout_ms) {
  Pg& p = w_.pg(n_);
  if (p.running && w_.now_ < p.blocked_until) return pg_error("PostgreSQL does not start");
  w_.pg_stop(n_, true);
  return ensure_running(timeout_ms);
}

Status SimPostgres::copy_from(int u, const char* how) {
  if (u < 1 || u > w_.n_ || u == n_) return pg_error(fmt::format("{}: no such source", how));
  if (!w_.pair_ok(n_, u) || !w_.pg(u).running || !w_.pg(u).has_data)
    return pg_error(fmt::format("{}: could not connect to node{}", how, u));
  w_.pg_copy_from(n_, u, how);
  return Status::Ok();
}

Status SimPostgres::base_backup(const agent::Upstream& from, const std::string& slot) {
  (void)slot;
  return copy_from(static_cast<int>(from.node_id), "pg_basebackup");
}

Status SimPostgres::rewind(const agent::Upstream& from) {
  if (w_.pg(n_).running) return pg_error("pg_rewind: PostgreSQL is running");
  if (!w_.pg(n_).has_data) return pg_error("pg_rewind: PGDATA is not initialised");
  return copy_from(static_cast<int>(from.node_id), "pg_rewind");
}

Result<Lsn> SimPostgres::replay_lsn() {
  if (Status s = need_running(); !s) return s.error();
  const Pg& p = w_.pg(n_);
  return p.log.empty() ? Lsn{0} : p.log.back().lsn;
}

Result<int> SimPostgres::upstream_timeline(const agent::Upstream& from) {
  const int u = static_cast<int>(from.node_id);
  if (u < 1 || u > w_.n_ || !w_.pair_ok(n_, u) || !w_.pg(u).running)
    return pg_error(fmt::format("could not connect to node{}", u)).error();
  return w_.pg(u).tli;
}

Status SimPostgres::create_roles_and_db(const std::string& dbname) {
  (void)dbname;
  return need_running();
}

Status SimPostgres::ensure_hba(const std::vector<std::string>& node_hosts,
                               const std::string& monitor_host) {
  (void)node_hosts;
  (void)monitor_host;
  return Status::Ok();
}

Result<agent::StandbyReplies> SimPostgres::standby_replies() {
  if (Status s = need_running(); !s) return s.error();
  const Pg& p = w_.pg(n_);
  agent::StandbyReplies out;
  if (!p.primary) return out;
  for (int m = 1; m <= w_.n_; ++m) {
    const SimTime r = p.reply_at[static_cast<std::size_t>(m)];
    if (m != n_ && r >= 0) out[standby_name(m)] = std::to_string(r);
  }
  return out;
}

Status SimPostgres::emit_heartbeat() {
  return need_running();
}

/* pg_current_wal_lsn() and pg_stat_replication.flush_lsn: the standbys that replied in this
 * epoch, with the WAL they flushed (one-way partitions, WalAckTracker). */
Result<agent::WalAcks> SimPostgres::wal_acks() {
  if (Status s = need_running(); !s) return s.error();
  const Pg& p = w_.pg(n_);
  if (!p.primary) return make_error(ErrorCode::BadState, "not a primary");
  agent::WalAcks out;
  out.current = p.log.empty() ? 0 : p.log.back().lsn;
  for (int m = 1; m <= w_.n_; ++m) {
    const auto mi = static_cast<std::size_t>(m);
    if (m == n_ || p.reply_at[mi] < 0) continue;
    const std::size_t f = std::min(p.flushed[mi], p.log.size());
    out.flush[m] = f == 0 ? 0 : p.log[f - 1].lsn;
  }
  return out;
}

/* ---------------------------------------------------------------- monitor */

namespace {
Status unsupported(const char* what) {
  return make_error(ErrorCode::Unsupported,
                    fmt::format("{}: not simulated (the keeper's steps do not call it)", what));
}
agent::NodeAddress address_of(const Node& x) {
  agent::NodeAddress a;
  a.node_id = x.id;
  a.name = x.name;
  a.host = x.host;
  a.port = x.port;
  a.lsn = x.reported_lsn;
  a.is_primary =
      x.reported_state == NodeState::Single || x.reported_state == NodeState::WaitPrimary ||
      x.reported_state == NodeState::Primary || x.reported_state == NodeState::JoinPrimary ||
      x.reported_state == NodeState::ApplySettings;
  return a;
}
}  // namespace

Status SimMonitor::reach() const {
  if (!w_.host_up_[0] || !w_.pair_ok(n_, kMonitor))
    return make_error(ErrorCode::Monitor, "could not reach the monitor");
  const auto E = static_cast<std::size_t>(w_.n_ + 1);
  const int loss = w_.loss_[static_cast<std::size_t>(n_) * E] +
                   w_.loss_[static_cast<std::size_t>(n_)]; /* n→monitor + monitor→n */
  if (loss > 0 && w_.rng_.chance(std::min(loss, 100)))
    return make_error(ErrorCode::Timeout, "the monitor call was lost");
  return Status::Ok();
}

Result<agent::NodeAssignment> SimMonitor::register_node(const agent::RegisterArgs& a) {
  (void)a;
  return unsupported("register_node").error();
}

Result<agent::NodeAssignment> SimMonitor::node_active(const agent::NodeActiveArgs& a) {
  return w_.agent_node_active(n_, a);
}

/* pgaf/monitor api.cpp get_primary: the node with a writable goal, else one demoting, else one
 * in a primary state, else a demoted one. */
Result<agent::NodeAddress> SimMonitor::get_primary(const std::string& formation, GroupId group) {
  (void)formation;
  (void)group;
  if (Status s = reach(); !s) return s.error();
  const Node *pick = nullptr, *belongs = nullptr, *demoting = nullptr, *demoted = nullptr;
  for (const Node& x : w_.g_.nodes) {
    if (x.goal_state == NodeState::Dropped) continue;
    if (can_take_writes_in_state(x.goal_state)) {
      pick = &x;
      break;
    }
    if (state_belongs_to_primary(x.reported_state)) {
      if (!belongs) belongs = &x;
      if (!demoting &&
          (x.goal_state == NodeState::Draining || x.goal_state == NodeState::DemoteTimeout ||
           x.goal_state == NodeState::PrepareMaintenance))
        demoting = &x;
    }
    if (!demoted && x.goal_state == NodeState::Demoted &&
        (state_belongs_to_primary(x.reported_state) || x.reported_state == NodeState::Demoted))
      demoted = &x;
  }
  if (!pick) pick = demoting ? demoting : belongs ? belongs : demoted;
  if (!pick) return make_error(ErrorCode::NoPrimary, "group has no writable node right now");
  return address_of(*pick);
}

/* SQL get_other_nodes(nodeid): every other node whose goal is not dropped. */
Result<std::vector<agent::NodeAddress>> SimMonitor::get_other_nodes(NodeId node_id) {
  if (Status s = reach(); !s) return s.error();
  std::vector<agent::NodeAddress> out;
  if (!w_.g_.find(node_id)) return out;
  for (const Node& x : w_.g_.nodes)
    if (x.id != node_id && x.goal_state != NodeState::Dropped) out.push_back(address_of(x));
  return out;
}

/* SQL get_most_advanced_standby: a node that reports report_lsn, newest timeline first, then the
 * highest reported LSN, then the healthiest (ties: lowest node id). */
Result<std::optional<agent::NodeAddress>> SimMonitor::get_most_advanced_standby(
    const std::string& formation, GroupId group) {
  (void)formation;
  (void)group;
  if (Status s = reach(); !s) return s.error();
  const Node* best = nullptr;
  for (const Node& x : w_.g_.nodes) {
    if (x.reported_state != NodeState::ReportLsn) continue;
    if (!best || x.reported_tli > best->reported_tli ||
        (x.reported_tli == best->reported_tli &&
         (x.reported_lsn > best->reported_lsn ||
          (x.reported_lsn == best->reported_lsn &&
           static_cast<int>(x.health) > static_cast<int>(best->health)))))
      best = &x;
  }
  if (!best) return std::optional<agent::NodeAddress>{};
  return std::optional<agent::NodeAddress>{address_of(*best)};
}

Result<std::string> SimMonitor::synchronous_standby_names(const std::string& formation,
                                                          GroupId group) {
  (void)formation;
  (void)group;
  if (Status s = reach(); !s) return s.error();
  return pgaf::synchronous_standby_names(w_.g_);
}

Status SimMonitor::set_node_system_identifier(NodeId node_id, std::int64_t sysid) {
  (void)node_id;
  (void)sysid;
  return reach();
}

Result<bool> SimMonitor::remove_node(NodeId, bool) {
  return unsupported("remove_node").error();
}
Result<bool> SimMonitor::remove_node_by_host(const std::string&, int, bool) {
  return unsupported("remove_node_by_host").error();
}
Status SimMonitor::perform_failover(const std::string&, GroupId) {
  return unsupported("perform_failover");
}
Result<bool> SimMonitor::perform_promotion(const std::string&, const std::string&) {
  return unsupported("perform_promotion").error();
}
Result<bool> SimMonitor::start_maintenance(NodeId) {
  return unsupported("start_maintenance").error();
}
Status SimMonitor::set_node_candidate_priority(const std::string&, const std::string&, int) {
  return unsupported("set_node_candidate_priority");
}
Status SimMonitor::set_node_replication_quorum(const std::string&, const std::string&, bool) {
  return unsupported("set_node_replication_quorum");
}
Status SimMonitor::set_formation_number_sync_standbys(const std::string&, int) {
  return unsupported("set_formation_number_sync_standbys");
}
Result<int> SimMonitor::formation_number_sync_standbys(const std::string&) {
  return unsupported("formation_number_sync_standbys").error();
}
Status SimMonitor::create_formation(const std::string&, const std::string&, const std::string&,
                                    bool, int) {
  return unsupported("create_formation");
}
Status SimMonitor::drop_formation(const std::string&) {
  return unsupported("drop_formation");
}
Status SimMonitor::set_formation_secondary(const std::string&, bool) {
  return unsupported("set_formation_secondary");
}
Result<bool> SimMonitor::stop_maintenance(NodeId) {
  return unsupported("stop_maintenance").error();
}
Result<std::vector<agent::StateRow>> SimMonitor::current_state(const std::string&) {
  return unsupported("current_state").error();
}
Result<std::vector<agent::EventRow>> SimMonitor::last_events(const std::string&, GroupId, int) {
  return unsupported("last_events").error();
}
Result<std::optional<std::string>> SimMonitor::formation_uri(const std::string&, const std::string&,
                                                             const std::string&,
                                                             const std::string&) {
  return unsupported("formation_uri").error();
}
Result<bool> SimMonitor::wait_for_state_change(const std::string&, GroupId, TimeMs timeout_ms) {
  return w_.agent_listen(n_, timeout_ms);
}

/* ---------------------------------------------------------------- the agent process */

namespace {
agent::Config sim_config(int node, const Settings& s) {
  agent::Config c;
  c.monitor = "postgres://autoctl_node@monitor:5432/pg_auto_failover";
  c.formation = "default";
  c.group = 0;
  c.name = fmt::format("node_{}", node);
  c.hostname = fmt::format("10.0.0.{}", node);
  c.pgdata = fmt::format("/sim/node{}/pgdata", node);
  c.port = 5432;
  c.settings = s;
  return c;
}
}  // namespace

AgentIo::AgentIo(World& w, int node, const Settings& s, const agent::KeeperState& state,
                 std::function<Status(const agent::KeeperState&)> persist)
    : clock(w, node),
      pg(w, node),
      monitor(w, node),
      guard(s, clock, pg),
      keeper(sim_config(node, s), state, clock, pg, monitor, guard, std::move(persist)) {}

AgentIo::~AgentIo() {
  fiber.kill();
}

}  // namespace pgaf::sim
