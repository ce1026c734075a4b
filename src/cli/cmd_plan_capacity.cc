// `ollama-flow plan-capacity --model NAME|FILE.gguf [--ctx N | --total-ctx N] [--parallel P]
// [--cache-type-k T] [--cache-type-v T] [--json]`: the memory breakdown of one model on this
// machine's devices and how many agents fit. A .gguf path needs no server. The exit code is 1
// when the model does not fit, or --parallel P slots do not, and 2 for a usage error, such as a
// --model that names a folder or a file that is no valid GGUF model.
#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/signals.h"
#include "core/count_text.h"
#include "core/json_text.h"
#include "core/terminal_text.h"
#include "flow/server_launch.h"
#include "gpu/monitor.h"
#include "gpu/snapshot_json.h"
#include "model/ggml_type.h"
#include "model/ollama_store.h"
#include "model/planning.h"
#include "model/report.h"
#include "model/report_text.h"
#include "model/server_link.h"

namespace ollamaflow::cli {
namespace {

int error_exit(const Status& status) {
  print_error(status.message());
  return status.code() == ErrorCode::kInvalidArgument ? 2 : 1;
}

// Returns the error of a model that cannot be resolved. A --model file that is no valid GGUF
// model is invalid input, like a folder given as the model, so it is a usage error, as in
// `run --start-server`. Only a file that --model names returns these codes: resolve_model()
// lists the errors of the Ollama store's files as skipped sources.
Status resolve_error(const Status& status) {
  if (status.code() == ErrorCode::kCorrupt || status.code() == ErrorCode::kParseError) {
    return Status(ErrorCode::kInvalidArgument,
                  status.message() +
                      ": pass a valid GGUF model file or an Ollama model name to "
                      "--model");
  }
  return status;
}

model::ResolveOptions resolve_options(const Config& config, const std::shared_ptr<Clock>& clock,
                                      const CancelTokenPtr& cancel) {
  model::ResolveOptions options;
  options.models_dir = model::default_models_dir(process_env());
  options.suggest_pull = config.server.backend == "ollama";
  if (Result<model::ServerLink> link =
          model::open_server_link(model::metadata_settings(config.server), clock, cancel)) {
    options.show = link->show;
  }
  return options;
}

// Returns the line that states the context per slot and, with --total-ctx, the real total.
// `lowered_from` is the context per slot that was asked for when it was lowered to the model's
// training context.
std::string context_line(const model::ModelDemand& demand, const PlanCapacityOptions& options,
                         std::optional<uint64_t> lowered_from) {
  const uint64_t per_slot = demand.ctx_per_slot;
  if (!options.total_ctx && lowered_from) {
    return fmt::format(
        "Context: {} tokens per slot (Ollama num_ctx), the model's training context: {} {} is "
        "lowered to it, as Ollama and `run --start-server` do; llama-server -c is that times the "
        "slot count",
        per_slot, options.ctx ? "--ctx" : "server.num_ctx", *lowered_from);
  }
  if (!options.total_ctx) {
    return fmt::format(
        "Context: {} tokens per slot (Ollama num_ctx); llama-server -c is that times the slot "
        "count",
        per_slot);
  }
  const uint64_t slots = demand.parallel.value_or(1);
  std::string line = fmt::format("Context: {} tokens per slot, {} in total over {} slot(s)",
                                 per_slot, per_slot * slots, slots);
  if (per_slot * slots != static_cast<uint64_t>(*options.total_ctx)) {
    line += fmt::format(
        ", not the {} of --total-ctx: llama-server rounds each slot up to a multiple of 256",
        *options.total_ctx);
  }
  return line;
}

// Returns "a smaller --ctx or a quantized KV cache (--kv-cache-type q8_0)", naming a cache type
// only when it makes the KV cache of `estimate` smaller.
std::string smaller_demand_text(const model::MemoryEstimate& estimate,
                                const std::string& context_flag) {
  const model::GgmlType* cache_k = model::ggml_type_by_name(estimate.cache_type_k);
  const model::GgmlType* cache_v = model::ggml_type_by_name(estimate.cache_type_v);
  const model::GgmlType* smaller =
      cache_k && cache_v ? model::smaller_cache_type(*cache_k, *cache_v) : nullptr;
  if (smaller == nullptr) {
    return "a smaller " + context_flag;
  }
  return fmt::format("a smaller {} or a quantized KV cache (--kv-cache-type {})", context_flag,
                     smaller->name);
}

// Returns the error for a model that does not fit: with --parallel P, P and the slot count
// that fits instead, and what to change.
std::string not_fit_message(const model::ModelPlacement& m, const PlanCapacityOptions& options,
                            bool memory_known) {
  if (!memory_known) {
    return fmt::format(
        "{}: {}, so the plan cannot say what fits; `ollama-flow gpu` shows why, and {} sets "
        "the total of a GPU whose total is unknown",
        m.model, m.reason, gpu::kMemoryOverrideVariable);
  }
  const std::string context_flag = options.total_ctx ? "--total-ctx" : "--ctx";
  const std::string smaller = smaller_demand_text(m.estimate, context_flag);
  if (!m.server_slots) {
    return fmt::format("{} does not fit: {}; use a smaller model, {}", m.model, m.reason, smaller);
  }
  if (!m.recommended_slots) {
    return fmt::format(
        "--parallel {} does not fit, and neither does one slot: {} {}; use a "
        "smaller model, {}",
        *m.server_slots, m.model, m.reason, smaller);
  }
  const uint32_t fit = *m.recommended_slots;
  const uint64_t ctx = m.estimate.ctx_per_slot;
  const std::string plan_flags =
      options.total_ctx ? fmt::format("--parallel {} --total-ctx {}", fit, uint64_t{fit} * ctx)
                        : fmt::format("--parallel {}", fit);
  return fmt::format(
      "--parallel {} does not fit: {} {}. Plan {} slot(s) with {} and start the server with "
      "OLLAMA_NUM_PARALLEL={} (llama-server -np {} -c {}), or keep {} slot(s) with {}",
      *m.server_slots, m.model, m.reason, fit, plan_flags, fit, fit, uint64_t{fit} * ctx,
      *m.server_slots, smaller);
}

// Returns a note when the slots that `m` recommends are more than one run uses: a fixed pool
// has run.agents agents, and a scaled pool at most gpu_scaling.max_agents, at most
// dynamic_agent_management.max_agents. Slots beyond them hold KV cache memory that only
// several runs on one server use. Returns nullopt otherwise.
std::optional<std::string> run_use_note(const model::ModelPlacement& m, const Config& config) {
  const flow::AgentBound bound = flow::run_agent_bound(config);
  if (!m.recommended_slots || *m.recommended_slots <= static_cast<uint32_t>(bound.agents)) {
    return std::nullopt;
  }
  const uint32_t slots = *m.recommended_slots;
  std::string scaled;
  if (!config.auto_scaling) {
    Config scaled_config = config;
    scaled_config.auto_scaling = true;
    const flow::AgentBound scaled_bound = flow::run_agent_bound(scaled_config);
    scaled = fmt::format(", or {} with auto-scaling ({})", scaled_bound.agents, scaled_bound.key);
  }
  return fmt::format(
      "{} slot(s) are more than one run uses: a run has at most {} ({}){}, so {} "
      "slot(s) would hold KV cache memory that no agent of the run uses, unless several runs "
      "share the server; `run --start-server` starts at most {}",
      slots, count_text(bound.agents, "agent"), bound.key, scaled,
      slots - static_cast<uint32_t>(bound.agents), bound.agents);
}

}  // namespace

int cmd_plan_capacity(const Config& config, const PlanCapacityOptions& options) {
  std::shared_ptr<Clock> clock = system_clock();
  // Ctrl-C cancels the metadata request to the server and ends the command with exit code 130,
  // as in `models` and `doctor`.
  const CancelTokenPtr cancel = install_interrupt_handler();
  Result<model::ResolvedModel> resolved =
      model::resolve_model(options.model, config, resolve_options(config, clock, cancel));
  if (cancel->cancelled()) {
    print_error("plan-capacity cancelled while it read the model's metadata");
    return 130;
  }
  if (!resolved)
    return error_exit(resolve_error(resolved.status()));

  model::PlanQuestion question{options.ctx, options.total_ctx, options.parallel,
                               options.cache_type_k, options.cache_type_v};
  std::vector<std::string> notes;
  Result<model::ModelDemand> demand = model::make_demand(resolved->spec, question, config, notes);
  if (!demand)
    return error_exit(demand.status());
  // Ollama lowers a num_ctx above the training context of the model to that context when it
  // loads the model, and `run --start-server` gives each slot at most that context, so the KV
  // cache is sized at the lowered context. llama-server keeps a -c that gives a slot more
  // (--total-ctx), so that context stays.
  std::optional<uint64_t> lowered_from;
  if (!options.total_ctx) {
    lowered_from = model::lower_to_training_context(*demand);
  }
  if (lowered_from && options.json) {
    notes.push_back(fmt::format(
        "context per slot lowered from {} ({}) to the model's training context {}, as Ollama "
        "and `run --start-server` do",
        *lowered_from, options.ctx ? "--ctx" : "server.num_ctx", demand->ctx_per_slot));
  }

  Result<gpu::ProbeContext> context = gpu::machine_probe_context(clock, process_env());
  if (!context)
    return error_exit(context.status());
  gpu::GpuSnapshot snapshot = gpu::SnapshotProber(std::move(context).value(), clock).take();
  std::vector<model::DeviceBudget> budgets = model::budgets_from_snapshot(snapshot);

  Result<model::CapacityPlan> plan =
      model::plan_capacity({*demand}, budgets, model::capacity_options(config));
  if (!plan)
    return error_exit(plan.status());
  plan->notes.insert(plan->notes.end(), notes.begin(), notes.end());
  for (const model::ModelPlacement& placement : plan->models) {
    if (std::optional<std::string> note = run_use_note(placement, config)) {
      plan->notes.push_back(*note);
    }
  }
  for (const std::string& skipped : resolved->skipped) {
    plan->notes.push_back("metadata source skipped: " + skipped);
  }

  if (options.json) {
    nlohmann::json document = {{"model", model::spec_to_json(resolved->spec)},
                               {"plan", model::plan_to_json(*plan)},
                               {"devices", gpu::snapshot_to_json(snapshot)["devices"]},
                               {"host", gpu::snapshot_to_json(snapshot)["host"]}};
    std::printf("%s\n", to_text(document, 2).c_str());
  } else {
    const model::ModelSpec& spec = resolved->spec;
    std::printf("Model %s (%s) from %s\n", escape_control_characters(spec.name).c_str(),
                model::describe_layout(spec).c_str(),
                escape_control_characters(spec.source).c_str());
    std::printf("%s\n\n", context_line(*demand, options, lowered_from).c_str());
    std::printf("%s", model::render_plan(*plan).c_str());
  }
  // The plan is printed either way. A model that does not fit, as planned or with the requested
  // --parallel, gives exit code 1, so that a script can check the result.
  std::fflush(stdout);
  for (const model::ModelPlacement& placement : plan->models) {
    if (!placement.fits) {
      print_error(not_fit_message(placement, options, plan->agent_ceiling.has_value()));
    }
  }
  return plan->all_fit ? 0 : 1;
}

}  // namespace ollamaflow::cli
