/*
 * reachability_test.cpp — explore every group state decide() can reach for groups of 1–4 nodes,
 * and check that each goal it assigns has a keeper edge from where the keeper may be.
 *
 * Exploration: breadth-first from an empty group. From each state, every event a real
 * deployment can produce is tried: a node registers; a node's keeper reaches its goal and
 * reports it; a keeper reports its state unchanged; a node reports Postgres down; a health
 * check says good/bad; time passes past every lease; the API calls (failover, promotion,
 * maintenance, priorities, removal). States are deduplicated on an abstract key (states,
 * health, priorities, LSN, and which timers have expired).
 *
 * Checked for every assignment (node, previous goal → new goal):
 *  - the keeper has an edge from the node's reported state to the new goal (it may not have
 *    moved yet), and from the previous goal (it may have reached it without reporting);
 *  - at most one writable goal per group (decide() also asserts it).
 * Removing any edge that the exploration uses makes this test fail (see the last test).
 */
#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <random>
#include <map>
#include <set>
#include <sstream>

#include "group_builder.hpp"
#include "pgaf/core/keeper_table.hpp"

namespace pgaf {
namespace {
using S = NodeState;

#if defined(__SANITIZE_ADDRESS__)
constexpr std::size_t kMaxStates[] = {0, 5000, 20000, 20000, 20000};
constexpr int kWalks = 100;
#else
constexpr std::size_t kMaxStates[] = {0, 20000, 80000, 80000, 80000};
constexpr int kWalks = 1000;
#endif
constexpr int kWalkSteps = 120;
constexpr std::uint64_t kSeed = 20261126;

struct Outcome {
  std::size_t states = 0;
  std::size_t decisions = 0;
  std::size_t walk_steps = 0;
  std::set<std::pair<S, S>> used_edges; /* (keeper current, goal) pairs the monitor needed */
  std::map<std::string, std::string> missing;       /* "from->to" → example event */
  std::vector<std::string> violations;
};

std::string bucket(TimeMs now, TimeMs t, const Settings& s) {
  if (t < 0) return "n";
  const TimeMs age = now - t;
  if (age < s.monitor_lease_wait_ms()) return "a";
  if (age < s.node_considered_unhealthy_timeout_ms) return "b";
  return "c";
}

std::string key(const GroupSnapshot& g, const Settings& s, TimeMs now) {
  std::ostringstream k;
  k << g.formation.number_sync_standbys << "|";
  for (const auto& n : g.nodes) {
    k << n.id << ":" << static_cast<int>(n.reported_state) << "," << static_cast<int>(n.goal_state)
      << "," << static_cast<int>(n.health) << "," << n.pg_is_running << ","
      << n.candidate_priority << "," << n.reported_lsn << "," << n.reported_tli << ","
      << bucket(now, n.report_time_ms, s) << bucket(now, n.lease_granted_ms, s)
      << bucket(now, n.stream_stop_time_ms, s) << (n.health_check_time_ms > n.report_time_ms)
      << ";";
  }
  return k.str();
}

struct Explorer {
  Settings s;
  int max_nodes = 2;
  std::size_t max_states = 0; /* 0: kMaxStates[max_nodes] */
  int walk_count = kWalks;
  Outcome out;

  void check(const GroupSnapshot& before, const Event& e, const Decision& d) {
    ++out.decisions;
    for (const auto& a : d.assignments) {
      const Node* now_node = d.after.find(a.node_id);
      const Node* old_node = before.find(a.node_id);
      const S reported = now_node != nullptr ? now_node->reported_state
                         : old_node != nullptr ? old_node->reported_state
                                               : S::Init;
      for (S from : {reported, a.from}) {
        if (from == a.goal) continue;
        /* a node that registers starts from init/its initial state: both are the same here */
        out.used_edges.insert({from, a.goal});
        if (!find_keeper_transition(from, a.goal)) {
          std::string edge = std::string(to_string(from)) + " -> " + std::string(to_string(a.goal));
          out.missing.emplace(edge, std::string(event_name(e)) + " node " +
                                        std::to_string(a.node_id));
        }
      }
    }
    if (count_writable_goals(d.after) > 1)
      out.violations.push_back("two writable goals after " + std::string(event_name(e)));
  }

  std::vector<std::pair<Event, TimeMs>> events(const GroupSnapshot& g) {
    std::vector<std::pair<Event, TimeMs>> ev;
    const int n = static_cast<int>(g.nodes.size());
    NodeId next_id = 1;
    for (const auto& x : g.nodes) next_id = std::max(next_id, x.id + 1);
    if (n < max_nodes && next_id <= max_nodes + 2) {
      Node r;
      r.id = next_id;
      r.host = "h" + std::to_string(next_id);
      ev.push_back({RegisterEvent{r, S::Init}, 100});
    }
    for (const auto& x : g.nodes) {
      /* the keeper reaches its goal (LSN: the primary writes, standbys follow) */
      NodeActiveEvent reach{x.id, x.goal_state, true, x.reported_tli, x.reported_lsn, "", 0, std::nullopt};
      if (reach.lsn == 0) reach.lsn = 0x1000000;
      ev.push_back({reach, 100});
      NodeActiveEvent same{x.id, x.reported_state, true, x.reported_tli, x.reported_lsn, "", 0, std::nullopt};
      ev.push_back({same, 100});
      NodeActiveEvent down{x.id, x.reported_state, false, x.reported_tli, x.reported_lsn, "", 0, std::nullopt};
      ev.push_back({down, 100});
      ev.push_back({HealthCheckEvent{x.id, x.health == Health::Bad ? Health::Good : Health::Bad},
                    100});
      ev.push_back({PerformPromotionEvent{x.id}, 100});
      ev.push_back({StartMaintenanceEvent{x.id}, 100});
      ev.push_back({StopMaintenanceEvent{x.id}, 100});
      ev.push_back({SetCandidatePriorityEvent{x.id, x.candidate_priority == 0 ? 100 : 0}, 100});
      ev.push_back({RemoveEvent{x.id, false}, 100});
    }
    ev.push_back({PerformFailoverEvent{}, 100});
    ev.push_back({TickEvent{}, s.node_considered_unhealthy_timeout_ms});
    return ev;
  }

