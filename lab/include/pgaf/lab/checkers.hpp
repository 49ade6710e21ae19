/*
 * checkers.hpp — the invariants a lab run must satisfy, computed over a recorded History.
 *
 * Each checker returns a Verdict: pass / fail / skipped, a one-line summary, and witnesses (the
 * ops, samples or events that prove a failure, e.g. the lost write's id, node, timeline, LSN).
 * Checkers are pure functions of (History, CheckConfig): the same history always gives the same
 * verdicts, which is what makes them unit-testable on synthetic histories.
 *
 * The checkers:
 *  split_brain   no two nodes acknowledged writes in overlapping time: an epoch (node, timeline)
 *                must not ack a write both strictly before and strictly after an ack of another
 *                node's epoch;
 *  timelines     one node per timeline among acked writes; for acked a, b with a before b in real
 *                time, tl(a) <= tl(b); each node's sampled timeline never goes down;
 *  lost_writes   every acked write is on the final primary (bounded by lost_writes_max; with sync
 *                replication the bound is 0), unknown outcomes are never counted; the count under
 *                async replication is the RPO;
 *  rto           per fault, client-observed write unavailability (longest gap between acked writes
 *                overlapping the fault's window) against rto_max, split into detect / decide /
 *                promote / reconnect from the monitor's events where they exist;
 *  failover      a promotion happened (required) or did not (forbidden);
 *  convergence   after heal, the monitor reports the expected final states within the bound;
 *  warmup        the steady-state check before faults: enough acked writes;
 *  writable_primaries  the sampler (inside each node, over loopback) never saw two nodes
 *                writable (not in recovery, not read-only) at the same time for longer than
 *                kWritableOverlapToleranceMs (sampling skew between nodes is up to one period).
 */
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pgaf/lab/history.hpp"
#include "pgaf/lab/scenario.hpp"

namespace pgaf::lab {

enum class VerdictStatus { Pass, Fail, Skipped };
std::string to_string(VerdictStatus s);

struct Verdict {
  std::string checker;
  VerdictStatus status = VerdictStatus::Pass;
  std::string summary;
  nlohmann::json witnesses = nlohmann::json::array();
};

struct FaultRto {
  std::string fault;
  TimeMs start_ms = 0;
  TimeMs window_end_ms = 0;
  bool recovered = false;    /* an acked write completed after the gap */
  TimeMs unavailable_ms = 0; /* longest gap between acked writes overlapping the window */
  TimeMs gap_from_ms = 0;
  TimeMs gap_to_ms = 0;
  std::optional<TimeMs> detect_ms;    /* fault start → first monitor event about a target */
  std::optional<TimeMs> decide_ms;    /* detect → first promotion-path goal assigned */
  std::optional<TimeMs> promote_ms;   /* decide → another node reports a writable state */
  std::optional<TimeMs> reconnect_ms; /* promote → first acked write after the gap */
};

struct CheckConfig {
  std::optional<int> lost_writes_max;
  std::optional<TimeMs> rto_max_ms;
  FailoverExpectation failover = FailoverExpectation::Allowed;
  std::string new_primary; /* when set: the first node other than the initial primary to ack */
  std::map<std::string, int> final_states;
  double warmup_min_ok_ratio = 0.95;
  bool sync_replication = false;
};
CheckConfig check_config_for(const Scenario& sc);

struct CheckResult {
  std::vector<Verdict> verdicts;
  std::vector<FaultRto> rto;
  int acked = 0, failed = 0, unknown = 0;
  int lost_writes = 0;
  int recovered_unknown = 0; /* unknown ops whose value is on the final primary */
  bool passed() const;
  const Verdict* find(const std::string& checker) const;
};

Verdict check_split_brain(const History& h);
Verdict check_timelines(const History& h);
Verdict check_lost_writes(const History& h, const CheckConfig& c, int* lost, int* recovered);
Verdict check_rto(const History& h, const CheckConfig& c, std::vector<FaultRto>* out);
Verdict check_failover(const History& h, const CheckConfig& c);
/* Evidence that a node other than the initial primary was promoted: its first acknowledged
 * write, or its first FSM sample in a writable state after the faults started. */
struct PromotionEvidence {
  const Op* first_other = nullptr;
  const FsmSample* sample = nullptr;
  bool promoted() const { return first_other != nullptr || sample != nullptr; }
};
PromotionEvidence find_promotion(const History& h);
Verdict check_convergence(const History& h, const CheckConfig& c);
Verdict check_warmup(const History& h, const CheckConfig& c);
inline constexpr TimeMs kWritableOverlapToleranceMs = 500;
Verdict check_writable_primaries(const History& h);

/* All checkers, in the order above. */
CheckResult check_history(const History& h, const CheckConfig& c);

nlohmann::json to_json(const Verdict& v);
nlohmann::json to_json(const FaultRto& r);

}  // namespace pgaf::lab
