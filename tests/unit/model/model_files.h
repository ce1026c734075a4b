// GGUF images of llama-shaped models for the model tests and the benchmarks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "unit/model/gguf_writer.h"

namespace ollamaflow::testing {

struct LlamaShape {
  std::string architecture = "llama";
  uint32_t layers = 2;
  uint32_t width = 64;
  uint32_t heads = 4;
  uint32_t kv_heads = 2;
  uint32_t context = 4096;
  uint32_t vocab = 1000;
  uint32_t extra_tensors = 0;  // more small f32 tensors, to reach a tensor count
  // <arch>.attention.sliding_window in tokens, written when not 0. The sliding layers follow the
  // architecture's pattern, such as every other layer for "gemma2".
  uint32_t sliding_window = 0;
  bool with_data = true;
};

// Returns a GGUF image with the llama metadata, a vocabulary of `vocab` tokens and per-layer
// f16 attention and feed-forward tensors.
inline std::string make_llama_gguf(const LlamaShape& shape) {
  GgufWriter writer;
  const std::string& a = shape.architecture;
  writer.str("general.architecture", a)
      .str("general.name", "test model")
      .u32("general.alignment", 32)
      .u32(a + ".block_count", shape.layers)
      .u32(a + ".context_length", shape.context)
      .u32(a + ".embedding_length", shape.width)
      .u32(a + ".feed_forward_length", shape.width * 4)
      .u32(a + ".attention.head_count", shape.heads)
      .u32(a + ".attention.head_count_kv", shape.kv_heads)
      .f32(a + ".attention.layer_norm_rms_epsilon", 1e-5f);
  if (shape.sliding_window > 0) {
    writer.u32(a + ".attention.sliding_window", shape.sliding_window);
  }
  std::vector<std::string> tokens;
  tokens.reserve(shape.vocab);
  for (uint32_t i = 0; i < shape.vocab; ++i)
    tokens.push_back("tok" + std::to_string(i));
  writer.str("tokenizer.ggml.model", "gpt2").string_array("tokenizer.ggml.tokens", tokens);

  uint64_t w = shape.width;
  uint64_t kv = w / shape.heads * shape.kv_heads;
  writer.tensor("token_embd.weight", {w, shape.vocab}, 1, w * shape.vocab * 2);
  for (uint32_t l = 0; l < shape.layers; ++l) {
    std::string p = "blk." + std::to_string(l) + ".";
    writer.tensor(p + "attn_q.weight", {w, w}, 1, w * w * 2)
        .tensor(p + "attn_k.weight", {w, kv}, 1, w * kv * 2)
        .tensor(p + "attn_v.weight", {w, kv}, 1, w * kv * 2)
        .tensor(p + "attn_output.weight", {w, w}, 1, w * w * 2)
        .tensor(p + "ffn_up.weight", {w, 4 * w}, 1, w * 4 * w * 2)
        .tensor(p + "ffn_down.weight", {4 * w, w}, 1, w * 4 * w * 2)
        .tensor(p + "attn_norm.weight", {w}, 0, w * 4);
  }
  for (uint32_t i = 0; i < shape.extra_tensors; ++i) {
    writer.tensor("extra." + std::to_string(i) + ".weight", {w}, 0, w * 4);
  }
  writer.tensor("output_norm.weight", {w}, 0, w * 4);
  if (!shape.with_data)
    writer.omit_data();
  return writer.build();
}

}  // namespace ollamaflow::testing
