// `ollama-flow runs` and `ollama-flow runs show ID`.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/status_text.h"
#include "core/json_text.h"
#include "core/terminal_text.h"
#include "flow/journaled_plan.h"
#include "gpu/text_table.h"
#include "store/journal.h"

namespace ollamaflow::cli {
namespace {

using nlohmann::json;

// Reads the accepted plan of `run` with the checks that `run --resume` applies to it.
Result<orchestrator::Plan> read_accepted_plan(store::Journal& journal,
                                              const store::RunRecord& run) {
  return flow::read_journaled_plan(journal, run.id, orchestrator::RoleSet::builtin());
}

// Widest cell of the runs tables, in terminal columns, counting the ellipsis of a cut value. A
// task id has at most 32 characters, and a longer model name or stored value is cut, so that one
// value cannot push the columns that follow it off the screen.
constexpr size_t kMaxCellWidth = 40;

// Returns `text` as a cell of a runs table: escaped, and cut to kMaxCellWidth columns.
std::string table_cell(std::string_view text) {
  return truncate_printable(text, kMaxCellWidth);
}

Result<std::string> journal_path(const Config& config) {
  if (!config.run.db.empty()) {
    return config.run.db;
  }
  return store::default_journal_path(process_env());
}

json run_to_json(const store::RunRecord& run) {
  json document = {{"id", run.id},
                   {"goal", run.goal},
                   {"status", store::run_status_name(run.status)},
                   {"backend", run.backend},
                   {"model", run.model},
                   {"strategy", run.strategy},
                   // A --plan-only run has none, which `runs show` gives as null too.
                   {"workspace", run.workspace.empty() ? json(nullptr) : json(run.workspace)},
                   {"started_at", run.started_at},
                   {"finished_at", run.finished_at},
                   {"exit_code", run.exit_code ? json(*run.exit_code) : json(nullptr)},
                   {"simulated", run.backend == "sim"}};
  if (run.status == store::RunStatus::kUnknown) {
    document["stored_status"] = run.stored_status;
  }
  return document;
}

// Returns the status of a run document from run_to_json() for the terminal: its name, or for a
// status that this version does not know `unknown ("TEXT")` with TEXT escaped.
std::string status_text(const json& run) {
  if (!run.contains("stored_status")) {
    return run["status"].get<std::string>();
  }
  return "unknown (\"" + escape_control_characters(run["stored_status"].get<std::string>()) + "\")";
}

// Names on stderr each column of the listed runs that could not be read. Returns 1 when there
// is one, so that the exit code shows the damage, else 0.
int report_unreadable(const std::vector<store::RunRecord>& runs) {
  int code = 0;
  for (const store::RunRecord& run : runs) {
    for (const auto& [column, reason] : run.unreadable) {
      print_error("cannot read the " + column + " of run '" + run.id + "': " + reason);
      code = 1;
    }
  }
  return code;
}

int list_runs(store::Journal& journal, const RunsOptions& options) {
  Result<std::vector<store::RunRecord>> runs = journal.list_runs(options.limit);
  if (!runs) {
    print_error(runs.status().message());
    return 1;
  }
  if (options.json) {
    json list = json::array();
    for (const auto& run : *runs) {
      list.push_back(run_to_json(run));
    }
    std::cout << to_text(list, 2) << "\n";
    return report_unreadable(*runs);
  }
  if (runs->empty()) {
    std::cout << "no runs in " << journal.path() << "\n";
    return 0;
  }
  gpu::TextTable table({"id", "status", "started", "backend", "goal"});
  for (const auto& run : *runs) {
    // The id stays whole, because a user copies it into `runs show ID`.
    table.add_row({escape_control_characters(run.id), table_cell(status_text(run_to_json(run))),
                   table_cell(run.started_at), table_cell(run.backend),
                   truncate_printable(run.goal, kMaxListedGoalWidth)});
  }
  std::cout << table.render();
  const bool any_simulated =
      std::any_of(runs->begin(), runs->end(), [](const auto& run) { return run.backend == "sim"; });
  if (any_simulated) {
    // On stderr, so that stdout stays the table.
    std::fprintf(stderr,
                 "note: backend sim is the built-in simulated backend; its runs hold "
                 "placeholder output, not a model's\n");
  }
  Result<int64_t> total = journal.count_runs();
  if (!total) {
    print_error(total.status().message());
    return 1;
  }
  const int64_t hidden = *total - static_cast<int64_t>(runs->size());
  if (hidden > 0) {
    std::printf("%lld more run%s not shown: `ollama-flow runs --limit %lld` lists all of them\n",
                static_cast<long long>(hidden), hidden == 1 ? " is" : "s are",
                static_cast<long long>(*total));
  }
  return report_unreadable(*runs);
}

// Returns why a run has no workspace, or an empty text when it has one. A --plan-only run names
// none. A run that finished without a task row and with a report that names no workspace ended
// before it opened the folder it was given. A run that is running or was interrupted has no
// report, so its folder counts as its workspace.
std::string missing_workspace_reason(const store::RunRecord& run, bool tasks_ran) {
  if (run.workspace.empty()) {
    return "a --plan-only run writes no files";
  }
  const bool report_names_none =
      run.report.is_object() && run.report.contains("workspace") && run.report["workspace"] == "";
  if (report_names_none && !tasks_ran) {
    return "the run ended before it opened its workspace";
  }
  return "";
}

json show_json(store::Journal& journal, const store::RunRecord& run) {
  json document = run_to_json(run);
  // A part of the run that cannot be read is named here, so that a damaged journal never looks
  // like a run without tasks.
  json read_errors = json::array();
  auto read_failed = [&read_errors](const std::string& part, const Status& status) {
    read_errors.push_back("cannot read the run's " + part + ": " + status.message());
  };
  for (const auto& [column, reason] : run.unreadable) {
    read_errors.push_back("cannot read the run's " + column + ": " + reason);
  }
  // A plan that fails the checks is named as unreadable, and its tasks are not listed.
  Result<orchestrator::Plan> plan = read_accepted_plan(journal, run);
  if (!plan && plan.status().code() != ErrorCode::kNotFound) {
    read_failed("accepted plan", plan.status());
  }
  // "files" are the files a task wrote, and "declared_files" those its plan entry names, so that
  // a task that has not written yet shows what it will write.
  std::map<std::string, std::vector<std::string>> declared;
  if (plan) {
    for (const orchestrator::PlanTask& task : plan->tasks) {
      declared[task.id] = task.files;
    }
  }
  const auto declared_files = [&declared](const std::string& id) {
    const auto found = declared.find(id);
    return found == declared.end() ? json::array() : json(found->second);
  };
  json tasks = json::array();
  auto task_rows = journal.tasks_for_run(run.id);
  // The workspace stays named when the tasks cannot be read, because tasks may have written it.
  const std::string no_workspace = missing_workspace_reason(run, !task_rows || !task_rows->empty());
  if (!no_workspace.empty()) {
    document["workspace"] = nullptr;
    document["no_workspace_reason"] = no_workspace;
  }
  if (!task_rows) {
    read_failed("tasks", task_rows.status());
  } else {
    // A task that was running when its process died keeps that status in the journal.
    const bool interrupted = document["status"] == "interrupted";
    for (const auto& task : *task_rows) {
      tasks.push_back(
          {{"id", task.task_id},
           {"title", task.title},
           {"role", task.role},
           {"status",
            interrupted && task.status == "running" ? std::string("interrupted") : task.status},
           {"agent", task.agent_id},
           {"model", task.model},
           {"duration_s", task.duration_s ? json(*task.duration_s) : json(nullptr)},
           {"prompt_tokens", task.prompt_tokens},
           {"output_tokens", task.output_tokens},
           {"failed_prompt_tokens", task.failed_prompt_tokens},
           {"failed_output_tokens", task.failed_output_tokens},
           {"files", task.files},
           {"declared_files", declared_files(task.task_id)},
           {"error", task.error}});
    }
  }
  // Tasks of the accepted plan that no agent started have no row yet. They are listed, so that
  // the user sees what a resume would run.
  if (plan) {
    std::set<std::string> listed;
    for (const json& task : tasks) {
      listed.insert(task["id"].get<std::string>());
    }
    for (const orchestrator::PlanTask& task : plan->tasks) {
      if (listed.count(task.id) != 0) {
        continue;
      }
      tasks.push_back({{"id", task.id},
                       {"title", task.title},
                       {"role", task.role},
                       {"status", "not_started"},
                       {"agent", ""},
                       {"model", ""},
                       {"duration_s", nullptr},
                       {"prompt_tokens", 0},
                       {"output_tokens", 0},
                       {"files", json::array()},
                       {"declared_files", task.files},
                       {"error", ""}});
    }
  }
  document["tasks"] = tasks;
  json plans = json::array();
  if (auto rows = journal.plans_for_run(run.id)) {
    for (const auto& attempt : *rows) {
      plans.push_back({{"attempt", attempt.attempt},
                       {"accepted", attempt.accepted},
                       {"errors", attempt.errors}});
    }
  } else {
    read_failed("plan attempts", rows.status());
  }
  document["plan_attempts"] = plans;
  json scaling = json::array();
  auto scaling_rows = journal.scaling_events_for_run(run.id);
  if (!scaling_rows) {
    read_failed("scaling events", scaling_rows.status());
  } else {
    for (const auto& event : *scaling_rows) {
      scaling.push_back({{"time", event.time},
                         {"action", event.action},
                         {"from", event.from_count},
                         {"to", event.to_count},
                         {"reason", event.reason},
                         {"outcome", event.outcome}});
    }
  }
  document["scaling_events"] = scaling;
  if (auto events = journal.events_for_run(run.id)) {
    document["event_count"] = events->size();
  } else {
    read_failed("events", events.status());
  }
  document["report"] = run.report;
  document["read_errors"] = read_errors;
  return document;
}

// Returns the files a task wrote, then in brackets the declared files it has not written, e.g.
// "app.py (tests.py)", or "-" when there are none of either.
std::string files_cell(const json& task) {
  std::vector<std::string> written;
  for (const json& file : task["files"]) {
    written.push_back(file.get<std::string>());
  }
  std::vector<std::string> pending;
  for (const json& file : task.value("declared_files", json::array())) {
    if (std::find(written.begin(), written.end(), file.get<std::string>()) == written.end()) {
      pending.push_back(file.get<std::string>());
    }
  }
  std::string cell = fmt::format("{}", fmt::join(written, " "));
  if (!pending.empty()) {
    cell += fmt::format("{}({})", cell.empty() ? "" : " ", fmt::join(pending, " "));
  }
  return cell.empty() ? "-" : escape_control_characters(cell);
}

// Prints the task table of a run document from show_json(), each task's error on a line of its
// own under its row. The files column comes last and is not cut.
void print_tasks(const json& tasks) {
  gpu::TextTable table({"id", "status", "role", "agent", "model", "files written (declared)"});
  for (const auto& task : tasks) {
    table.add_row(
        {table_cell(task["id"].get<std::string>()), table_cell(task["status"].get<std::string>()),
         table_cell(task["role"].get<std::string>()), table_cell(task["agent"].get<std::string>()),
         table_cell(task["model"].get<std::string>()), files_cell(task)});
  }
  if (tasks.empty()) {
    std::cout << "\nTasks: none\n";
    return;
  }
  const std::vector<std::string> lines = table.render_lines();
  std::cout << "\nTasks:\n  " << lines[0] << "\n";
  // render_lines() gives the header first and then one line per task, in order.
  for (size_t i = 0; i < tasks.size(); ++i) {
    std::cout << "  " << lines[i + 1] << "\n";
    const std::string error = tasks[i]["error"].get<std::string>();
    if (!error.empty()) {
      std::cout << "      error: " << escape_control_characters(error) << "\n";
    }
  }
}

void print_scaling_events(const json& events) {
  gpu::TextTable table({"time", "action", "agents", "reason"});
  for (const auto& event : events) {
    table.add_row({table_cell(event["time"].get<std::string>()),
                   table_cell(event["action"].get<std::string>()),
                   fmt::format("{} -> {}", event["from"].dump(), event["to"].dump()),
                   escape_control_characters(event["reason"].get<std::string>())});
  }
  std::cout << "\nScaling events:\n";
  for (const std::string& line : table.render_lines()) {
    std::cout << "  " << line << "\n";
  }
}

void print_show(const json& run) {
  // A running or interrupted run has no end time.
  const std::string finished = run["finished_at"].get<std::string>();
  std::cout << "Run " << escape_control_characters(run["id"].get<std::string>()) << ": "
            << status_text(run)
            << "\n  goal:      " << escape_control_characters(run["goal"].get<std::string>())
            << "\n  backend:   " << escape_control_characters(run["backend"].get<std::string>())
            << (run["simulated"].get<bool>() ? " [SIMULATED: output is placeholder text]" : "")
            << ", model " << escape_control_characters(run["model"].get<std::string>())
            << "\n  workspace: "
            << (run["workspace"].is_null()
                    ? "none, because " + run["no_workspace_reason"].get<std::string>()
                    : escape_control_characters(run["workspace"].get<std::string>()))
            << "\n  started:   " << run["started_at"].get<std::string>() << "\n  finished:  "
            << (finished.empty() ? "not finished (" + status_text(run) + ")" : finished) << "\n";
  for (const auto& plan : run["plan_attempts"]) {
    // A rejected plan has validation errors. A request that failed or was cancelled has none,
    // and the stored report explains why.
    std::string outcome = "accepted";
    if (!plan["accepted"].get<bool>()) {
      outcome =
          plan["errors"].empty()
              ? "no plan received: the request failed or was cancelled (--json shows the report)"
              : "rejected " + escape_control_characters(to_text(plan["errors"]));
    }
    std::cout << "  plan attempt " << plan["attempt"] << ": " << outcome << "\n";
  }
  print_tasks(run["tasks"]);
  if (!run["scaling_events"].empty()) {
    print_scaling_events(run["scaling_events"]);
  }
}

// Prints the accepted plan of `run` as `run --plan-only --json` prints it, so that `run --plan
// FILE` reads the output. Returns 1 when the run has no accepted plan or the journaled one
// fails the plan checks.
int print_accepted_plan(store::Journal& journal, const store::RunRecord& run) {
  Result<store::PlanRecord> plan = journal.accepted_plan(run.id);
  if (!plan) {
    if (plan.status().code() != ErrorCode::kNotFound) {
      print_error(plan.status().message());
      return 1;
    }
    print_error(
        fmt::format("run '{}' has no accepted plan, because its planning failed or was "
                    "cancelled: `ollama-flow runs show {}` lists its plan attempts",
                    run.id, run.id));
    return 1;
  }
  if (Result<orchestrator::Plan> checked = read_accepted_plan(journal, run); !checked) {
    print_error(checked.status().message());
    return 1;
  }
  std::cout << to_text(plan->plan, 2) << "\n";
  return 0;
}

}  // namespace

int cmd_runs(const Config& config, const RunsOptions& options) {
  Result<std::string> path = journal_path(config);
  if (!path) {
    print_error(path.status().message());
    return 1;
  }
  // Read-only, so that listing works on a journal that this user may not write.
  Result<std::unique_ptr<store::Journal>> journal = store::Journal::open_read_only(*path);
  if (!journal && journal.status().code() == ErrorCode::kNotFound && options.show_id.empty()) {
    if (options.json) {
      std::cout << "[]\n";
    } else {
      std::cout << "no runs in " << *path << " (the journal does not exist yet)\n";
    }
    return 0;
  }
  if (!journal) {
    print_error(journal.status().message());
    // A --db path that names no journal (a folder, another file) is the user's to fix.
    return journal.status().code() == ErrorCode::kInvalidArgument ? 2 : 1;
  }
  if (options.show_id.empty()) {
    return list_runs(**journal, options);
  }
  Result<store::RunRecord> run = (*journal)->get_run(options.show_id);
  if (!run) {
    print_error(run.status().message());
    // An id that the journal lacks is the user's to fix, like a bad flag.
    return run.status().code() == ErrorCode::kNotFound ? 2 : 1;
  }
  if (options.plan) {
    return print_accepted_plan(**journal, *run);
  }
  const json document = show_json(**journal, *run);
  if (options.json) {
    std::cout << to_text(document, 2) << "\n";
  } else {
    print_show(document);
  }
  for (const json& error : document["read_errors"]) {
    print_error(error.get<std::string>());
  }
  return document["read_errors"].empty() ? 0 : 1;
}

}  // namespace ollamaflow::cli
