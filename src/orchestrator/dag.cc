#include "orchestrator/dag.h"

#include <array>
#include <deque>

#include <fmt/format.h>

namespace ollamaflow::orchestrator {
namespace {

struct StatusName {
  TaskStatus status;
  std::string_view name;
};

constexpr std::array<StatusName, 6> kStatusNames = {{
    {TaskStatus::kPending, "PENDING"},
    {TaskStatus::kReady, "READY"},
    {TaskStatus::kRunning, "RUNNING"},
    {TaskStatus::kSucceeded, "SUCCEEDED"},
    {TaskStatus::kFailed, "FAILED"},
    {TaskStatus::kCancelled, "CANCELLED"},
}};

Status invalid(std::string message) {
  return {ErrorCode::kInvalidArgument, std::move(message)};
}

// Returns the unique dependency indices of each task, or an error for an unknown or self edge.
Result<std::vector<std::vector<size_t>>> dependency_edges(
    const Plan& plan, const std::map<std::string, size_t, std::less<>>& index) {
  std::vector<std::vector<size_t>> edges(plan.tasks.size());
  for (size_t i = 0; i < plan.tasks.size(); ++i) {
    std::set<size_t> seen;
    for (const std::string& dependency : plan.tasks[i].depends_on) {
      auto it = index.find(dependency);
      if (it == index.end()) {
        return invalid(fmt::format("task \"{}\" depends on \"{}\", which is not in the plan",
                                   plan.tasks[i].id, dependency));
      }
      if (it->second == i) {
        return invalid(fmt::format("task \"{}\" depends on itself", plan.tasks[i].id));
      }
      if (seen.insert(it->second).second) {
        edges[i].push_back(it->second);
      }
    }
  }
  return edges;
}

// Kahn's algorithm: returns the ids of tasks that can never start because they sit on or
// behind a cycle; empty when the graph is acyclic.
std::vector<std::string> tasks_on_cycles(const Plan& plan,
                                         const std::vector<std::vector<size_t>>& dependents,
                                         const std::vector<std::vector<size_t>>& dependencies) {
  std::vector<size_t> indegree(plan.tasks.size());
  std::deque<size_t> free;
  for (size_t i = 0; i < plan.tasks.size(); ++i) {
    indegree[i] = dependencies[i].size();
    if (indegree[i] == 0) {
      free.push_back(i);
    }
  }
  while (!free.empty()) {
    size_t node = free.front();
    free.pop_front();
    for (size_t next : dependents[node]) {
      if (--indegree[next] == 0) {
        free.push_back(next);
      }
    }
  }
  std::vector<std::string> stuck;
  for (size_t i = 0; i < plan.tasks.size(); ++i) {
    if (indegree[i] > 0) {
      stuck.push_back(plan.tasks[i].id);
    }
  }
  return stuck;
}

}  // namespace

std::string_view task_status_name(TaskStatus status) {
  for (const StatusName& entry : kStatusNames) {
    if (entry.status == status) {
      return entry.name;
    }
  }
  return "UNKNOWN";
}

std::optional<TaskStatus> task_status_from_name(std::string_view name) {
  for (const StatusName& entry : kStatusNames) {
    if (entry.name == name) {
      return entry.status;
    }
  }
  return std::nullopt;
}

bool is_final(TaskStatus status) {
  return status == TaskStatus::kSucceeded || status == TaskStatus::kFailed ||
         status == TaskStatus::kCancelled;
}

Result<TaskDag> TaskDag::create(const Plan& plan, const std::set<std::string>& succeeded) {
  TaskDag dag;
  for (size_t i = 0; i < plan.tasks.size(); ++i) {
    if (!dag.index_.emplace(plan.tasks[i].id, i).second) {
      return invalid(fmt::format("task id \"{}\" appears twice in the plan", plan.tasks[i].id));
    }
  }
  for (const std::string& id : succeeded) {
    if (dag.index_.count(id) == 0) {
      return invalid(
          fmt::format("task \"{}\" is recorded as succeeded but is not in the plan: "
                      "resume with the plan of the interrupted run",
                      id));
    }
  }

  Result<std::vector<std::vector<size_t>>> dependencies = dependency_edges(plan, dag.index_);
  if (!dependencies) {
    return dependencies.status();
  }
  dag.dependents_.resize(plan.tasks.size());
  for (size_t i = 0; i < plan.tasks.size(); ++i) {
    for (size_t dependency : (*dependencies)[i]) {
      dag.dependents_[dependency].push_back(i);
    }
  }
  std::vector<std::string> stuck = tasks_on_cycles(plan, dag.dependents_, *dependencies);
  if (!stuck.empty()) {
    std::string ids;
    for (const std::string& id : stuck) {
      ids += ids.empty() ? id : ", " + id;
    }
    return invalid("the plan has a dependency cycle; these tasks could never start: " + ids);
  }

  dag.plan_ = plan;
  dag.init_states(*dependencies, succeeded);
  return dag;
}

void TaskDag::init_states(const std::vector<std::vector<size_t>>& dependencies,
                          const std::set<std::string>& succeeded) {
  waiting_on_.assign(plan_.tasks.size(), 0);
  for (size_t i = 0; i < plan_.tasks.size(); ++i) {
    TaskState state{plan_.tasks[i].id, TaskStatus::kPending, "", 0};
    if (succeeded.count(state.id) > 0) {
      state.status = TaskStatus::kSucceeded;
      ++final_count_;
    }
    states_.push_back(std::move(state));
    for (size_t dependency : dependencies[i]) {
      waiting_on_[i] += succeeded.count(plan_.tasks[dependency].id) > 0 ? 0 : 1;
    }
  }
  for (size_t i = 0; i < plan_.tasks.size(); ++i) {
    if (states_[i].status == TaskStatus::kPending && waiting_on_[i] == 0) {
      states_[i].status = TaskStatus::kReady;
    }
  }
}

std::vector<std::string> TaskDag::ready_tasks() const {
  std::vector<std::string> ready;
  for (const TaskState& state : states_) {
    if (state.status == TaskStatus::kReady) {
      ready.push_back(state.id);
    }
  }
  return ready;
}

Result<size_t> TaskDag::index_of(std::string_view id) const {
  auto it = index_.find(id);
  if (it == index_.end()) {
    return invalid(fmt::format("task \"{}\" is not in the plan", id));
  }
  return it->second;
}

Result<size_t> TaskDag::expect(std::string_view id, std::initializer_list<TaskStatus> allowed,
                               std::string_view action) const {
  Result<size_t> index = index_of(id);
  if (!index) {
    return index;
  }
  TaskStatus current = states_[*index].status;
  for (TaskStatus status : allowed) {
    if (status == current) {
      return index;
    }
  }
  return invalid(fmt::format("task \"{}\" cannot be {} while it is {}", id, action,
                             task_status_name(current)));
}

Status TaskDag::mark_running(std::string_view id) {
  Result<size_t> index = expect(id, {TaskStatus::kReady}, "started");
  if (!index) {
    return index.status();
  }
  states_[*index].status = TaskStatus::kRunning;
  ++states_[*index].runs;
  return Status::ok();
}

Status TaskDag::mark_requeued(std::string_view id) {
  Result<size_t> index = expect(id, {TaskStatus::kRunning}, "requeued");
  if (!index) {
    return index.status();
  }
  states_[*index].status = TaskStatus::kReady;
  return Status::ok();
}

Result<std::vector<StatusChange>> TaskDag::mark_succeeded(std::string_view id) {
  Result<size_t> index = expect(id, {TaskStatus::kRunning}, "marked succeeded");
  if (!index) {
    return index.status();
  }
  states_[*index].status = TaskStatus::kSucceeded;
  ++final_count_;
  std::vector<StatusChange> became_ready;
  for (size_t dependent : dependents_[*index]) {
    TaskState& state = states_[dependent];
    if (--waiting_on_[dependent] == 0 && state.status == TaskStatus::kPending) {
      state.status = TaskStatus::kReady;
      became_ready.push_back({state.id, state.status, ""});
    }
  }
  return became_ready;
}

Result<std::vector<StatusChange>> TaskDag::mark_failed(std::string_view id, std::string reason) {
  Result<size_t> index = expect(id, {TaskStatus::kReady, TaskStatus::kRunning}, "marked failed");
  if (!index) {
    return index.status();
  }
  return finish_with_cascade(*index, TaskStatus::kFailed, std::move(reason),
                             fmt::format("dependency \"{}\" failed", id));
}

Result<std::vector<StatusChange>> TaskDag::mark_cancelled(std::string_view id, std::string reason) {
  Result<size_t> index = expect(id, {TaskStatus::kReady, TaskStatus::kRunning}, "marked cancelled");
  if (!index) {
    return index.status();
  }
  return finish_with_cascade(*index, TaskStatus::kCancelled, std::move(reason),
                             fmt::format("dependency \"{}\" was cancelled", id));
}

std::vector<StatusChange> TaskDag::finish_with_cascade(size_t index, TaskStatus status,
                                                       std::string reason,
                                                       const std::string& cascade) {
  std::vector<StatusChange> changes;
  states_[index].status = status;
  states_[index].reason = std::move(reason);
  ++final_count_;
  changes.push_back({states_[index].id, status, states_[index].reason});
  std::deque<size_t> frontier(dependents_[index].begin(), dependents_[index].end());
  while (!frontier.empty()) {
    size_t next = frontier.front();
    frontier.pop_front();
    TaskState& state = states_[next];
    // Dependents of a task that has not succeeded are PENDING; visited ones are final.
    if (state.status != TaskStatus::kPending) {
      continue;
    }
    state.status = TaskStatus::kCancelled;
    state.reason = cascade;
    ++final_count_;
    changes.push_back({state.id, state.status, state.reason});
    frontier.insert(frontier.end(), dependents_[next].begin(), dependents_[next].end());
  }
  return changes;
}

std::vector<StatusChange> TaskDag::cancel_all(const std::string& reason) {
  return finish_waiting(TaskStatus::kCancelled, reason);
}

std::vector<StatusChange> TaskDag::fail_all(const std::string& reason) {
  return finish_waiting(TaskStatus::kFailed, reason);
}

std::vector<StatusChange> TaskDag::finish_waiting(TaskStatus status, const std::string& reason) {
  std::vector<StatusChange> changes;
  for (TaskState& state : states_) {
    if (state.status == TaskStatus::kPending || state.status == TaskStatus::kReady) {
      state.status = status;
      state.reason = reason;
      ++final_count_;
      changes.push_back({state.id, state.status, state.reason});
    }
  }
  return changes;
}

bool TaskDag::done() const {
  return final_count_ == states_.size();
}

bool TaskDag::all_succeeded() const {
  for (const TaskState& state : states_) {
    if (state.status != TaskStatus::kSucceeded) {
      return false;
    }
  }
  return true;
}

const TaskState* TaskDag::find(std::string_view id) const {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : &states_[it->second];
}

const PlanTask* TaskDag::task(std::string_view id) const {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : &plan_.tasks[it->second];
}

std::map<TaskStatus, int> TaskDag::counts() const {
  std::map<TaskStatus, int> counts;
  for (const TaskState& state : states_) {
    ++counts[state.status];
  }
  return counts;
}

}  // namespace ollamaflow::orchestrator
