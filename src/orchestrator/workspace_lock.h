// An exclusive lock on a workspace folder, so that two runs never write into one workspace at
// once. Each run claims the paths it writes, and a second run in the same folder would report
// the first run's files as files that existed before it.
//
// The lock is flock(2) on the folder itself: no file is added to the workspace, and the kernel
// releases the lock when the process ends, a kill included. flock locks an open file
// description, so two WorkspaceLocks on one folder exclude each other within one process too.
#pragma once

#include <filesystem>
#include <vector>

#include "core/status.h"

namespace ollamaflow::orchestrator {

class WorkspaceLock {
 public:
  // Locks `root`, creating the folder and its parents when missing. Returns kConflict naming the
  // folder when another process (or another WorkspaceLock) holds it, and kInvalidArgument naming
  // the folder and the fix when it cannot be created or opened. A file system without flock support
  // (some network file systems) gives a lock that does not exclude other runs, and `enforced()` is
  // then false.
  static Result<WorkspaceLock> acquire(const std::filesystem::path& root);

  WorkspaceLock(WorkspaceLock&& other) noexcept;
  WorkspaceLock& operator=(WorkspaceLock&& other) noexcept;
  WorkspaceLock(const WorkspaceLock&) = delete;
  WorkspaceLock& operator=(const WorkspaceLock&) = delete;
  ~WorkspaceLock();

  // Whether the file system accepted the lock.
  bool enforced() const { return enforced_; }

  // Keeps the folders that acquire() created. Without it, the destructor removes them again
  // when they are still empty, so that a run that stops before it writes leaves nothing behind.
  void keep_created() { created_.clear(); }

  // The folders that acquire() created and that the destructor removes when they are still
  // empty, the deepest first; empty after keep_created().
  const std::vector<std::filesystem::path>& created() const { return created_; }

 private:
  WorkspaceLock(int fd, bool enforced, std::vector<std::filesystem::path> created)
      : fd_(fd), enforced_(enforced), created_(std::move(created)) {}

  void release();

  int fd_ = -1;
  bool enforced_ = false;
  std::vector<std::filesystem::path> created_;  // the deepest folder first
};

}  // namespace ollamaflow::orchestrator
