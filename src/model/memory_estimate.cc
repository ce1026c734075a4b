#include "model/memory_estimate.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/count_text.h"

namespace ollamaflow::model {
namespace {

constexpr uint64_t kMiB = 1024ull * 1024ull;

// llama.cpp pads the sliding-window cache of each sequence to 256 cells (llama-kv-cache-iswa.cpp).
constexpr uint64_t kSlidingPadding = 256;

// Architectures whose compute graph follows Ollama's llama formula (fs/ggml GraphSize).
bool uses_llama_graph(const std::string& architecture) {
  return architecture == "llama" || architecture == "llama4";
}

uint64_t pad_up(uint64_t value, uint64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

uint32_t max_of(const std::vector<uint32_t>& values) {
  return values.empty() ? 0 : *std::max_element(values.begin(), values.end());
}

uint32_t min_nonzero(const std::vector<uint32_t>& values) {
  uint32_t min = 0;
  for (uint32_t v : values) {
    if (v > 0 && (min == 0 || v < min))
      min = v;
  }
  return min;
}

MemoryEstimate estimate_from_table(const ModelSpec& spec, const EstimateOptions& options,
                                   const GgmlType& cache_k, const GgmlType& cache_v) {
  const TableEntry& entry = *spec.table;
  MemoryEstimate estimate;
  estimate.from_table = true;
  estimate.table_source = spec.source.rfind("configuration", 0) == 0
                              ? "configuration model_requirements"
                              : "built-in table";
  estimate.graph_formula = estimate.table_source;
  // The table's minimum covers the weights and the graph at its own context. The step to the
  // recommended figure is one slot's f16 cache at that context, scaled to the requested context
  // and cache types. K and V count half each, as in models whose key and value lengths match.
  estimate.weights = static_cast<uint64_t>(entry.min_memory_mb * static_cast<double>(kMiB));
  double slot_mb = std::max(0.0, entry.recommended_memory_mb - entry.min_memory_mb);
  double scale = entry.context_length > 0 ? static_cast<double>(options.ctx_per_slot) /
                                                static_cast<double>(entry.context_length)
                                          : 1.0;
  const double f16_bytes = bytes_per_element(*ggml_type_by_name("f16"));
  const double cache_scale =
      (bytes_per_element(cache_k) + bytes_per_element(cache_v)) / (2 * f16_bytes);
  estimate.kv_per_slot =
      static_cast<uint64_t>(slot_mb * scale * cache_scale * static_cast<double>(kMiB));
  estimate.kv_cache = estimate.kv_per_slot * options.parallel;
  estimate.notes.push_back(
      fmt::format("no model metadata: figures from the {} "
                  "({:.0f} MiB minimum, {:.0f} MiB recommended at {} tokens), "
                  "an estimate",
                  estimate.table_source, entry.min_memory_mb, entry.recommended_memory_mb,
                  entry.context_length));
  return estimate;
}

}  // namespace

std::string device_kind_name(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::kCuda:
      return "cuda";
    case DeviceKind::kRocm:
      return "rocm";
    case DeviceKind::kMetal:
      return "metal";
    case DeviceKind::kOtherGpu:
      return "gpu";
    case DeviceKind::kCpu:
      return "cpu";
  }
  return "gpu";
}

uint64_t device_reserve_bytes(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::kMetal:
      return 512 * kMiB;
    case DeviceKind::kCpu:
      return 0;
    case DeviceKind::kCuda:
    case DeviceKind::kRocm:
    case DeviceKind::kOtherGpu:
      return 457 * kMiB;
  }
  return 457 * kMiB;
}

uint64_t kv_cache_bytes(const ModelSpec& spec, uint64_t ctx_per_slot, uint32_t parallel,
                        const GgmlType& cache_k, const GgmlType& cache_v, uint32_t batch) {
  uint64_t total = 0;
  for (uint32_t layer = 0; layer < spec.block_count; ++layer) {
    uint32_t kv_heads = layer < spec.head_count_kv.size() ? spec.head_count_kv[layer] : 0;
    bool recurrent = layer < spec.recurrent_layers.size() && spec.recurrent_layers[layer];
    if (kv_heads == 0 || recurrent)
      continue;
    uint64_t tokens = ctx_per_slot;
    if (layer < spec.sliding_layers.size() && spec.sliding_layers[layer]) {
      uint64_t window =
          pad_up(std::min<uint64_t>(ctx_per_slot, spec.sliding_window + batch), kSlidingPadding);
      tokens = std::min(tokens, window);
    }
    uint64_t k_row = ggml_row_bytes(cache_k, uint64_t{spec.key_length} * kv_heads).value_or(0);
    uint64_t v_row = ggml_row_bytes(cache_v, uint64_t{spec.value_length} * kv_heads).value_or(0);
    total += tokens * parallel * (k_row + v_row);
  }
  return total;
}

