#include "scaling/engine.h"

#include <gtest/gtest.h>

#include "test_inputs.h"

namespace ollamaflow::scaling {
namespace {

using std::chrono::seconds;

class ScalingEngineTest : public ::testing::Test {
 protected:
  ScalingEngineTest() : clock_(std::make_shared<FakeClock>()) {}

  ScalingEngine& engine() {
    if (!engine_) {
      engine_ = ScalingEngine::create(clock_, config_).value();
    }
    return *engine_;
  }

  // Turns the drop rule off, for tests of the window, band and step rules that it would skip.
  void without_drop_rule() {
    StrategyParams params = engine().strategy_params();
    params.drop_window_s = 0;
    ASSERT_TRUE(engine().set_strategy_params(params));
  }

  // Evaluates the same pool `count` times, one check interval (15 s) apart.
  void evaluate_repeatedly(int count, int agents, int busy, int ceiling) {
    for (int i = 0; i < count; ++i) {
      engine().evaluate(inputs(agents, busy, 0, ceiling));
      advance(15);
    }
  }

  MonoTime now() const { return clock_->now(); }
  void advance(double s) { clock_->advance(from_seconds(s)); }

  // A pool with a GPU at 33 % memory and 50 C and a ceiling of `ceiling` agents.
  EngineInputs inputs(int agents, int busy, int queued, int ceiling = 8) const {
    EngineInputs result = test::pool(now(), agents, busy, queued);
    result.gpu = test::gpu(now(), 8000, 24000);
    result.capacity = test::capacity(now(), ceiling);
    return result;
  }

  std::shared_ptr<FakeClock> clock_;
  Config config_;
  std::unique_ptr<ScalingEngine> engine_;
};

TEST_F(ScalingEngineTest, BurstScalesUpAtOnce) {
  const Decision decision = engine().evaluate(inputs(1, 1, 5));
  EXPECT_EQ(decision.id, 1u);
  EXPECT_EQ(decision.strategy, Strategy::kHybrid);
  EXPECT_EQ(decision.action, Action::kScaleUp);
  EXPECT_EQ(decision.from, 1);
  EXPECT_EQ(decision.to, 6);
  EXPECT_EQ(decision.at, now());
  EXPECT_EQ(decision.inputs.agents, 1);
  EXPECT_EQ(decision.recommendation.current, 1);
  EXPECT_EQ(decision.recommendation.proposed, 6);
  EXPECT_EQ(decision.recommendation.desired, 6);
  EXPECT_EQ(decision.recommendation.limit, "none");
  EXPECT_TRUE(decision.recommendation.missing.empty());
  EXPECT_EQ(decision.reason.rfind("desired 6 of 1 (limit none)", 0), 0u) << decision.reason;
  // The event's reason carries the sizing itself, so the journal explains the count.
  EXPECT_NE(decision.reason.find("; workload: demand 6 (busy 1 + queued 5 needing agents)"),
            std::string::npos)
      << decision.reason;

  const std::vector<ScalingEvent> events = engine().events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].decision_id, 1u);
  EXPECT_EQ(events[0].action, Action::kScaleUp);
  EXPECT_EQ(events[0].from, 1);
  EXPECT_EQ(events[0].to, 6);
  EXPECT_EQ(events[0].strategy, Strategy::kHybrid);
  EXPECT_EQ(events[0].reason, decision.reason);
  EXPECT_EQ(events[0].gpu_memory_used_mib, 8000);
  ASSERT_TRUE(events[0].gpu_memory_fraction.has_value());
  EXPECT_NEAR(*events[0].gpu_memory_fraction, 1.0 / 3.0, 1e-9);
  EXPECT_FALSE(events[0].gpu_utilization.has_value());
  EXPECT_EQ(events[0].queue_length, 5);
  EXPECT_EQ(events[0].outcome, Outcome::kPending);
  EXPECT_FALSE(events[0].duration_s.has_value());
  EXPECT_EQ(events[0].time, clock_->wall_now());
}

TEST_F(ScalingEngineTest, StartingAgentsCountAsCapacity) {
  ASSERT_EQ(engine().evaluate(inputs(1, 1, 5)).to, 6);
  advance(15);
  EngineInputs next = inputs(6, 1, 5);
  next.starting_agents = 5;
  next.workload.idle_agents = 0;
  next.workload.starting_agents = 5;
  const Decision decision = engine().evaluate(next);
  EXPECT_EQ(decision.action, Action::kNone);
  EXPECT_EQ(decision.to, 6);
  EXPECT_EQ(engine().events().size(), 1u);
}

