// AMD devices through amdgpu's sysfs files, matched to the KFD topology that ROCm uses, with
// rocm-smi as the second source for cards whose sysfs memory files are missing.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "gpu/file_tree.h"
#include "gpu/system.h"
#include "gpu/types.h"

namespace ollamaflow::gpu {

// One GPU node of /sys/class/kfd/kfd/topology/nodes (CPU nodes have gfx_target_version 0).
struct KfdNode {
  int node = 0;
  uint64_t gfx_target_version = 0;  // e.g. 110000 for gfx1100
  std::optional<int> drm_render_minor;
  uint64_t cpu_cores_count = 0;  // non-zero on an APU, whose GPU and CPU share one node
  uint64_t simd_count = 0;
  uint64_t unique_id = 0;
};

// Reads the GPU nodes; an unreadable node is skipped.
std::vector<KfdNode> read_kfd_nodes(const FileTree& tree);

// Formats a KFD gfx_target_version as the LLVM target name: 110501 -> "gfx1151",
// 90010 -> "gfx90a".
std::string gfx_target_name(uint64_t gfx_target_version);

// One card of `rocm-smi --showmeminfo vram --json`.
struct RocmSmiCard {
  int index = 0;  // N of the "cardN" key
  std::optional<uint64_t> vram_total;
  std::optional<uint64_t> vram_used;
  std::optional<double> busy_percent;
  std::string series;
};

// Parses rocm-smi JSON, whose byte counts are strings. Warning lines before the JSON are
// skipped. Returns kParseError when no JSON object is found, e.g. for
// "WARNING: No JSON data to report".
Result<std::vector<RocmSmiCard>> parse_rocm_smi_json(std::string_view text);

// Not thread-safe: one owner calls probe(). Remembers a missing rocm-smi.
class AmdProbe {
 public:
  // Lists the AMD cards. `host` caps the budget of an APU that allocates from system memory.
  // Notes and warnings explain each unknown figure; nothing here fails the whole probe.
  std::vector<GpuDevice> probe(const ProbeContext& context, const HostMemory& host,
                               std::vector<std::string>& warnings);

 private:
  void fill_from_rocm_smi(const ProbeContext& context, std::vector<GpuDevice>& devices,
                          std::vector<std::string>& warnings);

  bool rocm_smi_missing_ = false;
};

}  // namespace ollamaflow::gpu
