// The workload snapshot that the metrics collector produces, and the severity ladder computed
// from it. Plain values: safe to copy between threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/config.h"

namespace ollamaflow::workload {

// Workload pressure levels, from lightest to heaviest.
enum class Severity { kVeryLow, kLow, kModerate, kHigh, kVeryHigh, kCritical };

// Returns the lower-case name, e.g. "very_high".
std::string_view severity_name(Severity severity);

// Statistics over one sliding window (1 or 5 minutes). Values that need samples are nullopt when
// the window contains none, so that "no data" never reads as zero.
struct WindowStats {
  double window_s = 0;
  int arrivals = 0;  // tasks queued, retries included
  int started = 0;
  int completed = 0;  // finished with success
  int failed = 0;
  int retried = 0;
  int cancelled = 0;
  double arrival_rate = 0;  // arrivals per second over the window
  double throughput = 0;    // completed tasks per second over the window
  // failed / (completed + failed), both counted in this window; nullopt with no finished task.
  std::optional<double> error_rate;
  std::optional<double> wait_p50_s;  // queue wait of tasks started in the window
  std::optional<double> wait_p95_s;
  std::optional<double> wait_max_s;
  std::optional<double> service_mean_s;  // start to finish of tasks finished in the window
  std::optional<double> service_p95_s;
  std::optional<double> busy_agents_mean;   // time-weighted over the window
  std::optional<double> ready_agents_mean;  // busy + idle, time-weighted
  std::optional<double> utilization;        // busy_agents_mean / ready_agents_mean
};

// Signals that a model server reports about itself, or that are derived from its replies. Each
// is nullopt when unknown. llama-server reports slots, queue and token rates. Ollama reports
// none of them, so its slot count is the configured one and its wait comes from reply timings.
struct ServerSignal {
  std::optional<int> queued_requests;  // requests waiting or deferred inside the server
  std::optional<int> busy_slots;
  std::optional<int> total_slots;
  std::optional<double> prompt_tokens_per_s;  // the server's prompt throughput
  std::optional<double> output_tokens_per_s;  // the server's generation throughput
  // Mean seconds a request waited inside the server before its work began, derived from reply
  // timings (Ollama).
  std::optional<double> server_wait_s;
  std::string source;  // e.g. "llama-server at http://127.0.0.1:8080"
  std::string notes;   // why signals are unknown, empty when all were read
  MonoTime sampled_at{};
};

// Host CPU and memory use in percent; nullopt until a reading exists (CPU needs two samples).
struct HostLoad {
  std::optional<double> cpu_percent;
  std::optional<double> memory_percent;
  MonoTime sampled_at{};
};

// One snapshot of the workload, as get_current_metrics() returns it.
struct WorkloadMetrics {
  MonoTime taken_at{};
  int queue_length = 0;  // tasks queued now
  int running_tasks = 0;
  double oldest_queued_s = 0;  // age of the oldest queued task, 0 with an empty queue
  int busy_agents = 0;
  int idle_agents = 0;
  int starting_agents = 0;                // registered but not ready yet
  std::optional<double> utilization_now;  // busy / (busy + idle); nullopt with no ready agent
  // Arrivals per second, exponentially weighted with the collector's time constant.
  double smoothed_arrival_rate = 0;
  // The highest arrival rate of a minute within the collector's peak horizon (30 minutes).
  double peak_arrival_rate = 0;
  // Mean time from registration to ready of the latest agents that started; nullopt before one.
  std::optional<double> startup_mean_s;
  WindowStats short_window;  // 1 minute by default
  WindowStats long_window;   // 5 minutes by default
  ServerSignal server;
  HostLoad host;
  Severity severity = Severity::kVeryLow;
  std::string severity_reason;
  long long total_events = 0;
  long long evicted_tasks = 0;  // live tasks dropped because the task table was full

  nlohmann::json to_json() const;
};

// Classifies `metrics` with the thresholds in `settings` and returns the level and the first rule
// that matched, e.g. "queue length 21 > 20". Waits use the larger of the short window's p95 and
// the oldest queued task's age, so a stalled queue counts before any task starts. Error rates need
// at least `min_finished` finished tasks in the long window.
std::pair<Severity, std::string> classify_severity(const WorkloadMetrics& metrics,
                                                   const WorkloadScalingSettings& settings,
                                                   int min_finished);

}  // namespace ollamaflow::workload