TEST_F(ScalingEngineTest, ScaleUpCooldownProbe) {
  ASSERT_EQ(engine().evaluate(inputs(1, 1, 2)).to, 3);
  advance(59.9);
  // 5.5 busy agents on average over the short window need 6, but the empty queue meets the wait
  // target, so the cooldown applies.
  EngineInputs next = inputs(3, 3, 0);
  next.workload.busy_agents_mean = 5.5;
  Decision decision = engine().evaluate(next);
  EXPECT_FALSE(decision.recommendation.wait_breached);
  EXPECT_EQ(decision.action, Action::kHold);
  EXPECT_EQ(decision.to, 3);
  EXPECT_NE(decision.reason.find("scale-up cooldown: 60 s since the last scale-up < 60 s"),
            std::string::npos)
      << decision.reason;
  advance(0.1);
  decision = engine().evaluate(next);
  EXPECT_EQ(decision.action, Action::kScaleUp);
  EXPECT_EQ(decision.to, 6);
}

TEST_F(ScalingEngineTest, BreachSkipsScaleUpCooldown) {
  ASSERT_EQ(engine().evaluate(inputs(1, 1, 2)).to, 3);
  advance(1);
  // 3 busy and 3 queued on 3 agents: demand 6 breaches the wait target.
  const Decision decision = engine().evaluate(inputs(3, 3, 3));
  EXPECT_TRUE(decision.recommendation.wait_breached);
  EXPECT_EQ(decision.action, Action::kScaleUp);
  EXPECT_EQ(decision.to, 6);
  EXPECT_NE(decision.reason.find("scale-up cooldown skipped at 1 s: wait target breached"),
            std::string::npos)
      << decision.reason;
}

TEST_F(ScalingEngineTest, QueueWithinPoolKeepsCooldown) {
  ASSERT_EQ(engine().evaluate(inputs(1, 1, 2)).to, 3);
  advance(1);
  // 2 busy and 1 queued on 3 agents: demand 3 fits the pool, and the busy mean proposes 4.
  EngineInputs next = inputs(3, 2, 1);
  next.workload.busy_agents_mean = 3.5;
  const Decision decision = engine().evaluate(next);
  EXPECT_FALSE(decision.recommendation.wait_breached);
  EXPECT_EQ(decision.recommendation.desired, 4);
  EXPECT_EQ(decision.action, Action::kHold);
}

TEST_F(ScalingEngineTest, BreachSkipsFlipCooldown) {
  without_drop_rule();
  ASSERT_EQ(engine().evaluate(inputs(6, 0, 0)).action, Action::kHold);
  advance(120);
  ASSERT_EQ(engine().evaluate(inputs(6, 0, 0)).to, 3);  // floor(6 * 0.5) agents per step
  advance(29);
  // 3 busy and 3 queued breach the wait target 29 s after the scale-down: waiting tasks matter
  // more than cooldown_period, so the pool grows at once.
  const Decision decision = engine().evaluate(inputs(3, 3, 3));
  EXPECT_TRUE(decision.recommendation.wait_breached);
  EXPECT_EQ(decision.action, Action::kScaleUp);
  EXPECT_EQ(decision.to, 6);
  EXPECT_NE(decision.reason.find("cooldown after the scale-down skipped at 29 s: wait target "
                                 "breached"),
            std::string::npos)
      << decision.reason;
}

TEST_F(ScalingEngineTest, NoBreachKeepsFlipCooldown) {
  without_drop_rule();
  ASSERT_EQ(engine().evaluate(inputs(6, 0, 0)).action, Action::kHold);
  advance(120);
  ASSERT_EQ(engine().evaluate(inputs(6, 0, 0)).to, 3);
  advance(29);
  // 3 busy on 3 agents with a busy mean of 4.5: the utilization proposes 5, nothing waits.
  EngineInputs next = inputs(3, 3, 0);
  next.workload.busy_agents_mean = 4.5;
  Decision decision = engine().evaluate(next);
  EXPECT_FALSE(decision.recommendation.wait_breached);
  EXPECT_EQ(decision.action, Action::kHold);
  EXPECT_NE(decision.reason.find("cooldown: 29 s since the last scale-down < 30 s"),
            std::string::npos)
      << decision.reason;
  advance(1);
  decision = engine().evaluate(next);
  EXPECT_EQ(decision.action, Action::kScaleUp);
  EXPECT_EQ(decision.to, 5);
}

