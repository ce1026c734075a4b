// The run journal: a SQLite file that records runs, plan attempts, tasks, task attempts, events
// and scaling events, so that a run can be inspected afterwards and resumed after a crash.
//
// Thread-safety: every method may be called from any thread. A Journal holds one connection
// guarded by one mutex. Writes that arrive while another thread is committing are queued and then
// committed together in one transaction (group commit), so that concurrent writers share the cost
// of one commit. Each blocking write call returns only after its own rows are committed, with its
// own status. Posted writes (post_task, post_attempt, post_event) return at once. A writer
// thread commits them after letting more gather for up to 2 ms of real time, so that a busy run
// makes few, larger transactions. Several Journals, in one process or many, may open the same file:
// every write is a BEGIN IMMEDIATE transaction that waits on the busy timeout for the other writers
// and is re-run when it still fails with SQLITE_BUSY.
//
// Failure policy: a write that fails inside SQLite (I/O error, full disk, lock held past every
// retry, broken schema) is sticky. Every later write returns that error and health() reports it,
// so that no row is dropped silently. The other writes of the same group commit are rolled back
// and fail with it. Rejected input (an empty id, an unknown run) returns its error without making
// the journal fail or affecting other writes. Reads keep working after a failure.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/status.h"
#include "store/records.h"
#include "store/sqlite.h"

namespace ollamaflow::store {

// Returns $XDG_DATA_HOME/ollama-flow/journal.db when XDG_DATA_HOME is an absolute path, else
// $HOME/.local/share/ollama-flow/journal.db. Returns kNotFound when neither variable is usable.
Result<std::string> default_journal_path(const EnvLookup& env);

// Returns whether process `pid` exists on this host, using kill(pid, 0).
bool process_exists(int64_t pid);

struct JournalOptions {
  // Source of every stored time (wall_now) and of the pauses between busy retries; the system
  // clock when null.
  std::shared_ptr<Clock> clock;
  DatabaseOptions database;
  // Identity stored in the runs that this journal creates or reopens: 0 means getpid(), empty
  // means gethostname().
  int64_t pid = 0;
  std::string host;
  // Tells whether a process on this host exists; process_exists when null.
  std::function<bool(int64_t pid)> process_alive;
};

class Journal {
 public:
  // Opens or creates the journal at `path`, creating its parent folders and applying schema
  // migrations. Returns kInvalidArgument for a path that the user must change with --db. Such a
  // path is a folder, a file that is not an SQLite database, another program's database, a file
  // or folder that cannot be opened or created, or a file written by a newer ollama-flow. Returns
  // kPermissionDenied for a read-only file or folder, kCorrupt for a damaged SQLite file, and
  // kIoError for other failures. An info log line names the topmost parent folder it created.
  static Result<std::unique_ptr<Journal>> open(const std::string& path,
                                               JournalOptions options = {});
  // Opens an existing journal for commands that only read it. The file is opened read-only and
  // its journal mode and schema are left as they are, so a journal on a read-only file or
  // folder can be read. Returns kNotFound when the file does not exist, and kInvalidArgument
  // for a folder, a file that is not a journal, or a schema that is not this ollama-flow's (a
  // command that writes upgrades an older one).
  // Every write returns kPermissionDenied, saying that the journal was opened read-only.
  static Result<std::unique_ptr<Journal>> open_read_only(const std::string& path,
                                                         JournalOptions options = {});

  // Commits the writes still posted.
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  const std::string& path() const { return path_; }
  int schema_version() const { return schema_version_; }
  // Returns ok, or the first write failure, after which every write fails.
  Status health() const;
  // Commits every write posted so far and returns health().
  Status flush();
  // Returns how often a write transaction was re-run because another connection held the lock.
  int64_t busy_retries() const;
  // Returns the clock's wall time as stored in the journal.
  std::string now_text() const;

  // --- runs ---

