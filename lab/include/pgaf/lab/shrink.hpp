/*
 * shrink.hpp — minimising a failing schedule: delta debugging (ddmin) over its faults, then its
 * timings (durations halved, faults moved earlier, a shorter fault phase), then the formation
 * size (drop the last node while it still fails). Each candidate is judged by `still_fails`,
 * which re-runs it (in the lab: a real `lab run`) and answers whether the same checker fails.
 *
 * Invariants:
 *  - the result always still fails (it is the original or a candidate `still_fails` accepted);
 *  - at most `max_runs` calls of `still_fails` (the budget per failure); the result says whether
 *    the budget ran out before the search finished;
 *  - candidates are valid schedules: faults keep their names, every duration stays >= 1 s and
 *    inside the fault phase, number_sync_standbys stays within what the shape allows.
 */
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "pgaf/lab/campaign.hpp"

namespace pgaf::lab {

struct ShrinkResult {
  Schedule minimal;
  int runs = 0;
  bool budget_exhausted = false;
  std::vector<std::string> steps; /* what each accepted reduction did */
};

ShrinkResult shrink_schedule(const Schedule& failing,
                             const std::function<bool(const Schedule&)>& still_fails, int max_runs);

}  // namespace pgaf::lab
