#include "llm/sim_plan.h"

#include <algorithm>
#include <optional>
#include <set>
#include <vector>

#include <fmt/format.h>

namespace ollamaflow::llm {
namespace {

using nlohmann::json;

// One task of the simulated plan.
struct PlanTemplate {
  std::string id;
  std::string title;
  std::string role;
  std::string file;
  std::vector<size_t> depends_on;  // positions of earlier tasks
};

const std::vector<PlanTemplate>& plan_templates() {
  static const std::vector<PlanTemplate> kTemplates = {
      {"design", "Design the structure", "it_architect", "docs/design.md", {}},
      {"implement", "Write the main program", "developer", "app/main.py", {0}},
      {"test", "Write the tests", "developer", "tests/test_app.py", {1}},
      {"security-review", "Review the security", "security_specialist", "docs/security.md", {1}},
      {"analysis", "Analyse the results", "analyst", "docs/analysis.md", {2, 3}},
  };
  return kTemplates;
}

PlanTemplate plan_template(size_t position) {
  const std::vector<PlanTemplate>& templates = plan_templates();
  if (position < templates.size()) {
    return templates[position];
  }
  const std::string number = std::to_string(position + 1);
  return {
      "task-" + number, "Write part " + number, "developer", "docs/part-" + number + ".md", {0}};
}

std::optional<size_t> count_of(const json& schema, const char* key) {
  if (!schema.is_object()) {
    return std::nullopt;
  }
  const auto it = schema.find(key);
  if (it == schema.end() || !it->is_number() || it->get<double>() < 0) {
    return std::nullopt;
  }
  return static_cast<size_t>(it->get<double>());
}

// Returns schema[name], or an empty object when `schema` has no such member. The reference stays
// valid as long as `schema` does.
const json& member(const json& schema, const char* name) {
  static const json kEmpty = json::object();
  if (!schema.is_object() || !schema.contains(name)) {
    return kEmpty;
  }
  return schema[name];
}

const json& property(const json& schema, const char* name) {
  static const json kEmpty = json::object();
  if (!schema.is_object() || !schema.contains("properties") || !schema["properties"].is_object() ||
      !schema["properties"].contains(name)) {
    return kEmpty;
  }
  return schema["properties"][name];
}

bool fits(const json& schema, const std::string& text, const std::set<std::string>& used) {
  if (used.count(text) > 0 || !matches_schema_pattern(schema, text)) {
    return false;
  }
  const std::optional<size_t> max = count_of(schema, "maxLength");
  return !max || text.size() <= *max;
}

std::string pick_id(const json& id_schema, const PlanTemplate& plan_task, size_t position,
                    std::set<std::string>& used) {
  const std::string number = std::to_string(position + 1);
  for (const std::string& candidate :
       {plan_task.id, "t" + number, "task" + number, "task-" + number, number}) {
    if (fits(id_schema, candidate, used)) {
      used.insert(candidate);
      return candidate;
    }
  }
  return plan_task.id;
}

std::string pick_role(const json& role_schema, const std::string& preferred, size_t position) {
  if (role_schema.is_object() && role_schema.contains("const") &&
      role_schema["const"].is_string()) {
    return role_schema["const"].get<std::string>();
  }
  std::vector<std::string> names;
  if (role_schema.is_object() && role_schema.contains("enum") && role_schema["enum"].is_array()) {
    for (const json& name : role_schema["enum"]) {
      if (name.is_string()) {
        names.push_back(name.get<std::string>());
      }
    }
  }
  if (names.empty() || std::find(names.begin(), names.end(), preferred) != names.end()) {
    return preferred;
  }
  return names[position % names.size()];
}

// Returns "docs/design-2.md" for "docs/design.md" and variant 2.
std::string path_variant(const std::string& path, size_t variant) {
  if (variant == 0) {
    return path;
  }
  const size_t slash = path.rfind('/');
  size_t dot = path.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) {
    dot = path.size();
  }
  return path.substr(0, dot) + "-" + std::to_string(variant + 1) + path.substr(dot);
}

std::vector<std::string> pick_files(const json& files_schema, const json& path_schema,
                                    const PlanTemplate& plan_task, size_t position,
                                    std::set<std::string>& used) {
  const size_t max = count_of(files_schema, "maxItems").value_or(SIZE_MAX);
  const size_t count =
      std::min(max, std::max<size_t>(1, count_of(files_schema, "minItems").value_or(0)));
  std::vector<std::string> files;
  for (size_t variant = 0; files.size() < count && variant < count + 8; ++variant) {
    std::string path = path_variant(plan_task.file, variant);
    if (!fits(path_schema, path, used)) {
      path = fmt::format("file-{}-{}.txt", position + 1, variant + 1);
    }
    if (fits(path_schema, path, used)) {
      used.insert(path);
      files.push_back(std::move(path));
    }
  }
  return files;
}

// The state shared by the tasks of one plan.
struct PlanDraft {
  std::string goal;
  std::vector<std::string> ids;  // by position
  std::set<std::string> used_ids;
  std::set<std::string> used_files;
};

std::string task_description(const PlanTemplate& plan_task, const std::vector<std::string>& files,
                             const std::string& goal) {
  std::string written;
  for (const std::string& file : files) {
    written += (written.empty() ? "" : ", ") + file;
  }
  return fmt::format("Simulated task (no model was run): {} for the goal \"{}\"{}.",
                     plan_task.title, goal, written.empty() ? "" : ", writing " + written);
}

json plan_task_value(const json& item, size_t position, PlanDraft& draft, const SchemaWalk& walk) {
  const PlanTemplate plan_task = plan_template(position);
  const std::string id =
      pick_id(walk.resolve(property(item, "id")), plan_task, position, draft.used_ids);
  draft.ids.push_back(id);
  const json& files_schema = walk.resolve(property(item, "files"));
  const json& path_schema = walk.resolve(member(files_schema, "items"));
  const std::vector<std::string> files =
      pick_files(files_schema, path_schema, plan_task, position, draft.used_files);
  json dependencies = json::array();
  for (size_t earlier : plan_task.depends_on) {
    if (earlier < position) {
      dependencies.push_back(draft.ids[earlier]);
    }
  }
  json task = json::object();
  for (const auto& [key, sub] : item["properties"].items()) {
    if (key == "id") {
      task[key] = id;
    } else if (key == "role") {
      task[key] = pick_role(walk.resolve(sub), plan_task.role, position);
    } else if (key == "depends_on") {
      task[key] = dependencies;
    } else if (key == "files") {
      task[key] = files;
    } else if (key == "title") {
      task[key] = plan_task.title;
    } else if (key == "description") {
      task[key] = task_description(plan_task, files, draft.goal);
    } else {
      task[key] = walk.generate(sub, position, key);
    }
  }
  return task;
}

}  // namespace

