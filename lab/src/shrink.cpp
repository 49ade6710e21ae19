/*
 * shrink.cpp — ddmin over faults, then timings, then formation size (see shrink.hpp). The search
 * is deterministic: candidates are tried in a fixed order, so a rerun with the same verdicts
 * shrinks to the same schedule.
 */
#include "pgaf/lab/shrink.hpp"

#include <algorithm>

namespace pgaf::lab {
namespace {

class Shrinker {
 public:
  Shrinker(const std::function<bool(const Schedule&)>& still_fails, int max_runs)
      : still_fails_(still_fails), max_runs_(max_runs) {}

  /* Try a candidate within the budget; true when it still fails. */
  bool test(const Schedule& s) {
    if (runs_ >= max_runs_) {
      exhausted_ = true;
      return false;
    }
    ++runs_;
    return still_fails_(s);
  }
  bool exhausted() const { return exhausted_ || runs_ >= max_runs_; }
  int runs() const { return runs_; }

 private:
  const std::function<bool(const Schedule&)>& still_fails_;
  int max_runs_;
  int runs_ = 0;
  bool exhausted_ = false;
};

Schedule with_faults(const Schedule& s, const std::vector<ScheduleFault>& faults) {
  Schedule c = s;
  c.faults = faults;
  return c;
}

std::vector<std::vector<ScheduleFault>> split(const std::vector<ScheduleFault>& v, size_t n) {
  std::vector<std::vector<ScheduleFault>> out;
  size_t start = 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t len = (v.size() - start) / (n - i);
    out.emplace_back(v.begin() + static_cast<std::ptrdiff_t>(start),
                     v.begin() + static_cast<std::ptrdiff_t>(start + len));
    start += len;
  }
  return out;
}

void ddmin_faults(Schedule& cur, Shrinker& sh, std::vector<std::string>& steps) {
  size_t n = 2;
  while (cur.faults.size() >= 2 && !sh.exhausted()) {
    const auto chunks = split(cur.faults, std::min(n, cur.faults.size()));
    bool reduced = false;
    for (const auto& ch : chunks) {
      if (ch.empty() || ch.size() == cur.faults.size()) continue;
      Schedule c = with_faults(cur, ch);
      if (sh.test(c)) {
        steps.push_back("kept " + std::to_string(ch.size()) + " of " +
                        std::to_string(cur.faults.size()) + " faults");
        cur = c;
        n = 2;
        reduced = true;
        break;
      }
    }
    if (!reduced && chunks.size() > 2) {
      for (size_t i = 0; i < chunks.size() && !reduced; ++i) {
        std::vector<ScheduleFault> rest;
        for (size_t j = 0; j < chunks.size(); ++j)
          if (j != i) rest.insert(rest.end(), chunks[j].begin(), chunks[j].end());
        Schedule c = with_faults(cur, rest);
        if (sh.test(c)) {
          steps.push_back("removed " + std::to_string(chunks[i].size()) + " fault(s)");
          cur = c;
          n = std::max<size_t>(n - 1, 2);
          reduced = true;
        }
      }
    }
    if (!reduced) {
      if (n >= cur.faults.size()) break;
      n = std::min(cur.faults.size(), n * 2);
    }
  }
}

void shrink_timings(Schedule& cur, Shrinker& sh, std::vector<std::string>& steps) {
  for (size_t i = 0; i < cur.faults.size() && !sh.exhausted(); ++i) {
    /* shorter: halve the duration while it still fails (>= 1 s) */
    while (cur.faults[i].duration_ms && *cur.faults[i].duration_ms >= 2000 && !sh.exhausted()) {
      Schedule c = cur;
      c.faults[i].duration_ms = (*cur.faults[i].duration_ms / 2000) * 1000;
      if (!sh.test(c)) break;
      steps.push_back(cur.faults[i].name + ": duration " +
                      duration_text(*cur.faults[i].duration_ms) + " -> " +
                      duration_text(*c.faults[i].duration_ms));
      cur = c;
    }
    /* earlier: at the start of the fault phase */
    if (cur.faults[i].at_ms > 0 && !sh.exhausted()) {
      Schedule c = cur;
      c.faults[i].at_ms = 0;
      if (sh.test(c)) {
        steps.push_back(cur.faults[i].name + ": at " + duration_text(cur.faults[i].at_ms) +
                        " -> 0s");
        cur = c;
      }
    }
  }
  /* a fault phase just long enough for the faults (plus 2 s), in whole seconds */
  TimeMs end = 0;
  for (const auto& f : cur.faults) end = std::max(end, f.at_ms + f.duration_ms.value_or(1000));
  const TimeMs shorter = ((end + 2000 + 999) / 1000) * 1000;
  if (shorter < cur.phases.faults_ms && !sh.exhausted()) {
    Schedule c = cur;
    c.phases.faults_ms = shorter;
    if (sh.test(c)) {
      steps.push_back("fault phase " + duration_text(cur.phases.faults_ms) + " -> " +
                      duration_text(shorter));
      cur = c;
    }
  }
}

void shrink_formation(Schedule& cur, Shrinker& sh, std::vector<std::string>& steps) {
  while (cur.nodes > 2 && !sh.exhausted()) {
    Schedule c = cur;
    c.nodes -= 1;
    c.priorities.pop_back();
    bool candidate = false;
    for (size_t i = 1; i < c.priorities.size(); ++i) candidate = candidate || c.priorities[i] > 0;
    if (!candidate) c.priorities[1] = 50;
    c.number_sync_standbys = std::min(c.number_sync_standbys, std::max(0, c.nodes - 2));
    if (!sh.test(c)) break;
    steps.push_back("formation " + std::to_string(cur.nodes) + " -> " + std::to_string(c.nodes) +
                    " nodes");
    cur = c;
  }
}

}  // namespace

ShrinkResult shrink_schedule(const Schedule& failing,
                             const std::function<bool(const Schedule&)>& still_fails,
                             int max_runs) {
  Shrinker sh(still_fails, max_runs);
  ShrinkResult r;
  r.minimal = failing;
  ddmin_faults(r.minimal, sh, r.steps);
  shrink_timings(r.minimal, sh, r.steps);
  shrink_formation(r.minimal, sh, r.steps);
  r.runs = sh.runs();
  r.budget_exhausted = sh.exhausted();
  return r;
}

}  // namespace pgaf::lab
