// What the memory estimate needs to know about a model, read from its GGUF header, from Ollama's
// /api/show, or from the built-in table.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "model/gguf.h"

namespace ollamaflow::model {

// State sizes of recurrent (Mamba-style) layers.
struct SsmParams {
  uint64_t conv_kernel = 0;
  uint64_t inner_size = 0;
  uint64_t state_size = 0;
  uint64_t group_count = 0;
};

// Memory figures of the built-in table, for models without metadata. MiB, at `context_length`.
struct TableEntry {
  double min_memory_mb = 0;
  double recommended_memory_mb = 0;
  uint64_t context_length = 0;
  std::string parameters;  // e.g. "8B"
};

struct ModelSpec {
  std::string name;          // the model name or file name the user gave
  std::string architecture;  // general.architecture, e.g. "llama"
  std::string source;        // "gguf:PATH", "ollama /api/show" or "built-in table (estimate)"
  uint64_t file_size = 0;
  uint64_t weights_bytes = 0;  // sum of tensor sizes
  uint64_t tensor_count = 0;
  std::optional<uint64_t> parameter_count;
  std::optional<uint64_t> file_type;  // general.file_type (llama_ftype)

  uint32_t block_count = 0;
  uint64_t embedding_length = 0;
  uint64_t context_length = 0;  // training context; 0 when unknown
  uint64_t vocab_size = 0;
  std::vector<uint32_t> head_count;     // per layer
  std::vector<uint32_t> head_count_kv;  // per layer; 0 marks a layer without attention
  uint32_t key_length = 0;              // per head
  uint32_t value_length = 0;            // per head
  uint32_t sliding_window = 0;          // tokens; 0 when no layer slides
  std::vector<bool> sliding_layers;     // per layer: attention limited to the window
  std::vector<bool> recurrent_layers;   // per layer: a fixed-size recurrent state, no KV cache
  SsmParams ssm;
  bool embedding_only = false;  // <arch>.pooling_type present: an embedding model

  std::optional<TableEntry> table;          // set for built-in table entries only
  std::optional<uint64_t> default_num_ctx;  // num_ctx from the Ollama params layer

  std::vector<std::string> notes;  // assumptions the spec had to make
};

// Builds the spec from a GGUF header. Returns kCorrupt naming the file, the key and its value
// when a required key (general.architecture, <arch>.block_count, <arch>.embedding_length,
// <arch>.attention.head_count) is missing, a per-layer array has the wrong length, the head
// counts or head lengths would size the KV cache to nothing (no attention layer in a model
// without recurrent layers, more KV heads than heads, KV heads that do not divide the heads, a
// zero key or value length), or the file lists no tensors. A missing or zero
// <arch>.context_length leaves context_length 0 (unknown) with a note.
Result<ModelSpec> spec_from_gguf(const GgufFile& file, const std::string& name);

// Builds the spec as spec_from_gguf does but accepts an empty tensor list, for /api/show
// replies without one.
Result<ModelSpec> spec_from_metadata(const GgufFile& file, const std::string& name);

// Builds the spec from an /api/show reply (best with verbose: true, which includes the
// per-layer arrays and the tensor list). Without a tensor list the weights are taken as
// `size_hint` bytes (the blob size from /api/tags) when given.
Result<ModelSpec> spec_from_show(const nlohmann::json& show, const std::string& name,
                                 std::optional<uint64_t> size_hint = std::nullopt);

// Converts /api/show's model_info and tensors into the GgufFile form that spec_from_gguf reads.
Result<GgufFile> gguf_from_show(const nlohmann::json& show, const std::string& name);

// Returns the number of layers that hold a KV cache.
uint32_t attention_layer_count(const ModelSpec& spec);

}  // namespace ollamaflow::model
