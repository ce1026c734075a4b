// Journal methods for runs.
#include <algorithm>
#include <cstdio>
#include <string>

#include "core/log.h"
#include "store/columns.h"
#include "store/journal.h"

namespace ollamaflow::store {

namespace {

constexpr std::string_view kRunColumns =
    "id, goal, status, backend, model, strategy, workspace, config, started_at, finished_at, "
    "exit_code, report, pid, host";

constexpr int kMaxRunIdTries = 8;

std::string run_not_found(const std::string& run_id) {
  return "run '" + run_id + "' not found; `ollama-flow runs` lists them";
}

// Returns what to do with run `run`, which is not running, to finish it again: resume it, unless
// reopen_run() or `run --resume` rejects it.
std::string finish_again_fix(const RunRecord& run) {
  if (run.status == RunStatus::kUnknown) {
    return "this version of ollama-flow does not know that status, so it can neither resume nor "
           "finish the run: resume it with the program or ollama-flow version that wrote the "
           "status, or start its goal again as a new run";
  }
  if (run.status == RunStatus::kPlanned) {
    return "a --plan-only run has no workspace to resume into, so run its plan as a new run: "
           "`ollama-flow runs show " +
           run.id + " --plan > plan.json`, then `ollama-flow run --plan plan.json`";
  }
  return "resume it (`ollama-flow run --resume " + run.id + "`) before finishing it again";
}

Result<RunRecord> read_run_row(const Statement& row, const std::string& journal_path) {
  RunRecord run;
  run.id = row.column_text(0);
  run.goal = row.column_text(1);

  // A status that this version does not know leaves the rest of the row readable, so that one
  // such row does not hide the other runs from `ollama-flow runs`.
  const std::string status = row.column_text(2);
  const std::optional<RunStatus> parsed = parse_run_status(status);
  run.status = parsed.value_or(RunStatus::kUnknown);
  if (!parsed.has_value()) {
    run.stored_status = status;
  }

  run.backend = row.column_text(3);
  run.model = row.column_text(4);
  run.strategy = row.column_text(5);
  run.workspace = row.column_text(6);

  Result<nlohmann::json> config =
      read_json_column(row, 7, journal_path, "column config of run '" + run.id + "'");
  if (config.is_ok()) {
    run.config = std::move(config).value();
  } else {
    run.unreadable.emplace_back("config", config.status().message());
  }
  run.started_at = row.column_text(8);
  run.finished_at = row.column_text(9);
  if (const std::optional<int64_t> exit_code = row.column_optional_int64(10)) {
    run.exit_code = static_cast<int>(*exit_code);
  }
  Result<nlohmann::json> report =
      read_json_column(row, 11, journal_path, "column report of run '" + run.id + "'");
  if (report.is_ok()) {
    run.report = std::move(report).value();
  } else {
    run.unreadable.emplace_back("report", report.status().message());
  }
  run.pid = row.column_int64(12);
  run.host = row.column_text(13);
  return run;
}

}  // namespace

Result<std::optional<RunRecord>> Journal::find_run(const std::string& run_id) {
  Result<Statement> query =
      database_.prepare("SELECT " + std::string(kRunColumns) + " FROM runs WHERE id = ?");
  if (!query.is_ok()) {
    return query.status();
  }
  if (Status bound = query->bind_all(run_id); !bound.is_ok()) {
    return bound;
  }
  Result<bool> row = query->step();
  if (!row.is_ok()) {
    return row.status();
  }
  if (!row.value()) {
    return std::optional<RunRecord>();
  }
  Result<RunRecord> run = read_run_row(query.value(), path_);
  if (!run.is_ok()) {
    return run.status();
  }
  return std::optional<RunRecord>(std::move(run).value());
}

Status Journal::check_run_exists(const std::string& run_id) {
  const bool in_batch = database_.in_transaction();
  if (in_batch && std::find(runs_found_in_transaction_.begin(), runs_found_in_transaction_.end(),
                            run_id) != runs_found_in_transaction_.end()) {
    return Status::ok();
  }
  Result<Statement> query = database_.prepare("SELECT 1 FROM runs WHERE id = ?");
  if (!query.is_ok()) {
    return query.status();
  }
  if (Status bound = query->bind_all(run_id); !bound.is_ok()) {
    return bound;
  }
  Result<bool> row = query->step();
  if (!row.is_ok()) {
    return row.status();
  }
  if (!row.value()) {
    return Status(ErrorCode::kNotFound, run_not_found(run_id));
  }
  if (in_batch) {
    runs_found_in_transaction_.push_back(run_id);
  }
  return Status::ok();
}

std::string Journal::generate_run_id() {
  // "2026-12-04T15:51:07.123Z" -> "20261204-155107"
  const std::string now = now_text();
  const std::string stamp = now.substr(0, 4) + now.substr(5, 2) + now.substr(8, 2) + "-" +
                            now.substr(11, 2) + now.substr(14, 2) + now.substr(17, 2);
  char suffix[8];
  std::snprintf(suffix, sizeof(suffix), "%04x", static_cast<unsigned>(random_() & 0xffff));
  return "r-" + stamp + "-" + suffix;
}

Status Journal::choose_run_id(std::string& run_id, bool generate) {
  for (int tries = 1;; ++tries) {
    if (generate) {
      run_id = generate_run_id();
    }
    Status exists = check_run_exists(run_id);
    if (exists.code() == ErrorCode::kNotFound) {
      return Status::ok();
    }
    if (!exists.is_ok()) {
      return exists;
    }
    if (!generate || tries >= kMaxRunIdTries) {
      return Status(ErrorCode::kConflict,
                    "run '" + run_id + "' already exists; choose another run id");
    }
  }
}

Result<RunRecord> Journal::create_run(RunRecord run) {
  if (run.goal.empty()) {
    return Status(ErrorCode::kInvalidArgument, "run goal is empty; pass the goal text");
  }
  const bool generate_id = run.id.empty();
  run.status = RunStatus::kRunning;
  run.started_at = now_text();
  run.finished_at.clear();
  run.exit_code.reset();
  run.report = nullptr;
  run.pid = options_.pid;
  run.host = options_.host;

  Status status = write("create_run", [&]() -> Status {
    if (Status chosen = choose_run_id(run.id, generate_id); !chosen.is_ok()) {
      return chosen;
    }
    Result<Statement> insert =
        database_.prepare("INSERT INTO runs (" + std::string(kRunColumns) +
                          ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, ?, ?)");
    if (!insert.is_ok()) {
      return insert.status();
    }
    Status bound = insert->bind_all(run.id, run.goal, run_status_name(run.status), run.backend,
                                    run.model, run.strategy, run.workspace, json_text(run.config),
                                    run.started_at, run.pid, run.host);
    return bound.is_ok() ? insert->run() : bound;
  });
  if (!status.is_ok()) {
    return status;
  }

  get_logger("store")->info("run created run={} goal_chars={}", run.id, run.goal.size());
  return run;
}

Status Journal::finish_run(const std::string& run_id, RunStatus status, int exit_code,
                           const nlohmann::json& report) {
  if (status == RunStatus::kRunning || status == RunStatus::kUnknown) {
    return Status(ErrorCode::kInvalidArgument, "run '" + run_id + "' cannot finish with status " +
                                                   std::string(run_status_name(status)) +
                                                   "; pass a final status");
  }
  const std::string finished_at = now_text();
  return write("finish_run", [&]() -> Status {
    Result<std::optional<RunRecord>> stored = find_run(run_id);
    if (!stored.is_ok()) {
      return stored.status();
    }
    if (!stored->has_value()) {
      return Status(ErrorCode::kNotFound, run_not_found(run_id));
    }
    const RunRecord& run = **stored;
    if (run.status != RunStatus::kRunning) {
      return Status(ErrorCode::kConflict, "run '" + run_id + "' already finished as " +
                                              describe_run_status(run) + "; " +
                                              finish_again_fix(run));
    }
    Result<Statement> update = database_.prepare(
        "UPDATE runs SET status = ?, finished_at = ?, exit_code = ?, report = ? WHERE id = ?");
    if (!update.is_ok()) {
      return update.status();
    }
    Status bound = update->bind_all(run_status_name(status), finished_at, exit_code,
                                    json_text(report), run_id);
    return bound.is_ok() ? update->run() : bound;
  });
}

Result<RunRecord> Journal::reopen_run(const std::string& run_id) {
  RunRecord reopened;
  Status status = write("reopen_run", [&]() -> Status {
    Result<std::optional<RunRecord>> stored = find_run(run_id);
    if (!stored.is_ok()) {
      return stored.status();
    }
    if (!stored->has_value()) {
      return Status(ErrorCode::kNotFound, run_not_found(run_id));
    }
    reopened = **stored;
    if (reopened.status == RunStatus::kUnknown) {
      return Status(ErrorCode::kConflict,
                    "run '" + run_id + "' has the status \"" + reopened.stored_status +
                        "\", which this version of ollama-flow does not know, so it cannot "
                        "resume the run; start a new run instead");
    }
    apply_liveness(reopened);
    const bool held_here = reopened.pid == options_.pid && reopened.host == options_.host;
    if (reopened.status == RunStatus::kRunning && reopened.host == options_.host && !held_here) {
      return Status(ErrorCode::kConflict, "run '" + run_id + "' is still running in process " +
                                              std::to_string(reopened.pid) +
                                              " on this host; stop that process first");
    }
    if (reopened.status == RunStatus::kRunning && reopened.host != options_.host) {
      get_logger("store")->warn("resuming a run marked running on another host run={} host={}",
                                run_id, reopened.host);
    }
    Result<Statement> update = database_.prepare(
        "UPDATE runs SET status = 'running', finished_at = NULL, exit_code = NULL, report = NULL, "
        "pid = ?, host = ? WHERE id = ?");
    if (!update.is_ok()) {
      return update.status();
    }
    Status bound = update->bind_all(options_.pid, options_.host, run_id);
    return bound.is_ok() ? update->run() : bound;
  });
  if (!status.is_ok()) {
    return status;
  }
  reopened.status = RunStatus::kRunning;
  reopened.finished_at.clear();
  reopened.exit_code.reset();
  reopened.report = nullptr;
  reopened.pid = options_.pid;
  reopened.host = options_.host;
  get_logger("store")->info("run reopened run={}", run_id);
  return reopened;
}

Result<std::vector<RunRecord>> Journal::list_runs(int limit) {
  if (limit < 1) {
    return Status(ErrorCode::kInvalidArgument,
                  "run list limit " + std::to_string(limit) + " is below 1; pass 1 or more");
  }
  std::lock_guard lock(mutex_);
  Result<Statement> query = database_.prepare("SELECT " + std::string(kRunColumns) +
                                              " FROM runs ORDER BY started_at DESC, rowid DESC "
                                              "LIMIT ?");
  if (!query.is_ok()) {
    return query.status();
  }
  if (Status bound = query->bind_all(limit); !bound.is_ok()) {
    return bound;
  }
  Result<std::vector<RunRecord>> runs = read_rows<RunRecord>(
      query.value(), [&](const Statement& row) { return read_run_row(row, path_); });
  if (runs.is_ok()) {
    for (RunRecord& run : runs.value()) {
      apply_liveness(run);
    }
  }
  return runs;
}

Result<int64_t> Journal::count_runs() {
  std::lock_guard lock(mutex_);
  Result<Statement> query = database_.prepare("SELECT COUNT(*) FROM runs");
  if (!query.is_ok()) {
    return query.status();
  }
  Result<bool> row = query->step();
  if (!row.is_ok()) {
    return row.status();
  }
  return row.value() ? query->column_int64(0) : int64_t{0};
}

Result<RunRecord> Journal::get_run(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  Result<std::optional<RunRecord>> stored = find_run(run_id);
  if (!stored.is_ok()) {
    return stored.status();
  }
  if (!stored->has_value()) {
    return Status(ErrorCode::kNotFound, run_not_found(run_id));
  }
  RunRecord run = std::move(**stored);
  apply_liveness(run);
  return run;
}

}  // namespace ollamaflow::store
