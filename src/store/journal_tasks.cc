// Journal methods for plan attempts, tasks and task attempts.
#include <string>

#include "core/log.h"
#include "store/columns.h"
#include "store/journal.h"

namespace ollamaflow::store {

namespace {

constexpr std::string_view kPlanColumns =
    "run_id, attempt, plan, accepted, errors, raw_reply, created_at";

constexpr std::string_view kTaskColumns =
    "run_id, task_id, title, role, status, agent_id, model, started_at, finished_at, duration_s, "
    "prompt_tokens, output_tokens, files, summary, error, failed_prompt_tokens, "
    "failed_output_tokens";

// The schema version that added the failed token columns of tasks.
constexpr int kFailedTokensVersion = 3;

// Returns the columns that read_task_row reads from a file at `schema_version`. A read-only open
// reads an older file as it is, without the failed token columns, so they read as 0 there. A
// command that writes migrates the file, which estimates them from the attempt rows.
std::string task_select_columns(int schema_version) {
  if (schema_version >= kFailedTokensVersion) {
    return std::string(kTaskColumns);
  }
  return "run_id, task_id, title, role, status, agent_id, model, started_at, finished_at, "
         "duration_s, prompt_tokens, output_tokens, files, summary, error, 0, 0";
}

constexpr std::string_view kAttemptColumns =
    "run_id, task_id, attempt, agent_id, started_at, finished_at, outcome, error, prompt_tokens, "
    "output_tokens";

Status require_positive(std::string_view field, int value, std::string_view record) {
  if (value >= 1) {
    return Status::ok();
  }
  return Status(ErrorCode::kInvalidArgument, std::string(record) + " " + std::string(field) + " " +
                                                 std::to_string(value) +
                                                 " is below 1; attempts count from 1");
}

Result<PlanRecord> read_plan_row(const Statement& row, const std::string& journal_path) {
  PlanRecord plan;
  plan.run_id = row.column_text(0);
  plan.attempt = static_cast<int>(row.column_int64(1));
  const std::string what =
      "plan attempt " + std::to_string(plan.attempt) + " of run '" + plan.run_id + "'";
  Result<nlohmann::json> json = read_json_column(row, 2, journal_path, what);
  if (!json.is_ok()) {
    return json.status();
  }
  plan.plan = std::move(json).value();
  plan.accepted = row.column_int64(3) != 0;
  Result<nlohmann::json> errors = read_json_column(row, 4, journal_path, "errors of " + what);
  if (!errors.is_ok()) {
    return errors.status();
  }
  plan.errors = std::move(errors).value();
  plan.raw_reply = row.column_text(5);
  plan.created_at = row.column_text(6);
  return plan;
}

Result<TaskRecord> read_task_row(const Statement& row, const std::string& journal_path) {
  TaskRecord task;
  task.run_id = row.column_text(0);
  task.task_id = row.column_text(1);
  task.title = row.column_text(2);
  task.role = row.column_text(3);
  task.status = row.column_text(4);
  task.agent_id = row.column_text(5);
  task.model = row.column_text(6);
  task.started_at = row.column_text(7);
  task.finished_at = row.column_text(8);
  task.duration_s = row.column_optional_double(9);
  task.prompt_tokens = row.column_int64(10);
  task.output_tokens = row.column_int64(11);
  Result<std::vector<std::string>> files = read_string_list_column(
      row, 12, journal_path, "files of task '" + task.task_id + "' in run '" + task.run_id + "'");
  if (!files.is_ok()) {
    return files.status();
  }
  task.files = std::move(files).value();
  task.summary = row.column_text(13);
  task.error = row.column_text(14);
  task.failed_prompt_tokens = row.column_int64(15);
  task.failed_output_tokens = row.column_int64(16);
  return task;
}

Result<AttemptRecord> read_attempt_row(const Statement& row) {
  AttemptRecord attempt;
  attempt.run_id = row.column_text(0);
  attempt.task_id = row.column_text(1);
  attempt.attempt = static_cast<int>(row.column_int64(2));
  attempt.agent_id = row.column_text(3);
  attempt.started_at = row.column_text(4);
  attempt.finished_at = row.column_text(5);
  attempt.outcome = row.column_text(6);
  attempt.error = row.column_text(7);
  attempt.prompt_tokens = row.column_int64(8);
  attempt.output_tokens = row.column_int64(9);
  return attempt;
}

// Inserts or updates a task row in one statement. Parameters 1 to 17 are kTaskColumns. The
// update keeps the stored start time unless the record brings one (?18), and with ?19 set it
// keeps the stored finish time of a task that finished before. The stored times are read by
// this statement inside the write transaction, so an update keeps the first start time even
// when another connection writes the same task. NULLIF treats a stored '' as no time.
const std::string& task_upsert_sql() {
  static const std::string sql =
      "INSERT INTO tasks (" + std::string(kTaskColumns) +
      ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (run_id, task_id) DO UPDATE SET title = excluded.title, "
      "role = excluded.role, status = excluded.status, agent_id = excluded.agent_id, "
      "model = excluded.model, "
      "started_at = COALESCE(?18, NULLIF(tasks.started_at, ''), excluded.started_at), "
      "finished_at = CASE WHEN ?19 THEN COALESCE(NULLIF(tasks.finished_at, ''), "
      "excluded.finished_at) ELSE excluded.finished_at END, duration_s = excluded.duration_s, "
      "prompt_tokens = excluded.prompt_tokens, output_tokens = excluded.output_tokens, "
      "files = excluded.files, summary = excluded.summary, error = excluded.error, "
      "failed_prompt_tokens = excluded.failed_prompt_tokens, "
      "failed_output_tokens = excluded.failed_output_tokens";
  return sql;
}

// Inserts or updates an attempt row. Parameters 1 to 10 are kAttemptColumns. The update keeps
// the stored start time unless the record brings one (?11).
const std::string& attempt_upsert_sql() {
  static const std::string sql =
      "INSERT INTO attempts (" + std::string(kAttemptColumns) +
      ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (run_id, task_id, attempt) DO UPDATE SET agent_id = excluded.agent_id, "
      "started_at = COALESCE(?11, attempts.started_at, excluded.started_at), "
      "finished_at = excluded.finished_at, outcome = excluded.outcome, error = excluded.error, "
      "prompt_tokens = excluded.prompt_tokens, output_tokens = excluded.output_tokens";
  return sql;
}

// Reads the first column of the row that `sql` selects with `keys` bound, as optional text:
// nullopt when there is no row, "" when the column is NULL.
template <typename... Keys>
Result<std::optional<std::string>> read_optional_text(Database& database, std::string_view sql,
                                                      const Keys&... keys) {
  Result<Statement> query = database.prepare(sql);
  if (!query.is_ok()) {
    return query.status();
  }
  if (Status bound = query->bind_all(keys...); !bound.is_ok()) {
    return bound;
  }
  Result<bool> row = query->step();
  if (!row.is_ok()) {
    return row.status();
  }
  if (!row.value()) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(query->column_text(0));
}

}  // namespace

// --- plans ---

Status Journal::add_plan(PlanRecord plan) {
  if (Status valid = require_nonempty("plan", "run id", plan.run_id); !valid.is_ok()) {
    return valid;
  }
  if (Status valid = require_positive("attempt", plan.attempt, "plan"); !valid.is_ok()) {
    return valid;
  }
  if (plan.created_at.empty()) {
    plan.created_at = now_text();
  }
  return write("add_plan", [&]() -> Status {
    if (Status exists = check_run_exists(plan.run_id); !exists.is_ok()) {
      return exists;
    }
    Result<std::optional<std::string>> stored = read_optional_text(
        database_, "SELECT created_at FROM plans WHERE run_id = ? AND attempt = ?", plan.run_id,
        plan.attempt);
    if (!stored.is_ok()) {
      return stored.status();
    }
    if (stored->has_value()) {
      return Status(ErrorCode::kConflict, "run '" + plan.run_id + "' already has plan attempt " +
                                              std::to_string(plan.attempt) +
                                              "; number each attempt once");
    }
    Result<Statement> insert = database_.prepare("INSERT INTO plans (" + std::string(kPlanColumns) +
                                                 ") VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!insert.is_ok()) {
      return insert.status();
    }
    Status bound = insert->bind_all(plan.run_id, plan.attempt, json_text(plan.plan), plan.accepted,
                                    json_text(plan.errors), plan.raw_reply, plan.created_at);
    return bound.is_ok() ? insert->run() : bound;
  });
}

Result<std::vector<PlanRecord>> Journal::plans_for_run(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  if (Status exists = check_run_exists(run_id); !exists.is_ok()) {
    return exists;
  }
  return query_rows<PlanRecord>(
      database_,
      "SELECT " + std::string(kPlanColumns) + " FROM plans WHERE run_id = ? ORDER BY attempt",
      [&](const Statement& row) { return read_plan_row(row, path_); }, run_id);
}

Result<PlanRecord> Journal::accepted_plan(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  if (Status exists = check_run_exists(run_id); !exists.is_ok()) {
    return exists;
  }
  Result<std::vector<PlanRecord>> plans = query_rows<PlanRecord>(
      database_,
      "SELECT " + std::string(kPlanColumns) +
          " FROM plans WHERE run_id = ? AND accepted = 1 ORDER BY attempt DESC LIMIT 1",
      [&](const Statement& row) { return read_plan_row(row, path_); }, run_id);
  if (!plans.is_ok()) {
    return plans.status();
  }
  if (plans->empty()) {
    return Status(ErrorCode::kNotFound, "run '" + run_id +
                                            "' has no accepted plan, so it cannot be resumed; "
                                            "start the goal again without --resume");
  }
  return std::move(plans->front());
}

// --- tasks ---

Status Journal::upsert_task(TaskRecord task) {
  Result<std::function<Status()>> body = task_write(std::move(task));
  return body.is_ok() ? write("upsert_task", *body) : body.status();
}

void Journal::post_task(TaskRecord task) {
  Result<std::function<Status()>> body = task_write(std::move(task));
  if (!body.is_ok()) {
    get_logger("store")->warn("journal task write rejected path={} error={}", path_,
                              body.status().message());
    return;
  }
  post("upsert_task", std::move(body).value());
}

Result<std::function<Status()>> Journal::task_write(TaskRecord task) {
  for (const auto& [field, value] :
       {std::pair{"run id", &task.run_id}, {"id", &task.task_id}, {"status", &task.status}}) {
    if (Status valid = require_nonempty("task", field, *value); !valid.is_ok()) {
      return valid;
    }
  }
  // The times that a new row gets. An update keeps the stored ones (task_upsert_sql).
  const std::string now = now_text();
  std::optional<std::string> given_start = text_or_null(task.started_at);
  const bool keep_finish = task.finished_at.empty() && is_terminal_task_status(task.status);
  if (task.started_at.empty() && task.status == kTaskRunning) {
    task.started_at = now;
  }
  if (keep_finish) {
    task.finished_at = now;
  }
  // The body owns its record, because a posted write runs after this call has returned.
  return std::function<Status()>([this, task = std::move(task),
                                  given_start = std::move(given_start), keep_finish]() -> Status {
    if (Status exists = check_run_exists(task.run_id); !exists.is_ok()) {
      return exists;
    }
    Result<Statement> upsert = database_.prepare(task_upsert_sql());
    if (!upsert.is_ok()) {
      return upsert.status();
    }
    Status bound = upsert->bind_all(
        task.run_id, task.task_id, task.title, task.role, task.status, task.agent_id, task.model,
        text_or_null(task.started_at), text_or_null(task.finished_at), task.duration_s,
        task.prompt_tokens, task.output_tokens, *json_text(nlohmann::json(task.files)),
        task.summary, task.error, task.failed_prompt_tokens, task.failed_output_tokens, given_start,
        keep_finish);
    return bound.is_ok() ? upsert->run() : bound;
  });
}

Result<TaskRecord> Journal::get_task(const std::string& run_id, const std::string& task_id) {
  std::lock_guard lock(mutex_);
  Result<std::vector<TaskRecord>> tasks = query_rows<TaskRecord>(
      database_,
      "SELECT " + task_select_columns(schema_version_) +
          " FROM tasks WHERE run_id = ? AND task_id = ?",
      [&](const Statement& row) { return read_task_row(row, path_); }, run_id, task_id);
  if (!tasks.is_ok()) {
    return tasks.status();
  }
  if (tasks->empty()) {
    if (Status exists = check_run_exists(run_id); !exists.is_ok()) {
      return exists;
    }
    return Status(ErrorCode::kNotFound, "task '" + task_id + "' not found in run '" + run_id +
                                            "'; `ollama-flow runs show " + run_id +
                                            "` lists its tasks");
  }
  return std::move(tasks->front());
}

Result<std::vector<TaskRecord>> Journal::tasks_for_run(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  if (Status exists = check_run_exists(run_id); !exists.is_ok()) {
    return exists;
  }
  return query_rows<TaskRecord>(
      database_,
      "SELECT " + task_select_columns(schema_version_) +
          " FROM tasks WHERE run_id = ? ORDER BY rowid",
      [&](const Statement& row) { return read_task_row(row, path_); }, run_id);
}

Result<std::vector<TaskRecord>> Journal::succeeded_tasks(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  if (Status exists = check_run_exists(run_id); !exists.is_ok()) {
    return exists;
  }
  return query_rows<TaskRecord>(
      database_,
      "SELECT " + task_select_columns(schema_version_) +
          " FROM tasks WHERE run_id = ? AND status = ? ORDER BY rowid",
      [&](const Statement& row) { return read_task_row(row, path_); }, run_id, kTaskSucceeded);
}

Result<std::vector<std::string>> Journal::succeeded_task_ids(const std::string& run_id) {
  Result<std::vector<TaskRecord>> tasks = succeeded_tasks(run_id);
  if (!tasks.is_ok()) {
    return tasks.status();
  }
  std::vector<std::string> ids;
  ids.reserve(tasks->size());
  for (TaskRecord& task : tasks.value()) {
    ids.push_back(std::move(task.task_id));
  }
  return ids;
}

// --- attempts ---

Status Journal::record_attempt(AttemptRecord attempt) {
  Result<std::function<Status()>> body = attempt_write(std::move(attempt));
  return body.is_ok() ? write("record_attempt", *body) : body.status();
}

void Journal::post_attempt(AttemptRecord attempt) {
  Result<std::function<Status()>> body = attempt_write(std::move(attempt));
  if (!body.is_ok()) {
    get_logger("store")->warn("journal attempt rejected path={} error={}", path_,
                              body.status().message());
    return;
  }
  post("record_attempt", std::move(body).value());
}

Result<std::function<Status()>> Journal::attempt_write(AttemptRecord attempt) {
  if (Status valid = require_nonempty("attempt", "run id", attempt.run_id); !valid.is_ok()) {
    return valid;
  }
  if (Status valid = require_nonempty("attempt", "task id", attempt.task_id); !valid.is_ok()) {
    return valid;
  }
  if (Status valid = require_positive("number", attempt.attempt, "attempt"); !valid.is_ok()) {
    return valid;
  }
  // The start time that a new row gets. An update keeps the stored one (attempt_upsert_sql).
  std::optional<std::string> given_start = text_or_null(attempt.started_at);
  if (attempt.started_at.empty()) {
    attempt.started_at = now_text();
  }
  return std::function<Status()>([this, attempt = std::move(attempt),
                                  given_start = std::move(given_start)]() -> Status {
    if (Status exists = check_run_exists(attempt.run_id); !exists.is_ok()) {
      return exists;
    }
    Result<Statement> upsert = database_.prepare(attempt_upsert_sql());
    if (!upsert.is_ok()) {
      return upsert.status();
    }
    Status bound =
        upsert->bind_all(attempt.run_id, attempt.task_id, attempt.attempt, attempt.agent_id,
                         attempt.started_at, text_or_null(attempt.finished_at), attempt.outcome,
                         attempt.error, attempt.prompt_tokens, attempt.output_tokens, given_start);
    return bound.is_ok() ? upsert->run() : bound;
  });
}

Result<std::vector<AttemptRecord>> Journal::attempts_for_task(const std::string& run_id,
                                                              const std::string& task_id) {
  std::lock_guard lock(mutex_);
  if (Status exists = check_run_exists(run_id); !exists.is_ok()) {
    return exists;
  }
  return query_rows<AttemptRecord>(database_,
                                   "SELECT " + std::string(kAttemptColumns) +
                                       " FROM attempts WHERE run_id = ? AND task_id = ? "
                                       "ORDER BY attempt",
                                   read_attempt_row, run_id, task_id);
}

Result<std::vector<AttemptRecord>> Journal::attempts_for_run(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  if (Status exists = check_run_exists(run_id); !exists.is_ok()) {
    return exists;
  }
  return query_rows<AttemptRecord>(
      database_,
      "SELECT " + std::string(kAttemptColumns) + " FROM attempts WHERE run_id = ? ORDER BY rowid",
      read_attempt_row, run_id);
}

}  // namespace ollamaflow::store
