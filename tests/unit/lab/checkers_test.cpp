/*
 * checkers_test.cpp — the checkers on synthetic histories. A clean failover passes everything;
 * histories built to violate an invariant (split brain, lost acknowledged write, double
 * promotion, timeline going back, RTO over its bound, no convergence) MUST fail, with witnesses.
 */
#include "pgaf/lab/checkers.hpp"

#include <gtest/gtest.h>

#include "history_builder.hpp"
#include "pgaf/core/state.hpp"

using namespace pgaf::lab;
using labtest::Builder;
using pgaf::TimeMs;

namespace {

CheckConfig sync_config() {
  CheckConfig c;
  c.sync_replication = true;
  c.lost_writes_max = 0;
  c.rto_max_ms = 10000;
  c.failover = FailoverExpectation::Required;
  c.final_states = {{"primary", 1}, {"secondary", 2}};
  return c;
}

}  // namespace

TEST(Checkers, CleanFailoverPassesEveryChecker) {
  Builder b = Builder::clean_failover();
  ASSERT_TRUE(b.h.validate().ok());
  const CheckResult r = check_history(b.h, sync_config());
  for (const auto& v : r.verdicts)
    EXPECT_EQ(v.status, VerdictStatus::Pass) << v.checker << ": " << v.summary;
  EXPECT_TRUE(r.passed());
  EXPECT_EQ(r.lost_writes, 0);
  EXPECT_EQ(r.unknown, 1);
  EXPECT_EQ(r.failed, 1);
  ASSERT_EQ(r.rto.size(), 1u);
  const FaultRto& x = r.rto[0];
  /* last ack before the fault completed at 9920, first ack after at 13520 */
  EXPECT_EQ(x.gap_from_ms, 9920);
  EXPECT_EQ(x.gap_to_ms, 13520);
  EXPECT_EQ(x.unavailable_ms, 3600);
  EXPECT_TRUE(x.recovered);
  ASSERT_TRUE(x.detect_ms && x.decide_ms && x.promote_ms && x.reconnect_ms);
  EXPECT_EQ(*x.detect_ms, 800);    /* 10000 → 10800 node1 unhealthy */
  EXPECT_EQ(*x.decide_ms, 200);    /* 10800 → 11000 report_lsn assigned */
  EXPECT_EQ(*x.promote_ms, 2000);  /* 11000 → 13000 node2 reports primary */
  EXPECT_EQ(*x.reconnect_ms, 520); /* 13000 → 13520 first acked write */
  const Verdict* conv = r.find("convergence");
  ASSERT_NE(conv, nullptr);
  EXPECT_NE(conv->summary.find("1000 ms after heal"), std::string::npos) << conv->summary;
}

TEST(Checkers, SplitBrainHistoryFailsWithWitness) {
  Builder b = Builder::clean_failover();
  /* the old primary keeps acknowledging on timeline 1 after node2 acked on timeline 2 */
  Op& late = b.op(14000, 14010, OpOutcome::Ok, "node1", 1, 999999);
  const std::int64_t late_id = late.id;
  b.h.final.values.insert(late.value);
  const Verdict v = check_split_brain(b.h);
  ASSERT_EQ(v.status, VerdictStatus::Fail) << v.summary;
  ASSERT_FALSE(v.witnesses.empty());
  const auto& w = v.witnesses[0];
  EXPECT_EQ(w["before"]["node"], "node1");
  EXPECT_EQ(w["other"]["node"], "node2");
  EXPECT_EQ(w["after"]["id"], late_id);
  EXPECT_EQ(w["after"]["timeline"], 1);
  /* the timeline checker sees the same fact from the other side */
  const Verdict t = check_timelines(b.h);
  EXPECT_EQ(t.status, VerdictStatus::Fail);
  EXPECT_FALSE(check_history(b.h, sync_config()).passed());
}

TEST(Checkers, OverlapOnlyWithinOneNodeIsNotSplitBrain) {
  /* failback: node1 tl1, node2 tl2, node1 again on tl3 — three epochs, never overlapping */
  Builder b(2);
  b.op(1000, 1010, OpOutcome::Ok, "node1", 1);
  b.op(2000, 2010, OpOutcome::Ok, "node2", 2);
  b.op(3000, 3010, OpOutcome::Ok, "node1", 3);
  EXPECT_EQ(check_split_brain(b.h).status, VerdictStatus::Pass);
  EXPECT_EQ(check_timelines(b.h).status, VerdictStatus::Pass);
  /* concurrent (overlapping intervals) acks of a switchover are not proof of split brain */
  Builder c(2);
  c.op(1000, 1500, OpOutcome::Ok, "node1", 1);
  c.op(1100, 1400, OpOutcome::Ok, "node2", 2);
  EXPECT_EQ(check_split_brain(c.h).status, VerdictStatus::Pass);
}

