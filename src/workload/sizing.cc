#include "workload/sizing.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "workload/queueing.h"

namespace ollamaflow::workload {
namespace {

// Agents beyond the busy ones that the queued tasks need to start within the wait target. With
// busy_agents_absorb_queue, busy agents absorb part of the queue: with exponential service
// times, each one finishes within the target with probability 1 - exp(-W / E[S]). A new agent
// starts one task at once and, for tasks shorter than the target, W / E[S] tasks within it.
// Without a service time every queued task needs an agent.
int queued_needing_agents(const WorkloadSignal& signal, const SizingParams& params) {
  const int queued = signal.queue_length;
  if (queued <= 0) {
    return 0;
  }
  if (!signal.mean_service_s || *signal.mean_service_s <= 0 || params.wait_target_s <= 0) {
    return queued;
  }
  const double ratio = params.wait_target_s / *signal.mean_service_s;
  const double absorbed = params.busy_agents_absorb_queue
                              ? std::max(0, signal.busy_agents) * (1.0 - std::exp(-ratio))
                              : 0.0;
  const double remaining = std::max(0.0, queued - absorbed);
  const double needed = std::ceil(remaining * std::min(1.0, 1.0 / ratio) - 1e-9);
  return std::clamp(static_cast<int>(needed), 0, queued);
}

// NOTE: M/M/c assumes exponential service times. Agent tasks are often heavier-tailed, which
// lengthens real waits, and no variance term corrects for that yet.
std::optional<int> erlang_size(const WorkloadSignal& signal, double rate,
                               const SizingParams& params) {
  const std::optional<int> agents =
      agents_for_wait_target(rate, *signal.mean_service_s, params.wait_target_s,
                             params.wait_quantile, params.search_limit);
  // A load beyond the search limit needs at least that many agents.
  return agents.value_or(params.search_limit);
}

// The rate that sizes Erlang C: the smoothed one, the recent one when it is higher and the wait
// target is breached, or the recent one when it is lower, nothing is queued and follow_drop is
// on. nullopt without an arrival rate or a service time.
std::optional<double> erlang_rate(const WorkloadSignal& signal, bool wait_breached,
                                  const SizingParams& params) {
  if (!signal.arrival_rate || !signal.mean_service_s || *signal.mean_service_s <= 0) {
    return std::nullopt;
  }
  double rate = *signal.arrival_rate;
  if (!signal.recent_arrival_rate) {
    return rate;
  }
  if (wait_breached) {
    rate = std::max(rate, *signal.recent_arrival_rate);
  } else if (params.follow_drop && signal.queue_length == 0) {
    rate = std::min(rate, *signal.recent_arrival_rate);
  }
  return rate;
}

std::optional<int> utilization_size(const WorkloadSignal& signal, const SizingParams& params) {
  if (!signal.busy_agents_mean || params.target_utilization <= 0) {
    return std::nullopt;
  }
  // Subtract a small epsilon so that 3.0000001 busy agents at target 1 stay 3.
  const double needed = *signal.busy_agents_mean / params.target_utilization - 1e-9;
  return static_cast<int>(std::ceil(std::max(0.0, needed)));
}

// Agents for a rise from the current rate back to the recent peak. After a surge starts, the
// queue calls new agents at once, and they are ready one start-up time L later. So the tasks that
// arrive in the surge's first L - 2W seconds wait past 2W, where W is the wait target. The
// headroom covers the arrivals above the current rate in that span, each of which keeps an agent
// busy for at most the mean service time. A start-up within 2W needs none.
int startup_headroom(const WorkloadSignal& signal, const SizingParams& params) {
  if (!params.startup_headroom || !signal.startup_s || !signal.peak_arrival_rate ||
      !signal.arrival_rate || !signal.mean_service_s || *signal.mean_service_s <= 0) {
    return 0;
  }
  const double late_s = std::max(0.0, *signal.startup_s - 2 * params.wait_target_s);
  const double now = std::max(*signal.arrival_rate, signal.recent_arrival_rate.value_or(0.0));
  const double rise = std::max(0.0, *signal.peak_arrival_rate - now);
  return static_cast<int>(std::floor(rise * std::min(late_s, *signal.mean_service_s)));
}

std::string describe(const WorkloadSignal& signal, const WorkloadSizing& sizing,
                     const SizingParams& params) {
  std::string reason =
      fmt::format("demand {} (busy {} + queued {} needing agents)", sizing.demand_now,
                  signal.busy_agents, sizing.demand_now - signal.busy_agents);
  if (sizing.erlang) {
    reason += fmt::format("; Erlang C {} for {:.3f}/s x {:.1f} s at p{:g} wait {:g} s",
                          *sizing.erlang, *sizing.erlang_rate, *signal.mean_service_s,
                          params.wait_quantile * 100, params.wait_target_s);
  }
  if (sizing.utilization) {
    reason += fmt::format("; utilization {} for {:.2f} busy at target {:g}", *sizing.utilization,
                          *signal.busy_agents_mean, params.target_utilization);
  }
  if (sizing.spare > 0) {
    reason += fmt::format("; spare {}", sizing.spare);
  }
  if (sizing.headroom > 0) {
    reason += fmt::format(
        "; start-up headroom {} for a rise to the peak {:.3f}/s within a {:.0f} s start-up",
        sizing.headroom, *signal.peak_arrival_rate, *signal.startup_s);
  }
  if (sizing.wait_breached) {
    reason += "; wait target breached";
  }
  return reason;
}

}  // namespace

WorkloadSignal to_signal(const WorkloadMetrics& metrics) {
  WorkloadSignal signal;
  signal.queue_length = metrics.queue_length;
  signal.busy_agents = metrics.busy_agents;
  signal.idle_agents = metrics.idle_agents;
  signal.starting_agents = metrics.starting_agents;
  if (metrics.long_window.arrivals > 0 || metrics.smoothed_arrival_rate > 0) {
    signal.arrival_rate = metrics.smoothed_arrival_rate;
  }
  signal.mean_service_s = metrics.long_window.service_mean_s ? metrics.long_window.service_mean_s
                                                             : metrics.short_window.service_mean_s;
  signal.busy_agents_mean = metrics.short_window.busy_agents_mean;
  if (metrics.short_window.arrivals > 0) {
    signal.recent_arrival_rate = metrics.short_window.arrival_rate;
  }
  if (metrics.peak_arrival_rate > 0) {
    signal.peak_arrival_rate = metrics.peak_arrival_rate;
  }
  signal.startup_s = metrics.startup_mean_s;
  signal.severity = metrics.severity;
  signal.sampled_at = metrics.taken_at;
  return signal;
}

WorkloadSizing size_workload(const WorkloadSignal& signal, const SizingParams& params) {
  WorkloadSizing sizing;
  sizing.demand_now = std::max(0, signal.busy_agents) + queued_needing_agents(signal, params);
  const int pool = std::max(0, signal.busy_agents) + std::max(0, signal.idle_agents) +
                   std::max(0, signal.starting_agents);
  sizing.wait_breached = sizing.demand_now > pool;
  sizing.erlang_rate = erlang_rate(signal, sizing.wait_breached, params);
  if (sizing.erlang_rate) {
    sizing.erlang = erlang_size(signal, *sizing.erlang_rate, params);
  }
  sizing.utilization = utilization_size(signal, params);

  int largest = sizing.demand_now;
  largest = std::max(largest, sizing.erlang.value_or(0));
  largest = std::max(largest, sizing.utilization.value_or(0));
  const int spare = static_cast<int>(std::ceil(largest * params.spare_fraction - 1e-9));
  sizing.spare = std::max(params.min_spare, spare);
  sizing.headroom = startup_headroom(signal, params);
  sizing.desired = largest + sizing.spare + sizing.headroom;
  sizing.reason = describe(signal, sizing, params);
  return sizing;
}

}  // namespace ollamaflow::workload
