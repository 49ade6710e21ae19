/*
 * world.cpp — the simulated formation: event loop, network, clocks, Postgres, agents, monitor,
 * client, faults and invariant checks. See world.hpp for the model's invariants and sim.hpp for
 * the invariants it checks.
 *
 * The monitor and the agents run the REAL core and keeper: decide() (monitor), pgaf::agent::Keeper
 * on a fiber per agent (sim_io.hpp: the agent's interfaces on this world) and AgentLease (agent
 * fencing). Everything else here is the environment.
 */
#include "world.hpp"

#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_set>

#include "pgaf/core/sync_names.hpp"
#include "sim_io.hpp"

#define TR(who, ...)                                    \
  do {                                                  \
    if (tracing()) tr((who), fmt::format(__VA_ARGS__)); \
  } while (0)

namespace pgaf::sim {

namespace {

constexpr Lsn kInitLsn = 0x1000028;
constexpr Lsn kCommitBytes = 8192;
constexpr Lsn kMarkerBytes = 128;
constexpr SimTime kMs = 1000;
constexpr std::uint64_t kMarkerBase = 1ULL << 40; /* ids of non-commit records */

enum MsgType : std::int64_t {
  MsgRegister = 1,
  MsgNodeActive = 2,
  MsgReply = 3,
  MsgError = 4,
  MsgNotify = 5
};

std::string who_node(int n) {
  return fmt::format("node{}", n);
}

std::string fmt_time(SimTime t) {
  return fmt::format("{:>4}.{:03}s", t / 1000000, (t / 1000) % 1000);
}

/* A failed PGAF_ASSERT inside the core becomes a violation of the run (with its seed and trace)
 * instead of aborting the whole seed range. */
struct CoreAssertion {
  std::string what;
};
[[noreturn]] void throw_core_assertion(const char* expr, const char* file, int line,
                                       const char* msg) {
  throw CoreAssertion{fmt::format("{} ({}) at {}:{}", msg, expr, file, line)};
}

/* The keeper's own log lines (spdlog) go to the trace of the run, labelled with the node whose
 * keeper or fence thread is running; nothing is formatted unless the run is traced. */
thread_local World* t_log_world = nullptr;
thread_local int t_log_node = 0;
struct LogNode {
  int prev;
  explicit LogNode(int n) : prev(t_log_node) { t_log_node = n; }
  ~LogNode() { t_log_node = prev; }
  LogNode(const LogNode&) = delete;
  LogNode& operator=(const LogNode&) = delete;
};
class TraceSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (t_log_world == nullptr || t_log_node == 0) return;
    const auto level = spdlog::level::to_string_view(msg.level);
    t_log_world->keeper_log(t_log_node, std::string_view(level.data(), level.size()),
                            std::string_view(msg.payload.data(), msg.payload.size()));
  }
  void flush_() override {}
};

/* Core versions that order node_active reports (NodeActiveEvent::report_seq, finding F10)
 * get a per-node sequence number; older ones simply do not have the field. */
template <typename E>
void set_report_seq(E& e, std::int64_t seq) {
  if constexpr (requires { e.report_seq; }) e.report_seq = seq;
}
template <typename D>
bool is_stale_report(const D& d) {
  if constexpr (requires { d.stale_report; })
    return d.stale_report;
  else
    return false;
}

}  // namespace

SimTime Clock::true_at(std::int64_t target_us) const {
  std::int64_t t = (target_us - offset_us) * 1000000 / (1000000 + ppm);
  if (t < 0) t = 0;
  while (local_us(t) < target_us) ++t;
  while (t > 0 && local_us(t - 1) >= target_us) --t;
  return t;
}

World::World(const Schedule& s, const RunOptions& o)
    : s_(s), opt_(o), mon_settings_(s.settings), rng_(s.seed * 0x2545F4914F6CDD1DULL + 7) {
  n_ = s_.nodes;
  const auto E = static_cast<std::size_t>(n_ + 1);
  if (s_.broken == Broken::MonitorSkipsLeaseWait) {
    /* The smallest windows Settings::validate() accepts: the monitor believes a lease lasts
     * 2 ms and a vouch 0 ms, while the agents keep the real ones. */
    mon_settings_.node_active_interval_ms = 1;
    mon_settings_.lease_ms = 2;
    mon_settings_.fence_guard_ms = 0;
    mon_settings_.standby_vouch_ms = 0;
    mon_settings_.lease_margin_ms = 0;
    mon_settings_.clock_drift_ppm = 0;
  }
  clocks_.resize(E);
  for (std::size_t e = 0; e < E; ++e) {
    clocks_[e].ppm = e < s_.drift_ppm.size() ? s_.drift_ppm[e] : 0;
    clocks_[e].offset_us = rng_.range(1000, 100000) * kMs; /* arbitrary monotonic origins */
  }
  host_up_.assign(E, true);
  down_.assign(E * E, 0);
  loss_.assign(E * E, 0);
  extra_.assign(E * E, 0);
  dup_.assign(E * E, 0);
  pgs_.resize(E);
  for (auto& p : pgs_) {
    p.reply_at.assign(E, -1);
    p.flushed.assign(E, 0);
  }
  agents_.assign(E, Agent{});
  hc_tries_.assign(E, 0);
  hc_active_.assign(E, false);
  res_.seed = s_.seed;

  g_.formation.number_sync_standbys = s_.number_sync_standbys;
  g_.group_id = 0;
  g_.monitor_start_ms = mon_now();

  for (std::size_t i = 0; i < s_.faults.size(); ++i)
    faults_.push_back(ActiveFault{s_.faults[i], 0, 0, false});
}

World::~World() {
  for (auto& a : agents_) a.io.reset(); /* unwind suspended keeper steps first */
}

/* ---------------------------------------------------------------- plumbing */

void World::push(Ev e) {
  e.seq = seq_++;
  if (e.at < now_) e.at = now_;
  q_.push(e);
}

SimTime World::after_local(int host, SimTime now, TimeMs d_ms) const {
  const Clock& c = clocks_[static_cast<std::size_t>(host)];
  const SimTime t = c.true_at(c.local_us(now) + d_ms * kMs);
  return std::max(t, now + 1);
}

void World::keeper_log(int n, std::string_view level, std::string_view text) {
  TR(who_node(n).c_str(), "keeper {}: {}", level, text);
}

void World::tr(const char* who, const std::string& text) {
  std::string line = fmt::format("{} {:<8} {}", fmt_time(now_), who, text);
  for (char ch : line) {
    res_.trace_hash ^= static_cast<unsigned char>(ch);
    res_.trace_hash *= 1099511628211ULL;
  }
  res_.trace.push_back(std::move(line));
}

void World::violate(const std::string& kind, const std::string& detail) {
  if (res_.violation) return;
  res_.violation = Violation{kind, now_, detail};
  TR("CHECK", "VIOLATION {}: {}", kind, detail);
  stop_ = true;
}

/* ---------------------------------------------------------------- network */

bool World::endpoint_up(int e) const {
  return host_up_[static_cast<std::size_t>(e)];
}

bool World::link_ok(int from, int to) const {
  const auto E = static_cast<std::size_t>(n_ + 1);
  return endpoint_up(from) && endpoint_up(to) &&
         down_[static_cast<std::size_t>(from) * E + static_cast<std::size_t>(to)] == 0;
}

SimTime World::link_delay(int from, int to) {
  const auto E = static_cast<std::size_t>(n_ + 1);
  return rng_.range(300, 3000) +
         extra_[static_cast<std::size_t>(from) * E + static_cast<std::size_t>(to)];
}

