// Reads the small text files of sysfs and procfs under a root folder, so that tests point the
// probes at recorded fixture trees.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace ollamaflow::gpu {

// Thread-compatible: const methods may run concurrently.
class FileTree {
 public:
  explicit FileTree(std::filesystem::path root) : root_(std::move(root)) {}

  // Returns the file's content. Errors: kNotFound when it does not exist, kIoError with the
  // system's message when it exists but cannot be read (sysfs answers EOPNOTSUPP or EINVAL for
  // some attributes on some chips).
  Result<std::string> read(const std::string& path) const;

  // Reads an unsigned decimal or 0x-prefixed hexadecimal number, ignoring surrounding space.
  // Returns kParseError naming the file for other content.
  Result<uint64_t> read_u64(const std::string& path) const;

  // Reads a signed decimal number (temperatures may be negative).
  Result<int64_t> read_i64(const std::string& path) const;

  // Reads "key value" lines (KFD properties) or "KEY=value" lines (uevent) into a map.
  Result<std::map<std::string, std::string>> read_pairs(const std::string& path) const;

  // Returns the names in a folder, sorted; empty when the folder is missing.
  std::vector<std::string> list(const std::string& path) const;

  bool exists(const std::string& path) const;

  // Returns `path` (absolute, as on the machine) under the root.
  std::filesystem::path resolve(const std::string& path) const;

 private:
  std::filesystem::path root_;
};

// Returns `text` without leading and trailing white space.
std::string trim(std::string_view text);

}  // namespace ollamaflow::gpu