TEST(Checkers, LostAcknowledgedWriteFailsUnderSyncReplication) {
  Builder b = Builder::clean_failover();
  /* an acked write on node1 just before the crash did not make it to node2 */
  const Op& lost = b.op(9950, 9990, OpOutcome::Ok, "node1", 1, 0x3000060);
  const std::int64_t lost_id = lost.id;
  int n = 0, rec = 0;
  const Verdict v = check_lost_writes(b.h, sync_config(), &n, &rec);
  ASSERT_EQ(v.status, VerdictStatus::Fail) << v.summary;
  EXPECT_EQ(n, 1);
  ASSERT_EQ(v.witnesses.size(), 1u);
  EXPECT_EQ(v.witnesses[0]["id"], lost_id);
  EXPECT_EQ(v.witnesses[0]["node"], "node1");
  EXPECT_EQ(v.witnesses[0]["timeline"], 1);
  EXPECT_EQ(v.witnesses[0]["lsn"], 0x3000060);
  EXPECT_FALSE(check_history(b.h, sync_config()).passed());
}

TEST(Checkers, AsyncLossIsCountedAsRpoNotFailed) {
  Builder b = Builder::clean_failover();
  b.op(9950, 9990, OpOutcome::Ok, "node1", 1);
  b.op(9960, 9995, OpOutcome::Ok, "node1", 1);
  CheckConfig c = sync_config();
  c.sync_replication = false;
  c.lost_writes_max.reset();
  int n = 0, rec = 0;
  const Verdict v = check_lost_writes(b.h, c, &n, &rec);
  EXPECT_EQ(v.status, VerdictStatus::Pass);
  EXPECT_EQ(n, 2);
  EXPECT_NE(v.summary.find("RPO = 2"), std::string::npos) << v.summary;
  /* an explicit bound below the loss fails */
  c.lost_writes_max = 1;
  EXPECT_EQ(check_lost_writes(b.h, c, &n, &rec).status, VerdictStatus::Fail);
}

TEST(Checkers, UnknownOutcomesAreNeverLostOrOk) {
  Builder b = Builder::clean_failover();
  const Op& u1 = b.op(9990, 12000, OpOutcome::Unknown);
  b.h.final.values.insert(u1.value);     /* it did commit: recovered */
  b.op(9991, 12000, OpOutcome::Unknown); /* did not commit: not lost either */
  int n = -1, rec = -1;
  const Verdict v = check_lost_writes(b.h, sync_config(), &n, &rec);
  EXPECT_EQ(v.status, VerdictStatus::Pass);
  EXPECT_EQ(n, 0);
  EXPECT_EQ(rec, 1);
}

TEST(Checkers, LostWritesFailWhenTheFinalPrimaryCouldNotBeRead) {
  Builder b = Builder::clean_failover();
  b.h.final.read_ok = false;
  b.h.final.read_error = "no primary";
  EXPECT_EQ(check_lost_writes(b.h, sync_config(), nullptr, nullptr).status, VerdictStatus::Fail);
}

TEST(Checkers, DoublePromotionOnOneTimelineFails) {
  Builder b(3);
  b.op(1000, 1010, OpOutcome::Ok, "node1", 1);
  b.op(2000, 2010, OpOutcome::Ok, "node2", 2);
  b.op(3000, 3010, OpOutcome::Ok, "node3", 2);
  const Verdict v = check_timelines(b.h);
  ASSERT_EQ(v.status, VerdictStatus::Fail);
  EXPECT_NE(v.witnesses[0]["explanation"].get<std::string>().find("double promotion"),
            std::string::npos);
}

TEST(Checkers, SampledTimelineGoingBackFails) {
  Builder b = Builder::clean_failover();
  /* a standby's lagging timeline is not a violation */
  b.h.samples.push_back({29000, "node3", true, true, false, 1, 0});
  EXPECT_EQ(check_timelines(b.h).status, VerdictStatus::Pass);
  /* a primary's is */
  b.h.samples.push_back({29600, "node2", true, false, false, 1, 0});
  const Verdict v = check_timelines(b.h);
  ASSERT_EQ(v.status, VerdictStatus::Fail);
  EXPECT_NE(
      v.witnesses[0]["explanation"].get<std::string>().find("node2 went from timeline 2 to 1"),
      std::string::npos);
}

