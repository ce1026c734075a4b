#include "store/records.h"

namespace ollamaflow::store {

std::string_view run_status_name(RunStatus status) {
  switch (status) {
    case RunStatus::kRunning:
      return "running";
    case RunStatus::kSucceeded:
      return "succeeded";
    case RunStatus::kFailed:
      return "failed";
    case RunStatus::kCancelled:
      return "cancelled";
    case RunStatus::kInterrupted:
      return "interrupted";
    case RunStatus::kPlanned:
      return "planned";
    case RunStatus::kUnknown:
      return "unknown";
  }
  return "unknown";
}

std::optional<RunStatus> parse_run_status(std::string_view name) {
  for (const RunStatus status :
       {RunStatus::kRunning, RunStatus::kSucceeded, RunStatus::kFailed, RunStatus::kCancelled,
        RunStatus::kInterrupted, RunStatus::kPlanned}) {
    if (run_status_name(status) == name) {
      return status;
    }
  }
  return std::nullopt;
}

std::string describe_run_status(const RunRecord& run) {
  if (run.status == RunStatus::kUnknown) {
    return "unknown (\"" + run.stored_status + "\")";
  }
  return std::string(run_status_name(run.status));
}

bool is_terminal_task_status(std::string_view status) {
  return status == kTaskSucceeded || status == kTaskFailed || status == kTaskCancelled;
}

}  // namespace ollamaflow::store
