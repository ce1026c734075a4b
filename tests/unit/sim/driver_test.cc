#include "sim/driver.h"

#include <gtest/gtest.h>

#include "sim/trace.h"

namespace ollamaflow::sim {
namespace {

Trace short_pattern(const std::string& name, uint64_t seed, double duration_s = 600) {
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
  ScenarioSettings settings_ = default_scenario();
};

TEST_F(DriverTest, HybridServesEveryRequest) {
  const Trace trace = short_pattern("steady", 7);
  Result<RunResult> run = run_simulation(trace, "HYBRID", settings_);
  ASSERT_TRUE(run.is_ok()) << run.status().to_string();
  EXPECT_EQ(run->completed, static_cast<int64_t>(trace.requests.size()));
  EXPECT_EQ(run->unstarted, 0);
  EXPECT_EQ(run->waits_s.size(), trace.requests.size());
  EXPECT_GT(run->agent_seconds, 0);
}

}  // namespace
}  // namespace ollamaflow::sim
