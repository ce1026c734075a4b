// The worker thread of one agent: warm-up, then take, run and report tasks until the agent is
// removed or the manager stops.
#include <algorithm>
#include <exception>
#include <utility>

#include "agents/agent_record.h"
#include "agents/manager.h"

namespace ollamaflow::agents {
namespace {

Status call_warm_up(const WarmUp& warm_up, const AgentInfo& info) {
  try {
    return warm_up(info);
  } catch (const std::exception& error) {
    return Status(ErrorCode::kInternal, std::string("warm-up threw: ") + error.what());
  } catch (...) {
    return Status(ErrorCode::kInternal, "warm-up threw an unknown exception");
  }
}

TaskOutcome call_executor(const TaskExecutor& executor, const AgentInfo& info,
                          const queue::Task& task, const CancelToken& cancel) {
  TaskOutcome failed;
  failed.code = ErrorCode::kInternal;
  try {
    return executor(info, task, cancel);
  } catch (const std::exception& error) {
    failed.error = std::string("task executor threw: ") + error.what();
  } catch (...) {
    failed.error = "task executor threw an unknown exception";
  }
  agents_log().error("task failed: agent={} task={} error=\"{}\"", info.id, task.id, failed.error);
  return failed;
}

}  // namespace

void AgentManager::run_agent(Agent* agent) {
  if (warm_up(agent)) {
    while (std::shared_ptr<queue::Task> task = next_task(agent)) {
      run_task(agent, task);
    }
  }
  events_.deliver();
  std::lock_guard lock(mutex_);
  agent->thread_done = true;
}

bool AgentManager::warm_up(Agent* agent) {
  AgentInfo info;
  {
    std::lock_guard lock(mutex_);
    info = agent->info;
  }
  events_.deliver();
  const Status status = warm_up_ ? call_warm_up(warm_up_, info) : Status::ok();
  bool ready = false;
  {
    std::lock_guard lock(mutex_);
    agent->warming = false;
    ready = finish_warm_up_locked(*agent, status);
    start_next_batch_locked();
  }
  events_.deliver();
  return ready;
}

void AgentManager::count_creation_failure_locked(const std::string& error) {
  ++stats_.creation_failures;
  ++stats_.creation_failures_in_a_row;
  stats_.last_creation_error = error;
}

bool AgentManager::finish_warm_up_locked(Agent& agent, const Status& status) {
  switch (agent.info.state) {
    case AgentState::kInitializing:
      if (status.is_ok()) {
        stats_.creation_failures_in_a_row = 0;
        set_state_locked(agent, AgentState::kActive);
        agents_log().info("agent ready: agent={} preferred_role={} model={}", agent.info.id,
                          agent.info.role, agent.info.model);
        return true;
      }
      agent.info.error = "warm-up failed: " + status.to_string();
      count_creation_failure_locked(agent.info.error);
      agents_log().warn("agent warm-up failed: agent={} model={} error=\"{}\"", agent.info.id,
                        agent.info.model, status.to_string());
      set_state_locked(agent, AgentState::kError);
      return false;
    case AgentState::kDraining:
      if (!status.is_ok()) {
        count_creation_failure_locked("warm-up failed: " + status.to_string());
        // A cancelled warm-up of an agent on its way out is expected, e.g. at a simulation's end.
        const auto level =
            status.code() == ErrorCode::kCancelled ? spdlog::level::debug : spdlog::level::warn;
        agents_log().log(level, "agent warm-up failed while draining: agent={} error=\"{}\"",
                         agent.info.id, status.to_string());
      }
      set_state_locked(agent, AgentState::kTerminated);
      return false;
    default:
      // ERROR: tick() failed the warm-up for running past agent_timeout_seconds.
      agents_log().info("agent warm-up returned after its timeout: agent={} result=\"{}\"",
                        agent.info.id, status.to_string());
      return false;
  }
}

std::shared_ptr<queue::Task> AgentManager::next_task(Agent* agent) {
  std::string role;
  {
    std::lock_guard lock(mutex_);
    role = agent->info.role;
  }
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (!is_ready(agent->info.state)) {
        return nullptr;
      }
    }
    std::optional<queue::Task> popped = queue_.pop_wait(settings_.poll_interval, role);
    if (!popped) {
      if (queue_.closed()) {
        // A closed queue returns at once when empty and gets no new tasks, so wait for the
        // removal or stop instead of polling it.
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return !is_ready(agent->info.state); });
        return nullptr;
      }
      continue;
    }
    auto task = std::make_shared<queue::Task>(std::move(*popped));
    bool started = false;
    {
      std::lock_guard lock(mutex_);
      if (is_ready(agent->info.state)) {
        begin_task_locked(*agent, task);
        started = true;
      }
    }
    if (!started) {
      return_untaken_task(agent, task);
      return nullptr;
    }
    events_.deliver();
    return task;
  }
}

