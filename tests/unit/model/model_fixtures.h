// Model specs with the shapes of real models, for the estimate and capacity tests.
#pragma once

#include <cstdint>
#include <string>

#include "model/model_spec.h"

namespace ollamaflow::model::fixtures {

constexpr uint64_t kMiB = 1024ull * 1024;
constexpr uint64_t kGiB = 1024 * kMiB;

// A dense model with the same head counts on every layer.
inline ModelSpec dense(const std::string& architecture, uint32_t layers, uint64_t width,
                       uint32_t heads, uint32_t kv_heads, uint32_t head_dim, uint64_t vocab,
                       uint64_t weights) {
  ModelSpec spec;
  spec.name = architecture + "-test";
  spec.architecture = architecture;
  spec.block_count = layers;
  spec.embedding_length = width;
  spec.vocab_size = vocab;
  spec.head_count.assign(layers, heads);
  spec.head_count_kv.assign(layers, kv_heads);
  spec.key_length = head_dim;
  spec.value_length = head_dim;
  spec.sliding_layers.assign(layers, false);
  spec.recurrent_layers.assign(layers, false);
  spec.weights_bytes = weights;
  spec.context_length = 131072;
  return spec;
}

// Llama 3.1 8B Q4_0: 32 layers, width 4096, 32 heads, 8 KV heads of 128, 128,256 tokens,
// 4.3 GiB of weights (Ollama's log in the source issue).
inline ModelSpec llama31_8b() {
  return dense("llama", 32, 4096, 32, 8, 128, 128256,
               static_cast<uint64_t>(4.3 * static_cast<double>(kGiB)));
}

// granite3.3:2b: 40 layers, 8 KV heads of 64.
inline ModelSpec granite33_2b() {
  return dense("granite", 40, 2048, 32, 8, 64, 49159, 1 * kGiB);
}

}  // namespace ollamaflow::model::fixtures
