// One GPU snapshot from recorded sysfs fixtures: an AMD card with its KFD node, host memory and
// the cgroup, with NVML and the vendor tools absent. Target: under 1 ms.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "gpu/monitor.h"

namespace {

std::filesystem::path fixture_root() {
  return std::filesystem::path(__FILE__).parent_path().parent_path() /
         "tests/fixtures/gpu/amd_rx7900xt";
}

void BM_SnapshotFromSysfs(benchmark::State& state) {
  ollamaflow::gpu::ProbeContext context;
  context.root = fixture_root();
  context.run_command = [](const std::vector<std::string>& argv, ollamaflow::Duration) {
    return ollamaflow::Result<ollamaflow::gpu::CommandOutput>(ollamaflow::ErrorCode::kNotFound,
                                                              argv[0] + " not found");
  };
  ollamaflow::gpu::SnapshotProber prober(context, ollamaflow::system_clock());
  size_t devices = 0;
  for (auto _ : state) {
    ollamaflow::gpu::GpuSnapshot snapshot = prober.take();
    devices = snapshot.devices.size();
    benchmark::DoNotOptimize(snapshot.host.available);
  }
  if (devices != 1)
    state.SkipWithError("the fixture tree did not yield one device");
}
BENCHMARK(BM_SnapshotFromSysfs)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
