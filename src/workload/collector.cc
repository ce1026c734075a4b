#include "workload/collector.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/log.h"

namespace ollamaflow::workload {
namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;
constexpr size_t kStartupSamples = 16;  // start-up times that the mean covers

int64_t to_ns(MonoTime time) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

double ns_to_s(int64_t ns) {
  return static_cast<double>(ns) / kNanosPerSecond;
}

Status check_positive(std::string_view name, double value) {
  if (value > 0) {
    return Status::ok();
  }
  return Status(ErrorCode::kInvalidArgument,
                fmt::format("collector setting {} = {} is invalid; it must be > 0", name, value));
}

}  // namespace

Status CollectorSettings::validate() const {
  for (const auto& [name, value] :
       {std::pair<std::string_view, double>{"short_window_s", short_window_s},
        {"long_window_s", long_window_s},
        {"rate_time_constant_s", rate_time_constant_s},
        {"peak_horizon_s", peak_horizon_s},
        {"max_live_tasks", static_cast<double>(max_live_tasks)},
        {"sample_capacity", static_cast<double>(sample_capacity)}}) {
    if (Status status = check_positive(name, value); !status) {
      return status;
    }
  }
  if (long_window_s < short_window_s) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("collector setting long_window_s = {} is invalid; it must be >= "
                              "short_window_s ({})",
                              long_window_s, short_window_s));
  }
  if (min_agents < 0 || max_agents < std::max(1, min_agents)) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("collector agent bounds min {} max {} are invalid; they need "
                              "0 <= min_agents <= max_agents and max_agents >= 1",
                              min_agents, max_agents));
  }
  return Status::ok();
}

CollectorSettings collector_settings(const Config& config) {
  CollectorSettings settings;
  settings.thresholds = config.workload;
  settings.min_agents = config.gpu_scaling.min_agents;
  settings.max_agents = config.gpu_scaling.max_agents.value_or(8);
  return settings;
}

MetricsCollector::MetricsCollector(std::shared_ptr<Clock> clock, CollectorSettings settings)
    : clock_(std::move(clock)),
      settings_(std::move(settings)),
      start_ns_(to_ns(clock_->now())),
      integral_ns_(start_ns_),
      buckets_(static_cast<int>(std::ceil(settings_.long_window_s))),
      waits_(settings_.sample_capacity),
      services_(settings_.sample_capacity),
      rate_updated_ns_(start_ns_),
      host_sampler_(settings_.proc_root) {}

Result<std::unique_ptr<MetricsCollector>> MetricsCollector::create(std::shared_ptr<Clock> clock,
                                                                   CollectorSettings settings) {
  if (Status status = settings.validate(); !status) {
    return status;
  }
  return std::make_unique<MetricsCollector>(std::move(clock), std::move(settings));
}

int64_t MetricsCollector::now_ns() const {
  return to_ns(clock_->now());
}

// Books busy and ready agent-seconds from integral_ns_ up to `now`, split at second boundaries.
void MetricsCollector::advance_integrals(int64_t now) const {
  if (now <= integral_ns_) {
    return;
  }
  const int64_t ring_ns = static_cast<int64_t>(buckets_.seconds()) * kNanosPerSecond;
  if (now - integral_ns_ > ring_ns) {
    integral_ns_ = now - ring_ns;  // older seconds have left the ring anyway
  }
  const int busy = busy_agents_;
  const int ready = busy_agents_ + idle_agents_;
  while (integral_ns_ < now) {
    const int64_t second = integral_ns_ / kNanosPerSecond;
    const int64_t end = std::min(now, (second + 1) * kNanosPerSecond);
    const double span_s = ns_to_s(end - integral_ns_);
    BucketRing::Bucket& slot = buckets_.at(second);
    slot.busy_agent_s += busy * span_s;
    slot.ready_agent_s += ready * span_s;
    integral_ns_ = end;
  }
}

BucketRing::Bucket& MetricsCollector::bucket(int64_t now) {
  return buckets_.at(now / kNanosPerSecond);
}