TEST_F(ScalingEngineTest, ConservativeKeepsCooldownOnBreach) {
  config_.strategy = "CONSERVATIVE";
  ASSERT_EQ(engine().evaluate(inputs(1, 1, 2)).to, 3);
  advance(1);
  const Decision decision = engine().evaluate(inputs(3, 3, 3));
  EXPECT_TRUE(decision.recommendation.wait_breached);
  EXPECT_EQ(decision.action, Action::kHold);
  EXPECT_NE(decision.reason.find("scale-up cooldown: 1 s since the last scale-up < 120 s"),
            std::string::npos)
      << decision.reason;
}

TEST_F(ScalingEngineTest, ScaleDownWaitsForFullWindow) {
  config_.gpu_scaling.min_agents = 1;
  without_drop_rule();
  Decision decision = engine().evaluate(inputs(6, 0, 0));
  EXPECT_EQ(decision.action, Action::kHold);
  EXPECT_EQ(decision.reason, "hold window: 0 s of 120 s observed");
  advance(119.9);
  EXPECT_EQ(engine().evaluate(inputs(6, 0, 0)).action, Action::kHold);
  advance(0.1);
  decision = engine().evaluate(inputs(6, 0, 0));
  EXPECT_EQ(decision.action, Action::kScaleDown);
  EXPECT_EQ(decision.to, 3);  // one step: max(1, floor(6 * 0.5))
}

TEST_F(ScalingEngineTest, HoldWindowMaxBlocksScaleDown) {
  without_drop_rule();
  for (int i = 0; i < 9; ++i) {
    engine().evaluate(inputs(6, 6, 0));
    advance(15);
  }
  // Demand fell to 2 at t = 135 s. The last recommendation of 6 (t = 120 s) leaves the 120 s
  // window at t = 255 s, and then the pool shrinks by half per scale-down interval (15 s).
  std::vector<int> series;
  int agents = 6;
  for (int i = 0; i < 12; ++i) {
    const Decision decision = engine().evaluate(inputs(agents, 2, 0));
    agents = decision.to;
    series.push_back(agents);
    advance(15);
  }
  const std::vector<int> expected = {6, 6, 6, 6, 6, 6, 6, 6, 3, 2, 2, 2};
  EXPECT_EQ(series, expected);
}

TEST_F(ScalingEngineTest, ScaleDownStepIsBounded) {
  config_.gpu_scaling.max_agents = 20;
  without_drop_rule();
  advance(0);
  engine().evaluate(inputs(20, 0, 0, 20));
  advance(120);
  const Decision decision = engine().evaluate(inputs(20, 0, 0, 20));
  EXPECT_EQ(decision.action, Action::kScaleDown);
  EXPECT_EQ(decision.to, 10);  // floor(20 * 0.5) = 10 agents per step
}

TEST_F(ScalingEngineTest, ToleranceBandHoldsSmallExcess) {
  config_.gpu_scaling.max_agents = 20;
  for (int i = 0; i < 9; ++i) {
    engine().evaluate(inputs(10, 8, 0, 20));
    advance(15);
  }
  // The window max is 8 on a pool of 10: 2 agents over, within 30 % of 10 (3 agents).
  Decision decision = engine().evaluate(inputs(10, 7, 0, 20));
  EXPECT_EQ(decision.action, Action::kHold);
  EXPECT_NE(decision.reason.find("hold window: max recommendation 8 over 120 s"), std::string::npos)
      << decision.reason;

  // Once the window max is 6, the excess of 4 leaves the band.
  for (int i = 0; i < 9; ++i) {
    advance(15);
    decision = engine().evaluate(inputs(10, 6, 0, 20));
  }
  EXPECT_EQ(decision.action, Action::kScaleDown);
  EXPECT_EQ(decision.to, 6);
}

TEST_F(ScalingEngineTest, ScaleDownIntervalSpacesSteps) {
  config_.gpu_scaling.max_agents = 20;
  without_drop_rule();
  engine().evaluate(inputs(20, 0, 0, 20));
  advance(120);
  ASSERT_EQ(engine().evaluate(inputs(20, 0, 0, 20)).to, 10);
  // Evaluations after arrivals come sooner than the check interval: each waits for 15 s.
  advance(14.9);
  Decision decision = engine().evaluate(inputs(10, 0, 0, 20));
  EXPECT_EQ(decision.action, Action::kHold);
  EXPECT_NE(decision.reason.find("scale-down interval: 15 s since the last scale-down < 15 s"),
            std::string::npos)
      << decision.reason;
  advance(0.1);
  decision = engine().evaluate(inputs(10, 0, 0, 20));
  EXPECT_EQ(decision.action, Action::kScaleDown);
  EXPECT_EQ(decision.to, 5);
}

