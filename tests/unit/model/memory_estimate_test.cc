#include <gtest/gtest.h>

#include "model/builtin_models.h"
#include "model/memory_estimate.h"
#include "unit/model/model_fixtures.h"

namespace ollamaflow::model {
namespace {

using fixtures::kGiB;
using fixtures::kMiB;

const GgmlType& cache(const char* name) {
  return *parse_cache_type(name).value();
}

class MemoryEstimateTest : public ::testing::Test {
 protected:
  MemoryEstimate estimate(const ModelSpec& spec, uint64_t ctx, uint32_t parallel,
                          const char* k = "f16", const char* v = "f16") {
    EstimateOptions options;
    options.ctx_per_slot = ctx;
    options.parallel = parallel;
    options.cache_k = &cache(k);
    options.cache_v = &cache(v);
    Result<MemoryEstimate> result = estimate_memory(spec, options);
    EXPECT_TRUE(result.is_ok()) << result.status().to_string();
    return result.value_or(MemoryEstimate{});
  }
};

TEST_F(MemoryEstimateTest, Llama31KvIsExactlyOneGibAt8192) {
  MemoryEstimate e = estimate(fixtures::llama31_8b(), 8192, 1);
  EXPECT_EQ(e.kv_cache, 1073741824u);
  EXPECT_EQ(e.kv_per_slot, 1073741824u);
}

TEST_F(MemoryEstimateTest, Llama31KvPerTokenIs128KiB) {
  MemoryEstimate e = estimate(fixtures::llama31_8b(), 1, 1);
  EXPECT_EQ(e.kv_cache, 131072u);
}

TEST_F(MemoryEstimateTest, QuantizedCacheUsesExactBlockSizes) {
  EXPECT_EQ(estimate(fixtures::llama31_8b(), 8192, 1, "q8_0", "q8_0").kv_cache, 570425344u);
  EXPECT_EQ(estimate(fixtures::llama31_8b(), 8192, 1, "q4_0", "q4_0").kv_cache, 288 * kMiB);
  EXPECT_EQ(estimate(fixtures::llama31_8b(), 8192, 1, "q4_1", "q4_1").kv_cache, 320 * kMiB);
  EXPECT_EQ(estimate(fixtures::llama31_8b(), 8192, 1, "q5_0", "q5_0").kv_cache, 352 * kMiB);
  EXPECT_EQ(estimate(fixtures::llama31_8b(), 8192, 1, "q5_1", "q5_1").kv_cache, 384 * kMiB);
  EXPECT_EQ(estimate(fixtures::llama31_8b(), 8192, 1, "f32", "f32").kv_cache, 2 * kGiB);
  EXPECT_EQ(estimate(fixtures::llama31_8b(), 8192, 1, "bf16", "bf16").kv_cache, kGiB);
}

TEST_F(MemoryEstimateTest, CacheTypesOfKAndVCountSeparately) {
  // K f16 512 MiB + V q8_0 272 MiB.
  MemoryEstimate e = estimate(fixtures::llama31_8b(), 8192, 1, "f16", "q8_0");
  EXPECT_EQ(e.kv_cache, 512 * kMiB + 272 * kMiB);
  EXPECT_EQ(e.cache_type_k, "f16");
  EXPECT_EQ(e.cache_type_v, "q8_0");
  bool flash_note = false;
  for (const auto& note : e.notes)
    flash_note |= note.find("flash attention") != std::string::npos;
  EXPECT_TRUE(flash_note);
}

TEST_F(MemoryEstimateTest, KvScalesWithParallelSlots) {
  MemoryEstimate e = estimate(fixtures::llama31_8b(), 8192, 4);
  EXPECT_EQ(e.kv_cache, 4 * kGiB);
  EXPECT_EQ(e.kv_per_slot, kGiB);
  EXPECT_EQ(e.total_ctx, 32768u);
}

TEST_F(MemoryEstimateTest, GraniteKvAtTwentySlots) {
  MemoryEstimate one_token = estimate(fixtures::granite33_2b(), 1, 1);
  EXPECT_EQ(one_token.kv_cache, 80 * 1024u);
  // Ollama's log: kv_size 655,360 = 20 slots x 32768 tokens, KV buffer 51,200 MiB.
  MemoryEstimate e = estimate(fixtures::granite33_2b(), 32768, 20);
  EXPECT_EQ(e.kv_cache, 51200 * kMiB);
}

TEST_F(MemoryEstimateTest, LlamaGraphIs560MiBAt8192) {
  MemoryEstimate e = estimate(fixtures::llama31_8b(), 8192, 1);
  EXPECT_EQ(e.graph_formula, "llama");
  // 4 x 512 x (1 + 4 x 4096 + 8192 x (1 + 32)) bytes: 560.002 MiB.
  EXPECT_EQ(e.graph, 587204608u);
  EXPECT_EQ(e.graph / kMiB, 560u);
}

TEST_F(MemoryEstimateTest, C1ConfigurationTotalsAbout6Point5GiB) {
  // Two slots of 4096 tokens, as in the reported log: weights 4.3 GiB, KV 1 GiB, graph 560 MiB.
  EstimateOptions options;
  options.ctx_per_slot = 4096;
  options.parallel = 2;
  options.device = DeviceKind::kCuda;
  MemoryEstimate e = estimate_memory(fixtures::llama31_8b(), options).value();
  EXPECT_EQ(e.kv_cache, kGiB);
  double total_gib = static_cast<double>(e.total_bytes()) / static_cast<double>(kGiB);
  EXPECT_NEAR(total_gib, 6.3, 0.3);
  EXPECT_EQ(e.reserve, 457 * kMiB);
}

TEST_F(MemoryEstimateTest, SlidingWindowLayersAreCappedAtTheWindow) {
  ModelSpec spec = fixtures::dense("gemma3", 6, 2560, 8, 4, 256, 262144, kGiB);
  spec.sliding_window = 1024;
  spec.sliding_layers = {true, true, true, true, true, false};
  MemoryEstimate e = estimate(spec, 32768, 1);
  uint64_t per_token = 4 * 256 * 2 * 2;  // Hkv x (dk + dv) x f16
  uint64_t sliding_tokens = 1536;        // window 1024 + batch 512, padded to 256
  EXPECT_EQ(e.kv_cache, per_token * (5 * sliding_tokens + 32768));
  // Below the window the layers hold the whole context.
  EXPECT_EQ(estimate(spec, 1024, 1).kv_cache, per_token * 1024 * 6);
}

TEST_F(MemoryEstimateTest, SlidingWindowCapAppliesPerSlot) {
  ModelSpec spec = fixtures::dense("gemma3", 6, 2560, 8, 4, 256, 262144, kGiB);
  spec.sliding_window = 1024;
  spec.sliding_layers = {true, true, true, true, true, false};
  MemoryEstimate one = estimate(spec, 32768, 1);
  MemoryEstimate four = estimate(spec, 32768, 4);
  EXPECT_EQ(four.kv_cache, 4 * one.kv_cache);
}

TEST_F(MemoryEstimateTest, RecurrentStateIsNotPerSlot) {
  ModelSpec spec = fixtures::dense("granitehybrid", 4, 1536, 12, 4, 128, 100352, kGiB);
  spec.head_count_kv = {0, 0, 0, 4};
  spec.recurrent_layers = {true, true, true, false};
  spec.ssm = {4, 3072, 128, 1};
  uint64_t state = ((4 - 1) * (3072 + 2 * 1 * 128) + 128 * 3072) * 4;
  MemoryEstimate one = estimate(spec, 8192, 1);
  MemoryEstimate four = estimate(spec, 8192, 4);
  EXPECT_EQ(one.recurrent_state, 3 * state);
  EXPECT_EQ(four.recurrent_state, 3 * state);
  uint64_t attention = 8192ull * 4 * 128 * 2 * 2;
  EXPECT_EQ(one.kv_cache, attention);
  EXPECT_EQ(four.kv_cache, 4 * attention);
}

TEST_F(MemoryEstimateTest, PerLayerKvHeadCountsAreSummed) {
  ModelSpec spec = fixtures::dense("llama", 3, 4096, 32, 8, 128, 32000, kGiB);
  spec.head_count_kv = {8, 4, 0};
  MemoryEstimate e = estimate(spec, 100, 1);
  EXPECT_EQ(e.kv_cache, 100ull * (8 + 4) * 128 * 2 * 2);
}

TEST_F(MemoryEstimateTest, KeyAndValueLengthsMayDiffer) {
  ModelSpec spec = fixtures::dense("llama", 1, 4096, 32, 2, 128, 32000, kGiB);
  spec.key_length = 192;
  spec.value_length = 128;
  EXPECT_EQ(estimate(spec, 10, 1).kv_cache, 10ull * 2 * (192 + 128) * 2);
}

TEST_F(MemoryEstimateTest, MemoryIsLinearInParallel) {
  // The estimate must grow by the same step for every slot: no jump as slots are added.
  ModelSpec spec = fixtures::dense("gpt-oss", 24, 2880, 64, 8, 64, 201088, 13 * kGiB);
  std::vector<uint64_t> totals;
  for (uint32_t p = 1; p <= 8; ++p)
    totals.push_back(estimate(spec, 131072, p).total_bytes());
  uint64_t step = totals[1] - totals[0];
  for (size_t i = 1; i < totals.size(); ++i) {
    ASSERT_GT(totals[i], totals[i - 1]);
    uint64_t this_step = totals[i] - totals[i - 1];
    EXPECT_LT(static_cast<double>(this_step), 1.5 * static_cast<double>(step)) << "at " << i + 1;
    EXPECT_GT(static_cast<double>(this_step), 0.5 * static_cast<double>(step)) << "at " << i + 1;
  }
}

TEST_F(MemoryEstimateTest, FallbackGraphForOtherArchitectures) {
  ModelSpec spec = fixtures::dense("qwen3", 36, 4096, 32, 8, 128, 151936, 5 * kGiB);
  MemoryEstimate e = estimate(spec, 8192, 1);
  EXPECT_EQ(e.graph_formula, "fallback");
  uint64_t expected = static_cast<uint64_t>(32.0 / 8.0 * static_cast<double>(e.kv_cache) / 6.0);
  EXPECT_EQ(e.graph, std::max<uint64_t>(expected, 4ull * 512 * (4096 + 151936)));
}

TEST_F(MemoryEstimateTest, ReserveBufferAndMarginAreReportedApart) {
  EstimateOptions options;
  options.ctx_per_slot = 8192;
  options.device = DeviceKind::kRocm;
  options.buffer_bytes = 1024 * kMiB;
  options.safety_margin = 0.15;
  options.device_total_bytes = 24 * kGiB;
  MemoryEstimate e = estimate_memory(fixtures::llama31_8b(), options).value();
  EXPECT_EQ(e.reserve, 457 * kMiB);
  EXPECT_EQ(e.buffer, 1024 * kMiB);
  EXPECT_EQ(e.safety_margin, static_cast<uint64_t>(0.15 * 24 * static_cast<double>(kGiB)));
  EXPECT_EQ(e.total_bytes(), e.model_bytes() + e.reserve + e.buffer + e.safety_margin);
  options.device = DeviceKind::kCpu;
  EXPECT_EQ(estimate_memory(fixtures::llama31_8b(), options)->reserve, 0u);
  options.device = DeviceKind::kMetal;
  EXPECT_EQ(estimate_memory(fixtures::llama31_8b(), options)->reserve, 512 * kMiB);
}

TEST_F(MemoryEstimateTest, TableEntryScalesWithContextAndSlots) {
  Config config = default_config();
  std::optional<ModelSpec> spec = table_model_spec("llama3:8b", config);
  ASSERT_TRUE(spec.has_value());
  EXPECT_NE(spec->source.find("estimate"), std::string::npos);
  MemoryEstimate at_table = estimate(*spec, 8192, 1);
  EXPECT_TRUE(at_table.from_table);
  EXPECT_EQ(at_table.model_bytes(), 6144 * kMiB);
  MemoryEstimate two = estimate(*spec, 16384, 2);
  EXPECT_EQ(two.model_bytes(), 5120 * kMiB + 4 * 1024 * kMiB);
}

TEST_F(MemoryEstimateTest, TableEntryForLlama31HasItsTrainingContext) {
  Config config = default_config();
  std::optional<ModelSpec> spec = table_model_spec("llama3.1:8b", config);
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(spec->context_length, 131072u);
  // 128 KiB of f16 KV cache per token, as the GGUF layout of Llama 3.1 8B gives.
  EXPECT_EQ(estimate(*spec, 8192, 1).model_bytes(), 5120 * kMiB + 1024 * kMiB);
  EXPECT_EQ(estimate(*spec, 131072, 1).model_bytes(), 21504 * kMiB);
}

// The table's step is one slot of f16 cache, so other cache types scale it by their bytes per
// element, half for K and half for V, as the layout of Llama 3 gives.
TEST_F(MemoryEstimateTest, TableEntryAppliesCacheTypes) {
  Config config = default_config();
  std::optional<ModelSpec> spec = table_model_spec("llama3:8b", config);
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(estimate(*spec, 8192, 1).kv_per_slot, 1024 * kMiB);
  EXPECT_EQ(estimate(*spec, 8192, 1, "q8_0", "q8_0").kv_per_slot, 544 * kMiB);
  EXPECT_EQ(estimate(*spec, 8192, 1, "q4_0", "q4_0").kv_per_slot, 288 * kMiB);
  EXPECT_EQ(estimate(*spec, 8192, 1, "f32", "f32").kv_per_slot, 2048 * kMiB);
  EXPECT_EQ(estimate(*spec, 8192, 1, "f16", "q8_0").kv_per_slot, 512 * kMiB + 272 * kMiB);
  MemoryEstimate two = estimate(*spec, 8192, 2, "q4_0", "q4_0");
  EXPECT_EQ(two.kv_cache, 2 * 288 * kMiB);
  EXPECT_EQ(two.weights, 5120 * kMiB);
}

TEST_F(MemoryEstimateTest, RejectsZeroContextOrSlots) {
  EstimateOptions options;
  options.ctx_per_slot = 0;
  EXPECT_EQ(estimate_memory(fixtures::llama31_8b(), options).status().code(),
            ErrorCode::kInvalidArgument);
  options.ctx_per_slot = 1;
  options.parallel = 0;
  EXPECT_EQ(estimate_memory(fixtures::llama31_8b(), options).status().code(),
            ErrorCode::kInvalidArgument);
}

class CacheTypeTest : public ::testing::Test {};

TEST_F(CacheTypeTest, ParsesLlamaCppNames) {
  for (const char* name : {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "Q8_0"}) {
    EXPECT_TRUE(parse_cache_type(name).is_ok()) << name;
  }
  Result<const GgmlType*> bad = parse_cache_type("q3_k");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("'q3_k'"), std::string::npos);
  EXPECT_NE(bad.status().message().find("q8_0"), std::string::npos);
}

TEST_F(CacheTypeTest, SmallerTypeOnlyWhenItShrinks) {
  struct Case {
    const char* k;
    const char* v;
    const char* expected;  // nullptr: no type makes the cache smaller
  };
  for (Case c :
       {Case{"f32", "f32", "q8_0"}, Case{"f16", "f16", "q8_0"}, Case{"bf16", "q4_0", "q8_0"},
        Case{"q8_0", "q8_0", "q4_0"}, Case{"q4_0", "q5_1", "q4_0"}, Case{"q4_1", "q4_1", "q4_0"},
        Case{"q4_0", "q4_0", nullptr}, Case{"iq4_nl", "q4_0", nullptr}}) {
    const GgmlType* smaller = smaller_cache_type(cache(c.k), cache(c.v));
    if (c.expected == nullptr) {
      EXPECT_EQ(smaller, nullptr) << c.k << "/" << c.v;
    } else {
      ASSERT_NE(smaller, nullptr) << c.k << "/" << c.v;
      EXPECT_EQ(smaller->name, c.expected) << c.k << "/" << c.v;
    }
  }
}

TEST_F(CacheTypeTest, TypeTableHasExactBlockSizes) {
  struct Case {
    const char* name;
    uint32_t id, block, size;
  };
  for (Case c : {Case{"q8_0", 8, 32, 34}, Case{"q4_0", 2, 32, 18}, Case{"q2_k", 10, 256, 84},
                 Case{"q3_k", 11, 256, 110}, Case{"q4_k", 12, 256, 144}, Case{"q5_k", 13, 256, 176},
                 Case{"q6_k", 14, 256, 210}, Case{"iq4_xs", 23, 256, 136}, Case{"bf16", 30, 1, 2},
                 Case{"mxfp4", 39, 32, 17}}) {
    const GgmlType* type = ggml_type_by_name(c.name);
    ASSERT_NE(type, nullptr) << c.name;
    EXPECT_EQ(type->id, c.id) << c.name;
    EXPECT_EQ(type->block_size, c.block) << c.name;
    EXPECT_EQ(type->type_size, c.size) << c.name;
    EXPECT_EQ(ggml_type_by_id(c.id), type) << c.name;
  }
  EXPECT_EQ(ggml_type_by_id(4), nullptr);
  EXPECT_EQ(ggml_type_by_id(40), nullptr);
  EXPECT_EQ(ggml_row_bytes(*ggml_type_by_name("q4_k"), 512), 288u);
}

}  // namespace
}  // namespace ollamaflow::model
