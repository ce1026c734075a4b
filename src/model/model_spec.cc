#include "model/model_spec.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "model/ggml_type.h"

namespace ollamaflow::model {
namespace {

constexpr uint64_t kMaxLayers = 4096;

// Every n-th layer attends globally and the others use the sliding window, as llama.cpp sets the
// pattern per architecture (llama-model.cpp, set_swa_pattern).
const std::map<std::string, uint32_t, std::less<>> kSlidingPatterns = {
    {"gemma2", 2}, {"gemma3", 6}, {"cohere2", 4}, {"gpt-oss", 2}};

Status missing(const GgufFile& file, const std::string& key, const char* why) {
  return {ErrorCode::kCorrupt,
          fmt::format("{}: metadata key '{}' is missing or not a number; {}", file.path, key, why)};
}

// Reads a scalar or per-layer array into `layers` entries. Absent keys give `fallback`.
Result<std::vector<uint32_t>> per_layer(const GgufFile& file, const std::string& key,
                                        uint32_t layers, std::optional<uint32_t> fallback) {
  using Values = std::vector<uint32_t>;
  const GgufValue* value = file.find(key);
  if (value == nullptr) {
    if (!fallback)
      return Result<Values>(missing(file, key, "the KV cache cannot be sized"));
    return Values(layers, *fallback);
  }
  if (std::optional<uint64_t> scalar = value->as_uint()) {
    return Values(layers, static_cast<uint32_t>(std::min<uint64_t>(*scalar, UINT32_MAX)));
  }
  const GgufArray* array = value->as_array();
  if (array == nullptr || array->length != layers || array->items.size() != layers) {
    return Result<Values>(ErrorCode::kCorrupt,
                          fmt::format("{}: '{}' must be a number or an array of {} entries, one "
                                      "per layer",
                                      file.path, key, layers));
  }
  Values values;
  for (const GgufValue& item : array->items) {
    std::optional<uint64_t> number = item.as_uint();
    if (!number) {
      return Result<Values>(ErrorCode::kCorrupt,
                            fmt::format("{}: '{}' holds a non-numeric entry", file.path, key));
    }
    values.push_back(static_cast<uint32_t>(std::min<uint64_t>(*number, UINT32_MAX)));
  }
  return values;
}

std::vector<bool> sliding_layers(const GgufFile& file, ModelSpec& spec) {
  uint32_t layers = spec.block_count;
  std::vector<bool> sliding(layers, false);
  if (spec.sliding_window == 0)
    return sliding;
  const GgufValue* pattern = file.find(spec.architecture + ".attention.sliding_window_pattern");
  if (const GgufArray* flags = pattern ? pattern->as_array() : nullptr;
      flags && flags->items.size() == layers) {
    for (uint32_t i = 0; i < layers; ++i) {
      const bool* flag = std::get_if<bool>(&flags->items[i].data);
      sliding[i] = flag ? *flag : flags->items[i].as_uint().value_or(0) != 0;
    }
    return sliding;
  }
  std::optional<uint64_t> every = pattern ? pattern->as_uint() : std::nullopt;
  if (!every) {
    auto known = kSlidingPatterns.find(spec.architecture);
    if (known != kSlidingPatterns.end())
      every = known->second;
  }
  if (!every || *every == 0) {
    spec.notes.push_back(
        fmt::format("sliding_window is {} but the layer pattern of '{}' is not "
                    "known; every layer is sized to the full context",
                    spec.sliding_window, spec.architecture));
    spec.sliding_window = 0;
    return sliding;
  }
  for (uint32_t i = 0; i < layers; ++i)
    sliding[i] = i % *every < *every - 1;
  return sliding;
}

void read_ssm(const GgufFile& file, ModelSpec& spec) {
  const std::string& a = spec.architecture;
  spec.ssm.conv_kernel = file.get_uint(a + ".ssm.conv_kernel").value_or(0);
  spec.ssm.inner_size = file.get_uint(a + ".ssm.inner_size").value_or(0);
  spec.ssm.state_size = file.get_uint(a + ".ssm.state_size").value_or(0);
  spec.ssm.group_count = file.get_uint(a + ".ssm.group_count").value_or(0);
}

Status read_attention(const GgufFile& file, ModelSpec& spec) {
  const std::string& a = spec.architecture;
  bool recurrent_model = spec.ssm.state_size > 0;
  std::optional<uint32_t> head_fallback =
      recurrent_model ? std::optional<uint32_t>(0) : std::nullopt;
  Result<std::vector<uint32_t>> heads =
      per_layer(file, a + ".attention.head_count", spec.block_count, head_fallback);
  if (!heads)
    return heads.status();
  spec.head_count = *heads;
  uint32_t max_heads = *std::max_element(spec.head_count.begin(), spec.head_count.end());
  Result<std::vector<uint32_t>> kv_heads =
      per_layer(file, a + ".attention.head_count_kv", spec.block_count, max_heads);
  if (!kv_heads)
    return kv_heads.status();
  spec.head_count_kv = *kv_heads;

  uint32_t min_heads = UINT32_MAX;
  for (uint32_t h : spec.head_count) {
    if (h > 0)
      min_heads = std::min(min_heads, h);
  }
  uint64_t head_dim = min_heads == UINT32_MAX ? 0 : spec.embedding_length / min_heads;
  spec.key_length =
      static_cast<uint32_t>(file.get_uint(a + ".attention.key_length").value_or(head_dim));
  spec.value_length =
      static_cast<uint32_t>(file.get_uint(a + ".attention.value_length").value_or(head_dim));

  spec.recurrent_layers.assign(spec.block_count, false);
  for (uint32_t i = 0; i < spec.block_count; ++i) {
    spec.recurrent_layers[i] = recurrent_model && spec.head_count_kv[i] == 0;
  }
  spec.sliding_window =
      static_cast<uint32_t>(file.get_uint(a + ".attention.sliding_window").value_or(0));
  spec.sliding_layers = sliding_layers(file, spec);
  return Status::ok();
}

}  // namespace

Result<ModelSpec> spec_from_gguf(const GgufFile& file, const std::string& name) {
  ModelSpec spec;
  spec.name = name;
  spec.source = "gguf:" + file.path;
  spec.file_size = file.file_size;
  spec.weights_bytes = file.tensor_bytes();
  spec.tensor_count = file.tensors.size();
  std::optional<std::string> arch = file.get_string("general.architecture");
  if (!arch || arch->empty()) {
    return Result<ModelSpec>(ErrorCode::kCorrupt,
                             fmt::format("{}: metadata key 'general.architecture' is missing; "
                                         "this is not a model file",
                                         file.path));
  }
  spec.architecture = *arch;
  spec.parameter_count = file.get_uint("general.parameter_count");
  spec.file_type = file.get_uint("general.file_type");

  const std::string& a = spec.architecture;
  std::optional<uint64_t> layers = file.get_uint(a + ".block_count");
  if (!layers || *layers == 0 || *layers > kMaxLayers) {
    return Result<ModelSpec>(missing(file, a + ".block_count", "the layer count is needed"));
  }
  spec.block_count = static_cast<uint32_t>(*layers);
  std::optional<uint64_t> width = file.get_uint(a + ".embedding_length");
  if (!width || *width == 0) {
    return Result<ModelSpec>(missing(file, a + ".embedding_length", "the width is needed"));
  }
  spec.embedding_length = *width;
  spec.context_length = file.get_uint(a + ".context_length").value_or(0);
  spec.vocab_size = file.get_uint(a + ".vocab_size")
                        .value_or(file.array_length("tokenizer.ggml.tokens").value_or(0));
  spec.embedding_only = file.find(a + ".pooling_type") != nullptr;
  read_ssm(file, spec);
  if (Status s = read_attention(file, spec); !s)
    return s;
  return spec;
}

uint32_t attention_layer_count(const ModelSpec& spec) {
  uint32_t count = 0;
  for (uint32_t i = 0; i < spec.block_count && i < spec.head_count_kv.size(); ++i) {
    if (spec.head_count_kv[i] > 0)
      ++count;
  }
  return count;
}

}  // namespace ollamaflow::model
