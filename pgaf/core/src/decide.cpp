/*
 * decide.cpp — the monitor's failover state machine, as a pure function.
 *
 * Structure: decide() copies the snapshot into a Machine, applies the event (a report, an API
 * call, a health-check result, a tick), then runs the group rules for the node(s) concerned.
 * Rules are the reference's (upstream-design.md §3, §9) in the same evaluation order, named
 * rule_* after what they do. Every goal assignment goes through Machine::assign(), which is the
 * one place that enforces the fencing rule: a node only gets a writable goal once every other
 * node is provably fenced (docs/design/fencing.md).
 *
 * Invariants checked on every Decision (PGAF_ASSERT; a violation is a bug here):
 *  - at most one node with a writable goal;
 *  - a node promoted (prepare_promotion / fast_forward / stop_replication / wait_primary from a
 *    standby state) has candidate priority > 0;
 *  - an election never proceeds while a quorum standby that must report has not.
 */
#include "pgaf/core/decide.hpp"

#include <algorithm>
#include <cstdlib>

namespace pgaf {

namespace {

using S = NodeState;

bool one_of(S s, std::initializer_list<S> set) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

std::int64_t lsn_distance(Lsn a, Lsn b) {
  return a > b ? static_cast<std::int64_t>(a - b) : static_cast<std::int64_t>(b - a);
}

/* WalDifferenceWithin: true if either is null; false if either LSN is unknown (0/0). */
bool wal_within(const Node* a, const Node* b, std::int64_t delta) {
  if (a == nullptr || b == nullptr) return true;
  if (a->reported_lsn == 0 || b->reported_lsn == 0) return false;
  return lsn_distance(a->reported_lsn, b->reported_lsn) <= delta;
}

bool is_being_promoted(const Node& n) {
  switch (n.reported_state) {
    case S::ReportLsn:
    case S::FastForward:
      return one_of(n.goal_state, {S::FastForward, S::PreparePromotion});
    case S::PreparePromotion:
      return one_of(n.goal_state, {S::PreparePromotion, S::StopReplication, S::WaitPrimary});
    case S::StopReplication:
      return one_of(n.goal_state, {S::StopReplication, S::WaitPrimary});
    default:
      return false;
  }
}

bool candidate_ready_to_stream(const Node& n) {
  switch (n.reported_state) {
    case S::PreparePromotion:
    case S::StopReplication:
      return one_of(n.goal_state, {S::StopReplication, S::WaitPrimary});
    case S::WaitPrimary:
      return one_of(n.goal_state, {S::WaitPrimary, S::Primary});
    case S::Primary:
      return n.goal_state == S::Primary;
    default:
      return false;
  }
}

bool is_participating_in_promotion(const Node& n) {
  return is_being_promoted(n) || n.reported_state == S::ReportLsn ||
         n.goal_state == S::ReportLsn || n.reported_state == S::JoinSecondary ||
         n.goal_state == S::JoinSecondary;
}

bool is_being_demoted_primary(const Node& n) {
  return state_belongs_to_primary(n.reported_state) &&
         one_of(n.goal_state, {S::Draining, S::DemoteTimeout, S::PrepareMaintenance});
}

bool is_demoted_primary(const Node& n) {
  return n.goal_state == S::Demoted &&
         (state_belongs_to_primary(n.reported_state) || n.reported_state == S::Demoted);
}

/* ------------------------------------------------------------------------------------------ */

class Machine {
 public:
  Machine(const GroupSnapshot& g, const Settings& s, TimeMs now) : s_(s), now_(now) {
    d_.after = g;
    std::sort(d_.after.nodes.begin(), d_.after.nodes.end(),
              [](const Node& a, const Node& b) { return a.id < b.id; });
  }

  Decision take() { return std::move(d_); }
  GroupSnapshot& g() { return d_.after; }
  Decision& d() { return d_; }
  TimeMs now() const { return now_; }
  const Settings& settings() const { return s_; }

  Node* find(NodeId id) { return d_.after.find(id); }

  /* Non-dropped nodes, ordered by id. Pointers stay valid until a node is erased. */
  std::vector<Node*> live() {
    std::vector<Node*> out;
    for (auto& n : d_.after.nodes)
      if (n.goal_state != S::Dropped) out.push_back(&n);
    return out;
  }
  int live_count() { return static_cast<int>(live().size()); }
  int nss() const { return d_.after.formation.number_sync_standbys; }

  void message(MessageLevel level, std::string text) {
    d_.messages.push_back({level, std::move(text)});
  }

  /* GetPrimaryNodeInGroup: first node whose goal is writable. */
  Node* primary() {
    for (Node* n : live())
      if (can_take_writes_in_state(n->goal_state)) return n;
    return nullptr;
  }

  /* GetPrimaryOrDemotedNodeInGroup. */
  Node* primary_or_demoted() {
    if (Node* p = primary()) return p;
    Node* any = nullptr;
    for (Node* n : live()) {
      if (state_belongs_to_primary(n->reported_state)) {
        if (one_of(n->goal_state, {S::Draining, S::DemoteTimeout, S::PrepareMaintenance}))
          return n;
        if (any == nullptr) any = n;
      }
    }
    if (any != nullptr) return any;
    for (Node* n : live())
      if (is_demoted_primary(*n)) return n;
    return nullptr;
  }

  /* an election produced a candidate that is on its way to being promoted */
  bool promotion_chosen() {
    for (Node* n : live())
      if (is_being_promoted(*n)) return true;
    return false;
  }
  bool failover_in_progress() {
    for (Node* n : live())
      if (is_participating_in_promotion(*n)) return true;
    return false;
  }

  bool healthy(const Node& n) const { return is_healthy(n, s_, now_); }
  bool unhealthy(const Node& n) const { return is_unhealthy(n, d_.after, s_, now_); }
  /* the current primary p reported that n does not acknowledge its WAL (one-way partition) */
  static bool acks_stale(const Node& n, const Node* p) {
    return p != nullptr && n.wal_ack_stale_by != 0 && n.wal_ack_stale_by == p->id;
  }
  bool reporting(const Node& n) const {
    return now_ - n.report_time_ms < s_.node_considered_unhealthy_timeout_ms;
  }

  /* The primary has failed: Postgres reported down, or silent past its lease with a failed
   * health check after its last report. (Detection only; safety is enforced by fenced().) */
  bool primary_failed(const Node& p) const {
    if (!p.pg_is_running) return true;
    const auto& g = d_.after;
    const bool silent = now_ - p.report_time_ms >= s_.monitor_lease_wait_ms();
    const bool checked_bad = p.health == Health::Bad && p.health_check_time_ms > p.report_time_ms &&
                             p.health_check_time_ms >= g.monitor_start_ms;
    const bool past_grace = now_ - g.monitor_start_ms >= s_.startup_grace_period_ms;
    return silent && checked_bad && past_grace;
  }

  /* A node that must not be writable anymore provably is not (fencing.md, "fenced"). */
  bool fenced(const Node& o) const {
    if (o.lease_granted_ms < 0) return true;
    if (o.report_time_ms > o.lease_granted_ms && !can_take_writes_in_state(o.reported_state))
      return true;
    return primary_lease_expired(o, s_, now_) &&
           standby_vouch_expired(d_.after, o.id, s_, now_);
  }

  bool others_fenced(const Node& a) const {
    for (const auto& o : d_.after.nodes)
      if (o.id != a.id && !fenced(o)) return false;
    return true;
  }

