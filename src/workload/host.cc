#include "workload/host.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace ollamaflow::workload {
namespace {

Result<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream file(path);
  if (!file) {
    return Status(
        ErrorCode::kNotFound,
        fmt::format("{} could not be opened; check the proc root setting", path.string()));
  }
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace

Result<CpuTimes> parse_proc_stat(const std::string& text) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("cpu ", 0) != 0) {
      continue;
    }
    std::istringstream fields(line.substr(4));
    std::vector<uint64_t> counters;
    uint64_t value = 0;
    while (fields >> value) {
      counters.push_back(value);
    }
    if (counters.size() < 4) {
      return Status(ErrorCode::kParseError,
                    fmt::format("/proc/stat line '{}' has {} counters, expected at least 4", line,
                                counters.size()));
    }
    // Order: user nice system idle iowait irq softirq steal guest guest_nice. Guest time is
    // already inside user and nice, so it is not added again.
    counters.resize(8, 0);
    CpuTimes times;
    const uint64_t idle = counters[3] + counters[4];
    times.busy = counters[0] + counters[1] + counters[2] + counters[5] + counters[6] + counters[7];
    times.total = times.busy + idle;
    return times;
  }
  return Status(ErrorCode::kParseError, "/proc/stat has no aggregate 'cpu ' line");
}

Result<double> parse_meminfo_used_percent(const std::string& text) {
  std::istringstream lines(text);
  std::string key;
  std::optional<double> total_kb;
  std::optional<double> available_kb;
  double value = 0;
  std::string unit;
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    if (!(fields >> key >> value)) {
      continue;
    }
    if (key == "MemTotal:") {
      total_kb = value;
    } else if (key == "MemAvailable:") {
      available_kb = value;
    }
  }
  if (!total_kb || !available_kb) {
    return Status(ErrorCode::kParseError, "/proc/meminfo lacks MemTotal or MemAvailable");
  }
  if (*total_kb <= 0) {
    return Status(ErrorCode::kParseError, "/proc/meminfo reports MemTotal 0; memory use unknown");
  }
  return 100.0 * (1.0 - *available_kb / *total_kb);
}

HostSampler::HostSampler(std::filesystem::path proc_root) : proc_root_(std::move(proc_root)) {}

Status HostSampler::sample(MonoTime now, HostLoad& load) {
  load.sampled_at = now;
  load.cpu_percent.reset();
  load.memory_percent.reset();
  std::vector<std::string> errors;

  Result<std::string> stat = read_file(proc_root_ / "stat");
  Result<CpuTimes> times = stat ? parse_proc_stat(*stat) : Result<CpuTimes>(stat.status());
  if (times) {
    if (previous_ && times->total > previous_->total && times->busy >= previous_->busy) {
      const double busy = static_cast<double>(times->busy - previous_->busy);
      load.cpu_percent = 100.0 * busy / static_cast<double>(times->total - previous_->total);
    }
    previous_ = *times;
  } else {
    errors.push_back(times.status().message());
  }

  Result<std::string> meminfo = read_file(proc_root_ / "meminfo");
  Result<double> used =
      meminfo ? parse_meminfo_used_percent(*meminfo) : Result<double>(meminfo.status());
  if (used) {
    load.memory_percent = *used;
  } else {
    errors.push_back(used.status().message());
  }

  if (errors.empty()) {
    return Status::ok();
  }
  std::string message = errors.front();
  for (size_t i = 1; i < errors.size(); ++i) {
    message += "; " + errors[i];
  }
  return Status(ErrorCode::kIoError, "host load sample failed: " + message);
}

}  // namespace ollamaflow::workload
