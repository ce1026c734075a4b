#include "workload/metrics.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/count_text.h"

namespace ollamaflow::workload {
namespace {

// Ladder constants that the configuration does not name: the multiples of the high thresholds
// that mark the two levels above HIGH, and the absolute floors of the two lightest levels.
constexpr double kCriticalWaitFactor = 4;
constexpr double kVeryHighFactor = 2;
constexpr double kCriticalErrorRate = 0.15;
constexpr double kCriticalCpuMargin = 15;  // percent points above high_cpu_usage
constexpr double kVeryHighCpuMargin = 5;
constexpr double kModerateCpuMargin = -20;
constexpr double kCriticalMemoryMargin = 10;  // percent points above high_memory_usage
constexpr double kVeryHighMemoryMargin = 5;
constexpr int kModerateQueue = 3;
constexpr int kLowQueue = 1;
constexpr double kLowUtilization = 0.3;

nlohmann::json optional_json(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json optional_json(const std::optional<int>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json window_json(const WindowStats& window) {
  return {
      {"window_s", window.window_s},
      {"arrivals", window.arrivals},
      {"started", window.started},
      {"completed", window.completed},
      {"failed", window.failed},
      {"retried", window.retried},
      {"cancelled", window.cancelled},
      {"arrival_rate", window.arrival_rate},
      {"throughput", window.throughput},
      {"error_rate", optional_json(window.error_rate)},
      {"wait_p50_s", optional_json(window.wait_p50_s)},
      {"wait_p95_s", optional_json(window.wait_p95_s)},
      {"wait_max_s", optional_json(window.wait_max_s)},
      {"service_mean_s", optional_json(window.service_mean_s)},
      {"service_p95_s", optional_json(window.service_p95_s)},
      {"busy_agents_mean", optional_json(window.busy_agents_mean)},
      {"ready_agents_mean", optional_json(window.ready_agents_mean)},
      {"utilization", optional_json(window.utilization)},
  };
}

double effective_wait(const WorkloadMetrics& metrics) {
  return std::max(metrics.short_window.wait_p95_s.value_or(0.0), metrics.oldest_queued_s);
}

std::optional<double> idle_fraction(const WorkloadMetrics& metrics) {
  const int ready = metrics.busy_agents + metrics.idle_agents;
  if (ready == 0) {
    return std::nullopt;
  }
  return static_cast<double>(metrics.idle_agents) / ready;
}

std::string check_resources(const HostLoad& host, double cpu_limit, double memory_limit) {
  if (host.cpu_percent && *host.cpu_percent > cpu_limit) {
    return fmt::format("host CPU {:.1f}% > {:.1f}%", *host.cpu_percent, cpu_limit);
  }
  if (host.memory_percent && *host.memory_percent > memory_limit) {
    return fmt::format("host memory {:.1f}% > {:.1f}%", *host.memory_percent, memory_limit);
  }
  return "";
}

std::string check_queue_and_wait(const WorkloadMetrics& metrics, double queue_limit,
                                 double wait_limit) {
  if (metrics.queue_length > queue_limit) {
    return fmt::format("queue length {} > {:g}", metrics.queue_length, queue_limit);
  }
  const double wait = effective_wait(metrics);
  if (wait > wait_limit) {
    return fmt::format("queue wait {:.1f} s > {:g} s", wait, wait_limit);
  }
  return "";
}

std::string check_critical(const WorkloadMetrics& metrics, const WorkloadScalingSettings& settings,
                           int min_finished) {
  const WindowStats& window = metrics.long_window;
  if (window.error_rate && window.completed + window.failed >= min_finished &&
      *window.error_rate > kCriticalErrorRate) {
    return fmt::format("error rate {:.1f}% > {:g}% over {:g} s", *window.error_rate * 100,
                       kCriticalErrorRate * 100, window.window_s);
  }
  const double wait_limit = kCriticalWaitFactor * settings.high_wait_time;
  const double wait = effective_wait(metrics);
  if (wait > wait_limit) {
    return fmt::format("queue wait {:.1f} s > {:g} s", wait, wait_limit);
  }
  return check_resources(metrics.host, settings.high_cpu_usage + kCriticalCpuMargin,
                         settings.high_memory_usage + kCriticalMemoryMargin);
}

std::string check_very_high(const WorkloadMetrics& metrics,
                            const WorkloadScalingSettings& settings) {
  std::string reason = check_queue_and_wait(metrics, kVeryHighFactor * settings.high_queue_length,
                                            kVeryHighFactor * settings.high_wait_time);
  if (!reason.empty()) {
    return reason;
  }
  return check_resources(metrics.host, settings.high_cpu_usage + kVeryHighCpuMargin,
                         settings.high_memory_usage + kVeryHighMemoryMargin);
}

std::string check_high(const WorkloadMetrics& metrics, const WorkloadScalingSettings& settings) {
  std::string reason =
      check_queue_and_wait(metrics, settings.high_queue_length, settings.high_wait_time);
  if (!reason.empty()) {
    return reason;
  }
  reason = check_resources(metrics.host, settings.high_cpu_usage, settings.high_memory_usage);
  if (!reason.empty()) {
    return reason;
  }
  const std::optional<double> idle = idle_fraction(metrics);
  if (metrics.queue_length > 0 && idle && *idle < settings.low_idle_agents) {
    return fmt::format("idle agents {:.0f}% < {:g}% with {} queued", *idle * 100,
                       settings.low_idle_agents * 100, count_text(metrics.queue_length, "task"));
  }
  return "";
}

std::string check_moderate(const WorkloadMetrics& metrics,
                           const WorkloadScalingSettings& settings) {
  std::string reason = check_queue_and_wait(metrics, kModerateQueue, settings.high_wait_time / 3);
  if (!reason.empty()) {
    return reason;
  }
  if (metrics.host.cpu_percent &&
      *metrics.host.cpu_percent > settings.high_cpu_usage + kModerateCpuMargin) {
    return fmt::format("host CPU {:.1f}% > {:.1f}%", *metrics.host.cpu_percent,
                       settings.high_cpu_usage + kModerateCpuMargin);
  }
  if (metrics.utilization_now && *metrics.utilization_now >= settings.agent_overload_threshold) {
    return fmt::format("agent utilization {:.0f}% >= {:g}%", *metrics.utilization_now * 100,
                       settings.agent_overload_threshold * 100);
  }
  return "";
}

std::string check_low(const WorkloadMetrics& metrics) {
  if (metrics.queue_length > kLowQueue) {
    return fmt::format("queue length {} > {}", metrics.queue_length, kLowQueue);
  }
  if (metrics.utilization_now && *metrics.utilization_now > kLowUtilization) {
    return fmt::format("agent utilization {:.0f}% > {:g}%", *metrics.utilization_now * 100,
                       kLowUtilization * 100);
  }
  return "";
}

}  // namespace

std::string_view severity_name(Severity severity) {
  switch (severity) {
    case Severity::kVeryLow:
      return "very_low";
    case Severity::kLow:
      return "low";
    case Severity::kModerate:
      return "moderate";
    case Severity::kHigh:
      return "high";
    case Severity::kVeryHigh:
      return "very_high";
    case Severity::kCritical:
      return "critical";
  }
  return "unknown";
}

std::pair<Severity, std::string> classify_severity(const WorkloadMetrics& metrics,
                                                   const WorkloadScalingSettings& settings,
                                                   int min_finished) {
  // Each check returns the reason of its first condition that holds, or an empty string.
  if (std::string reason = check_critical(metrics, settings, min_finished); !reason.empty()) {
    return {Severity::kCritical, reason};
  }
  if (std::string reason = check_very_high(metrics, settings); !reason.empty()) {
    return {Severity::kVeryHigh, reason};
  }
  if (std::string reason = check_high(metrics, settings); !reason.empty()) {
    return {Severity::kHigh, reason};
  }
  if (std::string reason = check_moderate(metrics, settings); !reason.empty()) {
    return {Severity::kModerate, reason};
  }
  if (std::string reason = check_low(metrics); !reason.empty()) {
    return {Severity::kLow, reason};
  }
  return {Severity::kVeryLow, "no queue, low utilization"};
}

nlohmann::json WorkloadMetrics::to_json() const {
  return {
      {"queue_length", queue_length},
      {"running_tasks", running_tasks},
      {"oldest_queued_s", oldest_queued_s},
      {"busy_agents", busy_agents},
      {"idle_agents", idle_agents},
      {"starting_agents", starting_agents},
      {"utilization_now", optional_json(utilization_now)},
      {"smoothed_arrival_rate", smoothed_arrival_rate},
      {"peak_arrival_rate", peak_arrival_rate},
      {"startup_mean_s", optional_json(startup_mean_s)},
      {"short_window", window_json(short_window)},
      {"long_window", window_json(long_window)},
      {"server",
       {{"queued_requests", optional_json(server.queued_requests)},
        {"busy_slots", optional_json(server.busy_slots)},
        {"total_slots", optional_json(server.total_slots)},
        {"prompt_tokens_per_s", optional_json(server.prompt_tokens_per_s)},
        {"output_tokens_per_s", optional_json(server.output_tokens_per_s)},
        {"server_wait_s", optional_json(server.server_wait_s)},
        {"source", server.source},
        {"notes", server.notes}}},
      {"host",
       {{"cpu_percent", optional_json(host.cpu_percent)},
        {"memory_percent", optional_json(host.memory_percent)}}},
      {"severity", severity_name(severity)},
      {"severity_reason", severity_reason},
      {"total_events", total_events},
      {"evicted_tasks", evicted_tasks},
  };
}

}  // namespace ollamaflow::workload
