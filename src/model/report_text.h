// The human forms of memory estimates and capacity plans for plan-capacity, models and doctor.
#pragma once

#include <string>

#include "model/capacity.h"
#include "model/memory_estimate.h"
#include "model/model_spec.h"

namespace ollamaflow::model {

// Returns what is known of the model's layout for a heading, such as "llama, 32 layers", or
// "8B parameters; architecture and layer count not known" for a model from the built-in table.
std::string describe_layout(const ModelSpec& spec);

// Returns the parts of the estimate as an aligned table, labelled as an estimate.
std::string render_estimate(const MemoryEstimate& estimate);

// Returns per model: fits or not, slots, devices, the limit and the recommended server
// settings; then the devices' budgets.
std::string render_plan(const CapacityPlan& plan);

}  // namespace ollamaflow::model
