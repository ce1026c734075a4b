#include "orchestrator/workspace_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fakes/test_paths.h"

namespace ollamaflow::orchestrator {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

TEST(WorkspaceLockTest, CreatesMissingFolder) {
  ollamaflow::testing::TempDir dir;
  const fs::path root = dir.path() / "a" / "ws";
  Result<WorkspaceLock> lock = WorkspaceLock::acquire(root);
  ASSERT_TRUE(lock) << lock.status().message();
  EXPECT_TRUE(lock->enforced());
  EXPECT_TRUE(fs::is_directory(root));
  EXPECT_TRUE(fs::is_empty(root));
}

// A run that stops before it opens its workspace leaves no empty folders behind.
TEST(WorkspaceLockTest, RemovesCreatedEmptyFolders) {
  ollamaflow::testing::TempDir dir;
  {
    Result<WorkspaceLock> lock = WorkspaceLock::acquire(dir.path() / "a" / "ws");
    ASSERT_TRUE(lock) << lock.status().message();
  }
  EXPECT_FALSE(fs::exists(dir.path() / "a"));
  EXPECT_TRUE(fs::is_directory(dir.path()));
}

TEST(WorkspaceLockTest, KeepsFoldersWithFiles) {
  ollamaflow::testing::TempDir dir;
  {
    Result<WorkspaceLock> lock = WorkspaceLock::acquire(dir.path() / "a" / "ws");
    ASSERT_TRUE(lock) << lock.status().message();
    std::ofstream(dir.path() / "a" / "note.txt") << "x";
  }
  EXPECT_FALSE(fs::exists(dir.path() / "a" / "ws"));
  EXPECT_TRUE(fs::exists(dir.path() / "a" / "note.txt"));
}

TEST(WorkspaceLockTest, KeepCreatedLeavesFolder) {
  ollamaflow::testing::TempDir dir;
  {
    Result<WorkspaceLock> lock = WorkspaceLock::acquire(dir.path() / "ws");
    ASSERT_TRUE(lock) << lock.status().message();
    lock->keep_created();
  }
  EXPECT_TRUE(fs::is_directory(dir.path() / "ws"));
}

TEST(WorkspaceLockTest, NeverRemovesExistingFolder) {
  ollamaflow::testing::TempDir dir;
  fs::create_directories(dir.path() / "ws");
  {
    Result<WorkspaceLock> lock = WorkspaceLock::acquire(dir.path() / "ws");
    ASSERT_TRUE(lock) << lock.status().message();
  }
  EXPECT_TRUE(fs::is_directory(dir.path() / "ws"));
}

TEST(WorkspaceLockTest, SecondLockIsConflict) {
  ollamaflow::testing::TempDir dir;
  const fs::path root = dir.path() / "ws";
  Result<WorkspaceLock> first = WorkspaceLock::acquire(root);
  ASSERT_TRUE(first) << first.status().message();
  Result<WorkspaceLock> second = WorkspaceLock::acquire(root);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.status().code(), ErrorCode::kConflict);
  EXPECT_THAT(second.status().message(), HasSubstr(root.string()));
  EXPECT_THAT(second.status().message(), HasSubstr("in use"));
}

TEST(WorkspaceLockTest, ReleasedWhenDestroyed) {
  ollamaflow::testing::TempDir dir;
  const fs::path root = dir.path() / "ws";
  {
    Result<WorkspaceLock> first = WorkspaceLock::acquire(root);
    ASSERT_TRUE(first) << first.status().message();
  }
  Result<WorkspaceLock> again = WorkspaceLock::acquire(root);
  EXPECT_TRUE(again) << again.status().message();
}

TEST(WorkspaceLockTest, MovedLockStaysHeld) {
  ollamaflow::testing::TempDir dir;
  const fs::path root = dir.path() / "ws";
  std::optional<WorkspaceLock> held;
  {
    Result<WorkspaceLock> first = WorkspaceLock::acquire(root);
    ASSERT_TRUE(first) << first.status().message();
    held = std::move(first).value();
  }
  EXPECT_FALSE(WorkspaceLock::acquire(root));
  held.reset();
  EXPECT_TRUE(WorkspaceLock::acquire(root));
}

// The lock is a plain flock on the folder, so any process that flocks the folder excludes a run.
TEST(WorkspaceLockTest, HonoursForeignFlock) {
  ollamaflow::testing::TempDir dir;
  const fs::path root = dir.path() / "ws";
  fs::create_directories(root);
  const int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  EXPECT_FALSE(WorkspaceLock::acquire(root));
  ::close(fd);
  EXPECT_TRUE(WorkspaceLock::acquire(root));
}

TEST(WorkspaceLockTest, FileInPlaceOfFolderIsRejected) {
  ollamaflow::testing::TempDir dir;
  const fs::path root = dir.path() / "file";
  { std::ofstream(root) << "x"; }
  Result<WorkspaceLock> lock = WorkspaceLock::acquire(root);
  ASSERT_FALSE(lock);
  EXPECT_EQ(lock.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(lock.status().message(), HasSubstr(root.string()));
  EXPECT_THAT(lock.status().message(), HasSubstr("--workspace"));
}

}  // namespace
}  // namespace ollamaflow::orchestrator