  /* The one place goals change. Refuses (returns false) to make a node writable while another
   * node may still be; the caller simply waits for a later event. */
  bool assign(Node& n, S goal, const std::string& why) {
    if (n.goal_state == goal) return true;
    if (can_take_writes_in_state(goal) && !can_take_writes_in_state(n.goal_state) &&
        !others_fenced(n)) {
      message(MessageLevel::Log, "Not setting goal state of " + describe(n) + " to " +
                                     std::string(to_string(goal)) +
                                     " yet: waiting until the previous primary is fenced");
      return false;
    }
    GoalAssignment a;
    a.node_id = n.id;
    a.from = n.goal_state;
    a.goal = goal;
    a.description = "Setting goal state of " + describe(n) + " to " +
                    std::string(to_string(goal)) + " after " + why + ".";
    n.goal_state = goal;
    n.state_change_time_ms = now_;
    /* the keeper may start streaming as soon as it sees this goal (F6 of simulator.md) */
    if (state_streams_from_primary(goal)) n.stream_stop_time_ms = -1;
    message(MessageLevel::Log, a.description);
    d_.assignments.push_back(std::move(a));
    return true;
  }

  void erase(NodeId id) {
    auto& v = d_.after.nodes;
    v.erase(std::remove_if(v.begin(), v.end(), [id](const Node& n) { return n.id == id; }),
            v.end());
    d_.deleted.push_back(id);
  }

  /* ---- the group rules ---- */
  void proceed(Node& a);
  void proceed_primary(Node& p);
  bool ms_failover(Node& a, Node* p);
  bool proceed_with_ms_failover(Node& a, Node& candidate);
  bool healthy_candidate_exists(const Node& p);
  void restore_priorities();

