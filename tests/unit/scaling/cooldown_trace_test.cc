// Replays a public HPA trace (min 2, max 6, target 50 % CPU; load rises to 800 % at 5m58s) to
// pin what the engine's windows and cooldowns mean. The trace came with a scale-up
// stabilization window of 300 s and a policy of 1 pod per 60 s, and Kubernetes moved 2 -> 3 at
// 11m and 3 -> 4 at 12m.
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "scaling/engine.h"
#include "test_inputs.h"

namespace ollamaflow::scaling {
namespace {

using Change = std::pair<int, int>;  // seconds since the start, agents after the action

// CPU percent of the target 50 % at `t` seconds: 50 % until 5m58s, 800 % until 8m01s, 750 %
// until 9m02s, then 800 %.
int load_percent(int t) {
  if (t < 358) {
    return 50;
  }
  if (t < 481) {
    return 800;
  }
  if (t < 542) {
    return 750;
  }
  return 800;
}

class CooldownTraceTest : public ::testing::Test {
 protected:
  CooldownTraceTest() : clock_(std::make_shared<FakeClock>()) {
    config_.gpu_scaling.min_agents = 2;
    config_.gpu_scaling.max_agents = 6;
  }

  // Runs 25 minutes of 15 s evaluations and returns every change of the agent count. The load
  // is fixed work: ceil(2 * load / 50) agents' worth, as the HPA rule computes it for the
  // starting two pods (32 at 800 %, capped at max 6).
  std::vector<Change> replay(const StrategyParams* params) {
    auto engine = ScalingEngine::create(clock_, config_).value();
    if (params != nullptr) {
      EXPECT_TRUE(engine->set_strategy_params(*params).is_ok());
    }
    std::vector<Change> changes;
    int agents = 2;
    for (int t = 0; t <= 1500; t += 15) {
      const int demand = (2 * load_percent(t) + 49) / 50;
      const Decision decision = engine->evaluate(test::pool(
          clock_->now(), agents, std::min(agents, demand), std::max(0, demand - agents)));
      if (decision.to != agents) {
        changes.emplace_back(t, decision.to);
        agents = decision.to;
      }
      clock_->advance(std::chrono::seconds(15));
    }
    return changes;
  }

  StrategyParams base_params() const { return strategy_params(Strategy::kHybrid, config_); }

  std::shared_ptr<FakeClock> clock_;
  Config config_;
};

TEST_F(CooldownTraceTest, RecommendationWindowMatchesKubernetes) {
  // up_window_s is a window over recommendations: scale-up follows the lowest recommendation of
  // the last 300 s, so the first step waits until the whole window shows the high load.
  StrategyParams params = base_params();
  params.up_window_s = 300;
  params.max_up_step = 1;
  params.up_cooldown_s = 60;
  params.breach_skips_up_cooldown = false;  // the Kubernetes HPA has no such rule
  params.down_window_s = 300;
  params.flip_cooldown_s = 0;
  const std::vector<Change> expected = {{660, 3}, {720, 4}, {780, 5}, {840, 6}};
  EXPECT_EQ(replay(&params), expected);
}

TEST_F(CooldownTraceTest, GapAfterActionSteps) {
  // up_cooldown_s is a gap after an action: the first step comes at the first evaluation that
  // reads the load (6m00s), each later one 300 s after the previous one.
  StrategyParams params = base_params();
  params.up_window_s = 0;
  params.max_up_step = 1;
  params.up_cooldown_s = 300;
  params.breach_skips_up_cooldown = false;
  const std::vector<Change> expected = {{360, 3}, {660, 4}, {960, 5}, {1260, 6}};
  EXPECT_EQ(replay(&params), expected);
}

TEST_F(CooldownTraceTest, HybridScalesUpAtOnce) {
  // The built-in strategies use no scale-up window and no step limit: one action covers the
  // demand at the first evaluation after the rise.
  const std::vector<Change> expected = {{360, 6}};
  EXPECT_EQ(replay(nullptr), expected);
}

TEST_F(CooldownTraceTest, ConservativeStepsByBatch) {
  config_.strategy = "CONSERVATIVE";
  // At most 3 agents per action and 120 s between scale-ups: 2 -> 5 at 6m00s, 5 -> 6 at 8m00s.
  const std::vector<Change> expected = {{360, 5}, {480, 6}};
  EXPECT_EQ(replay(nullptr), expected);
}

}  // namespace
}  // namespace ollamaflow::scaling
