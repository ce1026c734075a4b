// validate_plan: the checks every plan passes before anything runs.
#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/terminal_text.h"
#include "orchestrator/plan.h"
#include "orchestrator/workspace.h"

namespace ollamaflow::orchestrator {
namespace {

using Errors = std::vector<std::string>;

// Returns "task "id"" for messages, or "task 3" when the id cannot be shown as given.
std::string task_label(const PlanTask& task, size_t index) {
  if (is_safe_id(task.id)) {
    return fmt::format("task \"{}\"", task.id);
  }
  return fmt::format("task {}", index + 1);
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const std::string& item : items) {
    out += out.empty() ? item : std::string(separator) + item;
  }
  return out;
}

void check_size(const Plan& plan, const PlanLimits& limits, Errors& errors) {
  if (plan.tasks.empty()) {
    errors.push_back("the plan has no tasks: add at least one task");
  }
  if (static_cast<int>(plan.tasks.size()) > limits.max_tasks) {
    errors.push_back(
        fmt::format("the plan has {} tasks, more than the limit of {}: merge "
                    "related tasks",
                    plan.tasks.size(), limits.max_tasks));
  }
}

void check_ids(const Plan& plan, Errors& errors) {
  std::map<std::string, int> counts;
  for (size_t i = 0; i < plan.tasks.size(); ++i) {
    const std::string& id = plan.tasks[i].id;
    if (!is_safe_id(id)) {
      errors.push_back(
          fmt::format("task {} has the invalid id '{}': use 1 to 32 letters, digits, "
                      "'_' or '-', starting with a letter or digit",
                      i + 1, shorten_plan_value(id)));
    }
    ++counts[id];
  }
  for (const auto& [id, count] : counts) {
    if (count > 1) {
      errors.push_back(fmt::format("task id \"{}\" is used by {} tasks: give each task its own id",
                                   shorten_plan_value(id), count));
    }
  }
}

void check_fields(const Plan& plan, const RoleSet& roles, Errors& errors) {
  for (size_t i = 0; i < plan.tasks.size(); ++i) {
    const PlanTask& task = plan.tasks[i];
    if (roles.find(task.role) == nullptr) {
      errors.push_back(fmt::format("{} has the unknown role '{}': use one of {}",
                                   task_label(task, i), shorten_plan_value(task.role),
                                   join(roles.names(), ", ")));
    }
    if (task.description.empty()) {
      errors.push_back(fmt::format("{} has an empty description: say what the task produces",
                                   task_label(task, i)));
    }
  }
}

void check_dependencies(const Plan& plan, Errors& errors) {
  std::map<std::string, int> id_counts;
  for (const PlanTask& task : plan.tasks) {
    ++id_counts[task.id];
  }
  for (size_t i = 0; i < plan.tasks.size(); ++i) {
    const PlanTask& task = plan.tasks[i];
    std::set<std::string> reported;
    for (const std::string& dependency : task.depends_on) {
      if (!reported.insert(dependency).second) {
        continue;  // a repeated dependency is one edge
      }
      // A task whose id is used twice may mean the other task of that id, and check_ids()
      // reports the repeated id already.
      if (dependency == task.id && id_counts[task.id] == 1) {
        errors.push_back(fmt::format("{} depends on itself: remove \"{}\" from its depends_on",
                                     task_label(task, i), shorten_plan_value(dependency)));
      } else if (id_counts.count(dependency) == 0) {
        errors.push_back(fmt::format("{} depends on \"{}\", which is not a task of this plan",
                                     task_label(task, i), shorten_plan_value(dependency)));
      }
    }
  }
}

// Finds dependency cycles by depth-first search along the edges from each task to the tasks
// that depend on it. Self-dependencies and unknown ids are reported elsewhere and skipped here.
class CycleFinder {
 public:
  explicit CycleFinder(const Plan& plan) : plan_(plan) {
    for (size_t i = 0; i < plan.tasks.size(); ++i) {
      index_.emplace(plan.tasks[i].id, i);  // the first task wins when ids repeat
    }
    dependents_.resize(plan.tasks.size());
    for (size_t i = 0; i < plan.tasks.size(); ++i) {
      std::set<size_t> seen;
      for (const std::string& dependency : plan.tasks[i].depends_on) {
        auto it = index_.find(dependency);
        if (it != index_.end() && it->second != i && seen.insert(it->second).second) {
          dependents_[it->second].push_back(i);
        }
      }
    }
  }

  Errors find() {
    color_.assign(plan_.tasks.size(), Color::kWhite);
    for (size_t i = 0; i < plan_.tasks.size(); ++i) {
      if (color_[i] == Color::kWhite) {
        visit(i);
      }
    }
    return std::move(errors_);
  }

