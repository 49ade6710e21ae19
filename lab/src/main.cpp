/*
 * main.cpp — the `lab` command.
 *
 *   lab run [--smoke] [--pg-autoctl PATH] [--report-dir DIR] [--seed N] [--timeout DUR] FILE...
 *   lab check [--network PROFILE] FILE...   validate scenario files only (no root needed)
 *   lab certify --network PROFILE [--pack DIR] [--out DIR] [--pg-autoctl PATH]
 *                              the vendor validation pack under PROFILE: certificate.html/.json
 *   lab bench [--runs N] [--load N] [--markdown FILE --label L] [--pg-autoctl PATH] FILE...
 *                              each scenario N times: client-observed recovery figures
 *   lab campaign CAMPAIGN.yaml --seeds A..B [--for 8h] [-j N] [--shard i/n] [--out DIR]
 *                [--compare PATH] [--no-shrink]   randomized schedules, shrunk failures, report
 *   lab merge DIR... --out DIR   one campaign report from several (shard) output directories
 *
 * Every scenario file is parsed and validated before anything starts: one malformed file stops
 * the run with "file:line: field ...: reason" and exit code 1 (BadArgs). `run` needs root (it
 * creates namespaces and mounts); Postgres and pg_autoctl run as the postgres user. Exit status of
 * `run`: 0 only when every scenario's checkers passed (skipped scenarios are reported, not
 * failed), 1 when one failed or errored, 2 when the lab itself could not start, 130 on SIGINT.
 */
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "pgaf/lab/bench_cmd.hpp"
#include "pgaf/lab/campaign_cmd.hpp"
#include "pgaf/lab/certify_cmd.hpp"
#include "pgaf/lab/runner.hpp"
#include "pgaf/lab/scenario.hpp"

namespace {

namespace fs = std::filesystem;

std::string default_pg_autoctl() {
  /* <build>/lab/lab → <build>/pgaf/cli/pg_autoctl; an installed lab (/usr/bin/lab) uses the
   * pg_autoctl on PATH */
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path built = self.parent_path().parent_path() / "pgaf" / "cli" / "pg_autoctl";
    if (fs::exists(built, ec)) return built.string();
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  for (size_t b = 0; b <= dirs.size();) {
    size_t e = dirs.find(':', b);
    if (e == std::string::npos) e = dirs.size();
    const fs::path cand = fs::path(dirs.substr(b, e - b)) / "pg_autoctl";
    if (e > b && fs::exists(cand, ec)) return cand.string();
    b = e + 1;
  }
  return "pg_autoctl";
}

pgaf::Result<pgaf::TimeMs> parse_duration(const std::string& s) {
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == 0 || i > 9)
    return pgaf::make_error(pgaf::ErrorCode::InvalidArgument, "invalid duration \"" + s + "\"");
  const pgaf::TimeMs n = std::stoll(s.substr(0, i));
  const std::string u = s.substr(i);
  if (u == "s") return n * 1000;
  if (u == "m") return n * 60000;
  if (u == "h") return n * 3600000;
  return pgaf::make_error(pgaf::ErrorCode::InvalidArgument, "invalid duration \"" + s + "\"",
                          "use s, m or h, e.g. 30m");
}

