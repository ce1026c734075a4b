// The reading side of the metrics collector: window statistics, snapshots and the workload
// proposal.
#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "workload/collector.h"

namespace ollamaflow::workload {
namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;

double ns_to_s(int64_t ns) {
  return static_cast<double>(ns) / kNanosPerSecond;
}

std::optional<double> mean(const std::vector<float>& values) {
  if (values.empty()) {
    return std::nullopt;
  }
  const double sum = std::accumulate(values.begin(), values.end(), 0.0);
  return sum / static_cast<double>(values.size());
}

}  // namespace

// Returns the EWMA rate at `now`, corrected for the bias of a young collector: before one time
// constant has passed, the weights sum to less than 1 and the raw value reads low.
double MetricsCollector::smoothed_rate(int64_t now) const {
  const double tau_ns = settings_.rate_time_constant_s * kNanosPerSecond;
  const double decayed =
      rate_ewma_ *
      std::exp(-static_cast<double>(std::max<int64_t>(0, now - rate_updated_ns_)) / tau_ns);
  const double coverage = 1.0 - std::exp(-static_cast<double>(now - start_ns_) / tau_ns);
  if (coverage <= 1e-9) {
    return 0.0;
  }
  return decayed / coverage;
}

// Returns the highest arrival rate of two neighbouring 30 s spans within peak_horizon_s, so a
// surge of one minute counts whole however it falls across the spans. A span that has just begun
// counts as it is.
double MetricsCollector::peak_rate(int64_t now) const {
  const int64_t oldest =
      (now - static_cast<int64_t>(settings_.peak_horizon_s * kNanosPerSecond)) / kPeakSpanNs;
  int busiest = 0;
  for (size_t i = 0; i < peak_spans_.size(); ++i) {
    if (peak_spans_[i].first < oldest) {
      continue;
    }
    int arrivals = peak_spans_[i].second;
    if (i + 1 < peak_spans_.size() && peak_spans_[i + 1].first == peak_spans_[i].first + 1) {
      arrivals += peak_spans_[i + 1].second;
    }
    busiest = std::max(busiest, arrivals);
  }
  return busiest / (2 * ns_to_s(kPeakSpanNs));
}

std::optional<double> MetricsCollector::startup_mean_s() const {
  if (startup_samples_.empty()) {
    return std::nullopt;
  }
  const double sum = std::accumulate(startup_samples_.begin(), startup_samples_.end(), 0.0);
  return sum / static_cast<double>(startup_samples_.size());
}

double MetricsCollector::oldest_queued_s(int64_t now) const {
  for (const auto& entry : queued_order_) {
    if (is_current(entry)) {
      return ns_to_s(now - entry.first);
    }
  }
  return 0.0;
}

WindowStats MetricsCollector::window_stats(int64_t now, double window_s) const {
  WindowStats stats;
  stats.window_s = window_s;
  // The window's first second is cut at a whole second, so the sums may include up to one
  // second of data from just before the window.
  const int64_t since = now - static_cast<int64_t>(window_s * kNanosPerSecond);
  const BucketRing::Bucket sum = buckets_.sum(since / kNanosPerSecond, now / kNanosPerSecond);
  stats.arrivals = sum.arrivals;
  stats.started = sum.started;
  stats.completed = sum.completed;
  stats.failed = sum.failed;
  stats.retried = sum.retried;
  stats.cancelled = sum.cancelled;

  // A collector younger than the window divides by its age, so early rates do not read low.
  const double covered_s = std::clamp(ns_to_s(now - start_ns_), 1.0, window_s);
  stats.arrival_rate = stats.arrivals / covered_s;
  stats.throughput = stats.completed / covered_s;
  const int attempts = stats.completed + stats.failed + stats.retried;
  if (attempts > 0) {
    stats.error_rate = static_cast<double>(stats.failed + stats.retried) / attempts;
  }
  if (sum.ready_agent_s > 0) {
    stats.busy_agents_mean = sum.busy_agent_s / covered_s;
    stats.ready_agents_mean = sum.ready_agent_s / covered_s;
    stats.utilization = sum.busy_agent_s / sum.ready_agent_s;
  }

  std::vector<float> values;
  waits_.collect(since, values);
  stats.wait_p50_s = percentile(values, 0.50);
  stats.wait_p95_s = percentile(values, 0.95);
  if (!values.empty()) {
    stats.wait_max_s = *std::max_element(values.begin(), values.end());
  }
  values.clear();
  services_.collect(since, values);
  stats.service_mean_s = mean(values);
  stats.service_p95_s = percentile(values, 0.95);
  return stats;
}