 private:
  const Settings& s_;
  TimeMs now_;
  Decision d_;
};

bool Machine::healthy_candidate_exists(const Node& p) {
  for (Node* n : live()) {
    if (n->id == p.id) continue;
    if (n->goal_state == S::Secondary && n->candidate_priority > 0 &&
        n->converged(S::Secondary) && healthy(*n))
      return true;
  }
  return false;
}

/* ProceedGroupState(A): the rules in the reference's evaluation order (first match wins). */
void Machine::proceed(Node& a) {
  const NodeId aid = a.id;
  /* rule 1: dropped reached → delete */
  if (a.converged(S::Dropped)) {
    message(MessageLevel::Log, "Removing " + describe(a) + " from the group");
    erase(aid);
    return;
  }
  /* rule 2: being dropped: nothing to do */
  if (a.goal_state == S::Dropped) return;
  /* rule 3: maintenance: only stop_maintenance gets it out */
  if (a.converged(S::Maintenance)) return;

  const int n = live_count();
  /* rules 4-5: the only node (an election that lost its other nodes undoes its priority
   * adjustments: nobody is left to elect) */
  if (n == 1) {
    restore_priorities();
    if (!a.converged(S::Single)) {
      if (a.candidate_priority > 0)
        assign(a, S::Single, "it is now the only node in its group");
      else
        assign(a, S::ReportLsn, "it is the only node and has candidate priority 0");
    }
    return;
  }

  /* rule 6: the primary itself */
  if (is_in_primary_state(a)) {
    proceed_primary(a);
    return;
  }

  Node* p = primary_or_demoted();
  /* rule 7 */
  if (p == nullptr && !failover_in_progress()) {
    message(MessageLevel::Log,
            "couldn't find the primary node in formation \"" + g().formation.id + "\", group " +
                std::to_string(g().group_id) + " while processing " + describe(a));
  }

  /* rule 8: multi-standby failover */
  if (n > 2 && p != nullptr && p->id != aid && primary_failed(*p)) {
    if (is_in_primary_state(*p) && !p->converged(S::WaitPrimary) && healthy_candidate_exists(*p)) {
      assign(*p, S::Draining, "the primary is unhealthy and a healthy candidate exists");
    } else if (p->converged(S::PrepareMaintenance)) {
      assign(*p, S::Maintenance, "the primary is in maintenance and unhealthy");
    }
    if (ms_failover(a, p)) return;
  }

  const bool p_healthy = p != nullptr && healthy(*p);
  const bool p_writable_conv = p != nullptr && (p->converged(S::WaitPrimary) ||
                                                p->converged(S::JoinPrimary) ||
                                                p->converged(S::Primary));
  /* a primary on its way between writable states (apply_settings → primary waits for a
   * standby to catch up): nodes must not wait for it to converge (F9) */
  const bool p_writable = p != nullptr && can_take_writes_in_state(p->reported_state) &&
                          can_take_writes_in_state(p->goal_state);
  /* rules 9-10: back from report_lsn when the primary is fine — unless an election already
   * chose a candidate: that candidate will be promoted and the old primary demoted, so a
   * standby that went back to streaming from the old primary would acknowledge commits the
   * new timeline never gets (simulator seed 183684) */
  if (a.converged(S::ReportLsn) && p_writable && p_healthy && p->id != aid &&
      !promotion_chosen()) {
    assign(a, S::Secondary, "the primary is healthy again");
    return;
  }
  /* rule 11 */
  if (a.converged(S::FastForward)) {
    assign(a, S::PreparePromotion, "it has fetched the missing WAL");
    return;
  }
  /* rule 12 */
  if (a.converged(S::ReportLsn) || a.converged(S::FastForward)) {
    ms_failover(a, p);
    return;
  }
  /* rules 13-15: a standby is born */
  if (a.converged(S::WaitStandby) && p != nullptr) {
    if (p->converged(S::WaitPrimary) || p->converged(S::JoinPrimary)) {
      assign(a, S::Catchingup, "the primary is ready for a standby");
      return;
    }
    if (p->converged(S::Primary)) {
      assign(a, S::Catchingup, "the primary is ready for a standby");
      if (a.replication_quorum)
        assign(*p, S::ApplySettings, "a new quorum standby joined");
      return;
    }
  }
  /* rule 16: caught up */
  if (a.converged(S::Catchingup) && p_writable_conv && healthy(a) && !acks_stale(a, p) &&
      a.reported_tli == p->reported_tli &&
      wal_within(p, &a, s_.enable_sync_wal_log_threshold_bytes)) {
    assign(a, S::Secondary, "it caught up with the primary");
    return;
  }
  /* rule 17: two-node automatic failover */
  if (n == 2 && a.converged(S::Secondary) && p != nullptr && p->id != aid &&
      is_in_primary_state(*p) && primary_failed(*p) && healthy(a) &&
      a.candidate_priority > 0 && wal_within(p, &a, s_.promote_wal_log_threshold_bytes)) {
    assign(*p, S::Draining, "the primary failed");
    assign(a, S::PreparePromotion, "the primary failed and this standby is a candidate");
    return;
  }
  /* rules 18-19: standby maintenance. Stricter than the reference: the node is released to
   * the operator only once the primary has applied synchronous_standby_names without it (it
   * converged after apply_settings / wait_primary), so no commit is acknowledged by a node
   * that a later election would ignore. */
  if (a.converged(S::WaitMaintenance) && p != nullptr && p->id != aid &&
      (p->converged(S::WaitPrimary) || p->converged(S::Primary))) {
    assign(a, S::Maintenance, "the primary no longer counts on it");
    return;
  }
  /* rules 20, 23, 24: the chosen standby is ready */
  if (a.converged(S::PreparePromotion)) {
    if (p != nullptr && p->id != aid && p->converged(S::PrepareMaintenance)) {
      assign(a, S::StopReplication, "the primary is going to maintenance");
      return;
    }
    if (p != nullptr && p->id != aid && !is_maintenance_goal(p->goal_state)) {
      /* an old primary already demoted stays so (no keeper edge back: F13) */
      /* ...nor is one whose goal is already demoted (its report is stale: it was cut off; the
       * keeper has no demoted -> demote_timeout edge, simulator seed 259481) */
      if ((state_belongs_to_primary(p->reported_state) ||
           can_take_writes_in_state(p->goal_state) || p->goal_state == S::Draining) &&
          p->goal_state != S::Demoted)
        assign(*p, S::DemoteTimeout, "a standby is being promoted");
      assign(a, S::StopReplication, "the old primary is being demoted");
      return;
    }
    if (p == nullptr) {
      if (others_fenced(a))
        assign(a, S::WaitPrimary, "there is no primary left and every other node is fenced");
      else
        assign(a, S::StopReplication, "there is no primary left");
      return;
    }
  }
  /* rules 25-26: the write-enabling step, once the old primary is fenced */
  if (a.converged(S::StopReplication) && others_fenced(a)) {
    if (p != nullptr && p->id != aid && p->converged(S::PrepareMaintenance)) {
      assign(*p, S::Maintenance, "the new primary is ready");
    } else if (p != nullptr && p->id != aid && !is_maintenance_goal(p->goal_state)) {
      assign(*p, S::Demoted, "it is fenced and a new primary is ready");
    }
    assign(a, S::WaitPrimary, "the old primary is fenced");
    return;
  }
  /* rules 29-30: the old primary rejoins */
  if (a.converged(S::Demoted) && p != nullptr && p->id != aid && p_healthy && p_writable) {
    assign(a, S::Catchingup, "a new primary is available");
    return;
  }
  /* rules 31-32: the election losers follow the new primary */
  if (a.converged(S::JoinSecondary) && p != nullptr && p->id != aid) {
    /* any writable state of the new primary will do: a primary in apply_settings waits for a
     * standby to catch up, so waiting here for wait_primary/primary deadlocks (F9) */
    if (can_take_writes_in_state(p->reported_state) && can_take_writes_in_state(p->goal_state)) {
      assign(a, S::Secondary, "the new primary is ready");
      const NodeId pid = p->id;
      if (Node* pp = find(pid); pp != nullptr && is_in_primary_state(*pp)) proceed_primary(*pp);
      return;
    }
    if (p->converged(S::Primary)) {
      assign(a, S::Secondary, "the new primary is ready");
      return;
    }
  }
}

/* ProceedGroupStateForPrimaryNode(P). */
void Machine::proceed_primary(Node& p) {
  if (p.converged(S::Single)) {
    for (Node* o : live()) {
      if (o->id != p.id && o->converged(S::WaitStandby)) {
        assign(p, S::WaitPrimary, "a standby is waiting to join");
        return;
      }
    }
    return;
  }
  if (p.converged(S::Primary) || p.converged(S::WaitPrimary) || p.converged(S::ApplySettings)) {
    int secondary = 0;
    int secondary_quorum = 0;
    int quorum = 0;
    for (Node* o : live()) {
      if (o->id == p.id) continue;
      if (o->goal_state == S::Secondary &&
          !one_of(o->reported_state, {S::ReportLsn, S::JoinSecondary}) && unhealthy(*o)) {
        assign(*o, S::Catchingup, "it is unhealthy");
      } else if (o->goal_state == S::Secondary && o->reported_state == S::Secondary &&
                 acks_stale(*o, &p)) {
        /* pgaf: reachable, but it has not acknowledged the primary's WAL for
         * standby_ack_timeout_ms (one-way partition): stop counting it for sync rep */
        assign(*o, S::Catchingup, "it does not acknowledge the primary's WAL");
      }
      if (o->converged(S::Secondary)) {
        ++secondary;
        if (o->replication_quorum) ++secondary_quorum;
      }
      if (o->replication_quorum) ++quorum;
    }
    if (quorum == 0) {
      const S goal = secondary == 0 ? S::WaitPrimary : S::Primary;
      if (p.goal_state != goal) assign(p, goal, "only asynchronous standbys are configured");
      return;
    }
    if (!p.converged(S::WaitPrimary) && secondary_quorum == 0) {
      const S goal = nss() == 0 ? S::WaitPrimary : S::Primary;
      if (p.goal_state != goal) assign(p, goal, "no quorum standby is a healthy secondary");
      return;
    }
    if (p.converged(S::WaitPrimary) && secondary_quorum > 0) {
      assign(p, S::Primary, "a quorum standby is now a secondary");
      return;
    }
    if (p.converged(S::ApplySettings)) {
      assign(p, (nss() == 0 && secondary_quorum == 0) ? S::WaitPrimary : S::Primary,
             "it applied the new settings");
    }
    return;
  }
  if (p.converged(S::JoinPrimary)) assign(p, S::Primary, "join_primary is deprecated");
}

bool Machine::proceed_with_ms_failover(Node& a, Node& candidate) {
  if (a.converged(S::ReportLsn) && a.id != candidate.id && candidate_ready_to_stream(candidate)) {
    assign(a, S::JoinSecondary, "node " + std::to_string(candidate.id) + " is being promoted");
    return true;
  }
  return false;
}

void Machine::restore_priorities() {
  for (Node* n : live()) {
    if (n->candidate_priority > kMaxCandidatePriority) n->candidate_priority -= 101;
    if (n->candidate_priority < 0) n->candidate_priority += 101;
  }
}

/* ProceedGroupStateForMSFailover(A, P). Returns true when it made (or is waiting on) the
 * election's next move for A. */
bool Machine::ms_failover(Node& a, Node* p) {
  for (Node* c : live()) {
    if (!is_being_promoted(*c)) continue;
    if (c->id == a.id || one_of(c->reported_state, {S::ReportLsn, S::PreparePromotion}) ||
        healthy(*c))
      return proceed_with_ms_failover(a, *c);
    return false;
  }
  /* A writable primary that has not failed is the outcome of the last election: never run
   * another one next to it (F14 of simulator.md: a stale health check made a report_lsn node
   * elect a second primary). */
  if (Node* w = primary(); w != nullptr && w->id != a.id && !primary_failed(*w)) return false;

  std::vector<Node*> candidates;
  int missing = 0;
  int quorum_candidates = 0;
  /* Its LSN counts for this election only if reported after it provably stopped streaming: a
   * node that reached report_lsn in an earlier election, was sent back to a streaming goal and
   * streamed again (e.g. while its agent was down) is "report_lsn" for the monitor with an LSN
   * from before; electing past it lost the commits it confirmed since (simulator seed 467683) */
  auto fresh_lsn = [](const Node& n) {
    return n.stream_stop_time_ms >= 0 && n.wal_report_time_ms >= n.stream_stop_time_ms;
  };
  std::vector<const Node*> silent; /* quorum nodes that answered, then went silent */
  for (Node* n : live()) {
    const bool old_primary = is_in_primary_state(*n) || is_being_demoted_primary(*n) ||
                             is_demoted_primary(*n);
    if (old_primary && !(n->converged(S::Draining) || n->converged(S::Demoted))) continue;
    if (unhealthy(*n) && !reporting(*n)) {
      /* a silent quorum node may hold acknowledged commits unless it provably stopped
       * streaming: it reported report_lsn and has not been given a streaming goal since */
      if (n->replication_quorum &&
          (n->reported_state != S::ReportLsn || state_streams_from_primary(n->goal_state) ||
           !fresh_lsn(*n)))
        ++missing;
      else if (n->replication_quorum)
        silent.push_back(n); /* its answer is known: it still ranks (seed 587884) */
      continue;
    }
    if (n->converged(S::ReportLsn) && !fresh_lsn(*n)) {
      if (n->replication_quorum) ++missing;
      continue;
    }
    if (n->converged(S::ReportLsn)) {
      candidates.push_back(n);
      if (n->replication_quorum || nss() == 0) ++quorum_candidates;
    } else if (n->goal_state == S::ReportLsn) {
      ++missing;
    } else if ((one_of(n->reported_state, {S::Secondary, S::Catchingup}) &&
                one_of(n->goal_state, {S::Secondary, S::Catchingup})) ||
               (n->reported_state == S::Maintenance && n->goal_state == S::Catchingup) ||
               /* sent back to secondary by rules 9-10 but not there yet (monitor finding 1) */
               (one_of(n->reported_state, {S::ReportLsn, S::JoinSecondary}) &&
                n->goal_state == S::Secondary) ||
               /* still counted by the primary's synchronous_standby_names: it may hold
                * acknowledged commits, so it takes part in the election */
               (n->goal_state == S::WaitMaintenance &&
                one_of(n->reported_state, {S::Secondary, S::Catchingup, S::WaitMaintenance})) ||
               /* a maintenance cancelled before it started: the old primary may still count
                * it in synchronous_standby_names (simulator seed 206589) */
               (n->reported_state == S::WaitMaintenance && n->goal_state == S::Catchingup) ||
               n->converged(S::Draining) || n->converged(S::Demoted) ||
               (n->reported_state == S::Demoted && n->goal_state == S::Catchingup)) {
      assign(*n, S::ReportLsn, "a failover is in progress: reporting the last LSN");
      ++missing;
    }
  }
  if (missing > 0) {
    message(MessageLevel::Log, "Failover still in progress after " + describe(a) +
                                   ": waiting for " + std::to_string(missing) +
                                   " node(s) to report their LSN");
    return true;
  }
  if (candidates.empty()) return false;
  if (quorum_candidates < nss() + 1) {
    message(MessageLevel::Log, "Failover needs " + std::to_string(nss() + 1) +
                                   " quorum candidates, only " +
                                   std::to_string(quorum_candidates) + " reported");
    return false;
  }

  /* most advanced LSN among standbys */
  const Node* top = nullptr;
  for (Node* c : candidates) {
    if (state_belongs_to_primary(c->reported_state)) continue;
    if (top == nullptr || c->reported_tli > top->reported_tli ||
        (c->reported_tli == top->reported_tli && c->reported_lsn > top->reported_lsn))
      top = c;
  }
  if (top == nullptr) top = candidates.front();
  /* A failed primary on a newer timeline than every candidate was promoted and no standby has
   * streamed its timeline yet: its WAL up to the fork point holds commits that the previous
   * primary's synchronous standbys acknowledged (it was elected as the most advanced), which a
   * standby still on the old timeline may lack. Electing one would lose them (simulator seeds
   * 46144, 94613, 115487, 183684, 203759): wait for the primary (the reference does not fail
   * over here either — its candidates must be secondaries). */
  if (p != nullptr && p->id != top->id && p->reported_tli > top->reported_tli &&
      state_belongs_to_primary(p->reported_state)) {
    message(MessageLevel::Log, "Failover refused: no standby has reached timeline " +
                                   std::to_string(p->reported_tli) + " of the primary " +
                                   describe(*p) + " yet; waiting for it to come back");
    return false;
  }
  /* A quorum node that answered this election and then went silent (its link to the monitor
   * lossy, its host down) still ranks: if it is the most advanced, its WAL may hold commits no
   * candidate has, so wait for it as for an unhealthy top candidate (simulator seed 587884). */
  for (const Node* n : silent) {
    if (n->reported_tli > top->reported_tli ||
        (n->reported_tli == top->reported_tli && n->reported_lsn > top->reported_lsn)) {
      message(MessageLevel::Log, "Failover: the most advanced standby is not healthy, waiting");
      return false;
    }
  }
  /* A quorum standby that went to maintenance may hold commits that were acknowledged while it
   * still counted for synchronous replication, and that no candidate has (simulator seeds 918812,
   * 66658: the other standby was async or cut off). If it reported WAL beyond every candidate,
   * wait for its maintenance to end: it then takes part in the election. */
  for (Node* n : live()) {
    if (n == p || !n->replication_quorum) continue;
    if (!(n->reported_state == S::Maintenance || n->goal_state == S::Maintenance)) continue;
    if (n->reported_tli > top->reported_tli ||
        (n->reported_tli == top->reported_tli && n->reported_lsn > top->reported_lsn)) {
      message(MessageLevel::Log, "Failover waits: " + describe(*n) +
                                     " is in maintenance with WAL beyond every candidate; it "
                                     "takes part once its maintenance ends");
      return false;
    }
  }
  if (p != nullptr && p->id != top->id &&
      !wal_within(p, top, s_.promote_wal_log_threshold_bytes) && p->reported_lsn != 0) {
    message(MessageLevel::Log, "Failover refused: the most advanced standby " + describe(*top) +
                                   " is too far behind the primary");
    return false;
  }
  std::vector<Node*> eligible;
  /* Only nodes on the most advanced timeline: an older-timeline node (an old primary with WAL
   * past the fork point) cannot fast-forward from the newest one (F7 of simulator.md). */
  auto collect = [&]() {
    eligible.clear();
    for (Node* c : candidates)
      if (c->candidate_priority > 0 && healthy(*c) && c->reported_tli == top->reported_tli)
        eligible.push_back(c);
  };
  collect();
  bool penalised = false;
  for (Node* c : candidates) penalised = penalised || c->candidate_priority < 0;
  if (eligible.empty() && penalised) {
    /* a switchover that no other node can win: the old primary may be elected again */
    message(MessageLevel::Log, "Failover: no other candidate can be elected, the previous "
                               "primary takes part again");
    restore_priorities();
    collect();
  }
  if (eligible.empty()) {
    message(MessageLevel::Log, "Failover: no candidate with a non-zero priority is healthy");
    return false;
  }
  std::stable_sort(eligible.begin(), eligible.end(), [](const Node* x, const Node* y) {
    if (x->candidate_priority != y->candidate_priority)
      return x->candidate_priority > y->candidate_priority;
    if (x->reported_tli != y->reported_tli) return x->reported_tli > y->reported_tli;
    return x->reported_lsn > y->reported_lsn;
  });
  Node* chosen = eligible.front();
  const bool chosen_is_top =
      chosen->reported_tli == top->reported_tli && chosen->reported_lsn >= top->reported_lsn;
  if (!chosen_is_top) {
    bool healthy_top = false;
    for (Node* c : candidates)
      if (c->reported_tli == top->reported_tli && c->reported_lsn == top->reported_lsn &&
          healthy(*c))
        healthy_top = true;
    if (!healthy_top) {
      message(MessageLevel::Log, "Failover: the most advanced standby is not healthy, waiting");
      return false;
    }
  }
  /* Invariant: no quorum standby that must report is unreported (checked above as missing). */
  for (Node* n : live()) {
    PGAF_ASSERT(!(n->goal_state == S::ReportLsn && n->reported_state != S::ReportLsn &&
                  n->replication_quorum && !(unhealthy(*n) && !reporting(*n))),
                "promoting past an unreported quorum standby");
  }
  restore_priorities();
  PGAF_ASSERT(chosen->candidate_priority > 0, "electing a node with candidate priority 0");
  if (chosen_is_top)
    assign(*chosen, S::PreparePromotion, "it was elected and has the most advanced LSN");
  else
    assign(*chosen, S::FastForward, "it was elected and must fetch missing WAL first");
  return true;
}

/* ------------------------------------------------------------------------------------------ */
/* events */

Status validate_snapshot(const GroupSnapshot& g) {
  if (g.formation.number_sync_standbys < 0) {
    return make_error(ErrorCode::OutOfRange,
                      "number_sync_standbys of formation \"" + g.formation.id +
                          "\" is negative: " + std::to_string(g.formation.number_sync_standbys),
                      "number_sync_standbys must be 0 or more");
  }
  if (count_writable_goals(g) > 1) {
    return make_error(ErrorCode::BadState,
                      "group " + std::to_string(g.group_id) + " of formation \"" +
                          g.formation.id + "\" has more than one node with a writable goal",
                      "this snapshot cannot come from pgaf's monitor; check the node table");
  }
  return Status::Ok();
}

Result<Node*> require_node(Machine& m, NodeId id) {
  Node* n = m.find(id);
  if (n == nullptr) {
    return make_error(ErrorCode::UnknownNode,
                      "node " + std::to_string(id) + " is not registered in group " +
                          std::to_string(m.g().group_id) + " of formation \"" +
                          m.g().formation.id + "\"",
                      "check the node id with pg_autoctl show state");
  }
  return n;
}

Status check_priority(int prio) {
  if (prio < 0 || prio > kMaxCandidatePriority) {
    return make_error(ErrorCode::OutOfRange,
                      "invalid value for candidate_priority \"" + std::to_string(prio) + "\"",
                      "candidate_priority must be between 0 and 100");
  }
  return Status::Ok();
}

void run_all(Machine& m) {
  std::vector<NodeId> ids;
  for (Node* n : m.live()) ids.push_back(n->id);
  for (NodeId id : ids)
    if (Node* n = m.find(id)) m.proceed(*n);
}

Status on_node_active(Machine& m, const NodeActiveEvent& e) {
  auto r = require_node(m, e.node_id);
  if (!r.ok()) return r.error();
  Node& n = **r;
  if (static_cast<int>(e.reported_state) < 0 ||
      static_cast<int>(e.reported_state) >= kNodeStateCount - 1) {
    return make_error(ErrorCode::UnknownState, "invalid reported state for " + describe(n));
  }
  auto sync_state = parse_sync_state(e.sync_state);
  if (!sync_state.ok()) return sync_state.error();
  if (e.tli < 0) {
    return make_error(ErrorCode::InvalidArgument,
                      "invalid timeline " + std::to_string(e.tli) + " reported by " + describe(n),
                      "a timeline is a positive number, or 0 when unknown");
  }
  if (e.report_seq > 0 && e.report_seq <= n.last_report_seq) {
    m.d().stale_report = true;
    m.message(MessageLevel::Log, "Ignoring a stale report from " + describe(n) + " (sequence " +
                                     std::to_string(e.report_seq) + ", last applied " +
                                     std::to_string(n.last_report_seq) + ")");
    return Status::Ok();
  }
  if (e.report_seq > 0) n.last_report_seq = e.report_seq;
  const TimeMs now = m.now();
  if (e.stale_standbys && can_take_writes_in_state(e.reported_state)) {
    for (Node& o : m.g().nodes) {
      if (o.id == n.id) continue;
      const bool stale = std::find(e.stale_standbys->begin(), e.stale_standbys->end(), o.id) !=
                         e.stale_standbys->end();
      if (stale && o.wal_ack_stale_by != n.id) {
        o.wal_ack_stale_by = n.id;
        m.message(MessageLevel::Log, describe(n) + " reports that " + describe(o) +
                                         " does not acknowledge its WAL");
      } else if (!stale && o.wal_ack_stale_by == n.id) {
        o.wal_ack_stale_by = 0;
        m.message(MessageLevel::Log,
                  describe(n) + " reports that " + describe(o) + " acknowledges its WAL again");
      }
    }
  }
  if (n.reported_state != e.reported_state) {
    m.d().reported_state_changed = true;
    n.state_change_time_ms = now;
    m.message(MessageLevel::Log, "New state is reported by " + describe(n) + ": \"" +
                                     std::string(to_string(e.reported_state)) + "\"");
  }
  n.reported_state = e.reported_state;
  n.report_time_ms = now;
  n.pg_is_running = e.pg_is_running;
  n.sync_state = std::move(*sync_state);
  if (e.tli > 0) n.reported_tli = e.tli;
  if (e.lsn != 0) {
    n.reported_lsn = e.lsn;
    n.wal_report_time_ms = now;
  }
  /* Stopped streaming: a non-streaming state reported while the goal is not a streaming
   * state either (a half-done transition towards a streaming goal may already stream). */
  if (state_streams_from_primary(n.reported_state) || state_streams_from_primary(n.goal_state))
    n.stream_stop_time_ms = -1;
  else if (n.stream_stop_time_ms < 0)
    n.stream_stop_time_ms = now;

  const NodeId id = n.id;
  m.proceed(n);
  if (Node* after = m.find(id); after != nullptr && can_take_writes_in_state(after->goal_state))
    after->lease_granted_ms = now;
  return Status::Ok();
}

Status on_register(Machine& m, const RegisterEvent& e) {
  Node node = e.node;
  if (node.id <= 0) {
    return make_error(ErrorCode::InvalidArgument, "invalid node id " + std::to_string(node.id),
                      "node ids are positive");
  }
  if (Status st = check_priority(node.candidate_priority); !st.ok()) return st;
  if (node.host.empty()) {
    return make_error(ErrorCode::InvalidArgument, "node_host must not be empty",
                      "pass the hostname or IP address other nodes use to reach this node");
  }
  if (node.port <= 0 || node.port > 65535) {
    return make_error(ErrorCode::OutOfRange, "invalid node_port " + std::to_string(node.port),
                      "a port is between 1 and 65535");
  }
  if (m.find(node.id) != nullptr) {
    return make_error(ErrorCode::AlreadyExists,
                      "node " + std::to_string(node.id) + " is already registered");
  }
  if (node.name.empty()) node.name = "node_" + std::to_string(node.id);
  if (node.sync_state.empty()) node.sync_state = kRegisteredSyncState;
  for (const auto& o : m.g().nodes) {
    if (o.name == node.name)
      return make_error(ErrorCode::AlreadyExists,
                        "node name \"" + node.name + "\" is already registered",
                        "choose another --name");
    if (o.host == node.host && o.port == node.port)
      return make_error(ErrorCode::AlreadyExists,
                        "a node is already registered at " + node.host + ":" +
                            std::to_string(node.port),
                        "drop that node first, or choose another host/port");
  }
  if (m.g().formation.kind != FormationKind::Pgsql) {
    return make_error(ErrorCode::Unsupported, "citus formations are not supported by pgaf");
  }

  S goal = S::Init;
  const int n = m.live_count();
  if (n == 0 && node.candidate_priority > 0) {
    goal = S::Single;
  } else if (!m.g().formation.opt_secondary) {
    return make_error(ErrorCode::BadState,
                      "formation \"" + m.g().formation.id + "\" does not allow secondary nodes",
                      "use pg_autoctl enable secondary first");
  } else {
    bool has_primary = m.primary() != nullptr;
    for (Node* o : m.live())
      if (is_being_promoted(*o)) has_primary = true;
    if (has_primary) {
      goal = S::WaitStandby;
    } else {
      bool prio0_report_lsn = false;
      for (Node* o : m.live())
        if (o->candidate_priority == 0 && o->converged(S::ReportLsn)) prio0_report_lsn = true;
      if (!prio0_report_lsn) {
        return make_error(ErrorCode::NoPrimary,
                          "couldn't find the primary node in formation \"" + m.g().formation.id +
                              "\", group " + std::to_string(m.g().group_id),
                          "Retry registering in a moment");
      }
      goal = S::ReportLsn;
    }
  }
  if (e.initial_state != S::Init && e.initial_state != goal) {
    return make_error(ErrorCode::BadState,
                      "node " + node.host + ":" + std::to_string(node.port) +
                          " can not be registered in state " +
                          std::string(to_string(e.initial_state)) + ", it should be in state " +
                          std::string(to_string(goal)));
  }
  node.group_id = m.g().group_id;
  node.reported_state = e.initial_state;
  node.goal_state = S::Init;
  node.report_time_ms = m.now();
  node.state_change_time_ms = m.now();
  node.health = Health::Unknown;
  node.stream_stop_time_ms = m.now();
  node.lease_granted_ms = -1;
  /* keep the group ordered by id (node.hpp): a desired_node_id may be below existing ids */
  auto& nodes = m.g().nodes;
  nodes.insert(
      std::find_if(nodes.begin(), nodes.end(), [&node](const Node& o) { return o.id > node.id; }),
      node);
  Node& added = *m.find(node.id);
  if (!m.assign(added, goal, "it registered")) {
    nodes.erase(std::find_if(nodes.begin(), nodes.end(),
                             [&node](const Node& o) { return o.id == node.id; }));
    return make_error(ErrorCode::NoPrimary,
                      "the previous primary of group " + std::to_string(m.g().group_id) +
                          " is not fenced yet",
                      "Retry registering in a moment");
  }
  if (goal == S::WaitStandby && m.nss() == 0) {
    int quorum_standbys = 0;
    for (Node* o : m.live())
      if (!can_take_writes_in_state(o->goal_state) && o->replication_quorum) ++quorum_standbys;
    if (quorum_standbys == 2) {
      m.g().formation.number_sync_standbys = 1;
      m.message(MessageLevel::Log, "Setting number_sync_standbys to 1 for formation \"" +
                                       m.g().formation.id + "\" now that it has 2 quorum standbys");
    }
  }
  m.proceed(*m.find(node.id));
  return Status::Ok();
}

Status on_remove(Machine& m, const RemoveEvent& e) {
  auto r = require_node(m, e.node_id);
  if (!r.ok()) return r.error();
  Node& n = **r;
  if (n.converged(S::Dropped) || e.force) {
    if (!m.fenced(n)) {
      return make_error(ErrorCode::BadState,
                        "cannot remove " + describe(n) + " now: it may still accept writes",
                        "stop the node first, or retry in a few seconds once its lease expired");
    }
    m.message(MessageLevel::Log, "Removing " + describe(n) + " from the group");
    m.erase(n.id);
    run_all(m);
    return Status::Ok();
  }
  if (n.goal_state == S::Dropped) return Status::Ok();
  const bool was_writable = can_take_writes_in_state(n.goal_state);
  const NodeId id = n.id;
  if (was_writable) {
    for (Node* o : m.live())
      if (o->id != id && !is_maintenance_goal(o->goal_state))
        m.assign(*o, S::ReportLsn, "the primary is being removed");
  }
  m.assign(*m.find(id), S::Dropped, "it is being removed");
  /* Without its primary, one of the remaining quorum nodes becomes the primary: it is not a
   * standby any more (the reference lowers number_sync_standbys the same way). */
  int quorum_standbys = was_writable ? -1 : 0;
  for (Node* o : m.live())
    if (!can_take_writes_in_state(o->goal_state) && o->replication_quorum) ++quorum_standbys;
  if (quorum_standbys < m.nss() + 1 && m.nss() > 0) {
    m.g().formation.number_sync_standbys = std::max(0, quorum_standbys - 1);
    m.message(MessageLevel::Log, "Setting number_sync_standbys to " +
                                     std::to_string(m.nss()) + " for formation \"" +
                                     m.g().formation.id + "\"");
  }
  if (was_writable) {
    auto live = m.live();
    if (!live.empty()) m.proceed(*live.front());
  } else if (Node* p = m.primary()) {
    const S before = p->goal_state;
    const NodeId pid = p->id;
    m.proceed(*p);
    if (Node* pp = m.find(pid); pp != nullptr && pp->goal_state == before &&
                                (pp->converged(S::Primary) || pp->converged(S::WaitPrimary)))
      m.assign(*pp, S::ApplySettings, "a standby was removed");
  }
  return Status::Ok();
}

Status perform_failover(Machine& m) {
  auto live = m.live();
  const int n = static_cast<int>(live.size());
  if (n < 2) {
    return make_error(ErrorCode::BadState,
                      "cannot fail over: group " + std::to_string(m.g().group_id) +
                          " has only " + std::to_string(n) + " node",
                      "add a standby with pg_autoctl create postgres first");
  }
  Node* p = nullptr;
  for (Node* c : live)
    if (can_initiate_failover(c->goal_state) && c->converged(c->goal_state)) {
      p = c;
      break;
    }
  if (p == nullptr) {
    return make_error(ErrorCode::BadState, "cannot fail over: primary node is not in a stable state",
                      "wait until the group is stable (pg_autoctl show state) and retry");
  }
  if (n == 2) {
    Node* sb = live[0] == p ? live[1] : live[0];
    if (!sb->converged(S::Secondary) || !(p->converged(S::Primary) || p->converged(S::Single))) {
      return make_error(ErrorCode::BadState,
                        "cannot fail over: primary node is not in a stable state",
                        "the standby must be a secondary; wait and retry");
    }
    if (sb->candidate_priority <= 0) {
      return make_error(ErrorCode::BadState,
                        "cannot fail over: " + describe(*sb) + " has candidate priority 0",
                        "set a non-zero candidate priority on the standby first");
    }
    m.assign(*p, S::Draining, "a manual failover was requested");
    m.assign(*sb, S::PreparePromotion, "a manual failover was requested");
    return Status::Ok();
  }
  int promotable = 0;
  for (Node* o : live)
    if (o != p && o->candidate_priority > 0) ++promotable;
  if (promotable == 0) {
    return make_error(ErrorCode::BadState,
                      "cannot fail over: no other node has a non-zero candidate priority",
                      "set a candidate priority on a standby first");
  }
  m.assign(*p, S::Draining, "a manual failover was requested");
  p->candidate_priority -= 101;
  const NodeId pid = p->id;
  for (Node* o : m.live())
    if (o->id != pid) {
      m.ms_failover(*o, m.find(pid));
      break;
    }
  return Status::Ok();
}

Status on_perform_promotion(Machine& m, const PerformPromotionEvent& e) {
  auto r = require_node(m, e.node_id);
  if (!r.ok()) return r.error();
  Node& n = **r;
  if (n.converged(S::Single) || n.converged(S::Primary) || n.converged(S::WaitPrimary)) {
    m.message(MessageLevel::Notice, "cannot perform promotion: " + describe(n) +
                                        " is already a primary");
    m.d().result = false;
    return Status::Ok();
  }
  if (!(n.converged(S::Secondary) || n.converged(S::ReportLsn))) {
    return make_error(ErrorCode::BadState,
                      "cannot perform promotion: " + describe(n) + " is in state " +
                          std::string(to_string(n.reported_state)),
                      "only a secondary (or report_lsn) node can be promoted; wait and retry");
  }
  if (n.candidate_priority <= 0) {
    return make_error(ErrorCode::BadState,
                      "cannot perform promotion: " + describe(n) + " has candidate priority 0",
                      "set a non-zero candidate priority first");
  }
  if (m.live_count() > 2) n.candidate_priority += 101;
  return perform_failover(m);
}

Status on_start_maintenance(Machine& m, const StartMaintenanceEvent& e) {
  auto r = require_node(m, e.node_id);
  if (!r.ok()) return r.error();
  Node& n = **r;
  if (n.converged(S::Maintenance)) return Status::Ok();
  if (n.goal_state == S::Dropped) {
    return make_error(ErrorCode::BadState,
                      "cannot start maintenance: " + describe(n) + " is being dropped");
  }
  if (m.failover_in_progress()) {
    return make_error(ErrorCode::BadState, "cannot start maintenance: a failover is in progress",
                      "wait until the group is stable and retry");
  }
  const bool is_primary = n.converged(S::Primary);
  if (!is_primary && !one_of(n.reported_state, {S::Secondary, S::Catchingup})) {
    return make_error(ErrorCode::BadState,
                      "cannot start maintenance: " + describe(n) + " is in state " +
                          std::string(to_string(n.reported_state)),
                      "maintenance can start from primary, secondary or catchingup");
  }
  auto live = m.live();
  int healthy_sync = 0;
  for (Node* o : live)
    if (o->id != n.id && o->converged(S::Secondary) && o->replication_quorum && m.healthy(*o))
      ++healthy_sync;
  if (m.nss() > 0 && healthy_sync <= m.nss())
    m.message(MessageLevel::Warning,
              "starting maintenance on " + describe(n) +
                  " will block writes on the primary until it is back");
  if (is_primary) {
    if (!m.healthy_candidate_exists(n)) {
      return make_error(ErrorCode::BadState,
                        "cannot start maintenance: no healthy candidate for promotion",
                        "a secondary with a non-zero candidate priority is needed");
    }
    if (live.size() == 2) {
      Node* sb = live[0] == &n ? live[1] : live[0];
      m.assign(n, S::PrepareMaintenance, "a user asked for maintenance");
      m.assign(*sb, S::PreparePromotion, "the primary is going to maintenance");
    } else {
      const NodeId id = n.id;
      m.assign(n, S::PrepareMaintenance, "a user asked for maintenance");
      for (Node* o : m.live())
        if (o->id != id) {
          m.ms_failover(*o, m.find(id));
          break;
        }
    }
    return Status::Ok();
  }
  Node* p = m.primary();
  if (p == nullptr || !(p->converged(S::Primary) || p->converged(S::WaitPrimary))) {
    return make_error(ErrorCode::BadState,
                      "cannot start maintenance: the primary is not in a stable state",
                      "wait until the group is stable and retry");
  }
  int other_healthy_sync = 0;
  for (Node* o : live)
    if (o->id != n.id && o->id != p->id && o->converged(S::Secondary) && o->replication_quorum &&
        m.healthy(*o))
      ++other_healthy_sync;
  if (m.nss() == 0 && n.replication_quorum && other_healthy_sync == 0 &&
      p->converged(S::Primary)) {
    m.assign(*p, S::WaitPrimary, "its last quorum standby goes to maintenance");
    m.assign(n, S::WaitMaintenance, "a user asked for maintenance");
  } else if (n.replication_quorum && p->converged(S::Primary)) {
    /* first drop it from synchronous_standby_names (rule 18 releases it afterwards) */
    m.assign(n, S::WaitMaintenance, "a user asked for maintenance");
    m.assign(*p, S::ApplySettings, "a quorum standby goes to maintenance");
  } else {
    m.assign(n, S::Maintenance, "a user asked for maintenance");
  }
  return Status::Ok();
}

Status on_stop_maintenance(Machine& m, const StopMaintenanceEvent& e) {
  auto r = require_node(m, e.node_id);
  if (!r.ok()) return r.error();
  Node& n = **r;
  const int count = m.live_count();
  /* wait_maintenance, or maintenance not reached yet (the node was cut off or down on its way):
   * the operator cancels a maintenance that has not started yet — refusing it left the node in
   * maintenance for good once it got there (simulator seed 66458) */
  const bool waiting = n.goal_state == S::WaitMaintenance ||
                       (n.goal_state == S::Maintenance && n.reported_state != S::Maintenance);
  if (!(n.converged(S::Maintenance) || waiting ||
        (count > 2 && n.converged(S::PrepareMaintenance)))) {
    return make_error(ErrorCode::BadState,
                      "cannot stop maintenance: " + describe(n) + " is not in maintenance",
                      "see pg_autoctl show state");
  }
  if (count == 1) {
    m.assign(n, n.candidate_priority > 0 ? S::Single : S::ReportLsn,
             "maintenance ended and it is the only node");
    return Status::Ok();
  }
  Node* p = m.primary();
  if (p == nullptr && count == 2) {
    return make_error(ErrorCode::BadState,
                      "cannot stop maintenance: the group has no primary right now",
                      "wait for the other node to become primary and retry");
  }
  if (p == nullptr || m.failover_in_progress()) {
    m.assign(n, S::ReportLsn, "maintenance ended during a failover");
  } else {
    m.assign(n, S::Catchingup, "maintenance ended");
    if (n.replication_quorum && p->converged(S::Primary))
      m.assign(*p, S::ApplySettings, "a quorum standby is back from maintenance");
  }
  return Status::Ok();
}

Status apply_settings_after_change(Machine& m) {
  if (m.live_count() <= 1) return Status::Ok();
  Node* p = m.primary();
  if (p == nullptr) return Status::Ok();
  if (p->converged(S::ApplySettings)) {
    return make_error(ErrorCode::BadState,
                      "cannot change settings while the primary is applying settings",
                      "retry in a moment");
  }
  if (p->converged(S::Primary) || p->converged(S::WaitPrimary))
    m.assign(*p, S::ApplySettings, "its replication settings changed");
  return Status::Ok();
}

Status on_set_priority(Machine& m, const SetCandidatePriorityEvent& e) {
  auto r = require_node(m, e.node_id);
  if (!r.ok()) return r.error();
  if (Status st = check_priority(e.candidate_priority); !st.ok()) return st;
  Node& n = **r;
  if (n.node_cluster != "default" && e.candidate_priority != 0) {
    return make_error(ErrorCode::InvalidArgument,
                      "read-replica " + describe(n) + " must have candidate priority 0");
  }
  if (m.live_count() > 1 && m.primary() != nullptr && m.primary()->converged(S::ApplySettings)) {
    return make_error(ErrorCode::BadState,
                      "cannot change settings while the primary is applying settings",
                      "retry in a moment");
  }
  /* an elected candidate stays promotable until its promotion is over: with priority 0 it
   * could be neither promoted (the invariant of check_invariants) nor sent back (simulator
   * seeds 133505, 152005). The reference accepts the change and promotes it anyway. */
  if (e.candidate_priority == 0 && is_being_promoted(n)) {
    return make_error(ErrorCode::BadState,
                      "cannot set candidate priority 0 on " + describe(n) +
                          ": it is being promoted",
                      "retry once the failover is over (pg_autoctl show state)");
  }
  n.candidate_priority = e.candidate_priority;
  int nonzero = 0;
  for (Node* o : m.live())
    if (o->candidate_priority > 0) ++nonzero;
  if (nonzero < 2)
    m.message(MessageLevel::Notice,
              "fewer than two nodes have a non-zero candidate priority: automatic failover is "
              "not possible");
  return apply_settings_after_change(m);
}

int quorum_standby_count(Machine& m) {
  Node* p = m.primary();
  int q = 0;
  for (Node* o : m.live())
    if (o != p && o->replication_quorum) ++q;
  return q;
}

Status on_set_quorum(Machine& m, const SetReplicationQuorumEvent& e) {
  auto r = require_node(m, e.node_id);
  if (!r.ok()) return r.error();
  Node& n = **r;
  const bool before = n.replication_quorum;
  n.replication_quorum = e.replication_quorum;
  if (!e.replication_quorum && m.nss() > 0 && m.nss() + 1 > quorum_standby_count(m)) {
    n.replication_quorum = before;
    return make_error(ErrorCode::InvalidArgument,
                      "cannot set replication_quorum to false on " + describe(n) +
                          ": number_sync_standbys " + std::to_string(m.nss()) +
                          " needs at least " + std::to_string(m.nss() + 1) + " quorum standbys",
                      "lower number_sync_standbys first");
  }
  if (m.live_count() > 1 && m.primary() != nullptr && m.primary()->converged(S::ApplySettings)) {
    n.replication_quorum = before;
    return make_error(ErrorCode::BadState,
                      "cannot change settings while the primary is applying settings",
                      "retry in a moment");
  }
  return apply_settings_after_change(m);
}

Status on_set_nss(Machine& m, const SetNumberSyncStandbysEvent& e) {
  if (e.number_sync_standbys < 0) {
    return make_error(ErrorCode::OutOfRange,
                      "invalid value for number_sync_standbys: " +
                          std::to_string(e.number_sync_standbys),
                      "number_sync_standbys must be 0 or more");
  }
  Node* p = m.primary();
  if (p == nullptr || !(p->converged(S::Primary) || p->converged(S::WaitPrimary))) {
    return make_error(ErrorCode::BadState,
                      "cannot set number_sync_standbys: the primary is not in a stable state",
                      "wait until the primary is primary or wait_primary and retry");
  }
  const int q = quorum_standby_count(m);
  if (e.number_sync_standbys > 0 && e.number_sync_standbys + 1 > q) {
    return make_error(ErrorCode::InvalidArgument,
                      "cannot set number_sync_standbys to " +
                          std::to_string(e.number_sync_standbys) + ": only " +
                          std::to_string(q) + " quorum standbys are registered",
                      "number_sync_standbys + 1 must not exceed the number of quorum standbys");
  }
  m.g().formation.number_sync_standbys = e.number_sync_standbys;
  if (m.live_count() > 1) m.assign(*p, S::ApplySettings, "number_sync_standbys changed");
  return Status::Ok();
}

Status on_health(Machine& m, const HealthCheckEvent& e) {
  auto r = require_node(m, e.node_id);
  if (!r.ok()) return r.error();
  Node& n = **r;
  if (n.health != e.health) {
    m.d().health_changed = true;
    m.message(MessageLevel::Log, "Node " + describe(n).substr(5) + " is marked as " +
                                     (e.health == Health::Good ? "healthy" : "unhealthy") +
                                     " by the monitor");
  }
  n.health = e.health;
  n.health_check_time_ms = m.now();
  run_all(m);
  return Status::Ok();
}

void check_invariants(const Decision& d, bool input_ok) {
  if (!input_ok) return;
  PGAF_ASSERT(count_writable_goals(d.after) <= 1, "two nodes with a writable goal in one group");
  for (const auto& a : d.assignments) {
    const bool promote = one_of(a.goal, {S::PreparePromotion, S::FastForward});
    if (!promote) continue;
    const Node* n = d.after.find(a.node_id);
    PGAF_ASSERT(n != nullptr && n->candidate_priority > 0,
                "promoting a node with candidate priority 0");
  }
}

}  // namespace

/* ------------------------------------------------------------------------------------------ */

bool is_in_primary_state(const Node& n) {
  if (can_take_writes_in_state(n.goal_state) && n.goal_state == n.reported_state) return true;
  return one_of(n.goal_state, {S::ApplySettings, S::Primary}) &&
         one_of(n.reported_state, {S::Primary, S::ApplySettings});
}

bool is_healthy(const Node& n, const Settings& s, TimeMs now_ms) {
  if (!n.pg_is_running) return false;
  switch (n.health) {
    case Health::Good:
      return true;
    case Health::Bad:
      /* the keeper's report is newer than the failed check: trust the report */
      return n.report_time_ms > n.health_check_time_ms;
    case Health::Unknown:
      /* never checked yet: trust a keeper that is reporting */
      return now_ms - n.report_time_ms < s.node_considered_unhealthy_timeout_ms;
  }
  return false;
}

bool is_unhealthy(const Node& n, const GroupSnapshot& g, const Settings& s, TimeMs now_ms) {
  if (!n.pg_is_running) return true;
  const bool silent = now_ms - n.report_time_ms >= s.node_considered_unhealthy_timeout_ms;
  const bool bad_after_start =
      n.health == Health::Bad && n.health_check_time_ms >= g.monitor_start_ms;
  const bool past_grace = now_ms - g.monitor_start_ms >= s.startup_grace_period_ms;
  return silent && bad_after_start && past_grace;
}

bool primary_lease_expired(const Node& primary, const Settings& s, TimeMs now_ms) {
  if (primary.lease_granted_ms < 0) return true;
  return now_ms >= primary.lease_granted_ms + s.monitor_lease_wait_ms();
}

bool standby_vouch_expired(const GroupSnapshot& g, NodeId old_primary, const Settings& s,
                           TimeMs now_ms) {
  for (const auto& q : g.nodes) {
    if (q.id == old_primary || !q.replication_quorum) continue;
    if (q.stream_stop_time_ms < 0) return false;
    if (now_ms < q.stream_stop_time_ms + s.monitor_vouch_wait_ms()) return false;
  }
  return true;
}

int count_writable_goals(const GroupSnapshot& g) {
  int c = 0;
  for (const auto& n : g.nodes)
    if (n.goal_state != S::Dropped && can_take_writes_in_state(n.goal_state)) ++c;
  return c;
}

std::string_view event_name(const Event& e) {
  static constexpr std::string_view names[] = {
      "node_active",       "register_node",     "remove_node",
      "perform_failover",  "perform_promotion", "start_maintenance",
      "stop_maintenance",  "set_node_candidate_priority", "set_node_replication_quorum",
      "set_formation_number_sync_standbys", "health_check", "tick"};
  return names[e.index()];
}

Result<Decision> decide(const GroupSnapshot& snapshot, const Event& event,
                        const Settings& settings, TimeMs now_ms) {
  if (Status st = settings.validate(); !st.ok()) return st.error();
  const Status input = validate_snapshot(snapshot);
  /* A snapshot with two writable goals cannot be fixed by us; only removal/ticks may proceed. */
  if (!input.ok() && input.error().code == ErrorCode::OutOfRange) return input.error();

  Machine m(snapshot, settings, now_ms);
  Status st = std::visit(
      [&m](const auto& e) -> Status {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, NodeActiveEvent>) return on_node_active(m, e);
        else if constexpr (std::is_same_v<T, RegisterEvent>) return on_register(m, e);
        else if constexpr (std::is_same_v<T, RemoveEvent>) return on_remove(m, e);
        else if constexpr (std::is_same_v<T, PerformFailoverEvent>) return perform_failover(m);
        else if constexpr (std::is_same_v<T, PerformPromotionEvent>) return on_perform_promotion(m, e);
        else if constexpr (std::is_same_v<T, StartMaintenanceEvent>) return on_start_maintenance(m, e);
        else if constexpr (std::is_same_v<T, StopMaintenanceEvent>) return on_stop_maintenance(m, e);
        else if constexpr (std::is_same_v<T, SetCandidatePriorityEvent>) return on_set_priority(m, e);
        else if constexpr (std::is_same_v<T, SetReplicationQuorumEvent>) return on_set_quorum(m, e);
        else if constexpr (std::is_same_v<T, SetNumberSyncStandbysEvent>) return on_set_nss(m, e);
        else if constexpr (std::is_same_v<T, HealthCheckEvent>) return on_health(m, e);
        else {
          run_all(m);
          return Status::Ok();
        }
      },
      event);
  if (!st.ok()) return st.error();
  Decision d = m.take();
  check_invariants(d, input.ok());
  return d;
}

}  // namespace pgaf
