#include "agents/collector_feed.h"

namespace ollamaflow::agents {

void record_agent_state(workload::MetricsCollector& collector, const AgentInfo& agent,
                        AgentState from) {
  switch (agent.state) {
    case AgentState::kCreating:
      collector.agent_registered(agent.id, /*ready=*/false);
      break;
    case AgentState::kActive:
      if (from == AgentState::kInitializing || from == AgentState::kCreating) {
        collector.agent_ready(agent.id);
      }
      break;
    case AgentState::kTerminated:
    case AgentState::kError:
      collector.agent_unregistered(agent.id);
      break;
    default:
      break;
  }
}

void record_task_outcome(workload::MetricsCollector& collector, const std::string& task_id, bool ok,
                         ErrorCode code) {
  if (ok) {
    collector.task_completed(task_id);
  } else if (code == ErrorCode::kCancelled) {
    collector.task_cancelled(task_id);
  } else {
    collector.task_failed(task_id);
  }
}

}  // namespace ollamaflow::agents
