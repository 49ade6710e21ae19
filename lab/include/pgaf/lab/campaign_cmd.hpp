/*
 * campaign_cmd.hpp — `lab campaign` and `lab merge`. A campaign generates one scenario per seed
 * of its shard, runs each as a child `lab run` (its own process: its own namespace prefix, run
 * directory, subreaper and teardown, so -j N formations share nothing), records the verdict in
 * results/seed-N.json, shrinks every violation within the campaign's budget, and writes the
 * campaign report. Output directory layout (docs/campaigns.md):
 *   scenarios/<campaign>-<seed>.yaml      the generated schedule (replay: lab run it)
 *   scenarios/<campaign>-<seed>-min.yaml  the shrunk reproducer of a violation
 *   runs/seed-<N>/<scenario>/report.html  each scenario's own report (lab run --run-id)
 *   shrink/seed-<N>/                      the candidates the shrinker ran
 *   logs/seed-<N>.log                     the child's output
 *   results/seed-<N>.json                 the verdict (its presence makes a rerun skip the seed)
 *   index.html, campaign.json, junit.xml  the campaign report
 *
 * Invariants: every child is bounded (its scenario timeout plus a margin, then SIGTERM, then
 * SIGKILL); SIGINT/SIGTERM stop dispatching, children tear down and the report is still
 * written; exit status 0 only when no seed failed a checker or errored.
 */
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pgaf/lab/campaign.hpp"

namespace pgaf::lab {

struct CampaignOptions {
  SeedRange seeds;
  std::optional<TimeMs> budget_ms; /* --for: stop dispatching new seeds after this */
  int jobs = 1;
  Shard shard;
  std::string out_dir;
  std::string pg_autoctl;
  std::string compare; /* a second pg_autoctl: every seed also runs with it */
  std::string lab_exe; /* the `lab` binary that runs each scenario */
  bool shrink = true;
};

int run_campaign(const Campaign& c, const CampaignOptions& o);
int merge_campaigns(const std::vector<std::string>& dirs, const std::string& out_dir);

}  // namespace pgaf::lab