TEST_F(ScalingEngineTest, DeepDropScalesDownAtOnce) {
  config_.gpu_scaling.max_agents = 20;
  evaluate_repeatedly(9, 20, 20, 20);
  // Demand falls to 3 busy agents at t = 135 s. Once the recommendations of the last 30 s are
  // all 3 (at most 40 % of 20), the pool goes to 3 in one action, 30 s after the fall instead of
  // the 120 s window and three halving steps.
  std::vector<int> series;
  int agents = 20;
  Decision decision;
  for (int i = 0; i < 4; ++i) {
    decision = engine().evaluate(inputs(agents, 3, 0, 20));
    agents = decision.to;
    series.push_back(agents);
    advance(15);
  }
  const std::vector<int> expected = {20, 20, 3, 3};
  EXPECT_EQ(series, expected);
  const std::vector<ScalingEvent> events = engine().events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].action, Action::kScaleDown);
  EXPECT_EQ(events[0].reason.rfind("load dropped, max recommendation 3 over 30 s is at most 40 % "
                                   "of the pool",
                                   0),
            0u)
      << events[0].reason;
}

TEST_F(ScalingEngineTest, ShallowDropWaitsForWindow) {
  config_.gpu_scaling.max_agents = 20;
  evaluate_repeatedly(9, 20, 20, 20);
  // 9 of 20 is above 40 % of the pool, so the 120 s window applies.
  for (int i = 0; i < 8; ++i) {
    const Decision decision = engine().evaluate(inputs(20, 9, 0, 20));
    EXPECT_EQ(decision.action, Action::kHold) << "evaluation " << i;
    advance(15);
  }
  const Decision decision = engine().evaluate(inputs(20, 9, 0, 20));
  EXPECT_EQ(decision.action, Action::kScaleDown);
  EXPECT_EQ(decision.to, 10);  // one halving step
}

TEST_F(ScalingEngineTest, DropAfterRecentScaleUpWaits) {
  config_.gpu_scaling.max_agents = 20;
  evaluate_repeatedly(9, 10, 10, 20);
  ASSERT_EQ(engine().evaluate(inputs(10, 10, 10, 20)).to, 20);
  // 60 s later the load is gone, but a scale-up within 120 s means the load was rising: the
  // drop may be noise, so the window applies.
  advance(60);
  Decision decision = engine().evaluate(inputs(20, 1, 0, 20));
  advance(15);
  decision = engine().evaluate(inputs(20, 1, 0, 20));
  advance(15);
  decision = engine().evaluate(inputs(20, 1, 0, 20));
  EXPECT_EQ(decision.action, Action::kHold);
  EXPECT_NE(decision.reason.find("hold window: max recommendation 20 over 120 s"),
            std::string::npos)
      << decision.reason;
  // 120 s after the scale-up, the last 30 s asked for 1 agent: the drop rule applies.
  advance(30);
  decision = engine().evaluate(inputs(20, 1, 0, 20));
  EXPECT_EQ(decision.action, Action::kScaleDown);
  EXPECT_EQ(decision.to, 1);
}

TEST_F(ScalingEngineTest, ConservativeHasNoDropRule) {
  config_.strategy = "CONSERVATIVE";
  config_.gpu_scaling.max_agents = 20;
  evaluate_repeatedly(21, 20, 20, 20);
  for (int i = 0; i < 4; ++i) {
    const Decision decision = engine().evaluate(inputs(20, 1, 0, 20));
    EXPECT_EQ(decision.action, Action::kHold) << "evaluation " << i;
    advance(15);
  }
}

TEST_F(ScalingEngineTest, GpuMemoryBasedHasNoDropRule) {
  config_.strategy = "GPU_MEMORY_BASED";
  config_.gpu_scaling.max_agents = 20;
  evaluate_repeatedly(9, 20, 20, 20);
  // No work and memory below the down threshold propose min_agents, but a pause between tasks
  // is the memory proposal's normal noise, so the 120 s window applies.
  for (int i = 0; i < 4; ++i) {
    const Decision decision = engine().evaluate(inputs(20, 0, 0, 20));
    EXPECT_EQ(decision.action, Action::kHold) << "evaluation " << i;
    advance(15);
  }
}

