// The open-folder cache behind Workspace: folders verified once are reused, and a folder that is
// swapped for a link, removed or replaced after it was cached never redirects a write.
#include "orchestrator/workspace_folders.h"

#include <atomic>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fakes/test_paths.h"
#include "orchestrator/workspace.h"

namespace ollamaflow::orchestrator {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

size_t open_descriptors() {
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator("/proc/self/fd")) {
    ++count;
  }
  return count;
}

class WorkspaceFoldersTest : public ::testing::Test {
 protected:
  WorkspaceFoldersTest() {
    outside_ = temp_.path() / "outside";
    fs::create_directories(outside_);
    Result<Workspace> opened = Workspace::open(temp_.path() / "ws");
    EXPECT_TRUE(opened.is_ok()) << opened.status().to_string();
    workspace_ = std::make_unique<Workspace>(std::move(opened).value());
    root_ = workspace_->root();
  }

  ollamaflow::testing::TempDir temp_;
  fs::path outside_;
  fs::path root_;
  std::unique_ptr<Workspace> workspace_;
};

TEST_F(WorkspaceFoldersTest, LinkSwappedForCachedFolderIsRejected) {
  ASSERT_TRUE(workspace_->write_file("docs/a.md", "a", "t").is_ok());
  fs::rename(root_ / "docs", outside_ / "moved");
  fs::create_directory_symlink(outside_, root_ / "docs");

  Result<WrittenFile> written = workspace_->write_file("docs/b.md", "evil", "t");
  Result<std::string> read = workspace_->read_file("docs/a.md", 100);

  EXPECT_EQ(written.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(written.status().message(), HasSubstr("'docs' is a symbolic link"));
  EXPECT_EQ(read.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(outside_ / "b.md"));
  EXPECT_FALSE(fs::exists(outside_ / "moved" / "b.md"));
}

TEST_F(WorkspaceFoldersTest, LinkSwappedForCachedParentIsRejected) {
  // The link leads to the very folder that was cached, so only the check of "a" itself, not of
  // "a/b" inside it, can see the swap.
  ASSERT_TRUE(workspace_->write_file("a/b/c.md", "c", "t").is_ok());
  fs::rename(root_ / "a", outside_ / "moved-a");
  fs::create_directory_symlink(outside_ / "moved-a", root_ / "a");

  Result<WrittenFile> written = workspace_->write_file("a/b/d.md", "evil", "t");

  EXPECT_EQ(written.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(written.status().message(), HasSubstr("'a' is a symbolic link"));
  EXPECT_FALSE(fs::exists(outside_ / "moved-a" / "b" / "d.md"));
  EXPECT_EQ(workspace_->check_path("a/b/d.md").code(), ErrorCode::kInvalidArgument);
}

TEST_F(WorkspaceFoldersTest, RemovedFolderIsCreatedAgain) {
  ASSERT_TRUE(workspace_->write_file("out/a.txt", "a", "t").is_ok());
  fs::remove_all(root_ / "out");

  Result<WrittenFile> written = workspace_->write_file("out/b.txt", "b", "t");

  ASSERT_TRUE(written.is_ok()) << written.status().to_string();
  EXPECT_EQ(read_all(root_ / "out" / "b.txt"), "b");
}

TEST_F(WorkspaceFoldersTest, FileSwappedForCachedFolderIsRejected) {
  ASSERT_TRUE(workspace_->write_file("out/a.txt", "a", "t").is_ok());
  fs::remove_all(root_ / "out");
  std::ofstream(root_ / "out") << "plain";

  Result<WrittenFile> written = workspace_->write_file("out/b.txt", "b", "t");

  EXPECT_EQ(written.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(written.status().message(), HasSubstr("'out' is a file"));
  EXPECT_EQ(read_all(root_ / "out"), "plain");
}

TEST_F(WorkspaceFoldersTest, ReplacedFolderIsUsedByItsPath) {
  ASSERT_TRUE(workspace_->write_file("out/a.txt", "a", "t").is_ok());
  fs::rename(root_ / "out", root_ / "old");
  fs::create_directory(root_ / "out");

  ASSERT_TRUE(workspace_->write_file("out/b.txt", "b", "t").is_ok());

  EXPECT_EQ(read_all(root_ / "out" / "b.txt"), "b");
  EXPECT_FALSE(fs::exists(root_ / "old" / "b.txt"));
}

TEST_F(WorkspaceFoldersTest, RootStaysTheOpenedFolder) {
  const fs::path moved = temp_.path() / "moved-ws";
  fs::rename(root_, moved);
  fs::create_directory_symlink(outside_, root_);

  ASSERT_TRUE(workspace_->write_file("x.txt", "x", "t").is_ok());

  EXPECT_EQ(read_all(moved / "x.txt"), "x");
  EXPECT_FALSE(fs::exists(outside_ / "x.txt"));
}

TEST_F(WorkspaceFoldersTest, ReplacedUnownedMarksPreexistingFiles) {
  std::ofstream(root_ / "notes.md") << "my own notes";
  ASSERT_TRUE(workspace_->claim("resumed.md", "earlier").is_ok());
  std::ofstream(root_ / "resumed.md") << "from the first run";

  Result<WrittenFile> preexisting = workspace_->write_file("notes.md", "new", "t");
  Result<WrittenFile> fresh = workspace_->write_file("fresh.md", "new", "t");
  Result<WrittenFile> rewritten = workspace_->write_file("fresh.md", "again", "t");
  Result<WrittenFile> resumed = workspace_->write_file("resumed.md", "again", "earlier");

  ASSERT_TRUE(preexisting.is_ok());
  EXPECT_TRUE(preexisting->replaced);
  EXPECT_TRUE(preexisting->replaced_unowned);
  ASSERT_TRUE(fresh.is_ok());
  EXPECT_FALSE(fresh->replaced_unowned);
  ASSERT_TRUE(rewritten.is_ok());
  EXPECT_TRUE(rewritten->replaced);
  EXPECT_FALSE(rewritten->replaced_unowned);
  ASSERT_TRUE(resumed.is_ok());
  EXPECT_TRUE(resumed->replaced);
  EXPECT_FALSE(resumed->replaced_unowned);
}

TEST_F(WorkspaceFoldersTest, CacheKeepsVerifiedFolders) {
  Result<std::unique_ptr<workspace_io::FolderCache>> cache = workspace_io::FolderCache::open(root_);
  ASSERT_TRUE(cache.is_ok()) << cache.status().to_string();

  Result<std::shared_ptr<const workspace_io::OpenFolder>> first =
      (*cache)->parent_folder("a/b/x.txt", /*create=*/true);
  Result<std::shared_ptr<const workspace_io::OpenFolder>> second =
      (*cache)->parent_folder("a/b/y.txt", /*create=*/true);
  Result<std::shared_ptr<const workspace_io::OpenFolder>> top =
      (*cache)->parent_folder("top.txt", /*create=*/true);

  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  ASSERT_TRUE(second.is_ok()) << second.status().to_string();
  ASSERT_TRUE(top.is_ok()) << top.status().to_string();
  EXPECT_EQ(first->get(), second->get());
  EXPECT_TRUE(fs::is_directory(root_ / "a" / "b"));
  EXPECT_EQ((*cache)->size(), 2u);
}

TEST_F(WorkspaceFoldersTest, MissingFolderWithoutCreateIsNotFound) {
  Result<std::unique_ptr<workspace_io::FolderCache>> cache = workspace_io::FolderCache::open(root_);
  ASSERT_TRUE(cache.is_ok());

  Result<std::shared_ptr<const workspace_io::OpenFolder>> folder =
      (*cache)->parent_folder("none/x.txt", /*create=*/false);

  EXPECT_EQ(folder.status().code(), ErrorCode::kNotFound);
  EXPECT_THAT(folder.status().message(), HasSubstr("'none' does not exist"));
  EXPECT_FALSE(fs::exists(root_ / "none"));
}

TEST_F(WorkspaceFoldersTest, CacheStaysBoundedAndFoldersStayWritable) {
  constexpr size_t kFolders = workspace_io::FolderCache::kMaxOpenFolders + 40;
  Result<std::unique_ptr<workspace_io::FolderCache>> cache = workspace_io::FolderCache::open(root_);
  ASSERT_TRUE(cache.is_ok());
  const size_t descriptors_before = open_descriptors();

  for (size_t i = 0; i < kFolders; ++i) {
    const std::string path = "f" + std::to_string(i) + "/x.txt";
    ASSERT_TRUE((*cache)->parent_folder(path, /*create=*/true).is_ok()) << path;
  }

  EXPECT_EQ((*cache)->size(), workspace_io::FolderCache::kMaxOpenFolders);
  EXPECT_LE(open_descriptors(), descriptors_before + workspace_io::FolderCache::kMaxOpenFolders);
  EXPECT_TRUE((*cache)->parent_folder("f0/x.txt", /*create=*/false).is_ok());
}

TEST_F(WorkspaceFoldersTest, ConcurrentWritersPastTheCacheBound) {
  constexpr int kThreads = 8;
  constexpr int kFoldersPerThread = 40;  // 320 folders in all, more than the cache keeps
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kFoldersPerThread; ++i) {
        // Every thread also writes into the shared folders, so entries are evicted and
        // reopened while other threads use them.
        const std::string own = "own" + std::to_string(t) + "/f" + std::to_string(i) + "/x.txt";
        const std::string shared =
            "shared/f" + std::to_string(i) + "/t" + std::to_string(t) + ".txt";
        const std::string owner = "t" + std::to_string(t);
        if (!workspace_->write_file(own, owner, owner).is_ok() ||
            !workspace_->write_file(shared, owner, owner).is_ok()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }

  EXPECT_EQ(failures.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kFoldersPerThread; ++i) {
      const std::string owner = "t" + std::to_string(t);
      EXPECT_EQ(read_all(root_ / ("own" + std::to_string(t)) / ("f" + std::to_string(i)) / "x.txt"),
                owner);
      EXPECT_EQ(read_all(root_ / "shared" / ("f" + std::to_string(i)) / (owner + ".txt")), owner);
    }
  }
}

}  // namespace
}  // namespace ollamaflow::orchestrator
