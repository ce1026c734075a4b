#include "fakes/llama_server_model.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

namespace ollamaflow::testing {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kAlignment = 32;  // GGUF's default general.alignment
constexpr uint32_t kTypeF32 = 0;
constexpr uint32_t kTypeF16 = 1;
constexpr uint32_t kValueString = 8;
constexpr uint32_t kValueArray = 9;

// Reads little-endian GGUF values from a byte buffer; a read past the end sets `failed`.
struct Cursor {
  const std::string& bytes;
  size_t at = 0;
  bool failed = false;

  uint64_t number(size_t width) {
    if (at + width > bytes.size()) {
      failed = true;
      return 0;
    }
    uint64_t value = 0;
    for (size_t i = 0; i < width; ++i) {
      value |= uint64_t(uint8_t(bytes[at + i])) << (8 * i);
    }
    at += width;
    return value;
  }
  std::string string() {
    const uint64_t length = number(8);
    if (failed || at + length > bytes.size()) {
      failed = true;
      return {};
    }
    std::string text = bytes.substr(at, length);
    at += length;
    return text;
  }
};

size_t scalar_width(uint32_t type) {
  static constexpr size_t kWidths[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
  return type < std::size(kWidths) ? kWidths[type] : 0;
}

// Skips one value of `type`; returns the element count for an array, else 0.
uint64_t skip_value(Cursor& cursor, uint32_t type, int depth = 0) {
  if (type == kValueString) {
    cursor.string();
    return 0;
  }
  if (type == kValueArray && depth < 4) {
    const uint32_t item_type = uint32_t(cursor.number(4));
    const uint64_t count = cursor.number(8);
    for (uint64_t i = 0; i < count && !cursor.failed; ++i) {
      skip_value(cursor, item_type, depth + 1);
    }
    return count;
  }
  const size_t width = scalar_width(type);
  if (width == 0) {
    cursor.failed = true;
  }
  cursor.number(width);
  return 0;
}

void put(std::string& out, uint64_t value, size_t width) {
  for (size_t i = 0; i < width; ++i) {
    out.push_back(char((value >> (8 * i)) & 0xff));
  }
}

void put_string(std::string& out, const std::string& text) {
  put(out, text.size(), 8);
  out += text;
}

struct Metadata {
  std::string bytes;
  uint64_t count = 0;

  void u32(const std::string& key, uint32_t value) {
    put_string(bytes, key);
    put(bytes, 4, 4);
    put(bytes, value, 4);
    ++count;
  }
  void f32(const std::string& key, float value) {
    uint32_t bits = 0;
    std::memcpy(&bits, &value, 4);
    put_string(bytes, key);
    put(bytes, 6, 4);
    put(bytes, bits, 4);
    ++count;
  }
  void str(const std::string& key, const std::string& value) {
    put_string(bytes, key);
    put(bytes, kValueString, 4);
    put_string(bytes, value);
    ++count;
  }
};

// Copies every tokenizer.* pair of `source` into `metadata` byte for byte and returns the
// vocabulary size, or 0 when the file is not a GGUF with a token list.
uint64_t copy_tokenizer(const std::string& source, Metadata& metadata) {
  Cursor cursor{source};
  if (source.compare(0, 4, "GGUF") != 0) {
    return 0;
  }
  cursor.at = 4;
  cursor.number(4);  // version
  cursor.number(8);  // tensor count
  const uint64_t pairs = cursor.number(8);
  uint64_t vocab = 0;
  for (uint64_t i = 0; i < pairs && !cursor.failed; ++i) {
    const size_t start = cursor.at;
    const std::string key = cursor.string();
    const uint32_t type = uint32_t(cursor.number(4));
    const uint64_t count = skip_value(cursor, type);
    if (key.rfind("tokenizer.", 0) == 0 && !cursor.failed) {
      metadata.bytes.append(source, start, cursor.at - start);
      ++metadata.count;
      if (key == "tokenizer.ggml.tokens") {
        vocab = count;
      }
    }
  }
  return cursor.failed ? 0 : vocab;
}

struct TensorSpec {
  std::string name;
  std::vector<uint64_t> dims;  // innermost first, as GGUF stores them
  uint32_t type = kTypeF16;    // f32 marks a norm weight, whose elements are all 1

  uint64_t elements() const {
    uint64_t n = 1;
    for (uint64_t d : dims) {
      n *= d;
    }
    return n;
  }
  uint64_t bytes() const { return elements() * (type == kTypeF32 ? 4 : 2); }
};

std::vector<TensorSpec> tensors_of(const ModelLayout& layout, uint64_t vocab) {
  const uint64_t embd = layout.embedding;
  const uint64_t q = uint64_t(layout.heads) * layout.head_size;
  const uint64_t kv = uint64_t(layout.kv_heads) * layout.head_size;
  std::vector<TensorSpec> tensors = {{"token_embd.weight", {embd, vocab}},
                                     {"output_norm.weight", {embd}, kTypeF32}};
  for (uint32_t i = 0; i < layout.layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    tensors.push_back({p + "attn_norm.weight", {embd}, kTypeF32});
    tensors.push_back({p + "attn_q.weight", {embd, q}});
    tensors.push_back({p + "attn_k.weight", {embd, kv}});
    tensors.push_back({p + "attn_v.weight", {embd, kv}});
    tensors.push_back({p + "attn_output.weight", {q, embd}});
    tensors.push_back({p + "ffn_norm.weight", {embd}, kTypeF32});
    tensors.push_back({p + "ffn_gate.weight", {embd, layout.feed_forward}});
    tensors.push_back({p + "ffn_up.weight", {embd, layout.feed_forward}});
    tensors.push_back({p + "ffn_down.weight", {layout.feed_forward, embd}});
  }
  return tensors;
}

// Converts a float of magnitude below 65504 to IEEE half precision. Values too small for a
// normal half become zero, which does not matter for random test weights.
uint16_t to_half(float value) {
  uint32_t bits = 0;
  std::memcpy(&bits, &value, 4);
  const uint32_t sign = (bits >> 16) & 0x8000;
  const int exponent = int((bits >> 23) & 0xff) - 127 + 15;
  if (exponent <= 0) {
    return uint16_t(sign);
  }
  return uint16_t(sign | (uint32_t(exponent) << 10) | ((bits >> 13) & 0x3ff));
}

std::string tensor_data(const TensorSpec& tensor, std::mt19937_64& random) {
  std::string data;
  data.reserve(tensor.bytes());
  if (tensor.type == kTypeF32) {
    const float one = 1.0f;
    uint32_t bits = 0;
    std::memcpy(&bits, &one, 4);
    for (uint64_t i = 0; i < tensor.elements(); ++i) {
      put(data, bits, 4);
    }
    return data;
  }
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (uint64_t i = 0; i < tensor.elements(); ++i) {
    put(data, to_half(normal(random)), 2);
  }
  return data;
}

void pad(std::string& out, uint64_t base) {
  while ((base + out.size()) % kAlignment != 0) {
    out.push_back('\0');
  }
}

Metadata layout_metadata(const ModelLayout& layout, uint64_t vocab) {
  Metadata metadata;
  metadata.str("general.architecture", "llama");
  metadata.str("general.name", "ollama-flow test model with random weights");
  metadata.str("general.description", "attention layout: " + layout.name);
  metadata.u32("llama.context_length", layout.context);
  metadata.u32("llama.embedding_length", layout.embedding);
  metadata.u32("llama.block_count", layout.layers);
  metadata.u32("llama.feed_forward_length", layout.feed_forward);
  metadata.u32("llama.attention.head_count", layout.heads);
  metadata.u32("llama.attention.head_count_kv", layout.kv_heads);
  metadata.u32("llama.attention.key_length", layout.head_size);
  metadata.u32("llama.attention.value_length", layout.head_size);
  metadata.u32("llama.rope.dimension_count", layout.head_size);
  metadata.f32("llama.rope.freq_base", 500000.0f);
  metadata.f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  metadata.u32("llama.vocab_size", uint32_t(vocab));
  return metadata;
}

}  // namespace

ModelLayout gqa_layout() {
  return {"gqa", 4, 64, 8, 2, 32, 128, 4096};
}

ModelLayout mha_layout() {
  return {"mha", 3, 64, 4, 4, 64, 128, 2048};
}

Status write_llama_model(const ModelLayout& layout, const fs::path& tokenizer_source,
                         const fs::path& out, uint64_t seed) {
  std::ifstream in(tokenizer_source, std::ios::binary);
  if (!in) {
    return Status(ErrorCode::kNotFound, "tokenizer source " + tokenizer_source.string() +
                                            " cannot be opened: pass an existing GGUF");
  }
  const std::string source((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Metadata tokenizer;
  const uint64_t vocab = copy_tokenizer(source, tokenizer);
  if (vocab == 0) {
    return Status(ErrorCode::kCorrupt, "tokenizer source " + tokenizer_source.string() +
                                           " is no GGUF with tokenizer.ggml.tokens");
  }
  const Metadata metadata = layout_metadata(layout, vocab);
  const std::vector<TensorSpec> tensors = tensors_of(layout, vocab);

  std::string header = "GGUF";
  put(header, 3, 4);
  put(header, tensors.size(), 8);
  put(header, metadata.count + tokenizer.count, 8);
  header += metadata.bytes + tokenizer.bytes;
  uint64_t offset = 0;
  for (const TensorSpec& tensor : tensors) {
    put_string(header, tensor.name);
    put(header, tensor.dims.size(), 4);
    for (uint64_t d : tensor.dims) {
      put(header, d, 8);
    }
    put(header, tensor.type, 4);
    put(header, offset, 8);
    offset += (tensor.bytes() + kAlignment - 1) / kAlignment * kAlignment;
  }
  pad(header, 0);

  std::ofstream file(out, std::ios::binary | std::ios::trunc);
  file.write(header.data(), std::streamsize(header.size()));
  std::mt19937_64 random(seed);
  for (const TensorSpec& tensor : tensors) {
    std::string data = tensor_data(tensor, random);
    pad(data, 0);
    file.write(data.data(), std::streamsize(data.size()));
  }
  if (!file) {
    return Status(ErrorCode::kIoError, "model file " + out.string() + " cannot be written");
  }
  return Status::ok();
}

}  // namespace ollamaflow::testing
