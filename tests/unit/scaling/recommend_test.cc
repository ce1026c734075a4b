#include "scaling/recommend.h"

#include <gtest/gtest.h>

#include "test_inputs.h"

namespace ollamaflow::scaling {
namespace {

using std::chrono::seconds;

class RecommendTest : public ::testing::Test {
 protected:
  Recommendation run(const EngineInputs& inputs) const { return recommend(inputs, params_, now_); }

  const SignalProposal* find(const Recommendation& rec, const std::string& signal) const {
    for (const SignalProposal& proposal : rec.proposals) {
      if (proposal.signal == signal) {
        return &proposal;
      }
    }
    return nullptr;
  }

  MonoTime now_ = MonoTime(std::chrono::hours(2));
  StrategyParams params_ = strategy_params(Strategy::kHybrid, Config{});
};

TEST_F(RecommendTest, WorkloadOnlyWithoutGpu) {
  const Recommendation rec = run(test::pool(now_, 2, 2, 3));
  EXPECT_EQ(rec.current, 2);
  EXPECT_EQ(rec.proposed, 5);
  EXPECT_EQ(rec.desired, 5);
  EXPECT_EQ(rec.limit, "none");
  EXPECT_TRUE(rec.missing.empty());
  ASSERT_NE(find(rec, "workload"), nullptr);
  EXPECT_EQ(find(rec, "workload")->agents, 5);
  EXPECT_EQ(find(rec, "gpu_memory"), nullptr);
  EXPECT_FALSE(rec.hold_up);
  EXPECT_FALSE(rec.shed_to.has_value());
}

TEST_F(RecommendTest, MaxAgentsCaps) {
  const Recommendation rec = run(test::pool(now_, 2, 2, 20));
  EXPECT_EQ(rec.proposed, 22);
  EXPECT_EQ(rec.desired, 8);
  EXPECT_EQ(rec.limit, "max_agents");
  EXPECT_EQ(rec.upper_bound, 8);
}

TEST_F(RecommendTest, MinAgentsFloors) {
  params_.min_agents = 2;
  const Recommendation rec = run(test::pool(now_, 3, 0, 0));
  EXPECT_EQ(rec.desired, 2);
  EXPECT_EQ(rec.limit, "min_agents");
}

TEST_F(RecommendTest, GpuCeilingWinsOverWorkload) {
  EngineInputs inputs = test::pool(now_, 2, 2, 10);
  inputs.gpu = test::gpu(now_, 8000, 24000);
  inputs.capacity = test::capacity(now_, 4);
  const Recommendation rec = run(inputs);
  EXPECT_EQ(rec.desired, 4);
  EXPECT_EQ(rec.limit, "gpu_ceiling");
  EXPECT_FALSE(rec.ceiling_bound);
}

TEST_F(RecommendTest, CeilingBelowPoolIsMarked) {
  EngineInputs inputs = test::pool(now_, 6, 6, 0);
  inputs.gpu = test::gpu(now_, 8000, 24000);
  inputs.capacity = test::capacity(now_, 4);
  const Recommendation rec = run(inputs);
  EXPECT_EQ(rec.desired, 4);
  EXPECT_TRUE(rec.ceiling_bound);
}

TEST_F(RecommendTest, MemoryUpThresholdStopsGrowth) {
  // 0.75 of memory in use is at the threshold: no more agents. Just below, growth is allowed.
  EngineInputs inputs = test::pool(now_, 2, 2, 4);
  inputs.gpu = test::gpu(now_, 17999, 24000);
  EXPECT_EQ(run(inputs).desired, 6);
  inputs.gpu = test::gpu(now_, 18000, 24000);
  const Recommendation rec = run(inputs);
  EXPECT_EQ(rec.desired, 2);
  EXPECT_EQ(rec.limit, "gpu_memory_high");
}

TEST_F(RecommendTest, WorkloadBasedIgnoresMemory) {
  params_ = strategy_params(Strategy::kWorkloadBased, Config{});
  EngineInputs inputs = test::pool(now_, 2, 2, 4);
  inputs.gpu = test::gpu(now_, 20000, 24000);
  inputs.capacity = test::capacity(now_, 3, 4);
  const Recommendation rec = run(inputs);
  EXPECT_EQ(rec.desired, 6);
  EXPECT_NE(rec.reason.find("2 agents beyond the server's 4 slots only queue inside the server"),
            std::string::npos)
      << rec.reason;
}

TEST_F(RecommendTest, ServerSlotsCapHybrid) {
  EngineInputs inputs = test::pool(now_, 2, 2, 4);
  inputs.capacity = test::capacity(now_, std::nullopt, 4);
  const Recommendation rec = run(inputs);
  EXPECT_EQ(rec.desired, 4);
  EXPECT_EQ(rec.limit, "server_slots");
}

TEST_F(RecommendTest, ReportedServerSlotsBoundHybridAtCount) {
  // Probes just below, at and just above the server's 4 slots.
  for (const int queued : {1, 2, 3}) {
    EngineInputs inputs = test::pool(now_, 2, 2, queued);
    inputs.capacity = test::capacity(now_, 12, 4);
    inputs.capacity->server_slots_source = "llama-server at http://127.0.0.1:8080";
    const Recommendation rec = run(inputs);
    EXPECT_EQ(rec.desired, std::min(2 + queued, 4)) << "queued " << queued;
    EXPECT_EQ(rec.limit, 2 + queued > 4 ? "server_slots" : "none") << "queued " << queued;
  }
}

TEST_F(RecommendTest, ServerSlotLimitSaysAgentsWouldQueue) {
  EngineInputs inputs = test::pool(now_, 2, 2, 6);
  inputs.capacity = test::capacity(now_, 12, 4);
  inputs.capacity->server_slots_source = "llama-server at http://127.0.0.1:8080";
  inputs.capacity->server_busy_slots = 2;
  inputs.capacity->server_queued_requests = 3;
  const Recommendation rec = run(inputs);
  EXPECT_EQ(rec.desired, 4);
  EXPECT_NE(rec.reason.find("the server's 4 slots (llama-server at http://127.0.0.1:8080): more "
                            "agents would only queue inside the server"),
            std::string::npos)
      << rec.reason;
  const SignalProposal* slots = find(rec, "server_slots");
  ASSERT_NE(slots, nullptr);
  EXPECT_NE(slots->reason.find("server runs 4 slots (llama-server at http://127.0.0.1:8080), 2 "
                               "busy, 3 queued inside it"),
            std::string::npos)
      << slots->reason;
}

TEST_F(RecommendTest, BelowServerSlotsNoQueueNote) {
  EngineInputs inputs = test::pool(now_, 2, 2, 1);
  inputs.capacity = test::capacity(now_, 12, 4);
  const Recommendation rec = run(inputs);
  EXPECT_EQ(rec.desired, 3);
  EXPECT_EQ(rec.reason.find("queue inside the server"), std::string::npos) << rec.reason;
}

TEST_F(RecommendTest, MinAgentsAboveServerSlotsSaysTheyQueue) {
  params_.min_agents = 6;
  EngineInputs inputs = test::pool(now_, 6, 1, 0);
  inputs.capacity = test::capacity(now_, 12, 4);
  inputs.capacity->server_slots_source =
      "configured server.num_parallel (environment variable OLLAMA_NUM_PARALLEL)";
  const Recommendation rec = run(inputs);
  EXPECT_EQ(rec.desired, 6);
  EXPECT_NE(rec.reason.find("2 agents beyond the server's 4 slots (configured server.num_parallel "
                            "(environment variable OLLAMA_NUM_PARALLEL)) only queue inside the "
                            "server"),
            std::string::npos)
      << rec.reason;
}

TEST_F(RecommendTest, GpuMemoryBasedGrowsWhileTasksWait) {
  params_ = strategy_params(Strategy::kGpuMemoryBased, Config{});
  EngineInputs inputs = test::pool(now_, 2, 2, 1);
  inputs.gpu = test::gpu(now_, 8000, 24000);
  inputs.capacity = test::capacity(now_, 6);
  EXPECT_EQ(run(inputs).desired, 6);
  inputs.capacity.reset();
  EXPECT_EQ(run(inputs).desired, 8);  // no ceiling known: max_agents
}

TEST_F(RecommendTest, GpuMemoryBasedKeepsCeilingWhileBusy) {
  params_ = strategy_params(Strategy::kGpuMemoryBased, Config{});
  EngineInputs inputs = test::pool(now_, 5, 1, 0);
  inputs.gpu = test::gpu(now_, 8000, 24000);
  inputs.capacity = test::capacity(now_, 6);
  EXPECT_EQ(run(inputs).desired, 6);
}

TEST_F(RecommendTest, GpuMemoryBasedDownThreshold) {
  params_ = strategy_params(Strategy::kGpuMemoryBased, Config{});
  EngineInputs inputs = test::pool(now_, 5, 0, 0);
  inputs.gpu = test::gpu(now_, 9600, 24000);  // 0.40: at the down threshold
  EXPECT_EQ(run(inputs).desired, 1);
  inputs.gpu = test::gpu(now_, 9601, 24000);  // just above: between thresholds, keep
  EXPECT_EQ(run(inputs).desired, 5);
}

TEST_F(RecommendTest, GpuMemoryBasedStaleWorkloadKeeps) {
  params_ = strategy_params(Strategy::kGpuMemoryBased, Config{});
  EngineInputs inputs = test::pool(now_ - std::chrono::seconds(60), 5, 0, 0);
  inputs.gpu = test::gpu(now_, 1000, 24000);
  const Recommendation rec = run(inputs);
  EXPECT_EQ(rec.desired, 5);
  ASSERT_EQ(rec.missing.size(), 1u);
  EXPECT_EQ(rec.missing[0], "workload");
}

TEST_F(RecommendTest, GpuMemoryBasedWithoutGpuKeepsPool) {
  params_ = strategy_params(Strategy::kGpuMemoryBased, Config{});
  const Recommendation rec = run(test::pool(now_, 3, 3, 5));
  EXPECT_EQ(rec.desired, 3);
  EXPECT_EQ(rec.limit, "no_signal");
}

TEST_F(RecommendTest, StaleWorkloadIsMissing) {
  EngineInputs inputs = test::pool(now_ - seconds(46), 4, 0, 0);
  const Recommendation rec = run(inputs);
  ASSERT_EQ(rec.missing.size(), 1u);
  EXPECT_EQ(rec.missing[0], "workload");
  EXPECT_EQ(rec.desired, 4);
  inputs.workload.sampled_at = now_ - seconds(45);
  EXPECT_TRUE(run(inputs).missing.empty());
}

TEST_F(RecommendTest, UnknownGpuMemoryIsMissing) {
  EngineInputs inputs = test::pool(now_, 4, 0, 0);
  inputs.gpu = test::gpu(now_, 0, 24000);
  inputs.gpu->used_mib.reset();
  inputs.gpu->free_mib.reset();
  const Recommendation rec = run(inputs);
  ASSERT_EQ(rec.missing.size(), 1u);
  EXPECT_EQ(rec.missing[0], "gpu_memory");
}

TEST_F(RecommendTest, StaleCapacityIsMissing) {
  EngineInputs inputs = test::pool(now_, 4, 0, 0);
  inputs.capacity = test::capacity(now_ - seconds(60), 8);
  const Recommendation rec = run(inputs);
  ASSERT_EQ(rec.missing.size(), 1u);
  EXPECT_EQ(rec.missing[0], "capacity");
}

TEST_F(RecommendTest, UnknownUtilizationIsNoSignal) {
  EngineInputs inputs = test::pool(now_, 2, 2, 2);
  inputs.gpu = test::gpu(now_, 8000, 24000);
  inputs.gpu->utilization.reset();
  const Recommendation unknown = run(inputs);
  inputs.gpu->utilization = 0.0;
  const Recommendation idle = run(inputs);
  inputs.gpu->utilization = 1.0;
  const Recommendation full = run(inputs);
  EXPECT_TRUE(unknown.missing.empty());
  EXPECT_EQ(unknown.desired, 4);
  EXPECT_EQ(idle.desired, unknown.desired);
  EXPECT_EQ(full.desired, unknown.desired);
}

struct LadderCase {
  double temperature_c;
  double used_mib;  // of 10000
  std::optional<int> shed_to;
  bool hold_up;
  std::string rule;
};

TEST_F(RecommendTest, ProtectionLadderThresholds) {
  params_.min_agents = 2;
  const LadderCase cases[] = {
      {74.9, 5000, std::nullopt, false, ""},
      {75.0, 5000, std::nullopt, true, "temperature_warning"},
      {84.9, 5000, std::nullopt, true, "temperature_warning"},
      {85.0, 5000, 5, true, "temperature_critical"},
      {94.9, 5000, 5, true, "temperature_critical"},
      {95.0, 5000, 3, true, "temperature_emergency"},
      {50.0, 9499, std::nullopt, false, ""},
      {50.0, 9500, std::nullopt, true, "vram_critical"},
      {50.0, 9799, std::nullopt, true, "vram_critical"},
      {50.0, 9800, 4, true, "vram_emergency"},
      {95.0, 9800, 3, true, "temperature_emergency"},
  };
  for (const LadderCase& ladder : cases) {
    SCOPED_TRACE(::testing::Message()
                 << ladder.temperature_c << " C, " << ladder.used_mib << " MiB");
    EngineInputs inputs = test::pool(now_, 6, 6, 4);
    inputs.gpu = test::gpu(now_, ladder.used_mib, 10000, ladder.temperature_c);
    params_.scale_up_threshold = 0.99;  // keep the memory threshold out of the way
    const Recommendation rec = run(inputs);
    EXPECT_EQ(rec.shed_to, ladder.shed_to);
    EXPECT_EQ(rec.hold_up, ladder.hold_up);
    EXPECT_EQ(rec.shed_rule, ladder.rule);
    if (ladder.hold_up) {
      EXPECT_EQ(rec.desired, 6);
      EXPECT_EQ(rec.limit, ladder.rule);
    }
  }
}

TEST_F(RecommendTest, CriticalShedStopsAtMinAgents) {
  params_.min_agents = 2;
  EngineInputs inputs = test::pool(now_, 2, 2, 0);
  inputs.gpu = test::gpu(now_, 1000, 10000, 90);
  const Recommendation rec = run(inputs);
  EXPECT_FALSE(rec.shed_to.has_value());
  EXPECT_TRUE(rec.hold_up);
}

TEST_F(RecommendTest, EmergencyShedGoesBelowMinAgents) {
  params_.min_agents = 4;
  EngineInputs inputs = test::pool(now_, 4, 4, 0);
  inputs.gpu = test::gpu(now_, 1000, 10000, 96);
  EXPECT_EQ(run(inputs).shed_to, 2);
}

TEST_F(RecommendTest, StaleGpuSkipsProtection) {
  EngineInputs inputs = test::pool(now_, 4, 4, 0);
  inputs.gpu = test::gpu(now_ - seconds(50), 1000, 10000, 99);
  const Recommendation rec = run(inputs);
  EXPECT_FALSE(rec.shed_to.has_value());
  EXPECT_FALSE(rec.hold_up);
  ASSERT_EQ(rec.missing.size(), 1u);
  EXPECT_EQ(rec.missing[0], "gpu_memory");
}

TEST_F(RecommendTest, JsonListsEveryProposal) {
  EngineInputs inputs = test::pool(now_, 2, 2, 1);
  inputs.gpu = test::gpu(now_, 8000, 24000);
  inputs.capacity = test::capacity(now_, 6, 4);
  const nlohmann::json json = run(inputs).to_json();
  ASSERT_EQ(json["proposals"].size(), 3u);
  EXPECT_EQ(json["proposals"][0]["signal"], "workload");
  EXPECT_EQ(json["proposals"][1]["signal"], "gpu_memory");
  EXPECT_EQ(json["proposals"][2]["signal"], "server_slots");
  EXPECT_EQ(json["desired"], 3);
  EXPECT_EQ(json["limit"], "none");
}

}  // namespace
}  // namespace ollamaflow::scaling
