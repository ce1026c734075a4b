// A short-lived connection to the model server for the models, plan-capacity and doctor
// commands: no retries and short timeouts, so that a missing or stalled server fails fast.
#pragma once

#include <memory>

#include "core/cancel.h"
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

// Timeouts of the requests of the models, plan-capacity and doctor commands, in seconds: to
// connect, and for one socket read of the reply.
constexpr double kMetadataConnectTimeoutS = 2;
constexpr double kMetadataReadTimeoutS = 10;

// Returns `settings` with at most kMetadataConnectTimeoutS to connect, kMetadataReadTimeoutS
// per read and no retries.
ServerSettings metadata_settings(ServerSettings settings);

// Opens a client for settings.backend ("ollama", "openai" or "sim") without contacting the
// server. `cancel` (may be null) cancels every request of the client within about 50 ms, so that
// Ctrl-C stops a command that waits on a stalled server. Returns kInvalidArgument for an unknown
// backend or a malformed host URL.
Result<ServerLink> open_server_link(const ServerSettings& settings, std::shared_ptr<Clock> clock,
                                    CancelTokenPtr cancel = nullptr);

}  // namespace ollamaflow::model
