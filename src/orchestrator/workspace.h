// The run's workspace: the one folder that agents write files into.
//
// Paths come from model output, so every path is treated as hostile. A write is accepted only
// when all of these hold:
// - the path is relative and plain (check_relative_path): no "..", no absolute path, no
//   backslash;
// - no existing component on the way is a symbolic link, a dangling one included;
// - the target is absent or a regular file.
// The path is never resolved as a string. Folders are opened one component at a time, each
// relative to the folder before it, with O_NOFOLLOW, so the location cannot leave the root and a
// link swapped in after a check is not followed. Folders verified this way stay open for later
// writes (workspace_folders.h explains why that keeps these rules). Files are written atomically: a
// temporary file in the target folder (O_EXCL), then a rename over the target, so a reader sees
// the old file or the whole new one. Each path belongs to the task that first wrote it; another
// task gets kConflict.
//
// Durability: a write does not flush to disk. sync() does, once for every caller waiting at the
// time (a group flush), so that tasks finishing together share one disk flush instead of two
// fsyncs per file. Report files as written only after sync() returned ok: a file written but not
// synced may be empty after a power loss, which is safe only while nothing says it is done.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ollamaflow::orchestrator {
namespace workspace_io {
class FolderCache;
}

// Checks `path` by its text alone: not empty, at most `max_length` bytes, no NUL or other
// control character, no backslash, not absolute, no drive letter ("C:"), no empty, "." or ".."
// component, no component longer than 255 bytes. Returns kInvalidArgument naming the path and
// the rule it breaks. Thread-safe: a pure function.
Status check_relative_path(std::string_view path, size_t max_length = 4096);

// Checks a name that may become one path component, such as an agent name: the rules of
// check_relative_path plus no '/'. Thread-safe: a pure function.
Status check_path_component(std::string_view name);

// One file that write_file placed in the workspace.
struct WrittenFile {
  std::string relative_path;
  std::filesystem::path path;  // root() / relative_path
  std::string owner_task_id;
  size_t bytes = 0;
  bool replaced = false;  // a file already existed at the path and was replaced
  // The replaced file belonged to no task of this Workspace, e.g. it was there before the run.
  bool replaced_unowned = false;
};

// Whether Workspace::sync() flushes to disk.
enum class FileSync { kFlush, kSkip };

// Thread-safe: every method may be called from any thread, e.g. by agents finishing at once.
class Workspace {
 public:
  // Opens the workspace at `root`, creating the folder and its parents when missing. The root
  // is resolved once (symbolic links above it are the user's choice); below it nothing follows
  // a link. Returns kInvalidArgument when `root` is empty or exists as something other than a
  // folder (a link to a folder is accepted), kIoError when it cannot be created.
  // With FileSync::kSkip, sync() returns at once and the system writes the files back on its
  // own schedule. The root folder stays open while the Workspace lives, so writes go into that
  // folder even when its path is renamed or replaced during the run.
  static Result<Workspace> open(const std::filesystem::path& root,
                                FileSync file_sync = FileSync::kFlush);

  // Checks, without creating anything, that open() can use `root` (check_output_folder).
  static Status check_usable(const std::filesystem::path& root);

  Workspace(Workspace&& other) noexcept;
  Workspace& operator=(Workspace&& other) noexcept;
  ~Workspace();

  // The resolved absolute root.
  const std::filesystem::path& root() const { return root_; }

  // Checks whether `relative_path` could be written now: the text rules, then the file system
  // (symbolic links, a folder, FIFO or device at the target, a file where a folder is needed).
  // Returns kInvalidArgument naming the path and the cause. Creates nothing.
  Status check_path(std::string_view relative_path) const;

  // Writes `content` to `relative_path` atomically on behalf of task `owner_task_id`, creating
  // folders as needed. The same task may rewrite its own file (a retry). A file with no owner
  // in this Workspace, such as one left by an earlier run, is replaced; claim() protects it.
  // Returns kConflict naming both tasks when another task owns the path (nothing is written),
  // kInvalidArgument for a rejected path or an empty owner, and kIoError when the file system
  // fails. A failed write leaves no temporary file behind.
  Result<WrittenFile> write_file(std::string_view relative_path, std::string_view content,
                                 std::string_view owner_task_id);

  // Flushes the files written so far to disk (syncfs of the workspace's file system). A caller
  // that arrives while a flush runs waits for the next one, which one of the waiting callers
  // runs for all of them. Returns kIoError when the flush fails.
  Status sync();
  // Returns how many flushes sync() has run.
  uint64_t flushes() const;

  // Records that `owner_task_id` owns `relative_path` without writing it, e.g. for files of
  // tasks that succeeded before a run was resumed. Returns kConflict when another task owns it.
  Status claim(std::string_view relative_path, std::string_view owner_task_id);

  // Returns the task that owns `relative_path`, if any.
  std::optional<std::string> owner_of(std::string_view relative_path) const;

  // Returns path to owner for every claimed file.
  std::map<std::string, std::string> owners() const;

  // Reads up to `max_bytes` of a workspace file, under the same path rules as writing (the
  // final component is opened with O_NOFOLLOW). Returns kNotFound when it does not exist.
  Result<std::string> read_file(std::string_view relative_path, size_t max_bytes) const;

 private:
  struct Owners {
    std::mutex mutex;
    std::map<std::string, std::string, std::less<>> by_path;  // guarded by mutex
  };

  // State of the group flush behind sync().
  struct Flush {
    std::mutex mutex;
    std::condition_variable finished_one;
    uint64_t started = 0;   // flushes begun; guarded by mutex
    uint64_t finished = 0;  // flushes ended; guarded by mutex
    bool running = false;   // guarded by mutex
    Status last;            // the result of the last flush; guarded by mutex
  };

  Workspace(std::filesystem::path root, FileSync file_sync,
            std::unique_ptr<workspace_io::FolderCache> folders);

  // Claims the path for the owner. Sets `newly_claimed` when no claim existed before.
  Status claim_for_write(std::string_view relative_path, std::string_view owner_task_id,
                         bool& newly_claimed);
  void release(std::string_view relative_path);

  std::filesystem::path root_;
  FileSync file_sync_;
  std::unique_ptr<Owners> owners_;
  std::unique_ptr<Flush> flush_;
  std::unique_ptr<workspace_io::FolderCache> folders_;  // thread-safe itself
};

}  // namespace ollamaflow::orchestrator