TEST_F(ScalingEngineTest, FlipCooldownAfterScaleUp) {
  ASSERT_EQ(engine().evaluate(inputs(1, 1, 0)).action, Action::kNone);
  advance(120);
  ASSERT_EQ(engine().evaluate(inputs(1, 1, 3)).to, 4);
  advance(29);
  // The ceiling drops below the pool: a scale-down, but 29 s < cooldown_period 30 s.
  Decision decision = engine().evaluate(inputs(4, 1, 0, 2));
  EXPECT_EQ(decision.action, Action::kHold);
  EXPECT_NE(decision.reason.find("cooldown: 29 s since the last scale-up < 30 s"),
            std::string::npos)
      << decision.reason;
  advance(1);
  decision = engine().evaluate(inputs(4, 1, 0, 2));
  EXPECT_EQ(decision.action, Action::kScaleDown);
  EXPECT_EQ(decision.to, 2);
}

TEST_F(ScalingEngineTest, GpuMemoryDropGoesToCeilingAtOnce) {
  engine().evaluate(inputs(6, 6, 0));
  advance(15);
  const Decision decision = engine().evaluate(inputs(6, 6, 0, 4));
  EXPECT_EQ(decision.action, Action::kScaleDown);
  EXPECT_EQ(decision.to, 4);
  EXPECT_EQ(decision.recommendation.limit, "gpu_ceiling");
  EXPECT_TRUE(decision.recommendation.ceiling_bound);
  EXPECT_NE(decision.reason.find("memory ceiling below the pool"), std::string::npos);
}

TEST_F(ScalingEngineTest, MissingMetricBlocksScaleDownOnly) {
  engine().evaluate(inputs(6, 0, 0));
  advance(150);
  EngineInputs stale = inputs(6, 0, 0);
  stale.capacity->sampled_at = now() - seconds(46);
  Decision decision = engine().evaluate(stale);
  EXPECT_EQ(decision.action, Action::kHold);
  EXPECT_EQ(decision.reason, "no scale-down while a metric is missing (capacity)");
  ASSERT_EQ(decision.recommendation.missing.size(), 1u);

  advance(15);
  stale = inputs(6, 6, 2);
  stale.capacity->sampled_at = now() - seconds(46);
  decision = engine().evaluate(stale);
  EXPECT_EQ(decision.action, Action::kScaleUp);
  EXPECT_EQ(decision.to, 8);
}

TEST_F(ScalingEngineTest, StaleWorkloadNeverScalesDown) {
  engine().evaluate(inputs(6, 0, 0));
  for (int i = 0; i < 20; ++i) {
    advance(15);
    EngineInputs stale = inputs(6, 0, 0);
    stale.workload.sampled_at = now() - seconds(60);
    const Decision decision = engine().evaluate(stale);
    EXPECT_NE(decision.action, Action::kScaleDown) << "evaluation " << i;
    EXPECT_EQ(decision.to, 6) << "evaluation " << i;
  }
}

TEST_F(ScalingEngineTest, TemperatureSpikeHoldsThenSheds) {
  EngineInputs hot = inputs(4, 4, 4);
  hot.gpu->temperature_c = 75;
  Decision decision = engine().evaluate(hot);
  EXPECT_EQ(decision.action, Action::kHold);
  EXPECT_EQ(decision.to, 4);
  EXPECT_EQ(decision.recommendation.limit, "temperature_warning");

  advance(15);
  hot.gpu->temperature_c = 85;
  hot.gpu->sampled_at = hot.workload.sampled_at = hot.capacity->sampled_at = now();
  decision = engine().evaluate(hot);
  EXPECT_EQ(decision.action, Action::kShed);
  EXPECT_EQ(decision.from, 4);
  EXPECT_EQ(decision.to, 3);
  EXPECT_EQ(decision.reason, "temperature_critical: shed 4 -> 3");

  advance(15);  // 15 s < cooldown_period 30 s between sheds
  hot = inputs(3, 3, 4);
  hot.gpu->temperature_c = 86;
  decision = engine().evaluate(hot);
  EXPECT_EQ(decision.action, Action::kHold);
  EXPECT_EQ(decision.to, 3);

  advance(15);
  hot = inputs(3, 3, 4);
  hot.gpu->temperature_c = 95;
  decision = engine().evaluate(hot);
  EXPECT_EQ(decision.action, Action::kShed);
  EXPECT_EQ(decision.to, 1);  // emergency halves: max(1, 3 / 2)

  const std::vector<ScalingEvent> events = engine().events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].action, Action::kShed);
  EXPECT_EQ(events[1].action, Action::kShed);
}

