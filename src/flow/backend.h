// Choosing the model server for a run: the configured one when it responds, else the built-in
// simulated backend (unless the user chose the server explicitly), and the model of each role.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/cancel.h"
#include "core/clock.h"
#include "core/config.h"
#include "llm/client.h"
#include "orchestrator/roles.h"

namespace ollamaflow::flow {

struct BackendChoice {
  llm::LlmClientPtr client;
  ServerSettings settings;  // as used: backend "sim" after a fallback
  bool simulated = false;
  // The one model that an OpenAI-compatible server lists when it is not server.model.
  // llama-server, outside its router mode, serves every request with that model.
  std::optional<std::string> served_model;
  std::vector<std::string> notes;  // e.g. why the simulated backend runs
};

// Probes the configured server. When it cannot be reached and `explicitly_chosen` is false,
// switches to the simulated backend and explains why in the notes; when it is true, returns the
// probe's error (kUnavailable naming the host and the fix). `cancel` (the run's token, may be
// null) cancels the probe and every request of the returned client. A cancelled probe returns
// kCancelled and never falls back. While the server replies that it is loading its model, waits
// for it as llm::wait_for_model_load() does, and returns its kTimeout without falling back.
Result<BackendChoice> choose_backend(const Config& config, bool explicitly_chosen,
                                     std::shared_ptr<Clock> clock, CancelTokenPtr cancel = nullptr);

// A context per slot of an OpenAI-compatible server that is smaller than server.num_ctx.
struct SlotContextShortfall {
  std::string problem;  // the two contexts and what the server does to longer requests
  std::string fix;      // the server and ollama-flow settings that remove it
};

// Returns the shortfall when `slot_ctx`, the server's context per slot (llama-server's /props
// n_ctx), is below `num_ctx`, else nullopt. `host` names the server in the message. `run` notes
// it before the first request and `doctor` reports it as a warning.
std::optional<SlotContextShortfall> slot_context_shortfall(int num_ctx, int slot_ctx,
                                                           const std::string& host);

// Returns the request options every agent and the queen send, so that the server never reloads
// the model between requests.
llm::ChatOptions chat_options(const ServerSettings& server);

struct RoleModels {
  std::map<std::string, std::string> models;  // role to model; "queen" is the planner's model
  // One note per role whose server.role_models lists no model that the server has.
  std::vector<std::string> notes;
};

// Returns the model for each role: the first model of server.role_models[role] that the server
// has (the first listed when the server cannot list its models), else server.model.
RoleModels resolve_role_models(const Config& config, const orchestrator::RoleSet& roles,
                               llm::LlmClient& client);

}  // namespace ollamaflow::flow
