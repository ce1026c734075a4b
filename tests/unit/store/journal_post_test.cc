// Posted journal writes: queued without waiting, committed in call order by the next commit, a
// flush() or the destructor, and subject to the same rejection and sticky-failure rules.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fakes/test_paths.h"
#include "store/journal.h"

namespace ollamaflow::store {
namespace {

using ::testing::HasSubstr;

class JournalPostTest : public ::testing::Test {
 protected:
  std::string path() const { return (temp_.path() / "journal.db").string(); }

  std::unique_ptr<Journal> open_journal() {
    JournalOptions options;
    options.clock = clock_;
    Result<std::unique_ptr<Journal>> journal = Journal::open(path(), options);
    EXPECT_TRUE(journal.is_ok()) << journal.status().to_string();
    return journal.is_ok() ? std::move(journal).value() : nullptr;
  }

  static std::string create_run(Journal& journal) {
    RunRecord run;
    run.goal = "posted writes";
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

  static EventRecord event(const std::string& run_id, const std::string& kind) {
    EventRecord record;
    record.run_id = run_id;
    record.kind = kind;
    record.detail = {{"task", "t1"}};
    return record;
  }

  testing::TempDir temp_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>(/*auto_advance=*/true);
};

TEST_F(JournalPostTest, PostedRowsAreStoredAfterFlush) {
  std::unique_ptr<Journal> journal = open_journal();
  ASSERT_NE(journal, nullptr);
  const std::string run_id = create_run(*journal);
  journal->post_task(task(run_id, "t1", kTaskRunning));
  journal->post_event(event(run_id, "task_started"));
  ASSERT_TRUE(journal->flush().is_ok());

  Result<TaskRecord> stored = journal->get_task(run_id, "t1");
  ASSERT_TRUE(stored.is_ok()) << stored.status().to_string();
  EXPECT_EQ(stored->status, kTaskRunning);
  EXPECT_FALSE(stored->started_at.empty());
  Result<std::vector<EventRecord>> events = journal->events_for_run(run_id);
  ASSERT_TRUE(events.is_ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->front().kind, "task_started");
  EXPECT_EQ(events->front().detail["task"], "t1");
}

TEST_F(JournalPostTest, PostedAttemptIsStoredAfterFlush) {
  std::unique_ptr<Journal> journal = open_journal();
  ASSERT_NE(journal, nullptr);
  const std::string run_id = create_run(*journal);
  journal->post_task(task(run_id, "t1", kTaskRunning));
  AttemptRecord attempt;
  attempt.run_id = run_id;
  attempt.task_id = "t1";
  attempt.attempt = 1;
  attempt.outcome = "ok";
  attempt.output_tokens = 42;
  journal->post_attempt(attempt);
  attempt.attempt = 0;  // rejected: attempts count from 1
  journal->post_attempt(attempt);
  ASSERT_TRUE(journal->flush().is_ok());
  Result<std::vector<AttemptRecord>> stored = journal->attempts_for_task(run_id, "t1");
  ASSERT_TRUE(stored.is_ok()) << stored.status().to_string();
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ(stored->front().output_tokens, 42);
  EXPECT_FALSE(stored->front().started_at.empty());
}

TEST_F(JournalPostTest, PostedAndBlockingWritesCommitInCallOrder) {
  std::unique_ptr<Journal> journal = open_journal();
  ASSERT_NE(journal, nullptr);
  const std::string run_id = create_run(*journal);
  journal->post_task(task(run_id, "t1", "queued"));
  journal->post_task(task(run_id, "t1", kTaskRunning));
  journal->post_task(task(run_id, "t1", kTaskSucceeded));
  // The blocking write comes last, so it returns only after the posted rows before it.
  ASSERT_TRUE(journal->finish_run(run_id, RunStatus::kSucceeded, 0, nullptr).is_ok());

  Result<TaskRecord> stored = journal->get_task(run_id, "t1");
  ASSERT_TRUE(stored.is_ok());
  EXPECT_EQ(stored->status, kTaskSucceeded);
  EXPECT_FALSE(stored->started_at.empty());
  EXPECT_FALSE(stored->finished_at.empty());
}

TEST_F(JournalPostTest, DestructorCommitsPostedWrites) {
  std::string run_id;
  {
    std::unique_ptr<Journal> journal = open_journal();
    ASSERT_NE(journal, nullptr);
    run_id = create_run(*journal);
    for (int i = 0; i < 50; ++i) {
      journal->post_task(task(run_id, "t" + std::to_string(i), kTaskSucceeded));
    }
  }
  std::unique_ptr<Journal> reopened = open_journal();
  ASSERT_NE(reopened, nullptr);
  Result<std::vector<TaskRecord>> tasks = reopened->tasks_for_run(run_id);
  ASSERT_TRUE(tasks.is_ok());
  EXPECT_EQ(tasks->size(), 50u);
}

TEST_F(JournalPostTest, RejectedPostIsDroppedWithoutFailingTheJournal) {
  std::unique_ptr<Journal> journal = open_journal();
  ASSERT_NE(journal, nullptr);
  const std::string run_id = create_run(*journal);
  journal->post_task(task("r-unknown", "t1", kTaskRunning));  // no such run
  journal->post_task(task(run_id, "", kTaskRunning));         // no task id
  journal->post_event(event(run_id, ""));                     // no kind
  journal->post_task(task(run_id, "t2", kTaskRunning));
  EXPECT_TRUE(journal->flush().is_ok());
  EXPECT_TRUE(journal->health().is_ok());
  Result<std::vector<TaskRecord>> tasks = journal->tasks_for_run(run_id);
  ASSERT_TRUE(tasks.is_ok());
  ASSERT_EQ(tasks->size(), 1u);
  EXPECT_EQ(tasks->front().task_id, "t2");
}

TEST_F(JournalPostTest, UnknownRunRejectedInSharedCommit) {
  std::unique_ptr<Journal> journal = open_journal();
  ASSERT_NE(journal, nullptr);
  const std::string run_id = create_run(*journal);
  // These writes are posted together, so one transaction runs them all. Finding the run of t1
  // must not let the unknown run through.
  journal->post_task(task(run_id, "t1", kTaskRunning));
  journal->post_task(task("r-unknown", "t1", kTaskRunning));
  journal->post_event(event("r-unknown", "task_started"));
  journal->post_task(task(run_id, "t2", kTaskRunning));
  EXPECT_TRUE(journal->flush().is_ok());
  EXPECT_TRUE(journal->health().is_ok());
  Result<std::vector<TaskRecord>> tasks = journal->tasks_for_run(run_id);
  ASSERT_TRUE(tasks.is_ok());
  ASSERT_EQ(tasks->size(), 2u);
  EXPECT_EQ((*tasks)[0].task_id, "t1");
  EXPECT_EQ((*tasks)[1].task_id, "t2");
  EXPECT_EQ(journal->get_task("r-unknown", "t1").status().code(), ErrorCode::kNotFound);
}

TEST_F(JournalPostTest, PostedFailureInsideSqliteIsSticky) {
  std::unique_ptr<Journal> journal = open_journal();
  ASSERT_NE(journal, nullptr);
  const std::string run_id = create_run(*journal);
  Result<Database> other = Database::open(path());
  ASSERT_TRUE(other.is_ok());
  ASSERT_TRUE(other->exec("DROP TABLE events").is_ok());

  journal->post_event(event(run_id, "task_started"));
  Status flushed = journal->flush();
  EXPECT_EQ(flushed.code(), ErrorCode::kIoError);
  EXPECT_THAT(flushed.message(), HasSubstr("rejects writes since add_event failed"));
  EXPECT_EQ(journal->health().message(), flushed.message());
  // A later post is dropped, and blocking writes keep failing with the first error.
  journal->post_task(task(run_id, "t1", kTaskRunning));
  EXPECT_EQ(journal->upsert_task(task(run_id, "t2", kTaskRunning)).message(), flushed.message());
  EXPECT_EQ(journal->tasks_for_run(run_id)->size(), 0u);
}

TEST_F(JournalPostTest, ThreadsPostingAndWaitingStoreEveryRow) {
  constexpr int kThreads = 8;
  constexpr int kRows = 150;
  std::unique_ptr<Journal> journal = open_journal();
  ASSERT_NE(journal, nullptr);
  const std::string run_id = create_run(*journal);
  std::vector<std::thread> threads;
  for (int writer = 0; writer < kThreads; ++writer) {
    threads.emplace_back([&, writer] {
      for (int row = 0; row < kRows; ++row) {
        const std::string id = "w" + std::to_string(writer) + "-" + std::to_string(row);
        journal->post_task(task(run_id, id, kTaskRunning));
        journal->post_event(event(run_id, "task_started"));
        // Every third row waits, as attempts do, so posted and blocking writes interleave.
        if (row % 3 == 0) {
          EXPECT_TRUE(journal->upsert_task(task(run_id, id, kTaskSucceeded)).is_ok());
        } else {
          journal->post_task(task(run_id, id, kTaskSucceeded));
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  ASSERT_TRUE(journal->flush().is_ok());
  Result<std::vector<TaskRecord>> tasks = journal->tasks_for_run(run_id);
  ASSERT_TRUE(tasks.is_ok());
  ASSERT_EQ(tasks->size(), static_cast<size_t>(kThreads * kRows));
  for (const TaskRecord& stored : *tasks) {
    EXPECT_EQ(stored.status, kTaskSucceeded) << stored.task_id;
  }
  EXPECT_EQ(journal->events_for_run(run_id)->size(), static_cast<size_t>(kThreads * kRows));
}

}  // namespace
}  // namespace ollamaflow::store