uint64_t recurrent_state_bytes(const ModelSpec& spec) {
  const SsmParams& ssm = spec.ssm;
  if (ssm.state_size == 0)
    return 0;
  uint64_t conv = ssm.conv_kernel > 0 ? ssm.conv_kernel - 1 : 0;
  uint64_t per_layer = (conv * (ssm.inner_size + 2 * ssm.group_count * ssm.state_size) +
                        ssm.state_size * ssm.inner_size) *
                       4;
  uint64_t layers = std::count(spec.recurrent_layers.begin(), spec.recurrent_layers.end(), true);
  return per_layer * layers;
}

uint64_t graph_bytes(const ModelSpec& spec, uint64_t ctx_per_slot, uint32_t parallel,
                     uint32_t batch, uint64_t kv_total, std::string& formula) {
  uint64_t b = std::min<uint64_t>(ctx_per_slot, batch);
  uint64_t e = spec.embedding_length;
  uint64_t v = spec.vocab_size;
  uint64_t c = ctx_per_slot * parallel;
  uint64_t output = 4 * b * (e + v);
  if (uses_llama_graph(spec.architecture)) {
    formula = "llama";
    uint64_t heads = max_of(spec.head_count);
    uint64_t attention = 4 * b * (1 + 4 * e + c * (1 + heads));
    return std::max(attention, output);
  }
  // Ollama's fallback for architectures without their own formula: the KV cache scaled by the
  // query-to-KV head ratio over 6, and at least the output logits buffer.
  formula = "fallback";
  uint32_t heads = max_of(spec.head_count);
  uint32_t kv_heads = min_nonzero(spec.head_count_kv);
  double ratio = kv_heads > 0 ? static_cast<double>(heads) / kv_heads : 1.0;
  auto scaled = static_cast<uint64_t>(ratio * static_cast<double>(kv_total) / 6.0);
  return std::max(scaled, output);
}

Result<MemoryEstimate> estimate_memory(const ModelSpec& spec, const EstimateOptions& options) {
  if (options.ctx_per_slot == 0 || options.parallel == 0) {
    return Result<MemoryEstimate>(
        ErrorCode::kInvalidArgument,
        fmt::format("invalid context {} x {}: both must be at least 1", options.ctx_per_slot,
                    count_text(options.parallel, "slot")));
  }
  const GgmlType& cache_k = options.cache_k ? *options.cache_k : *ggml_type_by_name("f16");
  const GgmlType& cache_v = options.cache_v ? *options.cache_v : *ggml_type_by_name("f16");

  MemoryEstimate estimate;
  if (spec.table) {
    estimate = estimate_from_table(spec, options, cache_k, cache_v);
  } else {
    estimate.weights = spec.weights_bytes;
    estimate.kv_cache = kv_cache_bytes(spec, options.ctx_per_slot, options.parallel, cache_k,
                                       cache_v, options.batch);
    estimate.kv_per_slot = estimate.kv_cache / options.parallel;
    // NOTE: llama.cpp keeps one recurrent state per sequence, so with P slots it allocates P
    // states; this follows Ollama's estimate, which counts one.
    estimate.recurrent_state = recurrent_state_bytes(spec);
    estimate.graph = graph_bytes(spec, options.ctx_per_slot, options.parallel, options.batch,
                                 estimate.kv_cache, estimate.graph_formula);
  }
  estimate.ctx_per_slot = options.ctx_per_slot;
  estimate.parallel = options.parallel;
  estimate.total_ctx = options.ctx_per_slot * options.parallel;
  estimate.cache_type_k = std::string(cache_k.name);
  estimate.cache_type_v = std::string(cache_v.name);
  estimate.device_kind = device_kind_name(options.device);
  estimate.reserve = device_reserve_bytes(options.device);
  estimate.buffer = options.buffer_bytes;
  if (options.device_total_bytes) {
    estimate.safety_margin = static_cast<uint64_t>(
        std::llround(options.safety_margin * static_cast<double>(*options.device_total_bytes)));
  }
  if (spec.context_length > 0 && options.ctx_per_slot > spec.context_length) {
    estimate.notes.push_back(fmt::format("the context {} exceeds the model's training context {}",
                                         options.ctx_per_slot, spec.context_length));
  }
  if (cache_type_is_quantized(cache_v)) {
    estimate.notes.push_back(
        "a quantized V cache needs flash attention (llama-server -fa on, "
        "OLLAMA_FLASH_ATTENTION=1)");
  }
  if (!spec.table && !uses_llama_graph(spec.architecture)) {
    estimate.notes.push_back(
        fmt::format("no compute-graph formula for '{}': the fallback may "
                    "underestimate it",
                    spec.architecture));
  }
  estimate.notes.insert(estimate.notes.end(), spec.notes.begin(), spec.notes.end());
  return estimate;
}

}  // namespace ollamaflow::model
