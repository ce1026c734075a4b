// A short-lived connection to the model server for the models, plan-capacity and doctor
// commands: no retries and the configured connect timeout, so that a missing server fails fast.
#pragma once

#include <memory>

#include "core/clock.h"
#include "core/config.h"
#include "core/status.h"
#include "llm/client.h"
#include "model/model_resolver.h"

namespace ollamaflow::model {

struct ServerLink {
  llm::LlmClientPtr client;
  ShowFunction show;  // null unless the backend is Ollama
};

// Opens a client for settings.backend ("ollama", "openai" or "sim") without contacting the
// server. Returns kInvalidArgument for an unknown backend or a malformed host URL.
Result<ServerLink> open_server_link(const ServerSettings& settings, std::shared_ptr<Clock> clock);

}  // namespace ollamaflow::model
