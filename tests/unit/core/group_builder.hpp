/*
 * group_builder.hpp — test helpers: build group snapshots and drive decide() like a monitor
 * would (apply each Decision), with a test clock.
 */
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "pgaf/core/decide.hpp"

namespace pgaf {
/* gtest prints states by name */
inline void PrintTo(NodeState s, std::ostream* os) { *os << to_string(s); }
}  // namespace pgaf

namespace pgaf::test {

inline Node make_node(NodeId id, NodeState reported, NodeState goal, Lsn lsn = 0x1000000) {
  Node n;
  n.id = id;
  n.name = "node_" + std::to_string(id);
  n.host = "198.18.0." + std::to_string(10 + id);
  n.port = 5432;
  n.reported_state = reported;
  n.goal_state = goal;
  n.reported_lsn = lsn;
  n.health = Health::Good;
  n.stream_stop_time_ms = state_streams_from_primary(reported) ? -1 : 0;
  return n;
}

/* A monitor in a test: a snapshot, settings and a clock. */
struct Monitor {
  GroupSnapshot g;
  Settings s;
  TimeMs now = 100000;
  Decision last;

  Monitor() { g.monitor_start_ms = 0; }

  Node& node(NodeId id) {
    Node* n = g.find(id);
    EXPECT_NE(n, nullptr) << "node " << id;
    return *n;
  }

  /* Apply an event; fail the test on error. */
  /* Apply an event at `now`, then let 1 ms pass (as real calls take time). */
  Decision apply(const Event& e) {
    auto r = decide(g, e, s, now);
    EXPECT_TRUE(r.ok()) << event_name(e) << ": " << (r.ok() ? "" : r.error().to_string());
    if (r.ok()) {
      g = r->after;
      last = *r;
    }
    now += 1;
    return last;
  }

  Result<Decision> try_apply(const Event& e) {
    auto r = decide(g, e, s, now);
    if (r.ok()) {
      g = r->after;
      last = *r;
    }
    return r;
  }

  Decision report(NodeId id, NodeState st, Lsn lsn = 0x1000000, bool running = true, int tli = 1) {
    NodeActiveEvent e;
    e.node_id = id;
    e.reported_state = st;
    e.lsn = lsn;
    e.pg_is_running = running;
    e.tli = tli;
    return apply(e);
  }
  /* The node's keeper reached its goal and reports it. */
  Decision reach(NodeId id, Lsn lsn = 0x1000000) { return report(id, node(id).goal_state, lsn); }

  Decision reg(NodeId id, int priority = 100, bool quorum = true) {
    Node n;
    n.id = id;
    n.host = "198.18.0." + std::to_string(10 + id);
    n.port = 5432;
    n.candidate_priority = priority;
    n.replication_quorum = quorum;
    return apply(RegisterEvent{n, NodeState::Init});
  }

  Decision health(NodeId id, Health h) { return apply(HealthCheckEvent{id, h}); }
  Decision tick() { return apply(TickEvent{}); }
  void advance(TimeMs ms) { now += ms; }

  NodeState goal(NodeId id) { return node(id).goal_state; }

  /* Register nodes 1..n and drive them to primary + secondaries. */
  void build_stable(int n, std::vector<int> priorities = {}) {
    for (int i = 1; i <= n; ++i) {
      const int prio = i - 1 < static_cast<int>(priorities.size()) ? priorities[static_cast<std::size_t>(i - 1)] : 100;
      reg(i, prio);
      if (i == 1) reach(1);
      for (int round = 0; round < 6; ++round) {
        advance(100);
        for (int j = 1; j <= i; ++j) reach(j);
      }
    }
    for (int round = 0; round < 4; ++round) {
      advance(100);
      for (int j = 1; j <= n; ++j) reach(j);
    }
  }

  bool converged(NodeId id, NodeState st) { return node(id).converged(st); }
};

}  // namespace pgaf::test
