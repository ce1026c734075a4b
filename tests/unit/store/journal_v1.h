// The run journal's schema at version 1, as ollama-flow created it before the run status
// 'planned' existed. Tests create files with it to check the migration to later versions, so
// it stays as written even when the schema changes.
#pragma once

#include <string_view>

namespace ollamaflow::store {

inline constexpr std::string_view kJournalSchemaV1 = R"sql(
CREATE TABLE schema_version (
  version INTEGER PRIMARY KEY,
  description TEXT NOT NULL,
  applied_at TEXT NOT NULL
);
INSERT INTO schema_version (version, description, applied_at)
  VALUES (1, 'runs, plans, tasks, attempts, events and scaling events',
          '2025-06-01T00:00:00.000Z');

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

// Runs journaled by a version 1 build: a run that executed tasks, a --plan-only run (succeeded
// without a workspace), a failed run and a --plan-only run whose planning failed, with rows in
// every table that references runs.
inline constexpr std::string_view kJournalRowsV1 = R"sql(
INSERT INTO runs (id, goal, status, backend, model, strategy, workspace, config, started_at,
                  finished_at, exit_code, report, pid, host)
VALUES
  ('r-done', 'write a game', 'succeeded', 'ollama', 'llama3.1:8b', 'HYBRID', '/tmp/ws-done',
   '{"run":{"agents":4}}', '2025-06-01T10:00:00.000Z', '2025-06-01T10:05:00.000Z', 0,
   '{"status":"succeeded"}', 4100, 'node-a'),
  ('r-plan', 'plan a game', 'succeeded', 'sim', '', 'fixed', '', NULL,
   '2025-06-01T11:00:00.000Z', '2025-06-01T11:00:01.000Z', 0, '{"status":"succeeded"}', 4101,
   'node-a'),
  ('r-failed', 'write a server', 'failed', 'ollama', 'llama3.1:8b', 'fixed', '/tmp/ws-failed',
   NULL, '2025-06-01T12:00:00.000Z', '2025-06-01T12:01:00.000Z', 1, NULL, 4102, 'node-a'),
  ('r-plan-failed', 'plan a server', 'failed', 'ollama', 'llama3.1:8b', 'fixed', '', NULL,
   '2025-06-01T13:00:00.000Z', '2025-06-01T13:00:30.000Z', 1, NULL, 4103, 'node-a');
INSERT INTO plans (run_id, attempt, plan, accepted, errors, raw_reply, created_at)
VALUES
  ('r-done', 1, '{"tasks":[]}', 1, NULL, '{}', '2025-06-01T10:00:01.000Z'),
  ('r-plan', 1, '{"tasks":[]}', 1, NULL, '{}', '2025-06-01T11:00:01.000Z');
INSERT INTO tasks (run_id, task_id, title, role, status)
  VALUES ('r-done', 'design', 'Design', 'architect', 'succeeded');
INSERT INTO attempts (run_id, task_id, attempt, agent_id, started_at, outcome)
  VALUES ('r-done', 'design', 1, 'agent-1', '2025-06-01T10:00:02.000Z', 'ok');
INSERT INTO events (run_id, time, kind, detail)
VALUES
  ('r-done', '2025-06-01T10:00:02.000Z', 'task_queued', '{"task":"design"}'),
  (NULL, '2025-06-01T09:00:00.000Z', 'service_started', NULL);
INSERT INTO scaling_events (run_id, time, action, from_count, to_count)
  VALUES ('r-done', '2025-06-01T10:00:03.000Z', 'scale_up', 1, 2);
)sql";

}  // namespace ollamaflow::store
