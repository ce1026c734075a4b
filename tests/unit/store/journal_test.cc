#include "store/journal.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "fakes/test_paths.h"
#include "store/schema.h"
#include "unit/store/journal_v1.h"

namespace ollamaflow::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

constexpr int64_t kOwnPid = 4100;
constexpr char kHost[] = "node-a";

// The fake clock starts at 2026-01-01T00:00:00Z.
constexpr char kStart[] = "2026-01-01T00:00:00.000Z";

class JournalTest : public ::testing::Test {
 protected:
  JournalOptions options(int64_t pid = kOwnPid, const std::string& host = kHost) {
    JournalOptions result;
    result.clock = clock_;
    result.pid = pid;
    result.host = host;
    result.process_alive = [this](int64_t process) { return alive_.count(process) > 0; };
    return result;
  }

  std::string path() const { return (temp_.path() / "data" / "journal.db").string(); }

  std::unique_ptr<Journal> open_journal(int64_t pid = kOwnPid, const std::string& host = kHost) {
    Result<std::unique_ptr<Journal>> journal = Journal::open(path(), options(pid, host));
    EXPECT_TRUE(journal.is_ok()) << journal.status().to_string();
    return journal.is_ok() ? std::move(journal).value() : nullptr;
  }

  void SetUp() override {
    journal_ = open_journal();
    ASSERT_NE(journal_, nullptr);
  }

  RunRecord new_run(const std::string& goal = "write a tic-tac-toe game") {
    RunRecord run;
    run.goal = goal;
    run.backend = "ollama";
    run.model = "llama3.1:8b";
    run.strategy = "HYBRID";
    run.workspace = "/tmp/ws";
    run.config = {{"run", {{"agents", 4}}}};
    Result<RunRecord> created = journal_->create_run(run);
    EXPECT_TRUE(created.is_ok()) << created.status().to_string();
    return created.is_ok() ? created.value() : run;
  }

  TaskRecord task(const std::string& run_id, const std::string& task_id,
                  const std::string& status) {
    TaskRecord record;
    record.run_id = run_id;
    record.task_id = task_id;
    record.title = "Task " + task_id;
    record.role = "developer";
    record.status = status;
    return record;
  }

  testing::TempDir temp_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>(/*auto_advance=*/true);
  std::set<int64_t> alive_;
  std::unique_ptr<Journal> journal_;
};

// --- open and default path ---

TEST_F(JournalTest, OpenCreatesFoldersAndSchema) {
  EXPECT_TRUE(std::filesystem::exists(path()));
  EXPECT_EQ(journal_->schema_version(), latest_version(journal_migrations()));
  EXPECT_TRUE(journal_->health().is_ok());
  EXPECT_EQ(journal_->path(), path());
}

