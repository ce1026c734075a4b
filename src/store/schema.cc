#include "store/schema.h"

#include <string>

#include "core/log.h"

namespace ollamaflow::store {

namespace {

// Times are ISO-8601 UTC text with milliseconds, which sorts in time order. JSON columns hold
// text; NULL means "not recorded".
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  goal TEXT NOT NULL,
  status TEXT NOT NULL
    CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
  backend TEXT NOT NULL DEFAULT '',
  model TEXT NOT NULL DEFAULT '',
  strategy TEXT NOT NULL DEFAULT '',
  workspace TEXT NOT NULL DEFAULT '',
  config TEXT,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  exit_code INTEGER,
  report TEXT,
  pid INTEGER NOT NULL,
  host TEXT NOT NULL
);
CREATE INDEX runs_by_start ON runs (started_at);

CREATE TABLE plans (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  attempt INTEGER NOT NULL,
  plan TEXT,
  accepted INTEGER NOT NULL CHECK (accepted IN (0, 1)),
  errors TEXT,
  raw_reply TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  PRIMARY KEY (run_id, attempt)
);

CREATE TABLE tasks (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  task_id TEXT NOT NULL,
  title TEXT NOT NULL DEFAULT '',
  role TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  agent_id TEXT NOT NULL DEFAULT '',
  model TEXT NOT NULL DEFAULT '',
  started_at TEXT,
  finished_at TEXT,
  duration_s REAL,
  prompt_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  files TEXT NOT NULL DEFAULT '[]',
  summary TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, task_id)
);

CREATE TABLE attempts (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  task_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  agent_id TEXT NOT NULL DEFAULT '',
  started_at TEXT NOT NULL,
  finished_at TEXT,
  outcome TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT '',
  prompt_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, task_id, attempt)
);

CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  run_id TEXT REFERENCES runs (id) ON DELETE CASCADE,
  time TEXT NOT NULL,
  kind TEXT NOT NULL,
  detail TEXT
);
CREATE INDEX events_by_run ON events (run_id, id);

CREATE TABLE scaling_events (
  id INTEGER PRIMARY KEY,
  run_id TEXT REFERENCES runs (id) ON DELETE CASCADE,
  time TEXT NOT NULL,
  action TEXT NOT NULL,
  from_count INTEGER NOT NULL,
  to_count INTEGER NOT NULL,
  strategy TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  gpu_memory_used_mib REAL,
  gpu_memory_free_mib REAL,
  gpu_utilization_percent REAL,
  queue_length INTEGER NOT NULL DEFAULT 0,
  outcome TEXT NOT NULL DEFAULT '',
  duration_s REAL,
  decision TEXT
);
CREATE INDEX scaling_events_by_run ON scaling_events (run_id, id);
)sql";

// Adds the run status 'planned'. SQLite cannot alter a CHECK constraint, so the runs table is
// rebuilt as "Making Other Kinds Of Table Schema Changes" in
// https://www.sqlite.org/lang_altertable.html describes: create the new table, copy the rows, drop
// the old table and rename the new one. migrate() turns foreign key enforcement off around it,
// because dropping runs would otherwise cascade to every table that references it. The final
// UPDATE gives earlier --plan-only runs the new status: only such a run succeeds without a
// workspace, and it has no task rows. Their stored reports keep the status they were printed with.
constexpr std::string_view kSchemaV2 = R"sql(
CREATE TABLE runs_new (
  id TEXT PRIMARY KEY,
  goal TEXT NOT NULL,
  status TEXT NOT NULL
    CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled', 'interrupted', 'planned')),
  backend TEXT NOT NULL DEFAULT '',
  model TEXT NOT NULL DEFAULT '',
  strategy TEXT NOT NULL DEFAULT '',
  workspace TEXT NOT NULL DEFAULT '',
  config TEXT,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  exit_code INTEGER,
  report TEXT,
  pid INTEGER NOT NULL,
  host TEXT NOT NULL
);
INSERT INTO runs_new (id, goal, status, backend, model, strategy, workspace, config, started_at,
                      finished_at, exit_code, report, pid, host)
  SELECT id, goal, status, backend, model, strategy, workspace, config, started_at, finished_at,
         exit_code, report, pid, host
  FROM runs;
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
CREATE INDEX runs_by_start ON runs (started_at);
UPDATE runs SET status = 'planned'
  WHERE status = 'succeeded' AND workspace = ''
    AND NOT EXISTS (SELECT 1 FROM tasks WHERE tasks.run_id = runs.id);
)sql";

