// Workload metrics collector: task lifecycle events, agent states, server signals and host load,
// summarized over sliding windows into one snapshot and a severity level.
//
// Task lifecycle, as the collector tracks it:
//
//   task_queued --> queued --task_started--> running --task_completed--> (done: success/failure)
//                     ^                        |
//                     +------task_retried------+       task_cancelled ends either state
//
// Thread-safe: every method may be called from any thread; one mutex guards all state, and no
// method calls out while holding it. Memory is bounded: finished tasks leave the task table at
// once, windows are per-second buckets and fixed-size sample rings, and when the table of live
// tasks is full the oldest queued task is evicted (and counted).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "core/status.h"
#include "workload/host.h"
#include "workload/metrics.h"
#include "workload/sizing.h"
#include "workload/windows.h"

namespace ollamaflow::workload {

struct CollectorSettings {
  WorkloadScalingSettings thresholds;
  int min_agents = 1;  // bounds of the workload proposal
  int max_agents = 8;
  double short_window_s = 60;
  double long_window_s = 300;
  double rate_time_constant_s = 60;  // EWMA time constant of the smoothed arrival rate
  double peak_horizon_s = 1800;      // how far back the peak arrival rate looks
  size_t max_live_tasks = 100000;    // queued + running tasks tracked at once
  size_t sample_capacity = 16384;    // wait and service samples kept per ring
  int min_finished_for_error_rate = 5;
  std::string proc_root = "/proc";

  // Returns an error naming the first invalid field, its value and the allowed range.
  Status validate() const;
};

// Builds collector settings from the configuration's workload thresholds and agent bounds.
CollectorSettings collector_settings(const Config& config);

// The workload signal's proposal, as get_scaling_recommendations() returns it. No cooldown or
// hold window applies here: the scaling engine adds stability.
struct WorkloadRecommendation {
  int current_agents = 0;  // busy + idle + starting
  int desired_agents = 0;  // sizing clamped to [min_agents, max_agents]
  std::string action;      // "scale_up", "scale_down" or "none"
  Severity severity = Severity::kVeryLow;
  WorkloadSizing sizing;
  std::string reason;

  nlohmann::json to_json() const;
};

class MetricsCollector {
 public:
  // `settings` must pass validate(); create() checks it for settings from users.
  MetricsCollector(std::shared_ptr<Clock> clock, CollectorSettings settings);

  static Result<std::unique_ptr<MetricsCollector>> create(std::shared_ptr<Clock> clock,
                                                          CollectorSettings settings);

  // Task lifecycle. Events for a task id the collector does not track (never queued, already
  // finished or evicted) are counted as unknown and otherwise ignored.
  void task_queued(std::string_view task_id);
  void task_started(std::string_view task_id, std::string_view agent_id);
  void task_completed(std::string_view task_id);
  void task_failed(std::string_view task_id);
  // The running attempt ended without success and the task went back to the queue. Counts as an
  // arrival and as a failed attempt in the error rate.
  void task_retried(std::string_view task_id);
  void task_cancelled(std::string_view task_id);

  // Agents. A registered agent is starting until agent_ready(); an agent named by task_started
  // that was never registered is registered as ready.
  void agent_registered(std::string_view agent_id, bool ready);
  void agent_ready(std::string_view agent_id);
  void agent_unregistered(std::string_view agent_id);

  // Replaces the model server's signals; the fields it lacks stay nullopt.
  void set_server_signal(const ServerSignal& signal);

  // Reads host CPU and memory from the proc root; returns the sampler's status.
  Status sample_host();

  WorkloadMetrics get_current_metrics() const;
  WorkloadRecommendation get_scaling_recommendations() const;

  long long unknown_events() const;

 private:
  enum class TaskState { kQueued, kRunning };
  enum class AgentState { kStarting, kIdle, kBusy };

  // Hash that accepts std::string_view, so lookups by view need no allocation.
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  template <typename Value>
  using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

  struct TaskRecord {
    TaskState state = TaskState::kQueued;
    int64_t queued_ns = 0;
    int64_t started_ns = 0;
    std::string agent_id;
  };

  int64_t now_ns() const;
  void advance_integrals(int64_t now) const;
  BucketRing::Bucket& bucket(int64_t now);
  void on_arrival(int64_t now, std::string_view task_id);
  void evict_oldest_queued();
  bool is_current(const std::pair<int64_t, std::string>& entry) const;
  void prune_queued_order();
  void finish_attempt(int64_t now, TaskRecord& task);
  void set_agent_state(std::string_view agent_id, AgentState state, int64_t now);
  void count_agent(AgentState state, int delta);
  double smoothed_rate(int64_t now) const;
  double peak_rate(int64_t now) const;
  std::optional<double> startup_mean_s() const;
  double oldest_queued_s(int64_t now) const;
  WindowStats window_stats(int64_t now, double window_s) const;
  WorkloadMetrics snapshot_locked() const;

  std::shared_ptr<Clock> clock_;
  const CollectorSettings settings_;
  const int64_t start_ns_;

  mutable std::mutex mutex_;
  // Guarded by mutex_.
  StringMap<TaskRecord> tasks_;
  std::deque<std::pair<int64_t, std::string>> queued_order_;  // may hold stale entries
  StringMap<AgentState> agents_;
  int queued_ = 0;
  int running_ = 0;
  int busy_agents_ = 0;
  int idle_agents_ = 0;
  int starting_agents_ = 0;
  // Booking agent-seconds up to now does not change what the collector reports, so snapshots
  // (const) may advance these two.
  mutable int64_t integral_ns_;  // time up to which busy/ready integrals are booked
  mutable BucketRing buckets_;
  SampleRing waits_;
  SampleRing services_;
  double rate_ewma_ = 0;
  int64_t rate_updated_ns_;
  // The peak arrival rate counts arrivals in 30 s spans and takes the busiest two neighbours.
  static constexpr int64_t kPeakSpanNs = 30'000'000'000;
  // Arrivals per span, oldest first, over peak_horizon_s: (span index, count).
  std::deque<std::pair<int64_t, int>> peak_spans_;
  StringMap<int64_t> starting_since_;   // registration time of each starting agent
  std::deque<double> startup_samples_;  // the latest start-up times, in seconds
  ServerSignal server_;
  HostLoad host_;
  HostSampler host_sampler_;
  long long total_events_ = 0;
  long long evicted_tasks_ = 0;
  long long unknown_events_ = 0;
};

}  // namespace ollamaflow::workload