TEST_F(JournalTest, OpenRejectsEmptyPath) {
  Result<std::unique_ptr<Journal>> journal = Journal::open("", options());
  ASSERT_FALSE(journal.is_ok());
  EXPECT_EQ(journal.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(JournalTest, OpenFailsWhenParentIsFile) {
  const std::filesystem::path blocker = temp_.path() / "blocker";
  { std::ofstream(blocker) << "x"; }
  Result<std::unique_ptr<Journal>> journal =
      Journal::open((blocker / "journal.db").string(), options());
  ASSERT_FALSE(journal.is_ok());
  EXPECT_EQ(journal.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(journal.status().message(), HasSubstr(blocker.string()));
  EXPECT_THAT(journal.status().message(), HasSubstr("choose another path with --db"));
}

TEST_F(JournalTest, OpenRejectsNonDatabaseFile) {
  const std::filesystem::path text_file = temp_.path() / "notes.txt";
  { std::ofstream(text_file) << std::string(4096, 'x'); }
  Result<std::unique_ptr<Journal>> journal = Journal::open(text_file.string(), options());
  ASSERT_FALSE(journal.is_ok());
  EXPECT_EQ(journal.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(journal.status().message(), HasSubstr(text_file.string()));
  EXPECT_THAT(journal.status().message(), HasSubstr("is not an SQLite database"));
  EXPECT_THAT(journal.status().message(), HasSubstr("choose another path with --db"));
  EXPECT_EQ(std::filesystem::file_size(text_file), 4096u) << "the text file was written";
}

TEST_F(JournalTest, OpenRejectsFolder) {
  const std::filesystem::path folder = temp_.path() / "folder.db";
  std::filesystem::create_directory(folder);
  Result<std::unique_ptr<Journal>> journal = Journal::open(folder.string(), options());
  ASSERT_FALSE(journal.is_ok());
  EXPECT_EQ(journal.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(journal.status().message(), HasSubstr("'" + folder.string() + "' is a folder"));
  EXPECT_THAT(journal.status().message(), HasSubstr("choose another path with --db"));
}

TEST_F(JournalTest, OpenRejectsOtherProgramsDatabase) {
  const std::string other = (temp_.path() / "other.db").string();
  {
    Result<Database> database = Database::open(other);
    ASSERT_TRUE(database.is_ok()) << database.status().to_string();
    ASSERT_TRUE(database->exec("CREATE TABLE notes (text TEXT)").is_ok());
  }
  Result<std::unique_ptr<Journal>> journal = Journal::open(other, options());
  ASSERT_FALSE(journal.is_ok());
  EXPECT_EQ(journal.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(journal.status().message(), HasSubstr("without the journal's schema_version table"));
  Result<std::unique_ptr<Journal>> reader = Journal::open_read_only(other, options());
  ASSERT_FALSE(reader.is_ok());
  EXPECT_EQ(reader.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(JournalTest, OpenKeepsCorruptJournalAdvice) {
  // An SQLite header followed by garbage is a damaged database, not a file of another kind.
  const std::filesystem::path damaged = temp_.path() / "damaged.db";
  {
    std::ofstream out(damaged, std::ios::binary);
    out.write("SQLite format 3\0", 16);
    out << std::string(4096, 'x');
  }
  // A damaged journal is the user's to fix, like a path that is no journal, so it is a usage
  // error that names the file.
  Result<std::unique_ptr<Journal>> journal = Journal::open(damaged.string(), options());
  ASSERT_FALSE(journal.is_ok());
  EXPECT_EQ(journal.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(journal.status().message(),
              HasSubstr("journal '" + damaged.string() + "' is damaged (SQLite: "));
  EXPECT_THAT(journal.status().message(), HasSubstr("move it aside"));
  Result<std::unique_ptr<Journal>> reader = Journal::open_read_only(damaged.string(), options());
  ASSERT_FALSE(reader.is_ok());
  EXPECT_EQ(reader.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(JournalTest, OpenRejectsDamagedPage) {
  for (int i = 0; i < 200; ++i) {
    new_run("goal " + std::to_string(i) + std::string(200, 'g'));
  }
  journal_.reset();
  // Overwrites the last page, a leaf of the runs table, with garbage. The header and the schema
  // on page 1 stay intact, so only a check that reads every page finds the damage.
  const std::uintmax_t size = std::filesystem::file_size(path());
  ASSERT_GT(size, 4u * 4096u);
  {
    std::fstream file(path(), std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(static_cast<std::streamoff>(size - 4096));
    const std::string garbage(4096, '\xa5');
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  Result<std::unique_ptr<Journal>> journal = Journal::open(path(), options());
  ASSERT_FALSE(journal.is_ok());
  EXPECT_EQ(journal.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(journal.status().message(),
              HasSubstr("journal '" + path() + "' is damaged (SQLite: Page "));
  EXPECT_THAT(journal.status().message(), HasSubstr("move it aside"));
  EXPECT_THAT(journal.status().message(), Not(HasSubstr("\n")));
  // Commands that only read get the same error, instead of the rows before the damaged page.
  Result<std::unique_ptr<Journal>> reader = Journal::open_read_only(path(), options());
  ASSERT_FALSE(reader.is_ok());
  EXPECT_EQ(reader.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(reader.status().message(), HasSubstr("is damaged (SQLite: Page "));
}

TEST_F(JournalTest, ReopenKeepsRows) {
  const RunRecord run = new_run();
  journal_.reset();
  journal_ = open_journal();
  Result<RunRecord> stored = journal_->get_run(run.id);
  ASSERT_TRUE(stored.is_ok()) << stored.status().to_string();
  EXPECT_EQ(stored->goal, run.goal);
}

TEST_F(JournalTest, OpenMigratesVersion1Journal) {
  const std::string old_path = (temp_.path() / "old.db").string();
  {
    Result<Database> database = Database::open(old_path);
    ASSERT_TRUE(database.is_ok()) << database.status().to_string();
    ASSERT_TRUE(database->exec(kJournalSchemaV1).is_ok());
    ASSERT_TRUE(database->exec(kJournalRowsV1).is_ok());
  }
  Result<std::unique_ptr<Journal>> opened = Journal::open(old_path, options());
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  Journal& journal = **opened;
  EXPECT_EQ(journal.schema_version(), latest_version(journal_migrations()));

  Result<std::vector<RunRecord>> runs = journal.list_runs(10);
  ASSERT_TRUE(runs.is_ok()) << runs.status().to_string();
  std::map<std::string, RunStatus> status_of;
  for (const RunRecord& run : *runs) {
    status_of[run.id] = run.status;
  }
  EXPECT_EQ(status_of.size(), 4u);
  EXPECT_EQ(status_of["r-done"], RunStatus::kSucceeded);
  EXPECT_EQ(status_of["r-plan"], RunStatus::kPlanned);
  EXPECT_EQ(status_of["r-failed"], RunStatus::kFailed);
  EXPECT_EQ(status_of["r-plan-failed"], RunStatus::kFailed);
  EXPECT_EQ(journal.tasks_for_run("r-done")->size(), 1u);
  EXPECT_EQ(journal.events_for_run("r-done")->size(), 1u);
  EXPECT_EQ(journal.scaling_events_for_run("r-done")->size(), 1u);
  EXPECT_TRUE(journal.accepted_plan("r-plan").is_ok());

  RunRecord run;
  run.goal = "plan a parser";
  Result<RunRecord> created = journal.create_run(run);
  ASSERT_TRUE(created.is_ok()) << created.status().to_string();
  Status finished = journal.finish_run(created->id, RunStatus::kPlanned, 0, nullptr);
  ASSERT_TRUE(finished.is_ok()) << finished.to_string();
  EXPECT_EQ(journal.get_run(created->id)->status, RunStatus::kPlanned);
  opened->reset();

  // A read-only open, as `ollama-flow runs` does, reads the migrated file.
  Result<std::unique_ptr<Journal>> reader = Journal::open_read_only(old_path, options());
  ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
  EXPECT_EQ((*reader)->count_runs().value(), 5);
}

TEST_F(JournalTest, OpenReadOnlyReadsVersion1Journal) {
  const std::string old_path = (temp_.path() / "old.db").string();
  {
    Result<Database> database = Database::open(old_path);
    ASSERT_TRUE(database.is_ok()) << database.status().to_string();
    ASSERT_TRUE(database->exec(kJournalSchemaV1).is_ok());
    ASSERT_TRUE(database->exec(kJournalRowsV1).is_ok());
  }
  // `ollama-flow runs` right after an upgrade, before any command has written the file.
  Result<std::unique_ptr<Journal>> reader = Journal::open_read_only(old_path, options());
  ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
  EXPECT_EQ((*reader)->schema_version(), 1);
  EXPECT_EQ((*reader)->count_runs().value(), 4);
  EXPECT_EQ((*reader)->get_run("r-plan")->status, RunStatus::kSucceeded);
  EXPECT_EQ((*reader)->tasks_for_run("r-done")->size(), 1u);
}

TEST_F(JournalTest, OpenRejectsNewerJournal) {
  const RunRecord run = new_run();
  journal_.reset();
  const int newer = latest_version(journal_migrations()) + 1;
  {
    Result<Database> database = Database::open(path());
    ASSERT_TRUE(database.is_ok()) << database.status().to_string();
    ASSERT_TRUE(database
                    ->exec("INSERT INTO schema_version (version, description, applied_at) "
                           "VALUES (" +
                           std::to_string(newer) + ", 'future', '2030-01-01T00:00:00.000Z')")
                    .is_ok());
  }
  Result<std::unique_ptr<Journal>> journal = Journal::open(path(), options());
  ASSERT_FALSE(journal.is_ok());
  EXPECT_EQ(journal.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(journal.status().message(),
              HasSubstr("schema version " + std::to_string(newer) + ", newer than the version " +
                        std::to_string(newer - 1)));

  Result<Database> database = Database::open(path());
  ASSERT_TRUE(database.is_ok()) << database.status().to_string();
  Result<Statement> query = database->prepare("SELECT count(*) FROM runs WHERE id = ?");
  ASSERT_TRUE(query.is_ok()) << query.status().to_string();
  ASSERT_TRUE(query->bind_all(run.id).is_ok());
  ASSERT_TRUE(query->step().is_ok());
  EXPECT_EQ(query->column_int64(0), 1);
  EXPECT_EQ(read_schema_version(*database).value(), newer);
}

TEST(DefaultJournalPathTest, UsesAbsoluteXdgDataHome) {
  const std::map<std::string, std::string> env = {{"XDG_DATA_HOME", "/data"}, {"HOME", "/home/u"}};
  Result<std::string> path = default_journal_path([&](const std::string& name) {
    return env.count(name) ? std::optional(env.at(name)) : std::nullopt;
  });
  ASSERT_TRUE(path.is_ok());
  EXPECT_EQ(path.value(), "/data/ollama-flow/journal.db");
}

TEST(DefaultJournalPathTest, IgnoresRelativeXdgDataHome) {
  const std::map<std::string, std::string> env = {{"XDG_DATA_HOME", "data"}, {"HOME", "/home/u"}};
  Result<std::string> path = default_journal_path([&](const std::string& name) {
    return env.count(name) ? std::optional(env.at(name)) : std::nullopt;
  });
  ASSERT_TRUE(path.is_ok());
  EXPECT_EQ(path.value(), "/home/u/.local/share/ollama-flow/journal.db");
}

TEST(DefaultJournalPathTest, FallsBackToHome) {
  Result<std::string> path = default_journal_path([](const std::string& name) {
    return name == "HOME" ? std::optional<std::string>("/home/u") : std::nullopt;
  });
  ASSERT_TRUE(path.is_ok());
  EXPECT_EQ(path.value(), "/home/u/.local/share/ollama-flow/journal.db");
}

TEST(DefaultJournalPathTest, MissingBothIsNotFound) {
  Result<std::string> path =
      default_journal_path([](const std::string&) { return std::optional<std::string>(); });
  ASSERT_FALSE(path.is_ok());
  EXPECT_EQ(path.status().code(), ErrorCode::kNotFound);
  EXPECT_THAT(path.status().message(), HasSubstr("--db PATH"));
}

TEST(DefaultJournalPathTest, RelativeXdgWithoutHomeNamed) {
  Result<std::string> path = default_journal_path([](const std::string& name) {
    return name == "XDG_DATA_HOME" ? std::optional<std::string>("relative/dir") : std::nullopt;
  });
  ASSERT_FALSE(path.is_ok());
  EXPECT_THAT(path.status().message(), HasSubstr("'relative/dir' is relative"));
  EXPECT_THAT(path.status().message(), HasSubstr("absolute path"));
}

// --- runs ---

TEST_F(JournalTest, CreateRunGeneratesIdFromClock) {
  const RunRecord run = new_run();
  EXPECT_THAT(run.id, MatchesRegex("r-20260101-000000-[0-9a-f]{4}"));
  EXPECT_EQ(run.status, RunStatus::kRunning);
  EXPECT_EQ(run.started_at, kStart);
  EXPECT_EQ(run.pid, kOwnPid);
  EXPECT_EQ(run.host, kHost);
}

TEST_F(JournalTest, RunRoundTrip) {
  const RunRecord created = new_run();
  Result<RunRecord> stored = journal_->get_run(created.id);
  ASSERT_TRUE(stored.is_ok()) << stored.status().to_string();
  EXPECT_EQ(stored->id, created.id);
  EXPECT_EQ(stored->goal, "write a tic-tac-toe game");
  EXPECT_EQ(stored->status, RunStatus::kRunning);
  EXPECT_EQ(stored->backend, "ollama");
  EXPECT_EQ(stored->model, "llama3.1:8b");
  EXPECT_EQ(stored->strategy, "HYBRID");
  EXPECT_EQ(stored->workspace, "/tmp/ws");
  EXPECT_EQ(stored->config, nlohmann::json({{"run", {{"agents", 4}}}}));
  EXPECT_EQ(stored->started_at, kStart);
  EXPECT_EQ(stored->finished_at, "");
  EXPECT_EQ(stored->exit_code, std::nullopt);
  EXPECT_TRUE(stored->report.is_null());
  EXPECT_EQ(stored->pid, kOwnPid);
  EXPECT_EQ(stored->host, kHost);
}

TEST_F(JournalTest, CreateRunKeepsGivenId) {
  RunRecord run;
  run.id = "r-custom";
  run.goal = "goal";
  Result<RunRecord> created = journal_->create_run(run);
  ASSERT_TRUE(created.is_ok()) << created.status().to_string();
  EXPECT_EQ(created->id, "r-custom");
  Result<RunRecord> again = journal_->create_run(run);
  ASSERT_FALSE(again.is_ok());
  EXPECT_EQ(again.status().code(), ErrorCode::kConflict);
  EXPECT_THAT(again.status().message(), HasSubstr("r-custom"));
  EXPECT_TRUE(journal_->health().is_ok());
}

TEST_F(JournalTest, CreateRunRejectsEmptyGoal) {
  RunRecord run;
  Result<RunRecord> created = journal_->create_run(run);
  ASSERT_FALSE(created.is_ok());
  EXPECT_EQ(created.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(JournalTest, GetRunUnknownIsNotFound) {
  Result<RunRecord> run = journal_->get_run("r-missing");
  ASSERT_FALSE(run.is_ok());
  EXPECT_EQ(run.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(run.status().message(), "run 'r-missing' not found; `ollama-flow runs` lists them");
}

TEST_F(JournalTest, FinishRunStoresOutcome) {
  const RunRecord run = new_run();
  clock_->advance(std::chrono::seconds(90));
  const nlohmann::json report = {{"tasks", 3}, {"files", {"main.py"}}};
  ASSERT_TRUE(journal_->finish_run(run.id, RunStatus::kFailed, 2, report).is_ok());
  Result<RunRecord> stored = journal_->get_run(run.id);
  ASSERT_TRUE(stored.is_ok());
  EXPECT_EQ(stored->status, RunStatus::kFailed);
  EXPECT_EQ(stored->exit_code, 2);
  EXPECT_EQ(stored->report, report);
  EXPECT_EQ(stored->finished_at, "2026-01-01T00:01:30.000Z");
}

TEST_F(JournalTest, FinishRunStoresPlanned) {
  const RunRecord run = new_run();
  ASSERT_TRUE(journal_->finish_run(run.id, RunStatus::kPlanned, 0, nullptr).is_ok());
  Result<RunRecord> stored = journal_->get_run(run.id);
  ASSERT_TRUE(stored.is_ok()) << stored.status().to_string();
  EXPECT_EQ(stored->status, RunStatus::kPlanned);
  EXPECT_EQ(journal_->list_runs(1)->front().status, RunStatus::kPlanned);
}

TEST_F(JournalTest, FinishRunTwiceIsConflict) {
  const RunRecord run = new_run();
  ASSERT_TRUE(journal_->finish_run(run.id, RunStatus::kSucceeded, 0, nullptr).is_ok());
  Status again = journal_->finish_run(run.id, RunStatus::kFailed, 1, nullptr);
  EXPECT_EQ(again.code(), ErrorCode::kConflict);
  EXPECT_THAT(again.message(), HasSubstr("already finished as succeeded"));
  EXPECT_THAT(again.message(), HasSubstr("resume it (`ollama-flow run --resume " + run.id + "`)"));
  EXPECT_EQ(journal_->get_run(run.id)->status, RunStatus::kSucceeded);
  EXPECT_TRUE(journal_->health().is_ok());
}

// A --plan-only run cannot be resumed, so finishing it again names its plan as the fix.
TEST_F(JournalTest, FinishPlannedRunAgainNamesPlan) {
  const RunRecord run = new_run();
  ASSERT_TRUE(journal_->finish_run(run.id, RunStatus::kPlanned, 0, nullptr).is_ok());
  Status again = journal_->finish_run(run.id, RunStatus::kFailed, 1, nullptr);
  EXPECT_EQ(again.code(), ErrorCode::kConflict);
  EXPECT_THAT(again.message(), HasSubstr("already finished as planned"));
  EXPECT_THAT(again.message(), HasSubstr("`ollama-flow runs show " + run.id + " --plan"));
  EXPECT_THAT(again.message(), Not(HasSubstr("resume it")));
}

TEST_F(JournalTest, FinishRunRejectsRunningAndUnknown) {
  const RunRecord run = new_run();
  EXPECT_EQ(journal_->finish_run(run.id, RunStatus::kRunning, 0, nullptr).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(journal_->finish_run(run.id, RunStatus::kUnknown, 0, nullptr).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(journal_->finish_run("r-missing", RunStatus::kFailed, 1, nullptr).code(),
            ErrorCode::kNotFound);
}

// A status that this version does not know, such as one that another program wrote past the
// CHECK constraint, is read as kUnknown with the stored text, and the other runs stay readable.
TEST_F(JournalTest, UnknownRunStatusIsReadAsUnknown) {
  const RunRecord known = new_run("one");
  clock_->advance(std::chrono::seconds(1));
  const RunRecord odd = new_run("two");
  ASSERT_TRUE(journal_->finish_run(known.id, RunStatus::kSucceeded, 0, nullptr).is_ok());
  {
    Result<Database> database = Database::open(path());
    ASSERT_TRUE(database.is_ok()) << database.status().to_string();
    ASSERT_TRUE(database->exec("PRAGMA ignore_check_constraints = ON").is_ok());
    ASSERT_TRUE(
        database->exec("UPDATE runs SET status = 'paused' WHERE id = '" + odd.id + "'").is_ok());
  }

  Result<std::vector<RunRecord>> runs = journal_->list_runs(10);
  ASSERT_TRUE(runs.is_ok()) << runs.status().to_string();
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].id, odd.id);
  EXPECT_EQ((*runs)[0].status, RunStatus::kUnknown);
  EXPECT_EQ((*runs)[0].stored_status, "paused");
  EXPECT_EQ(describe_run_status((*runs)[0]), "unknown (\"paused\")");
  EXPECT_EQ((*runs)[1].status, RunStatus::kSucceeded);
  EXPECT_EQ((*runs)[1].stored_status, "");

  Result<RunRecord> stored = journal_->get_run(odd.id);
  ASSERT_TRUE(stored.is_ok()) << stored.status().to_string();
  EXPECT_EQ(stored->status, RunStatus::kUnknown);
  EXPECT_EQ(stored->goal, "two");
}

// Neither finishing nor resuming replaces a status that this version does not know.
TEST_F(JournalTest, UnknownRunStatusIsKept) {
  const RunRecord run = new_run();
  {
    Result<Database> database = Database::open(path());
    ASSERT_TRUE(database.is_ok()) << database.status().to_string();
    ASSERT_TRUE(database->exec("PRAGMA ignore_check_constraints = ON").is_ok());
    ASSERT_TRUE(
        database->exec("UPDATE runs SET status = 'paused' WHERE id = '" + run.id + "'").is_ok());
  }
  Status finished = journal_->finish_run(run.id, RunStatus::kFailed, 1, nullptr);
  EXPECT_EQ(finished.code(), ErrorCode::kConflict);
  EXPECT_THAT(finished.message(), HasSubstr("already finished as unknown (\"paused\")"));
  // reopen_run() rejects the run, so the message names fixes other than a resume here.
  EXPECT_THAT(finished.message(), Not(HasSubstr("resume it before")));
  EXPECT_THAT(finished.message(), HasSubstr("start its goal again as a new run"));

  Result<RunRecord> reopened = journal_->reopen_run(run.id);
  ASSERT_FALSE(reopened.is_ok());
  EXPECT_EQ(reopened.status().code(), ErrorCode::kConflict);
  EXPECT_THAT(reopened.status().message(),
              HasSubstr("has the status \"paused\", which this version of ollama-flow does not "
                        "know"));
  EXPECT_EQ(journal_->get_run(run.id)->stored_status, "paused");
}

TEST_F(JournalTest, ListRunsNewestFirstWithLimit) {
  const RunRecord first = new_run("one");
  clock_->advance(std::chrono::seconds(1));
  const RunRecord second = new_run("two");
  clock_->advance(std::chrono::seconds(1));
  const RunRecord third = new_run("three");

  Result<std::vector<RunRecord>> runs = journal_->list_runs(2);
  ASSERT_TRUE(runs.is_ok()) << runs.status().to_string();
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].id, third.id);
  EXPECT_EQ((*runs)[1].id, second.id);
  EXPECT_EQ(journal_->list_runs(3)->back().id, first.id);
  EXPECT_EQ(journal_->list_runs(100)->size(), 3u);
}

TEST_F(JournalTest, CountRunsCountsEveryRun) {
  Result<int64_t> empty = journal_->count_runs();
  ASSERT_TRUE(empty.is_ok()) << empty.status().to_string();
  EXPECT_EQ(*empty, 0);
  new_run("one");
  new_run("two");
  new_run("three");
  Result<int64_t> three = journal_->count_runs();
  ASSERT_TRUE(three.is_ok()) << three.status().to_string();
  EXPECT_EQ(*three, 3);
}

TEST_F(JournalTest, ListRunsSameMillisecondByInsertOrder) {
  const RunRecord first = new_run("one");
  const RunRecord second = new_run("two");
  Result<std::vector<RunRecord>> runs = journal_->list_runs(10);
  ASSERT_TRUE(runs.is_ok());
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].id, second.id);
  EXPECT_EQ((*runs)[1].id, first.id);
}

TEST_F(JournalTest, ListRunsRejectsLimitBelowOne) {
  Result<std::vector<RunRecord>> runs = journal_->list_runs(0);
  ASSERT_FALSE(runs.is_ok());
  EXPECT_EQ(runs.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(journal_->list_runs(1).is_ok());
}

TEST_F(JournalTest, DeadOwnerShowsInterrupted) {
  const RunRecord run = new_run();
  std::unique_ptr<Journal> viewer = open_journal(/*pid=*/9000);
  EXPECT_EQ(viewer->get_run(run.id)->status, RunStatus::kInterrupted);
  EXPECT_EQ(viewer->list_runs(1)->front().status, RunStatus::kInterrupted);

  alive_.insert(kOwnPid);
  EXPECT_EQ(viewer->get_run(run.id)->status, RunStatus::kRunning);
}

TEST_F(JournalTest, OwnRunIsNeverInterrupted) {
  const RunRecord run = new_run();
  EXPECT_EQ(journal_->get_run(run.id)->status, RunStatus::kRunning);
}

TEST_F(JournalTest, OtherHostRunStaysRunning) {
  const RunRecord run = new_run();
  std::unique_ptr<Journal> viewer = open_journal(/*pid=*/9000, "node-b");
  EXPECT_EQ(viewer->get_run(run.id)->status, RunStatus::kRunning);
}

TEST_F(JournalTest, FinishedRunIgnoresLiveness) {
  const RunRecord run = new_run();
  ASSERT_TRUE(journal_->finish_run(run.id, RunStatus::kCancelled, 130, nullptr).is_ok());
  std::unique_ptr<Journal> viewer = open_journal(/*pid=*/9000);
  EXPECT_EQ(viewer->get_run(run.id)->status, RunStatus::kCancelled);
}

TEST_F(JournalTest, ExitedProcessShowsInterrupted) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    _exit(0);
  }
  int wait_status = 0;
  ASSERT_EQ(waitpid(child, &wait_status, 0), child);

  JournalOptions writer_options = options(child);
  writer_options.process_alive = nullptr;  // the real kill(pid, 0) probe
  Result<std::unique_ptr<Journal>> writer = Journal::open(path(), writer_options);
  ASSERT_TRUE(writer.is_ok());
  RunRecord run;
  run.goal = "killed run";
  Result<RunRecord> created = (*writer)->create_run(run);
  ASSERT_TRUE(created.is_ok());

  JournalOptions viewer_options = options(getpid());
  viewer_options.process_alive = nullptr;
  Result<std::unique_ptr<Journal>> viewer = Journal::open(path(), viewer_options);
  ASSERT_TRUE(viewer.is_ok());
  EXPECT_EQ((*viewer)->get_run(created->id)->status, RunStatus::kInterrupted);
}

TEST(ProcessExistsTest, ChecksRealProcesses) {
  EXPECT_TRUE(process_exists(getpid()));
  EXPECT_FALSE(process_exists(0));
  EXPECT_FALSE(process_exists(-1));
}

TEST_F(JournalTest, ReopenInterruptedRun) {
  const RunRecord run = new_run();
  std::unique_ptr<Journal> resumer = open_journal(/*pid=*/9000);
  clock_->advance(std::chrono::seconds(5));
  Result<RunRecord> reopened = resumer->reopen_run(run.id);
  ASSERT_TRUE(reopened.is_ok()) << reopened.status().to_string();
  EXPECT_EQ(reopened->status, RunStatus::kRunning);
  EXPECT_EQ(reopened->pid, 9000);
  EXPECT_EQ(reopened->started_at, kStart);

  Result<RunRecord> stored = resumer->get_run(run.id);
  ASSERT_TRUE(stored.is_ok());
  EXPECT_EQ(stored->status, RunStatus::kRunning);
  EXPECT_EQ(stored->pid, 9000);
  EXPECT_EQ(stored->host, kHost);
}

TEST_F(JournalTest, ReopenFinishedRunClearsOutcome) {
  const RunRecord run = new_run();
  ASSERT_TRUE(journal_->finish_run(run.id, RunStatus::kFailed, 1, {{"error", "x"}}).is_ok());
  Result<RunRecord> reopened = journal_->reopen_run(run.id);
  ASSERT_TRUE(reopened.is_ok()) << reopened.status().to_string();
  Result<RunRecord> stored = journal_->get_run(run.id);
  EXPECT_EQ(stored->status, RunStatus::kRunning);
  EXPECT_EQ(stored->finished_at, "");
  EXPECT_EQ(stored->exit_code, std::nullopt);
  EXPECT_TRUE(stored->report.is_null());
  EXPECT_TRUE(journal_->finish_run(run.id, RunStatus::kSucceeded, 0, nullptr).is_ok());
}

TEST_F(JournalTest, ReopenLiveRunIsConflict) {
  const RunRecord run = new_run();
  alive_.insert(kOwnPid);
  std::unique_ptr<Journal> resumer = open_journal(/*pid=*/9000);
  Result<RunRecord> reopened = resumer->reopen_run(run.id);
  ASSERT_FALSE(reopened.is_ok());
  EXPECT_EQ(reopened.status().code(), ErrorCode::kConflict);
  EXPECT_THAT(reopened.status().message(), HasSubstr("process 4100"));
  EXPECT_EQ(resumer->get_run(run.id)->pid, kOwnPid);
  EXPECT_EQ(resumer->reopen_run("r-missing").status().code(), ErrorCode::kNotFound);
}

// --- plans ---

TEST_F(JournalTest, PlanRoundTripInAttemptOrder) {
  const RunRecord run = new_run();
  PlanRecord rejected;
  rejected.run_id = run.id;
  rejected.attempt = 1;
  rejected.plan = {{"tasks", nlohmann::json::array()}};
  rejected.errors = {"plan has no tasks"};
  rejected.raw_reply = "{\"tasks\": []}";
  PlanRecord accepted = rejected;
  accepted.attempt = 2;
  accepted.plan = {{"tasks", {{{"id", "t1"}}}}};
  accepted.accepted = true;
  accepted.errors = nullptr;
  accepted.raw_reply = "reply two";
  clock_->advance(std::chrono::milliseconds(1500));
  ASSERT_TRUE(journal_->add_plan(accepted).is_ok());
  ASSERT_TRUE(journal_->add_plan(rejected).is_ok());

  Result<std::vector<PlanRecord>> plans = journal_->plans_for_run(run.id);
  ASSERT_TRUE(plans.is_ok()) << plans.status().to_string();
  ASSERT_EQ(plans->size(), 2u);
  const PlanRecord& first = (*plans)[0];
  EXPECT_EQ(first.run_id, run.id);
  EXPECT_EQ(first.attempt, 1);
  EXPECT_FALSE(first.accepted);
  EXPECT_EQ(first.plan, rejected.plan);
  EXPECT_EQ(first.errors, nlohmann::json({"plan has no tasks"}));
  EXPECT_EQ(first.raw_reply, "{\"tasks\": []}");
  EXPECT_EQ(first.created_at, "2026-01-01T00:00:01.500Z");
  EXPECT_TRUE((*plans)[1].accepted);
  EXPECT_TRUE((*plans)[1].errors.is_null());

  Result<PlanRecord> chosen = journal_->accepted_plan(run.id);
  ASSERT_TRUE(chosen.is_ok());
  EXPECT_EQ(chosen->attempt, 2);
  EXPECT_EQ(chosen->plan, accepted.plan);
}

TEST_F(JournalTest, PlanDuplicateAttemptIsConflict) {
  const RunRecord run = new_run();
  PlanRecord plan;
  plan.run_id = run.id;
  plan.attempt = 1;
  ASSERT_TRUE(journal_->add_plan(plan).is_ok());
  EXPECT_EQ(journal_->add_plan(plan).code(), ErrorCode::kConflict);
  plan.attempt = 0;
  EXPECT_EQ(journal_->add_plan(plan).code(), ErrorCode::kInvalidArgument);
  plan.attempt = 1;
  plan.run_id = "r-missing";
  EXPECT_EQ(journal_->add_plan(plan).code(), ErrorCode::kNotFound);
  EXPECT_TRUE(journal_->health().is_ok());
}

TEST_F(JournalTest, AcceptedPlanMissingIsNotFound) {
  const RunRecord run = new_run();
  Result<PlanRecord> plan = journal_->accepted_plan(run.id);
  ASSERT_FALSE(plan.is_ok());
  EXPECT_EQ(plan.status().code(), ErrorCode::kNotFound);
  EXPECT_THAT(plan.status().message(), HasSubstr("no accepted plan"));
  EXPECT_EQ(journal_->plans_for_run("r-missing").status().code(), ErrorCode::kNotFound);
}

// --- tasks ---

TEST_F(JournalTest, TaskRoundTrip) {
  const RunRecord run = new_run();
  TaskRecord record = task(run.id, "t1", "succeeded");
  record.agent_id = "developer-1";
  record.model = "qwen2.5-coder:7b";
  record.started_at = "2026-01-01T00:00:02.000Z";
  record.finished_at = "2026-01-01T00:00:09.000Z";
  record.duration_s = 7.0;
  record.prompt_tokens = 812;
  record.output_tokens = 1405;
  record.files = {"src/game.py", "README.md"};
  record.summary = "wrote the game loop";
  record.error = "";
  ASSERT_TRUE(journal_->upsert_task(record).is_ok());

  Result<TaskRecord> stored = journal_->get_task(run.id, "t1");
  ASSERT_TRUE(stored.is_ok()) << stored.status().to_string();
  EXPECT_EQ(stored->run_id, run.id);
  EXPECT_EQ(stored->task_id, "t1");
  EXPECT_EQ(stored->title, "Task t1");
  EXPECT_EQ(stored->role, "developer");
  EXPECT_EQ(stored->status, "succeeded");
  EXPECT_EQ(stored->agent_id, "developer-1");
  EXPECT_EQ(stored->model, "qwen2.5-coder:7b");
  EXPECT_EQ(stored->started_at, "2026-01-01T00:00:02.000Z");
  EXPECT_EQ(stored->finished_at, "2026-01-01T00:00:09.000Z");
  EXPECT_EQ(stored->duration_s, 7.0);
  EXPECT_EQ(stored->prompt_tokens, 812);
  EXPECT_EQ(stored->output_tokens, 1405);
  EXPECT_THAT(stored->files, ElementsAre("src/game.py", "README.md"));
  EXPECT_EQ(stored->summary, "wrote the game loop");
  EXPECT_EQ(stored->error, "");
}

TEST_F(JournalTest, TaskTimesStampedByStatus) {
  const RunRecord run = new_run();
  ASSERT_TRUE(journal_->upsert_task(task(run.id, "t1", "ready")).is_ok());
  EXPECT_EQ(journal_->get_task(run.id, "t1")->started_at, "");

  clock_->advance(std::chrono::seconds(2));
  ASSERT_TRUE(journal_->upsert_task(task(run.id, "t1", "running")).is_ok());
  EXPECT_EQ(journal_->get_task(run.id, "t1")->started_at, "2026-01-01T00:00:02.000Z");
  EXPECT_EQ(journal_->get_task(run.id, "t1")->finished_at, "");

  clock_->advance(std::chrono::seconds(3));
  ASSERT_TRUE(journal_->upsert_task(task(run.id, "t1", "failed")).is_ok());
  Result<TaskRecord> failed = journal_->get_task(run.id, "t1");
  EXPECT_EQ(failed->started_at, "2026-01-01T00:00:02.000Z");
  EXPECT_EQ(failed->finished_at, "2026-01-01T00:00:05.000Z");

  clock_->advance(std::chrono::seconds(1));
  TaskRecord edited = task(run.id, "t1", "failed");
  edited.error = "timed out";
  ASSERT_TRUE(journal_->upsert_task(edited).is_ok());
  EXPECT_EQ(journal_->get_task(run.id, "t1")->finished_at, "2026-01-01T00:00:05.000Z");
  EXPECT_EQ(journal_->get_task(run.id, "t1")->error, "timed out");

  ASSERT_TRUE(journal_->upsert_task(task(run.id, "t1", "running")).is_ok());
  EXPECT_EQ(journal_->get_task(run.id, "t1")->finished_at, "");
}

TEST_F(JournalTest, TaskGivenTimesReplaceStored) {
  const RunRecord run = new_run();
  ASSERT_TRUE(journal_->upsert_task(task(run.id, "t1", "running")).is_ok());
  ASSERT_TRUE(journal_->upsert_task(task(run.id, "t1", "succeeded")).is_ok());
  TaskRecord edited = task(run.id, "t1", "succeeded");
  edited.started_at = "2026-01-01T01:00:00.000Z";
  edited.finished_at = "2026-01-01T01:00:09.000Z";
  ASSERT_TRUE(journal_->upsert_task(edited).is_ok());
  Result<TaskRecord> stored = journal_->get_task(run.id, "t1");
  ASSERT_TRUE(stored.is_ok()) << stored.status().to_string();
  EXPECT_EQ(stored->started_at, "2026-01-01T01:00:00.000Z");
  EXPECT_EQ(stored->finished_at, "2026-01-01T01:00:09.000Z");

  // A terminal update without times keeps the stored ones.
  clock_->advance(std::chrono::seconds(5));
  ASSERT_TRUE(journal_->upsert_task(task(run.id, "t1", "failed")).is_ok());
  stored = journal_->get_task(run.id, "t1");
  ASSERT_TRUE(stored.is_ok()) << stored.status().to_string();
  EXPECT_EQ(stored->started_at, "2026-01-01T01:00:00.000Z");
  EXPECT_EQ(stored->finished_at, "2026-01-01T01:00:09.000Z");
}

TEST_F(JournalTest, TasksInFirstStoredOrder) {
  const RunRecord run = new_run();
  for (const char* id : {"t3", "t1", "t2"}) {
    ASSERT_TRUE(journal_->upsert_task(task(run.id, id, "ready")).is_ok());
  }
  ASSERT_TRUE(journal_->upsert_task(task(run.id, "t3", "running")).is_ok());
  Result<std::vector<TaskRecord>> tasks = journal_->tasks_for_run(run.id);
  ASSERT_TRUE(tasks.is_ok());
  ASSERT_EQ(tasks->size(), 3u);
  EXPECT_EQ((*tasks)[0].task_id, "t3");
  EXPECT_EQ((*tasks)[0].status, "running");
  EXPECT_EQ((*tasks)[1].task_id, "t1");
  EXPECT_EQ((*tasks)[2].task_id, "t2");
}

TEST_F(JournalTest, SucceededTasksForResume) {
  const RunRecord run = new_run();
  TaskRecord done = task(run.id, "t1", "succeeded");
  done.summary = "schema designed";
  done.files = {"docs/schema.md"};
  ASSERT_TRUE(journal_->upsert_task(done).is_ok());
  ASSERT_TRUE(journal_->upsert_task(task(run.id, "t2", "failed")).is_ok());
  ASSERT_TRUE(journal_->upsert_task(task(run.id, "t3", "running")).is_ok());
  ASSERT_TRUE(journal_->upsert_task(task(run.id, "t4", "succeeded")).is_ok());

  Result<std::vector<std::string>> ids = journal_->succeeded_task_ids(run.id);
  ASSERT_TRUE(ids.is_ok());
  EXPECT_THAT(ids.value(), ElementsAre("t1", "t4"));
  Result<std::vector<TaskRecord>> tasks = journal_->succeeded_tasks(run.id);
  ASSERT_TRUE(tasks.is_ok());
  ASSERT_EQ(tasks->size(), 2u);
  EXPECT_EQ((*tasks)[0].summary, "schema designed");
  EXPECT_THAT((*tasks)[0].files, ElementsAre("docs/schema.md"));
}

TEST_F(JournalTest, TaskErrorsNameTheProblem) {
  const RunRecord run = new_run();
  Result<TaskRecord> missing = journal_->get_task(run.id, "t9");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("task 't9' not found in run"));
  EXPECT_EQ(journal_->get_task("r-missing", "t1").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(journal_->upsert_task(task("r-missing", "t1", "ready")).code(), ErrorCode::kNotFound);
  EXPECT_EQ(journal_->upsert_task(task(run.id, "", "ready")).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(journal_->upsert_task(task(run.id, "t1", "")).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(journal_->tasks_for_run("r-missing").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(journal_->succeeded_task_ids("r-missing").status().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(journal_->health().is_ok());
}

TEST_F(JournalTest, InvalidUtf8IsReplacedNotThrown) {
  const RunRecord run = new_run();
  TaskRecord record = task(run.id, "t1", "succeeded");
  record.files = {std::string("bad\xff.txt")};
  ASSERT_TRUE(journal_->upsert_task(record).is_ok());
  Result<TaskRecord> stored = journal_->get_task(run.id, "t1");
  ASSERT_TRUE(stored.is_ok()) << stored.status().to_string();
  EXPECT_THAT(stored->files, ElementsAre("bad\xef\xbf\xbd.txt"));
}

TEST_F(JournalTest, CorruptJsonColumnIsNamed) {
  const RunRecord run = new_run();
  Result<Database> other = Database::open(path());
  ASSERT_TRUE(other.is_ok());
  ASSERT_TRUE(
      other->exec("UPDATE runs SET config = '{broken' WHERE id = '" + run.id + "'").is_ok());
  // The rest of the row stays readable, and the damaged column is named.
  Result<RunRecord> stored = journal_->get_run(run.id);
  ASSERT_TRUE(stored.is_ok()) << stored.status().to_string();
  EXPECT_EQ(stored->goal, run.goal);
  EXPECT_TRUE(stored->config.is_null());
  ASSERT_EQ(stored->unreadable.size(), 1u);
  EXPECT_EQ(stored->unreadable[0].first, "config");
  EXPECT_THAT(stored->unreadable[0].second, HasSubstr("column config of run '" + run.id + "'"));
  EXPECT_THAT(stored->unreadable[0].second, HasSubstr("'PRAGMA integrity_check'` shows whether"));
}

// --- attempts ---

TEST_F(JournalTest, AttemptRoundTripAndUpdate) {
  const RunRecord run = new_run();
  AttemptRecord attempt;
  attempt.run_id = run.id;
  attempt.task_id = "t1";
  attempt.attempt = 1;
  attempt.agent_id = "developer-2";
  ASSERT_TRUE(journal_->record_attempt(attempt).is_ok());

  clock_->advance(std::chrono::seconds(4));
  attempt.finished_at = journal_->now_text();
  attempt.outcome = "truncated";
  attempt.error = "output cut at 2048 tokens";
  attempt.prompt_tokens = 300;
  attempt.output_tokens = 2048;
  ASSERT_TRUE(journal_->record_attempt(attempt).is_ok());
  AttemptRecord second = attempt;
  second.attempt = 2;
  second.started_at = "";
  second.finished_at = "";
  second.outcome = "ok";
  second.error = "";
  ASSERT_TRUE(journal_->record_attempt(second).is_ok());

  Result<std::vector<AttemptRecord>> attempts = journal_->attempts_for_task(run.id, "t1");
  ASSERT_TRUE(attempts.is_ok()) << attempts.status().to_string();
  ASSERT_EQ(attempts->size(), 2u);
  const AttemptRecord& first = (*attempts)[0];
  EXPECT_EQ(first.attempt, 1);
  EXPECT_EQ(first.agent_id, "developer-2");
  EXPECT_EQ(first.started_at, kStart);
  EXPECT_EQ(first.finished_at, "2026-01-01T00:00:04.000Z");
  EXPECT_EQ(first.outcome, "truncated");
  EXPECT_EQ(first.error, "output cut at 2048 tokens");
  EXPECT_EQ(first.prompt_tokens, 300);
  EXPECT_EQ(first.output_tokens, 2048);
  EXPECT_EQ((*attempts)[1].attempt, 2);
  EXPECT_EQ((*attempts)[1].started_at, "2026-01-01T00:00:04.000Z");
  EXPECT_EQ((*attempts)[1].finished_at, "");
  EXPECT_EQ(journal_->attempts_for_run(run.id)->size(), 2u);
}

TEST_F(JournalTest, AttemptRejectsBadInput) {
  const RunRecord run = new_run();
  AttemptRecord attempt;
  attempt.run_id = run.id;
  attempt.task_id = "t1";
  attempt.attempt = 0;
  EXPECT_EQ(journal_->record_attempt(attempt).code(), ErrorCode::kInvalidArgument);
  attempt.attempt = 1;
  attempt.task_id = "";
  EXPECT_EQ(journal_->record_attempt(attempt).code(), ErrorCode::kInvalidArgument);
  attempt.task_id = "t1";
  attempt.run_id = "r-missing";
  EXPECT_EQ(journal_->record_attempt(attempt).code(), ErrorCode::kNotFound);
}

// --- events ---

TEST_F(JournalTest, EventRoundTripInOrder) {
  const RunRecord run = new_run();
  EventRecord created;
  created.run_id = run.id;
  created.kind = "agent_created";
  created.detail = {{"agent", "developer-1"}, {"model", "llama3.1:8b"}};
  Result<int64_t> first = journal_->add_event(created);
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  clock_->advance(std::chrono::milliseconds(250));
  EventRecord queued;
  queued.run_id = run.id;
  queued.kind = "task_queued";
  Result<int64_t> second = journal_->add_event(queued);
  ASSERT_TRUE(second.is_ok());
  EXPECT_GT(second.value(), first.value());

  Result<std::vector<EventRecord>> events = journal_->events_for_run(run.id);
  ASSERT_TRUE(events.is_ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].id, first.value());
  EXPECT_EQ((*events)[0].run_id, run.id);
  EXPECT_EQ((*events)[0].kind, "agent_created");
  EXPECT_EQ((*events)[0].time, kStart);
  EXPECT_EQ((*events)[0].detail, created.detail);
  EXPECT_EQ((*events)[1].kind, "task_queued");
  EXPECT_EQ((*events)[1].time, "2026-01-01T00:00:00.250Z");
  EXPECT_TRUE((*events)[1].detail.is_null());
}

TEST_F(JournalTest, EventWithoutRunIsStored) {
  EventRecord event;
  event.kind = "server_started";
  event.time = "2026-01-01T10:00:00.000Z";
  ASSERT_TRUE(journal_->add_event(event).is_ok());
  event.run_id = "r-missing";
  EXPECT_EQ(journal_->add_event(event).status().code(), ErrorCode::kNotFound);
  event.run_id = "";
  event.kind = "";
  EXPECT_EQ(journal_->add_event(event).status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(JournalTest, ScalingEventRoundTrip) {
  const RunRecord run = new_run();
  ScalingEventRecord event;
  event.run_id = run.id;
  event.action = "scale_up";
  event.from_count = 2;
  event.to_count = 5;
  event.strategy = "HYBRID";
  event.reason = "queue length 14 above 10";
  event.gpu_memory_used_mib = 9216.5;
  event.gpu_memory_free_mib = 15360;
  event.gpu_utilization_percent = 87;
  event.queue_length = 14;
  event.outcome = "applied";
  event.duration_s = 1.25;
  event.decision = {{"signals", {{"queue", "scale_up"}}}};
  Result<int64_t> id = journal_->add_scaling_event(event);
  ASSERT_TRUE(id.is_ok()) << id.status().to_string();

  Result<std::vector<ScalingEventRecord>> events = journal_->scaling_events_for_run(run.id);
  ASSERT_TRUE(events.is_ok());
  ASSERT_EQ(events->size(), 1u);
  const ScalingEventRecord& stored = events->front();
  EXPECT_EQ(stored.id, id.value());
  EXPECT_EQ(stored.run_id, run.id);
  EXPECT_EQ(stored.time, kStart);
  EXPECT_EQ(stored.action, "scale_up");
  EXPECT_EQ(stored.from_count, 2);
  EXPECT_EQ(stored.to_count, 5);
  EXPECT_EQ(stored.strategy, "HYBRID");
  EXPECT_EQ(stored.reason, "queue length 14 above 10");
  EXPECT_EQ(stored.gpu_memory_used_mib, 9216.5);
  EXPECT_EQ(stored.gpu_memory_free_mib, 15360);
  EXPECT_EQ(stored.gpu_utilization_percent, 87);
  EXPECT_EQ(stored.queue_length, 14);
  EXPECT_EQ(stored.outcome, "applied");
  EXPECT_EQ(stored.duration_s, 1.25);
  EXPECT_EQ(stored.decision, event.decision);
}

TEST_F(JournalTest, ScalingEventUnknownGpuStaysUnset) {
  ScalingEventRecord event;
  event.action = "scale_down";
  event.from_count = 3;
  event.to_count = 2;
  ASSERT_TRUE(journal_->add_scaling_event(event).is_ok());
  Result<std::vector<ScalingEventRecord>> events = journal_->recent_scaling_events(1);
  ASSERT_TRUE(events.is_ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->front().run_id, "");
  EXPECT_EQ(events->front().gpu_memory_used_mib, std::nullopt);
  EXPECT_EQ(events->front().gpu_memory_free_mib, std::nullopt);
  EXPECT_EQ(events->front().gpu_utilization_percent, std::nullopt);
  EXPECT_EQ(events->front().duration_s, std::nullopt);
}

TEST_F(JournalTest, RecentScalingEventsNewestFirst) {
  const RunRecord run = new_run();
  for (int count = 1; count <= 4; ++count) {
    ScalingEventRecord event;
    event.run_id = count % 2 == 0 ? run.id : "";
    event.action = "scale_up";
    event.from_count = count;
    event.to_count = count + 1;
    ASSERT_TRUE(journal_->add_scaling_event(event).is_ok());
  }
  Result<std::vector<ScalingEventRecord>> events = journal_->recent_scaling_events(3);
  ASSERT_TRUE(events.is_ok());
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].from_count, 4);
  EXPECT_EQ((*events)[1].from_count, 3);
  EXPECT_EQ((*events)[2].from_count, 2);
  EXPECT_EQ(journal_->scaling_events_for_run(run.id)->size(), 2u);
  EXPECT_EQ(journal_->recent_scaling_events(0).status().code(), ErrorCode::kInvalidArgument);
  ScalingEventRecord no_action;
  EXPECT_EQ(journal_->add_scaling_event(no_action).status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace ollamaflow::store
