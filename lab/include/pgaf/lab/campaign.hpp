/*
 * campaign.hpp — randomized fault campaigns: a campaign file names a fault palette (actions with
 * weights and parameter ranges), formation shapes, how many faults a schedule has and when, the
 * expectations and the shrink budget; every seed generates one concrete schedule, written out as
 * an ordinary scenario file that `lab run` replays exactly. docs/campaigns.md documents the format.
 *
 * Invariants:
 *  - generation is a pure function of (campaign, seed): the same seed gives byte-identical YAML on
 *    every platform (std::mt19937_64's output is specified by the standard; every distribution is
 *    ours, never std::uniform_*_distribution, whose results differ between libraries);
 *  - every generated (and every shrunk) schedule parses as a scenario (`lab check` passes); the
 *    generator checks it and reports an internal error otherwise;
 *  - a malformed campaign file is rejected with "<file>:<line>: field \"path\": reason";
 *  - shards partition seeds deterministically: seed s belongs to shard i of n iff
 *    (s - first) mod n == i - 1, so shards are disjoint and together cover the range.
 */
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "pgaf/core/error.hpp"
#include "pgaf/lab/scenario.hpp"

namespace pgaf::lab {

/* Seeded choices with portable distributions over std::mt19937_64. */
class CampaignRng {
 public:
  explicit CampaignRng(std::uint64_t seed) : g_(seed) {}
  std::uint64_t below(std::uint64_t n); /* uniform in [0, n), n > 0 (rejection sampling) */
  std::int64_t between(std::int64_t lo, std::int64_t hi); /* uniform in [lo, hi] */
  bool percent(int p);                                    /* true with probability p/100 */
  size_t weighted(const std::vector<int>& weights);       /* index, by positive weights */
  template <class T>
  T pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(below(v.size()))];
  }

 private:
  std::mt19937_64 g_;
};

struct IntRange {
  std::int64_t lo = 0;
  std::int64_t hi = 0;
};

/* One palette entry: a scenario fault action with its weight and parameter choices/ranges. */
struct PaletteEntry {
  FaultAction action = FaultAction::Kill;
  int weight = 1;
  std::vector<std::string> targets;   /* primary, standby, any, monitor */
  std::vector<std::string> to;        /* partition/oneway peer; "none": partition from all */
  std::vector<std::string> modes;     /* drop, reject */
  std::vector<std::string> processes; /* kill: postmaster, agent; freeze: node, postmaster, agent */
  std::vector<bool> include_clients;  /* partition without a peer */
  std::optional<IntRange> duration_ms;
  std::optional<IntRange> restart_after_ms;
  IntRange percent{10, 40};
  IntRange delay_ms{20, 200};
  IntRange rate_kbit{256, 4096};
  int prevent_restart_percent = 0; /* kill postmaster: chance of prevent_restart */
};

struct Campaign {
  std::string file;
  std::string name;
  std::string description;
  /* formation shapes */
  IntRange nodes{2, 3};
  std::vector<SyncCommit> synchronous_commit{SyncCommit::On};
  IntRange number_sync_standbys{0, 0}; /* clamped to what the shape allows */
  std::vector<int> standby_priorities{50};
  std::vector<std::pair<std::string, std::string>> settings;
  std::vector<std::pair<std::string, std::string>> agent_env;
  int node_disk_mb = 256;
  TimeMs stable_timeout_ms = 120000;
  WorkloadSpec workload;
  PhasesSpec phases;
  /* schedules */
  IntRange faults_per_schedule{1, 2};
  int overlap_percent = 0; /* chance a fault starts while the previous one is in force */
  std::vector<PaletteEntry> palette;
  /* expectations */
  std::optional<TimeMs> rto_max_ms;
  std::optional<int> lost_writes_max;
  /* derived: a lone isolation of the primary (ifdown, or a partition from everyone) lasting at
   * least this long must cause a failover when a standby can be promoted */
  std::optional<TimeMs> failover_required_after_ms;
  /* shrinking */
  int shrink_max_runs = 12;
};

Result<Campaign> parse_campaign(const std::string& yaml_text, const std::string& file);
Result<Campaign> parse_campaign_file(const std::string& path);

/* A concrete fault of a schedule (scenario vocabulary; empty strings are absent fields). */
struct ScheduleFault {
  std::string name;
  FaultAction action = FaultAction::Kill;
  TimeMs at_ms = 0;
  std::string target;
  std::string to;
  std::string mode;
  std::string process;
  std::optional<TimeMs> duration_ms;
  std::optional<TimeMs> restart_after_ms;
  int percent = 0;
  TimeMs delay_ms = 0;
  int rate_kbit = 0;
  std::optional<bool> include_clients;
  bool prevent_restart = false;
};

/* One generated schedule: everything its scenario file says. */
struct Schedule {
  std::string campaign;
  std::string name;
  std::uint64_t seed = 0;
  int nodes = 2;
  std::vector<int> priorities; /* per node */
  int number_sync_standbys = 0;
  SyncCommit synchronous_commit = SyncCommit::On;
  std::vector<std::pair<std::string, std::string>> settings;
  std::vector<std::pair<std::string, std::string>> agent_env;
  int node_disk_mb = 256;
  TimeMs stable_timeout_ms = 120000;
  WorkloadSpec workload;
  PhasesSpec phases;
  std::vector<ScheduleFault> faults;
  std::optional<TimeMs> rto_max_ms;
  std::optional<int> lost_writes_max;
  std::optional<TimeMs> failover_required_after_ms;
  std::string note; /* e.g. "shrunk from seed 7" */
};

Schedule generate_schedule(const Campaign& c, std::uint64_t seed);
/* The derived failover expectation of a schedule (recomputed after shrinking). */
FailoverExpectation derived_failover(const Schedule& s);
/* The schedule as scenario YAML (deterministic text). */
std::string render_schedule_yaml(const Schedule& s);
/* Render and parse back: the scenario `lab run` will see (an error is a generator bug). */
Result<Scenario> schedule_scenario(const Schedule& s, const std::string& file);

/* "500ms" / "5s" text of a duration (the scenario format's units). */
std::string duration_text(TimeMs ms);

/* Seeds: "A..B" (inclusive) or "N"; --shard "i/n". */
struct SeedRange {
  std::uint64_t first = 1;
  std::optional<std::uint64_t> last; /* absent: unbounded (a --for budget ends the campaign) */
};
Result<SeedRange> parse_seed_range(const std::string& text);
struct Shard {
  std::uint64_t index = 1; /* 1-based */
  std::uint64_t count = 1;
};
Result<Shard> parse_shard(const std::string& text);
bool seed_in_shard(std::uint64_t seed, const SeedRange& r, const Shard& s);
/* The seeds of a bounded range that belong to the shard, ascending. */
std::vector<std::uint64_t> shard_seeds(const SeedRange& r, const Shard& s);

}  // namespace pgaf::lab
