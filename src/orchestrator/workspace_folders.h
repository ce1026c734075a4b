// The open folders of a Workspace, exposed for its tests. Not part of the module's API.
//
// Every write walks its path from the root one component at a time, relative to the folder
// descriptor of the step before, so no path string is resolved and no link is followed. The
// folders verified on the way stay open here, so a later write to the same folder skips the
// openat and mkdirat calls.
//
// A cached folder cannot redirect a write. Its descriptor refers to the folder itself, not to its
// path. Before each use, the walk checks with fstatat (no link followed) that the entry of that
// name in the verified parent is still the same folder (same device and inode). The inode
// number cannot be reused while the descriptor keeps the folder alive. So a folder that was
// renamed away, removed, or replaced by a symbolic link or another folder is detected, and the
// component is opened again with O_NOFOLLOW, which rejects a link. What remains is the window
// between that check and the write's own system calls, as without the cache.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/status.h"
#include "orchestrator/workspace_io.h"

namespace ollamaflow::orchestrator::workspace_io {

// A folder of the workspace, opened without following links, with its identity at that time.
struct OpenFolder {
  UniqueFd fd;
  dev_t device = 0;
  ino_t inode = 0;
};

// Thread-safe. The folders are keyed by their path relative to the root ("src", "src/api").
class FolderCache {
 public:
  // Maximum number of open folders besides the root. Each costs one file descriptor. When the
  // cache is full, the least recently used folder is dropped, and it closes once no caller uses
  // it.
  static constexpr size_t kMaxOpenFolders = 128;

  // Opens the root folder, which must be a canonical path. Returns kIoError naming it when it
  // cannot be opened.
  static Result<std::unique_ptr<FolderCache>> open(const std::filesystem::path& root);

  // Returns the folder that contains the last component of `relative_path`, a path that passed
  // check_relative_path. Missing folders are created when `create` is set. Returns
  // kInvalidArgument when a component on the way is a symbolic link or not a folder, kNotFound
  // when one is missing and `create` is not set, and kIoError when a system call fails.
  Result<std::shared_ptr<const OpenFolder>> parent_folder(std::string_view relative_path,
                                                          bool create);

  // Returns how many folders besides the root are open in the cache.
  size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<const OpenFolder> folder;
    uint64_t last_use = 0;
  };

  explicit FolderCache(std::shared_ptr<const OpenFolder> root) : root_(std::move(root)) {}

  std::shared_ptr<const OpenFolder> find(std::string_view prefix);
  void store(std::string_view prefix, std::shared_ptr<const OpenFolder> folder);

  const std::shared_ptr<const OpenFolder> root_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> folders_;  // guarded by mutex_
  uint64_t uses_ = 0;                                  // guarded by mutex_
};

}  // namespace ollamaflow::orchestrator::workspace_io
