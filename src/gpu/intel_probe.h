// Intel devices through sysfs. Memory is known only where the driver exposes local memory:
// i915 writes cardN/lmem_total_bytes and lmem_avail_bytes, xe writes
// device/tileN/physical_vram_size_bytes (a total without a used figure). Any other Intel GPU is
// listed with unknown memory and gets no agents.
#pragma once

#include <vector>

#include "gpu/system.h"
#include "gpu/types.h"

namespace ollamaflow::gpu {

// Lists the Intel DRM cards under context.root. Thread-safe: it keeps no state.
std::vector<GpuDevice> probe_intel(const ProbeContext& context);

}  // namespace ollamaflow::gpu