void MetricsCollector::on_arrival(int64_t now, std::string_view task_id) {
  bucket(now).arrivals++;
  queued_++;
  queued_order_.emplace_back(now, std::string(task_id));
  // Exponentially weighted count: decay the old value, add this arrival's weight 1 / tau.
  const double tau_ns = settings_.rate_time_constant_s * kNanosPerSecond;
  if (now > rate_updated_ns_) {
    rate_ewma_ *= std::exp(-static_cast<double>(now - rate_updated_ns_) / tau_ns);
    rate_updated_ns_ = now;
  }
  rate_ewma_ += 1.0 / settings_.rate_time_constant_s;

  const int64_t span = now / kPeakSpanNs;
  if (!peak_spans_.empty() && peak_spans_.back().first == span) {
    peak_spans_.back().second++;
  } else {
    peak_spans_.emplace_back(span, 1);
  }
  const int64_t oldest =
      (now - static_cast<int64_t>(settings_.peak_horizon_s * kNanosPerSecond)) / kPeakSpanNs;
  while (!peak_spans_.empty() && peak_spans_.front().first < oldest) {
    peak_spans_.pop_front();
  }
}

// An entry of queued_order_ is current while its task is still queued since that time; started,
// finished and requeued tasks leave stale entries behind.
bool MetricsCollector::is_current(const std::pair<int64_t, std::string>& entry) const {
  auto it = tasks_.find(entry.second);
  return it != tasks_.end() && it->second.state == TaskState::kQueued &&
         it->second.queued_ns == entry.first;
}

// Drops stale entries from the front and compacts the whole deque once stale entries outnumber
// the queued tasks, so its size stays within 2 * queued + 1024 at amortized O(1) per event.
void MetricsCollector::prune_queued_order() {
  while (!queued_order_.empty() && !is_current(queued_order_.front())) {
    queued_order_.pop_front();
  }
  const size_t limit = 2 * static_cast<size_t>(queued_) + 1024;
  if (queued_order_.size() <= limit) {
    return;
  }
  std::deque<std::pair<int64_t, std::string>> current;
  for (auto& entry : queued_order_) {
    if (is_current(entry)) {
      current.push_back(std::move(entry));
    }
  }
  queued_order_ = std::move(current);
}

void MetricsCollector::evict_oldest_queued() {
  prune_queued_order();
  if (queued_order_.empty()) {
    return;
  }
  tasks_.erase(queued_order_.front().second);
  queued_order_.pop_front();
  queued_--;
  evicted_tasks_++;
}

void MetricsCollector::task_queued(std::string_view task_id) {
  const int64_t now = now_ns();
  std::lock_guard lock(mutex_);
  total_events_++;
  if (tasks_.find(task_id) != tasks_.end()) {
    unknown_events_++;  // a second task_queued for a live task
    return;
  }
  if (tasks_.size() >= settings_.max_live_tasks) {
    evict_oldest_queued();
    if (tasks_.size() >= settings_.max_live_tasks) {
      evicted_tasks_++;  // every live task is running: this one is not tracked
      return;
    }
  }
  TaskRecord record;
  record.queued_ns = now;
  tasks_.emplace(std::string(task_id), std::move(record));
  on_arrival(now, task_id);
}

void MetricsCollector::task_started(std::string_view task_id, std::string_view agent_id) {
  const int64_t now = now_ns();
  std::lock_guard lock(mutex_);
  total_events_++;
  auto it = tasks_.find(task_id);
  if (it == tasks_.end() || it->second.state != TaskState::kQueued) {
    unknown_events_++;
    return;
  }
  advance_integrals(now);
  TaskRecord& task = it->second;
  task.state = TaskState::kRunning;
  task.started_ns = now;
  task.agent_id = std::string(agent_id);
  queued_--;
  running_++;
  prune_queued_order();
  bucket(now).started++;
  waits_.push(now, static_cast<float>(ns_to_s(now - task.queued_ns)));
  if (!agent_id.empty()) {
    set_agent_state(agent_id, AgentState::kBusy, now);
  }
}

// Ends the running attempt of `task`: books its service time and frees its agent.
void MetricsCollector::finish_attempt(int64_t now, TaskRecord& task) {
  advance_integrals(now);
  services_.push(now, static_cast<float>(ns_to_s(now - task.started_ns)));
  running_--;
  if (!task.agent_id.empty()) {
    auto agent = agents_.find(task.agent_id);
    if (agent != agents_.end() && agent->second == AgentState::kBusy) {
      set_agent_state(task.agent_id, AgentState::kIdle, now);
    }
  }
}

void MetricsCollector::task_completed(std::string_view task_id) {
  const int64_t now = now_ns();
  std::lock_guard lock(mutex_);
  total_events_++;
  auto it = tasks_.find(task_id);
  if (it == tasks_.end() || it->second.state != TaskState::kRunning) {
    unknown_events_++;
    return;
  }
  finish_attempt(now, it->second);
  bucket(now).completed++;
  tasks_.erase(it);
}