WorkloadMetrics MetricsCollector::snapshot_locked() const {
  const int64_t now = now_ns();
  advance_integrals(now);
  WorkloadMetrics metrics;
  metrics.taken_at = MonoTime(std::chrono::nanoseconds(now));
  metrics.queue_length = queued_;
  metrics.running_tasks = running_;
  metrics.oldest_queued_s = oldest_queued_s(now);
  metrics.busy_agents = busy_agents_;
  metrics.idle_agents = idle_agents_;
  metrics.starting_agents = starting_agents_;
  const int ready = busy_agents_ + idle_agents_;
  if (ready > 0) {
    metrics.utilization_now = static_cast<double>(busy_agents_) / ready;
  }
  metrics.smoothed_arrival_rate = smoothed_rate(now);
  metrics.peak_arrival_rate = peak_rate(now);
  metrics.startup_mean_s = startup_mean_s();
  metrics.short_window = window_stats(now, settings_.short_window_s);
  metrics.long_window = window_stats(now, settings_.long_window_s);
  metrics.server = server_;
  metrics.host = host_;
  metrics.total_events = total_events_;
  metrics.evicted_tasks = evicted_tasks_;
  auto [severity, reason] =
      classify_severity(metrics, settings_.thresholds, settings_.min_finished_for_error_rate);
  metrics.severity = severity;
  metrics.severity_reason = std::move(reason);
  return metrics;
}

WorkloadMetrics MetricsCollector::get_current_metrics() const {
  std::lock_guard lock(mutex_);
  return snapshot_locked();
}

WorkloadRecommendation MetricsCollector::get_scaling_recommendations() const {
  const WorkloadMetrics metrics = get_current_metrics();
  SizingParams params;
  params.wait_target_s = settings_.thresholds.wait_target;
  params.search_limit = settings_.max_agents;

  WorkloadRecommendation recommendation;
  recommendation.current_agents =
      metrics.busy_agents + metrics.idle_agents + metrics.starting_agents;
  recommendation.severity = metrics.severity;
  recommendation.sizing = size_workload(to_signal(metrics), params);
  recommendation.desired_agents =
      std::clamp(recommendation.sizing.desired, settings_.min_agents, settings_.max_agents);
  if (recommendation.desired_agents > recommendation.current_agents) {
    recommendation.action = "scale_up";
  } else if (recommendation.desired_agents < recommendation.current_agents) {
    recommendation.action = "scale_down";
  } else {
    recommendation.action = "none";
  }
  recommendation.reason = fmt::format(
      "{} -> {} agents (bounds {}..{}): {}; severity {} ({})", recommendation.current_agents,
      recommendation.desired_agents, settings_.min_agents, settings_.max_agents,
      recommendation.sizing.reason, severity_name(metrics.severity), metrics.severity_reason);
  return recommendation;
}

nlohmann::json WorkloadRecommendation::to_json() const {
  nlohmann::json json = {
      {"current_agents", current_agents},
      {"desired_agents", desired_agents},
      {"action", action},
      {"severity", severity_name(severity)},
      {"demand_now", sizing.demand_now},
      {"erlang", sizing.erlang ? nlohmann::json(*sizing.erlang) : nlohmann::json(nullptr)},
      {"utilization",
       sizing.utilization ? nlohmann::json(*sizing.utilization) : nlohmann::json(nullptr)},
      {"spare", sizing.spare},
      {"startup_headroom", sizing.headroom},
      {"reason", reason},
  };
  return json;
}

}  // namespace ollamaflow::workload
