#include "model/planning.h"

#include <fmt/format.h>

namespace ollamaflow::model {
namespace {

constexpr int kMaxContext = 1 << 24;
constexpr int kMaxParallel = 4096;

Status invalid(std::string message) {
  return {ErrorCode::kInvalidArgument, std::move(message)};
}

// The V cache type follows K when K came from the option that sets both.
std::string v_cache_type(const Config& config) {
  auto source_of = [&config](const std::string& key) {
    auto it = config.sources.find(key);
    return it == config.sources.end() ? std::string("default") : it->second;
  };
  std::string k_source = source_of("memory.kv_cache_type_k");
  std::string v_source = source_of("memory.kv_cache_type_v");
  if (k_source == "flag:--kv-cache-type" && v_source.rfind("flag:", 0) != 0) {
    return config.kv_cache_type_k;
  }
  return config.kv_cache_type_v;
}

}  // namespace

Result<ModelDemand> make_demand(const ModelSpec& spec, const PlanQuestion& question,
                                const Config& config, std::vector<std::string>& notes) {
  if (question.ctx && question.total_ctx) {
    return Result<ModelDemand>(
        invalid("give either --ctx (tokens per slot) or --total-ctx "
                "(tokens of all slots), not both"));
  }
  if (question.parallel && (*question.parallel < 1 || *question.parallel > kMaxParallel)) {
    return Result<ModelDemand>(invalid(
        fmt::format("invalid --parallel {}: use 1 to {} slots", *question.parallel, kMaxParallel)));
  }
  ModelDemand demand;
  demand.spec = spec;
  if (question.parallel)
    demand.parallel = static_cast<uint32_t>(*question.parallel);
  int ctx = question.ctx.value_or(config.server.num_ctx);
  if (question.total_ctx) {
    int slots = question.parallel.value_or(1);
    if (*question.total_ctx < slots) {
      return Result<ModelDemand>(invalid(
          fmt::format("invalid --total-ctx {}: it must hold at least one token per slot ({} slots)",
                      *question.total_ctx, slots)));
    }
    ctx = *question.total_ctx / slots;
    if (!question.parallel) {
      demand.parallel = 1;
      notes.push_back(
          "--total-ctx without --parallel plans one slot holding the whole "
          "context; pass --parallel to split it as llama-server -np does");
    }
  }
  if (ctx < 1 || ctx > kMaxContext) {
    return Result<ModelDemand>(
        invalid(fmt::format("invalid context {} tokens: use 1 to {}", ctx, kMaxContext)));
  }
  demand.ctx_per_slot = static_cast<uint64_t>(ctx);

  Result<const GgmlType*> k =
      parse_cache_type(question.cache_type_k.value_or(config.kv_cache_type_k));
  if (!k)
    return k.status();
  Result<const GgmlType*> v =
      parse_cache_type(question.cache_type_v.value_or(v_cache_type(config)));
  if (!v)
    return v.status();
  demand.cache_k = *k;
  demand.cache_v = *v;
  return demand;
}

CapacityOptions capacity_options(const Config& config) {
  CapacityOptions options;
  options.buffer_bytes =
      static_cast<uint64_t>(std::max(0.0, config.gpu_scaling.memory_buffer_mb) * 1024 * 1024);
  options.safety_margin = config.gpu_scaling.memory_safety_margin;
  if (config.gpu_scaling.max_agents && *config.gpu_scaling.max_agents > 0) {
    options.max_agents = static_cast<uint32_t>(*config.gpu_scaling.max_agents);
  }
  if (config.server.num_parallel && *config.server.num_parallel > 0) {
    options.server_slots = static_cast<uint32_t>(*config.server.num_parallel);
  }
  return options;
}

}  // namespace ollamaflow::model
