// The workload signal: how many agents the current work needs, from three proposals.
//   demand now   busy agents plus the agents that the queued tasks need to start within the
//                wait target (the fast path; it reacts within one evaluation);
//   Erlang C     the fewest agents whose wait quantile meets the wait target for the smoothed
//                arrival rate and mean service time (the base size);
//   utilization  the time-weighted mean of busy agents divided by the target utilization.
// The largest proposal wins and the spare agents are added on top. Pure functions.
#pragma once

#include <optional>
#include <string>

#include "core/clock.h"
#include "workload/metrics.h"

namespace ollamaflow::workload {

// The workload inputs of one sizing, usually projected from a WorkloadMetrics snapshot.
struct WorkloadSignal {
  int queue_length = 0;
  int busy_agents = 0;
  int idle_agents = 0;
  int starting_agents = 0;
  std::optional<double> arrival_rate;      // smoothed arrivals per second
  std::optional<double> mean_service_s;    // mean task service time
  std::optional<double> busy_agents_mean;  // time-weighted over the short window
  // Arrivals per second over the short window; reacts to a surge faster than the smoothed rate.
  std::optional<double> recent_arrival_rate;
  std::optional<double> peak_arrival_rate;  // the busiest minute of the last 30 minutes
  std::optional<double> startup_s;          // mean agent start-up time
  Severity severity = Severity::kVeryLow;
  MonoTime sampled_at{};
};

// Builds the signal from a snapshot: the smoothed arrival rate, the long window's mean service
// time (the short window's when the long one has none) and the short window's mean busy agents.
WorkloadSignal to_signal(const WorkloadMetrics& metrics);

struct SizingParams {
  double wait_target_s = 5;
  double wait_quantile = 0.95;      // the wait quantile that must meet the target
  double target_utilization = 1.0;  // below 1 keeps agents in reserve in the utilization rule
  // Whether busy agents count as taking part of the queue within the wait target: the expected
  // number of them that finish within it absorbs that many queued tasks. Without it, every
  // queued task that no idle or starting agent will take needs a new agent. The expectation
  // holds on average, but a task counted as absorbed still misses the target about half the
  // time, and a surge's first waiting task goes unanswered until the queue outgrows it.
  bool busy_agents_absorb_queue = false;
  // Whether to keep start-up headroom for agents that start slower than twice the wait target:
  // the agents that a rise back to the recent peak rate needs before new agents are ready.
  bool startup_headroom = false;
  // Whether Erlang C sizes from the lower of the smoothed and the short window's arrival rate
  // while nothing is queued, so that the size follows a drop in load within the short window
  // instead of the smoothed rate's time constant.
  bool follow_drop = false;
  double spare_fraction = 0;  // spare agents as a fraction of the largest proposal
  int min_spare = 0;          // spare agents kept even with no work
  int search_limit = 1024;    // largest pool the Erlang C search considers
};

// One sizing with each proposal, for the decision record.
struct WorkloadSizing {
  int demand_now = 0;
  // The queued tasks need more agents than the pool has (busy, idle and starting), so some of
  // them wait longer than the wait target.
  bool wait_breached = false;
  std::optional<int> erlang;          // nullopt without an arrival rate or a service time
  std::optional<double> erlang_rate;  // the arrival rate that sized `erlang`
  std::optional<int> utilization;     // nullopt without a busy-agent mean
  int spare = 0;
  int headroom = 0;  // start-up headroom, on top of the spare agents
  int desired = 0;
  std::string reason;
};

// Sizes the pool for `signal`. Never returns fewer than the busy agents, so an agent that is
// working is never proposed for removal. While the wait target is breached, Erlang C uses the
// larger of the smoothed and the recent arrival rate, so that the size follows a surge sooner
// than the smoothed rate alone allows.
WorkloadSizing size_workload(const WorkloadSignal& signal, const SizingParams& params);

}  // namespace ollamaflow::workload
