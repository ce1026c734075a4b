// Host CPU and memory use read from a /proc tree. The root path is injectable, so tests feed
// recorded files. CPU use is the busy share of the jiffies between two /proc/stat readings;
// memory use is 1 - MemAvailable / MemTotal from /proc/meminfo.
//
// Not thread-safe: one owner calls sample(); the metrics collector guards its sampler.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

#include "core/status.h"
#include "workload/metrics.h"

namespace ollamaflow::workload {

// Jiffy counters of the aggregate "cpu" line of /proc/stat.
struct CpuTimes {
  uint64_t busy = 0;   // user + nice + system + irq + softirq + steal
  uint64_t total = 0;  // busy + idle + iowait
};

// Parses the first "cpu " line of /proc/stat text. Returns kParseError naming the line when it is
// missing or has fewer than four counters.
Result<CpuTimes> parse_proc_stat(const std::string& text);

// Parses MemTotal and MemAvailable (kB) from /proc/meminfo text and returns the used percent.
// Returns kParseError when either key is missing or MemTotal is 0.
Result<double> parse_meminfo_used_percent(const std::string& text);

class HostSampler {
 public:
  explicit HostSampler(std::filesystem::path proc_root = "/proc");

  // Reads both files. The CPU percent is nullopt on the first call and when the counters did not
  // move. An unreadable or malformed file leaves its value nullopt and is named in the returned
  // status, which is ok only when both files were read.
  Status sample(MonoTime now, HostLoad& load);

 private:
  std::filesystem::path proc_root_;
  std::optional<CpuTimes> previous_;
};

}  // namespace ollamaflow::workload