// Adds to each task row the part of its tokens that failed requests spent, so that a resumed run
// reports the same split as an uninterrupted one. Rows from before this version get an estimate
// from their attempt rows: the tokens of the attempts that did not end "ok", at most the task's
// own count. NOTE: the tries that the client retried within an accepted attempt are part of that
// attempt's row, so the estimate counts them as accepted.
constexpr std::string_view kSchemaV3 = R"sql(
ALTER TABLE tasks ADD COLUMN failed_prompt_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN failed_output_tokens INTEGER NOT NULL DEFAULT 0;
UPDATE tasks SET
  failed_prompt_tokens = min(prompt_tokens, (
    SELECT coalesce(sum(attempts.prompt_tokens), 0) FROM attempts
    WHERE attempts.run_id = tasks.run_id AND attempts.task_id = tasks.task_id
      AND attempts.outcome != 'ok')),
  failed_output_tokens = min(output_tokens, (
    SELECT coalesce(sum(attempts.output_tokens), 0) FROM attempts
    WHERE attempts.run_id = tasks.run_id AND attempts.task_id = tasks.task_id
      AND attempts.outcome != 'ok'));
)sql";

constexpr Migration kJournalMigrations[] = {
    {1, "runs, plans, tasks, attempts, events and scaling events", kSchemaV1},
    {2, "run status planned", kSchemaV2},
    {3, "tokens of failed requests per task", kSchemaV3},
};

constexpr std::string_view kCreateVersionTable = R"sql(
CREATE TABLE IF NOT EXISTS schema_version (
  version INTEGER PRIMARY KEY,
  description TEXT NOT NULL,
  applied_at TEXT NOT NULL
))sql";

Status validate_sequence(std::span<const Migration> migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    const int expected = static_cast<int>(i) + 1;
    if (migrations[i].version != expected) {
      return Status(ErrorCode::kInvalidArgument,
                    "migration list is invalid: entry " + std::to_string(i) + " has version " +
                        std::to_string(migrations[i].version) + ", expected " +
                        std::to_string(expected) + "; number migrations 1, 2, 3, ...");
    }
  }
  return Status::ok();
}

Status apply_migration(Database& database, const Migration& migration,
                       const std::string& applied_at) {
  if (Status applied = database.exec(migration.sql); !applied.is_ok()) {
    return applied.with_context("schema migration " + std::to_string(migration.version));
  }
  Result<Statement> record = database.prepare(
      "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)");
  if (!record.is_ok()) {
    return record.status();
  }
  if (Status bound = record->bind_all(migration.version, migration.description, applied_at);
      !bound.is_ok()) {
    return bound;
  }
  return record->run();
}

Result<bool> foreign_keys_enforced(Database& database) {
  Result<Statement> query = database.prepare("PRAGMA foreign_keys");
  if (!query.is_ok()) {
    return query.status();
  }
  Result<bool> row = query->step();
  if (!row.is_ok()) {
    return row.status();
  }
  return row.value() && query->column_int64(0) == 1;
}

// Rejects with kCorrupt a file in which a row's foreign key names no row. Migrations run without
// foreign key enforcement, so this check runs before their transaction commits.
Status check_foreign_keys(Database& database) {
  Result<Statement> check = database.prepare("PRAGMA foreign_key_check");
  if (!check.is_ok()) {
    return check.status();
  }
  Result<bool> row = check->step();
  if (!row.is_ok()) {
    return row.status();
  }
  if (!row.value()) {
    return Status::ok();
  }
  // The columns of a violation: child table, rowid of the child row, parent table, key index.
  return Status(ErrorCode::kCorrupt,
                "database '" + database.path() + "': row " +
                    std::to_string(check->column_int64(1)) + " of table " + check->column_text(0) +
                    " references a row of table " + check->column_text(2) +
                    " that does not exist, so the schema migration was rolled back. Delete that "
                    "row with the sqlite3 shell, or move the file aside so that a new journal is "
                    "created");
}

