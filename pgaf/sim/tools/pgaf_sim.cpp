/*
 * pgaf_sim.cpp — the pgaf-sim command.
 *
 *   pgaf-sim --seeds 1..10000            one-line summary: schedules, violations, RTO p50/p99,
 *                                        async commits lost, seeds/s; a failure prints its seed,
 *                                        the minimised schedule and its trace; exit 1
 *   pgaf-sim --seed N --trace            replay one schedule, printing every event
 *   pgaf-sim --seed N --minimise --trace shrink a failing schedule and print the minimised trace
 *   pgaf-sim --replay TOKEN --trace      replay a schedule token printed with a failure
 *   --nodes K (1..5), --broken agent-ignores-lease|monitor-skips-lease-wait|standby-acks-early,
 *   --keep-going, --fence-in-postgres, --vouch-from-previous-sample (model switches)
 *
 * Exit codes: 0 no violation, 1 violation found, 2 bad arguments.
 */
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "pgaf/sim/sim.hpp"

namespace {

bool parse_range(const std::string& s, std::uint64_t* a, std::uint64_t* b) {
  const auto dots = s.find("..");
  try {
    if (dots == std::string::npos) {
      *a = *b = std::stoull(s);
    } else {
      *a = std::stoull(s.substr(0, dots));
      *b = std::stoull(s.substr(dots + 2));
    }
  } catch (const std::exception&) {
    return false;
  }
  return *a <= *b;
}

void print_failure(const pgaf::sim::Schedule& s, const pgaf::sim::RunResult& r, bool minimise,
                   const pgaf::sim::RunOptions& base, const pgaf::sim::GenOptions& g) {
  using namespace pgaf::sim;
  std::printf("FAIL seed %llu: %s at %.3fs: %s\n", static_cast<unsigned long long>(s.seed),
              r.violation->kind.c_str(), static_cast<double>(r.violation->at_us) / 1e6,
              r.violation->detail.c_str());
  Schedule m = s;
  if (minimise) {
    m = shrink(s, r.violation->kind, base);
    std::printf("minimised: %zu of %zu faults: %s\n", m.faults.size(), s.faults.size(),
                describe(m).c_str());
  }
  RunOptions o = base;
  o.trace = true;
  RunResult t = run_schedule(m, o);
  std::string flags, model;
  if (s.broken != Broken::None) flags += " --broken " + std::string(to_string(s.broken));
  if (g.nodes != 0) flags += " --nodes " + std::to_string(g.nodes);
  if (g.primary_lost_pct != GenOptions{}.primary_lost_pct)
    flags += " --primary-lost-pct " + std::to_string(g.primary_lost_pct);
  if (base.vouch_from_previous_sample) model += " --vouch-from-previous-sample";
  if (base.fence_dies_with_agent) model += " --agent-fence-only";
  std::printf("replay: pgaf-sim --seed %llu%s%s%s --trace\n",
              static_cast<unsigned long long>(s.seed), flags.c_str(), model.c_str(),
              minimise ? " --minimise" : "");
  std::printf("replay (independent of the generator): pgaf-sim --replay '%s'%s --trace\n",
              encode(m).c_str(), model.c_str());
  std::printf("trace:\n");
  for (const auto& line : t.trace) std::printf("  %s\n", line.c_str());
}

/* A core assertion aborts the process: name the schedule that triggered it before dying. */
extern "C" void on_abort(int) {
  const char* head =
      "pgaf-sim: aborted while running schedule; replay with:\n  pgaf-sim --replay '";
  const char* token = pgaf::sim::running_schedule_token();
  const char* tail = "' --trace\n";
  (void)!write(2, head, std::strlen(head));
  (void)!write(2, token, std::strlen(token));
  (void)!write(2, tail, std::strlen(tail));
  std::signal(SIGABRT, SIG_DFL);
  std::raise(SIGABRT);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pgaf::sim;
  std::signal(SIGABRT, on_abort);
  CLI::App app{
      "pgaf-sim: deterministic simulation of a pgaf formation (real decide(), keeper table, "
      "lease)"};
  std::string seeds, broken = "none";
  std::uint64_t seed = 0;
  bool trace = false, minimise = false, keep_going = false;
  int nodes = 0, primary_lost_pct = 25;
  app.add_option("--seeds", seeds, "seed range A..B: run every schedule and print a summary");
  app.add_option("--seed", seed, "replay one seed");
  std::string replay;
  app.add_option("--replay", replay, "replay a schedule token (printed with every failure)");
  app.add_flag("--trace", trace, "print every event of the replayed schedule");
  app.add_flag("--minimise", minimise, "with --seed: shrink a failing schedule first");
  app.add_flag("--keep-going", keep_going, "with --seeds: do not stop at the first failure");
  std::string shard_text = "1/1";
  app.add_option("--shard", shard_text,
                 "with --seeds: run shard I of N (I/N): seeds A+I-1, A+I-1+N, ... (disjoint shards "
                 "that cover the range)");
  app.add_option("--nodes", nodes, "nodes per formation (1..5; default random)")
      ->check(CLI::Range(0, 5));
  app.add_option("--primary-lost-pct", primary_lost_pct, "share of primary-host-lost schedules")
      ->check(CLI::Range(0, 100));
  bool vouch_prev = false, fence_in_pg = true, agent_fence_only = false;
  app.add_flag(
      "--fence-in-postgres", fence_in_pg,
      "model (default): the lease deadline is enforced inside Postgres by pgaf_fence (survives an "
      "agent crash or pause)");
  app.add_flag("--agent-fence-only", agent_fence_only,
               "model: only the agent fences (no pgaf_fence): shows finding F3");
  app.add_flag("--vouch-from-previous-sample", vouch_prev,
               "ignored (kept so that old replay commands parse): the real FenceGuard samples the "
               "standbys and AgentLease dates vouches at the previous sample since core c22a67e");
  app.add_option("--broken", broken,
                 "a deliberately broken variant: none, agent-ignores-lease, "
                 "monitor-skips-lease-wait, standby-acks-early");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  const auto b = parse_broken(broken);
  if (!b) {
    std::fprintf(
        stderr,
        "pgaf-sim: invalid value for --broken: \"%s\"\nHINT: use none, agent-ignores-lease, "
        "monitor-skips-lease-wait or standby-acks-early\n",
        broken.c_str());
    return 2;
  }
  GenOptions g;
  g.nodes = nodes;
  g.broken = *b;
  g.primary_lost_pct = primary_lost_pct;

  if (!seeds.empty()) {
    std::uint64_t first = 0, last = 0;
    if (!parse_range(seeds, &first, &last)) {
      std::fprintf(stderr,
                   "pgaf-sim: invalid value for --seeds: \"%s\"\nHINT: use A..B with A <= B\n",
                   seeds.c_str());
      return 2;
    }
    const auto shard = parse_shard(shard_text);
    if (!shard) {
      std::fprintf(stderr,
                   "pgaf-sim: invalid value for --shard: \"%s\"\nHINT: use I/N with 1 <= I <= N\n",
                   shard_text.c_str());
      return 2;
    }
    RunOptions o;
    o.vouch_from_previous_sample = vouch_prev;
    o.fence_dies_with_agent = agent_fence_only || !fence_in_pg;
    std::printf("pgaf-sim: seeds %llu..%llu shard %llu/%llu\n",
                static_cast<unsigned long long>(first), static_cast<unsigned long long>(last),
                static_cast<unsigned long long>(shard->index),
                static_cast<unsigned long long>(shard->count));
    std::fflush(stdout);
    Summary s = run_seeds(first, last, g, o, !keep_going, *shard);
    std::printf(
        "pgaf-sim: schedules %lld, violations %lld, RTO primary-host-lost p50 %lld ms p99 %lld ms "
        "(n=%zu), commits acknowledged %lld, async commits lost %lld, events %lld, seeds/s %.0f\n",
        static_cast<long long>(s.schedules), static_cast<long long>(s.violations),
        static_cast<long long>(percentile(s.rto_ms, 50)),
        static_cast<long long>(percentile(s.rto_ms, 99)), s.rto_ms.size(),
        static_cast<long long>(s.acked), static_cast<long long>(s.lost_async),
        static_cast<long long>(s.events),
        s.seconds > 0 ? static_cast<double>(s.schedules) / s.seconds : 0.0);
    if (s.first_failure) {
      std::string kinds;
      for (const auto& [k, c] : s.by_kind)
        kinds += fmt::format("{}{} {}", kinds.empty() ? "" : ", ", k, c);
      std::printf("violations by kind: %s\n", kinds.c_str());
      std::string list;
      for (std::size_t i = 0; i < s.failing_seeds.size() && i < 50; ++i)
        list += fmt::format("{}{}", i ? " " : "", s.failing_seeds[i]);
      std::printf("failing seeds: %s%s\n", list.c_str(), s.failing_seeds.size() > 50 ? " ..." : "");
      print_failure(*s.first_failure_schedule, *s.first_failure, true, o, g);
      return 1;
    }
    return 0;
  }

  if (app.count("--seed") == 0 && replay.empty()) {
    std::fprintf(stderr, "pgaf-sim: give --seeds A..B, --seed N or --replay TOKEN\n");
    return 2;
  }
  Schedule s;
  if (!replay.empty()) {
    auto d = decode(replay);
    if (!d.ok()) {
      std::fprintf(stderr, "pgaf-sim: %s\n", d.error().to_string().c_str());
      return 2;
    }
    s = *d;
    seed = s.seed;
  } else {
    s = generate_schedule(seed, g);
  }
  RunOptions o;
  o.vouch_from_previous_sample = vouch_prev;
  o.fence_dies_with_agent = agent_fence_only || !fence_in_pg;
  o.trace = trace && !minimise;
  RunResult r = run_schedule(s, o);
  if (r.violation && (minimise || trace)) {
    print_failure(s, r, minimise, o, g);
    return 1;
  }
  for (const auto& line : r.trace) std::printf("%s\n", line.c_str());
  if (trace) std::printf("replay: pgaf-sim --replay '%s' --trace\n", encode(s).c_str());
  std::printf(
      "seed %llu: %s; events %lld, simulated %.3fs, commits acknowledged %lld (sync %lld), async "
      "lost %lld%s\n",
      static_cast<unsigned long long>(seed),
      r.violation ? fmt::format("VIOLATION {}: {}", r.violation->kind, r.violation->detail).c_str()
                  : "ok",
      static_cast<long long>(r.events), static_cast<double>(r.end_us) / 1e6,
      static_cast<long long>(r.acked), static_cast<long long>(r.acked_sync),
      static_cast<long long>(r.lost_async),
      r.rto_ms ? fmt::format(", RTO {} ms", *r.rto_ms).c_str() : "");
  return r.violation ? 1 : 0;
}
