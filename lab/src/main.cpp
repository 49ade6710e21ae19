/*
 * main.cpp — the `lab` command.
 *
 *   lab run [--smoke] [--pg-autoctl PATH] [--report-dir DIR] [--seed N] [--timeout DUR] FILE...
 *   lab check FILE...          validate scenario files only (no root needed)
 *   lab bench [--runs N] [--load N] [--markdown FILE --label L] [--pg-autoctl PATH] FILE...
 *                              each scenario N times: client-observed recovery figures
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

int load(const std::vector<std::string>& files, bool smoke, std::vector<pgaf::lab::Scenario>& out) {
  int bad = 0;
  for (const auto& f : files) {
    auto sc = pgaf::lab::parse_scenario_file(f);
    if (!sc.ok()) {
      std::cerr << "lab: " << sc.error().to_string() << std::endl;
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

  CLI11_PARSE(app, argc, argv);

  if (*check) {
    std::vector<pgaf::lab::Scenario> scs;
    const int bad = load(check_files, false, scs);
    for (const auto& s : scs) {
      std::cout << s.file << ": ok (" << s.name << ", " << s.formation.nodes << " nodes, "
                << s.faults.size() << " fault(s)" << (s.has_tag("smoke") ? ", smoke" : "") << ")\n";
    }
    return bad == 0 ? 0 : 1;
  }

  if (*bench) files = bench_files;
  std::vector<pgaf::lab::Scenario> scs;
  if (load(files, smoke, scs) != 0) {
    std::cerr << "lab: nothing was started: fix the scenario files above" << std::endl;
    return 1;
  }
  if (scs.empty()) {
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
  opt.global_timeout_ms = *global;
  opt.keep_logs_on_pass = keep_logs;
  pgaf::lab::install_signal_handlers();
  if (*bench) {
    for (const auto& f : bench_files)
      bench_opt.command_files += (bench_opt.command_files.empty() ? "" : " ") + f;
    return pgaf::lab::run_bench(scs, bench_opt, opt);
  }
  return pgaf::lab::run_all(scs, opt);
}
