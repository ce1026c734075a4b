// Memory figures for models without readable metadata: the configuration's model_requirements
// first, then a built-in table. Both are estimates and marked so.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "model/model_spec.h"

namespace ollamaflow::model {

// Returns the built-in table: phi3:mini, llama3:8b, llama3.1:8b, codellama:7b, llama3:13b,
// llama3:70b.
const std::vector<std::pair<std::string, TableEntry>>& builtin_models();

// Returns a spec for `name` from config.model_requirements or the built-in table, or nullopt.
// The name matches with or without a ":latest" tag.
std::optional<ModelSpec> table_model_spec(std::string_view name, const Config& config);

}  // namespace ollamaflow::model
