#include <gtest/gtest.h>

#include <fmt/format.h>

#include "model/builtin_models.h"
#include "model/planning.h"
#include "model/report.h"
#include "model/report_text.h"
#include "unit/model/model_fixtures.h"

namespace ollamaflow::model {
namespace {

class MakeDemandTest : public ::testing::Test {
 protected:
  Result<ModelDemand> demand(const PlanQuestion& question) {
    return make_demand(fixtures::llama31_8b(), question, config_, notes_);
  }
  Config config_ = default_config();
  std::vector<std::string> notes_;
};

TEST_F(MakeDemandTest, DefaultsToConfiguredContext) {
  config_.server.num_ctx = 4096;
  Result<ModelDemand> d = demand({});
  ASSERT_TRUE(d.is_ok()) << d.status().to_string();
  EXPECT_EQ(d->ctx_per_slot, 4096u);
  EXPECT_FALSE(d->parallel.has_value());
  EXPECT_EQ(d->cache_k->name, "f16");
}

TEST_F(MakeDemandTest, TotalContextIsSplitAmongSlots) {
  PlanQuestion question;
  question.total_ctx = 8192;
  question.parallel = 4;
  Result<ModelDemand> d = demand(question);
  ASSERT_TRUE(d.is_ok());
  EXPECT_EQ(d->ctx_per_slot, 2048u);
  EXPECT_EQ(d->parallel, 4u);
  question.parallel.reset();
  Result<ModelDemand> whole = demand(question);
  EXPECT_EQ(whole->ctx_per_slot, 8192u);
  EXPECT_EQ(whole->parallel, 1u);
  EXPECT_FALSE(notes_.empty());
}

TEST_F(MakeDemandTest, RejectsInvalidValues) {
  PlanQuestion both;
  both.ctx = 1;
  both.total_ctx = 2;
  EXPECT_EQ(demand(both).status().code(), ErrorCode::kInvalidArgument);
  for (int parallel : {0, 4097}) {
    PlanQuestion question;
    question.parallel = parallel;
    EXPECT_EQ(demand(question).status().code(), ErrorCode::kInvalidArgument) << parallel;
  }
  for (int ctx : {0, (1 << 24) + 1}) {
    PlanQuestion question;
    question.ctx = ctx;
    EXPECT_EQ(demand(question).status().code(), ErrorCode::kInvalidArgument) << ctx;
  }
  PlanQuestion tight;
  tight.total_ctx = 3;
  tight.parallel = 4;
  EXPECT_EQ(demand(tight).status().code(), ErrorCode::kInvalidArgument);
  PlanQuestion cache;
  cache.cache_type_v = "q9_9";
  Result<ModelDemand> bad = demand(cache);
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("'q9_9'"), std::string::npos);
}

TEST_F(MakeDemandTest, CtxHasRangeAndMessageOfNumCtx) {
  for (const int ctx : {255, 4194305}) {
    PlanQuestion question;
    question.ctx = ctx;
    Result<ModelDemand> planned = demand(question);
    ASSERT_FALSE(planned.is_ok()) << ctx;
    const std::vector<FlagValue> flags = {{"server.num_ctx", ctx, "--num-ctx"}};
    Result<Config> run = load_config(
        std::nullopt, [](const std::string&) { return std::nullopt; }, flags);
    ASSERT_FALSE(run.is_ok()) << ctx;
    std::string message = planned.status().message();
    message.replace(message.find("flag --ctx"), 10, "flag --num-ctx");
    EXPECT_EQ(message, run.status().message());
  }
  for (const int ctx : {256, 4194304}) {
    PlanQuestion question;
    question.ctx = ctx;
    EXPECT_TRUE(demand(question).is_ok()) << ctx;
  }
}

TEST_F(MakeDemandTest, OddSlotCountRoundsPastTotal) {
  PlanQuestion question;
  question.total_ctx = 8192;
  question.parallel = 3;
  Result<ModelDemand> d = demand(question);
  ASSERT_TRUE(d.is_ok()) << d.status().to_string();
  EXPECT_EQ(d->ctx_per_slot, 2816u);
  ASSERT_EQ(notes_.size(), 1u);
  EXPECT_NE(notes_[0].find("8192 / 3 = 2730 tokens"), std::string::npos) << notes_[0];
  EXPECT_NE(notes_[0].find("2816 tokens per slot, 8448 in total"), std::string::npos) << notes_[0];
}

TEST_F(MakeDemandTest, TotalPastNumCtxRangeIsRejected) {
  PlanQuestion question;
  question.total_ctx = 8388608;
  Result<ModelDemand> d = demand(question);
  ASSERT_FALSE(d.is_ok());
  EXPECT_NE(d.status().message().find("server.num_ctx (flag --total-ctx 8388608 over 1 slot(s))"),
            std::string::npos)
      << d.status().message();
}

TEST_F(MakeDemandTest, KvCacheTypeFlagSetsBoth) {
  config_.kv_cache_type_k = "q8_0";
  config_.sources["memory.kv_cache_type_k"] = "flag:--kv-cache-type";
  Result<ModelDemand> d = demand({});
  ASSERT_TRUE(d.is_ok());
  EXPECT_EQ(d->cache_k->name, "q8_0");
  EXPECT_EQ(d->cache_v->name, "q8_0");
  PlanQuestion question;
  question.cache_type_v = "q4_0";
  EXPECT_EQ(demand(question)->cache_v->name, "q4_0");
}

TEST_F(MakeDemandTest, CapacityOptionsFollowConfiguration) {
  config_.gpu_scaling.memory_buffer_mb = 2048;
  config_.gpu_scaling.memory_safety_margin = 0.2;
  config_.gpu_scaling.max_agents = 6;
  config_.server.num_parallel = 3;
  CapacityOptions options = capacity_options(config_);
  EXPECT_EQ(options.buffer_bytes, 2048 * fixtures::kMiB);
  EXPECT_DOUBLE_EQ(options.safety_margin, 0.2);
  EXPECT_EQ(options.max_agents, 6u);
  EXPECT_EQ(options.server_slots, 3u);
}

class PlanReportTest : public ::testing::Test {};

TEST_F(PlanReportTest, JsonAndTextNameEstimateAndLimit) {
  ModelDemand d;
  d.spec = fixtures::llama31_8b();
  DeviceBudget gpu;
  gpu.id = "gpu0";
  gpu.name = "test";
  gpu.total_bytes = gpu.free_bytes = 24 * fixtures::kGiB;
  CapacityPlan plan = plan_capacity({d}, {gpu}, CapacityOptions{}).value();
  nlohmann::json json = plan_to_json(plan);
  EXPECT_EQ(json["models"][0]["limiting_resource"], "gpu0 memory");
  EXPECT_TRUE(json["models"][0]["memory"]["estimate"].get<bool>());
  EXPECT_EQ(json["agent_ceiling"], plan.agent_ceiling.value());
  std::string text = render_plan(plan);
  EXPECT_NE(text.find("OLLAMA_NUM_PARALLEL="), std::string::npos);
  EXPECT_NE(text.find("llama-server"), std::string::npos);
  EXPECT_NE(text.find("estimate"), std::string::npos);
}

// Model and device names come from the server and the GPU probes, so the text escapes them.
TEST_F(PlanReportTest, TextEscapesModelAndDeviceNames) {
  ModelDemand d;
  d.spec = fixtures::llama31_8b();
  d.spec.name = "evil\x1b[31m\u202e:8b";
  DeviceBudget gpu;
  gpu.id = "gpu0";
  gpu.name = "Card\nFake row";
  gpu.total_bytes = gpu.free_bytes = 24 * fixtures::kGiB;
  CapacityPlan plan = plan_capacity({d}, {gpu}, CapacityOptions{}).value();
  const std::string text = render_plan(plan);
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
  EXPECT_EQ(text.find("\u202e"), std::string::npos) << text;
  EXPECT_EQ(text.find("Card\nFake row"), std::string::npos) << text;
  EXPECT_NE(text.find("evil\\x1B[31m\\u202E:8b: fits"), std::string::npos) << text;
  EXPECT_NE(text.find("Card\\nFake row"), std::string::npos) << text;
}

TEST_F(PlanReportTest, LayoutOfGgufModelIsNamed) {
  EXPECT_EQ(describe_layout(fixtures::llama31_8b()), "llama, 32 layers");
  const nlohmann::json json = spec_to_json(fixtures::llama31_8b());
  EXPECT_EQ(json["architecture"], "llama");
  EXPECT_EQ(json["block_count"], 32);
  EXPECT_FALSE(json.contains("parameters")) << json.dump();
}

// The built-in table gives no architecture or layers, so neither is printed as empty or 0.
TEST_F(PlanReportTest, LayoutOfTableModelIsNotKnown) {
  const std::optional<ModelSpec> spec = table_model_spec("llama3:8b", default_config());
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(describe_layout(*spec), "8B parameters; architecture and layer count not known");
  const nlohmann::json json = spec_to_json(*spec);
  EXPECT_EQ(json["parameters"], "8B");
  for (const char* key :
       {"architecture", "block_count", "embedding_length", "weights_bytes", "tensor_count",
        "key_length", "value_length", "head_count_kv", "sliding_window"}) {
    EXPECT_TRUE(json[key].is_null()) << key << ": " << json.dump();
  }
  EXPECT_EQ(json["context_length"], 8192);

  ModelSpec unnamed = *spec;
  unnamed.table->parameters.clear();
  EXPECT_EQ(describe_layout(unnamed), "architecture and layer count not known");
}

TEST_F(PlanReportTest, RequestedSlotsAreRecommended) {
  ModelDemand d;
  d.spec = fixtures::llama31_8b();
  d.parallel = 2;
  DeviceBudget gpu;
  gpu.id = "gpu0";
  gpu.name = "test";
  gpu.total_bytes = gpu.free_bytes = 48 * fixtures::kGiB;
  CapacityPlan plan = plan_capacity({d}, {gpu}, CapacityOptions{}).value();
  const ModelPlacement& placement = plan.models.front();
  ASSERT_GT(placement.memory_slots, 2u);
  const uint64_t ctx = placement.estimate.ctx_per_slot;
  const std::string text = render_plan(plan);
  EXPECT_NE(text.find(fmt::format("OLLAMA_NUM_PARALLEL=2 with num_ctx {}", ctx)), std::string::npos)
      << text;
  EXPECT_NE(text.find(fmt::format("llama-server    -np 2 -c {}", 2 * ctx)), std::string::npos)
      << text;
  EXPECT_NE(text.find(fmt::format("max that fits   OLLAMA_NUM_PARALLEL={}, llama-server -np {}",
                                  placement.memory_slots, placement.memory_slots)),
            std::string::npos)
      << text;
  const nlohmann::json json = plan_to_json(plan);
  EXPECT_EQ(json["models"][0]["recommended_num_parallel"], 2);
  EXPECT_EQ(json["models"][0]["memory_slots"], placement.memory_slots);
}

// --parallel 64 of Llama 3.1 8B at 8192 tokens needs 64 GiB of KV cache, more than a 24 GiB GPU
// has.
TEST_F(PlanReportTest, UnfitRequestReportsSlotsThatFit) {
  ModelDemand d;
  d.spec = fixtures::llama31_8b();
  d.parallel = 64;
  DeviceBudget gpu;
  gpu.id = "gpu0";
  gpu.name = "test";
  gpu.total_bytes = gpu.free_bytes = 24 * fixtures::kGiB;
  CapacityPlan plan = plan_capacity({d}, {gpu}, CapacityOptions{}).value();
  const ModelPlacement& placement = plan.models.front();
  ASSERT_FALSE(placement.fits);
  ASSERT_GT(placement.memory_slots, 0u);
  ASSERT_LT(placement.memory_slots, 64u);
  const uint32_t fit = placement.memory_slots;

  const nlohmann::json json = plan_to_json(plan)["models"][0];
  EXPECT_EQ(json["fits"], false);
  EXPECT_EQ(json["requested_num_parallel"], 64);
  EXPECT_EQ(json["recommended_num_parallel"], fit);
  EXPECT_EQ(json["memory"]["parallel"], fit);
  EXPECT_EQ(json["memory"]["device_kind"], "cuda");

  const std::string text = render_plan(plan);
  EXPECT_NE(text.find(fmt::format("does not fit with 64 slot(s), {} slot(s) fit", fit)),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(fmt::format("{} slot(s) x 8192", fit)), std::string::npos) << text;
  EXPECT_NE(text.find(fmt::format("OLLAMA_NUM_PARALLEL={} with num_ctx 8192", fit)),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(fmt::format("-np {} -c {}", fit, uint64_t{fit} * 8192)), std::string::npos)
      << text;
  EXPECT_EQ(text.find("OLLAMA_NUM_PARALLEL=64"), std::string::npos) << text;
  EXPECT_NE(text.find("CUDA runtime minimum per device"), std::string::npos) << text;
}

TEST_F(PlanReportTest, NothingFitsRecommendsNoSlotCount) {
  ModelDemand d;
  d.spec = fixtures::llama31_8b();
  d.parallel = 2;
  DeviceBudget gpu;
  gpu.id = "gpu0";
  gpu.name = "test";
  gpu.total_bytes = gpu.free_bytes = 4 * fixtures::kGiB;
  CapacityPlan plan = plan_capacity({d}, {gpu}, CapacityOptions{}).value();
  const nlohmann::json json = plan_to_json(plan)["models"][0];
  EXPECT_EQ(json["fits"], false);
  EXPECT_EQ(json["requested_num_parallel"], 2);
  EXPECT_TRUE(json["recommended_num_parallel"].is_null()) << json.dump();
  const std::string text = render_plan(plan);
  EXPECT_NE(text.find("does not fit\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("OLLAMA_NUM_PARALLEL="), std::string::npos) << text;
}

TEST_F(PlanReportTest, HostMemoryShowsNoDeviceReserve) {
  ModelDemand d;
  d.spec = fixtures::llama31_8b();
  d.parallel = 64;
  DeviceBudget host;
  host.id = "host";
  host.name = "host memory (no GPU found)";
  host.kind = DeviceKind::kCpu;
  host.total_bytes = host.free_bytes = 24 * fixtures::kGiB;
  CapacityPlan plan = plan_capacity({d}, {host}, CapacityOptions{}).value();
  const nlohmann::json memory = plan_to_json(plan)["models"][0]["memory"];
  EXPECT_EQ(memory["device_kind"], "cpu");
  EXPECT_EQ(memory["device_reserve_bytes"], 0);
  EXPECT_GT(memory["safety_margin_bytes"].get<uint64_t>(), 0u);
  const std::string text = render_plan(plan);
  EXPECT_NE(text.find("none in host memory"), std::string::npos) << text;
  EXPECT_EQ(text.find("CUDA"), std::string::npos) << text;
}

}  // namespace
}  // namespace ollamaflow::model
