// run_goal: one run from goal (or plan file, or journaled run) to report.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/count_text.h"
#include "core/file_read.h"
#include "core/folder_check.h"
#include "core/json_depth.h"
#include "core/json_keys.h"
#include "core/log.h"
#include "core/terminal_text.h"
#include "flow/backend.h"
#include "flow/execution.h"
#include "flow/flow.h"
#include "flow/goal_size.h"
#include "flow/journaled_plan.h"
#include "flow/machine.h"
#include "flow/server_launch.h"
#include "flow/status_file.h"
#include "gpu/system.h"
#include "llm/factory.h"
#include "orchestrator/plan.h"
#include "orchestrator/planner.h"
#include "orchestrator/workspace.h"
#include "orchestrator/workspace_lock.h"
#include "store/journal.h"

namespace ollamaflow::flow {
namespace {

using nlohmann::json;

// The state of one run while it runs.
struct RunState {
  Config config;
  RunRequest request;
  CancelTokenPtr cancel;
  std::shared_ptr<Clock> clock;
  RunMonitor* monitor = nullptr;
  std::unique_ptr<store::Journal> journal;
  BackendChoice backend;
  std::map<std::string, std::string> role_models;
  orchestrator::RoleSet roles = orchestrator::RoleSet::builtin();
  store::RunRecord record;
  std::vector<store::TaskRecord> earlier;  // resumed: tasks that succeeded before
  // Resumed: tasks that an agent started before without a journaled success. Their files may
  // be in the workspace already, written by this run.
  std::set<std::string> started_before;
  std::optional<orchestrator::Plan> file_plan;  // read from --plan before the run is created
  // Resumed: the run as journaled and its accepted plan, both checked before the run is
  // reopened.
  std::optional<store::RunRecord> resumed;
  std::optional<orchestrator::Plan> resume_plan;
  std::vector<std::string> goal_notes;  // warnings about the goal and the plan file
  // A new run's folder, from --workspace or named by default_workspace(); empty for a plan-only
  // or a resumed run.
  std::string new_workspace;
  // Held from before the run is journaled until it ends; nullopt for a plan-only run.
  std::optional<orchestrator::WorkspaceLock> workspace_lock;
  RunReport report;
  // The footprint that request.on_footprint was last given.
  RunFootprint footprint;
  // The paths that open_journal() created for a new journal: its files and the missing folders
  // above them, the deepest first. A start that cannot write the journal removes them again.
  std::vector<std::filesystem::path> new_journal_paths;
  MonoTime started{};
  // Rate limiters of the per-request warnings of the queen's and the agents' requests, shared
  // by the whole run. finish() logs the counts that are still open.
  orchestrator::ReplyWarningLimits reply_warnings;
};

orchestrator::PlanLimits plan_limits(const Config& config) {
  orchestrator::PlanLimits limits;
  limits.max_tasks = config.run.max_tasks;
  return limits;
}

// Passes state.footprint to the request's observer.
void publish_footprint(const RunState& state) {
  if (state.request.on_footprint) {
    state.request.on_footprint(state.footprint);
  }
}

// The exit code of a run whose journal cannot be written, as for other input that the user has
// to fix: here with free disk space or another --db.
constexpr int kJournalFailureExitCode = 2;

// Returns a journal failure as kInvalidArgument, so that the command exits with
// kJournalFailureExitCode. A journal that cannot be written (permission, a full disk, an I/O
// error) or is damaged is the user's to fix, like a workspace that cannot be written.
Status as_journal_usage_error(const Status& status) {
  switch (status.code()) {
    case ErrorCode::kPermissionDenied:
    case ErrorCode::kIoError:
    case ErrorCode::kCorrupt:
      return Status(ErrorCode::kInvalidArgument, status.message());
    default:
      return status;
  }
}

// Records in state.new_journal_paths what opening a journal at `path` would create.
void note_new_journal_paths(RunState& state, const std::string& path) {
  std::error_code error;
  if (std::filesystem::symlink_status(path, error).type() !=
      std::filesystem::file_type::not_found) {
    return;
  }
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    state.new_journal_paths.emplace_back(path + suffix);
  }
  // The status files' folder beside the journal, then the journal's missing folders.
  const std::filesystem::path parent = std::filesystem::absolute(path).parent_path();
  if (std::filesystem::symlink_status(parent / "active", error).type() ==
      std::filesystem::file_type::not_found) {
    state.new_journal_paths.push_back(parent / "active");
  }
  for (std::filesystem::path folder = parent; folder != folder.root_path();
       folder = folder.parent_path()) {
    if (std::filesystem::symlink_status(folder, error).type() !=
        std::filesystem::file_type::not_found) {
      break;
    }
    state.new_journal_paths.push_back(folder);
  }
}

// Removes what opening a new journal created, after a start that could not write it. A folder
// goes only when it is empty, so nothing that another process put there is lost.
void remove_new_journal(RunState& state) {
  state.journal.reset();
  for (const std::filesystem::path& path : state.new_journal_paths) {
    std::error_code error;
    std::filesystem::remove(path, error);
  }
  state.new_journal_paths.clear();
}

// Opens the journal into state.journal, unless it is open already.
Status open_journal(RunState& state) {
  if (state.journal) {
    return Status::ok();
  }
  std::string path = state.config.run.db;
  if (path.empty()) {
    Result<std::string> fallback = store::default_journal_path(process_env());
    if (!fallback) {
      return fallback.status().with_context("no journal path: pass --db PATH");
    }
    path = *fallback;
  }
  note_new_journal_paths(state, path);
  store::JournalOptions options;
  options.clock = state.clock;
  Result<std::unique_ptr<store::Journal>> journal = store::Journal::open(path, options);
  if (!journal) {
    remove_new_journal(state);
    return as_journal_usage_error(journal.status());
  }
  state.journal = std::move(journal).value();
  return Status::ok();
}

// Largest plan file. A plan that `--plan-only --json` prints takes a few KiB per task, so this
// fits thousands of tasks.
constexpr uint64_t kMaxPlanFileBytes = 8 * 1024 * 1024;

Result<orchestrator::Plan> read_plan_file(const RunState& state) {
  const std::string& path = state.request.plan_file;
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) {
    return Status(ErrorCode::kInvalidArgument,
                  "plan file '" + path + "' is a folder: pass the plan's JSON file");
  }
  Result<std::string> text = read_file_limited(path, kMaxPlanFileBytes, "plan file '" + path + "'");
  if (!text) {
    // A plan file that is missing or unreadable is the user's to fix, like a bad flag. Ctrl-C
    // while a FIFO waits for its writer cancels the run.
    if (text.status().code() == ErrorCode::kCancelled) {
      return text.status();
    }
    return Status(ErrorCode::kInvalidArgument, text.status().message());
  }
  if (const std::optional<size_t> deep = json_too_deep_offset(*text)) {
    const auto [line, column] = line_and_column(*text, *deep);
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("plan file '{}' nests deeper than {} levels at line {} column {}: "
                              "write it as `ollama-flow run GOAL --plan-only --json` prints it",
                              path, kMaxJsonDepth, line, column));
  }
  json document;
  try {
    document = json::parse(*text);
  } catch (const json::exception& error) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("plan file '{}' is not valid JSON: {}. Fix its syntax, or write it "
                              "as `ollama-flow run GOAL --plan-only --json` prints it",
                              path, describe_json_error(*text, error)));
  }
  if (const std::optional<DuplicateKey> duplicate = find_duplicate_key(*text)) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("plan file '{}' has {}; JSON keeps only the last value, so remove "
                              "the other",
                              path, describe_duplicate_key(*text, *duplicate)));
  }
  // A run report, such as `run --plan-only --json` prints when planning fails, is no plan.
  if (document.is_object() && document.contains("run_id") && document.contains("status")) {
    return Status(ErrorCode::kInvalidArgument,
                  "plan file '" + path +
                      "' holds a run report, not a plan: print a run's accepted plan with "
                      "`ollama-flow runs show ID --plan`");
  }
  Result<orchestrator::Plan> plan = orchestrator::plan_from_json(document);
  if (!plan) {
    return Status(plan.status().code(),
                  fmt::format("plan file '{}': {}: write it as `ollama-flow run GOAL --plan-only "
                              "--json` prints it, with a \"tasks\" list of tasks that each have "
                              "an \"id\", a \"role\" and a \"description\"",
                              path, plan.status().message()));
  }
  std::vector<std::string> errors =
      orchestrator::validate_plan(*plan, state.roles, plan_limits(state.config));
  if (!errors.empty()) {
    std::string message = "plan file '" + path + "' is invalid:";
    for (const std::string& error : errors) {
      message += "\n  " + error;
    }
    return Status(ErrorCode::kInvalidArgument, message);
  }
  if (plan->goal.empty()) {
    plan->goal = state.request.goal;
  }
  return plan;
}

