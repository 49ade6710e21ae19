/*
 * campaign_report.hpp — what a campaign records per seed (results/seed-N.json in its output
 * directory: the verdict, the failed checkers, each fault's RTO, lost writes, the links to the
 * scenario file, its report and the shrunk reproducer) and the campaign report built from those
 * files: index.html (pass/fail per seed, RTO CDF per fault kind as SVG, worst cases, lost writes,
 * reproducers), campaign.json and junit.xml (one test case per seed). `lab merge` builds the same
 * report from several (shard) directories.
 *
 * Invariants:
 *  - a result file is written once the seed is finished (atomically): its presence is what makes a
 *    rerun skip the seed (resume), and what merge reads;
 *  - paths inside a result are relative to its own directory, so directories can be moved or
 *    downloaded as CI artifacts and merged anywhere;
 *  - a seed is a violation when its outcome is FAILED (a checker failed); ERROR (the lab could not
 *    run it) is reported separately and also makes the campaign fail.
 */
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pgaf/core/error.hpp"
#include "pgaf/core/settings.hpp"

namespace pgaf::lab {

struct SeedFault {
  std::string name;
  std::string action;
  std::string target;
  TimeMs rto_ms = 0;
  bool recovered = true;
};

struct Reproducer {
  std::string file; /* relative to the result's directory */
  int faults = 0;
  int original_faults = 0;
  int runs = 0;
  bool reproduced = false; /* the minimal scenario failed the same checker again */
  std::string replay;      /* the command that replays it */
  std::vector<std::string> steps;
};

struct SeedResult {
  std::uint64_t seed = 0;
  std::string variant = "main"; /* "main", or "compare" for --compare's binary */
  std::string binary;           /* the pg_autoctl used */
  std::string outcome;          /* PASSED, FAILED, ERROR, SKIPPED */
  std::string message;
  std::vector<std::string> failed_checkers;
  TimeMs duration_ms = 0;
  int acked = 0;
  int lost_writes = 0;
  std::vector<SeedFault> faults;
  std::string scenario; /* relative paths */
  std::string report;
  std::optional<Reproducer> reproducer;
  std::string dir; /* not stored: the directory the result was read from */

  bool violation() const { return outcome == "FAILED"; }
  bool error() const { return outcome == "ERROR"; }
};

nlohmann::json to_json(const SeedResult& r);
Result<SeedResult> seed_result_from_json(const nlohmann::json& j);

/* The verdict part of a SeedResult from a scenario's result.json (lab run's report): outcome,
 * failed checkers, each fault's action, target and RTO, acknowledged and lost writes. */
Result<SeedResult> seed_result_from_scenario(const nlohmann::json& result_json);

/* results/seed-<N>[.compare].json */
std::string result_file_name(std::uint64_t seed, const std::string& variant);
Status write_seed_result(const std::string& out_dir, const SeedResult& r);
/* Every result under dir/results, sorted by (variant, seed); dir is recorded in each. */
Result<std::vector<SeedResult>> read_seed_results(const std::string& dir);
/* The results of several directories; a seed present twice (same variant) is an error. */
Result<std::vector<SeedResult>> merge_seed_results(const std::vector<std::string>& dirs);

struct CampaignSummary {
  std::string campaign;
  int seeds = 0, passed = 0, violations = 0, errors = 0, skipped = 0;
  double schedules_per_hour = 0; /* this invocation's throughput; 0 when unknown (merge) */
  int jobs = 1;
};
CampaignSummary summarize(const std::string& campaign, const std::vector<SeedResult>& rs);

std::string render_campaign_html(const CampaignSummary& s, const std::vector<SeedResult>& rs,
                                 const std::string& out_dir);
std::string render_campaign_junit(const CampaignSummary& s, const std::vector<SeedResult>& rs);
nlohmann::json render_campaign_json(const CampaignSummary& s, const std::vector<SeedResult>& rs);
/* The RTO CDF per fault kind (both variants when present), one SVG. */
std::string render_rto_cdf_svg(const std::string& kind, const std::vector<SeedResult>& rs);

/* index.html, campaign.json and junit.xml in out_dir. */
Status write_campaign_report(const std::string& out_dir, const CampaignSummary& s,
                             const std::vector<SeedResult>& rs);

}  // namespace pgaf::lab
