#include "gpu/host_memory.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>

#include <fmt/format.h>

namespace ollamaflow::gpu {
namespace {

// A limit found in one cgroup level.
struct CgroupLimit {
  uint64_t limit = 0;
  std::optional<uint64_t> usage;
  std::string source;
};

// Parses /proc/meminfo lines "Name:   12345 kB" into bytes.
std::map<std::string, uint64_t> parse_meminfo(const std::string& text) {
  std::map<std::string, uint64_t> values;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos)
      end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    size_t colon = line.find(':');
    if (colon == std::string::npos)
      continue;
    std::string number = trim(std::string_view(line).substr(colon + 1));
    uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (ec != std::errc())
      continue;
    bool kib = std::string_view(ptr).find("kB") != std::string_view::npos;
    values[line.substr(0, colon)] = kib ? value * 1024 : value;
  }
  return values;
}

// Returns the cgroup path of the memory controller: the v2 line "0::PATH" or the v1 line whose
// controller list has "memory".
std::optional<std::pair<int, std::string>> own_cgroup(const FileTree& tree) {
  Result<std::string> text = tree.read("/proc/self/cgroup");
  if (!text)
    return std::nullopt;
  std::optional<std::pair<int, std::string>> v2;
  size_t start = 0;
  while (start < text->size()) {
    size_t end = text->find('\n', start);
    if (end == std::string::npos)
      end = text->size();
    std::string line = text->substr(start, end - start);
    start = end + 1;
    size_t first = line.find(':');
    size_t second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos)
      continue;
    std::string controllers = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    if (line.compare(0, first, "0") == 0 && controllers.empty()) {
      v2 = std::make_pair(2, path);
    } else if (("," + controllers + ",").find(",memory,") != std::string::npos) {
      return std::make_pair(1, path);
    }
  }
  return v2;
}

// Reads one level's limit; nullopt when the level sets none.
std::optional<CgroupLimit> read_level(const FileTree& tree, int version, const std::string& dir) {
  const char* limit_file = version == 2 ? "memory.max" : "memory.limit_in_bytes";
  const char* usage_file = version == 2 ? "memory.current" : "memory.usage_in_bytes";
  std::string limit_path = dir + "/" + limit_file;
  Result<std::string> raw = tree.read(limit_path);
  if (!raw || trim(*raw) == "max")
    return std::nullopt;
  Result<uint64_t> limit = tree.read_u64(limit_path);
  if (!limit || *limit == 0 || (version == 1 && *limit >= kCgroupV1NoLimit))
    return std::nullopt;
  CgroupLimit level;
  level.limit = *limit;
  Result<uint64_t> usage = tree.read_u64(dir + "/" + usage_file);
  if (usage)
    level.usage = *usage;
  level.source = fmt::format("cgroup v{} {}", version, limit_file);
  return level;
}

// Walks from the process's cgroup up to the hierarchy root and returns the tightest limit.
std::optional<CgroupLimit> tightest_limit(const FileTree& tree) {
  std::optional<std::pair<int, std::string>> cgroup = own_cgroup(tree);
  if (!cgroup)
    return std::nullopt;
  auto [version, path] = *cgroup;
  std::string base = version == 2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory";
  std::string dir = base + (path == "/" ? "" : path);
  // With a private cgroup namespace the listed path may not exist below the mount: the mount
  // itself is then the process's cgroup.
  if (!tree.exists(dir))
    dir = base;

  std::optional<CgroupLimit> best;
  auto headroom = [](const CgroupLimit& l) {
    uint64_t used = l.usage.value_or(0);
    return used >= l.limit ? 0 : l.limit - used;
  };
  while (true) {
    if (std::optional<CgroupLimit> level = read_level(tree, version, dir)) {
      if (!best || headroom(*level) < headroom(*best))
        best = level;
    }
    if (dir.size() <= base.size())
      break;
    dir = dir.substr(0, dir.rfind('/'));
    if (dir.size() < base.size())
      dir = base;
  }
  return best;
}

}  // namespace

HostMemory read_host_memory(const FileTree& tree) {
  HostMemory host;
  Result<std::string> meminfo = tree.read("/proc/meminfo");
  if (meminfo) {
    std::map<std::string, uint64_t> values = parse_meminfo(*meminfo);
    if (values.count("MemTotal") && values["MemTotal"] > 0) {
      host.total = Reading<uint64_t>{values["MemTotal"], "/proc/meminfo MemTotal"};
    } else {
      host.notes.push_back("/proc/meminfo has no usable MemTotal; host memory unknown");
    }
    if (values.count("MemAvailable")) {
      host.available = Reading<uint64_t>{values["MemAvailable"], "/proc/meminfo MemAvailable"};
    } else if (values.count("MemFree")) {
      uint64_t sum = values["MemFree"] + values["Buffers"] + values["Cached"];
      host.available = Reading<uint64_t>{sum, "/proc/meminfo MemFree+Buffers+Cached"};
    }
    if (!host.total)
      host.available.reset();
  } else {
    host.notes.push_back(meminfo.status().message() + "; host memory unknown");
  }

  std::optional<CgroupLimit> limit = tightest_limit(tree);
  if (!limit)
    return host;
  host.cgroup_limit = Reading<uint64_t>{limit->limit, limit->source};
  uint64_t headroom = limit->limit - std::min(limit->limit, limit->usage.value_or(0));
  if (!host.total || limit->limit < host.total->value) {
    host.total = Reading<uint64_t>{limit->limit, limit->source};
  }
  if (!host.available || headroom < host.available->value) {
    std::string usage =
        limit->source.find("v2") != std::string::npos ? "memory.current" : "memory.usage_in_bytes";
    host.available = Reading<uint64_t>{headroom, fmt::format("{} minus {}", limit->source, usage)};
  }
  return host;
}

}  // namespace ollamaflow::gpu
