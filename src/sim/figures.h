// The figures of one run and the goals they are checked against. Pure values and functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/driver.h"

namespace ollamaflow::sim {

struct Figures {
  std::string policy;
  std::string trace;
  int requests = 0;
  // Requests that the wait percentiles cover: all but those that failed without starting.
  int wait_count = 0;
  // Percentiles of the queue wait, from arrival to the first server start, not of the time to
  // complete a request. 0 when wait_count is 0.
  double wait_p50_s = 0;
  double wait_p95_s = 0;
  double wait_p99_s = 0;
  // The p95 and p99 that the wait goals check: over every request, with one that failed without
  // starting counted as an endless wait, so that failed work cannot pass the goal. The same as
  // wait_p95_s and wait_p99_s when no request failed that way; infinite (null in JSON) when more
  // than 5 % or 1 % did.
  double goal_wait_p95_s = 0;
  double goal_wait_p99_s = 0;
  double agent_seconds = 0;
  std::optional<double> oracle_ratio;  // agent-seconds / the oracle's, same trace and seed
  double flips_per_10min = 0;          // reversals of the direction of pool changes
  std::optional<double> min_dwell_s;   // shortest time between opposite actions; none without
  // Worst time from surge onset to the next decision that adds agents. The onset is the first
  // arrival within 120 s after a surge that finds no idle agent. None when the trace has no
  // surge or no arrival found the pool busy.
  std::optional<double> reaction_s;
  int peak_agents = 0;
  std::optional<double> peak_ratio;  // peak / the oracle's peak
  int64_t killed = 0;
  int64_t rejected_503 = 0;
  int64_t overcommits = 0;
  int64_t failed = 0;
  int unstarted = 0;
  int actions = 0;
  double recorded_share = 1;  // actions with a decision record / actions
  double wall_s = 0;

  nlohmann::json to_json() const;
};

// Computes the figures of `run`; the oracle ratios stay empty.
Figures compute_figures(const RunResult& run);

// Fills the oracle ratios of `figures` from the oracle's figures on the same trace and seed.
void compare_with_oracle(Figures& figures, const Figures& oracle);

// One goal checked on one run.
struct GoalCheck {
  std::string goal;  // e.g. "p95 wait <= 5 s"
  double value = 0;
  double limit = 0;
  bool met = false;

  nlohmann::json to_json() const;
};

// Returns the goals that apply to a run on a trace of kind `trace` (steady, bursty, step, or
// anything else for traces without goals) with start-up time `startup_s`. Cost goals count as met
// only while the wait goals hold; goals needing the oracle are skipped without its ratios.
std::vector<GoalCheck> check_goals(const Figures& figures, const std::string& trace,
                                   double startup_s);

}  // namespace ollamaflow::sim
