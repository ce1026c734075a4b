// File system steps of Workspace, exposed for its tests. Not part of the module's API.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ollamaflow::orchestrator::workspace_io {

// An owned POSIX file descriptor, closed on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  int release();

 private:
  int fd_ = -1;
};

// Splits a path that passed check_relative_path into its components.
std::vector<std::string> split_components(std::string_view relative_path);

// Checks the entry `name` in the open folder without following it: absent or a regular file
// is fine, anything else is kInvalidArgument. Sets `exists` when a regular file is there.
Status check_target(int folder_fd, const std::string& name, std::string_view relative_path,
                    bool& exists);

// Writes `content` to `name` in the open folder so that a reader sees no file or the old one,
// or else the whole new one. The content goes to an unnamed file (O_TMPFILE), which linkat gives
// the name when it is free. Otherwise the file is linked under a temporary name and renamed over
// `name`. Where O_TMPFILE or linkat is not available, write_atomically_named does the work. Linux
// allocates the unnamed file's inode without locking the folder (vfs_tmpfile in fs/namei.c), so
// writers into one folder wait less for each other than with a named temporary file. Nothing is
// flushed to disk here: see flush_file_system. On any failure no temporary file remains, and
// kIoError names the path and the system error.
Status write_atomically(int folder_fd, const std::string& name, std::string_view content,
                        std::string_view relative_path);

// Writes `content` to a new named temporary file in the open folder (O_CREAT | O_EXCL |
// O_NOFOLLOW) and renames it over `name`. Errors as for write_atomically.
Status write_atomically_named(int folder_fd, const std::string& name, std::string_view content,
                              std::string_view relative_path);

// Flushes every file and folder entry of the file system that contains `root` (syncfs), so that
// the files written so far survive a crash. Returns kIoError naming the root when it fails.
Status flush_file_system(const std::filesystem::path& root);

// Returns true when `name` has the form of write_atomically's temporary files.
bool is_temporary_name(std::string_view name);

}  // namespace ollamaflow::orchestrator::workspace_io
