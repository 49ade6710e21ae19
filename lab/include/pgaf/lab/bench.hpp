/*
 * bench.hpp — `lab bench`: recovery figures as a client sees them, over repeated scenario runs.
 *
 * Each benchmark case is an ordinary scenario (scenarios/bench/, one YAML file each) with one
 * fault; the lab runs it N times (fresh formation each time) and this file turns the reports into
 * figures: the client-observed write window (the longest gap between two acknowledged writes around
 * the fault, as the rto checker measures it: from the last acknowledged write before the fault to
 * the first one after it, writes through the formation's multi-host URI from the client's own
 * namespace), whether a failover happened, acknowledged writes lost, and — labelled as such — the
 * monitor's own view (fault → another node reported writable), which is what older figures
 * measured.
 *
 * Invariants: pure functions of the reports (unit-tested without root); a run that errored or
 * never recovered is counted and shown, never dropped from the statistics silently.
 */
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "pgaf/lab/report.hpp"

namespace pgaf::lab {

struct BenchRun {
  bool ran = false;       /* the scenario ran to its checks (not skipped, not errored) */
  bool passed = false;    /* every checker passed */
  bool failover = false;  /* another node was promoted */
  bool recovered = false; /* an acknowledged write followed the fault */
  TimeMs window_ms = 0;   /* client-observed write window of the first fault */
  int lost = 0;           /* acknowledged writes lost */
  std::optional<TimeMs> monitor_writable_ms; /* fault → another node reported writable */
};
BenchRun bench_run_of(const ScenarioReport& r);

struct BenchCase {
  std::string name;
  std::string description;
  std::vector<BenchRun> runs;
};

struct BenchStats {
  std::size_t n = 0;
  TimeMs min = 0, median = 0, p90 = 0, max = 0;
};
/* Nearest-rank statistics; median of an even count is the lower middle value. */
BenchStats bench_stats(std::vector<TimeMs> v);

/* The table (GitHub markdown): one row per case. `note` goes above it (load, machine). */
std::string bench_table_markdown(const std::vector<BenchCase>& cases, const std::string& note);

/* Replace the text between "<!-- lab-bench:LABEL:begin -->" and "<!-- lab-bench:LABEL:end -->"
 * in FILE with `content` (markers appended when absent; the file is created if missing). */
Status update_markdown_section(const std::string& file, const std::string& label,
                               const std::string& content);

}  // namespace pgaf::lab
