#include "sim/baselines.h"

#include <gtest/gtest.h>

#include "sim/driver.h"

namespace ollamaflow::sim {
namespace {

class BaselinesTest : public ::testing::Test {
 protected:
  BaselinesTest() {
    settings_.config = default_scenario().config;
    settings_.clock = std::make_shared<FakeClock>();
  }

  // An observation with `ready` idle-or-busy agents and `load` tasks in the system.
  static Observation observe(double now, int agents, int ready, int load, int busy = -1) {
    Observation observation;
    observation.now_s = now;
    observation.agents = agents;
    observation.ready = ready;
    observation.starting = agents - ready;
    observation.busy = busy < 0 ? std::min(load, ready) : busy;
    observation.metrics.running_tasks = std::min(load, ready);
    observation.metrics.queue_length = load - observation.metrics.running_tasks;
    return observation;
  }

  PolicySettings settings_;
};

TEST_F(BaselinesTest, HpaHoldsWithinTolerance) {
  auto hpa = make_hpa(settings_);
  // 8 tasks on 10 agents at target 0.8 is a ratio of 1.0.
  Observation observation = observe(0, 10, 10, 8);
  EXPECT_FALSE(hpa->decide(observation).act);
  // 9 tasks is a ratio of 1.125, above the 10 % band.
  observation.metrics.running_tasks = 9;
  const PolicyDecision decision = hpa->decide(observation);
  EXPECT_TRUE(decision.act);
  EXPECT_EQ(decision.target, 12);
  EXPECT_TRUE(decision.recorded);
}

TEST_F(BaselinesTest, HpaScaleUpIsRateLimited) {
  auto hpa = make_hpa(settings_);
  EXPECT_EQ(hpa->decide(observe(0, 2, 2, 20)).target, 6);      // max(2 + 4, 2 * 2)
  EXPECT_EQ(hpa->decide(observe(15, 10, 10, 40)).target, 20);  // max(10 + 4, 2 * 10)
}

TEST_F(BaselinesTest, HpaScaleDownFollowsFiveMinuteMax) {
  auto hpa = make_hpa(settings_);
  hpa->decide(observe(0, 10, 10, 8));  // recommendation 10 (within the band)
  EXPECT_FALSE(hpa->decide(observe(15, 10, 10, 0)).act);
  EXPECT_FALSE(hpa->decide(observe(299, 10, 10, 0)).act);
  const PolicyDecision decision = hpa->decide(observe(301, 10, 10, 0));
  EXPECT_TRUE(decision.act);
  EXPECT_EQ(decision.target, 1);
}

TEST_F(BaselinesTest, HpaNeverScalesDownWithoutMetrics) {
  auto hpa = make_hpa(settings_);
  Observation observation = observe(400, 10, 10, 0);
  observation.metrics_stale = true;
  EXPECT_FALSE(hpa->decide(observation).act);
}

TEST_F(BaselinesTest, HpaCountsStartingAgentsWhenScalingUp) {
  auto hpa = make_hpa(settings_);
  // 6 tasks on 4 ready and 4 starting agents: 6 / (8 * 0.8) = 0.94, within the band.
  EXPECT_FALSE(hpa->decide(observe(0, 8, 4, 6)).act);
}

TEST_F(BaselinesTest, KnativePanicsAtTwiceTheReadyPods) {
  auto knative = make_knative(settings_);
  for (int t = 0; t < 60; t += 2) {
    knative->decide(observe(t, 4, 4, 2));
  }
  // The panic window's mean needs 8 or more agents for 4 ready: panic, and no decrease.
  const PolicyDecision surge = knative->decide(observe(60, 4, 4, 12));
  EXPECT_TRUE(surge.act);
  EXPECT_NE(surge.reason.find("panic"), std::string::npos);
  const PolicyDecision later = knative->decide(observe(70, 20, 20, 0));
  EXPECT_GE(later.target, 20);
}

TEST_F(BaselinesTest, KnativeBelowPanicThresholdStaysStable) {
  auto knative = make_knative(settings_);
  const PolicyDecision decision = knative->decide(observe(0, 4, 4, 4));  // 4 / 0.7 -> 6 < 2 * 4
  EXPECT_NE(decision.reason.find("stable"), std::string::npos);
}

TEST_F(BaselinesTest, KnativeHalvesAtMostPerTick) {
  auto knative = make_knative(settings_);
  const PolicyDecision decision = knative->decide(observe(0, 20, 20, 0));
  EXPECT_EQ(decision.target, 10);
}

TEST_F(BaselinesTest, RayWaitsThirtySecondsToScaleUp) {
  auto ray = make_ray(settings_);
  for (int t = 0; t < 29; ++t) {
    ASSERT_FALSE(ray->decide(observe(t, 2, 2, 6)).act) << t;
  }
  const PolicyDecision decision = ray->decide(observe(29, 2, 2, 6));
  EXPECT_TRUE(decision.act);
  EXPECT_EQ(decision.target, 6);
}

TEST_F(BaselinesTest, RayWaitsTenMinutesToScaleDown) {
  auto ray = make_ray(settings_);
  for (int t = 0; t < 599; ++t) {
    ASSERT_FALSE(ray->decide(observe(t, 6, 6, 2)).act) << t;
  }
  EXPECT_TRUE(ray->decide(observe(599, 6, 6, 2)).act);
}

TEST_F(BaselinesTest, RayDirectionChangeResetsTheDelay) {
  auto ray = make_ray(settings_);
  for (int t = 0; t < 20; ++t) {
    ray->decide(observe(t, 2, 2, 6));
  }
  // Ten seconds later the load is gone, the look-back mean falls, and the counter restarts.
  for (int t = 20; t < 60; ++t) {
    ray->decide(observe(t, 2, 2, 0));
  }
  for (int t = 60; t < 89; ++t) {
    ASSERT_FALSE(ray->decide(observe(t, 2, 2, 6)).act) << t;
  }
}

TEST_F(BaselinesTest, OriginScalesUpOnLongQueue) {
  auto origin = make_python_origin(settings_);
  PolicyDecision decision;
  for (int call = 0; call < 4; ++call) {
    decision = origin->decide(observe(call * 5, 4, 4, 15, 4));  // queue 11 > 10
  }
  EXPECT_TRUE(decision.act);
  EXPECT_EQ(decision.target, 5);
}

TEST_F(BaselinesTest, OriginHoldsAtQueueTen) {
  auto origin = make_python_origin(settings_);
  PolicyDecision decision;
  for (int call = 0; call < 4; ++call) {
    // Queue 10, no idle agent: severity high, but neither queue > 10 nor wait > 30 s.
    decision = origin->decide(observe(call * 5, 4, 4, 14, 4));
  }
  EXPECT_FALSE(decision.act);
}

TEST_F(BaselinesTest, OriginStopsAtEightAgents) {
  auto origin = make_python_origin(settings_);
  PolicyDecision decision;
  for (int call = 0; call < 4; ++call) {
    decision = origin->decide(observe(call * 5, 8, 8, 30, 8));
  }
  EXPECT_FALSE(decision.act);
}

TEST_F(BaselinesTest, OriginScalesDownWhenIdle) {
  auto origin = make_python_origin(settings_);
  PolicyDecision decision;
  for (int call = 0; call < 8; ++call) {
    decision = origin->decide(observe(call * 5, 4, 4, 0, 0));
  }
  EXPECT_TRUE(decision.act);
  EXPECT_EQ(decision.target, 3);
}

TEST_F(BaselinesTest, FixedPoolNeverActs) {
  auto fixed = make_fixed(settings_, 7);
  EXPECT_EQ(fixed->initial_agents(), 7);
  EXPECT_FALSE(fixed->decide(observe(0, 7, 7, 40)).act);
}

TEST_F(BaselinesTest, OracleStartsIncreasesEarly) {
  settings_.startup_s = 10;
  auto oracle = make_oracle(settings_, {2, 8}, 300);
  EXPECT_EQ(oracle->initial_agents(), 2);
  // The model is resident, so all 6 agents start together: one start-up time + 1 s before the
  // block.
  EXPECT_FALSE(oracle->decide(observe(288.9, 2, 2, 0)).act);
  const PolicyDecision decision = oracle->decide(observe(289, 2, 2, 0));
  EXPECT_TRUE(decision.act);
  EXPECT_EQ(decision.target, 8);
}

}  // namespace
}  // namespace ollamaflow::sim
