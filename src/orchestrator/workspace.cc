#include "orchestrator/workspace.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include <fmt/format.h>

#include "core/folder_check.h"
#include "core/log.h"
#include "orchestrator/workspace_folders.h"
#include "orchestrator/workspace_io.h"

namespace ollamaflow::orchestrator {
namespace {

namespace fs = std::filesystem;

Status check_owner(std::string_view owner_task_id) {
  if (owner_task_id.empty()) {
    return {ErrorCode::kInvalidArgument, "a workspace write needs the id of the task that owns it"};
  }
  return Status::ok();
}

// Returns the last component of a checked path.
std::string file_name(std::string_view relative_path) {
  const size_t slash = relative_path.rfind('/');
  return std::string(slash == std::string_view::npos ? relative_path
                                                     : relative_path.substr(slash + 1));
}

Result<std::string> read_up_to(int fd, size_t max_bytes, std::string_view relative_path) {
  std::string content(max_bytes, '\0');
  size_t filled = 0;
  while (filled < max_bytes) {
    ssize_t n = ::read(fd, content.data() + filled, max_bytes - filled);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return Result<std::string>(
          ErrorCode::kIoError,
          fmt::format("reading '{}' failed: {}", relative_path, std::strerror(errno)));
    }
    if (n == 0) {
      break;
    }
    filled += static_cast<size_t>(n);
  }
  content.resize(filled);
  return content;
}

}  // namespace

Result<Workspace> Workspace::open(const fs::path& root, FileSync file_sync) {
  if (root.empty()) {
    return Result<Workspace>(ErrorCode::kInvalidArgument,
                             "the workspace path is empty: pass a folder with --workspace");
  }
  std::error_code error;
  if (fs::exists(fs::symlink_status(root, error)) && !fs::is_directory(root, error)) {
    return Result<Workspace>(ErrorCode::kInvalidArgument,
                             fmt::format("the workspace '{}' {}: choose another path",
                                         root.string(), describe_non_folder(root)));
  }
  fs::create_directories(root, error);
  if (error) {
    return Result<Workspace>(
        ErrorCode::kIoError,
        fmt::format("creating the workspace '{}' failed: {}", root.string(), error.message()));
  }
  fs::path resolved = fs::canonical(root, error);
  if (error) {
    return Result<Workspace>(
        ErrorCode::kIoError,
        fmt::format("resolving the workspace '{}' failed: {}", root.string(), error.message()));
  }
  Result<std::unique_ptr<workspace_io::FolderCache>> folders =
      workspace_io::FolderCache::open(resolved);
  if (!folders) {
    return folders.status();
  }
  get_logger("workspace")->info("workspace opened root={}", resolved.string());
  return Workspace(std::move(resolved), file_sync, std::move(folders).value());
}

Status Workspace::check_usable(const fs::path& root) {
  return check_output_folder(root, "workspace", "--workspace");
}

Workspace::Workspace(fs::path root, FileSync file_sync,
                     std::unique_ptr<workspace_io::FolderCache> folders)
    : root_(std::move(root)),
      file_sync_(file_sync),
      owners_(std::make_unique<Owners>()),
      flush_(std::make_unique<Flush>()),
      folders_(std::move(folders)) {}

Workspace::Workspace(Workspace&& other) noexcept = default;
Workspace& Workspace::operator=(Workspace&& other) noexcept = default;
Workspace::~Workspace() = default;

Status Workspace::check_path(std::string_view relative_path) const {
  Status status = check_relative_path(relative_path);
  if (!status) {
    return status;
  }
  Result<std::shared_ptr<const workspace_io::OpenFolder>> folder =
      folders_->parent_folder(relative_path, /*create=*/false);
  if (folder.status().code() == ErrorCode::kNotFound) {
    return Status::ok();  // the missing folders would be created
  }
  if (!folder) {
    return folder.status();
  }
  bool exists = false;
  return workspace_io::check_target((*folder)->fd.get(), file_name(relative_path), relative_path,
                                    exists);
}

