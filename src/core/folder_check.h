// Checks that a folder can be used for output before any work that would be wasted on a bad path.
#pragma once

#include <filesystem>
#include <string_view>

#include "core/status.h"

namespace ollamaflow {

// Checks, without creating anything, that `path` is a writable folder, or that its nearest
// existing ancestor is a writable folder where create_directories() can make it. Returns
// kInvalidArgument naming `path` as `label` (e.g. "workspace") and the flag `flag` that chooses
// another one. Writability comes from access(2), which grants root every folder that is not on
// a read-only file system.
Status check_output_folder(const std::filesystem::path& path, std::string_view label,
                           std::string_view flag);

}  // namespace ollamaflow
