/*
 * fuzz_decide.cpp — libFuzzer target: pgaf/core's decide() driven by an arbitrary sequence of
 * events decoded from the input, each applied to the group the previous Decision left (as the
 * monitor does), on a monitor clock that only moves forward.
 *
 * Decoding: one byte picks the event kind; the following bytes give the time step, the node
 * (ids -1..7: unknown, zero and negative ids included) and the event's fields. A node's report
 * is "realistic" (the keeper reports its goal, or its current state) or arbitrary (any state
 * value, even out of the enum's range). Settings are the defaults.
 *
 * Checked after every decide() that succeeds (decide.hpp's invariants, plus the simulator's and
 * the reachability test's):
 *  - at most one node of the group has a writable goal;
 *  - a node sent towards promotion (prepare_promotion, fast_forward, stop_replication) has a
 *    candidate priority above 0;
 *  - the node list stays ordered by id without duplicates; deleted nodes are gone; every
 *    assignment names a node of the group or a deleted one;
 *  - as long as every report was realistic, each assigned goal has a keeper edge from the node's
 *    reported state and from its previous goal (the keeper can execute what it is told);
 *  - decide() is deterministic: the same call gives the same assignments.
 * decide()'s own PGAF_ASSERTs abort, which libFuzzer reports as a crash.
 */
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "pgaf/core/decide.hpp"
#include "pgaf/core/keeper_table.hpp"

