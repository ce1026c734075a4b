#include "agents/manager.h"

#include <algorithm>
#include <system_error>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "agents/agent_record.h"
#include "agents/roles.h"

namespace ollamaflow::agents {
namespace {

Status invalid(std::string message) {
  return Status(ErrorCode::kInvalidArgument, std::move(message));
}

Status check_limits(const AgentManagementSettings& limits) {
  if (limits.min_agents < 0) {
    return invalid(fmt::format("min_agents {} is negative: use 0 or more", limits.min_agents));
  }
  if (limits.max_agents < 1) {
    return invalid(fmt::format("max_agents {} is below 1: use 1 or more", limits.max_agents));
  }
  if (limits.min_agents > limits.max_agents) {
    return invalid(
        fmt::format("min_agents {} is above max_agents {}: lower min_agents or raise "
                    "max_agents",
                    limits.min_agents, limits.max_agents));
  }
  if (limits.batch_creation_size < 1) {
    return invalid(fmt::format("batch_creation_size {} is below 1: use 1 or more",
                               limits.batch_creation_size));
  }
  // The comparisons are written so that NaN fails them too.
  if (!(limits.graceful_shutdown_timeout >= 0)) {
    return invalid(fmt::format("graceful_shutdown_timeout {} is invalid: use 0 or more seconds",
                               limits.graceful_shutdown_timeout));
  }
  if (!(limits.agent_timeout_seconds > 0)) {
    return invalid(fmt::format("agent_timeout_seconds {} is invalid: use more than 0 seconds",
                               limits.agent_timeout_seconds));
  }
  if (!(limits.idle_timeout_seconds > 0)) {
    return invalid(fmt::format("idle_timeout_seconds {} is invalid: use more than 0 seconds",
                               limits.idle_timeout_seconds));
  }
  return Status::ok();
}

Status check_settings(const ManagerSettings& settings) {
  Status limits = check_limits(settings.limits);
  if (!limits) {
    return limits.with_context("dynamic_agent_management");
  }
  if (settings.poll_interval <= Duration::zero()) {
    return invalid("agent poll interval must be above zero");
  }
  Status role = check_role(settings.default_role);
  if (!role) {
    return role.with_context("default role");
  }
  for (const auto& [role_name, model] : settings.role_models) {
    Status checked = check_role(role_name);
    if (!checked) {
      return checked.with_context("role_models");
    }
  }
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<AgentManager>> AgentManager::create(
    std::shared_ptr<Clock> clock, ManagerSettings settings, queue::TaskQueue& queue,
    TaskExecutor executor, WarmUp warm_up, std::shared_ptr<AgentObserver> observer) {
  if (!clock) {
    return Status(ErrorCode::kInvalidArgument, "agent manager: clock is null");
  }
  if (!executor) {
    return Status(ErrorCode::kInvalidArgument, "agent manager: task executor is empty");
  }
  Status checked = check_settings(settings);
  if (!checked) {
    return checked.with_context("agent manager");
  }
  return std::unique_ptr<AgentManager>(new AgentManager(std::move(clock), std::move(settings),
                                                        queue, std::move(executor),
                                                        std::move(warm_up), std::move(observer)));
}

AgentManager::AgentManager(std::shared_ptr<Clock> clock, ManagerSettings settings,
                           queue::TaskQueue& queue, TaskExecutor executor, WarmUp warm_up,
                           std::shared_ptr<AgentObserver> observer)
    : clock_(std::move(clock)),
      settings_(std::move(settings)),
      queue_(queue),
      executor_(std::move(executor)),
      warm_up_(std::move(warm_up)),
      events_(std::move(observer)) {}

Result<std::vector<std::string>> AgentManager::start(int count) {
  const auto& limits = settings_.limits;
  if (count < limits.min_agents || count > limits.max_agents) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("initial agent count {} is outside min_agents {} to max_agents {}: "
                              "choose a count in that range or change the limits",
                              count, limits.min_agents, limits.max_agents));
  }
  const std::map<std::string, int> waiting = queue_.roles_waiting();
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mutex_);
    Status running = check_running_locked();
    if (!running) {
      return running;
    }
    if (started_) {
      return Status(ErrorCode::kConflict,
                    "agent manager was already started: use scale_to() to resize the pool");
    }
    started_ = true;
    ids = add_locked(count, {}, waiting, "initial pool");
  }
  agents_log().info("agent pool started: agents={}", ids.size());
  events_.deliver();
  return ids;
}

