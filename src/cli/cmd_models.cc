// `ollama-flow models [--json]`: the server's models with size, context length and the memory
// each needs for one slot at its default context, compared with the server's own figure for
// models it has loaded.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/signals.h"
#include "core/json_text.h"
#include "core/terminal_text.h"
#include "gpu/text_table.h"
#include "model/memory_estimate.h"
#include "model/ollama_store.h"
#include "model/report.h"
#include "model/server_link.h"

namespace ollamaflow::cli {
namespace {

// Requests that `models` sends to the server at the same time: a small bound, so that a listing
// does not crowd out the requests of agents that run on the same server.
constexpr size_t kMaxRequestsInFlight = 8;

struct ModelRow {
  llm::ModelInfo info;
  std::optional<model::ResolvedModel> resolved;
  std::string error;
  uint64_t ctx = 0;
  std::string ctx_source;
  std::optional<model::MemoryEstimate> estimate;
  std::optional<model::VramComparison> loaded;
};

const llm::LoadedModel* find_loaded(const std::vector<llm::LoadedModel>& loaded,
                                    const std::string& name) {
  for (const auto& model : loaded) {
    if (model.name == name)
      return &model;
  }
  return nullptr;
}

ModelRow describe(const llm::ModelInfo& info, const Config& config, const model::ServerLink& link,
                  const std::vector<llm::LoadedModel>& loaded) {
  ModelRow row;
  row.info = info;
  model::ResolveOptions options;
  options.models_dir = model::default_models_dir(process_env());
  options.suggest_pull = link.client->backend_name() == "ollama";
  options.show = link.show;
  options.size_hint = info.size_bytes > 0 ? std::optional<uint64_t>(info.size_bytes) : std::nullopt;
  Result<model::ResolvedModel> resolved = model::resolve_model(info.name, config, options);
  if (!resolved) {
    row.error = resolved.status().message();
    return row;
  }
  row.resolved = std::move(resolved).value();
  const model::ModelSpec& spec = row.resolved->spec;
  row.ctx = spec.default_num_ctx.value_or(static_cast<uint64_t>(config.server.num_ctx));
  row.ctx_source = spec.default_num_ctx ? "model params" : "server.num_ctx";

  model::EstimateOptions estimate_options;
  estimate_options.ctx_per_slot = row.ctx;
  estimate_options.cache_k = model::parse_cache_type(config.kv_cache_type_k).value_or(nullptr);
  estimate_options.cache_v = model::parse_cache_type(config.kv_cache_type_v).value_or(nullptr);
  if (Result<model::MemoryEstimate> e = model::estimate_memory(spec, estimate_options)) {
    row.estimate = std::move(e).value();
  }
  if (const llm::LoadedModel* running = find_loaded(loaded, info.name)) {
    if (running->context_length > 0) {
      estimate_options.ctx_per_slot = static_cast<uint64_t>(running->context_length);
    }
    if (Result<model::MemoryEstimate> e = model::estimate_memory(spec, estimate_options)) {
      row.loaded = model::compare_with_loaded(*e, *running);
    }
  }
  return row;
}

// Describes every model with at most kMaxRequestsInFlight of them at a time, because each one
// may cost an /api/show request and a server with thousands of models serves them one by one
// too slowly. The rows keep the order of `models`.
std::vector<ModelRow> describe_all(const std::vector<llm::ModelInfo>& models, const Config& config,
                                   const model::ServerLink& link,
                                   const std::vector<llm::LoadedModel>& loaded) {
  std::vector<ModelRow> rows(models.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < models.size(); i = next++) {
      rows[i] = describe(models[i], config, link, loaded);
    }
  };
  std::vector<std::thread> workers;
  const size_t count = std::min(kMaxRequestsInFlight, models.size());
  for (size_t i = 1; i < count; ++i) {
    workers.emplace_back(work);
  }
  work();
  for (std::thread& worker : workers) {
    worker.join();
  }
  return rows;
}

// Returns the model's size as the server lists it, or nullopt when the server gives none, as the
// simulated backend and OpenAI-compatible servers without llama-server's "meta" do.
std::optional<uint64_t> listed_size(const ModelRow& row) {
  if (row.info.size_bytes <= 0) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(row.info.size_bytes);
}

// Returns a JSON number, or null for an unknown (zero) figure.
nlohmann::json known_or_null(uint64_t value) {
  return value > 0 ? nlohmann::json(value) : nlohmann::json(nullptr);
}

nlohmann::json row_to_json(const ModelRow& row) {
  const std::optional<uint64_t> size = listed_size(row);
  nlohmann::json json = {
      {"name", row.info.name},
      {"size_bytes", size ? nlohmann::json(*size) : nlohmann::json(nullptr)},
      {"family", row.info.family},
      {"parameter_size", row.info.parameter_size},
      {"quantization", row.info.quantization},
      {"ctx", known_or_null(row.ctx)},
      {"ctx_source", row.ctx > 0 ? nlohmann::json(row.ctx_source) : nlohmann::json(nullptr)},
      {"error", row.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(row.error)}};
  if (row.resolved) {
    json["context_length"] = known_or_null(row.resolved->spec.context_length);
    json["metadata_source"] = row.resolved->spec.source;
  }
  json["memory"] = nullptr;
  if (row.estimate) {
    // models places no model on a device, so its figures leave the device reserve out, as its
    // text states. plan-capacity gives the reserve of the device that would hold the model.
    nlohmann::json memory = model::estimate_to_json(*row.estimate);
    memory["device_kind"] = nullptr;
    memory["device_reserve_bytes"] = 0;
    memory["total_bytes"] = row.estimate->total_bytes() - row.estimate->reserve;
    json["memory"] = std::move(memory);
  }
  if (row.loaded) {
    json["loaded"] = {{"size_bytes", row.loaded->size_bytes},
                      {"size_vram_bytes", row.loaded->size_vram_bytes},
                      {"estimate_bytes", row.loaded->estimate_bytes},
                      {"relative_difference", row.loaded->relative_difference},
                      {"differs", row.loaded->differs},
                      {"spilled_to_cpu", row.loaded->spilled}};
  }
  return json;
}

// Returns `text` with each line escaped as escape_control_characters() does, so that a message
// that lists its reasons on indented lines keeps them.
std::string escaped_lines(const std::string& text) {
  std::string escaped;
  size_t start = 0;
  while (true) {
    const size_t end = text.find('\n', start);
    escaped += escape_control_characters(std::string_view(text).substr(start, end - start));
    if (end == std::string::npos) {
      return escaped;
    }
    escaped += '\n';
    start = end + 1;
  }
}

void print_table(const std::vector<ModelRow>& rows) {
  gpu::TextTable table(
      {"NAME", "SIZE", "TRAIN CTX", "CTX", "MEMORY (1 SLOT)", "KV/SLOT", "METADATA", "LOADED"});
  for (const ModelRow& row : rows) {
    std::string train = row.resolved && row.resolved->spec.context_length > 0
                            ? std::to_string(row.resolved->spec.context_length)
                            : "unknown";
    std::string loaded = row.loaded ? row.loaded->message.substr(row.info.name.size() + 2) : "";
    table.add_row({row.info.name, gpu::format_mib(listed_size(row)), train,
                   row.ctx ? std::to_string(row.ctx) : "unknown",
                   row.estimate ? gpu::format_mib(row.estimate->model_bytes()) : "unknown",
                   row.estimate ? gpu::format_mib(row.estimate->kv_per_slot) : "unknown",
                   row.resolved ? row.resolved->spec.source : "none", loaded});
  }
  std::printf("%s", table.render().c_str());
  for (const ModelRow& row : rows) {
    if (!row.error.empty())
      std::printf("%s: %s\n", escape_control_characters(row.info.name).c_str(),
                  escaped_lines(row.error).c_str());
  }
  // A server accepts a context beyond the training context, but the model has seen no positions
  // that far, so a note names the lower value instead of leaving the two columns to compare.
  for (const ModelRow& row : rows) {
    const uint64_t training_ctx = row.resolved ? row.resolved->spec.context_length : 0;
    if (training_ctx > 0 && row.ctx > training_ctx) {
      std::printf(
          "%s: CTX %llu (%s) exceeds the training context %llu; set --num-ctx %llu or lower to "
          "stay within it\n",
          escape_control_characters(row.info.name).c_str(),
          static_cast<unsigned long long>(row.ctx), row.ctx_source.c_str(),
          static_cast<unsigned long long>(training_ctx),
          static_cast<unsigned long long>(training_ctx));
    }
  }
  std::printf(
      "\nMemory is an estimate for one slot without device reserves; run plan-capacity "
      "for the slots that fit.\n");
}

}  // namespace