namespace {

using namespace pgaf;
using S = NodeState;

[[noreturn]] void violated(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_decide: invariant violated: %s\n%s\n", what, detail.c_str());
  std::abort();
}

std::string dump(const GroupSnapshot& g) {
  std::string s = "nss=" + std::to_string(g.formation.number_sync_standbys) + "\n";
  for (const Node& n : g.nodes) {
    s += "  node " + std::to_string(n.id) + " reported " +
         std::string(to_string(n.reported_state)) + " goal " +
         std::string(to_string(n.goal_state)) + " prio " + std::to_string(n.candidate_priority) +
         " quorum " + std::to_string(n.replication_quorum) + " lsn " +
         std::to_string(n.reported_lsn) + " tli " + std::to_string(n.reported_tli) + " running " +
         std::to_string(n.pg_is_running) + " health " + std::string(to_string(n.health)) + "\n";
  }
  return s;
}

NodeId pick_node(FuzzedDataProvider& in) {
  return in.ConsumeIntegralInRange<NodeId>(-1, 7);
}

Event decode(FuzzedDataProvider& in, const GroupSnapshot& g, bool& realistic) {
  const int kind = in.ConsumeIntegralInRange<int>(0, 11);
  switch (kind) {
    case 0: {
      NodeActiveEvent e;
      e.node_id = pick_node(in);
      const Node* n = g.find(e.node_id);
      /* mostly what a keeper reports (its goal reached, or its state unchanged), so that
         sequences get deep and stay "realistic"; 1 in 8 an arbitrary value */
      const int how = in.ConsumeIntegralInRange<int>(0, 7);
      if (n != nullptr && how <= 6) {
        e.reported_state = how <= 3 ? n->goal_state : n->reported_state;
      } else {
        e.reported_state = static_cast<S>(in.ConsumeIntegralInRange<int>(-1, kNodeStateCount + 1));
        if (n != nullptr && e.reported_state != n->goal_state &&
            e.reported_state != n->reported_state)
          realistic = false;
      }
      e.pg_is_running = in.ConsumeIntegralInRange<int>(0, 7) != 0;
      e.tli = in.ConsumeIntegralInRange<int>(-1, 4);
      Lsn top = 0;
      for (const Node& x : g.nodes) top = std::max(top, x.reported_lsn);
      switch (in.ConsumeIntegralInRange<int>(0, 3)) {
        case 0:
          e.lsn = 0;
          break;
        case 1:
          e.lsn = n != nullptr ? n->reported_lsn : 0;
          break;
        case 2:
          e.lsn = top + in.ConsumeIntegralInRange<Lsn>(0, 1u << 25);
          break;
        default:
          e.lsn = in.ConsumeIntegral<Lsn>();
          break;
      }
      static const char* const kSync[] = {"", "sync", "async", "quorum", "potential"};
      e.sync_state = kSync[in.ConsumeIntegralInRange<int>(0, 4)];
      const int seq = in.ConsumeIntegralInRange<int>(0, 2);
      const std::int64_t last = n != nullptr ? n->last_report_seq : 0;
      e.report_seq = seq == 0   ? 0
                     : seq == 1 ? last + 1
                                : in.ConsumeIntegralInRange<std::int64_t>(-2, last + 2);
      return e;
    }
    case 1: {
      RegisterEvent e;
      NodeId next = 1;
      for (const Node& x : g.nodes) next = std::max(next, x.id + 1);
      e.node.id = in.ConsumeBool() ? next : pick_node(in);
      e.node.group_id = g.group_id;
      e.node.name =
          in.ConsumeBool() ? "" : "n" + std::to_string(in.ConsumeIntegralInRange<int>(0, 3));
      e.node.host =
          in.ConsumeIntegralInRange<int>(0, 15) == 0 ? "" : "h" + std::to_string(e.node.id);
      e.node.port = in.ConsumeIntegralInRange<int>(0, 7) == 0
                        ? in.ConsumeIntegralInRange<int>(-1, 70000)
                        : 5432;
      e.node.candidate_priority = in.ConsumeIntegralInRange<int>(0, 3) == 0
                                      ? in.ConsumeIntegralInRange<int>(-2, 102)
                                      : (in.ConsumeBool() ? 50 : 0);
      e.node.replication_quorum = in.ConsumeIntegralInRange<int>(0, 3) != 0;
      e.node.sysidentifier = in.ConsumeBool() ? 42 : 0;
      static const S kInit[] = {S::Init, S::Single, S::WaitStandby, S::Secondary, S::Primary};
      e.initial_state = kInit[in.ConsumeIntegralInRange<int>(0, 4)];
      return e;
    }
    case 2:
      return RemoveEvent{pick_node(in), in.ConsumeBool()};
    case 3:
      return PerformFailoverEvent{};
    case 4:
      return PerformPromotionEvent{pick_node(in)};
    case 5:
      return StartMaintenanceEvent{pick_node(in)};
    case 6:
      return StopMaintenanceEvent{pick_node(in)};
    case 7:
      return SetCandidatePriorityEvent{pick_node(in), in.ConsumeIntegralInRange<int>(-2, 102)};
    case 8:
      return SetReplicationQuorumEvent{pick_node(in), in.ConsumeBool()};
    case 9:
      return SetNumberSyncStandbysEvent{in.ConsumeIntegralInRange<int>(-1, 4)};
    case 10:
      return HealthCheckEvent{pick_node(in),
                              static_cast<Health>(in.ConsumeIntegralInRange<int>(-1, 1))};
    default:
      return TickEvent{};
  }
}

void check(const GroupSnapshot& before, const Event& e, const Decision& d, bool realistic) {
  const std::string ctx = std::string("after ") + std::string(event_name(e)) + "\nbefore:\n" +
                          dump(before) + "after:\n" + dump(d.after);
  if (count_writable_goals(d.after) > 1) violated("at most one writable goal", ctx);
  for (std::size_t i = 1; i < d.after.nodes.size(); ++i)
    if (d.after.nodes[i - 1].id >= d.after.nodes[i].id)
      violated("nodes ordered by id, unique", ctx);
  for (NodeId id : d.deleted)
    if (d.after.find(id) != nullptr) violated("a deleted node is gone", ctx);
  for (const GoalAssignment& a : d.assignments) {
    const Node* n = d.after.find(a.node_id);
    if (n == nullptr) {
      if (std::find(d.deleted.begin(), d.deleted.end(), a.node_id) == d.deleted.end())
        violated("an assignment names a node of the group", ctx);
      continue;
    }
    if ((a.goal == S::PreparePromotion || a.goal == S::FastForward ||
         a.goal == S::StopReplication) &&
        n->candidate_priority <= 0)
      violated("no promotion of a node with candidate priority 0",
               "node " + std::to_string(a.node_id) + " → " + std::string(to_string(a.goal)) + "\n" +
                   ctx);
    if (!realistic || a.goal == S::Dropped) continue;
    /* the state the node reports now (this event's report included) */
    const S reported = n->reported_state;
    for (S from : {reported, a.from}) {
      if (from == a.goal || from == S::Init) continue;
      if (!find_keeper_transition(from, a.goal))
        violated("every assigned goal has a keeper edge",
                 std::string(to_string(from)) + " -> " + std::string(to_string(a.goal)) +
                     " for node " + std::to_string(a.node_id) + "\n" + ctx);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const Settings settings;
  GroupSnapshot g;
  TimeMs now = 100000;
  g.monitor_start_ms = now - in.ConsumeIntegralInRange<TimeMs>(0, 10000);
  bool realistic = true;
  for (int step = 0; step < 200 && in.remaining_bytes() > 0; ++step) {
    const int dt_kind = in.ConsumeIntegralInRange<int>(0, 3);
    now += dt_kind == 0   ? 0
           : dt_kind == 1 ? 100
           : dt_kind == 2 ? 600
                          : in.ConsumeIntegralInRange<TimeMs>(0, 30000);
    const Event e = decode(in, g, realistic);
    auto r = decide(g, e, settings, now);
    if (!r.ok()) continue;
    check(g, e, *r, realistic);
    auto again = decide(g, e, settings, now);
    if (!again.ok() || again->assignments.size() != r->assignments.size())
      violated("decide() is deterministic", std::string(event_name(e)));
    for (std::size_t i = 0; i < r->assignments.size(); ++i)
      if (again->assignments[i].node_id != r->assignments[i].node_id ||
          again->assignments[i].goal != r->assignments[i].goal)
        violated("decide() is deterministic", std::string(event_name(e)));
    g = std::move(r->after);
  }
  return 0;
}
