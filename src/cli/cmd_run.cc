#include <csignal>
#include <cstdio>
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/signals.h"
#include "core/json_text.h"
#include "flow/flow.h"
#include "flow/run_types.h"

namespace ollamaflow::cli {

void set_run_exit_notice(const flow::RunFootprint& footprint) {
  const std::string prefix = "ollama-flow: a second signal ended the process at once";
  const std::string id = footprint.run_id;
  std::string line;
  if (id.empty()) {
    line = prefix + ", before the run was journaled, so there is nothing to resume";
  } else if (footprint.finished) {
    line = fmt::format(
        "{}, so the report of run '{}' ({}) was not printed: `ollama-flow runs show {}` prints "
        "it, and `ollama-flow run --resume {}` continues the run",
        prefix, id, footprint.status, id, id);
  } else if (footprint.journaled) {
    line = fmt::format(
        "{}: run '{}' has no report and its end is not journaled, so `ollama-flow runs` shows it "
        "as interrupted; `ollama-flow run --resume {}` continues it",
        prefix, id, id);
  } else {
    line = fmt::format(
        "{}, before run '{}' was resumed, so the journal keeps it as it was; `ollama-flow run "
        "--resume {}` continues it",
        prefix, id, id);
  }
  set_immediate_exit_notice(line, footprint.created_folders);
}

int cmd_run(const Config& config, const RunOptions& options) {
  flow::RunRequest request;
  request.goal = options.goal;
  request.plan_file = options.plan_file;
  request.plan_only = options.plan_only;
  request.resume_id = options.resume_id;
  request.backend_chosen = options.backend_chosen;
  request.start_server = options.start_server;
  request.notes = options.notes;
  request.on_footprint = set_run_exit_notice;

  CancelTokenPtr cancel = install_interrupt_handler();
  Result<flow::RunReport> report = flow::run_goal(config, request, cancel, system_clock());
  if (!report) {
    print_error(report.status().message());
    // Invalid input (a plan file, a path, a value) is the user's to fix, like a bad flag.
    switch (report.status().code()) {
      case ErrorCode::kCancelled:
        return 130;
      case ErrorCode::kInvalidArgument:
        return 2;
      default:
        return 1;
    }
  }
  // A plan-only run whose planning failed or was cancelled has no plan, and its report explains
  // why.
  if (options.plan_only && report->plan.is_object()) {
    // The JSON is the plan itself, ready for --plan, so the run id goes to stderr there.
    const std::string saved = fmt::format(
        "run '{}' journaled this plan: `ollama-flow runs show {} --plan` prints it again",
        report->run_id, report->run_id);
    if (options.json) {
      std::cout << to_text(report->plan, 2) << "\n";
      std::cerr << saved << "\n";
    } else {
      std::cout << flow::format_plan(report->plan) << "\n" << saved << "\n";
    }
    return report->exit_code;
  }
  if (options.json) {
    std::cout << to_text(flow::report_to_json(*report), 2) << "\n";
  } else {
    std::cout << flow::format_report(*report);
  }
  std::cout.flush();
  // With SIGPIPE ignored, a closed pipe or terminal only fails the write. The run is journaled
  // already, so its exit code stays the run's own.
  if (!std::cout) {
    print_error(
        fmt::format("cannot write the report of run '{}' to standard output, which is "
                    "closed: `ollama-flow runs show {} --json` prints it",
                    report->run_id, report->run_id));
  }
  return report->exit_code;
}

}  // namespace ollamaflow::cli