void AgentManager::begin_task_locked(Agent& agent, const std::shared_ptr<queue::Task>& task) {
  const MonoTime now = clock_->now();
  agent.cancel = std::make_shared<CancelToken>();
  agent.cancel_sent = false;
  agent.task_started = now;
  agent.info.current_task = task->id;
  agent.info.current_task_role = task->role;
  set_state_locked(agent, AgentState::kBusy);

  AgentEvent event;
  event.kind = AgentEvent::Kind::kTaskStarted;
  event.agent = agent.info;
  event.task = task;
  if (task->enqueued_at != MonoTime{}) {
    event.wait = std::max(Duration::zero(), now - task->enqueued_at);
  }
  agents_log().debug("task started: agent={} task={} attempt={} wait_s={:.3f}", agent.info.id,
                     task->id, task->attempt, to_seconds(event.wait));
  events_.post(std::move(event));
}

void AgentManager::run_task(Agent* agent, const std::shared_ptr<queue::Task>& task) {
  AgentInfo info;
  CancelTokenPtr cancel;
  {
    std::lock_guard lock(mutex_);
    info = agent->info;
    cancel = agent->cancel;
  }
  const TaskOutcome outcome = call_executor(executor_, info, *task, *cancel);
  {
    std::lock_guard lock(mutex_);
    // The requeue happens under the lock, so that no other agent can start the task before
    // this one has reported it.
    std::optional<RequeueReason> requeue;
    if (!outcome.ok && agent->cancel_sent) {
      requeue = agent->cancel_reason;
    } else if (!outcome.ok && outcome.retry) {
      requeue = RequeueReason::kRetry;
    }
    finish_task_locked(*agent, task, outcome, requeue);
  }
  events_.deliver();
}

void AgentManager::finish_task_locked(Agent& agent, const std::shared_ptr<queue::Task>& task,
                                      const TaskOutcome& outcome,
                                      std::optional<RequeueReason> requeue) {
  AgentEvent event;
  event.task = task;
  event.duration = clock_->now() - agent.task_started;
  if (requeue) {
    queue::Task copy = *task;
    ++copy.attempt;
    // A retry goes to the back, so that a failing task does not block the queue. A cancelled
    // task goes to the front, because it lost its turn through no fault of its own.
    const bool returned = *requeue == RequeueReason::kRetry ? queue_.push(std::move(copy))
                                                            : queue_.requeue_front(std::move(copy));
    event.kind = AgentEvent::Kind::kTaskRequeued;
    event.requeue = TaskRequeue{*requeue, outcome.error, returned, event.duration};
    if (returned) {
      ++stats_.tasks_requeued;
      agents_log().info("task requeued: agent={} task={} reason={}", agent.info.id, task->id,
                        requeue_reason_name(*requeue));
    } else {
      ++stats_.tasks_lost;
      if (lost_log_.allow(clock_->now())) {
        agents_log().error(
            "task lost: agent={} task={} reason={} error=\"the queue is closed and "
            "rejected the requeue\"",
            agent.info.id, task->id, requeue_reason_name(*requeue));
      }
    }
  } else {
    event.kind = AgentEvent::Kind::kTaskFinished;
    event.outcome = outcome;
    if (outcome.ok) {
      ++agent.info.tasks_done;
      ++stats_.tasks_completed;
    } else {
      ++agent.info.tasks_failed;
      ++stats_.tasks_failed;
      if (failure_log_.allow(clock_->now())) {
        agents_log().warn("task failed: agent={} task={} attempts={} error=\"{}\"", agent.info.id,
                          task->id, outcome.attempts, outcome.error);
      }
    }
  }
  event.agent = agent.info;
  events_.post(std::move(event));

  agent.info.current_task.clear();
  agent.info.current_task_role.clear();
  agent.cancel.reset();
  agent.cancel_sent = false;
  set_state_locked(agent, agent.info.state == AgentState::kDraining ? AgentState::kTerminated
                                                                    : AgentState::kIdle);
}

void AgentManager::return_untaken_task(Agent* agent, const std::shared_ptr<queue::Task>& task) {
  {
    std::lock_guard lock(mutex_);
    const bool returned = queue_.requeue_front(*task);
    if (!returned) {
      ++stats_.tasks_lost;
      if (lost_log_.allow(clock_->now())) {
        agents_log().error(
            "task lost: agent={} task={} error=\"the queue is closed and rejected "
            "the requeue\"",
            agent->info.id, task->id);
      }
    }
    AgentEvent event;
    event.kind = AgentEvent::Kind::kTaskRequeued;
    event.agent = agent->info;
    event.task = task;
    event.requeue = TaskRequeue{RequeueReason::kAgentRemoved, "", returned, Duration::zero()};
    events_.post(std::move(event));
  }
  events_.deliver();
}

}  // namespace ollamaflow::agents
