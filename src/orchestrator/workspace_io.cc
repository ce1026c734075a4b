#include "orchestrator/workspace_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace ollamaflow::orchestrator::workspace_io {
namespace {

constexpr std::string_view kTemporaryPrefix = ".ollama-flow-";
constexpr std::string_view kTemporarySuffix = ".tmp";
constexpr int kTemporaryNameTries = 16;

std::string system_error(int error_number) {
  return std::strerror(error_number);
}

Status io_error(std::string_view relative_path, std::string_view step, int error_number) {
  return {ErrorCode::kIoError, fmt::format("writing '{}' failed: {}: {}", relative_path, step,
                                           system_error(error_number))};
}

std::string temporary_name() {
  // The process id is read once. A forked child that wrote files would share it, and then the
  // O_EXCL retries in create_temporary move on to the next name.
  static const pid_t pid = getpid();
  static std::atomic<uint64_t> counter{0};
  return fmt::format("{}{}-{}{}", kTemporaryPrefix, pid, counter.fetch_add(1), kTemporarySuffix);
}

Status write_all(int fd, std::string_view content, std::string_view relative_path) {
  size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return io_error(relative_path, "write", errno);
    }
    written += static_cast<size_t>(n);
  }
  return Status::ok();
}

Result<UniqueFd> create_temporary(int folder_fd, std::string_view relative_path,
                                  std::string& name) {
  for (int attempt = 0; attempt < kTemporaryNameTries; ++attempt) {
    name = temporary_name();
    int fd = ::openat(folder_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                      0644);
    if (fd >= 0) {
      return UniqueFd(fd);
    }
    if (errno != EEXIST) {
      return io_error(relative_path, "creating a temporary file", errno);
    }
  }
  return io_error(relative_path, "creating a temporary file", EEXIST);
}

// Writes and renames an open temporary file; the caller removes it when this fails.
Status fill_and_rename(UniqueFd file, int folder_fd, const std::string& temporary,
                       const std::string& name, std::string_view content,
                       std::string_view relative_path) {
  Status status = write_all(file.get(), content, relative_path);
  if (!status) {
    return status;
  }
  if (::close(file.release()) != 0) {
    return io_error(relative_path, "close", errno);
  }
  if (::renameat(folder_fd, temporary.c_str(), folder_fd, name.c_str()) != 0) {
    return io_error(relative_path, "rename", errno);
  }
  return Status::ok();
}

// Gives the unnamed open file `fd` the name `name` in the folder. Returns 0 or the errno value:
// EEXIST when the name is taken, ENOENT when no link method is available. link(2) documents that
// AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH, so its /proc/self/fd form is the fallback.
// NOTE: the tests reach the fallback only on kernels that reject AT_EMPTY_PATH for the test's
// user; Linux 6.18 accepted it without the capability.
int link_open_file(int fd, int folder_fd, const std::string& name) {
  if (::linkat(fd, "", folder_fd, name.c_str(), AT_EMPTY_PATH) == 0) {
    return 0;
  }
  if (errno != ENOENT && errno != EPERM) {
    return errno;
  }
  const std::string proc_path = fmt::format("/proc/self/fd/{}", fd);
  if (::linkat(AT_FDCWD, proc_path.c_str(), folder_fd, name.c_str(), AT_SYMLINK_FOLLOW) == 0) {
    return 0;
  }
  return errno;
}

