// Scenario tests: the engine drives a small pool model under a fake clock, for every strategy.
// Agents added by a decision are starting during one evaluation period and ready afterwards.
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "scaling/engine.h"
#include "test_inputs.h"

namespace ollamaflow::scaling {
namespace {

struct Load {
  int demand = 0;  // tasks in the system: running plus queued
  std::optional<double> arrival_rate;
  std::optional<double> service_s;
};

class ScenarioTest : public ::testing::TestWithParam<Strategy> {
 protected:
  ScenarioTest() : clock_(std::make_shared<FakeClock>()) {
    config_.strategy = std::string(strategy_name(GetParam()));
    config_.gpu_scaling.max_agents = 16;
  }

  ScalingEngine& engine() {
    if (!engine_) {
      engine_ = ScalingEngine::create(clock_, config_).value();
    }
    return *engine_;
  }

  // Builds the inputs the pool shows under `load`, evaluates once, applies the decision and
  // advances the clock by one check interval.
  Decision step(const Load& load) {
    const int ready = agents_ - starting_;
    EngineInputs inputs = test::pool(clock_->now(), agents_, std::min(ready, load.demand),
                                     std::max(0, load.demand - ready));
    inputs.starting_agents = starting_;
    inputs.workload.idle_agents = std::max(0, ready - load.demand);
    inputs.workload.starting_agents = starting_;
    inputs.workload.arrival_rate = load.arrival_rate;
    inputs.workload.mean_service_s = load.service_s;
    inputs.gpu = test::gpu(clock_->now(), gpu_used_mib_, 24000, temperature_c_);
    inputs.capacity = test::capacity(clock_->now(), ceiling_);
    if (workload_stale_) {
      inputs.workload.sampled_at -= std::chrono::seconds(120);
    }
    const Decision decision = engine().evaluate(inputs);
    apply(decision);
    clock_->advance(std::chrono::seconds(15));
    return decision;
  }

  void apply(const Decision& decision) {
    starting_ = 0;
    if (decision.to > agents_) {
      starting_ = decision.to - agents_;
    }
    const int direction = decision.to > agents_ ? 1 : (decision.to < agents_ ? -1 : 0);
    if (direction != 0 && last_direction_ != 0 && direction != last_direction_) {
      flips_++;
    }
    if (direction != 0) {
      last_direction_ = direction;
    }
    agents_ = decision.to;
    series_.push_back(agents_);
  }

  // Runs `steps` evaluations of a constant load.
  void hold_load(const Load& load, int steps) {
    for (int i = 0; i < steps; ++i) {
      step(load);
    }
  }

