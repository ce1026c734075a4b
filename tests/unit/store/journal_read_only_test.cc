// Journal::open_read_only, and the message of a write open on a journal that SQLite can only
// read. Root may write every file whatever its mode, so these tests make the journal
// read-only through SQLite itself (a mode=ro URI); the end-to-end tests use real permissions.
#include <sqlite3.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "fakes/test_paths.h"
#include "store/journal.h"
#include "store/schema.h"

namespace ollamaflow::store {
namespace {

class JournalReadOnlyTest : public ::testing::Test {
 protected:
  std::string path() const { return (temp_.path() / "journal.db").string(); }

  // Creates the journal with one run and closes it; returns the run id.
  std::string journal_one_run() {
    Result<std::unique_ptr<Journal>> journal = Journal::open(path());
    EXPECT_TRUE(journal.is_ok()) << journal.status().to_string();
    RunRecord run;
    run.goal = "write a note";
    Result<RunRecord> created = (*journal)->create_run(run);
    EXPECT_TRUE(created.is_ok()) << created.status().to_string();
    return created.is_ok() ? created->id : "";
  }

  // Returns the journal mode of the file, read with the SQLite API.
  std::string journal_mode() const {
    sqlite3* handle = nullptr;
    sqlite3_open_v2(path().c_str(), &handle, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* statement = nullptr;
    sqlite3_prepare_v2(handle, "PRAGMA journal_mode", -1, &statement, nullptr);
    std::string mode;
    if (sqlite3_step(statement) == SQLITE_ROW) {
      mode = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    }
    sqlite3_finalize(statement);
    sqlite3_close(handle);
    return mode;
  }

  void set_journal_mode(const std::string& mode) const {
    sqlite3* handle = nullptr;
    sqlite3_open_v2(path().c_str(), &handle, SQLITE_OPEN_READWRITE, nullptr);
    sqlite3_exec(handle, ("PRAGMA journal_mode=" + mode).c_str(), nullptr, nullptr, nullptr);
    sqlite3_close(handle);
  }

  testing::TempDir temp_;
};

TEST_F(JournalReadOnlyTest, ReadsRunsOfJournal) {
  const std::string id = journal_one_run();
  Result<std::unique_ptr<Journal>> journal = Journal::open_read_only(path());
  ASSERT_TRUE(journal.is_ok()) << journal.status().to_string();
  Result<std::vector<RunRecord>> runs = (*journal)->list_runs(10);
  ASSERT_TRUE(runs.is_ok()) << runs.status().to_string();
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ(runs->front().id, id);
  EXPECT_TRUE((*journal)->get_run(id).is_ok());
}

TEST_F(JournalReadOnlyTest, LeavesJournalModeAlone) {
  journal_one_run();
  set_journal_mode("delete");
  ASSERT_EQ(journal_mode(), "delete");
  Result<std::unique_ptr<Journal>> journal = Journal::open_read_only(path());
  ASSERT_TRUE(journal.is_ok()) << journal.status().to_string();
  EXPECT_TRUE((*journal)->list_runs(10).is_ok());
  journal->reset();
  EXPECT_EQ(journal_mode(), "delete");
}

TEST_F(JournalReadOnlyTest, MissingFileIsNotFound) {
  Result<std::unique_ptr<Journal>> journal = Journal::open_read_only(path());
  ASSERT_FALSE(journal.is_ok());
  EXPECT_EQ(journal.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(journal.status().message().find(path()), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(path())) << "a read created the journal";
}

TEST_F(JournalReadOnlyTest, WriteSaysOpenedReadOnly) {
  journal_one_run();
  Result<std::unique_ptr<Journal>> journal = Journal::open_read_only(path());
  ASSERT_TRUE(journal.is_ok()) << journal.status().to_string();
  RunRecord run;
  run.goal = "another note";
  Result<RunRecord> created = (*journal)->create_run(run);
  ASSERT_FALSE(created.is_ok());
  EXPECT_EQ(created.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(created.status().message().find("opened read-only"), std::string::npos)
      << created.status().message();
  EXPECT_TRUE((*journal)->list_runs(10).is_ok()) << "reads go on after a rejected write";
}

TEST_F(JournalReadOnlyTest, NewerSchemaIsRejected) {
  journal_one_run();
  sqlite3* handle = nullptr;
  sqlite3_open_v2(path().c_str(), &handle, SQLITE_OPEN_READWRITE, nullptr);
  sqlite3_exec(handle,
               "INSERT INTO schema_version (version, description, applied_at) "
               "VALUES (99, 'future', '2030-01-01')",
               nullptr, nullptr, nullptr);
  sqlite3_close(handle);
  Result<std::unique_ptr<Journal>> journal = Journal::open_read_only(path());
  ASSERT_FALSE(journal.is_ok());
  EXPECT_EQ(journal.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(journal.status().message().find("schema version 99"), std::string::npos)
      << journal.status().message();
}

TEST_F(JournalReadOnlyTest, ReadOnlyFileRejectsWriteOpen) {
  journal_one_run();
  const std::string uri = "file:" + path() + "?mode=ro";
  Result<std::unique_ptr<Journal>> journal = Journal::open(uri);
  ASSERT_FALSE(journal.is_ok());
  EXPECT_EQ(journal.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(journal.status().message().find("journal '" + uri + "' is read-only"),
            std::string::npos)
      << journal.status().message();
  EXPECT_NE(journal.status().message().find("pass --db with a writable path"), std::string::npos)
      << journal.status().message();
}

}  // namespace
}  // namespace ollamaflow::store
