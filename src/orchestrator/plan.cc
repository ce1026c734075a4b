#include "orchestrator/plan.h"

#include <set>
#include <string_view>

#include <fmt/format.h>

namespace ollamaflow::orchestrator {
namespace {

using nlohmann::json;

const std::set<std::string>& task_fields() {
  static const std::set<std::string> kFields = {"id",          "title",      "role",
                                                "description", "depends_on", "files"};
  return kFields;
}

std::string type_name(const json& value) {
  return value.type_name();
}

Status type_error(const std::string& field, std::string_view expected, const json& value) {
  return {ErrorCode::kInvalidArgument,
          fmt::format("{}: expected {}, got {}", field, expected, type_name(value))};
}

Status read_string(const json& object, const std::string& key, const std::string& field,
                   bool required, std::string& out) {
  auto it = object.find(key);
  if (it == object.end()) {
    if (required) {
      return {ErrorCode::kInvalidArgument, fmt::format("{}: missing required field", field)};
    }
    return Status::ok();
  }
  if (!it->is_string()) {
    return type_error(field, "a string", *it);
  }
  out = it->get<std::string>();
  return Status::ok();
}

// Reads a list of strings, keeping the first occurrence of each value.
Status read_string_list(const json& object, const std::string& key, const std::string& field,
                        std::vector<std::string>& out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    return Status::ok();
  }
  if (!it->is_array()) {
    return type_error(field, "a list of strings", *it);
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& item = (*it)[i];
    if (!item.is_string()) {
      return type_error(fmt::format("{}[{}]", field, i), "a string", item);
    }
    std::string value = item.get<std::string>();
    if (seen.insert(value).second) {
      out.push_back(std::move(value));
    }
  }
  return Status::ok();
}

Status check_known_fields(const json& object, const std::set<std::string>& known,
                          const std::string& where) {
  for (const auto& [key, value] : object.items()) {
    if (known.count(key) == 0) {
      std::string list;
      for (const std::string& name : known) {
        list += list.empty() ? name : ", " + name;
      }
      return {ErrorCode::kInvalidArgument,
              fmt::format("{}: unknown field '{}': the known fields are {}", where, key, list)};
    }
  }
  return Status::ok();
}

// Reads one task; `where` names it in errors, e.g. "tasks[2]".
Result<PlanTask> task_from_json(const json& value, const std::string& where) {
  if (!value.is_object()) {
    return type_error(where, "an object", value);
  }
  Status status = check_known_fields(value, task_fields(), where);
  PlanTask task;
  if (status) {
    status = read_string(value, "id", where + ".id", true, task.id);
  }
  if (status) {
    task.title = task.id;
    status = read_string(value, "title", where + ".title", false, task.title);
  }
  if (status) {
    status = read_string(value, "role", where + ".role", true, task.role);
  }
  if (status) {
    status = read_string(value, "description", where + ".description", true, task.description);
  }
  if (status) {
    status = read_string_list(value, "depends_on", where + ".depends_on", task.depends_on);
  }
  if (status) {
    status = read_string_list(value, "files", where + ".files", task.files);
  }
  if (!status) {
    return status;
  }
  return task;
}

}  // namespace

json plan_task_to_json(const PlanTask& task) {
  return {{"id", task.id},
          {"title", task.title},
          {"role", task.role},
          {"description", task.description},
          {"depends_on", task.depends_on},
          {"files", task.files}};
}

Result<PlanTask> plan_task_from_json(const json& value) {
  return task_from_json(value, "task");
}

json plan_to_json(const Plan& plan) {
  json tasks = json::array();
  for (const PlanTask& task : plan.tasks) {
    tasks.push_back(plan_task_to_json(task));
  }
  json document = {{"goal", plan.goal}, {"summary", plan.summary}, {"tasks", std::move(tasks)}};
  if (plan.simulated) {
    document["simulated"] = true;
  }
  return document;
}

Result<Plan> plan_from_json(const json& document) {
  if (!document.is_object()) {
    return type_error("plan", "an object with \"tasks\"", document);
  }
  auto wrapped = document.find("plan");
  if (wrapped != document.end() && wrapped->is_object()) {
    return plan_from_json(*wrapped);
  }

  Status status = check_known_fields(document, {"goal", "summary", "tasks", "simulated"}, "plan");
  Plan plan;
  if (status) {
    status = read_string(document, "goal", "goal", false, plan.goal);
  }
  if (status) {
    status = read_string(document, "summary", "summary", false, plan.summary);
  }
  if (!status) {
    return status;
  }
  if (auto simulated = document.find("simulated"); simulated != document.end()) {
    if (!simulated->is_boolean()) {
      return type_error("simulated", "true or false", *simulated);
    }
    plan.simulated = simulated->get<bool>();
  }

  auto tasks = document.find("tasks");
  if (tasks == document.end()) {
    return Result<Plan>(ErrorCode::kInvalidArgument, "tasks: missing required field");
  }
  if (!tasks->is_array()) {
    return type_error("tasks", "a list of tasks", *tasks);
  }

  for (size_t i = 0; i < tasks->size(); ++i) {
    Result<PlanTask> task = task_from_json((*tasks)[i], fmt::format("tasks[{}]", i));
    if (!task) {
      return task.status();
    }
    plan.tasks.push_back(std::move(task).value());
  }
  return plan;
}

json plan_schema(const RoleSet& roles, const PlanLimits& limits) {
  json id = {{"type", "string"}, {"pattern", std::string(kSafeIdPattern)}};
  json path = {{"type", "string"},
               {"pattern", std::string(kSafePathPattern)},
               {"maxLength", limits.max_path_length}};
  json task = {
      {"type", "object"},
      {"properties",
       {{"id", id},
        {"title", {{"type", "string"}}},
        {"role", {{"type", "string"}, {"enum", roles.names()}}},
        {"description", {{"type", "string"}}},
        {"depends_on", {{"type", "array"}, {"items", id}}},
        {"files", {{"type", "array"}, {"items", path}, {"maxItems", limits.max_files_per_task}}}}},
      {"required", {"id", "title", "role", "description", "depends_on", "files"}},
      {"additionalProperties", false}};
  return {{"type", "object"},
          {"properties",
           {{"goal", {{"type", "string"}}},
            {"summary", {{"type", "string"}}},
            {"tasks",
             {{"type", "array"},
              {"items", std::move(task)},
              {"minItems", 1},
              {"maxItems", limits.max_tasks}}}}},
          {"required", {"goal", "summary", "tasks"}},
          {"additionalProperties", false}};
}

}  // namespace ollamaflow::orchestrator
