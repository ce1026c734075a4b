// Host memory: the budget of CPU-only machines and the cap on what an APU can borrow.
#pragma once

#include "gpu/file_tree.h"
#include "gpu/types.h"

namespace ollamaflow::gpu {

// cgroup v1 writes this (0x7FFFFFFFFFFFF000) or a larger value when no limit is set.
constexpr uint64_t kCgroupV1NoLimit = 0x7FFFFFFFFFFFF000ull;

// Reads MemTotal and MemAvailable (falling back to MemFree + Buffers + Cached) from
// /proc/meminfo, then caps both by the memory limits of the process's own cgroup, found through
// /proc/self/cgroup: cgroup v2 memory.max minus memory.current ("max" means no limit), or
// cgroup v1 memory.limit_in_bytes minus memory.usage_in_bytes. The tightest limit among the
// cgroup and its ancestors applies. A MemTotal of 0 is unknown, never a divisor.
HostMemory read_host_memory(const FileTree& tree);

}  // namespace ollamaflow::gpu
