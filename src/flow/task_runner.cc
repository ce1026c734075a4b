// The work an agent does for one task of a plan run, and its warm-up.
#include <algorithm>

#include "core/log.h"
#include "flow/plan_run.h"

namespace ollamaflow::flow {
namespace {

// Bytes of each dependency file that the next agent may see; the message budget cuts further.
constexpr size_t kDependencyFileBytes = 64 * 1024;

// The error of a task that Ctrl-C cancelled before any request of it was sent, as shut_down()
// gives the tasks that no agent started.
constexpr const char* kNotStartedReason = "run cancelled before the task started";

}  // namespace

Status PlanRun::warm_up(const agents::AgentInfo& agent) {
  llm::ChatRequest request;
  request.model = agent.model;
  request.messages = {{"user", "Reply with {\"ready\": true}."}};
  request.schema = {{"type", "object"},
                    {"properties", {{"ready", {{"type", "boolean"}}}}},
                    {"required", {"ready"}},
                    {"additionalProperties", false}};
  request.schema_name = "warm_up";
  request.purpose = "warm-up";
  // The same options as every task request, so that the server does not reload the model.
  request.options = chat_options();
  request.options.num_predict = 16;
  llm::ChatProgress progress;
  Result<llm::ChatResponse> reply =
      setup_.client->chat(request, *setup_.cancel, nullptr, &progress);
  {
    // A failed request spent what progress.failed_usage holds, and a reply adds its own usage
    // to the tries that the client retried before it.
    std::lock_guard lock(mutex_);
    llm::add_usage(warm_up_usage_, progress.failed_usage);
    if (reply) {
      llm::add_usage(warm_up_usage_, reply->usage);
    }
  }
  if (!reply && reply.status().code() != ErrorCode::kTruncated &&
      reply.status().code() != ErrorCode::kParseError) {
    return reply.status().with_context("warm-up of " + agent.id + " on " + agent.model);
  }
  return Status::ok();
}

store::TaskRecord PlanRun::task_record_locked(const std::string& id, const std::string& status) {
  const orchestrator::PlanTask* task = dag_->task(id);
  const TaskProgress& entry = progress_[id];
  store::TaskRecord record;
  record.run_id = setup_.run_id;
  record.task_id = id;
  record.title = task->title;
  record.role = task->role;
  record.status = status;
  record.agent_id = entry.agent;
  record.model = entry.model;
  if (status != "queued" && status != "running") {
    record.duration_s = entry.duration_s;
  }
  record.prompt_tokens = entry.prompt_tokens;
  record.output_tokens = entry.output_tokens;
  record.failed_prompt_tokens = entry.failed_prompt_tokens;
  record.failed_output_tokens = entry.failed_output_tokens;
  record.files = entry.files;
  record.summary = entry.summary;
  const orchestrator::TaskState* state = dag_->find(id);
  record.error = !entry.error.empty() ? entry.error : (state ? state->reason : "");
  return record;
}

void PlanRun::journal_task_locked(const std::string& id, const std::string& status) {
  if (setup_.journal == nullptr) {
    return;
  }
  // Posted, not awaited: the caller holds the run's lock, and a commit per status change would
  // make every agent wait for the disk in turn. The run's finish commits what is left.
  setup_.journal->post_task(task_record_locked(id, status));
}

void PlanRun::enqueue_locked(const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    const orchestrator::PlanTask* task = dag_->task(id);
    queue::Task item;
    item.id = id;
    item.run_id = setup_.run_id;
    item.role = task->role;
    item.enqueued_at = setup_.clock->now();
    collector_->task_queued(id);
    journal_task_locked(id, "queued");
    if (!queue_.push(std::move(item))) {
      get_logger("flow")->warn("run={} task={} not queued: the queue is closed", setup_.run_id, id);
    }
  }
  if (!ids.empty() && loop_) {
    loop_->poke();
  }
}

void PlanRun::apply_changes_locked(const std::vector<orchestrator::StatusChange>& changes) {
  std::vector<std::string> ready;
  for (const orchestrator::StatusChange& change : changes) {
    if (change.status == orchestrator::TaskStatus::kReady) {
      ready.push_back(change.id);
      continue;
    }
    std::string status(orchestrator::task_status_name(change.status));
    std::transform(status.begin(), status.end(), status.begin(), ::tolower);
    journal_task_locked(change.id, status);
  }
  enqueue_locked(ready);
  changed_.notify_all();
}