  // Stores a new run with status running, started now by this process. Generates an id such as
  // "r-20261204-155107-ab12" when run.id is empty. Returns the stored record; kConflict when a
  // run with the given id exists, kInvalidArgument when the goal is empty.
  Result<RunRecord> create_run(RunRecord run);
  // Marks a running run finished with `status` (any but kRunning and kUnknown) now. Returns
  // kNotFound for an unknown run, kConflict for a run that is not running.
  Status finish_run(const std::string& run_id, RunStatus status, int exit_code,
                    const nlohmann::json& report);
  // Sets a run back to running for resume, owned by this process, and returns it. Returns
  // kConflict when another live process on this host still runs it, or when its stored status
  // is one that this version does not know.
  Result<RunRecord> reopen_run(const std::string& run_id);
  // Returns the newest `limit` runs, newest first. A run stored as running whose process on this
  // host no longer exists is returned as kInterrupted, and a run whose status text this version
  // does not know as kUnknown with that text in stored_status.
  Result<std::vector<RunRecord>> list_runs(int limit);
  // Returns the number of stored runs.
  Result<int64_t> count_runs();
  // Returns one run, with the same status rules as list_runs; kNotFound for an unknown id.
  Result<RunRecord> get_run(const std::string& run_id);

  // --- plans ---

  // Stores one plan attempt, stamping created_at now when empty. Returns kConflict when the run
  // already has this attempt number.
  Status add_plan(PlanRecord plan);
  // Returns the run's plan attempts in attempt order.
  Result<std::vector<PlanRecord>> plans_for_run(const std::string& run_id);
  // Returns the last accepted plan of the run; kNotFound when none was accepted.
  Result<PlanRecord> accepted_plan(const std::string& run_id);

  // --- tasks ---

  // Inserts or replaces the task row (run_id, task_id). An empty started_at keeps the stored
  // value, or is stamped now the first time the status is "running". An empty finished_at keeps
  // the stored value or is stamped now when the status is terminal, and is cleared otherwise.
  // Returns kNotFound for an unknown run.
  Status upsert_task(TaskRecord task);
  // Like upsert_task, but queues the write for the next group commit and returns at once. For
  // progress rows that no caller waits on: a later blocking write or flush() commits it first
  // (writes commit in call order). A rejected record or a failed commit is logged; a failure
  // inside SQLite is sticky as for every write.
  void post_task(TaskRecord task);
  // Returns one task; kNotFound when the run has no such task.
  Result<TaskRecord> get_task(const std::string& run_id, const std::string& task_id);
  // Returns the run's tasks in the order they were first stored.
  Result<std::vector<TaskRecord>> tasks_for_run(const std::string& run_id);
  // Returns the ids of the run's succeeded tasks, in the order they were first stored.
  Result<std::vector<std::string>> succeeded_task_ids(const std::string& run_id);
  // Returns the run's succeeded tasks with their summaries and files, for a resumed run to hand
  // to dependent tasks.
  Result<std::vector<TaskRecord>> succeeded_tasks(const std::string& run_id);

  // --- attempts ---

  // Inserts or replaces the attempt row (run_id, task_id, attempt), stamping started_at now when
  // empty and not stored before. Returns kNotFound for an unknown run.
  Status record_attempt(AttemptRecord attempt);
  // Like record_attempt, but queued as post_task queues its row.
  void post_attempt(AttemptRecord attempt);
  // Returns the attempts of one task in attempt order.
  Result<std::vector<AttemptRecord>> attempts_for_task(const std::string& run_id,
                                                       const std::string& task_id);
  // Returns every attempt of the run in the order they were first stored.
  Result<std::vector<AttemptRecord>> attempts_for_run(const std::string& run_id);

  // --- events ---

  // Appends an event, stamping its time now when empty, and returns its id.
  Result<int64_t> add_event(EventRecord event);
  // Like add_event, but queued as post_task queues its row.
  void post_event(EventRecord event);
  // Returns the run's events, oldest first.
  Result<std::vector<EventRecord>> events_for_run(const std::string& run_id);