  std::shared_ptr<FakeClock> clock_;
  Config config_;
  std::unique_ptr<ScalingEngine> engine_;
  int agents_ = 2;
  int starting_ = 0;
  int ceiling_ = 16;
  double gpu_used_mib_ = 8000;  // 33 %: below the down threshold of every strategy
  double temperature_c_ = 50;
  bool workload_stale_ = false;
  int flips_ = 0;
  int last_direction_ = 0;
  std::vector<int> series_;
};

// A steady Poisson load of 0.4 tasks/s at 15 s each (6 Erlangs) for 30 minutes.
TEST_P(ScenarioTest, SteadyLoadDoesNotOscillate) {
  std::mt19937 random(7);
  std::poisson_distribution<int> demand(6.0);
  for (int i = 0; i < 120; ++i) {
    step({demand(random), 0.4, 15.0});
  }
  EXPECT_LE(flips_, 2) << "direction changes in 30 minutes";
  EXPECT_GE(agents_, 6);
  EXPECT_LE(agents_, 16);
}

TEST_P(ScenarioTest, BurstScalesUpInOneEvaluation) {
  ceiling_ = 8;
  hold_load({2, std::nullopt, std::nullopt}, 10);
  const int before = agents_;
  ceiling_ = 16;
  const Decision decision = step({12, std::nullopt, std::nullopt});
  EXPECT_EQ(decision.action, Action::kScaleUp);
  EXPECT_EQ(decision.from, before);
  if (GetParam() == Strategy::kConservative) {
    EXPECT_EQ(decision.to, before + 3);  // at most batch_creation_size agents per action
  } else if (GetParam() == Strategy::kGpuMemoryBased) {
    EXPECT_EQ(decision.to, 16);  // grows to the ceiling while tasks wait
  } else {
    EXPECT_GE(decision.to, 12);
  }
}

TEST_P(ScenarioTest, StepUpThenDown) {
  hold_load({2, std::nullopt, std::nullopt}, 10);
  hold_load({6, std::nullopt, std::nullopt}, 20);
  const int peak = agents_;
  EXPECT_GE(peak, 6);
  // Half the peak's demand is above the drop rule's 40 %, so one minute stays inside every hold
  // window.
  hold_load({3, std::nullopt, std::nullopt}, 4);
  EXPECT_EQ(agents_, peak);
  hold_load({3, std::nullopt, std::nullopt}, 60);
  if (GetParam() == Strategy::kGpuMemoryBased) {
    EXPECT_EQ(agents_, peak);  // keeps the ceiling while any task runs
    hold_load({0, std::nullopt, std::nullopt}, 60);
    EXPECT_EQ(agents_, 1);
  } else {
    EXPECT_LT(agents_, peak);
    EXPECT_GE(agents_, 3);
  }
  EXPECT_LE(flips_, 1);
}

TEST_P(ScenarioTest, DeepDropShrinksSoon) {
  hold_load({12, std::nullopt, std::nullopt}, 20);
  const int peak = agents_;
  ASSERT_GE(peak, 10);  // CONSERVATIVE counts busy agents as absorbing part of the queue
  hold_load({2, std::nullopt, std::nullopt}, 4);  // one minute
  if (GetParam() == Strategy::kConservative) {
    EXPECT_EQ(agents_, peak);  // no drop rule: the 300 s window keeps the peak
  } else if (GetParam() == Strategy::kGpuMemoryBased) {
    EXPECT_EQ(agents_, peak);  // keeps the ceiling while any task runs
  } else {
    EXPECT_LE(agents_, 2 + (GetParam() == Strategy::kAggressive ? 1 : 0));  // AGGRESSIVE: 1 spare
  }
  EXPECT_LE(flips_, 1);
}

TEST_P(ScenarioTest, GpuMemoryDrop) {
  hold_load({8, std::nullopt, std::nullopt}, 20);  // past every cooldown after the last scale-up
  ASSERT_GE(agents_, 8);
  ceiling_ = 3;  // another process took GPU memory
  const Decision decision = step({8, std::nullopt, std::nullopt});
  if (GetParam() == Strategy::kWorkloadBased) {
    EXPECT_GE(decision.to, 8);  // memory is not one of its signals
  } else {
    EXPECT_EQ(decision.action, Action::kScaleDown);
    EXPECT_EQ(decision.to, 3);
    EXPECT_TRUE(decision.recommendation.ceiling_bound);
  }
  if (GetParam() != Strategy::kWorkloadBased && GetParam() != Strategy::kGpuMemoryBased) {
    EXPECT_EQ(decision.recommendation.limit, "gpu_ceiling");  // the memory proposal is the ceiling
  }
}

TEST_P(ScenarioTest, MissingMetricBlocksScaleDown) {
  hold_load({8, std::nullopt, std::nullopt}, 10);
  const int peak = agents_;
  workload_stale_ = true;
  for (int i = 0; i < 40; ++i) {
    const Decision decision = step({0, std::nullopt, std::nullopt});
    EXPECT_NE(decision.action, Action::kScaleDown) << "evaluation " << i;
  }
  EXPECT_EQ(agents_, peak);
  workload_stale_ = false;
  hold_load({0, std::nullopt, std::nullopt}, 40);
  EXPECT_LT(agents_, peak);
}

TEST_P(ScenarioTest, TemperatureSpikeHoldsThenSheds) {
  ceiling_ = 6;  // GPU_MEMORY_BASED grows to the ceiling: keep room above the pool
  hold_load({4, std::nullopt, std::nullopt}, 4);
  const int before = agents_;
  ceiling_ = 16;
  temperature_c_ = 76;
  Decision decision = step({12, std::nullopt, std::nullopt});
  EXPECT_EQ(decision.action, Action::kHold);
  EXPECT_EQ(decision.to, before);
  EXPECT_EQ(decision.recommendation.limit, "temperature_warning");
  temperature_c_ = 86;
  decision = step({12, std::nullopt, std::nullopt});
  EXPECT_EQ(decision.action, Action::kShed);
  EXPECT_EQ(decision.to, before - 1);
  temperature_c_ = 60;
  decision = step({4, std::nullopt, std::nullopt});
  EXPECT_NE(decision.action, Action::kShed);
}

// Three agents busy on long tasks and an empty queue: the pool keeps at least three agents, and
// ten polls of the empty queue leave the count unchanged.
TEST_P(ScenarioTest, BusyAgentsWithEmptyQueueStay) {
  agents_ = 3;
  std::vector<int> desired;
  for (int poll = 0; poll < 11; ++poll) {
    const Decision decision = step({3, std::nullopt, std::nullopt});
    desired.push_back(decision.recommendation.desired);
    EXPECT_GE(decision.recommendation.desired, 3) << "poll " << poll;
  }
  // AGGRESSIVE adds its spare batch and GPU_MEMORY_BASED grows to the ceiling at the first
  // poll; from then on nothing changes.
  const std::vector<int> after_first(series_.begin() + 1, series_.end());
  EXPECT_EQ(after_first, std::vector<int>(10, series_[1]));
  if (GetParam() != Strategy::kAggressive && GetParam() != Strategy::kGpuMemoryBased) {
    EXPECT_EQ(series_[0], 3);
  }
  EXPECT_EQ(flips_, 0);
}

INSTANTIATE_TEST_SUITE_P(AllStrategies, ScenarioTest,
                         ::testing::Values(Strategy::kGpuMemoryBased, Strategy::kWorkloadBased,
                                           Strategy::kHybrid, Strategy::kConservative,
                                           Strategy::kAggressive),
                         [](const ::testing::TestParamInfo<Strategy>& info) {
                           return std::string(strategy_name(info.param));
                         });

// Without hold windows and cooldowns the same steady trace flips direction often, which shows
// that the steady-load test above can fail.
TEST(ScenarioControlTest, NoHoldWindowOscillates) {
  auto clock = std::make_shared<FakeClock>();
  Config config;
  config.gpu_scaling.max_agents = 16;
  auto engine = ScalingEngine::create(clock, config).value();
  StrategyParams params = engine->strategy_params();
  params.down_window_s = 0;
  params.up_cooldown_s = 0;
  params.flip_cooldown_s = 0;
  params.down_step_fraction = 1;
  ASSERT_TRUE(engine->set_strategy_params(params).is_ok());

  std::mt19937 random(7);
  std::poisson_distribution<int> demand(6.0);
  int agents = 2;
  int flips = 0;
  int last_direction = 0;
  for (int i = 0; i < 120; ++i) {
    const int tasks = demand(random);
    EngineInputs inputs =
        test::pool(clock->now(), agents, std::min(agents, tasks), std::max(0, tasks - agents));
    const Decision decision = engine->evaluate(inputs);
    const int direction = decision.to > agents ? 1 : (decision.to < agents ? -1 : 0);
    if (direction != 0 && last_direction != 0 && direction != last_direction) {
      flips++;
    }
    if (direction != 0) {
      last_direction = direction;
    }
    agents = decision.to;
    clock->advance(std::chrono::seconds(15));
  }
  EXPECT_GE(flips, 20);
}

}  // namespace
}  // namespace ollamaflow::scaling
