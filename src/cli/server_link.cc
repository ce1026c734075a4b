#include "cli/server_link.h"

#include <memory>

#include "llm/ollama_client.h"
#include "llm/openai_client.h"

namespace ollamaflow::cli {

// TODO: model::open_server_link() could take the token itself, which would remove this copy of
// its backend switch.
Result<model::ServerLink> open_cancellable_server_link(const ServerSettings& settings,
                                                       CancelTokenPtr cancel) {
  model::ServerLink link;
  if (settings.backend == "ollama") {
    auto client = llm::OllamaClient::create(settings, system_clock(), std::move(cancel));
    if (!client) {
      return client.status();
    }
    std::shared_ptr<llm::OllamaClient> ollama = *client;
    link.client = ollama;
    link.show = [ollama](const std::string& model, bool verbose) {
      return ollama->show(model, verbose);
    };
    return link;
  }
  if (settings.backend == "openai") {
    auto client = llm::OpenAiClient::create(settings, system_clock(), std::move(cancel));
    if (!client) {
      return client.status();
    }
    link.client = *client;
    return link;
  }
  // The simulated backend sends no request, and an unknown backend gets the usual error.
  return model::open_server_link(settings, system_clock());
}

}  // namespace ollamaflow::cli
