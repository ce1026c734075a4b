// spec_from_gguf on metadata that is missing, of the wrong type or out of range: each error
// names the key, the value and the allowed range.
#include "model/model_spec.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "model/gguf.h"
#include "unit/model/gguf_writer.h"

namespace ollamaflow::model {
namespace {

using testing::GgufWriter;

class ModelSpecTest : public ::testing::Test {
 protected:
  // Returns the error of a llama model whose metadata `customize` writes after the
  // architecture; fails the test when the spec is accepted.
  std::string spec_error(const std::function<void(GgufWriter&)>& customize) {
    GgufWriter writer;
    writer.str("general.architecture", "llama");
    customize(writer);
    Result<GgufFile> file = parse_gguf(writer.build(), "m.gguf");
    EXPECT_TRUE(file.is_ok()) << file.status().to_string();
    if (!file.is_ok()) {
      return "";
    }
    Result<ModelSpec> spec = spec_from_gguf(*file, "m");
    EXPECT_FALSE(spec.is_ok());
    return spec.is_ok() ? "" : spec.status().message();
  }

  // Writes the keys of a valid two-layer model, with `layers` as the block count.
  static void valid_keys(GgufWriter& writer, uint32_t layers = 2) {
    writer.u32("llama.block_count", layers)
        .u32("llama.embedding_length", 64)
        .u32("llama.attention.head_count", 4)
        .u32("llama.attention.head_count_kv", 2);
  }

  // Returns the spec of a llama model with one tensor whose metadata `customize` writes after
  // the architecture.
  static Result<ModelSpec> spec_of(const std::function<void(GgufWriter&)>& customize) {
    GgufWriter writer;
    writer.str("general.architecture", "llama");
    customize(writer);
    writer.tensor("token_embd.weight", {64, 10}, 0, 64 * 10 * 4);
    Result<GgufFile> file = parse_gguf(writer.build(), "m.gguf");
    if (!file.is_ok()) {
      return file.status();
    }
    return spec_from_gguf(*file, "m");
  }

