// `ollama-flow doctor [--start-server BIN] [--json]`: checks the server (reachable, version), the
// configured models, the GPUs and how they were detected, host memory, and the server's parallel
// setting against what fits. Each finding names what to change, and short timeouts keep it quick
// without a server.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/signals.h"
#include "core/count_text.h"
#include "core/json_text.h"
#include "core/terminal_text.h"
#include "flow/backend.h"
#include "flow/server_launch.h"
#include "gpu/monitor.h"
#include "gpu/snapshot_json.h"
#include "gpu/text_table.h"
#include "llm/factory.h"
#include "llm/server_signals.h"
#include "model/ggml_type.h"
#include "model/model_resolver.h"
#include "model/ollama_store.h"
#include "model/planning.h"
#include "model/report.h"
#include "model/server_link.h"

namespace ollamaflow::cli {
namespace {

// One socket read of doctor's requests; connecting takes at most kMetadataConnectTimeoutS.
constexpr double kDoctorReadTimeoutS = 5;

// Returns the cache type that makes the configured KV cache smaller, or nullptr when none does.
const model::GgmlType* smaller_cache_type(const Config& config) {
  const model::GgmlType* cache_k = model::ggml_type_by_name(config.kv_cache_type_k);
  const model::GgmlType* cache_v = model::ggml_type_by_name(config.kv_cache_type_v);
  if (cache_k == nullptr || cache_v == nullptr) {
    return nullptr;
  }
  return model::smaller_cache_type(*cache_k, *cache_v);
}

// Returns "a shorter --num-ctx or a quantized KV cache (...)" with the backend's setting for the
// cache type, leaving the cache out when no type makes it smaller.
std::string smaller_demand_text(const Config& config) {
  const model::GgmlType* smaller = smaller_cache_type(config);
  if (smaller == nullptr) {
    return "a shorter --num-ctx";
  }
  if (config.server.backend == "openai") {
    return fmt::format(
        "a shorter --num-ctx or a quantized KV cache (llama-server -ctk {0} -ctv {0} "
        "-fa on)",
        smaller->name);
  }
  return fmt::format("a shorter --num-ctx or a quantized KV cache (OLLAMA_KV_CACHE_TYPE={})",
                     smaller->name);
}

struct Check {
  std::string name;
  std::string status;  // "ok", "warn" or "fail"
  std::string detail;
  std::string fix;
  // The result comes from the built-in simulated backend, not from a model server.
  bool simulated = false;
};

struct Findings {
  std::vector<Check> checks;
  std::optional<gpu::GpuSnapshot> snapshot;
  std::optional<model::CapacityPlan> plan;
  void add(std::string name, std::string status, std::string detail, std::string fix = "") {
    checks.push_back({std::move(name), std::move(status), std::move(detail), std::move(fix)});
  }
  void add_simulated(std::string name, std::string status, std::string detail,
                     std::string fix = "") {
    add(std::move(name), std::move(status), std::move(detail), std::move(fix));
    checks.back().simulated = true;
  }
};

// What doctor learned of the server, which decides the checks that may ask it more.
enum class ServerState {
  kUnreachable,   // no server, a failed reply, or --start-server (none runs yet)
  kLoadingModel,  // replies HTTP 503 "Loading model" to every request until the model is loaded
  kReady,
};

// Adds the failed server check for a server whose version request failed with `failure`. The
// probe that `run` uses then names the cause, so that a server of the other protocol gets the
// --backend fix that `run` gives.
void add_unreachable_server(const Config& config, const ServerSettings& settings,
                            const CancelTokenPtr& cancel, const model::ServerLink& link,
                            const Status& failure, Findings& findings) {
  // The probe finds which protocol a server that replied speaks. A server that did not reply
  // (timed out, refused or unresolved) would cost another timeout and add nothing.
  const bool replied =
      failure.code() != ErrorCode::kTimeout && failure.code() != ErrorCode::kUnavailable;
  const Status probed = replied ? llm::probe_server(settings, cancel) : Status::ok();
  const std::string cause = probed.is_ok() ? failure.message() : probed.message();
  const std::string protocol_fix = llm::other_protocol_fix(config.server.backend);
  const std::string where = fmt::format("{} ({})", link.client->endpoint(), config.server.backend);
  if (cause.find(protocol_fix) != std::string::npos) {
    // The server sent a reply, so it is reachable but serves the other protocol.
    findings.add("server", "fail", where + ": " + cause,
                 protocol_fix + ", or pass --host with the URL of another server");
    return;
  }
  // A read timeout, unlike a connect timeout, means that a process accepted the connection
  // there and then sent nothing.
  if (failure.code() == ErrorCode::kTimeout &&
      failure.message().find("timed out: no data") != std::string::npos) {
    findings.add("server", "fail", where + " accepted the connection but did not reply: " + cause,
                 "check that the server at " + link.client->endpoint() +
                     " is not stuck or busy loading a model (its log shows what it does), and "
                     "restart it if it stays silent");
    return;
  }
  findings.add("server", "fail", where + " is not reachable: " + cause,
               config.server.backend == "ollama"
                   ? "start the server (`ollama serve`) or pass --host URL"
                   : fmt::format("start the OpenAI-compatible server at {} or pass --host URL",
                                 link.client->endpoint()));
}

// Adds the server check of the simulated backend, which has no server to fail.
void add_simulated_server(const model::ServerLink& link, Findings& findings) {
  findings.add_simulated(
      "server", "ok",
      fmt::format("the built-in simulated backend at {}: no model server runs, so the checks "
                  "marked simulated say nothing about a real server",
                  link.client->endpoint()));
}

// Checks that the model server is up and has the configured models. A server that is loading
// its model returns HTTP 503 to every later request, so doctor sends it none.
ServerState check_server(const Config& config, const ServerSettings& settings,
                         const CancelTokenPtr& cancel, const model::ServerLink* link,
                         Findings& findings, std::vector<llm::ModelInfo>& models,
                         std::vector<llm::LoadedModel>& loaded) {
  if (link == nullptr)
    return ServerState::kUnreachable;
  const bool ollama = config.server.backend == "ollama";
  const bool simulated = config.server.backend == "sim";
  Result<std::string> version = link->client->version();
  if (!version) {
    add_unreachable_server(config, settings, cancel, *link, version.status(), findings);
    return ServerState::kUnreachable;
  }
  // The probe that `run` sends first. llama-server replies to it, as to every request, with HTTP
  // 503 while it loads its model, but its /props failure leaves the version "unknown" above.
  const llm::ProbeOutcome probed =
      simulated ? llm::ProbeOutcome{} : llm::probe_server_outcome(settings, cancel);
  if (probed.loading_model) {
    findings.add("server", "warn",
                 fmt::format("{} ({}): {}", link->client->endpoint(), config.server.backend,
                             probed.status.message()),
                 "run doctor again when the server has loaded its model (its log says so, and "
                 "its GET /health then returns HTTP 200)");
    return ServerState::kLoadingModel;
  }
  if (simulated) {
    add_simulated_server(*link, findings);
  } else {
    findings.add(
        "server", "ok",
        fmt::format("{} {} at {}", config.server.backend, *version, link->client->endpoint()));
  }
  Result<std::vector<llm::ModelInfo>> listed = link->client->list_models();
  if (!listed) {
    findings.add("models", "fail", "cannot list models: " + listed.status().message());
    return ServerState::kReady;
  }
  models = *listed;
  loaded = link->client->loaded_models().value_or(std::vector<llm::LoadedModel>{});
  std::vector<std::string> target_slots = {config.server.model};
  for (const auto& [role, names] : config.server.role_models) {
    if (!names.empty())
      target_slots.push_back(names.front());
  }
  for (const std::string& name : target_slots) {
    bool present = std::any_of(models.begin(), models.end(), [&](const llm::ModelInfo& m) {
      return m.name == name || m.name == name + ":latest";
    });
    if (simulated) {
      findings.add_simulated("model " + name, "ok",
                             "the simulated backend serves any model name, so this says "
                             "nothing about whether a real server has it");
    } else if (present) {
      findings.add("model " + name, "ok", "present on the server");
    } else if (!ollama && models.size() == 1) {
      // llama-server, outside its router mode, serves every request with its one model.
      const std::string& served = models.front().name;
      findings.add("model " + name, "warn",
                   fmt::format("not listed: the server lists one model, {}, and serves it for "
                               "every request whatever model name the request gives",
                               served),
                   fmt::format("pass --model {} so that the run and its report name the model "
                               "that runs",
                               served));
    } else {
      findings.add("model " + name, "fail", "not on the server",
                   ollama ? fmt::format("run `ollama pull {}` or choose another with --model", name)
                          : fmt::format("check the model name in GET {}/v1/models, or choose "
                                        "another with --model",
                                        link->client->endpoint()));
    }
  }
  return ServerState::kReady;
}

void check_gpus(Findings& findings) {
  Result<gpu::ProbeContext> context = gpu::machine_probe_context(system_clock(), process_env());
  if (!context) {
    findings.add("gpus", "fail", context.status().message(),
                 fmt::format("fix {} (MiB, or gpu0=MiB,...)", gpu::kMemoryOverrideVariable));
    return;
  }
  gpu::GpuSnapshot snapshot =
      gpu::SnapshotProber(std::move(context).value(), system_clock()).take();
  for (const gpu::GpuDevice& d : snapshot.devices) {
    if (gpu::memory_known(d)) {
      findings.add(d.id, "ok",
                   fmt::format("{} via {}: {} free of {} ({})", d.name, d.detected_by,
                               gpu::format_mib(d.memory_free->value),
                               gpu::format_mib(d.memory_total
                                                   ? std::optional<uint64_t>(d.memory_total->value)
                                                   : std::nullopt),
                               d.memory_free->source));
    } else {
      findings.add(d.id, "warn",
                   fmt::format("{} via {}: memory unknown{}", d.name, d.detected_by,
                               d.notes.empty() ? "" : " (" + d.notes.back() + ")"),
                   fmt::format("no agents are placed on it; set {}={}=MiB if its total is known",
                               gpu::kMemoryOverrideVariable, d.id));
    }
  }
  if (snapshot.devices.empty()) {
    std::string why;
    for (const std::string& w : snapshot.warnings)
      why += (why.empty() ? "" : "; ") + w;
    findings.add("gpus", "warn", "no GPU found (" + why + ")",
                 "models are planned in host memory; install the GPU driver if there is one");
  }
  if (snapshot.host.available) {
    findings.add("host memory", "ok",
                 fmt::format("{} available ({})", gpu::format_mib(snapshot.host.available->value),
                             snapshot.host.available->source));
  } else {
    findings.add("host memory", "warn", "unknown", "check /proc/meminfo and the cgroup limits");
  }
  findings.snapshot = std::move(snapshot);
}

bool is_readable_file(const std::string& path) {
  std::error_code error;
  return !path.empty() && std::filesystem::is_regular_file(path, error) &&
         ::access(path.c_str(), R_OK) == 0;
}

// The slots and model file that an OpenAI-compatible server reports, for the capacity check.
struct ServedModel {
  std::optional<int> slots;  // /props total_slots
  std::string gguf_path;     // a readable local file: /props model_path, else the one listed id
  std::string note;          // why the figures are for the configured model, when they are
  bool loading = false;      // the server is loading its model, so it reported nothing
};

// Finds the served model's GGUF file: /props model_path, else the id of the one listed model
// (llama-server lists the path it was given), when it is a readable file on this machine.
ServedModel find_served_model(const Config& config, const ServerSettings& settings,
                              const std::vector<llm::ModelInfo>& models) {
  ServedModel served;
  std::vector<std::string> candidates;
  Result<llm::PropsReading> props = llm::read_props(settings, system_clock(), nullptr);
  if (props) {
    served.slots = props->total_slots;
    candidates.push_back(props->model_path);
  }
  if (models.size() == 1) {
    candidates.push_back(models.front().name);
  }
  for (const std::string& candidate : candidates) {
    if (is_readable_file(candidate)) {
      served.gguf_path = candidate;
      return served;
    }
  }
  served.note = fmt::format(
      "the served model's GGUF file is not readable here (neither /props model_path nor the "
      "listed model id is a local file), so the memory figures are for the configured model {}",
      config.server.model);
  return served;
}

// Compares the slot count of the server (or of the simulated backend) with the slots to use:
// those that fit, at most the agents that a run uses (run_agent_bound()). Names the setting of
// that backend: llama-server's -np and -c, server.sim_slots, or OLLAMA_NUM_PARALLEL.
// `ctx_per_slot` is the context that the slots get. `lowered_from` is server.num_ctx when the
// context was lowered to the model's training context, which the run then needs as --num-ctx.
void check_parallel(const Config& config, const ServedModel& served,
                    const model::ModelPlacement& placement, uint64_t ctx_per_slot,
                    std::optional<uint64_t> lowered_from, Findings& findings) {
  if (!placement.fits) {
    return;
  }
  const uint32_t fit = placement.memory_slots;
  const flow::AgentBound bound = flow::run_agent_bound(config);
  const uint32_t target_slots = std::min(fit, static_cast<uint32_t>(std::max(bound.agents, 1)));
  const std::string backend = config.server.backend;
  std::string current;
  std::optional<uint32_t> slots;
  std::string fix;
  if (backend == "openai") {
    if (served.slots) {
      slots = static_cast<uint32_t>(*served.slots);
    }
    current = served.slots ? fmt::format("the server's {} slot(s) (/props total_slots)", *slots)
                           : "the server's slot count (not reported)";
    fix = fmt::format("restart llama-server with -np {} -c {}", target_slots,
                      uint64_t{target_slots} * ctx_per_slot);
    if (lowered_from) {
      fix += fmt::format(" and run with --num-ctx {}, the model's training context", ctx_per_slot);
    }
    if (served.loading) {
      // Its slot count is unknown, not wrong, so there is nothing to restart it with.
      current = "the server's slot count (unknown while it loads its model)";
      fix.clear();
    }
  } else if (backend == "sim") {
    slots = static_cast<uint32_t>(config.server.sim_slots);
    current = fmt::format("server.sim_slots {} of the simulated backend", *slots);
    fix = fmt::format("set server.sim_slots={} (simulated figures: no model server runs)",
                      target_slots);
  } else {
    const std::optional<int> parallel = config.server.num_parallel;
    slots = static_cast<uint32_t>(parallel.value_or(1));
    current = "OLLAMA_NUM_PARALLEL " +
              (parallel ? std::to_string(*parallel) : "unset (Ollama's default is 1)");
    fix = fmt::format("set OLLAMA_NUM_PARALLEL={} and restart `ollama serve`", target_slots);
    if (lowered_from) {
      fix += fmt::format(", and run with --num-ctx {}, the model's training context", ctx_per_slot);
    }
  }
  const std::string use = fmt::format("{} slot(s) fit, and a run uses at most {} ({})", fit,
                                      count_text(bound.agents, "agent"), bound.key);
  if (!slots) {
    findings.add("parallel", "warn", fmt::format("{}: {}", current, use), fix);
  } else if (*slots > fit) {
    findings.add("parallel", "warn",
                 fmt::format("{} is more than the {} slot(s) that fit", current, fit), fix);
  } else if (*slots > target_slots) {
    findings.add(
        "parallel", "warn",
        fmt::format("{} is more than the {} that a run uses ({}), so {} slot(s) "
                    "hold KV cache memory that no agent uses",
                    current, count_text(bound.agents, "agent"), bound.key, *slots - target_slots),
        fix);
  } else if (*slots < target_slots) {
    findings.add("parallel", "warn",
                 fmt::format("{} leaves room: {}, so agents beyond {} wait in the server", current,
                             use, *slots),
                 fix);
  } else {
    findings.add("parallel", "ok",
                 fmt::format("{} matches the slot count to use: {}", current, use));
  }
  findings.checks.back().simulated = backend == "sim";
}

// Plans the configured model, or the served model's GGUF, on the GPUs. `link` is null unless
// the server is ready for requests.
void check_capacity(const Config& config, const ServerSettings& settings,
                    const model::ServerLink* link, ServerState state, Findings& findings,
                    const std::vector<llm::ModelInfo>& models,
                    const std::vector<llm::LoadedModel>& loaded) {
  model::ResolveOptions options;
  options.models_dir = model::default_models_dir(process_env());
  options.suggest_pull = config.server.backend == "ollama";
  if (link != nullptr && !models.empty())
    options.show = link->show;
  ServedModel served;
  std::string model_name = config.server.model;
  if (config.server.backend == "openai" && link != nullptr) {
    served = find_served_model(config, settings, models);
    if (!served.gguf_path.empty()) {
      model_name = served.gguf_path;
    }
  } else if (state == ServerState::kLoadingModel) {
    served.loading = true;
    served.note = fmt::format(
        "the server is loading its model and names no model file yet, so the memory figures "
        "are for the configured model {}",
        config.server.model);
  }
  Result<model::ResolvedModel> resolved = model::resolve_model(model_name, config, options);
  if (!resolved && model_name == config.server.model && model::names_model_file(model_name)) {
    // --model names a file that is no readable GGUF model: the configuration is wrong.
    findings.add("capacity", "fail", resolved.status().message(),
                 "pass the path of a valid .gguf file, or an Ollama model name, to --model");
    return;
  }
  if (!resolved) {
    findings.add("capacity", "warn", resolved.status().message());
    return;
  }
  std::vector<std::string> notes;
  Result<model::ModelDemand> demand = model::make_demand(resolved->spec, {}, config, notes);
  if (!demand) {
    findings.add("capacity", "fail", demand.status().message(), "fix the configuration");
    return;
  }
  // llama-server gives every slot -c / -np tokens, so the advice for it plans slots of at most
  // the training context, as `run --start-server` does. Ollama lowers a larger num_ctx to the
  // training context of the model's GGUF file when it loads the model (llm/server.go in
  // Ollama's source), so its advice does the same, as `plan-capacity` does. For a model from
  // the built-in table or model_requirements, that is the table's context, at which its memory
  // figures hold without scaling.
  std::optional<uint64_t> lowered_from;
  if (config.server.backend == "openai" || config.server.backend == "ollama") {
    lowered_from = model::lower_to_training_context(*demand);
  }
  Result<model::CapacityPlan> plan = model::plan_capacity(
      {*demand}, model::budgets_from_snapshot(*findings.snapshot), model::capacity_options(config));
  if (!plan) {
    findings.add("capacity", "fail", plan.status().message());
    return;
  }
  const model::ModelPlacement& placement = plan->models.front();
  std::string detail = fmt::format("{}{} at {} tokens: {} slot(s) fit ({}; {})",
                                   config.server.backend == "sim" ? "simulated backend, " : "",
                                   model_name, demand->ctx_per_slot, placement.memory_slots,
                                   placement.limiting_resource, resolved->spec.source);
  if (lowered_from) {
    detail += fmt::format(
        "; the context per slot is the model's training context {}, not "
        "server.num_ctx {}",
        demand->ctx_per_slot, *lowered_from);
  }
  if (!served.note.empty()) {
    detail += "; " + served.note;
  }
  if (!placement.fits) {
    findings.add("capacity", "fail", detail + ": " + placement.reason,
                 "use a smaller model, " + smaller_demand_text(config));
  } else {
    findings.add("capacity", "ok", detail);
  }
  check_parallel(config, served, placement, demand->ctx_per_slot, lowered_from, findings);
  for (const llm::LoadedModel& running : loaded) {
    if (running.name != config.server.model)
      continue;
    model::VramComparison vram = model::compare_with_loaded(placement.estimate, running);
    findings.add("loaded " + running.name, vram.differs || vram.spilled ? "warn" : "ok",
                 vram.message + (vram.spilled ? "; part of it runs in host memory" : ""));
    findings.checks.back().simulated = config.server.backend == "sim";
  }
  findings.plan = std::move(plan).value();
}

// Explains where the slot count comes from: llama-server reports its own, Ollama does not.
void check_server_slots(const Config& config, const ServerSettings& settings, Findings& findings,
                        CancelTokenPtr cancel) {
  if (settings.backend == "openai") {
    Result<std::unique_ptr<llm::LlamaServerSignalReader>> reader =
        llm::LlamaServerSignalReader::create(settings, system_clock(), kDoctorReadTimeoutS,
                                             std::move(cancel));
    if (!reader) {
      return;
    }
    const llm::ServerReading reading = (*reader)->read();
    if (reading.total_slots) {
      findings.add(
          "slots", "ok",
          fmt::format(
              "the server reports {}{} (/props, known): agents beyond "
              "them queue inside the server, so scaling stops there",
              count_text(*reading.total_slots, "slot"),
              reading.slot_ctx ? fmt::format(" of {} tokens each", *reading.slot_ctx) : ""));
      if (reading.slot_ctx) {
        // The same warning as a run's note before its first request.
        if (const std::optional<flow::SlotContextShortfall> shortfall =
                flow::slot_context_shortfall(config.server.num_ctx, *reading.slot_ctx,
                                             settings.host)) {
          findings.add("context", "warn", shortfall->problem, shortfall->fix);
        }
      }
    } else {
      std::string why;
      for (const std::string& note : reading.notes)
        why += (why.empty() ? "" : "; ") + note;
      findings.add("slots", "warn", "slot count not reported: " + why,
                   "for llama-server, start it with -np N (and --metrics for its queue)");
    }
    return;
  }
  if (settings.backend != "ollama")
    return;
  const llm::ConfiguredSlots slots = llm::configured_slots(config);
  findings.add(
      "slots", slots.slots ? "ok" : "warn",
      fmt::format("Ollama reports no slot count, unlike llama-server's /props: using "
                  "{}{}; the wait inside the server is derived from reply timings",
                  slots.slots ? std::to_string(*slots.slots) + " from " : "", slots.source),
      "set OLLAMA_NUM_PARALLEL to the same value for `ollama serve` and ollama-flow");
}

// Returns what to change when plan_launch() rejects the launch, found by checking its inputs
// in the order it does.
std::string launch_fix(const Config& config, const std::string& binary) {
  const std::string& model_path = config.server.model;
  std::error_code error;
  if (std::filesystem::is_directory(binary, error) || ::access(binary.c_str(), X_OK) != 0) {
    return "pass the path of the llama-server executable to --start-server";
  }
  if (!model::check_model_file(model_path, "")) {
    return "pass the path of a .gguf file to --model";
  }
  if (!model::resolve_model(model_path, config, {})) {
    return "pass a valid GGUF model file to --model";
  }
  Result<std::vector<std::string>> words = flow::split_shell_words(config.server.start_server_args);
  if (!words) {
    return "close the quote in --server-args (server.start_server_args), or escape the quote "
           "or backslash with a backslash";
  }
  for (const std::string& word : *words) {
    if (flow::sets_planned_flag(word)) {
      return fmt::format(
          "remove '{}' from --server-args (server.start_server_args): "
          "--start-server sets the model, address, port, slots, context, cache "
          "types and --metrics itself",
          word);
    }
    if (flow::conflicts_with_launch(word)) {
      // The word may contain an API key, so the error above names the flag instead.
      return "remove the flag that the error names from --server-args "
             "(server.start_server_args)";
    }
  }
  const model::GgmlType* cache_v = model::ggml_type_by_name(config.kv_cache_type_v);
  if (const std::optional<std::string> conflict = flow::flash_attention_conflict(
          *words, cache_v != nullptr && model::cache_type_is_quantized(*cache_v))) {
    return fmt::format(
        "remove '{}' from --server-args (server.start_server_args), or use an f16 cache "
        "(--kv-cache-type f16)",
        *conflict);
  }
  const model::GgmlType* smaller = smaller_cache_type(config);
  if (smaller == nullptr) {
    return "lower --num-ctx";
  }
  return fmt::format("lower --num-ctx or quantize the KV cache (--kv-cache-type {})",
                     smaller->name);
}

// Plans the launch of `run --start-server BIN` without starting the server.
void check_start_server(const Config& config, const std::string& binary, Findings& findings) {
  Result<flow::LaunchPlan> plan =
      flow::plan_launch(config, binary, config.server.model, *findings.snapshot);
  if (!plan) {
    findings.add("start-server", "fail", plan.status().message(), launch_fix(config, binary));
    return;
  }
  std::string detail = fmt::format("{}: {}", plan->command_line(std::nullopt), plan->reason);
  for (const std::string& note : plan->notes)
    detail += "; " + note;
  detail += "; PORT is a free port of 127.0.0.1 that the run picks when it starts the server";
  const std::vector<flow::WithheldVariable> withheld =
      flow::withheld_variables(process_env(), plan->api_key);
  if (withheld.empty()) {
    findings.add("start-server", "ok", detail);
    return;
  }
  std::string names;
  for (const flow::WithheldVariable& variable : withheld) {
    detail += fmt::format("; the run removes {} from llama-server's environment: {}", variable.name,
                          variable.reason);
    names += (names.empty() ? "" : " ") + variable.name;
  }
  findings.add(
      "start-server", "warn", detail,
      fmt::format("unset {}, which a run with --start-server does not pass to llama-server",
                  names));
}

// Joins the lines of a detail with "; ", so that a message that lists its reasons on indented
// lines, such as the model resolver's, stays one row of the table. The JSON keeps the lines.
std::string joined_lines(const std::string& detail) {
  std::string joined;
  size_t start = 0;
  while (start <= detail.size()) {
    size_t end = detail.find('\n', start);
    if (end == std::string::npos) {
      end = detail.size();
    }
    const size_t text = detail.find_first_not_of(' ', start);
    if (text < end) {
      joined += (joined.empty() ? "" : "; ") + detail.substr(text, end - text);
    }
    start = end + 1;
  }
  return joined;
}

void print_findings(const Findings& findings) {
  const bool any_simulated = std::any_of(findings.checks.begin(), findings.checks.end(),
                                         [](const Check& c) { return c.simulated; });
  if (any_simulated) {
    std::printf(
        "SIMULATED backend: the checks with STATUS \"(simulated)\" come from the built-in "
        "simulator, not from a model server.\n");
  }
  gpu::TextTable table({"CHECK", "STATUS", "DETAIL"});
  for (const Check& check : findings.checks)
    table.add_row({check.name, check.simulated ? check.status + " (simulated)" : check.status,
                   joined_lines(check.detail)});
  std::printf("%s", table.render().c_str());
  bool header = false;
  for (const Check& check : findings.checks) {
    if (check.fix.empty() || check.status == "ok")
      continue;
    if (!header)
      std::printf("\nWhat to change:\n");
    header = true;
    std::printf("  %s: %s\n", check.name.c_str(), escape_control_characters(check.fix).c_str());
  }
  std::printf("\nMemory figures are estimates.\n");
}

}  // namespace

int cmd_doctor(const Config& config, const DoctorOptions& options) {
  ServerSettings settings = model::metadata_settings(config.server);
  settings.metadata_timeout_s = kDoctorReadTimeoutS;
  settings.first_token_timeout_s = std::min(settings.first_token_timeout_s, kDoctorReadTimeoutS);
  settings.idle_timeout_s = std::min(settings.idle_timeout_s, kDoctorReadTimeoutS);

  // Ctrl-C cancels the requests in flight and ends doctor with exit code 130, as in `run`.
  const CancelTokenPtr cancel = install_interrupt_handler();
  Findings findings;
  ServerState state = ServerState::kUnreachable;
  std::vector<llm::ModelInfo> models;
  std::vector<llm::LoadedModel> loaded;
  // With --start-server, ollama-flow starts the server itself, so none runs yet.
  Result<model::ServerLink> link =
      options.start_server.empty()
          ? model::open_server_link(settings, system_clock(), cancel)
          : Result<model::ServerLink>(Status(ErrorCode::kNotFound, "server started by the run"));
  if (options.start_server.empty()) {
    if (!link) {
      findings.add("server", "fail", link.status().message(), "check --backend and --host");
    }
    state =
        check_server(config, settings, cancel, link ? &*link : nullptr, findings, models, loaded);
  }
  const bool ready = state == ServerState::kReady;
  check_gpus(findings);
  if (findings.snapshot && options.start_server.empty())
    check_capacity(config, settings, link && ready ? &*link : nullptr, state, findings, models,
                   loaded);
  // A server that is loading its model reports no slots, whatever its -np.
  if (options.start_server.empty()) {
    if (state != ServerState::kLoadingModel)
      check_server_slots(config, settings, findings, cancel);
  } else if (findings.snapshot) {
    check_start_server(config, options.start_server, findings);
  }

  if (cancel->cancelled()) {
    print_error("doctor cancelled before its checks finished");
    return 130;
  }
  bool failed = std::any_of(findings.checks.begin(), findings.checks.end(),
                            [](const Check& c) { return c.status == "fail"; });
  if (options.json) {
    nlohmann::json checks = nlohmann::json::array();
    for (const Check& c : findings.checks) {
      checks.push_back({{"name", c.name},
                        {"status", c.status},
                        {"detail", c.detail},
                        {"fix", c.fix},
                        {"simulated", c.simulated}});
    }
    nlohmann::json document = {
        {"ok", !failed}, {"simulated", config.server.backend == "sim"}, {"checks", checks}};
    if (findings.snapshot)
      document["gpu"] = gpu::snapshot_to_json(*findings.snapshot);
    if (findings.plan)
      document["capacity"] = model::plan_to_json(*findings.plan);
    std::printf("%s\n", to_text(document, 2).c_str());
  } else {
    print_findings(findings);
  }
  return failed ? 1 : 0;
}

}  // namespace ollamaflow::cli