// Replaces the existing entry `name` with the unnamed open file. The file is linked under a
// temporary name that is then renamed over `name`, or removed when the rename fails.
Status replace_with_open_file(int fd, int folder_fd, const std::string& name,
                              std::string_view relative_path) {
  for (int attempt = 0; attempt < kTemporaryNameTries; ++attempt) {
    const std::string temporary = temporary_name();
    const int error_number = link_open_file(fd, folder_fd, temporary);
    if (error_number == EEXIST) {
      continue;
    }
    if (error_number != 0) {
      return io_error(relative_path, "link", error_number);
    }
    if (::renameat(folder_fd, temporary.c_str(), folder_fd, name.c_str()) != 0) {
      const int rename_error = errno;
      ::unlinkat(folder_fd, temporary.c_str(), 0);
      return io_error(relative_path, "rename", rename_error);
    }
    return Status::ok();
  }
  return io_error(relative_path, "naming a temporary file", EEXIST);
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = other.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

int UniqueFd::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

Status check_target(int folder_fd, const std::string& name, std::string_view relative_path,
                    bool& exists) {
  exists = false;
  struct stat info {};
  if (::fstatat(folder_fd, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) {
      return Status::ok();
    }
    return io_error(relative_path, "inspecting the target", errno);
  }
  if (S_ISREG(info.st_mode)) {
    exists = true;
    return Status::ok();
  }
  std::string_view kind = S_ISLNK(info.st_mode)    ? "a symbolic link"
                          : S_ISDIR(info.st_mode)  ? "a folder"
                          : S_ISFIFO(info.st_mode) ? "a FIFO"
                                                   : "a device or socket";
  return {ErrorCode::kInvalidArgument,
          fmt::format("path '{}' is rejected: the target is {}: only regular files are written",
                      relative_path, kind)};
}

Status write_atomically(int folder_fd, const std::string& name, std::string_view content,
                        std::string_view relative_path) {
  UniqueFd file(::openat(folder_fd, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0644));
  if (file.get() < 0) {
    // open(2) names these errors for a kernel or file system without O_TMPFILE.
    if (errno == EOPNOTSUPP || errno == EISDIR || errno == ENOENT) {
      return write_atomically_named(folder_fd, name, content, relative_path);
    }
    return io_error(relative_path, "creating a temporary file", errno);
  }
  Status status = write_all(file.get(), content, relative_path);
  if (!status) {
    return status;  // the unnamed file is freed when it is closed
  }
  const int error_number = link_open_file(file.get(), folder_fd, name);
  if (error_number == EEXIST) {
    return replace_with_open_file(file.get(), folder_fd, name, relative_path);
  }
  if (error_number == ENOENT) {
    // Neither link method is available, e.g. without /proc: write it again under a name.
    return write_atomically_named(folder_fd, name, content, relative_path);
  }
  if (error_number != 0) {
    return io_error(relative_path, "link", error_number);
  }
  if (::close(file.release()) != 0) {
    return io_error(relative_path, "close", errno);
  }
  return Status::ok();
}

Status write_atomically_named(int folder_fd, const std::string& name, std::string_view content,
                              std::string_view relative_path) {
  std::string temporary;
  Result<UniqueFd> file = create_temporary(folder_fd, relative_path, temporary);
  if (!file) {
    return file.status();
  }
  Status status =
      fill_and_rename(std::move(file).value(), folder_fd, temporary, name, content, relative_path);
  if (!status) {
    ::unlinkat(folder_fd, temporary.c_str(), 0);
    return status;
  }
  return Status::ok();
}

Status flush_file_system(const std::filesystem::path& root) {
  UniqueFd folder(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (folder.get() < 0) {
    return Status(ErrorCode::kIoError, fmt::format("opening the workspace '{}' to flush it "
                                                   "failed: {}",
                                                   root.string(), system_error(errno)));
  }
  if (::syncfs(folder.get()) != 0) {
    return Status(ErrorCode::kIoError,
                  fmt::format("flushing the files of workspace '{}' to disk failed: {}: the "
                              "files may not survive a crash; check the disk and free space",
                              root.string(), system_error(errno)));
  }
  return Status::ok();
}

bool is_temporary_name(std::string_view name) {
  return name.substr(0, kTemporaryPrefix.size()) == kTemporaryPrefix &&
         name.size() >= kTemporarySuffix.size() &&
         name.substr(name.size() - kTemporarySuffix.size()) == kTemporarySuffix;
}

}  // namespace ollamaflow::orchestrator::workspace_io
