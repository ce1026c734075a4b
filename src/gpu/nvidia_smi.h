// NVIDIA devices through the nvidia-smi command: the fallback when NVML cannot be loaded, and the
// source of memory figures that NVML hides (MIG slices, unified-memory boards).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "gpu/system.h"
#include "gpu/types.h"

namespace ollamaflow::gpu {

// The --query-gpu fields the probe asks for, in order.
extern const std::vector<std::string> kNvidiaSmiGpuFields;

// One row of nvidia-smi CSV output, field name to raw text.
using SmiRow = std::map<std::string, std::string>;

// Splits nvidia-smi CSV into rows. `fields` names the columns of --format=csv,noheader; when it
// is empty the first line is the header and unit suffixes such as " [MiB]" are removed from the
// names. Extra commas are kept inside the name or process_name column, where free text can hold
// them. Returns kParseError for a row with fewer columns than fields.
Result<std::vector<SmiRow>> parse_smi_csv(std::string_view text,
                                          const std::vector<std::string>& fields);

// Builds devices from --query-gpu rows. Memory is in MiB; a value such as "[N/A]", "N/A",
// "[Not Supported]" or "[Insufficient Permissions]" leaves its figure unknown with a note.
std::vector<GpuDevice> devices_from_smi_rows(const std::vector<SmiRow>& rows);

// Memory of one GPU's MIG slices, from `nvidia-smi -q -x`.
struct MigMemory {
  std::string gpu_bus_id;  // the <gpu id="..."> attribute
  std::string gpu_uuid;
  int slice_count = 0;
  uint64_t total_bytes = 0;
  uint64_t used_bytes = 0;
  uint64_t free_bytes = 0;
};

// Sums the <fb_memory_usage> of every <mig_device> per <gpu>. GPUs without MIG slices are left
// out. Malformed XML yields the GPUs read before the damage.
std::vector<MigMemory> parse_smi_mig_xml(std::string_view xml);

// Sums --query-compute-apps=gpu_uuid,pid,used_memory rows per GPU UUID, in bytes.
std::map<std::string, uint64_t> sum_compute_app_memory(const std::vector<SmiRow>& rows);

// Not thread-safe: one owner calls it. Remembers a missing nvidia-smi so that later snapshots do
// not try to start it again.
class NvidiaSmiProbe {
 public:
  // Lists devices with `nvidia-smi --query-gpu`. Errors: the runner's kNotFound or kTimeout,
  // kUnavailable for a non-zero exit status (no driver), kParseError for unreadable output.
  Result<std::vector<GpuDevice>> probe(const ProbeContext& context);

  // Fills the memory of devices whose memory is unknown: MIG slice memory first, then the sum
  // of compute-application memory as the used figure.
  void fill_unknown_memory(const ProbeContext& context, std::vector<GpuDevice>& devices);

 private:
  Result<std::string> run(const ProbeContext& context, const std::vector<std::string>& args);

  bool missing_ = false;
};

}  // namespace ollamaflow::gpu