int cmd_models(const Config& config, const ModelsOptions& options) {
  // Ctrl-C cancels the requests in flight and ends the command with exit code 130, as in `run`.
  const CancelTokenPtr cancel = install_interrupt_handler();
  Result<model::ServerLink> link =
      model::open_server_link(model::metadata_settings(config.server), system_clock(), cancel);
  if (!link) {
    print_error(link.status().message());
    return link.status().code() == ErrorCode::kInvalidArgument ? 2 : 1;
  }
  Result<std::vector<llm::ModelInfo>> models = link->client->list_models();
  if (!models) {
    print_error(fmt::format("cannot list the models of {}: {}", link->client->endpoint(),
                            models.status().message()));
    return cancel->cancelled() ? 130 : 1;
  }
  std::vector<llm::LoadedModel> loaded =
      link->client->loaded_models().value_or(std::vector<llm::LoadedModel>{});
  const std::vector<ModelRow> rows = describe_all(*models, config, *link, loaded);
  if (cancel->cancelled()) {
    print_error(fmt::format("models of {} cancelled before every model was described",
                            link->client->endpoint()));
    return 130;
  }
  const bool simulated = link->client->backend_name() == "sim";

  if (options.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const ModelRow& row : rows)
      list.push_back(row_to_json(row));
    nlohmann::json document = {{"backend", link->client->backend_name()},
                               {"endpoint", link->client->endpoint()},
                               {"simulated", simulated},
                               {"models", list}};
    std::printf("%s\n", to_text(document, 2).c_str());
    return 0;
  }
  if (rows.empty()) {
    if (simulated) {
      std::printf("SIMULATED backend (%s) has no models: name one with --model.\n",
                  link->client->endpoint().c_str());
    } else if (link->client->backend_name() == "ollama") {
      std::printf("%s has no models: pull one with `ollama pull llama3.1:8b`.\n",
                  link->client->endpoint().c_str());
    } else {
      std::printf("%s serves no models: load one in the server, then check GET %s/v1/models.\n",
                  link->client->endpoint().c_str(), link->client->endpoint().c_str());
    }
    return 0;
  }
  if (simulated) {
    std::printf(
        "SIMULATED backend (%s): the built-in simulator serves these models, so no server "
        "lists their size. Memory figures are estimates for a real server.\n",
        link->client->endpoint().c_str());
  }
  print_table(rows);
  return 0;
}

}  // namespace ollamaflow::cli
