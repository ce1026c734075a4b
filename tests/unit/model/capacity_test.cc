#include <gtest/gtest.h>

#include <cmath>

#include "model/capacity.h"
#include "unit/model/model_fixtures.h"

namespace ollamaflow::model {
namespace {

using fixtures::kGiB;
using fixtures::kMiB;

DeviceBudget gpu_budget(const std::string& id, uint64_t total, uint64_t free) {
  DeviceBudget budget;
  budget.id = id;
  budget.name = "test GPU";
  budget.kind = DeviceKind::kCuda;
  budget.total_bytes = total;
  budget.free_bytes = free;
  budget.source = "test";
  return budget;
}

// A model with a fixed part and a per-slot part, like Ollama's gpt-oss-20b series.
ModelSpec linear_model(const std::string& name, uint64_t fixed, uint64_t per_slot) {
  TableEntry entry;
  entry.min_memory_mb = static_cast<double>(fixed) / static_cast<double>(kMiB);
  entry.recommended_memory_mb = entry.min_memory_mb + static_cast<double>(per_slot) / kMiB;
  entry.context_length = 8192;
  ModelSpec spec;
  spec.name = name;
  spec.table = entry;
  return spec;
}

class CapacityTest : public ::testing::Test {
 protected:
  // The constants of the C1 fit test: 1 GiB held back, no reserve, no margin.
  CapacityOptions pinned() {
    CapacityOptions options;
    options.buffer_bytes = kGiB;
    options.reserve_bytes = 0;
    options.safety_margin = 0;
    return options;
  }

  ModelDemand demand(ModelSpec spec, uint64_t ctx = 8192) {
    ModelDemand d;
    d.spec = std::move(spec);
    d.ctx_per_slot = ctx;
    return d;
  }

