#include "store/schema.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fakes/test_paths.h"

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
            1);
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

}  // namespace
}  // namespace ollamaflow::store
