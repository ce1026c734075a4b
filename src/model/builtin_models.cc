#include "model/builtin_models.h"

#include <algorithm>

namespace ollamaflow::model {
namespace {

// Minimum and recommended memory in MiB at the model's usual context. llama3.1:8b has the
// layout of llama3:8b (128 KiB of f16 KV cache per token) and a training context of 131072
// tokens, so its recommended figure includes one slot of 16 GiB at that context.
const std::vector<std::pair<std::string, TableEntry>> kBuiltin = {
    {"phi3:mini", {2048, 3072, 4096, "3.8B"}},    {"llama3:8b", {5120, 6144, 8192, "8B"}},
    {"llama3.1:8b", {5120, 21504, 131072, "8B"}}, {"codellama:7b", {4608, 5632, 16384, "7B"}},
    {"llama3:13b", {8192, 10240, 8192, "13B"}},   {"llama3:70b", {40960, 49152, 8192, "70B"}},
};

std::string without_latest(std::string_view name) {
  constexpr std::string_view kLatest = ":latest";
  if (name.size() > kLatest.size() && name.substr(name.size() - kLatest.size()) == kLatest) {
    name.remove_suffix(kLatest.size());
  }
  return std::string(name);
}

ModelSpec spec_from_entry(const std::string& name, const TableEntry& entry, std::string source) {
  ModelSpec spec;
  spec.name = name;
  spec.source = std::move(source);
  spec.table = entry;
  spec.context_length = entry.context_length;
  return spec;
}

}  // namespace

const std::vector<std::pair<std::string, TableEntry>>& builtin_models() {
  return kBuiltin;
}

std::optional<ModelSpec> table_model_spec(std::string_view name, const Config& config) {
  std::string key = without_latest(name);
  for (const auto& [model, requirement] : config.model_requirements) {
    if (without_latest(model) != key || requirement.min_memory_mb <= 0)
      continue;
    TableEntry entry{requirement.min_memory_mb, requirement.recommended_memory_mb,
                     static_cast<uint64_t>(std::max(0, requirement.context_length)),
                     requirement.parameters};
    bool builtin = false;
    for (const auto& [builtin_name, builtin_entry] : kBuiltin) {
      builtin =
          builtin || (builtin_name == key && builtin_entry.min_memory_mb == entry.min_memory_mb &&
                      builtin_entry.recommended_memory_mb == entry.recommended_memory_mb);
    }
    return spec_from_entry(
        std::string(name), entry,
        builtin ? "built-in table (estimate)" : "configuration model_requirements (estimate)");
  }
  for (const auto& [model, entry] : kBuiltin) {
    if (model == key)
      return spec_from_entry(std::string(name), entry, "built-in table (estimate)");
  }
  return std::nullopt;
}

}  // namespace ollamaflow::model
