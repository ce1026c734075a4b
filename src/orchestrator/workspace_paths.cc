// Path rules of the workspace: the text checks and the file system preflight.
#include <system_error>

#include <fmt/format.h>

#include "orchestrator/workspace.h"
#include "orchestrator/workspace_io.h"

namespace ollamaflow::orchestrator {
namespace {

namespace fs = std::filesystem;

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
    if (component.size() > kMaxComponentLength) {
      return invalid(
          path, fmt::format("component '{}...' is {} bytes, more than {}", component.substr(0, 16),
                            component.size(), kMaxComponentLength));
    }
  }
  return Status::ok();
}

std::string_view describe_type(fs::file_type type) {
  switch (type) {
    case fs::file_type::directory:
      return "a folder";
    case fs::file_type::fifo:
      return "a FIFO";
    case fs::file_type::block:
      return "a block device";
    case fs::file_type::character:
      return "a character device";
    case fs::file_type::socket:
      return "a socket";
    default:
      return "not a regular file";
  }
}

bool is_within(const fs::path& root, const fs::path& candidate) {
  auto root_it = root.begin();
  auto candidate_it = candidate.begin();
  for (; root_it != root.end(); ++root_it, ++candidate_it) {
    if (root_it->empty()) {
      continue;  // a trailing separator on the root
    }
    if (candidate_it == candidate.end() || *root_it != *candidate_it) {
      return false;
    }
  }
  return true;
}

// Checks one existing entry on the way to the target. `last` is set for the target itself.
Status check_entry(const fs::path& entry, const fs::file_status& status, bool last,
                   std::string_view relative_path, const std::string& prefix) {
  if (fs::is_symlink(status)) {
    std::error_code error;
    fs::path target = fs::read_symlink(entry, error);
    return invalid(relative_path,
                   fmt::format("'{}' is a symbolic link (to '{}'); the workspace never follows "
                               "links: remove the link",
                               prefix, error ? "?" : target.string()));
  }
  if (!last && !fs::is_directory(status)) {
    return invalid(
        relative_path,
        fmt::format("'{}' is {}, so it cannot contain other files", prefix,
                    fs::is_regular_file(status) ? "a file" : describe_type(status.type())));
  }
  if (last && !fs::is_regular_file(status)) {
    return invalid(relative_path, fmt::format("the target is {}: only regular files are written",
                                              describe_type(status.type())));
  }
  return Status::ok();
}

}  // namespace

Status check_relative_path(std::string_view path, size_t max_length) {
  if (path.empty()) {
    return invalid(path, "it is empty: name a file relative to the workspace");
  }
  if (path.size() > max_length) {
    return invalid(path.substr(0, 64),
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

Status check_on_disk(const fs::path& root, std::string_view relative_path) {
  std::vector<std::string> components = split_components(relative_path);
  fs::path entry = root;
  std::string prefix;
  for (size_t i = 0; i < components.size(); ++i) {
    entry /= components[i];
    prefix += (i == 0 ? "" : "/") + components[i];
    std::error_code error;
    fs::file_status status = fs::symlink_status(entry, error);
    if (status.type() == fs::file_type::not_found) {
      break;  // the rest will be created
    }
    if (error) {
      return invalid(relative_path,
                     fmt::format("cannot inspect '{}': {}", prefix, error.message()));
    }
    Status checked = check_entry(entry, status, i + 1 == components.size(), relative_path, prefix);
    if (!checked) {
      return checked;
    }
  }
  std::error_code error;
  fs::path resolved = fs::weakly_canonical(root / fs::path(std::string(relative_path)), error);
  if (error) {
    return invalid(relative_path, fmt::format("cannot resolve it: {}", error.message()));
  }
  if (!is_within(root, resolved)) {
    return invalid(relative_path, fmt::format("it resolves to '{}', outside the workspace '{}'",
                                              resolved.string(), root.string()));
  }
  return Status::ok();
}

}  // namespace workspace_io
}  // namespace ollamaflow::orchestrator
