#include "scaling/strategy.h"

#include <gtest/gtest.h>

namespace ollamaflow::scaling {
namespace {

class StrategyParamsTest : public ::testing::Test {
 protected:
  StrategyParams params(Strategy strategy) const { return strategy_params(strategy, config_); }

  Config config_;  // seed defaults
};

TEST_F(StrategyParamsTest, HybridTakesConfigValues) {
  const StrategyParams hybrid = params(Strategy::kHybrid);
  EXPECT_TRUE(hybrid.size_by_workload);
  EXPECT_FALSE(hybrid.size_by_memory);
  EXPECT_TRUE(hybrid.memory_limits);
  EXPECT_TRUE(hybrid.server_slot_cap);
  EXPECT_EQ(hybrid.min_agents, 1);
  EXPECT_EQ(hybrid.max_agents, 8);
  EXPECT_DOUBLE_EQ(hybrid.scale_up_threshold, 0.75);
  EXPECT_DOUBLE_EQ(hybrid.scale_down_threshold, 0.40);
  EXPECT_DOUBLE_EQ(hybrid.sizing.wait_target_s, 5);
  EXPECT_DOUBLE_EQ(hybrid.up_window_s, 0);
  EXPECT_DOUBLE_EQ(hybrid.down_window_s, 120);
  EXPECT_DOUBLE_EQ(hybrid.up_cooldown_s, 60);
  EXPECT_DOUBLE_EQ(hybrid.flip_cooldown_s, 30);
  EXPECT_DOUBLE_EQ(hybrid.check_interval_s, 15);
  EXPECT_DOUBLE_EQ(hybrid.stale_after_s, 45);
  EXPECT_EQ(hybrid.batch_size, 1);
  EXPECT_DOUBLE_EQ(hybrid.temperature_warning_c, 75);
  EXPECT_DOUBLE_EQ(hybrid.temperature_critical_c, 85);
  EXPECT_DOUBLE_EQ(hybrid.temperature_emergency_c, 95);
  EXPECT_DOUBLE_EQ(hybrid.vram_critical, 0.95);
  EXPECT_DOUBLE_EQ(hybrid.vram_emergency, 0.98);
  EXPECT_TRUE(hybrid.validate().is_ok());
}

TEST_F(StrategyParamsTest, GpuMemoryBasedUsesMemoryOnly) {
  const StrategyParams gpu = params(Strategy::kGpuMemoryBased);
  EXPECT_FALSE(gpu.size_by_workload);
  EXPECT_TRUE(gpu.size_by_memory);
  EXPECT_TRUE(gpu.memory_limits);
}

TEST_F(StrategyParamsTest, WorkloadBasedIgnoresMemoryAndSlots) {
  const StrategyParams workload = params(Strategy::kWorkloadBased);
  EXPECT_TRUE(workload.size_by_workload);
  EXPECT_FALSE(workload.memory_limits);
  EXPECT_FALSE(workload.server_slot_cap);
}

TEST_F(StrategyParamsTest, HybridScaleDownRules) {
  const StrategyParams hybrid = params(Strategy::kHybrid);
  EXPECT_DOUBLE_EQ(hybrid.down_tolerance, 0.3);
  EXPECT_DOUBLE_EQ(hybrid.down_step_fraction, 0.5);
  EXPECT_DOUBLE_EQ(hybrid.down_interval_s, 15);
  EXPECT_TRUE(hybrid.breach_skips_flip_cooldown);
  EXPECT_FALSE(hybrid.sizing.busy_agents_absorb_queue);
  EXPECT_TRUE(hybrid.sizing.startup_headroom);
}

TEST_F(StrategyParamsTest, ConservativeIsSlowerAndStricter) {
  const StrategyParams conservative = params(Strategy::kConservative);
  EXPECT_NEAR(conservative.scale_up_threshold, 0.65, 1e-12);
  EXPECT_NEAR(conservative.scale_down_threshold, 0.30, 1e-12);
  EXPECT_DOUBLE_EQ(conservative.sizing.wait_target_s, 10);
  EXPECT_EQ(conservative.max_up_step, 3);
  EXPECT_DOUBLE_EQ(conservative.down_step_fraction, 0);
  EXPECT_DOUBLE_EQ(conservative.down_window_s, 300);
  EXPECT_DOUBLE_EQ(conservative.up_cooldown_s, 120);
  EXPECT_DOUBLE_EQ(conservative.flip_cooldown_s, 60);
  EXPECT_FALSE(conservative.breach_skips_flip_cooldown);
  EXPECT_TRUE(conservative.sizing.busy_agents_absorb_queue);
  EXPECT_FALSE(conservative.sizing.startup_headroom);
  EXPECT_TRUE(conservative.validate().is_ok());
}

TEST_F(StrategyParamsTest, AggressiveBatchesAndKeepsSpares) {
  const StrategyParams aggressive = params(Strategy::kAggressive);
  EXPECT_NEAR(aggressive.scale_up_threshold, 0.80, 1e-12);
  EXPECT_DOUBLE_EQ(aggressive.sizing.wait_target_s, 2.5);
  EXPECT_DOUBLE_EQ(aggressive.sizing.target_utilization, 0.8);
  EXPECT_DOUBLE_EQ(aggressive.sizing.spare_fraction, 0.2);
  EXPECT_EQ(aggressive.sizing.min_spare, 1);
  EXPECT_EQ(aggressive.batch_size, 3);
  EXPECT_EQ(aggressive.down_dead_band, 2);
  EXPECT_DOUBLE_EQ(aggressive.down_window_s, 60);
  EXPECT_DOUBLE_EQ(aggressive.up_cooldown_s, 15);
  EXPECT_TRUE(aggressive.validate().is_ok());
}

TEST_F(StrategyParamsTest, MaxAgentsDefaultsToEight) {
  config_.gpu_scaling.max_agents = 12;
  EXPECT_EQ(params(Strategy::kHybrid).max_agents, 12);
  config_.gpu_scaling.max_agents.reset();
  EXPECT_EQ(params(Strategy::kHybrid).max_agents, 8);
}

TEST_F(StrategyParamsTest, ValidateNamesField) {
  StrategyParams invalid = params(Strategy::kHybrid);
  invalid.scale_down_threshold = 0.80;
  Status status = invalid.validate();
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(status.message().find("scale_down_threshold"), std::string::npos) << status.message();

  invalid = params(Strategy::kHybrid);
  invalid.max_agents = 0;
  status = invalid.validate();
  EXPECT_NE(status.message().find("max_agents"), std::string::npos) << status.message();

  invalid = params(Strategy::kHybrid);
  invalid.down_window_s = -1;
  status = invalid.validate();
  EXPECT_NE(status.message().find("down_window_s"), std::string::npos) << status.message();

  invalid = params(Strategy::kHybrid);
  invalid.down_tolerance = 1;
  status = invalid.validate();
  EXPECT_NE(status.message().find("down_tolerance"), std::string::npos) << status.message();

  invalid = params(Strategy::kHybrid);
  invalid.down_interval_s = -1;
  status = invalid.validate();
  EXPECT_NE(status.message().find("down_interval_s"), std::string::npos) << status.message();

  invalid = params(Strategy::kHybrid);
  invalid.temperature_critical_c = 70;
  EXPECT_FALSE(invalid.validate().is_ok());
}

TEST(ParseStrategyTest, AcceptsAnyCase) {
  EXPECT_EQ(parse_strategy("hybrid").value(), Strategy::kHybrid);
  EXPECT_EQ(parse_strategy("GPU_MEMORY_BASED").value(), Strategy::kGpuMemoryBased);
  EXPECT_EQ(parse_strategy("Workload_Based").value(), Strategy::kWorkloadBased);
  EXPECT_EQ(parse_strategy("conservative").value(), Strategy::kConservative);
  EXPECT_EQ(parse_strategy("AGGRESSIVE").value(), Strategy::kAggressive);
}

TEST(ParseStrategyTest, UnknownListsValidNames) {
  const Result<Strategy> strategy = parse_strategy("fast");
  ASSERT_FALSE(strategy.is_ok());
  EXPECT_EQ(strategy.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(strategy.status().message().find("'fast'"), std::string::npos);
  EXPECT_NE(strategy.status().message().find("HYBRID"), std::string::npos);
}

TEST(ProfileTest, BuiltInProfiles) {
  const EnvironmentProfile development = find_profile("development").value();
  EXPECT_EQ(development.strategy, Strategy::kAggressive);
  EXPECT_DOUBLE_EQ(development.scale_check_interval, 10);
  EXPECT_DOUBLE_EQ(development.cooldown_period, 15);
  EXPECT_DOUBLE_EQ(development.memory_safety_margin, 0.10);

  const EnvironmentProfile testing = find_profile("testing").value();
  EXPECT_EQ(testing.strategy, Strategy::kHybrid);
  EXPECT_DOUBLE_EQ(testing.scale_check_interval, 15);
  EXPECT_DOUBLE_EQ(testing.cooldown_period, 25);
  EXPECT_DOUBLE_EQ(testing.memory_safety_margin, 0.15);

  const EnvironmentProfile production = find_profile("production").value();
  EXPECT_EQ(production.strategy, Strategy::kConservative);
  EXPECT_DOUBLE_EQ(production.scale_check_interval, 30);
  EXPECT_DOUBLE_EQ(production.cooldown_period, 60);
  EXPECT_DOUBLE_EQ(production.memory_safety_margin, 0.20);
}

TEST(ProfileTest, ApplySetsKeys) {
  const Config config = apply_profile(Config{}, "production").value();
  EXPECT_EQ(config.profile, "production");
  EXPECT_EQ(config.strategy, "CONSERVATIVE");
  EXPECT_DOUBLE_EQ(config.gpu_scaling.scale_check_interval, 30);
  EXPECT_DOUBLE_EQ(config.gpu_scaling.cooldown_period, 60);
  EXPECT_DOUBLE_EQ(config.gpu_scaling.memory_safety_margin, 0.20);
  const StrategyParams params = strategy_params(Strategy::kConservative, config);
  EXPECT_DOUBLE_EQ(params.flip_cooldown_s, 120);  // 60 s doubled by CONSERVATIVE
  EXPECT_DOUBLE_EQ(params.stale_after_s, 90);
}

TEST(ProfileTest, UnknownProfileListsNames) {
  const Result<Config> config = apply_profile(Config{}, "staging");
  ASSERT_FALSE(config.is_ok());
  EXPECT_NE(config.status().message().find("development, testing, production"), std::string::npos)
      << config.status().message();
}

}  // namespace
}  // namespace ollamaflow::scaling
