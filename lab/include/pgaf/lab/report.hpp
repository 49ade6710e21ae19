/*
 * report.hpp — the lab's outputs for one scenario run, in reports/<run>/<scenario>/:
 *   result.json  machine-readable: scenario, seed, verdicts with witnesses, RTO figures, history;
 *   junit.xml    one <testsuite> per scenario, one <testcase> per checker (CI-native);
 *   report.html  one static page for people: per-node swimlanes of FSM state over time with fault
 *                bands, the client's ok/fail/unknown operations on the same time axis, RTO figures
 *                and every checker's verdict. The SVG is drawn here; the page fetches nothing.
 *
 * Invariants: every string that reaches XML/HTML goes through xml_escape(); the files are written
 * to a temporary name and renamed, so a reader never sees half a report.
 */
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "pgaf/lab/checkers.hpp"
#include "pgaf/lab/history.hpp"
#include "pgaf/lab/scenario.hpp"

namespace pgaf::lab {

enum class ScenarioOutcome { Passed, Failed, Skipped, Error };
std::string to_string(ScenarioOutcome o);

struct ScenarioReport {
  std::string name;
  std::string file;
  std::string description;
  std::uint64_t seed = 0;
  ScenarioOutcome outcome = ScenarioOutcome::Error;
  std::string message; /* why skipped / errored */
  TimeMs duration_ms = 0;
  History history;
  CheckResult checks;
};

std::string xml_escape(const std::string& s);
/* "1.23 s": a duration as the reports show it. */
std::string seconds_text(TimeMs ms);

std::string render_result_json(const ScenarioReport& r);
std::string render_junit(const std::vector<ScenarioReport>& rs);
std::string render_html(const ScenarioReport& r);
std::string render_svg_timeline(const ScenarioReport& r);

/* Writes result.json, junit.xml and report.html into dir (created if missing). */
Status write_scenario_report(const std::string& dir, const ScenarioReport& r);
/* Writes <run_dir>/junit.xml (all scenarios) and <run_dir>/index.html linking each report. */
Status write_run_index(const std::string& run_dir, const std::vector<ScenarioReport>& rs);

/* Write path.tmp, then rename it over path: a reader never sees half a file. */
Status write_atomically(const std::filesystem::path& path, const std::string& content);
/* The summary table printed at the end of a run. */
std::string summary_table(const std::vector<ScenarioReport>& rs);

}  // namespace pgaf::lab
