#include "fakes/test_paths.h"

#include <cstdlib>
#include <stdexcept>
#include <system_error>

namespace ollamaflow::testing {

std::filesystem::path source_dir() {
  return OLLAMA_FLOW_SOURCE_DIR;
}

std::filesystem::path binary_path() {
  return OLLAMA_FLOW_BINARY;
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "ollama-flow-test-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed for " + pattern);
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace ollamaflow::testing