void PlanRun::record_attempts(const std::string& task_id, const std::string& agent_id,
                              const std::vector<orchestrator::Attempt>& attempts,
                              int first_number) {
  if (setup_.journal == nullptr) {
    return;
  }
  int number = first_number;
  for (const orchestrator::Attempt& attempt : attempts) {
    store::AttemptRecord record;
    record.run_id = setup_.run_id;
    record.task_id = task_id;
    record.attempt = number++;
    record.agent_id = agent_id;
    if (attempt.started_at) {
      record.started_at = format_iso8601(*attempt.started_at);
    }
    record.finished_at =
        attempt.finished_at ? format_iso8601(*attempt.finished_at) : setup_.journal->now_text();
    record.outcome =
        attempt.code == ErrorCode::kOk ? "ok" : std::string(error_code_name(attempt.code));
    record.error = attempt.error;
    record.prompt_tokens = attempt.usage.prompt_tokens;
    record.output_tokens = attempt.usage.output_tokens;
    setup_.journal->post_attempt(std::move(record));
  }
}

std::vector<orchestrator::DependencyResult> PlanRun::dependencies_of(
    const orchestrator::PlanTask& task) {
  std::vector<orchestrator::DependencyResult> results;
  for (const std::string& dependency : task.depends_on) {
    std::string summary;
    const orchestrator::PlanTask* parent = nullptr;
    {
      std::lock_guard lock(mutex_);
      parent = dag_->task(dependency);
      summary = progress_[dependency].summary;
    }
    if (parent != nullptr) {
      results.push_back(orchestrator::collect_dependency(*parent, summary, *setup_.workspace,
                                                         kDependencyFileBytes));
    }
  }
  return results;
}

std::string PlanRun::model_for(const std::string& role, const agents::AgentInfo& agent) const {
  // An agent takes tasks of every role, so the task's role picks the model, not the role the
  // agent was created for.
  const auto it = setup_.role_models.find(role);
  return it != setup_.role_models.end() && !it->second.empty() ? it->second : agent.model;
}

agents::TaskOutcome PlanRun::finish_failed(const std::string& id, const Status& status,
                                           int attempts) {
  std::lock_guard lock(mutex_);
  progress_[id].error = status.message();
  Result<std::vector<orchestrator::StatusChange>> changes = dag_->mark_failed(id, status.message());
  if (changes) {
    apply_changes_locked(*changes);
  }
  agents::TaskOutcome outcome;
  outcome.error = status.message();
  outcome.code = status.code();
  outcome.attempts = attempts;
  return outcome;
}

