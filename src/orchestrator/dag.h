// The scheduler's view of a plan: the status of every task and which tasks may start.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "orchestrator/plan.h"

namespace ollamaflow::orchestrator {

// Status of one task in a run.
//
//               every dependency
//                  SUCCEEDED         mark_running
//   PENDING ---------------------> READY ----------> RUNNING ---mark_succeeded---> SUCCEEDED
//      |                            |  ^               |  |
//      |                            |  +-mark_requeued-+  |
//      |                            |                     |
//      |                            +---- mark_failed ----+----------------------> FAILED
//      |                            |                     |                         ^
//      +------- fail_all -----------+---------------------|-------------------------+
//      |                            |                     |
//      +----------------------------+---- cancellation ---+----------------------> CANCELLED
//
// fail_all and cancel_all change PENDING and READY tasks only. Cancellation is one of: a
// dependency became FAILED or CANCELLED (the cascade), cancel_all, or mark_cancelled (READY or
// RUNNING). SUCCEEDED, FAILED and CANCELLED are final; a RUNNING task becomes final only when its
// agent reports back.
enum class TaskStatus { kPending, kReady, kRunning, kSucceeded, kFailed, kCancelled };

// Returns "PENDING", "READY", "RUNNING", "SUCCEEDED", "FAILED" or "CANCELLED".
std::string_view task_status_name(TaskStatus status);

// Parses a name written by task_status_name; nullopt for anything else.
std::optional<TaskStatus> task_status_from_name(std::string_view name);

bool is_final(TaskStatus status);

// One task's status with the reason for FAILED and CANCELLED.
struct TaskState {
  std::string id;
  TaskStatus status = TaskStatus::kPending;
  std::string reason;  // e.g. `dependency "a" failed`; empty unless FAILED or CANCELLED
  int runs = 0;        // how often the task went to RUNNING
};

// A status change made by one update, so that the caller can journal and report it.
struct StatusChange {
  std::string id;
  TaskStatus status;
  std::string reason;
};

// Not thread-safe: the run loop owns the TaskDag and serializes every call to it.
class TaskDag {
 public:
  // Builds the graph for `plan`. Tasks in `succeeded` (from an earlier, interrupted run of the
  // same plan) start as SUCCEEDED and are not run again. Repeated dependency ids count as one
  // edge. Returns kInvalidArgument for duplicate task ids, unknown or self dependencies, a
  // dependency cycle, or a succeeded id that is not in the plan.
  static Result<TaskDag> create(const Plan& plan, const std::set<std::string>& succeeded = {});

  // Returns the READY tasks in plan order.
  std::vector<std::string> ready_tasks() const;

  // READY -> RUNNING. Returns kInvalidArgument when the task is unknown or not READY.
  Status mark_running(std::string_view id);

  // RUNNING -> SUCCEEDED. Returns the tasks that became READY.
  Result<std::vector<StatusChange>> mark_succeeded(std::string_view id);

  // READY or RUNNING -> FAILED, and in the same update every task that depends on it, directly
  // or not, -> CANCELLED with reason `dependency "ID" failed`. Returns all of these changes,
  // the failed task first.
  Result<std::vector<StatusChange>> mark_failed(std::string_view id, std::string reason);

  // READY or RUNNING -> CANCELLED (e.g. its request was stopped by Ctrl-C), with dependents
  // cancelled as for mark_failed, reason `dependency "ID" was cancelled`.
  Result<std::vector<StatusChange>> mark_cancelled(std::string_view id, std::string reason);

  // RUNNING -> READY, for a task that an agent handed back unfinished.
  Status mark_requeued(std::string_view id);

  // Every PENDING and READY task -> CANCELLED with `reason`. Returns the changes.
  std::vector<StatusChange> cancel_all(const std::string& reason);

  // Every PENDING and READY task -> FAILED with `reason`, for a cause that fails each of them
  // itself (no agent could start), not through a dependency. Returns the changes.
  std::vector<StatusChange> fail_all(const std::string& reason);

  // True when every task is final, so the run can end.
  bool done() const;
  // True when every task SUCCEEDED.
  bool all_succeeded() const;

  // Returns the state of task `id`, or nullptr when the plan has no such task.
  const TaskState* find(std::string_view id) const;
  // Returns the plan task `id`, or nullptr.
  const PlanTask* task(std::string_view id) const;
  // Returns every task's state in plan order.
  const std::vector<TaskState>& states() const { return states_; }
  // Returns the number of tasks per status; statuses with no task are absent.
  std::map<TaskStatus, int> counts() const;

 private:
  TaskDag() = default;

  // Sets every task PENDING, SUCCEEDED (when in `succeeded`) or READY (nothing to wait for).
  void init_states(const std::vector<std::vector<size_t>>& dependencies,
                   const std::set<std::string>& succeeded);
  Result<size_t> index_of(std::string_view id) const;
  Result<size_t> expect(std::string_view id, std::initializer_list<TaskStatus> allowed,
                        std::string_view action) const;
  // Sets every PENDING and READY task to the final `status` with `reason`.
  std::vector<StatusChange> finish_waiting(TaskStatus status, const std::string& reason);
  // Makes `index` final and cancels its transitive dependents.
  std::vector<StatusChange> finish_with_cascade(size_t index, TaskStatus status, std::string reason,
                                                const std::string& cascade);

  Plan plan_;
  std::vector<TaskState> states_;
  std::map<std::string, size_t, std::less<>> index_;
  std::vector<std::vector<size_t>> dependents_;  // unique edges, dependency -> dependent
  std::vector<int> waiting_on_;                  // dependencies not yet SUCCEEDED
  size_t final_count_ = 0;
};

}  // namespace ollamaflow::orchestrator