TEST(Checkers, RtoOverBoundAndNeverRecoveredFail) {
  Builder b = Builder::clean_failover();
  CheckConfig c = sync_config();
  c.rto_max_ms = 3000; /* the gap is 3600 ms */
  std::vector<FaultRto> out;
  Verdict v = check_rto(b.h, c, &out);
  ASSERT_EQ(v.status, VerdictStatus::Fail);
  EXPECT_EQ(v.witnesses[0]["fault"], "kill-primary");

  Builder dead(2);
  for (TimeMs t = 1000; t < 10000; t += 100) dead.op(t, t + 10, OpOutcome::Ok, "node1", 1);
  dead.op(10050, 12050, OpOutcome::Unknown);
  dead.h.faults.push_back({"ifdown", "ifdown", {"node1"}, 10000, -1, "", false});
  v = check_rto(dead.h, c, &out);
  ASSERT_EQ(v.status, VerdictStatus::Fail);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].recovered);
  EXPECT_EQ(out[0].gap_to_ms, 12050); /* the last failed attempt */
  /* a short trailing gap after the workload stopped is not an outage */
  Builder tail(2);
  for (TimeMs t = 1000; t < 20000; t += 100) tail.op(t, t + 10, OpOutcome::Ok, "node1", 1);
  tail.h.faults.push_back({"monitor-down", "monitor_loss", {"monitor"}, 10000, 15000, "", false});
  v = check_rto(tail.h, c, &out);
  EXPECT_EQ(v.status, VerdictStatus::Pass) << v.summary;
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].recovered);
  EXPECT_EQ(out[0].unavailable_ms, 100);
}

TEST(Checkers, FailoverExpectation) {
  Builder b = Builder::clean_failover();
  CheckConfig c = sync_config();
  c.failover = FailoverExpectation::Forbidden;
  const Verdict v = check_failover(b.h, c);
  ASSERT_EQ(v.status, VerdictStatus::Fail);
  EXPECT_FALSE(v.witnesses.empty());
  Builder quiet(2);
  for (TimeMs t = 1000; t < 20000; t += 100) quiet.op(t, t + 10, OpOutcome::Ok, "node1", 1);
  c.failover = FailoverExpectation::Required;
  EXPECT_EQ(check_failover(quiet.h, c).status, VerdictStatus::Fail);
  c.failover = FailoverExpectation::Forbidden;
  EXPECT_EQ(check_failover(quiet.h, c).status, VerdictStatus::Pass);
  /* the expected candidate must be the one promoted */
  c.failover = FailoverExpectation::Required;
  c.new_primary = "node3";
  const Verdict wrong = check_failover(b.h, c);
  ASSERT_EQ(wrong.status, VerdictStatus::Fail);
  EXPECT_EQ(wrong.summary, "node2 was promoted, expected node3");
  c.new_primary = "node2";
  EXPECT_EQ(check_failover(b.h, c).status, VerdictStatus::Pass);
}

TEST(Checkers, ConvergenceMissingOrLateFails) {
  Builder b = Builder::clean_failover();
  CheckConfig c = sync_config();
  c.final_states = {{"primary", 1}, {"secondary", 1}, {"catchingup", 1}};
  Verdict v = check_convergence(b.h, c);
  ASSERT_EQ(v.status, VerdictStatus::Fail);
  EXPECT_EQ(v.witnesses[0]["states"]["node1"], "secondary (goal secondary)");
  /* converged at 21000 but the bound is 20500 */
  c = sync_config();
  b.h.phases.converge_deadline_ms = 20500;
  v = check_convergence(b.h, c);
  EXPECT_EQ(v.status, VerdictStatus::Fail);
  EXPECT_NE(v.summary.find("later than the bound"), std::string::npos) << v.summary;
  /* a node whose reported state differs from its goal is not converged */
  Builder g(2);
  g.h.fsm.push_back({21000, "node1", "primary", "primary", "good"});
  g.h.fsm.push_back({21000, "node2", "catchingup", "secondary", "good"});
  c.final_states = {{"primary", 1}, {"secondary", 1}};
  EXPECT_EQ(check_convergence(g.h, c).status, VerdictStatus::Fail);
  /* states converged but no write acknowledged after the heal: not converged */
  Builder stuck = Builder::clean_failover();
  c = sync_config();
  std::vector<Op> kept;
  for (const auto& op : stuck.h.ops) {
    if (op.invoke_ms < 20000) kept.push_back(op);
  }
  stuck.h.ops = kept;
  v = check_convergence(stuck.h, c);
  ASSERT_EQ(v.status, VerdictStatus::Fail);
  EXPECT_NE(v.summary.find("no write was acknowledged after the heal"), std::string::npos)
      << v.summary;
}

TEST(Checkers, WarmupNeedsAcknowledgedWrites) {
  Builder b(2);
  EXPECT_EQ(check_warmup(b.h, sync_config()).status, VerdictStatus::Fail);
  for (TimeMs t = 1000; t < 5000; t += 100)
    b.op(t, t + 5, t % 1000 == 0 ? OpOutcome::Fail : OpOutcome::Ok, "node1", 1);
  CheckConfig c = sync_config();
  c.warmup_min_ok_ratio = 0.95; /* 4 of 40 failed: 0.9 */
  EXPECT_EQ(check_warmup(b.h, c).status, VerdictStatus::Fail);
  c.warmup_min_ok_ratio = 0.85;
  EXPECT_EQ(check_warmup(b.h, c).status, VerdictStatus::Pass);
}