int load(const std::vector<std::string>& files, bool smoke, std::vector<pgaf::lab::Scenario>& out,
         const pgaf::lab::NetworkProfile* network = nullptr) {
  int bad = 0;
  for (const auto& f : files) {
    auto sc = pgaf::lab::parse_scenario_file(f);
    pgaf::Status st =
        sc.ok() ? pgaf::lab::check_scenario_network(
                      *sc, network != nullptr ? network : (sc->network ? &*sc->network : nullptr))
                : pgaf::Status(sc.error());
    if (!st.ok()) {
      std::cerr << "lab: " << st.error().to_string() << std::endl;
      ++bad;
      continue;
    }
    if (smoke && !sc->has_tag("smoke")) continue;
    out.push_back(std::move(sc).value());
  }
  return bad;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "pgaf chaos lab: real formations in network namespaces, declarative faults, checked "
      "invariants"};
  app.require_subcommand(1);

  std::vector<std::string> files;
  bool smoke = false;
  std::string pg_autoctl = default_pg_autoctl();
  std::string report_dir = "reports";
  std::optional<std::uint64_t> seed;
  std::string timeout = "60m";
  bool keep_logs = false;
  auto* run = app.add_subcommand("run", "run scenarios and check their invariants");
  run->add_option("files", files, "scenario files (YAML)")->required();
  run->add_flag("--smoke", smoke, "run only the scenarios tagged smoke");
  run->add_option("--pg-autoctl", pg_autoctl, "the pg_autoctl binary under test")
      ->capture_default_str();
  run->add_option("--report-dir", report_dir, "where reports/<run>/<scenario>/ go")
      ->capture_default_str();
  run->add_option("--seed", seed, "override every scenario's seed (replay)");
  run->add_option("--timeout", timeout, "global bound on the whole run (e.g. 30m)")
      ->capture_default_str();
  run->add_flag("--keep-logs", keep_logs, "keep node logs for passing scenarios too");
  std::string run_id;
  run->add_option("--run-id", run_id, "reports go to <report-dir>/<run-id>/ (default: UTC time)");

  std::string campaign_file, seeds_text = "1..10", budget, shard_text = "1/1", out_dir, compare;
  int jobs = 1;
  bool no_shrink = false;
  auto* campaign = app.add_subcommand(
      "campaign", "generate a scenario per seed from a campaign file, run, shrink, report");
  campaign->add_option("file", campaign_file, "campaign file (YAML)")->required();
  campaign->add_option("--seeds", seeds_text, "seed range A..B (or one seed)")
      ->capture_default_str();
  campaign->add_option("--for", budget, "stop starting new seeds after this (e.g. 8h)");
  campaign->add_option("-j,--jobs", jobs, "formations run in parallel")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  campaign->add_option("--shard", shard_text, "run only shard i of n of the seeds")
      ->capture_default_str();
  campaign->add_option("--out", out_dir, "output directory (default reports/campaign-<name>)");
  campaign->add_option("--pg-autoctl", pg_autoctl, "the pg_autoctl binary under test")
      ->capture_default_str();
  campaign->add_option("--compare", compare, "a second pg_autoctl: every seed also runs with it");
  campaign->add_flag("--no-shrink", no_shrink, "do not shrink violations");

  std::vector<std::string> merge_dirs;
  std::string merge_out;
  auto* merge = app.add_subcommand("merge", "one campaign report from several output directories");
  merge->add_option("dirs", merge_dirs, "campaign output directories")->required();
  merge->add_option("--out", merge_out, "where the merged report goes")->required();
  std::string network_file;
  run->add_option("--network", network_file,
                  "network profile (zones, routers, rulesets) instead of the single switch");

  pgaf::lab::CertifyOptions certify_opt;
  auto* certify = app.add_subcommand(
      "certify", "run the vendor validation pack under a network profile: certification report");
  certify->add_option("--network", certify_opt.network_file, "network profile (YAML)")->required();
  certify->add_option("--pack", certify_opt.pack_dir, "the validation pack's scenarios")
      ->capture_default_str();
  certify->add_option("--out", certify_opt.out_dir,
                      "output directory (default <report-dir>/certify-<profile>-<time>)");
  certify->add_option("--pg-autoctl", pg_autoctl, "the pg_autoctl binary under test")
      ->capture_default_str();
  certify->add_option("--report-dir", report_dir, "where the output directory goes")
      ->capture_default_str();
  certify->add_option("--timeout", timeout, "global bound on the whole run (e.g. 60m)")
      ->capture_default_str();

  std::vector<std::string> bench_files;
  pgaf::lab::BenchOptions bench_opt;
  auto* bench = app.add_subcommand(
      "bench", "run each scenario N times and print client-observed recovery figures");
  bench->add_option("files", bench_files, "benchmark scenarios (scenarios/bench/*.yaml)")
      ->required();
  bench->add_option("--runs", bench_opt.runs, "runs of each scenario")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  bench->add_option("--load", bench_opt.load_threads, "busy threads loading the CPUs meanwhile")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  bench->add_option("--markdown", bench_opt.markdown_file,
                    "also write the table into this markdown file's marked section");
  bench->add_option("--label", bench_opt.label, "the section's label (e.g. idle, load2)")
      ->capture_default_str();
  bench->add_option("--pg-autoctl", pg_autoctl, "the pg_autoctl binary under test")
      ->capture_default_str();
  bench->add_option("--report-dir", report_dir, "where reports/<run>/<scenario>/ go")
      ->capture_default_str();
  bench->add_option("--timeout", timeout, "global bound on the whole bench (e.g. 60m)")
      ->capture_default_str();

  std::vector<std::string> check_files;
  auto* check = app.add_subcommand("check", "validate scenario files without running them");
  check->add_option("files", check_files, "scenario files (YAML)")->required();
  check->add_option("--network", network_file, "check the files against this network profile");

  CLI11_PARSE(app, argc, argv);

  std::optional<pgaf::lab::NetworkProfile> network;
  if (!network_file.empty()) {
    auto p = pgaf::lab::parse_network_profile_file(network_file);
    if (!p.ok()) {
      std::cerr << "lab: " << p.error().to_string() << std::endl;
      return 1;
    }
    network = std::move(p).value();
  }
  if (*check) {
    std::vector<pgaf::lab::Scenario> scs;
    const int bad = load(check_files, false, scs, network ? &*network : nullptr);
    for (const auto& s : scs) {
      std::cout << s.file << ": ok (" << s.name << ", " << s.formation.nodes << " nodes, "
                << s.faults.size() << " fault(s)" << (s.has_tag("smoke") ? ", smoke" : "") << ")\n";
    }
    return bad == 0 ? 0 : 1;
  }

  if (*merge) return pgaf::lab::merge_campaigns(merge_dirs, merge_out);
  if (*campaign) {
    auto c = pgaf::lab::parse_campaign_file(campaign_file);
    if (!c.ok()) {
      std::cerr << "lab: " << c.error().to_string() << std::endl;
      return 1;
    }
    pgaf::lab::CampaignOptions co;
    auto range = pgaf::lab::parse_seed_range(seeds_text);
    auto shard = pgaf::lab::parse_shard(shard_text);
    if (!range.ok() || !shard.ok()) {
      std::cerr << "lab: " << (range.ok() ? shard.error() : range.error()).to_string() << std::endl;
      return 1;
    }
    co.seeds = *range;
    co.shard = *shard;
    if (!budget.empty()) {
      auto b = parse_duration(budget);
      if (!b.ok()) {
        std::cerr << "lab: --for: " << b.error().to_string() << std::endl;
        return 1;
      }
      co.budget_ms = *b;
      /* a time budget without an explicit range: seeds from the range's first, unbounded */
      if (campaign->count("--seeds") == 0) co.seeds.last.reset();
    }
    co.jobs = jobs;
    co.out_dir = fs::absolute(out_dir.empty() ? "reports/campaign-" + c->name : out_dir).string();
    co.compare = compare.empty() ? "" : fs::absolute(compare).string();
    co.shrink = !no_shrink;
    std::error_code ec0;
    co.lab_exe = fs::read_symlink("/proc/self/exe", ec0).string();
    if (::geteuid() != 0) {
      std::cerr << "lab: campaign needs root (each seed is a lab run)" << std::endl;
      return 2;
    }
    for (const auto& bin : {pg_autoctl, compare}) {
      std::error_code ec;
      if (!bin.empty() && !fs::exists(bin, ec)) {
        std::cerr << "lab: pg_autoctl not found at \"" << bin
                  << "\"\nHINT: build it or pass --pg-autoctl / --compare PATH" << std::endl;
        return 2;
      }
    }
    co.pg_autoctl = fs::absolute(pg_autoctl).string();
    pgaf::lab::install_signal_handlers();
    return pgaf::lab::run_campaign(*c, co);
  }

  if (*bench) files = bench_files;
  std::vector<pgaf::lab::Scenario> scs;
  if (!*certify && load(files, smoke, scs, network ? &*network : nullptr) != 0) {
    std::cerr << "lab: nothing was started: fix the scenario files above" << std::endl;
    return 1;
  }
  if (scs.empty() && !*certify) {
    std::cerr << "lab: no scenario selected" << (smoke ? " (none is tagged smoke)" : "")
              << std::endl;
    return 1;
  }
  auto global = parse_duration(timeout);
  if (!global.ok()) {
    std::cerr << "lab: --timeout: " << global.error().to_string() << std::endl;
    return 1;
  }
  if (::geteuid() != 0) {
    std::cerr << "lab: run needs root (it creates network namespaces and tmpfs mounts)\n"
                 "HINT: run it with sudo; Postgres and pg_autoctl still run as the postgres user"
              << std::endl;
    return 2;
  }
  std::error_code ec;
  if (!fs::exists(pg_autoctl, ec)) {
    std::cerr << "lab: pg_autoctl not found at \"" << pg_autoctl
              << "\"\nHINT: build it or pass --pg-autoctl PATH" << std::endl;
    return 2;
  }
  pgaf::lab::RunOptions opt;
  opt.pg_autoctl = fs::absolute(pg_autoctl).string();
  opt.report_dir = fs::absolute(report_dir).string();
  opt.seed_override = seed;
  opt.run_id = run_id;
  opt.global_timeout_ms = *global;
  opt.keep_logs_on_pass = keep_logs;
  opt.network = network;
  pgaf::lab::install_signal_handlers();
  if (*certify) return pgaf::lab::run_certify(certify_opt, opt);
  if (*bench) {
    for (const auto& f : bench_files)
      bench_opt.command_files += (bench_opt.command_files.empty() ? "" : " ") + f;
    return pgaf::lab::run_bench(scs, bench_opt, opt);
  }
  return pgaf::lab::run_all(scs, opt);
}
