// The /api/show form of a model: model_info contains the GGUF metadata as JSON and, since Ollama
// v0.6.1, tensors[] lists {name, type, shape}. Without verbose: true every array value comes
// back null, including per-layer head counts.
#include <fmt/format.h>

#include "model/ggml_type.h"
#include "model/model_spec.h"

namespace ollamaflow::model {
namespace {

std::optional<GgufValue> value_from_json(const nlohmann::json& json, int depth) {
  GgufValue value;
  if (json.is_boolean()) {
    value.type = GgufType::kBool;
    value.data = json.get<bool>();
  } else if (json.is_number_unsigned()) {
    value.type = GgufType::kUint64;
    value.data = json.get<uint64_t>();
  } else if (json.is_number_integer()) {
    value.type = GgufType::kInt64;
    value.data = json.get<int64_t>();
  } else if (json.is_number_float()) {
    value.type = GgufType::kFloat64;
    value.data = json.get<double>();
  } else if (json.is_string()) {
    value.type = GgufType::kString;
    value.data = json.get<std::string>();
  } else if (json.is_array() && depth < kGgufMaxArrayDepth) {
    GgufArray array;
    array.length = json.size();
    for (const auto& item : json) {
      std::optional<GgufValue> converted = value_from_json(item, depth + 1);
      if (!converted)
        return std::nullopt;
      array.element_type = converted->type;
      array.items.push_back(std::move(*converted));
    }
    value.type = GgufType::kArray;
    value.data = std::move(array);
  } else {
    return std::nullopt;
  }
  return value;
}

}  // namespace

Result<GgufFile> gguf_from_show(const nlohmann::json& show, const std::string& name) {
  GgufFile file;
  file.path = name + " (ollama /api/show)";
  auto info = show.find("model_info");
  if (info == show.end() || !info->is_object()) {
    return Result<GgufFile>(ErrorCode::kParseError,
                            fmt::format("/api/show for '{}' has no model_info object; the "
                                        "server may be too old (Ollama v0.1.34 or later adds it)",
                                        name));
  }
  for (const auto& [key, json] : info->items()) {
    std::optional<GgufValue> value = value_from_json(json, 0);
    if (!value)
      continue;
    file.metadata_index.emplace(key, file.metadata.size());
    file.metadata.emplace_back(key, std::move(*value));
  }
  auto tensors = show.find("tensors");
  if (tensors == show.end() || !tensors->is_array())
    return file;
  for (const auto& item : *tensors) {
    if (!item.is_object() || !item.contains("type") || !item.contains("shape") ||
        !item["type"].is_string() || (item.contains("name") && !item["name"].is_string()))
      continue;
    const GgmlType* type = ggml_type_by_name(item["type"].get<std::string>());
    if (type == nullptr || !item["shape"].is_array())
      continue;
    GgufTensor tensor;
    tensor.name = item.value("name", "");
    tensor.type_id = type->id;
    tensor.elements = 1;
    for (const auto& dim : item["shape"]) {
      if (!dim.is_number_integer() || dim.get<int64_t>() < 0)
        continue;
      tensor.dims.push_back(dim.get<uint64_t>());
      tensor.elements *= tensor.dims.back();
    }
    tensor.size_bytes = ggml_row_bytes(*type, tensor.elements).value_or(0);
    file.tensors.push_back(std::move(tensor));
  }
  return file;
}

Result<ModelSpec> spec_from_show(const nlohmann::json& show, const std::string& name,
                                 std::optional<uint64_t> size_hint) {
  Result<GgufFile> file = gguf_from_show(show, name);
  if (!file)
    return file.status();
  Result<ModelSpec> spec = spec_from_metadata(*file, name);
  if (!spec)
    return spec;
  spec->source = "ollama /api/show";
  spec->file_size = size_hint.value_or(0);
  bool has_null_arrays = false;
  for (const auto& [key, json] : show["model_info"].items()) {
    if (json.is_null())
      has_null_arrays = true;
  }
  if (has_null_arrays) {
    spec->notes.push_back(
        "/api/show returned arrays without their values (no verbose); "
        "per-layer head counts may be missing");
  }
  if (file->tensors.empty()) {
    spec->weights_bytes = size_hint.value_or(0);
    spec->notes.push_back(size_hint ? "no tensor list from /api/show: the weights are taken as "
                                      "the model's blob size"
                                    : "no tensor list from /api/show: the weights are unknown");
  }
  return spec;
}

}  // namespace ollamaflow::model
