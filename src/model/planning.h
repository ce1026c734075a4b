// A capacity question as the commands and the HTTP API ask it, turned into planner inputs.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/status.h"
#include "model/capacity.h"
#include "model/model_spec.h"

namespace ollamaflow::model {

// The maximum server slot count that a plan accepts (plan-capacity --parallel).
inline constexpr int kMaxParallel = 4096;

struct PlanQuestion {
  std::optional<int> ctx;        // tokens per slot (Ollama num_ctx)
  std::optional<int> total_ctx;  // tokens of all slots together (llama-server -c)
  std::optional<int> parallel;   // slots; unset: as many as fit
  std::optional<std::string> cache_type_k;
  std::optional<std::string> cache_type_v;
};

// Returns the demand for `spec`. The context per slot is `ctx`, else `total_ctx / parallel`
// rounded as llama-server rounds it (a note then states the real per-slot and total context),
// else config.server.num_ctx. The cache types come from the question, else from the
// configuration, where OLLAMA_KV_CACHE_TYPE and --kv-cache-type set both. Returns
// kInvalidArgument naming the value for a context outside the range of server.num_ctx, a slot
// count outside 1..kMaxParallel, both ctx and total_ctx, a total below the slot count, or an
// unknown cache type.
Result<ModelDemand> make_demand(const ModelSpec& spec, const PlanQuestion& question,
                                const Config& config, std::vector<std::string>& notes);

// Lowers demand.ctx_per_slot to the model's training context when it is larger and the model
// states one. Returns the context per slot before, when it lowered it.
std::optional<uint64_t> lower_to_training_context(ModelDemand& demand);

// Returns the planner options from the configuration: memory_buffer_mb, memory_safety_margin,
// gpu_scaling.max_agents and the server's num_parallel when known.
CapacityOptions capacity_options(const Config& config);

}  // namespace ollamaflow::model