TEST_F(ScalingEngineTest, ShedIgnoresMissingMetric) {
  EngineInputs hot = inputs(4, 4, 0);
  hot.gpu->temperature_c = 90;
  hot.workload.sampled_at = now() - seconds(100);
  EXPECT_EQ(engine().evaluate(hot).action, Action::kShed);
}

TEST_F(ScalingEngineTest, MaxAgentsReachedIsHold) {
  const Decision decision = engine().evaluate(inputs(8, 8, 4));
  EXPECT_EQ(decision.action, Action::kHold);
  EXPECT_EQ(decision.recommendation.limit, "max_agents");
  EXPECT_NE(decision.reason.find("held at 8 by max_agents: proposed 12"), std::string::npos)
      << decision.reason;
}

TEST_F(ScalingEngineTest, AggressiveAddsBatches) {
  config_.strategy = "AGGRESSIVE";
  const Decision decision = engine().evaluate(inputs(1, 1, 1));
  // Demand 2 plus 1 spare is 3: +2 agents, rounded up to one batch of 3.
  EXPECT_EQ(decision.recommendation.desired, 3);
  EXPECT_EQ(decision.to, 4);
  EXPECT_EQ(decision.reason.rfind("desired 3 of 1", 0), 0u) << decision.reason;
  EXPECT_NE(decision.reason.find("(rounded up to batches of 3)"), std::string::npos)
      << decision.reason;
}

TEST_F(ScalingEngineTest, AggressiveBatchStopsAtUpperBound) {
  config_.strategy = "AGGRESSIVE";
  const Decision decision = engine().evaluate(inputs(6, 6, 1));
  EXPECT_EQ(decision.to, 8);  // a batch would give 9; max_agents is 8
}

TEST_F(ScalingEngineTest, ConservativeLimitsUpStep) {
  config_.strategy = "CONSERVATIVE";
  config_.gpu_scaling.max_agents = 16;
  const Decision decision = engine().evaluate(inputs(1, 1, 10, 16));
  EXPECT_EQ(decision.to, 4);  // at most batch_creation_size = 3 per action
  EXPECT_EQ(decision.reason.rfind("desired", 0), 0u) << decision.reason;
  EXPECT_NE(decision.reason.find("(at most 3 agents per scale-up)"), std::string::npos)
      << decision.reason;
}

TEST_F(ScalingEngineTest, DryRunLogMatchesRealRun) {
  Config dry_config = config_;
  dry_config.dry_run = true;
  auto real = ScalingEngine::create(clock_, config_).value();
  auto dry = ScalingEngine::create(clock_, dry_config).value();
  const EngineInputs series[] = {inputs(1, 1, 5), inputs(6, 6, 0), inputs(6, 2, 0), inputs(6, 0, 0),
                                 inputs(6, 0, 0, 3)};
  for (const EngineInputs& step : series) {
    for (int repeat = 0; repeat < 5; ++repeat) {
      EngineInputs fresh = step;
      fresh.workload.sampled_at = fresh.gpu->sampled_at = fresh.capacity->sampled_at = now();
      EXPECT_EQ(real->evaluate(fresh).to_json(), dry->evaluate(fresh).to_json());
      advance(15);
    }
  }
  const std::vector<ScalingEvent> real_events = real->events();
  const std::vector<ScalingEvent> dry_events = dry->events();
  ASSERT_EQ(real_events.size(), dry_events.size());
  ASSERT_FALSE(dry_events.empty());
  for (const ScalingEvent& event : dry_events) {
    EXPECT_EQ(event.outcome, Outcome::kDryRun);
  }
  EXPECT_EQ(dry->record_outcome(dry_events[0].decision_id, true, seconds(1)).code(),
            ErrorCode::kConflict);
  EXPECT_TRUE(dry->get_scaling_status().dry_run);
}

