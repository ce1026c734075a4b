// Journal writes under contention: another process holding the write lock, eight writer threads,
// and the sticky failure after a write that could not be stored.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fakes/test_paths.h"
#include "store/journal.h"
#include "store/schema.h"

namespace ollamaflow::store {
namespace {

using ::testing::HasSubstr;

constexpr int kThreads = 8;

// Runs in a forked child and exits. Takes the write lock with BEGIN IMMEDIATE, writes one event
// and reports 'L' (or 'F' on failure) on `ready_fd`. Then keeps the lock for `hold` of real time
// and sends the monotonic time in nanoseconds on `released_fd` just before COMMIT.
[[noreturn]] void hold_write_lock(const std::string& path, const std::string& run_id, int ready_fd,
                                  int released_fd, Duration hold) {
  Result<Database> database = Database::open(path);
  bool locked = database.is_ok() && database->exec("BEGIN IMMEDIATE").is_ok() &&
                database
                    ->exec("INSERT INTO events (run_id, time, kind) VALUES ('" + run_id +
                           "', '2026-01-01T00:00:00.000Z', 'lock_held')")
                    .is_ok();
  const char report = locked ? 'L' : 'F';
  if (write(ready_fd, &report, 1) != 1 || !locked) {
    _exit(1);
  }
  system_clock()->sleep_for(hold);
  const int64_t released_ns = system_clock()->now().time_since_epoch().count();
  if (write(released_fd, &released_ns, sizeof(released_ns)) != sizeof(released_ns)) {
    _exit(2);
  }
  _exit(database->exec("COMMIT").is_ok() ? 0 : 3);
}

// Counts failed writes across threads and keeps the first message.
class FailureLog {
 public:
  void check(const Status& status) {
    if (status.is_ok()) {
      return;
    }
    std::lock_guard lock(mutex_);
    if (count_++ == 0) {
      first_ = status.to_string();
    }
  }
  int count() const { return count_; }
  std::string first() const { return first_; }

 private:
  std::mutex mutex_;
  std::atomic<int> count_{0};
  std::string first_;
};

class JournalConcurrencyTest : public ::testing::Test {
 protected:
  std::string path() const { return (temp_.path() / "journal.db").string(); }

  JournalOptions options() const {
    JournalOptions result;
    result.clock = clock_;
    return result;
  }

  std::unique_ptr<Journal> open_journal(JournalOptions journal_options) {
    Result<std::unique_ptr<Journal>> journal = Journal::open(path(), std::move(journal_options));
    EXPECT_TRUE(journal.is_ok()) << journal.status().to_string();
    return journal.is_ok() ? std::move(journal).value() : nullptr;
  }

  static std::string create_run(Journal& journal, const std::string& goal) {
    RunRecord run;
    run.goal = goal;
    Result<RunRecord> created = journal.create_run(run);
    EXPECT_TRUE(created.is_ok()) << created.status().to_string();
    return created.is_ok() ? created->id : "";
  }

  static TaskRecord task(const std::string& run_id, const std::string& task_id,
                         std::string_view status) {
    TaskRecord record;
    record.run_id = run_id;
    record.task_id = task_id;
    record.status = std::string(status);
    return record;
  }

  // Writes `rows` tasks (each stored as running, then read and updated to succeeded) and `rows`
  // events into `run_id`.
  static void write_rows(Journal& journal, const std::string& run_id, int writer, int rows,
                         FailureLog& failures) {
    for (int row = 0; row < rows; ++row) {
      const std::string task_id = "w" + std::to_string(writer) + "-t" + std::to_string(row);
      failures.check(journal.upsert_task(task(run_id, task_id, kTaskRunning)));
      failures.check(journal.upsert_task(task(run_id, task_id, kTaskSucceeded)));
      EventRecord event;
      event.run_id = run_id;
      event.kind = "task_finished";
      event.detail = {{"task", task_id}};
      failures.check(journal.add_event(event).status());
    }
  }