// Returns `text` cut to at most `max_bytes` on a UTF-8 character boundary, with "..." when cut.
std::string shortened(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) {
    return text;
  }
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
    --end;
  }
  return text.substr(0, end) + "...";
}

// Returns ./ollama-flow-YYYYMMDD-HHMMSS-PID, a new folder per run under the current directory.
std::string default_workspace(const Clock& clock) {
  std::string stamp = format_iso8601(clock.wall_now()).substr(0, 19);  // 2026-12-04T15:51:07
  std::string compact;
  for (char c : stamp) {
    if (c != '-' && c != ':') {
      compact += c == 'T' ? '-' : c;
    }
  }
  // Several runs of one process (the interactive loop) may start within one second.
  static std::atomic<int> sequence{0};
  const int n = ++sequence;
  return (std::filesystem::current_path() /
          ("ollama-flow-" + compact + "-" + std::to_string(getpid()) +
           (n > 1 ? "-" + std::to_string(n) : "")))
      .string();
}

// `path` absolute, with the symbolic links of its existing part resolved and without a trailing
// separator: "ws/", "./ws" and a link to ws name one folder.
std::string resolved_folder(const std::string& path) {
  const std::filesystem::path normal = std::filesystem::absolute(path).lexically_normal();
  std::error_code error;
  std::filesystem::path resolved = std::filesystem::weakly_canonical(normal, error);
  if (error) {
    resolved = normal;
  }
  if (!resolved.has_filename() && resolved.has_parent_path() && resolved != resolved.root_path()) {
    resolved = resolved.parent_path();
  }
  return resolved.string();
}

Status start_record(RunState& state, const std::string& goal) {
  if (!state.request.resume_id.empty()) {
    Result<store::RunRecord> reopened = state.journal->reopen_run(state.request.resume_id);
    if (!reopened) {
      return as_journal_usage_error(reopened.status());
    }
    state.record = *reopened;
    state.footprint.journaled = true;
    publish_footprint(state);
    return Status::ok();
  }
  store::RunRecord record;
  record.goal = goal;
  record.backend = state.backend.settings.backend;
  record.model = state.backend.served_model.value_or(state.config.server.model);
  record.strategy = state.config.auto_scaling ? state.config.strategy : "fixed";
  record.config = state.config.to_json();
  // A plan-only run writes no files, so it names no workspace. The path is stored absolute, so
  // that a resume from another folder writes into the same one, and with symbolic links
  // resolved, so that a resume finds that folder even when a link on the way changes.
  if (!state.request.plan_only) {
    record.workspace = resolved_folder(state.new_workspace);
  }
  Result<store::RunRecord> created = state.journal->create_run(std::move(record));
  if (!created) {
    remove_new_journal(state);
    return as_journal_usage_error(created.status());
  }
  state.new_journal_paths.clear();
  state.record = *created;
  state.footprint.run_id = state.record.id;
  state.footprint.journaled = true;
  publish_footprint(state);
  return Status::ok();
}

// Adds the tokens of the queen's requests to the report's totals.
void add_tokens(RunReport& report, const llm::ChatUsage& usage, const llm::ChatUsage& failed) {
  report.prompt_tokens += usage.prompt_tokens;
  report.output_tokens += usage.output_tokens;
  report.failed_prompt_tokens += failed.prompt_tokens;
  report.failed_output_tokens += failed.output_tokens;
}