TEST(History, JsonRoundTripAndValidation) {
  Builder b = Builder::clean_failover();
  const auto j = to_json(b.h);
  auto back = history_from_json(j);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->ops.size(), b.h.ops.size());
  EXPECT_EQ(back->final.values, b.h.final.values);
  EXPECT_EQ(to_json(*back), j);
  /* the same verdicts from the round-tripped history */
  EXPECT_EQ(check_history(*back, sync_config()).passed(), true);

  auto broken = j;
  broken["ops"][0]["outcome"] = "maybe";
  EXPECT_FALSE(history_from_json(broken).ok());
  broken = j;
  broken["ops"][0]["complete_ms"] = -5;
  EXPECT_FALSE(history_from_json(broken).ok());
  broken = j;
  broken["ops"][0]["node"] = "node9";
  EXPECT_FALSE(history_from_json(broken).ok());
  broken = j;
  broken.erase("phases");
  auto r = history_from_json(broken);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("phases"), std::string::npos);
}

TEST(Checkers, TwoWritableNodesPerSamplerFail) {
  Builder b = Builder::clean_failover();
  EXPECT_EQ(check_writable_primaries(b.h).status, VerdictStatus::Pass);
  /* node1 stays writable on its loopback (fencing broken) while node2 is primary */
  for (TimeMs t = 13000; t < 16000; t += 100) {
    b.h.samples.push_back({t, "node1", true, false, false, 1, 0});
    b.h.samples.push_back({t + 50, "node2", true, false, false, 2, 0});
  }
  const Verdict v = check_writable_primaries(b.h);
  ASSERT_EQ(v.status, VerdictStatus::Fail) << v.summary;
  ASSERT_FALSE(v.witnesses.empty());
  EXPECT_NE(v.witnesses[0]["explanation"].get<std::string>().find(
                "node1 (timeline 1) and node2 (timeline 2)"),
            std::string::npos)
      << v.witnesses.dump();
  EXPECT_EQ(v.witnesses[0]["from_ms"], 13000);
  /* a short overlap (sampling skew at a switchover) is tolerated */
  Builder c = Builder::clean_failover();
  c.h.samples.push_back({13000, "node1", true, false, false, 1, 0});
  c.h.samples.push_back({13100, "node1", true, false, false, 1, 0});
  EXPECT_EQ(check_writable_primaries(c.h).status, VerdictStatus::Pass);
}

/* The checkers judge "writable" with core's can_take_writes_in_state, for every state: a node
 * other than the initial primary seen in a writable state after the faults began is a promotion,
 * whatever the writable state (the lab once knew only single/wait_primary/primary, so a promoted
 * node seen in join_primary or apply_settings was no promotion at all). */
TEST(Checkers, EveryWritableStateOfAnotherNodeIsAPromotion) {
  for (const pgaf::NodeState st : pgaf::all_node_states()) {
    const std::string name(pgaf::to_string(st));
    Builder b(2);
    for (TimeMs t = 0; t < 30000; t += 500)
      b.fsm_all(t, {"primary", t < 12000 ? "secondary" : name});
    CheckConfig c;
    c.failover = FailoverExpectation::Required;
    const bool writable = pgaf::can_take_writes_in_state(st);
    EXPECT_EQ(check_failover(b.h, c).status, writable ? VerdictStatus::Pass : VerdictStatus::Fail)
        << name;
    c.failover = FailoverExpectation::Forbidden;
    const Verdict v = check_failover(b.h, c);
    EXPECT_EQ(v.status, writable ? VerdictStatus::Fail : VerdictStatus::Pass) << name;
    if (writable) {
      ASSERT_FALSE(v.witnesses.empty()) << name;
      EXPECT_EQ(v.witnesses[0].value("reported", ""), name);
    }
  }
}

/* The RTO breakdown's promotion time is the first writable report after the decision, whatever
 * the writable state. */
TEST(Checkers, RtoPromotionTimeCountsEveryWritableState) {
  for (const char* writable : {"wait_primary", "primary", "join_primary", "apply_settings"}) {
    Builder b = Builder::clean_failover();
    b.h.events.back().reported = writable;
    b.h.events.back().goal = writable;
    std::vector<FaultRto> out;
    (void)check_rto(b.h, sync_config(), &out);
    ASSERT_EQ(out.size(), 1u);
    ASSERT_TRUE(out[0].promote_ms.has_value()) << writable;
  }
}
