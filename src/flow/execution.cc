#include "flow/execution.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/count_text.h"
#include "core/log.h"
#include "flow/backend.h"
#include "flow/plan_run.h"
#include "flow/run_observer.h"
#include "scaling/strategy.h"

namespace ollamaflow::flow {
namespace {

constexpr auto kTickPeriod = std::chrono::milliseconds(250);
// Failed agent start-ups in a row, with no agent alive, after which a scaled run stops, because
// the scaling loop would otherwise start one agent after another against a server that rejects
// them.
constexpr int64_t kScaledStartFailures = 3;

workload::CollectorSettings collector_settings(const Config& config) {
  workload::CollectorSettings settings;
  settings.thresholds = config.workload;
  settings.min_agents = config.gpu_scaling.min_agents;
  settings.max_agents = config.gpu_scaling.max_agents.value_or(8);
  return settings;
}

ScalingEventReport to_report(const scaling::ScalingEvent& event) {
  ScalingEventReport report;
  report.time = format_iso8601(event.time);
  report.action = std::string(scaling::action_name(event.action));
  report.from_count = event.from;
  report.to_count = event.to;
  report.reason = event.reason;
  report.outcome = std::string(scaling::outcome_name(event.outcome));
  return report;
}

store::ScalingEventRecord to_record(const std::string& run_id, const scaling::ScalingEvent& event,
                                    const Config& config) {
  store::ScalingEventRecord record;
  record.run_id = run_id;
  record.time = format_iso8601(event.time);
  record.action = std::string(scaling::action_name(event.action));
  record.from_count = event.from;
  record.to_count = event.to;
  record.strategy = config.strategy;
  record.reason = event.reason;
  record.gpu_memory_used_mib = event.gpu_memory_used_mib;
  if (event.gpu_utilization) {
    record.gpu_utilization_percent = *event.gpu_utilization * 100;
  }
  record.queue_length = event.queue_length;
  record.outcome = std::string(scaling::outcome_name(event.outcome));
  record.duration_s = event.duration_s;
  record.decision = event.to_json();
  return record;
}

// Logs once that memory lowers min_agents, with the value that wins and the fix.
void warn_min_agents_lowered(const Config& config, int lowered,
                             const std::optional<scaling::CapacitySignal>& capacity) {
  get_logger("flow")->warn(
      "gpu_scaling.min_agents {} is above the memory ceiling of {} ({}): the pool keeps at most "
      "{}, because memory wins over min_agents; set --min-agents {} or lower",
      config.gpu_scaling.min_agents, count_text(lowered, "agent"), capacity->reason,
      count_text(lowered, "agent"), lowered);
}

// Returns the progress of a task that succeeded in an earlier process of a resumed run.
TaskProgress earlier_progress(const store::TaskRecord& earlier) {
  TaskProgress entry;
  entry.agent = earlier.agent_id;
  entry.model = earlier.model;
  entry.files = earlier.files;
  entry.summary = earlier.summary;
  entry.duration_s = earlier.duration_s.value_or(0);
  entry.prompt_tokens = earlier.prompt_tokens;
  entry.output_tokens = earlier.output_tokens;
  entry.failed_prompt_tokens = earlier.failed_prompt_tokens;
  entry.failed_output_tokens = earlier.failed_output_tokens;
  entry.resumed = true;
  return entry;
}

// Adds the report row of one task, its tokens and its line for the queen's summary to `result`.
void add_task_result(const orchestrator::TaskState& state, const orchestrator::PlanTask& task,
                     const TaskProgress& entry, ExecutionResult& result) {
  TaskReport report;
  report.id = state.id;
  report.title = task.title;
  report.role = task.role;
  std::string status(orchestrator::task_status_name(state.status));
  std::transform(status.begin(), status.end(), status.begin(), ::tolower);
  report.status = status;
  report.agent = entry.agent;
  report.model = entry.model;
  report.duration_s = entry.duration_s;
  report.prompt_tokens = entry.prompt_tokens;
  report.output_tokens = entry.output_tokens;
  report.attempts = entry.attempts;
  report.files = entry.files;
  report.error = !entry.error.empty() ? entry.error : state.reason;
  report.resumed = entry.resumed;
  result.prompt_tokens += entry.prompt_tokens;
  result.output_tokens += entry.output_tokens;
  result.failed_prompt_tokens += entry.failed_prompt_tokens;
  result.failed_output_tokens += entry.failed_output_tokens;
  result.tasks.push_back(report);
  result.summaries.push_back(
      {state.id, task.title, task.role, status, entry.summary, entry.files, report.error});
}

}  // namespace

int scaled_min_agents(const Config& config,
                      const std::optional<scaling::CapacitySignal>& capacity) {
  const int min_agents = config.gpu_scaling.min_agents;
  if (!capacity || !capacity->slot_ceiling || *capacity->slot_ceiling >= min_agents) {
    return min_agents;
  }
  Result<scaling::Strategy> strategy = scaling::parse_strategy(config.strategy);
  if (!strategy || !scaling::strategy_params(*strategy, config).memory_limits) {
    return min_agents;
  }
  return std::max(std::min(1, min_agents), *capacity->slot_ceiling);
}

PlanRun::PlanRun(ExecutionSetup setup)
    : setup_(std::move(setup)),
      reply_warnings_(setup_.warning_limits != nullptr ? setup_.warning_limits
                                                       : &own_reply_warnings_) {}

llm::ChatOptions PlanRun::chat_options() const {
  return flow::chat_options(setup_.config.server);
}

Status PlanRun::start() {
  const Config& config = setup_.config;
  std::set<std::string> succeeded;
  for (const store::TaskRecord& earlier : setup_.earlier) {
    succeeded.insert(earlier.task_id);
    progress_[earlier.task_id] = earlier_progress(earlier);
  }
  Result<orchestrator::TaskDag> graph = orchestrator::TaskDag::create(setup_.plan, succeeded);
  if (!graph) {
    return graph.status();
  }
  dag_.emplace(std::move(graph).value());

  Result<std::unique_ptr<workload::MetricsCollector>> collector =
      workload::MetricsCollector::create(setup_.clock, collector_settings(config));
  if (!collector) {
    return collector.status();
  }
  collector_ = std::move(collector).value();

  agents::ManagerSettings settings;
  settings.limits = config.agent_management;
  const int task_count = static_cast<int>(setup_.plan.tasks.size());
  if (config.auto_scaling) {
    std::optional<scaling::CapacitySignal> capacity;
    if (setup_.scaling_sources.capacity) {
      capacity = setup_.scaling_sources.capacity();
    }
    settings.limits.min_agents = scaled_min_agents(config, capacity);
    settings.limits.max_agents = config.gpu_scaling.max_agents.value_or(8);
    if (settings.limits.min_agents < config.gpu_scaling.min_agents) {
      warn_min_agents_lowered(config, settings.limits.min_agents, capacity);
    }
  } else {
    const int fixed = std::max(1, std::min(config.run.agents, task_count));
    settings.limits.min_agents = fixed;
    settings.limits.max_agents = fixed;
  }
  settings.default_model = setup_.default_model;
  settings.role_models = setup_.role_models;
  if (!setup_.plan.tasks.empty()) {
    settings.default_role = setup_.plan.tasks.front().role;
  }
  auto observer = std::make_shared<RunObserver>(setup_.run_id, *collector_, setup_.journal);
  Result<std::unique_ptr<agents::AgentManager>> manager = agents::AgentManager::create(
      setup_.clock, settings, queue_,
      [this](const agents::AgentInfo& agent, const queue::Task& task, const CancelToken& cancel) {
        return run_task(agent, task, cancel);
      },
      [this](const agents::AgentInfo& agent) { return warm_up(agent); }, observer);
  if (!manager) {
    return manager.status();
  }
  manager_ = std::move(manager).value();

  if (config.auto_scaling) {
    Result<std::unique_ptr<scaling::ScalingEngine>> engine =
        scaling::ScalingEngine::create(setup_.clock, config);
    if (!engine) {
      return engine.status();
    }
    engine_ = std::move(engine).value();
    engine_->set_callbacks([this](const scaling::ScalingEvent& event) {
      if (setup_.journal == nullptr || event.outcome == scaling::Outcome::kPending) {
        return;
      }
      Result<int64_t> stored =
          setup_.journal->add_scaling_event(to_record(setup_.run_id, event, setup_.config));
      if (!stored) {
        get_logger("flow")->warn("run={} scaling event not journaled: {}", setup_.run_id,
                                 stored.status().message());
      }
    });
    loop_ = std::make_unique<ScalingLoop>(setup_.clock,
                                          from_seconds(config.gpu_scaling.scale_check_interval),
                                          *engine_, *collector_, *manager_, setup_.scaling_sources);
  }

  started_at_ = setup_.clock->now();
  {
    std::lock_guard lock(mutex_);
    enqueue_locked(dag_->ready_tasks());
  }
  // A scaled pool starts at its minimum and the first evaluation, right away, sizes it.
  Result<std::vector<std::string>> started = manager_->start(settings.limits.min_agents);
  if (!started) {
    return started.status();
  }
  if (loop_) {
    loop_->start();
  }
  return Status::ok();
}

void PlanRun::wait_until_done() {
  while (true) {
    {
      std::unique_lock lock(mutex_);
      changed_.wait_for(lock, kTickPeriod,
                        [this] { return dag_->done() || setup_.cancel->cancelled(); });
      if (dag_->done() || setup_.cancel->cancelled()) {
        return;
      }
    }
    manager_->tick();
    if (stop_when_no_agent_can_start()) {
      return;
    }
    publish();
  }
}

// Fails the waiting tasks when no agent is alive and the latest start-ups failed, because no
// task can run then. A fixed pool does not replace failed agents, so one failure that leaves no
// agent alive is enough. A scaled pool gets kScaledStartFailures tries.
bool PlanRun::stop_when_no_agent_can_start() {
  const agents::ManagerStats stats = manager_->stats();
  const int64_t allowed = loop_ ? kScaledStartFailures : 1;
  if (stats.creation_failures_in_a_row < allowed) {
    return false;
  }
  std::map<agents::AgentState, int> counts = manager_->count_by_state();
  const int alive = counts[agents::AgentState::kCreating] +
                    counts[agents::AgentState::kInitializing] +
                    counts[agents::AgentState::kActive] + counts[agents::AgentState::kBusy] +
                    counts[agents::AgentState::kIdle];
  if (alive > 0) {
    return false;
  }
  const std::string reason = fmt::format(
      "no agent could start: the last {} start-up(s) failed, the latest with {}; check that the "
      "server accepts chat requests for the model (an API key, the model name, the server's "
      "log), then resume the run",
      stats.creation_failures_in_a_row, stats.last_creation_error);
  get_logger("flow")->error("run={} stopped: {}", setup_.run_id, reason);
  std::lock_guard lock(mutex_);
  no_agent_reason_ = reason;
  if (!dag_->done()) {
    apply_changes_locked(dag_->fail_all(reason));
  }
  return true;
}

void PlanRun::shut_down() {
  const bool cancelled = setup_.cancel->cancelled();
  if (loop_) {
    loop_->stop();
  }
  // Stop the agents before closing the queue, so that tasks cancelled by the stop go back to
  // it instead of being counted as lost.
  manager_->stop(/*graceful=*/!cancelled);
  reply_warnings_->flush();
  queue_.close();
  std::lock_guard lock(mutex_);
  if (!dag_->done()) {
    const std::string reason =
        cancelled ? std::string(kCancelledBeforeStart) : "run ended before the task ran";
    apply_changes_locked(dag_->cancel_all(reason));
  }
}

void PlanRun::publish() {
  nlohmann::json scaling = nlohmann::json::object();
  if (engine_) {
    scaling = engine_->get_scaling_status().to_json();
  }
  const nlohmann::json agents = manager_->get_detailed_status();
  const nlohmann::json metrics = collector_->get_current_metrics().to_json();
  if (setup_.monitor != nullptr) {
    setup_.monitor->set(scaling, agents, metrics);
  }
  if (setup_.publish_status) {
    setup_.publish_status({{"run_id", setup_.run_id},
                           {"goal", setup_.plan.goal},
                           {"scaling", scaling},
                           {"agents", agents},
                           {"metrics", metrics}});
  }
}

ExecutionResult PlanRun::collect_result() {
  ExecutionResult result;
  std::lock_guard lock(mutex_);
  for (const orchestrator::TaskState& state : dag_->states()) {
    add_task_result(state, *dag_->task(state.id), progress_[state.id], result);
  }
  // The warm-ups' tokens are part of the totals, as the tokens of failed requests are.
  result.prompt_tokens += warm_up_usage_.prompt_tokens;
  result.output_tokens += warm_up_usage_.output_tokens;
  result.warm_up_prompt_tokens = warm_up_usage_.prompt_tokens;
  result.warm_up_output_tokens = warm_up_usage_.output_tokens;
  result.conflicts = conflicts_;
  result.all_succeeded = dag_->all_succeeded();
  result.cancelled = setup_.cancel->cancelled();
  result.no_agent_reason = no_agent_reason_;
  if (engine_) {
    for (const scaling::ScalingEvent& event : engine_->events()) {
      result.scaling_events.push_back(to_report(event));
    }
  }
  if (loop_) {
    for (const AgentCountPoint& point : loop_->agent_counts()) {
      result.agent_counts.push_back({to_seconds(point.at - started_at_), point.agents});
    }
  }
  result.tasks_lost = static_cast<int>(manager_->stats().tasks_lost);
  return result;
}

Result<ExecutionResult> PlanRun::run() {
  Status status = start();
  if (!status) {
    if (manager_) {
      queue_.close();
      manager_->stop(false);
    }
    return status;
  }
  publish();
  wait_until_done();
  shut_down();
  publish();
  return collect_result();
}

Result<ExecutionResult> execute_plan(ExecutionSetup setup) {
  PlanRun run(std::move(setup));
  return run.run();
}

Result<ExecutionResult> cancelled_before_execution(const orchestrator::Plan& plan,
                                                   const std::vector<store::TaskRecord>& earlier) {
  std::set<std::string> succeeded;
  std::map<std::string, TaskProgress> progress;
  for (const store::TaskRecord& task : earlier) {
    succeeded.insert(task.task_id);
    progress[task.task_id] = earlier_progress(task);
  }
  Result<orchestrator::TaskDag> graph = orchestrator::TaskDag::create(plan, succeeded);
  if (!graph) {
    return graph.status();
  }
  (void)graph->cancel_all(std::string(kCancelledBeforeStart));
  ExecutionResult result;
  for (const orchestrator::TaskState& state : graph->states()) {
    add_task_result(state, *graph->task(state.id), progress[state.id], result);
  }
  result.cancelled = true;
  return result;
}

}  // namespace ollamaflow::flow
