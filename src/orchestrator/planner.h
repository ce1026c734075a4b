// The queen: turns a goal into a validated plan, and writes the run's final summary.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/cancel.h"
#include "core/status.h"
#include "llm/client.h"
#include "orchestrator/plan.h"
#include "orchestrator/roles.h"
#include "orchestrator/structured_chat.h"

namespace ollamaflow::orchestrator {

struct PlannerOptions {
  std::string model;
  llm::ChatOptions chat;
  int max_attempts = 3;  // replies that may be rejected; RunSettings::max_plan_attempts
  RoleSet roles = RoleSet::builtin();
  PlanLimits limits;
  bool lenient_json = false;
  // StructuredRequest::warning_limits: shared by the requests of one run. Null logs every
  // warning.
  ReplyWarningLimits* warning_limits = nullptr;
};

// The result of make_plan, with every attempt also when planning failed, so that the caller
// can journal what the model returned and which errors were sent back.
struct PlanOutcome {
  Status status;  // ok exactly when `plan` is set
  std::optional<Plan> plan;
  std::vector<Attempt> attempts;
  llm::ChatUsage usage;  // summed over the attempts
  std::string model;
  bool simulated = false;
};

// Asks the model for a plan for `goal` under plan_schema (schema name "plan"), checks each reply
// against the schema and validate_plan, and sends a rejected reply back with its errors ("Your
// plan was rejected: ...; return a corrected plan") up to options.max_attempts times. There is
// never a fallback plan. The accepted plan's goal is `goal` as given.
//
// Errors in PlanOutcome::status:
// - kInvalidArgument "the model returned no valid plan after N attempts", with each attempt's
//   errors, when every reply was rejected.
// - kCancelled when `cancel` was set.
// - The client's error (kUnavailable, kNotFound, kServerBusy, ...) for a request that failed.
// Thread-safe as far as `client` is.
PlanOutcome make_plan(const std::string& goal, llm::LlmClient& client,
                      const PlannerOptions& options, const CancelToken& cancel);

// The facts about one finished task that the summary request sends to the queen.
struct TaskReport {
  std::string id;
  std::string title;
  std::string role;
  std::string status;   // "succeeded", "failed", "cancelled", ...
  std::string summary;  // the agent's own summary, when it succeeded
  std::vector<std::string> files;
  std::string error;  // why it failed or was cancelled
};

struct SummaryOptions {
  std::string model;
  llm::ChatOptions chat;
  // With a schema the reply is {"summary": string}; without one it is free text.
  bool structured = true;
  int max_attempts = 2;
  size_t max_chars_per_task = 2000;  // longer agent summaries are cut in the prompt
  // StructuredRequest::warning_limits: shared by the requests of one run. Null logs every
  // warning.
  ReplyWarningLimits* warning_limits = nullptr;
};

struct SummaryOutcome {
  Status status;  // ok when `summary` contains the queen's summary
  std::string summary;
  std::vector<Attempt> attempts;
  llm::ChatUsage usage;
  std::string model;
  bool simulated = false;
};

// Returns the JSON schema of the structured summary reply.
nlohmann::json summary_schema();

// Asks the queen for the run's final summary from the task reports (schema name "summary").
// Errors as for make_plan, with the last attempt's code when every reply was rejected.
SummaryOutcome summarize(const std::string& goal, const std::vector<TaskReport>& reports,
                         llm::LlmClient& client, const SummaryOptions& options,
                         const CancelToken& cancel);

}  // namespace ollamaflow::orchestrator
