#include <limits>

#include "model/gguf.h"

namespace ollamaflow::model {

std::string_view gguf_type_name(GgufType type) {
  switch (type) {
    case GgufType::kUint8:
      return "uint8";
    case GgufType::kInt8:
      return "int8";
    case GgufType::kUint16:
      return "uint16";
    case GgufType::kInt16:
      return "int16";
    case GgufType::kUint32:
      return "uint32";
    case GgufType::kInt32:
      return "int32";
    case GgufType::kFloat32:
      return "float32";
    case GgufType::kBool:
      return "bool";
    case GgufType::kString:
      return "string";
    case GgufType::kArray:
      return "array";
    case GgufType::kUint64:
      return "uint64";
    case GgufType::kInt64:
      return "int64";
    case GgufType::kFloat64:
      return "float64";
  }
  return "unknown";
}

std::optional<uint64_t> GgufValue::as_uint() const {
  if (const auto* u = std::get_if<uint64_t>(&data))
    return *u;
  if (const auto* i = std::get_if<int64_t>(&data); i && *i >= 0)
    return static_cast<uint64_t>(*i);
  return std::nullopt;
}

std::optional<int64_t> GgufValue::as_int() const {
  if (const auto* i = std::get_if<int64_t>(&data))
    return *i;
  if (const auto* u = std::get_if<uint64_t>(&data);
      u && *u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return static_cast<int64_t>(*u);
  }
  return std::nullopt;
}

std::optional<double> GgufValue::as_number() const {
  if (const auto* d = std::get_if<double>(&data))
    return *d;
  if (const auto* u = std::get_if<uint64_t>(&data))
    return static_cast<double>(*u);
  if (const auto* i = std::get_if<int64_t>(&data))
    return static_cast<double>(*i);
  return std::nullopt;
}

const std::string* GgufValue::as_string() const {
  return std::get_if<std::string>(&data);
}

const GgufArray* GgufValue::as_array() const {
  return std::get_if<GgufArray>(&data);
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = metadata_index.find(key);
  return it == metadata_index.end() ? nullptr : &metadata[it->second].second;
}

std::optional<uint64_t> GgufFile::get_uint(std::string_view key) const {
  const GgufValue* value = find(key);
  return value ? value->as_uint() : std::nullopt;
}

std::optional<std::string> GgufFile::get_string(std::string_view key) const {
  const GgufValue* value = find(key);
  const std::string* text = value ? value->as_string() : nullptr;
  return text ? std::optional<std::string>(*text) : std::nullopt;
}

std::optional<uint64_t> GgufFile::array_length(std::string_view key) const {
  const GgufValue* value = find(key);
  const GgufArray* array = value ? value->as_array() : nullptr;
  return array ? std::optional<uint64_t>(array->length) : std::nullopt;
}

uint64_t GgufFile::tensor_bytes() const {
  uint64_t sum = 0;
  for (const GgufTensor& tensor : tensors)
    sum += tensor.size_bytes;
  return sum;
}

}  // namespace ollamaflow::model
