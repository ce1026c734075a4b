// JSON forms of memory estimates and capacity plans, shared by the commands and the HTTP API.
#pragma once

#include <nlohmann/json.hpp>

#include "model/capacity.h"
#include "model/memory_estimate.h"
#include "model/model_spec.h"

namespace ollamaflow::model {

// Every part in bytes, with "estimate": true and the notes.
nlohmann::json estimate_to_json(const MemoryEstimate& estimate);

nlohmann::json spec_to_json(const ModelSpec& spec);

nlohmann::json plan_to_json(const CapacityPlan& plan);

}  // namespace ollamaflow::model