Result<WrittenFile> Workspace::write_file(std::string_view relative_path, std::string_view content,
                                          std::string_view owner_task_id) {
  Status status = check_owner(owner_task_id);
  if (status) {
    status = check_relative_path(relative_path);
  }
  if (!status) {
    return status;
  }

  bool newly_claimed = false;
  status = claim_for_write(relative_path, owner_task_id, newly_claimed);
  if (!status) {
    return status;
  }

  // One walk both checks the folders on the way and opens the one that the file goes into.
  const std::string name = file_name(relative_path);
  Result<std::shared_ptr<const workspace_io::OpenFolder>> folder =
      folders_->parent_folder(relative_path, /*create=*/true);
  bool exists = false;
  status = folder.status();
  if (status) {
    status = workspace_io::check_target((*folder)->fd.get(), name, relative_path, exists);
  }
  if (status) {
    status = workspace_io::write_atomically((*folder)->fd.get(), name, content, relative_path);
  }

  if (!status) {
    if (newly_claimed) {
      release(relative_path);
    }
    return status;
  }

  get_logger("workspace")
      ->debug("file written path={} task={} bytes={}", relative_path, owner_task_id,
              content.size());
  return WrittenFile{std::string(relative_path),
                     root_ / std::string(relative_path),
                     std::string(owner_task_id),
                     content.size(),
                     exists,
                     exists && newly_claimed};
}

Status Workspace::sync() {
  if (file_sync_ == FileSync::kSkip) {
    return Status::ok();
  }
  std::unique_lock lock(flush_->mutex);
  // A flush that began before this call may have missed this caller's files: wait for one that
  // begins after it.
  const uint64_t needed = flush_->started + 1;
  while (flush_->finished < needed) {
    if (flush_->running) {
      flush_->finished_one.wait(lock);
      continue;
    }
    flush_->running = true;
    ++flush_->started;
    lock.unlock();
    Status flushed = workspace_io::flush_file_system(root_);
    lock.lock();
    flush_->last = std::move(flushed);
    flush_->running = false;
    ++flush_->finished;
    flush_->finished_one.notify_all();
  }
  return flush_->last;
}

uint64_t Workspace::flushes() const {
  std::lock_guard lock(flush_->mutex);
  return flush_->finished;
}

Status Workspace::claim(std::string_view relative_path, std::string_view owner_task_id) {
  Status status = check_owner(owner_task_id);
  if (status) {
    status = check_relative_path(relative_path);
  }
  if (!status) {
    return status;
  }
  bool newly_claimed = false;
  return claim_for_write(relative_path, owner_task_id, newly_claimed);
}

Status Workspace::claim_for_write(std::string_view relative_path, std::string_view owner_task_id,
                                  bool& newly_claimed) {
  std::lock_guard lock(owners_->mutex);
  auto it = owners_->by_path.find(relative_path);
  if (it == owners_->by_path.end()) {
    owners_->by_path.emplace(std::string(relative_path), std::string(owner_task_id));
    newly_claimed = true;
    return Status::ok();
  }
  newly_claimed = false;
  if (it->second == owner_task_id) {
    return Status::ok();
  }
  return {ErrorCode::kConflict,
          fmt::format("file '{}' belongs to task \"{}\", so task \"{}\" may not write it: "
                      "declare each file in one task only",
                      relative_path, it->second, owner_task_id)};
}

void Workspace::release(std::string_view relative_path) {
  std::lock_guard lock(owners_->mutex);
  auto it = owners_->by_path.find(relative_path);
  if (it != owners_->by_path.end()) {
    owners_->by_path.erase(it);
  }
}

std::optional<std::string> Workspace::owner_of(std::string_view relative_path) const {
  std::lock_guard lock(owners_->mutex);
  auto it = owners_->by_path.find(relative_path);
  if (it == owners_->by_path.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::map<std::string, std::string> Workspace::owners() const {
  std::lock_guard lock(owners_->mutex);
  return {owners_->by_path.begin(), owners_->by_path.end()};
}

Result<std::string> Workspace::read_file(std::string_view relative_path, size_t max_bytes) const {
  Status status = check_relative_path(relative_path);
  if (!status) {
    return status;
  }

  const std::string name = file_name(relative_path);
  Result<std::shared_ptr<const workspace_io::OpenFolder>> folder =
      folders_->parent_folder(relative_path, /*create=*/false);
  if (!folder) {
    return folder.status();
  }

  bool exists = false;
  status = workspace_io::check_target((*folder)->fd.get(), name, relative_path, exists);
  if (!status) {
    return status;
  }
  if (!exists) {
    return Result<std::string>(
        ErrorCode::kNotFound,
        fmt::format("file '{}' does not exist in the workspace", relative_path));
  }

  workspace_io::UniqueFd file(
      ::openat((*folder)->fd.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (file.get() < 0) {
    return Result<std::string>(
        ErrorCode::kIoError,
        fmt::format("reading '{}' failed: {}", relative_path, std::strerror(errno)));
  }
  return read_up_to(file.get(), max_bytes, relative_path);
}

}  // namespace ollamaflow::orchestrator
