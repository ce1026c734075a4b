// make_demand against what llama-server does with the same flags: the per-slot context it
// rounds up and the quantized cache types it rejects for a head size.
#include <gtest/gtest.h>

#include "model/planning.h"
#include "unit/model/model_fixtures.h"

namespace ollamaflow::model {
namespace {

class EngineDemandTest : public ::testing::Test {
 protected:
  Result<ModelDemand> demand(const ModelSpec& spec, const PlanQuestion& question) {
    notes_.clear();
    return make_demand(spec, question, config_, notes_);
  }
  Result<ModelDemand> split(int total_ctx, int parallel) {
    PlanQuestion question;
    question.total_ctx = total_ctx;
    question.parallel = parallel;
    return demand(fixtures::llama31_8b(), question);
  }
  ModelSpec with_head_size(uint32_t head_size) {
    ModelSpec spec = fixtures::llama31_8b();
    spec.key_length = head_size;
    spec.value_length = head_size;
    return spec;
  }

  Config config_ = default_config();
  std::vector<std::string> notes_;
};

TEST_F(EngineDemandTest, SlotContextMultipleOf256IsKept) {
  Result<ModelDemand> d = split(8192, 4);
  ASSERT_TRUE(d.is_ok()) << d.status().to_string();
  EXPECT_EQ(d->ctx_per_slot, 2048u);
  EXPECT_TRUE(notes_.empty());
}

TEST_F(EngineDemandTest, SlotContextRoundsUpTo256) {
  const struct {
    int total;
    int parallel;
    uint64_t per_slot;
  } cases[] = {{2048, 3, 768}, {1000, 8, 256}, {3000, 2, 1536}, {2049, 1, 2304}, {2047, 1, 2048}};
  for (const auto& c : cases) {
    Result<ModelDemand> d = split(c.total, c.parallel);
    ASSERT_TRUE(d.is_ok()) << d.status().to_string();
    EXPECT_EQ(d->ctx_per_slot, c.per_slot) << c.total << " / " << c.parallel;
    ASSERT_EQ(notes_.size(), 1u) << c.total << " / " << c.parallel;
    EXPECT_NE(notes_[0].find("multiple of 256: " + std::to_string(c.per_slot) + " tokens per slot"),
              std::string::npos)
        << notes_[0];
  }
}

TEST_F(EngineDemandTest, PerRequestContextIsNotRounded) {
  PlanQuestion question;
  question.ctx = 1000;
  Result<ModelDemand> d = demand(fixtures::llama31_8b(), question);
  ASSERT_TRUE(d.is_ok()) << d.status().to_string();
  EXPECT_EQ(d->ctx_per_slot, 1000u);
}

TEST_F(EngineDemandTest, QuantizedCacheNeedsDivisibleHead) {
  for (const char* type : {"q8_0", "q4_0", "q4_1", "q5_0", "iq4_nl"}) {
    PlanQuestion question;
    question.cache_type_k = type;
    Result<ModelDemand> rejected = demand(with_head_size(16), question);
    ASSERT_FALSE(rejected.is_ok()) << type;
    EXPECT_EQ(rejected.status().code(), ErrorCode::kInvalidArgument) << type;
    EXPECT_NE(rejected.status().message().find("head size 16"), std::string::npos)
        << rejected.status().message();
    EXPECT_TRUE(demand(with_head_size(32), question).is_ok()) << type;
  }
}

TEST_F(EngineDemandTest, QuantizedVCacheChecksValueLength) {
  ModelSpec spec = with_head_size(64);
  spec.value_length = 48;
  PlanQuestion question;
  question.cache_type_v = "q8_0";
  Result<ModelDemand> rejected = demand(spec, question);
  ASSERT_FALSE(rejected.is_ok());
  EXPECT_NE(rejected.status().message().find("V cache type q8_0"), std::string::npos)
      << rejected.status().message();
  question.cache_type_v.reset();
  question.cache_type_k = "q8_0";
  EXPECT_TRUE(demand(spec, question).is_ok());
}

TEST_F(EngineDemandTest, FloatCachesFitAnyHead) {
  for (const char* type : {"f32", "f16", "bf16"}) {
    PlanQuestion question;
    question.cache_type_k = type;
    question.cache_type_v = type;
    EXPECT_TRUE(demand(with_head_size(16), question).is_ok()) << type;
  }
}

}  // namespace
}  // namespace ollamaflow::model
