#include "core/file_read.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace ollamaflow {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr uint64_t kGiB = 1024 * kMiB;

// Closes the descriptor when the read ends, on every path.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Status open_error(int code, const std::string& item) {
  if (code == ENOENT || code == ENOTDIR) {
    return Status(ErrorCode::kNotFound,
                  item + " not found: " + std::strerror(code) + "; check the path");
  }
  return Status(
      code == EACCES ? ErrorCode::kPermissionDenied : ErrorCode::kIoError,
      item + " cannot be read: " + std::strerror(code) + "; check that it is a readable file");
}

// The signal handlers of the commands are installed without SA_RESTART, so a signal that arrives
// while open() waits for a FIFO's writer, or read() for its data, fails that call with EINTR. The
// handlers cancel the command, so the read stops too.
Status interrupted(const std::string& item) {
  return Status(ErrorCode::kCancelled,
                item +
                    " was not read: cancelled by a signal while it waited for data (a FIFO "
                    "waits until a program opens it for writing)");
}

Status too_large(const std::string& item, uint64_t size, uint64_t max_bytes) {
  return Status(ErrorCode::kInvalidArgument,
                fmt::format("{} is {}, more than the limit of {}: check that it is the right file",
                            item, format_byte_size(size), format_byte_size(max_bytes)));
}

}  // namespace

std::string format_byte_size(uint64_t bytes) {
  const auto scaled = [bytes](uint64_t unit, const char* name) {
    if (bytes % unit == 0) {
      return fmt::format("{} {}", bytes / unit, name);
    }
    return fmt::format("{:.1f} {} ({} bytes)", static_cast<double>(bytes) / unit, name, bytes);
  };
  if (bytes >= kGiB) {
    return scaled(kGiB, "GiB");
  }
  if (bytes >= kMiB) {
    return scaled(kMiB, "MiB");
  }
  if (bytes >= kKiB) {
    return scaled(kKiB, "KiB");
  }
  return fmt::format("{} byte{}", bytes, bytes == 1 ? "" : "s");
}

Result<std::string> read_file_limited(const std::string& path, uint64_t max_bytes,
                                      const std::string& item) {
  // Opening a FIFO waits for a writer, as `cat` does, until a signal interrupts it.
  FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) {
    const int code = errno;
    if (code == EINTR) {
      return interrupted(item);
    }
    if (code == EISDIR) {
      return Status(ErrorCode::kInvalidArgument, item + " is a folder: pass the path of a file");
    }
    return open_error(code, item);
  }
  struct stat info {};
  if (::fstat(file.get(), &info) != 0) {
    return open_error(errno, item);
  }
  if (S_ISDIR(info.st_mode)) {
    return Status(ErrorCode::kInvalidArgument, item + " is a folder: pass the path of a file");
  }
  const bool regular = S_ISREG(info.st_mode);
  const uint64_t size = regular ? static_cast<uint64_t>(info.st_size) : 0;
  if (regular && size > max_bytes) {
    return too_large(item, size, max_bytes);
  }
  std::string text;
  // Reading one byte past the limit distinguishes a file at the limit from one over it. A regular
  // file may also grow between fstat() and the read.
  const uint64_t read_limit = max_bytes + 1;
  text.resize(
      static_cast<size_t>(regular ? std::min(size + 1, read_limit) : std::min(read_limit, kMiB)));
  size_t used = 0;
  for (;;) {
    if (used == text.size()) {
      if (text.size() >= read_limit) {
        break;
      }
      text.resize(static_cast<size_t>(std::min<uint64_t>(read_limit, text.size() * 2)));
    }
    const ssize_t count = ::read(file.get(), text.data() + used, text.size() - used);
    if (count < 0) {
      if (errno == EINTR) {
        return interrupted(item);
      }
      return open_error(errno, item);
    }
    if (count == 0) {
      break;
    }
    used += static_cast<size_t>(count);
  }
  text.resize(used);
  if (used > max_bytes) {
    if (!regular) {
      return Status(ErrorCode::kInvalidArgument,
                    fmt::format("{} is not a regular file and gives more than the limit of {}: "
                                "pass a regular file",
                                item, format_byte_size(max_bytes)));
    }
    return too_large(item, used, max_bytes);
  }
  return text;
}

}  // namespace ollamaflow