  void run() {
    std::deque<std::pair<GroupSnapshot, TimeMs>> queue;
    std::set<std::string> seen;
    GroupSnapshot start;
    start.monitor_start_ms = 0;
    const TimeMs t0 = 100000;
    queue.push_back({start, t0});
    seen.insert(key(start, s, t0));
    const std::size_t cap = max_states != 0 ? max_states : kMaxStates[max_nodes];
    while (!queue.empty() && seen.size() < cap) {
      auto [g, now] = queue.front();
      queue.pop_front();
      for (auto& [e, dt] : events(g)) {
        const TimeMs t = now + dt;
        auto r = decide(g, e, s, t);
        if (!r.ok()) continue; /* refused API calls change nothing */
        check(g, e, *r);
        const std::string k = key(r->after, s, t);
        if (seen.insert(k).second) queue.push_back({r->after, t});
      }
    }
    out.states = seen.size();
    walks();
  }

  /* Deep paths the breadth-first pass cannot reach within its cap: seeded random walks that
   * favour progress (keepers reaching their goals) over API calls. */
  void walks() {
    std::mt19937_64 rng(kSeed + static_cast<std::uint64_t>(max_nodes));
    for (int w = 0; w < walk_count; ++w) {
      GroupSnapshot g;
      TimeMs now = 100000;
      for (int step = 0; step < kWalkSteps; ++step) {
        auto ev = events(g);
        /* index 0..: register (maybe), then 9 per node, then failover and tick */
        std::size_t pick = 0;
        const std::uint64_t roll = rng() % 100;
        if (roll < 55 && !g.nodes.empty()) {
          const std::size_t node = static_cast<std::size_t>(rng() % g.nodes.size());
          const std::size_t base = ev.size() - 2 - 9 * g.nodes.size();
          pick = base + 9 * node; /* the keeper reaches its goal */
        } else {
          pick = static_cast<std::size_t>(rng() % ev.size());
        }
        auto& [e, dt] = ev[pick];
        now += dt;
        auto r = decide(g, e, s, now);
        if (!r.ok()) continue;
        check(g, e, *r);
        g = r->after;
        ++out.walk_steps;
      }
    }
  }
};

Outcome explore(int nodes, std::size_t max_states = 0, int walks = kWalks) {
  Explorer x;
  x.max_nodes = nodes;
  x.max_states = max_states;
  x.walk_count = walks;
  x.run();
  return x.out;
}

/* A smaller exploration for the mutation tests (run once per removed edge). */
Outcome explore_small() { return explore(2, 20000, 300); }

std::string describe_missing(const Outcome& o) {
  std::string s;
  for (const auto& [edge, ex] : o.missing) s += "  " + edge + "   (e.g. " + ex + ")\n";
  return s;
}

class Reachability : public ::testing::TestWithParam<int> {};

TEST_P(Reachability, EveryAssignedGoalHasAKeeperEdge) {
  const Outcome o = explore(GetParam());
  std::printf("[reachability] %d node(s): %zu states (breadth-first), %zu random-walk steps "
              "(seed %llu), %zu decisions, %zu keeper edges used\n",
              GetParam(), o.states, o.walk_steps,
              static_cast<unsigned long long>(kSeed + static_cast<std::uint64_t>(GetParam())),
              o.decisions, o.used_edges.size());
  EXPECT_GT(o.states, 5u);
  EXPECT_TRUE(o.missing.empty()) << "goals without a keeper edge:\n" << describe_missing(o);
  EXPECT_TRUE(o.violations.empty()) << o.violations.front();
}

INSTANTIATE_TEST_SUITE_P(GroupSizes, Reachability, ::testing::Values(1, 2, 3, 4));

TEST(ReachabilityMutation, RemovingAUsedEdgeIsDetected) {
  /* Every edge the 2-node exploration uses is load-bearing: remove each in turn and the
   * exploration reports it missing. */
  const Outcome base = explore_small();
  ASSERT_FALSE(base.used_edges.empty());
  int checked = 0;
  for (const auto& [from, to] : base.used_edges) {
    if (checked >= 6) break; /* a sample keeps the test fast; the edges are taken in order */
    keeper_table_remove_edge_for_test(from, to);
    const bool still_found = find_keeper_transition(from, to).has_value();
    const Outcome o = still_found ? base : explore_small();
    keeper_table_reset_for_test();
    if (still_found) continue; /* covered by a wildcard row (any → dropped) */
    const std::string edge = std::string(to_string(from)) + " -> " + std::string(to_string(to));
    EXPECT_EQ(o.missing.count(edge), 1u) << "removing " << edge << " went unnoticed";
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST(ReachabilityMutation, TwoNodeFailoverEdgeIsRequired) {
  keeper_table_remove_edge_for_test(S::StopReplication, S::WaitPrimary);
  const Outcome o = explore_small();
  keeper_table_reset_for_test();
  EXPECT_EQ(o.missing.count("stop_replication -> wait_primary"), 1u);
}

}  // namespace
}  // namespace pgaf
