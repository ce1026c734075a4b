// The warning for a strategy that has no signal on the machine the run scales on.
#include <gtest/gtest.h>

#include "flow/machine.h"

namespace ollamaflow::flow {
namespace {

gpu::GpuSnapshot snapshot_with_gpus(int count) {
  gpu::GpuSnapshot snapshot;
  for (int i = 0; i < count; ++i) {
    gpu::GpuDevice device;
    device.id = "gpu" + std::to_string(i);
    snapshot.devices.push_back(device);
  }
  return snapshot;
}

Config config_with_strategy(const std::string& strategy) {
  Config config;
  config.auto_scaling = true;
  config.strategy = strategy;
  return config;
}

TEST(StrategyWarningTest, GpuMemoryBasedWithoutGpuNamesFix) {
  const std::optional<std::string> warning =
      strategy_signal_warning(config_with_strategy("GPU_MEMORY_BASED"), snapshot_with_gpus(0));
  ASSERT_TRUE(warning.has_value());
  EXPECT_NE(warning->find("GPU_MEMORY_BASED"), std::string::npos) << *warning;
  EXPECT_NE(warning->find("no GPU is monitored"), std::string::npos) << *warning;
  EXPECT_NE(warning->find("--strategy HYBRID or WORKLOAD_BASED"), std::string::npos) << *warning;
}

TEST(StrategyWarningTest, GpuMemoryBasedWithGpuHasNone) {
  EXPECT_FALSE(
      strategy_signal_warning(config_with_strategy("GPU_MEMORY_BASED"), snapshot_with_gpus(1)));
}

TEST(StrategyWarningTest, OtherStrategiesWithoutGpuHaveNone) {
  for (const std::string strategy : {"HYBRID", "WORKLOAD_BASED", "CONSERVATIVE", "AGGRESSIVE"}) {
    EXPECT_FALSE(strategy_signal_warning(config_with_strategy(strategy), snapshot_with_gpus(0)))
        << strategy;
  }
}

}  // namespace
}  // namespace ollamaflow::flow
