// What a run is asked to do and what it reports.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ollamaflow::flow {

// The traces that a run has left in the journal and on disk so far, for a process that has to
// exit before the run ends.
struct RunFootprint {
  // The journal's id of the run; empty until the run is journaled, except for a resume, whose id
  // the request names.
  std::string run_id;
  // Whether the journal has the run as running in this process. A process that exits then
  // leaves it 'interrupted'.
  bool journaled = false;
  // Whether the journal records the run's end, and `status` its journaled status.
  bool finished = false;
  std::string status;
  // Folders that this run created for its workspace, the deepest first.
  std::vector<std::string> created_folders;
};

struct RunRequest {
  std::string goal;
  std::string plan_file;   // run this plan instead of asking the queen
  bool plan_only = false;  // print the plan and stop
  std::string resume_id;   // continue a journaled run
  // Set by `--backend` or `--host`: an unreachable server is then an error instead of a switch
  // to the simulated backend.
  bool backend_chosen = false;
  // A llama-server binary that the run starts with config.server.model as its GGUF file and
  // stops at the end; empty: the run uses a running server.
  std::string start_server;
  // Notes of the command line that the report keeps, such as what a flag changes in this run.
  std::vector<std::string> notes;
  // Called on the calling thread whenever the run's footprint changes; may be empty.
  std::function<void(const RunFootprint&)> on_footprint;
};

struct TaskReport {
  std::string id;
  std::string title;
  std::string role;
  std::string status;  // succeeded, failed, cancelled, pending
  std::string agent;
  std::string model;
  double duration_s = 0;
  int64_t prompt_tokens = 0;
  int64_t output_tokens = 0;
  int attempts = 0;
  std::vector<std::string> files;
  std::string error;
  bool resumed = false;  // finished in an earlier process and not redone
};

struct ScalingEventReport {
  std::string time;
  std::string action;
  int from_count = 0;
  int to_count = 0;
  std::string reason;
  std::string outcome;
};

struct AgentCountSample {
  double t_s = 0;  // seconds since the run started
  int agents = 0;
};

struct RunReport {
  std::string run_id;
  std::string goal;
  std::string status;  // succeeded, failed, cancelled, or planned for a --plan-only run
  int exit_code = 0;
  std::string backend;
  std::string endpoint;
  bool simulated = false;
  std::string model;
  std::string workspace;
  std::string summary;
  std::vector<std::string> notes;  // e.g. why the simulated backend was used
  std::vector<TaskReport> tasks;
  std::vector<std::string> conflicts;
  // When planning failed or was cancelled, one line per attempt that got a reply or an error:
  // "attempt N: plan rejected: ..." or "attempt N: request failed: ...", numbered as
  // max_plan_attempts counts them (see orchestrator::attempt_label).
  std::vector<std::string> plan_errors;
  bool auto_scaling = false;
  std::string strategy;
  std::vector<ScalingEventReport> scaling_events;
  std::vector<AgentCountSample> agent_counts;
  double duration_s = 0;
  // Every token that the run's requests spent, those of failed requests and warm-ups included.
  int64_t prompt_tokens = 0;
  int64_t output_tokens = 0;
  // The part of the tokens above that requests spent which failed: replies that were rejected or
  // cut, server errors, timeouts, cancelled requests and tries that the client retried.
  int64_t failed_prompt_tokens = 0;
  int64_t failed_output_tokens = 0;
  // The part of the tokens above that the agents' warm-up requests spent (one per agent, which
  // loads the model), whether they failed or not. These are not part of the failed tokens.
  int64_t warm_up_prompt_tokens = 0;
  int64_t warm_up_output_tokens = 0;
  nlohmann::json plan;  // the plan that ran, as `--plan` reads it
};

nlohmann::json report_to_json(const RunReport& report);

// Renders the report as text for a terminal.
std::string format_report(const RunReport& report);

// Renders a plan (plan_to_json's format) as text for a terminal.
std::string format_plan(const nlohmann::json& plan);

}  // namespace ollamaflow::flow
