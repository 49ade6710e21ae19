/*
 * lease.hpp — the primary's write lease, agent side (pure; the caller passes its own clock).
 *
 * The agent of a node whose goal is writable may let Postgres accept writes only while
 * may_write(now) is true. See docs/design/fencing.md for the argument; in short:
 *  - a report sent at t_send and answered with a writable goal grants writes until
 *    t_send + lease_ms − fence_guard_ms on the agent's clock;
 *  - while the monitor is unreachable, a primary in state `primary` keeps writing until
 *    standby_vouch_ms − fence_guard_ms after the *previous* sample of a sample in which it saw
 *    `required` quorum standbys with a reply newer than at that previous sample (a newer reply
 *    only proves streaming at some instant after the previous sample).
 * The monitor, on its side, never enables writes elsewhere before both windows have provably
 * ended (decide.hpp: primary_lease_expired, standby_vouch_expired).
 */
#pragma once

#include "pgaf/core/settings.hpp"
#include "pgaf/core/state.hpp"

namespace pgaf {

class AgentLease {
 public:
  explicit AgentLease(const Settings& s) : s_(s) {}

  /* A node_active sent at t_send_ms (agent clock) was answered with goal `goal`. */
  void on_monitor_reply(TimeMs t_send_ms, NodeState goal);
  /* The agent sampled pg_stat_replication at now_ms: `streaming_quorum` quorum standbys had a
   * reply newer than at the previous sample; `required` is the number needed
   * (max(1, number_sync_standbys)). Only counts while the current state is primary, and is
   * dated at the previous sample. Call it at every sample, whatever the counts. */
  void on_standby_sample(TimeMs now_ms, int streaming_quorum, int required, NodeState current);
  /* Forget everything (Postgres restarted, state changed to a non-writable one). */
  void revoke();

  bool may_write(TimeMs now_ms) const;
  /* When writes must stop (agent clock), or -1 if no lease is held. */
  TimeMs expires_at() const;

 private:
  Settings s_;
  bool monitor_writable_ = false; /* the last monitor reply assigned a writable goal */
  TimeMs monitor_until_ = -1;
  TimeMs vouch_until_ = -1;
  TimeMs previous_sample_ms_ = -1; /* time of the previous standby sample */
};

}  // namespace pgaf