void World::send(int from, int to, Ev e) {
  const auto E = static_cast<std::size_t>(n_ + 1);
  if (!link_ok(from, to)) return;
  const int loss = loss_[static_cast<std::size_t>(from) * E + static_cast<std::size_t>(to)];
  if (loss > 0 && rng_.chance(loss)) return;
  e.at = now_ + link_delay(from, to);
  push(e);
  const SimTime dup = dup_[static_cast<std::size_t>(from) * E + static_cast<std::size_t>(to)];
  if (dup > 0) {
    e.at = now_ + link_delay(from, to) + rng_.range(0, dup);
    push(e);
  }
}

void World::recompute_links() {
  const auto E = static_cast<std::size_t>(n_ + 1);
  std::fill(down_.begin(), down_.end(), 0);
  std::fill(loss_.begin(), loss_.end(), 0);
  std::fill(extra_.begin(), extra_.end(), 0);
  std::fill(dup_.begin(), dup_.end(), 0);
  auto idx = [E](int a, int b) {
    return static_cast<std::size_t>(a) * E + static_cast<std::size_t>(b);
  };
  for (const auto& af : faults_) {
    if (!af.active) continue;
    const int a = af.a, b = af.b;
    switch (af.f.kind) {
      case FaultKind::Partition:
        down_[idx(a, b)]++;
        down_[idx(b, a)]++;
        break;
      case FaultKind::PartitionOneWay:
        down_[idx(a, b)]++;
        break;
      case FaultKind::Isolate:
      case FaultKind::IsolateOut:
      case FaultKind::IsolateIn:
        for (int e = 0; e <= n_; ++e) {
          if (e == a) continue;
          if (af.f.kind != FaultKind::IsolateIn) down_[idx(a, e)]++;
          if (af.f.kind != FaultKind::IsolateOut) down_[idx(e, a)]++;
        }
        break;
      case FaultKind::Lossy:
        loss_[idx(a, b)] = std::max(loss_[idx(a, b)], af.f.loss_pct);
        loss_[idx(b, a)] = std::max(loss_[idx(b, a)], af.f.loss_pct);
        break;
      case FaultKind::Slow:
        extra_[idx(a, b)] = std::max(extra_[idx(a, b)], af.f.delay_ms * kMs);
        extra_[idx(b, a)] = std::max(extra_[idx(b, a)], af.f.delay_ms * kMs);
        break;
      case FaultKind::Duplicate:
        dup_[idx(a, b)] = std::max(dup_[idx(a, b)], af.f.delay_ms * kMs);
        dup_[idx(b, a)] = std::max(dup_[idx(b, a)], af.f.delay_ms * kMs);
        break;
      default:
        break;
    }
  }
}

/* ---------------------------------------------------------------- Postgres */

void World::pg_reset_standby_view(int n) {
  Pg& p = pg(n);
  std::fill(p.reply_at.begin(), p.reply_at.end(), -1);
  std::fill(p.flushed.begin(), p.flushed.end(), 0);
}

void World::pg_start(int n) {
  Pg& p = pg(n);
  if (p.running) return;
  p.running = true;
  p.recovering = false;
  p.primary = !p.standby_signal; /* standby.signal: start in recovery */
  p.upstream = p.primary ? 0 : p.conf_upstream;
  p.target_lsn = p.primary ? 0 : p.conf_target_lsn;
  p.epoch++;
  p.streaming = false;
  pg_reset_standby_view(n);
  TR(who_node(n).c_str(), "postgres started as {} (tli {}, lsn {:X}{})",
     p.primary ? "primary" : "standby", p.tli, p.log.empty() ? 0 : p.log.back().lsn,
     p.upstream ? fmt::format(", upstream node{}", p.upstream) : std::string());
}

void World::pg_stop(int n, bool clean) {
  Pg& p = pg(n);
  p.recovering = false; /* a stop (or a host crash) also ends a crash recovery */
  if (!p.running) return;
  if (clean && p.primary)
    pg_append(n, kMarkerBase + next_id_++, false, kMarkerBytes); /* shutdown checkpoint */
  p.running = false;
  p.epoch++;
  p.streaming = false;
  agents_[static_cast<std::size_t>(n)].unfenced = false;
  if (!p.waiters.empty())
    TR(who_node(n).c_str(), "{} commits waiting for sync rep fail (postgres stopped)",
       p.waiters.size());
  p.waiters.clear();
  pg_reset_standby_view(n);
  TR(who_node(n).c_str(), "postgres {}", clean ? "stopped" : "crashed");
}

void World::pg_set_tli(int n, int tli, const char* why) {
  Pg& p = pg(n);
  if (tli < p.tli)
    violate("timeline",
            fmt::format("node{} timeline goes back from {} to {} ({})", n, p.tli, tli, why));
  p.tli = tli;
}

void World::pg_promote(int n) {
  Pg& p = pg(n);
  p.primary = true;
  p.standby_signal = false; /* promotion removes standby.signal */
  p.upstream = 0;
  p.target_lsn = 0;
  p.conf_target_lsn = 0;
  pg_set_tli(n, p.tli + 1, "promote");
  res_.promotions++;
  pg_append(n, kMarkerBase + next_id_++, false, kMarkerBytes); /* end-of-recovery record */
  p.epoch++;
  p.waiters.clear();
  pg_reset_standby_view(n);
  TR(who_node(n).c_str(), "postgres promoted: timeline {}", p.tli);
}

void World::pg_append(int n, std::uint64_t id, bool commit, Lsn bytes) {
  Pg& p = pg(n);
  const Lsn last = p.log.empty() ? kInitLsn : p.log.back().lsn;
  p.log.push_back(Rec{last + bytes, id, commit});
}

void World::pg_initdb(int n) {
  Pg& p = pg(n);
  p.has_data = true;
  p.log.clear();
  p.tli = 1;
  p.primary = true;
  p.standby_signal = false;
  p.conf_upstream = 0;
  p.conf_target_lsn = 0;
  p.read_only = false;
  p.slots.clear();
  p.sysid = 7000000000000000000LL + static_cast<std::int64_t>(s_.seed % 1000000) * 100 + n;
  pg_append(n, kMarkerBase + next_id_++, false, kMarkerBytes);
  TR(who_node(n).c_str(), "initdb (timeline 1)");
}

/* pg_basebackup or pg_rewind from node u: the data directory becomes a copy of u's (stopped,
 * with standby.signal following u until the keeper writes its own standby setup). */
void World::pg_copy_from(int n, int u, const char* how) {
  Pg& p = pg(n);
  Pg& up = pg(u);
  pg_stop(n, false);
  if (p.has_data && up.tli < p.tli)
    violate("timeline", fmt::format("node{} rebuilt from node{} on older timeline {} < {}", n, u,
                                    up.tli, p.tli));
  p.log = up.log;
  p.tli = up.tli;
  p.sysid = up.sysid;
  p.has_data = true;
  p.primary = false;
  p.standby_signal = true;
  p.conf_upstream = u;
  p.conf_target_lsn = 0;
  p.upstream = 0;
  p.read_only = false;
  p.slots.clear();
  pg_set_sync_names(n, "");
  p.epoch++;
  TR(who_node(n).c_str(), "{} from node{} (tli {}, lsn {:X})", how, u, p.tli,
     p.log.empty() ? 0 : p.log.back().lsn);
}

/* A reload of primary_conninfo (PG ≥ 13): the WAL receiver restarts towards the new upstream. */
void World::pg_set_upstream(int n, int u) {
  Pg& p = pg(n);
  if (p.upstream == u) return;
  p.upstream = u;
  if (p.streaming) TR(who_node(n).c_str(), "wal receiver stopped (primary_conninfo changed)");
  p.streaming = false;
}

