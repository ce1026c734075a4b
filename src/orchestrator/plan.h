// The queen's plan: a graph of tasks with roles, dependencies and the files each one writes.
// This file defines the types, their JSON form, the JSON schema sent to the model and the
// validation that every plan passes before anything runs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "orchestrator/roles.h"

namespace ollamaflow::orchestrator {

struct PlanTask {
  std::string id;     // unique within the plan, a safe id (is_safe_id)
  std::string title;  // a few words for reports
  std::string role;   // a role of the run's RoleSet
  std::string description;
  std::vector<std::string> depends_on;  // ids of tasks that must succeed first
  std::vector<std::string> files;       // workspace-relative paths the task writes
};

struct Plan {
  std::string goal;
  std::string summary;
  std::vector<PlanTask> tasks;
  // Made by the simulated backend, so the summary and the task descriptions are placeholder
  // text. Stored in the plan's JSON so that a plan file carries it to another backend.
  bool simulated = false;
};

// Bounds that validate_plan and plan_schema enforce.
struct PlanLimits {
  int max_tasks = 32;
  // Each agent returns all of its files in one reply, so many files per task mean long replies
  // that the output token limit cuts.
  int max_files_per_task = 16;
  int max_path_length = 200;  // bytes
};

// Returns the plan as {"goal", "summary", "tasks": [{"id", "title", "role", "description",
// "depends_on", "files"}]}, plus "simulated": true for a plan of the simulated backend.
// plan_from_json reads it back, so `--plan-only --json` should print this document (alone or as
// a "plan" member) for a plan made on one backend to run on another.
nlohmann::json plan_to_json(const Plan& plan);

// Reads a plan from plan_to_json's format. Also accepted: a document with just "tasks"
// (goal and summary stay empty), and a document whose "plan" member contains the plan (other
// members, such as a report's, are then ignored). In a task, "title" defaults to the id and
// "depends_on" and "files" to empty lists.
//
// Returns kInvalidArgument naming the field, e.g. "tasks[2].depends_on[0]: expected a string,
// got number", for a missing field, a wrong type or an unknown field (a misspelt
// "depend_on" would otherwise drop dependencies without a word). Repeated dependency ids and
// repeated files within one task are merged; everything else is left to validate_plan.
Result<Plan> plan_from_json(const nlohmann::json& json);

// Returns one task in the form of an entry of plan_to_json's "tasks", e.g. for a queue payload.
nlohmann::json plan_task_to_json(const PlanTask& task);

// Reads one task written by plan_task_to_json, with the rules of plan_from_json. Errors name
// the field as "task.id", "task.files[0]" and so on.
Result<PlanTask> plan_task_from_json(const nlohmann::json& json);

// Returns the JSON schema for the model's plan reply: known roles as an enum, ids and
// dependency ids with kSafeIdPattern, files as safe relative paths, between 1 and
// limits.max_tasks tasks, every field required and no other fields allowed.
nlohmann::json plan_schema(const RoleSet& roles, const PlanLimits& limits = {});

// Pattern for one safe relative path in plan_schema: components of letters, digits, '.', '_'
// and '-' joined by '/', where no component is "." or ".." (a component may start with one
// dot, as in ".gitignore"). check_relative_path applies the full rules.
inline constexpr std::string_view kSafePathPattern =
    "^(\\.?[A-Za-z0-9_-][A-Za-z0-9_.-]*/)*\\.?[A-Za-z0-9_-][A-Za-z0-9_.-]*$";

// Checks a plan and returns every problem found, or an empty list for a valid plan. Each
// problem names the task id, or the task's position when its id is unusable. The checks:
// - the plan has tasks, and at most limits.max_tasks of them;
// - ids are valid and unique, roles are known, descriptions are not empty;
// - dependencies name other tasks of the plan (repeated ids are not an error);
// - dependencies form no cycle, reported with its path "a -> b -> c -> a", where each arrow
//   points from a task to one that depends on it;
// - file paths are safe and not too long, no task has too many files, and no file is declared
//   by two tasks, because their writes would conflict.
std::vector<std::string> validate_plan(const Plan& plan, const RoleSet& roles,
                                       const PlanLimits& limits = {});

// Returns `value` from a plan (an id, a role, a dependency) for a message: on one line, escaped,
// and cut to 40 columns. A model or a plan file can give any length, and an id or a role that
// long is invalid anyway, so its start is enough to find it.
std::string shorten_plan_value(std::string_view value);

}  // namespace ollamaflow::orchestrator
