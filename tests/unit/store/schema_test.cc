#include "store/schema.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fakes/test_paths.h"
#include "unit/store/journal_v1.h"

namespace ollamaflow::store {
namespace {

constexpr Migration kFirst = {1, "table a", "CREATE TABLE a (x)"};
constexpr Migration kSecond = {2, "column a.y", "ALTER TABLE a ADD COLUMN y"};

class MigrateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<Database> database = Database::open((temp_.path() / "j.db").string());
    ASSERT_TRUE(database.is_ok()) << database.status().to_string();
    database_.emplace(std::move(database).value());
  }

  Database& database() { return *database_; }

  int64_t count(const std::string& sql) {
    Result<Statement> query = database().prepare(sql);
    EXPECT_TRUE(query.is_ok()) << query.status().to_string();
    EXPECT_TRUE(query->step().is_ok());
    return query->column_int64(0);
  }

  std::string text(const std::string& sql) {
    Result<Statement> query = database().prepare(sql);
    EXPECT_TRUE(query.is_ok()) << query.status().to_string();
    Result<bool> row = query->step();
    EXPECT_TRUE(row.is_ok()) << row.status().to_string();
    if (row.is_ok()) {
      EXPECT_TRUE(row.value()) << "no row: " << sql;
    }
    return query->column_text(0);
  }

  Status insert_run(const std::string& id, const std::string& status) {
    return database().exec("INSERT INTO runs (id, goal, status, started_at, pid, host) VALUES ('" +
                           id + "', 'goal', '" + status +
                           "', '2026-01-01T00:00:00.000Z', 1, 'node-a')");
  }

  void create_version_1_journal() {
    ASSERT_TRUE(database().exec(kJournalSchemaV1).is_ok());
    ASSERT_TRUE(database().exec(kJournalRowsV1).is_ok());
    ASSERT_EQ(read_schema_version(database()).value(), 1);
  }

  bool has_table(const std::string& name) {
    return count("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '" + name +
                 "'") == 1;
  }

  testing::TempDir temp_;
  std::optional<Database> database_;
};

TEST_F(MigrateTest, NewFileHasVersionZero) {
  Result<int> version = read_schema_version(database());
  ASSERT_TRUE(version.is_ok()) << version.status().to_string();
  EXPECT_EQ(version.value(), 0);
}

TEST_F(MigrateTest, JournalMigrationsCreateTables) {
  Result<int> version = migrate(database(), journal_migrations(), "2026-01-01T00:00:00.000Z");
  ASSERT_TRUE(version.is_ok()) << version.status().to_string();
  EXPECT_EQ(version.value(), latest_version(journal_migrations()));
  EXPECT_EQ(read_schema_version(database()).value(), version.value());
  for (const char* table :
       {"runs", "plans", "tasks", "attempts", "events", "scaling_events", "schema_version"}) {
    EXPECT_TRUE(has_table(table)) << table;
  }
  EXPECT_EQ(count("SELECT count(*) FROM schema_version WHERE applied_at = "
                  "'2026-01-01T00:00:00.000Z'"),
            static_cast<int64_t>(journal_migrations().size()));
}

TEST_F(MigrateTest, SecondRunAppliesNothing) {
  const std::vector<Migration> migrations = {kFirst};
  ASSERT_TRUE(migrate(database(), migrations, "t1").is_ok());
  Result<int> again = migrate(database(), migrations, "t2");
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  EXPECT_EQ(again.value(), 1);
  EXPECT_EQ(count("SELECT count(*) FROM schema_version"), 1);
}

