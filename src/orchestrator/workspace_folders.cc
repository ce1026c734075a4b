#include "orchestrator/workspace_folders.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace ollamaflow::orchestrator::workspace_io {
namespace {

constexpr int kFolderFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

Status rejected(std::string_view relative_path, std::string_view cause) {
  return {ErrorCode::kInvalidArgument,
          fmt::format("path '{}' is rejected: {}", relative_path, cause)};
}

Status open_failed(std::string_view relative_path, std::string_view prefix, int error_number) {
  return {ErrorCode::kIoError, fmt::format("opening folder '{}' of '{}' failed: {}", prefix,
                                           relative_path, std::strerror(error_number))};
}

std::string_view describe_mode(mode_t mode) {
  if (S_ISREG(mode)) {
    return "a file";
  }
  if (S_ISFIFO(mode)) {
    return "a FIFO";
  }
  if (S_ISSOCK(mode)) {
    return "a socket";
  }
  return "a device";
}

// Describes the entry at `name` in the parent folder, which is not a folder.
Status describe_blocking_entry(int parent_fd, const std::string& name,
                               std::string_view relative_path, std::string_view prefix) {
  struct stat info {};
  if (::fstatat(parent_fd, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
    return open_failed(relative_path, prefix, errno);
  }
  if (S_ISLNK(info.st_mode)) {
    char target[4096];
    ssize_t length = ::readlinkat(parent_fd, name.c_str(), target, sizeof(target));
    std::string_view link_target = length < 0 ? "?" : std::string_view(target, length);
    return rejected(relative_path,
                    fmt::format("'{}' is a symbolic link (to '{}'); the workspace never follows "
                                "links: remove the link",
                                prefix, link_target));
  }
  return rejected(relative_path, fmt::format("'{}' is {}, so it cannot contain other files", prefix,
                                             describe_mode(info.st_mode)));
}

// Opens the folder `name` in the parent without following a link, creating it when missing and
// `create` is set.
Result<std::shared_ptr<const OpenFolder>> open_child(int parent_fd, const std::string& name,
                                                     bool create, std::string_view relative_path,
                                                     std::string_view prefix) {
  int fd = ::openat(parent_fd, name.c_str(), kFolderFlags);
  if (fd < 0 && errno == ENOENT && create) {
    if (::mkdirat(parent_fd, name.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status(ErrorCode::kIoError, fmt::format("creating folder '{}' of '{}' failed: {}",
                                                     prefix, relative_path, std::strerror(errno)));
    }
    fd = ::openat(parent_fd, name.c_str(), kFolderFlags);
  }
  if (fd < 0) {
    const int error_number = errno;
    if (error_number == ELOOP || error_number == ENOTDIR) {
      return describe_blocking_entry(parent_fd, name, relative_path, prefix);
    }
    if (error_number == ENOENT) {
      return Status(ErrorCode::kNotFound,
                    fmt::format("'{}' does not exist in the workspace", prefix));
    }
    return open_failed(relative_path, prefix, error_number);
  }
  auto folder = std::make_shared<OpenFolder>();
  folder->fd = UniqueFd(fd);
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    return open_failed(relative_path, prefix, errno);
  }
  folder->device = info.st_dev;
  folder->inode = info.st_ino;
  return std::shared_ptr<const OpenFolder>(std::move(folder));
}

// Returns true when `name` in the parent is still the folder that was opened as `folder`.
bool still_linked(int parent_fd, const std::string& name, const OpenFolder& folder) {
  struct stat info {};
  if (::fstatat(parent_fd, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
    return false;
  }
  return S_ISDIR(info.st_mode) && info.st_dev == folder.device && info.st_ino == folder.inode;
}

}  // namespace

Result<std::unique_ptr<FolderCache>> FolderCache::open(const std::filesystem::path& root) {
  int fd = ::open(root.c_str(), kFolderFlags);
  struct stat info {};
  if (fd < 0 || ::fstat(fd, &info) != 0) {
    const int error_number = errno;
    if (fd >= 0) {
      ::close(fd);
    }
    return Status(ErrorCode::kIoError, fmt::format("opening the workspace '{}' failed: {}",
                                                   root.string(), std::strerror(error_number)));
  }
  auto folder = std::make_shared<OpenFolder>();
  folder->fd = UniqueFd(fd);
  folder->device = info.st_dev;
  folder->inode = info.st_ino;
  return std::unique_ptr<FolderCache>(new FolderCache(std::move(folder)));
}

Result<std::shared_ptr<const OpenFolder>> FolderCache::parent_folder(std::string_view relative_path,
                                                                     bool create) {
  std::shared_ptr<const OpenFolder> parent = root_;
  size_t start = 0;
  for (size_t slash = relative_path.find('/'); slash != std::string_view::npos;
       slash = relative_path.find('/', start)) {
    const std::string_view prefix = relative_path.substr(0, slash);
    const std::string name(relative_path.substr(start, slash - start));
    start = slash + 1;
    std::shared_ptr<const OpenFolder> cached = find(prefix);
    if (cached != nullptr && still_linked(parent->fd.get(), name, *cached)) {
      parent = std::move(cached);
      continue;
    }
    Result<std::shared_ptr<const OpenFolder>> opened =
        open_child(parent->fd.get(), name, create, relative_path, prefix);
    if (!opened) {
      return opened;
    }
    parent = std::move(opened).value();
    store(prefix, parent);
  }
  return parent;
}

size_t FolderCache::size() const {
  std::lock_guard lock(mutex_);
  return folders_.size();
}

std::shared_ptr<const OpenFolder> FolderCache::find(std::string_view prefix) {
  std::lock_guard lock(mutex_);
  auto it = folders_.find(prefix);
  if (it == folders_.end()) {
    return nullptr;
  }
  it->second.last_use = ++uses_;
  return it->second.folder;
}

void FolderCache::store(std::string_view prefix, std::shared_ptr<const OpenFolder> folder) {
  std::lock_guard lock(mutex_);
  auto it = folders_.find(prefix);
  if (it == folders_.end() && folders_.size() >= kMaxOpenFolders) {
    auto oldest = folders_.begin();
    for (auto candidate = folders_.begin(); candidate != folders_.end(); ++candidate) {
      if (candidate->second.last_use < oldest->second.last_use) {
        oldest = candidate;
      }
    }
    folders_.erase(oldest);
  }
  if (it == folders_.end()) {
    it = folders_.emplace(std::string(prefix), Entry{}).first;
  }
  it->second.folder = std::move(folder);
  it->second.last_use = ++uses_;
}

}  // namespace ollamaflow::orchestrator::workspace_io