  // Appends a scaling event, stamping its time now when empty, and returns its id.
  Result<int64_t> add_scaling_event(ScalingEventRecord event);
  // Returns the run's scaling events, oldest first.
  Result<std::vector<ScalingEventRecord>> scaling_events_for_run(const std::string& run_id);
  // Returns the newest `limit` scaling events of all runs and of none, newest first.
  Result<std::vector<ScalingEventRecord>> recent_scaling_events(int limit);

 private:
  Journal(std::string path, Database database, JournalOptions options, int schema_version);

  // One write in queue_: a blocking call waiting for its commit, or a posted write that owns
  // its body and is deleted by the leader that commits it.
  struct PendingWrite {
    const char* operation = nullptr;
    const std::function<Status()>* body = nullptr;
    Status status;
    bool done = false;
    bool posted = false;
    std::function<Status()> owned_body;
    // Wakes the blocking caller alone: when its write is done, or when it is to lead the next
    // commit. Unused for posted writes.
    std::condition_variable wake;
  };

  // Queues `body` for the next group commit and waits until it is committed or rejected, applying
  // the sticky failure rule.
  Status write(const char* operation, const std::function<Status()>& body);
  // Queues `body` without waiting, for the writer thread (started on the first post).
  void post(const char* operation, std::function<Status()> body);
  // The bodies behind post_task and post_event and their blocking twins.
  Result<std::function<Status()>> task_write(TaskRecord task);
  Result<std::function<Status()>> attempt_write(AttemptRecord attempt);
  // The writer thread: commits posted writes after letting more of them gather for a moment.
  void run_writer();
  Result<std::function<Status()>> event_write(EventRecord event, std::shared_ptr<int64_t> id);
  // Commits the oldest queued writes as the leader, and goes on while only posted writes are
  // left (no other thread would commit them). Called and returns with queue_mutex_ held.
  void lead_group_commit(std::unique_lock<std::mutex>& queue_lock);
  // Runs the bodies of `batch` in one transaction under mutex_ and sets each one's status.
  // Returns the sticky failure when SQLite failed, else ok.
  Status commit_batch(const std::vector<PendingWrite*>& batch);
  // Marks `write` done: deletes a posted write, wakes the caller of a blocking one. Called with
  // queue_mutex_ held.
  void finish_write(PendingWrite* write);
  // Marks a run whose owning process is gone as interrupted (in the returned copy only).
  void apply_liveness(RunRecord& run) const;
  // Returns ok when the run exists, else kNotFound. Inside a group commit's transaction, a run
  // found once is not looked up again, because no write deletes a run and the transaction holds
  // the write lock.
  Status check_run_exists(const std::string& run_id);
  Result<std::optional<RunRecord>> find_run(const std::string& run_id);
  // Generates an id into `run_id` when `generate` is set, else checks the given one is free.
  Status choose_run_id(std::string& run_id, bool generate);
  std::string generate_run_id();

  const std::string path_;
  const JournalOptions options_;
  const int schema_version_;

  mutable std::mutex mutex_;
  // Guarded by mutex_.
  Database database_;
  std::mt19937 random_;
  // Runs that check_run_exists found in the current group commit's transaction. commit_batch
  // clears it whenever it starts or ends a transaction body.
  std::vector<std::string> runs_found_in_transaction_;

  // Lock order: no thread holds queue_mutex_ and mutex_ at the same time.
  mutable std::mutex queue_mutex_;
  // Wakes the writer thread and the destructor when a commit ends. Blocking writers wait on
  // their own PendingWrite::wake instead, so that a commit wakes only the callers it concerns.
  std::condition_variable committed_;
  // Guarded by queue_mutex_.
  std::deque<PendingWrite*> queue_;
  bool committing_ = false;
  Status failure_;
  std::condition_variable posted_;  // wakes the writer thread
  bool closing_ = false;            // guarded by queue_mutex_
  std::thread writer_;              // started under queue_mutex_ by the first post
  // Posts after a failure are dropped, one log line each: a run posts one per task event.
  LogRateLimiter dropped_log_{get_logger("store"), spdlog::level::warn, "journal write dropped", 3,
                              std::chrono::seconds(60)};
};

}  // namespace ollamaflow::store