 private:
  enum class Color { kWhite, kGray, kBlack };

  // Iterative, so that a long chain of tasks cannot exhaust the thread's stack.
  void visit(size_t root) {
    std::vector<size_t> next_child = {0};
    stack_ = {root};
    color_[root] = Color::kGray;
    while (!stack_.empty()) {
      size_t node = stack_.back();
      size_t& child = next_child.back();
      if (child == dependents_[node].size()) {
        color_[node] = Color::kBlack;
        stack_.pop_back();
        next_child.pop_back();
        continue;
      }
      size_t next = dependents_[node][child++];
      if (color_[next] == Color::kGray) {
        report(next);
      } else if (color_[next] == Color::kWhite) {
        color_[next] = Color::kGray;
        stack_.push_back(next);
        next_child.push_back(0);
      }
    }
  }

  // Reports the cycle that runs from `start` (on the stack) to the top of the stack and back,
  // rotated to begin at the task that comes first in the plan, so each cycle reads the same.
  void report(size_t start) {
    auto begin = std::find(stack_.begin(), stack_.end(), start);
    std::vector<size_t> cycle(begin, stack_.end());
    std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
    if (!reported_.insert(cycle).second) {
      return;
    }
    std::vector<std::string> names;
    for (size_t node : cycle) {
      names.push_back(plan_.tasks[node].id);
    }
    names.push_back(plan_.tasks[cycle.front()].id);
    errors_.push_back(
        fmt::format("dependency cycle {}: each of these tasks waits for the one "
                    "before it, so none can start; remove one dependency",
                    join(names, " -> ")));
  }

  const Plan& plan_;
  std::map<std::string, size_t> index_;
  std::vector<std::vector<size_t>> dependents_;
  std::vector<Color> color_;
  std::vector<size_t> stack_;
  std::set<std::vector<size_t>> reported_;
  Errors errors_;
};

void check_task_files(const PlanTask& task, size_t index, const PlanLimits& limits,
                      Errors& errors) {
  if (static_cast<int>(task.files.size()) > limits.max_files_per_task) {
    errors.push_back(fmt::format("{} declares {} files, more than the limit of {}: split the task",
                                 task_label(task, index), task.files.size(),
                                 limits.max_files_per_task));
  }
  std::set<std::string> seen;
  for (const std::string& file : task.files) {
    Status status = check_relative_path(file, static_cast<size_t>(limits.max_path_length));
    if (!status) {
      errors.push_back(fmt::format("{}: {}", task_label(task, index), status.message()));
    } else if (!seen.insert(file).second) {
      errors.push_back(
          fmt::format("{} declares '{}' twice: list it once", task_label(task, index), file));
    }
  }
}

// Reports a file declared by two tasks, and a file of one task that another task's path needs
// as a folder (such as "docs" and "docs/api.md").
void check_file_owners(const Plan& plan, Errors& errors) {
  std::map<std::string, size_t> owner;
  for (size_t i = 0; i < plan.tasks.size(); ++i) {
    for (const std::string& file : plan.tasks[i].files) {
      auto [it, inserted] = owner.emplace(file, i);
      if (!inserted && it->second != i) {
        errors.push_back(fmt::format(
            "file '{}' is declared by {} and {}: their writes would "
            "conflict, so give the file to one task",
            file, task_label(plan.tasks[it->second], it->second), task_label(plan.tasks[i], i)));
      }
    }
  }
  for (const auto& [file, task_index] : owner) {
    for (size_t slash = file.find('/'); slash != std::string::npos;
         slash = file.find('/', slash + 1)) {
      auto folder = owner.find(file.substr(0, slash));
      if (folder != owner.end()) {
        errors.push_back(
            fmt::format("file '{}' of {} is also the folder of '{}' of {}: rename one of them",
                        folder->first, task_label(plan.tasks[folder->second], folder->second), file,
                        task_label(plan.tasks[task_index], task_index)));
      }
    }
  }
}

}  // namespace

std::string shorten_plan_value(std::string_view value) {
  constexpr size_t kMaxWidth = 40;
  return truncate_printable(value, kMaxWidth);
}

std::vector<std::string> validate_plan(const Plan& plan, const RoleSet& roles,
                                       const PlanLimits& limits) {
  Errors errors;
  check_size(plan, limits, errors);
  check_ids(plan, errors);
  check_fields(plan, roles, errors);
  check_dependencies(plan, errors);
  Errors cycles = CycleFinder(plan).find();
  errors.insert(errors.end(), cycles.begin(), cycles.end());
  for (size_t i = 0; i < plan.tasks.size(); ++i) {
    check_task_files(plan.tasks[i], i, limits, errors);
  }
  check_file_owners(plan, errors);
  return errors;
}

}  // namespace ollamaflow::orchestrator