/* pg_stat_replication's best sync_state among the standbys that replied within 200 ms. */
std::string World::pg_sync_state(int n) const {
  const Pg& p = pg(n);
  if (!p.primary || !p.running) return "";
  std::string best;
  for (int m = 1; m <= n_; ++m) {
    if (m == n || p.reply_at[static_cast<std::size_t>(m)] < 0) continue;
    if (now_ - p.reply_at[static_cast<std::size_t>(m)] > 200 * kMs) continue;
    const bool member =
        std::find(p.sync_members.begin(), p.sync_members.end(), m) != p.sync_members.end();
    if (member)
      best = "quorum";
    else if (best.empty())
      best = "async";
  }
  return best;
}

void World::pg_set_sync_names(int n, const std::string& names) {
  Pg& p = pg(n);
  p.sync_names = names;
  p.sync_k = 0;
  p.sync_members.clear();
  /* 'ANY k (pgautofailover_standby_2, pgautofailover_standby_3)' */
  const auto any = names.find("ANY ");
  if (any != std::string::npos) {
    std::size_t i = any + 4;
    while (i < names.size() && names[i] >= '0' && names[i] <= '9')
      p.sync_k = p.sync_k * 10 + (names[i++] - '0');
    const std::string tag = "pgautofailover_standby_";
    std::size_t pos = i;
    while ((pos = names.find(tag, pos)) != std::string::npos) {
      pos += tag.size();
      int id = 0;
      while (pos < names.size() && names[pos] >= '0' && names[pos] <= '9')
        id = id * 10 + (names[pos++] - '0');
      p.sync_members.push_back(id);
    }
  } else if (!names.empty()) {
    violate("model", fmt::format("node{}: unparsed synchronous_standby_names '{}'", n, names));
  }
  TR(who_node(n).c_str(), "synchronous_standby_names = '{}'", names);
}

/* Acknowledge waiters whose WAL position k members flushed; with cancel (DisableSyncRep: the
 * backends waiting in SyncRep are cancelled and their commits return success with a WARNING)
 * every waiter is acknowledged as async. */
void World::pg_process_waiters(int n, bool cancel) {
  Pg& p = pg(n);
  if (p.waiters.empty() || !host_up_[static_cast<std::size_t>(n)] || !p.running || !p.primary)
    return;
  if (!writable(n)) {
    const Agent& a = agents_[static_cast<std::size_t>(n)];
    if (a.alive && !a.frozen && !a.unfenced) {
      /* The agent's fence terminated the client backends: never acknowledged. */
      TR(who_node(n).c_str(), "fence: {} commits waiting for sync rep terminated",
         p.waiters.size());
      p.waiters.clear();
      return;
    }
    /* No fence process: the waiting backends stay, and a commit whose record was written
     * before the deadline is still acknowledged when its standbys confirm (pgaf_fence checks
     * before the commit record, not after). */
  }
  std::vector<Waiter> keep;
  for (const Waiter& w : p.waiters) {
    if (cancel || p.sync_k == 0) {
      ack(n, w.commit_id, false);
      continue;
    }
    int confirmed = 0;
    for (int m : p.sync_members)
      if (m >= 1 && m <= n_ && p.reply_at[static_cast<std::size_t>(m)] >= 0 &&
          p.flushed[static_cast<std::size_t>(m)] >= w.pos)
        confirmed++;
    if (confirmed >= p.sync_k)
      ack(n, w.commit_id, true);
    else
      keep.push_back(w);
  }
  p.waiters.swap(keep);
}

bool World::claims_writable(int n) const {
  const Pg& p = pg(n);
  return host_up_[static_cast<std::size_t>(n)] && p.running && p.primary && !p.read_only;
}

bool World::writable(int n) const {
  if (!claims_writable(n)) return false;
  const Agent& a = agents_[static_cast<std::size_t>(n)];
  if (s_.broken == Broken::AgentIgnoresLease) return a.granted_ever;
  if (a.unfenced) return true;
  /* the real FenceGuard's lease (pushed to pgaf_fence while armed) */
  return a.io && a.io->guard.may_write();
}

/* Could a commit sent now be acknowledged without anything else changing: writable, and either
 * asynchronous or k of the named standbys are streaming from this node. */
bool World::can_ack(int n) const {
  if (!writable(n)) return false;
  const Pg& p = pg(n);
  if (p.sync_k == 0) return true;
  int streaming = 0;
  for (int m : p.sync_members) {
    if (m < 1 || m > n_ || m == n) continue;
    const Pg& q = pg(m);
    if (q.running && !q.primary && q.upstream == n && q.streaming && is_prefix(q.log, p.log))
      streaming++;
  }
  return streaming >= p.sync_k;
}

bool World::is_prefix(const std::vector<Rec>& a, const std::vector<Rec>& b) {
  if (a.size() > b.size()) return false;
  if (a.empty()) return true;
  return b[a.size() - 1].id == a.back().id;
}

void World::repl_tick(int n) {
  Pg& p = pg(n);
  const int u = p.upstream;
  bool ok = host_up_[static_cast<std::size_t>(n)] && p.running && !p.primary && u > 0 && u != n;
  if (ok) {
    Pg& up = pg(u);
    ok = up.running && pair_ok(n, u) && is_prefix(p.log, up.log) && up.tli >= p.tli;
    const auto E = static_cast<std::size_t>(n_ + 1);
    const int loss = loss_[static_cast<std::size_t>(n) * E + static_cast<std::size_t>(u)];
    if (ok && loss > 0 && rng_.chance(loss)) ok = false;
    if (ok) {
      std::size_t upto = up.log.size();
      if (p.target_lsn != 0) { /* recovery_target_lsn: replay stops there */
        upto = std::min(upto, p.log.size());
        while (upto < up.log.size() && up.log[upto].lsn <= p.target_lsn) upto++;
      }
      if (s_.broken == Broken::StandbyAcksEarly && upto > p.log.size())
        upto--; /* lag one record... */
      for (std::size_t i = p.log.size(); i < upto; ++i) p.log.push_back(up.log[i]);
      if (up.tli != p.tli) pg_set_tli(n, up.tli, "follow upstream timeline");
      if (!p.streaming) TR(who_node(n).c_str(), "streaming from node{}", u);
      p.streaming = true;
      up.reply_at[static_cast<std::size_t>(n)] = now_;
      up.flushed[static_cast<std::size_t>(n)] = s_.broken == Broken::StandbyAcksEarly
                                                    ? up.log.size()
                                                    : p.log.size(); /* ...but confirm it */
      if (up.primary) pg_process_waiters(u, false);
      return;
    }
  }
  if (p.streaming) TR(who_node(n).c_str(), "replication from node{} stopped", u);
  p.streaming = false;
}

/* ---------------------------------------------------------------- client */

void World::client_tick() {
  for (int n = 1; n <= n_; ++n)
    if (claims_writable(n)) submit_commit(n);
  push(Ev{now_ + rng_.range(25, 55) * kMs, 0, EvKind::ClientTick, 0, 0, 0, 0, 0});
}

void World::submit_commit(int n) {
  if (!writable(n)) return; /* refused: fenced */
  Pg& p = pg(n);
  const std::uint64_t id = next_id_++;
  pg_append(n, id, true, kCommitBytes);
  if (p.sync_k == 0) {
    ack(n, id, false);
  } else {
    p.waiters.push_back(Waiter{id, p.log.size()});
    pg_process_waiters(n, false);
  }
}

