// The agent pool's events as the workload collector counts them, shared by every observer that
// feeds a collector (a real run and the simulator).
#pragma once

#include "agents/agent_info.h"
#include "core/status.h"
#include "workload/collector.h"

namespace ollamaflow::agents {

// Registers, readies or unregisters the agent in `collector` for a change from `from` to
// agent.state. Other changes leave the collector as it is.
void record_agent_state(workload::MetricsCollector& collector, const AgentInfo& agent,
                        AgentState from);

// Counts a finished task as completed, cancelled or failed by its outcome.
void record_task_outcome(workload::MetricsCollector& collector, const std::string& task_id, bool ok,
                         ErrorCode code);

}  // namespace ollamaflow::agents
