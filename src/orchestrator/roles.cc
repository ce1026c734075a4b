#include "orchestrator/roles.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "core/count_text.h"

namespace ollamaflow::orchestrator {
namespace {

std::vector<Role> builtin_roles() {
  return {
      {"developer", "writes and fixes source code, build files and tests",
       "You are a software developer. You turn a task into working source code: complete "
       "modules, build or package files and tests that exercise them. Follow the conventions "
       "of the language, handle errors, and keep the code consistent with the files produced "
       "by the tasks you depend on."},
      {"analyst", "gathers requirements, writes specifications and reviews results",
       "You are a requirements analyst. You turn a goal into precise requirements, user "
       "stories with acceptance criteria, and reviews of what other tasks produced. State "
       "assumptions explicitly and prefer lists and tables that an engineer can act on."},
      {"data_scientist", "designs data models, analyses, metrics and ML pipelines",
       "You are a data scientist. You design data models and schemas, analyses, metrics and "
       "machine learning pipelines, and you write the code or notebooks that implement them. "
       "Name the data sources, the methods and how results are validated."},
      {"it_architect", "designs system structure, interfaces and deployment",
       "You are an IT architect. You decide the structure of a system: components and their "
       "responsibilities, interfaces and data flows, technology choices with their reasons, "
       "and deployment. Produce documents and configuration that developers can build on."},
      {"security_specialist", "reviews threats and writes security controls and checks",
       "You are a security specialist. You identify threats to the system (input handling, "
       "authentication, secrets, dependencies, data exposure), rank them, and produce "
       "concrete mitigations: code changes, configuration and tests that check them."},
  };
}

Status check_role(const Role& role) {
  if (!is_safe_id(role.name)) {
    return {ErrorCode::kInvalidArgument,
            fmt::format("role name '{}' is invalid: use 1 to 32 letters, digits, '_' or '-', "
                        "starting with a letter or digit",
                        role.name)};
  }
  if (role.prompt.empty()) {
    return {ErrorCode::kInvalidArgument,
            fmt::format("role '{}' has an empty prompt: give it a system prompt", role.name)};
  }
  return Status::ok();
}

}  // namespace

RoleSet RoleSet::builtin() {
  return RoleSet(builtin_roles());
}

Result<RoleSet> RoleSet::create(std::vector<Role> roles) {
  std::set<std::string> seen;
  for (const Role& role : roles) {
    Status status = check_role(role);
    if (!status) {
      return status;
    }
    if (!seen.insert(role.name).second) {
      return Result<RoleSet>(ErrorCode::kInvalidArgument,
                             fmt::format("role '{}' is defined twice: keep one", role.name));
    }
  }
  return RoleSet(std::move(roles));
}

Result<RoleSet> RoleSet::extended(std::vector<Role> extra) const {
  std::vector<Role> merged = roles_;
  std::set<std::string> seen_extra;
  for (Role& role : extra) {
    Status status = check_role(role);
    if (!status) {
      return status;
    }
    if (!seen_extra.insert(role.name).second) {
      return Result<RoleSet>(ErrorCode::kInvalidArgument,
                             fmt::format("role '{}' is defined twice: keep one", role.name));
    }
    auto existing = std::find_if(merged.begin(), merged.end(),
                                 [&](const Role& known) { return known.name == role.name; });
    if (existing != merged.end()) {
      *existing = std::move(role);
    } else {
      merged.push_back(std::move(role));
    }
  }
  return RoleSet(std::move(merged));
}

const Role* RoleSet::find(std::string_view name) const {
  for (const Role& role : roles_) {
    if (role.name == name) {
      return &role;
    }
  }
  return nullptr;
}

std::vector<std::string> RoleSet::names() const {
  std::vector<std::string> names;
  names.reserve(roles_.size());
  for (const Role& role : roles_) {
    names.push_back(role.name);
  }
  return names;
}

bool is_safe_id(std::string_view id) {
  if (id.empty() || id.size() > 32) {
    return false;
  }
  auto is_alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!is_alnum(id.front())) {
    return false;
  }
  for (char c : id) {
    if (!is_alnum(c) && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

std::string queen_prompt(const RoleSet& roles, int max_tasks) {
  std::string role_lines;
  for (const Role& role : roles.roles()) {
    role_lines += fmt::format("- {}: {}\n", role.name, role.description);
  }
  return fmt::format(
      "You are the planner of a team of AI agents. Split the user's goal into a small graph of "
      "tasks that agents can work on in parallel, and reply with the plan as one JSON object "
      "and nothing else.\n\n"
      "The plan has a \"goal\" (the goal restated in one sentence), a \"summary\" (the "
      "approach in two or three sentences) and \"tasks\". Each task has:\n"
      "- \"id\": short, unique, 1 to 32 letters, digits, '_' or '-', e.g. \"api\" or "
      "\"t1\";\n"
      "- \"title\": a few words;\n"
      "- \"role\": the agent role that does the task, one of the roles below;\n"
      "- \"description\": what to produce, precise enough to do without asking back;\n"
      "- \"depends_on\": ids of the tasks whose results this task needs (may be empty);\n"
      "- \"files\": the relative paths of the files the task writes, such as "
      "\"src/app.py\" or \"docs/design.md\".\n\n"
      "Rules: use at most {}; every dependency names another task of this plan; the "
      "dependencies form no cycle; each file belongs to exactly one task; paths are relative, "
      "use '/' and never contain '..'. Give independent work its own task so it can run in "
      "parallel, and give dependent work the results it needs through depends_on.\n\n"
      "Roles:\n{}",
      count_text(max_tasks, "task"), role_lines);
}

}  // namespace ollamaflow::orchestrator