Result<ScaleResult> AgentManager::scale_to(int target, const std::string& reason) {
  if (target < 0) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("scale target {} is negative: use 0 or more agents", target));
  }
  const std::map<std::string, int> waiting = queue_.roles_waiting();
  ScaleResult result;
  {
    std::lock_guard lock(mutex_);
    Status running = check_running_locked();
    if (!running) {
      return running;
    }
    const auto& limits = settings_.limits;
    result.requested = target;
    result.target = std::clamp(target, limits.min_agents, limits.max_agents);
    result.from = capacity_locked();
    if (result.target > result.from) {
      result.added = add_locked(result.target - result.from, {}, waiting, reason);
    } else if (result.target < result.from) {
      result.removed = remove_locked(result.from - result.target, reason);
    }
    result.to = capacity_locked();
  }
  if (result.from != result.to) {
    agents_log().info("agent pool scaled: from={} to={} target={} requested={} reason=\"{}\"",
                      result.from, result.to, result.target, result.requested, reason);
  }
  events_.deliver();
  return result;
}

Result<std::vector<std::string>> AgentManager::add_agents(int count,
                                                          const std::vector<std::string>& roles,
                                                          const std::string& reason) {
  if (count < 0) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("agent count {} is negative: use 0 or more", count));
  }
  for (const std::string& role : roles) {
    Status checked = check_role(role);
    if (!checked) {
      return checked.with_context("add_agents");
    }
  }
  std::map<std::string, int> waiting;
  if (roles.empty()) {
    waiting = queue_.roles_waiting();
  }
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mutex_);
    Status running = check_running_locked();
    if (!running) {
      return running;
    }
    ids = add_locked(count, roles, waiting, reason);
  }
  events_.deliver();
  return ids;
}

Result<std::vector<std::string>> AgentManager::remove_agents(int count, const std::string& reason) {
  if (count < 0) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("agent count {} is negative: use 0 or more", count));
  }
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mutex_);
    Status running = check_running_locked();
    if (!running) {
      return running;
    }
    ids = remove_locked(count, reason);
  }
  events_.deliver();
  return ids;
}

void AgentManager::add_lifecycle_callback(AgentState state, LifecycleCallback callback) {
  events_.add_lifecycle_callback(state, std::move(callback));
}

std::vector<std::string> AgentManager::add_locked(int count, const std::vector<std::string>& roles,
                                                  const std::map<std::string, int>& waiting_by_role,
                                                  const std::string& reason) {
  std::vector<std::string> ids;
  int remaining = count;
  if (roles.empty()) {
    remaining -= revoke_removals_locked(remaining, ids);
  }
  const int room = std::max(0, settings_.limits.max_agents - live_locked());
  const int creating = std::min(remaining, room);
  if (creating < remaining) {
    agents_log().info("agent creation limited by max_agents: requested={} created={} max={}",
                      remaining, creating, settings_.limits.max_agents);
  }

  std::vector<std::string> new_roles;
  if (roles.empty()) {
    new_roles = choose_roles(waiting_by_role, roles_locked(), creating, settings_.default_role);
  } else {
    for (int i = 0; i < creating; ++i) {
      new_roles.push_back(roles[static_cast<size_t>(i) % roles.size()]);
    }
  }

  const MonoTime now = clock_->now();
  for (const std::string& role : new_roles) {
    auto agent = std::make_unique<Agent>();
    agent->sequence = next_sequence_++;
    agent->info.id = make_agent_id(agent->sequence);
    agent->info.role = role;
    agent->info.model = model_for(role);
    agent->info.creation_reason = reason;
    agent->info.created_at = now;
    agent->info.created_wall = clock_->wall_now();
    agent->info.idle_since = now;
    ++stats_.created;
    agents_log().info("agent created: agent={} preferred_role={} model={} reason=\"{}\"",
                      agent->info.id, role, agent->info.model, reason);
    post_state_event_locked(*agent, AgentState::kCreating);
    ids.push_back(agent->info.id);
    pending_.push_back(agent.get());
    agents_.push_back(std::move(agent));
  }
  start_next_batch_locked();
  return ids;
}

int AgentManager::revoke_removals_locked(int count, std::vector<std::string>& ids) {
  std::vector<Agent*> draining;
  for (const auto& agent : agents_) {
    if (agent->info.state == AgentState::kDraining) {
      draining.push_back(agent.get());
    }
  }
  // An agent whose task was already cancelled loses that work anyway, so revoke the others first,
  // latest drained first.
  std::stable_sort(draining.begin(), draining.end(), [](const Agent* a, const Agent* b) {
    return std::make_tuple(a->cancel_sent, b->drain_started) <
           std::make_tuple(b->cancel_sent, a->drain_started);
  });
  int revoked = 0;
  for (Agent* agent : draining) {
    if (revoked >= count) {
      break;
    }
    agent->info.termination_reason.clear();
    set_state_locked(*agent, agent->warming ? AgentState::kInitializing : AgentState::kBusy);
    agents_log().info("agent removal revoked: agent={}", agent->info.id);
    ids.push_back(agent->info.id);
    ++revoked;
  }
  return revoked;
}

