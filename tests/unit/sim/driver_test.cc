#include "sim/driver.h"

#include <gtest/gtest.h>

#include "core/log.h"
#include "sim/figures.h"
#include "sim/trace.h"

namespace ollamaflow::sim {
namespace {

Trace short_pattern(const std::string& name, uint64_t seed, double duration_s = 900) {
  PatternParams params;
  params.duration_s = duration_s;
  params.seed = seed;
  params.step_start_s = duration_s / 3;
  params.step_length_s = duration_s / 6;
  Result<Trace> trace = generate_pattern(name, params);
  EXPECT_TRUE(trace.is_ok()) << trace.status().to_string();
  return trace.value_or(Trace{});
}

class DriverTest : public ::testing::Test {
 protected:
  void SetUp() override { (void)init_logging("off", false); }

  Figures run(const Trace& trace, const std::string& policy) {
    Result<RunResult> result = run_simulation(trace, policy, settings_);
    EXPECT_TRUE(result.is_ok()) << result.status().to_string();
    last_ = result.value_or(RunResult{});
    return compute_figures(last_);
  }

  ScenarioSettings settings_ = default_scenario();
  RunResult last_;
};

TEST_F(DriverTest, DefaultServerComesFromMemoryModel) {
  const ServerParams& server = settings_.server;
  // Llama 3.1 8B at f16 needs 128 KiB of KV cache per token: 1 GiB for 8192 tokens.
  EXPECT_DOUBLE_EQ(server.kv_per_slot_mib, 1024);
  EXPECT_GT(server.weights_mib, 4500);
  EXPECT_GT(server.slots, 30);
  EXPECT_LT(server.slots, 40);
}

TEST_F(DriverTest, HybridServesEveryRequest) {
  const Trace trace = short_pattern("steady", 7);
  const Figures figures = run(trace, "HYBRID");
  EXPECT_EQ(last_.completed, static_cast<int64_t>(trace.requests.size()));
  EXPECT_EQ(last_.unstarted, 0);
  EXPECT_EQ(last_.waits_s.size(), trace.requests.size());
  EXPECT_GT(figures.agent_seconds, 0);
  EXPECT_GT(last_.evaluations, 0);
}

TEST_F(DriverTest, SameSeedGivesSameFigures) {
  const Trace trace = short_pattern("bursty", 3);
  for (const std::string policy : {"HYBRID", "knative", "oracle"}) {
    const Figures first = run(trace, policy);
    const RunResult first_run = last_;
    const Figures second = run(trace, policy);
    EXPECT_EQ(first_run.waits_s, last_.waits_s) << policy;
    EXPECT_EQ(first.agent_seconds, second.agent_seconds) << policy;
    EXPECT_EQ(first.actions, second.actions) << policy;
    EXPECT_EQ(first.peak_agents, second.peak_agents) << policy;
  }
}

TEST_F(DriverTest, EngineActionsAreRecorded) {
  const Figures figures = run(short_pattern("step", 2), "HYBRID");
  EXPECT_GT(figures.actions, 0);
  EXPECT_DOUBLE_EQ(figures.recorded_share, 1.0);
}

TEST_F(DriverTest, StepSurgeGetsAnEarlyDecision) {
  const Figures figures = run(short_pattern("step", 2), "HYBRID");
  ASSERT_TRUE(figures.reaction_s.has_value());
  EXPECT_LE(*figures.reaction_s, 1.0);
}

TEST_F(DriverTest, FixedPoolKeepsItsSize) {
  const Figures figures = run(short_pattern("steady", 1), "fixed");
  EXPECT_EQ(figures.actions, 0);
  EXPECT_GT(figures.peak_agents, 0);
  EXPECT_NEAR(figures.agent_seconds, figures.peak_agents * 900.0, 1e-6);
}

TEST_F(DriverTest, UnknownPolicyIsRejected) {
  Result<RunResult> result = run_simulation(short_pattern("steady", 1), "MAGIC", settings_);
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(DriverTest, ServerFaultAnswers503) {
  settings_.faults.server_503 = FaultWindow{100, 160};
  const Trace trace = short_pattern("steady", 4);
  const Figures figures = run(trace, "HYBRID");
  EXPECT_GT(figures.rejected_503, 0);
  // The executor retries with backoff, up to 15.5 s, so a 60 s outage fails some tasks.
  EXPECT_GT(figures.failed, 0);
  EXPECT_EQ(last_.completed + last_.failed, static_cast<int64_t>(trace.requests.size()));
}

TEST_F(DriverTest, NoFaultNo503) {
  EXPECT_EQ(run(short_pattern("steady", 4), "HYBRID").rejected_503, 0);
}

TEST_F(DriverTest, TakenMemoryOvercommitsFullPool) {
  // 30 GiB taken leaves room for fewer sequences than a pool sized for the peak runs.
  settings_.faults.memory_taken = FaultWindow{0, 900};
  settings_.faults.memory_taken_mib = 30 * 1024;
  settings_.server.slots = 32;
  const Figures fixed = run(short_pattern("bursty", 5), "fixed");
  EXPECT_GT(fixed.overcommits, 0);
}

TEST_F(DriverTest, MetricDropoutBlocksEngineScaleDown) {
  settings_.faults.metric_dropout = FaultWindow{300, 600};
  run(short_pattern("step", 2), "HYBRID");
  for (const ActionRecord& action : last_.actions) {
    if (action.t >= 300 + 45 && action.t < 600) {
      EXPECT_GT(action.to, action.from) << "scale-down at " << action.t;
    }
  }
}

TEST_F(DriverTest, SlowLoadDelaysNewAgents) {
  const Trace trace = short_pattern("step", 2);
  const Figures fast = run(trace, "HYBRID");
  settings_.faults.slow_load = FaultWindow{0, 900};
  settings_.faults.slow_load_s = 120;
  const Figures slow = run(trace, "HYBRID");
  EXPECT_GT(slow.wait_p99_s, fast.wait_p99_s);
}

TEST_F(DriverTest, DelayedMetricsDelayTheReaction) {
  const Trace trace = short_pattern("step", 2);
  const Figures prompt = run(trace, "hpa");
  settings_.faults.metric_delay_s = 30;
  const Figures delayed = run(trace, "hpa");
  ASSERT_TRUE(prompt.reaction_s.has_value());
  ASSERT_TRUE(delayed.reaction_s.has_value());
  EXPECT_GT(*delayed.reaction_s, *prompt.reaction_s);
}

}  // namespace
}  // namespace ollamaflow::sim
