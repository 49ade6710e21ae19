/*
 * wal_acks.hpp — which standbys stopped acknowledging a primary's WAL (one-way partitions).
 *
 * The primary's agent samples pg_stat_replication (each standby's flush LSN) and its own WAL
 * position, and feeds the samples here. A standby makes progress at a sample when its flush LSN
 * advanced since the previous sample or reached the primary's position; it is *stale* once it
 * made no progress for standby_ack_timeout_ms. A standby that left pg_stat_replication keeps its
 * last progress time, so it turns stale too; one never seen is judged only when the caller
 * expects it (a node of the group), from the first sample that expected it.
 *
 * Invariants: pure (no clock, no I/O: `now` is the caller's monotonic time); bounded (at most
 * kMaxTracked standbys are remembered); a timeout of 0 disables the judgement (never stale).
 * The verdict is advisory for the monitor: it only ever removes a standby from synchronous
 * replication (a liveness decision), never elects or demotes anyone.
 */
#pragma once

#include <cstddef>
#include <map>
#include <vector>

#include "pgaf/core/node.hpp"

namespace pgaf {

class WalAckTracker {
 public:
  static constexpr std::size_t kMaxTracked = 64;

  explicit WalAckTracker(TimeMs timeout_ms) : timeout_ms_(timeout_ms) {}

  /* One sample: the primary's WAL position and each connected standby's flush LSN. `expected`
   * names the group's other nodes: one never seen is judged from its first expected sample, so
   * a standby that never streams from this primary (it cascades from another node, F12) turns
   * stale too. */
  void on_sample(TimeMs now, Lsn primary_lsn, const std::map<NodeId, Lsn>& flush,
                 const std::vector<NodeId>& expected = {});
  /* Standbys without progress for the timeout, ordered by id. */
  std::vector<NodeId> stale(TimeMs now) const;
  /* Forget everything (the node stopped being a primary). */
  void reset() { standbys_.clear(); }

 private:
  struct Seen {
    Lsn flush = 0;
    TimeMs progress_ms = 0;
  };
  TimeMs timeout_ms_;
  std::map<NodeId, Seen> standbys_;
};

}  // namespace pgaf
