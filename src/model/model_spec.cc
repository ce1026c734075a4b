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
          fmt::format("{}: metadata key '{}' is missing; {}", file.path, key, why)};
}

// Returns a metadata value as text for messages: numbers as they are, strings quoted, other
// values by their GGUF type.
std::string value_text(const GgufValue& value) {
  if (const auto* u = std::get_if<uint64_t>(&value.data)) {
    return std::to_string(*u);
  }
  if (const auto* i = std::get_if<int64_t>(&value.data)) {
    return std::to_string(*i);
  }
  if (const auto* d = std::get_if<double>(&value.data)) {
    return fmt::format("{}", *d);
  }
  if (const std::string* text = value.as_string()) {
    return "\"" + text->substr(0, 40) + (text->size() > 40 ? "...\"" : "\"");
  }
  return fmt::format("a value of type {}", gguf_type_name(value.type));
}

// Returns the whole number of `value`, or kCorrupt naming the key and the value when it is not
// one from `min` to `max`.
Result<uint64_t> bounded_count(const GgufFile& file, const std::string& key, const GgufValue& value,
                               uint64_t min, uint64_t max) {
  const std::optional<uint64_t> number = value.as_uint();
  if (!number) {
    return Status(ErrorCode::kCorrupt,
                  fmt::format("{}: metadata key '{}' is {}, not a whole number from {} to {}",
                              file.path, key, value_text(value), min, max));
  }
  if (*number < min || *number > max) {
    return Status(ErrorCode::kCorrupt,
                  fmt::format("{}: metadata key '{}' is {}, out of range: allowed {} to {}",
                              file.path, key, *number, min, max));
  }
  return *number;
}

