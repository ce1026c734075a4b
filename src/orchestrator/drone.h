// The work of one agent (a drone) on one task: the reply schema, the messages it sends, the
// request loop, and writing the accepted files into the workspace.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cancel.h"
#include "core/status.h"
#include "llm/client.h"
#include "orchestrator/plan.h"
#include "orchestrator/structured_chat.h"
#include "orchestrator/workspace.h"

namespace ollamaflow::orchestrator {

// One file in an agent's reply, or one file of a dependency shown to the next agent.
struct TaskFile {
  std::string path;
  std::string content;
};

// What an agent learns about a task it depends on.
struct DependencyResult {
  std::string task_id;
  std::string title;
  std::string role;
  std::string summary;
  std::vector<TaskFile> files;  // contents are cut to the message budget when sent
};

// Default number of characters of dependency file content in one agent's prompt, about 6,000
// tokens at 4 characters per token.
inline constexpr size_t kDefaultDependencyBudget = 24000;

// Returns the schema of the agent's reply: {"files": [{"path", "content"}], "summary"}, where
// path is an enum of exactly the task's declared files and the list has exactly as many items
// as the task declares (no items when it declares none). Every field is required and no other
// field is allowed.
nlohmann::json agent_reply_schema(const PlanTask& task);

// Returns the system and user messages for `task`: the role prompt with the reply rules, then
// the goal, the task, its declared files and the results of its dependencies. Dependency file
// contents share `dependency_budget` characters; a file over its share is cut and marked.
std::vector<llm::ChatMessage> build_task_messages(
    const std::string& role_prompt, const std::string& goal, const PlanTask& task,
    const std::vector<DependencyResult>& dependencies,
    size_t dependency_budget = kDefaultDependencyBudget);

struct DroneRequest {
  std::string goal;
  std::string role_prompt;
  std::string model;
  llm::ChatOptions options;
  PlanTask task;
  std::vector<DependencyResult> dependencies;
  int max_attempts = 3;  // RunSettings::max_task_attempts
  size_t dependency_budget = kDefaultDependencyBudget;
  bool lenient_json = false;
  // Stamps each attempt's start and finish when set. It must outlive the call.
  const Clock* clock = nullptr;
  // StructuredRequest::warning_limits: shared by the tasks of one run. Null logs every warning.
  ReplyWarningLimits* warning_limits = nullptr;
};

struct DroneOutcome {
  // Ok when `files` and `summary` hold an accepted reply. Otherwise kCancelled, the client's
  // error for a failed request (kServerBusy and kServerError come after the client's own
  // retries and are not the agent's fault), or the last rejected reply's code (kTruncated,
  // kParseError, kSchemaViolation) with every attempt's problems.
  Status status;
  std::vector<TaskFile> files;  // in the order the task declares them
  std::string summary;
  llm::ChatUsage usage;  // summed over the attempts
  std::vector<Attempt> attempts;
  std::string model;
  bool simulated = false;
};

// Runs `request.task` with schema name "agent_reply" and the loop of run_structured_chat. A
// truncated reply is retried with a larger num_predict, and nothing of it is kept. An invalid
// reply, or one that misses a declared file or lists one twice, goes back to the model with the
// errors. This function writes nothing: the caller writes an accepted outcome with
// write_task_files. A failed task is logged at debug level only, because the agent that ran it
// logs the warning, with its id.
// Thread-safe as far as `client` is.
DroneOutcome execute_task(llm::LlmClient& client, const DroneRequest& request,
                          const CancelToken& cancel);

// Writes an accepted reply's files for `task` into the workspace, stopping at the first
// failure. Returns kInvalidArgument for a file the task does not declare, or the workspace's
// error (kConflict, kInvalidArgument, kIoError). Files written before a failure stay, and each
// of them is complete. On success the files are on disk (Workspace::sync) before it returns.
Result<std::vector<WrittenFile>> write_task_files(Workspace& workspace, const PlanTask& task,
                                                  const std::vector<TaskFile>& files);

// Builds a DependencyResult for a finished task, reading its declared files from the workspace
// (up to `max_bytes_per_file` each). A file that cannot be read gets a one-line note naming the
// error as its content, so the next agent does not take it for an empty file.
DependencyResult collect_dependency(const PlanTask& task, const std::string& summary,
                                    const Workspace& workspace, size_t max_bytes_per_file);

}  // namespace ollamaflow::orchestrator