void World::ack(int n, std::uint64_t commit_id, bool sync) {
  const Pg& p = pg(n);
  for (int m = 1; m <= n_; ++m)
    if (m != n && can_ack(m))
      violate("split_brain",
              fmt::format("node{} acknowledged commit {} while node{} can acknowledge commits", n,
                          commit_id, m));
  acks_.push_back(Ack{commit_id, n, now_, p.tli, sync});
  if (formed_at_ >= 0) {
    const SimTime since = std::max(formed_at_, last_ack_at_);
    res_.max_ack_gap_ms = std::max<std::int64_t>(res_.max_ack_gap_ms, (now_ - since) / kMs);
  }
  last_ack_at_ = now_;
  res_.acked++;
  if (sync) res_.acked_sync++;
  if (last_writer_ != n) {
    TR(who_node(n).c_str(), "first acknowledged commit here (tli {}, {})", p.tli,
       sync ? "sync" : "async");
    last_writer_ = n;
  }
  if (p.tli < last_ack_tli_)
    violate(
        "timeline",
        fmt::format("node{} acknowledged commit {} on timeline {} after a commit on timeline {}", n,
                    commit_id, p.tli, last_ack_tli_));
  last_ack_tli_ = std::max(last_ack_tli_, p.tli);
  if (rto_from_ >= 0 && !res_.rto_ms && n != rto_node_) {
    res_.rto_ms = (now_ - rto_from_) / kMs;
    TR("CHECK", "RTO {} ms (primary node{} lost → first ack on node{})", *res_.rto_ms, rto_node_,
       n);
  }
}

/* ---------------------------------------------------------------- agent */

/* The agent is pg_autoctl's keeper process: its registration (pg_autoctl create, modelled here),
 * then the REAL node-active loop, pgaf::agent::Keeper::run(), on the agent's fiber with the
 * simulated interfaces of sim_io.hpp. The loop suspends in four places only: a sleep
 * (SimClock::sleep_ms), a node_active call (a message to the monitor and back over the simulated
 * network, or a timeout), a LISTEN wait (a notification or a timeout), and the simulated duration
 * of each keeper step (the step observer). Each resumes on an AgentStep event or a message. */

void World::agent_schedule_loop(int n, TimeMs d_ms) {
  Agent& a = agent(n);
  a.loop_token++;
  push(Ev{after_local(n, now_, d_ms), 0, EvKind::AgentLoop, n, a.epoch, a.loop_token, 0, 0});
}

/* AgentLoop: register (until the monitor answers), then start the keeper's loop. */
void World::agent_loop(int n) {
  Agent& a = agent(n);
  if (!a.alive || a.call_outstanding) return;
  if (a.registered) {
    agent_start_keeper(n);
    return;
  }
  const TimeMs now = clocks_[static_cast<std::size_t>(n)].local_ms(now_);
  a.call_id++;
  a.call_outstanding = true;
  a.call_t_send = now;
  send(n, kMonitor, Ev{0, 0, EvKind::ToMonitor, n, 0, MsgRegister, 0, a.call_id});
  push(Ev{after_local(n, now_, s_.settings.monitor_call_timeout_ms), 0, EvKind::AgentCallTimeout, n,
          a.epoch, a.call_id, 0, 0});
}

void World::agent_start_keeper(int n) {
  Agent& a = agent(n);
  AgentIo& io = *a.io;
  if (io.started) return;
  io.started = true;
  TR(who_node(n).c_str(), "keeper loop starts (current {}, assigned {})", to_string(a.current),
     to_string(a.assigned));
  {
    LogNode ln(n);
    io.fiber.start([&io] { (void)io.keeper.run(io.stop); });
  }
  agent_after_switch(n);
}

/* Called on the fiber: suspend until the AgentStep event with our token (or a message the wait
 * kind accepts) resumes us. */
void World::agent_wait(int n, AgentWait kind, TimeMs ms) {
  Agent& a = agent(n);
  AgentIo& io = *a.io;
  if (!io.fiber.inside()) return; /* not on the keeper's fiber: nothing can wait */
  io.wait = kind;
  io.token++;
  push(Ev{after_local(n, now_, ms), 0, EvKind::AgentStep, n, a.epoch, io.token, 0, 0});
  io.fiber.yield(); /* throws StepFiber::Killed if the process dies meanwhile */
  io.wait = AgentWait::None;
}

void World::agent_resume(int n) {
  Agent& a = agent(n);
  if (!a.io || !a.io->fiber.suspended()) return;
  {
    LogNode ln(n);
    a.io->fiber.resume();
  }
  agent_after_switch(n);
}

/* Back on the event loop after the keeper ran: mirror its state for the checks. */
void World::agent_after_switch(int n) {
  Agent& a = agent(n);
  if (!a.io) return;
  const agent::KeeperState& st = a.io->keeper.state();
  if (st.assigned_role != a.assigned)
    TR(who_node(n).c_str(), "assigned {} (current {})", to_string(st.assigned_role),
       to_string(st.current_role));
  a.assigned = st.assigned_role;
  if (st.current_role != a.current) {
    TR(who_node(n).c_str(), "transition complete: current state is now {}",
       to_string(st.current_role));
    a.current = st.current_role;
  }
  a.busy = a.current != a.assigned;
  if (!a.io->fiber.suspended() && a.io->started && !stop_) {
    TR(who_node(n).c_str(), "keeper loop ended (node dropped)");
    a.alive = false;
  }
}

/* SimMonitor::node_active: the report travels to the monitor; the fiber waits for the answer or
 * monitor_call_timeout_ms. */
Result<agent::NodeAssignment> World::agent_node_active(int n, const agent::NodeActiveArgs& args) {
  Agent& a = agent(n);
  AgentIo& io = *a.io;
  NodeActiveEvent ev;
  ev.node_id = n;
  set_report_seq(ev, args.report_seq);
  ev.reported_state = args.current;
  ev.pg_is_running = args.pg_is_running;
  ev.tli = args.tli;
  ev.lsn = args.lsn;
  ev.sync_state = args.sync_state;
  ev.stale_standbys = args.stale_standbys; /* one-way partitions: the primary's verdict */
  reports_.push_back(ev);
  a.call_id++;
  a.call_outstanding = true;
  a.call_t_send = clocks_[static_cast<std::size_t>(n)].local_ms(now_);
  io.call_done = false;
  send(n, kMonitor,
       Ev{0, 0, EvKind::ToMonitor, n, 0, MsgNodeActive,
          static_cast<std::int64_t>(reports_.size() - 1), a.call_id});
  agent_wait(n, AgentWait::Call, s_.settings.monitor_call_timeout_ms);
  a.call_outstanding = false;
  if (!io.call_done) {
    TR(who_node(n).c_str(), "monitor call timed out");
    return make_error(ErrorCode::Timeout, "the monitor did not answer in time");
  }
  if (!io.call_ok) return make_error(ErrorCode::Monitor, "node_active failed on the monitor");
  agent::NodeAssignment r;
  r.node_id = n;
  r.group_id = 0;
  r.goal = io.call_goal;
  return r;
}

/* SimMonitor::wait_for_state_change: LISTEN; a notification that arrived while the keeper was
 * busy is still queued on the connection. */
Result<bool> World::agent_listen(int n, TimeMs ms) {
  AgentIo& io = *agent(n).io;
  if (io.notify_pending) {
    io.notify_pending = false;
    return true;
  }
  if (!host_up_[0] || !pair_ok(n, kMonitor))
    return make_error(ErrorCode::Monitor, "LISTEN connection failed");
  io.notified = false;
  agent_wait(n, AgentWait::Listen, ms);
  return io.notified;
}

/* A reply from the monitor (registration or node_active). */
void World::agent_on_reply(int n, std::int64_t call_id, bool ok, NodeState goal) {
  Agent& a = agent(n);
  if (!a.alive || !a.call_outstanding || call_id != a.call_id) return; /* late or stale */
  if (ok) {
    a.unfenced = false; /* the agent manages Postgres again (arms its fence or leaves the role) */
    a.granted_ever = can_take_writes_in_state(goal);
  }
  if (!a.registered) {
    a.call_outstanding = false;
    if (!ok) {
      agent_schedule_loop(n, s_.settings.node_active_interval_ms);
      return;
    }
    a.registered = true;
    a.assigned = goal;
    a.file_assigned = goal;
    agent_new_process(n); /* pg_autoctl create hands over to the keeper with the assigned goal */
    agent_start_keeper(n);
    return;
  }
  AgentIo& io = *a.io;
  if (io.wait != AgentWait::Call) return;
  io.call_done = true;
  io.call_ok = ok;
  io.call_goal = goal;
  agent_resume(n);
}

