// Maintenance of the pool: timeouts, idle reaping, joining ended threads, and stop().
#include <algorithm>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "agents/agent_record.h"
#include "agents/manager.h"

namespace ollamaflow::agents {

std::vector<std::string> AgentManager::reap_idle() {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      ids = reap_idle_locked(clock_->now());
    }
  }
  events_.deliver();
  return ids;
}

void AgentManager::tick() {
  std::vector<std::thread> ended;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) {
      return;
    }
    const MonoTime now = clock_->now();
    enforce_timeouts_locked(now);
    if (!stopping_) {
      reap_idle_locked(now);
    }
    start_next_batch_locked();
    ended = collect_ended_locked();
  }
  for (std::thread& thread : ended) {
    thread.join();
  }
  events_.deliver();
}

std::vector<std::string> AgentManager::reap_idle_locked(MonoTime now) {
  const Duration timeout = from_seconds(settings_.limits.idle_timeout_seconds);
  std::vector<Agent*> idle;
  for (const auto& agent : agents_) {
    if (is_ready(agent->info.state) && now - agent->info.idle_since > timeout) {
      idle.push_back(agent.get());
    }
  }
  std::sort(idle.begin(), idle.end(), [](const Agent* a, const Agent* b) {
    return std::make_tuple(a->info.idle_since, a->sequence) <
           std::make_tuple(b->info.idle_since, b->sequence);
  });
  std::vector<std::string> ids;
  int capacity = capacity_locked();
  for (Agent* agent : idle) {
    if (capacity <= settings_.limits.min_agents) {
      break;
    }
    agent->info.termination_reason = fmt::format(
        "idle for {:.0f} s, over idle_timeout_seconds {:g}",
        to_seconds(now - agent->info.idle_since), settings_.limits.idle_timeout_seconds);
    set_state_locked(*agent, AgentState::kTerminated);
    agents_log().info("idle agent reaped: agent={} reason=\"{}\"", agent->info.id,
                      agent->info.termination_reason);
    ids.push_back(agent->info.id);
    --capacity;
  }
  return ids;
}

void AgentManager::enforce_timeouts_locked(MonoTime now) {
  const Duration warm_up_timeout = from_seconds(settings_.limits.agent_timeout_seconds);
  const Duration drain_timeout = from_seconds(settings_.limits.graceful_shutdown_timeout);
  for (const auto& agent : agents_) {
    if (agent->info.state == AgentState::kInitializing &&
        now - agent->warm_up_started >= warm_up_timeout) {
      agent->info.error = fmt::format("warm-up timed out after {:g} s (agent_timeout_seconds)",
                                      settings_.limits.agent_timeout_seconds);
      count_creation_failure_locked(agent->info.error);
      agents_log().warn("agent warm-up timed out: agent={} timeout_s={:g}", agent->info.id,
                        settings_.limits.agent_timeout_seconds);
      set_state_locked(*agent, AgentState::kError);
    } else if (agent->info.state == AgentState::kDraining && agent->cancel && !agent->cancel_sent &&
               now - agent->drain_started >= drain_timeout) {
      agents_log().info(
          "draining agent past graceful_shutdown_timeout, cancelling its task: "
          "agent={} task={} timeout_s={:g}",
          agent->info.id, agent->info.current_task, settings_.limits.graceful_shutdown_timeout);
      cancel_task_locked(*agent, RequeueReason::kDrainTimeout);
    }
  }
}

void AgentManager::cancel_task_locked(Agent& agent, RequeueReason reason) {
  if (!agent.cancel || agent.cancel_sent) {
    return;
  }
  agent.cancel_sent = true;
  agent.cancel_reason = reason;
  agent.cancel->cancel();
}

std::vector<std::thread> AgentManager::collect_ended_locked() {
  std::vector<std::thread> threads;
  auto ended = [](const std::unique_ptr<Agent>& agent) {
    return is_final(agent->info.state) && (agent->thread_done || !agent->thread.joinable());
  };
  for (const auto& agent : agents_) {
    if (ended(agent)) {
      if (agent->thread.joinable()) {
        threads.push_back(std::move(agent->thread));
      }
      record_ended_locked(*agent);
    }
  }
  agents_.erase(std::remove_if(agents_.begin(), agents_.end(), ended), agents_.end());
  return threads;
}

AgentManager::~AgentManager() {
  stop(false);
}

void AgentManager::stop(bool graceful) {
  std::lock_guard stop_lock(stop_mutex_);
  MonoTime deadline;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) {
      return;
    }
    // The deadline is fixed under the same lock that sets agents DRAINING, so a clock step
    // made after an observer saw DRAINING always counts towards it.
    deadline = clock_->now() + from_seconds(settings_.limits.graceful_shutdown_timeout);
    begin_stop_locked(graceful);
  }
  events_.deliver();
  if (graceful) {
    wait_for_drain(deadline);
  }

  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    for (const auto& agent : agents_) {
      if (agent->thread.joinable()) {
        threads.push_back(std::move(agent->thread));
      }
    }
  }
  for (std::thread& thread : threads) {
    thread.join();
  }

  {
    std::lock_guard lock(mutex_);
    for (const auto& agent : agents_) {
      record_ended_locked(*agent);
    }
    agents_.clear();
    stopped_ = true;
  }
  events_.deliver_all();
  failure_log_.flush();
  lost_log_.flush();
  agents_log().info("agent manager stopped: graceful={}", graceful);
}

void AgentManager::begin_stop_locked(bool graceful) {
  stopping_ = true;
  pending_.clear();
  int draining = 0;
  for (const auto& agent : agents_) {
    const AgentState state = agent->info.state;
    if (state == AgentState::kCreating || is_ready(state)) {
      agent->info.termination_reason = "shutdown";
      set_state_locked(*agent, AgentState::kTerminated);
    } else if (state == AgentState::kInitializing || state == AgentState::kBusy) {
      agent->info.termination_reason = "shutdown";
      agent->drain_started = clock_->now();
      set_state_locked(*agent, AgentState::kDraining);
    }
    if (agent->info.state == AgentState::kDraining) {
      ++draining;
      if (!graceful) {
        cancel_task_locked(*agent, RequeueReason::kShutdown);
      }
    }
  }
  agents_log().info("agent manager stopping: graceful={} draining={}", graceful, draining);
}

void AgentManager::wait_for_drain(MonoTime deadline) {
  std::unique_lock lock(mutex_);
  auto task_running = [&] {
    return std::any_of(agents_.begin(), agents_.end(), [](const auto& agent) {
      return agent->cancel != nullptr && !agent->cancel_sent;
    });
  };
  while (task_running()) {
    if (clock_->now() >= deadline) {
      agents_log().info(
          "graceful stop past graceful_shutdown_timeout, cancelling tasks: "
          "timeout_s={:g}",
          settings_.limits.graceful_shutdown_timeout);
      for (const auto& agent : agents_) {
        cancel_task_locked(*agent, RequeueReason::kDrainTimeout);
      }
      return;
    }
    // The deadline is on the injected clock, which no condition variable can wait for, so this
    // wakes every poll interval to read it again. Finished tasks notify wake_ at once.
    wake_.wait_for(lock, settings_.poll_interval);
  }
}

}  // namespace ollamaflow::agents