  static bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  }
};

TEST_F(ModelSpecTest, BlockCountOutOfRange) {
  for (const uint32_t layers : {0u, 4097u, 100000u}) {
    const std::string message = spec_error([layers](GgufWriter& w) { valid_keys(w, layers); });
    EXPECT_TRUE(contains(message, "metadata key 'llama.block_count' is " + std::to_string(layers) +
                                      ", out of range: allowed 1 to 4096"))
        << message;
    EXPECT_FALSE(contains(message, "missing")) << message;
  }
}

TEST_F(ModelSpecTest, MissingBlockCountIsMissing) {
  const std::string message =
      spec_error([](GgufWriter& w) { w.u32("llama.embedding_length", 64); });
  EXPECT_TRUE(contains(message, "metadata key 'llama.block_count' is missing")) << message;
}

TEST_F(ModelSpecTest, WrongTypeNamesTheValue) {
  const std::string text = spec_error(
      [](GgufWriter& w) { w.str("llama.block_count", "two").u32("llama.embedding_length", 64); });
  EXPECT_TRUE(contains(text, "'llama.block_count' is \"two\", not a whole number from 1 to 4096"))
      << text;
  const std::string negative = spec_error(
      [](GgufWriter& w) { w.i32("llama.block_count", -1).u32("llama.embedding_length", 64); });
  EXPECT_TRUE(contains(negative, "'llama.block_count' is -1, not a whole number")) << negative;
}

TEST_F(ModelSpecTest, ZeroWidthIsOutOfRange) {
  const std::string message = spec_error(
      [](GgufWriter& w) { w.u32("llama.block_count", 2).u32("llama.embedding_length", 0); });
  EXPECT_TRUE(contains(message, "'llama.embedding_length' is 0, out of range: allowed 1 to"))
      << message;
}

TEST_F(ModelSpecTest, HugeHeadCountIsOutOfRange) {
  const std::string message = spec_error([](GgufWriter& w) {
    w.u32("llama.block_count", 2)
        .u32("llama.embedding_length", 64)
        .u64("llama.attention.head_count", 1ull << 33);
  });
  EXPECT_TRUE(contains(message,
                       "'llama.attention.head_count' is 8589934592, out of range: "
                       "allowed 0 to 4294967295"))
      << message;
}

TEST_F(ModelSpecTest, HugeKeyLengthIsOutOfRange) {
  const std::string message = spec_error([](GgufWriter& w) {
    valid_keys(w);
    w.u64("llama.attention.key_length", 1ull << 40);
  });
  EXPECT_TRUE(contains(message, "'llama.attention.key_length' is 1099511627776, out of range"))
      << message;
}

TEST_F(ModelSpecTest, ZeroHeadCountIsCorrupt) {
  const std::string message = spec_error([](GgufWriter& w) {
    w.u32("llama.block_count", 2)
        .u32("llama.embedding_length", 64)
        .u32("llama.attention.head_count", 0)
        .tensor("token_embd.weight", {64, 10}, 0, 64 * 10 * 4);
  });
  EXPECT_TRUE(contains(message,
                       "m.gguf: metadata key 'llama.attention.head_count' is 0 in every "
                       "layer"))
      << message;
  EXPECT_TRUE(contains(message, "at least 1 attention head")) << message;
}

TEST_F(ModelSpecTest, ZeroKvHeadsIsCorrupt) {
  const std::string message = spec_error([](GgufWriter& w) {
    w.u32("llama.block_count", 2)
        .u32("llama.embedding_length", 64)
        .u32("llama.attention.head_count", 4)
        .u32("llama.attention.head_count_kv", 0)
        .tensor("token_embd.weight", {64, 10}, 0, 64 * 10 * 4);
  });
  EXPECT_TRUE(contains(message,
                       "metadata key 'llama.attention.head_count_kv' is 0 in every "
                       "layer"))
      << message;
}

TEST_F(ModelSpecTest, MoreKvHeadsThanHeadsIsCorrupt) {
  const std::string message = spec_error([](GgufWriter& w) {
    w.u32("llama.block_count", 2)
        .u32("llama.embedding_length", 64)
        .u32("llama.attention.head_count", 4)
        .u32("llama.attention.head_count_kv", 8);
  });
  EXPECT_TRUE(contains(message,
                       "metadata key 'llama.attention.head_count_kv' is 8, more than the "
                       "4 of 'llama.attention.head_count'"))
      << message;
}

TEST_F(ModelSpecTest, KvHeadsNotDividingHeadsIsCorrupt) {
  const std::string message = spec_error([](GgufWriter& w) {
    w.u32("llama.block_count", 2)
        .u32("llama.embedding_length", 96)
        .u32("llama.attention.head_count", 6)
        .u32("llama.attention.head_count_kv", 4);
  });
  EXPECT_TRUE(contains(message,
                       "'llama.attention.head_count_kv' is 4, which does not divide the "
                       "6 of 'llama.attention.head_count'"))
      << message;
}

TEST_F(ModelSpecTest, PerLayerZeroHeadNamesLayer) {
  const std::string message = spec_error([](GgufWriter& w) {
    w.u32("llama.block_count", 2)
        .u32("llama.embedding_length", 64)
        .u32_array("llama.attention.head_count", {4, 0})
        .u32_array("llama.attention.head_count_kv", {2, 2});
  });
  EXPECT_TRUE(contains(message,
                       "metadata key 'llama.attention.head_count[1]' is 0 while "
                       "'llama.attention.head_count_kv[1]' is 2"))
      << message;
}

TEST_F(ModelSpecTest, ZeroHeadLengthsAreCorrupt) {
  for (const std::string key : {"llama.attention.key_length", "llama.attention.value_length"}) {
    const std::string message = spec_error([&key](GgufWriter& w) {
      valid_keys(w);
      w.u32(key, 0);
    });
    EXPECT_TRUE(contains(message, "m.gguf: metadata key '" + key + "' is 0")) << message;
    EXPECT_TRUE(contains(message, "head length of at least 1")) << message;
  }
}

TEST_F(ModelSpecTest, DerivedZeroHeadLengthIsCorrupt) {
  const std::string message = spec_error([](GgufWriter& w) {
    w.u32("llama.block_count", 2)
        .u32("llama.embedding_length", 2)
        .u32("llama.attention.head_count", 4);
  });
  EXPECT_TRUE(contains(message,
                       "metadata key 'llama.attention.key_length' is missing and "
                       "'llama.embedding_length' 2 / 'llama.attention.head_count' 4 "
                       "gives a head length of 0"))
      << message;
}

TEST_F(ModelSpecTest, NoTensorsIsCorrupt) {
  const std::string message = spec_error([](GgufWriter& w) { valid_keys(w); });
  EXPECT_TRUE(contains(message, "m.gguf: the file lists no tensors")) << message;
}

TEST_F(ModelSpecTest, ValidModelIsAccepted) {
  Result<ModelSpec> spec = spec_of([](GgufWriter& w) {
    valid_keys(w);
    w.u32("llama.context_length", 4096);
  });
  ASSERT_TRUE(spec.is_ok()) << spec.status().to_string();
  EXPECT_EQ(spec->context_length, 4096u);
  EXPECT_EQ(spec->key_length, 16u);
  EXPECT_TRUE(spec->notes.empty());
}

TEST_F(ModelSpecTest, UnknownContextLengthHasNote) {
  Result<ModelSpec> missing = spec_of([](GgufWriter& w) { valid_keys(w); });
  ASSERT_TRUE(missing.is_ok()) << missing.status().to_string();
  EXPECT_EQ(missing->context_length, 0u);
  ASSERT_EQ(missing->notes.size(), 1u);
  EXPECT_TRUE(contains(missing->notes[0],
                       "'llama.context_length' is missing: the training "
                       "context is unknown"))
      << missing->notes[0];

  Result<ModelSpec> zero = spec_of([](GgufWriter& w) {
    valid_keys(w);
    w.u32("llama.context_length", 0);
  });
  ASSERT_TRUE(zero.is_ok()) << zero.status().to_string();
  EXPECT_EQ(zero->context_length, 0u);
  ASSERT_EQ(zero->notes.size(), 1u);
  EXPECT_TRUE(contains(zero->notes[0],
                       "'llama.context_length' is 0: the training context is "
                       "unknown"))
      << zero->notes[0];
}

TEST_F(ModelSpecTest, NegativeContextLengthIsCorrupt) {
  const std::string message = spec_error([](GgufWriter& w) {
    valid_keys(w);
    w.i32("llama.context_length", -1);
  });
  EXPECT_TRUE(contains(message, "'llama.context_length' is -1, not a whole number")) << message;
}

TEST_F(ModelSpecTest, HybridLayersWithoutKvKey) {
  // A hybrid model without head_count_kv: the layers with 0 heads are its recurrent layers.
  Result<ModelSpec> spec = spec_of([](GgufWriter& w) {
    w.u32("llama.block_count", 2)
        .u32("llama.embedding_length", 64)
        .u32("llama.context_length", 4096)
        .u32_array("llama.attention.head_count", {0, 4})
        .u32("llama.ssm.state_size", 16)
        .u32("llama.ssm.inner_size", 128)
        .u32("llama.ssm.conv_kernel", 4);
  });
  ASSERT_TRUE(spec.is_ok()) << spec.status().to_string();
  EXPECT_EQ(spec->head_count_kv, (std::vector<uint32_t>{0, 4}));
  EXPECT_EQ(spec->recurrent_layers, (std::vector<bool>{true, false}));
  EXPECT_EQ(attention_layer_count(*spec), 1u);
}

TEST_F(ModelSpecTest, ShowZeroHeadCountIsCorrupt) {
  const nlohmann::json show = {{"model_info",
                                {{"general.architecture", "llama"},
                                 {"llama.block_count", 2},
                                 {"llama.embedding_length", 64},
                                 {"llama.attention.head_count", 0}}}};
  Result<ModelSpec> spec = spec_from_show(show, "m:1b");
  ASSERT_FALSE(spec.is_ok());
  EXPECT_EQ(spec.status().code(), ErrorCode::kCorrupt);
  EXPECT_TRUE(contains(spec.status().message(),
                       "m:1b (ollama /api/show): metadata key "
                       "'llama.attention.head_count' is 0 in every "
                       "layer"))
      << spec.status().message();
}

TEST_F(ModelSpecTest, ShowWithoutTensorsIsAccepted) {
  const nlohmann::json show = {{"model_info",
                                {{"general.architecture", "llama"},
                                 {"llama.block_count", 2},
                                 {"llama.embedding_length", 64},
                                 {"llama.context_length", 4096},
                                 {"llama.attention.head_count", 4}}}};
  Result<ModelSpec> spec = spec_from_show(show, "m:1b", 1000);
  ASSERT_TRUE(spec.is_ok()) << spec.status().to_string();
  EXPECT_EQ(spec->weights_bytes, 1000u);
}

}  // namespace
}  // namespace ollamaflow::model
