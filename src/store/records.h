// Rows of the run journal, one struct per table. Times are ISO-8601 UTC text with milliseconds
// ("2026-12-04T15:51:07.123Z"); an empty time means "not recorded". JSON fields are null when
// not recorded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace ollamaflow::store {

// Lifecycle of a run:
//
//   running --+--> succeeded
//             +--> failed
//             +--> cancelled
//             +--> interrupted   (stored by a caller, or shown for a run whose process is gone)
//             +--> planned       (a --plan-only run: its plan was accepted and no task ran)
//
// A finished run goes back to running when it is resumed (Journal::reopen_run). `run --resume`
// rejects a planned run before that, because it has no workspace.
//
// kUnknown is never stored. It marks a row whose status text this version does not know, such
// as a row written by another program, and RunRecord::stored_status keeps that text.
enum class RunStatus {
  kRunning,
  kSucceeded,
  kFailed,
  kCancelled,
  kInterrupted,
  kPlanned,
  kUnknown
};

// Returns the lower-case name stored in the journal, e.g. "succeeded", and "unknown" for
// kUnknown.
std::string_view run_status_name(RunStatus status);
// Parses a name returned by run_status_name. Returns nullopt for any other text, "unknown"
// included.
std::optional<RunStatus> parse_run_status(std::string_view name);

// Task status texts that the journal itself interprets. Other texts (e.g. "pending", "ready")
// are stored as given.
inline constexpr std::string_view kTaskRunning = "running";
inline constexpr std::string_view kTaskSucceeded = "succeeded";
inline constexpr std::string_view kTaskFailed = "failed";
inline constexpr std::string_view kTaskCancelled = "cancelled";

// Returns true for succeeded, failed and cancelled.
bool is_terminal_task_status(std::string_view status);

struct RunRecord {
  std::string id;  // e.g. "r-20261204-155107-ab12"
  std::string goal;
  RunStatus status = RunStatus::kRunning;
  std::string stored_status;  // the journal's status text when status is kUnknown, else empty
  std::string backend;
  std::string model;
  std::string strategy;
  std::string workspace;
  nlohmann::json config;  // the effective configuration
  std::string started_at;
  std::string finished_at;
  std::optional<int> exit_code;
  nlohmann::json report;
  int64_t pid = 0;   // process that runs or last ran it
  std::string host;  // host name of that process
  // Columns that could not be read, as (column, reason). Such a column is null above, so that
  // one damaged row does not hide the rest of the run or the other runs.
  std::vector<std::pair<std::string, std::string>> unreadable;
};

// Returns the run's status for messages: its name, or for kUnknown "unknown" and the stored
// text in quotes, such as `unknown ("paused")`. The stored text is not escaped.
std::string describe_run_status(const RunRecord& run);

// One plan attempt of the queen, accepted or not.
struct PlanRecord {
  std::string run_id;
  int attempt = 0;  // 1, 2, ... per run
  nlohmann::json plan;
  bool accepted = false;
  nlohmann::json errors;  // validation errors of a rejected plan
  std::string raw_reply;  // the model's reply text as received
  std::string created_at;
};

struct TaskRecord {
  std::string run_id;
  std::string task_id;  // the id from the plan, unique within the run
  std::string title;
  std::string role;
  std::string status;  // see kTaskRunning and the other constants above
  std::string agent_id;
  std::string model;
  std::string started_at;
  std::string finished_at;
  std::optional<double> duration_s;
  int64_t prompt_tokens = 0;
  int64_t output_tokens = 0;
  // The part of the tokens above that failed requests spent (orchestrator::failed_usage).
  int64_t failed_prompt_tokens = 0;
  int64_t failed_output_tokens = 0;
  std::vector<std::string> files;  // workspace paths the task wrote
  std::string summary;
  std::string error;
};

// One try of one task by one agent.
struct AttemptRecord {
  std::string run_id;
  std::string task_id;
  int attempt = 0;  // 1, 2, ... per task
  std::string agent_id;
  std::string started_at;
  std::string finished_at;  // empty while the attempt runs
  std::string outcome;      // "ok", or an error code name such as "truncated"
  std::string error;
  int64_t prompt_tokens = 0;
  int64_t output_tokens = 0;
};

// Something that happened in a run: agent created, task queued, and so on.
struct EventRecord {
  int64_t id = 0;      // assigned by the journal, increasing
  std::string run_id;  // empty for events outside any run (e.g. `serve`)
  std::string time;
  std::string kind;  // e.g. "agent_created", "task_queued"
  nlohmann::json detail;
};

// A scaling decision that changed the agent count, with its outcome.
struct ScalingEventRecord {
  int64_t id = 0;      // assigned by the journal, increasing
  std::string run_id;  // empty for events outside any run
  std::string time;
  std::string action;  // e.g. "scale_up", "scale_down"
  int from_count = 0;
  int to_count = 0;
  std::string strategy;
  std::string reason;
  // GPU readings at decision time; unset when the probe could not read them.
  std::optional<double> gpu_memory_used_mib;
  std::optional<double> gpu_memory_free_mib;
  std::optional<double> gpu_utilization_percent;
  int queue_length = 0;
  std::string outcome;  // e.g. "applied", "failed"
  std::optional<double> duration_s;
  nlohmann::json decision;  // the full decision: inputs, proposals, limit, action, reason
};

}  // namespace ollamaflow::store
