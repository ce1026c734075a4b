// Execution of a validated plan: the task graph feeds ready tasks to the queue, the agent pool
// (fixed, or scaled by the engine) runs them, and files land in the workspace.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cancel.h"
#include "core/clock.h"
#include "core/config.h"
#include "flow/flow.h"
#include "flow/run_types.h"
#include "flow/scaling_loop.h"
#include "llm/client.h"
#include "orchestrator/planner.h"
#include "orchestrator/roles.h"
#include "orchestrator/workspace.h"
#include "store/journal.h"

namespace ollamaflow::flow {

struct ExecutionSetup {
  Config config;  // max_agents resolved when auto-scaling
  std::shared_ptr<Clock> clock;
  store::Journal* journal = nullptr;  // may be null
  std::string run_id;
  llm::LlmClient* client = nullptr;
  orchestrator::Workspace* workspace = nullptr;
  orchestrator::Plan plan;
  orchestrator::RoleSet roles = orchestrator::RoleSet::builtin();
  std::map<std::string, std::string> role_models;  // role to the model its agents use
  std::string default_model;
  std::vector<store::TaskRecord> earlier;  // tasks that succeeded before a resume
  CancelTokenPtr cancel;
  RunMonitor* monitor = nullptr;  // may be null
  // Called about once a second with the live status document (for `ollama-flow status`).
  std::function<void(const nlohmann::json&)> publish_status;
  ScalingSources scaling_sources;
  // Rate limiters of the per-request warnings, shared with the queen's requests of the same
  // run. It must outlive the execution. Null: the execution limits its agents' warnings itself.
  orchestrator::ReplyWarningLimits* warning_limits = nullptr;
};

struct ExecutionResult {
  std::vector<TaskReport> tasks;                    // in plan order
  std::vector<orchestrator::TaskReport> summaries;  // for the queen's summary
  std::vector<std::string> conflicts;
  std::vector<ScalingEventReport> scaling_events;
  std::vector<AgentCountSample> agent_counts;
  int64_t prompt_tokens = 0;
  int64_t output_tokens = 0;
  int64_t failed_prompt_tokens = 0;  // the part of the tokens that failed requests spent
  int64_t failed_output_tokens = 0;
  // The part of the tokens that the agents' warm-up requests spent, whether they failed or not.
  // It is not part of the failed tokens.
  int64_t warm_up_prompt_tokens = 0;
  int64_t warm_up_output_tokens = 0;
  bool all_succeeded = false;
  bool cancelled = false;
  // The reason the run stopped early because no agent could start; empty otherwise.
  std::string no_agent_reason;
  int tasks_lost = 0;  // tasks the pool could not return to the queue; 0 unless a bug
};

// Returns the fewest agents that the agent manager keeps in a scaled run: gpu_scaling.min_agents,
// lowered to the memory ceiling of `capacity` when the strategy caps the pool by memory and the
// ceiling is below min_agents. The engine lets memory win that conflict, so the manager must
// allow the pool size that the engine requests. A ceiling of 0 still keeps one agent, as in the
// engine.
int scaled_min_agents(const Config& config, const std::optional<scaling::CapacitySignal>& capacity);

// The error of a task that a cancelled run never started.
inline constexpr std::string_view kCancelledBeforeStart = "run cancelled before the task started";

// Runs every task of setup.plan that has not succeeded before. Returns an error only when the
// run cannot start (invalid settings or plan); failed tasks are part of the result.
Result<ExecutionResult> execute_plan(ExecutionSetup setup);

// Returns the result of a resumed run that was cancelled before its execution began, as
// execute_plan() returns it after a cancel. The tasks of `earlier` are succeeded in an earlier
// process, with their agents, files and tokens. Every other task of `plan` is cancelled with
// kCancelledBeforeStart. Returns an error only for a plan that has no valid task graph.
Result<ExecutionResult> cancelled_before_execution(const orchestrator::Plan& plan,
                                                   const std::vector<store::TaskRecord>& earlier);

}  // namespace ollamaflow::flow
