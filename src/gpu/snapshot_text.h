// The human form of a GPU snapshot for `ollama-flow gpu` and doctor.
#pragma once

#include <string>

#include "gpu/types.h"

namespace ollamaflow::gpu {

// Returns an aligned table of the devices and host memory, then the source of each memory
// figure, the notes on unknown figures and the probe warnings.
std::string render_snapshot(const GpuSnapshot& snapshot);

}  // namespace ollamaflow::gpu
