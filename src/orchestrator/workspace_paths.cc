// Path rules of the workspace: the checks of a path by its text alone.
#include <cctype>
#include <string>

#include <fmt/format.h>

#include "orchestrator/workspace.h"
#include "orchestrator/workspace_io.h"

namespace ollamaflow::orchestrator {
namespace {

constexpr size_t kMaxComponentLength = 255;  // NAME_MAX on Linux file systems

Status invalid(std::string_view path, std::string_view cause) {
  return {ErrorCode::kInvalidArgument, fmt::format("path '{}' is rejected: {}", path, cause)};
}

// Prints a path for a message with control characters escaped, so that the message itself
// stays one readable line.
std::string printable(std::string_view path) {
  std::string out;
  for (unsigned char c : path) {
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

Status check_characters(std::string_view path) {
  for (size_t i = 0; i < path.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(path[i]);
    if (c < 0x20 || c == 0x7f) {
      return invalid(
          printable(path),
          fmt::format("control character 0x{:02x} at byte {}: use printable names", c, i));
    }
    if (c == '\\') {
      return invalid(path, "it contains a backslash: use '/' between folders");
    }
  }
  return Status::ok();
}

Status check_components(std::string_view path) {
  for (const std::string& component : workspace_io::split_components(path)) {
    if (component.empty()) {
      return invalid(path, "it has an empty component ('//' or a trailing '/'): name a file");
    }
    if (component == ".") {
      return invalid(path, "it has a '.' component: write the path without it");
    }
    if (component == "..") {
      return invalid(path, "it has a '..' component, which could leave the workspace");
    }
    // Git runs commands that .git/config and .git/hooks name, so model output must not write
    // there when the workspace is a repository. The test ignores case for case-insensitive
    // file systems.
    if (component.size() == 4 && component[0] == '.' &&
        std::tolower(static_cast<unsigned char>(component[1])) == 'g' &&
        std::tolower(static_cast<unsigned char>(component[2])) == 'i' &&
        std::tolower(static_cast<unsigned char>(component[3])) == 't') {
      return invalid(path,
                     "it is inside a '.git' folder, whose files tell git which commands to run: "
                     "write the file outside .git");
    }
    if (component.size() > kMaxComponentLength) {
      return invalid(
          path, fmt::format("component '{}...' is {} bytes, more than {}", component.substr(0, 16),
                            component.size(), kMaxComponentLength));
    }
  }
  return Status::ok();
}

}  // namespace

Status check_relative_path(std::string_view path, size_t max_length) {
  if (path.empty()) {
    return invalid(path, "it is empty: name a file relative to the workspace");
  }
  if (path.size() > max_length) {
    return invalid(std::string(path.substr(0, 64)) + "...",
                   fmt::format("it is {} bytes long, more than {}", path.size(), max_length));
  }
  Status status = check_characters(path);
  if (!status) {
    return status;
  }
  if (path.front() == '/') {
    return invalid(path, "it is absolute: use a path relative to the workspace");
  }
  bool has_drive_letter =
      path.size() >= 2 && path[1] == ':' &&
      ((path[0] >= 'A' && path[0] <= 'Z') || (path[0] >= 'a' && path[0] <= 'z'));
  if (has_drive_letter) {
    return invalid(path, "it starts with a drive letter: use a path relative to the workspace");
  }
  return check_components(path);
}

Status check_path_component(std::string_view name) {
  Status status = check_relative_path(name, kMaxComponentLength);
  if (!status) {
    return status;
  }
  if (name.find('/') != std::string_view::npos) {
    return invalid(name, "a single name is expected, without '/'");
  }
  return Status::ok();
}

namespace workspace_io {

std::vector<std::string> split_components(std::string_view relative_path) {
  std::vector<std::string> components;
  size_t start = 0;
  while (true) {
    size_t slash = relative_path.find('/', start);
    if (slash == std::string_view::npos) {
      components.emplace_back(relative_path.substr(start));
      return components;
    }
    components.emplace_back(relative_path.substr(start, slash - start));
    start = slash + 1;
  }
}

}  // namespace workspace_io
}  // namespace ollamaflow::orchestrator