bool is_plan_schema(const json& schema, const SchemaWalk& walk) {
  const json& tasks = walk.resolve(property(schema, "tasks"));
  if (!tasks.is_object() || !tasks.contains("items")) {
    return false;
  }
  const json& item = walk.resolve(tasks["items"]);
  if (!item.is_object() || !item.contains("properties") || !item["properties"].is_object()) {
    return false;
  }
  const json& fields = item["properties"];
  return fields.contains("id") && fields.contains("role") && fields.contains("depends_on") &&
         fields.contains("files");
}

json simulated_plan(const json& schema, const std::string& goal, const SchemaWalk& walk) {
  const json& tasks_schema = walk.resolve(property(schema, "tasks"));
  const json& item = walk.resolve(member(tasks_schema, "items"));
  const size_t min = std::max<size_t>(1, count_of(tasks_schema, "minItems").value_or(1));
  const size_t max = count_of(tasks_schema, "maxItems").value_or(SIZE_MAX);
  const size_t count = std::min(max, std::max(min, plan_templates().size()));

  PlanDraft draft;
  draft.goal = goal.empty() ? "simulated goal" : goal;
  json tasks = json::array();
  for (size_t position = 0; position < count; ++position) {
    tasks.push_back(plan_task_value(item, position, draft, walk));
  }

  json plan = json::object();
  for (const auto& [key, sub] : schema["properties"].items()) {
    if (key == "tasks") {
      plan[key] = tasks;
    } else if (key == "goal") {
      plan[key] = draft.goal;
    } else if (key == "summary") {
      plan[key] = fmt::format(
          "Simulated plan with {} task(s) for the goal \"{}\": the simulated "
          "backend made it and no model was run.",
          count, draft.goal);
    } else {
      plan[key] = walk.generate(sub, 0, key);
    }
  }
  return plan;
}

}  // namespace ollamaflow::llm
