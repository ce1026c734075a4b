// `ollama-flow doctor [--json]`: checks the server (reachable, version), the configured models,
// the GPUs and how they were detected, host memory, and the server's parallel setting against
// what fits. Each finding names what to change, and short timeouts keep it quick without a
// server.
#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "cli/commands.h"
#include "core/json_text.h"
#include "gpu/monitor.h"
#include "gpu/snapshot_json.h"
#include "gpu/text_table.h"
#include "model/ollama_store.h"
#include "model/planning.h"
#include "model/report.h"
#include "model/server_link.h"

namespace ollamaflow::cli {
namespace {

constexpr double kDoctorConnectTimeoutS = 2;
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

void check_server(const Config& config, const model::ServerLink* link, Findings& findings,
                  std::vector<llm::ModelInfo>& models, std::vector<llm::LoadedModel>& loaded) {
  if (link == nullptr)
    return;
  Result<std::string> version = link->client->version();
  if (!version) {
    findings.add("server", "fail",
                 fmt::format("{} ({}) is not reachable: {}", link->client->endpoint(),
                             config.server.backend, version.status().message()),
                 "start the server (`ollama serve`) or pass --host URL");
    return;
  }
  findings.add(
      "server", "ok",
      fmt::format("{} {} at {}", config.server.backend, *version, link->client->endpoint()));
  Result<std::vector<llm::ModelInfo>> listed = link->client->list_models();
  if (!listed) {
    findings.add("models", "fail", "cannot list models: " + listed.status().message());
    return;
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
                   fmt::format("run `ollama pull {}` or choose another with --model", name));
    }
  }
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
  ServerSettings settings = config.server;
  settings.connect_timeout_s = std::min(settings.connect_timeout_s, kDoctorConnectTimeoutS);
  settings.first_token_timeout_s = std::min(settings.first_token_timeout_s, kDoctorReadTimeoutS);
  settings.idle_timeout_s = std::min(settings.idle_timeout_s, kDoctorReadTimeoutS);
  settings.max_retries = 0;

  Findings findings;
  Result<model::ServerLink> link = model::open_server_link(settings, system_clock());
  if (!link) {
    findings.add("server", "fail", link.status().message(), "check --backend and --host");
  }
  std::vector<llm::ModelInfo> models;
  std::vector<llm::LoadedModel> loaded;
  check_server(config, link ? &*link : nullptr, findings, models, loaded);
  check_gpus(findings);
  if (findings.snapshot)
    check_capacity(config, link ? &*link : nullptr, findings, models, loaded);

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