void journal_plan_attempts(RunState& state, const orchestrator::PlanOutcome& outcome) {
  int number = 1;
  for (const orchestrator::Attempt& attempt : outcome.attempts) {
    store::PlanRecord record;
    record.run_id = state.record.id;
    record.attempt = number++;
    record.raw_reply = attempt.reply;
    record.accepted = attempt.code == ErrorCode::kOk;
    record.errors = attempt.errors;
    if (record.accepted && outcome.plan) {
      record.plan = orchestrator::plan_to_json(*outcome.plan);
    } else {
      record.plan = json::parse(attempt.reply, nullptr, false);
      if (record.plan.is_discarded()) {
        record.plan = nullptr;
      }
    }
    Status stored = state.journal->add_plan(std::move(record));
    if (!stored) {
      get_logger("flow")->warn("run={} plan attempt not journaled: {}", state.record.id,
                               stored.message());
    }
  }
}

// Asks the queen for a plan. Fills the report's plan errors when planning fails.
Result<orchestrator::Plan> make_plan(RunState& state, const std::string& goal) {
  orchestrator::PlannerOptions options;
  options.model = state.role_models["queen"];
  options.chat = chat_options(state.backend.settings);
  options.max_attempts = state.config.run.max_plan_attempts;
  options.roles = state.roles;
  options.limits = plan_limits(state.config);
  options.warning_limits = &state.reply_warnings;
  orchestrator::PlanOutcome outcome =
      orchestrator::make_plan(goal, *state.backend.client, options, *state.cancel);
  journal_plan_attempts(state, outcome);
  add_tokens(state.report, outcome.usage, orchestrator::failed_usage(outcome.attempts));
  if (!outcome.status) {
    for (size_t i = 0; i < outcome.attempts.size(); ++i) {
      const orchestrator::Attempt& attempt = outcome.attempts[i];
      // A cancelled request ended without a reply or a server error, so it has nothing to list.
      if (attempt.code == ErrorCode::kCancelled) {
        continue;
      }
      // A reply that failed the plan checks has its problems in `errors`. A request that failed
      // on the server or the connection returned no reply to check.
      const std::string kind = attempt.errors.empty() ? "request failed: " : "plan rejected: ";
      std::string line = orchestrator::attempt_label(outcome.attempts, i) + ": " + kind +
                         (attempt.error.empty() ? "no reason given" : attempt.error);
      state.report.plan_errors.push_back(line);
    }
    return outcome.status;
  }
  return *outcome.plan;
}

// Drops from state.earlier each finished task with a file that is no longer in the workspace,
// so that the resumed run does it again, and notes each dropped task in the report.
void keep_tasks_with_files(RunState& state) {
  const std::filesystem::path root = state.record.workspace;
  std::vector<store::TaskRecord> tasks_with_files;
  for (store::TaskRecord& task : state.earlier) {
    std::string missing;
    for (const std::string& file : task.files) {
      std::error_code error;
      if (!std::filesystem::exists(std::filesystem::symlink_status(root / file, error))) {
        missing = file;
        break;
      }
    }
    if (missing.empty()) {
      tasks_with_files.push_back(std::move(task));
      continue;
    }
    state.report.notes.push_back("task " + task.task_id + " finished before but its file " +
                                 missing + " is no longer in the workspace, so it runs again");
    // Its other files were written by this run: replacing them is not a conflict.
    state.started_before.insert(task.task_id);
  }
  state.earlier = std::move(tasks_with_files);
}

// Reads, for a resumed run, the tasks that succeeded before into state.earlier and the tasks that
// an agent started without a journaled success into state.started_before.
void read_earlier_tasks(RunState& state) {
  Result<std::vector<store::TaskRecord>> earlier = state.journal->succeeded_tasks(state.record.id);
  if (earlier) {
    state.earlier = *earlier;
  }
  keep_tasks_with_files(state);
  if (Result<std::vector<store::TaskRecord>> tasks =
          state.journal->tasks_for_run(state.record.id)) {
    for (const store::TaskRecord& task : *tasks) {
      if (task.status != store::kTaskSucceeded && !task.agent_id.empty()) {
        state.started_before.insert(task.task_id);
      }
    }
  }
}

// Finds the plan: the journaled one when resuming, the file, or the queen's.
Result<orchestrator::Plan> obtain_plan(RunState& state) {
  if (!state.request.resume_id.empty()) {
    read_earlier_tasks(state);
    return *state.resume_plan;
  }
  if (state.file_plan) {
    Result<orchestrator::Plan> plan = *state.file_plan;
    if (plan) {
      store::PlanRecord record;
      record.run_id = state.record.id;
      record.attempt = 1;
      record.accepted = true;
      record.plan = orchestrator::plan_to_json(*plan);
      record.raw_reply = "plan file " + state.request.plan_file;
      (void)state.journal->add_plan(std::move(record));
    }
    return plan;
  }
  return make_plan(state, state.record.goal);
}

void summarize(RunState& state, const ExecutionResult& result) {
  orchestrator::SummaryOptions options;
  options.model = state.role_models["queen"];
  options.chat = chat_options(state.backend.settings);
  options.warning_limits = &state.reply_warnings;
  orchestrator::SummaryOutcome outcome = orchestrator::summarize(
      state.record.goal, result.summaries, *state.backend.client, options, *state.cancel);
  add_tokens(state.report, outcome.usage, orchestrator::failed_usage(outcome.attempts));
  if (outcome.status) {
    state.report.summary = outcome.summary;
  } else {
    state.report.notes.push_back("the queen's summary failed: " + outcome.status.message());
  }
}

