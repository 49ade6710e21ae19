/*
 * runner.cpp — running seed ranges, shrinking failing schedules, percentiles.
 *
 * Invariant: results depend only on the seeds and options (the wall clock is read only to print
 * the rate); shrink() returns a schedule that still fails with the same violation kind (or the
 * input unchanged).
 */
#include <algorithm>
#include <chrono>
#include <cmath>

#include "pgaf/sim/sim.hpp"

namespace pgaf::sim {

std::int64_t percentile(std::vector<std::int64_t> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  if (rank < 1) rank = 1;
  if (rank > v.size()) rank = v.size();
  return v[rank - 1];
}

Schedule shrink(const Schedule& failing, const std::string& kind, const RunOptions& base,
                int max_runs) {
  Schedule best = failing;
  RunOptions o = base;
  o.trace = false;
  int runs = 0;
  bool progress = true;
  while (progress && runs < max_runs) {
    progress = false;
    for (std::size_t i = 0; i < best.faults.size() && runs < max_runs; ++i) {
      Schedule cand = best;
      cand.faults.erase(cand.faults.begin() + static_cast<std::ptrdiff_t>(i));
      ++runs;
      RunResult r = run_schedule(cand, o);
      if (r.violation && r.violation->kind == kind) {
        best = std::move(cand);
        progress = true;
        break;
      }
    }
    /* Then try shortening each remaining fault. */
    for (std::size_t i = 0; !progress && i < best.faults.size() && runs < max_runs; ++i) {
      if (best.faults[i].duration_ms <= 200) continue;
      Schedule cand = best;
      cand.faults[i].duration_ms /= 2;
      ++runs;
      RunResult r = run_schedule(cand, o);
      if (r.violation && r.violation->kind == kind) {
        best = std::move(cand);
        progress = true;
      }
    }
  }
  return best;
}

Summary run_seeds(std::uint64_t first, std::uint64_t last, const GenOptions& g, const RunOptions& o,
                  bool stop_at_first_failure) {
  Summary sum;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t seed = first; seed <= last; ++seed) {
    const Schedule s = generate_schedule(seed, g);
    RunResult r = run_schedule(s, o);
    sum.schedules++;
    sum.acked += r.acked;
    sum.lost_async += r.lost_async;
    sum.events += r.events;
    if (s.primary_lost && r.rto_ms) sum.rto_ms.push_back(*r.rto_ms);
    if (r.violation) {
      sum.violations++;
      sum.by_kind[r.violation->kind]++;
      sum.failing_seeds.push_back(seed);
      if (!sum.first_failure) {
        sum.first_failure = r;
        sum.first_failure_schedule = s;
      }
      if (stop_at_first_failure) break;
    }
    if (seed == last) break; /* guard against last == UINT64_MAX */
  }
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

}  // namespace pgaf::sim
