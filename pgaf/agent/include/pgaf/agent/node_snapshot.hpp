/*
 * node_snapshot.hpp — what the keeper knows about its node, published for the HTTP endpoint
 * (http_endpoint.hpp) and the metrics (metrics.hpp), and the pure mapping from a snapshot to the
 * health-check answers.
 *
 * Invariants:
 *  - the keeper loop and the fence thread publish into a SnapshotBox (a small mutex-protected
 *    copy); readers take a copy. Neither side ever waits on the other for more than a copy, so a
 *    slow or stuck HTTP client cannot delay the keeper, and a stuck keeper cannot make /primary
 *    lie: the lease is judged at the time of the request (lease_expires_at_ms on the same
 *    monotonic clock), so a node whose lease ran out answers 503 even if its keeper is frozen;
 *  - /primary answers 200 only while the node is in a writable state, its Postgres runs, is not in
 *    recovery, is not read-only, the agent has enabled writes under its lease (the fence's
 *    "armed") and not fenced since, and the lease is held at that instant.
 */
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "pgaf/agent/config.hpp"
#include "pgaf/agent/interfaces.hpp"

namespace pgaf::agent {

struct NodeSnapshot {
  bool valid = false;        /* published at least once */
  bool monitor_role = false; /* the monitor's own agent (no keeper state) */
  std::string formation, name, host;
  int port = 0;
  int candidate_priority = 0;
  bool replication_quorum = true;
  KeeperState state;           /* node id, group, current and assigned roles, ... */
  PgStatus pg;                 /* the keeper's last sample of its Postgres */
  std::int64_t lag_bytes = -1; /* standby: the primary's last reported LSN − ours; -1 unknown */
  TimeMs lease_expires_at_ms = -1;   /* the fence thread's copy of the lease end (-1: none) */
  bool writes_enabled = false;       /* the agent made Postgres writable under this lease (armed) */
  bool fenced = false;               /* the fence fired and writes were not enabled again since */
  TimeMs last_monitor_ok_ms = -1;    /* last node_active the monitor answered (-1: none) */
  TimeMs published_ms = -1;          /* last keeper publication */
  std::int64_t transitions = 0;      /* state changes completed by this agent since it started */
  std::int64_t promotions = 0;       /* of which into a writable state from a non-writable one */
  std::int64_t monitor_failures = 0; /* node_active calls that failed */
};

class SnapshotBox {
 public:
  NodeSnapshot get() const {
    std::lock_guard<std::mutex> l(mu_);
    return s_;
  }
  template <class F>
  void update(F&& f) {
    std::lock_guard<std::mutex> l(mu_);
    f(s_);
  }

 private:
  mutable std::mutex mu_;
  NodeSnapshot s_;
};

/* Is this node the writable primary holding its lease at now_ms? (the /primary answer) */
bool is_writable_primary(const NodeSnapshot& s, TimeMs now_ms);
/* Is this node a streaming secondary within max_lag_bytes (-1: any lag)? */
bool is_streaming_replica(const NodeSnapshot& s, std::int64_t max_lag_bytes);
/* Lease time left at now_ms (0 when none or expired). */
TimeMs lease_remaining_ms(const NodeSnapshot& s, TimeMs now_ms);

/* "16MB", "512kB", "1GB", "100" (bytes), as PostgreSQL writes sizes (B, kB, MB, GB, TB; case
 * insensitive). */
Result<std::int64_t> parse_size_bytes(const std::string& text);

struct HttpAnswer {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

/* The answer to GET `path` with query parameters `params` (pure; metrics.hpp for /metrics). */
HttpAnswer answer_request(const NodeSnapshot& s, TimeMs now_ms, const std::string& path,
                          const std::map<std::string, std::string>& params);

/* The JSON of /state: the keys of `pg_autoctl show state --json` for this node, plus the state
 * file's fields. */
std::string state_json(const NodeSnapshot& s);

}  // namespace pgaf::agent
