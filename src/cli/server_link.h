// The server link of the models and doctor commands, with a cancel token for Ctrl-C.
#pragma once

#include "core/cancel.h"
#include "core/config.h"
#include "core/status.h"
#include "model/server_link.h"

namespace ollamaflow::cli {

// Opens a link as model::open_server_link() does, except that `cancel` cancels every request of
// the Ollama and OpenAI-compatible clients within about 50 ms, so that Ctrl-C stops a command
// that waits on a stalled server. Returns the same errors as model::open_server_link().
Result<model::ServerLink> open_cancellable_server_link(const ServerSettings& settings,
                                                       CancelTokenPtr cancel);

}  // namespace ollamaflow::cli