agents::TaskOutcome PlanRun::run_task(const agents::AgentInfo& agent, const queue::Task& task,
                                      const CancelToken& cancel) {
  orchestrator::PlanTask plan_task;
  int first_attempt = 0;
  {
    std::lock_guard lock(mutex_);
    // An agent may take a queued task after Ctrl-C, before the pool stops. Such a task stays
    // queued without an agent, so shut_down() cancels it with the others that never started,
    // and no attempt is journaled for a request that the client would not send. A Ctrl-C after
    // this check stops the client before it sends, and finish_cancelled() handles that task.
    if (setup_.cancel->cancelled()) {
      agents::TaskOutcome outcome;
      outcome.error = kNotStartedReason;
      outcome.code = ErrorCode::kCancelled;
      return outcome;
    }
    Status running = dag_->mark_running(task.id);
    if (!running) {
      agents::TaskOutcome outcome;
      outcome.error = running.message();
      outcome.code = running.code();
      return outcome;
    }
    plan_task = *dag_->task(task.id);
    TaskProgress& entry = progress_[task.id];
    entry.agent = agent.id;
    entry.model = model_for(plan_task.role, agent);
    entry.error.clear();
    first_attempt = entry.attempts + 1;
    journal_task_locked(task.id, "running");
  }
  const orchestrator::Role* role = setup_.roles.find(plan_task.role);
  orchestrator::DroneRequest request;
  request.goal = setup_.plan.goal;
  request.role_prompt = role != nullptr ? role->prompt : "";
  request.model = model_for(plan_task.role, agent);
  request.options = chat_options();
  request.task = plan_task;
  request.dependencies = dependencies_of(plan_task);
  request.max_attempts = setup_.config.run.max_task_attempts;
  request.clock = setup_.clock.get();
  request.warning_limits = reply_warnings_;

  const MonoTime begin = setup_.clock->now();
  orchestrator::DroneOutcome outcome = orchestrator::execute_task(*setup_.client, request, cancel);
  const double seconds = to_seconds(setup_.clock->now() - begin);
  record_attempts(task.id, agent.id, outcome.attempts, first_attempt);
  {
    std::lock_guard lock(mutex_);
    TaskProgress& entry = progress_[task.id];
    entry.attempts += static_cast<int>(outcome.attempts.size());
    entry.duration_s += seconds;
    entry.prompt_tokens += outcome.usage.prompt_tokens;
    entry.output_tokens += outcome.usage.output_tokens;
    const llm::ChatUsage failed = orchestrator::failed_usage(outcome.attempts);
    entry.failed_prompt_tokens += failed.prompt_tokens;
    entry.failed_output_tokens += failed.output_tokens;
    if (!outcome.model.empty()) {
      entry.model = outcome.model;
    }
  }
  if (outcome.status.code() == ErrorCode::kCancelled) {
    return finish_cancelled(task.id, cancel);
  }
  const int attempts = orchestrator::counted_attempts(outcome.attempts);
  if (!outcome.status) {
    return finish_failed(task.id, outcome.status, attempts);
  }
  Result<std::vector<orchestrator::WrittenFile>> written =
      orchestrator::write_task_files(*setup_.workspace, plan_task, outcome.files);
  if (written) {
    // A replaced file that belonged to no task of this run was there before the run, so its
    // replacement is reported as a conflict.
    std::lock_guard lock(mutex_);
    for (const orchestrator::WrittenFile& file : *written) {
      if (file.replaced_unowned) {
        conflicts_.push_back("task " + task.id + " replaced " + file.relative_path +
                             ", which existed in the workspace before the run");
      }
    }
  }
  if (!written) {
    if (written.status().code() == ErrorCode::kConflict) {
      std::lock_guard lock(mutex_);
      conflicts_.push_back(written.status().message());
    }
    return finish_failed(task.id, written.status(), attempts);
  }
  store::TaskRecord succeeded;
  {
    std::lock_guard lock(mutex_);
    TaskProgress& entry = progress_[task.id];
    entry.files.clear();
    for (const orchestrator::WrittenFile& file : *written) {
      entry.files.push_back(file.relative_path);
    }
    entry.summary = outcome.summary;
    succeeded = task_record_locked(task.id, "succeeded");
  }
  // Posted like every other row, not awaited. The journal commits rows in the order they were
  // posted, so a success is on disk before any row of a task that depends on it. The run's
  // finish commits what is left. A resumed run skips exactly the tasks whose success is on disk,
  // and their files were flushed before this.
  if (setup_.journal != nullptr) {
    setup_.journal->post_task(std::move(succeeded));
  }
  std::lock_guard lock(mutex_);
  Result<std::vector<orchestrator::StatusChange>> changes = dag_->mark_succeeded(task.id);
  if (changes) {
    apply_changes_locked(*changes);
  }
  changed_.notify_all();
  agents::TaskOutcome done;
  done.ok = true;
  return done;
}

agents::TaskOutcome PlanRun::finish_cancelled(const std::string& id, const CancelToken& cancel) {
  std::lock_guard lock(mutex_);
  agents::TaskOutcome outcome;
  outcome.code = ErrorCode::kCancelled;
  TaskProgress& entry = progress_[id];
  if (setup_.cancel->cancelled() && entry.attempts == 0) {
    // Ctrl-C came after run_task() checked the token, and the client sent no request, so the
    // task ends as the tasks that no agent started do.
    entry.agent.clear();
    entry.model.clear();
    entry.error = kNotStartedReason;
    Result<std::vector<orchestrator::StatusChange>> changes =
        dag_->mark_cancelled(id, kNotStartedReason);
    if (changes) {
      apply_changes_locked(*changes);
    }
    outcome.error = kNotStartedReason;
    return outcome;
  }
  if (setup_.cancel->cancelled() || !cancel.cancelled()) {
    // The user stopped the run: the task ends here.
    progress_[id].error = "cancelled by the user";
    Result<std::vector<orchestrator::StatusChange>> changes =
        dag_->mark_cancelled(id, "cancelled by the user");
    if (changes) {
      apply_changes_locked(*changes);
    }
    outcome.error = "cancelled by the user";
    return outcome;
  }
  // Only this agent was stopped (drained past its timeout): the pool puts the task back.
  Status requeued = dag_->mark_requeued(id);
  if (!requeued) {
    get_logger("flow")->warn("run={} task={} not requeued: {}", setup_.run_id, id,
                             requeued.message());
  }
  journal_task_locked(id, "queued");
  outcome.retry = true;
  outcome.error = "agent drained before the task finished";
  return outcome;
}

}  // namespace ollamaflow::flow
