// The run's workspace: the one folder that agents write files into.
//
// Paths come from model output, so every path is treated as hostile. A write is accepted only
// when all of these hold:
// - the path is relative and plain (check_relative_path);
// - no existing component on the way is a symbolic link, a dangling one included;
// - the target is absent or a regular file;
// - the resolved location stays inside the root. Folders are opened one component at a time with
// O_NOFOLLOW, so a link swapped in after the check is not followed either. Files are written
// atomically: a temporary file in the target folder (O_EXCL), fsync, then rename over the
// target. Each path belongs to the task that first wrote it; another task gets kConflict.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ollamaflow::orchestrator {

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
};

// Thread-safe: every method may be called from any thread, e.g. by agents finishing at once.
class Workspace {
 public:
  // Opens the workspace at `root`, creating the folder and its parents when missing. The root
  // is resolved once (symbolic links above it are the user's choice); below it nothing follows
  // a link. Returns kInvalidArgument when `root` is empty or exists as something other than a
  // folder (a link to a folder is accepted), kIoError when it cannot be created.
  static Result<Workspace> open(const std::filesystem::path& root);

  // The resolved absolute root.
  const std::filesystem::path& root() const { return root_; }

  // Checks whether `relative_path` could be written now: the text rules, then the file system
  // (symbolic links, a folder, FIFO or device at the target, a file where a folder is needed,
  // containment of the resolved path). Returns kInvalidArgument naming the path and the cause.
  Status check_path(std::string_view relative_path) const;

  // Writes `content` to `relative_path` atomically on behalf of task `owner_task_id`, creating
  // folders as needed. The same task may rewrite its own file (a retry). A file with no owner
  // in this Workspace, such as one left by an earlier run, is replaced; claim() protects it.
  // Returns kConflict naming both tasks when another task owns the path (nothing is written),
  // kInvalidArgument for a rejected path or an empty owner, and kIoError when the file system
  // fails. A failed write leaves no temporary file behind.
  Result<WrittenFile> write_file(std::string_view relative_path, std::string_view content,
                                 std::string_view owner_task_id);

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

  explicit Workspace(std::filesystem::path root)
      : root_(std::move(root)), owners_(std::make_unique<Owners>()) {}

  // Claims the path for the owner. Sets `newly_claimed` when no claim existed before.
  Status claim_for_write(std::string_view relative_path, std::string_view owner_task_id,
                         bool& newly_claimed);
  void release(std::string_view relative_path);

  std::filesystem::path root_;
  std::unique_ptr<Owners> owners_;
};

}  // namespace ollamaflow::orchestrator