/* The agent's fence thread: the REAL FenceGuard::tick every 50 ms (service.cpp's loop) — it samples
 * the standbys' replies for the vouch and fences Postgres when the lease ran out while armed.
 * writable() also consults the guard's lease at every instant, i.e. the fence's reaction time is
 * idealised to zero (the real thread reacts within its period plus the time to stop Postgres,
 * which fence_guard_ms covers) — as pgaf_fence enforces the deadline inside Postgres. */
void World::agent_fence_tick(int n) {
  Agent& a = agent(n);
  if (a.io) {
    LogNode ln(n);
    (void)a.io->guard.tick();
  }
  push(Ev{after_local(n, now_, 50), 0, EvKind::FenceTick, n, a.epoch, 0, 0, 0});
}

/* The fence thread stops (agent crash or pause). */
void World::agent_lost_fence(int n) {
  Agent& a = agent(n);
  if (opt_.fence_dies_with_agent && writable(n)) {
    a.unfenced = true;
    TR(who_node(n).c_str(), "fence thread gone while postgres is writable: it stays writable");
  }
}

/* The simulated duration of a keeper step: it passes before the step acts (the step observer). */
TimeMs World::step_duration(KeeperStep st) {
  switch (st) {
    case KeeperStep::InitPrimary:
      return rng_.range(200, 500);
    case KeeperStep::InitFromStandby:
    case KeeperStep::InitStandby:
      return rng_.range(300, 900);
    case KeeperStep::RewindOrBaseBackup:
      return rng_.range(200, 800);
    case KeeperStep::StartPostgres:
    case KeeperStep::FollowPrimary:
    case KeeperStep::RestartWithoutUpstream:
      return rng_.range(100, 300);
    case KeeperStep::Promote:
      return rng_.range(50, 250);
    case KeeperStep::StopPostgres:
    case KeeperStep::CheckpointAndStop:
    case KeeperStep::StopForMaintenance:
    case KeeperStep::DropNode:
      return rng_.range(30, 150);
    default:
      return rng_.range(2, 20);
  }
}

/* A new agent process: a fresh Keeper and FenceGuard; only the state file survives (current and
 * assigned roles, report numbering). */
void World::agent_new_process(int n) {
  Agent& a = agent(n);
  a.io.reset();
  agent::KeeperState st;
  st.node_id = n;
  st.group_id = 0;
  st.current_role = a.file_current;
  st.assigned_role = a.file_assigned;
  st.last_report_seq = a.file_report_seq;
  a.current = a.file_current;
  a.assigned = a.file_assigned;
  a.io = std::make_shared<AgentIo>(*this, n, s_.settings, st,
                                   [this, n](const agent::KeeperState& saved) {
                                     Agent& ag = agent(n);
                                     ag.file_current = saved.current_role;
                                     ag.file_assigned = saved.assigned_role;
                                     ag.file_report_seq = saved.last_report_seq;
                                     return Status::Ok();
                                   });
  if (s_.broken == Broken::AgentIgnoresLease)
    a.io->guard.disable_fencing_for_tests(); /* never fences (PGAF_TEST_DISABLE_FENCING) */
  a.io->keeper.set_step_observer([this, n](KeeperStep step) {
    TR(who_node(n).c_str(), "step {}", to_string(step));
    agent_wait(n, AgentWait::Sleep, step_duration(step));
  });
}

void World::agent_crash(int n) {
  Agent& a = agent(n);
  if (a.alive && !a.frozen) agent_lost_fence(n);
  a.alive = false;
  a.epoch++;
  a.busy = false;
  a.call_outstanding = false;
  if (a.io) a.io->fiber.kill(); /* the process is gone, mid-step or not */
  /* The lease stays as it was: its deadline is enforced without the agent (see docs/simulator.md);
   * it can no longer be renewed. */
  TR(who_node(n).c_str(), "agent down");
}

void World::agent_restart(int n) {
  Agent& a = agent(n);
  if (!host_up_[static_cast<std::size_t>(n)]) return;
  a.alive = true;
  a.frozen = false;
  a.epoch++;
  a.busy = false;
  a.call_outstanding = false;
  agent_new_process(n);
  a.granted_ever = false; /* a fresh process knows no lease (a new FenceGuard) */
  TR(who_node(n).c_str(), "agent started (state file: current {}, assigned {})",
     to_string(a.file_current), to_string(a.file_assigned));
  agent_schedule_loop(n, 50);
  push(Ev{after_local(n, now_, 50), 0, EvKind::FenceTick, n, a.epoch, 0, 0, 0});
}

/* ---------------------------------------------------------------- monitor */

bool World::mon_apply(const Event& ev, std::string* err) {
  const TimeMs now = mon_now();
  Result<Decision> r = decide(g_, ev, mon_settings_, now);
  if (!r.ok()) {
    if (err) *err = r.error().message;
    TR("monitor", "{}: error: {}", event_name(ev), r.error().message);
    return false;
  }
  Decision& d = r.value();
  if (is_stale_report(d)) TR("monitor", "{}: stale report ignored", event_name(ev));
  for (const Message& m : d.messages)
    if (m.level != MessageLevel::Log || tracing()) TR("monitor", "{}", m.text);
  for (const GoalAssignment& asg : d.assignments) {
    const Node* node = d.after.find(asg.node_id);
    TR("monitor", "goal node{} {} → {} ({})", asg.node_id, to_string(asg.from), to_string(asg.goal),
       asg.description);
    if (node && node->reported_state != asg.goal && asg.goal != NodeState::Dropped &&
        !find_keeper_transition(node->reported_state, asg.goal)) {
      violate("no_edge",
              fmt::format("monitor assigned node{} goal {} while it reports {}: no keeper edge",
                          asg.node_id, to_string(asg.goal), to_string(node->reported_state)));
    }
    const int target = static_cast<int>(asg.node_id);
    if (target >= 1 && target <= n_)
      send(kMonitor, target, Ev{0, 0, EvKind::ToAgent, target, 0, MsgNotify, 0, 0});
  }
  g_ = std::move(d.after);
  if (count_writable_goals(g_) > 1) violate("split_brain", "monitor assigned two writable goals");
  return true;
}

void World::mon_on_message(const Ev& e) {
  if (!host_up_[0]) return;
  const int n = e.node;
  std::string err;
  bool ok = false;
  NodeState goal = NodeState::Init;
  if (e.a == MsgRegister) {
    if (const Node* x = g_.find(n)) {
      ok = true; /* our earlier registration went through; the reply was lost */
      goal = x->goal_state;
    } else {
      RegisterEvent rev;
      rev.node.id = n;
      rev.node.group_id = 0;
      rev.node.name = fmt::format("node_{}", n);
      rev.node.host = fmt::format("10.0.0.{}", n);
      rev.node.port = 5432;
      rev.node.candidate_priority = s_.candidate_priority[static_cast<std::size_t>(n - 1)];
      rev.node.replication_quorum = s_.replication_quorum[static_cast<std::size_t>(n - 1)];
      rev.initial_state = NodeState::Init;
      ok = mon_apply(rev, &err);
      if (ok) {
        if (const Node* y = g_.find(n))
          goal = y->goal_state;
        else
          ok = false;
      }
    }
  } else {
    const NodeActiveEvent& rep = reports_[static_cast<std::size_t>(e.b)];
    if (tracing()) {
      const Node* x = g_.find(n);
      if (!x || x->reported_state != rep.reported_state)
        TR("monitor", "node{} reports {} (running {}, tli {}, lsn {:X})", n,
           to_string(rep.reported_state), rep.pg_is_running, rep.tli, rep.lsn);
    }
    ok = g_.find(n) != nullptr && mon_apply(rep, &err);
    if (ok) {
      if (const Node* y = g_.find(n))
        goal = y->goal_state;
      else
        ok = false;
    }
  }
  if (stop_) return;
  send(kMonitor, n,
       Ev{0, 0, EvKind::ToAgent, n, 0, ok ? MsgReply : MsgError, static_cast<std::int64_t>(goal),
          e.c});
}

