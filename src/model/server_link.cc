#include "model/server_link.h"

#include <algorithm>

#include <fmt/format.h>

#include "llm/factory.h"
#include "llm/ollama_client.h"
#include "llm/openai_client.h"

namespace ollamaflow::model {

ServerSettings metadata_settings(ServerSettings settings) {
  settings.connect_timeout_s = std::min(settings.connect_timeout_s, kMetadataConnectTimeoutS);
  settings.metadata_timeout_s = kMetadataReadTimeoutS;
  settings.max_retries = 0;
  return settings;
}

Result<ServerLink> open_server_link(const ServerSettings& settings, std::shared_ptr<Clock> clock,
                                    CancelTokenPtr cancel) {
  ServerLink link;
  if (settings.backend == "ollama") {
    auto client = llm::OllamaClient::create(settings, std::move(clock), std::move(cancel));
    if (!client)
      return client.status();
    std::shared_ptr<llm::OllamaClient> ollama = *client;
    link.client = ollama;
    link.show = [ollama](const std::string& model, bool verbose) {
      return ollama->show(model, verbose);
    };
    return link;
  }
  if (settings.backend == "openai") {
    auto client = llm::OpenAiClient::create(settings, std::move(clock), std::move(cancel));
    if (!client)
      return client.status();
    link.client = *client;
    return link;
  }
  if (settings.backend == "sim") {
    // The simulated backend sends no request, so there is nothing to cancel.
    auto client = llm::make_client(settings, std::move(clock));
    if (!client)
      return client.status();
    link.client = *client;
    return link;
  }
  return Result<ServerLink>(
      ErrorCode::kInvalidArgument,
      fmt::format("invalid backend '{}': use ollama, openai or sim", settings.backend));
}

}  // namespace ollamaflow::model