std::vector<std::string> AgentManager::remove_locked(int count, const std::string& reason) {
  const int removable = std::max(0, capacity_locked() - settings_.limits.min_agents);
  const int removing = std::min(count, removable);
  if (removing < count) {
    agents_log().info("agent removal limited by min_agents: requested={} removed={} min={}", count,
                      removing, settings_.limits.min_agents);
  }
  std::vector<std::string> ids;
  const std::vector<Agent*> order = removal_order_locked();
  for (int i = 0; i < removing && i < static_cast<int>(order.size()); ++i) {
    remove_agent_locked(*order[static_cast<size_t>(i)], reason);
    ids.push_back(order[static_cast<size_t>(i)]->info.id);
  }
  start_next_batch_locked();
  return ids;
}

std::vector<AgentManager::Agent*> AgentManager::removal_order_locked() {
  // Sort key: group, then a time within the group, then the sequence as the tie-break.
  using Key = std::tuple<int, MonoTime::rep, int64_t>;
  std::vector<std::pair<Key, Agent*>> keyed;
  for (const auto& agent : agents_) {
    const AgentInfo& info = agent->info;
    switch (info.state) {
      case AgentState::kCreating:
        keyed.push_back({Key{0, 0, -agent->sequence}, agent.get()});
        break;
      case AgentState::kActive:
      case AgentState::kIdle:
        keyed.push_back(
            {Key{1, info.idle_since.time_since_epoch().count(), agent->sequence}, agent.get()});
        break;
      case AgentState::kInitializing:
        keyed.push_back({Key{2, 0, -agent->sequence}, agent.get()});
        break;
      case AgentState::kBusy:
        keyed.push_back(
            {Key{3, agent->task_started.time_since_epoch().count(), agent->sequence}, agent.get()});
        break;
      default:
        break;
    }
  }
  std::sort(keyed.begin(), keyed.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Agent*> order;
  order.reserve(keyed.size());
  for (const auto& [key, agent] : keyed) {
    order.push_back(agent);
  }
  return order;
}

void AgentManager::remove_agent_locked(Agent& agent, const std::string& reason) {
  agent.info.termination_reason = reason;
  const AgentState state = agent.info.state;
  if (state == AgentState::kCreating) {
    pending_.erase(std::find(pending_.begin(), pending_.end(), &agent));
    set_state_locked(agent, AgentState::kTerminated);
  } else if (is_ready(state)) {
    set_state_locked(agent, AgentState::kTerminated);
  } else {
    agent.drain_started = clock_->now();
    set_state_locked(agent, AgentState::kDraining);
  }
  agents_log().info("agent removed: agent={} was={} now={} reason=\"{}\"", agent.info.id,
                    agent_state_name(state), agent_state_name(agent.info.state), reason);
}

void AgentManager::start_next_batch_locked() {
  if (stopping_) {
    return;
  }
  // Loops only when a whole batch failed to start, or when the model is resident, so that the
  // next batch gets its turn.
  while (!pending_.empty()) {
    const bool batch_running = std::any_of(agents_.begin(), agents_.end(), [](const auto& agent) {
      return agent->info.state == AgentState::kInitializing;
    });
    if (batch_running && !model_resident_locked(pending_.front()->info.model)) {
      return;
    }
    const int size = settings_.limits.batch_creation_size;
    for (int i = 0; i < size && !pending_.empty(); ++i) {
      Agent* agent = pending_.front();
      pending_.pop_front();
      launch_locked(*agent);
    }
  }
}

bool AgentManager::model_resident_locked(const std::string& model) const {
  return std::any_of(agents_.begin(), agents_.end(), [&](const auto& agent) {
    return agent->info.model == model &&
           (is_ready(agent->info.state) || agent->info.state == AgentState::kBusy);
  });
}

void AgentManager::launch_locked(Agent& agent) {
  try {
    agent.thread = std::thread(&AgentManager::run_agent, this, &agent);
  } catch (const std::system_error& error) {
    agent.info.error = std::string("worker thread did not start: ") + error.what();
    count_creation_failure_locked(agent.info.error);
    agents_log().error("agent failed to start: agent={} error=\"{}\"", agent.info.id,
                       agent.info.error);
    set_state_locked(agent, AgentState::kError);
    return;
  }
  agent.warming = true;
  agent.warm_up_started = clock_->now();
  set_state_locked(agent, AgentState::kInitializing);
}

Status AgentManager::check_running_locked() const {
  if (stopping_) {
    return Status(ErrorCode::kCancelled,
                  "agent manager is stopped: create a new manager to run agents again");
  }
  return Status::ok();
}

}  // namespace ollamaflow::agents
