// Devices, figures and snapshots reported by the GPU probes.
//
// Every figure carries the source it was read from ("nvml", "nvidia-smi",
// "sysfs:mem_info_vram_used", "/proc/meminfo", ...). A figure that could not be read is
// std::nullopt: never 0 and never the whole card, so that a caller cannot mistake an unknown
// value for an idle or an empty device.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"

namespace ollamaflow::gpu {

// One figure and where it came from.
template <typename T>
struct Reading {
  T value{};
  std::string source;
};

using ByteReading = std::optional<Reading<uint64_t>>;
using NumberReading = std::optional<Reading<double>>;

enum class Vendor { kNvidia, kAmd, kIntel };

// Returns "nvidia", "amd" or "intel".
std::string_view vendor_name(Vendor vendor);

struct GpuProcess {
  uint32_t pid = 0;
  std::optional<uint64_t> used_bytes;  // unknown under Windows WDDM and without privileges
  std::string name;
};

struct GpuDevice {
  std::string id;  // "gpu0", "gpu1", ... in snapshot order
  Vendor vendor = Vendor::kNvidia;
  int vendor_index = 0;  // index among the devices of its vendor (NVML index, DRM card number)
  std::string name;
  std::string uuid;                  // NVIDIA GPU-..., AMD unique_id; empty when unknown
  std::string bus_id;                // PCI address, e.g. "0000:03:00.0"; empty when unknown
  std::string driver;                // driver name or version
  std::string detected_by;           // "nvml", "nvidia-smi", "sysfs", "rocm-smi"
  bool integrated = false;           // an APU or iGPU that shares system memory
  std::string memory_pool = "vram";  // "vram", or "gtt" when an APU allocates from system memory

  ByteReading memory_total;
  ByteReading memory_used;
  ByteReading memory_free;
  NumberReading utilization_percent;
  NumberReading temperature_c;
  NumberReading power_w;
  std::vector<GpuProcess> processes;

  // Why a figure is unknown or where it was corrected, one sentence each.
  std::vector<std::string> notes;
};

// Host memory, the budget of a CPU-only machine.
struct HostMemory {
  ByteReading total;      // MemTotal, capped by the cgroup limit
  ByteReading available;  // MemAvailable, capped by the cgroup limit minus its usage
  ByteReading cgroup_limit;
  std::vector<std::string> notes;
};

struct GpuSnapshot {
  std::vector<GpuDevice> devices;
  HostMemory host;
  WallTime taken_at{};
  MonoTime taken_at_mono{};
  Duration probe_duration{};
  // Probe failures that hid a whole source, e.g. "nvml: libnvidia-ml.so.1 not found".
  std::vector<std::string> warnings;
};

// Fills the missing one of total, used and free from the other two and checks that they agree.
// A used figure above the total makes free unknown, with a note.
void complete_memory(GpuDevice& device);

// Returns true when the device's free memory is known, which placement requires.
inline bool memory_known(const GpuDevice& device) {
  return device.memory_free.has_value();
}

constexpr uint64_t kMiB = 1024ull * 1024ull;
constexpr uint64_t kGiB = 1024ull * kMiB;

}  // namespace ollamaflow::gpu