// Reads the version inside the transaction, so that two processes opening a new file at once
// apply each migration exactly once.
Status migrate_in_transaction(Database& database, std::span<const Migration> migrations,
                              const std::string& applied_at, int& version) {
  if (Status created = database.exec(kCreateVersionTable); !created.is_ok()) {
    return created;
  }
  Result<int> current = read_schema_version(database);
  if (!current.is_ok()) {
    return current.status();
  }
  version = current.value();
  const int latest = latest_version(migrations);
  if (version > latest) {
    return Status(ErrorCode::kInvalidArgument,
                  "database '" + database.path() + "' has journal schema version " +
                      std::to_string(version) + ", newer than the version " +
                      std::to_string(latest) +
                      " this ollama-flow supports; upgrade ollama-flow or pass --db with "
                      "another file");
  }
  for (const Migration& migration : migrations) {
    if (migration.version <= version) {
      continue;
    }
    if (Status applied = apply_migration(database, migration, applied_at); !applied.is_ok()) {
      return applied;
    }
    version = migration.version;
  }
  return version == current.value() ? Status::ok() : check_foreign_keys(database);
}

}  // namespace

std::span<const Migration> journal_migrations() {
  return kJournalMigrations;
}

int latest_version(std::span<const Migration> migrations) {
  return migrations.empty() ? 0 : migrations.back().version;
}

Result<int> read_schema_version(Database& database) {
  Result<Statement> exists = database.prepare(
      "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'");
  if (!exists.is_ok()) {
    return exists.status();
  }
  if (Result<bool> row = exists->step(); !row.is_ok()) {
    return row.status();
  }
  if (exists->column_int64(0) == 0) {
    return 0;
  }
  Result<Statement> query =
      database.prepare("SELECT coalesce(max(version), 0) FROM schema_version");
  if (!query.is_ok()) {
    return query.status();
  }
  if (Result<bool> row = query->step(); !row.is_ok()) {
    return row.status();
  }
  return static_cast<int>(query->column_int64(0));
}

Result<int> migrate(Database& database, std::span<const Migration> migrations,
                    const std::string& applied_at) {
  if (Status valid = validate_sequence(migrations); !valid.is_ok()) {
    return valid;
  }
  Result<int> before = read_schema_version(database);
  if (!before.is_ok()) {
    return before.status();
  }
  // A migration that rebuilds a table drops the old one, and with foreign keys enforced that
  // DROP deletes every row that references the table (ON DELETE CASCADE). So enforcement is off
  // while migrations run, as SQLite's procedure for altering a table prescribes. SQLite ignores
  // PRAGMA foreign_keys inside a transaction, so it is set around the transaction.
  Result<bool> enforced = foreign_keys_enforced(database);
  if (!enforced.is_ok()) {
    return enforced.status();
  }
  const bool pause_enforcement = enforced.value() && before.value() < latest_version(migrations);
  if (pause_enforcement) {
    if (Status paused = database.exec("PRAGMA foreign_keys=OFF"); !paused.is_ok()) {
      return paused;
    }
  }
  int version = 0;
  Status status = database.transaction(
      [&] { return migrate_in_transaction(database, migrations, applied_at, version); });
  if (pause_enforcement) {
    if (Status restored = database.exec("PRAGMA foreign_keys=ON"); !restored.is_ok()) {
      return status.is_ok() ? restored : status;
    }
  }
  if (!status.is_ok()) {
    return status;
  }
  if (version != before.value()) {
    get_logger("store")->info("journal schema migrated path={} from={} to={}", database.path(),
                              before.value(), version);
  }
  return version;
}

}  // namespace ollamaflow::store
