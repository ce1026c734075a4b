// The types the agent manager shares with its owner: the agent record, the outcome of one
// task, the functions the owner supplies (task executor, warm-up) and the event observer.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "agents/lifecycle.h"
#include "core/cancel.h"
#include "core/clock.h"
#include "core/status.h"
#include "queue/task_queue.h"

namespace ollamaflow::agents {

// A snapshot of one agent. Times come from the manager's Clock.
struct AgentInfo {
  std::string id;    // "agent-<n>"; the agent takes tasks of every role
  std::string role;  // the role it was created for, which chose its model
  std::string model;
  AgentState state = AgentState::kCreating;
  std::string creation_reason;
  std::string termination_reason;  // empty until the agent is selected for removal
  std::string error;               // the warm-up failure of an agent in ERROR
  MonoTime created_at{};
  WallTime created_wall{};
  std::optional<MonoTime> ready_at;  // when the warm-up succeeded
  MonoTime idle_since{};             // when it last became ACTIVE or IDLE
  std::optional<MonoTime> ended_at;  // when it reached TERMINATED or ERROR
  int64_t tasks_done = 0;            // tasks that ended with ok
  int64_t tasks_failed = 0;          // tasks that ended failed and were not put back
  std::string current_task;          // id of the task it runs; empty when none
  std::string current_task_role;     // role of that task; empty when none
};

// The result of running one task.
struct TaskOutcome {
  bool ok = false;
  // Puts the task back at the end of the queue instead of counting it as failed. Ignored when
  // ok is true.
  bool retry = false;
  std::string error;  // why the task failed; empty when ok
  ErrorCode code = ErrorCode::kOk;
  // Model requests that counted against the task's maximum attempts in this run of it; 0 when
  // the executor sent none. The manager's "task failed" line shows it.
  int attempts = 0;
};

// Runs one task on one agent and returns its outcome. It should return soon after `cancel`
// is cancelled, because a drained or stopped agent waits for it. Called on the agent's thread.
using TaskExecutor =
    std::function<TaskOutcome(const AgentInfo&, const queue::Task&, const CancelToken& cancel)>;

// Prepares a new agent (the flow sends one short request so the model is loaded and stays
// loaded). The agent becomes ACTIVE only when this returns ok. Called on the agent's thread.
using WarmUp = std::function<Status(const AgentInfo&)>;

// Called on entry to a state, with the agent as it is after the change.
using LifecycleCallback = std::function<void(const AgentInfo&)>;

// Reason that a started task went back to the queue.
enum class RequeueReason {
  kRetry,         // the executor returned retry
  kDrainTimeout,  // the agent was drained and its task ran past graceful_shutdown_timeout
  kShutdown,      // stop() without a graceful drain cancelled the task
  kAgentRemoved,  // the agent was removed as it took the task, so the task never started
};

// Returns "retry", "drain_timeout", "shutdown" or "agent_removed".
std::string_view requeue_reason_name(RequeueReason reason);

// One started task that went back to the queue.
struct TaskRequeue {
  RequeueReason reason = RequeueReason::kRetry;
  std::string error;      // the executor's error, when it returned one
  bool returned = false;  // false when the queue rejected it (closed), so the task is lost
  Duration duration{};    // time the agent spent on it
};

// Receives agent and task events, in the order they happened. A new agent is reported once
// with state and `from` both CREATING. Every started task ends in exactly one on_task_finished
// or on_task_requeued, and a task that is put back before it started is reported only through
// on_task_requeued with kAgentRemoved. Calls come from agent threads and from
// the threads that call the manager, one at a time, never while the manager's lock is held.
// Implementations must not call AgentManager::stop().
class AgentObserver {
 public:
  virtual ~AgentObserver() = default;

  // `agent.state` is the new state.
  virtual void on_state_changed(const AgentInfo& /*agent*/, AgentState /*from*/) {}
  // `wait` runs from task.enqueued_at to the start. It is zero when enqueued_at was not set.
  virtual void on_task_started(const AgentInfo& /*agent*/, const queue::Task& /*task*/,
                               Duration /*wait*/) {}
  virtual void on_task_finished(const AgentInfo& /*agent*/, const queue::Task& /*task*/,
                                const TaskOutcome& /*outcome*/, Duration /*duration*/) {}
  virtual void on_task_requeued(const AgentInfo& /*agent*/, const queue::Task& /*task*/,
                                const TaskRequeue& /*requeue*/) {}
};

}  // namespace ollamaflow::agents
