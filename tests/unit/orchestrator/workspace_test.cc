#include "orchestrator/workspace.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fakes/test_paths.h"
#include "orchestrator/workspace_io.h"

namespace ollamaflow::orchestrator {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_plain(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

// Every entry under `root` (links not followed) with its type and, for files, content.
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> entries;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    std::string key = fs::relative(it->path(), root).string();
    if (it->is_symlink()) {
      entries[key] = "link:" + fs::read_symlink(it->path()).string();
    } else if (it->is_regular_file()) {
      entries[key] = "file:" + read_all(it->path());
    } else {
      entries[key] = "other";
    }
  }
  return entries;
}

std::vector<std::string> temporary_files(const fs::path& root) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (workspace_io::is_temporary_name(entry.path().filename().string())) {
      found.push_back(entry.path().string());
    }
  }
  return found;
}

class WorkspaceTest : public ::testing::Test {
 protected:
  WorkspaceTest() {
    // The workspace sits four levels deep, so "../../../../x" would land inside the temp
    // folder, where the test can see it.
    root_ = temp_.path() / "l1" / "l2" / "l3" / "l4" / "ws";
    outside_ = temp_.path() / "outside";
    write_plain(outside_ / "sentinel.txt", "keep me");
    Result<Workspace> opened = Workspace::open(root_);
    EXPECT_TRUE(opened.is_ok()) << opened.status().to_string();
    workspace_ = std::make_unique<Workspace>(std::move(opened).value());
  }

  // Everything in the temp folder except the workspace itself.
  std::map<std::string, std::string> outside_snapshot() {
    std::map<std::string, std::string> all = snapshot(temp_.path());
    std::map<std::string, std::string> result;
    for (const auto& [path, value] : all) {
      if (path.rfind("l1/l2/l3/l4/ws/", 0) != 0) {
        result[path] = value;
      }
    }
    return result;
  }

  ollamaflow::testing::TempDir temp_;
  fs::path root_;
  fs::path outside_;
  std::unique_ptr<Workspace> workspace_;
};

TEST_F(WorkspaceTest, OpenCreatesFolder) {
  EXPECT_TRUE(fs::is_directory(root_));
  EXPECT_EQ(workspace_->root(), fs::canonical(root_));
}

