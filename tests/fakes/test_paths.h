// Paths that tests need: the source tree, the built binary and fresh temporary folders.
#pragma once

#include <filesystem>
#include <string>

namespace ollamaflow::testing {

// Returns the repository root.
std::filesystem::path source_dir();

// Returns the path of the built ollama-flow binary.
std::filesystem::path binary_path();

// A folder under the system temp directory that is removed with its content on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace ollamaflow::testing
