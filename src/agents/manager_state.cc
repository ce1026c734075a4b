// State changes, counts and the status report of AgentManager.
#include <algorithm>
#include <utility>

#include "agents/agent_record.h"
#include "agents/manager.h"

namespace ollamaflow::agents {
namespace {

bool counts_as_capacity(AgentState state) {
  return !is_final(state) && state != AgentState::kDraining;
}

nlohmann::json agent_to_json(const AgentInfo& info, MonoTime now) {
  const MonoTime end = info.ended_at.value_or(now);
  nlohmann::json record = {
      {"id", info.id},
      {"role", info.role},
      {"model", info.model},
      {"state", agent_state_name(info.state)},
      {"tasks_done", info.tasks_done},
      {"tasks_failed", info.tasks_failed},
      {"current_task", nullptr},
      {"current_task_role", nullptr},
      {"creation_reason", info.creation_reason},
      {"created", format_iso8601(info.created_wall)},
      {"age_seconds", to_seconds(end - info.created_at)},
      {"idle_seconds", nullptr},
  };
  if (!info.current_task.empty()) {
    record["current_task"] = info.current_task;
    record["current_task_role"] = info.current_task_role;
  }
  if (is_ready(info.state)) {
    record["idle_seconds"] = to_seconds(now - info.idle_since);
  }
  if (!info.termination_reason.empty()) {
    record["termination_reason"] = info.termination_reason;
  }
  if (!info.error.empty()) {
    record["error"] = info.error;
  }
  return record;
}

nlohmann::json limits_to_json(const AgentManagementSettings& limits) {
  return {
      {"min_agents", limits.min_agents},
      {"max_agents", limits.max_agents},
      {"batch_creation_size", limits.batch_creation_size},
      {"graceful_shutdown_timeout", limits.graceful_shutdown_timeout},
      {"agent_timeout_seconds", limits.agent_timeout_seconds},
      {"idle_timeout_seconds", limits.idle_timeout_seconds},
  };
}

nlohmann::json stats_to_json(const ManagerStats& stats) {
  return {
      {"created", stats.created},
      {"terminated", stats.terminated},
      {"creation_failures", stats.creation_failures},
      {"tasks_completed", stats.tasks_completed},
      {"tasks_failed", stats.tasks_failed},
      {"tasks_requeued", stats.tasks_requeued},
      {"tasks_lost", stats.tasks_lost},
      {"callback_errors", stats.callback_errors},
      {"invalid_transitions", stats.invalid_transitions},
      {"average_lifetime_seconds", stats.average_lifetime_seconds},
  };
}

}  // namespace

void AgentManager::set_state_locked(Agent& agent, AgentState to) {
  const AgentState from = agent.info.state;
  if (!is_allowed_transition(from, to)) {
    ++stats_.invalid_transitions;
    agents_log().error("invalid agent state change skipped: agent={} from={} to={}", agent.info.id,
                       agent_state_name(from), agent_state_name(to));
    return;
  }
  agent.info.state = to;
  const MonoTime now = clock_->now();
  if (is_ready(to)) {
    agent.info.idle_since = now;
  }
  if (to == AgentState::kActive) {
    agent.info.ready_at = now;
  }
  if (is_final(to)) {
    agent.info.ended_at = now;
    ++final_counts_[to];
    if (to == AgentState::kTerminated) {
      ++stats_.terminated;
      lifetime_total_seconds_ += to_seconds(now - agent.info.created_at);
    }
  }
  post_state_event_locked(agent, from);
  wake_.notify_all();
}

void AgentManager::post_state_event_locked(const Agent& agent, AgentState from) {
  AgentEvent event;
  event.kind = AgentEvent::Kind::kStateChanged;
  event.agent = agent.info;
  event.from = from;
  events_.post(std::move(event));
}

int AgentManager::capacity_locked() const {
  return static_cast<int>(std::count_if(agents_.begin(), agents_.end(), [](const auto& agent) {
    return counts_as_capacity(agent->info.state);
  }));
}

int AgentManager::live_locked() const {
  return static_cast<int>(std::count_if(agents_.begin(), agents_.end(), [](const auto& agent) {
    return !is_final(agent->info.state);
  }));
}

std::map<std::string, int> AgentManager::roles_locked() const {
  std::map<std::string, int> roles;
  for (const auto& agent : agents_) {
    if (counts_as_capacity(agent->info.state)) {
      ++roles[agent->info.role];
    }
  }
  return roles;
}

std::string AgentManager::model_for(const std::string& role) const {
  const auto entry = settings_.role_models.find(role);
  return entry == settings_.role_models.end() ? settings_.default_model : entry->second;
}

void AgentManager::record_ended_locked(const Agent& agent) {
  history_.push_back(agent.info);
  while (history_.size() > settings_.history_size) {
    history_.pop_front();
  }
}

std::map<AgentState, int> AgentManager::count_by_state() const {
  std::lock_guard lock(mutex_);
  return count_by_state_locked();
}

std::map<AgentState, int> AgentManager::count_by_state_locked() const {
  std::map<AgentState, int> counts;
  for (AgentState state : kAllAgentStates) {
    counts[state] = 0;
  }
  for (const auto& agent : agents_) {
    if (!is_final(agent->info.state)) {
      ++counts[agent->info.state];
    }
  }
  for (const auto& [state, count] : final_counts_) {
    counts[state] = count;
  }
  return counts;
}

int AgentManager::capacity() const {
  std::lock_guard lock(mutex_);
  return capacity_locked();
}

std::vector<AgentInfo> AgentManager::agents() const {
  std::lock_guard lock(mutex_);
  return agents_locked();
}

std::vector<AgentInfo> AgentManager::agents_locked() const {
  std::vector<AgentInfo> result;
  for (const auto& agent : agents_) {
    if (!is_final(agent->info.state)) {
      result.push_back(agent->info);
    }
  }
  // Agents that ended but whose thread is not joined yet are not in history_ so far.
  for (const auto& agent : agents_) {
    if (is_final(agent->info.state)) {
      result.push_back(agent->info);
    }
  }
  for (auto it = history_.rbegin(); it != history_.rend(); ++it) {
    result.push_back(*it);
  }
  const size_t live = static_cast<size_t>(live_locked());
  if (result.size() > live + settings_.history_size) {
    result.resize(live + settings_.history_size);
  }
  return result;
}

std::optional<AgentInfo> AgentManager::find_agent(const std::string& id) const {
  std::lock_guard lock(mutex_);
  for (const auto& agent : agents_) {
    if (agent->info.id == id) {
      return agent->info;
    }
  }
  for (const AgentInfo& info : history_) {
    if (info.id == id) {
      return info;
    }
  }
  return std::nullopt;
}

ManagerStats AgentManager::stats() const {
  std::lock_guard lock(mutex_);
  return stats_locked();
}

ManagerStats AgentManager::stats_locked() const {
  ManagerStats stats = stats_;
  if (stats_.terminated > 0) {
    stats.average_lifetime_seconds =
        lifetime_total_seconds_ / static_cast<double>(stats_.terminated);
  }
  stats.callback_errors = events_.callback_errors();
  return stats;
}

bool AgentManager::running() const {
  std::lock_guard lock(mutex_);
  return !stopping_;
}

nlohmann::json AgentManager::get_detailed_status() const {
  std::lock_guard lock(mutex_);
  const MonoTime now = clock_->now();
  nlohmann::json status;
  status["running"] = !stopping_;
  status["capacity"] = capacity_locked();
  status["pending_creation"] = pending_.size();
  status["limits"] = limits_to_json(settings_.limits);

  nlohmann::json states = nlohmann::json::object();
  for (const auto& [state, count] : count_by_state_locked()) {
    states[std::string(agent_state_name(state))] = count;
  }
  status["states"] = std::move(states);
  nlohmann::json roles = nlohmann::json::object();
  for (const auto& [role, count] : roles_locked()) {
    roles[role] = count;
  }
  status["roles"] = std::move(roles);
  status["stats"] = stats_to_json(stats_locked());

  nlohmann::json records = nlohmann::json::array();
  for (const AgentInfo& info : agents_locked()) {
    records.push_back(agent_to_json(info, now));
  }
  status["agents"] = std::move(records);
  return status;
}

}  // namespace ollamaflow::agents
