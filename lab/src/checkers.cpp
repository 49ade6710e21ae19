/*
 * checkers.cpp — implementation of the invariants in checkers.hpp.
 *
 * Conventions: an op's commit happened at some unknown instant inside [invoke_ms, complete_ms];
 * "a before b in real time" means a.complete_ms < b.invoke_ms, which is the only order the
 * client can prove. Witness lists are capped (kMaxWitnesses) so reports stay readable.
 */
#include "pgaf/lab/checkers.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "pgaf/core/state.hpp"

namespace pgaf::lab {
namespace {

constexpr size_t kMaxWitnesses = 20;

nlohmann::json op_witness(const Op& op) {
  return to_json(op);
}

void add_witness(Verdict& v, nlohmann::json w) {
  if (v.witnesses.size() < kMaxWitnesses) v.witnesses.push_back(std::move(w));
}

std::vector<const Op*> acked(const History& h) {
  std::vector<const Op*> out;
  for (const auto& op : h.ops) {
    if (op.outcome == OpOutcome::Ok) out.push_back(&op);
  }
  return out;
}

bool promoting_goal(const std::string& s) {
  return s == "report_lsn" || s == "prepare_promotion" || s == "stop_replication" ||
         s == "fast_forward";
}

}  // namespace

std::string to_string(VerdictStatus s) {
  switch (s) {
    case VerdictStatus::Pass:
      return "pass";
    case VerdictStatus::Fail:
      return "fail";
    case VerdictStatus::Skipped:
      return "skipped";
  }
  return "?";
}

CheckConfig check_config_for(const Scenario& sc) {
  CheckConfig c;
  c.lost_writes_max = sc.effective_lost_writes_max();
  c.rto_max_ms = sc.expect.rto_max_ms;
  c.failover = sc.expect.failover;
  if (sc.expect.new_primary) c.new_primary = "node" + std::to_string(*sc.expect.new_primary + 1);
  c.final_states = sc.expect.final_states;
  c.warmup_min_ok_ratio = sc.phases.warmup_min_ok_ratio;
  c.sync_replication = sc.sync_replication();
  return c;
}

Verdict check_split_brain(const History& h) {
  Verdict v{"split_brain", VerdictStatus::Pass, "", nlohmann::json::array()};
  struct Epoch {
    std::string node;
    int timeline;
    const Op* min_complete = nullptr; /* earliest-acked op */
    const Op* max_invoke = nullptr;   /* latest-invoked op */
    std::vector<const Op*> ops;
  };
  std::map<std::pair<std::string, int>, Epoch> epochs;
  for (const Op* op : acked(h)) {
    auto& e = epochs[{op->node, op->timeline}];
    e.node = op->node;
    e.timeline = op->timeline;
    e.ops.push_back(op);
    if (!e.min_complete || op->complete_ms < e.min_complete->complete_ms) e.min_complete = op;
    if (!e.max_invoke || op->invoke_ms > e.max_invoke->invoke_ms) e.max_invoke = op;
  }
  int violations = 0;
  for (const auto& [k1, e1] : epochs) {
    for (const auto& [k2, e2] : epochs) {
      if (e1.node == e2.node) continue;
      for (const Op* b : e2.ops) {
        if (e1.min_complete->complete_ms < b->invoke_ms &&
            e1.max_invoke->invoke_ms > b->complete_ms) {
          ++violations;
          add_witness(v, {{"explanation", e1.node + " (timeline " + std::to_string(e1.timeline) +
                                              ") acknowledged writes before and after " + e2.node +
                                              " (timeline " + std::to_string(e2.timeline) +
                                              ") acknowledged one"},
                          {"before", op_witness(*e1.min_complete)},
                          {"other", op_witness(*b)},
                          {"after", op_witness(*e1.max_invoke)}});
          break; /* one witness per epoch pair */
        }
      }
    }
  }
  if (violations > 0) {
    v.status = VerdictStatus::Fail;
    v.summary =
        std::to_string(violations) + " pair(s) of nodes acknowledged writes in overlapping time";
  } else {
    v.summary = "no two nodes acknowledged writes in overlapping time (" +
                std::to_string(epochs.size()) + " writer epoch(s))";
  }
  return v;
}

Verdict check_timelines(const History& h) {
  Verdict v{"timelines", VerdictStatus::Pass, "", nlohmann::json::array()};
  int violations = 0;
  /* one writer per timeline */
  std::map<int, const Op*> owner;
  for (const Op* op : acked(h)) {
    auto [it, inserted] = owner.emplace(op->timeline, op);
    if (!inserted && it->second->node != op->node) {
      ++violations;
      add_witness(v, {{"explanation", "timeline " + std::to_string(op->timeline) +
                                          " acknowledged writes on two nodes (double promotion)"},
                      {"first", op_witness(*it->second)},
                      {"second", op_witness(*op)}});
      it->second = op; /* report each switch once */
    }
  }
  /* real-time monotonic: a.complete < b.invoke ⇒ tl(a) <= tl(b) */
  std::vector<const Op*> by_complete = acked(h);
  std::sort(by_complete.begin(), by_complete.end(),
            [](const Op* a, const Op* b) { return a->complete_ms < b->complete_ms; });
  std::vector<const Op*> by_invoke = acked(h);
  std::sort(by_invoke.begin(), by_invoke.end(),
            [](const Op* a, const Op* b) { return a->invoke_ms < b->invoke_ms; });
  const Op* max_before = nullptr;
  size_t i = 0;
  int backward = 0;
  for (const Op* b : by_invoke) {
    while (i < by_complete.size() && by_complete[i]->complete_ms < b->invoke_ms) {
      if (!max_before || by_complete[i]->timeline > max_before->timeline)
        max_before = by_complete[i];
      ++i;
    }
    if (max_before && max_before->timeline > b->timeline) {
      ++backward;
      if (backward <= 5) {
        add_witness(
            v, {{"explanation", "a write acknowledged on timeline " + std::to_string(b->timeline) +
                                    " after one had been acknowledged on timeline " +
                                    std::to_string(max_before->timeline)},
                {"earlier", op_witness(*max_before)},
                {"later", op_witness(*b)}});
      }
    }
  }
  violations += backward;
  /* a node's timeline while it is a primary never decreases (a standby's reported timeline can
   * legitimately lag after a restart, so only primary samples are checked) */
  std::map<std::string, const Sample*> last;
  for (const auto& s : h.samples) {
    if (!s.reachable || s.in_recovery || s.timeline <= 0) continue;
    auto it = last.find(s.node);
    if (it != last.end() && s.timeline < it->second->timeline) {
      ++violations;
      add_witness(v, {{"explanation", s.node + " went from timeline " +
                                          std::to_string(it->second->timeline) + " to " +
                                          std::to_string(s.timeline)},
                      {"t_ms", s.t_ms},
                      {"node", s.node}});
    }
    last[s.node] = &s;
  }
  std::set<int> tls;
  for (const auto& [tl, op] : owner) tls.insert(tl);
  if (violations > 0) {
    v.status = VerdictStatus::Fail;
    v.summary = std::to_string(violations) + " timeline violation(s)";
  } else {
    v.summary = "timelines only move forward (" + std::to_string(tls.size()) +
                " timeline(s) acknowledged writes)";
  }
  return v;
}

Verdict check_lost_writes(const History& h, const CheckConfig& c, int* lost_out,
                          int* recovered_out) {
  Verdict v{"lost_writes", VerdictStatus::Pass, "", nlohmann::json::array()};
  int lost = 0, recovered = 0, ok = 0;
  if (!h.final.read_ok) {
    v.status = VerdictStatus::Fail;
    v.summary = "could not read the final primary's data: " +
                (h.final.read_error.empty() ? std::string("no primary at the end of the run")
                                            : h.final.read_error);
    if (lost_out) *lost_out = 0;
    if (recovered_out) *recovered_out = 0;
    return v;
  }
  for (const auto& op : h.ops) {
    const bool present = h.final.values.count(op.value) > 0;
    if (op.outcome == OpOutcome::Ok) {
      ++ok;
      if (!present) {
        ++lost;
        nlohmann::json w = op_witness(op);
        w["explanation"] = "acknowledged by " + op.node + " on timeline " +
                           std::to_string(op.timeline) + ", absent from the final primary " +
                           h.final.primary + " (timeline " + std::to_string(h.final.timeline) + ")";
        add_witness(v, w);
      }
    } else if (op.outcome == OpOutcome::Unknown && present) {
      ++recovered;
    }
  }
  if (lost_out) *lost_out = lost;
  if (recovered_out) *recovered_out = recovered;
  const std::string base =
      std::to_string(lost) + " of " + std::to_string(ok) + " acknowledged write(s) lost";
  if (c.lost_writes_max && lost > *c.lost_writes_max) {
    v.status = VerdictStatus::Fail;
    v.summary = base + " (allowed: " + std::to_string(*c.lost_writes_max) +
                (c.sync_replication ? ", synchronous replication" : "") + ")";
  } else {
    v.summary = base + (c.lost_writes_max
                            ? " (allowed: " + std::to_string(*c.lost_writes_max) + ")"
                            : " (async replication: RPO = " + std::to_string(lost) + " write(s))");
  }
  return v;
}

Verdict check_rto(const History& h, const CheckConfig& c, std::vector<FaultRto>* out) {
  Verdict v{"rto", VerdictStatus::Pass, "", nlohmann::json::array()};
  std::vector<TimeMs> oks;
  for (const auto& op : h.ops) {
    if (op.outcome == OpOutcome::Ok) oks.push_back(op.complete_ms);
  }
  std::sort(oks.begin(), oks.end());
  std::vector<const FaultRecord*> faults;
  for (const auto& f : h.faults) {
    if (!f.skipped) faults.push_back(&f);
  }
  std::sort(faults.begin(), faults.end(),
            [](const FaultRecord* a, const FaultRecord* b) { return a->start_ms < b->start_ms; });
  const TimeMs run_end = h.phases.end_ms >= 0 ? h.phases.end_ms : (oks.empty() ? 0 : oks.back());
  int over = 0;
  std::vector<FaultRto> results;
  for (size_t k = 0; k < faults.size(); ++k) {
    const FaultRecord& f = *faults[k];
    FaultRto r;
    r.fault = f.name;
    r.start_ms = f.start_ms;
    r.window_end_ms = k + 1 < faults.size() ? faults[k + 1]->start_ms : run_end;
    if (r.window_end_ms < r.start_ms) r.window_end_ms = r.start_ms;
    /* last ok completion at or before the start */
    auto it = std::upper_bound(oks.begin(), oks.end(), f.start_ms);
    TimeMs prev = it == oks.begin()
                      ? (h.phases.warmup_start_ms >= 0 ? h.phases.warmup_start_ms : f.start_ms)
                      : *(it - 1);
    /* the last attempt the clients made inside the window: a trailing gap is only evidence of
     * unavailability up to there (after the workload stops there is no evidence either way) */
    TimeMs last_attempt = -1;
    for (const auto& op : h.ops) {
      if (op.invoke_ms >= f.start_ms && op.invoke_ms < r.window_end_ms)
        last_attempt = std::max(last_attempt, op.complete_ms);
    }
    TimeMs best = -1;
    bool best_recovered = true;
    while (true) {
      if (it == oks.end()) {
        /* no acked write after prev: writes unavailable up to the last failed attempt */
        const TimeMs tail_end = std::min(r.window_end_ms, last_attempt);
        const TimeMs tail = tail_end - prev;
        if (tail > 0 && tail > best) {
          best = tail;
          r.gap_from_ms = prev;
          r.gap_to_ms = tail_end;
          best_recovered = false;
        }
        break;
      }
      if (*it - prev > best) {
        best = *it - prev;
        r.gap_from_ms = prev;
        r.gap_to_ms = *it;
        best_recovered = true;
      }
      prev = *it;
      ++it;
      if (prev >= r.window_end_ms) break;
    }
    r.recovered = best_recovered;
    r.unavailable_ms = std::max<TimeMs>(0, best);
    /* breakdown from monitor events */
    std::set<std::string> targets(f.targets.begin(), f.targets.end());
    std::optional<TimeMs> t_detect, t_decide, t_promote;
    for (const auto& e : h.events) {
      if (e.t_ms < f.start_ms || e.t_ms > r.window_end_ms) continue;
      if (!t_detect && targets.count(e.node)) t_detect = e.t_ms;
      if (!t_decide && promoting_goal(e.goal)) t_decide = e.t_ms;
      if (!t_promote && t_decide && pgaf::can_take_writes_in_state(e.reported) &&
          e.t_ms >= *t_decide && (!targets.count(e.node) || f.action == "switchover")) {
        t_promote = e.t_ms;
      }
    }
    if (t_detect) r.detect_ms = *t_detect - f.start_ms;
    if (t_decide) r.decide_ms = *t_decide - (t_detect ? *t_detect : f.start_ms);
    if (t_promote) r.promote_ms = *t_promote - *t_decide;
    if (t_promote && r.recovered && r.gap_to_ms >= *t_promote)
      r.reconnect_ms = r.gap_to_ms - *t_promote;
    if (c.rto_max_ms && (!r.recovered || r.unavailable_ms > *c.rto_max_ms)) {
      ++over;
      add_witness(
          v, {{"fault", f.name},
              {"explanation", r.recovered ? "writes were unavailable for " +
                                                std::to_string(r.unavailable_ms) + " ms (bound " +
                                                std::to_string(*c.rto_max_ms) + " ms)"
                                          : "writes never became available again after the fault"},
              {"gap_from_ms", r.gap_from_ms},
              {"gap_to_ms", r.gap_to_ms}});
    }
    results.push_back(r);
  }
  TimeMs worst = 0;
  for (const auto& r : results) worst = std::max(worst, r.unavailable_ms);
  if (over > 0) {
    v.status = VerdictStatus::Fail;
    v.summary = std::to_string(over) + " fault(s) exceeded the RTO bound";
  } else if (results.empty()) {
    v.summary = "no fault was applied";
  } else {
    v.summary =
        "worst write unavailability " + std::to_string(worst) + " ms" +
        (c.rto_max_ms ? " (bound " + std::to_string(*c.rto_max_ms) + " ms)" : " (no bound)");
  }
  if (out) *out = std::move(results);
  return v;
}

PromotionEvidence find_promotion(const History& h) {
  PromotionEvidence e;
  /* promotions: another node acked writes after the initial primary, or reported writable */
  for (const auto& op : h.ops) {
    if (op.outcome != OpOutcome::Ok) continue;
    if (!h.initial_primary.empty() && op.node != h.initial_primary &&
        (!e.first_other || op.complete_ms < e.first_other->complete_ms)) {
      e.first_other = &op;
    }
  }
  for (const auto& s : h.fsm) {
    if (s.node != h.initial_primary && pgaf::can_take_writes_in_state(s.reported) &&
        s.t_ms >= h.phases.faults_start_ms && h.phases.faults_start_ms >= 0) {
      e.sample = &s;
      break;
    }
  }
  return e;
}

Verdict check_failover(const History& h, const CheckConfig& c) {
  Verdict v{"failover", VerdictStatus::Pass, "", nlohmann::json::array()};
  const PromotionEvidence e = find_promotion(h);
  const Op* first_other = e.first_other;
  const bool promoted_sample = e.sample != nullptr;
  nlohmann::json sample_witness;
  if (e.sample)
    sample_witness = {
        {"t_ms", e.sample->t_ms}, {"node", e.sample->node}, {"reported", e.sample->reported}};
  const bool promoted = e.promoted();
  if (c.failover == FailoverExpectation::Required && !promoted) {
    v.status = VerdictStatus::Fail;
    v.summary = "no failover happened, one was required";
  } else if (c.failover == FailoverExpectation::Forbidden && promoted) {
    v.status = VerdictStatus::Fail;
    v.summary = "a failover happened, none was allowed";
    if (first_other) add_witness(v, op_witness(*first_other));
    if (promoted_sample) add_witness(v, sample_witness);
  } else if (!c.new_primary.empty() && first_other && first_other->node != c.new_primary) {
    v.status = VerdictStatus::Fail;
    v.summary = first_other->node + " was promoted, expected " + c.new_primary;
    add_witness(v, op_witness(*first_other));
  } else if (!c.new_primary.empty() && !first_other) {
    v.status = VerdictStatus::Fail;
    v.summary = "no node other than " + h.initial_primary + " acknowledged writes, expected " +
                c.new_primary;
  } else {
    v.summary = std::string(promoted ? "a promotion happened" : "no promotion happened") +
                " (expected: " + to_string(c.failover) + ")";
  }
  return v;
}

Verdict check_convergence(const History& h, const CheckConfig& c) {
  Verdict v{"convergence", VerdictStatus::Pass, "", nlohmann::json::array()};
  if (h.phases.heal_ms < 0 || h.phases.converge_deadline_ms < 0) {
    v.status = VerdictStatus::Fail;
    v.summary = "the run did not reach the heal phase";
    return v;
  }
  std::vector<const FsmSample*> fsm;
  for (const auto& s : h.fsm) fsm.push_back(&s);
  std::stable_sort(fsm.begin(), fsm.end(),
                   [](const FsmSample* a, const FsmSample* b) { return a->t_ms < b->t_ms; });
  std::map<std::string, const FsmSample*> cur;
  std::optional<TimeMs> converged;
  auto matches = [&]() {
    if (cur.size() != h.nodes.size()) return false;
    std::map<std::string, int> counts;
    for (const auto& [n, s] : cur) {
      if (s->reported != s->goal) return false;
      counts[s->reported]++;
    }
    return counts == c.final_states;
  };
  for (size_t i = 0; i < fsm.size(); ++i) {
    cur[fsm[i]->node] = fsm[i];
    const bool last_at_t = i + 1 == fsm.size() || fsm[i + 1]->t_ms != fsm[i]->t_ms;
    if (!last_at_t || fsm[i]->t_ms < h.phases.heal_ms) continue;
    if (matches()) {
      converged = fsm[i]->t_ms;
      break;
    }
  }
  std::string expected;
  for (const auto& [s, n] : c.final_states)
    expected += (expected.empty() ? "" : ", ") + std::to_string(n) + " " + s;
  /* converged also means serving: a write invoked after the heal was acknowledged */
  std::optional<TimeMs> first_write;
  for (const auto& op : h.ops) {
    if (op.outcome == OpOutcome::Ok && op.invoke_ms >= h.phases.heal_ms &&
        (!first_write || op.complete_ms < *first_write)) {
      first_write = op.complete_ms;
    }
  }
  if (converged && !first_write) {
    v.status = VerdictStatus::Fail;
    v.summary = "the monitor reports " + expected + " but no write was acknowledged after the heal";
    add_witness(v, {{"explanation", "states converged, writes did not resume"},
                    {"states_converged_ms", *converged},
                    {"heal_ms", h.phases.heal_ms}});
    return v;
  }
  if (converged) converged = std::max(*converged, *first_write);
  if (converged && *converged <= h.phases.converge_deadline_ms) {
    v.summary = "converged to " + expected + " " + std::to_string(*converged - h.phases.heal_ms) +
                " ms after heal";
  } else {
    v.status = VerdictStatus::Fail;
    v.summary = converged ? "converged " + std::to_string(*converged - h.phases.heal_ms) +
                                " ms after heal, later than the bound"
                          : "did not converge to " + expected + " within the bound";
    nlohmann::json states = nlohmann::json::object();
    /* the last states seen before the deadline */
    std::map<std::string, const FsmSample*> at_deadline;
    for (const auto* s : fsm) {
      if (s->t_ms <= h.phases.converge_deadline_ms) at_deadline[s->node] = s;
    }
    for (const auto& [n, s] : at_deadline) states[n] = s->reported + " (goal " + s->goal + ")";
    add_witness(v, {{"explanation", "monitor states at the deadline"},
                    {"states", states},
                    {"deadline_ms", h.phases.converge_deadline_ms}});
  }
  return v;
}

Verdict check_warmup(const History& h, const CheckConfig& c) {
  Verdict v{"warmup", VerdictStatus::Pass, "", nlohmann::json::array()};
  int total = 0, ok = 0;
  for (const auto& op : h.ops) {
    if (op.invoke_ms >= h.phases.warmup_start_ms && op.invoke_ms < h.phases.faults_start_ms) {
      ++total;
      ok += op.outcome == OpOutcome::Ok ? 1 : 0;
    }
  }
  const double ratio = total == 0 ? 0.0 : static_cast<double>(ok) / static_cast<double>(total);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", ratio);
  if (total == 0 || ratio < c.warmup_min_ok_ratio) {
    v.status = VerdictStatus::Fail;
    v.summary = "steady state not reached: " + std::to_string(ok) + "/" + std::to_string(total) +
                " writes acknowledged during warm-up (ratio " + buf + ")";
    for (const auto& op : h.ops) {
      if (op.invoke_ms >= h.phases.warmup_start_ms && op.invoke_ms < h.phases.faults_start_ms &&
          op.outcome != OpOutcome::Ok) {
        add_witness(v, op_witness(op));
        if (v.witnesses.size() >= 5) break;
      }
    }
  } else {
    v.summary = std::to_string(ok) + "/" + std::to_string(total) +
                " writes acknowledged during warm-up (ratio " + buf + ")";
  }
  return v;
}

Verdict check_writable_primaries(const History& h) {
  Verdict v{"writable_primaries", VerdictStatus::Pass, "", nlohmann::json::array()};
  struct Span {
    TimeMs from, to;
    int timeline;
  };
  /* per node: merged spans during which its own sampler saw it writable; a sample vouches for
   * at most two sampling periods (a late next sample does not stretch it) */
  constexpr TimeMs kVouchMs = 200;
  std::map<std::string, std::vector<const Sample*>> by_node;
  for (const auto& s : h.samples) by_node[s.node].push_back(&s);
  std::map<std::string, std::vector<Span>> spans;
  for (auto& [node, ss] : by_node) {
    std::stable_sort(ss.begin(), ss.end(),
                     [](const Sample* a, const Sample* b) { return a->t_ms < b->t_ms; });
    for (size_t i = 0; i < ss.size(); ++i) {
      const Sample& s = *ss[i];
      if (!s.reachable || s.in_recovery || s.read_only) continue;
      const TimeMs end =
          std::min(s.t_ms + kVouchMs, i + 1 < ss.size() ? ss[i + 1]->t_ms : s.t_ms + kVouchMs);
      auto& list = spans[node];
      if (!list.empty() && list.back().to >= s.t_ms) {
        list.back().to = std::max(list.back().to, end);
      } else {
        list.push_back({s.t_ms, end, s.timeline});
      }
    }
  }
  int overlaps = 0;
  TimeMs worst = 0;
  for (auto a = spans.begin(); a != spans.end(); ++a) {
    for (auto b = std::next(a); b != spans.end(); ++b) {
      for (const Span& x : a->second) {
        for (const Span& y : b->second) {
          const TimeMs from = std::max(x.from, y.from), to = std::min(x.to, y.to);
          if (to - from <= 0) continue;
          worst = std::max(worst, to - from);
          if (to - from <= kWritableOverlapToleranceMs) continue;
          ++overlaps;
          add_witness(v, {{"explanation",
                           a->first + " (timeline " + std::to_string(x.timeline) + ") and " +
                               b->first + " (timeline " + std::to_string(y.timeline) +
                               ") were both writable for " + std::to_string(to - from) + " ms"},
                          {"from_ms", from},
                          {"to_ms", to}});
        }
      }
    }
  }
  if (overlaps > 0) {
    v.status = VerdictStatus::Fail;
    v.summary = std::to_string(overlaps) + " period(s) with two writable nodes longer than " +
                std::to_string(kWritableOverlapToleranceMs) + " ms";
  } else {
    v.summary = "never two writable nodes for more than " +
                std::to_string(kWritableOverlapToleranceMs) + " ms (longest overlap " +
                std::to_string(worst) + " ms, sampler inside each node)";
  }
  return v;
}

bool CheckResult::passed() const {
  return std::all_of(verdicts.begin(), verdicts.end(),
                     [](const Verdict& v) { return v.status != VerdictStatus::Fail; }) &&
         !verdicts.empty();
}

const Verdict* CheckResult::find(const std::string& checker) const {
  for (const auto& v : verdicts) {
    if (v.checker == checker) return &v;
  }
  return nullptr;
}

CheckResult check_history(const History& h, const CheckConfig& c) {
  CheckResult r;
  for (const auto& op : h.ops) {
    if (op.outcome == OpOutcome::Ok) ++r.acked;
    if (op.outcome == OpOutcome::Fail) ++r.failed;
    if (op.outcome == OpOutcome::Unknown) ++r.unknown;
  }
  r.verdicts.push_back(check_warmup(h, c));
  r.verdicts.push_back(check_split_brain(h));
  r.verdicts.push_back(check_writable_primaries(h));
  r.verdicts.push_back(check_timelines(h));
  r.verdicts.push_back(check_lost_writes(h, c, &r.lost_writes, &r.recovered_unknown));
  r.verdicts.push_back(check_rto(h, c, &r.rto));
  r.verdicts.push_back(check_failover(h, c));
  r.verdicts.push_back(check_convergence(h, c));
  return r;
}

nlohmann::json to_json(const Verdict& v) {
  return {{"checker", v.checker},
          {"verdict", to_string(v.status)},
          {"summary", v.summary},
          {"witnesses", v.witnesses}};
}

nlohmann::json to_json(const FaultRto& r) {
  nlohmann::json j = {{"fault", r.fault},
                      {"start_ms", r.start_ms},
                      {"window_end_ms", r.window_end_ms},
                      {"recovered", r.recovered},
                      {"unavailable_ms", r.unavailable_ms},
                      {"gap_from_ms", r.gap_from_ms},
                      {"gap_to_ms", r.gap_to_ms}};
  auto opt = [&](const char* k, const std::optional<TimeMs>& x) {
    j[k] = x ? nlohmann::json(*x) : nlohmann::json(nullptr);
  };
  opt("detect_ms", r.detect_ms);
  opt("decide_ms", r.decide_ms);
  opt("promote_ms", r.promote_ms);
  opt("reconnect_ms", r.reconnect_ms);
  return j;
}

}  // namespace pgaf::lab