void fill_from_execution(RunState& state, const ExecutionResult& result) {
  RunReport& report = state.report;
  report.tasks = result.tasks;
  report.conflicts = result.conflicts;
  report.scaling_events = result.scaling_events;
  report.agent_counts = result.agent_counts;
  report.prompt_tokens += result.prompt_tokens;
  report.output_tokens += result.output_tokens;
  report.failed_prompt_tokens += result.failed_prompt_tokens;
  report.failed_output_tokens += result.failed_output_tokens;
  report.warm_up_prompt_tokens += result.warm_up_prompt_tokens;
  report.warm_up_output_tokens += result.warm_up_output_tokens;
  if (result.cancelled) {
    report.status = "cancelled";
    report.exit_code = 130;
  } else if (result.all_succeeded) {
    report.status = "succeeded";
    report.exit_code = 0;
  } else {
    report.status = "failed";
    report.exit_code = 1;
  }
  if (result.tasks_lost > 0 && !result.cancelled) {
    report.notes.push_back(std::to_string(result.tasks_lost) +
                           " tasks could not be returned to the queue");
  }
}

// Resolves max_agents for a scaled run: the configured value, else the capacity ceiling,
// else 8, lowered to the manager's hard cap and raised to min_agents. Returns every step that
// changed the maximum, for the report's note on the bounds.
std::string resolve_max_agents(RunState& state, const MachineView& machine) {
  GpuScalingSettings& scaling = state.config.gpu_scaling;
  const int cap = state.config.agent_management.max_agents;
  std::string max_source;
  if (!scaling.max_agents) {
    if (machine.capacity().agent_ceiling) {
      scaling.max_agents = std::max(1, *machine.capacity().agent_ceiling);
      max_source = "from capacity: " + machine.capacity().reason;
    } else {
      scaling.max_agents = 8;
      max_source = "default 8, capacity unknown: " + machine.capacity().reason;
    }
  } else {
    max_source = "configured " + std::to_string(*scaling.max_agents);
  }
  if (*scaling.max_agents > cap) {
    max_source += fmt::format(
        ", lowered to {} by dynamic_agent_management.max_agents from {}, the agent "
        "manager's hard cap",
        cap, describe_source_of(state.config, "dynamic_agent_management.max_agents"));
    scaling.max_agents = cap;
  }
  if (*scaling.max_agents < scaling.min_agents) {
    max_source += fmt::format(", raised to gpu_scaling.min_agents {}", scaling.min_agents);
    scaling.max_agents = scaling.min_agents;
  }
  return max_source;
}

// Adds the note on the pool's bounds and the machine's warnings to the report. When memory fits
// fewer agents than gpu_scaling.min_agents, the agent manager keeps the memory ceiling, so the
// note gives that count instead of the configured bounds.
void add_scaling_notes(RunState& state, const MachineView& machine, const ScalingSources& sources,
                       const std::string& max_source) {
  std::optional<scaling::CapacitySignal> capacity;
  if (sources.capacity) {
    capacity = sources.capacity();
  }
  const GpuScalingSettings& scaling = state.config.gpu_scaling;
  const int manager_min = scaled_min_agents(state.config, capacity);
  if (manager_min < scaling.min_agents) {
    // scaled_min_agents() lowers the minimum only below a known ceiling. A ceiling of 0 still
    // keeps one agent, as the engine does.
    const int ceiling = capacity->slot_ceiling.value_or(manager_min);
    state.report.notes.push_back(fmt::format(
        "auto-scaling {} at {} agent(s): memory fits only {} ({}), below gpu_scaling.min_agents "
        "{} from {}, and memory wins; set --min-agents {} or lower",
        state.config.strategy, manager_min, ceiling, machine.capacity().reason, scaling.min_agents,
        describe_source_of(state.config, "gpu_scaling.min_agents"), manager_min));
  } else {
    state.report.notes.push_back(fmt::format("auto-scaling {} between {} and {} agents ({})",
                                             state.config.strategy, scaling.min_agents,
                                             *scaling.max_agents, max_source));
  }
  for (const std::string& note : machine.notes()) {
    state.report.notes.push_back(note);
  }
}

// Adds a note to the report when the user requests a fixed pool of more agents than the plan has
// tasks, because the pool then starts one agent per task, as PlanRun does. The default count
// gets no note.
void add_agent_count_note(RunState& state, const orchestrator::Plan& plan) {
  const int64_t task_count = static_cast<int64_t>(plan.tasks.size());
  const auto source = state.config.sources.find("run.agents");
  if (source == state.config.sources.end() || source->second == "default" || task_count == 0 ||
      state.config.run.agents <= task_count) {
    return;
  }
  state.report.notes.push_back(
      fmt::format("{} requests {}, but the plan has only {}, so the run starts {}, one per task",
                  setting_of(state.config, "run.agents", "--agents"),
                  count_text(state.config.run.agents, "agent"), count_text(task_count, "task"),
                  count_text(task_count, "agent")));
}

Result<ExecutionResult> execute(RunState& state, const orchestrator::Plan& plan,
                                orchestrator::Workspace& workspace) {
  ExecutionSetup setup;
  std::unique_ptr<MachineView> machine;
  if (state.config.auto_scaling) {
    machine = std::make_unique<MachineView>(state.config, state.clock, state.config.server.model,
                                            state.backend.settings.backend, state.cancel);
    const std::string max_source = resolve_max_agents(state, *machine);
    setup.scaling_sources = machine->sources();
    add_scaling_notes(state, *machine, setup.scaling_sources, max_source);
  } else {
    add_agent_count_note(state, plan);
  }
  setup.config = state.config;
  setup.config.server = state.backend.settings;
  setup.clock = state.clock;
  setup.journal = state.journal.get();
  setup.run_id = state.record.id;
  std::unique_ptr<llm::LlmClient> observed;  // books server waits while the scaling loop runs
  if (machine) {
    observed = machine->observe(*state.backend.client);
  }
  setup.client = observed ? observed.get() : state.backend.client.get();
  setup.workspace = &workspace;
  setup.plan = plan;
  setup.roles = state.roles;
  setup.role_models = state.role_models;
  setup.default_model = state.config.server.model;
  setup.earlier = state.earlier;
  setup.cancel = state.cancel;
  setup.monitor = state.monitor;
  setup.warning_limits = &state.reply_warnings;
  const std::filesystem::path status_dir = active_status_dir(state.config);
  const std::string started_at = state.record.started_at;
  const std::string backend = state.backend.settings.backend;
  const bool simulated = state.backend.simulated;
  const std::string workspace_root = state.record.workspace;
  setup.publish_status = [status_dir, started_at, backend, simulated,
                          workspace_root](const json& status) {
    json document = status;
    document["workspace"] = workspace_root;
    document["started_at"] = started_at;
    document["backend"] = backend;
    document["simulated"] = simulated;
    (void)write_active_status(status_dir, document);
  };
  // run_goal removes the status file when the run ends, after the summary.
  return execute_plan(std::move(setup));
}

