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

}  // namespace
}  // namespace ollamaflow::model