TEST_F(WorkspaceTest, OpenRejectsFileAndEmptyPath) {
  write_plain(temp_.path() / "plain.txt", "x");

  Result<Workspace> on_file = Workspace::open(temp_.path() / "plain.txt");
  Result<Workspace> empty = Workspace::open("");

  EXPECT_EQ(on_file.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(on_file.status().message(), HasSubstr("plain.txt' exists but is not a folder"));
  EXPECT_EQ(empty.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(WorkspaceTest, OpenNamesDanglingLink) {
  fs::create_directory_symlink(temp_.path() / "gone", temp_.path() / "dangling");

  Result<Workspace> dangling = Workspace::open(temp_.path() / "dangling");

  EXPECT_EQ(dangling.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(dangling.status().message(),
              HasSubstr("dangling' is a symbolic link to '" + (temp_.path() / "gone").string() +
                        "', which does not exist"));
}

TEST_F(WorkspaceTest, OpenResolvesLinkedRoot) {
  fs::create_directory_symlink(root_, temp_.path() / "ws-link");

  Result<Workspace> linked = Workspace::open(temp_.path() / "ws-link");

  ASSERT_TRUE(linked.is_ok()) << linked.status().to_string();
  EXPECT_EQ(linked->root(), fs::canonical(root_));
  EXPECT_TRUE(linked->write_file("a.txt", "x", "a").is_ok());
  EXPECT_EQ(read_all(root_ / "a.txt"), "x");
}

TEST_F(WorkspaceTest, WritesNestedPath) {
  Result<WrittenFile> written = workspace_->write_file("notes/sub/out.md", "# Notes\n", "a");

  ASSERT_TRUE(written.is_ok()) << written.status().to_string();
  EXPECT_EQ(written->relative_path, "notes/sub/out.md");
  EXPECT_EQ(written->path, workspace_->root() / "notes/sub/out.md");
  EXPECT_EQ(written->owner_task_id, "a");
  EXPECT_EQ(written->bytes, 8u);
  EXPECT_FALSE(written->replaced);
  EXPECT_EQ(read_all(root_ / "notes/sub/out.md"), "# Notes\n");
  EXPECT_THAT(temporary_files(root_), IsEmpty());
}

TEST_F(WorkspaceTest, WritesEmptyAndBinaryContent) {
  std::string binary("a\0b\xff", 4);
  ASSERT_TRUE(workspace_->write_file("empty.txt", "", "a").is_ok());
  ASSERT_TRUE(workspace_->write_file("blob.bin", binary, "a").is_ok());

  EXPECT_EQ(read_all(root_ / "empty.txt"), "");
  EXPECT_EQ(read_all(root_ / "blob.bin"), binary);
}

TEST_F(WorkspaceTest, RejectsTraversalAndLeavesOutsideUnchanged) {
  std::map<std::string, std::string> before = outside_snapshot();
  std::vector<std::string> paths = {"../../../../tmp/malicious.py",
                                    "../../../etc/passwd",
                                    "/etc/cron.d/evil",
                                    "..\\..\\x",
                                    "../../../sensitive/file.txt",
                                    "../../../../etc/notes.md",
                                    "notes/../../outside/sentinel.txt",
                                    "../../../../../outside/sentinel.txt",
                                    "C:\\Windows\\evil.txt",
                                    "C:/evil.txt",
                                    "c:evil.txt",
                                    "",
                                    ".",
                                    "./a.txt",
                                    "a//b.txt",
                                    "notes/",
                                    std::string("nul\0byte.txt", 12),
                                    "tab\there.txt",
                                    "line\nbreak.txt",
                                    "del\x7f.txt",
                                    std::string(300, 'n') + ".txt"};
  for (const std::string& path : paths) {
    Result<WrittenFile> written = workspace_->write_file(path, "evil", "a");
    EXPECT_FALSE(written.is_ok()) << path;
    EXPECT_EQ(written.status().code(), ErrorCode::kInvalidArgument) << path;
    EXPECT_THAT(written.status().message(), HasSubstr("rejected")) << path;
  }

  EXPECT_EQ(outside_snapshot(), before);
  EXPECT_THAT(snapshot(root_), IsEmpty());
  EXPECT_FALSE(fs::exists("/etc/cron.d/evil"));
}

TEST_F(WorkspaceTest, AgentNameCannotBecomePath) {
  Status name = check_path_component("../../../../etc");
  EXPECT_EQ(name.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(name.message(), HasSubstr("'..'"));
  EXPECT_FALSE(check_path_component("agents/dev").is_ok());
  EXPECT_TRUE(check_path_component("agent-developer-1").is_ok());

  std::map<std::string, std::string> before = outside_snapshot();
  std::string agent = "../../../../etc";
  EXPECT_FALSE(workspace_->write_file(agent + "/notes.md", "x", agent).is_ok());
  EXPECT_EQ(outside_snapshot(), before);
}

TEST_F(WorkspaceTest, RejectsDanglingSymlinkPointingOutside) {
  fs::create_symlink(outside_ / "created.txt", root_ / "link.txt");

  Result<WrittenFile> written = workspace_->write_file("link.txt", "evil", "a");

  EXPECT_EQ(written.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(written.status().message(), HasSubstr("symbolic link"));
  EXPECT_FALSE(fs::exists(outside_ / "created.txt"));
  EXPECT_TRUE(fs::is_symlink(root_ / "link.txt"));
  EXPECT_THAT(temporary_files(root_), IsEmpty());
}

TEST_F(WorkspaceTest, RejectsSymlinkToFileOutside) {
  fs::create_symlink(outside_ / "sentinel.txt", root_ / "sentinel.txt");

  Result<WrittenFile> written = workspace_->write_file("sentinel.txt", "evil", "a");

  EXPECT_EQ(written.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(read_all(outside_ / "sentinel.txt"), "keep me");
}

TEST_F(WorkspaceTest, RejectsSymlinkedFolderOnTheWay) {
  fs::create_directory_symlink(outside_, root_ / "docs");

  Result<WrittenFile> written = workspace_->write_file("docs/api/new.md", "evil", "a");

  EXPECT_EQ(written.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(written.status().message(), HasSubstr("'docs' is a symbolic link"));
  EXPECT_FALSE(fs::exists(outside_ / "api"));
}

TEST_F(WorkspaceTest, RejectsSymlinkEvenWithinWorkspace) {
  fs::create_directories(root_ / "real");
  fs::create_directory_symlink(root_ / "real", root_ / "alias");

  EXPECT_FALSE(workspace_->write_file("alias/x.md", "x", "a").is_ok());
  EXPECT_FALSE(fs::exists(root_ / "real/x.md"));
}

TEST_F(WorkspaceTest, RejectsFolderAtTarget) {
  fs::create_directories(root_ / "src");

  Result<WrittenFile> written = workspace_->write_file("src", "x", "a");

  EXPECT_EQ(written.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(written.status().message(), HasSubstr("a folder"));
}

TEST_F(WorkspaceTest, RejectsFifoAtTarget) {
  ASSERT_EQ(::mkfifo((root_ / "pipe").c_str(), 0600), 0);

  Result<WrittenFile> written = workspace_->write_file("pipe", "x", "a");

  EXPECT_EQ(written.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(written.status().message(), HasSubstr("a FIFO"));
  EXPECT_THAT(temporary_files(root_), IsEmpty());
}

TEST_F(WorkspaceTest, RejectsFileWhereFolderIsNeeded) {
  ASSERT_TRUE(workspace_->write_file("app.py", "x", "a").is_ok());

  Result<WrittenFile> written = workspace_->write_file("app.py/main.py", "x", "a");

  EXPECT_EQ(written.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(written.status().message(), HasSubstr("'app.py' is a file"));
}

TEST_F(WorkspaceTest, SecondTaskGetsConflict) {
  ASSERT_TRUE(workspace_->write_file("src/app.py", "first", "api").is_ok());

  Result<WrittenFile> written = workspace_->write_file("src/app.py", "second", "tests");

  EXPECT_EQ(written.status().code(), ErrorCode::kConflict);
  EXPECT_THAT(written.status().message(), HasSubstr("belongs to task \"api\""));
  EXPECT_THAT(written.status().message(), HasSubstr("task \"tests\" may not write it"));
  EXPECT_EQ(read_all(root_ / "src/app.py"), "first");
  EXPECT_EQ(workspace_->owner_of("src/app.py"), "api");
}

TEST_F(WorkspaceTest, SameTaskMayRewriteOnRetry) {
  ASSERT_TRUE(workspace_->write_file("src/app.py", "first", "api").is_ok());

  Result<WrittenFile> written = workspace_->write_file("src/app.py", "second", "api");

  ASSERT_TRUE(written.is_ok()) << written.status().to_string();
  EXPECT_TRUE(written->replaced);
  EXPECT_EQ(read_all(root_ / "src/app.py"), "second");
  EXPECT_THAT(temporary_files(root_), IsEmpty());
}

TEST_F(WorkspaceTest, ClaimReservesPathForResume) {
  ASSERT_TRUE(workspace_->claim("src/app.py", "api").is_ok());

  EXPECT_EQ(workspace_->write_file("src/app.py", "x", "tests").status().code(),
            ErrorCode::kConflict);
  EXPECT_EQ(workspace_->claim("src/app.py", "tests").code(), ErrorCode::kConflict);
  EXPECT_TRUE(workspace_->claim("src/app.py", "api").is_ok());
  EXPECT_EQ(workspace_->owners(), (std::map<std::string, std::string>{{"src/app.py", "api"}}));
  EXPECT_EQ(workspace_->claim("../x", "api").code(), ErrorCode::kInvalidArgument);
}

TEST_F(WorkspaceTest, FailedWriteReleasesNewClaim) {
  ASSERT_EQ(::mkfifo((root_ / "out.txt").c_str(), 0600), 0);
  ASSERT_FALSE(workspace_->write_file("out.txt", "x", "a").is_ok());
  EXPECT_FALSE(workspace_->owner_of("out.txt").has_value());

  fs::remove(root_ / "out.txt");
  EXPECT_TRUE(workspace_->write_file("out.txt", "x", "b").is_ok());
}

TEST_F(WorkspaceTest, RejectsEmptyOwner) {
  EXPECT_EQ(workspace_->write_file("a.txt", "x", "").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(root_ / "a.txt"));
}

TEST_F(WorkspaceTest, CheckPathSeesFileSystem) {
  fs::create_symlink("/etc", root_ / "etc");

  EXPECT_TRUE(workspace_->check_path("new/folder/file.md").is_ok());
  EXPECT_FALSE(workspace_->check_path("etc/passwd").is_ok());
  EXPECT_FALSE(workspace_->check_path("../x").is_ok());
  EXPECT_FALSE(fs::exists(root_ / "new"));
}

TEST_F(WorkspaceTest, ReadFileUnderSameRules) {
  ASSERT_TRUE(workspace_->write_file("docs/spec.md", "0123456789", "a").is_ok());
  fs::create_symlink(outside_ / "sentinel.txt", root_ / "docs/leak.md");

  Result<std::string> whole = workspace_->read_file("docs/spec.md", 100);
  Result<std::string> cut = workspace_->read_file("docs/spec.md", 4);
  Result<std::string> missing = workspace_->read_file("docs/none.md", 100);
  Result<std::string> leak = workspace_->read_file("docs/leak.md", 100);
  Result<std::string> traversal = workspace_->read_file("../outside/sentinel.txt", 100);

  ASSERT_TRUE(whole.is_ok());
  EXPECT_EQ(*whole, "0123456789");
  ASSERT_TRUE(cut.is_ok());
  EXPECT_EQ(*cut, "0123");
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(leak.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(traversal.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(WorkspaceTest, ConcurrentWritersOfOnePathGetOneWinner) {
  constexpr int kWriters = 8;
  std::vector<Status> results(kWriters);
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      results[i] =
          workspace_
              ->write_file("shared.txt", "from " + std::to_string(i), "task" + std::to_string(i))
              .status();
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }

  int winners = 0;
  for (const Status& result : results) {
    winners += result.is_ok() ? 1 : 0;
    if (!result.is_ok()) {
      EXPECT_EQ(result.code(), ErrorCode::kConflict);
    }
  }
  EXPECT_EQ(winners, 1);
  std::optional<std::string> owner = workspace_->owner_of("shared.txt");
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(read_all(root_ / "shared.txt"), "from " + owner->substr(4));
}

TEST_F(WorkspaceTest, ConcurrentWritersOfDifferentPaths) {
  constexpr int kWriters = 8;
  std::vector<std::thread> threads;
  std::vector<Status> results(kWriters);
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      results[i] = workspace_
                       ->write_file("out/common/f" + std::to_string(i) + ".txt", std::to_string(i),
                                    "task" + std::to_string(i))
                       .status();
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }

  for (int i = 0; i < kWriters; ++i) {
    EXPECT_TRUE(results[i].is_ok()) << results[i].to_string();
    EXPECT_EQ(read_all(root_ / ("out/common/f" + std::to_string(i) + ".txt")), std::to_string(i));
  }
}

class CheckRelativePathTest : public ::testing::Test {};

TEST_F(CheckRelativePathTest, AcceptsPlainPaths) {
  for (std::string path : {"a", "notes/sub/out.md", ".gitignore", "src/.env.example", "a..b",
                           "with space.txt", "~home", "ünïcode.md"}) {
    EXPECT_TRUE(check_relative_path(path).is_ok()) << path;
  }
}

TEST_F(CheckRelativePathTest, RejectsGitFolder) {
  for (std::string path : {".git/config", ".git/hooks/pre-commit", "sub/.git/config", ".GIT/config",
                           ".Git", "a/.git"}) {
    const Status status = check_relative_path(path);
    EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument) << path;
    EXPECT_THAT(status.message(), HasSubstr(".git")) << path;
  }
  for (std::string path : {".gitignore", ".github/workflows/ci.yml", "git/config", "a.git/x"}) {
    EXPECT_TRUE(check_relative_path(path).is_ok()) << path;
  }
}

TEST_F(CheckRelativePathTest, LongPathShownCut) {
  const std::string message = check_relative_path(std::string(5000, 'x')).message();
  EXPECT_THAT(message, HasSubstr(std::string(64, 'x') + "..."));
  EXPECT_THAT(message, HasSubstr("5000 bytes"));
}

TEST_F(CheckRelativePathTest, LengthProbedAtBoundary) {
  EXPECT_TRUE(check_relative_path("abcde", 5).is_ok());
  EXPECT_FALSE(check_relative_path("abcdef", 5).is_ok());
  EXPECT_TRUE(check_relative_path(std::string(255, 'x')).is_ok());
  EXPECT_FALSE(check_relative_path(std::string(256, 'x')).is_ok());
}

TEST_F(CheckRelativePathTest, MessagesNameTheRule) {
  EXPECT_THAT(check_relative_path("..\\..\\x").message(), HasSubstr("backslash"));
  EXPECT_THAT(check_relative_path("/etc/passwd").message(), HasSubstr("absolute"));
  EXPECT_THAT(check_relative_path("C:x").message(), HasSubstr("drive letter"));
  EXPECT_THAT(check_relative_path("a/../b").message(), HasSubstr("'..' component"));
  EXPECT_THAT(check_relative_path("a\nb").message(), HasSubstr("a\\x0ab"));
  EXPECT_THAT(check_relative_path("").message(), HasSubstr("empty"));
}

// Runs each case with the unnamed temporary file (O_TMPFILE) and with the named fallback.
class AtomicWriteTest : public ::testing::TestWithParam<bool> {
 protected:
  Status write(int folder_fd, const std::string& name, std::string_view content) {
    return GetParam() ? workspace_io::write_atomically_named(folder_fd, name, content, name)
                      : workspace_io::write_atomically(folder_fd, name, content, name);
  }

  ollamaflow::testing::TempDir temp_;
};

INSTANTIATE_TEST_SUITE_P(TemporaryFile, AtomicWriteTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Named" : "Unnamed";
                         });

TEST_P(AtomicWriteTest, FailedRenameLeavesNoTemporaryFile) {
  // A non-empty folder at the target makes the final rename fail after the temporary file was
  // created and written.
  write_plain(temp_.path() / "target" / "inside.txt", "x");
  workspace_io::UniqueFd folder(::open(temp_.path().c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_GE(folder.get(), 0);

  Status status = write(folder.get(), "target", "content");

  EXPECT_EQ(status.code(), ErrorCode::kIoError);
  EXPECT_THAT(status.message(), HasSubstr("rename"));
  EXPECT_THAT(temporary_files(temp_.path()), IsEmpty());
  EXPECT_EQ(read_all(temp_.path() / "target" / "inside.txt"), "x");
}

TEST_P(AtomicWriteTest, ReplacesFileWholly) {
  write_plain(temp_.path() / "f.txt", "old content that is longer");
  workspace_io::UniqueFd folder(::open(temp_.path().c_str(), O_RDONLY | O_DIRECTORY));

  ASSERT_TRUE(write(folder.get(), "f.txt", "new").is_ok());

  EXPECT_EQ(read_all(temp_.path() / "f.txt"), "new");
  EXPECT_THAT(temporary_files(temp_.path()), IsEmpty());
}

TEST_P(AtomicWriteTest, CreatesNewFileWithMode0644) {
  workspace_io::UniqueFd folder(::open(temp_.path().c_str(), O_RDONLY | O_DIRECTORY));
  const mode_t old_mask = ::umask(022);

  Status status = write(folder.get(), "new.txt", "fresh");
  ::umask(old_mask);

  ASSERT_TRUE(status.is_ok()) << status.to_string();
  EXPECT_EQ(read_all(temp_.path() / "new.txt"), "fresh");
  EXPECT_EQ(fs::status(temp_.path() / "new.txt").permissions(),
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                fs::perms::others_read);
  EXPECT_THAT(temporary_files(temp_.path()), IsEmpty());
}

TEST_P(AtomicWriteTest, ReplacesLinkWithoutFollowingIt) {
  // Workspace::write_file rejects a link at the target before this step. Should one appear in
  // between, it is replaced, and the file it points to stays as it was.
  write_plain(temp_.path() / "outside" / "sentinel.txt", "keep me");
  fs::create_symlink(temp_.path() / "outside" / "sentinel.txt", temp_.path() / "link.txt");
  workspace_io::UniqueFd folder(::open(temp_.path().c_str(), O_RDONLY | O_DIRECTORY));

  ASSERT_TRUE(write(folder.get(), "link.txt", "new").is_ok());

  EXPECT_FALSE(fs::is_symlink(temp_.path() / "link.txt"));
  EXPECT_EQ(read_all(temp_.path() / "link.txt"), "new");
  EXPECT_EQ(read_all(temp_.path() / "outside" / "sentinel.txt"), "keep me");
}

}  // namespace
}  // namespace ollamaflow::orchestrator

namespace ollamaflow::orchestrator {
namespace {

class WorkspaceSyncTest : public ::testing::Test {
 protected:
  WorkspaceSyncTest() {
    Result<Workspace> opened = Workspace::open(temp_.path() / "ws");
    EXPECT_TRUE(opened.is_ok()) << opened.status().to_string();
    workspace_ = std::make_unique<Workspace>(std::move(opened).value());
  }

  ollamaflow::testing::TempDir temp_;
  std::unique_ptr<Workspace> workspace_;
};

TEST_F(WorkspaceSyncTest, EachSyncRunsOneFlushWhenAlone) {
  ASSERT_TRUE(workspace_->write_file("a.txt", "x", "a").is_ok());
  EXPECT_TRUE(workspace_->sync().is_ok());
  EXPECT_TRUE(workspace_->sync().is_ok());
  EXPECT_EQ(workspace_->flushes(), 2u);
}

TEST_F(WorkspaceSyncTest, ConcurrentCallersShareFlushes) {
  constexpr int kThreads = 16;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const std::string path = "out/t" + std::to_string(i) + ".txt";
      const std::string owner = "t" + std::to_string(i);
      if (!workspace_->write_file(path, owner, owner).is_ok() || !workspace_->sync().is_ok()) {
        ++failures;
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(failures.load(), 0);
  // Every caller waited for a flush that began after its call, and no two flushes overlap, so
  // there is at least one and at most one per caller.
  EXPECT_GE(workspace_->flushes(), 1u);
  EXPECT_LE(workspace_->flushes(), static_cast<uint64_t>(kThreads));
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(read_all(workspace_->root() / ("out/t" + std::to_string(i) + ".txt")),
              "t" + std::to_string(i));
  }
}

TEST_F(WorkspaceSyncTest, FlushOfRemovedWorkspaceNamesTheRoot) {
  const fs::path root = workspace_->root();
  fs::remove_all(root);
  Status synced = workspace_->sync();
  EXPECT_EQ(synced.code(), ErrorCode::kIoError);
  EXPECT_THAT(synced.message(), HasSubstr(root.string()));
}

}  // namespace
}  // namespace ollamaflow::orchestrator