void finish(RunState& state) {
  state.reply_warnings.flush();
  state.report.duration_s = to_seconds(state.clock->now() - state.started);
  // The report's status texts are the journal's run status names.
  const store::RunStatus status =
      store::parse_run_status(state.report.status).value_or(store::RunStatus::kFailed);
  Status stored = state.journal->finish_run(state.record.id, status, state.report.exit_code,
                                            report_to_json(state.report));
  // A journal that failed during the run keeps no record of its end, so `runs` shows the run as
  // interrupted. A journal that cannot be written exits with 2, as at the start of a run, even
  // when every task succeeded or the run was cancelled.
  if (!stored) {
    state.report.notes.push_back("journal: " + stored.message() +
                                 "; the workspace has the run's files, but the journal does not "
                                 "record their tasks or the run's end");
    state.report.exit_code = kJournalFailureExitCode;
    return;
  }
  state.footprint.finished = true;
  state.footprint.status = state.report.status;
  publish_footprint(state);
}

// Rejects a goal that cannot fit in one request's context and keeps a warning for the report
// when it leaves too little room.
Status check_goal(RunState& state, const std::string& goal) {
  Result<std::optional<std::string>> warning = check_goal_size(goal, state.config.server);
  if (!warning) {
    return warning.status();
  }
  // A run with a plan file checks its goal twice: before and after reading the plan.
  const bool repeated = std::find(state.goal_notes.begin(), state.goal_notes.end(),
                                  warning->value_or("")) != state.goal_notes.end();
  if (warning->has_value() && !repeated) {
    get_logger("flow")->warn("{}", **warning);
    state.goal_notes.push_back(**warning);
  }
  return Status::ok();
}

// Rejects resuming a run on the simulated backend when it ran on a model server, or the other
// way round: the finished subtasks' files would mix real and placeholder output in one workspace.
Status check_resume_backend(const store::RunRecord& run, const std::string& backend) {
  const bool was_simulated = run.backend == "sim";
  if (run.backend.empty() || was_simulated == (backend == "sim")) {
    return Status::ok();
  }
  return Status(
      ErrorCode::kInvalidArgument,
      fmt::format("run '{}' ran on the {} backend, so resuming it on the {} backend would "
                  "mix {} output into its workspace. Resume it with --backend {}, or "
                  "start a new run",
                  run.id, run.backend, backend,
                  was_simulated ? "real model" : "simulated placeholder", run.backend));
}

// Rejects with kInvalidArgument a `run` that cannot be resumed because its status is one that
// this version does not know, it only planned, or --workspace names another folder than the
// run's own.
Status check_resumable(store::Journal& journal, const store::RunRecord& run, const Config& config) {
  if (run.status == store::RunStatus::kUnknown) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("run '{}' has the status \"{}\" in the journal '{}', which this "
                              "version of ollama-flow does not know, so it cannot resume the "
                              "run: start a new run instead",
                              run.id, run.stored_status, journal.path()));
  }
  if (run.workspace.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("run '{}' only planned (--plan-only) and has no workspace to resume "
                              "into. Save its plan with `ollama-flow runs show {} --plan --db {} > "
                              "plan.json` and run it with `ollama-flow run --plan plan.json`",
                              run.id, shell_quoted(run.id),
                              shell_quoted(std::filesystem::absolute(journal.path()).string())));
  }
  if (!config.run.workspace.empty() &&
      resolved_folder(config.run.workspace) != resolved_folder(run.workspace)) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("the workspace '{}' (from {}) differs from the workspace '{}' of "
                              "run '{}': a resumed run continues in its own workspace. Leave "
                              "run.workspace unset when resuming",
                              config.run.workspace, describe_source_of(config, "run.workspace"),
                              run.workspace, run.id));
  }
  return Status::ok();
}

// Rejects a resume whose workspace is no longer a usable folder, or whose path is now a symbolic
// link, which a resume would write through into the link's target. A run stores its workspace
// with links resolved, so such a link replaced the run's folder after the run began, unless an
// earlier version stored the path as given. A resumed run writes only into its own folder, so the
// fix is to restore that folder, not the --workspace flag that check_usable() names for a new run.
Status check_resume_workspace(const store::RunRecord& run) {
  const std::string fix = fmt::format(
      "run '{}' resumes only in its own workspace, so move what is there now aside and restore "
      "the folder, or start a new run",
      run.id);
  if (std::optional<std::string> link = describe_symbolic_link(run.workspace)) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("the workspace '{}' {}, and a resume does not follow a link that "
                              "may lead out of the run's folder: {}",
                              run.workspace, *link, fix));
  }
  // A link that replaced one of the folders above the workspace leads there as well.
  if (const std::string resolved = resolved_folder(run.workspace); resolved != run.workspace) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("the workspace '{}' now leads to '{}', because a folder above it "
                              "became a symbolic link, and a resume does not follow a link that "
                              "may lead out of the run's folder: {}",
                              run.workspace, resolved, fix));
  }
  if (Status usable = orchestrator::Workspace::check_usable(run.workspace); !usable) {
    std::string message = usable.message();
    if (const size_t cut = message.find("choose another path"); cut != std::string::npos) {
      message = message.substr(0, cut >= 2 ? cut - 2 : cut);  // drop ": " or "; " as well
    }
    return Status(usable.code(), message + ": " + fix);
  }
  return Status::ok();
}

