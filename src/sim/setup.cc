// Building a simulation, what the policies observe, the faults' effect on the signals, and the
// run's result.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/log.h"
#include "model/memory_estimate.h"
#include "model/model_spec.h"
#include "sim/simulation.h"

namespace ollamaflow::sim {
namespace {

constexpr double kMib = 1024.0 * 1024.0;

// Llama 3.1 8B as Ollama's default tag ships it (Q4_K_M, 4.92 GB of weights): 32 layers,
// 32 query heads, 8 KV heads of 128 dimensions.
model::ModelSpec llama31_8b() {
  model::ModelSpec spec;
  spec.name = "llama3.1:8b";
  spec.architecture = "llama";
  spec.source = "simulator default (Llama 3.1 8B Q4_K_M)";
  spec.weights_bytes = 4920734272;
  spec.block_count = 32;
  spec.embedding_length = 4096;
  spec.context_length = 131072;
  spec.vocab_size = 128256;
  spec.head_count.assign(32, 32);
  spec.head_count_kv.assign(32, 8);
  spec.key_length = 128;
  spec.value_length = 128;
  spec.sliding_layers.assign(32, false);
  spec.recurrent_layers.assign(32, false);
  return spec;
}

}  // namespace

ScenarioSettings default_scenario() {
  ScenarioSettings settings;
  settings.config = default_config();
  settings.config.server.model = "llama3.1:8b";
  settings.config.gpu_scaling.max_agents = 32;
  settings.config.agent_management.max_agents = 32;
  ServerParams& server = settings.server;
  server.gpu_total_mib = 48 * 1024;
  model::EstimateOptions options;
  options.ctx_per_slot = static_cast<uint64_t>(settings.config.server.num_ctx);
  options.parallel = 1;
  options.device = model::DeviceKind::kCuda;
  Result<model::MemoryEstimate> estimate = model::estimate_memory(llama31_8b(), options);
  if (estimate) {
    server.weights_mib = static_cast<double>(estimate->weights) / kMib;
    server.graph_mib = static_cast<double>(estimate->graph) / kMib;
    server.reserve_mib = static_cast<double>(estimate->reserve) / kMib;
    server.kv_per_slot_mib = static_cast<double>(estimate->kv_per_slot) / kMib;
  }
  SimServer probe(server);
  server.slots = std::max(1, probe.slot_ceiling(settings.config.gpu_scaling.memory_buffer_mb,
                                                settings.config.gpu_scaling.memory_safety_margin));
  return settings;
}

Simulation::Simulation(const Trace& trace, ScenarioSettings settings)
    : trace_(trace),
      settings_(std::move(settings)),
      clock_(std::make_shared<FakeClock>(false)),
      queue_(gate_, [this] { return now_s(); }),
      server_(settings_.server),
      tasks_(trace.requests.size()) {
  server_.set_start_listener([this](uint64_t id, double at) {
    const auto found = in_flight_.find(id);
    if (found == in_flight_.end()) {
      return;
    }
    TaskState& task = tasks_[found->second.task];
    if (task.first_start < 0) {
      task.first_start = at;
      wait_sum_ += at - trace_.requests[found->second.task].arrival_s;
      ++started_;
    }
  });
}

Simulation::~Simulation() {
  // The queue goes first, so that no agent released by the shutdown takes a task that is left.
  queue_.discard();
  gate_.shutdown();
  if (manager_) {
    manager_->stop(false);
  }
}

Status Simulation::prepare(const std::string& policy_name) {
  Config config = settings_.config;
  config.workload.wait_target = settings_.wait_target_s;
  PolicySettings policy_settings;
  policy_settings.config = config;
  policy_settings.initial_agents = settings_.initial_agents;
  policy_settings.startup_s = settings_.startup_s;
  policy_settings.wait_target_s = settings_.wait_target_s;
  policy_settings.server_slots = settings_.server.slots;
  policy_settings.trace = &trace_;
  policy_settings.clock = clock_;
  Result<std::unique_ptr<Policy>> policy =
      make_policy(policy_name, policy_settings, settings_.server);
  if (!policy) {
    return policy.status();
  }
  policy_ = std::move(policy).value();

  const int batch = std::max(1, config.agent_management.batch_creation_size);
  warm_s_ =
      settings_.startup_s * std::ceil(static_cast<double>(policy_->initial_agents()) / batch) + 1;
  epoch_ = clock_->now() + from_seconds(warm_s_);
  // The clock and the epoch are copied, so that the time stays readable until log_time_ ends.
  log_time_.emplace(policy_->name(),
                    [clock = clock_, epoch = epoch_] { return to_seconds(clock->now() - epoch); });

  Result<std::unique_ptr<workload::MetricsCollector>> collector =
      workload::MetricsCollector::create(clock_, workload::collector_settings(config));
  if (!collector) {
    return collector.status();
  }
  collector_ = std::move(collector).value();
  observer_ = std::make_shared<SimObserver>(
      *collector_, [this] { return now_s(); }, trace_.duration_s);

  agents::ManagerSettings manager_settings;
  manager_settings.limits = config.agent_management;
  manager_settings.default_model = config.server.model;
  manager_settings.history_size = 16;
  // A fault window can fail every task, and a simulated hour passes in under a second, so each
  // kind of repeated line is logged once in full and counted when the manager stops.
  manager_settings.failure_log = {1, LogRateLimiter::kEndlessInterval};
  Result<std::unique_ptr<agents::AgentManager>> manager = agents::AgentManager::create(
      clock_, manager_settings, queue_,
      [this](const agents::AgentInfo& agent, const queue::Task& task, const CancelToken& cancel) {
        return execute(agent, task, cancel);
      },
      [this](const agents::AgentInfo& agent) { return warm_up(agent); }, observer_);
  if (!manager) {
    return manager.status();
  }
  manager_ = std::move(manager).value();
  schedule_initial_events();
  return Status::ok();
}

void Simulation::schedule_initial_events() {
  for (size_t i = 0; i < trace_.requests.size(); ++i) {
    schedule(trace_.requests[i].arrival_s, EventKind::kArrival, i);
  }
  schedule(0, EventKind::kEvaluate, evaluate_generation_);
  schedule(-warm_s_ + settings_.manager_tick_s, EventKind::kTick);
  schedule(0, EventKind::kSample);
  const FaultPlan& faults = settings_.faults;
  for (const auto& window : {faults.metric_dropout, faults.server_503, faults.memory_taken}) {
    if (window) {
      schedule(window->start_s, EventKind::kFault);
      schedule(window->end_s, EventKind::kFault);
    }
  }
  end_limit_ = trace_.duration_s + settings_.drain_limit_s;
}

void Simulation::apply_faults() {
  const double now = now_s();
  const FaultPlan& faults = settings_.faults;
  {
    std::lock_guard lock(gate_.mutex());
    const bool memory_held = faults.memory_taken && faults.memory_taken->contains(now);
    server_.set_foreign_mib(memory_held ? faults.memory_taken_mib : 0, now);
    server_.set_reject_all(faults.server_503 && faults.server_503->contains(now));
  }
  const bool dropped = faults.metric_dropout && faults.metric_dropout->contains(now);
  if (dropped && !frozen_) {
    frozen_ = snapshot_signals();
  } else if (!dropped) {
    frozen_.reset();
  }
}

Simulation::SignalSnapshot Simulation::snapshot_signals() {
  SignalSnapshot snapshot;
  snapshot.t = now_s();
  snapshot.metrics = collector_->get_current_metrics();
  const MonoTime now = clock_->now();
  std::lock_guard lock(gate_.mutex());
  const ServerParams& params = server_.params();
  snapshot.gpu.total_mib = params.gpu_total_mib;
  snapshot.gpu.used_mib = server_.used_mib();
  snapshot.gpu.free_mib = params.gpu_total_mib - server_.used_mib();
  snapshot.gpu.temperature_c = 60;
  snapshot.gpu.utilization = static_cast<double>(server_.running()) / params.slots;
  snapshot.gpu.sampled_at = now;
  snapshot.capacity.slot_ceiling =
      server_.slot_ceiling(settings_.config.gpu_scaling.memory_buffer_mb,
                           settings_.config.gpu_scaling.memory_safety_margin);
  snapshot.capacity.server_slots = params.slots;
  snapshot.capacity.reason = "simulated server: memory model of the loaded model";
  snapshot.capacity.sampled_at = now;
  return snapshot;
}

void Simulation::remember_signals() {
  history_.push_back(snapshot_signals());
  const double keep_after = now_s() - settings_.faults.metric_delay_s - 5;
  while (history_.size() > 1 && history_.front().t < keep_after) {
    history_.pop_front();
  }
}

Simulation::SignalSnapshot Simulation::visible_signals() {
  if (frozen_) {
    return *frozen_;
  }
  const double delay = settings_.faults.metric_delay_s;
  if (delay <= 0 || history_.empty()) {
    return snapshot_signals();
  }
  const double sample_time = now_s() - delay;
  const SignalSnapshot* best = &history_.front();
  for (const SignalSnapshot& snapshot : history_) {
    if (snapshot.t <= sample_time) {
      best = &snapshot;
    }
  }
  return *best;
}

Observation Simulation::observe() {
  Observation observation;
  observation.now_s = now_s();
  const std::map<agents::AgentState, int> states = manager_->count_by_state();
  observation.agents = manager_->capacity();
  observation.starting =
      states.at(agents::AgentState::kCreating) + states.at(agents::AgentState::kInitializing);
  observation.busy = states.at(agents::AgentState::kBusy);
  observation.ready = states.at(agents::AgentState::kActive) +
                      states.at(agents::AgentState::kIdle) + observation.busy;
  const SignalSnapshot signals = visible_signals();
  observation.metrics = signals.metrics;
  observation.metrics_stale = frozen_.has_value();
  observation.inputs.agents = observation.agents;
  observation.inputs.starting_agents = observation.starting;
  observation.inputs.workload = workload::to_signal(signals.metrics);
  observation.inputs.gpu = signals.gpu;
  observation.inputs.capacity = signals.capacity;
  std::lock_guard lock(gate_.mutex());
  observation.cumulative_wait_mean_s = started_ > 0 ? wait_sum_ / static_cast<double>(started_) : 0;
  return observation;
}

RunResult Simulation::finish() {
  const double now = now_s();
  observer_->book(now);
  result_.policy = policy_->name();
  result_.trace = trace_.name;
  result_.trace_description = trace_.description;
  result_.duration_s = trace_.duration_s;
  result_.ended_at_s = now;
  result_.agent_seconds = observer_->agent_seconds();
  result_.peak_agents = observer_->peak();
  result_.killed = observer_->killed();
  result_.surges_s = trace_.surges_s;
  std::lock_guard lock(gate_.mutex());
  for (size_t i = 0; i < tasks_.size(); ++i) {
    const TaskState& task = tasks_[i];
    const double arrival = trace_.requests[i].arrival_s;
    if (task.first_start >= 0) {
      // The clock rounds to nanoseconds, so a wait can come out a hair below zero.
      result_.waits_s.push_back(std::max(0.0, task.first_start - arrival));
    } else if (!task.failed) {
      // Never started: the wait so far is a lower bound and still counts.
      result_.waits_s.push_back(std::max(0.0, now - arrival));
      ++result_.unstarted;
    } else {
      ++result_.failed_unstarted;
      continue;
    }
    if (result_.waits_s.back() > settings_.wait_target_s) {
      result_.late_arrivals_s.push_back(arrival);
    }
  }
  result_.completed = completed_;
  result_.failed = failed_;
  result_.rejected_503 = server_.rejected();
  result_.overcommits = server_.overcommits();
  if (result_.unstarted > 0) {
    get_logger("sim")->info(
        "simulation of {} ended at {:.0f} s, {:.0f} s after the trace: {} requests never "
        "started, and the tasks left queued or running are dropped",
        result_.policy, now, now - trace_.duration_s, result_.unstarted);
  }
  return result_;
}

}  // namespace ollamaflow::sim