void MetricsCollector::task_failed(std::string_view task_id) {
  const int64_t now = now_ns();
  std::lock_guard lock(mutex_);
  total_events_++;
  auto it = tasks_.find(task_id);
  if (it == tasks_.end() || it->second.state != TaskState::kRunning) {
    unknown_events_++;
    return;
  }
  finish_attempt(now, it->second);
  bucket(now).failed++;
  tasks_.erase(it);
}

void MetricsCollector::task_retried(std::string_view task_id) {
  const int64_t now = now_ns();
  std::lock_guard lock(mutex_);
  total_events_++;
  auto it = tasks_.find(task_id);
  if (it == tasks_.end() || it->second.state != TaskState::kRunning) {
    unknown_events_++;
    return;
  }
  finish_attempt(now, it->second);
  bucket(now).retried++;
  TaskRecord& task = it->second;
  task.state = TaskState::kQueued;
  task.queued_ns = now;
  task.agent_id.clear();
  on_arrival(now, task_id);
}

void MetricsCollector::task_cancelled(std::string_view task_id) {
  const int64_t now = now_ns();
  std::lock_guard lock(mutex_);
  total_events_++;
  auto it = tasks_.find(task_id);
  if (it == tasks_.end()) {
    unknown_events_++;
    return;
  }
  if (it->second.state == TaskState::kRunning) {
    finish_attempt(now, it->second);
    tasks_.erase(it);
  } else {
    queued_--;
    tasks_.erase(it);
    prune_queued_order();
  }
  bucket(now).cancelled++;
}

void MetricsCollector::count_agent(AgentState state, int delta) {
  switch (state) {
    case AgentState::kStarting:
      starting_agents_ += delta;
      break;
    case AgentState::kIdle:
      idle_agents_ += delta;
      break;
    case AgentState::kBusy:
      busy_agents_ += delta;
      break;
  }
}

void MetricsCollector::set_agent_state(std::string_view agent_id, AgentState state, int64_t now) {
  advance_integrals(now);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) {
    agents_.emplace(std::string(agent_id), state);
    count_agent(state, +1);
    return;
  }
  count_agent(it->second, -1);
  it->second = state;
  count_agent(state, +1);
}

void MetricsCollector::agent_registered(std::string_view agent_id, bool ready) {
  const int64_t now = now_ns();
  std::lock_guard lock(mutex_);
  total_events_++;
  if (agents_.find(agent_id) != agents_.end()) {
    unknown_events_++;
    return;
  }
  set_agent_state(agent_id, ready ? AgentState::kIdle : AgentState::kStarting, now);
  if (!ready) {
    starting_since_[std::string(agent_id)] = now;
  }
}

void MetricsCollector::agent_ready(std::string_view agent_id) {
  const int64_t now = now_ns();
  std::lock_guard lock(mutex_);
  total_events_++;
  auto it = agents_.find(agent_id);
  if (it == agents_.end() || it->second != AgentState::kStarting) {
    unknown_events_++;
    return;
  }
  set_agent_state(agent_id, AgentState::kIdle, now);
  if (auto since = starting_since_.find(agent_id); since != starting_since_.end()) {
    startup_samples_.push_back(ns_to_s(now - since->second));
    if (startup_samples_.size() > kStartupSamples) {
      startup_samples_.pop_front();
    }
    starting_since_.erase(since);
  }
}

void MetricsCollector::agent_unregistered(std::string_view agent_id) {
  const int64_t now = now_ns();
  std::lock_guard lock(mutex_);
  total_events_++;
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) {
    unknown_events_++;
    return;
  }
  advance_integrals(now);
  count_agent(it->second, -1);
  agents_.erase(it);
  if (auto since = starting_since_.find(agent_id); since != starting_since_.end()) {
    starting_since_.erase(since);
  }
}

void MetricsCollector::set_server_signal(const ServerSignal& signal) {
  std::lock_guard lock(mutex_);
  server_ = signal;
}

Status MetricsCollector::sample_host() {
  const MonoTime now = clock_->now();
  std::lock_guard lock(mutex_);
  Status status = host_sampler_.sample(now, host_);
  if (!status) {
    get_logger("workload")->debug("host load sample failed: {}", status.message());
  }
  return status;
}

long long MetricsCollector::unknown_events() const {
  std::lock_guard lock(mutex_);
  return unknown_events_;
}

}  // namespace ollamaflow::workload