// Rejects a workspace that contains the journal's folder. Paths come from model output, so a
// task's file could replace the journal, or the status files and server logs beside it.
// Symbolic links are resolved, so a link to the folder counts as the folder.
Status check_journal_outside(const Config& config, const std::string& workspace) {
  std::string journal = config.run.db;
  if (journal.empty()) {
    Result<std::string> fallback = store::default_journal_path(process_env());
    if (!fallback) {
      return Status::ok();  // open_journal() reports the missing path
    }
    journal = *fallback;
  }
  std::error_code error;
  const std::filesystem::path folder =
      std::filesystem::weakly_canonical(std::filesystem::absolute(journal).parent_path(), error);
  if (error) {
    return Status::ok();
  }
  const std::filesystem::path root =
      std::filesystem::weakly_canonical(std::filesystem::absolute(workspace), error);
  if (error) {
    return Status::ok();
  }
  const auto [in_root, in_folder] =
      std::mismatch(root.begin(), root.end(), folder.begin(), folder.end());
  if (in_root != root.end()) {
    return Status::ok();
  }
  return Status(ErrorCode::kInvalidArgument,
                fmt::format("journal '{}' is inside the workspace '{}', where the files of a task "
                            "could replace it: pass --db with a path outside the workspace, or "
                            "another folder with --workspace",
                            journal, workspace));
}

// Locks the run's workspace into state.workspace_lock. A workspace in use is a usage error
// that names the run holding it, found from the status files of the runs on this machine.
Status lock_workspace(RunState& state, const std::string& root) {
  Result<orchestrator::WorkspaceLock> lock = orchestrator::WorkspaceLock::acquire(root);
  if (lock) {
    state.workspace_lock = std::move(lock).value();
    for (const std::filesystem::path& folder : state.workspace_lock->created()) {
      state.footprint.created_folders.push_back(folder.string());
    }
    publish_footprint(state);
    return Status::ok();
  }
  if (lock.status().code() != ErrorCode::kConflict) {
    return lock.status();
  }
  std::string holder;
  const std::string folder = resolved_folder(root);
  for (const json& status : read_active_statuses(active_status_dir(state.config))) {
    if (status.value("workspace", "") == folder) {
      holder = fmt::format(" (run '{}', process {})", status.value("run_id", "?"),
                           status.contains("pid") ? status["pid"].dump() : "?");
    }
  }
  const std::string fix = state.request.resume_id.empty()
                              ? "wait until it ends, or pass another folder with --workspace"
                              : "wait until it ends, then resume";
  return Status(ErrorCode::kInvalidArgument, lock.status().message() + holder + ": " + fix);
}

// Checks a resume against the journal and locks the run's workspace, before a server is started
// and before the run is reopened, so that a resume that cannot start leaves the run's journaled
// status as it was. Sets state.resumed and state.resume_plan.
Status check_resume(RunState& state) {
  if (Status opened = open_journal(state); !opened) {
    return opened;
  }
  Result<store::RunRecord> run = state.journal->get_run(state.request.resume_id);
  if (!run) {
    // A run id that the journal lacks is the user's to fix, like a bad flag.
    return run.status().code() == ErrorCode::kNotFound
               ? Status(ErrorCode::kInvalidArgument,
                        run.status().message() + " in the journal '" + state.journal->path() + "'")
               : run.status();
  }

  // A server that the run starts is the openai backend, whatever the configuration names.
  const std::string backend =
      state.request.start_server.empty() ? state.config.server.backend : "openai";
  if (Status same = check_resume_backend(*run, backend); !same) {
    return same;
  }
  if (Status resumable = check_resumable(*state.journal, *run, state.config); !resumable) {
    return resumable;
  }

  // A plan that is missing or damaged in the journal is a usage error, as a plan file would
  // be. The journal's message states the cause and the fix.
  Result<orchestrator::Plan> stored = read_journaled_plan(*state.journal, run->id, state.roles);
  if (!stored) {
    return Status(ErrorCode::kInvalidArgument, stored.status().message());
  }

  if (Status usable = check_resume_workspace(*run); !usable) {
    return usable;
  }
  if (Status outside = check_journal_outside(state.config, run->workspace); !outside) {
    return outside;
  }
  if (Status locked = lock_workspace(state, run->workspace); !locked) {
    return locked;
  }

  state.resume_plan = std::move(stored).value();
  state.resumed = std::move(run).value();
  state.footprint.run_id = state.resumed->id;
  publish_footprint(state);
  return Status::ok();
}

Status prepare(RunState& state) {
  if (Status opened = open_journal(state); !opened) {
    return opened;
  }
  std::string goal = state.request.goal;
  if (state.resumed) {
    goal = state.resumed->goal;
    state.config.run.workspace = state.resumed->workspace;
  }
  // Only the unnamed default server falls back to the simulated backend. A host or backend set
  // by a flag, the environment or the configuration file must respond, or the run fails.
  auto named = [&](const std::string& key) {
    auto it = state.config.sources.find(key);
    return it != state.config.sources.end() && it->second != "default";
  };
  // A resumed run must not finish on placeholder output either: it continues real work.
  const bool chosen = state.request.backend_chosen || !state.request.resume_id.empty() ||
                      named("server.host") || named("server.backend");
  Result<BackendChoice> backend = choose_backend(state.config, chosen, state.clock, state.cancel);
  if (!backend) {
    return backend.status();
  }
  state.backend = std::move(backend).value();
  RoleModels role_models = resolve_role_models(state.config, state.roles, *state.backend.client);
  state.role_models = std::move(role_models.models);
  // A server that serves one model serves every role with it, so the agents, the task rows and
  // `status` name that model, as the report header does. Its note on the served model then
  // replaces the notes on role models that the server lacks.
  if (state.backend.served_model) {
    for (auto& [role, model] : state.role_models) {
      model = *state.backend.served_model;
    }
  } else {
    for (std::string& note : role_models.notes) {
      get_logger("flow")->warn("{}", note);
      state.backend.notes.push_back(std::move(note));
    }
  }
  if (state.file_plan) {
    const std::optional<orchestrator::Plan>& plan = state.file_plan;
    if (goal.empty() && !plan->goal.empty()) {
      if (Status fits = check_goal(state, plan->goal); !fits) {
        return fits.with_context("plan file '" + state.request.plan_file + "'");
      }
    }
    if (goal.empty()) {
      goal = plan->goal.empty() ? "plan " + state.request.plan_file : plan->goal;
    } else if (!plan->goal.empty() && plan->goal != goal) {
      state.goal_notes.push_back(fmt::format(
          "the goal on the command line replaces the plan file's goal \"{}\", but the task "
          "descriptions of the plan stay as written; leave out the goal to keep the plan's",
          shortened(plan->goal, 120)));
      get_logger("flow")->warn("{}", state.goal_notes.back());
    }
    if (Status fits = check_task_sizes(*plan, goal, state.config.server); !fits) {
      return fits.with_context("plan file '" + state.request.plan_file + "'");
    }
    if (plan->simulated && !state.backend.simulated) {
      state.goal_notes.push_back(fmt::format(
          "plan file '{}' was made by the simulated backend, so its task descriptions are "
          "placeholder text that the agents get as instructions; plan the goal on this server, "
          "or rewrite the descriptions and remove \"simulated\" from the file",
          state.request.plan_file));
      get_logger("flow")->warn("{}", state.goal_notes.back());
    }
  }
  return start_record(state, goal);
}

