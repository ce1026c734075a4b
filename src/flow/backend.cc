#include "flow/backend.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/log.h"
#include "llm/factory.h"
#include "llm/model_load_wait.h"
#include "llm/server_signals.h"

namespace ollamaflow::flow {

namespace {

// Reads the context per slot of an OpenAI-compatible server that reports it (llama-server's
// /props) into choice.settings, and warns when it is smaller than server.num_ctx, because the
// server then cuts requests that the run sizes for num_ctx. Returns an error only when the run
// was cancelled, since most such servers other than llama-server have no /props.
Status read_slot_context(BackendChoice& choice, const std::shared_ptr<Clock>& clock,
                         const CancelTokenPtr& cancel) {
  Result<llm::PropsReading> props = llm::read_props(choice.settings, clock, cancel);
  if (!props) {
    if (props.status().code() == ErrorCode::kCancelled) {
      return props.status();
    }
    // A server without /props is common, but a /props body that cannot be read is a server
    // fault that the report names.
    if (props.status().code() == ErrorCode::kParseError) {
      choice.notes.push_back(
          fmt::format("context per slot unknown: the server at {} returned an unusable /props: {}",
                      choice.settings.host, props.status().message()));
      get_logger("flow")->warn("{}", choice.notes.back());
    } else {
      get_logger("flow")->debug("context per slot unknown: {}", props.status().message());
    }
    return Status::ok();
  }
  for (const std::string& note : props->notes) {
    choice.notes.push_back(fmt::format("the server at {}: {}", choice.settings.host, note));
    get_logger("flow")->warn("{}", choice.notes.back());
  }
  if (!props->slot_ctx) {
    return Status::ok();
  }
  const int slot_ctx = *props->slot_ctx;
  choice.settings.server_slot_ctx = slot_ctx;
  if (const std::optional<SlotContextShortfall> shortfall =
          slot_context_shortfall(choice.settings.num_ctx, slot_ctx, choice.settings.host)) {
    choice.notes.push_back(shortfall->problem + ": " + shortfall->fix);
    get_logger("flow")->warn("{}", choice.notes.back());
  }
  return Status::ok();
}

// Notes the model that serves requests when an OpenAI-compatible server lists exactly one model and
// it is not server.model, so that the report names the model that ran instead of the requested
// name. A server that lists none, several or server.model itself leaves the choice unchanged.
void find_served_model(BackendChoice& choice) {
  Result<std::vector<llm::ModelInfo>> models = choice.client->list_models();
  if (!models) {
    get_logger("flow")->debug("served models unknown: {}", models.status().message());
    return;
  }
  if (models->size() != 1 || models->front().name == choice.settings.model) {
    return;
  }
  choice.served_model = models->front().name;
  choice.notes.push_back(fmt::format(
      "the server at {} lists one model, {}, and no model named {}; requests for {} are "
      "served by {} (pass --model {} to name it)",
      choice.settings.host, *choice.served_model, choice.settings.model, choice.settings.model,
      *choice.served_model, *choice.served_model));
  get_logger("flow")->info("{}", choice.notes.back());
}

}  // namespace

std::optional<SlotContextShortfall> slot_context_shortfall(int num_ctx, int slot_ctx,
                                                           const std::string& host) {
  if (slot_ctx >= num_ctx) {
    return std::nullopt;
  }
  SlotContextShortfall shortfall;
  shortfall.problem = fmt::format(
      "server.num_ctx is {} tokens, but the server at {} has {} tokens of context per slot "
      "(/props n_ctx, which is llama-server's -c divided by -np), so it cuts every request "
      "whose prompt and reply pass {} tokens",
      num_ctx, host, slot_ctx, slot_ctx);
  shortfall.fix = fmt::format(
      "start llama-server with a larger -c or fewer -np, or lower --num-ctx to {}", slot_ctx);
  return shortfall;
}

Result<BackendChoice> choose_backend(const Config& config, bool explicitly_chosen,
                                     std::shared_ptr<Clock> clock, CancelTokenPtr cancel) {
  BackendChoice choice;
  choice.settings = config.server;
  if (choice.settings.backend != "sim") {
    // A server that is loading its model is there, so the run waits for it and does not fall
    // back to the simulated backend.
    const llm::ProbeOutcome probed = llm::wait_for_model_load(choice.settings, clock, cancel);
    const Status& reachable = probed.status;
    if (!reachable) {
      if (explicitly_chosen || probed.loading_model || reachable.code() == ErrorCode::kCancelled) {
        return reachable;
      }
      // The probe's message already contains the fix: how to start a server or name one.
      choice.notes.push_back("no model server answered at " + choice.settings.host + " (" +
                             reachable.message() +
                             "); running on the built-in simulated backend, so every reply is "
                             "placeholder text marked as simulated");
      get_logger("flow")->warn("{}", choice.notes.back());
      choice.settings.backend = "sim";
    }
  }
  Result<llm::LlmClientPtr> client = llm::make_client(choice.settings, clock, cancel);
  if (!client) {
    return client.status();
  }
  choice.client = std::move(client).value();
  choice.simulated = choice.settings.backend == "sim";
  if (choice.settings.backend == "openai") {
    if (Status read = read_slot_context(choice, clock, cancel); !read) {
      return read;
    }
    find_served_model(choice);
  }
  return choice;
}

llm::ChatOptions chat_options(const ServerSettings& server) {
  llm::ChatOptions options;
  options.num_ctx = server.num_ctx;
  options.num_predict = server.num_predict;
  options.temperature = server.temperature;
  options.seed = server.seed;
  options.num_gpu = server.gpu_layers;
  options.keep_alive = server.keep_alive;
  options.server_slot_ctx = server.server_slot_ctx;
  return options;
}

RoleModels resolve_role_models(const Config& config, const orchestrator::RoleSet& roles,
                               llm::LlmClient& client) {
  std::set<std::string> available;
  bool listed = false;
  if (!config.server.role_models.empty()) {
    if (Result<std::vector<llm::ModelInfo>> models = client.list_models()) {
      listed = true;
      for (const llm::ModelInfo& model : *models) {
        available.insert(model.name);
      }
    }
  }
  RoleModels resolved;
  auto pick = [&](const std::string& role) {
    auto it = config.server.role_models.find(role);
    if (it == config.server.role_models.end()) {
      return config.server.model;
    }
    for (const std::string& candidate : it->second) {
      if (!listed || available.count(candidate) > 0 || available.count(candidate + ":latest") > 0) {
        return candidate;
      }
    }
    resolved.notes.push_back(fmt::format(
        "none of the models of role {} in server.role_models ({}) is on the server at {}, so "
        "the role uses server.model {}: make one of them available on the server, or change "
        "server.role_models.{}",
        role, fmt::join(it->second, ", "), config.server.host, config.server.model, role));
    return config.server.model;
  };
  for (const std::string& role : roles.names()) {
    resolved.models[role] = pick(role);
  }
  if (resolved.models.count("queen") == 0) {
    resolved.models["queen"] = pick("queen");
  }
  return resolved;
}

}  // namespace ollamaflow::flow
