#include "orchestrator/workspace_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "core/log.h"

namespace ollamaflow::orchestrator {

namespace fs = std::filesystem;

namespace {

// Returns `root` and its ancestors that do not exist yet, the deepest first.
std::vector<fs::path> missing_folders(const fs::path& root) {
  std::vector<fs::path> missing;
  std::error_code error;
  fs::path folder = fs::absolute(root, error).lexically_normal();
  if (error) {
    return missing;
  }
  // symlink_status reports a missing path as not_found with an error code set, so the type
  // alone decides.
  while (folder.has_relative_path() &&
         fs::symlink_status(folder, error).type() == fs::file_type::not_found) {
    if (folder.has_filename()) {
      missing.push_back(folder);
    }
    folder = folder.parent_path();
  }
  return missing;
}

}  // namespace

Result<WorkspaceLock> WorkspaceLock::acquire(const fs::path& root) {
  std::vector<fs::path> created = missing_folders(root);
  std::error_code error;
  fs::create_directories(root, error);
  if (error) {
    return Result<WorkspaceLock>(
        ErrorCode::kInvalidArgument,
        fmt::format("creating the workspace '{}' failed: {}: pass a folder that you can write to "
                    "with --workspace",
                    root.string(), error.message()));
  }
  const int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return Result<WorkspaceLock>(
        ErrorCode::kInvalidArgument,
        fmt::format("opening the workspace '{}' failed: {}: pass a folder that you can write to "
                    "with --workspace",
                    root.string(), std::strerror(errno)));
  }

  int result = 0;
  do {
    result = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (result != 0 && errno == EINTR);
  if (result == 0) {
    return WorkspaceLock(fd, /*enforced=*/true, std::move(created));
  }

  const int cause = errno;
  if (cause == EWOULDBLOCK) {
    ::close(fd);
    return Result<WorkspaceLock>(
        ErrorCode::kConflict,
        fmt::format("the workspace '{}' is in use by another ollama-flow run", root.string()));
  }
  // NFS without lock support returns ENOLCK, and some file systems EOPNOTSUPP or EBADF for a
  // folder. The run goes on, because refusing every run there would be worse than the overlap
  // the lock prevents.
  get_logger("workspace")
      ->warn(
          "workspace lock not supported root={} error=\"{}\": concurrent runs in this "
          "folder are not detected",
          root.string(), std::strerror(cause));
  return WorkspaceLock(fd, /*enforced=*/false, std::move(created));
}

WorkspaceLock::WorkspaceLock(WorkspaceLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      enforced_(other.enforced_),
      created_(std::exchange(other.created_, {})) {}

WorkspaceLock& WorkspaceLock::operator=(WorkspaceLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::exchange(other.fd_, -1);
    enforced_ = other.enforced_;
    created_ = std::exchange(other.created_, {});
  }
  return *this;
}

WorkspaceLock::~WorkspaceLock() {
  release();
}

// Removes the created folders that are still empty, then closes the descriptor, which releases
// the lock. fs::remove deletes only an empty folder, so the first one that contains an entry stops
// the removal.
void WorkspaceLock::release() {
  for (const fs::path& folder : created_) {
    std::error_code error;
    if (!fs::remove(folder, error)) {
      break;
    }
  }
  created_.clear();
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

}  // namespace ollamaflow::orchestrator