// Adds, once, the note of started_server_context_note() when the run started its llama-server.
void add_started_server_note(RunState& state, const std::string& error) {
  if (state.request.start_server.empty()) {
    return;
  }
  const std::optional<std::string> note =
      started_server_context_note(error, state.config.server.num_ctx);
  if (note && std::find(state.report.notes.begin(), state.report.notes.end(), *note) ==
                  state.report.notes.end()) {
    state.report.notes.push_back(*note);
  }
}

void fill_header(RunState& state) {
  RunReport& report = state.report;
  report.run_id = state.record.id;
  report.goal = state.record.goal;
  report.backend = state.backend.settings.backend;
  report.endpoint = state.backend.client ? state.backend.client->endpoint() : "";
  report.simulated = state.backend.simulated;
  report.model = state.backend.served_model.value_or(state.config.server.model);
  report.auto_scaling = state.config.auto_scaling;
  report.strategy = state.config.strategy;
  report.notes = state.request.notes;
  report.notes.insert(report.notes.end(), state.backend.notes.begin(), state.backend.notes.end());
}

// Fills the report of a resumed run that was cancelled while its llama-server was starting, so
// that it reads as the report of a resume cancelled during its execution. The header names the
// backend and model that the journal keeps for the run, as `runs show` does, because no server
// of this attempt responded. The task table lists the journaled plan's tasks.
void fill_cancelled_resume(RunState& state) {
  if (!state.record.backend.empty()) {
    state.report.backend = state.record.backend;
  }
  if (!state.record.model.empty()) {
    state.report.model = state.record.model;
  }
  // The resumed run keeps its folder, and nothing was written into it.
  state.report.workspace = state.record.workspace;
  read_earlier_tasks(state);
  state.report.plan = orchestrator::plan_to_json(*state.resume_plan);
  Result<ExecutionResult> result = cancelled_before_execution(*state.resume_plan, state.earlier);
  if (!result) {
    state.report.notes.push_back("the plan's tasks cannot be listed: " + result.status().message());
    return;
  }
  fill_from_execution(state, *result);
}

// Journals a run that Ctrl-C, SIGTERM or SIGHUP stopped while its llama-server was starting, as
// a cancel during planning is journaled, and returns its report. A new run is created, and a
// resumed run, which check_resume() accepted before the server started, is reopened and ends as
// cancelled. ManagedServer::start() has stopped the server already.
Result<RunReport> journal_cancelled_start(RunState& state, const Status& cancelled) {
  if (Status opened = open_journal(state); !opened) {
    return opened;
  }
  // The server never responded, so the run has no endpoint, only the backend it would have used.
  state.backend.settings = state.config.server;
  state.backend.settings.backend = "openai";
  std::string goal = state.request.goal;
  if (goal.empty() && state.file_plan) {
    goal =
        state.file_plan->goal.empty() ? "plan " + state.request.plan_file : state.file_plan->goal;
  }
  if (Status created = start_record(state, goal); !created) {
    return created;
  }
  fill_header(state);
  state.report.notes.insert(state.report.notes.end(), state.goal_notes.begin(),
                            state.goal_notes.end());
  if (state.resumed) {
    fill_cancelled_resume(state);
  }
  state.report.notes.push_back(cancelled.message());
  state.report.status = "cancelled";
  state.report.exit_code = 130;
  finish(state);
  get_logger("flow")->info("run={} cancelled while llama-server was starting", state.record.id);
  return state.report;
}

}  // namespace

void RunMonitor::set(json scaling_status, json agents, json metrics) {
  std::lock_guard lock(mutex_);
  scaling_status_ = std::move(scaling_status);
  agents_ = std::move(agents);
  metrics_ = std::move(metrics);
}

json RunMonitor::scaling_status() const {
  std::lock_guard lock(mutex_);
  return scaling_status_;
}

json RunMonitor::agents() const {
  std::lock_guard lock(mutex_);
  return agents_;
}

json RunMonitor::metrics() const {
  std::lock_guard lock(mutex_);
  return metrics_;
}