void World::mon_health_round() {
  mon_apply(TickEvent{}, nullptr);
  for (const Node& x : g_.nodes) {
    const auto i = static_cast<std::size_t>(x.id);
    if (x.id < 1 || x.id > n_ || hc_active_[i]) continue;
    hc_active_[i] = true;
    hc_tries_[i] = 0;
    mon_health_attempt(static_cast<int>(x.id));
  }
  push(Ev{after_local(kMonitor, now_, s_.settings.health_check_period_ms), 0, EvKind::HealthRound,
          0, mon_epoch_, 0, 0, 0});
}

void World::mon_health_attempt(int n) {
  /* A connection needs both directions, the host, and a running Postgres. */
  const bool ok = pair_ok(kMonitor, n) && pg(n).running;
  const auto E = static_cast<std::size_t>(n_ + 1);
  const int loss = loss_[static_cast<std::size_t>(n) * E] + loss_[static_cast<std::size_t>(n)];
  const bool delivered = ok && !(loss > 0 && rng_.chance(std::min(loss, 100)));
  SimTime at;
  if (delivered) {
    at = now_ + link_delay(kMonitor, n) + link_delay(n, kMonitor);
    if (at - now_ >= s_.settings.health_check_timeout_ms * kMs) {
      at = after_local(kMonitor, now_, s_.settings.health_check_timeout_ms);
      push(Ev{at, 0, EvKind::HealthResult, n, mon_epoch_, 0, 0, 0});
      return;
    }
  } else {
    at = after_local(kMonitor, now_, s_.settings.health_check_timeout_ms);
  }
  push(Ev{at, 0, EvKind::HealthResult, n, mon_epoch_, delivered ? 1 : 0, 0, 0});
}

void World::mon_health_result(int n, bool ok) {
  const auto i = static_cast<std::size_t>(n);
  if (!g_.find(n)) {
    hc_active_[i] = false;
    return;
  }
  if (ok) {
    hc_active_[i] = false;
    mon_apply(HealthCheckEvent{n, Health::Good}, nullptr);
    return;
  }
  hc_tries_[i]++;
  if (hc_tries_[i] > s_.settings.health_check_max_retries) {
    hc_active_[i] = false;
    const Node* x = g_.find(n);
    if (x && x->health != Health::Bad)
      TR("monitor", "health check of node{} failed {} times: bad", n, hc_tries_[i]);
    mon_apply(HealthCheckEvent{n, Health::Bad}, nullptr);
    return;
  }
  push(Ev{after_local(kMonitor, now_, s_.settings.health_check_retry_delay_ms), 0,
          EvKind::HealthAttempt, n, mon_epoch_, 0, 0, 0});
}

void World::mon_crash() {
  host_up_[0] = false;
  mon_epoch_++;
  TR("monitor", "monitor down");
}

void World::mon_restart() {
  host_up_[0] = true;
  mon_epoch_++;
  std::fill(hc_active_.begin(), hc_active_.end(), false);
  std::fill(hc_tries_.begin(), hc_tries_.end(), 0);
  g_.monitor_start_ms = mon_now();
  TR("monitor", "monitor restarted (durable state kept, health checks reset)");
  push(Ev{after_local(kMonitor, now_, 100), 0, EvKind::HealthRound, 0, mon_epoch_, 0, 0, 0});
}

/* ---------------------------------------------------------------- hosts and faults */

void World::host_crash(int n) {
  pg_stop(n, false);
  agent_crash(n);
  host_up_[static_cast<std::size_t>(n)] = false;
  TR(who_node(n).c_str(), "host down");
}

void World::host_boot(int n) {
  host_up_[static_cast<std::size_t>(n)] = true;
  TR(who_node(n).c_str(), "host up");
  agent_restart(n);
}

int World::current_primary() const {
  for (const Node& x : g_.nodes)
    if (can_take_writes_in_state(x.goal_state)) return static_cast<int>(x.id);
  for (int n = 1; n <= n_; ++n)
    if (pg(n).running && pg(n).primary) return n;
  return 1;
}

int World::resolve_target(int t, int aux) const {
  if (t >= 0) return t;
  const int p = current_primary();
  if (t == kTargetPrimary) return p;
  std::vector<int> others;
  for (int n = 1; n <= n_; ++n)
    if (n != p) others.push_back(n);
  if (others.empty()) return -100;
  return others[static_cast<std::size_t>(aux) % others.size()];
}

void World::fault_start(std::size_t i) {
  ActiveFault& af = faults_[i];
  af.a = resolve_target(af.f.a, af.f.aux);
  af.b = resolve_target(af.f.b, af.f.aux + 1);
  if (af.a < 0 || af.b < 0 ||
      (af.a == af.b && (af.f.kind == FaultKind::Partition ||
                        af.f.kind == FaultKind::PartitionOneWay || af.f.kind == FaultKind::Lossy ||
                        af.f.kind == FaultKind::Slow || af.f.kind == FaultKind::Duplicate))) {
    TR("FAULT", "skipped (no such target): {}", describe(af.f));
    if (--faults_open_ == 0 && heal_at_ < 0) heal_at_ = now_;
    return;
  }
  af.active = true;
  TR("FAULT", "start: {} [a=node{} b={}]", describe(af.f), af.a,
     af.b == 0 ? std::string("monitor") : who_node(af.b));
  switch (af.f.kind) {
    case FaultKind::CrashPostgres:
      pg(af.a).blocked_until = now_ + af.f.duration_ms * kMs;
      /* two crashes in three are a long crash recovery (a postmaster is alive, restarting), one
       * a Postgres that cannot start; derived from the duration so that the generator's draws,
       * and with them every seed's schedule, stay as they were */
      pg_stop(af.a, false);
      pg(af.a).recovering = af.f.duration_ms % 3 != 0;
      break;
    case FaultKind::CrashAgent:
      agent_crash(af.a);
      break;
    case FaultKind::FreezeAgent:
      if (agent(af.a).alive && !agent(af.a).frozen) agent_lost_fence(af.a);
      agent(af.a).frozen = true;
      agent(af.a).frozen_until = now_ + af.f.duration_ms * kMs;
      break;
    case FaultKind::CrashHost:
      if (s_.primary_lost && rto_from_ < 0) {
        rto_from_ = now_;
        rto_node_ = af.a;
      }
      host_crash(af.a);
      break;
    case FaultKind::CrashMonitor:
      mon_crash();
      break;
    case FaultKind::Switchover:
      if (host_up_[0]) mon_apply(PerformFailoverEvent{}, nullptr);
      break;
    case FaultKind::Promote:
      if (host_up_[0]) mon_apply(PerformPromotionEvent{af.a}, nullptr);
      break;
    case FaultKind::Maintenance:
      if (host_up_[0]) mon_apply(StartMaintenanceEvent{af.a}, nullptr);
      break;
    case FaultKind::SetPriority:
      if (host_up_[0]) mon_apply(SetCandidatePriorityEvent{af.a, af.f.value}, nullptr);
      break;
    case FaultKind::SetSyncStandbys:
      if (host_up_[0]) mon_apply(SetNumberSyncStandbysEvent{af.f.value}, nullptr);
      break;
    default:
      recompute_links();
      break;
  }
  push(Ev{now_ + af.f.duration_ms * kMs, 0, EvKind::FaultEnd, 0, 0, static_cast<std::int64_t>(i), 0,
          0});
}

