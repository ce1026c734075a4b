#include "model/planning.h"

#include <cstdint>
#include <optional>

#include <fmt/format.h>

#include "core/count_text.h"

namespace ollamaflow::model {
namespace {

// llama-server rounds each slot's context (-c / -np) up to a multiple of this many tokens,
// as measured on llama.cpp 0.4.0-dev (commit 80fb11a): -c 2048 -np 3 gives 768 cells per slot.
constexpr int kSlotContextPad = 256;

Status invalid(std::string message) {
  return {ErrorCode::kInvalidArgument, std::move(message)};
}

// llama.cpp rejects a quantized cache type whose block does not divide the head size.
Status check_cache_block(const ModelSpec& spec, const GgmlType& type, const char* which,
                         uint32_t head_size) {
  if (type.block_size <= 1 || head_size == 0 || head_size % type.block_size == 0) {
    return Status::ok();
  }
  return invalid(fmt::format(
      "invalid {} cache type {}: its block of {} values does not divide the head size {} of {}, "
      "so llama.cpp rejects it; use f16 or f32",
      which, type.name, type.block_size, head_size, spec.name));
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

// Returns the context of one slot when llama-server splits `total` tokens (-c) over `parallel`
// slots (-np): total / parallel, rounded down, then up to a multiple of kSlotContextPad. The
// slots together may then hold more than `total`, and a note states the real figures.
Result<int64_t> slot_context(int total, std::optional<int> parallel,
                             std::vector<std::string>& notes) {
  const int64_t slots = parallel.value_or(1);
  if (total < slots) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("invalid --total-ctx {}: it must hold at least one token per slot "
                              "({})",
                              total, count_text(slots, "slot")));
  }
  const int64_t split = total / slots;
  const int64_t padded = (split + kSlotContextPad - 1) / kSlotContextPad * kSlotContextPad;
  if (padded * slots != total) {
    notes.push_back(fmt::format(
        "llama-server -c {} -np {} gives each slot {} / {} = {} tokens, rounded up to a multiple "
        "of {}: {} tokens per slot, {} in total",
        total, slots, total, slots, split, kSlotContextPad, padded, padded * slots));
  }
  return padded;
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
  int64_t ctx = question.ctx.value_or(config.server.num_ctx);
  // The context per slot has the range of server.num_ctx (run --num-ctx), whatever sets it.
  std::string origin = question.ctx ? "flag --ctx" : "server.num_ctx";
  if (question.total_ctx) {
    Result<int64_t> per_slot = slot_context(*question.total_ctx, question.parallel, notes);
    if (!per_slot) {
      return per_slot.status();
    }
    ctx = *per_slot;
    origin = fmt::format("flag --total-ctx {} over {} slot(s)", *question.total_ctx,
                         question.parallel.value_or(1));
    if (!question.parallel) {
      demand.parallel = 1;
      notes.push_back(
          "--total-ctx without --parallel plans one slot holding the whole "
          "context; pass --parallel to split it as llama-server -np does");
    }
  }
  if (Status valid = check_config_value("server.num_ctx", ctx, origin); !valid) {
    return valid;
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
  if (Status status = check_cache_block(spec, **k, "K", spec.key_length); !status) {
    return status;
  }
  if (Status status = check_cache_block(spec, **v, "V", spec.value_length); !status) {
    return status;
  }
  demand.cache_k = *k;
  demand.cache_v = *v;
  return demand;
}

std::optional<uint64_t> lower_to_training_context(ModelDemand& demand) {
  const uint64_t training = demand.spec.context_length;
  if (training == 0 || demand.ctx_per_slot <= training) {
    return std::nullopt;
  }
  const uint64_t before = demand.ctx_per_slot;
  demand.ctx_per_slot = training;
  return before;
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
