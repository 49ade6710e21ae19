/*
 * bench.cpp — figures of `lab bench` from scenario reports (see bench.hpp). Pure: no I/O except
 * update_markdown_section(), which rewrites one marked section of a markdown file atomically.
 */
#include "pgaf/lab/bench.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace pgaf::lab {

BenchRun bench_run_of(const ScenarioReport& r) {
  BenchRun b;
  b.ran = r.outcome == ScenarioOutcome::Passed || r.outcome == ScenarioOutcome::Failed;
  b.passed = r.outcome == ScenarioOutcome::Passed;
  if (!b.ran) return b;
  b.failover = find_promotion(r.history).promoted();
  b.lost = r.checks.lost_writes;
  if (!r.checks.rto.empty()) {
    const FaultRto& f = r.checks.rto.front();
    b.recovered = f.recovered;
    b.window_ms = f.unavailable_ms;
    if (f.detect_ms && f.decide_ms && f.promote_ms)
      b.monitor_writable_ms = *f.detect_ms + *f.decide_ms + *f.promote_ms;
  }
  return b;
}

BenchStats bench_stats(std::vector<TimeMs> v) {
  BenchStats s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.min = v.front();
  s.max = v.back();
  s.median = v[(v.size() - 1) / 2];
  /* nearest rank: the smallest value with at least 90% of the values at or below it */
  const std::size_t rank = (v.size() * 9 + 9) / 10; /* ceil(0.9 n), ≥ 1 */
  s.p90 = v[std::min(v.size(), rank) - 1];
  return s;
}

namespace {

std::string seconds(TimeMs ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", static_cast<double>(ms) / 1000.0);
  return buf;
}

std::string stats_cell(const BenchStats& s) {
  if (s.n == 0) return "–";
  return seconds(s.min) + " / **" + seconds(s.median) + "** / " + seconds(s.p90) + " / " +
         seconds(s.max);
}

}  // namespace

std::string bench_table_markdown(const std::vector<BenchCase>& cases, const std::string& note) {
  std::ostringstream o;
  if (!note.empty()) o << note << "\n\n";
  o << "| case | runs | failovers | client-observed write window, s: min / **median** / p90 / "
       "max | not recovered | lost acked writes | monitor: fault → other node writable, median "
       "s |\n";
  o << "|---|---|---|---|---|---|---|\n";
  for (const auto& c : cases) {
    std::vector<TimeMs> windows, monitor;
    int ran = 0, failovers = 0, unrecovered = 0, lost = 0;
    for (const auto& r : c.runs) {
      if (!r.ran) continue;
      ++ran;
      failovers += r.failover ? 1 : 0;
      lost += r.lost;
      if (r.recovered)
        windows.push_back(r.window_ms);
      else
        ++unrecovered;
      if (r.monitor_writable_ms) monitor.push_back(*r.monitor_writable_ms);
    }
    const BenchStats m = bench_stats(monitor);
    o << "| " << c.name << " | " << ran << "/" << c.runs.size() << " | " << failovers << " | "
      << stats_cell(bench_stats(windows)) << " | " << unrecovered << " | " << lost << " | "
      << (m.n ? seconds(m.median) + " (n=" + std::to_string(m.n) + ")" : "–") << " |\n";
  }
  return o.str();
}

Status update_markdown_section(const std::string& file, const std::string& label,
                               const std::string& content) {
  const std::string begin = "<!-- lab-bench:" + label + ":begin -->";
  const std::string end = "<!-- lab-bench:" + label + ":end -->";
  std::string text;
  {
    std::ifstream in(file, std::ios::binary);
    if (in) {
      std::ostringstream ss;
      ss << in.rdbuf();
      text = ss.str();
    }
  }
  const std::string section = begin + "\n" + content + end;
  const auto b = text.find(begin);
  const auto e = b == std::string::npos ? std::string::npos : text.find(end, b);
  if (b != std::string::npos && e != std::string::npos) {
    text.replace(b, e + end.size() - b, section);
  } else {
    if (!text.empty() && text.back() != '\n') text += "\n";
    text += "\n" + section + "\n";
  }
  return write_atomically(file, text);
}

}  // namespace pgaf::lab