Result<RunReport> run_goal(const Config& config, const RunRequest& request,
                           const CancelTokenPtr& cancel, std::shared_ptr<Clock> clock,
                           RunMonitor* monitor) {
  RunState state;
  state.config = config;
  state.request = request;
  state.cancel = cancel ? cancel : std::make_shared<CancelToken>();
  state.clock = std::move(clock);
  state.monitor = monitor;
  state.started = state.clock->now();
  // Before a server is started or the journal opened: a goal that cannot fit is a usage error.
  if (Status fits = check_goal(state, request.goal); !fits) {
    return fits;
  }
  // Before planning, which costs a model call: a workspace that cannot be written is a usage
  // error. A resumed run checks its own workspace once the journal names it.
  if (!request.plan_only && request.resume_id.empty()) {
    // The default folder is named here, so that the lock and the journal name one folder.
    state.new_workspace =
        config.run.workspace.empty() ? default_workspace(*state.clock) : config.run.workspace;
    if (Status usable = orchestrator::Workspace::check_usable(state.new_workspace); !usable) {
      return usable;
    }
    if (Status outside = check_journal_outside(config, state.new_workspace); !outside) {
      return outside;
    }
  }
  // A malformed host is a usage error, found before the journal file is created. A server that
  // this run starts sets its own host.
  if (request.start_server.empty()) {
    if (Status valid = llm::check_server_url(config); !valid) {
      return valid;
    }
  }
  // A malformed GPU memory override is a usage error here too, as in `gpu` and `doctor`.
  if (Result<gpu::ProbeContext> probe = gpu::machine_probe_context(state.clock, process_env());
      !probe) {
    return probe.status();
  }
  // Before a server is started or the run journaled: a workspace that another run writes into
  // is a usage error. A resumed run locks its workspace once the journal names it.
  if (!state.new_workspace.empty()) {
    if (Status locked = lock_workspace(state, state.new_workspace); !locked) {
      return locked;
    }
  }
  // Before a server is started: a resume that cannot start is a usage error, and a resume that
  // Ctrl-C stops while the server starts can be journaled as cancelled.
  if (!request.resume_id.empty()) {
    if (Status resumable = check_resume(state); !resumable) {
      return resumable;
    }
  }
  // Before a server is started: a plan file that cannot be read is a usage error, and a run that
  // Ctrl-C stops while the server starts is journaled with the plan's goal.
  if (!request.plan_file.empty() && request.resume_id.empty()) {
    Result<orchestrator::Plan> plan = read_plan_file(state);
    if (!plan) {
      return plan.status();
    }
    state.file_plan = std::move(plan).value();
  }
  std::optional<RunServer> server;  // its destructor stops the server on every return
  if (!request.start_server.empty()) {
    Result<RunServer> started =
        start_run_server(config, request.start_server, state.clock, *state.cancel);
    if (!started) {
      if (started.status().code() == ErrorCode::kCancelled) {
        return journal_cancelled_start(state, started.status());
      }
      return started.status();
    }
    server = std::move(started).value();
    state.config = server->config;
    state.request.backend_chosen = true;
  }
  Status prepared = prepare(state);
  if (!prepared) {
    return prepared;
  }
  fill_header(state);
  if (server) {
    state.report.notes.insert(state.report.notes.begin(), server->notes.begin(),
                              server->notes.end());
  }
  state.report.notes.insert(state.report.notes.end(), state.goal_notes.begin(),
                            state.goal_notes.end());
  get_logger("flow")->info("run={} started: backend={} model={} goal=\"{}\"", state.record.id,
                           state.report.backend, state.report.model, state.record.goal);

  // `ollama-flow status` shows the run while the queen plans; the execution replaces this
  // document with the scaling status once agents run.
  const std::filesystem::path status_dir = active_status_dir(state.config);
  (void)write_active_status(status_dir, {{"run_id", state.record.id},
                                         {"goal", state.record.goal},
                                         {"phase", "planning"},
                                         {"workspace", state.record.workspace},
                                         {"started_at", state.record.started_at},
                                         {"backend", state.report.backend},
                                         {"simulated", state.report.simulated}});
  // The file stays until the run ends, however it ends, so that it exists for as long as the
  // run keeps its workspace locked. The execution's first status replaces it.
  struct StatusFileGuard {
    std::filesystem::path dir;
    ~StatusFileGuard() { remove_active_status(dir); }
  } status_guard{status_dir};
  Result<orchestrator::Plan> plan = obtain_plan(state);
  if (!plan) {
    state.report.status = plan.status().code() == ErrorCode::kCancelled ? "cancelled" : "failed";
    state.report.exit_code = plan.status().code() == ErrorCode::kCancelled ? 130 : 1;
    state.report.notes.push_back((plan.status().code() == ErrorCode::kCancelled
                                      ? "planning cancelled: "
                                      : "planning failed: ") +
                                 plan.status().message());
    add_started_server_note(state, plan.status().message());
    finish(state);
    return state.report;
  }
  state.report.plan = orchestrator::plan_to_json(*plan);
  if (state.request.plan_only) {
    state.report.status = "planned";
    state.report.notes.push_back("plan only: nothing was run");
    finish(state);
    return state.report;
  }

  const std::string root = state.record.workspace;
  Result<orchestrator::Workspace> workspace = orchestrator::Workspace::open(
      root, config.run.sync_files ? orchestrator::FileSync::kFlush : orchestrator::FileSync::kSkip);
  if (!workspace) {
    state.report.status = "failed";
    state.report.exit_code = 1;
    state.report.notes.push_back(workspace.status().message());
    finish(state);
    return state.report;
  }
  state.report.workspace = workspace->root().string();
  if (state.workspace_lock) {
    state.workspace_lock->keep_created();
  }
  for (const store::TaskRecord& earlier : state.earlier) {
    for (const std::string& file : earlier.files) {
      (void)workspace->claim(file, earlier.task_id);
    }
  }
  // A task killed after writing its files and before its success was committed writes them
  // again: replacing its own files is not a conflict.
  for (const orchestrator::PlanTask& task : plan->tasks) {
    if (state.started_before.count(task.id) != 0) {
      for (const std::string& file : task.files) {
        (void)workspace->claim(file, task.id);
      }
    }
  }

  Result<ExecutionResult> result = execute(state, *plan, *workspace);
  if (!result) {
    state.report.status = "failed";
    state.report.exit_code = 1;
    state.report.notes.push_back("execution failed to start: " + result.status().message());
    finish(state);
    return state.report;
  }
  fill_from_execution(state, *result);
  for (const TaskReport& task : state.report.tasks) {
    add_started_server_note(state, task.error);
  }
  if (!result->no_agent_reason.empty()) {
    // The queen would send her request to the same server that rejected every agent.
    state.report.notes.push_back("the queen's summary was skipped: " + result->no_agent_reason);
  } else if (!state.cancel->cancelled()) {
    summarize(state, *result);
  }
  finish(state);
  get_logger("flow")->info("run={} {}: exit code {}", state.record.id, state.report.status,
                           state.report.exit_code);
  return state.report;
}

}  // namespace ollamaflow::flow
