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

#include "pgaf/core/error.hpp"
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

std::optional<Shard> parse_shard(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 >= text.size())
    return std::nullopt;
  auto number = [](std::string_view t) -> std::optional<std::uint64_t> {
    if (t.empty() || t.size() > 9) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : t) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v;
  };
  const auto i = number(text.substr(0, slash));
  const auto n = number(text.substr(slash + 1));
  if (!i || !n || *n == 0 || *i == 0 || *i > *n) return std::nullopt;
  return Shard{*i, *n};
}

Summary run_seeds(std::uint64_t first, std::uint64_t last, const GenOptions& g, const RunOptions& o,
                  bool stop_at_first_failure, Shard shard) {
  PGAF_ASSERT(shard.count >= 1 && shard.index >= 1 && shard.index <= shard.count, "invalid shard");
  Summary sum;
  const auto t0 = std::chrono::steady_clock::now();
  if (last - first < shard.index - 1) return sum;
  for (std::uint64_t seed = first + (shard.index - 1); seed <= last; seed += shard.count) {
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
    if (last - seed < shard.count) break; /* the next seed would pass last (or wrap) */
  }
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

}  // namespace pgaf::sim
