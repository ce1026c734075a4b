// Writes small llama-architecture GGUF models with random weights for tests against the real
// llama-server, in attention layouts other than the shipped tiny.gguf. The tokenizer metadata is
// copied unchanged from a model that has one (tiny.gguf carries Llama 3's), so the server loads
// the result as it loads that model.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "core/status.h"

namespace ollamaflow::testing {

// The shape of a llama-architecture model.
struct ModelLayout {
  std::string name;
  uint32_t layers = 2;
  uint32_t embedding = 64;
  uint32_t heads = 4;
  uint32_t kv_heads = 2;
  uint32_t head_size = 16;  // key and value length; a multiple of 32 allows q8_0 and q4_0 caches
  uint32_t feed_forward = 128;
  uint32_t context = 4096;
};

// Four layers, 8 query heads over 2 KV heads of size 32: a GQA ratio of 4 whose head size
// admits quantized KV caches.
ModelLayout gqa_layout();

// Three layers, 4 query heads with one KV head each (plain multi-head attention), head size 64.
ModelLayout mha_layout();

// Writes a model of `layout` to `out`, with the tokenizer of `tokenizer_source`. Returns
// kNotFound or kCorrupt naming the source when it cannot be read, kIoError when `out` cannot be
// written.
Status write_llama_model(const ModelLayout& layout, const std::filesystem::path& tokenizer_source,
                         const std::filesystem::path& out, uint64_t seed = 1);

}  // namespace ollamaflow::testing