TEST_F(MigrateTest, UpgradeAppliesOnlyNewMigrations) {
  const std::vector<Migration> old_list = {kFirst};
  ASSERT_TRUE(migrate(database(), old_list, "t1").is_ok());
  ASSERT_TRUE(database().exec("INSERT INTO a (x) VALUES (1)").is_ok());

  const std::vector<Migration> new_list = {kFirst, kSecond};
  Result<int> version = migrate(database(), new_list, "t2");
  ASSERT_TRUE(version.is_ok()) << version.status().to_string();
  EXPECT_EQ(version.value(), 2);
  EXPECT_EQ(count("SELECT count(*) FROM a WHERE y IS NULL"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM schema_version WHERE version = 2 AND applied_at = 't2'"),
            1);
}

TEST_F(MigrateTest, NewerFileIsRejected) {
  const std::vector<Migration> new_list = {kFirst, kSecond};
  ASSERT_TRUE(migrate(database(), new_list, "t1").is_ok());
  const std::vector<Migration> old_list = {kFirst};
  Result<int> version = migrate(database(), old_list, "t2");
  ASSERT_FALSE(version.is_ok());
  EXPECT_EQ(version.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(version.status().message().find("schema version 2, newer than the version 1"),
            std::string::npos);
  EXPECT_NE(version.status().message().find("upgrade ollama-flow"), std::string::npos);
}

TEST_F(MigrateTest, GapInVersionsIsRejected) {
  const std::vector<Migration> migrations = {kFirst, {3, "skips 2", "CREATE TABLE b (x)"}};
  Result<int> version = migrate(database(), migrations, "t1");
  ASSERT_FALSE(version.is_ok());
  EXPECT_EQ(version.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(version.status().message().find("version 3, expected 2"), std::string::npos);
  EXPECT_FALSE(has_table("a"));
}

TEST_F(MigrateTest, FailedMigrationRollsBackWhole) {
  const std::vector<Migration> migrations = {kFirst,
                                             {2, "broken", "CREATE TABLE b (x); CREATE TABLE"}};
  Result<int> version = migrate(database(), migrations, "t1");
  ASSERT_FALSE(version.is_ok());
  EXPECT_NE(version.status().message().find("schema migration 2"), std::string::npos);
  EXPECT_FALSE(has_table("a"));
  EXPECT_FALSE(has_table("b"));
  EXPECT_EQ(read_schema_version(database()).value(), 0);
}

TEST_F(MigrateTest, Version1JournalKeepsEveryRow) {
  create_version_1_journal();
  Result<int> version = migrate(database(), journal_migrations(), "2026-01-01T00:00:00.000Z");
  ASSERT_TRUE(version.is_ok()) << version.status().to_string();
  EXPECT_EQ(version.value(), latest_version(journal_migrations()));
  EXPECT_EQ(count("SELECT count(*) FROM runs"), 4);
  EXPECT_EQ(count("SELECT count(*) FROM plans"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM tasks"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM attempts"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM events"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM scaling_events"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = "
                  "'runs_by_start'"),
            1);
  EXPECT_FALSE(has_table("runs_new"));

  // Every column of a run is copied.
  EXPECT_EQ(text("SELECT goal || '|' || status || '|' || backend || '|' || model || '|' || "
                 "strategy || '|' || workspace || '|' || config || '|' || started_at || '|' || "
                 "finished_at || '|' || exit_code || '|' || report || '|' || pid || '|' || host "
                 "FROM runs WHERE id = 'r-done'"),
            "write a game|succeeded|ollama|llama3.1:8b|HYBRID|/tmp/ws-done|"
            "{\"run\":{\"agents\":4}}|2025-06-01T10:00:00.000Z|2025-06-01T10:05:00.000Z|0|"
            "{\"status\":\"succeeded\"}|4100|node-a");
  EXPECT_EQ(count("SELECT count(*) FROM runs WHERE id = 'r-plan' AND config IS NULL"), 1);
}

TEST_F(MigrateTest, Version1JournalMigratesOnce) {
  create_version_1_journal();
  ASSERT_TRUE(migrate(database(), journal_migrations(), "t1").is_ok());
  Result<int> again = migrate(database(), journal_migrations(), "t2");
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  EXPECT_EQ(again.value(), latest_version(journal_migrations()));
  EXPECT_EQ(count("SELECT count(*) FROM schema_version"),
            static_cast<int64_t>(journal_migrations().size()));
  EXPECT_EQ(count("SELECT count(*) FROM schema_version WHERE version = 1 AND applied_at = "
                  "'2025-06-01T00:00:00.000Z'"),
            1);
  EXPECT_EQ(count("SELECT count(*) FROM schema_version WHERE version = 2 AND applied_at = 't1'"),
            1);
  EXPECT_EQ(count("SELECT count(*) FROM runs"), 4);
}

TEST_F(MigrateTest, Version1JournalAcceptsPlanned) {
  create_version_1_journal();
  EXPECT_FALSE(insert_run("r-before", "planned").is_ok());
  ASSERT_TRUE(migrate(database(), journal_migrations(), "t1").is_ok());
  Status planned = insert_run("r-after", "planned");
  EXPECT_TRUE(planned.is_ok()) << planned.to_string();
  EXPECT_FALSE(insert_run("r-unknown", "paused").is_ok()) << "the CHECK constraint was dropped";
}

// Task rows from before the failed token columns get the tokens of their attempts that did
// not end "ok", at most the task's own count.
TEST_F(MigrateTest, OlderTaskRowsGetFailedTokensFromAttempts) {
  create_version_1_journal();
  ASSERT_TRUE(database()
                  .exec("UPDATE tasks SET prompt_tokens = 300, output_tokens = 50 "
                        "WHERE task_id = 'design';"
                        "UPDATE attempts SET attempt = 3, prompt_tokens = 100, output_tokens = 20 "
                        "WHERE task_id = 'design';"
                        "INSERT INTO attempts (run_id, task_id, attempt, started_at, outcome, "
                        "prompt_tokens, output_tokens) VALUES "
                        "('r-done', 'design', 1, '2025-06-01T10:00:01.000Z', 'truncated', 120, "
                        "25), ('r-done', 'design', 2, '2025-06-01T10:00:02.000Z', 'server_error', "
                        "80, 40);"
                        "INSERT INTO tasks (run_id, task_id, status) VALUES ('r-done', 'bare', "
                        "'succeeded');")
                  .is_ok());

  ASSERT_TRUE(migrate(database(), journal_migrations(), "t1").is_ok());

  EXPECT_EQ(count("SELECT failed_prompt_tokens FROM tasks WHERE task_id = 'design'"), 200);
  // 65 output tokens failed by the attempt rows, more than the task's 50.
  EXPECT_EQ(count("SELECT failed_output_tokens FROM tasks WHERE task_id = 'design'"), 50);
  EXPECT_EQ(count("SELECT failed_prompt_tokens FROM tasks WHERE task_id = 'bare'"), 0);
  EXPECT_EQ(count("SELECT failed_output_tokens FROM tasks WHERE task_id = 'bare'"), 0);
}

TEST_F(MigrateTest, Version1PlanOnlyRunsBecomePlanned) {
  create_version_1_journal();
  ASSERT_TRUE(migrate(database(), journal_migrations(), "t1").is_ok());
  EXPECT_EQ(text("SELECT status FROM runs WHERE id = 'r-plan'"), "planned");
  EXPECT_EQ(text("SELECT status FROM runs WHERE id = 'r-done'"), "succeeded");
  EXPECT_EQ(text("SELECT status FROM runs WHERE id = 'r-failed'"), "failed");
  EXPECT_EQ(text("SELECT status FROM runs WHERE id = 'r-plan-failed'"), "failed");
}

TEST_F(MigrateTest, ForeignKeysEnforcedAfterRebuild) {
  create_version_1_journal();
  ASSERT_TRUE(migrate(database(), journal_migrations(), "t1").is_ok());
  EXPECT_EQ(count("PRAGMA foreign_keys"), 1);
  // The tables that reference runs reference the rebuilt table.
  EXPECT_FALSE(database()
                   .exec("INSERT INTO tasks (run_id, task_id, status) VALUES ('r-none', 'a', "
                         "'running')")
                   .is_ok());
  ASSERT_TRUE(database().exec("DELETE FROM runs WHERE id = 'r-done'").is_ok());
  EXPECT_EQ(count("SELECT count(*) FROM tasks"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM attempts"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM plans"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM events"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM scaling_events"), 0);
}

TEST_F(MigrateTest, DanglingRowRollsRebuildBack) {
  create_version_1_journal();
  ASSERT_TRUE(database().exec("PRAGMA foreign_keys=OFF").is_ok());
  ASSERT_TRUE(database()
                  .exec("INSERT INTO tasks (run_id, task_id, status) VALUES ('r-gone', 'a', "
                        "'running')")
                  .is_ok());
  ASSERT_TRUE(database().exec("PRAGMA foreign_keys=ON").is_ok());

  Result<int> version = migrate(database(), journal_migrations(), "t1");
  ASSERT_FALSE(version.is_ok());
  EXPECT_EQ(version.status().code(), ErrorCode::kCorrupt);
  EXPECT_NE(version.status().message().find("of table tasks references a row of table runs"),
            std::string::npos)
      << version.status().message();
  EXPECT_EQ(read_schema_version(database()).value(), 1);
  EXPECT_EQ(count("SELECT count(*) FROM runs"), 4);
  EXPECT_FALSE(insert_run("r-after", "planned").is_ok()) << "the old constraint was replaced";
  EXPECT_EQ(count("PRAGMA foreign_keys"), 1);
}

}  // namespace
}  // namespace ollamaflow::store
