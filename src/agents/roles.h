// Agent roles in the manager: the role names it accepts, the agent ids, and the roles that new
// agents get from the tasks waiting in the queue.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ollamaflow::agents {

// Returns true when `role` matches ^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$, the form that plans use
// for role names.
bool is_valid_role(std::string_view role);

// Returns ok for a valid role, else kInvalidArgument naming the role and the accepted form.
Status check_role(std::string_view role);

// Builds the agent id "agent-<sequence>", e.g. "agent-7". The id names no role, because an agent
// takes tasks of every role; the report, the status and the journal name each task's role.
std::string make_agent_id(int64_t sequence);

// Chooses the roles of `count` new agents. Each agent in turn takes the queued role with the
// largest deficit: tasks waiting minus agents of that role, counting the agents chosen before
// it. Ties go to the role with more waiting tasks, then to the smaller name. Roles that are not
// valid are skipped. With no valid queued role, every agent gets `default_role`.
std::vector<std::string> choose_roles(const std::map<std::string, int>& waiting_by_role,
                                      const std::map<std::string, int>& agents_by_role, int count,
                                      const std::string& default_role);

}  // namespace ollamaflow::agents
