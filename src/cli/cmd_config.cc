#include <cstdio>

#include "cli/commands.h"
#include "core/json_text.h"

namespace ollamaflow::cli {

int cmd_config_show(const Config& config, const ConfigShowOptions& options) {
  if (options.json) {
    nlohmann::json document = {{"values", config.to_json()}, {"sources", config.sources}};
    std::printf("%s\n", to_text(document, 2).c_str());
    return 0;
  }
  size_t width = 0;
  for (const std::string& key : config_keys()) {
    width = std::max(width, key.size());
  }
  for (const std::string& key : config_keys()) {
    auto source = config.sources.find(key);
    std::printf("%-*s  %-28s  %s\n", static_cast<int>(width), key.c_str(),
                to_text(config_value(config, key)).c_str(),
                source == config.sources.end() ? "default" : source->second.c_str());
  }
  return 0;
}

}  // namespace ollamaflow::cli