void World::fault_end(std::size_t i) {
  ActiveFault& af = faults_[i];
  if (!af.active) return;
  af.active = false;
  faults_open_--;
  TR("FAULT", "end: {}", describe(af.f));
  switch (af.f.kind) {
    case FaultKind::CrashAgent:
      if (!agent(af.a).alive) agent_restart(af.a);
      break;
    case FaultKind::FreezeAgent:
      agent(af.a).frozen = false;
      agent(af.a).unfenced = false; /* the fence thread runs again */
      break;
    case FaultKind::CrashHost:
      if (!host_up_[static_cast<std::size_t>(af.a)]) host_boot(af.a);
      break;
    case FaultKind::CrashMonitor:
      if (!host_up_[0]) mon_restart();
      break;
    case FaultKind::Switchover:
    case FaultKind::Promote:
      break;
    case FaultKind::SetPriority:
    case FaultKind::SetSyncStandbys: {
      /* The operator restores the setting, retrying while the monitor refuses (e.g. while the
       * primary is in apply_settings). */
      bool done = false;
      if (host_up_[0]) {
        if (af.f.kind == FaultKind::SetPriority) {
          const Node* x = g_.find(af.a);
          const int want = s_.candidate_priority[static_cast<std::size_t>(af.a - 1)];
          done = !x || x->candidate_priority == want ||
                 mon_apply(SetCandidatePriorityEvent{af.a, want}, nullptr);
        } else {
          done = g_.formation.number_sync_standbys == s_.number_sync_standbys ||
                 mon_apply(SetNumberSyncStandbysEvent{s_.number_sync_standbys}, nullptr);
        }
      }
      if (!done && af.retries++ < 20) {
        af.active = true;
        faults_open_++;
        push(Ev{now_ + 500 * kMs, 0, EvKind::FaultEnd, 0, 0, static_cast<std::int64_t>(i), 0, 0});
      }
      break;
    }
    case FaultKind::Maintenance:
      /* The operator retries stop_maintenance until it is accepted (bounded by the run). */
      if (!host_up_[0] || !mon_apply(StopMaintenanceEvent{af.a}, nullptr)) {
        const Node* x = g_.find(af.a);
        if (x && is_maintenance_goal(x->goal_state) && af.retries++ < 20) {
          af.active = true;
          faults_open_++;
          push(Ev{now_ + 500 * kMs, 0, EvKind::FaultEnd, 0, 0, static_cast<std::int64_t>(i), 0, 0});
        }
      }
      break;
    default:
      recompute_links();
      break;
  }
  if (faults_open_ == 0 && heal_at_ < 0) {
    heal_at_ = now_;
    TR("CHECK", "all faults healed; convergence bound {} ms", opt_.limits.converge_ms);
  }
}

/* ---------------------------------------------------------------- checks */

bool World::converged(std::string* why) const {
  auto fail = [&](std::string w) {
    if (why) *why = std::move(w);
    return false;
  };
  if (!host_up_[0]) return fail("monitor down");
  int primary = 0;
  for (int n = 1; n <= n_; ++n) {
    const Node* x = g_.find(n);
    const Agent& a = agents_[static_cast<std::size_t>(n)];
    if (!x) return fail(fmt::format("node{} not registered", n));
    if (!host_up_[static_cast<std::size_t>(n)] || !a.alive)
      return fail(fmt::format("node{} down", n));
    if (a.busy || a.current != a.assigned) return fail(fmt::format("node{} in transition", n));
    if (x->reported_state != x->goal_state)
      return fail(fmt::format("node{} reported {} goal {}", n, to_string(x->reported_state),
                              to_string(x->goal_state)));
    const NodeState s = x->goal_state;
    const bool want_primary = n_ == 1 ? s == NodeState::Single : s == NodeState::Primary;
    if (can_take_writes_in_state(s)) {
      if (!want_primary) return fail(fmt::format("node{} is {}", n, to_string(s)));
      if (primary) return fail("two primaries");
      primary = n;
    } else if (s != NodeState::Secondary) {
      return fail(fmt::format("node{} is {}", n, to_string(s)));
    }
  }
  if (!primary) return fail("no primary");
  if (!claims_writable(primary)) return fail(fmt::format("node{} postgres not writable", primary));
  for (int n = 1; n <= n_; ++n) {
    if (n == primary) continue;
    const Pg& p = pg(n);
    if (!p.running || p.primary || p.upstream != primary || !p.streaming)
      return fail(fmt::format("node{} not streaming from node{}", n, primary));
  }
  return true;
}

void World::check_invariants() {
  /* split_brain: two nodes could acknowledge a commit now (the invariant). two_writable:
   * two nodes accept writes now, even if one of them would block in SyncRep (the lab's "never two
   * writable primaries": such writes are visible to readers and are acknowledged as soon as sync
   * rep is disabled). */
  int first_ack = 0, first_writable = 0;
  for (int n = 1; n <= n_; ++n) {
    if (can_ack(n)) {
      if (first_ack) {
        violate("split_brain",
                fmt::format("node{} and node{} can both acknowledge commits", first_ack, n));
        return;
      }
      first_ack = n;
    }
  }
  for (int n = 1; n <= n_; ++n) {
    if (writable(n)) {
      if (first_writable) {
        violate("two_writable",
                fmt::format("node{} and node{} both accept writes (running primary, not read-only, "
                            "not fenced)",
                            first_writable, n));
        return;
      }
      first_writable = n;
    }
  }
  const SimTime t_ms = now_ / kMs;
  if (formed_at_ < 0) {
    if (converged(nullptr)) {
      formed_at_ = now_;
      TR("CHECK", "formation formed; faults start");
      faults_open_ = static_cast<int>(faults_.size());
      for (std::size_t i = 0; i < faults_.size(); ++i)
        push(Ev{now_ + faults_[i].f.start_ms * kMs, 0, EvKind::FaultStart, 0, 0,
                static_cast<std::int64_t>(i), 0, 0});
      if (faults_.empty()) heal_at_ = now_;
    } else if (t_ms > opt_.limits.bootstrap_ms) {
      std::string why;
      converged(&why);
      violate("convergence", fmt::format("formation did not form within {} ms: {}",
                                         opt_.limits.bootstrap_ms, why));
    }
    return;
  }
  if (heal_at_ >= 0 && converged_at_ < 0) {
    if (converged(nullptr)) {
      converged_at_ = now_;
      TR("CHECK", "converged {} ms after the last fault healed", (now_ - heal_at_) / kMs);
      push(Ev{now_ + opt_.limits.settle_ms * kMs, 0, EvKind::End, 0, 0, 0, 0, 0});
    } else if (now_ - heal_at_ > opt_.limits.converge_ms * kMs) {
      std::string why;
      converged(&why);
      violate("convergence", fmt::format("no convergence {} ms after the faults healed: {}",
                                         opt_.limits.converge_ms, why));
    }
  }
}

