// Checks that a folder can be used for output before any work that would be wasted on a bad path.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ollamaflow {

// Describes why an existing `path` is not a folder, for an error that names it: "exists but is
// not a folder", or, for a symbolic link whose target is missing, "is a symbolic link to
// 'TARGET', which does not exist".
std::string describe_non_folder(const std::filesystem::path& path);

// Returns "is a symbolic link to 'TARGET'" when `path` itself is a symbolic link, else nullopt.
// A link among its ancestors does not count.
std::optional<std::string> describe_symbolic_link(const std::filesystem::path& path);

// Returns the name of the kernel file system ("proc", "sysfs", "cgroup2", ...) that contains the
// existing `folder`, or nullopt for any other file system and when statfs(2) fails.
std::optional<std::string> kernel_file_system(const std::filesystem::path& folder);

// Checks, without creating anything, that `path` is a writable folder, or that its nearest
// existing ancestor is a writable folder where create_directories() can make it. A folder on one
// of the kernel's file systems (kernel_file_system()) is rejected, whatever access(2) returns.
// Returns kInvalidArgument naming `path` as `label` (e.g. "workspace") and the flag `flag` that
// chooses another one. Writability comes from access(2), which grants root every folder that is not
// on a read-only file system.
Status check_output_folder(const std::filesystem::path& path, std::string_view label,
                           std::string_view flag);

// Creates the folder `path` with its parents and checks that a file can be created in it, by
// creating and removing an empty one. Unlike check_output_folder(), this finds the folders that
// access(2) reports writable but that take no files, such as /proc for root. Returns
// kInvalidArgument naming `path` as `label` and `flag`, as check_output_folder() does.
Status prepare_output_folder(const std::filesystem::path& path, std::string_view label,
                             std::string_view flag);

}  // namespace ollamaflow
