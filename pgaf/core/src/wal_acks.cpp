/*
 * wal_acks.cpp — WalAckTracker: standbys that stopped acknowledging WAL (see wal_acks.hpp).
 */
#include "pgaf/core/wal_acks.hpp"

#include "pgaf/core/error.hpp"

namespace pgaf {

void WalAckTracker::on_sample(TimeMs now, Lsn primary_lsn, const std::map<NodeId, Lsn>& flush,
                              const std::vector<NodeId>& expected) {
  for (NodeId id : expected)
    if (flush.count(id) == 0 && standbys_.count(id) == 0 && standbys_.size() < kMaxTracked)
      standbys_.emplace(id, Seen{0, now});
  for (const auto& [id, lsn] : flush) {
    auto it = standbys_.find(id);
    if (it == standbys_.end()) {
      if (standbys_.size() >= kMaxTracked) continue; /* bounded: a formation has a few nodes */
      standbys_.emplace(id, Seen{lsn, now});
      continue;
    }
    if (lsn > it->second.flush || lsn >= primary_lsn) it->second.progress_ms = now;
    it->second.flush = lsn;
  }
  PGAF_ASSERT(standbys_.size() <= kMaxTracked, "wal ack tracker over its bound");
}

std::vector<NodeId> WalAckTracker::stale(TimeMs now) const {
  std::vector<NodeId> out;
  if (timeout_ms_ <= 0) return out;
  for (const auto& [id, s] : standbys_)
    if (now - s.progress_ms > timeout_ms_) out.push_back(id);
  return out;
}

}  // namespace pgaf
