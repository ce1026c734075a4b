#include "core/config.h"

#include <cstdlib>

namespace ollamaflow {

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
}

nlohmann::json Config::to_json() const { return nlohmann::json::object(); }

}  // namespace ollamaflow
