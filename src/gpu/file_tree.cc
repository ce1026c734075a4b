#include "gpu/file_tree.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>

#include <fmt/format.h>

namespace ollamaflow::gpu {
namespace {

// sysfs attributes fit in one page; procfs files such as meminfo are a few KiB.
constexpr size_t kMaxFileSize = 1024 * 1024;

}  // namespace

std::string trim(std::string_view text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin])))
    ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1])))
    --end;
  return std::string(text.substr(begin, end - begin));
}

std::filesystem::path FileTree::resolve(const std::string& path) const {
  std::string relative = path;
  while (!relative.empty() && relative.front() == '/')
    relative.erase(0, 1);
  return root_ / relative;
}

Result<std::string> FileTree::read(const std::string& path) const {
  std::filesystem::path full = resolve(path);
  int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int error = errno;
    ErrorCode code =
        error == ENOENT || error == ENOTDIR ? ErrorCode::kNotFound : ErrorCode::kIoError;
    return Result<std::string>(code, fmt::format("{}: {}", path, std::strerror(error)));
  }
  std::string content;
  std::array<char, 4096> buffer{};
  while (content.size() < kMaxFileSize) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int error = errno;
      ::close(fd);
      return Result<std::string>(ErrorCode::kIoError,
                                 fmt::format("{}: {}", path, std::strerror(error)));
    }
    if (n == 0)
      break;
    content.append(buffer.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  return content;
}

Result<uint64_t> FileTree::read_u64(const std::string& path) const {
  Result<std::string> text = read(path);
  if (!text)
    return text.status();
  std::string value = trim(*text);
  int base = 10;
  std::string_view digits = value;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    base = 16;
    digits.remove_prefix(2);
  }
  uint64_t number = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number, base);
  if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size()) {
    return Result<uint64_t>(
        ErrorCode::kParseError,
        fmt::format("{}: expected an unsigned number, read '{}'", path, value.substr(0, 40)));
  }
  return number;
}

Result<int64_t> FileTree::read_i64(const std::string& path) const {
  Result<std::string> text = read(path);
  if (!text)
    return text.status();
  std::string value = trim(*text);
  int64_t number = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (value.empty() || ec != std::errc() || ptr != value.data() + value.size()) {
    return Result<int64_t>(ErrorCode::kParseError, fmt::format("{}: expected a number, read '{}'",
                                                               path, value.substr(0, 40)));
  }
  return number;
}

Result<std::map<std::string, std::string>> FileTree::read_pairs(const std::string& path) const {
  Result<std::string> text = read(path);
  if (!text)
    return text.status();
  std::map<std::string, std::string> pairs;
  size_t start = 0;
  while (start < text->size()) {
    size_t end = text->find('\n', start);
    if (end == std::string::npos)
      end = text->size();
    std::string_view line(text->data() + start, end - start);
    start = end + 1;
    size_t split = line.find('=');
    if (split == std::string_view::npos)
      split = line.find(' ');
    if (split == std::string_view::npos)
      continue;
    pairs[trim(line.substr(0, split))] = trim(line.substr(split + 1));
  }
  return pairs;
}

std::vector<std::string> FileTree::list(const std::string& path) const {
  std::vector<std::string> names;
  std::error_code error;
  std::filesystem::directory_iterator it(resolve(path), error);
  if (error)
    return names;
  for (const auto& entry : it) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool FileTree::exists(const std::string& path) const {
  std::error_code error;
  return std::filesystem::exists(resolve(path), error);
}

}  // namespace ollamaflow::gpu
