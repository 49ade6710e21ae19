/*
 * fence_guard.cpp — FenceGuard: the agent's write lease (AgentLease) and the fence that acts on
 * it (docs/design/fencing.md L1-L4b). Fed by the keeper's monitor replies and by its own thread
 * (tick() every 50 ms: samples the standbys' replies for the vouch, hands pgaf_fence the lease's
 * deadline, and fences Postgres when the lease ran out while it was writable). Invariant: while
 * armed, Postgres accepts a writing commit only before the lease's end.
 */
#include <spdlog/spdlog.h>

#include <cctype>
#include <set>
#include <string>

#include "pgaf/agent/keeper.hpp"
#include "pgaf/core/sync_names.hpp"

namespace pgaf::agent {

namespace {
/* The quorum of synchronous_standby_names: 'ANY k (a, b)' (also 'FIRST k (…)', 'k (…)') gives k
 * and the listed names; '' gives none. */
struct SyncQuorum {
  int k = 0;
  std::set<std::string> names;
};
SyncQuorum parse_sync_quorum(const std::string& v) {
  SyncQuorum q;
  const auto open = v.find('(');
  const auto close = v.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return q;
  for (char c : v.substr(0, open))
    if (c >= '0' && c <= '9') q.k = q.k * 10 + (c - '0');
  if (q.k == 0) q.k = 1;
  std::string cur;
  for (char c : v.substr(open + 1, close - open - 1)) {
    if (c == ',') {
      if (!cur.empty()) q.names.insert(cur);
      cur.clear();
    } else if (c != ' ' && c != '"') {
      cur += c;
    }
  }
  if (!cur.empty()) q.names.insert(cur);
  return q;
}
}  // namespace

FenceGuard::FenceGuard(const Settings& s, Clock& clock, PostgresControl& pg)
    : s_(s), clock_(clock), pg_(pg), lease_(s) {}

void FenceGuard::disable_fencing_for_tests() {
  std::lock_guard<std::mutex> l(mu_);
  disabled_ = true;
  spdlog::warn(
      "FENCING IS DISABLED (PGAF_TEST_DISABLE_FENCING): this node may become a second "
      "writable primary; for tests only");
}

void FenceGuard::on_monitor_reply(TimeMs t_send_ms, NodeState goal) {
  std::lock_guard<std::mutex> l(mu_);
  lease_.on_monitor_reply(t_send_ms, goal);
}

void FenceGuard::set_current(NodeState current) {
  std::lock_guard<std::mutex> l(mu_);
  current_ = current;
  if (!can_take_writes_in_state(current)) armed_ = false;
}

void FenceGuard::set_armed(bool armed) {
  std::lock_guard<std::mutex> l(mu_);
  armed_ = armed;
  if (armed) {
    pushed_deadline_ms_ = -1;
    push_deadline_locked();
  }
}

/* Keep pgaf_fence's deadline equal to the lease's end while armed (fencing.md L4b). */
void FenceGuard::push_deadline_locked() {
  if (!armed_) return;
  /* Fencing disabled for tests: a Postgres started armed (pgaf_fence.start_armed) must still
   * write, so it gets a deadline far away (a day). */
  const TimeMs deadline = disabled_ ? clock_.now_ms() + 86400000 : lease_.expires_at();
  /* A new session may be to a restarted Postgres, whose pgaf_fence starts over (armed with an
   * expired deadline): push again even if the deadline did not change. */
  const std::uint64_t epoch = pg_.session_epoch();
  if (deadline < 0 || (deadline == pushed_deadline_ms_ && epoch == pushed_epoch_) ||
      (disabled_ && pushed_deadline_ms_ >= 0 && epoch == pushed_epoch_))
    return;
  Status s = pg_.set_fence_deadline(deadline);
  if (s) {
    pushed_deadline_ms_ = deadline;
    pushed_epoch_ = pg_.session_epoch();
    fence_ext_warned_ = false;
  } else if (!fence_ext_warned_) {
    /* once per failure streak: Postgres may be down (restarting), or lack pgaf_fence */
    fence_ext_warned_ = true;
    spdlog::warn(
        "could not hand the lease deadline to pgaf_fence (retried while the lease "
        "lasts): {}",
        s.error().message);
  }
}

bool FenceGuard::armed() {
  std::lock_guard<std::mutex> l(mu_);
  return armed_;
}

bool FenceGuard::may_write() {
  std::lock_guard<std::mutex> l(mu_);
  return disabled_ || lease_.may_write(clock_.now_ms());
}

bool FenceGuard::fenced() {
  std::lock_guard<std::mutex> l(mu_);
  return fenced_;
}

void FenceGuard::clear_fenced() {
  std::lock_guard<std::mutex> l(mu_);
  fenced_ = false;
}

TimeMs FenceGuard::expires_at() {
  std::lock_guard<std::mutex> l(mu_);
  return lease_.expires_at();
}

bool FenceGuard::tick() {
  std::lock_guard<std::mutex> l(mu_);
  TimeMs now = clock_.now_ms();
  if (current_ == NodeState::Primary || current_ == NodeState::ApplySettings) {
    /* A standby vouches when its reply_time changed since our previous sample: it was
     * received after that sample (error bounded by the sampling period). */
    /* Make the standbys reply every ~200 ms rather than every wal_receiver_status_interval
     * (1 s): a few bytes of WAL, no commit, never waits for a standby. */
    if (armed_ &&
        (last_heartbeat_ms_ < 0 || now - last_heartbeat_ms_ >= s_.standby_heartbeat_interval_ms)) {
      last_heartbeat_ms_ = now;
      (void)pg_.emit_heartbeat();
    }
    auto replies = pg_.standby_replies();
    if (replies) {
      /* Only the quorum standbys vouch, k of them (AgentLease::on_standby_sample): the monitor
       * waits for the vouch of those only before it promotes (pgaf-sim seed 66 of the real
       * fence thread: a standby outside the quorum kept an isolated primary writing while the
       * monitor promoted another node). */
      auto names = pg_.synchronous_standby_names();
      const SyncQuorum quorum = names ? parse_sync_quorum(*names) : SyncQuorum{};
      int fresh = 0;
      for (auto& [name, t] : *replies) {
        auto it = last_replies_.find(name);
        if (it != last_replies_.end() && it->second != t && quorum.names.count(name) != 0) ++fresh;
      }
      last_replies_ = std::move(*replies);
      lease_.on_standby_sample(now, fresh, std::max(1, quorum.k), current_);
    } else {
      last_replies_.clear();
    }
  }
  if (armed_ && (disabled_ || lease_.may_write(now))) push_deadline_locked();
  if (!armed_ || disabled_ || lease_.may_write(now)) return false;
  /* The lease ran out while Postgres is writable: fence now. */
  spdlog::warn("write lease expired (current state is \"{}\"): fencing PostgreSQL",
               to_string(current_));
  Status ro = pg_.set_read_only(true);
  if (!ro) spdlog::error("fencing: {}", ro.error().to_string());
  Status term = pg_.terminate_client_backends();
  if (!term) spdlog::error("fencing: {}", term.error().to_string());
  Status stop = pg_.ensure_stopped(s_.fence_stop_timeout_ms);
  if (!stop) spdlog::error("fencing: {}", stop.error().to_string());
  armed_ = false;
  fenced_ = true;
  spdlog::warn("PostgreSQL is fenced: it refuses writes until the monitor renews the lease");
  return true;
}

}  // namespace pgaf::agent