void World::final_checks() {
  if (res_.violation) return;
  int primary = 0;
  for (int n = 1; n <= n_; ++n)
    if (claims_writable(n)) primary = n;
  if (!primary) return;
  std::unordered_set<std::uint64_t> have;
  for (const Rec& r : pg(primary).log)
    if (r.commit) have.insert(r.id);
  for (const Ack& a : acks_) {
    if (have.count(a.commit_id)) continue;
    if (a.sync) {
      violate(
          "sync_loss",
          fmt::format("commit {} acknowledged by node{} at {} after sync replication is missing "
                      "from the final primary node{}",
                      a.commit_id, a.node, fmt_time(a.at), primary));
      return;
    }
    res_.lost_async++;
  }
  if (s_.primary_lost) {
    if (!res_.rto_ms)
      violate("rto", "no commit acknowledged by a new primary while the primary host was lost");
    else if (*res_.rto_ms > opt_.limits.rto_violation_ms)
      violate("rto", fmt::format("RTO {} ms > {} ms", *res_.rto_ms, opt_.limits.rto_violation_ms));
  }
}

std::string World::state_dump() const {
  std::string out;
  for (int n = 1; n <= n_; ++n) {
    const Pg& p = pg(n);
    const Agent& a = agents_[static_cast<std::size_t>(n)];
    const Node* x = g_.find(n);
    out += fmt::format(
        "  node{}: host {} agent {} current {} assigned {} | monitor: reported {} goal {} health "
        "{} | "
        "pg {} {} tli {} lsn {:X} upstream {} streaming {} ro {} names '{}' | may_write {}\n",
        n, host_up_[static_cast<std::size_t>(n)] ? "up" : "down", a.alive ? "up" : "down",
        to_string(a.current), to_string(a.assigned), x ? to_string(x->reported_state) : "-",
        x ? to_string(x->goal_state) : "-", x ? to_string(x->health) : "-",
        p.running ? "running" : "stopped", p.primary ? "primary" : "standby", p.tli,
        p.log.empty() ? 0 : p.log.back().lsn, p.upstream, p.streaming, p.read_only, p.sync_names,
        writable(n));
  }
  return out;
}

/* ---------------------------------------------------------------- loop */

void World::dispatch(const Ev& e) {
  switch (e.kind) {
    case EvKind::AgentLoop:
    case EvKind::AgentCallTimeout:
    case EvKind::AgentStep:
    case EvKind::FenceTick:
    case EvKind::ToAgent: {
      Agent& a = agent(e.node);
      if (e.kind != EvKind::ToAgent && e.epoch != a.epoch) return;
      if (!a.alive || !host_up_[static_cast<std::size_t>(e.node)]) return;
      if (a.frozen) { /* paused process: everything waits for the resume */
        Ev later = e;
        later.at = a.frozen_until;
        push(later);
        return;
      }
      if (e.kind == EvKind::FenceTick) {
        agent_fence_tick(e.node);
      } else if (e.kind == EvKind::AgentLoop) {
        if (e.a == a.loop_token) agent_loop(e.node);
      } else if (e.kind == EvKind::AgentCallTimeout) {
        /* registration calls only (the keeper's node_active waits on its own token) */
        if (a.call_outstanding && e.a == a.call_id && !a.registered) {
          TR(who_node(e.node).c_str(), "monitor call timed out");
          a.call_outstanding = false;
          agent_schedule_loop(e.node, s_.settings.node_active_interval_ms);
        }
      } else if (e.kind == EvKind::AgentStep) {
        if (a.io && e.a == a.io->token && a.io->wait != AgentWait::None) agent_resume(e.node);
      } else if (e.a == MsgNotify) {
        if (a.registered && a.io) {
          if (a.io->wait == AgentWait::Listen) {
            a.io->notified = true;
            agent_resume(e.node);
          } else {
            a.io->notify_pending = true;
          }
        }
      } else {
        agent_on_reply(e.node, e.c, e.a == MsgReply, static_cast<NodeState>(e.b));
      }
      break;
    }
    case EvKind::ToMonitor:
      mon_on_message(e);
      break;
    case EvKind::HealthRound:
      if (e.epoch == mon_epoch_ && host_up_[0]) mon_health_round();
      break;
    case EvKind::HealthAttempt:
      if (e.epoch == mon_epoch_ && host_up_[0]) mon_health_attempt(e.node);
      break;
    case EvKind::HealthResult:
      if (e.epoch == mon_epoch_ && host_up_[0]) mon_health_result(e.node, e.a == 1);
      break;
    case EvKind::ReplTick:
      repl_tick(e.node);
      push(Ev{now_ + rng_.range(30, 70) * kMs, 0, EvKind::ReplTick, e.node, 0, 0, 0, 0});
      break;
    case EvKind::ClientTick:
      client_tick();
      break;
    case EvKind::FaultStart:
      fault_start(static_cast<std::size_t>(e.a));
      break;
    case EvKind::FaultEnd:
      fault_end(static_cast<std::size_t>(e.a));
      break;
    case EvKind::End:
      stop_ = true;
      break;
  }
}

RunResult World::run() {
  if (tracing()) {
    TR("SIM", "{}", describe(s_));
    for (int e = 0; e <= n_; ++e)
      TR("SIM", "{} clock drift {} ppm", e == 0 ? std::string("monitor") : who_node(e),
         clocks_[static_cast<std::size_t>(e)].ppm);
  }
  /* Boot: the monitor, then each agent (node 1 first so that it becomes the primary). */
  push(Ev{after_local(kMonitor, 0, 10), 0, EvKind::HealthRound, 0, mon_epoch_, 0, 0, 0});
  for (int n = 1; n <= n_; ++n) {
    Agent& a = agent(n);
    a.alive = true;
    a.epoch = 1;
    agent_new_process(n);
    const TimeMs boot = n == 1 ? 10 : 400 + 150 * n + rng_.range(0, 100);
    a.loop_token = 1;
    push(Ev{after_local(n, 0, boot), 0, EvKind::AgentLoop, n, a.epoch, a.loop_token, 0, 0});
    push(Ev{after_local(n, 0, boot), 0, EvKind::FenceTick, n, a.epoch, 0, 0, 0});
    push(Ev{rng_.range(0, 50) * kMs, 0, EvKind::ReplTick, n, 0, 0, 0, 0});
  }
  push(Ev{100 * kMs, 0, EvKind::ClientTick, 0, 0, 0, 0, 0});

  const SimTime hard_end = (opt_.limits.bootstrap_ms + opt_.limits.converge_ms + 60000) * kMs;
  while (!q_.empty() && !stop_) {
    Ev e = q_.top();
    q_.pop();
    now_ = e.at;
    if (now_ > hard_end) {
      violate("convergence", "simulation ran past its hard time limit");
      break;
    }
    res_.events++;
    try {
      dispatch(e);
    } catch (const CoreAssertion& a) {
      violate("core_assert", a.what);
      break;
    }
    if (!stop_) check_invariants();
  }
  if (!res_.violation) final_checks();
  if (res_.violation && tracing()) {
    res_.trace.push_back("state at the violation:");
    std::string dump = state_dump();
    std::size_t pos = 0;
    while (pos < dump.size()) {
      auto nl = dump.find('\n', pos);
      res_.trace.push_back(dump.substr(pos, nl - pos));
      pos = nl + 1;
    }
  }
  res_.end_us = now_;
  return res_;
}

namespace {
std::string g_running_token; /* read by a signal handler: written only between runs */
}

const char* running_schedule_token() {
  return g_running_token.c_str();
}

RunResult run_schedule(const Schedule& s, const RunOptions& o) {
  static const bool handler_installed = [] {
    set_assert_handler(&throw_core_assertion);
    spdlog::set_default_logger(
        std::make_shared<spdlog::logger>("pgaf-sim", std::make_shared<TraceSink>()));
    return true;
  }();
  (void)handler_installed;
  g_running_token = encode(s);
  World w(s, o);
  /* the keeper's own logging: into the trace when tracing, else off (never formatted) */
  spdlog::set_level(o.trace ? spdlog::level::info : spdlog::level::off);
  t_log_world = o.trace ? &w : nullptr;
  RunResult r = w.run();
  t_log_world = nullptr;
  return r;
}

}  // namespace pgaf::sim
