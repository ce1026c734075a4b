// `ollama-flow doctor [--start-server BIN] [--json]`: checks the server (reachable, version), the
// configured models, the GPUs and how they were detected, host memory, and the server's parallel
// setting against what fits. Each finding names what to change, and short timeouts keep it quick
// without a server.
#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/server_link.h"
#include "cli/signals.h"
#include "core/json_text.h"
#include "flow/server_launch.h"
#include "gpu/monitor.h"
#include "gpu/snapshot_json.h"
#include "gpu/text_table.h"
#include "llm/server_signals.h"
#include "model/ollama_store.h"
#include "model/planning.h"
#include "model/report.h"
#include "model/server_link.h"

namespace ollamaflow::cli {
namespace {

// One socket read of doctor's requests; connecting takes at most kMetadataConnectTimeoutS.
constexpr double kDoctorReadTimeoutS = 5;

struct Check {
  std::string name;
  std::string status;  // "ok", "warn" or "fail"
  std::string detail;
  std::string fix;
};

struct Findings {
  std::vector<Check> checks;
  std::optional<gpu::GpuSnapshot> snapshot;
  std::optional<model::CapacityPlan> plan;
  void add(std::string name, std::string status, std::string detail, std::string fix = "") {
    checks.push_back({std::move(name), std::move(status), std::move(detail), std::move(fix)});
  }
};

// Returns false when the server did not reply, so that later checks do not wait for it again.
bool check_server(const Config& config, const model::ServerLink* link, Findings& findings,
                  std::vector<llm::ModelInfo>& models, std::vector<llm::LoadedModel>& loaded) {
  if (link == nullptr)
    return false;
  const bool ollama = config.server.backend == "ollama";
  Result<std::string> version = link->client->version();
  if (!version) {
    findings.add("server", "fail",
                 fmt::format("{} ({}) is not reachable: {}", link->client->endpoint(),
                             config.server.backend, version.status().message()),
                 ollama ? "start the server (`ollama serve`) or pass --host URL"
                        : fmt::format("start the OpenAI-compatible server at {} or pass --host URL",
                                      link->client->endpoint()));
    return false;
  }
  findings.add(
      "server", "ok",
      fmt::format("{} {} at {}", config.server.backend, *version, link->client->endpoint()));
  Result<std::vector<llm::ModelInfo>> listed = link->client->list_models();
  if (!listed) {
    findings.add("models", "fail", "cannot list models: " + listed.status().message());
    return true;
  }
  models = *listed;
  loaded = link->client->loaded_models().value_or(std::vector<llm::LoadedModel>{});
  std::vector<std::string> wanted = {config.server.model};
  for (const auto& [role, names] : config.server.role_models) {
    if (!names.empty())
      wanted.push_back(names.front());
  }
  for (const std::string& name : wanted) {
    bool present = std::any_of(models.begin(), models.end(), [&](const llm::ModelInfo& m) {
      return m.name == name || m.name == name + ":latest";
    });
    if (present) {
      findings.add("model " + name, "ok", "present on the server");
    } else {
      findings.add("model " + name, "fail", "not on the server",
                   ollama ? fmt::format("run `ollama pull {}` or choose another with --model", name)
                          : fmt::format("check the model name in GET {}/v1/models, or choose "
                                        "another with --model",
                                        link->client->endpoint()));
    }
  }
  return true;
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

void check_capacity(const Config& config, const model::ServerLink* link, Findings& findings,
                    const std::vector<llm::ModelInfo>& models,
                    const std::vector<llm::LoadedModel>& loaded) {
  model::ResolveOptions options;
  options.models_dir = model::default_models_dir(process_env());
  options.suggest_pull = config.server.backend == "ollama";
  if (link != nullptr && !models.empty())
    options.show = link->show;
  Result<model::ResolvedModel> resolved =
      model::resolve_model(config.server.model, config, options);
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
  Result<model::CapacityPlan> plan = model::plan_capacity(
      {*demand}, model::budgets_from_snapshot(*findings.snapshot), model::capacity_options(config));
  if (!plan) {
    findings.add("capacity", "fail", plan.status().message());
    return;
  }
  const model::ModelPlacement& placement = plan->models.front();
  std::string detail = fmt::format("{} at {} tokens: {} slot(s) fit ({}; {})", config.server.model,
                                   demand->ctx_per_slot, placement.memory_slots,
                                   placement.limiting_resource, resolved->spec.source);
  if (!placement.fits) {
    findings.add("capacity", "fail", detail + ": " + placement.reason,
                 "use a smaller model, a shorter --num-ctx or a quantized KV cache "
                 "(OLLAMA_KV_CACHE_TYPE=q8_0)");
  } else {
    findings.add("capacity", "ok", detail);
  }
  std::optional<int> parallel = config.server.num_parallel;
  std::string setting = parallel ? std::to_string(*parallel) : "unset (Ollama's default is 1)";
  int effective = parallel.value_or(1);
  if (placement.fits && static_cast<uint32_t>(effective) > placement.memory_slots) {
    findings.add("parallel", "warn",
                 fmt::format("OLLAMA_NUM_PARALLEL {} is more than the {} slot(s) that fit", setting,
                             placement.memory_slots),
                 fmt::format("set OLLAMA_NUM_PARALLEL={} (llama-server -np {} -c {})",
                             placement.memory_slots, placement.memory_slots,
                             uint64_t{placement.memory_slots} * demand->ctx_per_slot));
  } else if (placement.fits && static_cast<uint32_t>(effective) < placement.memory_slots) {
    findings.add("parallel", "warn",
                 fmt::format("OLLAMA_NUM_PARALLEL {} leaves room: {} slot(s) fit, so agents "
                             "beyond {} wait in the server",
                             setting, placement.memory_slots, effective),
                 fmt::format("set OLLAMA_NUM_PARALLEL={} and restart the server (llama-server: "
                             "-np {} -c {})",
                             placement.memory_slots, placement.memory_slots,
                             uint64_t{placement.memory_slots} * demand->ctx_per_slot));
  } else if (placement.fits) {
    findings.add("parallel", "ok",
                 fmt::format("OLLAMA_NUM_PARALLEL {} matches what fits", setting));
  }
  for (const llm::LoadedModel& running : loaded) {
    if (running.name != config.server.model)
      continue;
    model::VramComparison vram = model::compare_with_loaded(placement.estimate, running);
    findings.add("loaded " + running.name, vram.differs || vram.spilled ? "warn" : "ok",
                 vram.message + (vram.spilled ? "; part of it runs in host memory" : ""));
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
              "the server reports {} slots{} (/props, known): agents beyond "
              "them queue inside the server, so scaling stops there",
              *reading.total_slots,
              reading.slot_ctx ? fmt::format(" of {} tokens each", *reading.slot_ctx) : ""));
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

// Plans the launch of `run --start-server BIN` without starting the server.
void check_start_server(const Config& config, const std::string& binary, Findings& findings) {
  Result<flow::LaunchPlan> plan =
      flow::plan_launch(config, binary, config.server.model, *findings.snapshot);
  if (!plan) {
    findings.add("start-server", "fail", plan.status().message(),
                 "pass --start-server PATH/llama-server --model FILE.gguf");
    return;
  }
  std::string detail = fmt::format("{}: {}", plan->command_line(std::nullopt), plan->reason);
  for (const std::string& note : plan->notes)
    detail += "; " + note;
  detail += "; PORT is a free port of 127.0.0.1 that the run picks when it starts the server";
  findings.add("start-server", "ok", detail);
}

void print_findings(const Findings& findings) {
  gpu::TextTable table({"CHECK", "STATUS", "DETAIL"});
  for (const Check& check : findings.checks)
    table.add_row({check.name, check.status, check.detail});
  std::printf("%s", table.render().c_str());
  bool header = false;
  for (const Check& check : findings.checks) {
    if (check.fix.empty() || check.status == "ok")
      continue;
    if (!header)
      std::printf("\nWhat to change:\n");
    header = true;
    std::printf("  %s: %s\n", check.name.c_str(), check.fix.c_str());
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
  bool reachable = false;
  std::vector<llm::ModelInfo> models;
  std::vector<llm::LoadedModel> loaded;
  // With --start-server, ollama-flow starts the server itself, so none runs yet.
  Result<model::ServerLink> link =
      options.start_server.empty()
          ? open_cancellable_server_link(settings, cancel)
          : Result<model::ServerLink>(Status(ErrorCode::kNotFound, "server started by the run"));
  if (options.start_server.empty()) {
    if (!link) {
      findings.add("server", "fail", link.status().message(), "check --backend and --host");
    }
    reachable = check_server(config, link ? &*link : nullptr, findings, models, loaded);
  }
  check_gpus(findings);
  if (findings.snapshot && options.start_server.empty())
    check_capacity(config, link && reachable ? &*link : nullptr, findings, models, loaded);
  if (options.start_server.empty())
    check_server_slots(config, settings, findings, cancel);
  else if (findings.snapshot)
    check_start_server(config, options.start_server, findings);

  if (cancel->cancelled()) {
    print_error("doctor cancelled before its checks finished");
    return 130;
  }
  bool failed = std::any_of(findings.checks.begin(), findings.checks.end(),
                            [](const Check& c) { return c.status == "fail"; });
  if (options.json) {
    nlohmann::json checks = nlohmann::json::array();
    for (const Check& c : findings.checks) {
      checks.push_back(
          {{"name", c.name}, {"status", c.status}, {"detail", c.detail}, {"fix", c.fix}});
    }
    nlohmann::json document = {{"ok", !failed}, {"checks", checks}};
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
