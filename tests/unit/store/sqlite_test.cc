#include "store/sqlite.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "fakes/test_paths.h"

namespace ollamaflow::store {
namespace {

// A fake clock that runs a hook on each sleep, so a test can release a lock exactly while a
// busy transaction backs off.
class HookClock final : public Clock {
 public:
  MonoTime now() const override { return inner_.now(); }
  WallTime wall_now() const override { return inner_.wall_now(); }
  void sleep_for(Duration duration) override {
    ++sleeps;
    slept += duration;
    inner_.advance(duration);
    if (on_sleep) {
      on_sleep();
    }
  }

  std::function<void()> on_sleep;
  int sleeps = 0;
  Duration slept{0};

 private:
  FakeClock inner_;
};

// A raw connection without this wrapper's settings, for the other side of lock tests.
class RawConnection {
 public:
  explicit RawConnection(const std::string& path) { sqlite3_open(path.c_str(), &handle_); }
  ~RawConnection() { sqlite3_close(handle_); }
  int exec(const char* sql) { return sqlite3_exec(handle_, sql, nullptr, nullptr, nullptr); }

 private:
  sqlite3* handle_ = nullptr;
};

class DatabaseTest : public ::testing::Test {
 protected:
  std::string file(const std::string& name) const { return (temp_.path() / name).string(); }

  Database open_database(const std::string& name, DatabaseOptions options = {}) {
    Result<Database> database = Database::open(file(name), std::move(options));
    EXPECT_TRUE(database.is_ok()) << database.status().to_string();
    return std::move(database).value();
  }

  static std::string query_text(Database& database, const std::string& sql) {
    Result<Statement> query = database.prepare(sql);
    EXPECT_TRUE(query.is_ok()) << query.status().to_string();
    Result<bool> row = query->step();
    EXPECT_TRUE(row.is_ok()) << row.status().to_string();
    return query->column_text(0);
  }

  static int64_t count_rows(Database& database, const std::string& table) {
    return std::stoll(query_text(database, "SELECT count(*) FROM " + table));
  }