TEST_F(ScalingEngineTest, RecordOutcomeUpdatesEventAndNotifies) {
  std::vector<ScalingEvent> notified;
  engine().set_callbacks([&](const ScalingEvent& event) { notified.push_back(event); });
  const Decision decision = engine().evaluate(inputs(1, 1, 2));
  ASSERT_EQ(notified.size(), 1u);
  EXPECT_EQ(notified[0].outcome, Outcome::kPending);

  ASSERT_TRUE(engine().record_outcome(decision.id, true, std::chrono::milliseconds(2500)).is_ok());
  ASSERT_EQ(notified.size(), 2u);
  EXPECT_EQ(notified[1].outcome, Outcome::kSucceeded);
  EXPECT_EQ(notified[1].duration_s, 2.5);
  EXPECT_EQ(engine().events()[0].outcome, Outcome::kSucceeded);

  const Status unknown = engine().record_outcome(999, false, seconds(1));
  EXPECT_EQ(unknown.code(), ErrorCode::kNotFound);
  EXPECT_NE(unknown.message().find("999"), std::string::npos);
}

TEST_F(ScalingEngineTest, FailedOutcomeIsRecorded) {
  const Decision decision = engine().evaluate(inputs(1, 1, 2));
  ASSERT_TRUE(engine().record_outcome(decision.id, false, seconds(30)).is_ok());
  EXPECT_EQ(engine().events()[0].outcome, Outcome::kFailed);
  EXPECT_EQ(engine().events()[0].to_json()["outcome"], "failed");
}

TEST_F(ScalingEngineTest, HoldsCreateNoEvents) {
  std::vector<ScalingEvent> notified;
  engine().set_callbacks([&](const ScalingEvent& event) { notified.push_back(event); });
  engine().evaluate(inputs(6, 0, 0));
  engine().evaluate(inputs(6, 6, 0));
  EXPECT_TRUE(notified.empty());
  EXPECT_TRUE(engine().events().empty());
  EXPECT_EQ(engine().recent_decisions().size(), 2u);
}

TEST_F(ScalingEngineTest, EventHistoryIsBounded) {
  for (size_t i = 0; i < ScalingEngine::kMaxEvents + 10; ++i) {
    EngineInputs hot = inputs(4, 4, 0);
    hot.gpu->temperature_c = 90;
    engine().evaluate(hot);
    advance(30);
  }
  const std::vector<ScalingEvent> events = engine().events();
  EXPECT_EQ(events.size(), ScalingEngine::kMaxEvents);
  EXPECT_EQ(events.front().decision_id, 11u);
  EXPECT_EQ(engine().recent_decisions().size(), ScalingEngine::kMaxDecisions);
}

TEST_F(ScalingEngineTest, StatusReportsLastDecision) {
  config_.profile = "testing";
  EXPECT_FALSE(engine().get_scaling_status().last_decision.has_value());
  engine().evaluate(inputs(1, 1, 2));
  const ScalingStatus status = engine().get_scaling_status();
  EXPECT_EQ(status.strategy, Strategy::kHybrid);
  EXPECT_EQ(status.profile, "testing");
  EXPECT_EQ(status.active_agents, 1);
  EXPECT_EQ(status.min_agents, 1);
  EXPECT_EQ(status.max_agents, 8);
  EXPECT_DOUBLE_EQ(status.check_interval_s, 15);
  EXPECT_FALSE(status.dry_run);
  EXPECT_EQ(status.evaluations, 1u);
  ASSERT_TRUE(status.last_decision.has_value());
  EXPECT_EQ(status.last_decision->to, 3);
  ASSERT_EQ(status.recent_events.size(), 1u);
  const nlohmann::json json = status.to_json();
  EXPECT_EQ(json["strategy"], "HYBRID");
  EXPECT_EQ(json["last_decision"]["action"], "scale_up");
  EXPECT_EQ(json["recent_events"][0]["outcome"], "pending");
}

TEST_F(ScalingEngineTest, RecommendationsCombineSignals) {
  EXPECT_EQ(engine().get_recommendations().status().code(), ErrorCode::kNotFound);
  engine().evaluate(inputs(1, 1, 9, 6));
  const Recommendation rec = engine().get_recommendations().value();
  EXPECT_EQ(rec.current, 1);
  EXPECT_EQ(rec.proposed, 10);
  EXPECT_EQ(rec.desired, 6);
  EXPECT_EQ(rec.limit, "gpu_ceiling");
  EXPECT_EQ(rec.proposals.size(), 3u);
  EXPECT_EQ(engine().get_scaling_status().evaluations, 1u);  // no state change
}

