/*
 * lease.cpp — the agent side of the primary's write lease (docs/design/fencing.md).
 *
 * Invariant: may_write(now) implies now < t + lease_ms − fence_guard_ms for the send time t of a
 * report the monitor answered with a writable goal, or now < t' + standby_vouch_ms −
 * fence_guard_ms for the last time t' enough quorum standbys were seen streaming while in
 * state primary. Both times are on the agent's own monotonic clock.
 */
#include "pgaf/core/lease.hpp"

#include <algorithm>

namespace pgaf {

void AgentLease::on_monitor_reply(TimeMs t_send_ms, NodeState goal) {
  if (can_take_writes_in_state(goal)) {
    monitor_writable_ = true;
    monitor_until_ = std::max(monitor_until_, t_send_ms + s_.lease_ms - s_.fence_guard_ms);
  } else {
    /* The monitor took the writable role away: no more writes on any evidence. */
    revoke();
  }
}

void AgentLease::on_standby_sample(TimeMs now_ms, int streaming_quorum, int required,
                                   NodeState current) {
  /* Standbys vouch only for a primary the monitor last confirmed as writable: once the monitor
   * has taken the role away, no evidence brings writes back. */
  /* A reply newer than at the previous sample proves streaming *after the previous sample*,
   * not now: the vouch is dated at the previous sample (found by pgaf-sim, F1). */
  const TimeMs proven_at = previous_sample_ms_;
  previous_sample_ms_ = now_ms;
  if (!monitor_writable_ || proven_at < 0) return;
  if (current != NodeState::Primary && current != NodeState::ApplySettings) return;
  if (required < 1) required = 1;
  if (streaming_quorum >= required)
    vouch_until_ = std::max(vouch_until_, proven_at + s_.standby_vouch_ms - s_.fence_guard_ms);
}

void AgentLease::revoke() {
  monitor_writable_ = false;
  monitor_until_ = -1;
  vouch_until_ = -1;
}

bool AgentLease::may_write(TimeMs now_ms) const { return now_ms < expires_at(); }

TimeMs AgentLease::expires_at() const {
  const TimeMs t = std::max(monitor_until_, vouch_until_);
  return t;
}

}  // namespace pgaf