  testing::TempDir temp_;
};

TEST_F(DatabaseTest, OpenConfiguresConnection) {
  Database database = open_database("a.db");
  EXPECT_EQ(query_text(database, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(query_text(database, "PRAGMA foreign_keys"), "1");
  EXPECT_EQ(query_text(database, "PRAGMA synchronous"), "1");  // NORMAL
  EXPECT_EQ(query_text(database, "PRAGMA busy_timeout"), "5000");
}

TEST_F(DatabaseTest, OpenUsesConfiguredBusyTimeout) {
  DatabaseOptions options;
  options.busy_timeout_ms = 250;
  Database database = open_database("a.db", options);
  EXPECT_EQ(query_text(database, "PRAGMA busy_timeout"), "250");
}

TEST_F(DatabaseTest, OpenRejectsNegativeBusyTimeout) {
  DatabaseOptions options;
  options.busy_timeout_ms = -1;
  Result<Database> database = Database::open(file("a.db"), options);
  ASSERT_FALSE(database.is_ok());
  EXPECT_EQ(database.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(database.status().message().find("-1 ms"), std::string::npos);
}

TEST_F(DatabaseTest, OpenRejectsZeroAttempts) {
  DatabaseOptions options;
  options.max_transaction_attempts = 0;
  Result<Database> database = Database::open(file("a.db"), options);
  ASSERT_FALSE(database.is_ok());
  EXPECT_EQ(database.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(DatabaseTest, OpenMissingFolderNamesPath) {
  const std::string path = file("missing/a.db");
  Result<Database> database = Database::open(path);
  ASSERT_FALSE(database.is_ok());
  EXPECT_EQ(database.status().code(), ErrorCode::kIoError);
  EXPECT_NE(database.status().message().find(path), std::string::npos);
  EXPECT_NE(database.status().message().find("writable"), std::string::npos);
}

TEST_F(DatabaseTest, OpenInMemoryKeepsMemoryJournal) {
  Result<Database> database = Database::open(":memory:");
  ASSERT_TRUE(database.is_ok()) << database.status().to_string();
  EXPECT_EQ(query_text(database.value(), "PRAGMA journal_mode"), "memory");
}

TEST_F(DatabaseTest, BindAllRoundTripsTypes) {
  Database database = open_database("a.db");
  ASSERT_TRUE(database.exec("CREATE TABLE t (a, b, c, d, e, f, g)").is_ok());
  Result<Statement> insert = database.prepare("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?)");
  ASSERT_TRUE(insert.is_ok());
  const std::optional<int> unset;
  const std::optional<std::string> text = "x";
  ASSERT_TRUE(
      insert->bind_all(7, int64_t{1} << 40, 2.5, std::string("text"), std::nullopt, unset, text)
          .is_ok());
  ASSERT_TRUE(insert->run().is_ok());

  Result<Statement> select = database.prepare("SELECT a, b, c, d, e, f, g FROM t");
  ASSERT_TRUE(select.is_ok());
  Result<bool> row = select->step();
  ASSERT_TRUE(row.is_ok());
  ASSERT_TRUE(row.value());
  EXPECT_EQ(select->column_int64(0), 7);
  EXPECT_EQ(select->column_int64(1), int64_t{1} << 40);
  EXPECT_DOUBLE_EQ(select->column_double(2), 2.5);
  EXPECT_EQ(select->column_text(3), "text");
  EXPECT_TRUE(select->column_is_null(4));
  EXPECT_EQ(select->column_optional_int64(5), std::nullopt);
  EXPECT_EQ(select->column_text(6), "x");
  Result<bool> done = select->step();
  ASSERT_TRUE(done.is_ok());
  EXPECT_FALSE(done.value());
}

TEST_F(DatabaseTest, BindOutOfRangeFails) {
  Database database = open_database("a.db");
  Result<Statement> query = database.prepare("SELECT ?");
  ASSERT_TRUE(query.is_ok());
  Status status = query->bind_all(1, 2);
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(status.message().find("SELECT ?"), std::string::npos);
}

TEST_F(DatabaseTest, ReusedStatementStartsClean) {
  Database database = open_database("a.db");
  {
    Result<Statement> first = database.prepare("SELECT ?");
    ASSERT_TRUE(first.is_ok());
    ASSERT_TRUE(first->bind_all(5).is_ok());
    ASSERT_TRUE(first->step().value());
    EXPECT_EQ(first->column_int64(0), 5);
  }
  Result<Statement> reused = database.prepare("SELECT ?");
  ASSERT_TRUE(reused.is_ok());
  ASSERT_TRUE(reused->step().value());
  EXPECT_TRUE(reused->column_is_null(0));
}

TEST_F(DatabaseTest, SameSqlTwiceInUse) {
  Database database = open_database("a.db");
  Result<Statement> outer = database.prepare("SELECT ?");
  Result<Statement> inner = database.prepare("SELECT ?");
  ASSERT_TRUE(outer.is_ok());
  ASSERT_TRUE(inner.is_ok());
  ASSERT_TRUE(outer->bind_all(1).is_ok());
  ASSERT_TRUE(inner->bind_all(2).is_ok());
  ASSERT_TRUE(outer->step().value());
  ASSERT_TRUE(inner->step().value());
  EXPECT_EQ(outer->column_int64(0), 1);
  EXPECT_EQ(inner->column_int64(0), 2);
}

TEST_F(DatabaseTest, PrepareErrorNamesPathAndStatement) {
  Database database = open_database("a.db");
  Result<Statement> query = database.prepare("SELEC nothing");
  ASSERT_FALSE(query.is_ok());
  EXPECT_NE(query.status().message().find(file("a.db")), std::string::npos);
  EXPECT_NE(query.status().message().find("SELEC nothing"), std::string::npos);
  EXPECT_NE(query.status().message().find("syntax error"), std::string::npos);
  EXPECT_EQ(database.last_error_code(), SQLITE_ERROR);
}

TEST_F(DatabaseTest, ConstraintViolationIsInvalidArgument) {
  Database database = open_database("a.db");
  ASSERT_TRUE(database.exec("CREATE TABLE t (a INTEGER PRIMARY KEY)").is_ok());
  ASSERT_TRUE(database.exec("INSERT INTO t VALUES (1)").is_ok());
  Status status = database.exec("INSERT INTO t VALUES (1)");
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(database.last_error_code(), SQLITE_CONSTRAINT_PRIMARYKEY);
}

TEST_F(DatabaseTest, TransactionCommitsBody) {
  Database database = open_database("a.db");
  ASSERT_TRUE(database.exec("CREATE TABLE t (a)").is_ok());
  Status status = database.transaction([&] { return database.exec("INSERT INTO t VALUES (1)"); });
  ASSERT_TRUE(status.is_ok()) << status.to_string();
  EXPECT_FALSE(database.in_transaction());
  EXPECT_EQ(count_rows(database, "t"), 1);
}

TEST_F(DatabaseTest, TransactionRollsBackFailedBody) {
  Database database = open_database("a.db");
  ASSERT_TRUE(database.exec("CREATE TABLE t (a)").is_ok());
  Status status = database.transaction([&] {
    EXPECT_TRUE(database.in_transaction());
    EXPECT_TRUE(database.exec("INSERT INTO t VALUES (1)").is_ok());
    return Status(ErrorCode::kNotFound, "task 't1' not found");
  });
  EXPECT_EQ(status.code(), ErrorCode::kNotFound);
  EXPECT_EQ(status.message(), "task 't1' not found");
  EXPECT_FALSE(database.in_transaction());
  EXPECT_EQ(count_rows(database, "t"), 0);
  EXPECT_EQ(database.busy_retries(), 0);
}

TEST_F(DatabaseTest, TransactionRejectsNesting) {
  Database database = open_database("a.db");
  Status inner;
  Status outer = database.transaction([&] {
    inner = database.transaction([] { return Status::ok(); });
    return Status::ok();
  });
  EXPECT_TRUE(outer.is_ok());
  EXPECT_EQ(inner.code(), ErrorCode::kInternal);
}

TEST_F(DatabaseTest, TransactionWaitsOutBusyBegin) {
  auto clock = std::make_shared<HookClock>();
  DatabaseOptions options;
  options.busy_timeout_ms = 0;
  options.clock = clock;
  Database database = open_database("a.db", options);
  ASSERT_TRUE(database.exec("CREATE TABLE t (a)").is_ok());

  RawConnection other(file("a.db"));
  ASSERT_EQ(other.exec("BEGIN IMMEDIATE"), SQLITE_OK);
  clock->on_sleep = [&] { other.exec("COMMIT"); };
  int body_runs = 0;
  Status status = database.transaction([&] {
    ++body_runs;
    return database.exec("INSERT INTO t VALUES (1)");
  });

  ASSERT_TRUE(status.is_ok()) << status.to_string();
  EXPECT_EQ(body_runs, 1);  // BEGIN IMMEDIATE failed before the body ran
  EXPECT_EQ(clock->sleeps, 1);
  EXPECT_EQ(clock->slept, std::chrono::milliseconds(20));
  EXPECT_EQ(database.busy_retries(), 1);
  EXPECT_EQ(count_rows(database, "t"), 1);
}

// A commit that fails with SQLITE_BUSY after the body ran must re-run the whole body. In WAL mode
// a commit does not wait for readers, so the write goes to an attached file in rollback-journal
// mode, whose commit needs every reader of that file to be gone.
TEST_F(DatabaseTest, TransactionReRunsBodyAfterBusyCommit) {
  auto clock = std::make_shared<HookClock>();
  DatabaseOptions options;
  options.busy_timeout_ms = 0;
  options.clock = clock;
  Database database = open_database("main.db", options);
  ASSERT_TRUE(database.exec("ATTACH '" + file("side.db") + "' AS side").is_ok());
  ASSERT_TRUE(database.exec("CREATE TABLE side.t (a)").is_ok());

  RawConnection reader(file("side.db"));
  ASSERT_EQ(reader.exec("BEGIN; SELECT count(*) FROM t"), SQLITE_OK);
  clock->on_sleep = [&] { reader.exec("COMMIT"); };
  int body_runs = 0;
  Status status = database.transaction([&] {
    ++body_runs;
    return database.exec("INSERT INTO side.t VALUES (1)");
  });

  ASSERT_TRUE(status.is_ok()) << status.to_string();
  EXPECT_EQ(body_runs, 2);
  EXPECT_EQ(database.busy_retries(), 1);
  EXPECT_EQ(count_rows(database, "side.t"), 1);
}

TEST_F(DatabaseTest, TransactionGivesUpAfterMaxAttempts) {
  auto clock = std::make_shared<HookClock>();
  DatabaseOptions options;
  options.busy_timeout_ms = 0;
  options.max_transaction_attempts = 3;
  options.clock = clock;
  Database database = open_database("a.db", options);
  ASSERT_TRUE(database.exec("CREATE TABLE t (a)").is_ok());

  RawConnection other(file("a.db"));
  ASSERT_EQ(other.exec("BEGIN IMMEDIATE"), SQLITE_OK);
  int body_runs = 0;
  Status status = database.transaction([&] {
    ++body_runs;
    return Status::ok();
  });

  EXPECT_EQ(status.code(), ErrorCode::kConflict);
  EXPECT_NE(status.message().find("after 3 attempts"), std::string::npos);
  EXPECT_NE(status.message().find("BEGIN IMMEDIATE"), std::string::npos);
  EXPECT_TRUE(is_busy_code(database.last_error_code()));
  EXPECT_EQ(body_runs, 0);
  EXPECT_EQ(clock->sleeps, 2);
  EXPECT_EQ(clock->slept, std::chrono::milliseconds(20 + 40));
  EXPECT_EQ(database.busy_retries(), 2);
  EXPECT_FALSE(database.in_transaction());
}

TEST_F(DatabaseTest, BackoffStopsAtMaximum) {
  auto clock = std::make_shared<HookClock>();
  DatabaseOptions options;
  options.busy_timeout_ms = 0;
  options.max_transaction_attempts = 5;
  options.initial_backoff = std::chrono::milliseconds(100);
  options.max_backoff = std::chrono::milliseconds(250);
  options.clock = clock;
  Database database = open_database("a.db", options);

  RawConnection other(file("a.db"));
  ASSERT_EQ(other.exec("BEGIN IMMEDIATE"), SQLITE_OK);
  Status status = database.transaction([] { return Status::ok(); });

  EXPECT_EQ(status.code(), ErrorCode::kConflict);
  EXPECT_EQ(clock->sleeps, 4);
  EXPECT_EQ(clock->slept, std::chrono::milliseconds(100 + 200 + 250 + 250));
}

TEST_F(DatabaseTest, NonBusyFailureIsNotRetried) {
  auto clock = std::make_shared<HookClock>();
  DatabaseOptions options;
  options.clock = clock;
  Database database = open_database("a.db", options);
  int body_runs = 0;
  Status status = database.transaction([&] {
    ++body_runs;
    return database.exec("INSERT INTO missing VALUES (1)");
  });
  EXPECT_EQ(status.code(), ErrorCode::kIoError);
  EXPECT_NE(status.message().find("no such table: missing"), std::string::npos);
  EXPECT_EQ(body_runs, 1);
  EXPECT_EQ(clock->sleeps, 0);
}

TEST(IsBusyCodeTest, CoversExtendedBusyCodes) {
  EXPECT_TRUE(is_busy_code(SQLITE_BUSY));
  EXPECT_TRUE(is_busy_code(517));  // SQLITE_BUSY_SNAPSHOT
  EXPECT_TRUE(is_busy_code(SQLITE_BUSY_RECOVERY));
  EXPECT_FALSE(is_busy_code(SQLITE_LOCKED));
  EXPECT_FALSE(is_busy_code(SQLITE_OK));
}

}  // namespace
}  // namespace ollamaflow::store
