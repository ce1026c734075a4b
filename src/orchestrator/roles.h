// Agent roles and the system prompts that define them, plus the queen's planning prompt.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace ollamaflow::orchestrator {

// One agent role: a plan task names it, and the agent that runs the task uses its prompt.
struct Role {
  std::string name;         // as written in plans, e.g. "developer"
  std::string description;  // one line for the queen: what the role is for
  std::string prompt;       // the system prompt of an agent in this role
};

// The roles available to a run: the five built-in ones, optionally extended with more.
//
// Immutable after construction, so a RoleSet may be read from any thread.
class RoleSet {
 public:
  // Returns developer, analyst, data_scientist, it_architect and security_specialist.
  static RoleSet builtin();

  // Builds a set from `roles` in the given order. Returns kInvalidArgument when a name is not
  // a safe identifier (see is_safe_id), a name appears twice, or a prompt is empty.
  static Result<RoleSet> create(std::vector<Role> roles);

  // Returns a copy with `extra` appended; an extra role whose name is already known replaces
  // that role's description and prompt. Errors as for create().
  Result<RoleSet> extended(std::vector<Role> extra) const;

  // Returns the role with `name`, or nullptr when it is unknown.
  const Role* find(std::string_view name) const;

  std::vector<std::string> names() const;
  const std::vector<Role>& roles() const { return roles_; }

 private:
  explicit RoleSet(std::vector<Role> roles) : roles_(std::move(roles)) {}

  std::vector<Role> roles_;
};

// Returns true when `id` matches ^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$: the form of task ids and
// role names, safe as a file name component and in log lines.
bool is_safe_id(std::string_view id);

// Pattern string for is_safe_id, for JSON schemas.
inline constexpr std::string_view kSafeIdPattern = "^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$";

// Returns the queen's system prompt: how to split a goal into tasks, the roles to choose
// from, and the rules that validate_plan enforces (unique ids, known dependencies, no cycles,
// one owner per file, at most `max_tasks` tasks).
std::string queen_prompt(const RoleSet& roles, int max_tasks);

}  // namespace ollamaflow::orchestrator
