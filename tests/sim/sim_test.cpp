/*
 * sim_test.cpp — tests of the formation simulator (pgaf/sim).
 *
 * What they pin down:
 *  - determinism: the same schedule gives the same trace twice, and tracing does not perturb it;
 *  - the CI seed range (10,000 schedules) finds no violation of any invariant with the real core;
 *  - a simulator that cannot fail proves nothing: each deliberately broken variant is caught
 *    within a bounded number of seeds, on a seed range where the unbroken model is clean;
 *  - "primary host lost" with default settings: every schedule fails over, RTO p99 ≤ 5 s;
 *  - shrinking keeps the failure and never adds faults;
 *  - the clock model's inverse is exact.
 */
#include "pgaf/sim/sim.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "world.hpp"

namespace pgaf::sim {
namespace {

std::string failure_report(const Summary& s, const RunOptions& base) {
  if (!s.first_failure) return "no failure";
  const Schedule& sch = *s.first_failure_schedule;
  const Violation& v = *s.first_failure->violation;
  std::string out = "violations by kind:";
  for (const auto& [k, c] : s.by_kind) out += " " + k + " " + std::to_string(c);
  out += "\nfailing seeds:";
  for (std::size_t i = 0; i < s.failing_seeds.size() && i < 40; ++i)
    out += " " + std::to_string(s.failing_seeds[i]);
  out += "\nsee docs/simulator.md \"Findings\" for the known causes; first failure:\n";
  out += "seed " + std::to_string(sch.seed) + ": " + v.kind + ": " + v.detail + "\n";
  Schedule m = shrink(sch, v.kind, base, 60);
  out += "minimised: " + describe(m) + "\n";
  out += "replay: pgaf-sim --replay '" + encode(m) + "' --trace\n";
  RunOptions o = base;
  o.trace = true;
  RunResult r = run_schedule(m, o);
  const std::size_t from = r.trace.size() > 120 ? r.trace.size() - 120 : 0;
  for (std::size_t i = from; i < r.trace.size(); ++i) out += r.trace[i] + "\n";
  return out;
}

/* The model options under which the current core is clean of the known findings (see
 * docs/simulator.md "Findings"), so that a broken variant is the only possible cause. */
RunOptions clean_model() {
  RunOptions o;
  o.fence_dies_with_agent = false;
  o.vouch_from_previous_sample = true;
  return o;
}

TEST(Determinism, SameSeedSameTraceAndTracingDoesNotPerturb) {
  for (std::uint64_t seed : {1ULL, 25ULL, 90ULL, 226ULL, 777ULL, 4242ULL}) {
    const Schedule s = generate_schedule(seed, GenOptions{});
    RunOptions t;
    t.trace = true;
    RunResult a = run_schedule(s, t);
    RunResult b = run_schedule(s, t);
    RunResult c = run_schedule(s, RunOptions{});
    ASSERT_GT(a.trace.size(), 20u) << "seed " << seed;
    EXPECT_EQ(a.trace, b.trace) << "seed " << seed;
    EXPECT_EQ(a.trace_hash, b.trace_hash) << "seed " << seed;
    EXPECT_EQ(a.events, c.events) << "seed " << seed;
    EXPECT_EQ(a.acked, c.acked) << "seed " << seed;
    EXPECT_EQ(a.end_us, c.end_us) << "seed " << seed;
    EXPECT_EQ(a.violation.has_value(), c.violation.has_value()) << "seed " << seed;
    /* The generator is a pure function of the seed too. */
    EXPECT_EQ(describe(s), describe(generate_schedule(seed, GenOptions{})));
  }
}

TEST(Seeds, TenThousandSchedulesNoViolation) {
  RunOptions o;
  Summary s = run_seeds(1, 10000, GenOptions{}, o, false);
  std::printf("sim: schedules %lld, violations %lld, RTO p50 %lld ms p99 %lld ms, %.0f seeds/s\n",
              static_cast<long long>(s.schedules), static_cast<long long>(s.violations),
              static_cast<long long>(percentile(s.rto_ms, 50)),
              static_cast<long long>(percentile(s.rto_ms, 99)),
              s.seconds > 0 ? static_cast<double>(s.schedules) / s.seconds : 0.0);
  EXPECT_EQ(s.schedules, 10000);
  EXPECT_EQ(s.violations, 0) << failure_report(s, o);
}

/* Safety findings past the CI range (seeds 10001..210000 on core 20157e3): each failed with a
 * lost synchronous commit (sync_loss) or a core assertion (core_assert). Both the generator's
 * seeds and the minimised schedules (replay tokens, independent of the generator) must run
 * clean. Unit tests in tests/unit/core/decide_test.cpp (DecideElection.*) pin each rule. */
/* A replay token (a minimised schedule) decodes and runs without any violation. */
void expect_token_runs_clean(const char* token, const RunOptions& o) {
  auto sch = decode(token);
  ASSERT_TRUE(sch.ok()) << token;
  RunResult r = run_schedule(*sch, o);
  EXPECT_FALSE(r.violation.has_value())
      << token << ": " << r.violation->kind << ": " << r.violation->detail;
}

TEST(Regression, SafetyFindingsPastTenThousandSeeds) {
  const RunOptions o;
  for (std::uint64_t seed :
       {46144ULL, 94613ULL, 115487ULL, 183684ULL, 203759ULL, 133505ULL, 152005ULL,
        /* sync_loss in 1..1000000: an election counted a stale report_lsn (fresh_lsn) */
        384687ULL, 461118ULL, 465998ULL, 467683ULL, 473536ULL, 512907ULL, 522681ULL, 590505ULL,
        602407ULL, 664817ULL, 715591ULL, 796837ULL, 836695ULL, 892652ULL,
        /* sync_loss: a report_lsn node still streaming answered the election (keeper) */
        465499ULL, 692572ULL, 899575ULL,
        /* a cancelled maintenance takes part in elections; its way back rewinds first */
        206589ULL, 73500ULL, 78858ULL, 193947ULL,
        /* no_edge: demoted is not sent back to demote_timeout */
        259481ULL, 722188ULL, 787519ULL,
        /* convergence: a cancelled or unreached maintenance (stop_maintenance) */
        66458ULL, 99258ULL}) {
    RunResult r = run_schedule(generate_schedule(seed, GenOptions{}), o);
    EXPECT_FALSE(r.violation.has_value())
        << "seed " << seed << ": " << r.violation->kind << ": " << r.violation->detail;
  }
  for (const char* token :
       {"v1;seed=94613;n=4;nss=0;prio=100,100,100,100;q=1,1,1,1;drift=500,381,500,500,500;"
        "f=0,-2,0,3,5701,1893,71,989,0;f=10,-1,0,5,4689,3495,30,189,0;"
        "f=3,-1,0,1,511,5962,34,1116,0;pl=0;broken=none",
        "v1;seed=183684;n=3;nss=0;prio=100,100,90;q=1,1,1;drift=500,215,500,-332;"
        "f=2,-1,0,2,2407,4283,75,130,0;f=10,-2,0,1,1126,878,68,1492,0;"
        "f=3,-2,0,6,944,2662,26,847,0;f=6,-2,0,4,4638,2048,49,743,0;pl=0;broken=none",
        "v1;seed=133505;n=3;nss=0;prio=100,100,90;q=1,1,1;drift=-500,-500,65,-500;"
        "f=15,2,0,0,3815,115,50,315,0;f=12,0,0,6,3429,119,21,1036,0;pl=0;broken=none"}) {
    expect_token_runs_clean(token, o);
  }
}

/* Findings of the simulator once it ran the real keeper (docs/simulator.md K2-K4): each
 * minimised schedule failed against the keeper before its fix — sync_loss (14542: steps-only
 * simulator; 28095: real keeper loop), convergence (43926), and, with the real fence thread,
 * two_writable (66). Unit tests in tests/unit/agent/keeper_test.cpp pin each keeper rule. */
TEST(Regression, RealKeeperFindings) {
  const RunOptions o;
  for (const char* token :
       {/* convergence: an old primary in report_lsn sent to demote_timeout/demoted after a
         * monitor crash (its Postgres could not restart) had no keeper transition */
        "v1;seed=652127;n=3;nss=0;prio=100,100,0;q=1,0,1;drift=274,294,-500,-334;"
        "f=7,-1,0,4,2447,5418,35,198,0;f=12,0,0,2,5914,3355,72,1249,0;f=12,0,0,0,176,2346,49,1319,0;"
        "f=11,0,0,7,5034,5908,62,1359,0;f=12,0,0,0,4929,5617,50,83,0;pl=0;broken=none",
        /* sync_loss: an election past a more advanced quorum node in maintenance */
        "v1;seed=918812;n=3;nss=0;prio=100,100,100;q=1,0,1;drift=-500,500,99,273;"
        "f=0,-1,-2,5,1705,673,67,157,0;f=7,-1,0,1,2145,1355,39,1253,0;"
        "f=14,-2,0,1,1718,2023,73,354,0;pl=0;broken=none",
        "v1;seed=66658;n=3;nss=0;prio=100,100,100;q=1,1,0;drift=-500,-450,-311,500;"
        "f=1,-2,-1,7,3810,5830,69,696,0;f=14,-2,0,2,4338,3807,67,1427,0;"
        "f=9,-1,0,3,5799,1206,20,1484,0;pl=0;broken=none",
        /* sync_loss: the most advanced node answered, then went silent (lossy monitor link) */
        "v1;seed=587884;n=4;nss=0;prio=100,100,100,100;q=1,1,1,1;drift=500,-215,-500,-500,-125;"
        "f=3,-2,0,4,3675,3389,52,1464,0;f=0,-1,0,1,3863,1539,32,352,0;"
        "f=5,-2,0,5,5755,6950,67,959,0;f=3,-1,0,2,3782,8267,27,204,0;pl=0;broken=none",
        /* convergence: fast_forward from an older timeline (get_most_advanced_standby) */
        "v1;seed=446088;n=5;nss=2;prio=100,100,100,100,50;q=1,1,1,1,1;"
        "drift=36,-500,141,-138,500,-42;f=12,0,0,3,5856,113,61,248,0;"
        "f=2,-1,0,6,1389,4329,61,273,0;pl=0;broken=none",
        /* convergence: two candidates promoted (fresh_lsn) */
        "v1;seed=53138;n=3;nss=0;prio=100,100,100;q=1,1,0;drift=-396,-432,-43,225;"
        "f=2,-2,0,7,2421,524,71,780,0;f=7,-2,0,6,2781,5252,50,917,0;"
        "f=5,-1,0,4,5702,2298,24,847,0;pl=0;broken=none",
        "v1;seed=14542;n=5;nss=0;prio=100,0,100,90,100;q=1,1,1,1,0;drift=500,-285,319,-500,500,-20;"
        "f=11,0,0,7,1885,5877,68,287,0;f=10,-1,0,1,2313,2002,35,53,0;"
        "f=13,-2,0,7,183,102,49,1050,0;pl=0;broken=none",
        "v1;seed=28095;n=3;nss=1;prio=100,90,100;q=1,1,1;drift=500,500,500,500;"
        "f=5,-2,0,5,400,2134,72,262,0;f=0,-1,0,5,5482,1801,48,1017,0;"
        "f=0,2,0,6,5343,996,36,1146,0;f=12,0,0,7,784,156,24,88,0;f=9,-1,0,2,158,359,48,628,0;"
        "pl=0;broken=none",
        "v1;seed=43926;n=4;nss=0;prio=100,100,100,0;q=1,0,1,0;drift=232,500,500,-500,-62;"
        "f=2,2,0,0,195,5623,51,415,0;f=5,-1,0,3,3793,3913,57,1088,0;pl=0;broken=none",
        "v1;seed=66;n=3;nss=0;prio=100,100,100;q=1,0,1;drift=-500,-500,500,500;"
        "f=6,2,0,3,4624,3752,71,634,0;f=0,-1,0,7,4208,5403,52,1100,0;pl=0;broken=none"}) {
    expect_token_runs_clean(token, o);
  }
}

/* One-way partition primary -> standby under synchronous replication (issue 13 part 3): the
 * standby still reaches the primary and the monitor but receives nothing. The primary's agent
 * reports it as not acknowledging after standby_ack_timeout_ms; the monitor moves it to
 * catchingup and the primary to wait_primary: writes resume within 5 s (the reference stalls until
 * the standby's health check fails), nothing acknowledged is lost, and the group converges. */
TEST(OneWay, PrimaryToStandbyStallsWritesForLessThanFiveSeconds) {
  const RunOptions o;
  for (const char* token :
       {"v1;seed=7;n=2;nss=0;prio=100,100;q=1,1;drift=0,0,0;f=1,-1,-2,0,3000,8000,50,500,0;pl=0;"
        "broken=none",
        "v1;seed=8;n=3;nss=1;prio=100,100,100;q=1,1,1;drift=300,-300,500,-500;"
        "f=1,-1,-2,0,2500,9000,50,500,0;pl=0;broken=none"}) {
    auto sch = decode(token);
    ASSERT_TRUE(sch.ok()) << token;
    RunResult r = run_schedule(*sch, o);
    EXPECT_FALSE(r.violation.has_value())
        << token << ": " << r.violation->kind << ": " << r.violation->detail;
    EXPECT_LE(r.max_ack_gap_ms, 5000) << token;
    EXPECT_GT(r.acked_sync, 0) << token;
  }
}

/* The designed fencing (fencing.md L4b: the lease deadline is enforced inside Postgres by
 * pgaf_fence) must be safe on the CI range: no split brain, no two writable primaries, no lost
 * synchronous commit, no timeline going back. Liveness findings (docs/simulator.md F9-F12) are
 * reported by the test above; this one guards safety while they are open. */
TEST(Seeds, TenThousandSchedulesSafeWithFenceInPostgres) {
  RunOptions o;
  o.fence_dies_with_agent = false;
  Summary s = run_seeds(1, 10000, GenOptions{}, o, false);
  std::int64_t unsafe = 0;
  for (const auto& [kind, count] : s.by_kind)
    if (kind == "split_brain" || kind == "two_writable" || kind == "sync_loss" ||
        kind == "timeline")
      unsafe += count;
  std::string kinds;
  for (const auto& [kind, count] : s.by_kind) kinds += " " + kind + " " + std::to_string(count);
  std::printf("sim (fence in postgres): schedules %lld, violations %lld:%s\n",
              static_cast<long long>(s.schedules), static_cast<long long>(s.violations),
              kinds.c_str());
  EXPECT_EQ(unsafe, 0) << kinds;
}

void expect_caught(Broken b, std::uint64_t bound) {
  GenOptions g;
  g.broken = b;
  const RunOptions o = clean_model();
  std::uint64_t caught = 0;
  for (std::uint64_t seed = 1; seed <= bound && !caught; ++seed) {
    RunResult r = run_schedule(generate_schedule(seed, g), o);
    if (r.violation && (r.violation->kind == "split_brain" || r.violation->kind == "two_writable"))
      caught = seed;
  }
  ASSERT_NE(caught, 0u) << to_string(b) << " was not caught within " << bound << " seeds";
  /* The unbroken formation on that seed has no split brain: the flag is the cause. */
  RunResult ok = run_schedule(generate_schedule(caught, GenOptions{}), o);
  EXPECT_FALSE(ok.violation &&
               (ok.violation->kind == "split_brain" || ok.violation->kind == "two_writable"))
      << "seed " << caught;
  std::printf("sim: %s caught at seed %llu\n", std::string(to_string(b)).c_str(),
              static_cast<unsigned long long>(caught));
}

TEST(Broken, AgentIgnoringLeaseIsCaught) {
  expect_caught(Broken::AgentIgnoresLease, 300);
}
TEST(Broken, MonitorSkippingLeaseWaitIsCaught) {
  expect_caught(Broken::MonitorSkipsLeaseWait, 300);
}

/* The durability checker can fail too: a standby that confirms a flush before it has the record
 * makes a sync-acknowledged commit vanish when the primary host is lost. */
TEST(Broken, StandbyAckingEarlyLosesSyncCommitsAndIsCaught) {
  GenOptions g;
  g.broken = Broken::StandbyAcksEarly;
  g.primary_lost_pct = 100;
  const RunOptions o = clean_model();
  std::uint64_t caught = 0;
  for (std::uint64_t seed = 1; seed <= 100 && !caught; ++seed) {
    RunResult r = run_schedule(generate_schedule(seed, g), o);
    if (r.violation && r.violation->kind == "sync_loss") caught = seed;
  }
  ASSERT_NE(caught, 0u) << "standby-acks-early was not caught within 100 seeds";
  GenOptions ok_g = g;
  ok_g.broken = Broken::None;
  RunResult ok = run_schedule(generate_schedule(caught, ok_g), o);
  EXPECT_FALSE(ok.violation.has_value()) << "seed " << caught << ": " << ok.violation->detail;
}

TEST(Rto, PrimaryHostLostDefaultSettingsP99Under5s) {
  GenOptions g;
  g.primary_lost_pct = 100;
  std::vector<std::int64_t> rto;
  for (std::uint64_t seed = 1; seed <= 1000; ++seed) {
    const Schedule s = generate_schedule(seed, g);
    if (s.nodes == 1) continue; /* nothing to fail over to */
    ASSERT_TRUE(s.primary_lost);
    RunResult r = run_schedule(s, RunOptions{});
    ASSERT_TRUE(r.rto_ms.has_value()) << "seed " << seed << " never failed over"
                                      << (r.violation ? ": " + r.violation->detail : std::string());
    rto.push_back(*r.rto_ms);
  }
  const auto p50 = percentile(rto, 50), p99 = percentile(rto, 99);
  std::printf(
      "sim: primary host lost, default settings: RTO p50 %lld ms, p99 %lld ms, max %lld ms "
      "(n=%zu)\n",
      static_cast<long long>(p50), static_cast<long long>(p99),
      static_cast<long long>(percentile(rto, 100)), rto.size());
  EXPECT_GT(rto.size(), 900u);
  EXPECT_LE(p99, 5000);
  EXPECT_GT(p50, 0);
}

/* The restart budget (Settings::postgres_restart_budget_ms): a primary's Postgres that crashes
 * and recovers within the budget is restarted in place — no promotion — and one that cannot
 * start (no postmaster), or whose recovery outlasts the budget, is failed over. Two nodes,
 * synchronous, one crash of the primary at +1 s; the duration picks the sim's model: a multiple
 * of 3 ms is "cannot start", anything else a crash recovery that long. */
RunResult run_primary_crash(std::int64_t duration_ms, TimeMs budget_ms) {
  Schedule s;
  s.seed = 1;
  s.nodes = 2;
  s.candidate_priority = {50, 50};
  s.replication_quorum = {true, true};
  s.drift_ppm = {0, 0, 0};
  s.settings.postgres_restart_budget_ms = budget_ms;
  Fault f;
  f.kind = FaultKind::CrashPostgres;
  f.a = kTargetPrimary;
  f.start_ms = 1000;
  f.duration_ms = duration_ms;
  s.faults.push_back(f);
  return run_schedule(s, RunOptions{});
}

TEST(RestartBudget, CrashRecoveryWithinTheBudgetRestartsInPlace) {
  for (std::int64_t d : {500, 2000, 4000, 7001}) {
    RunResult r = run_primary_crash(d, 10000);
    ASSERT_FALSE(r.violation.has_value()) << d << ": " << r.violation->detail;
    EXPECT_EQ(r.promotions, 0) << "a " << d << " ms crash recovery failed over";
    EXPECT_GT(r.acked_sync, 0);
  }
}

/* The budget holds only while the agent reports (and so renews its lease): a primary whose
 * Postgres is in crash recovery and whose agent dies, or is cut off from the monitor, is failed
 * over as any silent primary. */
TEST(RestartBudget, NoLeaseNoWaitingForTheRestart) {
  for (FaultKind k : {FaultKind::CrashAgent, FaultKind::Isolate}) {
    Schedule s;
    s.seed = 2;
    s.nodes = 2;
    s.candidate_priority = {50, 50};
    s.replication_quorum = {true, true};
    s.drift_ppm = {0, 0, 0};
    Fault crash;
    crash.kind = FaultKind::CrashPostgres;
    crash.a = kTargetPrimary;
    crash.start_ms = 1000;
    crash.duration_ms = 8000; /* recovering (not a multiple of 3), within the 10 s budget */
    Fault silence;
    silence.kind = k;
    silence.a = 1; /* the first primary */
    silence.start_ms = 1200;
    silence.duration_ms = 9000;
    s.faults = {crash, silence};
    RunResult r = run_schedule(s, RunOptions{});
    ASSERT_FALSE(r.violation.has_value()) << to_string(k) << ": " << r.violation->detail;
    EXPECT_EQ(r.promotions, 1) << to_string(k) << ": a primary that cannot renew its lease must "
                                                   "be failed over even while it restarts";
  }
}

TEST(RestartBudget, RecoveryPastTheBudgetOrNoPostmasterFailsOver) {
  RunResult past = run_primary_crash(7001, 3000); /* recovering longer than the budget */
  ASSERT_FALSE(past.violation.has_value()) << past.violation->detail;
  EXPECT_EQ(past.promotions, 1) << "recovery past the budget must fail over";
  RunResult dead = run_primary_crash(6000, 10000); /* multiple of 3: cannot start at all */
  ASSERT_FALSE(dead.violation.has_value()) << dead.violation->detail;
  EXPECT_EQ(dead.promotions, 1) << "a Postgres that cannot start must fail over";
}

TEST(Shrink, KeepsTheFailureAndDropsFaults) {
  GenOptions g;
  g.broken = Broken::AgentIgnoresLease;
  const RunOptions o = clean_model();
  for (std::uint64_t seed = 1; seed <= 300; ++seed) {
    const Schedule s = generate_schedule(seed, g);
    RunResult r = run_schedule(s, o);
    if (!r.violation || s.faults.size() < 2) continue;
    const Schedule m = shrink(s, r.violation->kind, o);
    EXPECT_LE(m.faults.size(), s.faults.size());
    RunResult again = run_schedule(m, o);
    ASSERT_TRUE(again.violation.has_value());
    EXPECT_EQ(again.violation->kind, r.violation->kind);
    return;
  }
  FAIL() << "no multi-fault failing schedule found to shrink";
}

TEST(Shard, ShardsAreDisjointAndCoverTheRange) {
  const RunOptions o;
  const Summary all = run_seeds(1, 40, GenOptions{}, o, false);
  std::int64_t schedules = 0, events = 0, acked = 0;
  for (std::uint64_t i = 1; i <= 3; ++i) {
    const Summary part = run_seeds(1, 40, GenOptions{}, o, false, Shard{i, 3});
    schedules += part.schedules;
    events += part.events;
    acked += part.acked;
  }
  EXPECT_EQ(schedules, 40);
  EXPECT_EQ(events, all.events) << "every seed ran exactly once";
  EXPECT_EQ(acked, all.acked);
  EXPECT_EQ(run_seeds(5, 5, GenOptions{}, o, false, Shard{2, 3}).schedules, 0);
  EXPECT_EQ(run_seeds(5, 6, GenOptions{}, o, false, Shard{2, 3}).schedules, 1);
}

TEST(Shard, MalformedShardsAreRefused) {
  EXPECT_TRUE(parse_shard("1/1"));
  EXPECT_EQ(parse_shard("3/4")->index, 3u);
  for (const char* bad : {"", "/", "0/3", "4/3", "1/0", "a/b", "1/", "/2", "1-2", "-1/2", "1/2/3"})
    EXPECT_FALSE(parse_shard(bad)) << bad;
}

TEST(Clock, TrueAtInvertsLocalTime) {
  for (std::int64_t ppm : {-500, -1, 0, 1, 500}) {
    Clock c;
    c.offset_us = 12345678;
    c.ppm = ppm;
    for (SimTime t : {0LL, 1LL, 999LL, 1000000LL, 12345678LL, 30000000LL}) {
      const std::int64_t target = c.local_us(t);
      const SimTime back = c.true_at(target);
      EXPECT_LE(back, t);
      EXPECT_GE(c.local_us(back), target);
      if (back > 0) {
        EXPECT_LT(c.local_us(back - 1), target);
      }
    }
    /* Rate: over 10 s of true time the clock advances 10 s ± ppm. */
    EXPECT_EQ(c.local_us(10000000) - c.local_us(0), 10000000 + 10 * ppm);
  }
}

TEST(Schedule, DriftAndSyncStandbysStayValid) {
  for (std::uint64_t seed = 1; seed <= 2000; ++seed) {
    const Schedule s = generate_schedule(seed, GenOptions{});
    ASSERT_GE(s.nodes, 1);
    ASSERT_LE(s.nodes, 5);
    for (auto d : s.drift_ppm) ASSERT_LE(2 * (d < 0 ? -d : d), s.settings.clock_drift_ppm);
    int quorum = 0;
    for (int n = 2; n <= s.nodes; ++n)
      quorum += s.replication_quorum[static_cast<std::size_t>(n - 1)] ? 1 : 0;
    if (s.number_sync_standbys > 0) {
      ASSERT_LE(s.number_sync_standbys + 1, quorum) << "seed " << seed;
    }
    ASSERT_TRUE(s.settings.validate().ok());
  }
}

/* After a run, a failed core assertion throws (and becomes a core_assert violation inside a
 * run) instead of aborting the whole seed range. */
TEST(CoreAssert, BecomesAnExceptionNotAnAbort) {
  (void)run_schedule(generate_schedule(1, GenOptions{}), RunOptions{});
  bool thrown = false;
  try {
    pgaf::assert_fail("false", "sim_test.cpp", 1, "test assertion");
  } catch (...) {
    thrown = true;
  }
  EXPECT_TRUE(thrown);
}

TEST(Schedule, ReplayTokenRoundTripsAndGivesTheSameRun) {
  for (std::uint64_t seed : {1ULL, 91ULL, 1071ULL, 4242ULL}) {
    GenOptions g;
    g.broken = seed == 91 ? Broken::AgentIgnoresLease : Broken::None;
    const Schedule s = generate_schedule(seed, g);
    const std::string token = encode(s);
    auto d = decode(token);
    ASSERT_TRUE(d.ok()) << d.error().to_string();
    EXPECT_EQ(encode(*d), token);
    EXPECT_EQ(describe(*d), describe(s));
    RunOptions t;
    t.trace = true;
    EXPECT_EQ(run_schedule(*d, t).trace, run_schedule(s, t).trace) << "seed " << seed;
  }
}

TEST(Schedule, MalformedReplayTokenIsRefusedNamingTheField) {
  struct Case {
    const char* token;
    const char* field;
  };
  const Case cases[] = {
      {"seed=1;n=2", "v1"},
      {"v1;seed=1;n=9;nss=0;prio=100;q=1;drift=0,0", "n"},
      {"v1;seed=1;n=2;nss=0;prio=100;q=1,1;drift=0,0,0", "prio"},
      {"v1;seed=1;n=2;nss=0;prio=100,100;q=1,1;drift=0,0,99999", "drift"},
      {"v1;seed=x", "seed"},
      {"v1;seed=1;n=2;nss=0;prio=100,100;q=1,1;drift=0,0,0;f=1,2,3", "f"},
      {"v1;bogus=1", "bogus"},
      {"v1;broken=maybe", "broken"},
  };
  for (const Case& c : cases) {
    auto d = decode(c.token);
    ASSERT_FALSE(d.ok()) << c.token;
    EXPECT_NE(d.error().message.find(std::string("\"") + c.field + "\""), std::string::npos)
        << c.token << " → " << d.error().message;
  }
}

}  // namespace
}  // namespace pgaf::sim
