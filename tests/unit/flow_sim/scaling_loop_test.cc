// The scaling loop against the real engine, collector and agent manager: a decision's outcome
// must match what the pool did, and min_agents above the memory ceiling must not set the manager
// against the engine.
#include <gtest/gtest.h>

#include "agents/manager.h"
#include "flow/execution.h"
#include "flow/scaling_loop.h"
#include "queue/task_queue.h"
#include "scaling/engine.h"
#include "workload/collector.h"

namespace ollamaflow::flow {
namespace {

constexpr int kCeiling = 13;

scaling::CapacitySignal capacity_with_ceiling(int ceiling, MonoTime at) {
  scaling::CapacitySignal signal;
  signal.slot_ceiling = ceiling;
  signal.reason = "memory fits " + std::to_string(ceiling);
  signal.sampled_at = at;
  return signal;
}

Config scaled_config(int min_agents, const std::string& strategy = "HYBRID") {
  Config config;
  config.auto_scaling = true;
  config.strategy = strategy;
  config.gpu_scaling.min_agents = min_agents;
  config.gpu_scaling.max_agents = std::max(min_agents, kCeiling);
  return config;
}

class ScalingLoopTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (manager_) {
      manager_->stop(false);
    }
  }

  // Builds the engine and a manager of `manager_min` agents, started at that size, with a
  // capacity source that reports kCeiling.
  void build(const Config& config, int manager_min) {
    auto engine = scaling::ScalingEngine::create(clock_, config);
    ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
    engine_ = std::move(engine).value();

    workload::CollectorSettings collector_settings;
    collector_settings.min_agents = config.gpu_scaling.min_agents;
    collector_settings.max_agents = *config.gpu_scaling.max_agents;
    auto collector = workload::MetricsCollector::create(clock_, collector_settings);
    ASSERT_TRUE(collector.is_ok()) << collector.status().to_string();
    collector_ = std::move(collector).value();

    agents::ManagerSettings settings;
    settings.limits.min_agents = manager_min;
    settings.limits.max_agents = *config.gpu_scaling.max_agents;
    settings.default_model = "llama3.1:8b";
    settings.poll_interval = std::chrono::milliseconds(5);
    auto manager = agents::AgentManager::create(
        clock_, settings, queue_,
        [](const agents::AgentInfo&, const queue::Task&, const CancelToken&) {
          agents::TaskOutcome outcome;
          outcome.ok = true;
          return outcome;
        },
        {}, nullptr);
    ASSERT_TRUE(manager.is_ok()) << manager.status().to_string();
    manager_ = std::move(manager).value();
    ASSERT_TRUE(manager_->start(manager_min).is_ok());

    ScalingSources sources;
    sources.capacity = [clock = clock_] { return capacity_with_ceiling(kCeiling, clock->now()); };
    loop_ = std::make_unique<ScalingLoop>(clock_, std::chrono::seconds(15), *engine_, *collector_,
                                          *manager_, sources);
  }

  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  queue::MemoryTaskQueue queue_;
  std::unique_ptr<scaling::ScalingEngine> engine_;
  std::unique_ptr<workload::MetricsCollector> collector_;
  std::unique_ptr<agents::AgentManager> manager_;
  std::unique_ptr<ScalingLoop> loop_;
};

TEST_F(ScalingLoopTest, ClampedScaleDownIsBookedFailed) {
  // The manager keeps 14 agents while the engine requests the memory ceiling of 13.
  build(scaled_config(14), 14);
  const scaling::Decision decision = loop_->evaluate_once();
  ASSERT_EQ(decision.action, scaling::Action::kScaleDown) << decision.reason;
  EXPECT_EQ(decision.to, kCeiling);
  EXPECT_EQ(manager_->capacity(), 14);
  const std::vector<scaling::ScalingEvent> events = engine_->events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events.back().outcome, scaling::Outcome::kFailed);
}

TEST_F(ScalingLoopTest, CarriedOutScaleDownIsBookedSucceeded) {
  build(scaled_config(14), kCeiling);
  ASSERT_TRUE(manager_->scale_to(14, "test").is_ok());
  const scaling::Decision decision = loop_->evaluate_once();
  ASSERT_EQ(decision.action, scaling::Action::kScaleDown) << decision.reason;
  EXPECT_EQ(manager_->capacity(), kCeiling);
  ASSERT_EQ(engine_->events().size(), 1u);
  EXPECT_EQ(engine_->events().back().outcome, scaling::Outcome::kSucceeded);
}

TEST_F(ScalingLoopTest, MinAgentsAboveCeilingStartsAtCeiling) {
  const Config config = scaled_config(14);
  const std::optional<scaling::CapacitySignal> capacity =
      capacity_with_ceiling(kCeiling, clock_->now());
  const int manager_min = scaled_min_agents(config, capacity);
  EXPECT_EQ(manager_min, kCeiling);
  build(config, manager_min);
  // Evaluations a second apart, as arrivals cause them: none may change the pool.
  for (int i = 0; i < 5; ++i) {
    const scaling::Decision decision = loop_->evaluate_once();
    EXPECT_NE(decision.action, scaling::Action::kScaleDown) << decision.reason;
    EXPECT_EQ(decision.to, kCeiling) << decision.reason;
    clock_->advance(std::chrono::seconds(1));
  }
  EXPECT_TRUE(engine_->events().empty());
  EXPECT_EQ(manager_->capacity(), kCeiling);
}

TEST(ScaledMinAgentsTest, KeptWithoutMemoryConflict) {
  const MonoTime now{};
  EXPECT_EQ(scaled_min_agents(scaled_config(4), capacity_with_ceiling(kCeiling, now)), 4);
  EXPECT_EQ(scaled_min_agents(scaled_config(14), std::nullopt), 14);
  scaling::CapacitySignal slots_only;
  slots_only.server_slots = 4;
  EXPECT_EQ(scaled_min_agents(scaled_config(14), slots_only), 14);
}

TEST(ScaledMinAgentsTest, WorkloadBasedIgnoresCeiling) {
  const MonoTime now{};
  const Config config = scaled_config(14, "WORKLOAD_BASED");
  EXPECT_EQ(scaled_min_agents(config, capacity_with_ceiling(kCeiling, now)), 14);
}

TEST(ScaledMinAgentsTest, ZeroCeilingKeepsOneAgent) {
  const MonoTime now{};
  EXPECT_EQ(scaled_min_agents(scaled_config(2), capacity_with_ceiling(0, now)), 1);
  EXPECT_EQ(scaled_min_agents(scaled_config(0), capacity_with_ceiling(0, now)), 0);
}

}  // namespace
}  // namespace ollamaflow::flow