  CapacityPlan plan(const std::vector<ModelDemand>& models,
                    const std::vector<DeviceBudget>& devices, const CapacityOptions& options) {
    Result<CapacityPlan> result = plan_capacity(models, devices, options);
    EXPECT_TRUE(result.is_ok()) << result.status().to_string();
    return result.value_or(CapacityPlan{});
  }
};

TEST_F(CapacityTest, Llama31FitsEighteenAgentsOn24GiB) {
  // Weights 4.3 GiB; the graph is pinned to the 560 MiB of one 8192-token slot by using a
  // fixed-cost spec: 24 GiB - 4.3 - 0.56 - 1 GiB held back leaves 18.1 GiB of 1 GiB slots.
  ModelSpec spec =
      linear_model("llama3.1:8b", static_cast<uint64_t>(4.3 * kGiB) + 560 * kMiB, kGiB);
  CapacityPlan result = plan({demand(spec)}, {gpu_budget("gpu0", 24 * kGiB, 24 * kGiB)}, pinned());
  ASSERT_EQ(result.models.size(), 1u);
  EXPECT_TRUE(result.models[0].fits);
  EXPECT_EQ(result.models[0].memory_slots, 18u);
  EXPECT_EQ(result.agent_ceiling, 18u);
  EXPECT_EQ(result.models[0].limiting_resource, "gpu0 memory");
  EXPECT_EQ(result.models[0].devices, std::vector<std::string>{"gpu0"});

  CapacityOptions no_buffer = pinned();
  no_buffer.buffer_bytes = 0;
  EXPECT_EQ(
      plan({demand(spec)}, {gpu_budget("gpu0", 24 * kGiB, 24 * kGiB)}, no_buffer).agent_ceiling,
      19u);
}

TEST_F(CapacityTest, Llama31FromSpecFitsAboutEighteen) {
  // The real formula: the llama graph grows with every slot, so fewer than 18 fit.
  CapacityPlan result =
      plan({demand(fixtures::llama31_8b())}, {gpu_budget("gpu0", 24 * kGiB, 24 * kGiB)}, pinned());
  ASSERT_TRUE(result.agent_ceiling.has_value());
  EXPECT_GE(*result.agent_ceiling, 8u);
  EXPECT_LE(*result.agent_ceiling, 18u);
  // Four slots at 8192 need about 8.9 GiB.
  EXPECT_GE(result.models[0].memory_slots, 4u);
}

TEST_F(CapacityTest, SlotCountAtThreshold) {
  ModelSpec spec = linear_model("m", 4 * kGiB, kGiB);
  uint64_t exactly_three = 4 * kGiB + 3 * kGiB + kGiB;  // fixed + 3 slots + buffer
  EXPECT_EQ(
      plan({demand(spec)}, {gpu_budget("gpu0", 48 * kGiB, exactly_three)}, pinned()).agent_ceiling,
      3u);
  EXPECT_EQ(plan({demand(spec)}, {gpu_budget("gpu0", 48 * kGiB, exactly_three - 1)}, pinned())
                .agent_ceiling,
            2u);
  EXPECT_EQ(
      plan({demand(spec)}, {gpu_budget("gpu0", 48 * kGiB, exactly_three + kGiB - 1)}, pinned())
          .agent_ceiling,
      3u);
}

TEST_F(CapacityTest, GptOssSeriesFitsFourSlotsPerCard) {
  // Ollama's series: 31.7, 50.8, 70.0, 89.1 GiB for 1-4 slots (19.13 GiB per slot).
  uint64_t per_slot = static_cast<uint64_t>(19.13 * kGiB);
  ModelSpec spec = linear_model("gpt-oss:20b", static_cast<uint64_t>(12.6 * kGiB), per_slot);
  // nvidia-smi reports 95830 MiB for an H100 NVL.
  DeviceBudget h100 = gpu_budget("gpu0", 95830 * kMiB, 95830 * kMiB);
  CapacityOptions options = pinned();
  options.buffer_bytes = 0;
  CapacityPlan result = plan({demand(spec, 131072 / 16)}, {h100}, options);
  EXPECT_EQ(result.models[0].memory_slots, 4u);
}

TEST_F(CapacityTest, HostMemoryIsTheBudgetWithoutGpu) {
  gpu::GpuSnapshot snapshot;
  snapshot.host.total = gpu::Reading<uint64_t>{64 * kGiB, "/proc/meminfo MemTotal"};
  snapshot.host.available = gpu::Reading<uint64_t>{16 * kGiB, "cgroup v2 memory.max"};
  std::vector<DeviceBudget> budgets = budgets_from_snapshot(snapshot);
  ASSERT_EQ(budgets.size(), 1u);
  EXPECT_EQ(budgets[0].id, "host");
  EXPECT_EQ(budgets[0].kind, DeviceKind::kCpu);
  ModelSpec spec = linear_model("m", 4 * kGiB, 2 * kGiB);
  CapacityPlan result = plan({demand(spec)}, budgets, pinned());
  EXPECT_EQ(result.agent_ceiling, 5u);  // (16 - 1 - 4) / 2
  EXPECT_EQ(result.models[0].limiting_resource, "host memory");
}

TEST_F(CapacityTest, UnknownMemoryGivesNoAgentsWithReason) {
  gpu::GpuSnapshot snapshot;
  gpu::GpuDevice device;
  device.id = "gpu0";
  device.name = "NVIDIA A100-SXM4-80GB";
  device.notes.push_back("nvidia-smi reported memory.total as '[Insufficient Permissions]'");
  snapshot.devices.push_back(device);
  std::vector<DeviceBudget> budgets = budgets_from_snapshot(snapshot);
  ASSERT_EQ(budgets.size(), 1u);
  EXPECT_FALSE(budgets[0].free_bytes.has_value());
  CapacityPlan result = plan({demand(linear_model("m", kGiB, kGiB))}, budgets, pinned());
  EXPECT_FALSE(result.agent_ceiling.has_value());
  EXPECT_FALSE(result.models[0].fits);
  EXPECT_EQ(result.models[0].agent_ceiling, 0u);
  ASSERT_EQ(result.devices.size(), 1u);
  EXPECT_FALSE(result.devices[0].usable);
  EXPECT_NE(result.devices[0].reason.find("Insufficient Permissions"), std::string::npos);
}

TEST_F(CapacityTest, ServerSlotsCapTheCeilingAndRecommendMore) {
  CapacityOptions options = pinned();
  options.server_slots = 2;
  CapacityPlan result = plan({demand(linear_model("m", 4 * kGiB, kGiB))},
                             {gpu_budget("gpu0", 24 * kGiB, 24 * kGiB)}, options);
  EXPECT_EQ(result.models[0].memory_slots, 19u);
  EXPECT_EQ(result.models[0].agent_ceiling, 2u);
  EXPECT_EQ(result.models[0].limiting_resource, "server slots");
  EXPECT_NE(result.models[0].reason.find("OLLAMA_NUM_PARALLEL=19"), std::string::npos);
  // llama-server splits -c among its slots, so the advice keeps 8192 tokens per slot.
  EXPECT_NE(result.models[0].reason.find("(llama-server -np 19 -c 155648)"), std::string::npos)
      << result.models[0].reason;
}

TEST_F(CapacityTest, SearchLimitIsLowerBound) {
  CapacityOptions options = pinned();
  options.max_slots = 4;
  CapacityPlan result = plan({demand(linear_model("m", kGiB, kGiB))},
                             {gpu_budget("gpu0", 80 * kGiB, 80 * kGiB)}, options);
  EXPECT_EQ(result.models[0].memory_slots, 4u);
  EXPECT_EQ(result.models[0].limiting_resource, "slot search limit");
  EXPECT_EQ(result.models[0].reason,
            "at least 4 slot(s) of 8192 tokens fit: the search stops at 4 slots, before memory "
            "runs out");

  options.server_slots = 2;
  result = plan({demand(linear_model("m", kGiB, kGiB))}, {gpu_budget("gpu0", 80 * kGiB, 80 * kGiB)},
                options);
  EXPECT_NE(result.models[0].reason.find("but memory fits at least 4: set OLLAMA_NUM_PARALLEL=4"),
            std::string::npos)
      << result.models[0].reason;
}

TEST_F(CapacityTest, MaxAgentsCapsAllModels) {
  CapacityOptions options = pinned();
  options.max_agents = 8;
  CapacityPlan result =
      plan({demand(linear_model("a", kGiB, kGiB)), demand(linear_model("b", kGiB, kGiB))},
           {gpu_budget("gpu0", 80 * kGiB, 80 * kGiB)}, options);
  EXPECT_EQ(result.agent_ceiling, 8u);
  EXPECT_EQ(result.limiting_resource, "max_agents");
  EXPECT_EQ(result.models[0].memory_slots + result.models[1].memory_slots, 8u);
}

TEST_F(CapacityTest, ModelsShareTheBudget) {
  // 20 GiB usable: a (8 GiB + 2 per slot) and b (2 GiB + 1 per slot) share it in turns.
  CapacityPlan result = plan(
      {demand(linear_model("a", 8 * kGiB, 2 * kGiB)), demand(linear_model("b", 2 * kGiB, kGiB))},
      {gpu_budget("gpu0", 21 * kGiB, 21 * kGiB)}, pinned());
  EXPECT_TRUE(result.all_fit);
  uint64_t used = 8 * kGiB + 2 * kGiB * result.models[0].memory_slots + 2 * kGiB +
                  kGiB * result.models[1].memory_slots;
  EXPECT_LE(used, 20 * kGiB);
  EXPECT_GE(result.models[0].memory_slots, 2u);
  EXPECT_GE(result.models[1].memory_slots, 2u);
  EXPECT_EQ(*result.agent_ceiling, result.models[0].memory_slots + result.models[1].memory_slots);
}

TEST_F(CapacityTest, ReportsWhichCombinationFits) {
  CapacityPlan result = plan({demand(linear_model("small", 2 * kGiB, kGiB)),
                              demand(linear_model("huge", 40 * kGiB, kGiB))},
                             {gpu_budget("gpu0", 24 * kGiB, 24 * kGiB)}, pinned());
  EXPECT_FALSE(result.all_fit);
  EXPECT_TRUE(result.models[0].fits);
  EXPECT_FALSE(result.models[1].fits);
  EXPECT_EQ(result.models[1].limiting_resource, "gpu0 memory");
  EXPECT_NE(result.models[1].reason.find("needs"), std::string::npos);
  EXPECT_EQ(*result.agent_ceiling, result.models[0].memory_slots);
}

TEST_F(CapacityTest, FixedParallelTooLargeSuggestsFewer) {
  ModelDemand d = demand(linear_model("m", 4 * kGiB, 4 * kGiB));
  d.parallel = 8;
  CapacityPlan result = plan({d}, {gpu_budget("gpu0", 24 * kGiB, 24 * kGiB)}, pinned());
  EXPECT_FALSE(result.models[0].fits);
  EXPECT_EQ(result.models[0].agent_ceiling, 0u);
  EXPECT_NE(result.models[0].reason.find("4 slot(s) would fit"), std::string::npos)
      << result.models[0].reason;
}

TEST_F(CapacityTest, FixedParallelTooLargeRecommendsSlotsThatFit) {
  ModelDemand d = demand(linear_model("m", 4 * kGiB, 4 * kGiB));
  d.parallel = 8;
  CapacityPlan result = plan({d}, {gpu_budget("gpu0", 24 * kGiB, 24 * kGiB)}, pinned());
  const ModelPlacement& placement = result.models[0];
  EXPECT_FALSE(placement.fits);
  EXPECT_EQ(placement.server_slots, 8u);
  EXPECT_EQ(placement.memory_slots, 4u);  // 20 GiB of room: 4 GiB + 4 x 4 GiB
  ASSERT_TRUE(placement.recommended_slots.has_value());
  EXPECT_EQ(*placement.recommended_slots, 4u);
  // The breakdown describes the recommended count, not the 8 that do not fit.
  EXPECT_EQ(placement.estimate.parallel, 4u);
  EXPECT_EQ(placement.estimate.model_bytes(), 20 * kGiB);
}

TEST_F(CapacityTest, FixedParallelWithNoSlotThatFits) {
  ModelDemand d = demand(linear_model("m", 40 * kGiB, kGiB));
  d.parallel = 2;
  CapacityPlan result = plan({d}, {gpu_budget("gpu0", 24 * kGiB, 24 * kGiB)}, pinned());
  const ModelPlacement& placement = result.models[0];
  EXPECT_FALSE(placement.fits);
  EXPECT_EQ(placement.memory_slots, 0u);
  EXPECT_FALSE(placement.recommended_slots.has_value());
  // With nothing to recommend, the breakdown shows the requested count.
  EXPECT_EQ(placement.estimate.parallel, 2u);
}

TEST_F(CapacityTest, RecommendedSlotsFollowFitOrRequest) {
  ModelDemand fixed = demand(linear_model("m", 4 * kGiB, kGiB));
  fixed.parallel = 4;
  CapacityPlan requested = plan({fixed}, {gpu_budget("gpu0", 24 * kGiB, 24 * kGiB)}, pinned());
  EXPECT_EQ(requested.models[0].recommended_slots, 4u);
  EXPECT_EQ(requested.models[0].estimate.parallel, 4u);
  CapacityPlan computed = plan({demand(linear_model("m", 4 * kGiB, kGiB))},
                               {gpu_budget("gpu0", 24 * kGiB, 24 * kGiB)}, pinned());
  EXPECT_EQ(computed.models[0].recommended_slots, 19u);
  EXPECT_EQ(computed.models[0].estimate.parallel, 19u);
}

// Without a GPU the breakdown shows what the host budget subtracts: no device reserve and a
// safety margin of the host's total memory, also when the requested slots do not fit.
TEST_F(CapacityTest, HostBudgetBreakdownHasNoDeviceReserve) {
  gpu::GpuSnapshot snapshot;
  snapshot.host.total = gpu::Reading<uint64_t>{64 * kGiB, "/proc/meminfo MemTotal"};
  snapshot.host.available = gpu::Reading<uint64_t>{16 * kGiB, "/proc/meminfo MemAvailable"};
  const std::vector<DeviceBudget> budgets = budgets_from_snapshot(snapshot);
  const CapacityOptions options;  // 1 GiB buffer, 15 % margin, reserve by device kind
  const uint64_t margin = static_cast<uint64_t>(std::llround(0.15 * 64 * kGiB));
  for (const uint32_t slots : {1u, 8u}) {
    ModelDemand d = demand(linear_model("m", 2 * kGiB, kGiB));
    d.parallel = slots;
    CapacityPlan result = plan({d}, budgets, options);
    const MemoryEstimate& estimate = result.models[0].estimate;
    EXPECT_EQ(result.models[0].fits, slots == 1) << slots;
    EXPECT_EQ(estimate.device_kind, "cpu") << slots;
    EXPECT_EQ(estimate.reserve, 0u) << slots;
    EXPECT_EQ(estimate.safety_margin, margin) << slots;
    EXPECT_EQ(estimate.buffer, kGiB) << slots;
    ASSERT_EQ(result.devices.size(), 1u);
    EXPECT_EQ(estimate.reserve + estimate.buffer + estimate.safety_margin,
              result.devices[0].held_back)
        << slots;
  }
}

TEST_F(CapacityTest, FixedParallelThatFitsReportsMemoryHeadroom) {
  ModelDemand d = demand(linear_model("m", 4 * kGiB, kGiB));
  d.parallel = 4;
  CapacityPlan result = plan({d}, {gpu_budget("gpu0", 24 * kGiB, 24 * kGiB)}, pinned());
  EXPECT_TRUE(result.models[0].fits);
  EXPECT_EQ(result.models[0].agent_ceiling, 4u);
  EXPECT_EQ(result.models[0].memory_slots, 19u);
  EXPECT_EQ(result.models[0].limiting_resource, "server slots");
}

TEST_F(CapacityTest, LargeModelSplitsAcrossGpus) {
  CapacityPlan result =
      plan({demand(linear_model("big", 30 * kGiB, kGiB))},
           {gpu_budget("gpu0", 24 * kGiB, 24 * kGiB), gpu_budget("gpu1", 24 * kGiB, 24 * kGiB)},
           pinned());
  ASSERT_TRUE(result.models[0].fits);
  EXPECT_EQ(result.models[0].devices.size(), 2u);
  EXPECT_EQ(result.models[0].limiting_resource, "gpu0+gpu1 memory");
  EXPECT_GE(result.models[0].memory_slots, 10u);
}

TEST_F(CapacityTest, DefaultReserveAndMarginAreHeldBack) {
  CapacityOptions options;  // 1 GiB buffer, 15 % margin, 457 MiB CUDA reserve
  CapacityPlan result = plan({demand(linear_model("m", 4 * kGiB, kGiB))},
                             {gpu_budget("gpu0", 24 * kGiB, 24 * kGiB)}, options);
  uint64_t held = 457 * kMiB + kGiB + static_cast<uint64_t>(0.15 * 24 * kGiB);
  EXPECT_EQ(result.devices[0].held_back, held);
  EXPECT_EQ(result.agent_ceiling, (24 * kGiB - held - 4 * kGiB) / kGiB);
}

TEST_F(CapacityTest, RejectsEmptyModelList) {
  Result<CapacityPlan> result = plan_capacity({}, {}, pinned());
  EXPECT_EQ(result.status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace ollamaflow::model