// Returns the key's whole number from `min` to `max`, `fallback` when the key is absent, or
// kCorrupt naming the key and the value.
Result<uint64_t> read_count(const GgufFile& file, const std::string& key, uint64_t fallback,
                            uint64_t min = 0, uint64_t max = UINT32_MAX) {
  const GgufValue* value = file.find(key);
  return value == nullptr ? Result<uint64_t>(fallback) : bounded_count(file, key, *value, min, max);
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
  if (value->as_array() == nullptr) {
    Result<uint64_t> scalar = bounded_count(file, key, *value, 0, UINT32_MAX);
    if (!scalar) {
      return scalar.status();
    }
    return Values(layers, static_cast<uint32_t>(*scalar));
  }
  const GgufArray* array = value->as_array();
  if (array->length != layers || array->items.size() != layers) {
    return Result<Values>(ErrorCode::kCorrupt,
                          fmt::format("{}: '{}' must be a number or an array of {} entries, one "
                                      "per layer",
                                      file.path, key, layers));
  }
  Values values;
  for (size_t i = 0; i < array->items.size(); ++i) {
    const std::string entry = fmt::format("{}[{}]", key, i);
    Result<uint64_t> number = bounded_count(file, entry, array->items[i], 0, UINT32_MAX);
    if (!number) {
      return number.status();
    }
    values.push_back(static_cast<uint32_t>(*number));
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

// Returns the key of layer `layer` as messages name it: "KEY[i]" when the file has a per-layer
// array, else "KEY".
std::string layer_key(const GgufFile& file, const std::string& key, uint32_t layer) {
  const GgufValue* value = file.find(key);
  const bool per_layer_array = value != nullptr && value->as_array() != nullptr;
  return per_layer_array ? fmt::format("{}[{}]", key, layer) : key;
}

// Checks the head counts that size the KV cache. A layer with KV heads needs query heads, at
// least as many as its KV heads and a whole multiple of them, because llama.cpp shares each KV
// head among the same number of query heads (ggml_mul_mat broadcasts only whole multiples). A
// model without recurrent layers needs at least one attention layer.
Status check_heads(const GgufFile& file, const ModelSpec& spec) {
  const std::string& a = spec.architecture;
  const std::string heads_key = a + ".attention.head_count";
  const std::string kv_key = a + ".attention.head_count_kv";
  for (uint32_t i = 0; i < spec.block_count; ++i) {
    const uint32_t heads = spec.head_count[i];
    const uint32_t kv_heads = spec.head_count_kv[i];
    if (kv_heads == 0) {
      continue;
    }
    if (heads == 0) {
      return {ErrorCode::kCorrupt,
              fmt::format("{}: metadata key '{}' is 0 while '{}' is {}: a layer with KV heads "
                          "needs at least 1 attention head",
                          file.path, layer_key(file, heads_key, i), layer_key(file, kv_key, i),
                          kv_heads)};
    }
    if (kv_heads > heads) {
      return {ErrorCode::kCorrupt,
              fmt::format("{}: metadata key '{}' is {}, more than the {} of '{}': a valid model "
                          "has at most as many KV heads as attention heads",
                          file.path, layer_key(file, kv_key, i), kv_heads, heads,
                          layer_key(file, heads_key, i))};
    }
    if (heads % kv_heads != 0) {
      return {ErrorCode::kCorrupt,
              fmt::format("{}: metadata key '{}' is {}, which does not divide the {} of '{}': a "
                          "valid model shares each KV head among a whole number of attention "
                          "heads",
                          file.path, layer_key(file, kv_key, i), kv_heads, heads,
                          layer_key(file, heads_key, i))};
    }
  }
  const bool recurrent_model = spec.ssm.state_size > 0;
  if (recurrent_model || attention_layer_count(spec) > 0) {
    return Status::ok();
  }
  // No layer has KV heads and no layer is recurrent, so the KV cache would be 0 bytes.
  const bool no_heads = *std::max_element(spec.head_count.begin(), spec.head_count.end()) == 0;
  const std::string& key = no_heads || file.find(kv_key) == nullptr ? heads_key : kv_key;
  return {ErrorCode::kCorrupt,
          fmt::format("{}: metadata key '{}' is 0 in every layer: a valid model without "
                      "recurrent layers has at least 1 attention head and 1 KV head per "
                      "attention layer, so the KV cache cannot be sized",
                      file.path, key)};
}

// Checks the per-head key and value lengths of a model with attention layers. An absent key
// takes embedding_length / head_count, which is 0 when the width is less than the head count.
Status check_head_lengths(const GgufFile& file, const ModelSpec& spec, uint32_t min_heads) {
  if (attention_layer_count(spec) == 0) {
    return Status::ok();
  }
  const std::string& a = spec.architecture;
  for (const auto& [key, length] : {std::pair{a + ".attention.key_length", spec.key_length},
                                    std::pair{a + ".attention.value_length", spec.value_length}}) {
    if (length > 0) {
      continue;
    }
    if (file.find(key) != nullptr) {
      return {ErrorCode::kCorrupt,
              fmt::format("{}: metadata key '{}' is 0: a valid model with attention layers has "
                          "a head length of at least 1",
                          file.path, key)};
    }
    return {ErrorCode::kCorrupt,
            fmt::format("{}: metadata key '{}' is missing and '{}.embedding_length' {} / "
                        "'{}.attention.head_count' {} gives a head length of 0: a valid model "
                        "has at least as many embedding dimensions as attention heads",
                        file.path, key, a, spec.embedding_length, a, min_heads)};
  }
  return Status::ok();
}

// Reads the training context. A missing or zero value leaves it unknown (0) with a note, so that
// no context request is checked or capped against it.
Status read_context_length(const GgufFile& file, ModelSpec& spec) {
  const std::string key = spec.architecture + ".context_length";
  Result<uint64_t> context = read_count(file, key, 0);
  if (!context) {
    return context.status();
  }
  spec.context_length = *context;
  if (spec.context_length == 0) {
    spec.notes.push_back(
        fmt::format("metadata key '{}' is {}: the training context is unknown, "
                    "so the requested context is not checked against it",
                    key, file.find(key) == nullptr ? "missing" : "0"));
  }
  return Status::ok();
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
  // Without head_count_kv every layer has as many KV heads as attention heads, as llama.cpp
  // reads it (llama-model.cpp, n_head_kv_arr starts as a copy of n_head_arr).
  if (file.find(a + ".attention.head_count_kv") == nullptr) {
    spec.head_count_kv = spec.head_count;
  } else {
    Result<std::vector<uint32_t>> kv_heads =
        per_layer(file, a + ".attention.head_count_kv", spec.block_count, std::nullopt);
    if (!kv_heads)
      return kv_heads.status();
    spec.head_count_kv = *kv_heads;
  }

  uint32_t min_heads = UINT32_MAX;
  for (uint32_t h : spec.head_count) {
    if (h > 0)
      min_heads = std::min(min_heads, h);
  }
  uint64_t head_dim = min_heads == UINT32_MAX ? 0 : spec.embedding_length / min_heads;
  Result<uint64_t> key_length = read_count(file, a + ".attention.key_length", head_dim);
  if (!key_length) {
    return key_length.status();
  }
  Result<uint64_t> value_length = read_count(file, a + ".attention.value_length", head_dim);
  if (!value_length) {
    return value_length.status();
  }
  spec.key_length = static_cast<uint32_t>(*key_length);
  spec.value_length = static_cast<uint32_t>(*value_length);
  if (Status s = check_heads(file, spec); !s) {
    return s;
  }
  if (Status s = check_head_lengths(file, spec, min_heads); !s) {
    return s;
  }

  spec.recurrent_layers.assign(spec.block_count, false);
  for (uint32_t i = 0; i < spec.block_count; ++i) {
    spec.recurrent_layers[i] = recurrent_model && spec.head_count_kv[i] == 0;
  }
  Result<uint64_t> sliding_window = read_count(file, a + ".attention.sliding_window", 0);
  if (!sliding_window) {
    return sliding_window.status();
  }
  spec.sliding_window = static_cast<uint32_t>(*sliding_window);
  spec.sliding_layers = sliding_layers(file, spec);
  return Status::ok();
}

}  // namespace

Result<ModelSpec> spec_from_gguf(const GgufFile& file, const std::string& name) {
  Result<ModelSpec> spec = spec_from_metadata(file, name);
  if (!spec) {
    return spec;
  }
  if (file.tensors.empty()) {
    return Result<ModelSpec>(
        ErrorCode::kCorrupt,
        fmt::format("{}: the file lists no tensors, so the weights cannot be sized: a valid model "
                    "file lists its weight tensors (token_embd.weight and the blk.N tensors of "
                    "each layer); convert the model again or pass the complete file",
                    file.path));
  }
  return spec;
}

Result<ModelSpec> spec_from_metadata(const GgufFile& file, const std::string& name) {
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
  if (file.find(a + ".block_count") == nullptr) {
    return Result<ModelSpec>(missing(file, a + ".block_count", "the layer count is needed"));
  }
  Result<uint64_t> layers = read_count(file, a + ".block_count", 0, 1, kMaxLayers);
  if (!layers) {
    return layers.status();
  }
  spec.block_count = static_cast<uint32_t>(*layers);
  if (file.find(a + ".embedding_length") == nullptr) {
    return Result<ModelSpec>(missing(file, a + ".embedding_length", "the width is needed"));
  }
  Result<uint64_t> width = read_count(file, a + ".embedding_length", 0, 1, UINT32_MAX);
  if (!width) {
    return width.status();
  }
  spec.embedding_length = *width;
  if (Status s = read_context_length(file, spec); !s) {
    return s;
  }
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