TEST_F(ScalingEngineTest, UpdateStrategyAtRunTime) {
  engine().evaluate(inputs(1, 1, 0));
  ASSERT_TRUE(engine().update_strategy("workload_based").is_ok());
  EXPECT_EQ(engine().get_scaling_status().strategy, Strategy::kWorkloadBased);
  const Decision decision = engine().evaluate(inputs(1, 1, 9, 4));
  EXPECT_EQ(decision.strategy, Strategy::kWorkloadBased);
  EXPECT_EQ(decision.to, 8);  // the memory ceiling of 4 does not apply

  const Status invalid = engine().update_strategy("sideways");
  EXPECT_EQ(invalid.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(engine().get_scaling_status().strategy, Strategy::kWorkloadBased);
}

TEST_F(ScalingEngineTest, UseProfileByName) {
  ASSERT_TRUE(engine().use_profile("development").is_ok());
  const ScalingStatus status = engine().get_scaling_status();
  EXPECT_EQ(status.strategy, Strategy::kAggressive);
  EXPECT_EQ(status.profile, "development");
  EXPECT_DOUBLE_EQ(status.check_interval_s, 10);
  EXPECT_DOUBLE_EQ(engine().strategy_params().up_cooldown_s, 7.5);  // half of 15 s
  EXPECT_EQ(engine().use_profile("staging").code(), ErrorCode::kInvalidArgument);
}

TEST_F(ScalingEngineTest, CreateRejectsBadConfig) {
  config_.strategy = "FASTEST";
  EXPECT_EQ(ScalingEngine::create(clock_, config_).status().code(), ErrorCode::kInvalidArgument);
  config_.strategy = "HYBRID";
  config_.gpu_scaling.scale_down_threshold = 0.9;
  const auto engine = ScalingEngine::create(clock_, config_);
  ASSERT_FALSE(engine.is_ok());
  EXPECT_NE(engine.status().message().find("scale_down_threshold"), std::string::npos);
}

TEST_F(ScalingEngineTest, SetStrategyParamsValidates) {
  StrategyParams params = engine().strategy_params();
  params.batch_size = 0;
  EXPECT_EQ(engine().set_strategy_params(params).code(), ErrorCode::kInvalidArgument);
  params.batch_size = 2;
  EXPECT_TRUE(engine().set_strategy_params(params).is_ok());
  EXPECT_EQ(engine().strategy_params().batch_size, 2);
}

TEST_F(ScalingEngineTest, DecisionJsonFields) {
  const nlohmann::json json = engine().evaluate(inputs(1, 1, 5)).to_json();
  EXPECT_EQ(json["id"], 1);
  EXPECT_EQ(json["time"], "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(json["strategy"], "HYBRID");
  EXPECT_EQ(json["action"], "scale_up");
  EXPECT_EQ(json["from"], 1);
  EXPECT_EQ(json["to"], 6);
  EXPECT_EQ(json["inputs"]["agents"], 1);
  EXPECT_EQ(json["inputs"]["workload"]["queue_length"], 5);
  EXPECT_EQ(json["inputs"]["gpu"]["used_mib"], 8000.0);
  EXPECT_TRUE(json["inputs"]["gpu"]["utilization"].is_null());
  EXPECT_EQ(json["inputs"]["capacity"]["slot_ceiling"], 8);
  EXPECT_EQ(json["recommendation"]["desired"], 6);
  EXPECT_EQ(json["recommendation"]["limit"], "none");
  EXPECT_EQ(json["recommendation"]["wait_breached"], true);  // 5 queued on 1 agent
  EXPECT_TRUE(json["reason"].is_string());
}

TEST_F(ScalingEngineTest, DecisionRecordsServerSlots) {
  EngineInputs fresh = inputs(1, 1, 7);
  fresh.capacity->server_slots = 3;
  fresh.capacity->server_slots_source = "llama-server at http://127.0.0.1:8080";
  fresh.capacity->server_busy_slots = 1;
  fresh.capacity->server_queued_requests = 0;
  const Decision decision = engine().evaluate(fresh);
  EXPECT_EQ(decision.action, Action::kScaleUp);
  EXPECT_EQ(decision.to, 3);
  EXPECT_NE(decision.reason.find("more agents would only queue inside the server"),
            std::string::npos)
      << decision.reason;
  const nlohmann::json json = decision.to_json();
  const nlohmann::json& capacity = json["inputs"]["capacity"];
  EXPECT_EQ(capacity["server_slots"], 3);
  EXPECT_EQ(capacity["server_slots_source"], "llama-server at http://127.0.0.1:8080");
  EXPECT_EQ(capacity["server_busy_slots"], 1);
  EXPECT_EQ(capacity["server_queued_requests"], 0);
  EXPECT_EQ(json["recommendation"]["limit"], "server_slots");
}

}  // namespace
}  // namespace ollamaflow::scaling