  testing::TempDir temp_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>(/*auto_advance=*/true);
};

// Another process keeps a BEGIN IMMEDIATE transaction open for 2 s while the journal reads a task
// row and then updates it. A deferred transaction fails at once on the upgrade to a writer, well
// under the busy timeout. The journal's write waits for the lock and commits right after it is
// released. NOTE: this is the one test that waits in real time, because it measures a lock held by
// another process.
TEST_F(JournalConcurrencyTest, WriterWaitsForOtherProcessLock) {
  std::unique_ptr<Journal> journal = open_journal(options());
  ASSERT_NE(journal, nullptr);
  const std::string run_id = create_run(*journal, "contended run");
  ASSERT_TRUE(journal->upsert_task(task(run_id, "t1", kTaskRunning)).is_ok());

  int ready[2];
  int released[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(released), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    hold_write_lock(path(), run_id, ready[1], released[1], std::chrono::seconds(2));
  }
  char report = 0;
  ASSERT_EQ(read(ready[0], &report, 1), 1);
  ASSERT_EQ(report, 'L');

  Result<Database> deferred = Database::open(path());
  ASSERT_TRUE(deferred.is_ok());
  const MonoTime deferred_start = system_clock()->now();
  ASSERT_TRUE(deferred->exec("BEGIN DEFERRED").is_ok());
  Result<Statement> read_row = deferred->prepare("SELECT status FROM tasks WHERE task_id = 't1'");
  ASSERT_TRUE(read_row.is_ok());
  ASSERT_TRUE(read_row->step().is_ok());
  Status upgrade = deferred->exec("UPDATE tasks SET status = 'failed' WHERE task_id = 't1'");
  const Duration deferred_wait = system_clock()->now() - deferred_start;
  ASSERT_TRUE(deferred->exec("ROLLBACK").is_ok());
  EXPECT_EQ(upgrade.code(), ErrorCode::kConflict);
  EXPECT_TRUE(is_busy_code(deferred->last_error_code()));
  EXPECT_LT(deferred_wait, std::chrono::milliseconds(500));

  const MonoTime write_start = system_clock()->now();
  Status written = journal->upsert_task(task(run_id, "t1", kTaskSucceeded));
  const MonoTime write_done = system_clock()->now();
  int64_t released_ns = 0;
  ASSERT_EQ(read(released[0], &released_ns, sizeof(released_ns)),
            static_cast<ssize_t>(sizeof(released_ns)));
  int child_status = 0;
  ASSERT_EQ(waitpid(child, &child_status, 0), child);
  ASSERT_TRUE(WIFEXITED(child_status)) << child_status;
  EXPECT_EQ(WEXITSTATUS(child_status), 0);

  ASSERT_TRUE(written.is_ok()) << written.to_string();
  const MonoTime release = MonoTime(Duration(released_ns));
  EXPECT_GT(write_done, release);
  EXPECT_LT(write_done - release, std::chrono::seconds(1));
  EXPECT_GT(write_done - write_start, std::chrono::seconds(1));
  EXPECT_EQ(journal->get_task(run_id, "t1")->status, kTaskSucceeded);
  Result<std::vector<EventRecord>> events = journal->events_for_run(run_id);
  ASSERT_TRUE(events.is_ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->front().kind, "lock_held");
  EXPECT_TRUE(journal->health().is_ok());
  for (int fd : {ready[0], ready[1], released[0], released[1]}) {
    close(fd);
  }
}

TEST_F(JournalConcurrencyTest, EightThreadsShareOneJournal) {
  std::unique_ptr<Journal> journal = open_journal(options());
  ASSERT_NE(journal, nullptr);
  const std::string run_id = create_run(*journal, "shared journal");
  constexpr int kRows = 100;
  FailureLog failures;
  std::vector<std::thread> threads;
  for (int writer = 0; writer < kThreads; ++writer) {
    threads.emplace_back([&, writer] { write_rows(*journal, run_id, writer, kRows, failures); });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }

  EXPECT_EQ(failures.count(), 0) << failures.first();
  Result<std::vector<TaskRecord>> tasks = journal->tasks_for_run(run_id);
  ASSERT_TRUE(tasks.is_ok());
  EXPECT_EQ(tasks->size(), static_cast<size_t>(kThreads * kRows));
  EXPECT_EQ(journal->succeeded_task_ids(run_id)->size(), static_cast<size_t>(kThreads * kRows));
  EXPECT_EQ(journal->events_for_run(run_id)->size(), static_cast<size_t>(kThreads * kRows));
  EXPECT_TRUE(journal->health().is_ok());
}

// Each thread opens its own Journal on one new file, so eight connections migrate the schema,
// create runs and write rows at the same time, contending for SQLite's write lock.
TEST_F(JournalConcurrencyTest, EightConnectionsWriteOneFile) {
  constexpr int kRows = 40;
  FailureLog failures;
  std::vector<std::string> run_ids(kThreads);
  std::vector<std::thread> threads;
  for (int writer = 0; writer < kThreads; ++writer) {
    threads.emplace_back([&, writer] {
      Result<std::unique_ptr<Journal>> journal = Journal::open(path(), options());
      failures.check(journal.status());
      if (!journal.is_ok()) {
        return;
      }
      RunRecord run;
      run.goal = "writer " + std::to_string(writer);
      Result<RunRecord> created = (*journal)->create_run(run);
      failures.check(created.status());
      if (!created.is_ok()) {
        return;
      }
      run_ids[writer] = created->id;
      write_rows(**journal, created->id, writer, kRows, failures);
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }

  EXPECT_EQ(failures.count(), 0) << failures.first();
  std::unique_ptr<Journal> reader = open_journal(options());
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->list_runs(100)->size(), static_cast<size_t>(kThreads));
  for (const std::string& run_id : run_ids) {
    Result<std::vector<std::string>> succeeded = reader->succeeded_task_ids(run_id);
    ASSERT_TRUE(succeeded.is_ok()) << succeeded.status().to_string();
    EXPECT_EQ(succeeded->size(), static_cast<size_t>(kRows)) << run_id;
    EXPECT_EQ(reader->events_for_run(run_id)->size(), static_cast<size_t>(kRows)) << run_id;
  }
  Result<Database> raw = Database::open(path());
  ASSERT_TRUE(raw.is_ok());
  Result<Statement> versions = raw->prepare("SELECT count(*) FROM schema_version");
  ASSERT_TRUE(versions.is_ok());
  ASSERT_TRUE(versions->step().is_ok());
  EXPECT_EQ(versions->column_int64(0), latest_version(journal_migrations()));
}

// Rejected writes may share a group commit with valid ones from other threads. Only the
// rejected ones fail, and the journal stays healthy.
TEST_F(JournalConcurrencyTest, RejectedWritesLeaveBatchIntact) {
  std::unique_ptr<Journal> journal = open_journal(options());
  ASSERT_NE(journal, nullptr);
  const std::string run_id = create_run(*journal, "mixed batches");
  constexpr int kRows = 50;
  FailureLog failures;
  std::atomic<int> rejected{0};
  std::vector<std::thread> threads;
  for (int writer = 0; writer < kThreads; ++writer) {
    threads.emplace_back([&, writer] {
      for (int row = 0; row < kRows; ++row) {
        const std::string task_id = "w" + std::to_string(writer) + "-t" + std::to_string(row);
        if (writer % 2 == 0) {
          failures.check(journal->upsert_task(task(run_id, task_id, kTaskRunning)));
        } else if (journal->upsert_task(task("r-missing", task_id, kTaskRunning)).code() ==
                   ErrorCode::kNotFound) {
          ++rejected;
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }

  EXPECT_EQ(failures.count(), 0) << failures.first();
  EXPECT_EQ(rejected.load(), kThreads / 2 * kRows);
  EXPECT_EQ(journal->tasks_for_run(run_id)->size(), static_cast<size_t>(kThreads / 2 * kRows));
  EXPECT_TRUE(journal->health().is_ok());
}

TEST_F(JournalConcurrencyTest, BrokenSchemaFailureIsSticky) {
  std::unique_ptr<Journal> journal = open_journal(options());
  ASSERT_NE(journal, nullptr);
  const std::string run_id = create_run(*journal, "sticky run");
  Result<Database> other = Database::open(path());
  ASSERT_TRUE(other.is_ok());
  ASSERT_TRUE(other->exec("DROP TABLE events").is_ok());

  EventRecord event;
  event.run_id = run_id;
  event.kind = "task_queued";
  Result<int64_t> first = journal->add_event(event);
  ASSERT_FALSE(first.is_ok());
  EXPECT_EQ(first.status().code(), ErrorCode::kIoError);
  EXPECT_THAT(first.status().message(), HasSubstr("no such table: events"));

  Status health = journal->health();
  EXPECT_EQ(health.code(), ErrorCode::kIoError);
  EXPECT_THAT(health.message(), HasSubstr("rejects writes since add_event failed"));
  EXPECT_THAT(health.message(), HasSubstr(path()));
  Status later = journal->upsert_task(task(run_id, "t1", kTaskRunning));
  EXPECT_EQ(later.code(), ErrorCode::kIoError);
  EXPECT_EQ(later.message(), health.message());
  EXPECT_EQ(journal->finish_run(run_id, RunStatus::kFailed, 1, nullptr).message(),
            health.message());

  EXPECT_TRUE(journal->get_run(run_id).is_ok());
  EXPECT_EQ(journal->tasks_for_run(run_id)->size(), 0u);
}

TEST_F(JournalConcurrencyTest, LockHeldPastRetriesIsSticky) {
  JournalOptions short_waits = options();
  short_waits.database.busy_timeout_ms = 10;
  short_waits.database.max_transaction_attempts = 2;
  std::unique_ptr<Journal> journal = open_journal(short_waits);
  ASSERT_NE(journal, nullptr);
  const std::string run_id = create_run(*journal, "locked out");

  Result<Database> other = Database::open(path());
  ASSERT_TRUE(other.is_ok());
  ASSERT_TRUE(other->exec("BEGIN IMMEDIATE").is_ok());
  Status first = journal->upsert_task(task(run_id, "t1", kTaskRunning));
  ASSERT_TRUE(other->exec("COMMIT").is_ok());

  EXPECT_EQ(first.code(), ErrorCode::kConflict);
  EXPECT_THAT(first.message(), HasSubstr("still busy after 2 attempts"));
  EXPECT_EQ(journal->busy_retries(), 1);
  Status later = journal->upsert_task(task(run_id, "t2", kTaskRunning));
  EXPECT_EQ(later.code(), ErrorCode::kConflict);
  EXPECT_THAT(later.message(), HasSubstr("rejects writes since upsert_task failed"));
  EXPECT_FALSE(journal->health().is_ok());
  EXPECT_EQ(journal->tasks_for_run(run_id)->size(), 0u);
}

TEST_F(JournalConcurrencyTest, RejectedInputIsNotSticky) {
  std::unique_ptr<Journal> journal = open_journal(options());
  ASSERT_NE(journal, nullptr);
  const std::string run_id = create_run(*journal, "healthy run");
  EXPECT_EQ(journal->upsert_task(task("r-missing", "t1", kTaskRunning)).code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(journal->upsert_task(task(run_id, "t1", "")).code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(journal->health().is_ok());
  EXPECT_TRUE(journal->upsert_task(task(run_id, "t1", kTaskRunning)).is_ok());
}

}  // namespace
}  // namespace ollamaflow::store
