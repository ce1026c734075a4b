#include "core/folder_check.h"

#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

namespace ollamaflow {

namespace fs = std::filesystem;

std::string describe_non_folder(const fs::path& path) {
  std::error_code error;
  if (fs::is_symlink(fs::symlink_status(path, error)) && !fs::exists(fs::status(path, error))) {
    const fs::path target = fs::read_symlink(path, error);
    return fmt::format("is a symbolic link to '{}', which does not exist", target.string());
  }
  return "exists but is not a folder";
}

std::optional<std::string> describe_symbolic_link(const fs::path& path) {
  std::error_code error;
  if (!fs::is_symlink(fs::symlink_status(path, error))) {
    return std::nullopt;
  }
  const fs::path target = fs::read_symlink(path, error);
  return fmt::format("is a symbolic link to '{}'", error ? "?" : target.string());
}

std::optional<std::string> kernel_file_system(const fs::path& folder) {
  struct statfs info {};
  if (::statfs(folder.c_str(), &info) != 0) {
    return std::nullopt;
  }
  // The kernel's own file systems show kernel state as folders. They take no files that a run
  // writes, even where access(2) grants root write access.
  struct Known {
    decltype(info.f_type) magic;
    std::string_view name;
  };
  static constexpr Known kKnown[] = {
      {PROC_SUPER_MAGIC, "proc"},
      {SYSFS_MAGIC, "sysfs"},
      {CGROUP_SUPER_MAGIC, "cgroup"},
      {CGROUP2_SUPER_MAGIC, "cgroup2"},
      {DEBUGFS_MAGIC, "debugfs"},
      {TRACEFS_MAGIC, "tracefs"},
      {SECURITYFS_MAGIC, "securityfs"},
      {SELINUX_MAGIC, "selinuxfs"},
      {PSTOREFS_MAGIC, "pstore"},
      {EFIVARFS_MAGIC, "efivarfs"},
      {BINFMTFS_MAGIC, "binfmt_misc"},
      {DEVPTS_SUPER_MAGIC, "devpts"},
      {BPF_FS_MAGIC, "bpf"},
  };
  for (const Known& known : kKnown) {
    if (info.f_type == known.magic) {
      return std::string(known.name);
    }
  }
  return std::nullopt;
}

Status check_output_folder(const fs::path& path, std::string_view label, std::string_view flag) {
  if (path.empty()) {
    return {ErrorCode::kInvalidArgument,
            fmt::format("the {} path is empty: pass a folder with {}", label, flag)};
  }
  const fs::path absolute = fs::absolute(path).lexically_normal();
  // The nearest existing ancestor is where create_directories() would start.
  fs::path existing = absolute;
  std::error_code error;
  while (!fs::exists(fs::symlink_status(existing, error)) && existing.has_relative_path()) {
    existing = existing.parent_path();
  }
  if (!fs::is_directory(existing, error)) {
    const std::string ancestor =
        existing == absolute ? "" : fmt::format(" (its ancestor '{}')", existing.string());
    return {ErrorCode::kInvalidArgument,
            fmt::format("the {} '{}'{} {}: choose another path with {}", label, path.string(),
                        ancestor, describe_non_folder(existing), flag)};
  }
  if (const std::optional<std::string> kernel = kernel_file_system(existing)) {
    const std::string where =
        existing == absolute ? ""
                             : fmt::format(" (it would be created in '{}')", existing.string());
    return {ErrorCode::kInvalidArgument,
            fmt::format("the {} '{}'{} is on the kernel's {} file system, which takes no files: "
                        "choose another folder with {}",
                        label, path.string(), where, *kernel, flag)};
  }
  if (::access(existing.c_str(), W_OK | X_OK) != 0) {
    const std::string parent =
        existing == absolute ? ""
                             : fmt::format(" (it would be created in '{}')", existing.string());
    return {ErrorCode::kInvalidArgument,
            fmt::format("the {} '{}'{} is not writable: {}; choose a writable folder with {} or "
                        "change its permissions",
                        label, path.string(), parent, std::strerror(errno), flag)};
  }
  return Status::ok();
}

Status prepare_output_folder(const fs::path& path, std::string_view label, std::string_view flag) {
  if (Status usable = check_output_folder(path, label, flag); !usable) {
    return usable;
  }
  std::error_code error;
  fs::create_directories(path, error);
  if (error) {
    return {ErrorCode::kInvalidArgument,
            fmt::format("cannot create the {} '{}': {}; choose another path with {}", label,
                        path.string(), error.message(), flag)};
  }
  std::string probe = (path / ".ollama-flow-write-check-XXXXXX").string();
  const int fd = ::mkstemp(probe.data());
  if (fd < 0) {
    return {ErrorCode::kInvalidArgument,
            fmt::format("cannot create a file in the {} '{}': {}; choose another path with {}",
                        label, path.string(), std::strerror(errno), flag)};
  }
  ::close(fd);
  ::unlink(probe.c_str());
  return Status::ok();
}

}  // namespace ollamaflow
