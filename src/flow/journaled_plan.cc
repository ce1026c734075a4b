#include "flow/journaled_plan.h"

#include <algorithm>
#include <set>
#include <vector>

#include <fmt/format.h>

namespace ollamaflow::flow {

Result<orchestrator::Plan> read_journaled_plan(store::Journal& journal, const std::string& run_id,
                                               const orchestrator::RoleSet& roles) {
  Result<store::PlanRecord> stored = journal.accepted_plan(run_id);
  if (!stored) {
    return stored.status();
  }
  std::vector<std::string> problems;
  Result<orchestrator::Plan> plan = orchestrator::plan_from_json(stored->plan);
  if (!plan) {
    problems.push_back(plan.status().message());
  } else {
    // Every other limit of a plan is fixed, so only the task count can differ from the one that
    // the plan passed when it was accepted.
    orchestrator::PlanLimits limits;
    limits.max_tasks = std::max(1, static_cast<int>(plan->tasks.size()));
    problems = orchestrator::validate_plan(*plan, roles, limits);
    // The run's journaled tasks come from this plan, so each of them must be in it.
    Result<std::vector<store::TaskRecord>> tasks = journal.tasks_for_run(run_id);
    if (!tasks) {
      return tasks.status();
    }
    std::set<std::string> planned;
    for (const orchestrator::PlanTask& task : plan->tasks) {
      planned.insert(task.id);
    }
    for (const store::TaskRecord& task : *tasks) {
      if (planned.count(task.task_id) == 0) {
        problems.push_back(
            fmt::format("task \"{}\" is journaled for the run but is not in the plan",
                        orchestrator::shorten_plan_value(task.task_id)));
      }
    }
  }
  if (problems.empty()) {
    return plan;
  }
  // Each problem goes on a line of its own, indented, as the errors of a plan file do.
  std::string message = fmt::format(
      "journal '{}': the accepted plan of run '{}' is not a valid plan, because the journal was "
      "changed outside ollama-flow. The run cannot be resumed, so start its goal again as a new "
      "run. Problems:",
      journal.path(), run_id);
  for (const std::string& problem : problems) {
    message += "\n  " + problem;
  }
  return Status(ErrorCode::kCorrupt, message);
}

}  // namespace ollamaflow::flow
