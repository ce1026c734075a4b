// Writes GGUF images for tests and benchmarks: any metadata type, tensor infos and zero data.
// Header-only, so that the benchmarks can use it without the test support library.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace ollamaflow::testing {

class GgufWriter {
 public:
  explicit GgufWriter(uint32_t version = 3, bool big_endian = false)
      : version_(version), big_endian_(big_endian) {}

  // Metadata values; each call adds one key.
  GgufWriter& u8(const std::string& key, uint8_t v) { return scalar(key, 0, v, 1); }
  GgufWriter& i8(const std::string& key, int8_t v) { return scalar(key, 1, uint8_t(v), 1); }
  GgufWriter& u16(const std::string& key, uint16_t v) { return scalar(key, 2, v, 2); }
  GgufWriter& i16(const std::string& key, int16_t v) { return scalar(key, 3, uint16_t(v), 2); }
  GgufWriter& u32(const std::string& key, uint32_t v) { return scalar(key, 4, v, 4); }
  GgufWriter& i32(const std::string& key, int32_t v) { return scalar(key, 5, uint32_t(v), 4); }
  GgufWriter& f32(const std::string& key, float v) {
    uint32_t bits = 0;
    std::memcpy(&bits, &v, 4);
    return scalar(key, 6, bits, 4);
  }
  GgufWriter& boolean(const std::string& key, bool v) { return scalar(key, 7, v ? 1 : 0, 1); }
  GgufWriter& str(const std::string& key, const std::string& v) {
    key_and_type(key, 8);
    string(kv_, v);
    ++kv_count_;
    return *this;
  }
  GgufWriter& u64(const std::string& key, uint64_t v) { return scalar(key, 10, v, 8); }
  GgufWriter& i64(const std::string& key, int64_t v) { return scalar(key, 11, uint64_t(v), 8); }
  GgufWriter& f64(const std::string& key, double v) {
    uint64_t bits = 0;
    std::memcpy(&bits, &v, 8);
    return scalar(key, 12, bits, 8);
  }
  GgufWriter& u32_array(const std::string& key, const std::vector<uint32_t>& values) {
    key_and_type(key, 9);
    number(kv_, 4, 4);
    number(kv_, values.size(), 8);
    for (uint32_t v : values)
      number(kv_, v, 4);
    ++kv_count_;
    return *this;
  }
  GgufWriter& bool_array(const std::string& key, const std::vector<bool>& values) {
    key_and_type(key, 9);
    number(kv_, 7, 4);
    number(kv_, values.size(), 8);
    for (bool v : values)
      number(kv_, v ? 1 : 0, 1);
    ++kv_count_;
    return *this;
  }
  GgufWriter& string_array(const std::string& key, const std::vector<std::string>& values) {
    key_and_type(key, 9);
    number(kv_, 8, 4);
    number(kv_, values.size(), 8);
    for (const std::string& v : values)
      string(kv_, v);
    ++kv_count_;
    return *this;
  }
  // An array of `outer` arrays of two u16 values each.
  GgufWriter& nested_array(const std::string& key, uint64_t outer) {
    key_and_type(key, 9);
    number(kv_, 9, 4);
    number(kv_, outer, 8);
    for (uint64_t i = 0; i < outer; ++i) {
      number(kv_, 2, 4);
      number(kv_, 2, 8);
      number(kv_, i, 2);
      number(kv_, i + 1, 2);
    }
    ++kv_count_;
    return *this;
  }
  // Appends raw bytes to the metadata section, for hand-made corruption.
  GgufWriter& raw_metadata(const std::string& bytes, uint64_t counted_pairs) {
    kv_ += bytes;
    kv_count_ += counted_pairs;
    return *this;
  }

  // Adds a tensor whose data is placed after the previous one, aligned.
  GgufWriter& tensor(const std::string& name, const std::vector<uint64_t>& dims, uint32_t type,
                     uint64_t size_bytes) {
    number(tensors_, name.size(), 8);
    tensors_ += name;
    number(tensors_, dims.size(), 4);
    for (uint64_t d : dims)
      number(tensors_, d, 8);
    number(tensors_, type, 4);
    number(tensors_, data_size_, 8);
    data_size_ += (size_bytes + alignment_ - 1) / alignment_ * alignment_;
    ++tensor_count_;
    return *this;
  }
  void set_alignment(uint64_t alignment) { alignment_ = alignment; }
  // Overrides the declared counts, for corruption tests.
  void set_counts(uint64_t tensors, uint64_t metadata) {
    forced_tensor_count_ = tensors;
    forced_kv_count_ = metadata;
  }
  // Leaves the tensor data out (the file ends after the header).
  void omit_data() { omit_data_ = true; }

  std::string build() const {
    std::string out = "GGUF";
    number(out, version_, 4);
    number(out, forced_tensor_count_ ? *forced_tensor_count_ : tensor_count_, 8);
    number(out, forced_kv_count_ ? *forced_kv_count_ : kv_count_, 8);
    out += kv_;
    out += tensors_;
    if (tensor_count_ > 0 && !omit_data_) {
      while (out.size() % alignment_ != 0)
        out.push_back('\0');
      out.append(data_size_, '\0');
    }
    return out;
  }

 private:
  GgufWriter& scalar(const std::string& key, uint32_t type, uint64_t v, int bytes) {
    key_and_type(key, type);
    number(kv_, v, bytes);
    ++kv_count_;
    return *this;
  }
  void key_and_type(const std::string& key, uint32_t type) {
    string(kv_, key);
    number(kv_, type, 4);
  }
  void string(std::string& out, const std::string& text) const {
    number(out, text.size(), 8);
    out += text;
  }
  void number(std::string& out, uint64_t v, int bytes) const {
    for (int i = 0; i < bytes; ++i) {
      int shift = big_endian_ ? (bytes - 1 - i) * 8 : i * 8;
      out.push_back(static_cast<char>((v >> shift) & 0xFF));
    }
  }

  uint32_t version_;
  bool big_endian_;
  std::string kv_;
  std::string tensors_;
  uint64_t kv_count_ = 0;
  uint64_t tensor_count_ = 0;
  uint64_t data_size_ = 0;
  uint64_t alignment_ = 32;
  bool omit_data_ = false;
  std::optional<uint64_t> forced_tensor_count_;
  std::optional<uint64_t> forced_kv_count_;
};

}  // namespace ollamaflow::testing
